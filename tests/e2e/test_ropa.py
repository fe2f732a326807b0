"""The register of processing activities (issue 7, SPEC §8): `dsrctl ropa
import|list|show` against a real dsrd, with the real register of a body
(tests/unit/data/registro-trattamenti-val-di-non.tsv, the copy of
shared/data's). The import is read and split by dsrctl and applied by dsrd
in one transaction: the number of activities, every anomaly with its line,
the people that match nobody in the staff directory, an idempotent second
import, a new version that adds, changes and removes, a dry run, the same
register as Windows-1252 ';' CSV with CRLF, a large register in batches,
refused messages that change nothing, and the staff role's scope."""

import csv
import io
import re
import json
import os
import time
import uuid

import pytest

import helpers
from conftest import REPO, as_user

REAL = REPO / "tests/unit/data/registro-trattamenti-val-di-non.tsv"
REAL_LINES = REAL.read_bytes().decode("utf-8").split("\n")

# The people the real register names most, as a directory would spell them.
DIRECTORY = ["Rossi Moreno", "Zanella Paolo", "Cavosi Fiorenzo",
             "Guazzeroni Marco", "Inama Fabrizio", "Zanon Ivan"]


def body_with_staff(ctl, names=DIRECTORY):
    code = ctl.entity(name="Comunità della Val di Non")["code"]
    for n in names:
        ctl.ok("staff", "add", n, "--entity", code)
    return code


def body_id(pg, code):
    return int(pg.sql("SELECT id FROM entities WHERE code = '%s'" % code))


def live(pg, code):
    return pg.count("activities", "entity_id = %d AND removed_at IS NULL"
                    % body_id(pg, code))


def import_ok(ctl, path, code, *extra):
    doc = ctl.ok("ropa", "import", str(path), "--entity", code, *extra)
    assert set(doc) >= {"file", "encoding", "delimiter", "lines",
                        "header_line", "activities", "anomalies", "people",
                        "import"}, doc.keys()
    return doc


def rows_of(pg, code):
    """Every field of a body's live activities, by key, as text."""
    out = pg.sql(
        "SELECT json_agg(json_build_object('key', a.key, 'name', a.name, "
        "'office', o.name, 'purpose', a.purpose, 'managers', a.managers, "
        "'authorised', a.authorised, 'processors', a.processors, "
        "'software', a.software, 'data', a.data_categories, 'subjects', "
        "a.subject_categories, 'recipients', a.recipient_categories, "
        "'retention', a.retention, 'cloud', a.cloud, 'transfers', "
        "a.transfers, 'line', a.source_line) ORDER BY a.key) FROM "
        "activities a LEFT JOIN offices o ON o.id = a.office_id WHERE "
        "a.entity_id = %d AND a.removed_at IS NULL" % body_id(pg, code))
    return json.loads(out)


# ---------------------------------------------------------------- the real file

@pytest.fixture(scope="module")
def real(ctl, pg):
    """The real register imported once into a body of its own."""
    code = body_with_staff(ctl)
    doc = import_ok(ctl, REAL, code)
    return code, doc


def test_real_register_counts(real, pg):
    code, doc = real
    assert (doc["encoding"], doc["delimiter"], doc["lines"],
            doc["header_line"]) == ("utf-8", "\t", 117, 7)
    # 105 rows under the header, the one of line 106 has no name
    assert doc["activities"] == 104 and doc["dropped"] == 1
    assert doc["realigned"] == 76
    imp = doc["import"]
    assert imp["entity"] == code and imp["dry_run"] is False
    assert imp["activities"] == 104 and len(imp["added"]) == 104
    assert imp["changed"] == [] and imp["removed"] == []
    assert imp["unchanged"] == 0
    assert live(pg, code) == 104
    # every added activity with its line, in the order of the file
    lines = [a["line"] for a in imp["added"]]
    assert lines == sorted(lines) and lines[0] == 8 and 106 not in lines
    first = imp["added"][0]
    assert (first["name"], first["office"]) == (
        "Assegni di studio e facilitazioni di viaggio", "Servizio Istruzione")
    # offices upserted once each
    assert pg.count("offices", "entity_id = %d" % body_id(pg, code)) == \
        len({a["office"] for a in imp["added"]})
    # one audit event of the body, with the counts and the source
    ev = json.loads(pg.sql(
        "SELECT json_agg(json_build_object('req', request_id, 'details', "
        "details)) FROM audit_events WHERE action = 'ropa.import' AND "
        "entity_id = %d" % body_id(pg, code)))
    assert len(ev) == 1 and ev[0]["req"] is None
    det = ev[0]["details"]
    assert (det["added"], det["changed"], det["removed"], det["unchanged"],
            det["activities"]) == (104, 0, 0, 0, 104)
    assert det["source"]["file"] == REAL.name
    assert det["source"]["lines"] == 117 and det["source"]["anomalies"] == 94
    assert pg.count("ropa_staging") == 0


