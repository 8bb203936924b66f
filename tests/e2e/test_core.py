"""Core end to end: the built binary against the real Postfix ("plain"
listener, tls off) and the capturing sink.

What was delivered (Postfix's Maildir copy: Return-Path = envelope sender,
X-Original-To = RCPT TO) and what was on the wire (sink): -t with the
union of To/Cc/Bcc and argv, duplicates removed, Bcc stripped; Resent-*;
-f/-r/-F; Date/Message-ID/From added; SIZE; a 100 MB message in constant
memory; the log line; syslog by default when stderr is not a terminal.
"""

import email.header
import email.utils
import hashlib
import os
import re
import shutil
import subprocess
import threading
import uuid

import pytest

import sink as S
from sink import Sink, wire_problems

FROM = "sender@example.org"


def plain_config(postfix, extra="", listener="plain"):
    return ("account default\nhost 127.0.0.1\nport %d\ntls off\n"
            "from %s\n%s" % (postfix.port(listener), FROM, extra))


def _tok():
    return "t" + uuid.uuid4().hex[:12]


@pytest.fixture
def call(run, tmp_path):
    return S.Caller(run, tmp_path)


# ------------------------------------------------------ plain delivery

def test_delivered_bytes(postfix, run):
    tok = _tok()
    msg = ("Date: Wed, 25 Nov 2026 03:00:00 +0100\n"
           "From: Me <me@example.org>\n"
           "To: Alice <alice@example.org>\n"
           "Subject: core %s\n"
           "Message-ID: <core-%s@example.org>\n"
           "X-Folded: one\n two\n\tthree\n"
           "\n"
           "line 1\n"
           ".starts with a dot\n"
           "\n"
           "  indented, trailing spaces   \n"
           "last\n" % (tok, tok)).encode()
    p = run(["-i", "alice@example.org"], input=msg,
            config=plain_config(postfix))
    assert p.returncode == 0, p.stderr
    assert p.stdout == b""
    [d] = S.delivered(postfix, tok, 1, settle=0.5)
    assert d.rcpt == "alice@example.org"
    assert d.sender == FROM
    # The caller's header block arrives as it was written, in order, after
    # what Postfix prepends (Return-Path, X-Original-To, Delivered-To,
    # Received), and nothing added since Date, Message-ID, From were there.
    head = d.raw[:d.raw.index(b"\n\n") + 1]
    orig_head = msg[:msg.index(b"\n\n") + 1]
    assert head.endswith(orig_head), head
    added = head[:-len(orig_head)]
    names = [ln.split(b":")[0].lower() for ln in added.split(b"\n")
             if ln and ln[:1] not in b" \t"]
    assert set(names) <= {b"return-path", b"x-original-to",
                          b"delivered-to", b"received"}, added
    assert d.body == msg[msg.index(b"\n\n") + 2:]


def test_added_headers_forms(postfix, run):
    tok = _tok()
    p = run(["-i", "bob@example.net"],
            input=("Subject: bare %s\n\nno From, Date, Message-ID\n"
                   % tok).encode(),
            config=plain_config(postfix))
    assert p.returncode == 0, p.stderr
    [d] = S.delivered(postfix, tok, 1)
    assert d.sender == FROM
    assert email.utils.parseaddr(d.one("From"))[1] == FROM
    dt = email.utils.parsedate_to_datetime(d.one("Date"))
    assert dt.tzinfo is not None
    assert re.fullmatch(r"<[!-;=?-~]+@example\.org>", d.one("Message-ID"))
    # Unique: a second send gets another Message-ID.
    tok2 = _tok()
    run(["-i", "bob@example.net"], input=("Subject: %s\n\nx\n" % tok2)
        .encode(), config=plain_config(postfix))
    [d2] = S.delivered(postfix, tok2, 1)
    assert d2.one("Message-ID") != d.one("Message-ID")


def test_set_headers_off(run):
    # With the three set_*_header off, smtpsend adds nothing at all.
    with Sink() as sk:
        p = run(["-i", "bob@example.net"], input=b"Subject: off\n\nx\n",
                config=sk.config("set_from_header off\nset_date_header off\n"
                                 "set_msgid_header off\n"))
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
        [t] = sk.accepted()
    head, _ = S.split_wire(t.unstuffed())
    assert head == b"Subject: off\r\n"


