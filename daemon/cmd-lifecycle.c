/*
 * cmd-lifecycle.c: the transitions of SPEC §3 (forward, await-subject,
 * resume, extend, complete, reject, withdraw) and a request's history. Each
 * transition is one transaction: lock the row, ask lifecycle.c whether the
 * action is allowed, compute the new dates with deadline.c, then update the
 * request, append its audit event and queue its notifications in one
 * statement, and commit. The client hears "done" only after COMMIT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cmd.h"
#include "deadline.h"
#include "dsrd.h"
#include "lifecycle.h"
#include "log.h"
#include "notify.h"
#include "proto.h"
#include "outbox.h"
#include "sched.h"
#include "store.h"
#include "store-task.h"
#include "util.h"

struct tr {
	struct cmd	*cmd;
	enum lc_action	 action;
	long long	 id;
	int		 date;		/* forward --date */
	bool		 has_date;
	const char	*note;
	const char	*reason;	/* extend */
	int		 reject;	/* enum reject_reason */
	const char	*activity;	/* forward: "12,15" or "+12,-7" */
	char		*only, *add, *drop;	/* ... as bigint[] literals */
	int		 type;		/* the request's, once locked */
	struct store_tx	*tx;		/* during the before_commit hook */
	cJSON		*json;		/* ... the request as updated */
	time_t		 now;
	int		 today;
};

static void
tr_free(struct tr *t)
{
	free(t->only);
	free(t->add);
	free(t->drop);
	free(t);
}

static void
tr_done_cb(struct store_res *res, void *arg)
{
	struct tr	*t = arg;

	if (res->err == 0) {
		log_info("request %lld: %s by uid %u", t->id,
		    lc_action_names[t->action],
		    (unsigned)cmd_caller(t->cmd)->uid);
		sched_kick();
		outbox_kick();
	}
	cmd_reply_store(res, t->cmd);
	tr_free(t);
}

static void
tr_refuse(struct tr *t, enum req_status st, const char *why)
{
	char	 allowed[256];
	cJSON	*data = cJSON_CreateObject(), *a;
	unsigned set = lc_allowed_actions(st, cmd_caller(t->cmd)->role);

	lc_allowed_text(st, cmd_caller(t->cmd)->role, allowed, sizeof allowed);
	cJSON_AddStringToObject(data, "status", req_status_names[st]);
	a = cJSON_AddArrayToObject(data, "allowed");
	for (int i = 0; i < LC_COUNT; i++)
		if (set & (1u << i))
			cJSON_AddItemToArray(a,
			    cJSON_CreateString(lc_action_cli_names[i]));
	if (why != NULL)
		cmd_fail_data(t->cmd, E_NOT_ALLOWED, data, "cannot %s request "
		    "%lld: %s", lc_action_cli_names[t->action], t->id, why);
	else
		cmd_fail_data(t->cmd, E_NOT_ALLOWED, data, "cannot %s request "
		    "%lld: it is %s; allowed from %s: %s",
		    lc_action_cli_names[t->action], t->id, req_status_names[st],
		    req_status_names[st], allowed);
	tr_free(t);
}

/* ---- the work a transition makes or checks (SPEC §8) ---------------- */

static void
route_done(int err, const char *msg, cJSON *tasks, void *arg)
{
	struct tr	*t = arg;

	if (err == 0)
		cJSON_AddItemToObject(t->json, "tasks", tasks);
	store_tx_continue(t->tx, err, msg);
}

/* Forward: one task per concerned activity, and for rectification,
   erasure and restriction a notice to each recipient (art. 19). */
static void
forward_hook(struct store_tx *tx, struct db_txn *txn, cJSON *json, void *arg)
{
	struct tr		*t = arg;
	struct task_route	 rt = { 0 };
	char			*hooks;

	t->tx = tx;
	t->json = json;
	hooks = notify_webhooks(&app.cfg, NEV_TASKS_ASSIGNED);
	rt.request_id = t->id;
	rt.only = t->only;
	rt.add = t->add;
	rt.drop = t->drop;
	rt.notices = t->type == REQ_RECTIFICATION || t->type == REQ_ERASURE ||
	    t->type == REQ_RESTRICTION;
	rt.webhooks = hooks;
	store_task_route(txn, &rt, t->now, route_done, t);
	free(hooks);
}

static void
gate_done(int err, int n, const char *ids, void *arg)
{
	struct tr	*t = arg;
	char		 msg[512];

	if (err == 0 && n > 0) {
		snprintf(msg, sizeof msg, "cannot complete request %lld: %d "
		    "task%s still open (%s%s): each must be done (task done) "
		    "or waived by the DPO (task waive)", t->id, n,
		    n == 1 ? "" : "s", ids != NULL ? ids : "",
		    n > 20 ? ", ..." : "");
		store_tx_continue(t->tx, E_NOT_ALLOWED, msg);
		return;
	}
	store_tx_continue(t->tx, err, store_err_msg(err));
}

