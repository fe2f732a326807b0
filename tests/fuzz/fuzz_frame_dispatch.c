/*
 * fuzz_frame_dispatch.c: libFuzzer target for what a client can send dsrd
 * over the control socket. The daemon's modules run in-process with no
 * database (app_db_ready() is false), as in tests/unit/test_cmd.c: a real
 * listener on a temporary Unix socket, a real client. Each input is the byte
 * stream of one connection, sent in chunks whose size depends on the input
 * (so lines are split across reads), followed by a newline and a ping that
 * marks the end. Every answer must be one line of valid UTF-8 JSON, a
 * JSON-RPC 2.0 response; the ping must be answered last, unless the daemon
 * closed the connection after saying why. The input also goes to
 * proto_frame directly, against a reference. It must never keep a
 * connection from one input to the next (LSan would not see the growth).
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cJSON.h>
#include <event2/event.h>

#include "calendar.h"
#include "control.h"
#include "dsrd.h"
#include "log.h"
#include "proto.h"
#include "util.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "fuzz_frame_dispatch: %s:%d: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/* The last request of every connection; its answer ends the run. */
#define SENTINEL_ID	"dsrd-fuzz-sentinel"
#define SENTINEL	"\n{\"jsonrpc\":\"2.0\",\"id\":\"" SENTINEL_ID \
			"\",\"method\":\"ping\"}\n"
/* Longest wait for the daemon, far above what one input takes. */
#define WAIT_MS		10000

struct app	 app = { .schema_version = -1 };

/* A fixed clock: an input must get the same answers every time. */
time_t
app_now(void)
{
	return 1767225600;	/* 2026-01-01T00:00:00Z */
}

int
app_db_ready(void)
{
	return 0;
}

static char	 sockpath[108];
/* DSRD_FUZZ_LAX_UTF8=1: go on past answers that are not UTF-8, to look for
   other faults while that one is known and not fixed yet. */
static int	 lax_utf8;

static void
fuzz_cleanup(void)
{
	if (app.ctl != NULL)
		ctl_free(app.ctl);
	app.ctl = NULL;
	if (app.base != NULL)
		event_base_free(app.base);
	app.base = NULL;
	config_free(&app.cfg);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char	*cause = NULL;

	(void)argc;
	(void)argv;
	/* Refused connections and big messages are logged at warn. */
	log_set_level(LOG_LVL_ERROR);
	lax_utf8 = getenv("DSRD_FUZZ_LAX_UTF8") != NULL &&
	    strcmp(getenv("DSRD_FUZZ_LAX_UTF8"), "1") == 0;
	config_defaults(&app.cfg);
	if (cal_set_timezone(app.cfg.timezone, &cause) != 0) {
		fprintf(stderr, "fuzz_frame_dispatch: %s\n", cause);
		exit(1);
	}
	app.started = app_now();
	app.base = event_base_new();
	if (app.base == NULL) {
		fprintf(stderr, "fuzz_frame_dispatch: event_base_new failed\n");
		exit(1);
	}
	snprintf(sockpath, sizeof sockpath, "/tmp/dsrd-fuzz.%d.sock",
	    (int)getpid());
	app.ctl = ctl_listen(app.base, sockpath, 0600, &cause);
	if (app.ctl == NULL) {
		fprintf(stderr, "fuzz_frame_dispatch: %s\n", cause);
		exit(1);
	}
	atexit(fuzz_cleanup);
	return 0;
}

/* proto_frame against the rule of proto.h, for a few limits. */
static void
check_frame(const uint8_t *data, size_t size)
{
	const size_t	 maxes[] = {
		0, 1, 2, 16, size > 0 ? size - 1 : 0, size, size + 1,
		PROTO_MAX_MESSAGE
	};
	const char	*buf = (const char *)data;

	for (size_t i = 0; i < nitems(maxes); i++) {
		size_t		 max = maxes[i], linelen = SIZE_MAX;
		const uint8_t	*nl = memchr(data, '\n', size);
		enum proto_frame f = proto_frame(buf, size, max, &linelen);

		if (nl != NULL && (size_t)(nl - data) <= max) {
			CHECK(f == PROTO_FRAME_LINE);
			CHECK(linelen == (size_t)(nl - data));
		} else if (size > max)
			CHECK(f == PROTO_FRAME_TOO_BIG);
		else
			CHECK(f == PROTO_FRAME_MORE);
	}
}

