/*
 * test_audit.c: unit tests of audit.c, the C side of the audit trail's hash
 * chain. The expected canonical forms and hashes below were computed by
 * PostgreSQL 15 itself (audit_canonical() and the chain trigger of
 * sql/0002_lifecycle.sql) on a throwaway cluster, for events with NULLs,
 * multi-byte UTF-8, an empty note, separators and newlines inside values,
 * microseconds and a jsonb value (as details::text prints it): if the two
 * definitions drift apart, these fail. Then the walk: a good chain passes,
 * and each kind of tampering is reported at the right event.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "audit.h"
#include "util.h"

#define ZEROS	"0000000000000000000000000000000000000000000000000000000000000000"

struct row {
	struct audit_event	 e;
	const char		*canonical;	/* audit_canonical(a) */
	const char		*prev;		/* encode(prev_hash, 'hex') */
	const char		*hash;		/* encode(hash, 'hex') */
};

/* Five events in chain order, as PostgreSQL 15 printed and hashed them. */
static const struct row rows[] = {
	{
		{ "1", "1", NULL, "1", "2026-03-01T10:00:00.000000Z", "dpo",
		  "1000", "dpo", "entity.add", NULL, NULL },
		"dsrd-audit-1|1:1|1:1|-|1:1|27:2026-03-01T10:00:00.000000Z|"
		"3:dpo|4:1000|3:dpo|10:entity.add|-|-",
		ZEROS,
		"a45dee5f8e0e9367bb0064a8b3df7bde32588b5866a4472ddb711503c83a8d5b",
	},
	{
		{ "2", "2", "1", "1", "2026-03-02T09:00:00.123456Z", "clerk1",
		  "1001", "clerk", "file", NULL, NULL },
		"dsrd-audit-1|1:2|1:2|1:1|1:1|27:2026-03-02T09:00:00.123456Z|"
		"6:clerk1|4:1001|5:clerk|4:file|-|-",
		"a45dee5f8e0e9367bb0064a8b3df7bde32588b5866a4472ddb711503c83a8d5b",
		"d367627f405d44b2e5f9dc0f526395f10be9e5c4b28d2c01e6c4a04916485402",
	},
	{
		{ "3", "3", "1", "1", "2026-03-03T10:30:05.000000Z", "dpo",
		  "1000", "dpo", "await_subject",
		  "Richiesta d'identit\u00e0: documento pi\u00f9 recente "
		  "\u2014 \u20ac5",
		  "{\"a\": \"x|y\", \"n\": 3, \"\u00e8\": [1, null], "
		  "\"from\": \"received\"}" },
		"dsrd-audit-1|1:3|1:3|1:1|1:1|27:2026-03-03T10:30:05.000000Z|"
		"3:dpo|4:1000|3:dpo|13:await_subject|"
		"54:Richiesta d'identit\u00e0: documento pi\u00f9 recente "
		"\u2014 \u20ac5|"
		"57:{\"a\": \"x|y\", \"n\": 3, \"\u00e8\": [1, null], "
		"\"from\": \"received\"}",
		"d367627f405d44b2e5f9dc0f526395f10be9e5c4b28d2c01e6c4a04916485402",
		"7bd3b61002c2921592cb4a20fb634368b96d042fdcfd63d2f1480a5cfddb4dc3",
	},
	{
		{ "4", "4", "1", "1", "2026-10-25T01:30:00.000000Z", "root",
		  NULL, NULL, "resume", "", "{}" },
		"dsrd-audit-1|1:4|1:4|1:1|1:1|27:2026-10-25T01:30:00.000000Z|"
		"4:root|-|-|6:resume|0:|2:{}",
		"7bd3b61002c2921592cb4a20fb634368b96d042fdcfd63d2f1480a5cfddb4dc3",
		"a678e15988738256562bc3bb09ae38e50449e64741ebdc35fc43f497c3b8ffdd",
	},
	{
		{ "5", "5", "1", "1", "2026-12-31T23:59:59.999999Z", "dpo",
		  "1000", "dpo", "complete", "line one\nline|two 3:x -",
		  "{\"k\": \"\\\"quoted\\\" \\\\ \u00e8 \\t\"}" },
		"dsrd-audit-1|1:5|1:5|1:1|1:1|27:2026-12-31T23:59:59.999999Z|"
		"3:dpo|4:1000|3:dpo|8:complete|23:line one\nline|two 3:x -|"
		"28:{\"k\": \"\\\"quoted\\\" \\\\ \u00e8 \\t\"}",
		"a678e15988738256562bc3bb09ae38e50449e64741ebdc35fc43f497c3b8ffdd",
		"58ca04f18e71fd20be6dcab77e74cf30c8ef954bbd7592792ceeb8e3c665aa39",
	},
};
#define HEAD_POS	"5"
#define HEAD_HASH	rows[4].hash

