"""The daemon's life (SPEC §7): SIGTERM/SIGINT exit 0 with nothing lost, a
second daemon on a live socket refuses to start, a stale socket left by
SIGKILL is taken over, SIGHUP reloads and a broken config keeps the old one.
Each test has its own daemon on the module's cluster."""

import json
import os
import signal
import time

from helpers import RawConn, wait_until


def _snapshot(ctl, body, ids):
    ents = [e for e in ctl.ok("entity", "list")["entities"]
            if e["code"] == body]
    shows = [ctl.ok("show", i) for i in ids]
    return ents, shows, ctl.list("--entity", body)


def test_restart_keeps_everything(daemons):
    dd = daemons("restart")
    ctl = dd.ctl
    body = ctl.entity(holidays="06-26", email="ufficio@comune.example.it")[
        "code"]
    ids = [ctl.file(body, received="2026-01-31")["id"],
           ctl.file(body, type="erasure", summary="riga uno\nriga due")["id"],
           ctl.file(body, received="2025-05-26", idempotency_key="r1")["id"]]
    before = _snapshot(ctl, body, ids)
    pid = dd.proc.pid
    dd.stop()
    assert ctl.run(["ping"]).rc == 69
    dd.start()
    p = ctl.ping()
    assert p["pid"] != pid
    assert p["uptime"] < 60
    assert _snapshot(ctl, body, ids) == before
    again = ctl.file(body, idempotency_key="r1")
    assert again["id"] == ids[2] and again["created"] is False
    new = ctl.file(body)
    assert new["id"] > max(ids)


def test_sigint_exits_zero(daemons):
    dd = daemons("sigint")
    dd.ctl.entity()
    dd.stop(sig=signal.SIGINT)


def test_shutdown_with_idle_clients(daemons):
    dd = daemons("idle")
    conns = [RawConn(str(dd.socket)) for _ in range(3)]
    try:
        conns[1].send(b'{"jsonrpc":"2.0","id":1,"meth')   # half a line
        assert "result" in conns[2].call("ping", id=1)
        t = time.monotonic()
        dd.stop()           # must not wait for clients to hang up
        assert time.monotonic() - t < 10
        for c in conns:
            c.expect_eof(timeout=5)
    finally:
        for c in conns:
            c.close()


def test_sigterm_with_requests_in_flight(daemons):
    # Whatever dsrd answered with a result before it stopped is durable;
    # what it did not start is refused as unavailable (or dropped with the
    # connection), never done half-way or silently.
    dd = daemons("inflight")
    body = dd.ctl.entity()["code"]
    c = RawConn(str(dd.socket))
    try:
        c.send(b"".join(
            b'{"jsonrpc":"2.0","id":%d,"method":"request.file","params":'
            b'{"entity":"%s","type":"access","subject_name":"P %d",'
            b'"idempotency_key":"f%d"}}\n' % (i, body.encode(), i, i)
            for i in range(30)))
        dd.stop()
        answered = {}
        while True:
            line = c.recv_line(timeout=5)
            if line is None:
                break
            resp = json.loads(line)
            if "result" in resp:
                answered[resp["id"]] = resp["result"]["id"]
            else:
                assert resp["error"]["code"] == 5, resp
    finally:
        c.close()
    dd.start()
    for i, rid in answered.items():
        assert dd.ctl.ok("show", rid)["subject"]["name"] == "P %d" % i
    listed = dd.ctl.list("--entity", body)
    # acknowledged ones are all there, and a clean stop finishes what it
    # started: nothing was committed without its answer being sent
    assert set(answered.values()) == {r["id"] for r in listed}


def test_second_daemon_refuses(daemons):
    first = daemons("second")
    body = first.ctl.entity()["code"]
    p, log = first.spawn()
    try:
        rc = p.wait(15)
    except Exception:
        p.kill()
        p.wait()
        raise AssertionError("the second dsrd kept running")
    text = log.read_text("utf-8", "replace")
    assert rc != 0
    assert text.strip(), "the second dsrd said nothing"
    assert "socket" in text.lower() or "running" in text.lower(), text
    assert "AddressSanitizer" not in text and "LeakSanitizer" not in text
    # The first keeps serving, on new connections too (its socket file was
    # not removed).
    assert first.alive()
    assert os.path.exists(first.socket)
    with RawConn(str(first.socket)) as c:
        assert c.call("ping")["result"]["database"] == "up"
    assert first.ctl.file(body)["entity"] == body


def test_stale_socket_after_sigkill(daemons):
    dd = daemons("stale")
    body = dd.ctl.entity()["code"]
    rid = dd.ctl.file(body)["id"]
    dd.kill()
    assert os.path.exists(dd.socket), "SIGKILL should leave the socket file"
    assert dd.ctl.run(["ping"]).rc == 69
    dd.start()
    assert dd.ctl.ok("show", rid)["entity"] == body


def _new_log_after(dd, fn, timeout=5, want=None):
    """Runs fn and returns what the daemon logs afterwards (waits until
    something, or want, appears)."""
    size = len(dd.log_text())
    fn()

    def grown():
        t = dd.log_text()[size:]
        if want is None:
            return t if t.strip() else None
        return t if want in t.lower() else None
    try:
        return wait_until(grown, timeout, what="a log line")
    except AssertionError:
        return dd.log_text()[size:]


def test_sighup_broken_config_keeps_serving(daemons):
    dd = daemons("hup")
    good = dd.conf.read_text()
    body = dd.ctl.entity()["code"]
    broken = [
        "[daemon\nsocket = /nowhere\n",                       # syntax
        good + "\n[daemon]\nlog_level = shouting\n",          # bad value
        good + "\n[deadlines]\nforward_days = banana\n",
        good + "\n[deadlines]\ntimezone = Mars/Olympus_Mons\n",
    ]
    for text in broken:
        dd.conf.write_text(text)
        logged = _new_log_after(dd, dd.hup)
        assert dd.alive(), "dsrd died on a broken reload:\n" + logged
        assert logged.strip(), "a failed reload logged nothing"
        p = dd.ctl.ping()
        assert p["database"] == "up"
        assert p["timezone"] == "Europe/Rome"
        assert dd.ctl.file(body)["entity"] == body
    # no config file at all
    dd.conf.unlink()
    _new_log_after(dd, dd.hup)
    assert dd.alive()
    assert dd.ctl.ping()["database"] == "up"
    # a good one is applied and logged
    dd.conf.write_text(good.replace("log_level = debug", "log_level = info"))
    logged = _new_log_after(dd, dd.hup, want="reload")
    assert "reload" in logged.lower(), logged
    assert dd.alive()
    assert dd.ctl.ping()["database"] == "up"
    assert dd.ctl.file(body)["entity"] == body


def test_sighup_cannot_move_socket(daemons):
    dd = daemons("hupsock")
    good = dd.conf.read_text()
    other = dd.dir / "other.sock"
    dd.conf.write_text(good.replace(str(dd.socket), str(other)))
    logged = _new_log_after(dd, dd.hup, want="socket")
    assert "socket" in logged.lower(), logged
    assert dd.alive()
    assert dd.ctl.ping()["database"] == "up"
    assert not os.path.exists(other)
    dd.conf.write_text(good)
