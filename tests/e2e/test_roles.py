"""Roles from the kernel's peer credentials (SPEC §2, §3; docs/protocol.md):
real Unix users, created for the session and removed after it, run the real
dsrctl with runuser against a daemon whose [access] section names them. A
user with no role is refused at connect; each role may call exactly what
SPEC's tables say and is refused the rest with exit 77 and a message that
names the role needed; a refusal changes nothing; the operator never sees a
data subject's personal data; @group membership counts; the audit trail
records who acted, with which uid and role; root is admin.
"""

import grp
import json as jsonlib
import os
import pwd
import subprocess
import time

import pytest

import helpers
from conftest import CtlResult, _env, sanitizer_errors

DPO_MAIL = "dpo@consorzio.example.it"
STAFF_MAIL = "protocollo@comune.example.it"
# A run's own names, so two runs on one machine never share a user.
TAG = "dsrt%x" % (os.getpid() & 0xfffff)
GROUP = TAG + "_grp"
USERS = {                       # key: (user name, supplementary group)
    "clerk": (TAG + "_clerk", None),
    "dpo": (TAG + "_dpo", None),
    "staff": (TAG + "_staff", None),
    "operator": (TAG + "_oper", None),
    "none": (TAG + "_none", None),
    "member": (TAG + "_member", GROUP),     # clerk through @GROUP
}
ROOT = pwd.getpwuid(0).pw_name

# A data subject no operator output may ever mention.
SECRET_NAME = "Ermenegilda Zuccolotto"
SECRET_CF = helpers.cf("ZCCRNG70A41L378")
SECRET_MAIL = "ermenegilda.zuccolotto@example.org"
SECRET_SUMMARY = "cartella clinica del figlio"
SECRETS = (SECRET_NAME, "Zuccolotto", SECRET_CF, SECRET_MAIL,
           SECRET_SUMMARY)


def _tool(args, tries=20):
    """useradd & co., retried while another process holds /etc/passwd's
    lock."""
    for _ in range(tries):
        p = subprocess.run(args, capture_output=True, text=True, timeout=30)
        if p.returncode == 0:
            return
        if "lock" not in p.stderr:
            break
        time.sleep(0.2)
    raise AssertionError("%r: exit %d: %s" % (args, p.returncode, p.stderr))


@pytest.fixture(scope="session")
def users():
    """{key: (name, uid)} of throwaway system users (no home, no shell),
    deleted with their group at the end whatever happens."""
    if os.geteuid() != 0:
        pytest.skip("needs root to create users")
    made, group = [], False
    try:
        _tool(["groupadd", "-r", GROUP])
        group = True
        out = {}
        for key, (name, sup) in USERS.items():
            args = ["useradd", "-r", "-M", "-s", "/usr/sbin/nologin"]
            if sup:
                args += ["-G", sup]
            _tool(args + [name])
            made.append(name)
            out[key] = (name, pwd.getpwnam(name).pw_uid)
        yield out
    finally:
        for name in made:
            _tool(["userdel", name])
        if group:
            _tool(["groupdel", GROUP])


def access(users):
    return {"dpo": users["dpo"][0], "clerk": users["clerk"][0] + ", @"
            + GROUP, "staff": users["staff"][0],
            "operator": users["operator"][0]}


@pytest.fixture(scope="module")
def dsrd(daemons, users):
    dd = daemons("roles", overrides={
        "daemon": {"socket_mode": "0666"},
        "access": access(users),
        "dpo": {"email": DPO_MAIL}}, start=False)
    dd.dir.chmod(0o755)
    return dd.start()


@pytest.fixture(scope="module")
def body(ctl, users):
    """The body whose staff directory names the staff user (staff sees
    and works its own body's requests only)."""
    code = ctl.entity(email=STAFF_MAIL)["code"]
    ctl.ok("staff", "add", "Moreno Rossi", "--entity", code, "--user",
           users["staff"][0])
    return code


