/*
 * test_ropa.c: unit tests of ropa.c against the real register of a body
 * (tests/unit/data/registro-trattamenti-val-di-non.tsv, 117 physical lines)
 * and against re-encodings of it: the same register as a Windows-1252 ';'
 * CSV with CRLF and quotes (made by data/make-ropa-fixtures.py), and, built
 * here, with a UTF-8 BOM, with CR line ends, as UTF-16LE and as a ',' CSV,
 * all of which must give the same activities and anomalies. The expected
 * counts and anomalies were derived by reading the file, and each is
 * justified where it is asserted. The benchmark prints its time and never
 * asserts one. No test may depend on the locale or the network; the data
 * files are found next to this source file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "ropa.h"
#include "util.h"

#define REAL_TSV	"registro-trattamenti-val-di-non.tsv"
#define REAL_CP1252	"registro-trattamenti-val-di-non-cp1252.csv"

/* A small deterministic PRNG (xorshift64*), so failures can be replayed. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dULL) >> 32);
}

/* Reads tests/unit/data/name (next to this file); the caller frees. */
static char *
read_data(const char *name, size_t *len)
{
	const char	*slash = strrchr(__FILE__, '/');
	char		*path, *p = NULL;
	FILE		*f;
	size_t		 cap = 0, n = 0, r;

	path = slash != NULL ? xasprintf("%.*s/data/%s",
	    (int)(slash - __FILE__), __FILE__, name) :
	    xasprintf("data/%s", name);
	if ((f = fopen(path, "rb")) == NULL)
		fail_msg("cannot open %s", path);
	for (;;) {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			p = xrealloc(p, cap + 1);
		}
		if ((r = fread(p + n, 1, cap - n, f)) == 0)
			break;
		n += r;
	}
	fclose(f);
	free(path);
	p[n] = '\0';
	*len = n;
	return p;
}

static void
parse_ok(const char *bytes, size_t len, struct ropa *r)
{
	char	*cause = NULL;

	if (ropa_parse(bytes, len, r, &cause) != 0)
		fail_msg("ropa_parse failed: %s", cause);
	assert_null(cause);
}

static void
parse_real(struct ropa *r)
{
	size_t	 len;
	char	*b = read_data(REAL_TSV, &len);

	parse_ok(b, len, r);
	free(b);
}

static const struct ropa_activity *
act_at(const struct ropa *r, size_t line)
{
	size_t	i;

	for (i = 0; i < r->nact; i++)
		if (r->act[i].line == line)
			return &r->act[i];
	return NULL;
}

static void
assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

/* The same activities and anomalies, field by field and word for word. */
static void
assert_same(const struct ropa *a, const struct ropa *b)
{
	size_t	i;
	int	f;

	assert_int_equal(a->nact, b->nact);
	assert_int_equal(a->nanom, b->nanom);
	assert_int_equal(a->header_line, b->header_line);
	assert_int_equal(a->lines, b->lines);
	assert_int_equal(a->ntitles, b->ntitles);
	for (i = 0; i < a->nact; i++) {
		assert_int_equal(a->act[i].line, b->act[i].line);
		for (f = 0; f < ROPA_F_COUNT; f++)
			assert_string_equal(a->act[i].f[f], b->act[i].f[f]);
		assert_int_equal(a->act[i].cloud, b->act[i].cloud);
		assert_int_equal(a->act[i].transfers, b->act[i].transfers);
		assert_int_equal(a->act[i].for_others, b->act[i].for_others);
	}
	for (i = 0; i < a->nanom; i++) {
		assert_int_equal(a->anom[i].line, b->anom[i].line);
		assert_int_equal(a->anom[i].kind, b->anom[i].kind);
		assert_string_equal(a->anom[i].detail, b->anom[i].detail);
	}
	for (i = 0; i < a->ntitles; i++) {
		assert_int_equal(a->titles[i].line, b->titles[i].line);
		assert_string_equal(a->titles[i].text, b->titles[i].text);
	}
}

/* ---- the real register ---- */

static void
test_real_counts(void **state)
{
	struct ropa	r;
	int		f;

	(void)state;
	parse_real(&r);
	assert_int_equal(r.encoding, ROPA_ENC_UTF8);
	assert_int_equal(r.eol, ROPA_EOL_LF);
	assert_int_equal(r.delimiter, '\t');
	/* 116 LFs and a last line without one */
	assert_int_equal(r.lines, 117);
	/* lines 1-2 blank, 3-6 the body, the title, the law, the DPO */
	assert_int_equal(r.header_line, 7);
	assert_int_equal(r.ntitles, 4);
	assert_int_equal(r.titles[0].line, 3);
	assert_string_equal(r.titles[0].text, "Comunità della Val di Non");
	assert_int_equal(r.titles[1].line, 4);
	assert_string_equal(r.titles[1].text, "Registro delle attività di "
	    "trattamento (aggiornato al 13/06/2023)");
	assert_int_equal(r.titles[3].line, 6);
	/* the header names the 18 columns in the order of enum ropa_field */
	assert_int_equal(r.ncolumns, 18);
	for (f = 0; f < ROPA_F_COUNT; f++)
		assert_int_equal(r.column[f], f);
	/*
	 * Lines 8-117 are 110 lines: 5 blank (28, 55, 82, 105, 115) leave 105
	 * rows; the row of line 106 has no name, so 104 activities.
	 */
	assert_int_equal(r.rows, 105);
	assert_int_equal(r.nact, 104);
	assert_int_equal(r.dropped, 1);
	assert_int_equal(r.blank, 7);
	/* 29-104 but the blank 55 and 82 (74 rows), and 113, 114 */
	assert_int_equal(r.realigned, 76);
	ropa_free(&r);
}

struct want {
	size_t			line;
	enum ropa_anomaly_kind	kind;
};

static void
want_add(struct want *w, size_t *n, size_t line, enum ropa_anomaly_kind k)
{
	w[*n].line = line;
	w[*n].kind = k;
	(*n)++;
}

static void
test_real_anomalies(void **state)
{
	struct ropa	r;
	struct want	w[128];
	size_t		n = 0, l, i;

	(void)state;
	parse_real(&r);
	/* lines 1 and 2 are empty, above the titles */
	want_add(w, &n, 1, ROPA_A_BLANK);
	want_add(w, &n, 2, ROPA_A_BLANK);
	/* the header spells "Traferimenti in banche dati" (column O) */
	want_add(w, &n, 7, ROPA_A_HEADER_FUZZY);
	want_add(w, &n, 28, ROPA_A_BLANK);
	/*
	 * From line 29 to line 104 every row has lost its empty Contitolare
	 * cell: the office ("Servizio ...") stands in column C and the
	 * managers in column D, and the yes/no cells one column early. Each
	 * is realigned, except the blank lines 55 and 82 between them.
	 */
	for (l = 29; l <= 104; l++) {
		if (l == 55 || l == 82)
			want_add(w, &n, l, ROPA_A_BLANK);
		else
			want_add(w, &n, l, ROPA_A_REALIGNED);
	}
	want_add(w, &n, 105, ROPA_A_BLANK);
	/*
	 * Lines 106-114 have 19 cells for 18 columns (an empty one at the
	 * end). 106 has no Denominazione. 113 and 114 have also lost their
	 * Software cell: "Dati ..." stands in column I, so they are both
	 * extra and realigned.
	 */
	for (l = 106; l <= 114; l++) {
		want_add(w, &n, l, ROPA_A_EXTRA_CELLS);
		if (l == 106)
			want_add(w, &n, l, ROPA_A_NO_NAME);
		if (l == 113 || l == 114)
			want_add(w, &n, l, ROPA_A_REALIGNED);
	}
	want_add(w, &n, 115, ROPA_A_BLANK);

	for (i = 0; i < r.nanom && i < n; i++)
		if (r.anom[i].line != w[i].line || r.anom[i].kind != w[i].kind)
			fail_msg("anomaly %zu: line %zu %s, want line %zu %s",
			    i, r.anom[i].line,
			    ropa_anomaly_names[r.anom[i].kind], w[i].line,
			    ropa_anomaly_names[w[i].kind]);
	assert_int_equal(r.nanom, n);
	assert_int_equal(n, 94);

	/* the details say what was done, in columns, never a cell's text */
	assert_string_equal(r.anom[2].detail, "column O \"Traferimenti in "
	    "banche dati\" read as \"Trasferimenti in banche dati\"");
	for (i = 0; i < r.nanom; i++) {
		if (r.anom[i].line == 29 &&
		    r.anom[i].kind == ROPA_A_REALIGNED)
			assert_string_equal(r.anom[i].detail, "shifted row "
			    "realigned by content: cells C-N moved 1 column "
			    "right (C is read as Strutture)");
		if (r.anom[i].line == 113 &&
		    r.anom[i].kind == ROPA_A_REALIGNED)
			assert_contains(r.anom[i].detail, "cells I-N moved "
			    "1 column right (I is read as Categorie dati "
			    "personali)");
		if (r.anom[i].kind == ROPA_A_NO_NAME)
			assert_contains(r.anom[i].detail, "not imported");
		assert_true(ropa_anomaly_drops_row(r.anom[i].kind) ==
		    (r.anom[i].kind == ROPA_A_BLANK ||
		    r.anom[i].kind == ROPA_A_NO_NAME));
		assert_null(strstr(r.anom[i].detail, "Cavosi"));
		assert_null(strstr(r.anom[i].detail, "Servizio"));
	}
	ropa_free(&r);
}

