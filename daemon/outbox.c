/*
 * outbox.c: the delivery worker. Rows are claimed in one short committed
 * statement (state sending, lease_until) and only then sent; no row lock is
 * held across SMTP or HTTP. A crash mid-send leaves the row leased; when the
 * lease ends it is claimed again (at-least-once). It never drops a row
 * silently: a row that gives up is dead, logged, listed, and escalated.
 *
 * Commits are shared: with a backlog, rows are claimed ahead into a local
 * queue (a lease long enough for the queue) so that a slot that frees up
 * sends the next row at once, and the rows sent since the last record are
 * recorded together in one statement. A daemon that stops gives back the
 * rows it claimed and never tried.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>
#include <curl/curl.h>
#include <event2/event.h>

#include "curlm.h"
#include "deadline.h"
#include "dsrd.h"
#include "log.h"
#include "mail.h"
#include "mailer.h"
#include "notify.h"
#include "outbox.h"
#include "store.h"
#include "store-outbox.h"
#include "util.h"
#include "webhook.h"

#define OB_MAX_WEBHOOKS	16	/* webhook POSTs at once */
#define OB_MAX_MAILS	4	/* SMTP transactions at once, a thread each */
#define OB_AHEAD	64	/* rows claimed and not yet sent, at most */
#define OB_POLL_CAP	60	/* seconds: rows queued by other daemons */
#define OB_RETRY_DB	5	/* seconds after a database error */

/* One row claimed: queued, then being delivered. */
struct job {
	struct outbox_row	*row;
	struct webhook_req	*wh;
	time_t			 lease_until;
	struct job		*next;		/* in the queue */
};

static struct {
	struct event_base	*base;
	struct curlm		*curlm;
	struct mailer		*mailer;
	struct event		*timer;
	struct event		*kick_ev;
	int			 running;
	int			 claiming;	/* a claim (or its next) in flight */
	int			 more;		/* rows may be due, unclaimed */
	int			 backlog;	/* the last claim came back full */
	time_t			 claim_lease;	/* of the claim in flight */
	struct job		*qhead;		/* claimed, not yet started */
	struct job		**qtail;
	int			 queued;
	int			 webhooks;	/* in flight */
	int			 mails;
	int			 recording;	/* outcomes being written */
	long long		*sent;		/* sent, not yet recorded */
	int			 nsent;
	int			 sentcap;
	long long		*flush;		/* sent, being recorded */
	int			 nflush;
	char			*password;	/* [smtp] password_file */
} ob;

static void	ob_pump(void);
static void	release_queue(bool);

static int
mail_enabled(void)
{
	return app.cfg.smtp_url != NULL && *app.cfg.smtp_url != '\0';
}

/* [smtp] password_file, read as every secret file is (config.c). */
static void
read_password(void)
{
	char	*cause = NULL;

	if (ob.password != NULL) {
		explicit_bzero(ob.password, strlen(ob.password));
		free(ob.password);
		ob.password = NULL;
	}
	if (app.cfg.smtp_password_file == NULL ||
	    *app.cfg.smtp_password_file == '\0')
		return;
	if (config_read_secret(app.cfg.smtp_password_file, 1023,
	    &ob.password, &cause) == -1) {
		log_error("[smtp] password_file %s: %s; mail goes without AUTH",
		    app.cfg.smtp_password_file, cause);
		free(cause);
	}
}

/* Exponential backoff with jitter between retry_min and retry_max. */
static time_t
backoff(int attempts)
{
	double	d = app.cfg.retry_min;
	long	lo, span;

	for (int i = 1; i < attempts && d < app.cfg.retry_max; i++)
		d *= 2;
	if (d > app.cfg.retry_max)
		d = app.cfg.retry_max;
	/* "equal jitter": half fixed, half random, never under retry_min */
	lo = (long)(d / 2);
	span = (long)d - lo;
	d = lo + (span > 0 ? (long)arc4random_uniform((uint32_t)span + 1) : 0);
	if (d < app.cfg.retry_min)
		d = app.cfg.retry_min;
	return (time_t)d;
}

