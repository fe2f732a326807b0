/*
 * mail.c: one e-mail message of a notification. It renders the template of
 * an event (a file the administrator may edit) from the notification's
 * payload, and builds the RFC 5322 message that libcurl sends as it is:
 * CRLF line ends, Date, Message-ID, an RFC 2047 Subject, a UTF-8 body in
 * quoted-printable. It reads the template files and nothing else. Its one
 * piece of state is the cache of templates of mail_render (one thread
 * only: the main loop's), each compiled once into its lines and
 * placeholders; the rest is pure and safe in any thread. A mail is on the
 * main loop's hot path (thousands a second to a near mail server), so a
 * rendering computes only the values its template uses and copies none,
 * and a message is written in one pass into one allocation. It must
 * never let a CR or LF of its inputs into a header, never emit a bare LF,
 * and never log: a rendered message may carry a data subject's name.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
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

/*
 * The placeholders. A rendering computes only the values its template
 * uses, each once, and a value is a pointer into the payload (or a small
 * buffer of its own for a number or a date written out), not a copy: a
 * mail's template uses a dozen of these 44 names, several times each.
 */
enum var {
	V_EVENT, V_EVENT_AT, V_REQUEST_ID, V_ENTITY, V_ENTITY_NAME,
	V_TYPE, V_TYPE_LABEL, V_STATUS, V_STATUS_LABEL, V_OUTCOME,
	V_OUTCOME_LABEL, V_REJECT_REASON, V_REJECT_REASON_LABEL, V_CHANNEL,
	V_CHANNEL_LABEL, V_PROTOCOL, V_EXTENDED,
	/* the request's dates, then the same in long form, in this order */
	V_RECEIVED_ON, V_FORWARDED_ON, V_STATUTORY_DUE_ON,
	V_OPERATIONAL_DUE_ON, V_DUE_ON, V_CLOSED_ON,
	V_RECEIVED_ON_LONG, V_FORWARDED_ON_LONG, V_STATUTORY_DUE_ON_LONG,
	V_OPERATIONAL_DUE_ON_LONG, V_DUE_ON_LONG, V_CLOSED_ON_LONG,
	V_ALERT_KIND, V_ALERT_MOMENT, V_ALERT_DUE_ON, V_ALERT_DUE_ON_LONG,
	V_ALERT_DAYS_BEFORE, V_ALERT_DAYS_BEFORE_TEXT,
	V_FAILED_ID, V_FAILED_EVENT, V_FAILED_CHANNEL, V_FAILED_RECIPIENT,
	V_FAILED_ATTEMPTS, V_FAILED_ERROR,
	V_SUBJECT_NAME, V_DPO_NAME, V_TASKS_TEXT,
	V_COUNT
};
/* A name we do not know: it renders as "" and counts as empty. */
#define V_NONE		(-1)
#define V_DATES		(V_RECEIVED_ON_LONG - V_RECEIVED_ON)

/* Where a value comes from. */
enum var_kind {
	VK_JSON,	/* a member of one of the payload's objects */
	VK_LABEL,	/* the label of another value, in the language */
	VK_DATE_LONG,	/* another value as a long date */
	VK_DAYS_TEXT,	/* alert_days_before in words */
	VK_ENTITY_NAME,	/* the body's name, else its code */
	VK_SUBJECT_NAME,
	VK_DPO_NAME,
	VK_TASKS
};

enum var_obj {
	VO_PAYLOAD,
	VO_REQUEST,
	VO_ALERT,
	VO_FAILED,
	VO_COUNT
};

static const char *const obj_names[VO_COUNT] = {
	NULL, "request", "alert", "failed",
};

struct var_def {
	const char		*name;
	unsigned char		 kind;
	unsigned char		 obj;	/* VK_JSON */
	signed char		 src;	/* VK_LABEL, VK_DATE_LONG */
	const char		*key;	/* VK_JSON */
	const struct label	*tab;	/* VK_LABEL */
	size_t			 ntab;
};

#define JSON(v, o, k)	[v] = { .kind = VK_JSON, .obj = o, .key = k }
#define LABEL(v, s, t)	[v] = { .kind = VK_LABEL, .src = s, .tab = t, \
			    .ntab = nitems(t) }
#define DATE(v, s)	[v] = { .kind = VK_DATE_LONG, .src = s }

