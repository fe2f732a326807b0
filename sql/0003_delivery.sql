-- 0003_delivery: what the delivery of the outbox needs. A notification that
-- gives up is escalated by the other channel (event delivery.failed); a
-- webhook endpoint that answers 410 Gone is disabled until an administrator
-- re-enables it; `outbox retry` gives a dead row a fresh max_age.

ALTER TABLE outbox DROP CONSTRAINT outbox_event_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_event_check CHECK (event IN (
	'request.filed', 'request.forwarded', 'request.deadline_warning',
	'request.extension_decision', 'request.overdue', 'request.extended',
	'request.closed', 'delivery.failed'));

-- max_age counts from here: created_at, or the last `outbox retry`.
ALTER TABLE outbox ADD COLUMN age_from timestamptz;
UPDATE outbox SET age_from = created_at;
ALTER TABLE outbox ALTER COLUMN age_from SET NOT NULL;

-- the row a delivery.failed escalation is about
ALTER TABLE outbox ADD COLUMN about bigint REFERENCES outbox (id);

CREATE TABLE webhook_state (
	name		text PRIMARY KEY,
	disabled_at	timestamptz NOT NULL,
	reason		text NOT NULL
);

-- Wake the workers of every daemon on this database when something is
-- queued (a hint only: workers also poll and rescan after a reconnect).
CREATE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_notify('dsrd_outbox', '');
	RETURN NULL;
END
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
	FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
