"""The request lifecycle end to end (issue 3, SPEC §3-§5): every transition
from every state, allowed or refused, with the dates it leaves behind, the
history it appends and the notifications it queues. Dates are asserted
exactly: from fixed past dates worked out by hand (the calendars are in the
comments), or from the daemon's today with the small, independent model of
Reg. 1182/71 below. The pause test runs dsrd under libfaketime on a cluster
of its own, so that its clock (five days on) cannot touch the shared one.
A refused action must change nothing: not the request, not its history, not
the outbox, not the audit trail.
"""

import datetime as dt
import os
import pwd
import time
from zoneinfo import ZoneInfo

import pytest

import helpers
from conftest import faketime_env

ROME = ZoneInfo("Europe/Rome")
DPO = "dpo@consorzio.example.it"
STAFF = "protocollo@comune.example.it"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
# Two receivers: one of every event, one of alerts only (must never get a
# transition's event).
CONF = {
    "dpo": {"email": DPO},
    "webhook all-events": {"url": "http://127.0.0.1:9/hook",
                           "secret": SECRET},
    "webhook alerts-only": {"url": "http://127.0.0.1:9/alerts",
                            "secret": SECRET,
                            "events": "request.deadline_warning,"
                                      "request.overdue"},
}
TRANSITION_EVENTS = ("request.filed", "request.forwarded",
                     "request.extended", "request.closed")
ME = pwd.getpwuid(os.getuid()).pw_name


# ---------------------------------------------------------------- the model

def easter(y):
    """Gregorian Easter Sunday (the anonymous algorithm)."""
    a, b, c = y % 19, y // 100, y % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l) // 451
    month = (h + l - 7 * m + 114) // 31
    day = (h + l - 7 * m + 114) % 31 + 1
    return dt.date(y, month, day)


def holidays(y):
    """Italian national holidays since 2000; 4 October (San Francesco) is
    one again from 2026 (Legge 151/2025)."""
    s = {dt.date(y, m, d) for m, d in ((1, 1), (1, 6), (4, 25), (5, 1),
                                        (6, 2), (8, 15), (11, 1), (12, 8),
                                        (12, 25), (12, 26))}
    s.add(easter(y) + dt.timedelta(days=1))
    if y >= 2026:
        s.add(dt.date(y, 10, 4))
    return s


def working(d, local=()):
    return (d.weekday() < 5 and d not in holidays(d.year)
            and d.strftime("%m-%d") not in local)


def roll(d, local=()):
    """Reg. 1182/71 art. 3(4): a period ending on a Saturday, Sunday or
    holiday ends at the end of the next working day."""
    while not working(d, local):
        d += dt.timedelta(days=1)
    return d


def add_months(d, n):
    """The same date n months on, or the last day of that month."""
    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    for day in (d.day, 30, 29, 28):
        try:
            return dt.date(y, m, day)
        except ValueError:
            continue
    raise AssertionError(d)


def plus(d, days):
    return d + dt.timedelta(days=days)


def iso(d):
    return None if d is None else d.isoformat()


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def dsrd(daemons):
    """This module's shared daemon: real clock, a DPO address and two
    webhooks."""
    return daemons("dsrd", overrides=CONF)


@pytest.fixture(scope="module")
def body(ctl):
    return ctl.entity(email=STAFF)["code"]


# The fields a refused action must leave as they were (next_alert_at is
# the scheduler's, which may move it at any time).
CORE = helpers.REQUEST_FIELDS + ("extended_on", "extension_reason",
                                 "reject_reason", "outcome_note",
                                 "paused_days", "awaiting_since")


def core(req):
    return {k: req.get(k) for k in CORE}


def history(ctl, rid):
    doc = ctl.ok("history", rid)
    assert doc["id"] == rid, doc
    return doc["events"]


def outbox_rows(pg, rid, events=TRANSITION_EVENTS):
    """(event, channel, recipient) of the request's notifications, sorted."""
    evs = ",".join("'%s'" % e for e in events)
    out = pg.sql("SELECT event, channel, recipient FROM outbox WHERE "
                 "request_id = %d AND event IN (%s) ORDER BY 1, 2, 3"
                 % (rid, evs))
    return [tuple(line.split("|")) for line in out.splitlines()]


