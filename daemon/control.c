/*
 * control.c: the Unix-socket listener and its connections. It frames
 * JSON-RPC lines (at most PROTO_MAX_MESSAGE bytes), learns who the peer is
 * from the kernel (SO_PEERCRED) and maps it to a role through [access], and
 * hands one line at a time to cmd.c, so that answers go out in order. It
 * never blocks, never trusts a byte it reads, and never frees a connection
 * whose command is still running without detaching the command first.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "cmd.h"
#include "control.h"
#include "dsrd.h"
#include "log.h"
#include "proto.h"
#include "util.h"

/* Answers queued for a client before it must read some. */
#define CTL_MAX_OUTPUT	(4 * 1024 * 1024)

struct ctl_conn {
	struct ctl		*ctl;
	struct bufferevent	*bev;
	struct event		*resume;	/* go on with buffered lines */
	struct caller		 caller;
	struct cmd		*cmd;		/* in flight, or NULL */
	size_t			 scanned;	/* bytes known to hold no LF */
	int			 closing;	/* close once output is sent */
	struct ctl_conn		*prev, *next;
};

struct ctl {
	struct event_base	*base;
	struct evconnlistener	*listener;
	char			*path;
	struct ctl_conn		*conns;
	int			 nconns;
};

/* Whether a comma list of names and @groups names this user. */
static int
access_match(const char *list, const char *user, gid_t *groups, int ngroups)
{
	char	*copy, *item, *save = NULL;
	int	 found = 0;

	if (list == NULL || *list == '\0')
		return 0;
	copy = xstrdup(list);
	for (item = strtok_r(copy, ",", &save); item != NULL && !found;
	    item = strtok_r(NULL, ",", &save)) {
		item = str_trim(item);
		if (*item == '@') {
			struct group	 gr, *res = NULL;
			char		 gbuf[4096];

			if (getgrnam_r(item + 1, &gr, gbuf, sizeof gbuf,
			    &res) != 0 || res == NULL)
				continue;
			for (int i = 0; i < ngroups; i++)
				if (groups[i] == gr.gr_gid)
					found = 1;
		} else if (strcmp(item, user) == 0)
			found = 1;
	}
	free(copy);
	return found;
}

/* The most powerful role [access] gives this peer. */
static enum role
access_role(const struct caller *c)
{
	struct passwd	 pw, *res = NULL;
	char		 pbuf[4096];
	gid_t		 groups[256];
	int		 ngroups = nitems(groups);
	const struct config *cfg = &app.cfg;

	if (c->uid == 0 || c->uid == geteuid())
		return ROLE_ADMIN;
	groups[0] = c->gid;
	ngroups = 1;
	if (getpwuid_r(c->uid, &pw, pbuf, sizeof pbuf, &res) == 0 &&
	    res != NULL) {
		ngroups = nitems(groups);
		if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &ngroups) < 0)
			ngroups = nitems(groups);
	}
	if (access_match(cfg->access_dpo, c->user, groups, ngroups))
		return ROLE_DPO;
	if (access_match(cfg->access_clerk, c->user, groups, ngroups))
		return ROLE_CLERK;
	if (access_match(cfg->access_staff, c->user, groups, ngroups))
		return ROLE_STAFF;
	if (access_match(cfg->access_operator, c->user, groups, ngroups))
		return ROLE_OPERATOR;
	return ROLE_NONE;
}

static void
conn_free(struct ctl_conn *conn)
{
	struct ctl	*ctl = conn->ctl;

	if (conn->cmd != NULL)
		cmd_detach(conn->cmd);
	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		ctl->conns = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	ctl->nconns--;
	event_free(conn->resume);
	bufferevent_free(conn->bev);
	free(conn);
}

static void	conn_process(struct ctl_conn *);
static void	conn_close_with(struct ctl_conn *, int, const char *);

static void
conn_read_cb(struct bufferevent *bev, void *arg)
{
	(void)bev;
	conn_process(arg);
}

static void
conn_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_process(arg);
}

