/*
 * test_mail.c: unit tests of mail.c. Every shipped template of both
 * languages is rendered from a payload shaped as the database builds it
 * (every placeholder filled, none left over, the subject's name only when
 * given, Italian accents intact), and every placeholder a template uses is
 * one the documentation lists, so a typo cannot silently render as "".
 * The encoders are checked against small decoders written here from RFC
 * 2047 and RFC 2045 (decode(encode(x)) == x, line limits, no split UTF-8
 * sequence or =XX escape) on fixed vectors and on random text, and a built
 * message is parsed back: each header once, CRLF only, nothing injected.
 * Templates are read from config/templates (run from the top of the tree)
 * or $MAIL_TEMPLATES.
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <cJSON.h>

#include "mail.h"
#include "util.h"

static const char *const events[] = {
	"filed", "forwarded", "deadline_warning", "extension_decision",
	"overdue", "extended", "closed",
};
static const char *const langs[] = { "it", "en" };

/* The placeholders docs/notifications.md lists. */
static const char *const known[] = {
	"event", "event_at", "request_id", "entity", "entity_name", "type",
	"type_label", "status", "status_label", "outcome", "outcome_label",
	"reject_reason", "reject_reason_label", "channel", "channel_label",
	"protocol", "extended", "received_on", "forwarded_on",
	"statutory_due_on", "operational_due_on", "due_on", "closed_on",
	"received_on_long", "forwarded_on_long", "statutory_due_on_long",
	"operational_due_on_long", "due_on_long", "closed_on_long",
	"alert_kind", "alert_moment", "alert_due_on", "alert_due_on_long",
	"alert_days_before", "alert_days_before_text", "subject_name",
	"dpo_name",
};

static const char *
tpl_dir(void)
{
	const char	*d = getenv("MAIL_TEMPLATES");

	return d != NULL ? d : "config/templates";
}

/* The payload of an event as store.c and dsrd_request_public build it. */
static cJSON *
payload_for(const char *event, const char *type)
{
	const char	*req, *alert = NULL;
	char		*s;
	cJSON		*p;

	if (strcmp(event, "closed") == 0)
		req = "\"status\": \"rejected\", \"outcome\": \"rejected\", "
		    "\"closed_on\": \"2025-02-03\", \"reject_reason\": "
		    "\"identity_not_verified\", \"forwarded_on\": null, "
		    "\"operational_due_on\": null, \"extended\": false";
	else if (strcmp(event, "forwarded") == 0 ||
	    strcmp(event, "extended") == 0)
		req = "\"status\": \"forwarded\", \"outcome\": null, "
		    "\"closed_on\": null, \"reject_reason\": null, "
		    "\"forwarded_on\": \"2025-01-20\", "
		    "\"operational_due_on\": \"2025-01-30\", \"extended\": true";
	else
		req = "\"status\": \"received\", \"outcome\": null, "
		    "\"closed_on\": null, \"reject_reason\": null, "
		    "\"forwarded_on\": null, \"operational_due_on\": null, "
		    "\"extended\": false";
	if (strcmp(event, "deadline_warning") == 0 ||
	    strcmp(event, "extension_decision") == 0 ||
	    strcmp(event, "overdue") == 0)
		alert = event;
	s = xasprintf("{\"event\": \"request.%s\", "
	    "\"at\": \"2026-11-23T23:19:20+00:00\", "
	    "\"request\": {\"id\": 2, \"type\": \"%s\", \"due_on\": "
	    "\"2025-02-10\", \"entity\": \"cvn\", \"channel\": null, "
	    "\"protocol\": null, \"received_on\": \"2025-01-10\", "
	    "\"statutory_due_on\": \"2025-02-10\", %s}%s%s%s}", event, type,
	    req, alert != NULL ? ", \"alert\": {\"kind\": \"" : "",
	    alert != NULL ? alert : "", alert != NULL ? "\", \"due_on\": "
	    "\"2025-02-10\", \"moment\": \"2025-02-07T08:00:00Z\", "
	    "\"days_before\": 3}" : "");
	p = cJSON_Parse(s);
	if (p == NULL)
		fail_msg("bad test payload: %s", s);
	free(s);
	return p;
}

