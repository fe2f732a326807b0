/*
 * store-admin.c: the SQL of audit.verify, stats and outbox.list, and the
 * decoding of their results into the protocol's JSON. The audit walk reads
 * raw column values a page at a time (keyset on chain_pos, never the whole
 * table) and leaves every hash to audit.c: the database is asked for data,
 * never for a verdict, because the SQL functions are part of what is being
 * verified. No clock is read here, every value travels as a $n parameter,
 * and nothing here returns a data subject's personal data.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "audit.h"
#include "calendar.h"
#include "db.h"
#include "lifecycle.h"
#include "log.h"
#include "proto.h"
#include "store-admin.h"
#include "util.h"
#include "validate.h"

#define INSTANT(col)	"to_char(" col " AT TIME ZONE 'UTC', " \
			"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Events per round trip of the audit walk. */
#define AUDIT_PAGE	1000
#define AUDIT_PAGE_S	"1000"

/* Days ahead that count as "due soon" in stats (SPEC §6: within 3 days). */
#define STATS_SOON_DAYS	3

static void
add_str_or_null(cJSON *o, const char *k, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static void
add_num_or_null(cJSON *o, const char *k, const char *v)
{
	if (v != NULL)
		cJSON_AddNumberToObject(o, k, strtod(v, NULL));
	else
		cJSON_AddNullToObject(o, k);
}

/* Ends a call with the error a failed statement deserves. */
static void
fail_res(store_cb *cb, void *arg, const struct db_res *res, const char *what)
{
	struct store_res	 out = { 0 };

	if (res->unavailable) {
		out.err = E_UNAVAILABLE;
		out.msg = "database unavailable";
	} else {
		log_error("%s: SQL error %s: %s", what,
		    res->sqlstate ? res->sqlstate : "?",
		    res->message ? res->message : "?");
		out.err = E_INTERNAL;
		out.msg = "internal error (logged)";
	}
	cb(&out, arg);
}

static void
done(store_cb *cb, void *arg, int err, const char *msg, cJSON *json)
{
	struct store_res	 out = { .err = err, .msg = msg, .json = json };

	cb(&out, arg);
}

/* ---- audit.verify ------------------------------------------------------ */

/*
 * The raw columns audit.c hashes, in struct audit_event order, then the
 * stored links. The instant keeps its microseconds, as the trigger saw it.
 * Sort by a.chain_pos, qualified: the output column chain_pos is text.
 */
#define AUDIT_COLS							\
	"a.chain_pos::text, a.seq::text, a.request_id::text, "		\
	"a.entity_id::text, to_char(a.at AT TIME ZONE 'UTC', "		\
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), a.actor, "		\
	"a.actor_uid::text, a.actor_role, a.action, a.note, "		\
	"a.details::text, encode(a.prev_hash, 'hex'), "			\
	"encode(a.hash, 'hex')"

struct averify {
	struct db		*db;
	struct db_txn		*txn;
	store_cb		*cb;
	void			*arg;
	struct audit_walk	 w;
	char			*last;		/* chain_pos of the page's end */
};

static void	av_page(struct averify *);

static void
av_free(struct averify *av)
{
	if (av->txn != NULL)
		db_txn_rollback(av->txn);
	free(av->last);
	free(av);
}

static void
av_fail(struct averify *av, const struct db_res *res, const char *what)
{
	fail_res(av->cb, av->arg, res, what);
	av_free(av);
}

static void
av_error(struct averify *av, char *cause)
{
	log_error("audit.verify: %s", cause);
	free(cause);
	done(av->cb, av->arg, E_INTERNAL, "internal error (logged)", NULL);
	av_free(av);
}

/*
 * Reports the first thing that does not match: an event (seq set), a
 * position with no event (pos set), or the head. Takes reason.
 */
