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
#include "deadline.h"
#include "lifecycle.h"
#include "log.h"
#include "migrations.h"
#include "proto.h"
#include "store.h"
#include "store-task.h"
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
	INSTANT("r.created_at") ", " DATE("r.extended_on") ", "		\
	"r.extension_reason, r.reject_reason, r.outcome_note, "		\
	"r.paused_days, " DATE("r.awaiting_since") ", "			\
	INSTANT("r.next_alert_at") ", array_to_json(r.subject_categories)"
#define REQ_NCOLS	27

#define HISTORY_SQL							\
	"(SELECT coalesce(json_agg(json_build_object('seq', a.seq, "	\
	"'at', " INSTANT("a.at") ", 'action', a.action, "		\
	"'actor', a.actor, 'uid', a.actor_uid, 'role', a.actor_role, "	\
	"'note', a.note, 'details', a.details) ORDER BY a.seq), '[]') "	\
	"FROM audit_events a WHERE a.request_id = r.id)"

/* The staff role sees the requests of its own body only: those of bodies
   whose staff directory names the caller's Unix user ($n NULL: all). */
#define SCOPE(n)							\
	"(" n "::text IS NULL OR EXISTS (SELECT 1 FROM staff sc "	\
	"WHERE sc.entity_id = r.entity_id AND sc.unix_user = " n "))"

#define ENTITY_COLS							\
	"e.code, e.name, e.email, e.dpo_email, "			\
	"array_to_string(e.holidays, ','), " INSTANT("e.created_at")

/* Advisory lock key of the migrations: "dsrd" in ASCII. */
#define MIGRATE_LOCK	"1685287524"

bool	store_pause_on_await = true;

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

/*
 * A request row (REQ_COLS from column c0) as the members of the protocol's
 * object, written straight from the row: no cJSON tree for the hot answers
 * (file, show, list), whose building, printing and freeing was most of
 * dsrd's CPU for them. The caller writes the braces, and may add members.
 */
static void
req_write(struct buf *b, const struct db_res *res, int row, int c0, int today)
{
	static const char *const	 keys[] = {
		",\"channel\":", ",\"protocol\":", ",\"summary\":",
		",\"received_on\":", ",\"forwarded_on\":",
		",\"statutory_due_on\":", ",\"operational_due_on\":",
		",\"due_on\":"
	};
	static const char *const	 keys2[] = {
		",\"closed_on\":", ",\"outcome\":", ",\"created_at\":",
		",\"extended_on\":", ",\"extension_reason\":",
		",\"reject_reason\":", ",\"outcome_note\":"
	};
	char		 todays[11];
	const char	*status = db_value(res, row, c0 + 3);
	const char	*due = db_value(res, row, c0 + 14);
	const char	*v;
	bool		 overdue;

	cal_format_date(today, todays);
	/* Overdue: still open after the end of its due day, and its clocks
	   running (not stopped while it awaits the person). */
	overdue = !is_final(status) && due != NULL && strcmp(due, todays) < 0 &&
	    !(store_pause_on_await && strcmp(status, "awaiting_subject") == 0);
	buf_adds(b, "\"id\":");
	buf_adds(b, db_value(res, row, c0));	/* bigint: a JSON number */
	buf_adds(b, ",\"entity\":");
	buf_add_json_str(b, db_value(res, row, c0 + 1));
	buf_adds(b, ",\"type\":");
	buf_add_json_str(b, db_value(res, row, c0 + 2));
	buf_adds(b, ",\"status\":");
	buf_add_json_str(b, status);
	buf_adds(b, ",\"subject\":{\"name\":");
	buf_add_json_str(b, db_value(res, row, c0 + 4));
	buf_adds(b, ",\"tax_code\":");
	buf_add_json_str(b, db_value(res, row, c0 + 5));
	buf_adds(b, ",\"email\":");
	buf_add_json_str(b, db_value(res, row, c0 + 6));
	buf_adds(b, "}");
	for (size_t i = 0; i < nitems(keys); i++) {
		buf_adds(b, keys[i]);
		buf_add_json_str(b, db_value(res, row, c0 + 7 + (int)i));
	}
	buf_adds(b, strcmp(db_value(res, row, c0 + 15), "t") == 0 ?
	    ",\"extended\":true" : ",\"extended\":false");
	buf_adds(b, overdue ? ",\"overdue\":true" : ",\"overdue\":false");
	for (size_t i = 0; i < nitems(keys2); i++) {
		buf_adds(b, keys2[i]);
		buf_add_json_str(b, db_value(res, row, c0 + 16 + (int)i));
	}
	buf_adds(b, ",\"paused_days\":");
	v = db_value(res, row, c0 + 23);	/* integer: a JSON number */
	buf_adds(b, v != NULL ? v : "0");
	buf_adds(b, ",\"awaiting_since\":");
	buf_add_json_str(b, db_value(res, row, c0 + 24));
	buf_adds(b, ",\"next_alert_at\":");
	buf_add_json_str(b, db_value(res, row, c0 + 25));
	buf_adds(b, ",\"subject_categories\":");
	buf_add_json_text(b, db_value(res, row, c0 + 26), "[]");
}