/*
 * Nothing silently dropped: every physical line is a title, the header, a
 * blank line, the first line of an activity, or a row reported as not
 * imported, and exactly one of them.
 */
static void
test_real_every_line_accounted(void **state)
{
	struct ropa	 r;
	int		*seen;
	size_t		 i, l;

	(void)state;
	parse_real(&r);
	seen = xcalloc(r.lines + 1, sizeof(*seen));
	for (i = 0; i < r.ntitles; i++)
		seen[r.titles[i].line]++;
	seen[r.header_line]++;
	for (i = 0; i < r.nact; i++)
		seen[r.act[i].line]++;
	for (i = 0; i < r.nanom; i++)
		if (ropa_anomaly_drops_row(r.anom[i].kind))
			seen[r.anom[i].line]++;
	for (l = 1; l <= r.lines; l++)
		if (seen[l] != 1)
			fail_msg("line %zu accounted for %d times", l, seen[l]);
	free(seen);
	ropa_free(&r);
}

static void
test_real_yes_no(void **state)
{
	static const struct {
		size_t		line;
		enum ropa_yn	cloud, transfers, for_others;
	} rows[] = {
		{ 8, ROPA_YES, ROPA_YES, ROPA_UNKNOWN },	/* Si Si - */
		{ 9, ROPA_NO, ROPA_NO, ROPA_UNKNOWN },		/* No No - */
		{ 20, ROPA_NO, ROPA_NO, ROPA_NO },		/* No No No */
		{ 51, ROPA_YES, ROPA_NO, ROPA_UNKNOWN },	/* shifted */
		{ 62, ROPA_YES, ROPA_NO, ROPA_NO },	/* Si No No - */
		{ 64, ROPA_YES, ROPA_YES, ROPA_NO },	/* Si Si No - */
		{ 104, ROPA_UNKNOWN, ROPA_UNKNOWN, ROPA_NO },	/* - - No */
		{ 107, ROPA_YES, ROPA_YES, ROPA_UNKNOWN },	/* Sì Sì - */
		{ 116, ROPA_YES, ROPA_YES, ROPA_NO },		/* Si Si No */
	};
	struct ropa			 r;
	const struct ropa_activity	*a;
	size_t				 i, yes = 0, no = 0, unk = 0;

	(void)state;
	parse_real(&r);
	for (i = 0; i < nitems(rows); i++) {
		if ((a = act_at(&r, rows[i].line)) == NULL)
			fail_msg("no activity at line %zu", rows[i].line);
		assert_int_equal(a->cloud, rows[i].cloud);
		assert_int_equal(a->transfers, rows[i].transfers);
		assert_int_equal(a->for_others, rows[i].for_others);
	}
	a = act_at(&r, 107);
	assert_string_equal(a->f[ROPA_F_CLOUD], "Sì");
	/* "-" is no text at all, in yes/no columns and in the others */
	a = act_at(&r, 8);
	assert_string_equal(a->f[ROPA_F_FOR_OTHERS], "");
	a = act_at(&r, 62);	/* its fourth yes/no-ish cell, "-", is Titolare */
	assert_string_equal(a->f[ROPA_F_CONTROLLER], "");
	for (i = 0; i < r.nact; i++) {
		yes += r.act[i].cloud == ROPA_YES;
		no += r.act[i].cloud == ROPA_NO;
		unk += r.act[i].cloud == ROPA_UNKNOWN;
	}
	/* counted in the file: 55 Si/Sì, 48 No, 1 "-" (line 104) */
	assert_int_equal(yes, 55);
	assert_int_equal(no, 48);
	assert_int_equal(unk, 1);
	ropa_free(&r);
}

/*
 * Line 29, "Gestione PEC" of the Servizio Tariffa Igiene Ambientale, is
 * shifted; line 18 is the same activity of the Servizio Istruzione, not
 * shifted. Realigned, they differ only in their office and in what the
 * file itself spells differently ("Dati giudiziali" for "giudiziari").
 */
static void
test_real_shifted_row(void **state)
{
	struct ropa			 r;
	const struct ropa_activity	*a, *b;
	int				 f;

	(void)state;
	parse_real(&r);
	a = act_at(&r, 29);
	b = act_at(&r, 18);
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a->f[ROPA_F_NAME], "Gestione PEC");
	assert_string_equal(a->f[ROPA_F_JOINT], "");
	assert_string_equal(a->f[ROPA_F_OFFICE],
	    "Servizio Tariffa Igiene Ambientale");
	assert_string_equal(a->f[ROPA_F_MANAGERS], "Cavosi Fiorenzo "
	    "Guazzeroni Marco Inama Fabrizio Rossi Moreno Zanella Paolo");
	assert_string_equal(a->f[ROPA_F_STAFF], "");
	assert_string_equal(a->f[ROPA_F_PROCESSORS],
	    "Trentino Digitale S.p.A.");
	assert_string_equal(a->f[ROPA_F_SOFTWARE], "Infocert Legalmail");
	assert_string_equal(a->f[ROPA_F_RECIPIENTS], "Persone autorizzate "
	    "Altre Pubbliche Amministrazioni Soggetti terzi");
	assert_int_equal(a->cloud, ROPA_YES);
	assert_int_equal(a->transfers, ROPA_YES);
	assert_int_equal(a->for_others, ROPA_UNKNOWN);
	assert_string_equal(a->f[ROPA_F_SECURITY], "");
	for (f = 0; f < ROPA_F_COUNT; f++)
		if (f != ROPA_F_OFFICE && f != ROPA_F_DATA)
			assert_string_equal(a->f[f], b->f[f]);
	assert_contains(a->f[ROPA_F_DATA], "Dati giudiziali");
	assert_contains(b->f[ROPA_F_DATA], "Dati giudiziari");

	/* line 77 has four yes/no-ish cells, its purpose has a "d.lgs." */
	a = act_at(&r, 77);
	assert_string_equal(a->f[ROPA_F_NAME], "Gestione whistleblowing");
	assert_true(strncmp(a->f[ROPA_F_PURPOSE], "Gestione delle "
	    "segnalazioni", 23) == 0);
	assert_string_equal(a->f[ROPA_F_JOINT], "");
	assert_string_equal(a->f[ROPA_F_OFFICE], "Servizio Segreteria "
	    "organizzazione e affari generali");
	assert_string_equal(a->f[ROPA_F_MANAGERS], "Guazzeroni Marco");
	assert_string_equal(a->f[ROPA_F_STAFF], "Zanella Paolo");
	assert_string_equal(a->f[ROPA_F_PROCESSORS],
	    "Consorzio Comuni Trentini");
	assert_string_equal(a->f[ROPA_F_SOFTWARE], "OpenWeb");
	assert_int_equal(a->cloud, ROPA_YES);
	assert_int_equal(a->transfers, ROPA_NO);
	assert_int_equal(a->for_others, ROPA_NO);

	/* line 113 lost its Software cell (and has 19 cells) */
	a = act_at(&r, 113);
	assert_string_equal(a->f[ROPA_F_OFFICE],
	    "Servizio per le politiche sociali e abitative");
	assert_string_equal(a->f[ROPA_F_SOFTWARE], "");
	assert_true(strncmp(a->f[ROPA_F_DATA], "Dati personali ordinari",
	    23) == 0);
	assert_true(strncmp(a->f[ROPA_F_RETENTION], "I dati sono", 11) == 0);
	assert_string_equal(a->f[ROPA_F_SUBJECTS], "Utenti");
	assert_string_equal(a->f[ROPA_F_RECIPIENTS], "Persone autorizzate");
	assert_int_equal(a->cloud, ROPA_NO);
	assert_int_equal(a->transfers, ROPA_NO);
	a = act_at(&r, 114);
	assert_string_equal(a->f[ROPA_F_PROCESSORS], "A.L.F.I.D.");
	assert_string_equal(a->f[ROPA_F_SOFTWARE], "");
	assert_string_equal(a->f[ROPA_F_SUBJECTS], "Utenti");

	/* every activity has its office in Strutture, none in Contitolare */
	for (f = 0; (size_t)f < r.nact; f++) {
		assert_true(strncmp(r.act[f].f[ROPA_F_OFFICE], "Servizio ",
		    9) == 0);
		assert_string_equal(r.act[f].f[ROPA_F_JOINT], "");
		assert_true(strncmp(r.act[f].f[ROPA_F_DATA], "Dati ", 5) == 0);
	}
	ropa_free(&r);
}