/* Complete: only when every task is done or waived. */
static void
complete_hook(struct store_tx *tx, struct db_txn *txn, cJSON *json,
    void *arg)
{
	struct tr	*t = arg;

	(void)json;
	t->tx = tx;
	store_task_open(txn, t->id, gate_done, t);
}

static void
moot_done(int err, int n, const char *ids, void *arg)
{
	struct tr	*t = arg;

	(void)ids;
	if (err == 0 && n > 0)
		log_info("request %lld: %d open tasks waived (%s)", t->id, n,
		    lc_action_names[t->action]);
	store_tx_continue(t->tx, err, store_err_msg(err));
}

/* Reject, withdraw: the open tasks of the request are moot. */
static void
close_hook(struct store_tx *tx, struct db_txn *txn, cJSON *json, void *arg)
{
	struct tr		*t = arg;
	const struct caller	*who = cmd_caller(t->cmd);
	struct actor		 actor = { who->user, (unsigned)who->uid,
				    role_names[who->role] };

	(void)json;
	t->tx = tx;
	store_task_close_open(txn, t->id, t->action == LC_REJECT ?
	    "request rejected" : "request withdrawn", &actor, t->now,
	    moot_done, t);
}

static void
tr_locked_cb(struct store_tx *tx, int err, const struct request_row *r,
    void *arg)
{
	struct tr		*t = arg;
	struct request_change	 c;
	struct dl_policy	 pol;
	struct dl_request	 dr;
	struct dl_dates		 dd;
	struct dl_alert		 al;
	const struct caller	*who = cmd_caller(t->cmd);
	struct actor		 actor = { who->user, (unsigned)who->uid,
				    role_names[who->role] };
	char			 d1[11], details[512];
	char			*hooks = NULL;
	int			 ev = -1;

	if (err != 0) {
		if (err == E_NOT_FOUND)
			cmd_fail(t->cmd, E_NOT_FOUND, "no such request: %lld",
			    t->id);
		else
			cmd_fail(t->cmd, err, "%s", store_err_msg(err));
		tr_free(t);
		return;
	}
	if (!lc_allowed_from(t->action, r->status)) {
		store_tx_abort(tx);
		tr_refuse(t, r->status, NULL);
		return;
	}

	memset(&c, 0, sizeof c);
	c.status = (int)lc_target(t->action, r->status,
	    r->status_before >= 0 ? r->status_before : ST_RECEIVED);
	c.status_before = r->status_before;
	c.forwarded_on = r->forwarded_on;
	c.awaiting_since = r->awaiting_since;
	c.extended = r->extended;
	c.extended_on = r->extended_on;
	c.paused_days = r->paused_days;
	c.op_paused_days = r->op_paused_days;
	c.closed_on = DL_NONE;
	c.hook_arg = t;
	t->type = r->type;
	c.action = lc_action_names[t->action];
	c.note = t->note;
	dl_policy_from(&app.cfg, &pol);
	details[0] = '\0';

	switch (t->action) {
	case LC_FORWARD:
		if (!t->has_date)
			t->date = t->today;
		if (t->date > t->today || t->date < r->received_on) {
			store_tx_abort(tx);
			cal_format_date(r->received_on, d1);
			cmd_fail_field(t->cmd, "date", "must lie between the day "
			    "of receipt (%s) and today", d1);
			tr_free(t);
			return;
		}
		c.forwarded_on = t->date;
		c.before_commit = forward_hook;
		ev = NEV_FORWARDED;
		cal_format_date(t->date, d1);
		snprintf(details, sizeof details, "{\"forwarded_on\": \"%s\"}",
		    d1);
		break;
	case LC_AWAIT_SUBJECT:
		c.status_before = r->status;
		c.awaiting_since = t->today;
		break;
	case LC_RESUME: {
		int paused = t->today - r->awaiting_since;

		if (paused < 0)
			paused = 0;
		if (pol.pause_on_await) {
			c.paused_days += paused;
			if (r->forwarded_on != DL_NONE)
				c.op_paused_days += paused;
		} else
			paused = 0;
		c.status_before = -1;
		c.awaiting_since = DL_NONE;
		snprintf(details, sizeof details, "{\"paused_days\": %d}",
		    paused);
		break;
	}
	case LC_EXTEND:
		if (r->extended) {
			store_tx_abort(tx);
			tr_refuse(t, r->status, "it was extended already (art. "
			    "12(3) allows one extension)");
			return;
		}
		if (t->today > r->statutory_due_on) {
			store_tx_abort(tx);
			cal_format_date(r->statutory_due_on, d1);
			snprintf(details, sizeof details, "its statutory due "
			    "date %s has passed; an extension must be decided "
			    "and told within the first period", d1);
			tr_refuse(t, r->status, details);
			return;
		}
		c.extended = true;
		c.extended_on = t->today;
		c.extension_reason = t->reason;
		c.note = t->reason;
		ev = NEV_EXTENDED;
		break;
	case LC_REJECT:
		if (t->reject == RR_OTHER && t->note == NULL) {
			store_tx_abort(tx);
			cmd_fail_field(t->cmd, "note", "required when the reason "
			    "is other");
			tr_free(t);
			return;
		}
		c.reject_reason = reject_reason_names[t->reject];
		snprintf(details, sizeof details, "{\"reason\": \"%s\"}",
		    reject_reason_names[t->reject]);
		/* FALLTHROUGH */
	case LC_COMPLETE:
	case LC_WITHDRAW:
		c.before_commit = t->action == LC_COMPLETE ? complete_hook :
		    close_hook;
		c.closed_on = t->today;
		c.outcome = req_status_names[c.status];
		c.outcome_note = t->note;
		c.status_before = -1;
		c.awaiting_since = DL_NONE;
		ev = NEV_CLOSED;
		break;
	case LC_FILE:
	case LC_COUNT:
		abort();
	}
	if (c.status != r->status && details[0] == '\0')
		snprintf(details, sizeof details, "{\"from\": \"%s\", "
		    "\"to\": \"%s\"}", req_status_names[r->status],
		    req_status_names[c.status]);
	c.details = details[0] ? details : NULL;

	dr.type = r->type;
	dr.status = c.status;
	dr.received_on = r->received_on;
	dr.forwarded_on = c.forwarded_on;
	dr.extended = c.extended;
	dr.paused_days = c.paused_days;
	dr.op_paused_days = c.op_paused_days;
	dl_compute(&dr, &pol, &r->holidays, &dd);
	c.statutory_due_on = dd.statutory_due;
	c.operational_due_on = dd.operational_due;
	c.due_on = dd.due;
	/*
	 * From the moment up to which alerts were considered: a moment that
	 * the change put in the past is raised at once (the latest only).
	 */
	c.next_alert_at = dl_next_alert(&dr, &dd, &pol, &r->holidays,
	    r->alerts_after, &al) ? al.moment : DL_NO_TIME;
	if (ev >= 0) {
		hooks = notify_webhooks(&app.cfg, ev);
		c.event = notify_event_names[ev];
		c.notify.dpo_email = notify_dpo_email(&app.cfg);
		c.notify.webhooks = hooks;
	}
	store_request_apply(tx, &c, &actor, t->now, t->today, tr_done_cb, t);
	free(hooks);
}

