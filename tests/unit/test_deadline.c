/*
 * test_deadline.c: unit tests of deadline.c, which decides when a request
 * falls due and when its warnings, extension reminders and overdue
 * reminders are raised. Real dates of 2025-2027 in Europe/Rome, each
 * expected value worked out by hand (and cross-checked outside C): month
 * ends, weekends, national and local holidays, pauses, forwarding, DST.
 * A brute-force model of SPEC §4 (walk every day) checks the fast answers
 * over a year of receipt dates. These tests must never depend on the
 * machine's time zone or clock: the group set-up sets the zone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "calendar.h"
#include "config.h"
#include "deadline.h"
#include "util.h"

#define NINE	(9 * 60)

static int
day_of(const char *s)
{
	int	d = 0;

	if (cal_parse_date(s, &d) != 0)
		fail_msg("bad date in test: %s", s);
	return d;
}

static void
assert_day(int got, const char *want)
{
	char	buf[11];

	if (got == DL_NONE)
		fail_msg("day is DL_NONE, want %s", want);
	cal_format_date(got, buf);
	assert_string_equal(buf, want);
}

/* An instant given as UTC civil time, computed without the libc zone. */
static time_t
utc(const char *date, int hour, int min)
{
	return (time_t)day_of(date) * 86400 + hour * 3600 + min * 60;
}

/* An instant given as local (process zone) civil time. */
static time_t
loc(const char *date, int hour, int min)
{
	return cal_moment(day_of(date), hour * 60 + min);
}

static void
set_zone(const char *name)
{
	char	*cause = NULL;

	if (cal_set_timezone(name, &cause) != 0)
		fail_msg("cal_set_timezone(%s): %s", name, cause);
}

static int
group_setup(void **state)
{
	char	*cause = NULL;

	(void)state;
	if (cal_set_timezone("Europe/Rome", &cause) != 0) {
		fprintf(stderr, "Europe/Rome: %s\n", cause);
		free(cause);
		return -1;
	}
	return 0;
}

/* The policy of the default config: 10 days, rectification and erasure,
   warnings 3 and 1 days before, 09:00, extension reminder 5 days before. */
static void
default_policy(struct dl_policy *p)
{
	struct config	cf;

	memset(&cf, 0, sizeof cf);
	config_defaults(&cf);
	dl_policy_from(&cf, p);
	config_free(&cf);
}

static struct dl_request
req(int type, const char *received)
{
	struct dl_request	r;

	memset(&r, 0, sizeof r);
	r.type = type;
	r.status = ST_RECEIVED;
	r.received_on = day_of(received);
	r.forwarded_on = DL_NONE;
	return r;
}

static struct cal_local
locals(const char *spec)
{
	struct cal_local	 l;
	char			*cause = NULL;

	memset(&l, 0, sizeof l);
	if (cal_local_parse(spec, &l, &cause) != 0)
		fail_msg("bad local holidays in test: %s", cause);
	return l;
}

/* --- policy ----------------------------------------------------------- */

static void
test_policy_from_config(void **state)
{
	struct config		cf;
	struct dl_policy	p;

	(void)state;
	default_policy(&p);
	assert_int_equal(p.forward_days, 10);
	assert_int_equal(p.forward_types,
	    (1u << REQ_RECTIFICATION) | (1u << REQ_ERASURE));
	assert_int_equal(p.n_warn_days, 2);
	assert_int_equal(p.warn_days[0], 3);
	assert_int_equal(p.warn_days[1], 1);
	assert_int_equal(p.alert_time, NINE);
	assert_int_equal(p.extension_decision_days, 5);
	assert_true(p.pause_on_await);

	memset(&cf, 0, sizeof cf);
	config_defaults(&cf);
	cf.forward_days = 7;
	cf.forward_types = 1u << REQ_ACCESS;
	cf.n_warn_days = 3;
	cf.warn_days[0] = 10;
	cf.warn_days[1] = 5;
	cf.warn_days[2] = 2;
	cf.alert_time = 8 * 60 + 30;
	cf.extension_decision_days = 0;
	cf.pause_on_await = 0;
	dl_policy_from(&cf, &p);
	config_free(&cf);
	assert_int_equal(p.forward_days, 7);
	assert_int_equal(p.forward_types, 1u << REQ_ACCESS);
	assert_int_equal(p.n_warn_days, 3);
	assert_int_equal(p.warn_days[0], 10);
	assert_int_equal(p.warn_days[1], 5);
	assert_int_equal(p.warn_days[2], 2);
	assert_int_equal(p.alert_time, 510);
	assert_int_equal(p.extension_decision_days, 0);
	assert_false(p.pause_on_await);
}

static void
test_kind_names(void **state)
{
	(void)state;
	assert_string_equal(dl_kind_names[DL_WARNING], "deadline_warning");
	assert_string_equal(dl_kind_names[DL_EXTENSION_DECISION],
	    "extension_decision");
	assert_string_equal(dl_kind_names[DL_OVERDUE], "overdue");
}

/* --- due dates -------------------------------------------------------- */

