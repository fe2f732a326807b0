/*
 * store.h: typed access to dsrd's tables: the SQL and the decoding of its
 * results, nothing else. It never decides anything (that is the handlers'
 * and the pure modules' job), never reads the clock (the caller passes
 * "now" and "today"), and only ever sends $n parameters.
 */
#ifndef DSR_STORE_H
#define DSR_STORE_H

#include <stdbool.h>
#include <time.h>

#include "calendar.h"

struct cJSON;
struct db;
struct db_txn;
struct store_tx;

struct store_res {
	int		 err;		/* 0, or an E_ code of proto.h */
	const char	*msg;		/* on error: for the client */
	struct cJSON	*json;		/* on success; the callback takes it */
};
typedef void	store_cb(struct store_res *, void *arg);

/* Who did it, for the audit trail. */
struct actor {
	const char	*user;
	unsigned	 uid;
	const char	*role;
};

/* Applies the migrations the database lacks, under an advisory lock. */
typedef void	store_migrate_cb(bool ok, int version, void *arg);
void	store_migrate(struct db *, store_migrate_cb *, void *);

struct entity_in {
	const char		*code;
	const char		*name;
	const char		*email;		/* NULL: none */
	const char		*dpo_email;
	struct cal_local	 holidays;
};
/* json: the entity; E_CONFLICT if the code exists. */
void	store_entity_add(struct db *, const struct entity_in *,
	    const struct actor *, time_t now, store_cb *, void *);
/* json: {"entities": [...]} */
void	store_entity_list(struct db *, store_cb *, void *);

/* A body as the handlers need it to compute deadlines. */
struct entity_ref {
	long long		 id;
	struct cal_local	 holidays;
};
typedef void	store_entity_cb(int err, const struct entity_ref *, void *);
/* err E_NOT_FOUND when there is no such body. */
void	store_entity_get(struct db *, const char *code, store_entity_cb *,
	    void *);
/* The body as store_entity_get found it lately (a minute at most; bodies
   never change), without a query: true and *out, else false. */
bool	store_entity_cached(const char *code, struct entity_ref *out);

/* Where notifications of an event go, besides the body's own addresses. */
struct notify_to {
	const char	*dpo_email;	/* [dpo] email, or NULL */
	const char	*webhooks;	/* "{name,name}": subscribed webhooks */
};

struct request_in {
	long long	 entity_id;
	int		 type;		/* enum req_type */
	const char	*subject_name;
	const char	*subject_tax_code;
	const char	*subject_email;
	int		 channel;	/* enum req_channel, -1: none */
	const char	*protocol;
	const char	*summary;
	const char	*idempotency_key;
	const char	*subject_categories;	/* text[] literal, or NULL */
	int		 received_on;
	int		 statutory_due_on;
	time_t		 next_alert_at;		/* DL_NO_TIME: none */
	struct notify_to notify;		/* of request.filed */
};
/*
 * Inserts the request and its "file" audit event in one statement. json: the
 * request plus "created"; with an idempotency key already used, the existing
 * request and created = false.
 */
void	store_request_file(struct db *, const struct request_in *,
	    const struct actor *, time_t now, int today, store_cb *, void *);
/* A request as the lifecycle and the scheduler need it. */
struct request_row {
	long long		 id;
	long long		 entity_id;
	int			 type;		/* enum req_type */
	int			 status;	/* enum req_status */
	int			 status_before;	/* before awaiting_subject, or -1 */
	int			 received_on;	/* day numbers, DL_NONE for NULL */
	int			 forwarded_on;
	int			 awaiting_since;
	int			 extended_on;
	bool			 extended;
	int			 paused_days;
	int			 op_paused_days;
	int			 statutory_due_on;
	int			 due_on;
	time_t			 alerts_after;	/* DL_NO_TIME for NULL */
	struct cal_local	 holidays;	/* the body's */
};

/* A transaction holding one request's row lock. */
struct store_tx;
/* tx and row are NULL on error (err: E_NOT_FOUND, E_UNAVAILABLE, ...). */
typedef void	store_lock_cb(struct store_tx *, int err,
		    const struct request_row *, void *arg);
/* BEGIN; SELECT ... FOR UPDATE of the request. */
/* scope: for the staff role, the caller's Unix user (see SCOPE in
   store.c); NULL for every other role. Out of scope is "not found". */
void	store_request_lock(struct db *, long long id, const char *scope,
	    store_lock_cb *, void *);
/* ROLLBACK and free. */
void	store_tx_abort(struct store_tx *);

