"""The alert scheduler end to end (issue 3, SPEC §4 "Alerts"), with dsrd
under libfaketime so that the moments are known in advance: an alert is
raised at its moment (alert_time, 09:00 Europe/Rome = 08:00 UTC in winter)
and not before, once per request, kind and moment, across restarts and with
two daemons on one database; one missed by downtime or by a request filed
late is raised at once, but only the latest. Each test has a cluster of its
own (a faked clock must not touch anyone else's requests); the rows are
read with psql from the alerts and outbox tables.

The calendar the tests below reason with:

            November 2026                December 2026
        Mo Tu We Th Fr Sa Su        Mo Tu We Th Fr Sa Su
                           1            1  2  3  4  5  6
         2  3  4  5  6  7  8         7 [8] 9 10 11 12 13
         9 10 11 12 13 14 15        14 15 16 17 18 19 20
        16 17 18 19 20 21 22        21 22 23 24[25][26]27
        23 24 25 26 27 28 29        28 29 30 31
        30                          ([] national holidays)

An access request received Mon 2026-11-02 is due Wed 12-02 (one month, a
working day). Its alerts with the defaults (warn_days 3,1;
extension_decision_days 5):
  deadline_warning 3 days before: Sun 11-29 -> the working day before,
    Fri 11-27 09:00
  extension_decision: 12-02 - 5 = Fri 11-27 09:00 (same moment)
  deadline_warning 1 day before: Tue 12-01 09:00
  overdue: from Thu 12-03 09:00, every working day.
"""

import datetime as dt
import time
from zoneinfo import ZoneInfo

import helpers
from conftest import faketime_env

ROME = ZoneInfo("Europe/Rome")
DPO = "dpo@consorzio.example.it"
STAFF = "protocollo@comune.example.it"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CONF = {
    "dpo": {"email": DPO},
    "webhook all-events": {"url": "http://127.0.0.1:9/hook",
                           "secret": SECRET},
    "webhook alerts-only": {"url": "http://127.0.0.1:9/alerts",
                            "secret": SECRET,
                            "events": "request.deadline_warning,"
                                      "request.overdue"},
}
# Who hears of a warning or an overdue reminder: the DPO, the body's staff
# and both webhooks (SPEC §5).
ALERT_RECIPIENTS = sorted([("email", DPO), ("email", STAFF),
                           ("webhook", "all-events"),
                           ("webhook", "alerts-only")])


def at(day, hms="10:00:00"):
    """That local time in Europe/Rome, as an aware instant."""
    return dt.datetime.combine(helpers.d(day), dt.time.fromisoformat(hms),
                               tzinfo=ROME)


def alerts(pg, rid):
    """(kind, moment UTC, due_on) of a request, oldest first."""
    out = pg.sql("SELECT kind, to_char(moment AT TIME ZONE 'UTC', "
                 "'YYYY-MM-DD HH24:MI'), due_on FROM alerts WHERE "
                 "request_id = %d ORDER BY moment, kind" % rid)
    return [tuple(line.split("|")) for line in out.splitlines()]


def alert_outbox(pg, rid):
    """(event, alert moment UTC, channel, recipient) of the alert
    notifications of a request, sorted; duplicates kept."""
    out = pg.sql("SELECT event, payload->'alert'->>'moment', channel, "
                 "recipient FROM outbox WHERE request_id = %d AND event IN "
                 "('request.deadline_warning', 'request.overdue', "
                 "'request.extension_decision') ORDER BY 1, 2, 3, 4" % rid)
    return [tuple(line.split("|")) for line in out.splitlines()]


def fanout(event, *moments):
    """The outbox rows of alerts at those moments ("YYYY-MM-DDTHH:MM:SSZ"):
    one per recipient each."""
    return sorted((event, m, ch, rc) for m in moments
                  for ch, rc in ALERT_RECIPIENTS)


def clock(dd):
    """The daemon's clock (ping), as an aware UTC datetime."""
    return dt.datetime.fromisoformat(dd.ctl.ping()["time"].replace(
        "Z", "+00:00"))


def wait_clock(dd, instant, timeout=30):
    """Sleeps until the daemon's clock has passed instant."""
    helpers.wait_until(lambda: clock(dd) > instant, timeout, interval=0.5,
                       what="dsrd's clock to pass %s" % instant)