class As:
    """dsrctl run as one Unix user (runuser), JSON or human output."""

    def __init__(self, dd, bin, name, uid):
        self.dd, self.bin, self.name, self.uid = dd, bin, name, uid

    def run(self, *args, json=True):
        cmd = ["runuser", "-u", self.name, "--", self.bin, "--socket",
               str(self.dd.socket)]
        if json:
            cmd.append("--json")
        cmd += [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, timeout=30, env=_env())
        out = p.stdout.decode("utf-8")
        err = p.stderr.decode("utf-8", "replace")
        assert not sanitizer_errors(err), "%r: %s" % (cmd, err)
        if json:
            try:
                out = jsonlib.loads(out)
            except ValueError:
                raise AssertionError("%r: stdout is not JSON (exit %d): %r "
                                     "%s" % (cmd, p.returncode, out, err))
        return CtlResult(p.returncode, out, err)

    def ok(self, *args):
        r = self.run(*args)
        assert r.rc == 0, "%s: dsrctl %r: exit %d %r %s" % (
            self.name, args, r.rc, r.out, r.err)
        return r.out

    def denied(self, *args, need=None, role=None):
        """Exit 77, error code 6; the message says permission denied, names
        the role needed (need) and the caller's own (role)."""
        r = self.run(*args)
        assert r.rc == 77, "%s: dsrctl %r: expected 77, got %d %r %s" % (
            self.name, args, r.rc, r.out, r.err)
        assert set(r.out) == {"error"}, r.out
        err = r.out["error"]
        assert err["code"] == 6, r.out
        msg = err["message"]
        assert msg.startswith("permission denied"), msg
        if need is not None:
            assert "needs the role " + need in msg, msg
        if role is not None:
            assert "(you are %s)" % role in msg, msg
        return msg


@pytest.fixture(scope="module")
def who(dsrd, users, dsrctl_bin):
    return {k: As(dsrd, dsrctl_bin, n, u) for k, (n, u) in users.items()}


def history(ctl, rid):
    return [(e["action"], e["actor"], e["uid"], e["role"])
            for e in ctl.ok("history", rid)["events"]]


# ---------------------------------------------------------------- no role

def test_user_without_role_is_refused_at_connect(dsrd, ctl, pg, body, who,
                                                 users):
    nobody = who["none"]
    before = pg.counts()
    for args in (("ping",), ("entity", "list"), ("list",),
                 ("file", "--entity", body, "--type", "access",
                  "--subject-name", "Mario Rossi")):
        msg = nobody.denied(*args)
        assert "no role" in msg and "[access]" in msg, msg
    # For people: one clear line on stderr, nothing on stdout.
    r = nobody.run("ping", json=False)
    assert r.rc == 77 and r.out == "", r
    assert r.err.startswith("dsrctl: permission denied") and \
        "no role" in r.err and r.err.count("\n") == 1, r.err
    assert pg.counts() == before
    line = "refused connection from uid %d (%s): no role in [access]" % (
        users["none"][1], users["none"][0])
    helpers.wait_until(lambda: line in dsrd.log_text(), 5,
                       what="the refusal in the log")
    assert ctl.ping()["database"] == "up"


# ---------------------------------------------------------------- clerk

