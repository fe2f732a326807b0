/*
 * ctl-conn.c: dsrctl's connection to dsrd: the socket opened within
 * $DSRCTL_TIMEOUT, a line sent, the one answer line read back (one
 * request, or many in turn on one connection), and the answer split into
 * its result or its error. It must never print anything or exit: failures
 * come back as an error code and a cause for the caller to report, and it
 * must never read past the size cap of an answer.
 */
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "proto.h"
#include "util.h"

#include "dsrctl.h"

/*
 * Requests are capped at PROTO_MAX_MESSAGE, answers are not: a list of 1000
 * requests with long summaries is several MiB. This only stops a runaway.
 */
#define CTL_MAX_REPLY		((size_t)64 * PROTO_MAX_MESSAGE)

/* -------------------------------------------------------------------- */
/* The socket. */

static int
ctl_timeout_ms(void)
{
	const char	*s = getenv("DSRCTL_TIMEOUT");
	long long	 n;

	if (s == NULL || parse_int(s, 1, 86400, &n) == -1)
		return CTL_TIMEOUT_S * 1000;
	return (int)n * 1000;
}

static int
ctl_connect(const char *path, int timeout_ms, int *code, char **cause)
{
	struct sockaddr_un	 sa;
	struct timeval		 tv;
	int			 fd, e;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sa.sun_path) {
		*code = E_USAGE;
		*cause = xasprintf("socket path too long: %s", path);
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1) {
		*code = E_UNAVAILABLE;
		*cause = xasprintf("socket: %s", strerror(errno));
		return -1;
	}
	/* Bounds connect() when dsrd's backlog is full, and send(). */
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = timeout_ms % 1000 * 1000;
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	while (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		if (errno == EINTR)
			continue;
		e = errno;
		close(fd);
		if (e == EACCES || e == EPERM) {
			*code = E_PERMISSION;
			*cause = xasprintf("permission denied (cannot "
			    "connect to %s: %s)", path, strerror(e));
		} else if (e == EAGAIN || e == ETIMEDOUT) {
			*code = E_UNAVAILABLE;
			*cause = xasprintf("dsrd is busy (cannot connect to "
			    "%s: %s)", path, strerror(e));
		} else {
			*code = E_UNAVAILABLE;
			*cause = xasprintf("dsrd is not running (cannot "
			    "connect to %s: %s)", path, strerror(e));
		}
		return -1;
	}
	return fd;
}

/* struct ctl_link is in dsrctl.h: ctl-ropa.c sends its batches on one. */

int
ctl_open(struct ctl_link *l, const char *path, int *code, char **cause)
{
	memset(l, 0, sizeof *l);
	l->timeout = ctl_timeout_ms();
	l->next_id = 1;
	buf_init(&l->in);
	if ((l->fd = ctl_connect(path, l->timeout, code, cause)) == -1)
		return -1;
	return 0;
}

void
ctl_close(struct ctl_link *l)
{
	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
	buf_free(&l->in);
}

/*
 * Sends line + LF. Returns 0, or -1 with the error code to report and why;
 * after a failure the link is good only for ctl_close.
 */
int
ctl_send(struct ctl_link *l, const char *line, int *code, char **cause)
{
	size_t		 sent = 0, len = strlen(line);
	ssize_t		 n;
	struct iovec	 iov[2];

	while (sent < len + 1) {
		struct msghdr	mh = { 0 };

		/* line and its LF without copying a batch of a megabyte */
		iov[0].iov_base = (char *)line + (sent < len ? sent : len);
		iov[0].iov_len = sent < len ? len - sent : 0;
		iov[1].iov_base = (char *)"\n";
		iov[1].iov_len = 1;
		mh.msg_iov = iov;
		mh.msg_iovlen = 2;
		n = sendmsg(l->fd, &mh, MSG_NOSIGNAL);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EPIPE || errno == ECONNRESET))
			break;	/* it may have said why before closing */
		if (n == -1) {
			*code = E_UNAVAILABLE;
			*cause = xasprintf("cannot send to dsrd: %s",
			    errno == EAGAIN ? "timed out" : strerror(errno));
			return -1;
		}
		sent += (size_t)n;
	}
	return 0;
}

