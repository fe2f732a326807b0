/*
 * ropa.c: reads a register of processing activities (GDPR art. 30) as a
 * body's spreadsheet exports it, and splits its run-together cells. The
 * input is untrusted and messy: the encoding, the line ends and the
 * delimiter are guessed, the header row is looked for below title lines and
 * its names are matched leniently, and a row shifted by a missing or extra
 * cell is put back by what its cells hold (an alignment of cells to columns
 * by content, like aligning two sequences). Every line that does not become
 * an activity, and every repair, is reported with its physical line.
 *
 * It is pure: no I/O, no logging, no locale, no global state that changes,
 * so dsrd and dsrctl get the same answer and the tests run in
 * microseconds. It must never put a cell's content in an anomaly text (the
 * cells name people), and never fail on a malformed row: only a file with
 * nothing to read is an error.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ropa.h"
#include "util.h"

#define MAX_COLS	64	/* header columns considered */
#define EXTRA_WINDOW	8	/* cells past the header aligned at all */
#define HEADER_SCAN	64	/* records searched for the header */
#define MAX_QUOTE_FAILS	16	/* then quotes are read as characters */
#define DIST_MAX	512	/* characters compared by the distance */

const char *const ropa_field_names[ROPA_F_COUNT] = {
	[ROPA_F_NAME] = "name",
	[ROPA_F_PURPOSE] = "purpose",
	[ROPA_F_JOINT] = "joint_controller",
	[ROPA_F_OFFICE] = "office",
	[ROPA_F_MANAGERS] = "managers",
	[ROPA_F_STAFF] = "staff",
	[ROPA_F_PROCESSORS] = "processors",
	[ROPA_F_INDEPENDENT] = "independent_controllers",
	[ROPA_F_SOFTWARE] = "software",
	[ROPA_F_DATA] = "data_categories",
	[ROPA_F_RETENTION] = "retention",
	[ROPA_F_SUBJECTS] = "subject_categories",
	[ROPA_F_RECIPIENTS] = "recipient_categories",
	[ROPA_F_CLOUD] = "cloud",
	[ROPA_F_TRANSFERS] = "transfers",
	[ROPA_F_FOR_OTHERS] = "processor_for_others",
	[ROPA_F_CONTROLLER] = "controller",
	[ROPA_F_SECURITY] = "security_measures",
};

const char *const ropa_field_labels[ROPA_F_COUNT] = {
	[ROPA_F_NAME] = "Denominazione",
	[ROPA_F_PURPOSE] = "Finalità",
	[ROPA_F_JOINT] = "Contitolare",
	[ROPA_F_OFFICE] = "Strutture",
	[ROPA_F_MANAGERS] = "Designati",
	[ROPA_F_STAFF] = "Incaricati",
	[ROPA_F_PROCESSORS] = "Responsabili",
	[ROPA_F_INDEPENDENT] = "Titolari autonomi",
	[ROPA_F_SOFTWARE] = "Software e servizi",
	[ROPA_F_DATA] = "Categorie dati personali",
	[ROPA_F_RETENTION] = "Termine di cancellazione dei dati",
	[ROPA_F_SUBJECTS] = "Categorie interessati",
	[ROPA_F_RECIPIENTS] = "Categorie destinatari",
	[ROPA_F_CLOUD] = "In modalità cloud",
	[ROPA_F_TRANSFERS] = "Trasferimenti in banche dati",
	[ROPA_F_FOR_OTHERS] = "Responsabile conto terzi",
	[ROPA_F_CONTROLLER] = "Titolare",
	[ROPA_F_SECURITY] = "Misure di sicurezza tecniche e organizzative",
};

const char *const ropa_yn_names[3] = { "unknown", "yes", "no" };

const char *const ropa_encoding_names[ROPA_ENC_COUNT] = {
	[ROPA_ENC_UTF8] = "utf-8",
	[ROPA_ENC_UTF8_BOM] = "utf-8-bom",
	[ROPA_ENC_CP1252] = "windows-1252",
	[ROPA_ENC_UTF16LE] = "utf-16le",
	[ROPA_ENC_UTF16BE] = "utf-16be",
};

const char *const ropa_eol_names[ROPA_EOL_COUNT] = {
	[ROPA_EOL_NONE] = "none",
	[ROPA_EOL_LF] = "lf",
	[ROPA_EOL_CRLF] = "crlf",
	[ROPA_EOL_CR] = "cr",
};

const char *const ropa_anomaly_names[ROPA_A_COUNT] = {
	[ROPA_A_BLANK] = "blank",
	[ROPA_A_NO_NAME] = "no_name",
	[ROPA_A_NAME_ONLY] = "name_only",
	[ROPA_A_DUPLICATE] = "duplicate",
	[ROPA_A_HEADER_AGAIN] = "header_again",
	[ROPA_A_REALIGNED] = "realigned",
	[ROPA_A_EXTRA_CELLS] = "extra_cells",
	[ROPA_A_NOT_YES_NO] = "not_yes_no",
	[ROPA_A_CONTROL_CHARS] = "control_chars",
	[ROPA_A_QUOTE] = "unterminated_quote",
	[ROPA_A_UNKNOWN_COLUMN] = "unknown_column",
	[ROPA_A_MISSING_COLUMN] = "missing_column",
	[ROPA_A_DUPLICATE_COLUMN] = "duplicate_column",
	[ROPA_A_HEADER_FUZZY] = "header_fuzzy",
};

int
ropa_anomaly_drops_row(enum ropa_anomaly_kind k)
{
	switch (k) {
	case ROPA_A_BLANK:
	case ROPA_A_NO_NAME:
	case ROPA_A_NAME_ONLY:
	case ROPA_A_DUPLICATE:
	case ROPA_A_HEADER_AGAIN:
		return 1;
	case ROPA_A_REALIGNED:
	case ROPA_A_EXTRA_CELLS:
	case ROPA_A_NOT_YES_NO:
	case ROPA_A_CONTROL_CHARS:
	case ROPA_A_QUOTE:
	case ROPA_A_UNKNOWN_COLUMN:
	case ROPA_A_MISSING_COLUMN:
	case ROPA_A_DUPLICATE_COLUMN:
	case ROPA_A_HEADER_FUZZY:
	case ROPA_A_COUNT:
		return 0;
	}
	return 0;
}

/* ---- UTF-8 ---- */

/*
 * Decodes one code point of well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF). Returns its length, or 0
 * when the bytes are not well-formed.
 */
static size_t
u8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	uint32_t	c;
	size_t		len, i;

	if (n == 0)
		return 0;
	c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		c &= 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		c &= 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		c &= 0x07;
	} else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* Like u8_next, but an ill-formed byte reads as U+FFFD of length 1. */
static size_t
u8_next_lenient(const unsigned char *s, size_t n, uint32_t *cp)
{
	size_t	l;

	if ((l = u8_next(s, n, cp)) == 0) {
		*cp = 0xFFFD;
		l = 1;
	}
	return l;
}

static void
u8_put(struct buf *b, uint32_t c)
{
	unsigned char	o[4];
	size_t		n;

	if (c < 0x80) {
		o[0] = (unsigned char)c;
		n = 1;
	} else if (c < 0x800) {
		o[0] = (unsigned char)(0xC0 | (c >> 6));
		o[1] = (unsigned char)(0x80 | (c & 0x3F));
		n = 2;
	} else if (c < 0x10000) {
		o[0] = (unsigned char)(0xE0 | (c >> 12));
		o[1] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
		o[2] = (unsigned char)(0x80 | (c & 0x3F));
		n = 3;
	} else {
		o[0] = (unsigned char)(0xF0 | (c >> 18));
		o[1] = (unsigned char)(0x80 | ((c >> 12) & 0x3F));
		o[2] = (unsigned char)(0x80 | ((c >> 6) & 0x3F));
		o[3] = (unsigned char)(0x80 | (c & 0x3F));
		n = 4;
	}
	buf_add(b, o, n);
}

/* ---- decoding the input ---- */

/* Windows-1252 0x80..0x9F; the five holes become U+FFFD. */
static const uint16_t cp1252_c1[32] = {
	0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
	0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
	0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
	0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

static int
valid_utf8(const unsigned char *p, size_t n)
{
	uint32_t	c;
	size_t		i = 0, l;

	while (i < n) {
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((l = u8_next(p + i, n - i, &c)) == 0)
			return 0;
		i += l;
	}
	return 1;
}

static void
decode_utf16(const unsigned char *p, size_t n, int be, struct buf *out)
{
	size_t		i;
	uint32_t	u, v;

	for (i = 0; i + 1 < n; i += 2) {
		u = be ? (uint32_t)p[i] << 8 | p[i + 1] :
		    (uint32_t)p[i + 1] << 8 | p[i];
		if (u >= 0xD800 && u <= 0xDBFF && i + 3 < n) {
			v = be ? (uint32_t)p[i + 2] << 8 | p[i + 3] :
			    (uint32_t)p[i + 3] << 8 | p[i + 2];
			if (v >= 0xDC00 && v <= 0xDFFF) {
				u = 0x10000 + ((u - 0xD800) << 10) +
				    (v - 0xDC00);
				i += 2;
			} else
				u = 0xFFFD;
		} else if (u >= 0xD800 && u <= 0xDFFF)
			u = 0xFFFD;
		u8_put(out, u);
	}
	if (i < n)
		u8_put(out, 0xFFFD);
}

/*
 * Spreadsheets save "Unicode text" as UTF-16, usually with a BOM; without
 * one, text in a Latin script shows as a zero byte in every other place.
 */
static int
looks_utf16(const unsigned char *p, size_t n, int *be)
{
	size_t	i, m = n < 1024 ? n : 1024, even = 0, odd = 0;

	if (m < 4)
		return 0;
	for (i = 0; i + 1 < m; i += 2) {
		even += p[i] == 0;
		odd += p[i + 1] == 0;
	}
	if (odd * 10 > m / 2 * 6 && even * 20 < m / 2) {
		*be = 0;
		return 1;
	}
	if (even * 10 > m / 2 * 6 && odd * 20 < m / 2) {
		*be = 1;
		return 1;
	}
	return 0;
}

static enum ropa_encoding
decode_input(const unsigned char *p, size_t n, struct buf *out)
{
	size_t	i;
	int	be;

	if (n >= 2 && p[0] == 0xFF && p[1] == 0xFE) {
		decode_utf16(p + 2, n - 2, 0, out);
		return ROPA_ENC_UTF16LE;
	}
	if (n >= 2 && p[0] == 0xFE && p[1] == 0xFF) {
		decode_utf16(p + 2, n - 2, 1, out);
		return ROPA_ENC_UTF16BE;
	}
	if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF &&
	    valid_utf8(p + 3, n - 3)) {
		buf_add(out, p + 3, n - 3);
		return ROPA_ENC_UTF8_BOM;
	}
	if (looks_utf16(p, n, &be)) {
		decode_utf16(p, n, be, out);
		return be ? ROPA_ENC_UTF16BE : ROPA_ENC_UTF16LE;
	}
	if (valid_utf8(p, n)) {
		buf_add(out, p, n);
		return ROPA_ENC_UTF8;
	}
	for (i = 0; i < n; i++) {
		if (p[i] < 0x80) {
			size_t	j = i;

			while (j < n && p[j] < 0x80)
				j++;
			buf_add(out, p + i, j - i);
			i = j - 1;
		} else if (p[i] < 0xA0)
			u8_put(out, cp1252_c1[p[i] - 0x80]);
		else
			u8_put(out, p[i]);
	}
	return ROPA_ENC_CP1252;
}

/* ---- folding: case, accents, typographic punctuation ---- */

/* U+00C0..U+00FF to their base letter; 0 keeps the character. */
static const char latin1_base[64] = {
	'a', 'a', 'a', 'a', 'a', 'a', 'a', 'c', 'e', 'e', 'e', 'e',
	'i', 'i', 'i', 'i', 'd', 'n', 'o', 'o', 'o', 'o', 'o', 0,
	'o', 'u', 'u', 'u', 'u', 'y', 0, 0,
	'a', 'a', 'a', 'a', 'a', 'a', 'a', 'c', 'e', 'e', 'e', 'e',
	'i', 'i', 'i', 'i', 'd', 'n', 'o', 'o', 'o', 'o', 'o', 0,
	'o', 'u', 'u', 'u', 'u', 'y', 0, 'y',
};

