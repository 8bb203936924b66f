"""Transactions end to end: a server's recipient limit (real Postfix with
smtpd_recipient_limit = 10) split into further transactions of the same
session, each recipient getting exactly one copy; and LMTP against
Dovecot's LMTP server, with per-recipient replies after the data.
"""

import re
import time
import uuid

import pytest

import servers

FROM = "sender@example.org"


def _tok():
    return "t" + uuid.uuid4().hex[:12]


def _original_to(msgs):
    out = []
    for m in msgs:
        found = re.search(rb"^X-Original-To: (\S+)\r?$", m, re.M)
        assert found, m[:400]
        out.append(found.group(1).decode())
    return out


def test_recipient_limit_25_of_10(postfix, run):
    """25 recipients, at most 10 per transaction: three transactions in
    one session, 25 Maildir copies, one per recipient, exit 0."""
    tok = _tok()
    rcpts = ["u%02d-%s@example.com" % (i, tok) for i in range(1, 26)]
    msg = ("From: me@example.org\nTo: list@example.org\n"
           "Subject: limit %s\n\nbody\n" % tok).encode()
    p = run(["-v", "-f", FROM] + rcpts, input=msg,
            config="account default\nhost 127.0.0.1\nport %d\ntls off\n"
                   "from %s\n" % (postfix.port("rcptlimit"), FROM))
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err
    # Postfix said "too many recipients" and the rest went on in the same
    # connection: three MAIL FROM, one greeting.
    assert "452 4.5.3" in err, err
    assert err.count("--> MAIL FROM:") == 3, err
    # All 25 RCPTs in the first transaction (the limit is not known yet),
    # then only as many as the limit: 10, then 5.
    assert err.count("--> RCPT TO:") == 25 + 10 + 5, err
    assert err.count("--- connecting to") == 1, err
    postfix.wait_messages(25, timeout=30)
    # A duplicate would land shortly after the 25th copy: give it time
    # (Postfix's queue is empty once every copy is delivered).
    deadline = time.monotonic() + 10
    while not postfix.queue_empty() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    msgs = [m for m in postfix.messages() if tok.encode() in m]
    got = _original_to(msgs)
    assert sorted(got) == sorted(rcpts), got
    assert len(got) == len(set(got)) == 25


# ------------------------------------------------------------------ LMTP

@pytest.fixture(scope="module")
def lmtp():
    d = servers.DovecotLMTP()
    try:
        d.start()
        yield d
    finally:
        d.stop()
        d.cleanup()


def lmtp_config(lmtp):
    # LMTP servers run without TLS on loopback; tls on is our default.
    return ("account default\nhost 127.0.0.1\nport %d\nprotocol lmtp\n"
            "tls off\nfrom %s\n" % (lmtp.port, FROM))


def _with(msgs, tok):
    return [m for m in msgs if tok.encode() in m]


def _lmtp_send(lmtp, run, rcpts, tok):
    msg = ("From: me@example.org\nTo: alice@example.com\n"
           "Subject: lmtp %s\n\nbody\n" % tok).encode()
    return run(["-v", "-f", FROM] + rcpts, input=msg,
               config=lmtp_config(lmtp))


def test_lmtp_delivers_each_recipient(lmtp, run):
    """LHLO, BDAT (Dovecot's LMTP offers CHUNKING), one reply per
    recipient after the data; one copy in each mailbox."""
    tok = _tok()
    p = _lmtp_send(lmtp, run, ["alice@example.com", "bob@example.com"], tok)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err
    assert "--> LHLO " in err and "--> EHLO" not in err, err
    assert re.search(r"--> BDAT \d+ LAST", err), err
    assert len(re.findall(r"<-- 250 2\.0\.0 <\w+@example\.com> \S+ Saved",
                          err)) == 2, err
    assert len(_with(lmtp.maildir("alice"), tok)) == 1
    assert len(_with(lmtp.maildir("bob"), tok)) == 1


def test_lmtp_partial_delivery_after_data(lmtp, run):
    """Dovecot accepts "full" at RCPT and refuses it after the data (over
    quota): alice has the message, full has not, and the exit code says
    partial delivery (69), not 75 and not 0."""
    tok = _tok()
    p = _lmtp_send(lmtp, run, ["alice@example.com", "full@example.com"], tok)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 69, err
    assert re.search(r"partial delivery: the message reached 1 of 2 "
                     r"recipients; not delivered to 1: <full@example\.com>: "
                     r"552 5\.2\.2", err), err
    assert len(_with(lmtp.maildir("alice"), tok)) == 1
    assert _with(lmtp.maildir("full"), tok) == []


def test_lmtp_unknown_user_nothing_delivered(lmtp, run):
    """A recipient Dovecot does not know is refused at RCPT, before any
    data: all-or-nothing, alice gets nothing, 67."""
    tok = _tok()
    p = _lmtp_send(lmtp, run, ["alice@example.com", "nosuch@example.com"],
                   tok)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 67, err
    assert re.search(r"refused 1 of 2 recipients, so nothing was sent: "
                     r"<nosuch@example\.com>: 550 5\.1\.1", err), err
    assert _with(lmtp.maildir("alice"), tok) == []


def test_lmtp_serverinfo(lmtp, run):
    """--serverinfo speaks LHLO too and says it is an LMTP server."""
    p = run(["--serverinfo"], config=lmtp_config(lmtp))
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, p.stderr
    assert out.startswith("LMTP server at 127.0.0.1, port %d" % lmtp.port)
    assert re.search(r"^Capabilities:\n(    .*\n)*    CHUNKING\n", out,
                     re.M), out


def test_recipient_limit_later_refusal_is_partial(postfix, run):
    """Postfix checks its limit before the recipient: rejected@ (16th of
    25) gets 452 in the first transaction and its 554 only in the second,
    after ten copies were delivered.  The other 24 still get exactly one
    copy each; the exit code says partial delivery (69), naming it."""
    tok = _tok()
    rcpts = ["u%02d-%s@example.com" % (i, tok) for i in range(1, 26)]
    rcpts[15] = "rejected@example.com"
    msg = ("From: me@example.org\nTo: list@example.org\n"
           "Subject: limit %s\n\nbody\n" % tok).encode()
    p = run(["-v", "-f", FROM] + rcpts, input=msg,
            config="account default\nhost 127.0.0.1\nport %d\ntls off\n"
                   "from %s\n" % (postfix.port("rcptlimit_reject"), FROM))
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 69, err
    assert err.count("--> MAIL FROM:") == 3, err
    assert re.search(r"partial delivery: the message reached 24 of 25 "
                     r"recipients; not delivered to 1: "
                     r"<rejected@example\.com>: 554 5\.7\.1", err), err
    postfix.wait_messages(24, timeout=30)
    deadline = time.monotonic() + 10
    while not postfix.queue_empty() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    got = _original_to([m for m in postfix.messages() if tok.encode() in m])
    want = [r for r in rcpts if r != "rejected@example.com"]
    assert sorted(got) == sorted(want), got
