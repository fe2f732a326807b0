/*
 * store-ropa.c: the register of processing activities' SQL. An import
 * arrives in batches that are staged (ropa_staging, one row per activity,
 * seq 0 a marker that makes the token known even before its first
 * activity) and is applied by the final message in one transaction whose
 * diff is set-based: a handful of statements whatever the size of the
 * register, never one per row. $n parameters only; the body is named by
 * its code and an unknown one is reported, never created. It must never
 * decide what a field may hold (cmd-ropa.c does) nor read the clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "db.h"
#include "log.h"
#include "proto.h"
#include "store-ropa.h"
#include "util.h"

#define INSTANT(col)	"to_char(" col " AT TIME ZONE 'UTC', " \
			"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The staff role sees the activities of the bodies whose directory names
   its Unix user ($n NULL: every body). */
#define SCOPE(ent, n)							\
	"(" n "::text IS NULL OR EXISTS (SELECT 1 FROM staff sc "	\
	"WHERE sc.entity_id = " ent " AND sc.unix_user = " n "))"

/*
 * The activities of an import, in order: the staged rows of token $2 of
 * body ENT, then those of the message itself ($3), after every staged one.
 */
#define SOURCE(ent)							\
	"src AS (SELECT s.seq::bigint AS ord, s.activity AS a "		\
	"FROM ropa_staging s WHERE s.token = $2::uuid AND s.entity_id = "\
	ent " AND s.seq > 0 UNION ALL SELECT 4294967296 + x.o, x.a "	\
	"FROM jsonb_array_elements(coalesce($3::jsonb, '[]'::jsonb)) "	\
	"WITH ORDINALITY AS x(a, o))"

/* A new import (token NULL) drops the imports idle for an hour: their
   client is gone. */
#define SWEEP(token, now)						\
	"DELETE FROM ropa_staging WHERE " token "::uuid IS NULL AND "	\
	"token IN (SELECT token FROM ropa_staging GROUP BY token HAVING "\
	"max(created_at) < " now "::timestamptz - interval '1 hour')"

/* An activity's identity across versions of the register. */
#define KEY(name, office)						\
	"lower(" name ") || '|' || lower(coalesce(" office ", ''))"

/* One activity object of the protocol, typed (cmd-ropa.c wrote it). */
#define RECORD								\
	"j(name text, office text, purpose text, joint_controller text, "\
	"retention text, controller text, security_measures text, "	\
	"managers text[], staff text[], processors text[], "		\
	"independent_controllers text[], software text[], "		\
	"data_categories text[], subject_categories text[], "		\
	"recipient_categories text[], cloud boolean, transfers boolean, "\
	"processor_for_others boolean, line integer)"

/* The protocol field each compared column is reported as. */
#define DIFF(col, field)						\
	"CASE WHEN a." col " IS DISTINCT FROM n." col " THEN '" field	\
	"' END"

/* The columns of activities a register sets, in one order for all. */
#define SET_COLS							\
	"name, office_id, purpose, joint_controller, managers, "	\
	"authorised, processors, independent_controllers, software, "	\
	"data_categories, retention, subject_categories, "		\
	"recipient_categories, cloud, transfers, processor_for_others, "\
	"controller, security"

/* The apply: $1 body id, $2 token, $3 the message's activities, $4 now,
   $5-$7 the actor, $8 the source (JSON or NULL). One JSON text out. */
