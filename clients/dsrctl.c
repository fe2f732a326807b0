/*
 * dsrctl.c: the command-line client of dsrd. It turns one command line into
 * one JSON-RPC 2.0 request on dsrd's Unix socket, waits for the one answer,
 * and prints it for people (tables, key: value blocks) or, with --json, as
 * one JSON document; the exit code says how it went (SPEC §6). One table of
 * commands drives parsing, help and dispatch: a new command is a new row.
 * It must never validate what the daemon validates (dates, tax codes,
 * e-mail addresses, codes): it checks only the shape of the command line,
 * so that there is one source of truth for the rules. It must never print
 * anything but the one JSON document on stdout under --json, and never
 * write a control character it received to the terminal.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "proto.h"
#include "ropa.h"
#include "util.h"

#ifndef DSR_VERSION
#define DSR_VERSION "0.0.0"
#endif

/* How long to wait for dsrd's answer, unless $DSRCTL_TIMEOUT says. */
#define CTL_TIMEOUT_S		60
/*
 * Requests are capped at PROTO_MAX_MESSAGE, answers are not: a list of 1000
 * requests with long summaries is several MiB. This only stops a runaway.
 */
#define CTL_MAX_REPLY		((size_t)64 * PROTO_MAX_MESSAGE)
#define CTL_MAX_ARGS		2
#define CTL_MAX_OPTS		12
/* Column of the summary in the command list of --help. */
#define CTL_HELP_COL		30

enum ctl_type {
	CTL_STRING,
	CTL_INT,		/* checked to be an integer, sent as a number */
	CTL_BOOL,		/* a flag without value, sent as true */
	CTL_DATE,		/* YYYY-MM-DD, sent as given: dsrd checks it */
	CTL_LIST,		/* "a, b": an array of strings, split at ',' */
};

struct ctl_arg {
	const char	*name;		/* in the synopsis: "ID" */
	const char	*param;
	enum ctl_type	 type;
};

struct ctl_opt {
	const char	*flag;		/* without the leading "--" */
	const char	*param;
	enum ctl_type	 type;
	int		 required;
	const char	*metavar;	/* in the synopsis; unused for bool */
};

struct ctl;

struct ctl_cmd {
	const char	*name;		/* one or two words: "entity add" */
	const char	*method;
	const char	*summary;
	struct ctl_arg	 args[CTL_MAX_ARGS];	/* all required, in order */
	struct ctl_opt	 opts[CTL_MAX_OPTS];
	/* Prints a result for people; returns the exit code. */
	int		(*print)(const cJSON *);
	/* A command that is more than one request (ropa import): runs it
	   all, prints, and returns the exit code. */
	int		(*run)(const struct ctl *, const char *socket);
};

static int	print_ping(const cJSON *);
static int	print_entity_added(const cJSON *);
static int	print_entities(const cJSON *);
static int	print_filed(const cJSON *);
static int	print_request(const cJSON *);
static int	print_requests(const cJSON *);
static int	print_audit(const cJSON *);
static int	print_stats(const cJSON *);
static int	print_outbox(const cJSON *);
static int	print_changed(const cJSON *);
static int	print_staff_added(const cJSON *);
static int	print_staff(const cJSON *);
static int	print_retried(const cJSON *);
static int	print_history(const cJSON *);
static int	print_activities(const cJSON *);
static int	print_activity(const cJSON *);
static int	print_tasks(const cJSON *);
static int	print_task(const cJSON *);
static int	run_ropa_import(const struct ctl *, const char *);
static char	*jlist(const cJSON *, const char *);
static void	 print_request_tasks(const cJSON *);

static const struct ctl_cmd cmds[] = {
	{
		.name = "ping", .method = "ping",
		.summary = "daemon version, uptime, database state",
		.print = print_ping,
	},
	{
		.name = "entity add", .method = "entity.add",
		.summary = "register a body (controller)",
		.args = { { "CODE", "code", CTL_STRING } },
		.opts = {
			{ "name", "name", CTL_STRING, 1, "NAME" },
			{ "email", "email", CTL_STRING, 0, "E" },
			{ "dpo-email", "dpo_email", CTL_STRING, 0, "E" },
			{ "holidays", "holidays", CTL_STRING, 0, "MM-DD,..." },
		},
		.print = print_entity_added,
	},
	{
		.name = "entity list", .method = "entity.list",
		.summary = "the bodies",
		.print = print_entities,
	},
	{
		.name = "staff add", .method = "staff.add",
		.summary = "add a person to a body's staff directory",
		.args = { { "NAME", "name", CTL_STRING } },
		.opts = {
			{ "entity", "entity", CTL_STRING, 1, "CODE" },
			{ "email", "email", CTL_STRING, 0, "E" },
			{ "office", "office", CTL_STRING, 0, "OFFICE" },
			{ "user", "user", CTL_STRING, 0, "UNIXUSER" },
		},
		.print = print_staff_added,
	},
	{
		.name = "staff list", .method = "staff.list",
		.summary = "a body's staff directory",
		.opts = {
			{ "entity", "entity", CTL_STRING, 0, "CODE" },
			{ "office", "office", CTL_STRING, 0, "OFFICE" },
		},
		.print = print_staff,
	},
	{
		.name = "file", .method = "request.file",
		.summary = "file a request; prints it",
		.opts = {
			{ "entity", "entity", CTL_STRING, 1, "CODE" },
			{ "type", "type", CTL_STRING, 1, "TYPE" },
			{ "subject-name", "subject_name", CTL_STRING, 1,
			    "NAME" },
			{ "subject-tax-code", "subject_tax_code", CTL_STRING,
			    0, "CF" },
			{ "subject-email", "subject_email", CTL_STRING, 0,
			    "E" },
			{ "channel", "channel", CTL_STRING, 0, "CH" },
			{ "received", "received_on", CTL_DATE, 0,
			    "YYYY-MM-DD" },
			{ "protocol", "protocol", CTL_STRING, 0, "REF" },
			{ "summary", "summary", CTL_STRING, 0, "TEXT" },
			{ "idempotency-key", "idempotency_key", CTL_STRING,
			    0, "K" },
			{ "subject-category", "subject_categories", CTL_LIST,
			    0, "LIST" },
		},
		.print = print_filed,
	},
	{
		.name = "show", .method = "request.show",
		.summary = "one request, with its deadlines and history",
		.args = { { "ID", "id", CTL_INT } },
		.print = print_request,
	},
	{
		.name = "list", .method = "request.list",
		.summary = "requests, soonest due first",
		.opts = {
			{ "entity", "entity", CTL_STRING, 0, "CODE" },
			{ "status", "status", CTL_STRING, 0, "S" },
			{ "type", "type", CTL_STRING, 0, "T" },
			{ "overdue", "overdue", CTL_BOOL, 0, NULL },
			{ "due-within", "due_within", CTL_INT, 0, "DAYS" },
			{ "limit", "limit", CTL_INT, 0, "N" },
		},
		.print = print_requests,
	},
	{
		.name = "forward", .method = "request.forward",
		.summary = "DPO forwards; starts the operational clock",
		.args = { { "ID", "id", CTL_INT } },
		.opts = {
			{ "date", "date", CTL_DATE, 0, "YYYY-MM-DD" },
			{ "note", "note", CTL_STRING, 0, "TEXT" },
			{ "activity", "activity", CTL_STRING, 0, "SPEC" },
		},
		.print = print_changed,
	},
	{
		.name = "await-subject", .method = "request.await_subject",
		.summary = "identity proof or clarification asked: pause",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "note", "note", CTL_STRING, 1, "TEXT" } },
		.print = print_changed,
	},
	{
		.name = "resume", .method = "request.resume",
		.summary = "the person answered: the clocks run again",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "note", "note", CTL_STRING, 0, "TEXT" } },
		.print = print_changed,
	},
	{
		.name = "extend", .method = "request.extend",
		.summary = "art. 12(3) extension, once, with a reason",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "reason", "reason", CTL_STRING, 1, "TEXT" } },
		.print = print_changed,
	},
	{
		.name = "complete", .method = "request.complete",
		.summary = "done",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "note", "note", CTL_STRING, 0, "TEXT" } },
		.print = print_changed,
	},
	{
		.name = "reject", .method = "request.reject",
		.summary = "refused, with a reason code",
		.args = { { "ID", "id", CTL_INT } },
		.opts = {
			{ "reason", "reason", CTL_STRING, 1, "CODE" },
			{ "note", "note", CTL_STRING, 0, "TEXT" },
		},
		.print = print_changed,
	},
	{
		.name = "withdraw", .method = "request.withdraw",
		.summary = "the person withdrew it",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "note", "note", CTL_STRING, 0, "TEXT" } },
		.print = print_changed,
	},
	{
		.name = "history", .method = "request.history",
		.summary = "the audit events of a request",
		.args = { { "ID", "id", CTL_INT } },
		.print = print_history,
	},
	{
		.name = "stats", .method = "stats",
		.summary = "counts by state, overdue, due soon, median days "
		    "to close",
		.opts = { { "entity", "entity", CTL_STRING, 0, "CODE" } },
		.print = print_stats,
	},
	{
		.name = "outbox list", .method = "outbox.list",
		.summary = "notifications waiting, failed or sent",
		.opts = {
			{ "state", "state", CTL_STRING, 0,
			    "pending,sending,dead,sent" },
			{ "limit", "limit", CTL_INT, 0, "N" },
		},
		.print = print_outbox,
	},
	{
		.name = "outbox retry", .method = "outbox.retry",
		.summary = "put a dead notification back in the queue",
		.args = { { "ID", "id", CTL_INT } },
		.print = print_retried,
	},
	{
		.name = "audit verify", .method = "audit.verify",
		.summary = "check the audit trail's hash chain",
		.print = print_audit,
	},
	{
		.name = "ropa import", .method = "ropa.import",
		.summary = "import a body's register of processing activities",
		.args = { { "FILE", "file", CTL_STRING } },
		.opts = {
			{ "entity", "entity", CTL_STRING, 1, "CODE" },
			{ "dry-run", "dry_run", CTL_BOOL, 0, NULL },
		},
		.run = run_ropa_import,
	},
	{
		.name = "ropa list", .method = "ropa.list",
		.summary = "activities of the registers, with filters",
		.opts = {
			{ "entity", "entity", CTL_STRING, 0, "CODE" },
			{ "office", "office", CTL_STRING, 0, "O" },
			{ "data-category", "data_category", CTL_STRING, 0,
			    "C" },
			{ "subject-category", "subject_category", CTL_STRING,
			    0, "C" },
			{ "software", "software", CTL_STRING, 0, "S" },
			{ "processor", "processor", CTL_STRING, 0, "P" },
			{ "removed", "removed", CTL_BOOL, 0, NULL },
			{ "limit", "limit", CTL_INT, 0, "N" },
		},
		.print = print_activities,
	},
	{
		.name = "ropa show", .method = "ropa.show",
		.summary = "one activity of a register, every field",
		.args = { { "ID", "id", CTL_INT } },
		.print = print_activity,
	},
	{
		.name = "task list", .method = "task.list",
		.summary = "tasks of forwarded requests",
		.opts = {
			{ "request", "request", CTL_INT, 0, "ID" },
			{ "entity", "entity", CTL_STRING, 0, "CODE" },
			{ "status", "status", CTL_STRING, 0,
			    "open|done|waived" },
			{ "mine", "mine", CTL_BOOL, 0, NULL },
			{ "limit", "limit", CTL_INT, 0, "N" },
		},
		.print = print_tasks,
	},
	{
		.name = "task done", .method = "task.done",
		.summary = "a task is done",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "note", "note", CTL_STRING, 0, "TEXT" } },
		.print = print_task,
	},
	{
		.name = "task waive", .method = "task.waive",
		.summary = "the DPO waives a task, with a reason",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "note", "note", CTL_STRING, 1, "TEXT" } },
		.print = print_task,
	},
};

/* What the command line asked for. */
struct ctl {
	const char		*socket;
	int			 json;
	int			 help;
	int			 version;
	const struct ctl_cmd	*cmd;
	const char		*args[CTL_MAX_ARGS];
	size_t			 nargs;
	const char		*opts[CTL_MAX_OPTS];
};

/* -------------------------------------------------------------------- */
/* Text helpers. */

