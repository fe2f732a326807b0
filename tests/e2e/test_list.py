"""list: soonest due first then by id, and every filter (SPEC §6,
docs/protocol.md request.list). The requests are filed in an order that
differs from their due order, so a list sorted by id would fail."""

import pytest

from helpers import REQUEST_FIELDS, RawConn, d


@pytest.fixture(scope="module")
def world(ctl, today):
    """Two bodies; on L1, in filing order:
    a access   received 2025-01-10  due 2025-02-10 (overdue)
    b erasure  received 2026-01-31  due 2026-03-02 (overdue)
    c access   received today       due ~ today + 1 month
    d rectif.  received 2025-01-10  due 2025-02-10 (ties with a: id order)
    e erasure  received today       due as c
    and on L2 one access request received 2025-06-02."""
    assert today > d("2026-03-02"), "fixture needs a later today"
    l1 = ctl.entity(name="Comune Uno")["code"]
    l2 = ctl.entity(name="Comune Due")["code"]
    r = {}
    r["a"] = ctl.file(l1, type="access", received="2025-01-10")
    r["b"] = ctl.file(l1, type="erasure", received="2026-01-31")
    r["c"] = ctl.file(l1, type="access")
    r["d"] = ctl.file(l1, type="rectification", received="2025-01-10")
    r["e"] = ctl.file(l1, type="erasure")
    r["x"] = ctl.file(l2, type="access", received="2025-06-02")
    return {"l1": l1, "l2": l2, "r": r}


def ids(reqs):
    return [x["id"] for x in reqs]


def test_order_soonest_due_then_id(ctl, world):
    r = world["r"]
    got = ctl.list("--entity", world["l1"])
    assert ids(got) == [r[k]["id"] for k in "adbce"]
    byid = {v["id"]: v for v in r.values()}
    for x in got:
        for f in REQUEST_FIELDS:
            assert x[f] == byid[x["id"]][f], f


def test_list_document(ctl, world):
    doc = ctl.ok("list", "--entity", world["l1"])
    assert set(doc) >= {"requests", "count"}
    assert doc["count"] == 5
    first = doc["requests"][0]
    for f in ("id", "entity", "type", "status", "subject", "received_on",
              "statutory_due_on", "operational_due_on", "due_on",
              "overdue", "created_at"):
        assert f in first, f


def test_unfiltered_is_sorted_and_complete(ctl, world):
    got = ctl.list("--limit", "1000")
    mine = {v["id"] for v in world["r"].values()}
    assert mine <= set(ids(got))
    keys = [(x["due_on"], x["id"]) for x in got if x["closed_on"] is None]
    assert keys == sorted(keys)


def test_filter_entity(ctl, world):
    got = ctl.list("--entity", world["l2"])
    assert ids(got) == [world["r"]["x"]["id"]]


def test_filter_entity_upper_case(ctl, world):
    got = ctl.list("--entity", world["l2"].upper())
    assert ids(got) == [world["r"]["x"]["id"]]


def test_filter_status(ctl, world):
    r = world["r"]
    got = ctl.list("--entity", world["l1"], "--status", "received")
    assert ids(got) == [r[k]["id"] for k in "adbce"]
    for s in ("forwarded", "awaiting_subject", "completed", "rejected",
              "withdrawn"):
        assert ctl.list("--entity", world["l1"], "--status", s) == []


def test_filter_type(ctl, world):
    r = world["r"]
    got = ctl.list("--entity", world["l1"], "--type", "erasure")
    assert ids(got) == [r["b"]["id"], r["e"]["id"]]
    assert ctl.list("--entity", world["l1"], "--type", "portability") == []


def test_filter_overdue(ctl, world):
    r = world["r"]
    got = ctl.list("--entity", world["l1"], "--overdue")
    assert ids(got) == [r["a"]["id"], r["d"]["id"], r["b"]["id"]]
    assert all(x["overdue"] is True for x in got)


