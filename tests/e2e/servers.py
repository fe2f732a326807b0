"""servers: the peers dsrd delivers notifications to, for the end-to-end
tests: a real SMTP server (aiosmtpd, in this process, keeping the exact
bytes of every message it accepts), Postfix's smtp-sink (a subprocess, for
a server that is slow on purpose), and an HTTP receiver whose answers each
test scripts (status sequence, headers such as Retry-After, a delay) and
which records every request. Each listens on 127.0.0.1 on a port chosen at
run time, can be stopped and started again on the same port mid-test, and
must be stopped by the test (or its fixture) that started it: nothing here
may outlive a test module or listen anywhere but the loopback.
"""

import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time
from email import policy
from email.parser import BytesParser

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

SMTP_SINK = "/usr/sbin/smtp-sink"


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


# ---------------------------------------------------------------- SMTP

class Mail:
    """One message as the server received it: the envelope and the exact
    DATA bytes (dot-unstuffed, line ends untouched), parsed with the
    standard library's modern policy."""

    def __init__(self, mail_from, rcpt_tos, raw):
        self.mail_from = mail_from
        self.rcpt_tos = list(rcpt_tos)
        self.raw = bytes(raw)
        self.msg = BytesParser(policy=policy.default).parsebytes(self.raw)
        self.received = time.monotonic()

    def raw_header(self, name):
        """The header's raw lines (folds included, CRLF kept) as bytes, or
        None: the bytes before the first empty line, unparsed."""
        head = self.raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
        lines = head.split(b"\r\n")
        out = None
        key = name.lower().encode() + b":"
        for ln in lines:
            if out is not None:
                if ln[:1] in (b" ", b"\t"):
                    out.append(ln)
                    continue
                break
            if ln.lower().startswith(key):
                out = [ln]
        return None if out is None else b"\r\n".join(out)

    def text(self):
        """The decoded text body."""
        return self.msg.get_body(preferencelist=("plain",)).get_content()

    def __repr__(self):
        return "<Mail to %r subject %r>" % (self.rcpt_tos,
                                             str(self.msg["Subject"]))


class _Handler:
    def __init__(self, box):
        self.box = box

    async def handle_DATA(self, server, session, envelope):
        self.box._add(Mail(envelope.mail_from, envelope.rcpt_tos,
                           envelope.original_content))
        return "250 OK"