/* Every shipped template renders completely, in both languages. */
static void
test_render_all(void **state)
{
	char	*subj, *body, *cause = NULL;

	(void)state;
	for (size_t l = 0; l < nitems(langs); l++)
		for (size_t e = 0; e < nitems(events); e++) {
			int	 it = strcmp(langs[l], "it") == 0;
			cJSON	*p = payload_for(events[e], "portability");
			char	*ev = xasprintf("request.%s", events[e]);

			if (mail_render(tpl_dir(), langs[l], ev, p,
			    "Comunità della Val di Non", NULL, "Consorzio dei "
			    "Comuni Trentini", &subj, &body, &cause) != 0)
				fail_msg("%s/%s: %s", langs[l], events[e],
				    cause);
			assert_true(strlen(subj) > 20);
			assert_null(strstr(subj, "{{"));
			assert_null(strstr(body, "{{"));
			assert_null(strstr(subj, "}}"));
			assert_null(strstr(body, "}}"));
			assert_null(strchr(subj, '\n'));
			/* id, type, body and what to look up, in the words
			   of the language */
			assert_non_null(strstr(subj, it ? "n. 2 " :
			    "no. 2 "));
			assert_non_null(strstr(subj, it ?
			    "portabilità (art. 20)" : "portability (art. 20)"));
			assert_non_null(strstr(subj, "Comunità della Val di "
			    "Non"));
			assert_non_null(strstr(subj, "–"));
			assert_non_null(strstr(body, "(cvn)"));
			assert_non_null(strstr(body, "dsrctl show 2\n"));
			assert_non_null(strstr(body, it ? "venerdì 10 gennaio "
			    "2025" : "Friday 10 January 2025"));
			assert_non_null(strstr(body, "Consorzio dei Comuni "
			    "Trentini"));
			/* no personal data, and it says so */
			assert_non_null(strstr(body, it ? "intenzionalmente" :
			    "intentionally"));
			assert_null(strstr(body, it ? "Interessato:" :
			    "Data subject:"));
			assert_true(body[strlen(body) - 1] == '\n');
			if (strcmp(events[e], "closed") == 0)
				assert_non_null(strstr(body, it ?
				    "identità non verificata (art. 12(6))" :
				    "identity not verified (art. 12(6))"));
			if (strcmp(events[e], "forwarded") == 0)
				assert_non_null(strstr(body, it ?
				    "giovedì 30 gennaio 2025" :
				    "Thursday 30 January 2025"));
			if (strcmp(events[e], "deadline_warning") == 0)
				assert_non_null(strstr(body, it ? "3 giorni" :
				    "3 days"));
			if (strcmp(events[e], "overdue") == 0 ||
			    strcmp(events[e], "deadline_warning") == 0)
				assert_non_null(strstr(body, it ?
				    "lunedì 10 febbraio 2025" :
				    "Monday 10 February 2025"));
			free(subj);
			free(body);

			/* With include_subject_name: the name, in the body
			   only, and the privacy line changes. */
			if (mail_render(tpl_dir(), langs[l], events[e], p,
			    "Comunità della Val di Non", "Niccolò Rossi", NULL,
			    &subj, &body, &cause) != 0)
				fail_msg("%s/%s: %s", langs[l], events[e],
				    cause);
			assert_non_null(strstr(body, it ? "Interessato:" :
			    "Data subject:"));
			assert_non_null(strstr(body, " Niccolò Rossi\n"));
			assert_null(strstr(subj, "Niccolò"));
			assert_null(strstr(body, it ? "intenzionalmente" :
			    "intentionally"));
			assert_null(strstr(body, "{{"));
			free(subj);
			free(body);
			free(ev);
			cJSON_Delete(p);
		}
}

/* Every {{name}} of every shipped template is a documented placeholder. */
static void
test_templates_use_known_names(void **state)
{
	(void)state;
	for (size_t l = 0; l < nitems(langs); l++)
		for (size_t e = 0; e < nitems(events); e++) {
			char	 path[512], text[16384];
			FILE	*f;
			size_t	 n;
			int	 uses = 0;

			snprintf(path, sizeof path, "%s/%s/%s.txt", tpl_dir(),
			    langs[l], events[e]);
			if ((f = fopen(path, "r")) == NULL)
				fail_msg("%s: missing", path);
			n = fread(text, 1, sizeof text - 1, f);
			fclose(f);
			text[n] = '\0';
			assert_int_equal(strncmp(text, "Subject: ", 9), 0);
			for (char *p = text; (p = strstr(p, "{{")) != NULL;
			    uses++) {
				char	*c = strstr(p, "}}");
				size_t	 k, len;

				assert_non_null(c);
				p += 2;
				if (*p == '?' || *p == '!')
					p++;
				len = (size_t)(c - p);
				for (k = 0; k < nitems(known); k++)
					if (strlen(known[k]) == len &&
					    memcmp(known[k], p, len) == 0)
						break;
				if (k == nitems(known))
					fail_msg("%s: unknown placeholder "
					    "%.*s", path, (int)len, p);
				p = c + 2;
			}
			assert_true(uses > 10);
		}
}

static char	tmpdir[64];

static void
write_file(const char *lang, const char *name, const char *text)
{
	char	*d = xasprintf("%s/%s", tmpdir, lang);
	char	*p = xasprintf("%s/%s.txt", d, name), *tmp;
	FILE	*f;

	mkdir(d, 0700);
	/* A new file renamed over the old, as an editor saves: a new inode,
	   so mail_render's cache sees the change even within one clock
	   tick of the file system. */
	tmp = xasprintf("%s.new", p);
	if ((f = fopen(tmp, "w")) == NULL)
		fail_msg("%s: cannot write", tmp);
	fputs(text, f);
	fclose(f);
	if (rename(tmp, p) != 0)
		fail_msg("%s: cannot rename", tmp);
	free(tmp);
	free(p);
	free(d);
}

static int
tmp_setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/test_mail.XXXXXX");
	return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int
tmp_teardown(void **state)
{
	char	*cmd = xasprintf("rm -rf '%s'", tmpdir);
	int	 rc;

	(void)state;
	rc = system(cmd);
	free(cmd);
	return rc == 0 ? 0 : -1;
}

