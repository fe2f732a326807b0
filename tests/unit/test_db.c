/*
 * test_db.c: the database engine (daemon/db.c) against a real, throwaway
 * PostgreSQL cluster started by tests/unit/with-pg (DSRD_TEST_CONNINFO,
 * DSRD_TEST_PGDIR). Covers results and NULLs, SQL errors, the pool and its
 * FIFO, transactions, lost connections, a server stop and restart, and
 * db_free with work in flight. It must never touch any database but the
 * throwaway one; the server stop/restart test runs last.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/event.h>

#include "db.h"
#include "log.h"
#include "util.h"

#define WAIT_MS		10000	/* safety timeout for one wait */

struct env {
	struct event_base	*base;
	struct event		*tick;
	struct db		*db;
	int			 up;
	int			 ups;
	int			 downs;
};

/* What one query callback saw; values are copied out of the PGresult. */
struct qr {
	int	 calls;
	int	 ok;
	int	 unavailable;
	char	 sqlstate[8];
	int	 ntuples;
	int	 nvals;
	char	*vals[4];		/* row 0; NULL for SQL NULL */
	int	 seq;			/* order among all callbacks */
	int	 requeue;		/* db_free test: query again */
	struct env *env;
};

struct tx {
	int		 calls;
	struct db_txn	*txn;
	int		 ok;
	int		 unavailable;
	char		 sqlstate[8];
};

static int	seq_counter;

/* Wakes EVLOOP_ONCE up regularly so that wait loops see their timeout. */
static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

#define WAIT_FOR(e, cond, ms) do {					\
	long long dl_ = mono_ms() + (ms);				\
	while (!(cond) && mono_ms() < dl_)				\
		event_base_loop((e)->base, EVLOOP_ONCE);		\
} while (0)

static void
state_cb(int up, void *arg)
{
	struct env	*e = arg;

	e->up = up;
	if (up)
		e->ups++;
	else
		e->downs++;
}

static const char *
conninfo(void)
{
	const char	*c = getenv("DSRD_TEST_CONNINFO");

	if (c == NULL || *c == '\0') {
		print_message("DSRD_TEST_CONNINFO unset: run via with-pg\n");
		skip();
	}
	return c;
}

static void
env_init(struct env *e, struct event_base *base)
{
	struct timeval	 tv = { 0, 10000 };

	memset(e, 0, sizeof *e);
	e->base = base != NULL ? base : event_base_new();
	assert_non_null(e->base);
	e->tick = event_new(e->base, -1, EV_PERSIST, tick_cb, NULL);
	event_add(e->tick, &tv);
}

/* A base and a db of pool connections, waited up. */
static void
env_open(struct env *e, int pool)
{
	env_init(e, NULL);
	e->db = db_new(e->base, conninfo(), pool, state_cb, e);
	assert_non_null(e->db);
	WAIT_FOR(e, e->up, WAIT_MS);
	assert_true(e->up);
	assert_true(db_is_up(e->db));
}

/* Lets the other pool connections finish connecting too. */
static void
env_settle(struct env *e, int ms)
{
	long long	 dl = mono_ms() + ms;

	while (mono_ms() < dl)
		event_base_loop(e->base, EVLOOP_ONCE);
}

static void
env_close(struct env *e, int free_base)
{
	if (e->db != NULL)
		db_free(e->db);
	e->db = NULL;
	event_free(e->tick);
	if (free_base)
		event_base_free(e->base);
}

static void
qr_reset(struct qr *q)
{
	for (int i = 0; i < q->nvals; i++)
		free(q->vals[i]);
	memset(q, 0, sizeof *q);
}

static void
qr_cb(const struct db_res *res, void *arg)
{
	struct qr	*q = arg;
	int		 n;

	q->calls++;
	q->seq = seq_counter++;
	q->ok = res->ok;
	q->unavailable = res->unavailable;
	if (res->ok)
		assert_non_null(res->pg);
	else
		assert_non_null(res->message);
	snprintf(q->sqlstate, sizeof q->sqlstate, "%s",
	    res->sqlstate != NULL ? res->sqlstate : "");
	q->ntuples = db_ntuples(res);
	for (int i = 0; i < q->nvals; i++)
		free(q->vals[i]);
	q->nvals = 0;
	if (res->pg != NULL && q->ntuples > 0) {
		n = PQnfields(res->pg);
		if (n > 4)
			n = 4;
		for (int i = 0; i < n; i++) {
			const char *v = db_value(res, 0, i);

			q->vals[i] = v != NULL ? xstrdup(v) : NULL;
		}
		q->nvals = n;
	}
	if (q->requeue) {
		/* Work queued from a callback during db_free must also be
		   answered, exactly once. */
		q->requeue = 0;
		db_query(q->env->db, "SELECT 1", 0, NULL, qr_cb, q);
	}
}

static void
tx_cb(struct db_txn *txn, const struct db_res *res, void *arg)
{
	struct tx	*t = arg;

	t->calls++;
	t->txn = txn;
	t->ok = res->ok;
	t->unavailable = res->unavailable;
	snprintf(t->sqlstate, sizeof t->sqlstate, "%s",
	    res->sqlstate != NULL ? res->sqlstate : "");
	if (res->ok)
		assert_non_null(txn);
	else
		assert_null(txn);
}

