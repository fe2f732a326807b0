"""Delivery of the outbox (SPEC §5, issue 4) end to end: real dsrd against a
real SMTP server (aiosmtpd, keeping the bytes it received), Postfix's
smtp-sink slowed on purpose, and a scripted HTTP receiver. What a DPO reads
(an Italian, RFC 5322/2045/2047-correct mail without the data subject's name
unless configured), what a webhook consumer verifies (the Standard Webhooks
signature, recomputed here), durability (a mail server that is down, a
receiver that fails, then recovers), giving up (dead rows, escalation by the
other channel, 410 disabling an endpoint, `outbox retry`), and that a slow
mail server never stalls the main loop.

All daemons of this module share one database, so every test files its own
requests for its own body, and the `stack` fixture stops that test's daemons
and servers and sweeps the rows it left undelivered, so that no later
daemon delivers them to another test's servers.
"""

import base64
import datetime as dt
import hashlib
import hmac
import re
import time

import pytest

from conftest import REPO
from helpers import CF_VALID, RawConn, uniq, wait_until
from servers import HttpReceiver, SmtpServer, SmtpSink, free_port

TEMPLATES = REPO / "config/templates"
FROM = "dsrd@consorzio-prova.example"
DPO = "dpo@consorzio-prova.example"
DPO_NAME = "Consorzio dei Comuni di Prova"
STAFF = "segreteria@comunita-prova.example"
# Accented, so that the name is also looked for QP-decoded.
NAME = "Zaccaria Bellò"
SUBJECT_EMAIL = "zaccaria.bello@example.net"
ALL_STATES = "pending,sending,dead,sent"

IT_WEEKDAYS = ("lunedì", "martedì", "mercoledì", "giovedì", "venerdì",
               "sabato", "domenica")
IT_MONTHS = ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno",
             "luglio", "agosto", "settembre", "ottobre", "novembre",
             "dicembre")


def it_long(iso):
    """'2026-03-02' -> 'lunedì 2 marzo 2026' (the first: '1° marzo')."""
    d = dt.date.fromisoformat(iso)
    return "%s %d%s %s %d" % (IT_WEEKDAYS[d.weekday()], d.day,
                              "°" if d.day == 1 else "",
                              IT_MONTHS[d.month - 1], d.year)


def new_secret():
    return "whsec_" + base64.b64encode(hashlib.sha256(
        uniq("s").encode()).digest()).decode()


def expected_signature(secret, msg_id, ts, body):
    """Standard Webhooks: base64 HMAC-SHA256 keyed with the base64-decoded
    secret after whsec_, over id.timestamp.body."""
    key = base64.b64decode(secret[len("whsec_"):])
    mac = hmac.new(key, b"%s.%s.%s" % (msg_id.encode(), ts.encode(), body),
                   hashlib.sha256).digest()
    return base64.b64encode(mac).decode()


def assert_signed(hit, secret, msg_id):
    """The hit carries the three webhook-* headers and a v1 signature that
    this test computes itself from the secret."""
    h = hit.headers
    assert h.get("webhook-id") == msg_id, h
    ts = h.get("webhook-timestamp", "")
    assert re.fullmatch(r"[0-9]+", ts), h
    assert abs(int(ts) - hit.at) < 60, (ts, hit.at)
    sigs = h.get("webhook-signature", "").split(" ")
    want = "v1," + expected_signature(secret, msg_id, ts, hit.body)
    assert want in sigs, "signature %r, expected %r" % (sigs, want)
    # and it is not a signature any key would give
    other = "v1," + expected_signature(new_secret(), msg_id, ts, hit.body)
    assert other not in sigs
    assert h.get("content-type", "").startswith("application/json"), h


def test_signature_check_matches_the_specification():
    """The verifier of these tests against the Standard Webhooks example
    (also in docs/notifications.md): a wrong verifier could agree with a
    wrong daemon."""
    assert expected_signature("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                              "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
                              b'{"test": 2432232314}') == \
        "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


# ---------------------------------------------------------------- fixture

