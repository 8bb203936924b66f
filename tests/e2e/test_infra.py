"""Tests of the end-to-end fixtures themselves, with msmtp and Python's
smtplib as clients (not smtpsend): if these fail, the e2e results of
smtpsend mean nothing."""

import base64
import os
import smtplib
import ssl
import stat
import subprocess

import pytest

import servers

MSG = (b"From: Sender <sender@localhost>\n"
       b"To: Rcpt <rcpt@localhost>\n"
       b"Bcc: hidden@localhost\n"
       b"Subject: infra test\n"
       b"\n"
       b"body line\n")


def ca_context(certs, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=certs.ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def test_certs(certs):
    p = subprocess.run(["certtool", "--fingerprint", "--hash=sha256",
                        "--infile", certs.localhost_cert],
                       capture_output=True, text=True, timeout=30)
    assert certs.localhost_sha256 == ":".join(
        p.stdout.strip().upper()[i:i + 2] for i in range(0, 64, 2))
    assert len(certs.localhost_sha1.split(":")) == 20
    for name, ok in (("localhost", True), ("wronghost", True),
                     ("client", True), ("expired", False),
                     ("notyet", False), ("selfsigned", False)):
        p = subprocess.run(["certtool", "--verify", "--load-ca-certificate",
                            certs.ca, "--infile",
                            getattr(certs, name + "_cert")],
                           capture_output=True, text=True, timeout=30)
        assert ("The certificate is trusted" in p.stdout) == ok, name
    with open(certs.localhost) as f:
        chain = f.read()
    assert chain.index("PRIVATE KEY") < chain.index("BEGIN CERTIFICATE")


def test_plain_msmtp_delivery(postfix, tmp_path):
    rc = tmp_path / "msmtprc"
    rc.write_text("account default\nhost 127.0.0.1\nport %d\n"
                  "from sender@localhost\ntls off\nauth off\n"
                  "remove_bcc_headers off\n"
                  % postfix.port("plain"))
    rc.chmod(0o600)
    p = subprocess.run(["msmtp", "-C", str(rc), "-t"], input=MSG,
                       capture_output=True, timeout=60)
    assert p.returncode == 0, p.stderr
    msgs = postfix.wait_messages(2)
    assert len(msgs) == 2      # one copy per recipient, To and Bcc
    tos = sorted(m.split(b"\n")[1] for m in msgs)
    assert tos == [b"X-Original-To: hidden@localhost",
                   b"X-Original-To: rcpt@localhost"]
    # Told to leave Bcc in, msmtp does; this Postfix keeps it visible.
    assert all(b"\nBcc: hidden@localhost\n" in m for m in msgs)
    assert all(m.startswith(b"Return-Path: <sender@localhost>\n")
               for m in msgs)
    postfix.clear()
    assert postfix.messages() == []


def test_starttls_requires_tls_then_offers_auth(postfix, certs):
    with smtplib.SMTP("127.0.0.1", postfix.port("starttls"), timeout=30) as s:
        s.ehlo("client.test")
        assert s.has_extn("starttls")
        assert not s.has_extn("auth")
        code, _ = s.mail("a@localhost")
        assert code == 530
        s.starttls(context=ca_context(certs))
        s.ehlo("client.test")
        assert set(s.esmtp_features["auth"].upper().split()) >= {
            "PLAIN", "LOGIN", "CRAM-MD5", "SCRAM-SHA-256", "XOAUTH2",
            "OAUTHBEARER"}
        s.sendmail("a@localhost", ["b@localhost"], MSG)
    assert b"X-Original-To: b@localhost" in postfix.wait_messages(1)[0]


def test_starttls_auth_required(postfix, certs):
    port = postfix.port("starttls_auth")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.starttls(context=ca_context(certs))
        code, _ = s.docmd("MAIL FROM:<a@localhost>")
        assert code == 250
        code, _ = s.docmd("RCPT TO:<b@localhost>")
        assert code == 554          # relay refused without AUTH
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.starttls(context=ca_context(certs))
        with pytest.raises(smtplib.SMTPAuthenticationError):
            s.login("alice", "wrong")
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.starttls(context=ca_context(certs))
        s.login("alice", "secret")
        s.sendmail("a@localhost", ["b@localhost"], MSG)
    assert len(postfix.wait_messages(1)) == 1


def test_plain_auth_cram_md5_without_tls(postfix):
    with smtplib.SMTP("127.0.0.1", postfix.port("plain_auth"), timeout=30) as s:
        s.ehlo()
        assert not s.has_extn("starttls")
        assert "CRAM-MD5" in s.esmtp_features["auth"].upper().split()
        s.user, s.password = "alice", "secret"
        code, _ = s.auth("CRAM-MD5", s.auth_cram_md5)
        assert code == 235
        s.sendmail("a@localhost", ["b@localhost"], MSG)
    assert len(postfix.wait_messages(1)) == 1
    assert "sasl_method=CRAM-MD5, sasl_username=alice" in postfix.log()


@pytest.mark.parametrize("mech", ["XOAUTH2", "OAUTHBEARER"])
def test_oauth2_tokens(postfix, certs, oauth, mech):
    def blob(token):
        if mech == "XOAUTH2":
            raw = "user=alice\x01auth=Bearer %s\x01\x01" % token
        else:
            raw = "n,a=alice,\x01auth=Bearer %s\x01\x01" % token
        return base64.b64encode(raw.encode()).decode()
    with smtplib.SMTP_SSL("127.0.0.1", postfix.port("implicit_auth"),
                          context=ca_context(certs), timeout=30) as s:
        s.ehlo()
        code, _ = s.docmd("AUTH", mech + " " + blob("bad-token"))
        if code == 334:             # error challenge: finish the exchange
            code, _ = s.docmd(base64.b64encode(b"\x01").decode())
        assert code == 535
        code, _ = s.docmd("AUTH", mech + " " + blob(servers.GOOD_TOKEN))
        assert code == 235
    assert "bad-token" in oauth.requests and "good-token" in oauth.requests


def test_tls_variants(postfix, certs):
    def starttls(name, ctx):
        with smtplib.SMTP("127.0.0.1", postfix.port(name), timeout=30) as s:
            s.starttls(context=ctx)
            return s.sock.version()
    assert starttls("tls12", ca_context(certs)) == "TLSv1.2"
    assert starttls("tls13", ca_context(certs)) == "TLSv1.3"
    for name, why in (("expired", "expired"), ("notyet", "not yet valid"),
                      ("selfsigned", "self-signed"),
                      ("wronghost", "mismatch")):
        with pytest.raises(ssl.SSLCertVerificationError) as e:
            starttls(name, ca_context(certs))
        assert why in str(e.value), name
    with pytest.raises((ssl.SSLError, smtplib.SMTPException, OSError)):
        with smtplib.SMTP("127.0.0.1", postfix.port("clientcert"),
                          timeout=30) as s:
            s.starttls(context=ca_context(certs))
            s.ehlo()            # TLS 1.3: the refusal comes after Finished
            s.mail("a@localhost")
    assert starttls("clientcert", ca_context(
        certs, certs.client_cert, certs.client_key)) == "TLSv1.3"
    with smtplib.SMTP("127.0.0.1", postfix.port("small"), timeout=30) as s:
        s.ehlo()
        assert s.esmtp_features["size"] == "10000"


def test_keyring(keyring):
    keyring.store("mail.example", "alice", "s3cret pw")
    assert keyring.lookup("mail.example", "alice") == "s3cret pw"
    assert keyring.lookup("mail.example", "bob") is None
    p = subprocess.run(["secret-tool", "lookup", "host", "mail.example",
                        "service", "smtp", "user", "alice"],
                       env=dict(os.environ, **keyring.env),
                       capture_output=True, timeout=30)
    assert p.stdout == b"s3cret pw"
    assert keyring.env["XDG_DATA_HOME"].startswith(keyring.dir)


def test_run_fixture(run, tmp_path, monkeypatch):
    fake = tmp_path / "fake-smtpsend"
    fake.write_text('#!/bin/sh\nprintf "%s|" "$@"; echo; '
                    'stat -c %a "$2"; cat "$2"; cat; echo "HOME=$HOME X=$X"\n'
                    'exit 7\n')
    fake.chmod(0o755)
    monkeypatch.setenv("SMTPSEND", str(fake))
    monkeypatch.delenv("SMTPSEND_WRAPPER", raising=False)
    p = run(["-t", "a b"], input=b"stdin-data\n", config="host x\n",
            env={"X": "1"})
    assert p.returncode == 7
    out = p.stdout.decode().splitlines()
    assert out[0].startswith("-C|") and out[0].endswith("|-t|a b|")
    assert out[1:4] == ["600", "host x", "stdin-data"]
    assert out[4].startswith("HOME=" + run.home) and out[4].endswith("X=1")
    mode = os.stat(out[0].split("|")[1]).st_mode
    assert stat.S_IMODE(mode) == 0o600