def test_real_register_anomalies(real):
    _, doc = real
    an = {(a["line"], a["kind"]) for a in doc["anomalies"]}
    assert len(doc["anomalies"]) == 94
    assert all(isinstance(a["detail"], str) and a["detail"]
               for a in doc["anomalies"])
    # checked against the file itself
    assert REAL_LINES[0] == "" and REAL_LINES[1] == ""
    assert {(1, "blank"), (2, "blank")} <= an
    assert "Traferimenti in banche dati" in REAL_LINES[6]
    assert (7, "header_fuzzy") in an
    assert REAL_LINES[27] == "" and (28, "blank") in an
    # line 29: the empty Contitolare cell is missing, the office is in C
    assert REAL_LINES[28].split("\t")[2].startswith("Servizio ")
    assert (29, "realigned") in an
    assert REAL_LINES[105].startswith("\t") and (106, "no_name") in an
    no_name = [a for a in doc["anomalies"] if a["kind"] == "no_name"]
    assert no_name[0]["dropped"] is True
    # line 113: 19 cells for 18 columns, and "Dati ..." in the Software one
    cells = REAL_LINES[112].split("\t")
    assert len(cells) == 19 and cells[8].startswith("Dati ")
    assert {(113, "extra_cells"), (113, "realigned")} <= an
    assert (115, "blank") in an


def test_real_register_people(real, pg, ctl):
    code, doc = real
    near = {(p["name"], p["suggestion"]): p
            for p in doc["people"]["near_misses"]}
    # "Rosli Moreno" first appears on line 83, among the Designati
    assert "Rosli Moreno" in REAL_LINES[82].split("\t")[3]
    rm = near[("Rosli Moreno", "Rossi Moreno")]
    assert rm["line"] == 83 and rm["column"] == "Designati"
    assert rm["field"] == "managers"
    assert rm["lines"][0] == 83 and len(rm["lines"]) == sum(
        "Rosli Moreno" in ln for ln in REAL_LINES)
    unknown = {p["name"] for p in doc["people"]["unknown"]}
    assert "Bonvicin Cristina" in unknown
    assert not {"Rossi Moreno", "Zanella Paolo"} & unknown
    # for people
    r = ctl.run(["ropa", "import", REAL, "--entity", code], json=False)
    assert r.rc == 0, r.err
    assert ('line 83, Designati: "Rosli Moreno" is not in the staff '
            'directory; did you mean "Rossi Moreno"?') in r.out
    assert re.search(r"^  line 106 +no_name +", r.out, re.M), r.out
    assert "Imported into %s: 104 activities: 0 added, 0 changed, " \
        "0 removed, 104 unchanged" % code in r.out


def test_directory_spelling_is_kept(ctl, pg):
    code = body_with_staff(ctl, ["ZANELLA Paolo", "Rossi Moreno"])
    import_ok(ctl, REAL, code)
    a = ctl.ok("ropa", "list", "--entity", code, "--limit", 1)
    assert a["activities"][0]["line"] == 8
    act = ctl.ok("ropa", "show", a["activities"][0]["id"])
    staff = {s["name"]: s["id"] for s in
             ctl.ok("staff", "list", "--entity", code)["staff"]}
    assert act["managers"] == [{"name": "ZANELLA Paolo",
                                "staff_id": staff["ZANELLA Paolo"]}]
    assert act["staff"] == [{"name": "Bonvicin Cristina", "staff_id": None},
                            {"name": "Pancheri Matteo", "staff_id": None}]


