/*
 * dsrload.c: the load generator of `make bench`. It opens N connections to
 * dsrd's Unix socket and keeps exactly one JSON-RPC request in flight on
 * each (no pipelining: a client waits for its answer, as dsrctl and a web
 * front end do), for a warm-up and then for a fixed measured time. It
 * prints one line of key=value pairs: requests answered in the measured
 * window, errors, throughput, and the latency percentiles of those requests
 * (from the first byte written to the last byte of the answer read).
 *
 * One thread, poll() and non-blocking sockets, so that the generator is a
 * small and constant cost beside dsrd and PostgreSQL on the same machine.
 * It must never pipeline, and never count an answer it did not read whole.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS	1024
#define REQ_TIMEOUT_NS	(30LL * 1000000000LL)

enum mode {
	M_PING, M_FILE, M_SHOW, M_LIST_OVERDUE
};

static const char *const mode_names[] = {
	"ping", "file", "show", "list-overdue"
};

static const char *const types[] = {
	"access", "rectification", "erasure", "restriction", "portability",
	"objection", "automated_decision"
};
static const char *const channels[] = {
	"email", "pec", "paper", "counter", "web", "phone"
};

struct conn {
	int		 fd;
	uint64_t	 rng;
	long long	 seq;		/* requests sent on this connection */
	char		*out;		/* the request in flight */
	size_t		 outlen, outoff;
	char		*in;		/* answer bytes read so far */
	size_t		 inlen, incap;
	long long	 sent_ns;	/* when its first byte was written */
};

static struct {
	enum mode	 mode;
	const char	*socket;
	const char	*entity;
	const char	*latfile;	/* -o: every latency, in microseconds */
	long long	 max_id;
	int		 nconns;
	double		 warmup, seconds;
	uint64_t	 seed;
	/* the measured window */
	long long	 t_start, t_end;
	long long	 done, errors;
	uint32_t	*lat_us;	/* one per answer in the window */
	size_t		 nlat, caplat;
	char		*first_error;
} g = {
	.mode = M_PING, .nconns = 1, .warmup = 2, .seconds = 10,
	.max_id = 1,
};

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	fputs("dsrload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL)
		die("out of memory");
	return p;
}

