/*
 * cmd-ropa.c: ropa.* methods: a body's register of processing activities
 * (GDPR art. 30, SPEC §8): the import of a register in batches (dsrctl
 * reads and splits the spreadsheet; the daemon checks every field of every
 * activity and applies the whole register at once), and the activities
 * read back. A message with one bad field is refused whole, naming the
 * field as "activities[3].name", and nothing of it is staged. Handlers only
 * check parameters and hand the work to store-ropa.c.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "cmd.h"
#include "dsrd.h"
#include "log.h"
#include "proto.h"
#include "store-ropa.h"
#include "util.h"
#include "validate.h"

#define ROPA_NAME_MAX	500	/* characters of a name (activities.name) */
#define ROPA_OFFICE_MAX	200	/* of an office (offices.name) */
#define ROPA_TEXT_MAX	10000	/* of a text field */
#define ROPA_ITEM_MAX	500	/* of an item of a list */
#define ROPA_ITEMS_MAX	200	/* items of a list */

enum afield_kind {
	AF_NAME,	/* one line, required */
	AF_OFFICE,	/* one line */
	AF_TEXT,	/* lines */
	AF_LIST,	/* array of one-line strings */
	AF_BOOL,	/* true, false or null */
	AF_LINE,	/* the line of the file, an integer >= 1 */
};

/* The members of an activity object; what the store receives, in order. */
static const struct afield {
	const char		*name;
	enum afield_kind	 kind;
} afields[] = {
	{ "name",			AF_NAME },
	{ "office",			AF_OFFICE },
	{ "purpose",			AF_TEXT },
	{ "joint_controller",		AF_TEXT },
	{ "managers",			AF_LIST },
	{ "staff",			AF_LIST },
	{ "processors",			AF_LIST },
	{ "independent_controllers",	AF_LIST },
	{ "software",			AF_LIST },
	{ "data_categories",		AF_LIST },
	{ "retention",			AF_TEXT },
	{ "subject_categories",		AF_LIST },
	{ "recipient_categories",	AF_LIST },
	{ "cloud",			AF_BOOL },
	{ "transfers",			AF_BOOL },
	{ "processor_for_others",	AF_BOOL },
	{ "controller",			AF_TEXT },
	{ "security_measures",		AF_TEXT },
	{ "line",			AF_LINE },
};

/* A refusal: the field's path and why (heap). */
struct afail {
	char	*field;
	char	*why;
};

static bool
afail(struct afail *f, char *field, char *why)
{
	f->field = field;
	f->why = why;
	return false;
}

/*
 * The number of characters of s when it is plainly acceptable text: only
 * printable ASCII and two-byte UTF-8 letters and signs (U+00A0-U+00FF),
 * beginning and ending with a printable ASCII character other than a
 * space; otherwise (size_t)-1. val_text() would accept such a string as
 * it is, and it is most of a register: the full check is for the rest.
 */
static size_t
plain_chars(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s, *q = p;
	size_t			 chars = 0;

	if (*p <= 0x20 || *p >= 0x7f)
		return (size_t)-1;
	for (;;) {
		if (*q >= 0x20 && *q < 0x7f)
			q++;
		else if ((q[0] == 0xc3 && q[1] >= 0x80 && q[1] <= 0xbf) ||
		    (q[0] == 0xc2 && q[1] >= 0xa0 && q[1] <= 0xbf))
			q += 2;
		else
			break;
		chars++;
	}
	if (*q != '\0' || q[-1] == ' ' || q[-1] >= 0x80)
		return (size_t)-1;
	return chars;
}

/*
 * A string, trimmed and checked as text of at most max characters. Returns
 * NULL and the text in *out (empty when it is empty: *tofree, when set,
 * holds the trimmed copy to free), or why not (heap). Copies only a string
 * that needs trimming: a register has many strings.
 */
static char *
check_text(const cJSON *v, size_t max, bool multiline, const char **out,
    char **tofree)
{
	const char	*s;
	char		*copy = NULL, *cause = NULL;
	size_t		 n;

	*out = "";
	*tofree = NULL;
	if (!cJSON_IsString(v))
		return xstrdup("must be a string");
	s = v->valuestring;
	if (plain_chars(s) <= max) {
		*out = s;
		return NULL;
	}
	n = strlen(s);
	if (n > 0 && (isspace((unsigned char)s[0]) ||
	    isspace((unsigned char)s[n - 1]))) {
		copy = xstrdup(s);
		s = str_trim(copy);
	}
	if (val_text(s, max, multiline, &cause) != 0) {
		free(copy);
		return cause;
	}
	*out = s;
	*tofree = copy;
	return NULL;
}

