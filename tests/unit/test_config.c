/*
 * test_config.c: unit tests of config.c. Each case writes a small dsrd.conf
 * to a temporary file and loads it: the defaults, every type of value good
 * and bad, where an error is reported (line, section, key), webhook
 * sections and their secret_file, that a failed load leaves the caller's
 * config alone, the reload rules and what config_to_json shows. It must
 * never depend on files outside /tmp other than the system's zoneinfo.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <cJSON.h>

#include "config.h"
#include "util.h"
#include "validate.h"

#define SECRET	"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

/* Writes text to a new temporary file; returns its path (caller frees). */
static char *
write_conf(const char *text)
{
	char	*path = xstrdup("/tmp/test_config.XXXXXX");
	int	 fd = mkstemp(path);
	size_t	 n = strlen(text);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, n), (ssize_t)n);
	close(fd);
	return path;
}

static void
load_ok(const char *text, struct config *c)
{
	char	*path = write_conf(text), *cause = NULL;
	int	 rc;

	memset(c, 0, sizeof *c);
	rc = config_load(path, c, &cause);
	if (rc != 0)
		print_error("unexpected failure: %s\n", cause);
	assert_int_equal(rc, 0);
	assert_null(cause);
	unlink(path);
	free(path);
}

/* Loads text that must fail; returns the cause without the path prefix. */
static char *
load_fail(const char *text)
{
	char		*path = write_conf(text), *cause = NULL, *rest;
	struct config	 c;
	size_t		 n = strlen(path);

	memset(&c, 0, sizeof c);
	assert_int_equal(config_load(path, &c, &cause), -1);
	assert_non_null(cause);
	/* The cause starts with the path the caller gave. */
	assert_memory_equal(cause, path, n);
	rest = xstrdup(cause + n);
	free(cause);
	unlink(path);
	free(path);
	return rest;
}

/* The JSON text of one key of config_to_json, e.g. "\"0660\"" or "256". */
static char *
json_of(const struct config *c, const char *key)
{
	cJSON	*obj = cJSON_CreateObject(), *item;
	char	*s, *out;

	config_to_json(c, obj);
	item = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (item == NULL) {
		cJSON_Delete(obj);
		return NULL;
	}
	s = cJSON_PrintUnformatted(item);
	out = xstrdup(s);
	cJSON_free(s);
	cJSON_Delete(obj);
	return out;
}

static void
test_defaults(void **state)
{
	struct config	 c;

	(void)state;
	config_defaults(&c);
	assert_string_equal(c.socket, "/run/dsrd/dsrd.sock");
	assert_int_equal(c.socket_mode, 0660);
	assert_string_equal(c.language, "it");
	assert_string_equal(c.log_level, "info");
	assert_int_equal(c.max_clients, 256);
	assert_int_equal(c.max_clients_per_uid, 32);
	assert_int_equal(c.idle_timeout, 600);
	assert_int_equal(c.shutdown_grace, 10);
	assert_string_equal(c.conninfo, "");
	assert_int_equal(c.pool_size, 4);
	assert_string_equal(c.timezone, "Europe/Rome");
	assert_int_equal(c.forward_days, 10);
	assert_int_equal(c.forward_types,
	    (1u << REQ_RECTIFICATION) | (1u << REQ_ERASURE));
	assert_int_equal(c.n_warn_days, 2);
	assert_int_equal(c.warn_days[0], 3);
	assert_int_equal(c.warn_days[1], 1);
	assert_int_equal(c.alert_time, 9 * 60);
	assert_int_equal(c.extension_decision_days, 5);
	assert_int_equal(c.pause_on_await, 1);
	assert_string_equal(c.smtp_url, "");
	assert_string_equal(c.smtp_from, "");
	assert_string_equal(c.smtp_username, "");
	assert_string_equal(c.smtp_password_file, "");
	assert_int_equal(c.smtp_starttls, 0);
	assert_int_equal(c.smtp_timeout, 30);
	assert_string_equal(c.dpo_email, "");
	assert_string_equal(c.dpo_name, "");
	assert_int_equal(c.include_subject_name, 0);
	assert_int_equal(c.retry_min, 5);
	assert_int_equal(c.retry_max, 3600);
	assert_int_equal(c.max_age, 5 * 86400);
	assert_string_equal(c.access_dpo, "");
	assert_string_equal(c.access_clerk, "");
	assert_string_equal(c.access_staff, "");
	assert_string_equal(c.access_operator, "");
	assert_null(c.webhooks);
	config_free(&c);
	assert_null(c.socket);
	config_free(&c);	/* twice is harmless */
}

/* A file of comments and blank lines gives exactly the defaults. */
static void
test_empty_file_is_defaults(void **state)
{
	struct config	 d, c;
	cJSON		*a = cJSON_CreateObject(), *b = cJSON_CreateObject();
	char		*sa, *sb;

	(void)state;
	config_defaults(&d);
	load_ok("; nothing\n# here\n\n[daemon]\n[deadlines]\n", &c);
	assert_null(config_unreloadable_changes(&d, &c));
	config_to_json(&d, a);
	config_to_json(&c, b);
	sa = cJSON_PrintUnformatted(a);
	sb = cJSON_PrintUnformatted(b);
	assert_string_equal(sa, sb);
	cJSON_free(sa);
	cJSON_free(sb);
	cJSON_Delete(a);
	cJSON_Delete(b);
	config_free(&d);
	config_free(&c);
}

