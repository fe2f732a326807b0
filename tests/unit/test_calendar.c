/*
 * test_calendar.c: unit tests of calendar.c, the module that decides when
 * dsrd's legal deadlines fall. Day arithmetic, the Italian holidays year by
 * year across each change of the law, the periods of Regulation 1182/71
 * (month ends, weekends, runs of holidays, art. 3(5)), local holidays and
 * the time-zone functions around DST changes. These tests must never depend
 * on the machine's own time zone or clock: each time-zone test sets its zone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "calendar.h"
#include "util.h"

/* A day from "YYYY-MM-DD", failing the test if it does not parse. */
static int
day_of(const char *s)
{
	int	d = 0;

	if (cal_parse_date(s, &d) != 0)
		fail_msg("bad date in test: %s", s);
	return d;
}

static void
assert_day(int got, const char *want)
{
	char	buf[11];

	cal_format_date(got, buf);
	assert_string_equal(buf, want);
}

/* An instant given as UTC civil time, computed without the libc zone. */
static time_t
utc(const char *date, int hour, int min)
{
	return (time_t)day_of(date) * 86400 + hour * 3600 + min * 60;
}

/* --- days ------------------------------------------------------------- */

static void
test_leap_years(void **state)
{
	static const struct { int year, leap; } t[] = {
		{ 1600, 1 }, { 1700, 0 }, { 1800, 0 }, { 1900, 0 },
		{ 1996, 1 }, { 1999, 0 }, { 2000, 1 }, { 2023, 0 },
		{ 2024, 1 }, { 2025, 0 }, { 2100, 0 }, { 2400, 1 },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		assert_int_equal(cal_is_leap(t[i].year), t[i].leap);
		assert_int_equal(cal_days_in_month(t[i].year, 2),
		    t[i].leap ? 29 : 28);
	}
}

static void
test_days_in_month(void **state)
{
	static const int dim[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int	m;

	(void)state;
	for (m = 1; m <= 12; m++) {
		assert_int_equal(cal_days_in_month(2023, m), dim[m - 1]);
		assert_int_equal(cal_days_in_month(2024, m),
		    m == 2 ? 29 : dim[m - 1]);
	}
	assert_int_equal(cal_days_in_month(2024, 0), 0);
	assert_int_equal(cal_days_in_month(2024, 13), 0);
}

static void
test_known_days(void **state)
{
	static const struct {
		int	y, m, d, dayno, wday;
	} t[] = {
		{ 1970, 1, 1, 0, 4 },
		{ 1969, 12, 31, -1, 3 },
		{ 1970, 1, 2, 1, 5 },
		{ 1900, 1, 1, -25567, 1 },
		{ 2000, 1, 1, 10957, 6 },
		{ 2000, 3, 1, 11017, 3 },
		{ 2024, 2, 29, 19782, 4 },
		{ 2026, 3, 29, 20541, 7 },
		{ 2038, 1, 19, 24855, 2 },
		{ 9999, 12, 31, 2932896, 5 },
	};
	size_t	i;
	int	y, m, d;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		assert_int_equal(cal_from_ymd(t[i].y, t[i].m, t[i].d),
		    t[i].dayno);
		cal_to_ymd(t[i].dayno, &y, &m, &d);
		assert_int_equal(y, t[i].y);
		assert_int_equal(m, t[i].m);
		assert_int_equal(d, t[i].d);
		assert_int_equal(cal_weekday(t[i].dayno), t[i].wday);
	}
}

/* Every day of 1900..2400: from_ymd and to_ymd agree, days are
   consecutive, and the weekday advances by one. */
static void
test_roundtrip_1900_2400(void **state)
{
	int	y, m, d, dayno, prev = 0, prev_wd = 0, yy, mm, dd, first = 1;
	int	ndays = 0;

	(void)state;
	for (y = 1900; y <= 2400; y++) {
		for (m = 1; m <= 12; m++) {
			for (d = 1; d <= cal_days_in_month(y, m); d++) {
				dayno = cal_from_ymd(y, m, d);
				cal_to_ymd(dayno, &yy, &mm, &dd);
				if (yy != y || mm != m || dd != d)
					fail_msg("%d-%d-%d -> %d -> %d-%d-%d",
					    y, m, d, dayno, yy, mm, dd);
				if (!first) {
					assert_int_equal(dayno, prev + 1);
					assert_int_equal(cal_weekday(dayno),
					    prev_wd % 7 + 1);
				}
				assert_in_range(cal_weekday(dayno), 1, 7);
				prev = dayno;
				prev_wd = cal_weekday(dayno);
				first = 0;
				ndays++;
			}
		}
	}
	/* 501 years, 122 of them leap (not 1900, 2100, 2200, 2300). */
	assert_int_equal(ndays, 501 * 365 + 122);
}

/* Day numbers agree with the C library's own UTC arithmetic. */
static void
test_days_match_timegm(void **state)
{
	struct tm	tm;
	int		dayno;

	(void)state;
	for (dayno = -25567; dayno < 40000; dayno += 97) {
		memset(&tm, 0, sizeof tm);
		cal_to_ymd(dayno, &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
		tm.tm_year -= 1900;
		tm.tm_mon -= 1;
		assert_true(timegm(&tm) == (time_t)dayno * 86400);
	}
}

static void
test_parse_date_good(void **state)
{
	static const struct {
		const char	*s;
		int		 y, m, d;
	} t[] = {
		{ "1900-01-01", 1900, 1, 1 },
		{ "1970-01-01", 1970, 1, 1 },
		{ "2000-02-29", 2000, 2, 29 },
		{ "2024-02-29", 2024, 2, 29 },
		{ "2025-12-31", 2025, 12, 31 },
		{ "2026-04-30", 2026, 4, 30 },
		{ "9999-12-31", 9999, 12, 31 },
	};
	size_t	i;
	int	dayno;
	char	buf[11];

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		dayno = -12345;
		assert_int_equal(cal_parse_date(t[i].s, &dayno), 0);
		assert_int_equal(dayno, cal_from_ymd(t[i].y, t[i].m, t[i].d));
		cal_format_date(dayno, buf);
		assert_string_equal(buf, t[i].s);
	}
}

static void
test_parse_date_bad(void **state)
{
	static const char *const bad[] = {
		"",
		"2024",
		"2024-01",
		"2024-1-01",
		"2024-01-1",
		"24-01-01",
		"02024-01-01",
		"2024/01/01",
		"2024.01.01",
		"20240101",
		" 2024-01-01",
		"2024-01-01 ",
		"2024-01-01\n",
		"2024-01-01x",
		"2024-01-01T00:00",
		"+024-01-01",
		"-024-01-01",
		"2024-+1-01",
		"2024-01-+1",
		"2024- 1-01",
		"2024-0a-01",
		"abcd-01-01",
		"2024-00-10",
		"2024-13-01",
		"2024-01-00",
		"2024-01-32",
		"2024-04-31",
		"2023-02-29",
		"1900-02-29",
		"2100-02-29",
		"2024-02-30",
		"1899-12-31",
		"0000-01-01",
		"10000-01-01",
		"\xef\xbc\x92" "024-01-01",
	};
	size_t	i;
	int	dayno;

	(void)state;
	for (i = 0; i < nitems(bad); i++) {
		dayno = 4242;
		if (cal_parse_date(bad[i], &dayno) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_int_equal(dayno, 4242);	/* untouched */
	}
	assert_int_equal(cal_parse_date(NULL, &dayno), -1);
}

static void
test_format_date(void **state)
{
	char	buf[16];

	(void)state;
	memset(buf, 'x', sizeof buf);
	cal_format_date(0, buf);
	assert_string_equal(buf, "1970-01-01");
	assert_int_equal(buf[11], 'x');		/* wrote 11 bytes, no more */
	cal_format_date(-25567, buf);
	assert_string_equal(buf, "1900-01-01");
	cal_format_date(cal_from_ymd(2026, 10, 4), buf);
	assert_string_equal(buf, "2026-10-04");
}

/* --- holidays --------------------------------------------------------- */

static void
test_easter(void **state)
{
	static const char *const t[] = {
		"1818-03-22", "1886-04-25", "1900-04-15", "1943-04-25",
		"1954-04-18", "1961-04-02", "1976-04-18", "1977-04-10",
		"1981-04-19", "1986-03-30", "2000-04-23", "2008-03-23",
		"2011-04-24", "2019-04-21", "2024-03-31", "2025-04-20",
		"2026-04-05", "2027-03-28", "2038-04-25", "2049-04-18",
		"2100-03-28", "2285-03-22", "2400-04-16",
	};
	size_t	i;
	int	y, m, d, dayno;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		/* 1818 and 1886 are before what cal_parse_date accepts. */
		if (sscanf(t[i], "%d-%d-%d", &y, &m, &d) != 3)
			fail();
		assert_day(cal_easter(y), t[i]);
	}
	/* Always a Sunday, always 22 March .. 25 April. */
	for (y = 1900; y <= 2400; y++) {
		dayno = cal_easter(y);
		assert_int_equal(cal_weekday(dayno), 7);
		assert_true(dayno >= cal_from_ymd(y, 3, 22));
		assert_true(dayno <= cal_from_ymd(y, 4, 25));
	}
}

