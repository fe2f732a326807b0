"""The socket protocol under abuse (docs/protocol.md, SPEC §10): malformed
JSON, non-requests, batches, unknown methods, oversize lines, pipelining and
notifications, with raw bytes on the socket. After each, the daemon must keep
answering."""

import json
import time

import pytest

from helpers import RawConn, assert_rpc_error, uniq

MIB = 1024 * 1024


@pytest.fixture
def raw(dsrd):
    with RawConn(str(dsrd.socket)) as c:
        yield c


def _ping_ok(c, id=100):
    resp = c.call("ping", id=id)
    assert resp["id"] == id
    assert resp["result"]["database"] == "up"


@pytest.mark.parametrize("line", [
    b'{"jsonrpc":"2.0","id":1,"method":',
    b'{"jsonrpc":"2.0","id":1,"method":"ping"',
    b'{"jsonrpc":"2.0","id":1,"method":"ping"}}',
    b'{"jsonrpc":"2.0","id":1,"method":"ping"} trailing',
    b"{'jsonrpc':'2.0','id':1,'method':'ping'}",
    b"not json at all",
    b'{"jsonrpc":"2.0","id":1,"method":"ping",}',
])
def test_malformed_json(raw, line):
    raw.send(line + b"\n")
    resp = raw.recv()
    assert_rpc_error(resp, -32700)
    assert resp["id"] is None
    _ping_ok(raw)


@pytest.mark.parametrize("msg", [
    b"42", b'"ping"', b"null", b"true", b"[]",
    b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]',
    b'[{"jsonrpc":"2.0","id":1,"method":"ping"},'
    b'{"jsonrpc":"2.0","id":2,"method":"ping"}]',
])
def test_not_an_object(raw, msg):
    raw.send(msg + b"\n")
    resp = raw.recv()
    assert_rpc_error(resp, -32600)
    assert resp["id"] is None
    _ping_ok(raw)


@pytest.mark.parametrize("obj", [
    {"id": 1, "method": "ping"},                          # no jsonrpc
    {"jsonrpc": "1.0", "id": 1, "method": "ping"},
    {"jsonrpc": 2.0, "id": 1, "method": "ping"},
    {"jsonrpc": "2.0", "id": 1},                          # no method
    {"jsonrpc": "2.0", "id": 1, "method": 5},
    {"jsonrpc": "2.0", "id": 1, "method": None},
    {"jsonrpc": "2.0", "id": {"a": 1}, "method": "ping"},  # id not scalar
    {"jsonrpc": "2.0", "id": [1], "method": "ping"},
])
def test_invalid_request(raw, obj):
    raw.send_obj(obj)
    resp = raw.recv()
    assert_rpc_error(resp, -32600)
    _ping_ok(raw)


def test_unknown_method(raw):
    resp = raw.call("request.frobnicate", {}, id=7)
    assert_rpc_error(resp, -32601, id=7)
    assert "request.frobnicate" in resp["error"]["message"]
    resp = raw.call("PING", id=8)
    assert_rpc_error(resp, -32601, id=8)
    _ping_ok(raw)


def test_ids_echoed(raw):
    for id in (0, 1, 2 ** 31, -5, "abc", "", "è unicode"):
        resp = raw.call("ping", id=id)
        assert resp["id"] == id, resp
        assert "result" in resp


def test_null_id_is_answered(raw):
    # "id": null is a request (not a notification) in the eyes of many
    # clients; JSON-RPC discourages it but a response must carry id null.
    raw.send_obj({"jsonrpc": "2.0", "id": None, "method": "ping"})
    resp = raw.recv()
    assert resp["id"] is None


def test_notification_not_answered_but_executed(dsrd, raw, ctl):
    code = uniq("note")
    raw.send_obj({"jsonrpc": "2.0", "method": "ping"})
    raw.send_obj({"jsonrpc": "2.0", "method": "entity.add",
                  "params": {"code": code, "name": "Da notifica"}})
    raw.send_obj({"jsonrpc": "2.0", "method": "no.such.method"})
    raw.send_obj({"jsonrpc": "2.0", "id": 77, "method": "entity.list"})
    resp = raw.recv()
    assert resp["id"] == 77, "a notification was answered: %r" % resp
    codes = [e["code"] for e in resp["result"]["entities"]]
    assert code in codes
    raw.expect_silence(0.3)


def test_pipelined_in_order(raw):
    code = uniq("pipe")
    msgs = [
        {"jsonrpc": "2.0", "id": 1, "method": "entity.add",
         "params": {"code": code, "name": "Pipelined"}},
        {"jsonrpc": "2.0", "id": 2, "method": "ping"},
        {"jsonrpc": "2.0", "id": 3, "method": "nope"},
        {"jsonrpc": "2.0", "id": 4, "method": "request.file",
         "params": {"entity": code, "type": "access",
                    "subject_name": "Uno"}},
        {"jsonrpc": "2.0", "id": 5, "method": "request.file",
         "params": {"entity": code, "type": "erasure",
                    "subject_name": "Due"}},
        {"jsonrpc": "2.0", "id": 6, "method": "request.list",
         "params": {"entity": code}},
    ]
    raw.send(b"".join(json.dumps(m).encode() + b"\n" for m in msgs)
             + b"garbage\n")
    got = [raw.recv() for _ in range(7)]
    assert [r["id"] for r in got] == [1, 2, 3, 4, 5, 6, None]
    assert got[0]["result"]["code"] == code
    assert got[1]["result"]["database"] == "up"
    assert got[2]["error"]["code"] == -32601
    assert got[3]["result"]["subject"]["name"] == "Uno"
    assert got[4]["result"]["subject"]["name"] == "Due"
    assert got[4]["result"]["id"] > got[3]["result"]["id"]
    # the list ran after both files: it sees them
    assert got[5]["result"]["count"] == 2
    assert got[6]["error"]["code"] == -32700