/* The longest an attempt may take. */
static long
attempt_max(void)
{
	return app.cfg.smtp_timeout > app.cfg.webhook_timeout ?
	    app.cfg.smtp_timeout : app.cfg.webhook_timeout;
}

static void
retry_later(void)
{
	struct timeval tv = { OB_RETRY_DB, 0 };

	if (ob.running)
		evtimer_add(ob.timer, &tv);
}

static void
recorded_cb(int err, void *arg)
{
	(void)arg;
	ob.recording--;
	/* On error the lease will end and the row be claimed again. */
	if (err != 0)
		retry_later();
	/* A retry (or an escalation) is due at a new moment: look again,
	   which also sets the timer for it. */
	ob.more = 1;
	ob_pump();
}

/* A row sent, to be recorded with the next batch. */
static void
sent_push(long long id)
{
	if (ob.nsent == ob.sentcap) {
		ob.sentcap = ob.sentcap ? 2 * ob.sentcap : 64;
		ob.sent = xreallocarray(ob.sent, (size_t)ob.sentcap,
		    sizeof *ob.sent);
	}
	ob.sent[ob.nsent++] = id;
}

static void
sent_recorded_cb(int err, void *arg)
{
	(void)arg;
	if (err != 0) {
		/* Keep them: recorded on the next try, not sent again. */
		for (int i = 0; i < ob.nflush; i++)
			sent_push(ob.flush[i]);
		retry_later();
	}
	free(ob.flush);
	ob.flush = NULL;
	ob.nflush = 0;
	if (err == 0)
		ob_pump();
}

/* The rows sent since the last record, in one statement. */
static void
flush_sent(void)
{
	if (ob.flush != NULL || ob.nsent == 0 || !app_db_ready())
		return;
	ob.flush = ob.sent;
	ob.nflush = ob.nsent;
	ob.sent = NULL;
	ob.nsent = ob.sentcap = 0;
	store_outbox_sent(app.db, ob.flush, ob.nflush, app_now(),
	    sent_recorded_cb, NULL);
}

/* Records what became of one attempt, and frees the job. */
static void
finish(struct job *j, enum dlv_result res, const char *why, long retry_after)
{
	struct outbox_row	*r = j->row;
	time_t			 now = app_now(), next = 0;
	enum outbox_outcome	 o;
	char			*err = NULL, *hooks = NULL;

	switch (res) {
	case DLV_OK:
		o = OB_SENT;
		log_info("outbox %lld: %s sent by %s (attempt %d)", r->id,
		    r->event, r->email ? "e-mail" : "webhook", r->attempts);
		sent_push(r->id);
		outbox_row_free(r);
		if (j->wh != NULL)
			webhook_req_free(j->wh);
		free(j);
		return;
	case DLV_TEMP:
		if (now - r->age_from >= app.cfg.max_age) {
			o = OB_DEAD;
			err = xasprintf("gave up after %d attempts: %s",
			    r->attempts, why);
			break;
		}
		o = OB_RETRY;
		next = now + (retry_after > 0 ? (time_t)retry_after :
		    backoff(r->attempts));
		if (retry_after > app.cfg.max_age)
			next = now + app.cfg.retry_max;
		log_warn("outbox %lld: %s by %s failed (attempt %d), retry in "
		    "%lld s: %s", r->id, r->event, r->email ? "e-mail" :
		    "webhook", r->attempts, (long long)(next - now), why);
		break;
	case DLV_GONE:
		o = OB_DEAD_GONE;
		err = xasprintf("webhook %s answered 410 Gone: disabled until "
		    "`dsrctl outbox retry`", r->recipient);
		break;
	case DLV_PERM:
	default:
		o = r->disabled ? OB_DEAD_QUIET : OB_DEAD;
		break;
	}
	if (o != OB_SENT && o != OB_RETRY) {
		if (err == NULL)
			err = xstrdup(why ? why : "failed");
		log_error("outbox %lld: %s by %s is dead: %s", r->id, r->event,
		    r->email ? "e-mail" : "webhook", err);
		hooks = notify_webhooks(&app.cfg, -1);
	}
	ob.recording++;
	store_outbox_done(app.db, r->id, o, now, next,
	    err ? err : (o == OB_RETRY ? why : NULL),
	    notify_dpo_email(&app.cfg), hooks, recorded_cb, NULL);
	free(err);
	free(hooks);
	outbox_row_free(r);
	if (j->wh != NULL)
		webhook_req_free(j->wh);
	free(j);
}

