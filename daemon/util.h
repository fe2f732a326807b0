/*
 * util.h: allocation helpers that abort on out-of-memory, and small string
 * helpers shared by the daemon, the client and the tests. Nothing here may
 * block, log personal data, or depend on the event loop.
 */
#ifndef DSR_UTIL_H
#define DSR_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#define nitems(a) (sizeof(a) / sizeof((a)[0]))

/* All return memory the caller owns; they abort on out-of-memory. */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
void	*xreallocarray(void *, size_t, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);
char	*xasprintf(const char *, ...) __attribute__((format(printf, 1, 2)));
char	*xvasprintf(const char *, va_list) __attribute__((format(printf, 1, 0)));

/* A growable byte buffer; the bytes are always NUL-terminated. */
struct buf {
	char	*data;
	size_t	 len;
	size_t	 cap;
};
void	 buf_init(struct buf *);
void	 buf_free(struct buf *);
void	 buf_add(struct buf *, const void *, size_t);
void	 buf_adds(struct buf *, const char *);
void	 buf_addf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 buf_consume(struct buf *, size_t);
/* Hands the bytes to the caller (who frees them) and empties the buffer. */
char	*buf_take(struct buf *);

/*
 * JSON written straight into a buffer, for answers built from database
 * rows without a cJSON tree. buf_add_json_str appends s (UTF-8 text, as
 * PostgreSQL gives it) as a JSON string, quoted and escaped, or null for
 * NULL. buf_add_json_text appends json, a JSON text that is valid by
 * construction (json_agg() and friends), without the white space between
 * its tokens, so that an answer stays on one line; NULL or "" appends
 * dflt.
 */
void	 buf_add_json_str(struct buf *, const char *s);
void	 buf_add_json_text(struct buf *, const char *json, const char *dflt);

/*
 * Parses a decimal integer in [min, max]; the whole string must be the number.
 * Returns 0 on success, -1 on failure.
 */
int	 parse_int(const char *, long long min, long long max, long long *out);

/* FNV-1a of a string: for hash tables, never for anything an attacker
   could aim at a table to slow it (inputs are the operator's files and
   the database's codes). */
uint64_t str_hash(const char *);

/* Trims ASCII white space at both ends, in place; returns its argument. */
char	*str_trim(char *);

/* Monotonic clock in milliseconds. */
long long	 mono_ms(void);

#endif