/* s as a JSON string; val_text() let through no control but LF and TAB. */
static void
json_str(struct buf *b, const char *s)
{
	const char	*run = s;
	char		 esc[8];

	buf_add(b, "\"", 1);
	for (; *s != '\0'; s++) {
		unsigned char	c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_add(b, run, (size_t)(s - run));
		if (c == '"' || c == '\\')
			snprintf(esc, sizeof esc, "\\%c", c);
		else if (c == '\n')
			snprintf(esc, sizeof esc, "\\n");
		else if (c == '\t')
			snprintf(esc, sizeof esc, "\\t");
		else
			snprintf(esc, sizeof esc, "\\u%04x", c);
		buf_adds(b, esc);
		run = s + 1;
	}
	buf_add(b, run, (size_t)(s - run));
	buf_add(b, "\"", 1);
}

static bool
is_integer(const cJSON *v, double lo, double hi)
{
	double	d;

	if (!cJSON_IsNumber(v))
		return false;
	d = v->valuedouble;
	return isfinite(d) && d == floor(d) && d >= lo && d <= hi;
}

/*
 * One member of activity i, as JSON text into b (absent and empty ones
 * are null or []). The path of a refusal is made only then.
 */
static bool
check_member(const struct afield *af, const cJSON *v, size_t i,
    struct buf *b, struct afail *f)
{
	const cJSON	*e;
	const char	*t;
	char		*why, *tofree, num[32];
	size_t		 k = 0;

	buf_add(b, "\"", 1);
	buf_adds(b, af->name);
	buf_add(b, "\":", 2);
	if (v == NULL || cJSON_IsNull(v)) {
		if (af->kind == AF_NAME)
			return afail(f, xasprintf("activities[%zu].name", i),
			    xstrdup("required"));
		buf_adds(b, af->kind == AF_LIST ? "[]" : "null");
		return true;
	}
	switch (af->kind) {
	case AF_NAME:
	case AF_OFFICE:
	case AF_TEXT:
		why = check_text(v, af->kind == AF_NAME ? ROPA_NAME_MAX :
		    af->kind == AF_OFFICE ? ROPA_OFFICE_MAX : ROPA_TEXT_MAX,
		    af->kind == AF_TEXT, &t, &tofree);
		if (why == NULL && *t == '\0' && af->kind == AF_NAME)
			why = xstrdup("must not be empty");
		if (why != NULL) {
			free(tofree);
			return afail(f, xasprintf("activities[%zu].%s", i,
			    af->name), why);
		}
		if (*t != '\0')
			json_str(b, t);
		else
			buf_adds(b, "null");
		free(tofree);
		return true;
	case AF_LIST:
		if (!cJSON_IsArray(v))
			return afail(f, xasprintf("activities[%zu].%s", i,
			    af->name), xstrdup("must be an array of strings"));
		if (cJSON_GetArraySize(v) > ROPA_ITEMS_MAX)
			return afail(f, xasprintf("activities[%zu].%s", i,
			    af->name), xasprintf("more than %d items",
			    ROPA_ITEMS_MAX));
		buf_add(b, "[", 1);
		cJSON_ArrayForEach(e, v) {
			why = check_text(e, ROPA_ITEM_MAX, false, &t, &tofree);
			if (why == NULL && *t == '\0')
				why = xstrdup("must not be empty");
			if (why != NULL) {
				free(tofree);
				return afail(f, xasprintf("activities[%zu].%s"
				    "[%zu]", i, af->name, k), why);
			}
			if (k++ > 0)
				buf_add(b, ",", 1);
			json_str(b, t);
			free(tofree);
		}
		buf_add(b, "]", 1);
		return true;
	case AF_BOOL:
		if (!cJSON_IsBool(v))
			return afail(f, xasprintf("activities[%zu].%s", i,
			    af->name), xstrdup("must be true, false or null"));
		buf_adds(b, cJSON_IsTrue(v) ? "true" : "false");
		return true;
	case AF_LINE:
		if (!is_integer(v, 1, 2147483647.0))
			return afail(f, xasprintf("activities[%zu].%s", i,
			    af->name), xstrdup("must be an integer >= 1"));
		snprintf(num, sizeof num, "%.0f", v->valuedouble);
		buf_adds(b, num);
		return true;
	}
	return true;
}

/*
 * Activity i, an object of known members only, as JSON text into b with
 * every member: one pass over its members, none looked up twice.
 */
