/*
 * store-ropa.h: the SQL of a body's register of processing activities
 * (GDPR art. 30, SPEC §8): staging the batches of an import, applying the
 * whole register in one transaction (added, changed, removed, unchanged),
 * and reading activities back. It decides nothing (cmd-ropa.c checks every
 * field) and never reads the clock.
 */
#ifndef DSR_STORE_ROPA_H
#define DSR_STORE_ROPA_H

#include <stdbool.h>
#include <time.h>

#include "store.h"

/*
 * One message of an import. activities is the JSON text of an array of
 * activity objects already checked and normalised by the handler (every
 * member present), or NULL for none.
 */
struct ropa_in {
	const char	*entity;	/* the body's code */
	const char	*token;		/* NULL: the first message */
	const char	*activities;	/* JSON array text, or NULL */
	bool		 dry_run;	/* final only: compute, then ROLLBACK */
	const char	*source;	/* final only: JSON object text, or NULL */
};

/*
 * A message that is not final: sweeps abandoned imports (first message
 * only), then stages the activities under the token, a new one when none
 * is given. json: {"token", "staged"}. E_NOT_FOUND for an unknown body,
 * E_INVALID_PARAMS naming "token" for a token unknown to this body.
 */
void	store_ropa_stage(struct db *, const struct ropa_in *, time_t now,
	    store_cb *, void *);

/*
 * The final message: in one transaction, the body locked, the staged rows
 * of the token and the message's own activities become the register:
 * offices upserted, activities added, changed, revived or marked removed,
 * one audit event, the staging rows deleted; then COMMIT (ROLLBACK for a
 * dry run). json: {"entity", "dry_run", "activities", "added", "changed",
 * "removed", "unchanged"}. Errors as store_ropa_stage, and
 * E_INVALID_PARAMS naming "activities" when two have the same key.
 */
void	store_ropa_apply(struct db *, const struct ropa_in *,
	    const struct actor *, time_t now, store_cb *, void *);

struct ropa_filter {
	const char	*entity;	/* NULL: every body (in scope) */
	const char	*office;	/* case-insensitive substrings, or NULL */
	const char	*data_category;
	const char	*subject_category;
	const char	*software;
	const char	*processor;
	bool		 removed;	/* include removed activities */
	long long	 limit;
	const char	*scope;		/* staff: the caller's Unix user */
};
/* json: {"activities": [...], "count": n}; E_NOT_FOUND for an unknown
   body (or one out of scope). */
void	store_ropa_list(struct db *, const struct ropa_filter *, store_cb *,
	    void *);
/* json: the activity, every field; E_NOT_FOUND (or out of scope). */
void	store_ropa_show(struct db *, long long id, const char *scope,
	    store_cb *, void *);

#endif
