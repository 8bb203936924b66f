"""Issue 11, item 2, with the password in the keyring: SCRAM's
SaltedPassword is kept beside it, in the keyring (an item of service
"smtpsend-scram"), never in a file; it is fetched by the same keyring child
as the password, used only for the salt and count the server sends, and
recomputed when it is refused or stale.  A password from anywhere else
keeps its file in the cache directory.  Real gnome-keyring, real Postfix +
Dovecot (user carol, whose password Dovecot keeps as SCRAM secrets)."""

import hashlib
import hmac
import os
import re
import subprocess

import pytest

from servers import SCRAM_PASSWORD, SCRAM_SALT, SCRAM_USER
from test_keyring import client_env, secret_tool, tool_env
from test_secrets_leak import b64_cores

HOST = "127.0.0.1"
SERVICE = "smtpsend-scram"
COMPUTED = "--- SCRAM: salted password computed (4096 iterations)"
KEPT = ("--- SCRAM: salted password kept from an earlier run "
        "(4096 iterations), from the keyring")
STORED = "--- SCRAM: salted password kept in the keyring for the next run"
REFUSED = ("--- SCRAM: the server refused the salted password kept from an "
           "earlier run; computing it again")


def config(postfix, certs, extra=""):
    return ("account default\nhost %s\nport %d\ntls on\ntls_starttls on\n"
            "tls_trust_file %s\nfrom carol@example.org\nuser %s\n"
            "auth on\ntimeout 20\n%s"
            % (HOST, postfix.port("starttls_auth"), certs.ca, SCRAM_USER,
               extra))


def send(run, cfg, env, tag, args=()):
    msg = ("From: carol@example.org\nTo: bob@example.org\nSubject: sk %s\n"
           "\nbody\n" % tag).encode()
    cmd = run.command() + ["-C", run.config_file(cfg), "-v"] + list(args) \
        + ["bob@example.org"]
    p = subprocess.run(cmd, input=msg, env=run.queue_env(dict(env)),
                       timeout=120, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, start_new_session=True)
    p.err = p.stderr.decode(errors="replace")
    return p


def item_attrs(env, port):
    return ("service", SERVICE, "host", HOST, "port", str(port),
            "user", SCRAM_USER)


def item_value(env, port):
    r = secret_tool(env, "lookup", *item_attrs(env, port))
    return r.stdout.decode() if r.returncode == 0 else None


def items(env):
    """secret-tool's description of every SCRAM item for carol at HOST."""
    r = secret_tool(env, "search", "--all", "service", SERVICE, "host", HOST,
                    "user", SCRAM_USER)
    out = (r.stdout + r.stderr).decode()
    return out.count("label = "), out


def scram_files(cache):
    d = cache / "smtpsend"
    return sorted(x.name for x in d.iterdir()
                  if x.name.startswith(("scram-", ".scram"))) \
        if d.exists() else []


@pytest.fixture
def carol(keyring, dovecot, tmp_path):
    """carol's password in the keyring, no SCRAM item left over, a cache
    directory of this test's own; Dovecot's secrets put back after."""
    env = tool_env(keyring)
    secret_tool(env, "clear", "service", SERVICE, "host", HOST,
                "user", SCRAM_USER)
    keyring.store(HOST, SCRAM_USER, SCRAM_PASSWORD)
    cenv = client_env(keyring, XDG_CACHE_HOME=str(tmp_path / "cache"))
    yield env, cenv
    secret_tool(env, "clear", "service", SERVICE, "host", HOST,
                "user", SCRAM_USER)
    secret_tool(env, "clear", "host", HOST, "service", "smtp",
                "user", SCRAM_USER)
    dovecot.set_scram_password(SCRAM_PASSWORD)


