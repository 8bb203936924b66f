#!/usr/bin/python3
"""Scripted fake SMTP server for smtpsend's fault cases (curl style).

A case file (tests/fake/cases/NNN-name.case, format in README.md) says what
the server sends, the exact lines the client must send, faults (close,
hang, garbage, raw bytes), and what smtpsend must exit with.  run_case()
plays one case against the built binary and returns a Result whose
`errors` is empty when the case passed.  Standard library only.

Command line:  fakeserver.py [--binary PATH] CASE...   (prints transcripts)
"""

import base64
import os
import re
import select
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time

READ_TIMEOUT = float(os.environ.get("FAKE_READ_TIMEOUT", "10"))
HANG_LIMIT = 30.0
# A timed wait (HANG, STALL) must end after its seconds less EARLY and
# before its seconds plus LATE: the client's own timeout, seen from here.
EARLY = 0.3
LATE = float(os.environ.get("FAKE_TIME_MARGIN", "2"))
SECTIONS = ("description", "argv", "config", "stdin", "server", "exit",
            "stderr", "stdout", "body", "env", "padding")


class CaseError(Exception):
    pass


def parse_case(path):
    """Split a case file into its %%sections (text, newlines kept)."""
    sections, name, lines = {}, None, []
    with open(path, encoding="utf-8", newline="") as f:
        for line in f:
            if line.startswith("%%"):
                if name is not None:
                    sections[name] = "".join(lines)
                name, lines = line[2:].strip(), []
                if name not in SECTIONS:
                    raise CaseError("%s: unknown section %%%%%s" % (path, name))
            elif name is not None:
                lines.append(line)
    if name is not None:
        sections[name] = "".join(lines)
    for need in ("argv", "config", "server", "exit"):
        if need not in sections:
            raise CaseError("%s: missing section %%%%%s" % (path, need))
    return sections


def unescape(text):
    """Python-style escapes (\\r \\n \\xNN \\\\) to bytes."""
    return text.encode("latin-1").decode("unicode_escape").encode("latin-1")


def parse_script(text):
    """The %%server section as a list of (op, argument)."""
    steps = []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^(SCRAM-FIRST:)\s?(.*)$", raw.lstrip())
        if m:
            steps.append((m.group(1), m.group(2)))
            continue
        m = re.match(r"^(S:|C:|C~|P:|P~|RAW:|RECV:)\s?(.*)$", raw.lstrip())
        if m:
            steps.append((m.group(1), m.group(2)))
            continue
        m = re.match(r"^TRICKLE\s+([0-9.]+)\s(.*)$", raw.lstrip())
        if m:
            steps.append(("TRICKLE", (float(m.group(1)), m.group(2))))
            continue
        word = line.split()
        if word[0] in ("BODY", "CHUNK", "CLOSE", "ACCEPT", "EOF", "MARK",
                       "HELLO"):
            steps.append((word[0], None))
        elif word[0] in ("SLEEP", "HANG", "STALL") and len(word) == 2:
            steps.append((word[0], float(word[1])))
        else:
            raise CaseError("server script line %d: cannot parse %r"
                            % (n, raw))
    return steps


