/*
 * cmd.c: one JSON-RPC line in, one answer out. Parses and checks the
 * envelope, finds the method in the table, checks the caller's role, runs
 * the handler, and sends exactly one answer (none for a notification). It
 * owns the command until the answer is sent; it must never answer twice, and
 * never touch a connection after the client hung up (cmd->conn is NULL).
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cmd.h"
#include "log.h"
#include "proto.h"
#include "store.h"
#include "util.h"
#include "validate.h"

struct cmd {
	struct ctl_conn		*conn;		/* NULL once the client left */
	struct caller		 caller;
	cJSON			*id;		/* NULL: a notification */
	cJSON			*params;	/* object, or NULL */
	const struct cmd_def	*def;
	char			**strs;		/* strings handed to the handler */
	size_t			 nstrs;
	long long		 started_ms;
};

/* The one value a handler can return. */
struct cmd_result {
	int	unused;
};
static struct cmd_result	 cmd_answered;

#define R_ALL	(ROLE_BIT(ROLE_OPERATOR) | ROLE_BIT(ROLE_STAFF) | \
		 ROLE_BIT(ROLE_CLERK) | ROLE_BIT(ROLE_DPO))
#define R_WORK	(ROLE_BIT(ROLE_STAFF) | ROLE_BIT(ROLE_CLERK) | ROLE_BIT(ROLE_DPO))
#define R_FILE	(ROLE_BIT(ROLE_CLERK) | ROLE_BIT(ROLE_DPO))
#define R_DPO	(ROLE_BIT(ROLE_DPO))

/* The table is the spec: dispatch, roles and help all come from it. */
static const struct cmd_def cmd_table[] = {
	{ "ping",		cmd_ping,		R_ALL,
	  "daemon version, uptime, database state" },
	{ "entity.add",		cmd_entity_add,		R_DPO,
	  "register a body (controller)" },
	{ "entity.list",	cmd_entity_list,	R_ALL,
	  "the bodies" },
	{ "staff.add",		cmd_staff_add,		R_DPO,
	  "add a person to a body's staff directory" },
	{ "staff.list",		cmd_staff_list,		R_WORK,
	  "a body's staff directory" },
	{ "ropa.import",	cmd_ropa_import,	R_DPO,
	  "import a body's register of processing activities (art. 30)" },
	{ "ropa.list",		cmd_ropa_list,		R_WORK,
	  "the activities of the registers, with filters" },
	{ "ropa.show",		cmd_ropa_show,		R_WORK,
	  "one activity of a register, every field" },
	{ "request.file",	cmd_request_file,	R_FILE,
	  "file a request" },
	{ "request.show",	cmd_request_show,	R_WORK,
	  "one request, with its deadlines and history" },
	{ "request.list",	cmd_request_list,	R_WORK,
	  "requests, soonest due first" },
	{ "audit.verify",	cmd_audit_verify,	R_DPO,
	  "check the audit trail's hash chain" },
	{ "stats",		cmd_stats,		R_ALL,
	  "counts by state, overdue, due soon, median days to close" },
	{ "outbox.list",	cmd_outbox_list,
	  ROLE_BIT(ROLE_OPERATOR) | R_DPO,
	  "notifications waiting, failed or sent" },
	{ "outbox.retry",	cmd_outbox_retry,
	  ROLE_BIT(ROLE_OPERATOR) | R_DPO,
	  "put a dead notification back in the queue" },
	{ "request.history",	cmd_request_history,	R_WORK,
	  "the audit events of a request" },
	/* Transitions: lifecycle.c decides which role may take which. */
	{ "request.forward",	cmd_request_forward,	R_WORK,
	  "the DPO forwards a request; starts the operational clock" },
	{ "request.await_subject", cmd_request_await_subject, R_WORK,
	  "ask the person for identity proof or clarification (pause)" },
	{ "request.resume",	cmd_request_resume,	R_WORK,
	  "the person answered: the clocks run again" },
	{ "request.extend",	cmd_request_extend,	R_WORK,
	  "art. 12(3) extension to three months, once, with a reason" },
	{ "request.complete",	cmd_request_complete,	R_WORK,
	  "the request was answered" },
	{ "request.reject",	cmd_request_reject,	R_WORK,
	  "the request was refused, with a reason code" },
	{ "request.withdraw",	cmd_request_withdraw,	R_WORK,
	  "the person withdrew the request" },
	{ "task.list",		cmd_task_list,		R_WORK,
	  "the tasks of forwarded requests" },
	{ "task.done",		cmd_task_done,		R_WORK,
	  "a task is done (a recipient notice: the recipient was told)" },
	{ "task.waive",		cmd_task_waive,		R_DPO,
	  "the DPO waives a task, with a reason" },
};

