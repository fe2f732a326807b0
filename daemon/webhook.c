/*
 * webhook.c: one notification as a Standard Webhooks POST
 * (https://www.standardwebhooks.com/, spec/standard-webhooks.md): the
 * symmetric "v1" signature over "msg_id.timestamp.body" with the key
 * serialised as "whsec_" + base64, an easy handle set up to send it safely
 * (http/https only, no redirects, timeouts, no signals, response body
 * discarded), and the verdict on a finished attempt. It never sends
 * anything itself (curlm.c does), never follows a redirect, and never puts
 * the secret, the body or the server's answer into a cause or a log line.
 */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "util.h"
#include "webhook.h"

#define WH_PREFIX	"whsec_"
#define WH_MAX_ID	256	/* a msg_id longer than this is a bug */
/* Seconds to connect; the total timeout may be longer. */
#define WH_MAX_CONNECT	10

static int
b64_value(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict standard base64 (RFC 4648 §4) into out, which has room for
 * 3 * (strlen(s) / 4 + 1) bytes. Padding may be left out, as the config
 * check allows, but nothing else is forgiven: no white space, no
 * URL-safe alphabet. Returns the length, or -1.
 */
static long
b64_decode(const char *s, unsigned char *out)
{
	size_t		 n = strlen(s), len = 0, i;
	uint32_t	 acc = 0;
	int		 bits = 0, v;

	while (n > 0 && s[n - 1] == '=')
		n--;
	if (strlen(s) - n > 2 || (strlen(s) != n && strlen(s) % 4 != 0))
		return -1;
	if (n % 4 == 1)
		return -1;
	for (i = 0; i < n; i++) {
		if ((v = b64_value((unsigned char)s[i])) < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	return (long)len;
}

/*
 * The spec: "not allowed to include any `.`" in the id (it delimits the
 * signed content); and it goes into a header, so no controls or spaces.
 */
static int
msg_id_ok(const char *id)
{
	size_t	 n = strlen(id);

	if (n == 0 || n > WH_MAX_ID)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (id[i] == '.' || id[i] <= ' ' || id[i] >= 0x7f)
			return 0;
	return 1;
}

char *
webhook_sign(const char *secret, const char *msg_id, long long ts,
    const char *body, size_t bodylen, char **cause)
{
	unsigned char	*key, mac[EVP_MAX_MD_SIZE];
	unsigned int	 maclen = 0;
	long		 keylen;
	size_t		 enc, keysize;
	struct buf	 msg;
	char		*sig;

	if (secret == NULL ||
	    strncmp(secret, WH_PREFIX, strlen(WH_PREFIX)) != 0) {
		*cause = xstrdup("webhook secret does not start with "
		    "\"" WH_PREFIX "\"");
		return NULL;
	}
	secret += strlen(WH_PREFIX);
	keysize = 3 * (strlen(secret) / 4 + 1);
	key = xmalloc(keysize);
	if ((keylen = b64_decode(secret, key)) <= 0) {
		OPENSSL_cleanse(key, keysize);	/* a part may be there */
		free(key);
		*cause = xstrdup("webhook secret is not \"" WH_PREFIX "\" "
		    "followed by base64");
		return NULL;
	}
	if (msg_id == NULL || !msg_id_ok(msg_id)) {
		OPENSSL_cleanse(key, (size_t)keylen);
		free(key);
		*cause = xstrdup("webhook id is empty, too long, or has a "
		    "dot, a space or a control character");
		return NULL;
	}

	buf_init(&msg);
	buf_addf(&msg, "%s.%lld.", msg_id, ts);
	buf_add(&msg, body, bodylen);
	if (HMAC(EVP_sha256(), key, (int)keylen, (unsigned char *)msg.data,
	    msg.len, mac, &maclen) == NULL) {
		OPENSSL_cleanse(key, (size_t)keylen);
		free(key);
		buf_free(&msg);
		*cause = xstrdup("HMAC-SHA256 failed");
		return NULL;
	}
	OPENSSL_cleanse(key, (size_t)keylen);
	free(key);
	buf_free(&msg);

	/* "v1," + 4 characters per 3 bytes + NUL. */
	sig = xmalloc(3 + 4 * ((maclen + 2) / 3) + 1);
	memcpy(sig, "v1,", 3);
	enc = (size_t)EVP_EncodeBlock((unsigned char *)sig + 3, mac,
	    (int)maclen);
	sig[3 + enc] = '\0';
	return sig;
}

/* The answer's body means nothing to us, and must not reach stdout. */
static size_t
wh_discard(char *ptr, size_t size, size_t nmemb, void *arg)
{
	(void)ptr;
	(void)arg;
	return size * nmemb;
}

static void
wh_header(struct webhook_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
wh_header(struct webhook_req *r, const char *fmt, ...)
{
	struct curl_slist	*l;
	va_list			 ap;
	char			*h;

	va_start(ap, fmt);
	h = xvasprintf(fmt, ap);
	va_end(ap);
	if ((l = curl_slist_append(r->headers, h)) == NULL) {
		free(h);
		abort();	/* out of memory, as xmalloc would */
	}
	r->headers = l;
	free(h);
}

struct webhook_req *
webhook_prepare(const char *url, const char *secret, const char *msg_id,
    time_t now, const char *body, long timeout, char **cause)
{
	struct webhook_req	*r;
	char			*sig;
	size_t			 bodylen;
	CURLcode		 rc = CURLE_OK;
	const char		*opt = NULL;

	if (url == NULL || body == NULL || timeout < 1) {
		*cause = xstrdup("webhook: no URL, no body or no timeout");
		return NULL;
	}
	bodylen = strlen(body);
	if ((sig = webhook_sign(secret, msg_id, (long long)now, body, bodylen,
	    cause)) == NULL)
		return NULL;

	r = xcalloc(1, sizeof *r);
	if ((r->easy = curl_easy_init()) == NULL) {
		free(sig);
		free(r);
		*cause = xstrdup("curl_easy_init failed");
		return NULL;
	}
	r->body = xstrdup(body);
	wh_header(r, "Content-Type: application/json");
	wh_header(r, "webhook-id: %s", msg_id);
	wh_header(r, "webhook-timestamp: %lld", (long long)now);
	wh_header(r, "webhook-signature: %s", sig);
	wh_header(r, "User-Agent: dsrd/%s", DSR_VERSION);
	free(sig);

	/* Stops at the first option curl refuses, and names it. */
#define SET(o, v) do {							\
	if (rc == CURLE_OK && (rc = curl_easy_setopt(r->easy, o, v)) !=	\
	    CURLE_OK)							\
		opt = #o;						\
} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT,
	    timeout < WH_MAX_CONNECT ? timeout : (long)WH_MAX_CONNECT);
	SET(CURLOPT_TIMEOUT, timeout);
	SET(CURLOPT_ERRORBUFFER, r->errbuf);
	SET(CURLOPT_HTTPHEADER, r->headers);
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)bodylen);
	SET(CURLOPT_POSTFIELDS, r->body);
	SET(CURLOPT_WRITEFUNCTION, wh_discard);
#undef SET
	if (rc != CURLE_OK) {
		*cause = xasprintf("curl_easy_setopt(%s): %s", opt,
		    curl_easy_strerror(rc));
		webhook_req_free(r);
		return NULL;
	}
	return r;
}

