/*
 * config.c: reads dsrd.conf. One table of keys (cf_keys below) drives the
 * defaults, the parsing and checking of every value, the list of keys that a
 * reload cannot change, and what config_to_json shows; the type of a key
 * decides how its text is parsed, stored, compared and shown. A load parses
 * into a private struct and hands it over only when the whole file is good,
 * so a failed reload leaves the running config as it was. A CF_FILE key
 * names a file that holds the value of another key (a webhook's secret
 * through systemd's LoadCredential=); the file is read at every load, so a
 * reload picks up a new one. It must never echo a value into a cause or a
 * log (a value may be a secret; a CF_FILE key's path is named, never the
 * file's bytes) and never show a secret key in config_to_json.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cJSON.h>
#include <ini.h>

#include "config.h"
#include "proto.h"
#include "util.h"
#include "validate.h"

/*
 * Longest line we accept. inih's own default (200 bytes) is too short for a
 * multi-host conninfo or a long access list; Debian's libinih is built with
 * INI_RUNTIME_OPTIONS, so the limit is a variable we can raise.
 */
#define CF_MAX_LINE	4096
#define CF_ZONEINFO	"/usr/share/zoneinfo"
#define CF_SOCK_MAX	107	/* sizeof sun_path - 1 */
#define CF_NAME_MAX	64	/* a webhook NAME, an access list item */

#define MIN_S		60
#define HOUR_S		3600
#define DAY_S		86400

enum cf_type {
	CF_STRING,	/* single-line text of min..max characters */
	CF_INT,		/* decimal integer in min..max */
	CF_BOOL,
	CF_MODE,	/* octal file mode 0..0777 */
	CF_DURATION,	/* seconds in min..max: "30", "5s", "10m", "1d" */
	CF_TIME,	/* "HH:MM", stored as minutes after midnight */
	CF_ENUM,	/* one of choices, any case, stored as listed */
	CF_REQ_TYPES,	/* comma list of request types, as a bit set */
	CF_WARN_DAYS,	/* comma list of days before a due date */
	CF_TIMEZONE,	/* a zone in the system's zoneinfo */
	CF_EMAIL,	/* an address, or "" */
	CF_ACCESS,	/* comma list of user names and @groups */
	CF_SMTP_URL,	/* "" or smtp:// / smtps:// */
	CF_HTTP_URL,	/* http:// or https:// */
	CF_WH_SECRET,	/* whsec_ + base64 */
	CF_EVENTS,	/* "*", "" or comma list of events, as a bit set */
	CF_FILE,	/* path of a file holding the value of the key whose
			   field is at off_n; the two are alternatives */
};

#define CF_RELOAD	0x01	/* may change on SIGHUP */
#define CF_SECRET	0x02	/* never shown by config_to_json */
#define CF_REQUIRED	0x04	/* must be set in the file (webhooks) */
#define CF_WEBHOOK	0x08	/* a key of [webhook NAME]: off is into
				   struct webhook_conf */
#define CF_BYTES	0x10	/* CF_STRING: max bounds the bytes too (a
				   path that must fit sun_path) */

struct cf_key {
	const char		*section;
	const char		*name;
	enum cf_type		 type;
	const char		*def;	/* NULL: none (CF_REQUIRED) */
	long long		 min;
	long long		 max;
	const char *const	*choices;	/* CF_ENUM, NULL ends */
	int			 flags;
	size_t			 off;
	size_t			 off_n;	/* CF_WARN_DAYS: count; CF_FILE:
					   the key the file holds */
};

static const char *const cf_languages[] = { "it", "en", NULL };
static const char *const cf_log_levels[] = {
	"error", "warn", "info", "debug", NULL
};

#define C(f)	offsetof(struct config, f)
#define W(f)	offsetof(struct webhook_conf, f)
#define R	CF_RELOAD

