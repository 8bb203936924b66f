"""Where a failed send is told when nobody reads stderr (issue 10 item 4).

These machines have no /dev/log.  Each run of smtpsend gets one in a
private mount namespace of its own: /dev is covered by an overlay (lower
layer the real /dev, upper layer on a private tmpfs), an empty file is
made there as /dev/log, and the datagram socket this test binds in a
temporary directory is bind-mounted onto it.  The real /dev is never
written.  smtpsend's connect() to /dev/log then reaches the test's socket,
which reads what syslog(3) sent: "<PRI>TIMESTAMP TAG[PID]: LINE".

The send fails for sure and fast: nothing listens on the port.
"""

import ctypes
import ctypes.util
import os
import socket
import subprocess
import tempfile

import pytest

CLONE_NEWNS = 0x00020000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 1 << 18
LOG_MAIL = 2 << 3
LOG_USER = 1 << 3
LOG_ERR = 3

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
                        ctypes.c_ulong, ctypes.c_char_p]
_libc.unshare.argtypes = [ctypes.c_int]


def _mount(src, target, fstype, flags, data=None):
    enc = (lambda s: s.encode() if s is not None else None)
    if _libc.mount(enc(src), enc(target), enc(fstype), flags,
                   enc(data)) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "mount %s: %s" % (target, os.strerror(e)))


def closed_port():
    """A loopback port nothing listens on (bound, never listening)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    return s, s.getsockname()[1]


@pytest.fixture
def devlog():
    """(socket, directory): the socket smtpsend's /dev/log will reach."""
    d = tempfile.mkdtemp(prefix="smtpsend-syslog-")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(os.path.join(d, "log"))
    s.settimeout(0.2)
    try:
        yield s, d
    finally:
        s.close()
        os.unlink(os.path.join(d, "log"))
        if os.path.isdir(os.path.join(d, "ov")):
            os.rmdir(os.path.join(d, "ov"))
        os.rmdir(d)


def private_dev(d):
    """preexec_fn: in the child only, a /dev whose log is our socket."""
    def enter():
        if _libc.unshare(CLONE_NEWNS) != 0:
            raise OSError(ctypes.get_errno(), "unshare")
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        ov = os.path.join(d, "ov")
        os.mkdir(ov)
        _mount("tmpfs", ov, "tmpfs", 0, "mode=0700")
        os.mkdir(os.path.join(ov, "up"))
        os.mkdir(os.path.join(ov, "work"))
        _mount("overlay", "/dev", "overlay", 0,
               "lowerdir=/dev,upperdir=%s/up,workdir=%s/work" % (ov, ov))
        open("/dev/log", "w").close()
        _mount(os.path.join(d, "log"), "/dev/log", None, MS_BIND)
    return enter


def send(run, devlog, extra="", tty=False):
    """A send that fails (connection refused), stderr a pipe or a pty.
    Returns (exit code, stderr text, datagrams received)."""
    sock, d = devlog
    holder, port = closed_port()
    # queue off: the attempt fails (and is logged as a failure) rather
    # than being queued.
    cfg = ("account default\nhost 127.0.0.1\nport %d\ntls off\n"
           "from alice@example.org\ntimeout 10\nqueue off\n%s"
           % (port, extra))
    cmd = run.command() + ["-C", run.config_file(cfg), "bob@example.org"]
    master = slave = None
    try:
        if tty:
            master, slave = os.openpty()
            err = slave
        else:
            err = subprocess.PIPE
        p = subprocess.run(cmd, input=b"Subject: t\n\nbody\n",
                           stdout=subprocess.PIPE, stderr=err, timeout=60,
                           preexec_fn=private_dev(d))
        if tty:
            os.close(slave)
            slave = None
            text = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                text += chunk
        else:
            text = p.stderr
    finally:
        holder.close()
        for fd in (master, slave):
            if fd is not None:
                os.close(fd)
    lines = []
    while True:
        try:
            lines.append(sock.recv(65536).decode())
        except socket.timeout:
            break
    return p.returncode, text.decode(errors="replace"), lines


def test_pipe_logs_to_mail(run, devlog):
    rc, err, lines = send(run, devlog)
    assert rc == 69 or rc == 75, err
    assert "smtpsend:" in err
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("<%d>" % (LOG_MAIL | LOG_ERR)), line
    assert " smtpsend[" in line
    body = line.split("]: ", 1)[1]
    assert "\n" not in body.rstrip("\n")
    assert "host=127.0.0.1" in body
    assert "recipients=bob@example.org" in body
    assert "errormsg=" in body
    assert "exitcode=EX_" in body


def test_tty_stderr_only(run, devlog):
    rc, err, lines = send(run, devlog, tty=True)
    assert rc == 69 or rc == 75, err
    assert "smtpsend:" in err
    assert lines == []


def test_syslog_off(run, devlog):
    rc, err, lines = send(run, devlog, extra="syslog off\n")
    assert rc == 69 or rc == 75, err
    assert lines == []


def test_explicit_facility_kept(run, devlog):
    # msmtp's "syslog LOG_USER" still means that facility, even on a tty.
    rc, err, lines = send(run, devlog, extra="syslog LOG_USER\n", tty=True)
    assert rc == 69 or rc == 75, err
    assert len(lines) == 1, lines
    assert lines[0].startswith("<%d>" % (LOG_USER | LOG_ERR)), lines[0]


def test_tag_from_L(run, devlog):
    sock, d = devlog
    holder, port = closed_port()
    cfg = ("account default\nhost 127.0.0.1\nport %d\ntls off\n"
           "from alice@example.org\ntimeout 10\n" % port)
    cmd = run.command() + ["-C", run.config_file(cfg), "-L", "cronmail",
                           "bob@example.org"]
    try:
        subprocess.run(cmd, input=b"\n", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60,
                       preexec_fn=private_dev(d))
    finally:
        holder.close()
    line = sock.recv(65536).decode()
    assert " cronmail[" in line


def test_cron_keyring_hint(run, devlog):
    # Cron: env -i, no DBUS_SESSION_BUS_ADDRESS, and (hermetic) no
    # /run/user/UID/bus.  The hint names what works without a bus, not
    # --store-password, which needs the same bus.
    sock, d = devlog
    cfg = ("account default\nhost 127.0.0.1\nport 25\ntls off\n"
           "from alice@example.org\nauth on\nuser alice\ntimeout 10\n"
           "queue off\n")
    cmd = run.command() + ["-C", run.config_file(cfg), "bob@example.org"]
    p = subprocess.run(cmd, input=b"\n", stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "HOME": run.dir},
                       preexec_fn=private_dev(d))
    err = p.stderr.decode()
    assert p.returncode != 0
    assert "no D-Bus session bus" in err, err
    assert "loginctl enable-linger" in err, err
    assert "passwordeval" in err, err
    assert "--store-password" not in err, err
    # The same words reach the administrator through syslog.
    line = sock.recv(65536).decode()
    assert "no D-Bus session bus" in line, line