def test_reimport_changes_nothing(ctl, pg):
    code = body_with_staff(ctl)
    import_ok(ctl, REAL, code)
    q = ("SELECT md5(string_agg(a::text, '|' ORDER BY id)) FROM activities a "
         "WHERE entity_id = %d" % body_id(pg, code))
    before = pg.sql(q)
    imp = import_ok(ctl, REAL, code)["import"]
    assert (imp["added"], imp["changed"], imp["removed"]) == ([], [], [])
    assert imp["unchanged"] == 104 and imp["activities"] == 104
    # not one column of one row, not even updated_at
    assert pg.sql(q) == before


def write(tmp, name, lines, encoding="utf-8"):
    p = tmp / name
    p.write_bytes("\n".join(lines).encode(encoding))
    return p


def test_new_version_added_changed_removed(ctl, pg, tmp_path):
    code = body_with_staff(ctl)
    import_ok(ctl, REAL, code)
    lines = list(REAL_LINES)
    # line 9 "Gestione attività culturali": a new purpose
    cells = lines[8].split("\t")
    assert cells[0] == "Gestione attività culturali"
    cells[1] = "Promozione della cultura"
    lines[8] = "\t".join(cells)
    # line 10 "Gestione attività sportive e del tempo libero": gone
    gone = lines[9].split("\t")[0]
    del lines[9]
    # a new activity at the end (after line 116, so line 116 of the copy)
    new = list(cells)
    new[0] = "Gestione biblioteca"
    lines.append("\t".join(new))
    v2 = write(tmp_path, "registro-v2.tsv", lines)
    ids = {a["name"]: a["id"] for a in ctl.ok(
        "ropa", "list", "--entity", code, "--office", "istruzione")[
            "activities"]}
    imp = import_ok(ctl, v2, code)["import"]
    assert [(a["name"], a["office"], a["line"]) for a in imp["added"]] == [
        ("Gestione biblioteca", "Servizio Istruzione", len(lines))]
    assert [(a["id"], a["name"], a["line"], a["fields"])
            for a in imp["changed"]] == [
        (ids["Gestione attività culturali"], "Gestione attività culturali",
         9, ["purpose"])]
    assert [(a["id"], a["name"]) for a in imp["removed"]] == [
        (ids[gone], gone)]
    # the rows after the deleted one moved up a line: that is no change
    assert imp["unchanged"] == 102 and imp["activities"] == 104
    assert live(pg, code) == 104
    # removed is kept (tasks name activities), and listed with --removed
    assert ctl.ok("ropa", "show", ids[gone])["removed_at"] is not None
    names = [a["name"] for a in ctl.ok("ropa", "list", "--entity", code,
                                       "--removed")["activities"]]
    assert gone in names and len(names) == 105
    assert gone not in [a["name"] for a in ctl.ok(
        "ropa", "list", "--entity", code)["activities"]]
    # the first version again: the removed one is back (added, same id)
    imp = import_ok(ctl, REAL, code)["import"]
    assert [(a["id"], a["name"]) for a in imp["added"]] == [(ids[gone], gone)]
    assert [(a["name"], a["fields"]) for a in imp["changed"]] == [
        ("Gestione attività culturali", ["purpose"])]
    assert [a["name"] for a in imp["removed"]] == ["Gestione biblioteca"]
    assert ctl.ok("ropa", "show", ids[gone])["removed_at"] is None


def test_dry_run_changes_nothing(ctl, pg, tmp_path):
    code = body_with_staff(ctl)
    bid = body_id(pg, code)
    tables = {"activities": "entity_id = %d" % bid,
              "offices": "entity_id = %d" % bid,
              "audit_events": None, "ropa_staging": None}
    before = {t: pg.count(t, w) for t, w in tables.items()}
    imp = import_ok(ctl, REAL, code, "--dry-run")["import"]
    assert imp["dry_run"] is True and len(imp["added"]) == 104
    assert imp["activities"] == 104
    assert {t: pg.count(t, w) for t, w in tables.items()} == before
    # and a dry run of a new version over an imported register
    import_ok(ctl, REAL, code)
    q = ("SELECT md5(string_agg(a::text, '|' ORDER BY id)) FROM activities a "
         "WHERE entity_id = %d" % bid)
    snap = pg.sql(q)
    events = pg.count("audit_events")
    v2 = [ln for i, ln in enumerate(REAL_LINES) if i != 20]
    imp = import_ok(ctl, write(tmp_path, "v2.tsv", v2), code,
                    "--dry-run")["import"]
    assert len(imp["removed"]) == 1 and imp["dry_run"] is True
    assert pg.sql(q) == snap and pg.count("audit_events") == events
    assert pg.count("ropa_staging") == 0