static const struct cf_key cf_keys[] = {
	{ "daemon", "socket", CF_STRING, PROTO_DEFAULT_SOCKET, 1, CF_SOCK_MAX,
	    NULL, CF_BYTES, C(socket), 0 },
	{ "daemon", "socket_mode", CF_MODE, "0660", 0, 0777,
	    NULL, 0, C(socket_mode), 0 },
	{ "daemon", "language", CF_ENUM, "it", 0, 0,
	    cf_languages, R, C(language), 0 },
	{ "daemon", "log_level", CF_ENUM, "info", 0, 0,
	    cf_log_levels, R, C(log_level), 0 },
	{ "daemon", "max_clients", CF_INT, "256", 1, 65536,
	    NULL, R, C(max_clients), 0 },
	{ "daemon", "max_clients_per_uid", CF_INT, "32", 1, 65536,
	    NULL, R, C(max_clients_per_uid), 0 },
	{ "daemon", "idle_timeout", CF_DURATION, "600s", 0, 7 * DAY_S,
	    NULL, R, C(idle_timeout), 0 },
	{ "daemon", "shutdown_grace", CF_DURATION, "10s", 0, HOUR_S,
	    NULL, R, C(shutdown_grace), 0 },

	/* A conninfo may carry password=..., so ping never shows it. */
	{ "database", "conninfo", CF_STRING, "", 0, CF_MAX_LINE,
	    NULL, CF_SECRET, C(conninfo), 0 },
	{ "database", "pool_size", CF_INT, "4", 1, 32,
	    NULL, 0, C(pool_size), 0 },

	{ "deadlines", "timezone", CF_TIMEZONE, "Europe/Rome", 0, 0,
	    NULL, 0, C(timezone), 0 },
	{ "deadlines", "forward_days", CF_INT, "10", 1, 365,
	    NULL, R, C(forward_days), 0 },
	{ "deadlines", "forward_types", CF_REQ_TYPES, "rectification,erasure",
	    0, 0, NULL, R, C(forward_types), 0 },
	{ "deadlines", "warn_days", CF_WARN_DAYS, "3,1", 1, 60,
	    NULL, R, C(warn_days), C(n_warn_days) },
	{ "deadlines", "alert_time", CF_TIME, "09:00", 0, 0,
	    NULL, R, C(alert_time), 0 },
	{ "deadlines", "extension_decision_days", CF_INT, "5", 0, 27,
	    NULL, R, C(extension_decision_days), 0 },
	{ "deadlines", "pause_on_await", CF_BOOL, "true", 0, 0,
	    NULL, R, C(pause_on_await), 0 },

	{ "smtp", "url", CF_SMTP_URL, "", 0, 0,
	    NULL, R, C(smtp_url), 0 },
	{ "smtp", "from", CF_EMAIL, "", 0, 0,
	    NULL, R, C(smtp_from), 0 },
	{ "smtp", "username", CF_STRING, "", 0, 256,
	    NULL, R, C(smtp_username), 0 },
	{ "smtp", "password_file", CF_STRING, "", 0, CF_MAX_LINE,
	    NULL, R, C(smtp_password_file), 0 },
	{ "smtp", "starttls", CF_BOOL, "false", 0, 0,
	    NULL, R, C(smtp_starttls), 0 },
	{ "smtp", "timeout", CF_DURATION, "30s", 1, HOUR_S,
	    NULL, R, C(smtp_timeout), 0 },

	{ "dpo", "email", CF_EMAIL, "", 0, 0,
	    NULL, R, C(dpo_email), 0 },
	{ "dpo", "name", CF_STRING, "", 0, 200,
	    NULL, R, C(dpo_name), 0 },

	{ "notify", "include_subject_name", CF_BOOL, "false", 0, 0,
	    NULL, R, C(include_subject_name), 0 },
	{ "notify", "retry_min", CF_DURATION, "5s", 1, DAY_S,
	    NULL, R, C(retry_min), 0 },
	{ "notify", "retry_max", CF_DURATION, "1h", 1, 30 * DAY_S,
	    NULL, R, C(retry_max), 0 },
	{ "notify", "max_age", CF_DURATION, "5d", 1, 365 * DAY_S,
	    NULL, R, C(max_age), 0 },
	{ "notify", "templates", CF_STRING, DSR_TEMPLATES_DIR, 1, CF_MAX_LINE,
	    NULL, R, C(templates), 0 },
	{ "notify", "webhook_timeout", CF_DURATION, "10s", 1, 300,
	    NULL, R, C(webhook_timeout), 0 },

	{ "access", "dpo", CF_ACCESS, "", 0, 0,
	    NULL, R, C(access_dpo), 0 },
	{ "access", "clerk", CF_ACCESS, "", 0, 0,
	    NULL, R, C(access_clerk), 0 },
	{ "access", "staff", CF_ACCESS, "", 0, 0,
	    NULL, R, C(access_staff), 0 },
	{ "access", "operator", CF_ACCESS, "", 0, 0,
	    NULL, R, C(access_operator), 0 },

	{ "webhook", "url", CF_HTTP_URL, NULL, 0, 0,
	    NULL, R | CF_REQUIRED | CF_WEBHOOK, W(url), 0 },
	{ "webhook", "secret", CF_WH_SECRET, NULL, 0, 0,
	    NULL, R | CF_REQUIRED | CF_WEBHOOK | CF_SECRET, W(secret), 0 },
	/* The path is not secret (config_to_json shows it); what the file
	   holds is stored as secret, and checked as secret is. */
	{ "webhook", "secret_file", CF_FILE, NULL, 1, CF_MAX_LINE,
	    NULL, R | CF_WEBHOOK, W(secret_file), W(secret) },
	{ "webhook", "events", CF_EVENTS, "*", 0, 0,
	    NULL, R | CF_WEBHOOK, W(events), 0 },
};

#undef C
#undef W
#undef R

#define CF_NKEYS	nitems(cf_keys)

/* A parsed value, before it is stored. */
union cf_value {
	char		*s;
	int		 i;
	unsigned	 u;
	struct {
		int	 n;
		int	 d[CONFIG_MAX_WARN_DAYS];
	}		 w;
};

static int
cf_is_string(enum cf_type t)
{
	switch (t) {
	case CF_STRING:
	case CF_ENUM:
	case CF_TIMEZONE:
	case CF_EMAIL:
	case CF_ACCESS:
	case CF_SMTP_URL:
	case CF_HTTP_URL:
	case CF_WH_SECRET:
	case CF_FILE:
		return 1;
	case CF_INT:
	case CF_BOOL:
	case CF_MODE:
	case CF_DURATION:
	case CF_TIME:
	case CF_REQ_TYPES:
	case CF_WARN_DAYS:
	case CF_EVENTS:
		return 0;
	}
	return 0;
}

static void *
cf_ptr(const void *base, size_t off)
{
	return (char *)(uintptr_t)base + off;
}

/* "5d", "1h", "30s": the largest unit that divides a duration exactly. */
static void
cf_fmt_duration(long long s, char *out, size_t len)
{
	if (s == 0)
		snprintf(out, len, "0");
	else if (s % DAY_S == 0)
		snprintf(out, len, "%lldd", s / DAY_S);
	else if (s % HOUR_S == 0)
		snprintf(out, len, "%lldh", s / HOUR_S);
	else if (s % MIN_S == 0)
		snprintf(out, len, "%lldm", s / MIN_S);
	else
		snprintf(out, len, "%llds", s);
}

/*
 * Splits a comma list in place into trimmed items (*items points into s;
 * caller frees the array). An all-blank list has no items. Returns the
 * count, or -1 when an item is empty ("a,,b", "a,").
 */
