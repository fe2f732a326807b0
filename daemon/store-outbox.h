/*
 * store-outbox.h: the SQL of the outbox worker: claiming deliverable rows
 * with a lease, recording the outcome of an attempt (sent, retry later,
 * dead and escalated), `outbox retry`. Every statement is short and runs on
 * its own: no row lock is ever held while a message is on the network.
 */
#ifndef DSR_STORE_OUTBOX_H
#define DSR_STORE_OUTBOX_H

#include <stdbool.h>
#include <time.h>

struct db;

struct outbox_row {
	long long	 id;
	char		*msg_id;
	char		*event;
	bool		 email;		/* else webhook */
	char		*recipient;	/* address or webhook name */
	char		*payload;	/* JSON */
	int		 attempts;	/* counting this one */
	time_t		 age_from;
	char		*entity_name;
	char		*subject_name;	/* only with include_subject_name */
	bool		 disabled;	/* webhook disabled after 410 */
};
void	outbox_row_free(struct outbox_row *);

/* rows: n claimed rows, each the callee's (outbox_row_free). */
typedef void	store_claim_cb(int err, struct outbox_row **rows, int n,
		    void *arg);
/*
 * Claims up to limit rows that are due (pending and next_attempt_at <= now,
 * or sending with an expired lease: a daemon died mid-send), marking them
 * sending until lease_until, in one committed statement. E-mail rows only
 * when mail is configured.
 */
void	store_outbox_claim(struct db *, time_t now, time_t lease_until,
	    int limit, bool mail, bool subject_name, store_claim_cb *, void *);

enum outbox_outcome {
	OB_SENT,
	OB_RETRY,		/* pending again at `next` */
	OB_DEAD,		/* and escalated by the other channel */
	OB_DEAD_GONE,		/* 410: dead, the endpoint disabled, escalated */
	OB_DEAD_QUIET,		/* dead, not escalated (endpoint disabled) */
};
typedef void	store_done_cb(int err, void *arg);
/*
 * Records one attempt's outcome (only if the row is still ours: sending).
 * For OB_DEAD*, the escalation (event delivery.failed: a dead webhook to the
 * DPO by e-mail, a dead e-mail to the webhooks) is queued in the same
 * statement; an escalation is never escalated again.
 */
void	store_outbox_done(struct db *, long long id, enum outbox_outcome,
	    time_t now, time_t next, const char *error, const char *dpo_email,
	    const char *webhooks, store_done_cb *, void *);

/* Records many sent rows in one statement (those still sending). */
void	store_outbox_sent(struct db *, const long long *ids, int n,
	    time_t now, store_done_cb *, void *);
/* Rows claimed and never attempted go back to the queue, due now. */
void	store_outbox_release(struct db *, const long long *ids, int n,
	    store_done_cb *, void *);

/* The earliest moment a row becomes deliverable (DL_NO_TIME: none). */
typedef void	store_when_cb(int err, time_t when, void *arg);
void	store_outbox_next(struct db *, bool mail, store_when_cb *, void *);

struct cJSON;
struct store_res;
/* outbox.retry: a dead (or pending) row goes back to the queue now, with a
   fresh max_age; a webhook disabled by a 410 is enabled again. */
void	store_outbox_retry(struct db *, long long id, time_t now,
	    void (*cb)(struct store_res *, void *), void *);

#endif
