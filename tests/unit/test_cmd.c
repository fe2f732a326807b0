/*
 * test_cmd.c: framing, envelope checks, dispatch and declarative parameter
 * checking of the control socket, in-process: a real listener on a temporary
 * Unix socket, a real client, no database (app_db_ready() is false, so a
 * request whose parameters pass is answered "unavailable" and one whose
 * parameters fail is answered -32602 naming the field).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <cJSON.h>
#include <event2/event.h>

#include "calendar.h"
#include "control.h"
#include "dsrd.h"
#include "proto.h"
#include "util.h"

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

static char	 sockpath[108];
static int	 client = -1;

static int
setup(void **state)
{
	char	*cause = NULL;

	(void)state;
	snprintf(sockpath, sizeof sockpath, "/tmp/dsrd-test-cmd.%d.sock",
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
			return;	/* the daemon closed on us (too large) */
		if (n > 0)
			off += (size_t)n;
		/* let the daemon read, so big writes do not deadlock */
		event_base_loop(app.base, EVLOOP_NONBLOCK);
	}
}

static void
client_send_str(const char *s)
{
	client_send(s, strlen(s));
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

/* Sends one line and parses the answer. */
static cJSON *
call(const char *line)
{
	char	*out;
	cJSON	*j;

	client_send(line, strlen(line));
	client_send("\n", 1);
	out = client_line();
	assert_non_null(out);
	j = cJSON_Parse(out);
	assert_non_null(j);
	free(out);
	return j;
}

static int
error_code(const cJSON *j)
{
	const cJSON *e = cJSON_GetObjectItem(j, "error");

	assert_non_null(e);
	return (int)cJSON_GetObjectItem(e, "code")->valuedouble;
}

static const char *
error_field(const cJSON *j)
{
	const cJSON *d = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "error"),
	    "data");

	return d ? cJSON_GetObjectItem(d, "field")->valuestring : NULL;
}

static void
test_envelope(void **state)
{
	static const struct {
		const char	*line;
		int		 code;
	} cases[] = {
		{ "{", E_PARSE },
		{ "not json", E_PARSE },
		{ "\"a string\"", E_INVALID_REQUEST },
		{ "[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]",
		  E_INVALID_REQUEST },
		{ "{\"id\":1,\"method\":\"ping\"}", E_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
		  E_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}", E_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"id\":{},\"method\":\"ping\"}",
		  E_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"x\":1}",
		  E_INVALID_REQUEST },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"nope\"}",
		  E_METHOD_NOT_FOUND },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
		  "\"params\":[1]}", E_INVALID_PARAMS },
		{ "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
		  "\"params\":{\"x\":1}}", E_INVALID_PARAMS },
	};

	(void)state;
	client_connect();
	for (size_t i = 0; i < nitems(cases); i++) {
		cJSON *j = call(cases[i].line);

		if (error_code(j) != cases[i].code)
			fail_msg("case %zu: got %d, want %d", i, error_code(j),
			    cases[i].code);
		cJSON_Delete(j);
	}
}

static void
test_ping_and_ids(void **state)
{
	cJSON	*j;

	(void)state;
	client_connect();
	j = call("{\"jsonrpc\":\"2.0\",\"id\":\"abc\",\"method\":\"ping\"}");
	assert_string_equal(cJSON_GetObjectItem(j, "id")->valuestring, "abc");
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(j,
	    "result"), "database")->valuestring, "down");
	cJSON_Delete(j);
	/* A notification gets no answer: the next answer is for id 5. */
	client_send_str("{\"jsonrpc\":\"2.0\",\"method\":\"ping\"}\n");
	j = call("{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"ping\"}");
	assert_int_equal((int)cJSON_GetObjectItem(j, "id")->valuedouble, 5);
	cJSON_Delete(j);
	/* Pipelined requests come back in order; blank lines are skipped. */
	client_send_str("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n\r\n"
	    "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
	/* A NUL byte is not JSON white space: refused, not skipped. */
	client_send("\0{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}\n", 42);
	for (int want = 1; want <= 2; want++) {
		char *line = client_line();

		assert_non_null(line);
		j = cJSON_Parse(line);
		assert_int_equal((int)cJSON_GetObjectItem(j, "id")->valuedouble,
		    want);
		cJSON_Delete(j);
		free(line);
	}
	{
		char *line = client_line();

		assert_non_null(line);
		j = cJSON_Parse(line);
		assert_int_equal(error_code(j), E_PARSE);
		cJSON_Delete(j);
		free(line);
	}
}

