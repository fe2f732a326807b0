/*
 * test_webhook.c: unit tests of webhook.c. The signature is checked against
 * the Standard Webhooks specification's own published example (the "sign"
 * test of its reference libraries, libraries/javascript/src/webhook.test.ts
 * and libraries/python/tests/test_webhooks.py in
 * github.com/standard-webhooks/standard-webhooks), and a padded key against
 * a vector computed with Python's hmac module. Then real POSTs with
 * curl_easy_perform to a tiny HTTP server forked on 127.0.0.1 (canned status
 * codes, a Retry-After in both forms, a redirect that must not be
 * followed, an echo of the request), and transport failures: refused, timed
 * out, a forbidden protocol, a malformed URL.
 */
#include <sys/types.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"
#include "webhook.h"

/* The specification's example, verbatim. */
#define SPEC_SECRET	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define SPEC_ID		"msg_p5jXN8AQM9LWM0D4loKWxJek"
#define SPEC_TS		1614265330LL
#define SPEC_BODY	"{\"test\": 2432232314}"
#define SPEC_SIG	"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* 2037-10-21T07:28:00Z, the Retry-After date the server sends. */
#define RA_DATE		"Wed, 21 Oct 2037 07:28:00 GMT"
#define RA_EPOCH	2139722880LL

/* ---- a tiny HTTP/1.1 server in a forked process group ---- */

struct route {
	const char	*path;
	int		 status;
	const char	*headers;	/* extra ones, each ending in CRLF */
	int		 delay_ms;
};

static const struct route routes[] = {
	{ "/ok",	200, "", 0 },
	{ "/accepted",	202, "", 0 },
	{ "/slow",	200, "", 1000 },
	{ "/hang",	200, "", 5000 },
	{ "/moved",	301, "Location: /ok\r\n", 0 },
	{ "/found",	302, "Location: /ok\r\n", 0 },
	{ "/bad",	400, "", 0 },
	{ "/missing",	404, "", 0 },
	{ "/reqtimeout", 408, "", 0 },
	{ "/gone",	410, "", 0 },
	{ "/busy",	429, "Retry-After: 7\r\n", 0 },
	{ "/busydate",	429, "Retry-After: " RA_DATE "\r\n", 0 },
	{ "/busyjunk",	429, "Retry-After: soon\r\n", 0 },
	{ "/busybare",	429, "", 0 },
	{ "/error",	500, "Retry-After: 7\r\n", 0 },
	{ "/unavail",	503, "Retry-After:   120  \r\n", 0 },
	{ "/unavailbare", 503, "", 0 },
	{ "/echo",	200, "", 0 },	/* the body is the request */
};

static pid_t	srv_pid = -1;
static int	srv_port;
static int	dead_fd = -1;	/* bound, never listening: refuses */
static int	dead_port;

