-- 0001_init: bodies (controllers), data-subject requests, and the audit
-- events of each request. The database enforces what it can on its own
-- (types, states, channels, dates, uniqueness), so that no client, bug or
-- hand-made edit can store a request the daemon would refuse.

CREATE TABLE entities (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	code		text NOT NULL UNIQUE
			CHECK (code ~ '^[a-z0-9][a-z0-9_-]{0,31}$'),
	name		text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	email		text CHECK (char_length(email) BETWEEN 3 AND 254),
	dpo_email	text CHECK (char_length(dpo_email) BETWEEN 3 AND 254),
	-- local public holidays (patron saint), 'MM-DD', sorted
	holidays	text[] NOT NULL DEFAULT '{}'
			CHECK (array_position(holidays, NULL) IS NULL
			   AND cardinality(holidays) <= 16
			   AND array_to_string(holidays, ',') ~
			       '^([0-1][0-9]-[0-3][0-9](,[0-1][0-9]-[0-3][0-9])*)?$'),
	created_at	timestamptz NOT NULL
);

CREATE TABLE requests (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	entity_id	bigint NOT NULL REFERENCES entities (id),
	type		text NOT NULL CHECK (type IN ('access', 'rectification',
			    'erasure', 'restriction', 'portability',
			    'objection', 'automated_decision')),
	status		text NOT NULL DEFAULT 'received'
			CHECK (status IN ('received', 'forwarded',
			    'awaiting_subject', 'completed', 'rejected',
			    'withdrawn')),
	subject_name	text NOT NULL
			CHECK (char_length(subject_name) BETWEEN 1 AND 200),
	subject_tax_code text CHECK (subject_tax_code ~ '^[A-Z0-9]{16}$'),
	subject_email	text CHECK (char_length(subject_email) BETWEEN 3 AND 254),
	channel		text CHECK (channel IN ('email', 'pec', 'paper',
			    'counter', 'web', 'phone')),
	protocol	text CHECK (char_length(protocol) BETWEEN 1 AND 100),
	summary		text CHECK (char_length(summary) BETWEEN 1 AND 2000),
	received_on	date NOT NULL,
	forwarded_on	date CHECK (forwarded_on >= received_on),
	statutory_due_on date NOT NULL CHECK (statutory_due_on > received_on),
	operational_due_on date,
	due_on		date NOT NULL CHECK (due_on <= statutory_due_on),
	extended	boolean NOT NULL DEFAULT false,
	closed_on	date CHECK (closed_on >= received_on),
	outcome		text CHECK (outcome IN ('completed', 'rejected',
			    'withdrawn')),
	idempotency_key	text CHECK (char_length(idempotency_key) BETWEEN 1 AND 200),
	created_at	timestamptz NOT NULL,
	updated_at	timestamptz NOT NULL,
	UNIQUE (entity_id, idempotency_key),
	-- a request is closed exactly when it is in a final state
	CHECK ((status IN ('completed', 'rejected', 'withdrawn'))
	    = (closed_on IS NOT NULL)),
	CHECK ((outcome IS NULL) = (closed_on IS NULL)),
	CHECK (outcome IS NULL OR outcome = status)
);

-- Open requests by due date: "soonest due first", --overdue, --due-within
-- and the alert scheduler read this index, never the whole table.
CREATE INDEX requests_open_due ON requests (due_on, id)
	WHERE status IN ('received', 'forwarded', 'awaiting_subject');
CREATE INDEX requests_entity_due ON requests (entity_id, due_on, id);

CREATE TABLE audit_events (
	seq		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	request_id	bigint REFERENCES requests (id),
	entity_id	bigint NOT NULL REFERENCES entities (id),
	at		timestamptz NOT NULL,
	actor		text NOT NULL,		-- Unix user behind the socket
	actor_uid	bigint,
	actor_role	text,
	action		text NOT NULL CHECK (action ~ '^[a-z_.]+$'),
	note		text
);
CREATE INDEX audit_events_request ON audit_events (request_id, seq);

-- The audit trail is append-only: accountability (GDPR art. 5(2)) needs a
-- history nobody can quietly rewrite through the application's role.
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
		USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
	FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
	FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
