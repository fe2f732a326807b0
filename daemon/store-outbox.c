/*
 * store-outbox.c: the SQL of deliveries. Claims commit before anything goes
 * on the network; outcomes are recorded only for rows still leased to us
 * (state = 'sending'), so a row whose lease expired and was claimed again
 * elsewhere is not overwritten. Never reads the clock: "now" is passed in.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "db.h"
#include "deadline.h"
#include "log.h"
#include "proto.h"
#include "store.h"
#include "store-outbox.h"
#include "util.h"

void
outbox_row_free(struct outbox_row *r)
{
	if (r == NULL)
		return;
	free(r->msg_id);
	free(r->event);
	free(r->recipient);
	free(r->payload);
	free(r->entity_name);
	free(r->subject_name);
	free(r);
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

struct claim {
	store_claim_cb	*cb;
	void		*arg;
};

static void
claim_cb(const struct db_res *res, void *arg)
{
	struct claim		 *c = arg;
	struct outbox_row	**rows = NULL;
	int			  n = 0;

	if (!res->ok) {
		c->cb(store_db_err(res, "outbox claim"), NULL, 0, c->arg);
		free(c);
		return;
	}
	n = db_ntuples(res);
	rows = xcalloc((size_t)n + 1, sizeof *rows);
	for (int i = 0; i < n; i++) {
		struct outbox_row *r = xcalloc(1, sizeof *r);

		r->id = strtoll(db_value(res, i, 0), NULL, 10);
		r->msg_id = xstrdup(db_value(res, i, 1));
		r->event = xstrdup(db_value(res, i, 2));
		r->email = strcmp(db_value(res, i, 3), "email") == 0;
		r->recipient = xstrdup(db_value(res, i, 4));
		r->payload = xstrdup(db_value(res, i, 5));
		r->attempts = atoi(db_value(res, i, 6));
		r->age_from = (time_t)strtoll(db_value(res, i, 7), NULL, 10);
		r->entity_name = dup_or_null(db_value(res, i, 8));
		r->subject_name = dup_or_null(db_value(res, i, 9));
		r->disabled = strcmp(db_value(res, i, 10), "t") == 0;
		rows[i] = r;
	}
	c->cb(0, rows, n, c->arg);
	free(rows);
	free(c);
}

void
store_outbox_claim(struct db *db, time_t now, time_t lease_until, int limit,
    bool mail, bool subject_name, store_claim_cb *cb, void *arg)
{
	struct claim	*c = xmalloc(sizeof *c);
	char		 nows[21], lease[21], lim[16];
	const char	*p[4];

	c->cb = cb;
	c->arg = arg;
	store_format_instant(now, nows);
	store_format_instant(lease_until, lease);
	snprintf(lim, sizeof lim, "%d", limit);
	p[0] = nows;
	p[1] = lease;
	p[2] = lim;
	p[3] = subject_name ? "true" : "false";
	/*
	 * Two arms, each served by its own partial index (sql/0006): rows
	 * due, and rows whose lease ran out (a daemon died mid-send). One
	 * OR over both, or a filter on the channel given as a parameter,
	 * made PostgreSQL read every pending row it could not claim (all the
	 * e-mail of a daemon without [smtp]) on every claim. The channel
	 * filter is in the text, so the planner can match the index.
	 */
#define CLAIM_SQL(ch)							\
	"WITH p AS (SELECT id, next_attempt_at FROM outbox"		\
	" WHERE state = 'pending' AND next_attempt_at <= $1" ch		\
	" ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED), "\
	"s AS (SELECT id, next_attempt_at FROM outbox"			\
	" WHERE state = 'sending' AND lease_until < $1" ch		\
	" ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED), "\
	"c AS (SELECT id, next_attempt_at FROM p UNION ALL"		\
	" SELECT id, next_attempt_at FROM s"				\
	" ORDER BY next_attempt_at, id LIMIT $3) "			\
	"UPDATE outbox o SET state = 'sending', lease_until = $2,"	\
	" attempts = o.attempts + 1 FROM c WHERE o.id = c.id "		\
	"RETURNING o.id, o.msg_id, o.event, o.channel, o.recipient,"	\
	" o.payload::text, o.attempts,"					\
	" extract(epoch FROM o.age_from)::bigint,"			\
	" (SELECT name FROM entities WHERE id = o.entity_id),"		\
	" CASE WHEN $4::boolean THEN (SELECT subject_name FROM requests"	\
	"  WHERE id = o.request_id) END,"				\
	" EXISTS (SELECT 1 FROM webhook_state w WHERE o.channel ="	\
	"  'webhook' AND w.name = o.recipient)"
	db_query(db, mail ? CLAIM_SQL("") :
	    CLAIM_SQL(" AND channel <> 'email'"), 4, p, claim_cb, c);
