"""Server limits (issue 5, docs/protocol.md error 7): max_clients and
max_clients_per_uid refuse the extra connection with a clear error (code 7,
dsrctl exit 69) and a log line while the others keep being served; an idle
connection is closed after idle_timeout with an error line, a busy one (or
one waiting for a slow answer) is not; a client that pipelines thousands of
requests and reads no answer costs the daemon bounded memory and delays
nobody else. (A message over 1 MiB is tested in test_protocol.py.)

Connections as a user other than root are opened with the test process's
effective uid switched for the connect() alone: SO_PEERCRED records the
credentials of connect() time.
"""

import json
import os
import pwd
import subprocess
import time

import pytest

import helpers
from conftest import _env, sanitizer_errors
from helpers import RawConn, assert_rpc_error, euid

MIB = 1024 * 1024


def nobody():
    try:
        pw = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user nobody")
    if os.geteuid() != 0:
        pytest.skip("needs root to connect as another user")
    return pw


def connect_as(path, pw=None, timeout=10.0):
    if pw is None:
        return RawConn(str(path), timeout)
    with euid(pw):
        return RawConn(str(path), timeout)


def ping_ok(c, id=1):
    resp = c.call("ping", id=id)
    assert resp.get("id") == id and resp["result"]["database"] == "up", resp
    return resp


def expect_limit(c, words):
    """The refusal of a connection: one error line (code 7, id null) that
    says why, then the end of the connection."""
    resp = c.recv()
    assert_rpc_error(resp, 7)
    assert resp["id"] is None, resp
    assert words in resp["error"]["message"], resp
    c.expect_eof()
    return resp


def vmrss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS for pid %d" % pid)


def in_log(dd, text, timeout=5):
    helpers.wait_until(lambda: text in dd.log_text(), timeout,
                       what="%r in the log" % text)


# ---------------------------------------------------------------- max_clients

def test_max_clients(daemons):
    dd = daemons("maxcl", overrides={"daemon": {"max_clients": 3}})
    held = [RawConn(str(dd.socket)) for _ in range(3)]
    try:
        for i, c in enumerate(held):
            ping_ok(c, id=i)
        with RawConn(str(dd.socket)) as extra:
            extra.send_obj({"jsonrpc": "2.0", "id": 9, "method": "ping"})
            expect_limit(extra, "too many clients")
        r = dd.ctl.run(["ping"])
        assert r.rc == 69, r
        assert r.out["error"]["code"] == 7, r.out
        r = dd.ctl.run(["ping"], json=False)
        assert r.rc == 69 and "too many clients" in r.err, r
        in_log(dd, "max_clients (3) reached")
        # The ones in keep being served, more than once.
        for i, c in enumerate(held):
            ping_ok(c, id=10 + i)
            ping_ok(c, id=20 + i)
    finally:
        held.pop().close()
    # One left: there is room again.
    assert dd.ctl.ping()["database"] == "up"
    for c in held:
        ping_ok(c, id=30)
        c.close()


# ---------------------------------------------------------------- per uid

def test_max_clients_per_uid(daemons, dsrctl_bin):
    pw = nobody()
    dd = daemons("peruid", overrides={
        "daemon": {"max_clients_per_uid": 2, "socket_mode": "0666"},
        "access": {"operator": "nobody"}}, start=False)
    dd.dir.chmod(0o755)
    dd.start()
    mine = [connect_as(dd.socket, pw) for _ in range(2)]
    roots = []
    try:
        for i, c in enumerate(mine):
            ping_ok(c, id=i)
        extra = connect_as(dd.socket, pw)
        extra.send_obj({"jsonrpc": "2.0", "id": 9, "method": "ping"})
        expect_limit(extra, "too many connections from this user")
        extra.close()
        # dsrctl as that user: the same refusal, exit 69.
        p = subprocess.run(["runuser", "-u", "nobody", "--", dsrctl_bin,
                            "--socket", str(dd.socket), "--json", "ping"],
                           capture_output=True, timeout=30, env=_env())
        assert not sanitizer_errors(p.stderr.decode()), p.stderr
        assert p.returncode == 69, p
        doc = json.loads(p.stdout)
        assert doc["error"]["code"] == 7, doc
        in_log(dd, "refused connection from uid %d: max_clients_per_uid (2) "
               "reached" % pw.pw_uid)
        # Root (admin) has no per-uid limit; the user's own two still work.
        roots = [RawConn(str(dd.socket)) for _ in range(4)]
        for i, c in enumerate(roots):
            ping_ok(c, id=40 + i)
        assert dd.ctl.ping()["database"] == "up"
        for i, c in enumerate(mine):
            ping_ok(c, id=50 + i)
        # One of the user's closes: the user may connect again.
        mine.pop().close()

        def again():
            c = connect_as(dd.socket, pw)
            c.send_obj({"jsonrpc": "2.0", "id": 60, "method": "ping"})
            resp = c.recv()
            if "result" in resp:
                mine.append(c)
                return True
            c.close()
            return False
        helpers.wait_until(again, 5, what="room for the user again")
    finally:
        for c in mine + roots:
            c.close()


# ---------------------------------------------------------------- idle

