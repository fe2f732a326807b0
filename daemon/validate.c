/*
 * validate.c: the checks every piece of untrusted input passes before it is
 * stored or acted on: the names of request types, channels, states and
 * events, the codice fiscale, e-mail addresses, body codes and free text. It
 * is pure (no I/O, no locale, no allocation but the *cause strings) so that
 * the daemon, the importers and the tests get the same answer. A cause names
 * the rule that was broken and must never quote the value: that may be a
 * person's tax code, address or words.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "validate.h"

const char *const req_type_names[REQ_TYPE_COUNT] = {
	[REQ_ACCESS] = "access",
	[REQ_RECTIFICATION] = "rectification",
	[REQ_ERASURE] = "erasure",
	[REQ_RESTRICTION] = "restriction",
	[REQ_PORTABILITY] = "portability",
	[REQ_OBJECTION] = "objection",
	[REQ_AUTOMATED_DECISION] = "automated_decision",
};

const char *const req_channel_names[CH_COUNT] = {
	[CH_EMAIL] = "email",
	[CH_PEC] = "pec",
	[CH_PAPER] = "paper",
	[CH_COUNTER] = "counter",
	[CH_WEB] = "web",
	[CH_PHONE] = "phone",
};

const char *const req_status_names[ST_COUNT] = {
	[ST_RECEIVED] = "received",
	[ST_FORWARDED] = "forwarded",
	[ST_AWAITING_SUBJECT] = "awaiting_subject",
	[ST_COMPLETED] = "completed",
	[ST_REJECTED] = "rejected",
	[ST_WITHDRAWN] = "withdrawn",
};

const char *const notify_event_names[NEV_COUNT] = {
	[NEV_FILED] = "request.filed",
	[NEV_FORWARDED] = "request.forwarded",
	[NEV_DEADLINE_WARNING] = "request.deadline_warning",
	[NEV_EXTENSION_DECISION] = "request.extension_decision",
	[NEV_OVERDUE] = "request.overdue",
	[NEV_EXTENDED] = "request.extended",
	[NEV_CLOSED] = "request.closed",
	[NEV_TASKS_ASSIGNED] = "request.tasks_assigned",
};

/*
 * Sets *cause (when the caller wants one) and returns -1, so that every
 * failure is one line. The caller owns *cause.
 */