static void
test_national_holidays_by_law(void **state)
{
	static const struct {
		const char	*date;
		const char	*name;	/* NULL: not a holiday */
	} t[] = {
		/* Fixed days that never changed. */
		{ "2026-01-01", "Capodanno" },
		{ "1950-01-01", "Capodanno" },
		{ "2026-04-25", "Festa della Liberazione" },
		{ "2026-05-01", "Festa del Lavoro" },
		{ "2026-08-15", "Assunzione" },
		{ "2026-11-01", "Ognissanti" },
		{ "2026-12-08", "Immacolata Concezione" },
		{ "2026-12-25", "Natale" },
		{ "2026-12-26", "Santo Stefano" },
		{ "1949-12-25", "Natale" },
		{ "2026-12-24", NULL },
		{ "2026-12-31", NULL },
		{ "2026-11-02", NULL },
		{ "2026-08-14", NULL },
		/* Easter-relative. */
		{ "2026-04-05", "Pasqua" },
		{ "2026-04-06", "Lunedì dell'Angelo" },
		{ "2025-04-21", "Lunedì dell'Angelo" },
		{ "2024-04-01", "Lunedì dell'Angelo" },
		{ "2026-04-03", NULL },		/* Good Friday */
		{ "2026-04-07", NULL },
		/* Epiphany: L.260/1949; L.54/1977 (in force 8 March 1977, so
		   6 January 1977 still counted); DPR 792/1985 from 1986. */
		{ "1976-01-06", "Epifania" },
		{ "1977-01-06", "Epifania" },
		{ "1978-01-06", NULL },
		{ "1985-01-06", NULL },
		{ "1986-01-06", "Epifania" },
		{ "2026-01-06", "Epifania" },
		/* St Joseph: abolished by L.54/1977. */
		{ "1976-03-19", "San Giuseppe" },
		{ "1977-03-19", NULL },
		{ "2026-03-19", NULL },
		/* Saints Peter and Paul: abolished by L.54/1977. */
		{ "1976-06-29", "Santi Pietro e Paolo" },
		{ "1977-06-29", NULL },
		{ "2026-06-29", NULL },
		/* 4 November: moved to a Sunday by L.54/1977. */
		{ "1976-11-04", "Giorno dell'Unità nazionale" },
		{ "1977-11-04", NULL },
		{ "2026-11-04", NULL },
		/* 2 June: 1947, L.260/1949; Sunday 1977-2000 (L.54/1977)
		   except Monday 2 June 1986; again from 2001 (L.336/2000). */
		{ "1946-06-02", NULL },
		{ "1947-06-02", "Festa della Repubblica" },
		{ "1976-06-02", "Festa della Repubblica" },
		{ "1977-06-02", NULL },
		{ "1985-06-02", NULL },
		{ "1986-06-02", "Festa della Repubblica" },
		{ "1987-06-02", NULL },
		{ "2000-06-02", NULL },
		{ "2001-06-02", "Festa della Repubblica" },
		{ "2026-06-02", "Festa della Repubblica" },
		/* 4 October: L. 151/2025, from 2026. */
		{ "1970-10-04", NULL },
		{ "2025-10-04", NULL },
		{ "2026-10-04", "San Francesco d'Assisi" },
		{ "2027-10-04", "San Francesco d'Assisi" },
		{ "2100-10-04", "San Francesco d'Assisi" },
		/* 17 March 2011 only: D.L. 5/2011. */
		{ "2010-03-17", NULL },
		{ "2011-03-17", "Anniversario dell'Unità d'Italia" },
		{ "2012-03-17", NULL },
		/* 11 February was a solennità civile, never a holiday. */
		{ "1960-02-11", NULL },
		{ "2026-02-11", NULL },
		/* Easter Monday on 25 April, Easter Sunday on 25 April. */
		{ "2011-04-25", "Festa della Liberazione" },
		{ "2038-04-25", "Festa della Liberazione" },
		{ "2038-04-26", "Lunedì dell'Angelo" },
	};
	const char	*name;
	size_t		 i;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		name = cal_national_holiday(day_of(t[i].date));
		if (t[i].name == NULL && name != NULL)
			fail_msg("%s: got \"%s\", want none", t[i].date, name);
		if (t[i].name != NULL && name == NULL)
			fail_msg("%s: got none, want \"%s\"", t[i].date,
			    t[i].name);
		if (t[i].name != NULL)
			assert_string_equal(name, t[i].name);
	}
}

/* Ascension (Easter + 39) and Corpus Domini (Easter + 60) until 1976. */
static void
test_movable_feasts(void **state)
{
	static const struct { int year, in_force; } t[] = {
		{ 1950, 1 }, { 1965, 1 }, { 1976, 1 },
		{ 1977, 0 }, { 1978, 0 }, { 2000, 0 }, { 2026, 0 },
	};
	const char	*name;
	size_t		 i;
	int		 e;

	(void)state;
	assert_day(cal_easter(1976) + 39, "1976-05-27");
	assert_day(cal_easter(1976) + 60, "1976-06-17");
	for (i = 0; i < nitems(t); i++) {
		e = cal_easter(t[i].year);
		assert_int_equal(cal_weekday(e + 39), 4);
		assert_int_equal(cal_weekday(e + 60), 4);
		name = cal_national_holiday(e + 39);
		if (t[i].in_force) {
			assert_non_null(name);
			assert_string_equal(name, "Ascensione");
			assert_string_equal(cal_national_holiday(e + 60),
			    "Corpus Domini");
			assert_false(cal_is_working_day(e + 39, NULL));
		} else {
			assert_null(name);
			assert_null(cal_national_holiday(e + 60));
			assert_true(cal_is_working_day(e + 39, NULL));
		}
	}
}

static int
holidays_in_year(int year)
{
	int	d, n = 0;

	for (d = cal_from_ymd(year, 1, 1); d <= cal_from_ymd(year, 12, 31);
	    d++)
		if (cal_national_holiday(d) != NULL)
			n++;
	return n;
}

/* The whole list of each regime, counted as distinct days. */
static void
test_holidays_per_year(void **state)
{
	static const struct { int year, n; } t[] = {
		{ 1948, 1 },	/* only 2 June: the table starts in 1949 */
		{ 1976, 17 },
		{ 1977, 11 },	/* 6 January still, nothing after 8 March */
		{ 1978, 10 },
		{ 1985, 10 },
		{ 1986, 12 },	/* Epiphany back, and Monday 2 June */
		{ 1990, 11 },
		{ 2000, 11 },
		{ 2001, 12 },
		{ 2010, 12 },
		{ 2011, 12 },	/* 17 March; Easter Monday on 25 April */
		{ 2025, 12 },
		{ 2026, 13 },
		{ 2027, 13 },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(t); i++)
		if (holidays_in_year(t[i].year) != t[i].n)
			fail_msg("%d: %d holidays, want %d", t[i].year,
			    holidays_in_year(t[i].year), t[i].n);
}

