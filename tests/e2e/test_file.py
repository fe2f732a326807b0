"""file and show: every field of a request, the statutory deadline of Reg.
1182/71 with the Italian holidays and a body's own, the defaults, and
idempotent filing. Expected due dates are worked out by hand from a calendar
(weekday noted beside each) and only dates before the daemon's today are
filed."""

import datetime as dt

import pytest

from helpers import (CF_VALID, REQUEST_FIELDS, RFC3339_UTC, cf, d, omocodic,
                     uniq)


@pytest.fixture(scope="module")
def body(ctl):
    return ctl.entity(name="Comune di Cles")["code"]


@pytest.fixture(scope="module")
def patron_body(ctl):
    # 26 June: a patron saint's day (e.g. San Vigilio is 26 June in Trento).
    return ctl.entity(name="Comune di Trento", holidays="06-26")["code"]


def test_file_every_field(ctl, pg, body, today):
    key = uniq("k")
    before = pg.count("requests")
    r = ctl.file(body, type="erasure", name="Maria Bianchi",
                 subject_tax_code=CF_VALID.lower(),
                 subject_email="maria.bianchi@example.it", channel="pec",
                 received="2026-01-31", protocol="PROT 2026/0042",
                 summary="Cancellare i dati\n\tdell'art. 17, riga due",
                 idempotency_key=key)
    assert set(REQUEST_FIELDS) <= set(r), set(REQUEST_FIELDS) - set(r)
    assert isinstance(r["id"], int) and not isinstance(r["id"], bool)
    assert r["id"] > 0
    assert r["entity"] == body
    assert r["type"] == "erasure"
    assert r["status"] == "received"
    assert r["subject"]["name"] == "Maria Bianchi"
    assert r["subject"]["tax_code"] == CF_VALID
    assert r["subject"]["email"] == "maria.bianchi@example.it"
    assert r["channel"] == "pec"
    assert r["protocol"] == "PROT 2026/0042"
    assert r["summary"] == "Cancellare i dati\n\tdell'art. 17, riga due"
    assert r["received_on"] == "2026-01-31"
    assert r["forwarded_on"] is None
    # 31 Jan + 1 month: February has no 31st -> Sat 28 Feb -> Mon 2 Mar.
    assert r["statutory_due_on"] == "2026-03-02"
    assert r["operational_due_on"] is None
    assert r["due_on"] == "2026-03-02"
    assert r["extended"] is False
    assert r["overdue"] is (today > d("2026-03-02"))
    assert r["closed_on"] is None
    assert r["outcome"] is None
    assert RFC3339_UTC.match(r["created_at"]), r["created_at"]
    t = dt.datetime.fromisoformat(r["created_at"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.timezone.utc) - t).total_seconds()) < 120
    assert r["created"] is True
    assert pg.count("requests") == before + 1

    s = ctl.ok("show", r["id"])
    for f in REQUEST_FIELDS:
        assert s[f] == r[f], f
    assert isinstance(s["history"], list) and len(s["history"]) >= 1
    ev = s["history"][0]
    assert {"seq", "at", "action", "actor", "note"} <= set(ev), ev
    assert RFC3339_UTC.match(ev["at"]), ev
    # the filing is in the audit trail, in the same transaction
    assert pg.count("audit_events") >= 1


def test_file_minimal_defaults(ctl, body, today):
    r = ctl.file(body)
    assert r["received_on"] == today.isoformat()
    assert r["subject"]["name"] == "Mario Rossi"
    assert r["subject"]["tax_code"] is None
    assert r["subject"]["email"] is None
    for f in ("channel", "protocol", "summary", "forwarded_on",
              "operational_due_on", "closed_on", "outcome"):
        assert r[f] is None, f
    assert r["due_on"] == r["statutory_due_on"]
    due = d(r["due_on"])
    # one month, moved forward by at most a long weekend
    assert today + dt.timedelta(days=28) <= due <= today + \
        dt.timedelta(days=36)
    assert due.weekday() < 5
    assert r["overdue"] is False
    assert r["extended"] is False


def test_received_today_explicitly(ctl, body, today):
    r = ctl.file(body, received=today.isoformat())
    assert r["received_on"] == today.isoformat()
    assert r["overdue"] is False


def test_received_in_future_refused(ctl, body, today, unchanged):
    tomorrow = today + dt.timedelta(days=1)
    ctl.fail(["file", "--entity", body, "--type", "access",
              "--subject-name", "Mario Rossi", "--received",
              tomorrow.isoformat()], 65, code=-32602, field="received_on")
    ctl.fail(["file", "--entity", body, "--type", "access",
              "--subject-name", "Mario Rossi", "--received", "2999-01-01"],
             65, code=-32602, field="received_on")


def test_overdue_long_ago(ctl, body, today):
    r = ctl.file(body, received="2025-01-10")
    assert r["status"] == "received"
    assert r["statutory_due_on"] == "2025-02-10"     # Monday
    assert r["due_on"] == "2025-02-10"
    assert r["overdue"] is True
    assert ctl.ok("show", r["id"])["overdue"] is True