/* Writes path in place (same inode) and sets its modification time. */
static void
overwrite(const char *path, const char *text, time_t mtime)
{
	struct timespec	 ts[2] = { { mtime, 0 }, { mtime, 0 } };
	FILE		*f;

	if ((f = fopen(path, "w")) == NULL)
		fail_msg("%s: cannot write", path);
	fputs(text, f);
	fclose(f);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/*
 * mail_render keeps the templates it read, but an edit (same inode, same
 * size, a later time), a file renamed over it and a removed file are each
 * seen at the next mail, as if nothing were kept.
 */
static void
test_render_cache(void **state)
{
	static const struct {
		int		 how;	/* 0 in place, 1 rename, 2 remove */
		const char	*tpl;
		const char	*subj;	/* NULL: fails */
	} steps[] = {
		{ 1, "Subject: A1\n\nx\n", "A1" },
		{ 1, "Subject: A1\n\nx\n", "A1" },
		{ 0, "Subject: B2\n\nx\n", "B2" },
		{ 1, "Subject: C3\n\nx\n", "C3" },
		{ 0, "Subject: D4\n\ny\n", "D4" },
		{ 2, NULL, NULL },
		{ 1, "Subject: E5\n\nx\n", "E5" },
	};
	cJSON	*p = cJSON_Parse("{\"event\": \"request.filed\", "
	    "\"request\": {\"id\": 7}}");
	char	*path = xasprintf("%s/it/filed.txt", tmpdir);
	char	*subj, *body, *cause;
	time_t	 t = time(NULL) - 1000;

	(void)state;
	for (size_t i = 0; i < nitems(steps); i++) {
		int	rc;

		if (steps[i].how == 1)
			write_file("it", "filed", steps[i].tpl);
		else if (steps[i].how == 0)
			overwrite(path, steps[i].tpl, t + (time_t)i);
		else
			assert_int_equal(unlink(path), 0);
		cause = NULL;
		rc = mail_render(tmpdir, "it", "filed", p, NULL, NULL, NULL,
		    &subj, &body, &cause);
		if (steps[i].subj == NULL) {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(cause, "filed.txt"));
			free(cause);
			continue;
		}
		if (rc != 0)
			fail_msg("step %zu: %s", i, cause);
		assert_string_equal(subj, steps[i].subj);
		free(subj);
		free(body);
	}
	mail_template_cache_clear();
	assert_int_equal(mail_render(tmpdir, "it", "filed", p, NULL, NULL,
	    NULL, &subj, &body, &cause), 0);
	assert_string_equal(subj, "E5");
	free(subj);
	free(body);
	mail_template_cache_clear();
	free(path);
	cJSON_Delete(p);
}

/* The template language itself: placeholders, conditions, line ends. */
static void
test_render_rules(void **state)
{
	static const struct {
		const char	*tpl;
		const char	*subject_name;
		const char	*subj;		/* NULL: must fail */
		const char	*body;
	} cases[] = {
		{ "Subject: n. {{request_id}}\n\nx {{ type }} y\n", NULL,
		  "n. 7", "x erasure y\n" },
		/* CRLF from an editor, a BOM, no final line end */
		{ "\xef\xbb\xbfSubject: a {{entity}}\r\n\r\nl1\r\nl2", NULL,
		  "a e1", "l1\nl2\n" },
		/* unknown names render as "", a lone {{ stays */
		{ "Subject: s{{nope}}s\n\n{{nope}}|{{ open\n", NULL, "ss",
		  "|{{ open\n" },
		/* conditions at the start of a line */
		{ "Subject: s\n\n{{?subject_name}}N: {{subject_name}}\n"
		  "{{!subject_name}}none\nend\n", NULL, "s", "none\nend\n" },
		{ "Subject: s\n\n{{?subject_name}}N: {{subject_name}}\n"
		  "{{!subject_name}}none\nend\n", "Ada", "s", "N: Ada\nend\n" },
		{ "Subject: s\n\n{{?subject_name}}{{?closed_on}}both\n"
		  "{{?type}}{{!closed_on}}type only\n", "Ada", "s",
		  "type only\n" },
		/* a value cannot add a line or a header */
		{ "Subject: {{subject_name}}\n\n[{{subject_name}}]\n",
		  "A\r\nBcc: x@y.it", "A  Bcc: x@y.it", "[A  Bcc: x@y.it]\n" },
		/* dates in long form; a bad date is shown as it is */
		{ "Subject: s\n\n{{due_on_long}}|{{received_on_long}}\n",
		  NULL, "s", "sabato 1° marzo 2025|2025-13-01\n" },
		{ "subject: lower case works\n\nb\n", NULL,
		  "lower case works", "b\n" },
		{ "Oggetto: x\n\nb\n", NULL, NULL, NULL },
		{ "Subject: x\nb\n", NULL, NULL, NULL },
		{ "Subject: {{closed_on}}\n\nb\n", NULL, NULL, NULL },
		{ "Subject: x\n\n\xc3\x28 broken UTF-8\n", NULL, NULL, NULL },
	};
	cJSON	*p = cJSON_Parse("{\"event\": \"request.filed\", \"request\": "
	    "{\"id\": 7, \"type\": \"erasure\", \"entity\": \"e1\", "
	    "\"due_on\": \"2025-03-01\", \"received_on\": \"2025-13-01\", "
	    "\"closed_on\": null}}");
	char	*subj, *body, *cause;

	(void)state;
	assert_non_null(p);
	for (size_t i = 0; i < nitems(cases); i++) {
		int	rc;

		write_file("it", "filed", cases[i].tpl);
		cause = NULL;
		rc = mail_render(tmpdir, "it", "request.filed", p, NULL,
		    cases[i].subject_name, NULL, &subj, &body, &cause);
		if (cases[i].subj == NULL) {
			if (rc == 0)
				fail_msg("case %zu: rendered", i);
			assert_non_null(cause);
			assert_non_null(strstr(cause, "filed.txt"));
			free(cause);
			continue;
		}
		if (rc != 0)
			fail_msg("case %zu: %s", i, cause);
		assert_string_equal(subj, cases[i].subj);
		assert_string_equal(body, cases[i].body);
		free(subj);
		free(body);
	}

	/* Names that must not become paths, and a missing file. */
	cause = NULL;
	assert_int_equal(mail_render(tmpdir, "it", "request.../x", p, NULL,
	    NULL, NULL, &subj, &body, &cause), -1);
	free(cause);
	cause = NULL;
	assert_int_equal(mail_render(tmpdir, "../it", "filed", p, NULL,
	    NULL, NULL, &subj, &body, &cause), -1);
	free(cause);
	cause = NULL;
	assert_int_equal(mail_render(tmpdir, "it", "overdue", p, NULL,
	    NULL, NULL, &subj, &body, &cause), -1);
	assert_non_null(strstr(cause, "overdue.txt"));
	free(cause);
	/* English labels for a language with none of its own */
	write_file("de", "filed", "Subject: {{type_label}}\n\nb\n");
	assert_int_equal(mail_render(tmpdir, "de", "filed", p, NULL, NULL,
	    NULL, &subj, &body, &cause), 0);
	assert_string_equal(subj, "erasure (art. 17)");
	free(subj);
	free(body);
	cJSON_Delete(p);
}

