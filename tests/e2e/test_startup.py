"""dsrd started before PostgreSQL, on a database it has never seen (SPEC
§7): it starts, answers ping with database "down" and refuses work with exit
69; once the cluster is up it connects by itself, applies the migrations and
works. Its own module, so the database is fresh."""

from helpers import uniq


def test_startup_with_database_down(daemons, pg):
    pg.stop()
    try:
        dd = daemons("late", wait="any")
        p = dd.ctl.ping()
        assert p["database"] == "down"
        assert p["schema_version"] is None
        dd.ctl.fail(["entity", "add", uniq("late"), "--name", "X"], 69,
                    code=5)
        dd.ctl.fail(["list"], 69, code=5)
    finally:
        pg.start()
    p = dd.wait_ready("up", timeout=30)
    assert isinstance(p["schema_version"], int) and p["schema_version"] >= 1
    assert pg.count("requests") == 0
    body = dd.ctl.entity()["code"]
    r = dd.ctl.file(body, received="2026-04-24")
    assert r["due_on"] == "2026-05-25"
    assert pg.count("requests") == 1
    # and a restart finds the schema in place
    dd.restart()
    assert dd.ctl.ping()["schema_version"] == p["schema_version"]
    assert dd.ctl.ok("show", r["id"])["due_on"] == "2026-05-25"
