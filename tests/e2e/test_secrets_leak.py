"""No secret in any output: sends with -v and a logfile, with every
mechanism, passwords from the config and from passwordeval, successes and
refusals; then every byte of stdout, stderr and the log is searched for the
password, the token, and their base64 forms at every alignment (base64 of
"\\0user\\0password" for PLAIN, of the password alone for LOGIN, of the
XOAUTH2/OAUTHBEARER strings...).
"""

import base64
import os
import uuid

import pytest

import hermetic

FROM = "alice@example.org"
RCPT = "bob@example.org"
PASSWORD = "S3cr3t-Pa55"          # wrong for Dovecot: AUTH is refused
TOKEN = "tok-Zq8vLw3Kx9-leak"     # an invalid OAuth2 token
GOOD_PASSWORD = "secret"           # alice's real password
GOOD_TOKEN = "good-token"


def b64_cores(secret):
    """Base64 substrings that any encoding of a stream containing secret
    must contain, whatever the secret's offset in that stream."""
    s = secret.encode() if isinstance(secret, str) else secret
    cores = set()
    for k in range(3):
        enc = base64.b64encode(b"\0" * k + s)
        n = k + len(s)
        first = (k + 2) // 3            # first group made of secret only
        last = n // 3                   # groups that are complete
        if last > first:
            cores.add(enc[4 * first:4 * last])
    return cores


def forbidden(secret):
    s = secret.encode()
    pats = {s}
    pats |= b64_cores(s)
    return pats


def check_clean(blobs, secrets):
    for name, blob in blobs.items():
        for secret in secrets:
            for pat in forbidden(secret):
                assert pat not in blob, ("%s leaked into %s (as %r)"
                                         % (secret, name, pat))


def config(postfix, certs, tmp_path, mech, password=None, passwordeval=None,
           listener="starttls_auth"):
    log = tmp_path / "smtpsend.log"
    lines = ["account default", "host 127.0.0.1",
             "port %d" % postfix.port(listener), "from " + FROM,
             "user alice", "auth " + mech, "logfile %s" % log]
    if listener == "plain_auth":
        lines.append("tls off")
    else:
        lines += ["tls on", "tls_starttls on", "tls_trust_file " + certs.ca]
    if password is not None:
        lines.append("password " + password)
    if passwordeval is not None:
        lines.append("passwordeval " + passwordeval)
    return "\n".join(lines) + "\n", log


def send(run, cfg):
    msg = ("From: %s\nTo: %s\nSubject: leak %s\n\nbody\n"
           % (FROM, RCPT, uuid.uuid4().hex)).encode()
    return run(["-v", RCPT], input=msg, config=cfg)


def outputs(p, log):
    blobs = {"stdout": p.stdout, "stderr": p.stderr}
    if os.path.exists(log):
        with open(log, "rb") as f:
            blobs["log"] = f.read()
    return blobs


def test_cores_find_embedded_secret():
    # The search itself must work: PLAIN's and LOGIN's encodings of the
    # password are caught, at every offset.
    for prefix in (b"", b"\0alice\0", b"\0bob\0", b"x"):
        enc = base64.b64encode(prefix + PASSWORD.encode())
        assert any(c in enc for c in b64_cores(PASSWORD)), prefix


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN", "CRAM-MD5",
                                  "SCRAM-SHA-256", "on"])
def test_refused_password_not_leaked(postfix, certs, run, tmp_path, mech):
    cfg, log = config(postfix, certs, tmp_path, mech, password=PASSWORD)
    p = send(run, cfg)
    assert p.returncode == 77, p.stderr.decode()
    assert b"AUTH" in p.stderr             # the transcript is there
    check_clean(outputs(p, log), [PASSWORD])


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_accepted_password_not_leaked(postfix, certs, run, tmp_path, mech):
    cfg, log = config(postfix, certs, tmp_path, mech,
                      password=GOOD_PASSWORD)
    p = send(run, cfg)
    assert p.returncode == 0, p.stderr.decode()
    blobs = outputs(p, log)
    assert "log" in blobs and blobs["log"]
    # base64 of the whole PLAIN response and of the LOGIN password.
    assert b"AGFsaWNlAHNlY3JldA==" not in p.stderr
    assert b"c2VjcmV0" not in p.stderr
    check_clean(blobs, ["\0alice\0" + GOOD_PASSWORD])
    for name, blob in blobs.items():
        assert GOOD_PASSWORD.encode() not in blob, name
        for pat in b64_cores(GOOD_PASSWORD):
            assert pat not in blob, name


def test_cleartext_loopback_not_leaked(postfix, certs, run, tmp_path):
    cfg, log = config(postfix, certs, tmp_path, "PLAIN", password=PASSWORD,
                      listener="plain_auth")
    p = send(run, cfg)
    assert p.returncode == 77, p.stderr.decode()
    check_clean(outputs(p, log), [PASSWORD])


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_token_not_leaked(postfix, certs, run, tmp_path, mech):
    cfg, log = config(postfix, certs, tmp_path, mech,
                      passwordeval="printf '%s\\n'" % TOKEN)
    p = send(run, cfg)
    assert p.returncode == 77, p.stderr.decode()
    wire = {"XOAUTH2": "user=alice\x01auth=Bearer %s\x01\x01",
            "OAUTHBEARER": "auth=Bearer %s\x01\x01"}[mech] % TOKEN
    check_clean(outputs(p, log), [TOKEN, wire])


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_good_token_not_leaked(postfix, certs, run, tmp_path, mech):
    cfg, log = config(postfix, certs, tmp_path, mech,
                      passwordeval="printf '%s\\n'" % GOOD_TOKEN)
    p = send(run, cfg)
    assert p.returncode == 0, p.stderr.decode()
    check_clean(outputs(p, log), [GOOD_TOKEN])


