"""Routing of a forwarded request into tasks (SPEC §8, issue 7): one task per
activity of the body's register that concerns the person, assigned to the
activity's designated managers found in the staff directory (else the staff
of its office); for rectification, erasure and restriction one recipient
notice per processor and recipient (GDPR art. 19); complete only when every
task is done or waived. The register here is written straight into the
database, so that these tests do not depend on the importer
(tests/e2e/test_ropa.py covers the importer and the real register).
"""

import pwd

import pytest

from conftest import REPO
from helpers import RawConn, assert_rpc_error, euid, uniq
from servers import SmtpServer



def rpc(dd, method, **params):
    with RawConn(str(dd.socket)) as c:
        return c.call(method, params)


def ok(dd, method, **params):
    r = rpc(dd, method, **params)
    assert "result" in r, r
    return r["result"]


class Register:
    """A small register of one body, written as the importer writes it."""

    def __init__(self, pg, ctl, email=None):
        self.pg = pg
        self.ctl = ctl
        opts = {"email": email} if email else {}
        self.code = ctl.entity(**opts)["code"]
        self.eid = int(pg.sql("SELECT id FROM entities WHERE code = '%s'"
                              % self.code))

    def staff(self, name, office, email=None, user=None):
        args = ["staff", "add", name, "--entity", self.code, "--office",
                office]
        if email:
            args += ["--email", email]
        if user:
            args += ["--user", user]
        return self.ctl.ok(*args)["id"]

    def activity(self, name, office, managers=(), subjects=(),
                 processors=(), recipients=(), independent=(),
                 removed=False):
        def arr(xs):
            return "ARRAY[%s]::text[]" % ", ".join(
                "'%s'" % x.replace("'", "''") for x in xs)
        self.pg.sql(
            "INSERT INTO offices (entity_id, name) VALUES (%d, '%s')"
            " ON CONFLICT DO NOTHING" % (self.eid, office))
        return int(self.pg.sql(
            "INSERT INTO activities (entity_id, key, name, office_id,"
            " managers, subject_categories, processors,"
            " recipient_categories, independent_controllers, imported_at,"
            " removed_at) SELECT %d, lower('%s|%s'), '%s', o.id, %s, %s,"
            " %s, %s, %s, now(), %s FROM offices o WHERE o.entity_id = %d"
            " AND o.name = '%s' RETURNING id"
            % (self.eid, name, office, name, arr(managers), arr(subjects),
               arr(processors), arr(recipients), arr(independent),
               "now()" if removed else "NULL", self.eid, office)))


@pytest.fixture
def reg(pg, ctl):
    r = Register(pg, ctl, email="protocollo@comune.example.it")
    r.rossi = r.staff("Rossi Moreno", "Ufficio Anagrafe",
                      "rossi@comune.example.it")
    r.verdi = r.staff("Verdi Luca", "Ufficio Anagrafe")
    r.bianchi = r.staff("Bianchi Anna", "Ufficio Tributi",
                        "bianchi@comune.example.it")
    r.a1 = r.activity("Anagrafe della popolazione", "Ufficio Anagrafe",
                      managers=["Rossi Moreno"], subjects=["Cittadini"],
                      processors=["Trentino Digitale S.p.A."],
                      recipients=["Persone autorizzate",
                                  "Altre amministrazioni pubbliche"])
    # Its manager is in no directory: the office's staff get the task.
    r.a2 = r.activity("Tributi locali", "Ufficio Tributi",
                      managers=["Nessuno Tizio"],
                      subjects=["Cittadini", "Contribuenti"],
                      processors=["Trentino Digitale S.p.A.",
                                  "Clesius S.R.L."],
                      independent=["Agenzia delle Entrate"])
    r.a3 = r.activity("Gestione del personale", "Ufficio Personale",
                      subjects=["Dipendenti"],
                      processors=["Studio Paghe S.r.l."])
    r.gone = r.activity("Vecchio archivio", "Ufficio Anagrafe",
                        subjects=["Cittadini"], removed=True)
    return r