static const char apply_sql[] =
    "WITH " SOURCE("$1") ", "
    "r AS (SELECT src.ord, " KEY("j.name", "j.office") " AS key, j.* "
    " FROM src, jsonb_to_record(src.a) AS " RECORD "), "
    "oi AS (INSERT INTO offices (entity_id, name) SELECT DISTINCT "
    " $1::bigint, r.office FROM r WHERE r.office IS NOT NULL "
    " ON CONFLICT (entity_id, name) DO NOTHING RETURNING id, name), "
    "o AS (SELECT id, name FROM oi UNION ALL SELECT id, name FROM offices "
    " WHERE entity_id = $1), "
    "n AS (SELECT r.ord, r.key, r.name, r.office, o.id AS office_id, "
    " r.purpose, r.joint_controller, coalesce(r.managers, '{}') AS "
    " managers, coalesce(r.staff, '{}') AS authorised, "
    " coalesce(r.processors, '{}') AS processors, "
    " coalesce(r.independent_controllers, '{}') AS "
    " independent_controllers, coalesce(r.software, '{}') AS software, "
    " coalesce(r.data_categories, '{}') AS data_categories, r.retention, "
    " coalesce(r.subject_categories, '{}') AS subject_categories, "
    " coalesce(r.recipient_categories, '{}') AS recipient_categories, "
    " r.cloud, r.transfers, r.processor_for_others, r.controller, "
    " r.security_measures AS security, r.line "
    " FROM r LEFT JOIN o ON o.name = r.office), "
    /* the activities the body has already: what differs */
    "d AS (SELECT n.*, a.id, a.removed_at IS NOT NULL AS revived, "
    " a.source_line IS DISTINCT FROM n.line AS moved, "
    " array_remove(ARRAY[" DIFF("name", "name") ", "
    DIFF("office_id", "office") ", " DIFF("purpose", "purpose") ", "
    DIFF("joint_controller", "joint_controller") ", "
    DIFF("managers", "managers") ", " DIFF("authorised", "staff") ", "
    DIFF("processors", "processors") ", "
    DIFF("independent_controllers", "independent_controllers") ", "
    DIFF("software", "software") ", "
    DIFF("data_categories", "data_categories") ", "
    DIFF("retention", "retention") ", "
    DIFF("subject_categories", "subject_categories") ", "
    DIFF("recipient_categories", "recipient_categories") ", "
    DIFF("cloud", "cloud") ", " DIFF("transfers", "transfers") ", "
    DIFF("processor_for_others", "processor_for_others") ", "
    DIFF("controller", "controller") ", "
    DIFF("security", "security_measures") "]::text[], NULL) AS fields "
    " FROM n JOIN activities a ON a.entity_id = $1 AND a.key = n.key), "
    /* A row that only moved to another line keeps its updated_at: the
       same register re-read is no change. */
    "up AS (UPDATE activities a SET (" SET_COLS ") = (d.name, d.office_id, "
    " d.purpose, d.joint_controller, d.managers, d.authorised, "
    " d.processors, d.independent_controllers, d.software, "
    " d.data_categories, d.retention, d.subject_categories, "
    " d.recipient_categories, d.cloud, d.transfers, "
    " d.processor_for_others, d.controller, d.security), "
    " source_line = d.line, removed_at = NULL, updated_at = CASE WHEN "
    " d.revived OR cardinality(d.fields) > 0 THEN $4::timestamptz "
    " ELSE a.updated_at END FROM d WHERE a.id = d.id AND (d.revived OR "
    " d.moved OR cardinality(d.fields) > 0) RETURNING a.id), "
    "ins AS (INSERT INTO activities (entity_id, key, " SET_COLS ", "
    " source_line, imported_at, updated_at) SELECT $1, n.key, n.name, "
    " n.office_id, n.purpose, n.joint_controller, n.managers, "
    " n.authorised, n.processors, n.independent_controllers, n.software, "
    " n.data_categories, n.retention, n.subject_categories, "
    " n.recipient_categories, n.cloud, n.transfers, "
    " n.processor_for_others, n.controller, n.security, n.line, "
    " $4::timestamptz, $4::timestamptz FROM n WHERE NOT EXISTS "
    " (SELECT 1 FROM d WHERE d.key = n.key) ORDER BY n.ord "
    " RETURNING id, key, name, source_line), "
    /* Kept, not deleted: tasks and audit events name them. */
    "rm AS (UPDATE activities a SET removed_at = $4::timestamptz "
    " WHERE a.entity_id = $1 AND a.removed_at IS NULL AND NOT EXISTS "
    " (SELECT 1 FROM n WHERE n.key = a.key) "
    " RETURNING a.id, a.name, a.office_id, a.source_line), "
    "added AS (SELECT i.id, i.name, n.office, i.source_line AS line "
    " FROM ins i JOIN n ON n.key = i.key UNION ALL "
    " SELECT d.id, d.name, d.office, d.line FROM d WHERE d.revived), "
    "changed AS (SELECT d.id, d.name, d.office, d.line, d.fields FROM d "
    " WHERE NOT d.revived AND cardinality(d.fields) > 0), "
    "removed AS (SELECT rm.id, rm.name, f.name AS office, rm.source_line "
    " FROM rm LEFT JOIN offices f ON f.id = rm.office_id), "
    "cnt AS (SELECT (SELECT count(*) FROM n) AS live, "
    " (SELECT count(*) FROM added) AS na, "
    " (SELECT count(*) FROM changed) AS nc, "
    " (SELECT count(*) FROM removed) AS nr, "
    " (SELECT count(*) FROM d WHERE NOT d.revived AND "
    " cardinality(d.fields) = 0) AS nu), "
    "au AS (INSERT INTO audit_events (entity_id, at, actor, actor_uid, "
    " actor_role, action, details) SELECT $1, $4::timestamptz, $5, $6, $7, "
    " 'ropa.import', jsonb_build_object('activities', live, 'added', na, "
    " 'changed', nc, 'removed', nr, 'unchanged', nu, 'source', "
    " $8::jsonb) FROM cnt), "
    "del AS (DELETE FROM ropa_staging WHERE token = $2::uuid), "
    /* a register in one message is a new import too */
    "sw AS (" SWEEP("$2", "$4") ") "
    "SELECT json_build_object('activities', live, "
    " 'added', (SELECT coalesce(json_agg(json_build_object('id', id, "
    " 'name', name, 'office', office, 'line', line) ORDER BY line NULLS "
    " LAST, id), '[]') FROM added), "
    " 'changed', (SELECT coalesce(json_agg(json_build_object('id', id, "
    " 'name', name, 'office', office, 'line', line, 'fields', fields) "
    " ORDER BY line NULLS LAST, id), '[]') FROM changed), "
    " 'removed', (SELECT coalesce(json_agg(json_build_object('id', id, "
    " 'name', name, 'office', office) ORDER BY source_line NULLS LAST, "
    " id), '[]') FROM removed), "
    " 'unchanged', nu)::text FROM cnt";

