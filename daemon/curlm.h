/*
 * curlm.h: libcurl's multi socket interface driven by a libevent base, as in
 * curl's hiperfifo.c. It knows nothing of webhooks, mail or requests: it runs
 * transfers and says when each is done. One per event base (the main loop
 * has one for webhooks, the mail thread its own); never shared by threads.
 */
#ifndef DSR_CURLM_H
#define DSR_CURLM_H

#include <curl/curl.h>

struct event_base;
struct curlm;

/*
 * Called once per transfer, from the event loop (never from inside
 * curlm_add), after curl_multi_socket_action returned. The easy handle has
 * been removed from the multi handle and belongs to the callback, which
 * must curl_easy_cleanup() it (and free what it attached to it).
 */
typedef void	curlm_done_cb(CURL *easy, CURLcode result, void *arg);

struct curlm	*curlm_new(struct event_base *);
/*
 * Aborts the transfers still running: their callbacks are called with
 * CURLE_ABORTED_BY_CALLBACK before it returns. Then curl_multi_cleanup;
 * call it before event_base_free.
 */
void		 curlm_free(struct curlm *);
/* Starts a transfer. Returns 0, or -1 (the callback will not be called). */
int		 curlm_add(struct curlm *, CURL *easy, curlm_done_cb *, void *arg);
/* Transfers running. */
int		 curlm_running(const struct curlm *);

#endif