static int
cf_items(char *s, char ***items)
{
	char	*p, *comma, *item;
	int	 n = 0;

	*items = NULL;
	p = str_trim(s);
	if (*p == '\0')
		return 0;
	for (;;) {
		comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		item = str_trim(p);
		if (*item == '\0') {
			free(*items);
			*items = NULL;
			return -1;
		}
		*items = xreallocarray(*items, (size_t)n + 1, sizeof **items);
		(*items)[n++] = item;
		if (comma == NULL)
			return n;
		p = comma + 1;
	}
}

static int
cf_parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };

	for (size_t i = 0; i < nitems(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

static int
cf_parse_mode(const char *s, int *out)
{
	size_t	 n = strlen(s);
	int	 v = 0;

	if (n == 0 || n > 4)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '7')
			return -1;
		v = v * 8 + (s[i] - '0');
	}
	if (v > 0777)
		return -1;
	*out = v;
	return 0;
}

static int
cf_parse_duration(const char *s, long long min, long long max, int *out)
{
	long long	 v = 0, unit = 1;
	const char	*p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	while (isdigit((unsigned char)*p)) {
		v = v * 10 + (*p++ - '0');
		if (v > max)
			return -1;
	}
	switch (*p) {
	case '\0':
		break;
	case 's':
		unit = 1;
		p++;
		break;
	case 'm':
		unit = MIN_S;
		p++;
		break;
	case 'h':
		unit = HOUR_S;
		p++;
		break;
	case 'd':
		unit = DAY_S;
		p++;
		break;
	default:
		return -1;
	}
	if (*p != '\0')
		return -1;
	v *= unit;
	if (v < min || v > max)
		return -1;
	*out = (int)v;
	return 0;
}

static int
cf_parse_time(const char *s, int *out)
{
	int	 h, m;

	if (!isdigit((unsigned char)s[0]))
		return -1;
	h = s[0] - '0';
	s++;
	if (isdigit((unsigned char)*s))
		h = h * 10 + (*s++ - '0');
	if (s[0] != ':' || !isdigit((unsigned char)s[1]) ||
	    !isdigit((unsigned char)s[2]) || s[3] != '\0')
		return -1;
	m = (s[1] - '0') * 10 + (s[2] - '0');
	if (h > 23 || m > 59)
		return -1;
	*out = h * 60 + m;
	return 0;
}

/* A bit set of names from a table, no name twice. */
static int
cf_parse_set(const char *s, const char *const *names, int n, unsigned *out)
{
	char		*copy = xstrdup(s), **items;
	int		 count, idx, rc = 0;
	unsigned	 set = 0;

	count = cf_items(copy, &items);
	if (count < 0)
		rc = -1;
	for (int i = 0; rc == 0 && i < count; i++) {
		idx = val_lookup(items[i], names, n);
		if (idx < 0 || (set & (1u << idx)))
			rc = -1;
		else
			set |= 1u << idx;
	}
	free(items);
	free(copy);
	if (rc == 0)
		*out = set;
	return rc;
}

static int
cf_parse_warn_days(const char *s, int min, int max, union cf_value *v)
{
	char		*copy = xstrdup(s), **items;
	int		 count, rc = 0, tmp;
	long long	 d;

	count = cf_items(copy, &items);
	if (count < 0 || count > CONFIG_MAX_WARN_DAYS)
		rc = -1;
	v->w.n = 0;
	for (int i = 0; rc == 0 && i < count; i++) {
		if (parse_int(items[i], min, max, &d) == -1) {
			rc = -1;
			break;
		}
		for (int j = 0; j < v->w.n; j++)
			if (v->w.d[j] == (int)d)
				rc = -1;
		v->w.d[v->w.n++] = (int)d;
	}
	free(items);
	free(copy);
	if (rc == -1)
		return -1;
	/* Descending: the scheduler walks them from the earliest alert. */
	for (int i = 1; i < v->w.n; i++)
		for (int j = i; j > 0 && v->w.d[j - 1] < v->w.d[j]; j--) {
			tmp = v->w.d[j];
			v->w.d[j] = v->w.d[j - 1];
			v->w.d[j - 1] = tmp;
		}
	return 0;
}

/*
 * A zone name that cannot leave the zoneinfo tree, naming a TZif file.
 * check_file is off for the built-in default, so that config_defaults does
 * not depend on the machine (cal_set_timezone checks again at start).
 */
static int
cf_check_timezone(const char *s, int check_file)
{
	const char	*p;
	char		*path, magic[4];
	int		 fd;
	ssize_t		 n;
	struct stat	 st;

	if (*s == '\0' || strlen(s) > 200)
		return -1;
	for (p = s; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr("/_+-.", *p) == NULL)
			return -1;
		/* Every component is non-empty and does not start with '.'. */
		if ((p == s || p[-1] == '/') && (*p == '/' || *p == '.'))
			return -1;
	}
	if (p[-1] == '/')
		return -1;
	if (!check_file)
		return 0;
	path = xasprintf("%s/%s", CF_ZONEINFO, s);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	free(path);
	if (fd == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -1;
	}
	n = read(fd, magic, sizeof magic);
	close(fd);
	if (n != sizeof magic || memcmp(magic, "TZif", 4) != 0)
		return -1;
	return 0;
}

static int
cf_access_item(const char *s)
{
	size_t	 n = 0;

	if (*s == '@')
		s++;
	for (; s[n] != '\0'; n++)
		if (!isalnum((unsigned char)s[n]) &&
		    strchr("._-", s[n]) == NULL)
			return -1;
	if (n == 0 || n > CF_NAME_MAX)
		return -1;
	return 0;
}

