"""conftest: the end-to-end harness. Each test module gets its own throwaway
PostgreSQL cluster (scripts/pgtmp) in a private temp directory and, through
the fixtures below, real dsrd processes (DSRD_BIN, the ASan build under
`make e2e`) talked to with the real dsrctl (DSRCTL_BIN) or with raw bytes on
the socket. Every daemon a test starts is stopped with SIGTERM at the end and
must exit 0 with a clean AddressSanitizer/LeakSanitizer log; the harness must
never leave a daemon or a cluster running, and never touch anything outside
its temp directory.

Expected dates are computed from the daemon's own `today` (ping), never from
the test machine's clock.
"""

import datetime as dt
import json as jsonlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest

import helpers

REPO = Path(__file__).resolve().parents[2]
DSRD_BIN = os.environ.get("DSRD_BIN", str(REPO / "build/asan/dsrd"))
DSRCTL_BIN = os.environ.get("DSRCTL_BIN", str(REPO / "build/asan/dsrctl"))
PGTMP = str(REPO / "scripts/pgtmp")
# Debian's libfaketime; the MT flavour because dsrd has threads (mail).
FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1"

SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                   "LeakSanitizer has encountered",
                   "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")

# Every daemon started in the current module, for log tails on failure.
_DAEMONS = []


def _env(**extra):
    """The environment for our binaries: nothing inherited that could point
    them elsewhere, sanitizers set to report and fail."""
    env = dict(os.environ)
    for k in ("DSRD_SOCKET", "DSRD_CONFIG", "NOTIFY_SOCKET", "LISTEN_FDS",
              "LISTEN_PID"):
        env.pop(k, None)
    env["ASAN_OPTIONS"] = "detect_leaks=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1"
    env.update(extra)
    return env


def faketime_env(utc):
    """The environment that starts dsrd's clock at the instant utc (an
    aware datetime or "YYYY-MM-DD HH:MM:SS" in UTC) and lets it run on in
    real time. The start is given as epoch seconds (FAKETIME_FMT=%s) because
    libfaketime parses a date with mktime, in whatever TZ the process has at
    that moment (dsrd sets TZ to its [deadlines] timezone). The monotonic
    clock stays real, so libevent's timers keep their pace. ASan wants to be
    the first library loaded and exits at start when another one is
    preloaded, hence verify_asan_link_order=0. Only for dsrd: dsrctl and
    psql keep the real clock."""
    if isinstance(utc, str):
        utc = dt.datetime.fromisoformat(utc).replace(tzinfo=dt.timezone.utc)
    assert utc.tzinfo is not None, "faketime_env needs an aware instant"
    return {"LD_PRELOAD": FAKETIME_LIB,
            "FAKETIME_FMT": "%s",
            "FAKETIME": "@%d" % int(utc.timestamp()),
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "ASAN_OPTIONS": "detect_leaks=1:verify_asan_link_order=0"}


def sanitizer_errors(text):
    return [m for m in SANITIZER_MARKS if m in text]


# ---------------------------------------------------------------- PostgreSQL