def alert_rows(pg, rid):
    out = pg.sql("SELECT kind, to_char(moment AT TIME ZONE 'UTC', "
                 "'YYYY-MM-DD HH24:MI'), due_on FROM alerts WHERE "
                 "request_id = %d ORDER BY moment, kind" % rid)
    return [tuple(line.split("|")) for line in out.splitlines()]


def recipients(event, staff=True):
    """The outbox rows one transition event queues for a body with a staff
    address and no DPO address of its own: SPEC §5."""
    rows = [(event, "email", DPO), (event, "webhook", "all-events")]
    if staff and event != "request.extended":
        rows.append((event, "email", STAFF))
    return sorted(rows)


def expect(req, **want):
    got = {k: req.get(k) for k in want}
    want = {k: iso(v) if isinstance(v, dt.date) else v
            for k, v in want.items()}
    assert got == want, "request %s:\n got  %r\n want %r" % (
        req.get("id"), got, want)


# ---------------------------------------------------------------- full path

def test_full_path_file_forward_complete(ctl, pg, body, today):
    """file -> forward -> complete of an erasure request received today:
    the operational clock (10 days from forwarding) starts at forward and
    the effective due date is the earlier one."""
    r = ctl.file(body, type="erasure", name="Carla Bianchi",
                 subject_email="carla.bianchi@example.org")
    rid = r["id"]
    stat = roll(add_months(today, 1))
    expect(r, status="received", received_on=today, forwarded_on=None,
           statutory_due_on=stat, operational_due_on=None, due_on=stat,
           extended=False, overdue=False, closed_on=None, outcome=None)

    f = ctl.ok("forward", rid)
    op = roll(plus(today, 10))
    expect(f, id=rid, status="forwarded", received_on=today,
           forwarded_on=today, statutory_due_on=stat, operational_due_on=op,
           due_on=min(op, stat), extended=False, overdue=False,
           closed_on=None, outcome=None)

    c = ctl.ok("complete", rid, "--note", "dati cancellati")
    expect(c, id=rid, status="completed", forwarded_on=today,
           statutory_due_on=stat, operational_due_on=op,
           due_on=min(op, stat), overdue=False, closed_on=today,
           outcome="completed", outcome_note="dati cancellati")
    shown = ctl.ok("show", rid)
    assert core(shown) == core(c)

    h = history(ctl, rid)
    assert [(e["action"], e["actor"], e["role"], e["uid"]) for e in h] == [
        (a, ME, "admin", os.getuid())
        for a in ("file", "forward", "complete")], h
    assert h[1]["details"] == {"forwarded_on": today.isoformat()}, h
    assert h[2]["note"] == "dati cancellati"
    assert h[2]["details"] == {"from": "forwarded", "to": "completed"}, h
    seqs = [e["seq"] for e in h]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    assert [e["action"] for e in shown["history"]] == [
        "file", "forward", "complete"]

    # The outbox (dsrctl's view): each event once per recipient; the
    # alerts-only webhook hears none of them.
    doc = ctl.ok("outbox", "list", "--state", "pending,sending,dead,sent",
                 "--limit", "1000")
    mine = sorted((i["event"], i["channel"], i["recipient"])
                  for i in doc["items"] if i["request_id"] == rid
                  and i["event"] in TRANSITION_EVENTS)
    assert mine == sorted(recipients("request.filed")
                          + recipients("request.forwarded")
                          + recipients("request.closed")), mine
    assert all(i["entity"] == body for i in doc["items"]
               if i["request_id"] == rid)
    # The payload: the request as it was after the change, without the
    # data subject.
    payload = pg.sql("SELECT event, payload->'request'->>'status', "
                     "payload->'request'->>'operational_due_on' FROM outbox "
                     "WHERE request_id = %d AND channel = 'webhook' "
                     "ORDER BY id" % rid)
    assert payload.splitlines() == [
        "request.filed|received|", "request.forwarded|forwarded|%s" % op,
        "request.closed|completed|%s" % op], payload
    text = pg.sql("SELECT string_agg(payload::text, ' ') FROM outbox "
                  "WHERE request_id = %d" % rid)
    assert "Bianchi" not in text and "carla" not in text


def test_access_has_no_operational_clock(ctl, body, today):
    rid = ctl.file(body, type="access")["id"]
    stat = roll(add_months(today, 1))
    f = ctl.ok("forward", rid)
    expect(f, status="forwarded", forwarded_on=today, statutory_due_on=stat,
           operational_due_on=None, due_on=stat)