def by_kind(tasks):
    acts = {t["activity"]["id"]: t for t in tasks if t["kind"] == "activity"}
    notes = {t["recipient"]: t for t in tasks
             if t["kind"] == "recipient_notice"}
    assert len(acts) + len(notes) == len(tasks), tasks
    return acts, notes


def assignees(t):
    return sorted(a["name"] for a in t["assignees"])


def test_erasure_fans_out_into_tasks_and_recipient_notices(dsrd, ctl, reg,
                                                           pg):
    rid = ok(dsrd, "request.file", entity=reg.code, type="erasure",
             subject_name="Mario Rossi",
             subject_categories=["cittadini"])["id"]
    assert ok(dsrd, "request.show", id=rid)["subject_categories"] == [
        "cittadini"]
    fwd = ok(dsrd, "request.forward", id=rid)
    assert fwd["status"] == "forwarded"
    acts, notes = by_kind(fwd["tasks"])
    # Both live activities of the person's category; not the removed one,
    # not the one of another category.
    assert sorted(acts) == sorted([reg.a1, reg.a2])
    assert assignees(acts[reg.a1]) == ["Rossi Moreno"]
    assert acts[reg.a1]["activity"]["office"] == "Ufficio Anagrafe"
    assert assignees(acts[reg.a2]) == ["Bianchi Anna"]
    # Art. 19: every processor and recipient once, not the body's own
    # authorised staff.
    assert sorted(notes) == ["Agenzia delle Entrate",
                             "Altre amministrazioni pubbliche",
                             "Clesius S.R.L.", "Trentino Digitale S.p.A."]
    td = notes["Trentino Digitale S.p.A."]
    assert td["recipient_kind"] == "processor"
    assert sorted(td["activities"]) == sorted([reg.a1, reg.a2])
    assert assignees(td) == ["Bianchi Anna", "Rossi Moreno"]
    assert notes["Agenzia delle Entrate"]["recipient_kind"] == \
        "independent_controller"
    assert notes["Altre amministrazioni pubbliche"]["recipient_kind"] == \
        "recipient"
    assert all(t["status"] == "open" and t["request"] == rid and
               t["entity"] == reg.code for t in fwd["tasks"])

    # Not complete while tasks are open; the request is left as it was.
    r = rpc(dsrd, "request.complete", id=rid)
    assert_rpc_error(r, 2)
    assert "6 tasks still open" in r["error"]["message"], r
    assert str(acts[reg.a1]["id"]) in r["error"]["message"]
    assert ok(dsrd, "request.show", id=rid)["status"] == "forwarded"

    # A waiver needs a reason, and only the DPO (or admin) gives one.
    assert_rpc_error(rpc(dsrd, "task.waive", id=td["id"]), -32602,
                     field="note")
    w = ok(dsrd, "task.waive", id=notes["Clesius S.R.L."]["id"],
           note="Clesius non tratta più i dati dal 2024")
    assert w["status"] == "waived" and w["closed_by"] == "root"
    for t in fwd["tasks"]:
        if t["id"] != w["id"]:
            d = ok(dsrd, "task.done", id=t["id"], note="fatto")
            assert d["status"] == "done" and d["closed_at"], d
    # Done is done: not twice.
    assert_rpc_error(rpc(dsrd, "task.done", id=td["id"]), 2)
    assert_rpc_error(rpc(dsrd, "task.done", id=10 ** 12), 1)

    show = ok(dsrd, "request.show", id=rid)
    informed = {x["recipient"]: x for x in show["recipients_informed"]}
    assert sorted(informed) == ["Agenzia delle Entrate",
                                "Altre amministrazioni pubbliche",
                                "Trentino Digitale S.p.A."]
    assert informed["Trentino Digitale S.p.A."]["informed_at"]
    assert informed["Trentino Digitale S.p.A."]["by"] == "root"
    assert {t["status"] for t in show["tasks"]} == {"done", "waived"}
    actions = [e["action"] for e in show["history"]]
    assert actions.count("task.done") == 5 and "task.waive" in actions

    done = ok(dsrd, "request.complete", id=rid)
    assert done["status"] == "completed"
    # A closed request's tasks stay as they are.
    assert_rpc_error(rpc(dsrd, "task.done", id=w["id"]), 2)
    assert ctl.ok("audit", "verify")["ok"] is True


