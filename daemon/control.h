/*
 * control.h: the Unix-socket listener and its connections: framing of
 * JSON-RPC lines, peer credentials, limits. It hands each complete line to
 * cmd.c and knows nothing of methods; it never blocks and never lets one
 * client's state (a huge message, a stalled reader) touch another's.
 */
#ifndef DSR_CONTROL_H
#define DSR_CONTROL_H

#include <stddef.h>
#include <sys/types.h>

#include "lifecycle.h"

struct event_base;
struct ctl;
struct ctl_conn;
struct cmd;


/* Who is on the other end of a connection (from SO_PEERCRED). */
struct caller {
	uid_t		 uid;
	gid_t		 gid;
	pid_t		 pid;
	char		 user[64];	/* user name, or the uid in decimal */
	enum role	 role;
};


/*
 * Refuses when a live daemon already answers on path; removes a stale socket
 * file; binds, sets the mode, listens. Returns NULL and *cause on failure.
 */
struct ctl	*ctl_listen(struct event_base *, const char *path, int mode,
		    char **cause);
/* Closes the listener and unlinks the socket; connections stay. */
void		 ctl_stop_accepting(struct ctl *);
/* Closes every connection and frees everything. */
void		 ctl_free(struct ctl *);
/* Connections with a command in flight. */
int		 ctl_busy(const struct ctl *);
int		 ctl_nconns(const struct ctl *);
/* Connections with answers not yet written to the socket: shutdown waits
   for them, since an answer is the only proof of a commit a client has. */
int		 ctl_unsent(const struct ctl *);

/* For cmd.c: the connection's command in flight, and its answer. */
void		 ctl_conn_set_cmd(struct ctl_conn *, struct cmd *);
void		 ctl_conn_send(struct ctl_conn *, const char *, size_t);
/* The command is finished: go on with the next line. */
void		 ctl_conn_done(struct ctl_conn *);

#endif