def test_idle_timeout(daemons, pg):
    dd = daemons("idle", overrides={"daemon": {"idle_timeout": "1s"}})
    ctl = dd.ctl
    body = ctl.entity()["code"]
    rid = ctl.file(body)["id"]

    idle = RawConn(str(dd.socket))
    busy = RawConn(str(dd.socket))
    waiting = RawConn(str(dd.socket))
    locker = None
    try:
        ping_ok(idle)
        t0 = time.monotonic()
        # The request's row locked by another session: the withdraw below
        # waits for it far longer than idle_timeout.
        locker = lock_row(pg, rid)
        waiting.send_obj({"jsonrpc": "2.0", "id": 7,
                          "method": "request.withdraw",
                          "params": {"id": rid}})

        # A client that keeps talking is never idle.
        end = time.monotonic() + 3
        n = 0
        while time.monotonic() < end:
            ping_ok(busy, id=n)
            n += 1
            time.sleep(0.3)
        ping_ok(busy, id=n)
        assert n >= 8

        # The idle one got a last line saying why, then the end.
        resp = idle.recv(timeout=1)
        assert_rpc_error(resp, 7)
        assert resp["id"] is None and "idle" in resp["error"]["message"]
        idle.expect_eof(timeout=1)
        in_log(dd, "idle for 1 s: disconnected")

        # The one waiting for its answer is not idle: still open, silent.
        waiting.expect_silence(0.5)
        assert time.monotonic() - t0 > 3
        unlock(locker)
        resp = waiting.recv(timeout=10)
        assert resp["id"] == 7 and resp["result"]["status"] == "withdrawn", \
            resp
        # Answered, it is idle now like any other (how soon: below).
        resp = waiting.recv(timeout=5)
        assert_rpc_error(resp, 7)
        waiting.expect_eof(timeout=1)
        assert ctl.ping()["database"] == "up"
    finally:
        if locker is not None:
            unlock(locker)
        for c in (idle, busy, waiting):
            c.close()


def lock_row(pg, rid):
    """A psql session holding the request's row lock until COMMIT."""
    p = subprocess.Popen(["psql", pg.conninfo, "-XAtq"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    p.stdin.write("BEGIN; SELECT id FROM requests WHERE id = %d FOR UPDATE;"
                  "\n" % rid)
    p.stdin.flush()
    assert p.stdout.readline().strip() == str(rid)
    return p


def unlock(p):
    if p.poll() is None:
        p.stdin.write("COMMIT;\n")
        p.stdin.flush()
        p.stdin.close()
    p.wait(10)


def test_idle_clock_starts_after_the_answer(daemons, pg):
    dd = daemons("idle2", overrides={"daemon": {"idle_timeout": "2s"}})
    rid = dd.ctl.file(dd.ctl.entity()["code"])["id"]
    locker = lock_row(pg, rid)
    try:
        with RawConn(str(dd.socket)) as c:
            c.send_obj({"jsonrpc": "2.0", "id": 1,
                        "method": "request.withdraw", "params": {"id": rid}})
            time.sleep(3.3)         # between two idle ticks (2 s, 4 s)
            unlock(locker)
            assert c.recv(timeout=10)["result"]["status"] == "withdrawn"
            t = time.monotonic()
            resp = c.recv(timeout=10)
            assert_rpc_error(resp, 7)
            quiet = time.monotonic() - t
            assert quiet >= 1.5, "closed as idle %.2f s after its answer " \
                "(idle_timeout 2 s)" % quiet
    finally:
        unlock(locker)


# ---------------------------------------------------------------- slow reader

def test_pipelining_client_that_never_reads(daemons):
    """2000 requests whose answers add up to hundreds of MiB, and the
    client reads none: dsrd stops working for it once its output is
    bounded, its memory stays flat, the others are served, and the client
    goes on, in order, once it reads."""
    dd = daemons("hog", start=False)
    # ASan keeps freed memory in quarantine (256 MiB by default), which
    # would be counted as the daemon's: keep it small here.
    dd.env = {"ASAN_OPTIONS": "detect_leaks=1:quarantine_size_mb=8"}
    dd.start()
    ctl = dd.ctl
    body = ctl.entity()["code"]
    n_req, n_pipe = 100, 2000
    summary = "x" * 1500
    with RawConn(str(dd.socket)) as c:
        for i in range(n_req):
            c.send_obj({"jsonrpc": "2.0", "id": i, "method": "request.file",
                        "params": {"entity": body, "type": "access",
                                   "subject_name": "Persona %d" % i,
                                   "summary": summary}})
        for i in range(n_req):
            assert c.recv()["id"] == i
        one = c.call("request.list", {"entity": body, "limit": n_req})
    answer = len(json.dumps(one))
    assert answer * n_pipe > 256 * MIB, answer     # unbounded would show

    pid = dd.proc.pid
    rss0 = vmrss_kib(pid)
    hog = RawConn(str(dd.socket), timeout=30)
    try:
        msg = b"".join(json.dumps({
            "jsonrpc": "2.0", "id": i, "method": "request.list",
            "params": {"entity": body, "limit": n_req}}).encode() + b"\n"
            for i in range(n_pipe))
        assert hog.send(msg)
        # Meanwhile, everybody else is served promptly.
        for _ in range(5):
            t = time.monotonic()
            assert ctl.ping()["database"] == "up"
            assert len(ctl.list("--entity", body, "--limit", 5)) == 5
            assert time.monotonic() - t < 5
            time.sleep(0.3)
        rss1 = vmrss_kib(pid)
        assert rss1 - rss0 < 64 * 1024, \
            "dsrd grew from %d to %d KiB for one client" % (rss0, rss1)
        assert dd.alive()
        # It goes on once the client reads, in order (the first few
        # hundred answers: far more than the output bound holds).
        for i in range(300):
            resp = hog.recv()
            assert resp["id"] == i, resp
            assert len(resp["result"]["requests"]) == n_req
    finally:
        hog.close()
    assert ctl.ping()["database"] == "up"