def test_access_request_has_no_recipient_notices(dsrd, reg):
    rid = ok(dsrd, "request.file", entity=reg.code, type="access",
             subject_name="Anna Neri",
             subject_categories=["Contribuenti"])["id"]
    tasks = ok(dsrd, "request.forward", id=rid)["tasks"]
    acts, notes = by_kind(tasks)
    assert sorted(acts) == [reg.a2] and notes == {}


def test_no_categories_no_register_no_tasks(dsrd, ctl, reg):
    rid = ok(dsrd, "request.file", entity=reg.code, type="erasure",
             subject_name="Anna Neri")["id"]
    assert ok(dsrd, "request.forward", id=rid)["tasks"] == []
    assert ok(dsrd, "request.complete", id=rid)["status"] == "completed"
    # A body without a register: forward and complete as ever.
    other = ctl.entity()["code"]
    rid = ok(dsrd, "request.file", entity=other, type="erasure",
             subject_name="Anna Neri",
             subject_categories=["Cittadini"])["id"]
    assert ok(dsrd, "request.forward", id=rid)["tasks"] == []


def test_forward_activity_narrows_and_widens(dsrd, reg):
    def fwd(spec, cats=("Cittadini",), type="erasure"):
        rid = ok(dsrd, "request.file", entity=reg.code, type=type,
                 subject_name="Anna Neri",
                 subject_categories=list(cats))["id"]
        tasks = ok(dsrd, "request.forward", id=rid, activity=spec)["tasks"]
        return sorted(by_kind(tasks)[0])

    assert fwd(str(reg.a3)) == [reg.a3]
    assert fwd("%d, %d" % (reg.a1, reg.a3)) == [reg.a1, reg.a3]
    assert fwd("+%d,-%d" % (reg.a3, reg.a1)) == [reg.a2, reg.a3]
    assert fwd("-%d" % reg.a2) == [reg.a1]


@pytest.mark.parametrize("spec", ["1,+2", "abc", "+", "12x", "0", ","])
def test_forward_activity_bad_spec(dsrd, reg, pg, spec):
    rid = ok(dsrd, "request.file", entity=reg.code, type="erasure",
             subject_name="Anna Neri")["id"]
    assert_rpc_error(rpc(dsrd, "request.forward", id=rid, activity=spec),
                     -32602, field="activity")
    assert ok(dsrd, "request.show", id=rid)["status"] == "received"


def test_forward_unknown_activity_changes_nothing(dsrd, ctl, reg, pg):
    other = Register(pg, ctl)
    foreign = other.activity("Altrove", "Ufficio X", subjects=["Cittadini"])
    rid = ok(dsrd, "request.file", entity=reg.code, type="erasure",
             subject_name="Anna Neri")["id"]
    before = pg.counts()
    events = pg.count("outbox")
    for spec in (str(foreign), "+%d" % reg.gone, "%d,999999999" % reg.a1):
        r = rpc(dsrd, "request.forward", id=rid, activity=spec)
        assert_rpc_error(r, -32602)
        assert r["error"]["message"].startswith("activity:"), r
    assert ok(dsrd, "request.show", id=rid)["status"] == "received"
    assert pg.count("tasks", "request_id = %d" % rid) == 0
    assert pg.counts() == before and pg.count("outbox") == events


def test_file_with_a_category_not_in_the_register(dsrd, reg, pg):
    before = pg.counts()
    r = rpc(dsrd, "request.file", entity=reg.code, type="erasure",
            subject_name="Anna Neri", subject_categories=["Citadini"])
    assert_rpc_error(r, -32602, field="subject_categories")
    assert '"Citadini"' in r["error"]["message"]
    assert "Cittadini" in r["error"]["message"]     # what the register has
    for bad in ("Cittadini", [1], [""], ["a\nb"], ["x"] * 21, {"a": 1}):
        assert_rpc_error(rpc(dsrd, "request.file", entity=reg.code,
                             type="erasure", subject_name="Anna Neri",
                             subject_categories=bad),
                         -32602, field="subject_categories")
    assert pg.counts() == before


