-- bench/pgbench-file.sql: the statement dsrd sends to file a request
-- (request_file_sql, daemon/store.c), for pgbench -M prepared. Written by
-- bench/run, which checks it against store.c at every run. Parameters are
-- renumbered in order of appearance, and the colons of to_char's formats are
-- written \x3a: pgbench would take them for variables. The values that
-- are not drawn here are given with -D by bench/run.
\set subject_name random(1, 999999)
\set protocol random(1, 999999)
\set idempotency_key random(1, 999999999999999)
WITH ins AS ( INSERT INTO requests (entity_id, type, subject_name,
subject_tax_code, subject_email, channel, protocol, summary, received_on,
statutory_due_on, due_on, idempotency_key, created_at, updated_at,
next_alert_at, subject_categories) VALUES (:entity_id, :type, :subject_name,
:subject_tax_code, :subject_email, :channel, :protocol, :summary,
:received_on, :statutory_due_on, $10, :idempotency_key, :now, $12,
:next_alert_at, coalesce(:subject_categories::text[], '{}')) ON CONFLICT
(entity_id, idempotency_key) DO NOTHING RETURNING *), ob AS ( INSERT INTO
outbox (event, request_id, entity_id, channel, recipient, payload,
next_attempt_at, created_at, age_from) SELECT 'request.filed', ins.id,
ins.entity_id, rc.channel, rc.recipient, jsonb_build_object('event',
'request.filed', 'at', $12, 'request', dsrd_request_public(ins::requests)),
$12, $12, $12 FROM ins, dsrd_recipients(ins.entity_id, 'request.filed',
:dpo_email, :webhooks::text[]) rc), aud AS ( INSERT INTO audit_events
(request_id, entity_id, at, actor, actor_uid, actor_role, action) SELECT id,
entity_id, $12, :actor, :actor_uid, :actor_role, 'file' FROM ins), r AS (
SELECT ins.*, true AS created FROM ins UNION ALL SELECT requests.*, false FROM
requests WHERE entity_id = $1 AND idempotency_key = $11 AND NOT EXISTS (SELECT
1 FROM ins)) SELECT r.id, e.code, r.type, r.status, r.subject_name,
r.subject_tax_code, r.subject_email, r.channel, r.protocol, r.summary,
to_char(r.received_on, 'YYYY-MM-DD'), to_char(r.forwarded_on, 'YYYY-MM-DD'),
to_char(r.statutory_due_on, 'YYYY-MM-DD'), to_char(r.operational_due_on,
'YYYY-MM-DD'), to_char(r.due_on, 'YYYY-MM-DD'), r.extended,
to_char(r.closed_on, 'YYYY-MM-DD'), r.outcome, to_char(r.created_at AT TIME
ZONE 'UTC', E'YYYY-MM-DD"T"HH24\x3aMI\x3aSS"Z"'), to_char(r.extended_on,
'YYYY-MM-DD'), r.extension_reason, r.reject_reason, r.outcome_note,
r.paused_days, to_char(r.awaiting_since, 'YYYY-MM-DD'),
to_char(r.next_alert_at AT TIME ZONE 'UTC',
E'YYYY-MM-DD"T"HH24\x3aMI\x3aSS"Z"'), array_to_json(r.subject_categories),
r.created FROM r JOIN entities e ON e.id = r.entity_id;
