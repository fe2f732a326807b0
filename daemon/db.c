/*
 * db.c: the asynchronous PostgreSQL engine behind db.h. A fixed pool of
 * libpq connections, each driven from the libevent loop: non-blocking
 * connect (PQconnectStartParams + PQconnectPoll, with our own timeout since
 * libpq ignores connect_timeout in poll mode), one statement in flight per
 * connection, a global FIFO of work behind the pool, a private FIFO per
 * connection for the transaction pinned to it, and reconnection with capped
 * exponential backoff and jitter.
 *
 * It must never block (no PQexec, no PQconnectdb, no blocking flush), never
 * call a query's callback from inside the call that queued it (failures found
 * there are deferred to the next loop pass), never log the conninfo (it may
 * carry a password) nor query parameters (they may carry personal data).
 *
 * Reentrancy rules: any callback (query, begin, commit, state) may queue
 * queries, begin, commit or roll back transactions. No callback may call
 * db_free; db_free runs from outside callbacks, at shutdown, and is the one
 * place that calls callbacks synchronously.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/event_struct.h>
#include <libpq-fe.h>

#include "db.h"
#include "log.h"
#include "util.h"

#define DB_POOL_MAX		32
#define DB_CONNECT_TIMEOUT_MS	10000
#define DB_BACKOFF_MIN_MS	100
#define DB_BACKOFF_MAX_MS	5000
/* Named statements a connection keeps prepared (db_query_named). */
#define DB_MAX_PREPARED		32

static const char db_unavailable_msg[] = "database unavailable";

enum db_item_kind {
	ITEM_QUERY,		/* autocommit statement, global FIFO */
	ITEM_BEGIN,		/* BEGIN that pins its connection */
	ITEM_TXNQ,		/* statement of an open transaction */
	ITEM_COMMIT,
	ITEM_ROLLBACK,		/* no callback; result ignored */
	ITEM_STATE,		/* deferred state callback, no SQL */
};

/* One unit of work: a statement and the callback waiting for it. */
struct db_item {
	enum db_item_kind	 kind;
	char			*sql;
	int			 nparams;
	char			**params;
	db_cb			*cb;
	db_begin_cb		*bcb;
	void			*arg;
	struct db_txn		*txn;	/* BEGIN and COMMIT */
	int			 up;	/* ITEM_STATE */
	/* db_query_named: the statement's name, and where it stands. */
	const char		*name;
	int			 preparing;	/* PQsendPrepare in flight */
	int			 retried;	/* sent again, unnamed */
	/* A deferred failure that is not "unavailable" (send refused). */
	char			*error;
	struct db_item		*next;
};

struct db_fifo {
	struct db_item	*first;
	struct db_item	*last;
};

enum db_conn_state {
	CONN_DOWN,		/* waiting for the reconnect timer */
	CONN_CONNECTING,
	CONN_UP,		/* idle when cur is NULL */
};

struct db_conn {
	struct db		*db;
	int			 id;
	enum db_conn_state	 state;
	PGconn			*pg;
	struct event		 io;
	int			 io_set;	/* assigned and added */
	int			 io_fd;
	short			 io_what;
	/* The connect timeout, or the reconnect delay. */
	struct event		 timer;
	int			 backoff_ms;
	/* The last attempt failed: log further failures quietly. */
	int			 failing;
	int			 flushing;	/* PQflush returned 1 */
	struct db_item		*cur;		/* in flight */
	PGresult		*res;		/* being collected */
	int			 pinned;	/* a transaction owns it */
	/* That transaction; NULL once rolled back or committed. */
	struct db_txn		*txn;
	struct db_fifo		 txq;		/* its work */
	/* Statements prepared on this session (db_query_named); none once
	   one went missing under us (a pooler, DISCARD ALL). */
	const char		*prepared[DB_MAX_PREPARED];
	int			 nprepared;
	int			 no_prepare;
};

struct db_txn {
	struct db		*db;
	struct db_conn		*conn;		/* NULL once dead */
	int			 open;		/* handed out */
	struct db_txn		*prev;
	struct db_txn		*next;
};