static void
srv_write(int fd, const char *p, size_t n)
{
	ssize_t	 w;

	while (n > 0) {
		if ((w = write(fd, p, n)) <= 0) {
			if (w == -1 && errno == EINTR)
				continue;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void
srv_conn(int c)
{
	static char		 req[65536];
	char			 path[256] = "", head[1024], *eoh = NULL;
	const char		*cl, *body;
	const struct route	*r = NULL;
	size_t			 n = 0, need, blen;
	ssize_t			 got;
	long			 clen = 0;
	struct timespec		 ts;

	while (eoh == NULL && n < sizeof req - 1) {
		if ((got = read(c, req + n, sizeof req - 1 - n)) <= 0)
			return;
		n += (size_t)got;
		req[n] = '\0';
		eoh = strstr(req, "\r\n\r\n");
	}
	if (eoh == NULL)
		return;
	/* Read the whole body: closing on unread bytes sends a reset. */
	if ((cl = strcasestr(req, "\r\nContent-Length:")) != NULL && cl < eoh)
		clen = strtol(cl + 17, NULL, 10);
	need = (size_t)(eoh + 4 - req) + (size_t)clen;
	while (n < need && n < sizeof req - 1) {
		if ((got = read(c, req + n, sizeof req - 1 - n)) <= 0)
			return;
		n += (size_t)got;
	}
	req[n] = '\0';
	if (sscanf(req, "%*s %255s", path) != 1)
		return;
	for (size_t i = 0; i < nitems(routes); i++)
		if (strcmp(routes[i].path, path) == 0)
			r = &routes[i];
	if (r == NULL) {
		snprintf(head, sizeof head, "HTTP/1.1 599 No route\r\n"
		    "Content-Length: 0\r\nConnection: close\r\n\r\n");
		srv_write(c, head, strlen(head));
		return;
	}
	if (r->delay_ms > 0) {
		ts.tv_sec = r->delay_ms / 1000;
		ts.tv_nsec = (r->delay_ms % 1000) * 1000000L;
		while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
			;
	}
	if (strcmp(path, "/echo") == 0) {
		body = req;
		blen = n;
	} else {
		body = "ok\n";
		blen = 3;
	}
	snprintf(head, sizeof head, "HTTP/1.1 %d Canned\r\n"
	    "Content-Type: text/plain\r\nContent-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n", r->status, blen, r->headers);
	srv_write(c, head, strlen(head));
	srv_write(c, body, blen);
	shutdown(c, SHUT_WR);
	while (read(c, req, sizeof req) > 0)
		;
}

static int
srv_start(void **state)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	int			 fd, one = 1, c;
	pid_t			 pid;

	(void)state;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(fd, (struct sockaddr *)&sin, sizeof sin) ||
	    listen(fd, 64) ||
	    getsockname(fd, (struct sockaddr *)&sin, &len))
		return -1;
	srv_port = ntohs(sin.sin_port);

	sin.sin_port = 0;
	len = sizeof sin;
	if ((dead_fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(dead_fd, (struct sockaddr *)&sin, sizeof sin) ||
	    getsockname(dead_fd, (struct sockaddr *)&sin, &len))
		return -1;
	dead_port = ntohs(sin.sin_port);

	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		setpgid(0, 0);
		signal(SIGCHLD, SIG_IGN);	/* no zombies */
		for (;;) {
			if ((c = accept(fd, NULL, NULL)) == -1) {
				if (errno == EINTR || errno == ECONNABORTED)
					continue;
				_exit(1);
			}
			if (fork() == 0) {
				close(fd);
				srv_conn(c);
				_exit(0);
			}
			close(c);
		}
	}
	setpgid(pid, pid);
	srv_pid = pid;
	close(fd);
	return 0;
}

static int
srv_stop(void **state)
{
	(void)state;
	if (srv_pid > 0) {
		kill(-srv_pid, SIGKILL);
		waitpid(srv_pid, NULL, 0);
	}
	if (dead_fd != -1)
		close(dead_fd);
	curl_global_cleanup();
	return 0;
}

static char *
url(const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", srv_port, path);
}

/* ---- signature ---- */

struct sign_case {
	const char	*secret, *id;
	long long	 ts;
	const char	*body, *sig;
};

static void
test_sign_vectors(void **state)
{
	static const struct sign_case cases[] = {
		/* The specification's published example. */
		{ SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY, SPEC_SIG },
		/* Key "abcd", padded and not: Python's hmac module. */
		{ "whsec_YWJjZA==", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
		  1674087231, "{\"type\":\"request.filed\","
		  "\"data\":{\"id\":\"\xc3\xa8\"}}",
		  "v1,MXLwcDoZH1XM6vN1MHXapR+3j+aMeDDxC94NmEu5aDI=" },
		{ "whsec_YWJjZA", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
		  1674087231, "{\"type\":\"request.filed\","
		  "\"data\":{\"id\":\"\xc3\xa8\"}}",
		  "v1,MXLwcDoZH1XM6vN1MHXapR+3j+aMeDDxC94NmEu5aDI=" },
	};
	char	*sig, *cause = NULL;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		sig = webhook_sign(cases[i].secret, cases[i].id, cases[i].ts,
		    cases[i].body, strlen(cases[i].body), &cause);
		assert_non_null(sig);
		assert_null(cause);
		assert_string_equal(sig, cases[i].sig);
		free(sig);
	}
	/* Any change to what is signed changes the signature. */
	sig = webhook_sign(SPEC_SECRET, SPEC_ID, SPEC_TS + 1, SPEC_BODY,
	    strlen(SPEC_BODY), &cause);
	assert_non_null(sig);
	assert_string_not_equal(sig, SPEC_SIG);
	free(sig);
	sig = webhook_sign(SPEC_SECRET, SPEC_ID, SPEC_TS, SPEC_BODY,
	    strlen(SPEC_BODY) - 1, &cause);
	assert_non_null(sig);
	assert_string_not_equal(sig, SPEC_SIG);
	free(sig);
}