static void
test_compute_table(void **state)
{
	static const struct {
		const char	*what;
		int		 type;
		const char	*received;
		const char	*forwarded;	/* NULL: not forwarded */
		int		 extended;
		int		 paused, op_paused;
		int		 forward_days;	/* 0: policy default */
		const char	*local;
		const char	*statutory, *one_month;
		const char	*operational;	/* NULL: DL_NONE */
		const char	*due;
	} t[] = {
		{ "month end on Saturday 28 Feb -> Monday", REQ_ACCESS,
		    "2026-01-31", NULL, 0, 0, 0, 0, "",
		    "2026-03-02", "2026-03-02", NULL, "2026-03-02" },
		{ "8 Dec to 8 Jan, across the holidays", REQ_ACCESS,
		    "2025-12-08", NULL, 0, 0, 0, 0, "",
		    "2026-01-08", "2026-01-08", NULL, "2026-01-08" },
		{ "extended: 3 months to Thursday 30 Apr", REQ_ACCESS,
		    "2026-01-31", NULL, 1, 0, 0, 0, "",
		    "2026-04-30", "2026-03-02", NULL, "2026-04-30" },
		{ "pause of 3 days pushes 5 Feb onto a Sunday", REQ_ACCESS,
		    "2026-01-05", NULL, 0, 3, 0, 0, "",
		    "2026-02-09", "2026-02-09", NULL, "2026-02-09" },
		{ "the same without the pause", REQ_ACCESS,
		    "2026-01-05", NULL, 0, 0, 0, 0, "",
		    "2026-02-05", "2026-02-05", NULL, "2026-02-05" },
		{ "extended and paused 10 days: 10 May is Sunday", REQ_ACCESS,
		    "2026-01-31", NULL, 1, 10, 0, 0, "",
		    "2026-05-11", "2026-03-10", NULL, "2026-05-11" },
		{ "erasure forwarded Fri 18 Dec: Mon 28 Dec", REQ_ERASURE,
		    "2026-12-01", "2026-12-18", 0, 0, 0, 0, "",
		    "2027-01-04", "2027-01-04", "2026-12-28", "2026-12-28" },
		{ "10 days ending on St Stephen, a Saturday", REQ_ERASURE,
		    "2026-12-10", "2026-12-16", 0, 0, 0, 0, "",
		    "2027-01-11", "2027-01-11", "2026-12-28", "2026-12-28" },
		{ "10 days ending on Christmas Eve", REQ_RECTIFICATION,
		    "2026-12-01", "2026-12-14", 0, 0, 0, 0, "",
		    "2027-01-04", "2027-01-04", "2026-12-24", "2026-12-24" },
		{ "pause after forwarding: Christmas Eve -> 28", REQ_ERASURE,
		    "2026-12-01", "2026-12-14", 0, 2, 2, 0, "",
		    "2027-01-04", "2027-01-04", "2026-12-28", "2026-12-28" },
		{ "statutory beats operational", REQ_RECTIFICATION,
		    "2026-01-31", "2026-02-25", 0, 0, 0, 0, "",
		    "2026-03-02", "2026-03-02", "2026-03-09", "2026-03-02" },
		{ "operational beats statutory", REQ_ERASURE,
		    "2026-01-31", "2026-02-02", 0, 0, 0, 0, "",
		    "2026-03-02", "2026-03-02", "2026-02-12", "2026-02-12" },
		{ "access has no operational clock", REQ_ACCESS,
		    "2026-12-01", "2026-12-18", 0, 0, 0, 0, "",
		    "2027-01-04", "2027-01-04", NULL, "2027-01-04" },
		{ "objection neither", REQ_OBJECTION,
		    "2026-01-31", "2026-02-02", 0, 0, 0, 0, "",
		    "2026-03-02", "2026-03-02", NULL, "2026-03-02" },
		{ "erasure not yet forwarded", REQ_ERASURE,
		    "2026-01-31", NULL, 0, 0, 0, 0, "",
		    "2026-03-02", "2026-03-02", NULL, "2026-03-02" },
		{ "local holiday 26 Jun moves the due date", REQ_ACCESS,
		    "2026-05-26", NULL, 0, 0, 0, 0, "06-26",
		    "2026-06-29", "2026-06-29", NULL, "2026-06-29" },
		{ "without it, Friday 26 Jun", REQ_ACCESS,
		    "2026-05-26", NULL, 0, 0, 0, 0, "",
		    "2026-06-26", "2026-06-26", NULL, "2026-06-26" },
		{ "2 days from a Friday: art. 3(5), from forwarding",
		    REQ_ERASURE, "2026-03-02", "2026-03-06", 0, 0, 0, 2, "",
		    "2026-04-02", "2026-04-02", "2026-03-10", "2026-03-10" },
		{ "Easter Monday 2026 (6 Apr)", REQ_ACCESS,
		    "2026-03-06", NULL, 0, 0, 0, 0, "",
		    "2026-04-07", "2026-04-07", NULL, "2026-04-07" },
		{ "St Francis, a holiday from 2026: Monday 4 Oct 2027",
		    REQ_ACCESS,
		    "2027-09-04", NULL, 0, 0, 0, 0, "",
		    "2027-10-05", "2027-10-05", NULL, "2027-10-05" },
	};
	struct dl_policy	p;
	struct dl_request	r;
	struct dl_dates		d;
	struct cal_local	l;
	size_t			i;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		print_message("%s\n", t[i].what);
		default_policy(&p);
		if (t[i].forward_days != 0)
			p.forward_days = t[i].forward_days;
		r = req(t[i].type, t[i].received);
		if (t[i].forwarded != NULL) {
			r.status = ST_FORWARDED;
			r.forwarded_on = day_of(t[i].forwarded);
		}
		r.extended = t[i].extended;
		r.paused_days = t[i].paused;
		r.op_paused_days = t[i].op_paused;
		l = locals(t[i].local);
		memset(&d, 0x55, sizeof d);
		dl_compute(&r, &p, &l, &d);
		assert_day(d.statutory_due, t[i].statutory);
		assert_day(d.one_month_due, t[i].one_month);
		if (t[i].operational == NULL)
			assert_int_equal(d.operational_due, DL_NONE);
		else
			assert_day(d.operational_due, t[i].operational);
		assert_day(d.due, t[i].due);
	}
}

/*
 * Art. 3(4) and 3(5) walked day by day, every working day of the period
 * counted: the end is the first working day at or after the raw end such
 * that the period from the day after the event holds two working days.
 */
static int
model_period_end(int event, int raw, const struct cal_local *l)
{
	int	end, day, nwork;

	for (end = raw;; end++) {
		if (!cal_is_working_day(end, l))
			continue;
		if (raw - event < 2)
			return end;
		for (nwork = 0, day = event + 1; day <= end; day++)
			nwork += cal_is_working_day(day, l);
		if (nwork >= 2)
			return end;
	}
}

