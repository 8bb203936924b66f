"""TLS end to end: smtpsend against the real Postfix fixture over STARTTLS
and implicit TLS, every certificate fault the fixture serves, client
certificates, pinning, TLS versions, port/mode confusion, --serverinfo and
session resumption across runs."""

import os
import re
import stat
import time

import pytest

MSG = (b"From: Sender <sender@localhost>\n"
       b"To: Rcpt <rcpt@localhost>\n"
       b"Subject: tls test %s\n"
       b"\n"
       b"body line\n")


def config(postfix, listener, *extra, trust=None, certs=None):
    """An account for one listener; tls_trust_file is the test CA unless
    trust is given ("" for none)."""
    lines = ["account default", "host 127.0.0.1",
             "port %d" % postfix.port(listener),
             "from sender@localhost", "timeout 10"]
    if trust is None:
        trust = certs.ca
    if trust:
        lines.append("tls_trust_file %s" % trust)
    lines.extend(extra)
    return "\n".join(lines) + "\n"


def send(run, cfg, tag, env=None, verbose=True):
    args = ["-v"] if verbose else []
    args.append("rcpt@localhost")
    start = time.monotonic()
    p = run(args, input=MSG % tag.encode(), config=cfg, env=env, timeout=60)
    p.elapsed = time.monotonic() - start
    p.err = p.stderr.decode(errors="replace")
    return p


def delivered(postfix, tag):
    msgs = postfix.wait_messages(1, timeout=20)
    assert any((b"Subject: tls test %s" % tag.encode()) in m for m in msgs)


def sent_after_starttls(p):
    """Client lines of the -v transcript after STARTTLS was answered, in
    every connection (a resumed session refused on today's settings is
    followed by a second connection); None if STARTTLS was never sent."""
    found, sent, after = False, [], False
    for line in p.err.splitlines():
        if line.startswith("--- connecting to "):
            after = False
        elif line.startswith("--> STARTTLS"):
            found = after = True
        elif after and line.startswith("--> "):
            sent.append(line)
    return sent if found else None


def one_line_error(p):
    """The error lines smtpsend printed (not the transcript)."""
    return "\n".join(x for x in p.err.splitlines()
                     if x.startswith("smtpsend:"))


# ------------------------------------------------------------- delivery

@pytest.mark.parametrize("listener,mode", [("starttls", []),
                                           ("implicit", ["tls_starttls off"])])
def test_delivered(run, postfix, certs, listener, mode):
    p = send(run, config(postfix, listener, *mode, certs=certs), listener)
    assert p.returncode == 0, p.err
    assert "--- TLS handshake done: TLS1.3/" in p.err
    delivered(postfix, listener)


# ------------------------------------------------- certificate problems

BAD = [
    ("expired", ["expired on 2021-01-01", "valid from 2020-01-01"], "renew"),
    ("notyet", ["not valid yet", "2090-01-01"], "clock"),
    ("selfsigned", ["self-signed", "CN=localhost"], "tls_fingerprint"),
    ("wronghost", ["wrong.example", "not for 127.0.0.1"],
     "tls_host_override"),
]


@pytest.mark.parametrize("listener,words,hint", BAD)
def test_bad_certificate(run, postfix, certs, listener, words, hint):
    p = send(run, config(postfix, listener, certs=certs), listener)
    assert p.returncode == 69, p.err
    err = one_line_error(p)
    for w in words:
        assert w in err, err
    assert "hint:" in err and hint in err, err
    # Verified inside the handshake: nothing was sent after STARTTLS.
    assert sent_after_starttls(p) == [], p.err
    assert p.elapsed < 15
    assert postfix.messages() == []


def test_untrusted_issuer(run, postfix, certs):
    # Trusting only an unrelated certificate: the test CA is unknown.
    cfg = config(postfix, "starttls", trust=certs.selfsigned_cert)
    p = send(run, cfg, "untrusted")
    assert p.returncode == 69, p.err
    err = one_line_error(p)
    assert "not trusted" in err and "CN=smtpsend test CA" in err, err
    assert "tls_trust_file" in err
    assert sent_after_starttls(p) == []


