/*
 * curlm.c: drives libcurl's multi socket interface from a libevent base, as
 * curl's docs/examples/hiperfifo.c does. curl tells us which sockets to
 * watch (one persistent event per socket) and when to wake it (one timer);
 * libevent tells curl what happened through curl_multi_socket_action, and
 * finished transfers are handed to their callbacks only after that call has
 * returned. It must never call curl from inside a curl callback (the timer
 * callback only arms our timer), never block, and never look at what a
 * transfer carries. curl_global_init() is the caller's job, once, at
 * start-up before any thread exists.
 */
#include <stdlib.h>

#include <event2/event.h>

#include "curlm.h"
#include "log.h"
#include "util.h"

/* One transfer: CURLOPT_PRIVATE of its easy handle points here. */
struct curlm_xfer {
	struct curlm_xfer	*prev, *next;
	CURL			*easy;
	curlm_done_cb		*cb;
	void			*arg;
};

/* One socket curl asked us to watch: its socketp (curl_multi_assign). */
struct curlm_sock {
	struct curlm_sock	*prev, *next;
	curl_socket_t		 fd;
	struct event		*ev;
};

struct curlm {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	struct curlm_xfer	*xfers;		/* running transfers */
	struct curlm_sock	*socks;		/* watched sockets */
	int			 nxfers;
	int			 closing;	/* in curlm_free */
};

static void	curlm_drain(struct curlm *);

static void
xfer_unlink(struct curlm *cm, struct curlm_xfer *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else
		cm->xfers = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
	cm->nxfers--;
}

static void
sock_free(struct curlm *cm, struct curlm_sock *s)
{
	if (s->prev != NULL)
		s->prev->next = s->next;
	else
		cm->socks = s->next;
	if (s->next != NULL)
		s->next->prev = s->prev;
	/* Safe from within this event's own callback: libevent copies
	 * what it needs before calling it. */
	event_free(s->ev);
	free(s);
}

/*
 * Ends one transfer: out of the multi handle and our list, then its
 * callback, which owns the easy handle from then on. Nothing of ours may
 * be held across the callback: it may add transfers.
 */
static void
xfer_finish(struct curlm *cm, struct curlm_xfer *x, CURLcode result)
{
	CURL		*easy = x->easy;
	curlm_done_cb	*cb = x->cb;
	void		*arg = x->arg;
	CURLMcode	 mc;

	xfer_unlink(cm, x);
	mc = curl_multi_remove_handle(cm->multi, easy);
	if (mc != CURLM_OK)
		log_warn("curl_multi_remove_handle: %s",
		    curl_multi_strerror(mc));
	curl_easy_setopt(easy, CURLOPT_PRIVATE, NULL);
	free(x);
	cb(easy, result, arg);
}

/* Hands every finished transfer to its callback. */
static void
curlm_drain(struct curlm *cm)
{
	CURLMsg			*msg;
	int			 left;
	void			*p;
	CURL			*easy;
	CURLcode		 result;

	/* The message is gone once its handle is removed: copy first. */
	while ((msg = curl_multi_info_read(cm->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		easy = msg->easy_handle;
		result = msg->data.result;
		p = NULL;
		if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, &p) != CURLE_OK ||
		    p == NULL) {
			/* Not ours: cannot happen, but never loop on it. */
			log_error("curlm: finished transfer without owner");
			curl_multi_remove_handle(cm->multi, easy);
			continue;
		}
		xfer_finish(cm, p, result);
	}
}

static void
curlm_action(struct curlm *cm, curl_socket_t fd, int ev_bitmask)
{
	CURLMcode	 mc;
	int		 running;

	mc = curl_multi_socket_action(cm->multi, fd, ev_bitmask, &running);
	if (mc != CURLM_OK)
		log_warn("curl_multi_socket_action: %s",
		    curl_multi_strerror(mc));
	curlm_drain(cm);
}

/* libevent: a watched socket is ready. */
static void
curlm_sock_event(evutil_socket_t fd, short what, void *arg)
{
	int	 action = 0;

	if (what & EV_READ)
		action |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		action |= CURL_CSELECT_OUT;
	/* arg is the curlm, not the curlm_sock: the latter may be freed by
	 * the socket callback during this very call. */
	curlm_action(arg, fd, action);
}

