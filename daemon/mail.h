/*
 * mail.h: one e-mail message of a notification: rendering the template of
 * an event in a language, and building a correct RFC 5322 message (CRLF
 * line ends, Date, Message-ID, From, To, MIME-Version, a UTF-8 text body in
 * quoted-printable, an RFC 2047 Subject in encoded words of at most 75
 * characters). libcurl adds none of these. The template directory is the
 * only thing it reads; mail_render keeps the templates it read (checked
 * against the file at every call), so it runs on one thread only.
 */
#ifndef DSR_MAIL_H
#define DSR_MAIL_H

#include <stddef.h>
#include <time.h>

struct cJSON;

/*
 * Renders DIR/LANG/EVENT.txt (EVENT without the "request." prefix, e.g.
 * "filed.txt"): its first line is "Subject: ...", then a blank line, then
 * the body. Placeholders {{name}} are replaced from the notification
 * payload (see docs/notifications.md): request_id, entity, entity_name,
 * type, type_label (in the language), status, received_on, forwarded_on,
 * statutory_due_on, operational_due_on, due_on, closed_on, outcome,
 * alert_kind, alert_days_before, event_at, subject_name (only when given:
 * include_subject_name), dpo_name. An unknown placeholder renders as "".
 * Returns 0 with *subject and *body (heap, caller frees), or -1 and *cause.
 */
int	mail_render(const char *dir, const char *lang, const char *event,
	    const struct cJSON *payload, const char *entity_name,
	    const char *subject_name, const char *dpo_name, char **subject,
	    char **body, char **cause);

/* Forgets the templates mail_render keeps (at exit, in tests). */
void	mail_template_cache_clear(void);

/*
 * The whole message with CRLF line ends, ready for SMTP. from_name may be
 * NULL (else it is encoded as RFC 2047 in the From header). *len is set.
 * Heap, caller frees.
 */
char	*mail_build(const char *from, const char *from_name, const char *to,
	    const char *subject, const char *body, const char *message_id,
	    time_t date, size_t *len);

/* RFC 2047 "=?UTF-8?Q?...?=" encoded words (<= 75 chars each, folded with
   CRLF SP), or the text as it is when it is printable ASCII. Heap. */
char	*mail_encode_header(const char *utf8, size_t first_line_used);
/* Quoted-printable of UTF-8 text (RFC 2045): CRLF line ends, soft breaks
   before 76 characters. Heap. */
char	*mail_qp(const char *utf8);
/* "<msg_id@domain>" where domain is from's domain. Heap. */
char	*mail_message_id(const char *msg_id, const char *from);

#endif