/* Lines 106-114: one empty cell too many; 106 without a name. */
static void
test_real_extra_cells_and_nameless(void **state)
{
	struct ropa			 r;
	const struct ropa_activity	*a;
	size_t				 i, l;

	(void)state;
	parse_real(&r);
	assert_null(act_at(&r, 106));
	for (l = 107; l <= 114; l++) {
		a = act_at(&r, l);
		assert_non_null(a);
		assert_string_equal(a->f[ROPA_F_OFFICE],
		    "Servizio per le politiche sociali e abitative");
		assert_string_equal(a->f[ROPA_F_JOINT], "");
		assert_string_equal(a->f[ROPA_F_MANAGERS], l == 107 ?
		    "Cavosi Fiorenzo Guazzeroni Marco Inama Fabrizio Rossi "
		    "Moreno Zanella Paolo" : l == 108 ? "Cavosi Fiorenzo "
		    "Guazzeroni Marco Inama Fabrizio Rossi Moreno Zanella "
		    "Paolo Zanon Ivan" : "Zanon Ivan");
		assert_string_equal(a->f[ROPA_F_SECURITY], "");
	}
	a = act_at(&r, 107);
	assert_string_equal(a->f[ROPA_F_NAME], "Gestione posta elettronica");
	assert_string_equal(a->f[ROPA_F_SOFTWARE], "G-Suite");
	a = act_at(&r, 111);
	assert_string_equal(a->f[ROPA_F_NAME],
	    "Servizio assistenti domiciliari");
	assert_string_equal(a->f[ROPA_F_PROCESSORS], "G.P.I.");
	assert_string_equal(a->f[ROPA_F_SOFTWARE], "Sispy");
	for (i = 0; i < r.nanom; i++) {
		if (r.anom[i].kind == ROPA_A_EXTRA_CELLS) {
			assert_true(r.anom[i].line >= 106 &&
			    r.anom[i].line <= 114);
			assert_contains(r.anom[i].detail, "19 cells for 18 "
			    "columns");
			assert_contains(r.anom[i].detail, "empty");
		}
		if (r.anom[i].kind == ROPA_A_NO_NAME)
			assert_int_equal(r.anom[i].line, 106);
	}
	ropa_free(&r);
}

/* ---- the same register, encoded otherwise ---- */

static void
test_cp1252_csv_same(void **state)
{
	struct ropa	 a, b;
	size_t		 len;
	char		*csv = read_data(REAL_CP1252, &len);

	(void)state;
	/* the fixture is what the generator says: not UTF-8, ';', CRLF */
	assert_non_null(memchr(csv, 0xE0, len));	/* à */
	assert_non_null(strstr(csv, "\r\n"));
	parse_ok(csv, len, &b);
	parse_real(&a);
	assert_int_equal(b.encoding, ROPA_ENC_CP1252);
	assert_int_equal(b.eol, ROPA_EOL_CRLF);
	assert_int_equal(b.delimiter, ';');
	assert_int_equal(b.nact, 104);
	assert_same(&a, &b);
	assert_string_equal(act_at(&b, 8)->f[ROPA_F_NAME],
	    "Assegni di studio e facilitazioni di viaggio");
	assert_string_equal(act_at(&b, 9)->f[ROPA_F_NAME],
	    "Gestione attività culturali");
	ropa_free(&a);
	ropa_free(&b);
	free(csv);
}

/* Test-side UTF-16LE with a BOM, from well-formed UTF-8. */
static char *
to_utf16le(const char *s, size_t n, size_t *outlen)
{
	const unsigned char	*p = (const unsigned char *)s;
	unsigned char		*o = xmalloc(2 + n * 4);
	size_t			 i = 0, m = 0;
	uint32_t		 c;

	o[m++] = 0xFF;
	o[m++] = 0xFE;
	while (i < n) {
		if (p[i] < 0x80)
			c = p[i++];
		else if (p[i] < 0xE0) {
			c = (uint32_t)(p[i] & 0x1F) << 6 | (p[i + 1] & 0x3F);
			i += 2;
		} else if (p[i] < 0xF0) {
			c = (uint32_t)(p[i] & 0x0F) << 12 |
			    (uint32_t)(p[i + 1] & 0x3F) << 6 | (p[i + 2] & 0x3F);
			i += 3;
		} else {
			c = (uint32_t)(p[i] & 0x07) << 18 |
			    (uint32_t)(p[i + 1] & 0x3F) << 12 |
			    (uint32_t)(p[i + 2] & 0x3F) << 6 | (p[i + 3] & 0x3F);
			i += 4;
		}
		if (c >= 0x10000) {
			c -= 0x10000;
			o[m++] = (unsigned char)((0xD800 | (c >> 10)) & 0xFF);
			o[m++] = (unsigned char)((0xD800 | (c >> 10)) >> 8);
			c = 0xDC00 | (c & 0x3FF);
		}
		o[m++] = (unsigned char)(c & 0xFF);
		o[m++] = (unsigned char)(c >> 8);
	}
	*outlen = m;
	return (char *)o;
}

/* TSV to ',' CSV, quoting only the cells that need it (RFC 4180). */
static char *
to_comma_csv(const char *s, size_t n, size_t *outlen)
{
	struct buf	b;
	size_t		i = 0, j;

	buf_init(&b);
	while (i <= n) {
		j = i;
		while (j < n && s[j] != '\t' && s[j] != '\n')
			j++;
		if (memchr(s + i, ',', j - i) || memchr(s + i, '"', j - i)) {
			size_t	k;

			buf_add(&b, "\"", 1);
			for (k = i; k < j; k++) {
				if (s[k] == '"')
					buf_add(&b, "\"", 1);
				buf_add(&b, s + k, 1);
			}
			buf_add(&b, "\"", 1);
		} else
			buf_add(&b, s + i, j - i);
		if (j < n)
			buf_add(&b, s[j] == '\t' ? "," : "\n", 1);
		i = j + 1;
	}
	*outlen = b.len;
	return buf_take(&b);
}