/* The same as a cJSON tree, for the answers that add to it (lifecycle). */
static cJSON *
req_json(const struct db_res *res, int row, int c0, int today)
{
	struct buf	 b;
	cJSON		*o;

	buf_init(&b);
	buf_add(&b, "{", 1);
	req_write(&b, res, row, c0, today);
	buf_add(&b, "}", 1);
	o = cJSON_ParseWithLength(b.data, b.len);
	buf_free(&b);
	if (o == NULL) {
		/* A bug of req_write, never a reason to stop the daemon. */
		log_error("req_json: request %s: could not read back its JSON",
		    db_value(res, row, c0));
		o = cJSON_CreateObject();
	}
	return o;
}

/* A JSON text written with buf_*, as the raw result of a command. */
static cJSON *
raw_json(struct buf *b)
{
	cJSON	*o = cJSON_CreateRaw(b->data);

	if (o == NULL)
		fatalx("cJSON_CreateRaw: out of memory");
	buf_free(b);
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

/* Heap text of a day, NULL for DL_NONE. */
static char *
date_param(int day)
{
	char	buf[11];

	if (day == DL_NONE)
		return NULL;
	cal_format_date(day, buf);
	return xstrdup(buf);
}

/* Heap RFC 3339 text of an instant, NULL for DL_NO_TIME. */
static char *
instant_param(time_t t)
{
	char	buf[21];

	if (t == DL_NO_TIME)
		return NULL;
	store_format_instant(t, buf);
	return xstrdup(buf);
}

/* A day from the database's text, DL_NONE for NULL. */
static int
date_value(const struct db_res *res, int row, int col)
{
	const char	*v = db_value(res, row, col);
	int		 day;

	if (v == NULL || cal_parse_date(v, &day) != 0)
		return DL_NONE;
	return day;
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

/*
 * Bodies as filing needs them (id and local holidays), by code, so that a
 * filing is one round trip. dsrd never deletes, renames or changes a body
 * (entity.add is all there is), so an entry cannot go stale through dsrd,
 * here or in another daemon on the same database; an entry lives a minute
 * all the same, for a hand-made change. An unknown code is not cached: the
 * body may be added the next moment, elsewhere.
 */
#define ECACHE_BUCKETS	256
#define ECACHE_MAX	4096		/* entries; then it starts afresh */
#define ECACHE_TTL_MS	60000		/* a monotonic lifetime, not "now" */

struct ecache_ent {
	char			*code;
	struct entity_ref	 ref;
	long long		 until;		/* mono_ms() */
	struct ecache_ent	*next;
};

static struct ecache_ent	*ecache[ECACHE_BUCKETS];
static int			 ecache_n;

static unsigned
ecache_hash(const char *code)
{
	return (unsigned)(str_hash(code) % ECACHE_BUCKETS);
}

static void
ecache_clear(void)
{
	struct ecache_ent	*e, *next;

	for (int i = 0; i < ECACHE_BUCKETS; i++) {
		for (e = ecache[i]; e != NULL; e = next) {
			next = e->next;
			free(e->code);
			free(e);
		}
		ecache[i] = NULL;
	}
	ecache_n = 0;
}

static void
ecache_put(const char *code, const struct entity_ref *ref)
{
	unsigned		 h = ecache_hash(code);
	struct ecache_ent	*e;

	for (e = ecache[h]; e != NULL; e = e->next)
		if (strcmp(e->code, code) == 0)
			break;
	if (e == NULL) {
		if (ecache_n >= ECACHE_MAX)
			ecache_clear();
		e = xcalloc(1, sizeof *e);
		e->code = xstrdup(code);
		e->next = ecache[h];
		ecache[h] = e;
		ecache_n++;
	}
	e->ref = *ref;
	e->until = mono_ms() + ECACHE_TTL_MS;
}

bool
store_entity_cached(const char *code, struct entity_ref *out)
{
	struct ecache_ent	*e;

	for (e = ecache[ecache_hash(code)]; e != NULL; e = e->next)
		if (strcmp(e->code, code) == 0) {
			if (mono_ms() >= e->until)
				return false;
			*out = e->ref;
			return true;
		}
	return false;
}

struct eget {
	store_entity_cb	*cb;
	void		*arg;
	char		*code;
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
	if (err == 0)
		ecache_put(g->code, &ref);
	g->cb(err, err ? NULL : &ref, g->arg);
	free(g->code);
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
	g->code = xstrdup(code);
	db_query(db, "SELECT id, array_to_string(holidays, ',') FROM entities "
	    "WHERE code = $1", 1, p, entity_get_cb, g);
}

/* ---- requests ---------------------------------------------------------- */

static const char request_file_sql[] =
    "WITH ins AS ("
    " INSERT INTO requests (entity_id, type, subject_name, subject_tax_code,"
    "  subject_email, channel, protocol, summary, received_on,"
    "  statutory_due_on, due_on, idempotency_key, created_at, updated_at,"
    "  next_alert_at, subject_categories)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12, $12,"
    "  $16, coalesce($19::text[], '{}'))"
    " ON CONFLICT (entity_id, idempotency_key) DO NOTHING"
    " RETURNING *), "
    "ob AS ("
    " INSERT INTO outbox (event, request_id, entity_id, channel, recipient,"
    "  payload, next_attempt_at, created_at, age_from)"
    " SELECT 'request.filed', ins.id, ins.entity_id, rc.channel,"
    "  rc.recipient, jsonb_build_object('event', 'request.filed', 'at', $12,"
    "  'request', dsrd_request_public(ins::requests)), $12, $12, $12"
    " FROM ins, dsrd_recipients(ins.entity_id, 'request.filed', $17,"
    "  $18::text[]) rc), "
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
	struct buf	 b;
	cJSON		*o;
	bool		 created;

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
			db_query_named(sq->db, "dsrd_file", sq->sql,
			    sq->nparams, (const char *const *)sq->params,
			    request_file_cb, sq);
			return;
		}
		sq_done(sq, E_INTERNAL, "internal error (logged)", NULL);
		log_error("request.file: idempotency key lookup kept failing");
		return;
	}
	created = strcmp(db_value(res, 0, REQ_NCOLS), "t") == 0;
	buf_init(&b);
	buf_adds(&b, "{");
	req_write(&b, res, 0, 0, sq->today);
	buf_adds(&b, created ? ",\"created\":true}" : ",\"created\":false}");
	o = raw_json(&b);
	/* The clerk's answer first, the log line after it (res is ours
	   until we return). */
	sq_done(sq, 0, NULL, o);
	if (created)
		log_info("request %s filed (%s, body %s)", db_value(res, 0, 0),
		    db_value(res, 0, 2), db_value(res, 0, 1));
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
	sq->nparams = 19;
	sq->params = xcalloc(19, sizeof *sq->params);
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
	sq->params[15] = instant_param(in->next_alert_at);
	P(16, in->notify.dpo_email);
	P(17, in->notify.webhooks);
	P(18, in->subject_categories);