def prepare(pg, make, n=1):
    """On Mon 2026-11-30 at noon, files n access requests received
    2026-11-02 (at a body with a staff address). Filing raises at once the
    latest alert already passed, and only it: the 3-day warning of Fri
    11-27 (same moment as the extension decision, which it outranks).
    Returns the request ids; the daemon is stopped."""
    dd = make("prep", at("2026-11-30", "12:00:00"), CONF)
    assert dd.ctl.ping()["today"] == "2026-11-30", "faketime is not working"
    code = dd.ctl.entity(email=STAFF)["code"]
    ids = []
    for _ in range(n):
        r = dd.ctl.file(code, type="access", received="2026-11-02")
        assert (r["statutory_due_on"], r["due_on"]) == ("2026-12-02",
                                                        "2026-12-02"), r
        ids.append(r["id"])
    want = [("deadline_warning", "2026-11-27 08:00", "2026-12-02")]
    for rid in ids:
        helpers.wait_until(lambda: alerts(pg, rid) == want, 10,
                           what="the catch-up warning of %d" % rid)
    dd.stop()
    for rid in ids:
        assert alerts(pg, rid) == want
        assert alert_outbox(pg, rid) == fanout(
            "request.deadline_warning", "2026-11-27T08:00:00Z")
    return ids


WARN_1201 = ("deadline_warning", "2026-12-01 08:00", "2026-12-02")
EARLIER = ("deadline_warning", "2026-11-27 08:00", "2026-12-02")
START = at("2026-12-01", "08:59:50")     # 07:59:50 UTC
MOMENT = at("2026-12-01", "09:00:00")


def test_warning_at_its_moment_once_across_restart(own_cluster):
    """dsrd started at 08:59:50 on Tue 12-01 (07:59:50 UTC) raises the
    1-day warning at 09:00, not before, with one notification per
    recipient; started again before 09:00, it does not raise it twice."""
    pg, make = own_cluster
    (rid,) = prepare(pg, make)

    dd = make("warn", START, CONF)
    assert clock(dd) < MOMENT, "started too slowly to see 09:00 come"
    assert alerts(pg, rid) == [EARLIER], "raised before its moment"
    helpers.wait_until(lambda: len(alerts(pg, rid)) > 1, 20,
                       what="the 1-day warning at 09:00")
    assert alerts(pg, rid) == [EARLIER, WARN_1201]
    raised = pg.sql("SELECT extract(epoch FROM raised_at) FROM alerts "
                    "WHERE request_id = %d AND moment = '2026-12-01 "
                    "08:00Z'" % rid)
    late = float(raised) - MOMENT.timestamp()
    assert 0 <= late < 5, "raised %.1f s after its moment" % late
    assert alert_outbox(pg, rid) == fanout(
        "request.deadline_warning", "2026-11-27T08:00:00Z",
        "2026-12-01T08:00:00Z")
    payload = pg.sql("SELECT DISTINCT payload->'alert'->>'days_before' || "
                     "' ' || (payload->'alert'->>'due_on') FROM outbox "
                     "WHERE request_id = %d AND payload->'alert'->>'moment'"
                     " = '2026-12-01T08:00:00Z'" % rid)
    assert payload == "1 2026-12-02", payload

    # Again from before 09:00 (08:59:55, to save time): the daemon lives
    # through 09:00 a second time and must not raise that alert again.
    dd.stop()
    dd.env = faketime_env(MOMENT - dt.timedelta(seconds=5))
    dd.start()
    assert clock(dd) < MOMENT
    wait_clock(dd, MOMENT + dt.timedelta(seconds=3))
    time.sleep(0.5)
    assert alerts(pg, rid) == [EARLIER, WARN_1201]
    assert pg.count("alerts") == 2
    assert alert_outbox(pg, rid) == fanout(
        "request.deadline_warning", "2026-11-27T08:00:00Z",
        "2026-12-01T08:00:00Z")