const struct caller *
cmd_caller(const struct cmd *cmd)
{
	return &cmd->caller;
}

static void
cmd_free(struct cmd *cmd)
{
	for (size_t i = 0; i < cmd->nstrs; i++)
		free(cmd->strs[i]);
	free(cmd->strs);
	cJSON_Delete(cmd->id);
	cJSON_Delete(cmd->params);
	free(cmd);
}

const char *
cmd_scope(const struct cmd *cmd)
{
	return cmd->caller.role == ROLE_STAFF ? cmd->caller.user : NULL;
}

void
cmd_detach(struct cmd *cmd)
{
	cmd->conn = NULL;
}

static char *
cmd_keep(struct cmd *cmd, char *s)
{
	cmd->strs = xreallocarray(cmd->strs, cmd->nstrs + 1, sizeof *cmd->strs);
	cmd->strs[cmd->nstrs++] = s;
	return s;
}

/* Appends v printed on one line (a raw result as it is). */
static void
add_printed(struct buf *b, const cJSON *v)
{
	char	*p;

	if (cJSON_IsRaw(v)) {
		buf_adds(b, v->valuestring);
		return;
	}
	if ((p = cJSON_PrintUnformatted(v)) == NULL)
		fatalx("cJSON_PrintUnformatted: out of memory");
	buf_adds(b, p);
	cJSON_free(p);
}

/* Sends one answer (unless a notification or the client left), ends. */
static void
cmd_finish(struct cmd *cmd, cJSON *result, cJSON *error)
{
	struct buf	 line;

	if (cmd->conn != NULL && cmd->id != NULL) {
		/* One write of the whole line: the envelope around the
		   result, which may be a raw text written by the store. */
		buf_init(&line);
		buf_adds(&line, "{\"jsonrpc\":\"" PROTO_VERSION "\",\"id\":");
		add_printed(&line, cmd->id);
		buf_adds(&line, error != NULL ? ",\"error\":" : ",\"result\":");
		add_printed(&line, error != NULL ? error : result);
		buf_adds(&line, "}\n");
		ctl_conn_send(cmd->conn, line.data, line.len);
		buf_free(&line);
	}
	cJSON_Delete(result);
	cJSON_Delete(error);
	if (cmd->def != NULL)
		log_debug("%s by %s (uid %u): %s in %lld ms", cmd->def->method,
		    cmd->caller.user, (unsigned)cmd->caller.uid,
		    error ? "error" : "ok", mono_ms() - cmd->started_ms);
	if (cmd->conn != NULL)
		ctl_conn_done(cmd->conn);
	cmd_free(cmd);
}

struct cmd_result *
cmd_ok(struct cmd *cmd, cJSON *result)
{
	if (result == NULL)
		result = cJSON_CreateObject();
	cmd_finish(cmd, result, NULL);
	return &cmd_answered;
}

static cJSON *
error_obj(int code, cJSON *data, const char *fmt, va_list ap)
{
	cJSON	*e = cJSON_CreateObject();
	char	*msg = xvasprintf(fmt, ap);

	cJSON_AddNumberToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	if (data != NULL)
		cJSON_AddItemToObject(e, "data", data);
	free(msg);
	return e;
}

struct cmd_result *
cmd_fail(struct cmd *cmd, int code, const char *fmt, ...)
{
	va_list	ap;
	cJSON	*e;

	va_start(ap, fmt);
	e = error_obj(code, NULL, fmt, ap);
	va_end(ap);
	cmd_finish(cmd, NULL, e);
	return &cmd_answered;
}

struct cmd_result *
cmd_fail_data(struct cmd *cmd, int code, cJSON *data, const char *fmt, ...)
{
	va_list	ap;
	cJSON	*e;

	va_start(ap, fmt);
	e = error_obj(code, data, fmt, ap);
	va_end(ap);
	cmd_finish(cmd, NULL, e);
	return &cmd_answered;
}

struct cmd_result *
cmd_fail_field(struct cmd *cmd, const char *field, const char *fmt, ...)
{
	va_list	 ap;
	char	*msg;
	cJSON	*data = cJSON_CreateObject();

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	cJSON_AddStringToObject(data, "field", field);
	cmd_fail_data(cmd, E_INVALID_PARAMS, data, "%s: %s", field, msg);
	free(msg);
	return &cmd_answered;
}