#undef CLAIM_SQL
}

struct done {
	store_done_cb	*cb;
	void		*arg;
};

static void
done_cb(const struct db_res *res, void *arg)
{
	struct done	*d = arg;

	d->cb(res->ok ? 0 : store_db_err(res, "outbox update"), d->arg);
	free(d);
}

void
store_outbox_done(struct db *db, long long id, enum outbox_outcome o,
    time_t now, time_t next, const char *error, const char *dpo_email,
    const char *webhooks, store_done_cb *cb, void *arg)
{
	struct done	*d = xmalloc(sizeof *d);
	char		 ids[24], nows[21], nexts[21];
	const char	*p[7];

	d->cb = cb;
	d->arg = arg;
	snprintf(ids, sizeof ids, "%lld", id);
	store_format_instant(now, nows);
	p[0] = ids;
	p[1] = nows;
	switch (o) {
	case OB_SENT:
		db_query(db, "UPDATE outbox SET state = 'sent', sent_at = $2,"
		    " lease_until = NULL, last_error = NULL"
		    " WHERE id = $1 AND state = 'sending'", 2, p, done_cb, d);
		return;
	case OB_RETRY:
		store_format_instant(next, nexts);
		p[1] = nexts;
		p[2] = error;
		db_query(db, "UPDATE outbox SET state = 'pending',"
		    " next_attempt_at = $2, lease_until = NULL, last_error = $3"
		    " WHERE id = $1 AND state = 'sending'", 3, p, done_cb, d);
		return;
	case OB_DEAD:
	case OB_DEAD_GONE:
	case OB_DEAD_QUIET:
		break;
	}
	p[2] = error;
	p[3] = dpo_email;
	p[4] = webhooks ? webhooks : "{}";
	p[5] = o == OB_DEAD_GONE ? "true" : "false";
	p[6] = o == OB_DEAD_QUIET ? "false" : "true";
	db_query(db,
	    "WITH d AS (UPDATE outbox SET state = 'dead', lease_until = NULL,"
	    " last_error = $3 WHERE id = $1 AND state = 'sending'"
	    " RETURNING *), "
	    "g AS (INSERT INTO webhook_state (name, disabled_at, reason)"
	    " SELECT d.recipient, $2, $3 FROM d"
	    " WHERE $6::boolean AND d.channel = 'webhook'"
	    " ON CONFLICT (name) DO NOTHING), "
	    "e AS (INSERT INTO outbox (event, request_id, entity_id, channel,"
	    " recipient, payload, next_attempt_at, created_at, age_from, about)"
	    " SELECT 'delivery.failed', d.request_id, d.entity_id, rc.channel,"
	    "  rc.recipient, jsonb_build_object('event', 'delivery.failed',"
	    "  'at', $2, 'failed', jsonb_build_object('id', d.id,"
	    "  'event', d.event, 'channel', d.channel, 'recipient',"
	    "  d.recipient, 'attempts', d.attempts, 'error', $3),"
	    "  'request', d.payload -> 'request'), $2, $2, $2, d.id"
	    " FROM d, LATERAL ("
	    "  SELECT 'email', coalesce(en.dpo_email, $4) FROM entities en"
	    "  WHERE en.id = d.entity_id AND d.channel = 'webhook'"
	    "  AND coalesce(en.dpo_email, $4) IS NOT NULL"
	    "  UNION ALL"
	    "  SELECT 'webhook', w FROM unnest($5::text[]) AS w"
	    "  WHERE d.channel = 'email' AND w NOT IN"
	    "  (SELECT name FROM webhook_state)) AS rc(channel, recipient)"
	    " WHERE $7::boolean AND d.event <> 'delivery.failed') "
	    "SELECT count(*) FROM d", 7, p, done_cb, d);
}

/* "{1,2,3}": ids as a bigint[] literal. Heap. */
static char *
ids_literal(const long long *ids, int n)
{
	struct buf	b;

	buf_init(&b);
	buf_adds(&b, "{");
	for (int i = 0; i < n; i++)
		buf_addf(&b, "%s%lld", i ? "," : "", ids[i]);
	buf_adds(&b, "}");
	return buf_take(&b);
}