/* Whether s[0..len) is well-formed UTF-8 (RFC 3629). */
static int
utf8_ok(const unsigned char *s, size_t len)
{
	size_t	i = 0;

	while (i < len) {
		unsigned long	cp;
		size_t		n;

		if (s[i] < 0x80) {
			i++;
			continue;
		} else if ((s[i] & 0xe0) == 0xc0) {
			cp = s[i] & 0x1f;
			n = 2;
		} else if ((s[i] & 0xf0) == 0xe0) {
			cp = s[i] & 0x0f;
			n = 3;
		} else if ((s[i] & 0xf8) == 0xf0) {
			cp = s[i] & 0x07;
			n = 4;
		} else
			return 0;
		if (i + n > len)
			return 0;
		for (size_t k = 1; k < n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) ||
		    (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += n;
	}
	return 1;
}

/*
 * Checks one answer line (LF excluded) and returns its error code, 0 for a
 * result; *sentinel says whether it answers the closing ping.
 */
static int
check_answer(const char *line, size_t len, int *sentinel)
{
	cJSON		*j, *id, *res, *err, *k;
	int		 code = 0;

	CHECK(len > 0 && memchr(line, '\0', len) == NULL);
	CHECK(lax_utf8 || utf8_ok((const unsigned char *)line, len));
	j = cJSON_ParseWithLength(line, len);
	CHECK(j != NULL && cJSON_IsObject(j));
	CHECK(cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "jsonrpc")));
	CHECK(strcmp(cJSON_GetObjectItemCaseSensitive(j,
	    "jsonrpc")->valuestring, "2.0") == 0);
	id = cJSON_GetObjectItemCaseSensitive(j, "id");
	CHECK(id != NULL && (cJSON_IsNumber(id) || cJSON_IsString(id) ||
	    cJSON_IsNull(id)));
	res = cJSON_GetObjectItemCaseSensitive(j, "result");
	err = cJSON_GetObjectItemCaseSensitive(j, "error");
	CHECK((res != NULL) != (err != NULL));
	cJSON_ArrayForEach(k, j)
		CHECK(strcmp(k->string, "jsonrpc") == 0 ||
		    strcmp(k->string, "id") == 0 || k == res || k == err);
	CHECK(cJSON_GetArraySize(j) == 3);
	if (err != NULL) {
		cJSON	*c = cJSON_GetObjectItemCaseSensitive(err, "code");
		cJSON	*m = cJSON_GetObjectItemCaseSensitive(err, "message");

		CHECK(cJSON_IsObject(err));
		CHECK(cJSON_IsNumber(c) && c->valuedouble == floor(c->valuedouble));
		CHECK(cJSON_IsString(m) && *m->valuestring != '\0');
		code = (int)c->valuedouble;
		CHECK(code != 0);
		cJSON_ArrayForEach(k, err)
			CHECK(strcmp(k->string, "code") == 0 ||
			    strcmp(k->string, "message") == 0 ||
			    (strcmp(k->string, "data") == 0 &&
			    cJSON_IsObject(k)));
	}
	*sentinel = cJSON_IsString(id) &&
	    strcmp(id->valuestring, SENTINEL_ID) == 0;
	if (*sentinel)
		CHECK(res != NULL);
	cJSON_Delete(j);
	return code;
}

struct session {
	int		 fd;
	struct buf	 in;		/* bytes from the daemon, not yet a line */
	size_t		 answers;
	int		 last_code;
	int		 eof;		/* the daemon closed */
	int		 done;		/* the sentinel was answered */
	long long	 deadline;
};

/* Lets the daemon run, then reads and checks what it answered. */
static void
pump(struct session *s)
{
	char	 chunk[4096], *nl;
	ssize_t	 n = -1;

	event_base_loop(app.base, EVLOOP_NONBLOCK);
	while (!s->eof && (n = recv(s->fd, chunk, sizeof chunk,
	    MSG_DONTWAIT)) != 0) {
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			CHECK(errno == ECONNRESET);
			s->eof = 1;
			break;
		}
		buf_add(&s->in, chunk, (size_t)n);
	}
	if (n == 0)
		s->eof = 1;
	while (!s->done && s->in.len > 0 &&
	    (nl = memchr(s->in.data, '\n', s->in.len)) != NULL) {
		size_t	len = (size_t)(nl - s->in.data);

		s->last_code = check_answer(s->in.data, len, &s->done);
		s->answers++;
		buf_consume(&s->in, len + 1);
	}
	if (mono_ms() > s->deadline) {
		fprintf(stderr, "fuzz_frame_dispatch: no answer in %d ms\n",
		    WAIT_MS);
		abort();
	}
}

/* Sends all of data, chunk bytes at a time, letting the daemon read. */
static void
send_all(struct session *s, const uint8_t *data, size_t size, size_t chunk)
{
	size_t	off = 0;

	while (off < size && !s->eof && !s->done) {
		size_t	want = size - off < chunk ? size - off : chunk;
		ssize_t	n = send(s->fd, data + off, want, MSG_NOSIGNAL);

		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			CHECK(errno == EPIPE || errno == ECONNRESET);
			s->eof = 1;
		}
		pump(s);
	}
}

static void
session(const uint8_t *data, size_t size)
{
	static const size_t chunks[] = { SIZE_MAX, SIZE_MAX, 4096, 512, 64, 7,
	    2, 1 };
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct session		 s = { .fd = -1 };
	uint32_t		 h = 2166136261u;
	size_t			 nlines = 0;

	/* FNV-1a: the chunk size is a function of the input. */
	for (size_t i = 0; i < size; i++) {
		h = (h ^ data[i]) * 16777619u;
		if (data[i] == '\n')
			nlines++;
	}
	buf_init(&s.in);
	s.deadline = mono_ms() + WAIT_MS;
	s.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(s.fd >= 0);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", sockpath);
	CHECK(connect(s.fd, (struct sockaddr *)&sun, sizeof sun) == 0);
	CHECK(fcntl(s.fd, F_SETFL, O_NONBLOCK) == 0);

	send_all(&s, data, size, chunks[h % nitems(chunks)]);
	send_all(&s, (const uint8_t *)SENTINEL, strlen(SENTINEL), SIZE_MAX);
	while (!s.eof && !s.done)
		pump(&s);
	/* One answer at most per line, and one for the closing ping. */
	CHECK(s.answers <= nlines + 2);
	if (!s.done) {
		/* The daemon hung up: only after saying why. */
		CHECK(s.answers > 0);
		CHECK(s.last_code == E_TOO_LARGE || s.last_code == E_LIMIT ||
		    s.last_code == E_UNAVAILABLE);
	}
	close(s.fd);
	buf_free(&s.in);
	/* The daemon must let go of the connection before the next input. */
	while (ctl_nconns(app.ctl) > 0) {
		event_base_loop(app.base, EVLOOP_NONBLOCK);
		if (mono_ms() > s.deadline) {
			fprintf(stderr, "fuzz_frame_dispatch: connection "
			    "not freed after close\n");
			abort();
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_frame(data, size);
	session(data, size);
	return 0;
}