# ------------------------------------------------- -t union and dedupe

UNION_MSG = b"""\
From: Me <me@example.org>
To: Alice <alice@example.org>, "Smith, Bob" <bob@example.net>
To: carol@example.org
Cc: undisclosed-recipients:;
Cc: team: dave@example.org, Erin <erin@example.org>;,
 (the boss) frank@example.org
Bcc: grace@example.org,
\tAlice Again <alice@EXAMPLE.ORG>
Subject: union TOK

body
"""
UNION_RCPTS = ["alice@example.org", "bob@example.net", "carol@example.org",
               "dave@example.org", "erin@example.org", "frank@example.org",
               "grace@example.org", "heidi@example.net"]
UNION_ARGV = ["-t", "-i", "alice@example.org", "heidi@example.net",
              "Bob <bob@example.net>"]


def test_t_union_dedupe_wire(run):
    with Sink() as sk:
        p = run(UNION_ARGV, input=UNION_MSG, config=sk.config())
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
        [t] = sk.accepted()
    rcpts = [r.lower() for r in t.rcpt_addrs()]
    assert sorted(rcpts) == UNION_RCPTS      # each exactly once
    head, body = S.split_wire(t.unstuffed())
    fields = S.header_fields(head)
    assert "bcc" not in [n for n, _ in fields]
    assert b"grace" not in head
    assert [n for n, _ in fields].count("to") == 2
    assert [n for n, _ in fields].count("cc") == 2
    assert body == b"body\r\n"


def test_t_union_delivered(postfix, run):
    tok = _tok()
    p = run(UNION_ARGV, input=UNION_MSG.replace(b"TOK", tok.encode()),
            config=plain_config(postfix))
    assert p.returncode == 0, p.stderr
    copies = S.delivered(postfix, tok, len(UNION_RCPTS), settle=1)
    assert [d.rcpt.lower() for d in copies] == UNION_RCPTS
    for d in copies:
        assert d.get("bcc") == []
        if d.rcpt != "grace@example.org":
            assert b"grace" not in d.raw.split(b"\n\n")[0]


def test_resent_block(run):
    msg = (b"Resent-From: Relay <relay@example.org>\n"
           b"Resent-To: first@example.org\n"
           b"Resent-Bcc: secret@example.org\n"
           b"Resent-Date: Wed, 25 Nov 2026 03:10:00 +0100\n"
           b"Resent-Message-ID: <r2@example.org>\n"
           b"Resent-From: Older <older@example.org>\n"
           b"Resent-To: older-rcpt@example.org\n"
           b"From: Orig <orig@example.org>\nTo: orig-to@example.org\n"
           b"Bcc: orig-bcc@example.org\nSubject: resent\n\nx\n")
    with Sink() as sk:
        p = run(["-t", "-i"], input=msg, config=sk.config())
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
        [t] = sk.accepted()
    # Only the topmost Resent- block counts.
    assert sorted(t.rcpt_addrs()) == ["first@example.org",
                                      "secret@example.org"]
    head, _ = S.split_wire(t.unstuffed())
    names = [n for n, _ in S.header_fields(head)]
    assert "resent-bcc" not in names and "bcc" not in names
    assert b"secret@" not in head and b"orig-bcc@" not in head


def test_bcc_removed_without_t(run):
    with Sink() as sk:
        p = run(["-i", "to@example.org", "hidden@example.org"],
                input=b"To: to@example.org\nBcc: hidden@example.org\n"
                      b"Subject: s\n\nx\n", config=sk.config())
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
        [t] = sk.accepted()
    assert sorted(t.rcpt_addrs()) == ["hidden@example.org", "to@example.org"]
    head, _ = S.split_wire(t.unstuffed())
    assert b"hidden" not in head


HIDDEN = ["u%03d@secret.example" % i for i in range(1, 61)]


