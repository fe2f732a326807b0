/*
 * mail.c: one e-mail message of a notification. It renders the template of
 * an event (a file the administrator may edit) from the notification's
 * payload, and builds the RFC 5322 message that libcurl sends as it is:
 * CRLF line ends, Date, Message-ID, an RFC 2047 Subject, a UTF-8 body in
 * quoted-printable. It reads the template files and nothing else. Its one
 * piece of state is the cache of templates of mail_render (one thread
 * only: the main loop's); the rest is pure and safe in any thread. It must
 * never let a CR or LF of its inputs into a header, never emit a bare LF,
 * and never log: a rendered message may carry a data subject's name.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <cJSON.h>

#include "mail.h"
#include "util.h"
#include "validate.h"

/* A template larger than this is a mistake, not a message. */
#define MAIL_TEMPLATE_MAX	(64 * 1024)
/* RFC 2047 §2: an encoded word is at most 75 characters, and a header line
   that holds one at most 76. */
#define EW_MAX		75
#define EW_LINE_MAX	76
#define EW_PREFIX	"=?UTF-8?Q?"
#define EW_OVERHEAD	(sizeof(EW_PREFIX) - 1 + 2)	/* and "?=" */
/* RFC 5322 §2.1.1: lines SHOULD be at most 78 characters. */
#define HDR_LINE_MAX	78
/* RFC 2045 §6.7 (5): encoded lines at most 76 characters. */
#define QP_LINE_MAX	76

static const char hexdig[] = "0123456789ABCDEF";

/* The languages the labels below are written in; a template directory of
   another language gets the English labels. */
enum mail_lang {
	ML_IT,
	ML_EN,
	ML_COUNT
};

struct label {
	const char	*key;
	const char	*text[ML_COUNT];
};

static const struct label type_labels[] = {
	{ "access", { "accesso (art. 15)", "access (art. 15)" } },
	{ "rectification", { "rettifica (art. 16)", "rectification (art. 16)" } },
	{ "erasure", { "cancellazione (art. 17)", "erasure (art. 17)" } },
	{ "restriction", { "limitazione (art. 18)", "restriction (art. 18)" } },
	{ "portability", { "portabilità (art. 20)", "portability (art. 20)" } },
	{ "objection", { "opposizione (art. 21)", "objection (art. 21)" } },
	{ "automated_decision", { "processo decisionale automatizzato "
	    "(art. 22)", "automated decision-making (art. 22)" } },
};

static const struct label status_labels[] = {
	{ "received", { "ricevuta", "received" } },
	{ "forwarded", { "inoltrata all'ente", "forwarded to the body" } },
	{ "awaiting_subject", { "in attesa dell'interessato",
	    "awaiting the data subject" } },
	{ "completed", { "evasa", "completed" } },
	{ "rejected", { "respinta", "rejected" } },
	{ "withdrawn", { "ritirata dall'interessato",
	    "withdrawn by the data subject" } },
};

static const struct label reject_labels[] = {
	{ "manifestly_unfounded", { "manifestamente infondata (art. 12(5))",
	    "manifestly unfounded (art. 12(5))" } },
	{ "excessive", { "eccessiva (art. 12(5))", "excessive (art. 12(5))" } },
	{ "identity_not_verified", { "identità non verificata (art. 12(6))",
	    "identity not verified (art. 12(6))" } },
	{ "exemption", { "esenzione (ad es. art. 17(3))",
	    "exemption (e.g. art. 17(3))" } },
	{ "not_applicable", { "non applicabile", "not applicable" } },
	{ "other", { "altro motivo", "other reason" } },
};

static const struct label channel_labels[] = {
	{ "email", { "e-mail", "e-mail" } },
	{ "pec", { "PEC", "PEC (certified e-mail)" } },
	{ "paper", { "posta cartacea", "paper mail" } },
	{ "counter", { "sportello", "counter" } },
	{ "web", { "web", "web" } },
	{ "phone", { "telefono", "phone" } },
};

static const char *const month_names[ML_COUNT][12] = {
	{ "gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno",
	  "luglio", "agosto", "settembre", "ottobre", "novembre", "dicembre" },
	{ "January", "February", "March", "April", "May", "June", "July",
	  "August", "September", "October", "November", "December" },
};
/* Monday first. */
static const char *const weekday_names[ML_COUNT][7] = {
	{ "lunedì", "martedì", "mercoledì", "giovedì", "venerdì", "sabato",
	  "domenica" },
	{ "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
	  "Sunday" },
};

