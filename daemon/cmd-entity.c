/*
 * cmd-entity.c: entity.* methods: the bodies (controllers) dsrd serves.
 * Handlers check parameters and hand the work to store.c; they never build
 * SQL and never answer before the database has committed.
 */
#include <stdlib.h>

#include <cJSON.h>

#include "cmd.h"
#include "dsrd.h"
#include "proto.h"
#include "store.h"

struct cmd_result *
cmd_entity_add(struct cmd *cmd)
{
	struct entity_in	 in = { 0 };
	const struct caller	*c = cmd_caller(cmd);
	struct actor		 who = { c->user, (unsigned)c->uid,
				    role_names[c->role] };
	const struct param	 ps[] = {
		{ .name = "code", .type = PT_CODE, .required = true,
		  .out = &in.code },
		{ .name = "name", .type = PT_STRING, .required = true,
		  .out = &in.name, .max = 200 },
		{ .name = "email", .type = PT_EMAIL, .out = &in.email },
		{ .name = "dpo_email", .type = PT_EMAIL, .out = &in.dpo_email },
		{ .name = "holidays", .type = PT_HOLIDAYS, .out = &in.holidays },
	};

	if (!param(cmd, ps, sizeof ps / sizeof ps[0]))
		return cmd_param_failed();
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_entity_add(app.db, &in, &who, app_now(), cmd_reply_store, cmd);
	return cmd_pending(cmd);
}

struct cmd_result *
cmd_entity_list(struct cmd *cmd)
{
	if (!param(cmd, NULL, 0))
		return cmd_param_failed();
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_entity_list(app.db, cmd_reply_store, cmd);
	return cmd_pending(cmd);
}