static const struct {
	const char	*text;
	const char	*key;
	const char	*json;
} good[] = {
	{ "[daemon]\nsocket = ./var/dsrd.sock", "daemon.socket",
	    "\"./var/dsrd.sock\"" },
	{ "[daemon]\nsocket_mode = 0600", "daemon.socket_mode", "\"0600\"" },
	{ "[daemon]\nsocket_mode = 660", "daemon.socket_mode", "\"0660\"" },
	{ "[daemon]\nsocket_mode = 0", "daemon.socket_mode", "\"0000\"" },
	{ "[daemon]\nsocket_mode = 0777", "daemon.socket_mode", "\"0777\"" },
	{ "[daemon]\nlanguage = en", "daemon.language", "\"en\"" },
	{ "[daemon]\nlanguage = EN", "daemon.language", "\"en\"" },
	{ "[daemon]\nlog_level = debug", "daemon.log_level", "\"debug\"" },
	{ "[daemon]\nmax_clients = 1", "daemon.max_clients", "1" },
	{ "[daemon]\nmax_clients = 65536", "daemon.max_clients", "65536" },
	{ "[daemon]\nidle_timeout = 0", "daemon.idle_timeout", "0" },
	{ "[daemon]\nidle_timeout = 30", "daemon.idle_timeout", "30" },
	{ "[daemon]\nidle_timeout = 5s", "daemon.idle_timeout", "5" },
	{ "[daemon]\nidle_timeout = 10m", "daemon.idle_timeout", "600" },
	{ "[daemon]\nidle_timeout = 2h", "daemon.idle_timeout", "7200" },
	{ "[daemon]\nidle_timeout = 7d", "daemon.idle_timeout", "604800" },
	{ "[database]\npool_size = 32", "database.pool_size", "32" },
	{ "[deadlines]\ntimezone = UTC", "deadlines.timezone", "\"UTC\"" },
	{ "[deadlines]\ntimezone = America/New_York", "deadlines.timezone",
	    "\"America/New_York\"" },
	{ "[deadlines]\nforward_days = 365", "deadlines.forward_days", "365" },
	{ "[deadlines]\nforward_types = erasure , access",
	    "deadlines.forward_types", "\"access,erasure\"" },
	{ "[deadlines]\nforward_types =", "deadlines.forward_types", "\"\"" },
	{ "[deadlines]\nforward_types = automated_decision",
	    "deadlines.forward_types", "\"automated_decision\"" },
	{ "[deadlines]\nwarn_days = 1, 7 ,3", "deadlines.warn_days",
	    "\"7,3,1\"" },
	{ "[deadlines]\nwarn_days =", "deadlines.warn_days", "\"\"" },
	{ "[deadlines]\nwarn_days = 60,1,2,3,4,5,6,7", "deadlines.warn_days",
	    "\"60,7,6,5,4,3,2,1\"" },
	{ "[deadlines]\nalert_time = 8:30", "deadlines.alert_time",
	    "\"08:30\"" },
	{ "[deadlines]\nalert_time = 23:59", "deadlines.alert_time",
	    "\"23:59\"" },
	{ "[deadlines]\nalert_time = 00:00", "deadlines.alert_time",
	    "\"00:00\"" },
	{ "[deadlines]\nextension_decision_days = 0",
	    "deadlines.extension_decision_days", "0" },
	{ "[deadlines]\npause_on_await = no", "deadlines.pause_on_await",
	    "false" },
	{ "[deadlines]\npause_on_await = OFF", "deadlines.pause_on_await",
	    "false" },
	{ "[deadlines]\npause_on_await = 0", "deadlines.pause_on_await",
	    "false" },
	{ "[smtp]\nstarttls = Yes", "smtp.starttls", "true" },
	{ "[smtp]\nstarttls = on", "smtp.starttls", "true" },
	{ "[smtp]\nstarttls = 1", "smtp.starttls", "true" },
	{ "[smtp]\nstarttls = TRUE", "smtp.starttls", "true" },
	{ "[smtp]\nurl = smtps://mail.example.it:465\nfrom = dsr@example.it",
	    "smtp.url", "\"smtps://mail.example.it:465\"" },
	{ "[smtp]\nurl = smtp://localhost:2525\nfrom = dsr@example.it",
	    "smtp.from", "\"dsr@example.it\"" },
	{ "[smtp]\npassword_file = /etc/dsrd/smtp.pw", "smtp.password_file",
	    "\"/etc/dsrd/smtp.pw\"" },
	{ "[smtp]\ntimeout = 1m", "smtp.timeout", "60" },
	{ "[dpo]\nemail = dpo@comunitrentini.it", "dpo.email",
	    "\"dpo@comunitrentini.it\"" },
	{ "[dpo]\nname = Consorzio dei Comuni Trentini", "dpo.name",
	    "\"Consorzio dei Comuni Trentini\"" },
	{ "[notify]\ninclude_subject_name = true",
	    "notify.include_subject_name", "true" },
	{ "[notify]\nretry_min = 1\nretry_max = 1", "notify.retry_max", "1" },
	{ "[notify]\nmax_age = 1m", "notify.max_age", "60" },
	{ "[access]\ndpo = alice, @dpo-team ,bob.rossi",
	    "access.dpo", "\"alice,@dpo-team,bob.rossi\"" },
	{ "[access]\noperator = @adm", "access.operator", "\"@adm\"" },
};

static void
test_types_good(void **state)
{
	struct config	 c;
	char		*got;

	(void)state;
	for (size_t i = 0; i < nitems(good); i++) {
		char *text = xasprintf("%s\n", good[i].text);

		load_ok(text, &c);
		got = json_of(&c, good[i].key);
		if (got == NULL || strcmp(got, good[i].json) != 0)
			print_error("case %zu (%s): got %s\n", i, good[i].key,
			    got ? got : "(missing)");
		assert_non_null(got);
		assert_string_equal(got, good[i].json);
		free(got);
		free(text);
		config_free(&c);
	}
}

/* Values the JSON does not show directly. */
static void
test_types_stored(void **state)
{
	struct config	 c;

	(void)state;
	load_ok("[deadlines]\nwarn_days = 2,10,5\nalert_time = 17:45\n"
	    "forward_types = objection,access\n[daemon]\nsocket_mode = 640\n"
	    "[notify]\nmax_age = 2d\n", &c);
	assert_int_equal(c.n_warn_days, 3);
	assert_int_equal(c.warn_days[0], 10);
	assert_int_equal(c.warn_days[1], 5);
	assert_int_equal(c.warn_days[2], 2);
	assert_int_equal(c.alert_time, 17 * 60 + 45);
	assert_int_equal(c.forward_types,
	    (1u << REQ_OBJECTION) | (1u << REQ_ACCESS));
	assert_int_equal(c.socket_mode, 0640);
	assert_int_equal(c.max_age, 2 * 86400);
	config_free(&c);

	load_ok("[deadlines]\nwarn_days =\nforward_types =\n", &c);
	assert_int_equal(c.n_warn_days, 0);
	assert_int_equal(c.forward_types, 0);
	config_free(&c);
}