@pytest.mark.parametrize("name", ["Bcc :", "Bcc\t:", "Resent-Bcc :"])
def test_bcc_obsolete_form_long_line(postfix, run, name):
    # Issue 9's reproducer: "Bcc :" (RFC 5322 4.5.3's blank before the
    # colon) on a line over 998 octets.  It was folded at that blank, the
    # field became "Bcc" CRLF, and the 60 hidden addresses got no RCPT and
    # reached the visible recipient.
    tok = _tok()
    resent = "Resent-From : r@example.org\n" if name.startswith("R") else ""
    msg = ("From: me@example.com\nTo: you@example.com\n%s%s%s\n"
           "Subject: hi %s\n\nbody\n" % (resent, name, ",".join(HIDDEN),
                                         tok)).encode()
    assert len(msg.split(b"\n")[2 + bool(resent)]) > 998
    p = run(["-t", "-i"], input=msg, config=plain_config(postfix))
    assert p.returncode == 0, p.stderr
    want = HIDDEN + ([] if resent else ["you@example.com"])
    copies = S.delivered(postfix, tok, len(want), settle=1)
    assert sorted(d.rcpt for d in copies) == sorted(want)
    for d in copies:
        # What the client sent starts at its From (Postfix prepends
        # Return-Path, X-Original-To, Delivered-To and Received).
        head = d.raw.split(b"\n\n")[0]
        sent = head[head.index(b"\nFrom: me@example.com\n"):]
        assert b"secret" not in sent, head
        assert d.get("bcc") == [] and d.get("resent-bcc") == []
    # Without -t the field is removed all the same.
    tok = _tok()
    p = run(["-i", "you@example.com"], input=msg.replace(
        b"hi ", b"hi %s " % tok.encode()), config=plain_config(postfix))
    assert p.returncode == 0, p.stderr
    [d] = S.delivered(postfix, tok, 1, settle=0.5)
    assert b"secret" not in d.raw


def test_undisclosed_recipients_delivered(postfix, run):
    # msmtp's undisclosed_recipients (issue 9: the keyword made the whole
    # file fail): To, Cc and Bcc are replaced by one "To:
    # undisclosed-recipients:;", the recipients are unchanged.  Set in
    # defaults and inherited, as Proxmox's /etc/msmtprc does.
    tok = _tok()
    msg = ("From: Me <me@example.org>\n"
           "To: Alice <alice@example.org>, bob@example.net\n"
           "Cc : carol@example.org\n"
           "Bcc: dave@example.org\n"
           "Subject: undisclosed %s\n\nbody\n" % tok).encode()
    cfg = ("defaults\nundisclosed_recipients\nremove_bcc_headers off\n" +
           plain_config(postfix))
    p = run(["-t", "-i", "erin@example.org"], input=msg, config=cfg)
    assert p.returncode == 0, p.stderr
    want = ["alice@example.org", "bob@example.net", "carol@example.org",
            "dave@example.org", "erin@example.org"]
    copies = S.delivered(postfix, tok, len(want), settle=1)
    assert [d.rcpt for d in copies] == want
    for d in copies:
        assert d.get("to") == [b"undisclosed-recipients:;"], d.raw[:600]
        assert d.get("cc") == [] and d.get("bcc") == []
        head = d.raw.split(b"\n\n")[0]
        sent = head[head.index(b"\nFrom: Me"):]
        for r in want:
            assert r.encode() not in sent, sent
        assert d.one("Subject") == "undisclosed %s" % tok
    # An account that turns it off again keeps the headers.
    tok = _tok()
    p = run(["-t", "-i"], input=msg.replace(b"undisclosed ",
                                            b"disclosed %s " % tok.encode()),
            config=cfg + "undisclosed_recipients off\n")
    assert p.returncode == 0, p.stderr
    copies = S.delivered(postfix, tok, 4, settle=1)
    for d in copies:
        assert d.get("to") == [b"Alice <alice@example.org>, bob@example.net"]
        assert d.get("cc") == [b"carol@example.org"]
        # remove_bcc_headers off (from defaults) is honoured.
        assert d.get("bcc") == [b"dave@example.org"]


