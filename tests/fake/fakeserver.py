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
import shlex
import socket
import subprocess
import sys
import tempfile
import threading
import time

READ_TIMEOUT = float(os.environ.get("FAKE_READ_TIMEOUT", "10"))
HANG_LIMIT = 30.0
SECTIONS = ("description", "argv", "config", "stdin", "server", "exit",
            "stderr", "stdout", "body", "env")


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
        word = line.split()
        if word[0] in ("BODY", "CHUNK", "HANG", "CLOSE", "ACCEPT", "EOF"):
            steps.append((word[0], None))
        elif word[0] == "SLEEP" and len(word) == 2:
            steps.append(("SLEEP", float(word[1])))
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
            self._note("==", "hanging")
            extra = self._eof(HANG_LIMIT, "it should time out")
            for line in extra.split(b"\r\n"):
                if line:
                    self._note("C:", line.decode("utf-8", "replace"))
            self.buf, self.ids = b"", []
            self._close()
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
                if self.conn is None and op not in ("ACCEPT", "SLEEP"):
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
           "LANG": "C"}
    for line in case.get("env", "").splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k.strip()] = _subst(v.strip(), server.port)
    wrapper = shlex.split(os.environ.get("SMTPSEND_WRAPPER", ""))
    argv = wrapper + [binary] + shlex.split(_subst(case["argv"].strip(),
                                                   server.port))
    stdin = case.get("stdin", "").encode("utf-8")
    server.start()
    start = time.monotonic()
    try:
        p = subprocess.run(argv, input=stdin, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=env, timeout=timeout)
        res.returncode, res.stdout, res.stderr = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired as e:
        res.errors.append("smtpsend still running after %ss" % timeout)
        res.stdout, res.stderr = e.stdout or b"", e.stderr or b""
    res.elapsed = time.monotonic() - start
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