static const struct {
	const char	*text;
	const char	*cause;	/* the cause after the path */
} bad[] = {
	{ "[daemon]\nsocket =", ":2: [daemon] socket: must not be empty" },
	{ "[daemon]\nsocket = /run/dsrd/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaa.sock", ":2: [daemon] socket: longer than 107 characters" },
	{ "[daemon]\nsocket_mode = 0800",
	    ":2: [daemon] socket_mode: not an octal file mode 0..0777" },
	{ "[daemon]\nsocket_mode = 1000",
	    ":2: [daemon] socket_mode: not an octal file mode 0..0777" },
	{ "[daemon]\nsocket_mode = rw",
	    ":2: [daemon] socket_mode: not an octal file mode 0..0777" },
	{ "[daemon]\nsocket_mode = 00660",
	    ":2: [daemon] socket_mode: not an octal file mode 0..0777" },
	{ "[daemon]\nlanguage = de",
	    ":2: [daemon] language: not one of it, en" },
	{ "[daemon]\nlog_level = verbose",
	    ":2: [daemon] log_level: not one of error, warn, info, debug" },
	{ "[daemon]\nmax_clients = 0",
	    ":2: [daemon] max_clients: not an integer in 1..65536" },
	{ "[daemon]\nmax_clients = 65537",
	    ":2: [daemon] max_clients: not an integer in 1..65536" },
	{ "[daemon]\nmax_clients = 12abc",
	    ":2: [daemon] max_clients: not an integer in 1..65536" },
	{ "[daemon]\nmax_clients = 99999999999999999999999",
	    ":2: [daemon] max_clients: not an integer in 1..65536" },
	{ "[daemon]\nidle_timeout = -1",
	    ":2: [daemon] idle_timeout: not a duration in 0..7d" },
	{ "[daemon]\nidle_timeout = 8d",
	    ":2: [daemon] idle_timeout: not a duration in 0..7d" },
	{ "[daemon]\nidle_timeout = 5w",
	    ":2: [daemon] idle_timeout: not a duration in 0..7d" },
	{ "[daemon]\nidle_timeout = 5 s",
	    ":2: [daemon] idle_timeout: not a duration in 0..7d" },
	{ "[daemon]\nidle_timeout = s",
	    ":2: [daemon] idle_timeout: not a duration in 0..7d" },
	{ "[daemon]\nidle_timeout = 99999999999999999999d",
	    ":2: [daemon] idle_timeout: not a duration in 0..7d" },
	{ "[smtp]\ntimeout = 0",
	    ":2: [smtp] timeout: not a duration in 1s..1h" },
	{ "[database]\npool_size = 33",
	    ":2: [database] pool_size: not an integer in 1..32" },
	{ "[deadlines]\ntimezone = Europe/Nowhere",
	    ":2: [deadlines] timezone: not a time zone of /usr/share/zoneinfo" },
	{ "[deadlines]\ntimezone = ../../../etc/passwd",
	    ":2: [deadlines] timezone: not a time zone" },
	{ "[deadlines]\ntimezone = /etc/localtime",
	    ":2: [deadlines] timezone: not a time zone" },
	{ "[deadlines]\ntimezone = Europe",
	    ":2: [deadlines] timezone: not a time zone" },
	{ "[deadlines]\ntimezone = zone.tab",
	    ":2: [deadlines] timezone: not a time zone" },
	{ "[deadlines]\nforward_days = 0",
	    ":2: [deadlines] forward_days: not an integer in 1..365" },
	{ "[deadlines]\nforward_types = erasure,deletion",
	    ":2: [deadlines] forward_types: not a comma list of distinct "
	    "request types (access, rectification" },
	{ "[deadlines]\nforward_types = erasure,erasure",
	    ":2: [deadlines] forward_types: not a comma list" },
	{ "[deadlines]\nforward_types = erasure,",
	    ":2: [deadlines] forward_types: not a comma list" },
	{ "[deadlines]\nforward_types = Erasure",
	    ":2: [deadlines] forward_types: not a comma list" },
	{ "[deadlines]\nwarn_days = 3,0",
	    ":2: [deadlines] warn_days: not a comma list of at most 8 distinct "
	    "days 1..60" },
	{ "[deadlines]\nwarn_days = 61",
	    ":2: [deadlines] warn_days: not a comma list" },
	{ "[deadlines]\nwarn_days = 3,3",
	    ":2: [deadlines] warn_days: not a comma list" },
	{ "[deadlines]\nwarn_days = 3,,1",
	    ":2: [deadlines] warn_days: not a comma list" },
	{ "[deadlines]\nwarn_days = 1,2,3,4,5,6,7,8,9",
	    ":2: [deadlines] warn_days: not a comma list" },
	{ "[deadlines]\nwarn_days = three",
	    ":2: [deadlines] warn_days: not a comma list" },
	{ "[deadlines]\nalert_time = 24:00",
	    ":2: [deadlines] alert_time: not a time of day HH:MM" },
	{ "[deadlines]\nalert_time = 9",
	    ":2: [deadlines] alert_time: not a time of day HH:MM" },
	{ "[deadlines]\nalert_time = 09:60",
	    ":2: [deadlines] alert_time: not a time of day HH:MM" },
	{ "[deadlines]\nalert_time = 09:5",
	    ":2: [deadlines] alert_time: not a time of day HH:MM" },
	{ "[deadlines]\nalert_time = 123:00",
	    ":2: [deadlines] alert_time: not a time of day HH:MM" },
	{ "[deadlines]\nextension_decision_days = 28",
	    ":2: [deadlines] extension_decision_days: not an integer in 0..27" },
	{ "[deadlines]\npause_on_await = maybe",
	    ":2: [deadlines] pause_on_await: not a boolean" },
	{ "[deadlines]\npause_on_await =",
	    ":2: [deadlines] pause_on_await: not a boolean" },
	{ "[smtp]\nurl = http://mail.example.it",
	    ":2: [smtp] url: not an smtp:// or smtps:// URL" },
	{ "[smtp]\nurl = smtp://",
	    ":2: [smtp] url: not an smtp:// or smtps:// URL" },
	{ "[smtp]\nurl = smtp://user:pw@mail.example.it",
	    ":2: [smtp] url: not an smtp:// or smtps:// URL without "
	    "credentials" },
	{ "[smtp]\nfrom = not-an-address",
	    ":2: [smtp] from: not an e-mail address" },
	{ "[dpo]\nemail = dpo@",
	    ":2: [dpo] email: not an e-mail address" },
	{ "[dpo]\nname = \x01x", ":2: [dpo] name: contains a control" },
	{ "[dpo]\nname = \xff\xfe", ":2: [dpo] name: is not valid UTF-8" },
	{ "[notify]\nretry_min = 0",
	    ":2: [notify] retry_min: not a duration in 1s..1d" },
	{ "[notify]\nretry_min = 2h\nretry_max = 1h",
	    ": [notify] retry_min is greater than retry_max" },
	{ "[notify]\nmax_age = 366d",
	    ":2: [notify] max_age: not a duration in 1s..365d" },
	{ "[smtp]\nurl = smtp://localhost",
	    ": [smtp] from is required when url is set" },
	{ "[access]\nclerk = alice bob",
	    ":2: [access] clerk: not a comma list of user names and @groups" },
	{ "[access]\nclerk = alice,",
	    ":2: [access] clerk: not a comma list" },
	{ "[access]\nstaff = @",
	    ":2: [access] staff: not a comma list" },
	{ "[access]\nstaff = a;b",
	    ":2: [access] staff: not a comma list" },
	{ "[access]\ndpo = @@x",
	    ":2: [access] dpo: not a comma list" },
};

