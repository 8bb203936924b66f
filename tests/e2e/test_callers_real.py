"""The real programs of CLIENTS.md calling smtpsend as /usr/sbin/sendmail.

test_callers.py replays the argv and messages these programs produce;
here the programs themselves run (git send-email, mutt, neomutt, s-nail,
bsd-mailx, GNU mailutils, PHP mail(), Symfony Mailer with -t, Debian cron,
at and anacron), each inside a private mount namespace (unshare --mount)
where smtpsend is bind-mounted over /usr/sbin/sendmail: the machine's own
/usr/sbin/sendmail is never touched (checked after each test).  Every
message goes to the test Postfix over STARTTLS with AUTH as alice:

  user programs   ~/.smtprc without a password: it comes from the test
                  gnome-keyring (the keyring fixture), as in a desktop
                  session;
  system daemons  cron, atd and anacron run as root with no user session:
                  root's ~/.smtprc holds the password (0600); root's home
                  is a private directory bind-mounted over it inside the
                  namespace, and the daemons' spools and tables
                  (/etc/crontab, /etc/cron.d, /var/spool/cron, ...) are
                  private directories there too, so they never see the
                  machine's jobs.  Daemons are stopped by PID.

Each test checks what arrived (envelope recipients through X-Original-To,
envelope sender, no Bcc header, body bytes, the caller's headers) and what
the caller saw (exit status, output).  Header addresses the programs write
unqualified (To: root) are not asserted either way: issue 10 item 5
changes them.

These tests are slow (a cron minute): marked `callers`, they run in CI on
the static build only (tests/ci.sh passes -m 'not callers' elsewhere).
"""

import email
import email.policy
import email.utils
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
import uuid

import pytest

import servers
import sink as S

pytestmark = pytest.mark.callers

FROM = "sender@example.org"     # the account's from: domain example.org
WAIT = 60                       # every program run is bounded by this
SENDMAIL = "/usr/sbin/sendmail"

# Inside `unshare --mount`: mounts made here are private to the namespace;
# NS_BINDS holds "source=target" pairs, the first one smtpsend over
# /usr/sbin/sendmail.
NS_SCRIPT = r"""
set -e
mount --make-rprivate /
for b in $NS_BINDS; do mount --bind "${b%%=*}" "${b#*=}"; done
[ -z "$NS_READY" ] || : > "$NS_READY"
unset NS_BINDS NS_READY
exec "$@"
"""


def _tok():
    return "t" + uuid.uuid4().hex[:12]


def _need(*paths):
    for p in paths:
        assert os.path.exists(p), \
            "%s is needed (tests/ci.sh installs its package)" % p


def _config(postfix, certs, password=None):
    return ("account default\nhost %s\nport %d\ntls on\ntls_starttls on\n"
            "tls_trust_file %s\nauth on\nuser %s\n%sfrom %s\n"
            % (servers.HOST, postfix.port("starttls_auth"), certs.ca,
               servers.ALICE,
               "password %s\n" % password if password else "", FROM))