struct db {
	struct event_base	*base;
	char			*conninfo;
	db_state_cb		*state_cb;
	void			*state_arg;
	int			 npool;
	struct db_conn		 pool[DB_POOL_MAX];
	int			 nlive;		/* CONN_UP */
	struct db_fifo		 queue;		/* for any conn */
	/* Failures and state calls for the next loop pass. */
	struct db_fifo		 deferred;
	struct event		 defer_ev;
	int			 nitems;	/* not yet answered */
	int			 ntxn;		/* open handles */
	struct db_txn		*txns;
	uint64_t		 rng;
	int			 closing;
};

static void	conn_start(struct db_conn *);
static void	conn_lost(struct db_conn *, const char *);
static void	conn_next(struct db_conn *);
static void	conn_io_cb(evutil_socket_t, short, void *);

/* FIFO of items: O(1) push and pop. */
static void
fifo_push(struct db_fifo *f, struct db_item *it)
{
	it->next = NULL;
	if (f->last != NULL)
		f->last->next = it;
	else
		f->first = it;
	f->last = it;
}

static struct db_item *
fifo_pop(struct db_fifo *f)
{
	struct db_item	*it = f->first;

	if (it != NULL) {
		f->first = it->next;
		if (f->first == NULL)
			f->last = NULL;
		it->next = NULL;
	}
	return it;
}

/* Moves every item of src to the end of dst. */
static void
fifo_splice(struct db_fifo *dst, struct db_fifo *src)
{
	if (src->first == NULL)
		return;
	if (dst->last != NULL)
		dst->last->next = src->first;
	else
		dst->first = src->first;
	dst->last = src->last;
	src->first = src->last = NULL;
}

/* Copies the first line of a libpq message, trimmed, into out (for logs). */
static const char *
pg_msg(const char *s, char *out, size_t n)
{
	size_t	 len;

	if (s == NULL)
		s = "";
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	/* The first line says what happened; the rest is advice. */
	len = strcspn(s, "\n");
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' ||
	    s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	if (len >= n)
		len = n - 1;
	memcpy(out, s, len);
	out[len] = '\0';
	if (*out == '\0')
		return "unknown error";
	return out;
}

/* The caller owns the item; it is counted as pending until item_free. */
static struct db_item *
item_new(struct db *db, enum db_item_kind kind, const char *sql, int nparams,
    const char *const *params)
{
	struct db_item	*it = xcalloc(1, sizeof *it);

	it->kind = kind;
	it->nparams = nparams;
	if (sql != NULL)
		it->sql = xstrdup(sql);
	if (nparams > 0) {
		it->params = xcalloc((size_t)nparams, sizeof *it->params);
		for (int i = 0; i < nparams; i++)
			if (params != NULL && params[i] != NULL)
				it->params[i] = xstrdup(params[i]);
	}
	if (kind != ITEM_STATE)
		db->nitems++;
	return it;
}

static void
item_free(struct db *db, struct db_item *it)
{
	if (it->kind != ITEM_STATE)
		db->nitems--;
	for (int i = 0; i < it->nparams; i++)
		free(it->params[i]);
	free(it->params);
	free(it->sql);
	free(it->error);
	free(it);
}

static void
txn_link(struct db *db, struct db_txn *txn)
{
	txn->open = 1;
	txn->prev = NULL;
	txn->next = db->txns;
	if (db->txns != NULL)
		db->txns->prev = txn;
	db->txns = txn;
	db->ntxn++;
}

/* Frees a transaction handle, open (linked) or not. */
static void
txn_free(struct db *db, struct db_txn *txn)
{
	if (txn == NULL)
		return;
	if (txn->open) {
		if (txn->prev != NULL)
			txn->prev->next = txn->next;
		else
			db->txns = txn->next;
		if (txn->next != NULL)
			txn->next->prev = txn->prev;
		db->ntxn--;
	}
	if (txn->conn != NULL && txn->conn->txn == txn)
		txn->conn->txn = NULL;
	free(txn);
}

/*
 * Hands an item its answer and settles the transaction bookkeeping that
 * depends on it. The connection side (pinned, cur) is the caller's job.
 */