static const struct var_def var_defs[V_COUNT] = {
	JSON(V_EVENT, VO_PAYLOAD, "event"),
	JSON(V_EVENT_AT, VO_PAYLOAD, "at"),
	JSON(V_REQUEST_ID, VO_REQUEST, "id"),
	JSON(V_ENTITY, VO_REQUEST, "entity"),
	[V_ENTITY_NAME] = { .kind = VK_ENTITY_NAME },
	JSON(V_TYPE, VO_REQUEST, "type"),
	LABEL(V_TYPE_LABEL, V_TYPE, type_labels),
	JSON(V_STATUS, VO_REQUEST, "status"),
	LABEL(V_STATUS_LABEL, V_STATUS, status_labels),
	JSON(V_OUTCOME, VO_REQUEST, "outcome"),
	LABEL(V_OUTCOME_LABEL, V_OUTCOME, status_labels),
	JSON(V_REJECT_REASON, VO_REQUEST, "reject_reason"),
	LABEL(V_REJECT_REASON_LABEL, V_REJECT_REASON, reject_labels),
	JSON(V_CHANNEL, VO_REQUEST, "channel"),
	LABEL(V_CHANNEL_LABEL, V_CHANNEL, channel_labels),
	JSON(V_PROTOCOL, VO_REQUEST, "protocol"),
	JSON(V_EXTENDED, VO_REQUEST, "extended"),
	JSON(V_RECEIVED_ON, VO_REQUEST, "received_on"),
	JSON(V_FORWARDED_ON, VO_REQUEST, "forwarded_on"),
	JSON(V_STATUTORY_DUE_ON, VO_REQUEST, "statutory_due_on"),
	JSON(V_OPERATIONAL_DUE_ON, VO_REQUEST, "operational_due_on"),
	JSON(V_DUE_ON, VO_REQUEST, "due_on"),
	JSON(V_CLOSED_ON, VO_REQUEST, "closed_on"),
	DATE(V_RECEIVED_ON_LONG, V_RECEIVED_ON),
	DATE(V_FORWARDED_ON_LONG, V_FORWARDED_ON),
	DATE(V_STATUTORY_DUE_ON_LONG, V_STATUTORY_DUE_ON),
	DATE(V_OPERATIONAL_DUE_ON_LONG, V_OPERATIONAL_DUE_ON),
	DATE(V_DUE_ON_LONG, V_DUE_ON),
	DATE(V_CLOSED_ON_LONG, V_CLOSED_ON),
	JSON(V_ALERT_KIND, VO_ALERT, "kind"),
	JSON(V_ALERT_MOMENT, VO_ALERT, "moment"),
	JSON(V_ALERT_DUE_ON, VO_ALERT, "due_on"),
	DATE(V_ALERT_DUE_ON_LONG, V_ALERT_DUE_ON),
	JSON(V_ALERT_DAYS_BEFORE, VO_ALERT, "days_before"),
	[V_ALERT_DAYS_BEFORE_TEXT] = { .kind = VK_DAYS_TEXT,
	    .src = V_ALERT_DAYS_BEFORE },
	JSON(V_FAILED_ID, VO_FAILED, "id"),
	JSON(V_FAILED_EVENT, VO_FAILED, "event"),
	JSON(V_FAILED_CHANNEL, VO_FAILED, "channel"),
	JSON(V_FAILED_RECIPIENT, VO_FAILED, "recipient"),
	JSON(V_FAILED_ATTEMPTS, VO_FAILED, "attempts"),
	JSON(V_FAILED_ERROR, VO_FAILED, "error"),
	[V_SUBJECT_NAME] = { .kind = VK_SUBJECT_NAME },
	[V_DPO_NAME] = { .kind = VK_DPO_NAME },
	[V_TASKS_TEXT] = { .kind = VK_TASKS },
};

#undef JSON
#undef LABEL
#undef DATE

/* The placeholder names, by enum var. */
static const char *const var_names[V_COUNT] = {
	"event", "event_at", "request_id", "entity", "entity_name",
	"type", "type_label", "status", "status_label", "outcome",
	"outcome_label", "reject_reason", "reject_reason_label", "channel",
	"channel_label", "protocol", "extended",
	"received_on", "forwarded_on", "statutory_due_on",
	"operational_due_on", "due_on", "closed_on",
	"received_on_long", "forwarded_on_long", "statutory_due_on_long",
	"operational_due_on_long", "due_on_long", "closed_on_long",
	"alert_kind", "alert_moment", "alert_due_on", "alert_due_on_long",
	"alert_days_before", "alert_days_before_text",
	"failed_id", "failed_event", "failed_channel", "failed_recipient",
	"failed_attempts", "failed_error",
	"subject_name", "dpo_name", "tasks_text",
};

/* Room for a number or a long date written out ("mercoledì 30 settembre
   2026", "-1.79769e+308"). */
#define VAL_SMALL	48

/* One value: NUL-terminated text, and whether it holds a control
   character that becomes a space where it is written. */
struct val {
	const char	*s;
	size_t		 len;
	int		 dirty;
	char		 small[VAL_SMALL];
};

/* One rendering: the payload and the values computed so far. */
struct rctx {
	const cJSON	*obj[VO_COUNT];
	unsigned	 obj_done;
	enum mail_lang	 lang;
	const char	*entity_name, *subject_name, *dpo_name;
	uint64_t	 have;
	char		*tasks;		/* heap, for tasks_text */
	struct val	 v[V_COUNT];
};

/* A placeholder name, as written between the braces, or V_NONE. */
static int
var_lookup(const char *name, size_t len)
{
	for (int i = 0; i < V_COUNT; i++)
		if (strlen(var_names[i]) == len &&
		    memcmp(var_names[i], name, len) == 0)
			return i;
	return V_NONE;
}

/* A character a value may not carry as it is: written as a space. */
static int
val_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static void
val_set(struct val *v, const char *s, size_t len)
{
	/* Values are single-line fields: a CR, LF or other control
	   character (from the database or the config) is written as a
	   space, so that it can neither break a header nor forge a
	   template line. */
	v->s = s;
	v->len = len;
	v->dirty = 0;
	for (size_t i = 0; i < len; i++)
		if (val_ctl((unsigned char)s[i])) {
			v->dirty = 1;
			break;
		}
}

static void
val_str(struct val *v, const char *s)
{
	val_set(v, s, strlen(s));
}

/* n in decimal into out (at least 21 bytes); returns its length. */
static size_t
fmt_ll(char *out, long long n)
{
	char			 tmp[24], *p = tmp + sizeof tmp;
	unsigned long long	 u = n < 0 ? 0ULL - (unsigned long long)n :
				    (unsigned long long)n;
	size_t			 len;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (n < 0)
		*--p = '-';
	len = (size_t)(tmp + sizeof tmp - p);
	memcpy(out, p, len);
	out[len] = '\0';
	return len;
}

/* A JSON member as text: strings as they are, integers in decimal,
   booleans as true/false; null, absent and anything else as "". */
static void
json_val(struct val *v, const cJSON *obj, const char *name)
{
	const cJSON	*it;
	int		 n;

	it = obj != NULL ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
	if (cJSON_IsString(it) && it->valuestring != NULL)
		val_str(v, it->valuestring);
	/* cJSON keeps numbers as doubles: an id is exact below 2^53 */
	else if (cJSON_IsNumber(it) && it->valuedouble > -9e15 &&
	    it->valuedouble < 9e15)
		val_set(v, v->small, fmt_ll(v->small,
		    (long long)it->valuedouble));
	else if (cJSON_IsNumber(it)) {
		n = snprintf(v->small, sizeof v->small, "%g", it->valuedouble);
		val_set(v, v->small, n > 0 ? (size_t)n : 0);
	} else if (cJSON_IsBool(it))
		val_str(v, cJSON_IsTrue(it) ? "true" : "false");
	else
		val_set(v, "", 0);
}

