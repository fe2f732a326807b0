/*
 * store-task.c: the SQL of tasks. Routing is one statement inside the
 * forward's transaction: it picks the concerned activities, makes their
 * tasks and recipient notices, assigns them to staff and queues the mail
 * that tells each assignee, so that a forward is either all of that or
 * nothing. Set-based throughout: never a statement per activity or task.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "db.h"
#include "log.h"
#include "proto.h"
#include "store-task.h"
#include "util.h"

const char *const task_status_names[3] = { "open", "done", "waived" };

/*
 * $1 request, $2 only, $3 add, $4 drop (bigint[] or NULL), $5 notices,
 * $6 now, $7 webhooks of request.tasks_assigned.
 *
 * Assignees of an activity: the staff of its body whose name is among its
 * designated managers (the importer stored the directory's spelling of
 * each person it recognised), else the staff of its office. A recipient
 * notice goes to the assignees of the activities it comes from. Each
 * assignee with an address gets one mail listing their tasks; tasks that
 * reach no address are mailed to the body's own address.
 */
static const char route_sql[] =
    "WITH r AS (SELECT id, entity_id, subject_categories FROM requests"
    " WHERE id = $1), "
    "named AS (SELECT DISTINCT x FROM unnest(coalesce($2::bigint[], '{}')"
    " || coalesce($3::bigint[], '{}') || coalesce($4::bigint[], '{}')) x), "
    "bad AS (SELECT x FROM named WHERE NOT EXISTS (SELECT 1 FROM"
    " activities a, r WHERE a.id = x AND a.entity_id = r.entity_id"
    " AND a.removed_at IS NULL)), "
    "acts AS (SELECT a.id, a.entity_id, a.office_id, a.name, a.managers,"
    " a.processors, a.independent_controllers, a.recipient_categories"
    " FROM activities a JOIN r ON a.entity_id = r.entity_id"
    " WHERE NOT EXISTS (SELECT 1 FROM bad) AND a.removed_at IS NULL AND"
    " CASE WHEN $2::bigint[] IS NOT NULL THEN a.id = ANY ($2::bigint[])"
    " ELSE (a.id = ANY (coalesce($3::bigint[], '{}')) OR EXISTS (SELECT 1"
    " FROM unnest(a.subject_categories) sc, unnest(r.subject_categories) pc"
    " WHERE lower(sc) = lower(pc)))"
    " AND NOT a.id = ANY (coalesce($4::bigint[], '{}')) END), "
    "t AS (INSERT INTO tasks (request_id, kind, activity_id, office_id,"
    " created_at) SELECT $1, 'activity', id, office_id, $6 FROM acts"
    " ORDER BY id RETURNING id, activity_id), "
    "mgr AS (SELECT a.id AS activity_id, s.id AS staff_id FROM acts a"
    " JOIN staff s ON s.entity_id = a.entity_id"
    " WHERE lower(s.name) IN (SELECT lower(m) FROM unnest(a.managers) m)), "
    "who AS (SELECT * FROM mgr UNION SELECT a.id, s.id FROM acts a"
    " JOIN staff s ON s.entity_id = a.entity_id AND s.office_id = a.office_id"
    " WHERE NOT EXISTS (SELECT 1 FROM mgr WHERE mgr.activity_id = a.id)), "
    "ta AS (INSERT INTO task_assignees (task_id, staff_id)"
    " SELECT t.id, w.staff_id FROM t JOIN who w USING (activity_id)"
    " RETURNING task_id, staff_id), "
    "rc AS (SELECT min(x.name) AS name, min(x.kind) AS kind,"
    " array_agg(DISTINCT a.id ORDER BY a.id) AS ids FROM acts a,"
    " LATERAL (SELECT p, 'processor' FROM unnest(a.processors) p"
    "  UNION ALL SELECT p, 'independent_controller'"
    "  FROM unnest(a.independent_controllers) p"
    "  UNION ALL SELECT p, 'recipient' FROM unnest(a.recipient_categories) p"
    " ) x (name, kind)"
    " WHERE $5 AND char_length(btrim(x.name)) BETWEEN 1 AND 500"
    " AND lower(x.name) NOT LIKE 'persone autorizzate%'"
    " GROUP BY lower(x.name)), "
    "n AS (INSERT INTO tasks (request_id, kind, recipient, recipient_kind,"
    " activity_ids, created_at) SELECT $1, 'recipient_notice', name, kind,"
    " ids, $6 FROM rc ORDER BY lower(name)"
    " RETURNING id, recipient, activity_ids), "
    "na AS (INSERT INTO task_assignees (task_id, staff_id)"
    " SELECT DISTINCT n.id, w.staff_id FROM n JOIN who w"
    " ON w.activity_id = ANY (n.activity_ids) RETURNING task_id, staff_id), "
    "made AS (SELECT t.id, 'activity' AS kind, a.name AS activity,"
    " o.name AS office, NULL::text AS recipient FROM t"
    " JOIN acts a ON a.id = t.activity_id"
    " LEFT JOIN offices o ON o.id = a.office_id"
    " UNION ALL SELECT n.id, 'recipient_notice', NULL, NULL, n.recipient"
    " FROM n), "
    "asg AS (SELECT * FROM ta UNION ALL SELECT * FROM na), "
    /* Where each task is mailed: its assignees' addresses, or the body's
       when none of them has one. */
    "dest AS (SELECT DISTINCT m.id, s.email FROM made m JOIN asg"
    " ON asg.task_id = m.id JOIN staff s ON s.id = asg.staff_id"
    " WHERE s.email IS NOT NULL"
    " UNION SELECT m.id, e.email FROM made m, r JOIN entities e"
    " ON e.id = r.entity_id WHERE e.email IS NOT NULL AND NOT EXISTS"
    " (SELECT 1 FROM asg JOIN staff s ON s.id = asg.staff_id"
    " WHERE asg.task_id = m.id AND s.email IS NOT NULL)), "
    "pub AS (SELECT dsrd_request_public(rq) AS j, rq.entity_id"
    " FROM requests rq WHERE rq.id = $1), "
    "ob AS (INSERT INTO outbox (event, request_id, entity_id, channel,"
    " recipient, payload, next_attempt_at, created_at, age_from)"
    " SELECT 'request.tasks_assigned', $1, pub.entity_id, x.channel,"
    " x.recipient, jsonb_build_object('event', 'request.tasks_assigned',"
    " 'at', $6, 'request', pub.j, 'tasks', x.tasks), $6, $6, $6"
    " FROM pub, (SELECT 'email' AS channel, d.email AS recipient,"
    "  jsonb_agg(jsonb_build_object('id', m.id, 'kind', m.kind, 'activity',"
    "  m.activity, 'office', m.office, 'recipient', m.recipient)"
    "  ORDER BY m.id) AS tasks FROM dest d JOIN made m ON m.id = d.id"
    "  GROUP BY d.email"
    "  UNION ALL SELECT 'webhook', w, (SELECT jsonb_agg(jsonb_build_object("
    "  'id', m.id, 'kind', m.kind, 'activity', m.activity, 'office',"
    "  m.office, 'recipient', m.recipient) ORDER BY m.id) FROM made m)"
    "  FROM unnest(coalesce($7::text[], '{}')) w"
    "  WHERE EXISTS (SELECT 1 FROM made)) x) "
    "SELECT (SELECT string_agg(x::text, ', ' ORDER BY x) FROM bad), "
    "(SELECT count(*) FROM made)";