static void
item_deliver(struct db *db, struct db_item *it, const struct db_res *res)
{
	struct db_txn	*txn = it->txn;

	switch (it->kind) {
	case ITEM_QUERY:
	case ITEM_TXNQ:
		it->cb(res, it->arg);
		break;
	case ITEM_BEGIN:
		if (res->ok) {
			txn_link(db, txn);
			it->bcb(txn, res, it->arg);
		} else {
			txn_free(db, txn);
			it->bcb(NULL, res, it->arg);
		}
		break;
	case ITEM_COMMIT:
		txn_free(db, txn);
		if (it->cb != NULL)
			it->cb(res, it->arg);
		break;
	case ITEM_ROLLBACK:
		break;
	case ITEM_STATE:
		if (db->state_cb != NULL && !db->closing)
			db->state_cb(it->up, db->state_arg);
		break;
	}
}

/* Answers an item that never got a result: unavailable, or its error. */
static void
item_fail(struct db *db, struct db_item *it)
{
	struct db_res	 res = { 0 };

	if (it->error != NULL)
		res.message = it->error;
	else {
		res.unavailable = 1;
		res.message = db_unavailable_msg;
	}
	item_deliver(db, it, &res);
}

static void
defer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db	*db = arg;
	struct db_fifo	 now = db->deferred;
	struct db_item	*it;

	(void)fd;
	(void)what;
	/* Items deferred by these callbacks wait for the next pass. */
	db->deferred.first = db->deferred.last = NULL;
	while ((it = fifo_pop(&now)) != NULL) {
		item_fail(db, it);
		item_free(db, it);
	}
}

/* Schedules an item's failure (or a state call) for the next loop pass. */
static void
defer_item(struct db *db, struct db_item *it)
{
	static const struct timeval	zero = { 0, 0 };

	fifo_push(&db->deferred, it);
	if (!db->closing)
		evtimer_add(&db->defer_ev, &zero);
}

static void
defer_state(struct db *db, int up)
{
	struct db_item	*it = item_new(db, ITEM_STATE, NULL, 0, NULL);

	it->up = up;
	defer_item(db, it);
}

/* Fails every item of a FIFO on the next pass, in order. */
static void
defer_fifo(struct db *db, struct db_fifo *f)
{
	struct db_item	*it;

	while ((it = fifo_pop(f)) != NULL)
		defer_item(db, it);
}

static uint32_t
db_random(struct db *db)
{
	/* xorshift64*: jitter only, no need for quality or secrecy. */
	db->rng ^= db->rng >> 12;
	db->rng ^= db->rng << 25;
	db->rng ^= db->rng >> 27;
	return (uint32_t)((db->rng * 2685821657736338717ULL) >> 32);
}

static void
conn_unwatch(struct db_conn *c)
{
	if (c->io_set) {
		event_del(&c->io);
		c->io_set = 0;
	}
}

/*
 * Watches the connection's socket for what. The socket is re-read every
 * time: libpq may replace it during connection (another host, SSL or GSS
 * fallback).
 */
static int
conn_watch(struct db_conn *c, short what)
{
	int	 fd = PQsocket(c->pg);

	if (fd < 0)
		return -1;
	if (c->io_set && c->io_fd == fd && c->io_what == what)
		return 0;
	conn_unwatch(c);
	event_assign(&c->io, c->db->base, fd, what | EV_PERSIST, conn_io_cb,
	    c);
	if (event_add(&c->io, NULL) != 0)
		return -1;
	c->io_set = 1;
	c->io_fd = fd;
	c->io_what = what;
	return 0;
}