class Server:
    """Listens on a free 127.0.0.1 port and plays the script."""

    def __init__(self, steps):
        self.steps = steps
        self.errors = []
        self.transcript = []
        self.bodies = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.conn = None
        self.buf = b""
        self.ids = []           # recv() number of every byte in buf
        self.nrecv = 0
        self.last_id = -1       # recv() that ended the last client line
        self.bdat = 0
        self.mark = None        # MARK: where the next timed wait starts
        self.closed_at = None   # the client closed during a TRICKLE
        self.client_end = None  # when smtpsend exited (set by run_case)
        self.client_done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()

    def join(self, timeout):
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.errors.append("fake server still running after %ss" % timeout)
        try:
            self.sock.close()
        except OSError:
            pass

    # -- connection helpers --

    def _note(self, who, text):
        self.transcript.append("%s %s" % (who, text))

    def _fail(self, msg):
        self.errors.append(msg)
        self._note("!!", msg)

    def _accept(self):
        self.sock.settimeout(READ_TIMEOUT)
        try:
            self.conn, _ = self.sock.accept()
        except socket.timeout:
            raise CaseError("the client never connected")
        self.buf, self.ids = b"", []
        self.closed_at = None
        self._note("==", "connection accepted")

    def _close(self):
        if self.conn is not None:
            try:
                self.conn.close()
            except OSError:
                pass
            self.conn = None

    def _recv(self, timeout):
        self.conn.settimeout(timeout)
        try:
            data = self.conn.recv(65536)
        except socket.timeout:
            return None
        except ConnectionResetError:
            return b""
        return data

    def _readline(self, what):
        """One client line, CRLF required; None if the client is gone."""
        while b"\n" not in self.buf:
            data = self._recv(READ_TIMEOUT)
            if data is None:
                raise CaseError("waited %ss for the client to send %s"
                                % (READ_TIMEOUT, what))
            if not data:
                if self.buf:
                    self._note("C:", repr(self.buf))
                raise CaseError("client closed the connection; "
                                "wanted %s" % what)
            self._add(data)
        n = self.buf.index(b"\n")
        line = self.buf[:n]
        self.last_id = self.ids[n]
        self._consume(n + 1)
        if not line.endswith(b"\r"):
            self._fail("client line not ended by CRLF: %r" % line)
        else:
            line = line[:-1]
        if b"\r" in line:
            self._fail("bare CR inside a client line: %r" % line)
        return line

    def _add(self, data):
        self.nrecv += 1
        self.buf += data
        self.ids += [self.nrecv] * len(data)

    def _consume(self, n):
        self.buf, self.ids = self.buf[n:], self.ids[n:]

    def _send(self, data):
        try:
            self.conn.sendall(data)
        except OSError as e:
            self._note("!!", "send failed: %s" % e)

    def _read_raw(self, n, what):
        while len(self.buf) < n:
            data = self._recv(READ_TIMEOUT)
            if not data:
                raise CaseError("client stopped before %s" % what)
            self._add(data)
        out = self.buf[:n]
        if n:
            self.last_id = self.ids[n - 1]
        self._consume(n)
        return out

    # -- the ops --

    def _client_line(self, op, arg):
        prev = self.last_id
        line = self._readline(repr(arg))
        text = line.decode("utf-8", "replace")
        self.last_text = text
        self._note("C:", text)
        if op[1] == ":" and text != arg:
            self._fail("client sent %r, wanted %r" % (text, arg))
        elif op[1] == "~" and not re.fullmatch(arg, text):
            self._fail("client sent %r, wanted /%s/" % (text, arg))
        elif op[0] == "P" and self.last_id != prev:
            self._fail("%r did not come in the same write as the line "
                       "before (not pipelined)" % text)
        m = re.match(r"BDAT (\d+)", text, re.I)
        if m:
            self.bdat = int(m.group(1))

    def _body(self):
        lines = []
        while True:
            line = self._readline("the message body or '.'")
            if line == b".":
                break
            if len(line) > 998:
                self._fail("body line of %d octets (over 998)" % len(line))
            lines.append(line[1:] if line.startswith(b".") else line)
        body = b"".join(x + b"\r\n" for x in lines)
        self.bodies.append(body)
        self._note("C:", "[body: %d lines, %d bytes]" % (len(lines), len(body)))
        self._note("C:", ".")

    def _chunk(self):
        body = self._read_raw(self.bdat, "the end of the BDAT chunk")
        self.bodies.append(body)
        self._note("C:", "[chunk: %d bytes]" % len(body))

    def _eof(self, limit, what):
        """Wait for the client to close; anything it sends is recorded."""
        deadline = time.monotonic() + limit
        extra = self.buf
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail("client did not close the connection (%s)" % what)
                return extra
            data = self._recv(left)
            if data is None:
                continue
            if not data:
                return extra
            extra += data

    def _scram_first(self, arg):
        """SCRAM-FIRST: s=SALT,i=N answers the client-first message in the
        last client line ("AUTH SCRAM-... B64" or a bare B64) with
        "334 " + base64("r=" client nonce + server nonce "," arg)."""
        b64 = getattr(self, "last_text", "").split(" ")[-1]
        try:
            first = base64.b64decode(b64, validate=True).decode()
            nonce = re.search(r"(?:^|,)r=([^,]+)", first).group(1)
        except (ValueError, AttributeError):
            raise CaseError("SCRAM-FIRST: no client-first message in %r"
                            % getattr(self, "last_text", ""))
        msg = "r=%sfakeservernonce,%s" % (nonce, arg)
        self._note("S:", "334 [base64 %s]" % msg)
        self._send(b"334 " + base64.b64encode(msg.encode()) + b"\r\n")

    def _wait_close(self, deadline):
        """Read until the client closes or deadline: (bytes, close time)."""
        extra = self.buf
        while self.closed_at is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return extra, None
            data = self._recv(left)
            if data is None:
                continue
            if not data:
                return extra, time.monotonic()
            extra += data
        return extra, self.closed_at

    def _start(self):
        """Where a timed wait starts: the MARK, else now."""
        start = self.mark if self.mark is not None else time.monotonic()
        self.mark = None
        return start

    def _check_time(self, what, took, secs):
        if took is None:
            self._fail("%s: the client was still there %.1fs after, "
                       "its timeout being %gs" % (what, secs + LATE, secs))
        elif took < secs - EARLY:
            self._fail("%s: the client gave up after %.2fs, before its "
                       "timeout of %gs" % (what, took, secs))
        elif took > secs + LATE:
            self._fail("%s: the client gave up only after %.2fs, its "
                       "timeout being %gs" % (what, took, secs))
        else:
            self._note("==", "%s: the client gave up after %.2fs"
                       % (what, took))

    def _hang(self, secs):
        """Answer nothing; the client must close, silent, in its timeout."""
        start = self._start()
        self._note("==", "hanging (the client's timeout: %gs)" % secs)
        extra, closed = self._wait_close(start + secs + LATE)
        for line in extra.split(b"\r\n"):
            if line:
                self._note("C:", line.decode("utf-8", "replace"))
        if extra:
            self._fail("client sent %r after the hang, wanted nothing"
                       % extra)
        self._check_time("HANG", None if closed is None else closed - start,
                         secs)
        self.buf, self.ids = b"", []
        self._close()

    def _trickle(self, interval, data):
        """Send data a byte every interval seconds, watching the client."""
        self._note("S:", "[trickle %r, a byte every %gs]" % (data, interval))
        for i in range(len(data)):
            if i and not self._pause(interval):
                self.closed_at = time.monotonic()
                self._note("==", "client closed during the trickle, after "
                           "%d of %d bytes" % (i, len(data)))
                return
            self._send(data[i:i + 1])

    def _pause(self, secs):
        """Wait secs, keeping what the client sends; False if it closed."""
        end = time.monotonic() + secs
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            ready, _, _ = select.select([self.conn], [], [], left)
            if not ready:
                return True
            data = self._recv(0.1)
            if data == b"":
                return False
            if data:
                self._add(data)

    def _stall(self, secs):
        """Stop reading: the client, its writes blocked, must give up."""
        start = self._start()
        self._note("==", "not reading (the client's timeout: %gs)" % secs)
        self.client_done.wait(max(0, start + secs + LATE - time.monotonic()))
        self._check_time("STALL", None if self.client_end is None
                         else self.client_end - start, secs)
        extra, closed = self._wait_close(time.monotonic() + READ_TIMEOUT)
        if closed is None:
            self._fail("STALL: the client did not close the connection")
        # What was sent is part of the message, never its end.
        lines = extra.split(b"\n")
        for line in lines[:-1]:
            if not line.endswith(b"\r") or len(line) > 999:
                self._fail("bad body line after the stall: %r" % line[:80])
            if line in (b".\r", b"QUIT\r"):
                self._fail("client sent %r after the stall" % line)
        self.bodies.append(extra)
        self._note("C:", "[%d bytes of the body, then the client closed]"
                   % len(extra))
        self.buf, self.ids = b"", []
        self._close()

    def _step(self, op, arg):
        if op == "SCRAM-FIRST:":
            return self._scram_first(arg)
        if op == "S:":
            self._note("S:", arg)
            self._send(arg.encode("utf-8") + b"\r\n")
        elif op == "RAW:":
            self._note("S:", "[raw %r]" % unescape(arg))
            self._send(unescape(arg))
        elif op in ("C:", "C~", "P:", "P~"):
            self._client_line(op, arg)
        elif op == "RECV:":
            want = unescape(arg)
            got = self._read_raw(len(want), "raw bytes %r" % want)
            self._note("C:", "[raw %r]" % got)
            if got != want:
                self._fail("client sent raw %r, wanted %r" % (got, want))
        elif op == "BODY":
            self._body()
        elif op == "CHUNK":
            self._chunk()
        elif op == "SLEEP":
            time.sleep(arg)
        elif op == "HANG":
            self._hang(arg)
        elif op == "STALL":
            self._stall(arg)
        elif op == "TRICKLE":
            self._trickle(arg[0], unescape(arg[1]))
        elif op == "HELLO":
            head = self._read_raw(5, "a TLS record (ClientHello)")
            n = int.from_bytes(head[3:5], "big")
            self._read_raw(n, "the rest of the ClientHello")
            self._note("C:", "[TLS record type %d, %d bytes]" % (head[0], n))
            if head[0] != 0x16 or head[1] != 3:
                self._fail("client sent %r, wanted a TLS handshake record"
                           % head)
        elif op == "MARK":
            self.mark = time.monotonic()
        elif op == "EOF":
            extra = self._eof(READ_TIMEOUT, "wanted EOF")
            if extra:
                self._fail("client sent %r, wanted it to close" % extra)
            self.buf, self.ids = b"", []
            self._close()
        elif op == "CLOSE":
            self._note("==", "server closes the connection")
            self._close()
        elif op == "ACCEPT":
            self._close()
            self._accept()

    def _run(self):
        try:
            self._accept()
            for op, arg in self.steps:
                if self.conn is None and op not in ("ACCEPT", "SLEEP",
                                                    "MARK"):
                    raise CaseError("script goes on after the connection "
                                    "was closed (use ACCEPT)")
                self._step(op, arg)
            if self.conn is not None:
                extra = self._eof(READ_TIMEOUT, "after the script ended")
                if extra:
                    self._note("C:", repr(extra))
                    self._fail("client sent %r after the script ended"
                               % extra)
        except CaseError as e:
            self._fail(str(e))
        finally:
            self._close()


