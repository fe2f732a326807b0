/*
 * dsrctl.c: the command-line client of dsrd. It turns one command line into
 * one JSON-RPC 2.0 request on dsrd's Unix socket, waits for the one answer,
 * and prints it for people (tables, key: value blocks) or, with --json, as
 * one JSON document; the exit code says how it went (SPEC §6). One table of
 * commands drives parsing, help and dispatch: a new command is a new row.
 * This file holds that table and main (help, version, the socket's path,
 * the exit code); the other files of clients/ each do one part, as
 * dsrctl.h says. dsrctl must never validate what the daemon validates
 * (dates, tax codes, e-mail addresses, codes): it checks only the shape of
 * the command line, so that there is one source of truth for the rules. It
 * must never print anything but the one JSON document on stdout under
 * --json, and never write a control character it received to the terminal.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "proto.h"
#include "util.h"

#include "dsrctl.h"

#ifndef DSR_VERSION
#define DSR_VERSION "0.0.0"
#endif

/* The commands: parsing, --help and dispatch all read this table. */
const struct ctl_cmd ctl_cmds[] = {
	{
		.name = "ping", .method = "ping",
		.summary = "daemon version, uptime, database state",
		.print = print_ping,
	},
	{
		.name = "entity add", .method = "entity.add",
		.summary = "register a body (controller)",
		.args = { { "CODE", "code", CTL_STRING } },
		.opts = {
			{ "name", "name", CTL_STRING, 1, "NAME" },
			{ "email", "email", CTL_STRING, 0, "E" },
			{ "dpo-email", "dpo_email", CTL_STRING, 0, "E" },
			{ "holidays", "holidays", CTL_STRING, 0, "MM-DD,..." },
		},
		.print = print_entity_added,
	},
	{
		.name = "entity list", .method = "entity.list",
		.summary = "the bodies",
		.print = print_entities,
	},
	{
		.name = "staff add", .method = "staff.add",
		.summary = "add a person to a body's staff directory",
		.args = { { "NAME", "name", CTL_STRING } },
		.opts = {
			{ "entity", "entity", CTL_STRING, 1, "CODE" },
			{ "email", "email", CTL_STRING, 0, "E" },
			{ "office", "office", CTL_STRING, 0, "OFFICE" },
			{ "user", "user", CTL_STRING, 0, "UNIXUSER" },
		},
		.print = print_staff_added,
	},
	{
		.name = "staff list", .method = "staff.list",
		.summary = "a body's staff directory",
		.opts = {
			{ "entity", "entity", CTL_STRING, 0, "CODE" },
			{ "office", "office", CTL_STRING, 0, "OFFICE" },
		},
		.print = print_staff,
	},
	{
		.name = "file", .method = "request.file",
		.summary = "file a request; prints it",
		.opts = {
			{ "entity", "entity", CTL_STRING, 1, "CODE" },
			{ "type", "type", CTL_STRING, 1, "TYPE" },
			{ "subject-name", "subject_name", CTL_STRING, 1,
			    "NAME" },
			{ "subject-tax-code", "subject_tax_code", CTL_STRING,
			    0, "CF" },
			{ "subject-email", "subject_email", CTL_STRING, 0,
			    "E" },
			{ "channel", "channel", CTL_STRING, 0, "CH" },
			{ "received", "received_on", CTL_DATE, 0,
			    "YYYY-MM-DD" },
			{ "protocol", "protocol", CTL_STRING, 0, "REF" },
			{ "summary", "summary", CTL_STRING, 0, "TEXT" },
			{ "idempotency-key", "idempotency_key", CTL_STRING,
			    0, "K" },
			{ "subject-category", "subject_categories", CTL_LIST,
			    0, "LIST" },
		},
		.print = print_filed,
	},
	{
		.name = "show", .method = "request.show",
		.summary = "one request, with its deadlines and history",
		.args = { { "ID", "id", CTL_INT } },
		.print = print_request,
	},
	{
		.name = "list", .method = "request.list",
		.summary = "requests, soonest due first",
		.opts = {
			{ "entity", "entity", CTL_STRING, 0, "CODE" },
			{ "status", "status", CTL_STRING, 0, "S" },
			{ "type", "type", CTL_STRING, 0, "T" },
			{ "overdue", "overdue", CTL_BOOL, 0, NULL },
			{ "due-within", "due_within", CTL_INT, 0, "DAYS" },
			{ "limit", "limit", CTL_INT, 0, "N" },
		},
		.print = print_requests,
	},
	{
		.name = "forward", .method = "request.forward",
		.summary = "DPO forwards; starts the operational clock",
		.args = { { "ID", "id", CTL_INT } },
		.opts = {
			{ "date", "date", CTL_DATE, 0, "YYYY-MM-DD" },
			{ "note", "note", CTL_STRING, 0, "TEXT" },
			{ "activity", "activity", CTL_STRING, 0, "SPEC" },
		},
		.print = print_changed,
	},
	{
		.name = "await-subject", .method = "request.await_subject",
		.summary = "identity proof or clarification asked: pause",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "note", "note", CTL_STRING, 1, "TEXT" } },
		.print = print_changed,
	},
	{
		.name = "resume", .method = "request.resume",
		.summary = "the person answered: the clocks run again",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "note", "note", CTL_STRING, 0, "TEXT" } },
		.print = print_changed,
	},
	{
		.name = "extend", .method = "request.extend",
		.summary = "art. 12(3) extension, once, with a reason",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "reason", "reason", CTL_STRING, 1, "TEXT" } },
		.print = print_changed,
	},
	{
		.name = "complete", .method = "request.complete",
		.summary = "done",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "note", "note", CTL_STRING, 0, "TEXT" } },
		.print = print_changed,
	},
	{
		.name = "reject", .method = "request.reject",
		.summary = "refused, with a reason code",
		.args = { { "ID", "id", CTL_INT } },
		.opts = {
			{ "reason", "reason", CTL_STRING, 1, "CODE" },
			{ "note", "note", CTL_STRING, 0, "TEXT" },
		},
		.print = print_changed,
	},
	{
		.name = "withdraw", .method = "request.withdraw",
		.summary = "the person withdrew it",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "note", "note", CTL_STRING, 0, "TEXT" } },
		.print = print_changed,
	},
	{
		.name = "history", .method = "request.history",
		.summary = "the audit events of a request",
		.args = { { "ID", "id", CTL_INT } },
		.print = print_history,
	},
	{
		.name = "stats", .method = "stats",
		.summary = "counts by state, overdue, due soon, median days "
		    "to close",
		.opts = { { "entity", "entity", CTL_STRING, 0, "CODE" } },
		.print = print_stats,
	},
	{
		.name = "outbox list", .method = "outbox.list",
		.summary = "notifications waiting, failed or sent",
		.opts = {
			{ "state", "state", CTL_STRING, 0,
			    "pending,sending,dead,sent" },
			{ "limit", "limit", CTL_INT, 0, "N" },
		},
		.print = print_outbox,
	},
	{
		.name = "outbox retry", .method = "outbox.retry",
		.summary = "put a dead notification back in the queue",
		.args = { { "ID", "id", CTL_INT } },
		.print = print_retried,
	},
	{
		.name = "audit verify", .method = "audit.verify",
		.summary = "check the audit trail's hash chain",
		.print = print_audit,
	},
	{
		.name = "ropa import", .method = "ropa.import",
		.summary = "import a body's register of processing activities",
		.args = { { "FILE", "file", CTL_STRING } },
		.opts = {
			{ "entity", "entity", CTL_STRING, 1, "CODE" },
			{ "dry-run", "dry_run", CTL_BOOL, 0, NULL },
		},
		.run = run_ropa_import,
	},
	{
		.name = "ropa list", .method = "ropa.list",
		.summary = "activities of the registers, with filters",
		.opts = {
			{ "entity", "entity", CTL_STRING, 0, "CODE" },
			{ "office", "office", CTL_STRING, 0, "O" },
			{ "data-category", "data_category", CTL_STRING, 0,
			    "C" },
			{ "subject-category", "subject_category", CTL_STRING,
			    0, "C" },
			{ "software", "software", CTL_STRING, 0, "S" },
			{ "processor", "processor", CTL_STRING, 0, "P" },
			{ "removed", "removed", CTL_BOOL, 0, NULL },
			{ "limit", "limit", CTL_INT, 0, "N" },
		},
		.print = print_activities,
	},
	{
		.name = "ropa show", .method = "ropa.show",
		.summary = "one activity of a register, every field",
		.args = { { "ID", "id", CTL_INT } },
		.print = print_activity,
	},
	{
		.name = "task list", .method = "task.list",
		.summary = "tasks of forwarded requests",
		.opts = {
			{ "request", "request", CTL_INT, 0, "ID" },
			{ "entity", "entity", CTL_STRING, 0, "CODE" },
			{ "status", "status", CTL_STRING, 0,
			    "open|done|waived" },
			{ "mine", "mine", CTL_BOOL, 0, NULL },
			{ "limit", "limit", CTL_INT, 0, "N" },
		},
		.print = print_tasks,
	},
	{
		.name = "task done", .method = "task.done",
		.summary = "a task is done",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "note", "note", CTL_STRING, 0, "TEXT" } },
		.print = print_task,
	},
	{
		.name = "task waive", .method = "task.waive",
		.summary = "the DPO waives a task, with a reason",
		.args = { { "ID", "id", CTL_INT } },
		.opts = { { "note", "note", CTL_STRING, 1, "TEXT" } },
		.print = print_task,
	},
};
const size_t ctl_ncmds = nitems(ctl_cmds);