/* The new state of a request after a transition, and its audit event. */
struct request_change {
	int		 status;
	int		 status_before;		/* -1: NULL */
	int		 forwarded_on;		/* DL_NONE: NULL */
	int		 awaiting_since;
	bool		 extended;
	int		 extended_on;
	const char	*extension_reason;
	int		 paused_days;
	int		 op_paused_days;
	int		 statutory_due_on;
	int		 operational_due_on;
	int		 due_on;
	int		 closed_on;
	const char	*outcome;
	const char	*reject_reason;
	const char	*outcome_note;
	time_t		 next_alert_at;		/* DL_NO_TIME: none */
	const char	*action;		/* audit: lc_action_names[] */
	const char	*note;
	const char	*details;		/* audit: JSON text, or NULL */
	const char	*event;			/* "request.forwarded" or NULL */
	struct notify_to notify;
	/*
	 * Optional: more of the same transition, after the update and before
	 * COMMIT (the tasks of a forward, the open-task gate of complete).
	 * It sends its statements on txn, may add members to json (the
	 * request as updated, owned by tx), and ends with exactly one
	 * store_tx_continue().
	 */
	void		(*before_commit)(struct store_tx *, struct db_txn *txn,
			    struct cJSON *json, void *arg);
	void		*hook_arg;
};
/*
 * UPDATE, audit event and notifications in one statement, then COMMIT; json:
 * the request as it is now. The handle is freed.
 */
void	store_request_apply(struct store_tx *, const struct request_change *,
	    const struct actor *, time_t now, int today, store_cb *, void *);
/* The end of a before_commit hook: err 0 commits, anything else rolls back
   and the client gets err and msg (copied before this returns). */
void	store_tx_continue(struct store_tx *, int err, const char *msg);

/*
 * The scheduler's batch: BEGIN; the open requests whose next alert moment
 * is at or before now, locked FOR UPDATE SKIP LOCKED (so that several
 * daemons share the work and never raise an alert twice), oldest first.
 */
typedef void	store_batch_cb(struct store_tx *, int err,
		    const struct request_row *, int n, void *arg);
void	store_alert_batch(struct db *, time_t now, int limit, store_batch_cb *,
	    void *);

/* What the scheduler decided for one request of the batch. */
struct alert_out {
	long long	 request_id;
	int		 kind;		/* enum dl_kind, or -1: no alert */
	time_t		 moment;
	int		 due_on;
	int		 days_before;
	time_t		 next_at;	/* DL_NO_TIME: none */
};
typedef void	store_raised_cb(int err, int raised, void *arg);
/*
 * Records the alerts (once per request, kind and moment: a duplicate is
 * skipped), queues their notifications, moves each request's next alert
 * moment, COMMIT. webhooks: JSON {"request.overdue": ["name", ...], ...}.
 */
void	store_alert_commit(struct store_tx *, const struct alert_out *, int n,
	    time_t now, const char *dpo_email, const char *webhooks,
	    store_raised_cb *, void *);
/* Calls back with the earliest next_alert_at (DL_NO_TIME: none). */
typedef void	store_next_cb(int err, time_t next, void *arg);
void	store_next_alert(struct db *, store_next_cb *, void *);

/* json: {"events": [...]} of a request; E_NOT_FOUND. */
void	store_request_history(struct db *, long long id, const char *scope,
	    store_cb *, void *);

/* json: the request plus "history"; E_NOT_FOUND. */
void	store_request_show(struct db *, long long id, const char *scope,
	    int today, store_cb *, void *);

struct request_filter {
	const char	*entity;	/* NULL: all */
	int		 status;	/* -1: all */
	int		 type;		/* -1: all */
	bool		 overdue;
	long long	 due_within;	/* -1: no limit */
	long long	 limit;
	const char	*scope;		/* staff: the caller's Unix user */
};
/* json: {"requests": [...], "count": N}; E_NOT_FOUND for an unknown body. */
void	store_request_list(struct db *, const struct request_filter *,
	    int today, store_cb *, void *);

/*
 * [deadlines] pause_on_await, set at start and on reload: while a request
 * awaits the person its clocks are stopped, so it is neither overdue nor
 * due soon (its due dates move when it resumes).
 */
extern bool	store_pause_on_await;

/* The E_ code of a failed statement: E_UNAVAILABLE when the connection is
   gone, else E_INTERNAL after logging the SQL error (never its values). */
struct db_res;
int	store_db_err(const struct db_res *, const char *what);
/* What the client is told of such a code: "database unavailable",
   "internal error (logged)"; NULL for 0. */
const char	*store_err_msg(int err);

/* RFC 3339 UTC of an instant, into out (21 bytes). */
void	store_format_instant(time_t, char out[21]);

#endif