/*
 * Values as a template shows them, each from a payload of its own: dates
 * in long form (only "YYYY-MM-DD" is a date: anything else is shown as it
 * is), numbers, booleans, labels in the language, the body's code when it
 * has no name, a control character as a space, an unknown name as empty
 * in a condition, a value used twice.
 */
static void
test_render_values(void **state)
{
	static const struct {
		const char	*payload;
		const char	*line;
		const char	*want;
	} cases[] = {
		{ "{\"request\": {\"due_on\": \"2024-02-29\"}}",
		  "{{due_on_long}}", "giovedì 29 febbraio 2024" },
		{ "{\"request\": {\"due_on\": \"2000-01-01\"}}",
		  "{{due_on_long}}", "sabato 1° gennaio 2000" },
		{ "{\"request\": {\"due_on\": \"2025-02-30\"}}",
		  "{{due_on_long}}", "2025-02-30" },
		{ "{\"request\": {\"due_on\": \"+202-03-01\"}}",
		  "{{due_on_long}}", "+202-03-01" },
		{ "{\"request\": {\"due_on\": \" 2025-03-1\"}}",
		  "{{due_on_long}}", " 2025-03-1" },
		{ "{\"request\": {\"due_on\": \"2025-03-01\\n\"}}",
		  "[{{due_on_long}}]", "[2025-03-01 ]" },
		{ "{\"alert\": {\"due_on\": \"2025-03-03\"}}",
		  "{{alert_due_on_long}}", "lunedì 3 marzo 2025" },
		{ "{\"request\": {\"id\": 12345}}", "{{request_id}}", "12345" },
		{ "{\"request\": {\"id\": -7}}", "{{request_id}}", "-7" },
		{ "{\"request\": {\"id\": 2.5}}", "{{request_id}}", "2" },
		{ "{\"request\": {\"id\": 1e20}}", "{{request_id}}", "1e+20" },
		{ "{\"request\": {\"id\": true}}", "{{request_id}}", "true" },
		{ "{\"request\": {\"id\": null}}", "[{{request_id}}]", "[]" },
		{ "{\"request\": {\"type\": \"erasure\"}}", "{{type_label}}",
		  "cancellazione (art. 17)" },
		{ "{\"request\": {\"type\": \"a\\u0001b\"}}", "{{type_label}}",
		  "a b" },
		{ "{\"request\": {\"entity\": \"cvn\"}}", "{{entity_name}}",
		  "cvn" },
		{ "{\"alert\": {\"days_before\": 1}}",
		  "{{alert_days_before_text}}", "1 giorno" },
		{ "{\"alert\": {\"days_before\": \"3\"}}",
		  "{{alert_days_before_text}}", "3 giorni" },
		{ "{\"alert\": {\"days_before\": \"x\"}}",
		  "[{{alert_days_before_text}}]", "[]" },
		{ "{\"request\": {\"type\": \"access\"}}",
		  "{{?nope}}a\n{{!nope}}b\n{{?type}}{{type}}{{ type }}",
		  "b\naccessaccess" },
	};
	char	*subj, *body, *cause, *tpl, *want;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		cJSON	*p = cJSON_Parse(cases[i].payload);

		assert_non_null(p);
		tpl = xasprintf("Subject: s\n\n%s\n", cases[i].line);
		write_file("it", "filed", tpl);
		cause = NULL;
		if (mail_render(tmpdir, "it", "filed", p, NULL, NULL, NULL,
		    &subj, &body, &cause) != 0)
			fail_msg("case %zu: %s", i, cause);
		want = xasprintf("%s\n", cases[i].want);
		if (strcmp(body, want) != 0)
			fail_msg("case %zu: [%s], want [%s]", i, body, want);
		free(want);
		free(subj);
		free(body);
		free(tpl);
		cJSON_Delete(p);
	}
	mail_template_cache_clear();
}