/* The part every transition shares: params, role, then the row lock. */
static struct cmd_result *
transition(struct cmd *cmd, enum lc_action a, struct tr *t,
    const struct param *ps, size_t n)
{
	const struct caller	*who = cmd_caller(cmd);
	char			 roles[128];

	if (ps != NULL && !param(cmd, ps, n)) {
		tr_free(t);
		return cmd_param_failed();
	}
	if (!lc_role_may(a, who->role)) {
		lc_roles_text(a, roles, sizeof roles);
		tr_free(t);
		return cmd_fail(cmd, E_PERMISSION, "permission denied: %s "
		    "needs the role %s (you are %s)", lc_action_cli_names[a],
		    roles, role_names[who->role]);
	}
	if (!app_db_ready()) {
		tr_free(t);
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	}
	t->cmd = cmd;
	t->action = a;
	t->now = app_now();
	t->today = cal_today(t->now);
	store_request_lock(app.db, t->id, cmd_scope(cmd), tr_locked_cb, t);
	return cmd_pending(cmd);
}

#define P_ID(t)	{ .name = "id", .type = PT_INT, .required = true, \
		  .out = &(t)->id, .min = 1, .max = CMD_ID_MAX }
#define P_NOTE(t, req) { .name = "note", .type = PT_TEXT, .required = (req), \
		  .out = &(t)->note, .max = 2000 }

/*
 * forward --activity: "12,15" names exactly the activities concerned;
 * "+12,-7" adds to and takes from those the person's subject categories
 * choose. Fills t->only or t->add and t->drop with bigint[] literals.
 * Returns NULL, or what is wrong (static).
 */
