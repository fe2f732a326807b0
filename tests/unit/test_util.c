/*
 * test_util.c: unit tests of util.c: the growable buffer (growth, NUL
 * termination, consume, take), strict integer parsing at its bounds and on
 * garbage, trimming, and the allocating printf. Buffers are checked under
 * AddressSanitizer, so an off-by-one in growth shows up as a crash here
 * rather than in the daemon. The JSON writers are checked against cJSON's
 * reading of what they write.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cJSON.h>

#include "util.h"

static void
test_buf_basic(void **state)
{
	struct buf	 b;
	char		*s;

	(void)state;
	buf_init(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);

	buf_adds(&b, "abc");
	assert_int_equal(b.len, 3);
	assert_string_equal(b.data, "abc");
	buf_add(&b, "defgh", 2);
	assert_string_equal(b.data, "abcde");
	buf_addf(&b, "-%d-%s", 42, "x");
	assert_string_equal(b.data, "abcde-42-x");
	assert_int_equal(b.len, strlen("abcde-42-x"));
	assert_true(b.cap > b.len);

	/* Adding nothing keeps the bytes and the terminator. */
	buf_add(&b, "", 0);
	assert_string_equal(b.data, "abcde-42-x");

	s = buf_take(&b);
	assert_string_equal(s, "abcde-42-x");
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(b.cap, 0);
	free(s);

	/* Taking from an empty buffer gives an empty heap string. */
	s = buf_take(&b);
	assert_non_null(s);
	assert_string_equal(s, "");
	free(s);

	buf_adds(&b, "x");
	buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	buf_free(&b);	/* twice is harmless */
}

/* Growth across many reallocations keeps every byte, binary included. */
static void
test_buf_growth(void **state)
{
	struct buf	 b;
	unsigned char	 chunk[37];
	size_t		 total = 0;

	(void)state;
	buf_init(&b);
	for (size_t i = 0; i < sizeof chunk; i++)
		chunk[i] = (unsigned char)i;	/* starts with a NUL */
	for (int i = 0; i < 1000; i++) {
		buf_add(&b, chunk, sizeof chunk);
		total += sizeof chunk;
		assert_int_equal(b.len, total);
		assert_true(b.cap >= b.len + 1);
		assert_int_equal(b.data[b.len], '\0');
	}
	for (size_t off = 0; off < total; off += sizeof chunk)
		assert_memory_equal(b.data + off, chunk, sizeof chunk);

	/* Exactly filling the capacity (less the NUL) must still grow. */
	buf_free(&b);
	for (size_t n = 60; n < 70; n++) {
		char	*src = xmalloc(n);

		memset(src, 'q', n);
		buf_init(&b);
		buf_add(&b, src, n);
		assert_int_equal(b.len, n);
		assert_int_equal(b.data[n], '\0');
		assert_int_equal(strlen(b.data), n);
		buf_free(&b);
		free(src);
	}
}

static void
test_buf_addf_long(void **state)
{
	struct buf	 b;
	char		*big = xmalloc(10001);

	(void)state;
	memset(big, 'z', 10000);
	big[10000] = '\0';
	buf_init(&b);
	buf_adds(&b, "<");
	buf_addf(&b, "%s>%05d", big, 7);
	assert_int_equal(b.len, 1 + 10000 + 1 + 5);
	assert_int_equal(b.data[0], '<');
	assert_int_equal(b.data[10000], 'z');
	assert_string_equal(b.data + 10001, ">00007");
	buf_free(&b);
	free(big);
}

static void
test_buf_consume(void **state)
{
	struct buf	 b;

	(void)state;
	buf_init(&b);
	/* Consuming from a buffer that never had data is harmless. */
	buf_consume(&b, 5);
	assert_int_equal(b.len, 0);

	buf_adds(&b, "line1\nline2\nrest");
	buf_consume(&b, 6);
	assert_string_equal(b.data, "line2\nrest");
	assert_int_equal(b.len, 10);
	buf_consume(&b, 0);
	assert_string_equal(b.data, "line2\nrest");
	buf_consume(&b, 6);
	assert_string_equal(b.data, "rest");
	buf_adds(&b, "+more");
	assert_string_equal(b.data, "rest+more");
	/* Exactly all, then more than all. */
	buf_consume(&b, 9);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_adds(&b, "ab");
	buf_consume(&b, 100);
	assert_int_equal(b.len, 0);
	assert_string_equal(b.data, "");
	buf_free(&b);
}

