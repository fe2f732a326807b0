/*
 * test_lifecycle.c: unit tests of lifecycle.c against the table of SPEC §3,
 * written out again here from the SPEC rather than from the code: every
 * action from every state for every role, allowed or refused, where each
 * allowed one leads (resume back to the state it left), and the texts a
 * refusal shows. Pure: no database, no clock.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "lifecycle.h"
#include "util.h"

#define S(x)	(1u << (x))
#define R(x)	ROLE_BIT(x)
#define OPEN	(S(ST_RECEIVED) | S(ST_FORWARDED) | S(ST_AWAITING_SUBJECT))
#define SAME	(-1)	/* "unchanged" */
#define BEFORE	(-2)	/* "the state it left" */

/* SPEC §3, one row per action; "who" before admin, who may do all. */
static const struct {
	enum lc_action	 action;
	unsigned	 from;
	int		 to;
	unsigned	 who;
	const char	*roles_text;
} spec[] = {
	{ LC_FILE, 0, ST_RECEIVED, R(ROLE_CLERK) | R(ROLE_DPO),
	    "clerk, dpo, admin" },
	{ LC_FORWARD, S(ST_RECEIVED), ST_FORWARDED, R(ROLE_DPO),
	    "dpo, admin" },
	{ LC_AWAIT_SUBJECT, S(ST_RECEIVED) | S(ST_FORWARDED),
	    ST_AWAITING_SUBJECT, R(ROLE_CLERK) | R(ROLE_DPO),
	    "clerk, dpo, admin" },
	{ LC_RESUME, S(ST_AWAITING_SUBJECT), BEFORE,
	    R(ROLE_CLERK) | R(ROLE_DPO), "clerk, dpo, admin" },
	{ LC_EXTEND, OPEN, SAME, R(ROLE_DPO), "dpo, admin" },
	{ LC_COMPLETE, S(ST_FORWARDED), ST_COMPLETED,
	    R(ROLE_CLERK) | R(ROLE_DPO) | R(ROLE_STAFF),
	    "staff, clerk, dpo, admin" },
	{ LC_REJECT, OPEN, ST_REJECTED, R(ROLE_DPO), "dpo, admin" },
	{ LC_WITHDRAW, OPEN, ST_WITHDRAWN, R(ROLE_CLERK) | R(ROLE_DPO),
	    "clerk, dpo, admin" },
};

static const char *const status_names[ST_COUNT] = {
	"received", "forwarded", "awaiting_subject", "completed", "rejected",
	"withdrawn",
};

static bool
spec_role_may(size_t row, int role)
{
	return role == ROLE_ADMIN || (spec[row].who & R(role)) != 0;
}

static void
test_table_covers_every_action(void **state)
{
	unsigned	seen = 0;
	size_t		i;

	(void)state;
	assert_int_equal(nitems(spec), LC_COUNT);
	for (i = 0; i < nitems(spec); i++)
		seen |= 1u << spec[i].action;
	assert_int_equal(seen, (1u << LC_COUNT) - 1);
}

static void
test_names(void **state)
{
	static const char *const actions[LC_COUNT] = {
		"file", "forward", "await_subject", "resume", "extend",
		"complete", "reject", "withdraw",
	};
	static const char *const cli[LC_COUNT] = {
		"file", "forward", "await-subject", "resume", "extend",
		"complete", "reject", "withdraw",
	};
	static const char *const reasons[RR_COUNT] = {
		"manifestly_unfounded", "excessive", "identity_not_verified",
		"exemption", "not_applicable", "other",
	};
	static const char *const roles[ROLE_COUNT] = {
		"none", "operator", "staff", "clerk", "dpo", "admin",
	};
	int	i;

	(void)state;
	for (i = 0; i < LC_COUNT; i++) {
		assert_string_equal(lc_action_names[i], actions[i]);
		assert_string_equal(lc_action_cli_names[i], cli[i]);
	}
	for (i = 0; i < RR_COUNT; i++)
		assert_string_equal(reject_reason_names[i], reasons[i]);
	for (i = 0; i < ROLE_COUNT; i++)
		assert_string_equal(role_names[i], roles[i]);
}

static void
test_final_states(void **state)
{
	int	s;

	(void)state;
	for (s = 0; s < ST_COUNT; s++)
		assert_int_equal(lc_is_final(s), (OPEN & S(s)) == 0);
	assert_false(lc_is_final(ST_RECEIVED));
	assert_true(lc_is_final(ST_COMPLETED));
	assert_true(lc_is_final(ST_REJECTED));
	assert_true(lc_is_final(ST_WITHDRAWN));
}

