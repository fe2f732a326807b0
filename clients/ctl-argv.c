/*
 * ctl-argv.c: the command line of dsrctl read against the table of
 * commands: the command's words, its arguments and options, the global
 * options before or after it, --help and its usage lines, and the one
 * JSON-RPC request line it makes. It must never check a value beyond its
 * shape (an integer is an integer; a date, a code, an address are dsrd's
 * to judge), never talk to dsrd, and never print on stdout but help.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "proto.h"
#include "util.h"

#include "dsrctl.h"

/* Column of the summary in the command list of --help. */
#define CTL_HELP_COL		30

/* -------------------------------------------------------------------- */
/* Help. */

static size_t
cmd_nargs(const struct ctl_cmd *c)
{
	size_t	n = 0;

	while (n < CTL_MAX_ARGS && c->args[n].name != NULL)
		n++;
	return n;
}

static size_t
cmd_nopts(const struct ctl_cmd *c)
{
	size_t	n = 0;

	while (n < CTL_MAX_OPTS && c->opts[n].flag != NULL)
		n++;
	return n;
}

/* "entity add CODE --name NAME [--email E]". Caller frees. */
static char *
cmd_synopsis(const struct ctl_cmd *c)
{
	struct buf	 b;
	size_t		 i;

	buf_init(&b);
	buf_adds(&b, c->name);
	for (i = 0; i < cmd_nargs(c); i++)
		buf_addf(&b, " %s", c->args[i].name);
	for (i = 0; i < cmd_nopts(c); i++) {
		const struct ctl_opt	*o = &c->opts[i];

		buf_adds(&b, o->required ? " " : " [");
		buf_addf(&b, "--%s", o->flag);
		if (o->type != CTL_BOOL)
			buf_addf(&b, " %s", o->metavar);
		if (!o->required)
			buf_adds(&b, "]");
	}
	return buf_take(&b);
}

void
usage_all(FILE *f)
{
	fprintf(f, "usage: dsrctl [--socket PATH] [--json] COMMAND [ARGS]\n"
	    "\nCommands:\n");
	for (size_t i = 0; i < ctl_ncmds; i++) {
		char	*s = cmd_synopsis(&ctl_cmds[i]);
		int	 w = (int)strlen(s);

		if (w + 2 < CTL_HELP_COL)
			fprintf(f, "  %s%*s%s\n", s, CTL_HELP_COL - w - 2, "",
			    ctl_cmds[i].summary);
		else
			fprintf(f, "  %s\n%*s%s\n", s, CTL_HELP_COL, "",
			    ctl_cmds[i].summary);
		free(s);
	}
	fprintf(f, "  %-*s%s\n", CTL_HELP_COL - 2, "help [COMMAND]",
	    "this list, or one command's usage");
	fprintf(f, "\nOptions (before or after the command):\n"
	    "  --socket PATH  dsrd's socket; else $DSRD_SOCKET, else %s\n"
	    "  --json         print one JSON document: the result, or "
	    "{\"error\": {...}}\n"
	    "  --version      print the version\n"
	    "  --help         print this help\n"
	    "Options take their value as --opt VALUE or --opt=VALUE.\n"
	    "$DSRCTL_TIMEOUT: seconds to wait for dsrd (default %d).\n"
	    "\nExit status: 0 done, 1 not found, 64 usage error, 65 invalid "
	    "input or action\nnot allowed now, 69 dsrd or its database "
	    "unavailable, 77 permission denied.\n",
	    PROTO_DEFAULT_SOCKET, CTL_TIMEOUT_S);
}

void
usage_cmd(FILE *f, const struct ctl_cmd *c, int full)
{
	char	*s = cmd_synopsis(c);

	fprintf(f, "usage: dsrctl [--socket PATH] [--json] %s\n", s);
	if (full)
		fprintf(f, "%s (method %s)\n", c->summary, c->method);
	free(s);
}

/* -------------------------------------------------------------------- */
/* The command line. */

/*
 * Finds the command named by the words at argv[0..argc). Returns it and the
 * number of words it took, or NULL and why. Two-word names are tried first.
 */
