"""A webhook's secret read from a file (`[webhook NAME] secret_file`, issue
5: systemd's LoadCredential= hands dsrd such a file). A daemon whose secret
comes from a file signs with it, checked against the real HTTP receiver and
the signature verifier of test_delivery.py; `dsrd --check-config` refuses a
missing file, a file that holds no valid secret and a section with both or
neither of secret and secret_file, naming the key and the path but never
what the file holds; SIGHUP reads the file again, so a changed secret
signs the next POST, and a broken one leaves the old secret in use.

The secrets of this module are random and never printed by dsrd: every log
is checked for them. The `stack` fixture (test_delivery.py) stops the
test's daemons and servers and sweeps what they left undelivered.
"""

import os
import subprocess
import time

import pytest

import test_delivery as delivery
from conftest import DSRD_BIN, _env
from helpers import uniq, wait_until
from test_delivery import stack  # noqa: F401 (a fixture)


def write_secret(path, text):
    """Writes a secret file as an administrator would (mode 0600), the way
    systemd leaves a credential: the text and a newline."""
    path.write_text(text + "\n")
    path.chmod(0o600)
    return path


def hook_daemon(stack, path, name="filed"):  # noqa: F811
    """A started dsrd of the stack with one webhook, [webhook name], for
    request.filed to a new receiver, its secret in the file at path."""
    rcv = stack.http(200)
    ov = {"notify": {"templates": str(delivery.TEMPLATES),
                     "retry_min": "1s", "retry_max": "2s"},
          "webhook " + name: {"url": rcv.url("/dsrd"),
                              "secret_file": str(path),
                              "events": "request.filed"}}
    dd = stack._daemons(uniq("sf"), overrides=ov)
    stack.dsrds.append(dd)
    return dd, rcv


def file_and_hit(dd, rcv, code):
    """Files a request; returns its outbox row and the one POST of it."""
    rid = dd.ctl.file(code)["id"]
    row = delivery.one_row(dd.ctl, rid, channel="webhook")
    [hit] = rcv.wait(lambda h: h.headers.get("webhook-id") == row["msg_id"],
                     timeout=10, what="the request.filed POST")
    delivery.wait_row(dd.ctl, rid, lambda r: r["state"] == "sent", 5,
                      "row sent", id=row["id"])
    return row, hit


def signed_with(hit, secret):
    """Whether one of the hit's v1 signatures is the secret's."""
    want = "v1," + delivery.expected_signature(
        secret, hit.headers["webhook-id"], hit.headers["webhook-timestamp"],
        hit.body)
    return want in hit.headers.get("webhook-signature", "").split(" ")


def check_config(conf):
    p = subprocess.run([DSRD_BIN, "--check-config", "-c", str(conf)],
                       capture_output=True, text=True, timeout=20,
                       env=_env())
    return p.returncode, p.stdout + p.stderr


def hook_conf(tmp_path, **keys):
    """A config file of one [webhook w] section with these keys."""
    conf = tmp_path / (uniq("c") + ".conf")
    lines = ["[daemon]", "socket = %s" % (tmp_path / "never.sock"),
             "[webhook w]", "url = http://127.0.0.1:9/hook"]
    lines += ["%s = %s" % kv for kv in keys.items()]
    conf.write_text("\n".join(lines) + "\n")
    return conf


# ---------------------------------------------------------------- delivery

def test_webhook_signed_with_the_secret_from_the_file(stack, workdir):
    secret = delivery.new_secret()
    path = write_secret(workdir / (uniq("webhook-ops") + ".secret"), secret)
    dd, rcv = hook_daemon(stack, path, "ops")
    code = dd.ctl.entity(name="Comune di Prova")["code"]
    row, hit = file_and_hit(dd, rcv, code)
    assert (row["recipient"], row["event"]) == ("ops", "request.filed")
    assert (hit.method, hit.path) == ("POST", "/dsrd")
    delivery.assert_signed(hit, secret, row["msg_id"])
    assert hit.json()["type"] == "request.filed"
    assert secret not in dd.log_text()
    assert secret[len("whsec_"):] not in dd.log_text()


# ---------------------------------------------------------------- refusals

def test_check_config_accepts_a_good_file(tmp_path):
    path = write_secret(tmp_path / "good.secret", delivery.new_secret())
    rc, out = check_config(hook_conf(tmp_path, secret_file=path))
    assert rc == 0, out
    assert "configuration OK" in out


def test_check_config_missing_file(tmp_path):
    path = tmp_path / "absent" / "webhook-w.secret"
    conf = hook_conf(tmp_path, secret_file=path)
    rc, out = check_config(conf)
    assert rc == 1, out
    assert "[webhook w] secret_file" in out, out
    assert str(path) in out, out
    assert str(conf) in out, out
    assert "No such file or directory" in out, out


# What a file may hold that is no secret: (content, why). The content
# carries a marker that must never reach the output.
BAD_CONTENTS = [
    ("", "empty"),
    ("  \n\n", "empty"),
    ("p4ss-MARKER-7f3a", "not whsec_ followed by base64"),
    ("whsec_p4ss MARKER 7f3a", "not whsec_ followed by base64"),
    ("whsec_MARKER7f3a\nwhsec_MARKER7f3a", "not whsec_ followed by base64"),
    ("whsec_MARKER7f3a\0tail", "holds a NUL byte"),
]


