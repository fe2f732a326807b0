/*
 * cmd.h: the method table, dispatch of one JSON-RPC line, declarative
 * parameter checking, and the replies. A handler returns a struct
 * cmd_result *, which only cmd_ok(), cmd_fail*(), cmd_pending() and
 * cmd_param_failed() produce, so a path that forgets to answer does not
 * compile. A pending command holds a nullable pointer to its connection: if
 * the client hangs up, the late answer is dropped.
 */
#ifndef DSR_CMD_H
#define DSR_CMD_H

#include <stdbool.h>
#include <stddef.h>

#include "calendar.h"
#include "control.h"

struct cJSON;
struct cmd;
struct cmd_result;

typedef struct cmd_result *cmd_handler(struct cmd *);

struct cmd_def {
	const char	*method;
	cmd_handler	*handler;
	unsigned	 roles;		/* ROLE_BIT()s allowed; admin always */
	const char	*summary;
};

/* Runs one line from a connection; ctl_conn_done() follows, maybe later. */
void	cmd_run_line(struct ctl_conn *, const struct caller *, const char *,
	    size_t);
/* The client hung up: drop the answer when it comes. */
void	cmd_detach(struct cmd *);
/* An error line not tied to a request (e.g. too large); heap, caller frees. */
char	*cmd_error_line(int code, const char *message);

const struct caller *cmd_caller(const struct cmd *);
/* What the caller may see: its Unix user for the staff role (its own body's
   requests only), NULL for the other roles. */
const char	*cmd_scope(const struct cmd *);

struct cmd_result *cmd_ok(struct cmd *, struct cJSON *result);
struct cmd_result *cmd_fail(struct cmd *, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* data is taken (may be NULL). */
struct cmd_result *cmd_fail_data(struct cmd *, int code, struct cJSON *data,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* -32602 naming the parameter: message "field: ...", data.field. */
struct cmd_result *cmd_fail_field(struct cmd *, const char *field,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
struct cmd_result *cmd_pending(struct cmd *);
/* A store_cb that passes the store's answer to the client as it is. */
struct store_res;
void	cmd_reply_store(struct store_res *, void *cmd);
/* After param() returned false: the error was already sent. */
struct cmd_result *cmd_param_failed(void);

/* The largest id a client may name: 2^53 - 1, the largest integer a JSON
   number carries exactly in every client (a double). */
#define CMD_ID_MAX	9007199254740991LL

enum param_type {
	PT_STRING,	/* const char **: single line text, trimmed */
	PT_TEXT,	/* const char **: text, may span lines, trimmed */
	PT_INT,		/* long long *: integer in [min, max] */
	PT_BOOL,	/* bool * */
	PT_DATE,	/* int *: day number, from "YYYY-MM-DD" */
	PT_ENUM,	/* int *: index in names[], -1 when absent */
	PT_CODE,	/* const char **: a body code, lower-cased */
	PT_TAX_CODE,	/* const char **: codice fiscale, upper-cased */
	PT_EMAIL,	/* const char ** */
	PT_HOLIDAYS,	/* struct cal_local *: "MM-DD,..." */
	PT_JSON,	/* const struct cJSON **: any value but null, checked
			   by the handler; valid until the command ends */
};

struct param {
	const char		*name;
	enum param_type		 type;
	bool			 required;
	void			*out;
	long long		 min, max;	/* PT_INT range; PT_STRING/TEXT:
						   max chars, min 1 = not empty */
	const char *const	*names;		/* PT_ENUM */
	int			 nnames;
	bool			*present;	/* optional: was it given */
};

/*
 * Checks every parameter against the list (unknown ones are refused too) and
 * fills the outputs; absent optional parameters leave outputs untouched
 * (strings become NULL). Empty optional strings count as absent. On the
 * first failure it answers -32602 naming the field and returns false.
 * Strings stay valid until the command ends.
 */
bool	param(struct cmd *, const struct param *, size_t n);

/* Handlers, one family per file. */
struct cmd_result *cmd_ping(struct cmd *);
struct cmd_result *cmd_staff_add(struct cmd *);
struct cmd_result *cmd_staff_list(struct cmd *);
struct cmd_result *cmd_ropa_import(struct cmd *);
struct cmd_result *cmd_ropa_list(struct cmd *);
struct cmd_result *cmd_ropa_show(struct cmd *);
struct cmd_result *cmd_outbox_retry(struct cmd *);
struct cmd_result *cmd_entity_add(struct cmd *);
struct cmd_result *cmd_entity_list(struct cmd *);
struct cmd_result *cmd_request_file(struct cmd *);
struct cmd_result *cmd_request_show(struct cmd *);
struct cmd_result *cmd_request_list(struct cmd *);
struct cmd_result *cmd_audit_verify(struct cmd *);
struct cmd_result *cmd_stats(struct cmd *);
struct cmd_result *cmd_outbox_list(struct cmd *);
struct cmd_result *cmd_request_history(struct cmd *);
struct cmd_result *cmd_request_forward(struct cmd *);
struct cmd_result *cmd_request_await_subject(struct cmd *);
struct cmd_result *cmd_request_resume(struct cmd *);
struct cmd_result *cmd_request_extend(struct cmd *);
struct cmd_result *cmd_request_complete(struct cmd *);
struct cmd_result *cmd_request_reject(struct cmd *);
struct cmd_result *cmd_request_withdraw(struct cmd *);
struct cmd_result *cmd_task_list(struct cmd *);
struct cmd_result *cmd_task_done(struct cmd *);
struct cmd_result *cmd_task_waive(struct cmd *);

#endif