@pytest.mark.parametrize("extra,kept", [
    ("", False),
    ("remove_bcc_headers on\n", False),
    ("remove_bcc_headers off\n", True),
    ("keepbcc on\n", True),
])
def test_remove_bcc_headers_as_documented(run, extra, kept):
    # Issue 9, item 18: the README and the man page said Bcc is "always"
    # removed, but remove_bcc_headers off (msmtp's keyword, and its old
    # name keepbcc) is honoured.  The code is right; the documents now say
    # what it does.
    with Sink() as sk:
        p = run(["-t", "-i"], input=b"To: to@example.org\n"
                b"Bcc: hidden@example.org\nSubject: s\n\nx\n",
                config=sk.config(extra))
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
        [t] = sk.accepted()
    assert sorted(t.rcpt_addrs()) == ["hidden@example.org", "to@example.org"]
    head, _ = S.split_wire(t.unstuffed())
    assert (b"\r\nBcc: hidden@example.org\r\n" in head) == kept, head
    repo = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    for doc in ("doc/smtpsend.1", "README.md"):
        with open(os.path.join(repo, doc)) as f:
            text = " ".join(f.read().split())
        assert not re.search(r"always (remove|removes|removed)[^.|]*Bcc|"
                             r"Bcc[^.|]*always removed", text), doc
        assert "remove_bcc_headers off" in text, doc


# ------------------------------------------------------ -f / -r / -F

@pytest.mark.parametrize("args,mail", [
    (["-f", "user@example.net"], "user@example.net"),
    (["-fuser@example.net"], "user@example.net"),
    (["-r", "user@example.net"], "user@example.net"),
    (["-ruser@example.net"], "user@example.net"),
    (["-f", "root"], "root@example.org"),
    (["-f", "Some One <one@example.net>"], "one@example.net"),
    (["-f", "<>"], ""),
    (["-f", ""], ""),
])
def test_envelope_sender(args, mail, run):
    with Sink() as sk:
        p = run(args + ["-i", "rcpt@example.org"],
                input=b"From: x@example.org\nSubject: s\n\nx\n",
                config=sk.config())
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
        [t] = sk.accepted()
    assert t.mail_addr() == mail, t.mail
    if mail == "":
        assert t.mail.startswith(b"FROM:<>")


def test_f_delivered_return_path(postfix, run):
    tok = _tok()
    p = run(["-f", "bounces@example.net", "-i", "a@example.org"],
            input=("Subject: rp %s\n\nx\n" % tok).encode(),
            config=plain_config(postfix))
    assert p.returncode == 0, p.stderr
    [d] = S.delivered(postfix, tok, 1)
    assert d.sender == "bounces@example.net"
    # The added From is the envelope sender.
    assert email.utils.parseaddr(d.one("From"))[1] == "bounces@example.net"


def _added_from(run, args, msg=b"Subject: s\n\nx\n"):
    with Sink() as sk:
        p = run(args + ["-i", "rcpt@example.org"], input=msg,
                config=sk.config())
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
        [t] = sk.accepted()
    head, _ = S.split_wire(t.unstuffed())
    froms = [v for n, v in S.header_fields(head) if n == "from"]
    assert len(froms) == 1, head
    return froms[0]


def test_F_cron_daemon_form(run):
    # Debian cron's -FCronDaemon with an unqualified -f root.
    v = _added_from(run, ["-FCronDaemon", "-f", "root"])
    assert v == b"CronDaemon <root@example.org>"


def test_F_needs_quoting(run):
    v = _added_from(run, ["-F", "Cron, Daemon (x)", "-f", "a@example.org"])
    name, addr = email.utils.parseaddr(v.decode())
    assert (name, addr) == ("Cron, Daemon (x)", "a@example.org"), v
    assert v.startswith(b'"')


def test_F_non_ascii_encoded(run):
    v = _added_from(run, ["-F", "Zo\u00eb M\u00fcller", "-f",
                          "zoe@example.org"])
    assert all(b < 0x80 for b in v), v        # RFC 2047, not raw UTF-8
    assert b"=?" in v
    dec = str(email.header.make_header(email.header.decode_header(
        v.decode())))
    assert "Zo\u00eb M\u00fcller" in dec and "zoe@example.org" in dec