class Stack:
    """One test's daemons and servers, all stopped by the fixture."""

    def __init__(self, daemons, pg, workdir):
        self._daemons = daemons
        self.pg = pg
        self.workdir = workdir
        self.dsrds = []
        self.servers = []

    def smtp(self, port=None, start=True, logins=None):
        s = SmtpServer(port, logins)
        self.servers.append(s)
        return s.start() if start else s

    def sink(self, options):
        s = SmtpSink(self.workdir, options)
        self.servers.append(s)
        return s.start()

    def http(self, *answers):
        r = HttpReceiver()
        self.servers.append(r)
        if answers:
            r.script(*answers)
        return r.start()

    def dsrd(self, smtp_url=None, dpo=DPO, hooks=None, **notify):
        """A started dsrd: mail through smtp_url (none: no mail at all),
        [dpo] email dpo, webhooks {name: (url, secret, events)}, and
        [notify] keys (retry_min, max_age, ...)."""
        ov = {"notify": {"templates": str(TEMPLATES), "retry_min": "1s",
                         "retry_max": "2s"}}
        ov["notify"].update({k: str(v).lower() if isinstance(v, bool)
                             else v for k, v in notify.items()})
        if smtp_url:
            ov["smtp"] = {"url": smtp_url, "from": FROM}
        if dpo:
            ov["dpo"] = {"email": dpo, "name": DPO_NAME}
        for name, (url, secret, events) in (hooks or {}).items():
            ov["webhook " + name] = {"url": url, "secret": secret,
                                     "events": events}
        dd = self._daemons(uniq("d"), overrides=ov)
        dd.overrides = ov       # to write the config again, changed
        self.dsrds.append(dd)
        return dd

    def teardown(self):
        errors = []
        for dd in self.dsrds:
            try:
                dd.cleanup()
            except BaseException as e:
                errors.append("%s: %s" % (dd.name, e))
        for s in self.servers:
            try:
                s.stop()
            except BaseException as e:
                errors.append("%r: %s" % (s, e))
        # Nothing this test left undelivered may reach a later test's
        # servers through a later daemon.
        self.pg.sql("UPDATE outbox SET state = 'dead', lease_until = NULL,"
                    " last_error = 'e2e: swept after its test'"
                    " WHERE state IN ('pending', 'sending');"
                    " DELETE FROM webhook_state;")
        if errors:
            pytest.fail("\n".join(errors))


@pytest.fixture
def stack(daemons, pg, workdir):
    s = Stack(daemons, pg, workdir)
    yield s
    s.teardown()


# ---------------------------------------------------------------- helpers

def rows(ctl, request_id=None, states=ALL_STATES, **match):
    """Outbox rows (outbox list --json) of a request, matching fields."""
    doc = ctl.ok("outbox", "list", "--state", states, "--limit", "1000")
    assert doc["count"] == len(doc["items"]), doc
    out = [r for r in doc["items"]
           if request_id is None or r["request_id"] == request_id]
    return [r for r in out if all(r[k] == v for k, v in match.items())]


def one_row(ctl, request_id, **match):
    got = rows(ctl, request_id, **match)
    assert len(got) == 1, "expected one outbox row %r of request %s, got " \
        "%r" % (match, request_id, rows(ctl, request_id))
    return got[0]


def wait_row(ctl, request_id, pred, timeout, what, **match):
    """Waits until the one row of the request matching fields satisfies
    pred; returns it."""
    last = []

    def check():
        got = rows(ctl, request_id, **match)
        last[:] = got
        return got[0] if len(got) == 1 and pred(got[0]) else None
    try:
        return wait_until(check, timeout, 0.2, what)
    except AssertionError as e:
        raise AssertionError("%s; rows now: %r" % (e, last))


def by_message_id(msg_id):
    """The predicate of the mail of one outbox row: its Message-ID is
    <msg_id@domain of [smtp] from> (docs/protocol.md: msg_id is the
    Message-ID)."""
    want = "<%s@%s>" % (msg_id, FROM.split("@")[1])
    return lambda m: m.msg["Message-ID"] == want


def body_text(mail):
    return mail.text().replace("\r\n", "\n")