static void
conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct ctl_conn	*conn = arg;

	if (conn->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		conn_free(conn);
		return;
	}
	/* A client that reads its answers again gets the next ones. */
	if (!conn->closing && conn->cmd == NULL)
		conn_process(conn);
}

static void
conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ctl_conn	*conn = arg;

	(void)bev;
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING)) {
		/* Idle: no request for idle_timeout seconds. A client waiting
		   for an answer is not idle. */
		if (conn->cmd != NULL || conn->closing) {
			bufferevent_enable(conn->bev, EV_READ);
			return;
		}
		log_info("client uid %u idle for %d s: disconnected",
		    (unsigned)conn->caller.uid, app.cfg.idle_timeout);
		conn_close_with(conn, E_LIMIT, "idle timeout: connection closed");
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		if (conn->cmd != NULL)
			log_debug("client uid %u left with a command in flight",
			    (unsigned)conn->caller.uid);
		conn_free(conn);
	}
}

/* Sends a last error line and closes once it is written. */
static void
conn_close_with(struct ctl_conn *conn, int code, const char *msg)
{
	char	*line = cmd_error_line(code, msg);

	bufferevent_write(conn->bev, line, strlen(line));
	free(line);
	conn->closing = 1;
	bufferevent_disable(conn->bev, EV_READ);
	/* Whatever else the client sends is dropped unread. */
	evbuffer_drain(bufferevent_get_input(conn->bev),
	    evbuffer_get_length(bufferevent_get_input(conn->bev)));
}

/* Runs buffered lines, one at a time, while no command is in flight. */
static void
conn_process(struct ctl_conn *conn)
{
	struct evbuffer		*in = bufferevent_get_input(conn->bev);
	struct evbuffer_ptr	 pos, start;
	size_t			 len, eol_len;
	char			*line;

	while (conn->cmd == NULL && !conn->closing) {
		/* A client that does not read its answers gets no more until
		   it does: its output may not grow without bound. */
		if (evbuffer_get_length(bufferevent_get_output(conn->bev)) >
		    CTL_MAX_OUTPUT)
			return;
		len = evbuffer_get_length(in);
		if (len == 0)
			return;
		if (evbuffer_ptr_set(in, &start, conn->scanned,
		    EVBUFFER_PTR_SET) != 0)
			return;
		pos = evbuffer_search_eol(in, &start, &eol_len, EVBUFFER_EOL_LF);
		if (pos.pos < 0) {
			conn->scanned = len;
			if (len > PROTO_MAX_MESSAGE) {
				log_warn("client uid %u sent a message over %d "
				    "bytes: disconnected",
				    (unsigned)conn->caller.uid, PROTO_MAX_MESSAGE);
				conn_close_with(conn, E_TOO_LARGE,
				    "message too large (limit 1048576 bytes)");
			}
			return;
		}
		conn->scanned = 0;
		if ((size_t)pos.pos > PROTO_MAX_MESSAGE) {
			log_warn("client uid %u sent a message over %d bytes: "
			    "disconnected", (unsigned)conn->caller.uid,
			    PROTO_MAX_MESSAGE);
			conn_close_with(conn, E_TOO_LARGE,
			    "message too large (limit 1048576 bytes)");
			return;
		}
		line = xmalloc((size_t)pos.pos + 1);
		evbuffer_remove(in, line, (size_t)pos.pos);
		line[pos.pos] = '\0';
		evbuffer_drain(in, eol_len);
		len = (size_t)pos.pos;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		/* Blank lines are keep-alives, not requests. */
		if (len == 0 || strspn(line, " \t\r") == len) {
			free(line);
			continue;
		}
		if (app.shutting_down) {
			free(line);
			conn_close_with(conn, E_UNAVAILABLE,
			    "dsrd is shutting down");
			return;
		}
		cmd_run_line(conn, &conn->caller, line, len);
		free(line);
	}
}

void
ctl_conn_set_cmd(struct ctl_conn *conn, struct cmd *cmd)
{
	conn->cmd = cmd;
}