static bool
check_activity(const cJSON *a, size_t i, struct buf *b, struct afail *f)
{
	const cJSON	*m, *val[nitems(afields)] = { 0 };
	size_t		 k, next = 0;

	if (!cJSON_IsObject(a))
		return afail(f, xasprintf("activities[%zu]", i),
		    xstrdup("must be an object"));
	cJSON_ArrayForEach(m, a) {
		/* dsrctl sends the members in this order: one strcmp each */
		k = next;
		if (k >= nitems(afields) || strcmp(m->string,
		    afields[k].name) != 0)
			for (k = 0; k < nitems(afields); k++)
				if (strcmp(m->string, afields[k].name) == 0)
					break;
		next = k + 1;
		if (k == nitems(afields))
			return afail(f, xasprintf("activities[%zu].%s", i,
			    m->string), xstrdup("unknown field"));
		if (val[k] != NULL)
			return afail(f, xasprintf("activities[%zu].%s", i,
			    m->string), xstrdup("given twice"));
		val[k] = m;
	}
	buf_add(b, "{", 1);
	for (k = 0; k < nitems(afields); k++) {
		if (k > 0)
			buf_add(b, ",", 1);
		if (!check_member(&afields[k], val[k], i, b, f))
			return false;
	}
	buf_add(b, "}", 1);
	return true;
}

/* The source of the register, for the audit event: a few named members. */
static bool
check_source(const cJSON *src, cJSON *out, struct afail *f)
{
	static const char *const texts[] = { "file", "encoding",
	    "delimiter" };
	static const char *const counts[] = { "lines", "header_line",
	    "activities", "anomalies", "dropped", "realigned" };
	const cJSON	*m;
	const char	*t;
	char		*path, *tofree;
	size_t		 k;
	bool		 known;

	if (!cJSON_IsObject(src))
		return afail(f, xstrdup("source"), xstrdup("must be an object"));
	cJSON_ArrayForEach(m, src) {
		path = xasprintf("source.%s", m->string);
		known = false;
		for (k = 0; k < nitems(texts) && !known; k++) {
			if (strcmp(m->string, texts[k]) != 0)
				continue;
			known = true;
			if (cJSON_IsNull(m))
				continue;
			/* a tab is a delimiter: text "of lines" allows it */
			if ((f->why = check_text(m, 255, true, &t,
			    &tofree)) != NULL) {
				free(tofree);
				f->field = path;
				return false;
			}
			if (*t != '\0')
				cJSON_AddStringToObject(out, m->string, t);
			free(tofree);
		}
		for (k = 0; k < nitems(counts) && !known; k++) {
			if (strcmp(m->string, counts[k]) != 0)
				continue;
			known = true;
			if (!is_integer(m, 0, 1e12)) {
				f->field = path;
				f->why = xstrdup("must be an integer >= 0");
				return false;
			}
			cJSON_AddNumberToObject(out, m->string, m->valuedouble);
		}
		if (!known) {
			f->field = path;
			f->why = xstrdup("unknown field");
			return false;
		}
		for (const cJSON *w = m->next; w != NULL; w = w->next) {
			if (strcmp(m->string, w->string) == 0) {
				f->field = path;
				f->why = xstrdup("given twice");
				return false;
			}
		}
		free(path);
	}
	return true;
}

