/*
 * mailer.c: the mail delivery threads. libcurl reads the reply to a
 * message's final dot with a blocking read, so one thread running several
 * SMTP sessions stood still for every session while one server answered:
 * the sessions took turns. Each lane is a thread with its own event base
 * and multi handle, running one session at a time (the main loop gives a
 * job to the lane with the least to do), fed through its own socketpair
 * and answering the same way. Easy handles are used again, message after
 * message, and each side reads all the pointers waiting for it with one
 * recvmmsg. A lane shares nothing with the main loop but the jobs in
 * flight, and a job belongs to exactly one side at a time. The main loop
 * must never block on this file: its ends of the pairs are non-blocking,
 * and a full pair fails the job (try again later).
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

/* The lanes a mailer runs: one thread each, so that the blocking read of
   one transaction's final reply holds up that lane alone. */
#define MAILER_LANES_MAX	16

struct lane;

struct mailer {
	struct lane		*lane[MAILER_LANES_MAX];
	int			 nlanes;
	mailer_done_cb		*cb;
	void			*arg;
	int			 stopping;
};

struct lane {
	struct mailer		*mailer;
	int			 fd[2];		/* [0] main, [1] thread */
	struct event		*main_ev;	/* main loop: answers */
	int			 inflight;
	pthread_t		 thread;

	/* the thread's own */
	struct event_base	*base;
	struct event		*thread_ev;	/* jobs in, EOF = stop */
	struct curlm		*curlm;
	struct xfer		*idle;		/* handles to use again */
	int			 nidle;
};

/*
 * A transfer: its easy handle, kept for the next message when it is done
 * (a new handle a message cost libcurl ~12,000 instructions to create and
 * clean up, and a fresh upload buffer and dot-stuffing buffer, 192 KB, each
 * time). The connections are the multi handle's either way.
 */
struct xfer {
	struct lane		*m;
	struct mail_job		*job;
	CURL			*easy;
	struct xfer		*next;		/* idle list */
	/* the one recipient, the job's own string (no copy) */
	struct curl_slist	 rcpt;
	char			 errbuf[CURL_ERROR_SIZE];
};

/* Idle handles kept; more at once than this (the outbox sends at most
   OB_MAX_MAILS) are cleaned up when done. */
#define MAILER_IDLE_MAX	8

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

/* Pointers read at once from the pair (one per SOCK_SEQPACKET message). */
#define MAILER_BATCH	16

/*
 * Reads up to MAILER_BATCH job pointers waiting on fd, one recvmmsg for
 * all of them (a recv each, and one more to learn there is no more, before).
 * Returns how many, 0 when none is waiting, -1 at EOF or on an error.
 */