/* Closes the connection (if any) and arms the reconnect timer. */
static void
conn_retry_later(struct db_conn *c)
{
	struct timeval	 tv;
	int		 ms, half;

	conn_unwatch(c);
	evtimer_del(&c->timer);
	if (c->pg != NULL) {
		PQfinish(c->pg);
		c->pg = NULL;
	}
	c->state = CONN_DOWN;
	c->flushing = 0;
	/* Jitter in [backoff/2, backoff], so a pool does not reconnect in
	   lockstep after a server restart. */
	half = c->backoff_ms / 2;
	ms = half + (int)(db_random(c->db) % (uint32_t)(half + 1));
	if (c->backoff_ms < DB_BACKOFF_MAX_MS) {
		c->backoff_ms *= 2;
		if (c->backoff_ms > DB_BACKOFF_MAX_MS)
			c->backoff_ms = DB_BACKOFF_MAX_MS;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(&c->timer, &tv);
}

static void
conn_connect_failed(struct db_conn *c, const char *why)
{
	char	 msg[256];

	if (!c->failing)
		log_warn("db: connection %d failed: %s", c->id,
		    pg_msg(why, msg, sizeof msg));
	else
		log_debug("db: connection %d failed again: %s", c->id,
		    pg_msg(why, msg, sizeof msg));
	c->failing = 1;
	conn_retry_later(c);
}

static void
notice_cb(void *arg, const PGresult *res)
{
	struct db_conn	*c = arg;
	const char	*sev, *state, *primary;

	/* Only the primary text, never DETAIL: that may quote row values. */
	sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	log_debug("db: connection %d: server %s %s: %s", c->id,
	    sev != NULL ? sev : "NOTICE", state != NULL ? state : "-",
	    primary != NULL ? primary : "");
}

static void
conn_connected(struct db_conn *c)
{
	struct db	*db = c->db;

	evtimer_del(&c->timer);
	if (PQsetnonblocking(c->pg, 1) != 0) {
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}
	if (conn_watch(c, EV_READ) != 0) {
		conn_connect_failed(c, "cannot watch the socket");
		return;
	}
	c->state = CONN_UP;
	c->nprepared = 0;	/* a new session has none */
	c->no_prepare = 0;
	c->backoff_ms = DB_BACKOFF_MIN_MS;
	c->failing = 0;
	log_info("db: connection %d up (server %d, backend %d)", c->id,
	    PQserverVersion(c->pg), PQbackendPID(c->pg));
	if (++db->nlive == 1)
		defer_state(db, 1);
	conn_next(c);
}

/* One PQconnectPoll step; the socket may change under us. */
static void
conn_connect_step(struct db_conn *c)
{
	switch (PQconnectPoll(c->pg)) {
	case PGRES_POLLING_READING:
		if (conn_watch(c, EV_READ) != 0)
			conn_connect_failed(c, PQerrorMessage(c->pg));
		break;
	case PGRES_POLLING_WRITING:
	case PGRES_POLLING_ACTIVE:
		if (conn_watch(c, EV_WRITE) != 0)
			conn_connect_failed(c, PQerrorMessage(c->pg));
		break;
	case PGRES_POLLING_OK:
		conn_connected(c);
		break;
	case PGRES_POLLING_FAILED:
	default:
		conn_connect_failed(c, PQerrorMessage(c->pg));
		break;
	}
}

static void
conn_start(struct db_conn *c)
{
	static const char *const keys[] = {
		"options", "dbname", "fallback_application_name", NULL
	};
	/*
	 * jit off: dsrd's statements are short, and a row estimate that
	 * grows with the data (a set-returning function, a big outbox) put
	 * 0.5 s of JIT compilation in front of 70 ms of work. "options"
	 * comes before dbname, so that options in conninfo replace it, and
	 * it is left out when PGOPTIONS is set, which then applies as it is.
	 */
	const char	*opts = getenv("PGOPTIONS") == NULL ? "-c jit=off" : NULL;
	const char	*vals[] = { opts, c->db->conninfo, "dsrd", NULL };
	struct timeval	 tv = {
		DB_CONNECT_TIMEOUT_MS / 1000,
		(DB_CONNECT_TIMEOUT_MS % 1000) * 1000
	};

	/* expand_dbname = 1: conninfo may be a keyword string or a URI.
	   libpq resolves a host name with a blocking getaddrinfo(); a Unix
	   socket or hostaddr= avoids that stall. */
	c->pg = PQconnectStartParams(keys, vals, 1);
	if (c->pg == NULL) {
		conn_connect_failed(c, "out of memory");
		return;
	}
	if (PQstatus(c->pg) == CONNECTION_BAD) {
		conn_connect_failed(c, PQerrorMessage(c->pg));
		return;
	}
	PQsetNoticeReceiver(c->pg, notice_cb, c);
	c->state = CONN_CONNECTING;
	evtimer_add(&c->timer, &tv);
	/* As documented: poll as if PQconnectPoll returned WRITING. */
	if (conn_watch(c, EV_WRITE) != 0)
		conn_connect_failed(c, PQerrorMessage(c->pg));
}

static void
conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn	*c = arg;

	(void)fd;
	(void)what;
	if (c->state == CONN_CONNECTING)
		conn_connect_failed(c, "connect timed out");
	else if (c->state == CONN_DOWN)
		conn_start(c);
}