#undef P
	db_query_named(db, "dsrd_file", sq->sql, sq->nparams,
	    (const char *const *)sq->params, request_file_cb, sq);
}

static void
request_show_cb(const struct db_res *res, void *arg)
{
	struct sq	*sq = arg;
	struct buf	 b;
	cJSON		*o;

	if (!res->ok) {
		sq_fail(sq, res, "request.show");
		return;
	}
	if (db_ntuples(res) == 0) {
		sq_done(sq, E_NOT_FOUND, "no such request", NULL);
		return;
	}
	buf_init(&b);
	buf_adds(&b, "{");
	req_write(&b, res, 0, 0, sq->today);
	buf_adds(&b, ",\"history\":");
	buf_add_json_text(&b, db_value(res, 0, REQ_NCOLS), "[]");
	buf_adds(&b, ",\"tasks\":");
	buf_add_json_text(&b, db_value(res, 0, REQ_NCOLS + 1), "[]");
	buf_adds(&b, ",\"recipients_informed\":");
	buf_add_json_text(&b, db_value(res, 0, REQ_NCOLS + 2), "[]");
	buf_adds(&b, "}");
	o = raw_json(&b);
	sq_done(sq, 0, NULL, o);
}

void
store_request_show(struct db *db, long long id, const char *scope, int today,
    store_cb *cb, void *arg)
{
	char		 ids[24];
	const char	*p[2] = { ids, scope };

	snprintf(ids, sizeof ids, "%lld", id);
	db_query_named(db, "dsrd_show", "SELECT " REQ_COLS ", " HISTORY_SQL ", "
	    TASKS_OF_REQUEST_SQL ", " RECIPIENTS_INFORMED_SQL " "
	    "FROM requests r JOIN entities e ON e.id = r.entity_id "
	    "WHERE r.id = $1 AND " SCOPE("$2"), 2, p, request_show_cb,
	    sq_new(db, cb, arg, today));
}

static void
request_list_cb(const struct db_res *res, void *arg)
{
	struct sq	*sq = arg;
	struct buf	 b;
	cJSON		*o;
	int		 n, count = 0;

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
	buf_init(&b);
	buf_adds(&b, "{\"requests\":[");
	for (int i = 0; i < n; i++) {
		if (db_value(res, i, 1) == NULL)
			continue;
		buf_adds(&b, count++ > 0 ? ",{" : "{");
		req_write(&b, res, i, 1, sq->today);
		buf_adds(&b, "}");
	}
	buf_addf(&b, "],\"count\":%d}", count);
	o = raw_json(&b);
	sq_done(sq, 0, NULL, o);
}