/* Reads the next answer line into reply (LF dropped). As ctl_send. */
int
ctl_recv(struct ctl_link *l, struct buf *reply, int *code, char **cause)
{
	long long	 deadline = mono_ms() + l->timeout;
	size_t		 scanned = 0, linelen;
	ssize_t		 n;
	char		 chunk[16384];

	for (;;) {
		struct pollfd	 pfd = { .fd = l->fd, .events = POLLIN };
		long long	 left = deadline - mono_ms();
		int		 rc;

		/* Scan only the new bytes: replies may be megabytes. */
		switch (l->in.len == scanned ? PROTO_FRAME_MORE :
		    proto_frame(l->in.data + scanned, l->in.len - scanned,
		    CTL_MAX_REPLY - scanned, &linelen)) {
		case PROTO_FRAME_LINE:
			buf_add(reply, l->in.data, scanned + linelen);
			buf_consume(&l->in, scanned + linelen + 1);
			return 0;
		case PROTO_FRAME_TOO_BIG:
			*code = E_UNAVAILABLE;
			*cause = xasprintf("answer from dsrd over %zu bytes",
			    CTL_MAX_REPLY);
			return -1;
		case PROTO_FRAME_MORE:
			scanned = l->in.len;
			break;
		}
		if (left <= 0 ||
		    (rc = poll(&pfd, 1, (int)left)) == 0) {
			*code = E_UNAVAILABLE;
			*cause = xasprintf("no answer from dsrd in %d s",
			    l->timeout / 1000);
			return -1;
		}
		if (rc == -1) {
			if (errno == EINTR)
				continue;
			*code = E_UNAVAILABLE;
			*cause = xasprintf("poll: %s", strerror(errno));
			return -1;
		}
		n = read(l->fd, chunk, sizeof chunk);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			*code = E_UNAVAILABLE;
			*cause = n == 0 || errno == ECONNRESET ?
			    xstrdup("dsrd closed the connection without "
			    "answering") :
			    xasprintf("cannot read from dsrd: %s",
			    strerror(errno));
			return -1;
		}
		buf_add(&l->in, chunk, (size_t)n);
	}
}

/* One request and its answer. As ctl_send. */
int
ctl_exchange(struct ctl_link *l, const char *line, struct buf *reply,
    int *code, char **cause)
{
	if (ctl_send(l, line, code, cause) == -1)
		return -1;
	return ctl_recv(l, reply, code, cause);
}

/* One request on a connection of its own. */
int
ctl_call(const char *path, const char *line, struct buf *reply, int *code,
    char **cause)
{
	struct ctl_link	l;
	int		rc;

	if (ctl_open(&l, path, code, cause) == -1) {
		buf_free(&l.in);
		return -1;
	}
	rc = ctl_exchange(&l, line, reply, code, cause);
	ctl_close(&l);
	return rc;
}

/*
 * Splits dsrd's answer line: 0 and *res (the caller owns it), or -1 and
 * *err, dsrd's error object or one made here for a malformed answer.
 */
int
rpc_split(const struct buf *reply, cJSON **res, cJSON **err)
{
	cJSON	*resp;

	*res = *err = NULL;
	resp = cJSON_ParseWithLength(reply->data, reply->len);
	if (cJSON_IsObject(resp)) {
		if (jget(resp, "error") != NULL)
			*err = cJSON_DetachItemFromObjectCaseSensitive(resp,
			    "error");
		else if (jget(resp, "result") != NULL)
			*res = cJSON_DetachItemFromObjectCaseSensitive(resp,
			    "result");
	}
	if (*err == NULL && *res == NULL)
		*err = error_obj(E_UNAVAILABLE, cJSON_IsObject(resp) ?
		    "malformed answer from dsrd (neither result nor error)" :
		    "malformed answer from dsrd (not a JSON object)");
	cJSON_Delete(resp);
	return *res != NULL ? 0 : -1;
}
