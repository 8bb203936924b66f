"""The local queue (issue 7) against the real Postfix.

A temporary failure with `queue on` (the default) keeps the message in
the queue directory and exits 0 with one line on stderr; `smtpsend -q`
later delivers it exactly once and empties the queue.  -odq queues without
trying; `queue off` keeps today's 75; a queue that cannot be written gives
75 and says so; the keyring unreachable under cron is queued too.  Every
test names its own queue directory (tests run as root, whose default is
/var/spool/smtpsend).
"""

import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time
import uuid

import pytest

import servers
import sink as S

FROM = "sender@example.org"
RCPT = "bob@example.org"
QUEUED = re.compile(r"^smtpsend: queued as ([0-9A-F]{15}): (.*); it will be "
                    r"retried \(smtpsend -q sends it now\)$")


def _tok():
    return "q" + uuid.uuid4().hex[:12]


def _msg(tok):
    return ("From: Sender <%s>\nTo: <%s>\nSubject: queue %s\n\nbody %s\n"
            % (FROM, RCPT, tok, tok)).encode()


def _cfg(qdir, port, extra=""):
    return ("account default\nhost 127.0.0.1\nport %d\ntls off\nfrom %s\n"
            "timeout 10\nqueue_dir %s\n%s" % (port, FROM, qdir, extra))


def _dead_port():
    """A loopback port with nothing listening."""
    return servers.free_port()


def _entries(qdir, sub=""):
    d = os.path.join(qdir, sub)
    if not os.path.isdir(d):
        return []
    return sorted(n[:-4] for n in os.listdir(d) if n.endswith(".env"))


def _delivered(postfix, tok, want, timeout=15):
    """The delivered copies holding tok, once want of them arrived (or the
    timeout passed), after a moment for a stray duplicate."""
    deadline = time.monotonic() + timeout
    while True:
        got = [m for m in postfix.messages() if tok.encode() in m]
        if len(got) >= want or time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    time.sleep(0.5)
    return [m for m in postfix.messages() if tok.encode() in m]


def _queue_one(run, qdir, tok, extra=""):
    p = run([RCPT], input=_msg(tok), config=_cfg(qdir, _dead_port(), extra))
    err = p.stderr.decode()
    assert p.returncode == 0, err
    lines = err.splitlines()
    assert len(lines) == 1, err
    m = QUEUED.match(lines[0])
    assert m, err
    return m.group(1), m.group(2)


def test_unreachable_queued_then_flushed_once(postfix, run, tmp_path):
    qdir = str(tmp_path / "q")
    tok = _tok()
    qid, reason = _queue_one(run, qdir, tok)
    assert "Connection refused" in reason
    # Durable and private: 0700 directory, 0600 files, the envelope a
    # human reads, the body as read.
    assert stat.S_IMODE(os.stat(qdir).st_mode) == 0o700
    assert _entries(qdir) == [qid]
    for suffix in (".env", ".body"):
        st = os.stat(os.path.join(qdir, qid + suffix))
        assert stat.S_IMODE(st.st_mode) == 0o600
    with open(os.path.join(qdir, qid + ".env"), errors="replace",
              newline="") as f:
        env = f.read()
    assert "recipient: <%s>\n" % RCPT in env
    assert "sender: <%s>\n" % FROM in env
    assert "attempts: 0\n" in env
    assert "Subject: queue %s\r\n" % tok in env
    with open(os.path.join(qdir, qid + ".body"), "rb") as f:
        assert f.read() == ("body %s\r\n" % tok).encode()
    assert _delivered(postfix, tok, 0, timeout=0) == []
    # The server is back: -q delivers it exactly once and empties the queue.
    p = run(["-q"], config=_cfg(qdir, postfix.port("plain")))
    assert p.returncode == 0, p.stderr.decode()
    got = _delivered(postfix, tok, 1)
    assert len(got) == 1, got
    assert b"X-Original-To: " + RCPT.encode() in got[0]
    assert ("Return-Path: <%s>" % FROM).encode() in got[0]
    assert _entries(qdir) == []
    assert not [n for n in os.listdir(qdir) if n.startswith(qid)]
    # A second flush has nothing to send.
    p = run(["-q"], config=_cfg(qdir, postfix.port("plain")))
    assert p.returncode == 0, p.stderr.decode()
    assert len(_delivered(postfix, tok, 2, timeout=1)) == 1