/* One code point in, one out: folding never changes token boundaries. */
static uint32_t
fold_cp(uint32_t c)
{
	if (c < 0x80)
		return c >= 'A' && c <= 'Z' ? c + 32 : c;
	if (c >= 0xC0 && c <= 0xFF && latin1_base[c - 0xC0] != 0)
		return (uint32_t)latin1_base[c - 0xC0];
	switch (c) {
	case 0x2018: case 0x2019: case 0x201B: case 0x00B4: case 0x02BC:
		return '\'';
	case 0x201C: case 0x201D: case 0x00AB: case 0x00BB:
		return '"';
	case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014:
		return '-';
	case 0x0152: case 0x0153:
		return 'o';
	case 0x0160: case 0x0161:
		return 's';
	case 0x017D: case 0x017E:
		return 'z';
	case 0x0178:
		return 'y';
	}
	if (c >= 0x100 && c <= 0x17F)	/* Latin Extended-A: pairs */
		return c | 1;
	return c;
}

static void
fold_into(struct buf *out, const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0;
	uint32_t		 c;

	while (i < n) {
		if (p[i] < 0x80) {	/* a run of ASCII, lowered in place */
			size_t	e = i + 1, at = out->len, k;

			while (e < n && p[e] < 0x80)
				e++;
			buf_add(out, s + i, e - i);
			for (k = at; k < out->len; k++)
				if (out->data[k] >= 'A' && out->data[k] <= 'Z')
					out->data[k] = (char)(out->data[k] + 32);
			i = e;
			continue;
		}
		i += u8_next_lenient(p + i, n - i, &c);
		u8_put(out, fold_cp(c));
	}
}

static int
is_space_cp(uint32_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\v' || c == '\f' || c == 0xA0 || (c >= 0x2000 &&
	    c <= 0x200A) || c == 0x202F || c == 0x205F || c == 0x3000;
}

/* ---- tokens: words of a cell with their folded forms ---- */

struct span {
	size_t	off, len;
};

struct toks {
	const char	*src;
	size_t		 n, cap;
	struct span	*o;	/* in src */
	struct span	*f;	/* in fb.data */
	struct buf	 fb;
};

static void
toks_init(struct toks *t)
{
	memset(t, 0, sizeof(*t));
	buf_init(&t->fb);
}

static void
toks_free(struct toks *t)
{
	free(t->o);
	free(t->f);
	buf_free(&t->fb);
	memset(t, 0, sizeof(*t));
}

/* Splits s[0..n) at white space (NBSP and friends too). */
static void
toks_split(struct toks *t, const char *s, size_t n)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 i = 0, l, start;
	uint32_t		 c;

	t->src = s;
	t->n = 0;
	t->fb.len = 0;
	while (i < n) {
		if (p[i] < 0x80) {
			c = p[i];
			l = 1;
		} else
			l = u8_next_lenient(p + i, n - i, &c);
		if (is_space_cp(c)) {
			i += l;
			continue;
		}
		start = i;
		while (i < n) {
			if (p[i] > 0x20 && p[i] < 0x80) {
				i++;
				continue;
			}
			l = u8_next_lenient(p + i, n - i, &c);
			if (is_space_cp(c))
				break;
			i += l;
		}
		if (t->n == t->cap) {
			t->cap = t->cap ? t->cap * 2 : 16;
			t->o = xreallocarray(t->o, t->cap, sizeof(*t->o));
			t->f = xreallocarray(t->f, t->cap, sizeof(*t->f));
		}
		t->o[t->n].off = start;
		t->o[t->n].len = i - start;
		t->f[t->n].off = t->fb.len;
		fold_into(&t->fb, s + start, i - start);
		t->f[t->n].len = t->fb.len - t->f[t->n].off;
		t->n++;
	}
}

static const char *
tf(const struct toks *t, size_t k, size_t *len)
{
	*len = t->f[k].len;
	return t->fb.data + t->f[k].off;
}

static const char *
to(const struct toks *t, size_t k)
{
	return t->src + t->o[k].off;
}

/* Folded token k equals the ASCII word w. */
static int
tok_is(const struct toks *t, size_t k, const char *w)
{
	size_t		 len;
	const char	*s = tf(t, k, &len);

	return strlen(w) == len && memcmp(s, w, len) == 0;
}

/*
 * Folded token k, without trailing ',' ';' ':', is one of words[]. These
 * run for every word of every cell: the first byte rejects most words.
 */
static int
tok_in(const struct toks *t, size_t k, const char *const *words)
{
	size_t		 len, i;
	const char	*s = tf(t, k, &len), *w;

	while (len > 1 && (s[len - 1] == ',' || s[len - 1] == ';' ||
	    s[len - 1] == ':'))
		len--;
	for (; (w = *words) != NULL; words++) {
		if (w[0] != s[0])
			continue;
		for (i = 1; i < len && w[i] == s[i]; i++)
			;
		if (i == len && w[i] == '\0')
			return 1;
	}
	return 0;
}

/*
 * Tokens k.. spell the folded phrase (words separated by one space).
 * Returns the number of tokens matched, or 0.
 */
static size_t
tok_phrase(const struct toks *t, size_t k, const char *p)
{
	size_t		 m = 0, len, i;
	const char	*s;

	while (*p != '\0') {
		if (k + m >= t->n)
			return 0;
		s = tf(t, k + m, &len);
		for (i = 0; i < len && p[i] == s[i]; i++)
			;
		if (i < len || (p[i] != ' ' && p[i] != '\0'))
			return 0;
		m++;
		p += i;
		if (*p == ' ')
			p++;
	}
	return m;
}

/* First character an upper-case letter (ASCII or Latin-1). */
static int
tok_capital(const struct toks *t, size_t k)
{
	const unsigned char	*s = (const unsigned char *)to(t, k);
	uint32_t		 c;

	if (u8_next(s, t->o[k].len, &c) == 0)
		return 0;
	return (c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE &&
	    c != 0xD7);
}

static int
tok_lower(const struct toks *t, size_t k)
{
	const unsigned char	*s = (const unsigned char *)to(t, k);
	uint32_t		 c;

	if (u8_next(s, t->o[k].len, &c) == 0)
		return 0;
	return (c >= 'a' && c <= 'z') || (c >= 0xDF && c <= 0xFF &&
	    c != 0xF7);
}

/* Two or more ASCII letters and no lower-case one ("APAC", "S.P.A."). */
static int
tok_allcaps(const struct toks *t, size_t k)
{
	const char	*s = to(t, k);
	size_t		 i, letters = 0;

	for (i = 0; i < t->o[k].len; i++) {
		if (s[i] >= 'a' && s[i] <= 'z')
			return 0;
		if ((unsigned char)s[i] >= 0x80)
			return 0;
		letters += s[i] >= 'A' && s[i] <= 'Z';
	}
	return letters >= 2;
}

/* A capitalised word of letters: "Rossi", "D'Angelo", "Corrà". */
static int
tok_nameword(const struct toks *t, size_t k)
{
	const char	*s = to(t, k);
	size_t		 i;

	if (!tok_capital(t, k) || t->o[k].len < 2)
		return 0;
	for (i = 1; i < t->o[k].len; i++) {
		unsigned char	c = (unsigned char)s[i];

		if (c >= 0x80 || (c >= 'a' && c <= 'z') || c == '\'' ||
		    c == '-')
			continue;
		/* "D'Angelo", "Rossi-Bianchi": a capital after ' or - */
		if (c >= 'A' && c <= 'Z' && (s[i - 1] == '\'' ||
		    s[i - 1] == '-'))
			continue;
		return 0;
	}
	return 1;
}