/* Canonical form: items joined by "," without blanks. */
static char *
cf_parse_access(const char *s)
{
	char		*copy = xstrdup(s), **items;
	int		 count;
	struct buf	 b;

	buf_init(&b);
	count = cf_items(copy, &items);
	for (int i = 0; i < count; i++) {
		if (cf_access_item(items[i]) == -1) {
			count = -1;
			break;
		}
		buf_addf(&b, "%s%s", i ? "," : "", items[i]);
	}
	free(items);
	free(copy);
	if (count < 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_take(&b);
}

/* scheme://host... with no blanks or control characters. */
static int
cf_check_url(const char *s, const char *const *schemes)
{
	const char	*rest = NULL;
	size_t		 n;

	for (; *schemes != NULL; schemes++) {
		n = strlen(*schemes);
		if (strncasecmp(s, *schemes, n) == 0) {
			rest = s + n;
			break;
		}
	}
	if (rest == NULL || *rest == '\0' || *rest == '/' || *rest == '?' ||
	    *rest == '#')
		return -1;
	for (const char *p = rest; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return -1;
	return 0;
}

static int
cf_check_smtp_url(const char *s)
{
	static const char *const schemes[] = { "smtp://", "smtps://", NULL };
	const char	*host;
	size_t		 authority;

	if (*s == '\0')
		return 0;
	if (cf_check_url(s, schemes) == -1)
		return -1;
	/* Credentials in the URL would show in ping: they belong in
	   username and password_file. */
	host = strstr(s, "://") + 3;
	authority = strcspn(host, "/?#");
	if (memchr(host, '@', authority) != NULL)
		return -1;
	return 0;
}

static int
cf_check_secret(const char *s)
{
	size_t	 n, pad = 0;

	if (strncmp(s, "whsec_", 6) != 0)
		return -1;
	s += 6;
	n = strlen(s);
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=') {
			pad++;
			continue;
		}
		if (pad > 0 || (!isalnum((unsigned char)s[i]) && s[i] != '+' &&
		    s[i] != '/'))
			return -1;
	}
	if (pad > 2 || pad == n)
		return -1;
	return 0;
}

/* What a good value of the key looks like, for a cause. Heap string. */
static char *
cf_rule(const struct cf_key *k)
{
	char		 lo[32], hi[32];
	struct buf	 b;

	switch (k->type) {
	case CF_STRING:
		return xasprintf("not %lld..%lld characters of single-line "
		    "text", k->min, k->max);
	case CF_INT:
		return xasprintf("not an integer in %lld..%lld", k->min,
		    k->max);
	case CF_BOOL:
		return xstrdup("not a boolean (true/false, yes/no, on/off, "
		    "1/0)");
	case CF_MODE:
		return xstrdup("not an octal file mode 0..0777");
	case CF_DURATION:
		cf_fmt_duration(k->min, lo, sizeof lo);
		cf_fmt_duration(k->max, hi, sizeof hi);
		return xasprintf("not a duration in %s..%s (seconds, or a "
		    "number followed by s, m, h or d)", lo, hi);
	case CF_TIME:
		return xstrdup("not a time of day HH:MM");
	case CF_ENUM:
		buf_init(&b);
		buf_adds(&b, "not one of ");
		for (int i = 0; k->choices[i] != NULL; i++)
			buf_addf(&b, "%s%s", i ? ", " : "", k->choices[i]);
		return buf_take(&b);
	case CF_REQ_TYPES:
		buf_init(&b);
		buf_adds(&b, "not a comma list of distinct request types (");
		for (int i = 0; i < REQ_TYPE_COUNT; i++)
			buf_addf(&b, "%s%s", i ? ", " : "", req_type_names[i]);
		buf_adds(&b, ")");
		return buf_take(&b);
	case CF_WARN_DAYS:
		return xasprintf("not a comma list of at most %d distinct days "
		    "%lld..%lld", CONFIG_MAX_WARN_DAYS, k->min, k->max);
	case CF_TIMEZONE:
		return xstrdup("not a time zone of " CF_ZONEINFO);
	case CF_EMAIL:
		return xstrdup("not an e-mail address");
	case CF_ACCESS:
		return xasprintf("not a comma list of user names and @groups "
		    "(1..%d of A-Z a-z 0-9 . _ -)", CF_NAME_MAX);
	case CF_SMTP_URL:
		return xstrdup("not an smtp:// or smtps:// URL without "
		    "credentials (use username and password_file)");
	case CF_HTTP_URL:
		return xstrdup("not an http:// or https:// URL");
	case CF_WH_SECRET:
		return xstrdup("not whsec_ followed by base64");
	case CF_FILE:
		return xasprintf("not a path of 1..%lld characters", k->max);
	case CF_EVENTS:
		buf_init(&b);
		buf_adds(&b, "not * or a comma list of distinct events (");
		for (int i = 0; i < NEV_COUNT; i++)
			buf_addf(&b, "%s%s", i ? ", " : "",
			    notify_event_names[i]);
		buf_adds(&b, ")");
		return buf_take(&b);
	}
	return xstrdup("not a valid value");
}

/*
 * Parses the text of a key into *v (strings on the heap, canonical).
 * Returns 0, or -1 and *cause (the rule, never the value).
 */
static int
cf_parse(const struct cf_key *k, const char *s, int is_default,
    union cf_value *v, char **cause)
{
	static const char *const http[] = { "http://", "https://", NULL };
	long long	 ll;
	int		 rc = 0;
	char		*why = NULL;

