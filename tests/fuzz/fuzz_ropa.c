/*
 * fuzz_ropa.c: libFuzzer target for the register reader (ropa.c). Each input
 * is a whole file as a body might upload it. ropa_parse must either fail
 * with a cause and leave nothing behind, or give activities and anomalies
 * that keep the promises of ropa.h: every row is an activity or reported,
 * lines are in the file and in order, every text is well-formed UTF-8
 * without control characters, names are one non-empty line, the yes/no
 * readings agree with their text. The splitters must give back the cell's
 * own words in order, and the name distance must be a symmetric distance.
 * A broken promise aborts, so libFuzzer records the input. It must never
 * print the input: registers name people.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ropa.h"
#include "util.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_ropa: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

#define MAX_SPLIT	16	/* activities whose cells are split per run */
#define MAX_CELL	512	/* bytes of the input split as one cell */
#define MAX_NAME	64	/* bytes of the input compared as names */

/*
 * RFC 3629 by the lead byte's bit pattern, then by value (no overlong
 * forms, surrogates or code points past U+10FFFF); and no C0 control but
 * LF (when lf), no DEL, no C1 control. Written apart from ropa.c's decoder.
 */
static int
clean_utf8(const char *s, int lf)
{
	const unsigned char	*p = (const unsigned char *)s;
	uint32_t		 c;
	int			 n, i;

	while (*p != '\0') {
		if (*p < 0x80) {
			if ((*p < 0x20 && !(lf && *p == '\n')) || *p == 0x7F)
				return 0;
			p++;
			continue;
		}
		if ((*p & 0xE0) == 0xC0) {
			n = 1;
			c = *p & 0x1F;
		} else if ((*p & 0xF0) == 0xE0) {
			n = 2;
			c = *p & 0x0F;
		} else if ((*p & 0xF8) == 0xF0) {
			n = 3;
			c = *p & 0x07;
		} else
			return 0;
		for (i = 1; i <= n; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return 0;
			c = c << 6 | (p[i] & 0x3F);
		}
		if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) ||
		    (n == 3 && c < 0x10000) || c > 0x10FFFF ||
		    (c >= 0xD800 && c <= 0xDFFF) || (c >= 0x80 && c <= 0x9F))
			return 0;
		p += n + 1;
	}
	return 1;
}

/*
 * Bytes of a Unicode space at s (NBSP, U+2000-U+200A, U+202F, U+205F,
 * U+3000), or 0.
 */
static int
uspace(const unsigned char *s)
{
	if (s[0] == 0xC2 && s[1] == 0xA0)
		return 2;
	if (s[0] == 0xE2 && s[1] == 0x80 && (s[2] <= 0x8A || s[2] == 0xAF) &&
	    s[2] >= 0x80)
		return 3;
	if (s[0] == 0xE2 && s[1] == 0x81 && s[2] == 0x9F)
		return 3;
	if (s[0] == 0xE3 && s[1] == 0x80 && s[2] == 0x80)
		return 3;
	return 0;
}

/*
 * The words of s once the separator characters are spaces, one space
 * apart (ASCII and Unicode white space count as space): what the items
 * of a split, joined by spaces, must spell.
 */
static char *
words_of(const char *s, const char *seps)
{
	struct buf	b;
	size_t		i, n = strlen(s);
	int		space = 0;

	buf_init(&b);
	buf_add(&b, "", 0);
	for (i = 0; i < n; i++) {
		unsigned char	c = (unsigned char)s[i];
		int		sp = c == ' ' || c == '\t' || c == '\n' ||
				    c == '\r' || c == '\v' || c == '\f' ||
				    strchr(seps, c) != NULL;

		if (!sp && uspace((const unsigned char *)s + i) > 0) {
			i += (size_t)uspace((const unsigned char *)s + i) - 1;
			sp = 1;
		}
		if (sp) {
			space = b.len > 0;
			continue;
		}
		if (space)
			buf_add(&b, " ", 1);
		space = 0;
		buf_add(&b, s + i, 1);
	}
	return buf_take(&b);
}

static void
check_split(const char *cell, const char *seps, struct ropa_list *l)
{
	struct buf	 b;
	char		*w;
	size_t		 i;

	buf_init(&b);
	buf_add(&b, "", 0);
	for (i = 0; i < l->n; i++) {
		CHECK(l->v[i][0] != '\0');
		CHECK(l->v[i][0] != ' ');
		CHECK(l->v[i][strlen(l->v[i]) - 1] != ' ');
		if (i > 0)
			buf_add(&b, " ", 1);
		buf_adds(&b, l->v[i]);
	}
	w = words_of(cell, seps);
	CHECK(strcmp(w, b.data) == 0);
	free(w);
	buf_free(&b);
	ropa_list_free(l);
}