class Box:
    """A private mount namespace recipe: smtpsend over /usr/sbin/sendmail,
    plus extra bind mounts; a private HOME with ~/.smtprc."""

    def __init__(self, tmp_path, config, env=None):
        self.dir = tmp_path
        self.home = tmp_path / "home"
        self.home.mkdir(mode=0o700)
        rc = self.home / ".smtprc"
        rc.write_text(config)
        rc.chmod(0o600)
        binary = servers.smtpsend_path()
        wrapper = os.environ.get("SMTPSEND_WRAPPER", "")
        if wrapper:
            # Under a wrapper (valgrind) a script runs the binary through it.
            w = tmp_path / "sendmail-wrapper"
            w.write_text("#!/bin/sh\nexec %s %s \"$@\"\n" % (wrapper, binary))
            w.chmod(0o755)
            binary = str(w)
        self.binds = [(binary, SENDMAIL)]
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("DBUS_", "XDG_", "GNOME_KEYRING",
                                         "SMTPSEND", "GIT_", "MAIL"))}
        self.env.update(HOME=str(self.home), LC_ALL="C.UTF-8")
        self.env.update(env or {})
        self.before = os.stat(SENDMAIL)

    def bind(self, source, target):
        self.binds.append((str(source), str(target)))

    def argv(self, cmd):
        return ["unshare", "--mount", "sh", "-c", NS_SCRIPT, "sh"] + list(cmd)

    def _env(self, env):
        e = dict(self.env, **(env or {}))
        e["NS_BINDS"] = " ".join("%s=%s" % b for b in self.binds)
        return e

    def run(self, cmd, input=b"", env=None, cwd=None, timeout=WAIT):
        return subprocess.run(self.argv(cmd), input=input, cwd=cwd,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              env=self._env(env), timeout=timeout)

    def start(self, cmd, env=None, timeout=10):
        """A daemon: unshare and sh exec it, so the Popen's PID is its.
        Returns once the namespace's mounts are made."""
        ready = self.dir / ("ready-%s" % uuid.uuid4().hex[:8])
        e = dict(self._env(env), NS_READY=str(ready))
        proc = subprocess.Popen(self.argv(cmd), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, env=e,
                                start_new_session=True)
        deadline = time.monotonic() + timeout
        while not ready.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise AssertionError("%s: namespace not ready" % cmd[0])
            time.sleep(0.02)
        return proc

    def enter(self, pid, cmd, input=b"", env=None, timeout=WAIT):
        """Run cmd in the mount namespace of process pid (a daemon's
        started by start(), so its mounts are made)."""
        assert os.readlink("/proc/%d/ns/mnt" % pid) != \
            os.readlink("/proc/self/ns/mnt"), "not a private namespace"
        e = dict(self.env, **(env or {}))
        return subprocess.run(["nsenter", "--mount", "--target", str(pid)] +
                              list(cmd), input=input, env=e,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=timeout)

    def check_untouched(self):
        after = os.stat(SENDMAIL)
        assert (self.before.st_ino, self.before.st_size,
                self.before.st_mtime) == (after.st_ino, after.st_size,
                                          after.st_mtime)