def test_clerk(ctl, pg, body, who, users):
    clerk, dpo = who["clerk"], who["dpo"]
    name, uid = users["clerk"]
    r = clerk.ok("file", "--entity", body, "--type", "erasure",
                 "--subject-name", "Anna Verdi")
    rid = r["id"]
    assert r["status"] == "received" and r["created"] is True
    assert clerk.ok("show", rid)["subject"]["name"] == "Anna Verdi"
    assert rid in [x["id"] for x in clerk.ok("list", "--entity",
                                             body)["requests"]]
    assert clerk.ok("await-subject", rid, "--note",
                    "documento d'identità")["status"] == "awaiting_subject"
    assert clerk.ok("resume", rid)["status"] == "received"

    # What only the DPO (or admin) may do: refused, and nothing changes.
    shown = clerk.ok("show", rid)
    n_audit, n_outbox = pg.count("audit_events"), pg.count("outbox")
    for args in (("forward", rid), ("extend", rid, "--reason", "molti dati"),
                 ("reject", rid, "--reason", "excessive")):
        clerk.denied(*args, need="dpo, admin", role="clerk")
    clerk.denied("entity", "add", helpers.uniq("c"), "--name", "X",
                 need="dpo, admin", role="clerk")
    clerk.denied("audit", "verify", need="dpo, admin", role="clerk")
    clerk.denied("outbox", "list", need="operator, dpo, admin",
                 role="clerk")
    after = clerk.ok("show", rid)
    assert after["status"] == shown["status"] == "received"
    assert after["history"] == shown["history"]
    assert pg.count("audit_events") == n_audit
    assert pg.count("outbox") == n_outbox

    # Human output of a refusal: one line naming the role needed.
    r = clerk.run("forward", rid, json=False)
    assert r.rc == 77 and r.out == ""
    assert r.err == ("dsrctl: permission denied: forward needs the role "
                     "dpo, admin (you are clerk)\n"), r.err

    # complete needs a forwarded request: the DPO forwards, the clerk
    # completes.
    dpo.ok("forward", rid)
    assert clerk.ok("complete", rid, "--note", "fatto")["status"] == \
        "completed"
    w = clerk.ok("file", "--entity", body, "--type", "access",
                 "--subject-name", "Bruno Neri")["id"]
    assert clerk.ok("withdraw", w)["status"] == "withdrawn"

    dname = users["dpo"][0]
    assert history(ctl, rid) == [
        ("file", name, uid, "clerk"),
        ("await_subject", name, uid, "clerk"),
        ("resume", name, uid, "clerk"),
        ("forward", dname, users["dpo"][1], "dpo"),
        ("complete", name, uid, "clerk")]
    assert history(ctl, w) == [("file", name, uid, "clerk"),
                               ("withdraw", name, uid, "clerk")]


# ---------------------------------------------------------------- dpo

def test_dpo_may_everything(ctl, pg, who, users):
    dpo = who["dpo"]
    name, uid = users["dpo"]
    code = helpers.uniq("d")
    assert dpo.ok("entity", "add", code, "--name", "Comune del DPO",
                  "--email", STAFF_MAIL)["code"] == code
    assert code in [e["code"] for e in dpo.ok("entity", "list")["entities"]]
    a = dpo.ok("file", "--entity", code, "--type", "rectification",
               "--subject-name", "Carla Bianchi")["id"]
    assert dpo.ok("await-subject", a, "--note", "quale dato?")["status"] == \
        "awaiting_subject"
    assert dpo.ok("resume", a)["status"] == "received"
    assert dpo.ok("extend", a, "--reason", "molti archivi")["extended"]
    assert dpo.ok("forward", a)["status"] == "forwarded"
    assert dpo.ok("complete", a)["status"] == "completed"
    b = dpo.ok("file", "--entity", code, "--type", "access",
               "--subject-name", "Dario Gialli")["id"]
    assert dpo.ok("reject", b, "--reason", "identity_not_verified")[
        "status"] == "rejected"
    c = dpo.ok("file", "--entity", code, "--type", "access",
               "--subject-name", "Elena Blu")["id"]
    assert dpo.ok("withdraw", c)["status"] == "withdrawn"
    assert dpo.ok("show", a)["id"] == a
    assert len(dpo.ok("list", "--entity", code)["requests"]) == 3
    assert dpo.ok("audit", "verify")["ok"] is True
    assert dpo.ok("outbox", "list")["count"] >= 1
    assert dpo.ok("stats", "--entity", code)["by_status"]["completed"] == 1
    assert dpo.ok("ping")["database"] == "up"
    # outbox retry: allowed to the DPO (not found is not a refusal).
    r = dpo.run("outbox", "retry", 999999999)
    assert r.rc == 1, r
    assert {(e[0], e[1], e[2], e[3]) for e in history(ctl, a)} == {
        (act, name, uid, "dpo") for act in ("file", "await_subject",
                                            "resume", "extend", "forward",
                                            "complete")}


# ---------------------------------------------------------------- staff