/* The request's dates, each as it is and in long form. */
static const struct {
	const char	*name;
	const char	*long_name;
} date_fields[] = {
	{ "received_on", "received_on_long" },
	{ "forwarded_on", "forwarded_on_long" },
	{ "statutory_due_on", "statutory_due_on_long" },
	{ "operational_due_on", "operational_due_on_long" },
	{ "due_on", "due_on_long" },
	{ "closed_on", "closed_on_long" },
};

/* The values of one rendering, by placeholder name. */
struct vars {
	struct {
		const char	*name;
		char		*value;
	}	 v[64];
	int	 n;
};

static void
vars_set(struct vars *vs, const char *name, char *value)
{
	/* Values are single-line fields: a CR, LF or other control
	   character (from the database or the config) becomes a space, so
	   that it can neither break a header nor forge a template line. */
	for (char *p = value; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	if (vs->n == (int)nitems(vs->v))
		abort();	/* a programming error: the table is fixed */
	vs->v[vs->n].name = name;
	vs->v[vs->n].value = value;
	vs->n++;
}

static const char *
vars_get(const struct vars *vs, const char *name, size_t len)
{
	for (int i = 0; i < vs->n; i++)
		if (strlen(vs->v[i].name) == len &&
		    memcmp(vs->v[i].name, name, len) == 0)
			return vs->v[i].value;
	return NULL;
}

static void
vars_free(struct vars *vs)
{
	for (int i = 0; i < vs->n; i++)
		free(vs->v[i].value);
	vs->n = 0;
}

static const char *
label_of(const struct label *tab, size_t n, const char *key,
    enum mail_lang lang)
{
	if (key == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strcmp(tab[i].key, key) == 0)
			return tab[i].text[lang];
	return key;	/* a value we have no words for: shown as it is */
}

/* A JSON member as text: strings as they are, integers in decimal,
   booleans as true/false; null, absent and anything else as "". */
static char *
json_text(const cJSON *obj, const char *name)
{
	const cJSON	*it;

	it = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (cJSON_IsString(it) && it->valuestring != NULL)
		return xstrdup(it->valuestring);
	/* cJSON keeps numbers as doubles: an id is exact below 2^53 */
	if (cJSON_IsNumber(it) && it->valuedouble > -9e15 &&
	    it->valuedouble < 9e15)
		return xasprintf("%lld", (long long)it->valuedouble);
	if (cJSON_IsNumber(it))
		return xasprintf("%g", it->valuedouble);
	if (cJSON_IsBool(it))
		return xstrdup(cJSON_IsTrue(it) ? "true" : "false");
	return xstrdup("");
}

/* Day of the week (0 = Monday) of a proleptic Gregorian date, by the
   days-from-civil count (H. Hinnant), so no libc time zone is involved. */
static int
weekday_of(int y, int m, int d)
{
	long	era, yoe, doy, doe, days;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	days = era * 146097 + doe - 719468;	/* 0 = 1970-01-01, a Thursday */
	return (int)(((days % 7) + 7 + 3) % 7);
}

/* "2026-03-02" -> "lunedì 2 marzo 2026" / "Monday 2 March 2026"; anything
   that is not such a date is returned as it is. */
static char *
date_long(const char *iso, enum mail_lang lang)
{
	int	y, m, d, n = 0;
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	if (strlen(iso) != 10 ||
	    sscanf(iso, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
	    m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return xstrdup(iso);
	/* Italian writes the first of the month as an ordinal: "1° marzo". */
	return xasprintf("%s %d%s %s %d", weekday_names[lang][weekday_of(y, m,
	    d)], d, lang == ML_IT && d == 1 ? "°" : "", month_names[lang][m - 1],
	    y);
}

/*
 * The tasks of a request.tasks_assigned payload, one per line: the
 * activity and its office, or the recipient to tell (art. 19). Names of
 * activities and processors come from the body's register, never from the
 * data subject. Heap, caller frees; "" without tasks.
 */
static char *
tasks_text(const cJSON *payload, enum mail_lang lang)
{
	const cJSON	*tasks, *t;
	struct buf	 b;
	char		*id, *what, *office;

	buf_init(&b);
	tasks = cJSON_GetObjectItemCaseSensitive(payload, "tasks");
	cJSON_ArrayForEach(t, tasks) {
		id = json_text(t, "id");
		office = json_text(t, "office");
		what = json_text(t, "recipient");
		if (what[0] != '\0')
			buf_addf(&b, "  n. %s  %s: %s\n", id,
			    lang == ML_IT ? "comunicazione al destinatario "
			    "(art. 19)" : "notice to the recipient (art. 19)",
			    what);
		else {
			free(what);
			what = json_text(t, "activity");
			buf_addf(&b, "  n. %s  %s%s%s%s\n", id, what,
			    office[0] ? " (" : "", office,
			    office[0] ? ")" : "");
		}
		free(id);
		free(what);
		free(office);
	}
	if (b.len > 0)		/* the template ends the last line */
		b.data[--b.len] = '\0';
	return buf_take(&b);
}

static void
vars_fill(struct vars *vs, const cJSON *payload, enum mail_lang lang,
    const char *entity_name, const char *subject_name, const char *dpo_name)
{
	const cJSON	*req, *alert, *failed;
	char		*type, *status, *outcome, *reason, *channel, *days;
	char		*entity;
	long long	 n;

	req = cJSON_GetObjectItemCaseSensitive(payload, "request");
	alert = cJSON_GetObjectItemCaseSensitive(payload, "alert");

	vars_set(vs, "event", json_text(payload, "event"));
	vars_set(vs, "event_at", json_text(payload, "at"));
	vars_set(vs, "request_id", json_text(req, "id"));
	entity = json_text(req, "entity");
	vars_set(vs, "entity_name", xstrdup(entity_name != NULL &&
	    *entity_name != '\0' ? entity_name : entity));
	vars_set(vs, "entity", entity);

	type = json_text(req, "type");
	vars_set(vs, "type_label", xstrdup(label_of(type_labels,
	    nitems(type_labels), type, lang)));
	vars_set(vs, "type", type);
	status = json_text(req, "status");
	vars_set(vs, "status_label", xstrdup(label_of(status_labels,
	    nitems(status_labels), status, lang)));
	vars_set(vs, "status", status);
	outcome = json_text(req, "outcome");
	vars_set(vs, "outcome_label", xstrdup(label_of(status_labels,
	    nitems(status_labels), outcome, lang)));
	vars_set(vs, "outcome", outcome);
	reason = json_text(req, "reject_reason");
	vars_set(vs, "reject_reason_label", xstrdup(label_of(reject_labels,
	    nitems(reject_labels), reason, lang)));
	vars_set(vs, "reject_reason", reason);
	channel = json_text(req, "channel");
	vars_set(vs, "channel_label", xstrdup(label_of(channel_labels,
	    nitems(channel_labels), channel, lang)));
	vars_set(vs, "channel", channel);
	vars_set(vs, "protocol", json_text(req, "protocol"));
	vars_set(vs, "extended", json_text(req, "extended"));

	for (size_t i = 0; i < nitems(date_fields); i++) {
		char	*v = json_text(req, date_fields[i].name);

		vars_set(vs, date_fields[i].long_name, date_long(v, lang));
		vars_set(vs, date_fields[i].name, v);
	}

	vars_set(vs, "alert_kind", json_text(alert, "kind"));
	vars_set(vs, "alert_moment", json_text(alert, "moment"));
	vars_set(vs, "alert_due_on", json_text(alert, "due_on"));
	vars_set(vs, "alert_due_on_long", date_long(vars_get(vs,
	    "alert_due_on", strlen("alert_due_on")), lang));
	days = json_text(alert, "days_before");
	if (parse_int(days, 0, 100000, &n) == 0)
		vars_set(vs, "alert_days_before_text", xasprintf("%lld %s", n,
		    lang == ML_IT ? (n == 1 ? "giorno" : "giorni") :
		    (n == 1 ? "day" : "days")));
	else
		vars_set(vs, "alert_days_before_text", xstrdup(""));
	vars_set(vs, "alert_days_before", days);

	failed = cJSON_GetObjectItemCaseSensitive(payload, "failed");
	vars_set(vs, "failed_id", json_text(failed, "id"));
	vars_set(vs, "failed_event", json_text(failed, "event"));
	vars_set(vs, "failed_channel", json_text(failed, "channel"));
	vars_set(vs, "failed_recipient", json_text(failed, "recipient"));
	vars_set(vs, "failed_attempts", json_text(failed, "attempts"));
	vars_set(vs, "failed_error", json_text(failed, "error"));

	vars_set(vs, "subject_name", xstrdup(subject_name != NULL ?
	    subject_name : ""));
	vars_set(vs, "dpo_name", xstrdup(dpo_name != NULL ? dpo_name : ""));
	vars_set(vs, "tasks_text", tasks_text(payload, lang));
}

/*
 * Replaces the placeholders of one line of text. "{{name}}" (spaces inside
 * the braces allowed) becomes its value, or "" for a name we do not know;
 * a "{{" without its "}}" is left as it is.
 */
static void
subst(struct buf *out, const char *s, size_t len, const struct vars *vs)
{
	const char	*end = s + len, *open, *close, *name, *v;
	size_t		 nlen;

	while (s < end) {
		open = memmem(s, (size_t)(end - s), "{{", 2);
		close = open != NULL ? memmem(open + 2, (size_t)(end - open -
		    2), "}}", 2) : NULL;
		if (close == NULL) {
			buf_add(out, s, (size_t)(end - s));
			return;
		}
		buf_add(out, s, (size_t)(open - s));
		name = open + 2;
		while (name < close && *name == ' ')
			name++;
		nlen = (size_t)(close - name);
		while (nlen > 0 && name[nlen - 1] == ' ')
			nlen--;
		if ((v = vars_get(vs, name, nlen)) != NULL)
			buf_adds(out, v);
		s = close + 2;
	}
}

/*
 * A line may start with conditions: "{{?name}}" keeps it only when name is
 * not empty, "{{!name}}" only when it is empty (e.g. a line that shows the
 * data subject's name, and the line that says the message carries none).
 * Returns whether to keep the line; *rest is past the conditions.
 */
static int
line_wanted(const char *s, const char *end, const struct vars *vs,
    const char **rest)
{
	const char	*close, *v;
	int		 keep = 1, neg;

	while (end - s > 5 && s[0] == '{' && s[1] == '{' &&
	    (s[2] == '?' || s[2] == '!')) {
		neg = s[2] == '!';
		close = memmem(s + 3, (size_t)(end - s - 3), "}}", 2);
		if (close == NULL)
			break;
		v = vars_get(vs, s + 3, (size_t)(close - s - 3));
		if ((v != NULL && *v != '\0') == neg)
			keep = 0;
		s = close + 2;
	}
	*rest = s;
	return keep;
}

static void
render_text(struct buf *out, const char *s, const struct vars *vs)
{
	const char	*eol, *rest;

	while (*s != '\0') {
		eol = strchr(s, '\n');
		if (eol == NULL)
			eol = s + strlen(s);
		if (line_wanted(s, eol, vs, &rest)) {
			subst(out, rest, (size_t)(eol - rest), vs);
			if (*eol == '\n')
				buf_add(out, "\n", 1);
		}
		s = *eol == '\n' ? eol + 1 : eol;
	}
}

/* Whether s[0..len) is well-formed UTF-8 (no overlongs, surrogates or
   code points past U+10FFFF). */
static int
utf8_valid(const unsigned char *s, size_t len)
{
	size_t		i = 0, n;
	unsigned	cp, min;

	while (i < len) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			n = 1, cp = s[i] & 0x1f, min = 0x80;
		} else if ((s[i] & 0xf0) == 0xe0) {
			n = 2, cp = s[i] & 0x0f, min = 0x800;
		} else if ((s[i] & 0xf8) == 0xf0) {
			n = 3, cp = s[i] & 0x07, min = 0x10000;
		} else
			return 0;
		if (len - i - 1 < n)
			return 0;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n + 1;
	}
	return 1;
}

/* Reads a template into a NUL-terminated string with LF line ends. */
static char *
read_template(const char *path, char **cause)
{
	FILE		*f;
	struct buf	 b;
	char		 chunk[4096];
	size_t		 n;
	char		*s, *w;

	if ((f = fopen(path, "r")) == NULL) {
		*cause = xasprintf("template %s: %s", path, strerror(errno));
		return NULL;
	}
	buf_init(&b);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		buf_add(&b, chunk, n);
		if (b.len > MAIL_TEMPLATE_MAX)
			break;
	}
	if (ferror(f) || b.len > MAIL_TEMPLATE_MAX) {
		*cause = b.len > MAIL_TEMPLATE_MAX ?
		    xasprintf("template %s: larger than %d bytes", path,
		    MAIL_TEMPLATE_MAX) :
		    xasprintf("template %s: read error", path);
		fclose(f);
		buf_free(&b);
		return NULL;
	}
	fclose(f);
	if (memchr(b.data, '\0', b.len) != NULL ||
	    !utf8_valid((const unsigned char *)b.data, b.len)) {
		*cause = xasprintf("template %s: not UTF-8 text", path);
		buf_free(&b);
		return NULL;
	}
	s = buf_take(&b);
	/* A byte order mark is what some editors put first: not text. */
	if (strncmp(s, "\xef\xbb\xbf", 3) == 0)
		memmove(s, s + 3, strlen(s + 3) + 1);
	/* CRLF (an editor on Windows) -> LF */
	for (w = s, n = 0; s[n] != '\0'; n++)
		if (!(s[n] == '\r' && s[n + 1] == '\n'))
			*w++ = s[n];
	*w = '\0';
	return s;
}