# Fixed dates, worked out by hand (2025-12 and 2026 calendars):
#  a) received Wed 2026-05-20: one month -> Sat 06-20 -> Mon 06-22.
#     Forwarded Sat 05-23: +10 -> Tue 06-02 (Festa della Repubblica)
#     -> Wed 06-03. Due: the earlier, 06-03.
#  b) the same at a body whose patron saint's day is 06-03: -> Thu 06-04.
#  c) received Sat 2026-01-31: one month -> 02-28 (February has no 31st),
#     a Saturday -> Mon 03-02. Forwarded the same day: +10 -> Tue 02-10.
#  d) access, the same receipt, forwarded Mon 02-02: no operational clock.
#  e) received Tue 2025-11-25: one month -> Thu 12-25 (Natale), Fri 12-26
#     (Santo Stefano), the weekend -> Mon 12-29. Forwarded Tue 12-16: +10
#     -> Fri 12-26 -> Mon 12-29 as well.
FIXED = [
    ("erasure", None, "2026-05-20", "2026-05-23", "2026-06-22", "2026-06-03",
     "2026-06-03"),
    ("erasure", "06-03", "2026-05-20", "2026-05-23", "2026-06-22",
     "2026-06-04", "2026-06-04"),
    ("rectification", None, "2026-01-31", "2026-01-31", "2026-03-02",
     "2026-02-10", "2026-02-10"),
    ("access", None, "2026-01-31", "2026-02-02", "2026-03-02", None,
     "2026-03-02"),
    ("rectification", None, "2025-11-25", "2025-12-16", "2025-12-29",
     "2025-12-29", "2025-12-29"),
]


@pytest.mark.parametrize("type,local,received,forwarded,stat,op,due", FIXED)
def test_forward_dates(ctl, type, local, received, forwarded, stat, op, due):
    code = ctl.entity(holidays=local)["code"] if local else \
        ctl.entity()["code"]
    r = ctl.file(code, type=type, received=received)
    expect(r, received_on=received, statutory_due_on=stat,
           operational_due_on=None, due_on=stat, overdue=True)
    f = ctl.ok("forward", r["id"], "--date", forwarded)
    expect(f, status="forwarded", forwarded_on=forwarded,
           statutory_due_on=stat, operational_due_on=op, due_on=due,
           overdue=True)
    assert history(ctl, r["id"])[-1]["details"] == {
        "forwarded_on": forwarded}


# ---------------------------------------------------------------- the table

# SPEC §3 for the admin (who may take every action): what is allowed from
# each state, in dsrctl's order.
ALLOWED = {
    "received": ["forward", "await-subject", "extend", "reject", "withdraw"],
    "forwarded": ["await-subject", "extend", "complete", "reject",
                  "withdraw"],
    "awaiting_subject": ["resume", "extend", "reject", "withdraw"],
    "completed": [],
    "rejected": [],
    "withdrawn": [],
}
ACTIONS = ("forward", "await-subject", "resume", "extend", "complete",
           "reject", "withdraw")
ARGS = {
    "forward": [], "await-subject": ["--note", "documento richiesto"],
    "resume": [], "extend": ["--reason", "richiesta complessa"],
    "complete": [], "reject": ["--reason", "not_applicable"],
    "withdraw": [],
}
# How to bring a request there: (setup steps, state, state before await).
SETUPS = {
    "received": ([], "received", None),
    "forwarded": (["forward"], "forwarded", None),
    "awaiting_subject": (["await-subject"], "awaiting_subject", "received"),
    "awaiting_forwarded": (["forward", "await-subject"], "awaiting_subject",
                           "forwarded"),
    "completed": (["forward", "complete"], "completed", None),
    "rejected": (["reject"], "rejected", None),
    "withdrawn": (["withdraw"], "withdrawn", None),
}
TARGET = {"forward": "forwarded", "await-subject": "awaiting_subject",
          "complete": "completed", "reject": "rejected",
          "withdraw": "withdrawn"}


def _bring(ctl, body, steps):
    rid = ctl.file(body, type="erasure")["id"]
    for s in steps:
        ctl.ok(s, rid, *ARGS[s])
    return rid


@pytest.fixture(scope="module")
def refusing():
    """One request per set-up for the refused actions: a refusal changes
    nothing (each case asserts so), so they can share it."""
    return {}