/* The tasks just made, read back in the same transaction. */
static const char made_sql[] =
    "SELECT coalesce(json_agg(" TASK_JSON_SQL " ORDER BY t.id), '[]')"
    " FROM tasks t WHERE t.request_id = $1";

struct route {
	struct db_txn	*txn;
	store_route_cb	*cb;
	void		*arg;
	char		 id[24];
};

static void
route_fail(struct route *q, const struct db_res *res, const char *what)
{
	int	err = store_db_err(res, what);

	q->cb(err, store_err_msg(err), NULL, q->arg);
	free(q);
}

static void
made_cb(const struct db_res *res, void *arg)
{
	struct route	*q = arg;
	cJSON		*tasks;

	if (!res->ok || db_ntuples(res) != 1) {
		route_fail(q, res, "task route read");
		return;
	}
	tasks = cJSON_Parse(db_value(res, 0, 0));
	q->cb(0, NULL, tasks != NULL ? tasks : cJSON_CreateArray(), q->arg);
	free(q);
}

static void
route_cb(const struct db_res *res, void *arg)
{
	struct route	*q = arg;
	const char	*bad;
	char		*msg;
	const char	*p[1] = { q->id };

	if (!res->ok || db_ntuples(res) != 1) {
		route_fail(q, res, "task route");
		return;
	}
	if ((bad = db_value(res, 0, 0)) != NULL) {
		msg = xasprintf("activity: not an activity of this body's "
		    "register (or removed from it): %s", bad);
		q->cb(E_INVALID_PARAMS, msg, NULL, q->arg);
		free(msg);
		free(q);
		return;
	}
	log_info("request %s: %s tasks made", q->id, db_value(res, 0, 1));
	db_txn_query(q->txn, made_sql, 1, p, made_cb, q);
}