	memset(v, 0, sizeof *v);
	switch (k->type) {
	case CF_STRING:
	case CF_FILE:	/* the path; cf_handler reads the file */
		if (k->min > 0 && *s == '\0') {
			*cause = xstrdup("must not be empty");
			return -1;
		}
		if (val_text(s, (size_t)k->max, 0, &why) == -1) {
			*cause = why ? why : cf_rule(k);
			return -1;
		}
		/* val_text counts characters; a non-ASCII one takes up to
		   four bytes of sun_path. */
		if ((k->flags & CF_BYTES) && strlen(s) > (size_t)k->max) {
			*cause = xasprintf("longer than %lld bytes", k->max);
			return -1;
		}
		v->s = xstrdup(s);
		break;
	case CF_INT:
		if (parse_int(s, k->min, k->max, &ll) == -1)
			rc = -1;
		else
			v->i = (int)ll;
		break;
	case CF_BOOL:
		rc = cf_parse_bool(s, &v->i);
		break;
	case CF_MODE:
		rc = cf_parse_mode(s, &v->i);
		break;
	case CF_DURATION:
		rc = cf_parse_duration(s, k->min, k->max, &v->i);
		break;
	case CF_TIME:
		rc = cf_parse_time(s, &v->i);
		break;
	case CF_ENUM:
		rc = -1;
		for (int i = 0; k->choices[i] != NULL; i++) {
			if (strcasecmp(s, k->choices[i]) == 0) {
				v->s = xstrdup(k->choices[i]);
				rc = 0;
				break;
			}
		}
		break;
	case CF_REQ_TYPES:
		rc = cf_parse_set(s, req_type_names, REQ_TYPE_COUNT, &v->u);
		break;
	case CF_WARN_DAYS:
		rc = cf_parse_warn_days(s, (int)k->min, (int)k->max, v);
		break;
	case CF_TIMEZONE:
		rc = cf_check_timezone(s, !is_default);
		if (rc == 0)
			v->s = xstrdup(s);
		break;
	case CF_EMAIL:
		if (*s == '\0') {
			v->s = xstrdup("");
		} else if (val_email(s, &why) == -1) {
			*cause = xasprintf("not an e-mail address: %s",
			    why ? why : "bad form");
			free(why);
			return -1;
		} else {
			v->s = xstrdup(s);
		}
		break;
	case CF_ACCESS:
		v->s = cf_parse_access(s);
		rc = v->s == NULL ? -1 : 0;
		break;
	case CF_SMTP_URL:
		rc = cf_check_smtp_url(s);
		if (rc == 0)
			v->s = xstrdup(s);
		break;
	case CF_HTTP_URL:
		rc = cf_check_url(s, http);
		if (rc == 0)
			v->s = xstrdup(s);
		break;
	case CF_WH_SECRET:
		rc = cf_check_secret(s);
		if (rc == 0)
			v->s = xstrdup(s);
		break;
	case CF_EVENTS:
		if (strcmp(s, "*") == 0 || *s == '\0')
			v->u = NEV_ALL;
		else
			rc = cf_parse_set(s, notify_event_names, NEV_COUNT,
			    &v->u);
		break;
	}
	if (rc == -1)
		*cause = cf_rule(k);
	return rc;
}

/* Frees a string field, wiping it first if the key is secret. */
static void
cf_free_string(const struct cf_key *k, char **p)
{
	if (*p != NULL && (k->flags & CF_SECRET))
		explicit_bzero(*p, strlen(*p));
	free(*p);
	*p = NULL;
}

/* Stores a parsed value, freeing the one it replaces. */
static void
cf_store(const struct cf_key *k, void *base, union cf_value *v)
{
	void	*p = cf_ptr(base, k->off);

	if (cf_is_string(k->type)) {
		cf_free_string(k, p);
		*(char **)p = v->s;
	} else if (k->type == CF_REQ_TYPES || k->type == CF_EVENTS) {
		*(unsigned *)p = v->u;
	} else if (k->type == CF_WARN_DAYS) {
		memcpy(p, v->w.d, sizeof v->w.d);
		*(int *)cf_ptr(base, k->off_n) = v->w.n;
	} else {
		*(int *)p = v->i;
	}
}

static void
cf_fmt_set(struct buf *b, unsigned set, const char *const *names, int n)
{
	int	 first = 1;

	for (int i = 0; i < n; i++) {
		if (set & (1u << i)) {
			buf_addf(b, "%s%s", first ? "" : ",", names[i]);
			first = 0;
		}
	}
}

/* The canonical text of a stored value: what a file would say. */
static void
cf_format(const struct cf_key *k, const void *base, struct buf *b)
{
	const void	*p = cf_ptr(base, k->off);
	char		 tmp[32];
	int		 i, n;

	switch (k->type) {
	case CF_STRING:
	case CF_ENUM:
	case CF_TIMEZONE:
	case CF_EMAIL:
	case CF_ACCESS:
	case CF_SMTP_URL:
	case CF_HTTP_URL:
	case CF_WH_SECRET:
	case CF_FILE:
		if (*(char *const *)p != NULL)
			buf_adds(b, *(char *const *)p);
		break;
	case CF_INT:
	case CF_DURATION:
		buf_addf(b, "%d", *(const int *)p);
		break;
	case CF_BOOL:
		buf_adds(b, *(const int *)p ? "true" : "false");
		break;
	case CF_MODE:
		buf_addf(b, "%04o", (unsigned)*(const int *)p);
		break;
	case CF_TIME:
		i = *(const int *)p;
		buf_addf(b, "%02d:%02d", i / 60, i % 60);
		break;
	case CF_REQ_TYPES:
		cf_fmt_set(b, *(const unsigned *)p, req_type_names,
		    REQ_TYPE_COUNT);
		break;
	case CF_EVENTS:
		if (*(const unsigned *)p == NEV_ALL)
			buf_adds(b, "*");
		else
			cf_fmt_set(b, *(const unsigned *)p, notify_event_names,
			    NEV_COUNT);
		break;
	case CF_WARN_DAYS:
		n = *(const int *)cf_ptr(base, k->off_n);
		for (i = 0; i < n; i++) {
			snprintf(tmp, sizeof tmp, "%s%d", i ? "," : "",
			    ((const int *)p)[i]);
			buf_adds(b, tmp);
		}
		break;
	}
}

