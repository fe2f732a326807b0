/*
 * config.h: dsrd's configuration. One table of keys (config.c) drives
 * parsing, defaults, validation, reload rules and what ping shows; adding a
 * key is adding a row. A load either yields a complete, validated config or
 * fails with a cause naming the file, line, section and key; it never leaves
 * a half-filled one behind.
 */
#ifndef DSR_CONFIG_H
#define DSR_CONFIG_H

#include <stddef.h>

#include "validate.h"

#define CONFIG_DEFAULT_PATH	"/etc/dsrd/dsrd.conf"
#define CONFIG_MAX_WARN_DAYS	8

struct cJSON;

struct webhook_conf {
	char			*name;
	char			*url;
	char			*secret;	/* "whsec_...": the key's, or
						   secret_file's content */
	char			*secret_file;	/* its path, or NULL */
	unsigned		 events;	/* bit per event, NEV_ALL default */
	struct webhook_conf	*next;
};

struct config {
	/* [daemon] */
	char	*socket;
	int	 socket_mode;		/* octal in the file, e.g. 0660 */
	char	*language;		/* "it" or "en" */
	char	*log_level;		/* error, warn, info, debug */
	int	 max_clients;
	int	 max_clients_per_uid;
	int	 idle_timeout;		/* seconds, 0 = none */
	int	 shutdown_grace;	/* seconds */

	/* [database] */
	char	*conninfo;
	int	 pool_size;

	/* [deadlines] */
	char	*timezone;
	int	 forward_days;
	unsigned forward_types;		/* bit (1u << enum req_type) */
	int	 warn_days[CONFIG_MAX_WARN_DAYS];	/* descending, distinct */
	int	 n_warn_days;
	int	 alert_time;		/* minutes after local midnight */
	int	 extension_decision_days;
	int	 pause_on_await;

	/* [smtp] */
	char	*smtp_url;
	char	*smtp_from;
	char	*smtp_username;
	char	*smtp_password_file;
	int	 smtp_starttls;
	int	 smtp_timeout;		/* seconds */

	/* [dpo] */
	char	*dpo_email;
	char	*dpo_name;

	/* [notify] */
	int	 include_subject_name;
	int	 retry_min;		/* seconds */
	int	 retry_max;		/* seconds */
	int	 max_age;		/* seconds */
	char	*templates;		/* directory with it/, en/ */
	int	 webhook_timeout;	/* seconds */

	/* [access]: comma lists of user names and @groups */
	char	*access_dpo;
	char	*access_clerk;
	char	*access_staff;
	char	*access_operator;

	/* [webhook NAME] sections, in file order */
	struct webhook_conf *webhooks;
};

/* Fills every key with its default. */
void	config_defaults(struct config *);
/*
 * Loads a file over the defaults. Returns 0, or -1 and *cause (heap, caller
 * frees) naming the file, line and key; *out is then untouched.
 */
int	config_load(const char *path, struct config *out, char **cause);
/* Frees what the config owns (not the struct itself). */
void	config_free(struct config *);
/*
 * Names the keys that differ between two configs and cannot change on
 * reload (e.g. daemon.socket, database.conninfo); NULL when none. Heap
 * string, caller frees.
 */
char	*config_unreloadable_changes(const struct config *old,
	    const struct config *new);
/* Adds the non-secret keys to a JSON object as {"section.key": value}. */
void	config_to_json(const struct config *, struct cJSON *obj);
/*
 * Reads a file that holds one secret (a systemd credential, a password
 * file): all of it, at most max bytes, trailing white space trimmed; it
 * must be a regular file, not empty, without NUL bytes. Returns 0 and *out
 * (heap; explicit_bzero it before freeing), or -1 and *cause saying why
 * without the path or any of the file's bytes (caller frees).
 */
int	config_read_secret(const char *path, size_t max, char **out,
	    char **cause);

#endif