/* Split a cell every way; items are its words, in order. */
static void
split_all(const char *cell)
{
	static const char *const known[] = { "Rossi Moreno", "Zanella Paolo",
	    "De Luca Alda Maria", "" };
	struct ropa_list	l;

	ropa_split_people(cell, &l);
	check_split(cell, ";,/|", &l);
	ropa_split_people_known(cell, known, 4, &l);
	check_split(cell, ";,/|", &l);
	ropa_split_categories(cell, ROPA_CAT_DATA, &l);
	check_split(cell, ";,|", &l);
	ropa_split_categories(cell, ROPA_CAT_SUBJECTS, &l);
	check_split(cell, ";,|", &l);
	ropa_split_categories(cell, ROPA_CAT_RECIPIENTS, &l);
	check_split(cell, ";,|", &l);
	ropa_split_processors(cell, known, 4, &l);
	check_split(cell, ";|", &l);
}

static void
check_parsed(const struct ropa *r)
{
	size_t		i, dropped = 0, blank = 0;
	enum ropa_yn	yn;
	int		f;

	CHECK(r->header_line >= 1 && r->header_line <= r->lines);
	CHECK(r->delimiter == '\t' || r->delimiter == ';' ||
	    r->delimiter == ',');
	CHECK(r->column[ROPA_F_NAME] >= 0);
	CHECK(r->rows == r->nact + r->dropped);
	for (i = 0; i < r->ntitles; i++) {
		CHECK(r->titles[i].line < r->header_line);
		CHECK(clean_utf8(r->titles[i].text, 1));
	}
	for (i = 0; i < r->nact; i++) {
		const struct ropa_activity	*a = &r->act[i];

		CHECK(a->line > r->header_line && a->line <= r->lines);
		CHECK(i == 0 || a->line > r->act[i - 1].line);
		CHECK(a->f[ROPA_F_NAME][0] != '\0');
		CHECK(strchr(a->f[ROPA_F_NAME], '\n') == NULL);
		CHECK(strchr(a->f[ROPA_F_OFFICE], '\n') == NULL);
		for (f = 0; f < ROPA_F_COUNT; f++) {
			size_t	n = strlen(a->f[f]);

			CHECK(clean_utf8(a->f[f], 1));
			CHECK(n == 0 || (a->f[f][0] != ' ' &&
			    a->f[f][n - 1] != ' '));
			CHECK(strcmp(a->f[f], "-") != 0);
		}
		CHECK(ropa_yesno(a->f[ROPA_F_CLOUD], &yn) == -1 ?
		    a->cloud == ROPA_UNKNOWN : a->cloud == yn);
		CHECK(ropa_yesno(a->f[ROPA_F_TRANSFERS], &yn) == -1 ?
		    a->transfers == ROPA_UNKNOWN : a->transfers == yn);
		CHECK(ropa_yesno(a->f[ROPA_F_FOR_OTHERS], &yn) == -1 ?
		    a->for_others == ROPA_UNKNOWN : a->for_others == yn);
		if (i < MAX_SPLIT) {
			split_all(a->f[ROPA_F_MANAGERS]);
			split_all(a->f[ROPA_F_PROCESSORS]);
			split_all(a->f[ROPA_F_SUBJECTS]);
		}
	}
	for (i = 0; i < r->nanom; i++) {
		CHECK(r->anom[i].line >= 1 && r->anom[i].line <= r->lines);
		CHECK(i == 0 || r->anom[i].line >= r->anom[i - 1].line);
		CHECK((unsigned)r->anom[i].kind < ROPA_A_COUNT);
		CHECK(r->anom[i].detail != NULL && r->anom[i].detail[0]);
		CHECK(clean_utf8(r->anom[i].detail, 0));
		if (r->anom[i].kind == ROPA_A_BLANK)
			blank++;
		else if (ropa_anomaly_drops_row(r->anom[i].kind))
			dropped++;
	}
	CHECK(dropped == r->dropped);
	CHECK(blank == r->blank);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ropa	 r;
	char		*cause = NULL, *s, *t;
	int		 d;

	if (ropa_parse((const char *)data, size, &r, &cause) != 0) {
		CHECK(cause != NULL && cause[0] != '\0');
		CHECK(r.nact == 0 && r.act == NULL && r.nanom == 0);
		free(cause);
	} else {
		CHECK(cause == NULL);
		check_parsed(&r);
		ropa_free(&r);
	}

	/* the input as one cell, and as two names (cut at its middle) */
	s = xstrndup((const char *)data, size < MAX_CELL ? size : MAX_CELL);
	split_all(s);
	s[strlen(s) < MAX_NAME ? strlen(s) : MAX_NAME] = '\0';
	t = s + strlen(s) / 2;
	d = ropa_name_distance(s, t);
	CHECK(d >= 0);
	CHECK(d == ropa_name_distance(t, s));
	CHECK(ropa_name_distance(s, s) == 0);
	CHECK(ropa_best_match(s, (const char *const *)&t, 1, &d) == 0);
	CHECK(d == ropa_name_distance(s, t));
	free(s);
	return 0;
}
