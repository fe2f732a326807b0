/*
 * store.c: the SQL of dsrd and the decoding of its results into the JSON the
 * protocol speaks. Each function sends one statement (or, for migrations,
 * one transaction) through the asynchronous engine and calls back once. No
 * decisions live here, no clock is read here ("now" and "today" come from
 * the caller), and every value travels as a $n parameter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "db.h"
#include "log.h"
#include "migrations.h"
#include "proto.h"
#include "store.h"
#include "util.h"
#include "validate.h"

#define DATE(col)	"to_char(" col ", 'YYYY-MM-DD')"
#define INSTANT(col)	"to_char(" col " AT TIME ZONE 'UTC', " \
			"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The columns of a request, in the order req_json() reads them. */
#define REQ_COLS							\
	"r.id, e.code, r.type, r.status, r.subject_name, "		\
	"r.subject_tax_code, r.subject_email, r.channel, r.protocol, "	\
	"r.summary, " DATE("r.received_on") ", "			\
	DATE("r.forwarded_on") ", " DATE("r.statutory_due_on") ", "	\
	DATE("r.operational_due_on") ", " DATE("r.due_on") ", "		\
	"r.extended, " DATE("r.closed_on") ", r.outcome, "		\
	INSTANT("r.created_at")
#define REQ_NCOLS	19

#define ENTITY_COLS							\
	"e.code, e.name, e.email, e.dpo_email, "			\
	"array_to_string(e.holidays, ','), " INSTANT("e.created_at")

/* Advisory lock key of the migrations: "dsrd" in ASCII. */
#define MIGRATE_LOCK	"1685287524"