/* ---- webhooks ---------------------------------------------------------- */

static void
webhook_done(CURL *easy, CURLcode rc, void *arg)
{
	struct job	*j = arg;
	long		 retry_after = -1;
	char		*why = NULL;
	enum dlv_result	 res;

	ob.webhooks--;
	res = webhook_classify(easy, rc, app_now(), &retry_after, &why);
	/* The easy handle is ours; webhook_req_free cleans it up. */
	(void)easy;
	finish(j, res, why, retry_after);
	free(why);
	ob_pump();
}

/* The webhook body: Standard Webhooks' {type, timestamp, data}. */
static char *
webhook_body(const struct outbox_row *r)
{
	cJSON	*p = cJSON_Parse(r->payload), *o, *data, *at;
	char	*s, *out;

	if (p == NULL)
		return NULL;
	at = cJSON_DetachItemFromObject(p, "at");
	cJSON_DeleteItemFromObject(p, "event");
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", r->event);
	cJSON_AddItemToObject(o, "timestamp", at ? at : cJSON_CreateNull());
	data = p;
	cJSON_AddItemToObject(o, "data", data);
	s = cJSON_PrintUnformatted(o);
	out = s ? xstrdup(s) : NULL;
	cJSON_free(s);
	cJSON_Delete(o);
	return out;
}

static void
send_webhook(struct job *j)
{
	const struct webhook_conf	*w;
	char				*body, *cause = NULL;

	for (w = app.cfg.webhooks; w != NULL; w = w->next)
		if (strcmp(w->name, j->row->recipient) == 0)
			break;
	if (j->row->disabled) {
		finish(j, DLV_PERM, "webhook endpoint disabled after 410 Gone",
		    -1);
		return;
	}
	if (w == NULL) {
		finish(j, DLV_PERM, "no such webhook in the configuration", -1);
		return;
	}
	if ((body = webhook_body(j->row)) == NULL) {
		finish(j, DLV_PERM, "unreadable payload", -1);
		return;
	}
	j->wh = webhook_prepare(w->url, w->secret, j->row->msg_id, app_now(),
	    body, app.cfg.webhook_timeout, &cause);
	free(body);
	if (j->wh == NULL) {
		finish(j, DLV_PERM, cause, -1);
		free(cause);
		return;
	}
	if (curlm_add(ob.curlm, j->wh->easy, webhook_done, j) != 0) {
		finish(j, DLV_TEMP, "cannot start the transfer", -1);
		return;
	}
	ob.webhooks++;
}

/* ---- mail -------------------------------------------------------------- */

static void
mail_done(struct mail_job *mj, void *arg)
{
	struct job	*j;

	(void)arg;
	/* the job rides in the mail job's id: see send_mail */
	j = (struct job *)(uintptr_t)mj->id;
	ob.mails--;
	finish(j, mj->result, mj->error, -1);
	mail_job_free(mj);
	ob_pump();
}