static void
test_other_encodings_same(void **state)
{
	struct ropa	 a, b;
	size_t		 len, n, i;
	char		*tsv = read_data(REAL_TSV, &len), *x;

	(void)state;
	parse_real(&a);

	/* a UTF-8 BOM */
	x = xmalloc(len + 3);
	memcpy(x, "\xEF\xBB\xBF", 3);
	memcpy(x + 3, tsv, len);
	parse_ok(x, len + 3, &b);
	assert_int_equal(b.encoding, ROPA_ENC_UTF8_BOM);
	assert_same(&a, &b);
	ropa_free(&b);
	free(x);

	/* old Mac line ends */
	x = xstrndup(tsv, len);
	for (i = 0; i < len; i++)
		if (x[i] == '\n')
			x[i] = '\r';
	parse_ok(x, len, &b);
	assert_int_equal(b.eol, ROPA_EOL_CR);
	assert_same(&a, &b);
	ropa_free(&b);
	free(x);

	/* "Unicode text" of a spreadsheet: UTF-16LE, a BOM, tabs */
	x = to_utf16le(tsv, len, &n);
	parse_ok(x, n, &b);
	assert_int_equal(b.encoding, ROPA_ENC_UTF16LE);
	assert_same(&a, &b);
	ropa_free(&b);
	/* and without its BOM */
	parse_ok(x + 2, n - 2, &b);
	assert_int_equal(b.encoding, ROPA_ENC_UTF16LE);
	assert_same(&a, &b);
	ropa_free(&b);
	free(x);

	/* ',' CSV: "Gestione reti locali, server, ..." must be quoted */
	x = to_comma_csv(tsv, len, &n);
	assert_non_null(strstr(x, "\"Gestione reti locali, server"));
	parse_ok(x, n, &b);
	assert_int_equal(b.delimiter, ',');
	assert_same(&a, &b);
	ropa_free(&b);
	free(x);

	ropa_free(&a);
	free(tsv);
}

/* ---- quotes, line breaks, detection ---- */

static void
test_quoted_fields(void **state)
{
	static const char csv[] =
	    "Registro;;\r\n"					/* 1 */
	    "Denominazione;Finalità;Strutture;Categorie interessati;"
	    "In modalità cloud\r\n"				/* 2 */
	    "\"Gestione \"\"PEC\"\"\";\"Servizi; ai cittadini\";"
	    "Servizio Istruzione;Cittadini;Sì\r\n"		/* 3 */
	    "\"Gestione\r\nprotocollo\";\"Finalità su\r\ndue righe\";"
	    "\"Servizio Finanziario\";Utenti;No\r\n"		/* 4-6 */
	    "  \"Gestione tributi\"  ;Servizi;Servizio Tributi;Cittadini;"
	    "-\r\n"						/* 7 */
	    "Gestione \"albo\";Pubblicità;Segreteria;Cittadini;forse\r\n"
	    "\"Gestione sito;Comunicazione;Ufficio stampa;Cittadini;"
	    "Si\r\n";						/* 9 */
	struct ropa			 r;
	const struct ropa_activity	*a;
	size_t				 i, quote = 0, notyn = 0, missing = 0;

	(void)state;
	parse_ok(csv, sizeof(csv) - 1, &r);
	assert_int_equal(r.delimiter, ';');
	assert_int_equal(r.header_line, 2);
	assert_int_equal(r.lines, 9);
	assert_int_equal(r.nact, 5);
	a = act_at(&r, 3);
	assert_string_equal(a->f[ROPA_F_NAME], "Gestione \"PEC\"");
	assert_string_equal(a->f[ROPA_F_PURPOSE], "Servizi; ai cittadini");
	assert_int_equal(a->cloud, ROPA_YES);
	/* line breaks inside quotes: one record on lines 4-6 */
	a = act_at(&r, 4);
	assert_non_null(a);
	assert_string_equal(a->f[ROPA_F_NAME], "Gestione protocollo");
	assert_string_equal(a->f[ROPA_F_PURPOSE], "Finalità su\ndue righe");
	assert_string_equal(a->f[ROPA_F_OFFICE], "Servizio Finanziario");
	assert_int_equal(a->cloud, ROPA_NO);
	assert_null(act_at(&r, 5));
	assert_null(act_at(&r, 6));
	/* spaces around a quoted cell */
	a = act_at(&r, 7);
	assert_string_equal(a->f[ROPA_F_NAME], "Gestione tributi");
	assert_int_equal(a->cloud, ROPA_UNKNOWN);
	/* a quote inside an unquoted cell is a character */
	a = act_at(&r, 8);
	assert_string_equal(a->f[ROPA_F_NAME], "Gestione \"albo\"");
	assert_int_equal(a->cloud, ROPA_UNKNOWN);
	/* a quote never closed: read as a character, the row kept */
	a = act_at(&r, 9);
	assert_string_equal(a->f[ROPA_F_NAME], "\"Gestione sito");
	assert_string_equal(a->f[ROPA_F_OFFICE], "Ufficio stampa");
	assert_int_equal(a->cloud, ROPA_YES);
	for (i = 0; i < r.nanom; i++) {
		if (r.anom[i].kind == ROPA_A_QUOTE) {
			quote++;
			assert_int_equal(r.anom[i].line, 9);
		}
		if (r.anom[i].kind == ROPA_A_NOT_YES_NO) {
			notyn++;
			assert_int_equal(r.anom[i].line, 8);
			assert_contains(r.anom[i].detail, "column E");
			assert_null(strstr(r.anom[i].detail, "forse"));
		}
		if (r.anom[i].kind == ROPA_A_MISSING_COLUMN) {
			missing++;
			assert_int_equal(r.anom[i].line, 2);
		}
	}
	assert_int_equal(quote, 1);
	assert_int_equal(notyn, 1);
	assert_int_equal(missing, ROPA_F_COUNT - 5);
	ropa_free(&r);
}

static void
test_reordered_and_unknown_columns(void **state)
{
	static const char csv[] =
	    "\"Note\",\"Strutture\",\"Denominazione del trattamento\","
	    "\"In modalità cloud\",\"Finalità del trattamento\","
	    "\"Traferimenti in banche dati\"\n"
	    "\"vedi allegato\",\"Ufficio Tributi\",\"Gestione IMU\",\"No\","
	    "\"Riscossione\",\"Si\"\n"
	    "\"\",\"Ufficio Anagrafe\",\"Gestione anagrafe\",\"Sì\","
	    "\"Servizi demografici\"\n";
	struct ropa	r;
	size_t		i, unknown = 0;

	(void)state;
	parse_ok(csv, sizeof(csv) - 1, &r);
	assert_int_equal(r.delimiter, ',');
	assert_int_equal(r.column[ROPA_F_OFFICE], 1);
	assert_int_equal(r.column[ROPA_F_NAME], 2);
	assert_int_equal(r.column[ROPA_F_CLOUD], 3);
	assert_int_equal(r.column[ROPA_F_PURPOSE], 4);
	assert_int_equal(r.column[ROPA_F_TRANSFERS], 5);
	assert_int_equal(r.column[ROPA_F_MANAGERS], -1);
	assert_int_equal(r.nact, 2);
	assert_string_equal(r.act[0].f[ROPA_F_NAME], "Gestione IMU");
	assert_string_equal(r.act[0].f[ROPA_F_OFFICE], "Ufficio Tributi");
	assert_string_equal(r.act[0].f[ROPA_F_PURPOSE], "Riscossione");
	assert_int_equal(r.act[0].cloud, ROPA_NO);
	assert_int_equal(r.act[0].transfers, ROPA_YES);
	/* a short row: the missing cells at the end are just empty */
	assert_string_equal(r.act[1].f[ROPA_F_NAME], "Gestione anagrafe");
	assert_int_equal(r.act[1].cloud, ROPA_YES);
	assert_int_equal(r.act[1].transfers, ROPA_UNKNOWN);
	for (i = 0; i < r.nanom; i++) {
		assert_int_equal(r.anom[i].line, 1);
		if (r.anom[i].kind == ROPA_A_UNKNOWN_COLUMN) {
			unknown++;
			assert_contains(r.anom[i].detail, "column A \"Note\"");
		}
	}
	assert_int_equal(unknown, 1);
	/* 18 fields, 5 named, 2 of them leniently; "Note" is unknown */
	assert_int_equal(r.nanom, 1 + 13 + 1);
	ropa_free(&r);
}

