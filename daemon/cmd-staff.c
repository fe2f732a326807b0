/*
 * cmd-staff.c: staff.* methods: a body's staff directory (the designated
 * managers and authorised staff of its offices, SPEC §8). Staff are the
 * body's employees; their names are checked as text and their e-mail for
 * form. Handlers only check parameters and hand the work to store-staff.c.
 */
#include <cJSON.h>

#include "cmd.h"
#include "dsrd.h"
#include "proto.h"
#include "store-staff.h"
#include "util.h"

struct cmd_result *
cmd_staff_add(struct cmd *cmd)
{
	struct staff_in		 in = { 0 };
	const struct caller	*c = cmd_caller(cmd);
	struct actor		 who = { c->user, (unsigned)c->uid,
				    role_names[c->role] };
	const struct param	 ps[] = {
		{ .name = "entity", .type = PT_CODE, .required = true,
		  .out = &in.entity },
		{ .name = "name", .type = PT_STRING, .required = true,
		  .out = &in.name, .max = 200 },
		{ .name = "email", .type = PT_EMAIL, .out = &in.email },
		{ .name = "office", .type = PT_STRING, .out = &in.office,
		  .max = 200 },
		{ .name = "user", .type = PT_STRING, .out = &in.user,
		  .max = 32 },
	};

	if (!param(cmd, ps, nitems(ps)))
		return cmd_param_failed();
	if (in.user != NULL) {
		for (const char *p = in.user; *p; p++) {
			if (!((*p >= 'a' && *p <= 'z') ||
			    (*p >= 'A' && *p <= 'Z') ||
			    (*p >= '0' && *p <= '9') || *p == '_' ||
			    (p != in.user && (*p == '.' || *p == '-'))))
				return cmd_fail_field(cmd, "user", "not a Unix "
				    "user name ([A-Za-z0-9_.-], not starting "
				    "with . or -)");
		}
	}
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_staff_add(app.db, &in, &who, app_now(), cmd_reply_store, cmd);
	return cmd_pending(cmd);
}

struct cmd_result *
cmd_staff_list(struct cmd *cmd)
{
	const char		*entity, *office;
	const struct param	 ps[] = {
		{ .name = "entity", .type = PT_CODE, .out = &entity },
		{ .name = "office", .type = PT_STRING, .out = &office,
		  .max = 200 },
	};

	if (!param(cmd, ps, nitems(ps)))
		return cmd_param_failed();
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_staff_list(app.db, entity, office, cmd_reply_store, cmd);
	return cmd_pending(cmd);
}