static void
test_working_days(void **state)
{
	static const struct {
		const char	*date;
		int		 working;
	} t[] = {
		{ "2026-01-02", 1 },	/* Friday */
		{ "2026-01-03", 0 },	/* Saturday */
		{ "2026-01-04", 0 },	/* Sunday */
		{ "2026-01-05", 1 },
		{ "2026-01-06", 0 },	/* Epiphany, Tuesday */
		{ "1980-01-07", 1 },
		{ "1980-01-04", 1 },	/* 1980: no Epiphany, Friday 4th */
		{ "2026-04-06", 0 },	/* Easter Monday */
		{ "2026-06-02", 0 },	/* Tuesday */
		{ "2000-06-02", 1 },	/* Friday, not yet a holiday */
		{ "2027-10-04", 0 },	/* Monday, San Francesco */
		{ "2024-10-04", 1 },	/* Friday, before L. 151/2025 */
		{ "2026-12-24", 1 },
		{ "2026-12-31", 1 },
	};
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(t); i++)
		if (cal_is_working_day(day_of(t[i].date), NULL) !=
		    t[i].working)
			fail_msg("%s: want working=%d", t[i].date,
			    t[i].working);

	assert_day(cal_next_working_day(day_of("2026-01-02"), NULL),
	    "2026-01-02");
	assert_day(cal_next_working_day(day_of("2026-01-03"), NULL),
	    "2026-01-05");
	assert_day(cal_next_working_day(day_of("2026-04-04"), NULL),
	    "2026-04-07");
	assert_day(cal_next_working_day(day_of("2022-12-24"), NULL),
	    "2022-12-27");
	assert_day(cal_prev_working_day(day_of("2026-01-06"), NULL),
	    "2026-01-05");
	assert_day(cal_prev_working_day(day_of("2026-04-06"), NULL),
	    "2026-04-03");
	assert_day(cal_prev_working_day(day_of("2027-01-01"), NULL),
	    "2026-12-31");
	assert_day(cal_prev_working_day(day_of("2025-12-28"), NULL),
	    "2025-12-24");
	assert_day(cal_prev_working_day(day_of("2026-05-04"), NULL),
	    "2026-05-04");
}

/* --- local holidays --------------------------------------------------- */

static void
test_local_parse_good(void **state)
{
	static const struct {
		const char	*in;
		const char	*out;
		int		 n;
	} t[] = {
		{ "", "", 0 },
		{ "   ", "", 0 },
		{ "06-26", "06-26", 1 },
		{ " 06-26 ", "06-26", 1 },
		{ "12-07,06-26", "06-26,12-07", 2 },
		{ " 12-07 ,\t06-26 , 06-26", "06-26,12-07", 2 },
		{ "02-29", "02-29", 1 },
		{ "01-31,04-30,12-31,01-01", "01-01,01-31,04-30,12-31", 4 },
		{ "01-01,01-02,01-03,01-04,01-05,01-06,01-07,01-08,"
		  "01-09,01-10,01-11,01-12,01-13,01-14,01-15,01-16",
		  "01-01,01-02,01-03,01-04,01-05,01-06,01-07,01-08,"
		  "01-09,01-10,01-11,01-12,01-13,01-14,01-15,01-16", 16 },
		/* 17 items, 16 different days. */
		{ "01-16,01-01,01-02,01-03,01-04,01-05,01-06,01-07,01-08,"
		  "01-09,01-10,01-11,01-12,01-13,01-14,01-15,01-16",
		  "01-01,01-02,01-03,01-04,01-05,01-06,01-07,01-08,"
		  "01-09,01-10,01-11,01-12,01-13,01-14,01-15,01-16", 16 },
	};
	struct cal_local	 local;
	char			 buf[256], *cause;
	size_t			 i;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		cause = NULL;
		memset(&local, 0xff, sizeof local);
		if (cal_local_parse(t[i].in, &local, &cause) != 0)
			fail_msg("\"%s\": %s", t[i].in, cause);
		assert_null(cause);
		assert_int_equal(local.n, t[i].n);
		cal_local_format(&local, buf, sizeof buf);
		assert_string_equal(buf, t[i].out);
	}
}