/* Counts UTF-8 code points (continuation bytes do not count). */
static size_t
u8_width(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/*
 * Makes a string from dsrd safe for a terminal, in place (it only shrinks):
 * C0 and C1 control characters become '?', a tab a space, CR LF a LF; a LF
 * stays only when keep_nl, else it becomes a space. Returns s.
 */
static char *
clean(char *s, int keep_nl)
{
	unsigned char	*r = (unsigned char *)s, *w = r;

	for (; *r != '\0'; r++) {
		if (*r == '\r' && r[1] == '\n')
			continue;
		if (*r == '\n')
			*w++ = keep_nl ? '\n' : ' ';
		else if (*r == '\t')
			*w++ = ' ';
		else if (*r < 0x20 || *r == 0x7f)
			*w++ = '?';
		else if (*r == 0xc2 && r[1] >= 0x80 && r[1] <= 0x9f) {
			*w++ = '?';
			r++;
		} else
			*w++ = *r;
	}
	*w = '\0';
	return s;
}

/*
 * Cuts s to at most max code points, the last being "…". Takes s; the caller
 * owns the result.
 */
static char *
truncate_u8(char *s, size_t max)
{
	size_t	 n = 0, off = 0;
	char	*t;

	if (max == 0 || u8_width(s) <= max)
		return s;
	for (off = 0; s[off] != '\0'; off++) {
		if (((unsigned char)s[off] & 0xc0) != 0x80 && n++ == max - 1)
			break;
	}
	t = xasprintf("%.*s\u2026", (int)off, s);
	free(s);
	return t;
}

/* A member of a JSON object, or NULL. */
static const cJSON *
jget(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* A JSON value as text: "-" for null or missing. Caller frees. */
static char *
jtext(const cJSON *v)
{
	struct buf	 b;
	const cJSON	*e;
	double		 d;

	if (v == NULL || cJSON_IsNull(v))
		return xstrdup("-");
	if (cJSON_IsString(v))
		return xstrdup(v->valuestring);
	if (cJSON_IsBool(v))
		return xstrdup(cJSON_IsTrue(v) ? "yes" : "no");
	if (cJSON_IsNumber(v)) {
		d = v->valuedouble;
		if (d == (double)(long long)d && d > -9007199254740992.0 &&
		    d < 9007199254740992.0)
			return xasprintf("%lld", (long long)d);
		return xasprintf("%.17g", d);
	}
	if (cJSON_IsArray(v)) {
		if (cJSON_GetArraySize(v) == 0)
			return xstrdup("-");
		buf_init(&b);
		cJSON_ArrayForEach(e, v) {
			char	*t = jtext(e);

			if (b.len > 0)
				buf_adds(&b, ",");
			buf_adds(&b, t);
			free(t);
		}
		return buf_take(&b);
	}
	{
		char	*p = cJSON_PrintUnformatted(v), *t;

		t = xstrdup(p != NULL ? p : "?");
		cJSON_free(p);
		return t;
	}
}

/* jtext of a member, cleaned for a one-line cell. Caller frees. */
static char *
jcell(const cJSON *o, const char *key)
{
	return clean(jtext(jget(o, key)), 0);
}

/* An integer member, or def. */
static long long
jint(const cJSON *o, const char *key, long long def)
{
	const cJSON	*v = jget(o, key);

	if (!cJSON_IsNumber(v))
		return def;
	return (long long)v->valuedouble;
}

/* -------------------------------------------------------------------- */
/* Aligned tables: cells are heap strings the table owns. */

struct table {
	size_t		  ncols;
	const char	**heads;
	const int	 *right;	/* right-aligned columns, or NULL */
	char		**cells;
	size_t		  ncells;
	size_t		  cap;
};

static void
table_init(struct table *t, size_t ncols, const char **heads,
    const int *right)
{
	memset(t, 0, sizeof *t);
	t->ncols = ncols;
	t->heads = heads;
	t->right = right;
}

/* Takes s (a heap string). */
static void
table_add(struct table *t, char *s)
{
	if (t->ncells == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 64;
		t->cells = xreallocarray(t->cells, t->cap, sizeof *t->cells);
	}
	t->cells[t->ncells++] = s;
}

static void
table_row(struct table *t, const char *indent, const char **row,
    const size_t *width)
{
	for (size_t c = 0; c < t->ncols; c++) {
		size_t	pad = width[c] - u8_width(row[c]);
		int	last = c + 1 == t->ncols;

		fputs(c == 0 ? indent : "  ", stdout);
		if (t->right != NULL && t->right[c])
			printf("%*s", (int)pad, "");
		fputs(row[c], stdout);
		if (!last && (t->right == NULL || !t->right[c]))
			printf("%*s", (int)pad, "");
	}
	putchar('\n');
}

/* Prints the header (if heads) and the rows, then frees the cells. */
static void
table_print(struct table *t, const char *indent)
{
	size_t	*width = xcalloc(t->ncols, sizeof *width);
	size_t	 c, i;

	for (c = 0; t->heads != NULL && c < t->ncols; c++)
		width[c] = u8_width(t->heads[c]);
	for (i = 0; i < t->ncells; i++) {
		size_t	w = u8_width(t->cells[i]);

		if (w > width[i % t->ncols])
			width[i % t->ncols] = w;
	}
	if (t->heads != NULL)
		table_row(t, indent, t->heads, width);
	for (i = 0; i + t->ncols <= t->ncells; i += t->ncols)
		table_row(t, indent, (const char **)t->cells + i, width);
	for (i = 0; i < t->ncells; i++)
		free(t->cells[i]);
	free(t->cells);
	free(width);
	t->cells = NULL;
	t->ncells = t->cap = 0;
}

/* -------------------------------------------------------------------- */
/* Printers for people. */

static int
print_ping(const cJSON *r)
{
	const cJSON	*db = jget(r, "database");
	char		*ver = jcell(r, "version"), *dbs = jcell(r, "database");
	char		*schema = jcell(r, "schema_version");
	char		*today = jcell(r, "today"), *tz = jcell(r, "timezone");
	long long	 s = jint(r, "uptime", -1);
	char		 up[64];

	if (s < 0)
		snprintf(up, sizeof up, "-");
	else if (s >= 86400)
		snprintf(up, sizeof up, "%lldd%lldh", s / 86400,
		    s / 3600 % 24);
	else if (s >= 3600)
		snprintf(up, sizeof up, "%lldh%lldm", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(up, sizeof up, "%lldm%llds", s / 60, s % 60);
	else
		snprintf(up, sizeof up, "%llds", s);
	printf("dsrd %s, pid %lld, up %s, database %s, schema %s\n", ver,
	    jint(r, "pid", 0), up,
	    cJSON_IsString(db) && strcmp(db->valuestring, "up") != 0 ?
	    "DOWN" : dbs, schema);
	printf("today %s (%s)", today, tz);
	/* Not every dsrd says which role it gave us; say it when it does. */
	if (cJSON_IsString(jget(r, "role"))) {
		char	*role = jcell(r, "role");

		printf(", role %s", role);
		free(role);
	}
	putchar('\n');
	free(ver);
	free(dbs);
	free(schema);
	free(today);
	free(tz);
	return EXIT_OK;
}

static int
print_entity_added(const cJSON *r)
{
	char	*code = jcell(r, "code"), *name = jcell(r, "name");

	printf("added body %s (%s)\n", code, name);
	free(code);
	free(name);
	return EXIT_OK;
}

static int
print_entities(const cJSON *r)
{
	static const char *heads[] = {
		"CODE", "NAME", "EMAIL", "DPO-EMAIL", "HOLIDAYS",
	};
	const cJSON	*list = jget(r, "entities"), *e;
	struct table	 t;

	if (cJSON_GetArraySize(list) == 0) {
		printf("no bodies\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, NULL);
	cJSON_ArrayForEach(e, list) {
		table_add(&t, jcell(e, "code"));
		table_add(&t, jcell(e, "name"));
		table_add(&t, jcell(e, "email"));
		table_add(&t, jcell(e, "dpo_email"));
		table_add(&t, jcell(e, "holidays"));
	}
	table_print(&t, "");
	return EXIT_OK;
}

static int
print_staff_added(const cJSON *r)
{
	char	*name = jcell(r, "name"), *ent = jcell(r, "entity");

	printf("added %s to the staff of %s (id %lld)\n", name, ent,
	    jint(r, "id", 0));
	free(name);
	free(ent);
	return EXIT_OK;
}

static int
print_staff(const cJSON *r)
{
	static const char *heads[] = {
		"ID", "ENTITY", "NAME", "OFFICE", "EMAIL", "USER",
	};
	const cJSON	*list = jget(r, "staff"), *e;
	struct table	 t;

	if (cJSON_GetArraySize(list) == 0) {
		printf("no staff\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, NULL);
	cJSON_ArrayForEach(e, list) {
		table_add(&t, jcell(e, "id"));
		table_add(&t, jcell(e, "entity"));
		table_add(&t, jcell(e, "name"));
		table_add(&t, jcell(e, "office"));
		table_add(&t, jcell(e, "email"));
		table_add(&t, jcell(e, "user"));
	}
	table_print(&t, "");
	return EXIT_OK;
}

/* One "  Label:   value" line; a multi-line value is indented. */
static void
show_field(const char *label, char *value)
{
	const int	 col = 19;
	char		*p, *nl;

	clean(value, 1);
	printf("  %s:%*s", label, col - (int)strlen(label) - 1, "");
	for (p = value; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
		printf("%.*s\n  %*s", (int)(nl - p), p, col, "");
	printf("%s\n", p);
	free(value);
}

static void
show_member(const char *label, const cJSON *o, const char *key)
{
	show_field(label, jtext(jget(o, key)));
}

static int
print_request(const cJSON *r)
{
	static const char *heads[] = { "AT", "ACTOR", "ACTION", "NOTE" };
	const cJSON	*subj = jget(r, "subject"), *hist = jget(r, "history");
	const cJSON	*ev;
	struct table	 t;

	printf("Request %lld%s\n", jint(r, "id", 0),
	    cJSON_IsTrue(jget(r, "overdue")) ? "  ** OVERDUE **" : "");
	show_member("Body", r, "entity");
	show_member("Type", r, "type");
	show_member("Status", r, "status");
	show_member("Subject name", subj, "name");
	show_member("Subject tax code", subj, "tax_code");
	show_member("Subject e-mail", subj, "email");
	show_member("Channel", r, "channel");
	show_member("Protocol", r, "protocol");
	show_member("Received", r, "received_on");
	show_member("Forwarded", r, "forwarded_on");
	show_member("Statutory due", r, "statutory_due_on");
	show_member("Operational due", r, "operational_due_on");
	show_member("Due", r, "due_on");
	show_member("Extended", r, "extended");
	if (cJSON_IsTrue(jget(r, "overdue")))
		show_field("Overdue", xstrdup("yes  ** OVERDUE **"));
	else
		show_member("Overdue", r, "overdue");
	if (!cJSON_IsNull(jget(r, "extended_on")) && jget(r, "extended_on"))
		show_member("Extended on", r, "extended_on");
	if (jget(r, "extension_reason") && !cJSON_IsNull(jget(r,
	    "extension_reason")))
		show_member("Extension reason", r, "extension_reason");
	if (jget(r, "awaiting_since") && !cJSON_IsNull(jget(r,
	    "awaiting_since")))
		show_member("Awaiting since", r, "awaiting_since");
	if (jint(r, "paused_days", 0) > 0)
		show_member("Paused days", r, "paused_days");
	show_member("Closed", r, "closed_on");
	show_member("Outcome", r, "outcome");
	if (jget(r, "reject_reason") && !cJSON_IsNull(jget(r,
	    "reject_reason")))
		show_member("Reject reason", r, "reject_reason");
	if (jget(r, "outcome_note") && !cJSON_IsNull(jget(r, "outcome_note")))
		show_member("Outcome note", r, "outcome_note");
	show_member("Created", r, "created_at");
	show_member("Summary", r, "summary");
	if (cJSON_GetArraySize(jget(r, "subject_categories")) > 0)
		show_field("Categories", jlist(r,
		    "subject_categories"));
	print_request_tasks(r);
	if (!cJSON_IsArray(hist))
		return EXIT_OK;
	printf("History:\n");
	if (cJSON_GetArraySize(hist) == 0) {
		printf("  no events\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, NULL);
	cJSON_ArrayForEach(ev, hist) {
		table_add(&t, jcell(ev, "at"));
		table_add(&t, jcell(ev, "actor"));
		table_add(&t, jcell(ev, "action"));
		table_add(&t, jcell(ev, "note"));
	}
	table_print(&t, "  ");
	return EXIT_OK;
}

static int
print_filed(const cJSON *r)
{
	char	*type = jcell(r, "type"), *ent = jcell(r, "entity");
	char	*due = jcell(r, "due_on");

	if (cJSON_IsFalse(jget(r, "created")))
		printf("request %lld already filed with this idempotency "
		    "key\n", jint(r, "id", 0));
	else
		printf("filed request %lld (%s, %s), due %s\n",
		    jint(r, "id", 0), type, ent, due);
	putchar('\n');
	free(type);
	free(ent);
	free(due);
	return print_request(r);
}

static int
print_changed(const cJSON *r)
{
	char	*st = jcell(r, "status"), *due = jcell(r, "due_on");

	printf("request %lld is %s, due %s\n\n", jint(r, "id", 0), st, due);
	free(st);
	free(due);
	return print_request(r);
}

static int
print_retried(const cJSON *r)
{
	printf("notification %lld queued again\n", jint(r, "id", 0));
	return EXIT_OK;
}

static int
print_history(const cJSON *r)
{
	static const char *heads[] = { "SEQ", "AT", "ACTOR", "ROLE", "ACTION",
	    "NOTE" };
	const cJSON	*ev, *evs = jget(r, "events");
	struct table	 t;

	printf("History of request %lld\n", jint(r, "id", 0));
	if (!cJSON_IsArray(evs) || cJSON_GetArraySize(evs) == 0) {
		printf("  no events\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, NULL);
	cJSON_ArrayForEach(ev, evs) {
		table_add(&t, jcell(ev, "seq"));
		table_add(&t, jcell(ev, "at"));
		table_add(&t, jcell(ev, "actor"));
		table_add(&t, jcell(ev, "role"));
		table_add(&t, jcell(ev, "action"));
		table_add(&t, jcell(ev, "note"));
	}
	table_print(&t, "  ");
	return EXIT_OK;
}

static int
print_requests(const cJSON *r)
{
	static const char *heads[] = {
		"ID", "ENTITY", "TYPE", "STATUS", "RECEIVED", "DUE", "OVERDUE",
		"SUBJECT",
	};
	static const int right[] = { 1, 0, 0, 0, 0, 0, 0, 0 };
	const cJSON	*list = jget(r, "requests"), *e;
	struct table	 t;
	int		 n = cJSON_GetArraySize(list);

	if (n == 0) {
		printf("no requests\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, right);
	cJSON_ArrayForEach(e, list) {
		table_add(&t, jcell(e, "id"));
		table_add(&t, jcell(e, "entity"));
		table_add(&t, jcell(e, "type"));
		table_add(&t, jcell(e, "status"));
		table_add(&t, jcell(e, "received_on"));
		table_add(&t, jcell(e, "due_on"));
		table_add(&t, xstrdup(cJSON_IsTrue(jget(e, "overdue")) ?
		    "yes" : ""));
		table_add(&t, truncate_u8(jcell(jget(e, "subject"), "name"),
		    30));
	}
	table_print(&t, "");
	printf("%d request%s\n", n, n == 1 ? "" : "s");
	return EXIT_OK;
}

static int
print_audit(const cJSON *r)
{
	char	*head = jcell(r, "head");

	printf("audit trail OK: %lld event%s, head %.16s\u2026\n",
	    jint(r, "events", 0), jint(r, "events", 0) == 1 ? "" : "s", head);
	free(head);
	return EXIT_OK;
}

static int
print_stats(const cJSON *r)
{
	static const char *heads[] = { "ENTITY", "OPEN", "OVERDUE",
	    "DUE-SOON" };
	static const int right[] = { 0, 1, 1, 1 };
	static const int state_right[] = { 0, 1 };
	const cJSON	*by = jget(r, "by_status"), *e;
	char		*today = jcell(r, "today");
	char		*median = jcell(r, "median_days_to_close");
	struct table	 t;

	printf("Requests by state (today %s):\n", today);
	table_init(&t, 2, NULL, state_right);
	cJSON_ArrayForEach(e, by) {
		table_add(&t, clean(xstrdup(e->string), 0));
		table_add(&t, clean(jtext(e), 0));
	}
	table_print(&t, "  ");
	printf("Open %lld, overdue %lld, due within 3 days %lld, median "
	    "days to close %s\n", jint(r, "open", 0), jint(r, "overdue", 0),
	    jint(r, "due_soon", 0), median);
	free(today);
	free(median);
	if (cJSON_GetArraySize(jget(r, "by_entity")) == 0)
		return EXIT_OK;
	putchar('\n');
	table_init(&t, nitems(heads), heads, right);
	cJSON_ArrayForEach(e, jget(r, "by_entity")) {
		table_add(&t, jcell(e, "entity"));
		table_add(&t, jcell(e, "open"));
		table_add(&t, jcell(e, "overdue"));
		table_add(&t, jcell(e, "due_soon"));
	}
	table_print(&t, "");
	return EXIT_OK;
}

static int
print_outbox(const cJSON *r)
{
	static const char *heads[] = {
		"ID", "CREATED", "EVENT", "REQUEST", "ENTITY", "CHANNEL",
		"RECIPIENT", "STATE", "TRIES", "NEXT-ATTEMPT", "LAST-ERROR",
	};
	static const int right[] = { 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0 };
	const cJSON	*list = jget(r, "items"), *e;
	struct table	 t;
	int		 n = cJSON_GetArraySize(list);

	if (n == 0) {
		printf("no notifications\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, right);
	cJSON_ArrayForEach(e, list) {
		table_add(&t, jcell(e, "id"));
		table_add(&t, jcell(e, "created_at"));
		table_add(&t, jcell(e, "event"));
		table_add(&t, jcell(e, "request_id"));
		table_add(&t, jcell(e, "entity"));
		table_add(&t, jcell(e, "channel"));
		table_add(&t, truncate_u8(jcell(e, "recipient"), 40));
		table_add(&t, jcell(e, "state"));
		table_add(&t, jcell(e, "attempts"));
		table_add(&t, cJSON_IsString(jget(e, "sent_at")) ?
		    xstrdup("-") : jcell(e, "next_attempt_at"));
		table_add(&t, truncate_u8(jcell(e, "last_error"), 40));
	}
	table_print(&t, "");
	printf("%d notification%s\n", n, n == 1 ? "" : "s");
	return EXIT_OK;
}

/* A list of strings as one cell: "a; b" ("-" for none). Caller frees. */
static char *
jlist(const cJSON *o, const char *key)
{
	const cJSON	*a = jget(o, key), *e;
	struct buf	 b;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
		return xstrdup("-");
	buf_init(&b);
	cJSON_ArrayForEach(e, a) {
		char	*t = jtext(e);

		buf_addf(&b, "%s%s", b.len ? "; " : "", t);
		free(t);
	}
	return clean(buf_take(&b), 0);
}

static int
print_activities(const cJSON *r)
{
	static const char *heads[] = {
		"ID", "ENTITY", "LINE", "OFFICE", "NAME", "SUBJECTS",
		"PROCESSORS", "REMOVED",
	};
	static const int right[] = { 1, 0, 1, 0, 0, 0, 0, 0 };
	const cJSON	*list = jget(r, "activities"), *e;
	struct table	 t;
	int		 n = cJSON_GetArraySize(list);

	if (n == 0) {
		printf("no activities\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, right);
	cJSON_ArrayForEach(e, list) {
		table_add(&t, jcell(e, "id"));
		table_add(&t, jcell(e, "entity"));
		table_add(&t, jcell(e, "line"));
		table_add(&t, truncate_u8(jcell(e, "office"), 30));
		table_add(&t, truncate_u8(jcell(e, "name"), 40));
		table_add(&t, truncate_u8(jlist(e, "subject_categories"), 30));
		table_add(&t, truncate_u8(jlist(e, "processors"), 30));
		table_add(&t, cJSON_IsString(jget(e, "removed_at")) ?
		    jcell(e, "removed_at") : xstrdup(""));
	}
	table_print(&t, "");
	printf("%d activit%s\n", n, n == 1 ? "y" : "ies");
	return EXIT_OK;
}

/* People as "Name (staff 12), Other (not in the directory)". */
static char *
people_text(const cJSON *a)
{
	const cJSON	*e;
	struct buf	 b;

	if (cJSON_GetArraySize(a) == 0)
		return xstrdup("-");
	buf_init(&b);
	cJSON_ArrayForEach(e, a) {
		char	*name = jcell(e, "name");

		if (cJSON_IsNumber(jget(e, "staff_id")))
			buf_addf(&b, "%s%s (staff %lld)", b.len ? "\n" : "",
			    name, jint(e, "staff_id", 0));
		else
			buf_addf(&b, "%s%s (not in the staff directory)",
			    b.len ? "\n" : "", name);
		free(name);
	}
	return buf_take(&b);
}

/* A list member, one item per line. Caller frees. */
static char *
jlines(const cJSON *o, const char *key)
{
	const cJSON	*a = jget(o, key), *e;
	struct buf	 b;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
		return xstrdup("-");
	buf_init(&b);
	cJSON_ArrayForEach(e, a) {
		char	*t = clean(jtext(e), 0);

		buf_addf(&b, "%s%s", b.len ? "\n" : "", t);
		free(t);
	}
	return buf_take(&b);
}

static int
print_activity(const cJSON *r)
{
	printf("Activity %lld%s\n", jint(r, "id", 0),
	    cJSON_IsString(jget(r, "removed_at")) ?
	    "  (removed from the register)" : "");
	show_member("Body", r, "entity");
	show_member("Name", r, "name");
	show_member("Office", r, "office");
	show_member("Purpose", r, "purpose");
	show_member("Joint controller", r, "joint_controller");
	show_field("Managers", people_text(jget(r, "managers")));
	show_field("Staff", people_text(jget(r, "staff")));
	show_field("Processors", jlines(r, "processors"));
	show_field("Ind. controllers", jlines(r, "independent_controllers"));
	show_field("Software", jlines(r, "software"));
	show_field("Data categories", jlines(r, "data_categories"));
	show_field("Subjects", jlines(r, "subject_categories"));
	show_field("Recipients", jlines(r, "recipient_categories"));
	show_member("Retention", r, "retention");
	show_member("Cloud", r, "cloud");
	show_member("Transfers", r, "transfers");
	show_member("For others", r, "processor_for_others");
	show_member("Controller", r, "controller");
	show_member("Security measures", r, "security_measures");
	show_member("Register line", r, "line");
	show_member("Imported", r, "imported_at");
	show_member("Updated", r, "updated_at");
	show_member("Removed", r, "removed_at");
	return EXIT_OK;
}

/* What a task is about: its activity, or its recipient. Caller frees. */
static char *
task_about(const cJSON *t)
{
	const cJSON	*a = jget(t, "activity");
	char		*name, *office, *s;

	if (cJSON_IsObject(a)) {
		name = jcell(a, "name");
		office = jcell(a, "office");
		s = strcmp(office, "-") != 0 ?
		    xasprintf("%s (%s)", name, office) : xstrdup(name);
		free(name);
		free(office);
		return s;
	}
	name = jcell(t, "recipient");
	office = jcell(t, "recipient_kind");
	s = xasprintf("%s (%s)", name, office);
	free(name);
	free(office);
	return s;
}

static char *
task_assignees(const cJSON *t)
{
	const cJSON	*e;
	struct buf	 b;

	if (cJSON_GetArraySize(jget(t, "assignees")) == 0)
		return xstrdup("-");
	buf_init(&b);
	cJSON_ArrayForEach(e, jget(t, "assignees")) {
		char	*n = jcell(e, "name");

		buf_addf(&b, "%s%s", b.len ? ", " : "", n);
		free(n);
	}
	return buf_take(&b);
}

/* The rows of a list of tasks; with request, its column too. */
static void
tasks_table(const cJSON *list, const char *indent, int request)
{
	static const char *heads[] = {
		"ID", "REQUEST", "KIND", "ABOUT", "STATUS", "ASSIGNEES",
	};
	static const int right[] = { 1, 1, 0, 0, 0, 0 };
	const char	*h[nitems(heads)];
	int		 rt[nitems(heads)];
	const cJSON	*e;
	struct table	 t;
	size_t		 k, n = 0;

	for (k = 0; k < nitems(heads); k++) {
		if (k == 1 && !request)
			continue;
		rt[n] = right[k];
		h[n++] = heads[k];
	}
	table_init(&t, n, h, rt);
	cJSON_ArrayForEach(e, list) {
		table_add(&t, jcell(e, "id"));
		if (request)
			table_add(&t, jcell(e, "request"));
		table_add(&t, jcell(e, "kind"));
		table_add(&t, truncate_u8(clean(task_about(e), 0), 50));
		table_add(&t, jcell(e, "status"));
		table_add(&t, truncate_u8(clean(task_assignees(e), 0), 40));
	}
	table_print(&t, indent);
}

static int
print_tasks(const cJSON *r)
{
	const cJSON	*list = jget(r, "tasks");
	int		 n = cJSON_GetArraySize(list);

	if (n == 0) {
		printf("no tasks\n");
		return EXIT_OK;
	}
	tasks_table(list, "", 1);
	printf("%d task%s\n", n, n == 1 ? "" : "s");
	return EXIT_OK;
}

static int
print_task(const cJSON *r)
{
	printf("Task %lld of request %lld\n", jint(r, "id", 0),
	    jint(r, "request", 0));
	show_member("Body", r, "entity");
	show_member("Kind", r, "kind");
	show_field("About", task_about(r));
	show_member("Status", r, "status");
	show_field("Assignees", task_assignees(r));
	show_member("Note", r, "note");
	show_member("Closed", r, "closed_at");
	show_member("Closed by", r, "closed_by");
	show_member("Created", r, "created_at");
	return EXIT_OK;
}

/* A request's tasks and the recipients told (art. 19), when it has them. */
static void
print_request_tasks(const cJSON *r)
{
	static const char *heads[] = { "RECIPIENT", "KIND", "INFORMED", "BY" };
	const cJSON	*tasks = jget(r, "tasks"), *inf, *e;
	struct table	 t;

	if (cJSON_IsArray(tasks)) {
		printf("Tasks:\n");
		if (cJSON_GetArraySize(tasks) == 0)
			printf("  no tasks\n");
		else
			tasks_table(tasks, "  ", 0);
	}
	inf = jget(r, "recipients_informed");
	if (!cJSON_IsArray(inf))
		return;
	printf("Recipients informed:\n");
	if (cJSON_GetArraySize(inf) == 0) {
		printf("  none yet\n");
		return;
	}
	table_init(&t, nitems(heads), heads, NULL);
	cJSON_ArrayForEach(e, inf) {
		table_add(&t, truncate_u8(jcell(e, "recipient"), 50));
		table_add(&t, jcell(e, "kind"));
		table_add(&t, jcell(e, "informed_at"));
		table_add(&t, jcell(e, "by"));
	}
	table_print(&t, "  ");
}

/* For a command without a printer of its own: key: value lines. */
static int
print_generic(const cJSON *r)
{
	const cJSON	*e;

	if (!cJSON_IsObject(r)) {
		char	*v = clean(jtext(r), 1);

		printf("%s\n", v);
		free(v);
		return EXIT_OK;
	}
	cJSON_ArrayForEach(e, r) {
		char	*k = clean(xstrdup(e->string), 0);
		char	*v = clean(jtext(e), 1);

		printf("%s: %s\n", k, v);
		free(k);
		free(v);
	}
	return EXIT_OK;
}

/* -------------------------------------------------------------------- */
/* Help. */

static size_t
cmd_nargs(const struct ctl_cmd *c)
{
	size_t	n = 0;

	while (n < CTL_MAX_ARGS && c->args[n].name != NULL)
		n++;
	return n;
}

static size_t
cmd_nopts(const struct ctl_cmd *c)
{
	size_t	n = 0;

	while (n < CTL_MAX_OPTS && c->opts[n].flag != NULL)
		n++;
	return n;
}

/* "entity add CODE --name NAME [--email E]". Caller frees. */
static char *
cmd_synopsis(const struct ctl_cmd *c)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b);
	buf_adds(&b, c->name);
	for (i = 0; i < cmd_nargs(c); i++)
		buf_addf(&b, " %s", c->args[i].name);
	for (i = 0; i < cmd_nopts(c); i++) {
		const struct ctl_opt	*o = &c->opts[i];

		buf_adds(&b, o->required ? " " : " [");
		buf_addf(&b, "--%s", o->flag);
		if (o->type != CTL_BOOL)
			buf_addf(&b, " %s", o->metavar);
		if (!o->required)
			buf_adds(&b, "]");
	}
	return buf_take(&b);
}

static void
usage_all(FILE *f)
{
	fprintf(f, "usage: dsrctl [--socket PATH] [--json] COMMAND [ARGS]\n"
	    "\nCommands:\n");
	for (size_t i = 0; i < nitems(cmds); i++) {
		char	*s = cmd_synopsis(&cmds[i]);
		int	 w = (int)strlen(s);

		if (w + 2 < CTL_HELP_COL)
			fprintf(f, "  %s%*s%s\n", s, CTL_HELP_COL - w - 2, "",
			    cmds[i].summary);
		else
			fprintf(f, "  %s\n%*s%s\n", s, CTL_HELP_COL, "",
			    cmds[i].summary);
		free(s);
	}
	fprintf(f, "  %-*s%s\n", CTL_HELP_COL - 2, "help [COMMAND]",
	    "this list, or one command's usage");
	fprintf(f, "\nOptions (before or after the command):\n"
	    "  --socket PATH  dsrd's socket; else $DSRD_SOCKET, else %s\n"
	    "  --json         print one JSON document: the result, or "
	    "{\"error\": {...}}\n"
	    "  --version      print the version\n"
	    "  --help         print this help\n"
	    "Options take their value as --opt VALUE or --opt=VALUE.\n"
	    "$DSRCTL_TIMEOUT: seconds to wait for dsrd (default %d).\n"
	    "\nExit status: 0 done, 1 not found, 64 usage error, 65 invalid "
	    "input or action\nnot allowed now, 69 dsrd or its database "
	    "unavailable, 77 permission denied.\n",
	    PROTO_DEFAULT_SOCKET, CTL_TIMEOUT_S);
}

static void
usage_cmd(FILE *f, const struct ctl_cmd *c, int full)
{
	char	*s = cmd_synopsis(c);

	fprintf(f, "usage: dsrctl [--socket PATH] [--json] %s\n", s);
	if (full)
		fprintf(f, "%s (method %s)\n", c->summary, c->method);
	free(s);
}

/* -------------------------------------------------------------------- */
/* The command line. */

/*
 * Finds the command named by the words at argv[0..argc). Returns it and the
 * number of words it took, or NULL and why. Two-word names are tried first.
 */
static const struct ctl_cmd *
cmd_find(int argc, char **argv, int *nwords, char **cause)
{
	const char	*group = NULL;
	struct buf	 b;
	size_t		 i, len;

	for (i = 0; i < nitems(cmds); i++) {
		const char	*sp = strchr(cmds[i].name, ' ');

		if (sp == NULL) {
			if (strcmp(cmds[i].name, argv[0]) == 0) {
				*nwords = 1;
				return &cmds[i];
			}
			continue;
		}
		len = (size_t)(sp - cmds[i].name);
		if (strncmp(cmds[i].name, argv[0], len) != 0 ||
		    argv[0][len] != '\0')
			continue;
		group = cmds[i].name;
		if (argc > 1 && strcmp(sp + 1, argv[1]) == 0) {
			*nwords = 2;
			return &cmds[i];
		}
	}
	if (group == NULL) {
		char	*w = clean(xstrdup(argv[0]), 0);

		*cause = xasprintf("unknown command '%s'", w);
		free(w);
		return NULL;
	}
	/* Name the subcommands the group has. */
	buf_init(&b);
	len = (size_t)(strchr(group, ' ') - group);
	for (i = 0; i < nitems(cmds); i++) {
		if (strncmp(cmds[i].name, group, len + 1) != 0)
			continue;
		buf_addf(&b, "%s%s", b.len ? ", " : "", cmds[i].name);
	}
	if (argc > 1) {
		char	*w = clean(xstrdup(argv[1]), 0);

		*cause = xasprintf("unknown command '%.*s %s' (there are: %s)",
		    (int)len, group, w, b.data);
		free(w);
	} else
		*cause = xasprintf("missing subcommand after '%.*s' "
		    "(there are: %s)", (int)len, group, b.data);
	buf_free(&b);
	return NULL;
}

/*
 * The global options, valid before and after the command. Returns 1 if
 * argv[*i] was one (and consumed it and its value), 0 if not, -1 on error.
 */
static int
parse_global(struct ctl *ctl, int argc, char **argv, int *i, char **cause)
{
	const char	*a = argv[*i];

	if (strcmp(a, "--json") == 0)
		ctl->json = 1;
	else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
		ctl->help = 1;
	else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0)
		ctl->version = 1;
	else if (strncmp(a, "--socket=", 9) == 0)
		ctl->socket = a + 9;
	else if (strcmp(a, "--socket") == 0) {
		if (*i + 1 >= argc) {
			*cause = xstrdup("option --socket needs a value");
			return -1;
		}
		ctl->socket = argv[++*i];
	} else
		return 0;
	return 1;
}

/* One option of the command at argv[*i]. Returns 1, 0 (not one), -1. */
static int
parse_opt(struct ctl *ctl, int argc, char **argv, int *i, char **cause)
{
	const struct ctl_cmd	*c = ctl->cmd;
	const char		*a = argv[*i] + 2, *eq = strchr(a, '=');
	size_t			 len = eq ? (size_t)(eq - a) : strlen(a);
	const char		*val;
	long long		 n;

	for (size_t k = 0; k < cmd_nopts(c); k++) {
		const struct ctl_opt	*o = &c->opts[k];

		if (strlen(o->flag) != len || strncmp(o->flag, a, len) != 0)
			continue;
		if (o->type == CTL_BOOL) {
			if (eq != NULL) {
				*cause = xasprintf("option --%s takes no "
				    "value", o->flag);
				return -1;
			}
			ctl->opts[k] = "";
			return 1;
		}
		if (eq != NULL)
			val = eq + 1;
		else if (*i + 1 < argc)
			val = argv[++*i];
		else {
			*cause = xasprintf("option --%s needs a value",
			    o->flag);
			return -1;
		}
		if (o->type == CTL_INT &&
		    parse_int(val, LLONG_MIN, LLONG_MAX, &n) == -1) {
			char	*w = clean(xstrdup(val), 0);

			*cause = xasprintf("option --%s: '%s' is not an "
			    "integer", o->flag, w);
			free(w);
			return -1;
		}
		ctl->opts[k] = val;
		return 1;
	}
	return 0;
}

static int
parse_arg(struct ctl *ctl, const char *a, char **cause)
{
	const struct ctl_arg	*d;
	long long		 n;
	char			*w;

	if (ctl->nargs >= cmd_nargs(ctl->cmd)) {
		w = clean(xstrdup(a), 0);
		*cause = xasprintf("unexpected argument '%s'", w);
		free(w);
		return -1;
	}
	d = &ctl->cmd->args[ctl->nargs];
	if (d->type == CTL_INT &&
	    parse_int(a, LLONG_MIN, LLONG_MAX, &n) == -1) {
		w = clean(xstrdup(a), 0);
		*cause = xasprintf("%s: '%s' is not an integer", d->name, w);
		free(w);
		return -1;
	}
	ctl->args[ctl->nargs++] = a;
	return 0;
}

/* Fills ctl from argv. Returns 0, or -1 and why (a usage error). */
static int
ctl_parse(struct ctl *ctl, int argc, char **argv, char **cause)
{
	int	 i = 1, nwords, dashdash = 0, rc;
	size_t	 k;

	memset(ctl, 0, sizeof *ctl);
	for (; i < argc; i++) {
		const char	*a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		if ((rc = parse_global(ctl, argc, argv, &i, cause)) == -1)
			return -1;
		if (rc == 0) {
			char	*w = clean(xstrdup(a), 0);

			*cause = xasprintf("unknown option '%s'", w);
			free(w);
			return -1;
		}
	}
	if (i >= argc) {
		if (ctl->help || ctl->version)
			return 0;
		*cause = xstrdup("no command given");
		return -1;
	}
	if (strcmp(argv[i], "help") == 0) {
		ctl->help = 1;
		if (++i >= argc)
			return 0;
	}
	if ((ctl->cmd = cmd_find(argc - i, argv + i, &nwords, cause)) == NULL)
		return -1;
	for (i += nwords; i < argc; i++) {
		const char	*a = argv[i];

		/* "-5" is a (bad) ID for dsrd to refuse, not an option. */
		if (dashdash || a[0] != '-' || a[1] == '\0' ||
		    (a[1] >= '0' && a[1] <= '9')) {
			if (parse_arg(ctl, a, cause) == -1)
				return -1;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = 1;
			continue;
		}
		/* The command's own options shadow the global ones. */
		rc = a[1] == '-' ? parse_opt(ctl, argc, argv, &i, cause) : 0;
		if (rc == 0)
			rc = parse_global(ctl, argc, argv, &i, cause);
		if (rc == -1)
			return -1;
		if (rc == 0) {
			char	*w = clean(xstrdup(a), 0);

			*cause = xasprintf("unknown option '%s' for '%s'", w,
			    ctl->cmd->name);
			free(w);
			return -1;
		}
	}
	if (ctl->help)
		return 0;
	if (ctl->nargs < cmd_nargs(ctl->cmd)) {
		*cause = xasprintf("missing argument %s",
		    ctl->cmd->args[ctl->nargs].name);
		return -1;
	}
	for (k = 0; k < cmd_nopts(ctl->cmd); k++) {
		if (ctl->cmd->opts[k].required && ctl->opts[k] == NULL) {
			*cause = xasprintf("missing required option --%s",
			    ctl->cmd->opts[k].flag);
			return -1;
		}
	}
	return 0;
}

/* "a, b,,c" as ["a", "b", "c"]: items trimmed, empty ones dropped. */
static cJSON *
list_value(const char *s)
{
	cJSON		*a = cJSON_CreateArray();
	const char	*p = s, *comma;

	for (;;) {
		char	*item;

		comma = strchr(p, ',');
		item = comma != NULL ? xstrndup(p, (size_t)(comma - p)) :
		    xstrdup(p);
		if (*str_trim(item) != '\0')
			cJSON_AddItemToArray(a, cJSON_CreateString(
			    str_trim(item)));
		free(item);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return a;
}

/* A value from the command line as JSON; its syntax was checked. */
static cJSON *
param_value(enum ctl_type type, const char *s)
{
	long long	 n;
	char		 num[32];

	switch (type) {
	case CTL_INT:
		/* Raw, so that a large integer is not rounded to a double. */
		if (parse_int(s, LLONG_MIN, LLONG_MAX, &n) == -1)
			n = 0;
		snprintf(num, sizeof num, "%lld", n);
		return cJSON_CreateRaw(num);
	case CTL_BOOL:
		return cJSON_CreateTrue();
	case CTL_STRING:
	case CTL_DATE:
		return cJSON_CreateString(s);
	case CTL_LIST:
		return list_value(s);
	}
	return cJSON_CreateNull();
}

/* The request line, without its LF. Caller frees. */
static char *
ctl_request(const struct ctl *ctl)
{
	const struct ctl_cmd	*c = ctl->cmd;
	cJSON			*req, *params;
	char			*p, *line;
	size_t			 k;

	if ((req = cJSON_CreateObject()) == NULL ||
	    (params = cJSON_CreateObject()) == NULL) {
		fputs("dsrctl: out of memory\n", stderr);
		abort();
	}
	cJSON_AddStringToObject(req, "jsonrpc", PROTO_VERSION);
	cJSON_AddNumberToObject(req, "id", 1);
	cJSON_AddStringToObject(req, "method", c->method);
	for (k = 0; k < ctl->nargs; k++)
		cJSON_AddItemToObject(params, c->args[k].param,
		    param_value(c->args[k].type, ctl->args[k]));
	for (k = 0; k < cmd_nopts(c); k++) {
		if (ctl->opts[k] != NULL)
			cJSON_AddItemToObject(params, c->opts[k].param,
			    param_value(c->opts[k].type, ctl->opts[k]));
	}
	if (cJSON_GetArraySize(params) > 0)
		cJSON_AddItemToObject(req, "params", params);
	else
		cJSON_Delete(params);
	if ((p = cJSON_PrintUnformatted(req)) == NULL) {
		fputs("dsrctl: out of memory\n", stderr);
		abort();
	}
	line = xstrdup(p);
	cJSON_free(p);
	cJSON_Delete(req);
	return line;
}

/* -------------------------------------------------------------------- */
/* The socket. */

static int
ctl_timeout_ms(void)
{
	const char	*s = getenv("DSRCTL_TIMEOUT");
	long long	 n;

	if (s == NULL || parse_int(s, 1, 86400, &n) == -1)
		return CTL_TIMEOUT_S * 1000;
	return (int)n * 1000;
}

static int
ctl_connect(const char *path, int timeout_ms, int *code, char **cause)
{
	struct sockaddr_un	 sa;
	struct timeval		 tv;
	int			 fd, e;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		*code = E_USAGE;
		*cause = xasprintf("socket path too long: %s", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		*code = E_UNAVAILABLE;
		*cause = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	/* Bounds connect() when dsrd's backlog is full, and send(). */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = timeout_ms % 1000 * 1000;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	while (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		if (errno == EINTR)
			continue;
		e = errno;
		close(fd);
		if (e == EACCES || e == EPERM) {
			*code = E_PERMISSION;
			*cause = xasprintf("permission denied (cannot "
			    "connect to %s: %s)", path, strerror(e));
		} else if (e == EAGAIN || e == ETIMEDOUT) {
			*code = E_UNAVAILABLE;
			*cause = xasprintf("dsrd is busy (cannot connect to "
			    "%s: %s)", path, strerror(e));
		} else {
			*code = E_UNAVAILABLE;
			*cause = xasprintf("dsrd is not running (cannot "
			    "connect to %s: %s)", path, strerror(e));
		}
		return -1;
	}
	return fd;
}

/*
 * One connection to dsrd for one or more requests in turn (an import sends
 * its batches on one, so that dsrd sees one client). Each exchange sends a
 * line and reads the one answer line; bytes read past it stay in `in`.
 */
struct ctl_link {
	int		 fd;
	int		 timeout;	/* ms, for each exchange */
	struct buf	 in;
	long long	 next_id;
};

static int
ctl_open(struct ctl_link *l, const char *path, int *code, char **cause)
{
	memset(l, 0, sizeof *l);
	l->timeout = ctl_timeout_ms();
	l->next_id = 1;
	buf_init(&l->in);
	if ((l->fd = ctl_connect(path, l->timeout, code, cause)) == -1)
		return -1;
	return 0;
}

static void
ctl_close(struct ctl_link *l)
{
	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
	buf_free(&l->in);
}

/*
 * Sends line + LF. Returns 0, or -1 with the error code to report and why;
 * after a failure the link is good only for ctl_close.
 */
static int
ctl_send(struct ctl_link *l, const char *line, int *code, char **cause)
{
	size_t		 sent = 0, len = strlen(line);
	ssize_t		 n;
	struct iovec	 iov[2];

	while (sent < len + 1) {
		struct msghdr	mh = { 0 };

		/* line and its LF without copying a batch of a megabyte */
		iov[0].iov_base = (char *)line + (sent < len ? sent : len);
		iov[0].iov_len = sent < len ? len - sent : 0;
		iov[1].iov_base = (char *)"\n";
		iov[1].iov_len = 1;
		mh.msg_iov = iov;
		mh.msg_iovlen = 2;
		n = sendmsg(l->fd, &mh, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			break;	/* it may have said why before closing */
		if (n == -1) {
			*code = E_UNAVAILABLE;
			*cause = xasprintf("cannot send to dsrd: %s",
			    errno == EAGAIN ? "timed out" : strerror(errno));
			return -1;
		}
		sent += (size_t)n;
	}
	return 0;
}

/* Reads the next answer line into reply (LF dropped). As ctl_send. */
static int
ctl_recv(struct ctl_link *l, struct buf *reply, int *code, char **cause)
{
	long long	 deadline = mono_ms() + l->timeout;
	size_t		 scanned = 0, linelen;
	ssize_t		 n;
	char		 chunk[16384];

	for (;;) {
		struct pollfd	 pfd = { .fd = l->fd, .events = POLLIN };
		long long	 left = deadline - mono_ms();
		int		 rc;

		/* Scan only the new bytes: replies may be megabytes. */
		switch (l->in.len == scanned ? PROTO_FRAME_MORE :
		    proto_frame(l->in.data + scanned, l->in.len - scanned,
		    CTL_MAX_REPLY - scanned, &linelen)) {
		case PROTO_FRAME_LINE:
			buf_add(reply, l->in.data, scanned + linelen);
			buf_consume(&l->in, scanned + linelen + 1);
			return 0;
		case PROTO_FRAME_TOO_BIG:
			*code = E_UNAVAILABLE;
			*cause = xasprintf("answer from dsrd over %zu bytes",
			    CTL_MAX_REPLY);
			return -1;
		case PROTO_FRAME_MORE:
			scanned = l->in.len;
			break;
		}
		if (left <= 0 ||
		    (rc = poll(&pfd, 1, (int)left)) == 0) {
			*code = E_UNAVAILABLE;
			*cause = xasprintf("no answer from dsrd in %d s",
			    l->timeout / 1000);
			return -1;
		}
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			*code = E_UNAVAILABLE;
			*cause = xasprintf("poll: %s", strerror(errno));
			return -1;
		}
		n = read(l->fd, chunk, sizeof chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*code = E_UNAVAILABLE;
			*cause = n == 0 || errno == ECONNRESET ?
			    xstrdup("dsrd closed the connection without "
			    "answering") :
			    xasprintf("cannot read from dsrd: %s",
			    strerror(errno));
			return -1;
		}
		buf_add(&l->in, chunk, (size_t)n);
	}
}

/* One request and its answer. As ctl_send. */
static int
ctl_exchange(struct ctl_link *l, const char *line, struct buf *reply,
    int *code, char **cause)
{
	if (ctl_send(l, line, code, cause) == -1)
		return -1;
	return ctl_recv(l, reply, code, cause);
}

/* One request on a connection of its own. */
static int
ctl_call(const char *path, const char *line, struct buf *reply, int *code,
    char **cause)
{
	struct ctl_link	l;
	int		rc;

	if (ctl_open(&l, path, code, cause) == -1) {
		buf_free(&l.in);
		return -1;
	}
	rc = ctl_exchange(&l, line, reply, code, cause);
	ctl_close(&l);
	return rc;
}

/* -------------------------------------------------------------------- */
/* Output. */

/* Prints one JSON value and a LF on stdout; takes v. */
static void
json_out(cJSON *v)
{
	char	*p = cJSON_Print(v);

	if (p == NULL) {
		fputs("dsrctl: out of memory\n", stderr);
		abort();
	}
	printf("%s\n", p);
	cJSON_free(p);
	cJSON_Delete(v);
}

/* Reports a failure of our own making; returns the exit code. */
static int
ctl_fail(int json, int code, const char *msg)
{
	cJSON	*doc, *err;
	char	*m;

	if (json) {
		doc = cJSON_CreateObject();
		err = cJSON_AddObjectToObject(doc, "error");
		cJSON_AddNumberToObject(err, "code", code);
		cJSON_AddStringToObject(err, "message", msg);
		json_out(doc);
	} else {
		m = clean(xstrdup(msg), 0);
		fprintf(stderr, "dsrctl: %s\n", m);
		free(m);
	}
	return proto_exit_code(code);
}

/* Under --json, are we asked for JSON even if parsing stopped early? */
static int
argv_wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return 1;
	return 0;
}

/*
 * Splits dsrd's answer line: 0 and *res (the caller owns it), or -1 and
 * *err, dsrd's error object or one made here for a malformed answer.
 */
static int
rpc_split(const struct buf *reply, cJSON **res, cJSON **err)
{
	cJSON	*resp;

	*res = *err = NULL;
	resp = cJSON_ParseWithLength(reply->data, reply->len);
	if (cJSON_IsObject(resp)) {
		if (jget(resp, "error") != NULL)
			*err = cJSON_DetachItemFromObjectCaseSensitive(resp,
			    "error");
		else if (jget(resp, "result") != NULL)
			*res = cJSON_DetachItemFromObjectCaseSensitive(resp,
			    "result");
	}
	if (*err == NULL && *res == NULL) {
		*err = cJSON_CreateObject();
		cJSON_AddNumberToObject(*err, "code", E_UNAVAILABLE);
		cJSON_AddStringToObject(*err, "message", cJSON_IsObject(resp) ?
		    "malformed answer from dsrd (neither result nor error)" :
		    "malformed answer from dsrd (not a JSON object)");
	}
	cJSON_Delete(resp);
	return *res != NULL ? 0 : -1;
}

/* Reports dsrd's error object (taken); returns the exit code. */
static int
print_error(int json, cJSON *err)
{
	const cJSON	*code = jget(err, "code"), *msg = jget(err, "message");
	cJSON		*doc;
	int		 c;
	char		*m;

	c = cJSON_IsNumber(code) ? (int)code->valuedouble : E_INTERNAL;
	if (json) {
		doc = cJSON_CreateObject();
		cJSON_AddItemToObject(doc, "error", err);
		json_out(doc);
	} else {
		m = clean(xstrdup(cJSON_IsString(msg) ?
		    msg->valuestring : proto_error_name(c)), 0);
		fprintf(stderr, "dsrctl: %s\n", m);
		free(m);
		cJSON_Delete(err);
	}
	return proto_exit_code(c);
}

/* Prints dsrd's answer; returns the exit code. */
static int
ctl_answer(const struct ctl *ctl, const struct buf *reply)
{
	cJSON	*res, *err;
	int	 rc;

	if (rpc_split(reply, &res, &err) == -1)
		return print_error(ctl->json, err);
	if (ctl->json) {
		json_out(res);
		return EXIT_OK;
	}
	rc = ctl->cmd->print != NULL ? ctl->cmd->print(res) :
	    print_generic(res);
	cJSON_Delete(res);
	return rc;
}

/* -------------------------------------------------------------------- */
/* ropa import: the register is read and split here, sent in batches. */

#define ROPA_MAX_FILE		((size_t)64 * 1024 * 1024)
#define ROPA_BATCH_ROWS		2000
/* Room left in a message for the envelope and the source. */
#define ROPA_BATCH_BYTES	((size_t)PROTO_MAX_MESSAGE - 16384)
/* Files at least this large show progress on a terminal. */
#define ROPA_PROGRESS_BYTES	((size_t)256 * 1024)
/* Added, changed, removed activities listed for people (--json: all). */
#define ROPA_REPORT_MAX		100
/* Lines listed for a person not found (--json: all). */
#define ROPA_LINES_MAX		8

/* The value of one of the command's options, by flag, or NULL. */
static const char *
ctl_optval(const struct ctl *ctl, const char *flag)
{
	for (size_t k = 0; k < cmd_nopts(ctl->cmd); k++)
		if (strcmp(ctl->cmd->opts[k].flag, flag) == 0)
			return ctl->opts[k];
	return NULL;
}

/*
 * A name as the directory lookup compares it: ASCII and Latin-1 letters
 * lower-cased without their accents, white space runs one space, trimmed.
 * ropa_name_distance() folds the same way and more; it decides when this
 * does not find a name. Caller frees.
 */
static char *
name_fold(const char *s)
{
	/* U+00C0-U+00FF; '*' keeps the letter as it is */
	static const char latin1[] = "aaaaaaaceeeeiiiidnooooo*ouuuuy**"
	    "aaaaaaaceeeeiiiidnooooo*ouuuuy*y";
	const unsigned char	*p = (const unsigned char *)s;
	struct buf		 b;
	int			 space = 0;

	buf_init(&b);
	buf_add(&b, "", 0);
	for (; *p != '\0'; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
			space = b.len > 0;
			continue;
		}
		if (space)
			buf_add(&b, " ", 1);
		space = 0;
		if (*p < 0x80) {
			char	c = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);

			buf_add(&b, &c, 1);
		} else if (*p == 0xc3 && p[1] >= 0x80 && p[1] <= 0xbf &&
		    latin1[p[1] - 0x80] != '*') {
			buf_add(&b, &latin1[p[1] - 0x80], 1);
			p++;
		} else
			buf_add(&b, p, 1);
	}
	return buf_take(&b);
}

/* A person of the people cells, as the lookup resolved them. */
struct person {
	char	*key;		/* name_fold() */
	char	*name;		/* the directory's spelling, else the cell's */
	long	 dir;		/* index in the directory, or -1 */
	long	 best;		/* the nearest directory name, or -1 */
	int	 dist;
};

/* Where a person not in the directory was named. */
struct miss {
	size_t	 person;
	int	 field;		/* ROPA_F_MANAGERS or ROPA_F_STAFF */
	size_t	 line;
};

/* The staff directory and every person seen, by folded name. */
struct people {
	const char	**dir;		/* the directory's names */
	size_t		  ndir;
	struct person	 *v;
	size_t		  n, cap;
	size_t		 *slot;		/* open addressing: index + 1 */
	size_t		  nslot;
	struct miss	 *miss;
	size_t		  nmiss, capmiss;
};

static uint64_t
fnv1a(const char *s)
{
	uint64_t	h = 14695981039346656037ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* The slot of key: its person's, or the empty one it would take. The
   table must have slots (people_add makes them). */
static size_t *
people_slot(struct people *pp, const char *key)
{
	size_t	i = (size_t)fnv1a(key) & (pp->nslot - 1);

	while (pp->slot[i] != 0 && strcmp(pp->v[pp->slot[i] - 1].key,
	    key) != 0)
		i = (i + 1) & (pp->nslot - 1);
	return &pp->slot[i];
}

/* Adds a person (takes key and name); returns its index. */
static size_t
people_add(struct people *pp, char *key, char *name, long dir)
{
	size_t	i;

	if ((pp->n + 1) * 2 > pp->nslot) {
		free(pp->slot);
		pp->nslot = pp->nslot ? pp->nslot * 2 : 256;
		pp->slot = xcalloc(pp->nslot, sizeof *pp->slot);
		for (i = 0; i < pp->n; i++)
			*people_slot(pp, pp->v[i].key) = i + 1;
	}
	if (pp->n == pp->cap) {
		pp->cap = pp->cap ? pp->cap * 2 : 64;
		pp->v = xreallocarray(pp->v, pp->cap, sizeof *pp->v);
	}
	pp->v[pp->n] = (struct person){ key, name, dir, -1, 0 };
	*people_slot(pp, key) = pp->n + 1;
	return pp->n++;
}

/* The person of a name from a cell: found, or resolved once. */
static const struct person *
people_find(struct people *pp, const char *name, int field, size_t line)
{
	char		*key = name_fold(name);
	size_t		*sl = pp->nslot > 0 ? people_slot(pp, key) : NULL, i;
	struct person	*p;
	long		 best;
	int		 dist = 0;

	if (sl != NULL && *sl != 0) {
		free(key);
		i = *sl - 1;
	} else {
		best = ropa_best_match(name, pp->dir, pp->ndir, &dist);
		/* the folding of ropa.c knows more than name_fold */
		if (best >= 0 && dist == 0)
			i = people_add(pp, key, xstrdup(pp->dir[best]), best);
		else {
			i = people_add(pp, key, xstrdup(name), -1);
			pp->v[i].best = best;
			pp->v[i].dist = dist;
		}
	}
	p = &pp->v[i];
	if (p->dir < 0) {
		if (pp->nmiss == pp->capmiss) {
			pp->capmiss = pp->capmiss ? pp->capmiss * 2 : 64;
			pp->miss = xreallocarray(pp->miss, pp->capmiss,
			    sizeof *pp->miss);
		}
		pp->miss[pp->nmiss++] = (struct miss){ i, field, line };
	}
	return p;
}

static void
people_free(struct people *pp)
{
	for (size_t i = 0; i < pp->n; i++) {
		free(pp->v[i].key);
		free(pp->v[i].name);
	}
	free(pp->v);
	free(pp->slot);
	free(pp->miss);
	for (size_t i = 0; i < pp->ndir; i++)
		free((char *)pp->dir[i]);
	free(pp->dir);
}

/* The directory from staff.list's answer. */
static void
people_init(struct people *pp, const cJSON *staff)
{
	const cJSON	*e, *name;
	char		*key;

	memset(pp, 0, sizeof *pp);
	pp->dir = xcalloc((size_t)cJSON_GetArraySize(staff) + 1,
	    sizeof *pp->dir);
	cJSON_ArrayForEach(e, staff) {
		name = jget(e, "name");
		if (!cJSON_IsString(name))
			continue;
		pp->dir[pp->ndir] = xstrdup(name->valuestring);
		key = name_fold(name->valuestring);
		/* two spellings of one name: the first is the directory's */
		if (pp->nslot == 0 || *people_slot(pp, key) == 0)
			people_add(pp, key, xstrdup(name->valuestring),
			    (long)pp->ndir);
		else
			free(key);
		pp->ndir++;
	}
}

/* A software cell: only explicit separators (names have spaces). */
static void
split_plain(const char *cell, struct ropa_list *l)
{
	const char	*p = cell;
	size_t		 n;

	memset(l, 0, sizeof *l);
	while (*p != '\0') {
		char	*item;

		n = strcspn(p, ";,\n");
		item = xstrndup(p, n);
		if (*str_trim(item) != '\0') {
			l->v = xreallocarray(l->v, l->n + 1, sizeof *l->v);
			l->v[l->n++] = xstrdup(str_trim(item));
		}
		free(item);
		p += n;
		if (*p != '\0')
			p++;
	}
}

/*
 * The splits already made, by splitter and cell: a register repeats its
 * cells (categories, processors, people) from row to row, and a split is
 * the same every time.
 */
struct memo_ent {
	char			*key;	/* the splitter's letter, the cell */
	struct ropa_list	 l;
};
struct memo {
	struct memo_ent	*v;
	size_t		 n, cap;
	size_t		*slot;		/* open addressing: index + 1 */
	size_t		 nslot;
};

static size_t *
memo_slot(struct memo *m, const char *key)
{
	size_t	i = (size_t)fnv1a(key) & (m->nslot - 1);

	while (m->slot[i] != 0 && strcmp(m->v[m->slot[i] - 1].key, key) != 0)
		i = (i + 1) & (m->nslot - 1);
	return &m->slot[i];
}

/* The split of a cell by splitter kind ('p' people, 'o' organisations,
   's' software, 'd', 'u', 'r' categories); the memo owns it. */
static const struct ropa_list *
memo_split(struct memo *m, char kind, const char *cell,
    const struct people *pp)
{
	char		*key = xasprintf("%c%s", kind, cell);
	size_t		*sl, i;
	struct ropa_list l;

	if (m->nslot > 0 && *(sl = memo_slot(m, key)) != 0) {
		free(key);
		return &m->v[*sl - 1].l;
	}
	switch (kind) {
	case 'p':
		ropa_split_people_known(cell, pp->dir, pp->ndir, &l);
		break;
	case 'o':
		ropa_split_processors(cell, NULL, 0, &l);
		break;
	case 's':
		split_plain(cell, &l);
		break;
	default:
		ropa_split_categories(cell, kind == 'd' ? ROPA_CAT_DATA :
		    kind == 'u' ? ROPA_CAT_SUBJECTS : ROPA_CAT_RECIPIENTS, &l);
		break;
	}
	if ((m->n + 1) * 2 > m->nslot) {
		free(m->slot);
		m->nslot = m->nslot ? m->nslot * 2 : 1024;
		m->slot = xcalloc(m->nslot, sizeof *m->slot);
		for (i = 0; i < m->n; i++)
			*memo_slot(m, m->v[i].key) = i + 1;
	}
	if (m->n == m->cap) {
		m->cap = m->cap ? m->cap * 2 : 256;
		m->v = xreallocarray(m->v, m->cap, sizeof *m->v);
	}
	m->v[m->n].key = key;
	m->v[m->n].l = l;
	*memo_slot(m, key) = m->n + 1;
	return &m->v[m->n++].l;
}

static void
memo_free(struct memo *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->v[i].key);
		ropa_list_free(&m->v[i].l);
	}
	free(m->v);
	free(m->slot);
}

static void
add_list(cJSON *o, const char *key, const struct ropa_list *l)
{
	cJSON	*a = cJSON_AddArrayToObject(o, key);

	for (size_t i = 0; i < l->n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(l->v[i]));
}

static void
add_people(cJSON *o, const char *key, const struct ropa_activity *a,
    int field, struct people *pp, struct memo *m)
{
	const struct ropa_list	*l = memo_split(m, 'p', a->f[field], pp);
	cJSON			*arr = cJSON_AddArrayToObject(o, key);

	for (size_t i = 0; i < l->n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(
		    people_find(pp, l->v[i], field, a->line)->name));
}

static void
add_text(cJSON *o, const char *key, const char *v)
{
	if (v != NULL && *v != '\0')
		cJSON_AddStringToObject(o, key, v);
}

static void
add_yn(cJSON *o, const char *key, enum ropa_yn v)
{
	if (v == ROPA_YES)
		cJSON_AddTrueToObject(o, key);
	else if (v == ROPA_NO)
		cJSON_AddFalseToObject(o, key);
	else
		cJSON_AddNullToObject(o, key);
}

/* One activity as ropa.import takes it. Caller frees the text. */
static char *
activity_text(const struct ropa_activity *a, struct people *pp,
    struct memo *m)
{
	cJSON			*o = cJSON_CreateObject();
	char			*p, *t;

	add_text(o, "name", a->f[ROPA_F_NAME]);
	add_text(o, "office", a->f[ROPA_F_OFFICE]);
	add_text(o, "purpose", a->f[ROPA_F_PURPOSE]);
	add_text(o, "joint_controller", a->f[ROPA_F_JOINT]);
	add_people(o, "managers", a, ROPA_F_MANAGERS, pp, m);
	add_people(o, "staff", a, ROPA_F_STAFF, pp, m);
	add_list(o, "processors", memo_split(m, 'o', a->f[ROPA_F_PROCESSORS],
	    pp));
	add_list(o, "independent_controllers", memo_split(m, 'o',
	    a->f[ROPA_F_INDEPENDENT], pp));
	add_list(o, "software", memo_split(m, 's', a->f[ROPA_F_SOFTWARE], pp));
	add_list(o, "data_categories", memo_split(m, 'd', a->f[ROPA_F_DATA],
	    pp));
	add_text(o, "retention", a->f[ROPA_F_RETENTION]);
	add_list(o, "subject_categories", memo_split(m, 'u',
	    a->f[ROPA_F_SUBJECTS], pp));
	add_list(o, "recipient_categories", memo_split(m, 'r',
	    a->f[ROPA_F_RECIPIENTS], pp));
	add_yn(o, "cloud", a->cloud);
	add_yn(o, "transfers", a->transfers);
	add_yn(o, "processor_for_others", a->for_others);
	add_text(o, "controller", a->f[ROPA_F_CONTROLLER]);
	add_text(o, "security_measures", a->f[ROPA_F_SECURITY]);
	cJSON_AddNumberToObject(o, "line", (double)a->line);
	if ((p = cJSON_PrintUnformatted(o)) == NULL) {
		fputs("dsrctl: out of memory\n", stderr);
		abort();
	}
	t = xstrdup(p);
	cJSON_free(p);
	cJSON_Delete(o);
	return t;
}

static int
miss_cmp(const void *x, const void *y)
{
	const struct miss	*a = x, *b = y;

	if (a->person != b->person)
		return a->person < b->person ? -1 : 1;
	if (a->field != b->field)
		return a->field < b->field ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

static int
report_cmp(const void *x, const void *y)
{
	const cJSON	*a = *(cJSON *const *)x, *b = *(cJSON *const *)y;
	long long	 la = jint(a, "line", 0), lb = jint(b, "line", 0);
	char		*fa = jtext(jget(a, "field")), *fb = jtext(jget(b, "field"));
	int		 c = la != lb ? (la < lb ? -1 : 1) : strcmp(fb, fa);

	free(fa);
	free(fb);
	return c;
}

/*
 * The people of the cells that match nobody in the directory, one entry
 * per name and column with every line it is on, in the order of their
 * first line: {"unknown": [...], "near_misses": [...]}.
 */
static cJSON *
people_report(struct people *pp)
{
	cJSON		*doc = cJSON_CreateObject(), **items = NULL, *it = NULL;
	cJSON		*unknown, *near, *lines = NULL;
	size_t		 i, n = 0;

	if (pp->nmiss > 0)
		qsort(pp->miss, pp->nmiss, sizeof *pp->miss, miss_cmp);
	for (i = 0; i < pp->nmiss; i++) {
		const struct miss	*m = &pp->miss[i];
		const struct person	*p = &pp->v[m->person];

		if (i == 0 || m->person != pp->miss[i - 1].person ||
		    m->field != pp->miss[i - 1].field) {
			it = cJSON_CreateObject();
			items = xreallocarray(items, n + 1, sizeof *items);
			items[n++] = it;
			cJSON_AddStringToObject(it, "name", p->name);
			cJSON_AddStringToObject(it, "column",
			    ropa_field_labels[m->field]);
			cJSON_AddStringToObject(it, "field", m->field ==
			    ROPA_F_MANAGERS ? "managers" : "staff");
			cJSON_AddNumberToObject(it, "line", (double)m->line);
			if (p->best >= 0 && p->dist > 0 &&
			    p->dist <= ropa_near_miss_limit(p->name)) {
				cJSON_AddStringToObject(it, "suggestion",
				    pp->dir[p->best]);
				cJSON_AddNumberToObject(it, "distance",
				    p->dist);
			}
			lines = cJSON_AddArrayToObject(it, "lines");
		}
		/* a name twice in one cell is one line */
		if (cJSON_GetArraySize(lines) == 0 ||
		    pp->miss[i - 1].line != m->line)
			cJSON_AddItemToArray(lines,
			    cJSON_CreateNumber((double)m->line));
	}
	if (n > 0)
		qsort(items, n, sizeof *items, report_cmp);
	unknown = cJSON_AddArrayToObject(doc, "unknown");
	near = cJSON_AddArrayToObject(doc, "near_misses");
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(jget(items[i], "suggestion") != NULL ?
		    near : unknown, items[i]);
	free(items);
	return doc;
}

/* Progress on the terminal (never stdout). */
struct progress {
	int		 on;
	const char	*what;
	int		 last;
};

static void
progress_show(struct progress *pr, size_t done, size_t total)
{
	int	pct = total > 0 ? (int)(done * 100 / total) : 100;

	if (!pr->on || pct == pr->last)
		return;
	pr->last = pct;
	fprintf(stderr, "\rdsrctl: %s %3d%%", pr->what, pct);
	if (done >= total)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

static void
parse_progress(size_t done, size_t total, void *arg)
{
	progress_show(arg, done, total);
}

/* Reads a whole file of at most ROPA_MAX_FILE bytes; -1 and why. */
static int
read_file(const char *path, struct buf *out, char **cause)
{
	struct stat	 st;
	char		 chunk[65536];
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		*cause = xasprintf("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || S_ISDIR(st.st_mode)) {
		*cause = xasprintf("cannot read %s: %s", path,
		    S_ISDIR(st.st_mode) ? "is a directory" : strerror(errno));
		close(fd);
		return -1;
	}
	for (;;) {
		n = read(fd, chunk, sizeof chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			*cause = xasprintf("cannot read %s: %s", path,
			    strerror(errno));
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > ROPA_MAX_FILE) {
			*cause = xasprintf("%s is larger than %zu MiB: not a "
			    "register of processing activities", path,
			    ROPA_MAX_FILE >> 20);
			close(fd);
			return -1;
		}
		buf_add(out, chunk, (size_t)n);
	}
	close(fd);
	return 0;
}

/* An error object of our own making. */
static cJSON *
error_obj(int code, const char *msg)
{
	cJSON	*e = cJSON_CreateObject();

	cJSON_AddNumberToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	return e;
}

/* The line of one ropa.import message (heap), or NULL when too large. */
static char *
import_line(struct ctl_link *l, const char *entity, const char *token,
    const struct buf *acts, int final, int dry_run, const cJSON *source)
{
	cJSON	*req = cJSON_CreateObject(), *params;
	char	*p, *line;

	cJSON_AddStringToObject(req, "jsonrpc", PROTO_VERSION);
	cJSON_AddNumberToObject(req, "id", (double)l->next_id++);
	cJSON_AddStringToObject(req, "method", "ropa.import");
	params = cJSON_AddObjectToObject(req, "params");
	cJSON_AddStringToObject(params, "entity", entity);
	if (token != NULL)
		cJSON_AddStringToObject(params, "token", token);
	if (acts->len > 0)
		cJSON_AddRawToObject(params, "activities", acts->data);
	if (final) {
		cJSON_AddTrueToObject(params, "final");
		if (dry_run)
			cJSON_AddTrueToObject(params, "dry_run");
		cJSON_AddItemToObject(params, "source",
		    cJSON_Duplicate(source, 1));
	}
	if ((p = cJSON_PrintUnformatted(req)) == NULL) {
		fputs("dsrctl: out of memory\n", stderr);
		abort();
	}
	cJSON_Delete(req);
	line = strlen(p) <= PROTO_MAX_MESSAGE ? xstrdup(p) : NULL;
	cJSON_free(p);
	return line;
}

/* Sends a message; 0, or -1 and *err. */
static int
import_send(struct ctl_link *l, char *line, cJSON **err)
{
	char	*cause = NULL;
	int	 code;

	if (line == NULL) {
		*err = error_obj(E_TOO_LARGE, "an activity of the register is "
		    "larger than a message of dsrd (1 MiB)");
		return -1;
	}
	if (ctl_send(l, line, &code, &cause) == -1) {
		*err = error_obj(code, cause);
		free(cause);
		free(line);
		return -1;
	}
	free(line);
	return 0;
}

/* The answer to the message sent last; 0 and *res, or -1 and *err. */
static int
import_recv(struct ctl_link *l, cJSON **res, cJSON **err)
{
	struct buf	 reply;
	char		*cause = NULL;
	int		 code, rc;

	*res = *err = NULL;
	buf_init(&reply);
	if (ctl_recv(l, &reply, &code, &cause) == -1) {
		*err = error_obj(code, cause);
		free(cause);
		buf_free(&reply);
		return -1;
	}
	rc = rpc_split(&reply, res, err);
	buf_free(&reply);
	return rc;
}

static const char *
delimiter_name(char d)
{
	return d == '\t' ? "tab" : d == ';' ? ";" : ",";
}

/* "Name (Office)" or "Name". Caller frees. */
static char *
name_office(const cJSON *o)
{
	char	*n = jcell(o, "name"), *of = jcell(o, "office"), *s;

	s = strcmp(of, "-") != 0 ? xasprintf("%s (%s)", n, of) : xstrdup(n);
	free(n);
	free(of);
	return s;
}

static void
print_import_list(const cJSON *r, const char *key, const char *verb)
{
	const cJSON	*e;
	int		 n = 0, total = cJSON_GetArraySize(jget(r, key));

	cJSON_ArrayForEach(e, jget(r, key)) {
		char	*what, *line;

		if (n++ == ROPA_REPORT_MAX) {
			printf("  ... and %d more %s (--json lists them "
			    "all)\n", total - ROPA_REPORT_MAX, verb);
			break;
		}
		what = name_office(e);
		line = jcell(e, "line");
		printf("  %-8s id %-6lld line %-5s %s", verb, jint(e, "id", 0),
		    line, what);
		if (cJSON_IsArray(jget(e, "fields"))) {
			char	*f = jtext(jget(e, "fields"));

			printf(": %s", clean(f, 0));
			free(f);
		}
		putchar('\n');
		free(what);
		free(line);
	}
}

static void
print_people(const cJSON *list, int near)
{
	const cJSON	*e, *ln;

	cJSON_ArrayForEach(e, list) {
		char	*name = jcell(e, "name"), *col = jcell(e, "column");
		int	 n = cJSON_GetArraySize(jget(e, "lines")), k = 0;

		printf("  line %lld, %s: \"%s\" is not in the staff directory",
		    jint(e, "line", 0), col, name);
		if (near) {
			char	*sug = jcell(e, "suggestion");

			printf("; did you mean \"%s\"?", sug);
			free(sug);
		}
		if (n > 1) {
			printf(" (also on line%s", n > 2 ? "s" : "");
			cJSON_ArrayForEach(ln, jget(e, "lines")) {
				if (k++ == 0)
					continue;
				if (k > ROPA_LINES_MAX + 1) {
					printf(" and %d more", n - k + 1);
					break;
				}
				printf("%s %lld", k > 2 ? "," : "",
				    (long long)ln->valuedouble);
			}
			putchar(')');
		}
		putchar('\n');
		free(name);
		free(col);
	}
}

/* What was read and what dsrd did, for people. */
static void
print_import(const char *file, const struct ropa *r, const cJSON *people,
    size_t ndir, const char *entity, const cJSON *res)
{
	const cJSON	*un = jget(people, "unknown");
	const cJSON	*near = jget(people, "near_misses");
	size_t		 i;
	int		 nun = cJSON_GetArraySize(un);
	int		 nnear = cJSON_GetArraySize(near);
	char		*f = clean(xstrdup(file), 0);

	printf("Register %s: %s, %s-separated, %s line ends\n", f,
	    ropa_encoding_names[r->encoding], delimiter_name(r->delimiter),
	    ropa_eol_names[r->eol]);
	free(f);
	printf("  %zu lines, header at line %zu, %zu activities, %zu "
	    "row%s not imported, %zu realigned, %zu blank\n", r->lines,
	    r->header_line, r->nact, r->dropped, r->dropped == 1 ? "" : "s",
	    r->realigned, r->blank);
	if (r->nanom > 0)
		printf("Anomalies (%zu):\n", r->nanom);
	for (i = 0; i < r->nanom; i++)
		printf("  line %-5zu %-16s %s\n", r->anom[i].line,
		    ropa_anomaly_names[r->anom[i].kind], r->anom[i].detail);
	if (ndir == 0 && nun + nnear > 0)
		printf("The staff directory of %s is empty: add its people "
		    "with dsrctl staff add, then import again.\n", entity);
	if (nun + nnear > 0) {
		printf("People not in the staff directory (%d):\n",
		    nun + nnear);
		print_people(near, 1);
		print_people(un, 0);
	}
	printf("%s %s: %lld activities%s: %d added, %d changed, %d removed, "
	    "%lld unchanged\n", cJSON_IsTrue(jget(res, "dry_run")) ?
	    "Dry run of the import into" : "Imported into", entity,
	    jint(res, "activities", 0), cJSON_IsTrue(jget(res, "dry_run")) ?
	    " (nothing was changed)" : "",
	    cJSON_GetArraySize(jget(res, "added")),
	    cJSON_GetArraySize(jget(res, "changed")),
	    cJSON_GetArraySize(jget(res, "removed")),
	    jint(res, "unchanged", 0));
	print_import_list(res, "added", "added");
	print_import_list(res, "changed", "changed");
	print_import_list(res, "removed", "removed");
}

/* The one JSON document of an import. Takes people and res. */
static cJSON *
import_doc(const char *file, const struct ropa *r, cJSON *people,
    cJSON *res)
{
	cJSON	*doc = cJSON_CreateObject(), *a, *o;
	char	 d[2] = { r->delimiter, '\0' };
	size_t	 i;

	cJSON_AddStringToObject(doc, "file", file);
	cJSON_AddStringToObject(doc, "encoding",
	    ropa_encoding_names[r->encoding]);
	cJSON_AddStringToObject(doc, "delimiter", d);
	cJSON_AddStringToObject(doc, "eol", ropa_eol_names[r->eol]);
	cJSON_AddNumberToObject(doc, "lines", (double)r->lines);
	cJSON_AddNumberToObject(doc, "header_line", (double)r->header_line);
	a = cJSON_AddArrayToObject(doc, "titles");
	for (i = 0; i < r->ntitles; i++) {
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "line", (double)r->titles[i].line);
		cJSON_AddStringToObject(o, "text", r->titles[i].text);
		cJSON_AddItemToArray(a, o);
	}
	cJSON_AddNumberToObject(doc, "activities", (double)r->nact);
	cJSON_AddNumberToObject(doc, "rows", (double)r->rows);
	cJSON_AddNumberToObject(doc, "dropped", (double)r->dropped);
	cJSON_AddNumberToObject(doc, "realigned", (double)r->realigned);
	cJSON_AddNumberToObject(doc, "blank", (double)r->blank);
	a = cJSON_AddArrayToObject(doc, "anomalies");
	for (i = 0; i < r->nanom; i++) {
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "line", (double)r->anom[i].line);
		cJSON_AddStringToObject(o, "kind",
		    ropa_anomaly_names[r->anom[i].kind]);
		cJSON_AddStringToObject(o, "detail", r->anom[i].detail);
		cJSON_AddBoolToObject(o, "dropped",
		    ropa_anomaly_drops_row(r->anom[i].kind));
		cJSON_AddItemToArray(a, o);
	}
	cJSON_AddItemToObject(doc, "people", people);
	cJSON_AddItemToObject(doc, "import", res);
	return doc;
}

static int
run_ropa_import(const struct ctl *ctl, const char *socket)
{
	const char	*file = ctl->args[0];
	const char	*entity = ctl_optval(ctl, "entity");
	int		 dry_run = ctl_optval(ctl, "dry-run") != NULL;
	struct buf	 data, batch, reply;
	struct ropa	 r;
	struct ropa_opts opts = { 0 };
	struct progress	 pr = { 0 };
	struct people	 pp;
	struct ctl_link	 l;
	struct memo	 memo = { 0 };
	cJSON		*res = NULL, *err = NULL, *source, *people, *req;
	char		*cause = NULL, *token = NULL, *t, *line, *p;
	char		*carry = NULL;
	const char	*base;
	size_t		 i, inbatch;
	int		 code, rc, pending = 0;

	buf_init(&data);
	if (read_file(file, &data, &cause) == -1) {
		rc = ctl_fail(ctl->json, E_INVALID_PARAMS, cause);
		free(cause);
		buf_free(&data);
		return rc;
	}
	pr.on = isatty(STDERR_FILENO) && data.len >= ROPA_PROGRESS_BYTES;
	pr.what = "reading the register";
	pr.last = -1;
	opts.progress = parse_progress;
	opts.arg = &pr;
	if (ropa_parse_opts(data.data ? data.data : "", data.len, &opts, &r,
	    &cause) == -1) {
		t = xasprintf("%s: %s", file, cause);
		rc = ctl_fail(ctl->json, E_INVALID_PARAMS, t);
		free(t);
		free(cause);
		buf_free(&data);
		ropa_free(&r);
		return rc;
	}
	buf_free(&data);

	/* The directory, on the connection the import will use. */
	if (ctl_open(&l, socket, &code, &cause) == -1) {
		rc = ctl_fail(ctl->json, code, cause);
		free(cause);
		ctl_close(&l);
		ropa_free(&r);
		return rc;
	}
	req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "jsonrpc", PROTO_VERSION);
	cJSON_AddNumberToObject(req, "id", (double)l.next_id++);
	cJSON_AddStringToObject(req, "method", "staff.list");
	cJSON_AddStringToObject(cJSON_AddObjectToObject(req, "params"),
	    "entity", entity);
	p = cJSON_PrintUnformatted(req);
	line = xstrdup(p != NULL ? p : "");
	cJSON_free(p);
	cJSON_Delete(req);
	buf_init(&reply);
	if (ctl_exchange(&l, line, &reply, &code, &cause) == -1) {
		free(line);
		buf_free(&reply);
		rc = ctl_fail(ctl->json, code, cause);
		free(cause);
		ctl_close(&l);
		ropa_free(&r);
		return rc;
	}
	free(line);
	if (rpc_split(&reply, &res, &err) == -1) {
		buf_free(&reply);
		ctl_close(&l);
		ropa_free(&r);
		return print_error(ctl->json, err);
	}
	buf_free(&reply);
	people_init(&pp, jget(res, "staff"));
	cJSON_Delete(res);
	res = NULL;

	base = strrchr(file, '/') != NULL ? strrchr(file, '/') + 1 : file;
	source = cJSON_CreateObject();
	cJSON_AddStringToObject(source, "file", base);
	cJSON_AddStringToObject(source, "encoding",
	    ropa_encoding_names[r.encoding]);
	{
		char	d[2] = { r.delimiter, '\0' };

		cJSON_AddStringToObject(source, "delimiter", d);
	}
	cJSON_AddNumberToObject(source, "lines", (double)r.lines);
	cJSON_AddNumberToObject(source, "header_line", (double)r.header_line);
	cJSON_AddNumberToObject(source, "activities", (double)r.nact);
	cJSON_AddNumberToObject(source, "anomalies", (double)r.nanom);
	cJSON_AddNumberToObject(source, "dropped", (double)r.dropped);
	cJSON_AddNumberToObject(source, "realigned", (double)r.realigned);

	/*
	 * Batches of ROPA_BATCH_ROWS or ROPA_BATCH_BYTES; the last one is
	 * the final message, so a small register is one message. The next
	 * batch is made while dsrd stages the one before it.
	 */
	pr.on = isatty(STDERR_FILENO) && r.nact > ROPA_BATCH_ROWS;
	pr.what = "sending the activities";
	pr.last = -1;
	buf_init(&batch);
	rc = EXIT_OK;
	for (i = 0;;) {
		buf_consume(&batch, batch.len);
		for (inbatch = 0; i < r.nact; i++, inbatch++) {
			if (carry == NULL)
				carry = activity_text(&r.act[i], &pp, &memo);
			if (inbatch > 0 && (inbatch == ROPA_BATCH_ROWS ||
			    batch.len + strlen(carry) + 2 > ROPA_BATCH_BYTES))
				break;
			buf_adds(&batch, inbatch == 0 ? "[" : ",");
			buf_adds(&batch, carry);
			free(carry);
			carry = NULL;
		}
		if (inbatch > 0)
			buf_adds(&batch, "]");
		if (pending) {
			pending = 0;
			if (import_recv(&l, &res, &err) == -1)
				break;
			if (token == NULL && cJSON_IsString(jget(res, "token")))
				token = xstrdup(jget(res, "token")->valuestring);
			cJSON_Delete(res);
			res = NULL;
		}
		if (import_send(&l, import_line(&l, entity, token, &batch,
		    i == r.nact, dry_run, source), &err) == -1)
			break;
		pending = 1;
		progress_show(&pr, i, r.nact);
		if (i == r.nact)
			break;
	}
	if (pending)
		(void)import_recv(&l, &res, &err);
	free(carry);
	memo_free(&memo);
	buf_free(&batch);
	free(token);
	ctl_close(&l);
	cJSON_Delete(source);
	if (err != NULL) {
		if (pr.on)
			fputs("\r\033[K", stderr);
		people_free(&pp);
		ropa_free(&r);
		return print_error(ctl->json, err);
	}
	people = people_report(&pp);
	if (ctl->json)
		json_out(import_doc(file, &r, people, res));
	else {
		print_import(file, &r, people, pp.ndir, entity, res);
		cJSON_Delete(people);
		cJSON_Delete(res);
	}
	people_free(&pp);
	ropa_free(&r);
	return rc;
}

int
main(int argc, char **argv)
{
	struct ctl	 ctl;
	struct buf	 reply;
	char		*cause = NULL, *line;
	const char	*path;
	int		 rc, code, json;

	if (ctl_parse(&ctl, argc, argv, &cause) == -1) {
		json = ctl.json || argv_wants_json(argc, argv);
		rc = ctl_fail(json, E_USAGE, cause);
		if (!json) {
			if (ctl.cmd != NULL)
				usage_cmd(stderr, ctl.cmd, 0);
			else
				fputs("Try 'dsrctl --help'.\n", stderr);
		}
		free(cause);
		return rc;
	}
	if (ctl.help) {
		if (ctl.cmd != NULL)
			usage_cmd(stdout, ctl.cmd, 1);
		else
			usage_all(stdout);
		return EXIT_OK;
	}
	if (ctl.version) {
		if (ctl.json) {
			cJSON	*v = cJSON_CreateObject();

			cJSON_AddStringToObject(v, "version", DSR_VERSION);
			json_out(v);
		} else
			printf("dsrctl %s\n", DSR_VERSION);
		return EXIT_OK;
	}

	path = ctl.socket;
	if (path == NULL && (path = getenv("DSRD_SOCKET")) != NULL &&
	    *path == '\0')
		path = NULL;
	if (path == NULL)
		path = PROTO_DEFAULT_SOCKET;

	if (ctl.cmd->run != NULL) {
		rc = ctl.cmd->run(&ctl, path);
		goto out;
	}
	line = ctl_request(&ctl);
	/* dsrd would refuse it and hang up; say so without sending 1 MiB. */
	if (strlen(line) > PROTO_MAX_MESSAGE) {
		free(line);
		return ctl_fail(ctl.json, E_TOO_LARGE, "request too large "
		    "(over 1 MiB)");
	}
	buf_init(&reply);
	if (ctl_call(path, line, &reply, &code, &cause) == -1) {
		rc = ctl_fail(ctl.json, code, cause);
		free(cause);
	} else
		rc = ctl_answer(&ctl, &reply);
	buf_free(&reply);
	free(line);
out:
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "dsrctl: cannot write the output: %s\n",
		    strerror(errno));
		if (rc == EXIT_OK)
			rc = EXIT_UNAVAILABLE;
	}
	return rc;
}
