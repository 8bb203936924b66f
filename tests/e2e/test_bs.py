"""sendmail -bs: SMTP on standard input and output (issue 10, items 1, 3).

A raw scripted client drives `smtpsend -bs` through pipes, as Symfony
Mailer and Laravel do, and the real Postfix says what was delivered:

  * no mode reads stdin before it knows it needs it: the -bs greeting
    comes while stdin is held open and empty; -bv and -bt exit at once;
  * pipelined EHLO/MAIL/RCPT/DATA in one write, two transactions in one
    session, dot-stuffed lines arrive unstuffed, Bcc removed, headers added;
  * the upstream verdict is the reply to the end of DATA: a refused
    recipient is 554 with Postfix's text, nothing listening is 451;
  * syntax and sequence errors (500, 501, 503, 555), QUIT and EOF exits;
  * the -v transcript goes to stderr, stdout carries SMTP only;
  * Symfony Mailer itself (Debian's php-symfony-mailer, `sendmail://default`
    = /usr/sbin/sendmail -bs, inside a private mount namespace where
    smtpsend is bind-mounted there; and the DSN's command option) and a
    Laravel-style `-bs -i` argv.

Every wait has a timeout.
"""

import os
import re
import select
import shutil
import subprocess
import time
import uuid

import pytest

import servers
import sink as S

FROM = "sender@example.org"
WAIT = 20           # seconds: generous bound on any single reply


def _tok():
    return "bs" + uuid.uuid4().hex[:12]


def plain_config(port, extra=""):
    return ("account default\nhost 127.0.0.1\nport %d\ntls off\n"
            "from %s\n%s" % (port, FROM, extra))


class Bs:
    """`smtpsend [-C cfg] -bs ...` with pipes, read with deadlines."""

    def __init__(self, run, config, args=("-bs",), env=None):
        cmd = run.command()
        if config is not None:
            cmd += ["-C", run.config_file(config)]
        cmd += list(args)
        full = dict(os.environ)
        full["HOME"] = run.home
        full.update(env or {})
        run.queue_env(full)         # never root's /var/spool/smtpsend
        self.queue_dir = full["SMTPSEND_QUEUE_DIR"]
        self.p = subprocess.Popen(cmd, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=full)
        self.buf = b""
        self.stdout_all = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.p.stdin.write(data)
        self.p.stdin.flush()

    def _line(self, deadline):
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            assert left > 0, "no reply within %ss; got %r" % (WAIT, self.buf)
            r, _, _ = select.select([self.p.stdout], [], [], left)
            if not r:
                continue
            chunk = os.read(self.p.stdout.fileno(), 65536)
            assert chunk, "stdout closed; got %r" % self.buf
            self.buf += chunk
            self.stdout_all += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        assert line.endswith(b"\r"), line
        return line[:-1].decode()

    def reply(self, timeout=WAIT):
        """One whole reply: (code, [lines' text])."""
        deadline = time.monotonic() + timeout
        lines = []
        while True:
            ln = self._line(deadline)
            assert re.match(r"^\d{3}[ -]", ln), ln
            lines.append(ln)
            if ln[3] == " ":
                codes = {x[:3] for x in lines}
                assert len(codes) == 1, lines
                return int(ln[:3]), [x[4:] for x in lines]

    def finish(self, timeout=WAIT):
        """Close stdin, wait for the exit; (status, rest of stdout, stderr)."""
        try:
            # communicate() closes stdin: the EOF the session sees.
            out, err = self.p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.communicate()
            raise
        self.stdout_all += out
        return self.p.returncode, self.buf + out, err.decode(errors="replace")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.communicate()


@pytest.fixture
def bs(run):
    made = []

    def start(config, args=("-bs",), env=None):
        s = Bs(run, config, args, env)
        made.append(s)
        return s
    yield start
    for s in made:
        s.kill()


def message(tok, extra_headers="", body=None):
    body = body if body is not None else "hello %s\r\n" % tok
    return ("From: Sender <%s>\r\nTo: alice@example.org\r\n%s"
            "Subject: bs %s\r\n\r\n%s" % (FROM, extra_headers, tok, body))


# ------------------------------------------- item 1: no read before need

