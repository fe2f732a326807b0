/*
 * validate.h: checks of untrusted input shared by the daemon's handlers and
 * the importers: request types, channels and states, the codice fiscale,
 * e-mail addresses, codes and free text. Pure: no I/O, no allocation except
 * the *cause strings. Every failure says which rule was broken, never echoes
 * the value (it may be personal data).
 */
#ifndef DSR_VALIDATE_H
#define DSR_VALIDATE_H

#include <stddef.h>

enum req_type {
	REQ_ACCESS,
	REQ_RECTIFICATION,
	REQ_ERASURE,
	REQ_RESTRICTION,
	REQ_PORTABILITY,
	REQ_OBJECTION,
	REQ_AUTOMATED_DECISION,
	REQ_TYPE_COUNT
};

enum req_channel {
	CH_EMAIL,
	CH_PEC,
	CH_PAPER,
	CH_COUNTER,
	CH_WEB,
	CH_PHONE,
	CH_COUNT
};

enum req_status {
	ST_RECEIVED,
	ST_FORWARDED,
	ST_AWAITING_SUBJECT,
	ST_COMPLETED,
	ST_REJECTED,
	ST_WITHDRAWN,
	ST_COUNT
};

/* Notification events (SPEC §5). */
enum notify_event {
	NEV_FILED,
	NEV_FORWARDED,
	NEV_DEADLINE_WARNING,
	NEV_EXTENSION_DECISION,
	NEV_OVERDUE,
	NEV_EXTENDED,
	NEV_CLOSED,
	NEV_TASKS_ASSIGNED,	/* a forward made tasks (SPEC §8) */
	NEV_COUNT
};
#define NEV_ALL	((1u << NEV_COUNT) - 1)

extern const char *const req_type_names[REQ_TYPE_COUNT];
extern const char *const notify_event_names[NEV_COUNT];	/* "request.filed" */
extern const char *const req_channel_names[CH_COUNT];
extern const char *const req_status_names[ST_COUNT];

/* Index of s in names[0..n), or -1. Exact, case-sensitive. */
int	val_lookup(const char *s, const char *const *names, int n);

/*
 * Codice fiscale of a natural person: 16 characters, letters in any case
 * (normalised to upper case into out), omocodia letters allowed in the digit
 * positions, a real month letter, a day 1..31 or 41..71, and the check
 * character. Returns 0, or -1 and *cause (heap, caller frees).
 */
int	val_tax_code(const char *in, char out[17], char **cause);

/*
 * The form of an e-mail address (local@domain, RFC 5321 lengths, a domain of
 * dot-separated labels of letters, digits and hyphens, with at least one
 * dot). Returns 0, or -1 and *cause.
 */
int	val_email(const char *, char **cause);

/*
 * Free text: valid UTF-8, at most maxchars characters (code points), no
 * control characters except, where multiline, LF and TAB. Returns 0, or -1
 * and *cause.
 */
int	val_text(const char *, size_t maxchars, int multiline, char **cause);

/* Whether s[0..len) is well-formed UTF-8 without NUL bytes: 0 or -1. */
int	val_utf8(const char *s, size_t len);
/* The length of the longest prefix of s, at most max bytes, that ends on a
   character boundary (well-formed UTF-8 only). */
size_t	val_utf8_prefix(const char *s, size_t max);

/*
 * A body's code: 1..32 of [a-z0-9_-], starting with a letter or digit. Upper
 * case is folded into out (33 bytes). Returns 0, or -1 and *cause.
 */
int	val_code(const char *, char out[33], char **cause);

#endif