/*
 * Before the apply, in its transaction: the body locked against another
 * import (FOR NO KEY UPDATE: filing a request for it is not held up), the
 * token checked, and the first activity listed twice, if any.
 */
static const char check_sql[] =
    "WITH e AS (SELECT id FROM entities WHERE code = $1 "
    " FOR NO KEY UPDATE), " SOURCE("(SELECT id FROM e)") ", "
    "k AS (SELECT ord, a->>'name' AS name, a->>'office' AS office, "
    " a->>'line' AS line, first_value(a->>'line') OVER w AS first_line, "
    " row_number() OVER w AS rn FROM src WINDOW w AS (PARTITION BY "
    KEY("a->>'name'", "a->>'office'") " ORDER BY ord)) "
    "SELECT e.id, ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM ropa_staging "
    " s WHERE s.token = $2::uuid AND s.entity_id = e.id)), d.name, "
    " d.office, d.line, d.first_line FROM e LEFT JOIN (SELECT * FROM k "
    " WHERE rn = 2 ORDER BY ord LIMIT 1) d ON TRUE";

/*
 * A batch: $1 body code, $2 token (NULL: a new import, which first sweeps
 * imports idle for an hour), $3 activities, $4 now.
 */
static const char stage_sql[] =
    "WITH e AS (SELECT id FROM entities WHERE code = $1), "
    "sw AS (" SWEEP("$2", "$4") "), "
    "t AS (SELECT coalesce($2::uuid, gen_random_uuid()) AS token, "
    " CASE WHEN $2::uuid IS NULL THEN 0 ELSE (SELECT max(s.seq) FROM "
    " ropa_staging s WHERE s.token = $2::uuid AND s.entity_id = e.id) "
    " END AS last FROM e), "
    "ins AS (INSERT INTO ropa_staging (token, entity_id, seq, activity, "
    " created_at) SELECT t.token, e.id, 0, 'null'::jsonb, $4::timestamptz "
    " FROM e, t WHERE $2::uuid IS NULL UNION ALL SELECT t.token, e.id, "
    " t.last + x.o, x.a, $4::timestamptz FROM e, t, jsonb_array_elements("
    " coalesce($3::jsonb, '[]'::jsonb)) WITH ORDINALITY AS x(a, o) "
    " WHERE t.last IS NOT NULL RETURNING seq) "
    "SELECT EXISTS (SELECT 1 FROM e), (SELECT token::text FROM t), "
    " (SELECT last IS NOT NULL FROM t), "
    " (SELECT count(*) FROM ins WHERE seq > 0)";

