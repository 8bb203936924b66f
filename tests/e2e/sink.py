"""A tiny capturing SMTP server for byte-exact wire assertions.

Postfix's Maildir copy is not what the client sent (LF line ends, dots
unstuffed, long lines split), so tests that must see the exact octets
after DATA or BDAT talk to this server instead.  It listens on a free
loopback port, answers like a permissive MTA, offers the EHLO extensions
it is given, and records:

  - session.raw: every byte the client sent, in order;
  - session.commands: each command line (without CRLF) outside data;
  - session.txns: one Txn per MAIL FROM, with the RCPT arguments, whether
    each was accepted, the data exactly as received (DATA: dot-stuffed
    wire bytes without the final ".\\r\\n"; BDAT: the chunks joined), and
    whether the end of data arrived (complete) and was accepted.

The DATA terminator is the strict "\\r\\n.\\r\\n" (or ".\\r\\n" right after
354): whatever follows it is read as commands, so a client that lets
input end the data early shows up as extra commands or transactions.

No TLS, no AUTH: this is for the cleartext core of the protocol.
"""

import os
import re
import socket
import threading
import time


class Txn:
    def __init__(self, mail):
        self.mail = mail          # argument of MAIL FROM: as sent
        self.rcpts = []           # (argument of RCPT TO:, accepted)
        self.mode = None          # "DATA" or "BDAT"
        self.data = b""
        self.complete = False     # end of data received
        self.accepted = False     # 250 sent for the end of data

    @property
    def accepted_rcpts(self):
        return [r for r, ok in self.rcpts if ok]

    def mail_addr(self):
        return _path(self.mail)

    def rcpt_addrs(self):
        return [_path(r) for r, ok in self.rcpts if ok]

    def unstuffed(self):
        """The data with SMTP dot-stuffing removed (DATA only)."""
        if self.mode != "DATA":
            return self.data
        lines = self.data.split(b"\r\n")
        return b"\r\n".join(ln[1:] if ln.startswith(b".") else ln
                            for ln in lines)


def _path(arg):
    """'FROM:<a@b> SIZE=1' -> 'a@b'."""
    s = arg.split(b":", 1)[1].strip() if b":" in arg else arg
    if s.startswith(b"<"):
        s = s[1:s.index(b">")]
    else:
        s = s.split()[0]
    return s.decode("utf-8", "replace")


class Session:
    def __init__(self):
        self.raw = bytearray()
        self.commands = []
        self.txns = []
        self.closed = False
        self.quit = False