static void
test_sign_bad_input(void **state)
{
	static const struct {
		const char	*secret, *id;
	} cases[] = {
		{ NULL, SPEC_ID },
		{ "", SPEC_ID },
		/* No prefix, wrong prefix, nothing after it. */
		{ "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SPEC_ID },
		{ "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", SPEC_ID },
		{ "whsec_", SPEC_ID },
		{ "whsec_====", SPEC_ID },
		{ "whsec_MfKQ9r8G!!qrTwjUPD8ILPZIo2LaLaSw", SPEC_ID },
		{ "whsec_MfKQ9r8G qrTwjUPD8ILPZIo2LaLaSw", SPEC_ID },
		/* The URL-safe alphabet is not the spec's. */
		{ "whsec_MfKQ9r8G-_qrTwjUPD8ILPZIo2LaLaSw", SPEC_ID },
		/* Padding: half of it, too much, in the middle. */
		{ "whsec_YWJjZA=", SPEC_ID },
		{ "whsec_YWJjZA===", SPEC_ID },
		{ "whsec_YW=jZA==", SPEC_ID },
		{ "whsec_YWJjZ", SPEC_ID },	/* 1 mod 4 */
		{ SPEC_SECRET, NULL },
		{ SPEC_SECRET, "" },
		/* Ids: the delimiter, a space, header injection. */
		{ SPEC_SECRET, "msg.1" },
		{ SPEC_SECRET, "msg 1" },
		{ SPEC_SECRET, "msg_1\r\nX-Evil: 1" },
	};
	char	*sig, *cause;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		cause = NULL;
		sig = webhook_sign(cases[i].secret, cases[i].id, SPEC_TS,
		    SPEC_BODY, strlen(SPEC_BODY), &cause);
		if (sig != NULL)
			fail_msg("case %zu signed", i);
		assert_non_null(cause);
		/* A cause never shows the secret. */
		assert_null(strstr(cause, "MfKQ"));
		assert_null(strstr(cause, "YWJj"));
		free(cause);
	}
}

/* ---- real requests ---- */

static size_t
collect(char *p, size_t size, size_t nmemb, void *arg)
{
	buf_add(arg, p, size * nmemb);
	return size * nmemb;
}