/* Runs one statement on the pool and waits for it. */
static void
run_query(struct env *e, struct qr *q, const char *sql, int nparams,
    const char *const *params)
{
	qr_reset(q);
	db_query(e->db, sql, nparams, params, qr_cb, q);
	assert_int_equal(q->calls, 0);	/* never from inside db_query */
	WAIT_FOR(e, q->calls > 0, WAIT_MS);
	assert_int_equal(q->calls, 1);
}

static void
run_txn_query(struct env *e, struct db_txn *txn, struct qr *q,
    const char *sql, int nparams, const char *const *params)
{
	qr_reset(q);
	db_txn_query(txn, sql, nparams, params, qr_cb, q);
	assert_int_equal(q->calls, 0);
	WAIT_FOR(e, q->calls > 0, WAIT_MS);
	assert_int_equal(q->calls, 1);
}

static struct db_txn *
begin(struct env *e)
{
	struct tx	 t = { 0 };

	db_begin(e->db, tx_cb, &t);
	assert_int_equal(t.calls, 0);
	WAIT_FOR(e, t.calls > 0, WAIT_MS);
	assert_int_equal(t.calls, 1);
	assert_true(t.ok);
	return t.txn;
}

static void
exec_ok(struct env *e, const char *sql)
{
	struct qr	 q = { 0 };

	run_query(e, &q, sql, -1, NULL);
	assert_true(q.ok);
	qr_reset(&q);
}

static long
count_rows(struct env *e, const char *table)
{
	struct qr	 q = { 0 };
	char		*sql = xasprintf("SELECT count(*) FROM %s", table);
	long		 n;

	run_query(e, &q, sql, 0, NULL);
	free(sql);
	assert_true(q.ok);
	assert_non_null(q.vals[0]);
	n = atol(q.vals[0]);
	qr_reset(&q);
	return n;
}

static int
backend_pid(struct env *e)
{
	struct qr	 q = { 0 };
	int		 pid;

	run_query(e, &q, "SELECT pg_backend_pid()", 0, NULL);
	assert_true(q.ok);
	pid = atoi(q.vals[0]);
	qr_reset(&q);
	return pid;
}

/* Terminates a backend from a second, independent db on the same base. */
static void
terminate(struct env *e, int pid)
{
	struct env	 k;
	struct qr	 q = { 0 };
	char		 buf[32];
	const char	*p[1] = { buf };

	env_init(&k, e->base);
	k.db = db_new(k.base, conninfo(), 1, state_cb, &k);
	WAIT_FOR(&k, k.up, WAIT_MS);
	assert_true(k.up);
	snprintf(buf, sizeof buf, "%d", pid);
	run_query(&k, &q, "SELECT pg_terminate_backend($1::int)", 1, p);
	assert_true(q.ok);
	assert_string_equal(q.vals[0], "t");
	qr_reset(&q);
	env_close(&k, 0);
}

static void
pgtmp(const char *cmd)
{
	const char	*top = getenv("DSRD_TOP");
	const char	*dir = getenv("DSRD_TEST_PGDIR");
	char		*sh;

	assert_non_null(dir);
	sh = xasprintf("'%s/scripts/pgtmp' %s '%s' >/dev/null",
	    top != NULL ? top : ".", cmd, dir);
	assert_int_equal(system(sh), 0);
	free(sh);
}

static void
test_unavailable_before_up(void **state)
{
	struct env	 e;
	struct qr	 q = { 0 };

	(void)state;
	env_init(&e, NULL);
	e.db = db_new(e.base, conninfo(), 1, state_cb, &e);
	assert_false(db_is_up(e.db));
	db_query(e.db, "SELECT 1", 0, NULL, qr_cb, &q);
	/* Deferred: not from inside db_query, but on the next pass. */
	assert_int_equal(q.calls, 0);
	assert_int_equal(db_pending(e.db), 1);
	WAIT_FOR(&e, q.calls > 0, WAIT_MS);
	assert_int_equal(q.calls, 1);
	assert_false(q.ok);
	assert_true(q.unavailable);
	WAIT_FOR(&e, e.up, WAIT_MS);
	assert_true(e.up);
	assert_int_equal(e.ups, 1);
	assert_int_equal(db_pending(e.db), 0);
	qr_reset(&q);
	env_close(&e, 1);
}

