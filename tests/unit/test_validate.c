/*
 * test_validate.c: unit tests of validate.c. The codice fiscale tests build
 * their codes with a check-character generator of their own, and the UTF-8
 * and e-mail tests compare validate.c against independent reference checks
 * (a naive decoder, a POSIX regular expression) over exhaustive or random
 * inputs, so that the tests do not merely restate the implementation. No
 * test may depend on the locale or on anything outside this process.
 */
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"
#include "validate.h"

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

/*
 * The contract every validator shares: 0 and no cause, or -1 and a cause
 * that is a non-empty string. Returns rc, and hands the cause back (caller
 * frees) when wanted.
 */
static int
check_rc(int rc, char *cause, char **keep)
{
	assert_true(rc == 0 || rc == -1);
	if (rc == 0)
		assert_null(cause);
	else {
		assert_non_null(cause);
		assert_true(cause[0] != '\0');
	}
	if (keep != NULL)
		*keep = cause;
	else
		free(cause);
	return rc;
}

static void
assert_contains(const char *hay, const char *needle)
{
	if (strstr(hay, needle) == NULL)
		fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

/* ---- name tables and val_lookup ---- */

static void
check_table(const char *const *names, int n, const char *const *want,
    int nwant)
{
	int	i, j;

	assert_int_equal(n, nwant);
	for (i = 0; i < n; i++) {
		assert_non_null(names[i]);
		assert_string_equal(names[i], want[i]);
		assert_int_equal(val_lookup(want[i], names, n), i);
		for (j = 0; j < i; j++)
			assert_string_not_equal(names[i], names[j]);
	}
	assert_int_equal(val_lookup("", names, n), -1);
	assert_int_equal(val_lookup("nonesuch", names, n), -1);
	assert_int_equal(val_lookup(NULL, names, n), -1);
	/* Exact: no prefix, no case folding, no trailing junk. */
	{
		char	buf[64];

		snprintf(buf, sizeof buf, "%s ", want[0]);
		assert_int_equal(val_lookup(buf, names, n), -1);
		snprintf(buf, sizeof buf, "%.*s", (int)strlen(want[0]) - 1,
		    want[0]);
		assert_int_equal(val_lookup(buf, names, n), -1);
		snprintf(buf, sizeof buf, "%s", want[n - 1]);
		buf[0] = (char)(buf[0] - 'a' + 'A');
		assert_int_equal(val_lookup(buf, names, n), -1);
	}
	/* n bounds the search. */
	assert_int_equal(val_lookup(want[n - 1], names, n - 1), -1);
	assert_int_equal(val_lookup(want[0], names, 0), -1);
}

static void
test_names(void **state)
{
	static const char *const types[] = { "access", "rectification",
	    "erasure", "restriction", "portability", "objection",
	    "automated_decision" };
	static const char *const channels[] = { "email", "pec", "paper",
	    "counter", "web", "phone" };
	static const char *const statuses[] = { "received", "forwarded",
	    "awaiting_subject", "completed", "rejected", "withdrawn" };
	static const char *const events[] = { "request.filed",
	    "request.forwarded", "request.deadline_warning",
	    "request.extension_decision", "request.overdue",
	    "request.extended", "request.closed", "request.tasks_assigned" };

	(void)state;
	check_table(req_type_names, REQ_TYPE_COUNT, types, (int)nitems(types));
	check_table(req_channel_names, CH_COUNT, channels,
	    (int)nitems(channels));
	check_table(req_status_names, ST_COUNT, statuses,
	    (int)nitems(statuses));
	check_table(notify_event_names, NEV_COUNT, events, (int)nitems(events));
	/* The enums index the tables, not the order of some other list. */
	assert_string_equal(req_type_names[REQ_AUTOMATED_DECISION],
	    "automated_decision");
	assert_string_equal(req_channel_names[CH_PEC], "pec");
	assert_string_equal(req_status_names[ST_AWAITING_SUBJECT],
	    "awaiting_subject");
	assert_string_equal(notify_event_names[NEV_EXTENSION_DECISION],
	    "request.extension_decision");
	assert_int_equal(NEV_ALL, 0xff);
}

/* ---- codice fiscale ---- */

/*
 * The check character of the first 15 characters of s (upper case), as the
 * Agenzia delle Entrate publishes it, written out independently of
 * validate.c: a character in an odd position (1st, 3rd, ...) is worth
 * ODD[its index in ALNUM], in an even position its digit value or its letter
 * index. Returns '?' if a character is not an upper-case letter or digit.
 */
static char
cf_check(const char *s)
{
	static const char alnum[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
	static const int odd[36] = {
		1, 0, 5, 7, 9, 13, 15, 17, 19, 21,		/* 0-9 */
		1, 0, 5, 7, 9, 13, 15, 17, 19, 21,		/* A-J */
		2, 4, 18, 20, 11, 3, 6, 8, 12, 14,		/* K-T */
		16, 10, 22, 25, 24, 23				/* U-Z */
	};
	const char	*p;
	int		 i, k, sum = 0;

	for (i = 0; i < 15; i++) {
		if (s[i] == '\0' || (p = strchr(alnum, s[i])) == NULL)
			return '?';
		k = (int)(p - alnum);
		if (i % 2 == 0)
			sum += odd[k];
		else
			sum += k < 10 ? k : k - 10;
	}
	return (char)('A' + sum % 26);
}

/*
 * Copies 15 characters of prefix to out (which may be prefix) and appends
 * their check character.
 */
static void
cf_make(const char *prefix, char out[17])
{
	memmove(out, prefix, 15);
	out[15] = cf_check(prefix);
	out[16] = '\0';
}

static int
cf_valid(const char *in, char out[17], char **keep)
{
	char	*cause = NULL;
	int	 rc;

	rc = val_tax_code(in, out, &cause);
	return check_rc(rc, cause, keep);
}

static void
test_cf_known(void **state)
{
	static const char *const good[] = {
		"RSSMRA85T10A562S",	/* Mario Rossi, Rome, 10/12/1985 */
		"MRTMTT25D09F205Z",	/* Milan, 9/4/1925 */
		"RSSMRA85T10A56NH",	/* omocodic variant of the first */
	};
	char	out[17];
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(good); i++) {
		/* The generator agrees with codes computed elsewhere. */
		assert_int_equal(cf_check(good[i]), good[i][15]);
		memset(out, 'x', sizeof out);
		assert_int_equal(cf_valid(good[i], out, NULL), 0);
		assert_string_equal(out, good[i]);
	}
}

static void
test_cf_case(void **state)
{
	static const struct {
		const char	*in, *want;
	} t[] = {
		{ "rssmra85t10a562s", "RSSMRA85T10A562S" },
		{ "RssMra85T10a562S", "RSSMRA85T10A562S" },
		{ "mrtmtt25d09f205z", "MRTMTT25D09F205Z" },
		{ "rssmra85t10a56nh", "RSSMRA85T10A56NH" },
	};
	char	out[17];
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		memset(out, 0, sizeof out);
		assert_int_equal(cf_valid(t[i].in, out, NULL), 0);
		assert_string_equal(out, t[i].want);
	}
}