void
store_request_list(struct db *db, const struct request_filter *f, int today,
    store_cb *cb, void *arg)
{
	struct buf	 sql, where;
	const char	*p[7];
	char		 todays[11], within[11], limit[24];
	int		 n = 0;
	bool		 open_only, closed_only;

	cal_format_date(today, todays);
	buf_init(&sql);
	buf_init(&where);
	/*
	 * A body that does not exist is an error, not an empty list: the
	 * first CTE answers that in the same round trip (one row with
	 * known = false and no request when it is unknown).
	 */
	/* The body as its id (an InitPlan), so that the planner reads
	   requests_entity_due for it rather than the whole due order. */
	p[n++] = f->entity;
	buf_adds(&where, "($1::text IS NULL OR r.entity_id = (SELECT id "
	    "FROM entities WHERE code = $1))");
	if (f->scope != NULL) {
		p[n++] = f->scope;
		buf_addf(&where, " AND EXISTS (SELECT 1 FROM staff sc WHERE "
		    "sc.entity_id = r.entity_id AND sc.unix_user = $%d)", n);
	}
	if (f->status >= 0) {
		p[n++] = req_status_names[f->status];
		buf_addf(&where, " AND r.status = $%d", n);
	}
	if (f->type >= 0) {
		p[n++] = req_type_names[f->type];
		buf_addf(&where, " AND r.type = $%d", n);
	}
	if (f->overdue || f->due_within >= 0)
		buf_adds(&where, store_pause_on_await ?
		    " AND r.status IN ('received', 'forwarded')" :
		    " AND r.status IN ('received', 'forwarded', "
		    "'awaiting_subject')");
	if (f->overdue) {
		p[n++] = todays;
		buf_addf(&where, " AND r.due_on < $%d", n);
	}
	if (f->due_within >= 0) {
		cal_format_date(today + (int)f->due_within, within);
		p[n++] = within;
		buf_addf(&where, " AND r.due_on <= $%d", n);
	}
	snprintf(limit, sizeof limit, "%lld", f->limit);
	p[n++] = limit;
	closed_only = f->status >= 0 && lc_is_final((enum req_status)f->status);
	open_only = f->overdue || f->due_within >= 0 ||
	    (f->status >= 0 && !closed_only);
	/*
	 * Open requests first, then closed ones, each soonest due first.
	 * Each half is read on its own, in the order of its partial index
	 * (requests_open_due, requests_closed_due) and stopped at the limit;
	 * one ORDER BY over both (closed last, then due date) has no index,
	 * and sorted every match: 1.7 s for a plain list of a million.
	 */
	buf_adds(&sql, "WITH b AS (SELECT ($1::text IS NULL OR EXISTS "
	    "(SELECT 1 FROM entities WHERE code = $1)) AS known), "
	    "l AS (SELECT * FROM (");
	if (!closed_only)
		buf_addf(&sql, "(SELECT " REQ_COLS ", false AS sort_closed, "
		    "r.due_on AS sort_due FROM requests r JOIN entities e "
		    "ON e.id = r.entity_id WHERE r.status IN ('received', "
		    "'forwarded', 'awaiting_subject') AND %s "
		    "ORDER BY r.due_on, r.id LIMIT $%d)", where.data, n);
	if (!closed_only && !open_only)
		buf_adds(&sql, " UNION ALL ");
	if (!open_only)
		buf_addf(&sql, "(SELECT " REQ_COLS ", true AS sort_closed, "
		    "r.due_on AS sort_due FROM requests r JOIN entities e "
		    "ON e.id = r.entity_id WHERE r.status IN ('completed', "
		    "'rejected', 'withdrawn') AND %s "
		    "ORDER BY r.due_on, r.id LIMIT $%d)", where.data, n);
	buf_addf(&sql, ") u ORDER BY u.sort_closed, u.sort_due, u.id "
	    "LIMIT $%d) "
	    "SELECT b.known, l.* FROM b LEFT JOIN l ON b.known "
	    "ORDER BY l.sort_closed, l.sort_due, l.id", n);
	db_query(db, sql.data, n, p, request_list_cb,
	    sq_new(db, cb, arg, today));
	buf_free(&where);
	buf_free(&sql);
}

/* ---- lifecycle ---------------------------------------------------------- */

/* The columns of a request_row, in the order row_decode() reads them. */
#define ROW_COLS							\
	"r.id, r.entity_id, r.type, r.status, r.status_before_await, "	\
	DATE("r.received_on") ", " DATE("r.forwarded_on") ", "		\
	DATE("r.awaiting_since") ", " DATE("r.extended_on") ", "	\
	"r.extended, r.paused_days, r.op_paused_days, "			\
	DATE("r.statutory_due_on") ", " DATE("r.due_on") ", "		\
	"extract(epoch FROM r.alerts_after)::bigint, "			\
	"array_to_string(e.holidays, ',')"

