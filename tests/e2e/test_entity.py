"""entity add / entity list: the bodies (controllers). What is stored and
returned, the normalisations, and that refused input writes nothing."""

import datetime as dt

import pytest

from helpers import ENTITY_FIELDS, RFC3339_UTC, uniq


def test_add_returns_every_field(ctl, pg):
    code = uniq("cvn")
    before = pg.count("entities")
    e = ctl.ok("entity", "add", code, "--name", "Comunità della Val di Non",
               "--email", "segreteria@comunitavaldinon.tn.it",
               "--dpo-email", "dpo@comunitrentini.it",
               "--holidays", "12-26, 06-26,06-26")
    assert set(ENTITY_FIELDS) <= set(e), e
    assert e["code"] == code
    assert e["name"] == "Comunità della Val di Non"
    assert e["email"] == "segreteria@comunitavaldinon.tn.it"
    assert e["dpo_email"] == "dpo@comunitrentini.it"
    # duplicates removed, sorted
    assert e["holidays"] == ["06-26", "12-26"]
    assert RFC3339_UTC.match(e["created_at"]), e["created_at"]
    t = dt.datetime.fromisoformat(e["created_at"].replace("Z", "+00:00"))
    assert abs((dt.datetime.now(dt.timezone.utc) - t).total_seconds()) < 120
    assert pg.count("entities") == before + 1


def test_add_minimal(ctl):
    code = uniq("min")
    e = ctl.ok("entity", "add", code, "--name", "Comune di Cles")
    assert e["code"] == code
    assert e["email"] is None
    assert e["dpo_email"] is None
    assert e["holidays"] == []


def test_code_folded_to_lower_case(ctl):
    code = uniq("up")
    e = ctl.ok("entity", "add", code.upper(), "--name", "Comune di Revò")
    assert e["code"] == code
    listed = [x["code"] for x in ctl.ok("entity", "list")["entities"]]
    assert code in listed and code.upper() not in listed


def test_leap_day_holiday_allowed(ctl):
    e = ctl.entity(holidays="02-29")
    assert e["holidays"] == ["02-29"]


def test_list_ordered_by_code_with_fields(ctl):
    codes = [uniq("z"), uniq("a"), uniq("m")]
    for c in codes:
        ctl.ok("entity", "add", c, "--name", "Ente " + c, "--holidays",
               "08-15")
    doc = ctl.ok("entity", "list")
    ents = doc["entities"]
    got = [e["code"] for e in ents]
    assert got == sorted(got)
    for c in codes:
        e = next(x for x in ents if x["code"] == c)
        assert set(ENTITY_FIELDS) <= set(e)
        assert e["name"] == "Ente " + c
        assert e["holidays"] == ["08-15"]


def test_duplicate_code_conflict(ctl, pg):
    code = uniq("dup")
    first = ctl.ok("entity", "add", code, "--name", "Primo")
    before = pg.counts()
    ctl.fail(["entity", "add", code, "--name", "Secondo"], 65, code=3)
    # Upper case folds onto the same code.
    ctl.fail(["entity", "add", code.upper(), "--name", "Terzo"], 65, code=3)
    assert pg.counts() == before
    e = next(x for x in ctl.ok("entity", "list")["entities"]
             if x["code"] == code)
    assert e == first


BAD = [
    # (args after "entity add", field)
    (["bad code!", "--name", "X"], "code"),
    (["has space", "--name", "X"], "code"),
    (["a" * 33, "--name", "X"], "code"),
    (["_leading", "--name", "X"], "code"),
    (["caffè", "--name", "X"], "code"),
    (["@CODE", "--name", "", ], "name"),
    (["@CODE", "--name", "x" * 201], "name"),
    (["@CODE", "--name", "Comune\x01di X"], "name"),
    (["@CODE", "--name", "Comune\ndi X"], "name"),
    (["@CODE", "--name", "X", "--email", "not-an-email"], "email"),
    (["@CODE", "--name", "X", "--email", "a@b"], "email"),
    (["@CODE", "--name", "X", "--dpo-email", "dpo@@x.it"], "dpo_email"),
    (["@CODE", "--name", "X", "--holidays", "13-01"], "holidays"),
    (["@CODE", "--name", "X", "--holidays", "02-30"], "holidays"),
    (["@CODE", "--name", "X", "--holidays", "06-31"], "holidays"),
    (["@CODE", "--name", "X", "--holidays", "june 26"], "holidays"),
    (["@CODE", "--name", "X", "--holidays", "06-26;12-26"], "holidays"),
    (["@CODE", "--name", "X", "--holidays",
      ",".join("01-%02d" % i for i in range(1, 18))], "holidays"),
]


@pytest.mark.parametrize("args,field", BAD,
                         ids=["%s-%d" % (f, i) for i, (a, f) in
                              enumerate(BAD)])
def test_bad_input_refused(ctl, pg, unchanged, args, field):
    code = uniq("bad")
    args = [code if a == "@CODE" else a for a in args]
    ctl.fail(["entity", "add"] + args, 65, code=-32602, field=field)
    listed = [e["code"] for e in ctl.ok("entity", "list")["entities"]]
    assert code not in listed


def test_sixteen_holidays_allowed(ctl):
    days = ["01-%02d" % i for i in range(1, 17)]
    e = ctl.entity(holidays=",".join(reversed(days)))
    assert e["holidays"] == days


def test_name_length_in_characters(ctl):
    # 200 characters, 400 bytes: allowed (the limit counts characters).
    e = ctl.entity(name="à" * 200)
    assert e["name"] == "à" * 200
