/*
 * outbox.c: the delivery worker. Rows are claimed in one short committed
 * statement (state sending, lease_until) and only then sent; no row lock is
 * held across SMTP or HTTP. A crash mid-send leaves the row leased; when the
 * lease ends it is claimed again (at-least-once). It never drops a row
 * silently: a row that gives up is dead, logged, listed, and escalated.
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
#define OB_MAX_MAILS	4	/* SMTP transactions at once */
#define OB_POLL_CAP	60	/* seconds: rows queued by other daemons */
#define OB_RETRY_DB	5	/* seconds after a database error */

/* One row being delivered. */
struct job {
	struct outbox_row	*row;
	struct webhook_req	*wh;
};

static struct {
	struct event_base	*base;
	struct curlm		*curlm;
	struct mailer		*mailer;
	struct event		*timer;
	struct event		*kick_ev;
	int			 running;
	int			 claiming;
	int			 again;		/* claim again when done */
	int			 webhooks;	/* in flight */
	int			 mails;
	int			 recording;	/* outcomes being written */
	char			*password;	/* [smtp] password_file */
} ob;

static void	ob_claim(void);

static int
mail_enabled(void)
{
	return app.cfg.smtp_url != NULL && *app.cfg.smtp_url != '\0';
}

static void
read_password(void)
{
	FILE	*f;
	char	 line[1024];

	if (ob.password != NULL) {
		explicit_bzero(ob.password, strlen(ob.password));
		free(ob.password);
		ob.password = NULL;
	}
	if (app.cfg.smtp_password_file == NULL ||
	    *app.cfg.smtp_password_file == '\0')
		return;
	if ((f = fopen(app.cfg.smtp_password_file, "re")) == NULL) {
		log_error("[smtp] password_file %s: cannot read it; mail goes "
		    "without AUTH", app.cfg.smtp_password_file);
		return;
	}
	if (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		ob.password = xstrdup(line);
	}
	explicit_bzero(line, sizeof line);
	fclose(f);
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

static void
recorded_cb(int err, void *arg)
{
	(void)arg;
	ob.recording--;
	if (err != 0) {
		/* The lease will end and the row be claimed again. */
		struct timeval tv = { OB_RETRY_DB, 0 };

		if (ob.running)
			evtimer_add(ob.timer, &tv);
		return;
	}
	ob_claim();
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
		break;
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
	if (*app.cfg.smtp_username != '\0') {
		mj->username = xstrdup(app.cfg.smtp_username);
		mj->password = xstrdup(ob.password ? ob.password : "");
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

static void
when_cb(int err, time_t when, void *arg)
{
	struct timeval	tv = { OB_POLL_CAP, 0 };
	time_t		now = app_now();

	(void)arg;
	ob.claiming = 0;
	if (!ob.running)
		return;
	if (err != 0)
		tv.tv_sec = OB_RETRY_DB;
	else if (when != DL_NO_TIME && when - now < OB_POLL_CAP)
		tv.tv_sec = when <= now ? 0 : (long)(when - now);
	evtimer_add(ob.timer, &tv);
	if (ob.again) {
		ob.again = 0;
		ob_claim();
	}
}

static void
claimed_cb(int err, struct outbox_row **rows, int n, void *arg)
{
	int	asked = (int)(intptr_t)arg;

	if (err != 0) {
		struct timeval tv = { OB_RETRY_DB, 0 };

		ob.claiming = 0;
		if (ob.running)
			evtimer_add(ob.timer, &tv);
		return;
	}
	for (int i = 0; i < n; i++) {
		struct job *j = xcalloc(1, sizeof *j);

		j->row = rows[i];
		if (j->row->email)
			send_mail(j);
		else
			send_webhook(j);
	}
	if (n == asked && ob.running) {
		/* There may be more due: go on once slots free up. */
		ob.claiming = 0;
		ob.again = 1;
		ob_claim();
		return;
	}
	/* Nothing more due now: sleep until the next row is. */
	store_outbox_next(app.db, mail_enabled(), when_cb, NULL);
}

static void
ob_claim(void)
{
	int	slots;
	time_t	now = app_now(), lease;

	if (!ob.running || !app_db_ready())
		return;
	if (ob.claiming) {
		ob.again = 1;
		return;
	}
	slots = (OB_MAX_WEBHOOKS - ob.webhooks) < (OB_MAX_MAILS - ob.mails) ?
	    (OB_MAX_WEBHOOKS - ob.webhooks) : (OB_MAX_MAILS - ob.mails);
	if (slots <= 0) {
		ob.again = 1;
		return;
	}
	ob.again = 0;
	ob.claiming = 1;
	evtimer_del(ob.timer);
	/* Long enough for the slowest attempt, then it returns to the queue. */
	lease = now + 4 * (app.cfg.smtp_timeout > app.cfg.webhook_timeout ?
	    app.cfg.smtp_timeout : app.cfg.webhook_timeout) + 30;
	store_outbox_claim(app.db, now, lease, slots, mail_enabled(),
	    app.cfg.include_subject_name, claimed_cb, (void *)(intptr_t)slots);
}

static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	ob_claim();
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
	ob.mailer = mailer_start(base, mail_done, NULL, cause);
	if (ob.mailer == NULL) {
		curlm_free(ob.curlm);
		return -1;
	}
	ob.timer = evtimer_new(base, timer_cb, NULL);
	ob.kick_ev = event_new(base, -1, 0, timer_cb, NULL);
	read_password();
	return 0;
}

void
outbox_start(void)
{
	ob.running = 1;
	ob_claim();
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
}

int
outbox_busy(void)
{
	return ob.claiming + ob.webhooks + ob.mails + ob.recording;
}

void
outbox_free(void)
{
	ob.running = 0;
	if (ob.mailer != NULL)
		mailer_stop(ob.mailer);
	ob.mailer = NULL;
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
