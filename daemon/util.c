/*
 * util.c: allocation that aborts on out-of-memory (the only abort allowed
 * after start-up), a growable buffer, and strict number parsing.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

static void __attribute__((noreturn))
oom(void)
{
	static const char msg[] = "fatal: out of memory\n";
	fwrite(msg, 1, sizeof msg - 1, stderr);
	abort();
}

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		oom();
	return p;
}

void *
xreallocarray(void *p, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		oom();
	return xrealloc(p, n * size);
}

char *
xstrdup(const char *s)
{
	char	*p = strdup(s);

	if (p == NULL)
		oom();
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p = strndup(s, n);

	if (p == NULL)
		oom();
	return p;
}

char *
xvasprintf(const char *fmt, va_list ap)
{
	char	*s;

	if (vasprintf(&s, fmt, ap) < 0)
		oom();
	return s;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	return s;
}

void
buf_init(struct buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	buf_init(b);
}

static void
buf_grow(struct buf *b, size_t more)
{
	size_t	cap;

	if (b->len + more + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 64;
	while (cap < b->len + more + 1) {
		if (cap > SIZE_MAX / 2)
			oom();
		cap *= 2;
	}
	b->data = xrealloc(b->data, cap);
	b->cap = cap;
}

void
buf_add(struct buf *b, const void *p, size_t n)
{
	buf_grow(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

void
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list	 ap;
	char	*s;

	va_start(ap, fmt);
	s = xvasprintf(fmt, ap);
	va_end(ap);
	buf_adds(b, s);
	free(s);
}

void
buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		if (b->data)
			b->data[0] = '\0';
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

void
buf_add_json_str(struct buf *b, const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s, *run;
	size_t			 n;

	if (s == NULL) {
		buf_add(b, "null", 4);
		return;
	}
	/* Text of the database is mostly plain: room for all of it once,
	   then runs copied whole and escapes written between them. */
	n = strlen(s);
	buf_grow(b, n + 2);
	b->data[b->len++] = '"';
	for (run = p;; p++) {
		/* bytes a JSON string may hold as they are (NUL ends s) */
		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		if (p > run) {
			buf_grow(b, (size_t)(p - run));
			memcpy(b->data + b->len, run, (size_t)(p - run));
			b->len += (size_t)(p - run);
		}
		if (*p == '\0')
			break;
		run = p + 1;
		switch (*p) {
		case '"':	buf_add(b, "\\\"", 2); break;
		case '\\':	buf_add(b, "\\\\", 2); break;
		case '\n':	buf_add(b, "\\n", 2); break;
		case '\r':	buf_add(b, "\\r", 2); break;
		case '\t':	buf_add(b, "\\t", 2); break;
		default: {
			char	esc[6] = { '\\', 'u', '0', '0',
				    hex[*p >> 4], hex[*p & 0xf] };

			buf_add(b, esc, sizeof esc);
			break;
		}
		}
	}
	buf_add(b, "\"", 1);
}

void
buf_add_json_text(struct buf *b, const char *json, const char *dflt)
{
	const char	*p, *run;
	int		 in_str = 0;

	if (json == NULL || *json == '\0') {
		buf_adds(b, dflt);
		return;
	}
	/* Outside strings, white space is all that can be left out; inside
	   them a raw control character cannot occur (it is escaped). */
	for (p = run = json; *p != '\0'; p++) {
		if (in_str) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '"')
				in_str = 0;
		} else if (*p == '"')
			in_str = 1;
		else if (*p == ' ' || *p == '\n' || *p == '\r' ||
		    *p == '\t') {
			buf_add(b, run, (size_t)(p - run));
			run = p + 1;
		}
	}
	buf_add(b, run, (size_t)(p - run));
}

char *
buf_take(struct buf *b)
{
	char	*s = b->data ? b->data : xstrdup("");

	buf_init(b);
	return s;
}

int
parse_int(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

uint64_t
str_hash(const char *s)
{
	uint64_t	h = 0xcbf29ce484222325ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

char *
str_trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
	    e[-1] == '\n'))
		*--e = '\0';
	return s;
}

long long
mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