/* The same as a heap string, for tasks_text. */
static char *
json_text(const cJSON *obj, const char *name)
{
	struct val	v;

	json_val(&v, obj, name);
	return xstrndup(v.s, v.len);
}

/* Day of the week (0 = Monday) of a proleptic Gregorian date, by the
   days-from-civil count (H. Hinnant), so no libc time zone is involved. */
static long
days_from_civil(int y, int m, int d)
{
	long	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;	/* 0 = 1970-01-01 */
}

static int
weekday_of(int y, int m, int d)
{
	/* 1970-01-01 was a Thursday */
	return (int)(((days_from_civil(y, m, d) % 7) + 7 + 3) % 7);
}

static int
digits(const char *s, int n)
{
	int	v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "2026-03-02" -> "lunedì 2 marzo 2026" / "Monday 2 March 2026"; anything
   that is not such a date is shown as it is. */
static void
date_long(struct val *v, const struct val *iso, enum mail_lang lang)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };
	const char	*s = iso->s, *w, *mo;
	char		*o = v->small;
	int		 y, m, d;
	size_t		 n;

	if (iso->len != 10 || s[4] != '-' || s[7] != '-' ||
	    (y = digits(s, 4)) < 0 || (m = digits(s + 5, 2)) < 1 || m > 12 ||
	    (d = digits(s + 8, 2)) < 1 || d > mdays[m - 1]) {
		*v = *iso;
		v->s = iso->s == iso->small ? v->small : iso->s;
		return;
	}
	w = weekday_names[lang][weekday_of(y, m, d)];
	mo = month_names[lang][m - 1];
	memcpy(o, w, n = strlen(w));
	o += n;
	*o++ = ' ';
	o += fmt_ll(o, d);
	/* Italian writes the first of the month as an ordinal: "1° marzo". */
	if (lang == ML_IT && d == 1) {
		memcpy(o, "°", strlen("°"));
		o += strlen("°");
	}
	*o++ = ' ';
	memcpy(o, mo, n = strlen(mo));
	o += n;
	*o++ = ' ';
	o += fmt_ll(o, y);
	val_set(v, v->small, (size_t)(o - v->small));
}

static const char *
label_of(const struct label *tab, size_t n, const char *key,
    enum mail_lang lang)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tab[i].key, key) == 0)
			return tab[i].text[lang];
	return NULL;	/* a value we have no words for */
}