struct sreq {
	store_cb	*cb;
	void		*arg;
};

/* One import's final message, through its transaction. */
struct apply {
	store_cb	*cb;
	void		*arg;
	struct db	*db;
	struct db_txn	*txn;
	char		*entity, *token, *activities, *source;
	bool		 dry_run;
	char		 at[21], uid[16];
	char		*actor, *role;
	char		 id[24];	/* the body's */
	cJSON		*json;		/* the answer, until COMMIT */
};

static void
finish(store_cb *cb, void *arg, int err, const char *msg, cJSON *json)
{
	struct store_res	out = { .err = err, .msg = msg, .json = json };

	cb(&out, arg);
}

static char *
dupnull(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* ---------------------------------------------------------------- stage */

static void
stage_cb(const struct db_res *res, void *arg)
{
	struct sreq	*q = arg;
	cJSON		*o;
	int		 err;

	if (!res->ok) {
		err = store_db_err(res, "ropa.import");
		finish(q->cb, q->arg, err, err == E_UNAVAILABLE ?
		    "database unavailable" : "internal error (logged)", NULL);
	} else if (strcmp(db_value(res, 0, 0), "t") != 0)
		finish(q->cb, q->arg, E_NOT_FOUND, "entity: no such body",
		    NULL);
	else if (strcmp(db_value(res, 0, 2), "t") != 0)
		finish(q->cb, q->arg, E_INVALID_PARAMS, "token: no import in "
		    "progress with this token for this body (finished, "
		    "abandoned for an hour, or never started)", NULL);
	else {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "token", db_value(res, 0, 1));
		cJSON_AddNumberToObject(o, "staged",
		    strtod(db_value(res, 0, 3), NULL));
		finish(q->cb, q->arg, 0, NULL, o);
	}
	free(q);
}

void
store_ropa_stage(struct db *db, const struct ropa_in *in, time_t now,
    store_cb *cb, void *arg)
{
	struct sreq	*q = xmalloc(sizeof *q);
	char		 at[21];
	const char	*p[4];

	q->cb = cb;
	q->arg = arg;
	store_format_instant(now, at);
	p[0] = in->entity;
	p[1] = in->token;
	p[2] = in->activities;
	p[3] = at;
	db_query(db, stage_sql, 4, p, stage_cb, q);
}

/* ---------------------------------------------------------------- apply */

static void
apply_free(struct apply *ap)
{
	free(ap->entity);
	free(ap->token);
	free(ap->activities);
	free(ap->source);
	free(ap->actor);
	free(ap->role);
	cJSON_Delete(ap->json);
	free(ap);
}

/* Ends the import with an error; the transaction (if any) rolls back. */
static void
apply_fail(struct apply *ap, int err, const char *msg)
{
	if (ap->txn != NULL)
		db_txn_rollback(ap->txn);
	ap->txn = NULL;
	finish(ap->cb, ap->arg, err, msg, NULL);
	apply_free(ap);
}

