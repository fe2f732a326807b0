/*
 * test_proto.c: unit tests of proto.c, the part of the protocol dsrd and
 * dsrctl share: line framing at and around the size limit, and the table
 * that gives each error code its name and dsrctl exit code, checked against
 * docs/protocol.md. Buffers are allocated to their exact length so that
 * AddressSanitizer catches a read past the bytes received.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "proto.h"
#include "util.h"

/* len bytes of 'x' in a buffer of exactly len bytes, LF at nl if >= 0. */
static char *
mkbuf(size_t len, long nl)
{
	char	*b = xmalloc(len);

	memset(b, 'x', len);
	if (nl >= 0)
		b[nl] = '\n';
	return b;
}

static const struct {
	const char	*what;
	size_t		 len;
	long		 nl;		/* position of the LF, -1 none */
	enum proto_frame want;
	size_t		 linelen;
} frames[] = {
	/* with max = 16 */
	{ "empty", 0, -1, PROTO_FRAME_MORE, 0 },
	{ "one byte", 1, -1, PROTO_FRAME_MORE, 0 },
	{ "a lone LF is an empty line", 1, 0, PROTO_FRAME_LINE, 0 },
	{ "short line", 5, 4, PROTO_FRAME_LINE, 4 },
	{ "max - 1 bytes, no LF", 15, -1, PROTO_FRAME_MORE, 0 },
	/* An LF may still come and make a legal line of exactly max. */
	{ "exactly max bytes, no LF", 16, -1, PROTO_FRAME_MORE, 0 },
	{ "max + 1 bytes, no LF", 17, -1, PROTO_FRAME_TOO_BIG, 0 },
	{ "far over max, no LF", 100, -1, PROTO_FRAME_TOO_BIG, 0 },
	{ "LF at position max: a line of max bytes", 17, 16,
	    PROTO_FRAME_LINE, 16 },
	{ "LF at position max, more after it", 40, 16, PROTO_FRAME_LINE, 16 },
	{ "LF at position max + 1: one byte too long", 18, 17,
	    PROTO_FRAME_TOO_BIG, 0 },
	{ "LF at position max + 1, more after it", 40, 17,
	    PROTO_FRAME_TOO_BIG, 0 },
	{ "LF far past max", 100, 60, PROTO_FRAME_TOO_BIG, 0 },
	{ "LF before max, long tail", 100, 3, PROTO_FRAME_LINE, 3 },
};

static void
test_frame_table(void **state)
{
	size_t	 linelen;

	(void)state;
	for (size_t i = 0; i < nitems(frames); i++) {
		char			*b = mkbuf(frames[i].len, frames[i].nl);
		enum proto_frame	 got;

		linelen = (size_t)-1;
		got = proto_frame(b, frames[i].len, 16, &linelen);
		if (got != frames[i].want)
			print_error("case \"%s\": got %d\n", frames[i].what,
			    (int)got);
		assert_int_equal(got, frames[i].want);
		if (got == PROTO_FRAME_LINE)
			assert_int_equal(linelen, frames[i].linelen);
		free(b);
	}
}

/* Several lines in one read come out one by one, in order. */
static void
test_frame_multiple_lines(void **state)
{
	static const char	 in[] = "{\"a\":1}\n\n{\"b\":22}\n{\"c\"";
	const char		*want[] = { "{\"a\":1}", "", "{\"b\":22}" };
	struct buf		 b;
	size_t			 linelen;

	(void)state;
	buf_init(&b);
	buf_add(&b, in, sizeof in - 1);
	for (size_t i = 0; i < nitems(want); i++) {
		assert_int_equal(proto_frame(b.data, b.len, 16, &linelen),
		    PROTO_FRAME_LINE);
		assert_int_equal(linelen, strlen(want[i]));
		assert_memory_equal(b.data, want[i], linelen);
		buf_consume(&b, linelen + 1);
	}
	/* The partial line at the end waits for more. */
	assert_int_equal(proto_frame(b.data, b.len, 16, &linelen),
	    PROTO_FRAME_MORE);
	assert_int_equal(b.len, 4);
	buf_add(&b, ":3}\n", 4);
	assert_int_equal(proto_frame(b.data, b.len, 16, &linelen),
	    PROTO_FRAME_LINE);
	assert_int_equal(linelen, 7);
	buf_free(&b);
}