static int
row_decode(const struct db_res *res, int i, struct request_row *r)
{
	const char	*v;
	char		*cause = NULL;

	memset(r, 0, sizeof *r);
	r->id = strtoll(db_value(res, i, 0), NULL, 10);
	r->entity_id = strtoll(db_value(res, i, 1), NULL, 10);
	r->type = val_lookup(db_value(res, i, 2), req_type_names,
	    REQ_TYPE_COUNT);
	r->status = val_lookup(db_value(res, i, 3), req_status_names, ST_COUNT);
	v = db_value(res, i, 4);
	r->status_before = v ? val_lookup(v, req_status_names, ST_COUNT) : -1;
	r->received_on = date_value(res, i, 5);
	r->forwarded_on = date_value(res, i, 6);
	r->awaiting_since = date_value(res, i, 7);
	r->extended_on = date_value(res, i, 8);
	r->extended = strcmp(db_value(res, i, 9), "t") == 0;
	r->paused_days = atoi(db_value(res, i, 10));
	r->op_paused_days = atoi(db_value(res, i, 11));
	r->statutory_due_on = date_value(res, i, 12);
	r->due_on = date_value(res, i, 13);
	v = db_value(res, i, 14);
	r->alerts_after = v ? (time_t)strtoll(v, NULL, 10) : DL_NO_TIME;
	if (r->type < 0 || r->status < 0 || r->received_on == DL_NONE ||
	    cal_local_parse(db_value(res, i, 15), &r->holidays, &cause) != 0) {
		free(cause);
		log_error("request %lld: unreadable row", r->id);
		return -1;
	}
	return 0;
}

struct store_tx {
	struct db	*db;
	struct db_txn	*txn;
	store_lock_cb	*lock_cb;
	store_cb	*cb;
	void		*arg;
	int		 today;
	long long	 id;
	char		*params[28];
	int		 nparams;
	cJSON		*json;		/* the answer, once committed */
	char		*scope;		/* staff: the caller's Unix user */
	void		(*hook)(struct store_tx *, struct db_txn *, cJSON *,
			    void *);
	void		*hook_arg;
};

static void
tx_free(struct store_tx *tx)
{
	for (int i = 0; i < tx->nparams; i++)
		free(tx->params[i]);
	cJSON_Delete(tx->json);
	free(tx->scope);
	free(tx);
}

void
store_tx_abort(struct store_tx *tx)
{
	if (tx->txn != NULL)
		db_txn_rollback(tx->txn);
	tx_free(tx);
}

const char *
store_err_msg(int err)
{
	if (err == 0)
		return NULL;
	return err == E_UNAVAILABLE ? "database unavailable" :
	    "internal error (logged)";
}

int
store_db_err(const struct db_res *res, const char *what)
{
	if (res->unavailable)
		return E_UNAVAILABLE;
	log_error("%s: SQL error %s: %s", what,
	    res->sqlstate ? res->sqlstate : "?",
	    res->message ? res->message : "?");
	return E_INTERNAL;
}

static void
lock_row_cb(const struct db_res *res, void *arg)
{
	struct store_tx		*tx = arg;
	struct request_row	 row;
	int			 err = 0;

	if (!res->ok)
		err = store_db_err(res, "request lock");
	else if (db_ntuples(res) == 0)
		err = E_NOT_FOUND;
	else if (row_decode(res, 0, &row) != 0)
		err = E_INTERNAL;
	if (err != 0) {
		tx->lock_cb(NULL, err, NULL, tx->arg);
		store_tx_abort(tx);
		return;
	}
	tx->lock_cb(tx, 0, &row, tx->arg);
}

static void
lock_begin_cb(struct db_txn *txn, const struct db_res *res, void *arg)
{
	struct store_tx	*tx = arg;
	char		 ids[24];
	const char	*p[2] = { ids, tx->scope };

	if (txn == NULL) {
		tx->lock_cb(NULL, store_db_err(res, "BEGIN"), NULL, tx->arg);
		tx_free(tx);
		return;
	}
	tx->txn = txn;
	snprintf(ids, sizeof ids, "%lld", tx->id);
	db_txn_query(txn, "SELECT " ROW_COLS " FROM requests r JOIN entities e "
	    "ON e.id = r.entity_id WHERE r.id = $1 AND " SCOPE("$2")
	    " FOR UPDATE OF r", 2, p, lock_row_cb, tx);
}

void
store_request_lock(struct db *db, long long id, const char *scope,
    store_lock_cb *cb, void *arg)
{
	struct store_tx	*tx = xcalloc(1, sizeof *tx);

	tx->db = db;
	tx->id = id;
	tx->scope = scope != NULL ? xstrdup(scope) : NULL;
	tx->lock_cb = cb;
	tx->arg = arg;
	db_begin(db, lock_begin_cb, tx);
}