static void
test_params_and_nulls(void **state)
{
	struct env	 e;
	struct qr	 q = { 0 };
	const char	*p[] = { "abc", NULL, "41", "l'apostrofo \"è\"" };

	(void)state;
	env_open(&e, 1);
	run_query(&e, &q, "SELECT $1::text, $2::text, $3::int + 1, $4::text",
	    4, p);
	assert_true(q.ok);
	assert_false(q.unavailable);
	assert_string_equal(q.sqlstate, "");
	assert_int_equal(q.ntuples, 1);
	assert_string_equal(q.vals[0], "abc");
	assert_null(q.vals[1]);
	assert_string_equal(q.vals[2], "42");
	assert_string_equal(q.vals[3], p[3]);

	run_query(&e, &q, "SELECT g FROM generate_series(1, 5) g "
	    "WHERE g > $1::int", 1, (const char *const[]){ "2" });
	assert_true(q.ok);
	assert_int_equal(q.ntuples, 3);
	assert_string_equal(q.vals[0], "3");

	/* No rows, and a command without tuples. */
	run_query(&e, &q, "SELECT 1 WHERE false", 0, NULL);
	assert_true(q.ok);
	assert_int_equal(q.ntuples, 0);
	run_query(&e, &q, "SET application_name = 'dsrd-test'", 0, NULL);
	assert_true(q.ok);
	assert_int_equal(q.ntuples, 0);
	assert_int_equal(db_pending(e.db), 0);
	qr_reset(&q);
	env_close(&e, 1);
}

static void
check_value_cb(const struct db_res *res, void *arg)
{
	int	*done = arg;

	assert_true(res->ok);
	assert_int_equal(db_ntuples(res), 2);
	assert_string_equal(db_value(res, 0, 0), "1");
	assert_null(db_value(res, 1, 0));
	assert_string_equal(db_value(res, 1, 1), "x");
	/* Out of range is NULL, not a crash. */
	assert_null(db_value(res, 2, 0));
	assert_null(db_value(res, 0, 2));
	assert_null(db_value(res, -1, 0));
	*done = 1;
}

static void
test_db_value(void **state)
{
	struct env	 e;
	int		 done = 0;

	(void)state;
	env_open(&e, 1);
	db_query(e.db, "VALUES (1, 'a'), (NULL, 'x')", 0, NULL,
	    check_value_cb, &done);
	WAIT_FOR(&e, done, WAIT_MS);
	assert_true(done);
	env_close(&e, 1);
}

/*
 * dsrd's connections run with jit off (its statements are short, and JIT
 * once cost 0.5 s a batch), unless the connection string or PGOPTIONS says
 * otherwise: theirs is the operator's choice.
 */
static void
test_jit_off(void **state)
{
	static const struct {
		const char	*extra;		/* appended to the conninfo */
		const char	*pgoptions;	/* PGOPTIONS, or NULL */
		const char	*jit;		/* what SHOW jit says */
	} cases[] = {
		{ "", NULL, "off" },
		{ " options='-c jit=on'", NULL, "on" },
		{ "", "-c jit=on", "on" },
		{ " options='-c work_mem=8MB'", NULL, "on" },
	};
	const char	*old = getenv("PGOPTIONS");
	char		*saved = old != NULL ? xstrdup(old) : NULL;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct env	 e;
		struct qr	 q = { 0 };
		char		*ci = xasprintf("%s%s", conninfo(),
				    cases[i].extra);

		if (cases[i].pgoptions != NULL)
			setenv("PGOPTIONS", cases[i].pgoptions, 1);
		else
			unsetenv("PGOPTIONS");
		env_init(&e, NULL);
		e.db = db_new(e.base, ci, 1, state_cb, &e);
		WAIT_FOR(&e, e.up, WAIT_MS);
		assert_true(e.up);
		run_query(&e, &q, "SHOW jit", 0, NULL);
		assert_true(q.ok);
		assert_string_equal(q.vals[0], cases[i].jit);
		qr_reset(&q);
		env_close(&e, 1);
		free(ci);
	}
	if (saved != NULL)
		setenv("PGOPTIONS", saved, 1);
	else
		unsetenv("PGOPTIONS");
	free(saved);
}

/* Runs a named statement (db_query_named) and waits for it. */
static void
run_named(struct env *e, struct qr *q, const char *name, const char *sql,
    int nparams, const char *const *params)
{
	qr_reset(q);
	db_query_named(e->db, name, sql, nparams, params, qr_cb, q);
	assert_int_equal(q->calls, 0);
	WAIT_FOR(e, q->calls > 0, WAIT_MS);
	assert_int_equal(q->calls, 1);
}

static long
prepared_count(struct env *e)
{
	struct qr	 q = { 0 };
	long		 n;

	run_query(e, &q, "SELECT count(*) FROM pg_prepared_statements", 0,
	    NULL);
	assert_true(q.ok);
	n = atol(q.vals[0]);
	qr_reset(&q);
	return n;
}

/*
 * A named statement is prepared once on a connection and executed after
 * that; its parameters and errors are those of db_query. When the session
 * loses it (DISCARD ALL, as a pooler does), the call still answers, run
 * once more unprepared, and that connection stops preparing.
 */