class SmtpServer:
    """aiosmtpd on 127.0.0.1:port. Messages survive stop/start (one list per
    server object); wait() finds them."""

    def __init__(self, port=None, logins=None):
        """logins: {user: password}; then AUTH is required (over plain
        TCP: loopback only) and self.auths records each attempt as (user,
        password, accepted)."""
        self.port = port or free_port()
        self.url = "smtp://127.0.0.1:%d" % self.port
        self.logins = logins
        self.auths = []
        self.mails = []
        self._cond = threading.Condition()
        self._ctl = None

    def _add(self, mail):
        with self._cond:
            self.mails.append(mail)
            self._cond.notify_all()

    @property
    def running(self):
        return self._ctl is not None

    def start(self):
        assert self._ctl is None, "SMTP server already running"
        # decode_data=False: original_content is the bytes on the wire.
        auth = {}
        if self.logins is not None:
            auth = {"authenticator": self._authenticate,
                    "auth_required": True, "auth_require_tls": False}
        self._ctl = Controller(_Handler(self), hostname="127.0.0.1",
                               port=self.port, decode_data=False,
                               ready_timeout=10, **auth)
        self._ctl.start()
        return self

    def _authenticate(self, server, session, envelope, mechanism, data):
        user = data.login.decode("utf-8", "replace")
        password = data.password.decode("utf-8", "replace")
        ok = self.logins.get(user) == password
        with self._cond:
            self.auths.append((user, password, ok))
        return AuthResult(success=ok)

    def stop(self):
        if self._ctl is not None:
            self._ctl.stop()
            self._ctl = None

    def wait(self, pred, n=1, timeout=10, what="mail"):
        """Waits until n received messages satisfy pred(mail); returns
        them (in arrival order), or fails after timeout seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [m for m in self.mails if pred(m)]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "timed out after %ss waiting for %d %s; have %d; "
                        "all received: %r" % (timeout, n, what, len(got),
                                              self.mails))
                self._cond.wait(left)

    def matching(self, pred):
        with self._cond:
            return [m for m in self.mails if pred(m)]


class SmtpSink:
    """Postfix's smtp-sink on 127.0.0.1:port with extra options (e.g.
    ["-W", ".:10"] to answer the end of DATA 10 s late). It accepts and
    discards everything. Started as a subprocess in its own session."""

    def __init__(self, logdir, options=(), port=None):
        self.port = port or free_port()
        self.url = "smtp://127.0.0.1:%d" % self.port
        self.options = list(options)
        self.log = os.path.join(str(logdir), "smtp-sink.%d.log" % self.port)
        self.proc = None

    def start(self, timeout=10):
        assert self.proc is None
        cmd = [SMTP_SINK, "-v"]
        if os.geteuid() == 0:
            cmd += ["-u", "nobody"]     # it refuses to run as root
        cmd += self.options + ["127.0.0.1:%d" % self.port, "100"]
        fh = open(self.log, "wb")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                     stdout=fh, stderr=fh,
                                     start_new_session=True)
        fh.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("smtp-sink exited %d:\n%s"
                                     % (self.proc.returncode,
                                        self.log_text()))
            try:
                socket.create_connection(("127.0.0.1", self.port),
                                         timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("smtp-sink did not listen within %ss" % timeout)

    def log_text(self):
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None


# ---------------------------------------------------------------- HTTP

class Hit:
    """One request the receiver got."""

    def __init__(self, method, path, headers, body, status):
        self.method = method
        self.path = path
        self.headers = headers      # {lower-case name: value}
        self.body = body            # bytes
        self.status = status        # what we answered
        self.at = time.time()

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "<Hit %s %s -> %s id=%s>" % (self.method, self.path,
                                             self.status,
                                             self.headers.get("webhook-id"))


class _HttpHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):     # keep pytest's output clean
        pass

    def _any(self):
        rcv = self.server.receiver
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n > 0 else b""
        ans = rcv._next()
        status = ans.get("status", 200)
        hit = Hit(self.command, self.path,
                  {k.lower(): v for k, v in self.headers.items()}, body,
                  status)
        if ans.get("delay"):
            time.sleep(ans["delay"])
        # Recorded before the answer: once dsrd has it, so does the test.
        rcv._add(hit)
        out = ans.get("body", b"")
        if isinstance(out, str):
            out = out.encode()
        try:
            self.send_response(status)
            for k, v in ans.get("headers", {}).items():
                self.send_header(k, str(v))
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)
        except OSError:
            pass        # the client gave up (its timeout): still recorded

    do_POST = _any
    do_GET = _any
    do_PUT = _any


class HttpReceiver:
    """An HTTP server on 127.0.0.1 in a thread. script(*answers) sets what
    the next requests get, in order: each answer is a status (int) or a dict
    {status, headers, body, delay (seconds before answering)}; the last one
    repeats once the list is used up. Records every request as a Hit."""

    def __init__(self):
        self.hits = []
        self._answers = [{"status": 200}]
        self._cond = threading.Condition()
        self._srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                    _HttpHandler)
        self._srv.daemon_threads = True
        self._srv.receiver = self
        self.port = self._srv.server_address[1]
        self._thread = None

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def script(self, *answers):
        with self._cond:
            self._answers = [a if isinstance(a, dict) else {"status": a}
                             for a in answers]

    def _next(self):
        with self._cond:
            if len(self._answers) > 1:
                return self._answers.pop(0)
            return self._answers[0]

    def _add(self, hit):
        with self._cond:
            self.hits.append(hit)
            self._cond.notify_all()

    def start(self):
        self._thread = threading.Thread(target=self._srv.serve_forever,
                                        kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._thread is not None:
            self._srv.shutdown()
            self._thread.join(5)
            self._thread = None
        self._srv.server_close()

    def wait(self, pred=lambda h: True, n=1, timeout=10, what="request"):
        """Waits until n recorded requests satisfy pred(hit); returns them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                got = [h for h in self.hits if pred(h)]
                if len(got) >= n:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        "timed out after %ss waiting for %d %s; have %d; "
                        "all received: %r" % (timeout, n, what, len(got),
                                              self.hits))
                self._cond.wait(left)

    def matching(self, pred=lambda h: True):
        with self._cond:
            return [h for h in self.hits if pred(h)]
