/*
 * ctl-show.c: dsrd's answer to each command, printed for people: one
 * printer per kind of result (a request, a list of requests, the staff, the
 * outbox, the activities of a register, tasks, ...) and a generic one for
 * the rest; each returns the exit code. It must never print under --json
 * (main prints the JSON document itself), never talk to dsrd, and never
 * write a value from dsrd but through ctl-print.c's cleaning helpers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "proto.h"
#include "util.h"

#include "dsrctl.h"

static void	 print_request_tasks(const cJSON *);

/* -------------------------------------------------------------------- */
/* Printers for people. */

int
print_ping(const cJSON *r)
{
	const cJSON	*db = jget(r, "database");
	char		*ver = jcell(r, "version"), *dbs = jcell(r, "database");
	char		*schema = jcell(r, "schema_version");
	char		*today = jcell(r, "today"), *tz = jcell(r, "timezone");
	long long	 s = jint(r, "uptime", -1);
	char		 up[64];

	if (s < 0)
		snprintf(up, sizeof up, "-");
	else if (s >= 86400)
		snprintf(up, sizeof up, "%lldd%lldh", s / 86400,
		    s / 3600 % 24);
	else if (s >= 3600)
		snprintf(up, sizeof up, "%lldh%lldm", s / 3600, s / 60 % 60);
	else if (s >= 60)
		snprintf(up, sizeof up, "%lldm%llds", s / 60, s % 60);
	else
		snprintf(up, sizeof up, "%llds", s);
	printf("dsrd %s, pid %lld, up %s, database %s, schema %s\n", ver,
	    jint(r, "pid", 0), up,
	    cJSON_IsString(db) && strcmp(db->valuestring, "up") != 0 ?
	    "DOWN" : dbs, schema);
	printf("today %s (%s)", today, tz);
	/* Not every dsrd says which role it gave us; say it when it does. */
	if (cJSON_IsString(jget(r, "role"))) {
		char	*role = jcell(r, "role");

		printf(", role %s", role);
		free(role);
	}
	putchar('\n');
	free(ver);
	free(dbs);
	free(schema);
	free(today);
	free(tz);
	return EXIT_OK;
}

int
print_entity_added(const cJSON *r)
{
	char	*code = jcell(r, "code"), *name = jcell(r, "name");

	printf("added body %s (%s)\n", code, name);
	free(code);
	free(name);
	return EXIT_OK;
}