def test_windows_1252_semicolon_crlf(ctl, pg, real, tmp_path):
    """The same register as a spreadsheet saves it on Windows: CSV with ';'
    and quotes, Windows-1252, CRLF."""
    code_tsv, _ = real
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", quoting=csv.QUOTE_MINIMAL,
                   lineterminator="\r\n")
    for ln in REAL_LINES:
        w.writerow(ln.split("\t") if ln else [])
    data = out.getvalue().encode("cp1252")
    assert b"\r\n" in data and b"\xe0" in data      # "à" in Windows-1252
    p = tmp_path / "registro.csv"
    p.write_bytes(data)
    code = body_with_staff(ctl)
    doc = import_ok(ctl, p, code)
    assert (doc["encoding"], doc["delimiter"]) == ("windows-1252", ";")
    assert doc["activities"] == 104
    assert doc["import"]["activities"] == 104
    assert rows_of(pg, code) == rows_of(pg, code_tsv)
    assert {(a["line"], a["kind"]) for a in doc["anomalies"]} >= {
        (106, "no_name"), (29, "realigned"), (113, "realigned")}


def test_ropa_list_filters(real, ctl, pg):
    code, _ = real
    bid = body_id(pg, code)

    def names(*args):
        doc = ctl.ok("ropa", "list", "--entity", code, *args)
        assert doc["count"] == len(doc["activities"])
        return doc["activities"]

    def sql_count(where):
        return pg.count("activities a LEFT JOIN offices o ON "
                        "o.id = a.office_id", "a.entity_id = %d AND a.removed_at "
                        "IS NULL AND (%s)" % (bid, where))

    alls = names()
    assert len(alls) == 104
    a = alls[0]
    assert set(a) == {"id", "entity", "name", "office", "purpose",
                      "subject_categories", "data_categories", "processors",
                      "software", "cloud", "line", "removed_at"}
    assert a["entity"] == code and a["line"] == 8 and a["cloud"] is True
    assert a["processors"] == ["Clesius S.R.L.", "Trentino Digitale S.p.A."]
    assert a["subject_categories"][0] == "Cittadini"
    tiv = names("--software", "TIVOLI")
    assert len(tiv) == 6 and {x["name"] for x in tiv} == {
        "Gestione backup banche dati"}
    assert len(names("--office", "istruzione")) == sql_count(
        "o.name ILIKE '%istruzione%'") > 0
    assert len(names("--processor", "clesius")) == 2
    giud = names("--data-category", "giudiziari")
    assert len(giud) == sql_count("array_to_string(data_categories, '|') "
                                  "ILIKE '%giudiziari%'") > 0
    cit = names("--subject-category", "cittadini", "--office",
                "tariffa")
    assert cit and all("Tariffa" in x["office"] and any(
        "Cittadini" in s for s in x["subject_categories"]) for x in cit)
    assert len(names("--limit", 5)) == 5
    assert names("--software", "no such software") == []
    ctl.fail(["ropa", "list", "--entity", "no-such-body"], 1)
    ctl.fail(["ropa", "list", "--limit", 0], 65, field="limit")