def test_line_split_across_writes(raw):
    msg = b'{"jsonrpc":"2.0","id":12,"method":"ping"}\n'
    for i in range(len(msg)):
        raw.send(msg[i:i + 1])
        if i % 10 == 0:
            time.sleep(0.01)
    resp = raw.recv()
    assert resp["id"] == 12 and "result" in resp


def _sized_ping(size):
    """A valid request of exactly size bytes (LF excluded): ping with an
    unknown padding param, so the answer is -32602 and not too_large."""
    head = b'{"jsonrpc":"2.0","id":21,"method":"ping","params":{"pad":"'
    tail = b'"}}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


def test_exactly_one_mib_is_not_too_large(raw):
    msg = _sized_ping(MIB)
    assert len(msg) == MIB
    assert raw.send(msg + b"\n")
    resp = raw.recv(timeout=20)
    assert_rpc_error(resp, -32602, field="pad", id=21)
    _ping_ok(raw)


@pytest.mark.parametrize("with_newline", [True, False])
def test_over_one_mib_too_large_and_closed(dsrd, ctl, with_newline):
    with RawConn(str(dsrd.socket), timeout=20) as c:
        msg = _sized_ping(MIB + 1)
        c.send(msg + (b"\n" if with_newline else b"a" * 4096))
        resp = c.recv()
        assert_rpc_error(resp, 4)
        c.expect_eof()
    # the daemon goes on, on new connections
    with RawConn(str(dsrd.socket)) as c2:
        _ping_ok(c2)
    assert ctl.ping()["database"] == "up"


def test_huge_stream_without_newline(dsrd):
    # 8 MiB in one go: the daemon must not buffer it all, and must answer.
    with RawConn(str(dsrd.socket), timeout=20) as c:
        c.send(b"{" + b" " * (8 * MIB))
        resp = c.recv()
        assert_rpc_error(resp, 4)
        c.expect_eof()
    with RawConn(str(dsrd.socket)) as c2:
        _ping_ok(c2)


def test_client_hangs_up_mid_request(dsrd, ctl):
    code = uniq("hang")
    for _ in range(20):
        c = RawConn(str(dsrd.socket))
        c.send(b'{"jsonrpc":"2.0","id":1,"method":"entity.add","params":'
               b'{"code":"' + code.encode() + b'","name":"X"}}\n'
               b'{"jsonrpc":"2.0","id":2,"method":"ping"}\n{"jsonrpc"')
        c.close()
    # the first add may or may not have committed; later ones conflicted
    assert ctl.ping()["database"] == "up"
    codes = [e["code"] for e in ctl.ok("entity", "list")["entities"]]
    assert codes.count(code) <= 1


def test_many_connections(dsrd):
    # Fewer than any sensible per-user limit, more than one at a time.
    conns = [RawConn(str(dsrd.socket)) for _ in range(10)]
    try:
        for i, c in enumerate(conns):
            c.send_obj({"jsonrpc": "2.0", "id": i, "method": "ping"})
        for i, c in enumerate(conns):
            resp = c.recv()
            assert resp["id"] == i
    finally:
        for c in conns:
            c.close()


def test_still_alive(dsrd, ctl):
    assert dsrd.alive()
    assert ctl.ping()["database"] == "up"


def test_answers_written_from_rows_are_exact_json(raw, ctl):
    """request.file, show and list write their JSON straight from the
    database rows: text with every character JSON must escape comes back
    exactly, each answer on one line, the ids of any JSON type echoed."""
    body = ctl.entity(name="Comune di Sfruz")["code"]
    name = 'Anna "Nina" D\'Ors\\i \u00e8 \u20ac \U0001F600'
    summary = "riga uno\nriga\tdue\nfine \\n \"q\" </x> \u2028"
    note = "in attesa: \"documento\"\nsecondo rigo\\"
    resp = raw.call("request.file", {"entity": body, "type": "access",
                                     "subject_name": name,
                                     "summary": summary}, id="f\"1\n")
    assert resp["id"] == "f\"1\n", resp
    r = resp["result"]
    assert r["subject"]["name"] == name
    assert r["summary"] == summary
    assert r["created"] is True and isinstance(r["id"], int)
    resp = raw.call("request.await_subject", {"id": r["id"], "note": note},
                    id=7.5)
    assert resp["id"] == 7.5, resp
    for method, params in (("request.show", {"id": r["id"]}),
                           ("request.list", {"entity": body})):
        raw.send_obj({"jsonrpc": "2.0", "id": 3,
                      "method": method, "params": params})
        line = raw.recv_line()
        assert b"\n" not in line and b"\r" not in line
        got = json.loads(line)["result"]
        req = got if method == "request.show" else got["requests"][0]
        if method == "request.list":
            assert got["count"] == 1 and len(got["requests"]) == 1
        else:
            assert [h["note"] for h in got["history"]] == [None, note]
            assert got["tasks"] == [] and got["recipients_informed"] == []
        assert req["id"] == r["id"]
        assert req["subject"] == {"name": name, "tax_code": None,
                                  "email": None}
        assert req["summary"] == summary
        assert req["status"] == "awaiting_subject"
        assert req["extended"] is False and req["overdue"] is False
        assert req["paused_days"] == 0
        assert req["subject_categories"] == []
