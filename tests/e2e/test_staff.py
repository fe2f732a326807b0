"""A body's staff directory (SPEC §8: `staff add|list`) and what it means for
the staff role (SPEC §2: staff "see and work the requests of their body"):
a Unix user named in a body's directory sees that body's requests and no
other's, as if the others did not exist."""

import os

import pytest

from conftest import as_user



def test_staff_add_and_list(ctl, pg):
    body = ctl.entity()["code"]
    a = ctl.ok("staff", "add", "Rossi Moreno", "--entity", body, "--email",
               "m.rossi@comune.example.it", "--office",
               "Servizio Tariffa Igiene Ambientale", "--user", "mrossi")
    assert (a["name"], a["entity"], a["email"], a["office"], a["user"]) == (
        "Rossi Moreno", body, "m.rossi@comune.example.it",
        "Servizio Tariffa Igiene Ambientale", "mrossi")
    b = ctl.ok("staff", "add", "Zanella Paolo", "--entity", body,
               "--office", "Servizio Istruzione")
    assert b["email"] is None and b["user"] is None
    c = ctl.ok("staff", "add", "Zanon Ivan", "--entity", body, "--office",
               "Servizio Istruzione")
    names = [s["name"] for s in ctl.ok("staff", "list", "--entity",
                                          body)["staff"]]
    assert names == ["Rossi Moreno", "Zanella Paolo", "Zanon Ivan"]
    inst = ctl.ok("staff", "list", "--entity", body, "--office",
                  "Servizio Istruzione")
    assert [s["id"] for s in inst["staff"]] == [b["id"], c["id"]]
    assert inst["count"] == 2
    # one office row, shared
    assert pg.sql("SELECT count(*) FROM offices o JOIN entities e ON "
                  "e.id = o.entity_id WHERE e.code = '%s'" % body) == "2"


@pytest.mark.parametrize("args,rc,field", [
    (["Rossi Moreno"], 1, None),                    # unknown body (below)
    (["", "--email", "x@y.it"], 65, "name"),
    (["Bianchi Anna", "--email", "not-an-address"], 65, "email"),
    (["Bianchi Anna", "--user", "-rf"], 65, "user"),
    (["Bianchi Anna", "--user", "a b"], 65, "user"),
    (["x" * 201], 65, "name"),
])
def test_staff_add_refused(ctl, pg, args, rc, field):
    body = ctl.entity()["code"]
    ctl.ok("staff", "add", "Rossi Moreno", "--entity", body)
    before = pg.sql("SELECT count(*) FROM staff")
    entity = "no-such-body" if rc == 1 else body
    ctl.fail(["staff", "add"] + args[:1] + ["--entity", entity] + args[1:],
             rc if rc != 1 else 1, field=field)
    assert pg.sql("SELECT count(*) FROM staff") == before


def test_staff_name_taken(ctl):
    body = ctl.entity()["code"]
    ctl.ok("staff", "add", "Rossi Moreno", "--entity", body)
    ctl.fail(["staff", "add", "Rossi Moreno", "--entity", body], 65, code=3)


def test_staff_role_sees_its_own_body_only(daemons, unix_user, dsrctl_bin):
    dd = daemons("scope", overrides={"daemon": {"socket_mode": "0666"},
                                     "access": {"staff": unix_user}})
    os.chmod(os.path.dirname(str(dd.socket)), 0o755)
    ctl = dd.ctl
    mine = ctl.entity()["code"]
    other = ctl.entity()["code"]
    ctl.ok("staff", "add", "Rossi Moreno", "--entity", mine, "--user",
           unix_user)
    a = ctl.file(mine, type="erasure")["id"]
    b = ctl.file(other, type="erasure")["id"]
    ctl.ok("forward", a)
    ctl.ok("forward", b)
    rc, doc = as_user(dd, dsrctl_bin, unix_user, "list")
    assert rc == 0
    ids = [r["id"] for r in doc["requests"]]
    assert a in ids and b not in ids
    assert as_user(dd, dsrctl_bin, unix_user, "show", a)[0] == 0
    rc, doc = as_user(dd, dsrctl_bin, unix_user, "show", b)
    assert rc == 1 and doc["error"]["code"] == 1
    assert as_user(dd, dsrctl_bin, unix_user, "history", b)[0] == 1
    rc, doc = as_user(dd, dsrctl_bin, unix_user, "complete", b)
    assert rc == 1, doc
    assert ctl.ok("show", b)["status"] == "forwarded"
    rc, doc = as_user(dd, dsrctl_bin, unix_user, "complete", a, "--note", "fatto")
    assert rc == 0 and doc["status"] == "completed"
    hist = ctl.ok("history", a)["events"]
    assert (hist[-1]["actor"], hist[-1]["role"]) == (unix_user, "staff")