def snapshot(ctl, pg, rid):
    """What a refused action must leave alone: the request, its history,
    its notifications and the length of the audit trail."""
    ob, audit = pg.sql(
        "SELECT (SELECT string_agg(event || ' ' || channel || ' ' || "
        "recipient, ',' ORDER BY event, channel, recipient) FROM outbox "
        "WHERE request_id = %d AND event IN (%s)), (SELECT count(*) FROM "
        "audit_events)" % (rid, ",".join("'%s'" % e
                                         for e in TRANSITION_EVENTS))
    ).split("|")
    return core(ctl.ok("show", rid)), history(ctl, rid), ob, int(audit)


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("setup", list(SETUPS))
def test_transition_table(ctl, pg, body, today, refusing, setup, action):
    steps, state, before = SETUPS[setup]
    if action not in ALLOWED[state]:
        if setup not in refusing:
            refusing[setup] = _bring(ctl, body, steps)
        rid = refusing[setup]
        old = snapshot(ctl, pg, rid)
        assert old[0]["status"] == state
        assert len(old[1]) == 1 + len(steps)
        err = ctl.fail([action, rid] + ARGS[action], 65, code=2)
        assert err["data"] == {"status": state,
                               "allowed": ALLOWED[state]}, err
        assert state in err["message"] and action in err["message"], err
        assert snapshot(ctl, pg, rid) == old
        return

    rid = _bring(ctl, body, steps)
    old = ctl.ok("show", rid)
    assert old["status"] == state
    hist = history(ctl, rid)
    assert len(hist) == 1 + len(steps)
    ob = outbox_rows(pg, rid)
    audit = pg.count("audit_events")
    new = ctl.ok(action, rid, *ARGS[action])
    want = TARGET.get(action, before if action == "resume" else state)
    assert new["status"] == want, new
    assert core(ctl.ok("show", rid)) == core(new)
    h = history(ctl, rid)
    assert h[:-1] == hist and len(h) == len(hist) + 1
    assert h[-1]["action"] == action.replace("-", "_")
    assert (h[-1]["actor"], h[-1]["role"]) == (ME, "admin")
    assert pg.count("audit_events") == audit + 1
    # What the action queued: only its own event, to its recipients.
    event = {"forward": "request.forwarded", "extend": "request.extended",
             "complete": "request.closed", "reject": "request.closed",
             "withdraw": "request.closed"}.get(action)
    assert outbox_rows(pg, rid) == sorted(
        ob + (recipients(event) if event else [])), action
    stat = roll(add_months(today, 1))
    op = roll(plus(today, 10)) if old["forwarded_on"] else None
    if action == "extend":
        stat = roll(add_months(today, 3))
        expect(new, extended=True, extended_on=today,
               extension_reason="richiesta complessa")
    if action == "forward":
        op = roll(plus(today, 10))
    if want in ("completed", "rejected", "withdrawn"):
        expect(new, closed_on=today, outcome=want, awaiting_since=None)
    else:
        expect(new, closed_on=None, outcome=None)
    if action in ("await-subject", "resume"):
        expect(new, paused_days=0,
               awaiting_since=today if action == "await-subject" else None)
    expect(new, statutory_due_on=stat, operational_due_on=op,
           due_on=min(stat, op) if op else stat)


# ---------------------------------------------------------------- reject

REASONS = ("manifestly_unfounded", "excessive", "identity_not_verified",
           "exemption", "not_applicable", "other")


@pytest.mark.parametrize("reason", REASONS)
def test_reject_reasons(ctl, body, today, reason):
    rid = ctl.file(body)["id"]
    args = ["reject", rid, "--reason", reason]
    if reason == "other":
        args += ["--note", "motivo diverso"]
    r = ctl.ok(*args)
    expect(r, status="rejected", reject_reason=reason, outcome="rejected",
           closed_on=today)
    h = history(ctl, rid)[-1]
    assert h["action"] == "reject" and h["details"] == {"reason": reason}


@pytest.mark.parametrize("args,rc,field", [
    (["--reason", "rude"], 65, "reason"),
    (["--reason", "Excessive"], 65, "reason"),
    (["--reason", ""], 65, "reason"),
    (["--reason", "other"], 65, "note"),
])
def test_reject_refused(ctl, pg, body, args, rc, field):
    rid = ctl.file(body)["id"]
    old = ctl.ok("show", rid)
    audit = pg.count("audit_events")
    ctl.fail(["reject", rid] + args, rc, code=-32602, field=field)
    assert core(ctl.ok("show", rid)) == core(old)
    assert len(history(ctl, rid)) == 1
    assert pg.count("audit_events") == audit