static void
test_local_parse_bad(void **state)
{
	static const struct {
		const char	*in;
		const char	*cause;
	} t[] = {
		{ "13-01", "holidays: item 1 \"13-01\": no such month" },
		{ "06-26,13-01",
		  "holidays: item 2 \"13-01\": no such month" },
		{ "06-26, 00-10",
		  "holidays: item 2 \"00-10\": no such month" },
		{ "02-30", "holidays: item 1 \"02-30\": no such day in that "
		  "month" },
		{ "04-31", "holidays: item 1 \"04-31\": no such day in that "
		  "month" },
		{ "01-00", "holidays: item 1 \"01-00\": no such day in that "
		  "month" },
		{ "01-32", "holidays: item 1 \"01-32\": no such day in that "
		  "month" },
		{ "06-26,", "holidays: item 2 \"\": empty item" },
		{ ",06-26", "holidays: item 1 \"\": empty item" },
		{ "06-26,,07-01", "holidays: item 2 \"\": empty item" },
		{ "06-26, ,07-01", "holidays: item 2 \"\": empty item" },
		{ "6-26", "holidays: item 1 \"6-26\": not MM-DD" },
		{ "06-6", "holidays: item 1 \"06-6\": not MM-DD" },
		{ "06/26", "holidays: item 1 \"06/26\": not MM-DD" },
		{ "06 -26", "holidays: item 1 \"06 -26\": not MM-DD" },
		{ "06-26;07-01",
		  "holidays: item 1 \"06-26;07-01\": not MM-DD" },
		{ "2026-06-26", "holidays: item 1 \"2026-06-26\": not MM-DD" },
		{ "+6-26", "holidays: item 1 \"+6-26\": not MM-DD" },
		{ "01-01,01-02,01-03,01-04,01-05,01-06,01-07,01-08,"
		  "01-09,01-10,01-11,01-12,01-13,01-14,01-15,01-16,01-17",
		  "holidays: more than 16 different days" },
	};
	struct cal_local	 local;
	char			*cause;
	size_t			 i;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		cause = NULL;
		local.n = 3;
		if (cal_local_parse(t[i].in, &local, &cause) != -1)
			fail_msg("accepted \"%s\"", t[i].in);
		assert_non_null(cause);
		assert_string_equal(cause, t[i].cause);
		assert_int_equal(local.n, 3);	/* untouched on error */
		free(cause);
	}
	/* A long junk item is cut in the message. */
	cause = NULL;
	assert_int_equal(cal_local_parse("06-26,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	    "xxxxxxxxxxxxxxxxxxxxxxx", &local, &cause), -1);
	assert_non_null(cause);
	assert_true(strlen(cause) < 80);
	assert_non_null(strstr(cause, "item 2"));
	free(cause);
}

static void
test_local_format_small_buffer(void **state)
{
	struct cal_local	 local;
	char			 buf[12], *cause = NULL;

	(void)state;
	assert_int_equal(cal_local_parse("06-26,12-07,01-31", &local, &cause),
	    0);
	memset(buf, 'x', sizeof buf);
	cal_local_format(&local, buf, sizeof buf);	/* room for two */
	assert_string_equal(buf, "01-31,06-26");
	cal_local_format(&local, buf, 8);		/* room for one */
	assert_string_equal(buf, "01-31");
	cal_local_format(&local, buf, 3);		/* room for none */
	assert_string_equal(buf, "");
	cal_local_format(NULL, buf, sizeof buf);
	assert_string_equal(buf, "");
}

static void
test_local_holidays(void **state)
{
	struct cal_local	 trento, leap;
	char			*cause = NULL;
	int			 y;

	(void)state;
	assert_int_equal(cal_local_parse("06-26", &trento, &cause), 0);
	assert_true(cal_is_local_holiday(day_of("2026-06-26"), &trento));
	assert_true(cal_is_local_holiday(day_of("1990-06-26"), &trento));
	assert_false(cal_is_local_holiday(day_of("2026-06-25"), &trento));
	assert_false(cal_is_local_holiday(day_of("2026-06-26"), NULL));
	assert_false(cal_is_working_day(day_of("2026-06-26"), &trento));
	assert_true(cal_is_working_day(day_of("2026-06-26"), NULL));
	assert_null(cal_national_holiday(day_of("2026-06-26")));
	assert_day(cal_next_working_day(day_of("2026-06-26"), &trento),
	    "2026-06-29");
	assert_day(cal_prev_working_day(day_of("2026-06-26"), &trento),
	    "2026-06-25");

	/* 29 February only exists, and only matches, in leap years. */
	assert_int_equal(cal_local_parse("02-29", &leap, &cause), 0);
	for (y = 2020; y <= 2030; y++) {
		assert_int_equal(cal_is_local_holiday(cal_from_ymd(y, 2, 28),
		    &leap), 0);
		assert_int_equal(cal_is_local_holiday(cal_from_ymd(y, 3, 1),
		    &leap), 0);
		if (cal_is_leap(y))
			assert_int_equal(cal_is_local_holiday(
			    cal_from_ymd(y, 2, 29), &leap), 1);
	}
}

/* --- the per-year table against a day-by-day model ---------------------- */

/*
 * calendar.c works each year's holidays out once and keeps a few years per
 * thread. The model below is the rule-by-rule computation it replaced, on
 * every day asked, with its own copy of the table (the law, restated): any
 * day on which the two differ is a bug of the table or of the cache (a slot
 * kept for the wrong year, a day off at a year's edge, a leap year, the
 * first rule of two on one day).
 */
static const struct {
	int		 month;		/* 0: offset from Easter Sunday */
	int		 day;
	int		 first, last;
	const char	*name;
} model_rules[] = {
	{ 1, 1, 1949, 9999, "Capodanno" },
	{ 1, 6, 1949, 1977, "Epifania" },
	{ 1, 6, 1986, 9999, "Epifania" },
	{ 3, 17, 2011, 2011, "Anniversario dell'Unità d'Italia" },
	{ 3, 19, 1949, 1976, "San Giuseppe" },
	{ 4, 25, 1949, 9999, "Festa della Liberazione" },
	{ 5, 1, 1949, 9999, "Festa del Lavoro" },
	{ 6, 2, 1947, 1976, "Festa della Repubblica" },
	{ 6, 2, 1986, 1986, "Festa della Repubblica" },
	{ 6, 2, 2001, 9999, "Festa della Repubblica" },
	{ 6, 29, 1949, 1976, "Santi Pietro e Paolo" },
	{ 8, 15, 1949, 9999, "Assunzione" },
	{ 10, 4, 2026, 9999, "San Francesco d'Assisi" },
	{ 11, 1, 1949, 9999, "Ognissanti" },
	{ 11, 4, 1949, 1976, "Giorno dell'Unità nazionale" },
	{ 12, 8, 1949, 9999, "Immacolata Concezione" },
	{ 12, 25, 1949, 9999, "Natale" },
	{ 12, 26, 1949, 9999, "Santo Stefano" },
	{ 0, 0, 1949, 9999, "Pasqua" },
	{ 0, 1, 1949, 9999, "Lunedì dell'Angelo" },
	{ 0, 39, 1949, 1976, "Ascensione" },
	{ 0, 60, 1949, 1976, "Corpus Domini" },
};

static const char *
model_holiday(int dayno)
{
	int	y, m, d;
	size_t	i;

	cal_to_ymd(dayno, &y, &m, &d);
	for (i = 0; i < nitems(model_rules); i++) {
		if (y < model_rules[i].first || y > model_rules[i].last)
			continue;
		if (model_rules[i].month != 0 ?
		    model_rules[i].month == m && model_rules[i].day == d :
		    cal_easter(y) + model_rules[i].day == dayno)
			return model_rules[i].name;
	}
	return NULL;
}

static int
model_working(int dayno, const struct cal_local *local)
{
	int	y, m, d, i;

	if (cal_weekday(dayno) >= 6 || model_holiday(dayno) != NULL)
		return 0;
	cal_to_ymd(dayno, &y, &m, &d);
	for (i = 0; local != NULL && i < local->n; i++)
		if (local->mmdd[i] == m * 100 + d)
			return 0;
	return 1;
}

/* Local lists: none, a leap day, the year's edges, a feast that is also
   national, and (made by hand, past cal_local_parse) MM-DDs of no day. */
static struct cal_local model_locals[4] = {
	{ 0, { 0 } },
	{ 3, { 101, 229, 1231 } },
	{ 2, { 425, 626 } },
	{ 7, { 0, 132, 230, 1301, 9999, 1232, 1207 } },
};

/* The number of days of days[0 .. n-1] on which calendar.c and the model
   differ, each asked in that order. */
static int
model_mismatches(const int *days, size_t n)
{
	const char	*got, *want;
	size_t		 i, j;
	int		 bad = 0;

	for (i = 0; i < n; i++) {
		got = cal_national_holiday(days[i]);
		want = model_holiday(days[i]);
		if ((got == NULL) != (want == NULL) ||
		    (got != NULL && strcmp(got, want) != 0))
			bad++;
		for (j = 0; j < nitems(model_locals); j++)
			if (cal_is_working_day(days[i], &model_locals[j]) !=
			    model_working(days[i], &model_locals[j]))
				bad++;
		if (cal_is_working_day(days[i], NULL) !=
		    model_working(days[i], NULL))
			bad++;
	}
	return bad;
}

#define MODEL_FIRST	1940
#define MODEL_LAST	2140

/* Every day of the model's years, shuffled with a fixed seed. */
static int *
model_days_shuffled(size_t *n, unsigned seed)
{
	int	 first = cal_from_ymd(MODEL_FIRST, 1, 1);
	int	 last = cal_from_ymd(MODEL_LAST, 12, 31);
	int	*days, t;
	size_t	 i, j;

	*n = (size_t)(last - first + 1);
	days = xcalloc(*n, sizeof *days);
	for (i = 0; i < *n; i++)
		days[i] = first + (int)i;
	for (i = *n - 1; i > 0; i--) {
		seed = seed * 1103515245u + 12345u;
		j = (seed >> 8) % (i + 1);
		t = days[i];
		days[i] = days[j];
		days[j] = t;
	}
	return days;
}

static void
test_holiday_table_orders(void **state)
{
	static const int md[][2] = {
		{ 1, 1 }, { 1, 6 }, { 3, 19 }, { 6, 2 }, { 10, 4 }, { 12, 31 },
	};
	int	*days, y, k, d;
	size_t	 n, i, j;

	(void)state;
	/* Random order: a different year nearly every day. */
	days = model_days_shuffled(&n, 1);
	assert_int_equal(model_mismatches(days, n), 0);
	/* Forwards and backwards, crossing each year's edge in turn. */
	for (i = 0; i < n; i++)
		days[i] = cal_from_ymd(MODEL_FIRST, 1, 1) + (int)i;
	assert_int_equal(model_mismatches(days, n), 0);
	for (i = 0; i < n; i++)
		days[i] = cal_from_ymd(MODEL_LAST, 12, 31) - (int)i;
	assert_int_equal(model_mismatches(days, n), 0);
	/* Years that share a slot in turn (every 4th, 8th, 16th), on the
	   days where the law changed and where the year turns. */
	for (k = 1, i = 0; k <= 16; k *= 2)
		for (y = 1944; y + 3 * k <= 2040; y++)
			for (j = 0; j < nitems(md); j++)
				for (d = 0; d < 4; d++)
					days[i++] = cal_from_ymd(y + d * k,
					    md[j][0], md[j][1]);
	assert_true(i > 9000 && i <= n);
	assert_int_equal(model_mismatches(days, i), 0);
	free(days);
}

/* Whether each year's table changes exactly where the law says: the count
   of holidays of every year from 1940 on, year by year, against the model,
   asked from the last day of the year back to the first. */
static void
test_holiday_table_year_edges(void **state)
{
	int	y, d, got, want;

	(void)state;
	for (y = MODEL_FIRST; y <= MODEL_LAST; y++) {
		got = want = 0;
		for (d = cal_from_ymd(y, 12, 31); d >= cal_from_ymd(y, 1, 1);
		    d--) {
			got += cal_national_holiday(d) != NULL;
			want += model_holiday(d) != NULL;
		}
		if (got != want)
			fail_msg("%d: %d holidays, model %d", y, got, want);
		/* The edges, asked right after a day of another year. */
		assert_int_equal(cal_is_working_day(cal_from_ymd(y, 1, 1) - 1,
		    NULL), model_working(cal_from_ymd(y, 1, 1) - 1, NULL));
		assert_int_equal(cal_is_working_day(cal_from_ymd(y, 1, 1),
		    NULL), model_working(cal_from_ymd(y, 1, 1), NULL));
	}
}

struct model_thread {
	pthread_t	 tid;
	unsigned	 seed;
	int		 bad;
};

static void *
model_thread_main(void *arg)
{
	struct model_thread	*t = arg;
	int			*days;
	size_t			 n;

	days = model_days_shuffled(&n, t->seed);
	t->bad = model_mismatches(days, n);
	free(days);
	return NULL;
}

/* Each thread keeps its own years: four at once, each in its own order,
   see the same calendar as the model. */
static void
test_holiday_table_threads(void **state)
{
	struct model_thread	t[4];
	size_t			i;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		t[i].seed = (unsigned)i + 7;
		t[i].bad = -1;
		assert_int_equal(pthread_create(&t[i].tid, NULL,
		    model_thread_main, &t[i]), 0);
	}
	for (i = 0; i < nitems(t); i++) {
		assert_int_equal(pthread_join(t[i].tid, NULL), 0);
		assert_int_equal(t[i].bad, 0);
	}
}