/* Prints dsrd's answer; returns the exit code. */
static int
ctl_answer(const struct ctl *ctl, const struct buf *reply)
{
	cJSON	*res, *err;
	int	 rc;

	if (rpc_split(reply, &res, &err) == -1)
		return print_error(ctl->json, err);
	if (ctl->json) {
		json_out(res);
		return EXIT_OK;
	}
	rc = ctl->cmd->print != NULL ? ctl->cmd->print(res) :
	    print_generic(res);
	cJSON_Delete(res);
	return rc;
}

int
main(int argc, char **argv)
{
	struct ctl	 ctl;
	struct buf	 reply;
	char		*cause = NULL, *line;
	const char	*path;
	int		 rc, code, json;

	if (ctl_parse(&ctl, argc, argv, &cause) == -1) {
		json = ctl.json || argv_wants_json(argc, argv);
		rc = ctl_fail(json, E_USAGE, cause);
		if (!json) {
			if (ctl.cmd != NULL)
				usage_cmd(stderr, ctl.cmd, 0);
			else
				fputs("Try 'dsrctl --help'.\n", stderr);
		}
		free(cause);
		return rc;
	}
	if (ctl.help) {
		if (ctl.cmd != NULL)
			usage_cmd(stdout, ctl.cmd, 1);
		else
			usage_all(stdout);
		return EXIT_OK;
	}
	if (ctl.version) {
		if (ctl.json) {
			cJSON	*v = cJSON_CreateObject();

			cJSON_AddStringToObject(v, "version", DSR_VERSION);
			json_out(v);
		} else
			printf("dsrctl %s\n", DSR_VERSION);
		return EXIT_OK;
	}

	path = ctl.socket;
	if (path == NULL && (path = getenv("DSRD_SOCKET")) != NULL &&
	    *path == '\0')
		path = NULL;
	if (path == NULL)
		path = PROTO_DEFAULT_SOCKET;

	if (ctl.cmd->run != NULL) {
		rc = ctl.cmd->run(&ctl, path);
		goto out;
	}
	line = ctl_request(&ctl);
	/* dsrd would refuse it and hang up; say so without sending 1 MiB. */
	if (strlen(line) > PROTO_MAX_MESSAGE) {
		free(line);
		return ctl_fail(ctl.json, E_TOO_LARGE, "request too large "
		    "(over 1 MiB)");
	}
	buf_init(&reply);
	if (ctl_call(path, line, &reply, &code, &cause) == -1) {
		rc = ctl_fail(ctl.json, code, cause);
		free(cause);
	} else
		rc = ctl_answer(&ctl, &reply);
	buf_free(&reply);
	free(line);
out:
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "dsrctl: cannot write the output: %s\n",
		    strerror(errno));
		if (rc == EXIT_OK)
			rc = EXIT_UNAVAILABLE;
	}
	return rc;
}
