/*
 * fuzz_validate.c: libFuzzer target for the checks of untrusted strings
 * (validate.c) and the date parsers of calendar.c. Each input, cut at its
 * first NUL, goes through every checker; what a checker accepts must keep the
 * promises its header makes (normalised forms re-validate, dates round-trip,
 * holiday lists come out sorted and distinct), and for free text and body
 * codes a second, independent implementation here must agree with it. A
 * broken promise aborts, so libFuzzer records the input. It must never
 * print the input: the checkers' own rule is not to echo personal data, and
 * the fuzzer checks that they keep it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "util.h"
#include "validate.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_validate: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

static int
ascii_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

static int
ascii_alnum(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9');
}

/*
 * The UTF-8 rules of RFC 3629 written the other way round from validate.c:
 * decode by the lead byte's bit pattern, then refuse overlong forms,
 * surrogates and what lies past U+10FFFF by the value. Returns the number of
 * code points, or -1 when s is not well-formed.
 */
static long
ref_utf8(const unsigned char *s, int multiline)
{
	long	 chars = 0;

	while (*s != '\0') {
		unsigned long	cp;
		int		n, i;

		if ((*s & 0x80) == 0) {
			cp = *s;
			n = 1;
		} else if ((*s & 0xe0) == 0xc0) {
			cp = *s & 0x1f;
			n = 2;
		} else if ((*s & 0xf0) == 0xe0) {
			cp = *s & 0x0f;
			n = 3;
		} else if ((*s & 0xf8) == 0xf0) {
			cp = *s & 0x07;
			n = 4;
		} else
			return -1;
		for (i = 1; i < n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return -1;	/* also stops at the NUL */
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		/* The control characters val_text refuses. */
		if (cp == '\n' || cp == '\t') {
			if (!multiline)
				return -1;
		} else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return -1;
		s += n;
		chars++;
	}
	return chars;
}

static void
check_text(const char *s)
{
	char	*cause = NULL;

	for (int multiline = 0; multiline <= 1; multiline++) {
		long	want = ref_utf8((const unsigned char *)s, multiline);
		int	rc = val_text(s, SIZE_MAX, multiline, &cause);

		CHECK((rc == 0) == (want >= 0));
		CHECK((rc == 0) == (cause == NULL));
		free(cause);
		cause = NULL;
		if (want < 0)
			continue;
		/* The limit counts code points, not bytes. */
		CHECK(val_text(s, (size_t)want, multiline, NULL) == 0);
		if (want > 0) {
			CHECK(val_text(s, (size_t)want - 1, multiline,
			    &cause) == -1);
			CHECK(cause != NULL);
			free(cause);
			cause = NULL;
		}
	}
}

static void
check_tax_code(const char *s)
{
	char	 out[17], again[17], *cause = NULL;
	size_t	 len = strlen(s);
	int	 alnum = len == 16;

	for (size_t i = 0; i < len && alnum; i++)
		alnum = ascii_alnum((unsigned char)s[i]);
	memset(out, 'x', sizeof out);
	if (val_tax_code(s, out, &cause) != 0) {
		CHECK(cause != NULL);
		/* No cause holds 16 letters and digits in a row: one that
		   does quotes the code. */
		CHECK(!alnum || strstr(cause, s) == NULL);
		free(cause);
		return;
	}
	CHECK(cause == NULL);
	CHECK(alnum);
	CHECK(out[16] == '\0');
	for (size_t i = 0; i < 16; i++)
		CHECK(out[i] == ascii_upper((unsigned char)s[i]));
	CHECK(out[15] >= 'A' && out[15] <= 'Z');
	CHECK(val_tax_code(out, again, NULL) == 0);
	CHECK(memcmp(out, again, sizeof out) == 0);
	/* out may be the input itself. */
	memcpy(again, out, sizeof again);
	CHECK(val_tax_code(again, again, NULL) == 0);
	CHECK(memcmp(out, again, sizeof out) == 0);
}

static void
check_email(const char *s)
{
	char		*cause = NULL, *up;
	const char	*at;
	size_t		 len = strlen(s);

	if (val_email(s, &cause) != 0) {
		CHECK(cause != NULL);
		/* No cause holds an '@' next to anything but a space. */
		CHECK(len < 2 || strchr(s, '@') == NULL ||
		    strstr(cause, s) == NULL);
		free(cause);
		return;
	}
	CHECK(cause == NULL);
	CHECK(len <= 254);
	at = strchr(s, '@');
	CHECK(at != NULL && strchr(at + 1, '@') == NULL);
	CHECK(at > s && at - s <= 64);
	CHECK(strchr(at + 1, '.') != NULL);
	CHECK(strstr(s, "..") == NULL);
	CHECK(s[0] != '.' && at[-1] != '.' && at[1] != '.' &&
	    s[len - 1] != '.');
	for (size_t i = 0; i < len; i++)
		CHECK((unsigned char)s[i] > ' ' && (unsigned char)s[i] < 0x7f);
	/* Case does not matter to the form. */
	up = xstrdup(s);
	for (char *p = up; *p != '\0'; p++)
		*p = (char)ascii_upper((unsigned char)*p);
	CHECK(val_email(up, NULL) == 0);
	free(up);
}

/* [a-z0-9_-]{1,32}, not starting with '_' or '-', after folding case. */
static int
ref_code(const char *s, char out[33])
{
	size_t	len = strlen(s);

	if (len < 1 || len > 32 || s[0] == '_' || s[0] == '-')
		return -1;
	for (size_t i = 0; i <= len; i++) {
		int c = (unsigned char)s[i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != '\0' && !(c >= 'a' && c <= 'z') &&
		    !(c >= '0' && c <= '9') && c != '_' && c != '-')
			return -1;
		out[i] = (char)c;
	}
	return 0;
}

static void
check_code(const char *s)
{
	char	out[33], want[33], *cause = NULL;
	int	rc = val_code(s, out, &cause), wrc = ref_code(s, want);

	CHECK(rc == wrc);
	CHECK((rc == 0) == (cause == NULL));
	free(cause);
	if (rc == 0) {
		CHECK(strcmp(out, want) == 0);
		CHECK(val_code(out, want, NULL) == 0);
		CHECK(strcmp(out, want) == 0);
	}
}

static void
check_date(const char *s)
{
	char	out[11];
	int	dayno, again, y, m, d;

	if (cal_parse_date(s, &dayno) != 0)
		return;
	CHECK(strlen(s) == 10);
	cal_format_date(dayno, out);
	CHECK(strcmp(out, s) == 0);
	CHECK(cal_parse_date(out, &again) == 0 && again == dayno);
	cal_to_ymd(dayno, &y, &m, &d);
	CHECK(y >= 1900 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 &&
	    d <= cal_days_in_month(y, m));
	CHECK(cal_from_ymd(y, m, d) == dayno);
	CHECK(cal_weekday(dayno + 1) == cal_weekday(dayno) % 7 + 1);
}

/* Any day of the years the parser takes formats into what it parses. */
static void
check_dayno(const uint8_t *data, size_t size)
{
	static int	lo, hi;
	uint32_t	raw = 0;
	int		dayno, again;
	char		out[11];

	if (hi == 0) {
		lo = cal_from_ymd(1900, 1, 1);
		hi = cal_from_ymd(9999, 12, 31);
	}
	for (size_t i = 0; i < size && i < 4; i++)
		raw = raw << 8 | data[i];
	dayno = lo + (int)(raw % (uint32_t)(hi - lo + 1));
	cal_format_date(dayno, out);
	CHECK(cal_parse_date(out, &again) == 0 && again == dayno);
}

static void
check_local(const char *s)
{
	struct cal_local	 local, again;
	char			 out[CAL_MAX_LOCAL * 6 + 1], *cause = NULL;

	memset(&local, 0xa5, sizeof local);
	if (cal_local_parse(s, &local, &cause) != 0) {
		CHECK(cause != NULL);
		free(cause);
		return;
	}
	CHECK(cause == NULL);
	CHECK(local.n >= 0 && local.n <= CAL_MAX_LOCAL);
	for (int i = 0; i < local.n; i++) {
		int m = local.mmdd[i] / 100, d = local.mmdd[i] % 100;

		CHECK(m >= 1 && m <= 12 && d >= 1 &&
		    d <= cal_days_in_month(2024, m));
		CHECK(i == 0 || local.mmdd[i - 1] < local.mmdd[i]);
	}
	cal_local_format(&local, out, sizeof out);
	CHECK(strlen(out) == (local.n ? (size_t)local.n * 6 - 1 : 0));
	memset(&again, 0x5a, sizeof again);
	CHECK(cal_local_parse(out, &again, &cause) == 0);
	CHECK(again.n == local.n);
	CHECK(memcmp(again.mmdd, local.mmdd,
	    (size_t)local.n * sizeof local.mmdd[0]) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s = xmalloc(size + 1);

	memcpy(s, data, size);
	s[size] = '\0';
	check_text(s);
	check_tax_code(s);
	check_email(s);
	check_code(s);
	check_date(s);
	check_dayno(data, size);
	check_local(s);
	free(s);
	return 0;
}
