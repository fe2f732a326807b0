-- 0006_perf: what make bench found (docs/performance.md). Plans only: no
-- table changes shape and no row changes.

-- dsrd_recipients returns at most the DPO, the staff address and the
-- subscribed webhooks. Left at the default estimate of 1,000 rows, a batch
-- of 500 alerts was costed at ~900,000 and PostgreSQL compiled it with JIT
-- (0.5 s) before running it (70 ms).
ALTER FUNCTION dsrd_recipients(bigint, text, text, text[]) ROWS 3;

-- A daemon without [smtp] claims only webhook rows: without this index
-- its claim (and the look for the next due row) read every pending e-mail
-- row in order and threw it away, a cost that grew with the queue.
CREATE INDEX outbox_due_webhook ON outbox (next_attempt_at, id)
	WHERE state = 'pending' AND channel <> 'email';

-- Rows leased to a daemon (few at any time): the claim of those whose
-- lease ran out, and the next lease to end, without a scan of the outbox.
CREATE INDEX outbox_leased ON outbox (lease_until)
	WHERE state = 'sending';
