/*
 * mailer.c: the mail delivery thread. The main loop writes job pointers to
 * one end of a socketpair; the thread reads them, runs each as one SMTP
 * transaction on its own libevent base and libcurl multi handle (curlm.c),
 * and writes the finished job back. The thread shares nothing with the main
 * loop but the jobs in flight, and a job belongs to exactly one side at a
 * time. The main loop must never block on this file: its end of the pair is
 * non-blocking, and a full pair fails the job (try again later).
 */
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "curlm.h"
#include "log.h"
#include "mailer.h"
#include "util.h"

struct mailer {
	int			 fd[2];		/* [0] main, [1] thread */
	struct event		*main_ev;	/* main loop: answers */
	mailer_done_cb		*cb;
	void			*arg;
	int			 inflight;
	int			 stopping;
	pthread_t		 thread;

	/* the thread's own */
	struct event_base	*base;
	struct event		*thread_ev;	/* jobs in, EOF = stop */
	struct curlm		*curlm;
};

/* What a transfer carries to its completion. */
struct xfer {
	struct mailer		*m;
	struct mail_job		*job;
	struct curl_slist	*rcpt;
	char			 errbuf[CURL_ERROR_SIZE];
};

void
mail_job_free(struct mail_job *j)
{
	if (j == NULL)
		return;
	free(j->url);
	free(j->username);
	if (j->password != NULL) {
		explicit_bzero(j->password, strlen(j->password));
		free(j->password);
	}
	free(j->from);
	free(j->to);
	free(j->data);
	free(j->error);
	free(j);
}

/* ---- the thread -------------------------------------------------------- */

static size_t
read_cb(char *buf, size_t size, size_t n, void *arg)
{
	struct mail_job	*j = arg;
	size_t		 left = j->len - j->sent, want = size * n;

	if (want > left)
		want = left;
	memcpy(buf, j->data + j->sent, want);
	j->sent += want;
	return want;
}

/* Sends a finished job back to the main loop. */
static void
thread_answer(struct mailer *m, struct mail_job *j)
{
	ssize_t	n;

	do {
		n = send(m->fd[1], &j, sizeof j, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof j) {
		/* The main side is gone: nobody will free it. */
		log_error("mailer: cannot answer job %lld: %s", j->id,
		    strerror(errno));
		mail_job_free(j);
	}
}

static void
xfer_done(CURL *easy, CURLcode rc, void *arg)
{
	struct xfer	*x = arg;
	struct mail_job	*j = x->job;
	long		 code = 0;

	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	if (rc == CURLE_OK) {
		j->result = DLV_OK;
	} else {
		if (code >= 500 && code < 600)
			j->result = DLV_PERM;
		else if (rc == CURLE_URL_MALFORMAT ||
		    rc == CURLE_UNSUPPORTED_PROTOCOL)
			j->result = DLV_PERM;
		else
			j->result = DLV_TEMP;
		if (code > 0)
			j->error = xasprintf("SMTP %ld: %s", code,
			    x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc));
		else
			j->error = xasprintf("%s", x->errbuf[0] ? x->errbuf :
			    curl_easy_strerror(rc));
	}
	curl_slist_free_all(x->rcpt);
	curl_easy_cleanup(easy);
	thread_answer(x->m, j);
	free(x);
}

static void
thread_start_job(struct mailer *m, struct mail_job *j)
{
	struct xfer	*x = xcalloc(1, sizeof *x);
	CURL		*e = curl_easy_init();
	char		*from = xasprintf("<%s>", j->from);

	x->m = m;
	x->job = j;
	x->rcpt = curl_slist_append(NULL, j->to);
	if (e == NULL || x->rcpt == NULL) {
		j->result = DLV_TEMP;
		j->error = xstrdup("curl_easy_init failed");
		goto fail;
	}
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(e, CURLOPT_MAIL_RCPT, x->rcpt);
	curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(e, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(e, CURLOPT_READDATA, j);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->len);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, j->timeout);
	/* The reply to the final dot may be slow: bounded, but generous. */
	curl_easy_setopt(e, CURLOPT_SERVER_RESPONSE_TIMEOUT, j->timeout);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 3 * j->timeout);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	if (j->starttls)
		curl_easy_setopt(e, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
	if (j->username != NULL) {
		curl_easy_setopt(e, CURLOPT_USERNAME, j->username);
		curl_easy_setopt(e, CURLOPT_PASSWORD,
		    j->password ? j->password : "");
	}
	free(from);
	if (curlm_add(m->curlm, e, xfer_done, x) != 0) {
		j->result = DLV_TEMP;
		j->error = xstrdup("curl_multi_add_handle failed");
		from = NULL;
		goto fail;
	}
	return;
fail:
	free(from);
	if (e != NULL)
		curl_easy_cleanup(e);
	curl_slist_free_all(x->rcpt);
	free(x);
	thread_answer(m, j);
}

