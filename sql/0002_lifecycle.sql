-- 0002_lifecycle: what the request lifecycle, the two clocks, the alerts,
-- the outbox and the hash-chained audit trail need. Dates and alert moments
-- are computed by dsrd (calendar.c, deadline.c) from its own clock and
-- stored here so that lists and the scheduler read indexes.

ALTER TABLE requests
	ADD COLUMN paused_days integer NOT NULL DEFAULT 0
		CHECK (paused_days >= 0),
	ADD COLUMN op_paused_days integer NOT NULL DEFAULT 0
		CHECK (op_paused_days >= 0 AND op_paused_days <= paused_days),
	ADD COLUMN awaiting_since date,
	ADD COLUMN status_before_await text
		CHECK (status_before_await IN ('received', 'forwarded')),
	ADD COLUMN extended_on date,
	ADD COLUMN extension_reason text
		CHECK (char_length(extension_reason) BETWEEN 1 AND 2000),
	ADD COLUMN reject_reason text CHECK (reject_reason IN (
		'manifestly_unfounded', 'excessive', 'identity_not_verified',
		'exemption', 'not_applicable', 'other')),
	ADD COLUMN outcome_note text
		CHECK (char_length(outcome_note) BETWEEN 1 AND 2000),
	-- the scheduler: the earliest alert moment not yet considered, and
	-- the instant up to which alerts have been considered
	ADD COLUMN next_alert_at timestamptz,
	ADD COLUMN alerts_after timestamptz,
	ADD CONSTRAINT requests_awaiting CHECK ((status = 'awaiting_subject')
		= (awaiting_since IS NOT NULL AND status_before_await IS NOT NULL)),
	ADD CONSTRAINT requests_extended CHECK (extended
		= (extended_on IS NOT NULL AND extension_reason IS NOT NULL)),
	ADD CONSTRAINT requests_rejected CHECK ((status = 'rejected')
		= (reject_reason IS NOT NULL)),
	ADD CONSTRAINT requests_forwarded CHECK (status <> 'forwarded'
		OR forwarded_on IS NOT NULL);

CREATE INDEX requests_next_alert ON requests (next_alert_at)
	WHERE next_alert_at IS NOT NULL;
CREATE INDEX requests_closed ON requests (closed_on)
	WHERE closed_on IS NOT NULL;

-- One row per alert raised: the primary key is what makes each alert go
-- out once per request, kind and moment, across restarts and daemons.
CREATE TABLE alerts (
	request_id	bigint NOT NULL REFERENCES requests (id),
	kind		text NOT NULL CHECK (kind IN ('deadline_warning',
			    'extension_decision', 'overdue')),
	moment		timestamptz NOT NULL,
	due_on		date NOT NULL,
	raised_at	timestamptz NOT NULL,
	PRIMARY KEY (request_id, kind, moment)
);

-- Notifications, written in the same transaction as the change that
-- causes them, one row per event, channel and recipient. The payload
-- carries no personal data of the data subject.
CREATE TABLE outbox (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	msg_id		uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
	event		text NOT NULL CHECK (event IN ('request.filed',
			    'request.forwarded', 'request.deadline_warning',
			    'request.extension_decision', 'request.overdue',
			    'request.extended', 'request.closed')),
	request_id	bigint REFERENCES requests (id),
	entity_id	bigint NOT NULL REFERENCES entities (id),
	channel		text NOT NULL CHECK (channel IN ('email', 'webhook')),
	recipient	text NOT NULL CHECK (char_length(recipient) BETWEEN 1 AND 254),
	payload		jsonb NOT NULL,
	state		text NOT NULL DEFAULT 'pending'
			CHECK (state IN ('pending', 'sending', 'sent', 'dead')),
	attempts	integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_attempt_at	timestamptz NOT NULL,
	lease_until	timestamptz,
	last_error	text,
	created_at	timestamptz NOT NULL,
	sent_at		timestamptz,
	CHECK ((state = 'sent') = (sent_at IS NOT NULL))
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id)
	WHERE state IN ('pending', 'sending');
CREATE INDEX outbox_request ON outbox (request_id);

-- A request as notifications show it: no name, tax code, e-mail address,
-- summary or idempotency key of the data subject.
CREATE FUNCTION dsrd_request_public(r requests) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', r.id,
		'entity', (SELECT code FROM entities WHERE id = r.entity_id),
		'type', r.type,
		'status', r.status,
		'channel', r.channel,
		'protocol', r.protocol,
		'received_on', to_char(r.received_on, 'YYYY-MM-DD'),
		'forwarded_on', to_char(r.forwarded_on, 'YYYY-MM-DD'),
		'statutory_due_on', to_char(r.statutory_due_on, 'YYYY-MM-DD'),
		'operational_due_on', to_char(r.operational_due_on, 'YYYY-MM-DD'),
		'due_on', to_char(r.due_on, 'YYYY-MM-DD'),
		'extended', r.extended,
		'closed_on', to_char(r.closed_on, 'YYYY-MM-DD'),
		'outcome', r.outcome,
		'reject_reason', r.reject_reason)
