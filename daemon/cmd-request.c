/*
 * cmd-request.c: request.* methods: file, show, list. A handler checks every
 * parameter (param() names the bad one), computes dates with the pure
 * calendar module from the daemon's clock, and lets store.c do one
 * statement; it answers only after the database has committed.
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cmd.h"
#include "deadline.h"
#include "dsrd.h"
#include "log.h"
#include "notify.h"
#include "outbox.h"
#include "sched.h"
#include "proto.h"
#include "store.h"
#include "store-task.h"
#include "util.h"
#include "validate.h"

struct file_state {
	struct cmd		*cmd;
	struct request_in	 in;
	struct actor		 who;
	char			*cats;		/* text[] literal, or NULL */
	struct cal_local	 holidays;	/* the body's */
	time_t			 now;
	int			 today;
	bool			 deliver;	/* queues what we deliver */
};

static void
file_free(struct file_state *fs)
{
	free(fs->cats);
	free(fs);
}

/*
 * subject_categories: an array of the register's names of categories of
 * data subjects ("Cittadini"), as a text[] literal. Returns it (heap), or
 * NULL and *why (static).
 */
static char *
categories_literal(const cJSON *v, const char **why)
{
	const cJSON	*it;
	struct buf	 b;
	char		*cause = NULL;
	int		 n = 0;

	if (!cJSON_IsArray(v)) {
		*why = "an array of strings";
		return NULL;
	}
	buf_init(&b);
	buf_adds(&b, "{");
	cJSON_ArrayForEach(it, v) {
		if (!cJSON_IsString(it) || it->valuestring[0] == '\0' ||
		    val_text(it->valuestring, 200, 0, &cause) != 0) {
			free(cause);
			buf_free(&b);
			*why = "each item is a category name: one line of text, "
			    "1 to 200 characters";
			return NULL;
		}
		if (++n > 20) {
			buf_free(&b);
			*why = "at most 20 categories";
			return NULL;
		}
		buf_adds(&b, n > 1 ? ",\"" : "\"");
		for (const char *p = it->valuestring; *p; p++) {
			if (*p == '"' || *p == '\\')
				buf_add(&b, "\\", 1);
			buf_add(&b, p, 1);
		}
		buf_adds(&b, "\"");
	}
	buf_adds(&b, "}");
	return buf_take(&b);
}
/*
 * Each kick is a query or two beside the next filing, so only what the
 * filing changed: the scheduler when the new request's alert comes before
 * the moment its timer is armed for, the outbox when this daemon can
 * deliver what was queued (webhooks, or e-mail with [smtp]).
 */
static void
file_done_cb(struct store_res *res, void *arg)
{
	struct file_state	*fs = arg;
	int			 err = res->err;

	/* The answer first: the kicks are not the clerk's to wait for. */
	cmd_reply_store(res, fs->cmd);
	if (err == 0) {
		sched_kick_at(fs->in.next_alert_at);
		if (fs->deliver)
			outbox_kick();
	}
	file_free(fs);
}

static void	file_go(struct file_state *);
static void	file_cats_cb(int, const char *, const char *, void *);

static void
file_entity_cb(int err, const struct entity_ref *e, void *arg)
{
	struct file_state	*fs = arg;
	struct cmd		*cmd = fs->cmd;

	if (err == E_NOT_FOUND) {
		cmd_fail(cmd, E_NOT_FOUND, "entity: no such body");
		file_free(fs);
		return;
	}
	if (err != 0) {
		cmd_fail(cmd, err, "%s", store_err_msg(err));
		file_free(fs);
		return;
	}
	fs->in.entity_id = e->id;
	fs->holidays = e->holidays;
	if (fs->cats != NULL) {
		store_task_check_categories(app.db, e->id, fs->cats,
		    file_cats_cb, fs);
		return;
	}
	file_go(fs);
}

static void
file_cats_cb(int err, const char *bad, const char *known, void *arg)
{
	struct file_state	*fs = arg;

	if (err != 0)
		cmd_fail(fs->cmd, err, "%s", store_err_msg(err));
	else if (bad != NULL)
		cmd_fail_field(fs->cmd, "subject_categories", "not in this "
		    "body's register of processing activities: %s (the "
		    "register has: %s)", bad, known != NULL ? known : "none");
	else {
		file_go(fs);
		return;
	}
	file_free(fs);
}

static void
file_go(struct file_state *fs)
{
	struct dl_policy	 pol;
	struct dl_request	 dr = { 0 };
	struct dl_dates		 dd;
	struct dl_alert		 al;
	char			*hooks;
	const struct cal_local	*hol = &fs->holidays;

	dl_policy_from(&app.cfg, &pol);
	dr.type = fs->in.type;
	dr.status = ST_RECEIVED;
	dr.received_on = fs->in.received_on;
	dr.forwarded_on = DL_NONE;
	dl_compute(&dr, &pol, hol, &dd);
	fs->in.statutory_due_on = dd.statutory_due;
	/* Filed late: the latest alert already due is raised at once. */
	fs->in.next_alert_at = dl_next_alert(&dr, &dd, &pol, hol,
	    DL_NO_TIME, &al) ? al.moment : DL_NO_TIME;
	hooks = notify_webhooks(&app.cfg, NEV_FILED);
	fs->in.notify.dpo_email = notify_dpo_email(&app.cfg);
	fs->in.notify.webhooks = hooks;
	fs->in.subject_categories = fs->cats;
	fs->deliver = strcmp(hooks, "{}") != 0 ||
	    (app.cfg.smtp_url != NULL && *app.cfg.smtp_url != '\0');
	store_request_file(app.db, &fs->in, &fs->who, fs->now, fs->today,
	    file_done_cb, fs);
	free(hooks);
}