class Sink:
    """Start with .start(); .port; .stop().  Usable as a context manager."""

    def __init__(self, extensions=("PIPELINING", "8BITMIME", "SIZE 0",
                                   "ENHANCEDSTATUSCODES"),
                 refuse=(), tempfail=(), data_reply=None, timeout=30):
        self.extensions = list(extensions)
        self.refuse = {a.lower() for a in refuse}
        self.tempfail = {a.lower() for a in tempfail}
        self.data_reply = data_reply
        self.timeout = timeout
        self.sessions = []
        self._lock = threading.Lock()
        self._sock = None
        self._thread = None
        self._stop = False
        self.port = None

    # -- lifecycle ------------------------------------------------------
    def start(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop,
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop = True
        if self._thread:
            self._thread.join(5)
        if self._sock:
            self._sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def config(self, extra=""):
        """An smtpsend/msmtp account for this sink, tls off."""
        return ("account default\nhost 127.0.0.1\nport %d\ntls off\n"
                "from sender@example.org\n%s" % (self.port, extra))

    def wait_sessions(self, n=1, timeout=10):
        """Wait until n sessions have closed; return all sessions."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                done = [s for s in self.sessions if s.closed]
                if len(done) >= n:
                    return list(self.sessions)
            time.sleep(0.02)
        raise TimeoutError("sink: %d closed sessions expected, have %d"
                           % (n, len([s for s in self.sessions
                                      if s.closed])))

    def accepted(self):
        """Every transaction whose data was accepted, oldest first."""
        return [t for s in self.sessions for t in s.txns if t.accepted]

    # -- server ---------------------------------------------------------
    def _accept_loop(self):
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sess = Session()
            with self._lock:
                self.sessions.append(sess)
            threading.Thread(target=self._serve, args=(conn, sess),
                             daemon=True).start()

    def _serve(self, conn, sess):
        conn.settimeout(self.timeout)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            _Conversation(self, conn, sess).run()
        except (OSError, socket.timeout, ConnectionError):
            pass
        finally:
            conn.close()
            sess.closed = True


class _Conversation:
    def __init__(self, sink, conn, sess):
        self.sink = sink
        self.conn = conn
        self.sess = sess
        self.buf = bytearray()
        self.txn = None

    def recv(self):
        d = self.conn.recv(65536)
        if not d:
            raise ConnectionError("closed")
        self.sess.raw += d
        self.buf += d

    def line(self):
        while b"\n" not in self.buf:
            if len(self.buf) > 100000:
                raise ConnectionError("line too long")
            self.recv()
        i = self.buf.index(b"\n")
        ln = bytes(self.buf[:i])
        del self.buf[:i + 1]
        return ln[:-1] if ln.endswith(b"\r") else ln

    def exact(self, n):
        while len(self.buf) < n:
            self.recv()
        d = bytes(self.buf[:n])
        del self.buf[:n]
        return d

    def data_until_dot(self):
        # Data starts right after the 354; it ends at CRLF.CRLF (or at
        # ".\r\n" when it is the first line).  Only new bytes are
        # searched, so a 100 MB message costs linear time.
        start = 0
        while True:
            if self.buf.startswith(b".\r\n"):
                del self.buf[:3]
                return b""
            i = self.buf.find(b"\r\n.\r\n", start)
            if i >= 0:
                d = bytes(self.buf[:i + 2])
                del self.buf[:i + 5]
                return d
            start = max(0, len(self.buf) - 4)
            self.recv()

    def say(self, text):
        self.conn.sendall(text.encode() + b"\r\n")

    def run(self):
        self.say("220 sink.test ESMTP ready")
        while True:
            ln = self.line()
            self.sess.commands.append(ln)
            verb = ln.split(b" ", 1)[0].split(b":", 1)[0].upper()
            h = getattr(self, "do_" + verb.decode("ascii", "replace"), None)
            if h is None:
                self.say("502 5.5.2 unknown command")
                continue
            if h(ln) == "quit":
                return

    def do_EHLO(self, ln):
        exts = self.sink.extensions
        lines = ["sink.test"] + exts
        for i, x in enumerate(lines):
            self.say("250%s%s" % ("-" if i < len(lines) - 1 else " ", x))

    def do_HELO(self, ln):
        self.say("250 sink.test")

    def do_MAIL(self, ln):
        self.txn = Txn(ln[5:] if len(ln) > 5 else b"")
        self.sess.txns.append(self.txn)
        self.say("250 2.1.0 Ok")

    def do_RCPT(self, ln):
        if self.txn is None:
            self.say("503 5.5.1 need MAIL")
            return
        arg = ln[5:]
        addr = _path(arg).lower()
        if addr in self.sink.refuse:
            self.txn.rcpts.append((arg, False))
            self.say("550 5.1.1 <%s>: Recipient address rejected" % addr)
        elif addr in self.sink.tempfail:
            self.txn.rcpts.append((arg, False))
            self.say("450 4.2.0 <%s>: try later" % addr)
        else:
            self.txn.rcpts.append((arg, True))
            self.say("250 2.1.5 Ok")

    def _end(self):
        self.txn.complete = True
        rep = self.sink.data_reply
        if rep:
            self.say(rep)
        else:
            self.txn.accepted = True
            self.say("250 2.0.0 Ok: queued as SINK%d"
                     % len(self.sink.accepted()))
        self.txn = None

    def do_DATA(self, ln):
        if self.txn is None or not self.txn.accepted_rcpts:
            self.say("554 5.5.1 no valid recipients")
            return
        self.txn.mode = "DATA"
        self.say("354 End data with <CR><LF>.<CR><LF>")
        self.txn.data = self.data_until_dot()
        self._end()

    def do_BDAT(self, ln):
        parts = ln.split()
        n = int(parts[1])
        last = len(parts) > 2 and parts[2].upper() == b"LAST"
        chunk = self.exact(n)
        if self.txn is None or not self.txn.accepted_rcpts:
            self.say("554 5.5.1 no valid recipients")
            return
        self.txn.mode = "BDAT"
        self.txn.data += chunk
        if last:
            self._end()
        else:
            self.say("250 2.0.0 %d octets received" % n)

    def do_RSET(self, ln):
        self.txn = None
        self.say("250 2.0.0 Ok")

    def do_NOOP(self, ln):
        self.say("250 2.0.0 Ok")

    def do_QUIT(self, ln):
        self.sess.quit = True
        self.say("221 2.0.0 Bye")
        return "quit"


def wire_problems(data):
    """Rules the wire must obey, as a list of what is wrong (empty: ok).

    data is what came after DATA (dot-stuffed) or BDAT: every line end is
    CRLF, no bare CR or LF, no NUL, no line over 998 octets, ends with CRLF.
    """
    bad = []
    if b"\0" in data:
        bad.append("NUL byte")
    if data and not data.endswith(b"\r\n"):
        bad.append("no final CRLF")
    body = data.replace(b"\r\n", b"")
    if b"\r" in body:
        bad.append("bare CR")
    if b"\n" in body:
        bad.append("bare LF")
    longest = max((len(x) for x in data.split(b"\r\n")), default=0)
    if longest > 998:
        bad.append("line of %d octets" % longest)
    return bad


# ------------------------------------------------------------ test helpers
# Shared by test_core.py and test_callers.py.

def normalize(body):
    """What the wire rules make of input text, before dot-stuffing: every
    line end (LF, CR, CRLF) becomes CRLF, NUL bytes go, a final CRLF is
    added.  Lines are not broken here (see flat())."""
    b = body.replace(b"\0", b"")
    b = b.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    if b and not b.endswith(b"\n"):
        b += b"\n"
    return b.replace(b"\n", b"\r\n")


def dotstuff(data):
    """SMTP dot-stuffing of CRLF text."""
    return b"\r\n".join(b"." + ln if ln.startswith(b".") else ln
                        for ln in data.split(b"\r\n"))


def flat(b):
    """Content with line breaks and folding whitespace removed: equal for
    a long line and the same line broken into several."""
    return b.replace(b"\r", b"").replace(b"\n", b"").replace(b" ", b"") \
        .replace(b"\t", b"")


def split_wire(data):
    """(header block, body) of CRLF wire data."""
    i = data.find(b"\r\n\r\n")
    assert i >= 0, "no empty line between header and body: %r" % data[:300]
    return data[:i + 2], data[i + 4:]


def header_fields(block, eol=b"\r\n"):
    """[(lower-case name, value unfolded and stripped)] of a header block."""
    out = []
    for ln in block.split(eol):
        if not ln:
            continue
        if ln[:1] in (b" ", b"\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + ln)
        else:
            name, _, val = ln.partition(b":")
            out.append((name.strip().lower().decode("ascii", "replace"),
                        val))
    return [(n, v.strip()) for n, v in out]


class Delivered:
    """One message as Postfix's virtual(8) wrote it into the Maildir."""

    def __init__(self, raw):
        self.raw = raw
        i = raw.find(b"\n\n")
        head, self.body = (raw[:i + 1], raw[i + 2:]) if i >= 0 else (raw, b"")
        self.fields = header_fields(head, b"\n")

    def get(self, name):
        return [v for n, v in self.fields if n == name.lower()]

    def one(self, name):
        v = self.get(name)
        assert len(v) == 1, "%s: %d fields (%r)" % (name, len(v), v)
        return v[0].decode("utf-8", "replace")

    @property
    def rcpt(self):
        return self.one("X-Original-To")

    @property
    def sender(self):
        return self.one("Return-Path").strip("<>")


def delivered(postfix, token, n, timeout=30, settle=0.0):
    """Wait until n delivered messages contain token; return them as
    Delivered, ordered by recipient.  settle: then wait that long more and
    check that no further copy arrives."""
    if isinstance(token, str):
        token = token.encode()
    deadline = time.monotonic() + timeout
    while True:
        got = [m for m in postfix.messages() if token in m]
        if len(got) >= n or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    if settle:
        time.sleep(settle)
        got = [m for m in postfix.messages() if token in m]
    assert len(got) == n, "%d message(s) with %r delivered, %d expected" \
        "; maillog tail:\n%s" % (len(got), token, n,
                                 postfix.log()[-3000:])
    out = [Delivered(m) for m in got]
    return sorted(out, key=lambda d: d.rcpt)


def lf(body):
    """The Maildir form of wire-normalized text: LF line ends."""
    return normalize(body).replace(b"\r\n", b"\n")


class Caller:
    """Runs the binary the way a real program does: with an argv[0] of its
    choice (a symlink named so), through `sh -c` like git's sendmailcmd,
    with the environment the caller gives (env replaces os.environ when
    clean_env).  The config goes first as -C FILE, so `--` and the caller's
    own arguments keep their meaning."""

    def __init__(self, runner, tmpdir):
        self.runner = runner
        self.dir = str(tmpdir)

    def argv0_path(self, name):
        d = os.path.join(self.dir, "bin-" + name)
        p = os.path.join(d, name)
        if not os.path.exists(p):
            os.makedirs(d, exist_ok=True)
            os.symlink(os.path.abspath(self.runner.command()[-1]), p)
        return p

    def __call__(self, args, input=b"", config=None, argv0=None, sh=False,
                 env=None, clean_env=False, timeout=60):
        import shlex
        import subprocess
        cmd = self.runner.command()
        if argv0:
            cmd[-1] = self.argv0_path(argv0)
        if config is not None:
            cmd += ["-C", self.runner.config_file(config)]
        if sh:
            # git: sh -c '<sendmailcmd> "$@"' '<sendmailcmd>' -i rcpt...
            line = " ".join(shlex.quote(c) for c in cmd)
            cmd = ["/bin/sh", "-c", line + ' "$@"', line] + list(args)
        else:
            cmd += list(args)
        if clean_env:
            full = dict(env or {})
        else:
            full = dict(os.environ)
            full["HOME"] = self.runner.home
            full.update(env or {})
        self.runner.queue_env(full)
        if isinstance(input, str):
            input = input.encode()
        if os.environ.get("SMTPSEND_WRAPPER"):
            timeout *= 4
        return subprocess.run(cmd, input=input, env=full, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)


class HideChunking:
    """A cleartext TCP proxy to a real server that renames CHUNKING in its
    EHLO reply (to X-NOCHUNKING), so the client has to use DATA with
    dot-stuffing: Postfix offers CHUNKING and would otherwise always get
    BDAT.  Everything else passes unchanged."""

    def __init__(self, port, host="127.0.0.1"):
        self.upstream = (host, port)
        self._sock = None
        self._stop = False
        self.port = None

    def start(self):
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop = True
        self._thread.join(5)
        self._sock.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _loop(self):
        while not self._stop:
            try:
                c, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                s = socket.create_connection(self.upstream, timeout=10)
            except OSError:
                c.close()
                continue
            for x in (c, s):
                x.settimeout(60)
                x.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self._pipe, args=(c, s, False),
                             daemon=True).start()
            threading.Thread(target=self._pipe, args=(s, c, True),
                             daemon=True).start()

    @staticmethod
    def _pipe(src, dst, rewrite):
        buf = b""
        try:
            while True:
                d = src.recv(65536)
                if not d:
                    break
                if not rewrite:
                    dst.sendall(d)
                    continue
                buf += d
                i = buf.rfind(b"\n") + 1
                out, buf = buf[:i], buf[i:]
                out = re.sub(rb"(?mi)^250([- ])CHUNKING\r$",
                             rb"250\1X-NOCHUNKING\r", out)
                dst.sendall(out)
        except OSError:
            pass
        finally:
            for x in (src, dst):
                try:
                    x.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
