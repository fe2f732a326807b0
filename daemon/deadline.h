/*
 * deadline.h: the two clocks of SPEC §4 and the moments of their alerts,
 * pure. From what a request records (receipt, forwarding, extension, paused
 * days) and the policy of [deadlines], it computes the due dates; from those
 * and an interval of time, which alert is due. The database stores the
 * results (so that lists and the scheduler read indexes), but only this
 * module decides them. No I/O; time zone via calendar.c.
 */
#ifndef DSR_DEADLINE_H
#define DSR_DEADLINE_H

#include <stdbool.h>
#include <time.h>

#include "calendar.h"
#include "config.h"

#define DL_NONE		(-2147483647 - 1)	/* no such day */
#define DL_STATUTORY_MONTHS	1		/* art. 12(3) */
#define DL_EXTENDED_MONTHS	3		/* art. 12(3), once extended */

/* What [deadlines] says; dl_policy_from() fills it from a config. */
struct dl_policy {
	int		 forward_days;
	unsigned	 forward_types;		/* 1u << enum req_type */
	int		 warn_days[CONFIG_MAX_WARN_DAYS];
	int		 n_warn_days;
	int		 alert_time;		/* minutes after midnight */
	int		 extension_decision_days;
	bool		 pause_on_await;
};
void	dl_policy_from(const struct config *, struct dl_policy *);

/* What a request records. Days are calendar.c day numbers or DL_NONE. */
struct dl_request {
	int		 type;			/* enum req_type */
	int		 status;		/* enum req_status */
	int		 received_on;
	int		 forwarded_on;		/* DL_NONE before forward */
	bool		 extended;
	int		 paused_days;		/* all pauses so far */
	int		 op_paused_days;	/* pauses after forwarding */
};

struct dl_dates {
	int	statutory_due;		/* 1 (or 3) months + paused, rolled */
	int	one_month_due;		/* the un-extended statutory due date */
	int	operational_due;	/* DL_NONE when the type has none or
					   the request is not forwarded */
	int	due;			/* the earlier of the two */
};

/*
 * Due dates per Reg. 1182/71: statutory = months_raw(received, 1 or 3) +
 * paused_days, then cal_period_end (working-day rules) from received;
 * operational = forwarded + forward_days + op_paused_days, then
 * cal_period_end from forwarded, for forward_types only.
 */
void	dl_compute(const struct dl_request *, const struct dl_policy *,
	    const struct cal_local *, struct dl_dates *);

enum dl_kind {
	DL_WARNING,		/* request.deadline_warning */
	DL_EXTENSION_DECISION,	/* request.extension_decision */
	DL_OVERDUE,		/* request.overdue */
	DL_KIND_COUNT
};
extern const char *const dl_kind_names[DL_KIND_COUNT];	/* "deadline_warning" */

struct dl_alert {
	enum dl_kind	 kind;
	time_t		 moment;
	int		 day;		/* local day of the moment */
	int		 days_before;	/* warning: days before due; else 0 */
};

/*
 * The alert moments of an open request (none for a final one, none while
 * awaiting_subject when pause_on_await). Every moment is alert_time local on
 * a working day (national, and the body's local holidays):
 *  - deadline_warning on due - k for each k of warn_days, moved to the
 *    working day before when that day is not one;
 *  - extension_decision on one_month_due - extension_decision_days (moved
 *    to the working day before), only while not extended and
 *    extension_decision_days > 0;
 *  - overdue on the first working day after due, then on every working day
 *    after it, for ever.
 * Several kinds on one moment are separate alerts.
 */
/* The earliest alert with moment > after. false: none. */
bool	dl_next_alert(const struct dl_request *, const struct dl_dates *,
	    const struct dl_policy *, const struct cal_local *, time_t after,
	    struct dl_alert *);
/*
 * The latest alert with after < moment <= upto (after may be DL_NO_TIME for
 * "since ever"): the one alert raised for a window that was missed (dsrd was
 * down, or the request was filed or changed late). Between alerts of the
 * same moment, overdue beats deadline_warning beats extension_decision.
 * false: none.
 */
#define DL_NO_TIME	((time_t)(-0x3fffffffffffffffLL - 1))	/* -2^62 */
bool	dl_latest_alert(const struct dl_request *, const struct dl_dates *,
	    const struct dl_policy *, const struct cal_local *, time_t after,
	    time_t upto, struct dl_alert *);

#endif
