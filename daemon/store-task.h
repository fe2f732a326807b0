/*
 * store-task.h: the SQL of tasks (SPEC §8): the work a forwarded request
 * means, one task per concerned activity of the body's register, and one
 * recipient notice (GDPR art. 19) per processor or recipient of those
 * activities for rectification, erasure and restriction. Like store.h it
 * decides nothing and never reads the clock.
 */
#ifndef DSR_STORE_TASK_H
#define DSR_STORE_TASK_H

#include <stdbool.h>
#include <time.h>

#include "store.h"

/*
 * One task as the protocol's JSON object, built by PostgreSQL from the
 * tasks row aliased t (json). Shared by task.list, request.show and
 * request.forward so that a task looks the same everywhere.
 */
#define TASK_JSON_SQL							\
	"json_build_object('id', t.id, 'request', t.request_id, "	\
	"'entity', (SELECT e.code FROM requests rq JOIN entities e "	\
	"ON e.id = rq.entity_id WHERE rq.id = t.request_id), "		\
	"'kind', t.kind, 'activity', (SELECT json_build_object('id', "	\
	"ac.id, 'name', ac.name, 'office', o.name) FROM activities ac "	\
	"LEFT JOIN offices o ON o.id = ac.office_id "			\
	"WHERE ac.id = t.activity_id), "				\
	"'recipient', t.recipient, 'recipient_kind', t.recipient_kind, "\
	"'activities', to_json(t.activity_ids), 'status', t.status, "	\
	"'assignees', (SELECT coalesce(json_agg(json_build_object("	\
	"'id', s.id, 'name', s.name, 'email', s.email, 'user', "	\
	"s.unix_user) ORDER BY s.name), '[]') FROM task_assignees ta "	\
	"JOIN staff s ON s.id = ta.staff_id WHERE ta.task_id = t.id), "	\
	"'note', t.note, 'closed_at', to_char(t.closed_at AT TIME ZONE "\
	"'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'closed_by', "	\
	"t.closed_by, 'created_at', to_char(t.created_at AT TIME ZONE "	\
	"'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"

/* The tasks of the request aliased r, as a JSON array. */
#define TASKS_OF_REQUEST_SQL						\
	"(SELECT coalesce(json_agg(" TASK_JSON_SQL " ORDER BY t.id), "	\
	"'[]') FROM tasks t WHERE t.request_id = r.id)"

/* Art. 19: the recipients told of the change to the request aliased r. */
#define RECIPIENTS_INFORMED_SQL						\
	"(SELECT coalesce(json_agg(json_build_object('recipient', "	\
	"t.recipient, 'kind', t.recipient_kind, 'task', t.id, "		\
	"'informed_at', to_char(t.closed_at AT TIME ZONE 'UTC', "	\
	"'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), 'by', t.closed_by) "	\
	"ORDER BY t.closed_at, t.id), '[]') FROM tasks t "		\
	"WHERE t.request_id = r.id AND t.kind = 'recipient_notice' "	\
	"AND t.status = 'done')"

/* How a forward chooses the activities of a request. */
struct task_route {
	long long	 request_id;
	/* bigint[] literals ("{1,2}"), or NULL. only: exactly these; else
	   those whose data-subject categories meet the person's, plus add,
	   minus drop. */
	const char	*only;
	const char	*add;
	const char	*drop;
	bool		 notices;	/* art. 19 recipient notices too */
	const char	*webhooks;	/* "{name,...}" of tasks_assigned */
};
/*
 * tasks: the JSON array of the tasks made (the callback takes it); err
 * E_INVALID_PARAMS with msg when an activity named is not a live activity
 * of the request's body.
 */
typedef void	store_route_cb(int err, const char *msg, struct cJSON *tasks,
		    void *arg);
void	store_task_route(struct db_txn *, const struct task_route *,
	    time_t now, store_route_cb *, void *);

/* The open tasks of a request: n, and their ids ("4, 5") for a message. */
typedef void	store_open_cb(int err, int n, const char *ids, void *arg);
void	store_task_open(struct db_txn *, long long request_id, store_open_cb *,
	    void *);

/* A request rejected or withdrawn: its open tasks are moot. Waives them
   with note; cb gets how many (ids NULL). */
void	store_task_close_open(struct db_txn *, long long request_id,
	    const char *note, const struct actor *, time_t now,
	    store_open_cb *, void *);

/*
 * Checks the data-subject categories given at filing (a text[] literal)
 * against those of the body's register: bad lists the unknown ones and
 * known the register's (either NULL), for the message. A body without a
 * register yet has nothing to check against: bad is NULL.
 */
typedef void	store_cats_cb(int err, const char *bad, const char *known,
		    void *arg);
void	store_task_check_categories(struct db *, long long entity_id,
	    const char *cats, store_cats_cb *, void *);

struct task_filter {
	long long	 request;	/* 0: all */
	const char	*entity;	/* NULL: all */
	int		 status;	/* index in task_status_names, -1: all */
	const char	*mine;		/* Unix user: tasks assigned to it */
	const char	*scope;		/* staff: the caller's Unix user */
	long long	 limit;
};
extern const char *const task_status_names[3];	/* open, done, waived */

/* json: {"tasks": [...], "count": N}; E_NOT_FOUND for an unknown body or
   request (or one out of the caller's scope). */
void	store_task_list(struct db *, const struct task_filter *, store_cb *,
	    void *);
/*
 * Marks an open task done or waived (status 1 or 2) with its note and an
 * audit event of its request; json: the task. E_NOT_FOUND (or out of
 * scope), E_NOT_ALLOWED when it is not open or its request is closed.
 */
void	store_task_close(struct db *, long long id, int status,
	    const char *note, const char *scope, const struct actor *,
	    time_t now, store_cb *, void *);

#endif