def test_staff(ctl, pg, body, who, users):
    staff, dpo = who["staff"], who["dpo"]
    name, uid = users["staff"]
    rid = ctl.file(body, type="erasure", name="Franca Rosa")["id"]
    assert staff.ok("show", rid)["subject"]["name"] == "Franca Rosa"
    assert rid in [x["id"] for x in staff.ok("list")["requests"]]
    assert staff.ok("history", rid)["id"] == rid

    n_req, n_audit = pg.count("requests"), pg.count("audit_events")
    staff.denied("file", "--entity", body, "--type", "access",
                 "--subject-name", "Gino Viola", need="clerk, dpo, admin",
                 role="staff")
    staff.denied("forward", rid, need="dpo, admin", role="staff")
    staff.denied("extend", rid, "--reason", "x", need="dpo, admin",
                 role="staff")
    staff.denied("reject", rid, "--reason", "excessive", need="dpo, admin",
                 role="staff")
    staff.denied("await-subject", rid, "--note", "x",
                 need="clerk, dpo, admin", role="staff")
    staff.denied("withdraw", rid, need="clerk, dpo, admin", role="staff")
    staff.denied("entity", "add", helpers.uniq("s"), "--name", "X",
                 need="dpo, admin", role="staff")
    staff.denied("audit", "verify", role="staff")
    staff.denied("outbox", "list", role="staff")
    assert pg.count("requests") == n_req
    assert pg.count("audit_events") == n_audit
    assert ctl.ok("show", rid)["status"] == "received"

    dpo.ok("forward", rid)
    assert staff.ok("complete", rid, "--note", "cancellati")["status"] == \
        "completed"
    assert history(ctl, rid)[-1] == ("complete", name, uid, "staff")


# ---------------------------------------------------------------- operator

def test_operator_sees_no_personal_data(ctl, pg, body, who):
    op = who["operator"]
    # Requests with personal data everywhere a request can carry it, and
    # their notifications queued (a DPO and a staff address).
    r = ctl.file(body, type="erasure", name=SECRET_NAME,
                 subject_tax_code=SECRET_CF, subject_email=SECRET_MAIL,
                 summary=SECRET_SUMMARY, protocol="prot. 1234/2026")
    ctl.ok("forward", r["id"])
    ctl.file(body, type="access", name=SECRET_NAME,
             subject_email=SECRET_MAIL, summary=SECRET_SUMMARY)
    item = ctl.ok("outbox", "list")["items"][0]

    seen = []       # every byte the operator got back

    def keep(res):
        seen.append(res.out if isinstance(res.out, str)
                    else jsonlib.dumps(res.out, ensure_ascii=False))
        seen.append(res.err)
        return res

    for json in (True, False):
        for args in (("ping",), ("stats",), ("stats", "--entity", body),
                     ("entity", "list"),
                     ("outbox", "list", "--state", "pending,sending,dead,sent"),
                     ("outbox", "list")):
            res = keep(op.run(*args, json=json))
            assert res.rc == 0, (args, res)
        doc = op.ok("outbox", "list", "--state", "pending,sending,dead,sent")
        assert doc["count"] >= 3 and any(
            i["request_id"] == r["id"] for i in doc["items"]), doc
        # Allowed to the operator; this item is not dead, so the answer is
        # an error, which must not leak anything either.
        keep(op.run("outbox", "retry", item["id"], json=json))
        for args in (("show", r["id"]), ("list",), ("history", r["id"]),
                     ("list", "--entity", body),
                     ("file", "--entity", body, "--type", "access",
                      "--subject-name", SECRET_NAME),
                     ("forward", r["id"]), ("complete", r["id"]),
                     ("audit", "verify")):
            res = keep(op.run(*args, json=json))
            assert res.rc == 77, (args, res)
            if json:
                assert res.out["error"]["code"] == 6, res
                assert "(you are operator)" in res.out["error"]["message"]
    text = "\n".join(seen)
    assert "prot. 1234/2026" not in text
    for s in SECRETS:
        assert s.lower() not in text.lower(), "operator saw %r" % s
    assert ctl.ok("show", r["id"])["status"] == "forwarded"


