"""What dsrctl prints (SPEC §6): with --json exactly one JSON document on
stdout, success or failure; without it, tables and lines for people on
stdout and a one-line error on stderr."""

import json
import subprocess

import pytest

from conftest import DSRCTL_BIN, _env


@pytest.fixture(scope="module")
def body(ctl):
    return ctl.entity(name="Comune di Fondo")["code"]


@pytest.fixture(scope="module")
def filed(ctl, body):
    return [ctl.file(body, name="Carla Gialli", received="2026-01-31"),
            ctl.file(body, name="Piero Blu")]


def _raw_run(socket, args):
    p = subprocess.run([DSRCTL_BIN, "--socket", str(socket)] + args,
                       capture_output=True, timeout=30, env=_env())
    return p.returncode, p.stdout.decode(), p.stderr.decode()


@pytest.mark.parametrize("args,rc", [
    (["ping"], 0),
    (["entity", "list"], 0),
    (["list", "--limit", "3"], 0),
    (["show", "@ID"], 0),
    (["show", "999999999"], 1),
    (["list", "--status", "open"], 65),
    (["file", "--entity", "@BODY", "--type", "access", "--subject-name",
      "X", "--subject-tax-code", "XXXXXXXXXXXXXXXX"], 65),
    (["file", "--entity", "no-such-body", "--type", "access",
      "--subject-name", "X"], 1),
    (["show", "abc"], 64),
    (["nosuchcommand"], 64),
])
def test_json_is_one_document(dsrd, body, filed, args, rc):
    args = [str(filed[0]["id"]) if a == "@ID" else body if a == "@BODY"
            else a for a in args]
    code, out, err = _raw_run(dsrd.socket, ["--json"] + args)
    assert code == rc, (args, code, out, err)
    doc = json.loads(out)     # raises on zero or several documents
    assert isinstance(doc, dict)
    if rc == 0:
        assert "error" not in doc or len(doc) > 1
    else:
        assert set(doc) == {"error"}, doc
        assert set(doc["error"]) >= {"code", "message"}
        assert isinstance(doc["error"]["code"], int)
        assert isinstance(doc["error"]["message"], str)
        assert doc["error"]["message"]


def test_list_table(dsrd, body, filed):
    code, out, err = _raw_run(dsrd.socket, ["list", "--entity", body])
    assert code == 0, err
    lines = [l for l in out.splitlines() if l.strip()]
    assert len(lines) >= 1 + len(filed)
    header = lines[0]
    assert "ID" in header.upper()
    assert "DUE" in header.upper()
    for r in filed:
        row = [l for l in lines[1:]
               if l.split()[0] == str(r["id"]) and body in l.split()]
        assert len(row) == 1, (r["id"], out)
        assert r["due_on"] in row[0]
        assert r["type"] in row[0]
    # aligned columns: the due dates start at the same column in every row
    cols = {l.index(r["due_on"]) for l in lines[1:]
            for r in filed if r["due_on"] in l}
    assert len(cols) == 1, out
    # not JSON
    assert not out.lstrip().startswith("{")


def test_list_table_empty(dsrd, ctl):
    body = ctl.entity()["code"]
    code, out, err = _raw_run(dsrd.socket, ["list", "--entity", body])
    assert code == 0, err


def test_show_human(dsrd, filed):
    r = filed[0]
    code, out, err = _raw_run(dsrd.socket, ["show", str(r["id"])])
    assert code == 0, err
    assert str(r["id"]) in out
    assert r["due_on"] in out
    assert r["statutory_due_on"] in out
    assert r["received_on"] in out
    assert r["status"] in out


def test_entity_list_human(dsrd, body):
    code, out, err = _raw_run(dsrd.socket, ["entity", "list"])
    assert code == 0, err
    assert body in out
    assert "Comune di Fondo" in out


def test_file_human_prints_request(dsrd, body):
    code, out, err = _raw_run(dsrd.socket, [
        "file", "--entity", body, "--type", "access", "--subject-name",
        "Giulia Viola", "--received", "2026-04-24"])
    assert code == 0, err
    assert "2026-05-25" in out          # its due date


@pytest.mark.parametrize("args,rc", [
    (["show", "999999999"], 1),
    (["list", "--status", "open"], 65),
    (["show", "abc"], 64),
])
def test_human_error_one_line_on_stderr(dsrd, args, rc):
    code, out, err = _raw_run(dsrd.socket, args)
    assert code == rc
    assert out == ""
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) >= 1
    # the error itself is one line (a usage error may add a usage hint)
    if rc != 64:
        assert len(lines) == 1, err


def test_human_error_names_field(dsrd, body):
    code, out, err = _raw_run(dsrd.socket, [
        "file", "--entity", body, "--type", "access", "--subject-name", "X",
        "--subject-email", "nope"])
    assert code == 65
    assert "email" in err
    assert out == ""


def test_unavailable_human(dsrd, tmp_path):
    code, out, err = _raw_run(tmp_path / "none.sock", ["ping"])
    assert code == 69
    assert out == ""
    assert err.strip()
