"""Passwords from a real Secret Service (gnome-keyring on a private D-Bus):
msmtp-style items (host/service/user, any schema name), the old
NetworkPassword items, the cron case (no DBUS_SESSION_BUS_ADDRESS, the bus
at /run/user/UID/bus, in the session's private /run/user), no bus at all, a locked keyring, and
--store-password.

smtpsend runs in a new session (no controlling terminal), so a missing
password can never turn into a prompt that waits.
"""

import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import uuid

import pytest

import hermetic
import servers

FROM = "alice@example.org"
RCPT = "bob@example.org"
HOST = "127.0.0.1"


def config(postfix, certs, extra=""):
    return ("account default\nhost %s\nport %d\ntls on\ntls_starttls on\n"
            "tls_trust_file %s\nfrom %s\nuser alice\ntimeout 20\n%s"
            % (HOST, postfix.port("starttls_auth"), certs.ca, FROM, extra))


def detached(run, args, cfg, env, input=None, timeout=60):
    """Run smtpsend with env alone, without a controlling terminal."""
    if input is None:
        input = ("From: %s\nTo: %s\nSubject: keyring %s\n\nbody\n"
                 % (FROM, RCPT, uuid.uuid4().hex)).encode()
    cmd = run.command() + ["-C", run.config_file(cfg)] + list(args)
    env = run.queue_env(dict(env))
    return subprocess.run(cmd, input=input, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          start_new_session=True)


def client_env(keyring, **extra):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HOME": keyring.home}
    env.update(keyring.env)
    env.update(extra)
    return env


def tool_env(keyring):
    env = dict(os.environ)
    env["HOME"] = keyring.home
    env.update(keyring.env)
    return env


def secret_tool(env, *args, input=None):
    return subprocess.run(["secret-tool"] + list(args), env=env,
                          input=input, timeout=20, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE)


@pytest.fixture
def kr(keyring):
    """The session keyring with no item for alice at HOST left over (her
    SCRAM salted passwords included)."""
    env = tool_env(keyring)
    for attrs in (("host", HOST, "service", "smtp", "user", "alice"),
                  ("server", HOST, "protocol", "smtp", "user", "alice"),
                  ("host", HOST, "service", "smtpsend-scram",
                   "user", "alice")):
        secret_tool(env, "clear", *attrs)
    return keyring


def test_secret_tool_item_found(postfix, certs, run, kr):
    # Wrong first: proves the keyring's value is what gets sent.
    kr.store(HOST, "alice", "not-the-password", label="smtp")
    p = detached(run, [RCPT], config(postfix, certs), client_env(kr))
    assert p.returncode == 77, p.stderr.decode()
    kr.store(HOST, "alice", "secret", label="smtp")
    p = detached(run, [RCPT], config(postfix, certs), client_env(kr))
    assert p.returncode == 0, p.stderr.decode()
    assert len(postfix.wait_messages(1, timeout=15)) == 1


def test_other_service_not_used(postfix, certs, run, kr):
    # An imap item for the same host and user is not an smtp password.
    kr.store(HOST, "alice", "secret", service="imap")
    try:
        p = detached(run, [RCPT], config(postfix, certs), client_env(kr))
        assert p.returncode == 78, p.stderr.decode()
        assert b"no password" in p.stderr
        assert b"--store-password" in p.stderr
    finally:
        secret_tool(tool_env(kr), "clear", "host", HOST, "service", "imap",
                    "user", "alice")


def test_network_password_schema(postfix, certs, run, kr):
    env = tool_env(kr)
    r = secret_tool(env, "store", "--label=old gnome-keyring item",
                    "server", HOST, "protocol", "smtp", "user", "alice",
                    input=b"secret")
    assert r.returncode == 0, r.stderr
    p = detached(run, [RCPT], config(postfix, certs), client_env(kr))
    assert p.returncode == 0, p.stderr.decode()


def test_config_password_wins(postfix, certs, run, kr):
    kr.store(HOST, "alice", "not-the-password")
    p = detached(run, [RCPT], config(postfix, certs, "password secret\n"),
                 client_env(kr))
    assert p.returncode == 0, p.stderr.decode()