static void
test_rows_not_imported(void **state)
{
	static const char tsv[] =
	    "Denominazione\tStrutture\tFinalità\n"		/* 1 */
	    "Attività A\tUfficio X\tScopo\n"			/* 2 */
	    "Denominazione\tStrutture\tFinalità\n"		/* 3 */
	    "Servizio Istruzione\t\t\n"				/* 4 */
	    "Attività  A \tUfficio X\tAltro scopo\n"		/* 5 */
	    "Attività A\tUfficio Y\tScopo\n"			/* 6 */
	    "\tUfficio Z\tScopo\n"				/* 7 */
	    "\t \t\n"						/* 8 */
	    "Atti\x01vità B\tUfficio Z\tScopo\x7f\n";		/* 9 */
	static const struct want w[] = {
		{ 3, ROPA_A_HEADER_AGAIN },
		{ 4, ROPA_A_NAME_ONLY },	/* a heading, not an activity */
		{ 5, ROPA_A_DUPLICATE },	/* spaces do not count */
		{ 7, ROPA_A_NO_NAME },
		{ 8, ROPA_A_BLANK },		/* blanks and delimiters */
		{ 9, ROPA_A_CONTROL_CHARS },
	};
	struct ropa	r;
	size_t		i, n = 0;

	(void)state;
	parse_ok(tsv, sizeof(tsv) - 1, &r);
	assert_int_equal(r.nact, 3);
	assert_int_equal(r.act[0].line, 2);
	assert_int_equal(r.act[1].line, 6);
	assert_string_equal(r.act[1].f[ROPA_F_OFFICE], "Ufficio Y");
	assert_int_equal(r.act[2].line, 9);
	assert_string_equal(r.act[2].f[ROPA_F_NAME], "Atti vità B");
	assert_string_equal(r.act[2].f[ROPA_F_PURPOSE], "Scopo");
	for (i = 0; i < r.nanom; i++) {
		if (r.anom[i].kind == ROPA_A_MISSING_COLUMN)
			continue;
		assert_true(n < nitems(w));
		assert_int_equal(r.anom[i].line, w[n].line);
		assert_int_equal(r.anom[i].kind, w[n].kind);
		n++;
	}
	assert_int_equal(n, nitems(w));
	for (i = 0; i < r.nanom; i++)
		if (r.anom[i].kind == ROPA_A_DUPLICATE)
			assert_contains(r.anom[i].detail, "line 2");
	assert_int_equal(r.rows, 7);	/* 2-9 but the blank 8 */
	assert_int_equal(r.dropped, 4);
	assert_int_equal(r.rows, r.nact + r.dropped);
	ropa_free(&r);
}

static void
test_errors(void **state)
{
	static const struct {
		const char	*in;
		const char	*cause;
	} cases[] = {
		{ "", "empty" },
		{ "\n\r\n \t \n", "blank lines" },
		{ "\xEF\xBB\xBF", "blank lines" },
		{ "Gestione PEC\tServizio Istruzione\tSi\n"
		  "Gestione posta\tServizio Istruzione\tNo\n",
		  "no header row" },
		{ "Finalità\tStrutture\tDesignati\nA\tB\tC\n",
		  "Denominazione" },
		{ "Denominazione: Comunità della Val di Non\n",
		  "no header row" },
	};
	struct ropa	 r;
	char		*cause, junk[4096];
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		cause = NULL;
		assert_int_equal(ropa_parse(cases[i].in, strlen(cases[i].in),
		    &r, &cause), -1);
		assert_non_null(cause);
		assert_contains(cause, cases[i].cause);
		assert_int_equal(r.nact, 0);
		assert_null(r.act);
		ropa_free(&r);
		free(cause);
	}
	/* binary junk is no register either */
	for (i = 0; i < sizeof(junk); i++)
		junk[i] = (char)(i * 7 + 3);
	cause = NULL;
	assert_int_equal(ropa_parse(junk, sizeof(junk), &r, &cause), -1);
	assert_contains(cause, "no header row");
	free(cause);
	/* a header and nothing else is a register with no activities */
	parse_ok("Denominazione\tFinalità\n", 23, &r);
	assert_int_equal(r.nact, 0);
	assert_int_equal(r.header_line, 1);
	ropa_free(&r);
}

static void
test_header_names(void **state)
{
	static const struct {
		const char	*label;
		int		 field, fuzzy;
	} cases[] = {
		{ "Denominazione", ROPA_F_NAME, 0 },
		{ "DENOMINAZIONE DEL TRATTAMENTO", ROPA_F_NAME, 0 },
		{ " denominazione ", ROPA_F_NAME, 0 },
		{ "Denominazine", ROPA_F_NAME, 1 },
		{ "Finalità", ROPA_F_PURPOSE, 0 },
		{ "Finalita' del trattamento", ROPA_F_PURPOSE, 0 },
		{ "Contitolare", ROPA_F_JOINT, 0 },
		{ "Strutture", ROPA_F_OFFICE, 0 },
		{ "Designati", ROPA_F_MANAGERS, 0 },
		{ "Incaricati", ROPA_F_STAFF, 0 },
		{ "Responsabili", ROPA_F_PROCESSORS, 0 },
		{ "Titolari autonomi", ROPA_F_INDEPENDENT, 0 },
		{ "Software e servizi", ROPA_F_SOFTWARE, 0 },
		{ "Categorie dati personali", ROPA_F_DATA, 0 },
		{ "Categorie di dati personali", ROPA_F_DATA, 0 },
		{ "Termine di cancellazione dei dati", ROPA_F_RETENTION, 0 },
		{ "Categorie interessati", ROPA_F_SUBJECTS, 0 },
		{ "Categorie destinatari", ROPA_F_RECIPIENTS, 0 },
		{ "In modalità cloud", ROPA_F_CLOUD, 0 },
		{ "IN MODALITA' CLOUD", ROPA_F_CLOUD, 0 },
		{ "Trasferimenti in banche dati", ROPA_F_TRANSFERS, 0 },
		{ "Traferimenti in banche dati", ROPA_F_TRANSFERS, 1 },
		{ "Responsabile conto terzi", ROPA_F_FOR_OTHERS, 0 },
		{ "Titolare", ROPA_F_CONTROLLER, 0 },
		{ "Misure di sicurezza tecniche e organizzative",
		  ROPA_F_SECURITY, 0 },
		{ "Misure di sicurezza tecniche ed organizzative",
		  ROPA_F_SECURITY, 0 },
		{ "Note", -1, 0 },
		{ "", -1, 0 },
		{ "Comunità della Val di Non", -1, 0 },
		{ "Art. 30 Regolamento UE n. 679/2016", -1, 0 },
	};
	size_t	i;
	int	fuzzy, f;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		fuzzy = -1;
		f = ropa_header_field(cases[i].label, &fuzzy);
		if (f != cases[i].field || fuzzy != cases[i].fuzzy)
			fail_msg("\"%s\": field %d fuzzy %d, want %d %d",
			    cases[i].label, f, fuzzy, cases[i].field,
			    cases[i].fuzzy);
	}
	/* every label of the table names its own field, exactly */
	for (f = 0; f < ROPA_F_COUNT; f++) {
		assert_int_equal(ropa_header_field(ropa_field_labels[f],
		    &fuzzy), f);
		assert_int_equal(fuzzy, 0);
	}
}

static void
test_yesno(void **state)
{
	static const struct {
		const char	*in;
		int		 rc;
		enum ropa_yn	 yn;
	} cases[] = {
		{ "Si", 0, ROPA_YES }, { "Sì", 0, ROPA_YES },
		{ "SI", 0, ROPA_YES }, { "si", 0, ROPA_YES },
		{ " SÌ ", 0, ROPA_YES }, { "Sí", 0, ROPA_YES },
		{ "No", 0, ROPA_NO }, { "NO", 0, ROPA_NO },
		{ "no ", 0, ROPA_NO }, { "-", 0, ROPA_UNKNOWN },
		{ "", 0, ROPA_UNKNOWN }, { "  ", 0, ROPA_UNKNOWN },
		{ "forse", -1, ROPA_UNKNOWN }, { "Si, in parte", -1,
		  ROPA_UNKNOWN }, { "Sino", -1, ROPA_UNKNOWN },
		{ "Si No", -1, ROPA_UNKNOWN },
	};
	size_t		i;
	enum ropa_yn	yn;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		yn = (enum ropa_yn)99;
		assert_int_equal(ropa_yesno(cases[i].in, &yn), cases[i].rc);
		assert_int_equal(yn, cases[i].yn);
	}
}