/*
 * Templates as read_template left them, by path, so that a mail costs a
 * stat() and not an open, a read and a UTF-8 check. An entry serves as
 * long as the file has the same device, inode, size and modification time
 * (an edit takes effect at the next mail, as without the cache; an editor
 * that writes a new file makes a new inode). Only mail_render uses it, on
 * one thread.
 */
#define TPL_CACHE_MAX	64

struct tpl_ent {
	char		*path;
	char		*text;
	dev_t		 dev;
	ino_t		 ino;
	off_t		 size;
	struct timespec	 mtime;
};

static struct tpl_ent	tpl_cache[TPL_CACHE_MAX];
static int		tpl_n;

static int
tpl_same(const struct tpl_ent *e, const struct stat *st)
{
	return e->dev == st->st_dev && e->ino == st->st_ino &&
	    e->size == st->st_size &&
	    e->mtime.tv_sec == st->st_mtim.tv_sec &&
	    e->mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* The template at path (owned by the cache), or NULL and *cause. */
static const char *
template_text(const char *path, char **cause)
{
	struct tpl_ent	*e = NULL;
	struct stat	 st;
	char		*text;

	if (stat(path, &st) != 0) {
		*cause = xasprintf("template %s: %s", path, strerror(errno));
		return NULL;
	}
	for (int i = 0; i < tpl_n; i++)
		if (strcmp(tpl_cache[i].path, path) == 0) {
			e = &tpl_cache[i];
			break;
		}
	if (e != NULL && tpl_same(e, &st))
		return e->text;
	/* Stat first, then read: a change during the read is seen next time. */
	if ((text = read_template(path, cause)) == NULL)
		return NULL;
	if (e == NULL) {
		if (tpl_n == TPL_CACHE_MAX)
			mail_template_cache_clear();
		e = &tpl_cache[tpl_n++];
		e->path = xstrdup(path);
	} else
		free(e->text);
	e->text = text;
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->size = st.st_size;
	e->mtime = st.st_mtim;
	return e->text;
}

void
mail_template_cache_clear(void)
{
	for (int i = 0; i < tpl_n; i++) {
		free(tpl_cache[i].path);
		free(tpl_cache[i].text);
	}
	tpl_n = 0;
}

/* "request.filed" or "filed" -> "filed", for a known event only: the name
   becomes part of a path. */
static const char *
event_file_name(const char *event)
{
	const char	*name;

	for (int i = 0; i < NEV_COUNT; i++) {
		name = notify_event_names[i] + strlen("request.");
		if (strcmp(event, notify_event_names[i]) == 0 ||
		    strcmp(event, name) == 0)
			return name;
	}
	/* The escalation of a notification that could not be delivered. */
	if (strcmp(event, "delivery.failed") == 0 ||
	    strcmp(event, "delivery_failed") == 0)
		return "delivery_failed";
	return NULL;
}

int
mail_render(const char *dir, const char *lang, const char *event,
    const struct cJSON *payload, const char *entity_name,
    const char *subject_name, const char *dpo_name, char **subject,
    char **body, char **cause)
{
	struct vars	 vs = { .n = 0 };
	struct buf	 out;
	const char	*name, *text, *eol, *b;
	char		*path, *subj_line;
	size_t		 n;

	*subject = *body = NULL;
	if ((name = event_file_name(event)) == NULL) {
		*cause = xasprintf("no template for event \"%s\"", event);
		return -1;
	}
	n = strlen(lang);
	if (n == 0 || n > 16 || strspn(lang, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != n) {
		*cause = xstrdup("template language: not a language name");
		return -1;
	}
	path = xasprintf("%s/%s/%s.txt", dir, lang, name);
	if ((text = template_text(path, cause)) == NULL) {
		free(path);
		return -1;
	}

	/* "Subject: ..." then a blank line, then the body. */
	eol = strchr(text, '\n');
	if (strncasecmp(text, "Subject:", 8) != 0 || eol == NULL) {
		*cause = xasprintf("template %s: the first line must be "
		    "\"Subject: ...\"", path);
		goto fail;
	}
	subj_line = xstrndup(text + 8, (size_t)(eol - text - 8));
	b = eol + 1;
	n = strspn(b, " \t");
	if (b[n] != '\n' && b[n] != '\0') {
		free(subj_line);
		*cause = xasprintf("template %s: the Subject line must be "
		    "followed by a blank line", path);
		goto fail;
	}
	b += n + (b[n] == '\n');

	vars_fill(&vs, payload, strcmp(lang, "it") == 0 ? ML_IT : ML_EN,
	    entity_name, subject_name, dpo_name);

	buf_init(&out);
	render_text(&out, subj_line, &vs);
	free(subj_line);
	*subject = xstrdup(str_trim(out.data != NULL ? out.data : ""));
	buf_free(&out);
	if (**subject == '\0') {
		free(*subject);
		*subject = NULL;
		vars_free(&vs);
		*cause = xasprintf("template %s: the subject renders empty",
		    path);
		goto fail;
	}
	render_text(&out, b, &vs);
	if (out.len == 0 || out.data[out.len - 1] != '\n')
		buf_add(&out, "\n", 1);
	*body = buf_take(&out);
	vars_free(&vs);
	free(path);
	return 0;

fail:
	free(path);
	return -1;
}

/* Length of the UTF-8 sequence that starts at s (1 for a byte that starts
   none, so that broken input is still encoded byte by byte). */
static size_t
utf8_seqlen(const unsigned char *s)
{
	size_t	n;

	if (s[0] < 0xc0)
		n = 1;
	else if (s[0] < 0xe0)
		n = 2;
	else if (s[0] < 0xf0)
		n = 3;
	else if (s[0] < 0xf8)
		n = 4;
	else
		return 1;
	for (size_t k = 1; k < n; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 1;
	return n;
}

/* A header's text without CR, LF or other controls (each run of them
   becomes one space) and without spaces at either end. */
static char *
header_clean(const char *s)
{
	struct buf	b;
	int		gap = 0;

	buf_init(&b);
	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ' ') {
			gap = 1;
			continue;
		}
		if (gap && b.len > 0)
			buf_add(&b, " ", 1);
		gap = 0;
		buf_add(&b, s, 1);
	}
	return buf_take(&b);
}

/* The Q encoding of one byte. Only the characters that RFC 2047 §5 (3)
   allows in a phrase go as they are, so the same words serve in Subject
   and in a From display name. */
static size_t
q_byte(unsigned char c, char out[3])
{
	if (c == ' ') {
		out[0] = '_';
		return 1;
	}
	if (isalnum(c) && c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c == '!' || c == '*' || c == '+' || c == '-' || c == '/') {
		out[0] = (char)c;
		return 1;
	}
	out[0] = '=';
	out[1] = hexdig[c >> 4];
	out[2] = hexdig[c & 15];
	return 3;
}

static char *
encode_words(const char *s, size_t used)
{
	struct buf	 b;
	const unsigned char *p = (const unsigned char *)s;
	char		 enc[4 * 3], one[3];
	size_t		 n, elen, k, room, wlen = 0;

	buf_init(&b);
	/* What the first word may hold after what is on its line. */
	room = used + EW_OVERHEAD + 12 <= EW_LINE_MAX ?
	    EW_LINE_MAX - used - EW_OVERHEAD : 0;
	if (room > EW_MAX - EW_OVERHEAD)
		room = EW_MAX - EW_OVERHEAD;
	if (room == 0) {
		/* No space on the first line for even one character: start
		   on the next. */
		buf_adds(&b, "\r\n ");
		room = EW_MAX - EW_OVERHEAD;
	}
	buf_adds(&b, EW_PREFIX);
	while (*p != '\0') {
		/* A whole UTF-8 sequence goes into one word: a decoder
		   may decode each word on its own (RFC 2047 §5). */
		n = utf8_seqlen(p);
		for (k = 0, elen = 0; k < n; k++) {
			size_t	l = q_byte(p[k], one);

			memcpy(enc + elen, one, l);
			elen += l;
		}
		if (wlen + elen > room) {
			buf_adds(&b, "?=\r\n " EW_PREFIX);
			room = EW_MAX - EW_OVERHEAD;
			wlen = 0;
		}
		buf_add(&b, enc, elen);
		wlen += elen;
		p += n;
	}
	buf_adds(&b, "?=");
	return buf_take(&b);
}

char *
mail_encode_header(const char *utf8, size_t first_line_used)
{
	struct buf	 b;
	char		*s, *w, *seg, *out;
	size_t		 col, wl;
	int		 plain = 1;

	s = header_clean(utf8);
	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p > 0x7e)
			plain = 0;
	/* Text that looks like an encoded word must be encoded, or a reader
	   would decode it. */
	if (strstr(s, "=?") != NULL)
		plain = 0;
	/* A plain word longer than a line cannot be folded: encode it. */
	for (w = s; plain && *w != '\0'; w += wl) {
		w += strspn(w, " ");
		wl = strcspn(w, " ");
		if (wl + (w == s ? first_line_used : 1) > HDR_LINE_MAX)
			plain = 0;
	}
	if (!plain) {
		out = encode_words(s, first_line_used);
		free(s);
		return out;
	}

	/* Printable ASCII: as it is, folded before a space where a line
	   would pass 78 characters. Each segment is the spaces before a word
	   and the word, so a fold never leaves a line of only spaces. */
	buf_init(&b);
	col = first_line_used;
	for (seg = s; *seg != '\0'; seg = w + wl) {
		w = seg + strspn(seg, " ");
		wl = strcspn(w, " ");
		if (seg != s && col + (size_t)(w - seg) + wl > HDR_LINE_MAX) {
			buf_adds(&b, "\r\n");
			col = 0;
		}
		buf_add(&b, seg, (size_t)(w - seg) + wl);
		col += (size_t)(w - seg) + wl;
	}
	free(s);
	return buf_take(&b);
}

