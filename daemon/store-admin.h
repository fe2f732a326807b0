/*
 * store-admin.h: the SQL behind the operators' and the DPO's views of the
 * whole system: the audit trail's verification, the statistics and the
 * outbox. Like store.h it only sends $n parameters, never reads the clock
 * (the caller passes "today"), and returns no personal data of a data
 * subject.
 */
#ifndef DSR_STORE_ADMIN_H
#define DSR_STORE_ADMIN_H

#include "store.h"

struct db;

/* The outbox states, in the order `outbox list` documents them. */
#define OUTBOX_STATES	"pending,sending,dead,sent"

/*
 * Walks the audit trail in chain order, a page at a time, in one REPEATABLE
 * READ READ ONLY transaction (one snapshot, so concurrent appends cause no
 * false alarm), recomputing every hash in C (audit.c). json on success:
 * {"ok": true, "events": N, "head": "<hex>"}. On a break, err is
 * E_AUDIT_BROKEN, msg says where and why, and json is the error's data
 * {"seq", "chain_pos", "request_id", "reason"} (the callback takes it).
 */
void	store_audit_verify(struct db *, store_cb *, void *);

/*
 * json: {"by_status": {...every state...}, "open", "overdue", "due_soon",
 * "median_days_to_close" (number or null), "by_entity": [{"entity", "open",
 * "overdue", "due_soon"}], "today"}; entity NULL for all bodies;
 * E_NOT_FOUND for an unknown body.
 */
void	store_stats(struct db *, const char *entity, int today, store_cb *,
	    void *);

/*
 * json: {"items": [...], "count": N}, newest first. states: a comma list of
 * OUTBOX_STATES names, already checked by the caller.
 */
void	store_outbox_list(struct db *, const char *states, long long limit,
	    store_cb *, void *);

#endif