static void
cf_json(const struct cf_key *k, const void *base, cJSON *obj,
    const char *name)
{
	const void	*p = cf_ptr(base, k->off);
	struct buf	 b;

	/* Numbers and booleans typed; the rest as a file would say it. */
	if (k->type == CF_INT || k->type == CF_DURATION) {
		cJSON_AddNumberToObject(obj, name, *(const int *)p);
		return;
	}
	if (k->type == CF_BOOL) {
		cJSON_AddBoolToObject(obj, name, *(const int *)p);
		return;
	}
	/* A key with no default that the file did not give (secret_file
	   when secret is given): nothing to show. */
	if (cf_is_string(k->type) && *(char *const *)p == NULL)
		return;
	buf_init(&b);
	cf_format(k, base, &b);
	cJSON_AddStringToObject(obj, name, b.data ? b.data : "");
	buf_free(&b);
}

/* Applies the defaults of the keys of one kind (config or webhook). */
static void
cf_apply_defaults(void *base, int webhook)
{
	union cf_value	 v;
	char		*cause = NULL;

	for (size_t i = 0; i < CF_NKEYS; i++) {
		const struct cf_key *k = &cf_keys[i];

		if (((k->flags & CF_WEBHOOK) != 0) != webhook ||
		    k->def == NULL)
			continue;
		if (cf_parse(k, k->def, 1, &v, &cause) == -1) {
			/* A bad default is a bug the unit tests catch. */
			fprintf(stderr, "config: bad default for %s.%s: %s\n",
			    k->section, k->name, cause);
			abort();
		}
		cf_store(k, base, &v);
	}
}

void
config_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	cf_apply_defaults(c, 0);
}

static void
cf_free_fields(void *base, int webhook)
{
	for (size_t i = 0; i < CF_NKEYS; i++) {
		const struct cf_key *k = &cf_keys[i];
		char	**p;

		if (((k->flags & CF_WEBHOOK) != 0) != webhook ||
		    !cf_is_string(k->type))
			continue;
		p = cf_ptr(base, k->off);
		cf_free_string(k, p);
	}
}

static void
cf_free_webhooks(struct webhook_conf *w)
{
	struct webhook_conf	*next;

	for (; w != NULL; w = next) {
		next = w->next;
		cf_free_fields(w, 1);
		free(w->name);
		free(w);
	}
}

void
config_free(struct config *c)
{
	cf_free_fields(c, 0);
	cf_free_webhooks(c->webhooks);
	memset(c, 0, sizeof *c);
}

/* Where the parser is; the reader keeps it in step with inih. */
struct cf_ctx {
	const char		*path;
	FILE			*fp;
	int			 lineno;	/* the line inih is at */
	int			 read_errno;
	char			*cause;		/* first error */
	int			 err_line;	/* 0: no line */
	struct config		*cfg;

	char			*section;	/* "" before a header */
	int			 in_webhook;
	struct webhook_conf	*wh;		/* [webhook NAME] */
	struct webhook_conf	**wh_tail;
	int			 wh_line;	/* its header line */
	/* The line each key was set on, 0 = not yet. */
	int			 wh_seen[CF_NKEYS];
	int			 seen[CF_NKEYS];
};

static void __attribute__((format(printf, 3, 4)))
cf_error(struct cf_ctx *x, int line, const char *fmt, ...)
{
	va_list	 ap;

	if (x->cause != NULL)
		return;
	va_start(ap, fmt);
	x->cause = xvasprintf(fmt, ap);
	va_end(ap);
	x->err_line = line;
}

static const char *const cf_sections[] = {
	"daemon", "database", "deadlines", "smtp", "dpo", "notify", "access",
};

/*
 * The other key of a CF_FILE pair: for a CF_FILE key, the key whose value
 * its file holds; for that key, the CF_FILE key. -1 when none.
 */
static int
cf_partner(size_t i)
{
	const struct cf_key	*k = &cf_keys[i], *o;

	for (size_t j = 0; j < CF_NKEYS; j++) {
		o = &cf_keys[j];
		if (j == i || strcmp(o->section, k->section) != 0 ||
		    (o->flags & CF_WEBHOOK) != (k->flags & CF_WEBHOOK))
			continue;
		if ((k->type == CF_FILE && o->type != CF_FILE &&
		    o->off == k->off_n) ||
		    (o->type == CF_FILE && k->type != CF_FILE &&
		    o->off_n == k->off))
			return (int)j;
	}
	return -1;
}

/* The keys without which a webhook section is useless. */
static void
cf_webhook_done(struct cf_ctx *x)
{
	int	 p;

	if (x->wh == NULL)
		return;
	for (size_t i = 0; i < CF_NKEYS; i++) {
		const struct cf_key *k = &cf_keys[i];

		if ((k->flags & CF_REQUIRED) == 0 || x->wh_seen[i] != 0)
			continue;
		/* Given through its file is given. */
		p = cf_partner(i);
		if (p < 0)
			cf_error(x, x->wh_line, "[webhook %s] %s is required",
			    x->wh->name, k->name);
		else if (x->wh_seen[p] == 0)
			cf_error(x, x->wh_line, "[webhook %s] %s or %s is "
			    "required", x->wh->name, k->name,
			    cf_keys[p].name);
	}
	x->wh = NULL;
}