def test_two_daemons_raise_each_alert_once(own_cluster):
    """Two daemons on one database (two sockets, one conninfo) started
    together at the same faked instant (08:59:55, to save time) race for
    the same alerts: twelve requests whose 1-day warning is at 09:00."""
    pg, make = own_cluster
    ids = prepare(pg, make, n=12)
    start = MOMENT - dt.timedelta(seconds=5)
    a = make("twin-a", start, CONF, start=False)
    b = make("twin-b", start, CONF, start=False)
    assert a.pg.conninfo == b.pg.conninfo and a.socket != b.socket
    a.start(wait=None)
    b.start(wait=None)
    a.wait_ready()
    b.wait_ready()
    assert clock(a) < MOMENT and clock(b) < MOMENT
    wait_clock(a, MOMENT + dt.timedelta(seconds=3))
    wait_clock(b, MOMENT + dt.timedelta(seconds=3))
    helpers.wait_until(lambda: pg.count("alerts") >= 24, 10,
                       what="the 09:00 warnings")
    time.sleep(0.5)
    for rid in ids:
        assert alerts(pg, rid) == [EARLIER, WARN_1201], rid
        assert alert_outbox(pg, rid) == fanout(
            "request.deadline_warning", "2026-11-27T08:00:00Z",
            "2026-12-01T08:00:00Z"), rid
    assert pg.count("alerts") == 24
    assert pg.count("outbox", "event = 'request.deadline_warning'") == \
        24 * len(ALERT_RECIPIENTS)


def test_overdue_raised_at_once_only_the_latest(own_cluster):
    """A request received Fri 2025-01-10 was due Mon 2025-02-10; it has
    been overdue every working day since Tue 02-11. Filed late, it gets one
    reminder at once, the latest, not one per missed day; each start of the
    daemon after downtime adds, for each open request, only the latest it
    missed. The daemon is started four times, at (Rome time):
      Tue 12-01 10:00  file R1 -> the reminder of 12-01 09:00
      Sun 12-06 12:00  file R2 -> Fri 12-04 (the last working day);
                       R1 missed 12-02, 12-03, 12-04 -> only 12-04
      Mon 12-07 08:00  file R3 -> Fri 12-04 (today's is at 09:00);
                       R1, R2: nothing new before 09:00
      Tue 12-08 10:00  (Immacolata, no reminder) file R4 -> Mon 12-07;
                       R1, R2, R3 -> 12-07
    """
    pg, make = own_cluster
    dd = make("overdue", None, CONF, start=False)
    code = None
    ids = []
    steps = [
        (at("2026-12-01", "10:00:00"), [["2026-12-01"]]),
        (at("2026-12-06", "12:00:00"), [["2026-12-01", "2026-12-04"],
                                        ["2026-12-04"]]),
        (at("2026-12-07", "08:00:00"), [["2026-12-01", "2026-12-04"],
                                        ["2026-12-04"], ["2026-12-04"]]),
        (at("2026-12-08", "10:00:00"),
         [["2026-12-01", "2026-12-04", "2026-12-07"],
          ["2026-12-04", "2026-12-07"], ["2026-12-04", "2026-12-07"],
          ["2026-12-07"]]),
    ]
    for when, want in steps:
        dd.env = faketime_env(when)
        dd.start()
        assert dd.ctl.ping()["today"] == when.date().isoformat()
        if code is None:
            code = dd.ctl.entity(email=STAFF)["code"]
        r = dd.ctl.file(code, type="access", received="2025-01-10")
        assert (r["due_on"], r["overdue"]) == ("2025-02-10", True), r
        ids.append(r["id"])
        expected = {rid: [("overdue", "%s 08:00" % day, "2025-02-10")
                          for day in days]
                    for rid, days in zip(ids, want)}
        helpers.wait_until(
            lambda: {rid: alerts(pg, rid) for rid in ids} == expected, 10,
            what="the overdue reminders of %s" % when)
        time.sleep(0.5)     # and nothing more
        assert {rid: alerts(pg, rid) for rid in ids} == expected
        for rid, days in zip(ids, want):
            assert alert_outbox(pg, rid) == fanout(
                "request.overdue", *["%sT08:00:00Z" % d for d in days]), rid
        dd.stop()
    assert pg.count("alerts") == 3 + 2 + 2 + 1
    assert pg.count("alerts", "kind <> 'overdue'") == 0