def test_odq_queues_without_trying(postfix, run, tmp_path):
    qdir = str(tmp_path / "q")
    tok = _tok()
    cfg = _cfg(qdir, postfix.port("plain"))
    p = run(["-odq", RCPT], input=_msg(tok), config=cfg)
    err = p.stderr.decode()
    assert p.returncode == 0, err
    m = QUEUED.match(err.strip())
    assert m, err
    assert _delivered(postfix, tok, 1, timeout=1) == []
    assert _entries(qdir) == [m.group(1)]
    # -odi sends at once, as without the option.
    tok2 = _tok()
    p = run(["-odi", RCPT], input=_msg(tok2), config=cfg)
    assert p.returncode == 0 and p.stderr == b"", p.stderr
    assert len(_delivered(postfix, tok2, 1)) == 1
    p = run(["-q"], config=cfg)
    assert p.returncode == 0, p.stderr.decode()
    assert len(_delivered(postfix, tok, 1)) == 1
    assert _entries(qdir) == []


def test_queue_off_keeps_75(run, tmp_path):
    qdir = str(tmp_path / "q")
    p = run([RCPT], input=_msg(_tok()),
            config=_cfg(qdir, _dead_port(), "queue off\n"))
    err = p.stderr.decode()
    assert p.returncode == 75, err
    assert "queued" not in err
    assert _entries(qdir) == []


def test_queue_that_cannot_be_written_gives_75(run, tmp_path):
    # Below a regular file: no directory can be made there.
    blocker = tmp_path / "file"
    blocker.write_text("x")
    qdir = str(blocker / "q")
    p = run([RCPT], input=_msg(_tok()), config=_cfg(qdir, _dead_port()))
    err = p.stderr.decode()
    assert p.returncode == 75, err
    assert "could not be queued" in err
    assert qdir in err
    # The reason the send failed is still said.
    assert "Connection refused" in err
    assert "queued as" not in err


def test_keyring_unreachable_under_cron_queued(postfix, certs, run,
                                               tmp_path):
    # Cron's environment: no session bus to be found; the address points
    # at a socket nobody answers on.
    path = str(tmp_path / "deadbus")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.close()
    qdir = str(tmp_path / "q")
    tok = _tok()
    cfg = ("account default\nhost 127.0.0.1\nport %d\ntls on\n"
           "tls_starttls on\ntls_trust_file %s\nfrom %s\nuser alice\n"
           "timeout 20\nqueue_dir %s\n"
           % (postfix.port("starttls_auth"), certs.ca, FROM, qdir))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "HOME": str(tmp_path),
           "DBUS_SESSION_BUS_ADDRESS": "unix:path=" + path}
    cmd = run.command() + ["-C", run.config_file(cfg), RCPT]
    p = subprocess.run(cmd, input=_msg(tok), env=env, timeout=60,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       start_new_session=True)
    err = p.stderr.decode(errors="replace")
    assert p.returncode == 0, err
    m = QUEUED.match(err.strip())
    assert m and "keyring" in m.group(2), err
    # Later, with a password the flush can use, it goes out once.
    p = run(["-q"], config=cfg + "password secret\n")
    assert p.returncode == 0, p.stderr.decode()
    assert len(_delivered(postfix, tok, 1)) == 1
    assert _entries(qdir) == []