static long long
now_ns(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* xorshift64*: cheap, and a seed per connection keeps runs repeatable. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static unsigned
rnd_below(uint64_t *s, unsigned n)
{
	return (unsigned)((rnd(s) >> 11) % n);
}

/*
 * A random codice fiscale that dsrd accepts: letters, birth year, month
 * letter, day (plus 40 for women), municipality, check character.
 */
static void
random_tax_code(uint64_t *s, char cf[17])
{
	static const int	odd[26] = {
		1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8,
		12, 14, 16, 10, 22, 25, 24, 23
	};
	static const char	months[] = "ABCDEHLMPRST";
	int			sum = 0, v, day;

	for (int i = 0; i < 6; i++)
		cf[i] = (char)('A' + rnd_below(s, 26));
	snprintf(cf + 6, 3, "%02u", rnd_below(s, 100));
	cf[8] = months[rnd_below(s, 12)];
	day = 1 + (int)rnd_below(s, 28) + (rnd_below(s, 2) ? 40 : 0);
	snprintf(cf + 9, 3, "%02d", day);
	cf[11] = (char)('A' + rnd_below(s, 26));
	snprintf(cf + 12, 4, "%03u", rnd_below(s, 1000));
	for (int i = 0; i < 15; i++) {
		v = cf[i] >= '0' && cf[i] <= '9' ? cf[i] - '0' : cf[i] - 'A';
		sum += i % 2 == 0 ? odd[v] : v;
	}
	cf[15] = (char)('A' + sum % 26);
	cf[16] = '\0';
}

/* The next request line of a connection, in c->out. */
static void
build_request(struct conn *c, int index)
{
	char		buf[2048], cf[17];
	unsigned	n;
	int		len;

	c->seq++;
	switch (g.mode) {
	case M_PING:
		len = snprintf(buf, sizeof buf, "{\"jsonrpc\":\"2.0\","
		    "\"id\":%lld,\"method\":\"ping\"}\n", c->seq);
		break;
	case M_SHOW:
		len = snprintf(buf, sizeof buf, "{\"jsonrpc\":\"2.0\","
		    "\"id\":%lld,\"method\":\"request.show\",\"params\":"
		    "{\"id\":%llu}}\n", c->seq,
		    1 + (unsigned long long)(rnd(&c->rng) >> 11) %
		    (unsigned long long)g.max_id);
		break;
	case M_LIST_OVERDUE:
		len = snprintf(buf, sizeof buf, "{\"jsonrpc\":\"2.0\","
		    "\"id\":%lld,\"method\":\"request.list\",\"params\":"
		    "{\"overdue\":true,\"limit\":50}}\n", c->seq);
		break;
	case M_FILE:
	default:
		random_tax_code(&c->rng, cf);
		n = rnd_below(&c->rng, 1000000);
		len = snprintf(buf, sizeof buf, "{\"jsonrpc\":\"2.0\","
		    "\"id\":%lld,\"method\":\"request.file\",\"params\":{"
		    "\"entity\":\"%s\",\"type\":\"%s\","
		    "\"subject_name\":\"Soggetto %06u\","
		    "\"subject_tax_code\":\"%s\","
		    "\"subject_email\":\"s%06u@example.it\","
		    "\"channel\":\"%s\",\"protocol\":\"2026/%06u\","
		    "\"summary\":\"Richiesta di accesso ai dati personali "
		    "trattati dall'ente (benchmark)\","
		    "\"idempotency_key\":\"b%d-%d-%lld-%016" PRIx64 "\"}}\n",
		    c->seq, g.entity,
		    types[rnd_below(&c->rng, sizeof types / sizeof types[0])],
		    n, cf, n, channels[rnd_below(&c->rng,
		    sizeof channels / sizeof channels[0])],
		    rnd_below(&c->rng, 1000000), (int)getpid(), index, c->seq,
		    g.seed);
		break;
	}
	if (len < 0 || (size_t)len >= sizeof buf)
		die("request too long");
	free(c->out);
	c->out = xrealloc(NULL, (size_t)len);
	memcpy(c->out, buf, (size_t)len);
	c->outlen = (size_t)len;
	c->outoff = 0;
	c->inlen = 0;
	c->sent_ns = now_ns();
}

static int
connect_socket(const char *path)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			fd;

	if (strlen(path) >= sizeof sun.sun_path)
		die("socket path too long: %s", path);
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		die("socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) != 0)
		die("connect %s: %s", path, strerror(errno));
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		die("fcntl: %s", strerror(errno));
	return fd;
}

static void
record(struct conn *c, long long t)
{
	const char	*line = c->in;
	int		 is_error;

	/* An error object can only appear as structure: inside a JSON string
	   its quotes would be escaped. */
	is_error = strstr(line, "\"error\":{\"code\":") != NULL;
	if (is_error && g.first_error == NULL)
		g.first_error = strdup(line);
	if (t < g.t_start || t >= g.t_end)
		return;
	if (is_error) {
		g.errors++;
		return;
	}
	g.done++;
	if (g.nlat == g.caplat) {
		g.caplat = g.caplat ? 2 * g.caplat : 65536;
		g.lat_us = xrealloc(g.lat_us, g.caplat * sizeof *g.lat_us);
	}
	g.lat_us[g.nlat++] = (uint32_t)((t - c->sent_ns + 500) / 1000);
}

/* Reads what is there; returns 1 when a whole answer line arrived. */
static int
conn_read(struct conn *c)
{
	ssize_t	n;
	char	*nl;

	for (;;) {
		if (c->incap - c->inlen < 65536) {
			c->incap = c->incap ? 2 * c->incap : 131072;
			c->in = xrealloc(c->in, c->incap);
		}
		n = read(c->fd, c->in + c->inlen, c->incap - c->inlen - 1);
		if (n > 0) {
			c->inlen += (size_t)n;
			c->in[c->inlen] = '\0';
			if ((nl = memchr(c->in, '\n', c->inlen)) != NULL) {
				if ((size_t)(nl - c->in) + 1 != c->inlen)
					die("more than one answer to one "
					    "request");
				*nl = '\0';
				return 1;
			}
			continue;
		}
		if (n == 0)
			die("dsrd closed the connection%s%s",
			    c->inlen ? ": " : "", c->inlen ? c->in : "");
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno != EINTR)
			die("read: %s", strerror(errno));
	}
}

static void
conn_write(struct conn *c)
{
	ssize_t	n;

	while (c->outoff < c->outlen) {
		n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
		    MSG_NOSIGNAL);
		if (n > 0) {
			c->outoff += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0 && errno == EINTR)
			continue;
		die("send: %s", strerror(errno));
	}
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t	x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank), in milliseconds. */
static double
pct(double p)
{
	size_t	rank;

	if (g.nlat == 0)
		return 0;
	rank = (size_t)(p / 100.0 * (double)g.nlat + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > g.nlat)
		rank = g.nlat;
	return g.lat_us[rank - 1] / 1000.0;
}

static void
write_latencies(const char *path)
{
	FILE	*f = fopen(path, "w");

	if (f == NULL)
		die("%s: %s", path, strerror(errno));
	for (size_t i = 0; i < g.nlat; i++)
		fprintf(f, "%" PRIu32 "\n", g.lat_us[i]);
	if (fclose(f) != 0)
		die("%s: %s", path, strerror(errno));
}