static const struct {
	const char	*s;
	long long	 min, max;
	int		 ok;
	long long	 want;
} ints[] = {
	{ "0", 0, 10, 1, 0 },
	{ "10", 0, 10, 1, 10 },
	{ "11", 0, 10, 0, 0 },
	{ "-1", 0, 10, 0, 0 },
	{ "-5", -10, 10, 1, -5 },
	{ "-10", -10, 10, 1, -10 },
	{ "-11", -10, 10, 0, 0 },
	{ "007", 0, 10, 1, 7 },
	{ "42", 42, 42, 1, 42 },
	{ "41", 42, 42, 0, 0 },
	{ "9223372036854775807", LLONG_MIN, LLONG_MAX, 1, LLONG_MAX },
	{ "-9223372036854775808", LLONG_MIN, LLONG_MAX, 1, LLONG_MIN },
	{ "9223372036854775808", LLONG_MIN, LLONG_MAX, 0, 0 },
	{ "-9223372036854775809", LLONG_MIN, LLONG_MAX, 0, 0 },
	{ "99999999999999999999999", 0, LLONG_MAX, 0, 0 },
	/* garbage */
	{ "", 0, 10, 0, 0 },
	{ " 1", 0, 10, 0, 0 },
	{ "\t1", 0, 10, 0, 0 },
	{ "1 ", 0, 10, 0, 0 },
	{ "1\n", 0, 10, 0, 0 },
	{ "1a", 0, 10, 0, 0 },
	{ "a1", 0, 10, 0, 0 },
	{ "abc", 0, 10, 0, 0 },
	{ "0x10", 0, 100, 0, 0 },
	{ "1e2", 0, 1000, 0, 0 },
	{ "1.0", 0, 10, 0, 0 },
	{ "-", -10, 10, 0, 0 },
	{ "--1", -10, 10, 0, 0 },
	{ "1,2", 0, 100, 0, 0 },
};

static void
test_parse_int(void **state)
{
	long long	 v;

	(void)state;
	for (size_t i = 0; i < nitems(ints); i++) {
		v = 12345;
		if ((parse_int(ints[i].s, ints[i].min, ints[i].max, &v) == 0) !=
		    ints[i].ok)
			print_error("case %zu \"%s\"\n", i, ints[i].s);
		assert_int_equal(parse_int(ints[i].s, ints[i].min, ints[i].max,
		    &v), ints[i].ok ? 0 : -1);
		/* On failure *out is left alone. */
		assert_true(v == (ints[i].ok ? ints[i].want : 12345));
	}
	v = 1;
	assert_int_equal(parse_int(NULL, 0, 10, &v), -1);
	assert_int_equal(v, 1);
}

static const struct {
	const char	*in;
	const char	*out;
} trims[] = {
	{ "", "" },
	{ "a", "a" },
	{ "   ", "" },
	{ "  a b  ", "a b" },
	{ "\t\r\n x \r\n", "x" },
	{ "x\t", "x" },
	{ "\tx", "x" },
	{ "a  \t  b", "a  \t  b" },
};

static void
test_str_trim(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(trims); i++) {
		char	*s = xstrdup(trims[i].in), *t;
		size_t	 n = strlen(s);

		t = str_trim(s);
		assert_string_equal(t, trims[i].out);
		/* In place: the result lies inside the argument. */
		assert_true(t >= s && t <= s + n);
		free(s);
	}
}

static void
test_xasprintf(void **state)
{
	char	*s, *big;

	(void)state;
	s = xasprintf("%s:%d: %s", "dsrd.conf", 12, "bad");
	assert_string_equal(s, "dsrd.conf:12: bad");
	free(s);

	s = xasprintf("%s", "");
	assert_string_equal(s, "");
	free(s);

	s = xasprintf("%lld|%05.1f|%x|%c", -9223372036854775807LL - 1, 2.25,
	    255u, 'z');
	assert_string_equal(s, "-9223372036854775808|002.2|ff|z");
	free(s);

	big = xmalloc(100001);
	memset(big, 'k', 100000);
	big[100000] = '\0';
	s = xasprintf("[%s]", big);
	assert_int_equal(strlen(s), 100002);
	assert_int_equal(s[0], '[');
	assert_int_equal(s[100001], ']');
	free(s);
	free(big);
}

static void
test_alloc_helpers(void **state)
{
	char	*s;
	int	*z;

	(void)state;
	s = xstrndup("abcdef", 3);
	assert_string_equal(s, "abc");
	free(s);
	s = xstrndup("ab", 10);
	assert_string_equal(s, "ab");
	free(s);

	z = xcalloc(16, sizeof *z);
	for (int i = 0; i < 16; i++)
		assert_int_equal(z[i], 0);
	z = xreallocarray(z, 32, sizeof *z);
	z[31] = 7;
	assert_int_equal(z[31], 7);
	free(z);
}