/*
 * Every combination of omocodia letters in the seven digit positions is a
 * valid code once its check character is recomputed, and is rejected with
 * the check character of the plain code (when the two differ).
 */
static void
test_cf_omocodia(void **state)
{
	static const char *const base[] = {
		"RSSMRA85T10A562S", "MRTMTT25D09F205Z", "BNCLRA90A41Z404X",
		"VRDGPP13R10B157X",
	};
	static const int pos[7] = { 6, 7, 9, 10, 12, 13, 14 };
	static const char omo[] = "LMNPQRSTUV";
	char	 code[17], lower[17], out[17], *cause;
	size_t	 b, i;
	unsigned mask;
	int	 tested_wrong = 0;

	(void)state;
	for (b = 0; b < nitems(base); b++) {
		cf_make(base[b], code);
		assert_int_equal(cf_valid(code, out, NULL), 0);
		for (mask = 1; mask < 128; mask++) {
			cf_make(base[b], code);
			for (i = 0; i < 7; i++) {
				if (mask & (1u << i))
					code[pos[i]] = omo[code[pos[i]] - '0'];
			}
			cf_make(code, code);
			assert_int_equal(cf_valid(code, out, NULL), 0);
			assert_string_equal(out, code);
			for (i = 0; i < 16; i++)
				lower[i] = (char)(code[i] >= 'A' &&
				    code[i] <= 'Z' ? code[i] + 32 : code[i]);
			lower[16] = '\0';
			assert_int_equal(cf_valid(lower, out, NULL), 0);
			assert_string_equal(out, code);

			code[15] = cf_check(base[b]);
			if (code[15] != cf_check(code)) {
				assert_int_equal(cf_valid(code, out, &cause),
				    -1);
				assert_string_equal(cause,
				    "wrong check character");
				free(cause);
				tested_wrong++;
			}
		}
	}
	assert_true(tested_wrong > 100);
}

/*
 * Every letter in every letter position and every digit and omocodia letter
 * in every digit position, so that each value of both tables (odd and even
 * positions) takes part in some check character.
 */
static void
test_cf_alphabet(void **state)
{
	static const int letter_pos[] = { 0, 1, 2, 3, 4, 5, 11 };
	static const int digit_pos[] = { 6, 7, 9, 10, 12, 13, 14 };
	static const char digits[] = "0123456789LMNPQRSTUV";
	char	 code[17], out[17];
	size_t	 i, j;
	int	 c, n = 0;

	(void)state;
	for (i = 0; i < nitems(letter_pos); i++) {
		for (c = 'A'; c <= 'Z'; c++) {
			memcpy(code, "RSSMRA85T10A562S", sizeof code);
			code[letter_pos[i]] = (char)c;
			cf_make(code, code);
			if (cf_valid(code, out, NULL) != 0)
				fail_msg("%c at %d", c, letter_pos[i] + 1);
			n++;
		}
	}
	for (i = 0; i < nitems(digit_pos); i++) {
		for (j = 0; j < sizeof digits - 1; j++) {
			/*
			 * The day, 11 December, stays valid whatever its
			 * units; its tens go from 0 to 3 over units of 1.
			 */
			memcpy(code, "RSSMRA85T11A562S", sizeof code);
			if (digit_pos[i] == 9 && j % 10 > 3)
				continue;
			code[digit_pos[i]] = digits[j];
			cf_make(code, code);
			if (cf_valid(code, out, NULL) != 0)
				fail_msg("%c at %d", digits[j],
				    digit_pos[i] + 1);
			n++;
		}
	}
	assert_int_equal(n, 7 * 26 + 6 * 20 + 8);
}

/*
 * Every month letter against every two-digit day: accepted exactly when the
 * day (less 40 for women) lies in 1..31 and exists in that month. Also with
 * the day written in omocodia letters, which must be decoded first.
 */
