/*
 * audit.h: the audit trail's hash chain, computed again in C, pure. An
 * event's canonical form and its SHA-256 link are defined here a second
 * time, independently of the SQL function audit_canonical() and the trigger
 * of sql/0002_lifecycle.sql, so that `audit verify` still catches an edit
 * made with the triggers bypassed or with those SQL functions replaced. It
 * reads column values as PostgreSQL prints them, never the database itself,
 * and never sees the clock. Keep the form in step with audit_canonical().
 */
#ifndef DSR_AUDIT_H
#define DSR_AUDIT_H

#include <stddef.h>

#include "util.h"

#define AUDIT_HASH_LEN		32
#define AUDIT_HEX_LEN		(2 * AUDIT_HASH_LEN)
#define AUDIT_FORM		"dsrd-audit-1"

/*
 * One audit event as the text PostgreSQL prints for each column (NULL for
 * SQL NULL): at as to_char(at AT TIME ZONE 'UTC',
 * 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), details as details::text. The strings
 * are borrowed.
 */
struct audit_event {
	const char	*chain_pos;
	const char	*seq;
	const char	*request_id;
	const char	*entity_id;
	const char	*at;
	const char	*actor;
	const char	*actor_uid;
	const char	*actor_role;
	const char	*action;
	const char	*note;
	const char	*details;
};

/*
 * Appends the canonical form to out: AUDIT_FORM, then for each field in the
 * order of struct audit_event "|" and "-" for NULL or "<octets>:<text>".
 */
void	audit_canonical(const struct audit_event *, struct buf *out);
/* SHA-256(prev || canonical form). Returns 0, or -1 and *cause. */
int	audit_hash(const unsigned char prev[AUDIT_HASH_LEN],
	    const struct audit_event *, unsigned char out[AUDIT_HASH_LEN],
	    char **cause);
/* Lower-case hex of n bytes and a NUL into out (2n + 1 bytes). */
void	audit_hex(const unsigned char *, size_t n, char *out);
/* Exactly AUDIT_HEX_LEN hex digits (either case) into out. 0 or -1. */
int	audit_unhex(const char *, unsigned char out[AUDIT_HASH_LEN]);

/*
 * A walk along the chain, one event at a time in chain_pos order, checked
 * against audit_head as read in the same snapshot. The results of the steps:
 */
enum audit_check {
	AUDIT_OK = 0,
	AUDIT_BROKEN,		/* *reason says how; the trail does not match */
	AUDIT_ERROR,		/* *reason: we could not check (hashing failed) */
};

struct audit_walk {
	long long	 events;	/* checked and matching so far */
	long long	 pos;		/* position of the last one, 0 first */
	unsigned char	 hash[AUDIT_HASH_LEN];	/* its hash; zeros first */
	long long	 head_pos;	/* audit_head */
	unsigned char	 head_hash[AUDIT_HASH_LEN];
};

/*
 * Starts a walk from audit_head's pos and hex hash (NULL when the row is
 * missing). AUDIT_BROKEN if the head itself cannot be right.
 */
enum audit_check audit_walk_init(struct audit_walk *, const char *head_pos,
	    const char *head_hex, char **reason);
/*
 * Checks the next event, with its stored prev_hash and hash in hex: its
 * position is the next one, prev_hash is the previous event's hash (zeros
 * for the first), hash is the one recomputed from its contents, and it
 * agrees with audit_head where it is the head's position and does not lie
 * beyond it. Reasons name positions, never the event's contents.
 */
enum audit_check audit_walk_step(struct audit_walk *,
	    const struct audit_event *, const char *prev_hex,
	    const char *hash_hex, char **reason);
/*
 * After the last event: the chain must reach audit_head's position. When it
 * does not, the first missing position is walk->pos + 1.
 */
enum audit_check audit_walk_end(const struct audit_walk *, char **reason);

#endif