static const char request_apply_sql[] =
    "WITH u AS ("
    " UPDATE requests SET status = $2, status_before_await = $3,"
    "  forwarded_on = $4, awaiting_since = $5, extended = $6,"
    "  extended_on = $7, paused_days = $9,"
    "  extension_reason = coalesce($8, extension_reason),"
    "  op_paused_days = $10, statutory_due_on = $11,"
    "  operational_due_on = $12, due_on = $13, closed_on = $14,"
    "  outcome = $15, reject_reason = coalesce($16, reject_reason),"
    "  outcome_note = coalesce($17, outcome_note),"
    "  next_alert_at = $18, updated_at = $19"
    " WHERE id = $1 RETURNING *), "
    "a AS ("
    " INSERT INTO audit_events (request_id, entity_id, at, actor, actor_uid,"
    "  actor_role, action, note, details)"
    " SELECT id, entity_id, $19, $20, $21, $22, $23, $24, $25::jsonb"
    " FROM u), "
    "ob AS ("
    " INSERT INTO outbox (event, request_id, entity_id, channel, recipient,"
    "  payload, next_attempt_at, created_at, age_from)"
    " SELECT $26, u.id, u.entity_id, rc.channel, rc.recipient,"
    "  jsonb_build_object('event', $26, 'at', $19,"
    "  'request', dsrd_request_public(u::requests)), $19, $19, $19"
    " FROM u, dsrd_recipients(u.entity_id, $26, $27, $28::text[]) rc"
    " WHERE $26::text IS NOT NULL) "
    "SELECT " REQ_COLS " FROM u r JOIN entities e ON e.id = r.entity_id";

static void
apply_commit_cb(const struct db_res *res, void *arg)
{
	struct store_tx		*tx = arg;
	struct store_res	 out = { 0 };

	if (!res->ok) {
		/* After a failed COMMIT the change may or may not be there:
		   the client is told "unavailable", never "done". */
		out.err = store_db_err(res, "COMMIT");
		out.msg = store_err_msg(out.err);
	} else {
		out.json = tx->json;
		tx->json = NULL;
	}
	tx->cb(&out, tx->arg);
	tx_free(tx);
}

static void
apply_cb(const struct db_res *res, void *arg)
{
	struct store_tx		*tx = arg;
	struct store_res	 out = { 0 };

	if (!res->ok || db_ntuples(res) != 1) {
		out.err = res->ok ? E_INTERNAL : store_db_err(res, "request update");
		out.msg = store_err_msg(out.err);
		tx->cb(&out, tx->arg);
		store_tx_abort(tx);
		return;
	}
	tx->json = req_json(res, 0, 0, tx->today);
	if (tx->hook != NULL) {
		tx->hook(tx, tx->txn, tx->json, tx->hook_arg);
		return;
	}
	store_tx_continue(tx, 0, NULL);
}

void
store_tx_continue(struct store_tx *tx, int err, const char *msg)
{
	struct store_res	 out = { .err = err, .msg = msg };

	if (err != 0) {
		tx->cb(&out, tx->arg);
		store_tx_abort(tx);
		return;
	}
	db_txn_commit(tx->txn, apply_commit_cb, tx);
	tx->txn = NULL;
}

void
store_request_apply(struct store_tx *tx, const struct request_change *c,
    const struct actor *who, time_t now, int today, store_cb *cb, void *arg)
{
	char	**p = tx->params;

	tx->cb = cb;
	tx->arg = arg;
	tx->today = today;
	tx->hook = c->before_commit;
	tx->hook_arg = c->hook_arg;
	tx->nparams = 28;
#define S(i, v)	p[i] = (v) != NULL ? xstrdup(v) : NULL
	p[0] = xasprintf("%lld", tx->id);
	S(1, req_status_names[c->status]);
	S(2, c->status_before >= 0 ? req_status_names[c->status_before] : NULL);
	p[3] = date_param(c->forwarded_on);
	p[4] = date_param(c->awaiting_since);
	S(5, c->extended ? "true" : "false");
	p[6] = date_param(c->extended_on);
	S(7, c->extension_reason);
	p[8] = xasprintf("%d", c->paused_days);
	p[9] = xasprintf("%d", c->op_paused_days);
	p[10] = date_param(c->statutory_due_on);
	p[11] = date_param(c->operational_due_on);
	p[12] = date_param(c->due_on);
	p[13] = date_param(c->closed_on);
	S(14, c->outcome);
	S(15, c->reject_reason);
	S(16, c->outcome_note);
	p[17] = instant_param(c->next_alert_at);
	p[18] = instant_param(now);
	S(19, who->user);
	p[20] = xasprintf("%u", who->uid);
	S(21, who->role);
	S(22, c->action);
	S(23, c->note);
	S(24, c->details);
	S(25, c->event);
	S(26, c->notify.dpo_email);
	S(27, c->notify.webhooks);
#undef S
	db_txn_query(tx->txn, request_apply_sql, tx->nparams,
	    (const char *const *)p, apply_cb, tx);
}

static void
history_cb(const struct db_res *res, void *arg)
{
	struct sq	*sq = arg;
	cJSON		*o, *h;

	if (!res->ok) {
		sq_fail(sq, res, "request.history");
		return;
	}
	if (db_ntuples(res) == 0) {
		sq_done(sq, E_NOT_FOUND, "no such request", NULL);
		return;
	}
	h = cJSON_Parse(db_value(res, 0, 0));
	if (h == NULL)
		h = cJSON_CreateArray();
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "id", strtod(db_value(res, 0, 1), NULL));
	cJSON_AddItemToObject(o, "events", h);
	sq_done(sq, 0, NULL, o);
}