/* Letters with two or more dots: "G.P.I.", "A.L.F.I.D.", "Ge.I.a.s.". */
static int
tok_dotted(const struct toks *t, size_t k)
{
	const char	*s = to(t, k);
	size_t		 i, dots = 0;

	for (i = 0; i < t->o[k].len; i++) {
		if (s[i] == '.')
			dots++;
		else if (!((s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	}
	return dots >= 2;
}

static void
join_tokens(struct buf *b, const struct toks *t, size_t from, size_t to_)
{
	size_t	k;

	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
	for (k = from; k < to_; k++) {
		if (k > from)
			buf_add(b, " ", 1);
		buf_add(b, to(t, k), t->o[k].len);
	}
}

/*
 * Makes room for element n of an array that grows by one at a time; the
 * capacity is implicit (16, then the powers of two), so that appending n
 * elements copies O(n) bytes, not O(n^2) (ASan's realloc always moves).
 */
static void *
grow(void *p, size_t n, size_t size)
{
	if (n == 0)
		return xreallocarray(p, 16, size);
	if (n >= 16 && (n & (n - 1)) == 0)
		return xreallocarray(p, n * 2, size);
	return p;
}

static void
list_add(struct ropa_list *l, const char *s, size_t n)
{
	l->v = grow(l->v, l->n, sizeof(*l->v));
	l->v[l->n++] = xstrndup(s, n);
}

static void
list_add_tokens(struct ropa_list *l, const struct toks *t, size_t from,
    size_t to_)
{
	struct buf	b;

	if (from >= to_)
		return;
	buf_init(&b);
	join_tokens(&b, t, from, to_);
	list_add(l, b.data, b.len);
	buf_free(&b);
}

void
ropa_list_free(struct ropa_list *l)
{
	size_t	i;

	if (l == NULL)
		return;
	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/* ---- vocabularies (folded) ---- */

/* Phrases of the subject and recipient categories seen in registers. */
static const char *const subject_phrases[] = {
	"soggetti con rapporti funzionali o di dipendenza dall'ente",
	"soggetti con rapporti funzionali o di dipendenza con l'ente",
	"soggetti con rapporti di lavoro",
	"personale dipendente", "dipendenti", "cittadini", "utenti",
	"utenti del servizio", "amministratori", "amministratori locali",
	"consiglieri", "candidati", "fornitori", "contribuenti", "studenti",
	"alunni", "minori", "familiari", "genitori", "beneficiari",
	"richiedenti", "professionisti", "visitatori", "segnalanti",
	"collaboratori", "volontari", "tirocinanti", "assistiti", "pazienti",
	"residenti", "elettori", "contraenti", "imprese", "soggetti terzi",
	NULL
};

static const char *const recipient_phrases[] = {
	"persone autorizzate", "altre pubbliche amministrazioni",
	"altri enti pubblici", "soggetti terzi", "enti pubblici",
	"pubbliche amministrazioni", "responsabili del trattamento",
	"responsabili esterni", "autorita giudiziaria",
	"autorita giudiziarie", "forze dell'ordine", "enti previdenziali",
	"enti assistenziali", "istituti bancari", "istituti di credito",
	"tesoriere", "organi di controllo", "compagnie assicurative",
	"societa partecipate", "incaricati", "amministrazione finanziaria",
	"autorita di controllo", "organismi sanitari", NULL
};

/* Words that name an office: "Servizio ...", "Ufficio ...". */
static const char *const office_words[] = {
	"servizio", "ufficio", "segreteria", "settore", "area", "direzione",
	"dipartimento", "struttura", "unita", "u.o.", "uo", "sportello",
	"polizia", "corpo", "ragioneria", "biblioteca", "segretario",
	"segretariato", "comando", "staff", NULL
};

static const char *const company_suffixes[] = {
	"s.p.a.", "s.p.a", "spa", "s.r.l.", "s.r.l", "srl", "s.r.l.s.",
	"srls", "s.n.c.", "snc", "s.a.s.", "sas", "s.c.a.r.l.", "scarl",
	"s.c.r.l.", "scrl", "s.c.", "s.c.p.a.", "scpa", "soc.coop.",
	"coop.", "onlus", "ltd", "ltd.", "gmbh", "inc.", "inc", "s.s.",
	"s.s.d.", "a.s.d.", "s.a.", "b.v.", "llc", NULL
};

/* Words that begin an organisation's name. */
static const char *const org_words[] = {
	"avvocatura", "agenzia", "comune", "consorzio", "cooperativa",
	"studio", "provincia", "regione", "azienda", "istituto",
	"fondazione", "associazione", "societa", "banca", "cassa",
	"ministero", "universita", "camera", "ordine", "unione",
	"federazione", "poste", "ente", "comunita", "tribunale",
	"prefettura", "questura", NULL
};

static const char *const prof_titles[] = {
	"avv.", "avv", "dott.", "dott", "dott.ssa", "dr.", "dr", "arch.",
	"arch", "ing.", "ing", "geom.", "geom", "rag.", "rag", "prof.",
	"prof", "p.i.", "per.ind.", "sig.", "sig.ra", "notaio", NULL
};

/* Processors known from real registers: they delimit run-together cells. */
static const char *const known_processors[] = {
	"trentino digitale s.p.a.", "trentino digitale", "clesius",
	"g.p.i.", "gpi", "consorzio dei comuni trentini",
	"consorzio comuni trentini", "municipia", "trentino riscossioni",
	"esri", "paper", "idealservice", "infocert", "aruba", "maggioli",
	"halley", "dedagroup", "insiel", "pagopa", "apac", "inser",
	"sidera", "google", "microsoft", "agenzia delle entrate",
	"agenzia delle entrate-riscossione", "poste italiane", NULL
};

/* Lower-case words that join a phrase rather than end it. */
static const char *const function_words[] = {
	"di", "del", "dei", "degli", "della", "delle", "dello", "dell'",
	"d'", "e", "ed", "o", "od", "in", "a", "al", "alla", "alle", "ai",
	"agli", "allo", "per", "con", "da", "dal", "dalla", "dai", "dagli",
	"su", "sul", "sulla", "tra", "fra", "il", "lo", "la", "i", "gli",
	"le", "l'", "un", "una", "uno", NULL
};

/* Surname particles: "De Luca", "Dalla Torre". */
static const char *const particles[] = {
	"de", "di", "da", "dal", "dalla", "dalle", "dallo", "del", "della",
	"dello", "dei", "degli", "delle", "la", "lo", "li", "van", "von",
	"mc", "mac", "d'", NULL
};

/*
 * Italian given names (and those of the register): they tell a double
 * given name ("Maria Assunta") from the next person's surname.
 */
static const char *const given_names[] = {
	"abramo", "ada", "adele", "adriana", "adriano", "agata", "agnese",
	"agostino", "alba", "alberto", "alda", "aldo", "alessandra",
	"alessandro", "alessia", "alessio", "alfredo", "alice", "alida",
	"alma", "amalia", "ambra", "andrea", "angela", "angelo", "anna",
	"annalisa", "antonella", "antonia", "antonietta", "antonio",
	"arianna", "armando", "arturo", "assunta", "aurora", "barbara",
	"beatrice", "benedetta", "bernardo", "bianca", "bruna", "bruno",
	"camilla", "carla", "carlo", "carlotta", "carmela", "carmen",
	"carolina", "caterina", "cecilia", "cesare", "chiara", "christian",
	"cinzia", "clara", "claudia", "claudio", "concetta", "corrado",
	"cristian", "cristina", "cristiano", "daniela", "daniele", "dario",
	"daria", "davide", "debora", "denis", "diana", "diego", "dino",
	"domenico", "donatella", "donato", "edoardo", "elena", "eleonora",
	"elisa", "elisabetta", "emanuela", "emanuele", "emilia", "emilio",
	"emma", "enrica", "enrico", "enzo", "erica", "ernesto", "ester",
	"ettore", "eugenio", "eva", "fabio", "fabiola", "fabrizio",
	"federica", "federico", "filippo", "fiora", "fiorenza", "fiorenzo",
	"flavia", "flavio", "franca", "francesca", "francesco", "franco",
	"gabriele", "gabriella", "giacomo", "gianluca", "gianni", "giada",
	"gilda", "giliola", "gino", "giorgia", "giorgio", "giovanna",
	"giovanni", "giulia", "giuliana", "giuliano", "giulio", "giuseppe",
	"giuseppina", "grazia", "graziella", "guido", "ida", "ilaria",
	"ilena", "ilenia", "ines", "irene", "irenella", "iris", "irma",
	"isabella", "iva", "ivan", "ivana", "ivo", "jessica", "katia",
	"laura", "lia", "liliana", "lina", "lisa", "lorena", "lorenzo",
	"loretta", "luca", "lucia", "luciana", "luciano", "luigi", "luisa",
	"manuel", "manuela", "mara", "marcella", "marco", "margherita",
	"maria", "mariangela", "marianna", "marina", "marinella", "mario",
	"marisa", "marta", "martina", "massimo", "matteo", "mattia",
	"maurizio", "mauro", "michela", "michele", "milena", "mirella",
	"mirko", "monica", "moreno", "nadia", "natalia", "nicola",
	"nicoletta", "nora", "norma", "ornella", "paola", "paolo",
	"patrizia", "patrizio", "pia", "pier", "piera", "piero", "pietro",
	"raffaella", "raffaele", "renata", "renato", "riccardo", "rina",
	"rita", "roberta", "roberto", "rodolfo", "romano", "rosa",
	"rosalba", "rosanna", "rosaria", "rossana", "ruggero", "sabrina",
	"samuele", "sandra", "sandro", "sara", "serena", "sergio", "silvana",
	"silvano", "silvia", "simona", "simone", "sofia", "sonia",
	"stefania", "stefano", "susanna", "tamara", "teresa", "tiziana",
	"tiziano", "tommaso", "valentina", "valentino", "valeria",
	"valerio", "vanessa", "vera", "veronica", "vincenzo", "violetta",
	"virginia", "vittoria", "vittorio", "walter", "wanda", NULL
};

/*
 * The word lists indexed by their first byte, so that looking a word up
 * costs a handful of comparisons, not one per list entry: classification
 * looks up every word of every cell. Built once, on the first call of a
 * public function, and never changed after: callers see constant tables
 * (ropa.c is not meant to be called from two threads at once).
 */
struct vocab {
	const char *const	*w;
	unsigned short		 start[257];
	unsigned short		 ord[512];
};

struct lex {
	struct vocab	subjects, recipients, office, suffixes, titles, org,
			processors, function, particles, given;
};

static void
vocab_init(struct vocab *v, const char *const *w)
{
	unsigned short	pos[257];
	size_t		n, c;

	memset(v->start, 0, sizeof(v->start));
	v->w = w;
	for (n = 0; w[n] != NULL && n < nitems(v->ord); n++)
		v->start[(unsigned char)w[n][0] + 1]++;
	for (c = 0; c < 256; c++)
		v->start[c + 1] += v->start[c];
	memcpy(pos, v->start, sizeof(pos));
	for (c = 0; c < n; c++)
		v->ord[pos[(unsigned char)w[c][0]]++] = (unsigned short)c;
}

static const struct lex *
lex_get(void)
{
	static struct lex	 tab;
	static int		 ready;
	struct lex		*l = &tab;

	if (ready)
		return l;
	vocab_init(&l->subjects, subject_phrases);
	vocab_init(&l->recipients, recipient_phrases);
	vocab_init(&l->office, office_words);
	vocab_init(&l->suffixes, company_suffixes);
	vocab_init(&l->titles, prof_titles);
	vocab_init(&l->org, org_words);
	vocab_init(&l->processors, known_processors);
	vocab_init(&l->function, function_words);
	vocab_init(&l->particles, particles);
	vocab_init(&l->given, given_names);
	ready = 1;
	return l;
}

/* Folded token k, without trailing ',' ';' ':', is a word of the list. */
static int
vocab_has(const struct vocab *v, const struct toks *t, size_t k)
{
	size_t		 len, i, j;
	const char	*s = tf(t, k, &len), *w;
	unsigned char	 c = (unsigned char)s[0];

	while (len > 1 && (s[len - 1] == ',' || s[len - 1] == ';' ||
	    s[len - 1] == ':'))
		len--;
	for (j = v->start[c]; j < v->start[c + 1]; j++) {
		w = v->w[v->ord[j]];
		for (i = 1; i < len && w[i] == s[i]; i++)
			;
		if (i == len && w[i] == '\0')
			return 1;
	}
	return 0;
}

/* The most tokens from k that a phrase of the list spells, or 0. */
static size_t
vocab_longest(const struct vocab *v, const struct toks *t, size_t k)
{
	size_t		 len, j, m, best = 0;
	unsigned char	 c = (unsigned char)tf(t, k, &len)[0];

	for (j = v->start[c]; j < v->start[c + 1]; j++)
		if ((m = tok_phrase(t, k, v->w[v->ord[j]])) > best)
			best = m;
	return best;
}

/* ---- yes / no ---- */

int
ropa_yesno(const char *s, enum ropa_yn *out)
{
	static const char *const yes[] = {
		"si", "yes", "s", "y", "x", "vero", "true", "1", NULL
	};
	static const char *const no[] = {
		"no", "n", "falso", "false", "0", NULL
	};
	struct toks	t;
	int		rc = -1;
	size_t		n;

	*out = ROPA_UNKNOWN;
	/* most cells are long: not a yes/no, and no need to look closer */
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	for (n = strlen(s); n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\n' || s[n - 1] == '\r'); n--)
		;
	if (n > 8)
		return -1;
	toks_init(&t);
	toks_split(&t, s, n);
	if (t.n == 0 || (t.n == 1 && (tok_is(&t, 0, "-") ||
	    tok_is(&t, 0, "--") || tok_is(&t, 0, "/") ||
	    tok_is(&t, 0, "n.a.") || tok_is(&t, 0, "n/a"))))
		rc = 0;
	else if (t.n == 1 && tok_in(&t, 0, yes)) {
		*out = ROPA_YES;
		rc = 0;
	} else if (t.n == 1 && tok_in(&t, 0, no)) {
		*out = ROPA_NO;
		rc = 0;
	}
	toks_free(&t);
	return rc;
}

/* ---- distance ---- */

/* Folded code points of s, white space runs made one space, trimmed. */
static size_t
fold_cps(const char *s, uint32_t *out, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = strlen(s), i = 0, m = 0;
	uint32_t		 c;
	int			 space = 0;

	while (i < n && m < max) {
		i += u8_next_lenient(p + i, n - i, &c);
		if (is_space_cp(c)) {
			space = m > 0;
			continue;
		}
		if (space && m < max)
			out[m++] = ' ';
		space = 0;
		if (m < max)
			out[m++] = fold_cp(c);
	}
	return m;
}

/*
 * Unrestricted Damerau-Levenshtein (Lowrance and Wagner): insertions,
 * deletions, substitutions and transpositions of adjacent characters, also
 * with edits between them.
 */
static int
dl_distance(const uint32_t *a, size_t la, const uint32_t *b, size_t lb)
{
	/* names and headers are short: no allocation for them */
	uint32_t	 s_alpha[64];
	size_t		 s_ia[32], s_ib[32], s_da[64];
	int		 s_h[34 * 34];
	size_t		 i, j, w = lb + 2, na = 0, k;
	uint32_t	*alpha;
	size_t		*ia, *ib, *da;
	int		*h, maxd = (int)(la + lb), d, heap;

	if (la == 0 || lb == 0)
		return (int)(la + lb);
	heap = la > 32 || lb > 32;
	alpha = heap ? xcalloc(la + lb, sizeof(*alpha)) : s_alpha;
	ia = heap ? xcalloc(la, sizeof(*ia)) : s_ia;
	ib = heap ? xcalloc(lb, sizeof(*ib)) : s_ib;
	for (i = 0; i < la + lb; i++) {
		uint32_t	c = i < la ? a[i] : b[i - la];

		for (k = 0; k < na && alpha[k] != c; k++)
			;
		if (k == na)
			alpha[na++] = c;
		if (i < la)
			ia[i] = k;
		else
			ib[i - la] = k;
	}
	if (heap)
		da = xcalloc(na, sizeof(*da));
	else {
		da = s_da;
		memset(da, 0, na * sizeof(*da));
	}
	h = heap ? xcalloc((la + 2) * w, sizeof(*h)) : s_h;
#define H(x, y) h[(x) * w + (y)]
	H(0, 0) = maxd;
	for (i = 0; i <= la; i++) {
		H(i + 1, 0) = maxd;
		H(i + 1, 1) = (int)i;
	}
	for (j = 0; j <= lb; j++) {
		H(0, j + 1) = maxd;
		H(1, j + 1) = (int)j;
	}
	for (i = 1; i <= la; i++) {
		size_t	db = 0;

		for (j = 1; j <= lb; j++) {
			size_t	i1 = da[ib[j - 1]], j1 = db;
			int	cost = 1;

			if (ia[i - 1] == ib[j - 1]) {
				cost = 0;
				db = j;
			}
			d = H(i, j) + cost;
			if (H(i + 1, j) + 1 < d)
				d = H(i + 1, j) + 1;
			if (H(i, j + 1) + 1 < d)
				d = H(i, j + 1) + 1;
			if (H(i1, j1) + (int)(i - i1 - 1) + 1 +
			    (int)(j - j1 - 1) < d)
				d = H(i1, j1) + (int)(i - i1 - 1) + 1 +
				    (int)(j - j1 - 1);
			H(i + 1, j + 1) = d;
		}
		da[ia[i - 1]] = i;
	}
	d = H(la + 1, lb + 1);
#undef H
	if (heap) {
		free(h);
		free(da);
		free(ib);
		free(ia);
		free(alpha);
	}
	return d;
}

int
ropa_name_distance(const char *a, const char *b)
{
	uint32_t	ca[DIST_MAX], cb[DIST_MAX];
	size_t		la, lb;

	la = fold_cps(a, ca, DIST_MAX);
	lb = fold_cps(b, cb, DIST_MAX);
	return dl_distance(ca, la, cb, lb);
}

long
ropa_best_match(const char *name, const char *const *known, size_t n,
    int *dist)
{
	long	best = -1;
	int	bd = INT_MAX, d;
	size_t	i;

	for (i = 0; i < n; i++) {
		if (known[i] == NULL)
			continue;
		d = ropa_name_distance(name, known[i]);
		if (d < bd) {
			bd = d;
			best = (long)i;
			if (d == 0)
				break;
		}
	}
	if (dist != NULL)
		*dist = best < 0 ? -1 : bd;
	return best;
}

int
ropa_near_miss_limit(const char *name)
{
	uint32_t	c[DIST_MAX];
	size_t		n = fold_cps(name, c, DIST_MAX);

	return n <= 6 ? 1 : n <= 12 ? 2 : 3;
}

/* ---- header names ---- */

struct synonym {
	enum ropa_field	 field;
	const char	*norm;	/* folded, punctuation and small words out */
};

static const struct synonym synonyms[] = {
	{ ROPA_F_NAME, "denominazione" },
	{ ROPA_F_NAME, "denominazione trattamento" },
	{ ROPA_F_NAME, "nome trattamento" },
	{ ROPA_F_NAME, "trattamento" },
	{ ROPA_F_NAME, "attivita trattamento" },
	{ ROPA_F_NAME, "nome attivita" },
	{ ROPA_F_PURPOSE, "finalita" },
	{ ROPA_F_PURPOSE, "finalita trattamento" },
	{ ROPA_F_PURPOSE, "scopo" },
	{ ROPA_F_JOINT, "contitolare" },
	{ ROPA_F_JOINT, "contitolari" },
	{ ROPA_F_OFFICE, "strutture" },
	{ ROPA_F_OFFICE, "struttura" },
	{ ROPA_F_OFFICE, "struttura competente" },
	{ ROPA_F_OFFICE, "ufficio" },
	{ ROPA_F_OFFICE, "uffici" },
	{ ROPA_F_OFFICE, "unita organizzativa" },
	{ ROPA_F_MANAGERS, "designati" },
	{ ROPA_F_MANAGERS, "designato" },
	{ ROPA_F_MANAGERS, "soggetti designati" },
	{ ROPA_F_MANAGERS, "responsabili interni" },
	{ ROPA_F_STAFF, "incaricati" },
	{ ROPA_F_STAFF, "autorizzati" },
	{ ROPA_F_STAFF, "soggetti autorizzati" },
	{ ROPA_F_STAFF, "persone autorizzate" },
	{ ROPA_F_PROCESSORS, "responsabili" },
	{ ROPA_F_PROCESSORS, "responsabili trattamento" },
	{ ROPA_F_PROCESSORS, "responsabili esterni" },
	{ ROPA_F_PROCESSORS, "responsabile esterno" },
	{ ROPA_F_INDEPENDENT, "titolari autonomi" },
	{ ROPA_F_INDEPENDENT, "titolare autonomo" },
	{ ROPA_F_SOFTWARE, "software servizi" },
	{ ROPA_F_SOFTWARE, "software" },
	{ ROPA_F_SOFTWARE, "applicativi" },
	{ ROPA_F_DATA, "categorie dati personali" },
	{ ROPA_F_DATA, "categorie dati" },
	{ ROPA_F_DATA, "tipologia dati" },
	{ ROPA_F_DATA, "dati personali" },
	{ ROPA_F_RETENTION, "termine cancellazione dati" },
	{ ROPA_F_RETENTION, "termine cancellazione" },
	{ ROPA_F_RETENTION, "termini cancellazione" },
	{ ROPA_F_RETENTION, "tempi conservazione" },
	{ ROPA_F_RETENTION, "periodo conservazione" },
	{ ROPA_F_RETENTION, "conservazione" },
	{ ROPA_F_SUBJECTS, "categorie interessati" },
	{ ROPA_F_SUBJECTS, "interessati" },
	{ ROPA_F_RECIPIENTS, "categorie destinatari" },
	{ ROPA_F_RECIPIENTS, "destinatari" },
	{ ROPA_F_CLOUD, "modalita cloud" },
	{ ROPA_F_CLOUD, "cloud" },
	{ ROPA_F_TRANSFERS, "trasferimenti banche dati" },
	{ ROPA_F_TRANSFERS, "trasferimenti" },
	{ ROPA_F_FOR_OTHERS, "responsabile conto terzi" },
	{ ROPA_F_FOR_OTHERS, "conto terzi" },
	{ ROPA_F_CONTROLLER, "titolare" },
	{ ROPA_F_CONTROLLER, "titolare trattamento" },
	{ ROPA_F_SECURITY, "misure sicurezza tecniche organizzative" },
	{ ROPA_F_SECURITY, "misure sicurezza" },
	{ ROPA_F_SECURITY, "misure tecniche organizzative" },
};

static const char *const header_stopwords[] = {
	"di", "del", "dei", "degli", "della", "delle", "dello", "dell", "d",
	"e", "ed", "in", "a", "al", "alla", "ai", "agli", "alle", "per",
	"il", "lo", "la", "i", "gli", "le", "l", "da", "dal", "dalla",
	"con", "su", "o", NULL
};

/* Folded, punctuation to spaces, small words dropped, one space apart. */
static void
header_norm(const char *label, struct buf *out)
{
	struct buf	 f;
	size_t		 i, start;
	char		*s;

	buf_init(&f);
	fold_into(&f, label, strlen(label));
	s = f.data != NULL ? f.data : (char *)"";
	for (i = 0; i < f.len; i++) {
		unsigned char	c = (unsigned char)s[i];

		if (c < 0x80 && !((c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9')))
			s[i] = ' ';
	}
	out->len = 0;
	i = 0;
	while (i < f.len) {
		const char *const	*w;
		int			 stop = 0;

		while (i < f.len && s[i] == ' ')
			i++;
		start = i;
		while (i < f.len && s[i] != ' ')
			i++;
		if (i == start)
			break;
		for (w = header_stopwords; *w != NULL; w++)
			if (strlen(*w) == i - start &&
			    memcmp(*w, s + start, i - start) == 0)
				stop = 1;
		if (stop)
			continue;
		if (out->len > 0)
			buf_add(out, " ", 1);
		buf_add(out, s + start, i - start);
	}
	if (out->data == NULL)
		buf_add(out, "", 0);
	buf_free(&f);
}

static size_t
count_words(const char *s)
{
	size_t	n = *s != '\0';

	for (; *s != '\0'; s++)
		n += *s == ' ';
	return n;
}

static int
bytes_distance(const char *a, size_t la, const char *b, size_t lb)
{
	uint32_t	ca[96], cb[96];
	size_t		i;

	if (la > 96 || lb > 96)
		return INT_MAX;
	for (i = 0; i < la; i++)
		ca[i] = (unsigned char)a[i];
	for (i = 0; i < lb; i++)
		cb[i] = (unsigned char)b[i];
	return dl_distance(ca, la, cb, lb);
}

int
ropa_header_field(const char *label, int *fuzzy)
{
	struct buf	 n;
	size_t		 i, sl, words, ln, k;
	int		 best = -1, bscore = -1, d, bd = INT_MAX, fbest = -1;
	size_t		 fwords = 0;
	const char	*l;

	if (fuzzy != NULL)
		*fuzzy = 0;
	buf_init(&n);
	header_norm(label, &n);
	l = n.data;
	ln = n.len;
	if (ln == 0) {
		buf_free(&n);
		return -1;
	}
	/* Exact beats a prefix; a longer synonym beats a shorter one. */
	for (i = 0; i < nitems(synonyms); i++) {
		int	score;

		sl = strlen(synonyms[i].norm);
		words = count_words(synonyms[i].norm);
		if (ln == sl && memcmp(l, synonyms[i].norm, sl) == 0)
			score = 1000 + (int)words;
		else if (ln > sl && memcmp(l, synonyms[i].norm, sl) == 0 &&
		    l[sl] == ' ')
			score = 500 + (int)words;
		else
			continue;
		if (score > bscore) {
			bscore = score;
			best = (int)synonyms[i].field;
		}
	}
	if (best >= 0 || ln > 80) {
		buf_free(&n);
		return best;
	}
	/* A typo: the label, or its first words, within a small distance. */
	for (i = 0; i < nitems(synonyms); i++) {
		int	limit;

		sl = strlen(synonyms[i].norm);
		words = count_words(synonyms[i].norm);
		limit = sl < 5 ? 0 : sl < 10 ? 1 : sl < 20 ? 2 : 3;
		if (limit == 0)
			continue;
		/* the first `words` words of the label */
		for (k = 0, d = 0; k < ln; k++)
			if (l[k] == ' ' && (size_t)++d == words)
				break;
		/* the lengths alone say too far; a typo is not in the
		   first letter, which saves most of the work */
		if (k > sl + (size_t)limit || sl > k + (size_t)limit ||
		    l[0] != synonyms[i].norm[0])
			continue;
		d = bytes_distance(l, k, synonyms[i].norm, sl);
		if (d > limit)
			continue;
		if (d < bd || (d == bd && words > fwords)) {
			bd = d;
			fbest = (int)synonyms[i].field;
			fwords = words;
		}
	}
	buf_free(&n);
	if (fbest >= 0 && fuzzy != NULL)
		*fuzzy = 1;
	return fbest;
}

/* ---- reading records (RFC 4180 with the leniency of spreadsheets) ---- */

struct reader {
	const char	*p;
	size_t		 n, pos;
	size_t		 line;		/* physical line at pos */
	char		 delim;
	int		 fails;		/* unterminated quotes so far */
	struct buf	 cells;		/* NUL-separated */
	size_t		*off;
	size_t		 ncell, capcell;
	size_t		 first, last;	/* lines of the record */
	int		 quote_failed;
	size_t		 eols[3];	/* LF, CRLF, CR */
};

static void
rd_init(struct reader *r, const char *p, size_t n, char delim)
{
	memset(r, 0, sizeof(*r));
	r->p = p;
	r->n = n;
	r->line = 1;
	r->delim = delim;
	buf_init(&r->cells);
}

static void
rd_free(struct reader *r)
{
	buf_free(&r->cells);
	free(r->off);
}

static const char *
rd_cell(const struct reader *r, size_t i)
{
	return r->cells.data + r->off[i];
}

/* Consumes one line end at pos (CRLF is one); returns 1 if there was one. */
static int
rd_eol(struct reader *r)
{
	if (r->pos < r->n && r->p[r->pos] == '\r') {
		if (r->pos + 1 < r->n && r->p[r->pos + 1] == '\n') {
			r->pos += 2;
			r->eols[1]++;
		} else {
			r->pos++;
			r->eols[2]++;
		}
		r->line++;
		return 1;
	}
	if (r->pos < r->n && r->p[r->pos] == '\n') {
		r->pos++;
		r->eols[0]++;
		r->line++;
		return 1;
	}
	return 0;
}

static void
rd_unquoted(struct reader *r)
{
	size_t	s = r->pos;

	while (r->pos < r->n && r->p[r->pos] != r->delim &&
	    r->p[r->pos] != '\n' && r->p[r->pos] != '\r')
		r->pos++;
	buf_add(&r->cells, r->p + s, r->pos - s);
}

/*
 * A quoted field from the opening quote at pos: doubled quotes are one,
 * line ends inside are kept (as LF) and counted, and text after the
 * closing quote is kept too. Returns 0, or -1 at the end of the input
 * without a closing quote (the caller rewinds).
 */
static int
rd_quoted(struct reader *r)
{
	size_t	s;

	r->pos++;
	for (;;) {
		s = r->pos;
		while (r->pos < r->n && r->p[r->pos] != '"' &&
		    r->p[r->pos] != '\n' && r->p[r->pos] != '\r')
			r->pos++;
		buf_add(&r->cells, r->p + s, r->pos - s);
		if (r->pos >= r->n)
			return -1;
		if (r->p[r->pos] == '"') {
			if (r->pos + 1 < r->n && r->p[r->pos + 1] == '"') {
				buf_add(&r->cells, "\"", 1);
				r->pos += 2;
				continue;
			}
			r->pos++;
			rd_unquoted(r);
			return 0;
		}
		rd_eol(r);
		buf_add(&r->cells, "\n", 1);
	}
}

/* Reads the next record. Returns 1, or 0 at the end of the input. */
static int
rd_record(struct reader *r)
{
	if (r->pos >= r->n)
		return 0;
	r->cells.len = 0;
	r->ncell = 0;
	r->first = r->line;
	r->quote_failed = 0;
	for (;;) {
		size_t	q = r->pos, save = r->pos, sline = r->line;
		size_t	start = r->cells.len;
		size_t	e0 = r->eols[0], e1 = r->eols[1], e2 = r->eols[2];

		if (r->ncell == r->capcell) {
			r->capcell = r->capcell ? r->capcell * 2 : 32;
			r->off = xreallocarray(r->off, r->capcell,
			    sizeof(*r->off));
		}
		r->off[r->ncell++] = start;
		while (q < r->n && r->p[q] == ' ' && r->delim != ' ')
			q++;
		if (q < r->n && r->p[q] == '"' &&
		    r->fails < MAX_QUOTE_FAILS) {
			r->pos = q;
			if (rd_quoted(r) == -1) {
				/* read the quote as a character instead */
				r->fails++;
				r->quote_failed = 1;
				r->cells.len = start;
				r->pos = save;
				r->line = sline;
				r->eols[0] = e0;
				r->eols[1] = e1;
				r->eols[2] = e2;
				rd_unquoted(r);
			}
		} else
			rd_unquoted(r);
		buf_add(&r->cells, "", 1);	/* the NUL */
		if (r->pos >= r->n)
			break;
		if (r->p[r->pos] == r->delim) {
			r->pos++;
			continue;
		}
		rd_eol(r);
		r->last = r->line - 1;
		return 1;
	}
	r->last = r->line;
	return 1;
}

/* ---- cleaning a cell ---- */

/*
 * Trims, makes runs of white space one space (keeping single line breaks
 * of multi-line cells), drops zero-width characters and replaces control
 * characters by spaces. Returns 1 when control characters were replaced.
 */
static int
clean_cell(const char *s, struct buf *out)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n = strlen(s), i = 0, l;
	uint32_t		 c;
	int			 space = 0, nl = 0, ctl = 0;

	out->len = 0;
	buf_add(out, "", 0);
	while (i < n) {
		if (p[i] > 0x20 && p[i] < 0x7F) {	/* a run of plain ASCII */
			size_t	e = i + 1;

			while (e < n && p[e] > 0x20 && p[e] < 0x7F)
				e++;
			if (nl)
				buf_add(out, "\n", 1);
			else if (space)
				buf_add(out, " ", 1);
			nl = space = 0;
			buf_add(out, s + i, e - i);
			i = e;
			continue;
		}
		l = u8_next_lenient(p + i, n - i, &c);
		i += l;
		if (c == 0x200B || c == 0xFEFF || c == 0x00AD || c == 0x2060)
			continue;
		if (c == '\n') {
			nl = out->len > 0;
			continue;
		}
		if ((c < 0x20 && c != '\t' && c != '\r') || c == 0x7F ||
		    (c >= 0x80 && c <= 0x9F)) {
			ctl = 1;
			space = out->len > 0;
			continue;
		}
		if (is_space_cp(c)) {
			space = out->len > 0;
			continue;
		}
		if (nl)
			buf_add(out, "\n", 1);
		else if (space)
			buf_add(out, " ", 1);
		nl = space = 0;
		buf_add(out, s + i - l, l);
	}
	return ctl;
}

/* "", "-" and dashes alike: a cell that says nothing. */
static int
is_nothing(const char *s)
{
	return s[0] == '\0' || strcmp(s, "-") == 0 || strcmp(s, "--") ==
	    0 || strcmp(s, "\xE2\x80\x93") == 0 ||
	    strcmp(s, "\xE2\x80\x94") == 0;
}

/* ---- what a cell holds ---- */

enum ctype {
	CT_FREE, CT_ORG, CT_OFFICE, CT_PEOPLE, CT_DATA, CT_RETENTION,
	CT_SUBJECTS, CT_RECIPIENTS, CT_YESNO, CT_COUNT
};

static const enum ctype field_type[ROPA_F_COUNT] = {
	[ROPA_F_NAME] = CT_FREE,
	[ROPA_F_PURPOSE] = CT_FREE,
	[ROPA_F_JOINT] = CT_ORG,
	[ROPA_F_OFFICE] = CT_OFFICE,
	[ROPA_F_MANAGERS] = CT_PEOPLE,
	[ROPA_F_STAFF] = CT_PEOPLE,
	[ROPA_F_PROCESSORS] = CT_ORG,
	[ROPA_F_INDEPENDENT] = CT_ORG,
	[ROPA_F_SOFTWARE] = CT_FREE,
	[ROPA_F_DATA] = CT_DATA,
	[ROPA_F_RETENTION] = CT_RETENTION,
	[ROPA_F_SUBJECTS] = CT_SUBJECTS,
	[ROPA_F_RECIPIENTS] = CT_RECIPIENTS,
	[ROPA_F_CLOUD] = CT_YESNO,
	[ROPA_F_TRANSFERS] = CT_YESNO,
	[ROPA_F_FOR_OTHERS] = CT_YESNO,
	[ROPA_F_CONTROLLER] = CT_ORG,
	[ROPA_F_SECURITY] = CT_FREE,
};

enum {
	K_YESNO, K_DATA, K_RETENTION, K_OFFICE, K_PEOPLE, K_ORG, K_SUBJECTS,
	K_RECIPIENTS, K_TEXT, K_COUNT
};

/*
 * The cost of reading a cell of a kind in a column of a type: 0 where it
 * belongs, 1-3 where it may plausibly stand, 4-6 where it is out of
 * place. A cell of several kinds takes its cheapest. Moving cells costs
 * GAP per missing cell and DROP_* per cell left out, so that a row is
 * realigned only when that removes more misfit than it adds.
 */
static const unsigned char fit_cost[K_COUNT][CT_COUNT] = {
	/*		FREE ORG OFF PEO DATA RET SUB REC YN */
	[K_YESNO] =	{ 6, 6, 6, 6, 6, 6, 6, 6, 0 },
	[K_DATA] =	{ 3, 6, 6, 6, 0, 4, 6, 6, 6 },
	[K_RETENTION] =	{ 1, 3, 6, 6, 4, 0, 4, 4, 6 },
	[K_OFFICE] =	{ 2, 2, 0, 4, 6, 6, 6, 6, 6 },
	[K_PEOPLE] =	{ 1, 1, 4, 0, 6, 6, 3, 3, 6 },
	[K_ORG] =	{ 1, 0, 3, 3, 6, 6, 5, 5, 6 },
	[K_SUBJECTS] =	{ 2, 3, 6, 6, 6, 6, 0, 2, 6 },
	[K_RECIPIENTS] ={ 2, 3, 6, 6, 6, 6, 2, 0, 6 },
	[K_TEXT] =	{ 0, 1, 1, 2, 3, 1, 2, 2, 6 },
};
#define GAP		4
#define DROP_EMPTY	3
#define DROP_TEXT	12

/*
 * How many of the tokens the phrases cover (counting stops once more than
 * half are not covered: then it is little, whatever the rest); sets *found
 * when at least one phrase matched.
 */
static size_t
vocab_cover(const struct toks *t, const struct vocab *v, int *found)
{
	size_t	k = 0, cover = 0, best, missed = 0;

	*found = 0;
	while (k < t->n) {
		best = vocab_longest(v, t, k);
		if (best > 0) {
			*found = 1;
			cover += best;
			k += best;
		} else {
			k++;
			/* past half uncovered, the answer is known: little */
			if (++missed * 2 > t->n)
				return cover;
		}
	}
	return cover;
}

/*
 * Prose ("Gestione delle segnalazioni ai sensi del d.lgs. 165/2001 ...")
 * is not a name: its dotted abbreviations and capitals say nothing about
 * organisations or people.
 */
static int
is_prose(const struct toks *t, const struct lex *lx)
{
	size_t	k, lower = 0;

	for (k = 0; k < t->n; k++)
		if (tok_lower(t, k) && !vocab_has(&lx->function, t, k) &&
		    !vocab_has(&lx->suffixes, t, k) &&
		    !vocab_has(&lx->titles, t, k))
			lower++;
	return lower >= 3 && lower * 3 > t->n;
}

static unsigned
classify(const char *s, struct toks *t, const struct lex *lx)
{
	unsigned	kinds = 0;
	enum ropa_yn	yn;
	size_t		k, len;
	int		people = 1, found, prose;

	if (is_nothing(s))
		return 0;
	if (ropa_yesno(s, &yn) == 0)
		return 1u << K_YESNO;
	toks_split(t, s, strlen(s));
	if (t->n == 0)
		return 0;
	if (tok_is(t, 0, "dati") || tok_is(t, 0, "dato"))
		kinds |= 1u << K_DATA;
	if (vocab_has(&lx->office, t, 0))
		kinds |= 1u << K_OFFICE;
	prose = is_prose(t, lx);
	for (k = 0; k < t->n; k++) {
		const char	*f = tf(t, k, &len);

		if ((len >= 7 && (memcmp(f, "conserv", 7) == 0 ||
		    memcmp(f, "cancell", 7) == 0)) || tok_is(t, k, "anni") ||
		    tok_is(t, k, "mesi") || tok_is(t, k, "giorni") ||
		    tok_is(t, k, "illimitato") || tok_is(t, k, "illimitata") ||
		    tok_is(t, k, "permanente"))
			kinds |= 1u << K_RETENTION;
		if (!prose && (vocab_has(&lx->suffixes, t, k) ||
		    vocab_has(&lx->titles, t, k) || (vocab_has(&lx->org, t, k) &&
		    tok_capital(t, k)) || (tok_allcaps(t, k) &&
		    t->o[k].len >= 3) || tok_dotted(t, k) ||
		    memchr(to(t, k), '&', t->o[k].len) != NULL))
			kinds |= 1u << K_ORG;
		if (!tok_nameword(t, k))
			people = 0;
	}
	if (people && t->n >= 2)
		kinds |= 1u << K_PEOPLE;
	if (vocab_cover(t, &lx->subjects, &found) * 2 >= t->n && found)
		kinds |= 1u << K_SUBJECTS;
	if (vocab_cover(t, &lx->recipients, &found) * 2 >= t->n && found)
		kinds |= 1u << K_RECIPIENTS;
	if (kinds == 0)
		kinds = 1u << K_TEXT;
	return kinds;
}

static int
fit(unsigned kinds, enum ctype ct)
{
	int	best = INT_MAX, k;

	if (kinds == 0)
		return 0;
	for (k = 0; k < K_COUNT; k++)
		if ((kinds & (1u << k)) && fit_cost[k][ct] < best)
			best = fit_cost[k][ct];
	return best;
}

/* ---- parsing ---- */

struct dupset {
	char	**keys;
	size_t	 *lines;
	size_t	  cap, n;
};

/* Adds key (taken); returns 0, or the line of the earlier equal key. */
static size_t
dup_add(struct dupset *d, char *key, size_t line)
{
	size_t	i;

	if ((d->n + 1) * 2 > d->cap) {
		struct dupset	nd;

		nd.cap = d->cap ? d->cap * 2 : 64;
		nd.n = 0;
		nd.keys = xcalloc(nd.cap, sizeof(*nd.keys));
		nd.lines = xcalloc(nd.cap, sizeof(*nd.lines));
		for (i = 0; i < d->cap; i++)
			if (d->keys[i] != NULL)
				dup_add(&nd, d->keys[i], d->lines[i]);
		free(d->keys);
		free(d->lines);
		*d = nd;
	}
	i = (size_t)(str_hash(key) & (d->cap - 1));
	while (d->keys[i] != NULL) {
		if (strcmp(d->keys[i], key) == 0) {
			free(key);
			return d->lines[i];
		}
		i = (i + 1) & (d->cap - 1);
	}
	d->keys[i] = key;
	d->lines[i] = line;
	d->n++;
	return 0;
}

static void
dup_free(struct dupset *d)
{
	size_t	i;

	for (i = 0; i < d->cap; i++)
		free(d->keys[i]);
	free(d->keys);
	free(d->lines);
}

/*
 * The kinds of the cells already classified, by their cleaned text: a
 * register repeats its cells (categories, retention, processors, people)
 * from row to row, and classify() is most of the cost of reading one.
 * Bounded, so that a file of distinct cells costs no more than a copy of
 * them: past the bounds cells are classified every time.
 */
#define KMEMO_MAX	65536		/* cells remembered */
#define KMEMO_BYTES	(16u << 20)	/* bytes of their texts */

struct kmemo {
	char		**keys;
	unsigned	 *kinds;
	size_t		  cap, n, bytes;
};

/* The slot of s (with hash h): its entry, or the empty one it would take.
   The table must have slots. */
static size_t
kmemo_slot(const struct kmemo *m, const char *s, uint64_t h)
{
	size_t	i = (size_t)(h & (m->cap - 1));

	while (m->keys[i] != NULL && strcmp(m->keys[i], s) != 0)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static void
kmemo_free(struct kmemo *m)
{
	size_t	i;

	for (i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->kinds);
	memset(m, 0, sizeof(*m));
}

struct parser {
	struct ropa		*out;
	struct reader		 rd;
	int			 colfield[MAX_COLS];
	size_t			 ncols;
	struct buf		*clean;		/* one per cell, reused */
	size_t			 nclean;
	unsigned		*kinds;
	unsigned char		*cost;		/* cell x column type */
	int			*col;		/* cell -> column or -1 */
	int			*dp;
	unsigned char		*how;
	struct toks		 t;
	struct dupset		 dups;
	struct buf		 tmp;
	char			*hdr[MAX_COLS];	/* folded header cells */
	const struct lex	*lex;
	struct kmemo		 km;
	/* fit() of every set of kinds in every column type */
	unsigned char		 fitc[1u << K_COUNT][CT_COUNT];
};

/* classify(), remembered by the cell's text. */
static unsigned
classify_cell(struct parser *p, const char *s)
{
	struct kmemo	*m = &p->km;
	uint64_t	 h;
	size_t		 i, len;
	unsigned	 kinds;

	if (m->cap == 0) {
		m->cap = 1024;
		m->keys = xcalloc(m->cap, sizeof(*m->keys));
		m->kinds = xcalloc(m->cap, sizeof(*m->kinds));
	}
	h = str_hash(s);
	i = kmemo_slot(m, s, h);
	if (m->keys[i] != NULL)
		return m->kinds[i];
	kinds = classify(s, &p->t, p->lex);
	len = strlen(s);
	if (m->n >= KMEMO_MAX || m->bytes + len > KMEMO_BYTES)
		return kinds;
	if ((m->n + 1) * 2 > m->cap) {
		struct kmemo	nm = { 0 };

		nm.cap = m->cap * 2;
		nm.keys = xcalloc(nm.cap, sizeof(*nm.keys));
		nm.kinds = xcalloc(nm.cap, sizeof(*nm.kinds));
		for (i = 0; i < m->cap; i++) {
			size_t	j;

			if (m->keys[i] == NULL)
				continue;
			j = kmemo_slot(&nm, m->keys[i], str_hash(m->keys[i]));
			nm.keys[j] = m->keys[i];
			nm.kinds[j] = m->kinds[i];
		}
		nm.n = m->n;
		nm.bytes = m->bytes;
		free(m->keys);
		free(m->kinds);
		*m = nm;
		i = kmemo_slot(m, s, h);
	}
	m->keys[i] = xstrdup(s);
	m->kinds[i] = kinds;
	m->n++;
	m->bytes += len + 1;
	return kinds;
}

static void __attribute__((format(printf, 4, 5)))
anomaly(struct ropa *r, size_t line, enum ropa_anomaly_kind kind,
    const char *fmt, ...)
{
	va_list	ap;

	r->anom = grow(r->anom, r->nanom, sizeof(*r->anom));
	r->anom[r->nanom].line = line;
	r->anom[r->nanom].kind = kind;
	va_start(ap, fmt);
	r->anom[r->nanom].detail = xvasprintf(fmt, ap);
	va_end(ap);
	r->nanom++;
}

/* Spreadsheet column letters: 0 -> "A", 26 -> "AA". */
static void
col_letters(size_t c, char out[8])
{
	char	tmp[8];
	size_t	n = 0, i;

	c++;
	while (c > 0 && n < 7) {
		tmp[n++] = (char)('A' + (c - 1) % 26);
		c = (c - 1) / 26;
	}
	for (i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	out[n] = '\0';
}

/*
 * At most max bytes of s on one line, cut at a character boundary (a cut
 * in the middle of a UTF-8 sequence would make the anomaly text
 * ill-formed), with "..." when cut. The caller frees.
 */
static char *
excerpt(const char *s, size_t max)
{
	size_t	 n = strlen(s);
	char	*e, *q;

	if (n <= max)
		e = xstrdup(s);
	else {
		while (max > 0 && ((unsigned char)s[max] & 0xC0) == 0x80)
			max--;
		e = xasprintf("%.*s...", (int)max, s);
	}
	for (q = e; *q != '\0'; q++)
		if (*q == '\n')
			*q = ' ';
	return e;
}

static const char *
col_label(const struct parser *p, size_t c)
{
	if (c < p->ncols && p->colfield[c] >= 0)
		return ropa_field_labels[p->colfield[c]];
	return "an unknown column";
}

/* Cleans the record's cells into p->clean[]; returns 1 if control chars. */
static int
clean_record(struct parser *p)
{
	size_t	i;
	int	ctl = 0;

	if (p->rd.ncell > p->nclean) {
		p->clean = xreallocarray(p->clean, p->rd.ncell,
		    sizeof(*p->clean));
		for (i = p->nclean; i < p->rd.ncell; i++)
			buf_init(&p->clean[i]);
		p->nclean = p->rd.ncell;
	}
	for (i = 0; i < p->rd.ncell; i++)
		ctl |= clean_cell(rd_cell(&p->rd, i), &p->clean[i]);
	return ctl;
}

static const char *
cl(const struct parser *p, size_t i)
{
	return p->clean[i].data;
}

static int
record_blank(const struct parser *p)
{
	size_t	i;

	for (i = 0; i < p->rd.ncell; i++)
		if (cl(p, i)[0] != '\0')
			return 0;
	return 1;
}

/* Distinct fields the record's cells name; *has_name for Denominazione. */
static int
header_score(const struct parser *p, int *has_name)
{
	unsigned long	seen = 0;
	size_t		i;
	int		f, n = 0;

	*has_name = 0;
	/* only the columns setup_columns will map: a name past them is none */
	for (i = 0; i < p->rd.ncell && i < MAX_COLS; i++) {
		if ((f = ropa_header_field(cl(p, i), NULL)) < 0)
			continue;
		if (!(seen & (1ul << f))) {
			seen |= 1ul << f;
			n++;
		}
		if (f == ROPA_F_NAME)
			*has_name = 1;
	}
	return n;
}

/*
 * Reads the first records with one delimiter and finds the record that
 * names the most columns. Returns its score; *index and *line say where.
 */
static int
find_header(struct parser *p, const char *text, size_t len, char delim,
    size_t *index, size_t *line, int *has_name)
{
	size_t	k;
	int	best = 0, s, hn;

	rd_init(&p->rd, text, len, delim);
	*has_name = 0;
	for (k = 0; k < HEADER_SCAN && rd_record(&p->rd); k++) {
		clean_record(p);
		s = header_score(p, &hn);
		if (s > best) {
			best = s;
			*index = k;
			*line = p->rd.first;
			*has_name = hn;
		}
	}
	rd_free(&p->rd);
	return best;
}

static void
setup_columns(struct parser *p)
{
	struct ropa	*r = p->out;
	size_t		 i, n = p->rd.ncell, last = 0;
	int		 f, fuzzy;
	char		 c[8];

	for (i = 0; i < n; i++)
		if (cl(p, i)[0] != '\0')
			last = i + 1;
	if (last > MAX_COLS) {
		anomaly(r, r->header_line, ROPA_A_UNKNOWN_COLUMN,
		    "the header has %zu columns: those after the %dth are "
		    "ignored", last, MAX_COLS);
		last = MAX_COLS;
	}
	p->ncols = last;
	r->ncolumns = last;
	for (i = 0; i < last; i++) {
		struct buf	h;

		buf_init(&h);
		fold_into(&h, cl(p, i), strlen(cl(p, i)));
		buf_add(&h, "", 0);
		p->hdr[i] = buf_take(&h);
		p->colfield[i] = -1;
		col_letters(i, c);
		if (cl(p, i)[0] == '\0')
			continue;
		f = ropa_header_field(cl(p, i), &fuzzy);
		if (f < 0) {
			/* a header is not personal data: it may be quoted */
			char	*e = excerpt(cl(p, i), 60);

			anomaly(r, r->header_line, ROPA_A_UNKNOWN_COLUMN,
			    "column %s \"%s\" is not a column of the "
			    "register: ignored", c, e);
			free(e);
			continue;
		}
		if (r->column[f] >= 0) {
			char	c0[8];

			col_letters((size_t)r->column[f], c0);
			anomaly(r, r->header_line, ROPA_A_DUPLICATE_COLUMN,
			    "column %s is %s again (column %s): ignored", c,
			    ropa_field_labels[f], c0);
			continue;
		}
		if (fuzzy) {
			char	*e = excerpt(cl(p, i), 60);

			anomaly(r, r->header_line, ROPA_A_HEADER_FUZZY,
			    "column %s \"%s\" read as \"%s\"", c, e,
			    ropa_field_labels[f]);
			free(e);
		}
		p->colfield[i] = f;
		r->column[f] = (int)i;
	}
	for (f = 0; f < ROPA_F_COUNT; f++)
		if (r->column[f] < 0)
			anomaly(r, r->header_line, ROPA_A_MISSING_COLUMN,
			    "no column \"%s\": that field is empty in every "
			    "activity", ropa_field_labels[f]);
}

/*
 * The record repeats the header (sheets pasted one under the other): its
 * name cell and most other named cells are the header's own words. Data
 * alone would not do ("Ufficio X" and "Scopo" are header names too).
 */
static int
is_header_again(struct parser *p)
{
	size_t	i, same = 0, named = 0;

	for (i = 0; i < p->ncols; i++) {
		int	eq;

		if (p->colfield[i] < 0)
			continue;
		named++;
		p->tmp.len = 0;
		if (i < p->rd.ncell)
			fold_into(&p->tmp, cl(p, i), strlen(cl(p, i)));
		eq = p->hdr[i] != NULL && p->tmp.len == strlen(p->hdr[i]) &&
		    memcmp(p->tmp.data, p->hdr[i], p->tmp.len) == 0;
		if (p->colfield[i] == ROPA_F_NAME && !eq)
			return 0;
		same += eq;
	}
	return named >= 2 && same * 2 > named;
}

/*
 * Aligns the row's cells to the header's columns by content (a global
 * sequence alignment): a cell is read in a column, or left out; a column
 * gets a cell, or none. Missing columns at the end and empty cells past
 * the last column cost nothing. On ties gaps go as late as they can, so
 * that as few cells move as possible. Fills p->col[].
 */
static void
align_row(struct parser *p, size_t m)
{
	size_t		 n = p->ncols, w = n + 1, i, j;
	int		*D;
	unsigned char	*H;

	for (i = 0; i < m; i++) {
		int	ct;

		p->kinds[i] = classify_cell(p, cl(p, i));
		for (ct = 0; ct < CT_COUNT; ct++)
			p->cost[i * CT_COUNT + ct] = p->fitc[p->kinds[i]][ct];
	}
	D = p->dp;
	H = p->how;
	for (i = 0; i <= m; i++) {
		for (j = 0; j <= n; j++) {
			int	best = INT_MAX, c, empty;
			int	how = 0;

			if (i == 0 && j == 0) {
				D[0] = 0;
				H[0] = 0;
				continue;
			}
			if (j > 0) {	/* column j-1 without a cell */
				c = D[i * w + j - 1] + (i == m ? 0 : GAP);
				if (c < best) {
					best = c;
					how = 1;
				}
			}
			if (i > 0 && j > 0) {	/* cell i-1 in column j-1 */
				enum ctype	ct = p->colfield[j - 1] < 0 ?
				    CT_FREE : field_type[p->colfield[j - 1]];

				c = D[(i - 1) * w + j - 1] +
				    p->cost[(i - 1) * CT_COUNT + ct];
				if (c < best) {
					best = c;
					how = 2;
				}
			}
			if (i > 0) {	/* cell i-1 left out */
				empty = p->kinds[i - 1] == 0;
				c = D[(i - 1) * w + j] + (!empty ? DROP_TEXT :
				    j == n ? 0 : DROP_EMPTY);
				if (c < best) {
					best = c;
					how = 3;
				}
			}
			D[i * w + j] = best;
			H[i * w + j] = (unsigned char)how;
		}
	}
	for (i = 0; i < m; i++)
		p->col[i] = -1;
	i = m;
	j = n;
	while (i > 0 || j > 0) {
		switch (H[i * w + j]) {
		case 1:
			j--;
			break;
		case 2:
			p->col[--i] = (int)--j;
			break;
		default:
			i--;
			break;
		}
	}
}

/*
 * Describes, in b, the groups of non-empty cells that moved and the
 * non-empty cells left out. Returns the number of groups that moved;
 * *drops gets the number of non-empty cells left out.
 */
static size_t
describe_moves(struct parser *p, size_t m, struct buf *b, size_t *drops)
{
	size_t	i, from = 0, to_ = 0, groups = 0, items = 0;
	long	off = 0, o;
	int	open = 0;
	char	c1[8], c2[8], c3[8];

	b->len = 0;
	buf_add(b, "", 0);
	*drops = 0;
	for (i = 0; i <= m; i++) {
		if (i < m && p->kinds[i] == 0)
			continue;
		o = i < m && p->col[i] >= 0 ? (long)p->col[i] - (long)i : 0;
		if (i < m && open && p->col[i] >= 0 && o == off) {
			to_ = i;
			continue;
		}
		if (open) {
			col_letters(from, c1);
			col_letters(to_, c2);
			col_letters((size_t)p->col[from], c3);
			if (items++ > 0)
				buf_adds(b, "; ");
			if (from == to_)
				buf_addf(b, "cell %s moved to column %s (%s)",
				    c1, c3, col_label(p, (size_t)p->col[from]));
			else
				buf_addf(b, "cells %s-%s moved %ld column%s "
				    "%s (%s is read as %s)", c1, c2,
				    off > 0 ? off : -off,
				    off == 1 || off == -1 ? "" : "s",
				    off > 0 ? "right" : "left", c1,
				    col_label(p, (size_t)p->col[from]));
			groups++;
			open = 0;
		}
		if (i == m)
			break;
		if (p->col[i] < 0) {
			col_letters(i, c1);
			if (items++ > 0)
				buf_adds(b, "; ");
			buf_addf(b, "cell %s left out (not empty)", c1);
			(*drops)++;
			continue;
		}
		if (o != 0) {
			open = 1;
			from = to_ = i;
			off = o;
		}
	}
	return groups;
}

static void
add_activity(struct parser *p, size_t line, char **vals)
{
	struct ropa		*r = p->out;
	struct ropa_activity	*a;
	int			 f;

	r->act = grow(r->act, r->nact, sizeof(*r->act));
	a = &r->act[r->nact++];
	a->line = line;
	for (f = 0; f < ROPA_F_COUNT; f++) {
		a->f[f] = vals[f];
		vals[f] = NULL;
	}
	ropa_yesno(a->f[ROPA_F_CLOUD], &a->cloud);
	ropa_yesno(a->f[ROPA_F_TRANSFERS], &a->transfers);
	ropa_yesno(a->f[ROPA_F_FOR_OTHERS], &a->for_others);
}

static void
data_row(struct parser *p, int ctl)
{
	struct ropa	*r = p->out;
	size_t		 line = p->rd.first, m = p->rd.ncell, i;
	size_t		 nonempty_extra = 0, dropped = 0;
	char		*vals[ROPA_F_COUNT];
	int		 f, moved, others = 0;
	char		 c[8];
	struct buf	*b = &p->tmp;

	r->rows++;
	if (m > p->ncols + EXTRA_WINDOW) {
		for (i = p->ncols + EXTRA_WINDOW; i < m; i++)
			nonempty_extra += cl(p, i)[0] != '\0';
		m = p->ncols + EXTRA_WINDOW;
	}
	if (p->rd.quote_failed)
		anomaly(r, line, ROPA_A_QUOTE, "a quote that opens a cell is "
		    "never closed: it was read as a character");
	if (ctl)
		anomaly(r, line, ROPA_A_CONTROL_CHARS, "control characters "
		    "replaced by spaces");
	align_row(p, m);
	moved = describe_moves(p, m, b, &dropped) > 0;
	if (p->rd.ncell > p->ncols) {
		size_t	lost = dropped + nonempty_extra;

		if (lost > 0)
			anomaly(r, line, ROPA_A_EXTRA_CELLS, "%zu cells for "
			    "%zu columns: %zu cell%s with text left out",
			    p->rd.ncell, p->ncols, lost, lost == 1 ? "" : "s");
		else
			anomaly(r, line, ROPA_A_EXTRA_CELLS, "%zu cells for "
			    "%zu columns: only empty cells were left out",
			    p->rd.ncell, p->ncols);
	} else if (!moved && dropped > 0)
		moved = 1;	/* a cell left out inside the row */
	if (moved) {
		r->realigned++;
		anomaly(r, line, ROPA_A_REALIGNED, "shifted row realigned "
		    "by content: %s", b->data);
	}

	for (f = 0; f < ROPA_F_COUNT; f++)
		vals[f] = NULL;
	for (i = 0; i < m; i++) {
		if (p->col[i] < 0 || p->colfield[p->col[i]] < 0)
			continue;
		f = p->colfield[p->col[i]];
		vals[f] = xstrdup(is_nothing(cl(p, i)) ? "" : cl(p, i));
		/* the identity of an activity is one line of text */
		if (f == ROPA_F_NAME || f == ROPA_F_OFFICE) {
			char	*q;

			for (q = vals[f]; *q != '\0'; q++)
				if (*q == '\n')
					*q = ' ';
		}
	}
	for (f = 0; f < ROPA_F_COUNT; f++) {
		enum ropa_yn	yn;

		if (vals[f] == NULL)
			vals[f] = xstrdup("");
		if (f != ROPA_F_NAME && vals[f][0] != '\0')
			others = 1;
		if (field_type[f] == CT_YESNO &&
		    ropa_yesno(vals[f], &yn) == -1) {
			col_letters((size_t)r->column[f], c);
			anomaly(r, line, ROPA_A_NOT_YES_NO, "column %s (%s) "
			    "is not yes, no or \"-\": read as unknown", c,
			    ropa_field_labels[f]);
		}
	}

	if (vals[ROPA_F_NAME][0] == '\0') {
		anomaly(r, line, ROPA_A_NO_NAME, "no Denominazione: the "
		    "row is not imported (the name is the activity's "
		    "identity)");
		r->dropped++;
	} else if (!others) {
		anomaly(r, line, ROPA_A_NAME_ONLY, "a name and nothing "
		    "else (a heading or a note?): not imported");
		r->dropped++;
	} else {
		struct buf	key;
		size_t		earlier;

		buf_init(&key);
		fold_into(&key, vals[ROPA_F_NAME], strlen(vals[ROPA_F_NAME]));
		buf_add(&key, "\x1f", 1);
		fold_into(&key, vals[ROPA_F_OFFICE],
		    strlen(vals[ROPA_F_OFFICE]));
		if ((earlier = dup_add(&p->dups, buf_take(&key), line)) != 0) {
			anomaly(r, line, ROPA_A_DUPLICATE, "same Denominazione "
			    "and Strutture as line %zu: not imported",
			    earlier);
			r->dropped++;
		} else
			add_activity(p, line, vals);
		buf_free(&key);
	}
	for (f = 0; f < ROPA_F_COUNT; f++)
		free(vals[f]);
}

static void
add_title(struct parser *p)
{
	struct ropa	*r = p->out;
	struct buf	 b;
	size_t		 i;

	buf_init(&b);
	buf_add(&b, "", 0);
	for (i = 0; i < p->rd.ncell; i++) {
		if (cl(p, i)[0] == '\0')
			continue;
		if (b.len > 0)
			buf_add(&b, " ", 1);
		buf_adds(&b, cl(p, i));
	}
	r->titles = grow(r->titles, r->ntitles, sizeof(*r->titles));
	r->titles[r->ntitles].line = p->rd.first;
	r->titles[r->ntitles].text = buf_take(&b);
	r->ntitles++;
	buf_free(&b);
}

static void
blank_lines(struct parser *p)
{
	size_t	l;

	for (l = p->rd.first; l <= p->rd.last; l++) {
		anomaly(p->out, l, ROPA_A_BLANK, "blank line skipped");
		p->out->blank++;
	}
}

static void
parser_free(struct parser *p)
{
	size_t	i;

	for (i = 0; i < p->nclean; i++)
		buf_free(&p->clean[i]);
	free(p->clean);
	free(p->kinds);
	free(p->cost);
	free(p->col);
	free(p->dp);
	free(p->how);
	toks_free(&p->t);
	dup_free(&p->dups);
	buf_free(&p->tmp);
	for (i = 0; i < MAX_COLS; i++)
		free(p->hdr[i]);
	kmemo_free(&p->km);
}

static void
report(const struct ropa_opts *o, size_t pos, size_t tlen, size_t len)
{
	size_t	done;

	if (o == NULL || o->progress == NULL)
		return;
	done = tlen == 0 ? len : (size_t)((double)pos / (double)tlen *
	    (double)len);
	if (done > len)
		done = len;
	o->progress(done, len, o->arg);
}

int
ropa_parse_opts(const char *bytes, size_t len, const struct ropa_opts *opts,
    struct ropa *out, char **cause)
{
	static const char	 delims[] = { '\t', ';', ',' };
	struct parser		 p;
	struct buf		 text;
	size_t			 i, k, hidx = 0, hline = 0, every;
	int			 best = 0, s, hn, has_name = 0, ctl;
	char			 delim = '\t';

	memset(out, 0, sizeof(*out));
	for (i = 0; i < ROPA_F_COUNT; i++)
		out->column[i] = -1;
	if (cause != NULL)
		*cause = NULL;
	buf_init(&text);
	out->encoding = decode_input((const unsigned char *)bytes, len, &text);
	if (text.data == NULL)
		buf_add(&text, "", 0);
	for (i = 0; i < text.len; i++)
		if (!is_space_cp((unsigned char)text.data[i]))
			break;
	if (i == text.len) {
		buf_free(&text);
		if (cause != NULL)
			*cause = xstrdup(len == 0 ? "the file is empty" :
			    "the file holds only blank lines");
		return -1;
	}

	memset(&p, 0, sizeof(p));
	p.out = out;
	p.lex = lex_get();
	for (i = 0; i < nitems(p.fitc); i++)
		for (s = 0; s < CT_COUNT; s++)
			p.fitc[i][s] = (unsigned char)fit((unsigned)i,
			    (enum ctype)s);
	toks_init(&p.t);
	buf_init(&p.tmp);
	for (i = 0; i < nitems(delims); i++) {
		size_t	idx = 0, line = 0;

		s = find_header(&p, text.data, text.len, delims[i], &idx,
		    &line, &hn);
		if (s > best) {
			best = s;
			delim = delims[i];
			hidx = idx;
			hline = line;
			has_name = hn;
		}
	}
	if (best < 2 || !has_name) {
		if (cause != NULL && best >= 2)
			*cause = xasprintf("the header row (line %zu) has no "
			    "column Denominazione, the name of each "
			    "activity", hline);
		else if (cause != NULL)
			*cause = xasprintf("no header row: none of the first "
			    "%d lines names the columns of a register "
			    "(Denominazione, Finalità, Strutture, Designati, "
			    "...)", HEADER_SCAN);
		parser_free(&p);
		buf_free(&text);
		ropa_free(out);
		return -1;
	}
	out->delimiter = delim;
	out->header_line = hline;

	every = opts != NULL && opts->every > 0 ? opts->every : 1000;
	rd_init(&p.rd, text.data, text.len, delim);
	for (k = 0; rd_record(&p.rd); k++) {
		ctl = clean_record(&p);
		if (k < hidx) {
			if (record_blank(&p))
				blank_lines(&p);
			else
				add_title(&p);
			continue;
		}
		if (k == hidx) {
			setup_columns(&p);
			p.kinds = xcalloc(p.ncols + EXTRA_WINDOW,
			    sizeof(*p.kinds));
			p.cost = xcalloc((p.ncols + EXTRA_WINDOW) * CT_COUNT,
			    sizeof(*p.cost));
			p.col = xcalloc(p.ncols + EXTRA_WINDOW,
			    sizeof(*p.col));
			p.dp = xcalloc((p.ncols + EXTRA_WINDOW + 1) *
			    (p.ncols + 1), sizeof(*p.dp));
			p.how = xcalloc((p.ncols + EXTRA_WINDOW + 1) *
			    (p.ncols + 1), sizeof(*p.how));
			continue;
		}
		if (record_blank(&p))
			blank_lines(&p);
		else if (is_header_again(&p)) {
			out->rows++;
			out->dropped++;
			anomaly(out, p.rd.first, ROPA_A_HEADER_AGAIN,
			    "the header row again: skipped");
		} else
			data_row(&p, ctl);
		if ((k + 1) % every == 0)
			report(opts, p.rd.pos, text.len, len);
	}
	/* Physical lines: every line end, and a last line without one. */
	out->lines = p.rd.eols[0] + p.rd.eols[1] + p.rd.eols[2];
	if (text.len > 0 && text.data[text.len - 1] != '\n' &&
	    text.data[text.len - 1] != '\r')
		out->lines++;
	if (p.rd.eols[1] >= p.rd.eols[0] && p.rd.eols[1] >= p.rd.eols[2] &&
	    p.rd.eols[1] > 0)
		out->eol = ROPA_EOL_CRLF;
	else if (p.rd.eols[0] >= p.rd.eols[2] && p.rd.eols[0] > 0)
		out->eol = ROPA_EOL_LF;
	else if (p.rd.eols[2] > 0)
		out->eol = ROPA_EOL_CR;
	else
		out->eol = ROPA_EOL_NONE;
	report(opts, text.len, text.len, len);
	rd_free(&p.rd);
	parser_free(&p);
	buf_free(&text);
	return 0;
}

int
ropa_parse(const char *bytes, size_t len, struct ropa *out, char **cause)
{
	return ropa_parse_opts(bytes, len, NULL, out, cause);
}

void
ropa_free(struct ropa *r)
{
	size_t	i;
	int	f;

	if (r == NULL)
		return;
	for (i = 0; i < r->nact; i++)
		for (f = 0; f < ROPA_F_COUNT; f++)
			free(r->act[i].f[f]);
	free(r->act);
	for (i = 0; i < r->nanom; i++)
		free(r->anom[i].detail);
	free(r->anom);
	for (i = 0; i < r->ntitles; i++)
		free(r->titles[i].text);
	free(r->titles);
	memset(r, 0, sizeof(*r));
	for (f = 0; f < ROPA_F_COUNT; f++)
		r->column[f] = -1;
}

/* ---- splitting run-together cells ---- */

/*
 * Cuts s at explicit separators (line breaks and the characters in seps)
 * and calls fn on each non-empty piece.
 */
static void
pieces(const char *s, const char *seps,
    void (*fn)(const char *, size_t, void *), void *arg)
{
	size_t	i = 0, start = 0, n = strlen(s);

	for (i = 0; i <= n; i++) {
		if (i < n && s[i] != '\n' && s[i] != '\r' &&
		    strchr(seps, s[i]) == NULL)
			continue;
		if (i > start)
			fn(s + start, i - start, arg);
		start = i + 1;
	}
}

/* -- people -- */

struct people_ctx {
	struct ropa_list	*out;
	const struct lex	*lex;
	struct toks		*known;	/* tokenised known names */
	size_t			 nknown;
};

static int
is_given(const struct people_ctx *c, const struct toks *t, size_t k)
{
	return vocab_has(&c->lex->given, t, k);
}

/* Tokens k.. spell known name kn (folded); returns its length or 0. */
static size_t
known_at(const struct toks *t, size_t k, const struct toks *kn)
{
	size_t	i, la, lb;

	if (kn->n == 0 || k + kn->n > t->n)
		return 0;
	for (i = 0; i < kn->n; i++) {
		const char	*a = tf(t, k + i, &la), *b = tf(kn, i, &lb);

		if (la != lb || memcmp(a, b, la) != 0)
			return 0;
	}
	return kn->n;
}

/*
 * One piece of a people cell, by dynamic programming over its tokens: a
 * person is a surname (one word, or a particle and a word) and a given name
 * (one word, or two known given names); a known full name is one person
 * and preferred to any pairing; a lone word is a person only as a last
 * resort. The cheapest reading wins.
 */
static void
people_piece(const char *s, size_t n, void *arg)
{
	struct people_ctx	*c = arg;
	struct toks		 t;
	size_t			 N, i, j, k, m;
	int			*best, INF = INT_MAX / 2;
	size_t			*from;

	toks_init(&t);
	toks_split(&t, s, n);
	N = t.n;
	if (N == 0) {
		toks_free(&t);
		return;
	}
	best = xcalloc(N + 1, sizeof(*best));
	from = xcalloc(N + 1, sizeof(*from));
	for (i = 1; i <= N; i++)
		best[i] = INF;
	for (i = 0; i < N; i++) {
		if (best[i] >= INF)
			continue;
#define RELAX(to_, cost) do {						\
		if (best[i] + (cost) < best[(to_)]) {			\
			best[(to_)] = best[i] + (cost);			\
			from[(to_)] = i;				\
		}							\
	} while (0)
		for (k = 0; k < c->nknown; k++)
			if ((m = known_at(&t, i, &c->known[k])) > 0)
				RELAX(i + m, -3);
		RELAX(i + 1, 6);
		/* surname of one word, or particle + word */
		for (j = 1; j <= 2; j++) {
			size_t	g = i + j;
			int	sc;

			if (j == 2 && !vocab_has(&c->lex->particles, &t, i))
				break;
			if (g >= N)
				break;
			sc = j == 1 && (is_given(c, &t, i) ||
			    vocab_has(&c->lex->particles, &t, i)) ? 1 : 0;
			RELAX(g + 1, sc + (is_given(c, &t, g) ? 0 : 1));
			if (g + 1 < N && is_given(c, &t, g) &&
			    is_given(c, &t, g + 1))
				RELAX(g + 2, sc + 1);
		}
#undef RELAX
	}
	/* walk back */
	{
		size_t	*cut = xcalloc(N + 1, sizeof(*cut)), nc = 0, e = N;

		while (e > 0) {
			cut[nc++] = e;
			e = from[e];
		}
		e = 0;
		while (nc > 0) {
			size_t	to_ = cut[--nc];

			list_add_tokens(c->out, &t, e, to_);
			e = to_;
		}
		free(cut);
	}
	free(from);
	free(best);
	toks_free(&t);
}

/* The names of a directory or list, tokenised once for a cell; *n gets
   how many (NULL names count, empty). Heap; known_toks_free. */
static struct toks *
known_toks(const char *const *known, size_t nknown, size_t *n)
{
	struct toks	*k;

	*n = 0;
	if (nknown == 0 || known == NULL)
		return NULL;
	k = xcalloc(nknown, sizeof(*k));
	for (size_t i = 0; i < nknown; i++) {
		toks_init(&k[i]);
		if (known[i] != NULL)
			toks_split(&k[i], known[i], strlen(known[i]));
	}
	*n = nknown;
	return k;
}

static void
known_toks_free(struct toks *k, size_t n)
{
	for (size_t i = 0; i < n; i++)
		toks_free(&k[i]);
	free(k);
}

size_t
ropa_split_people_known(const char *cell, const char *const *known,
    size_t nknown, struct ropa_list *out)
{
	struct people_ctx	c;

	memset(out, 0, sizeof(*out));
	c.out = out;
	c.lex = lex_get();
	c.known = known_toks(known, nknown, &c.nknown);
	pieces(cell, ";,/|", people_piece, &c);
	known_toks_free(c.known, c.nknown);
	return out->n;
}

size_t
ropa_split_people(const char *cell, struct ropa_list *out)
{
	return ropa_split_people_known(cell, NULL, 0, out);
}

/* -- categories -- */

/*
 * Cuts tokens [a, b) where a capitalised word follows a lower-case word
 * that does not join phrases: "Dati anagrafici Codice fiscale" is two.
 */
static void
cap_split(struct ropa_list *out, const struct toks *t, size_t a, size_t b,
    const struct lex *lx)
{
	size_t	k, start = a;

	for (k = a + 1; k < b; k++) {
		if (tok_capital(t, k) && tok_lower(t, k - 1) &&
		    !vocab_has(&lx->function, t, k - 1)) {
			list_add_tokens(out, t, start, k);
			start = k;
		}
	}
	list_add_tokens(out, t, start, b);
}

struct cat_ctx {
	struct ropa_list	*out;
	enum ropa_cat		 kind;
	const struct lex	*lex;
};

static void
cat_piece(const char *s, size_t n, void *arg)
{
	struct cat_ctx	*c = arg;
	struct toks	 t;
	size_t		 k, start = 0, m, best;

	toks_init(&t);
	toks_split(&t, s, n);
	if (c->kind == ROPA_CAT_DATA) {
		for (k = 1; k < t.n; k++) {
			const char	*o = to(&t, k);

			if (t.o[k].len == 4 && (memcmp(o, "Dati", 4) == 0 ||
			    memcmp(o, "DATI", 4) == 0)) {
				cap_split(c->out, &t, start, k, c->lex);
				start = k;
			}
		}
		if (start < t.n)
			cap_split(c->out, &t, start, t.n, c->lex);
		toks_free(&t);
		return;
	}
	/* subjects, recipients: known phrases first, the longest */
	k = 0;
	while (k < t.n) {
		/* both lists: a phrase of either ends the one before */
		best = vocab_longest(&c->lex->subjects, &t, k);
		if ((m = vocab_longest(&c->lex->recipients, &t, k)) > best)
			best = m;
		if (best == 0) {
			k++;
			continue;
		}
		if (k > start)
			cap_split(c->out, &t, start, k, c->lex);
		list_add_tokens(c->out, &t, k, k + best);
		k += best;
		start = k;
	}
	if (start < t.n)
		cap_split(c->out, &t, start, t.n, c->lex);
	toks_free(&t);
}

size_t
ropa_split_categories(const char *cell, enum ropa_cat kind,
    struct ropa_list *out)
{
	struct cat_ctx	c;

	memset(out, 0, sizeof(*out));
	c.out = out;
	c.kind = kind;
	c.lex = lex_get();
	pieces(cell, ";,|", cat_piece, &c);
	return out->n;
}

/* -- processors -- */

struct proc_ctx {
	struct ropa_list	*out;
	struct toks		*known;
	size_t			 nknown;
	const struct lex	*lex;
};

/* Length of the longest known name (built in or given) at token k. */
static size_t
proc_known_at(const struct proc_ctx *c, const struct toks *t, size_t k)
{
	size_t	i, m, best = vocab_longest(&c->lex->processors, t, k);

	for (i = 0; i < c->nknown; i++)
		if ((m = known_at(t, k, &c->known[i])) > best)
			best = m;
	return best;
}

/* The built-in list of company suffixes, without an index: few calls. */
static int
tok_suffix(const struct toks *t, size_t k)
{
	return tok_in(t, k, company_suffixes);
}

/* A run of capitals of two words or more around k (suffixes excluded). */
static int
caps_run(const struct toks *t, size_t k)
{
	size_t	a = k, b = k;

	if (!tok_allcaps(t, k) || tok_suffix(t, k) || tok_dotted(t, k))
		return 0;
	while (a > 0 && tok_allcaps(t, a - 1) && !tok_suffix(t, a - 1) &&
	    !tok_dotted(t, a - 1))
		a--;
	while (b + 1 < t->n && tok_allcaps(t, b + 1) &&
	    !tok_suffix(t, b + 1) && !tok_dotted(t, b + 1))
		b++;
	return b > a;
}

static void
proc_piece(const char *s, size_t n, void *arg)
{
	struct proc_ctx		*c = arg;
	struct ropa_list	*out = c->out;
	struct toks		 t;
	size_t			 k, start = 0, kend = 0, m, first_out;
	int			 studio = 0, after_suffix = 0;

	toks_init(&t);
	toks_split(&t, s, n);
	first_out = out->n;
	for (k = 0; k < t.n; k++) {
		int	cut = 0;

		if (k == start) {
			studio = tok_is(&t, k, "studio");
			if ((m = proc_known_at(c, &t, k)) > 0)
				kend = k + m;
			after_suffix = 0;
			continue;
		}
		if (k < kend)	/* inside a known name */
			continue;
		if (k == kend && kend > start && !tok_suffix(&t, k))
			cut = 1;	/* a known name ended */
		else if (after_suffix && !tok_lower(&t, k))
			cut = 1;
		else if (vocab_has(&c->lex->titles, &t, k) && !studio)
			cut = 1;
		else if (tok_capital(&t, k) && vocab_has(&c->lex->org, &t, k) &&
		    !vocab_has(&c->lex->function, &t, k - 1))
			cut = 1;
		else if ((m = proc_known_at(c, &t, k)) > 0 &&
		    !vocab_has(&c->lex->function, &t, k - 1))
			cut = 1;
		else if (tok_dotted(&t, k - 1) && !tok_suffix(&t, k - 1) &&
		    k - 1 == start && !tok_suffix(&t, k))
			cut = 1;	/* "G.P.I. Trentino ..." */
		else if (caps_run(&t, k) != caps_run(&t, k - 1) &&
		    !tok_suffix(&t, k) && !vocab_has(&c->lex->titles, &t, k - 1))
			cut = 1;	/* "Stato LEGALI INCARICATI" */
		if (cut) {
			list_add_tokens(out, &t, start, k);
			start = k;
			studio = tok_is(&t, k, "studio");
			kend = k;
			if ((m = proc_known_at(c, &t, k)) > 0)
				kend = k + m;
			after_suffix = 0;
		}
		if (k >= kend)
			after_suffix = tok_suffix(&t, k);
		else if (k + 1 == kend)
			after_suffix = 0;
	}
	if (start < t.n) {
		/* "Logica s.r.l. Mestre": a lone place after a suffix */
		if (t.n - start == 1 && out->n > first_out && start > 0 &&
		    tok_suffix(&t, start - 1) && proc_known_at(c, &t, start)
		    == 0 && !tok_allcaps(&t, start)) {
			struct buf	b;

			buf_init(&b);
			buf_adds(&b, out->v[out->n - 1]);
			buf_add(&b, " ", 1);
			buf_add(&b, to(&t, start), t.o[start].len);
			free(out->v[out->n - 1]);
			out->v[out->n - 1] = buf_take(&b);
			buf_free(&b);
		} else
			list_add_tokens(out, &t, start, t.n);
	}
	toks_free(&t);
}

size_t
ropa_split_processors(const char *cell, const char *const *known,
    size_t nknown, struct ropa_list *out)
{
	struct proc_ctx	c;

	memset(out, 0, sizeof(*out));
	c.out = out;
	c.lex = lex_get();
	c.known = known_toks(known, nknown, &c.nknown);
	pieces(cell, ";|", proc_piece, &c);
	known_toks_free(c.known, c.nknown);
	return out->n;
}