/* The due dates of every day received in 2024-2030, extended or not,
   paused or not, with and without local holidays, against the model. */
static void
test_compute_every_day(void **state)
{
	static const int	paused[] = { 0, 3, 17, 45 };
	struct dl_policy	p;
	struct dl_request	r;
	struct dl_dates		d;
	struct cal_local	l[2];
	int			rec, want, one, e, i, j;

	(void)state;
	default_policy(&p);
	l[0] = locals("");
	l[1] = locals("01-02,04-24,12-07,12-31");
	for (rec = day_of("2024-01-01"); rec <= day_of("2030-12-31");
	    rec++) {
		for (e = 0; e <= 1; e++)
			for (i = 0; i < (int)nitems(paused); i++)
				for (j = 0; j < 2; j++) {
					r = req(REQ_ACCESS, "2025-01-01");
					r.received_on = rec;
					r.extended = e;
					r.paused_days = paused[i];
					memset(&d, 0x55, sizeof d);
					dl_compute(&r, &p, &l[j], &d);
					want = model_period_end(rec,
					    cal_period_months_raw(rec, e ? 3 :
					    1) + paused[i], &l[j]);
					one = model_period_end(rec,
					    cal_period_months_raw(rec, 1) +
					    paused[i], &l[j]);
					assert_int_equal(d.statutory_due, want);
					assert_int_equal(d.one_month_due, one);
					assert_int_equal(d.due, want);
				}
	}
}

static void
test_compute_forward_types(void **state)
{
	struct dl_policy	p;
	struct dl_request	r;
	struct dl_dates		d;

	(void)state;
	default_policy(&p);
	p.forward_types = 1u << REQ_ACCESS;
	p.forward_days = 5;
	r = req(REQ_ACCESS, "2026-01-31");
	r.forwarded_on = day_of("2026-02-02");
	dl_compute(&r, &p, NULL, &d);
	/* 2 Feb + 5 = Saturday 7 -> Monday 9. */
	assert_day(d.operational_due, "2026-02-09");
	assert_day(d.due, "2026-02-09");

	r.type = REQ_ERASURE;
	dl_compute(&r, &p, NULL, &d);
	assert_int_equal(d.operational_due, DL_NONE);
	assert_day(d.due, "2026-03-02");
}

/* --- one alert at a time ---------------------------------------------- */

static void
assert_alert(const struct dl_alert *a, enum dl_kind kind, const char *day,
    int days_before, int minute)
{
	if (a->kind != kind)
		fail_msg("kind %s, want %s on %s", dl_kind_names[a->kind],
		    dl_kind_names[kind], day);
	assert_day(a->day, day);
	assert_int_equal(a->days_before, days_before);
	assert_true(a->moment == cal_moment(day_of(day), minute));
	assert_int_equal(cal_today(a->moment), day_of(day));
}

struct expect {
	enum dl_kind	 kind;
	const char	*day;
	int		 days_before;
};

/* Walks dl_next_alert from "since ever" and checks the first n alerts. */
static void
assert_chain(const struct dl_request *r, const struct dl_policy *p,
    const struct cal_local *l, const struct expect *e, size_t n)
{
	struct dl_dates	d;
	struct dl_alert	a;
	time_t		after = DL_NO_TIME;
	size_t		i;

	dl_compute(r, p, l, &d);
	for (i = 0; i < n; i++) {
		print_message("  alert %zu: %s %s\n", i,
		    dl_kind_names[e[i].kind], e[i].day);
		assert_true(dl_next_alert(r, &d, p, l, after, &a));
		assert_alert(&a, e[i].kind, e[i].day, e[i].days_before,
		    p->alert_time);
		assert_true(a.moment > after);
		after = a.moment;
	}
}