def test_bs_greets_before_reading_stdin(bs, postfix):
    """The 220 comes while stdin is open and nothing was written (the
    deadlock Symfony and Laravel met: they write nothing before it)."""
    s = bs(plain_config(postfix.port("plain")))
    code, text = s.reply()
    assert code == 220 and "ESMTP" in text[0]
    s.send("QUIT\r\n")
    assert s.reply()[0] == 221
    rc, rest, err = s.finish()
    assert rc == 0 and rest == b"", (rest, err)


@pytest.mark.parametrize("args,what", [
    (["-bv", "alice@example.org"], "-bv"),
    (["-bt"], "-bt"),
    (["-Q", "-bv", "alice"], "-Q"),      # an error before the mode is seen
    (["-bs", "alice@example.org"], "-bs takes no recipients"),
    (["-bs", "-t"], "-bs takes no recipients"),
])
def test_modes_exit_without_reading_stdin(run, args, what):
    """Each exits with 64 at once while its stdin pipe stays open."""
    p = subprocess.Popen(run.command() + ["-C", "/dev/null"] + args,
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE,
                         env=dict(os.environ, HOME=run.home))
    try:
        # wait(), not communicate(): that would close stdin.
        p.wait(timeout=WAIT)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        pytest.fail("%s waited for stdin" % args)
    finally:
        p.stdin.close()
    out, err = p.stdout.read(), p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    assert p.returncode == 64, err
    assert what.encode() in err, err
    assert out == b""


# ------------------------------------------------- item 3: transactions

def test_pipelined_two_transactions_dots_bcc(bs, postfix):
    tok1, tok2 = _tok(), _tok()
    s = bs(plain_config(postfix.port("plain")))
    assert s.reply()[0] == 220
    body1 = ("line one\r\n..starts with a dot\r\n...two dots\r\n"
             "end %s\r\n" % tok1)
    # EHLO, MAIL, RCPT, RCPT, DATA in one write, as a pipelining client
    # sends them (EHLO too: the server must cope).
    s.send("EHLO client.example\r\nMAIL FROM:<%s> BODY=8BITMIME SIZE=100\r\n"
           "RCPT TO:<alice@example.org>\r\nRCPT TO:<hidden@example.org>\r\n"
           "DATA\r\n" % FROM)
    code, ehlo = s.reply()
    assert code == 250
    for cap in ("PIPELINING", "8BITMIME", "SIZE", "SMTPUTF8", "DSN",
                "ENHANCEDSTATUSCODES"):
        assert cap in ehlo, ehlo
    assert "AUTH" not in " ".join(ehlo)
    assert s.reply()[0] == 250
    assert s.reply()[0] == 250
    assert s.reply()[0] == 250
    assert s.reply()[0] == 354
    s.send(message(tok1, "Bcc: hidden@example.org\r\n", body1) + ".\r\n")
    code, text = s.reply()
    assert code == 250 and text[0].startswith("2.0.0"), text
    # A second transaction in the same session, lone LF line ends.
    s.send("MAIL FROM:<%s>\nRCPT TO:<bob@example.org>\nDATA\n" % FROM)
    assert [s.reply()[0] for _ in range(3)] == [250, 250, 354]
    s.send("Subject: second %s\n\nbody %s\n.\n" % (tok2, tok2))
    assert s.reply()[0] == 250
    s.send("QUIT\r\n")
    assert s.reply()[0] == 221
    rc, rest, err = s.finish()
    assert rc == 0, err
    assert rest == b""

    a, h = S.delivered(postfix, tok1, 2)
    assert (a.rcpt, h.rcpt) == ("alice@example.org", "hidden@example.org")
    for d in (a, h):
        assert d.sender == FROM
        assert d.get("Bcc") == [], d.raw
        assert b"hidden@example.org" not in d.raw.split(b"\n\n")[0] \
            .replace(b"X-Original-To: hidden@example.org", b"") \
            .replace(b"Delivered-To: hidden@example.org", b"") \
            .replace(b"for <hidden@example.org>", b""), d.raw
        assert d.body == ("line one\n.starts with a dot\n..two dots\n"
                          "end %s\n" % tok1).encode(), d.body
        assert len(d.get("Date")) == 1 and len(d.get("Message-ID")) == 1
    [d2] = S.delivered(postfix, tok2, 1)
    assert d2.rcpt == "bob@example.org"
    # The caller sent no From: the account's is added, as for a send.
    assert FROM in d2.one("From")
    assert d2.body == ("body %s\n" % tok2).encode()


