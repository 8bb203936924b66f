"""Real callers: the argv and message shapes of every program in
CLIENTS.md, replayed against the real Postfix (what was delivered) and
against the capturing sink (the exact octets on the wire).

Each case is what the program really runs and writes (see CLIENTS.md and
the programs' sources): argv after the program name, argv[0] where the
caller uses "sendmail", the environment it leaves, and a realistic
message.  The checks for each case:

  Postfix  exit 0; one copy per expected recipient (X-Original-To) and no
           other; envelope sender (Return-Path); exactly one From, Date and
           Message-ID, the caller's own kept unchanged, the added ones in
           the right form; no Bcc; every other header kept; the body as
           sent (Maildir copy: LF line ends).
  sink     every wire rule (CRLF only, no NUL, no line over 998 octets,
           final CRLF), the body exactly as the rules make it
           (normalised + dot-stuffed), the envelope, one transaction.

The programs themselves (git send-email, mutt, neomutt, s-nail, bsd-mailx,
GNU mailutils, PHP mail(), Debian cron, at, anacron) run in
test_callers_real.py; their replays here stay on the wire (the exact
octets, which Postfix's copy cannot show) and over implicit TLS, and the
Postfix replay is kept for the shapes the real runs do not produce (a
1010-byte cron Subject, sendemail.sendmailcmd through sh, s-nail's -m -v,
mutt with a bare sendmail setting, and the programs not run for real).
"""

import email.utils
import os
import quopri
import re
import subprocess
import uuid

import pytest

import sink as S
from sink import Sink, wire_problems

FROM = "sender@example.org"     # the account's from: domain example.org


def plain_config(postfix, extra=""):
    return ("account default\nhost 127.0.0.1\nport %d\ntls off\n"
            "from %s\n%s" % (postfix.port("plain"), FROM, extra))


@pytest.fixture
def call(run, tmp_path):
    return S.Caller(run, tmp_path)


# ------------------------------------------------------------------ cases
# Each case: args, message (bytes, "TOK" is replaced by a unique token),
# rcpts (expected envelope recipients), sender (expected envelope sender),
# and optional argv0, sh, env, clean_env, from_added (expected From header
# address/name when the caller sends none), keep (headers whose value must
# arrive unchanged), verbose.

CRON_ENV = {"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh", "HOME": "/root"}

CRON_MSG = b"""\
From: root (Cron Daemon)
To: %(to)s
Subject: Cron <root@vm> %(cmd)s
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: 8bit
X-Cron-Env: <SHELL=/bin/sh>
X-Cron-Env: <HOME=/root>
X-Cron-Env: <PATH=/usr/bin:/bin>
X-Cron-Env: <LOGNAME=root>

backup: 3 files copied
rsync: warning: some files vanished before they could be transferred
"""

LONG_CMD = b"/usr/bin/find /var/log/TOK " + b" ".join(
    b"-name '*.%d.gz'" % i for i in range(200))
LONG_CMD = LONG_CMD[:1010 - len(b"Subject: Cron <root@vm> ")]

GIT_PATCH = b"""\
From: A U Thor <author@example.org>
To: list@example.net
Cc: Reviewer <reviewer@example.org>
Subject: [PATCH v2 1/2] spool: stream the body in fixed blocks TOK
Date: Wed, 25 Nov 2026 01:38:00 +0100
Message-ID: <20261125003800.4242-1-author@example.org>
X-Mailer: git-send-email 2.39.5
MIME-Version: 1.0
Content-Transfer-Encoding: 8bit

Reading the whole message into memory made a 100 MB mail cost 100 MB.

Signed-off-by: A U Thor <author@example.org>
---
 message.c | 4 ++--
 1 file changed, 2 insertions(+), 2 deletions(-)

diff --git a/message.c b/message.c
index 3b18e51..a9c0f1d 100644
--- a/message.c
+++ b/message.c
@@ -10,7 +10,7 @@ message_write(const struct message *m)
 \tsize_t n;
-.\tunused
+.\tused
 
 \tif (n == 0)
 \t\treturn 0;
-- 
2.39.5

"""

MUTT_MSG = b"""\
Date: Wed, 25 Nov 2026 02:01:13 +0100
From: Me Myself <me@example.org>
To: You <you@example.net>
Cc: cc@example.org
Subject: the report TOK
Message-ID: <20261125010113.GA31337@host.example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="7JfCtLOvnd9MIVvH"
Content-Disposition: inline
Content-Transfer-Encoding: 8bit
User-Agent: Mutt/2.2.9 (2022-11-12)


--7JfCtLOvnd9MIVvH
Content-Type: text/plain; charset=utf-8
Content-Disposition: inline
Content-Transfer-Encoding: 8bit

Hall\xc3\xb6, here is the r\xc3\xa9port.
.
-- 
Me

--7JfCtLOvnd9MIVvH
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="data.bin"
Content-Transfer-Encoding: base64

AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1
Njc4OTo7PD0+P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWpr
--7JfCtLOvnd9MIVvH--
"""


def _u_u_message():
    from email.mime.text import MIMEText
    m = MIMEText("Unattended upgrade result: All upgrades installed\n\n"
                 "Packages that were upgraded:\n libssl3 openssl\n\n"
                 "Unattended-upgrades log:\nInitial blacklist:\n"
                 "Allowed origins are: o=Debian,a=stable\n"
                 "Pr\u00fcfung abgeschlossen \u2713\n", "plain", "utf-8")
    m["Subject"] = "unattended-upgrades result for vm: True TOK"
    m["From"] = "root"
    m["To"] = "root"
    m["Auto-Submitted"] = "auto-generated"
    return m.as_bytes()


