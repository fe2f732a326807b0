"""PostgreSQL going away under a running dsrd (SPEC §7): the daemon stays up,
answers ping with database "down", refuses work with "unavailable" (exit
69), comes back by itself, and nothing it refused was written."""

import pytest

from helpers import uniq, wait_until


@pytest.fixture
def pg_restored(pg):
    """Whatever happens in the test, the cluster runs again afterwards."""
    yield pg
    pg.start()


def _db_state(ctl):
    r = ctl.run(["ping"], timeout=10)
    assert r.rc == 0, "ping must answer whatever the database does: %r" % (
        r,)
    return r.out["database"]


def test_database_outage(daemons, pg_restored):
    pg = pg_restored
    dd = daemons("outage")
    ctl = dd.ctl
    body = ctl.entity()["code"]
    kept = ctl.file(body, name="Prima Persona")
    before = pg.counts()

    pg.stop()
    wait_until(lambda: _db_state(ctl) == "down", 15,
               what='ping to say database "down"')
    down_key = uniq("down")
    ctl.fail(["file", "--entity", body, "--type", "access",
              "--subject-name", "Durante Guasto", "--idempotency-key",
              down_key], 69, code=5)
    ctl.fail(["entity", "add", uniq("down"), "--name", "X"], 69, code=5)
    ctl.fail(["show", str(kept["id"])], 69, code=5)
    ctl.fail(["list"], 69, code=5)
    ctl.fail(["entity", "list"], 69, code=5)
    assert _db_state(ctl) == "down"
    assert dd.alive()

    pg.start()
    up_key = uniq("up")

    def file_again():
        r = ctl.run(["file", "--entity", body, "--type", "access",
                     "--subject-name", "Dopo Guasto", "--idempotency-key",
                     up_key])
        if r.rc == 0:
            return r.out
        assert r.rc == 69, r
        return None
    after = wait_until(file_again, 20, interval=0.5,
                       what="file to work again after the outage")
    assert after["created"] is True
    assert _db_state(ctl) == "up"

    # Only the request filed after the outage is new.
    now = pg.counts()
    assert now["requests"] == before["requests"] + 1
    assert now["entities"] == before["entities"]
    assert ctl.ok("show", kept["id"])["subject"]["name"] == "Prima Persona"
    refiled = ctl.file(body, name="Durante Guasto", idempotency_key=down_key)
    assert refiled["created"] is True, "a refused request had been stored"
    names = [r["subject"]["name"] for r in ctl.list("--entity", body)]
    assert sorted(names) == ["Dopo Guasto", "Durante Guasto",
                             "Prima Persona"]


def test_outage_twice(daemons, pg_restored):
    # The reconnect logic must survive more than one outage.
    pg = pg_restored
    dd = daemons("outage2")
    body = dd.ctl.entity()["code"]
    for _ in range(2):
        pg.stop()
        wait_until(lambda: _db_state(dd.ctl) == "down", 15,
                   what="database down")
        pg.start()
        wait_until(lambda: _db_state(dd.ctl) == "up", 20,
                   what="database up again")
        assert dd.ctl.file(body)["entity"] == body