/* ---- RFC 2047 and RFC 2045 decoders, for checking ------------------- */

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;	/* lower case is not what we emit */
}

/* Whether s[0..n) is well-formed UTF-8 (enough for these tests). */
static int
utf8_ok(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t	k = s[i] < 0x80 ? 1 : s[i] < 0xc2 ? 0 : s[i] < 0xe0 ?
		    2 : s[i] < 0xf0 ? 3 : s[i] < 0xf5 ? 4 : 0;

		if (k == 0 || i + k > n)
			return 0;
		for (size_t j = 1; j < k; j++)
			if ((s[i + j] & 0xc0) != 0x80)
				return 0;
		i += k;
	}
	return 1;
}

/*
 * Decodes an unstructured header value: unfolds, then decodes each
 * encoded word, dropping the white space between two adjacent ones.
 * Checks on the way: lines of at most 76 (with encoded words) or 78
 * characters, words of at most 75, the first line counting `used`, each
 * word's bytes valid UTF-8 on their own.
 */
static char *
hdr_decode(const char *v, size_t used)
{
	struct buf	 u, out;
	const char	*p, *ws;
	int		 prev_ew = 0, has_ew = strstr(v, "=?") != NULL;
	size_t		 col = used;

	/* line lengths, and no CR or LF but in a fold */
	for (p = v; *p != '\0'; p++) {
		if (*p == '\r') {
			if (p[1] != '\n' || p[2] != ' ')
				fail_msg("bad fold in header: %s", v);
			if (col > (has_ew ? 76u : 78u))
				fail_msg("header line of %zu: %s", col, v);
			col = 0;
			p++;
			continue;
		}
		if (*p == '\n')
			fail_msg("bare LF in header: %s", v);
		col++;
	}
	if (col > (has_ew ? 76u : 78u))
		fail_msg("header line of %zu: %s", col, v);

	buf_init(&u);
	for (p = v; *p != '\0'; p++)
		if (!(p[0] == '\r' && p[1] == '\n'))
			buf_add(&u, p, 1);
		else
			p++;
	buf_init(&out);
	p = u.data != NULL ? u.data : "";
	/* white space after the colon is not part of the value */
	p += strspn(p, " \t");
	while (*p != '\0') {
		ws = p;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "=?UTF-8?Q?", 10) == 0) {
			const char	*e = strstr(p + 10, "?=");
			size_t		 start;

			assert_non_null(e);
			if ((size_t)(e + 2 - p) > 75)
				fail_msg("encoded word of %zu: %.*s",
				    (size_t)(e + 2 - p), (int)(e + 2 - p), p);
			if (!prev_ew)
				buf_add(&out, ws, (size_t)(p - ws));
			start = out.len;
			for (const char *q = p + 10; q < e; q++) {
				if (*q == '_')
					buf_add(&out, " ", 1);
				else if (*q == '=') {
					int	h = hexval(q[1]), l = hexval(q[2]);
					char	c;

					if (h < 0 || l < 0)
						fail_msg("bad escape in %s", v);
					c = (char)(h * 16 + l);
					buf_add(&out, &c, 1);
					q += 2;
				} else if (strchr("?= \t", *q) != NULL ||
				    (unsigned char)*q > 0x7e)
					fail_msg("raw '%c' in word: %s", *q, v);
				else
					buf_add(&out, q, 1);
			}
			if (!utf8_ok((unsigned char *)out.data + start,
			    out.len - start))
				fail_msg("word splits a UTF-8 sequence: %s", v);
			p = e + 2;
			prev_ew = 1;
		} else {
			const char *e = p + strcspn(p, " \t");

			buf_add(&out, ws, (size_t)(e - ws));
			p = e;
			prev_ew = 0;
		}
	}
	buf_free(&u);
	return buf_take(&out);
}

/* Decodes quoted-printable strictly: CRLF only, lines of at most 76, no
   trailing white space, every "=" an escape or a soft break. */
static char *
qp_decode(const char *s)
{
	struct buf	 out;
	size_t		 col = 0;

	buf_init(&out);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '\r' || *p == '\n') {
			if (p[0] != '\r' || p[1] != '\n')
				fail_msg("bare CR or LF in: %s", s);
			if (p > s && (p[-1] == ' ' || p[-1] == '\t'))
				fail_msg("trailing white space in: %s", s);
			buf_add(&out, "\r\n", 2);
			p++;
			col = 0;
			continue;
		}
		if (*p == '=') {
			if (p[1] == '\r' && p[2] == '\n') {
				if (col + 1 > 76)
					fail_msg("line too long in: %s", s);
				p += 2;
				col = 0;
				continue;
			}
			if (hexval(p[1]) < 0 || hexval(p[2]) < 0)
				fail_msg("bad escape in: %s", s);
			buf_addf(&out, "%c", (char)(hexval(p[1]) * 16 +
			    hexval(p[2])));
			p += 2;
			col += 3;
		} else {
			if ((unsigned char)*p > 0x7e ||
			    ((unsigned char)*p < 0x20 && *p != '\t'))
				fail_msg("raw byte 0x%02x in: %s",
				    (unsigned char)*p, s);
			buf_add(&out, p, 1);
			col++;
		}
		if (col > 76)
			fail_msg("line too long in: %s", s);
	}
	return buf_take(&out);
}