static void
thread_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mailer	*m = arg;
	struct mail_job	*j;
	ssize_t		 n;

	(void)what;
	for (;;) {
		n = recv(fd, &j, sizeof j, MSG_DONTWAIT);
		if (n == (ssize_t)sizeof j) {
			j->sent = 0;
			thread_start_job(m, j);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		/* EOF (the main side shut its write end): stop. */
		event_base_loopbreak(m->base);
		return;
	}
}

static void *
thread_main(void *arg)
{
	struct mailer	*m = arg;

	event_base_dispatch(m->base);
	/* Aborted transfers answer through xfer_done (DLV_TEMP below). */
	curlm_free(m->curlm);
	m->curlm = NULL;
	event_free(m->thread_ev);
	event_base_free(m->base);
	m->base = NULL;
	return NULL;
}

/* ---- the main loop's side ---------------------------------------------- */

static void
main_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mailer	*m = arg;
	struct mail_job	*j;
	ssize_t		 n;

	(void)what;
	for (;;) {
		n = recv(fd, &j, sizeof j, MSG_DONTWAIT);
		if (n != (ssize_t)sizeof j)
			return;
		m->inflight--;
		if (j->result != DLV_OK && j->error == NULL)
			j->error = xstrdup("unknown error");
		/* An aborted transfer at shutdown is a temporary failure. */
		if (m->stopping && j->result != DLV_OK) {
			j->result = DLV_TEMP;
			free(j->error);
			j->error = xstrdup("shutting down");
		}
		m->cb(j, m->arg);
	}
}

struct mailer *
mailer_start(struct event_base *main_base, mailer_done_cb *cb, void *arg,
    char **cause)
{
	struct mailer	*m = xcalloc(1, sizeof *m);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, m->fd) != 0) {
		*cause = xasprintf("socketpair: %s", strerror(errno));
		free(m);
		return NULL;
	}
	evutil_make_socket_nonblocking(m->fd[0]);
	evutil_make_socket_nonblocking(m->fd[1]);
	m->cb = cb;
	m->arg = arg;
	m->base = event_base_new();
	m->curlm = m->base ? curlm_new(m->base) : NULL;
	if (m->curlm == NULL) {
		*cause = xstrdup("cannot create the mail thread's event loop");
		goto fail;
	}
	m->thread_ev = event_new(m->base, m->fd[1], EV_READ | EV_PERSIST,
	    thread_read_cb, m);
	event_add(m->thread_ev, NULL);
	m->main_ev = event_new(main_base, m->fd[0], EV_READ | EV_PERSIST,
	    main_read_cb, m);
	event_add(m->main_ev, NULL);
	if (pthread_create(&m->thread, NULL, thread_main, m) != 0) {
		*cause = xstrdup("cannot start the mail thread");
		event_free(m->main_ev);
		event_free(m->thread_ev);
		goto fail;
	}
	return m;
fail:
	if (m->curlm)
		curlm_free(m->curlm);
	if (m->base)
		event_base_free(m->base);
	close(m->fd[0]);
	close(m->fd[1]);
	free(m);
	return NULL;
}

int
mailer_submit(struct mailer *m, struct mail_job *j)
{
	ssize_t	n;

	if (m->stopping)
		return -1;
	n = send(m->fd[0], &j, sizeof j, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)sizeof j)
		return -1;
	m->inflight++;
	return 0;
}

int
mailer_inflight(const struct mailer *m)
{
	return m->inflight;
}

void
mailer_stop(struct mailer *m)
{
	if (m == NULL)
		return;
	m->stopping = 1;
	/* EOF on the thread's side: it aborts what runs and ends. */
	shutdown(m->fd[0], SHUT_WR);
	pthread_join(m->thread, NULL);
	/* Collect the jobs it answered (aborted ones included). */
	main_read_cb(m->fd[0], EV_READ, m);
	if (m->inflight != 0)
		log_warn("mailer: %d jobs lost at shutdown (their rows return "
		    "to the queue when their lease ends)", m->inflight);
	event_free(m->main_ev);
	close(m->fd[0]);
	close(m->fd[1]);
	free(m);
}
