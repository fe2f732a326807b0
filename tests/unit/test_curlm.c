/*
 * test_curlm.c: unit tests of curlm.c, libcurl's multi socket interface on
 * a libevent base. Real transfers go to a tiny HTTP server forked on
 * 127.0.0.1 (one path answers at once, one after a second): several run at
 * once and each reaches its own callback, never from inside curlm_add; a
 * callback starts another transfer; curlm_free aborts running transfers
 * through their callbacks; a refused connection is an error, not a hang;
 * a handle added twice is refused. Run under ASan/LSan, these also check
 * that sockets, events and transfers are all freed.
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
#include <event2/event.h>

#include "curlm.h"
#include "util.h"

/* ---- a tiny HTTP/1.1 server in a forked process group ---- */

struct route {
	const char	*path;
	int		 status;
	const char	*headers;	/* extra ones, each ending in CRLF */
	int		 delay_ms;
};

static const struct route routes[] = {
	{ "/ok",	200, "", 0 },
	{ "/slow",	200, "", 1000 },
	{ "/hang",	200, "", 30000 },
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
	body = "ok\n";
	blen = 3;
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

/* ---- signature ---- */
/* ---- transfers ---- */

struct fixture;

struct xfer {
	struct fixture	*f;
	CURL		*easy;
	const char	*path;
	int		 done;		/* callbacks seen */
	int		 order;		/* 1: the first to finish */
	CURLcode	 rc;
	long		 code;
	long long	 at_ms;		/* when it finished */
	struct xfer	*then;		/* to add from the callback */
	int		 then_added;	/* what its curlm_add said */
};

struct fixture {
	struct event_base	*base;
	struct curlm		*cm;
	struct event		*guard;	/* fails a hanging test */
	int			 ndone, want, timedout;
};

static size_t
discard(char *p, size_t size, size_t nmemb, void *arg)
{
	(void)p;
	(void)arg;
	return size * nmemb;
}

static CURL *
easy_for(const char *path, int port)
{
	CURL	*e = curl_easy_init();
	char	*u = xasprintf("http://127.0.0.1:%d%s", port, path);

	assert_non_null(e);
	curl_easy_setopt(e, CURLOPT_URL, u);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 20L);
	free(u);
	return e;
}

static void	done(CURL *, CURLcode, void *);

static void
start(struct fixture *f, struct xfer *x, const char *path, int port)
{
	x->f = f;
	x->path = path;
	x->easy = easy_for(path, port);
	assert_int_equal(curlm_add(f->cm, x->easy, done, x), 0);
	/* Never called from inside curlm_add, even for a doomed transfer. */
	assert_int_equal(x->done, 0);
}

static void
done(CURL *easy, CURLcode rc, void *arg)
{
	struct xfer	*x = arg;
	struct fixture	*f = x->f;

	/* Each transfer reaches its own callback, once. */
	assert_ptr_equal(easy, x->easy);
	x->done++;
	x->rc = rc;
	x->order = ++f->ndone;
	x->at_ms = mono_ms();
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &x->code);
	curl_easy_cleanup(easy);
	if (x->then != NULL) {
		x->then->f = f;
		x->then->easy = easy_for(x->then->path, srv_port);
		x->then_added = curlm_add(f->cm, x->then->easy, done, x->then);
		if (x->then_added != 0)
			curl_easy_cleanup(x->then->easy);
	}
	if (f->ndone == f->want)
		event_base_loopbreak(f->base);
}

static void
guard_fired(evutil_socket_t fd, short what, void *arg)
{
	struct fixture	*f = arg;

	(void)fd;
	(void)what;
	f->timedout = 1;
	event_base_loopbreak(f->base);
}

/* Runs the loop until f->want transfers are done, or 10 s. */
static void
run(struct fixture *f, int want)
{
	struct timeval	 tv = { 10, 0 };

	f->want = want;
	evtimer_add(f->guard, &tv);
	event_base_dispatch(f->base);
	evtimer_del(f->guard);
	assert_false(f->timedout);
	assert_int_equal(f->ndone, want);
}

static int
setup(void **state)
{
	struct fixture	*f = xcalloc(1, sizeof *f);

	f->base = event_base_new();
	f->cm = curlm_new(f->base);
	f->guard = evtimer_new(f->base, guard_fired, f);
	if (f->base == NULL || f->cm == NULL || f->guard == NULL)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture	*f = *state;

	curlm_free(f->cm);
	event_free(f->guard);
	event_base_free(f->base);
	free(f);
	return 0;
}

/* Two slow and three quick transfers at once: the quick ones are not
 * held up, and the slow ones overlap. */