static void
av_broken(struct averify *av, const char *seq, const char *pos,
    const char *request, char *reason)
{
	cJSON	*data = cJSON_CreateObject();
	char	*msg;

	add_num_or_null(data, "seq", seq);
	add_num_or_null(data, "chain_pos", pos);
	add_num_or_null(data, "request_id", request);
	cJSON_AddStringToObject(data, "reason", reason);
	if (seq != NULL && request != NULL)
		msg = xasprintf("audit trail broken at event %s (position %s, "
		    "request %s): %s", seq, pos ? pos : "-", request, reason);
	else if (seq != NULL)
		msg = xasprintf("audit trail broken at event %s (position %s, "
		    "no request): %s", seq, pos ? pos : "-", reason);
	else if (pos != NULL)
		msg = xasprintf("audit trail broken at position %s: %s", pos,
		    reason);
	else
		msg = xasprintf("audit trail broken: %s", reason);
	free(reason);
	/* The snapshot is no longer needed: end it before answering. */
	db_txn_rollback(av->txn);
	av->txn = NULL;
	done(av->cb, av->arg, E_AUDIT_BROKEN, msg, data);
	free(msg);
	av_free(av);
}

static void
av_orphan_cb(const struct db_res *res, void *arg)
{
	struct averify	*av = arg;
	cJSON		*o;
	char		 head[AUDIT_HEX_LEN + 1];

	if (!res->ok) {
		av_fail(av, res, "audit.verify");
		return;
	}
	if (db_ntuples(res) > 0) {
		av_broken(av, db_value(res, 0, 0), NULL, db_value(res, 0, 1),
		    xstrdup("it has no chain position (it is not in the "
		    "chain)"));
		return;
	}
	db_txn_rollback(av->txn);
	av->txn = NULL;
	audit_hex(av->w.head_hash, sizeof av->w.head_hash, head);
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ok", 1);
	cJSON_AddNumberToObject(o, "events", (double)av->w.events);
	cJSON_AddStringToObject(o, "head", head);
	done(av->cb, av->arg, 0, NULL, o);
	av_free(av);
}

/* The walk reached the end of the chain. */
static void
av_end(struct averify *av)
{
	char	*reason = NULL, pos[24];

	if (audit_walk_end(&av->w, &reason) != AUDIT_OK) {
		snprintf(pos, sizeof pos, "%lld", av->w.pos + 1);
		av_broken(av, NULL, pos, NULL, reason);
		return;
	}
	/*
	 * chain_pos is NOT NULL, but a row inserted after that constraint was
	 * dropped would be invisible to the walk: look for one.
	 */
	db_txn_query(av->txn, "SELECT a.seq::text, a.request_id::text FROM "
	    "audit_events a WHERE a.chain_pos IS NULL ORDER BY a.seq LIMIT 1",
	    0, NULL, av_orphan_cb, av);
}

static void
av_page_cb(const struct db_res *res, void *arg)
{
	struct averify		*av = arg;
	struct audit_event	 e;
	char			*reason = NULL;
	int			 n, i;

	if (!res->ok) {
		av_fail(av, res, "audit.verify");
		return;
	}
	n = db_ntuples(res);
	for (i = 0; i < n; i++) {
		e.chain_pos = db_value(res, i, 0);
		e.seq = db_value(res, i, 1);
		e.request_id = db_value(res, i, 2);
		e.entity_id = db_value(res, i, 3);
		e.at = db_value(res, i, 4);
		e.actor = db_value(res, i, 5);
		e.actor_uid = db_value(res, i, 6);
		e.actor_role = db_value(res, i, 7);
		e.action = db_value(res, i, 8);
		e.note = db_value(res, i, 9);
		e.details = db_value(res, i, 10);
		switch (audit_walk_step(&av->w, &e, db_value(res, i, 11),
		    db_value(res, i, 12), &reason)) {
		case AUDIT_OK:
			break;
		case AUDIT_BROKEN:
			av_broken(av, e.seq, e.chain_pos, e.request_id, reason);
			return;
		case AUDIT_ERROR:
			av_error(av, reason);
			return;
		}
	}
	if (n < AUDIT_PAGE) {
		av_end(av);
		return;
	}
	free(av->last);
	av->last = xstrdup(db_value(res, n - 1, 0));
	av_page(av);
}