static void
test_types_bad(void **state)
{
	char	*cause;

	(void)state;
	for (size_t i = 0; i < nitems(bad); i++) {
		cause = load_fail(bad[i].text);
		if (strncmp(bad[i].cause, cause, strlen(bad[i].cause)) != 0)
			print_error("case %zu: got \"%s\"\n", i, cause);
		assert_memory_equal(cause, bad[i].cause, strlen(bad[i].cause));
		free(cause);
	}
}

/* A cause names the rule, never the value (it may be a secret). */
static void
test_cause_hides_value(void **state)
{
	char	*cause;

	(void)state;
	cause = load_fail("[webhook x]\nurl = https://example.it/h\n"
	    "secret = whsec_p4ssw0rd!!\n");
	assert_non_null(strstr(cause, "[webhook x] secret"));
	assert_null(strstr(cause, "p4ssw0rd"));
	free(cause);
	cause = load_fail("[database]\npool_size = 12345secret\n");
	assert_null(strstr(cause, "12345secret"));
	free(cause);
}

static void
test_unknown_and_duplicate(void **state)
{
	char	*cause;

	(void)state;
	cause = load_fail("[daemon]\nsocket = /tmp/s\n\n[daemonn]\nx = 1\n");
	assert_string_equal(cause, ":4: unknown section [daemonn]");
	free(cause);

	cause = load_fail("[deadlines]\nforward_days = 5\nwarn_day = 3\n");
	assert_string_equal(cause, ":3: [deadlines] unknown key warn_day");
	free(cause);

	/* A key of another section. */
	cause = load_fail("[smtp]\nurl = smtp://x\nemail = a@b.it\n");
	assert_string_equal(cause, ":3: [smtp] unknown key email");
	free(cause);

	/* Keys are case-sensitive. */
	cause = load_fail("[daemon]\nSocket = /tmp/s\n");
	assert_string_equal(cause, ":2: [daemon] unknown key Socket");
	free(cause);

	cause = load_fail("log_level = info\n");
	assert_string_equal(cause, ":1: key log_level outside any section");
	free(cause);

	cause = load_fail("[daemon]\nlog_level = info\nmax_clients = 3\n"
	    "log_level = debug\n");
	assert_string_equal(cause,
	    ":4: [daemon] duplicate key log_level (first on line 2)");
	free(cause);

	/* The same key in a second [daemon] section is still a duplicate. */
	cause = load_fail("[daemon]\nlanguage = en\n[dpo]\nname = x\n"
	    "[daemon]\nlanguage = it\n");
	assert_string_equal(cause,
	    ":6: [daemon] duplicate key language (first on line 2)");
	free(cause);

	/* The first error wins. */
	cause = load_fail("[daemon]\nmax_clients = 0\n[bogus]\n");
	assert_memory_equal(cause, ":2: [daemon] max_clients", 23);
	free(cause);
	cause = load_fail("[daemon]\nno equals sign\nmax_clients = 0\n");
	assert_memory_equal(cause, ":2: syntax error", 16);
	free(cause);
	cause = load_fail("[daemon\nmax_clients = 1\n");
	assert_memory_equal(cause, ":1: syntax error", 16);
	free(cause);
	cause = load_fail("[daemon]\nmax_clients = 0\nno equals sign\n");
	assert_memory_equal(cause, ":2: [daemon] max_clients", 23);
	free(cause);
}

static void
test_missing_file(void **state)
{
	struct config	 c;
	char		*cause = NULL;

	(void)state;
	memset(&c, 0, sizeof c);
	assert_int_equal(config_load("/nonexistent/dsrd.conf", &c, &cause),
	    -1);
	assert_string_equal(cause, "cannot open /nonexistent/dsrd.conf: "
	    "No such file or directory");
	free(cause);
	assert_null(c.socket);

	cause = NULL;
	assert_int_equal(config_load("/tmp", &c, &cause), -1);
	assert_string_equal(cause, "cannot read /tmp: Is a directory");
	free(cause);
}

static void
test_file_syntax(void **state)
{
	struct config	 c;
	struct buf	 b;
	char		*cause;

	(void)state;
	/* Indented keys are keys (not continuation lines), BOM, inline
	   comments, CRLF line ends, spaces in the section header. */
	load_ok("\xef\xbb\xbf[daemon]\r\n  language = en\r\n"
	    "\tmax_clients = 7 ; seven\r\n[ dpo ]\nname = Ufficio DPO\n", &c);
	assert_string_equal(c.language, "en");
	assert_int_equal(c.max_clients, 7);
	assert_string_equal(c.dpo_name, "Ufficio DPO");
	config_free(&c);

	/* A long line (inih's default buffer is 200 bytes) is read whole. */
	buf_init(&b);
	buf_adds(&b, "[access]\nstaff = ");
	for (int i = 0; i < 100; i++)
		buf_addf(&b, "%suser%03d", i ? "," : "", i);
	buf_adds(&b, "\n[daemon]\nlanguage = en\n");
	load_ok(b.data, &c);
	assert_int_equal(strlen(c.access_staff), 100 * 8 - 1);
	assert_memory_equal(c.access_staff + 792, "user099", 8);
	assert_string_equal(c.language, "en");
	config_free(&c);
	buf_free(&b);

	/* A line longer than the limit is refused, not split. */
	buf_init(&b);
	buf_adds(&b, "[dpo]\nname = x\n[access]\nstaff = ");
	for (int i = 0; i < 5000; i++)
		buf_adds(&b, "a");
	buf_adds(&b, "\n");
	cause = load_fail(b.data);
	assert_string_equal(cause, ":4: line longer than 4094 bytes");
	free(cause);
	buf_free(&b);

	/* The last line needs no LF. */
	load_ok("[daemon]\nlanguage = en", &c);
	assert_string_equal(c.language, "en");
	config_free(&c);
}