/* The spec's example, POSTed: what arrives is what the spec signs. */
static void
test_prepare_sends_signed_post(void **state)
{
	struct webhook_req	*r;
	struct buf		 got;
	char			*u = url("/echo"), *cause = NULL;
	char			*why = NULL;
	const char		*eoh;
	long			 ra;

	(void)state;
	r = webhook_prepare(u, SPEC_SECRET, SPEC_ID, (time_t)SPEC_TS,
	    SPEC_BODY, 5, &cause);
	assert_non_null(r);
	assert_null(cause);
	assert_string_equal(r->body, SPEC_BODY);
	buf_init(&got);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, &got);
	assert_int_equal(curl_easy_perform(r->easy), CURLE_OK);
	assert_int_equal(webhook_classify(r->easy, CURLE_OK, time(NULL), &ra,
	    &why), DLV_OK);
	assert_string_equal(why, "HTTP 200");
	assert_int_equal(ra, -1);

	assert_non_null(got.data);
	assert_memory_equal(got.data, "POST /echo HTTP/1.1\r\n", 21);
	assert_non_null(strstr(got.data, "\r\nwebhook-id: " SPEC_ID "\r\n"));
	assert_non_null(strstr(got.data,
	    "\r\nwebhook-timestamp: 1614265330\r\n"));
	assert_non_null(strstr(got.data, "\r\nwebhook-signature: " SPEC_SIG
	    "\r\n"));
	assert_non_null(strstr(got.data,
	    "\r\nContent-Type: application/json\r\n"));
	assert_non_null(strstr(got.data, "\r\nUser-Agent: dsrd/" DSR_VERSION
	    "\r\n"));
	assert_non_null(eoh = strstr(got.data, "\r\n\r\n"));
	assert_string_equal(eoh + 4, SPEC_BODY);

	buf_free(&got);
	free(why);
	free(u);
	webhook_req_free(r);
}

static void
test_prepare_refuses(void **state)
{
	char	*cause = NULL, *u = url("/ok");

	(void)state;
	assert_null(webhook_prepare(u, "whsec_!!", SPEC_ID, 0, SPEC_BODY, 5,
	    &cause));
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	assert_null(webhook_prepare(u, SPEC_SECRET, "a.b", 0, SPEC_BODY, 5,
	    &cause));
	assert_non_null(cause);
	free(cause);
	cause = NULL;
	assert_null(webhook_prepare(u, SPEC_SECRET, SPEC_ID, 0, SPEC_BODY, 0,
	    &cause));
	assert_non_null(cause);
	free(cause);
	webhook_req_free(NULL);
	free(u);
}

struct classify_case {
	const char	*url;		/* a path here, or a full URL */
	long		 timeout;
	long long	 now;		/* 0: the clock */
	enum dlv_result	 want;
	long		 retry_after;
	const char	*why;		/* prefix */
	long		 code;		/* response code curl saw */
};

