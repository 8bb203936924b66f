"""Session fixtures for smtpsend's end-to-end tests (see servers.py).

    certs     test CA and certificates (paths, fingerprints)
    postfix   private Postfix (+ Dovecot SASL, + OAuth2 introspection) on
              loopback; mail delivered before each test is cleared first
    keyring   gnome-keyring Secret Service on a private D-Bus session bus
    run       run(args, input=b"", config=None, env=None, timeout=60)
    oauth     the introspection server (.url, .requests)
    dovecot   the Dovecot instance (.log_path, .socket)

Servers start once per session, on first use, on free loopback ports, and
are stopped by PID at the end.  Needs root (Postfix, Dovecot).  The
session runs in a private mount namespace (tests/hermetic.py).
"""

import os
import signal
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import hermetic  # noqa: E402
import servers  # noqa: E402

# Before any server or thread starts: a private mount namespace where this
# machine's smtprc files, user bus and cache do not exist (tests/hermetic.py).
hermetic.enter()


def _interrupt(signum, frame):
    raise KeyboardInterrupt("signal %d" % signum)


def pytest_configure(config):
    # A SIGTERM (CI's timeout) ends the run like ^C, so that the session
    # fixtures still stop Postfix, Dovecot and the keyring by PID.
    signal.signal(signal.SIGTERM, _interrupt)
    # Slow suites CI runs on the static build only (tests/ci.sh: -m 'not
    # callers and not once'): the real calling programs
    # (test_callers_real.py), the queue's fault campaign, and tests whose
    # conditions a wrapper cannot run under (no usable $TMPDIR).
    config.addinivalue_line(
        "markers", "callers: runs a real program that calls sendmail")
    config.addinivalue_line(
        "markers", "once: a slow suite run on one build only")


def pytest_report_header(config):
    return "smtpsend under test: %s%s" % (
        os.environ.get("SMTPSEND_WRAPPER", "") + " "
        if os.environ.get("SMTPSEND_WRAPPER") else "",
        servers.smtpsend_path())


@pytest.fixture(scope="session")
def certs():
    c = servers.Certs()
    yield c
    c.cleanup()


@pytest.fixture(scope="session")
def oauth():
    srv = servers.IntrospectionServer()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def dovecot(oauth):
    if os.geteuid() != 0:
        pytest.skip("Postfix and Dovecot test instances need root")
    d = servers.Dovecot(oauth.url)
    try:
        d.start()
        yield d
    finally:
        d.stop()
        d.cleanup()


@pytest.fixture(scope="session")
def postfix_session(certs, dovecot):
    """The running Postfix instance, shared by the whole session."""
    p = servers.Postfix(certs, dovecot.socket)
    try:
        p.start()
        yield p
    finally:
        p.stop()
        p.cleanup()


@pytest.fixture
def postfix(postfix_session):
    """The session's Postfix, with no delivered mail left from earlier
    tests (mail still in flight is given a moment to land first)."""
    postfix_session.clear()
    return postfix_session


@pytest.fixture(scope="session")
def keyring():
    k = servers.Keyring()
    try:
        yield k
    finally:
        k.stop()
        k.cleanup()


@pytest.fixture(scope="session")
def run():
    r = servers.Runner()
    yield r
    r.cleanup()