static void
av_page(struct averify *av)
{
	const char	*p[1] = { av->last };

	if (av->last == NULL)
		db_txn_query(av->txn, "SELECT " AUDIT_COLS " FROM audit_events "
		    "a ORDER BY a.chain_pos LIMIT " AUDIT_PAGE_S, 0, NULL,
		    av_page_cb, av);
	else
		db_txn_query(av->txn, "SELECT " AUDIT_COLS " FROM audit_events "
		    "a WHERE a.chain_pos > $1 ORDER BY a.chain_pos LIMIT "
		    AUDIT_PAGE_S, 1, p, av_page_cb, av);
}

static void
av_head_cb(const struct db_res *res, void *arg)
{
	struct averify	*av = arg;
	char		*reason = NULL;
	int		 any;

	if (!res->ok) {
		av_fail(av, res, "audit.verify");
		return;
	}
	any = db_ntuples(res) > 0;
	if (audit_walk_init(&av->w, any ? db_value(res, 0, 0) : NULL,
	    any ? db_value(res, 0, 1) : NULL, &reason) != AUDIT_OK) {
		av_broken(av, NULL, NULL, NULL, reason);
		return;
	}
	av_page(av);
}

static void
av_encoding_cb(const struct db_res *res, void *arg)
{
	struct averify	*av = arg;

	if (!res->ok) {
		av_fail(av, res, "audit.verify");
		return;
	}
	db_txn_query(av->txn, "SELECT pos::text, encode(hash, 'hex') FROM "
	    "audit_head WHERE one", 0, NULL, av_head_cb, av);
}

static void
av_snapshot_cb(const struct db_res *res, void *arg)
{
	struct averify	*av = arg;

	if (!res->ok) {
		av_fail(av, res, "audit.verify");
		return;
	}
	/* The hashes are over UTF-8 bytes, whatever the conninfo asked for. */
	db_txn_query(av->txn, "SET LOCAL client_encoding TO 'UTF8'", 0, NULL,
	    av_encoding_cb, av);
}

static void
av_begin_cb(struct db_txn *txn, const struct db_res *res, void *arg)
{
	struct averify	*av = arg;

	if (txn == NULL) {
		av_fail(av, res, "audit.verify: BEGIN");
		return;
	}
	av->txn = txn;
	db_txn_query(txn, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ "
	    "READ ONLY", 0, NULL, av_snapshot_cb, av);
}

void
store_audit_verify(struct db *db, store_cb *cb, void *arg)
{
	struct averify	*av = xcalloc(1, sizeof *av);

	av->db = db;
	av->cb = cb;
	av->arg = arg;
	db_begin(db, av_begin_cb, av);
}

/* ---- stats ------------------------------------------------------------- */

/* Columns of a stats row: known, median, code, then one count per state,
   then overdue and due soon (of the requests whose clocks run). */
#define ST_C_KNOWN	0
#define ST_C_MEDIAN	1
#define ST_C_CODE	2
#define ST_C_STATUS	3
#define ST_C_OVERDUE	(ST_C_STATUS + ST_COUNT)
#define ST_C_SOON	(ST_C_OVERDUE + 1)

struct scall {
	store_cb	*cb;
	void		*arg;
	int		 today;
};

