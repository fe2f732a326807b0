/*
 * log.h: the daemon's log. Lines go to stderr (journald adds the time) with
 * a level; the level comes from the config. A log line names requests by id
 * and must never carry a data subject's name, tax code or address.
 */
#ifndef DSR_LOG_H
#define DSR_LOG_H

#include <stdarg.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

void	log_set_level(enum log_level);
int	log_level_parse(const char *, enum log_level *);
const char *log_level_name(enum log_level);
/* Tag printed in front of every line, e.g. "dsrd[123]"; NULL for none. */
void	log_set_tag(const char *);
/* Prefixes lines with a timestamp (for runs outside journald). */
void	log_set_timestamps(int);

void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_error(const char *, ...) __attribute__((format(printf, 1, 2)));
/* Logs with strerror(errno) appended, and exits 1. Start-up only. */
void	fatal(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));
/* Logs and exits 1. Start-up only. */
void	fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