class Result:
    def __init__(self, path):
        self.path = path
        self.errors = []
        self.transcript = []
        self.returncode = None
        self.stdout = b""
        self.stderr = b""
        self.elapsed = 0.0

    def report(self):
        out = ["case %s: %s" % (os.path.basename(self.path),
                                "PASS" if not self.errors else "FAIL")]
        out += ["  error: %s" % e for e in self.errors]
        out.append("  exit %s after %.1fs" % (self.returncode, self.elapsed))
        out.append("  transcript:")
        out += ["    %s" % t for t in self.transcript]
        out.append("  stderr:")
        out += ["    %s" % t for t in
                self.stderr.decode("utf-8", "replace").splitlines()]
        return "\n".join(out)


def _subst(text, port):
    return text.replace("@PORT@", str(port))


def run_case(path, binary, workdir=None, timeout=60):
    """Play one case against binary; returns a Result."""
    res = Result(path)
    case = parse_case(path)
    server = Server(parse_script(case["server"]))
    tmp = workdir or tempfile.mkdtemp(prefix="fake-")
    home = os.path.join(str(tmp), "home")
    os.makedirs(home, exist_ok=True)
    rc_path = os.path.join(home, ".smtprc")
    fd = os.open(rc_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(_subst(case["config"], server.port))
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home,
           "TMPDIR": str(tmp), "XDG_CACHE_HOME": os.path.join(str(tmp), "cache"),
           "XDG_STATE_HOME": os.path.join(str(tmp), "state"),
           "SMTPSEND_QUEUE_DIR": os.path.join(str(tmp), "queue"),
           "LANG": "C"}
    for line in case.get("env", "").splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k.strip()] = _subst(v.strip(), server.port)
    wrapper = shlex.split(os.environ.get("SMTPSEND_WRAPPER", ""))
    argv = wrapper + [binary] + shlex.split(_subst(case["argv"].strip(),
                                                   server.port))
    stdin = case.get("stdin", "").encode("utf-8")
    if case.get("padding", "").strip():
        stdin += (b"x" * 76 + b"\n") * int(case["padding"].strip())
    server.start()
    start = time.monotonic()
    try:
        p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=timeout)
        res.returncode, res.stdout, res.stderr = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        res.errors.append("smtpsend still running after %ss" % timeout)
        res.stdout, res.stderr = e.stdout or b"", e.stderr or b""
    server.client_end = time.monotonic()
    server.client_done.set()
    res.elapsed = server.client_end - start
    server.join(HANG_LIMIT + 5)
    res.errors += server.errors
    res.transcript = server.transcript
    _check(case, res, server)
    return res


def _check(case, res, server):
    want = int(case["exit"].strip())
    if res.returncode != want:
        res.errors.append("exit code %s, wanted %d" % (res.returncode, want))
    err = res.stderr.decode("utf-8", "replace")
    pat = case.get("stderr", "").strip()
    if pat and not re.search(pat, err, re.S):
        res.errors.append("stderr does not match /%s/" % pat)
    pat = case.get("stdout", "").strip()
    if pat and not re.search(pat, res.stdout.decode("utf-8", "replace"), re.S):
        res.errors.append("stdout does not match /%s/" % pat)
    pat = case.get("body", "").strip()
    if pat:
        bodies = [b.decode("utf-8", "replace") for b in server.bodies]
        if not bodies or not re.search(pat, bodies[-1], re.S | re.M):
            res.errors.append("received body does not match /%s/" % pat)


def main(args):
    binary = os.environ.get("SMTPSEND", "build/smtpsend")
    if args[:1] == ["--binary"]:
        binary, args = args[1], args[2:]
    failed = 0
    for path in args:
        res = run_case(path, os.path.abspath(binary))
        print(res.report())
        failed += bool(res.errors)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
