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
#include <sys/un.h>

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "proto.h"
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

struct ctl_cmd {
	const char	*name;		/* one or two words: "entity add" */
	const char	*method;
	const char	*summary;
	struct ctl_arg	 args[CTL_MAX_ARGS];	/* all required, in order */
	struct ctl_opt	 opts[CTL_MAX_OPTS];
	/* Prints a result for people; returns the exit code. */
	int		(*print)(const cJSON *);
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
 * Sends line + LF and reads one answer line into reply (LF dropped).
 * Returns 0, or -1 with the error code to report and why.
 */
static int
ctl_call(const char *path, const char *line, struct buf *reply, int *code,
    char **cause)
{
	int		 timeout = ctl_timeout_ms(), fd;
	long long	 deadline = mono_ms() + timeout;
	struct buf	 out;
	size_t		 sent = 0, scanned = 0, linelen;
	ssize_t		 n;
	char		 chunk[16384];

	if ((fd = ctl_connect(path, timeout, code, cause)) == -1)
		return -1;
	buf_init(&out);
	buf_adds(&out, line);
	buf_adds(&out, "\n");
	while (sent < out.len) {
		n = send(fd, out.data + sent, out.len - sent, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			break;	/* it may have said why before closing */
		if (n == -1) {
			*code = E_UNAVAILABLE;
			*cause = xasprintf("cannot send to dsrd: %s",
			    errno == EAGAIN ? "timed out" : strerror(errno));
			goto fail;
		}
		sent += (size_t)n;
	}
	buf_free(&out);
	for (;;) {
		struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
		long long	 left = deadline - mono_ms();
		int		 rc;

		if (left <= 0 ||
		    (rc = poll(&pfd, 1, (int)left)) == 0) {
			*code = E_UNAVAILABLE;
			*cause = xasprintf("no answer from dsrd in %d s",
			    timeout / 1000);
			goto fail;
		}
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			*code = E_UNAVAILABLE;
			*cause = xasprintf("poll: %s", strerror(errno));
			goto fail;
		}
		n = read(fd, chunk, sizeof chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*code = E_UNAVAILABLE;
			*cause = n == 0 || errno == ECONNRESET ?
			    xstrdup("dsrd closed the connection without "
			    "answering") :
			    xasprintf("cannot read from dsrd: %s",
			    strerror(errno));
			goto fail;
		}
		buf_add(reply, chunk, (size_t)n);
		/* Scan only the new bytes: replies may be megabytes. */
		switch (proto_frame(reply->data + scanned, reply->len - scanned,
		    CTL_MAX_REPLY - scanned, &linelen)) {
		case PROTO_FRAME_LINE:
			reply->len = scanned + linelen;
			reply->data[reply->len] = '\0';
			close(fd);
			return 0;
		case PROTO_FRAME_TOO_BIG:
			*code = E_UNAVAILABLE;
			*cause = xasprintf("answer from dsrd over %zu bytes",
			    CTL_MAX_REPLY);
			goto fail;
		case PROTO_FRAME_MORE:
			scanned = reply->len;
			break;
		}
	}
fail:
	buf_free(&out);
	close(fd);
	return -1;
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

/* Prints dsrd's answer; returns the exit code. */
static int
ctl_answer(const struct ctl *ctl, const struct buf *reply)
{
	cJSON		*resp, *err, *res, *doc;
	const cJSON	*code, *msg;
	int		 rc, c;
	char		*m;

	resp = cJSON_ParseWithLength(reply->data, reply->len);
	if (!cJSON_IsObject(resp)) {
		cJSON_Delete(resp);
		return ctl_fail(ctl->json, E_UNAVAILABLE,
		    "malformed answer from dsrd (not a JSON object)");
	}
	err = jget(resp, "error") != NULL ?
	    cJSON_DetachItemFromObjectCaseSensitive(resp, "error") : NULL;
	res = jget(resp, "result") != NULL ?
	    cJSON_DetachItemFromObjectCaseSensitive(resp, "result") : NULL;
	cJSON_Delete(resp);
	if (err != NULL) {
		code = jget(err, "code");
		msg = jget(err, "message");
		c = cJSON_IsNumber(code) ? (int)code->valuedouble : E_INTERNAL;
		rc = proto_exit_code(c);
		if (ctl->json) {
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
		cJSON_Delete(res);
		return rc;
	}
	if (res == NULL)
		return ctl_fail(ctl->json, E_UNAVAILABLE,
		    "malformed answer from dsrd (neither result nor error)");
	if (ctl->json) {
		json_out(res);
		return EXIT_OK;
	}
	rc = ctl->cmd->print != NULL ? ctl->cmd->print(res) :
	    print_generic(res);
	cJSON_Delete(res);
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
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "dsrctl: cannot write the output: %s\n",
		    strerror(errno));
		if (rc == EXIT_OK)
			rc = EXIT_UNAVAILABLE;
	}
	return rc;
}