static void
apply_failed_sql(struct apply *ap, const struct db_res *res)
{
	int	err = store_db_err(res, "ropa.import");

	apply_fail(ap, err, err == E_UNAVAILABLE ? "database unavailable" :
	    "internal error (logged)");
}

static void
apply_done(struct apply *ap)
{
	cJSON	*json = ap->json;

	ap->json = NULL;
	finish(ap->cb, ap->arg, 0, NULL, json);
	apply_free(ap);
}

static void
commit_cb(const struct db_res *res, void *arg)
{
	struct apply	*ap = arg;

	if (!res->ok) {
		apply_failed_sql(ap, res);
		return;
	}
	apply_done(ap);
}

/* A dry run ends its import too: its staged rows go. */
static void
dry_cleanup_cb(const struct db_res *res, void *arg)
{
	struct apply	*ap = arg;

	if (!res->ok)
		(void)store_db_err(res, "ropa.import (dry run clean-up)");
	apply_done(ap);
}

static void
applied_cb(const struct db_res *res, void *arg)
{
	struct apply	*ap = arg;
	cJSON		*diff, *e;
	const char	*p[1];

	if (!res->ok) {
		apply_failed_sql(ap, res);
		return;
	}
	diff = cJSON_Parse(db_value(res, 0, 0));
	if (diff == NULL) {
		log_error("ropa.import: the database's answer is not JSON");
		apply_fail(ap, E_INTERNAL, "internal error (logged)");
		return;
	}
	ap->json = cJSON_CreateObject();
	cJSON_AddStringToObject(ap->json, "entity", ap->entity);
	cJSON_AddBoolToObject(ap->json, "dry_run", ap->dry_run);
	while ((e = diff->child) != NULL) {
		cJSON_DetachItemViaPointer(diff, e);
		cJSON_AddItemToObject(ap->json, e->string, e);
	}
	cJSON_Delete(diff);
	if (!ap->dry_run) {
		db_txn_commit(ap->txn, commit_cb, ap);
		ap->txn = NULL;
		return;
	}
	db_txn_rollback(ap->txn);
	ap->txn = NULL;
	if (ap->token == NULL) {
		apply_done(ap);
		return;
	}
	p[0] = ap->token;
	db_query(ap->db, "DELETE FROM ropa_staging WHERE token = $1::uuid", 1,
	    p, dry_cleanup_cb, ap);
}

static void
checked_cb(const struct db_res *res, void *arg)
{
	struct apply	*ap = arg;
	const char	*p[8];
	char		*msg;

	if (!res->ok) {
		apply_failed_sql(ap, res);
		return;
	}
	if (db_ntuples(res) == 0) {
		apply_fail(ap, E_NOT_FOUND, "entity: no such body");
		return;
	}
	if (strcmp(db_value(res, 0, 1), "t") != 0) {
		apply_fail(ap, E_INVALID_PARAMS, "token: no import in progress "
		    "with this token for this body (finished, abandoned for "
		    "an hour, or never started)");
		return;
	}
	if (db_value(res, 0, 2) != NULL) {
		const char	*office = db_value(res, 0, 3);
		const char	*line = db_value(res, 0, 4);
		const char	*first = db_value(res, 0, 5);

		msg = xasprintf("activities: \"%s\"%s%s%s is listed twice "
		    "(line %s, and line %s before): an activity is its name "
		    "and office", db_value(res, 0, 2),
		    office != NULL ? " of \"" : "", office != NULL ? office : "",
		    office != NULL ? "\"" : "", line != NULL ? line : "?",
		    first != NULL ? first : "?");
		apply_fail(ap, E_INVALID_PARAMS, msg);
		free(msg);
		return;
	}
	snprintf(ap->id, sizeof ap->id, "%s", db_value(res, 0, 0));
	p[0] = ap->id;
	p[1] = ap->token;
	p[2] = ap->activities;
	p[3] = ap->at;
	p[4] = ap->actor;
	p[5] = ap->uid;
	p[6] = ap->role;
	p[7] = ap->source;
	db_txn_query(ap->txn, apply_sql, 8, p, applied_cb, ap);
}

