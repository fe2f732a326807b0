"""helpers: small pieces the end-to-end tests share that need no fixture: a
raw JSON-RPC connection to dsrd's socket, codici fiscali with correct (or
deliberately wrong) check characters, unique names, date and polling helpers.
Nothing here starts a process or touches the database: that is conftest.py's
job, so these helpers can never leave anything running behind a test.
"""

import contextlib
import datetime as dt
import itertools
import json
import os
import re
import socket
import time

# Every field SPEC §6 / docs/protocol.md promise in a request object.
REQUEST_FIELDS = (
    "id", "entity", "type", "status", "subject", "channel", "protocol",
    "summary", "received_on", "forwarded_on", "statutory_due_on",
    "operational_due_on", "due_on", "extended", "overdue", "closed_on",
    "outcome", "created_at",
)
ENTITY_FIELDS = ("code", "name", "email", "dpo_email", "holidays",
                 "created_at")

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\d$")

_seq = itertools.count(1)
_run = "%x" % (os.getpid() & 0xffff)


def uniq(prefix="t"):
    """A fresh lower-case token, valid as a body code (<= 32 chars)."""
    return "%s%s-%d" % (prefix, _run, next(_seq))


def d(s):
    return dt.date.fromisoformat(s)


def wait_until(pred, timeout, interval=0.1, what="condition"):
    """Polls pred() until it returns a true value; returns that value, or
    raises AssertionError after timeout seconds."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = pred()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("timed out after %ss waiting for %s"
                                 % (timeout, what))
        time.sleep(interval)


# ---------------------------------------------------------------- codice fiscale

_ODD = {}
for _c, _v in zip("0123456789", (1, 0, 5, 7, 9, 13, 15, 17, 19, 21)):
    _ODD[_c] = _v
for _c, _v in zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                  (1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6,
                   8, 12, 14, 16, 10, 22, 25, 24, 23)):
    _ODD[_c] = _v


def _even(c):
    return ord(c) - ord("0") if c.isdigit() else ord(c) - ord("A")


def cf_check(first15):
    """The check character of the first 15 characters of a codice fiscale."""
    s = first15.upper()
    total = 0
    for i, c in enumerate(s):
        total += _ODD[c] if i % 2 == 0 else _even(c)
    return chr(ord("A") + total % 26)


def cf(first15):
    """A codice fiscale with the right check character."""
    return first15.upper() + cf_check(first15)


OMOCODIA = "LMNPQRSTUV"          # letters that stand for 0..9
CF_DIGIT_POS = (14, 13, 12, 10, 9, 7, 6)   # substituted right to left


def omocodic(code, n=1):
    """The n-th omocodic variant of a valid code: the last n digit positions
    replaced by their letters, check character recomputed."""
    s = list(code[:15])
    for pos in CF_DIGIT_POS[:n]:
        s[pos] = OMOCODIA[int(s[pos])]
    return cf("".join(s))


# Mario Rossi, born 10 Dec 1985 in Roma (H501): the textbook example.
CF_VALID = cf("RSSMRA85T10H501")


# ---------------------------------------------------------------- raw socket

class RawConn:
    """One connection to dsrd's socket speaking bytes: for what dsrctl would
    never send (malformed JSON, wrong types, oversize lines, pipelining)."""

    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        """Sends bytes; returns False if the peer had already closed."""
        if isinstance(data, str):
            data = data.encode()
        try:
            self.sock.sendall(data)
            return True
        except (BrokenPipeError, ConnectionResetError):
            return False

    def send_obj(self, obj):
        return self.send(json.dumps(obj).encode() + b"\n")

    def call(self, method, params=None, id=1):
        msg = {"jsonrpc": "2.0", "id": id, "method": method}
        if params is not None:
            msg["params"] = params
        self.send_obj(msg)
        return self.recv()

    def recv_line(self, timeout=None):
        """The next response line (bytes, LF stripped); None at EOF."""
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        while b"\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                if self.buf:
                    raise AssertionError("connection closed in the middle "
                                         "of a line: %r" % self.buf[:200])
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line

    def recv(self, timeout=None):
        """The next response, parsed; fails the test at EOF or if the line is
        not one JSON-RPC 2.0 response object."""
        line = self.recv_line(timeout)
        assert line is not None, "dsrd closed the connection, no response"
        resp = json.loads(line.decode("utf-8"))
        assert isinstance(resp, dict), resp
        assert resp.get("jsonrpc") == "2.0", resp
        assert "id" in resp, resp
        assert ("result" in resp) != ("error" in resp), resp
        if "error" in resp:
            err = resp["error"]
            assert isinstance(err.get("code"), int), resp
            assert isinstance(err.get("message"), str) and err["message"], \
                resp
        return resp

    def expect_silence(self, seconds):
        """Asserts nothing arrives (and the connection stays open) for a
        while."""
        self.sock.settimeout(seconds)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout:
            return
        raise AssertionError("expected no data, got %r" % chunk[:200])

    def expect_eof(self, timeout=None):
        """Asserts dsrd closes the connection (after any pending lines)."""
        self.sock.settimeout(timeout if timeout is not None else self.timeout)
        while True:
            try:
                chunk = self.sock.recv(65536)
            except ConnectionResetError:
                return
            except socket.timeout:
                raise AssertionError("dsrd did not close the connection")
            if not chunk:
                return
            self.buf += chunk


def assert_rpc_error(resp, code, field=None, id=None):
    """resp is an error response with that code; field, if given, is named in
    data.field and in the message."""
    assert "error" in resp, "expected error %d, got %r" % (code, resp)
    err = resp["error"]
    assert err["code"] == code, resp
    if id is not None:
        assert resp["id"] == id, resp
    if field is not None:
        assert field in err["message"], \
            "message does not name %r: %r" % (field, err["message"])
        data = err.get("data")
        assert isinstance(data, dict) and data.get("field") == field, \
            "data.field is not %r: %r" % (field, resp)
    return err


@contextlib.contextmanager
def euid(pw):
    """Root takes pw's effective uid and gid for a moment: a socket
    connect()ed inside is that user's (SO_PEERCRED records the credentials
    of connect time)."""
    os.setegid(pw.pw_gid)
    os.seteuid(pw.pw_uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