/* A byte that quoted-printable leaves as it is, unless it ends a line. */
#define QP_PLAIN(c)	(((c) >= 0x20 && (c) <= 0x7e && (c) != '=') || \
			    (c) == '\t')

char *
mail_qp(const char *utf8)
{
	const unsigned char *p = (const unsigned char *)utf8, *eol, *end;
	size_t		 col, len, n = strlen(utf8);
	char		*out, *o;
	int		 enc, last;

	/*
	 * Written straight into one allocation, runs of plain text with one
	 * memcpy (this was 19 % of a mail's CPU through buf_add a byte at a
	 * time). A byte takes at most 3 characters and a soft break before
	 * it 3 more; a LF becomes CRLF.
	 */
	out = o = xmalloc(6 * n + 1);
	while (*p != '\0') {
		eol = memchr(p, '\n', n - (size_t)(p - (const unsigned char *)
		    utf8));
		end = eol != NULL ? eol : (const unsigned char *)utf8 + n;
		/* CRLF and LF alike end a line; the CR is not text. */
		if (eol != NULL && end > p && end[-1] == '\r')
			end--;
		col = 0;
		for (const unsigned char *q = p; q < end; q++) {
			/* A run of characters that go as they are (not the
			   line's last, not at a line's start, where "." and
			   "From " are special), copied up to the soft break. */
			if (col > 0 && QP_PLAIN(*q)) {
				const unsigned char *r = q;
				size_t	room = QP_LINE_MAX - 1 - col;

				while (r + 1 < end && (size_t)(r - q) < room &&
				    QP_PLAIN(*r))
					r++;
				if (r > q) {
					memcpy(o, q, (size_t)(r - q));
					o += r - q;
					col += (size_t)(r - q);
					q = r - 1;
					continue;
				}
			}
			last = q + 1 == end;
			if (*q == '=' || *q > 0x7e || (*q < 0x20 && *q != '\t'))
				enc = 1;
			else if (*q == ' ' || *q == '\t')
				enc = last;	/* trailing white space */
			else
				enc = 0;
			len = enc ? 3 : 1;
			/* A soft break, keeping room for its "=" unless this
			   token ends the line. */
			if (col + len > (last ? QP_LINE_MAX : QP_LINE_MAX - 1)) {
				memcpy(o, "=\r\n", 3);
				o += 3;
				col = 0;
			}
			/* At the start of an encoded line (after a hard or a
			   soft break): a line of only "." would end the SMTP
			   DATA phase. libcurl dot-stuffs what it uploads
			   (lib/smtp.c sends "CRLF." as "CRLF..", see curl's
			   tests 803 and 901), but a body that never starts a
			   line with a dot does not depend on that. "From "
			   would get a ">" in an mbox. */
			if (col == 0 && (*q == '.' || (*q == 'F' &&
			    end - q >= 5 && memcmp(q, "From ", 5) == 0))) {
				enc = 1;
				len = 3;
			}
			if (enc) {
				o[0] = '=';
				o[1] = hexdig[*q >> 4];
				o[2] = hexdig[*q & 15];
			} else
				o[0] = (char)*q;
			o += len;
			col += len;
		}
		if (eol == NULL)
			break;
		memcpy(o, "\r\n", 2);
		o += 2;
		p = eol + 1;
	}
	*o = '\0';
	return out;
}