def check_wire_format(mail):
    """What a mail must be on the wire: 7-bit, CRLF only, short lines, an
    RFC 2047 subject in encoded words of at most 75 characters."""
    raw = mail.raw
    assert all(b < 0x80 for b in raw), "8-bit bytes on the wire"
    assert b"\n" not in raw.replace(b"\r\n", b""), "a bare LF"
    assert b"\r" not in raw.replace(b"\r\n", b""), "a bare CR"
    assert raw.endswith(b"\r\n")
    for ln in raw.split(b"\r\n"):
        assert len(ln) <= 998, "line of %d bytes" % len(ln)
    head, body = raw.split(b"\r\n\r\n", 1)
    for ln in head.split(b"\r\n"):
        assert len(ln) <= 78, "header line of %d bytes: %r" % (len(ln), ln)
    for ln in body.split(b"\r\n"):
        assert len(ln) <= 76, "QP line of %d bytes: %r" % (len(ln), ln)
    subj = mail.raw_header("Subject")
    assert subj is not None
    words = re.findall(rb"=\?[^?\s]+\?[QqBb]\?[^?\s]*\?=", subj)
    if not str(mail.msg["Subject"]).isascii():
        assert words, "Subject not RFC 2047-encoded: %r" % subj
    for w in words:
        assert len(w) <= 75, "encoded word of %d chars: %r" % (len(w), w)
        assert w.upper().startswith(b"=?UTF-8?"), w
    assert not mail.msg.defects, mail.msg.defects


def assert_mail_headers(mail, to):
    m = mail.msg
    assert mail.mail_from == FROM
    assert mail.rcpt_tos == [to]
    assert [a.addr_spec for a in m["From"].addresses] == [FROM]
    assert [a.addr_spec for a in m["To"].addresses] == [to]
    assert m["MIME-Version"] == "1.0"
    assert m.get_content_type() == "text/plain"
    assert m.get_param("charset").lower() == "utf-8"
    assert m["Content-Transfer-Encoding"] == "quoted-printable"
    date = m["Date"].datetime
    assert date is not None and date.tzinfo is not None, m["Date"]
    assert abs((dt.datetime.now(dt.timezone.utc) - date).total_seconds()) \
        < 120, m["Date"]


def filed_subject(rid, type_label, entity_name, due_on):
    """config/templates/it/filed.txt's subject."""
    return "Nuova richiesta n. %d (%s) – %s: scadenza %s" % (
        rid, type_label, entity_name, due_on)


# ---------------------------------------------------------------- 1. mail

def test_filed_mail_to_dpo_and_staff_in_italian(stack):
    smtp = stack.smtp()
    dd = stack.dsrd(smtp.url)
    ctl = dd.ctl
    ename = "Comunità di Valle di Prova"
    code = ctl.entity(name=ename, email=STAFF)["code"]
    t0 = time.monotonic()
    req = ctl.file(code, type="portability", name=NAME,
                   subject_tax_code=CF_VALID, subject_email=SUBJECT_EMAIL)
    rid = req["id"]

    mrows = {r["recipient"]: r for r in rows(ctl, rid, channel="email")}
    assert sorted(mrows) == sorted([DPO, STAFF]), mrows
    for r in mrows.values():
        assert r["event"] == "request.filed"
    for to, row in mrows.items():
        [mail] = smtp.wait(by_message_id(row["msg_id"]), timeout=10,
                           what="request.filed mail to %s" % to)
        assert mail.received - t0 < 10
        assert_mail_headers(mail, to)
        check_wire_format(mail)
        assert str(mail.msg["Subject"]) == filed_subject(
            rid, "portabilità (art. 20)", ename, req["due_on"])
        text = body_text(mail)
        assert re.search(r"^Richiesta n\.:\s+%d$" % rid, text, re.M), text
        assert re.search(r"^Scadenza:\s+%s$" % re.escape(
            it_long(req["due_on"])), text, re.M), text
        assert re.search(r"^Ricevuta il:\s+%s$" % re.escape(
            it_long(req["received_on"])), text, re.M), text
        assert "Responsabile della protezione dei dati: " + DPO_NAME in text
        # minimal personal data: no name, tax code or address of the person
        for personal in (NAME, "Zaccaria", "Bellò", CF_VALID, SUBJECT_EMAIL):
            assert personal not in text, personal
            assert personal.encode() not in mail.raw, personal
        assert not re.search(r"^Interessato:", text, re.M), text
        wait_row(ctl, rid, lambda r: r["state"] == "sent", 5,
                 "row sent", msg_id=row["msg_id"])
    assert len(smtp.matching(lambda m: "n. %d " % rid in
                             str(m.msg["Subject"]))) == 2

    # include_subject_name = true: the name is there, in the body only.
    dd.stop()
    dd.overrides["notify"]["include_subject_name"] = "true"
    dd.write_config(dd.overrides)
    dd.start()
    req2 = ctl.file(code, type="portability", name=NAME)
    row = one_row(ctl, req2["id"], channel="email", recipient=DPO)
    [mail] = smtp.wait(by_message_id(row["msg_id"]), timeout=10,
                       what="mail with the subject's name")
    check_wire_format(mail)
    text = body_text(mail)
    assert re.search(r"^Interessato:\s+%s$" % re.escape(NAME), text,
                     re.M), text
    assert NAME not in str(mail.msg["Subject"])


