"""Several daemons starting together on one fresh database (SPEC §7: the
migrations run under an advisory lock): all come up on the same schema and
share the data. Its own module, so the database is fresh."""


def test_concurrent_start_on_fresh_database(daemons, pg):
    dds = [daemons("m%d" % i, wait=None) for i in range(3)]
    pings = [dd.wait_ready("up", timeout=30) for dd in dds]
    versions = {p["schema_version"] for p in pings}
    assert len(versions) == 1 and isinstance(versions.pop(), int)
    body = dds[0].ctl.entity()["code"]
    a = dds[1].ctl.file(body, idempotency_key="same")
    b = dds[2].ctl.file(body, idempotency_key="same")
    assert a["id"] == b["id"] and b["created"] is False
    assert [r["id"] for r in dds[0].ctl.list("--entity", body)] == [a["id"]]
    assert pg.count("requests") == 1
    logs = [dd.log_text() for dd in dds]
    assert not any("ERROR: AddressSanitizer" in t for t in logs)