static void
begin_cb(struct db_txn *txn, const struct db_res *res, void *arg)
{
	struct apply	*ap = arg;
	const char	*p[3];

	if (txn == NULL) {
		apply_failed_sql(ap, res);
		return;
	}
	ap->txn = txn;
	p[0] = ap->entity;
	p[1] = ap->token;
	p[2] = ap->activities;
	db_txn_query(txn, check_sql, 3, p, checked_cb, ap);
}

void
store_ropa_apply(struct db *db, const struct ropa_in *in,
    const struct actor *who, time_t now, store_cb *cb, void *arg)
{
	struct apply	*ap = xcalloc(1, sizeof *ap);

	ap->cb = cb;
	ap->arg = arg;
	ap->db = db;
	ap->entity = xstrdup(in->entity);
	ap->token = dupnull(in->token);
	ap->activities = dupnull(in->activities);
	ap->source = dupnull(in->source);
	ap->dry_run = in->dry_run;
	ap->actor = xstrdup(who->user);
	ap->role = xstrdup(who->role);
	snprintf(ap->uid, sizeof ap->uid, "%u", who->uid);
	store_format_instant(now, ap->at);
	db_begin(db, begin_cb, ap);
}

/* ---------------------------------------------------------------- read */

static void
json_text_cb(const struct db_res *res, void *arg, const char *what,
    int col)
{
	struct sreq	*q = arg;
	cJSON		*o;
	int		 err;

	if (!res->ok) {
		err = store_db_err(res, what);
		finish(q->cb, q->arg, err, err == E_UNAVAILABLE ?
		    "database unavailable" : "internal error (logged)", NULL);
	} else if (db_ntuples(res) == 0 ||
	    (col > 0 && strcmp(db_value(res, 0, 0), "t") != 0))
		finish(q->cb, q->arg, E_NOT_FOUND, col > 0 ?
		    "entity: no such body" : "no such activity", NULL);
	else if ((o = cJSON_Parse(db_value(res, 0, col))) == NULL) {
		log_error("%s: the database's answer is not JSON", what);
		finish(q->cb, q->arg, E_INTERNAL, "internal error (logged)",
		    NULL);
	} else
		finish(q->cb, q->arg, 0, NULL, o);
	free(q);
}

static void
list_cb(const struct db_res *res, void *arg)
{
	json_text_cb(res, arg, "ropa.list", 1);
}

void
store_ropa_list(struct db *db, const struct ropa_filter *f, store_cb *cb,
    void *arg)
{
	struct sreq	*q = xmalloc(sizeof *q);
	char		 limit[24];
	const char	*p[9];

	q->cb = cb;
	q->arg = arg;
	snprintf(limit, sizeof limit, "%lld", f->limit);
	p[0] = f->entity;
	p[1] = f->office;
	p[2] = f->data_category;
	p[3] = f->subject_category;
	p[4] = f->software;
	p[5] = f->processor;
	p[6] = f->removed ? "t" : "f";
	p[7] = limit;
	p[8] = f->scope;
	/* strpos(lower(), lower()) rather than ILIKE: the filter is text,
	   its % and _ mean themselves. */
	db_query(db,
	    "WITH b AS (SELECT ($1::text IS NULL OR EXISTS (SELECT 1 FROM "
	    " entities be WHERE be.code = $1 AND " SCOPE("be.id", "$9")
	    ")) AS known), "
	    "l AS (SELECT e.code, a.source_line, a.id, json_build_object("
	    " 'id', a.id, 'entity', e.code, 'name', a.name, 'office', o.name, "
	    " 'purpose', a.purpose, 'subject_categories', "
	    " to_json(a.subject_categories), 'data_categories', "
	    " to_json(a.data_categories), 'processors', to_json(a.processors), "
	    " 'software', to_json(a.software), 'cloud', a.cloud, 'line', "
	    " a.source_line, 'removed_at', " INSTANT("a.removed_at") ") AS j "
	    " FROM activities a JOIN entities e ON e.id = a.entity_id "
	    " LEFT JOIN offices o ON o.id = a.office_id "
	    " WHERE ($1::text IS NULL OR e.code = $1) "
	    " AND ($7::boolean OR a.removed_at IS NULL) "
	    " AND " SCOPE("a.entity_id", "$9")
	    " AND ($2::text IS NULL OR strpos(lower(o.name), lower($2)) > 0) "
	    " AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM "
	    " unnest(a.data_categories) x WHERE strpos(lower(x), lower($3)) "
	    " > 0)) "
	    " AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM "
	    " unnest(a.subject_categories) x WHERE strpos(lower(x), "
	    " lower($4)) > 0)) "
	    " AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM "
	    " unnest(a.software) x WHERE strpos(lower(x), lower($5)) > 0)) "
	    " AND ($6::text IS NULL OR EXISTS (SELECT 1 FROM "
	    " unnest(a.processors) x WHERE strpos(lower(x), lower($6)) > 0)) "
	    " ORDER BY e.code, a.source_line NULLS LAST, a.id "
	    " LIMIT $8::bigint) "
	    "SELECT b.known, json_build_object('activities', (SELECT "
	    " coalesce(json_agg(l.j ORDER BY l.code, l.source_line NULLS LAST, "
	    " l.id), '[]') FROM l), 'count', (SELECT count(*) FROM l))::text "
	    "FROM b", 9, p, list_cb, q);
}