def test_ropa_show(real, ctl, pg):
    code, doc = real
    by_line = {a["line"]: a["id"] for a in doc["import"]["added"]}
    a = ctl.ok("ropa", "show", by_line[11])     # Gestione backup banche dati
    assert set(a) >= {"id", "entity", "name", "office", "purpose",
                      "joint_controller", "managers", "staff", "processors",
                      "independent_controllers", "software",
                      "data_categories", "retention", "subject_categories",
                      "recipient_categories", "cloud", "transfers",
                      "processor_for_others", "controller",
                      "security_measures", "line", "imported_at",
                      "updated_at", "removed_at"}
    assert (a["name"], a["office"], a["line"]) == (
        "Gestione backup banche dati", "Servizio Istruzione", 11)
    staff = {s["name"]: s["id"] for s in
             ctl.ok("staff", "list", "--entity", code)["staff"]}
    assert [m["name"] for m in a["managers"]] == [
        "Cavosi Fiorenzo", "Guazzeroni Marco", "Inama Fabrizio",
        "Rossi Moreno", "Zanella Paolo"]
    assert all(m["staff_id"] == staff[m["name"]] for m in a["managers"])
    assert a["software"] == ["IBM Tivoli"]
    assert a["processors"] == ["Trentino Digitale S.p.A."]
    assert a["data_categories"][:2] == ["Dati personali ordinari",
                                        "Dati profilo online"]
    assert a["cloud"] is True and a["transfers"] is True
    assert a["processor_for_others"] is None
    assert helpers.RFC3339_UTC.match(a["imported_at"])
    # a near miss is not a match
    b = ctl.ok("ropa", "show", by_line[83])
    assert {"name": "Rosli Moreno", "staff_id": None} in b["managers"]
    r = ctl.run(["ropa", "show", by_line[83]], json=False)
    assert r.rc == 0 and "Rosli Moreno (not in the staff directory)" in r.out
    ctl.fail(["ropa", "show", 987654321], 1)


# ---------------------------------------------------------------- refused

GOOD = {"name": "Protocollo", "office": "Segreteria", "line": 8}


@pytest.mark.parametrize("activity,field", [
    ({"name": 5}, "activities[1].name"),
    ({"office": "Segreteria"}, "activities[1].name"),
    ({"name": "   "}, "activities[1].name"),
    ({"name": "x" * 501}, "activities[1].name"),
    ({"name": "a\nb"}, "activities[1].name"),
    ({"name": "A", "office": "o" * 201}, "activities[1].office"),
    ({"name": "A", "managers": "Rossi Moreno"}, "activities[1].managers"),
    ({"name": "A", "managers": ["Rossi Moreno", 7]},
     "activities[1].managers[1]"),
    ({"name": "A", "staff": [""]}, "activities[1].staff[0]"),
    ({"name": "A", "software": ["s"] * 201}, "activities[1].software"),
    ({"name": "A", "purpose": "p" * 10001}, "activities[1].purpose"),
    ({"name": "A", "cloud": "Si"}, "activities[1].cloud"),
    ({"name": "A", "line": "9"}, "activities[1].line"),
    ({"name": "A", "line": 0}, "activities[1].line"),
    ({"name": "A", "colour": "red"}, "activities[1].colour"),
])
def test_bad_activity_refused(dsrd, ctl, pg, activity, field):
    code = ctl.entity()["code"]
    staged = pg.count("ropa_staging")
    for final in (False, True):
        with helpers.RawConn(str(dsrd.socket)) as c:
            params = {"entity": code, "activities": [GOOD, activity]}
            if final:
                params["final"] = True
            helpers.assert_rpc_error(c.call("ropa.import", params), -32602,
                                     field=field)
    assert pg.count("ropa_staging") == staged
    assert pg.count("activities", "entity_id = %d" % body_id(pg, code)) == 0


def test_text_kept_as_sent(dsrd, ctl):
    """What dsrd writes for the database is JSON it makes itself: quotes,
    backslashes, line breaks and tabs, accents survive; white space around
    is trimmed, an empty text is null."""
    code = ctl.entity()["code"]
    act = {"name": ' Uff. "Anagrafe" \\ C:\\dati ', "office": "Città",
           "purpose": "riga 1\n\triga 2 \u00e8 \u20ac",
           "retention": "   ", "managers": [" Rossi Moreno "],
           "software": ["a\"b"], "cloud": False, "line": 3}
    with helpers.RawConn(str(dsrd.socket)) as c:
        r = c.call("ropa.import", {"entity": code, "final": True,
                                   "activities": [act]})
        assert r["result"]["activities"] == 1, r
    a = ctl.ok("ropa", "show", r["result"]["added"][0]["id"])
    assert a["name"] == 'Uff. "Anagrafe" \\ C:\\dati'
    assert a["office"] == "Città"
    assert a["purpose"] == "riga 1\n\triga 2 \u00e8 \u20ac"
    assert a["retention"] is None
    assert a["managers"] == [{"name": "Rossi Moreno", "staff_id": None}]
    assert a["software"] == ['a"b'] and a["cloud"] is False
    assert a["transfers"] is None and a["processors"] == []