def test_account_message_rules_apply(bs, postfix):
    """A -bs transaction gets the account's message rules exactly as a send
    from standard input does (one shared implementation, submit.c):
    undisclosed_recipients replaces To and Cc."""
    tok = _tok()
    s = bs(plain_config(postfix.port("plain"), "undisclosed_recipients on\n"))
    assert s.reply()[0] == 220
    s.send("EHLO x\r\nMAIL FROM:<%s>\r\nRCPT TO:<alice@example.org>\r\n"
           "DATA\r\n" % FROM)
    assert [s.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    s.send(message(tok, "Cc: carol@example.org\r\n") + ".\r\n")
    assert s.reply()[0] == 250
    s.send("QUIT\r\n")
    assert s.reply()[0] == 221
    rc, _, err = s.finish()
    assert rc == 0, err
    [d] = S.delivered(postfix, tok, 1)
    assert d.get("To") == [b"undisclosed-recipients:;"], d.raw
    assert d.get("Cc") == [], d.raw


def test_unqualified_rcpt_and_null_sender(bs, postfix):
    """RCPT TO:<root> is qualified as an argv recipient is; MAIL FROM:<>
    is the null sender."""
    tok = _tok()
    s = bs(plain_config(postfix.port("plain")))
    assert s.reply()[0] == 220
    s.send("HELO x\r\nMAIL FROM:<>\r\nRCPT TO:<root>\r\nDATA\r\n")
    assert [s.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    s.send("Subject: %s\r\n\r\nx\r\n.\r\nQUIT\r\n" % tok)
    assert s.reply()[0] == 250
    assert s.reply()[0] == 221
    assert s.finish()[0] == 0
    [d] = S.delivered(postfix, tok, 1)
    assert d.rcpt == "root@example.org"
    assert d.sender == ""


def test_account_chosen_by_mail_from(bs, postfix):
    """MAIL FROM picks the account as -f does (its from matches), else the
    default; -a overrides both.  The default here points at a port where
    nothing listens, so only the chosen account can deliver."""
    dead = servers.free_port()
    cfg = ("account default\nhost 127.0.0.1\nport %d\ntls off\n"
           "from dflt@example.net\nqueue off\n\n"
           "account other\nhost 127.0.0.1\nport %d\ntls off\n"
           "from other@example.org\n" % (dead, postfix.port("plain")))
    t1, t2, t3 = _tok(), _tok(), _tok()

    def txn(s, sender, tok):
        s.send("MAIL FROM:<%s>\r\nRCPT TO:<a@example.org>\r\nDATA\r\n"
               % sender)
        assert [s.reply()[0] for _ in range(3)] == [250, 250, 354]
        s.send("Subject: %s\r\n\r\nx\r\n.\r\n" % tok)
        return s.reply()

    s = bs(cfg)
    assert s.reply()[0] == 220
    s.send("EHLO x\r\n")
    assert s.reply()[0] == 250
    code, text = txn(s, "other@example.org", t1)
    assert code == 250 and "account other" in text[0], text
    assert txn(s, "someone@example.com", t2)[0] == 451    # the default
    s.send("QUIT\r\n")
    assert s.reply()[0] == 221
    assert s.finish()[0] == 0

    s = bs(cfg, args=("-a", "other", "-bs"))
    assert s.reply()[0] == 220
    code, text = txn(s, "someone@example.com", t3)
    assert code == 250 and "account other" in text[0], text
    s.send("QUIT\r\n")
    assert s.reply()[0] == 221
    assert s.finish()[0] == 0
    [d1] = S.delivered(postfix, t1, 1)
    assert d1.sender == "other@example.org"
    [d3] = S.delivered(postfix, t3, 1)
    assert d3.sender == "someone@example.com"
    assert not [m for m in postfix.messages() if t2.encode() in m]


def test_refused_recipient_is_554_with_server_text(bs, postfix):
    """Postfix's plain_auth listener refuses recipients without AUTH: the
    end of DATA answers 554 with its status and text; nothing arrives."""
    tok = _tok()
    s = bs(plain_config(postfix.port("plain_auth")))
    assert s.reply()[0] == 220
    s.send("EHLO x\r\nMAIL FROM:<%s>\r\nRCPT TO:<alice@example.org>\r\n"
           "DATA\r\n" % FROM)
    assert [s.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    s.send(message(tok) + ".\r\n")
    code, text = s.reply()
    assert code == 554, text
    assert text[0].startswith("5.7.1 "), text
    assert "Recipient address rejected" in text[0], text
    # The session goes on: RSET and QUIT still answer.
    s.send("RSET\r\nQUIT\r\n")
    assert s.reply()[0] == 250
    assert s.reply()[0] == 221
    rc, _, err = s.finish()
    assert rc == 0
    assert "Recipient address rejected" in err   # said on stderr too
    time.sleep(0.5)
    assert not [m for m in postfix.messages() if tok.encode() in m]


def test_nothing_listening_is_451_with_queue_off(bs, run):
    port = servers.free_port()      # nobody listens there
    s = bs(plain_config(port, "queue off\n"))
    assert s.reply()[0] == 220
    s.send("EHLO x\r\nMAIL FROM:<%s>\r\nRCPT TO:<alice@example.org>\r\n"
           "DATA\r\n" % FROM)
    assert [s.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    s.send(message(_tok()) + ".\r\n")
    code, text = s.reply()
    assert code == 451, text
    assert text[0].startswith("4."), text
    s.send("QUIT\r\n")
    assert s.reply()[0] == 221
    assert s.finish()[0] == 0
    assert not os.path.exists(s.queue_dir) or not [
        f for f in os.listdir(s.queue_dir) if f.endswith(".env")]


def test_temporary_failure_queued_then_flushed(bs, run, postfix):
    """With the queue (the default) a temporary failure is "250 queued as
    ID", not 451; smtpsend -q then delivers it exactly once."""
    tok = _tok()
    port = servers.free_port()      # nobody listens there yet
    s = bs(plain_config(port))
    assert s.reply()[0] == 220
    s.send("EHLO x\r\nMAIL FROM:<%s>\r\nRCPT TO:<alice@example.org>\r\n"
           "DATA\r\n" % FROM)
    assert [s.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    s.send(message(tok, "Bcc: hidden@example.org\r\n") + ".\r\n")
    code, text = s.reply()
    assert code == 250, text
    m = re.match(r"2\.0\.0 Ok: queued as (\S+)$", text[0])
    assert m, text
    qid = m.group(1)
    s.send("QUIT\r\n")
    assert s.reply()[0] == 221
    rc, _, err = s.finish()
    assert rc == 0
    assert "queued as %s" % qid in err
    assert os.path.exists(os.path.join(s.queue_dir, qid + ".env"))
    # The server is back (the account now names Postfix): -q sends it.
    cfg = run.config_file(plain_config(postfix.port("plain")))
    env = dict(os.environ, HOME=run.home,
               SMTPSEND_QUEUE_DIR=s.queue_dir)
    p = subprocess.run(run.command() + ["-C", cfg, "-q"], env=env,
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    [d] = S.delivered(postfix, tok, 1)
    assert d.rcpt == "alice@example.org"
    assert d.get("Bcc") == [], d.raw
    assert not os.path.exists(os.path.join(s.queue_dir, qid + ".env"))


def test_config_error_is_451_at_mail(bs, run):
    s = bs("account other\nhost 127.0.0.1\n")   # no default account
    assert s.reply()[0] == 220
    s.send("EHLO x\r\nMAIL FROM:<nobody@nowhere.example>\r\nQUIT\r\n")
    assert s.reply()[0] == 250
    code, text = s.reply()
    assert code == 451 and text[0].startswith("4.3.5"), text
    assert s.reply()[0] == 221
    assert s.finish()[0] == 0


def test_syntax_and_sequence_replies(bs, postfix):
    s = bs(plain_config(postfix.port("plain")))
    assert s.reply()[0] == 220
    script = [
        ("RCPT TO:<a@example.org>", 503),       # before MAIL
        ("DATA", 503),                          # before MAIL
        ("EHLO", 501),                          # no argument
        ("EHLO x", 250),
        ("MAIL FROM:a@example.org>", 501),      # half a path
        ("MAIL TO:<a@example.org>", 501),
        ("MAIL FROM:<%s> FOO=1" % FROM, 555),   # unknown parameter
        ("MAIL FROM:<%s> BODY=BINARYMIME" % FROM, 501),
        ("MAIL FROM:<%s> RET=FULL ENVID=x+2By" % FROM, 250),
        ("MAIL FROM:<%s>" % FROM, 503),         # nested
        ("DATA", 554),                          # no recipients
        ("RCPT TO:<a b@example.org>", 501),
        ("RCPT TO:<>", 501),
        ("RCPT TO:<@example.org>", 501),
        ("RCPT TO:<caf\u00e9@example.org>", 553),  # no SMTPUTF8
        ("RCPT TO:<a@example.org> NOTIFY=SOMETIMES", 501),
        ("RCPT TO:<a@example.org> NOTIFY=FAILURE,DELAY "
         "ORCPT=rfc822;a@example.org", 250),
        ("RCPT TO:<b@example.org> NOTIFY=NEVER", 455),  # differs
        ("RCPT TO:<b@example.org> XYZ", 555),
        ("DATA extra", 501),
        ("VRFY a", 252),
        ("EXPN a", 502),
        ("AUTH PLAIN AAAA", 502),
        ("STARTTLS", 502),
        ("HELP", 214),
        ("NOOP", 250),
        ("FROB", 500),
        ("", 500),
        ("X" * 3000, 500),                      # line too long
        ("RSET", 250),
        ("RCPT TO:<a@example.org>", 503),       # RSET ended the transaction
        ("QUIT", 221),
    ]
    # All pipelined in one write; the replies come back in order.
    s.send("".join(c + "\r\n" for c, _ in script))
    got = [s.reply() for _ in script]
    assert [g[0] for g in got] == [c for _, c in script], \
        list(zip([c[:40] for c, _ in script], got))
    rc, rest, err = s.finish()
    assert rc == 0 and rest == b"", (rest, err)


def test_eof_without_quit(bs, postfix):
    """EOF between transactions ends the session normally (0); EOF inside
    one (after MAIL, before the end of DATA) is 65: not sent."""
    s = bs(plain_config(postfix.port("plain")))
    assert s.reply()[0] == 220
    s.send("EHLO x\r\n")
    assert s.reply()[0] == 250
    rc, rest, err = s.finish()
    assert rc == 0 and rest == b"", err

    tok = _tok()
    s = bs(plain_config(postfix.port("plain")))
    assert s.reply()[0] == 220
    s.send("EHLO x\r\nMAIL FROM:<%s>\r\nRCPT TO:<a@example.org>\r\n"
           "DATA\r\nSubject: %s\r\n\r\ncut off\r\n" % (FROM, tok))
    assert [s.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    rc, rest, err = s.finish()
    assert rc == 65, err
    assert "not sent" in err
    time.sleep(0.5)
    assert not [m for m in postfix.messages() if tok.encode() in m]


def test_verbose_goes_to_stderr_only(bs, postfix):
    tok = _tok()
    s = bs(plain_config(postfix.port("plain")), args=("-bs", "-v"))
    assert s.reply()[0] == 220
    s.send("EHLO x\r\nMAIL FROM:<%s>\r\nRCPT TO:<a@example.org>\r\n"
           "DATA\r\n" % FROM)
    assert [s.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    s.send(message(tok) + ".\r\nQUIT\r\n")
    assert s.reply()[0] == 250
    assert s.reply()[0] == 221
    rc, rest, err = s.finish()
    assert rc == 0
    # stdout: SMTP replies and nothing else.
    for ln in s.stdout_all.split(b"\r\n")[:-1]:
        assert re.match(rb"^\d{3}[ -]", ln), ln
    assert s.stdout_all.endswith(b"\r\n")
    # stderr: both dialogues (ours, and Postfix's upstream).
    assert "<<< MAIL FROM:<%s>" % FROM in err, err
    assert ">>> 250 2.1.0" in err
    assert "--> MAIL FROM:<%s>" % FROM in err
    assert "<-- 250" in err


def test_laravel_bs_i(bs, postfix):
    """Laravel runs `sendmail -bs -i`: the same session."""
    tok = _tok()
    s = bs(plain_config(postfix.port("plain")), args=("-bs", "-i"))
    assert s.reply()[0] == 220
    s.send("EHLO [127.0.0.1]\r\n")
    assert s.reply()[0] == 250
    for cmd in ("MAIL FROM:<%s>" % FROM, "RCPT TO:<alice@example.org>"):
        s.send(cmd + "\r\n")
        assert s.reply()[0] == 250
    s.send("DATA\r\n")
    assert s.reply()[0] == 354
    s.send(message(tok) + "\r\n.\r\n")
    assert s.reply()[0] == 250
    s.send("QUIT\r\n")
    assert s.reply()[0] == 221
    assert s.finish()[0] == 0
    [d] = S.delivered(postfix, tok, 1)
    assert d.rcpt == "alice@example.org"


# ------------------------------------------------------ Symfony Mailer

SYMFONY = "/usr/share/php/Symfony/Component/Mailer/autoload.php"

PHP_SCRIPT = r"""<?php
require '%(autoload)s';
use Symfony\Component\Mailer\Transport;
use Symfony\Component\Mailer\Mailer;
use Symfony\Component\Mime\Email;

$transport = Transport::fromDsn($argv[1]);
$mailer = new Mailer($transport);
$email = (new Email())
    ->from('%(from)s')
    ->to('alice@example.org')
    ->bcc('hidden@example.org')
    ->subject('symfony ' . $argv[2])
    ->text("Hello from Symfony " . $argv[2] . "\n.leading dot\n");
try {
    $mailer->send($email);
    echo "sent\n";
} catch (\Throwable $e) {
    echo "failed: " . $e->getMessage() . "\n";
    exit(3);
}
"""


def _php(tmp_path, dsn, tok, cmd_prefix=(), env=None):
    script = tmp_path / "send.php"
    script.write_text(PHP_SCRIPT % {"autoload": SYMFONY, "from": FROM})
    return subprocess.run(list(cmd_prefix) + ["php", str(script), dsn, tok],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, timeout=60)


def _symfony_delivered(postfix, tok):
    a, h = S.delivered(postfix, tok, 2)
    assert (a.rcpt, h.rcpt) == ("alice@example.org", "hidden@example.org")
    for d in (a, h):
        assert d.sender == FROM
        assert d.get("Bcc") == []
        assert ("Hello from Symfony %s" % tok).encode() in d.body
        assert b"\n.leading dot\n" in d.body


def test_symfony_mailer_command_option(postfix, run, tmp_path):
    """The DSN's command option (Symfony 5.4: it must contain " -bs")."""
    assert shutil.which("php") and os.path.exists(SYMFONY), \
        "php-cli and php-symfony-mailer are needed (tests/ci.sh installs them)"
    tok = _tok()
    cfg = run.config_file(plain_config(postfix.port("plain")))
    cmd = "%s -C %s -bs" % (" ".join(run.command()), cfg)
    dsn = "sendmail://default?command=" + cmd.replace(" ", "%20")
    p = _php(tmp_path, dsn, tok, env=dict(os.environ, HOME=run.home))
    assert p.returncode == 0 and p.stdout == b"sent\n", (p.stdout, p.stderr)
    _symfony_delivered(postfix, tok)


def test_symfony_mailer_default_dsn(postfix, run, tmp_path):
    """sendmail://default runs /usr/sbin/sendmail -bs: smtpsend is bind-
    mounted there inside a private mount namespace only (the machine's own
    /usr/sbin/sendmail is untouched); the config is the user's ~/.smtprc."""
    assert shutil.which("php") and os.path.exists(SYMFONY)
    assert shutil.which("unshare")
    tok = _tok()
    home = tmp_path / "home"
    home.mkdir()
    rc = home / ".smtprc"
    rc.write_text(plain_config(postfix.port("plain")))
    rc.chmod(0o600)
    binary = servers.smtpsend_path()
    before = os.stat("/usr/sbin/sendmail")
    wrapper = os.environ.get("SMTPSEND_WRAPPER", "")
    if wrapper:
        # Under a wrapper (valgrind), a script runs the binary through it.
        wrap = tmp_path / "sendmail-wrapper"
        wrap.write_text("#!/bin/sh\nexec %s %s \"$@\"\n" % (wrapper, binary))
        wrap.chmod(0o755)
        binary = str(wrap)
    shell = ("mount --make-rprivate / && mount --bind %s /usr/sbin/sendmail"
             " && exec \"$@\"" % binary)
    p = _php(tmp_path, "sendmail://default", tok,
             cmd_prefix=["unshare", "--mount", "sh", "-c", shell, "sh"],
             env=dict(os.environ, HOME=str(home)))
    assert p.returncode == 0 and p.stdout == b"sent\n", (p.stdout, p.stderr)
    _symfony_delivered(postfix, tok)
    after = os.stat("/usr/sbin/sendmail")
    assert (before.st_ino, before.st_size) == (after.st_ino, after.st_size)


def test_symfony_mailer_sees_refusal(postfix, run, tmp_path):
    """A permanent refusal upstream reaches the PHP caller as an
    exception carrying the 554 and Postfix's text."""
    tok = _tok()
    cfg = run.config_file(plain_config(postfix.port("plain_auth")))
    cmd = "%s -C %s -bs" % (" ".join(run.command()), cfg)
    dsn = "sendmail://default?command=" + cmd.replace(" ", "%20")
    p = _php(tmp_path, dsn, tok, env=dict(os.environ, HOME=run.home))
    assert p.returncode == 3, (p.stdout, p.stderr)
    assert b"554" in p.stdout and b"address rejected" in p.stdout, \
        p.stdout


# ------------------------------------------- parameters on the wire (sink)

def test_dsn_and_body_parameters_reach_the_server(bs):
    """MAIL's RET, ENVID, BODY and RCPT's NOTIFY become the send's DSN and
    body options (what the server sees, via the capturing sink); the next
    transaction of the session starts without them; the body goes out
    dot-stuffed again, exactly once."""
    ext = ("PIPELINING", "8BITMIME", "SIZE 0", "DSN", "ENHANCEDSTATUSCODES")
    with S.Sink(extensions=ext) as snk:
        s = bs(snk.config())
        assert s.reply()[0] == 220
        s.send("EHLO x\r\nMAIL FROM:<%s> RET=HDRS ENVID=ab+2Bc BODY=8BITMIME"
               "\r\nRCPT TO:<a@example.org> NOTIFY=SUCCESS,FAILURE "
               "ORCPT=rfc822;a@example.org\r\n"
               "RCPT TO:<b@example.org> NOTIFY=success,failure\r\nDATA\r\n"
               % FROM)
        assert [s.reply()[0] for _ in range(5)] == [250] * 4 + [354]
        s.send("Subject: one\r\n\r\n..x\r\n.\r\n")
        assert s.reply()[0] == 250
        s.send("MAIL FROM:<%s>\r\nRCPT TO:<c@example.org>\r\nDATA\r\n"
               "Subject: two\r\n\r\ny\r\n.\r\nQUIT\r\n" % FROM)
        assert [s.reply()[0] for _ in range(5)] == [250, 250, 354, 250, 221]
        assert s.finish()[0] == 0
        snk.wait_sessions(2)
        one, two = snk.accepted()
    m1, m2 = one.mail.decode(), two.mail.decode()
    r1 = [r.decode() for r, _ in one.rcpts]
    r2 = [r.decode() for r, _ in two.rcpts]
    assert "RET=HDRS" in m1 and "ENVID=ab+2Bc" in m1, m1
    assert "BODY=8BITMIME" in m1
    assert r1 == [
        "TO:<a@example.org> NOTIFY=SUCCESS,FAILURE",
        "TO:<b@example.org> NOTIFY=SUCCESS,FAILURE"], r1
    assert one.unstuffed().endswith(b"\r\n\r\n.x\r\n"), one.data
    assert b"\r\n..x\r\n" in one.data
    for p in ("RET=", "ENVID=", "BODY="):
        assert p not in m2, m2
    assert r2 == ["TO:<c@example.org>"]
