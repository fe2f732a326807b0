/*
 * proto.h: what dsrd and its clients share about the socket protocol:
 * JSON-RPC 2.0, one JSON object per line (LF), the size limit, the error
 * codes and the exit code each one maps to in dsrctl. docs/protocol.md is
 * the prose version of this file; keep them in step.
 */
#ifndef DSR_PROTO_H
#define DSR_PROTO_H

#include <stddef.h>

#define PROTO_VERSION		"2.0"
#define PROTO_MAX_MESSAGE	(1024 * 1024)	/* bytes, newline excluded */
#define PROTO_DEFAULT_SOCKET	"/run/dsrd/dsrd.sock"

/* JSON-RPC 2.0 reserved codes. */
#define E_PARSE			-32700	/* malformed JSON */
#define E_INVALID_REQUEST	-32600	/* not a JSON-RPC 2.0 request object */
#define E_METHOD_NOT_FOUND	-32601
#define E_INVALID_PARAMS	-32602	/* names the field; data.field too */
#define E_INTERNAL		-32603

/* dsrd's own codes. */
#define E_NOT_FOUND		1	/* no such request, body, row */
#define E_NOT_ALLOWED		2	/* action not allowed in this state */
#define E_CONFLICT		3	/* already exists */
#define E_TOO_LARGE		4	/* message over PROTO_MAX_MESSAGE */
#define E_UNAVAILABLE		5	/* database unavailable, shutting down */
#define E_PERMISSION		6	/* caller's role may not do this */
#define E_LIMIT			7	/* a server limit was reached */
#define E_USAGE			8	/* client side: bad command line */
#define E_AUDIT_BROKEN		9	/* audit verify found a broken chain */

/* dsrctl exit codes (SPEC §6). */
#define EXIT_OK			0
#define EXIT_NOT_FOUND		1
#define EXIT_USAGE		64
#define EXIT_INVALID		65
#define EXIT_UNAVAILABLE	69
#define EXIT_PERMISSION		77

/* The dsrctl exit code for an error code. */
int		 proto_exit_code(int code);
/* A short stable name for an error code ("invalid_params"), never NULL. */
const char	*proto_error_name(int code);

enum proto_frame {
	PROTO_FRAME_MORE,	/* no complete line yet */
	PROTO_FRAME_LINE,	/* *linelen bytes, then one LF */
	PROTO_FRAME_TOO_BIG,	/* a line longer than max: drop the client */
};

/*
 * Finds the first complete line in buf[0..len). A line longer than max bytes
 * (LF excluded) is PROTO_FRAME_TOO_BIG, as soon as more than max bytes
 * without a LF are buffered; exactly max bytes without a LF is still MORE.
 */
enum proto_frame proto_frame(const char *buf, size_t len, size_t max,
		    size_t *linelen);

#endif