static void
test_named(void **state)
{
	static const char sql[] = "SELECT $1::int + 1, $2::text";
	struct env	 e;
	struct qr	 q = { 0 };
	const char	*p[2] = { "41", NULL };

	(void)state;
	env_open(&e, 1);
	assert_int_equal(prepared_count(&e), 0);
	for (int i = 0; i < 3; i++) {
		run_named(&e, &q, "t_add", sql, 2, p);
		assert_true(q.ok);
		assert_string_equal(q.vals[0], "42");
		assert_null(q.vals[1]);
		assert_int_equal(prepared_count(&e), 1);
	}
	/* A second name, and a statement that fails when it runs. */
	run_named(&e, &q, "t_div", "SELECT 1 / $1::int", 1,
	    (const char *[]){ "0" });
	assert_false(q.ok);
	assert_string_equal(q.sqlstate, "22012");
	assert_int_equal(prepared_count(&e), 2);
	/* One that cannot be prepared: its error, nothing kept. */
	run_named(&e, &q, "t_bad", "SELEC 1", 0, NULL);
	assert_false(q.ok);
	assert_string_equal(q.sqlstate, "42601");
	assert_int_equal(prepared_count(&e), 2);
	/* The session forgets them: the call is answered all the same. */
	run_query(&e, &q, "DISCARD ALL", 0, NULL);
	assert_true(q.ok);
	p[0] = "1";
	run_named(&e, &q, "t_add", sql, 2, p);
	assert_true(q.ok);
	assert_string_equal(q.vals[0], "2");
	run_named(&e, &q, "t_add", sql, 2, p);
	assert_true(q.ok);
	assert_int_equal(prepared_count(&e), 0);
	qr_reset(&q);
	env_close(&e, 1);
}

/* After a reconnect the new session prepares its statements again. */
static void
test_named_reconnect(void **state)
{
	static const char sql[] = "SELECT $1::int * 2";
	struct env	 e;
	struct qr	 q = { 0 };
	const char	*p[1] = { "21" };

	(void)state;
	env_open(&e, 1);
	run_named(&e, &q, "t_mul", sql, 1, p);
	assert_true(q.ok);
	terminate(&e, backend_pid(&e));
	WAIT_FOR(&e, e.ups >= 2 && e.up, WAIT_MS);
	assert_true(e.up);
	run_named(&e, &q, "t_mul", sql, 1, p);
	assert_true(q.ok);
	assert_string_equal(q.vals[0], "42");
	assert_int_equal(prepared_count(&e), 1);
	qr_reset(&q);
	env_close(&e, 1);
}

static void
test_sql_errors(void **state)
{
	static const struct {
		const char	*sql;
		int		 nparams;
		const char	*param;
		const char	*sqlstate;
	} cases[] = {
		{ "SELECT * FROM no_such_table", 0, NULL, "42P01" },
		{ "SELEC 1", 0, NULL, "42601" },
		{ "SELECT 1 / 0", 0, NULL, "22012" },
		{ "SELECT $1::int", 1, "x", "22P02" },
		{ "INSERT INTO t_err VALUES ($1::int)", 1, "1", "23505" },
		{ "INSERT INTO t_err VALUES (NULL)", 0, NULL, "23502" },
		/* Simple protocol: the error of the middle statement. */
		{ "SELECT 1; SELECT * FROM nope; SELECT 2", -1, NULL, "42P01" },
	};
	struct env	 e;
	struct qr	 q = { 0 };

	(void)state;
	env_open(&e, 2);
	exec_ok(&e, "DROP TABLE IF EXISTS t_err; "
	    "CREATE TABLE t_err (id int PRIMARY KEY); "
	    "INSERT INTO t_err VALUES (1)");
	for (size_t i = 0; i < nitems(cases); i++) {
		const char *p[1] = { cases[i].param };

		run_query(&e, &q, cases[i].sql, cases[i].nparams, p);
		assert_false(q.ok);
		assert_false(q.unavailable);
		assert_string_equal(q.sqlstate, cases[i].sqlstate);
		assert_int_equal(q.ntuples, 0);
	}
	/* The connections are still fine afterwards. */
	run_query(&e, &q, "SELECT 7", 0, NULL);
	assert_true(q.ok);
	assert_string_equal(q.vals[0], "7");
	qr_reset(&q);
	env_close(&e, 1);
}

static void
test_multi_statement(void **state)
{
	struct env	 e;
	struct qr	 q = { 0 };

	(void)state;
	env_open(&e, 1);
	run_query(&e, &q, "DROP TABLE IF EXISTS t_multi; "
	    "CREATE TABLE t_multi (id int PRIMARY KEY, v text); "
	    "INSERT INTO t_multi VALUES (1, 'a'), (2, NULL), (3, 'c'); "
	    "SELECT count(*), count(v) FROM t_multi", -1, NULL);
	assert_true(q.ok);
	/* The last statement's result. */
	assert_int_equal(q.ntuples, 1);
	assert_string_equal(q.vals[0], "3");
	assert_string_equal(q.vals[1], "2");
	assert_int_equal(count_rows(&e, "t_multi"), 3);
	qr_reset(&q);
	env_close(&e, 1);
}