static void
test_canonical(void **state)
{
	struct buf	 b;

	(void)state;
	for (size_t i = 0; i < nitems(rows); i++) {
		buf_init(&b);
		audit_canonical(&rows[i].e, &b);
		assert_string_equal(b.data, rows[i].canonical);
		assert_int_equal(b.len, strlen(rows[i].canonical));
		buf_free(&b);
	}
}

static void
test_hash(void **state)
{
	unsigned char	 prev[AUDIT_HASH_LEN], h[AUDIT_HASH_LEN];
	char		 hex[AUDIT_HEX_LEN + 1], *cause = NULL;

	(void)state;
	for (size_t i = 0; i < nitems(rows); i++) {
		assert_int_equal(audit_unhex(rows[i].prev, prev), 0);
		assert_int_equal(audit_hash(prev, &rows[i].e, h, &cause), 0);
		audit_hex(h, sizeof h, hex);
		assert_string_equal(hex, rows[i].hash);
	}
	/* The link matters: the same event after another hash differs. */
	memset(prev, 0, sizeof prev);
	assert_int_equal(audit_hash(prev, &rows[1].e, h, &cause), 0);
	audit_hex(h, sizeof h, hex);
	assert_string_not_equal(hex, rows[1].hash);
}

static void
test_hex(void **state)
{
	static const struct {
		const char	*in;
		int		 rc;
	} cases[] = {
		{ ZEROS, 0 },
		{ "A45DEE5F8E0E9367BB0064A8B3DF7BDE32588B5866A4472DDB711503C83A8D5B",
		  0 },
		{ "a45dee5f8e0e9367bb0064a8b3df7bde32588b5866a4472ddb711503c83a8d5", -1 },
		{ "a45dee5f8e0e9367bb0064a8b3df7bde32588b5866a4472ddb711503c83a8d5b0",
		  -1 },
		{ "g45dee5f8e0e9367bb0064a8b3df7bde32588b5866a4472ddb711503c83a8d5b",
		  -1 },
		{ "", -1 },
		{ NULL, -1 },
	};
	unsigned char	 b[AUDIT_HASH_LEN];
	char		 hex[AUDIT_HEX_LEN + 1];

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++)
		assert_int_equal(audit_unhex(cases[i].in, b), cases[i].rc);
	assert_int_equal(audit_unhex(rows[0].hash, b), 0);
	assert_int_equal(b[0], 0xa4);
	assert_int_equal(b[31], 0x5b);
	audit_hex(b, sizeof b, hex);
	assert_string_equal(hex, rows[0].hash);
}

/*
 * Walks ev[0..n) (events with their prev and hash) against a head; returns
 * the result and, when not OK, the index of the event named (n: the end)
 * and the reason (caller frees).
 */
static enum audit_check
walk(const struct row *ev, size_t n, const char *head_pos,
    const char *head_hash, size_t *at, char **reason, long long *events)
{
	struct audit_walk	 w;
	enum audit_check	 rc;

	*reason = NULL;
	*at = (size_t)-1;
	if ((rc = audit_walk_init(&w, head_pos, head_hash, reason)) != AUDIT_OK)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = audit_walk_step(&w, &ev[i].e, ev[i].prev, ev[i].hash,
		    reason);
		if (rc != AUDIT_OK) {
			*at = i;
			return rc;
		}
	}
	*events = w.events;
	*at = n;
	return audit_walk_end(&w, reason);
}

static void
test_walk_good(void **state)
{
	size_t		 at;
	char		*reason;
	long long	 events = -1;

	(void)state;
	assert_int_equal(walk(rows, nitems(rows), HEAD_POS, HEAD_HASH, &at,
	    &reason, &events), AUDIT_OK);
	assert_null(reason);
	assert_int_equal(events, 5);
	/* An empty trail with the head the migration writes. */
	assert_int_equal(walk(rows, 0, "0", ZEROS, &at, &reason, &events),
	    AUDIT_OK);
	assert_int_equal(events, 0);
	/* A prefix checked against the head of its time. */
	assert_int_equal(walk(rows, 3, "3", rows[2].hash, &at, &reason,
	    &events), AUDIT_OK);
	assert_int_equal(events, 3);
}

