/*
 * outbox.h: the delivery worker, Postfix-style. It claims due rows of the
 * outbox with a lease (committed before anything goes on the network),
 * sends webhooks on the main loop through libcurl's multi interface and
 * mail through the mail thread, and records each outcome: sent, retried with
 * exponential backoff and jitter, or dead (and escalated by the other
 * channel). It wakes on a timer for the next attempt and on a kick after
 * each commit that queued something.
 */
#ifndef DSR_OUTBOX_H
#define DSR_OUTBOX_H

struct event_base;

/* Returns -1 and *cause if the mail thread cannot start. */
int	outbox_init(struct event_base *, char **cause);
/* The schema is ready (also after a reconnect): rescan. */
void	outbox_start(void);
void	outbox_kick(void);
/* The configuration was reloaded (SMTP password file read again). */
void	outbox_reload(void);
/* No new claims; deliveries in flight go on. */
void	outbox_stop(void);
/* Claims, deliveries or their recording in flight. */
int	outbox_busy(void);
/* Stops the mail thread and aborts what is left; before db_free. */
void	outbox_free(void);

#endif
