"""SPEC §10 for filing and showing: every bad input gets its exit code and an
error naming the field, and nothing is written (row counts of entities,
requests and audit_events unchanged). Through dsrctl, and through the raw
socket for what dsrctl cannot send (wrong JSON types, unknown params)."""

import pytest

from helpers import CF_VALID, RawConn, assert_rpc_error, cf, omocodic, uniq


@pytest.fixture(scope="module")
def body(ctl):
    return ctl.entity()["code"]


def _file_args(body, **over):
    base = {"entity": body, "type": "access", "subject_name": "Mario Rossi"}
    base.update(over)
    args = ["file"]
    for k, v in base.items():
        if v is not None:
            args += ["--" + k.replace("_", "-")
                     .replace("received-on", "received"), v]
    return args


def _bad_cf_month():
    s = list(CF_VALID[:15])
    s[8] = "F"                      # not one of ABCDEHLMPRST
    return cf("".join(s))


def _bad_cf_day():
    s = list(CF_VALID[:15])
    s[9:11] = "32"
    return cf("".join(s))


def _wrong_check():
    c = CF_VALID[15]
    return CF_VALID[:15] + ("A" if c != "A" else "B")


BAD = [
    # (override, field)
    ({"type": "deletion"}, "type"),
    ({"type": ""}, "type"),
    ({"channel": "fax"}, "channel"),
    ({"received_on": "2026-02-30"}, "received_on"),
    ({"received_on": "2026-13-01"}, "received_on"),
    ({"received_on": "2026-00-10"}, "received_on"),
    ({"received_on": "yesterday"}, "received_on"),
    ({"received_on": "2026-1-5"}, "received_on"),
    ({"received_on": "2026-01-05x"}, "received_on"),
    ({"received_on": "05/01/2026"}, "received_on"),
    ({"received_on": "2025-02-29"}, "received_on"),
    ({"subject_tax_code": _wrong_check()}, "subject_tax_code"),
    ({"subject_tax_code": CF_VALID[:15]}, "subject_tax_code"),
    ({"subject_tax_code": CF_VALID + "X"}, "subject_tax_code"),
    ({"subject_tax_code": _bad_cf_month()}, "subject_tax_code"),
    ({"subject_tax_code": _bad_cf_day()}, "subject_tax_code"),
    ({"subject_tax_code": "RSSMRA85T10H50!X"}, "subject_tax_code"),
    ({"subject_tax_code": omocodic(CF_VALID, 1)[:15] + "A"
      if omocodic(CF_VALID, 1)[15] != "A" else
      omocodic(CF_VALID, 1)[:15] + "B"}, "subject_tax_code"),
    ({"subject_email": "mario"}, "subject_email"),
    ({"subject_email": "mario@localhost"}, "subject_email"),
    ({"subject_email": "mario@@example.it"}, "subject_email"),
    ({"subject_email": "@example.it"}, "subject_email"),
    ({"subject_email": "mario rossi@example.it"}, "subject_email"),
    ({"subject_email": "mario@example..it"}, "subject_email"),
    ({"subject_email": "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "."
      + "d" * 59 + ".it"}, "subject_email"),     # 255 characters
    ({"subject_name": "x" * 201}, "subject_name"),
    ({"subject_name": "é" * 201}, "subject_name"),
    ({"subject_name": ""}, "subject_name"),
    ({"subject_name": "Mario\x01Rossi"}, "subject_name"),
    ({"subject_name": "Mario\x1b[31mRossi"}, "subject_name"),
    ({"subject_name": "Mario\nRossi"}, "subject_name"),
    ({"subject_name": "Mario\x7fRossi"}, "subject_name"),
    ({"subject_name": "Mario\u009bRossi"}, "subject_name"),
    ({"protocol": "p" * 101}, "protocol"),
    ({"protocol": "a\nb"}, "protocol"),
    ({"summary": "s" * 2001}, "summary"),
    ({"summary": "bell\x07"}, "summary"),
    ({"idempotency_key": "k" * 201}, "idempotency_key"),
]


@pytest.mark.parametrize("over,field", BAD,
                         ids=["%s-%d" % (f, i) for i, (o, f) in
                              enumerate(BAD)])
def test_file_refused(ctl, body, unchanged, over, field):
    ctl.fail(_file_args(body, **over), 65, code=-32602, field=field)


def test_unknown_body(ctl, unchanged):
    err = ctl.fail(_file_args("no-such-body"), 1, code=1)
    assert "entity" in err["message"] or "body" in err["message"]


def test_show_missing_and_bad_ids(ctl, unchanged):
    ctl.fail(["show", "2147483000"], 1, code=1)
    ctl.fail(["show", "abc"], 64)
    ctl.fail(["show", "12abc"], 64)
    ctl.fail(["show", ""], 64)


# ---------------------------------------------------------------- raw socket

@pytest.fixture
def raw(dsrd):
    with RawConn(str(dsrd.socket)) as c:
        yield c


def _file_params(body, **over):
    p = {"entity": body, "type": "access", "subject_name": "Mario Rossi"}
    p.update(over)
    return {k: v for k, v in p.items() if v is not ...}