static int
pair_read(int fd, struct mail_job **jobs)
{
	struct mmsghdr	 mh[MAILER_BATCH];
	struct iovec	 iov[MAILER_BATCH];
	int		 n;

	memset(mh, 0, sizeof mh);
	for (int i = 0; i < MAILER_BATCH; i++) {
		iov[i].iov_base = &jobs[i];
		iov[i].iov_len = sizeof jobs[i];
		mh[i].msg_hdr.msg_iov = &iov[i];
		mh[i].msg_hdr.msg_iovlen = 1;
	}
	do {
		n = recvmmsg(fd, mh, MAILER_BATCH, MSG_DONTWAIT, NULL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -1;
	/* A message of another size is not one of ours: EOF reads as one of
	   0 bytes (the event is level-triggered, so an EOF after jobs is
	   seen at the next call). */
	for (int i = 0; i < n; i++)
		if (mh[i].msg_len != sizeof jobs[i])
			return i > 0 ? i : -1;
	return n > 0 ? n : -1;
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
thread_answer(struct lane *m, struct mail_job *j)
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
xfer_free(struct xfer *x)
{
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	free(x);
}

static void
xfer_done(CURL *easy, CURLcode rc, void *arg)
{
	struct xfer	*x = arg;
	struct mail_job	*j = x->job;
	struct lane	*m = x->m;
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
	x->job = NULL;
	/* The handle keeps nothing of this job that the next one does not
	   set again (thread_start_job), but for the strings it copied. */
	if (m->nidle < MAILER_IDLE_MAX) {
		x->next = m->idle;
		m->idle = x;
		m->nidle++;
	} else
		xfer_free(x);
	thread_answer(m, j);
}

/* A handle for a job: an idle one, or a new one with the options that
   never change set once. NULL when libcurl cannot make one. */
static struct xfer *
xfer_get(struct lane *m)
{
	struct xfer	*x;

	if ((x = m->idle) != NULL) {
		m->idle = x->next;
		m->nidle--;
		return x;
	}
	x = xcalloc(1, sizeof *x);
	if ((x->easy = curl_easy_init()) == NULL) {
		free(x);
		return NULL;
	}
	x->m = m;
	curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
	curl_easy_setopt(x->easy, CURLOPT_UPLOAD, 1L);
	curl_easy_setopt(x->easy, CURLOPT_READFUNCTION, read_cb);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_MAIL_RCPT, &x->rcpt);
	return x;
}

static void
thread_start_job(struct lane *m, struct mail_job *j)
{
	struct xfer	*x = xfer_get(m);
	CURL		*e;
	char		 sbuf[320], *from, *heap = NULL;
	size_t		 n = strlen(j->from);

	if (x == NULL) {
		j->result = DLV_TEMP;
		j->error = xstrdup("curl_easy_init failed");
		thread_answer(m, j);
		return;
	}
	e = x->easy;
	x->job = j;
	x->errbuf[0] = '\0';
	x->rcpt.data = j->to;
	x->rcpt.next = NULL;
	/* "<from>": libcurl copies it */
	from = n + 3 <= sizeof sbuf ? sbuf : (heap = xmalloc(n + 3));
	from[0] = '<';
	memcpy(from + 1, j->from, n);
	memcpy(from + 1 + n, ">", 2);
	/*
	 * Every option a job sets is set for every job, to its value or to
	 * its default (STARTTLS, AUTH), so that a handle used again carries
	 * nothing of the job before.
	 */
	curl_easy_setopt(e, CURLOPT_URL, j->url);
	curl_easy_setopt(e, CURLOPT_MAIL_FROM, from);
	curl_easy_setopt(e, CURLOPT_READDATA, j);
	curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->len);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, j->timeout);
	/* The reply to the final dot may be slow: bounded, but generous. */
	curl_easy_setopt(e, CURLOPT_SERVER_RESPONSE_TIMEOUT, j->timeout);
	curl_easy_setopt(e, CURLOPT_TIMEOUT, 3 * j->timeout);
	curl_easy_setopt(e, CURLOPT_USE_SSL, j->starttls ?
	    (long)CURLUSESSL_ALL : (long)CURLUSESSL_NONE);
	curl_easy_setopt(e, CURLOPT_USERNAME, j->username);
	curl_easy_setopt(e, CURLOPT_PASSWORD, j->username == NULL ? NULL :
	    j->password != NULL ? j->password : "");
	free(heap);
	if (curlm_add(m->curlm, e, xfer_done, x) != 0) {
		j->result = DLV_TEMP;
		j->error = xstrdup("curl_multi_add_handle failed");
		x->job = NULL;
		xfer_free(x);
		thread_answer(m, j);
	}
}

static void
thread_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lane	*m = arg;
	struct mail_job	*jobs[MAILER_BATCH];
	int		 n;

	(void)what;
	for (;;) {
		if ((n = pair_read(fd, jobs)) < 0) {
			/* EOF (the main side shut its write end): stop. */
			event_base_loopbreak(m->base);
			return;
		}
		for (int i = 0; i < n; i++) {
			jobs[i]->sent = 0;
			thread_start_job(m, jobs[i]);
		}
		if (n < MAILER_BATCH)
			return;
	}
}

static void *
thread_main(void *arg)
{
	struct lane	*m = arg;

	event_base_dispatch(m->base);
	/* Aborted transfers answer through xfer_done (DLV_TEMP below). */
	curlm_free(m->curlm);
	m->curlm = NULL;
	while (m->idle != NULL) {
		struct xfer	*x = m->idle;

		m->idle = x->next;
		xfer_free(x);
	}
	m->nidle = 0;
	event_free(m->thread_ev);
	event_base_free(m->base);
	m->base = NULL;
	return NULL;
}

/* ---- the main loop's side ---------------------------------------------- */

static void
main_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lane	*l = arg;
	struct mailer	*m = l->mailer;
	struct mail_job	*jobs[MAILER_BATCH], *j;
	int		 n;

	(void)what;
	do {
		if ((n = pair_read(fd, jobs)) <= 0)
			return;
		for (int i = 0; i < n; i++) {
			j = jobs[i];
			l->inflight--;
			if (j->result != DLV_OK && j->error == NULL)
				j->error = xstrdup("unknown error");
			/* An aborted transfer at shutdown is a temporary
			   failure. */
			if (m->stopping && j->result != DLV_OK) {
				j->result = DLV_TEMP;
				free(j->error);
				j->error = xstrdup("shutting down");
			}
			m->cb(j, m->arg);
		}
	} while (n == MAILER_BATCH);
}