def test_system_trust(run, postfix, certs):
    """No tls_trust_file: the system CAs ($SSL_CERT_FILE names the bundle,
    as for OpenSSL); the test CA is not among Debian's."""
    cfg = config(postfix, "starttls", trust="")
    p = send(run, cfg, "sys1")
    assert p.returncode == 69, p.err
    assert "not trusted" in one_line_error(p)
    p = send(run, cfg, "sys2", env={"SSL_CERT_FILE": certs.ca})
    assert p.returncode == 0, p.err
    delivered(postfix, "sys2")


def test_host_override(run, postfix, certs):
    cfg = config(postfix, "wronghost", "tls_host_override wrong.example",
                 certs=certs)
    p = send(run, cfg, "override")
    assert p.returncode == 0, p.err
    delivered(postfix, "override")


def test_certcheck_off_warns(run, postfix, certs):
    cfg = config(postfix, "selfsigned", "tls_certcheck off", trust="")
    p = send(run, cfg, "nocheck")
    assert p.returncode == 0, p.err
    assert "warning: tls_certcheck is off" in p.err
    delivered(postfix, "nocheck")


# ---------------------------------------------------- client certificate

def test_client_certificate_required(run, postfix, certs):
    p = send(run, config(postfix, "clientcert", certs=certs), "nocc")
    # Postfix finishes the handshake, then refuses EHLO with a 421: still a
    # certificate problem (69), with the keywords to set.
    assert p.returncode == 69, p.err
    assert "client certificate" in one_line_error(p).lower(), p.err
    assert "tls_cert_file" in p.err, p.err
    assert postfix.messages() == []


def test_client_certificate_given(run, postfix, certs):
    cfg = config(postfix, "clientcert",
                 "tls_cert_file %s" % certs.client_cert,
                 "tls_key_file %s" % certs.client_key, certs=certs)
    p = send(run, cfg, "cc")
    assert p.returncode == 0, p.err
    delivered(postfix, "cc")


def test_client_certificate_required_implicit(run, postfix, certs):
    # Implicit TLS: Postfix greets with "421 4.7.1 ... No client
    # certificate presented"; the reply itself names the cause.
    cfg = config(postfix, "reqcc_implicit", "tls_starttls off", certs=certs)
    p = send(run, cfg, "noccimpl")
    assert p.returncode == 69, p.err
    assert "No client certificate presented" in one_line_error(p), p.err
    assert "tls_cert_file" in p.err, p.err
    assert postfix.messages() == []


# A server that only asks for a client certificate (Postfix
# smtpd_tls_ask_ccert) and then refuses for another reason: the reply is
# judged by its code, 421 is temporary (75), and nothing blames the missing
# certificate.
ASKED = "--- the server asked for a client certificate; none is configured"


def _no_cert_blame(p):
    """Neither the error nor its hint blames the missing certificate."""
    assert "client certificate" not in one_line_error(p).lower(), p.err
    assert "tls_cert_file" not in one_line_error(p), p.err


def test_ask_ccert_421_greeting_is_temporary(run, postfix, certs):
    cfg = config(postfix, "askcc_greet421", "tls_starttls off", "queue off",
                 certs=certs)
    p = send(run, cfg, "ask421greet")
    assert ASKED in p.err, p.err
    assert p.returncode == 75, p.err
    assert "greeting" in one_line_error(p) and " 421 " in p.err, p.err
    _no_cert_blame(p)


def test_ask_ccert_421_ehlo_after_starttls_is_temporary(run, postfix, certs):
    p = send(run, config(postfix, "askcc_ehlo421", "queue off", certs=certs),
             "ask421ehlo")
    assert ASKED in p.err, p.err
    assert p.returncode == 75, p.err
    # The first EHLO was accepted; the one after STARTTLS got the 421.
    assert sent_after_starttls(p) == ["--> EHLO localhost"], p.err
    assert "<-- 421 4.3.2" in p.err, p.err
    _no_cert_blame(p)