void
store_task_route(struct db_txn *txn, const struct task_route *rt, time_t now,
    store_route_cb *cb, void *arg)
{
	struct route	*q = xcalloc(1, sizeof *q);
	char		 at[21];
	const char	*p[7];

	q->txn = txn;
	q->cb = cb;
	q->arg = arg;
	snprintf(q->id, sizeof q->id, "%lld", rt->request_id);
	store_format_instant(now, at);
	p[0] = q->id;
	p[1] = rt->only;
	p[2] = rt->add;
	p[3] = rt->drop;
	p[4] = rt->notices ? "true" : "false";
	p[5] = at;
	p[6] = rt->webhooks;
	db_txn_query(txn, route_sql, 7, p, route_cb, q);
}

struct open {
	store_open_cb	*cb;
	void		*arg;
};

static void
open_cb(const struct db_res *res, void *arg)
{
	struct open	*q = arg;

	if (!res->ok || db_ntuples(res) != 1) {
		q->cb(store_db_err(res, "open tasks"), 0, NULL, q->arg);
		free(q);
		return;
	}
	q->cb(0, atoi(db_value(res, 0, 0)), db_value(res, 0, 1), q->arg);
	free(q);
}

void
store_task_open(struct db_txn *txn, long long request_id, store_open_cb *cb,
    void *arg)
{
	struct open	*q = xmalloc(sizeof *q);
	char		 id[24];
	const char	*p[1] = { id };

	q->cb = cb;
	q->arg = arg;
	snprintf(id, sizeof id, "%lld", request_id);
	db_txn_query(txn, "SELECT (SELECT count(*) FROM tasks WHERE"
	    " request_id = $1 AND status = 'open'), (SELECT string_agg(id::text,"
	    " ', ' ORDER BY id) FROM (SELECT id FROM tasks WHERE request_id = $1"
	    " AND status = 'open' ORDER BY id LIMIT 20) o)", 1, p, open_cb, q);
}

/* ---- task.list, task.done, task.waive ---------------------------------- */

struct tq {
	store_cb	*cb;
	void		*arg;
};

static void
tq_done(struct tq *q, int err, const char *msg, cJSON *json)
{
	struct store_res	out = { .err = err, .msg = msg, .json = json };

	q->cb(&out, q->arg);
	free(q);
}

static int
tq_failed(struct tq *q, const struct db_res *res, const char *what)
{
	int	err;

	if (res->ok)
		return 0;
	err = store_db_err(res, what);
	tq_done(q, err, store_err_msg(err), NULL);
	return 1;
}

/* The staff role sees the tasks of its own body only. */
#define TASK_SCOPE(n)							\
	"(" n "::text IS NULL OR EXISTS (SELECT 1 FROM requests sr "	\
	"JOIN staff sc ON sc.entity_id = sr.entity_id "			\
	"WHERE sr.id = t.request_id AND sc.unix_user = " n "))"

static void
list_cb(const struct db_res *res, void *arg)
{
	struct tq	*q = arg;
	const char	*known;
	cJSON		*o, *a;

	if (tq_failed(q, res, "task.list"))
		return;
	known = db_value(res, 0, 0);
	if (known != NULL && strcmp(known, "f") != 0) {
		tq_done(q, E_NOT_FOUND, known, NULL);
		return;
	}
	a = cJSON_Parse(db_value(res, 0, 1));
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "tasks", a != NULL ? a : cJSON_CreateArray());
	cJSON_AddNumberToObject(o, "count",
	    cJSON_GetArraySize(cJSON_GetObjectItem(o, "tasks")));
	tq_done(q, 0, NULL, o);
}