/* Large enough that PQflush returns 1 and results come in many reads. */
static void
test_large(void **state)
{
	enum { LEN = 8 * 1024 * 1024 };
	struct env	 e;
	struct qr	 q[4];
	char		*big = xmalloc(LEN + 1);
	const char	*p[1] = { big };

	(void)state;
	memset(q, 0, sizeof q);
	memset(big, 'x', LEN);
	big[LEN] = '\0';
	env_open(&e, 2);
	for (int i = 0; i < 3; i++)
		db_query(e.db, "SELECT length($1), md5($1)", 1, p, qr_cb,
		    &q[i]);
	db_query(e.db, "SELECT count(*), max(length(repeat('y', g))) FROM "
	    "(SELECT g FROM generate_series(1, 20000) g) s", 0, NULL, qr_cb,
	    &q[3]);
	free(big);		/* the engine keeps its own copy */
	WAIT_FOR(&e, db_pending(e.db) == 0, 4 * WAIT_MS);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(q[i].calls, 1);
		assert_true(q[i].ok);
		assert_int_equal(atol(q[i].vals[0]), LEN);
		assert_int_equal(strlen(q[i].vals[1]), 32);
		qr_reset(&q[i]);
	}
	assert_true(q[3].ok);
	assert_string_equal(q[3].vals[0], "20000");
	assert_string_equal(q[3].vals[1], "20000");
	qr_reset(&q[3]);

	/* A large result set, read in many pieces. */
	run_query(&e, &q[0], "SELECT g, repeat('z', 100) FROM "
	    "generate_series(1, 100000) g", 0, NULL);
	assert_true(q[0].ok);
	assert_int_equal(q[0].ntuples, 100000);
	qr_reset(&q[0]);
	env_close(&e, 1);
}

static void
test_pool_concurrency(void **state)
{
	enum { N = 300 };
	struct env	 e;
	struct qr	*q = xcalloc(N, sizeof *q);
	char		 num[N][12];
	int		 pids[3] = { 0 }, npids = 0, answered;

	(void)state;
	env_open(&e, 3);
	env_settle(&e, 300);
	for (int i = 0; i < N; i++) {
		const char *p[1] = { num[i] };

		snprintf(num[i], sizeof num[i], "%d", i);
		db_query(e.db, "SELECT $1::int, pg_backend_pid()", 1, p,
		    qr_cb, &q[i]);
	}
	assert_int_equal(db_pending(e.db), N);
	answered = 0;
	WAIT_FOR(&e, db_pending(e.db) == 0, WAIT_MS);
	for (int i = 0; i < N; i++) {
		int	 pid, seen = 0;

		assert_int_equal(q[i].calls, 1);
		assert_true(q[i].ok);
		assert_int_equal(atoi(q[i].vals[0]), i);
		answered++;
		pid = atoi(q[i].vals[1]);
		for (int j = 0; j < npids; j++)
			seen |= pids[j] == pid;
		if (!seen) {
			assert_true(npids < 3);
			pids[npids++] = pid;
		}
		qr_reset(&q[i]);
	}
	assert_int_equal(answered, N);
	/* All three connections took work. */
	assert_int_equal(npids, 3);
	env_close(&e, 1);
	free(q);
}

/*
 * One statement at a time goes to the same connection, the first idle one
 * (a hot backend; turns round the pool woke a cold one each time, 0.88 ->
 * 0.96 of pgbench for one client filing), while concurrent ones still
 * spread over the pool (test_pool_concurrency).
 */
static void
test_pool_lifo(void **state)
{
	struct env	 e;
	struct qr	 q = { 0 };
	char		*first;

	(void)state;
	env_open(&e, 4);
	env_settle(&e, 300);
	run_query(&e, &q, "SELECT pg_backend_pid()", 0, NULL);
	assert_true(q.ok);
	first = xstrdup(q.vals[0]);
	for (int i = 0; i < 20; i++) {
		run_query(&e, &q, "SELECT pg_backend_pid()", 0, NULL);
		assert_true(q.ok);
		assert_string_equal(q.vals[0], first);
	}
	qr_reset(&q);
	free(first);
	env_close(&e, 1);
}

static void
test_fifo_order(void **state)
{
	enum { N = 50 };
	struct env	 e;
	struct qr	 q[N];

	(void)state;
	memset(q, 0, sizeof q);
	env_open(&e, 1);
	for (int i = 0; i < N; i++)
		db_query(e.db, "SELECT 1", 0, NULL, qr_cb, &q[i]);
	WAIT_FOR(&e, db_pending(e.db) == 0, WAIT_MS);
	for (int i = 0; i < N; i++) {
		assert_int_equal(q[i].calls, 1);
		assert_true(q[i].ok);
		if (i > 0)
			assert_true(q[i].seq > q[i - 1].seq);
		qr_reset(&q[i]);
	}
	env_close(&e, 1);
}