/* --- periods (Reg. 1182/71, art. 3) ------------------------------------ */

struct period_case {
	const char	*event;
	int		 n;
	const char	*raw;
	const char	*end;
};

static void
run_periods(const struct period_case *t, size_t n, int months,
    const struct cal_local *local)
{
	size_t	i;
	int	ev, raw, end;
	char	got_raw[11], got_end[11];

	for (i = 0; i < n; i++) {
		ev = day_of(t[i].event);
		raw = months ? cal_period_months_raw(ev, t[i].n) :
		    cal_period_days_raw(ev, t[i].n);
		end = months ? cal_period_months(ev, t[i].n, local) :
		    cal_period_days(ev, t[i].n, local);
		cal_format_date(raw, got_raw);
		cal_format_date(end, got_end);
		if (strcmp(got_raw, t[i].raw) != 0 ||
		    strcmp(got_end, t[i].end) != 0)
			fail_msg("%s + %d %s: got %s/%s, want %s/%s",
			    t[i].event, t[i].n, months ? "months" : "days",
			    got_raw, got_end, t[i].raw, t[i].end);
		assert_int_equal(cal_period_end(ev, raw, local), end);
	}
}

static void
test_period_months(void **state)
{
	static const struct period_case t[] = {
		/* Month ends: the last day of a shorter month. */
		{ "2023-01-31", 1, "2023-02-28", "2023-02-28" },
		{ "2024-01-31", 1, "2024-02-29", "2024-02-29" },
		{ "2023-01-30", 1, "2023-02-28", "2023-02-28" },
		{ "2024-01-30", 1, "2024-02-29", "2024-02-29" },
		{ "2023-01-28", 1, "2023-02-28", "2023-02-28" },
		{ "2023-01-29", 1, "2023-02-28", "2023-02-28" },
		{ "2025-03-31", 1, "2025-04-30", "2025-04-30" },
		/* 30 April 2023 a Sunday, 1 May a holiday. */
		{ "2023-03-31", 1, "2023-04-30", "2023-05-02" },
		{ "2025-08-31", 1, "2025-09-30", "2025-09-30" },
		{ "2025-05-31", 1, "2025-06-30", "2025-06-30" },
		{ "2024-02-29", 1, "2024-03-29", "2024-03-29" },
		{ "2024-02-29", 3, "2024-05-29", "2024-05-29" },
		{ "2024-02-29", 12, "2025-02-28", "2025-02-28" },
		{ "2025-03-31", 3, "2025-06-30", "2025-06-30" },
		{ "2023-11-30", 3, "2024-02-29", "2024-02-29" },
		{ "2024-11-30", 3, "2025-02-28", "2025-02-28" },
		{ "2025-11-30", 3, "2026-02-28", "2026-03-02" },
		/* Same date in the last month. */
		{ "2026-01-15", 1, "2026-02-15", "2026-02-16" },
		{ "2026-01-15", 3, "2026-04-15", "2026-04-15" },
		{ "2026-02-28", 1, "2026-03-28", "2026-03-30" },
		/* Year ends. */
		{ "2025-12-01", 1, "2026-01-01", "2026-01-02" },
		{ "2025-12-31", 1, "2026-01-31", "2026-02-02" },
		{ "2025-11-30", 1, "2025-12-30", "2025-12-30" },
		{ "2025-10-06", 3, "2026-01-06", "2026-01-07" },
		{ "2025-12-15", 3, "2026-03-15", "2026-03-16" },
		/* Holidays at the end. */
		{ "2027-07-04", 3, "2027-10-04", "2027-10-05" },
		{ "2024-09-04", 1, "2024-10-04", "2024-10-04" },
		{ "2025-09-04", 1, "2025-10-04", "2025-10-06" },
		{ "2026-03-06", 1, "2026-04-06", "2026-04-07" },
		{ "2026-01-25", 3, "2026-04-25", "2026-04-27" },
	};

	(void)state;
	run_periods(t, nitems(t), 1, NULL);
}

static void
test_period_days(void **state)
{
	static const struct period_case t[] = {
		{ "2026-01-05", 10, "2026-01-15", "2026-01-15" },
		/* Ending on Christmas: 25, 26, then 27 if a working day. */
		{ "2023-12-15", 10, "2023-12-25", "2023-12-27" },
		{ "2024-12-15", 10, "2024-12-25", "2024-12-27" },
		{ "2025-12-15", 10, "2025-12-25", "2025-12-29" },
		/* Saturday 24 Dec 2022: Sun 25, Mon 26 -> Tue 27. */
		{ "2022-12-14", 10, "2022-12-24", "2022-12-27" },
		/* Easter Sunday and Monday. */
		{ "2026-03-26", 10, "2026-04-05", "2026-04-07" },
		{ "2025-04-10", 10, "2025-04-20", "2025-04-22" },
		/* Saturday, Sunday. */
		{ "2026-01-07", 10, "2026-01-17", "2026-01-19" },
		{ "2026-01-08", 10, "2026-01-18", "2026-01-19" },
		/* 25 April on a Saturday; 2 June; 15 August; 1 November. */
		{ "2026-04-15", 10, "2026-04-25", "2026-04-27" },
		{ "2026-05-23", 10, "2026-06-02", "2026-06-03" },
		{ "2000-05-23", 10, "2000-06-02", "2000-06-02" },
		{ "2001-05-24", 10, "2001-06-03", "2001-06-04" },
		{ "2026-08-05", 10, "2026-08-15", "2026-08-17" },
		{ "2026-10-22", 10, "2026-11-01", "2026-11-02" },
		/* Across the year end; Epiphany. */
		{ "2025-12-22", 10, "2026-01-01", "2026-01-02" },
		{ "2026-12-27", 10, "2027-01-06", "2027-01-07" },
		{ "2026-12-28", 10, "2027-01-07", "2027-01-07" },
		/* The law of each year: St Joseph in 1976, not in 1980. */
		{ "1976-03-09", 10, "1976-03-19", "1976-03-22" },
		{ "1980-03-09", 10, "1980-03-19", "1980-03-19" },
		/* 4 October: a Monday in 2027, a Friday in 2024. */
		{ "2027-09-24", 10, "2027-10-04", "2027-10-05" },
		{ "2024-09-24", 10, "2024-10-04", "2024-10-04" },
		/* Short periods: art. 3(5) does not apply below two days. */
		{ "2026-01-10", 0, "2026-01-10", "2026-01-12" },
		{ "2025-12-19", 1, "2025-12-20", "2025-12-22" },
		{ "2026-01-12", 1, "2026-01-13", "2026-01-13" },
		/* Long ones. */
		{ "2026-01-01", 30, "2026-01-31", "2026-02-02" },
		{ "2026-01-01", 365, "2027-01-01", "2027-01-04" },
	};

	(void)state;
	run_periods(t, nitems(t), 0, NULL);
}

