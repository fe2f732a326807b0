/*
 * log.c: leveled log lines on stderr, for journald or a terminal. Callers
 * name requests by id; this file must never be handed personal data, and
 * it never allocates (a log call must work when memory is short).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "log.h"

static enum log_level	 log_level = LOG_LVL_INFO;
static const char	*log_tag;
static int		 log_ts;

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

/* sd-daemon(3) priority prefixes, understood by journald on stderr. */
static const char *const level_prio[] = {
	[LOG_LVL_ERROR] = "<3>",
	[LOG_LVL_WARN] = "<4>",
	[LOG_LVL_INFO] = "<6>",
	[LOG_LVL_DEBUG] = "<7>",
};

void
log_set_level(enum log_level l)
{
	log_level = l;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LVL_WARN;
		return 0;
	}
	return -1;
}

const char *
log_level_name(enum log_level l)
{
	return level_names[l];
}

void
log_set_tag(const char *tag)
{
	log_tag = tag;
}

void
log_set_timestamps(int on)
{
	log_ts = on;
}

static void
log_vwrite(enum log_level l, const char *fmt, va_list ap, const char *err)
{
	char		 line[2048], ts[32] = "";
	int		 n;
	struct tm	 tm;
	time_t		 now;

	if (l > log_level)
		return;
	if (log_ts) {
		now = time(NULL);
		localtime_r(&now, &tm);
		strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S ", &tm);
	}
	n = vsnprintf(line, sizeof line, fmt, ap);
	if (n < 0)
		line[0] = '\0';
	/* One fprintf per line so that concurrent threads do not interleave. */
	fprintf(stderr, "%s%s%s%s%s: %s%s%s\n", log_ts ? "" : level_prio[l], ts,
	    log_tag ? log_tag : "", log_tag ? " " : "", level_names[l], line,
	    err ? ": " : "", err ? err : "");
}

#define LOGFN(name, lvl)					\
void								\
name(const char *fmt, ...)					\
{								\
	va_list	ap;						\
	va_start(ap, fmt);					\
	log_vwrite(lvl, fmt, ap, NULL);				\
	va_end(ap);						\
}
LOGFN(log_debug, LOG_LVL_DEBUG)
LOGFN(log_info, LOG_LVL_INFO)
LOGFN(log_warn, LOG_LVL_WARN)
LOGFN(log_error, LOG_LVL_ERROR)

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite(LOG_LVL_ERROR, fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