/* LF -> CRLF, as a message carries text. */
static char *
crlf(const char *s)
{
	struct buf	b;

	buf_init(&b);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '\n' && (p == s || p[-1] != '\r'))
			buf_add(&b, "\r", 1);
		buf_add(&b, p, 1);
	}
	return buf_take(&b);
}

/* ---- RFC 2047 ----------------------------------------------------------- */

static void
test_encode_header_vectors(void **state)
{
	static const struct {
		const char	*in;
		size_t		 used;
		const char	*want;	/* NULL: only the round trip */
	} cases[] = {
		{ "Hello world", 9, "Hello world" },
		{ "Comunità", 9, "=?UTF-8?Q?Comunit=C3=A0?=" },
		{ "a_b=c?d \"e\"", 9, "a_b=c?d \"e\"" },
		/* looks encoded: must be encoded */
		{ "=?UTF-8?Q?x?=", 9, "=?UTF-8?Q?=3D=3FUTF-8=3FQ=3Fx=3F=3D?=" },
		{ "perché sì", 9, "=?UTF-8?Q?perch=C3=A9_s=C3=AC?=" },
		/* controls become one space, ends trimmed */
		{ " a\r\nBcc: b\t", 9, "a Bcc: b" },
		{ "", 9, "" },
		{ "Richiesta n. 123 (portabilità (art. 20)) – Comunità della "
		  "Val di Non: termine scaduto il 2025-02-10", 9, NULL },
		{ "Request no. 123 (automated decision-making (art. 22)) – "
		  "Comune di San Michele all'Adige: decide on an extension by "
		  "2025-02-10", 9, NULL },
		{ "àèìòù àèìòù àèìòù àèìòù àèìòù àèìòù àèìòù àèìòù àèìòù",
		  9, NULL },
		{ "\xf0\x9f\x93\x85\xf0\x9f\x93\x85\xf0\x9f\x93\x85\xf0\x9f"
		  "\x93\x85\xf0\x9f\x93\x85\xf0\x9f\x93\x85\xf0\x9f\x93\x85",
		  60, NULL },
		{ "x", 70, NULL },
		{ "Un oggetto lungo ma tutto ASCII che deve essere ripiegato "
		  "prima di settantotto caratteri, su piu righe", 9, NULL },
		{ "Parola-lunghissima-senza-spazi-che-non-si-puo-ripiegare-"
		  "in-nessun-punto-della-riga", 9, NULL },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		char	*enc = mail_encode_header(cases[i].in, cases[i].used);
		char	*dec = hdr_decode(enc, cases[i].used);
		char	*want = NULL;

		if (cases[i].want != NULL)
			assert_string_equal(enc, cases[i].want);
		/* the round trip; controls and end spaces are not kept */
		if (i == 5)
			want = xstrdup("a Bcc: b");
		else
			want = xstrdup(cases[i].in);
		if (strcmp(dec, want) != 0)
			fail_msg("case %zu: %s -> %s -> %s", i, cases[i].in,
			    enc, dec);
		free(want);
		free(dec);
		free(enc);
	}
}

/* A long Italian subject takes several words, each within its limits. */
static void
test_encode_header_long(void **state)
{
	const char	*in = "Richiesta n. 4711 (processo decisionale "
	    "automatizzato (art. 22)) – Comunità della Val di Non: decidere "
	    "sulla proroga entro il 2025-02-10";
	char		*enc, *dec;
	int		 words = 0;

	(void)state;
	enc = mail_encode_header(in, 9);
	for (const char *p = enc; (p = strstr(p, "=?UTF-8?Q?")) != NULL; p++)
		words++;
	assert_true(words >= 3);
	dec = hdr_decode(enc, 9);
	assert_string_equal(dec, in);
	free(dec);
	free(enc);
}

/* Random text of awkward characters: the round trip always holds. */
static void
test_encode_header_random(void **state)
{
	static const char *const atoms[] = { "a", " ", "=", "?", "_", "è",
	    "–", "\xf0\x9f\x93\x85", "Z", ".", "(", "\"" };
	unsigned	seed = 12345;

	(void)state;
	for (int round = 0; round < 500; round++) {
		struct buf	 b;
		char		*enc, *dec, *want;
		int		 n;

		buf_init(&b);
		seed = seed * 1103515245 + 12345;
		n = (int)(seed >> 16) % 80 + 1;
		for (int i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			buf_adds(&b, atoms[(seed >> 16) % nitems(atoms)]);
		}
		/* what header_clean keeps: no end spaces, single spaces */
		want = xstrdup(b.data);
		for (char *p = want, *w = want;; p++) {
			if (*p == ' ' && (w == want || w[-1] == ' '))
				continue;
			*w++ = *p;
			if (*p == '\0') {
				if (w - 2 >= want && w[-2] == ' ')
					w[-2] = '\0';
				break;
			}
		}
		enc = mail_encode_header(b.data, (size_t)(round % 72));
		dec = hdr_decode(enc, (size_t)(round % 72));
		if (strcmp(dec, want) != 0)
			fail_msg("round %d: [%s] -> %s -> [%s]", round, want,
			    enc, dec);
		free(dec);
		free(enc);
		free(want);
		buf_free(&b);
	}
}