/* s with each control character made a space, in place; returns s. */
static char *
ctl_to_space(char *s)
{
	for (char *p = s; *p != '\0'; p++)
		if (val_ctl((unsigned char)*p))
			*p = ' ';
	return s;
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
		office = ctl_to_space(json_text(t, "office"));
		what = ctl_to_space(json_text(t, "recipient"));
		if (what[0] != '\0')
			buf_addf(&b, "  n. %s  %s: %s\n", id,
			    lang == ML_IT ? "comunicazione al destinatario "
			    "(art. 19)" : "notice to the recipient (art. 19)",
			    what);
		else {
			free(what);
			what = ctl_to_space(json_text(t, "activity"));
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

static const cJSON *
rctx_obj(struct rctx *c, enum var_obj o)
{
	if (!(c->obj_done & (1u << o))) {
		c->obj[o] = cJSON_GetObjectItemCaseSensitive(c->obj[VO_PAYLOAD],
		    obj_names[o]);
		c->obj_done |= 1u << o;
	}
	return c->obj[o];
}

static const struct val	*val_compute(struct rctx *, int);

/* The value of placeholder id, computed at its first use. */
static inline const struct val *
val_get(struct rctx *c, int id)
{
	if (c->have & (1ULL << id))
		return &c->v[id];
	return val_compute(c, id);
}

static const struct val *
val_compute(struct rctx *c, int id)
{
	const struct var_def	*d = &var_defs[id];
	struct val		*v = &c->v[id];
	const struct val	*src;
	const char		*s;
	long long		 n;

	switch (d->kind) {
	case VK_JSON:
		json_val(v, rctx_obj(c, d->obj), d->key);
		break;
	case VK_LABEL:
		src = val_get(c, d->src);
		if ((s = label_of(d->tab, d->ntab, src->s, c->lang)) != NULL)
			val_str(v, s);
		else
			*v = *src;	/* shown as it is */
		if (v->s == src->small)
			v->s = v->small;
		break;
	case VK_DATE_LONG:
		date_long(v, val_get(c, d->src), c->lang);
		break;
	case VK_DAYS_TEXT:
		src = val_get(c, d->src);
		if (parse_int(src->s, 0, 100000, &n) == 0) {
			char	*o = v->small + fmt_ll(v->small, n);

			s = c->lang == ML_IT ? (n == 1 ? " giorno" :
			    " giorni") : (n == 1 ? " day" : " days");
			memcpy(o, s, strlen(s) + 1);
			val_str(v, v->small);
		} else
			val_set(v, "", 0);
		break;
	case VK_ENTITY_NAME:
		if (c->entity_name != NULL && *c->entity_name != '\0')
			val_str(v, c->entity_name);
		else {
			src = val_get(c, V_ENTITY);
			*v = *src;
			if (v->s == src->small)
				v->s = v->small;
		}
		break;
	case VK_SUBJECT_NAME:
		val_str(v, c->subject_name != NULL ? c->subject_name : "");
		break;
	case VK_DPO_NAME:
		val_str(v, c->dpo_name != NULL ? c->dpo_name : "");
		break;
	case VK_TASKS:
		c->tasks = tasks_text(c->obj[VO_PAYLOAD], c->lang);
		val_str(v, c->tasks);
		/* One task a line: its own line breaks are the only
		   controls in it (tasks_text cleaned each field). */
		v->dirty = 0;
		break;
	}
	c->have |= 1ULL << id;
	return v;
}

/*
 * A template compiled once, when it is read: for each line, its
 * conditions ("{{?name}}" keeps the line only when name is not empty,
 * "{{!name}}" only when it is empty), then its pieces, text of the
 * template or a placeholder. "{{name}}" (spaces inside the braces
 * allowed) is a placeholder; a name we do not know renders as ""; a "{{"
 * without its "}}" is text.
 */
struct tpl_cond {
	int		var;
	int		neg;
};

struct tpl_seg {
	int		var;		/* V_LIT: text of the template */
	const char	*s;
	size_t		 len;
};
#define V_LIT		(-2)

struct tpl_line {
	size_t		 cond0, ncond;
	size_t		 seg0, nseg;
	int		 nl;		/* ends with a line end */
	/* for measuring: the bytes of text and line end, and the
	   placeholders (vars[var0 .. var0 + nvar)) */
	size_t		 fixed;
	size_t		 var0, nvar;
};

struct tpl {
	char		*text;		/* LF line ends, what segs point to */
	int		 bad;		/* TPL_* */
	size_t		 nsubj;		/* lines[0 .. nsubj) are the subject */
	struct tpl_line	*lines;
	size_t		 nlines, caplines;
	struct tpl_cond	*conds;
	size_t		 nconds, capconds;
	struct tpl_seg	*segs;
	size_t		 nsegs, capsegs;
	int		*vars;
	size_t		 nvars, capvars;
};

enum {
	TPL_OK,
	TPL_NO_SUBJECT,		/* the first line is not "Subject: ..." */
	TPL_NO_BLANK,		/* no blank line after it */
};

#define TPL_PUSH(arr, n, cap) do {					\
	if ((n) == (cap)) {						\
		(cap) = (cap) ? 2 * (cap) : 16;				\
		(arr) = xreallocarray((arr), (cap), sizeof *(arr));	\
	}								\
} while (0)

static void
tpl_seg_add(struct tpl *t, int var, const char *s, size_t len)
{
	if (var == V_LIT && len == 0)
		return;
	if (var == V_NONE)
		return;
	TPL_PUSH(t->segs, t->nsegs, t->capsegs);
	t->segs[t->nsegs++] = (struct tpl_seg){ var, s, len };
}

/* One line, s .. end (its line end, if any, is *end). */
static void
tpl_compile_line(struct tpl *t, const char *s, const char *end, int nl)
{
	struct tpl_line	 l;
	const char	*open, *close, *name;
	size_t		 nlen;

	l.cond0 = t->nconds;
	l.seg0 = t->nsegs;
	while (end - s > 5 && s[0] == '{' && s[1] == '{' &&
	    (s[2] == '?' || s[2] == '!')) {
		close = memmem(s + 3, (size_t)(end - s - 3), "}}", 2);
		if (close == NULL)
			break;
		TPL_PUSH(t->conds, t->nconds, t->capconds);
		t->conds[t->nconds++] = (struct tpl_cond){
			var_lookup(s + 3, (size_t)(close - s - 3)), s[2] == '!'
		};
		s = close + 2;
	}
	while (s < end) {
		open = memmem(s, (size_t)(end - s), "{{", 2);
		close = open != NULL ? memmem(open + 2, (size_t)(end - open -
		    2), "}}", 2) : NULL;
		if (close == NULL) {
			tpl_seg_add(t, V_LIT, s, (size_t)(end - s));
			break;
		}
		tpl_seg_add(t, V_LIT, s, (size_t)(open - s));
		name = open + 2;
		while (name < close && *name == ' ')
			name++;
		nlen = (size_t)(close - name);
		while (nlen > 0 && name[nlen - 1] == ' ')
			nlen--;
		tpl_seg_add(t, var_lookup(name, nlen), NULL, 0);
		s = close + 2;
	}
	l.ncond = t->nconds - l.cond0;
	l.nseg = t->nsegs - l.seg0;
	l.nl = nl;
	l.fixed = nl != 0;
	l.var0 = t->nvars;
	for (size_t i = l.seg0; i < t->nsegs; i++)
		if (t->segs[i].var == V_LIT)
			l.fixed += t->segs[i].len;
		else {
			TPL_PUSH(t->vars, t->nvars, t->capvars);
			t->vars[t->nvars++] = t->segs[i].var;
		}
	l.nvar = t->nvars - l.var0;
	TPL_PUSH(t->lines, t->nlines, t->caplines);
	t->lines[t->nlines++] = l;
}

/* The lines of s up to end (or its NUL). */
static void
tpl_compile_text(struct tpl *t, const char *s, const char *end)
{
	const char	*eol;

	while (s < end && *s != '\0') {
		eol = memchr(s, '\n', (size_t)(end - s));
		if (eol == NULL)
			eol = end;
		tpl_compile_line(t, s, eol, eol < end);
		s = eol < end ? eol + 1 : eol;
	}
}

/* Compiles text (taken): "Subject: ..." then a blank line, then the body. */
static struct tpl *
tpl_compile(char *text)
{
	struct tpl	*t = xcalloc(1, sizeof *t);
	const char	*eol, *b;
	size_t		 n;

	t->text = text;
	eol = strchr(text, '\n');
	if (strncasecmp(text, "Subject:", 8) != 0 || eol == NULL) {
		t->bad = TPL_NO_SUBJECT;
		return t;
	}
	b = eol + 1;
	n = strspn(b, " \t");
	if (b[n] != '\n' && b[n] != '\0') {
		t->bad = TPL_NO_BLANK;
		return t;
	}
	b += n + (b[n] == '\n');
	/* The subject is one line: its line end is not part of it. */
	if (eol > text + 8)
		tpl_compile_line(t, text + 8, eol, 0);
	t->nsubj = t->nlines;
	tpl_compile_text(t, b, b + strlen(b));
	return t;
}

static void
tpl_free(struct tpl *t)
{
	if (t == NULL)
		return;
	free(t->lines);
	free(t->conds);
	free(t->segs);
	free(t->vars);
	free(t->text);
	free(t);
}

static int
tpl_line_wanted(struct rctx *c, const struct tpl *t, const struct tpl_line *l)
{
	for (size_t i = 0; i < l->ncond; i++) {
		const struct tpl_cond	*k = &t->conds[l->cond0 + i];
		int			 set;

		set = k->var != V_NONE && val_get(c, k->var)->len > 0;
		if (set == k->neg)
			return 0;
	}
	return 1;
}

/* Lines [l0, l1) of t: their length with out NULL, else written to out
   (which has room). Returns the length. */
static size_t
tpl_render(struct rctx *c, const struct tpl *t, size_t l0, size_t l1,
    char *out)
{
	size_t	len = 0;

	for (size_t i = l0; i < l1; i++) {
		const struct tpl_line	*l = &t->lines[i];

		if (!tpl_line_wanted(c, t, l))
			continue;
		if (out == NULL) {
			len += l->fixed;
			for (size_t k = 0; k < l->nvar; k++)
				len += val_get(c, t->vars[l->var0 + k])->len;
			continue;
		}
		for (size_t k = 0; k < l->nseg; k++) {
			const struct tpl_seg	*g = &t->segs[l->seg0 + k];
			const struct val	*v;

			if (g->var == V_LIT) {
				memcpy(out + len, g->s, g->len);
				len += g->len;
				continue;
			}
			v = val_get(c, g->var);
			if (!v->dirty)
				memcpy(out + len, v->s, v->len);
			else
				for (size_t j = 0; j < v->len; j++) {
					unsigned char	ch = (unsigned char)
					    v->s[j];

					out[len + j] = val_ctl(ch) ? ' ' :
					    (char)ch;
				}
			len += v->len;
		}
		if (l->nl)
			out[len++] = '\n';
	}
	return len;
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
 * Templates compiled, by path, so that a mail costs a stat() and not an
 * open, a read, a UTF-8 check and a parse. An entry serves as long as the
 * file has the same device, inode, size and modification time (an edit
 * takes effect at the next mail, as without the cache; an editor that
 * writes a new file makes a new inode). Only mail_render uses it, on one
 * thread.
 */
#define TPL_CACHE_MAX	64

struct tpl_ent {
	char		*path;
	struct tpl	*tpl;
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
static const struct tpl *
template_get(const char *path, char **cause)
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
		return e->tpl;
	/* Stat first, then read: a change during the read is seen next time. */
	if ((text = read_template(path, cause)) == NULL)
		return NULL;
	if (e == NULL) {
		if (tpl_n == TPL_CACHE_MAX)
			mail_template_cache_clear();
		e = &tpl_cache[tpl_n++];
		e->path = xstrdup(path);
	} else
		tpl_free(e->tpl);
	e->tpl = tpl_compile(text);
	e->dev = st.st_dev;
	e->ino = st.st_ino;
	e->size = st.st_size;
	e->mtime = st.st_mtim;
	return e->tpl;
}

void
mail_template_cache_clear(void)
{
	for (int i = 0; i < tpl_n; i++) {
		free(tpl_cache[i].path);
		tpl_free(tpl_cache[i].tpl);
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

/* dir/lang/name.txt, in buf when it fits (no allocation a mail), else on
   the heap (*heap, caller frees). */
static const char *
template_path(char *buf, size_t size, const char *dir, const char *lang,
    const char *name, char **heap)
{
	size_t	dl = strlen(dir), ll = strlen(lang), nl = strlen(name);
	char	*p;

	*heap = NULL;
	if (dl + ll + nl + 7 > size)
		return *heap = xasprintf("%s/%s/%s.txt", dir, lang, name);
	p = buf;
	memcpy(p, dir, dl);
	p += dl;
	*p++ = '/';
	memcpy(p, lang, ll);
	p += ll;
	*p++ = '/';
	memcpy(p, name, nl);
	p += nl;
	memcpy(p, ".txt", 5);
	return buf;
}

int
mail_render(const char *dir, const char *lang, const char *event,
    const struct cJSON *payload, const char *entity_name,
    const char *subject_name, const char *dpo_name, char **subject,
    char **body, char **cause)
{
	struct rctx		 c;
	const struct tpl	*t;
	const char		*name, *path;
	char			 pbuf[512], *heap, *s, *e;
	size_t			 n;

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
	path = template_path(pbuf, sizeof pbuf, dir, lang, name, &heap);
	if ((t = template_get(path, cause)) == NULL)
		goto fail;
	if (t->bad == TPL_NO_SUBJECT) {
		*cause = xasprintf("template %s: the first line must be "
		    "\"Subject: ...\"", path);
		goto fail;
	}
	if (t->bad == TPL_NO_BLANK) {
		*cause = xasprintf("template %s: the Subject line must be "
		    "followed by a blank line", path);
		goto fail;
	}

	c.obj[VO_PAYLOAD] = payload;
	c.obj_done = 1u << VO_PAYLOAD;
	c.lang = strcmp(lang, "it") == 0 ? ML_IT : ML_EN;
	c.entity_name = entity_name;
	c.subject_name = subject_name;
	c.dpo_name = dpo_name;
	c.have = 0;
	c.tasks = NULL;

	/* Each part measured, then written into one allocation. */
	n = tpl_render(&c, t, 0, t->nsubj, NULL);
	s = xmalloc(n + 1);
	tpl_render(&c, t, 0, t->nsubj, s);
	s[n] = '\0';
	/* trimmed, as str_trim does */
	e = s + n;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		e--;
	*e = '\0';
	n = strspn(s, " \t\r\n");
	if (n > 0)
		memmove(s, s + n, (size_t)(e - s) - n + 1);
	if (*s == '\0') {
		free(s);
		free(c.tasks);
		*cause = xasprintf("template %s: the subject renders empty",
		    path);
		goto fail;
	}
	*subject = s;

	n = tpl_render(&c, t, t->nsubj, t->nlines, NULL);
	s = xmalloc(n + 2);
	tpl_render(&c, t, t->nsubj, t->nlines, s);
	if (n == 0 || s[n - 1] != '\n')
		s[n++] = '\n';
	s[n] = '\0';
	*body = s;
	free(c.tasks);
	free(heap);
	return 0;

fail:
	free(heap);
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
   becomes one space) and without spaces at either end, at out (room for
   strlen(s) + 1). */
static char *
header_clean_to(char *out, const char *s)
{
	char	*o = out;
	int	 gap = 0;

	for (; *s != '\0'; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == ' ') {
			gap = 1;
			continue;
		}
		if (gap && o > out)
			*o++ = ' ';
		gap = 0;
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

/* header_clean_to into buf when it fits (no allocation for a header of
   usual length), else on the heap (*heap, caller frees). */
#define CLEAN_BUF	1024
static char *
header_clean(char buf[CLEAN_BUF], const char *s, char **heap)
{
	size_t	n = strlen(s);

	*heap = n < CLEAN_BUF ? NULL : xmalloc(n + 1);
	return header_clean_to(*heap != NULL ? *heap : buf, s);
}

/* Whether the Q encoding leaves a byte as it is: only the characters
   that RFC 2047 §5 (3) allows in a phrase, so the same words serve in
   Subject and in a From display name (a space becomes "_"). */
static const unsigned char q_plain[256] = {
	[' '] = 1, ['!'] = 1, ['*'] = 1, ['+'] = 1, ['-'] = 1, ['/'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
	['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
	['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
	['Y'] = 1, ['Z'] = 1,
	['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
	['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
	['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
	['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1,
};

/* Room encode_words_to needs for n bytes of text: each byte takes at
   most 3 characters, and each byte may start a word of its own ("?=\r\n "
   and the prefix); the first may start on a line of its own. It is also
   more than the plain form's 3 * n. */
#define EW_BOUND(n)	(3 * (n) + ((n) + 2) * (EW_OVERHEAD + 3) + 4)

/* Writes the encoded words of s at o; returns the end. */
static char *
encode_words_to(char *o, const char *s, size_t used)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t		 n, elen, k, room, wlen = 0;

	/* What the first word may hold after what is on its line. */
	room = used + EW_OVERHEAD + 12 <= EW_LINE_MAX ?
	    EW_LINE_MAX - used - EW_OVERHEAD : 0;
	if (room > EW_MAX - EW_OVERHEAD)
		room = EW_MAX - EW_OVERHEAD;
	if (room == 0) {
		/* No space on the first line for even one character: start
		   on the next. */
		memcpy(o, "\r\n ", 3);
		o += 3;
		room = EW_MAX - EW_OVERHEAD;
	}
	memcpy(o, EW_PREFIX, strlen(EW_PREFIX));
	o += strlen(EW_PREFIX);
	while (*p != '\0') {
		/* A whole UTF-8 sequence goes into one word: a decoder
		   may decode each word on its own (RFC 2047 §5). */
		n = *p < 0x80 ? 1 : utf8_seqlen(p);
		for (k = 0, elen = 0; k < n; k++)
			elen += q_plain[p[k]] ? 1 : 3;
		if (wlen + elen > room) {
			memcpy(o, "?=\r\n " EW_PREFIX, 5 + strlen(EW_PREFIX));
			o += 5 + strlen(EW_PREFIX);
			room = EW_MAX - EW_OVERHEAD;
			wlen = 0;
		}
		for (k = 0; k < n; k++) {
			unsigned char	c = p[k];

			if (c == ' ')
				*o++ = '_';
			else if (q_plain[c])
				*o++ = (char)c;
			else {
				o[0] = '=';
				o[1] = hexdig[c >> 4];
				o[2] = hexdig[c & 15];
				o += 3;
			}
		}
		wlen += elen;
		p += n;
	}
	memcpy(o, "?=", 2);
	return o + 2;
}

/*
 * The header text s, already cleaned, at o (room for EW_BOUND(strlen(s))):
 * as it is when it is printable ASCII, folded before a space where a line
 * would pass 78 characters, else in encoded words. Returns the end.
 */
static char *
encode_header_to(char *o, const char *s, size_t first_line_used)
{
	const char	*w, *seg;
	size_t		 col, wl;
	int		 plain = 1;

	for (const char *p = s; *p != '\0'; p++)
		if ((unsigned char)*p > 0x7e) {
			plain = 0;
			break;
		}
	/* Text that looks like an encoded word must be encoded, or a reader
	   would decode it. */
	if (plain && strstr(s, "=?") != NULL)
		plain = 0;
	/* A plain word longer than a line cannot be folded: encode it. */
	for (w = s; plain && *w != '\0'; w += wl) {
		w += strspn(w, " ");
		wl = strcspn(w, " ");
		if (wl + (w == s ? first_line_used : 1) > HDR_LINE_MAX)
			plain = 0;
	}
	if (!plain)
		return encode_words_to(o, s, first_line_used);

	/* Each segment is the spaces before a word and the word, so a fold
	   never leaves a line of only spaces. */
	col = first_line_used;
	for (seg = s; *seg != '\0'; seg = w + wl) {
		w = seg + strspn(seg, " ");
		wl = strcspn(w, " ");
		if (seg != s && col + (size_t)(w - seg) + wl > HDR_LINE_MAX) {
			memcpy(o, "\r\n", 2);
			o += 2;
			col = 0;
		}
		memcpy(o, seg, (size_t)(w - seg) + wl);
		o += (size_t)(w - seg) + wl;
		col += (size_t)(w - seg) + wl;
	}
	return o;
}

char *
mail_encode_header(const char *utf8, size_t first_line_used)
{
	char	 buf[CLEAN_BUF], *heap, *s, *out, *o;

	s = header_clean(buf, utf8, &heap);
	out = xmalloc(EW_BOUND(strlen(s)) + 1);
	o = encode_header_to(out, s, first_line_used);
	*o = '\0';
	free(heap);
	return xrealloc(out, (size_t)(o - out) + 1);
}

/* Whether quoted-printable leaves a byte as it is, unless it ends a line
   (printable ASCII but "=", and tab). */
static const unsigned char qp_plain[256] = {
	['\t'] = 1,
#define R4(c)	[(c)] = 1, [(c) + 1] = 1, [(c) + 2] = 1, [(c) + 3] = 1
#define R16(c)	R4(c), R4((c) + 4), R4((c) + 8), R4((c) + 12)
	R16(0x20), R4(0x30), R4(0x34), R4(0x38), [0x3c] = 1, [0x3e] = 1,
	[0x3f] = 1, R16(0x40), R16(0x50), R16(0x60), R4(0x70), R4(0x74),
	R4(0x78), [0x7c] = 1, [0x7d] = 1, [0x7e] = 1,
#undef R16
#undef R4
};

/*
 * Whether any of the 8 bytes at p is one that quoted-printable may not
 * leave as it is (a control, tab included, "=", DEL or 8-bit), a word at a
 * time: the body is mostly runs of plain text, and this is most of its
 * encoding's work. Tab is plain, but rare: the byte loop takes it.
 */
static inline int
qp_special8(const unsigned char *p)
{
	const uint64_t	ones = 0x0101010101010101ULL;
	const uint64_t	high = 0x8080808080808080ULL;
	uint64_t	x, eq;

	memcpy(&x, p, 8);
	eq = x ^ (ones * '=');
	return (((x - ones * 0x20) & ~x) |	/* a byte below 0x20 */
	    ((x + ones) | x) |			/* 0x7f or above */
	    ((eq - ones) & ~eq)) & high ? 1 : 0;	/* "=" */
}

/*
 * Writes the quoted-printable of utf8 (n bytes) at out, which has room
 * for 6 * n characters (a byte takes at most 3, and a soft break before
 * it 3 more; a LF becomes CRLF). Returns the end.
 */
static char *
qp_to(char *out, const char *utf8, size_t n)
{
	const unsigned char *p = (const unsigned char *)utf8, *eol, *end;
	const unsigned char *stop = p + n;
	size_t		 col, len;
	char		*o = out;
	int		 enc, last;

	while (p < stop) {
		eol = memchr(p, '\n', (size_t)(stop - p));
		end = eol != NULL ? eol : stop;
		/* CRLF and LF alike end a line; the CR is not text. */
		if (eol != NULL && end > p && end[-1] == '\r')
			end--;
		col = 0;
		for (const unsigned char *q = p; q < end; q++) {
			/* A run of characters that go as they are (not the
			   line's last, not at a line's start, where "." and
			   "From " are special), copied up to the soft break. */
			if (col > 0 && qp_plain[*q]) {
				const unsigned char *r = q, *lim;

				lim = (size_t)(end - 1 - q) < QP_LINE_MAX - 1 -
				    col ? end - 1 : q + (QP_LINE_MAX - 1 - col);
				while (lim - r >= 8 && !qp_special8(r))
					r += 8;
				while (r < lim && qp_plain[*r])
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
	return o;
}

char *
mail_qp(const char *utf8)
{
	size_t	 n = strlen(utf8);
	char	*out = xmalloc(6 * n + 1), *o;

	o = qp_to(out, utf8, n);
	*o = '\0';
	return out;
}

/* Dot-atom characters (RFC 5322 §3.6.4) but ".", which the callers
   decide on. */
static int
atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

/* The domain of an address (after its last "@", without a closing ">"),
   kept to the characters a domain has, at o; returns the end. o has room
   for strlen(addr) + 12. */
static char *
addr_domain_to(char *o, const char *addr)
{
	const char	*at = strrchr(addr, '@');
	char		*start = o;

	if (at != NULL)
		for (at++; *at != '\0' && *at != '>'; at++)
			if (isalnum((unsigned char)*at) || *at == '.' ||
			    *at == '-')
				*o++ = *at;
	if (o == start) {
		memcpy(o, "dsrd.invalid", 12);
		o += 12;
	}
	return o;
}

/* "<msg_id@domain>" at o, which has room for strlen(msg_id) +
   strlen(from) + 20; returns the end. */
static char *
message_id_to(char *o, const char *msg_id, const char *from)
{
	char	*start;

	*o++ = '<';
	/* Only dot-atom characters: a UUID passes untouched, anything else
	   cannot break the header. */
	start = o;
	for (const char *p = msg_id; *p != '\0'; p++)
		if (*p == '.' || atext((unsigned char)*p))
			*o++ = *p;
	if (o == start) {
		memcpy(o, "dsrd", 4);
		o += 4;
	}
	*o++ = '@';
	o = addr_domain_to(o, from);
	*o++ = '>';
	return o;
}

char *
mail_message_id(const char *msg_id, const char *from)
{
	char	*out = xmalloc(strlen(msg_id) + strlen(from) + 20), *o;

	o = message_id_to(out, msg_id, from);
	*o = '\0';
	return out;
}

static char *
rfc5322_date_slow(char *o, time_t t)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
	    "Fri", "Sat" };
	static const char *const mo[] = { "Jan", "Feb", "Mar", "Apr", "May",
	    "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm	tm;
	int		n;

	if (gmtime_r(&t, &tm) == NULL) {
		t = 0;
		gmtime_r(&t, &tm);
	}
	n = snprintf(o, 64, "%s, %d %s %04d %02d:%02d:%02d +0000",
	    wd[tm.tm_wday], tm.tm_mday, mo[tm.tm_mon], tm.tm_year + 1900,
	    tm.tm_hour, tm.tm_min, tm.tm_sec);
	return o + (n > 0 && n < 64 ? n : 0);
}

/* RFC 5322 date-time in UTC at o; returns the end. The names are spelt
   out here (strftime's %a and %b follow the locale), and the civil date
   is computed here too (H. Hinnant's civil_from_days), no libc time zone
   involved. */
static char *
rfc5322_date_to(char *o, time_t t)
{
	static const char wd[] = "ThuFriSatSunMonTueWed";	/* from 1970 */
	static const char mo[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
	long long	 days, secs, era, doe, yoe, doy, mp, y;
	int		 d, m, v[3];

	/* Years 0 to 9999, the four digits of %04d; a time outside them is
	   not one dsrd has, written as before. */
	if (t < -62167219200LL || t > 253402300799LL)
		return rfc5322_date_slow(o, t);
	days = (long long)t / 86400;
	secs = (long long)t % 86400;
	if (secs < 0) {
		secs += 86400;
		days--;
	}
	memcpy(o, wd + 3 * (((days % 7) + 7) % 7), 3);
	o += 3;
	*o++ = ',';
	*o++ = ' ';
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = (int)(doy - (153 * mp + 2) / 5 + 1);
	m = (int)(mp < 10 ? mp + 3 : mp - 9);
	y += m <= 2;
	o += fmt_ll(o, d);
	*o++ = ' ';
	memcpy(o, mo + 3 * (m - 1), 3);
	o += 3;
	*o++ = ' ';
	*o++ = (char)('0' + y / 1000);
	*o++ = (char)('0' + y / 100 % 10);
	*o++ = (char)('0' + y / 10 % 10);
	*o++ = (char)('0' + y % 10);
	v[0] = (int)(secs / 3600);
	v[1] = (int)(secs / 60 % 60);
	v[2] = (int)(secs % 60);
	for (int i = 0; i < 3; i++) {
		*o++ = i == 0 ? ' ' : ':';
		*o++ = (char)('0' + v[i] / 10);
		*o++ = (char)('0' + v[i] % 10);
	}
	memcpy(o, " +0000", 6);
	return o + 6;
}

/* An address without controls, spaces or angle brackets, at o (NULL:
   only measured); returns its length. */
static size_t
addr_clean_to(char *o, const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		if ((unsigned char)*s > 0x20 && *s != 0x7f && *s != '<' &&
		    *s != '>') {
			if (o != NULL)
				o[n] = *s;
			n++;
		}
	return n;
}

/* The From display name at o (room for EW_BOUND(strlen(name))): words of
   atoms as they are, other ASCII as a quoted-string, anything else in
   encoded words. Returns the end; o itself when the name is empty. */
static char *
from_phrase_to(char *o, const char *name)
{
	char		 buf[CLEAN_BUF], *heap, *s;
	int		 ascii = 1, special = 0;

	s = header_clean(buf, name, &heap);
	for (const char *p = s; *p != '\0'; p++) {
		if ((unsigned char)*p > 0x7e)
			ascii = 0;
		else if (strchr("()<>[]:;@\\,.\"", *p) != NULL)
			special = 1;
	}
	if (*s == '\0')
		;
	else if (!ascii || strstr(s, "=?") != NULL)
		o = encode_words_to(o, s, strlen("From: "));
	else if (!special)
		o = encode_header_to(o, s, strlen("From: "));
	else {
		*o++ = '"';
		for (const char *p = s; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\')
				*o++ = '\\';
			*o++ = *p;
		}
		*o++ = '"';
	}
	free(heap);
	return o;
}

#define ADD(o, lit)	(memcpy((o), (lit), strlen(lit)), (o) += strlen(lit))

char *
mail_build(const char *from, const char *from_name, const char *to,
    const char *subject, const char *body, const char *message_id,
    time_t date, size_t *len)
{
	char		 buf[CLEAN_BUF], *heap, *out, *o, *name, *subj;
	size_t		 flen, blen, size;

	/*
	 * One allocation for the whole message, written in one pass: the
	 * headers, then the body's quoted-printable straight after them
	 * (6 characters a byte at most), then shrunk to fit.
	 */
	flen = addr_clean_to(NULL, from);
	blen = strlen(body);
	size = 320 + strlen(message_id) + 3 * strlen(from) +
	    (from_name != NULL ? EW_BOUND(strlen(from_name)) : 0) +
	    strlen(to) + EW_BOUND(strlen(subject)) + 6 * blen;
	out = o = xmalloc(size);

	ADD(o, "Date: ");
	o = rfc5322_date_to(o, date);
	ADD(o, "\r\nMessage-ID: ");
	/* The caller may pass the outbox's msg_id or a ready Message-ID. */
	if (message_id[0] == '<') {
		*o++ = '<';
		o += addr_clean_to(o, message_id);
		*o++ = '>';
	} else {
		char	f[256], *fh = NULL, *fa;

		/* its domain is that of the cleaned address */
		fa = flen < sizeof f ? f : (fh = xmalloc(flen + 1));
		fa[addr_clean_to(fa, from)] = '\0';
		o = message_id_to(o, message_id, fa);
		free(fh);
	}
	ADD(o, "\r\nFrom: ");
	name = o;
	if (from_name != NULL && (o = from_phrase_to(name, from_name)) >
	    name) {
		size_t	col, max;
		char	*nl = memrchr(name, '\n', (size_t)(o - name));

		col = nl != NULL ? (size_t)(o - nl - 1) : strlen("From: ") +
		    (size_t)(o - name);
		/* RFC 2047 §2: a line with an encoded word is shorter. */
		max = memmem(name, (size_t)(o - name), "=?", 2) != NULL ?
		    EW_LINE_MAX : HDR_LINE_MAX;
		/* Fold before the address where it would not fit. */
		if (col + strlen(" <>") + flen > max)
			ADD(o, "\r\n");
		ADD(o, " <");
		o += addr_clean_to(o, from);
		ADD(o, ">\r\n");
	} else {
		o += addr_clean_to(o, from);
		ADD(o, "\r\n");
	}
	ADD(o, "To: ");
	o += addr_clean_to(o, to);
	ADD(o, "\r\nSubject: ");
	subj = header_clean(buf, subject, &heap);
	o = encode_header_to(o, subj, strlen("Subject: "));
	free(heap);
	ADD(o, "\r\nMIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "\r\n");
	o = qp_to(o, body, blen);
	/* End on a line end: libcurl then adds only ".CRLF". */
	if (o - out < 2 || memcmp(o - 2, "\r\n", 2) != 0)
		ADD(o, "\r\n");
	*o = '\0';
	*len = (size_t)(o - out);
	return xrealloc(out, *len + 1);
}
