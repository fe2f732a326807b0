/*
 * notify.h: who is told of an event, as the configuration says: the DPO
 * address and the webhooks subscribed to it. The body's own addresses are
 * added by the database (dsrd_recipients), inside the transaction that
 * queues the notification. Pure: reads the config it is given.
 */
#ifndef DSR_NOTIFY_H
#define DSR_NOTIFY_H

#include "config.h"

/* "{name,name}" of the webhooks subscribed to an event (enum
   notify_event; -1: every webhook); heap, caller frees. */
char	*notify_webhooks(const struct config *, int event);
/* {"request.filed": ["name", ...], ...} for every event; heap, caller
   frees. */
char	*notify_webhooks_json(const struct config *);
/* The [dpo] email, or NULL when unset. */
const char *notify_dpo_email(const struct config *);

#endif