void
store_request_history(struct db *db, long long id, const char *scope,
    store_cb *cb, void *arg)
{
	char		 ids[24];
	const char	*p[2] = { ids, scope };

	snprintf(ids, sizeof ids, "%lld", id);
	db_query(db, "SELECT " HISTORY_SQL ", r.id FROM requests r "
	    "WHERE r.id = $1 AND " SCOPE("$2"), 2, p, history_cb,
	    sq_new(db, cb, arg, 0));
}

/* ---- alerts ------------------------------------------------------------ */

struct batch {
	struct store_tx	*tx;
	store_batch_cb	*cb;
	void		*arg;
	char		 now[21];
	char		 limit[16];
	store_raised_cb	*raised_cb;
	char		*params[9];
	int		 raised;
};

static void
batch_rows_cb(const struct db_res *res, void *arg)
{
	struct batch		*b = arg;
	struct request_row	*rows;
	int			 n, k = 0;

	if (!res->ok) {
		b->cb(NULL, store_db_err(res, "alert batch"), NULL, 0, b->arg);
		store_tx_abort(b->tx);
		free(b);
		return;
	}
	n = db_ntuples(res);
	rows = xcalloc((size_t)n + 1, sizeof *rows);
	for (int i = 0; i < n; i++)
		if (row_decode(res, i, &rows[k]) == 0)
			k++;
	b->tx->json = NULL;
	/* the tx carries the batch from here */
	b->tx->arg = b;
	b->cb(b->tx, 0, rows, k, b->arg);
	free(rows);
}

static void
batch_begin_cb(struct db_txn *txn, const struct db_res *res, void *arg)
{
	struct batch	*b = arg;
	const char	*p[2] = { b->now, b->limit };

	if (txn == NULL) {
		b->cb(NULL, store_db_err(res, "BEGIN"), NULL, 0, b->arg);
		tx_free(b->tx);
		free(b);
		return;
	}
	b->tx->txn = txn;
	db_txn_query(txn, "SELECT " ROW_COLS " FROM requests r JOIN entities e "
	    "ON e.id = r.entity_id WHERE r.next_alert_at <= $1 "
	    "ORDER BY r.next_alert_at, r.id LIMIT $2 "
	    "FOR UPDATE OF r SKIP LOCKED", 2, p, batch_rows_cb, b);
}

void
store_alert_batch(struct db *db, time_t now, int limit, store_batch_cb *cb,
    void *arg)
{
	struct batch	*b = xcalloc(1, sizeof *b);

	b->tx = xcalloc(1, sizeof *b->tx);
	b->tx->db = db;
	b->cb = cb;
	b->arg = arg;
	store_format_instant(now, b->now);
	snprintf(b->limit, sizeof b->limit, "%d", limit);
	db_begin(db, batch_begin_cb, b);
}

static const char alert_commit_sql[] =
    "WITH i AS ("
    " SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[],"
    "  $4::date[], $5::int[], $6::timestamptz[])"
    " AS t(request_id, kind, moment, due_on, days_before, next_at)), "
    "u AS ("
    " UPDATE requests r SET alerts_after = $7, next_alert_at = i.next_at"
    " FROM i WHERE r.id = i.request_id RETURNING r.*), "
    "ins AS ("
    " INSERT INTO alerts (request_id, kind, moment, due_on, raised_at)"
    " SELECT request_id, kind, moment, due_on, $7 FROM i"
    " WHERE kind IS NOT NULL"
    " ON CONFLICT DO NOTHING RETURNING request_id, kind, moment, due_on), "
    /* Each alert's payload once, whatever the number of recipients. */
    "p AS MATERIALIZED ("
    " SELECT ins.kind, u.id, u.entity_id,"
    "  jsonb_build_object('event', 'request.' || ins.kind,"
    "  'at', $7, 'request', dsrd_request_public(u::requests),"
    "  'alert', jsonb_build_object('kind', ins.kind,"
    "  'moment', to_char(ins.moment AT TIME ZONE 'UTC',"
    "  'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "  'due_on', to_char(ins.due_on, 'YYYY-MM-DD'),"
    "  'days_before', i.days_before)) AS payload"
    " FROM ins JOIN u ON u.id = ins.request_id"
    " JOIN i ON i.request_id = ins.request_id), "
    "ob AS ("
    " INSERT INTO outbox (event, request_id, entity_id, channel, recipient,"
    "  payload, next_attempt_at, created_at, age_from)"
    " SELECT 'request.' || p.kind, p.id, p.entity_id, rc.channel,"
    "  rc.recipient, p.payload, $7, $7, $7"
    " FROM p, dsrd_recipients(p.entity_id, 'request.' || p.kind, $8,"
    "  ARRAY(SELECT jsonb_array_elements_text($9::jsonb ->"
    "  ('request.' || p.kind)))) rc) "
    "SELECT ins.request_id, ins.kind FROM ins";