/*
 * The connection is gone: its in-flight and pinned work fails (on the next
 * pass), its transaction is marked dead, and a reconnect is scheduled. When
 * it was the last live one, the global queue fails too and the owner hears
 * that the database is down. Safe to call from anywhere, since it calls no
 * callback itself.
 */
static void
conn_lost(struct db_conn *c, const char *why)
{
	struct db	*db = c->db;
	char		 msg[256];
	int		 was_up = c->state == CONN_UP;

	if (was_up)
		log_warn("db: connection %d lost: %s", c->id,
		    pg_msg(why, msg, sizeof msg));
	if (c->res != NULL) {
		PQclear(c->res);
		c->res = NULL;
	}
	if (c->cur != NULL) {
		defer_item(db, c->cur);
		c->cur = NULL;
	}
	defer_fifo(db, &c->txq);
	if (c->txn != NULL) {
		c->txn->conn = NULL;
		c->txn = NULL;
	}
	c->pinned = 0;
	/* A server that just went away tends to stay away a moment. */
	c->failing = 1;
	conn_retry_later(c);
	if (was_up && --db->nlive == 0) {
		defer_fifo(db, &db->queue);
		defer_state(db, 0);
	}
}

static int
conn_prepared(const struct db_conn *c, const char *name)
{
	for (int i = 0; i < c->nprepared; i++)
		if (c->prepared[i] == name)
			return 1;
	return 0;
}

/* Sends one item; failures are deferred (we may be inside db_query). */
static void
conn_send(struct db_conn *c, struct db_item *it)
{
	int	 ok, r;

	c->cur = it;
	if (it->kind == ITEM_BEGIN) {
		c->pinned = 1;
		c->txn = it->txn;
		it->txn->conn = c;
	}
	if (it->nparams < 0)
		ok = PQsendQuery(c->pg, it->sql);
	else if (it->name != NULL && !c->no_prepare &&
	    conn_prepared(c, it->name))
		ok = PQsendQueryPrepared(c->pg, it->name, it->nparams,
		    (const char *const *)it->params, NULL, NULL, 0);
	else if (it->name != NULL && !c->no_prepare &&
	    c->nprepared < DB_MAX_PREPARED) {
		/* Prepared first; conn_results then sends the execution. */
		it->preparing = 1;
		ok = PQsendPrepare(c->pg, it->name, it->sql, it->nparams,
		    NULL);
	} else
		ok = PQsendQueryParams(c->pg, it->sql, it->nparams, NULL,
		    (const char *const *)it->params, NULL, NULL, 0);
	if (!ok) {
		if (PQstatus(c->pg) == CONNECTION_BAD) {
			conn_lost(c, PQerrorMessage(c->pg));
			return;
		}
		/* Refused but the connection is fine (bad parameter count,
		   out of memory): an error for this item only. */
		it->error = xstrdup(PQerrorMessage(c->pg));
		str_trim(it->error);
		c->cur = NULL;
		if (it->kind == ITEM_BEGIN) {
			c->pinned = 0;
			c->txn = NULL;
			it->txn->conn = NULL;
		}
		defer_item(c->db, it);
		return;
	}
	r = PQflush(c->pg);
	if (r < 0) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	c->flushing = r == 1;
	/* While flushing, libpq may need to read before it can write. */
	if (conn_watch(c, c->flushing ? EV_READ | EV_WRITE : EV_READ) != 0)
		conn_lost(c, "cannot watch the socket");
}

/*
 * Starts the next piece of work on an idle live connection: its pinned
 * transaction's first, else (if not pinned) the global queue's.
 */
static void
conn_next(struct db_conn *c)
{
	struct db_item	*it;

	while (c->state == CONN_UP && c->cur == NULL) {
		if (c->txq.first != NULL)
			it = fifo_pop(&c->txq);
		else if (!c->pinned && c->db->queue.first != NULL)
			it = fifo_pop(&c->db->queue);
		else
			break;
		conn_send(c, it);
	}
}