void
store_format_instant(time_t t, char out[21])
{
	struct tm	tm;

	gmtime_r(&t, &tm);
	strftime(out, 21, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
add_str_or_null(cJSON *o, const char *k, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static int
is_final(const char *status)
{
	return strcmp(status, "completed") == 0 ||
	    strcmp(status, "rejected") == 0 ||
	    strcmp(status, "withdrawn") == 0;
}

/* A request row (REQ_COLS from column c0) as the protocol's object. */
static cJSON *
req_json(const struct db_res *res, int row, int c0, int today)
{
	cJSON		*o = cJSON_CreateObject(), *subj;
	char		 todays[11];
	const char	*status = db_value(res, row, c0 + 3);
	const char	*due = db_value(res, row, c0 + 14);

	cal_format_date(today, todays);
	cJSON_AddNumberToObject(o, "id", strtod(db_value(res, row, c0), NULL));
	cJSON_AddStringToObject(o, "entity", db_value(res, row, c0 + 1));
	cJSON_AddStringToObject(o, "type", db_value(res, row, c0 + 2));
	cJSON_AddStringToObject(o, "status", status);
	subj = cJSON_AddObjectToObject(o, "subject");
	add_str_or_null(subj, "name", db_value(res, row, c0 + 4));
	add_str_or_null(subj, "tax_code", db_value(res, row, c0 + 5));
	add_str_or_null(subj, "email", db_value(res, row, c0 + 6));
	add_str_or_null(o, "channel", db_value(res, row, c0 + 7));
	add_str_or_null(o, "protocol", db_value(res, row, c0 + 8));
	add_str_or_null(o, "summary", db_value(res, row, c0 + 9));
	add_str_or_null(o, "received_on", db_value(res, row, c0 + 10));
	add_str_or_null(o, "forwarded_on", db_value(res, row, c0 + 11));
	add_str_or_null(o, "statutory_due_on", db_value(res, row, c0 + 12));
	add_str_or_null(o, "operational_due_on", db_value(res, row, c0 + 13));
	add_str_or_null(o, "due_on", due);
	cJSON_AddBoolToObject(o, "extended",
	    strcmp(db_value(res, row, c0 + 15), "t") == 0);
	/* Overdue: still open after the end of its due day. */
	cJSON_AddBoolToObject(o, "overdue",
	    !is_final(status) && strcmp(due, todays) < 0);
	add_str_or_null(o, "closed_on", db_value(res, row, c0 + 16));
	add_str_or_null(o, "outcome", db_value(res, row, c0 + 17));
	add_str_or_null(o, "created_at", db_value(res, row, c0 + 18));
	return o;
}

static cJSON *
entity_json(const struct db_res *res, int row)
{
	cJSON		*o = cJSON_CreateObject(), *h;
	const char	*hol = db_value(res, row, 4);
	char		*copy, *item, *save = NULL;

	cJSON_AddStringToObject(o, "code", db_value(res, row, 0));
	cJSON_AddStringToObject(o, "name", db_value(res, row, 1));
	add_str_or_null(o, "email", db_value(res, row, 2));
	add_str_or_null(o, "dpo_email", db_value(res, row, 3));
	h = cJSON_AddArrayToObject(o, "holidays");
	copy = xstrdup(hol != NULL ? hol : "");
	for (item = strtok_r(copy, ",", &save); item != NULL;
	    item = strtok_r(NULL, ",", &save))
		cJSON_AddItemToArray(h, cJSON_CreateString(item));
	free(copy);
	add_str_or_null(o, "created_at", db_value(res, row, 5));
	return o;
}

/* One statement in flight for a store_cb caller. */
struct sq {
	store_cb	*cb;
	void		*arg;
	int		 today;
	int		 retries;
	struct db	*db;
	/* request.file keeps its inputs for one retry */
	char		*sql;
	int		 nparams;
	char		**params;
};

static struct sq *
sq_new(struct db *db, store_cb *cb, void *arg, int today)
{
	struct sq	*sq = xcalloc(1, sizeof *sq);

	sq->db = db;
	sq->cb = cb;
	sq->arg = arg;
	sq->today = today;
	return sq;
}

static void
sq_free(struct sq *sq)
{
	for (int i = 0; i < sq->nparams; i++)
		free(sq->params[i]);
	free(sq->params);
	free(sq->sql);
	free(sq);
}

/* Ends a store call with an error drawn from a failed result. */
static void
sq_fail(struct sq *sq, const struct db_res *res, const char *what)
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
	sq->cb(&out, sq->arg);
	sq_free(sq);
}

static void
sq_done(struct sq *sq, int err, const char *msg, cJSON *json)
{
	struct store_res	 out = { .err = err, .msg = msg, .json = json };

	sq->cb(&out, sq->arg);
	sq_free(sq);
}

/* ---- migrations -------------------------------------------------------- */

struct migrate {
	struct db		*db;
	struct db_txn		*txn;
	store_migrate_cb	*cb;
	void			*arg;
	int			 have;		/* version in the database */
	int			 next;		/* index into migrations[] */
};

static void	migrate_step(struct migrate *);

static void
migrate_end(struct migrate *m, bool ok)
{
	m->cb(ok, m->have, m->arg);
	free(m);
}

static void
migrate_fail(struct migrate *m, const struct db_res *res, const char *what)
{
	if (!res->unavailable)
		log_error("migration: %s: %s", what,
		    res->message ? res->message : "?");
	if (m->txn != NULL)
		db_txn_rollback(m->txn);
	migrate_end(m, false);
}

static void
migrate_commit_cb(const struct db_res *res, void *arg)
{
	struct migrate	*m = arg;

	m->txn = NULL;
	if (!res->ok) {
		migrate_fail(m, res, "COMMIT");
		return;
	}
	migrate_end(m, true);
}

static void
migrate_recorded_cb(const struct db_res *res, void *arg)
{
	struct migrate	*m = arg;

	if (!res->ok) {
		migrate_fail(m, res, "recording a migration");
		return;
	}
	log_info("applied migration %s", migrations[m->next].name);
	m->have = migrations[m->next].version;
	m->next++;
	migrate_step(m);
}

static void
migrate_applied_cb(const struct db_res *res, void *arg)
{
	struct migrate	*m = arg;
	char		 ver[16];
	const char	*p[2];

	if (!res->ok) {
		migrate_fail(m, res, migrations[m->next].name);
		return;
	}
	snprintf(ver, sizeof ver, "%d", migrations[m->next].version);
	p[0] = ver;
	p[1] = migrations[m->next].name;
	db_txn_query(m->txn, "INSERT INTO dsrd_migrations (version, name, "
	    "applied_at) VALUES ($1, $2, clock_timestamp())", 2, p,
	    migrate_recorded_cb, m);
}

static void
migrate_step(struct migrate *m)
{
	while (m->next < n_migrations &&
	    migrations[m->next].version <= m->have)
		m->next++;
	if (m->next >= n_migrations) {
		db_txn_commit(m->txn, migrate_commit_cb, m);
		return;
	}
	db_txn_query(m->txn, migrations[m->next].sql, -1, NULL,
	    migrate_applied_cb, m);
}

static void
migrate_version_cb(const struct db_res *res, void *arg)
{
	struct migrate	*m = arg;
	int		 latest = n_migrations ? migrations[n_migrations - 1].version : 0;

	if (!res->ok) {
		migrate_fail(m, res, "reading dsrd_migrations");
		return;
	}
	m->have = atoi(db_value(res, 0, 0));
	if (m->have > latest)
		log_warn("the database schema (version %d) is newer than this "
		    "dsrd (version %d): upgrade dsrd", m->have, latest);
	migrate_step(m);
}

static void
migrate_table_cb(const struct db_res *res, void *arg)
{
	struct migrate	*m = arg;

	if (!res->ok) {
		migrate_fail(m, res, "creating dsrd_migrations");
		return;
	}
	db_txn_query(m->txn, "SELECT coalesce(max(version), 0) "
	    "FROM dsrd_migrations", 0, NULL, migrate_version_cb, m);
}

static void
migrate_locked_cb(const struct db_res *res, void *arg)
{
	struct migrate	*m = arg;

	if (!res->ok) {
		migrate_fail(m, res, "advisory lock");
		return;
	}
	db_txn_query(m->txn, "CREATE TABLE IF NOT EXISTS dsrd_migrations ("
	    "version integer PRIMARY KEY, name text NOT NULL, "
	    "applied_at timestamptz NOT NULL)", 0, NULL, migrate_table_cb, m);
}

static void
migrate_begin_cb(struct db_txn *txn, const struct db_res *res, void *arg)
{
	struct migrate	*m = arg;

	if (txn == NULL) {
		migrate_fail(m, res, "BEGIN");
		return;
	}
	m->txn = txn;
	/* Several daemons may start together: one migrates, the others wait
	   and then find nothing to do. */
	db_txn_query(txn, "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ")", 0,
	    NULL, migrate_locked_cb, m);
}

void
store_migrate(struct db *db, store_migrate_cb *cb, void *arg)
{
	struct migrate	*m = xcalloc(1, sizeof *m);

	m->db = db;
	m->cb = cb;
	m->arg = arg;
	db_begin(db, migrate_begin_cb, m);
}

/* ---- entities ---------------------------------------------------------- */

static void
entity_add_cb(const struct db_res *res, void *arg)
{
	struct sq	*sq = arg;

	if (!res->ok && res->sqlstate != NULL &&
	    strcmp(res->sqlstate, "23505") == 0) {
		sq_done(sq, E_CONFLICT, "code: a body with this code exists "
		    "already", NULL);
		return;
	}
	if (!res->ok) {
		sq_fail(sq, res, "entity.add");
		return;
	}
	sq_done(sq, 0, NULL, entity_json(res, 0));
}

void
store_entity_add(struct db *db, const struct entity_in *in,
    const struct actor *who, time_t now, store_cb *cb, void *arg)
{
	struct sq	*sq = sq_new(db, cb, arg, 0);
	char		 hol[CAL_MAX_LOCAL * 6 + 1], at[21], uid[16];
	const char	*p[9];

	cal_local_format(&in->holidays, hol, sizeof hol);
	store_format_instant(now, at);
	snprintf(uid, sizeof uid, "%u", who->uid);
	p[0] = in->code;
	p[1] = in->name;
	p[2] = in->email;
	p[3] = in->dpo_email;
	p[4] = hol;
	p[5] = at;
	p[6] = who->user;
	p[7] = uid;
	p[8] = who->role;
	db_query(db,
	    "WITH e AS (INSERT INTO entities (code, name, email, dpo_email, "
	    "holidays, created_at) VALUES ($1, $2, $3, $4, "
	    "coalesce(string_to_array(nullif($5, ''), ','), '{}'), $6) "
	    "RETURNING *), "
	    "a AS (INSERT INTO audit_events (entity_id, at, actor, actor_uid, "
	    "actor_role, action) SELECT id, $6, $7, $8, $9, 'entity.add' "
	    "FROM e) "
	    "SELECT " ENTITY_COLS " FROM e", 9, p, entity_add_cb, sq);
}

static void
entity_list_cb(const struct db_res *res, void *arg)
{
	struct sq	*sq = arg;
	cJSON		*o, *a;

	if (!res->ok) {
		sq_fail(sq, res, "entity.list");
		return;
	}
	o = cJSON_CreateObject();
	a = cJSON_AddArrayToObject(o, "entities");
	for (int i = 0; i < db_ntuples(res); i++)
		cJSON_AddItemToArray(a, entity_json(res, i));
	sq_done(sq, 0, NULL, o);
}

void
store_entity_list(struct db *db, store_cb *cb, void *arg)
{
	db_query(db, "SELECT " ENTITY_COLS " FROM entities e ORDER BY e.code",
	    0, NULL, entity_list_cb, sq_new(db, cb, arg, 0));
}

struct eget {
	store_entity_cb	*cb;
	void		*arg;
};

static void
entity_get_cb(const struct db_res *res, void *arg)
{
	struct eget		*g = arg;
	struct entity_ref	 ref = { 0 };
	char			*cause = NULL;
	int			 err = 0;

	if (!res->ok)
		err = res->unavailable ? E_UNAVAILABLE : E_INTERNAL;
	else if (db_ntuples(res) == 0)
		err = E_NOT_FOUND;
	else {
		ref.id = strtoll(db_value(res, 0, 0), NULL, 10);
		if (cal_local_parse(db_value(res, 0, 1), &ref.holidays,
		    &cause) != 0) {
			/* The CHECK constraint makes this a corrupt row. */
			log_error("entity %lld: bad holidays in the database: %s",
			    ref.id, cause);
			free(cause);
			err = E_INTERNAL;
		}
	}
	if (!res->ok && !res->unavailable)
		log_error("entity lookup: %s", res->message ? res->message : "?");
	g->cb(err, err ? NULL : &ref, g->arg);
	free(g);
}

void
store_entity_get(struct db *db, const char *code, store_entity_cb *cb,
    void *arg)
{
	struct eget	*g = xmalloc(sizeof *g);
	const char	*p[1] = { code };

	g->cb = cb;
	g->arg = arg;
	db_query(db, "SELECT id, array_to_string(holidays, ',') FROM entities "
	    "WHERE code = $1", 1, p, entity_get_cb, g);
}

/* ---- requests ---------------------------------------------------------- */

static const char request_file_sql[] =
    "WITH ins AS ("
    " INSERT INTO requests (entity_id, type, subject_name, subject_tax_code,"
    "  subject_email, channel, protocol, summary, received_on,"
    "  statutory_due_on, due_on, idempotency_key, created_at, updated_at)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $12)"
    " ON CONFLICT (entity_id, idempotency_key) DO NOTHING"
    " RETURNING *), "
    "aud AS ("
    " INSERT INTO audit_events (request_id, entity_id, at, actor, actor_uid,"
    "  actor_role, action)"
    " SELECT id, entity_id, $12, $13, $14, $15, 'file' FROM ins), "
    "r AS ("
    " SELECT ins.*, true AS created FROM ins"
    " UNION ALL"
    " SELECT requests.*, false FROM requests"
    " WHERE entity_id = $1 AND idempotency_key = $11"
    " AND NOT EXISTS (SELECT 1 FROM ins)) "
    "SELECT " REQ_COLS ", r.created FROM r JOIN entities e "
    "ON e.id = r.entity_id";

static void
request_file_cb(const struct db_res *res, void *arg)
{
	struct sq	*sq = arg;
	cJSON		*o;

	if (!res->ok) {
		sq_fail(sq, res, "request.file");
		return;
	}
	if (db_ntuples(res) == 0) {
		/*
		 * The key was taken by a transaction that committed after our
		 * snapshot: the insert saw the conflict, the select could not
		 * see the row. Once more and it will.
		 */
		if (sq->retries++ < 3) {
			db_query(sq->db, sq->sql, sq->nparams,
			    (const char *const *)sq->params, request_file_cb, sq);
			return;
		}
		sq_done(sq, E_INTERNAL, "internal error (logged)", NULL);
		log_error("request.file: idempotency key lookup kept failing");
		return;
	}
	o = req_json(res, 0, 0, sq->today);
	cJSON_AddBoolToObject(o, "created",
	    strcmp(db_value(res, 0, REQ_NCOLS), "t") == 0);
	if (cJSON_IsTrue(cJSON_GetObjectItem(o, "created")))
		log_info("request %.0f filed (%s, body %s)",
		    cJSON_GetObjectItem(o, "id")->valuedouble,
		    cJSON_GetObjectItem(o, "type")->valuestring,
		    cJSON_GetObjectItem(o, "entity")->valuestring);
	sq_done(sq, 0, NULL, o);
}

void
store_request_file(struct db *db, const struct request_in *in,
    const struct actor *who, time_t now, int today, store_cb *cb, void *arg)
{
	struct sq	*sq = sq_new(db, cb, arg, today);
	char		 rec[11], due[11], at[21];

	cal_format_date(in->received_on, rec);
	cal_format_date(in->statutory_due_on, due);
	store_format_instant(now, at);
	sq->sql = xstrdup(request_file_sql);
	sq->nparams = 15;
	sq->params = xcalloc(15, sizeof *sq->params);
#define P(i, v)	sq->params[i] = (v) != NULL ? xstrdup(v) : NULL
	sq->params[0] = xasprintf("%lld", in->entity_id);
	P(1, req_type_names[in->type]);
	P(2, in->subject_name);
	P(3, in->subject_tax_code);
	P(4, in->subject_email);
	P(5, in->channel >= 0 ? req_channel_names[in->channel] : NULL);
	P(6, in->protocol);
	P(7, in->summary);
	P(8, rec);
	P(9, due);
	P(10, in->idempotency_key);
	P(11, at);
	P(12, who->user);
	sq->params[13] = xasprintf("%u", who->uid);
	P(14, who->role);
#undef P
	db_query(db, sq->sql, sq->nparams, (const char *const *)sq->params,
	    request_file_cb, sq);
}

static void
request_show_cb(const struct db_res *res, void *arg)
{
	struct sq	*sq = arg;
	cJSON		*o, *h;

	if (!res->ok) {
		sq_fail(sq, res, "request.show");
		return;
	}
	if (db_ntuples(res) == 0) {
		sq_done(sq, E_NOT_FOUND, "no such request", NULL);
		return;
	}
	o = req_json(res, 0, 0, sq->today);
	h = cJSON_Parse(db_value(res, 0, REQ_NCOLS));
	if (h == NULL)
		h = cJSON_CreateArray();
	cJSON_AddItemToObject(o, "history", h);
	sq_done(sq, 0, NULL, o);
}

void
store_request_show(struct db *db, long long id, int today, store_cb *cb,
    void *arg)
{
	char		 ids[24];
	const char	*p[1] = { ids };

	snprintf(ids, sizeof ids, "%lld", id);
	db_query(db, "SELECT " REQ_COLS ", (SELECT coalesce(json_agg("
	    "json_build_object('seq', a.seq, 'at', " INSTANT("a.at") ", "
	    "'action', a.action, 'actor', a.actor, 'role', a.actor_role, "
	    "'note', a.note) ORDER BY a.seq), '[]') FROM audit_events a "
	    "WHERE a.request_id = r.id) "
	    "FROM requests r JOIN entities e ON e.id = r.entity_id "
	    "WHERE r.id = $1", 1, p, request_show_cb,
	    sq_new(db, cb, arg, today));
}

static void
request_list_cb(const struct db_res *res, void *arg)
{
	struct sq	*sq = arg;
	cJSON		*o, *a;
	int		 n;

	if (!res->ok) {
		sq_fail(sq, res, "request.list");
		return;
	}
	n = db_ntuples(res);
	/* Row 0 tells whether the body exists, whatever the filters. */
	if (n > 0 && strcmp(db_value(res, 0, 0), "f") == 0) {
		sq_done(sq, E_NOT_FOUND, "entity: no such body", NULL);
		return;
	}
	o = cJSON_CreateObject();
	a = cJSON_AddArrayToObject(o, "requests");
	for (int i = 0; i < n; i++)
		if (db_value(res, i, 1) != NULL)
			cJSON_AddItemToArray(a, req_json(res, i, 1, sq->today));
	cJSON_AddNumberToObject(o, "count", cJSON_GetArraySize(a));
	sq_done(sq, 0, NULL, o);
}

void
store_request_list(struct db *db, const struct request_filter *f, int today,
    store_cb *cb, void *arg)
{
	struct buf	 sql;
	const char	*p[6];
	char		 todays[11], within[11], limit[24];
	int		 n = 0;

	cal_format_date(today, todays);
	buf_init(&sql);
	/*
	 * A body that does not exist is an error, not an empty list: the
	 * first CTE answers that in the same round trip (one row with
	 * known = false and no request when it is unknown).
	 */
	p[n++] = f->entity;
	buf_adds(&sql, "WITH b AS (SELECT ($1::text IS NULL OR EXISTS (SELECT 1 "
	    "FROM entities WHERE code = $1)) AS known), l AS (SELECT "
	    REQ_COLS ", r.status IN ('completed', 'rejected', 'withdrawn') "
	    "AS sort_closed, r.due_on AS sort_due FROM requests r JOIN entities e ON e.id = r.entity_id "
	    "WHERE ($1::text IS NULL OR e.code = $1)");
	if (f->status >= 0) {
		p[n++] = req_status_names[f->status];
		buf_addf(&sql, " AND r.status = $%d", n);
	}
	if (f->type >= 0) {
		p[n++] = req_type_names[f->type];
		buf_addf(&sql, " AND r.type = $%d", n);
	}
	if (f->overdue || f->due_within >= 0)
		buf_adds(&sql, " AND r.status IN ('received', 'forwarded', "
		    "'awaiting_subject')");
	if (f->overdue) {
		p[n++] = todays;
		buf_addf(&sql, " AND r.due_on < $%d", n);
	}
	if (f->due_within >= 0) {
		cal_format_date(today + (int)f->due_within, within);
		p[n++] = within;
		buf_addf(&sql, " AND r.due_on <= $%d", n);
	}
	snprintf(limit, sizeof limit, "%lld", f->limit);
	p[n++] = limit;
	buf_addf(&sql, " ORDER BY r.status IN ('completed', 'rejected', "
	    "'withdrawn'), r.due_on, r.id LIMIT $%d) "
	    "SELECT b.known, l.* FROM b LEFT JOIN l ON b.known "
	    "ORDER BY l.sort_closed, l.sort_due, l.id", n);
	db_query(db, sql.data, n, p, request_list_cb,
	    sq_new(db, cb, arg, today));
	buf_free(&sql);
}
