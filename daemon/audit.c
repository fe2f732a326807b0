/*
 * audit.c: the canonical form of an audit event, its SHA-256 link to the
 * one before, and the checks of a walk along the chain, computed in C from
 * the column values as PostgreSQL prints them. It must never ask the
 * database to compute any of it (audit_canonical() in SQL is exactly what an
 * attacker with DDL rights could replace), never do I/O, and never put an
 * event's contents in a reason: reasons are logged and name positions only.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "audit.h"
#include "util.h"

static void
field(struct buf *out, const char *v)
{
	if (v == NULL)
		buf_adds(out, "|-");
	else
		buf_addf(out, "|%zu:%s", strlen(v), v);
}

void
audit_canonical(const struct audit_event *e, struct buf *out)
{
	buf_adds(out, AUDIT_FORM);
	field(out, e->chain_pos);
	field(out, e->seq);
	field(out, e->request_id);
	field(out, e->entity_id);
	field(out, e->at);
	field(out, e->actor);
	field(out, e->actor_uid);
	field(out, e->actor_role);
	field(out, e->action);
	field(out, e->note);
	field(out, e->details);
}

int
audit_hash(const unsigned char prev[AUDIT_HASH_LEN],
    const struct audit_event *e, unsigned char out[AUDIT_HASH_LEN],
    char **cause)
{
	struct buf	 b;
	EVP_MD_CTX	*ctx;
	unsigned int	 len = 0;
	int		 ok;

	buf_init(&b);
	audit_canonical(e, &b);
	if ((ctx = EVP_MD_CTX_new()) == NULL) {
		buf_free(&b);
		*cause = xstrdup("EVP_MD_CTX_new failed");
		return -1;
	}
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, prev, AUDIT_HASH_LEN) == 1 &&
	    EVP_DigestUpdate(ctx, b.data, b.len) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &len) == 1 && len == AUDIT_HASH_LEN;
	EVP_MD_CTX_free(ctx);
	buf_free(&b);
	if (!ok) {
		*cause = xstrdup("SHA-256 failed (OpenSSL EVP)");
		return -1;
	}
	return 0;
}

void
audit_hex(const unsigned char *p, size_t n, char *out)
{
	static const char	 digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int
nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
audit_unhex(const char *s, unsigned char out[AUDIT_HASH_LEN])
{
	int	hi, lo;

	if (s == NULL || strlen(s) != AUDIT_HEX_LEN)
		return -1;
	for (size_t i = 0; i < AUDIT_HASH_LEN; i++) {
		if ((hi = nibble(s[2 * i])) < 0 ||
		    (lo = nibble(s[2 * i + 1])) < 0)
			return -1;
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

enum audit_check
audit_walk_init(struct audit_walk *w, const char *head_pos,
    const char *head_hex, char **reason)
{
	static const unsigned char	 zeros[AUDIT_HASH_LEN];

	memset(w, 0, sizeof *w);
	if (head_pos == NULL) {
		*reason = xstrdup("audit_head is missing");
		return AUDIT_BROKEN;
	}
	if (parse_int(head_pos, 0, LLONG_MAX, &w->head_pos) != 0) {
		*reason = xstrdup("audit_head has no valid position");
		return AUDIT_BROKEN;
	}
	if (audit_unhex(head_hex, w->head_hash) != 0) {
		*reason = xstrdup("audit_head's hash is not 32 bytes");
		return AUDIT_BROKEN;
	}
	if (w->head_pos == 0 && memcmp(w->head_hash, zeros, sizeof zeros)) {
		*reason = xstrdup("audit_head is at position 0 with a "
		    "non-zero hash");
		return AUDIT_BROKEN;
	}
	return AUDIT_OK;
}

static char *
missing(long long from, long long to)
{
	if (from == to)
		return xasprintf("the event at position %lld is missing", from);
	return xasprintf("the events at positions %lld to %lld are missing",
	    from, to);
}

enum audit_check
audit_walk_step(struct audit_walk *w, const struct audit_event *e,
    const char *prev_hex, const char *hash_hex, char **reason)
{
	unsigned char	 prev[AUDIT_HASH_LEN], stored[AUDIT_HASH_LEN];
	unsigned char	 computed[AUDIT_HASH_LEN];
	long long	 pos, want = w->pos + 1;
	char		*cause = NULL, *gap;

	if (parse_int(e->chain_pos, LLONG_MIN, LLONG_MAX, &pos) != 0) {
		*reason = xstrdup("it has no valid chain position");
		return AUDIT_BROKEN;
	}
	if (pos > want) {
		gap = missing(want, pos - 1);
		*reason = xasprintf("position %lld expected, found %lld: %s",
		    want, pos, gap);
		free(gap);
		return AUDIT_BROKEN;
	}
	if (pos != want) {
		*reason = xasprintf("position %lld expected, found %lld", want,
		    pos);
		return AUDIT_BROKEN;
	}
	if (audit_unhex(prev_hex, prev) != 0 ||
	    memcmp(prev, w->hash, sizeof prev) != 0) {
		*reason = pos == 1 ?
		    xstrdup("prev_hash is not the chain's start (zeros)") :
		    xasprintf("prev_hash does not match the hash of the event "
		    "at position %lld", pos - 1);
		return AUDIT_BROKEN;
	}
	if (audit_hash(w->hash, e, computed, &cause) != 0) {
		*reason = cause;
		return AUDIT_ERROR;
	}
	if (audit_unhex(hash_hex, stored) != 0 ||
	    memcmp(stored, computed, sizeof stored) != 0) {
		*reason = xstrdup("its hash does not match its contents (the "
		    "event was changed after it was written)");
		return AUDIT_BROKEN;
	}
	if (pos > w->head_pos) {
		*reason = xasprintf("it lies beyond audit_head, which records "
		    "position %lld", w->head_pos);
		return AUDIT_BROKEN;
	}
	if (pos == w->head_pos &&
	    memcmp(computed, w->head_hash, sizeof computed) != 0) {
		*reason = xstrdup("its hash differs from the one audit_head "
		    "records for this position");
		return AUDIT_BROKEN;
	}
	w->pos = pos;
	memcpy(w->hash, computed, sizeof w->hash);
	w->events++;
	return AUDIT_OK;
}

enum audit_check
audit_walk_end(const struct audit_walk *w, char **reason)
{
	char	*gap;

	if (w->pos >= w->head_pos)
		return AUDIT_OK;
	gap = missing(w->pos + 1, w->head_pos);
	*reason = xasprintf("the trail ends at position %lld but audit_head "
	    "records position %lld: %s", w->pos, w->head_pos, gap);
	free(gap);
	return AUDIT_BROKEN;
}
