/*
 * dlbench.c: the deadline computation of benchmarks 1 and 4 on its own, for
 * callgrind (instruction counts; the wall clock of a shared machine is too
 * noisy for a few microseconds). Three loops of 1,000 calls, each behind a
 * function of its own so that callgrind gives its inclusive count:
 *
 *  bench_filing         a filing (dl_compute, then dl_next_alert "since
 *                       ever", as file_go does), all received on one day;
 *  bench_filing_spread  the same, each received on another day of a year
 *                       (nothing in calendar.c's memos helps);
 *  bench_burst          a request of an alert batch (dl_compute,
 *                       dl_latest_alert, dl_next_alert, as sched.c does):
 *                       benchmark 4's due date, each with its own
 *                       alerts_after.
 *
 * Not built by the Makefile; from the top of the tree:
 *
 *   cc -std=c17 -D_GNU_SOURCE -O2 -g -iquote daemon \
 *       $(pkg-config --cflags libcjson) -o /tmp/dlbench bench/dlbench.c \
 *       daemon/deadline.c daemon/calendar.c daemon/validate.c \
 *       daemon/util.c daemon/log.c
 *   valgrind --tool=callgrind --toggle-collect=bench_filing \
 *       --toggle-collect=bench_filing_spread --toggle-collect=bench_burst \
 *       /tmp/dlbench
 *   callgrind_annotate --inclusive=yes callgrind.out.* | grep bench_
 *
 * and divide by 1,000. It prints a checksum of every answer, so that two
 * versions of the calendar can be compared, and so that no call is
 * optimised away. It must never be part of a test or of `make bench`.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "calendar.h"
#include "config.h"
#include "deadline.h"
#include "validate.h"

#define N	1000

/* The default [deadlines]. */
static const struct dl_policy pol = {
	.forward_days = 10,
	.forward_types = 0,
	.warn_days = { 3, 1 },
	.n_warn_days = 2,
	.alert_time = 9 * 60,
	.extension_decision_days = 5,
	.pause_on_await = true,
};
static struct cal_local	hol;
static long		sum;

static inline void
filing(int received)
{
	struct dl_request	r = { 0 };
	struct dl_dates		d;
	struct dl_alert		a;

	r.type = REQ_ACCESS;
	r.status = ST_RECEIVED;
	r.received_on = received;
	r.forwarded_on = DL_NONE;
	dl_compute(&r, &pol, &hol, &d);
	if (dl_next_alert(&r, &d, &pol, &hol, DL_NO_TIME, &a))
		sum += (long)a.moment;
	sum += d.statutory_due;
}

/* noipa: neither inlined nor merged with its twin. */
__attribute__((noipa)) static void
bench_filing(int received)
{
	filing(received);
}

__attribute__((noipa)) static void
bench_filing_spread(int received)
{
	filing(received);
	sum++;
}

__attribute__((noipa)) static void
bench_burst(int received, time_t after, time_t now)
{
	struct dl_request	r = { 0 };
	struct dl_dates		d;
	struct dl_alert		a;

	r.type = REQ_ACCESS;
	r.status = ST_RECEIVED;
	r.received_on = received;
	r.forwarded_on = DL_NONE;
	dl_compute(&r, &pol, &hol, &d);
	if (dl_latest_alert(&r, &d, &pol, &hol, after, now, &a))
		sum += (long)a.moment + a.kind;
	if (dl_next_alert(&r, &d, &pol, &hol, now, &a))
		sum += (long)a.moment;
}

int
main(int argc, char **argv)
{
	char	*cause = NULL;
	int	 rec, i;
	time_t	 now;

	if (cal_set_timezone("Europe/Rome", &cause) != 0 ||
	    cal_local_parse(argc > 1 ? argv[1] : "12-07", &hol,
	    &cause) != 0) {
		fprintf(stderr, "dlbench: %s\n", cause);
		free(cause);
		return 1;
	}
	rec = cal_from_ymd(2026, 5, 12);
	for (i = 0; i < N; i++)
		bench_filing(rec);
	rec = cal_from_ymd(2026, 1, 1);
	for (i = 0; i < N; i++)
		bench_filing_spread(rec + i * 7 % 365);
	/* Due Thursday 18 March 2027, warned at 09:00 on Monday 15 March;
	   the batch runs at that moment. */
	rec = cal_from_ymd(2027, 2, 18);
	now = cal_moment(cal_from_ymd(2027, 3, 15), 9 * 60);
	for (i = 0; i < N; i++)
		bench_burst(rec, now - 86400 * 20 - 37 * i, now);
	printf("%ld\n", sum);
	return 0;
}