# ---------------------------------------------------------------- @group

def test_group_membership_gives_the_role(ctl, body, who, users):
    member = who["member"]
    name, uid = users["member"]
    assert GROUP in [g.gr_name for g in grp.getgrall()
                     if name in g.gr_mem]
    rid = member.ok("file", "--entity", body, "--type", "access",
                    "--subject-name", "Ivo Grigi")["id"]
    assert member.ok("await-subject", rid, "--note", "x")["status"] == \
        "awaiting_subject"
    member.denied("forward", rid, need="dpo, admin", role="clerk")
    assert history(ctl, rid) == [("file", name, uid, "clerk"),
                                 ("await_subject", name, uid, "clerk")]


# ---------------------------------------------------------------- audit trail

def test_audit_trail_records_user_uid_and_role(ctl, pg, body, who, users):
    clerk, dpo, staff = who["clerk"], who["dpo"], who["staff"]
    rid = clerk.ok("file", "--entity", body, "--type", "rectification",
                   "--subject-name", "Luca Marrone")["id"]
    dpo.ok("extend", rid, "--reason", "archivi storici")
    dpo.ok("forward", rid)
    staff.ok("complete", rid)
    want = [("file", users["clerk"]), ("extend", users["dpo"]),
            ("forward", users["dpo"]), ("complete", users["staff"])]
    roles = {"file": "clerk", "extend": "dpo", "forward": "dpo",
             "complete": "staff"}
    assert history(ctl, rid) == [(a, n, u, roles[a]) for a, (n, u) in want]
    # The same in the table the hash chain covers.
    rows = pg.sql("SELECT action, actor, actor_uid, actor_role FROM "
                  "audit_events WHERE request_id = %d ORDER BY seq" % rid)
    assert [tuple(x.split("|")) for x in rows.splitlines()] == [
        (a, n, str(u), roles[a]) for a, (n, u) in want]
    # What dpo (and staff, clerk) see in show is the same trail.
    assert [(e["action"], e["actor"]) for e in dpo.ok("show", rid)[
        "history"]] == [(a, n) for a, (n, _) in want]
    assert dpo.ok("audit", "verify")["ok"] is True


# ---------------------------------------------------------------- root

def test_root_is_admin(ctl, pg):
    code = ctl.entity(email=STAFF_MAIL)["code"]
    a = ctl.file(code, type="erasure")["id"]
    ctl.ok("await-subject", a, "--note", "x")
    ctl.ok("resume", a)
    ctl.ok("extend", a, "--reason", "r")
    ctl.ok("forward", a)
    ctl.ok("complete", a)
    b = ctl.file(code)["id"]
    ctl.ok("reject", b, "--reason", "other", "--note", "n")
    ctl.ok("audit", "verify")
    ctl.ok("outbox", "list")
    assert {h[1:] for h in history(ctl, a) + history(ctl, b)} == {
        (ROOT, 0, "admin")}


# ---------------------------------------------------------------- reload

def test_access_reloaded_on_sighup(daemons, users, dsrctl_bin):
    """[access] is re-read on SIGHUP: a user given a role can connect
    without a restart; one named in two lists gets the more powerful."""
    dd = daemons("roles-hup", overrides={
        "daemon": {"socket_mode": "0666"}, "access": access(users)},
        start=False)
    dd.dir.chmod(0o755)
    dd.start()
    u = As(dd, dsrctl_bin, *users["none"])
    u.denied("ping")
    acc = access(users)
    acc["operator"] += ", " + u.name
    acc["clerk"] += ", " + u.name
    dd.write_config({"daemon": {"socket_mode": "0666"}, "access": acc})
    dd.hup()
    helpers.wait_until(lambda: u.run("ping").rc == 0, 10,
                       what="the new [access] after SIGHUP")
    code = dd.ctl.entity()["code"]
    rid = u.ok("file", "--entity", code, "--type", "access",
               "--subject-name", "Nora Ocra")["id"]
    assert history(dd.ctl, rid) == [("file", u.name, u.uid, "clerk")]