def test_reject_needs_a_reason(ctl, body):
    rid = ctl.file(body)["id"]
    r = ctl.run(["reject", rid])
    assert r.rc == 64, r
    assert ctl.ok("show", rid)["status"] == "received"


# ---------------------------------------------------------------- extend

def test_extend_only_once(ctl, pg, body, today):
    rid = ctl.file(body, type="rectification")["id"]
    r = ctl.ok("extend", rid, "--reason", "molti archivi")
    three = roll(add_months(today, 3))
    expect(r, status="received", extended=True, extended_on=today,
           statutory_due_on=three, due_on=three)
    old = ctl.ok("show", rid)
    audit = pg.count("audit_events")
    err = ctl.fail(["extend", rid, "--reason", "ancora"], 65, code=2)
    assert err["data"]["status"] == "received", err
    assert "extend" in err["message"], err
    assert core(ctl.ok("show", rid)) == core(old)
    assert [e["action"] for e in history(ctl, rid)] == ["file", "extend"]
    assert pg.count("audit_events") == audit
    assert outbox_rows(pg, rid, ("request.extended",)) == \
        recipients("request.extended")


def test_extend_after_statutory_due(ctl, pg, body):
    # received Fri 2025-01-10: due Mon 2025-02-10, long past
    r = ctl.file(body, received="2025-01-10")
    expect(r, statutory_due_on="2025-02-10", due_on="2025-02-10",
           overdue=True)
    audit = pg.count("audit_events")
    err = ctl.fail(["extend", r["id"], "--reason", "tardi"], 65, code=2)
    assert err["data"]["status"] == "received", err
    assert "2025-02-10" in err["message"], err
    assert core(ctl.ok("show", r["id"])) == core(r)
    assert len(history(ctl, r["id"])) == 1
    assert pg.count("audit_events") == audit


def latest_reminder(instant):
    """The last overdue moment (09:00 Rome on a working day) at or before
    an instant, in UTC as "YYYY-MM-DD HH:MM"."""
    local = instant.astimezone(ROME)
    day = local.date()
    if local.time() < dt.time(9, 0):
        day = plus(day, -1)
    while not working(day):
        day = plus(day, -1)
    m = dt.datetime.combine(day, dt.time(9, 0), tzinfo=ROME)
    return m.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


def daemon_clock(ctl):
    return dt.datetime.fromisoformat(ctl.ping()["time"].replace("Z",
                                                                "+00:00"))


def test_overdue_alert_at_filing(ctl, pg, body):
    """With the real clock: a request filed long after its due date gets
    one overdue reminder at once, the latest (not one per missed day)."""
    before = latest_reminder(daemon_clock(ctl))
    rid = ctl.file(body, received="2025-01-10")["id"]
    after = latest_reminder(daemon_clock(ctl))
    helpers.wait_until(lambda: alert_rows(pg, rid), 10,
                       what="the overdue reminder")
    time.sleep(0.3)
    rows = alert_rows(pg, rid)
    assert rows in ([("overdue", before, "2025-02-10")],
                    [("overdue", after, "2025-02-10")]), rows
    assert outbox_rows(pg, rid, ("request.overdue",)) == sorted(
        [("request.overdue", "email", DPO), ("request.overdue", "email",
                                             STAFF),
         ("request.overdue", "webhook", "all-events"),
         ("request.overdue", "webhook", "alerts-only")])


def test_extend_needs_a_reason(ctl, body):
    rid = ctl.file(body)["id"]
    assert ctl.run(["extend", rid]).rc == 64
    ctl.fail(["extend", rid, "--reason", ""], 65, code=-32602,
             field="reason")
    assert ctl.ok("show", rid)["extended"] is False


# ---------------------------------------------------------------- forward

def test_forward_date_bounds(ctl, pg, body, today):
    r = ctl.file(body, type="erasure", received="2026-03-10")
    audit = pg.count("audit_events")
    for bad in ("2026-03-09", plus(today, 1).isoformat(), "2000-01-01"):
        err = ctl.fail(["forward", r["id"], "--date", bad], 65,
                       code=-32602, field="date")
        assert "2026-03-10" in err["message"], err
    assert core(ctl.ok("show", r["id"])) == core(r)
    assert pg.count("audit_events") == audit
    assert outbox_rows(pg, r["id"], ("request.forwarded",)) == []
    # The day of receipt itself is fine: Tue 03-10 + 10 = Fri 03-20.
    f = ctl.ok("forward", r["id"], "--date", "2026-03-10")
    expect(f, forwarded_on="2026-03-10", operational_due_on="2026-03-20",
           due_on="2026-03-20")