void
cmd_reply_store(struct store_res *res, void *arg)
{
	struct cmd	*cmd = arg;

	if (res->err != 0)
		cmd_fail(cmd, res->err, "%s", res->msg);
	else
		cmd_ok(cmd, res->json);
}

struct cmd_result *
cmd_pending(struct cmd *cmd)
{
	(void)cmd;
	return &cmd_answered;
}

struct cmd_result *
cmd_param_failed(void)
{
	return &cmd_answered;
}

char *
cmd_error_line(int code, const char *message)
{
	cJSON	*msg = cJSON_CreateObject(), *e = cJSON_CreateObject();
	char	*s, *line;

	cJSON_AddStringToObject(msg, "jsonrpc", PROTO_VERSION);
	cJSON_AddNullToObject(msg, "id");
	cJSON_AddNumberToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", message);
	cJSON_AddItemToObject(msg, "error", e);
	s = cJSON_PrintUnformatted(msg);
	if (s == NULL)
		fatalx("cJSON_PrintUnformatted: out of memory");
	line = xasprintf("%s\n", s);
	cJSON_free(s);
	cJSON_Delete(msg);
	return line;
}

/* A parameter's string value, trimmed, checked as text; NULL if failed. */
static const char *
param_text(struct cmd *cmd, const struct param *p, const cJSON *v,
    bool multiline, size_t maxchars)
{
	char	*cause = NULL, *s;

	if (!cJSON_IsString(v)) {
		cmd_fail_field(cmd, p->name, "must be a string");
		return NULL;
	}
	s = cmd_keep(cmd, xstrdup(str_trim(v->valuestring)));
	if (val_text(s, maxchars, multiline, &cause) != 0) {
		cmd_fail_field(cmd, p->name, "%s", cause);
		free(cause);
		return NULL;
	}
	return s;
}

static bool
param_one(struct cmd *cmd, const struct param *p, const cJSON *v)
{
	const char	*s;
	char		*cause = NULL, buf[33], cf[17];
	double		 d;
	int		 idx;

	switch (p->type) {
	case PT_STRING:
	case PT_TEXT:
		s = param_text(cmd, p, v, p->type == PT_TEXT,
		    p->max > 0 ? (size_t)p->max : 200);
		if (s == NULL)
			return false;
		if (*s == '\0') {
			/* min > 0: may be absent, but not empty (an empty
			   idempotency key must not silently mean none) */
			if (p->required || p->min > 0) {
				cmd_fail_field(cmd, p->name, "must not be empty");
				return false;
			}
			s = NULL;
		}
		*(const char **)p->out = s;
		break;
	case PT_INT:
		if (!cJSON_IsNumber(v)) {
			cmd_fail_field(cmd, p->name, "must be an integer");
			return false;
		}
		d = v->valuedouble;
		if (!isfinite(d) || d != floor(d) || d < -9007199254740992.0 ||
		    d > 9007199254740992.0) {
			cmd_fail_field(cmd, p->name, "must be an integer");
			return false;
		}
		if ((long long)d < p->min || (long long)d > p->max) {
			cmd_fail_field(cmd, p->name, "must be between %lld and %lld",
			    p->min, p->max);
			return false;
		}
		*(long long *)p->out = (long long)d;
		break;
	case PT_BOOL:
		if (!cJSON_IsBool(v)) {
			cmd_fail_field(cmd, p->name, "must be true or false");
			return false;
		}
		*(bool *)p->out = cJSON_IsTrue(v);
		break;
	case PT_DATE:
		if (!cJSON_IsString(v)) {
			cmd_fail_field(cmd, p->name, "must be a date YYYY-MM-DD");
			return false;
		}
		if (cal_parse_date(v->valuestring, (int *)p->out) != 0) {
			cmd_fail_field(cmd, p->name,
			    "not a real calendar date in the form YYYY-MM-DD");
			return false;
		}
		break;
	case PT_ENUM:
		if (!cJSON_IsString(v)) {
			cmd_fail_field(cmd, p->name, "must be a string");
			return false;
		}
		idx = val_lookup(v->valuestring, p->names, p->nnames);
		if (idx < 0) {
			struct buf b;

			buf_init(&b);
			for (int i = 0; i < p->nnames; i++)
				buf_addf(&b, "%s%s", i ? ", " : "", p->names[i]);
			cmd_fail_field(cmd, p->name, "must be one of %s", b.data);
			buf_free(&b);
			return false;
		}
		*(int *)p->out = idx;
		break;
	case PT_CODE:
		if (!cJSON_IsString(v)) {
			cmd_fail_field(cmd, p->name, "must be a string");
			return false;
		}
		if (val_code(v->valuestring, buf, &cause) != 0) {
			cmd_fail_field(cmd, p->name, "%s", cause);
			free(cause);
			return false;
		}
		*(const char **)p->out = cmd_keep(cmd, xstrdup(buf));
		break;
	case PT_TAX_CODE:
		s = param_text(cmd, p, v, false, 64);
		if (s == NULL)
			return false;
		if (*s == '\0' && !p->required) {
			*(const char **)p->out = NULL;
			break;
		}
		if (val_tax_code(s, cf, &cause) != 0) {
			cmd_fail_field(cmd, p->name, "%s", cause);
			free(cause);
			return false;
		}
		*(const char **)p->out = cmd_keep(cmd, xstrdup(cf));
		break;
	case PT_EMAIL:
		s = param_text(cmd, p, v, false, 254);
		if (s == NULL)
			return false;
		if (*s == '\0' && !p->required) {
			*(const char **)p->out = NULL;
			break;
		}
		if (val_email(s, &cause) != 0) {
			cmd_fail_field(cmd, p->name, "%s", cause);
			free(cause);
			return false;
		}
		*(const char **)p->out = s;
		break;
	case PT_HOLIDAYS:
		if (!cJSON_IsString(v)) {
			cmd_fail_field(cmd, p->name,
			    "must be a string \"MM-DD,MM-DD\"");
			return false;
		}
		if (cal_local_parse(v->valuestring, p->out, &cause) != 0) {
			cmd_fail_field(cmd, p->name, "%s", cause);
			free(cause);
			return false;
		}
		break;
	case PT_JSON:
		*(const cJSON **)p->out = v;
		break;
	}
	if (p->present != NULL)
		*p->present = true;
	return true;
}