static void
test_chain_due_monday(void **state)
{
	/* Due Monday 2 Mar 2026: 3 days before is Friday 27 Feb, 1 day
	   before is Sunday 1 Mar, moved back to the same Friday: one
	   warning, saying 1 day. Extension reminder on Wed 25 Feb. */
	static const struct expect e[] = {
		{ DL_EXTENSION_DECISION, "2026-02-25", 0 },
		{ DL_WARNING, "2026-02-27", 1 },
		{ DL_OVERDUE, "2026-03-03", 0 },
		{ DL_OVERDUE, "2026-03-04", 0 },
		{ DL_OVERDUE, "2026-03-05", 0 },
		{ DL_OVERDUE, "2026-03-06", 0 },
		{ DL_OVERDUE, "2026-03-09", 0 },
		{ DL_OVERDUE, "2026-03-10", 0 },
		{ DL_OVERDUE, "2026-03-11", 0 },
	};
	struct dl_policy	p;
	struct dl_request	r;
	struct dl_dates		d;
	struct dl_alert		a;

	(void)state;
	default_policy(&p);
	r = req(REQ_ACCESS, "2026-01-31");
	assert_chain(&r, &p, NULL, e, nitems(e));

	/* 09:00 in Rome in winter is 08:00 UTC. */
	dl_compute(&r, &p, NULL, &d);
	assert_true(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
	assert_true(a.moment == utc("2026-02-25", 8, 0));
	assert_true(dl_next_alert(&r, &d, &p, NULL,
	    utc("2026-02-27", 7, 59), &a));
	assert_true(a.moment == utc("2026-02-27", 8, 0));
	assert_int_equal(a.kind, DL_WARNING);
	/* Strictly after: the moment itself is not "after". */
	assert_true(dl_next_alert(&r, &d, &p, NULL, a.moment, &a));
	assert_true(a.moment == utc("2026-03-03", 8, 0));
	assert_int_equal(a.kind, DL_OVERDUE);
}

static void
test_chain_across_holidays(void **state)
{
	/* Due Tue 7 Apr 2026, the day after Easter Monday: 1 day before is
	   the holiday, 3 days before is Saturday; both go back to Friday 3
	   April. Extension reminder 5 days before, Thu 2 Apr. */
	static const struct expect easter[] = {
		{ DL_EXTENSION_DECISION, "2026-04-02", 0 },
		{ DL_WARNING, "2026-04-03", 1 },
		{ DL_OVERDUE, "2026-04-08", 0 },
		{ DL_OVERDUE, "2026-04-09", 0 },
		{ DL_OVERDUE, "2026-04-10", 0 },
		{ DL_OVERDUE, "2026-04-13", 0 },
	};
	/* Erasure due Mon 28 Dec 2026 (10 days from Fri 18 Dec): 3 days
	   before is Christmas, 1 day before Sunday: both Thursday 24.
	   Overdue from Tue 29 Dec, skipping New Year and Epiphany. The
	   extension reminder follows the one-month date (Mon 4 Jan 2027,
	   less 5 = Wed 30 Dec), which falls among the overdue ones and is
	   outranked by the overdue reminder of that day. */
	static const struct expect xmas[] = {
		{ DL_WARNING, "2026-12-24", 1 },
		{ DL_OVERDUE, "2026-12-29", 0 },
		{ DL_OVERDUE, "2026-12-30", 0 },
		{ DL_OVERDUE, "2026-12-31", 0 },
		{ DL_OVERDUE, "2027-01-04", 0 },
		{ DL_OVERDUE, "2027-01-05", 0 },
		{ DL_OVERDUE, "2027-01-07", 0 },
		{ DL_OVERDUE, "2027-01-08", 0 },
	};
	struct dl_policy	p;
	struct dl_request	r;

	(void)state;
	default_policy(&p);
	r = req(REQ_ACCESS, "2026-03-06");
	assert_chain(&r, &p, NULL, easter, nitems(easter));

	r = req(REQ_ERASURE, "2026-12-01");
	r.status = ST_FORWARDED;
	r.forwarded_on = day_of("2026-12-18");
	assert_chain(&r, &p, NULL, xmas, nitems(xmas));
}

static void
test_chain_more_warnings(void **state)
{
	/* Warnings 10, 7, 6, 2, 1 days before a due date of Fri 6 Mar
	   2026: Tue 24 Feb, Fri 27 Feb (7; 6 is Saturday 28 and moves there
	   too, and the nearer count is said), Wed 4, Thu 5. */
	static const struct expect e[] = {
		{ DL_WARNING, "2026-02-24", 10 },
		{ DL_EXTENSION_DECISION, "2026-02-26", 0 },
		{ DL_WARNING, "2026-02-27", 6 },
		{ DL_WARNING, "2026-03-04", 2 },
		{ DL_WARNING, "2026-03-05", 1 },
		{ DL_OVERDUE, "2026-03-09", 0 },
		{ DL_OVERDUE, "2026-03-10", 0 },
	};
	struct dl_policy	p;
	struct dl_request	r;

	(void)state;
	default_policy(&p);
	p.n_warn_days = 5;
	p.warn_days[0] = 10;
	p.warn_days[1] = 7;
	p.warn_days[2] = 6;	/* Sat 28 Feb -> Fri 27, with 7: says 6 */
	p.warn_days[3] = 2;
	p.warn_days[4] = 1;
	p.extension_decision_days = 8;	/* Thu 26 Feb */
	p.alert_time = 8 * 60 + 30;
	r = req(REQ_ACCESS, "2026-02-06");
	assert_chain(&r, &p, NULL, e, nitems(e));
}

static void
test_extension_decision(void **state)
{
	struct dl_policy	p;
	struct dl_request	r;
	struct dl_dates		d;
	struct dl_alert		a;
	time_t			after;
	int			n;

	(void)state;
	default_policy(&p);
	p.n_warn_days = 0;

	/* One month to Thu 8 Jan 2026: 5 days before is Saturday 3 Jan,
	   moved back to Friday 2 Jan. */
	r = req(REQ_ACCESS, "2025-12-08");
	dl_compute(&r, &p, NULL, &d);
	assert_true(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
	assert_alert(&a, DL_EXTENSION_DECISION, "2026-01-02", 0, NINE);
	/* 7 days before is New Year's Day: Wednesday 31 Dec 2025. */
	p.extension_decision_days = 7;
	assert_true(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
	assert_alert(&a, DL_EXTENSION_DECISION, "2025-12-31", 0, NINE);

	/* It follows the one-month date even when the operational clock
	   is due first: erasure forwarded Mon 2 Feb, due Thu 12 Feb; the
	   one-month date is Mon 2 Mar, 5 days before is Wed 25 Feb. */
	p.extension_decision_days = 5;
	r = req(REQ_ERASURE, "2026-01-31");
	r.status = ST_FORWARDED;
	r.forwarded_on = day_of("2026-02-02");
	dl_compute(&r, &p, NULL, &d);
	assert_day(d.due, "2026-02-12");
	n = 0;
	for (after = DL_NO_TIME; dl_next_alert(&r, &d, &p, NULL, after, &a);
	    after = a.moment) {
		assert_true(a.moment > after);
		assert_int_equal(a.kind, DL_OVERDUE);
		if (a.day > day_of("2026-02-24"))
			break;
		n++;
	}
	/* 13, 16..20, 23, 24 Feb. */
	assert_int_equal(n, 8);
	/* On 25 Feb the overdue and extension reminders share a moment;
	   dl_next_alert gives the overdue one. */
	assert_alert(&a, DL_OVERDUE, "2026-02-25", 0, NINE);

	/* Once extended, or with 0 days, none. */
	r = req(REQ_ACCESS, "2026-01-31");
	r.extended = true;
	dl_compute(&r, &p, NULL, &d);
	assert_true(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
	assert_int_equal(a.kind, DL_OVERDUE);
	assert_day(a.day, "2026-05-04");	/* due Thu 30 Apr, 1 May */
	r.extended = false;
	p.extension_decision_days = 0;
	dl_compute(&r, &p, NULL, &d);
	assert_true(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
	assert_alert(&a, DL_OVERDUE, "2026-03-03", 0, NINE);
}

static void
test_overdue_first(void **state)
{
	static const struct {
		const char	*received;
		const char	*due;
		const char	*first;
		time_t		 first_utc;
		const char	*local;
	} t[] = {
		/* Due Friday: the first reminder is Monday 09:00. */
		{ "2026-02-06", "2026-03-06", "2026-03-09", 0, "" },
		/* Due Thu 24 Dec: 25, 26, 27 are not working days. */
		{ "2026-11-24", "2026-12-24", "2026-12-28", 0, "" },
		/* Due Fri 24 Jul (summer): Mon 27 09:00 is 07:00 UTC. */
		{ "2026-06-24", "2026-07-24", "2026-07-27", 1, "" },
		/* A local holiday on the first day after. */
		{ "2026-06-24", "2026-07-24", "2026-07-28", 0, "07-27" },
		/* Due Fri 14 Aug: Saturday 15 is Ferragosto anyway. */
		{ "2026-07-14", "2026-08-14", "2026-08-17", 0, "" },
	};
	struct dl_policy	p;
	struct dl_request	r;
	struct dl_dates		d;
	struct dl_alert		a;
	struct cal_local	l;
	size_t			i;

	(void)state;
	default_policy(&p);
	p.n_warn_days = 0;
	p.extension_decision_days = 0;
	for (i = 0; i < nitems(t); i++) {
		print_message("due %s\n", t[i].due);
		r = req(REQ_ACCESS, t[i].received);
		l = locals(t[i].local);
		dl_compute(&r, &p, &l, &d);
		assert_day(d.due, t[i].due);
		assert_true(dl_next_alert(&r, &d, &p, &l, DL_NO_TIME, &a));
		assert_alert(&a, DL_OVERDUE, t[i].first, 0, NINE);
		if (t[i].first_utc)
			assert_true(a.moment == utc(t[i].first, 7, 0));
		/* And just before the end of the due day: still first. */
		assert_true(dl_next_alert(&r, &d, &p, &l,
		    loc(t[i].due, 23, 59), &a));
		assert_day(a.day, t[i].first);
	}
}

static void
test_winter_summer(void **state)
{
	struct dl_policy	p;
	struct dl_request	r;
	struct dl_dates		d;
	struct dl_alert		a;

	(void)state;
	default_policy(&p);
	/* Winter: due Mon 2 Mar, overdue Tue 3 Mar 09:00 CET = 08:00Z. */
	r = req(REQ_ACCESS, "2026-01-31");
	dl_compute(&r, &p, NULL, &d);
	assert_true(dl_next_alert(&r, &d, &p, NULL,
	    utc("2026-03-02", 12, 0), &a));
	assert_true(a.moment == utc("2026-03-03", 8, 0));
	/* Summer: due Fri 26 Jun, overdue Mon 29 09:00 CEST = 07:00Z. */
	r = req(REQ_ACCESS, "2026-05-26");
	dl_compute(&r, &p, NULL, &d);
	assert_true(dl_next_alert(&r, &d, &p, NULL,
	    utc("2026-06-26", 12, 0), &a));
	assert_true(a.moment == utc("2026-06-29", 7, 0));
	/* Warnings of that request: 3 days before is Tue 23 Jun. */
	assert_true(dl_next_alert(&r, &d, &p, NULL,
	    utc("2026-06-22", 7, 0), &a));
	assert_alert(&a, DL_WARNING, "2026-06-23", 3, NINE);
	assert_true(a.moment == utc("2026-06-23", 7, 0));
}

static void
test_dst_change(void **state)
{
	static const struct expect spring[] = {
		{ DL_OVERDUE, "2026-03-27", 0 },
		{ DL_OVERDUE, "2026-03-30", 0 },
		{ DL_OVERDUE, "2026-03-31", 0 },
	};
	struct dl_policy	p;
	struct dl_request	r;
	struct dl_dates		d;
	struct dl_alert		a;

	(void)state;
	default_policy(&p);
	p.n_warn_days = 0;
	p.extension_decision_days = 0;
	/* Due Thu 26 Mar 2026; clocks go forward on Sunday 29. */
	r = req(REQ_ACCESS, "2026-02-26");
	assert_chain(&r, &p, NULL, spring, nitems(spring));
	dl_compute(&r, &p, NULL, &d);
	assert_true(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
	assert_true(a.moment == utc("2026-03-27", 8, 0));
	/* From inside the gap of Sunday 29 (02:30 local does not exist). */
	assert_true(dl_next_alert(&r, &d, &p, NULL,
	    utc("2026-03-29", 1, 30), &a));
	assert_true(a.moment == utc("2026-03-30", 7, 0));
	assert_day(a.day, "2026-03-30");
	/* 71 hours from Friday's reminder to Monday's. */
	assert_true(a.moment - utc("2026-03-27", 8, 0) == 71 * 3600);
	assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    utc("2026-03-30", 7, 0), &a));
	assert_true(a.moment == utc("2026-03-30", 7, 0));
	assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    utc("2026-03-30", 6, 59), &a));
	assert_true(a.moment == utc("2026-03-27", 8, 0));

	/* An alert time of 02:30, which the spring change skips: Friday
	   01:30Z, Monday 00:30Z. */
	p.alert_time = 150;
	assert_true(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
	assert_true(a.moment == utc("2026-03-27", 1, 30));
	assert_true(dl_next_alert(&r, &d, &p, NULL, a.moment, &a));
	assert_true(a.moment == utc("2026-03-30", 0, 30));
	assert_day(a.day, "2026-03-30");

	/* Autumn: due Fri 23 Oct 2026, clocks go back on Sunday 25. */
	p.alert_time = NINE;
	r = req(REQ_ACCESS, "2026-09-23");
	dl_compute(&r, &p, NULL, &d);
	assert_day(d.due, "2026-10-23");
	assert_true(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
	assert_true(a.moment == utc("2026-10-26", 8, 0));
	/* 02:30 on the 25th happens twice; still a Sunday. */
	assert_true(dl_next_alert(&r, &d, &p, NULL,
	    utc("2026-10-25", 1, 30), &a));
	assert_true(a.moment == utc("2026-10-26", 8, 0));

	/*
	 * A zone whose spring change falls on a working day: Jerusalem
	 * skips 02:00-03:00 on Friday 27 Mar 2026. An alert time of 02:30
	 * that day is the first instant after the gap, 03:00 IDT = 00:00Z;
	 * Monday's 02:30 IDT is 23:30Z on the Sunday, and its day is still
	 * Monday.
	 */
	set_zone("Asia/Jerusalem");
	p.alert_time = 150;
	r = req(REQ_ACCESS, "2026-02-25");
	dl_compute(&r, &p, NULL, &d);
	assert_day(d.due, "2026-03-25");
	assert_true(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
	assert_true(a.moment == utc("2026-03-26", 0, 30));
	assert_true(dl_next_alert(&r, &d, &p, NULL, a.moment, &a));
	assert_day(a.day, "2026-03-27");
	assert_true(a.moment == utc("2026-03-27", 0, 0));
	assert_true(dl_next_alert(&r, &d, &p, NULL, a.moment, &a));
	assert_day(a.day, "2026-03-30");
	assert_true(a.moment == utc("2026-03-29", 23, 30));
	assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    utc("2026-03-29", 23, 29), &a));
	assert_day(a.day, "2026-03-27");
	set_zone("Europe/Rome");
}

/* --- missed windows --------------------------------------------------- */

static void
test_latest_missed_window(void **state)
{
	struct dl_policy	p;
	struct dl_request	r;
	struct dl_dates		d;
	struct dl_alert		a;

	(void)state;
	default_policy(&p);
	/* Due Fri 6 Mar 2026: extension reminder 1 Mar (Sun) -> Fri 27 Feb,
	   warnings Tue 3 and Thu 5 Mar, overdue from Mon 9. */
	r = req(REQ_ACCESS, "2026-02-06");
	dl_compute(&r, &p, NULL, &d);
	assert_day(d.due, "2026-03-06");

	/* dsrd down from Thursday 5 Mar 10:00 to Friday 13 Mar 12:00: only
	   the latest overdue reminder, Friday's. */
	assert_true(dl_latest_alert(&r, &d, &p, NULL,
	    loc("2026-03-05", 10, 0), loc("2026-03-13", 12, 0), &a));
	assert_alert(&a, DL_OVERDUE, "2026-03-13", 0, NINE);
	/* The same window ending a minute before Friday's moment. */
	assert_true(dl_latest_alert(&r, &d, &p, NULL,
	    loc("2026-03-05", 10, 0), loc("2026-03-13", 8, 59), &a));
	assert_alert(&a, DL_OVERDUE, "2026-03-12", 0, NINE);
	/* Ending on a Sunday: Friday's. */
	assert_true(dl_latest_alert(&r, &d, &p, NULL,
	    loc("2026-03-05", 10, 0), loc("2026-03-15", 18, 0), &a));
	assert_alert(&a, DL_OVERDUE, "2026-03-13", 0, NINE);
	/* A request filed late, nothing raised yet: "since ever". */
	assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    loc("2026-04-20", 9, 0), &a));
	assert_alert(&a, DL_OVERDUE, "2026-04-20", 0, NINE);
	/* Before the due date: the last warning. */
	assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    loc("2026-03-05", 12, 0), &a));
	assert_alert(&a, DL_WARNING, "2026-03-05", 1, NINE);
	assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    loc("2026-03-04", 12, 0), &a));
	assert_alert(&a, DL_WARNING, "2026-03-03", 3, NINE);
	assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    loc("2026-03-02", 12, 0), &a));
	assert_alert(&a, DL_EXTENSION_DECISION, "2026-02-27", 0, NINE);

	/* Bounds: after is exclusive, upto inclusive. */
	assert_true(dl_latest_alert(&r, &d, &p, NULL,
	    loc("2026-03-05", 8, 59), loc("2026-03-05", 9, 0), &a));
	assert_alert(&a, DL_WARNING, "2026-03-05", 1, NINE);
	assert_false(dl_latest_alert(&r, &d, &p, NULL,
	    loc("2026-03-05", 9, 0), loc("2026-03-05", 23, 0), &a));
	/* Windows with nothing in them, empty and backwards ones. */
	assert_false(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    loc("2026-02-27", 8, 59), &a));
	assert_false(dl_latest_alert(&r, &d, &p, NULL,
	    loc("2026-03-06", 9, 0), loc("2026-03-09", 8, 59), &a));
	assert_false(dl_latest_alert(&r, &d, &p, NULL,
	    loc("2026-03-13", 12, 0), loc("2026-03-13", 12, 0), &a));
	assert_false(dl_latest_alert(&r, &d, &p, NULL,
	    loc("2026-03-13", 12, 0), loc("2026-03-05", 12, 0), &a));
}