static void
test_period_art_3_5(void **state)
{
	static const struct period_case t[] = {
		/* Fri + 2 = Sun -> Mon, one working day -> Tue. */
		{ "2025-12-19", 2, "2025-12-21", "2025-12-23" },
		{ "2025-12-19", 3, "2025-12-22", "2025-12-23" },
		/* Wed 24 Dec + 2 = Fri 26 -> Mon 29, one working day. */
		{ "2025-12-24", 2, "2025-12-26", "2025-12-30" },
		/* Thu before Easter + 2 = Sat -> Tue: Fri and Tue count. */
		{ "2026-04-02", 2, "2026-04-04", "2026-04-07" },
		/* Good Friday + 2 = Easter -> Tue, alone -> Wed. */
		{ "2026-04-03", 2, "2026-04-05", "2026-04-08" },
		{ "2026-01-12", 2, "2026-01-14", "2026-01-14" },
		/* From a Saturday: Mon alone -> Tue. */
		{ "2026-01-10", 2, "2026-01-12", "2026-01-13" },
		/* New Year: Fri 2 and Mon 5 are two. */
		{ "2026-01-01", 2, "2026-01-03", "2026-01-05" },
		/* 31 Dec + 2 = Fri 2 Jan, alone -> Mon 5. */
		{ "2025-12-31", 2, "2026-01-02", "2026-01-05" },
		/* 2 June 2026 is a Tuesday: Sat 30 May + 2 = Mon 1 June,
		   alone (Tue 2 is a holiday) -> Wed 3. */
		{ "2026-05-30", 2, "2026-06-01", "2026-06-03" },
	};
	struct cal_local	 trento;
	char			*cause = NULL;
	int			 ev;

	(void)state;
	run_periods(t, nitems(t), 0, NULL);

	/* cal_period_end applies 3(5) only to periods of two days or more. */
	ev = day_of("2025-12-19");
	assert_day(cal_period_end(ev, ev + 1, NULL), "2025-12-22");
	assert_day(cal_period_end(ev, ev + 2, NULL), "2025-12-23");

	/* A local holiday counts too: Thu 25 June + 2 = Sat -> Mon 29; in
	   Trento Fri 26 is San Vigilio, so Mon is alone -> Tue 30. */
	assert_int_equal(cal_local_parse("06-26", &trento, &cause), 0);
	ev = day_of("2026-06-25");
	assert_day(cal_period_days(ev, 2, NULL), "2026-06-29");
	assert_day(cal_period_days(ev, 2, &trento), "2026-06-30");
}

static void
test_period_local(void **state)
{
	static const struct period_case trento_t[] = {
		/* San Vigilio, Trento: Friday 26 June 2026 -> Monday. */
		{ "2026-06-16", 10, "2026-06-26", "2026-06-29" },
		{ "2025-06-16", 10, "2025-06-26", "2025-06-27" },
	};
	static const struct period_case trento_months_t[] = {
		{ "2026-05-26", 1, "2026-06-26", "2026-06-29" },
		{ "2026-03-26", 3, "2026-06-26", "2026-06-29" },
	};
	static const struct period_case none_t[] = {
		{ "2026-06-16", 10, "2026-06-26", "2026-06-26" },
	};
	static const struct period_case milano_t[] = {
		/* Sant'Ambrogio (Mon 7 Dec 2026) then the Immacolata. */
		{ "2026-11-27", 10, "2026-12-07", "2026-12-09" },
	};
	struct cal_local	 trento, milano;
	char			*cause = NULL;

	(void)state;
	assert_int_equal(cal_local_parse("06-26", &trento, &cause), 0);
	assert_int_equal(cal_local_parse("12-07", &milano, &cause), 0);
	run_periods(trento_t, nitems(trento_t), 0, &trento);
	run_periods(trento_months_t, nitems(trento_months_t), 1, &trento);
	run_periods(none_t, nitems(none_t), 0, NULL);
	run_periods(milano_t, nitems(milano_t), 0, &milano);
}

/*
 * Properties over ten years of events: the end is a working day at or
 * after the raw end; a period of two days or more holds two working days;
 * and the end is the earliest day with both properties.
 */
static void
test_period_properties(void **state)
{
	int	ev, n, raw, end, d, nwork, earliest, months;

	(void)state;
	for (ev = day_of("2020-01-01"); ev < day_of("2030-01-01"); ev += 3) {
		for (n = 0; n <= 40; n += (n < 12 ? 1 : 7)) {
			for (months = 0; months <= 1; months++) {
				if (months && (n == 0 || n > 12))
					continue;
				raw = months ? cal_period_months_raw(ev, n) :
				    cal_period_days_raw(ev, n);
				end = cal_period_end(ev, raw, NULL);
				assert_true(end >= raw);
				assert_true(cal_is_working_day(end, NULL));
				/* first working day >= raw meeting 3(5) */
				earliest = cal_next_working_day(raw, NULL);
				for (;;) {
					nwork = 0;
					for (d = ev + 1; d <= earliest; d++)
						nwork +=
						    cal_is_working_day(d, NULL);
					if (raw - ev < 2 || nwork >= 2)
						break;
					earliest = cal_next_working_day(
					    earliest + 1, NULL);
				}
				assert_int_equal(end, earliest);
			}
		}
	}
}

/* The raw month end against a plain restatement of the rule. */
static void
test_period_months_raw_rule(void **state)
{
	int	ev, n, y, m, d, ry, rm, rd, ty, tm, dim;

	(void)state;
	for (ev = day_of("1999-01-01"); ev < day_of("2031-01-01"); ev++) {
		cal_to_ymd(ev, &y, &m, &d);
		for (n = 1; n <= 13; n += 2) {
			cal_to_ymd(cal_period_months_raw(ev, n), &ry, &rm, &rd);
			ty = y + (m - 1 + n) / 12;
			tm = (m - 1 + n) % 12 + 1;
			dim = cal_days_in_month(ty, tm);
			assert_int_equal(ry, ty);
			assert_int_equal(rm, tm);
			assert_int_equal(rd, d < dim ? d : dim);
		}
	}
}

/* --- time zones --------------------------------------------------------- */

static void
set_zone(const char *name)
{
	char	*cause = NULL;

	if (cal_set_timezone(name, &cause) != 0)
		fail_msg("%s: %s", name, cause);
	assert_null(cause);
}

static void
test_timezone_names(void **state)
{
	static const char *const bad[] = {
		"Europe/Nowhere",
		"../etc/passwd",
		"Europe/../../../etc/passwd",
		"/etc/passwd",
		"/usr/share/zoneinfo/Europe/Rome",
		"",
		"Europe/Rome ",
		" Europe/Rome",
		"Europe/Rome;rm",
		"Europe\\Rome",
		"Europe/Rome\n",
		"Europe",		/* a directory */
		"zone.tab",		/* a file, but not a zone */
		"iso3166.tab",
		"Europe/Rome/",
	};
	const char	*tz;
	char		*cause;
	size_t		 i;

	(void)state;
	set_zone("UTC");
	set_zone("Europe/Rome");
	for (i = 0; i < nitems(bad); i++) {
		cause = NULL;
		if (cal_set_timezone(bad[i], &cause) != -1)
			fail_msg("accepted \"%s\"", bad[i]);
		assert_non_null(cause);
		assert_true(strlen(cause) > 0);
		free(cause);
		/* A refused zone leaves the process zone alone. */
		tz = getenv("TZ");
		assert_non_null(tz);
		assert_string_equal(tz, "Europe/Rome");
	}
	cause = NULL;
	assert_int_equal(cal_set_timezone(NULL, &cause), -1);
	assert_non_null(cause);
	free(cause);

	cause = NULL;
	assert_int_equal(cal_set_timezone("Europe/Nowhere", &cause), -1);
	assert_non_null(strstr(cause, "Europe/Nowhere"));
	free(cause);
}