void
webhook_req_free(struct webhook_req *r)
{
	if (r == NULL)
		return;
	curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	free(r->body);
	free(r);
}

/*
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date. Returns
 * seconds from now (a date in the past is 0), or -1 when absent or
 * unreadable.
 */
static long
wh_retry_after(CURL *easy, time_t now)
{
	struct curl_header	*h;
	char			*v;
	long long		 n;
	long			 delay = -1;
	time_t			 t;

	if (curl_easy_header(easy, "Retry-After", 0, CURLH_HEADER, -1, &h) !=
	    CURLHE_OK)
		return -1;
	v = str_trim(xstrdup(h->value));
	if (isdigit((unsigned char)v[0])) {
		if (parse_int(v, 0, INT_MAX, &n) == 0)
			delay = (long)n;
	} else if ((t = curl_getdate(v, NULL)) != -1) {
		if (t <= now)
			delay = 0;
		else if (t - now <= INT_MAX)
			delay = (long)(t - now);
	}
	free(v);
	return delay;
}

enum dlv_result
webhook_classify(CURL *easy, CURLcode result, time_t now,
    long *retry_after, char **why)
{
	long		 code = 0;
	enum dlv_result	 r;

	if (retry_after != NULL)
		*retry_after = -1;
	if (result != CURLE_OK) {
		/* No point retrying what can never be sent. */
		r = (result == CURLE_URL_MALFORMAT ||
		    result == CURLE_UNSUPPORTED_PROTOCOL) ? DLV_PERM : DLV_TEMP;
		if (why != NULL)
			*why = xasprintf("curl error %d: %s", (int)result,
			    curl_easy_strerror(result));
		return r;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	if (code >= 200 && code <= 299)
		r = DLV_OK;
	else if (code >= 300 && code <= 399)
		r = DLV_PERM;	/* redirects are never followed */
	else if (code == 410)
		r = DLV_GONE;
	else if (code == 408 || code == 429 || (code >= 500 && code <= 599))
		r = DLV_TEMP;
	else if (code >= 400 && code <= 499)
		r = DLV_PERM;
	else
		r = DLV_TEMP;	/* 1xx at the end, or nonsense */
	if ((code == 429 || code == 503) && retry_after != NULL)
		*retry_after = wh_retry_after(easy, now);
	if (why != NULL) {
		if (code >= 300 && code <= 399)
			*why = xasprintf("HTTP %ld (redirect not followed)",
			    code);
		else
			*why = xasprintf("HTTP %ld", code);
	}
	return r;
}