static void
alert_commit_done(const struct db_res *res, void *arg)
{
	struct batch	*b = arg;

	if (!res->ok)
		b->raised_cb(store_db_err(res, "alert COMMIT"), 0, b->arg);
	else
		b->raised_cb(0, b->raised, b->arg);
	for (int i = 0; i < 9; i++)
		free(b->params[i]);
	tx_free(b->tx);
	free(b);
}

static void
alert_commit_cb(const struct db_res *res, void *arg)
{
	struct batch	*b = arg;

	if (!res->ok) {
		b->raised_cb(store_db_err(res, "alert insert"), 0, b->arg);
		for (int i = 0; i < 9; i++)
			free(b->params[i]);
		store_tx_abort(b->tx);
		free(b);
		return;
	}
	for (int i = 0; i < db_ntuples(res); i++)
		log_info("request %s: %s alert raised", db_value(res, i, 0),
		    db_value(res, i, 1));
	b->raised = db_ntuples(res);
	db_txn_commit(b->tx->txn, alert_commit_done, b);
	b->tx->txn = NULL;
}

void
store_alert_commit(struct store_tx *tx, const struct alert_out *a, int n,
    time_t now, const char *dpo_email, const char *webhooks,
    store_raised_cb *cb, void *arg)
{
	struct batch	*b = tx->arg;
	struct buf	 ids, kinds, moments, dues, before, next;
	char		 t[21], d[11];

	b->raised_cb = cb;
	b->arg = arg;
	buf_init(&ids);
	buf_init(&kinds);
	buf_init(&moments);
	buf_init(&dues);
	buf_init(&before);
	buf_init(&next);
	for (int i = 0; i < n; i++) {
		const char *sep = i ? "," : "{";

		buf_addf(&ids, "%s%lld", sep, a[i].request_id);
		if (a[i].kind >= 0) {
			store_format_instant(a[i].moment, t);
			cal_format_date(a[i].due_on, d);
			buf_addf(&kinds, "%s%s", sep, dl_kind_names[a[i].kind]);
			buf_addf(&moments, "%s%s", sep, t);
			buf_addf(&dues, "%s%s", sep, d);
			buf_addf(&before, "%s%d", sep, a[i].days_before);
		} else {
			buf_addf(&kinds, "%sNULL", sep);
			buf_addf(&moments, "%sNULL", sep);
			buf_addf(&dues, "%sNULL", sep);
			buf_addf(&before, "%sNULL", sep);
		}
		if (a[i].next_at != DL_NO_TIME) {
			store_format_instant(a[i].next_at, t);
			buf_addf(&next, "%s%s", sep, t);
		} else
			buf_addf(&next, "%sNULL", sep);
	}
	if (n == 0) {
		buf_adds(&ids, "{");
		buf_adds(&kinds, "{");
		buf_adds(&moments, "{");
		buf_adds(&dues, "{");
		buf_adds(&before, "{");
		buf_adds(&next, "{");
	}
	buf_adds(&ids, "}");
	buf_adds(&kinds, "}");
	buf_adds(&moments, "}");
	buf_adds(&dues, "}");
	buf_adds(&before, "}");
	buf_adds(&next, "}");
	b->params[0] = buf_take(&ids);
	b->params[1] = buf_take(&kinds);
	b->params[2] = buf_take(&moments);
	b->params[3] = buf_take(&dues);
	b->params[4] = buf_take(&before);
	b->params[5] = buf_take(&next);
	b->params[6] = instant_param(now);
	b->params[7] = dpo_email ? xstrdup(dpo_email) : NULL;
	b->params[8] = xstrdup(webhooks ? webhooks : "{}");
	db_txn_query(tx->txn, alert_commit_sql, 9,
	    (const char *const *)b->params, alert_commit_cb, b);
}

struct nextq {
	store_next_cb	*cb;
	void		*arg;
};

static void
next_alert_cb(const struct db_res *res, void *arg)
{
	struct nextq	*q = arg;
	const char	*v;

	if (!res->ok)
		q->cb(store_db_err(res, "next alert"), DL_NO_TIME, q->arg);
	else {
		v = db_value(res, 0, 0);
		q->cb(0, v ? (time_t)strtoll(v, NULL, 10) : DL_NO_TIME, q->arg);
	}
	free(q);
}

void
store_next_alert(struct db *db, store_next_cb *cb, void *arg)
{
	struct nextq	*q = xmalloc(sizeof *q);

	q->cb = cb;
	q->arg = arg;
	/* min() over the partial index: one index probe, whatever the size */
	db_query(db, "SELECT extract(epoch FROM min(next_alert_at))::bigint "
	    "FROM requests WHERE next_alert_at IS NOT NULL", 0, NULL,
	    next_alert_cb, q);
}