/*
 * Offers the global queue to every idle connection, always from the first
 * (as PgBouncer reuses its server connections, last in first out): under
 * a light load one PostgreSQL backend does the work and stays hot in the
 * CPU's caches, where turns round the pool woke a different, cold process
 * for every statement; under load every connection is busy either way.
 */
static void
db_kick(struct db *db)
{
	for (int i = 0; i < db->npool && db->queue.first != NULL; i++)
		conn_next(&db->pool[i]);
}

static int
res_failed(const PGresult *r)
{
	switch (PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		return 0;
	default:
		return 1;
	}
}

/* Server errors that mean "this connection is going away". */
static int
sqlstate_is_disconnect(const char *s)
{
	if (s == NULL)
		return 0;
	return strncmp(s, "08", 2) == 0 || strcmp(s, "57P01") == 0 ||
	    strcmp(s, "57P02") == 0 || strcmp(s, "57P03") == 0;
}

/*
 * Collects the in-flight statement's results. The callback runs only after
 * PQgetResult returned NULL, so it may send the next statement on this very
 * connection.
 */
static void
conn_results(struct db_conn *c)
{
	struct db	*db = c->db;
	struct db_item	*it;
	struct db_res	 res = { 0 };
	PGresult	*r;
	char		*msg = NULL;

	for (;;) {
		if (PQisBusy(c->pg)) {
			if (PQstatus(c->pg) == CONNECTION_BAD)
				conn_lost(c, PQerrorMessage(c->pg));
			return;
		}
		r = PQgetResult(c->pg);
		if (r == NULL)
			break;
		/* Keep the first error, else the last result. */
		if (c->res == NULL)
			c->res = r;
		else if (res_failed(c->res))
			PQclear(r);
		else {
			PQclear(c->res);
			c->res = r;
		}
	}
	if (PQstatus(c->pg) == CONNECTION_BAD || c->res == NULL) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	it = c->cur;
	r = c->res;
	c->cur = NULL;
	c->res = NULL;

	/*
	 * A named statement: its PREPARE answered (or it was there already,
	 * 42P05: a pooler handed us a session that has it), so send its
	 * execution now; or its execution found it gone (26000: a pooler, a
	 * DISCARD ALL), so this connection stops naming statements and the
	 * item runs once more, unnamed. Nothing ran twice: a statement that
	 * does not exist executed nothing.
	 */
	if (it->preparing) {
		const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

		it->preparing = 0;
		if (!res_failed(r) || (st != NULL && strcmp(st, "42P05") == 0)) {
			c->prepared[c->nprepared++] = it->name;
			PQclear(r);
			conn_send(c, it);
			return;
		}
	} else if (it->name != NULL && !it->retried && res_failed(r) &&
	    PQresultErrorField(r, PG_DIAG_SQLSTATE) != NULL &&
	    strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), "26000") == 0) {
		log_warn("db: connection %d: a prepared statement went missing "
		    "(a connection pooler?): statements are sent unprepared "
		    "on it from now on", c->id);
		c->no_prepare = 1;
		it->retried = 1;
		PQclear(r);
		conn_send(c, it);
		return;
	}

	if (!res_failed(r)) {
		res.ok = 1;
		res.pg = r;
		/* COMMIT of an aborted transaction answers "ROLLBACK": the
		   owner must not believe its writes were kept. */
		if (it->kind == ITEM_COMMIT &&
		    strcmp(PQcmdStatus(r), "ROLLBACK") == 0) {
			res.ok = 0;
			res.pg = NULL;
			res.sqlstate = "25P02";
			res.message = "transaction was aborted and rolled back";
		}
	} else {
		res.sqlstate = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		msg = xstrdup(PQresultErrorMessage(r));
		res.message = str_trim(msg);
		if (*res.message == '\0')
			res.message = "unknown error";
		if (sqlstate_is_disconnect(res.sqlstate))
			res.unavailable = 1;
	}

	switch (it->kind) {
	case ITEM_BEGIN:
		if (!res.ok) {
			c->pinned = 0;
			c->txn = NULL;
			it->txn->conn = NULL;
		}
		break;
	case ITEM_COMMIT:
	case ITEM_ROLLBACK:
		c->pinned = 0;
		c->txn = NULL;
		break;
	default:
		break;
	}
	item_deliver(db, it, &res);
	PQclear(r);
	free(msg);
	item_free(db, it);
	/* The callback may have sent on c, or c may be gone. */
	conn_next(c);
}