def test_mailq_and_queue_commands(run, tmp_path):
    qdir = str(tmp_path / "q")
    cfg = _cfg(qdir, _dead_port())
    p = run(["-bp"], config=cfg)
    assert p.returncode == 0
    assert p.stdout.decode() == "Mail queue is empty (%s)\n" % qdir
    qid, reason = _queue_one(run, qdir, _tok())
    p = run(["--queue-dir"], config=cfg)
    assert p.returncode == 0 and p.stdout.decode() == qdir + "\n"
    # mailq through a symlink named mailq, line by line.
    link = str(tmp_path / "mailq")
    os.symlink(servers.smtpsend_path(), link)
    env = dict(os.environ, HOME=run.home)
    run.queue_env(env)
    p = subprocess.run([link, "-C", run.config_file(cfg)], env=env,
                       timeout=30, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.decode().splitlines()
    assert re.match(r"^%s  age \d+s  size \d+  from <%s>  queued$"
                    % (qid, FROM), lines[0]), lines
    assert lines[1] == "    to <%s>" % RCPT
    assert lines[2] == "    attempts 0, next attempt now (due)"
    assert lines[3] == "    last error: %s" % reason
    assert lines[4] == "-- 1 message in %s" % qdir
    assert len(lines) == 5
    p = run(["--queue-show", qid], config=cfg)
    assert p.returncode == 0
    out = p.stdout.decode()
    assert "id: %s\n" % qid in out and "recipient: <%s>\n" % RCPT in out
    p = run(["--queue-remove", qid], config=cfg)
    assert p.returncode == 0, p.stderr
    assert _entries(qdir) == []
    p = run(["--queue-remove", qid], config=cfg)
    assert p.returncode == 64 and b"no such message" in p.stderr


# ------------------------------------------------------------- flushes

def _log_count(postfix, what):
    return len(re.findall(r"smtpd\[\d+\]: %s from " % what, postfix.log()))


def test_two_accounts_over_two_connections(postfix, run, tmp_path):
    qdir = str(tmp_path / "q")
    port = postfix.port("plain")
    cfg = ("defaults\nhost 127.0.0.1\nport %d\ntls off\ntimeout 10\n"
           "queue_dir %s\n"
           "account one\nfrom one@example.org\n"
           "account two\nfrom two@example.org\n"
           "account default : one\n" % (port, qdir))
    toks = {}
    for acc in ("one", "two", "one", "two", "one", "two", "one"):
        tok = _tok()
        toks[tok] = acc
        p = run(["-odq", "-a", acc, RCPT], input=_msg(tok), config=cfg)
        assert p.returncode == 0, p.stderr.decode()
    assert len(_entries(qdir)) == 7
    before = _log_count(postfix, "disconnect")
    p = run(["-q"], config=cfg)
    assert p.returncode == 0, p.stderr.decode()
    for tok, acc in toks.items():
        got = _delivered(postfix, tok, 1)
        assert len(got) == 1, (tok, len(got))
        assert ("Return-Path: <%s@example.org>" % acc).encode() in got[0]
    assert _entries(qdir) == []
    # Postfix logs each session's end; give the log a moment.
    deadline = time.monotonic() + 10
    while (_log_count(postfix, "disconnect") - before < 2 and
           time.monotonic() < deadline):
        time.sleep(0.1)
    time.sleep(0.5)
    assert _log_count(postfix, "disconnect") - before == 2, postfix.log()[-3000:]


def test_every_account_queue_dir_flushed_and_listed(postfix, run, tmp_path):
    # Two accounts, two queue directories: one -q delivers both messages,
    # each through its own account, over one connection each; mailq lists
    # both directories, each block saying which it is.
    qa, qb = str(tmp_path / "qa"), str(tmp_path / "qb")
    cfg = ("defaults\nhost 127.0.0.1\nport %d\ntls off\ntimeout 10\n"
           "account one\nfrom one@example.org\nqueue_dir %s\n"
           "account two\nfrom two@example.org\nqueue_dir %s\n"
           "account default : one\n" % (postfix.port("plain"), qa, qb))
    toks = {}
    for acc in ("one", "two"):
        toks[acc] = _tok()
        p = run(["-odq", "-a", acc, RCPT], input=_msg(toks[acc]),
                config=cfg)
        assert p.returncode == 0, p.stderr.decode()
    (ida,) = _entries(qa)
    (idb,) = _entries(qb)
    p = run(["-bp"], config=cfg)
    assert p.returncode == 0, p.stderr.decode()
    lines = p.stdout.decode().splitlines()
    assert re.match(r"^%s  age \d+s  size \d+  from <one@example.org>  "
                    r"queued$" % ida, lines[0]), lines
    assert lines[3] == "    last error: delivery deferred (-odq)", lines
    assert lines[4] == "-- 1 message in %s" % qa, lines
    assert re.match(r"^%s  age \d+s  size \d+  from <two@example.org>  "
                    r"queued$" % idb, lines[5]), lines
    assert lines[9] == "-- 1 message in %s" % qb, lines
    assert len(lines) == 10, lines
    # -a: that account's directory only; the ids are found in any.
    p = run(["-bp", "-a", "two"], config=cfg)
    assert p.stdout.decode().splitlines()[-1] == \
        "-- 1 message in %s" % qb, p.stdout
    assert ida not in p.stdout.decode()
    p = run(["--queue-show", idb], config=cfg)
    assert p.returncode == 0 and "account: two\n" in p.stdout.decode()
    before = _log_count(postfix, "disconnect")
    p = run(["-q"], config=cfg)
    assert p.returncode == 0, p.stderr.decode()
    for acc, tok in toks.items():
        got = _delivered(postfix, tok, 1)
        assert len(got) == 1, (acc, len(got))
        assert ("Return-Path: <%s@example.org>" % acc).encode() in got[0]
    assert _entries(qa) == [] and _entries(qb) == []
    deadline = time.monotonic() + 10
    while (_log_count(postfix, "disconnect") - before < 2 and
           time.monotonic() < deadline):
        time.sleep(0.1)
    time.sleep(0.5)
    assert _log_count(postfix, "disconnect") - before == 2
    p = run(["-bp"], config=cfg)
    assert p.stdout.decode() == "Mail queue is empty (%s, %s)\n" % (qa, qb)


def test_expired_message_notice_to_sender(postfix, run, tmp_path):
    qdir = str(tmp_path / "q")
    tok = _tok()
    qid, _ = _queue_one(run, qdir, tok, "queue_lifetime 1s\n")
    time.sleep(1.5)
    cfg = _cfg(qdir, postfix.port("plain"), "queue_lifetime 1s\n")
    p = run(["-q"], config=cfg)
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert "moved to %s/failed/" % qdir in err
    assert _entries(qdir) == []
    assert _entries(qdir, "failed") == [qid]
    # Not delivered; the notice went to the sender, from <>.
    deadline = time.monotonic() + 15
    notes = []
    while not notes and time.monotonic() < deadline:
        notes = [m for m in postfix.messages() if qid.encode() in m and
                 b"Undelivered Mail Returned to Sender" in m]
        time.sleep(0.1)
    assert len(notes) == 1
    n = notes[0]
    assert b"Return-Path: <>" in n
    assert ("X-Original-To: %s" % FROM).encode() in n
    assert b"multipart/report; report-type=delivery-status" in n
    assert b"Status: 4.4.7" in n
    assert b"Action: failed" in n
    assert ("Final-Recipient: rfc822; %s" % RCPT).encode() in n
    # The original headers, not the body.
    assert ("Subject: queue %s" % tok).encode() in n
    assert ("body %s" % tok).encode() not in n
    got = [m for m in postfix.messages() if tok.encode() in m and m != n]
    assert got == []
    p = run(["-bp"], config=cfg)
    out = p.stdout.decode()
    assert re.search(r"^%s  age \d+s  size \d+  from <%s>  failed$"
                     % (qid, FROM), out, re.M), out
    assert "not delivered within queue_lifetime (1 s)" in out


def test_permanent_failure_in_flush_to_failed(run, tmp_path):
    qdir = str(tmp_path / "q")
    tok = _tok()
    with S.Sink(refuse=["bob@example.org"]) as sk:
        cfg = _cfg(qdir, sk.port)
        p = run(["-odq", RCPT], input=_msg(tok), config=cfg)
        assert p.returncode == 0, p.stderr.decode()
        qid = _entries(qdir)[0]
        p = run(["-q"], config=cfg)
        assert p.returncode == 0, p.stderr.decode()
        sk.wait_sessions(2)
        acc = sk.accepted()
    assert _entries(qdir) == []
    assert _entries(qdir, "failed") == [qid]
    # The only accepted transaction is the notice: <> to the sender.
    assert len(acc) == 1, acc
    assert acc[0].mail_addr() == ""
    assert acc[0].rcpt_addrs() == [FROM]
    note = acc[0].unstuffed()
    assert b"Status: 5.1.1\r\n" in note
    assert b"Recipient address rejected" in note


def test_throttling_stops_the_account(run, tmp_path):
    qdir = str(tmp_path / "q")
    with S.Sink(data_reply="451 4.7.1 Rate limit, slow down") as sk:
        cfg = _cfg(qdir, sk.port)
        for _ in range(3):
            p = run(["-odq", RCPT], input=_msg(_tok()), config=cfg)
            assert p.returncode == 0, p.stderr.decode()
        ids = _entries(qdir)
        p = run(["-q"], config=cfg)
        assert p.returncode == 0, p.stderr.decode()
        sk.wait_sessions(1)
        txns = [t for s in sk.sessions for t in s.txns]
    # One try, then the account stopped: the others keep their place.
    assert len(txns) == 1, txns
    assert _entries(qdir) == ids
    attempts = []
    for i in ids:
        with open(os.path.join(qdir, i + ".env")) as f:
            attempts.append(re.search(r"^attempts: (\d+)$", f.read(),
                                      re.M).group(1))
    assert attempts == ["1", "0", "0"]


def test_refused_not_queued_kept_in_failed_without_tty(run, tmp_path):
    qdir = str(tmp_path / "q")
    with S.Sink(refuse=["bob@example.org"]) as sk:
        cfg = _cfg(qdir, sk.port)
        p = run([RCPT], input=_msg(_tok()), config=cfg)
        err = p.stderr.decode()
        # Never queued; its exit status stays; a copy kept for mailq.
        assert p.returncode == 67, err
        assert "queued as" not in err
        assert _entries(qdir) == []
        kept = _entries(qdir, "failed")
        assert len(kept) == 1, err
        assert "a copy is kept as %s in %s/failed/" % (kept[0], qdir) in err
        p = run(["-bp"], config=cfg)
        assert re.search(r"^%s  .*  failed$" % kept[0], p.stdout.decode(),
                         re.M), p.stdout
        # Someone reads a terminal: no copy.
        master, slave = os.openpty()
        try:
            env = run.queue_env(dict(os.environ, HOME=run.home))
            q = subprocess.run(run.command() + ["-C", run.config_file(cfg),
                                                RCPT],
                               input=_msg(_tok()), env=env, timeout=60,
                               stdout=subprocess.PIPE, stderr=slave)
        finally:
            os.close(slave)
            os.close(master)
        assert q.returncode == 67
        assert _entries(qdir, "failed") == kept
        sk.wait_sessions(2)
        assert sk.accepted() == []


# ------------------------------------------------- flush after a send

def test_successful_send_flushes_in_background(postfix, run, tmp_path):
    qdir = str(tmp_path / "q")
    # A server that accepts connections and never greets: a flush of
    # the "slow" account's message hangs there until its timeout.
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = postfix.port("plain")
    cfg = ("defaults\ntls off\ntimeout 10\nqueue_dir %s\nfrom %s\n"
           "account slow\nhost 127.0.0.1\nport %d\n"
           "account later\nhost 127.0.0.1\nport %d\n"
           "account default\nhost 127.0.0.1\nport %d\n"
           % (qdir, FROM, silent.getsockname()[1], _dead_port(), port))
    try:
        slow_tok, later_tok, now_tok = _tok(), _tok(), _tok()
        p = run(["-odq", "-a", "slow", RCPT], input=_msg(slow_tok),
                config=cfg)
        assert p.returncode == 0, p.stderr.decode()
        p = run(["-a", "later", RCPT], input=_msg(later_tok), config=cfg)
        assert p.returncode == 0 and b"queued as" in p.stderr, p.stderr
        # "later" can now be delivered: point its account at Postfix.
        cfg2 = re.sub(r"(account later\nhost 127.0.0.1\nport )\d+",
                      r"\g<1>%d" % port, cfg)
        if os.environ.get("SMTPSEND_WRAPPER"):
            # A wrapper (valgrind) keeps its own copy of stderr in the
            # detached flush: time the exit, with the output in a file.
            with tempfile.TemporaryFile() as out:
                t0 = time.monotonic()
                w = subprocess.run(
                    run.command() + ["-C", run.config_file(cfg2), RCPT],
                    input=_msg(now_tok), stdout=out, stderr=out,
                    env=run.queue_env(dict(os.environ, HOME=run.home)),
                    timeout=240)
                took = time.monotonic() - t0
                out.seek(0)
                p = subprocess.CompletedProcess(w.args, w.returncode, b"",
                                                out.read())
        else:
            t0 = time.monotonic()
            p = run([RCPT], input=_msg(now_tok), config=cfg2)
            took = time.monotonic() - t0
        assert p.returncode == 0, p.stderr.decode()
        assert p.stderr == b""
        # The caller got its status (and, without a wrapper, EOF on its
        # pipes) without waiting for the flush, which hangs 10 s on the
        # silent server.
        assert took < 8, took
        assert len(_delivered(postfix, now_tok, 1)) == 1
        # Meanwhile the detached flush delivered the "later" message.
        assert len(_delivered(postfix, later_tok, 1, timeout=30)) == 1
        deadline = time.monotonic() + 30
        while len(_entries(qdir)) > 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_entries(qdir)) == 1     # the slow one stays queued
    finally:
        silent.close()


