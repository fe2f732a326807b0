/*
 * calendar.h: pure date arithmetic for dsrd's clocks. Days are counted as
 * integers (day 0 is 1970-01-01, proleptic Gregorian); periods follow EU
 * Regulation 1182/71; public holidays are the Italian national ones in force
 * in each year, plus a body's own local holidays. Apart from the time-zone
 * functions at the end (which read the process time zone), nothing here
 * touches the clock, the disk or the network: it is the most tested module.
 */
#ifndef DSR_CALENDAR_H
#define DSR_CALENDAR_H

#include <stddef.h>
#include <time.h>

#define CAL_MAX_LOCAL	16	/* local holidays per body */

/* A body's own holidays (its patron saint's day): month * 100 + day. */
struct cal_local {
	int		n;
	unsigned short	mmdd[CAL_MAX_LOCAL];
};

int	cal_is_leap(int year);
int	cal_days_in_month(int year, int month);	/* month 1..12 */
/* Day number of a civil date; the date must be valid. */
int	cal_from_ymd(int year, int month, int day);
void	cal_to_ymd(int dayno, int *year, int *month, int *day);
/* ISO weekday: 1 = Monday ... 7 = Sunday. */
int	cal_weekday(int dayno);

/*
 * Strict YYYY-MM-DD (years 1900..9999, a real calendar date, nothing before
 * or after). Returns 0 and sets *dayno, or -1.
 */
int	cal_parse_date(const char *, int *dayno);
/* Writes YYYY-MM-DD and a NUL into out (11 bytes). */
void	cal_format_date(int dayno, char out[11]);

/* Easter Sunday of a Gregorian year. */
int	cal_easter(int year);
/* Name of the Italian national public holiday on that day, in force in its
   year, or NULL. */
const char *cal_national_holiday(int dayno);
int	cal_is_local_holiday(int dayno, const struct cal_local *);
/* Not a Saturday, a Sunday, a national holiday or a local one (local may be
   NULL). */
int	cal_is_working_day(int dayno, const struct cal_local *);
/* The day itself if it is a working day, else the next / previous one. */
int	cal_next_working_day(int dayno, const struct cal_local *);
int	cal_prev_working_day(int dayno, const struct cal_local *);

/*
 * "MM-DD,MM-DD,...": white space around items allowed, "" is no holidays,
 * at most CAL_MAX_LOCAL, each a date that exists in a leap year, duplicates
 * removed, sorted. Returns 0, or -1 and *cause (heap, caller frees).
 */
int	cal_local_parse(const char *, struct cal_local *, char **cause);
/* "MM-DD,MM-DD" into out; "" when there are none. */
void	cal_local_format(const struct cal_local *, char *out, size_t outlen);

/*
 * Periods of Regulation 1182/71 running from the day of an event (which does
 * not count). The _raw forms give the last day before the working-day rule:
 * event + n for days; for months the day of the last month with the same
 * date as the event, or that month's last day. cal_period_end applies art.
 * 3(4) (a last day on a Saturday, Sunday or holiday moves to the next working
 * day) and, for periods of two days or more, art. 3(5) (the period includes
 * at least two working days).
 */
int	cal_period_days_raw(int event, int ndays);
int	cal_period_months_raw(int event, int nmonths);
int	cal_period_end(int event, int raw_end, const struct cal_local *);
int	cal_period_days(int event, int ndays, const struct cal_local *);
int	cal_period_months(int event, int nmonths, const struct cal_local *);

/*
 * Time zone. cal_set_timezone checks that the zone exists in the system's
 * zoneinfo and makes it the process time zone (TZ + tzset). Returns 0, or -1
 * and *cause. It must be the only way the process zone changes: cal_today
 * and cal_moment remember recent answers (per thread) until it is called.
 */
int	cal_set_timezone(const char *name, char **cause);
/* The local calendar day of an instant. */
int	cal_today(time_t now);
/* The instant of a local wall-clock time (minutes after midnight) on a day;
   a time that does not exist (DST gap) is taken as the first instant after
   it. */
time_t	cal_moment(int dayno, int minute);
/* 24:00 local time at the end of a day (= 00:00 of the next day). */
time_t	cal_end_of_day(int dayno);

#endif
