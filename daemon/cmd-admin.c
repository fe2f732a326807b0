/*
 * cmd-admin.c: methods about the daemon itself (ping). They answer from
 * memory and never carry a data subject's personal data, so every role may
 * call them; they must keep answering while the database is down.
 */
#include <unistd.h>

#include <cJSON.h>

#include "cmd.h"
#include "db.h"
#include "dsrd.h"
#include "proto.h"
#include "store.h"
#include "store-outbox.h"
#include "outbox.h"

struct cmd_result *
cmd_ping(struct cmd *cmd)
{
	cJSON	*o;
	time_t	 now = app_now();
	char	 at[21], today[11];

	if (!param(cmd, NULL, 0))
		return cmd_param_failed();
	store_format_instant(now, at);
	cal_format_date(cal_today(now), today);
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "version", DSR_VERSION);
	cJSON_AddNumberToObject(o, "uptime", (double)(now - app.started));
	cJSON_AddNumberToObject(o, "pid", (double)getpid());
	cJSON_AddStringToObject(o, "database", app_db_ready() ? "up" : "down");
	if (app.schema_version >= 0)
		cJSON_AddNumberToObject(o, "schema_version", app.schema_version);
	else
		cJSON_AddNullToObject(o, "schema_version");
	cJSON_AddStringToObject(o, "time", at);
	cJSON_AddStringToObject(o, "today", today);
	cJSON_AddStringToObject(o, "timezone", app.cfg.timezone);
	cJSON_AddStringToObject(o, "role", role_names[cmd_caller(cmd)->role]);
	return cmd_ok(cmd, o);
}

static void
retry_done_cb(struct store_res *res, void *arg)
{
	if (res->err == 0)
		outbox_kick();
	cmd_reply_store(res, arg);
}

struct cmd_result *
cmd_outbox_retry(struct cmd *cmd)
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
	store_outbox_retry(app.db, id, app_now(), retry_done_cb, cmd);
	return cmd_pending(cmd);
}
