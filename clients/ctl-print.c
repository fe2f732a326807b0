/*
 * ctl-print.c: how anything dsrctl prints reaches the terminal: text from
 * dsrd made safe (control characters out) and cut to a width, JSON values
 * as text, aligned tables, "Label: value" blocks, the one JSON document of
 * --json, and errors, on stderr for people or as {"error": ...}. It must
 * never put a string from dsrd on the terminal without clean(), and never
 * know what a command means: the printers of ctl-show.c and ctl-ropa.c do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "proto.h"
#include "util.h"

#include "dsrctl.h"

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
char *
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
char *
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
const cJSON *
jget(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* A JSON value as text: "-" for null or missing. Caller frees. */
char *
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
char *
jcell(const cJSON *o, const char *key)
{
	return clean(jtext(jget(o, key)), 0);
}

/* An integer member, or def. */
long long
jint(const cJSON *o, const char *key, long long def)
{
	const cJSON	*v = jget(o, key);

	if (!cJSON_IsNumber(v))
		return def;
	return (long long)v->valuedouble;
}

/* A list of strings joined by sep: "a; b" for a cell, one a line with
   "\n" ("-" for none). Each item is cleaned, the separator kept. Caller
   frees. */
char *
jjoin(const cJSON *o, const char *key, const char *sep)
{
	const cJSON	*a = jget(o, key), *e;
	struct buf	 b;

	if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) == 0)
		return xstrdup("-");
	buf_init(&b);
	cJSON_ArrayForEach(e, a) {
		char	*t = clean(jtext(e), 0);

		buf_addf(&b, "%s%s", b.len ? sep : "", t);
		free(t);
	}
	return buf_take(&b);
}

/* "Name (Office)" or "Name". Caller frees. */
char *
name_office(const cJSON *o)
{
	char	*n = jcell(o, "name"), *of = jcell(o, "office"), *s;

	s = strcmp(of, "-") != 0 ? xasprintf("%s (%s)", n, of) : xstrdup(n);
	free(n);
	free(of);
	return s;
}

/* -------------------------------------------------------------------- */
/* Aligned tables: cells are heap strings the table owns. */

void
table_init(struct table *t, size_t ncols, const char **heads,
    const int *right)
{
	memset(t, 0, sizeof *t);
	t->ncols = ncols;
	t->heads = heads;
	t->right = right;
}

/* Takes s (a heap string). */
void
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
void
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
/* Key: value blocks. */

/* One "  Label:   value" line; a multi-line value is indented. */
void
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

void
show_member(const char *label, const cJSON *o, const char *key)
{
	show_field(label, jtext(jget(o, key)));
}

/* -------------------------------------------------------------------- */
/* JSON on stdout, and errors. */

/* Prints one JSON value and a LF on stdout; takes v. */
void
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

/* Reports dsrd's error object (taken); returns the exit code. */
int
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

/* An error object of our own making. */
cJSON *
error_obj(int code, const char *msg)
{
	cJSON	*e = cJSON_CreateObject();

	cJSON_AddNumberToObject(e, "code", code);
	cJSON_AddStringToObject(e, "message", msg);
	return e;
}

/* Reports a failure of our own making; returns the exit code. */
int
ctl_fail(int json, int code, const char *msg)
{
	return print_error(json, error_obj(code, msg));
}