/* A good line followed by an oversize one: the good one is served first. */
static void
test_frame_good_then_too_big(void **state)
{
	char	*b = mkbuf(40, 4);
	size_t	 linelen;

	(void)state;
	assert_int_equal(proto_frame(b, 40, 16, &linelen), PROTO_FRAME_LINE);
	assert_int_equal(linelen, 4);
	assert_int_equal(proto_frame(b + 5, 35, 16, &linelen),
	    PROTO_FRAME_TOO_BIG);
	free(b);
}

/* The real limit, 1 MiB. */
static void
test_frame_real_limit(void **state)
{
	size_t	 max = PROTO_MAX_MESSAGE, linelen = 0;
	char	*b;

	(void)state;
	assert_int_equal(PROTO_MAX_MESSAGE, 1024 * 1024);
	b = mkbuf(max + 1, (long)max);
	assert_int_equal(proto_frame(b, max + 1, max, &linelen),
	    PROTO_FRAME_LINE);
	assert_int_equal(linelen, max);
	free(b);

	b = mkbuf(max, -1);
	assert_int_equal(proto_frame(b, max, max, &linelen), PROTO_FRAME_MORE);
	free(b);

	b = mkbuf(max + 1, -1);
	assert_int_equal(proto_frame(b, max + 1, max, &linelen),
	    PROTO_FRAME_TOO_BIG);
	free(b);

	b = mkbuf(max + 2, (long)max + 1);
	assert_int_equal(proto_frame(b, max + 2, max, &linelen),
	    PROTO_FRAME_TOO_BIG);
	free(b);
}

/* docs/protocol.md, "Errors": code, name, dsrctl exit code. */
static const struct {
	int		 code;
	int		 value;		/* the number the document gives */
	const char	*name;
	int		 exit_code;
} errors[] = {
	{ E_PARSE,		-32700,	"parse_error",		65 },
	{ E_INVALID_REQUEST,	-32600,	"invalid_request",	65 },
	{ E_METHOD_NOT_FOUND,	-32601,	"method_not_found",	64 },
	{ E_INVALID_PARAMS,	-32602,	"invalid_params",	65 },
	{ E_INTERNAL,		-32603,	"internal_error",	69 },
	{ E_NOT_FOUND,		1,	"not_found",		1 },
	{ E_NOT_ALLOWED,	2,	"not_allowed",		65 },
	{ E_CONFLICT,		3,	"conflict",		65 },
	{ E_TOO_LARGE,		4,	"too_large",		65 },
	{ E_UNAVAILABLE,	5,	"unavailable",		69 },
	{ E_PERMISSION,		6,	"permission_denied",	77 },
	{ E_LIMIT,		7,	"limit",		69 },
	{ E_USAGE,		8,	"usage",		64 },
	{ E_AUDIT_BROKEN,	9,	"audit_broken",		65 },
};

static void
test_error_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(errors); i++) {
		assert_int_equal(errors[i].code, errors[i].value);
		assert_string_equal(proto_error_name(errors[i].code),
		    errors[i].name);
		if (proto_exit_code(errors[i].code) != errors[i].exit_code)
			print_error("code %d: exit %d\n", errors[i].code,
			    proto_exit_code(errors[i].code));
		assert_int_equal(proto_exit_code(errors[i].code),
		    errors[i].exit_code);
	}
}

/* SPEC §6: the exit codes scripts rely on. */
static void
test_exit_codes(void **state)
{
	(void)state;
	assert_int_equal(EXIT_OK, 0);
	assert_int_equal(EXIT_NOT_FOUND, 1);
	assert_int_equal(EXIT_USAGE, 64);
	assert_int_equal(EXIT_INVALID, 65);
	assert_int_equal(EXIT_UNAVAILABLE, 69);
	assert_int_equal(EXIT_PERMISSION, 77);
}

/* A code the table does not know still gets a name and a failing exit. */
static void
test_unknown_code(void **state)
{
	static const int	 unknown[] = { 0, 99, -1, -32000, 12345 };

	(void)state;
	for (size_t i = 0; i < nitems(unknown); i++) {
		assert_non_null(proto_error_name(unknown[i]));
		assert_string_equal(proto_error_name(unknown[i]),
		    "unknown_error");
		assert_int_equal(proto_exit_code(unknown[i]),
		    EXIT_UNAVAILABLE);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_table),
		cmocka_unit_test(test_frame_multiple_lines),
		cmocka_unit_test(test_frame_good_then_too_big),
		cmocka_unit_test(test_frame_real_limit),
		cmocka_unit_test(test_error_table),
		cmocka_unit_test(test_exit_codes),
		cmocka_unit_test(test_unknown_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