static void
test_cf_days(void **state)
{
	static const char months[] = "ABCDEHLMPRST";
	static const int mdays[12] = {
		31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	static const char omo[] = "LMNPQRSTUV";
	char	 code[32], out[17], *cause;
	int	 m, d, day, ok, om, accepted = 0;

	(void)state;
	for (m = 0; m < 12; m++) {
		for (d = 0; d < 100; d++) {
			for (om = 0; om < 2; om++) {
				snprintf(code, sizeof code,
				    "BNCLRA90%c%02dZ404", months[m], d);
				if (om) {
					code[9] = omo[code[9] - '0'];
					code[10] = omo[code[10] - '0'];
				}
				cf_make(code, code);
				day = d > 40 ? d - 40 : d;
				ok = day >= 1 && day <= mdays[m];
				if (cf_valid(code, out, &cause) == 0) {
					if (!ok)
						fail_msg("accepted %c day %d",
						    months[m], d);
					accepted++;
					continue;
				}
				if (ok)
					fail_msg("rejected %c day %d: %s",
					    months[m], d, cause);
				if (day < 1 || day > 31)
					assert_string_equal(cause,
					    "day of birth out of range");
				else
					assert_string_equal(cause, "day of "
					    "birth does not exist in its "
					    "month");
				free(cause);
			}
		}
	}
	/* 366 days a year (29 February), for men and women, two ways. */
	assert_int_equal(accepted, 366 * 2 * 2);
}

/*
 * The rules that come before the check character, each broken on its own in
 * a code whose check character is right ('?' at the end means "compute it").
 */
static void
test_cf_bad(void **state)
{
	static const struct {
		const char	*in, *cause;
	} t[] = {
		{ "", "must not be empty" },
		{ "R", "must be 16 characters" },
		{ "RSSMRA85T10A562", "must be 16 characters" },
		{ "RSSMRA85T10A562SS", "must be 16 characters" },
		{ "RSSMRA85T10A562SRSSMRA85T10A562S", "must be 16 characters" },
		{ " RSSMRA85T10A562S", "must be 16 characters" },
		{ "RSSMRA85T10A562S\n", "must be 16 characters" },
		{ " RSSMRA85T10A562", "only letters and digits" },
		{ "RSSMRA85T10A562 ", "only letters and digits" },
		{ "RSS MRA85T10A562", "only letters and digits" },
		{ "RSS-RA85T10A562?", "only letters and digits" },
		{ "RSSMRA85T10A562\t", "only letters and digits" },
		{ "RSSMR\xc3\x80" "85T10A56?", "only letters and digits" },
		{ "RSSMRA85T10A5\xc3\x80?", "only letters and digits" },
		{ "1SSMRA85T10A562?", "characters 1-6 must be letters" },
		{ "RSSMR085T10A562?", "characters 1-6 must be letters" },
		{ "RSSMRAA5T10A562?", "character 7 must be a digit or an "
		    "omocodia letter (LMNPQRSTUV)" },
		{ "RSSMRA8OT10A562?", "character 8 must be a digit" },
		{ "RSSMRA85TW0A562?", "character 10 must be a digit" },
		{ "RSSMRA85T1KA562?", "character 11 must be a digit" },
		{ "RSSMRA85T10A5O2?", "character 14 must be a digit" },
		{ "RSSMRA85T10AZ62?", "character 13 must be a digit" },
		{ "RSSMRA85T10A56Z?", "character 15 must be a digit" },
		{ "RSSMRA85F10A562?", "character 9 must be a month letter "
		    "(ABCDEHLMPRST)" },
		{ "RSSMRA85110A562?", "character 9 must be a month letter" },
		{ "RSSMRA85Z10A562?", "character 9 must be a month letter" },
		{ "RSSMRA85T101562?", "character 12 must be a letter" },
		{ "RSSMRA85T10A5620", "character 16 must be a letter" },
		{ "RSSMRA85T00A562?", "day of birth out of range" },
		{ "RSSMRA85T32A562?", "day of birth out of range" },
		{ "RSSMRA85T40A562?", "day of birth out of range" },
		{ "RSSMRA85T72A562?", "day of birth out of range" },
		{ "RSSMRA85T99A562?", "day of birth out of range" },
		{ "RSSMRA85TQLA562?", "day of birth out of range" },
		{ "RSSMRA85TPVA562?", "day of birth out of range" },
		{ "RSSMRA85D31A562?", "day of birth does not exist" },
		{ "RSSMRA85D71A562?", "day of birth does not exist" },
		{ "RSSMRA85B30A562?", "day of birth does not exist" },
		{ "RSSMRA85BP0A562?", "day of birth does not exist" },
		{ "RSSMRA85S31A562?", "day of birth does not exist" },
		{ "RSSMRA85T10A562A", "wrong check character" },
		{ "RSSMRA85T10A562T", "wrong check character" },
		{ "RSSMRA85T10A563S", "wrong check character" },
		{ "RSSMRA85T10A56NS", "wrong check character" },
		{ "SRSMRA85T10A562S", "wrong check character" },
	};
	char	 in[40], out[17], *cause;
	size_t	 i, n;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		snprintf(in, sizeof in, "%s", t[i].in);
		n = strlen(in);
		if (n == 16 && in[15] == '?')
			in[15] = cf_check(in) == '?' ? 'A' : cf_check(in);
		memcpy(out, "untouched", 10);
		if (cf_valid(in, out, &cause) == 0)
			fail_msg("accepted case %zu", i);
		if (strstr(cause, t[i].cause) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, cause,
			    t[i].cause);
		/* Never echo the value, not even a piece of it. */
		if (n >= 6 && strstr(cause, "RSSMR") != NULL)
			fail_msg("case %zu echoes the input", i);
		free(cause);
		assert_string_equal(out, "untouched");
	}
	assert_int_equal(val_tax_code(NULL, out, &cause), -1);
	free(cause);
}