/* The domain of an address (after its last "@", without a closing ">"),
   kept to the characters a domain has. */
static char *
addr_domain(const char *addr)
{
	const char	*at = strrchr(addr, '@');
	struct buf	 b;

	buf_init(&b);
	if (at != NULL)
		for (at++; *at != '\0' && *at != '>'; at++)
			if (isalnum((unsigned char)*at) || *at == '.' ||
			    *at == '-')
				buf_add(&b, at, 1);
	if (b.len == 0)
		buf_adds(&b, "dsrd.invalid");
	return buf_take(&b);
}

char *
mail_message_id(const char *msg_id, const char *from)
{
	struct buf	 b;
	char		*dom, *out;

	/* Only dot-atom characters (RFC 5322 §3.6.4): a UUID passes
	   untouched, anything else cannot break the header. */
	buf_init(&b);
	for (const char *p = msg_id; *p != '\0'; p++)
		if (isalnum((unsigned char)*p) ||
		    strchr("!#$%&'*+-/=?^_`{|}~.", *p) != NULL)
			buf_add(&b, p, 1);
	if (b.len == 0)
		buf_adds(&b, "dsrd");
	dom = addr_domain(from);
	out = xasprintf("<%s@%s>", b.data, dom);
	free(dom);
	buf_free(&b);
	return out;
}

