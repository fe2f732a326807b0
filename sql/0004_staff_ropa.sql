-- 0004_staff_ropa: the people of a body (its staff directory) and its
-- register of processing activities (GDPR art. 30), imported from the
-- spreadsheet bodies keep. A staff member with a Unix user sees and works
-- the requests of their own body.

CREATE TABLE offices (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	entity_id	bigint NOT NULL REFERENCES entities (id),
	name		text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	UNIQUE (entity_id, name)
);

CREATE TABLE staff (
	id		bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	entity_id	bigint NOT NULL REFERENCES entities (id),
	name		text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
	email		text CHECK (char_length(email) BETWEEN 3 AND 254),
	office_id	bigint REFERENCES offices (id),
	unix_user	text CHECK (unix_user ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$'),
	created_at	timestamptz NOT NULL,
	UNIQUE (entity_id, name)
);
CREATE INDEX staff_unix_user ON staff (unix_user) WHERE unix_user IS NOT NULL;

-- One row per activity of the register. key identifies it across imports
-- of new versions of the register: its name, its office and, when the
-- register lists the same pair more than once, the occurrence.
CREATE TABLE activities (
	id			bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	entity_id		bigint NOT NULL REFERENCES entities (id),
	key			text NOT NULL,
	name			text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 500),
	office_id		bigint REFERENCES offices (id),
	purpose			text,
	joint_controller	text,
	managers		text[] NOT NULL DEFAULT '{}',
	authorised		text[] NOT NULL DEFAULT '{}',
	processors		text[] NOT NULL DEFAULT '{}',
	independent_controllers	text[] NOT NULL DEFAULT '{}',
	software		text[] NOT NULL DEFAULT '{}',
	data_categories		text[] NOT NULL DEFAULT '{}',
	retention		text,
	subject_categories	text[] NOT NULL DEFAULT '{}',
	recipient_categories	text[] NOT NULL DEFAULT '{}',
	cloud			boolean,
	transfers		boolean,
	security		text,
	source_line		integer,
	imported_at		timestamptz NOT NULL,
	UNIQUE (entity_id, key)
);
