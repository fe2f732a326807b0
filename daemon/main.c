/*
 * main.c: dsrd's entry point: arguments, the order of start-up (config, time
 * zone, socket, database, migrations, READY=1), signals (SIGTERM/SIGINT
 * stop gracefully, SIGHUP reloads), and the ordered shutdown. Everything
 * after start-up happens in the one event loop; nothing here may block once
 * the loop runs, and only start-up may exit on an error.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "calendar.h"
#include "control.h"
#include "db.h"
#include "dsrd.h"
#include "log.h"
#include "migrations.h"
#include "outbox.h"
#include "sched.h"
#include "store.h"
#include "util.h"

struct app	 app = { .schema_version = -1 };

static struct event	*ev_term, *ev_int, *ev_hup, *ev_shutdown, *ev_retry;
static struct event	*ev_waiting;
static struct event	*ev_watchdog;
static int		 notified_ready;
static long long	 shutdown_deadline;

time_t
app_now(void)
{
	return time(NULL);
}

int
app_db_ready(void)
{
	return app.db != NULL && db_is_up(app.db) && app.schema_ready;
}

static void __attribute__((noreturn))
usage(int code)
{
	fprintf(code ? stderr : stdout,
	    "usage: dsrd [-c FILE] [--check-config] [--version]\n"
	    "  -c, --config FILE  configuration (default $DSRD_CONFIG, else "
	    CONFIG_DEFAULT_PATH ")\n"
	    "  --check-config     check the configuration and exit\n"
	    "  --version          print the version and exit\n");
	exit(code);
}

static void
apply_config(const struct config *cfg)
{
	enum log_level	l;

	if (log_level_parse(cfg->log_level, &l) == 0)
		log_set_level(l);
	store_pause_on_await = cfg->pause_on_await;
}

static void	migrate_start(void);

static void
migrate_done(bool ok, int version, void *arg)
{
	(void)arg;
	app.migrating = 0;
	if (!ok) {
		if (db_is_up(app.db) && !app.shutting_down) {
			struct timeval tv = { 5, 0 };

			log_warn("schema migration failed; retrying in 5 s");
			evtimer_add(ev_retry, &tv);
		}
		return;
	}
	app.schema_version = version;
	app.schema_ready = 1;
	log_info("database ready (schema version %d)", version);
	sched_start();
	outbox_start();
	if (!notified_ready) {
		notified_ready = 1;
		evtimer_del(ev_waiting);
		sd_notifyf(0, "READY=1\nSTATUS=serving on %s", app.cfg.socket);
	} else
		sd_notifyf(0, "STATUS=serving on %s", app.cfg.socket);
}

static void
migrate_start(void)
{
	if (app.migrating || app.shutting_down || !db_is_up(app.db))
		return;
	app.migrating = 1;
	store_migrate(app.db, migrate_done, NULL);
}

static void
retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	migrate_start();
}

/* Until the database answers, keep systemd from giving up on us: dsrd is
   meant to stay up (and answer ping) while PostgreSQL is away. */
static void
waiting_cb(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv = { 10, 0 };

	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "EXTEND_TIMEOUT_USEC=20000000\n"
	    "STATUS=waiting for the database");
	evtimer_add(ev_waiting, &tv);
}

/* WATCHDOG=1 from a timer of the loop itself, not from a thread: if a
   callback ever blocks the loop, the pings stop and systemd restarts us. */
static void
watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	sd_notify(0, "WATCHDOG=1");
}

static void
db_state(int up, void *arg)
{
	(void)arg;
	if (up) {
		log_info("database connection up");
		migrate_start();
	} else {
		app.schema_ready = 0;
		sched_stop();
		outbox_stop();
		log_warn("database unavailable; reconnecting");
		sd_notify(0, "STATUS=database unavailable, reconnecting");
	}
}

static void
reload(void)
{
	struct config	 cfg = { 0 };
	char		*cause = NULL, *fixed;

	if (config_load(app.config_path, &cfg, &cause) != 0) {
		log_error("reload failed, keeping the old configuration: %s",
		    cause);
		free(cause);
		return;
	}
	if ((fixed = config_unreloadable_changes(&app.cfg, &cfg)) != NULL) {
		log_error("reload refused, keeping the old configuration: %s "
		    "cannot change without a restart", fixed);
		free(fixed);
		config_free(&cfg);
		return;
	}
	config_free(&app.cfg);
	app.cfg = cfg;
	apply_config(&app.cfg);
	outbox_reload();
	log_info("configuration reloaded from %s", app.config_path);
}