bool
param(struct cmd *cmd, const struct param *ps, size_t n)
{
	const cJSON	*v;
	size_t		 i;

	/* Unknown parameters first: a misspelt option must not pass. */
	cJSON_ArrayForEach(v, cmd->params) {
		for (i = 0; i < n; i++)
			if (strcmp(v->string, ps[i].name) == 0)
				break;
		if (i == n) {
			cmd_fail_field(cmd, v->string, "unknown parameter");
			return false;
		}
		for (const cJSON *w = v->next; w != NULL; w = w->next) {
			if (strcmp(v->string, w->string) == 0) {
				cmd_fail_field(cmd, v->string, "given twice");
				return false;
			}
		}
	}
	for (i = 0; i < n; i++) {
		const struct param *p = &ps[i];

		if (p->present != NULL)
			*p->present = false;
		v = cJSON_GetObjectItemCaseSensitive(cmd->params, p->name);
		if (v == NULL || cJSON_IsNull(v)) {
			if (p->required) {
				cmd_fail_field(cmd, p->name, "required");
				return false;
			}
			if (p->type == PT_STRING || p->type == PT_TEXT ||
			    p->type == PT_CODE || p->type == PT_TAX_CODE ||
			    p->type == PT_EMAIL)
				*(const char **)p->out = NULL;
			else if (p->type == PT_JSON)
				*(const cJSON **)p->out = NULL;
			else if (p->type == PT_ENUM)
				*(int *)p->out = -1;
			continue;
		}
		if (!param_one(cmd, p, v))
			return false;
	}
	return true;
}

static void
reply_raw_error(struct ctl_conn *conn, cJSON *id, int code, const char *msg)
{
	struct cmd	*cmd = xcalloc(1, sizeof *cmd);

	cmd->conn = conn;
	cmd->id = id != NULL ? id : cJSON_CreateNull();
	cmd->started_ms = mono_ms();
	ctl_conn_set_cmd(conn, cmd);
	cmd_fail(cmd, code, "%s", msg);
}