static const char *
activity_spec(struct tr *t)
{
	struct buf	 only, add, drop, *to;
	const char	*p = t->activity, *why = NULL;
	char		*end;
	long long	 v;
	int		 plain = 0, signed_ = 0;

	buf_init(&only);
	buf_init(&add);
	buf_init(&drop);
	while (*p != '\0' && why == NULL) {
		while (*p == ' ' || *p == ',')
			p++;
		if (*p == '\0')
			break;
		to = &only;
		if (*p == '+' || *p == '-') {
			to = *p == '+' ? &add : &drop;
			signed_ = 1;
			p++;
		} else
			plain = 1;
		if (*p < '0' || *p > '9') {
			why = "a comma list of activity ids, either all plain "
			    "(exactly these) or all +ID / -ID (add to or take "
			    "from those the subject categories choose)";
			break;
		}
		v = strtoll(p, &end, 10);
		if (v < 1 || v > CMD_ID_MAX || (*end != '\0' &&
		    *end != ',' && *end != ' ')) {
			why = "an activity id is a positive integer";
			break;
		}
		buf_addf(to, "%s%lld", to->len ? "," : "{", v);
		p = end;
	}
	if (why == NULL && plain && signed_)
		why = "either plain ids (exactly these) or +ID / -ID, not both";
	if (why == NULL && !plain && !signed_)
		why = "no activity id";
	if (why == NULL) {
		if (only.len) {
			buf_adds(&only, "}");
			t->only = buf_take(&only);
		}
		if (add.len) {
			buf_adds(&add, "}");
			t->add = buf_take(&add);
		}
		if (drop.len) {
			buf_adds(&drop, "}");
			t->drop = buf_take(&drop);
		}
	}
	buf_free(&only);
	buf_free(&add);
	buf_free(&drop);
	return why;
}

struct cmd_result *
cmd_request_forward(struct cmd *cmd)
{
	struct tr		*t = xcalloc(1, sizeof *t);
	const char		*why;
	const struct param	 ps[] = {
		P_ID(t),
		{ .name = "date", .type = PT_DATE, .out = &t->date,
		  .present = &t->has_date },
		P_NOTE(t, false),
		{ .name = "activity", .type = PT_STRING, .out = &t->activity,
		  .max = 10000 },
	};

	if (!param(cmd, ps, nitems(ps))) {
		tr_free(t);
		return cmd_param_failed();
	}
	if (t->activity != NULL && (why = activity_spec(t)) != NULL) {
		tr_free(t);
		return cmd_fail_field(cmd, "activity", "%s", why);
	}
	return transition(cmd, LC_FORWARD, t, NULL, 0);
}

struct cmd_result *
cmd_request_await_subject(struct cmd *cmd)
{
	struct tr		*t = xcalloc(1, sizeof *t);
	const struct param	 ps[] = { P_ID(t), P_NOTE(t, true) };

	return transition(cmd, LC_AWAIT_SUBJECT, t, ps, nitems(ps));
}

struct cmd_result *
cmd_request_resume(struct cmd *cmd)
{
	struct tr		*t = xcalloc(1, sizeof *t);
	const struct param	 ps[] = { P_ID(t), P_NOTE(t, false) };

	return transition(cmd, LC_RESUME, t, ps, nitems(ps));
}

struct cmd_result *
cmd_request_extend(struct cmd *cmd)
{
	struct tr		*t = xcalloc(1, sizeof *t);
	const struct param	 ps[] = {
		P_ID(t),
		{ .name = "reason", .type = PT_TEXT, .required = true,
		  .out = &t->reason, .max = 2000 },
	};

	return transition(cmd, LC_EXTEND, t, ps, nitems(ps));
}

struct cmd_result *
cmd_request_complete(struct cmd *cmd)
{
	struct tr		*t = xcalloc(1, sizeof *t);
	const struct param	 ps[] = { P_ID(t), P_NOTE(t, false) };

	return transition(cmd, LC_COMPLETE, t, ps, nitems(ps));
}

struct cmd_result *
cmd_request_reject(struct cmd *cmd)
{
	struct tr		*t = xcalloc(1, sizeof *t);
	const struct param	 ps[] = {
		P_ID(t),
		{ .name = "reason", .type = PT_ENUM, .required = true,
		  .out = &t->reject, .names = reject_reason_names,
		  .nnames = RR_COUNT },
		P_NOTE(t, false),
	};

	return transition(cmd, LC_REJECT, t, ps, nitems(ps));
}

struct cmd_result *
cmd_request_withdraw(struct cmd *cmd)
{
	struct tr		*t = xcalloc(1, sizeof *t);
	const struct param	 ps[] = { P_ID(t), P_NOTE(t, false) };

	return transition(cmd, LC_WITHDRAW, t, ps, nitems(ps));
}

struct cmd_result *
cmd_request_history(struct cmd *cmd)
{
	long long		 id;
	const struct param	 ps[] = {
		{ .name = "id", .type = PT_INT, .required = true, .out = &id,
		  .min = 1, .max = CMD_ID_MAX },
	};

	if (!param(cmd, ps, nitems(ps)))
		return cmd_param_failed();
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_request_history(app.db, id, cmd_scope(cmd), cmd_reply_store,
	    cmd);
	return cmd_pending(cmd);
}