/* ---- splitting ---- */

static void
assert_list(const struct ropa_list *l, const char *const *want)
{
	size_t	i;

	for (i = 0; want[i] != NULL; i++) {
		if (i >= l->n)
			fail_msg("%zu items, want more: \"%s\"", l->n, want[i]);
		if (strcmp(l->v[i], want[i]) != 0)
			fail_msg("item %zu \"%s\", want \"%s\"", i, l->v[i],
			    want[i]);
	}
	assert_int_equal(l->n, i);
}

static void
test_split_people(void **state)
{
	static const char *const five[] = { "Cavosi Fiorenzo",
	    "Guazzeroni Marco", "Inama Fabrizio", "Rosli Moreno",
	    "Zanella Paolo", NULL };
	/* line 111, staff: double given names, particles */
	static const char *const many[] = { "Abram Giliola",
	    "Adipietro Maria Assunta", "Albanese Adriana", "Balboni Francesca",
	    "Barbacovi Sara", "Brentari Elena", "Brentari Nadia",
	    "Busetti Antonella", "Busetti Daniela", "Busetti Elisabetta",
	    "Caoli Silvia", "Carlesso Beatrice", "Cattani Sandra",
	    "Clauser Antonella", "Concini Carolina", "Covi Violetta",
	    "Dapra Luciana", "De Biasi Tiziana", "De Luca Alda Maria",
	    "Dusini Vera", "Endrizz Marianna", "Fanti Marinella",
	    "Fedrizzi Maria Rosa", "Franch Stefania", "Gabardi Donatella",
	    "Galeaz Nora", "Giuliani Emanuela", "Guidarini Loretta",
	    "Largaioli Franca", NULL };
	static const char *const sonna[] = { "Recia Sara", "Sonna Anna Rita",
	    "Urmacher Daniela", NULL };
	static const char *const seps[] = { "Rossi Mario", "Bianchi Anna",
	    "Verdi Paolo", NULL };
	static const char *const accents[] = { "Corrà Enrico",
	    "Giuliani Emanuela", NULL };
	static const char *const odd[] = { "Rossi", "Bianchi Anna",
	    "Verdi Paolo", NULL };
	static const char *const with_dir[] = { "Rossi Bianchi Anna",
	    "Verdi Paolo", NULL };
	static const char *const directory[] = { "Verdi Paolo",
	    "Rossi Bianchi Anna", "Bianchi Anna" };
	static const char *const none[] = { NULL };
	struct ropa			 r;
	struct ropa_list		 l;
	const struct ropa_activity	*a;

	(void)state;
	parse_real(&r);
	a = act_at(&r, 90);	/* shifted, realigned */
	ropa_split_people(a->f[ROPA_F_MANAGERS], &l);
	assert_int_equal(l.n, 6);
	assert_string_equal(l.v[3], "Rosli Moreno");
	assert_string_equal(l.v[5], "Zanon Ivan");
	ropa_list_free(&l);
	a = act_at(&r, 54);	/* managers of line 54 */
	ropa_split_people(a->f[ROPA_F_MANAGERS], &l);
	assert_int_equal(l.n, 1);
	assert_string_equal(l.v[0], "Guazzeroni Marco");
	ropa_list_free(&l);
	a = act_at(&r, 111);
	assert_int_equal(ropa_split_people(a->f[ROPA_F_STAFF], &l), 29);
	assert_list(&l, many);
	ropa_list_free(&l);
	ropa_free(&r);

	ropa_split_people("Cavosi Fiorenzo Guazzeroni Marco Inama Fabrizio "
	    "Rosli Moreno Zanella Paolo", &l);
	assert_list(&l, five);
	ropa_list_free(&l);
	ropa_split_people("Recia Sara Sonna Anna Rita Urmacher Daniela", &l);
	assert_list(&l, sonna);
	ropa_list_free(&l);
	ropa_split_people("Rossi Mario, Bianchi Anna;\nVerdi  Paolo", &l);
	assert_list(&l, seps);
	ropa_list_free(&l);
	ropa_split_people("Corrà Enrico Giuliani Emanuela", &l);
	assert_list(&l, accents);
	ropa_list_free(&l);
	/* a double surname no heuristic can see ... */
	ropa_split_people("Rossi Bianchi Anna Verdi Paolo", &l);
	assert_list(&l, odd);
	ropa_list_free(&l);
	/* ... but the staff directory can: the longest known name wins */
	ropa_split_people_known("Rossi Bianchi Anna Verdi Paolo", directory,
	    nitems(directory), &l);
	assert_list(&l, with_dir);
	ropa_list_free(&l);
	/* case and accents do not count in the directory; items are the
	   cell's own words */
	ropa_split_people_known("CORRA ENRICO Zanon Ivan", (const char *[]){
	    "Corrà Enrico" }, 1, &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "CORRA ENRICO");
	ropa_list_free(&l);
	ropa_split_people("  ", &l);
	assert_list(&l, none);
	ropa_list_free(&l);
}

static void
test_split_categories(void **state)
{
	static const char *const data[] = { "Dati personali ordinari",
	    "Dati profilo online", "Dati particolari", "Dati giudiziari",
	    "Dati di localizzazione", "Dati finanziari", NULL };
	static const char *const subj[] = { "Cittadini", "Soggetti con "
	    "rapporti funzionali o di dipendenza dall'ente", "Utenti", NULL };
	static const char *const rec[] = { "Persone autorizzate",
	    "Altre Pubbliche Amministrazioni", "Soggetti terzi", NULL };
	static const char *const rec2[] = { "Persone autorizzate",
	    "Altri enti pubblici", NULL };
	static const char *const curly[] = { "Soggetti con rapporti "
	    "funzionali o di dipendenza dall’ente", "Cittadini", NULL };
	static const char *const unknown[] = { "Minori",
	    "Soggetti fragili seguiti dai servizi", "Famiglie affidatarie",
	    NULL };
	static const char *const data2[] = { "Dati anagrafici",
	    "Codice fiscale", "Dati relativi a Minori", "Dati sanitari",
	    NULL };
	struct ropa_list	l;

	(void)state;
	ropa_split_categories("Dati personali ordinari Dati profilo online "
	    "Dati particolari Dati giudiziari Dati di localizzazione Dati "
	    "finanziari", ROPA_CAT_DATA, &l);
	assert_list(&l, data);
	ropa_list_free(&l);
	ropa_split_categories("Cittadini Soggetti con rapporti funzionali o "
	    "di dipendenza dall'ente Utenti", ROPA_CAT_SUBJECTS, &l);
	assert_list(&l, subj);
	ropa_list_free(&l);
	ropa_split_categories("Persone autorizzate Altre Pubbliche "
	    "Amministrazioni Soggetti terzi", ROPA_CAT_RECIPIENTS, &l);
	assert_list(&l, rec);
	ropa_list_free(&l);
	ropa_split_categories("Persone autorizzate Altri enti pubblici",
	    ROPA_CAT_RECIPIENTS, &l);
	assert_list(&l, rec2);
	ropa_list_free(&l);
	/* a typographic apostrophe, as Windows-1252 exports have it */
	ropa_split_categories("Soggetti con rapporti funzionali o di "
	    "dipendenza dall’ente Cittadini", ROPA_CAT_SUBJECTS, &l);
	assert_list(&l, curly);
	ropa_list_free(&l);
	/* unknown phrases: vocabulary first, then capitals */
	ropa_split_categories("Minori Soggetti fragili seguiti dai servizi "
	    "Famiglie affidatarie", ROPA_CAT_SUBJECTS, &l);
	assert_list(&l, unknown);
	ropa_list_free(&l);
	ropa_split_categories("Dati anagrafici Codice fiscale Dati relativi "
	    "a Minori; Dati sanitari", ROPA_CAT_DATA, &l);
	assert_list(&l, data2);
	ropa_list_free(&l);
	assert_int_equal(ropa_split_categories("", ROPA_CAT_DATA, &l), 0);
	ropa_list_free(&l);
}