static int __attribute__((format(printf, 2, 3)))
fail(char **cause, const char *fmt, ...)
{
	va_list	 ap;

	if (cause != NULL) {
		va_start(ap, fmt);
		*cause = xvasprintf(fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* ASCII only, on purpose: <ctype.h> answers depend on the locale. */
static int
is_upper(int c)
{
	return c >= 'A' && c <= 'Z';
}

static int
is_lower(int c)
{
	return c >= 'a' && c <= 'z';
}

static int
is_alpha(int c)
{
	return is_upper(c) || is_lower(c);
}

static int
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int
is_alnum(int c)
{
	return is_alpha(c) || is_digit(c);
}

static int
to_upper(int c)
{
	return is_lower(c) ? c - 'a' + 'A' : c;
}

static int
to_lower(int c)
{
	return is_upper(c) ? c - 'A' + 'a' : c;
}

int
val_lookup(const char *s, const char *const *names, int n)
{
	int	i;

	if (s == NULL || names == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (names[i] != NULL && strcmp(s, names[i]) == 0)
			return i;
	}
	return -1;
}

/*
 * Codice fiscale (DM 23/12/1976). The letters standing for 0-9 in the digit
 * positions when two people would otherwise share a code (omocodia).
 */
static const char cf_omocodia[] = "LMNPQRSTUV";
/* Month letters A..T for January..December. */
static const char cf_months[] = "ABCDEHLMPRST";
/* Days in each month; 29 for February as the century is not in the code. */
static const int cf_month_days[12] = {
	31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
};
/* Value of a character in an odd (1st, 3rd, ...) position, by letter. */
static const int cf_odd[26] = {
	1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14,
	16, 10, 22, 25, 24, 23
};
/* 0-based indexes of the characters that are digits, or omocodia letters. */
static const int cf_digit_pos[] = { 6, 7, 9, 10, 12, 13, 14 };

/* The value 0-9 of a digit or omocodia letter, or -1. */
static int
cf_digit(int c)
{
	const char	*p;

	if (is_digit(c))
		return c - '0';
	if (c == '\0' || (p = strchr(cf_omocodia, c)) == NULL)
		return -1;
	return (int)(p - cf_omocodia);
}

/* out is written only on success, from a copy, so it may be in itself. */
int
val_tax_code(const char *in, char out[17], char **cause)
{
	char		 cf[17];
	const char	*p;
	size_t		 len, i;
	int		 month, day, sum, v;

	if (in == NULL || *in == '\0')
		return fail(cause, "must not be empty");
	len = strnlen(in, 17);
	if (len != 16)
		return fail(cause, "must be 16 characters");
	for (i = 0; i < 16; i++) {
		if (!is_alnum((unsigned char)in[i]))
			return fail(cause, "may contain only letters and "
			    "digits");
		cf[i] = (char)to_upper((unsigned char)in[i]);
	}
	cf[16] = '\0';

	for (i = 0; i < 6; i++) {
		if (!is_upper(cf[i]))
			return fail(cause, "characters 1-6 must be letters");
	}
	for (i = 0; i < nitems(cf_digit_pos); i++) {
		if (cf_digit(cf[cf_digit_pos[i]]) < 0)
			return fail(cause, "character %d must be a digit or an "
			    "omocodia letter (%s)", cf_digit_pos[i] + 1,
			    cf_omocodia);
	}
	if ((p = strchr(cf_months, cf[8])) == NULL)
		return fail(cause, "character 9 must be a month letter (%s)",
		    cf_months);
	month = (int)(p - cf_months);
	if (!is_upper(cf[11]))
		return fail(cause, "character 12 must be a letter");
	if (!is_upper(cf[15]))
		return fail(cause, "character 16 must be a letter");

	/* Women have 40 added to the day of birth. */
	day = cf_digit(cf[9]) * 10 + cf_digit(cf[10]);
	if (day > 40)
		day -= 40;
	if (day < 1 || day > 31)
		return fail(cause, "day of birth out of range");
	if (day > cf_month_days[month])
		return fail(cause, "day of birth does not exist in its month");

	/* The check sums the characters as written, omocodia letters too. */
	sum = 0;
	for (i = 0; i < 15; i++) {
		v = is_digit(cf[i]) ? cf[i] - '0' : cf[i] - 'A';
		sum += i % 2 == 0 ? cf_odd[v] : v;
	}
	if (cf[15] != 'A' + sum % 26)
		return fail(cause, "wrong check character");

	memcpy(out, cf, sizeof cf);
	return 0;
}

/* RFC 5322 atext: what an unquoted local part may hold besides dots. */
static int
email_atext(int c)
{
	return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+/=?^_`{|}~-", c));
}

static int
email_local(const char *s, size_t len, char **cause)
{
	size_t	i;

	if (len == 0)
		return fail(cause, "local part is empty");
	if (len > 64)
		return fail(cause, "local part is longer than 64 characters");
	if (s[0] == '.' || s[len - 1] == '.')
		return fail(cause, "local part must not start or end with a "
		    "dot");
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (s[i + 1] == '.')
				return fail(cause, "local part must not "
				    "contain two dots in a row");
		} else if (!email_atext((unsigned char)s[i]))
			return fail(cause, "local part contains a character "
			    "that is not allowed");
	}
	return 0;
}

static int
email_domain(const char *s, size_t len, char **cause)
{
	const char	*label, *end = s + len;
	size_t		 n, labels = 0;
	int		 numeric = 0;

	if (len == 0)
		return fail(cause, "domain is empty");
	if (len > 253)
		return fail(cause, "domain is longer than 253 characters");
	for (label = s; label <= end; label += n + 1) {
		n = strcspn(label, ".");
		if (label + n > end)
			n = (size_t)(end - label);
		if (n == 0)
			return fail(cause, "domain has an empty label");
		if (n > 63)
			return fail(cause, "domain label is longer than 63 "
			    "characters");
		if (label[0] == '-' || label[n - 1] == '-')
			return fail(cause, "domain label must not start or "
			    "end with a hyphen");
		numeric = 1;
		for (size_t i = 0; i < n; i++) {
			int	c = (unsigned char)label[i];

			if (!is_alnum(c) && c != '-')
				return fail(cause, "domain label contains a "
				    "character that is not allowed");
			if (!is_digit(c))
				numeric = 0;
		}
		labels++;
	}
	if (labels < 2)
		return fail(cause, "domain must have at least two labels");
	/* The last label seen is the top-level one. */
	if (numeric)
		return fail(cause, "domain's top-level label must not be all "
		    "digits");
	return 0;
}

/*
 * Form only: whether mail can reach the address is the mail server's
 * business. Quoted local parts ("a b"@example.org), domain literals
 * ([192.0.2.1]) and non-ASCII (SMTPUTF8) addresses are not accepted: public
 * bodies' correspondents do not use them, and each widens what downstream
 * code (mail headers, templates) must escape.
 */
int
val_email(const char *s, char **cause)
{
	const char	*at;
	size_t		 len, i;

	if (s == NULL || *s == '\0')
		return fail(cause, "must not be empty");
	len = strlen(s);
	for (i = 0; i < len; i++) {
		unsigned char	c = (unsigned char)s[i];

		if (c <= ' ' || c == 0x7f)
			return fail(cause, "must not contain spaces or control "
			    "characters");
	}
	if ((at = strchr(s, '@')) == NULL)
		return fail(cause, "missing @");
	if (strchr(at + 1, '@') != NULL)
		return fail(cause, "must contain exactly one @ (quoted local "
		    "parts are not supported)");
	if (email_local(s, (size_t)(at - s), cause) == -1)
		return -1;
	if (email_domain(at + 1, len - (size_t)(at - s) - 1, cause) == -1)
		return -1;
	if (len > 254)
		return fail(cause, "longer than 254 characters");
	return 0;
}

/*
 * Decodes one UTF-8 sequence at s (RFC 3629, Table 3-7 of the Unicode
 * standard): returns its length and the code point in *cp, or 0 if the bytes
 * are not well-formed (overlong, surrogate, above U+10FFFF, truncated). The
 * second byte's range depends on the first, which is what rules out the
 * overlongs, the surrogates and what lies past U+10FFFF.
 */
static size_t
utf8_decode(const unsigned char *s, unsigned long *cp)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		n, i;
	unsigned long	v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xc2)		/* continuation, or overlong C0/C1 */
		return 0;
	if (s[0] < 0xe0) {
		n = 2;
		v = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		n = 3;
		v = s[0] & 0x0f;
		if (s[0] == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (s[0] == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (s[0] < 0xf5) {
		n = 4;
		v = s[0] & 0x07;
		if (s[0] == 0xf0)
			lo = 0x90;	/* overlong */
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return 0;
	/* A NUL ends the string and fails here, so we never read past it. */
	for (i = 1; i < n; i++) {
		if (s[i] < lo || s[i] > hi)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = v;
	return n;
}

int
val_utf8(const char *s, size_t len)
{
	const unsigned char	*p = (const unsigned char *)s;
	unsigned long		 cp;
	size_t			 i = 0, n;

	while (i < len) {
		/* Most of a request line is ASCII: one test a byte. */
		if (p[i] != '\0' && p[i] < 0x80) {
			i++;
			continue;
		}
		/* utf8_decode stops at a NUL: a NUL inside is malformed too */
		if (p[i] == '\0' || (n = utf8_decode(p + i, &cp)) == 0 ||
		    n > len - i)
			return -1;
		i += n;
	}
	return 0;
}

size_t
val_utf8_prefix(const char *s, size_t max)
{
	const unsigned char	*p = (const unsigned char *)s;
	unsigned long		 cp;
	size_t			 i = 0, n;

	while (p[i] != '\0' && (n = utf8_decode(p + i, &cp)) != 0 &&
	    i + n <= max)
		i += n;
	return i;
}

/*
 * The whole string is checked before its length, so that a text which is
 * both too long and malformed is reported as malformed: shortening it alone
 * would not make it acceptable. NULL counts as empty; whether a field is
 * required is the caller's question.
 */
int
val_text(const char *s, size_t maxchars, int multiline, char **cause)
{
	const unsigned char	*p;
	unsigned long		 cp;
	size_t			 n, chars = 0;

	if (s == NULL)
		return 0;
	for (p = (const unsigned char *)s; *p != '\0'; p += n) {
		if ((n = utf8_decode(p, &cp)) == 0)
			return fail(cause, "is not valid UTF-8 (at byte %zu)",
			    (size_t)(p - (const unsigned char *)s));
		chars++;
		if (cp == '\n' || (cp == '\r' && !multiline)) {
			if (!multiline)
				return fail(cause, "must be a single line "
				    "(line break at character %zu)", chars);
		} else if (cp == '\t') {
			if (!multiline)
				return fail(cause, "contains a tab (character "
				    "%zu)", chars);
		} else if (cp == '\r') {
			return fail(cause, "contains a carriage return "
			    "(character %zu): lines must end with LF alone",
			    chars);
		} else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f))
			return fail(cause, "contains a control character "
			    "(character %zu)", chars);
	}
	if (chars > maxchars)
		return fail(cause, "longer than %zu characters", maxchars);
	return 0;
}

int
val_code(const char *s, char out[33], char **cause)
{
	char	code[33];
	size_t	len, i;

	if (s == NULL || *s == '\0')
		return fail(cause, "must not be empty");
	len = strnlen(s, 33);
	if (len > 32)
		return fail(cause, "must be at most 32 characters");
	for (i = 0; i < len; i++) {
		int	c = to_lower((unsigned char)s[i]);

		if (!is_lower(c) && !is_digit(c) && c != '_' && c != '-')
			return fail(cause, "may contain only letters a-z, "
			    "digits, '_' and '-'");
		code[i] = (char)c;
	}
	code[len] = '\0';
	if (code[0] == '_' || code[0] == '-')
		return fail(cause, "must start with a letter or digit");
	memcpy(out, code, len + 1);
	return 0;
}