def test_F_non_ascii_long_address_within_998(run):
    # Issue 9: -F with a non-ASCII name skipped the 998-octet check; a
    # 990-octet local part gave a From line of over 1000 octets.  No line
    # can hold that address: refused before connecting, nothing sent.
    with Sink() as sk:
        p = run(["-f", "a" * 990 + "@example.com", "-F", "J\u00f6hn", "-i",
                 "rcpt@example.org"], input=b"Subject: s\n\nx\n",
                config=sk.config())
        assert p.returncode == 64, p.stderr
        assert b"From address is too long" in p.stderr, p.stderr
        assert sk.sessions == []
    # 980 octets: the address gets a line of its own.
    addr = "b" * 980 + "@example.com"
    with Sink() as sk:
        p = run(["-f", addr, "-F", "J\u00f6hn", "-i", "rcpt@example.org"],
                input=b"Subject: s\n\nx\n", config=sk.config())
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
        [t] = sk.accepted()
    assert wire_problems(t.data) == []
    head, _ = S.split_wire(t.unstuffed())
    [v] = [v for n, v in S.header_fields(head) if n == "from"]
    assert v == b"=?UTF-8?B?SsO2aG4=?= <%s>" % addr.encode()
    assert b"From: =?UTF-8?B?SsO2aG4=?=\r\n <b" in head


def test_F_does_not_replace_existing_from(run):
    v = _added_from(run, ["-F", "Other", "-f", "a@example.org"],
                    msg=b"From: Real <real@example.org>\nSubject: s\n\nx\n")
    assert v == b"Real <real@example.org>"


def test_from_full_name_keyword(run):
    with Sink() as sk:
        p = run(["-i", "rcpt@example.org"], input=b"Subject: s\n\nx\n",
                config=sk.config("from_full_name Backup Robot\n"))
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
        [t] = sk.accepted()
    head, _ = S.split_wire(t.unstuffed())
    assert b"From: Backup Robot <sender@example.org>\r\n" in head


# ------------------------------------------------------------- SIZE

def test_size_declared_exactly(run):
    body = b"".join(b"line %d\n" % i for i in range(500))
    with Sink(extensions=["PIPELINING", "SIZE 10000000", "8BITMIME"]) as sk:
        p = run(["-i", "rcpt@example.org"], input=b"Subject: s\n\n" + body,
                config=sk.config())
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
        [t] = sk.accepted()
    m = re.search(rb"SIZE=(\d+)", t.mail)
    assert m, t.mail
    assert int(m.group(1)) == len(t.unstuffed())


def test_size_over_postfix_limit(postfix, run):
    # The "small" listener has message_size_limit 10000: refused before
    # any data, permanently, and nothing delivered.
    tok = _tok()
    msg = ("Subject: big %s\n\n" % tok).encode() + (b"z" * 99 + b"\n") * 200
    p = run(["-i", "a@example.org"], input=msg,
            config=plain_config(postfix, listener="small"))
    assert p.returncode == 69, p.stderr
    assert b"size" in p.stderr.lower() or b"too big" in p.stderr.lower()
    assert not [m for m in postfix.messages() if tok.encode() in m]


# -------------------------------------------------------- 100 MB

BIG_LINES = 1_000_000          # 1,000,000 lines of 100 octets = 100 MB
RSS_LIMIT_KB = 30 * 1024


def _big_line(i):
    return b"%09d " % i + b"abcdefghijklmnopqrstuvwxyz0123456789" * 2 + \
        b"ABCDEFGHIJKLMNOP." + b"\n"       # 100 octets


assert len(_big_line(0)) == 100


# Peak RSS must be measured by a small parent: Linux keeps the high-water
# mark across exec, so a child spawned straight from the (large) pytest
# process would report pytest's size.  GNU time if installed, else a
# minimal python that forks, execs and wait4()s.
RSS_HELPER = r"""
import os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execvp(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, st, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % ru.ru_maxrss)
sys.exit(os.waitstatus_to_exitcode(st))
"""


