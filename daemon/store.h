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
	int		 received_on;
	int		 statutory_due_on;
};
/*
 * Inserts the request and its "file" audit event in one statement. json: the
 * request plus "created"; with an idempotency key already used, the existing
 * request and created = false.
 */
void	store_request_file(struct db *, const struct request_in *,
	    const struct actor *, time_t now, int today, store_cb *, void *);
/* json: the request plus "history"; E_NOT_FOUND. */
void	store_request_show(struct db *, long long id, int today, store_cb *,
	    void *);

struct request_filter {
	const char	*entity;	/* NULL: all */
	int		 status;	/* -1: all */
	int		 type;		/* -1: all */
	bool		 overdue;
	long long	 due_within;	/* -1: no limit */
	long long	 limit;
};
/* json: {"requests": [...], "count": N}; E_NOT_FOUND for an unknown body. */
void	store_request_list(struct db *, const struct request_filter *,
	    int today, store_cb *, void *);

/* RFC 3339 UTC of an instant, into out (21 bytes). */
void	store_format_instant(time_t, char out[21]);

#endif
