"""ping, the daemon's command line, the socket's permissions and dsrctl's
exit codes for what never reaches a daemon (SPEC §6, §7)."""

import datetime as dt
import os
import stat
import subprocess

from conftest import DSRD_BIN, REPO, _env
from helpers import RFC3339_UTC


def test_ping_fields(ctl):
    p = ctl.ping()
    version = (REPO / "VERSION").read_text().strip()
    assert p["version"] == version
    assert p["database"] == "up"
    assert isinstance(p["uptime"], int) and not isinstance(p["uptime"], bool)
    assert 0 <= p["uptime"] < 3600
    assert isinstance(p["pid"], int) and p["pid"] > 1
    assert isinstance(p["schema_version"], int) and p["schema_version"] >= 1
    assert p["timezone"] == "Europe/Rome"
    assert RFC3339_UTC.match(p["time"]), p["time"]
    dt.date.fromisoformat(p["today"])


def test_ping_pid_and_time_are_the_daemons(dsrd, ctl):
    p = ctl.ping()
    assert p["pid"] == dsrd.proc.pid
    t = dt.datetime.fromisoformat(p["time"].replace("Z", "+00:00"))
    now = dt.datetime.now(dt.timezone.utc)
    assert abs((now - t).total_seconds()) < 60
    # today is the date in Europe/Rome of the daemon's instant.
    rome = t.astimezone(_rome())
    assert p["today"] == rome.date().isoformat()


def _rome():
    from zoneinfo import ZoneInfo
    return ZoneInfo("Europe/Rome")


def test_uptime_grows(ctl):
    import time
    a = ctl.ping()["uptime"]
    time.sleep(1.1)
    b = ctl.ping()["uptime"]
    assert b >= a + 1


def test_socket_mode(dsrd):
    st = os.stat(dsrd.socket)
    assert stat.S_ISSOCK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o600


def test_ping_human(ctl):
    r = ctl.run(["ping"], json=False)
    assert r.rc == 0, r
    assert (REPO / "VERSION").read_text().strip() in r.out
    assert "up" in r.out


def test_dsrd_version():
    p = subprocess.run([DSRD_BIN, "--version"], capture_output=True,
                       text=True, timeout=20, env=_env())
    assert p.returncode == 0, p.stderr
    assert (REPO / "VERSION").read_text().strip() in p.stdout + p.stderr


def test_check_config(dsrd, tmp_path):
    p = subprocess.run([DSRD_BIN, "--check-config", "-c", str(dsrd.conf)],
                       capture_output=True, text=True, timeout=20,
                       env=_env())
    assert p.returncode == 0, p.stdout + p.stderr
    bad = tmp_path / "bad.conf"
    bad.write_text(dsrd.conf.read_text() + "\n[daemon]\nlog_level = loud\n")
    p = subprocess.run([DSRD_BIN, "--check-config", "-c", str(bad)],
                       capture_output=True, text=True, timeout=20,
                       env=_env())
    assert p.returncode != 0
    assert "log_level" in p.stderr + p.stdout


def test_dsrctl_no_daemon(ctl, tmp_path):
    r = ctl.run(["ping"], socket=str(tmp_path / "nothing.sock"))
    assert r.rc == 69, r
    assert set(r.out) == {"error"}
    assert isinstance(r.out["error"]["code"], int)
    assert r.out["error"]["message"]


def test_dsrctl_socket_from_env(dsrd, ctl):
    # No --socket: $DSRD_SOCKET names it.
    from conftest import DSRCTL_BIN
    p = subprocess.run([DSRCTL_BIN, "--json", "ping"], capture_output=True,
                       text=True, timeout=20,
                       env=_env(DSRD_SOCKET=str(dsrd.socket)))
    assert p.returncode == 0, p.stderr
    assert '"database"' in p.stdout


def test_usage_errors(ctl):
    for args in (["frobnicate"], ["show"], ["show", "abc"], ["show", "1.5"],
                 ["entity", "frob"], ["list", "--no-such-option"], []):
        r = ctl.run(args)
        assert r.rc == 64, (args, r)
        assert set(r.out) == {"error"}, (args, r.out)
        assert r.out["error"]["message"], (args, r.out)