def test_ask_ccert_greeting_timeout_is_temporary(run, postfix, certs):
    # Postfix waits 3 s before the greeting ("sleep" restriction); with
    # timeout 1 that is a timeout after a certificate request: 75.
    cfg = config(postfix, "askcc_slow", "tls_starttls off", "timeout 1",
                 "queue off", certs=certs)
    p = send(run, cfg, "askslow")
    assert ASKED in p.err, p.err
    assert p.returncode == 75, p.err
    assert "timed out" in one_line_error(p), p.err
    _no_cert_blame(p)


def _tls_server_closing(certs, ask_cert):
    """A TLS server on loopback that takes one connection, completes the
    handshake (sending a CertificateRequest if ask_cert) and closes it
    without a byte of SMTP.  A real server that refuses a missing client
    certificate this way was not at hand; Postfix answers 421 first."""
    import socket
    import ssl
    import threading
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs.localhost_cert, certs.localhost_key)
    if ask_cert:
        ctx.verify_mode = ssl.CERT_OPTIONAL
        ctx.load_verify_locations(certs.ca)
    lsock = socket.create_server(("127.0.0.1", 0))
    lsock.settimeout(30)
    done = {}

    def serve():
        try:
            conn, _ = lsock.accept()
            conn.settimeout(30)
            with ctx.wrap_socket(conn, server_side=True) as tls:
                done["handshake"] = True
                tls.close()
        except (OSError, ssl.SSLError) as e:
            done["error"] = e
        finally:
            lsock.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    return lsock.getsockname()[1], th, done


@pytest.mark.parametrize("ask,code", [(True, 69), (False, 75)])
def test_closed_after_handshake(run, certs, tmp_path, ask, code):
    """A close right after the handshake, before any greeting, is a
    client-certificate refusal only when the server asked for one."""
    port, th, done = _tls_server_closing(certs, ask)
    cfg = ("account default\nhost 127.0.0.1\nport %d\n"
           "from sender@localhost\ntimeout 10\ntls_starttls off\n"
           "tls_trust_file %s\nqueue off\n" % (port, certs.ca))
    p = send(run, cfg, "closed", env={"XDG_CACHE_HOME": str(tmp_path)})
    th.join(timeout=30)
    assert done.get("handshake"), done
    assert (ASKED in p.err) == ask, p.err
    assert p.returncode == code, p.err
    assert ("tls_cert_file" in one_line_error(p)) == ask, p.err


# ------------------------------------------------------------- pinning

def test_fingerprint_sha256(run, postfix, certs):
    # A pin needs no CA: no tls_trust_file at all.
    cfg = config(postfix, "starttls",
                 "tls_fingerprint %s" % certs.localhost_sha256, trust="")
    p = send(run, cfg, "pin256")
    assert p.returncode == 0, p.err
    assert "warning" not in p.err
    delivered(postfix, "pin256")


def test_fingerprint_sha1_warns(run, postfix, certs):
    cfg = config(postfix, "implicit", "tls_starttls off",
                 "tls_fingerprint %s" % certs.localhost_sha1.lower(),
                 trust="")
    p = send(run, cfg, "pin1")
    assert p.returncode == 0, p.err
    assert "warning: tls_fingerprint is a SHA-1" in p.err
    assert certs.localhost_sha256.upper() in p.err   # the one to use
    delivered(postfix, "pin1")


def test_fingerprint_wrong(run, postfix, certs):
    wrong = ":".join(["AB"] * 32)
    cfg = config(postfix, "starttls", "tls_fingerprint %s" % wrong, trust="")
    p = send(run, cfg, "pinwrong")
    assert p.returncode == 69, p.err
    err = one_line_error(p)
    assert "does not match tls_fingerprint" in err
    assert certs.localhost_sha256.upper() in err     # what was seen
    assert sent_after_starttls(p) == []


# ---------------------------------------------------------- TLS versions

@pytest.mark.parametrize("listener,version", [("tls12", "TLS1.2"),
                                              ("tls13", "TLS1.3")])
