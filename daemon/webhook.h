/*
 * webhook.h: one signed HTTP POST of a notification, as the Standard
 * Webhooks specification says: headers webhook-id (stable across retries),
 * webhook-timestamp (seconds) and webhook-signature "v1,<base64 of
 * HMAC-SHA256(key, id "." timestamp "." body)>", where the key is the
 * base64-decoded part of the secret after "whsec_". It builds requests and
 * classifies answers; it never sends anything itself (curlm.c does).
 */
#ifndef DSR_WEBHOOK_H
#define DSR_WEBHOOK_H

#include <stddef.h>
#include <time.h>

#include <curl/curl.h>

/* What became of one delivery attempt (webhooks and mail alike). */
enum dlv_result {
	DLV_OK,			/* delivered */
	DLV_TEMP,		/* try again later (backoff) */
	DLV_PERM,		/* will never work: dead at once */
	DLV_GONE,		/* HTTP 410: the endpoint asks to be disabled */
};

/*
 * The signature header value "v1,<base64>" into a heap string (caller
 * frees). Returns NULL and *cause for a malformed secret.
 */
char	*webhook_sign(const char *secret, const char *msg_id, long long ts,
	    const char *body, size_t bodylen, char **cause);

/* An easy handle ready to POST, with what it needs kept alive. */
struct webhook_req {
	CURL			*easy;
	struct curl_slist	*headers;
	char			*body;
	char			 errbuf[CURL_ERROR_SIZE];
};
/*
 * Prepares the POST of body (JSON) to url: content type, the three
 * webhook-* headers, a user agent, connect and total timeouts (seconds),
 * http/https only, no redirects followed, NOSIGNAL. Returns NULL and *cause
 * on failure.
 */
struct webhook_req *webhook_prepare(const char *url, const char *secret,
	    const char *msg_id, time_t now, const char *body, long timeout,
	    char **cause);
void	webhook_req_free(struct webhook_req *);

/*
 * Classifies a finished POST: 2xx OK; 3xx PERM (not followed); 408, 429
 * and 5xx TEMP; 410 GONE; other 4xx PERM; transport errors TEMP (except a
 * malformed URL or an unsupported protocol: PERM). For 429 and 503 with a
 * Retry-After header (seconds or HTTP date), *retry_after is the delay in
 * seconds, else -1. *why: a short heap description ("HTTP 500"), caller
 * frees.
 */
enum dlv_result webhook_classify(CURL *easy, CURLcode, time_t now,
	    long *retry_after, char **why);

#endif