/* ---- RFC 2045 ----------------------------------------------------------- */

static void
test_qp_vectors(void **state)
{
	static const struct {
		const char	*in;
		const char	*want;
	} cases[] = {
		{ "", "" },
		{ "plain\n", "plain\r\n" },
		{ "a=b", "a=3Db" },
		{ "caffè", "caff=C3=A8" },
		{ "x \ny\t\n", "x=20\r\ny=09\r\n" },
		{ "in mezzo  resta", "in mezzo  resta" },
		{ "crlf\r\nlf\nend", "crlf\r\nlf\r\nend" },
		{ ".\n..\na.\n", "=2E\r\n=2E.\r\na.\r\n" },
		{ "From me\nFrom\n", "=46rom me\r\nFrom\r\n" },
		{ "\n\n", "\r\n\r\n" },
		{ "a\rb", "a=0Db" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaa",
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaa" },	/* 76: fits */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaaab",
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaa=\r\nab" },	/* 77: one soft break */
		/* an escape is never split: 74 a's then è */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaè",
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaa=\r\n=C3=A8" },
		/* a dot moved to the start of a line by a soft break */
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaa.b",
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  "aaaaaaaaaaaaaa=\r\n=2Eb" },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		char	*enc = mail_qp(cases[i].in);
		char	*dec = qp_decode(enc);
		char	*want = crlf(cases[i].in);

		if (strcmp(enc, cases[i].want) != 0)
			fail_msg("case %zu: got [%s] want [%s]", i, enc,
			    cases[i].want);
		assert_string_equal(dec, want);
		free(want);
		free(dec);
		free(enc);
	}
}

static void
test_qp_random(void **state)
{
	static const char *const atoms[] = { "a", " ", "\t", "=", ".", "è",
	    "–", "\n", "\r\n", "\xf0\x9f\x93\x85", "From ", "x", "y", "\r" };
	unsigned	seed = 777;

	(void)state;
	for (int round = 0; round < 2000; round++) {
		struct buf	 b;
		char		*enc, *dec, *want;
		int		 n;

		buf_init(&b);
		seed = seed * 1103515245 + 12345;
		n = (int)(seed >> 16) % 300;
		for (int i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			buf_adds(&b, atoms[(seed >> 16) % nitems(atoms)]);
		}
		enc = mail_qp(b.data != NULL ? b.data : "");
		dec = qp_decode(enc);
		want = crlf(b.data != NULL ? b.data : "");
		if (strcmp(dec, want) != 0)
			fail_msg("round %d: %s", round, enc);
		/* no encoded line starts with a dot */
		assert_int_not_equal(enc[0], '.');
		assert_null(strstr(enc, "\n."));
		free(want);
		free(dec);
		free(enc);
		buf_free(&b);
	}
}

/* ---- the whole message -------------------------------------------------- */

/* The value of the one header called name (unfolded with its CRLFs kept);
   fails when there is none or more than one. */
static char *
header(const char *msg, const char *name)
{
	const char	*end = strstr(msg, "\r\n\r\n"), *p = msg, *found = NULL;
	size_t		 n = strlen(name);
	const char	*e;

	assert_non_null(end);
	while (p < end) {
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			if (found != NULL)
				fail_msg("header %s twice", name);
			found = p;
		}
		p = strstr(p, "\r\n") + 2;
	}
	if (found == NULL)
		fail_msg("no header %s", name);
	found += n + 1;
	if (*found == ' ')
		found++;
	for (e = found; !(e[0] == '\r' && e[1] == '\n' && e[2] != ' ' &&
	    e[2] != '\t'); e++)
		;
	return xstrndup(found, (size_t)(e - found));
}