static void
send_mail(struct job *j)
{
	cJSON		*payload = cJSON_Parse(j->row->payload);
	char		*subject = NULL, *body = NULL, *cause = NULL, *mid;
	struct mail_job	*mj;
	const char	*event = j->row->event;

	if (payload == NULL) {
		finish(j, DLV_PERM, "unreadable payload", -1);
		return;
	}
	if (mail_render(app.cfg.templates, app.cfg.language, event, payload,
	    j->row->entity_name, j->row->subject_name,
	    *app.cfg.dpo_name ? app.cfg.dpo_name : NULL, &subject, &body,
	    &cause) != 0) {
		cJSON_Delete(payload);
		/* A template the administrator can fix: try again later. */
		finish(j, DLV_TEMP, cause, -1);
		free(cause);
		return;
	}
	cJSON_Delete(payload);
	mj = xcalloc(1, sizeof *mj);
	mj->id = (long long)(uintptr_t)j;
	mj->url = xstrdup(app.cfg.smtp_url);
	/* AUTH with a password only: without one (no password_file, or
	   one that could not be read, logged) mail goes without AUTH. */
	if (*app.cfg.smtp_username != '\0' && ob.password != NULL) {
		mj->username = xstrdup(app.cfg.smtp_username);
		mj->password = xstrdup(ob.password);
	}
	mj->starttls = app.cfg.smtp_starttls;
	mj->timeout = app.cfg.smtp_timeout;
	mj->from = xstrdup(app.cfg.smtp_from);
	mj->to = xstrdup(j->row->recipient);
	mid = mail_message_id(j->row->msg_id, app.cfg.smtp_from);
	mj->data = mail_build(app.cfg.smtp_from, "dsrd", j->row->recipient,
	    subject, body, mid, app_now(), &mj->len);
	free(mid);
	free(subject);
	free(body);
	if (mailer_submit(ob.mailer, mj) != 0) {
		mail_job_free(mj);
		finish(j, DLV_TEMP, "mail thread busy", -1);
		return;
	}
	ob.mails++;
}

/* ---- claims ------------------------------------------------------------ */

/* Starts the queued rows that have a free slot of their kind. */
static void
dispatch(void)
{
	struct job	**pp = &ob.qhead, *j;
	time_t		  now = app_now();

	while (ob.running && (j = *pp) != NULL &&
	    (ob.mails < OB_MAX_MAILS || ob.webhooks < OB_MAX_WEBHOOKS)) {
		if (j->row->email ? ob.mails >= OB_MAX_MAILS :
		    ob.webhooks >= OB_MAX_WEBHOOKS) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		if (*pp == NULL)
			ob.qtail = pp;
		ob.queued--;
		j->next = NULL;
		if (now + attempt_max() + 5 > j->lease_until) {
			/* Its lease would end mid-send, and another daemon
			   could send it too: it goes back when it ends. */
			log_debug("outbox %lld: lease ran out in the queue",
			    j->row->id);
			outbox_row_free(j->row);
			free(j);
			continue;
		}
		if (j->row->email)
			send_mail(j);
		else
			send_webhook(j);
	}
}

static void
when_cb(int err, time_t when, void *arg)
{
	struct timeval	tv = { OB_POLL_CAP, 0 };
	time_t		now = app_now();

	(void)arg;
	ob.claiming = 0;
	if (ob.running) {
		if (err != 0)
			tv.tv_sec = OB_RETRY_DB;
		else if (when != DL_NO_TIME && when - now < OB_POLL_CAP)
			tv.tv_sec = when <= now ? 0 : (long)(when - now);
		evtimer_add(ob.timer, &tv);
	}
	ob_pump();
}

static void
claimed_cb(int err, struct outbox_row **rows, int n, void *arg)
{
	int	asked = (int)(intptr_t)arg;

	if (err != 0) {
		ob.claiming = 0;
		ob.more = 1;
		retry_later();
		return;
	}
	for (int i = 0; i < n; i++) {
		struct job *j = xcalloc(1, sizeof *j);

		j->row = rows[i];
		j->lease_until = ob.claim_lease;
		*ob.qtail = j;
		ob.qtail = &j->next;
		ob.queued++;
	}
	ob.backlog = n == asked;
	if (ob.backlog)
		ob.more = 1;	/* there may be more due */
	if (!ob.running && app.shutting_down)
		release_queue(true);	/* claimed as we stopped */
	dispatch();
	if (ob.more || !ob.running) {
		ob.claiming = 0;
		ob_pump();
		return;
	}
	/* Nothing more due now: sleep until the next row is. */
	store_outbox_next(app.db, mail_enabled(), when_cb, NULL);
}

/*
 * Claims when rows may be due and the queue is at most half full: as many
 * as there are slots, or with a backlog up to OB_AHEAD in all, under a
 * lease long enough for every row ahead of them to take its longest.
 */
