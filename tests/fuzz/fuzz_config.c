/*
 * fuzz_config.c: libFuzzer target for config_load. Each input is the whole
 * text of a dsrd.conf, written into a memfd that config_load opens by its
 * /proc/self/fd path (no file on disk per run). A load must either fail with
 * a cause and leave *out as it was, or yield a config whose values keep the
 * rules of config.h; config_to_json must then never show a secret, and a
 * value given once in the file must never appear in a cause (a value may be
 * a password). It must never print the input or a loaded config.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cJSON.h>

#include "config.h"
#include "util.h"
#include "validate.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_config: %s:%d: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

static int	 memfd = -1;
static char	 path[64];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	memfd = memfd_create("dsrd-fuzz-config", MFD_CLOEXEC);
	if (memfd < 0) {
		perror("memfd_create");
		exit(1);
	}
	snprintf(path, sizeof path, "/proc/self/fd/%d", memfd);
	return 0;
}

/* How often needle (len bytes) occurs in hay[0..size). */
static size_t
occurrences(const uint8_t *hay, size_t size, const char *needle, size_t len)
{
	size_t	n = 0;

	for (size_t i = 0; len > 0 && i + len <= size; i++)
		if (memcmp(hay + i, needle, len) == 0)
			n++;
	return n;
}

/*
 * Whether a value is unlike any text of config.c's own: the rules a cause
 * quotes are ASCII and name no secret past "whsec_".
 */
static int
marked(const char *v)
{
	if (strncmp(v, "whsec_", 6) == 0 && strlen(v) >= 6 + 8)
		return 1;
	for (; *v != '\0'; v++)
		if ((unsigned char)*v >= 0x80)
			return 1;
	return 0;
}

/*
 * A cause may name the file, a line, a section and a key, but not a value:
 * a marked value of 8 bytes or more that occurs once in the whole input (so
 * it is no section or key name too) must not be in it.
 */
static void
check_no_echo(const uint8_t *data, size_t size, const char *cause)
{
	const uint8_t	*line = data, *end = data + size;

	while (line < end) {
		const uint8_t	*nl = memchr(line, '\n', (size_t)(end - line));
		const uint8_t	*eol = nl != NULL ? nl : end;
		const uint8_t	*eq = memchr(line, '=', (size_t)(eol - line));
		const uint8_t	*first = line;

		if (line == data && eol - line >= 3 &&
		    memcmp(line, "\xef\xbb\xbf", 3) == 0)
			first += 3;	/* a BOM */
		while (first < eol && (*first == ' ' || *first == '\t'))
			first++;
		/* A section header or a comment holds no value. */
		if (first < eol && (*first == '[' || *first == ';' ||
		    *first == '#'))
			eq = NULL;
		/* A *_file key names a path, which its error names on
		   purpose; the file's content is never read here. */
		if (eq != NULL) {
			const uint8_t	*ke = eq;

			while (ke > first && (ke[-1] == ' ' || ke[-1] == '\t'))
				ke--;
			if (ke - first >= 5 && memcmp(ke - 5, "_file", 5) == 0)
				eq = NULL;
		}
		if (eq != NULL) {
			const uint8_t	*v = eq + 1, *ve = eol;

			while (v < ve && (*v == ' ' || *v == '\t'))
				v++;
			while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' ||
			    ve[-1] == '\r'))
				ve--;
			if (ve - v >= 8 && memchr(v, '\0', (size_t)(ve - v)) ==
			    NULL && memchr(v, ';', (size_t)(ve - v)) == NULL &&
			    memchr(v, '#', (size_t)(ve - v)) == NULL) {
				size_t	 len = (size_t)(ve - v);
				char	*val = xstrndup((const char *)v, len);

				if (marked(val) &&
				    occurrences(data, size, val, len) == 1 &&
				    strstr(cause, val) != NULL) {
					/* Fuzz data, not a real secret. */
					fprintf(stderr, "cause: %s\n", cause);
					CHECK(!"a value is echoed in the cause");
				}
				free(val);
			}
		}
		line = eol + 1;
	}
}