static void
test_txn_commit(void **state)
{
	struct env	 e;
	struct db_txn	*txn;
	struct qr	 q = { 0 };
	const char	*p[1] = { "10" };

	(void)state;
	env_open(&e, 2);
	env_settle(&e, 200);
	exec_ok(&e, "DROP TABLE IF EXISTS t_txn; "
	    "CREATE TABLE t_txn (id int PRIMARY KEY)");
	txn = begin(&e);
	assert_int_equal(db_pending(e.db), 1);	/* the open transaction */
	run_txn_query(&e, txn, &q, "INSERT INTO t_txn VALUES ($1::int)", 1,
	    p);
	assert_true(q.ok);
	/* Not visible from the other connection before COMMIT. */
	assert_int_equal(count_rows(&e, "t_txn"), 0);
	qr_reset(&q);
	db_txn_commit(txn, qr_cb, &q);
	assert_int_equal(q.calls, 0);
	WAIT_FOR(&e, q.calls > 0, WAIT_MS);
	assert_int_equal(q.calls, 1);
	assert_true(q.ok);
	assert_int_equal(count_rows(&e, "t_txn"), 1);
	assert_int_equal(db_pending(e.db), 0);

	/* A NULL commit callback is allowed. */
	txn = begin(&e);
	run_txn_query(&e, txn, &q, "INSERT INTO t_txn VALUES (11)", 0, NULL);
	db_txn_commit(txn, NULL, NULL);
	WAIT_FOR(&e, db_pending(e.db) == 0, WAIT_MS);
	assert_int_equal(db_pending(e.db), 0);
	assert_int_equal(count_rows(&e, "t_txn"), 2);
	qr_reset(&q);
	env_close(&e, 1);
}

/* A transaction driven entirely from callbacks, as the daemon does. */
struct chain {
	struct env	*env;
	struct db_txn	*txn;
	int		 step;
	int		 done;
	int		 ok;
};

static void
chain_commit_cb(const struct db_res *res, void *arg)
{
	struct chain	*c = arg;

	c->ok = res->ok;
	c->done = 1;
}

static void
chain_stmt_cb(const struct db_res *res, void *arg)
{
	struct chain	*c = arg;
	char		 buf[12];
	const char	*p[1] = { buf };

	assert_true(res->ok);
	if (++c->step < 5) {
		snprintf(buf, sizeof buf, "%d", 100 + c->step);
		db_txn_query(c->txn, "INSERT INTO t_chain VALUES ($1::int)",
		    1, p, chain_stmt_cb, c);
	} else
		db_txn_commit(c->txn, chain_commit_cb, c);
}

static void
chain_begin_cb(struct db_txn *txn, const struct db_res *res, void *arg)
{
	struct chain	*c = arg;

	assert_true(res->ok);
	c->txn = txn;
	db_txn_query(txn, "INSERT INTO t_chain VALUES (100)", 0, NULL,
	    chain_stmt_cb, c);
}

static void
test_txn_chain_in_callbacks(void **state)
{
	struct env	 e;
	struct chain	 c[3];

	(void)state;
	env_open(&e, 1);
	exec_ok(&e, "DROP TABLE IF EXISTS t_chain; "
	    "CREATE TABLE t_chain (id int)");
	/* Three transactions on a single connection: they wait in turn. */
	memset(c, 0, sizeof c);
	for (int i = 0; i < 3; i++) {
		c[i].env = &e;
		db_begin(e.db, chain_begin_cb, &c[i]);
	}
	WAIT_FOR(&e, c[0].done && c[1].done && c[2].done, WAIT_MS);
	for (int i = 0; i < 3; i++) {
		assert_true(c[i].done);
		assert_true(c[i].ok);
	}
	assert_int_equal(count_rows(&e, "t_chain"), 15);
	assert_int_equal(db_pending(e.db), 0);
	env_close(&e, 1);
}

static void
test_txn_rollback(void **state)
{
	struct env	 e;
	struct db_txn	*txn;
	struct qr	 q = { 0 };

	(void)state;
	env_open(&e, 1);
	exec_ok(&e, "DROP TABLE IF EXISTS t_rb; "
	    "CREATE TABLE t_rb (id int PRIMARY KEY)");
	txn = begin(&e);
	run_txn_query(&e, txn, &q, "INSERT INTO t_rb VALUES (1), (2)", 0,
	    NULL);
	assert_true(q.ok);
	db_txn_rollback(txn);
	/* The single connection is handed back once ROLLBACK is done. */
	assert_int_equal(count_rows(&e, "t_rb"), 0);
	assert_int_equal(db_pending(e.db), 0);
	qr_reset(&q);
	env_close(&e, 1);
}

static void
test_txn_error(void **state)
{
	struct env	 e;
	struct db_txn	*txn;
	struct qr	 q = { 0 };

	(void)state;
	env_open(&e, 1);
	exec_ok(&e, "DROP TABLE IF EXISTS t_te; "
	    "CREATE TABLE t_te (id int PRIMARY KEY); "
	    "INSERT INTO t_te VALUES (1)");

	/* Error, then rollback: the connection is usable afterwards. */
	txn = begin(&e);
	run_txn_query(&e, txn, &q, "INSERT INTO t_te VALUES (2)", 0, NULL);
	assert_true(q.ok);
	run_txn_query(&e, txn, &q, "INSERT INTO t_te VALUES (1)", 0, NULL);
	assert_false(q.ok);
	assert_string_equal(q.sqlstate, "23505");
	run_txn_query(&e, txn, &q, "SELECT 1", 0, NULL);
	assert_false(q.ok);
	assert_string_equal(q.sqlstate, "25P02");
	db_txn_rollback(txn);
	assert_int_equal(count_rows(&e, "t_te"), 1);

	/* Error, then commit: reported as a failure, nothing kept. */
	txn = begin(&e);
	run_txn_query(&e, txn, &q, "INSERT INTO t_te VALUES (3)", 0, NULL);
	assert_true(q.ok);
	run_txn_query(&e, txn, &q, "SELECT * FROM no_such_table", 0, NULL);
	assert_string_equal(q.sqlstate, "42P01");
	qr_reset(&q);
	db_txn_commit(txn, qr_cb, &q);
	WAIT_FOR(&e, q.calls > 0, WAIT_MS);
	assert_int_equal(q.calls, 1);
	assert_false(q.ok);
	assert_false(q.unavailable);
	assert_string_equal(q.sqlstate, "25P02");
	assert_int_equal(count_rows(&e, "t_te"), 1);
	assert_int_equal(db_pending(e.db), 0);
	qr_reset(&q);
	env_close(&e, 1);
}