static void __attribute__((noreturn))
usage(void)
{
	fprintf(stderr,
	    "usage: dsrload -s SOCKET [-m ping|file|show|list-overdue] "
	    "[-c CONNS]\n"
	    "               [-w WARMUP_S] [-d SECONDS] [-e ENTITY] "
	    "[-n MAX_ID] [-S SEED] [-o FILE]\n"
	    "  file needs -e (a body's code); show picks ids in 1..MAX_ID;\n"
	    "  -o writes each measured latency (microseconds), one a line\n");
	exit(64);
}

int
main(int argc, char **argv)
{
	struct conn	*conns;
	struct pollfd	*pfd;
	long long	 t;
	int		 ch;
	double		 secs;

	g.seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	while ((ch = getopt(argc, argv, "s:m:c:w:d:e:n:S:o:")) != -1) {
		switch (ch) {
		case 's':
			g.socket = optarg;
			break;
		case 'm':
			g.mode = (enum mode)-1;
			for (size_t i = 0; i < sizeof mode_names /
			    sizeof mode_names[0]; i++)
				if (strcmp(optarg, mode_names[i]) == 0)
					g.mode = (enum mode)i;
			if ((int)g.mode < 0)
				usage();
			break;
		case 'c':
			g.nconns = atoi(optarg);
			break;
		case 'w':
			g.warmup = atof(optarg);
			break;
		case 'd':
			g.seconds = atof(optarg);
			break;
		case 'e':
			g.entity = optarg;
			break;
		case 'n':
			g.max_id = atoll(optarg);
			break;
		case 'S':
			g.seed = strtoull(optarg, NULL, 0);
			break;
		case 'o':
			g.latfile = optarg;
			break;
		default:
			usage();
		}
	}
	if (g.socket == NULL || g.nconns < 1 || g.nconns > MAX_CONNS ||
	    g.seconds <= 0 || g.warmup < 0 || g.max_id < 1 ||
	    (g.mode == M_FILE && g.entity == NULL))
		usage();

	conns = calloc((size_t)g.nconns, sizeof *conns);
	pfd = calloc((size_t)g.nconns, sizeof *pfd);
	if (conns == NULL || pfd == NULL)
		die("out of memory");
	for (int i = 0; i < g.nconns; i++) {
		conns[i].fd = connect_socket(g.socket);
		conns[i].rng = g.seed ^ (0x9E3779B97F4A7C15ULL * (uint64_t)(i + 1));
		if (conns[i].rng == 0)
			conns[i].rng = 1;
		pfd[i].fd = conns[i].fd;
	}
	t = now_ns();
	g.t_start = t + (long long)(g.warmup * 1e9);
	g.t_end = g.t_start + (long long)(g.seconds * 1e9);
	for (int i = 0; i < g.nconns; i++) {
		build_request(&conns[i], i);
		conn_write(&conns[i]);
	}

	for (;;) {
		int	active = 0;

		for (int i = 0; i < g.nconns; i++) {
			struct conn *c = &conns[i];

			pfd[i].events = 0;
			if (c->out == NULL)
				continue;
			active++;
			pfd[i].events = c->outoff < c->outlen ? POLLOUT :
			    POLLIN;
		}
		if (active == 0)
			break;
		if (poll(pfd, (nfds_t)g.nconns, 100) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		t = now_ns();
		for (int i = 0; i < g.nconns; i++) {
			struct conn *c = &conns[i];

			if (c->out == NULL)
				continue;
			if (t - c->sent_ns > REQ_TIMEOUT_NS)
				die("no answer within %lld s",
				    REQ_TIMEOUT_NS / 1000000000LL);
			if (pfd[i].revents == 0)
				continue;
			if (c->outoff < c->outlen) {
				conn_write(c);
				continue;
			}
			if (!conn_read(c))
				continue;
			t = now_ns();
			record(c, t);
			if (t >= g.t_end) {
				/* This connection is done. */
				free(c->out);
				c->out = NULL;
				continue;
			}
			build_request(c, i);
			conn_write(c);
		}
	}
	secs = (double)(g.t_end - g.t_start) / 1e9;
	qsort(g.lat_us, g.nlat, sizeof *g.lat_us, cmp_u32);
	printf("mode=%s conns=%d seconds=%.3f requests=%lld errors=%lld "
	    "rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f p999_ms=%.3f "
	    "max_ms=%.3f\n", mode_names[g.mode], g.nconns, secs, g.done,
	    g.errors, (double)g.done / secs, pct(50), pct(90), pct(99),
	    pct(99.9), g.nlat ? g.lat_us[g.nlat - 1] / 1000.0 : 0.0);
	if (g.latfile != NULL)
		write_latencies(g.latfile);
	if (g.first_error != NULL)
		fprintf(stderr, "dsrload: first error answer: %.500s\n",
		    g.first_error);
	for (int i = 0; i < g.nconns; i++) {
		close(conns[i].fd);
		free(conns[i].out);
		free(conns[i].in);
	}
	free(conns);
	free(pfd);
	free(g.lat_us);
	free(g.first_error);
	return g.errors > 0 ? 2 : 0;
}