void
ctl_conn_send(struct ctl_conn *conn, const char *data, size_t len)
{
	ssize_t	 n;

	/*
	 * With nothing queued before it, the answer goes out at once: a
	 * client reading its answers takes it whole, and the bufferevent is
	 * spared turning EPOLLOUT on, a loop pass and turning it off again
	 * (three system calls and a wake-up for every answer). Whatever the
	 * socket does not take, or any error, is the bufferevent's to handle
	 * as before.
	 */
	if (!conn->closing &&
	    evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0) {
		n = send(bufferevent_getfd(conn->bev), data, len,
		    MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		}
		if (len == 0)
			return;
	}
	bufferevent_write(conn->bev, data, len);
}

void
ctl_conn_done(struct ctl_conn *conn)
{
	conn->cmd = NULL;
	/* The idle clock starts again from the answer, not from the last
	   byte the client sent before a slow command. */
	if (app.cfg.idle_timeout > 0 && !conn->closing) {
		struct timeval idle = { app.cfg.idle_timeout, 0 };

		bufferevent_set_timeouts(conn->bev, &idle, NULL);
	}
	/* Not conn_process() here: we may be deep inside the handler. */
	event_active(conn->resume, EV_TIMEOUT, 0);
}

/* Connections of one uid. */
static int
uid_conns(const struct ctl *ctl, uid_t uid)
{
	int	n = 0;

	for (const struct ctl_conn *c = ctl->conns; c != NULL; c = c->next)
		if (c->caller.uid == uid && !c->closing)
			n++;
	return n;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct ctl		*ctl = arg;
	struct ctl_conn		*conn;
	struct ucred		 cred;
	socklen_t		 credlen = sizeof cred;
	struct passwd		 pw, *res = NULL;
	char			 pbuf[4096];

	(void)l;
	(void)sa;
	(void)salen;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &credlen) != 0) {
		log_warn("SO_PEERCRED: %s", strerror(errno));
		close(fd);
		return;
	}
	conn = xcalloc(1, sizeof *conn);
	conn->ctl = ctl;
	conn->caller.uid = cred.uid;
	conn->caller.gid = cred.gid;
	conn->caller.pid = cred.pid;
	if (getpwuid_r(cred.uid, &pw, pbuf, sizeof pbuf, &res) == 0 &&
	    res != NULL)
		snprintf(conn->caller.user, sizeof conn->caller.user, "%s",
		    pw.pw_name);
	else
		snprintf(conn->caller.user, sizeof conn->caller.user, "%u",
		    (unsigned)cred.uid);
	conn->caller.role = access_role(&conn->caller);
	conn->bev = bufferevent_socket_new(ctl->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (conn->bev == NULL)
		fatalx("bufferevent_socket_new failed");
	conn->resume = event_new(ctl->base, -1, 0, conn_resume_cb, conn);
	bufferevent_setcb(conn->bev, conn_read_cb, conn_write_cb, conn_event_cb,
	    conn);
	conn->next = ctl->conns;
	if (ctl->conns != NULL)
		ctl->conns->prev = conn;
	ctl->conns = conn;
	ctl->nconns++;

	if (conn->caller.role == ROLE_NONE) {
		log_warn("refused connection from uid %u (%s): no role in "
		    "[access]", (unsigned)cred.uid, conn->caller.user);
		conn_close_with(conn, E_PERMISSION, "permission denied: "
		    "this user has no role in dsrd's [access] configuration");
		bufferevent_enable(conn->bev, EV_WRITE);
		return;
	}
	if (app.cfg.max_clients > 0 && ctl->nconns > app.cfg.max_clients) {
		log_warn("refused connection from uid %u: max_clients (%d) "
		    "reached", (unsigned)cred.uid, app.cfg.max_clients);
		conn_close_with(conn, E_LIMIT, "too many clients, try again");
		bufferevent_enable(conn->bev, EV_WRITE);
		return;
	}
	if (app.cfg.max_clients_per_uid > 0 && conn->caller.role != ROLE_ADMIN &&
	    uid_conns(ctl, cred.uid) > app.cfg.max_clients_per_uid) {
		log_warn("refused connection from uid %u: max_clients_per_uid "
		    "(%d) reached", (unsigned)cred.uid,
		    app.cfg.max_clients_per_uid);
		conn_close_with(conn, E_LIMIT, "too many connections from this "
		    "user, try again");
		bufferevent_enable(conn->bev, EV_WRITE);
		return;
	}
	/* Reading stops while this much waits unprocessed (a command in
	   flight): memory per client is bounded, one message fits. */
	bufferevent_setwatermark(conn->bev, EV_READ, 0, PROTO_MAX_MESSAGE + 2);
	if (app.cfg.idle_timeout > 0) {
		struct timeval idle = { app.cfg.idle_timeout, 0 };

		bufferevent_set_timeouts(conn->bev, &idle, NULL);
	}
	log_debug("connection from uid %u (%s, %s)", (unsigned)cred.uid,
	    conn->caller.user, role_names[conn->caller.role]);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
}