struct cmd_result *
cmd_request_file(struct cmd *cmd)
{
	struct file_state	*fs;
	const struct caller	*c = cmd_caller(cmd);
	const char		*entity;
	int			 received = 0;
	bool			 has_received;
	time_t			 now = app_now();
	int			 today = cal_today(now);
	struct request_in	 in = { 0 };
	struct entity_ref	 ref;
	const cJSON		*cats;
	char			*catlit = NULL;
	const char		*why = NULL;
	const struct param	 ps[] = {
		{ .name = "entity", .type = PT_CODE, .required = true,
		  .out = &entity },
		{ .name = "type", .type = PT_ENUM, .required = true,
		  .out = &in.type, .names = req_type_names,
		  .nnames = REQ_TYPE_COUNT },
		{ .name = "subject_name", .type = PT_STRING, .required = true,
		  .out = &in.subject_name, .max = 200 },
		{ .name = "subject_tax_code", .type = PT_TAX_CODE,
		  .out = &in.subject_tax_code },
		{ .name = "subject_email", .type = PT_EMAIL,
		  .out = &in.subject_email },
		{ .name = "channel", .type = PT_ENUM, .out = &in.channel,
		  .names = req_channel_names, .nnames = CH_COUNT },
		{ .name = "received_on", .type = PT_DATE, .out = &received,
		  .present = &has_received },
		{ .name = "protocol", .type = PT_STRING, .out = &in.protocol,
		  .max = 100 },
		{ .name = "summary", .type = PT_TEXT, .out = &in.summary,
		  .max = 2000 },
		{ .name = "idempotency_key", .type = PT_STRING,
		  .out = &in.idempotency_key, .min = 1, .max = 200 },
		{ .name = "subject_categories", .type = PT_JSON,
		  .out = &cats },
	};

	if (!param(cmd, ps, sizeof ps / sizeof ps[0]))
		return cmd_param_failed();
	if (cats != NULL && cJSON_GetArraySize(cats) > 0 &&
	    (catlit = categories_literal(cats, &why)) == NULL)
		return cmd_fail_field(cmd, "subject_categories", "%s", why);
	if (cats != NULL && !cJSON_IsArray(cats))
		return cmd_fail_field(cmd, "subject_categories", "an array of "
		    "strings");
	if (!has_received)
		received = today;
	if (received > today) {
		free(catlit);
		return cmd_fail_field(cmd, "received_on", "may not lie in the "
		    "future");
	}
	if (!app_db_ready()) {
		free(catlit);
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	}
	in.received_on = received;
	fs = xcalloc(1, sizeof *fs);
	fs->cats = catlit;
	fs->cmd = cmd;
	fs->in = in;
	fs->who.user = c->user;
	fs->who.uid = (unsigned)c->uid;
	fs->who.role = role_names[c->role];
	fs->now = now;
	fs->today = today;
	/* A body seen lately: no round trip before the insert. It answers
	   nothing here (what follows is queued), so cmd_pending holds. */
	if (store_entity_cached(entity, &ref))
		file_entity_cb(0, &ref, fs);
	else
		store_entity_get(app.db, entity, file_entity_cb, fs);
	return cmd_pending(cmd);
}

struct cmd_result *
cmd_request_show(struct cmd *cmd)
{
	long long		 id;
	const struct param	 ps[] = {
		{ .name = "id", .type = PT_INT, .required = true, .out = &id,
		  .min = 1, .max = CMD_ID_MAX },
	};

	if (!param(cmd, ps, 1))
		return cmd_param_failed();
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_request_show(app.db, id, cmd_scope(cmd), cal_today(app_now()),
	    cmd_reply_store,
	    cmd);
	return cmd_pending(cmd);
}

struct cmd_result *
cmd_request_list(struct cmd *cmd)
{
	struct request_filter	 f = { .due_within = -1, .limit = 100 };
	bool			 has_within;
	const struct param	 ps[] = {
		{ .name = "entity", .type = PT_CODE, .out = &f.entity },
		{ .name = "status", .type = PT_ENUM, .out = &f.status,
		  .names = req_status_names, .nnames = ST_COUNT },
		{ .name = "type", .type = PT_ENUM, .out = &f.type,
		  .names = req_type_names, .nnames = REQ_TYPE_COUNT },
		{ .name = "overdue", .type = PT_BOOL, .out = &f.overdue },
		{ .name = "due_within", .type = PT_INT, .out = &f.due_within,
		  .min = 0, .max = 3650, .present = &has_within },
		{ .name = "limit", .type = PT_INT, .out = &f.limit,
		  .min = 1, .max = 1000 },
	};

	if (!param(cmd, ps, sizeof ps / sizeof ps[0]))
		return cmd_param_failed();
	if (!has_within)
		f.due_within = -1;
	f.scope = cmd_scope(cmd);
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_request_list(app.db, &f, cal_today(app_now()), cmd_reply_store,
	    cmd);
	return cmd_pending(cmd);
}