/*
 * Any change to one character of a valid code is caught: by the layout, or
 * else by the check character (the odd values are a permutation, and digits
 * and omocodia letters never share a value). Only the lower case of a
 * letter is the same code.
 */
static void
test_cf_mutations(void **state)
{
	static const char *const codes[] = {
		"RSSMRA85T10A562S", "MRTMTT25D09F205Z", "RSSMRA85T10A56NH",
	};
	char	 code[17], out[17];
	size_t	 k;
	int	 i, c, same;

	(void)state;
	for (k = 0; k < nitems(codes); k++) {
		for (i = 0; i < 16; i++) {
			for (c = 1; c < 256; c++) {
				memcpy(code, codes[k], sizeof code);
				code[i] = (char)c;
				same = c == codes[k][i] ||
				    (c >= 'a' && c <= 'z' &&
				    c - 32 == codes[k][i]);
				if ((cf_valid(code, out, NULL) == 0) != same)
					fail_msg("code %zu pos %d byte %d", k,
					    i, c);
				if (same)
					assert_string_equal(out, codes[k]);
			}
		}
	}
}

/* Whatever the bytes, the contract holds and nothing is read out of bounds. */
static void
test_cf_random(void **state)
{
	static const char alpha[] = "0123456789ABCDEHLMPRSTUVZaz \x80\xff";
	char	 in[24], out[17], *cause;
	int	 i, j, n, rc;

	(void)state;
	for (i = 0; i < 200000; i++) {
		n = (int)(rng() % 20);
		for (j = 0; j < n; j++)
			in[j] = alpha[rng() % (sizeof alpha - 1)];
		in[n] = '\0';
		cause = NULL;
		rc = val_tax_code(in, out, &cause);
		if (check_rc(rc, cause, NULL) == 0)
			assert_int_equal(strlen(out), 16);
	}
}

/* ---- e-mail ---- */

static int
email_valid(const char *s, char **keep)
{
	char	*cause = NULL;
	int	 rc;

	rc = val_email(s, &cause);
	return check_rc(rc, cause, keep);
}

/* A string of n copies of c, in a static buffer. */
static const char *
rep(char *buf, char c, size_t n)
{
	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

static void
test_email_good(void **state)
{
	static const char *const good[] = {
		"a@b.co",
		"mario.rossi@comune.milano.it",
		"protocollo@pec.comune.roma.it",
		"x+tag@example.org",
		"A.B-C_D@Example.COM",
		"!#$%&'*+/=?^_`{|}~-@example.org",
		"a.b.c.d@e-f.g-h.example",
		"1234@123.example.com",
		"user@xn--p1ai.example",
		"user@example.c0m",
		"user@example.xn--p1ai",
		"u@a.b",
		"u@0-0.it",
	};
	char	buf[400], part[300];
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(good); i++) {
		if (email_valid(good[i], NULL) != 0)
			fail_msg("rejected %s", good[i]);
	}
	/* Lengths at their limits: local 64, label 63, total 254. */
	snprintf(buf, sizeof buf, "%s@example.org", rep(part, 'l', 64));
	assert_int_equal(email_valid(buf, NULL), 0);
	snprintf(buf, sizeof buf, "a@%s.org", rep(part, 'd', 63));
	assert_int_equal(email_valid(buf, NULL), 0);
	/* Local 64, "@", labels of 63, 63 and 58, ".it": 254 in all. */
	snprintf(buf, sizeof buf, "%s@%s.", rep(part, 'l', 64),
	    rep(part + 100, 'a', 63));
	strcat(buf, rep(part + 100, 'b', 63));
	strcat(buf, ".");
	strcat(buf, rep(part + 100, 'c', 254 - strlen(buf) - 3));
	strcat(buf, ".it");
	assert_int_equal(strlen(buf), 254);
	assert_int_equal(email_valid(buf, NULL), 0);
}

