"""Crashes and outages under load (SPEC §7: "a command is acknowledged only
after COMMIT"): eight clients file requests concurrently, each with its own
idempotency key, while dsrd is killed with SIGKILL or PostgreSQL is stopped
and started under it. Afterwards every acknowledged request is stored once,
none twice, none half-written (its 'file' audit event and its outbox rows
are there, the audit trail verifies), nothing was stored that nobody tried
to file, and filing the unacknowledged keys again creates each one at most
once.
"""

import threading
import time

import pytest

import helpers
from helpers import RawConn

DPO_MAIL = "dpo@consorzio.example.it"
STAFF_MAIL = "protocollo@comune.example.it"
# request.filed goes to the DPO and to the body's staff address.
FILED_ROWS = 2
THREADS = 8


class Burst:
    """THREADS clients filing requests with unique idempotency keys until
    stopped; every attempt is recorded as (key, exit code, document,
    monotonic time when it ended)."""

    def __init__(self, ctl, body, tag):
        self.ctl, self.body, self.tag = ctl, body, tag
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.attempts = []
        self.errors = []
        self.threads = [threading.Thread(target=self._run, args=(i,))
                        for i in range(THREADS)]

    def _run(self, t):
        i = 0
        try:
            while not self.stop_ev.is_set():
                key = "%s-%d-%d" % (self.tag, t, i)
                i += 1
                r = self.ctl.run(["file", "--entity", self.body, "--type",
                                  "access", "--subject-name",
                                  "Persona %d %d" % (t, i),
                                  "--idempotency-key", key], timeout=60)
                with self.lock:
                    self.attempts.append((key, r.rc, r.out,
                                          time.monotonic()))
                if r.rc != 0:
                    time.sleep(0.2)
        except BaseException as e:      # reported by stop()
            with self.lock:
                self.errors.append(repr(e))

    def start(self):
        for th in self.threads:
            th.start()
        return self

    def stop(self):
        self.stop_ev.set()
        for th in self.threads:
            th.join(90)
        assert not any(th.is_alive() for th in self.threads)
        assert not self.errors, self.errors

    def acked(self, since=None):
        with self.lock:
            return [a for a in self.attempts if a[1] == 0
                    and (since is None or a[3] > since)]

    def failed(self, since=None):
        with self.lock:
            return [a for a in self.attempts if a[1] != 0
                    and (since is None or a[3] > since)]

    def wait_acked(self, n, since=None, timeout=60):
        helpers.wait_until(lambda: len(self.acked(since)) >= n, timeout,
                           interval=0.05, what="%d acknowledged files" % n)


def stored(pg, body):
    """{idempotency key: [(id, 'file' audit events, request.filed outbox
    rows)]} of the body's requests."""
    out = pg.sql(
        "SELECT r.idempotency_key, r.id,"
        " (SELECT count(*) FROM audit_events a WHERE a.request_id = r.id"
        "  AND a.action = 'file'),"
        " (SELECT count(*) FROM outbox o WHERE o.request_id = r.id"
        "  AND o.event = 'request.filed')"
        " FROM requests r JOIN entities e ON e.id = r.entity_id"
        " WHERE e.code = '%s' ORDER BY r.id" % body)
    rows = {}
    for line in out.splitlines():
        key, rid, aud, ob = line.split("|")
        rows.setdefault(key, []).append((int(rid), int(aud), int(ob)))
    return rows


