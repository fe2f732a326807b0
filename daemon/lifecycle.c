/*
 * lifecycle.c: the state machine of SPEC §3 as one table. Pure: it answers
 * questions about states, actions and roles, and nothing else; the
 * handlers do the work, in one transaction, only after it said yes.
 */
#include <stdio.h>
#include <string.h>

#include "lifecycle.h"
#include "util.h"

const char *const lc_action_names[LC_COUNT] = {
	[LC_FILE] = "file",
	[LC_FORWARD] = "forward",
	[LC_AWAIT_SUBJECT] = "await_subject",
	[LC_RESUME] = "resume",
	[LC_EXTEND] = "extend",
	[LC_COMPLETE] = "complete",
	[LC_REJECT] = "reject",
	[LC_WITHDRAW] = "withdraw",
};

const char *const lc_action_cli_names[LC_COUNT] = {
	[LC_FILE] = "file",
	[LC_FORWARD] = "forward",
	[LC_AWAIT_SUBJECT] = "await-subject",
	[LC_RESUME] = "resume",
	[LC_EXTEND] = "extend",
	[LC_COMPLETE] = "complete",
	[LC_REJECT] = "reject",
	[LC_WITHDRAW] = "withdraw",
};

const char *const reject_reason_names[RR_COUNT] = {
	[RR_MANIFESTLY_UNFOUNDED] = "manifestly_unfounded",
	[RR_EXCESSIVE] = "excessive",
	[RR_IDENTITY_NOT_VERIFIED] = "identity_not_verified",
	[RR_EXEMPTION] = "exemption",
	[RR_NOT_APPLICABLE] = "not_applicable",
	[RR_OTHER] = "other",
};

const char *const role_names[ROLE_COUNT] = {
	[ROLE_NONE] = "none",
	[ROLE_OPERATOR] = "operator",
	[ROLE_STAFF] = "staff",
	[ROLE_CLERK] = "clerk",
	[ROLE_DPO] = "dpo",
	[ROLE_ADMIN] = "admin",
};

#define S(x)	(1u << (x))
#define R(x)	ROLE_BIT(x)
#define OPEN	(S(ST_RECEIVED) | S(ST_FORWARDED) | S(ST_AWAITING_SUBJECT))

/* SPEC §3, row by row. */
static const struct {
	unsigned	from;		/* states it is allowed from */
	unsigned	roles;		/* roles that may take it (admin: all) */
	int		to;		/* -1: unchanged; -2: the state before */
} lc_table[LC_COUNT] = {
	[LC_FILE] = { 0, R(ROLE_CLERK) | R(ROLE_DPO), ST_RECEIVED },
	[LC_FORWARD] = { S(ST_RECEIVED), R(ROLE_DPO), ST_FORWARDED },
	[LC_AWAIT_SUBJECT] = { S(ST_RECEIVED) | S(ST_FORWARDED),
	    R(ROLE_CLERK) | R(ROLE_DPO), ST_AWAITING_SUBJECT },
	[LC_RESUME] = { S(ST_AWAITING_SUBJECT), R(ROLE_CLERK) | R(ROLE_DPO),
	    -2 },
	[LC_EXTEND] = { OPEN, R(ROLE_DPO), -1 },
	[LC_COMPLETE] = { S(ST_FORWARDED),
	    R(ROLE_CLERK) | R(ROLE_DPO) | R(ROLE_STAFF), ST_COMPLETED },
	[LC_REJECT] = { OPEN, R(ROLE_DPO), ST_REJECTED },
	[LC_WITHDRAW] = { OPEN, R(ROLE_CLERK) | R(ROLE_DPO), ST_WITHDRAWN },
};

bool
lc_is_final(enum req_status s)
{
	return s == ST_COMPLETED || s == ST_REJECTED || s == ST_WITHDRAWN;
}

bool
lc_role_may(enum lc_action a, enum role r)
{
	return r == ROLE_ADMIN || (lc_table[a].roles & R(r)) != 0;
}

bool
lc_allowed_from(enum lc_action a, enum req_status s)
{
	return (lc_table[a].from & S(s)) != 0;
}

unsigned
lc_allowed_actions(enum req_status s, enum role r)
{
	unsigned	set = 0;

	for (int a = 0; a < LC_COUNT; a++)
		if (lc_allowed_from(a, s) && lc_role_may(a, r))
			set |= 1u << a;
	return set;
}

enum req_status
lc_target(enum lc_action a, enum req_status from, enum req_status before)
{
	if (lc_table[a].to == -1)
		return from;
	if (lc_table[a].to == -2)
		return before;
	return (enum req_status)lc_table[a].to;
}

void
lc_roles_text(enum lc_action a, char *out, size_t outlen)
{
	size_t	n = 0;

	out[0] = '\0';
	for (int r = ROLE_OPERATOR; r < ROLE_COUNT && n < outlen; r++)
		if (lc_table[a].roles & R(r) || r == ROLE_ADMIN)
			n += (size_t)snprintf(out + n, outlen - n, "%s%s",
			    n ? ", " : "", role_names[r]);
}

void
lc_allowed_text(enum req_status s, enum role r, char *out, size_t outlen)
{
	unsigned	set = lc_allowed_actions(s, r);
	size_t		n = 0;

	out[0] = '\0';
	for (int a = 0; a < LC_COUNT && n < outlen; a++)
		if (set & (1u << a))
			n += (size_t)snprintf(out + n, outlen - n, "%s%s",
			    n ? ", " : "", lc_action_cli_names[a]);
	if (n == 0)
		snprintf(out, outlen, "none");
}