static void
test_email_bad(void **state)
{
	static const struct {
		const char	*in, *cause;
	} t[] = {
		{ "", "must not be empty" },
		{ "plainaddress", "missing @" },
		{ "mario.rossi.example.org", "missing @" },
		{ "a@@b.it", "exactly one @" },
		{ "a@b@c.it", "exactly one @" },
		{ "\"a@b\"@c.it", "quoted local parts are not supported" },
		{ "@b.it", "local part is empty" },
		{ ".a@b.it", "local part must not start or end with a dot" },
		{ "a.@b.it", "local part must not start or end with a dot" },
		{ ".@b.it", "local part must not start or end with a dot" },
		{ "a..b@c.it", "local part must not contain two dots" },
		{ "\"a\"@b.it", "local part contains a character" },
		{ "a(b)@c.it", "local part contains a character" },
		{ "a,b@c.it", "local part contains a character" },
		{ "a\\b@c.it", "local part contains a character" },
		{ "\xc3\xa8@b.it", "local part contains a character" },
		{ "a b@c.it", "must not contain spaces or control" },
		{ " a@b.it", "must not contain spaces" },
		{ "a@b.it ", "must not contain spaces" },
		{ "a\t@b.it", "control characters" },
		{ "a@b.it\n", "control characters" },
		{ "a@b.it\r\nBcc: x@y.it", "control characters" },
		{ "a\x7f@b.it", "control characters" },
		{ "a@", "domain is empty" },
		{ "a@b", "domain must have at least two labels" },
		{ "a@localhost", "at least two labels" },
		{ "a@.b.it", "domain has an empty label" },
		{ "a@b..it", "domain has an empty label" },
		{ "a@b.it.", "domain has an empty label" },
		{ "a@.", "domain has an empty label" },
		{ "a@-b.it", "must not start or end with a hyphen" },
		{ "a@b-.it", "must not start or end with a hyphen" },
		{ "a@b.-it", "must not start or end with a hyphen" },
		{ "a@b.it-", "must not start or end with a hyphen" },
		{ "a@b_c.it", "domain label contains a character" },
		{ "a@b.i_t", "domain label contains a character" },
		{ "a@[192.0.2.1]", "domain label contains a character" },
		{ "a@\xc3\xa8.it", "domain label contains a character" },
		{ "a@b.123", "top-level label must not be all digits" },
		{ "a@192.0.2.1", "top-level label must not be all digits" },
	};
	char	 buf[600], part[300], *cause;
	size_t	 i;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		if (email_valid(t[i].in, &cause) == 0)
			fail_msg("accepted case %zu", i);
		if (strstr(cause, t[i].cause) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, cause,
			    t[i].cause);
		free(cause);
	}
	assert_int_equal(val_email(NULL, &cause), -1);
	free(cause);

	snprintf(buf, sizeof buf, "%s@example.org", rep(part, 'l', 65));
	assert_int_equal(email_valid(buf, &cause), -1);
	assert_string_equal(cause, "local part is longer than 64 characters");
	free(cause);

	snprintf(buf, sizeof buf, "a@%s.org", rep(part, 'd', 64));
	assert_int_equal(email_valid(buf, &cause), -1);
	assert_string_equal(cause,
	    "domain label is longer than 63 characters");
	free(cause);

	/* A domain of 254 characters in labels of 49. */
	strcpy(buf, "a@");
	for (i = 0; i < 5; i++) {
		strcat(buf, rep(part, 'd', 49));
		strcat(buf, ".");
	}
	strcat(buf, "itxy");
	assert_int_equal(strlen(buf), 2 + 254);
	assert_int_equal(email_valid(buf, &cause), -1);
	assert_string_equal(cause, "domain is longer than 253 characters");
	free(cause);
	/* Each part within its limit, the whole one too long (255). */
	snprintf(buf, sizeof buf, "%s@%s.", rep(part, 'l', 64),
	    rep(part + 100, 'a', 63));
	strcat(buf, rep(part + 100, 'b', 63));
	strcat(buf, ".");
	strcat(buf, rep(part + 100, 'c', 255 - strlen(buf) - 3));
	strcat(buf, ".it");
	assert_int_equal(strlen(buf), 255);
	assert_int_equal(email_valid(buf, &cause), -1);
	assert_string_equal(cause, "longer than 254 characters");
	free(cause);
}

/*
 * The reference: the rules of the brief as one POSIX extended regular
 * expression plus the lengths and the numeric top-level label, compared
 * with val_email on random strings over an alphabet chosen to hit them.
 */
static int
email_ref(const regex_t *re, const char *s)
{
	const char	*at, *dot, *p;
	int		 digits = 1;

	if (regexec(re, s, 0, NULL, 0) != 0)
		return -1;
	at = strchr(s, '@');
	if (at - s > 64 || strlen(at + 1) > 253 || strlen(s) > 254)
		return -1;
	dot = strrchr(s, '.');
	for (p = dot + 1; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			digits = 0;
	}
	return digits ? -1 : 0;
}

static void
test_email_reference(void **state)
{
	static const char *const atoms[] = {
		"a", "Z", "0", "9", ".", "@", "-", "_", "+", "!", "~", " ",
		"\x01", "\xc3\xa8", "..", "@b.it", ".it", ".123", "x-y",
		"-", "\"", "[", "\x7f",
	};
	regex_t	 re;
	char	 s[128];
	int	 i, j, n, agree_ok = 0;

	(void)state;
	assert_int_equal(regcomp(&re,
	    "^[-A-Za-z0-9!#$%&'*+/=?^_`{|}~]+"
	    "(\\.[-A-Za-z0-9!#$%&'*+/=?^_`{|}~]+)*"
	    "@([A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?\\.)+"
	    "[A-Za-z0-9]([-A-Za-z0-9]{0,61}[A-Za-z0-9])?$",
	    REG_EXTENDED | REG_NOSUB), 0);
	for (i = 0; i < 200000; i++) {
		s[0] = '\0';
		n = (int)(rng() % 12);
		for (j = 0; j < n; j++)
			strcat(s, atoms[rng() % nitems(atoms)]);
		if (email_valid(s, NULL) != email_ref(&re, s))
			fail_msg("val_email and the reference disagree on "
			    "case %d", i);
		if (email_ref(&re, s) == 0)
			agree_ok++;
	}
	regfree(&re);
	/* The alphabet must produce valid addresses too, or this is idle. */
	assert_true(agree_ok > 100);
}

/* ---- free text ---- */

static int
text_valid(const char *s, size_t max, int multiline, char **keep)
{
	char	*cause = NULL;
	int	 rc;

	rc = val_text(s, max, multiline, &cause);
	return check_rc(rc, cause, keep);
}