# ------------------------------------------------------ systemd units

def test_make_install_units(tmp_path):
    """make install-units (part of make install) puts the user and system
    timer + service under PREFIX/lib/systemd with the installed binary."""
    root = servers.repo_root()
    dest = str(tmp_path / "dest")
    r = subprocess.run(["make", "-s", "-C", root, "install-units",
                        "DESTDIR=" + dest, "PREFIX=/opt/ss"],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    for kind in ("user", "system"):
        d = os.path.join(dest, "opt/ss/lib/systemd", kind)
        with open(os.path.join(d, "smtpsend-queue.service")) as f:
            svc = f.read()
        with open(os.path.join(d, "smtpsend-queue.timer")) as f:
            tmr = f.read()
        assert "\nExecStart=/opt/ss/bin/smtpsend -q\n" in svc
        assert "\nType=oneshot\n" in svc
        assert "\nOnCalendar=*:0/5\n" in tmr
        assert "\nWantedBy=timers.target\n" in tmr
        # systemd itself finds nothing wrong (the man page is not
        # installed here: that complaint alone is expected).
        r = subprocess.run(["systemd-analyze", "verify",
                            os.path.join(d, "smtpsend-queue.timer")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        bad = [ln for ln in r.stderr.decode().splitlines()
               if "man smtpsend" not in ln and ln.strip()]
        assert bad == [], r.stderr.decode()


# ------------------------------------------------ exactly once, or uncertain

def _drop_after_dot_server():
    """One SMTP session on loopback that takes the whole message and closes
    the connection instead of answering the final dot."""
    import threading
    ls = socket.create_server(("127.0.0.1", 0))
    ls.settimeout(30)
    seen = {}

    def serve():
        try:
            c, _ = ls.accept()
            c.settimeout(30)
            f = c.makefile("rb")
            c.sendall(b"220 drop.example ESMTP\r\n")
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line[:4].upper()
                if cmd == b"EHLO":
                    c.sendall(b"250 drop.example\r\n")
                elif cmd in (b"MAIL", b"RCPT"):
                    c.sendall(b"250 ok\r\n")
                elif cmd == b"DATA":
                    c.sendall(b"354 go\r\n")
                    while True:
                        ln = f.readline()
                        if not ln or ln == b".\r\n":
                            break
                    seen["dot"] = bool(ln)
                    c.close()
                    return
                else:
                    c.sendall(b"500 what\r\n")
        except OSError as e:
            seen["error"] = e
        finally:
            ls.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    return ls.getsockname()[1], th, seen


def test_drop_after_final_dot_is_uncertain_and_retried(postfix, run,
                                                       tmp_path):
    qdir = str(tmp_path / "q")
    log = str(tmp_path / "log")
    tok = _tok()
    qid, _ = _queue_one(run, qdir, tok, "logfile %s\n" % log)
    port, th, seen = _drop_after_dot_server()
    p = run(["-q"], config=_cfg(qdir, port, "logfile %s\n" % log))
    th.join(30)
    assert seen.get("dot"), seen
    assert p.returncode == 0, p.stderr.decode()
    # Kept: the server may have it; mailq says so.
    assert _entries(qdir) == [qid]
    with open(os.path.join(qdir, qid + ".env")) as f:
        env = f.read()
    assert "state: uncertain\n" in env and "attempts: 1\n" in env, env
    p = run(["-bp"], config=_cfg(qdir, port))
    assert re.search(r"^%s  .*  uncertain \(may have been delivered; it "
                     r"will be sent again\)$" % qid, p.stdout.decode(),
                     re.M), p.stdout
    # Retried (-qf: its backoff has not passed): a duplicate beats a loss.
    p = run(["-qf"], config=_cfg(qdir, postfix.port("plain"),
                                 "logfile %s\n" % log))
    assert p.returncode == 0, p.stderr.decode()
    assert len(_delivered(postfix, tok, 1)) == 1
    assert _entries(qdir) == []
    # One log line per queueing, retry and delivery from the queue.
    with open(log) as f:
        lines = f.read().splitlines()
    assert len([ln for ln in lines if "queue=queued:%s " % qid in ln]) == 1
    assert len([ln for ln in lines if "queue=retry:%s " % qid in ln]) == 1
    assert len([ln for ln in lines
                if "queue=delivered:%s " % qid in ln]) == 1


def _spool_of(pid, size):
    """(st_dev, st_ino) of pid's spool: an open regular file with no name
    (no link left) of the given size, or None."""
    fds = "/proc/%d/fd" % pid
    try:
        names = os.listdir(fds)
    except OSError:
        return None
    for n in names:
        try:
            st = os.stat(os.path.join(fds, n))
        except OSError:
            continue
        if (stat.S_ISREG(st.st_mode) and st.st_nlink == 0 and
                st.st_size == size):
            return (st.st_dev, st.st_ino)
    return None


def test_spool_is_linked_into_the_queue_not_copied(postfix, run, tmp_path):
    # TMPDIR on another file system (tmpfs) than the queue: the spool is
    # made in the queue directory all the same, so queueing it is a link.
    # Proof: the inode smtpsend holds open as its spool while the server
    # keeps it waiting is the queued body's inode.
    shm = tempfile.mkdtemp(dir="/dev/shm", prefix="smtpsend-q-")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    try:
        assert os.stat(shm).st_dev != os.stat(str(tmp_path)).st_dev
        qdir = str(tmp_path / "q")
        tok = _tok()
        body = ("body %s\n" % tok) + ("x" * 70 + "\n") * 3000
        want = body.replace("\n", "\r\n").encode()
        msg = _msg(tok).split(b"\n\n")[0] + b"\n\n" + body.encode()
        cfg = _cfg(qdir, silent.getsockname()[1]).replace("timeout 10",
                                                          "timeout 3")
        env = run.queue_env(dict(os.environ, HOME=run.home, TMPDIR=shm))
        proc = subprocess.Popen(
            run.command() + ["-C", run.config_file(cfg), RCPT],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, env=env)
        proc.stdin.write(msg)
        proc.stdin.close()
        spool = None
        deadline = time.monotonic() + 60
        while spool is None and proc.poll() is None and \
                time.monotonic() < deadline:
            spool = _spool_of(proc.pid, len(want))
            time.sleep(0.02)
        proc.wait(timeout=120)
        err = proc.stderr.read().decode()
        proc.stderr.close()
        assert proc.returncode == 0, err
        assert QUEUED.match(err.strip()), err
        assert spool is not None
        assert spool[0] == os.stat(qdir).st_dev
        (qid,) = _entries(qdir)
        bpath = os.path.join(qdir, qid + ".body")
        st = os.stat(bpath)
        assert (st.st_dev, st.st_ino) == spool
        with open(bpath, "rb") as f:
            assert f.read() == want
        assert os.listdir(shm) == []
        assert os.listdir(os.path.join(qdir, "tmp")) == []
        p = run(["-q"], config=_cfg(qdir, postfix.port("plain")))
        assert p.returncode == 0, p.stderr.decode()
        assert len(_delivered(postfix, tok, 1)) == 1
    finally:
        silent.close()
        shutil.rmtree(shm, ignore_errors=True)


# On one build only: under valgrind (a wrapper of the other layers) the
# wrapper itself needs $TMPDIR before smtpsend starts.
@pytest.mark.once
def test_unusable_tmpdir_still_queued(postfix, run, tmp_path):
    # The spool needs no TMPDIR when the message may be queued; with the
    # queue off it still goes there (and fails as before when it cannot).
    qdir = str(tmp_path / "q")
    tok = _tok()
    p = run([RCPT], input=_msg(tok), config=_cfg(qdir, _dead_port()),
            env={"TMPDIR": str(tmp_path / "nonexistent")})
    assert p.returncode == 0, p.stderr.decode()
    (qid,) = _entries(qdir)
    with open(os.path.join(qdir, qid + ".body"), "rb") as f:
        assert f.read() == ("body %s\r\n" % tok).encode()
    p = run(["-q"], config=_cfg(qdir, postfix.port("plain")))
    assert p.returncode == 0, p.stderr.decode()
    assert len(_delivered(postfix, tok, 1)) == 1
    p = run([RCPT], input=_msg(_tok()),
            config=_cfg(qdir, _dead_port(), "queue off\n"),
            env={"TMPDIR": str(tmp_path / "nonexistent")})
    assert p.returncode == 74, p.stderr.decode()
    assert b"cannot create a spool file in " in p.stderr


def test_temporary_rcpt_refusal_queued_then_flushed(postfix, run, tmp_path):
    qdir = str(tmp_path / "q")
    tok = _tok()
    with S.Sink(tempfail=[RCPT]) as sk:
        p = run([RCPT], input=_msg(tok), config=_cfg(qdir, sk.port))
        err = p.stderr.decode()
        assert p.returncode == 0, err
        m = QUEUED.match(err.strip())
        assert m and "450 4.2.0" in m.group(2), err
        sk.wait_sessions(1)
        assert sk.accepted() == []
    p = run(["-q"], config=_cfg(qdir, postfix.port("plain")))
    assert p.returncode == 0, p.stderr.decode()
    assert len(_delivered(postfix, tok, 1)) == 1
    assert _entries(qdir) == []


def test_flush_of_an_unreadable_queue_fails(run, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    p = run(["-q"], config=_cfg(str(blocker / "q"), _dead_port()))
    assert p.returncode != 0
    assert b"queue directory" in p.stderr


def test_long_queue_needs_few_descriptors(postfix, run, tmp_path):
    # Each message is locked just before it is sent: a queue longer than
    # the descriptor limit is flushed whole, in one run.
    import resource
    qdir = str(tmp_path / "q")
    cfg = _cfg(qdir, postfix.port("plain"))
    toks = [_tok() for _ in range(60)]
    for tok in toks:
        p = run(["-odq", RCPT], input=_msg(tok), config=cfg)
        assert p.returncode == 0, p.stderr.decode()
    env = run.queue_env(dict(os.environ, HOME=run.home))
    p = subprocess.run(
        run.command() + ["-C", run.config_file(cfg), "-q"], env=env,
        timeout=120, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE,
                                              (32, 32)))
    assert p.returncode == 0, p.stderr.decode()
    assert _entries(qdir) == [], p.stderr.decode()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        msgs = postfix.messages()
        counts = [sum(1 for m in msgs if t.encode() in m) for t in toks]
        if min(counts) >= 1:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    msgs = postfix.messages()
    assert [sum(1 for m in msgs if t.encode() in m) for t in toks] == \
        [1] * len(toks)


def test_full_queue_file_system_still_sends(postfix, run, tmp_path):
    """The spool lives in the queue's directory; when that file system is
    full the message goes on in $TMPDIR, so a full queue never stops a
    message that can be sent (a "disk full" alert from a monitoring job,
    say).  When it cannot be sent, it cannot be queued either: 75, and
    the reason said, nothing claimed."""
    small = str(tmp_path / "small")
    os.mkdir(small)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=128k,mode=0700",
                    "tmpfs", small], check=True, timeout=10)
    try:
        qdir = os.path.join(small, "q")
        tok = _tok()
        body = b"".join(b"%07d the queue's file system is full\n" % i
                        for i in range(20000))
        assert len(body) > 512 * 1024
        msg = _msg(tok).replace(b"\n\nbody", b"\n\n" + body + b"body")
        p = run([RCPT], input=msg, config=_cfg(qdir, postfix.port("plain")))
        assert p.returncode == 0, p.stderr.decode()
        [got] = _delivered(postfix, tok, 1)
        assert body in got.replace(b"\r\n", b"\n")
        assert os.listdir(os.path.join(qdir, "tmp")) == []
        # Not sendable now: not queueable either, and it says so.
        p = run([RCPT], input=msg, config=_cfg(qdir, _dead_port()))
        err = p.stderr.decode()
        assert p.returncode == 75, err
        assert "could not be queued: No space left on device" in err, err
        assert not any(QUEUED.match(x) for x in err.splitlines()), err
        assert _entries(qdir) == []
    finally:
        subprocess.run(["umount", "-l", small], timeout=10)
