"""Connecting: the connect timeout, RFC 8305 racing of addresses, and
msmtp's source_ip, proxy_host/proxy_port (SOCKS5) and socket keywords.

- A loopback listener whose backlog is full drops SYNs: connect hangs and
  must end at `timeout` (exit 75, the address named).
- In a network namespace the test creates, where SYNs to ::1 on the
  server's port are dropped (ip6tables) and `localhost` resolves to ::1
  then 127.0.0.1 (a hosts file bind-mounted in a mount namespace), a send
  must finish in about a second, not after the timeout.
- source_ip 127.0.0.2: Postfix sees that client address.
- proxy_host: a SOCKS5 proxy written for the test (servers.Socks5Proxy)
  records the CONNECT request (the host name, for the proxy to resolve)
  and relays to the real Postfix; its refusals map to exit codes.
- socket: Postfix's smtpd on a Unix socket (master.cf "unix" service).
"""

import os
import select
import shutil
import socket
import subprocess
import tempfile
import time
import uuid

import pytest

import servers
import sink as S
from test_cleartext_netns import SERVER, _ip

FROM = "sender@example.org"
MSG = b"From: sender@example.org\nSubject: connect %s\n\nbody\n"


def _tok():
    return "c" + uuid.uuid4().hex[:12]


def _msg(tok):
    return MSG % tok.encode()


# ------------------------------------------------- the connect timeout