def test_filter_due_within(ctl, world, today):
    r = world["r"]
    l1 = world["l1"]
    # due on or before today + 0: the overdue ones
    assert ids(ctl.list("--entity", l1, "--due-within", "0")) == \
        [r["a"]["id"], r["d"]["id"], r["b"]["id"]]
    n = (d(r["c"]["due_on"]) - today).days
    assert n > 0
    assert ids(ctl.list("--entity", l1, "--due-within", str(n))) == \
        [r[k]["id"] for k in "adbce"]
    assert ids(ctl.list("--entity", l1, "--due-within", str(n - 1))) == \
        [r[k]["id"] for k in "adb"]
    assert len(ctl.list("--entity", l1, "--due-within", "3650")) == 5


def test_filter_limit(ctl, world):
    r = world["r"]
    got = ctl.list("--entity", world["l1"], "--limit", "2")
    assert ids(got) == [r["a"]["id"], r["d"]["id"]]
    got = ctl.list("--entity", world["l1"], "--limit", "1")
    assert ids(got) == [r["a"]["id"]]
    got = ctl.list("--entity", world["l1"], "--limit", "1000")
    assert len(got) == 5


def test_closed_after_open_each_soonest_due(ctl, today):
    """Open requests first, then closed ones, each half soonest due first
    (then by id), and the limit cuts the whole list, not each half: the
    closed requests here are due before every open one."""
    assert today > d("2026-03-02"), "test needs a later today"
    body = ctl.entity(name="Comune Tre")["code"]
    r = {}
    for k, received in (("p", "2025-01-10"), ("t", "2026-01-31"),
                        ("q", "2025-03-10"), ("s", None),
                        ("u", "2025-02-01"), ("v", "2025-01-10")):
        r[k] = ctl.file(body, **({"received": received} if received else {}))
    for k in "pquv":
        assert ctl.ok("withdraw", str(r[k]["id"]))["status"] == "withdrawn"
    order = [r[k]["id"] for k in "tspvuq"]
    assert ids(ctl.list("--entity", body)) == order
    for n in range(1, 7):
        assert ids(ctl.list("--entity", body, "--limit", str(n))) == \
            order[:n], n
    assert ids(ctl.list("--entity", body, "--status", "withdrawn")) == \
        order[2:]
    assert ids(ctl.list("--entity", body, "--status", "withdrawn",
                        "--limit", "2")) == order[2:4]
    assert ids(ctl.list("--entity", body, "--overdue")) == [r["t"]["id"]]
    assert ids(ctl.list("--entity", body, "--type", "access",
                        "--limit", "3")) == order[:3]
    # every body: no closed request before an open one, each half sorted
    got = ctl.list("--limit", "1000")
    closed = [x["closed_on"] is not None for x in got]
    assert closed == sorted(closed) and any(closed)
    for half in (False, True):
        keys = [(x["due_on"], x["id"]) for x, c in zip(got, closed)
                if c == half]
        assert keys == sorted(keys)


def test_default_limit_is_100(dsrd, ctl, world):
    body = ctl.entity()["code"]
    with RawConn(str(dsrd.socket)) as c:
        for i in range(101):
            resp = c.call("request.file", {
                "entity": body, "type": "access",
                "subject_name": "Persona %d" % i,
                "received_on": "2026-01-05"}, id=i)
            assert resp["id"] == i and "result" in resp, resp
    assert len(ctl.list("--entity", body)) == 100
    assert len(ctl.list("--entity", body, "--limit", "101")) == 101


def test_filters_combined(ctl, world):
    r = world["r"]
    got = ctl.list("--entity", world["l1"], "--type", "access", "--overdue")
    assert ids(got) == [r["a"]["id"]]
    got = ctl.list("--entity", world["l1"], "--type", "access",
                   "--status", "received", "--limit", "1")
    assert ids(got) == [r["a"]["id"]]


@pytest.mark.parametrize("args,field", [
    (["--status", "open"], "status"),
    (["--status", "RECEIVED"], "status"),
    (["--type", "deletion"], "type"),
    (["--limit", "0"], "limit"),
    (["--limit", "1001"], "limit"),
    (["--due-within", "3651"], "due_within"),
])
def test_bad_filters(ctl, world, args, field):
    ctl.fail(["list"] + args, 65, code=-32602, field=field)


def test_unknown_entity(ctl, world):
    ctl.fail(["list", "--entity", "no-such-body"], 1, code=1)