/* Each tampering, and the event it must be reported at. */
static void
test_walk_broken(void **state)
{
	struct row	 ev[nitems(rows)];
	size_t		 at;
	char		*reason;
	long long	 events;
	char		 upper[AUDIT_HEX_LEN + 1], rehashed[AUDIT_HEX_LEN + 1];
	char		*cause = NULL;
	unsigned char	 prev[AUDIT_HASH_LEN], h[AUDIT_HASH_LEN];

	(void)state;

	/* A note edited, triggers bypassed: the event itself. */
	memcpy(ev, rows, sizeof ev);
	ev[1].e.note = "x";
	assert_int_equal(walk(ev, 5, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 1);
	assert_non_null(strstr(reason, "hash does not match its contents"));
	free(reason);

	/* A NULL made a value, and a value made NULL. */
	memcpy(ev, rows, sizeof ev);
	ev[0].e.note = "";
	assert_int_equal(walk(ev, 5, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 0);
	free(reason);
	memcpy(ev, rows, sizeof ev);
	ev[3].e.note = NULL;
	assert_int_equal(walk(ev, 5, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 3);
	free(reason);

	/* Edited and its hash recomputed: the next event's link breaks. */
	memcpy(ev, rows, sizeof ev);
	ev[1].e.note = "x";
	assert_int_equal(audit_unhex(rows[1].prev, prev), 0);
	assert_int_equal(audit_hash(prev, &ev[1].e, h, &cause), 0);
	audit_hex(h, sizeof h, rehashed);
	ev[1].hash = rehashed;
	assert_int_equal(walk(ev, 5, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 2);
	assert_string_equal(reason, "prev_hash does not match the hash of the "
	    "event at position 2");
	free(reason);
	memcpy(ev, rows, sizeof ev);
	ev[3].prev = rows[1].hash;
	assert_int_equal(walk(ev, 5, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 3);
	assert_string_equal(reason, "prev_hash does not match the hash of the "
	    "event at position 3");
	free(reason);
	memcpy(ev, rows, sizeof ev);
	ev[0].prev = rows[4].hash;
	assert_int_equal(walk(ev, 5, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 0);
	assert_string_equal(reason, "prev_hash is not the chain's start "
	    "(zeros)");
	free(reason);

	/* An event deleted in the middle: the one after the gap. */
	memcpy(ev, rows, sizeof ev);
	memmove(&ev[2], &ev[3], 2 * sizeof ev[0]);
	assert_int_equal(walk(ev, 4, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 2);
	assert_string_equal(reason, "position 3 expected, found 4: the event "
	    "at position 3 is missing");
	free(reason);

	/* The first two deleted. */
	assert_int_equal(walk(rows + 2, 3, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 0);
	assert_string_equal(reason, "position 1 expected, found 3: the events "
	    "at positions 1 to 2 are missing");
	free(reason);

	/* The last two deleted: the head still says 5. */
	assert_int_equal(walk(rows, 3, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 3);
	assert_string_equal(reason, "the trail ends at position 3 but "
	    "audit_head records position 5: the events at positions 4 to 5 "
	    "are missing");
	free(reason);
	/* Every event deleted. */
	assert_int_equal(walk(rows, 0, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 0);
	free(reason);

	/* The head rolled back: the first event beyond it. */
	assert_int_equal(walk(rows, 5, "3", rows[2].hash, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 3);
	assert_non_null(strstr(reason, "beyond audit_head"));
	free(reason);
	/* The head's hash changed. */
	assert_int_equal(walk(rows, 5, HEAD_POS, rows[3].hash, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 4);
	assert_non_null(strstr(reason, "audit_head"));
	free(reason);

	/* A renumbered event (its hash covers its position). */
	memcpy(ev, rows, sizeof ev);
	ev[4].e.chain_pos = "6";
	assert_int_equal(walk(ev, 5, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 4);
	free(reason);
	memcpy(ev, rows, sizeof ev);
	ev[0].e.chain_pos = NULL;
	assert_int_equal(walk(ev, 5, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 0);
	free(reason);

	/* A stored hash that is not 32 bytes. */
	memcpy(ev, rows, sizeof ev);
	ev[2].hash = "7bd3";
	assert_int_equal(walk(ev, 5, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_BROKEN);
	assert_int_equal(at, 2);
	free(reason);

	/* Upper-case hex is the same bytes: not a break. */
	memcpy(ev, rows, sizeof ev);
	for (size_t i = 0; i <= AUDIT_HEX_LEN; i++)
		upper[i] = (char)(rows[2].hash[i] >= 'a' ?
		    rows[2].hash[i] - 32 : rows[2].hash[i]);
	ev[2].hash = upper;
	assert_int_equal(walk(ev, 5, HEAD_POS, HEAD_HASH, &at, &reason,
	    &events), AUDIT_OK);
}

static void
test_walk_head(void **state)
{
	static const struct {
		const char	*pos, *hash;
		int		 rc;
	} cases[] = {
		{ "0", ZEROS, AUDIT_OK },
		{ "5", rows[4].hash, AUDIT_OK },
		{ NULL, NULL, AUDIT_BROKEN },		/* the row deleted */
		{ "-1", ZEROS, AUDIT_BROKEN },
		{ "x", ZEROS, AUDIT_BROKEN },
		{ "5", "00", AUDIT_BROKEN },
		{ "0", rows[0].hash, AUDIT_BROKEN },
	};
	struct audit_walk	 w;
	char			*reason;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		reason = NULL;
		assert_int_equal(audit_walk_init(&w, cases[i].pos,
		    cases[i].hash, &reason), cases[i].rc);
		if (cases[i].rc == AUDIT_OK)
			assert_null(reason);
		else
			assert_non_null(reason);
		free(reason);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canonical),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_walk_good),
		cmocka_unit_test(test_walk_broken),
		cmocka_unit_test(test_walk_head),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