def test_reject_and_withdraw_waive_open_tasks(dsrd, reg, pg):
    for action, params in (("request.reject", {"reason": "exemption"}),
                           ("request.withdraw", {})):
        rid = ok(dsrd, "request.file", entity=reg.code, type="erasure",
                 subject_name="Anna Neri",
                 subject_categories=["Cittadini"])["id"]
        n = len(ok(dsrd, "request.forward", id=rid)["tasks"])
        assert n > 0
        ok(dsrd, action, id=rid, **params)
        tasks = ok(dsrd, "task.list", request=rid)["tasks"]
        assert len(tasks) == n
        assert {t["status"] for t in tasks} == {"waived"}
        assert all(t["note"].startswith("request ") for t in tasks)


def test_task_list_filters(dsrd, ctl, reg):
    rid = ok(dsrd, "request.file", entity=reg.code, type="erasure",
             subject_name="Anna Neri",
             subject_categories=["Cittadini"])["id"]
    tasks = ok(dsrd, "request.forward", id=rid)["tasks"]
    ok(dsrd, "task.done", id=tasks[0]["id"])
    got = ok(dsrd, "task.list", request=rid)
    assert got["count"] == len(tasks) == len(got["tasks"])
    assert [t["id"] for t in got["tasks"]] == [t["id"] for t in tasks]
    opn = ok(dsrd, "task.list", request=rid, status="open")["tasks"]
    assert [t["id"] for t in opn] == [t["id"] for t in tasks[1:]]
    assert ok(dsrd, "task.list", request=rid, limit=2)["count"] == 2
    assert all(t["entity"] == reg.code for t in
               ok(dsrd, "task.list", entity=reg.code)["tasks"])
    assert_rpc_error(rpc(dsrd, "task.list", entity="nosuchbody"), 1)
    assert_rpc_error(rpc(dsrd, "task.list", request=10 ** 12), 1)
    assert_rpc_error(rpc(dsrd, "task.list", status="closed"), -32602,
                     field="status")
    # root is in no staff directory: nothing is "mine".
    assert ok(dsrd, "task.list", mine=True)["count"] == 0


def sweep_outbox(pg):
    """Rows the module's other tests queued without a mail server must not
    reach this test's (nor a later test's) server."""
    pg.sql("UPDATE outbox SET state = 'dead', lease_until = NULL,"
           " last_error = 'e2e: swept' WHERE state IN ('pending', 'sending')")


def test_tasks_mailed_to_their_assignees(daemons, pg, ctl):
    sweep_outbox(pg)
    smtp = SmtpServer().start()
    try:
        dd = daemons(uniq("mail"), overrides={
            "smtp": {"url": smtp.url, "from": "dsrd@dpo.example.it"},
            "dpo": {"email": "dpo@dpo.example.it"},
            "notify": {"templates": str(REPO / "config/templates"),
                       "retry_min": "1s", "retry_max": "2s"}})
        reg = Register(pg, dd.ctl, email="protocollo@comune.example.it")
        reg.staff("Rossi Moreno", "Ufficio Anagrafe",
                  "rossi@comune.example.it")
        reg.staff("Verdi Luca", "Ufficio Tributi")     # no address
        a1 = reg.activity("Anagrafe della popolazione", "Ufficio Anagrafe",
                          managers=["Rossi Moreno"], subjects=["Cittadini"],
                          processors=["Trentino Digitale S.p.A."])
        a2 = reg.activity("Tributi locali", "Ufficio Tributi",
                          subjects=["Cittadini"])
        rid = ok(dd, "request.file", entity=reg.code, type="erasure",
                 subject_name="Mario Bianchi",
                 subject_categories=["Cittadini"])["id"]
        tasks = ok(dd, "request.forward", id=rid)["tasks"]
        acts, notes = by_kind(tasks)

        def to(addr):
            return lambda m: addr in m.rcpt_tos and \
                "n. %d " % rid in str(m.msg["Subject"]) and \
                "compiti assegnati" in str(m.msg["Subject"])
        [rossi] = smtp.wait(to("rossi@comune.example.it"), timeout=15,
                            what="Rossi's tasks")
        body = rossi.text()
        assert "n. %d  Anagrafe della popolazione (Ufficio Anagrafe)" % \
            acts[a1]["id"] in body
        assert "Trentino Digitale S.p.A." in body
        # one task a line: the activity, then the notice to its processor
        lines = [x for x in body.splitlines() if x.startswith("  n. ")]
        assert len(lines) == 2, body
        assert lines[0] == "  n. %d  Anagrafe della popolazione (Ufficio " \
            "Anagrafe)" % acts[a1]["id"]
        assert lines[1].endswith(": Trentino Digitale S.p.A."), lines
        assert "Tributi locali" not in body
        assert "Mario Bianchi" not in body
        # Nobody with an address runs the second: the body's address.
        [office] = smtp.wait(to("protocollo@comune.example.it"),
                             timeout=15, what="the body's tasks")
        assert "n. %d  Tributi locali" % acts[a2]["id"] in office.text()
        assert "Anagrafe della popolazione" not in office.text()
        dd.stop()
    finally:
        smtp.stop()
        sweep_outbox(pg)