RAW_BAD = [
    ("request.file", {"type": 5}, "type"),
    ("request.file", {"type": None}, "type"),
    ("request.file", {"subject_name": ...}, "subject_name"),
    ("request.file", {"subject_name": None}, "subject_name"),
    ("request.file", {"subject_name": ["Mario"]}, "subject_name"),
    ("request.file", {"entity": 7}, "entity"),
    ("request.file", {"entity": ...}, "entity"),
    ("request.file", {"received_on": 20260105}, "received_on"),
    ("request.file", {"subject_tax_code": True}, "subject_tax_code"),
    ("request.file", {"summary": {"text": "x"}}, "summary"),
    ("request.file", {"subject_nmae": "Mario Rossi"}, "subject_nmae"),
    ("request.file", {"idempotency_key": ""}, "idempotency_key"),
    ("request.file", {"idempotency_key": 12}, "idempotency_key"),
]


@pytest.mark.parametrize("method,over,field", RAW_BAD,
                         ids=["%s-%d" % (f, i) for i, (m, o, f) in
                              enumerate(RAW_BAD)])
def test_raw_file_wrong_types(raw, body, unchanged, method, over, field):
    resp = raw.call(method, _file_params(body, **over), id=41)
    assert_rpc_error(resp, -32602, field=field, id=41)


SHOW_BAD = [{"id": "abc"}, {"id": "1"}, {"id": 1.5}, {"id": None},
            {"id": True}, {}, {"id": 1, "verbose": True}]


@pytest.mark.parametrize("params", SHOW_BAD, ids=[str(p) for p in SHOW_BAD])
def test_raw_show_wrong_types(raw, params):
    resp = raw.call("request.show", params, id="s1")
    field = "verbose" if "verbose" in params else "id"
    assert_rpc_error(resp, -32602, field=field, id="s1")


LIST_BAD = [
    ({"overdue": "yes"}, "overdue"),
    ({"limit": 0}, "limit"),
    ({"limit": 1001}, "limit"),
    ({"limit": "10"}, "limit"),
    ({"limit": 2.5}, "limit"),
    ({"due_within": -1}, "due_within"),
    ({"due_within": 3651}, "due_within"),
    ({"status": "open"}, "status"),
    ({"type": "deletion"}, "type"),
    ({"entity": 3}, "entity"),
    ({"sort": "id"}, "sort"),
]


@pytest.mark.parametrize("params,field", LIST_BAD,
                         ids=[f + str(i) for i, (p, f) in
                              enumerate(LIST_BAD)])
def test_raw_list_wrong_types(raw, params, field):
    resp = raw.call("request.list", params, id=9)
    assert_rpc_error(resp, -32602, field=field, id=9)


ENTITY_BAD = [
    ({"holidays": ["06-26"]}, "holidays"),
    ({"name": 5}, "name"),
    ({"code": None}, "code"),
    ({"email": ["a@b.it"]}, "email"),
    ({"patron": "San Vigilio"}, "patron"),
]


@pytest.mark.parametrize("over,field", ENTITY_BAD,
                         ids=[f + str(i) for i, (o, f) in
                              enumerate(ENTITY_BAD)])
def test_raw_entity_wrong_types(raw, unchanged, over, field):
    params = {"code": uniq("raw"), "name": "Comune"}
    params.update(over)
    resp = raw.call("entity.add", params, id=3)
    assert_rpc_error(resp, -32602, field=field, id=3)


def test_raw_ping_refuses_params(raw):
    assert_rpc_error(raw.call("ping", {"verbose": 1}, id=1), -32602,
                     field="verbose")
    assert "result" in raw.call("ping", {}, id=2)
    assert "result" in raw.call("ping", None, id=3)


@pytest.mark.parametrize("params", [[], ["x"], "x", 5, True])
def test_raw_params_not_an_object(raw, unchanged, params):
    raw.send_obj({"jsonrpc": "2.0", "id": 5, "method": "entity.list",
                  "params": params})
    resp = raw.recv()
    assert "error" in resp, resp
    assert resp["error"]["code"] in (-32602, -32600), resp
    assert resp["id"] == 5
    # and the connection goes on
    assert "result" in raw.call("ping", id=6)


def test_raw_invalid_utf8_refused(raw, unchanged):
    code = uniq("utf")
    line = ('{"jsonrpc":"2.0","id":8,"method":"entity.add","params":'
            '{"code":"%s","name":"Comune di \xff"}}\n' % code)
    raw.send(line.encode("latin-1"))
    resp = raw.recv()
    assert "error" in resp, resp
    assert resp["error"]["code"] in (-32700, -32602), resp
    assert "result" in raw.call("ping", id=9)


def test_raw_show_huge_id_not_found_or_invalid(raw):
    resp = raw.call("request.show", {"id": 2 ** 63}, id=1)
    assert "error" in resp
    assert resp["error"]["code"] in (1, -32602), resp
    resp = raw.call("request.show", {"id": -1}, id=2)
    assert resp["error"]["code"] in (1, -32602), resp