static void
test_webhooks(void **state)
{
	struct config		 c;
	struct webhook_conf	*w;
	char			*cause, *s, name[66];

	(void)state;
	load_ok("[webhook dpo-bot]\nurl = https://hooks.example.it/dsr\n"
	    "secret = " SECRET "\n"
	    "events = request.overdue, request.filed\n"
	    "[daemon]\nlanguage = en\n"
	    "[webhook audit_2]\nsecret = whsec_YWJjZA==\n"
	    "url = http://127.0.0.1:8080/x?y=1\n"
	    "[webhook third]\nurl = https://x.it\nsecret = " SECRET "\n"
	    "events =\n", &c);
	w = c.webhooks;
	assert_non_null(w);
	assert_string_equal(w->name, "dpo-bot");
	assert_string_equal(w->url, "https://hooks.example.it/dsr");
	assert_string_equal(w->secret, SECRET);
	assert_int_equal(w->events,
	    (1u << NEV_OVERDUE) | (1u << NEV_FILED));
	w = w->next;
	assert_non_null(w);
	assert_string_equal(w->name, "audit_2");
	assert_string_equal(w->url, "http://127.0.0.1:8080/x?y=1");
	assert_string_equal(w->secret, "whsec_YWJjZA==");
	assert_int_equal(w->events, NEV_ALL);
	w = w->next;
	assert_non_null(w);
	assert_string_equal(w->name, "third");
	assert_int_equal(w->events, NEV_ALL);
	assert_null(w->next);
	assert_string_equal(c.language, "en");

	s = json_of(&c, "webhook.dpo-bot.url");
	assert_string_equal(s, "\"https://hooks.example.it/dsr\"");
	free(s);
	s = json_of(&c, "webhook.dpo-bot.events");
	assert_string_equal(s, "\"request.filed,request.overdue\"");
	free(s);
	s = json_of(&c, "webhook.audit_2.events");
	assert_string_equal(s, "\"*\"");
	free(s);
	assert_null(json_of(&c, "webhook.dpo-bot.secret"));
	config_free(&c);

	cause = load_fail("[webhook a]\nurl = https://x.it\n"
	    "secret = " SECRET "\n[webhook b]\nurl = https://y.it\n"
	    "secret = " SECRET "\n[webhook a]\n");
	assert_string_equal(cause, ":7: duplicate section [webhook a]");
	free(cause);

	cause = load_fail("[dpo]\nname = x\n[webhook a]\nsecret = " SECRET
	    "\n[daemon]\nlanguage = en\n");
	assert_string_equal(cause, ":3: [webhook a] url is required");
	free(cause);

	cause = load_fail("[webhook a]\nurl = https://x.it\n");
	assert_string_equal(cause,
	    ":1: [webhook a] secret or secret_file is required");
	free(cause);

	cause = load_fail("[webhook]\nurl = https://x.it\n");
	assert_memory_equal(cause, ":1: [webhook NAME]: NAME must be", 31);
	free(cause);

	cause = load_fail("[webhook a.b]\n");
	assert_memory_equal(cause, ":1: [webhook NAME]: NAME must be", 31);
	free(cause);

	cause = load_fail("[webhookx]\n");
	assert_string_equal(cause, ":1: unknown section [webhookx]");
	free(cause);

	/* 64 characters is the longest name (inih alone would cut at 49). */
	memset(name, 'n', sizeof name);
	name[64] = '\0';
	s = xasprintf("[webhook %s]\nurl = https://x.it\nsecret = " SECRET
	    "\n", name);
	load_ok(s, &c);
	assert_string_equal(c.webhooks->name, name);
	config_free(&c);
	free(s);
	name[64] = 'n';
	name[65] = '\0';
	s = xasprintf("[webhook %s]\nurl = https://x.it\nsecret = " SECRET
	    "\n", name);
	cause = load_fail(s);
	assert_memory_equal(cause, ":1: [webhook NAME]", 18);
	free(cause);
	free(s);

	cause = load_fail("[webhook a]\nurl = ftp://x.it\nsecret = " SECRET
	    "\n");
	assert_string_equal(cause, ":2: [webhook a] url: not an http:// or "
	    "https:// URL");
	free(cause);

	cause = load_fail("[webhook a]\nurl = https://\nsecret = " SECRET
	    "\n");
	assert_memory_equal(cause, ":2: [webhook a] url:", 20);
	free(cause);

	static const char *const bad_secrets[] = {
		"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_", "whsec_a b",
		"whsec_abc=d", "whsec_ab===", "whsec_==", "whsec_a-b",
	};
	for (size_t i = 0; i < nitems(bad_secrets); i++) {
		char *text = xasprintf("[webhook a]\nurl = https://x.it\n"
		    "secret = %s\n", bad_secrets[i]);

		cause = load_fail(text);
		assert_string_equal(cause, ":3: [webhook a] secret: not whsec_ "
		    "followed by base64");
		free(cause);
		free(text);
	}

	cause = load_fail("[webhook a]\nurl = https://x.it\nsecret = " SECRET
	    "\nevents = request.filed,request.lost\n");
	assert_memory_equal(cause, ":4: [webhook a] events: not * or a comma "
	    "list of distinct events (request.filed, ", 67);
	free(cause);

	cause = load_fail("[webhook a]\nurl = https://x.it\nsecret = " SECRET
	    "\nsecret = " SECRET "\n");
	assert_string_equal(cause,
	    ":4: [webhook a] duplicate key secret (first on line 3)");
	free(cause);

	cause = load_fail("[webhook a]\nurl = https://x.it\nsecret = " SECRET
	    "\nlanguage = en\n");
	assert_string_equal(cause, ":4: [webhook a] unknown key language");
	free(cause);
}

/* Writes bytes (NULs allowed) to a new temporary file; returns its path. */
static char *
write_bytes(const char *data, size_t n)
{
	char	*path = xstrdup("/tmp/test_config.XXXXXX");
	int	 fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
	return path;
}

/* A [webhook w] section whose secret comes from the file at path. */
static char *
secret_file_conf(const char *path)
{
	return xasprintf("[daemon]\nlanguage = en\n[webhook w]\n"
	    "url = https://x.it/h\nsecret_file = %s\nevents = *\n", path);
}