def check_consistent(ctl, pg, body, burst):
    """Every acknowledged request stored exactly once and whole; nothing
    stored that was not tried; then the unacknowledged keys filed again,
    each created at most once. Returns (acknowledged, refiled created)."""
    rows = stored(pg, body)
    tried = {a[0] for a in burst.attempts}
    acked = {a[0]: a[2] for a in burst.acked()}
    assert acked, "no file was acknowledged"
    assert set(rows) <= tried, "stored keys nobody filed: %r" % (
        set(rows) - tried)
    for key, doc in acked.items():
        assert key in rows, "acknowledged %s (id %s) was lost" % (
            key, doc["id"])
        assert len(rows[key]) == 1, (key, rows[key])
        assert rows[key][0][0] == doc["id"], (key, rows[key], doc["id"])
        assert doc["created"] is True, doc
    for key, rs in rows.items():
        assert len(rs) == 1, "key %s stored twice: %r" % (key, rs)
        rid, aud, ob = rs[0]
        assert aud == 1, "request %d has %d 'file' events" % (rid, aud)
        assert ob == FILED_ROWS, "request %d has %d request.filed rows" % (
            rid, ob)
    # The same through the API: the key finds the request it acknowledged.
    for key, doc in list(acked.items())[:10]:
        again = ctl.file(body, name="Altro Nome", idempotency_key=key)
        assert again["created"] is False and again["id"] == doc["id"]
        assert again["subject"]["name"] == doc["subject"]["name"]
    assert ctl.ok("audit", "verify")["ok"] is True

    # Filed again (pipelined on one connection, twice each): created
    # exactly when it had not been stored.
    unacked = sorted(tried - set(acked))
    created = 0
    with RawConn(str(ctl.socket), timeout=60) as c:
        for n in range(2):
            for i, key in enumerate(unacked):
                c.send_obj({"jsonrpc": "2.0", "id": i,
                            "method": "request.file",
                            "params": {"entity": body, "type": "access",
                                       "subject_name": "Di Nuovo",
                                       "idempotency_key": key}})
            for i, key in enumerate(unacked):
                resp = c.recv()
                assert resp["id"] == i and "result" in resp, resp
                new = resp["result"]["created"]
                assert new is (n == 0 and key not in rows), (key, resp,
                                                             rows.get(key))
                created += new
    print("%d acknowledged, %d not (%d of them stored without an answer)"
          % (len(acked), len(unacked), len(unacked) - created))
    after = stored(pg, body)
    assert set(after) == tried
    assert all(len(v) == 1 and v[0][1:] == (1, FILED_ROWS)
               for v in after.values()), after
    assert pg.count("requests r JOIN entities e ON e.id = r.entity_id",
                    "e.code = '%s'" % body) == len(tried)
    assert ctl.ok("audit", "verify")["ok"] is True
    return len(acked), created


CONF = {"dpo": {"email": DPO_MAIL}}


def test_sigkill_during_burst(daemons, pg):
    dd = daemons("crash", overrides=CONF)
    ctl = dd.ctl
    body = ctl.entity(email=STAFF_MAIL)["code"]
    burst = Burst(ctl, body, helpers.uniq("k")).start()
    try:
        burst.wait_acked(24)
        dd.kill()
        killed = time.monotonic()
        # Everybody notices; nobody may hang.
        helpers.wait_until(lambda: len(burst.failed(killed)) >= THREADS, 30,
                           what="every client to see the daemon gone")
    finally:
        burst.stop()
    for key, rc, doc, at in burst.attempts:
        assert rc in (0, 69), (key, rc, doc)
        if rc == 69:
            assert doc["error"]["code"] == 5, doc
    assert all(a[3] <= killed + 0.5 for a in burst.acked()), \
        "a file was acknowledged after SIGKILL"
    dd.start()
    n_acked, _ = check_consistent(ctl, pg, body, burst)
    assert n_acked >= 24


@pytest.fixture
def pg_restored(pg):
    """Whatever happens in the test, the cluster runs again afterwards."""
    yield pg
    pg.start()


def _db(ctl):
    r = ctl.run(["ping"], timeout=10)
    assert r.rc == 0, r
    return r.out["database"]


def test_postgresql_restart_during_burst(daemons, pg_restored):
    pg = pg_restored
    dd = daemons("pgburst", overrides=CONF)
    ctl = dd.ctl
    pid = ctl.ping()["pid"]
    body = ctl.entity(email=STAFF_MAIL)["code"]
    burst = Burst(ctl, body, helpers.uniq("p")).start()
    try:
        burst.wait_acked(16)
        pg.stop()
        down = time.monotonic()
        helpers.wait_until(lambda: _db(ctl) == "down", 20,
                           what='ping to say database "down"')
        # While it is down, files fail with 69 (unavailable), promptly.
        helpers.wait_until(lambda: len(burst.failed(down + 0.5)) >= THREADS,
                           30, what="files refused while the database is "
                           "down")
        pg.start()
        up = time.monotonic()
        burst.wait_acked(16, since=up, timeout=60)
    finally:
        burst.stop()
    assert dd.alive() and ctl.ping()["pid"] == pid, "dsrd restarted"
    assert _db(ctl) == "up"
    for key, rc, doc, at in burst.attempts:
        assert rc in (0, 69), (key, rc, doc)
        if rc == 69:
            assert doc["error"]["code"] == 5, doc
    refused = burst.failed(down)
    assert refused and all(a[3] < up + 30 for a in refused)
    n_acked, _ = check_consistent(ctl, pg, body, burst)
    assert n_acked >= 32