void
store_task_list(struct db *db, const struct task_filter *f, store_cb *cb,
    void *arg)
{
	struct tq	*q = xmalloc(sizeof *q);
	char		 req[24], lim[24];
	const char	*p[6];

	q->cb = cb;
	q->arg = arg;
	snprintf(req, sizeof req, "%lld", f->request);
	snprintf(lim, sizeof lim, "%lld", f->limit);
	p[0] = f->request > 0 ? req : NULL;
	p[1] = f->entity;
	p[2] = f->status >= 0 ? task_status_names[f->status] : NULL;
	p[3] = f->mine;
	p[4] = f->scope;
	p[5] = lim;
	/* Column 0: why nothing can be listed (an unknown body or request,
	   one out of scope), else 'f'. */
	db_query(db,
	    "SELECT CASE WHEN $2::text IS NOT NULL AND NOT EXISTS (SELECT 1"
	    " FROM entities WHERE code = $2) THEN 'entity: no such body'"
	    " WHEN $1::bigint IS NOT NULL AND NOT EXISTS (SELECT 1 FROM"
	    " requests r WHERE r.id = $1 AND ($5::text IS NULL OR EXISTS"
	    " (SELECT 1 FROM staff sc WHERE sc.entity_id = r.entity_id AND"
	    " sc.unix_user = $5))) THEN 'request: no such request'"
	    " ELSE 'f' END, "
	    "(SELECT coalesce(json_agg(j ORDER BY id), '[]') FROM (SELECT t.id, "
	    TASK_JSON_SQL " AS j FROM tasks t"
	    " JOIN requests rr ON rr.id = t.request_id"
	    " JOIN entities e ON e.id = rr.entity_id"
	    " WHERE ($1::bigint IS NULL OR t.request_id = $1)"
	    " AND ($2::text IS NULL OR e.code = $2)"
	    " AND ($3::text IS NULL OR t.status = $3)"
	    " AND ($4::text IS NULL OR EXISTS (SELECT 1 FROM task_assignees ta"
	    " JOIN staff s ON s.id = ta.staff_id WHERE ta.task_id = t.id"
	    " AND s.unix_user = $4))"
	    " AND " TASK_SCOPE("$5")
	    " ORDER BY t.id LIMIT $6) l)", 6, p, list_cb, q);
}

static void
close_cb(const struct db_res *res, void *arg)
{
	struct tq	*q = arg;
	const char	*why;
	cJSON		*t;

	if (tq_failed(q, res, "task close"))
		return;
	if (db_ntuples(res) == 0) {
		tq_done(q, E_NOT_FOUND, "no such task", NULL);
		return;
	}
	if ((why = db_value(res, 0, 0)) != NULL) {
		tq_done(q, E_NOT_ALLOWED, why, NULL);
		return;
	}
	t = cJSON_Parse(db_value(res, 0, 1));
	if (t == NULL) {
		tq_done(q, E_INTERNAL, "internal error (logged)", NULL);
		return;
	}
	log_info("task %s of request %s: %s",
	    db_value(res, 0, 2), db_value(res, 0, 3), db_value(res, 0, 4));
	tq_done(q, 0, NULL, t);
}

