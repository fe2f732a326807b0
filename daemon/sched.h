/*
 * sched.h: the alert scheduler. One libevent timer, armed for the earliest
 * next_alert_at in the database (an index probe), capped at an hour so a
 * wall-clock jump is noticed. When it fires, a batch of due requests is
 * locked (SKIP LOCKED: several daemons share the work), their alerts are
 * decided by deadline.c and recorded with their notifications in one
 * transaction. No memory and no timer per request.
 */
#ifndef DSR_SCHED_H
#define DSR_SCHED_H

#include <time.h>

struct event_base;

void	sched_init(struct event_base *);
/* The schema is ready: look for work. */
void	sched_start(void);
/* Something changed (a request was filed or moved): look again. */
void	sched_kick(void);
/* A request now has an alert due at `when`: re-arms the timer if that
   comes before the moment it is armed for (no query otherwise). */
void	sched_kick_at(time_t when);
/* Shutting down or database gone: no new work. */
void	sched_stop(void);
void	sched_free(void);
/* Whether a batch or query is in flight. */
int	sched_busy(void);

#endif