static void
conn_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct db_conn	*c = arg;
	PGnotify	*n;
	int		 r;

	(void)fd;
	if (c->state == CONN_CONNECTING) {
		conn_connect_step(c);
		return;
	}
	if (c->state != CONN_UP)
		return;
	if ((what & EV_READ) && !PQconsumeInput(c->pg)) {
		conn_lost(c, PQerrorMessage(c->pg));
		return;
	}
	if (c->flushing) {
		r = PQflush(c->pg);
		if (r < 0) {
			conn_lost(c, PQerrorMessage(c->pg));
			return;
		}
		if (r == 0) {
			c->flushing = 0;
			if (conn_watch(c, EV_READ) != 0) {
				conn_lost(c, "cannot watch the socket");
				return;
			}
		}
	}
	/* Nobody LISTENs on these connections; drop stray notifications. */
	while ((n = PQnotifies(c->pg)) != NULL)
		PQfreemem(n);
	if (c->cur != NULL) {
		conn_results(c);
		return;
	}
	/* Idle: readable means the server closed or is closing. */
	if (PQstatus(c->pg) == CONNECTION_BAD)
		conn_lost(c, PQerrorMessage(c->pg));
}

struct db *
db_new(struct event_base *base, const char *conninfo, int pool_size,
    db_state_cb *state_cb, void *arg)
{
	struct db	*db = xcalloc(1, sizeof *db);

	if (pool_size < 1)
		pool_size = 1;
	if (pool_size > DB_POOL_MAX)
		pool_size = DB_POOL_MAX;
	db->base = base;
	db->conninfo = xstrdup(conninfo != NULL ? conninfo : "");
	db->state_cb = state_cb;
	db->state_arg = arg;
	db->npool = pool_size;
	db->rng = (uint64_t)mono_ms() ^ ((uint64_t)getpid() << 32) ^
	    (uint64_t)(uintptr_t)db;
	if (db->rng == 0)
		db->rng = 0x9e3779b97f4a7c15ULL;
	evtimer_assign(&db->defer_ev, base, defer_cb, db);
	for (int i = 0; i < pool_size; i++) {
		struct db_conn	*c = &db->pool[i];

		c->db = db;
		c->id = i;
		c->state = CONN_DOWN;
		c->backoff_ms = DB_BACKOFF_MIN_MS;
		evtimer_assign(&c->timer, base, conn_timer_cb, c);
	}
	log_info("db: connecting (pool of %d)", pool_size);
	for (int i = 0; i < pool_size; i++)
		conn_start(&db->pool[i]);
	return db;
}

/*
 * Calls every pending callback synchronously (unavailable), the one
 * exception to "never from inside the call". Callbacks run here may queue
 * more work; it fails the same way, in this same loop. State callbacks are
 * not called any more. Must not be called from a db callback.
 */
void
db_free(struct db *db)
{
	struct db_fifo	 all = { NULL, NULL };
	struct db_item	*it;
	struct db_txn	*txn;

	if (db == NULL)
		return;
	db->closing = 1;
	evtimer_del(&db->defer_ev);
	fifo_splice(&all, &db->deferred);
	for (int i = 0; i < db->npool; i++) {
		struct db_conn	*c = &db->pool[i];

		conn_unwatch(c);
		evtimer_del(&c->timer);
		if (c->res != NULL)
			PQclear(c->res);
		c->res = NULL;
		if (c->pg != NULL)
			PQfinish(c->pg);
		c->pg = NULL;
		c->state = CONN_DOWN;
		if (c->cur != NULL)
			fifo_push(&all, c->cur);
		c->cur = NULL;
		fifo_splice(&all, &c->txq);
		if (c->txn != NULL)
			c->txn->conn = NULL;
		c->txn = NULL;
		c->pinned = 0;
	}
	db->nlive = 0;
	fifo_splice(&all, &db->queue);
	if (all.first != NULL)
		log_info("db: closing with work pending; failing it");
	/* Work queued by these callbacks lands in db->deferred (nothing is
	   up); keep draining until nobody adds more. */
	for (;;) {
		while ((it = fifo_pop(&all)) != NULL) {
			item_fail(db, it);
			item_free(db, it);
		}
		if (db->deferred.first == NULL)
			break;
		fifo_splice(&all, &db->deferred);
	}
	while ((txn = db->txns) != NULL)
		txn_free(db, txn);
	log_info("db: closed");
	free(db->conninfo);
	free(db);
}