static void
lane_free(struct lane *l)
{
	if (l->main_ev != NULL)
		event_free(l->main_ev);
	close(l->fd[0]);
	close(l->fd[1]);
	free(l);
}

/* One lane: its socketpair, loop, multi handle and thread. */
static struct lane *
lane_start(struct mailer *m, struct event_base *main_base, char **cause)
{
	struct lane	*l = xcalloc(1, sizeof *l);

	l->mailer = m;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, l->fd) != 0) {
		*cause = xasprintf("socketpair: %s", strerror(errno));
		free(l);
		return NULL;
	}
	evutil_make_socket_nonblocking(l->fd[0]);
	evutil_make_socket_nonblocking(l->fd[1]);
	l->base = event_base_new();
	l->curlm = l->base ? curlm_new(l->base) : NULL;
	if (l->curlm == NULL) {
		*cause = xstrdup("cannot create the mail thread's event loop");
		goto fail;
	}
	l->thread_ev = event_new(l->base, l->fd[1], EV_READ | EV_PERSIST,
	    thread_read_cb, l);
	event_add(l->thread_ev, NULL);
	l->main_ev = event_new(main_base, l->fd[0], EV_READ | EV_PERSIST,
	    main_read_cb, l);
	event_add(l->main_ev, NULL);
	if (pthread_create(&l->thread, NULL, thread_main, l) != 0) {
		*cause = xstrdup("cannot start the mail thread");
		event_free(l->thread_ev);
		goto fail;
	}
	return l;
fail:
	if (l->curlm)
		curlm_free(l->curlm);
	if (l->base)
		event_base_free(l->base);
	lane_free(l);
	return NULL;
}

/* Ends a lane's thread and collects what it answered. */
static void
lane_stop(struct lane *l)
{
	/* EOF on the thread's side: it aborts what runs and ends. */
	shutdown(l->fd[0], SHUT_WR);
	pthread_join(l->thread, NULL);
	/* Collect the jobs it answered (aborted ones included). */
	main_read_cb(l->fd[0], EV_READ, l);
	if (l->inflight != 0)
		log_warn("mailer: %d jobs lost at shutdown (their rows return "
		    "to the queue when their lease ends)", l->inflight);
	lane_free(l);
}

struct mailer *
mailer_start(struct event_base *main_base, int lanes, mailer_done_cb *cb,
    void *arg, char **cause)
{
	struct mailer	*m = xcalloc(1, sizeof *m);

	m->cb = cb;
	m->arg = arg;
	if (lanes < 1)
		lanes = 1;
	if (lanes > MAILER_LANES_MAX)
		lanes = MAILER_LANES_MAX;
	for (m->nlanes = 0; m->nlanes < lanes; m->nlanes++) {
		m->lane[m->nlanes] = lane_start(m, main_base, cause);
		if (m->lane[m->nlanes] == NULL) {
			mailer_stop(m);
			return NULL;
		}
	}
	return m;
}

int
mailer_submit(struct mailer *m, struct mail_job *j)
{
	struct lane	*l = NULL;
	ssize_t		 n;

	if (m->stopping)
		return -1;
	/* The lane with the least to do: a free one, while there is one. */
	for (int i = 0; i < m->nlanes; i++)
		if (l == NULL || m->lane[i]->inflight < l->inflight)
			l = m->lane[i];
	n = send(l->fd[0], &j, sizeof j, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n != (ssize_t)sizeof j)
		return -1;
	l->inflight++;
	return 0;
}

int
mailer_inflight(const struct mailer *m)
{
	int	n = 0;

	for (int i = 0; i < m->nlanes; i++)
		n += m->lane[i]->inflight;
	return n;
}

void
mailer_stop(struct mailer *m)
{
	if (m == NULL)
		return;
	m->stopping = 1;
	/* All told first, so that they wind down together. */
	for (int i = 0; i < m->nlanes; i++)
		shutdown(m->lane[i]->fd[0], SHUT_WR);
	for (int i = 0; i < m->nlanes; i++)
		lane_stop(m->lane[i]);
	free(m);
}