static void
test_concurrent(void **state)
{
	struct fixture	*f = *state;
	struct xfer	 x[5];
	const char	*paths[] = { "/slow", "/ok", "/slow", "/ok", "/ok" };
	long long	 t0 = mono_ms();

	memset(x, 0, sizeof x);
	for (size_t i = 0; i < nitems(x); i++)
		start(f, &x[i], paths[i], srv_port);
	assert_int_equal(curlm_running(f->cm), 5);
	run(f, 5);
	assert_int_equal(curlm_running(f->cm), 0);
	for (size_t i = 0; i < nitems(x); i++) {
		assert_int_equal(x[i].done, 1);
		assert_int_equal(x[i].rc, CURLE_OK);
		assert_int_equal(x[i].code, 200);
		if (strcmp(paths[i], "/ok") == 0) {
			assert_true(x[i].order <= 3);
			assert_true(x[i].at_ms - t0 < 900);
		} else {
			assert_true(x[i].order >= 4);
			assert_true(x[i].at_ms - t0 >= 900);
		}
	}
	/* One after the other would take two seconds. */
	assert_true(mono_ms() - t0 < 1800);
}

/* A callback starts the next transfer, which completes as well. */
static void
test_add_from_callback(void **state)
{
	struct fixture	*f = *state;
	struct xfer	 a, b, c;

	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	memset(&c, 0, sizeof c);
	b.path = "/ok";
	c.path = "/slow";
	a.then = &b;
	b.then = &c;
	start(f, &a, "/ok", srv_port);
	run(f, 3);
	assert_int_equal(a.then_added, 0);
	assert_int_equal(b.then_added, 0);
	assert_int_equal(a.order, 1);
	assert_int_equal(b.order, 2);
	assert_int_equal(c.order, 3);
	assert_int_equal(b.done + c.done, 2);
	assert_int_equal(b.code, 200);
	assert_int_equal(c.code, 200);
	assert_int_equal(curlm_running(f->cm), 0);
}

/* curlm_free hands running transfers back through their callbacks, and
 * a callback cannot start a new one then. */
static void
test_free_aborts(void **state)
{
	struct fixture	*f = *state;
	struct xfer	 x[3], again;
	struct timeval	 tv = { 0, 300000 };

	memset(x, 0, sizeof x);
	memset(&again, 0, sizeof again);
	again.path = "/ok";
	start(f, &x[0], "/hang", srv_port);
	start(f, &x[1], "/slow", srv_port);
	start(f, &x[2], "/ok", srv_port);
	x[0].then = &again;
	/* Let them connect and send; /ok finishes. */
	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
	assert_int_equal(x[2].done, 1);
	assert_int_equal(x[2].rc, CURLE_OK);
	assert_int_equal(x[0].done + x[1].done, 0);
	assert_int_equal(curlm_running(f->cm), 2);

	curlm_free(f->cm);
	f->cm = NULL;
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(x[i].done, 1);
		assert_int_equal(x[i].rc, CURLE_ABORTED_BY_CALLBACK);
	}
	assert_int_equal(x[0].then_added, -1);
	assert_int_equal(again.done, 0);
	assert_int_equal(f->ndone, 3);
}

/* Nothing listens: an error code, soon. */
static void
test_refused(void **state)
{
	struct fixture	*f = *state;
	struct xfer	 x;
	long long	 t0 = mono_ms();

	memset(&x, 0, sizeof x);
	start(f, &x, "/ok", dead_port);
	run(f, 1);
	assert_int_equal(x.rc, CURLE_COULDNT_CONNECT);
	assert_int_equal(x.code, 0);
	assert_true(mono_ms() - t0 < 3000);
}

/* A handle already running is refused, and keeps its own callback. */
static void
test_add_twice(void **state)
{
	struct fixture	*f = *state;
	struct xfer	 x, other;

	memset(&x, 0, sizeof x);
	memset(&other, 0, sizeof other);
	start(f, &x, "/ok", srv_port);
	assert_int_equal(curlm_add(f->cm, x.easy, done, &other), -1);
	assert_int_equal(curlm_add(f->cm, NULL, done, &other), -1);
	assert_int_equal(curlm_running(f->cm), 1);
	run(f, 1);
	assert_int_equal(x.done, 1);
	assert_int_equal(x.code, 200);
	assert_int_equal(other.done, 0);
}

/* Several rounds on one curlm, and an idle one freed at once. */
static void
test_reuse(void **state)
{
	struct fixture	*f = *state;
	struct xfer	 x[4];
	struct curlm	*idle;

	memset(x, 0, sizeof x);
	for (size_t i = 0; i < nitems(x); i++) {
		start(f, &x[i], "/ok", srv_port);
		run(f, (int)i + 1);
		assert_int_equal(x[i].code, 200);
	}
	idle = curlm_new(f->base);
	assert_non_null(idle);
	assert_int_equal(curlm_running(idle), 0);
	curlm_free(idle);
	curlm_free(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_concurrent, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_add_from_callback, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_aborts, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_add_twice, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_reuse, setup, teardown),
	};

	return cmocka_run_group_tests(tests, srv_start, srv_stop);
}
