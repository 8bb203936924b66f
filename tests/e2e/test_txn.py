"""Transactions end to end: a server's recipient limit (real Postfix with
smtpd_recipient_limit = 10) split into further transactions of the same
session, each recipient getting exactly one copy; and LMTP against
Dovecot's LMTP server, with per-recipient replies after the data.
"""

import re
import time
import uuid

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