static void
test_text_table(void **state)
{
	static const struct {
		const char	*in;
		size_t		 max;
		int		 multiline;
		const char	*cause;		/* NULL: valid */
	} t[] = {
		{ "", 0, 0, NULL },
		{ "", 10, 1, NULL },
		{ "hello", 5, 0, NULL },
		{ "hello", 4, 0, "longer than 4 characters" },
		{ "a", 0, 0, "longer than 0 characters" },
		{ "citt\xc3\xa0", 5, 0, NULL }, /* città */
		{ "citt\xc3\xa0!", 5, 0, "longer than 5" },
		{ "\xe2\x82\xac", 1, 0, NULL }, /* € */
		{ "\xf0\x9f\x98\x80", 1, 0, NULL }, /* U+1F600 */
		{ "\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 1, 0, "longer than 1" },
		{ "\xc2\xa0", 1, 0, NULL }, /* U+00A0 */
		{ "\xdf\xbf", 1, 0, NULL }, /* U+07FF */
		{ "\xe0\xa0\x80", 1, 0, NULL }, /* U+0800 */
		{ "\xed\x9f\xbf", 1, 0, NULL }, /* U+D7FF */
		{ "\xee\x80\x80", 1, 0, NULL }, /* U+E000 */
		{ "\xef\xbf\xbf", 1, 0, NULL }, /* U+FFFF */
		{ "\xf0\x90\x80\x80", 1, 0, NULL }, /* U+10000 */
		{ "\xf4\x8f\xbf\xbf", 1, 0, NULL }, /* U+10FFFF */
		{ "a~", 2, 0, NULL },
		{ "line 1\nline 2", 100, 1, NULL },
		{ "col\tcol", 100, 1, NULL },
		{ "\n\t\n", 3, 1, NULL },
		{ "line 1\nline 2", 100, 0, "must be a single line" },
		{ "col\tcol", 100, 0, "contains a tab" },
		{ "a\r\nb", 100, 1, "carriage return" },
		{ "a\rb", 100, 0, "must be a single line" },
		{ "\x01", 10, 1, "control character" },
		{ "ok\x1b[31m", 10, 1, "control character (character 3)" },
		{ "\x1f", 10, 0, "control character" },
		{ "\x0b", 10, 1, "control character" },
		{ "\x0c", 10, 1, "control character" },
		{ "\x7f", 10, 1, "control character" },
		{ "\xc2\x80", 10, 1, "control character" }, /* U+0080 */
		{ "\xc2\x85", 10, 1, "control character" }, /* NEL */
		{ "\xc2\x9f", 10, 1, "control character" }, /* U+009F */
		{ "\xc0\x80", 10, 1, "not valid UTF-8 (at byte 0)" },
		{ "\xc0\xaf", 10, 1, "not valid UTF-8" },
		{ "\xc1\xbf", 10, 1, "not valid UTF-8" },
		{ "\xe0\x80\x80", 10, 1, "not valid UTF-8" },
		{ "\xe0\x9f\xbf", 10, 1, "not valid UTF-8" },
		{ "\xf0\x80\x80\x80", 10, 1, "not valid UTF-8" },
		{ "\xf0\x8f\xbf\xbf", 10, 1, "not valid UTF-8" },
		{ "\xed\xa0\x80", 10, 1, "not valid UTF-8" }, /* U+D800 */
		{ "\xed\xbf\xbf", 10, 1, "not valid UTF-8" }, /* U+DFFF */
		{ "\xed\xa0\xbd\xed\xb8\x80", 10, 1, "not valid UTF-8" },
		{ "\xf4\x90\x80\x80", 10, 1, "not valid UTF-8" },
		{ "\xf5\x80\x80\x80", 10, 1, "not valid UTF-8" },
		{ "\xf7\xbf\xbf\xbf", 10, 1, "not valid UTF-8" },
		{ "\xf8\x88\x80\x80\x80", 10, 1, "not valid UTF-8" },
		{ "\xfe", 10, 1, "not valid UTF-8" },
		{ "\xff", 10, 1, "not valid UTF-8" },
		{ "\x80", 10, 1, "not valid UTF-8" },
		{ "ab\xbf", 10, 1, "not valid UTF-8 (at byte 2)" },
		{ "\xc3", 10, 1, "not valid UTF-8" },
		{ "\xc3" "a", 10, 1, "not valid UTF-8" },
		{ "\xe2\x82", 10, 1, "not valid UTF-8" },
		{ "\xe2\x82" "a", 10, 1, "not valid UTF-8" },
		{ "\xf0\x9f\x98", 10, 1, "not valid UTF-8" },
		{ "\xf0\x9f\x98" "abc", 10, 1, "not valid UTF-8" },
		{ "\xf0\x9f\x98\xc3\xa0", 10, 1, "not valid UTF-8" },
		{ "\xc3\xa0\xa0", 10, 1, "not valid UTF-8 (at byte 2)" },
		/* Malformed and too long: the encoding is what is reported. */
		{ "abcdef\xff", 2, 1, "not valid UTF-8" },
	};
	char	*cause;
	size_t	 i;
	int	 rc;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		rc = text_valid(t[i].in, t[i].max, t[i].multiline, &cause);
		if (rc == 0) {
			if (t[i].cause != NULL)
				fail_msg("accepted case %zu", i);
			continue;
		}
		if (t[i].cause == NULL)
			fail_msg("rejected case %zu: %s", i, cause);
		if (strstr(cause, t[i].cause) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, cause,
			    t[i].cause);
		free(cause);
	}
	assert_int_equal(text_valid(NULL, 0, 0, NULL), 0);
}