# ---------------------------------------------------------------- 2. webhook

def test_webhook_signed_without_personal_data(stack):
    rcv = stack.http(200)
    secret = new_secret()
    dd = stack.dsrd(dpo=None, hooks={"ops": (rcv.url("/dsrd"), secret,
                                             "request.filed")})
    ctl = dd.ctl
    code = ctl.entity(name="Comune di Prova")["code"]
    req = ctl.file(code, type="erasure", name=NAME,
                   subject_tax_code=CF_VALID, subject_email=SUBJECT_EMAIL,
                   summary="Cancellare i dati di " + NAME)
    row = one_row(ctl, req["id"])
    assert (row["channel"], row["recipient"], row["event"]) == (
        "webhook", "ops", "request.filed")
    [hit] = rcv.wait(lambda h: h.headers.get("webhook-id") == row["msg_id"],
                     timeout=10, what="request.filed POST")
    assert (hit.method, hit.path) == ("POST", "/dsrd")
    assert hit.headers.get("user-agent") == \
        "dsrd/" + (REPO / "VERSION").read_text().strip()
    assert_signed(hit, secret, row["msg_id"])
    doc = hit.json()
    assert set(doc) == {"type", "timestamp", "data"}, doc
    assert doc["type"] == "request.filed"
    assert isinstance(doc["timestamp"], str) and doc["timestamp"], doc
    r = doc["data"]["request"]
    assert r["id"] == req["id"]
    assert r["entity"] == code
    assert r["type"] == "erasure"
    assert r["status"] == "received"
    assert r["due_on"] == req["due_on"]
    assert "subject" not in r and "summary" not in r, r
    for personal in (NAME, "Zaccaria", CF_VALID, SUBJECT_EMAIL,
                     "Cancellare i dati"):
        assert personal not in hit.body.decode("utf-8"), personal
    # json.dumps' \u escapes as well
    assert "Bell\\u00f2" not in hit.body.decode("utf-8")
    wait_row(ctl, req["id"], lambda x: x["state"] == "sent", 5, "row sent")
    assert len(rcv.matching()) == 1


# ---------------------------------------------------------------- 3. SMTP down

def test_mail_waits_for_a_server_that_is_down(stack):
    port = free_port()
    smtp = stack.smtp(port, start=False)
    dd = stack.dsrd(smtp.url, retry_min="1s", retry_max="2s")
    ctl = dd.ctl
    code = ctl.entity(name="Comune di Prova")["code"]
    rid = ctl.file(code)["id"]
    row = wait_row(ctl, rid, lambda r: r["state"] == "pending" and
                   r["attempts"] >= 1 and r["last_error"], 10,
                   "a failed attempt recorded", channel="email")
    assert row["recipient"] == DPO
    assert row["sent_at"] is None
    time.sleep(2.5)     # it keeps trying, every retry_min..retry_max
    row2 = one_row(ctl, rid, channel="email")
    assert row2["state"] in ("pending", "sending"), row2
    assert row2["attempts"] > row["attempts"], (row, row2)

    smtp.start()
    t0 = time.monotonic()
    [mail] = smtp.wait(by_message_id(row["msg_id"]), timeout=15,
                       what="the mail once the server is up")
    assert mail.received - t0 < 15
    assert_mail_headers(mail, DPO)
    sent = wait_row(ctl, rid, lambda r: r["state"] == "sent", 5,
                    "row sent", channel="email")
    assert sent["last_error"] is None
    assert sent["msg_id"] == row["msg_id"]
    assert sent["sent_at"] is not None
    time.sleep(1)
    assert len(smtp.matching(by_message_id(row["msg_id"]))) == 1


