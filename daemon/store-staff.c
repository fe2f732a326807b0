/*
 * store-staff.c: the staff directory's SQL. One statement per call, $n
 * parameters only; the body is named by its code and an unknown one is
 * reported, never created.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "db.h"
#include "log.h"
#include "proto.h"
#include "store-staff.h"
#include "util.h"

#define STAFF_COLS							\
	"s.id, e.code, s.name AS staff_name, s.email, "			\
	"o.name AS office_name, s.unix_user, "				\
	"to_char(s.created_at AT TIME ZONE 'UTC', "			\
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

struct sreq {
	store_cb	*cb;
	void		*arg;
};

static void
put(cJSON *o, const char *k, const char *v)
{
	if (v != NULL)
		cJSON_AddStringToObject(o, k, v);
	else
		cJSON_AddNullToObject(o, k);
}

static cJSON *
staff_json(const struct db_res *res, int row, int c0)
{
	cJSON	*o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "id", strtod(db_value(res, row, c0), NULL));
	put(o, "entity", db_value(res, row, c0 + 1));
	put(o, "name", db_value(res, row, c0 + 2));
	put(o, "email", db_value(res, row, c0 + 3));
	put(o, "office", db_value(res, row, c0 + 4));
	put(o, "user", db_value(res, row, c0 + 5));
	put(o, "created_at", db_value(res, row, c0 + 6));
	return o;
}

static void
finish(struct sreq *q, int err, const char *msg, cJSON *json)
{
	struct store_res	out = { .err = err, .msg = msg, .json = json };

	q->cb(&out, q->arg);
	free(q);
}

static int
failed(struct sreq *q, const struct db_res *res, const char *what)
{
	if (res->ok)
		return 0;
	if (res->unavailable) {
		finish(q, E_UNAVAILABLE, "database unavailable", NULL);
		return 1;
	}
	if (res->sqlstate != NULL && strcmp(res->sqlstate, "23505") == 0) {
		finish(q, E_CONFLICT, "name: this body has a staff member of "
		    "that name already", NULL);
		return 1;
	}
	log_error("%s: SQL error %s: %s", what,
	    res->sqlstate ? res->sqlstate : "?",
	    res->message ? res->message : "?");
	finish(q, E_INTERNAL, "internal error (logged)", NULL);
	return 1;
}

static void
add_cb(const struct db_res *res, void *arg)
{
	struct sreq	*q = arg;

	if (failed(q, res, "staff.add"))
		return;
	if (db_ntuples(res) == 0) {
		finish(q, E_NOT_FOUND, "entity: no such body", NULL);
		return;
	}
	finish(q, 0, NULL, staff_json(res, 0, 0));
}

void
store_staff_add(struct db *db, const struct staff_in *in,
    const struct actor *who, time_t now, store_cb *cb, void *arg)
{
	struct sreq	*q = xmalloc(sizeof *q);
	char		 at[21], uid[16];
	const char	*p[9];

	q->cb = cb;
	q->arg = arg;
	store_format_instant(now, at);
	snprintf(uid, sizeof uid, "%u", who->uid);
	p[0] = in->entity;
	p[1] = in->name;
	p[2] = in->email;
	p[3] = in->office;
	p[4] = in->user;
	p[5] = at;
	p[6] = who->user;
	p[7] = uid;
	p[8] = who->role;
	/* One statement: the office (created once), the person, an audit
	   event of the body. No row when the body does not exist. */
	db_query(db,
	    "WITH e AS (SELECT id, code FROM entities WHERE code = $1), "
	    "oi AS (INSERT INTO offices (entity_id, name) SELECT e.id, $4 "
	    " FROM e WHERE $4::text IS NOT NULL"
	    " ON CONFLICT (entity_id, name) DO NOTHING RETURNING id, name), "
	    "o AS (SELECT id, name FROM oi UNION ALL SELECT f.id, f.name"
	    " FROM offices f, e WHERE f.entity_id = e.id AND f.name = $4), "
	    "s AS (INSERT INTO staff (entity_id, name, email, office_id,"
	    " unix_user, created_at) SELECT e.id, $2, $3,"
	    " (SELECT id FROM o LIMIT 1), $5, $6 FROM e RETURNING *), "
	    "a AS (INSERT INTO audit_events (entity_id, at, actor, actor_uid,"
	    " actor_role, action, details) SELECT s.entity_id, $6, $7, $8, $9,"
	    " 'staff.add', jsonb_build_object('staff_id', s.id) FROM s) "
	    "SELECT " STAFF_COLS " FROM s JOIN e ON TRUE "
	    "LEFT JOIN o ON TRUE", 9, p, add_cb, q);
}

static void
list_cb(const struct db_res *res, void *arg)
{
	struct sreq	*q = arg;
	cJSON		*o, *a;
	int		 n;

	if (failed(q, res, "staff.list"))
		return;
	n = db_ntuples(res);
	if (n > 0 && strcmp(db_value(res, 0, 0), "f") == 0) {
		finish(q, E_NOT_FOUND, "entity: no such body", NULL);
		return;
	}
	o = cJSON_CreateObject();
	a = cJSON_AddArrayToObject(o, "staff");
	for (int i = 0; i < n; i++)
		if (db_value(res, i, 1) != NULL)
			cJSON_AddItemToArray(a, staff_json(res, i, 1));
	cJSON_AddNumberToObject(o, "count", cJSON_GetArraySize(a));
	finish(q, 0, NULL, o);
}

void
store_staff_list(struct db *db, const char *entity, const char *office,
    store_cb *cb, void *arg)
{
	struct sreq	*q = xmalloc(sizeof *q);
	const char	*p[2] = { entity, office };

	q->cb = cb;
	q->arg = arg;
	db_query(db,
	    "WITH b AS (SELECT ($1::text IS NULL OR EXISTS (SELECT 1 FROM"
	    " entities WHERE code = $1)) AS known), "
	    "l AS (SELECT " STAFF_COLS " FROM staff s"
	    " JOIN entities e ON e.id = s.entity_id"
	    " LEFT JOIN offices o ON o.id = s.office_id"
	    " WHERE ($1::text IS NULL OR e.code = $1)"
	    " AND ($2::text IS NULL OR o.name = $2)) "
	    "SELECT b.known, l.* FROM b LEFT JOIN l ON b.known "
	    "ORDER BY l.code, l.staff_name", 2, p, list_cb, q);
}