/*
 * A naive reference decoder, written from the bit patterns rather than
 * from the table of valid second bytes that validate.c uses: decode by the
 * lead byte's length, then refuse what is overlong, a surrogate, or past
 * U+10FFFF. Returns the number of characters, or -1.
 */
static long
ref_text(const unsigned char *s, size_t len, int multiline)
{
	static const unsigned long min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
	unsigned long	 v;
	size_t		 i = 0, n, k;
	long		 chars = 0;

	while (i < len) {
		if (s[i] < 0x80) {
			n = 1;
			v = s[i];
		} else if ((s[i] & 0xe0) == 0xc0) {
			n = 2;
			v = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 3;
			v = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 4;
			v = s[i] & 0x07;
		} else
			return -1;
		if (i + n > len)
			return -1;
		for (k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return -1;
			v = v << 6 | (s[i + k] & 0x3f);
		}
		if (v < min[n] || (v >= 0xd800 && v <= 0xdfff) || v > 0x10ffff)
			return -1;
		if (v < 0x20 && !(multiline && (v == '\n' || v == '\t')))
			return -1;
		if (v >= 0x7f && v <= 0x9f)
			return -1;
		i += n;
		chars++;
	}
	return chars;
}

static void
text_compare(const unsigned char *s, size_t len)
{
	char	*cause;
	long	 n;
	int	 ml;

	for (ml = 0; ml < 2; ml++) {
		n = ref_text(s, len, ml);
		if (n < 0) {
			if (text_valid((const char *)s, 100, ml, NULL) != -1)
				fail_msg("accepted %02x %02x %02x %02x ml %d",
				    s[0], s[1], s[2], s[3], ml);
			continue;
		}
		if (text_valid((const char *)s, (size_t)n, ml, &cause) != 0)
			fail_msg("rejected %02x %02x %02x %02x ml %d: %s",
			    s[0], s[1], s[2], s[3], ml, cause);
		if (n > 0) {
			assert_int_equal(text_valid((const char *)s,
			    (size_t)n - 1, ml, &cause), -1);
			assert_non_null(strstr(cause, "longer than"));
			free(cause);
		}
	}
}

/*
 * Every string of one or two bytes; every three-byte string with some of
 * the three-byte leads; the other three-byte strings, and four-byte ones
 * with four-byte (or invalid) leads, with every lead and second byte and
 * boundary values after them.
 */
static void
test_text_exhaustive(void **state)
{
	static const unsigned char tail[] = {
		0x01, 0x0a, 0x41, 0x7f, 0x80, 0x81, 0x8f, 0x90, 0x9f, 0xa0,
		0xbf, 0xc0, 0xc3, 0xf0, 0xff
	};
	static const unsigned char last[] = { 0x0a, 0x41, 0x80, 0xbf, 0xc0 };
	unsigned char	s[5] = { 0 };
	unsigned	a, b, c, d;

	(void)state;
	for (a = 1; a < 256; a++) {
		s[0] = (unsigned char)a;
		s[1] = 0;
		text_compare(s, 1);
		for (b = 1; b < 256; b++) {
			s[1] = (unsigned char)b;
			s[2] = 0;
			text_compare(s, 2);
			/*
			 * Three-byte leads need every third byte (those that
			 * limit the second byte, E0 and ED, and their
			 * neighbours); after anything else the boundary
			 * values stand for the rest, and after ASCII it is
			 * the two-byte case again.
			 */
			if (a == 0xe0 || a == 0xe1 || (a >= 0xec && a < 0xf0)) {
				for (c = 1; c < 256; c++) {
					s[2] = (unsigned char)c;
					s[3] = 0;
					text_compare(s, 3);
				}
			} else if (a >= 0x80 || a == 0x0a || a == 0x41) {
				for (c = 0; c < sizeof tail; c++) {
					s[2] = tail[c];
					s[3] = 0;
					text_compare(s, 3);
				}
			}
		}
	}
	for (a = 0xf0; a < 256; a++) {
		s[0] = (unsigned char)a;
		for (b = 1; b < 256; b++) {
			s[1] = (unsigned char)b;
			for (c = 0; c < sizeof tail; c++) {
				s[2] = tail[c];
				for (d = 0; d < sizeof last; d++) {
					s[3] = last[d];
					s[4] = 0;
					text_compare(s, 4);
				}
			}
		}
	}
}