static void
shutdown_check(evutil_socket_t fd, short what, void *arg)
{
	struct timeval	tv = { 0, 50 * 1000 };
	int		busy = ctl_busy(app.ctl) + db_pending(app.db) +
			    sched_busy() + outbox_busy() + ctl_unsent(app.ctl);

	(void)fd;
	(void)what;
	(void)arg;
	if (busy == 0 || mono_ms() >= shutdown_deadline) {
		if (busy)
			log_warn("shutdown grace period over with %d commands "
			    "in flight", busy);
		event_base_loopbreak(app.base);
		return;
	}
	evtimer_add(ev_shutdown, &tv);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	(void)arg;
	if (sig == SIGHUP) {
		sd_notify(0, "RELOADING=1");
		reload();
		sd_notify(0, "READY=1");
		return;
	}
	if (app.shutting_down)
		return;
	log_info("%s: shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	sd_notify(0, "STOPPING=1\nSTATUS=shutting down");
	app.shutting_down = 1;
	sched_stop();
	outbox_stop();
	ctl_stop_accepting(app.ctl);
	shutdown_deadline = mono_ms() + app.cfg.shutdown_grace * 1000LL;
	shutdown_check(-1, 0, NULL);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int		 ch, check = 0;
	char		*cause = NULL;
	struct timeval	 tv = { 10, 0 };
	uint64_t	 wd_usec;

	app.config_path = getenv("DSRD_CONFIG");
	if (app.config_path == NULL || *app.config_path == '\0')
		app.config_path = CONFIG_DEFAULT_PATH;
	while ((ch = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			app.config_path = optarg;
			break;
		case 'C':
			check = 1;
			break;
		case 'V':
			printf("dsrd %s\n", DSR_VERSION);
			return 0;
		case 'h':
			usage(0);
		default:
			usage(64);
		}
	}
	if (optind != argc)
		usage(64);

	log_set_timestamps(!isatty(STDERR_FILENO) && getenv("JOURNAL_STREAM")
	    == NULL ? 1 : 0);
	if (config_load(app.config_path, &app.cfg, &cause) != 0) {
		fprintf(stderr, "dsrd: %s\n", cause);
		free(cause);
		return 1;
	}
	if (cal_set_timezone(app.cfg.timezone, &cause) != 0) {
		fprintf(stderr, "dsrd: [deadlines] timezone: %s\n", cause);
		free(cause);
		config_free(&app.cfg);
		return 1;
	}
	if (check) {
		printf("%s: configuration OK\n", app.config_path);
		config_free(&app.cfg);
		return 0;
	}
	apply_config(&app.cfg);
	signal(SIGPIPE, SIG_IGN);

	app.base = event_base_new();
	if (app.base == NULL)
		fatalx("event_base_new failed");
	app.started = app_now();
	app.ctl = ctl_listen(app.base, app.cfg.socket, app.cfg.socket_mode,
	    &cause);
	if (app.ctl == NULL)
		fatalx("%s", cause);
	log_info("dsrd %s listening on %s (schema %d known)", DSR_VERSION,
	    app.cfg.socket, n_migrations ? migrations[n_migrations - 1].version
	    : 0);

	ev_term = evsignal_new(app.base, SIGTERM, signal_cb, NULL);
	ev_int = evsignal_new(app.base, SIGINT, signal_cb, NULL);
	ev_hup = evsignal_new(app.base, SIGHUP, signal_cb, NULL);
	evsignal_add(ev_term, NULL);
	evsignal_add(ev_int, NULL);
	evsignal_add(ev_hup, NULL);
	ev_shutdown = evtimer_new(app.base, shutdown_check, NULL);
	ev_retry = evtimer_new(app.base, retry_cb, NULL);
	ev_waiting = evtimer_new(app.base, waiting_cb, NULL);
	evtimer_add(ev_waiting, &tv);
	if (sd_watchdog_enabled(0, &wd_usec) > 0) {
		struct timeval	wtv = { (time_t)(wd_usec / 2 / 1000000),
				    (suseconds_t)(wd_usec / 2 % 1000000) };

		ev_watchdog = event_new(app.base, -1, EV_PERSIST, watchdog_cb,
		    NULL);
		event_add(ev_watchdog, &wtv);
	}
	sd_notify(0, "STATUS=connecting to the database");

	sched_init(app.base);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("curl_global_init failed");
	if (outbox_init(app.base, &cause) != 0)
		fatalx("%s", cause);
	app.db = db_new(app.base, app.cfg.conninfo, app.cfg.pool_size,
	    db_state, NULL);

	event_base_dispatch(app.base);

	ctl_free(app.ctl);
	outbox_free();
	db_free(app.db);
	sched_free();
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_free(ev_shutdown);
	event_free(ev_retry);
	event_free(ev_waiting);
	if (ev_watchdog != NULL)
		event_free(ev_watchdog);
	event_base_free(app.base);
	config_free(&app.cfg);
	curl_global_cleanup();
	log_info("stopped");
	return 0;
}