/* libevent: curl's timeout ran out. */
static void
curlm_timer_event(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	curlm_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

/* CURLMOPT_SOCKETFUNCTION: watch, rewatch or forget one socket. */
static int
curlm_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp,
    void *socketp)
{
	struct curlm		*cm = userp;
	struct curlm_sock	*s = socketp;
	short			 kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		/* May come for a socket we were never told to watch. */
		if (s != NULL)
			sock_free(cm, s);
		return 0;
	}
	kind = EV_PERSIST;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		kind |= EV_READ;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		kind |= EV_WRITE;
	if (s == NULL) {
		s = xcalloc(1, sizeof *s);
		s->fd = fd;
		s->ev = event_new(cm->base, fd, kind, curlm_sock_event, cm);
		if (s->ev == NULL) {
			free(s);
			log_error("curlm: event_new failed");
			return -1;
		}
		if (curl_multi_assign(cm->multi, fd, s) != CURLM_OK) {
			event_free(s->ev);
			free(s);
			return -1;
		}
		s->next = cm->socks;
		if (s->next != NULL)
			s->next->prev = s;
		cm->socks = s;
	} else {
		event_del(s->ev);
		event_assign(s->ev, cm->base, fd, kind, curlm_sock_event, cm);
	}
	if (event_add(s->ev, NULL) == -1) {
		log_error("curlm: event_add failed");
		return -1;
	}
	return 0;
}

/*
 * CURLMOPT_TIMERFUNCTION: only (re)arms our timer. Calling curl from here
 * would re-enter it; 0 ms means "on the next pass of the loop".
 */
static int
curlm_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curlm	*cm = userp;
	struct timeval	 tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(cm->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(cm->timer, &tv) == -1 ? -1 : 0;
}

struct curlm *
curlm_new(struct event_base *base)
{
	struct curlm	*cm;

	cm = xcalloc(1, sizeof *cm);
	cm->base = base;
	if ((cm->multi = curl_multi_init()) == NULL) {
		free(cm);
		return NULL;
	}
	if ((cm->timer = evtimer_new(base, curlm_timer_event, cm)) == NULL) {
		curl_multi_cleanup(cm->multi);
		free(cm);
		return NULL;
	}
	curl_multi_setopt(cm->multi, CURLMOPT_SOCKETFUNCTION, curlm_socket_cb);
	curl_multi_setopt(cm->multi, CURLMOPT_SOCKETDATA, cm);
	curl_multi_setopt(cm->multi, CURLMOPT_TIMERFUNCTION, curlm_timer_cb);
	curl_multi_setopt(cm->multi, CURLMOPT_TIMERDATA, cm);
	return cm;
}

void
curlm_free(struct curlm *cm)
{
	struct curlm_sock	*s;

	if (cm == NULL)
		return;
	cm->closing = 1;
	/* Re-read the head each time: a callback may have changed the list. */
	while (cm->xfers != NULL)
		xfer_finish(cm, cm->xfers, CURLE_ABORTED_BY_CALLBACK);
	/* Closes cached connections, which calls curlm_socket_cb and
	 * curlm_timer_cb: our sockets and timer must still be there. */
	curl_multi_cleanup(cm->multi);
	while ((s = cm->socks) != NULL)
		sock_free(cm, s);
	event_free(cm->timer);
	free(cm);
}

int
curlm_add(struct curlm *cm, CURL *easy, curlm_done_cb *cb, void *arg)
{
	struct curlm_xfer	*x;
	CURLMcode		 mc;

	if (cm->closing || easy == NULL || cb == NULL)
		return -1;
	/* Added before PRIVATE is set, so that a handle already in the multi
	 * keeps its owner when the add fails. Adding only arms the timer;
	 * nothing runs (and no callback) until the loop calls curl. */
	if ((mc = curl_multi_add_handle(cm->multi, easy)) != CURLM_OK) {
		log_warn("curl_multi_add_handle: %s", curl_multi_strerror(mc));
		return -1;
	}
	x = xcalloc(1, sizeof *x);
	x->easy = easy;
	x->cb = cb;
	x->arg = arg;
	curl_easy_setopt(easy, CURLOPT_PRIVATE, x);
	x->next = cm->xfers;
	if (x->next != NULL)
		x->next->prev = x;
	cm->xfers = x;
	cm->nxfers++;
	return 0;
}

int
curlm_running(const struct curlm *cm)
{
	return cm->nxfers;
}
