-- 0005_tasks: a forwarded request becomes work. Each activity of the
-- body's register (GDPR art. 30) that concerns the person becomes a task
-- for the staff who run it; for rectification, erasure and restriction each
-- processor and recipient of those activities gets a recipient notice (art.
-- 19). A request is completed only when its tasks are done or waived. The
-- register itself is imported through a staging table, so that a large
-- file arrives in several messages and is applied in one transaction.

-- An activity dropped from a new version of the register is kept (tasks
-- and audit events name it) but marked removed; one that comes back is
-- live again.
ALTER TABLE activities
	ADD COLUMN processor_for_others	boolean,
	ADD COLUMN controller		text,
	ADD COLUMN updated_at		timestamptz,
	ADD COLUMN removed_at		timestamptz;
CREATE INDEX activities_live ON activities (entity_id) WHERE removed_at IS NULL;

-- The categories of data subjects the person belongs to ("Cittadini"), as
-- the body's register names them: they choose the activities at forward.
ALTER TABLE requests ADD COLUMN subject_categories text[] NOT NULL
	DEFAULT '{}' CHECK (cardinality(subject_categories) <= 20
	    AND array_position(subject_categories, NULL) IS NULL);

-- The rows of an import in progress, one batch message after another. Not
-- logged: an import interrupted by a crash is simply started again. Rows
-- older than an hour are abandoned imports and are swept by the next one.
CREATE UNLOGGED TABLE ropa_staging (
	token		uuid NOT NULL,
	entity_id	bigint NOT NULL REFERENCES entities (id),
	seq		integer NOT NULL,
	activity	jsonb NOT NULL,
	created_at	timestamptz NOT NULL,
	PRIMARY KEY (token, seq)
);

CREATE TABLE tasks (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	request_id	bigint NOT NULL REFERENCES requests (id),
	kind		text NOT NULL
			CHECK (kind IN ('activity', 'recipient_notice')),
	-- kind activity: the activity to act on, and its office
	activity_id	bigint REFERENCES activities (id),
	office_id	bigint REFERENCES offices (id),
	-- kind recipient_notice: who must be told, and from which activities
	recipient	text CHECK (char_length(recipient) BETWEEN 1 AND 500),
	recipient_kind	text CHECK (recipient_kind IN ('processor',
			    'independent_controller', 'recipient')),
	activity_ids	bigint[] NOT NULL DEFAULT '{}',
	status		text NOT NULL DEFAULT 'open'
			CHECK (status IN ('open', 'done', 'waived')),
	note		text CHECK (char_length(note) BETWEEN 1 AND 2000),
	closed_at	timestamptz,
	closed_by	text,
	created_at	timestamptz NOT NULL,
	CHECK ((kind = 'activity') = (activity_id IS NOT NULL)),
	CHECK ((kind = 'recipient_notice') = (recipient IS NOT NULL
	    AND recipient_kind IS NOT NULL)),
	CHECK ((status = 'open') = (closed_at IS NULL)),
	CHECK ((status = 'open') = (closed_by IS NULL)),
	-- a waiver is the DPO's decision and says why
	CHECK (status <> 'waived' OR note IS NOT NULL)
);
CREATE UNIQUE INDEX tasks_one_per_activity ON tasks (request_id, activity_id)
	WHERE kind = 'activity';
CREATE UNIQUE INDEX tasks_one_per_recipient ON tasks (request_id,
	lower(recipient)) WHERE kind = 'recipient_notice';
CREATE INDEX tasks_request ON tasks (request_id, id);

-- Who must do a task: the designated managers of its activity found in the
-- staff directory, else the staff of its office.
CREATE TABLE task_assignees (
	task_id		bigint NOT NULL REFERENCES tasks (id),
	staff_id	bigint NOT NULL REFERENCES staff (id),
	PRIMARY KEY (task_id, staff_id)
);
CREATE INDEX task_assignees_staff ON task_assignees (staff_id);

ALTER TABLE outbox DROP CONSTRAINT outbox_event_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_event_check CHECK (event IN (
	'request.filed', 'request.forwarded', 'request.deadline_warning',
	'request.extension_decision', 'request.overdue', 'request.extended',
	'request.closed', 'delivery.failed', 'request.tasks_assigned'));