def test_passwordeval_failure_not_leaked(postfix, certs, run, tmp_path):
    # The command prints the secret, then fails: neither its output nor
    # the command line (which holds the secret here) may be echoed.
    cfg, log = config(postfix, certs, tmp_path, "PLAIN",
                      passwordeval="echo %s; exit 3" % PASSWORD)
    p = send(run, cfg)
    assert p.returncode == 78, p.stderr.decode()
    check_clean(outputs(p, log), [PASSWORD])


def test_pretend_not_leaked(postfix, certs, run, tmp_path):
    cfg, _ = config(postfix, certs, tmp_path, "PLAIN", password=PASSWORD)
    p = run(["--pretend"], config=cfg)
    assert p.returncode == 0, p.stderr.decode()
    check_clean({"stdout": p.stdout, "stderr": p.stderr}, [PASSWORD])


def test_prompt_on_tty_without_echo(postfix, certs, run, tmp_path):
    # No password, passwordeval or keyring (no bus): smtpsend asks on its
    # controlling terminal (a pty here), with echo off.  The message still
    # comes on stdin, which is not the terminal.
    import pty
    import select
    import subprocess
    import time

    cfg, log = config(postfix, certs, tmp_path, "PLAIN")
    msgfile = tmp_path / "msg"
    msgfile.write_bytes(b"From: %s\nSubject: prompt\n\nbody\n" % FROM.encode())
    master, slave = pty.openpty()
    slave_name = os.ttyname(slave)   # kept open: no EIO on the master

    def take_tty():
        os.setsid()
        fd = os.open(slave_name, os.O_RDWR)    # becomes the ctty
        os.close(fd)

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HOME": str(tmp_path),
           "SMTPSEND_QUEUE_DIR": str(tmp_path / "queue")}
    # No bus, so no keyring: the prompt is next (the session's /run/user
    # is private, tests/hermetic.py, so the machine's bus cannot answer).
    assert hermetic.is_private()
    assert not os.path.exists("/run/user/%d/bus" % os.getuid())
    with open(msgfile, "rb") as stdin:
        proc = subprocess.Popen(
            run.command() + ["-C", run.config_file(cfg), "-v", RCPT],
            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, preexec_fn=take_tty)
    seen = b""
    try:
        deadline = time.monotonic() + 30
        while b"password for alice" not in seen:
            assert time.monotonic() < deadline, seen
            r, _, _ = select.select([master], [], [], 1)
            if r:
                seen += os.read(master, 4096)
        os.write(master, GOOD_PASSWORD.encode() + b"\n")
        out, err = proc.communicate(timeout=60)
        while True:
            r, _, _ = select.select([master], [], [], 0.5)
            if not r:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0, err.decode()
    # Echo was off: the typed password never came back on the terminal.
    assert GOOD_PASSWORD.encode() not in seen, seen
    check_clean({"stdout": out, "stderr": err, "tty": seen},
                ["\0alice\0" + GOOD_PASSWORD])


def test_no_core_file_and_not_dumpable(run):
    """While it holds a password, smtpsend allows no core file and is not
    dumpable (no ptrace, no /proc/PID/mem for other processes of the user).
    Run as nobody: a non-dumpable process's /proc files belong to root."""
    import shutil
    import socket
    import subprocess
    import tempfile
    import time

    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to run as another user")
    nobody = 65534
    d = tempfile.mkdtemp(prefix="smtpsend-dump-")
    srv = socket.socket()
    try:
        os.chmod(d, 0o755)
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)                   # accepts, never greets
        cfg = os.path.join(d, "rc")
        with open(cfg, "w") as f:
            f.write("account default\nhost 127.0.0.1\nport %d\ntls off\n"
                    "timeout 20\nfrom %s\nuser alice\npassword %s\n"
                    % (srv.getsockname()[1], FROM, PASSWORD))
        os.chmod(cfg, 0o600)
        os.chown(cfg, nobody, nobody)
        cmd = ["setpriv", "--reuid=%d" % nobody, "--regid=%d" % nobody,
               "--clear-groups"] + [c for c in run.command() if c] + \
            ["-C", cfg, RCPT]
        p = subprocess.Popen(cmd, stdin=subprocess.PIPE, cwd=d,
                             env={"PATH": os.environ.get("PATH", ""),
                                  "HOME": d},
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            p.stdin.write(b"Subject: s\n\nx\n")
            p.stdin.close()
            srv.settimeout(60)
            conn, _ = srv.accept()      # the password is in memory now
            with open("/proc/%d/limits" % p.pid) as f:
                core = [l for l in f.read().splitlines()
                        if l.startswith("Max core file size")][0].split()
            assert core[4:6] == ["0", "0"], core
            assert os.stat("/proc/%d/status" % p.pid).st_uid == 0
            # The control: the same check on a dumpable process of nobody.
            q = subprocess.Popen(["setpriv", "--reuid=%d" % nobody,
                                  "--regid=%d" % nobody, "--clear-groups",
                                  "sleep", "10"])
            time.sleep(0.2)
            assert os.stat("/proc/%d/status" % q.pid).st_uid == nobody
            q.kill()
            q.wait(timeout=10)
            conn.close()
        finally:
            p.kill()
            p.wait(timeout=10)
    finally:
        srv.close()
        shutil.rmtree(d, ignore_errors=True)