@pytest.mark.parametrize("content,why", BAD_CONTENTS,
                         ids=[w.replace(" ", "_") + str(i) for i, (_, w)
                              in enumerate(BAD_CONTENTS)])
def test_check_config_bad_secret(tmp_path, content, why):
    path = tmp_path / "bad.secret"
    path.write_bytes(content.encode() + b"\n")
    rc, out = check_config(hook_conf(tmp_path, secret_file=path))
    assert rc == 1, out
    assert "[webhook w] secret_file: %s: %s" % (path, why) in out, out
    assert "MARKER" not in out and "p4ss" not in out, out


def test_check_config_wants_one_of_secret_and_secret_file(tmp_path):
    secret = delivery.new_secret()
    path = write_secret(tmp_path / "w.secret", secret)
    rc, out = check_config(hook_conf(tmp_path, secret=secret,
                                     secret_file=path))
    assert rc == 1, out
    assert "[webhook w] secret and secret_file: give one, not both" in out
    assert secret not in out, out
    rc, out = check_config(hook_conf(tmp_path))
    assert rc == 1, out
    assert "[webhook w] secret or secret_file is required" in out, out


# ---------------------------------------------------------------- SIGHUP

def reload_and_wait(dd, what):
    """SIGHUP, then waits for the log line of that reload's outcome
    ("configuration reloaded" or "reload failed")."""
    before = dd.log_text().count(what)
    dd.hup()
    wait_until(lambda: dd.log_text().count(what) > before, 10, 0.05,
               "dsrd to log %r" % what)


def test_sighup_reads_the_changed_file(stack, workdir):
    first, second = delivery.new_secret(), delivery.new_secret()
    path = write_secret(workdir / (uniq("webhook-hup") + ".secret"), first)
    dd, rcv = hook_daemon(stack, path, "hup")
    code = dd.ctl.entity(name="Comune di Prova")["code"]

    row, hit = file_and_hit(dd, rcv, code)
    delivery.assert_signed(hit, first, row["msg_id"])

    # A new secret in the file (a new credential): the next POST is
    # signed with it, and no longer with the old one.
    write_secret(path, second)
    reload_and_wait(dd, "configuration reloaded")
    row, hit = file_and_hit(dd, rcv, code)
    delivery.assert_signed(hit, second, row["msg_id"])
    assert not signed_with(hit, first)

    # A broken file: the reload fails, names the key and the file, and
    # the secret in use stays.
    path.write_text("whsec_broken MARKER\n")
    reload_and_wait(dd, "reload failed")
    failed = [ln for ln in dd.log_text().splitlines()
              if "reload failed" in ln][-1]
    assert "[webhook hup] secret_file: %s:" % path in failed, failed
    assert "MARKER" not in dd.log_text()
    row, hit = file_and_hit(dd, rcv, code)
    delivery.assert_signed(hit, second, row["msg_id"])

    # A file that is gone: the same.
    os.unlink(path)
    reload_and_wait(dd, "reload failed")
    row, hit = file_and_hit(dd, rcv, code)
    delivery.assert_signed(hit, second, row["msg_id"])

    log = dd.log_text()
    for s in (first, second):
        assert s not in log and s[len("whsec_"):] not in log


# ------------------------------------------------ [smtp] password_file

@pytest.mark.parametrize("good", [True, False])
def test_smtp_password_file(stack, tmp_path, good):  # noqa: F811
    """[smtp] password_file (a LoadCredential= too) is read as every secret
    file: the mail goes with AUTH and that password; a file that cannot be
    read is logged (by its path, never a byte of it) and mail goes without
    AUTH, which this server refuses, so nothing is delivered."""
    password = "pw-" + uniq("smtp")
    smtp = stack.smtp(logins={"dsrd": password}, start=False).start()
    path = tmp_path / "smtp-password"
    if good:
        write_secret(path, password)
    ov = {"notify": {"templates": str(delivery.TEMPLATES),
                     "retry_min": "1s", "retry_max": "2s"},
          "smtp": {"url": smtp.url, "from": delivery.FROM,
                   "username": "dsrd", "password_file": str(path)},
          "dpo": {"email": delivery.DPO}}
    dd = stack._daemons(uniq("pw"), overrides=ov)
    stack.dsrds.append(dd)
    code = dd.ctl.entity()["code"]
    rid = dd.ctl.file(code)["id"]
    if good:
        smtp.wait(lambda m: "n. %d " % rid in str(m.msg["Subject"]),
                  timeout=15, what="the mail sent with AUTH")
        assert ("dsrd", password, True) in smtp.auths
    else:
        wait_until(lambda: "password_file" in dd.log_text(), 10,
                   what="the unreadable password file logged")
        time.sleep(2)
        assert smtp.mails == [] and not any(a[2] for a in smtp.auths)
    assert password not in dd.log_text()