/* The statement, from the table of states. Caller frees. */
static char *
stats_sql(void)
{
	struct buf	 b, open;

	buf_init(&open);
	for (int s = 0; s < ST_COUNT; s++)
		if (!lc_is_final((enum req_status)s) &&
		    !(store_pause_on_await && s == ST_AWAITING_SUBJECT))
			buf_addf(&open, "%s'%s'", open.len ? ", " : "",
			    req_status_names[s]);
	buf_init(&b);
	/*
	 * An unknown body is an error, not zeros: b answers that in the same
	 * round trip. Every body gets a row, with zeros where it has nothing.
	 */
	buf_adds(&b, "WITH b AS (SELECT ($1::text IS NULL OR EXISTS (SELECT 1 "
	    "FROM entities WHERE code = $1)) AS known), "
	    "m AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY "
	    "(r.closed_on - r.received_on)::float8) AS median "
	    "FROM requests r WHERE r.closed_on IS NOT NULL AND "
	    "($1::text IS NULL OR r.entity_id = (SELECT id FROM entities "
	    "WHERE code = $1))), "
	    "g AS (SELECT e.code");
	/*
	 * The requests are counted by body first and the bodies joined to
	 * the 200 or so counts after: joining a million requests to their
	 * body before counting took twice as long, and counting alone lets
	 * PostgreSQL split the scan between workers.
	 */
	for (int s = 0; s < ST_COUNT; s++)
		buf_addf(&b, ", c.n%d", s);
	buf_adds(&b, ", c.nover, c.nsoon FROM entities e LEFT JOIN (SELECT "
	    "r.entity_id");
	for (int s = 0; s < ST_COUNT; s++)
		buf_addf(&b, ", count(*) FILTER (WHERE r.status = '%s') AS n%d",
		    req_status_names[s], s);
	buf_addf(&b, ", count(*) FILTER (WHERE r.status IN (%s) AND "
	    "r.due_on < $2::date) AS nover", open.data);
	buf_addf(&b, ", count(*) FILTER (WHERE r.status IN (%s) AND "
	    "r.due_on BETWEEN $2::date AND $3::date) AS nsoon", open.data);
	buf_adds(&b, " FROM requests r WHERE ($1::text IS NULL OR "
	    "r.entity_id = (SELECT id FROM entities WHERE code = $1)) "
	    "GROUP BY r.entity_id) c ON c.entity_id = e.id "
	    "WHERE ($1::text IS NULL OR e.code = $1)) "
	    "SELECT b.known, m.median::text, g.* FROM b CROSS JOIN m "
	    "LEFT JOIN g ON b.known ORDER BY g.code");
	buf_free(&open);
	return buf_take(&b);
}

static long long
count_at(const struct db_res *res, int row, int col)
{
	const char	*v = db_value(res, row, col);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

static void
stats_cb(const struct db_res *res, void *arg)
{
	struct scall	*sc = arg;
	cJSON		*o, *bs, *be, *e;
	long long	 by[ST_COUNT] = { 0 }, open = 0, overdue = 0, soon = 0;
	long long	 eopen;
	char		 today[11];
	int		 n, i, s;

	if (!res->ok) {
		fail_res(sc->cb, sc->arg, res, "stats");
		free(sc);
		return;
	}
	n = db_ntuples(res);
	if (n == 0 || strcmp(db_value(res, 0, ST_C_KNOWN), "f") == 0) {
		done(sc->cb, sc->arg, E_NOT_FOUND, "entity: no such body",
		    NULL);
		free(sc);
		return;
	}
	o = cJSON_CreateObject();
	be = cJSON_CreateArray();
	for (i = 0; i < n; i++) {
		if (db_value(res, i, ST_C_CODE) == NULL)
			continue;	/* no body at all */
		eopen = 0;
		for (s = 0; s < ST_COUNT; s++) {
			long long c = count_at(res, i, ST_C_STATUS + s);

			by[s] += c;
			if (!lc_is_final((enum req_status)s) &&
		    !(store_pause_on_await && s == ST_AWAITING_SUBJECT))
				eopen += c;
		}
		open += eopen;
		overdue += count_at(res, i, ST_C_OVERDUE);
		soon += count_at(res, i, ST_C_SOON);
		e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "entity",
		    db_value(res, i, ST_C_CODE));
		cJSON_AddNumberToObject(e, "open", (double)eopen);
		cJSON_AddNumberToObject(e, "overdue",
		    (double)count_at(res, i, ST_C_OVERDUE));
		cJSON_AddNumberToObject(e, "due_soon",
		    (double)count_at(res, i, ST_C_SOON));
		cJSON_AddItemToArray(be, e);
	}
	bs = cJSON_AddObjectToObject(o, "by_status");
	for (s = 0; s < ST_COUNT; s++)
		cJSON_AddNumberToObject(bs, req_status_names[s], (double)by[s]);
	cJSON_AddNumberToObject(o, "open", (double)open);
	cJSON_AddNumberToObject(o, "overdue", (double)overdue);
	cJSON_AddNumberToObject(o, "due_soon", (double)soon);
	add_num_or_null(o, "median_days_to_close",
	    db_value(res, 0, ST_C_MEDIAN));
	cJSON_AddItemToObject(o, "by_entity", be);
	cal_format_date(sc->today, today);
	cJSON_AddStringToObject(o, "today", today);
	done(sc->cb, sc->arg, 0, NULL, o);
	free(sc);
}