class PgCluster:
    """A pgtmp cluster: start/stop it mid-test (outages), run SQL on it."""

    def __init__(self, dir):
        self.dir = Path(dir)
        self.conninfo = None

    def start(self):
        p = subprocess.run([PGTMP, "start", str(self.dir)],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, "pgtmp start failed:\n" + p.stderr
        self.conninfo = p.stdout.strip().splitlines()[-1]
        return self.conninfo

    def stop(self):
        p = subprocess.run([PGTMP, "stop", str(self.dir)],
                           capture_output=True, text=True, timeout=120)
        assert p.returncode == 0, "pgtmp stop failed:\n" + p.stderr

    def sql(self, query):
        """Runs SQL with psql; returns its unaligned tuples-only output."""
        p = subprocess.run(["psql", self.conninfo, "-XAtqc", query],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, "psql %r failed:\n%s" % (query, p.stderr)
        return p.stdout.strip()

    def count(self, table, where=None):
        q = "SELECT count(*) FROM " + table
        if where:
            q += " WHERE " + where
        return int(self.sql(q))

    def counts(self):
        """Rows of the tables a failed command must not touch."""
        return {t: self.count(t) for t in ("entities", "requests",
                                           "audit_events")}


# ---------------------------------------------------------------- dsrctl

class CtlResult(NamedTuple):
    rc: int
    out: Any        # parsed JSON with json=True, else stdout text
    err: str


class Ctl:
    """Runs dsrctl against one socket."""

    def __init__(self, socket):
        self.socket = str(socket)

    def run(self, args, json=True, timeout=30, socket=None, env=None):
        """(exit code, parsed JSON or text, stderr). With json, stdout must be
        exactly one JSON document, whatever the exit code."""
        cmd = [DSRCTL_BIN, "--socket", socket or self.socket]
        if json:
            cmd.append("--json")
        cmd += [str(a) for a in args]
        p = subprocess.run(cmd, capture_output=True, timeout=timeout,
                           env=_env(**(env or {})))
        out = p.stdout.decode("utf-8")
        err = p.stderr.decode("utf-8", "replace")
        bad = sanitizer_errors(err)
        assert not bad, "dsrctl %r: sanitizer report:\n%s" % (args, err)
        if json:
            try:
                out = jsonlib.loads(out)
            except ValueError as e:
                raise AssertionError(
                    "dsrctl --json %r: stdout is not one JSON document (%s)"
                    "\nexit %d\nstdout: %r\nstderr: %s"
                    % (args, e, p.returncode, out, err))
            if p.returncode == 0:
                assert not (isinstance(out, dict) and "error" in out
                            and len(out) == 1), \
                    "exit 0 with an error document: %r" % out
        return CtlResult(p.returncode, out, err)

    def ok(self, *args):
        """Runs with --json, asserts success, returns the document."""
        r = self.run(args)
        assert r.rc == 0, "dsrctl %r: exit %d\n%r\n%s" % (args, r.rc, r.out,
                                                          r.err)
        return r.out

    def fail(self, args, rc, code=None, field=None):
        """Runs with --json, asserts exit code rc and an error document of
        the contract's shape; field (param name) must be named in it.
        Returns the error object."""
        r = self.run(args)
        assert r.rc == rc, "dsrctl %r: expected exit %d, got %d\n%r\n%s" % (
            args, rc, r.rc, r.out, r.err)
        assert isinstance(r.out, dict) and set(r.out) == {"error"}, r.out
        err = r.out["error"]
        assert isinstance(err.get("code"), int) and \
            not isinstance(err["code"], bool), r.out
        assert isinstance(err.get("message"), str) and err["message"], r.out
        if code is not None:
            assert err["code"] == code, r.out
        if field is not None:
            msg = err["message"].replace("-", "_")
            assert field in msg or field.replace("_", "-") in err["message"], \
                "error does not name %r: %r" % (field, err["message"])
        return err

    def ping(self):
        return self.ok("ping")

    def today(self):
        return dt.date.fromisoformat(self.ping()["today"])

    # Domain shortcuts ---------------------------------------------------

    def entity(self, code=None, name="Comune di Prova", **opts):
        code = code or helpers.uniq("e")
        return self.ok(*(["entity", "add", code, "--name", name]
                         + _opts(opts)))

    def file(self, entity, type="access", name="Mario Rossi", **opts):
        return self.ok(*(["file", "--entity", entity, "--type", type,
                          "--subject-name", name] + _opts(opts)))

    def list(self, *args):
        doc = self.ok("list", *args)
        assert isinstance(doc, dict) and isinstance(doc.get("requests"),
                                                     list), doc
        return doc["requests"]


def _opts(opts):
    out = []
    for k, v in opts.items():
        if v is None:
            continue
        out += ["--" + k.replace("_", "-"), str(v)]
    return out


# ---------------------------------------------------------------- dsrd

class Dsrd:
    """One dsrd with its own directory, config, socket and log files (one log
    per start, so each run's sanitizer report is checked on its own)."""

    def __init__(self, dir, pg, overrides=None, name="dsrd"):
        self.dir = Path(dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.pg = pg
        self.name = name
        self.socket = self.dir / "dsrd.sock"
        self.conf = self.dir / "dsrd.conf"
        self.proc = None
        self.runs = 0
        self.log = None
        self.ctl = Ctl(self.socket)
        self.env = {}       # extra environment of the next start (faketime)
        self.write_config(overrides)
        _DAEMONS.append(self)

    def config_sections(self, overrides=None):
        s = {
            "daemon": {"socket": str(self.socket), "socket_mode": "0600",
                       "log_level": "debug"},
            "database": {"conninfo": self.pg.conninfo},
            "deadlines": {"timezone": "Europe/Rome"},
        }
        for sect, keys in (overrides or {}).items():
            if keys is None:
                s.pop(sect, None)
                continue
            s.setdefault(sect, {})
            for k, v in keys.items():
                if v is None:
                    s[sect].pop(k, None)
                else:
                    s[sect][k] = str(v)
        return s

    def write_config(self, overrides=None, text=None):
        """Writes the config file: the defaults above with overrides
        ({section: {key: value or None to drop}}), or text as it is."""
        if text is None:
            lines = []
            for sect, keys in self.config_sections(overrides).items():
                lines.append("[%s]" % sect)
                lines += ["%s = %s" % kv for kv in keys.items()]
                lines.append("")
            text = "\n".join(lines)
        self.conf.write_text(text)

    def spawn(self, conf=None, log=None):
        """Starts a dsrd process without waiting; returns (Popen, log path).
        Used directly for a second daemon that is expected to fail."""
        log = Path(log) if log else self.dir / ("%s.spawn.%d.log"
                                                % (self.name, time.time_ns()))
        fh = open(log, "wb")
        p = subprocess.Popen([DSRD_BIN, "-c", str(conf or self.conf)],
                             stdin=subprocess.DEVNULL, stdout=fh, stderr=fh,
                             env=_env(**self.env), start_new_session=True)
        fh.close()
        return p, log

    def start(self, wait="up", timeout=20):
        """Starts dsrd; wait "up" (database up), "any" (ping answers) or None."""
        assert not self.alive(), "dsrd already running"
        self.runs += 1
        self.log = self.dir / ("%s.%d.log" % (self.name, self.runs))
        self.proc, _ = self.spawn(log=self.log)
        if wait:
            self.wait_ready(None if wait == "any" else wait, timeout)
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_text(self):
        if self.log is None or not self.log.exists():
            return ""
        return self.log.read_text("utf-8", "replace")

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    def try_ping(self, timeout=5):
        """ping's result, or None if it does not answer (yet)."""
        try:
            r = self.ctl.run(["ping"], timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return r.out if r.rc == 0 else None

    def wait_ready(self, db="up", timeout=20):
        """Polls ping until it answers (with that database state, if db)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                pytest.fail("dsrd exited with code %d while starting; log:\n%s"
                            % (self.proc.returncode, self.log_tail()))
            last = self.try_ping()
            if last is not None and (db is None or last.get("database") == db):
                return last
            time.sleep(0.1)
        pytest.fail("dsrd not ready (database %s) within %ss; last ping %r; "
                    "log:\n%s" % (db, timeout, last, self.log_tail()))

    def send_signal(self, sig):
        assert self.alive(), "dsrd is not running:\n" + self.log_tail()
        self.proc.send_signal(sig)

    def hup(self):
        self.send_signal(signal.SIGHUP)

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stops dsrd; it must exit 0 in time with a clean sanitizer log."""
        assert self.alive(), "dsrd died earlier (exit %r); log:\n%s" % (
            self.proc and self.proc.returncode, self.log_tail())
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail("dsrd did not exit within %ss of %s; log:\n%s"
                        % (timeout, signal.Signals(sig).name, self.log_tail()))
        self.check_log()
        assert rc == 0, "dsrd exited %d on %s; log:\n%s" % (
            rc, signal.Signals(sig).name, self.log_tail())

    def check_log(self):
        text = self.log_text()
        bad = sanitizer_errors(text)
        assert not bad, "sanitizer report in the dsrd log:\n" + text[-8000:]

    def kill(self):
        """SIGKILL: no clean-up at all (leaves the socket file behind)."""
        self.proc.kill()
        self.proc.wait()

    def restart(self, wait="up"):
        self.stop()
        return self.start(wait)

    def cleanup(self):
        """Teardown: stop if still running (asserting a clean exit)."""
        if self.alive():
            self.stop()


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def workdir():
    d = Path(tempfile.mkdtemp(prefix="dsrd-e2e.", dir="/tmp"))
    # The cluster runs as user postgres when we are root: it must reach it.
    d.chmod(0o755)
    yield d
    if os.environ.get("DSRD_E2E_KEEP"):
        print("\nkept", d)
    else:
        shutil.rmtree(d, ignore_errors=True)


def as_user(dd, bin, user, *args):
    """dsrctl --json run as another Unix user (bin: the dsrctl_bin copy);
    (exit code, the JSON document)."""
    p = subprocess.run(["runuser", "-u", user, "--", bin, "--socket",
                        str(dd.socket), "--json"] + [str(a) for a in args],
                       capture_output=True, timeout=60, env=_env())
    err = p.stderr.decode("utf-8", "replace")
    assert not sanitizer_errors(err), err
    assert p.stdout, "dsrctl as %s printed nothing: %s" % (user, err)
    return p.returncode, jsonlib.loads(p.stdout.decode())


@pytest.fixture(scope="module")
def unix_user(request):
    """A throwaway Unix user (no home, no login shell) for a module's tests
    of the staff role: its name. Removed at the end of the module."""
    name = "dsr%s%x" % (request.module.__name__[5:8], os.getpid() & 0xfffff)
    subprocess.run(["useradd", "-r", "-M", "-s", "/usr/sbin/nologin", name],
                   check=True, capture_output=True)
    yield name
    for _ in range(20):
        if subprocess.run(["userdel", name], capture_output=True
                          ).returncode == 0:
            break
        time.sleep(0.2)


@pytest.fixture(scope="module")
def dsrctl_bin(workdir):
    """dsrctl where every user may run it: the build tree may sit in a
    private directory (a clone under mktemp -d is 0700), so tests that run
    dsrctl as another Unix user use this copy."""
    dst = workdir / "dsrctl"
    if not dst.exists():
        shutil.copy2(DSRCTL_BIN, dst)
        dst.chmod(0o755)
    return str(dst)


@pytest.fixture(scope="module")
def pg(workdir):
    c = PgCluster(workdir / "pg")
    c.start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def daemons(workdir, pg):
    """A factory: daemons(name, overrides=None, wait="up") -> started Dsrd.
    Every daemon is stopped (and checked) at the end of the module."""
    made = []

    def make(name="dsrd", overrides=None, wait="up", start=True):
        dd = Dsrd(workdir / name, pg, overrides, name=name)
        made.append(dd)
        if start:
            dd.start(wait)
        return dd

    yield make
    errors = []
    for dd in made:
        try:
            dd.cleanup()
        except BaseException as e:      # keep stopping the others
            if dd.alive():
                dd.proc.kill()
                dd.proc.wait()
            errors.append("%s: %s" % (dd.name, e))
    _DAEMONS.clear()
    if errors:
        pytest.fail("\n".join(errors))


@pytest.fixture(scope="module")
def dsrd(daemons):
    """The module's shared daemon, up with the database."""
    return daemons("dsrd")


@pytest.fixture(scope="module")
def ctl(dsrd):
    return dsrd.ctl


@pytest.fixture(scope="module")
def today(ctl):
    """The daemon's today (its clock, its time zone)."""
    return ctl.today()


@pytest.fixture
def unchanged(pg, dsrd):
    """Asserts at the end of the test that no row was written to the main
    tables (for tests of refused input)."""
    before = pg.counts()
    yield
    assert pg.counts() == before, "a refused command wrote rows"


@pytest.fixture
def own_cluster(workdir):
    """A cluster of the test's own and a factory of daemons on it:
    make(name, when=None, overrides=None, start=True) -> Dsrd, under
    libfaketime from the instant when (see faketime_env) if given. For
    faked clocks, which would otherwise raise alerts on the module's
    cluster. Every daemon is stopped (and checked), then the cluster."""
    base = workdir / helpers.uniq("own")
    pg = PgCluster(base / "pg")
    pg.start()
    made = []

    def make(name="dsrd", when=None, overrides=None, start=True):
        dd = Dsrd(base / name, pg, overrides, name=name)
        made.append(dd)
        if when is not None:
            dd.env = faketime_env(when)
        if start:
            dd.start()
        return dd
    try:
        yield pg, make
    finally:
        errors = []
        for dd in made:
            try:
                dd.cleanup()
            except BaseException as e:      # keep stopping the others
                if dd.alive():
                    dd.proc.kill()
                    dd.proc.wait()
                errors.append("%s: %s" % (dd.name, e))
            if dd in _DAEMONS:
                _DAEMONS.remove(dd)
        pg.stop()
        if errors:
            pytest.fail("\n".join(errors))


def pytest_sessionstart(session):
    for name, path in (("DSRD_BIN", DSRD_BIN), ("DSRCTL_BIN", DSRCTL_BIN)):
        if not os.access(path, os.X_OK):
            pytest.exit("%s=%s is not an executable: build it first "
                        "(make build/asan/dsrd build/asan/dsrctl)"
                        % (name, path), returncode=2)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for dd in _DAEMONS:
            if dd.log is not None:
                rep.sections.append(("%s log tail" % dd.name,
                                     dd.log_tail(60)))
