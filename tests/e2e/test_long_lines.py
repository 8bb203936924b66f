"""Long body lines without damage, through the real Postfix (issue 10
item 6).  A PHP mail()-like message (headers CRLF, body LF, 8-bit UTF-8,
one 3000-octet line) arrives quoted-printable and decodes to exactly the
bytes the caller wrote; in a multipart one the text part with the long
line is re-encoded the same way, a preamble's line is broken, an
attachment's long line arrives as it was written, and -v says so.  SIZE
and BDAT count the encoded form (Postfix offers CHUNKING).
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
    """The preamble is text nobody reads: its long line is broken; the
    text part's is re-encoded; -v names both."""
    t = tok()
    text = b"x" * 1500
    msg = (b"From: me@example.org\nTo: bob@example.org\nSubject: mp " +
           t.encode() + b"\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=BB\n\n" +
           b"p" * 1200 + b"\n--BB\nContent-Type: text/plain\n\n" + text +
           b"\n--BB--\n")
    p = run(["-i", "-v", "bob@example.org"], input=msg,
            config=config(postfix))
    assert p.returncode == 0, p.stderr
    assert b"broken with 1 line break(s) in preamble" in p.stderr, p.stderr
    assert b"the message is multipart" in p.stderr
    assert (b"1 text part(s) sent quoted-printable (decode to exactly the "
            b"input): part 1 (text/plain)" in p.stderr), p.stderr
    [d] = S.delivered(postfix, t, 1)
    assert b"p" * 998 + b"\n" + b"p" * 202 + b"\n" in d.body
    msg = email.message_from_bytes(d.raw, policy=email.policy.compat32)
    [part] = msg.get_payload()
    assert part["Content-Transfer-Encoding"] == "quoted-printable"
    assert part.get_payload(decode=True) == text


def mixed_message(t, text, blob):
    """A multipart/mixed: a text/plain part holding text, and an
    application/octet-stream part (8bit, no encoding) holding blob."""
    return (b"From: me@example.org\nTo: bob@example.org\nSubject: att " +
            t.encode() + b"\nMIME-Version: 1.0\n"
            b"Content-Type: multipart/mixed; boundary=\"=_b 1\"\n\n"
            b"This is a MIME message.\n"
            b"--=_b 1\nContent-Type: text/plain; charset=us-ascii\n\n" +
            text + b"\n--=_b 1\nContent-Type: application/octet-stream\n"
            b"Content-Disposition: attachment; filename=data.bin\n\n" +
            blob + b"\n--=_b 1--\n")


def attachment_blob():
    # One 3000-octet line of 8-bit data: any inserted CRLF corrupts it.
    return bytes((i * 7 + 33) % 223 + 33 for i in range(3000))


def test_multipart_attachment_left_whole(postfix, run):
    """A long line in a text part is re-encoded (the part decodes to what
    was written); the one in an application/octet-stream part arrives
    byte-identical, and -v names both parts."""
    t = tok()
    text = b"z" * 1500 + b"\n.\nend "
    blob = attachment_blob()
    p = run(["-i", "-v", "bob@example.org"], input=mixed_message(t, text, blob),
            config=config(postfix))
    assert p.returncode == 0, p.stderr
    assert (b"1 text part(s) sent quoted-printable (decode to exactly the "
            b"input): part 1 (text/plain)" in p.stderr), p.stderr
    assert (b"1 long line(s) in a non-text part left as they are"
            in p.stderr), p.stderr
    assert b"part 2 (application/octet-stream)" in p.stderr
    assert b"broken" not in p.stderr
    [d] = S.delivered(postfix, t, 1)
    msg = email.message_from_bytes(d.raw, policy=email.policy.compat32)
    parts = msg.get_payload()
    assert [x.get_content_type() for x in parts] == [
        "text/plain", "application/octet-stream"]
    assert parts[0]["Content-Transfer-Encoding"] == "quoted-printable"
    assert parts[0].get_param("charset") == "us-ascii"
    got = parts[0].get_payload(decode=True)
    assert got.replace(b"\r\n", b"\n") == text
    assert parts[1].get_payload(decode=True) == blob


def test_multipart_base64_line_broken_harmlessly(postfix, run):
    """A base64 attachment written as one long line (as some PHP mailers
    do) is broken at 998 octets: base64 decoders skip line breaks (RFC
    2045 6.8), so the attachment decodes to the same bytes and no line
    over the limit reaches the server."""
    import base64
    t = tok()
    blob = bytes(range(256)) * 12
    b64 = base64.b64encode(blob)
    assert len(b64) > 3000
    msg = (b"From: me@example.org\nTo: bob@example.org\nSubject: b64 " +
           t.encode() + b"\nMIME-Version: 1.0\n"
           b"Content-Type: multipart/mixed; boundary=XB\n\n"
           b"--XB\nContent-Type: text/plain\n\nhello\n"
           b"--XB\nContent-Type: application/octet-stream\n"
           b"Content-Transfer-Encoding: base64\n\n" + b64 + b"\n--XB--\n")
    p = run(["-i", "-v", "bob@example.org"], input=msg, config=config(postfix))
    assert p.returncode == 0, p.stderr
    assert b"part 2 (application/octet-stream)" in p.stderr, p.stderr
    assert b"left as they are" not in p.stderr, p.stderr
    [d] = S.delivered(postfix, t, 1)
    assert max(len(x) for x in d.body.split(b"\n")) <= 999
    m = email.message_from_bytes(d.raw, policy=email.policy.compat32)
    parts = m.get_payload()
    assert parts[1].get_payload(decode=True) == blob
    assert parts[0].get_payload(decode=True).strip() == b"hello"