def test_versions(run, postfix, certs, listener, version):
    p = send(run, config(postfix, listener, certs=certs), listener)
    assert p.returncode == 0, p.err
    assert "--- TLS handshake done: %s/" % version in p.err
    delivered(postfix, listener)


def test_min_version_13_against_12_only(run, postfix, certs):
    cfg = config(postfix, "tls12", "tls_min_version 1.3", certs=certs)
    p = send(run, cfg, "min13")
    assert p.returncode == 69, p.err
    err = one_line_error(p)
    assert "TLS handshake failed" in err and "tls_min_version 1.2" in err
    assert p.elapsed < 15


def test_min_version_13_against_13(run, postfix, certs):
    cfg = config(postfix, "tls13", "tls_min_version 1.3", certs=certs)
    p = send(run, cfg, "min13ok")
    assert p.returncode == 0, p.err


def test_bad_priority_string(run, postfix, certs):
    cfg = config(postfix, "starttls", "tls_priorities NORMAL:+BOGUS",
                 certs=certs)
    p = send(run, cfg, "prio")
    assert p.returncode == 78, p.err
    assert "+BOGUS" in one_line_error(p)


@pytest.mark.parametrize("line,word", [
    ("tls_trust_file /nonexistent/ca.pem", "tls_trust_file"),
    ("tls_cert_file /nonexistent/c.pem\ntls_key_file /nonexistent/k.pem",
     "client certificate"),
    ("tls_fingerprint 12:34", "tls_fingerprint"),
    ("tls_min_version 1.1", "tls_min_version")])
def test_tls_config_errors(run, postfix, certs, line, word):
    p = send(run, config(postfix, "starttls", line, certs=certs), "cfg")
    assert p.returncode == 78, p.err
    assert word in one_line_error(p)


# -------------------------------------------------- port/mode confusion

@pytest.mark.parametrize("listener", ["starttls", "plain"])
def test_implicit_config_on_cleartext_port(run, postfix, certs, listener):
    cfg = config(postfix, listener, "tls_starttls off", certs=certs)
    p = send(run, cfg, "conf")
    assert p.elapsed < 15, "hang guard"
    assert p.returncode == 69, p.err
    err = one_line_error(p)
    assert "expects STARTTLS" in err and "220 localhost ESMTP" in err, err
    assert "587" in err and "tls_starttls off" in err


def test_starttls_config_on_implicit_port(run, postfix, certs):
    p = send(run, config(postfix, "implicit", certs=certs), "conf2")
    assert p.elapsed < 15, "hang guard"
    assert p.returncode != 0
    assert "tls_starttls off" in one_line_error(p), p.err


# ---------------------------------------------------------- serverinfo

def test_serverinfo(run, postfix, certs):
    p = run(["--serverinfo"], config=config(postfix, "starttls",
                                             certs=certs))
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, p.stderr
    assert "220 localhost ESMTP Postfix" in out
    m = re.search(r"after STARTTLS", out, re.I)
    assert m, out
    before, after = out[:m.start()], out[m.start():]
    assert "STARTTLS" in before and "AUTH" not in before.split("TLS:")[0]
    assert "AUTH PLAIN" in after
    assert "TLS1.3" in out and "TLS_AES_" in out
    assert "subject:      CN=localhost" in out
    assert "issuer:       CN=smtpsend test CA" in out
    assert re.search(r"valid from: +20\d\d-\d\d-\d\d", out)
    assert re.search(r"valid until: +20\d\d-\d\d-\d\d", out)
    assert certs.localhost_sha256.upper() in out


def test_serverinfo_implicit(run, postfix, certs):
    cfg = config(postfix, "implicit", "tls_starttls off", certs=certs)
    p = run(["--serverinfo"], config=cfg)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, p.stderr
    assert "220 localhost ESMTP Postfix" in out
    assert certs.localhost_sha256.upper() in out


# ---------------------------------------------------------- resumption

@pytest.mark.parametrize("listener,mode", [("starttls", []),
                                           ("implicit", ["tls_starttls off"]),
                                           ("tls12", [])])