def rss_wrapped(cmd, rss_file):
    if os.path.exists("/usr/bin/time"):
        return ["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd
    return ["/usr/bin/python3", "-S", "-c", RSS_HELPER, rss_file] + cmd


def _run_big(cmd, head, tmp_path):
    """Run cmd with head + 100 MB on a pipe; return (exit code, peak RSS
    in kB, stderr, sha256 of the body written)."""
    rss_file = str(tmp_path / "rss")
    proc = subprocess.Popen(rss_wrapped(cmd, rss_file),
                            stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    h = hashlib.sha256()
    errors = []

    def writer():
        try:
            proc.stdin.write(head)
            buf = []
            for i in range(BIG_LINES):
                buf.append(_big_line(i))
                if len(buf) == 10000:
                    chunk = b"".join(buf)
                    h.update(chunk)
                    proc.stdin.write(chunk)
                    buf = []
            proc.stdin.close()
        except OSError as e:
            errors.append(e)

    err = []
    # Not communicate(): it would close stdin under the writer.
    th = threading.Thread(target=writer, daemon=True)
    th_err = threading.Thread(target=lambda: err.append(proc.stderr.read()),
                              daemon=True)
    th.start()
    th_err.start()
    try:
        proc.wait(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    th.join(60)
    th_err.join(60)
    err = b"".join(err)
    assert not errors, errors
    with open(rss_file) as f:
        rss = int(f.read().split()[-1])
    return proc.returncode, rss, err, h.hexdigest()


def test_100mb_delivered_constant_memory(postfix, run, tmp_path):
    tok = _tok()
    head = ("From: Big <big@example.org>\nTo: big@example.org\n"
            "Subject: 100 MB %s\n\n" % tok).encode()
    cmd = run.command() + ["-C", run.config_file(plain_config(postfix)),
                           "-i", "big@example.org"]
    rc, rss, err, digest = _run_big(cmd, head, tmp_path)
    assert rc == 0, err
    if not os.environ.get("SMTPSEND_WRAPPER"):
        # Reading the message into memory would need > 100 MB.
        assert rss < RSS_LIMIT_KB, "peak RSS %d kB" % rss
    [d] = S.delivered(postfix, tok, 1, timeout=180)
    assert len(d.body) == BIG_LINES * 100
    assert hashlib.sha256(d.body).hexdigest() == digest


def test_100mb_wire(run, tmp_path):
    head = b"Subject: 100 MB on the wire\n\n"
    with Sink(extensions=["PIPELINING", "SIZE 0", "8BITMIME"],
              timeout=120) as sk:
        cmd = run.command() + ["-C", run.config_file(sk.config()), "-i",
                               "big@example.org"]
        rc, _, err, digest = _run_big(cmd, head, tmp_path)
        assert rc == 0, err
        sk.wait_sessions(1, timeout=120)
        [t] = sk.accepted()
    assert wire_problems(t.data) == []
    _, body = S.split_wire(t.unstuffed())
    assert len(body) == BIG_LINES * 101           # CRLF line ends
    assert hashlib.sha256(body.replace(b"\r\n", b"\n")).hexdigest() == \
        digest
    m = re.search(rb"SIZE=(\d+)", t.mail)
    assert m and int(m.group(1)) == len(t.unstuffed())


# ---------------------------------------------------------- logging

def _log_fields(line):
    """key=value pairs of a log line; quoted values kept whole."""
    return dict(re.findall(r"(\w+)=('[^']*'|\S+)", line))


def test_logfile_success_line(postfix, run, tmp_path):
    log = tmp_path / "smtpsend.log"
    tok = _tok()
    msg = ("Subject: log %s\n\nbody\n" % tok).encode()
    p = run(["-f", "me@example.org", "-i", "a@example.org", "b@example.net"],
            input=msg, config=plain_config(postfix, "logfile %s\n" % log))
    assert p.returncode == 0, p.stderr
    S.delivered(postfix, tok, 2)
    lines = log.read_text().splitlines()
    assert len(lines) == 1, lines
    f = _log_fields(lines[0])
    assert f["host"] == "127.0.0.1"
    assert f["tls"] == "off"
    assert f["auth"] == "off"
    assert "user" not in f
    assert f["from"] == "me@example.org"
    assert f["recipients"] == "a@example.org,b@example.net"
    assert int(f["mailsize"]) > len(msg)      # with the added headers
    assert "queued as" in f["smtpmsg"] and f["smtpmsg"].startswith("'250")
    assert f["exitcode"] == "EX_OK"
    assert os.stat(log).st_mode & 0o077 == 0


def test_logfile_failure_line(run, tmp_path):
    log = tmp_path / "fail.log"
    with Sink(refuse=["nobody@example.org"]) as sk:
        p = run(["-i", "nobody@example.org"], input=b"Subject: s\n\nx\n",
                config=sk.config("logfile %s\n" % log))
        sk.wait_sessions(1)
    assert p.returncode == 67, p.stderr
    [line] = log.read_text().splitlines()
    f = _log_fields(line)
    assert f["exitcode"] == "EX_NOUSER"
    assert f["smtpstatus"] == "550"
    assert "nobody@example.org" in f["smtpmsg"]
    assert f["recipients"] == "nobody@example.org"


def test_logfile_auth_line(postfix, run, tmp_path):
    # AUTH over cleartext is allowed to a loopback server: the line names
    # the mechanism and the user, never the password.
    log = tmp_path / "auth.log"
    tok = _tok()
    p = run(["-i", "a@example.org"],
            input=("Subject: auth log %s\n\nx\n" % tok).encode(),
            config=plain_config(postfix, "auth plain\nuser alice\n"
                                "password secret\nlogfile %s\n" % log,
                                listener="plain_auth"))
    assert p.returncode == 0, p.stderr
    S.delivered(postfix, tok, 1)
    [line] = log.read_text().splitlines()
    f = _log_fields(line)
    assert f["user"] == "alice"
    assert f["auth"].upper() == "PLAIN"
    assert "secret" not in line
    assert "c2VjcmV0" not in line and "YWxpY2U" not in line


def test_auth_off_needs_no_secret(run):
    # msmtp's meaning: "auth off" with a user set sends no AUTH, so no
    # password is looked up (no keyring, no prompt).
    with Sink() as sk:
        p = run(["-i", "a@example.org"], input=b"Subject: s\n\nx\n",
                config=sk.config("user bob\nauth off\n"), env={
                    "DBUS_SESSION_BUS_ADDRESS": "unix:path=/nonexistent"})
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
        assert len(sk.accepted()) == 1


def test_logfile_time_format(run, tmp_path):
    log = tmp_path / "t.log"
    with Sink() as sk:
        p = run(["-i", "a@example.org"], input=b"Subject: s\n\nx\n",
                config=sk.config("logfile %s\nlogfile_time_format "
                                 "STAMP-%%Y\n" % log))
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
    assert re.match(r"STAMP-\d{4} host=127\.0\.0\.1 ", log.read_text())


def _connects_to_dev_log(run, config):
    if not shutil.which("strace"):
        pytest.skip("strace not installed")
    with Sink() as sk:
        cmd = ["strace", "-f", "-qq", "-e", "trace=connect,sendto",
               "-o", "/dev/stderr"] + \
            [c for c in run.command() if c] + \
            ["-C", run.config_file(sk.config(config)), "-i", "a@example.org"]
        # LeakSanitizer cannot run under ptrace (an ASan build would exit
        # 98); the leak check is not what this test is about.
        env = dict(os.environ)
        env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                               ":detect_leaks=0").lstrip(":")
        p = subprocess.run(cmd, input=b"Subject: s\n\nx\n", env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
    return b"/dev/log" in p.stderr


@pytest.mark.skipif(bool(os.environ.get("SMTPSEND_WRAPPER")),
                    reason="strace of the wrapper")
def test_syslog_default_follows_stderr(run):
    # stderr is a pipe here (nobody at a terminal): syslog by default
    # (issue 10); "syslog off" turns it off.  test_syslog.py reads the line.
    assert not _connects_to_dev_log(run, "syslog off\n")
    assert _connects_to_dev_log(run, "")


def test_no_logfile_by_default(run, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with Sink() as sk:
        p = run(["-i", "a@example.org"], input=b"Subject: s\n\nx\n",
                config=sk.config(), env={"HOME": str(home)})
        assert p.returncode == 0, p.stderr
        sk.wait_sessions(1)
    assert p.stdout == b"" and p.stderr == b""
    assert list(home.iterdir()) == []