static void
show_cb(const struct db_res *res, void *arg)
{
	json_text_cb(res, arg, "ropa.show", 0);
}

/* A people column as [{"name", "staff_id"}]: the body's directory entry
   of the same name, case aside, or null. */
#define PEOPLE(col)							\
	"(SELECT coalesce(json_agg(json_build_object('name', p.n, "	\
	"'staff_id', (SELECT s.id FROM staff s WHERE s.entity_id = "	\
	"a.entity_id AND lower(s.name) = lower(p.n) ORDER BY s.id "	\
	"LIMIT 1)) ORDER BY p.o), '[]') FROM unnest(" col ") WITH "	\
	"ORDINALITY AS p(n, o))"

void
store_ropa_show(struct db *db, long long id, const char *scope,
    store_cb *cb, void *arg)
{
	struct sreq	*q = xmalloc(sizeof *q);
	char		 ids[24];
	const char	*p[2] = { ids, scope };

	q->cb = cb;
	q->arg = arg;
	snprintf(ids, sizeof ids, "%lld", id);
	db_query(db,
	    "SELECT json_build_object('id', a.id, 'entity', e.code, 'name', "
	    " a.name, 'office', o.name, 'purpose', a.purpose, "
	    " 'joint_controller', a.joint_controller, 'managers', "
	    PEOPLE("a.managers") ", 'staff', " PEOPLE("a.authorised") ", "
	    " 'processors', to_json(a.processors), 'independent_controllers', "
	    " to_json(a.independent_controllers), 'software', "
	    " to_json(a.software), 'data_categories', "
	    " to_json(a.data_categories), 'retention', a.retention, "
	    " 'subject_categories', to_json(a.subject_categories), "
	    " 'recipient_categories', to_json(a.recipient_categories), "
	    " 'cloud', a.cloud, 'transfers', a.transfers, "
	    " 'processor_for_others', a.processor_for_others, 'controller', "
	    " a.controller, 'security_measures', a.security, 'line', "
	    " a.source_line, 'imported_at', " INSTANT("a.imported_at") ", "
	    " 'updated_at', " INSTANT("a.updated_at") ", 'removed_at', "
	    INSTANT("a.removed_at") ")::text "
	    "FROM activities a JOIN entities e ON e.id = a.entity_id "
	    "LEFT JOIN offices o ON o.id = a.office_id "
	    "WHERE a.id = $1::bigint AND " SCOPE("a.entity_id", "$2"),
	    2, p, show_cb, q);
}