static void
test_moment_utc(void **state)
{
	(void)state;
	set_zone("UTC");
	assert_true(cal_moment(day_of("2026-01-15"), 9 * 60) ==
	    utc("2026-01-15", 9, 0));
	assert_true(cal_moment(day_of("2026-03-29"), 2 * 60 + 30) ==
	    utc("2026-03-29", 2, 30));
	assert_true(cal_end_of_day(day_of("2026-12-31")) ==
	    utc("2027-01-01", 0, 0));
	assert_int_equal(cal_today(utc("2026-01-15", 23, 30)),
	    day_of("2026-01-15"));
	assert_int_equal(cal_today(utc("2026-01-16", 0, 0)),
	    day_of("2026-01-16"));
}

static void
test_moment_rome(void **state)
{
	static const struct {
		const char	*day;
		int		 minute;
		const char	*utc_day;
		int		 h, m;
	} t[] = {
		{ "2026-01-15", 9 * 60, "2026-01-15", 8, 0 },
		{ "2026-07-15", 9 * 60, "2026-07-15", 7, 0 },
		{ "2026-01-15", 0, "2026-01-14", 23, 0 },
		{ "2026-07-15", 0, "2026-07-14", 22, 0 },
		/* Spring forward, Sunday 29 March 2026: 02:00 CET becomes
		   03:00 CEST at 01:00 UTC; 02:00..02:59 do not exist. */
		{ "2026-03-29", 0, "2026-03-28", 23, 0 },
		{ "2026-03-29", 60 + 59, "2026-03-29", 0, 59 },
		{ "2026-03-29", 2 * 60, "2026-03-29", 1, 0 },
		{ "2026-03-29", 2 * 60 + 30, "2026-03-29", 1, 0 },
		{ "2026-03-29", 2 * 60 + 59, "2026-03-29", 1, 0 },
		{ "2026-03-29", 3 * 60, "2026-03-29", 1, 0 },
		{ "2026-03-29", 3 * 60 + 1, "2026-03-29", 1, 1 },
		{ "2026-03-29", 9 * 60, "2026-03-29", 7, 0 },
		{ "2026-03-29", 23 * 60 + 59, "2026-03-29", 21, 59 },
		/* Fall back, Sunday 25 October 2026: 03:00 CEST becomes
		   02:00 CET at 01:00 UTC; 02:00..02:59 happen twice and the
		   first time counts. */
		{ "2026-10-25", 0, "2026-10-24", 22, 0 },
		{ "2026-10-25", 60 + 59, "2026-10-24", 23, 59 },
		{ "2026-10-25", 2 * 60, "2026-10-25", 0, 0 },
		{ "2026-10-25", 2 * 60 + 30, "2026-10-25", 0, 30 },
		{ "2026-10-25", 2 * 60 + 59, "2026-10-25", 0, 59 },
		{ "2026-10-25", 3 * 60, "2026-10-25", 2, 0 },
		{ "2026-10-25", 9 * 60, "2026-10-25", 8, 0 },
		/* Minutes past the day roll into the next one. */
		{ "2026-03-28", 24 * 60, "2026-03-28", 23, 0 },
		{ "2026-03-28", 26 * 60 + 30, "2026-03-29", 1, 0 },
	};
	size_t	i;
	time_t	got, want;

	(void)state;
	set_zone("Europe/Rome");
	for (i = 0; i < nitems(t); i++) {
		got = cal_moment(day_of(t[i].day), t[i].minute);
		want = utc(t[i].utc_day, t[i].h, t[i].m);
		if (got != want)
			fail_msg("%s +%d min: got %lld, want %lld (%+lld s)",
			    t[i].day, t[i].minute, (long long)got,
			    (long long)want, (long long)(got - want));
	}

	assert_true(cal_end_of_day(day_of("2026-03-28")) ==
	    utc("2026-03-28", 23, 0));
	assert_true(cal_end_of_day(day_of("2026-03-29")) ==
	    utc("2026-03-29", 22, 0));
	assert_true(cal_end_of_day(day_of("2026-10-24")) ==
	    utc("2026-10-24", 22, 0));
	assert_true(cal_end_of_day(day_of("2026-10-25")) ==
	    utc("2026-10-25", 23, 0));
	assert_true(cal_end_of_day(day_of("2026-12-31")) ==
	    utc("2026-12-31", 23, 0));
}

/* The same rules in zones with other transition times and hemispheres. */
static void
test_moment_other_zones(void **state)
{
	(void)state;
	/* New York, 8 March 2026 02:00 EST -> 03:00 EDT (07:00 UTC);
	   1 November 2026 02:00 EDT -> 01:00 EST (06:00 UTC). */
	set_zone("America/New_York");
	assert_true(cal_moment(day_of("2026-03-08"), 2 * 60 + 30) ==
	    utc("2026-03-08", 7, 0));
	assert_true(cal_moment(day_of("2026-03-08"), 60 + 59) ==
	    utc("2026-03-08", 6, 59));
	assert_true(cal_moment(day_of("2026-11-01"), 60 + 30) ==
	    utc("2026-11-01", 5, 30));
	assert_true(cal_end_of_day(day_of("2026-11-01")) ==
	    utc("2026-11-02", 5, 0));
	/* Sydney, 5 April 2026 03:00 AEDT -> 02:00 AEST (16:00 UTC the
	   day before); 4 October 2026 02:00 AEST -> 03:00 AEDT. */
	set_zone("Australia/Sydney");
	assert_true(cal_moment(day_of("2026-04-05"), 2 * 60 + 30) ==
	    utc("2026-04-04", 15, 30));
	assert_true(cal_moment(day_of("2026-10-04"), 2 * 60 + 30) ==
	    utc("2026-10-03", 16, 0));
	assert_int_equal(cal_today(utc("2026-10-03", 16, 0)),
	    day_of("2026-10-04"));
}

static void
test_today_rome(void **state)
{
	static const struct {
		const char	*utc_day;
		int		 h, m;
		const char	*local_day;
	} t[] = {
		{ "2026-01-15", 23, 30, "2026-01-16" },	/* 00:30 CET */
		{ "2026-01-15", 22, 59, "2026-01-15" },	/* 23:59 CET */
		{ "2026-01-15", 23, 0, "2026-01-16" },
		{ "2026-07-15", 23, 30, "2026-07-16" },	/* 01:30 CEST */
		{ "2026-07-15", 21, 59, "2026-07-15" },	/* 23:59 CEST */
		{ "2026-07-15", 22, 0, "2026-07-16" },
		{ "2026-12-31", 23, 0, "2027-01-01" },
		{ "2026-03-29", 0, 59, "2026-03-29" },
		{ "2026-10-25", 22, 59, "2026-10-25" },
	};
	size_t	i;
	int	d, len;

	(void)state;
	set_zone("Europe/Rome");
	for (i = 0; i < nitems(t); i++)
		assert_int_equal(cal_today(utc(t[i].utc_day, t[i].h, t[i].m)),
		    day_of(t[i].local_day));

	/* Every day of 2026: its moments are on it, and it lasts 24 hours
	   but for the two DST days. */
	for (d = day_of("2026-01-01"); d <= day_of("2026-12-31"); d++) {
		len = (int)(cal_end_of_day(d) - cal_moment(d, 0));
		assert_int_equal(cal_today(cal_moment(d, 0)), d);
		assert_int_equal(cal_today(cal_moment(d, 9 * 60)), d);
		assert_int_equal(cal_today(cal_moment(d, 23 * 60 + 59)), d);
		assert_int_equal(cal_today(cal_end_of_day(d)), d + 1);
		assert_int_equal(cal_today(cal_end_of_day(d) - 1), d);
		if (d == day_of("2026-03-29"))
			assert_int_equal(len, 23 * 3600);
		else if (d == day_of("2026-10-25"))
			assert_int_equal(len, 25 * 3600);
		else
			assert_int_equal(len, 24 * 3600);
	}
}