/* RFC 5322 date-time in UTC. The names are spelt out here: strftime's
   %a and %b follow the locale. */
static void
rfc5322_date(time_t t, char out[64])
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	tm;

	if (gmtime_r(&t, &tm) == NULL) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	snprintf(out, 64, "%s, %d %s %04d %02d:%02d:%02d +0000",
	    wd[tm.tm_wday], tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* An address without controls, spaces or angle brackets. */
static char *
addr_clean(const char *s)
{
	struct buf	b;

	buf_init(&b);
	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 0x20 && *s != 0x7f && *s != '<' &&
		    *s != '>')
			buf_add(&b, s, 1);
	return buf_take(&b);
}

/* Characters after the last CRLF of s. */
static size_t
last_line_len(const char *s)
{
	const char	*nl = strrchr(s, '\n');

	return strlen(nl != NULL ? nl + 1 : s);
}

/* The From display name: words of atoms as they are, other ASCII as a
   quoted-string, anything else in encoded words; NULL when empty. */
static char *
from_phrase(const char *name)
{
	struct buf	 b;
	char		*s = header_clean(name), *e;
	int		 ascii = 1, special = 0;

	for (const char *p = s; *p != '\0'; p++) {
		if ((unsigned char)*p > 0x7e)
			ascii = 0;
		else if (strchr("()<>[]:;@\\,.\"", *p) != NULL)
			special = 1;
	}
	if (*s == '\0') {
		free(s);
		return NULL;
	}
	if (!ascii || strstr(s, "=?") != NULL) {
		e = encode_words(s, strlen("From: "));
		free(s);
		return e;
	}
	if (!special) {
		e = mail_encode_header(s, strlen("From: "));
		free(s);
		return e;
	}
	buf_init(&b);
	buf_add(&b, "\"", 1);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_add(&b, "\\", 1);
		buf_add(&b, p, 1);
	}
	buf_add(&b, "\"", 1);
	free(s);
	return buf_take(&b);
}