def stop(proc, timeout=10):
    """Stop a daemon started by Box.start, by its PID; return its output."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout)
    out = proc.stdout.read() if proc.stdout else b""
    return out


def _clear(keyring):
    env = dict(os.environ, HOME=keyring.home, **keyring.env)
    for attrs in (("host", servers.HOST, "service", "smtp"),
                  ("server", servers.HOST, "protocol", "smtp")):
        subprocess.run(["secret-tool", "clear"] + list(attrs) +
                       ["user", servers.ALICE], env=env, timeout=20,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def stored(keyring):
    """alice's password in the test keyring, as a desktop user keeps it
    (and only that item for her; removed again after this module, since
    the keyring is the session's)."""
    _clear(keyring)
    keyring.store(servers.HOST, servers.ALICE, servers.ALICE_PASSWORD)
    yield keyring
    _clear(keyring)


@pytest.fixture
def userbox(tmp_path, postfix, certs, stored):
    """A user session: ~/.smtprc with no password, the keyring on the bus."""
    b = Box(tmp_path, _config(postfix, certs), env=stored.env)
    # The private home is the user's passwd home too: s-nail exports the
    # passwd entry's HOME to sendmail.
    b.bind(b.home, pwd.getpwuid(os.getuid()).pw_dir)
    yield b
    b.check_untouched()


@pytest.fixture
def rootbox(tmp_path, postfix, certs):
    """A system job: no bus; root's ~/.smtprc (0600) holds the password;
    root's home is a private directory inside the namespace."""
    b = Box(tmp_path, _config(postfix, certs, servers.ALICE_PASSWORD))
    b.env.pop("HOME")
    b.bind(b.home, pwd.getpwnam("root").pw_dir)
    yield b
    b.check_untouched()


def sane(copies):
    """What every delivered copy has: no Bcc, exactly one From, Date and
    Message-ID (the caller's or the ones smtpsend adds), a valid Date."""
    for d in copies:
        assert d.get("Bcc") == [] and d.get("Resent-Bcc") == [], d.raw[:2000]
        for h in ("From", "Date", "Message-ID"):
            assert len(d.get(h)) == 1, (h, d.raw[:2000])
        email.utils.parsedate_to_datetime(d.one("Date"))
        assert re.fullmatch(r"<[!-;=?-~]+@[!-;=?-~]+>", d.one("Message-ID"))


def rcpts(copies):
    return sorted(d.rcpt for d in copies)


def parsed(d):
    return email.message_from_bytes(d.raw, policy=email.policy.default)


# ------------------------------------------------------------ git send-email

def _git(args, cwd, env):
    p = subprocess.run(["git"] + args, cwd=cwd, env=env, timeout=WAIT,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.returncode == 0, (args, p.stderr)
    return p.stdout.decode().strip()


def test_git_send_email_series(userbox, postfix, tmp_path):
    """A 3-patch series with Cc and Bcc: git runs /usr/sbin/sendmail
    (sendemail.smtpServer unset) once per patch with -i and every
    recipient on argv; git am of what arrived rebuilds the same tree."""
    _need("/usr/lib/git-core/git-send-email")
    tok = _tok()
    env = dict(userbox.env, GIT_CONFIG_NOSYSTEM="1",
               GIT_AUTHOR_NAME="A U Thor",
               GIT_AUTHOR_EMAIL="author@example.org",
               GIT_COMMITTER_NAME="A U Thor",
               GIT_COMMITTER_EMAIL="author@example.org")
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(["init", "-q", "-b", "main"], repo, env)
    (repo / "message.c").write_text("int n;\n")
    _git(["add", "."], repo, env)
    _git(["commit", "-q", "-m", "base"], repo, env)
    base = _git(["rev-parse", "HEAD"], repo, env)
    for i in range(1, 4):
        # Content a mailer could damage: a leading dot, tabs, 8-bit text,
        # trailing spaces.
        with open(repo / "message.c", "a") as f:
            f.write(".\tline %d %s\n\tgr\u00fc\u00dfe  \n" % (i, tok))
        (repo / ("f%d.txt" % i)).write_text("From here %d\n.\n" % i)
        _git(["add", "."], repo, env)
        _git(["commit", "-q", "-m", "step %d %s\n\nSigned-off-by: A U Thor "
              "<author@example.org>" % (i, tok)], repo, env)
    tree = _git(["rev-parse", "HEAD^{tree}"], repo, env)
    _git(["format-patch", "-q", "-3", "-o", str(tmp_path / "out")], repo, env)
    patches = sorted(str(p) for p in (tmp_path / "out").iterdir())
    assert len(patches) == 3
    p = userbox.run(["git", "send-email", "--confirm=never",
                     "--suppress-cc=all", "--no-validate",
                     "--from=A U Thor <author@example.org>",
                     "--to=list@example.net",
                     "--cc=Reviewer <reviewer@example.org>",
                     "--bcc=hidden@example.org"] + patches,
                    env=env, cwd=str(repo))
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, (out, p.stderr)
    assert out.count("Result: OK") == 3, out
    copies = S.delivered(postfix, tok, 9, settle=0.5)
    assert rcpts(copies) == sorted(["hidden@example.org"] * 3 +
                                   ["list@example.net"] * 3 +
                                   ["reviewer@example.org"] * 3)
    sane(copies)
    for d in copies:
        # No --envelope-sender: git passes no -f, the account's from is used.
        assert d.sender == FROM
        assert d.one("From") == "A U Thor <author@example.org>"
    # What the list received applies to the base commit as the same tree.
    mine = sorted((d for d in copies if d.rcpt == "list@example.net"),
                  key=lambda d: d.one("Subject"))
    assert ["[PATCH %d/3]" % i in d.one("Subject") for i, d in
            enumerate(mine, 1)] == [True] * 3
    clone = tmp_path / "clone"
    _git(["clone", "-q", str(repo), str(clone)], tmp_path, env)
    _git(["checkout", "-q", base], clone, env)
    files = []
    for i, d in enumerate(mine):
        f = tmp_path / ("got%d.eml" % i)
        f.write_bytes(d.raw)
        files.append(str(f))
    _git(["am", "-q"] + files, clone, env)
    assert _git(["rev-parse", "HEAD^{tree}"], clone, env) == tree


# ------------------------------------------------------------ mutt, neomutt

ATTACHMENT = bytes(range(256)) * 8 + b"\r\n.\r\n\x00From x\n" + \
    os.urandom(1500)

MUTTRC = """\
set sendmail="/usr/sbin/sendmail -oem -oi"
set from="Me Myself <me@example.org>"
set use_from=yes
set envelope_from=yes
set hostname=example.org
set record=""
set copy=no
set charset=utf-8
set send_charset=utf-8
set folder=%(dir)s
set spoolfile=%(dir)s/inbox
set mbox=%(dir)s/mbox
set postponed=%(dir)s/postponed
set tmpdir=%(dir)s
%(extra)s
"""


@pytest.mark.parametrize("prog", ["mutt", "neomutt"])
def test_mutt_batch_attachment(prog, userbox, postfix, tmp_path):
    """Batch mode (-s -a, body on stdin): mutt runs sendmail -oem -oi
    [-f] -- rcpts; the attachment arrives byte-identical, the Bcc only on
    the envelope.  neomutt with write_bcc=yes also writes a Bcc header,
    which smtpsend strips."""
    path = "/usr/bin/" + prog
    _need(path)
    tok = _tok()
    mail = tmp_path / "mail"
    mail.mkdir()
    att = tmp_path / "data.bin"
    att.write_bytes(ATTACHMENT)
    rc = tmp_path / "muttrc"
    rc.write_text(MUTTRC % {"dir": mail, "extra": "set write_bcc=yes\n"
                            if prog == "neomutt" else ""})
    body = ("Hall\u00f6, the r\u00e9port %s.\n.\nlast line\n" % tok).encode()
    p = userbox.run([path, "-n", "-F", str(rc), "-s", "report " + tok,
                     "-c", "cc@example.org", "-b", "hidden@example.org",
                     "-a", str(att), "--", "you@example.net"], input=body)
    assert p.returncode == 0, (p.stdout, p.stderr)
    copies = S.delivered(postfix, tok, 3, settle=0.5)
    assert rcpts(copies) == ["cc@example.org", "hidden@example.org",
                             "you@example.net"]
    sane(copies)
    for d in copies:
        assert d.sender == "me@example.org"
        m = parsed(d)
        assert m["Subject"] == "report " + tok
        parts = list(m.iter_parts())
        assert len(parts) == 2, d.raw[:3000]
        assert parts[0].get_content() == body.decode()
        assert parts[1].get_filename() == "data.bin"
        assert parts[1].get_payload(decode=True) == ATTACHMENT


# ------------------------------------------------ s-nail, bsd-mailx, mailutils

MAIL_BODY = ("Gr\u00fc\u00dfe aus K\u00f6ln \u2014 caf\u00e9 %s\n"
             "  indented\n.leading dot\nlast\n")


def _mailx_check(copies, want, sender, body):
    assert rcpts(copies) == want
    sane(copies)
    for d in copies:
        assert d.sender == sender
        if d.get("Content-Type"):
            # 8-bit text arrives as the same characters, in the MIME form
            # the program chose.
            assert parsed(d).get_content() == body, d.raw[:2000]
        else:
            # No MIME headers (mailutils): the raw bytes as typed.
            assert d.body == body.encode(), d.raw[:2000]


def test_s_nail(userbox, postfix):
    """s-nail runs sendmail -i [-F name -f addr] -- rcpts (Bcc on argv)."""
    _need("/usr/bin/s-nail")
    tok = _tok()
    body = MAIL_BODY % tok
    p = userbox.run(["/usr/bin/s-nail", "-:/", "-Sttycharset=utf-8",
                     "-Sexpandaddr", "-s", "s-nail " + tok,
                     "-r", "Ann Example <ann@example.org>",
                     "-c", "cc@example.org", "-b", "hidden@example.org",
                     "bob@example.net"], input=body.encode(),
                    env={"MAILRC": "/dev/null"})
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stderr == b"", p.stderr
    copies = S.delivered(postfix, tok, 3, settle=0.5)
    _mailx_check(copies, ["bob@example.net", "cc@example.org",
                          "hidden@example.org"], "ann@example.org", body)
    for d in copies:
        assert d.one("From") == "Ann Example <ann@example.org>"
        assert d.one("Subject") == "s-nail " + tok


def test_bsd_mailx(userbox, postfix):
    """bsd-mailx runs sendmail -i -t [-f]: the recipients, the Bcc too,
    come from the headers it writes; the Bcc header must not arrive."""
    _need("/usr/bin/bsd-mailx")
    tok = _tok()
    body = MAIL_BODY % tok
    p = userbox.run(["/usr/bin/bsd-mailx", "-n", "-s", "mailx " + tok,
                     "-r", "carol@example.org", "-c", "erin@example.org",
                     "-b", "frank@example.org", "dave@example.net"],
                    input=body.encode(), env={"MAILRC": "/dev/null"})
    assert p.returncode == 0, (p.stdout, p.stderr)
    copies = S.delivered(postfix, tok, 3, settle=0.5)
    assert rcpts(copies) == ["dave@example.net", "erin@example.org",
                             "frank@example.org"]
    sane(copies)
    for d in copies:
        assert d.sender == "carol@example.org"
        assert d.one("Subject") == "mailx " + tok
        # mailx writes no From: the one added is the envelope sender's.
        assert email.utils.parseaddr(d.one("From"))[1] == "carol@example.org"
        # No MIME headers from mailx: the raw 8-bit body, bytes as typed.
        assert d.body == body.encode()


def test_gnu_mailutils(userbox, postfix):
    """GNU mailutils' mail runs sendmail -oi -f user -t."""
    _need("/usr/bin/mail.mailutils")
    tok = _tok()
    body = MAIL_BODY % tok
    p = userbox.run(["/usr/bin/mail.mailutils", "-N", "-E",
                     "set nosave", "-s", "mailutils " + tok,
                     "-r", "root@vm.example.org",
                     "-a", "Cc: cc@example.org",
                     "-a", "Bcc: hidden@example.org", "ops@example.net"],
                    input=body.encode(), env={"MAILRC": "/dev/null"})
    assert p.returncode == 0, (p.stdout, p.stderr)
    copies = S.delivered(postfix, tok, 3, settle=0.5)
    _mailx_check(copies, ["cc@example.org", "hidden@example.org",
                          "ops@example.net"], "root@vm.example.org", body)
    for d in copies:
        assert d.one("Subject") == "mailutils " + tok
        assert email.utils.parseaddr(d.one("From"))[1] == \
            "root@vm.example.org"


# ----------------------------------------------------------------- PHP

PHP_MAIL = r"""<?php
$tok = $argv[1];
$body = "Thank you for your order $tok.\n.\nTotal: 42.00 \xe2\x82\xac\n";
$ok1 = mail('customer@example.net', "string headers $tok", $body,
    "From: Shop <shop@example.org>\r\nReply-To: support@example.org\r\n" .
    "Cc: cc@example.org\r\nBcc: archive@example.org\r\n" .
    "Content-Type: text/plain; charset=UTF-8",
    '-fbounce@example.org');
$ok2 = mail('customer@example.net, other@example.net', "array headers $tok",
    $body, ['From' => 'Shop <shop@example.org>',
            'Bcc' => 'archive@example.org',
            'X-Order' => "1042-$tok",
            'Content-Type' => 'text/plain; charset=UTF-8']);
echo var_export($ok1, true), " ", var_export($ok2, true), "\n";
"""


def test_php_mail(userbox, postfix, tmp_path):
    """PHP mail() with the default sendmail_path (/usr/sbin/sendmail -t
    -i): string headers with -f, and array headers without."""
    _need("/usr/bin/php")
    tok = _tok()
    script = tmp_path / "mail.php"
    script.write_text(PHP_MAIL)
    p = userbox.run(["php", "-n", str(script), tok])
    assert p.returncode == 0 and p.stdout == b"true true\n", \
        (p.stdout, p.stderr)
    # mail() writes the body and one more newline.
    body = ("Thank you for your order %s.\n.\nTotal: 42.00 \u20ac\n\n"
            % tok).encode()
    one = [d for d in S.delivered(postfix, "string headers " + tok, 3)]
    two = [d for d in S.delivered(postfix, "array headers " + tok, 3)]
    assert rcpts(one) == ["archive@example.org", "cc@example.org",
                          "customer@example.net"]
    assert rcpts(two) == ["archive@example.org", "customer@example.net",
                          "other@example.net"]
    sane(one + two)
    for d in one:
        assert d.sender == "bounce@example.org"
        assert d.one("Reply-To") == "support@example.org"
    for d in two:
        assert d.sender == FROM
        assert d.one("X-Order") == "1042-" + tok
    for d in one + two:
        assert d.one("From") == "Shop <shop@example.org>"
        assert d.body == body


SYMFONY = "/usr/share/php/Symfony/Component/Mailer/autoload.php"

SYMFONY_SCRIPT = r"""<?php
require '%s';
use Symfony\Component\Mailer\Transport;
use Symfony\Component\Mailer\Mailer;
use Symfony\Component\Mime\Email;

$mailer = new Mailer(Transport::fromDsn($argv[1]));
$email = (new Email())
    ->from('App <app@example.org>')
    ->to('alice@example.org')
    ->cc('cc@example.org')
    ->bcc('hidden@example.org')
    ->subject('symfony -t ' . $argv[2])
    ->text("Hello " . $argv[2] . "\n.leading dot\n.\nend\n")
    ->attach("\x00\x01binary\r\n.\r\n", 'x.bin', 'application/octet-stream');
try {
    $mailer->send($email);
    echo "sent\n";
} catch (\Throwable $e) {
    echo "failed: " . $e->getMessage() . "\n";
    exit(3);
}
"""


def test_symfony_mailer_t_i(userbox, postfix, tmp_path):
    """Symfony Mailer with sendmail://default?command=/usr/sbin/sendmail
    -t -i: it drops -t, adds -f and passes every recipient after --."""
    _need("/usr/bin/php", SYMFONY)
    tok = _tok()
    script = tmp_path / "send.php"
    script.write_text(SYMFONY_SCRIPT % SYMFONY)
    dsn = "sendmail://default?command=/usr/sbin/sendmail%20-t%20-i"
    p = userbox.run(["php", str(script), dsn, tok])
    assert p.returncode == 0 and p.stdout == b"sent\n", (p.stdout, p.stderr)
    copies = S.delivered(postfix, tok, 3, settle=0.5)
    assert rcpts(copies) == ["alice@example.org", "cc@example.org",
                             "hidden@example.org"]
    sane(copies)
    for d in copies:
        assert d.sender == "app@example.org"
        m = parsed(d)
        text, att = list(m.iter_parts())
        assert text.get_content() == "Hello %s\n.leading dot\n.\nend\n" % tok
        assert att.get_payload(decode=True) == b"\x00\x01binary\r\n.\r\n"


# -------------------------------------------------- cron, at, anacron

def _private_dir(tmp_path, name, mode=0o700, owner=None):
    d = tmp_path / name
    d.mkdir()
    d.chmod(mode)
    if owner:
        shutil.chown(d, *owner)
    return d


def _hide_cron_tables(box, tmp_path):
    """cron must see only the test's crontab: /etc/crontab (which runs
    /etc/cron.{hourly,daily,...}), /etc/cron.d and the crontab spool are
    private and empty inside the namespace."""
    etc_crontab = tmp_path / "etc-crontab"
    etc_crontab.write_text("")
    box.bind(etc_crontab, "/etc/crontab")
    box.bind(_private_dir(tmp_path, "cron.d", 0o755), "/etc/cron.d")
    spool = _private_dir(tmp_path, "crontabs", 0o1730)
    box.bind(spool, "/var/spool/cron/crontabs")
    return spool


CRON_JOB_ONE = r"printf 'job one TOK\n.\nGr\303\274\303\237e\n'"
CRON_JOB_TWO = r"echo job two TOK; echo to stderr TOK >&2"


def test_debian_cron(rootbox, postfix, tmp_path):
    """The real Debian cron daemon, in the namespace only, runs two jobs
    of root's crontab in the same minute: their output is mailed through
    /usr/sbin/sendmail -FCronDaemon -i -B8BITMIME -oem MAILTO, to root
    (MAILTO unset: unqualified) and to a comma list."""
    _need("/usr/sbin/cron")
    tok = _tok()
    spool = _hide_cron_tables(rootbox, tmp_path)
    tab = spool / "root"
    tab.write_text("SHELL=/bin/sh\nPATH=/usr/bin:/bin\n"
                   "* * * * * %s\n"
                   "MAILTO=alice@example.org,bob@example.net\n"
                   "* * * * * %s\n"
                   % (CRON_JOB_ONE.replace("TOK", tok + "-1"),
                      CRON_JOB_TWO.replace("TOK", tok + "-2")))
    tab.chmod(0o600)
    if time.time() % 60 > 57:
        time.sleep(4)       # not at a minute's edge (cron reads at start)
    cron = rootbox.start(["/usr/sbin/cron", "-f"])
    try:
        # The jobs run at the next minute: at most 60 s, plus delivery.
        [one] = S.delivered(postfix, tok + "-1", 1, timeout=80)
        two = S.delivered(postfix, tok + "-2", 2, timeout=20, settle=0.5)
        assert cron.poll() is None, "cron exited"
    finally:
        out = stop(cron)
    assert one.rcpt == "root@example.org"
    assert rcpts(two) == ["alice@example.org", "bob@example.net"]
    sane([one] + two)
    assert one.body == ("job one %s-1\n.\nGr\u00fc\u00dfe\n"
                        % tok).encode()
    for d in [one] + two:
        assert d.sender == FROM
        assert "Cron <root@" in d.one("Subject")
        assert d.get("Date") and d.get("Message-ID")
    for d in two:
        assert d.body == ("job two %s-2\nto stderr %s-2\n"
                          % (tok, tok)).encode(), d.body
    assert b"job one" not in out and b"job two" not in out, out


def test_at_job(rootbox, postfix, tmp_path):
    """A job given to at, run by a real atd in the namespace: its output
    is mailed to the submitting user (sendmail -i root)."""
    _need("/usr/sbin/atd", "/usr/bin/at")
    tok = _tok()
    for name in ("atjobs", "atspool"):
        d = _private_dir(tmp_path, name, 0o1770, ("daemon", "daemon"))
        rootbox.bind(d, "/var/spool/cron/" + name)
    # The job sequence file, as at's postinst makes it.
    seq = tmp_path / "atjobs" / ".SEQ"
    seq.write_text("0\n")
    seq.chmod(0o600)
    shutil.chown(seq, "daemon", "daemon")
    atd = rootbox.start(["/usr/sbin/atd", "-f"])
    try:
        p = rootbox.enter(atd.pid, ["/usr/bin/at", "now"],
                          input=("printf 'at job %s\\n.\\nend\\n'\n"
                                 % tok).encode())
        assert p.returncode == 0, p.stderr
        assert b"job " in p.stderr, p.stderr
        [d] = S.delivered(postfix, tok, 1, timeout=40, settle=0.5)
        assert atd.poll() is None, "atd exited"
    finally:
        out = stop(atd)
    assert d.rcpt == "root@example.org"
    sane([d])
    assert d.sender == FROM
    # at writes no From: smtpsend adds the account's.
    assert email.utils.parseaddr(d.one("From"))[1] == FROM
    assert d.body == ("at job %s\n.\nend\n" % tok).encode()
    assert "Output from your job" in d.one("Subject")
    assert d.get("Date") and d.get("Message-ID") and d.get("From")
    assert out == b"", out


def test_anacron(rootbox, postfix, tmp_path):
    """anacron (forced, now, in the foreground) runs two jobs of its own
    anacrontab and mails their output with sendmail -FAnacron -odi MAILTO
    (no -i: a lone dot is text)."""
    _need("/usr/sbin/anacron")
    tok = _tok()
    spool = _private_dir(tmp_path, "anacron-spool")
    job = tmp_path / "job.sh"
    job.write_text("printf 'anacron %s\\n.\\nend\\n'\n" % tok)
    tab = tmp_path / "anacrontab"
    tab.write_text("SHELL=/bin/sh\nPATH=/usr/bin:/bin\n"
                   "MAILTO=ops@example.net,oncall@example.org\n"
                   "1 0 job.%s /bin/sh %s\n" % (tok, job))
    p = rootbox.run(["/usr/sbin/anacron", "-d", "-f", "-n", "-t", str(tab),
                     "-S", str(spool)])
    assert p.returncode == 0, (p.stdout, p.stderr)
    copies = S.delivered(postfix, tok, 2, settle=0.5)
    assert rcpts(copies) == ["oncall@example.org", "ops@example.net"]
    sane(copies)
    for d in copies:
        assert d.sender == FROM
        assert d.body == ("anacron %s\n.\nend\n" % tok).encode()
        assert ("Anacron job 'job.%s'" % tok) in d.one("Subject")
    # anacron recorded the job as done: it saw sendmail succeed.
    assert (spool / ("job." + tok)).exists()
    assert b"mailing" in p.stderr.lower() or b"job" in p.stderr, p.stderr


# ------------------------------------------ what the caller sees of a failure

REFUSING = {
    # caller: (argv, standard input); TOK becomes the test's token
    "git-send-email": None,     # built in the test (needs a patch file)
    "mutt": (["/usr/bin/mutt", "-n", "-F", "/dev/null", "-s", "refused TOK",
              "--", "you@example.net"], b"body TOK\n"),
    "s-nail": (["/usr/bin/s-nail", "-:/", "-s", "refused TOK",
                "you@example.net"], b"body TOK\n"),
    "php-mail": (["php", "-n", "-r",
                  "var_export(mail('you@example.net', 'refused TOK', "
                  "'body TOK')); echo \"\\n\";"], b""),
}


@pytest.mark.parametrize("caller", sorted(REFUSING))
def test_caller_sees_refusal(caller, postfix, tmp_path):
    """Postfix refuses the recipient for good (a port that needs AUTH,
    an account without it): smtpsend's failure status reaches the program,
    which reports it (git aborts the series, mutt and s-nail exit non-zero
    and keep the text, PHP's mail() returns false), and nothing arrives."""
    tok = _tok()
    box = Box(tmp_path, "account default\nhost %s\nport %d\ntls off\n"
              "from %s\n" % (servers.HOST, postfix.port("plain_auth"), FROM))
    box.bind(box.home, pwd.getpwuid(os.getuid()).pw_dir)
    if caller == "git-send-email":
        patch = tmp_path / "0001-x.patch"
        patch.write_text("From: A U Thor <author@example.org>\n"
                         "Subject: [PATCH] refused %s\n\n---\n"
                         "diff --git a/x b/x\n" % tok)
        p = box.run(["git", "send-email", "--confirm=never",
                     "--suppress-cc=all", "--no-validate",
                     "--from=author@example.org", "--to=list@example.net",
                     str(patch), str(patch)],
                    env={"GIT_CONFIG_NOSYSTEM": "1",
                         "GIT_AUTHOR_NAME": "A U Thor",
                         "GIT_AUTHOR_EMAIL": "author@example.org",
                         "GIT_COMMITTER_NAME": "A U Thor",
                         "GIT_COMMITTER_EMAIL": "author@example.org"},
                    cwd=str(tmp_path))
    else:
        argv, stdin = REFUSING[caller]
        _need(argv[0] if argv[0].startswith("/") else "/usr/bin/php")
        p = box.run([a.replace("TOK", tok) for a in argv],
                    input=stdin.replace(b"TOK", tok.encode()),
                    env={"MAILRC": "/dev/null"})
    out = p.stdout + p.stderr
    if caller == "php-mail":
        assert p.stdout == b"false\n", out
    else:
        assert p.returncode != 0, out
        # smtpsend's own diagnosis reached the program's user.
        assert b"smtpsend:" in out, out
        assert b"you@example.net" in out or b"list@example.net" in out, out
    if caller == "git-send-email":
        # The series stops at the first patch, with smtpsend's status.
        assert p.returncode == 69, out
        assert out.count(b"smtpsend: RCPT TO") == 1, out
        assert b"Result: OK" not in out, out
    if caller == "mutt":
        assert b"child exited 69" in out, out
    if caller == "s-nail":
        assert p.returncode == 4, out
        assert tok.encode() in (box.home / "dead.letter").read_bytes()
    time.sleep(0.5)
    assert not [m for m in postfix.messages() if tok.encode() in m]
    box.check_untouched()