static int
cf_webhook_name_ok(const char *s)
{
	size_t	 n = strlen(s);

	if (n == 0 || n > CF_NAME_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/*
 * A section header, seen by the reader before inih parses the line: inih
 * truncates section names to 49 bytes and has no call for a section with no
 * keys, so sections are ours. Same rule as inih: up to the first ']'.
 */
static void
cf_section(struct cf_ctx *x, char *start)
{
	char			*end, *name, *wname;
	struct webhook_conf	*w;
	int			 line = x->lineno;

	end = strchr(start + 1, ']');
	if (end == NULL)
		return;	/* inih reports the syntax error */
	*end = '\0';
	name = str_trim(start + 1);

	cf_webhook_done(x);
	free(x->section);
	x->section = xstrdup(name);
	x->in_webhook = 0;

	for (size_t i = 0; i < nitems(cf_sections); i++)
		if (strcmp(name, cf_sections[i]) == 0)
			return;
	if (strncmp(name, "webhook", 7) != 0 ||
	    (name[7] != '\0' && name[7] != ' ' && name[7] != '\t')) {
		cf_error(x, line, "unknown section [%s]", name);
		return;
	}
	x->in_webhook = 1;
	wname = str_trim(name + 7);
	if (!cf_webhook_name_ok(wname)) {
		cf_error(x, line, "[webhook NAME]: NAME must be 1..%d of "
		    "A-Z a-z 0-9 _ -", CF_NAME_MAX);
		return;
	}
	for (w = x->cfg->webhooks; w != NULL; w = w->next) {
		if (strcmp(w->name, wname) == 0) {
			cf_error(x, line, "duplicate section [webhook %s]",
			    wname);
			return;
		}
	}
	w = xcalloc(1, sizeof *w);
	w->name = xstrdup(wname);
	cf_apply_defaults(w, 1);
	*x->wh_tail = w;
	x->wh_tail = &w->next;
	x->wh = w;
	x->wh_line = line;
	memset(x->wh_seen, 0, sizeof x->wh_seen);
}

/*
 * inih's reader: fgets that counts lines, so the handler knows where it is,
 * refuses lines longer than inih's buffer (inih would split them), and
 * stops the parse after our first error.
 */
static char *
cf_reader(char *str, int num, void *stream)
{
	struct cf_ctx	*x = stream;
	char		*s, *start;
	size_t		 len;
	int		 c;

	if (x->cause != NULL)
		return NULL;
	if (fgets(str, num, x->fp) == NULL) {
		if (ferror(x->fp))
			x->read_errno = errno ? errno : EIO;
		return NULL;
	}
	x->lineno++;
	len = strlen(str);
	if (len > 0 && str[len - 1] != '\n' && (int)len == num - 1) {
		c = getc(x->fp);
		if (c != EOF) {
			cf_error(x, x->lineno, "line longer than %d bytes",
			    num - 2);
			return NULL;
		}
	}

	/* Look at a copy: inih needs the line as it is. */
	s = xstrdup(str);
	start = s;
	if (x->lineno == 1 && strncmp(start, "\xef\xbb\xbf", 3) == 0)
		start += 3;
	start = str_trim(start);
	if (*start == '[')
		cf_section(x, start);
	free(s);
	return str;
}

int
config_read_secret(const char *path, size_t max, char **out, char **cause)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd, err, rc = -1;

	/* O_NONBLOCK: a FIFO put there must not hang a reload; it is then
	   refused as not a regular file. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd == -1) {
		*cause = xasprintf("cannot open it: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1) {
		err = errno;
		close(fd);
		*cause = xasprintf("cannot read it: %s", strerror(err));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		*cause = xstrdup("not a regular file");
		return -1;
	}
	/* One byte more than max tells a file that is too long. */
	buf = xmalloc(max + 2);
	while (len <= max) {
		n = read(fd, buf + len, max + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err = errno;
			close(fd);
			explicit_bzero(buf, max + 2);
			free(buf);
			*cause = xasprintf("cannot read it: %s", strerror(err));
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (len > max) {
		*cause = xasprintf("longer than %zu bytes", max);
		goto done;
	}
	while (len > 0 && isspace((unsigned char)buf[len - 1]))
		len--;
	buf[len] = '\0';
	if (len == 0) {
		*cause = xstrdup("empty");
	} else if (memchr(buf, '\0', len) != NULL) {
		*cause = xstrdup("holds a NUL byte");
	} else {
		*out = xstrdup(buf);
		rc = 0;
	}
done:
	explicit_bzero(buf, max + 2);
	free(buf);
	return rc;
}

/*
 * A CF_FILE key was set: reads its file into the key it holds, checked as
 * that key's own value would be. A cause names the path, never the bytes.
 */
static int
cf_read_file_key(struct cf_ctx *x, const struct cf_key *k,
    const struct cf_key *to, void *base)
{
	const char	*path = *(char **)cf_ptr(base, k->off);
	char		*text = NULL, *why = NULL;
	union cf_value	 v;
	int		 rc;

	if (config_read_secret(path, CF_MAX_LINE, &text, &why) == -1) {
		cf_error(x, x->lineno, "[%s] %s: %s: %s", x->section, k->name,
		    path, why);
		free(why);
		return -1;
	}
	rc = cf_parse(to, text, 0, &v, &why);
	explicit_bzero(text, strlen(text));
	free(text);
	if (rc == -1) {
		cf_error(x, x->lineno, "[%s] %s: %s: %s", x->section, k->name,
		    path, why);
		free(why);
		return -1;
	}
	cf_store(to, base, &v);
	return 0;
}

static const struct cf_key *
cf_find(const char *section, const char *name, int webhook, size_t *idx)
{
	for (size_t i = 0; i < CF_NKEYS; i++) {
		const struct cf_key *k = &cf_keys[i];

		if (((k->flags & CF_WEBHOOK) != 0) != webhook)
			continue;
		if ((webhook || strcmp(k->section, section) == 0) &&
		    strcmp(k->name, name) == 0) {
			*idx = i;
			return k;
		}
	}
	return NULL;
}

static int
cf_handler(void *user, const char *section, const char *name,
    const char *value)
{
	struct cf_ctx		*x = user;
	const struct cf_key	*k;
	union cf_value		 v;
	size_t			 i;
	int			*seen, p;
	char			*why = NULL;
	void			*base;

	(void)section;	/* ours is x->section: inih's may be truncated */
	if (x->cause != NULL)
		return 0;
	if (*x->section == '\0') {
		cf_error(x, x->lineno, "key %s outside any section", name);
		return 0;
	}
	if (x->in_webhook && x->wh == NULL)
		return 0;	/* a bad [webhook] header, already reported */
	k = cf_find(x->section, name, x->in_webhook, &i);
	if (k == NULL) {
		cf_error(x, x->lineno, "[%s] unknown key %s", x->section,
		    name);
		return 0;
	}
	seen = x->in_webhook ? x->wh_seen : x->seen;
	if (seen[i] != 0) {
		cf_error(x, x->lineno, "[%s] duplicate key %s (first on line "
		    "%d)", x->section, name, seen[i]);
		return 0;
	}
	seen[i] = x->lineno;
	/* A key and the file that may hold it instead: one, not both. */
	p = cf_partner(i);
	if (p >= 0 && seen[p] != 0) {
		cf_error(x, x->lineno, "[%s] %s and %s: give one, not both "
		    "(%s is on line %d)", x->section,
		    k->type == CF_FILE ? cf_keys[p].name : name,
		    k->type == CF_FILE ? name : cf_keys[p].name,
		    cf_keys[p].name, seen[p]);
		return 0;
	}
	if (k->type == CF_FILE && p < 0) {
		/* A bug in cf_keys the unit tests catch. */
		fprintf(stderr, "config: %s.%s holds no key\n", k->section,
		    k->name);
		abort();
	}
	if (cf_parse(k, value, 0, &v, &why) == -1) {
		cf_error(x, x->lineno, "[%s] %s: %s", x->section, name, why);
		free(why);
		return 0;
	}
	base = x->in_webhook ? (void *)x->wh : (void *)x->cfg;
	cf_store(k, base, &v);
	if (k->type == CF_FILE && cf_read_file_key(x, k, &cf_keys[p], base) ==
	    -1)
		return 0;
	return 1;
}

/* Rules between keys, once the whole file is read. */
static void
cf_check_all(struct cf_ctx *x)
{
	const struct config	*c = x->cfg;

	if (c->retry_min > c->retry_max)
		cf_error(x, 0, "[notify] retry_min is greater than retry_max");
	if (*c->smtp_url != '\0' && *c->smtp_from == '\0')
		cf_error(x, 0, "[smtp] from is required when url is set");
}

/*
 * On success *out is overwritten without being freed: pass a struct you own
 * that holds nothing (zeroed, or already config_free'd), and free the old
 * config yourself when the new one replaces it. On failure *out is not
 * touched.
 */
int
config_load(const char *path, struct config *out, char **cause)
{
	struct config	 c;
	struct cf_ctx	 x;
	int		 rc;

	memset(&x, 0, sizeof x);
	x.path = path;
	x.fp = fopen(path, "re");
	if (x.fp == NULL) {
		*cause = xasprintf("cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	config_defaults(&c);
	x.cfg = &c;
	x.section = xstrdup("");
	x.wh_tail = &c.webhooks;

	/* Debian's inih has these as variables (INI_RUNTIME_OPTIONS): long
	   lines, and an indented line is a key of its own, not the
	   continuation of the previous value. */
	ini_max_line = CF_MAX_LINE;
	ini_allow_multiline = false;

	rc = ini_parse_stream(cf_reader, &x, cf_handler, &x);
	fclose(x.fp);
	if (x.cause == NULL && x.read_errno != 0) {
		*cause = xasprintf("cannot read %s: %s", path,
		    strerror(x.read_errno));
		goto fail;
	}
	if (rc > 0 && (x.cause == NULL || rc < x.err_line)) {
		free(x.cause);
		x.cause = NULL;
		cf_error(&x, rc, "syntax error: expected [section], "
		    "key = value or a comment");
	} else if (rc < 0 && x.cause == NULL) {
		cf_error(&x, 0, "cannot parse (out of memory)");
	}
	cf_webhook_done(&x);
	cf_check_all(&x);
	if (x.cause != NULL) {
		if (x.err_line > 0)
			*cause = xasprintf("%s:%d: %s", path, x.err_line,
			    x.cause);
		else
			*cause = xasprintf("%s: %s", path, x.cause);
		goto fail;
	}
	free(x.section);
	*out = c;
	return 0;

fail:
	free(x.cause);
	free(x.section);
	config_free(&c);
	return -1;
}

char *
config_unreloadable_changes(const struct config *old,
    const struct config *new)
{
	struct buf	 list, a, b;

	buf_init(&list);
	for (size_t i = 0; i < CF_NKEYS; i++) {
		const struct cf_key *k = &cf_keys[i];

		if (k->flags & (CF_RELOAD | CF_WEBHOOK))
			continue;
		buf_init(&a);
		buf_init(&b);
		cf_format(k, old, &a);
		cf_format(k, new, &b);
		if (a.len != b.len || (a.len > 0 &&
		    memcmp(a.data, b.data, a.len) != 0))
			buf_addf(&list, "%s%s.%s", list.len ? ", " : "",
			    k->section, k->name);
		buf_free(&a);
		buf_free(&b);
	}
	if (list.len == 0)
		return NULL;
	return buf_take(&list);
}

void
config_to_json(const struct config *c, cJSON *obj)
{
	const struct webhook_conf	*w;
	char				*name;

	for (size_t i = 0; i < CF_NKEYS; i++) {
		const struct cf_key *k = &cf_keys[i];

		if (k->flags & (CF_SECRET | CF_WEBHOOK))
			continue;
		name = xasprintf("%s.%s", k->section, k->name);
		cf_json(k, c, obj, name);
		free(name);
	}
	for (w = c->webhooks; w != NULL; w = w->next) {
		for (size_t i = 0; i < CF_NKEYS; i++) {
			const struct cf_key *k = &cf_keys[i];

			if ((k->flags & CF_WEBHOOK) == 0 ||
			    (k->flags & CF_SECRET))
				continue;
			name = xasprintf("webhook.%s.%s", w->name, k->name);
			cf_json(k, w, obj, name);
			free(name);
		}
	}
}