int
print_entities(const cJSON *r)
{
	static const char *heads[] = {
		"CODE", "NAME", "EMAIL", "DPO-EMAIL", "HOLIDAYS",
	};
	const cJSON	*list = jget(r, "entities"), *e;
	struct table	 t;

	if (cJSON_GetArraySize(list) == 0) {
		printf("no bodies\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, NULL);
	cJSON_ArrayForEach(e, list) {
		table_add(&t, jcell(e, "code"));
		table_add(&t, jcell(e, "name"));
		table_add(&t, jcell(e, "email"));
		table_add(&t, jcell(e, "dpo_email"));
		table_add(&t, jcell(e, "holidays"));
	}
	table_print(&t, "");
	return EXIT_OK;
}

int
print_staff_added(const cJSON *r)
{
	char	*name = jcell(r, "name"), *ent = jcell(r, "entity");

	printf("added %s to the staff of %s (id %lld)\n", name, ent,
	    jint(r, "id", 0));
	free(name);
	free(ent);
	return EXIT_OK;
}

int
print_staff(const cJSON *r)
{
	static const char *heads[] = {
		"ID", "ENTITY", "NAME", "OFFICE", "EMAIL", "USER",
	};
	const cJSON	*list = jget(r, "staff"), *e;
	struct table	 t;

	if (cJSON_GetArraySize(list) == 0) {
		printf("no staff\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, NULL);
	cJSON_ArrayForEach(e, list) {
		table_add(&t, jcell(e, "id"));
		table_add(&t, jcell(e, "entity"));
		table_add(&t, jcell(e, "name"));
		table_add(&t, jcell(e, "office"));
		table_add(&t, jcell(e, "email"));
		table_add(&t, jcell(e, "user"));
	}
	table_print(&t, "");
	return EXIT_OK;
}

int
print_request(const cJSON *r)
{
	static const char *heads[] = { "AT", "ACTOR", "ACTION", "NOTE" };
	const cJSON	*subj = jget(r, "subject"), *hist = jget(r, "history");
	const cJSON	*ev;
	struct table	 t;

	printf("Request %lld%s\n", jint(r, "id", 0),
	    cJSON_IsTrue(jget(r, "overdue")) ? "  ** OVERDUE **" : "");
	show_member("Body", r, "entity");
	show_member("Type", r, "type");
	show_member("Status", r, "status");
	show_member("Subject name", subj, "name");
	show_member("Subject tax code", subj, "tax_code");
	show_member("Subject e-mail", subj, "email");
	show_member("Channel", r, "channel");
	show_member("Protocol", r, "protocol");
	show_member("Received", r, "received_on");
	show_member("Forwarded", r, "forwarded_on");
	show_member("Statutory due", r, "statutory_due_on");
	show_member("Operational due", r, "operational_due_on");
	show_member("Due", r, "due_on");
	show_member("Extended", r, "extended");
	if (cJSON_IsTrue(jget(r, "overdue")))
		show_field("Overdue", xstrdup("yes  ** OVERDUE **"));
	else
		show_member("Overdue", r, "overdue");
	if (!cJSON_IsNull(jget(r, "extended_on")) && jget(r, "extended_on"))
		show_member("Extended on", r, "extended_on");
	if (jget(r, "extension_reason") && !cJSON_IsNull(jget(r,
	    "extension_reason")))
		show_member("Extension reason", r, "extension_reason");
	if (jget(r, "awaiting_since") && !cJSON_IsNull(jget(r,
	    "awaiting_since")))
		show_member("Awaiting since", r, "awaiting_since");
	if (jint(r, "paused_days", 0) > 0)
		show_member("Paused days", r, "paused_days");
	show_member("Closed", r, "closed_on");
	show_member("Outcome", r, "outcome");
	if (jget(r, "reject_reason") && !cJSON_IsNull(jget(r,
	    "reject_reason")))
		show_member("Reject reason", r, "reject_reason");
	if (jget(r, "outcome_note") && !cJSON_IsNull(jget(r, "outcome_note")))
		show_member("Outcome note", r, "outcome_note");
	show_member("Created", r, "created_at");
	show_member("Summary", r, "summary");
	if (cJSON_GetArraySize(jget(r, "subject_categories")) > 0)
		show_field("Categories", jjoin(r, "subject_categories",
		    "; "));
	print_request_tasks(r);
	if (!cJSON_IsArray(hist))
		return EXIT_OK;
	printf("History:\n");
	if (cJSON_GetArraySize(hist) == 0) {
		printf("  no events\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, NULL);
	cJSON_ArrayForEach(ev, hist) {
		table_add(&t, jcell(ev, "at"));
		table_add(&t, jcell(ev, "actor"));
		table_add(&t, jcell(ev, "action"));
		table_add(&t, jcell(ev, "note"));
	}
	table_print(&t, "  ");
	return EXIT_OK;
}

int
print_filed(const cJSON *r)
{
	char	*type = jcell(r, "type"), *ent = jcell(r, "entity");
	char	*due = jcell(r, "due_on");

	if (cJSON_IsFalse(jget(r, "created")))
		printf("request %lld already filed with this idempotency "
		    "key\n", jint(r, "id", 0));
	else
		printf("filed request %lld (%s, %s), due %s\n",
		    jint(r, "id", 0), type, ent, due);
	putchar('\n');
	free(type);
	free(ent);
	free(due);
	return print_request(r);
}

int
print_changed(const cJSON *r)
{
	char	*st = jcell(r, "status"), *due = jcell(r, "due_on");

	printf("request %lld is %s, due %s\n\n", jint(r, "id", 0), st, due);
	free(st);
	free(due);
	return print_request(r);
}

int
print_retried(const cJSON *r)
{
	printf("notification %lld queued again\n", jint(r, "id", 0));
	return EXIT_OK;
}

int
print_history(const cJSON *r)
{
	static const char *heads[] = { "SEQ", "AT", "ACTOR", "ROLE", "ACTION",
	    "NOTE" };
	const cJSON	*ev, *evs = jget(r, "events");
	struct table	 t;

	printf("History of request %lld\n", jint(r, "id", 0));
	if (!cJSON_IsArray(evs) || cJSON_GetArraySize(evs) == 0) {
		printf("  no events\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, NULL);
	cJSON_ArrayForEach(ev, evs) {
		table_add(&t, jcell(ev, "seq"));
		table_add(&t, jcell(ev, "at"));
		table_add(&t, jcell(ev, "actor"));
		table_add(&t, jcell(ev, "role"));
		table_add(&t, jcell(ev, "action"));
		table_add(&t, jcell(ev, "note"));
	}
	table_print(&t, "  ");
	return EXIT_OK;
}

int
print_requests(const cJSON *r)
{
	static const char *heads[] = {
		"ID", "ENTITY", "TYPE", "STATUS", "RECEIVED", "DUE", "OVERDUE",
		"SUBJECT",
	};
	static const int right[] = { 1, 0, 0, 0, 0, 0, 0, 0 };
	const cJSON	*list = jget(r, "requests"), *e;
	struct table	 t;
	int		 n = cJSON_GetArraySize(list);

	if (n == 0) {
		printf("no requests\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, right);
	cJSON_ArrayForEach(e, list) {
		table_add(&t, jcell(e, "id"));
		table_add(&t, jcell(e, "entity"));
		table_add(&t, jcell(e, "type"));
		table_add(&t, jcell(e, "status"));
		table_add(&t, jcell(e, "received_on"));
		table_add(&t, jcell(e, "due_on"));
		table_add(&t, xstrdup(cJSON_IsTrue(jget(e, "overdue")) ?
		    "yes" : ""));
		table_add(&t, truncate_u8(jcell(jget(e, "subject"), "name"),
		    30));
	}
	table_print(&t, "");
	printf("%d request%s\n", n, n == 1 ? "" : "s");
	return EXIT_OK;
}

int
print_audit(const cJSON *r)
{
	char	*head = jcell(r, "head");

	printf("audit trail OK: %lld event%s, head %.16s\u2026\n",
	    jint(r, "events", 0), jint(r, "events", 0) == 1 ? "" : "s", head);
	free(head);
	return EXIT_OK;
}

int
print_stats(const cJSON *r)
{
	static const char *heads[] = { "ENTITY", "OPEN", "OVERDUE",
	    "DUE-SOON" };
	static const int right[] = { 0, 1, 1, 1 };
	static const int state_right[] = { 0, 1 };
	const cJSON	*by = jget(r, "by_status"), *e;
	char		*today = jcell(r, "today");
	char		*median = jcell(r, "median_days_to_close");
	struct table	 t;

	printf("Requests by state (today %s):\n", today);
	table_init(&t, 2, NULL, state_right);
	cJSON_ArrayForEach(e, by) {
		table_add(&t, clean(xstrdup(e->string), 0));
		table_add(&t, clean(jtext(e), 0));
	}
	table_print(&t, "  ");
	printf("Open %lld, overdue %lld, due within 3 days %lld, median "
	    "days to close %s\n", jint(r, "open", 0), jint(r, "overdue", 0),
	    jint(r, "due_soon", 0), median);
	free(today);
	free(median);
	if (cJSON_GetArraySize(jget(r, "by_entity")) == 0)
		return EXIT_OK;
	putchar('\n');
	table_init(&t, nitems(heads), heads, right);
	cJSON_ArrayForEach(e, jget(r, "by_entity")) {
		table_add(&t, jcell(e, "entity"));
		table_add(&t, jcell(e, "open"));
		table_add(&t, jcell(e, "overdue"));
		table_add(&t, jcell(e, "due_soon"));
	}
	table_print(&t, "");
	return EXIT_OK;
}

int
print_outbox(const cJSON *r)
{
	static const char *heads[] = {
		"ID", "CREATED", "EVENT", "REQUEST", "ENTITY", "CHANNEL",
		"RECIPIENT", "STATE", "TRIES", "NEXT-ATTEMPT", "LAST-ERROR",
	};
	static const int right[] = { 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0 };
	const cJSON	*list = jget(r, "items"), *e;
	struct table	 t;
	int		 n = cJSON_GetArraySize(list);

	if (n == 0) {
		printf("no notifications\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, right);
	cJSON_ArrayForEach(e, list) {
		table_add(&t, jcell(e, "id"));
		table_add(&t, jcell(e, "created_at"));
		table_add(&t, jcell(e, "event"));
		table_add(&t, jcell(e, "request_id"));
		table_add(&t, jcell(e, "entity"));
		table_add(&t, jcell(e, "channel"));
		table_add(&t, truncate_u8(jcell(e, "recipient"), 40));
		table_add(&t, jcell(e, "state"));
		table_add(&t, jcell(e, "attempts"));
		table_add(&t, cJSON_IsString(jget(e, "sent_at")) ?
		    xstrdup("-") : jcell(e, "next_attempt_at"));
		table_add(&t, truncate_u8(jcell(e, "last_error"), 40));
	}
	table_print(&t, "");
	printf("%d notification%s\n", n, n == 1 ? "" : "s");
	return EXIT_OK;
}

int
print_activities(const cJSON *r)
{
	static const char *heads[] = {
		"ID", "ENTITY", "LINE", "OFFICE", "NAME", "SUBJECTS",
		"PROCESSORS", "REMOVED",
	};
	static const int right[] = { 1, 0, 1, 0, 0, 0, 0, 0 };
	const cJSON	*list = jget(r, "activities"), *e;
	struct table	 t;
	int		 n = cJSON_GetArraySize(list);

	if (n == 0) {
		printf("no activities\n");
		return EXIT_OK;
	}
	table_init(&t, nitems(heads), heads, right);
	cJSON_ArrayForEach(e, list) {
		table_add(&t, jcell(e, "id"));
		table_add(&t, jcell(e, "entity"));
		table_add(&t, jcell(e, "line"));
		table_add(&t, truncate_u8(jcell(e, "office"), 30));
		table_add(&t, truncate_u8(jcell(e, "name"), 40));
		table_add(&t, truncate_u8(jjoin(e, "subject_categories",
		    "; "), 30));
		table_add(&t, truncate_u8(jjoin(e, "processors", "; "), 30));
		table_add(&t, cJSON_IsString(jget(e, "removed_at")) ?
		    jcell(e, "removed_at") : xstrdup(""));
	}
	table_print(&t, "");
	printf("%d activit%s\n", n, n == 1 ? "y" : "ies");
	return EXIT_OK;
}

/* People as "Name (staff 12), Other (not in the directory)". */
static char *
people_text(const cJSON *a)
{
	const cJSON	*e;
	struct buf	 b;

	if (cJSON_GetArraySize(a) == 0)
		return xstrdup("-");
	buf_init(&b);
	cJSON_ArrayForEach(e, a) {
		char	*name = jcell(e, "name");

		if (cJSON_IsNumber(jget(e, "staff_id")))
			buf_addf(&b, "%s%s (staff %lld)", b.len ? "\n" : "",
			    name, jint(e, "staff_id", 0));
		else
			buf_addf(&b, "%s%s (not in the staff directory)",
			    b.len ? "\n" : "", name);
		free(name);
	}
	return buf_take(&b);
}

int
print_activity(const cJSON *r)
{
	printf("Activity %lld%s\n", jint(r, "id", 0),
	    cJSON_IsString(jget(r, "removed_at")) ?
	    "  (removed from the register)" : "");
	show_member("Body", r, "entity");
	show_member("Name", r, "name");
	show_member("Office", r, "office");
	show_member("Purpose", r, "purpose");
	show_member("Joint controller", r, "joint_controller");
	show_field("Managers", people_text(jget(r, "managers")));
	show_field("Staff", people_text(jget(r, "staff")));
	show_field("Processors", jjoin(r, "processors", "\n"));
	show_field("Ind. controllers", jjoin(r, "independent_controllers",
	    "\n"));
	show_field("Software", jjoin(r, "software", "\n"));
	show_field("Data categories", jjoin(r, "data_categories", "\n"));
	show_field("Subjects", jjoin(r, "subject_categories", "\n"));
	show_field("Recipients", jjoin(r, "recipient_categories", "\n"));
	show_member("Retention", r, "retention");
	show_member("Cloud", r, "cloud");
	show_member("Transfers", r, "transfers");
	show_member("For others", r, "processor_for_others");
	show_member("Controller", r, "controller");
	show_member("Security measures", r, "security_measures");
	show_member("Register line", r, "line");
	show_member("Imported", r, "imported_at");
	show_member("Updated", r, "updated_at");
	show_member("Removed", r, "removed_at");
	return EXIT_OK;
}

/* What a task is about: its activity, or its recipient. Caller frees. */
static char *
task_about(const cJSON *t)
{
	const cJSON	*a = jget(t, "activity");
	char		*name, *office, *s;

	if (cJSON_IsObject(a))
		return name_office(a);
	name = jcell(t, "recipient");
	office = jcell(t, "recipient_kind");
	s = xasprintf("%s (%s)", name, office);
	free(name);
	free(office);
	return s;
}

static char *
task_assignees(const cJSON *t)
{
	const cJSON	*e;
	struct buf	 b;

	if (cJSON_GetArraySize(jget(t, "assignees")) == 0)
		return xstrdup("-");
	buf_init(&b);
	cJSON_ArrayForEach(e, jget(t, "assignees")) {
		char	*n = jcell(e, "name");

		buf_addf(&b, "%s%s", b.len ? ", " : "", n);
		free(n);
	}
	return buf_take(&b);
}

/* The rows of a list of tasks; with request, its column too. */
static void
tasks_table(const cJSON *list, const char *indent, int request)
{
	static const char *heads[] = {
		"ID", "REQUEST", "KIND", "ABOUT", "STATUS", "ASSIGNEES",
	};
	static const int right[] = { 1, 1, 0, 0, 0, 0 };
	const char	*h[nitems(heads)];
	int		 rt[nitems(heads)];
	const cJSON	*e;
	struct table	 t;
	size_t		 k, n = 0;

	for (k = 0; k < nitems(heads); k++) {
		if (k == 1 && !request)
			continue;
		rt[n] = right[k];
		h[n++] = heads[k];
	}
	table_init(&t, n, h, rt);
	cJSON_ArrayForEach(e, list) {
		table_add(&t, jcell(e, "id"));
		if (request)
			table_add(&t, jcell(e, "request"));
		table_add(&t, jcell(e, "kind"));
		table_add(&t, truncate_u8(clean(task_about(e), 0), 50));
		table_add(&t, jcell(e, "status"));
		table_add(&t, truncate_u8(clean(task_assignees(e), 0), 40));
	}
	table_print(&t, indent);
}

int
print_tasks(const cJSON *r)
{
	const cJSON	*list = jget(r, "tasks");
	int		 n = cJSON_GetArraySize(list);

	if (n == 0) {
		printf("no tasks\n");
		return EXIT_OK;
	}
	tasks_table(list, "", 1);
	printf("%d task%s\n", n, n == 1 ? "" : "s");
	return EXIT_OK;
}

int
print_task(const cJSON *r)
{
	printf("Task %lld of request %lld\n", jint(r, "id", 0),
	    jint(r, "request", 0));
	show_member("Body", r, "entity");
	show_member("Kind", r, "kind");
	show_field("About", task_about(r));
	show_member("Status", r, "status");
	show_field("Assignees", task_assignees(r));
	show_member("Note", r, "note");
	show_member("Closed", r, "closed_at");
	show_member("Closed by", r, "closed_by");
	show_member("Created", r, "created_at");
	return EXIT_OK;
}

/* A request's tasks and the recipients told (art. 19), when it has them. */
static void
print_request_tasks(const cJSON *r)
{
	static const char *heads[] = { "RECIPIENT", "KIND", "INFORMED", "BY" };
	const cJSON	*tasks = jget(r, "tasks"), *inf, *e;
	struct table	 t;

	if (cJSON_IsArray(tasks)) {
		printf("Tasks:\n");
		if (cJSON_GetArraySize(tasks) == 0)
			printf("  no tasks\n");
		else
			tasks_table(tasks, "  ", 0);
	}
	inf = jget(r, "recipients_informed");
	if (!cJSON_IsArray(inf))
		return;
	printf("Recipients informed:\n");
	if (cJSON_GetArraySize(inf) == 0) {
		printf("  none yet\n");
		return;
	}
	table_init(&t, nitems(heads), heads, NULL);
	cJSON_ArrayForEach(e, inf) {
		table_add(&t, truncate_u8(jcell(e, "recipient"), 50));
		table_add(&t, jcell(e, "kind"));
		table_add(&t, jcell(e, "informed_at"));
		table_add(&t, jcell(e, "by"));
	}
	table_print(&t, "  ");
}

/* For a command without a printer of its own: key: value lines. */
int
print_generic(const cJSON *r)
{
	const cJSON	*e;

	if (!cJSON_IsObject(r)) {
		char	*v = clean(jtext(r), 1);

		printf("%s\n", v);
		free(v);
		return EXIT_OK;
	}
	cJSON_ArrayForEach(e, r) {
		char	*k = clean(xstrdup(e->string), 0);
		char	*v = clean(jtext(e), 1);

		printf("%s: %s\n", k, v);
		free(k);
		free(v);
	}
	return EXIT_OK;
}