static const struct ctl_cmd *
cmd_find(int argc, char **argv, int *nwords, char **cause)
{
	const char	*group = NULL;
	struct buf	 b;
	size_t		 i, len;

	for (i = 0; i < ctl_ncmds; i++) {
		const char	*sp = strchr(ctl_cmds[i].name, ' ');

		if (sp == NULL) {
			if (strcmp(ctl_cmds[i].name, argv[0]) == 0) {
				*nwords = 1;
				return &ctl_cmds[i];
			}
			continue;
		}
		len = (size_t)(sp - ctl_cmds[i].name);
		if (strncmp(ctl_cmds[i].name, argv[0], len) != 0 ||
		    argv[0][len] != '\0')
			continue;
		group = ctl_cmds[i].name;
		if (argc > 1 && strcmp(sp + 1, argv[1]) == 0) {
			*nwords = 2;
			return &ctl_cmds[i];
		}
	}
	if (group == NULL) {
		char	*w = clean(xstrdup(argv[0]), 0);

		*cause = xasprintf("unknown command '%s'", w);
		free(w);
		return NULL;
	}
	/* Name the subcommands the group has. */
	buf_init(&b);
	len = (size_t)(strchr(group, ' ') - group);
	for (i = 0; i < ctl_ncmds; i++) {
		if (strncmp(ctl_cmds[i].name, group, len + 1) != 0)
			continue;
		buf_addf(&b, "%s%s", b.len ? ", " : "", ctl_cmds[i].name);
	}
	if (argc > 1) {
		char	*w = clean(xstrdup(argv[1]), 0);

		*cause = xasprintf("unknown command '%.*s %s' (there are: %s)",
		    (int)len, group, w, b.data);
		free(w);
	} else
		*cause = xasprintf("missing subcommand after '%.*s' "
		    "(there are: %s)", (int)len, group, b.data);
	buf_free(&b);
	return NULL;
}

/*
 * The global options, valid before and after the command. Returns 1 if
 * argv[*i] was one (and consumed it and its value), 0 if not, -1 on error.
 */
static int
parse_global(struct ctl *ctl, int argc, char **argv, int *i, char **cause)
{
	const char	*a = argv[*i];

	if (strcmp(a, "--json") == 0)
		ctl->json = 1;
	else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
		ctl->help = 1;
	else if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0)
		ctl->version = 1;
	else if (strncmp(a, "--socket=", 9) == 0)
		ctl->socket = a + 9;
	else if (strcmp(a, "--socket") == 0) {
		if (*i + 1 >= argc) {
			*cause = xstrdup("option --socket needs a value");
			return -1;
		}
		ctl->socket = argv[++*i];
	} else
		return 0;
	return 1;
}

/* One option of the command at argv[*i]. Returns 1, 0 (not one), -1. */
static int
parse_opt(struct ctl *ctl, int argc, char **argv, int *i, char **cause)
{
	const struct ctl_cmd	*c = ctl->cmd;
	const char		*a = argv[*i] + 2, *eq = strchr(a, '=');
	size_t			 len = eq ? (size_t)(eq - a) : strlen(a);
	const char		*val;
	long long		 n;

	for (size_t k = 0; k < cmd_nopts(c); k++) {
		const struct ctl_opt	*o = &c->opts[k];

		if (strlen(o->flag) != len || strncmp(o->flag, a, len) != 0)
			continue;
		if (o->type == CTL_BOOL) {
			if (eq != NULL) {
				*cause = xasprintf("option --%s takes no "
				    "value", o->flag);
				return -1;
			}
			ctl->opts[k] = "";
			return 1;
		}
		if (eq != NULL)
			val = eq + 1;
		else if (*i + 1 < argc)
			val = argv[++*i];
		else {
			*cause = xasprintf("option --%s needs a value",
			    o->flag);
			return -1;
		}
		if (o->type == CTL_INT &&
		    parse_int(val, LLONG_MIN, LLONG_MAX, &n) == -1) {
			char	*w = clean(xstrdup(val), 0);

			*cause = xasprintf("option --%s: '%s' is not an "
			    "integer", o->flag, w);
			free(w);
			return -1;
		}
		ctl->opts[k] = val;
		return 1;
	}
	return 0;
}

static int
parse_arg(struct ctl *ctl, const char *a, char **cause)
{
	const struct ctl_arg	*d;
	long long		 n;
	char			*w;

	if (ctl->nargs >= cmd_nargs(ctl->cmd)) {
		w = clean(xstrdup(a), 0);
		*cause = xasprintf("unexpected argument '%s'", w);
		free(w);
		return -1;
	}
	d = &ctl->cmd->args[ctl->nargs];
	if (d->type == CTL_INT &&
	    parse_int(a, LLONG_MIN, LLONG_MAX, &n) == -1) {
		w = clean(xstrdup(a), 0);
		*cause = xasprintf("%s: '%s' is not an integer", d->name, w);
		free(w);
		return -1;
	}
	ctl->args[ctl->nargs++] = a;
	return 0;
}

