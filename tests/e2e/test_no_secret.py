"""An account with a user but no auth line, and no password anywhere: the
real gnome-keyring answers that it has no item, there is no password or
passwordeval and no terminal.  The mail goes without AUTH where Postfix
does not require it ("starttls" listener: relays for loopback, offers
AUTH); where it does ("starttls_auth"), the refusal is reported as the
missing password (78).  An explicit auth line, or a keyring that cannot be
reached, stays an error.
"""

import os
import socket
import subprocess
import uuid

import pytest

HOST = "127.0.0.1"
FROM = "alice@example.org"
RCPT = "bob@example.org"


def config(postfix, certs, listener, extra=""):
    return ("account default\nhost %s\nport %d\ntls on\ntls_starttls on\n"
            "tls_trust_file %s\nfrom %s\nuser alice\ntimeout 20\n%s"
            % (HOST, postfix.port(listener), certs.ca, FROM, extra))


def detached(run, args, cfg, env):
    """smtpsend with env alone, in a new session: no terminal to prompt."""
    msg = ("From: %s\nTo: %s\nSubject: nosecret %s\n\nbody\n"
           % (FROM, RCPT, uuid.uuid4().hex)).encode()
    cmd = run.command() + ["-C", run.config_file(cfg)] + list(args)
    env = run.queue_env(dict(env))
    timeout = 240 if os.environ.get("SMTPSEND_WRAPPER") else 60
    return subprocess.run(cmd, input=msg, env=env, timeout=timeout,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          start_new_session=True)


@pytest.fixture
def empty(keyring):
    """The session keyring with no item for alice at HOST; the client's
    environment for it."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("DBUS_", "XDG_", "GNOME_KEYRING"))}
    env["HOME"] = keyring.home
    env.update(keyring.env)
    for attrs in (("host", HOST, "service", "smtp", "user", "alice"),
                  ("server", HOST, "protocol", "smtp", "user", "alice")):
        subprocess.run(["secret-tool", "clear"] + list(attrs), env=env,
                       timeout=20, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    assert keyring.lookup(HOST, "alice") is None
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": keyring.home, **keyring.env}


def test_empty_keyring_sends_without_auth(postfix, certs, run, empty):
    p = detached(run, ["-v", RCPT], config(postfix, certs, "starttls"),
                 empty)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err
    assert "sending without AUTH" in err
    sent = [l for l in err.splitlines() if l.startswith("--> ")]
    assert any(l.startswith("--> RCPT TO:") for l in sent), err
    assert not any(l.startswith("--> AUTH") for l in sent), err
    assert len(postfix.wait_messages(1, timeout=15)) == 1


def test_empty_keyring_server_requires_auth(postfix, certs, run, empty):
    p = detached(run, [RCPT], config(postfix, certs, "starttls_auth"),
                 empty)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 78, err
    assert "no password for account default" in err
    assert "sent without AUTH, the server refused" in err
    assert "5.7." in err
    assert "--store-password" in err
    assert postfix.messages() == []


def test_explicit_auth_without_secret_is_error(postfix, certs, run, empty):
    p = detached(run, [RCPT], config(postfix, certs, "starttls",
                                     "auth on\n"), empty)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 78, err
    assert "no password" in err and "without AUTH" not in err
    assert postfix.messages() == []


def test_unreachable_keyring_stays_75(postfix, certs, run, tmp_path):
    # Even where sending without AUTH would work: a keyring that cannot
    # be asked may hold the password, so this is temporary.
    path = str(tmp_path / "deadbus")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HOME": str(tmp_path),
           "DBUS_SESSION_BUS_ADDRESS": "unix:path=" + path}
    p = detached(run, [RCPT], config(postfix, certs, "starttls",
                                       "queue off\n"), env)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 75, err
    assert "keyring" in err
    assert postfix.messages() == []