static void
test_latest_ties(void **state)
{
	struct dl_policy	p;
	struct dl_request	r;
	struct dl_dates		d;
	struct dl_alert		a;

	(void)state;
	default_policy(&p);
	/* Due Wed 7 Jan 2026: 1 day before is Epiphany -> Mon 5; 3 days
	   before is Sunday -> Fri 2 Jan; the extension reminder (5 days
	   before, Fri 2 Jan) shares that moment: the warning wins. */
	r = req(REQ_ACCESS, "2025-12-07");
	dl_compute(&r, &p, NULL, &d);
	assert_day(d.due, "2026-01-07");
	assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    loc("2026-01-02", 10, 0), &a));
	assert_alert(&a, DL_WARNING, "2026-01-02", 3, NINE);
	assert_true(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
	assert_alert(&a, DL_WARNING, "2026-01-02", 3, NINE);
	assert_true(dl_next_alert(&r, &d, &p, NULL, a.moment, &a));
	assert_alert(&a, DL_WARNING, "2026-01-05", 1, NINE);
	/* Without warnings, the extension reminder is alone there. */
	p.n_warn_days = 0;
	assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    loc("2026-01-02", 10, 0), &a));
	assert_alert(&a, DL_EXTENSION_DECISION, "2026-01-02", 0, NINE);

	/* Overdue beats extension_decision: erasure due Thu 12 Feb, the
	   extension reminder on Wed 25 Feb among the overdue ones. */
	default_policy(&p);
	r = req(REQ_ERASURE, "2026-01-31");
	r.status = ST_FORWARDED;
	r.forwarded_on = day_of("2026-02-02");
	dl_compute(&r, &p, NULL, &d);
	assert_true(dl_latest_alert(&r, &d, &p, NULL,
	    loc("2026-02-24", 9, 0), loc("2026-02-25", 9, 0), &a));
	assert_alert(&a, DL_OVERDUE, "2026-02-25", 0, NINE);
	assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    loc("2026-02-25", 18, 0), &a));
	assert_alert(&a, DL_OVERDUE, "2026-02-25", 0, NINE);
	/* Its warnings: 9 Feb (k = 3) and 11 Feb (k = 1). */
	assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    loc("2026-02-10", 9, 0), &a));
	assert_alert(&a, DL_WARNING, "2026-02-09", 3, NINE);
}