$$;

-- Who hears of an event (SPEC §5): the DPO (the body's own address, else
-- [dpo] email, passed in) of every event; the body's staff address of
-- filed, forwarded, warning, overdue and closed; each webhook that dsrd
-- found subscribed to it (passed in).
CREATE FUNCTION dsrd_recipients(p_entity bigint, p_event text, p_dpo text,
    p_webhooks text[])
RETURNS TABLE (channel text, recipient text)
LANGUAGE sql STABLE AS $$
	SELECT 'email', coalesce(e.dpo_email, nullif(p_dpo, ''))
	  FROM entities e
	 WHERE e.id = p_entity AND coalesce(e.dpo_email, nullif(p_dpo, '')) IS NOT NULL
	UNION
	SELECT 'email', e.email
	  FROM entities e
	 WHERE e.id = p_entity AND e.email IS NOT NULL
	   AND p_event IN ('request.filed', 'request.forwarded',
	       'request.deadline_warning', 'request.overdue', 'request.closed')
	UNION
	SELECT 'webhook', w FROM unnest(coalesce(p_webhooks, '{}')) AS w
$$;

-- The audit trail's hash chain. Every event gets the next position in one
-- chain and hash = SHA-256(previous hash || canonical form of the event).
-- The canonical form is computed again, independently, by `dsrd` in C
-- (audit.c) when it verifies: keep the two in step. Each field is written
-- as <octets>:<text> (or - for NULL) and fields are separated by '|'.
ALTER TABLE audit_events
	ADD COLUMN details jsonb,
	ADD COLUMN chain_pos bigint UNIQUE,
	ADD COLUMN prev_hash bytea,
	ADD COLUMN hash bytea;

CREATE TABLE audit_head (
	one	boolean PRIMARY KEY DEFAULT true CHECK (one),
	pos	bigint NOT NULL,
	hash	bytea NOT NULL
);
INSERT INTO audit_head VALUES (true, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_field(t text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN t IS NULL THEN '-' ELSE octet_length(t) || ':' || t END
$$;

CREATE FUNCTION audit_canonical(e audit_events) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT 'dsrd-audit-1'
		|| '|' || audit_field(e.chain_pos::text)
		|| '|' || audit_field(e.seq::text)
		|| '|' || audit_field(e.request_id::text)
		|| '|' || audit_field(e.entity_id::text)
		|| '|' || audit_field(to_char(e.at AT TIME ZONE 'UTC',
			'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
		|| '|' || audit_field(e.actor)
		|| '|' || audit_field(e.actor_uid::text)
		|| '|' || audit_field(e.actor_role)
		|| '|' || audit_field(e.action)
		|| '|' || audit_field(e.note)
		|| '|' || audit_field(e.details::text)
$$;

CREATE FUNCTION audit_events_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	h	audit_head;
BEGIN
	-- The head row serialises writers: the chain has one order.
	SELECT * INTO h FROM audit_head WHERE one FOR UPDATE;
	NEW.chain_pos := h.pos + 1;
	NEW.prev_hash := h.hash;
	NEW.hash := sha256(h.hash || convert_to(audit_canonical(NEW), 'UTF8'));
	UPDATE audit_head SET pos = NEW.chain_pos, hash = NEW.hash WHERE one;
	RETURN NEW;
END
$$;

-- Chain the events written before this migration, in their order. The
-- append-only trigger must let this one-time backfill through.
ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update;
DO $$
DECLARE
	e	audit_events;
	h	audit_head;
BEGIN
	FOR e IN SELECT * FROM audit_events ORDER BY seq LOOP
		SELECT * INTO h FROM audit_head WHERE one;
		e.chain_pos := h.pos + 1;
		e.prev_hash := h.hash;
		e.hash := sha256(h.hash || convert_to(audit_canonical(e), 'UTF8'));
		UPDATE audit_events SET chain_pos = e.chain_pos,
		    prev_hash = e.prev_hash, hash = e.hash WHERE seq = e.seq;
		UPDATE audit_head SET pos = e.chain_pos, hash = e.hash WHERE one;
	END LOOP;
END
$$;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update;

ALTER TABLE audit_events
	ALTER COLUMN chain_pos SET NOT NULL,
	ALTER COLUMN prev_hash SET NOT NULL,
	ALTER COLUMN hash SET NOT NULL;

CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
	FOR EACH ROW EXECUTE FUNCTION audit_events_chain();
