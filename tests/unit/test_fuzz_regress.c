/*
 * test_fuzz_regress.c: the inputs with which the fuzzers of tests/fuzz/
 * found a fault, replayed as unit tests so that the fault stays fixed. Each
 * case names the fuzzer that found it and the rule it broke. The socket
 * cases run the daemon's listener in-process with no database, as
 * test_cmd.c does; they assert the rule the fuzzer checks, not one fix.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cJSON.h>
#include <event2/event.h>

#include "calendar.h"
#include "config.h"
#include "control.h"
#include "dsrd.h"
#include "log.h"
#include "proto.h"
#include "util.h"
#include "validate.h"

struct app	 app = { .schema_version = -1 };

time_t
app_now(void)
{
	return time(NULL);
}

int
app_db_ready(void)
{
	return 0;
}

/* Writes len bytes to a new temporary file; returns its path (caller
   frees and unlinks). */
static char *
write_conf(const char *text, size_t len)
{
	char	*path = xstrdup("/tmp/test_fuzz_regress.XXXXXX");
	int	 fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/*
 * fuzz_config: [daemon] socket was limited to 107 characters, but it must
 * fit sun_path (108 bytes with the NUL): 107 characters of which some are
 * not ASCII passed the check, and dsrd would only fail when it bound.
 */
static void
test_config_socket_bytes(void **state)
{
	/* The fuzzer's input: 107 characters, 109 bytes (a BOM inside). */
	static const char fuzzed[] = "[daemon]\nsocket = "
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:::::::::::::::::1::::::::"
	    "aaaaaPaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xef\xbb\xbf" "a";
	static const struct {
		const char	*prefix;
		const char	*unit;
		int		 n;
		int		 ok;
	} cases[] = {
		{ "/tmp/", "a", 102, 1 },		/* 107 bytes */
		{ "/tmp/", "a", 103, 0 },		/* 108 bytes */
		{ "/tmp/", "\xc3\xa8", 51, 1 },		/* 107 bytes */
		{ "/tmp/", "\xc3\xa8", 52, 0 },		/* 109 bytes, 57 chars */
		{ "/", "\xf0\x9f\x98\x80", 26, 1 },	/* 105 bytes, 27 chars */
		{ "/", "\xf0\x9f\x98\x80", 27, 0 },	/* 109 bytes, 28 chars */
	};
	struct config	 c;
	char		*path, *cause = NULL;

	(void)state;
	path = write_conf(fuzzed, sizeof fuzzed - 1);
	memset(&c, 0, sizeof c);
	assert_int_equal(config_load(path, &c, &cause), -1);
	assert_non_null(strstr(cause, "socket"));
	free(cause);
	cause = NULL;
	unlink(path);
	free(path);

	for (size_t i = 0; i < nitems(cases); i++) {
		struct buf	b;
		int		rc;

		buf_init(&b);
		buf_addf(&b, "[daemon]\nsocket = %s", cases[i].prefix);
		for (int k = 0; k < cases[i].n; k++)
			buf_adds(&b, cases[i].unit);
		buf_adds(&b, "\n");
		path = write_conf(b.data, b.len);
		rc = config_load(path, &c, &cause);
		if (cases[i].ok) {
			if (rc != 0)
				fail_msg("case %zu: %s", i, cause);
			assert_true(strlen(c.socket) <= 107);
			config_free(&c);
		} else {
			if (rc == 0)
				fail_msg("case %zu: accepted a socket of %zu "
				    "bytes", i, strlen(c.socket));
			assert_non_null(strstr(cause, "socket"));
			free(cause);
			cause = NULL;
		}
		unlink(path);
		free(path);
		buf_free(&b);
	}
}

static char	 sockpath[108];
static int	 client = -1;

static int
setup(void **state)
{
	char	*cause = NULL;

	(void)state;
	log_set_level(LOG_LVL_ERROR);
	snprintf(sockpath, sizeof sockpath, "/tmp/dsrd-test-fuzz.%d.sock",
	    (int)getpid());
	config_defaults(&app.cfg);
	assert_int_equal(cal_set_timezone("Europe/Rome", &cause), 0);
	app.base = event_base_new();
	app.ctl = ctl_listen(app.base, sockpath, 0600, &cause);
	assert_non_null(app.ctl);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (client >= 0)
		close(client);
	client = -1;
	ctl_free(app.ctl);
	event_base_free(app.base);
	config_free(&app.cfg);
	return 0;
}

static void
client_connect(void)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };

	if (client >= 0)
		close(client);
	client = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(client >= 0);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sockpath);
	assert_int_equal(connect(client, (struct sockaddr *)&sun, sizeof sun), 0);
}

static void
client_send(const char *data, size_t len)
{
	size_t	off = 0;

	while (off < len) {
		ssize_t n = send(client, data + off, len - off,
		    MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno != EAGAIN)
			return;
		if (n > 0)
			off += (size_t)n;
		event_base_loop(app.base, EVLOOP_NONBLOCK);
	}
}

/* Runs the loop until a whole line arrived; NULL on EOF. Caller frees. */
static char *
client_line(void)
{
	struct buf	b;
	char		c;

	buf_init(&b);
	for (int spins = 0; spins < 100000; spins++) {
		ssize_t n = recv(client, &c, 1, MSG_DONTWAIT);

		if (n == 1) {
			if (c == '\n')
				return buf_take(&b);
			buf_add(&b, &c, 1);
			continue;
		}
		if (n == 0) {
			buf_free(&b);
			return NULL;
		}
		event_base_loop(app.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		usleep(100);
	}
	fail_msg("no answer");
	return NULL;
}

/*
 * fuzz_frame_dispatch: an answer must be UTF-8 (docs/protocol.md: a line is
 * UTF-8) whatever the request held. The daemon echoed bytes of a request
 * that were not UTF-8 (cJSON takes them inside strings), and cut a method
 * name at 64 bytes in the middle of a character.
 */
static void
test_answer_utf8(void **state)
{
	static const char *const lines[] = {
		/* found by the fuzzer */
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"request.sho"
		"\xff\xff\xff\x02w\",\"params\":{\"id\":42}}",
		/* the same fault through the id and a parameter's name */
		"{\"jsonrpc\":\"2.0\",\"id\":\"\xff\",\"method\":\"ping\"}",
		"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"request.show\","
		"\"params\":{\"\xc3\":1}}",
		/* valid UTF-8, cut by "%.64s": 'a' then 40 two-byte 'è' */
		NULL,
	};
	char	 cut[256];
	int	 bad = 0;

	(void)state;
	snprintf(cut, sizeof cut, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":"
	    "\"a");
	for (int i = 0; i < 40; i++)
		strcat(cut, "\xc3\xa8");
	strcat(cut, "\"}");
	client_connect();
	for (size_t i = 0; i < nitems(lines); i++) {
		const char	*line = lines[i] != NULL ? lines[i] : cut;
		char		*answer, *cause = NULL;
		cJSON		*j;

		client_send(line, strlen(line));
		client_send("\n", 1);
		answer = client_line();
		assert_non_null(answer);
		/* Every case is tried, so one run names all that fail. */
		if (val_text(answer, SIZE_MAX, 0, &cause) != 0) {
			print_error("case %zu: answer %s\n", i, cause);
			free(cause);
			bad++;
		}
		j = cJSON_Parse(answer);
		assert_non_null(j);
		assert_true(cJSON_IsString(cJSON_GetObjectItem(j, "jsonrpc")));
		cJSON_Delete(j);
		free(answer);
	}
	assert_int_equal(bad, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_socket_bytes),
		cmocka_unit_test_setup_teardown(test_answer_utf8, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
