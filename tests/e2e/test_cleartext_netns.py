"""Credentials never cross an unencrypted link to a remote server.

The server must be on a non-loopback address, so the test builds two
network namespaces joined by a veth pair (10.200.0.1 <-> 10.200.0.2), runs
a tiny scripted SMTP server offering AUTH without STARTTLS in one, and
smtpsend in the other (ip netns exec).  The server records every line it
receives; the test checks that no AUTH command (and no trace of the
password) ever reached it.  Namespaces and server are removed afterwards.
"""

import base64
import os
import select
import shutil
import subprocess
import tempfile
import time
import uuid

import pytest

import servers

SRV_ADDR = "10.200.0.1"
CLI_ADDR = "10.200.0.2"
PORT = 2525
PASSWORD = "S3cr3t-Pa55"

SERVER = r'''
import socket, sys
addr, port, log, offer = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(5)
print("ready", flush=True)
while True:
    c, _ = s.accept()
    c.settimeout(30)
    f = c.makefile("rb")
    out = open(log, "ab")
    def say(t):
        c.sendall(t.encode() + b"\r\n")
    say("220 remote.test ESMTP scripted")
    data = False
    while True:
        line = f.readline()
        if not line:
            break
        out.write(line)
        out.flush()
        cmd = line.strip().upper()
        if data:
            if line.rstrip(b"\r\n") == b".":
                data = False
                say("250 2.0.0 queued")
            continue
        if cmd.startswith(b"EHLO"):
            say("250-remote.test")
            say("250-AUTH " + offer)
            say("250 8BITMIME")
        elif cmd.startswith(b"AUTH"):
            say("535 5.7.8 no")
        elif cmd.startswith(b"MAIL") or cmd.startswith(b"RCPT"):
            say("250 2.1.0 ok")
        elif cmd == b"DATA":
            data = True
            say("354 go ahead")
        elif cmd == b"QUIT":
            say("221 bye")
            break
        else:
            say("502 5.5.2 what")
    c.close()
    out.close()
'''


def _ip(*args):
    return subprocess.run(["ip"] + list(args), timeout=20,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _have_netns():
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    name = "smtpsend-probe-%d" % os.getpid()
    ok = _ip("netns", "add", name).returncode == 0
    if ok:
        _ip("netns", "del", name)
    return ok


pytestmark = pytest.mark.skipif(not _have_netns(),
                                reason="needs root and ip netns")


class Net:
    def __init__(self, offer):
        tag = uuid.uuid4().hex[:6]
        self.srv = "ss-srv-" + tag
        self.cli = "ss-cli-" + tag
        self.dir = tempfile.mkdtemp(prefix="smtpsend-netns-")
        self.log = os.path.join(self.dir, "received")
        self.proc = None
        try:
            self._setup(tag, offer)
        except Exception:
            self.close()
            raise

    def _must(self, *args):
        r = _ip(*args)
        assert r.returncode == 0, (args, r.stderr)

    def _setup(self, tag, offer):
        va, vb = "ssa" + tag, "ssb" + tag
        self._must("netns", "add", self.srv)
        self._must("netns", "add", self.cli)
        self._must("link", "add", va, "type", "veth", "peer", "name", vb)
        self._must("link", "set", va, "netns", self.srv)
        self._must("link", "set", vb, "netns", self.cli)
        self._must("-n", self.srv, "addr", "add", SRV_ADDR + "/24", "dev",
                   va)
        self._must("-n", self.cli, "addr", "add", CLI_ADDR + "/24", "dev",
                   vb)
        for ns, dev in ((self.srv, va), (self.cli, vb)):
            self._must("-n", ns, "link", "set", dev, "up")
            self._must("-n", ns, "link", "set", "lo", "up")
        script = os.path.join(self.dir, "server.py")
        with open(script, "w") as f:
            f.write(SERVER)
        open(self.log, "wb").close()
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.srv, "/usr/bin/python3", script,
             SRV_ADDR, str(PORT), self.log, offer],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if r and b"ready" in self.proc.stdout.readline():
                return
            if self.proc.poll() is not None:
                break
        raise RuntimeError("scripted server did not start: %r"
                           % self.proc.stderr.read())

    def received(self):
        with open(self.log, "rb") as f:
            return f.read()

    def run(self, run, cfg, timeout=60):
        cmd = ["ip", "netns", "exec", self.cli] + run.command() + \
            ["-C", run.config_file(cfg), "-v", "bob@example.org"]
        msg = b"From: alice@example.org\nSubject: netns\n\nbody\n"
        return subprocess.run(cmd, input=msg, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              start_new_session=True)

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            servers.kill_pid(self.proc.pid)
            self.proc.wait(timeout=10)
        if self.proc is not None:
            self.proc.stdout.close()
            self.proc.stderr.close()
        for ns in (self.srv, self.cli):
            _ip("netns", "del", ns)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def net_plain():
    n = Net("PLAIN LOGIN")
    yield n
    n.close()
    assert n.srv not in _ip("netns", "list").stdout.decode()


@pytest.fixture
def net_scram():
    n = Net("PLAIN LOGIN SCRAM-SHA-256")
    yield n
    n.close()


def config(extra):
    return ("account default\nhost %s\nport %d\ntls off\n"
            "from alice@example.org\ntimeout 15\n%s" % (SRV_ADDR, PORT, extra))


def no_trace(received):
    assert b"AUTH" not in received.upper(), received
    assert PASSWORD.encode() not in received
    enc = base64.b64encode(b"\0alice\0" + PASSWORD.encode())
    assert enc not in received
    assert base64.b64encode(PASSWORD.encode()) not in received


def test_network_works_without_auth(net_plain, run):
    # Control: the link itself works, so a refusal below is smtpsend's.
    p = net_plain.run(run, config(""))
    assert p.returncode == 0, p.stderr.decode()
    assert b"MAIL FROM:<alice@example.org>" in net_plain.received()


@pytest.mark.parametrize("auth", ["plain", "login", "on"])
def test_refuses_cleartext_credentials(net_plain, run, auth):
    p = net_plain.run(run, config("user alice\npassword %s\nauth %s\n"
                                  % (PASSWORD, auth)))
    assert p.returncode == 69, p.stderr.decode()
    err = p.stderr.decode()
    assert "unencrypted" in err
    assert "hint:" in err and "TLS" in err
    got = net_plain.received()
    assert b"EHLO" in got             # it did talk to the server...
    no_trace(got)                      # ...but sent no credentials
    assert b"MAIL FROM" not in got


def test_scram_allowed_in_clear(net_scram, run):
    # SCRAM reveals no password: "auth on" may use it without TLS.  The
    # scripted server refuses it, so the exit is 77, not 69.
    p = net_scram.run(run, config("user alice\npassword %s\nauth on\n"
                                  % PASSWORD))
    assert p.returncode == 77, p.stderr.decode()
    got = net_scram.received()
    assert b"AUTH SCRAM-SHA-256 " in got
    assert PASSWORD.encode() not in got
