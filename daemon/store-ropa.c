/*
 * store-ropa.c: the register of processing activities' SQL. An import
 * arrives in batches that are staged (ropa_staging: one row per batch, its
 * "activity" the batch's JSON array, since one row of 500 costs a tenth of
 * 500 rows; seq 0 an empty marker that makes the token known before the
 * first batch) and is applied by the final message in one transaction
 * whose diff is set-based: a handful of statements whatever the size of
 * the register, never one per row. $n parameters only; the body is named by
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
	"src AS (SELECT s.seq::bigint * 4294967296 + x.o AS ord, x.a "	\
	"FROM ropa_staging s, jsonb_array_elements(s.activity) WITH "	\
	"ORDINALITY AS x(a, o) WHERE s.token = $2::uuid AND "		\
	"s.entity_id = " ent " UNION ALL SELECT 4294967296::bigint * "	\
	"1073741824 + x.o, x.a FROM jsonb_array_elements(coalesce("	\
	"$3::jsonb, '[]'::jsonb)) WITH ORDINALITY AS x(a, o))"

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

/* An activity's office by id, in a RETURNING list: from o, which has the
   offices this very statement creates (the table does not show them). */
#define OFFICE_OF(col)							\
	"(SELECT o.name FROM o WHERE o.id = " col ")"

/*
 * The apply: $1 body id, $2 token, $3 the message's activities, $4 now,
 * $5-$7 the actor, $8 the source (JSON or NULL). One JSON text out.
 *
 * The register (n) meets the body's activities (a) in ONE full join: a
 * full join is a hash or a merge join, never a nested loop, so no plan can
 * turn 10,000 against 10,000 into 10^8 steps, not even right after a first
 * import when the statistics say the body has no activities (a nested
 * anti-join took 30 s there). No other join pairs two large sets.
 */
static const char apply_sql[] =
    "WITH " SOURCE("$1") ", "
    "r AS (SELECT src.ord, " KEY("j.name", "j.office") " AS key, j.* "
    " FROM src, jsonb_to_record(src.a) AS " RECORD "), "
    "oi AS (INSERT INTO offices (entity_id, name) SELECT DISTINCT "
    " $1::bigint, r.office FROM r WHERE r.office IS NOT NULL "
    " ON CONFLICT (entity_id, name) DO NOTHING RETURNING id, name), "
    "o AS (SELECT id, name FROM oi UNION ALL SELECT id, name FROM offices "
    " WHERE entity_id = $1), "
    /* every activity, of the register (n, with its offices' ids: joined
       here, not kept as a table of its own) or of the body or both */
    "j AS (SELECT n.*, a.id, n.key IS NOT NULL AS listed, a.id IS NOT "
    " NULL AS known, a.removed_at IS NOT NULL AS revived, "
    " a.source_line IS DISTINCT FROM n.line AS moved, "
    " a.removed_at IS NULL AS was_live, "
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
    " FROM (SELECT * FROM activities WHERE entity_id = $1) a "
    " FULL JOIN (SELECT r.ord, r.key, r.name, r.office, o.id AS office_id, "
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
    " FROM r LEFT JOIN o ON o.name = r.office) n ON a.key = n.key), "
    "d AS (SELECT * FROM j WHERE listed AND known), "
    /* Two activities of one key: the caller rolls back and says so (no
       insert tries the key twice meanwhile). */
    "dk AS (SELECT key FROM r GROUP BY key HAVING count(*) > 1 LIMIT 1), "
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
    " source_line, imported_at, updated_at) SELECT $1, j.key, j.name, "
    " j.office_id, j.purpose, j.joint_controller, j.managers, "
    " j.authorised, j.processors, j.independent_controllers, j.software, "
    " j.data_categories, j.retention, j.subject_categories, "
    " j.recipient_categories, j.cloud, j.transfers, "
    " j.processor_for_others, j.controller, j.security, j.line, "
    " $4::timestamptz, $4::timestamptz FROM j WHERE j.listed AND NOT "
    " j.known AND NOT EXISTS (SELECT 1 FROM dk) ORDER BY j.ord "
    " RETURNING id, name, "
    OFFICE_OF("office_id") " AS office, source_line AS line), "
    /* Kept, not deleted: tasks and audit events name them. */
    "rm AS (UPDATE activities a SET removed_at = $4::timestamptz FROM j "
    " WHERE a.id = j.id AND NOT j.listed AND j.was_live "
    " RETURNING a.id, a.name, " OFFICE_OF("a.office_id") " AS office, "
    " a.source_line), "
    "added AS (SELECT id, name, office, line FROM ins UNION ALL "
    " SELECT id, name, office, line FROM d WHERE revived), "
    "changed AS (SELECT id, name, office, line, fields FROM d "
    " WHERE NOT revived AND cardinality(fields) > 0), "
    "cnt AS (SELECT (SELECT count(*) FROM r) AS live, "
    " (SELECT count(*) FROM added) AS na, "
    " (SELECT count(*) FROM changed) AS nc, "
    " (SELECT count(*) FROM rm) AS nr, "
    " (SELECT count(*) FROM d WHERE NOT revived AND "
    " cardinality(fields) = 0) AS nu), "
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
    " id), '[]') FROM rm), "
    " 'unchanged', nu, 'duplicate', (SELECT json_agg(json_build_object("
    " 'name', x.name, 'office', x.office, 'line', x.line) ORDER BY x.ord) "
    " FROM (SELECT r.ord, r.name, r.office, r.line FROM r, dk WHERE "
    " r.key = dk.key ORDER BY r.ord LIMIT 2) x))::text FROM cnt";