static void
maybe_claim(void)
{
	int	limit, ahead;
	time_t	now = app_now();

	if (!ob.running || !app_db_ready() || ob.claiming || !ob.more ||
	    ob.queued > OB_AHEAD / 2)
		return;
	limit = ob.backlog ? OB_AHEAD - ob.queued : OB_MAX_MAILS;
	ahead = ob.queued + OB_MAX_MAILS + limit;
	ob.more = 0;
	ob.claiming = 1;
	evtimer_del(ob.timer);
	ob.claim_lease = now + ((ahead + OB_MAX_MAILS - 1) / OB_MAX_MAILS +
	    2) * attempt_max() + 30;
	store_outbox_claim(app.db, now, ob.claim_lease, limit, mail_enabled(),
	    app.cfg.include_subject_name, claimed_cb, (void *)(intptr_t)limit);
}

/* Whatever can move: send, record, claim. */
static void
ob_pump(void)
{
	dispatch();
	flush_sent();
	maybe_claim();
}

/* Gives back the rows claimed and never tried (at shutdown). */
static void
release_queue(bool give_back)
{
	struct job	*j, *next;
	long long	*ids = xcalloc((size_t)ob.queued + 1, sizeof *ids);
	int		 n = 0;

	for (j = ob.qhead; j != NULL; j = next) {
		next = j->next;
		ids[n++] = j->row->id;
		outbox_row_free(j->row);
		free(j);
	}
	ob.qhead = NULL;
	ob.qtail = &ob.qhead;
	ob.queued = 0;
	if (give_back && n > 0 && app_db_ready()) {
		ob.recording++;
		store_outbox_release(app.db, ids, n, recorded_cb, NULL);
	}
	free(ids);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ob.more = 1;
	ob_pump();
}

int
outbox_init(struct event_base *base, char **cause)
{
	ob.base = base;
	ob.curlm = curlm_new(base);
	if (ob.curlm == NULL) {
		*cause = xstrdup("cannot set up libcurl");
		return -1;
	}
	ob.mailer = mailer_start(base, OB_MAX_MAILS, mail_done, NULL, cause);
	if (ob.mailer == NULL) {
		curlm_free(ob.curlm);
		return -1;
	}
	ob.timer = evtimer_new(base, timer_cb, NULL);
	ob.kick_ev = event_new(base, -1, 0, timer_cb, NULL);
	ob.qtail = &ob.qhead;
	read_password();
	return 0;
}

void
outbox_start(void)
{
	ob.running = 1;
	ob.more = 1;
	ob_pump();
}

void
outbox_kick(void)
{
	/* Deferred: a kick comes from inside a commit's callback. */
	if (ob.running && ob.kick_ev != NULL)
		event_active(ob.kick_ev, EV_TIMEOUT, 0);
}

void
outbox_reload(void)
{
	read_password();
	outbox_kick();
}

void
outbox_stop(void)
{
	ob.running = 0;
	if (ob.timer != NULL)
		evtimer_del(ob.timer);
	/* Database gone: keep the queue for when it is back (the leases
	   hold). Shutting down: give it back, and record what was sent. */
	if (app.shutting_down) {
		release_queue(true);
		flush_sent();
	}
}

int
outbox_busy(void)
{
	return ob.claiming + ob.webhooks + ob.mails + ob.recording +
	    (ob.flush != NULL) + (ob.nsent > 0 && app_db_ready());
}

void
outbox_free(void)
{
	ob.running = 0;
	if (ob.mailer != NULL)
		mailer_stop(ob.mailer);
	ob.mailer = NULL;
	release_queue(false);
	free(ob.sent);
	free(ob.flush);
	ob.sent = ob.flush = NULL;
	ob.nsent = ob.nflush = ob.sentcap = 0;
	mail_template_cache_clear();
	if (ob.curlm != NULL)
		curlm_free(ob.curlm);
	ob.curlm = NULL;
	if (ob.timer != NULL)
		event_free(ob.timer);
	if (ob.kick_ev != NULL)
		event_free(ob.kick_ev);
	ob.timer = ob.kick_ev = NULL;
	if (ob.password != NULL) {
		explicit_bzero(ob.password, strlen(ob.password));
		free(ob.password);
	}
	ob.password = NULL;
}
