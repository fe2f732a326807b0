/*
 * migrations.h: the SQL migrations compiled into dsrd (generated from sql/ by
 * scripts/embed-sql), in ascending version order. Forward-only: a released
 * migration is never edited, a change is a new file.
 */
#ifndef DSR_MIGRATIONS_H
#define DSR_MIGRATIONS_H

struct migration {
	int		 version;
	const char	*name;
	const char	*sql;
};

extern const struct migration migrations[];
extern const int n_migrations;

#endif