static void
test_terminate_idle(void **state)
{
	struct env	 e;
	int		 pid, pid2;

	(void)state;
	env_open(&e, 1);
	pid = backend_pid(&e);
	terminate(&e, pid);
	/* The idle socket is watched: the loss is noticed on its own. */
	WAIT_FOR(&e, e.downs == 1, WAIT_MS);
	assert_int_equal(e.downs, 1);
	WAIT_FOR(&e, e.up, WAIT_MS);
	assert_true(e.up);
	assert_int_equal(e.ups, 2);
	pid2 = backend_pid(&e);
	assert_int_not_equal(pid, pid2);
	env_close(&e, 1);
}

static void
test_terminate_in_flight(void **state)
{
	struct env	 e;
	struct qr	 q = { 0 };
	int		 pid;
	long long	 t0;

	(void)state;
	env_open(&e, 1);
	pid = backend_pid(&e);
	db_query(e.db, "SELECT pg_sleep(30)", 0, NULL, qr_cb, &q);
	env_settle(&e, 100);
	assert_int_equal(q.calls, 0);
	t0 = mono_ms();
	terminate(&e, pid);
	WAIT_FOR(&e, q.calls > 0, WAIT_MS);
	assert_int_equal(q.calls, 1);
	assert_false(q.ok);
	assert_true(q.unavailable);
	assert_true(mono_ms() - t0 < 2000);
	WAIT_FOR(&e, e.up && e.ups == 2, WAIT_MS);
	assert_int_equal(e.ups, 2);
	assert_int_not_equal(backend_pid(&e), pid);
	qr_reset(&q);
	env_close(&e, 1);
}

static void
test_terminate_in_txn(void **state)
{
	struct env	 e;
	struct db_txn	*txn;
	struct qr	 q = { 0 };
	int		 pid;

	(void)state;
	env_open(&e, 1);
	txn = begin(&e);
	run_txn_query(&e, txn, &q, "SELECT pg_backend_pid()", 0, NULL);
	assert_true(q.ok);
	pid = atoi(q.vals[0]);
	terminate(&e, pid);
	WAIT_FOR(&e, e.downs == 1, WAIT_MS);
	assert_int_equal(e.downs, 1);
	/* The dead transaction is still tracked: statements and COMMIT
	   fail with unavailable, on the next pass. */
	run_txn_query(&e, txn, &q, "SELECT 1", 0, NULL);
	assert_false(q.ok);
	assert_true(q.unavailable);
	assert_int_equal(db_pending(e.db), 1);
	qr_reset(&q);
	db_txn_commit(txn, qr_cb, &q);
	assert_int_equal(q.calls, 0);
	WAIT_FOR(&e, q.calls > 0, WAIT_MS);
	assert_int_equal(q.calls, 1);
	assert_true(q.unavailable);
	assert_int_equal(db_pending(e.db), 0);

	/* Rolling back a dead transaction just frees it. */
	WAIT_FOR(&e, e.up, WAIT_MS);
	assert_true(e.up);
	txn = begin(&e);
	run_txn_query(&e, txn, &q, "SELECT pg_backend_pid()", 0, NULL);
	assert_true(q.ok);
	pid = atoi(q.vals[0]);
	terminate(&e, pid);
	WAIT_FOR(&e, e.downs == 2, WAIT_MS);
	assert_int_equal(e.downs, 2);
	db_txn_rollback(txn);
	assert_int_equal(db_pending(e.db), 0);

	WAIT_FOR(&e, e.up, WAIT_MS);
	assert_true(e.up);
	txn = begin(&e);
	assert_int_equal(db_pending(e.db), 1);
	db_txn_rollback(txn);
	/* The single connection comes back to the pool after ROLLBACK. */
	assert_int_not_equal(backend_pid(&e), pid);
	assert_int_equal(db_pending(e.db), 0);
	qr_reset(&q);
	env_close(&e, 1);
}

