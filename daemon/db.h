/*
 * db.h: the asynchronous PostgreSQL engine. A small pool of libpq
 * connections driven by the libevent loop: non-blocking connect with our own
 * timeout, one query in flight per connection and a FIFO behind the pool,
 * transactions pinned to one connection, reconnection with capped
 * exponential backoff and jitter. It knows nothing of requests or bodies.
 * It must never block: no PQexec, no PQconnectdb, no blocking flush.
 *
 * Callbacks run from the event loop, once per query, always (success, SQL
 * error or connection lost), and never from inside the call that queued the
 * query. A callback may queue further queries.
 */
#ifndef DSR_DB_H
#define DSR_DB_H

#include <libpq-fe.h>

struct event_base;
struct db;
struct db_txn;

struct db_res {
	int		 ok;		/* the statement succeeded */
	int		 unavailable;	/* no connection, or it was lost */
	const char	*sqlstate;	/* SQL error: its SQLSTATE, else NULL */
	const char	*message;	/* error text for logs, else NULL */
	PGresult	*pg;		/* on success; owned by db, valid only
					   during the callback */
};

typedef void	db_cb(const struct db_res *, void *arg);
/* txn is NULL when BEGIN failed (res says why). */
typedef void	db_begin_cb(struct db_txn *txn, const struct db_res *,
		    void *arg);
/* Called when the first connection comes up (up = 1) and when the last one
   goes down (up = 0). */
typedef void	db_state_cb(int up, void *arg);

/* Starts connecting at once. conninfo is any libpq connection string. */
struct db	*db_new(struct event_base *, const char *conninfo, int pool_size,
		    db_state_cb *, void *arg);
/*
 * Closes every connection; queued and in-flight queries get their callback
 * with unavailable set before db_free returns. Open transactions are rolled
 * back by the server when their connection closes.
 */
void		 db_free(struct db *);
int		 db_is_up(const struct db *);
/* Queries queued or in flight, transactions open. 0 when idle. */
int		 db_pending(const struct db *);

/*
 * One statement in autocommit on any free connection. Parameters are text,
 * NULL for SQL NULL; nparams < 0 sends sql with the simple query protocol
 * (several statements, no parameters: for migrations only). When no
 * connection is up the callback gets unavailable (on the next loop pass).
 */
void		 db_query(struct db *, const char *sql, int nparams,
		    const char *const *params, db_cb *, void *arg);

/*
 * db_query for a hot statement: prepared once on each connection, the
 * first time it runs there, and only executed after that, so PostgreSQL
 * plans it once per session instead of on every call. name must live as
 * long as the db (a string literal) and always name the same sql. On a
 * connection where a prepared statement goes missing (a pooler in
 * between, DISCARD ALL) the statement runs once more, unprepared, and that
 * connection prepares nothing more.
 */
void		 db_query_named(struct db *, const char *name, const char *sql,
		    int nparams, const char *const *params, db_cb *,
		    void *arg);

/*
 * A transaction pinned to one connection: BEGIN is sent and cb gets the
 * handle. The owner then sends statements one at a time (the next from the
 * previous one's callback) and ends it with exactly one db_txn_commit or
 * db_txn_rollback, also after an error, which frees the handle. If the
 * connection is lost, pending and later statements get unavailable.
 */
void		 db_begin(struct db *, db_begin_cb *, void *arg);
void		 db_txn_query(struct db_txn *, const char *sql, int nparams,
		    const char *const *params, db_cb *, void *arg);
/* cb may be NULL. The handle is freed once COMMIT is answered. */
void		 db_txn_commit(struct db_txn *, db_cb *, void *arg);
void		 db_txn_rollback(struct db_txn *);

/* Convenience accessors for a successful result. */
int		 db_ntuples(const struct db_res *);
/* The value, or NULL for SQL NULL. */
const char	*db_value(const struct db_res *, int row, int col);

#endif