/* Fills ctl from argv. Returns 0, or -1 and why (a usage error). */
int
ctl_parse(struct ctl *ctl, int argc, char **argv, char **cause)
{
	int	 i = 1, nwords, dashdash = 0, rc;
	size_t	 k;

	memset(ctl, 0, sizeof *ctl);
	for (; i < argc; i++) {
		const char	*a = argv[i];

		if (strcmp(a, "--") == 0) {
			i++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		if ((rc = parse_global(ctl, argc, argv, &i, cause)) == -1)
			return -1;
		if (rc == 0) {
			char	*w = clean(xstrdup(a), 0);

			*cause = xasprintf("unknown option '%s'", w);
			free(w);
			return -1;
		}
	}
	if (i >= argc) {
		if (ctl->help || ctl->version)
			return 0;
		*cause = xstrdup("no command given");
		return -1;
	}
	if (strcmp(argv[i], "help") == 0) {
		ctl->help = 1;
		if (++i >= argc)
			return 0;
	}
	if ((ctl->cmd = cmd_find(argc - i, argv + i, &nwords, cause)) == NULL)
		return -1;
	for (i += nwords; i < argc; i++) {
		const char	*a = argv[i];

		/* "-5" is a (bad) ID for dsrd to refuse, not an option. */
		if (dashdash || a[0] != '-' || a[1] == '\0' ||
		    (a[1] >= '0' && a[1] <= '9')) {
			if (parse_arg(ctl, a, cause) == -1)
				return -1;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			dashdash = 1;
			continue;
		}
		/* The command's own options shadow the global ones. */
		rc = a[1] == '-' ? parse_opt(ctl, argc, argv, &i, cause) : 0;
		if (rc == 0)
			rc = parse_global(ctl, argc, argv, &i, cause);
		if (rc == -1)
			return -1;
		if (rc == 0) {
			char	*w = clean(xstrdup(a), 0);

			*cause = xasprintf("unknown option '%s' for '%s'", w,
			    ctl->cmd->name);
			free(w);
			return -1;
		}
	}
	if (ctl->help)
		return 0;
	if (ctl->nargs < cmd_nargs(ctl->cmd)) {
		*cause = xasprintf("missing argument %s",
		    ctl->cmd->args[ctl->nargs].name);
		return -1;
	}
	for (k = 0; k < cmd_nopts(ctl->cmd); k++) {
		if (ctl->cmd->opts[k].required && ctl->opts[k] == NULL) {
			*cause = xasprintf("missing required option --%s",
			    ctl->cmd->opts[k].flag);
			return -1;
		}
	}
	return 0;
}

/* "a, b,,c" as ["a", "b", "c"]: items trimmed, empty ones dropped. */
static cJSON *
list_value(const char *s)
{
	cJSON		*a = cJSON_CreateArray();
	const char	*p = s, *comma;

	for (;;) {
		char	*item;

		comma = strchr(p, ',');
		item = comma != NULL ? xstrndup(p, (size_t)(comma - p)) :
		    xstrdup(p);
		if (*str_trim(item) != '\0')
			cJSON_AddItemToArray(a, cJSON_CreateString(
			    str_trim(item)));
		free(item);
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return a;
}

/* A value from the command line as JSON; its syntax was checked. */
static cJSON *
param_value(enum ctl_type type, const char *s)
{
	long long	 n;
	char		 num[32];

	switch (type) {
	case CTL_INT:
		/* Raw, so that a large integer is not rounded to a double. */
		if (parse_int(s, LLONG_MIN, LLONG_MAX, &n) == -1)
			n = 0;
		snprintf(num, sizeof num, "%lld", n);
		return cJSON_CreateRaw(num);
	case CTL_BOOL:
		return cJSON_CreateTrue();
	case CTL_STRING:
	case CTL_DATE:
		return cJSON_CreateString(s);
	case CTL_LIST:
		return list_value(s);
	}
	return cJSON_CreateNull();
}

/* The request line, without its LF. Caller frees. */
char *
ctl_request(const struct ctl *ctl)
{
	const struct ctl_cmd	*c = ctl->cmd;
	cJSON			*req, *params;
	char			*p, *line;
	size_t			 k;

	if ((req = cJSON_CreateObject()) == NULL ||
	    (params = cJSON_CreateObject()) == NULL) {
		fputs("dsrctl: out of memory\n", stderr);
		abort();
	}
	cJSON_AddStringToObject(req, "jsonrpc", PROTO_VERSION);
	cJSON_AddNumberToObject(req, "id", 1);
	cJSON_AddStringToObject(req, "method", c->method);
	for (k = 0; k < ctl->nargs; k++)
		cJSON_AddItemToObject(params, c->args[k].param,
		    param_value(c->args[k].type, ctl->args[k]));
	for (k = 0; k < cmd_nopts(c); k++) {
		if (ctl->opts[k] != NULL)
			cJSON_AddItemToObject(params, c->opts[k].param,
			    param_value(c->opts[k].type, ctl->opts[k]));
	}
	if (cJSON_GetArraySize(params) > 0)
		cJSON_AddItemToObject(req, "params", params);
	else
		cJSON_Delete(params);
	if ((p = cJSON_PrintUnformatted(req)) == NULL) {
		fputs("dsrctl: out of memory\n", stderr);
		abort();
	}
	line = xstrdup(p);
	cJSON_free(p);
	cJSON_Delete(req);
	return line;
}

/* Under --json, are we asked for JSON even if parsing stopped early? */
int
argv_wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--json") == 0)
			return 1;
	return 0;
}

/* The value of one of the command's options, by flag, or NULL. */
const char *
ctl_optval(const struct ctl *ctl, const char *flag)
{
	for (size_t k = 0; k < cmd_nopts(ctl->cmd); k++)
		if (strcmp(ctl->cmd->opts[k].flag, flag) == 0)
			return ctl->opts[k];
	return NULL;
}