/* Whether something answers on the socket path. */
static int
socket_alive(const char *path)
{
	struct sockaddr_un	 sun;
	int			 fd, alive;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	alive = connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
	close(fd);
	return alive;
}

struct ctl *
ctl_listen(struct event_base *base, const char *path, int mode, char **cause)
{
	struct sockaddr_un	 sun;
	struct ctl		*ctl;
	struct stat		 st;
	int			 fd;
	mode_t			 old;

	if (strlen(path) >= sizeof sun.sun_path) {
		*cause = xasprintf("socket path too long: %s", path);
		return NULL;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			*cause = xasprintf("%s exists and is not a socket", path);
			return NULL;
		}
		if (socket_alive(path)) {
			*cause = xasprintf("another dsrd is already running on %s",
			    path);
			return NULL;
		}
		log_info("removing stale socket %s", path);
		if (unlink(path) != 0 && errno != ENOENT) {
			*cause = xasprintf("unlink %s: %s", path, strerror(errno));
			return NULL;
		}
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		*cause = xasprintf("socket: %s", strerror(errno));
		return NULL;
	}
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
	/* No window in which the socket exists with looser permissions. */
	old = umask(0777 & ~(mode_t)mode);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) != 0) {
		umask(old);
		*cause = xasprintf("bind %s: %s", path, strerror(errno));
		close(fd);
		return NULL;
	}
	umask(old);
	if (chmod(path, (mode_t)mode) != 0) {
		*cause = xasprintf("chmod %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return NULL;
	}
	ctl = xcalloc(1, sizeof *ctl);
	ctl->base = base;
	ctl->path = xstrdup(path);
	ctl->listener = evconnlistener_new(base, accept_cb, ctl,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 128, fd);
	if (ctl->listener == NULL) {
		*cause = xasprintf("listen %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		free(ctl->path);
		free(ctl);
		return NULL;
	}
	return ctl;
}

void
ctl_stop_accepting(struct ctl *ctl)
{
	if (ctl->listener == NULL)
		return;
	evconnlistener_free(ctl->listener);
	ctl->listener = NULL;
	unlink(ctl->path);
}

void
ctl_free(struct ctl *ctl)
{
	ctl_stop_accepting(ctl);
	while (ctl->conns != NULL)
		conn_free(ctl->conns);
	free(ctl->path);
	free(ctl);
}

int
ctl_busy(const struct ctl *ctl)
{
	int	n = 0;

	for (struct ctl_conn *c = ctl->conns; c != NULL; c = c->next)
		if (c->cmd != NULL)
			n++;
	return n;
}

int
ctl_unsent(const struct ctl *ctl)
{
	int	n = 0;

	for (struct ctl_conn *c = ctl->conns; c != NULL; c = c->next)
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
			n++;
	return n;
}

int
ctl_nconns(const struct ctl *ctl)
{
	return ctl->nconns;
}