def test_kept_in_the_keyring_not_in_a_file(postfix, certs, run, carol,
                                           tmp_path):
    env, cenv = carol
    port = postfix.port("starttls_auth")
    cfg = config(postfix, certs)
    first = send(run, cfg, cenv, "k1")
    assert first.returncode == 0, first.err
    assert "AUTH SCRAM-SHA-256 ****" in first.err, first.err
    assert COMPUTED in first.err and STORED in first.err, first.err
    assert "kept from an earlier run" not in first.err, first.err
    n, desc = items(env)
    assert n == 1, desc
    assert "label = smtpsend SCRAM-SHA-256 salted password: carol@%s " \
        "port %d" % (HOST, port) in desc, desc
    assert "attribute.mechanism = SCRAM-SHA-256" in desc, desc
    value = item_value(env, port)
    assert value is not None and value.startswith("v1 4096 "), value
    assert scram_files(tmp_path / "cache") == []
    second = send(run, cfg, cenv, "k2")
    assert second.returncode == 0, second.err
    assert KEPT in second.err, second.err
    assert COMPUTED not in second.err and STORED not in second.err, \
        second.err
    assert item_value(env, port) == value
    assert scram_files(tmp_path / "cache") == []
    msgs = postfix.wait_messages(2, timeout=20)
    assert sum(b"Subject: sk k" in m for m in msgs) == 2


def _clones(trace, pid):
    """Processes (not threads) the traced process pid started."""
    n = 0
    for line in trace.splitlines():
        if not line.startswith("%d " % pid):
            continue
        if re.search(r"\b(clone3?|fork|vfork)\(", line) and \
                "CLONE_THREAD" not in line:
            n += 1
    return n


def test_second_run_one_keyring_child(postfix, certs, run, carol, tmp_path):
    """The item comes with the password: the second run starts exactly one
    process (the keyring child), the first one two (lookup, store)."""
    if os.environ.get("SMTPSEND_WRAPPER"):
        pytest.skip("counts the processes of smtpsend itself")
    env, cenv = carol
    cfg = config(postfix, certs)
    # LeakSanitizer cannot run under ptrace (the ASan build).
    cenv = dict(cenv, ASAN_OPTIONS=":".join(
        x for x in (os.environ.get("ASAN_OPTIONS"), "detect_leaks=0") if x))
    counts = []
    for tag in ("p1", "p2"):
        out = tmp_path / ("trace." + tag)
        cmd = ["strace", "-f", "-qq", "-o", str(out), "-e",
               "trace=clone,clone3,fork,vfork"] + run.command() + \
            ["-C", run.config_file(cfg), "-v", "bob@example.org"]
        p = subprocess.run(cmd, input=b"Subject: p\n\nbody\n",
                           env=run.queue_env(dict(cenv)), timeout=120,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           start_new_session=True)
        assert p.returncode == 0, p.stderr.decode()
        trace = out.read_text()
        pid = int(trace.split(None, 1)[0])
        counts.append(_clones(trace, pid))
        assert (KEPT in p.stderr.decode()) == (tag == "p2"), p.stderr
    assert counts == [2, 1], counts


def test_wrong_kept_value_refused_then_recomputed(postfix, certs, run, carol,
                                                  tmp_path):
    """The second run really uses the keyring's item: a wrong value put
    there (same salt and count) is refused by the server, then computed
    again in the same session, delivered, and the item corrected."""
    env, cenv = carol
    port = postfix.port("starttls_auth")
    cfg = config(postfix, certs)
    assert send(run, cfg, cenv, "w1").returncode == 0
    good = item_value(env, port)
    head, hexpart = good.rstrip("\n").rsplit(" ", 1)
    wrong = head + " " + "".join("0" if c != "0" else "1" for c in hexpart)
    secret_tool(env, "clear", *item_attrs(env, port))
    r = secret_tool(env, "store", "--label=tampered",
                    *(item_attrs(env, port) + ("mechanism", "SCRAM-SHA-256")),
                    input=(wrong + "\n").encode())
    assert r.returncode == 0, r.stderr
    p = send(run, cfg, cenv, "w2")
    assert p.returncode == 0, p.err
    assert KEPT in p.err and REFUSED in p.err, p.err
    assert COMPUTED in p.err and STORED in p.err, p.err
    assert p.err.count("--- connecting to") == 1, p.err
    assert item_value(env, port) == good
    assert items(env)[0] == 1
    p = send(run, cfg, cenv, "w3")
    assert p.returncode == 0 and KEPT in p.err and REFUSED not in p.err, \
        p.err
    assert scram_files(tmp_path / "cache") == []


def test_refused_everywhere_drops_the_item(postfix, certs, run, carol,
                                           dovecot):
    """The server's password changed: the kept value is refused, the
    computed one too (77), and the keyring keeps no item for it."""
    env, cenv = carol
    cfg = config(postfix, certs)
    assert send(run, cfg, cenv, "d1").returncode == 0
    assert items(env)[0] == 1
    dovecot.set_scram_password("new-Pa55")
    p = send(run, cfg, cenv, "d2")
    assert p.returncode == 77, p.err
    assert KEPT in p.err and REFUSED in p.err and COMPUTED in p.err, p.err
    assert STORED not in p.err, p.err
    assert items(env)[0] == 0, items(env)[1]