void
cmd_run_line(struct ctl_conn *conn, const struct caller *caller,
    const char *line, size_t len)
{
	cJSON			*req, *id = NULL, *params, *method, *ver;
	const struct cmd_def	*def = NULL;
	struct cmd		*cmd;
	const char		*end = NULL;
	bool			 notification;

	/* Every answer is UTF-8, so nothing that is not comes in: cJSON
	   would take it, and echo it back in an id or an error. */
	if (val_utf8(line, len) != 0) {
		reply_raw_error(conn, NULL, E_PARSE,
		    "parse error: not valid UTF-8");
		return;
	}
	req = cJSON_ParseWithLengthOpts(line, len, &end, 0);
	if (req != NULL) {
		/* One JSON value per line, nothing after it. */
		while (end < line + len && (*end == ' ' || *end == '\t' ||
		    *end == '\r'))
			end++;
		if (end != line + len) {
			cJSON_Delete(req);
			req = NULL;
		}
	}
	if (req == NULL) {
		reply_raw_error(conn, NULL, E_PARSE, "parse error: not valid JSON");
		return;
	}
	if (!cJSON_IsObject(req)) {
		reply_raw_error(conn, NULL, E_INVALID_REQUEST, cJSON_IsArray(req) ?
		    "invalid request: batches are not supported" :
		    "invalid request: not a JSON object");
		cJSON_Delete(req);
		return;
	}
	id = cJSON_DetachItemFromObjectCaseSensitive(req, "id");
	notification = (id == NULL);
	if (id != NULL && !cJSON_IsNumber(id) && !cJSON_IsString(id) &&
	    !cJSON_IsNull(id)) {
		cJSON_Delete(id);
		reply_raw_error(conn, NULL, E_INVALID_REQUEST,
		    "invalid request: id must be a number, a string or null");
		cJSON_Delete(req);
		return;
	}
	ver = cJSON_GetObjectItemCaseSensitive(req, "jsonrpc");
	if (!cJSON_IsString(ver) || strcmp(ver->valuestring, PROTO_VERSION) != 0) {
		reply_raw_error(conn, id, E_INVALID_REQUEST,
		    "invalid request: jsonrpc must be \"2.0\"");
		cJSON_Delete(req);
		return;
	}
	method = cJSON_GetObjectItemCaseSensitive(req, "method");
	if (!cJSON_IsString(method)) {
		reply_raw_error(conn, id, E_INVALID_REQUEST,
		    "invalid request: method must be a string");
		cJSON_Delete(req);
		return;
	}
	for (const cJSON *k = req->child; k != NULL; k = k->next) {
		if (strcmp(k->string, "jsonrpc") != 0 &&
		    strcmp(k->string, "method") != 0 &&
		    strcmp(k->string, "params") != 0) {
			reply_raw_error(conn, id, E_INVALID_REQUEST,
			    "invalid request: unknown member");
			cJSON_Delete(req);
			return;
		}
	}
	for (size_t i = 0; i < nitems(cmd_table); i++)
		if (strcmp(cmd_table[i].method, method->valuestring) == 0)
			def = &cmd_table[i];
	if (def == NULL) {
		char	*msg = xasprintf("method not found: %.*s",
		    (int)val_utf8_prefix(method->valuestring, 64),
		    method->valuestring);

		/* A notification is never answered, not even an error. */
		if (notification)
			ctl_conn_done(conn);
		else
			reply_raw_error(conn, id, E_METHOD_NOT_FOUND, msg);
		free(msg);
		cJSON_Delete(req);
		return;
	}
	params = cJSON_DetachItemFromObjectCaseSensitive(req, "params");
	cJSON_Delete(req);
	if (params != NULL && cJSON_IsNull(params)) {
		cJSON_Delete(params);
		params = NULL;
	}
	if (params != NULL && !cJSON_IsObject(params)) {
		cJSON_Delete(params);
		if (notification)
			ctl_conn_done(conn);
		else
			reply_raw_error(conn, id, E_INVALID_PARAMS,
			    "params must be an object of named parameters");
		return;
	}

	cmd = xcalloc(1, sizeof *cmd);
	cmd->conn = conn;
	cmd->caller = *caller;
	cmd->id = id;
	cmd->params = params;
	cmd->def = def;
	cmd->started_ms = mono_ms();
	ctl_conn_set_cmd(conn, cmd);

	if (caller->role != ROLE_ADMIN &&
	    (def->roles & ROLE_BIT(caller->role)) == 0) {
		struct buf	need;

		buf_init(&need);
		for (int r = ROLE_OPERATOR; r < ROLE_COUNT; r++)
			if ((def->roles & ROLE_BIT(r)) || r == ROLE_ADMIN)
				buf_addf(&need, "%s%s", need.len ? ", " : "",
				    role_names[r]);
		log_warn("permission denied: uid %u (%s) called %s",
		    (unsigned)caller->uid, role_names[caller->role],
		    def->method);
		cmd_fail(cmd, E_PERMISSION, "permission denied: %s needs the "
		    "role %s (you are %s)", def->method, need.data,
		    role_names[caller->role]);
		buf_free(&need);
		return;
	}
	def->handler(cmd);
}