def test_bad_messages_refused(dsrd, ctl, pg):
    mine = ctl.entity()["code"]
    other = ctl.entity()["code"]
    with helpers.RawConn(str(dsrd.socket)) as c:
        r = c.call("ropa.import", {"entity": other, "activities": [GOOD]})
        other_token = r["result"]["token"]
        assert r["result"]["staged"] == 1
        staged = pg.count("ropa_staging")
        for params, field in [
            ({"activities": [GOOD]}, "entity"),
            ({"entity": mine, "activities": {"name": "A"}}, "activities"),
            ({"entity": mine, "token": "xyz"}, "token"),
            ({"entity": mine, "dry_run": True}, "dry_run"),
            ({"entity": mine, "source": {"file": "x"}}, "source"),
            ({"entity": mine, "final": True, "source": {"size": 1}},
             "source.size"),
            ({"entity": mine, "final": "yes"}, "final"),
        ]:
            helpers.assert_rpc_error(c.call("ropa.import", params), -32602,
                                     field=field)
        # a token nobody gave, and another body's, are refused the same
        for tok in (str(uuid.uuid4()), other_token):
            for final in (False, True):
                p = {"entity": mine, "token": tok, "activities": [GOOD]}
                if final:
                    p["final"] = True
                err = helpers.assert_rpc_error(c.call("ropa.import", p),
                                               -32602)
                assert err["message"].startswith("token: "), err
        assert pg.count("ropa_staging") == staged
        # the same activity twice in one register: refused at the end
        r = c.call("ropa.import", {"entity": mine, "final": True,
                                   "activities": [GOOD, dict(GOOD, line=9),
                                                  {"name": "B"}]})
        err = helpers.assert_rpc_error(r, -32602)
        assert "listed twice" in err["message"] and "line 9" in \
            err["message"], err
        # an unknown body
        r = c.call("ropa.import", {"entity": "no-such-body", "final": True,
                                   "activities": [GOOD]})
        helpers.assert_rpc_error(r, 1)
        # the other body's import is still there and goes through
        r = c.call("ropa.import", {"entity": other, "token": other_token,
                                   "final": True})
        assert r["result"]["activities"] == 1, r
    assert live(pg, mine) == 0 and live(pg, other) == 1


def test_bad_file_refused(ctl, tmp_path):
    code = ctl.entity()["code"]
    err = ctl.fail(["ropa", "import", tmp_path / "nope.tsv", "--entity",
                    code], 65)
    assert "nope.tsv" in err["message"]
    p = tmp_path / "note.txt"
    p.write_text("una nota\nnient'altro\n")
    err = ctl.fail(["ropa", "import", p, "--entity", code], 65)
    assert "header" in err["message"]
    big = tmp_path / "big.tsv"
    with open(big, "wb") as f:
        f.truncate(64 * 1024 * 1024 + 1)
    err = ctl.fail(["ropa", "import", big, "--entity", code], 65)
    assert "64 MiB" in err["message"]
    ctl.fail(["ropa", "import", REAL], 64)
    ctl.fail(["ropa", "import", REAL, "--entity", "no-such-body"], 1)


def test_abandoned_imports_are_swept(dsrd, ctl, pg):
    code = ctl.entity()["code"]
    with helpers.RawConn(str(dsrd.socket)) as c:
        tok = c.call("ropa.import", {"entity": code, "activities": [GOOD]})[
            "result"]["token"]
        pg.sql("UPDATE ropa_staging SET created_at = created_at - "
               "interval '61 minutes' WHERE token = '%s'" % tok)
        # the next import sweeps it
        c.call("ropa.import", {"entity": code, "final": True,
                               "activities": [GOOD]})
        assert pg.count("ropa_staging", "token = '%s'" % tok) == 0
        r = c.call("ropa.import", {"entity": code, "token": tok,
                                   "final": True})
        helpers.assert_rpc_error(r, -32602, field=None)