def test_resumption(run, postfix, certs, tmp_path, listener, mode):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    cfg = config(postfix, listener, *mode, certs=certs)
    first = send(run, cfg, "r1", env=env)
    assert first.returncode == 0, first.err
    assert "full handshake" in first.err
    cache = tmp_path / "cache" / "smtpsend"
    tickets = list(cache.iterdir())
    assert len(tickets) == 1, tickets
    assert stat.S_IMODE(os.stat(tickets[0]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o700
    second = send(run, cfg, "r2", env=env)
    assert second.returncode == 0, second.err
    assert "TLS session resumed" in second.err
    postfix.wait_messages(2)


RECHECK = "--- TLS session resumed: checking the server's certificate again"


def _resume_then(run, postfix, certs, tmp_path, listener, mode, before,
                 after, change=None):
    """Send with the settings `before` until the session really resumes,
    change what is trusted (change(), then the settings `after`) and
    return the run that follows."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}

    def go(settings, tag):
        cfg = config(postfix, listener, *mode, *settings, trust="")
        return send(run, cfg, tag, env=env)
    first = go(before, "t1")
    assert first.returncode == 0, first.err
    assert "full handshake" in first.err, first.err
    second = go(before, "t2")
    assert second.returncode == 0, second.err
    assert "TLS session resumed" in second.err, second.err
    postfix.wait_messages(2)
    postfix.clear()
    if change is not None:
        change()
    return go(after, "t3")


def _refused_after_resuming(p, postfix, tmp_path, why, changed):
    # The third run finds that what the ticket's handshake verified no
    # longer holds (issue 11): the ticket is not offered, and the full
    # handshake checks the certificate against today's settings.
    assert p.returncode == 69, p.err
    assert "--- not offering the TLS session ticket: %s" % changed in p.err
    assert "TLS session resumed" not in p.err, p.err
    assert why in one_line_error(p), p.err
    # The ticket is gone and no SMTP command went through.
    assert list((tmp_path / "cache" / "smtpsend").iterdir()) == []
    assert [x for x in p.err.splitlines()
            if x.startswith("--> ") and "EHLO" not in x
            and "STARTTLS" not in x] == [], p.err
    time.sleep(1)
    assert postfix.messages() == []


MODES = [("starttls", []), ("implicit", ["tls_starttls off"])]


@pytest.mark.parametrize("listener,mode", MODES)
def test_resumed_session_checked_against_trust_file_content(
        run, postfix, certs, tmp_path, listener, mode):
    """The CA is taken out of the trust file (same path, now holding
    another certificate): a resumed session must be refused like a new
    one."""
    trust = tmp_path / "trust.pem"
    with open(certs.ca) as f:
        trust.write_text(f.read())

    def replace_ca():
        with open(certs.selfsigned_cert) as f:
            trust.write_text(f.read())
    settings = ["tls_trust_file %s" % trust]
    p = _resume_then(run, postfix, certs, tmp_path, listener, mode,
                     settings, settings, change=replace_ca)
    _refused_after_resuming(p, postfix, tmp_path, "not trusted",
                            "what is trusted changed since")


@pytest.mark.parametrize("listener,mode", MODES)
def test_resumed_session_checked_against_pin(run, postfix, certs, tmp_path,
                                             listener, mode):
    """tls_fingerprint changed to another certificate's: a resumed session
    must be refused like a new one."""
    p = _resume_then(run, postfix, certs, tmp_path, listener, mode,
                     ["tls_fingerprint %s" % certs.localhost_sha256],
                     ["tls_fingerprint %s" % ":".join(["CD"] * 32)])
    _refused_after_resuming(p, postfix, tmp_path,
                            "does not match tls_fingerprint",
                            "tls_certcheck or tls_fingerprint changed")


def _strip_record(data):
    """A ticket as smtpsend wrote it before issue 11: the session data
    alone, without the record of what was verified."""
    assert data[:16] == b"smtpsend tkt v1\0"
    size = int.from_bytes(data[16:20], "little")
    return data[20 + size:]


@pytest.mark.parametrize("record", [True, False])
def test_resumed_session_of_an_old_certificate_gets_full_handshake(
        run, postfix, certs, tmp_path, record):
    """The server's certificate changed after the ticket was made, and the
    pin with it.  Simulated with a ticket that this Postfix issued on
    another listener (its ticket keys are shared) whose certificate is
    another.  With the record of what was verified, the ticket is not
    offered (the pin differs); a ticket without one (from before issue 11)
    resumes, fails the new pin and goes; either way the full handshake
    checks the new certificate and delivers."""
    from servers import fingerprint
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    old = config(postfix, "starttls",
                 "tls_fingerprint %s" % certs.localhost_sha256, trust="")
    new = config(postfix, "selfsigned", "tls_fingerprint %s" % fingerprint(
        certs.selfsigned_cert, "sha256"), trust="")
    assert send(run, old, "o1", env=env).returncode == 0
    assert send(run, new, "n1", env=env).returncode == 0

    def ticket(listener):
        (t,) = [x for x in (tmp_path / "smtpsend").iterdir()
                if "_%d_" % postfix.port(listener) in x.name]
        return t
    data = ticket("starttls").read_bytes()
    ticket("selfsigned").write_bytes(data if record else _strip_record(data))
    p = send(run, new, "n2", env=env)
    assert p.returncode == 0, p.err
    if record:
        assert ("--- not offering the TLS session ticket: tls_certcheck or "
                "tls_fingerprint changed") in p.err, p.err
        assert "TLS session resumed" not in p.err, p.err
        assert "full handshake" in p.err, p.err
    else:
        assert RECHECK in p.err, p.err
        first, again = p.err.split(
            "connecting again for a full TLS handshake")
        assert "does not match tls_fingerprint" in first, p.err
        assert "full handshake" in again, p.err
    msgs = postfix.wait_messages(3, timeout=20)
    assert any(b"Subject: tls test n2" in m for m in msgs)


def test_damaged_ticket_means_full_handshake(run, postfix, certs, tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    cfg = config(postfix, "implicit", "tls_starttls off", certs=certs)
    assert send(run, cfg, "d1", env=env).returncode == 0
    (ticket,) = list((tmp_path / "smtpsend").iterdir())
    ticket.write_bytes(b"\x00garbage" * 10)
    p = send(run, cfg, "d2", env=env)
    assert p.returncode == 0, p.err
    assert "full handshake" in p.err
    postfix.wait_messages(2)


# ------------------------------------------------------------- revocation

def _crl(certs, tmp_path, revoked):
    """A CRL signed by the test CA, revoking the given certificate files."""
    import subprocess
    tpl = tmp_path / "crl.tpl"
    tpl.write_text("crl_next_update = 30\ncrl_number = 1\n")
    out = tmp_path / ("crl-%d.pem" % len(revoked))
    cmd = ["certtool", "--generate-crl", "--load-ca-privkey", certs.ca_key,
           "--load-ca-certificate", certs.ca, "--template", str(tpl),
           "--outfile", str(out)]
    for c in revoked:
        cmd += ["--load-certificate", c]
    subprocess.run(cmd, check=True, timeout=30, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return str(out)


def test_crl_revoked_certificate_refused(run, postfix, certs, tmp_path):
    crl = _crl(certs, tmp_path, [certs.localhost_cert])
    p = send(run, config(postfix, "starttls", "tls_crl_file %s" % crl,
                         certs=certs), "revoked")
    assert p.returncode == 69, p.err
    assert "revoked" in one_line_error(p).lower(), p.err
    assert sent_after_starttls(p) == [], p.err
    assert postfix.messages() == []


def test_crl_without_the_certificate_accepted(run, postfix, certs, tmp_path):
    # The control: a CRL from the same CA that revokes another certificate.
    crl = _crl(certs, tmp_path, [certs.expired_cert])
    p = send(run, config(postfix, "starttls", "tls_crl_file %s" % crl,
                         certs=certs), "notrevoked")
    assert p.returncode == 0, p.err
    delivered(postfix, "notrevoked")
