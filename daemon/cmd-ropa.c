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
 * A string member, trimmed and checked as text of at most max characters.
 * Returns the copy (heap; NULL when empty), or false through *f.
 */
static bool
check_text(const cJSON *v, const char *path, size_t max, bool multiline,
    char **out, struct afail *f)
{
	char	*s, *cause = NULL;

	*out = NULL;
	if (!cJSON_IsString(v))
		return afail(f, xstrdup(path), xstrdup("must be a string"));
	s = xstrdup(str_trim(v->valuestring));
	if (val_text(s, max, multiline, &cause) != 0) {
		free(s);
		return afail(f, xstrdup(path), cause);
	}
	if (*s == '\0')
		free(s);
	else
		*out = s;
	return true;
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

/* One member of activity i into the normalised object o. */
static bool
check_member(const struct afield *af, const cJSON *v, size_t i, cJSON *o,
    struct afail *f)
{
	char		*path = xasprintf("activities[%zu].%s", i, af->name);
	char		*s;
	const cJSON	*e;
	cJSON		*arr;
	size_t		 k = 0;
	bool		 ok = true;

	if (v == NULL || cJSON_IsNull(v)) {
		if (af->kind == AF_NAME) {
			free(path);
			return afail(f, xasprintf("activities[%zu].name", i),
			    xstrdup("required"));
		}
		if (af->kind == AF_LIST)
			cJSON_AddArrayToObject(o, af->name);
		else
			cJSON_AddNullToObject(o, af->name);
		free(path);
		return true;
	}
	switch (af->kind) {
	case AF_NAME:
	case AF_OFFICE:
	case AF_TEXT:
		ok = check_text(v, path, af->kind == AF_NAME ? ROPA_NAME_MAX :
		    af->kind == AF_OFFICE ? ROPA_OFFICE_MAX : ROPA_TEXT_MAX,
		    af->kind == AF_TEXT, &s, f);
		if (!ok)
			break;
		if (s == NULL && af->kind == AF_NAME) {
			ok = afail(f, xstrdup(path),
			    xstrdup("must not be empty"));
			break;
		}
		if (s != NULL)
			cJSON_AddStringToObject(o, af->name, s);
		else
			cJSON_AddNullToObject(o, af->name);
		free(s);
		break;
	case AF_LIST:
		if (!cJSON_IsArray(v)) {
			ok = afail(f, xstrdup(path), xstrdup("must be an array "
			    "of strings"));
			break;
		}
		if (cJSON_GetArraySize(v) > ROPA_ITEMS_MAX) {
			ok = afail(f, xstrdup(path), xasprintf("more than %d "
			    "items", ROPA_ITEMS_MAX));
			break;
		}
		arr = cJSON_AddArrayToObject(o, af->name);
		cJSON_ArrayForEach(e, v) {
			char	*ip = xasprintf("%s[%zu]", path, k++);

			ok = check_text(e, ip, ROPA_ITEM_MAX, false, &s, f);
			if (ok && s == NULL)
				ok = afail(f, xstrdup(ip),
				    xstrdup("must not be empty"));
			free(ip);
			if (!ok)
				break;
			cJSON_AddItemToArray(arr, cJSON_CreateString(s));
			free(s);
		}
		break;
	case AF_BOOL:
		if (!cJSON_IsBool(v))
			ok = afail(f, xstrdup(path), xstrdup("must be true, "
			    "false or null"));
		else
			cJSON_AddBoolToObject(o, af->name, cJSON_IsTrue(v));
		break;
	case AF_LINE:
		if (!is_integer(v, 1, 2147483647.0))
			ok = afail(f, xstrdup(path), xstrdup("must be an "
			    "integer >= 1"));
		else
			cJSON_AddNumberToObject(o, af->name, v->valuedouble);
		break;
	}
	free(path);
	return ok;
}

/* Activity i: an object of known members only. */
static bool
check_activity(const cJSON *a, size_t i, cJSON *out, struct afail *f)
{
	const cJSON	*m;
	cJSON		*o;
	size_t		 k;

	if (!cJSON_IsObject(a))
		return afail(f, xasprintf("activities[%zu]", i),
		    xstrdup("must be an object"));
	cJSON_ArrayForEach(m, a) {
		for (k = 0; k < nitems(afields); k++)
			if (strcmp(m->string, afields[k].name) == 0)
				break;
		if (k == nitems(afields))
			return afail(f, xasprintf("activities[%zu].%s", i,
			    m->string), xstrdup("unknown field"));
		for (const cJSON *w = m->next; w != NULL; w = w->next)
			if (strcmp(m->string, w->string) == 0)
				return afail(f, xasprintf("activities[%zu].%s",
				    i, m->string), xstrdup("given twice"));
	}
	o = cJSON_CreateObject();
	cJSON_AddItemToArray(out, o);
	for (k = 0; k < nitems(afields); k++)
		if (!check_member(&afields[k],
		    cJSON_GetObjectItemCaseSensitive(a, afields[k].name), i,
		    o, f))
			return false;
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
	char		*s, *path;
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
			if (!check_text(m, path, 255, true, &s, f)) {
				free(path);
				return false;
			}
			if (s != NULL)
				cJSON_AddStringToObject(out, m->string, s);
			free(s);
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
	cJSON			*norm, *srcn;
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
	norm = cJSON_CreateArray();
	cJSON_ArrayForEach(a, acts) {
		if (!check_activity(a, i, norm, &f)) {
			const cJSON	*l = cJSON_GetObjectItemCaseSensitive(a,
					    "line");
			struct cmd_result	*r;

			cJSON_Delete(norm);
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
			cJSON_Delete(norm);
			r = cmd_fail_field(cmd, f.field, "%s", f.why);
			free(f.field);
			free(f.why);
			return r;
		}
		stext = json_text(srcn);
		cJSON_Delete(srcn);
	}
	if (i > 0)
		text = json_text(norm);
	cJSON_Delete(norm);
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
		  .min = 1, .max = 9007199254740991LL },
	};

	if (!param(cmd, ps, nitems(ps)))
		return cmd_param_failed();
	if (!app_db_ready())
		return cmd_fail(cmd, E_UNAVAILABLE, "database unavailable");
	store_ropa_show(app.db, id, cmd_scope(cmd), cmd_reply_store, cmd);
	return cmd_pending(cmd);
}
