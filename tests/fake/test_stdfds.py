"""Closed standard descriptors, against the scripted server (which checks
every byte the client sends):

- `smtpsend x@y <&-` must not take its spool file for the message: a
  closed stdin is an empty input, which is refused (65) with nothing sent,
  exactly like `smtpsend x@y </dev/null`;
- `smtpsend -v x@y <msg >&- 2>&-` must not take the server's socket for
  stderr: the -v transcript never reaches the SMTP stream, and the message
  is delivered exactly as with open descriptors.

$SMTPSEND is the binary (default build/smtpsend); $SMTPSEND_WRAPPER words
are put before it, as in test_fake.py, except when stderr is closed.
"""

import os
import shlex
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import fakeserver  # noqa: E402

BINARY = os.environ.get("SMTPSEND", os.path.join(ROOT, "build", "smtpsend"))

CONFIG = """account default
host 127.0.0.1
port %d
tls off
domain client.example
timeout 3
from sender@example.org
"""

MESSAGE = b"Subject: fds\n\nfirst line\nsecond line\n"

# The whole dialogue of a good send: any extra line (a "--> EHLO" of the
# transcript written into the socket) is a failure.
SEND = """
S: 220 fake.example ESMTP
C: EHLO client.example
S: 250-fake.example
S: 250-PIPELINING
S: 250 SIZE 1000000
C~ MAIL FROM:<sender@example\\.org> SIZE=\\d+
P: RCPT TO:<rcpt@example.com>
P: DATA
S: 250 Ok
S: 250 Ok
S: 354 go
BODY
P: QUIT
S: 250 Ok
S: 221 Bye
"""



class Listener:
    """A bare listening socket for cases where no connection may be made:
    after the run, connected() says whether a client connected."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]

    def start(self):
        pass

    def join(self, timeout):
        pass

    def connected(self):
        self.sock.setblocking(False)
        try:
            conn, _ = self.sock.accept()
        except BlockingIOError:
            return False
        finally:
            self.sock.close()
        conn.close()
        return True


def run(script, args, close, stdin=b""):
    """Run smtpsend against script (None: a bare Listener) with the fds in
    close closed; returns (exit status, server, stderr bytes or None when
    fd 2 was closed)."""
    if not os.access(BINARY, os.X_OK):
        pytest.skip("no smtpsend binary at %s (set SMTPSEND)" % BINARY)
    if script is None:
        server = Listener()
    else:
        server = fakeserver.Server(fakeserver.parse_script(script))
    tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"),
                       "stdfds-%d-%d" % (os.getpid(), time.monotonic_ns()))
    home = os.path.join(tmp, "home")
    os.makedirs(home)
    rc_path = os.path.join(home, ".smtprc")
    fd = os.open(rc_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(CONFIG % server.port)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home,
           "TMPDIR": tmp, "XDG_CACHE_HOME": os.path.join(tmp, "cache"),
           "LANG": "C"}
    # valgrind cannot start with a closed stderr (it exits 127 before the
    # program runs): those cases run the bare binary.
    wrapper = [] if 2 in close else \
        shlex.split(os.environ.get("SMTPSEND_WRAPPER", ""))
    argv = wrapper + [BINARY, "-C", rc_path] + args

    def closer():
        for n in close:
            os.close(n)

    # stdin: a pipe with the message, or (closed) /dev/null then closed.
    server.start()
    p = subprocess.Popen(argv, env=env, preexec_fn=closer,
                         stdin=subprocess.DEVNULL if 0 in close
                         else subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = p.communicate(None if 0 in close else stdin, timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    server.join(fakeserver.HANG_LIMIT + 5)
    return p.returncode, server, None if 2 in close else err


def test_closed_stdin_sends_nothing():
    rc, server, err = run(None, ["rcpt@example.com"], close=[0])
    assert rc == 65, err
    assert b"the message is empty" in err
    assert not server.connected()


def test_empty_stdin_same_as_closed():
    rc, server, err = run(None, ["rcpt@example.com"], close=[], stdin=b"")
    assert rc == 65, err
    assert b"the message is empty" in err
    assert not server.connected()


def test_closed_stdout_stderr_verbose():
    rc, server, _ = run(SEND, ["-v", "rcpt@example.com"], close=[1, 2],
                        stdin=MESSAGE)
    assert not server.errors, "\n".join(server.errors + server.transcript)
    assert rc == 0
    assert len(server.bodies) == 1
    body = server.bodies[0]
    assert b"\r\nSubject: fds\r\n" in b"\r\n" + body
    assert body.endswith(b"\r\n\r\nfirst line\r\nsecond line\r\n")
    # Nothing of the transcript anywhere in what the server received.
    assert not any("-->" in t or "<--" in t for t in server.transcript), \
        server.transcript


def test_closed_stderr_error_not_sent():
    # A refused recipient: the error message must not be written to the
    # socket either (the script ends at QUIT; anything after fails).
    script = """
S: 220 fake.example ESMTP
C: EHLO client.example
S: 250-fake.example
S: 250-PIPELINING
S: 250 SIZE 1000000
C~ MAIL FROM:<sender@example\\.org> SIZE=\\d+
P: RCPT TO:<rcpt@example.com>
P: DATA
S: 250 Ok
S: 550 5.1.1 no such user
S: 554 no valid recipients
C: QUIT
S: 221 Bye
"""
    rc, server, _ = run(script, ["-v", "rcpt@example.com"], close=[2],
                        stdin=MESSAGE)
    assert not server.errors, "\n".join(server.errors + server.transcript)
    assert rc == 67
    assert server.bodies == []
