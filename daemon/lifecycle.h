/*
 * lifecycle.h: the state machine of SPEC §3, pure: which role may take which
 * action from which state, and where it leads. The handlers ask it before
 * touching the database, and the error a refused action gets (the current
 * state and the actions allowed from it) comes from here. No I/O, no clock.
 */
#ifndef DSR_LIFECYCLE_H
#define DSR_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>

#include "validate.h"

enum role {
	ROLE_NONE = 0,
	ROLE_OPERATOR,
	ROLE_STAFF,
	ROLE_CLERK,
	ROLE_DPO,
	ROLE_ADMIN,
	ROLE_COUNT
};
#define ROLE_BIT(r)	(1u << (r))

enum lc_action {
	LC_FILE,
	LC_FORWARD,
	LC_AWAIT_SUBJECT,
	LC_RESUME,
	LC_EXTEND,
	LC_COMPLETE,
	LC_REJECT,
	LC_WITHDRAW,
	LC_COUNT
};

enum reject_reason {
	RR_MANIFESTLY_UNFOUNDED,
	RR_EXCESSIVE,
	RR_IDENTITY_NOT_VERIFIED,
	RR_EXEMPTION,
	RR_NOT_APPLICABLE,
	RR_OTHER,			/* a note is required */
	RR_COUNT
};

/* "file", "forward", "await_subject", "resume", "extend", "complete",
   "reject", "withdraw": also the audit trail's action names. */
extern const char *const lc_action_names[LC_COUNT];
/* The dsrctl spelling: "await-subject" for LC_AWAIT_SUBJECT. */
extern const char *const lc_action_cli_names[LC_COUNT];
extern const char *const reject_reason_names[RR_COUNT];
extern const char *const role_names[ROLE_COUNT];

bool	lc_is_final(enum req_status);
/* The role may take the action at all (admin may take every action). */
bool	lc_role_may(enum lc_action, enum role);
/* The action is allowed from that state (whatever the role). */
bool	lc_allowed_from(enum lc_action, enum req_status);
/* Bit (1u << action) for each action allowed from the state for the role;
   LC_FILE never (it creates a request). */
unsigned lc_allowed_actions(enum req_status, enum role);
/*
 * Where the action leads. resume returns `before` (the state the request
 * left for awaiting_subject); extend leaves the state unchanged. Only
 * meaningful when lc_allowed_from() is true.
 */
enum req_status lc_target(enum lc_action, enum req_status from,
	    enum req_status before);
/* The roles that may take the action, as "clerk, dpo" into out. */
void	lc_roles_text(enum lc_action, char *out, size_t outlen);
/* The actions allowed from a state for a role, as "forward, withdraw" (CLI
   spelling) into out; "none" for a final state. */
void	lc_allowed_text(enum req_status, enum role, char *out, size_t outlen);

#endif
