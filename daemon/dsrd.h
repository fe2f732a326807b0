/*
 * dsrd.h: the daemon's process-wide state, shared by main.c and the command
 * handlers. There is one of it; handlers read the config and reach the
 * database through it, and must never keep pointers into app.cfg across an
 * event-loop pass (a SIGHUP may replace it).
 */
#ifndef DSR_DSRD_H
#define DSR_DSRD_H

#include <time.h>

#include "config.h"

struct event_base;
struct db;
struct ctl;

struct app {
	struct event_base	*base;
	struct config		 cfg;
	const char		*config_path;
	struct db		*db;
	struct ctl		*ctl;
	time_t			 started;
	int			 schema_version;	/* -1: not known yet */
	int			 schema_ready;		/* migrations done */
	int			 migrating;
	int			 shutting_down;
};

extern struct app app;

/* The daemon's clock (never the database's now()): so that a test can run
   dsrd under libfaketime. */
time_t	app_now(void);
/* Whether commands may reach the database now. */
int	app_db_ready(void);

#endif