def test_multipart_size_is_bytes_sent(run):
    """SIZE= is exactly what DATA carries when one part is re-encoded,
    the preamble's line broken, and another part's line left whole."""
    t = tok()
    blob = attachment_blob()
    msg = mixed_message(t, b"w" * 2500, blob).replace(
        b"This is a MIME message.", b"P" * 1500)
    with Sink(extensions=["PIPELINING", "8BITMIME", "SIZE 0"]) as sk:
        p = run(["-i", "bob@example.org"], input=msg, config=sk.config())
        assert p.returncode == 0, p.stderr
        [s] = sk.wait_sessions(1)
    [txn] = s.txns
    assert txn.mode == "DATA" and txn.accepted
    data = txn.unstuffed()
    size = re.search(rb"SIZE=(\d+)", txn.mail)
    assert size is not None and int(size.group(1)) == len(data)
    assert b"\r\n" + blob + b"\r\n" in data
    assert b"P" * 998 + b"\r\n" + b"P" * 502 + b"\r\n" in data
    assert b"Content-Transfer-Encoding: quoted-printable\r\n\r\nwww" in data
    # the attachment's line is the only one over the limit
    assert wire_problems(txn.data) == ["line of 3000 octets"]
    parsed = email.message_from_bytes(data, policy=email.policy.compat32)
    assert parsed.get_payload()[0].get_payload(decode=True) == b"w" * 2500


def _queue(run, qdir, msg):
    """Queue msg (a server that is not there), return its id."""
    import servers
    p = run(["-i", "bob@example.org"], input=msg,
            config="account default\nhost 127.0.0.1\nport %d\ntls off\n"
            "from %s\nqueue_dir %s\n" % (servers.free_port(), FROM, qdir))
    assert p.returncode == 0, p.stderr
    m = re.search(rb"queued as (\S+):", p.stderr)
    assert m, p.stderr
    return m.group(1).decode()


@pytest.mark.parametrize("kind", ["qp", "broken", "attachment"])
def test_queued_long_lines_flushed_with_exact_counts(run, tmp_path, kind):
    """What the writer must know of the body (quoted-printable, or the
    breaks of long lines, in which MIME parts) survives the queue: the
    flush's BDAT count and SIZE are those of what it writes, the text
    decodes to the input, an attachment's long line is sent whole."""
    t = tok()
    if kind == "qp":
        body = long_body()
        msg = php_message(t, body)
    elif kind == "attachment":
        body = b"y" * 1500
        msg = mixed_message(t, body, attachment_blob())
    else:
        body = b"y" * 1500
        msg = (b"From: me@example.org\nTo: bob@example.org\nSubject: mp " +
               t.encode() + b"\nMIME-Version: 1.0\n"
               b"Content-Type: multipart/mixed; boundary=BB\n\n"
               b"--BB\nContent-Type: text/plain\n\n" + body +
               b"\n--BB--\n")
    qdir = str(tmp_path / "q")
    qid = _queue(run, qdir, msg)
    with open("%s/%s.env" % (qdir, qid)) as f:
        env = f.read()
    assert ("encoding: quoted-printable\n" in env) == (kind == "qp"), env
    ext = ["PIPELINING", "8BITMIME", "SIZE 0", "ENHANCEDSTATUSCODES",
           "CHUNKING"]
    with Sink(extensions=ext) as sk:
        cfg = sk.config() + "queue_dir %s\n" % qdir
        p = run(["-q"], config=cfg)
        assert p.returncode == 0, p.stderr
        sessions = sk.wait_sessions(1)
    assert len(sessions) == 1, [(x.txns and x.txns[0].mail, p.stderr)
                                for x in sessions]
    [txn] = sessions[0].txns
    assert txn.mode == "BDAT" and txn.accepted
    data = txn.unstuffed()
    size = re.search(rb"SIZE=(\d+)", txn.mail)
    assert size is not None and int(size.group(1)) == len(data)
    if kind == "attachment":
        assert wire_problems(txn.data) == ["line of 3000 octets"]
        assert b"\r\n" + attachment_blob() + b"\r\n" in data
    else:
        assert wire_problems(txn.data) == []
    parsed = email.message_from_bytes(data, policy=email.policy.compat32)
    if kind == "qp":
        assert parsed["Content-Transfer-Encoding"] == "quoted-printable"
        got = parsed.get_payload(decode=True)
        assert got.replace(b"\r\n", b"\n") == body
    else:
        [part] = parsed.get_payload()[:1]
        assert part["Content-Transfer-Encoding"] == "quoted-printable"
        assert part.get_payload(decode=True) == body