static void
test_no_alerts(void **state)
{
	static const int finals[] = {
		ST_COMPLETED, ST_REJECTED, ST_WITHDRAWN
	};
	struct dl_policy	p;
	struct dl_request	r;
	struct dl_dates		d;
	struct dl_alert		a;
	size_t			i;

	(void)state;
	default_policy(&p);
	r = req(REQ_ERASURE, "2026-01-31");
	r.forwarded_on = day_of("2026-02-02");
	dl_compute(&r, &p, NULL, &d);
	for (i = 0; i < nitems(finals); i++) {
		r.status = finals[i];
		assert_false(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
		assert_false(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
		    loc("2027-01-01", 12, 0), &a));
	}
	/* Paused while awaiting the data subject... */
	r.status = ST_AWAITING_SUBJECT;
	assert_false(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
	assert_false(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    loc("2027-01-01", 12, 0), &a));
	/* ...unless the policy says the clocks run on. */
	p.pause_on_await = false;
	assert_true(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
	assert_alert(&a, DL_WARNING, "2026-02-09", 3, NINE);
	assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    loc("2026-02-16", 12, 0), &a));
	assert_alert(&a, DL_OVERDUE, "2026-02-16", 0, NINE);
	/* Open states have them. */
	p.pause_on_await = true;
	r.status = ST_RECEIVED;
	assert_true(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
	r.status = ST_FORWARDED;
	assert_true(dl_next_alert(&r, &d, &p, NULL, DL_NO_TIME, &a));
}