/*
 * Before the apply, in its transaction: the body locked against another
 * import (FOR NO KEY UPDATE: filing a request for it is not held up), and
 * the token checked. The apply keeps the register several times over (its
 * rows, the join with the body's, the insert in file order): with the
 * default work_mem of 4 MB a register of 10,000 spilled them to temporary
 * files, so the transaction gets more (SET LOCAL: it ends with it).
 */
static const char check_sql[] =
    "SELECT e.id, ($2::uuid IS NULL OR EXISTS (SELECT 1 FROM ropa_staging "
    " s WHERE s.token = $2::uuid AND s.entity_id = e.id)), "
    " set_config('work_mem', '64MB', true) "
    "FROM entities e WHERE e.code = $1 FOR NO KEY UPDATE";

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
    " created_at) SELECT t.token, e.id, 0, '[]'::jsonb, $4::timestamptz "
    " FROM e, t WHERE $2::uuid IS NULL UNION ALL SELECT t.token, e.id, "
    " t.last + 1, $3::jsonb, $4::timestamptz FROM e, t "
    " WHERE t.last IS NOT NULL AND $3::jsonb IS NOT NULL "
    " RETURNING jsonb_array_length(activity) AS n) "
    "SELECT EXISTS (SELECT 1 FROM e), (SELECT token::text FROM t), "
    " (SELECT last IS NOT NULL FROM t), "
    " (SELECT coalesce(sum(n), 0) FROM ins)";

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
		finish(q->cb, q->arg, err, store_err_msg(err), NULL);
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

	apply_fail(ap, err, store_err_msg(err));
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

/* Two activities of one key: ends the import, refused. */
static bool
duplicate(struct apply *ap)
{
	cJSON		*dup;
	const cJSON	*a, *b;
	char		*name, *office, *msg;

	dup = cJSON_DetachItemFromObjectCaseSensitive(ap->json, "duplicate");
	if (!cJSON_IsArray(dup) || cJSON_GetArraySize(dup) < 2) {
		cJSON_Delete(dup);
		return false;
	}
	a = cJSON_GetArrayItem(dup, 0);
	b = cJSON_GetArrayItem(dup, 1);
	name = cJSON_PrintUnformatted(cJSON_GetObjectItem(b, "name"));
	office = cJSON_IsString(cJSON_GetObjectItem(b, "office")) ?
	    cJSON_PrintUnformatted(cJSON_GetObjectItem(b, "office")) : NULL;
	msg = xasprintf("activities: %s%s%s is listed twice (line %.0f, and "
	    "line %.0f before): an activity is its name and office",
	    name != NULL ? name : "?", office != NULL ? " of " : "",
	    office != NULL ? office : "",
	    cJSON_GetNumberValue(cJSON_GetObjectItem(b, "line")),
	    cJSON_GetNumberValue(cJSON_GetObjectItem(a, "line")));
	cJSON_free(name);
	cJSON_free(office);
	cJSON_Delete(dup);
	apply_fail(ap, E_INVALID_PARAMS, msg);
	free(msg);
	return true;
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
	if (duplicate(ap))
		return;
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
check(struct apply *ap)
{
	const char	*p[2];

	p[0] = ap->entity;
	p[1] = ap->token;
	db_txn_query(ap->txn, check_sql, 2, p, checked_cb, ap);
}

static void
begin_cb(struct db_txn *txn, const struct db_res *res, void *arg)
{
	struct apply	*ap = arg;

	if (txn == NULL) {
		apply_failed_sql(ap, res);
		return;
	}
	ap->txn = txn;
	check(ap);
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
		finish(q->cb, q->arg, err, store_err_msg(err), NULL);
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