/* Code points by their encodings: every one of U+0000..U+10FFFF. */
static void
test_text_codepoints(void **state)
{
	unsigned char	s[5];
	unsigned long	cp;
	size_t		n;
	int		want, accepted = 0;

	(void)state;
	for (cp = 1; cp <= 0x10ffff; cp++) {
		if (cp < 0x80) {
			s[0] = (unsigned char)cp;
			n = 1;
		} else if (cp < 0x800) {
			s[0] = (unsigned char)(0xc0 | cp >> 6);
			s[1] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 2;
		} else if (cp < 0x10000) {
			s[0] = (unsigned char)(0xe0 | cp >> 12);
			s[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
			s[2] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 3;
		} else {
			s[0] = (unsigned char)(0xf0 | cp >> 18);
			s[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
			s[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
			s[3] = (unsigned char)(0x80 | (cp & 0x3f));
			n = 4;
		}
		s[n] = 0;
		want = !(cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		    (cp >= 0xd800 && cp <= 0xdfff));
		if ((text_valid((const char *)s, 1, 0, NULL) == 0) != want)
			fail_msg("U+%04lX", cp);
		accepted += want;
	}
	assert_int_equal(accepted, 0x10ffff - 32 - 33 - 2048 + 1);
}

/* ---- codes ---- */

static void
test_code(void **state)
{
	static const struct {
		const char	*in, *want;	/* want NULL: rejected */
		const char	*cause;
	} t[] = {
		{ "a", "a", NULL },
		{ "0", "0", NULL },
		{ "comune-milano", "comune-milano", NULL },
		{ "asl_roma_1", "asl_roma_1", NULL },
		{ "a-", "a-", NULL },
		{ "9_", "9_", NULL },
		{ "ABC", "abc", NULL },
		{ "Comune_X-9", "comune_x-9", NULL },
		{ "abcdefghijklmnopqrstuvwxyz012345",
		    "abcdefghijklmnopqrstuvwxyz012345", NULL },
		{ "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
		    "abcdefghijklmnopqrstuvwxyz012345", NULL },
		{ "", NULL, "must not be empty" },
		{ "abcdefghijklmnopqrstuvwxyz0123456", NULL, "at most 32" },
		{ "-abc", NULL, "must start with a letter or digit" },
		{ "_abc", NULL, "must start with a letter or digit" },
		{ "-", NULL, "must start with a letter or digit" },
		{ "a b", NULL, "may contain only" },
		{ " a", NULL, "may contain only" },
		{ "a.b", NULL, "may contain only" },
		{ "a/b", NULL, "may contain only" },
		{ "a\nb", NULL, "may contain only" },
		{ "citt\xc3\xa0", NULL, "may contain only" },
		{ "\xc3\x80", NULL, "may contain only" },
		{ "a@b", NULL, "may contain only" },
		{ "[", NULL, "may contain only" }, /* just after Z */
		{ "@", NULL, "may contain only" }, /* just before A */
		{ "`", NULL, "may contain only" },
		{ "{", NULL, "may contain only" },
	};
	char	 out[33], *cause;
	size_t	 i;
	int	 rc;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		memcpy(out, "untouched", 10);
		cause = NULL;
		rc = val_code(t[i].in, out, &cause);
		if (check_rc(rc, cause, &cause) == 0) {
			if (t[i].want == NULL)
				fail_msg("accepted case %zu", i);
			assert_string_equal(out, t[i].want);
			continue;
		}
		if (t[i].want != NULL)
			fail_msg("rejected case %zu: %s", i, cause);
		if (strstr(cause, t[i].cause) == NULL)
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, cause,
			    t[i].cause);
		free(cause);
		assert_string_equal(out, "untouched");
	}
	assert_int_equal(val_code(NULL, out, &cause), -1);
	free(cause);
}

/* Every byte as a one-character code, and as the second character. */
static int
code_valid(const char *in, char out[33])
{
	char	*cause = NULL;
	int	 rc;

	rc = val_code(in, out, &cause);
	return check_rc(rc, cause, NULL);
}

static void
test_code_bytes(void **state)
{
	char	 in[3], out[33];
	int	 c, want;

	(void)state;
	for (c = 1; c < 256; c++) {
		want = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9');
		in[0] = (char)c;
		in[1] = '\0';
		if ((code_valid(in, out) == 0) != want)
			fail_msg("first byte %d", c);
		want = want || c == '_' || c == '-';
		in[0] = 'x';
		in[1] = (char)c;
		in[2] = '\0';
		if ((code_valid(in, out) == 0) != want)
			fail_msg("second byte %d", c);
		if (want) {
			in[1] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
			assert_string_equal(out, in);
		}
	}
}

/* ---- every validator, random bytes ---- */

static void
test_random_bytes(void **state)
{
	char	 s[80], out[33], *cause;
	int	 i, j, n, rc;

	(void)state;
	for (i = 0; i < 100000; i++) {
		n = (int)(rng() % (sizeof s - 1));
		for (j = 0; j < n; j++)
			s[j] = (char)(rng() % 255 + 1);
		s[n] = '\0';
		cause = NULL;
		rc = val_text(s, rng() % 80, (int)(rng() & 1), &cause);
		check_rc(rc, cause, NULL);
		cause = NULL;
		rc = val_email(s, &cause);
		check_rc(rc, cause, NULL);
		cause = NULL;
		rc = val_code(s, out, &cause);
		check_rc(rc, cause, NULL);
		cause = NULL;
		rc = val_tax_code(s, out, &cause);
		check_rc(rc, cause, NULL);
	}
	/* A truncated sequence at the end is found where it starts. */
	assert_int_equal(text_valid("abc\xe2\x82", 10, 1, &cause), -1);
	assert_contains(cause, "at byte 3");
	free(cause);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_cf_known),
		cmocka_unit_test(test_cf_case),
		cmocka_unit_test(test_cf_omocodia),
		cmocka_unit_test(test_cf_alphabet),
		cmocka_unit_test(test_cf_days),
		cmocka_unit_test(test_cf_bad),
		cmocka_unit_test(test_cf_mutations),
		cmocka_unit_test(test_cf_random),
		cmocka_unit_test(test_email_good),
		cmocka_unit_test(test_email_bad),
		cmocka_unit_test(test_email_reference),
		cmocka_unit_test(test_text_table),
		cmocka_unit_test(test_text_exhaustive),
		cmocka_unit_test(test_text_codepoints),
		cmocka_unit_test(test_code),
		cmocka_unit_test(test_code_bytes),
		cmocka_unit_test(test_random_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