def test_forward_today_is_the_limit(ctl, body, today):
    r = ctl.file(body, type="erasure", received=plus(today, -3).isoformat())
    f = ctl.ok("forward", r["id"], "--date", today.isoformat())
    expect(f, forwarded_on=today, operational_due_on=roll(plus(today, 10)))


def test_unknown_request(ctl, pg):
    audit = pg.count("audit_events")
    for action in ACTIONS:
        ctl.fail([action, 999999999] + ARGS[action], 1, code=1)
    ctl.fail(["history", 999999999], 1, code=1)
    assert pg.count("audit_events") == audit


# ---------------------------------------------------------------- pause

def test_pause_same_day(ctl, body, today):
    """await-subject and resume on one day: no day paused, nothing moves."""
    r = ctl.file(body, type="erasure")
    f = ctl.ok("forward", r["id"])
    a = ctl.ok("await-subject", r["id"], "--note", "manca il documento")
    expect(a, status="awaiting_subject", awaiting_since=today,
           paused_days=0, due_on=f["due_on"])
    b = ctl.ok("resume", r["id"])
    expect(b, status="forwarded", awaiting_since=None, paused_days=0,
           statutory_due_on=f["statutory_due_on"],
           operational_due_on=f["operational_due_on"], due_on=f["due_on"])
    h = history(ctl, r["id"])
    assert [e["action"] for e in h] == ["file", "forward", "await_subject",
                                        "resume"]
    assert h[2]["note"] == "manca il documento"
    assert h[3]["details"] == {"paused_days": 0}, h


def at(day, hhmm="10:00"):
    """An instant: that local time in Europe/Rome."""
    h, m = map(int, hhmm.split(":"))
    return dt.datetime.combine(helpers.d(day), dt.time(h, m), tzinfo=ROME)


def test_pause_moves_the_dates(own_cluster):
    """Five days in awaiting_subject, under a faked clock.

            November 2026                December 2026
        Mo Tu We Th Fr Sa Su        Mo Tu We Th Fr Sa Su
                           1            1  2  3  4  5  6
         2  3  4  5  6  7  8         7 [8] 9 10 11 12 13
         9 10 11 12 13 14 15        14 15 16 17 18 19 20
        16 17 18 19 20 21 22        21 22 23 24[25][26]27
        23 24 25 26 27 28 29        28 29 30 31
        30                          ([] national holidays)

    Erasure received Fri 11-20, forwarded Mon 11-23:
      statutory: 11-20 + 1 month = Sun 12-20 -> Mon 12-21
      operational: 11-23 + 10 days = Thu 12-03 (a working day)
      due: 12-03.
    await-subject on Tue 12-01, resume on Sun 12-06: 5 days paused.
      statutory: 12-20 + 5 = Fri 12-25 (Natale) -> Sat 12-26 (Santo
        Stefano) -> Sun 12-27 -> Mon 12-28
      operational: 12-03 + 5 = Tue 12-08 (Immacolata) -> Wed 12-09
      due: 12-09.
    Alerts (09:00 Rome = 08:00 UTC): filed on 12-01, the 3-day warning of
    Mon 11-30 had passed and is raised at once; while paused none (not the
    1-day warning of 12-02, though dsrd is started again on 12-06); once
    resumed, the new 3-day warning (12-09 - 3 = Sun 12-06 -> Fri 12-04) has
    passed and is raised at once, only it.
    """
    pg, daemon = own_cluster
    dd = daemon("pause", at("2026-12-01"), CONF)
    ctl = dd.ctl
    assert ctl.ping()["today"] == "2026-12-01", "faketime is not working"
    code = ctl.entity(email=STAFF)["code"]
    r = ctl.file(code, type="erasure", received="2026-11-20")
    rid = r["id"]
    f = ctl.ok("forward", rid, "--date", "2026-11-23")
    expect(f, statutory_due_on="2026-12-21", operational_due_on="2026-12-03",
           due_on="2026-12-03", paused_days=0)
    helpers.wait_until(lambda: alert_rows(pg, rid), 10,
                       what="the catch-up warning")
    a = ctl.ok("await-subject", rid, "--note", "documento d'identità")
    expect(a, status="awaiting_subject", awaiting_since="2026-12-01",
           paused_days=0, due_on="2026-12-03")

    dd.stop()
    dd.env = faketime_env(at("2026-12-06"))
    dd.start()
    assert ctl.ping()["today"] == "2026-12-06"
    s = ctl.ok("show", rid)
    expect(s, status="awaiting_subject", awaiting_since="2026-12-01",
           due_on="2026-12-03")
    b = ctl.ok("resume", rid, "--note", "arrivato")
    expect(b, status="forwarded", awaiting_since=None, paused_days=5,
           forwarded_on="2026-11-23", statutory_due_on="2026-12-28",
           operational_due_on="2026-12-09", due_on="2026-12-09",
           overdue=False)
    h = history(ctl, rid)
    assert [e["action"] for e in h] == ["file", "forward", "await_subject",
                                        "resume"]
    assert h[3]["details"] == {"paused_days": 5}, h
    assert h[3]["note"] == "arrivato"
    helpers.wait_until(lambda: len(alert_rows(pg, rid)) >= 2, 10,
                       what="the warning of the moved due date")
    assert alert_rows(pg, rid) == [
        ("deadline_warning", "2026-11-30 08:00", "2026-12-03"),
        ("deadline_warning", "2026-12-04 08:00", "2026-12-09")]
    assert ctl.ok("audit", "verify")["ok"] is True


