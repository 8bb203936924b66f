"""Long body lines without damage, through the real Postfix (issue 10
item 6).  A PHP mail()-like message (headers CRLF, body LF, 8-bit UTF-8,
one 3000-octet line) arrives quoted-printable and decodes to exactly the
bytes the caller wrote; a multipart one has its line broken, and -v says
so.  SIZE and BDAT count the encoded form (Postfix offers CHUNKING).
"""

import email
import email.policy
import re
import uuid

import pytest

import sink as S
from sink import Sink, wire_problems

FROM = "sender@example.org"


def config(postfix, extra=""):
    return ("account default\nhost 127.0.0.1\nport %d\ntls off\n"
            "from %s\n%s" % (postfix.port("plain"), FROM, extra))


def tok():
    return "t" + uuid.uuid4().hex[:12]


def php_message(t, body):
    # PHP's mail() joins its headers with CRLF and passes the body as the
    # script wrote it (LF).
    return (b"To: bob@example.org\r\n"
            b"Subject: long " + t.encode() + b"\r\n"
            b"From: www-data@example.org\r\n"
            b"\r\n" + body)


def long_body():
    line = ("Grüße aus Köln, = .dot  ".encode() * 200)[:2999] + b"\xc3\xa9"
    assert len(line) > 3000
    return b"first line\n" + line + b"\n.\ntrailing blanks   \nend\n"


def test_php_long_line_decodes_exactly(postfix, run):
    t = tok()
    body = long_body()
    p = run(["-i", "-v", "bob@example.org"], input=php_message(t, body),
            config=config(postfix))
    assert p.returncode == 0, p.stderr
    assert b"quoted-printable" in p.stderr
    [d] = S.delivered(postfix, t, 1)
    msg = email.message_from_bytes(d.raw, policy=email.policy.compat32)
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_charset() == "utf-8"
    # No line on the way was over 76 octets: Postfix split nothing.
    assert max(len(x) for x in d.body.split(b"\n")) <= 76
    got = msg.get_payload(decode=True)
    # The spool's line ends are CRLF; Maildir stores LF.  The text itself,
    # 8-bit octets, '=', dots and trailing blanks, is exactly the input.
    assert got.replace(b"\r\n", b"\n") == body


@pytest.mark.parametrize("chunking", [False, True])
def test_bdat_and_size_count_encoded(run, chunking):
    # SIZE= and BDAT's count must be the octets of the encoded form: the
    # sink reads exactly BDAT's count, then expects the next command.
    t = tok()
    body = long_body()
    ext = ["PIPELINING", "8BITMIME", "SIZE 0", "ENHANCEDSTATUSCODES"]
    if chunking:
        ext.append("CHUNKING")
    with Sink(extensions=ext) as sk:
        p = run(["-i", "bob@example.org"], input=php_message(t, body),
                config=sk.config())
        assert p.returncode == 0, p.stderr
        [s] = sk.wait_sessions(1)
    [txn] = s.txns
    assert txn.mode == ("BDAT" if chunking else "DATA")
    assert txn.accepted
    data = txn.unstuffed()
    size = re.search(rb"SIZE=(\d+)", txn.mail)
    assert size is not None and int(size.group(1)) == len(data)
    assert b"Content-Transfer-Encoding: quoted-printable\r\n" in data
    assert max(len(x) for x in data.split(b"\r\n")) <= 76
    assert wire_problems(txn.data) == []


def test_multipart_broken_and_said(postfix, run):
    t = tok()
    text = b"x" * 1500
    msg = (b"From: me@example.org\nTo: bob@example.org\nSubject: mp " +
           t.encode() + b"\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=BB\n\n"
           b"--BB\nContent-Type: text/plain\n\n" + text + b"\n--BB--\n")
    p = run(["-i", "-v", "bob@example.org"], input=msg,
            config=config(postfix))
    assert p.returncode == 0, p.stderr
    assert b"broken with 1 line break" in p.stderr
    assert b"multipart" in p.stderr
    [d] = S.delivered(postfix, t, 1)
    assert b"quoted-printable" not in d.raw
    assert b"x" * 998 + b"\n" + b"x" * 502 + b"\n" in d.body
