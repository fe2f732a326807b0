/*
 * sched.c: the alert scheduler of SPEC §4. It holds no per-request state:
 * the database says which request is due next (next_alert_at, indexed) and
 * deadline.c says which alert that is. It never raises an alert twice: the
 * alerts table's primary key (request, kind, moment) and the row locks of
 * the batch make that the database's job, across restarts and daemons.
 */
#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "deadline.h"
#include "dsrd.h"
#include "log.h"
#include "notify.h"
#include "outbox.h"
#include "sched.h"
#include "store.h"
#include "util.h"

#define SCHED_CAP	3600	/* seconds: notice a wall-clock jump */
#define SCHED_RETRY	5	/* seconds after a database error */
#define SCHED_BATCH	500	/* requests per transaction */
/* Batches at once: while one commits, the next is read and decided, and
   PostgreSQL runs two on two cores. SKIP LOCKED keeps them apart. */
#define SCHED_PAR	2

static struct {
	struct event	*timer;
	time_t		 armed_at;	/* what the timer is armed for */
	int		 querying;	/* the next-alert query in flight */
	int		 batches;	/* batches in flight */
	int		 kicked;	/* look again when it is done */
	int		 running;
} sched;

static void	sched_query(void);

/* The daemon's clock to the millisecond (CLOCK_REALTIME, as time(2) and
   libfaketime see it). */
static long long
sched_now_ms(void)
{
	struct timespec	ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return (long long)app_now() * 1000;
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Arms the timer for the instant `at` (capped), to the millisecond: an
 * alert moment is a whole second, and a timer armed in whole seconds from
 * time() would fire up to a second late.
 */
static void
sched_arm_at(time_t at)
{
	struct timeval	tv;
	long long	now = sched_now_ms(), ms;

	ms = (long long)at * 1000 - now;
	if (ms > SCHED_CAP * 1000LL) {
		ms = SCHED_CAP * 1000LL;
		at = (time_t)((now + ms) / 1000);
	}
	if (ms < 0)
		ms = 0;
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	sched.armed_at = at;
	evtimer_add(sched.timer, &tv);
}

static void
sched_arm(long seconds)
{
	sched_arm_at(app_now() + seconds);
}

static void
sched_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sched_query();
}

/* The next step once the next-alert query ended. */
static void
sched_idle(void)
{
	if (sched.kicked && sched.running) {
		sched.kicked = 0;
		sched_query();
	}
}

static void	sched_batch(void);

static void
raised_cb(int err, int raised, void *arg)
{
	int	full = (int)(long)arg;

	sched.batches--;
	if (err != 0) {
		if (sched.batches == 0)
			sched_arm(SCHED_RETRY);
		return;
	}
	if (raised > 0) {
		log_debug("scheduler: %d alerts raised", raised);
		outbox_kick();
	}
	if (!sched.running)
		return;
	if (full)
		sched_batch();		/* there may be more due */
	else if (sched.batches == 0) {
		/* The last batch found the rest: the next moment, afresh. */
		sched.kicked = 0;
		sched_query();
	}
}

static void
batch_cb(struct store_tx *tx, int err, const struct request_row *rows, int n,
    void *arg)
{
	struct alert_out	*out;
	struct dl_policy	 pol;
	time_t			 now = app_now();
	char			*hooks;

	(void)arg;
	if (err != 0) {
		if (--sched.batches == 0)
			sched_arm(SCHED_RETRY);
		return;
	}
	dl_policy_from(&app.cfg, &pol);
	out = xcalloc((size_t)n + 1, sizeof *out);
	for (int i = 0; i < n; i++) {
		const struct request_row *r = &rows[i];
		struct dl_request	 dr = {
			.type = r->type, .status = r->status,
			.received_on = r->received_on,
			.forwarded_on = r->forwarded_on,
			.extended = r->extended,
			.paused_days = r->paused_days,
			.op_paused_days = r->op_paused_days,
		};
		struct dl_dates		 dd;
		struct dl_alert		 al;

		dl_compute(&dr, &pol, &r->holidays, &dd);
		/* Alerts follow the dates the request shows. */
		dd.statutory_due = r->statutory_due_on;
		dd.due = r->due_on;
		out[i].request_id = r->id;
		out[i].kind = -1;
		if (dl_latest_alert(&dr, &dd, &pol, &r->holidays, r->alerts_after,
		    now, &al)) {
			out[i].kind = (int)al.kind;
			out[i].moment = al.moment;
			out[i].due_on = r->due_on;
			out[i].days_before = al.days_before;
		}
		out[i].next_at = dl_next_alert(&dr, &dd, &pol, &r->holidays, now,
		    &al) ? al.moment : DL_NO_TIME;
	}
	hooks = notify_webhooks_json(&app.cfg);
	store_alert_commit(tx, out, n, now, notify_dpo_email(&app.cfg), hooks,
	    raised_cb, (void *)(long)(n == SCHED_BATCH));
	free(hooks);
	free(out);
}

static void
sched_batch(void)
{
	sched.batches++;
	store_alert_batch(app.db, app_now(), SCHED_BATCH, batch_cb, NULL);
}

static void
next_cb(int err, time_t next, void *arg)
{
	long long	now = sched_now_ms();

	(void)arg;
	sched.querying = 0;
	if (!sched.running)
		return;
	if (err != 0) {
		sched_arm(SCHED_RETRY);
		return;
	}
	if (next != DL_NO_TIME && (long long)next * 1000 <= now) {
		sched.kicked = 0;
		for (int i = 0; i < SCHED_PAR; i++)
			sched_batch();
		return;
	}
	if (next == DL_NO_TIME)
		sched_arm(SCHED_CAP);
	else {
		sched_arm_at(next);
		log_debug("scheduler: next alert in %lld ms",
		    (long long)next * 1000 - now);
	}
	sched_idle();
}

static void
sched_query(void)
{
	if (!sched.running || !app_db_ready())
		return;
	if (sched.querying || sched.batches > 0) {
		sched.kicked = 1;
		return;
	}
	evtimer_del(sched.timer);
	sched.querying = 1;
	store_next_alert(app.db, next_cb, NULL);
}

void
sched_init(struct event_base *base)
{
	sched.timer = evtimer_new(base, sched_timer_cb, NULL);
}

void
sched_start(void)
{
	sched.running = 1;
	sched_query();
}

void
sched_kick(void)
{
	sched_query();
}

void
sched_kick_at(time_t when)
{
	if (!sched.running || when == DL_NO_TIME)
		return;
	if (sched.querying || sched.batches > 0) {
		/* The query in flight may have looked before this commit. */
		sched.kicked = 1;
		return;
	}
	/* The armed moment comes first: nothing to do, not even a query. */
	if (when >= sched.armed_at && evtimer_pending(sched.timer, NULL))
		return;
	sched_arm_at(when);
}

void
sched_stop(void)
{
	sched.running = 0;
	if (sched.timer != NULL)
		evtimer_del(sched.timer);
}

void
sched_free(void)
{
	if (sched.timer != NULL)
		event_free(sched.timer);
	sched.timer = NULL;
}

int
sched_busy(void)
{
	return sched.querying + sched.batches;
}
