/*
 * proto.c: the parts of the socket protocol that dsrd and dsrctl share: the
 * error-code table (name and dsrctl exit code) and line framing. Pure.
 */
#include <string.h>

#include "proto.h"
#include "util.h"

static const struct {
	int		 code;
	const char	*name;
	int		 exit_code;
} errors[] = {
	{ E_PARSE,		"parse_error",		EXIT_INVALID },
	{ E_INVALID_REQUEST,	"invalid_request",	EXIT_INVALID },
	{ E_METHOD_NOT_FOUND,	"method_not_found",	EXIT_USAGE },
	{ E_INVALID_PARAMS,	"invalid_params",	EXIT_INVALID },
	{ E_INTERNAL,		"internal_error",	EXIT_UNAVAILABLE },
	{ E_NOT_FOUND,		"not_found",		EXIT_NOT_FOUND },
	{ E_NOT_ALLOWED,	"not_allowed",		EXIT_INVALID },
	{ E_CONFLICT,		"conflict",		EXIT_INVALID },
	{ E_TOO_LARGE,		"too_large",		EXIT_INVALID },
	{ E_UNAVAILABLE,	"unavailable",		EXIT_UNAVAILABLE },
	{ E_PERMISSION,		"permission_denied",	EXIT_PERMISSION },
	{ E_LIMIT,		"limit",		EXIT_UNAVAILABLE },
	{ E_USAGE,		"usage",		EXIT_USAGE },
	{ E_AUDIT_BROKEN,	"audit_broken",		EXIT_INVALID },
};

int
proto_exit_code(int code)
{
	for (size_t i = 0; i < nitems(errors); i++)
		if (errors[i].code == code)
			return errors[i].exit_code;
	return EXIT_UNAVAILABLE;
}

const char *
proto_error_name(int code)
{
	for (size_t i = 0; i < nitems(errors); i++)
		if (errors[i].code == code)
			return errors[i].name;
	return "unknown_error";
}

enum proto_frame
proto_frame(const char *buf, size_t len, size_t max, size_t *linelen)
{
	size_t		 scan = len < max + 1 ? len : max + 1;
	const char	*nl = memchr(buf, '\n', scan);

	if (nl != NULL) {
		*linelen = (size_t)(nl - buf);
		return PROTO_FRAME_LINE;
	}
	if (len > max)
		return PROTO_FRAME_TOO_BIG;
	return PROTO_FRAME_MORE;
}