def as_staff(dd, user, method, **params):
    """One call with the effective uid of user for the connect (SO_PEERCRED
    records the credentials of connect time)."""
    with euid(pwd.getpwnam(user)):
        c = RawConn(str(dd.socket))
    with c:
        return c.call(method, params)


def test_staff_see_and_do_their_own_tasks(daemons, pg, unix_user):
    dd = daemons(uniq("stf"), overrides={
        "daemon": {"socket_mode": "0666"},
        "access": {"staff": unix_user}}, start=False)
    dd.dir.chmod(0o755)
    dd.start()
    reg = Register(pg, dd.ctl)
    reg.staff("Rossi Moreno", "Ufficio Anagrafe", user=unix_user)
    reg.staff("Bianchi Anna", "Ufficio Tributi")
    a1 = reg.activity("Anagrafe", "Ufficio Anagrafe",
                      managers=["Rossi Moreno"], subjects=["Cittadini"])
    reg.activity("Tributi", "Ufficio Tributi", subjects=["Cittadini"])
    rid = ok(dd, "request.file", entity=reg.code, type="access",
             subject_name="Anna Neri", subject_categories=["Cittadini"])["id"]
    tasks = ok(dd, "request.forward", id=rid)["tasks"]
    acts, _ = by_kind(tasks)
    other = Register(pg, dd.ctl)
    other.activity("Altro", "Ufficio X", subjects=["Cittadini"])
    orid = ok(dd, "request.file", entity=other.code, type="access",
              subject_name="Anna Neri",
              subject_categories=["Cittadini"])["id"]
    otasks = ok(dd, "request.forward", id=orid)["tasks"]

    mine = as_staff(dd, unix_user, "task.list", mine=True)["result"]
    assert [t["id"] for t in mine["tasks"]] == [acts[a1]["id"]]
    body = as_staff(dd, unix_user, "task.list")["result"]
    assert sorted(t["id"] for t in body["tasks"]) == sorted(
        t["id"] for t in tasks)
    # Another body's tasks and requests do not exist for this staff.
    assert_rpc_error(as_staff(dd, unix_user, "task.done",
                              id=otasks[0]["id"]), 1)
    assert_rpc_error(as_staff(dd, unix_user, "task.list", request=orid), 1)
    # Staff do their tasks, but only the DPO waives one.
    assert_rpc_error(as_staff(dd, unix_user, "task.waive",
                              id=tasks[1]["id"], note="no"), 6)
    d = as_staff(dd, unix_user, "task.done", id=acts[a1]["id"],
                 note="cancellato")["result"]
    assert d["status"] == "done" and d["closed_by"] == unix_user
    dd.stop()


# ------------------------------------------------ the real register, dsrctl

REAL = REPO / "tests/unit/data/registro-trattamenti-val-di-non.tsv"