def test_store_password_then_send(postfix, certs, run, kr):
    cfg = config(postfix, certs)
    p = detached(run, ["--store-password"], cfg, client_env(kr),
                 input=b"secret\n")
    assert p.returncode == 0, p.stderr.decode()
    # (word match: a valgrind wrapper may print "libsecret" frames)
    assert not re.search(rb"(?<![\w-])secret(?![\w-])",
                         p.stdout + p.stderr)
    assert kr.lookup(HOST, "alice") == "secret"
    r = secret_tool(tool_env(kr), "search", "host", HOST, "service", "smtp",
                    "user", "alice")
    assert b"label = smtpsend: alice@" + HOST.encode() in r.stdout, r
    p = detached(run, [RCPT], cfg, client_env(kr))
    assert p.returncode == 0, p.stderr.decode()


def _private_run_user():
    """The session's /run/user is its own (conftest: tests/hermetic.py):
    the machine's user bus is invisible and ours is seen by nobody else."""
    assert hermetic.is_private(), "not in the tests' private namespace"
    return "/run/user/%d" % os.getuid()


def test_no_bus_at_all(postfix, certs, run):
    assert not os.path.exists(os.path.join(_private_run_user(), "bus"))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    t0 = time.monotonic()
    p = detached(run, [RCPT], config(postfix, certs, "queue off\n"), env)
    assert time.monotonic() - t0 < 15
    assert p.returncode == 75, p.stderr.decode()
    err = p.stderr.decode()
    assert "keyring unreachable" in err
    assert "DBUS_SESSION_BUS_ADDRESS" in err
    assert "passwordeval" in err
    assert postfix.messages() == []


def _wait_secrets(env, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        p = subprocess.run(
            ["dbus-send", "--session", "--print-reply",
             "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
             "org.freedesktop.DBus.NameHasOwner",
             "string:org.freedesktop.secrets"],
            env=env, timeout=10, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        if b"boolean true" in p.stdout:
            return
        time.sleep(0.1)
    raise RuntimeError("no Secret Service on the user bus")


@pytest.fixture
def user_bus():
    """A session bus at /run/user/UID/bus with an unlocked gnome-keyring,
    as a login session leaves it for cron.  Made in the session's private
    /run/user, so the machine's /run/user is never touched and parallel
    runs never meet.  Removed afterwards."""
    rundir = _private_run_user()
    bus = os.path.join(rundir, "bus")
    assert not os.path.exists(bus), "a bus left over at " + bus
    created = not os.path.isdir(rundir)
    os.makedirs(rundir, mode=0o700, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="smtpsend-userbus-")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HOME": tmp, "DBUS_SESSION_BUS_ADDRESS": "unix:path=" + bus,
           "XDG_RUNTIME_DIR": tmp, "XDG_DATA_HOME": tmp}
    dbus_pid = gkd = None
    try:
        p = subprocess.run(["dbus-daemon", "--session", "--fork",
                            "--address=unix:path=" + bus, "--print-pid"],
                           env=env, timeout=20, stdout=subprocess.PIPE,
                           check=True)
        dbus_pid = int(p.stdout.split()[0])
        gkd = subprocess.Popen(["gnome-keyring-daemon", "--foreground",
                                "--unlock", "--components=secrets"],
                               stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, env=env,
                               start_new_session=True)
        gkd.stdin.write(b"unlock-pw")
        gkd.stdin.close()
        _wait_secrets(env)
        r = secret_tool(env, "store", "--label=cron", "host", HOST,
                        "service", "smtp", "user", "alice", input=b"secret")
        assert r.returncode == 0, r.stderr
        yield bus
    finally:
        if gkd is not None:
            servers.kill_pid(gkd.pid)
            gkd.wait(timeout=10)
        if dbus_pid:
            servers.kill_pid(dbus_pid)
        if os.path.exists(bus):
            os.unlink(bus)
        if created:
            shutil.rmtree(rundir, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)


def test_cron_finds_user_bus(postfix, certs, run, user_bus):
    # env -i PATH=...: what cron gives, no DBUS_SESSION_BUS_ADDRESS.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    p = detached(run, [RCPT], config(postfix, certs), env)
    assert p.returncode == 0, p.stderr.decode()
    assert len(postfix.wait_messages(1, timeout=15)) == 1


def test_cron_bus_of_other_owner_ignored(postfix, certs, run, user_bus):
    # A socket at the right place but owned by someone else is not ours.
    st = os.stat(user_bus)
    assert stat.S_ISSOCK(st.st_mode)
    os.chown(user_bus, 65534, 65534)
    try:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        p = detached(run, [RCPT], config(postfix, certs, "queue off\n"), env)
        assert p.returncode == 75, p.stderr.decode()
        assert b"keyring unreachable" in p.stderr
    finally:
        os.chown(user_bus, st.st_uid, st.st_gid)


def test_dead_bus(postfix, certs, run, tmp_path):
    # The address points at a socket nobody answers on: 75, quickly.
    path = str(tmp_path / "deadbus")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "DBUS_SESSION_BUS_ADDRESS": "unix:path=" + path}
    t0 = time.monotonic()
    p = detached(run, [RCPT], config(postfix, certs, "queue off\n"), env)
    assert time.monotonic() - t0 < 25
    assert p.returncode == 75, p.stderr.decode()
    assert b"keyring" in p.stderr
    assert b"passwordeval" in p.stderr