# (received, statutory due) on a body without local holidays.
DEADLINES = [
    ("2026-01-31", "2026-03-02", "no 31 Feb; Sat 28 Feb -> Mon 2 Mar"),
    ("2025-12-08", "2026-01-08", "same date, a Thursday"),
    ("2026-03-31", "2026-04-30", "no 31 Apr: Thu 30 Apr"),
    ("2026-04-24", "2026-05-25", "Sun 24 May -> Mon"),
    ("2025-11-25", "2025-12-29", "Christmas Thu, St Stephen Fri, weekend"),
    ("2026-03-06", "2026-04-07", "Easter Monday 6 Apr 2026 -> Tue"),
    ("2026-03-05", "2026-04-07", "Easter Sunday, Easter Monday -> Tue"),
    ("2025-03-25", "2025-04-28", "Liberation Day Fri 25 Apr 2025 -> Mon"),
    ("2025-05-02", "2025-06-03", "Republic Day Mon 2 Jun 2025 -> Tue"),
    ("2025-07-15", "2025-08-18", "Ferragosto Fri 15 Aug 2025 -> Mon"),
    ("2025-12-01", "2026-01-02", "New Year Thu 1 Jan 2026 -> Fri"),
    ("2025-12-06", "2026-01-07", "Epiphany Tue 6 Jan 2026 -> Wed"),
    ("2026-04-01", "2026-05-04", "Labour Day Fri 1 May 2026 -> Mon"),
    ("2026-10-01", "2026-11-02", "All Saints Sun 1 Nov 2026 -> Mon"),
    ("2026-11-08", "2026-12-09", "Immacolata Tue 8 Dec 2026 -> Wed"),
    ("2024-01-31", "2024-02-29", "leap year: Thu 29 Feb 2024"),
    ("2026-08-01", "2026-09-01", "plain Tuesday"),
    ("2026-05-26", "2026-06-26", "Fri 26 Jun: no local holiday here"),
]


@pytest.mark.parametrize("received,due,why", DEADLINES,
                         ids=[x[0] for x in DEADLINES])
def test_statutory_deadline(ctl, body, today, received, due, why):
    if d(received) > today:
        pytest.skip("received date after the daemon's today")
    r = ctl.file(body, received=received)
    assert r["received_on"] == received
    assert r["statutory_due_on"] == due, why
    assert r["due_on"] == due, why
    assert r["operational_due_on"] is None
    assert r["overdue"] is (today > d(due))


@pytest.mark.parametrize("received,due", [
    ("2026-05-26", "2026-06-29"),   # Fri 26 Jun is the patron's day -> Mon
    ("2026-05-25", "2026-06-25"),   # the day before is untouched
    ("2025-05-26", "2025-06-27"),   # Thu 26 Jun 2025 -> Fri
    ("2026-07-14", "2026-08-14"),   # Fri 14 Aug: unaffected
])
def test_local_holiday_moves_deadline(ctl, patron_body, today, received,
                                      due):
    if d(received) > today:
        pytest.skip("received date after the daemon's today")
    r = ctl.file(patron_body, received=received)
    assert r["statutory_due_on"] == due
    assert r["due_on"] == due


def test_types_and_channels_accepted(ctl, body):
    types = ["access", "rectification", "erasure", "restriction",
             "portability", "objection", "automated_decision"]
    chans = ["email", "pec", "paper", "counter", "web", "phone"]
    for i, t in enumerate(types):
        r = ctl.file(body, type=t, channel=chans[i % len(chans)])
        assert r["type"] == t
        assert r["channel"] == chans[i % len(chans)]
        # no forwarding yet: only the statutory clock runs
        assert r["operational_due_on"] is None
        assert r["due_on"] == r["statutory_due_on"]


def test_tax_codes_accepted_and_normalised(ctl, body):
    for given in (CF_VALID, CF_VALID.lower(), omocodic(CF_VALID, 1),
                  omocodic(CF_VALID, 3).lower(), omocodic(CF_VALID, 7),
                  "MRTMTT91D08F205J", cf("MRTMTT91D48F205").lower()):
        r = ctl.file(body, subject_tax_code=given)
        assert r["subject"]["tax_code"] == given.upper(), given


def test_text_limits_accepted(ctl, body):
    name = "Ž" * 200
    r = ctl.file(body, name=name, protocol="p" * 100, summary="s" * 2000,
                 idempotency_key="k" * 200)
    assert r["subject"]["name"] == name
    assert r["protocol"] == "p" * 100
    assert r["summary"] == "s" * 2000


def test_email_max_length_accepted(ctl, body):
    email = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 58 \
        + ".it"
    assert len(email) == 254
    r = ctl.file(body, subject_email=email)
    assert r["subject"]["email"] == email


def test_show_missing(ctl):
    ctl.fail(["show", "999999999"], 1, code=1)


# ---------------------------------------------------------------- idempotency

def test_idempotency_same_key(ctl, pg, body):
    key = uniq("idem")
    before = pg.count("requests")
    a = ctl.file(body, name="Anna Verdi", idempotency_key=key)
    assert a["created"] is True
    b = ctl.file(body, name="Anna Verdi", idempotency_key=key)
    assert b["created"] is False
    assert b["id"] == a["id"]
    # the other params are not compared: the stored request comes back
    c = ctl.file(body, type="erasure", name="Someone Else",
                 idempotency_key=key)
    assert c["created"] is False
    assert c["id"] == a["id"]
    assert c["subject"]["name"] == "Anna Verdi"
    assert c["type"] == "access"
    for f in REQUEST_FIELDS:
        assert b[f] == a[f], f
    assert pg.count("requests") == before + 1
    mine = [r for r in ctl.list("--entity", body, "--limit", "1000")
            if r["id"] == a["id"]]
    assert len(mine) == 1


def test_idempotency_key_per_body(ctl, pg, body):
    other = ctl.entity()["code"]
    key = uniq("idem")
    a = ctl.file(body, idempotency_key=key)
    b = ctl.file(other, idempotency_key=key)
    assert b["created"] is True
    assert b["id"] != a["id"]
    assert b["entity"] == other
    again = ctl.file(other, idempotency_key=key)
    assert again["id"] == b["id"] and again["created"] is False


def test_without_key_files_twice(ctl, body):
    a = ctl.file(body, name="Luca Neri")
    b = ctl.file(body, name="Luca Neri")
    assert a["id"] != b["id"]
    assert a["created"] is True and b["created"] is True