void
store_task_close(struct db *db, long long id, int status, const char *note,
    const char *scope, const struct actor *who, time_t now, store_cb *cb,
    void *arg)
{
	struct tq	*q = xmalloc(sizeof *q);
	char		 ids[24], at[21], uid[16];
	const char	*p[9];

	q->cb = cb;
	q->arg = arg;
	snprintf(ids, sizeof ids, "%lld", id);
	snprintf(uid, sizeof uid, "%u", who->uid);
	store_format_instant(now, at);
	p[0] = ids;
	p[1] = task_status_names[status];
	p[2] = note;
	p[3] = scope;
	p[4] = at;
	p[5] = who->user;
	p[6] = uid;
	p[7] = who->role;
	p[8] = status == 1 ? "task.done" : "task.waive";
	/*
	 * The task and its request are locked, so that a close and a
	 * complete of the same request are serialised: the complete's gate
	 * then sees the task's final state. The reason a close is refused
	 * comes back in column 0; the update and its audit event happen only
	 * when there is none.
	 */
	db_query(db,
	    "WITH cur AS (SELECT t.id, t.status, t.request_id, r.entity_id,"
	    " r.status AS req_status FROM tasks t JOIN requests r"
	    " ON r.id = t.request_id WHERE t.id = $1 AND " TASK_SCOPE("$4")
	    " FOR UPDATE OF t, r), "
	    "why AS (SELECT CASE WHEN cur.status <> 'open' THEN 'task ' ||"
	    " cur.id || ' is ' || cur.status || ' already'"
	    " WHEN cur.req_status IN ('completed', 'rejected', 'withdrawn')"
	    " THEN 'request ' || cur.request_id || ' is ' || cur.req_status"
	    " END AS msg FROM cur), "
	    "u AS (UPDATE tasks SET status = $2, note = $3, closed_at = $5,"
	    " closed_by = $6 FROM cur, why WHERE tasks.id = cur.id"
	    " AND why.msg IS NULL RETURNING tasks.*), "
	    "a AS (INSERT INTO audit_events (request_id, entity_id, at, actor,"
	    " actor_uid, actor_role, action, note, details)"
	    " SELECT u.request_id, cur.entity_id, $5, $6, $7, $8, $9, $3,"
	    " jsonb_build_object('task', u.id, 'kind', u.kind, 'activity',"
	    " u.activity_id, 'recipient', u.recipient) FROM u, cur) "
	    "SELECT why.msg, (SELECT " TASK_JSON_SQL " FROM u t),"
	    " cur.id, cur.request_id, $2 FROM cur, why", 9, p, close_cb, q);
}

struct closeall {
	store_open_cb	*cb;
	void		*arg;
};

static void
closeall_cb(const struct db_res *res, void *arg)
{
	struct closeall	*q = arg;

	if (!res->ok)
		q->cb(store_db_err(res, "tasks close"), 0, NULL, q->arg);
	else
		q->cb(0, atoi(db_value(res, 0, 0)), NULL, q->arg);
	free(q);
}

void
store_task_close_open(struct db_txn *txn, long long request_id,
    const char *note, const struct actor *who, time_t now, store_open_cb *cb,
    void *arg)
{
	struct closeall	*q = xmalloc(sizeof *q);
	char		 id[24], at[21];
	const char	*p[4] = { id, note, at, who->user };

	q->cb = cb;
	q->arg = arg;
	snprintf(id, sizeof id, "%lld", request_id);
	store_format_instant(now, at);
	db_txn_query(txn, "WITH u AS (UPDATE tasks SET status = 'waived',"
	    " note = $2, closed_at = $3, closed_by = $4 WHERE request_id = $1"
	    " AND status = 'open' RETURNING 1) SELECT count(*) FROM u", 4, p,
	    closeall_cb, q);
}

struct cats {
	store_cats_cb	*cb;
	void		*arg;
};

static void
cats_cb(const struct db_res *res, void *arg)
{
	struct cats	*q = arg;

	if (!res->ok || db_ntuples(res) != 1)
		q->cb(store_db_err(res, "subject categories"), NULL, NULL,
		    q->arg);
	else
		q->cb(0, db_value(res, 0, 0), db_value(res, 0, 1), q->arg);
	free(q);
}

void
store_task_check_categories(struct db *db, long long entity_id,
    const char *cats, store_cats_cb *cb, void *arg)
{
	struct cats	*q = xmalloc(sizeof *q);
	char		 id[24];
	const char	*p[2] = { id, cats };

	q->cb = cb;
	q->arg = arg;
	snprintf(id, sizeof id, "%lld", entity_id);
	/* Nothing to check against before a register is imported. */
	db_query(db, "WITH k AS (SELECT DISTINCT s FROM activities a,"
	    " unnest(a.subject_categories) s WHERE a.entity_id = $1"
	    " AND a.removed_at IS NULL) "
	    "SELECT (SELECT string_agg('\"' || c || '\"', ', ') FROM"
	    " unnest($2::text[]) c WHERE EXISTS (SELECT 1 FROM k) AND NOT"
	    " EXISTS (SELECT 1 FROM k WHERE lower(k.s) = lower(c))),"
	    " (SELECT string_agg(s, '; ' ORDER BY s) FROM k)", 2, p, cats_cb,
	    q);
}