def test_locked_keyring(postfix, certs, run):
    # A keyring of its own, locked after storing: smtpsend must say
    # "locked" and exit 75 at once, never wait for an unlock prompt.
    k = servers.Keyring()
    try:
        k.store(HOST, "alice", "secret")
        env = tool_env(k)
        r = subprocess.run(
            ["dbus-send", "--session", "--print-reply",
             "--dest=org.freedesktop.secrets", "/org/freedesktop/secrets",
             "org.freedesktop.Secret.Service.Lock",
             "array:objpath:/org/freedesktop/secrets/collection/login"],
            env=env, timeout=20, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        assert r.returncode == 0, r.stderr
        assert k.lookup(HOST, "alice") is None    # really locked
        t0 = time.monotonic()
        p = detached(run, [RCPT], config(postfix, certs, "queue off\n"), client_env(k))
        assert time.monotonic() - t0 < 15
        assert p.returncode == 75, p.stderr.decode()
        assert b"locked" in p.stderr
    finally:
        k.stop()
        k.cleanup()


def test_libsecret_missing(postfix, certs, run, kr):
    # libsecret hidden (an empty file bind-mounted over it, in a private
    # mount namespace): the keyring is "unavailable", the send fails with
    # 78 and says so; no crash.
    lib = os.path.realpath("/usr/lib/x86_64-linux-gnu/libsecret-1.so.0")
    if shutil.which("unshare") is None or not os.path.exists(lib) or \
            os.geteuid() != 0:
        pytest.skip("needs root, unshare and libsecret")
    kr.store(HOST, "alice", "secret")
    cmd = run.command() + ["-C", run.config_file(config(postfix, certs)),
                           RCPT]
    script = 'mount --bind /dev/null "$0" && exec "$@"'
    p = subprocess.run(["unshare", "--mount", "sh", "-c", script, lib] + cmd,
                       input=b"Subject: x\n\nx\n", env=client_env(kr),
                       timeout=60, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, start_new_session=True)
    assert p.returncode == 78, p.stderr.decode()
    assert b"keyring unavailable" in p.stderr
    assert postfix.messages() == []


def _store_on_tty(run, cfg, env, answers):
    """--store-password with a pty as stdin and controlling terminal;
    answers are typed one per prompt.  Returns (exit code, tty output)."""
    import pty
    import select

    master, slave = pty.openpty()
    name = os.ttyname(slave)

    def take_tty():
        os.setsid()
        os.close(os.open(name, os.O_RDWR))     # becomes the ctty

    proc = subprocess.Popen(run.command() + ["-C", run.config_file(cfg),
                                             "--store-password"],
                            stdin=slave, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env,
                            preexec_fn=take_tty)
    seen = b""
    try:
        for n, answer in enumerate(answers):
            deadline = time.monotonic() + 30
            while seen.count(b"smtpsend: ") < n + 1:
                assert time.monotonic() < deadline, seen
                r, _, _ = select.select([master], [], [], 1)
                if r:
                    seen += os.read(master, 4096)
            os.write(master, answer.encode() + b"\n")
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
    return proc.returncode, seen, err


def test_store_password_on_terminal(postfix, certs, run, kr):
    cfg = config(postfix, certs)
    rc, seen, err = _store_on_tty(run, cfg, client_env(kr),
                                  ["secret", "secret"])
    assert rc == 0, err.decode()
    assert b"secret" not in seen        # echo was off
    assert kr.lookup(HOST, "alice") == "secret"
    p = detached(run, [RCPT], cfg, client_env(kr))
    assert p.returncode == 0, p.stderr.decode()


def test_store_password_typo_stores_nothing(postfix, certs, run, kr):
    rc, _, err = _store_on_tty(run, config(postfix, certs), client_env(kr),
                               ["secret", "secrte"])
    assert rc == 78, err.decode()
    assert b"differ" in err
    assert kr.lookup(HOST, "alice") is None