static void
test_far_future(void **state)
{
	struct dl_policy	p;
	struct dl_request	r;
	struct dl_dates		d;
	struct dl_alert		a;
	clock_t			start;
	double			secs;
	int			i;

	(void)state;
	default_policy(&p);
	r = req(REQ_ACCESS, "2026-01-31");
	dl_compute(&r, &p, NULL, &d);
	/* Christmas Eve 2100 is a Friday; Mon 27 Dec is the next working
	   day. */
	assert_true(dl_next_alert(&r, &d, &p, NULL,
	    loc("2100-12-24", 12, 0), &a));
	assert_alert(&a, DL_OVERDUE, "2100-12-27", 0, NINE);
	assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
	    loc("2100-12-26", 12, 0), &a));
	assert_alert(&a, DL_OVERDUE, "2100-12-24", 0, NINE);

	/* No walk through the years between: 20000 such calls take well
	   under a second even under ASan; walking day by day through 75
	   years would take minutes. */
	start = clock();
	for (i = 0; i < 10000; i++) {
		assert_true(dl_next_alert(&r, &d, &p, NULL,
		    loc("2100-12-24", 12, 0), &a));
		assert_true(dl_latest_alert(&r, &d, &p, NULL, DL_NO_TIME,
		    loc("2100-12-26", 12, 0), &a));
	}
	secs = (double)(clock() - start) / CLOCKS_PER_SEC;
	print_message("20000 calls in %.3f s\n", secs);
	assert_true(secs < 10.0);
}

/* --- a brute-force model ---------------------------------------------- */

struct model_alert {
	enum dl_kind	kind;
	int		day;
	int		days_before;
};

static int
model_rank(enum dl_kind k)
{
	return k == DL_OVERDUE ? 3 : k == DL_WARNING ? 2 : 1;
}

static int
model_prev_working(int day, const struct cal_local *l)
{
	while (!cal_is_working_day(day, l))
		day--;
	return day;
}

static void
model_add(struct model_alert *m, int *n, enum dl_kind kind, int day,
    int before)
{
	int	i;

	for (i = 0; i < *n; i++)
		if (m[i].kind == kind && m[i].day == day) {
			if (before < m[i].days_before)
				m[i].days_before = before;
			return;
		}
	m[(*n)++] = (struct model_alert){ kind, day, before };
}

/* Every alert of SPEC §4 up to the day `until`, by walking every day. */
static int
model_alerts(const struct dl_request *r, const struct dl_dates *d,
    const struct dl_policy *p, const struct cal_local *l, int until,
    struct model_alert *m)
{
	int	n = 0, i, day;

	for (i = 0; i < p->n_warn_days; i++)
		model_add(m, &n, DL_WARNING,
		    model_prev_working(d->due - p->warn_days[i], l),
		    p->warn_days[i]);
	if (!r->extended && p->extension_decision_days > 0)
		model_add(m, &n, DL_EXTENSION_DECISION,
		    model_prev_working(d->one_month_due -
		    p->extension_decision_days, l), 0);
	for (day = d->due + 1; day <= until; day++)
		if (cal_is_working_day(day, l))
			model_add(m, &n, DL_OVERDUE, day, 0);
	return n;
}