# ---------------------------------------------------------------- large

def generated(n, directory):
    """A register of n activities, cells as long as real ones."""
    head = REAL_LINES[6].replace("Traferimenti", "Trasferimenti")
    rows = ["Comune di Prova", "Registro delle attività di trattamento",
            head]
    offices = ["Servizio %d" % k for k in range(12)]
    for i in range(n):
        p = [directory[(i + k) % len(directory)] for k in range(3)]
        rows.append("\t".join([
            "Attività numero %05d" % i, "Servizi ai cittadini", "",
            offices[i % len(offices)], " ".join(p[:2]), " ".join(p),
            "Clesius S.R.L. Trentino Digitale S.p.A.", "",
            "Software %d" % (i % 7),
            "Dati personali ordinari Dati particolari Dati giudiziari",
            "I dati sono conservati per il periodo strettamente necessario "
            "all'esecuzione del compito e comunque a termini di legge.",
            "Cittadini Utenti", "Persone autorizzate Soggetti terzi",
            "Si" if i % 2 else "No", "No", "-", "", ""]))
    return rows


def test_large_register_in_batches(dsrd, ctl, pg, tmp_path):
    staff = ["Rossi Mario", "Bianchi Anna", "Verdi Paolo", "Neri Giulia",
             "Gallo Luca"]
    code = body_with_staff(ctl, staff)
    p = write(tmp_path, "grande.tsv", generated(3000, staff))
    log_before = dsrd.log_text().count("ropa.import by")
    t0 = time.monotonic()
    doc = import_ok(ctl, p, code)
    took = time.monotonic() - t0
    assert doc["activities"] == 3000 and doc["anomalies"] == []
    imp = doc["import"]
    assert imp["activities"] == 3000 and len(imp["added"]) == 3000
    assert doc["people"] == {"unknown": [], "near_misses": []}
    assert live(pg, code) == 3000
    # several messages (2000 activities at most in each, and under the
    # message size), one import
    assert dsrd.log_text().count("ropa.import by") - log_before >= 2
    assert pg.count("audit_events", "action = 'ropa.import' AND entity_id "
                    "= %d" % body_id(pg, code)) == 1
    assert pg.count("ropa_staging") == 0
    # the second time, nothing changes
    imp = import_ok(ctl, p, code)["import"]
    assert imp["unchanged"] == 3000 and imp["added"] == [] and \
        imp["changed"] == []
    assert took < 30, took


# ---------------------------------------------------------------- roles

def test_staff_sees_its_own_body_only(daemons, unix_user, dsrctl_bin,
                                      workdir):
    dd = daemons("ropa-scope", overrides={"daemon": {"socket_mode": "0666"},
                                          "access": {"staff": unix_user}})
    os.chmod(os.path.dirname(str(dd.socket)), 0o755)
    ctl = dd.ctl
    mine = ctl.entity()["code"]
    other = ctl.entity()["code"]
    ctl.ok("staff", "add", "Rossi Moreno", "--entity", mine, "--user",
           unix_user)
    a = import_ok(ctl, REAL, mine)["import"]["added"]
    b = import_ok(ctl, REAL, other)["import"]["added"]
    rc, doc = as_user(dd, dsrctl_bin, unix_user, "ropa", "list")
    assert rc == 0 and doc["count"] == 104
    assert {x["entity"] for x in doc["activities"]} == {mine}
    rc, doc = as_user(dd, dsrctl_bin, unix_user, "ropa", "list",
                      "--entity", other)
    assert rc == 1, doc
    rc, doc = as_user(dd, dsrctl_bin, unix_user, "ropa", "show", a[0]["id"])
    assert rc == 0 and doc["entity"] == mine
    rc, doc = as_user(dd, dsrctl_bin, unix_user, "ropa", "show", b[0]["id"])
    assert rc == 1 and doc["error"]["code"] == 1
    # importing is the DPO's
    p = workdir / "registro-scope.tsv"     # where the user can read it
    p.write_bytes(REAL.read_bytes())
    p.chmod(0o644)
    rc, doc = as_user(dd, dsrctl_bin, unix_user, "ropa", "import", p,
                      "--entity", mine)
    assert rc == 77 and doc["error"]["code"] == 6, doc