def test_real_register_erasure_for_a_citizen(ctl, pg):
    """The tour of the README: the body's real register imported, an
    erasure for a citizen forwarded, the tasks and notices it fans out
    into, all through dsrctl."""
    code = ctl.entity(email="protocollo@comunitavaldinon.example.it")["code"]
    ctl.ok("staff", "add", "Rossi Moreno", "--entity", code, "--email",
           "moreno.rossi@comunitavaldinon.example.it")
    ctl.ok("staff", "add", "Zanella Paolo", "--entity", code, "--office",
           "Servizio Istruzione")
    imp = ctl.ok("ropa", "import", str(REAL), "--entity", code)
    assert imp["activities"] == 104
    eid = int(pg.sql("SELECT id FROM entities WHERE code = '%s'" % code))
    citizens = {int(x) for x in pg.sql(
        "SELECT id FROM activities WHERE entity_id = %d AND removed_at IS"
        " NULL AND 'cittadini' IN (SELECT lower(s) FROM"
        " unnest(subject_categories) s)" % eid).split()}
    assert len(citizens) > 10
    td = {int(x) for x in pg.sql(
        "SELECT id FROM activities WHERE entity_id = %d AND id IN (%s) AND"
        " 'Trentino Digitale S.p.A.' = ANY (processors)"
        % (eid, ",".join(map(str, citizens)))).split()}
    assert td

    rid = ctl.ok("file", "--entity", code, "--type", "erasure",
                 "--subject-name", "Mario Rossi", "--subject-category",
                 "Cittadini", "--channel", "pec")["id"]
    fwd = ctl.ok("forward", rid)
    acts, notes = by_kind(fwd["tasks"])
    assert set(acts) == citizens
    assert set(notes["Trentino Digitale S.p.A."]["activities"]) == td
    assert "Persone autorizzate" not in notes
    # Zanella Paolo is a designated manager of the school activities (line
    # 8 of the register); Rossi Moreno of the shared IT ones (line 11).
    school = [t for t in acts.values()
              if t["activity"]["name"].startswith("Assegni di studio")]
    assert [assignees(t) for t in school] == [["Zanella Paolo"]]
    backup = [t for t in acts.values()
              if t["activity"]["name"] == "Gestione backup banche dati"
              and t["activity"]["office"] == "Servizio Istruzione"]
    assert [assignees(t) for t in backup] == [["Rossi Moreno",
                                               "Zanella Paolo"]]

    # The human output lists the tasks.
    text = ctl.run(["show", str(rid)], json=False)
    assert text.rc == 0 and "Trentino Digitale S.p.A." in text.out
    # Not complete while tasks are open: exit 65, naming them.
    r = ctl.run(["complete", str(rid)], json=False)
    assert r.rc == 65 and "tasks still open" in r.err, r
    # The DPO waives all but one notice; the last is done, with a note.
    ids = [t["id"] for t in fwd["tasks"]]
    for t in ids[:-1]:
        ctl.ok("task", "waive", t, "--note", "non pertinente")
    last = ctl.ok("task", "done", ids[-1], "--note", "comunicato via PEC")
    assert last["status"] == "done"
    assert ctl.ok("task", "list", "--request", rid, "--status",
                  "open")["count"] == 0
    assert ctl.ok("complete", rid)["status"] == "completed"


def test_cli_forward_activity_and_bad_category(ctl, pg):
    code = ctl.entity()["code"]
    imp = ctl.ok("ropa", "import", str(REAL), "--entity", code)
    assert imp["activities"] == 104
    before = pg.counts()
    r = ctl.run(["file", "--entity", code, "--type", "erasure",
                 "--subject-name", "Anna Neri", "--subject-category",
                 "Cittadini,Marziani"])
    assert r.rc == 65 and "Marziani" in r.out["error"]["message"], r
    assert pg.counts() == before
    rid = ctl.ok("file", "--entity", code, "--type", "rectification",
                 "--subject-name", "Anna Neri", "--subject-category",
                 "Utenti")["id"]
    one = int(pg.sql("SELECT min(a.id) FROM activities a JOIN entities e ON"
                     " e.id = a.entity_id WHERE e.code = '%s'" % code))
    fwd = ctl.ok("forward", rid, "--activity", str(one))
    acts, _ = by_kind(fwd["tasks"])
    assert list(acts) == [one]
    r = ctl.run(["forward", str(rid), "--activity", "x"])
    assert r.rc == 65