def test_salt_change_recomputes(postfix, certs, run, carol, dovecot):
    env, cenv = carol
    port = postfix.port("starttls_auth")
    cfg = config(postfix, certs)
    assert send(run, cfg, cenv, "s1").returncode == 0
    before = item_value(env, port)
    dovecot.set_scram_password(SCRAM_PASSWORD, salt=b"another-salt")
    p = send(run, cfg, cenv, "s2")
    assert p.returncode == 0, p.err
    assert COMPUTED in p.err and STORED in p.err, p.err
    assert "kept from an earlier run" not in p.err, p.err
    after = item_value(env, port)
    assert after != before and after.startswith("v1 4096 "), after
    assert items(env)[0] == 1
    # The iteration count too.
    dovecot.set_scram_password(SCRAM_PASSWORD, salt=b"another-salt",
                               iterations=8192)
    p = send(run, cfg, cenv, "s3")
    assert p.returncode == 0, p.err
    assert "salted password computed (8192 iterations)" in p.err, p.err
    assert item_value(env, port).startswith("v1 8192 ")


def test_config_password_keeps_the_file(postfix, certs, run, carol,
                                        tmp_path):
    """password in the file (a keyring reachable all the same): the
    SaltedPassword goes to a 0600 file, never to the keyring."""
    env, cenv = carol
    cfg = config(postfix, certs, "password %s\n" % SCRAM_PASSWORD)
    for tag in ("f1", "f2"):
        p = send(run, cfg, cenv, tag)
        assert p.returncode == 0, p.err
        assert STORED not in p.err and "from the keyring" not in p.err
    assert "kept from an earlier run (4096 iterations)" in p.err, p.err
    (name,) = scram_files(tmp_path / "cache")
    st = os.stat(tmp_path / "cache" / "smtpsend" / name)
    assert st.st_mode & 0o777 == 0o600
    assert items(env)[0] == 0, items(env)[1]


def test_store_password_forgets_the_item(postfix, certs, run, carol):
    env, cenv = carol
    cfg = config(postfix, certs)
    assert send(run, cfg, cenv, "n1").returncode == 0
    assert items(env)[0] == 1
    cmd = run.command() + ["-C", run.config_file(cfg), "--store-password"]
    p = subprocess.run(cmd, input=(SCRAM_PASSWORD + "\n").encode(),
                       env=run.queue_env(dict(cenv)), timeout=60,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       start_new_session=True)
    assert p.returncode == 0, p.stderr
    assert items(env)[0] == 0, items(env)[1]


def test_salted_password_never_shown(postfix, certs, run, carol, tmp_path):
    """Neither the SaltedPassword nor the keys derived from it reach -v,
    stdout or the log (raw, hex, base64 at any alignment), computed or
    kept; the keyring item holds it wrapped, not as such."""
    env, cenv = carol
    port = postfix.port("starttls_auth")
    sp = hashlib.pbkdf2_hmac("sha256", SCRAM_PASSWORD.encode(), SCRAM_SALT,
                             4096)
    client = hmac.new(sp, b"Client Key", "sha256").digest()
    server = hmac.new(sp, b"Server Key", "sha256").digest()
    pats = {SCRAM_PASSWORD.encode()} | b64_cores(SCRAM_PASSWORD.encode())
    for k in (sp, client, server, hashlib.sha256(client).digest()):
        pats |= {k, k.hex().encode(), k.hex().upper().encode()}
        pats |= b64_cores(k)
    log = tmp_path / "smtpsend.log"
    cfg = config(postfix, certs, "logfile %s\n" % log)
    seen = []
    for tag in ("l1", "l2"):
        p = send(run, cfg, cenv, tag)
        assert p.returncode == 0, p.err
        seen.append(p.err)
        for name, blob in (("stdout", p.stdout), ("stderr", p.stderr),
                           ("log", log.read_bytes())):
            for pat in pats:
                assert pat not in blob, "%r leaked into %s" % (pat, name)
    assert COMPUTED in seen[0] and KEPT in seen[1]
    assert sp.hex() not in item_value(env, port)