static void
test_classify_answers(void **state)
{
	static const struct classify_case cases[] = {
		{ "/ok", 5, 0, DLV_OK, -1, "HTTP 200", 200 },
		{ "/accepted", 5, 0, DLV_OK, -1, "HTTP 202", 202 },
		/* Redirects are answers, never followed. */
		{ "/moved", 5, 0, DLV_PERM, -1, "HTTP 301", 301 },
		{ "/found", 5, 0, DLV_PERM, -1, "HTTP 302", 302 },
		{ "/bad", 5, 0, DLV_PERM, -1, "HTTP 400", 400 },
		{ "/missing", 5, 0, DLV_PERM, -1, "HTTP 404", 404 },
		{ "/reqtimeout", 5, 0, DLV_TEMP, -1, "HTTP 408", 408 },
		{ "/gone", 5, 0, DLV_GONE, -1, "HTTP 410", 410 },
		{ "/busy", 5, 0, DLV_TEMP, 7, "HTTP 429", 429 },
		{ "/busydate", 5, RA_EPOCH - 100, DLV_TEMP, 100, "HTTP 429",
		  429 },
		{ "/busydate", 5, RA_EPOCH + 50, DLV_TEMP, 0, "HTTP 429", 429 },
		{ "/busyjunk", 5, 0, DLV_TEMP, -1, "HTTP 429", 429 },
		{ "/busybare", 5, 0, DLV_TEMP, -1, "HTTP 429", 429 },
		/* Retry-After counts only with 429 and 503. */
		{ "/error", 5, 0, DLV_TEMP, -1, "HTTP 500", 500 },
		{ "/unavail", 5, 0, DLV_TEMP, 120, "HTTP 503", 503 },
		{ "/unavailbare", 5, 0, DLV_TEMP, -1, "HTTP 503", 503 },
		/* Transport errors. */
		{ "/hang", 1, 0, DLV_TEMP, -1, "curl error 28:", 0 },
		{ "DEAD", 5, 0, DLV_TEMP, -1, "curl error 7:", 0 },
		{ "ftp://127.0.0.1/x", 5, 0, DLV_PERM, -1, "curl error 1:", 0 },
		{ "file:///etc/passwd", 5, 0, DLV_PERM, -1, "curl error 1:",
		  0 },
		{ "http://[::1", 5, 0, DLV_PERM, -1, "curl error 3:", 0 },
	};
	struct webhook_req	*r;
	char			*u, *cause = NULL, *why;
	CURLcode		 rc;
	long			 ra, code;
	time_t			 now;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		const struct classify_case *c = &cases[i];

		if (strcmp(c->url, "DEAD") == 0)
			u = xasprintf("http://127.0.0.1:%d/ok", dead_port);
		else if (c->url[0] == '/')
			u = url(c->url);
		else
			u = xstrdup(c->url);
		r = webhook_prepare(u, SPEC_SECRET, SPEC_ID, time(NULL),
		    SPEC_BODY, c->timeout, &cause);
		assert_non_null(r);
		rc = curl_easy_perform(r->easy);
		now = c->now ? (time_t)c->now : time(NULL);
		why = NULL;
		ra = -2;
		if (webhook_classify(r->easy, rc, now, &ra, &why) != c->want)
			fail_msg("%s: rc %d, %s", c->url, rc, why);
		if (ra != c->retry_after)
			fail_msg("%s: retry_after %ld", c->url, ra);
		assert_non_null(why);
		if (strncmp(why, c->why, strlen(c->why)) != 0)
			fail_msg("%s: why \"%s\"", c->url, why);
		code = -1;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
		assert_int_equal(code, c->code);
		free(why);
		free(u);
		webhook_req_free(r);
	}
}

/* Codes no server here can produce, and optional out-parameters. */
static void
test_classify_codes(void **state)
{
	static const struct {
		CURLcode	 rc;
		enum dlv_result	 want;
	} cases[] = {
		{ CURLE_COULDNT_RESOLVE_HOST, DLV_TEMP },
		{ CURLE_SSL_CONNECT_ERROR, DLV_TEMP },
		{ CURLE_PEER_FAILED_VERIFICATION, DLV_TEMP },
		{ CURLE_RECV_ERROR, DLV_TEMP },
		{ CURLE_URL_MALFORMAT, DLV_PERM },
		{ CURLE_UNSUPPORTED_PROTOCOL, DLV_PERM },
	};
	CURL	*easy = curl_easy_init();
	char	*why;
	long	 ra;

	(void)state;
	assert_non_null(easy);
	for (size_t i = 0; i < nitems(cases); i++) {
		why = NULL;
		ra = 5;
		assert_int_equal(webhook_classify(easy, cases[i].rc, 0, &ra,
		    &why), cases[i].want);
		assert_int_equal(ra, -1);
		assert_non_null(why);
		assert_non_null(strstr(why, curl_easy_strerror(cases[i].rc)));
		free(why);
	}
	assert_int_equal(webhook_classify(easy, CURLE_RECV_ERROR, 0, NULL,
	    NULL), DLV_TEMP);
	curl_easy_cleanup(easy);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sign_vectors),
		cmocka_unit_test(test_sign_bad_input),
		cmocka_unit_test(test_prepare_sends_signed_post),
		cmocka_unit_test(test_prepare_refuses),
		cmocka_unit_test(test_classify_answers),
		cmocka_unit_test(test_classify_codes),
	};

	return cmocka_run_group_tests(tests, srv_start, srv_stop);
}