/* The model's pick among the alerts on days in (lo, hi]: the earliest
   (or latest), the higher rank on one day. */
static const struct model_alert *
model_pick(const struct model_alert *m, int n, int lo, int hi, bool earliest)
{
	const struct model_alert	*best = NULL;
	int				 i;

	for (i = 0; i < n; i++) {
		if (m[i].day <= lo || m[i].day > hi)
			continue;
		if (best == NULL ||
		    (earliest ? m[i].day < best->day : m[i].day > best->day) ||
		    (m[i].day == best->day &&
		    model_rank(m[i].kind) > model_rank(best->kind)))
			best = &m[i];
	}
	return best;
}

static void
check_against_model(const struct dl_request *r, const struct dl_policy *p,
    const struct cal_local *l)
{
	struct model_alert		 m[128];
	const struct model_alert	*want;
	struct dl_dates			 d;
	struct dl_alert			 a;
	time_t				 after, upto;
	int				 n, until, day, lo, hi, k;

	dl_compute(r, p, l, &d);
	until = d.due + 60;
	n = model_alerts(r, &d, p, l, until, m);

	/* dl_next_alert from "since ever" and from every day around, at
	   the alert moment itself and a little before and after it. */
	for (day = d.due - 40; day < until - 20; day++) {
		for (k = -1; k <= 1; k++) {
			after = cal_moment(day, p->alert_time) + k * 3600;
			/* The last day whose moment is <= after. */
			lo = k < 0 ? day - 1 : day;
			want = model_pick(m, n, lo, until, true);
			assert_non_null(want);
			assert_true(dl_next_alert(r, &d, p, l, after, &a));
			if (a.kind != want->kind || a.day != want->day ||
			    a.days_before != want->days_before)
				fail_msg("next after day %d%+d h: got %s %d "
				    "(%d), want %s %d (%d)", day, k,
				    dl_kind_names[a.kind], a.day,
				    a.days_before, dl_kind_names[want->kind],
				    want->day, want->days_before);
			assert_true(a.moment == cal_moment(a.day,
			    p->alert_time));
		}
	}
	want = model_pick(m, n, DL_NONE, until, true);
	assert_true(dl_next_alert(r, &d, p, l, DL_NO_TIME, &a));
	assert_int_equal(a.kind, want->kind);
	assert_int_equal(a.day, want->day);

	/* dl_latest_alert over windows of 0 to 9 days. */
	for (day = d.due - 40; day < until - 20; day++) {
		for (k = 0; k < 10; k += 3) {
			after = cal_moment(day, p->alert_time);
			upto = cal_moment(day + k, p->alert_time + 1);
			want = model_pick(m, n, day, day + k, false);
			if (want == NULL) {
				assert_false(dl_latest_alert(r, &d, p, l,
				    after, upto, &a));
				continue;
			}
			assert_true(dl_latest_alert(r, &d, p, l, after, upto,
			    &a));
			if (a.kind != want->kind || a.day != want->day ||
			    a.days_before != want->days_before)
				fail_msg("latest (%d, %d]: got %s %d, want "
				    "%s %d", day, day + k,
				    dl_kind_names[a.kind], a.day,
				    dl_kind_names[want->kind], want->day);
		}
		hi = day;
		want = model_pick(m, n, DL_NONE, hi, false);
		upto = cal_moment(hi, p->alert_time);
		if (want == NULL)
			assert_false(dl_latest_alert(r, &d, p, l, DL_NO_TIME,
			    upto, &a));
		else {
			assert_true(dl_latest_alert(r, &d, p, l, DL_NO_TIME,
			    upto, &a));
			assert_int_equal(a.kind, want->kind);
			assert_int_equal(a.day, want->day);
		}
	}
}

static void
test_against_model(void **state)
{
	static const int	types[] = {
		REQ_ACCESS, REQ_ERASURE, REQ_RECTIFICATION
	};
	struct dl_policy	p;
	struct dl_request	r;
	struct cal_local	l;
	int			start, i;

	(void)state;
	start = day_of("2025-11-01");
	for (i = 0; i < 430; i += 3) {
		default_policy(&p);
		if (i % 2) {
			p.n_warn_days = 4;
			p.warn_days[0] = 7;
			p.warn_days[1] = 4;
			p.warn_days[2] = 3;
			p.warn_days[3] = 1;
			p.extension_decision_days = 2 + i % 9;
			p.alert_time = 17 * 60 + 45;
		}
		l = locals(i % 4 == 1 ? "06-26,12-07" : "");
		r = req(types[i % 3], "2025-01-01");
		r.received_on = start + i;
		r.extended = i % 5 == 0;
		r.paused_days = i % 7;
		if (i % 3 != 0) {
			r.status = ST_FORWARDED;
			r.forwarded_on = r.received_on + i % 11;
			r.op_paused_days = i % 4;
		}
		check_against_model(&r, &p, &l);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_from_config),
		cmocka_unit_test(test_kind_names),
		cmocka_unit_test(test_compute_table),
		cmocka_unit_test(test_compute_every_day),
		cmocka_unit_test(test_compute_forward_types),
		cmocka_unit_test(test_chain_due_monday),
		cmocka_unit_test(test_chain_across_holidays),
		cmocka_unit_test(test_chain_more_warnings),
		cmocka_unit_test(test_extension_decision),
		cmocka_unit_test(test_overdue_first),
		cmocka_unit_test(test_winter_summer),
		cmocka_unit_test(test_dst_change),
		cmocka_unit_test(test_latest_missed_window),
		cmocka_unit_test(test_latest_ties),
		cmocka_unit_test(test_no_alerts),
		cmocka_unit_test(test_far_future),
		cmocka_unit_test(test_against_model),
	};

	return cmocka_run_group_tests(tests, group_setup, NULL);
}