static void
test_params(void **state)
{
	static const struct {
		const char	*params;
		int		 code;
		const char	*field;
	} cases[] = {
		/* parameters that pass: the database is down */
		{ "{\"entity\":\"cvn\",\"type\":\"erasure\","
		  "\"subject_name\":\"Mario Rossi\"}", E_UNAVAILABLE, NULL },
		{ "{\"entity\":\"CVN\",\"type\":\"access\",\"subject_name\":\"A\","
		  "\"subject_tax_code\":\"rssmra85t10a562s\","
		  "\"subject_email\":\"a@b.it\",\"channel\":\"pec\","
		  "\"received_on\":\"2024-02-29\",\"summary\":\"l1\\nl2\"}",
		  E_UNAVAILABLE, NULL },
		/* empty optional strings are absent */
		{ "{\"entity\":\"cvn\",\"type\":\"erasure\",\"subject_name\":\"x\","
		  "\"subject_email\":\"\",\"protocol\":\"\"}", E_UNAVAILABLE, NULL },
		{ "{\"type\":\"erasure\",\"subject_name\":\"x\"}",
		  E_INVALID_PARAMS, "entity" },
		{ "{\"entity\":\"c v n\",\"type\":\"erasure\",\"subject_name\":\"x\"}",
		  E_INVALID_PARAMS, "entity" },
		{ "{\"entity\":\"cvn\",\"type\":\"delete\",\"subject_name\":\"x\"}",
		  E_INVALID_PARAMS, "type" },
		{ "{\"entity\":\"cvn\",\"type\":5,\"subject_name\":\"x\"}",
		  E_INVALID_PARAMS, "type" },
		{ "{\"entity\":\"cvn\",\"type\":\"erasure\",\"subject_name\":\"  \"}",
		  E_INVALID_PARAMS, "subject_name" },
		{ "{\"entity\":\"cvn\",\"type\":\"erasure\","
		  "\"subject_name\":\"a\\u0001b\"}", E_INVALID_PARAMS,
		  "subject_name" },
		{ "{\"entity\":\"cvn\",\"type\":\"erasure\","
		  "\"subject_name\":\"a\\nb\"}", E_INVALID_PARAMS, "subject_name" },
		{ "{\"entity\":\"cvn\",\"type\":\"erasure\",\"subject_name\":\"x\","
		  "\"subject_tax_code\":\"RSSMRA85T10A562X\"}", E_INVALID_PARAMS,
		  "subject_tax_code" },
		{ "{\"entity\":\"cvn\",\"type\":\"erasure\",\"subject_name\":\"x\","
		  "\"subject_email\":\"nobody\"}", E_INVALID_PARAMS,
		  "subject_email" },
		{ "{\"entity\":\"cvn\",\"type\":\"erasure\",\"subject_name\":\"x\","
		  "\"channel\":\"fax\"}", E_INVALID_PARAMS, "channel" },
		{ "{\"entity\":\"cvn\",\"type\":\"erasure\",\"subject_name\":\"x\","
		  "\"received_on\":\"2023-02-29\"}", E_INVALID_PARAMS,
		  "received_on" },
		{ "{\"entity\":\"cvn\",\"type\":\"erasure\",\"subject_name\":\"x\","
		  "\"received_on\":\"9999-12-31\"}", E_INVALID_PARAMS,
		  "received_on" },
		{ "{\"entity\":\"cvn\",\"type\":\"erasure\",\"subject_name\":\"x\","
		  "\"received_on\":20260101}", E_INVALID_PARAMS, "received_on" },
		{ "{\"entity\":\"cvn\",\"type\":\"erasure\",\"subject_name\":\"x\","
		  "\"colour\":\"red\"}", E_INVALID_PARAMS, "colour" },
		{ "{\"entity\":\"cvn\",\"type\":\"erasure\",\"subject_name\":\"x\","
		  "\"type\":\"access\"}", E_INVALID_PARAMS, "type" },
	};
	char	line[4096];

	(void)state;
	client_connect();
	for (size_t i = 0; i < nitems(cases); i++) {
		cJSON *j;

		snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":%zu,"
		    "\"method\":\"request.file\",\"params\":%s}", i,
		    cases[i].params);
		j = call(line);
		if (error_code(j) != cases[i].code)
			fail_msg("case %zu: got %d, want %d", i, error_code(j),
			    cases[i].code);
		if (cases[i].field != NULL &&
		    (error_field(j) == NULL ||
		    strcmp(error_field(j), cases[i].field) != 0))
			fail_msg("case %zu: field %s, want %s", i,
			    error_field(j) ? error_field(j) : "(none)",
			    cases[i].field);
		cJSON_Delete(j);
	}
}

