/*
 * ctl-ropa.c: ropa import, the one command that is many requests: the
 * register file is read and parsed here with daemon/ropa.c, its people are
 * looked up in the body's staff directory (staff.list), its activities are
 * sent in batches of ropa.import on one connection, and what was read and
 * what dsrd did is printed (or one JSON document). It must never send a
 * message over PROTO_MAX_MESSAGE, never decide what dsrd decides (what
 * changed, what is removed), and never show progress on stdout.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "proto.h"
#include "ropa.h"
#include "util.h"

#include "dsrctl.h"

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

/* The slot of key: its person's, or the empty one it would take. The
   table must have slots (people_add makes them). */
static size_t *
people_slot(struct people *pp, const char *key)
{
	size_t	i = (size_t)str_hash(key) & (pp->nslot - 1);

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
	size_t	i = (size_t)str_hash(key) & (m->nslot - 1);

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

int
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