void
store_stats(struct db *db, const char *entity, int today, store_cb *cb,
    void *arg)
{
	struct scall	*sc = xcalloc(1, sizeof *sc);
	char		 from[11], to[11], *sql = stats_sql();
	const char	*p[3] = { entity, from, to };

	sc->cb = cb;
	sc->arg = arg;
	sc->today = today;
	cal_format_date(today, from);
	cal_format_date(today + STATS_SOON_DAYS, to);
	db_query(db, sql, 3, p, stats_cb, sc);
	free(sql);
}

/* ---- outbox.list ------------------------------------------------------- */

static void
outbox_list_cb(const struct db_res *res, void *arg)
{
	struct scall	*sc = arg;
	cJSON		*o, *a, *it;
	int		 n;

	if (!res->ok) {
		fail_res(sc->cb, sc->arg, res, "outbox.list");
		free(sc);
		return;
	}
	n = db_ntuples(res);
	o = cJSON_CreateObject();
	a = cJSON_AddArrayToObject(o, "items");
	for (int i = 0; i < n; i++) {
		it = cJSON_CreateObject();
		add_num_or_null(it, "id", db_value(res, i, 0));
		add_str_or_null(it, "msg_id", db_value(res, i, 1));
		add_str_or_null(it, "event", db_value(res, i, 2));
		add_num_or_null(it, "request_id", db_value(res, i, 3));
		add_str_or_null(it, "entity", db_value(res, i, 4));
		add_str_or_null(it, "channel", db_value(res, i, 5));
		add_str_or_null(it, "recipient", db_value(res, i, 6));
		add_str_or_null(it, "state", db_value(res, i, 7));
		add_num_or_null(it, "attempts", db_value(res, i, 8));
		add_str_or_null(it, "next_attempt_at", db_value(res, i, 9));
		add_str_or_null(it, "last_error", db_value(res, i, 10));
		add_str_or_null(it, "created_at", db_value(res, i, 11));
		add_str_or_null(it, "sent_at", db_value(res, i, 12));
		cJSON_AddItemToArray(a, it);
	}
	cJSON_AddNumberToObject(o, "count", n);
	done(sc->cb, sc->arg, 0, NULL, o);
	free(sc);
}

void
store_outbox_list(struct db *db, const char *states, long long limit,
    store_cb *cb, void *arg)
{
	struct scall	*sc = xcalloc(1, sizeof *sc);
	char		 lim[24];
	const char	*p[2] = { states, lim };

	sc->cb = cb;
	sc->arg = arg;
	snprintf(lim, sizeof lim, "%lld", limit);
	/* Newest first: ids are handed out in insertion order. */
	db_query(db, "SELECT o.id, o.msg_id::text, o.event, o.request_id, "
	    "e.code, o.channel, o.recipient, o.state, o.attempts, "
	    INSTANT("o.next_attempt_at") ", o.last_error, "
	    INSTANT("o.created_at") ", " INSTANT("o.sent_at") " "
	    "FROM outbox o JOIN entities e ON e.id = o.entity_id "
	    "WHERE o.state = ANY (string_to_array($1, ',')) "
	    "ORDER BY o.id DESC LIMIT $2", 2, p, outbox_list_cb, sc);
}