static void
test_int_params(void **state)
{
	static const struct {
		const char	*params;
		int		 code;
	} cases[] = {
		{ "{\"id\":1}", E_UNAVAILABLE },
		{ "{\"id\":0}", E_INVALID_PARAMS },
		{ "{\"id\":-3}", E_INVALID_PARAMS },
		{ "{\"id\":1.5}", E_INVALID_PARAMS },
		{ "{\"id\":1e300}", E_INVALID_PARAMS },
		{ "{\"id\":\"1\"}", E_INVALID_PARAMS },
		{ "{\"id\":true}", E_INVALID_PARAMS },
		{ "{}", E_INVALID_PARAMS },
	};
	char	line[512];

	(void)state;
	client_connect();
	for (size_t i = 0; i < nitems(cases); i++) {
		cJSON *j;

		snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":1,"
		    "\"method\":\"request.show\",\"params\":%s}", cases[i].params);
		j = call(line);
		if (error_code(j) != cases[i].code)
			fail_msg("case %zu: got %d", i, error_code(j));
		cJSON_Delete(j);
	}
}

static void
test_too_large(void **state)
{
	size_t	 n = PROTO_MAX_MESSAGE + 100;
	char	*big = xmalloc(n), *line;
	cJSON	*j;

	(void)state;
	client_connect();
	memset(big, 'a', n);
	client_send(big, n);
	free(big);
	line = client_line();
	assert_non_null(line);
	j = cJSON_Parse(line);
	assert_int_equal(error_code(j), E_TOO_LARGE);
	cJSON_Delete(j);
	free(line);
	/* then the connection is closed */
	line = client_line();
	assert_null(line);
	/* and others are served */
	client_connect();
	j = call("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}");
	assert_non_null(cJSON_GetObjectItem(j, "result"));
	cJSON_Delete(j);
}

static void
test_exactly_max(void **state)
{
	/* A message of exactly the limit is accepted (and parsed). */
	size_t	 n = PROTO_MAX_MESSAGE;
	char	*msg = xmalloc(n + 1), *line;
	const char *head = "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\","
	    "\"params\":{\"pad\":\"";
	cJSON	*j;

	(void)state;
	client_connect();
	memset(msg, 'a', n);
	memcpy(msg, head, strlen(head));
	memcpy(msg + n - 3, "\"}}", 3);
	msg[n] = '\n';
	client_send(msg, n + 1);
	free(msg);
	line = client_line();
	assert_non_null(line);
	j = cJSON_Parse(line);
	/* ping takes no params: the message was read whole and checked */
	assert_int_equal(error_code(j), E_INVALID_PARAMS);
	assert_string_equal(error_field(j), "pad");
	cJSON_Delete(j);
	free(line);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_envelope, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ping_and_ids, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_params, setup, teardown),
		cmocka_unit_test_setup_teardown(test_int_params, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exactly_max, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