def _full_listener():
    """A listener that accepts nothing, with its queue filled so that the
    next SYN is dropped.  Returns (listener, fillers, port)."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(0)
    port = ls.getsockname()[1]
    fillers = []
    for _ in range(16):
        s = socket.socket()
        s.setblocking(False)
        fillers.append(s)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        _, w, _ = select.select([], [s], [], 0.3)
        if not w:
            return ls, fillers, port
    raise AssertionError("the listen queue never filled")


def test_connect_bounded_by_timeout(run):
    ls, fillers, port = _full_listener()
    try:
        t0 = time.monotonic()
        p = run(["bob@example.org"], input=_msg("t"), timeout=60,
                config="account default\nhost 127.0.0.1\nport %d\n"
                "tls off\nfrom %s\ntimeout 2\nqueue off\n" % (port, FROM))
        took = time.monotonic() - t0
    finally:
        for s in fillers:
            s.close()
        ls.close()
    err = p.stderr.decode()
    assert p.returncode == 75, err
    assert "127.0.0.1:%d" % port in err
    assert "timed out after 2 s" in err
    assert 1.8 <= took < 12, took


# ----------------------------------------------- RFC 8305 in a netns

HOSTS = "::1 localhost\n127.0.0.1 localhost\n"
NS_PORT = 2525


class DeadV6:
    """A namespace with loopback up, SYNs to [::1]:NS_PORT dropped (and to
    127.0.0.1 too when both_dead), a scripted SMTP server on
    127.0.0.1:NS_PORT, and a hosts file naming ::1 first."""

    def __init__(self, both_dead=False):
        self.ns = "ss-he-%d-%s" % (os.getpid(), uuid.uuid4().hex[:6])
        self.dir = tempfile.mkdtemp(prefix="smtpsend-he-")
        self.log = os.path.join(self.dir, "received")
        self.hosts = os.path.join(self.dir, "hosts")
        self.proc = None
        try:
            self._setup(both_dead)
        except Exception:
            self.close()
            raise

    def _must(self, args):
        r = subprocess.run(args, timeout=20, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        assert r.returncode == 0, (args, r.stderr)

    def _setup(self, both_dead):
        assert shutil.which("ip6tables"), "ip6tables (package iptables)"
        self._must(["ip", "netns", "add", self.ns])
        self._must(["ip", "-n", self.ns, "link", "set", "lo", "up"])
        ex = ["ip", "netns", "exec", self.ns]
        self._must(ex + ["ip6tables", "-A", "OUTPUT", "-d", "::1", "-p",
                         "tcp", "--dport", str(NS_PORT), "-j", "DROP"])
        if both_dead:
            self._must(ex + ["iptables", "-A", "OUTPUT", "-d", "127.0.0.1",
                             "-p", "tcp", "--dport", str(NS_PORT), "-j",
                             "DROP"])
        with open(self.hosts, "w") as f:
            f.write(HOSTS)
        script = os.path.join(self.dir, "server.py")
        with open(script, "w") as f:
            f.write(SERVER)
        open(self.log, "wb").close()
        self.proc = subprocess.Popen(
            ex + ["/usr/bin/python3", script, "127.0.0.1", str(NS_PORT),
                  self.log, "PLAIN"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        r, _, _ = select.select([self.proc.stdout], [], [], 15)
        if not r or b"ready" not in self.proc.stdout.readline():
            raise RuntimeError("server did not start: %r"
                               % self.proc.stderr.read())

    def run(self, run, cfg, timeout=60):
        # A private mount namespace inside the netns: /etc/hosts is ours.
        inner = "mount --bind %s /etc/hosts && exec \"$@\"" % self.hosts
        cmd = ["ip", "netns", "exec", self.ns, "unshare", "--mount", "sh",
               "-c", inner, "sh"] + run.command() + \
            ["-C", run.config_file(cfg), "-v", "bob@example.org"]
        env = dict(os.environ, HOME=run.home)
        t0 = time.monotonic()
        p = subprocess.run(cmd, input=_msg("he"), timeout=timeout, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           start_new_session=True)
        return p, time.monotonic() - t0

    def received(self):
        with open(self.log, "rb") as f:
            return f.read()

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                servers.kill_pid(self.proc.pid)
                self.proc.wait(timeout=10)
            self.proc.stdout.close()
            self.proc.stderr.close()
        _ip("netns", "del", self.ns)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def dead_v6():
    n = DeadV6()
    yield n
    n.close()
    assert n.ns not in _ip("netns", "list").stdout.decode()


@pytest.fixture
def all_dead():
    n = DeadV6(both_dead=True)
    yield n
    n.close()


def he_config(timeout):
    return ("account default\nhost localhost\nport %d\ntls off\n"
            "from %s\ntimeout %d\n" % (NS_PORT, FROM, timeout))


def test_dead_ipv6_costs_no_timeout(dead_v6, run):
    p, took = dead_v6.run(run, he_config(20), timeout=90)
    err = p.stderr.decode()
    assert p.returncode == 0, err
    # About 250 ms for the dead address, never the 20 s timeout.
    assert took < 8, took
    # ::1 was tried first (getaddrinfo's order) and 127.0.0.1 won.
    assert err.index("--- trying ::1") < err.index("--- trying 127.0.0.1")
    assert "--- connected to 127.0.0.1" in err
    assert b"MAIL FROM:<sender@example.org>" in dead_v6.received()


def test_every_address_named(all_dead, run):
    p, took = all_dead.run(run, he_config(3) + "queue off\n", timeout=90)
    err = p.stderr.decode()
    assert p.returncode == 75, err
    line = [x for x in err.splitlines() if "cannot connect" in x][0]
    assert "localhost:%d" % NS_PORT in line
    assert "[::1]: timed out after 3 s" in line
    assert "127.0.0.1: timed out after 3 s" in line
    # The whole phase is bounded by timeout, not timeout per address.
    assert 2.5 <= took < 5.8, took
    assert all_dead.received() == b""


# ----------------------------------------------------------- source_ip

def plain_config(postfix, extra="", listener="plain", host="127.0.0.1"):
    return ("account default\nhost %s\nport %d\ntls off\n"
            "from %s\n%s" % (host, postfix.port(listener), FROM, extra))


def test_source_ip(postfix, run):
    tok = _tok()
    p = run(["-v", "bob@example.org"], input=_msg(tok),
            config=plain_config(postfix, "source_ip 127.0.0.2\n"))
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert "from 127.0.0.2" in err
    [d] = S.delivered(postfix, tok, 1, settle=0.5)
    # Postfix's Received header names the client address it saw.
    received = d.raw[d.raw.index(b"Received:"):].split(b"\n\n")[0]
    assert b"[127.0.0.2]" in received, received
    assert b"[127.0.0.1]" not in received


def test_source_ip_not_local(postfix, run):
    # 192.0.2.1 (TEST-NET-1) is no address of this machine: bind fails.
    p = run(["bob@example.org"], input=_msg("x"),
            config=plain_config(postfix, "source_ip 192.0.2.1\nqueue off\n"))
    err = p.stderr.decode()
    assert p.returncode == 75, err
    assert "Cannot assign requested address" in err
    assert "source_ip must be an address of this machine" in err


# ------------------------------------------------------------- SOCKS5

def test_socks5_relays_with_name(postfix, run, certs):
    tok = _tok()
    with servers.Socks5Proxy() as proxy:
        p = run(["-v", "bob@example.org"], input=_msg(tok), config=(
            "account default\nhost localhost\nport %d\n"
            "tls_trust_file %s\nfrom %s\nproxy_host 127.0.0.1\n"
            "proxy_port %d\n" % (postfix.port("starttls"), certs.ca, FROM,
                                 proxy.port)))
        err = p.stderr.decode()
        assert p.returncode == 0, err
        assert len(proxy.requests) == 1
        req = proxy.requests[0]
    # No authentication offered; CONNECT with the name (ATYP 3), not an
    # address resolved here.
    assert req["version"] == 5 and req["methods"] == [0]
    assert req["cmd"] == 1 and req["atyp"] == 3
    assert req["host"] == "localhost"
    assert req["port"] == postfix.port("starttls")
    assert "through SOCKS5 proxy 127.0.0.1:%d" % proxy.port in err
    assert "SOCKS5 CONNECT localhost port" in err
    S.delivered(postfix, tok, 1, settle=0.5)


def test_socks5_serverinfo(postfix, run):
    with servers.Socks5Proxy() as proxy:
        p = run(["--serverinfo"], config=plain_config(
            postfix, "proxy_host 127.0.0.1\nproxy_port %d\n" % proxy.port))
    out = p.stdout.decode()
    assert p.returncode == 0, p.stderr
    assert "through SOCKS5 proxy 127.0.0.1 port %d" % proxy.port in out
    assert "220 localhost ESMTP Postfix" in out


def test_socks5_proxy_unreachable(postfix, run):
    port = servers.free_port()
    p = run(["bob@example.org"], input=_msg("x"), config=plain_config(
        postfix, "proxy_host 127.0.0.1\nproxy_port %d\nqueue off\n" % port))
    err = p.stderr.decode()
    assert p.returncode == 75, err
    assert "SOCKS proxy 127.0.0.1:%d" % port in err
    assert "refused" in err


@pytest.mark.parametrize("mode,code,text", [
    ("reply:4", 75, "host unreachable"),
    ("reply:5", 75, "connection refused"),
    ("reply:1", 75, "general SOCKS server failure"),
    ("reply:2", 69, "not allowed by ruleset"),
    ("reply:8", 69, "address type not supported"),
    ("auth", 69, "requires authentication"),
    ("garbage", 76, "does not speak SOCKS5"),
])
def test_socks5_refusals(postfix, run, mode, code, text):
    with servers.Socks5Proxy(mode) as proxy:
        p = run(["bob@example.org"], input=_msg("x"), config=plain_config(
            postfix, "proxy_host 127.0.0.1\nproxy_port %d\nqueue off\n"
            % proxy.port, host="mail.example"))
        assert len(proxy.requests) == 1
    err = p.stderr.decode()
    assert p.returncode == code, err
    assert text in err


def test_socks5_credentials_not_local(postfix, run):
    # The proxy is on loopback but the server behind it may be anywhere:
    # no cleartext credentials, unlike a direct loopback connection.
    with servers.Socks5Proxy() as proxy:
        p = run(["bob@example.org"], input=_msg("x"), config=plain_config(
            postfix, "proxy_host 127.0.0.1\nproxy_port %d\nuser alice\n"
            "password secret\nauth plain\n" % proxy.port,
            listener="plain_auth"))
    err = p.stderr.decode()
    assert p.returncode == 69, err
    assert "unencrypted" in err


# ------------------------------------------------------------- socket

def _unix_clients(postfix):
    return sum(1 for line in postfix.log().splitlines()
               if "postfix/unix/smtpd" in line and ": client=" in line)


def test_unix_socket(postfix, run):
    tok = _tok()
    before = _unix_clients(postfix)
    p = run(["-v", "bob@example.org"], input=_msg(tok), config=(
        "account default\nsocket %s\nfrom %s\n" % (postfix.unix_socket,
                                                    FROM)))
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert "connecting to unix socket %s" % postfix.unix_socket in err
    S.delivered(postfix, tok, 1, settle=0.5)
    deadline = time.monotonic() + 5
    while _unix_clients(postfix) <= before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _unix_clients(postfix) == before + 1


def test_unix_socket_serverinfo_and_missing(postfix, run, tmp_path):
    p = run(["--serverinfo"], config="account default\nsocket %s\n"
            % postfix.unix_socket)
    assert p.returncode == 0, p.stderr
    assert "at unix socket %s (no TLS)" % postfix.unix_socket in \
        p.stdout.decode()
    gone = str(tmp_path / "nothing.sock")
    p = run(["bob@example.org"], input=_msg("x"),
            config="account default\nsocket %s\nfrom %s\nqueue off\n"
            % (gone, FROM))
    err = p.stderr.decode()
    assert p.returncode == 75, err
    assert "unix socket %s" % gone in err


def test_unix_socket_is_local_for_credentials(postfix, run):
    # No TLS, and yet the password may go: a Unix socket never leaves the
    # machine (the rule that allows loopback servers).
    tok = _tok()
    p = run(["-v", "bob@example.org"], input=_msg(tok), config=(
        "account default\nsocket %s\nfrom %s\nuser %s\npassword %s\n"
        "auth plain\n" % (postfix.unix_socket, FROM, servers.ALICE,
                          servers.ALICE_PASSWORD)))
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert "AUTH PLAIN" in err
    assert servers.ALICE_PASSWORD not in err
    S.delivered(postfix, tok, 1, settle=0.5)
