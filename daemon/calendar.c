/*
 * calendar.c: the date arithmetic behind dsrd's legal clocks (SPEC §4). Days
 * are integers counted from 1970-01-01 in the proleptic Gregorian calendar;
 * periods follow EU Regulation 1182/71, art. 3; public holidays are the
 * Italian national ones in force in the year in question (one table, below,
 * with the law behind each row) plus a body's local holidays. Everything but
 * the time-zone functions at the end is pure: it must never read the clock,
 * the disk or the environment, and never log (dates may belong to a request).
 * It keeps per-thread caches (each year's holidays, the recent answers of
 * the time-zone functions), but never state: an answer never depends on
 * what was asked before.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "calendar.h"
#include "util.h"

#define SECS_PER_DAY	86400
#define ZONEINFO_DIR	"/usr/share/zoneinfo"

/* Floor division and modulo: day numbers before 1970 are negative. */
static int
floor_div(int a, int b)
{
	return a / b - (a % b != 0 && ((a < 0) != (b < 0)));
}

static int
floor_mod(int a, int b)
{
	return a - floor_div(a, b) * b;
}

int
cal_is_leap(int year)
{
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int
cal_days_in_month(int year, int month)
{
	static const int dim[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (month < 1 || month > 12)
		return 0;
	if (month == 2 && cal_is_leap(year))
		return 29;
	return dim[month - 1];
}

/*
 * Howard Hinnant's days_from_civil: eras of 400 years (146097 days) with the
 * year starting on 1 March, so that the leap day is the last of its year.
 */
int
cal_from_ymd(int year, int month, int day)
{
	int	y = month <= 2 ? year - 1 : year;
	int	era = floor_div(y, 400);
	int	yoe = y - era * 400;			/* [0, 399] */
	int	mp = (month + 9) % 12;			/* March = 0 */
	int	doy = (153 * mp + 2) / 5 + day - 1;	/* [0, 365] */
	int	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

/* Hinnant's civil_from_days, the inverse of the above. */
void
cal_to_ymd(int dayno, int *year, int *month, int *day)
{
	int	z = dayno + 719468;
	int	era = floor_div(z, 146097);
	int	doe = z - era * 146097;			/* [0, 146096] */
	int	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int	mp = (5 * doy + 2) / 153;
	int	d = doy - (153 * mp + 2) / 5 + 1;
	int	m = mp < 10 ? mp + 3 : mp - 9;

	*year = yoe + era * 400 + (m <= 2);
	*month = m;
	*day = d;
}

int
cal_weekday(int dayno)
{
	/* 1970-01-01 was a Thursday (ISO 4). */
	return floor_mod(dayno + 3, 7) + 1;
}

static int
two_digits(const char *s, int *out)
{
	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return -1;
	*out = (s[0] - '0') * 10 + (s[1] - '0');
	return 0;
}

int
cal_parse_date(const char *s, int *dayno)
{
	int	hi, lo, year, month, day;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return -1;
	if (two_digits(s, &hi) == -1 || two_digits(s + 2, &lo) == -1 ||
	    two_digits(s + 5, &month) == -1 || two_digits(s + 8, &day) == -1)
		return -1;
	year = hi * 100 + lo;
	if (year < 1900 || month < 1 || month > 12 || day < 1 ||
	    day > cal_days_in_month(year, month))
		return -1;
	*dayno = cal_from_ymd(year, month, day);
	return 0;
}

void
cal_format_date(int dayno, char out[11])
{
	char	tmp[48];
	int	y, m, d;

	/* dsrd only formats days of years 1900..9999 (what it parses, plus
	   a few months); anything wider is cut rather than overflowing. */
	cal_to_ymd(dayno, &y, &m, &d);
	snprintf(tmp, sizeof tmp, "%04d-%02d-%02d", y, m, d);
	memcpy(out, tmp, 10);
	out[10] = '\0';
}

/* Anonymous Gregorian algorithm (Meeus, Jones, Butcher). */
int
cal_easter(int year)
{
	int	a = year % 19;
	int	b = year / 100, c = year % 100;
	int	d = b / 4, e = b % 4;
	int	f = (b + 8) / 25;
	int	g = (b - f + 1) / 3;
	int	h = (19 * a + b - d - g + 15) % 30;
	int	i = c / 4, k = c % 4;
	int	l = (32 + 2 * e + 2 * i - h - k) % 7;
	int	m = (a + 11 * h + 22 * l) / 451;
	int	month = (h + l - 7 * m + 114) / 31;
	int	day = (h + l - 7 * m + 114) % 31 + 1;

	return cal_from_ymd(year, month, day);
}

/*
 * The Italian national public holidays ("giorni festivi" with the effects
 * of art. 2 of Legge 260/1949: full holiday hours and the ban on certain
 * legal acts), year by year, inclusive. A row has either a month and a day
 * or (month 0) an offset in days from Easter Sunday. The law behind each
 * row:
 *
 *  L.260	Legge 27 maggio 1949, n. 260, art. 1 and 2 (in force 1 June
 *		1949). Earlier years are modelled only for 2 June (below).
 *  DLCPS	D.Lgs.C.P.S. 28 maggio 1947, n. 387: 2 June 1947 a national
 *		day and a holiday. 1948 is taken to be the same (not checked
 *		against its decree); art. 1 of L.260 made it permanent.
 *  L.54	Legge 5 marzo 1977, n. 54, in force 8 March 1977: Epiphany, St
 *		Joseph, Ascension, Corpus Domini and Saints Peter and Paul stop
 *		being holidays; from 1977 the Republic's day and National Unity
 *		day move to the first Sunday of June and of November. The law
 *		came after 6 January 1977, which was therefore still a holiday:
 *		the last Epiphany of the first run is 1977, not 1976.
 *  L.1986	Legge of 1986 for the 40th anniversary of the Republic: in 1986
 *		only, the national day was held on Monday 2 June (and the day of
 *		the national day is a holiday under art. 2 of L.260).
 *  DPR792	D.P.R. 28 dicembre 1985, n. 792 (in force 1 January 1986):
 *		Epiphany is a holiday again.
 *  L.336	Legge 20 novembre 2000, n. 336: from 2001 the Republic's day is
 *		2 June again, and a holiday.
 *  DL5	D.L. 22 febbraio 2011, n. 5 (converted by L. 21 aprile 2011,
 *		n. 47): 17 March 2011 only, 150 years of Italian unity.
 *  L.151	Legge 8 ottobre 2025, n. 151 (G.U. n. 236 of 10 October 2025,
 *		in force 1 January 2026), adding to art. 2 of L.260 "il 4
 *		ottobre: festa nazionale di San Francesco d'Assisi, patrono
 *		d'Italia". Saint Catherine of Siena keeps 4 October only as a
 *		"solennità civile" (L. 4 marzo 1958, n. 132 as amended), which
 *		is not a holiday.
 *
 * Not rows: 11 February (the Lateran pacts) was a "solennità civile" under
 * art. 3 of L.260, with reduced office hours but not a holiday; the first
 * Sundays of June and November (1977-2000) are Sundays anyway; 4 October
 * 1958-1977, which the press calls a holiday of those years, because the
 * text of L. 132/1958 found names it a "solennità civile" and no act ending
 * it in 1977 was found. Years before 1949 are not modelled (no deadline of
 * dsrd can fall there); add rows here, with their law, if that changes.
 */
struct cal_rule {
	int		 month;		/* 1..12, or 0 for Easter-relative */
	int		 day;		/* day of month, or offset from Easter */
	int		 first_year;
	int		 last_year;
	const char	*name;
};

#define CAL_FOREVER	9999
#define CAL_EASTER	0

static const struct cal_rule cal_rules[] = {
	/* L.260 */
	{ 1, 1, 1949, CAL_FOREVER, "Capodanno" },
	/* L.260; L.54 */
	{ 1, 6, 1949, 1977, "Epifania" },
	/* DPR792 */
	{ 1, 6, 1986, CAL_FOREVER, "Epifania" },
	/* DL5 */
	{ 3, 17, 2011, 2011, "Anniversario dell'Unità d'Italia" },
	/* L.260; L.54 */
	{ 3, 19, 1949, 1976, "San Giuseppe" },
	/* L.260 */
	{ 4, 25, 1949, CAL_FOREVER, "Festa della Liberazione" },
	{ 5, 1, 1949, CAL_FOREVER, "Festa del Lavoro" },
	/* DLCPS, L.260; L.54 */
	{ 6, 2, 1947, 1976, "Festa della Repubblica" },
	/* L.1986 */
	{ 6, 2, 1986, 1986, "Festa della Repubblica" },
	/* L.336 */
	{ 6, 2, 2001, CAL_FOREVER, "Festa della Repubblica" },
	/* L.260; L.54 */
	{ 6, 29, 1949, 1976, "Santi Pietro e Paolo" },
	/* L.260 */
	{ 8, 15, 1949, CAL_FOREVER, "Assunzione" },
	/* L.151 */
	{ 10, 4, 2026, CAL_FOREVER, "San Francesco d'Assisi" },
	/* L.260 */
	{ 11, 1, 1949, CAL_FOREVER, "Ognissanti" },
	/* L.260; L.54 */
	{ 11, 4, 1949, 1976, "Giorno dell'Unità nazionale" },
	/* L.260 */
	{ 12, 8, 1949, CAL_FOREVER, "Immacolata Concezione" },
	{ 12, 25, 1949, CAL_FOREVER, "Natale" },
	{ 12, 26, 1949, CAL_FOREVER, "Santo Stefano" },
	/* L.260 (Easter Sunday is a Sunday anyway: "tutte le domeniche") */
	{ CAL_EASTER, 0, 1949, CAL_FOREVER, "Pasqua" },
	{ CAL_EASTER, 1, 1949, CAL_FOREVER, "Lunedì dell'Angelo" },
	/* L.260; L.54 */
	{ CAL_EASTER, 39, 1949, 1976, "Ascensione" },
	{ CAL_EASTER, 60, 1949, 1976, "Corpus Domini" },
};

/*
 * The rules above as they fall in one year: a bit per day of the year and,
 * for the names, the days in the order of the rules (the first rule to name
 * a day wins, as when two feasts fall together: Easter Monday on 25 April
 * is the Liberation). Looking a day up is then a bit test; the rules and
 * Easter are worked out once per year rather than once per day asked.
 */
struct cal_year {
	int		 year;
	int		 jan1;		/* day number of 1 January */
	int		 ndays;		/* 365 or 366; 0: an empty slot */
	int		 n;
	uint64_t	 bits[6];	/* 366 days */
	unsigned short	 mmdd[366];	/* for local holidays */
	struct {
		short	 doy;		/* day of the year, 0-based */
		short	 rule;		/* index in cal_rules */
	}		 hol[nitems(cal_rules)];
};

/*
 * A few years per thread, so that a period running into January or back
 * into December does not refill; cal_year_last is the slot of the last
 * day asked, whose range is tested before working out the day's year. Per
 * thread rather than shared, so that no lock is needed and no thread can
 * see another's slot half written (today only the event loop's thread
 * calls the calendar; the mailer's never does). A slot's contents depend
 * on nothing but its year: a cache, never a state of the program.
 */
#define CAL_YEAR_SLOTS	4

static _Thread_local struct cal_year	 cal_years[CAL_YEAR_SLOTS];
static _Thread_local struct cal_year	*cal_year_last;

static void
cal_year_fill(struct cal_year *c, int y)
{
	const struct cal_rule	*r;
	int			 day, doy, m, d, easter = 0, have_easter = 0;
	size_t			 i;

	memset(c, 0, sizeof *c);
	c->year = y;
	c->jan1 = cal_from_ymd(y, 1, 1);
	c->ndays = cal_is_leap(y) ? 366 : 365;
	for (m = 1, doy = 0; m <= 12; m++)
		for (d = 1; d <= cal_days_in_month(y, m); d++)
			c->mmdd[doy++] = (unsigned short)(m * 100 + d);
	for (i = 0; i < nitems(cal_rules); i++) {
		r = &cal_rules[i];
		if (y < r->first_year || y > r->last_year)
			continue;
		if (r->month != CAL_EASTER)
			day = cal_from_ymd(y, r->month, r->day);
		else {
			if (!have_easter) {
				easter = cal_easter(y);
				have_easter = 1;
			}
			day = easter + r->day;
		}
		/* A feast pushed into another year is not this year's. */
		if (day < c->jan1 || day - c->jan1 >= c->ndays)
			continue;
		doy = day - c->jan1;
		if (c->bits[doy / 64] & (UINT64_C(1) << (doy % 64)))
			continue;
		c->bits[doy / 64] |= UINT64_C(1) << (doy % 64);
		c->hol[c->n].doy = (short)doy;
		c->hol[c->n].rule = (short)i;
		c->n++;
	}
}

/* The table of the year of a day, filling its slot if need be. */
static const struct cal_year *
cal_year_of(int dayno)
{
	struct cal_year	*c = cal_year_last;
	int		 y, m, d;

	/* Unsigned: a day far from the slot's year wraps, never overflows. */
	if (c != NULL && (unsigned)dayno - (unsigned)c->jan1 <
	    (unsigned)c->ndays)
		return c;
	cal_to_ymd(dayno, &y, &m, &d);
	c = &cal_years[(unsigned)y % CAL_YEAR_SLOTS];
	if (c->ndays == 0 || c->year != y)
		cal_year_fill(c, y);
	cal_year_last = c;
	return c;
}

static int
cal_year_has(const struct cal_year *c, int doy)
{
	return (c->bits[doy / 64] >> (doy % 64)) & 1;
}

const char *
cal_national_holiday(int dayno)
{
	const struct cal_year	*c = cal_year_of(dayno);
	int			 doy = dayno - c->jan1, i;

	if (!cal_year_has(c, doy))
		return NULL;
	for (i = 0; i < c->n; i++)
		if (c->hol[i].doy == doy)
			return cal_rules[c->hol[i].rule].name;
	return NULL;
}

/* Whether one of the local days (MM-DD) is day doy of year c. */
static int
cal_local_on(const struct cal_year *c, int doy, const struct cal_local *local)
{
	unsigned short	mmdd = c->mmdd[doy];
	int		i;

	for (i = 0; i < local->n && i < CAL_MAX_LOCAL; i++)
		if (local->mmdd[i] == mmdd)
			return 1;
	return 0;
}

int
cal_is_local_holiday(int dayno, const struct cal_local *local)
{
	const struct cal_year	*c;

	if (local == NULL || local->n <= 0)
		return 0;
	c = cal_year_of(dayno);
	return cal_local_on(c, dayno - c->jan1, local);
}

int
cal_is_working_day(int dayno, const struct cal_local *local)
{
	const struct cal_year	*c;
	int			 doy;

	if (cal_weekday(dayno) >= 6)
		return 0;
	c = cal_year_of(dayno);
	doy = dayno - c->jan1;
	if (cal_year_has(c, doy))
		return 0;
	return local == NULL || local->n <= 0 || !cal_local_on(c, doy, local);
}

int
cal_next_working_day(int dayno, const struct cal_local *local)
{
	while (!cal_is_working_day(dayno, local))
		dayno++;
	return dayno;
}

int
cal_prev_working_day(int dayno, const struct cal_local *local)
{
	while (!cal_is_working_day(dayno, local))
		dayno--;
	return dayno;
}

static int
cmp_mmdd(const void *a, const void *b)
{
	unsigned short	x = *(const unsigned short *)a;
	unsigned short	y = *(const unsigned short *)b;

	return (x > y) - (x < y);
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\f' || c == '\v';
}

/*
 * Checks one trimmed item of a holiday list; returns the rule it breaks,
 * or NULL and *mmdd.
 */
static const char *
local_item(const char *s, size_t len, unsigned short *mmdd)
{
	int	month, day;

	if (len == 0)
		return "empty item";
	if (len != 5 || s[2] != '-' || two_digits(s, &month) == -1 ||
	    two_digits(s + 3, &day) == -1)
		return "not MM-DD";
	if (month < 1 || month > 12)
		return "no such month";
	/* A leap year, so that 02-29 is allowed. */
	if (day < 1 || day > cal_days_in_month(2000, month))
		return "no such day in that month";
	*mmdd = (unsigned short)(month * 100 + day);
	return NULL;
}

int
cal_local_parse(const char *s, struct cal_local *out, char **cause)
{
	unsigned short	 all[CAL_MAX_LOCAL + 1];
	struct cal_local local;
	const char	*p, *start, *end, *why;
	unsigned short	 mmdd = 0;
	int		 item, n = 0, i, dup;

	memset(&local, 0, sizeof local);
	if (s == NULL)
		s = "";
	for (p = s; is_space(*p); p++)
		;
	if (*p == '\0') {
		*out = local;
		return 0;
	}
	for (p = s, item = 1;; item++) {
		start = p;
		while (*p != ',' && *p != '\0')
			p++;
		end = p;
		while (start < end && is_space(*start))
			start++;
		while (end > start && is_space(end[-1]))
			end--;
		why = local_item(start, (size_t)(end - start), &mmdd);
		if (why != NULL) {
			*cause = xasprintf("holidays: item %d \"%.*s\": %s",
			    item, (int)(end - start > 20 ? 20 : end - start),
			    start, why);
			return -1;
		}
		for (i = 0, dup = 0; i < n; i++)
			if (all[i] == mmdd)
				dup = 1;
		if (!dup) {
			if (n == CAL_MAX_LOCAL) {
				*cause = xasprintf("holidays: more than %d "
				    "different days", CAL_MAX_LOCAL);
				return -1;
			}
			all[n++] = mmdd;
		}
		if (*p == '\0')
			break;
		p++;
	}
	qsort(all, (size_t)n, sizeof all[0], cmp_mmdd);
	local.n = n;
	memcpy(local.mmdd, all, (size_t)n * sizeof all[0]);
	*out = local;
	return 0;
}

void
cal_local_format(const struct cal_local *local, char *out, size_t outlen)
{
	size_t	len = 0;
	int	i, w;

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (local == NULL)
		return;
	for (i = 0; i < local->n && i < CAL_MAX_LOCAL; i++) {
		w = snprintf(out + len, outlen - len, "%s%02d-%02d",
		    i > 0 ? "," : "", local->mmdd[i] / 100,
		    local->mmdd[i] % 100);
		if (w < 0 || (size_t)w >= outlen - len) {
			/* Never leave half an item behind. */
			out[len] = '\0';
			return;
		}
		len += (size_t)w;
	}
}

int
cal_period_days_raw(int event, int ndays)
{
	return event + ndays;
}

int
cal_period_months_raw(int event, int nmonths)
{
	int	y, m, d, total, dim;

	cal_to_ymd(event, &y, &m, &d);
	total = y * 12 + (m - 1) + nmonths;
	y = floor_div(total, 12);
	m = floor_mod(total, 12) + 1;
	dim = cal_days_in_month(y, m);
	return cal_from_ymd(y, m, d < dim ? d : dim);
}

int
cal_period_end(int event, int raw_end, const struct cal_local *local)
{
	int	end, day, nworking = 0;

	/* Art. 3(4): a last day that is not a working day moves on. */
	end = cal_next_working_day(raw_end, local);
	/* Art. 3(5): a period of two days or more has two working days. */
	if (raw_end - event < 2)
		return end;
	/* Two are all that matter: stop counting there, rather than walk
	   the month of a months period day by day. */
	for (day = event + 1; day <= end && nworking < 2; day++)
		if (cal_is_working_day(day, local))
			nworking++;
	while (nworking < 2) {
		end = cal_next_working_day(end + 1, local);
		nworking++;
	}
	return end;
}

int
cal_period_days(int event, int ndays, const struct cal_local *local)
{
	return cal_period_end(event, cal_period_days_raw(event, ndays), local);
}

int
cal_period_months(int event, int nmonths, const struct cal_local *local)
{
	return cal_period_end(event, cal_period_months_raw(event, nmonths),
	    local);
}

/*
 * The time-zone functions ask libc (mktime, localtime_r: a few thousand
 * instructions a call, several calls for a cal_moment), and dsrd asks them
 * the same questions again and again: the alert moment of the same few
 * days for every request of a batch or every filing of a day, today for
 * the same instant. So each thread remembers its recent answers, keyed by
 * the whole question and by the zone's generation, which cal_set_timezone
 * bumps: an answer is only ever reused in the zone it was computed in.
 * That makes cal_set_timezone the one way to change the process zone
 * (setenv("TZ") and tzset() behind its back would leave stale answers);
 * dsrd sets it once, at start.
 */
static atomic_uint	cal_tz_gen = 1;	/* 0: an empty memo slot */

struct cal_moment_memo {
	unsigned	 gen;
	int		 dayno;
	int		 minute;
	time_t		 t;
};

struct cal_today_memo {
	unsigned	 gen;
	time_t		 now;
	int		 dayno;
};

#define CAL_MOMENT_SLOTS	64
#define CAL_TODAY_SLOTS		16	/* the top 4 bits of a hash */

static _Thread_local struct cal_moment_memo	cal_moments[CAL_MOMENT_SLOTS];
static _Thread_local struct cal_today_memo	cal_todays[CAL_TODAY_SLOTS];

static void
cal_tz_changed(void)
{
	/* Never 0, which would make empty slots look filled. */
	if (atomic_fetch_add_explicit(&cal_tz_gen, 1,
	    memory_order_acq_rel) + 1 == 0)
		atomic_fetch_add_explicit(&cal_tz_gen, 1,
		    memory_order_acq_rel);
}

static unsigned
cal_tz_generation(void)
{
	return atomic_load_explicit(&cal_tz_gen, memory_order_acquire);
}

/* Only names that cannot climb out of the zoneinfo directory. */
static int
tz_name_safe(const char *name)
{
	const char	*p;

	if (name[0] == '\0' || name[0] == '/' || strstr(name, "..") != NULL ||
	    strlen(name) > 200)
		return 0;
	for (p = name; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '/' || *p == '_' ||
		    *p == '+' || *p == '-')
			continue;
		return 0;
	}
	return 1;
}

int
cal_set_timezone(const char *name, char **cause)
{
	struct stat	 st;
	char		*path, magic[4];
	ssize_t		 n;
	int		 fd;

	if (name == NULL || !tz_name_safe(name)) {
		*cause = xasprintf("time zone \"%.64s\": not a valid zone name",
		    name == NULL ? "" : name);
		return -1;
	}
	/* glibc falls back to UTC without a word when TZ names nothing, so
	   make sure the zone exists and is a TZif file before using it. */
	path = xasprintf("%s/%s", ZONEINFO_DIR, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		*cause = xasprintf("time zone \"%s\": %s: %s", name, path,
		    strerror(errno));
		free(path);
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		*cause = xasprintf("time zone \"%s\": %s: not a regular file",
		    name, path);
		close(fd);
		free(path);
		return -1;
	}
	n = read(fd, magic, sizeof magic);
	close(fd);
	if (n != (ssize_t)sizeof magic || memcmp(magic, "TZif", 4) != 0) {
		*cause = xasprintf("time zone \"%s\": %s: not a TZif file",
		    name, path);
		free(path);
		return -1;
	}
	free(path);
	if (setenv("TZ", name, 1) == -1) {
		*cause = xasprintf("time zone \"%s\": setenv: %s", name,
		    strerror(errno));
		return -1;
	}
	tzset();
	cal_tz_changed();
	return 0;
}

static int
today_compute(time_t now)
{
	struct tm	tm;

	if (localtime_r(&now, &tm) == NULL)
		return 0;
	return cal_from_ymd(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

int
cal_today(time_t now)
{
	unsigned long long	 u = (unsigned long long)now;
	struct cal_today_memo	*m;
	unsigned		 gen = cal_tz_generation();

	/* Fibonacci hashing: instants an hour or a day apart (multiples of
	   16 seconds) must not share a slot. */
	m = &cal_todays[(u * 0x9e3779b97f4a7c15ULL) >> 60];
	if (m->gen != gen || m->now != now) {
		m->dayno = today_compute(now);
		m->now = now;
		m->gen = gen;
	}
	return m->dayno;
}

/* The local wall-clock time of an instant, as seconds since the epoch of
   a clock that has no time zone (so that wall times compare and subtract). */
static long long
wall_of(time_t t)
{
	struct tm	tm;

	if (localtime_r(&t, &tm) == NULL)
		return (long long)t;
	return (long long)cal_from_ymd(tm.tm_year + 1900, tm.tm_mon + 1,
	    tm.tm_mday) * SECS_PER_DAY + tm.tm_hour * 3600 + tm.tm_min * 60 +
	    tm.tm_sec;
}

static long
gmtoff_of(time_t t)
{
	struct tm	tm;

	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return tm.tm_gmtoff;
}

/*
 * mktime does the common case; around a DST change its choice (which offset
 * for an ambiguous time, where a time in the gap lands) is unspecified, so
 * the answer is checked against the offsets in force a day before and a day
 * after (a zone changes offset at most once in two days): the first instant
 * that shows the wanted wall time, or, in a gap, the instant the clock jumps.
 */
static time_t
moment_compute(int dayno, int minute)
{
	struct tm	tm;
	long long	want, cand[2], lo, hi, mid;
	time_t		t, best;
	long		off_before, off_after;
	int		y, m, d, found = 0, i;

	dayno += floor_div(minute, 1440);
	minute = floor_mod(minute, 1440);
	want = (long long)dayno * SECS_PER_DAY + minute * 60;

	cal_to_ymd(dayno, &y, &m, &d);
	memset(&tm, 0, sizeof tm);
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_hour = minute / 60;
	tm.tm_min = minute % 60;
	tm.tm_isdst = -1;
	t = mktime(&tm);
	best = t;
	if (t != (time_t)-1 && wall_of(t) == want)
		found = 1;

	off_before = gmtoff_of((time_t)(want - SECS_PER_DAY));
	off_after = gmtoff_of((time_t)(want + SECS_PER_DAY));
	cand[0] = want - off_before;
	cand[1] = want - off_after;
	for (i = 0; i < 2; i++) {
		if (wall_of((time_t)cand[i]) != want)
			continue;
		if (!found || (time_t)cand[i] < best)
			best = (time_t)cand[i];
		found = 1;
	}
	if (found)
		return best;

	/* In the gap: the clock jumps over want somewhere in [lo, hi];
	   find the first second whose wall time is past it. */
	lo = cand[0] < cand[1] ? cand[0] : cand[1];
	hi = cand[0] < cand[1] ? cand[1] : cand[0];
	if (wall_of((time_t)hi) < want)
		return t;	/* not a DST gap: give mktime's answer */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (wall_of((time_t)mid) >= want)
			hi = mid;
		else
			lo = mid + 1;
	}
	return (time_t)lo;
}

time_t
cal_moment(int dayno, int minute)
{
	struct cal_moment_memo	*m;
	unsigned		 gen = cal_tz_generation();

	m = &cal_moments[((unsigned)dayno + (unsigned)minute * 7u) %
	    CAL_MOMENT_SLOTS];
	if (m->gen != gen || m->dayno != dayno || m->minute != minute) {
		m->t = moment_compute(dayno, minute);
		m->dayno = dayno;
		m->minute = minute;
		m->gen = gen;
	}
	return m->t;
}

time_t
cal_end_of_day(int dayno)
{
	return cal_moment(dayno + 1, 0);
}
