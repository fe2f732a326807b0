/*
 * cmd-audit.c: the methods that look at the whole system rather than one
 * request: audit.verify (the DPO's proof that the trail was not rewritten),
 * stats and outbox.list (for operators too). They check their parameters,
 * take "today" from the daemon's clock, and let store-admin.c do the SQL.
 * They must never answer with a data subject's personal data, and never
 * log an audit event's contents, only its ids.
 */
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cmd.h"
#include "dsrd.h"
#include "log.h"
#include "proto.h"
#include "store-admin.h"
#include "util.h"

static void
verify_cb(struct store_res *res, void *arg)
{
	struct cmd	*cmd = arg;
	const cJSON	*n;

	if (res->err == E_AUDIT_BROKEN) {
		/* The message names ids and positions only. */
		log_error("audit.verify: %s", res->msg);
		cmd_fail_data(cmd, res->err, res->json, "%s", res->msg);
		return;
	}
	if (res->err != 0) {
		cJSON_Delete(res->json);
		cmd_fail(cmd, res->err, "%s", res->msg);
		return;
	}
	n = cJSON_GetObjectItemCaseSensitive(res->json, "events");
	log_info("audit.verify: the trail is intact (%.0f events)",
	    cJSON_IsNumber(n) ? n->valuedouble : 0.0);
	cmd_ok(cmd, res->json);
}

struct cmd_result *
cmd_audit_verify(struct cmd *cmd)
{
	if (!param(cmd, NULL, 0))
		return cmd_param_failed();
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_audit_verify(app.db, verify_cb, cmd);
	return cmd_pending(cmd);
}

struct cmd_result *
cmd_stats(struct cmd *cmd)
{
	const char		*entity;
	const struct param	 ps[] = {
		{ .name = "entity", .type = PT_CODE, .out = &entity },
	};

	if (!param(cmd, ps, nitems(ps)))
		return cmd_param_failed();
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_stats(app.db, entity, cal_today(app_now()), cmd_reply_store,
	    cmd);
	return cmd_pending(cmd);
}

/*
 * "dead, pending" into a normalised "pending,dead" (OUTBOX_STATES order, no
 * repeats) in out. Returns 0, or -1 and *cause naming the bad item.
 */
static int
outbox_states(const char *in, struct buf *out, char **cause)
{
	static const char *const names[] = { "pending", "sending", "dead",
	    "sent" };
	bool	 want[nitems(names)] = { false };
	char	*copy = xstrdup(in), *item, *save = NULL, *t;
	size_t	 i;

	for (item = strtok_r(copy, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save)) {
		t = str_trim(item);
		for (i = 0; i < nitems(names); i++)
			if (strcmp(t, names[i]) == 0)
				break;
		if (i == nitems(names)) {
			*cause = xasprintf("'%s' is not one of "
			    OUTBOX_STATES, t);
			free(copy);
			return -1;
		}
		want[i] = true;
	}
	free(copy);
	for (i = 0; i < nitems(names); i++)
		if (want[i])
			buf_addf(out, "%s%s", out->len ? "," : "", names[i]);
	if (out->len == 0) {
		*cause = xstrdup("name at least one of " OUTBOX_STATES);
		return -1;
	}
	return 0;
}

struct cmd_result *
cmd_outbox_list(struct cmd *cmd)
{
	const char		*state;
	long long		 limit = 100;
	struct buf		 states;
	char			*cause = NULL;
	const struct param	 ps[] = {
		{ .name = "state", .type = PT_STRING, .out = &state,
		  .max = 100 },
		{ .name = "limit", .type = PT_INT, .out = &limit,
		  .min = 1, .max = 1000 },
	};

	if (!param(cmd, ps, nitems(ps)))
		return cmd_param_failed();
	buf_init(&states);
	/* Not sent yet, by default: what an operator has to look at. */
	if (outbox_states(state != NULL ? state : "pending,sending,dead",
	    &states, &cause) != 0) {
		struct cmd_result	*r;

		buf_free(&states);
		r = cmd_fail_field(cmd, "state", "%s", cause);
		free(cause);
		return r;
	}
	if (!app_db_ready()) {
		buf_free(&states);
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	}
	store_outbox_list(app.db, states.data, limit, cmd_reply_store, cmd);
	buf_free(&states);
	return cmd_pending(cmd);
}