static void
test_split_processors(void **state)
{
	static const struct {
		const char	*cell;
		const char	*want[6];
	} cases[] = {
		{ "Clesius S.R.L. Trentino Digitale S.p.A.",
		  { "Clesius S.R.L.", "Trentino Digitale S.p.A." } },
		{ "G.P.I. Trentino Digitale S.p.A.",
		  { "G.P.I.", "Trentino Digitale S.p.A." } },
		{ "Municipia TRENTINO RISCOSSIONI S.P.A.",
		  { "Municipia", "TRENTINO RISCOSSIONI S.P.A." } },
		{ "PAPER Trentino Digitale S.p.A.",
		  { "PAPER", "Trentino Digitale S.p.A." } },
		{ "Avv. Giovanazzi Iaria Avvocatura distrettuale dello Stato "
		  "LEGALI INCARICATI", { "Avv. Giovanazzi Iaria",
		  "Avvocatura distrettuale dello Stato",
		  "LEGALI INCARICATI" } },
		{ "Cooperativa Il Lavoro IDEALSERVICE Logica s.r.l. Mestre",
		  { "Cooperativa Il Lavoro", "IDEALSERVICE",
		  "Logica s.r.l. Mestre" } },
		{ "Trentino Digitale S.p.A. arch. Eddy Pozzatti dott. "
		  "Claudio Baldessari Esri Ing. Giovanni Maria Barbareschi",
		  { "Trentino Digitale S.p.A.", "arch. Eddy Pozzatti",
		  "dott. Claudio Baldessari", "Esri",
		  "Ing. Giovanni Maria Barbareschi" } },
		{ "Studio Medico dott. Maurizio Cognola",
		  { "Studio Medico dott. Maurizio Cognola" } },
		{ "Consorzio Comuni Trentini",
		  { "Consorzio Comuni Trentini" } },
		{ "Agenzia delle Entrate", { "Agenzia delle Entrate" } },
		{ "Comune di Cles", { "Comune di Cles" } },
		{ "Pi&Esse Consulting", { "Pi&Esse Consulting" } },
		{ "Larcher Stefano", { "Larcher Stefano" } },
		{ "Ge.I.a.s.", { "Ge.I.a.s." } },
		{ "Rossi Srl Bianchi S.r.l.; Verdi SpA",
		  { "Rossi Srl", "Bianchi S.r.l.", "Verdi SpA" } },
	};
	struct ropa_list	l;
	size_t			i;
	static const char *const known[] = { "Giovacchini Trento" };

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		ropa_split_processors(cases[i].cell, NULL, 0, &l);
		assert_list(&l, cases[i].want);
		ropa_list_free(&l);
	}
	/* a name the daemon knows from an earlier import delimits too */
	ropa_split_processors("Giovacchini Trento Cassa Centrale", known, 1,
	    &l);
	assert_int_equal(l.n, 2);
	assert_string_equal(l.v[0], "Giovacchini Trento");
	assert_string_equal(l.v[1], "Cassa Centrale");
	ropa_list_free(&l);
}

/* ---- names ---- */

static void
test_name_distance(void **state)
{
	static const struct {
		const char	*a, *b;
		int		 d;
	} cases[] = {
		{ "Rosli Moreno", "Rossi Moreno", 1 },
		{ "Cavosi Firenze", "Cavosi Fiorenzo", 2 },
		{ "Borvicin Massimo", "Bonvicin Massimo", 1 },
		{ "Borvicini Massimo", "Bonvicin Massimo", 2 },
		{ "Borvinich Massimo", "Bonvicin Massimo", 4 },
		{ "Adigipietro Maria Assunta", "Adipietro Maria Assunta", 2 },
		{ "CORRÀ ENRICO", "Corra Enrico", 0 },
		{ "  Rossi   Moreno ", "Rossi Moreno", 0 },
		{ "Rsosi Moreno", "Rossi Moreno", 1 },	/* transposition */
		{ "ca", "abc", 2 },	/* unrestricted: not OSA's 3 */
		{ "", "abc", 3 },
		{ "", "", 0 },
		{ "Zanon Ivan", "Zanon Ivan", 0 },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(cases); i++) {
		assert_int_equal(ropa_name_distance(cases[i].a, cases[i].b),
		    cases[i].d);
		assert_int_equal(ropa_name_distance(cases[i].b, cases[i].a),
		    cases[i].d);
	}
}

/*
 * Damerau-Levenshtein (unrestricted) is a metric: symmetric, zero only
 * between equal strings, at least the difference of the lengths, at most
 * the longer length, and it keeps the triangle inequality (which the
 * restricted, "optimal string alignment" distance does not).
 */
static void
test_name_distance_metric(void **state)
{
	char	s[3][8];
	int	i, k, n, ab, bc, ac;

	(void)state;
	for (i = 0; i < 3000; i++) {
		for (k = 0; k < 3; k++) {
			n = (int)(rng() % 7);
			s[k][n] = '\0';
			while (n-- > 0)
				s[k][n] = (char)('a' + rng() % 3);
		}
		ab = ropa_name_distance(s[0], s[1]);
		bc = ropa_name_distance(s[1], s[2]);
		ac = ropa_name_distance(s[0], s[2]);
		assert_int_equal(ab, ropa_name_distance(s[1], s[0]));
		assert_true(ac <= ab + bc);
		assert_true((ab == 0) == (strcmp(s[0], s[1]) == 0));
		assert_true(ab >= abs((int)strlen(s[0]) - (int)strlen(s[1])));
		assert_true(ab <= (int)(strlen(s[0]) > strlen(s[1]) ?
		    strlen(s[0]) : strlen(s[1])));
	}
}

static void
test_best_match(void **state)
{
	static const char *const staff[] = { "Cavosi Fiorenzo",
	    "Guazzeroni Marco", "Inama Fabrizio", "Rossi Moreno",
	    "Zanella Paolo", "Bonvicin Massimo", "Rossi Giovanna" };
	int	d;

	(void)state;
	assert_int_equal(ropa_best_match("Rosli Moreno", staff,
	    nitems(staff), &d), 3);
	assert_int_equal(d, 1);
	assert_true(d <= ropa_near_miss_limit("Rosli Moreno"));
	assert_int_equal(ropa_best_match("Cavosi Firenze", staff,
	    nitems(staff), &d), 0);
	assert_int_equal(d, 2);
	assert_true(d <= ropa_near_miss_limit("Cavosi Firenze"));
	assert_int_equal(ropa_best_match("Borvinich Massimo", staff,
	    nitems(staff), &d), 5);
	assert_int_equal(d, 4);
	assert_int_equal(ropa_best_match("zanella paolo", staff,
	    nitems(staff), &d), 4);
	assert_int_equal(d, 0);
	/* nobody like him: the nearest is far beyond a near miss */
	ropa_best_match("Pancheri Matteo", staff, nitems(staff), &d);
	assert_true(d > ropa_near_miss_limit("Pancheri Matteo"));
	assert_int_equal(ropa_best_match("Rossi Moreno", staff, 0, &d), -1);
	assert_int_equal(d, -1);
	assert_int_equal(ropa_near_miss_limit("Rossi"), 1);
	assert_int_equal(ropa_near_miss_limit("Rossi Moreno"), 2);
	assert_int_equal(ropa_near_miss_limit("Cavosi Fiorenzo"), 3);
}

/* ---- large files ---- */

/*
 * A register of n rows made of the real rows that are activities (shifted
 * ones too), each name made unique by a number. *shifted gets how many
 * come from shifted lines.
 */
