/*
 * dsrctl.h: what the files of dsrctl share: the shape of a command (the
 * table in dsrctl.c), what the command line asked for, and the functions
 * each file offers the others. dsrctl.c has the table and main; ctl-argv.c
 * reads the command line against the table and makes the request line;
 * ctl-conn.c talks to dsrd's socket; ctl-print.c is how anything reaches
 * the terminal; ctl-show.c prints each answer for people; ctl-ropa.c is
 * the register import. It must never hold code or state: declarations
 * only, so that each file's job stays in that file.
 */
#ifndef DSRCTL_H
#define DSRCTL_H

#include <stddef.h>
#include <stdio.h>

#include <cJSON.h>

#include "util.h"

/* How long to wait for dsrd's answer, unless $DSRCTL_TIMEOUT says. */
#define CTL_TIMEOUT_S		60
#define CTL_MAX_ARGS		2
#define CTL_MAX_OPTS		12

enum ctl_type {
	CTL_STRING,
	CTL_INT,		/* checked to be an integer, sent as a number */
	CTL_BOOL,		/* a flag without value, sent as true */
	CTL_DATE,		/* YYYY-MM-DD, sent as given: dsrd checks it */
	CTL_LIST,		/* "a, b": an array of strings, split at ',' */
};

struct ctl_arg {
	const char	*name;		/* in the synopsis: "ID" */
	const char	*param;
	enum ctl_type	 type;
};

struct ctl_opt {
	const char	*flag;		/* without the leading "--" */
	const char	*param;
	enum ctl_type	 type;
	int		 required;
	const char	*metavar;	/* in the synopsis; unused for bool */
};

struct ctl;

struct ctl_cmd {
	const char	*name;		/* one or two words: "entity add" */
	const char	*method;
	const char	*summary;
	struct ctl_arg	 args[CTL_MAX_ARGS];	/* all required, in order */
	struct ctl_opt	 opts[CTL_MAX_OPTS];
	/* Prints a result for people; returns the exit code. */
	int		(*print)(const cJSON *);
	/* A command that is more than one request (ropa import): runs it
	   all, prints, and returns the exit code. */
	int		(*run)(const struct ctl *, const char *socket);
};

/* What the command line asked for. */
struct ctl {
	const char		*socket;
	int			 json;
	int			 help;
	int			 version;
	const struct ctl_cmd	*cmd;
	const char		*args[CTL_MAX_ARGS];
	size_t			 nargs;
	const char		*opts[CTL_MAX_OPTS];
};

/* dsrctl.c: the commands, in the order of --help. */
extern const struct ctl_cmd	ctl_cmds[];
extern const size_t		ctl_ncmds;

/* ctl-argv.c: the command line and the request it makes. */
int		 ctl_parse(struct ctl *, int argc, char **argv, char **cause);
int		 argv_wants_json(int argc, char **argv);
void		 usage_all(FILE *);
void		 usage_cmd(FILE *, const struct ctl_cmd *, int full);
char		*ctl_request(const struct ctl *);
const char	*ctl_optval(const struct ctl *, const char *flag);

/*
 * ctl-conn.c: one connection to dsrd for one or more requests in turn (an
 * import sends its batches on one, so that dsrd sees one client). Each
 * exchange sends a line and reads the one answer line; bytes read past it
 * stay in `in`.
 */
struct ctl_link {
	int		 fd;
	int		 timeout;	/* ms, for each exchange */
	struct buf	 in;
	long long	 next_id;
};
int	 ctl_open(struct ctl_link *, const char *path, int *code,
	    char **cause);
void	 ctl_close(struct ctl_link *);
int	 ctl_send(struct ctl_link *, const char *line, int *code,
	    char **cause);
int	 ctl_recv(struct ctl_link *, struct buf *reply, int *code,
	    char **cause);
int	 ctl_exchange(struct ctl_link *, const char *line, struct buf *reply,
	    int *code, char **cause);
int	 ctl_call(const char *path, const char *line, struct buf *reply,
	    int *code, char **cause);
int	 rpc_split(const struct buf *reply, cJSON **res, cJSON **err);

/* ctl-print.c: text for a terminal, tables, fields, JSON and errors. */
struct table {
	size_t		  ncols;
	const char	**heads;
	const int	 *right;	/* right-aligned columns, or NULL */
	char		**cells;
	size_t		  ncells;
	size_t		  cap;
};
char		*clean(char *, int keep_nl);
char		*truncate_u8(char *, size_t max);
const cJSON	*jget(const cJSON *, const char *key);
char		*jtext(const cJSON *);
char		*jcell(const cJSON *, const char *key);
long long	 jint(const cJSON *, const char *key, long long def);
char		*jjoin(const cJSON *, const char *key, const char *sep);
char		*name_office(const cJSON *);
void		 table_init(struct table *, size_t ncols, const char **heads,
		    const int *right);
void		 table_add(struct table *, char *);
void		 table_print(struct table *, const char *indent);
void		 show_field(const char *label, char *value);
void		 show_member(const char *label, const cJSON *, const char *key);
void		 json_out(cJSON *);
cJSON		*error_obj(int code, const char *msg);
int		 ctl_fail(int json, int code, const char *msg);
int		 print_error(int json, cJSON *err);

/* ctl-show.c: an answer for people; each returns the exit code. */
int	 print_ping(const cJSON *);
int	 print_entity_added(const cJSON *);
int	 print_entities(const cJSON *);
int	 print_filed(const cJSON *);
int	 print_request(const cJSON *);
int	 print_requests(const cJSON *);
int	 print_audit(const cJSON *);
int	 print_stats(const cJSON *);
int	 print_outbox(const cJSON *);
int	 print_changed(const cJSON *);
int	 print_staff_added(const cJSON *);
int	 print_staff(const cJSON *);
int	 print_retried(const cJSON *);
int	 print_history(const cJSON *);
int	 print_activities(const cJSON *);
int	 print_activity(const cJSON *);
int	 print_tasks(const cJSON *);
int	 print_task(const cJSON *);
int	 print_generic(const cJSON *);

/* ctl-ropa.c: ropa import, the one command that is many requests. */
int	 run_ropa_import(const struct ctl *, const char *socket);

#endif