/*
 * cal_moment and cal_today remember recent answers per thread, and forget
 * them when cal_set_timezone changes the zone. Checked against the DST
 * rules themselves, restated here: in Rome (EU rules, 1996 on) summer time
 * runs from 01:00 UTC on the last Sunday of March to 01:00 UTC on the last
 * Sunday of October; in New York (2007 on) from 02:00 local on the second
 * Sunday of March to 02:00 local on the first Sunday of November. At 09:00
 * and at local hours 03-23 neither zone is in a transition.
 */
static int
sunday_on_or_before(int dayno)
{
	return dayno - cal_weekday(dayno) % 7;
}

/* The UTC offset in hours of a local day at 03:00-23:59, and of 09:00. */
static int
oracle_offset(int zone, int dayno)
{
	int	y, m, d, start, end;

	cal_to_ymd(dayno, &y, &m, &d);
	if (zone == 0) {
		start = sunday_on_or_before(cal_from_ymd(y, 3, 31));
		end = sunday_on_or_before(cal_from_ymd(y, 10, 31));
		return dayno >= start && dayno < end ? 2 : 1;
	}
	start = sunday_on_or_before(cal_from_ymd(y, 3, 14));
	end = sunday_on_or_before(cal_from_ymd(y, 11, 7));
	return dayno >= start && dayno < end ? -4 : -5;
}

static const char *const oracle_zones[2] = {
	"Europe/Rome", "America/New_York"
};

/* How many of days[0 .. n-1] get another moment at 09:00, or another day
   for an instant between 03:00 and 23:00, than the oracle says (in the
   zone last set). */
static int
oracle_mismatches(int zone, const int *days, size_t n)
{
	time_t	want, midnight;
	size_t	i;
	int	bad = 0, k;

	for (i = 0; i < n; i++) {
		want = (time_t)days[i] * 86400 + 9 * 3600 -
		    oracle_offset(zone, days[i]) * 3600;
		if (cal_moment(days[i], 9 * 60) != want)
			bad++;
		for (k = -6; k <= 14; k += 5)
			if (cal_today(want + k * 3600) != days[i])
				bad++;
		/* Midnight has the offset of the evening before (no zone
		   here changes at midnight); a second apart, two days. */
		midnight = (time_t)days[i] * 86400 -
		    oracle_offset(zone, days[i] - 1) * 3600;
		if (cal_today(midnight - 1) != days[i] - 1 ||
		    cal_today(midnight) != days[i])
			bad++;
	}
	return bad;
}

/* Every minute of a day with no transition, asked so that questions that
   differ only in the minute come one after the other. */
static int
oracle_minutes(int zone, int dayno)
{
	time_t	midnight;
	int	r, m, bad = 0;

	midnight = (time_t)dayno * 86400 - oracle_offset(zone, dayno) * 3600;
	for (r = 0; r < 64; r++)
		for (m = r; m < 1440; m += 64)
			if (cal_moment(dayno, m) != midnight + m * 60)
				bad++;
	/* And the seconds around midnight, one by one, up and down. */
	for (r = -300; r < 300; r++)
		if (cal_today(midnight + r) != (r < 0 ? dayno - 1 : dayno))
			bad++;
	for (r = 299; r >= -300; r--)
		if (cal_today(midnight + r) != (r < 0 ? dayno - 1 : dayno))
			bad++;
	return bad;
}

static void
test_moment_memo_against_rules(void **state)
{
	int	*days;
	size_t	 n, i, j;
	int	 z, first = cal_from_ymd(2008, 1, 1);

	(void)state;
	/* Every day of 2008-2035 in random order, in each zone. */
	n = (size_t)(cal_from_ymd(2035, 12, 31) - first + 1);
	days = xcalloc(n, sizeof *days);
	for (i = 0; i < n; i++)
		days[i] = first + (int)i;
	for (i = n - 1; i > 0; i--) {
		j = (i * 2654435761u + 17) % (i + 1);
		z = days[i];
		days[i] = days[j];
		days[j] = z;
	}
	for (z = 0; z < 2; z++) {
		set_zone(oracle_zones[z]);
		assert_int_equal(oracle_mismatches(z, days, n), 0);
	}
	/* The same days asked again at once in the other zone: an answer
	   kept from before the change would be an hour or more off. */
	for (i = 0; i + 40 <= n; i += 40)
		for (z = 0; z < 4; z++) {
			set_zone(oracle_zones[z % 2]);
			assert_int_equal(oracle_mismatches(z % 2, days + i,
			    40), 0);
		}
	for (z = 0; z < 2; z++) {
		set_zone(oracle_zones[z]);
		assert_int_equal(oracle_minutes(z, cal_from_ymd(2026, 1, 15)),
		    0);
		assert_int_equal(oracle_minutes(z, cal_from_ymd(2026, 7, 15)),
		    0);
	}
	/* Asking the same zone again changes nothing. */
	set_zone("Europe/Rome");
	assert_int_equal(oracle_mismatches(0, days, 500), 0);
	set_zone("Europe/Rome");
	assert_int_equal(oracle_mismatches(0, days, 500), 0);
	free(days);
}

static void *
oracle_thread_main(void *arg)
{
	int	*bad = arg;
	int	 days[700], i;

	for (i = 0; i < 700; i++)
		days[i] = cal_from_ymd(2026, 1, 1) + (i * 37) % 700;
	*bad = oracle_mismatches(0, days, 700);
	return NULL;
}

/* Each thread remembers its own answers; all are right. */
static void
test_moment_memo_threads(void **state)
{
	pthread_t	tid[3];
	int		bad[3], i;

	(void)state;
	set_zone("Europe/Rome");
	for (i = 0; i < 3; i++) {
		bad[i] = -1;
		assert_int_equal(pthread_create(&tid[i], NULL,
		    oracle_thread_main, &bad[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(tid[i], NULL), 0);
		assert_int_equal(bad[i], 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_leap_years),
		cmocka_unit_test(test_days_in_month),
		cmocka_unit_test(test_known_days),
		cmocka_unit_test(test_roundtrip_1900_2400),
		cmocka_unit_test(test_days_match_timegm),
		cmocka_unit_test(test_parse_date_good),
		cmocka_unit_test(test_parse_date_bad),
		cmocka_unit_test(test_format_date),
		cmocka_unit_test(test_easter),
		cmocka_unit_test(test_national_holidays_by_law),
		cmocka_unit_test(test_movable_feasts),
		cmocka_unit_test(test_holidays_per_year),
		cmocka_unit_test(test_working_days),
		cmocka_unit_test(test_local_parse_good),
		cmocka_unit_test(test_local_parse_bad),
		cmocka_unit_test(test_local_format_small_buffer),
		cmocka_unit_test(test_local_holidays),
		cmocka_unit_test(test_holiday_table_orders),
		cmocka_unit_test(test_holiday_table_year_edges),
		cmocka_unit_test(test_holiday_table_threads),
		cmocka_unit_test(test_period_months),
		cmocka_unit_test(test_period_days),
		cmocka_unit_test(test_period_art_3_5),
		cmocka_unit_test(test_period_local),
		cmocka_unit_test(test_period_properties),
		cmocka_unit_test(test_period_months_raw_rule),
		cmocka_unit_test(test_timezone_names),
		cmocka_unit_test(test_moment_utc),
		cmocka_unit_test(test_moment_rome),
		cmocka_unit_test(test_moment_other_zones),
		cmocka_unit_test(test_today_rome),
		cmocka_unit_test(test_moment_memo_against_rules),
		cmocka_unit_test(test_moment_memo_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