def test_extend_until_the_statutory_due_day(own_cluster):
    """Under a faked clock on Tue 2026-12-01 at 00:30 (still 11-30 in UTC:
    "today" is Rome's):
      received Sun 11-01: one month -> Tue 12-01, today: extend allowed;
        three months -> Mon 2027-02-01.
      received Sat 10-31: one month -> 11-30 (November has no 31st), a
        Monday, yesterday: refused."""
    pg, daemon = own_cluster
    ctl = daemon("extend", at("2026-12-01", "00:30"), CONF).ctl
    assert ctl.ping()["today"] == "2026-12-01", "faketime is not working"
    code = ctl.entity()["code"]
    r = ctl.file(code, received="2026-11-01")
    expect(r, statutory_due_on="2026-12-01")
    x = ctl.ok("extend", r["id"], "--reason", "complessità")
    expect(x, extended=True, extended_on="2026-12-01",
           statutory_due_on="2027-02-01", due_on="2027-02-01")
    late = ctl.file(code, received="2026-10-31")
    expect(late, statutory_due_on="2026-11-30", overdue=True)
    err = ctl.fail(["extend", late["id"], "--reason", "troppo tardi"], 65,
                   code=2)
    assert err["data"]["status"] == "received"
    assert "2026-11-30" in err["message"], err
    assert ctl.ok("show", late["id"])["extended"] is False


# ---------------------------------------------------------------- audit

def test_audit_chain_verifies_after_transitions(ctl, pg):
    """Last in the module: every transition above appended to one chain."""
    doc = ctl.ok("audit", "verify")
    assert doc["ok"] is True
    assert doc["events"] == pg.count("audit_events") > 100
    acts = set(pg.sql("SELECT DISTINCT action FROM audit_events")
               .splitlines())
    assert acts >= {"file", "forward", "await_subject", "resume", "extend",
                    "complete", "reject", "withdraw"}, acts


def test_paused_request_is_not_overdue(ctl, body):
    """While a request awaits the person its clocks are stopped
    (pause_on_await, the default): it is not overdue, not listed by
    --overdue, not counted overdue by stats; resumed, it is again."""
    rid = ctl.file(body, received="2025-01-10")["id"]
    assert ctl.ok("show", rid)["overdue"] is True

    def overdue_ids():
        return [r["id"] for r in ctl.list("--entity", body, "--overdue")]

    def stats_overdue():
        st = ctl.ok("stats")
        return [e for e in st["by_entity"] if e["entity"] == body][0][
            "overdue"]

    assert rid in overdue_ids()
    before = stats_overdue()
    ctl.ok("await-subject", rid, "--note", "documento d'identità")
    shown = ctl.ok("show", rid)
    assert shown["status"] == "awaiting_subject"
    assert shown["overdue"] is False
    assert rid not in overdue_ids()
    assert stats_overdue() == before - 1
    ctl.ok("resume", rid)
    assert ctl.ok("show", rid)["overdue"] is True
    assert rid in overdue_ids()
    assert stats_overdue() == before
