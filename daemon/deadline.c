/*
 * deadline.c: the two clocks of SPEC §4 and the moments of their alerts.
 * Every date goes through calendar.c (periods of Reg. 1182/71, working days,
 * local wall-clock moments); this file only decides which periods and which
 * days. It is called for every open request by the scheduler, so each call
 * costs a handful of calendar look-ups and never walks day by day through
 * the endless series of overdue reminders. It must never do I/O, read the
 * clock or keep state between calls.
 */
#include <limits.h>
#include <stdbool.h>
#include <time.h>

#include "calendar.h"
#include "config.h"
#include "deadline.h"
#include "validate.h"

const char *const dl_kind_names[DL_KIND_COUNT] = {
	[DL_WARNING] = "deadline_warning",
	[DL_EXTENSION_DECISION] = "extension_decision",
	[DL_OVERDUE] = "overdue",
};

/*
 * Bounds of the days this module reasons about. Instants outside them (such
 * as DL_NO_TIME) are mapped to a day before or after every alert without
 * asking libc, whose localtime_r fails there.
 */
#define DL_DAY_MIN	(-1000000)	/* before 1900 */
#define DL_DAY_MAX	(3000000)	/* after 9999 */

void
dl_policy_from(const struct config *cf, struct dl_policy *p)
{
	int	i, n;

	p->forward_days = cf->forward_days;
	p->forward_types = cf->forward_types;
	n = cf->n_warn_days;
	if (n < 0)
		n = 0;
	if (n > CONFIG_MAX_WARN_DAYS)
		n = CONFIG_MAX_WARN_DAYS;
	for (i = 0; i < n; i++)
		p->warn_days[i] = cf->warn_days[i];
	for (; i < CONFIG_MAX_WARN_DAYS; i++)
		p->warn_days[i] = 0;
	p->n_warn_days = n;
	p->alert_time = cf->alert_time;
	p->extension_decision_days = cf->extension_decision_days;
	p->pause_on_await = cf->pause_on_await != 0;
}

void
dl_compute(const struct dl_request *r, const struct dl_policy *p,
    const struct cal_local *local, struct dl_dates *out)
{
	int	raw;

	raw = cal_period_months_raw(r->received_on,
	    r->extended ? DL_EXTENDED_MONTHS : DL_STATUTORY_MONTHS) +
	    r->paused_days;
	out->statutory_due = cal_period_end(r->received_on, raw, local);
	/* Not extended, the one-month date is the same period. */
	if (!r->extended)
		out->one_month_due = out->statutory_due;
	else {
		raw = cal_period_months_raw(r->received_on,
		    DL_STATUTORY_MONTHS) + r->paused_days;
		out->one_month_due = cal_period_end(r->received_on, raw,
		    local);
	}

	out->operational_due = DL_NONE;
	if (r->forwarded_on != DL_NONE && r->type >= 0 &&
	    r->type < REQ_TYPE_COUNT &&
	    (p->forward_types & (1u << r->type)) != 0) {
		raw = r->forwarded_on + p->forward_days + r->op_paused_days;
		out->operational_due = cal_period_end(r->forwarded_on, raw,
		    local);
	}

	out->due = out->statutory_due;
	if (out->operational_due != DL_NONE &&
	    out->operational_due < out->due)
		out->due = out->operational_due;
}

/*
 * The last day whose alert moment (alert_time local) is at or before t.
 * Moments grow strictly with the day (each lies within its own local day),
 * so "moment(d) > t" is "d > this"; comparing days saves a cal_moment per
 * candidate.
 */
static int
last_day_not_after(time_t t, int minute)
{
	int	d;

	if (t < (time_t)DL_DAY_MIN * 86400)
		return DL_DAY_MIN;
	if (t > (time_t)DL_DAY_MAX * 86400)
		return DL_DAY_MAX;
	d = cal_today(t);
	return cal_moment(d, minute) <= t ? d : d - 1;
}

/* Between alerts on one day, the one that matters most wins. */
static int
kind_rank(enum dl_kind k)
{
	switch (k) {
	case DL_OVERDUE:
		return 3;
	case DL_WARNING:
		return 2;
	case DL_EXTENSION_DECISION:
		return 1;
	case DL_KIND_COUNT:
		break;
	}
	return 0;
}

/* The finite alerts of a request, one per (kind, day). */
struct dl_cand {
	enum dl_kind	kind;
	int		day;
	int		days_before;
};

struct dl_set {
	struct dl_cand	c[CONFIG_MAX_WARN_DAYS + 1];
	int		n;
	int		first_overdue;
};

/* false: the request has no alerts at all in its present state. */
static bool
dl_collect(const struct dl_request *r, const struct dl_dates *dt,
    const struct dl_policy *p, const struct cal_local *local,
    struct dl_set *s)
{
	int	i, j, k, day, nwarn;