/* What a file may hold: the secret, trailing white space trimmed. */
static void
test_secret_file_good(void **state)
{
	static const char *const contents[] = {
		SECRET, SECRET "\n", SECRET "\r\n", SECRET " \t\n\n",
	};
	struct config	 c;
	char		*path, *text, *s;

	(void)state;
	for (size_t i = 0; i < nitems(contents); i++) {
		path = write_bytes(contents[i], strlen(contents[i]));
		text = secret_file_conf(path);
		load_ok(text, &c);
		assert_non_null(c.webhooks);
		assert_string_equal(c.webhooks->secret, SECRET);
		assert_string_equal(c.webhooks->secret_file, path);
		assert_string_equal(c.webhooks->url, "https://x.it/h");
		assert_string_equal(c.language, "en");

		/* ping shows the path, never what the file holds. */
		s = json_of(&c, "webhook.w.secret_file");
		assert_non_null(s);
		assert_true(strlen(s) == strlen(path) + 2);
		assert_memory_equal(s + 1, path, strlen(path));
		free(s);
		assert_null(json_of(&c, "webhook.w.secret"));
		config_free(&c);
		unlink(path);
		free(path);
		free(text);
	}

	/* A webhook with an inline secret shows no secret_file at all. */
	load_ok("[webhook v]\nurl = https://x.it\nsecret = " SECRET "\n", &c);
	assert_null(c.webhooks->secret_file);
	assert_null(json_of(&c, "webhook.v.secret_file"));
	config_free(&c);
}

/*
 * What a file must not be. The cause names the section, the key and the
 * path, and never anything the file holds.
 */
static void
test_secret_file_bad(void **state)
{
	static const struct {
		const char	*data;
		size_t		 len;
		const char	*why;
	} cases[] = {
		{ "", 0, "empty" },
		{ " \n\r\n\t", 5, "empty" },
		{ "hunter2-p4ss\n", 13, "not whsec_ followed by base64" },
		{ "whsec_p4ss w0rd\n", 16, "not whsec_ followed by base64" },
		{ " whsec_p4ssw0rd\n", 16, "not whsec_ followed by base64" },
		{ "whsec_p4ssw0rd\nwhsec_p4ssw0rd\n", 30,
		    "not whsec_ followed by base64" },
		{ "whsec_p4ss\0w0rd\n", 16, "holds a NUL byte" },
		{ "whsec_", 6, "not whsec_ followed by base64" },
	};
	char	*path, *text, *cause, *want;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		path = write_bytes(cases[i].data, cases[i].len);
		text = secret_file_conf(path);
		cause = load_fail(text);
		want = xasprintf(":5: [webhook w] secret_file: %s: %s", path,
		    cases[i].why);
		if (strcmp(cause, want) != 0)
			print_error("case %zu: got \"%s\"\n", i, cause);
		assert_string_equal(cause, want);
		assert_null(strstr(cause, "p4ss"));
		assert_null(strstr(cause, "hunter2"));
		free(want);
		free(cause);
		unlink(path);
		free(path);
		free(text);
	}
}

static void
test_secret_file_unreadable(void **state)
{
	struct buf	 b;
	char		*path, *text, *cause, dir[] = "/tmp/test_config.XXXXXX";
	char		*fifo;

	(void)state;
	text = secret_file_conf("/nonexistent/webhook-w.secret");
	cause = load_fail(text);
	assert_string_equal(cause, ":5: [webhook w] secret_file: "
	    "/nonexistent/webhook-w.secret: cannot open it: No such file or "
	    "directory");
	free(cause);
	free(text);

	/* A directory, and a FIFO (which must not hang the load). */
	assert_non_null(mkdtemp(dir));
	text = secret_file_conf(dir);
	cause = load_fail(text);
	assert_non_null(strstr(cause, "] secret_file: "));
	assert_non_null(strstr(cause, ": not a regular file"));
	free(cause);
	free(text);
	fifo = xasprintf("%s/fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	text = secret_file_conf(fifo);
	cause = load_fail(text);
	assert_non_null(strstr(cause, fifo));
	assert_non_null(strstr(cause, ": not a regular file"));
	free(cause);
	free(text);
	unlink(fifo);
	free(fifo);
	rmdir(dir);

	/* Mode 0 (root reads it anyway). */
	if (geteuid() != 0) {
		path = write_bytes(SECRET, strlen(SECRET));
		assert_int_equal(chmod(path, 0), 0);
		text = secret_file_conf(path);
		cause = load_fail(text);
		assert_non_null(strstr(cause, "cannot open it: Permission "
		    "denied"));
		free(cause);
		free(text);
		unlink(path);
		free(path);
	}

	/* Longer than 4096 bytes, even if it would trim to a secret. */
	buf_init(&b);
	buf_adds(&b, SECRET);
	while (b.len <= 4096)
		buf_adds(&b, " ");
	path = write_bytes(b.data, b.len);
	buf_free(&b);
	text = secret_file_conf(path);
	cause = load_fail(text);
	assert_non_null(strstr(cause, ": longer than 4096 bytes"));
	assert_null(strstr(cause, "whsec_"));
	free(cause);
	free(text);
	unlink(path);
	free(path);
}

/* Exactly one of secret and secret_file, and where each may be. */
static void
test_secret_file_rules(void **state)
{
	char	*path, *text, *cause;

	(void)state;
	path = write_bytes(SECRET "\n", strlen(SECRET) + 1);

	text = xasprintf("[webhook a]\nurl = https://x.it\nsecret = " SECRET
	    "\nsecret_file = %s\n", path);
	cause = load_fail(text);
	assert_string_equal(cause, ":4: [webhook a] secret and secret_file: "
	    "give one, not both (secret is on line 3)");
	free(cause);
	free(text);

	text = xasprintf("[webhook a]\nurl = https://x.it\nsecret_file = %s\n"
	    "secret = " SECRET "\n", path);
	cause = load_fail(text);
	assert_string_equal(cause, ":4: [webhook a] secret and secret_file: "
	    "give one, not both (secret_file is on line 3)");
	assert_null(strstr(cause, "whsec_"));
	free(cause);
	free(text);

	text = xasprintf("[webhook a]\nurl = https://x.it\nsecret_file = %s\n"
	    "secret_file = %s\n", path, path);
	cause = load_fail(text);
	assert_string_equal(cause,
	    ":4: [webhook a] duplicate key secret_file (first on line 3)");
	free(cause);
	free(text);

	cause = load_fail("[webhook a]\nurl = https://x.it\nsecret_file =\n");
	assert_string_equal(cause,
	    ":3: [webhook a] secret_file: must not be empty");
	free(cause);

	/* Only a webhook has one. */
	text = xasprintf("[smtp]\nsecret_file = %s\n", path);
	cause = load_fail(text);
	assert_string_equal(cause, ":2: [smtp] unknown key secret_file");
	free(cause);
	free(text);

	/* Each section on its own: one with a file, one inline. */
	text = xasprintf("[webhook a]\nsecret_file = %s\nurl = https://x.it\n"
	    "[webhook b]\nurl = https://y.it\nsecret = whsec_YWJjZA==\n",
	    path);
	{
		struct config c;

		load_ok(text, &c);
		assert_string_equal(c.webhooks->secret, SECRET);
		assert_string_equal(c.webhooks->next->secret,
		    "whsec_YWJjZA==");
		assert_null(c.webhooks->next->secret_file);
		config_free(&c);
	}
	free(text);
	unlink(path);
	free(path);
}

/*
 * The file is read at every load, so a reload (SIGHUP loads the file
 * again) picks up a changed secret, and a bad one leaves the old config.
 */
static void
test_secret_file_reload(void **state)
{
	static const char other[] = "whsec_YWJjZA==";
	struct config	 c, copy;
	char		*path, *text, *conf, *cause = NULL;
	FILE		*fp;

	(void)state;
	path = write_bytes(SECRET "\n", strlen(SECRET) + 1);
	text = secret_file_conf(path);
	conf = write_conf(text);
	memset(&c, 0, sizeof c);
	assert_int_equal(config_load(conf, &c, &cause), 0);
	assert_string_equal(c.webhooks->secret, SECRET);

	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "%s\n", other);
	fclose(fp);
	config_free(&c);
	assert_int_equal(config_load(conf, &c, &cause), 0);
	assert_string_equal(c.webhooks->secret, other);
	assert_null(config_unreloadable_changes(&c, &c));

	/* Now broken: the load fails and the loaded config stays. */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "not-a-whsec-p4ss\n");
	fclose(fp);
	memcpy(&copy, &c, sizeof c);
	assert_int_equal(config_load(conf, &c, &cause), -1);
	assert_non_null(strstr(cause, "secret_file: "));
	assert_null(strstr(cause, "p4ss"));
	assert_memory_equal(&c, &copy, sizeof c);
	assert_string_equal(c.webhooks->secret, other);
	free(cause);
	config_free(&c);

	unlink(path);
	unlink(conf);
	free(path);
	free(conf);
	free(text);
}

