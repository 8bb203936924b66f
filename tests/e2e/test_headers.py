"""Headers that system tools write, through the real Postfix (issue 10
item 5): cron's "To: root", mailx's "Cc: admin" arrive qualified with the
domain the envelope got (or the aliases entry), as Postfix's own sendmail
does for local submissions (append_at_myorigin); qualified addresses,
display names, comments and groups are untouched; Bcc is still removed;
rewrite_headers off keeps everything as written.
"""

import uuid

import sink as S

FROM = "sender@example.org"


def config(postfix, extra=""):
    return ("account default\nhost 127.0.0.1\nport %d\ntls off\n"
            "from %s\n%s" % (postfix.port("plain"), FROM, extra))


def tok():
    return "t" + uuid.uuid4().hex[:12]


def cron_message(t):
    # What Debian's cron writes (headers LF), then runs
    # "sendmail -FCronDaemon -i -B8BITMIME -oem root".
    return ("From: root (Cron Daemon)\n"
            "To: root\n"
            "Subject: Cron <root@host> run-parts %s\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\n"
            "X-Cron-Env: <SHELL=/bin/sh>\n"
            "X-Cron-Env: <LOGNAME=root>\n"
            "\n"
            "job output\n" % t).encode()


def test_cron_to_root_qualified(postfix, run):
    t = tok()
    p = run(["-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root"],
            input=cron_message(t), config=config(postfix))
    assert p.returncode == 0, p.stderr
    [d] = S.delivered(postfix, t, 1)
    assert d.rcpt == "root@example.org"
    assert d.get("to") == [b"root@example.org"]
    assert d.get("from") == [b"root@example.org (Cron Daemon)"]
    # Other fields that merely mention root are not addresses.
    assert d.get("x-cron-env") == [b"<SHELL=/bin/sh>", b"<LOGNAME=root>"]
    assert d.one("Subject") == "Cron <root@host> run-parts %s" % t


def test_alias_maps_header(postfix, run, tmp_path):
    al = tmp_path / "aliases"
    al.write_text("root: admin@example.net\nops: ops@example.net, "
                  "night@example.net\n")
    t = tok()
    msg = ("From: root (Cron Daemon)\n"
           "To: root\n"
           "Cc: \"The Ops\" <ops> (night shift), bob@example.com\n"
           "Reply-To: Web Server <www-data>\n"
           "Subject: alias %s\n\nbody\n" % t).encode()
    p = run(["-t", "-i"], input=msg,
            config=config(postfix, "aliases %s\n" % al))
    assert p.returncode == 0, p.stderr
    copies = S.delivered(postfix, t, 4, settle=0.5)
    assert [d.rcpt for d in copies] == [
        "admin@example.net", "bob@example.com", "night@example.net",
        "ops@example.net"]
    d = copies[0]
    # The recipient fields get what the envelope got: root's entry.
    assert d.get("to") == [b"admin@example.net"]
    # ops has two addresses: it is qualified, name and comment kept.
    assert d.get("cc") == [b"\"The Ops\" <ops@example.org> (night shift), "
                           b"bob@example.com"]
    assert d.get("reply-to") == [b"Web Server <www-data@example.org>"]
    # From is the sender: qualified as the envelope sender would be.
    assert d.get("from") == [b"root@example.org (Cron Daemon)"]


def test_group_untouched_bcc_removed(postfix, run):
    t = tok()
    msg = ("From: Me <me@example.org>\n"
           "To: undisclosed-recipients:;\n"
           "Bcc: root\n"
           "Subject: group %s\n\nbody\n" % t).encode()
    p = run(["-t", "-i"], input=msg, config=config(postfix))
    assert p.returncode == 0, p.stderr
    [d] = S.delivered(postfix, t, 1)
    assert d.rcpt == "root@example.org"
    assert d.get("to") == [b"undisclosed-recipients:;"]
    assert d.get("bcc") == []
    assert b"Bcc" not in d.raw and b"bcc" not in d.raw


def test_rewrite_headers_off(postfix, run):
    t = tok()
    p = run(["-i", "root"], input=cron_message(t),
            config=config(postfix, "rewrite_headers off\n"))
    assert p.returncode == 0, p.stderr
    [d] = S.delivered(postfix, t, 1)
    assert d.rcpt == "root@example.org"
    assert d.get("to") == [b"root"]
    assert d.get("from") == [b"root (Cron Daemon)"]


def test_bs_gets_it_too(postfix, run):
    # -bs goes through the same submit_fix.
    t = tok()
    body = cron_message(t).replace(b"\n", b"\r\n")
    script = (b"EHLO client\r\nMAIL FROM:<>\r\nRCPT TO:<root>\r\nDATA\r\n" +
              body + b".\r\nQUIT\r\n")
    p = run(["-bs"], input=script, config=config(postfix))
    assert p.returncode == 0, (p.stdout, p.stderr)
    [d] = S.delivered(postfix, t, 1)
    assert d.rcpt == "root@example.org"
    assert d.get("to") == [b"root@example.org"]
    assert d.get("from") == [b"root@example.org (Cron Daemon)"]