int
db_is_up(const struct db *db)
{
	return db->nlive > 0;
}

int
db_pending(const struct db *db)
{
	return db->nitems + db->ntxn;
}

void
db_query(struct db *db, const char *sql, int nparams,
    const char *const *params, db_cb *cb, void *arg)
{
	struct db_item	*it;

	it = item_new(db, ITEM_QUERY, sql, nparams, params);
	it->cb = cb;
	it->arg = arg;
	/* Nothing up: fail now rather than queue behind a dead server. */
	if (db->nlive == 0 || db->closing) {
		defer_item(db, it);
		return;
	}
	fifo_push(&db->queue, it);
	db_kick(db);
}

void
db_query_named(struct db *db, const char *name, const char *sql,
    int nparams, const char *const *params, db_cb *cb, void *arg)
{
	struct db_item	*it;

	it = item_new(db, ITEM_QUERY, sql, nparams, params);
	it->name = name;
	it->cb = cb;
	it->arg = arg;
	if (db->nlive == 0 || db->closing) {
		defer_item(db, it);
		return;
	}
	fifo_push(&db->queue, it);
	db_kick(db);
}

void
db_begin(struct db *db, db_begin_cb *cb, void *arg)
{
	struct db_item	*it = item_new(db, ITEM_BEGIN, "BEGIN", 0, NULL);

	it->bcb = cb;
	it->arg = arg;
	it->txn = xcalloc(1, sizeof *it->txn);
	it->txn->db = db;
	if (db->nlive == 0 || db->closing) {
		defer_item(db, it);
		return;
	}
	fifo_push(&db->queue, it);
	db_kick(db);
}

/* Queues work on the transaction's connection, or fails it if dead. */
static void
txn_push(struct db_txn *txn, struct db_item *it)
{
	struct db_conn	*c = txn->conn;

	if (c == NULL || txn->db->closing) {
		defer_item(txn->db, it);
		return;
	}
	fifo_push(&c->txq, it);
	conn_next(c);
}

void
db_txn_query(struct db_txn *txn, const char *sql, int nparams,
    const char *const *params, db_cb *cb, void *arg)
{
	struct db_item	*it;

	it = item_new(txn->db, ITEM_TXNQ, sql, nparams, params);
	it->cb = cb;
	it->arg = arg;
	txn_push(txn, it);
}

/* The handle belongs to the engine from here on; freed when answered. */
void
db_txn_commit(struct db_txn *txn, db_cb *cb, void *arg)
{
	struct db_item	*it = item_new(txn->db, ITEM_COMMIT, "COMMIT", 0,
			    NULL);

	it->cb = cb;
	it->arg = arg;
	it->txn = txn;
	txn_push(txn, it);
}

/*
 * Frees the handle at once. The ROLLBACK keeps the connection pinned until
 * it is answered; when the connection is already gone, the server rolled
 * the transaction back itself.
 */
void
db_txn_rollback(struct db_txn *txn)
{
	struct db	*db = txn->db;
	struct db_conn	*c = txn->conn;
	struct db_item	*it;

	if (c != NULL && !db->closing) {
		it = item_new(db, ITEM_ROLLBACK, "ROLLBACK", 0, NULL);
		fifo_push(&c->txq, it);
		c->txn = NULL;
		txn->conn = NULL;
		txn_free(db, txn);
		conn_next(c);
		return;
	}
	txn_free(db, txn);
}

int
db_ntuples(const struct db_res *res)
{
	if (res == NULL || res->pg == NULL)
		return 0;
	return PQntuples(res->pg);
}

const char *
db_value(const struct db_res *res, int row, int col)
{
	if (res == NULL || res->pg == NULL || row < 0 || col < 0 ||
	    row >= PQntuples(res->pg) || col >= PQnfields(res->pg) ||
	    PQgetisnull(res->pg, row, col))
		return NULL;
	return PQgetvalue(res->pg, row, col);
}