# ---------------------------------------------------------------- 4. 500, 200

def test_webhook_retried_with_the_same_id(stack):
    rcv = stack.http(500, 200)
    secret = new_secret()
    # Instants are whole seconds, so a backoff of 2 s is 1 to 3 s of real
    # time: never less than 1 s.
    dd = stack.dsrd(dpo=None, hooks={"h4": (rcv.url(), secret,
                                            "request.filed")},
                    retry_min="2s", retry_max="2s")
    ctl = dd.ctl
    code = ctl.entity(name="Comune di Prova")["code"]
    rid = ctl.file(code)["id"]
    row = one_row(ctl, rid)
    hits = rcv.wait(n=2, timeout=10, what="two POSTs")
    assert [h.status for h in hits] == [500, 200]
    for h in hits:
        assert_signed(h, secret, row["msg_id"])
    assert hits[0].body == hits[1].body
    assert hits[1].at - hits[0].at >= 0.95, "retried before retry_min"
    sent = wait_row(ctl, rid, lambda r: r["state"] == "sent", 5, "row sent")
    assert sent["attempts"] == 2
    assert sent["last_error"] is None
    time.sleep(1)
    assert len(rcv.matching()) == 2


# ---------------------------------------------------------------- 5. dead

def escalation(ctl, pg, smtp, rid, dead, hook_name, error):
    """The one delivery.failed row queued about the dead row is an e-mail
    to the DPO (a dead webhook is escalated by the other channel); it is
    sent, and says which notification failed, where, why, and what to do
    (config/templates/it/delivery_failed.txt)."""
    esc = one_row(ctl, rid, event="delivery.failed")
    assert (esc["channel"], esc["recipient"]) == ("email", DPO), esc
    assert pg.sql("SELECT about FROM outbox WHERE id = %d" % esc["id"]) \
        == str(dead["id"])
    [mail] = smtp.wait(by_message_id(esc["msg_id"]), timeout=10,
                       what="the delivery.failed mail")
    assert_mail_headers(mail, DPO)
    check_wire_format(mail)
    assert str(mail.msg["Subject"]) == "dsrd: notifica n. %d non " \
        "recapitata (request.filed, richiesta n. %d)" % (dead["id"], rid)
    text = body_text(mail)
    for pat in (r"^Notifica n\.:\s+%d$" % dead["id"],
                r"^Evento:\s+request\.filed$",
                r"^Canale:\s+webhook$",
                r"^Destinatario:\s+%s$" % hook_name,
                r"^Ultimo errore:\s+.*%s" % error,
                r"^Richiesta n\.:\s+%d " % rid,
                r"^\s+dsrctl outbox retry %d$" % dead["id"]):
        assert re.search(pat, text, re.M), (pat, text)
    wait_row(ctl, rid, lambda r: r["state"] == "sent", 5,
             "the escalation row sent", id=esc["id"])
    return esc


def wait_dead(ctl, rid, row_id, timeout):
    def dead():
        got = [r for r in rows(ctl, rid, states="dead") if r["id"] == row_id]
        return got[0] if got else None
    return wait_until(dead, timeout, 0.2, "outbox row %d dead" % row_id)