/* config_read_secret on its own: max bytes is fine, one more is not. */
static void
test_read_secret(void **state)
{
	char	 data[65], *path, *out = NULL, *cause = NULL;

	(void)state;
	memset(data, 'k', sizeof data);
	path = write_bytes(data, 64);
	assert_int_equal(config_read_secret(path, 64, &out, &cause), 0);
	assert_null(cause);
	assert_int_equal(strlen(out), 64);
	free(out);
	out = NULL;
	assert_int_equal(config_read_secret(path, 63, &out, &cause), -1);
	assert_null(out);
	assert_string_equal(cause, "longer than 63 bytes");
	free(cause);
	unlink(path);
	free(path);

	/* max bounds the file, trailing white space included. */
	data[64] = '\n';
	path = write_bytes(data, 65);
	assert_int_equal(config_read_secret(path, 64, &out, &cause), -1);
	free(cause);
	out = NULL;
	assert_int_equal(config_read_secret(path, 65, &out, &cause), 0);
	assert_int_equal(strlen(out), 64);
	free(out);
	unlink(path);
	free(path);
}

/* A failed load must leave the caller's config exactly as it was. */
static void
test_failure_leaves_out_untouched(void **state)
{
	struct config	 c, copy;
	char		*path, *cause = NULL;

	(void)state;
	load_ok("[daemon]\nlanguage = en\n[webhook w]\nurl = https://x.it\n"
	    "secret = " SECRET "\n", &c);
	memcpy(&copy, &c, sizeof c);
	path = write_conf("[daemon]\nlanguage = it\nmax_clients = 9\n"
	    "[webhook v]\nurl = https://y.it\nsecret = " SECRET "\n"
	    "[notify]\nretry_min = forever\n");
	assert_int_equal(config_load(path, &c, &cause), -1);
	assert_non_null(cause);
	assert_memory_equal(&c, &copy, sizeof c);
	assert_string_equal(c.language, "en");
	assert_string_equal(c.webhooks->name, "w");
	assert_null(c.webhooks->next);
	free(cause);
	unlink(path);
	free(path);

	/* And a good load replaces it wholesale. */
	path = write_conf("[daemon]\nmax_clients = 9\n");
	assert_int_equal(config_load(path, &c, &cause), 0);
	assert_int_equal(c.max_clients, 9);
	assert_string_equal(c.language, "it");
	assert_null(c.webhooks);
	config_free(&c);
	config_free(&copy);
	unlink(path);
	free(path);
}

static void
test_unreloadable(void **state)
{
	struct config	 a, b;
	char		*s;

	(void)state;
	load_ok("[daemon]\nsocket = /tmp/a.sock\n[database]\n"
	    "conninfo = dbname=dsr\n", &a);

	/* Reloadable keys and webhooks may change. */
	load_ok("[daemon]\nsocket = /tmp/a.sock\nlanguage = en\n"
	    "max_clients = 3\n[database]\nconninfo = dbname=dsr\n"
	    "[deadlines]\nwarn_days = 5\n[webhook w]\nurl = https://x.it\n"
	    "secret = " SECRET "\n", &b);
	assert_null(config_unreloadable_changes(&a, &b));
	config_free(&b);

	/* Same values spelt differently are no change. */
	load_ok("[daemon]\nsocket = /tmp/a.sock\nsocket_mode = 660\n"
	    "[database]\nconninfo = dbname=dsr\npool_size = 4\n"
	    "[deadlines]\ntimezone = Europe/Rome\n", &b);
	assert_null(config_unreloadable_changes(&a, &b));
	config_free(&b);

	load_ok("[daemon]\nsocket = /tmp/b.sock\n[database]\n"
	    "conninfo = dbname=other\n", &b);
	s = config_unreloadable_changes(&a, &b);
	assert_non_null(s);
	assert_string_equal(s, "daemon.socket, database.conninfo");
	free(s);
	config_free(&b);

	load_ok("[daemon]\nsocket = /tmp/a.sock\nsocket_mode = 0600\n"
	    "[database]\nconninfo = dbname=dsr\npool_size = 8\n"
	    "[deadlines]\ntimezone = UTC\n", &b);
	s = config_unreloadable_changes(&a, &b);
	assert_string_equal(s, "daemon.socket_mode, database.pool_size, "
	    "deadlines.timezone");
	free(s);
	config_free(&b);
	config_free(&a);
}