void
store_outbox_sent(struct db *db, const long long *ids, int n, time_t now,
    store_done_cb *cb, void *arg)
{
	struct done	*d = xmalloc(sizeof *d);
	char		 nows[21], *list = ids_literal(ids, n);
	const char	*p[2] = { list, nows };

	d->cb = cb;
	d->arg = arg;
	store_format_instant(now, nows);
	db_query(db, "UPDATE outbox SET state = 'sent', sent_at = $2,"
	    " lease_until = NULL, last_error = NULL"
	    " WHERE id = ANY($1::bigint[]) AND state = 'sending'", 2, p,
	    done_cb, d);
	free(list);
}

void
store_outbox_release(struct db *db, const long long *ids, int n,
    store_done_cb *cb, void *arg)
{
	struct done	*d = xmalloc(sizeof *d);
	char		*list = ids_literal(ids, n);
	const char	*p[1] = { list };

	d->cb = cb;
	d->arg = arg;
	/* Not attempted: the claim's count of attempts is taken back. */
	db_query(db, "UPDATE outbox SET state = 'pending', lease_until = NULL,"
	    " attempts = greatest(attempts - 1, 0)"
	    " WHERE id = ANY($1::bigint[]) AND state = 'sending'", 1, p,
	    done_cb, d);
	free(list);
}

struct when {
	store_when_cb	*cb;
	void		*arg;
};

static void
next_cb(const struct db_res *res, void *arg)
{
	struct when	*w = arg;
	const char	*v;

	if (!res->ok)
		w->cb(store_db_err(res, "outbox next"), DL_NO_TIME, w->arg);
	else {
		v = db_value(res, 0, 0);
		w->cb(0, v ? (time_t)strtoll(v, NULL, 10) : DL_NO_TIME, w->arg);
	}
	free(w);
}

void
store_outbox_next(struct db *db, bool mail, store_when_cb *cb, void *arg)
{
	struct when	*w = xmalloc(sizeof *w);

	w->cb = cb;
	w->arg = arg;
	/* As the claim: the channel in the text, two index probes. */
#define NEXT_SQL(ch)							\
	"SELECT extract(epoch FROM least("				\
	"(SELECT min(next_attempt_at) FROM outbox WHERE state = 'pending'" \
	ch "), (SELECT min(lease_until) FROM outbox WHERE state = 'sending'" \
	ch ")))::bigint"
	db_query(db, mail ? NEXT_SQL("") : NEXT_SQL(" AND channel <> 'email'"),
	    0, NULL, next_cb, w);
#undef NEXT_SQL
}

struct retry {
	void	(*cb)(struct store_res *, void *);
	void	*arg;
};

static void
retry_cb(const struct db_res *res, void *arg)
{
	struct retry		*r = arg;
	struct store_res	 out = { 0 };
	cJSON			*o;

	if (!res->ok) {
		out.err = store_db_err(res, "outbox retry");
		out.msg = store_err_msg(out.err);
	} else if (db_ntuples(res) == 0) {
		out.err = E_NOT_FOUND;
		out.msg = "no such outbox row";
	} else if (strcmp(db_value(res, 0, 1), "sent") == 0 ||
	    strcmp(db_value(res, 0, 1), "sending") == 0) {
		out.err = E_NOT_ALLOWED;
		out.msg = strcmp(db_value(res, 0, 1), "sent") == 0 ?
		    "it was sent already" : "it is being sent now";
	} else {
		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "id", strtod(db_value(res, 0, 0),
		    NULL));
		cJSON_AddStringToObject(o, "state", "pending");
		out.json = o;
	}
	r->cb(&out, r->arg);
	free(r);
}

void
store_outbox_retry(struct db *db, long long id, time_t now,
    void (*cb)(struct store_res *, void *), void *arg)
{
	struct retry	*r = xmalloc(sizeof *r);
	char		 ids[24], nows[21];
	const char	*p[2] = { ids, nows };

	r->cb = cb;
	r->arg = arg;
	snprintf(ids, sizeof ids, "%lld", id);
	store_format_instant(now, nows);
	/* One statement: the old state (to refuse sent rows) and the update. */
	db_query(db,
	    "WITH o AS (SELECT id, state, channel, recipient FROM outbox"
	    " WHERE id = $1 FOR UPDATE), "
	    "u AS (UPDATE outbox SET state = 'pending', next_attempt_at = $2,"
	    " age_from = $2, attempts = 0, lease_until = NULL"
	    " WHERE id = (SELECT id FROM o WHERE state IN ('dead', 'pending'))"
	    " RETURNING id), "
	    "w AS (DELETE FROM webhook_state WHERE name = (SELECT recipient"
	    " FROM o WHERE channel = 'webhook' AND state IN ('dead', 'pending'))) "
	    "SELECT o.id, o.state FROM o", 2, p, retry_cb, r);
}