static void
check_config(const struct config *c, const uint8_t *data, size_t size)
{
	const char	*strs[] = {
		c->socket, c->language, c->log_level, c->conninfo,
		c->timezone, c->smtp_url, c->smtp_from, c->smtp_username,
		c->smtp_password_file, c->dpo_email, c->dpo_name, c->templates,
		c->access_dpo, c->access_clerk, c->access_staff,
		c->access_operator,
	};
	cJSON	*obj, *item;
	char	*json, *diff;

	for (size_t i = 0; i < nitems(strs); i++)
		CHECK(strs[i] != NULL);
	CHECK(strlen(c->socket) >= 1 && strlen(c->socket) <= 107);
	CHECK(c->socket_mode >= 0 && c->socket_mode <= 0777);
	CHECK(strcmp(c->language, "it") == 0 || strcmp(c->language, "en") == 0);
	CHECK(c->max_clients >= 1 && c->max_clients_per_uid >= 1);
	CHECK(c->idle_timeout >= 0 && c->shutdown_grace >= 0);
	CHECK(c->pool_size >= 1 && c->pool_size <= 32);
	CHECK(c->forward_days >= 1 && c->forward_days <= 365);
	CHECK((c->forward_types & ~((1u << REQ_TYPE_COUNT) - 1)) == 0);
	CHECK(c->n_warn_days >= 0 && c->n_warn_days <= CONFIG_MAX_WARN_DAYS);
	for (int i = 0; i < c->n_warn_days; i++) {
		CHECK(c->warn_days[i] >= 1 && c->warn_days[i] <= 60);
		CHECK(i == 0 || c->warn_days[i - 1] > c->warn_days[i]);
	}
	CHECK(c->alert_time >= 0 && c->alert_time < 24 * 60);
	CHECK(c->retry_min >= 1 && c->retry_min <= c->retry_max);
	CHECK(c->max_age >= 1 && c->smtp_timeout >= 1 &&
	    c->webhook_timeout >= 1);
	CHECK(*c->smtp_url == '\0' || *c->smtp_from != '\0');
	CHECK(*c->smtp_from == '\0' || val_email(c->smtp_from, NULL) == 0);
	CHECK(*c->dpo_email == '\0' || val_email(c->dpo_email, NULL) == 0);
	for (const struct webhook_conf *w = c->webhooks; w != NULL;
	    w = w->next) {
		CHECK(w->name != NULL && w->url != NULL && w->secret != NULL);
		CHECK(strncmp(w->secret, "whsec_", 6) == 0);
		CHECK((w->events & ~NEV_ALL) == 0);
		for (const struct webhook_conf *v = w->next; v != NULL;
		    v = v->next)
			CHECK(strcmp(v->name, w->name) != 0);
	}

	obj = cJSON_CreateObject();
	config_to_json(c, obj);
	cJSON_ArrayForEach(item, obj) {
		size_t n = strlen(item->string);

		CHECK(strcmp(item->string, "database.conninfo") != 0);
		CHECK(n < 7 || strcmp(item->string + n - 7, ".secret") != 0);
	}
	json = cJSON_PrintUnformatted(obj);
	CHECK(json != NULL);
	/* Unless the file gave the same text to a key that is not secret. */
	for (const struct webhook_conf *w = c->webhooks; w != NULL;
	    w = w->next)
		CHECK(occurrences(data, size, w->secret,
		    strlen(w->secret)) != 1 || strstr(json, w->secret) == NULL);
	cJSON_free(json);
	cJSON_Delete(obj);

	diff = config_unreloadable_changes(c, c);
	CHECK(diff == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config	 c, before;
	char		*cause = NULL;

	if (ftruncate(memfd, 0) != 0 ||
	    pwrite(memfd, data, size, 0) != (ssize_t)size) {
		perror("memfd");
		abort();
	}
	memset(&c, 0xa5, sizeof c);
	memcpy(&before, &c, sizeof c);
	if (config_load(path, &c, &cause) != 0) {
		CHECK(cause != NULL);
		CHECK(strncmp(cause, path, strlen(path)) == 0);
		CHECK(memcmp(&c, &before, sizeof c) == 0);
		check_no_echo(data, size, cause);
		free(cause);
		return 0;
	}
	CHECK(cause == NULL);
	check_config(&c, data, size);
	config_free(&c);
	return 0;
}