def test_dead_webhook_escalated_and_retried(stack, pg):
    smtp = stack.smtp()
    rcv = stack.http(500)
    secret = new_secret()
    dd = stack.dsrd(smtp.url, hooks={"h5": (rcv.url(), secret,
                                            "request.filed")},
                    retry_min="1s", retry_max="1s", max_age="3s")
    ctl = dd.ctl
    code = ctl.entity(name="Comune di Prova")["code"]
    rid = ctl.file(code)["id"]
    hook = one_row(ctl, rid, channel="webhook")

    # listed by `outbox list --state dead`, once max_age has passed
    dead_row = wait_dead(ctl, rid, hook["id"], 12)
    assert dead_row["attempts"] >= 2, dead_row
    assert "500" in (dead_row["last_error"] or ""), dead_row
    hits = rcv.matching()
    assert len(hits) == dead_row["attempts"], (hits, dead_row)
    assert {h.headers["webhook-id"] for h in hits} == {hook["msg_id"]}
    # gave up no earlier than max_age (3 s, counted in whole seconds: more
    # than 2 s of real time) after it was queued
    assert hits[-1].at - hits[0].at >= 1.9, [h.at for h in hits]
    # escalated: the DPO is mailed
    escalation(ctl, pg, smtp, rid, dead_row, "h5", "HTTP 500")

    # outbox retry: pending again, then sent to a receiver that now answers
    rcv.script(200)
    res = ctl.ok("outbox", "retry", hook["id"])
    assert res == {"id": hook["id"], "state": "pending"}, res
    sent = wait_row(ctl, rid, lambda r: r["state"] == "sent", 10,
                    "the retried row sent", id=hook["id"])
    assert sent["attempts"] == 1, sent     # counted afresh
    new = rcv.matching()[len(hits):]
    assert [h.status for h in new] == [200], new
    assert_signed(new[0], secret, hook["msg_id"])
    # a sent row is not retried, nor is a row that does not exist
    ctl.fail(["outbox", "retry", hook["id"]], 65)
    ctl.fail(["outbox", "retry", 999999999], 1)
    # the escalation is neither repeated nor escalated again
    assert len(rows(ctl, rid, event="delivery.failed")) == 1


# ---------------------------------------------------------------- 6. 410

def test_gone_disables_the_endpoint(stack, pg):
    smtp = stack.smtp()
    rcv = stack.http(410)
    secret = new_secret()
    dd = stack.dsrd(smtp.url, hooks={"h6": (rcv.url(), secret,
                                            "request.filed")},
                    retry_min="1s", retry_max="1s")
    ctl = dd.ctl
    code = ctl.entity(name="Comune di Prova")["code"]
    rid = ctl.file(code)["id"]
    hook = one_row(ctl, rid, channel="webhook")
    dead = wait_dead(ctl, rid, hook["id"], 10)
    assert dead["attempts"] == 1, dead
    assert "410" in (dead["last_error"] or ""), dead
    assert len(rcv.matching()) == 1
    # the DPO is mailed
    escalation(ctl, pg, smtp, rid, dead, "h6", "410")

    # later notifications for that webhook go dead without a POST
    rcv.script(200)
    rid2 = ctl.file(code)["id"]
    hook2 = one_row(ctl, rid2, channel="webhook")
    dead2 = wait_dead(ctl, rid2, hook2["id"], 10)
    assert dead2["recipient"] == "h6"
    assert dead2["last_error"], dead2
    # the mail of that request went out as usual
    wait_row(ctl, rid2, lambda r: r["state"] == "sent", 10,
             "request.filed mail sent", channel="email",
             event="request.filed")
    assert len(rcv.matching()) == 1, rcv.matching()

    # outbox retry enables the endpoint again
    assert ctl.ok("outbox", "retry", hook["id"])["state"] == "pending"
    wait_row(ctl, rid, lambda r: r["state"] == "sent", 10,
             "the retried row sent", id=hook["id"])
    assert [h.headers["webhook-id"] for h in rcv.matching()] == \
        [hook["msg_id"]] * 2


# ---------------------------------------------------------------- 429, slow

def test_retry_after_is_honoured(stack):
    """429 with Retry-After: 1 is tried again after about a second, not
    after the backoff (retry_min 30 s here)."""
    rcv = stack.http({"status": 429, "headers": {"Retry-After": "1"}}, 200)
    secret = new_secret()
    dd = stack.dsrd(dpo=None, hooks={"h7": (rcv.url(), secret,
                                            "request.filed")},
                    retry_min="30s", retry_max="60s")
    ctl = dd.ctl
    code = ctl.entity(name="Comune di Prova")["code"]
    rid = ctl.file(code)["id"]
    row = one_row(ctl, rid)
    hits = rcv.wait(n=2, timeout=6, what="the POST after Retry-After")
    assert [h.status for h in hits] == [429, 200]
    for h in hits:
        assert_signed(h, secret, row["msg_id"])
    sent = wait_row(ctl, rid, lambda r: r["state"] == "sent", 5, "row sent")
    assert sent["attempts"] == 2