static void
test_free_in_flight(void **state)
{
	enum { N = 12 };
	struct env	 e;
	struct qr	 q[N];
	struct tx	 t = { 0 }, t2 = { 0 };
	struct qr	 tq = { 0 };

	(void)state;
	memset(q, 0, sizeof q);
	env_open(&e, 2);
	env_settle(&e, 200);
	/* An open transaction holding one connection. */
	db_begin(e.db, tx_cb, &t);
	WAIT_FOR(&e, t.calls > 0, WAIT_MS);
	assert_true(t.ok);
	db_txn_query(t.txn, "SELECT pg_sleep(10)", 0, NULL, qr_cb, &tq);
	for (int i = 0; i < N; i++) {
		q[i].env = &e;
		q[i].requeue = i == N - 1;
		db_query(e.db, "SELECT pg_sleep(10)", 0, NULL, qr_cb, &q[i]);
	}
	db_begin(e.db, tx_cb, &t2);	/* queued behind everything */
	env_settle(&e, 100);
	assert_true(db_pending(e.db) >= N + 2);
	for (int i = 0; i < N; i++)
		assert_int_equal(q[i].calls, 0);
	db_free(e.db);
	e.db = NULL;
	for (int i = 0; i < N; i++) {
		/* The last one queued again from its callback: that second
		   query was answered too, within db_free. */
		assert_int_equal(q[i].calls, i == N - 1 ? 2 : 1);
		assert_false(q[i].ok);
		assert_true(q[i].unavailable);
		qr_reset(&q[i]);
	}
	assert_int_equal(tq.calls, 1);
	assert_true(tq.unavailable);
	assert_int_equal(t2.calls, 1);
	assert_null(t2.txn);
	assert_true(t2.unavailable);
	qr_reset(&tq);
	env_close(&e, 1);
}

static void
test_bad_conninfo(void **state)
{
	struct env	 e;
	struct qr	 q = { 0 };
	struct tx	 t = { 0 };

	(void)state;
	env_init(&e, NULL);
	e.db = db_new(e.base, "host=/nonexistent/dsrd-test port=5 dbname=x",
	    2, state_cb, &e);
	env_settle(&e, 300);
	assert_false(e.up);
	assert_false(db_is_up(e.db));
	db_query(e.db, "SELECT 1", 0, NULL, qr_cb, &q);
	db_begin(e.db, tx_cb, &t);
	assert_int_equal(q.calls + t.calls, 0);
	WAIT_FOR(&e, q.calls > 0 && t.calls > 0, WAIT_MS);
	assert_true(q.unavailable);
	assert_true(t.unavailable);
	assert_null(t.txn);
	assert_int_equal(db_pending(e.db), 0);
	env_close(&e, 1);
}

static void
test_server_restart(void **state)
{
	struct env	 e;
	struct qr	 q = { 0 };
	struct tx	 t = { 0 };
	long long	 t0;

	(void)state;
	env_open(&e, 3);
	env_settle(&e, 200);
	pgtmp("stop");
	t0 = mono_ms();
	run_query(&e, &q, "SELECT 1", 0, NULL);
	assert_false(q.ok);
	assert_true(q.unavailable);
	assert_true(mono_ms() - t0 < 2000);
	WAIT_FOR(&e, e.downs == 1, 2000);
	assert_int_equal(e.downs, 1);
	assert_false(e.up);
	assert_false(db_is_up(e.db));
	/* While down, everything fails at once. */
	t0 = mono_ms();
	run_query(&e, &q, "SELECT 1", 0, NULL);
	assert_true(q.unavailable);
	db_begin(e.db, tx_cb, &t);
	WAIT_FOR(&e, t.calls > 0, WAIT_MS);
	assert_true(t.unavailable);
	assert_true(mono_ms() - t0 < 2000);
	env_settle(&e, 1500);	/* let the backoff grow a little */

	pgtmp("start");
	WAIT_FOR(&e, e.up, 15000);
	assert_true(e.up);
	assert_int_equal(e.ups, 2);
	run_query(&e, &q, "SELECT 42", 0, NULL);
	assert_true(q.ok);
	assert_string_equal(q.vals[0], "42");
	assert_int_equal(db_pending(e.db), 0);
	qr_reset(&q);
	env_close(&e, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unavailable_before_up),
		cmocka_unit_test(test_params_and_nulls),
		cmocka_unit_test(test_db_value),
		cmocka_unit_test(test_jit_off),
		cmocka_unit_test(test_named),
		cmocka_unit_test(test_named_reconnect),
		cmocka_unit_test(test_sql_errors),
		cmocka_unit_test(test_multi_statement),
		cmocka_unit_test(test_large),
		cmocka_unit_test(test_pool_concurrency),
		cmocka_unit_test(test_pool_lifo),
		cmocka_unit_test(test_fifo_order),
		cmocka_unit_test(test_txn_commit),
		cmocka_unit_test(test_txn_chain_in_callbacks),
		cmocka_unit_test(test_txn_rollback),
		cmocka_unit_test(test_txn_error),
		cmocka_unit_test(test_terminate_idle),
		cmocka_unit_test(test_terminate_in_flight),
		cmocka_unit_test(test_terminate_in_txn),
		cmocka_unit_test(test_free_in_flight),
		cmocka_unit_test(test_bad_conninfo),
		/* Last: it stops and restarts the server. */
		cmocka_unit_test(test_server_restart),
	};

	log_set_level(LOG_LVL_WARN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