static void
test_build(void **state)
{
	const char	*subject = "Richiesta n. 2 (accesso (art. 15)) – "
	    "Comunità della Val di Non: termine scaduto il 2025-02-10";
	const char	*body = "Riga uno, con l'accento: è.\n.\n\nUltima "
	    "riga con spazio finale \n";
	char		*msg, *v, *dec, *bodyenc, *want;
	size_t		 len;
	const char	*names[] = { "Date", "Message-ID", "From", "To",
	    "Subject", "MIME-Version", "Content-Type",
	    "Content-Transfer-Encoding" };

	(void)state;
	msg = mail_build("dsrd@comune.example.it", "Consorzio dei Comuni "
	    "Trentini – DPO", "dpo@example.it", subject,
	    body, "0d5e8b1c-2f4a-4c3e-9b7a-6f1e2d3c4b5a", 1764000000, &len);
	assert_int_equal(len, strlen(msg));

	/* CRLF only, and header lines within 78 */
	for (size_t i = 0; i < len; i++) {
		if (msg[i] == '\n')
			assert_true(i > 0 && msg[i - 1] == '\r');
		if (msg[i] == '\r')
			assert_true(msg[i + 1] == '\n');
	}
	for (const char *p = msg, *e; p < strstr(msg, "\r\n\r\n"); p = e + 2) {
		e = strstr(p, "\r\n");
		assert_true(e - p <= 78);
	}
	assert_int_equal(memcmp(msg + len - 2, "\r\n", 2), 0);

	for (size_t i = 0; i < nitems(names); i++)
		free(header(msg, names[i]));
	v = header(msg, "Date");
	assert_string_equal(v, "Mon, 24 Nov 2025 16:00:00 +0000");
	free(v);
	v = header(msg, "Message-ID");
	assert_string_equal(v, "<0d5e8b1c-2f4a-4c3e-9b7a-6f1e2d3c4b5a"
	    "@comune.example.it>");
	free(v);
	v = header(msg, "To");
	assert_string_equal(v, "dpo@example.it");
	free(v);
	v = header(msg, "MIME-Version");
	assert_string_equal(v, "1.0");
	free(v);
	v = header(msg, "Content-Type");
	assert_string_equal(v, "text/plain; charset=UTF-8");
	free(v);
	v = header(msg, "Content-Transfer-Encoding");
	assert_string_equal(v, "quoted-printable");
	free(v);
	v = header(msg, "Subject");
	dec = hdr_decode(v, strlen("Subject: "));
	assert_string_equal(dec, subject);
	free(dec);
	free(v);
	v = header(msg, "From");
	assert_non_null(strstr(v, " <dsrd@comune.example.it>"));
	/* the address may have been folded onto a line of its own */
	*strstr(v, " <dsrd@") = '\0';
	if (strlen(v) >= 2 && strcmp(v + strlen(v) - 2, "\r\n") == 0)
		v[strlen(v) - 2] = '\0';
	dec = hdr_decode(v, strlen("From: "));
	assert_string_equal(dec, "Consorzio dei Comuni Trentini – DPO");
	free(dec);
	free(v);

	bodyenc = xstrdup(strstr(msg, "\r\n\r\n") + 4);
	dec = qp_decode(bodyenc);
	want = crlf(body);
	assert_string_equal(dec, want);
	assert_null(strstr(bodyenc, "\r\n.\r\n"));
	free(want);
	free(dec);
	free(bodyenc);
	free(msg);
}

/* Nothing from the inputs adds a header line. */
static void
test_build_injection(void **state)
{
	char	*msg, *v;
	size_t	 len;

	(void)state;
	msg = mail_build("dsrd@x.it\r\nBcc: a@evil.example", "Name\r\nBcc: "
	    "b@evil.example", "to@x.it\nBcc: c@evil.example", "Oggetto\r\n"
	    "Bcc: d@evil.example", "body", "id\r\nBcc: e@evil", 0, &len);
	assert_null(strstr(msg, "\r\nBcc"));
	assert_null(strstr(msg, "\nBcc"));
	v = header(msg, "Subject");
	assert_string_equal(v, "Oggetto Bcc: d@evil.example");
	free(v);
	v = header(msg, "Date");
	assert_string_equal(v, "Thu, 1 Jan 1970 00:00:00 +0000");
	free(v);
	/* the body's lone line end becomes CRLF */
	assert_int_equal(memcmp(msg + len - 6, "body\r\n", 6), 0);
	free(msg);

	/* A display name with specials is quoted; none at all is allowed. */
	msg = mail_build("a@x.it", "DPO, \"CCT\"", "b@x.it", "s", "b\n",
	    "<given@x.it>", 0, &len);
	v = header(msg, "From");
	assert_string_equal(v, "\"DPO, \\\"CCT\\\"\" <a@x.it>");
	free(v);
	v = header(msg, "Message-ID");
	assert_string_equal(v, "<given@x.it>");
	free(v);
	free(msg);
	msg = mail_build("a@x.it", NULL, "b@x.it", "s", "b\n", "m1", 0, &len);
	v = header(msg, "From");
	assert_string_equal(v, "a@x.it");
	free(v);
	free(msg);
}

static void
test_message_id(void **state)
{
	static const struct {
		const char	*id;
		const char	*from;
		const char	*want;
	} cases[] = {
		{ "6a1f", "dsrd@comune.cles.tn.it", "<6a1f@comune.cles.tn.it>" },
		{ "6a1f", "<dsrd@example.it>", "<6a1f@example.it>" },
		{ "6a1f", "no-domain", "<6a1f@dsrd.invalid>" },
		{ "a b<c>@d\r\n", "x@y.it", "<abcd@y.it>" },
	};

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		char	*a = mail_message_id(cases[i].id, cases[i].from);
		char	*b = mail_message_id(cases[i].id, cases[i].from);

		assert_string_equal(a, cases[i].want);
		assert_string_equal(a, b);	/* stable across retries */
		free(a);
		free(b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render_all),
		cmocka_unit_test(test_templates_use_known_names),
		cmocka_unit_test_setup_teardown(test_render_rules, tmp_setup,
		    tmp_teardown),
		cmocka_unit_test_setup_teardown(test_render_cache, tmp_setup,
		    tmp_teardown),
		cmocka_unit_test_setup_teardown(test_render_values, tmp_setup,
		    tmp_teardown),
		cmocka_unit_test(test_encode_header_vectors),
		cmocka_unit_test(test_encode_header_long),
		cmocka_unit_test(test_encode_header_random),
		cmocka_unit_test(test_qp_vectors),
		cmocka_unit_test(test_qp_random),
		cmocka_unit_test(test_build),
		cmocka_unit_test(test_build_injection),
		cmocka_unit_test(test_message_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