static char *
make_big(size_t n, size_t *len, size_t *shifted)
{
	size_t		 tl, i, nl = 0, k;
	char		*tsv = read_data(REAL_TSV, &tl), *p, *e;
	const char	*lines[128];
	size_t		 lens[128], lno[128];
	struct buf	 b;
	size_t		 line = 1;

	p = tsv;
	while (p < tsv + tl) {
		e = memchr(p, '\n', (size_t)(tsv + tl - p));
		if (e == NULL)
			e = tsv + tl;
		/* activities: lines 8-117 with a name */
		if (line >= 8 && e > p && *p != '\t') {
			lines[nl] = p;
			lens[nl] = (size_t)(e - p);
			lno[nl] = line;
			nl++;
		}
		p = e + 1;
		line++;
	}
	assert_int_equal(nl, 104);
	buf_init(&b);
	buf_adds(&b, "Registro\n");
	p = memchr(tsv, 'D', tl);	/* the header row */
	e = memchr(p, '\n', (size_t)(tsv + tl - p));
	buf_add(&b, p, (size_t)(e - p + 1));
	*shifted = 0;
	for (i = 0; i < n; i++) {
		const char	*tab;

		k = i % nl;
		tab = memchr(lines[k], '\t', lens[k]);
		buf_add(&b, lines[k], (size_t)(tab - lines[k]));
		buf_addf(&b, " %zu", i);
		buf_add(&b, tab, lens[k] - (size_t)(tab - lines[k]));
		buf_add(&b, "\n", 1);
		if ((lno[k] >= 29 && lno[k] <= 104) || lno[k] == 113 ||
		    lno[k] == 114)
			(*shifted)++;
	}
	free(tsv);
	*len = b.len;
	return buf_take(&b);
}

static double
now_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
test_benchmark_10000(void **state)
{
	struct ropa	 r;
	size_t		 len, shifted;
	char		*big = make_big(10000, &len, &shifted);
	double		 t0, t;

	(void)state;
	t0 = now_s();
	parse_ok(big, len, &r);
	t = now_s() - t0;
	assert_int_equal(r.nact, 10000);
	assert_int_equal(r.realigned, shifted);
	assert_int_equal(r.act[9999].line, 10002);
	fprintf(stderr, "test_ropa: 10000 rows, %zu bytes, parsed in %.0f ms "
	    "(%.0f rows/s, %.1f MB/s; this build has ASan/UBSan)\n", len,
	    t * 1e3, 10000 / t, (double)len / t / 1e6);
	ropa_free(&r);
	free(big);
}

struct progress {
	size_t	calls, last, total;
	int	backwards;
};

static void
on_progress(size_t done, size_t total, void *arg)
{
	struct progress	*p = arg;

	if (done < p->last)
		p->backwards = 1;
	p->calls++;
	p->last = done;
	p->total = total;
}

static void
test_progress(void **state)
{
	struct ropa		 r;
	struct progress		 pr = { 0, 0, 0, 0 };
	struct ropa_opts	 o;
	size_t			 len, shifted;
	char			*big = make_big(5000, &len, &shifted), *cause;

	(void)state;
	memset(&o, 0, sizeof(o));
	o.progress = on_progress;
	o.arg = &pr;
	o.every = 500;
	assert_int_equal(ropa_parse_opts(big, len, &o, &r, &cause), 0);
	/* 5002 records: 10 calls on the way and one at the end */
	assert_int_equal(pr.calls, 11);
	assert_false(pr.backwards);
	assert_int_equal(pr.last, len);
	assert_int_equal(pr.total, len);
	ropa_free(&r);
	free(big);
}

/*
 * Mutations of the real file (bytes changed, delimiters, quotes and line
 * ends thrown in, cuts) never crash and keep the promises: every row is
 * an activity or reported, anomalies come in line order, no activity is
 * nameless, and every line number is in the file.
 */
static void
test_mutations(void **state)
{
	static const char	noise[] = "\t;,\"\r\n \x01\xC3\xE0";
	struct ropa		 r;
	size_t			 len, n, i, k, j;
	char			*tsv = read_data(REAL_TSV, &len), *x, *cause;

	(void)state;
	x = xmalloc(len);
	for (i = 0; i < 120; i++) {
		memcpy(x, tsv, len);
		n = len - (i % 3 == 0 ? rng() % len : 0);
		for (k = rng() % 20; k > 0; k--)
			x[rng() % n] = rng() % 2 ? noise[rng() %
			    (sizeof(noise) - 1)] : (char)rng();
		cause = NULL;
		if (ropa_parse(x, n, &r, &cause) != 0) {
			assert_non_null(cause);
			free(cause);
			continue;
		}
		assert_int_equal(r.rows, r.nact + r.dropped);
		for (j = 0; j < r.nact; j++) {
			assert_true(r.act[j].f[ROPA_F_NAME][0] != '\0');
			assert_true(r.act[j].line > r.header_line);
			assert_true(r.act[j].line <= r.lines);
			assert_true(j == 0 || r.act[j].line >
			    r.act[j - 1].line);
		}
		for (j = 0; j < r.nanom; j++) {
			assert_true(r.anom[j].line >= 1);
			assert_true(r.anom[j].line <= r.lines);
			assert_true(j == 0 || r.anom[j].line >=
			    r.anom[j - 1].line);
		}
		ropa_free(&r);
	}
	free(x);
	free(tsv);
}

/* Well-formed UTF-8 on one line: what an anomaly text must be. */
static int
one_line_utf8(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	int			 n;

	while (*p != '\0') {
		if (*p == '\n')
			return 0;
		n = *p < 0x80 ? 0 : (*p & 0xE0) == 0xC0 ? 1 :
		    (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
		if (n < 0)
			return 0;
		for (p++; n > 0; n--, p++)
			if ((*p & 0xC0) != 0x80)
				return 0;
	}
	return 1;
}

/* What fuzz_ropa found, each one a test. */
static void
test_fuzz_regressions(void **state)
{
	struct ropa	 r;
	struct buf	 b;
	char		*cause = NULL;
	size_t		 i, k, unknown = 0;

	(void)state;
	/* an unknown header of two-byte letters, quoted cut to 60 bytes,
	   and a header on two lines: every detail one line of UTF-8 */
	buf_init(&b);
	buf_adds(&b, "Denominazione\tStrutture\tx");	/* odd: cut inside */
	for (i = 0; i < 45; i++)
		buf_adds(&b, "à");
	buf_adds(&b, "\t\"Note\ninterne\"\nA\tB\tC\tD\n");
	parse_ok(b.data, b.len, &r);
	for (i = 0; i < r.nanom; i++) {
		assert_true(one_line_utf8(r.anom[i].detail));
		if (r.anom[i].kind == ROPA_A_UNKNOWN_COLUMN)
			unknown++;
	}
	assert_int_equal(unknown, 2);
	assert_int_equal(r.nact, 1);
	ropa_free(&r);

	/* Denominazione past the 64 columns read is no Denominazione */
	b.len = 0;
	for (k = 0; k < 66; k++)
		buf_addf(&b, "Colonna %zu\t", k);
	buf_adds(&b, "Strutture\tFinalità\tDenominazione\nA\n");
	assert_int_equal(ropa_parse(b.data, b.len, &r, &cause), -1);
	assert_non_null(cause);
	free(cause);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_counts),
		cmocka_unit_test(test_real_anomalies),
		cmocka_unit_test(test_real_every_line_accounted),
		cmocka_unit_test(test_real_yes_no),
		cmocka_unit_test(test_real_shifted_row),
		cmocka_unit_test(test_real_extra_cells_and_nameless),
		cmocka_unit_test(test_cp1252_csv_same),
		cmocka_unit_test(test_other_encodings_same),
		cmocka_unit_test(test_quoted_fields),
		cmocka_unit_test(test_reordered_and_unknown_columns),
		cmocka_unit_test(test_rows_not_imported),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_header_names),
		cmocka_unit_test(test_yesno),
		cmocka_unit_test(test_split_people),
		cmocka_unit_test(test_split_categories),
		cmocka_unit_test(test_split_processors),
		cmocka_unit_test(test_name_distance),
		cmocka_unit_test(test_name_distance_metric),
		cmocka_unit_test(test_best_match),
		cmocka_unit_test(test_benchmark_10000),
		cmocka_unit_test(test_progress),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_fuzz_regressions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
