"""Issue 11: the configuration users really have, made cheap without
changing a verdict.  A tls_trust_file naming a whole bundle is read when the
certificate is checked and only the CAs that may have issued the chain are
parsed (the -v "--- trust:" line counts them); SCRAM's SaltedPassword is
kept between runs; a resumed TLS session loads no trust at all."""

import os
import re
import stat
import time

import pytest

SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"

MSG = (b"From: Sender <sender@localhost>\n"
       b"To: Rcpt <rcpt@localhost>\n"
       b"Subject: perf test %s\n"
       b"\n"
       b"body line\n")


def config(postfix, listener, *extra):
    lines = ["account default", "host 127.0.0.1",
             "port %d" % postfix.port(listener),
             "from sender@localhost", "timeout 10"]
    lines.extend(extra)
    return "\n".join(lines) + "\n"


def send(run, cfg, tag, env=None):
    p = run(["-v", "rcpt@localhost"], input=MSG % tag.encode(), config=cfg,
            env=env, timeout=60)
    p.err = p.stderr.decode(errors="replace")
    return p


def errors(p):
    return "\n".join(x for x in p.err.splitlines()
                     if x.startswith("smtpsend:"))


def bundle(tmp_path, certs, with_ca=True):
    """A copy of the distribution's bundle (about 140 CAs), with the test
    CA in the middle of it when with_ca: what the bench's users have."""
    with open(SYSTEM_BUNDLE) as f:
        pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?"
                          r"-----END CERTIFICATE-----\n", f.read(), re.S)
    assert len(pems) > 100
    if with_ca:
        with open(certs.ca) as f:
            pems.insert(len(pems) // 2, f.read())
    path = tmp_path / "ca-certificates.crt"
    path.write_text("".join(pems))
    return str(path), len(pems)


# ------------------------------------------- 1. trust anchors on demand

def test_bundle_trust_file_parses_only_the_issuer(run, postfix, certs,
                                                  tmp_path):
    path, n = bundle(tmp_path, certs)
    p = send(run, config(postfix, "starttls", "tls_trust_file " + path),
             "bundle")
    assert p.returncode == 0, p.err
    assert ("--- trust: 1 of the %d certificates in %s may have issued "
            "the chain" % (n, path)) in p.err, p.err
    msgs = postfix.wait_messages(1, timeout=20)
    assert any(b"Subject: perf test bundle" in m for m in msgs)


def test_bundle_without_the_ca_refused(run, postfix, certs, tmp_path):
    """The hidden-CA case: the bundle lacks the test CA."""
    path, n = bundle(tmp_path, certs, with_ca=False)
    p = send(run, config(postfix, "starttls", "tls_trust_file " + path),
             "hidden")
    assert p.returncode == 69, p.err
    assert "not trusted" in errors(p) and "CN=smtpsend test CA" in errors(p)
    assert "--- trust: 0 of the %d certificates" % n in p.err, p.err
    time.sleep(1)
    assert postfix.messages() == []


@pytest.mark.parametrize("listener,words", [
    ("expired", ["expired on 2021-01-01"]),
    ("wronghost", ["wrong.example", "not for 127.0.0.1"])])
def test_bundle_bad_certificates_refused(run, postfix, certs, tmp_path,
                                         listener, words):
    path, _ = bundle(tmp_path, certs)
    p = send(run, config(postfix, listener, "tls_trust_file " + path),
             listener)
    assert p.returncode == 69, p.err
    for w in words:
        assert w in errors(p), p.err
    time.sleep(1)
    assert postfix.messages() == []


def test_trust_file_without_certificates(run, postfix, certs, tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_text("no certificates here\n")
    p = send(run, config(postfix, "starttls", "tls_trust_file %s" % empty),
             "empty")
    assert p.returncode == 78, p.err
    assert "no certificate found" in errors(p), p.err