static void
test_json(void **state)
{
	struct config	 c;
	cJSON		*obj = cJSON_CreateObject();
	char		*s;

	(void)state;
	load_ok("[database]\nconninfo = host=db password=hunter2\n"
	    "[smtp]\nurl = smtps://mail.example.it\nfrom = dsr@example.it\n"
	    "password_file = /etc/dsrd/smtp.pw\n"
	    "[webhook w]\nurl = https://x.it/h\nsecret = " SECRET "\n", &c);
	config_to_json(&c, obj);
	s = cJSON_PrintUnformatted(obj);
	assert_null(strstr(s, "whsec_"));
	assert_null(strstr(s, "hunter2"));
	assert_null(strstr(s, "secret"));
	assert_null(strstr(s, "conninfo"));
	/* The rest is there, typed. */
	assert_non_null(strstr(s, "\"smtp.password_file\":"
	    "\"/etc/dsrd/smtp.pw\""));
	assert_non_null(strstr(s, "\"daemon.max_clients\":256"));
	assert_non_null(strstr(s, "\"notify.retry_max\":3600"));
	assert_non_null(strstr(s, "\"deadlines.pause_on_await\":true"));
	assert_non_null(strstr(s, "\"deadlines.warn_days\":\"3,1\""));
	assert_non_null(strstr(s, "\"deadlines.forward_types\":"
	    "\"rectification,erasure\""));
	assert_non_null(strstr(s, "\"deadlines.alert_time\":\"09:00\""));
	assert_non_null(strstr(s, "\"webhook.w.url\":\"https://x.it/h\""));
	assert_non_null(strstr(s, "\"webhook.w.events\":\"*\""));
	cJSON_free(s);
	/* Every key but the two secrets, and two per webhook. */
	assert_int_equal(cJSON_GetArraySize(obj), 35 - 1 + 2);
	cJSON_Delete(obj);
	config_free(&c);
}

/*
 * The example config that ships must load as it is and give the defaults;
 * with every commented "key = value" line switched on it must still load,
 * name every key, and still give the defaults (so its comments tell the
 * truth).
 */
static void
test_example_file(void **state)
{
	struct config	 d, c;
	char		*cause = NULL, line[1024], *json_d, *json_c, *path;
	const char	*example = getenv("DSRD_EXAMPLE_CONF");
	FILE		*fp;
	struct buf	 b;
	int		 nkeys = 0, secret_file = 0;
	cJSON		*od, *oc;

	(void)state;
	if (example == NULL)
		example = "config/dsrd.conf.example";
	if (access(example, R_OK) != 0)
		skip();
	config_defaults(&d);
	memset(&c, 0, sizeof c);
	if (config_load(example, &c, &cause) != 0)
		print_error("%s\n", cause);
	assert_null(cause);
	assert_null(config_unreloadable_changes(&d, &c));
	assert_null(c.webhooks);
	config_free(&c);

	fp = fopen(example, "r");
	assert_non_null(fp);
	buf_init(&b);
	while (fgets(line, sizeof line, fp) != NULL) {
		size_t	 n = strspn(line + 1, "abcdefghijklmnopqrstuvwxyz_");

		/* secret_file is shown indented, not switched on: secret
		   and secret_file together are an error. */
		if (strncmp(line, ";   secret_file = /", 19) == 0)
			secret_file++;
		if (line[0] == ';' && line[1] == '[') {
			buf_adds(&b, line + 1);
		} else if (line[0] == ';' && n > 0 &&
		    strncmp(line + 1 + n, " =", 2) == 0) {
			buf_adds(&b, line + 1);
			nkeys++;
		} else {
			buf_adds(&b, line);
		}
	}
	fclose(fp);
	/* 35 keys and the three of the webhook example. */
	assert_int_equal(nkeys, 35 + 3);
	assert_int_equal(secret_file, 1);
	path = write_conf(b.data);
	buf_free(&b);
	if (config_load(path, &c, &cause) != 0)
		print_error("%s\n", cause);
	assert_null(cause);
	unlink(path);
	free(path);
	assert_non_null(c.webhooks);
	assert_string_equal(c.webhooks->name, "dpo-bot");
	assert_null(c.webhooks->next);

	/* Every uncommented value is the default (webhook keys aside). */
	od = cJSON_CreateObject();
	oc = cJSON_CreateObject();
	config_to_json(&d, od);
	config_to_json(&c, oc);
	assert_non_null(cJSON_GetObjectItem(oc, "webhook.dpo-bot.url"));
	cJSON_DeleteItemFromObject(oc, "webhook.dpo-bot.url");
	cJSON_DeleteItemFromObject(oc, "webhook.dpo-bot.events");
	json_d = cJSON_PrintUnformatted(od);
	json_c = cJSON_PrintUnformatted(oc);
	assert_string_equal(json_c, json_d);
	cJSON_free(json_d);
	cJSON_free(json_c);
	cJSON_Delete(od);
	cJSON_Delete(oc);
	config_free(&c);
	config_free(&d);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_empty_file_is_defaults),
		cmocka_unit_test(test_types_good),
		cmocka_unit_test(test_types_stored),
		cmocka_unit_test(test_types_bad),
		cmocka_unit_test(test_cause_hides_value),
		cmocka_unit_test(test_unknown_and_duplicate),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_file_syntax),
		cmocka_unit_test(test_webhooks),
		cmocka_unit_test(test_secret_file_good),
		cmocka_unit_test(test_secret_file_bad),
		cmocka_unit_test(test_secret_file_unreadable),
		cmocka_unit_test(test_secret_file_rules),
		cmocka_unit_test(test_secret_file_reload),
		cmocka_unit_test(test_read_secret),
		cmocka_unit_test(test_failure_leaves_out_untouched),
		cmocka_unit_test(test_unreloadable),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_example_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