static void
test_mono_ms(void **state)
{
	long long	 a, b;

	(void)state;
	a = mono_ms();
	b = mono_ms();
	assert_true(a >= 0);
	assert_true(b >= a);
}

/* Every string comes back from cJSON as it went in, on one line. */
static void
test_json_str(void **state)
{
	static const char *const cases[] = {
		"", "plain", "Anna \"la\" Rossi", "back\\slash\\",
		"line\nbreak\r\n\ttab", "\x01\x02\x1f\x7f end",
		"Niccol\xc3\xb2 \xe2\x82\xac \xf0\x9f\x98\x80", "\\u0041 not an escape",
		"</script>",
	};
	char	all[40];

	(void)state;
	for (int i = 1; i < 32; i++)
		all[i - 1] = (char)i;
	all[31] = '\0';
	for (size_t i = 0; i <= nitems(cases); i++) {
		const char	*in = i < nitems(cases) ? cases[i] : all;
		struct buf	 b;
		cJSON		*v;

		buf_init(&b);
		buf_add_json_str(&b, in);
		/* JSON allows no raw control character in a string */
		for (const char *p = b.data; *p; p++)
			assert_true((unsigned char)*p >= 0x20);
		assert_int_equal(b.data[0], '"');
		v = cJSON_Parse(b.data);
		assert_non_null(v);
		assert_true(cJSON_IsString(v));
		assert_string_equal(v->valuestring, in);
		cJSON_Delete(v);
		buf_free(&b);
	}
}

static void
test_json_str_null(void **state)
{
	struct buf	b;

	(void)state;
	buf_init(&b);
	buf_add_json_str(&b, NULL);
	assert_string_equal(b.data, "null");
	buf_add_json_str(&b, "a\"b");
	assert_string_equal(b.data, "null\"a\\\"b\"");
	buf_free(&b);
}

/* PostgreSQL's json output loses its white space, and only that. */
static void
test_json_text(void **state)
{
	static const struct {
		const char	*in, *out;
	} cases[] = {
		{ "[{\"seq\" : 1, \"at\" : \"2026-01-02T03:04:05Z\"}, \n "
		  "{\"seq\" : 2, \"note\" : \"a : b, \\\"c\\\" \\\\\"}]",
		  "[{\"seq\":1,\"at\":\"2026-01-02T03:04:05Z\"},"
		  "{\"seq\":2,\"note\":\"a : b, \\\"c\\\" \\\\\"}]" },
		{ "[]", "[]" },
		{ "[\"x\", \"y z\"]", "[\"x\",\"y z\"]" },
		{ "{\"d\" : {\"k\" : null}}", "{\"d\":{\"k\":null}}" },
		{ "\t[ 1 ,\r\n2 ]\n", "[1,2]" },
	};
	struct buf	b;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		cJSON	*a, *c;

		buf_init(&b);
		buf_add_json_text(&b, cases[i].in, "[]");
		assert_string_equal(b.data, cases[i].out);
		a = cJSON_Parse(cases[i].in);
		c = cJSON_Parse(b.data);
		assert_non_null(a);
		assert_non_null(c);
		assert_true(cJSON_Compare(a, c, 1));
		cJSON_Delete(a);
		cJSON_Delete(c);
		buf_free(&b);
	}
	buf_init(&b);
	buf_add_json_text(&b, NULL, "[]");
	buf_add_json_text(&b, "", "{}");
	assert_string_equal(b.data, "[]{}");
	buf_free(&b);
}

/* FNV-1a 64, its published test vectors. */
static void
test_str_hash(void **state)
{
	(void)state;
	assert_true(str_hash("") == UINT64_C(0xcbf29ce484222325));
	assert_true(str_hash("a") == UINT64_C(0xaf63dc4c8601ec8c));
	assert_true(str_hash("foobar") == UINT64_C(0x85944171f73967e8));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_basic),
		cmocka_unit_test(test_buf_growth),
		cmocka_unit_test(test_buf_addf_long),
		cmocka_unit_test(test_buf_consume),
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_str_trim),
		cmocka_unit_test(test_xasprintf),
		cmocka_unit_test(test_alloc_helpers),
		cmocka_unit_test(test_mono_ms),
		cmocka_unit_test(test_json_str),
		cmocka_unit_test(test_json_str_null),
		cmocka_unit_test(test_json_text),
		cmocka_unit_test(test_str_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