/* Every action from every state: allowed exactly where SPEC says. */
static void
test_allowed_from(void **state)
{
	size_t	i;
	int	s;

	(void)state;
	for (i = 0; i < nitems(spec); i++)
		for (s = 0; s < ST_COUNT; s++) {
			bool want = (spec[i].from & S(s)) != 0;

			if (lc_allowed_from(spec[i].action, s) != want)
				fail_msg("%s from %s: got %s",
				    lc_action_names[spec[i].action],
				    status_names[s], want ? "refused" :
				    "allowed");
		}
	/* Nothing leaves a final state. */
	for (i = 0; i < LC_COUNT; i++) {
		assert_false(lc_allowed_from(i, ST_COMPLETED));
		assert_false(lc_allowed_from(i, ST_REJECTED));
		assert_false(lc_allowed_from(i, ST_WITHDRAWN));
	}
}

/* Every action for every role. */
static void
test_role_may(void **state)
{
	size_t	i;
	int	r;

	(void)state;
	for (i = 0; i < nitems(spec); i++)
		for (r = 0; r < ROLE_COUNT; r++) {
			bool want = spec_role_may(i, r);

			if (lc_role_may(spec[i].action, r) != want)
				fail_msg("%s by %s: got %s",
				    lc_action_names[spec[i].action],
				    role_names[r], want ? "refused" :
				    "allowed");
		}
	/* The operator sees no personal data and changes nothing. */
	for (i = 0; i < LC_COUNT; i++) {
		assert_false(lc_role_may(i, ROLE_OPERATOR));
		assert_false(lc_role_may(i, ROLE_NONE));
		assert_true(lc_role_may(i, ROLE_ADMIN));
	}
}

/* Every action from every state for every role, as one set per pair. */
static void
test_allowed_actions(void **state)
{
	unsigned	want, got;
	size_t		i;
	int		s, r;

	(void)state;
	for (s = 0; s < ST_COUNT; s++)
		for (r = 0; r < ROLE_COUNT; r++) {
			want = 0;
			for (i = 0; i < nitems(spec); i++)
				if (spec[i].action != LC_FILE &&
				    (spec[i].from & S(s)) != 0 &&
				    spec_role_may(i, r))
					want |= 1u << spec[i].action;
			got = lc_allowed_actions(s, r);
			if (got != want)
				fail_msg("%s as %s: got %#x, want %#x",
				    status_names[s], role_names[r], got,
				    want);
		}
	/* A few spelled out. */
	assert_int_equal(lc_allowed_actions(ST_RECEIVED, ROLE_DPO),
	    S(LC_FORWARD) | S(LC_AWAIT_SUBJECT) | S(LC_EXTEND) |
	    S(LC_REJECT) | S(LC_WITHDRAW));
	assert_int_equal(lc_allowed_actions(ST_FORWARDED, ROLE_STAFF),
	    S(LC_COMPLETE));
	assert_int_equal(lc_allowed_actions(ST_AWAITING_SUBJECT, ROLE_CLERK),
	    S(LC_RESUME) | S(LC_WITHDRAW));
	assert_int_equal(lc_allowed_actions(ST_RECEIVED, ROLE_STAFF), 0);
	for (r = 0; r < ROLE_COUNT; r++)
		for (s = ST_COMPLETED; s < ST_COUNT; s++)
			assert_int_equal(lc_allowed_actions(s, r), 0);
}

static void
test_targets(void **state)
{
	size_t	i;
	int	s, before;

	(void)state;
	for (i = 0; i < nitems(spec); i++) {
		for (s = 0; s < ST_COUNT; s++) {
			if ((spec[i].from & S(s)) == 0)
				continue;
			for (before = ST_RECEIVED; before <= ST_FORWARDED;
			    before++) {
				int want = spec[i].to == SAME ? s :
				    spec[i].to == BEFORE ? before :
				    spec[i].to;

				assert_int_equal(lc_target(spec[i].action, s,
				    before), want);
			}
		}
	}
	/* resume returns to the state the request left. */
	assert_int_equal(lc_target(LC_RESUME, ST_AWAITING_SUBJECT,
	    ST_RECEIVED), ST_RECEIVED);
	assert_int_equal(lc_target(LC_RESUME, ST_AWAITING_SUBJECT,
	    ST_FORWARDED), ST_FORWARDED);
	/* extend stays where it is, from each open state. */
	assert_int_equal(lc_target(LC_EXTEND, ST_RECEIVED, ST_FORWARDED),
	    ST_RECEIVED);
	assert_int_equal(lc_target(LC_EXTEND, ST_FORWARDED, ST_RECEIVED),
	    ST_FORWARDED);
	assert_int_equal(lc_target(LC_EXTEND, ST_AWAITING_SUBJECT,
	    ST_RECEIVED), ST_AWAITING_SUBJECT);
	assert_int_equal(lc_target(LC_FILE, ST_RECEIVED, ST_RECEIVED),
	    ST_RECEIVED);
	assert_int_equal(lc_target(LC_COMPLETE, ST_FORWARDED, ST_RECEIVED),
	    ST_COMPLETED);
}

