/*
 * mailer.h: the delivery threads for e-mail. libcurl's SMTP "done" phase
 * reads the reply to the final dot with a blocking read even in the multi
 * interface (curl issues 8555 and 4015), so SMTP runs here, in threads
 * ("lanes") each with its own event base and multi handle, fed by the main
 * loop through a socketpair and answering the same way: the main loop never
 * waits on a mail server, and one slow answer holds up one lane only. Only
 * a lane's thread touches its curl handles.
 */
#ifndef DSR_MAILER_H
#define DSR_MAILER_H

#include <stddef.h>

#include "webhook.h"	/* enum dlv_result */

struct event_base;
struct mailer;

/* One message to one recipient: one SMTP transaction. */
struct mail_job {
	long long	 id;		/* the outbox row, opaque here */
	char		*url;		/* smtp://host:port or smtps:// */
	char		*username;	/* NULL: no AUTH */
	char		*password;
	int		 starttls;	/* require STARTTLS (CURLUSESSL_ALL) */
	long		 timeout;	/* seconds, each phase and in total */
	char		*from;		/* envelope sender */
	char		*to;		/* envelope recipient */
	char		*data;		/* the RFC 5322 message, CRLF */
	size_t		 len;
	size_t		 sent;		/* read position (mail thread) */
	/* filled by the mail thread */
	enum dlv_result	 result;
	char		*error;		/* why, when not DLV_OK */
};
void	mail_job_free(struct mail_job *);

/* Called on the main loop for every job submitted, exactly once. The
   callback owns the job (mail_job_free). */
typedef void	mailer_done_cb(struct mail_job *, void *arg);

/* Starts lanes threads (1..16; as many as the SMTP sessions wanted at
   once). Returns NULL and *cause on failure. */
struct mailer	*mailer_start(struct event_base *main_base, int lanes,
		    mailer_done_cb *, void *arg, char **cause);
/* Hands a job to the thread (taken). Returns -1 when stopping (the job is
   then still the caller's). */
int		 mailer_submit(struct mailer *, struct mail_job *);
/* Jobs submitted and not yet answered. */
int		 mailer_inflight(const struct mailer *);
/*
 * Stops the threads: transfers still running are aborted and their jobs
 * come back through the callback (DLV_TEMP, "shutting down") before it
 * returns. Joins the threads and frees everything.
 */
void		 mailer_stop(struct mailer *);

#endif