/* 8-4-4-4-12 hexadecimal digits. */
static bool
is_uuid(const char *s)
{
	size_t	i;

	if (strlen(s) != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

/* JSON text of v (heap). */
static char *
json_text(const cJSON *v)
{
	char	*p = cJSON_PrintUnformatted(v), *s;

	if (p == NULL)
		fatalx("cJSON_PrintUnformatted: out of memory");
	s = xstrdup(p);
	cJSON_free(p);
	return s;
}

struct cmd_result *
cmd_ropa_import(struct cmd *cmd)
{
	struct ropa_in		 in = { 0 };
	const struct caller	*c = cmd_caller(cmd);
	struct actor		 who = { c->user, (unsigned)c->uid,
				    role_names[c->role] };
	const cJSON		*acts = NULL, *src = NULL, *a;
	cJSON			*srcn;
	struct buf		 norm;
	struct afail		 f = { 0 };
	bool			 final = false, dry_run = false, has_dry;
	char			*text = NULL, *stext = NULL;
	size_t			 i = 0;
	const struct param	 ps[] = {
		{ .name = "entity", .type = PT_CODE, .required = true,
		  .out = &in.entity },
		{ .name = "token", .type = PT_STRING, .out = &in.token,
		  .max = 64 },
		{ .name = "activities", .type = PT_JSON, .out = &acts },
		{ .name = "final", .type = PT_BOOL, .out = &final },
		{ .name = "dry_run", .type = PT_BOOL, .out = &dry_run,
		  .present = &has_dry },
		{ .name = "source", .type = PT_JSON, .out = &src },
	};

	if (!param(cmd, ps, nitems(ps)))
		return cmd_param_failed();
	if (in.token != NULL && !is_uuid(in.token))
		return cmd_fail_field(cmd, "token", "not an import token (the "
		    "\"token\" of the answer to the first message)");
	if (has_dry && !final)
		return cmd_fail_field(cmd, "dry_run", "only with \"final\": "
		    "true (a dry run computes the import, then undoes it)");
	if (src != NULL && !final)
		return cmd_fail_field(cmd, "source", "only with \"final\": "
		    "true");
	if (acts != NULL && !cJSON_IsArray(acts))
		return cmd_fail_field(cmd, "activities", "must be an array of "
		    "activity objects");

	/* Every activity checked before anything is staged. */
	buf_init(&norm);
	cJSON_ArrayForEach(a, acts) {
		buf_add(&norm, i == 0 ? "[" : ",", 1);
		if (!check_activity(a, i, &norm, &f)) {
			const cJSON	*l = cJSON_GetObjectItemCaseSensitive(a,
					    "line");
			struct cmd_result	*r;

			buf_free(&norm);
			if (is_integer(l, 1, 2147483647.0))
				r = cmd_fail_field(cmd, f.field, "%s (line "
				    "%.0f)", f.why, l->valuedouble);
			else
				r = cmd_fail_field(cmd, f.field, "%s", f.why);
			free(f.field);
			free(f.why);
			return r;
		}
		i++;
	}
	if (src != NULL) {
		srcn = cJSON_CreateObject();
		if (!check_source(src, srcn, &f)) {
			struct cmd_result	*r;

			cJSON_Delete(srcn);
			buf_free(&norm);
			r = cmd_fail_field(cmd, f.field, "%s", f.why);
			free(f.field);
			free(f.why);
			return r;
		}
		stext = json_text(srcn);
		cJSON_Delete(srcn);
	}
	if (i > 0) {
		buf_add(&norm, "]", 1);
		text = buf_take(&norm);
	} else
		buf_free(&norm);
	in.activities = text;
	in.source = stext;
	in.dry_run = dry_run;
	if (!app_db_ready()) {
		free(text);
		free(stext);
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	}
	if (final)
		store_ropa_apply(app.db, &in, &who, app_now(),
		    cmd_reply_store, cmd);
	else
		store_ropa_stage(app.db, &in, app_now(), cmd_reply_store, cmd);
	free(text);
	free(stext);
	return cmd_pending(cmd);
}

struct cmd_result *
cmd_ropa_list(struct cmd *cmd)
{
	struct ropa_filter	 f = { .limit = 1000 };
	const struct param	 ps[] = {
		{ .name = "entity", .type = PT_CODE, .out = &f.entity },
		{ .name = "office", .type = PT_STRING, .out = &f.office,
		  .max = 200 },
		{ .name = "data_category", .type = PT_STRING,
		  .out = &f.data_category, .max = 500 },
		{ .name = "subject_category", .type = PT_STRING,
		  .out = &f.subject_category, .max = 500 },
		{ .name = "software", .type = PT_STRING, .out = &f.software,
		  .max = 500 },
		{ .name = "processor", .type = PT_STRING, .out = &f.processor,
		  .max = 500 },
		{ .name = "removed", .type = PT_BOOL, .out = &f.removed },
		{ .name = "limit", .type = PT_INT, .out = &f.limit,
		  .min = 1, .max = 100000 },
	};

	if (!param(cmd, ps, nitems(ps)))
		return cmd_param_failed();
	f.scope = cmd_scope(cmd);
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_ropa_list(app.db, &f, cmd_reply_store, cmd);
	return cmd_pending(cmd);
}

struct cmd_result *
cmd_ropa_show(struct cmd *cmd)
{
	long long		 id = 0;
	const struct param	 ps[] = {
		{ .name = "id", .type = PT_INT, .required = true, .out = &id,
		  .min = 1, .max = CMD_ID_MAX },
	};

	if (!param(cmd, ps, nitems(ps)))
		return cmd_param_failed();
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_ropa_show(app.db, id, cmd_scope(cmd), cmd_reply_store, cmd);
	return cmd_pending(cmd);
}