/* A round trip: await the subject from each state, then resume. */
static void
test_await_resume_round_trip(void **state)
{
	static const int	from[] = { ST_RECEIVED, ST_FORWARDED };
	size_t			i;
	int			s;

	(void)state;
	for (i = 0; i < nitems(from); i++) {
		assert_true(lc_allowed_from(LC_AWAIT_SUBJECT, from[i]));
		s = lc_target(LC_AWAIT_SUBJECT, from[i], from[i]);
		assert_int_equal(s, ST_AWAITING_SUBJECT);
		/* Not twice, and no forwarding while waiting. */
		assert_false(lc_allowed_from(LC_AWAIT_SUBJECT, s));
		assert_false(lc_allowed_from(LC_FORWARD, s));
		assert_false(lc_allowed_from(LC_COMPLETE, s));
		assert_true(lc_allowed_from(LC_RESUME, s));
		assert_int_equal(lc_target(LC_RESUME, s, from[i]), from[i]);
	}
}

static void
test_roles_text(void **state)
{
	char	buf[128];
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(spec); i++) {
		memset(buf, 'x', sizeof buf);
		lc_roles_text(spec[i].action, buf, sizeof buf);
		assert_string_equal(buf, spec[i].roles_text);
	}
	/* A short buffer is cut, not overrun, and stays a string. */
	memset(buf, 'x', sizeof buf);
	lc_roles_text(LC_COMPLETE, buf, 9);
	assert_true(strlen(buf) < 9);
	assert_memory_equal(buf, "staff, clerk", strlen(buf));
	assert_int_equal(buf[9], 'x');
}

static void
test_allowed_text(void **state)
{
	static const struct {
		int		 status;
		int		 role;
		const char	*want;
	} t[] = {
		{ ST_RECEIVED, ROLE_DPO,
		    "forward, await-subject, extend, reject, withdraw" },
		{ ST_RECEIVED, ROLE_ADMIN,
		    "forward, await-subject, extend, reject, withdraw" },
		{ ST_RECEIVED, ROLE_CLERK, "await-subject, withdraw" },
		{ ST_RECEIVED, ROLE_STAFF, "none" },
		{ ST_RECEIVED, ROLE_OPERATOR, "none" },
		{ ST_FORWARDED, ROLE_DPO,
		    "await-subject, extend, complete, reject, withdraw" },
		{ ST_FORWARDED, ROLE_CLERK,
		    "await-subject, complete, withdraw" },
		{ ST_FORWARDED, ROLE_STAFF, "complete" },
		{ ST_AWAITING_SUBJECT, ROLE_DPO,
		    "resume, extend, reject, withdraw" },
		{ ST_AWAITING_SUBJECT, ROLE_CLERK, "resume, withdraw" },
		{ ST_AWAITING_SUBJECT, ROLE_STAFF, "none" },
		{ ST_COMPLETED, ROLE_ADMIN, "none" },
		{ ST_REJECTED, ROLE_DPO, "none" },
		{ ST_WITHDRAWN, ROLE_CLERK, "none" },
	};
	char	buf[128];
	size_t	i;

	(void)state;
	for (i = 0; i < nitems(t); i++) {
		memset(buf, 'x', sizeof buf);
		lc_allowed_text(t[i].status, t[i].role, buf, sizeof buf);
		assert_string_equal(buf, t[i].want);
	}
	memset(buf, 'x', sizeof buf);
	lc_allowed_text(ST_RECEIVED, ROLE_DPO, buf, 12);
	assert_true(strlen(buf) < 12);
	assert_memory_equal(buf, "forward, await-subject", strlen(buf));
	assert_int_equal(buf[12], 'x');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_covers_every_action),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_final_states),
		cmocka_unit_test(test_allowed_from),
		cmocka_unit_test(test_role_may),
		cmocka_unit_test(test_allowed_actions),
		cmocka_unit_test(test_targets),
		cmocka_unit_test(test_await_resume_round_trip),
		cmocka_unit_test(test_roles_text),
		cmocka_unit_test(test_allowed_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