CASES = {
    "cron-debian": dict(
        args=["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"],
        msg=CRON_MSG % {b"to": b"root",
                        b"cmd": b"/usr/local/bin/backup --all TOK"},
        rcpts=["root@example.org"], sender=FROM, env=CRON_ENV,
        clean_env=True),
    "cron-debian-mailto-list": dict(
        args=["-FCronDaemon", "-i", "-B8BITMIME", "-oem",
              "alice@example.org,Bob <bob@example.net>"],
        msg=CRON_MSG % {b"to": b"alice@example.org,Bob <bob@example.net>",
                        b"cmd": b"run-parts /etc/cron.daily TOK"},
        rcpts=["alice@example.org", "bob@example.net"], sender=FROM,
        env=CRON_ENV, clean_env=True),
    "cron-debian-1010-byte-subject": dict(
        args=["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"],
        msg=CRON_MSG % {b"to": b"root", b"cmd": LONG_CMD},
        rcpts=["root@example.org"], sender=FROM, env=CRON_ENV,
        clean_env=True),
    "cronie": dict(
        args=["-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f",
              "root"],
        msg=b"""\
From: "(Cron Daemon)" <root>
To: alice
Subject: Cron <root@vm> run-parts /etc/cron.hourly TOK
MIME-Version: 1.0
Content-Type: text/plain; charset=UTF-8
Auto-Submitted: auto-generated
Precedence: bulk
X-Cron-Env: <LANG=C.UTF-8>
X-Cron-Env: <SHELL=/bin/sh>

/etc/cron.hourly/logrotate:
error: skipping "/var/log/x.log" because parent directory has insecure \
permissions
""",
        rcpts=["alice@example.org"], sender="root@example.org",
        env=CRON_ENV, clean_env=True),
    "busybox-crond": dict(
        args=["-ti"],
        msg=b"To: root\nSubject: cron: /etc/periodic/daily TOK\n\n"
            b"run-parts: /etc/periodic/daily/backup: exit status 1\n",
        rcpts=["root@example.org"], sender=FROM, from_added=("", FROM),
        env=CRON_ENV, clean_env=True),
    "anacron": dict(
        args=["-FAnacron", "-odi", "root"],
        msg=b"""\
From: Anacron <root>
To: root
Content-Type: text/plain; charset="UTF-8"
Subject: Anacron job 'cron.daily' on vm TOK

/etc/cron.daily/man-db:
.
mandb: can't set the locale; make sure $LC_* and $LANG are correct
""",
        rcpts=["root@example.org"], sender=FROM, env=CRON_ENV,
        clean_env=True),
    "at": dict(
        args=["-i", "root"], argv0="sendmail",
        msg=b"Subject: Output from your job        7 TOK\nTo: root\n\n"
            b"/tmp/job.sh: line 3: rsync: command not found\n",
        rcpts=["root@example.org"], sender=FROM, from_added=("", FROM),
        env={"PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}, clean_env=True),
    "sudo": dict(
        args=["-t"], argv0="sendmail",
        msg=b"""\
To: root
From: root
Auto-Submitted: auto-generated
Subject: *** SECURITY information for vm *** TOK

vm : Nov 25 01:40:00 : mallory : user NOT in sudoers ; TTY=pts/0 ; \
PWD=/home/mallory ; USER=root ; COMMAND=/bin/sh
""",
        rcpts=["root@example.org"], sender=FROM,
        env={"HOME": "/", "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh",
             "LOGNAME": "root", "USER": "root", "SUDO_USER": "mallory"},
        clean_env=True),
    "unattended-upgrades": dict(
        args=["-oi", "-t"], msg=_u_u_message(),
        rcpts=["root@example.org"], sender=FROM),
    "apt-listchanges": dict(
        args=["-oi", "-t"],
        msg="""\
Subject: apt-listchanges: news for vm TOK
To: root
Auto-Submitted: auto-generated
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"
Content-Transfer-Encoding: 8bit

openssl (3.0.15-1~deb12u1) bookworm-security; urgency=medium

  * Fix CVE-2024-5535 \u2014 \u201cSSL_select_next_proto\u201d buffer overread

 -- Sebastian Andrzej Siewior <sebastian@breakpoint.cc>  Sun, 05 Nov 2024
""".encode(),
        rcpts=["root@example.org"], sender=FROM, from_added=("", FROM)),
    "mdadm": dict(
        args=["-t"],
        msg=b"""\
From: mdadm monitoring <root>
To: root
Subject: Fail event on /dev/md0:vm TOK

This is an automatically generated mail message from mdadm
running on vm

A Fail event had been detected on md device /dev/md0.

It could be related to component device /dev/sdb1.

Faithfully yours, etc.

P.S. The /proc/mdstat file currently contains the following:

Personalities : [raid1] [linear] [multipath] [raid0]
md0 : active raid1 sdb1[1](F) sda1[0]
      976630464 blocks super 1.2 [2/1] [U_]
      bitmap: 2/8 pages [8KB], 65536KB chunk

unused devices: <none>
""",
        rcpts=["root@example.org"], sender=FROM),
    "logwatch": dict(
        args=["-t"],
        msg=b"""\
To: root
To: admin@example.net
From: Logwatch
Subject: Logwatch for vm (Linux) TOK
Auto-Submitted: auto-generated
MIME-Version: 1.0
Content-Transfer-Encoding: 7bit
Content-Type: text/plain; charset="iso-8859-1"

 ################### Logwatch 7.8 (01/22/23) ####################
        Processing Initiated: Wed Nov 25 02:00:01 2026
        Date Range Processed: yesterday
 ##################################################################

 --------------------- SSHD Begin ------------------------
 Failed logins from:
    203.0.113.7: 1412 times
 ---------------------- SSHD End -------------------------
""",
        rcpts=["admin@example.net", "root@example.org"], sender=FROM),
    "fail2ban": dict(
        args=["-f", "fail2ban@example.org",
              "admin@example.org,ops@example.net"],
        msg=b"""\
Subject: [Fail2Ban] sshd: banned 203.0.113.7 from vm TOK
Date: Wed, 25 Nov 2026 01:45:12 +0000
From: Fail2Ban <fail2ban@example.org>
To: admin@example.org,ops@example.net

Hi,

The IP 203.0.113.7 has just been banned by Fail2Ban after
5 attempts against sshd.

Regards,

Fail2Ban
""",
        rcpts=["admin@example.org", "ops@example.net"],
        sender="fail2ban@example.org", keep=["date"]),
    "git-send-email": dict(
        args=["-f", "author@example.org", "-i", "list@example.net",
              "reviewer@example.org", "hidden@example.org"],
        msg=GIT_PATCH,
        rcpts=["hidden@example.org", "list@example.net",
               "reviewer@example.org"],
        sender="author@example.org", keep=["date", "message-id", "from"]),
    "git-send-email-sendmailcmd": dict(
        args=["-i", "list@example.net", "reviewer@example.org"], sh=True,
        msg=GIT_PATCH,
        rcpts=["list@example.net", "reviewer@example.org"], sender=FROM,
        keep=["date", "message-id", "from"]),
    "mutt": dict(
        args=["-oem", "-oi", "-B8BITMIME", "-f", "me@example.org", "-N",
              "failure,delay", "-R", "hdrs", "--", "you@example.net",
              "cc@example.org"],
        msg=MUTT_MSG, rcpts=["cc@example.org", "you@example.net"],
        sender="me@example.org", keep=["date", "message-id", "from"]),
    "mutt-bare-sendmail": dict(
        args=["--", "you@example.net"],
        msg=b"Date: Wed, 25 Nov 2026 02:03:00 +0100\n"
            b"From: Me Myself <me@example.org>\nTo: you@example.net\n"
            b"Subject: short TOK\n"
            b"Message-ID: <20261125010300.GB31337@host.example.org>\n"
            b"MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n"
            b"Content-Disposition: inline\n\nok\n",
        rcpts=["you@example.net"], sender=FROM,
        keep=["date", "message-id", "from"]),
    "neomutt-write-bcc": dict(
        args=["-oem", "-oi", "--", "you@example.net", "hidden@example.org"],
        msg=b"Date: Wed, 25 Nov 2026 02:05:00 +0100\n"
            b"From: Me Myself <me@example.org>\nTo: You <you@example.net>\n"
            b"Bcc: hidden@example.org\nSubject: with bcc TOK\n"
            b"Message-ID: <20261125010500.GC31337@host.example.org>\n"
            b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
            b"Content-Disposition: inline\n"
            b"User-Agent: NeoMutt/20220429\n\nhidden copy\n",
        rcpts=["hidden@example.org", "you@example.net"], sender=FROM,
        keep=["date", "message-id", "from"]),
    "s-nail": dict(
        args=["-i", "-F", "Ann Example", "-f", "ann@example.org", "--",
              "bob@example.net"],
        msg=b"Date: Wed, 25 Nov 2026 02:07:00 +0100\nTo: bob@example.net\n"
            b"Subject: from s-nail TOK\nUser-Agent: s-nail v14.9.24\n"
            b"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
            b"Content-Transfer-Encoding: 8bit\n\nGr\xc3\xbc\xc3\x9fe\n",
        rcpts=["bob@example.net"], sender="ann@example.org",
        from_added=("Ann Example", "ann@example.org"), keep=["date"]),
    "s-nail-metoo-verbose": dict(
        args=["-i", "-m", "-v", "--", "bob@example.net"], verbose=True,
        msg=b"Date: Wed, 25 Nov 2026 02:08:00 +0100\nTo: bob@example.net\n"
            b"Subject: verbose TOK\n\nhi\n",
        rcpts=["bob@example.net"], sender=FROM, from_added=("", FROM),
        keep=["date"]),
    "bsd-mailx": dict(
        args=["-i", "-t", "-f", "carol@example.org"], argv0="sendmail",
        msg=b"To: dave@example.net\nSubject: lunch TOK\n"
            b"Cc: erin@example.org\nBcc: frank@example.org\n\n"
            b"see you at noon\n",
        rcpts=["dave@example.net", "erin@example.org", "frank@example.org"],
        sender="carol@example.org", from_added=("", "carol@example.org")),
    "gnu-mailutils": dict(
        args=["-oi", "-f", "root@vm.example.org", "-t"],
        msg="To: root\nSubject: disk report TOK\n"
            "X-Mailer: mail (GNU Mailutils 3.15)\n\n"
            "Gr\u00fc\u00dfe aus K\u00f6ln \u2014 na\u00efve caf\u00e9 "
            "\u2713\n/dev/sda1  93%\n".encode(),
        rcpts=["root@example.org"], sender="root@vm.example.org",
        from_added=("", "root@vm.example.org")),
    "php-mail": dict(
        args=["-t", "-i", "-fbounce@example.org"],
        msg=b"To: customer@example.net\nSubject: Your order #1042 TOK\n"
            b"From: Shop <shop@example.org>\r\n"
            b"Reply-To: support@example.org\r\n"
            b"Bcc: archive@example.org\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/html; charset=UTF-8\n\n"
            b"<html>\n<body>\n<p>Thank you for your order.</p>\n"
            b"<p>Total: 42.00 \xe2\x82\xac</p>\n</body>\n</html>\n",
        rcpts=["archive@example.org", "customer@example.net"],
        sender="bounce@example.org", keep=["from"]),
    # A newsletter script: one To line of 60 addresses (1,300 octets).
    "php-mail-60-recipients": dict(
        args=["-t", "-i", "-fbounce@example.org"],
        msg=b"To: " + b", ".join(b"user%02d@example.org" % i
                                 for i in range(60)) +
            b"\nSubject: Newsletter TOK\nFrom: News <news@example.org>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain; "
            b"charset=UTF-8\n\nThis month: nothing new.\n",
        rcpts=["user%02d@example.org" % i for i in range(60)],
        sender="bounce@example.org", keep=["from", "to"]),
    "phpmailer": dict(
        args=["-oi", "-fsender@example.org", "-t"],
        msg=b"Date: Wed, 25 Nov 2026 02:10:00 +0000\r\n"
            b"To: Customer <to@example.net>\r\n"
            b"From: Web Shop <sender@example.org>\r\n"
            b"Subject: Password reset TOK\r\n"
            b"Message-ID: <Zk1Pq0v8yA9D3bQ2Vd@shop.example.org>\r\n"
            b"X-Mailer: PHPMailer 6.8.1 (https://github.com/PHPMailer/"
            b"PHPMailer)\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/alternative;\r\n"
            b" boundary=\"b1=_Zk1Pq0v8yA9D3bQ2Vd\"\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n"
            b"This is a multi-part message in MIME format.\r\n"
            b"--b1=_Zk1Pq0v8yA9D3bQ2Vd\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
            b"Reset: https://shop.example.org/r/abc\r\n\r\n"
            b"--b1=_Zk1Pq0v8yA9D3bQ2Vd\r\n"
            b"Content-Type: text/html; charset=us-ascii\r\n\r\n"
            b"<a href=\"https://shop.example.org/r/abc\">Reset</a>\r\n\r\n"
            b"--b1=_Zk1Pq0v8yA9D3bQ2Vd--\r\n",
        rcpts=["to@example.net"], sender="sender@example.org",
        keep=["date", "message-id", "from"]),
    "nodemailer": dict(
        args=["-i", "-f", "app@example.org", "user1@example.net",
              "user2@example.net"],
        msg=b"Content-Type: text/plain; charset=utf-8\n"
            b"From: App <app@example.org>\n"
            b"To: user1@example.net, user2@example.net\n"
            b"Subject: Welcome TOK\n"
            b"Message-ID: <6f1c2a9e-8d0b-4c1e-9a57-3e2b7f0d9c11@example.org>\n"
            b"Content-Transfer-Encoding: quoted-printable\n"
            b"Date: Wed, 25 Nov 2026 02:12:00 +0000\nMIME-Version: 1.0\n\n"
            b"Welcome aboard =E2=80=94 your account is ready.\n",
        rcpts=["user1@example.net", "user2@example.net"],
        sender="app@example.org", keep=["date", "message-id", "from"]),
}


def _token():
    return "t" + uuid.uuid4().hex[:12]


def _case(name):
    c = dict(CASES[name])
    tok = _token()
    c["tok"] = tok
    c["msg"] = c["msg"].replace(b"TOK", tok.encode())
    return c


def _send(call, c, config):
    env = dict(c.get("env") or {})
    if c.get("clean_env"):
        # Keep what a wrapper (valgrind) needs to run at all.
        for k in ("PATH", "VALGRIND_LIB", "LD_LIBRARY_PATH"):
            if k in os.environ and k not in env:
                env[k] = os.environ[k]
    return call(c["args"], input=c["msg"], config=config,
                argv0=c.get("argv0"), sh=c.get("sh", False), env=env,
                clean_env=c.get("clean_env", False))


def _orig_headers(msg):
    """The caller's header fields, as (name, value) after normalisation."""
    head, _ = S.split_wire(S.normalize(msg))
    return S.header_fields(head)


def _orig_body(msg):
    return S.split_wire(S.normalize(msg))[1]


def _addr(value):
    name, addr = email.utils.parseaddr(value)
    return name, addr


def _ws(b):
    return re.sub(rb"\s+", b" ", b).strip()


# Issue 10: bare names in these fields arrive qualified with the account's
# domain (no aliases file in these cases).
ADDR_FIELDS = ("from", "sender", "reply-to", "to", "cc", "resent-from",
               "resent-sender", "resent-to", "resent-cc")


def _qualify_elem(e):
    if b"@" in e or e.strip().endswith(b";") or not e.strip():
        return e
    m = re.search(rb"<([^<>]*)>", e)
    if m:
        return e[:m.end(1)] + b"@example.org" + e[m.end(1):]
    m = re.match(rb"(\s*[^\s(]+)", e)
    return e[:m.end(1)] + b"@example.org" + e[m.end(1):]


def _expect(name, value):
    """What smtpsend sends for the caller's field: bare names qualified
    in address fields (simple lists: the test cases' forms)."""
    if name not in ADDR_FIELDS or b'"' in value:
        return value
    if b":" in value:  # a group: its members
        head, rest = value.split(b":", 1)
        return head + b":" + _expect(name, rest)
    return b",".join(_qualify_elem(e) for e in value.split(b","))


def check_delivered(copies, c, problems):
    """Collect what is wrong with the Postfix copies of case c."""
    msg = c["msg"]
    got = sorted(d.rcpt.lower() for d in copies)
    if got != sorted(c["rcpts"]):
        problems.append("recipients %r, expected %r" % (got, c["rcpts"]))
    orig = _orig_headers(msg)
    orig_names = {n for n, _ in orig}
    body = _orig_body(msg).replace(b"\r\n", b"\n")
    for d in copies:
        where = "copy for %s: " % d.rcpt
        if d.sender != c["sender"]:
            problems.append(where + "envelope sender %r, expected %r"
                            % (d.sender, c["sender"]))
        if d.get("bcc") or d.get("resent-bcc"):
            problems.append(where + "Bcc header delivered")
        for h in ("from", "date", "message-id"):
            if len(d.get(h)) != 1:
                problems.append(where + "%d %s fields" % (len(d.get(h)), h))
        if problems:
            continue
        date = d.one("Date")
        try:
            email.utils.parsedate_to_datetime(date)
        except (TypeError, ValueError):
            problems.append(where + "bad Date %r" % date)
        mid = d.one("Message-ID")
        if "message-id" not in orig_names:
            dom = c["sender"].rsplit("@", 1)[1]
            if not re.fullmatch(r"<[!-;=?-~]+@%s>" % re.escape(dom), mid):
                problems.append(where + "added Message-ID %r not "
                                "<unique@%s>" % (mid, dom))
        fname, faddr = _addr(d.one("From"))
        if "from" not in orig_names:
            want = c.get("from_added", ("", c["sender"]))
            if (fname, faddr.lower()) != want:
                problems.append(where + "added From %r, expected %r"
                                % (d.one("From"), want))
        for h in c.get("keep", []):
            want = [v for n, v in orig if n == h]
            if [_ws(v) for v in d.get(h)] != [_ws(v) for v in want]:
                problems.append(where + "%s changed: %r -> %r"
                                % (h, want, d.get(h)))
        # Every other header of the caller arrives (unqualified From aside).
        for n, v in orig:
            if n in ("bcc", "resent-bcc", "from"):
                continue
            if _ws(_expect(n, v)) not in [_ws(x) for x in d.get(n)]:
                problems.append(where + "header %s: %r lost" % (n, v))
        if d.body != body:
            problems.append(where + "body differs:\n%r\n%r"
                            % (d.body[:400], body[:400]))
    if not problems and len({d.one("Message-ID") for d in copies}) != 1:
        problems.append("copies have different Message-IDs")


# The cases whose program test_callers_real.py runs for real, delivering
# through Postfix: their Postfix replay adds nothing.
REAL = {"cron-debian", "cron-debian-mailto-list", "anacron", "at",
        "git-send-email", "mutt", "neomutt-write-bcc", "s-nail", "bsd-mailx",
        "gnu-mailutils", "php-mail"}


@pytest.mark.parametrize("name", sorted(set(CASES) - REAL))
def test_caller_delivered(name, postfix, call):
    c = _case(name)
    p = _send(call, c, plain_config(postfix))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    if c.get("verbose"):
        # -v: the transcript is on stderr.
        assert b"MAIL FROM:" in p.stderr and b"RCPT TO:" in p.stderr, \
            p.stderr
    copies = S.delivered(postfix, c["tok"], len(c["rcpts"]))
    problems = []
    check_delivered(copies, c, problems)
    assert not problems, "\n".join(problems)


def test_unqualified_from_header_qualified(postfix, call):
    """DESIGN "Message fixes": unqualified names (`root`, `Anacron
    <root>`) are qualified.  The From header of cron, anacron, sudo,
    mdadm, logwatch, unattended-upgrades names a bare local user; as
    delivered it must carry the domain of the account's from, with the
    local part and display name kept."""
    problems = []
    for name in ("cron-debian", "cronie", "anacron", "sudo", "mdadm",
                 "logwatch", "unattended-upgrades"):
        c = _case(name)
        p = _send(call, c, plain_config(postfix))
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        [orig] = [v for n, v in _orig_headers(c["msg"]) if n == "from"]
        oname, oaddr = _addr(orig.decode())
        for d in S.delivered(postfix, c["tok"], len(c["rcpts"])):
            fname, faddr = _addr(d.one("From"))
            if (fname, faddr) != (oname, oaddr + "@example.org"):
                problems.append("%s: From %r delivered as %r" % (
                    name, orig.decode(), d.one("From")))
    assert not problems, "\n".join(problems)


def tls_config(postfix, certs, mode):
    return ("account default\nhost localhost\nport %d\ntls on\n"
            "tls_starttls %s\ntls_trust_file %s\nfrom %s\n"
            % (postfix.port(mode), "on" if mode == "starttls" else "off",
               certs.ca, FROM))


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
@pytest.mark.parametrize("name", ["cron-debian", "git-send-email",
                                  "php-mail", "mutt"])
def test_caller_delivered_tls(name, mode, postfix, certs, call):
    c = _case(name)
    p = _send(call, c, tls_config(postfix, certs, mode))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    copies = S.delivered(postfix, c["tok"], len(c["rcpts"]))
    problems = []
    check_delivered(copies, c, problems)
    assert not problems, "\n".join(problems)
    # Postfix's Received header says the hop was encrypted.
    assert re.search(rb"with ESMTPSA? ", copies[0].raw), copies[0].raw[:600]


# ------------------------------------------------------- wire (the sink)

def check_wire(sk, c, problems, chunking=False):
    sess = sk.wait_sessions(1)
    txns = [t for s in sess for t in s.txns]
    if len(sess) != 1 or len(txns) != 1:
        problems.append("%d sessions, %d transactions" % (len(sess),
                                                          len(txns)))
        return None
    t = txns[0]
    if not t.accepted:
        problems.append("transaction not completed")
        return None
    if t.mail_addr() != c["sender"]:
        problems.append("MAIL FROM %r" % t.mail)
    if sorted(a.lower() for a in t.rcpt_addrs()) != sorted(c["rcpts"]):
        problems.append("RCPT %r" % t.rcpts)
    if t.mode != ("BDAT" if chunking else "DATA"):
        problems.append("sent with %s" % t.mode)
    problems.extend(wire_problems(t.data))
    data = t.unstuffed()
    head, body = S.split_wire(data)
    want = _orig_body(c["msg"])
    if max(len(x) for x in want.split(b"\r\n")) <= 998:
        if body != want:
            problems.append("body differs:\n%r\n%r" % (body[:400],
                                                       want[:400]))
    elif S.flat(body) != S.flat(want):
        problems.append("long-line body content differs")
    if t.mode == "DATA":
        # Dot-stuffing: the wire is exactly the stuffed form.
        if t.data != S.dotstuff(data):
            problems.append("not dot-stuffed")
    fields = S.header_fields(head)
    names = [n for n, _ in fields]
    if "bcc" in names or "resent-bcc" in names:
        problems.append("Bcc on the wire")
    # The caller's headers, in their order, unchanged (From may be
    # qualified).
    kept = [(n, _ws(v)) for n, v in fields if n != "from"]
    orig = [(n, _ws(_expect(n, v))) for n, v in _orig_headers(c["msg"])
            if n not in ("bcc", "resent-bcc", "from")]
    it = iter(kept)
    if not all(any(o == k for k in it) for o in orig):
        problems.append("headers changed or reordered:\n%r\n%r"
                        % (orig, kept))
    # 8-bit content is declared.
    if any(b >= 0x80 for b in c["msg"]) and b"BODY=8BITMIME" not in \
            t.mail.upper():
        problems.append("8-bit message sent without BODY=8BITMIME: %r"
                        % t.mail)
    return t


@pytest.mark.parametrize("chunking", [False, True], ids=["DATA", "BDAT"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_caller_wire(name, chunking, call):
    c = _case(name)
    ext = ["PIPELINING", "8BITMIME", "SIZE 0", "ENHANCEDSTATUSCODES", "DSN"]
    if chunking:
        ext.append("CHUNKING")
    with Sink(extensions=ext) as sk:
        p = _send(call, c, sk.config())
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        problems = []
        t = check_wire(sk, c, problems, chunking)
        if t is not None and name == "mutt":
            # -N failure,delay -R hdrs with DSN offered.
            if b"RET=HDRS" not in t.mail.upper():
                problems.append("no RET=HDRS: %r" % t.mail)
            for r, _ in t.rcpts:
                if b"NOTIFY=FAILURE,DELAY" not in r.upper():
                    problems.append("no NOTIFY=FAILURE,DELAY: %r" % r)
    assert not problems, "\n".join(problems)


# ------------------------------------------------------ hostile content

SMUGGLE_SEQS = {
    "crlf-dot-crlf": b"\r\n.\r\n",
    "lf-dot-lf": b"\n.\n",
    "lf-dot-crlf": b"\n.\r\n",
    "crlf-dot-lf": b"\r\n.\n",
    "cr-dot-cr": b"\r.\r",
    "crlf-dot-cr": b"\r\n.\r",
    "cr-dot-crlf": b"\r.\r\n",
    "dot-nul-crlf": b"\r\n.\0\r\n",
}

LONG_LINE = b" ".join(b"%04d" % i for i in range(600))   # 2999 octets

HOSTILE = {
    "bare-cr": b"progress  10%\rprogress  50%\rprogress 100%\rdone\n",
    "nul": b"binary\0junk\0\0 from a command\nsecond line\n",
    "3000-byte-line": b"before\n" + LONG_LINE + b"\nafter\n",
    "3000-bytes-no-space": b"before\n" + b"x" * 1500 + b"y" * 1500 +
                           b"\nafter\n",
    "lone-dot": b"first\n.\nlast\n",
    "leading-dots": b".hidden\n..two\n. space\n...\n",
    "no-final-newline": b"line one\nline two without newline",
    "8bit-no-mime": "Gr\u00fc\u00dfe \u2014 na\u00efve caf\u00e9 \u2713 "
                    "\u65e5\u672c\u8a9e\n".encode() + b"latin1 caf\xe9\n",
    "mixed-line-ends": b"crlf\r\nlf\ncr\rcrlf again\r\n\r\nlast",
}
for _k, _seq in SMUGGLE_SEQS.items():
    HOSTILE["smuggle-" + _k] = (
        b"before" + _seq + b"MAIL FROM:<evil@example.org>\r\n"
        b"RCPT TO:<victim-VICTIM@example.org>\r\nDATA\r\n"
        b"Subject: smuggled\r\n\r\nsmuggled body\r\n.\r\nQUIT\r\nafter\n")
HOSTILE["everything"] = b"".join(HOSTILE[k] for k in sorted(HOSTILE)
                                 if k != "no-final-newline") + \
    HOSTILE["no-final-newline"]


def _hostile_msg(kind, tok):
    body = HOSTILE[kind].replace(b"VICTIM", tok.encode())
    head = (b"From: root (Cron Daemon)\nTo: root\n"
            b"Subject: Cron <root@vm> hostile " + tok.encode() + b"\n\n")
    return head, body


def _expected_lf_body(body):
    return S.lf(body)


@pytest.mark.parametrize("via", ["BDAT", "DATA"])
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_delivered(kind, via, postfix, call):
    # Postfix offers CHUNKING, so smtpsend sends BDAT; for DATA (and
    # dot-stuffing) through the same Postfix, a proxy hides CHUNKING.
    tok = _token()
    head, body = _hostile_msg(kind, tok)
    args = ["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"]
    if via == "DATA":
        with S.HideChunking(postfix.port("plain")) as px:
            cfg = ("account default\nhost 127.0.0.1\nport %d\ntls off\n"
                   "from %s\n" % (px.port, FROM))
            p = call(args, input=head + body, config=cfg)
    else:
        p = call(args, input=head + body, config=plain_config(postfix))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    settle = 1.5 if kind.startswith("smuggle") or kind == "everything" \
        else 0
    [d] = S.delivered(postfix, tok, 1, settle=settle)
    assert d.rcpt == "root@example.org"
    want = _expected_lf_body(body)
    if max(len(x) for x in want.split(b"\n")) <= 998:
        assert d.body == want
    else:
        # Lines over 998 octets in a text body arrive quoted-printable
        # (issue 10) and decode to exactly what the caller wrote.
        assert d.get("content-transfer-encoding") == [b"quoted-printable"]
        assert quopri.decodestring(d.body) == want
        if kind.startswith("3000"):
            assert d.body.startswith(b"before\n") and \
                d.body.endswith(b"\nafter\n")
    if "smuggle" in kind or kind == "everything":
        # The smuggled commands are message text, and no one else got mail.
        assert b"MAIL FROM:<evil@example.org>" in d.body
        assert b"\nafter\n" in d.body
        victims = [m for m in postfix.messages()
                   if b"victim-" + tok.encode() in m.split(b"\n\n")[0]]
        assert not victims


@pytest.mark.parametrize("chunking", [False, True], ids=["DATA", "BDAT"])
@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_wire(kind, chunking, call):
    tok = _token()
    head, body = _hostile_msg(kind, tok)
    ext = ["PIPELINING", "8BITMIME", "SIZE 0"] + \
        (["CHUNKING"] if chunking else [])
    with Sink(extensions=ext) as sk:
        p = call(["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"],
                 input=head + body, config=sk.config())
        assert p.returncode == 0, p.stderr.decode(errors="replace")
        [sess] = sk.wait_sessions(1)
    # One transaction, and nothing from the body was read as a command.
    verbs = [c.split(b" ")[0].split(b":")[0].upper() for c in sess.commands]
    assert verbs.count(b"MAIL") == 1, sess.commands
    assert not [c for c in sess.commands if b"evil" in c], sess.commands
    assert verbs[-1] == b"QUIT", sess.commands
    [t] = sess.txns
    assert t.accepted and t.mode == ("BDAT" if chunking else "DATA")
    assert wire_problems(t.data) == []
    data = t.unstuffed()
    if t.mode == "DATA":
        assert t.data == S.dotstuff(data)
    whead, wbody = S.split_wire(data)
    want = S.normalize(body)
    if max(len(x) for x in want.split(b"\r\n")) <= 998:
        assert wbody == want
    else:
        assert b"Content-Transfer-Encoding: quoted-printable\r\n" in whead
        assert quopri.decodestring(wbody) == want
    if "smuggle" in kind and t.mode == "DATA":
        # The line that was a lone "." in some reading went out stuffed.
        assert b"\r\n..\r\n" in t.data


# ----------------------------------------------------------- aliases

def test_aliases_map_unqualified(postfix, call, tmp_path):
    al = tmp_path / "aliases"
    al.write_text("# msmtp aliases\nroot: ops@example.net, "
                  "oncall@example.net\npostmaster: root\n")
    tok = _token()
    msg = ("To: root, www-data\nSubject: aliases %s\n\nhi\n" % tok).encode()
    p = call(["-ti"], input=msg,
             config=plain_config(postfix, "aliases %s\n" % al))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    got = sorted(d.rcpt for d in S.delivered(postfix, tok, 3, settle=0.5))
    # root through the aliases file; www-data has no entry: qualified.
    assert got == ["oncall@example.net", "ops@example.net",
                   "www-data@example.org"]


def test_aliases_default_entry(postfix, call, tmp_path):
    al = tmp_path / "aliases"
    al.write_text("root: ops@example.net\ndefault: catchall@example.net\n")
    tok = _token()
    p = call(["-FCronDaemon", "-i", "root,www-data,alice@example.org"],
             input=("Subject: default %s\n\nx\n" % tok).encode(),
             config=plain_config(postfix, "aliases %s\n" % al))
    assert p.returncode == 0, p.stderr.decode(errors="replace")
    got = sorted(d.rcpt for d in S.delivered(postfix, tok, 3, settle=0.5))
    assert got == ["alice@example.org", "catchall@example.net",
                   "ops@example.net"]


# ------------------------------------------- recipients all-or-nothing

@pytest.mark.parametrize("refusal", ["550", "450"])
def test_one_refused_recipient_sends_nothing(refusal, call):
    refuse = ["bad@example.net"] if refusal == "550" else []
    temp = ["bad@example.net"] if refusal == "450" else []
    with Sink(refuse=refuse, tempfail=temp) as sk:
        p = call(["-i", "good@example.org", "bad@example.net",
                  "other@example.org"], input=b"Subject: x\n\nbody\n",
                 config=sk.config("queue off\n"))
        sk.wait_sessions(1)
        assert sk.accepted() == []
    assert p.returncode == (67 if refusal == "550" else 75)
    assert b"bad@example.net" in p.stderr


# ------------------------------------------------ options and early exits

def _drain_run(cmd, size=1 << 20, timeout=60):
    """Write size bytes to the command's stdin as a caller does; return
    (exit code, stderr, the error the writer got or None)."""
    import threading
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    errs = []
    written = []

    def writer():
        line = b"x" * 1023 + b"\n"
        try:
            for _ in range(size // len(line)):
                proc.stdin.write(line)
            proc.stdin.flush()
            written.append(True)
            proc.stdin.close()
        except (OSError, ValueError) as e:       # BrokenPipeError: EPIPE
            errs.append(e)

    # Not communicate(): it closes stdin under the writer.
    err = []
    th = threading.Thread(target=writer, daemon=True)
    th_err = threading.Thread(target=lambda: err.append(proc.stderr.read()),
                              daemon=True)
    th.start()
    th_err.start()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    th.join(timeout)
    th_err.join(timeout)
    if not errs and not written:
        errs.append("writer did not finish")
    return proc.returncode, b"".join(err), (errs[0] if errs else None)


@pytest.mark.parametrize("what", ["bad-option", "missing-config",
                                  "no-recipients", "unknown-account"])
def test_stdin_drained_on_early_error(what, run, tmp_path):
    base = run.command()
    cfg = run.config_file("account default\nhost 127.0.0.1\nport 9\n"
                          "tls off\nfrom a@example.org\n")
    cmd = {
        "bad-option": base + ["-C", cfg, "-Q", "root"],
        "missing-config": base + ["-C", str(tmp_path / "nope"), "root"],
        "no-recipients": base + ["-C", cfg],
        "unknown-account": base + ["-C", cfg, "-a", "nosuch", "root"],
    }[what]
    rc, err, werr = _drain_run(cmd)
    assert werr is None, "the writer got %r" % werr
    assert rc == {"bad-option": 64, "missing-config": 78,
                  "no-recipients": 64, "unknown-account": 78}[what], err
    assert b"smtpsend" in err, err


def test_unknown_option_usage(run):
    p = run(["-Q", "root"], input=b"x\n")
    assert p.returncode == 64
    lines = p.stderr.decode().strip().splitlines()
    assert 1 <= len(lines) <= 2, p.stderr
    assert any(ln.lower().startswith("usage") for ln in lines), p.stderr
    assert p.stdout == b""


def test_unknown_b_mode_usage(run):
    p = run(["-bz", "root"], input=b"x\n")
    assert p.returncode == 64
    assert b"usage" in p.stderr.lower()


def test_version(run):
    p = run(["--version"])
    assert p.returncode == 0
    assert re.search(rb"smtpsend\S* (version )?\d+\.\d+", p.stdout), p.stdout


def test_help(run):
    p = run(["--help"])
    assert p.returncode == 0
    for flag in (b"-t", b"-f", b"-C", b"--pretend"):
        assert flag in p.stdout, flag


def test_pretend_hides_password(run):
    cfg = ("account work\nhost smtp.example.org\nport 587\n"
           "from me@example.org\nauth on\nuser me\n"
           "password s3cr3t-P4ss\naccount default : work\n")
    p = run(["--pretend"], config=cfg)
    assert p.returncode == 0, p.stderr
    out = p.stdout + p.stderr
    assert b"s3cr3t-P4ss" not in out
    assert b"smtp.example.org" in p.stdout
    assert b"587" in p.stdout
    assert re.search(rb"password\W+\*", p.stdout), p.stdout


@pytest.mark.parametrize("argv0", [None, "newaliases"])
def test_bi_is_noop(argv0, call):
    args = ["-bi"] if argv0 is None else []
    p = call(args, input=b"", argv0=argv0)
    assert p.returncode == 0, p.stderr
    assert p.stderr == b""


def test_no_recipients(run):
    p = run([], input=b"Subject: x\n\nbody\n",
            config="account default\nhost 127.0.0.1\nport 9\ntls off\n"
                   "from a@example.org\n")
    assert p.returncode == 64
    assert b"recipient" in p.stderr.lower()


def test_t_without_recipient_headers(run):
    p = run(["-t"], input=b"Subject: x\n\nbody\n",
            config="account default\nhost 127.0.0.1\nport 9\ntls off\n"
                   "from a@example.org\n")
    assert p.returncode == 64
    assert b"recipient" in p.stderr.lower()