	if (r->status == ST_COMPLETED || r->status == ST_REJECTED ||
	    r->status == ST_WITHDRAWN)
		return false;
	if (r->status == ST_AWAITING_SUBJECT && p->pause_on_await)
		return false;
	if (dt->due == DL_NONE || dt->due <= DL_DAY_MIN ||
	    dt->due >= DL_DAY_MAX)
		return false;

	s->n = 0;
	nwarn = p->n_warn_days;
	if (nwarn > CONFIG_MAX_WARN_DAYS)
		nwarn = CONFIG_MAX_WARN_DAYS;
	for (i = 0; i < nwarn; i++) {
		k = p->warn_days[i];
		if (k < 0)
			continue;
		day = cal_prev_working_day(dt->due - k, local);
		for (j = 0; j < s->n; j++)
			if (s->c[j].day == day)
				break;
		if (j < s->n) {
			/* Two warnings on one day: say the nearer count. */
			if (k < s->c[j].days_before)
				s->c[j].days_before = k;
			continue;
		}
		s->c[s->n++] = (struct dl_cand){ DL_WARNING, day, k };
	}
	if (!r->extended && p->extension_decision_days > 0 &&
	    dt->one_month_due != DL_NONE) {
		day = cal_prev_working_day(dt->one_month_due -
		    p->extension_decision_days, local);
		s->c[s->n++] = (struct dl_cand){ DL_EXTENSION_DECISION, day,
		    0 };
	}
	s->first_overdue = cal_next_working_day(dt->due + 1, local);
	return true;
}

static void
dl_fill(const struct dl_policy *p, enum dl_kind kind, int day,
    int days_before, struct dl_alert *out)
{
	out->kind = kind;
	out->day = day;
	out->moment = cal_moment(day, p->alert_time);
	out->days_before = kind == DL_WARNING ? days_before : 0;
}

/* Whether (kind, day) comes before the best so far; ties go to rank. */
static bool
better(bool have, int best_day, enum dl_kind best_kind, int day,
    enum dl_kind kind, bool earliest)
{
	if (!have)
		return true;
	if (day != best_day)
		return earliest ? day < best_day : day > best_day;
	return kind_rank(kind) > kind_rank(best_kind);
}

bool
dl_next_alert(const struct dl_request *r, const struct dl_dates *dt,
    const struct dl_policy *p, const struct cal_local *local, time_t after,
    struct dl_alert *out)
{
	struct dl_set	s;
	enum dl_kind	bkind = DL_WARNING;
	bool		have = false;
	int		i, da, day, bday = 0, bbefore = 0;

	if (!dl_collect(r, dt, p, local, &s))
		return false;
	da = last_day_not_after(after, p->alert_time);

	for (i = 0; i < s.n; i++) {
		if (s.c[i].day <= da)
			continue;
		if (better(have, bday, bkind, s.c[i].day, s.c[i].kind,
		    true)) {
			have = true;
			bday = s.c[i].day;
			bkind = s.c[i].kind;
			bbefore = s.c[i].days_before;
		}
	}
	if (da < DL_DAY_MAX) {
		/* The first reminder on a working day past the threshold. */
		day = s.first_overdue > da ? s.first_overdue :
		    cal_next_working_day(da + 1, local);
		if (better(have, bday, bkind, day, DL_OVERDUE, true)) {
			have = true;
			bday = day;
			bkind = DL_OVERDUE;
			bbefore = 0;
		}
	}
	if (!have)
		return false;
	dl_fill(p, bkind, bday, bbefore, out);
	return true;
}

bool
dl_latest_alert(const struct dl_request *r, const struct dl_dates *dt,
    const struct dl_policy *p, const struct cal_local *local, time_t after,
    time_t upto, struct dl_alert *out)
{
	struct dl_set	s;
	enum dl_kind	bkind = DL_WARNING;
	bool		have = false;
	int		i, da, du, day, bday = 0, bbefore = 0;

	if (upto <= after || !dl_collect(r, dt, p, local, &s))
		return false;
	da = last_day_not_after(after, p->alert_time);
	du = last_day_not_after(upto, p->alert_time);
	if (du <= da)
		return false;

	for (i = 0; i < s.n; i++) {
		if (s.c[i].day <= da || s.c[i].day > du)
			continue;
		if (better(have, bday, bkind, s.c[i].day, s.c[i].kind,
		    false)) {
			have = true;
			bday = s.c[i].day;
			bkind = s.c[i].kind;
			bbefore = s.c[i].days_before;
		}
	}
	if (du >= s.first_overdue && du < DL_DAY_MAX) {
		/* The last reminder at or before upto; the first one is a
		   working day, so this never goes below it. An upto past
		   the calendar has no latest reminder. */
		day = cal_prev_working_day(du, local);
		if (day > da && better(have, bday, bkind, day, DL_OVERDUE,
		    false)) {
			have = true;
			bday = day;
			bkind = DL_OVERDUE;
			bbefore = 0;
		}
	}
	if (!have)
		return false;
	dl_fill(p, bkind, bday, bbefore, out);
	return true;
}
