/*
 * cmd-task.c: task.* methods: the tasks a forward made of a request (one
 * per concerned activity of the body's register, and art. 19 recipient
 * notices), listed, done by the staff who run the activity, or waived by
 * the DPO with a reason. Handlers check parameters and hand the work to
 * store-task.c; the staff role only ever sees its own body's tasks.
 */
#include <cJSON.h>

#include "cmd.h"
#include "dsrd.h"
#include "proto.h"
#include "store-task.h"
#include "util.h"

struct cmd_result *
cmd_task_list(struct cmd *cmd)
{
	struct task_filter	 f = { .limit = 200 };
	const struct caller	*c = cmd_caller(cmd);
	bool			 mine = false;
	const struct param	 ps[] = {
		{ .name = "request", .type = PT_INT, .out = &f.request,
		  .min = 1, .max = CMD_ID_MAX },
		{ .name = "entity", .type = PT_CODE, .out = &f.entity },
		{ .name = "status", .type = PT_ENUM, .out = &f.status,
		  .names = task_status_names, .nnames = 3 },
		{ .name = "mine", .type = PT_BOOL, .out = &mine },
		{ .name = "limit", .type = PT_INT, .out = &f.limit, .min = 1,
		  .max = 10000 },
	};

	if (!param(cmd, ps, nitems(ps)))
		return cmd_param_failed();
	if (mine)
		f.mine = c->user;
	f.scope = cmd_scope(cmd);
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_task_list(app.db, &f, cmd_reply_store, cmd);
	return cmd_pending(cmd);
}

static struct cmd_result *
task_close(struct cmd *cmd, int status)
{
	long long		 id;
	const char		*note = NULL;
	const struct caller	*c = cmd_caller(cmd);
	struct actor		 who = { c->user, (unsigned)c->uid,
				    role_names[c->role] };
	const struct param	 ps[] = {
		{ .name = "id", .type = PT_INT, .required = true, .out = &id,
		  .min = 1, .max = CMD_ID_MAX },
		/* A waiver is a decision and says why; done may say how. */
		{ .name = "note", .type = PT_TEXT, .required = status == 2,
		  .out = &note, .max = 2000 },
	};

	if (!param(cmd, ps, nitems(ps)))
		return cmd_param_failed();
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_task_close(app.db, id, status, note, cmd_scope(cmd), &who,
	    app_now(), cmd_reply_store, cmd);
	return cmd_pending(cmd);
}

struct cmd_result *
cmd_task_done(struct cmd *cmd)
{
	return task_close(cmd, 1);
}

struct cmd_result *
cmd_task_waive(struct cmd *cmd)
{
	return task_close(cmd, 2);
}
