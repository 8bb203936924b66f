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


# ---------------------------- 2. SCRAM without PBKDF2 at every send

from servers import SCRAM_PASSWORD, SCRAM_USER  # noqa: E402

COMPUTED = "--- SCRAM: salted password computed (4096 iterations)"
KEPT = "--- SCRAM: salted password kept from an earlier run (4096 iterations)"
REFUSED = ("--- SCRAM: the server refused the salted password kept from an "
           "earlier run; computing it again")


def scram_config(postfix, certs, password=SCRAM_PASSWORD, extra=()):
    return config(postfix, "starttls_auth", "tls_trust_file " + certs.ca,
                  "user " + SCRAM_USER, "auth on", "password " + password,
                  *extra)


def scram_entries(cache):
    d = cache / "smtpsend"
    return sorted(x for x in d.iterdir() if x.name.startswith("scram-")) \
        if d.exists() else []


@pytest.fixture
def scram_server(dovecot):
    yield dovecot
    dovecot.set_scram_password(SCRAM_PASSWORD)


def test_scram_salted_password_kept(run, postfix, certs, tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    cfg = scram_config(postfix, certs)
    first = send(run, cfg, "s1", env=env)
    assert first.returncode == 0, first.err
    assert "AUTH SCRAM-SHA-256" in first.err, first.err
    assert COMPUTED in first.err and KEPT not in first.err, first.err
    (entry,) = scram_entries(tmp_path / "cache")
    assert stat.S_IMODE(os.stat(entry).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(entry.parent).st_mode) == 0o700
    second = send(run, cfg, "s2", env=env)
    assert second.returncode == 0, second.err
    assert KEPT in second.err and COMPUTED not in second.err, second.err
    msgs = postfix.wait_messages(2, timeout=20)
    assert sum(b"Subject: perf test s" in m for m in msgs) == 2


def test_scram_entry_is_useless_without_the_password(run, postfix, certs,
                                                     tmp_path):
    """The file does not hold the SaltedPassword itself: an entry made
    with one password, read with another, gives a value the server
    refuses; the client then computes it from today's password."""
    import hashlib
    from servers import SCRAM_SALT
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert send(run, scram_config(postfix, certs), "w1",
                env=env).returncode == 0
    (entry,) = scram_entries(tmp_path / "cache")
    sp = hashlib.pbkdf2_hmac("sha256", SCRAM_PASSWORD.encode(), SCRAM_SALT,
                             4096)
    assert sp.hex().encode() not in entry.read_bytes()
    # A wrong password reads the entry, gets garbage, is refused, and the
    # value computed from it is refused too: 77, the entry is gone.
    p = send(run, scram_config(postfix, certs, password="wrong"), "w2",
             env=env)
    assert p.returncode == 77, p.err
    assert KEPT in p.err and REFUSED in p.err and COMPUTED in p.err, p.err
    assert scram_entries(tmp_path / "cache") == []


def test_scram_password_changed_at_the_server(run, postfix, certs, tmp_path,
                                              scram_server):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert send(run, scram_config(postfix, certs), "c1",
                env=env).returncode == 0
    # Same salt and count, another password at the server: the kept value
    # is refused, the one computed from the (old) configured password too.
    scram_server.set_scram_password("new-Pa55")
    p = send(run, scram_config(postfix, certs), "c2", env=env)
    assert p.returncode == 77, p.err
    assert KEPT in p.err and REFUSED in p.err and COMPUTED in p.err, p.err
    assert scram_entries(tmp_path / "cache") == []
    # The user follows: the new password is computed, kept, and delivers.
    cfg = scram_config(postfix, certs, password="new-Pa55")
    p = send(run, cfg, "c3", env=env)
    assert p.returncode == 0, p.err
    assert COMPUTED in p.err and REFUSED not in p.err, p.err
    p = send(run, cfg, "c4", env=env)
    assert p.returncode == 0, p.err
    assert KEPT in p.err, p.err


def test_scram_kept_value_refused_then_recomputed_delivers(
        run, postfix, certs, tmp_path, scram_server):
    """The configured password changed, the server's salt did not: the
    kept value (unwrapped with the new password) is refused once, the
    computed one delivers in the same session."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert send(run, scram_config(postfix, certs), "k1",
                env=env).returncode == 0
    scram_server.set_scram_password("other-Pa55")
    p = send(run, scram_config(postfix, certs, password="other-Pa55"), "k2",
             env=env)
    assert p.returncode == 0, p.err
    assert KEPT in p.err and REFUSED in p.err and COMPUTED in p.err, p.err
    assert p.err.count("--- connecting to") == 1, p.err
    msgs = postfix.wait_messages(2, timeout=20)
    assert any(b"Subject: perf test k2" in m for m in msgs)


def test_scram_salt_change_recomputes(run, postfix, certs, tmp_path,
                                      scram_server):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    assert send(run, scram_config(postfix, certs), "n1",
                env=env).returncode == 0
    scram_server.set_scram_password(SCRAM_PASSWORD, salt=b"another-salt")
    p = send(run, scram_config(postfix, certs), "n2", env=env)
    assert p.returncode == 0, p.err
    assert COMPUTED in p.err and KEPT not in p.err, p.err


def test_scram_salted_password_never_shown(run, postfix, certs, tmp_path):
    """Neither the SaltedPassword nor the keys derived from it reach -v,
    stdout or the log (raw, hex, or base64 at any alignment), whether
    computed or kept."""
    import hashlib
    import hmac
    from servers import SCRAM_SALT
    from test_secrets_leak import b64_cores
    sp = hashlib.pbkdf2_hmac("sha256", SCRAM_PASSWORD.encode(), SCRAM_SALT,
                             4096)
    client = hmac.new(sp, b"Client Key", "sha256").digest()
    server = hmac.new(sp, b"Server Key", "sha256").digest()
    pats = {SCRAM_PASSWORD.encode()} | b64_cores(SCRAM_PASSWORD.encode())
    for k in (sp, client, server, hashlib.sha256(client).digest()):
        pats |= {k, k.hex().encode(), k.hex().upper().encode()}
        pats |= b64_cores(k)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    log = tmp_path / "smtpsend.log"
    cfg = scram_config(postfix, certs, extra=["logfile %s" % log])
    seen = []
    for tag in ("l1", "l2"):
        p = send(run, cfg, tag, env=env)
        assert p.returncode == 0, p.err
        seen.append(p.err)
        blobs = {"stdout": p.stdout, "stderr": p.stderr,
                 "log": log.read_bytes()}
        for name, blob in blobs.items():
            for pat in pats:
                assert pat not in blob, "%r leaked into %s" % (pat, name)
    assert COMPUTED in seen[0] and KEPT in seen[1]


# ---------------------------------- 3. a resumed session loads no trust

HELD = ("--- TLS session resumed: its certificate was verified when the "
        "ticket was made, against what is still trusted")


def _ticket(cache):
    (t,) = [x for x in (cache / "smtpsend").iterdir()
            if x.name.endswith(".tls")]
    return t


@pytest.mark.parametrize("how", ["tls_trust_file", "SSL_CERT_FILE"])
def test_resumed_session_loads_no_trust(run, postfix, certs, tmp_path, how):
    path, n = bundle(tmp_path, certs)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    if how == "tls_trust_file":
        cfg = config(postfix, "starttls", "tls_trust_file " + path)
        where = path
    else:
        cfg = config(postfix, "starttls")
        env["SSL_CERT_FILE"] = path
        where = "the system trust store"
    first = send(run, cfg, "r1", env=env)
    assert first.returncode == 0, first.err
    assert "full handshake" in first.err
    assert "--- trust: 1 of the %d certificates in %s" % (n, where) \
        in first.err, first.err
    second = send(run, cfg, "r2", env=env)
    assert second.returncode == 0, second.err
    assert "TLS session resumed" in second.err and HELD in second.err
    assert "--- trust:" not in second.err, second.err
    postfix.wait_messages(2, timeout=20)


def test_rewritten_bundle_still_resumes_while_its_issuer_stays(
        run, postfix, certs, tmp_path):
    """update-ca-certificates writes a new file even when nothing that
    matters changed: another inode, maybe other CAs.  The ticket holds
    while the CAs that may have issued the chain are the same; once the
    test CA is gone, the ticket is not offered and the full handshake
    refuses the server."""
    path, _ = bundle(tmp_path, certs)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    cfg = config(postfix, "implicit", "tls_starttls off",
                 "tls_trust_file " + path)
    assert send(run, cfg, "u1", env=env).returncode == 0
    with open(path, "rb") as f:
        data = f.read()
    with open(certs.selfsigned_cert, "rb") as f:
        other = f.read()
    with open(path + ".new", "wb") as f:
        f.write(data + other)           # an unrelated CA added
    os.rename(path + ".new", path)
    p = send(run, cfg, "u2", env=env)
    assert p.returncode == 0, p.err
    assert HELD in p.err and "--- trust:" not in p.err, p.err
    (tmp_path / "other").mkdir()
    without, n = bundle(tmp_path / "other", certs, with_ca=False)
    os.rename(without, path)            # the test CA removed
    p = send(run, cfg, "u3", env=env)
    assert p.returncode == 69, p.err
    assert ("--- not offering the TLS session ticket: what is trusted "
            "changed since") in p.err, p.err
    assert "--- trust: 0 of the %d certificates" % n in p.err, p.err
    assert "not trusted" in errors(p), p.err
    postfix.wait_messages(2, timeout=20)


def test_ticket_of_an_expired_certificate_not_offered(run, postfix, certs,
                                                      tmp_path):
    """The record says the certificate's notAfter has passed (patched into
    the ticket's record, whose last field it is): no resumption."""
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    cfg = config(postfix, "starttls", "tls_trust_file " + certs.ca)
    assert send(run, cfg, "e1", env=env).returncode == 0
    t = _ticket(tmp_path / "cache")
    data = bytearray(t.read_bytes())
    assert data[:16] == b"smtpsend tkt v1\0"
    end = 20 + int.from_bytes(data[16:20], "little")
    na = int.from_bytes(data[end - 8:end], "little", signed=True)
    assert na > time.time()     # the certificate is valid today
    data[end - 8:end] = (int(time.time()) - 10).to_bytes(8, "little",
                                                         signed=True)
    t.write_bytes(bytes(data))
    p = send(run, cfg, "e2", env=env)
    assert p.returncode == 0, p.err
    assert ("--- not offering the TLS session ticket: the server's "
            "certificate has expired since") in p.err, p.err
    assert "full handshake" in p.err and "TLS session resumed" not in p.err
    postfix.wait_messages(2, timeout=20)