char *
mail_build(const char *from, const char *from_name, const char *to,
    const char *subject, const char *body, const char *message_id,
    time_t date, size_t *len)
{
	struct buf	 b;
	char		 d[64];
	char		*f, *t, *mid, *subj, *name, *qp;

	f = addr_clean(from);
	t = addr_clean(to);
	/* The caller may pass the outbox's msg_id or a ready Message-ID. */
	if (message_id[0] == '<') {
		char *c = addr_clean(message_id);

		mid = xasprintf("<%s>", c);
		free(c);
	} else
		mid = mail_message_id(message_id, f);
	rfc5322_date(date, d);

	buf_init(&b);
	buf_addf(&b, "Date: %s\r\n", d);
	buf_addf(&b, "Message-ID: %s\r\n", mid);
	name = from_name != NULL ? from_phrase(from_name) : NULL;
	if (name != NULL) {
		size_t	col, max;

		col = strchr(name, '\n') != NULL ? last_line_len(name) :
		    strlen("From: ") + strlen(name);
		/* RFC 2047 §2: a line with an encoded word is shorter. */
		max = strstr(name, "=?") != NULL ? EW_LINE_MAX : HDR_LINE_MAX;
		buf_addf(&b, "From: %s", name);
		/* Fold before the address where it would not fit. */
		if (col + strlen(" <>") + strlen(f) > max)
			buf_adds(&b, "\r\n");
		buf_addf(&b, " <%s>\r\n", f);
		free(name);
	} else
		buf_addf(&b, "From: %s\r\n", f);
	buf_addf(&b, "To: %s\r\n", t);
	subj = mail_encode_header(subject, strlen("Subject: "));
	buf_addf(&b, "Subject: %s\r\n", subj);
	buf_adds(&b, "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n");
	qp = mail_qp(body);
	buf_adds(&b, qp);
	/* End on a line end: libcurl then adds only ".CRLF". */
	if (b.len < 2 || memcmp(b.data + b.len - 2, "\r\n", 2) != 0)
		buf_adds(&b, "\r\n");
	free(qp);
	free(subj);
	free(mid);
	free(t);
	free(f);
	*len = b.len;
	return buf_take(&b);
}