def test_slow_receiver_times_out_without_stalling(stack):
    """A receiver slower than webhook_timeout: the attempt fails and is
    retried, and meanwhile the daemon answers at once."""
    rcv = stack.http({"status": 200, "delay": 4}, 200)
    secret = new_secret()
    dd = stack.dsrd(dpo=None, hooks={"h8": (rcv.url(), secret,
                                            "request.filed")},
                    webhook_timeout="2s", retry_min="2s", retry_max="2s")
    ctl = dd.ctl
    code = ctl.entity(name="Comune di Prova")["code"]
    t0 = time.monotonic()
    rid = ctl.file(code)["id"]
    lat = []
    while time.monotonic() - t0 < 1.5:
        t = time.monotonic()
        with RawConn(str(dd.socket), timeout=10) as c:
            assert "result" in c.call("ping")
        lat.append(time.monotonic() - t)
        time.sleep(0.05)
    assert max(lat) < 0.1, ["%.3f" % x for x in lat]
    # pending for 1 to 3 s (whole seconds) after the timeout
    row = wait_row(ctl, rid, lambda r: r["state"] == "pending" and
                   r["attempts"] == 1 and r["last_error"], 5,
                   "the attempt timed out")
    assert "timed out" in row["last_error"].lower() or \
        "timeout" in row["last_error"].lower(), row
    sent = wait_row(ctl, rid, lambda r: r["state"] == "sent", 10,
                    "row sent")
    assert sent["attempts"] == 2, sent
    assert sent["msg_id"] == row["msg_id"]
    hits = rcv.wait(n=2, timeout=5, what="two POSTs")
    assert [h.headers["webhook-id"] for h in hits] == [row["msg_id"]] * 2


# ---------------------------------------------------------------- 7. slow SMTP

def test_slow_mail_server_holds_up_one_session_only(stack):
    # smtp-sink answers every final "." 4 s late. libcurl blocks in that
    # read (DESIGN.md), so each SMTP session runs in a thread of its own:
    # the second mail of the filing (the body's address; the first goes
    # to the DPO) reaches its final "." while the first still waits, where
    # one thread for both sent it only after the first answer, 4 s later.
    sink = stack.sink(["-W", ".:4"])
    dd = stack.dsrd(sink.url)
    ctl = dd.ctl
    code = ctl.entity(name="Comune di Prova",
                      email="protocollo@comune.example.it")["code"]
    rid = ctl.file(code)["id"]
    wait_until(lambda: len(re.findall(r": \.\n", sink.log_text())) >= 1,
               10, 0.02, "smtp-sink to receive the first end of DATA")
    wait_until(lambda: len(re.findall(r": \.\n", sink.log_text())) >= 2,
               2, 0.02, "the second end of DATA while the first waits")
    mails = rows(ctl, rid, channel="email")
    assert len(mails) == 2 and all(r["state"] == "sending" for r in mails), \
        mails
    wait_until(lambda: [r["state"] for r in rows(ctl, rid, channel="email")]
               == ["sent", "sent"], 15, 0.2, "both mails sent")


def test_slow_mail_server_never_stalls_the_loop(stack):
    # smtp-sink answers the final "." of DATA 10 s late: libcurl's SMTP
    # blocks in that read (DESIGN.md), so only the mail thread may wait.
    sink = stack.sink(["-W", ".:10"])
    dd = stack.dsrd(sink.url)
    ctl = dd.ctl
    code = ctl.entity(name="Comune di Prova")["code"]
    rid = ctl.file(code)["id"]
    wait_until(lambda: re.search(r": \.\n", sink.log_text()), 10, 0.05,
               "smtp-sink to receive the end of DATA")

    lat = []
    end = time.monotonic() + 3
    while time.monotonic() < end:
        t = time.monotonic()
        with RawConn(str(dd.socket), timeout=15) as c:
            resp = c.call("ping")
        lat.append(time.monotonic() - t)
        assert "result" in resp, resp
        time.sleep(0.05)
    # the mail was still stuck all along
    row = one_row(ctl, rid, channel="email")
    assert row["state"] == "sending", row
    assert len(lat) >= 20, lat
    assert max(lat) < 0.1, "ping latencies (s) while the mail is stuck: " \
        "max %.3f, all %s" % (max(lat), ["%.3f" % x for x in lat])

    # and then it is delivered
    wait_row(ctl, rid, lambda r: r["state"] == "sent", 15,
             "the slow mail sent", channel="email")
