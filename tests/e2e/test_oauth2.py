"""Built-in OAuth2 end to end: a local authorization server over HTTPS
(oauth_server.py, the test CA) issues the tokens, the real Postfix +
Dovecot accept only the live access tokens it issued (Dovecot's oauth2
passdb introspects them), and smtpsend refreshes, rotates and stores them
(oauth2_token_file here, the keyring in the keyring cases).
"""

import os
import re
import socket
import stat
import subprocess
import threading
import time
import uuid

import pytest

from oauth_server import AuthServer

FROM = "alice@example.org"
RCPT = "bob@example.org"
HOST = "127.0.0.1"
MAGIC = "smtpsend-oauth2 1"


@pytest.fixture(scope="module")
def authsrv(certs, oauth):
    a = AuthServer(certs, oauth)
    yield a
    a.stop()


@pytest.fixture
def auth(authsrv):
    authsrv.reset()
    return authsrv


@pytest.fixture
def store(tmp_path):
    return str(tmp_path / "tokens")


def config(postfix, certs, auth, store, extra="", endpoint=None,
           timeout=20):
    lines = ["account default", "host " + HOST,
             "port %d" % postfix.port("starttls_auth"),
             "tls on", "tls_starttls on", "tls_trust_file " + certs.ca,
             "from " + FROM, "user alice", "timeout %d" % timeout,
             "oauth2_provider custom",
             "oauth2_client_id smtpsend-test",
             "oauth2_token_endpoint " + (endpoint or auth.url("/token"))]
    if store is not None:
        lines.append("oauth2_token_file " + store)
    return "\n".join(lines) + "\n" + extra


def write_store(path, rt, at="", exp=0, mode=0o600):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write("%s\nrefresh_token %s\naccess_token %s\nexpires_at %d\n"
                % (MAGIC, rt, at, exp))
    os.chmod(path, mode)


def read_store(path):
    with open(path) as f:
        lines = f.read().splitlines()
    assert lines[0] == MAGIC
    out = {}
    for line in lines[1:]:
        k, _, v = line.partition(" ")
        out[k] = v
    return out


def message(tag):
    return ("From: %s\nTo: %s\nSubject: oauth2 %s\n\nbody %s\n"
            % (FROM, RCPT, tag, tag)).encode()


def send(run, cfg, args=(), **kw):
    tag = uuid.uuid4().hex[:12]
    p = run(["-v"] + list(args) + [RCPT], input=message(tag), config=cfg,
            **kw)
    return p, tag


def delivered(postfix, tag, n=1):
    msgs = postfix.wait_messages(n, timeout=15)
    return any(("oauth2 " + tag).encode() in m for m in msgs)


def live_store(auth, store, life=3600):
    """A store as --authorize leaves it plus one send: refresh token and
    a cached access token valid for life seconds."""
    rt = auth.issue()
    at, exp = auth.issue_access(life=life)
    write_store(store, rt, at, int(exp))
    return rt, at


# ------------------------------------------------------------- sending

def test_cached_token_no_http(postfix, certs, run, auth, store):
    rt, at = live_store(auth, store)
    # ld.so says which libraries get loaded: neither libcurl nor json-c.
    p, tag = send(run, config(postfix, certs, auth, store),
                  env={"LD_DEBUG": "files"})
    assert p.returncode == 0, p.stderr.decode()
    assert re.search(rb"^--> AUTH OAUTHBEARER", p.stderr, re.M)
    assert delivered(postfix, tag)
    assert auth.token_requests() == []
    assert b"libcurl" not in p.stderr and b"libjson-c" not in p.stderr
    assert read_store(store)["access_token"] == at


def test_expired_token_refreshed_and_rotated(postfix, certs, run, auth,
                                             store):
    rt, at = live_store(auth, store, life=30)   # under the 60 s margin
    p, tag = send(run, config(postfix, certs, auth, store),
                  env={"LD_DEBUG": "files"})
    assert p.returncode == 0, p.stderr.decode()
    # Loaded only now, when a token must be fetched.
    assert b"libcurl-gnutls.so.4" in p.stderr
    assert b"libjson-c.so.5" in p.stderr
    assert delivered(postfix, tag)
    reqs = auth.token_requests()
    assert len(reqs) == 1 and reqs[0]["grant_type"] == "refresh_token"
    assert reqs[0]["refresh_token"] == rt
    s = read_store(store)
    # Rotation persisted: the new refresh token is stored, the old one is
    # dead at the server; the new access token is cached with its expiry.
    assert s["refresh_token"] != rt
    assert s["refresh_token"] in auth.refresh_tokens
    assert rt not in auth.refresh_tokens
    assert s["access_token"] != at and s["access_token"] in auth.access
    assert abs(int(s["expires_at"]) - (time.time() + 3600)) < 120
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    # The next run uses the cached token: no further HTTP.
    postfix.clear()
    p, tag = send(run, config(postfix, certs, auth, store))
    assert p.returncode == 0, p.stderr.decode()
    assert delivered(postfix, tag)
    assert len(auth.token_requests()) == 1


def test_rotation_across_runs(postfix, certs, run, auth, store):
    rt, _ = live_store(auth, store, life=0)
    seen = [rt]
    for _ in range(3):
        # Expire the cached token so that each run must refresh.
        s = read_store(store)
        write_store(store, s["refresh_token"], s["access_token"], 0)
        p, tag = send(run, config(postfix, certs, auth, store))
        assert p.returncode == 0, p.stderr.decode()
        seen.append(read_store(store)["refresh_token"])
    assert len(set(seen)) == 4
    assert [r["refresh_token"] for r in auth.token_requests()] == seen[:3]


@pytest.mark.parametrize("mech", ["", "xoauth2", "oauthbearer"])
def test_revoked_at_smtp_refresh_once(postfix, certs, run, auth, store,
                                      mech):
    rt, at = live_store(auth, store)
    auth.revoke_at_smtp(at)         # still "valid" by its expiry
    extra = "auth %s\n" % mech if mech else ""
    p, tag = send(run, config(postfix, certs, auth, store, extra))
    assert p.returncode == 0, p.stderr.decode()
    # The default is OAUTHBEARER when offered (Dovecot offers both).
    used = re.findall(rb"^--> AUTH ([A-Z0-9]+)", p.stderr, re.M)
    assert used[0].decode() == (mech or "oauthbearer").upper()
    assert len(set(used)) == 1 and len(used) >= 2   # tried twice
    assert b"refreshing it and trying again" in p.stderr
    assert delivered(postfix, tag)
    assert len(auth.token_requests()) == 1
    assert read_store(store)["access_token"] != at


def test_bs_revoked_at_smtp_refresh_once(postfix, certs, run, auth, store):
    """-bs (Symfony, Laravel): the same refresh and second AUTH in the same
    SMTP session as a send from standard input, the verdict 250."""
    from test_bs import Bs
    rt, at = live_store(auth, store)
    auth.revoke_at_smtp(at)
    tag = uuid.uuid4().hex[:12]
    b = Bs(run, config(postfix, certs, auth, store), args=("-v", "-bs"))
    try:
        assert b.reply()[0] == 220
        for cmd, want in (("EHLO client.example", 250),
                          ("MAIL FROM:<%s>" % FROM, 250),
                          ("RCPT TO:<%s>" % RCPT, 250), ("DATA", 354)):
            b.send(cmd + "\r\n")
            code, text = b.reply()
            assert code == want, (cmd, code, text)
        b.send(message(tag).replace(b"\n", b"\r\n") + b".\r\n")
        code, text = b.reply(timeout=60)
        assert code == 250, text
        b.send("QUIT\r\n")
        assert b.reply()[0] == 221
        status, _, err = b.finish()
    finally:
        b.kill()
    assert status == 0, err
    used = re.findall(r"^--> AUTH ([A-Z0-9]+)", err, re.M)
    assert len(used) >= 2, err      # tried twice in one session
    assert "refreshing it and trying again" in err
    assert delivered(postfix, tag)
    assert len(auth.token_requests()) == 1
    assert read_store(store)["access_token"] != at


def test_refused_twice_fails_77(postfix, certs, run, auth, store, oauth):
    rt, at = live_store(auth, store)
    auth.revoke_at_smtp(at)
    # The refreshed token is refused too: no loop, one refresh, 77.
    real = oauth.live
    blocked = {}
    oauth.httpd.live = blocked
    try:
        p, _ = send(run, config(postfix, certs, auth, store))
    finally:
        oauth.httpd.live = real
    assert p.returncode == 77, p.stderr.decode()
    assert len(auth.token_requests()) == 1
    assert postfix.messages() == []


def test_refresh_token_revoked_77(postfix, certs, run, auth, store):
    rt, _ = live_store(auth, store, life=0)
    auth.revoke_refresh(rt)
    p, _ = send(run, config(postfix, certs, auth, store))
    assert p.returncode == 77, p.stderr.decode()
    assert b"run smtpsend --authorize -a default" in p.stderr
    assert b"invalid_grant" in p.stderr
    assert postfix.messages() == []


def test_no_refresh_token_78(postfix, certs, run, auth, store):
    # The password (alice's real one) is not consulted for an OAuth2
    # account.
    p, _ = send(run, config(postfix, certs, auth, store,
                            "password secret\n"))
    assert p.returncode == 78, p.stderr.decode()
    assert b"no OAuth2 refresh token" in p.stderr
    assert b"run smtpsend --authorize -a default" in p.stderr


def test_endpoint_down_75(postfix, certs, run, auth, store):
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()                       # nothing listens there now
    live_store(auth, store, life=0)
    cfg = config(postfix, certs, auth, store, "queue off\n",
                 endpoint="https://%s:%d/token" % (HOST, port))
    p, _ = send(run, cfg)
    assert p.returncode == 75, p.stderr.decode()
    assert postfix.messages() == []
    # With the queue (the default) the same temporary failure is queued.
    cfg = config(postfix, certs, auth, store,
                 endpoint="https://%s:%d/token" % (HOST, port))
    p, _ = send(run, cfg)
    assert p.returncode == 0, p.stderr.decode()
    assert re.search(rb"queued as \S+: .*token.*; it will be retried",
                     p.stderr), p.stderr.decode()
    assert postfix.messages() == []


def _down_endpoint():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()                       # nothing listens there now
    return "https://%s:%d/token" % (HOST, port)


@pytest.mark.parametrize("revoked", [False, True])
def test_queued_then_flushed(postfix, certs, run, auth, store, tmp_path,
                             revoked):
    """Queued while the token endpoint is down; smtpsend -q refreshes
    later and delivers.  revoked: the cached token is still "valid" by its
    expiry but the SMTP server refuses it, at the send (the refresh then
    finds the endpoint down: queued) and again at the flush, which
    refreshes once in its session."""
    qdir = str(tmp_path / "queue")
    qcfg = "queue_dir %s\n" % qdir
    if revoked:
        rt, at = live_store(auth, store)
        auth.revoke_at_smtp(at)
    else:
        rt, at = live_store(auth, store, life=0)
    p, tag = send(run, config(postfix, certs, auth, store, qcfg,
                              endpoint=_down_endpoint()))
    assert p.returncode == 0, p.stderr.decode()
    assert b"queued as" in p.stderr, p.stderr.decode()
    assert postfix.messages() == []
    assert auth.token_requests() == []
    p = run(["-v", "-q"], config=config(postfix, certs, auth, store, qcfg))
    assert p.returncode == 0, p.stderr.decode()
    assert delivered(postfix, tag), p.stderr.decode()
    assert len(auth.token_requests()) == 1
    s = read_store(store)
    assert s["refresh_token"] != rt and s["access_token"] != at
    p = run(["-bp"], config=config(postfix, certs, auth, store, qcfg))
    assert b"Mail queue is empty" in p.stdout, p.stdout.decode()


def test_expiry_notice_refreshes_refused_token(postfix, certs, run, auth,
                                               store, tmp_path):
    """A message that expires in the queue gets its failure notice through
    the same account; when the SMTP server refuses the cached token (no
    delivery attempt came first to refresh it), the notice's session
    refreshes once and authenticates again, so the notice arrives."""
    qdir = str(tmp_path / "queue")
    qcfg = "queue_dir %s\nqueue_lifetime 1s\n" % qdir
    rt, at = live_store(auth, store)
    auth.revoke_at_smtp(at)
    p, tag = send(run, config(postfix, certs, auth, store, qcfg,
                              endpoint=_down_endpoint()))
    assert p.returncode == 0, p.stderr.decode()
    m = re.search(rb"queued as (\S+):", p.stderr)
    assert m, p.stderr.decode()
    qid = m.group(1)
    time.sleep(1.5)
    p = run(["-v", "-q"], config=config(postfix, certs, auth, store, qcfg))
    err = p.stderr.decode()
    assert p.returncode == 0, err
    assert "was not sent" not in err, err
    notes = [x for x in postfix.wait_messages(1, timeout=15)
             if qid in x and b"Undelivered Mail Returned to Sender" in x]
    assert len(notes) == 1, err
    assert b"Return-Path: <>" in notes[0]
    assert len(auth.token_requests()) == 1
    assert read_store(store)["refresh_token"] != rt


@pytest.mark.parametrize("fault,code,what", [
    ("5xx", 75, b"HTTP 503"),
    ("garbage", 76, b"not a JSON object"),
    ("no_access_token", 76, b"access_token"),
    ("no_token_type", 76, b"token_type"),
])
def test_endpoint_faults(postfix, certs, run, auth, store, fault, code,
                         what):
    rt, _ = live_store(auth, store, life=0)
    auth.fault = fault
    p, _ = send(run, config(postfix, certs, auth, store, "queue off\n"))
    assert p.returncode == code, p.stderr.decode()
    assert what in p.stderr, p.stderr.decode()
    # Nothing was lost: the stored refresh token is the one we had.
    assert read_store(store)["refresh_token"] == rt


def test_endpoint_slow_75(postfix, certs, run, auth, store):
    live_store(auth, store, life=0)
    auth.fault = "slow"
    auth.slow = 6
    t0 = time.monotonic()
    p, _ = send(run, config(postfix, certs, auth, store, "queue off\n",
                            timeout=2))
    assert p.returncode == 75, p.stderr.decode()
    assert time.monotonic() - t0 < 5.5     # bounded by the timeout


def test_untrusted_endpoint(postfix, certs, run, auth, store, tmp_path):
    # The endpoint's certificate is checked against tls_trust_file.
    live_store(auth, store, life=0)
    other = tmp_path / "other-ca.pem"
    with open(certs.selfsigned_cert) as f:
        other.write_text(f.read())
    cfg = config(postfix, certs, auth, store).replace(
        "tls_trust_file " + certs.ca, "tls_trust_file %s" % other)
    p, _ = send(run, cfg)
    assert p.returncode == 69, p.stderr.decode()
    assert b"certificate not trusted" in p.stderr
    assert auth.token_requests() == []


# ---------------------------------------------------------- token file

@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_token_file_permissions(postfix, certs, run, auth, store, mode):
    live_store(auth, store)
    os.chmod(store, mode)
    p, _ = send(run, config(postfix, certs, auth, store))
    assert p.returncode == 78, p.stderr.decode()
    assert b"chmod 600" in p.stderr
    assert postfix.messages() == []


def test_token_file_symlink_refused(postfix, certs, run, auth, store):
    live_store(auth, store)
    link = store + ".link"
    os.symlink(store, link)
    p, _ = send(run, config(postfix, certs, auth, link))
    assert p.returncode == 78, p.stderr.decode()
    assert b"symbolic link" in p.stderr


def test_concurrent_refresh(postfix, certs, run, auth, store):
    rt, _ = live_store(auth, store, life=0)
    cfg = config(postfix, certs, auth, store)
    results = [None, None]

    def one(i):
        results[i] = send(run, cfg)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=90)
    for p, _ in results:
        assert p.returncode == 0, p.stderr.decode()
    assert delivered(postfix, results[0][1], 2)
    assert delivered(postfix, results[1][1], 2)
    # One refresh (the second send found the first's tokens under the
    # lock), and the store holds the newest refresh token, alive.
    assert len(auth.token_requests()) == 1
    s = read_store(store)
    assert s["refresh_token"] in auth.refresh_tokens
    assert list(auth.refresh_tokens).count(s["refresh_token"]) == 1
    assert rt not in auth.refresh_tokens


# ------------------------------------------------------------- secrets

def test_no_secret_leaks(postfix, certs, run, auth, store, tmp_path):
    auth.client_secret = "cs-" + uuid.uuid4().hex
    try:
        rt, at = live_store(auth, store, life=0)
        log = tmp_path / "log"
        envdump = tmp_path / "env"
        # The client secret comes from a child: its environment is
        # dumped to prove no token is passed down.
        cfg = config(postfix, certs, auth, store,
                     "oauth2_client_secret_eval env > %s; echo %s\n"
                     "logfile %s\n" % (envdump, auth.client_secret, log))
        p, tag = send(run, cfg)
        assert p.returncode == 0, p.stderr.decode()
        new = read_store(store)
        secrets = [rt, at, new["refresh_token"], new["access_token"],
                   auth.client_secret]
        texts = [p.stdout, p.stderr, log.read_bytes(), envdump.read_bytes()]
        for s in secrets:
            for t in texts:
                assert s.encode() not in t
                assert s[4:20].encode() not in t
        assert auth.token_requests()[0]["client_secret"] == \
            auth.client_secret
    finally:
        auth.client_secret = None


def test_argv_has_no_token(postfix, certs, run, auth, store):
    # A child's argv (and the eval's) never holds a token: the eval
    # command prints its own parent's command line.
    rt, at = live_store(auth, store, life=0)
    cfg = config(postfix, certs, auth, store,
                 "oauth2_client_secret_eval cat /proc/$PPID/cmdline >&2; "
                 "echo x\n")
    p, _ = send(run, cfg)
    assert p.returncode == 0, p.stderr.decode()
    assert b"smtpsend" in p.stderr      # the cmdline was printed
    assert rt.encode() not in p.stderr and at.encode() not in p.stderr


# -------------------------------------------------------------- config

# Each error names the keyword and the line of the keyword at fault (the
# account's lines 1-4 come first; for a missing keyword, the provider's).
@pytest.mark.parametrize("extra,word,line", [
    ("oauth2_provider google\n", b"oauth2_client_id", 5),
    ("oauth2_provider yahoo\noauth2_client_id x\n", b"oauth2_provider", 5),
    ("oauth2_provider google\noauth2_client_id x\noauth2_tenant t\n",
     b"oauth2_tenant", 7),
    ("oauth2_provider microsoft\noauth2_client_id x\n"
     "oauth2_token_endpoint https://x/\n", b"oauth2_token_endpoint", 7),
    ("oauth2_provider microsoft\noauth2_client_id x\n"
     "oauth2_device_endpoint https://x/\n", b"oauth2_device_endpoint", 7),
    ("oauth2_provider google\noauth2_client_id x\n"
     "oauth2_auth_endpoint https://x/\n", b"oauth2_auth_endpoint", 7),
    ("oauth2_provider custom\noauth2_client_id x\n",
     b"oauth2_token_endpoint", 5),
    ("oauth2_provider custom\noauth2_client_id x\n"
     "oauth2_token_endpoint http://127.0.0.1/token\n",
     b"oauth2_token_endpoint", 7),
    ("oauth2_client_id x\n", b"oauth2_client_id needs oauth2_provider", 5),
    ("port 2525\noauth2_scope s\n", b"oauth2_scope needs oauth2_provider",
     6),
    ("oauth2_provider google\noauth2_client_id x\nauth plain\n",
     b"auth is PLAIN", 7),
    ("auth off\noauth2_provider google\noauth2_client_id x\n",
     b"auth is off", 5),
    ("oauth2_provider google\noauth2_client_id x\n"
     "oauth2_client_secret a\noauth2_client_secret_eval echo b\n",
     b"oauth2_client_secret_eval", 8),
])
def test_config_errors(run, extra, word, line):
    cfg = ("account default\nhost 127.0.0.1\nfrom a@b.example\nuser alice\n"
           + extra)
    p = run(["--pretend", RCPT], config=cfg)
    assert p.returncode == 78, p.stderr.decode()
    assert word in p.stderr
    assert re.search(rb"smtprc\.\d+:%d: " % line, p.stderr), p.stderr.decode()


def test_config_error_user_line(run):
    # No user: the oauth2_provider line (3), not the account's (1).
    cfg = ("account default\nhost 127.0.0.1\noauth2_provider google\n"
           "oauth2_client_id x\nfrom a@b.example\n")
    p = run(["--pretend", RCPT], config=cfg)
    assert p.returncode == 78, p.stderr.decode()
    assert re.search(rb"smtprc\.\d+:3: account default: oauth2_provider "
                     rb"google needs user", p.stderr), p.stderr.decode()


def test_config_error_inherited_line(run):
    # A keyword from a parent account is at fault on its own line there
    # (4); one from defaults (auth, 2) likewise.
    cfg = ("account ms\nhost 127.0.0.1\nuser alice\n"
           "oauth2_tenant t\noauth2_provider microsoft\noauth2_client_id x\n"
           "account default : ms\nfrom a@b.example\noauth2_provider google\n")
    p = run(["--pretend", RCPT], config=cfg)
    assert p.returncode == 78, p.stderr.decode()
    assert re.search(rb"smtprc\.\d+:4: account default: oauth2_tenant is "
                     rb"for oauth2_provider microsoft only", p.stderr), \
        p.stderr.decode()
    cfg = ("defaults\nauth login\n\naccount default\nhost 127.0.0.1\n"
           "user alice\nfrom a@b.example\noauth2_provider google\n"
           "oauth2_client_id x\n")
    p = run(["--pretend", RCPT], config=cfg)
    assert p.returncode == 78, p.stderr.decode()
    assert re.search(rb"smtprc\.\d+:2: account default: .*auth is LOGIN",
                     p.stderr), p.stderr.decode()


@pytest.mark.parametrize("flag,endpoints,word", [
    ("--device", "oauth2_auth_endpoint https://127.0.0.1:1/a\n",
     b"--device needs oauth2_device_endpoint"),
    ("--browser", "oauth2_device_endpoint https://127.0.0.1:1/d\n",
     b"--browser needs oauth2_auth_endpoint"),
    (None, "", b"--authorize needs oauth2_device_endpoint or "
     b"oauth2_auth_endpoint"),
])
def test_authorize_flow_needs_endpoint(run, flag, endpoints, word):
    # A custom provider without the flow's endpoint: the provider's line.
    cfg = ("account default\nhost 127.0.0.1\nuser alice\n"
           "oauth2_provider custom\noauth2_client_id x\n"
           "oauth2_token_endpoint https://127.0.0.1:1/token\n" + endpoints)
    p = run(["--authorize"] + ([flag] if flag else []), config=cfg)
    assert p.returncode == 78, p.stderr.decode()
    assert word in p.stderr, p.stderr.decode()
    assert re.search(rb"smtprc\.\d+:4: account default: ", p.stderr), \
        p.stderr.decode()


def test_authorize_google_device_refused(run):
    # Google's device flow cannot grant the mail scope: said at once, at
    # the provider's line, without a request to Google.
    cfg = ("account default\nhost 127.0.0.1\nuser alice\n"
           "oauth2_client_id x\noauth2_provider google\n")
    p = run(["--authorize", "--device"], config=cfg)
    assert p.returncode == 78, p.stderr.decode()
    assert re.search(rb"smtprc\.\d+:5: account default: --device: "
                     rb"Google's device flow", p.stderr), p.stderr.decode()


def test_pretend_shows_provider_defaults(run):
    cfg = ("account default\nhost 127.0.0.1\nfrom a@b.example\nuser alice\n"
           "oauth2_provider microsoft\noauth2_client_id x\n")
    p = run(["--pretend", RCPT], config=cfg)
    assert p.returncode == 0, p.stderr.decode()
    out = p.stdout.decode()
    assert re.search(r"^oauth2_tenant\s+= common \(default\)$", out, re.M)
    assert re.search(r"^oauth2_scope\s+= https://outlook\.office\.com/"
                     r"SMTP\.Send offline_access \(default\)$", out, re.M)
    assert re.search(r"^oauth2_token_endpoint\s+= https://login\."
                     r"microsoftonline\.com/common/oauth2/v2\.0/token "
                     r"\(default\)$", out, re.M)
    assert "(not set)\noauth2_scope" not in out


def test_config_inherited(run):
    cfg = ("defaults\noauth2_provider google\noauth2_client_id cid\n"
           "oauth2_client_secret GOCSPX-hidden\n"
           "account a\nhost 127.0.0.1\nfrom a@b.example\nuser alice\n"
           "account default : a\n")
    p = run(["--pretend", RCPT], config=cfg)
    assert p.returncode == 0, p.stderr.decode()
    assert b"oauth2_provider" in p.stdout and b"google" in p.stdout
    assert re.search(rb"oauth2_client_secret\s+=\s+\*", p.stdout), p.stdout
    assert b"GOCSPX" not in p.stdout


def test_passwordeval_xoauth2_still_works(postfix, certs, run, auth):
    # Users of external helpers: auth xoauth2 + passwordeval, no provider.
    at, _ = auth.issue_access()
    cfg = ("account default\nhost %s\nport %d\ntls on\ntls_starttls on\n"
           "tls_trust_file %s\nfrom %s\nuser alice\nauth xoauth2\n"
           "passwordeval echo %s\n" % (HOST, postfix.port("starttls_auth"),
                                        certs.ca, FROM, at))
    p, tag = send(run, cfg)
    assert p.returncode == 0, p.stderr.decode()
    assert delivered(postfix, tag)


# ------------------------------------------------------------- keyring

def test_keyring_store_refresh_rotation(postfix, certs, run, auth, keyring):
    """The default store: an item with service smtpsend-oauth2 (not smtp),
    read and rewritten through the Secret Service."""
    from test_keyring import client_env, detached, secret_tool, tool_env
    svc = "smtpsend-oauth2"
    rt = auth.issue()
    keyring.store(HOST, "alice", "%s\nrefresh_token %s\naccess_token \n"
                  "expires_at 0\n" % (MAGIC, rt), service=svc)
    # A password item for the same host and user is left alone.
    keyring.store(HOST, "alice", "not-the-password")
    try:
        cfg = config(postfix, certs, auth, None)
        p = detached(run, ["-v", RCPT], cfg, client_env(keyring))
        assert p.returncode == 0, p.stderr.decode()
        assert len(postfix.wait_messages(1, timeout=15)) == 1
        # The item secret-tool made is replaced, not shadowed by a second.
        assert keyring.count(HOST, "alice", service=svc) == 1
        rec = keyring.lookup(HOST, "alice", service=svc)
        new = re.search(r"refresh_token (\S+)", rec).group(1)
        assert new != rt and new in auth.refresh_tokens
        assert re.search(r"access_token at-", rec)
        assert keyring.lookup(HOST, "alice") == "not-the-password"
        # Cached now: a second send makes no HTTP request.
        p = detached(run, [RCPT], cfg, client_env(keyring))
        assert p.returncode == 0, p.stderr.decode()
        assert len(auth.token_requests()) == 1
    finally:
        env = tool_env(keyring)
        secret_tool(env, "clear", "host", HOST, "service", svc, "user",
                    "alice")
        secret_tool(env, "clear", "host", HOST, "service", "smtp", "user",
                    "alice")


def test_keyring_nothing_stored(postfix, certs, run, auth, keyring):
    from test_keyring import client_env, detached
    cfg = config(postfix, certs, auth, None)
    p = detached(run, [RCPT], cfg, client_env(keyring))
    assert p.returncode == 78, p.stderr.decode()
    assert b"--authorize -a default" in p.stderr


# ---------------------------------------------------------- --authorize

import queue            # noqa: E402
import ssl              # noqa: E402
import http.client      # noqa: E402
import urllib.parse     # noqa: E402


def flow_config(postfix, certs, auth, store):
    return config(postfix, certs, auth, store,
                  "oauth2_device_endpoint %s\noauth2_auth_endpoint %s\n"
                  % (auth.url("/device"), auth.url("/authorize")))


class Proc:
    """smtpsend --authorize in the background; its stdout lines queued."""

    def __init__(self, run, cfg, args, stdin=subprocess.DEVNULL, env=None):
        extra = env or {}
        env = dict(os.environ, HOME=run.home)
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
        env.update(extra)
        self.p = subprocess.Popen(
            run.command() + ["-C", run.config_file(cfg)] + list(args),
            stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=env, start_new_session=True)
        self.lines = queue.Queue()
        self.out = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.put(line.decode())

    def wait_line(self, pattern, timeout=20):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, "no line matching %r in %r" % (pattern,
                                                             self.out)
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            self.out.append(line)
            m = re.search(pattern, line)
            if m:
                return m

    def finish(self, timeout=30):
        try:
            self.p.wait(timeout=timeout)
        finally:
            if self.p.poll() is None:
                self.p.kill()
                self.p.wait()
        err = self.p.stderr.read()
        while not self.lines.empty():
            self.out.append(self.lines.get())
        return self.p.returncode, "".join(self.out), err.decode()


def test_authorize_device_then_send(postfix, certs, run, auth, store):
    pr = Proc(run, flow_config(postfix, certs, auth, store),
              ["--authorize", "--device"])
    pr.wait_line(r"/device-login")
    code = pr.wait_line(r"enter the code (\d{4}-\d{4})").group(1)
    assert os.path.exists(store) is False
    auth.approve(code)
    rc, out, err = pr.finish()
    assert rc == 0, err
    assert "stored in %s" % store in out
    assert "smtpsend -a default" in out
    s = read_store(store)
    assert s["refresh_token"] in auth.refresh_tokens
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    dcs = [r["device_code"] for r in auth.token_requests()
           if r["grant_type"].endswith(":device_code")]
    assert dcs
    for t in [s["refresh_token"], s["access_token"]] + dcs:
        assert t not in out and t not in err
    p, tag = send(run, config(postfix, certs, auth, store))
    assert p.returncode == 0, p.stderr.decode()
    assert delivered(postfix, tag)
    # The send used the token cached by --authorize: one /token request
    # in all (the device grant's), none for the send.
    assert [r["grant_type"] for r in auth.token_requests()
            if r["grant_type"] != "urn:ietf:params:oauth:grant-type:"
            "device_code"] == []


def test_authorize_device_slow_down(postfix, certs, run, auth, store):
    auth.force_slow_down = True
    pr = Proc(run, flow_config(postfix, certs, auth, store),
              ["--authorize", "--device"])
    code = pr.wait_line(r"enter the code (\d{4}-\d{4})").group(1)
    auth.approve(code)
    rc, out, err = pr.finish(timeout=40)
    assert rc == 0, err
    d = auth.done_devices[-1]
    # The forced slow_down raised the interval by 5 s and the client kept
    # to it: no further slow_down, the next poll 6 s or more later.
    assert d["slow_downs"] == 0 and d["forced"]
    assert d["times"][1] - d["times"][0] >= 5.8


@pytest.mark.parametrize("action,what", [
    ("deny", "denied"), ("expire", "expired")])
def test_authorize_device_refused(postfix, certs, run, auth, store, action,
                                  what):
    pr = Proc(run, flow_config(postfix, certs, auth, store),
              ["--authorize", "--device"])
    code = pr.wait_line(r"enter the code (\d{4}-\d{4})").group(1)
    getattr(auth, action)(code)
    rc, out, err = pr.finish()
    assert rc == 77, err
    assert what in err
    assert not os.path.exists(store)


def _get(url, cafile=None):
    u = urllib.parse.urlsplit(url)
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=cafile)
        c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx,
                                        timeout=10)
    else:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    c.request("GET", u.path + ("?" + u.query if u.query else ""))
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, r.getheader("Location"), body


def _wrong_state(location):
    u = urllib.parse.urlsplit(location)
    q = dict(urllib.parse.parse_qsl(u.query))
    q["state"] = "forged-" + q["state"][:4]
    return urllib.parse.urlunsplit(u._replace(
        query=urllib.parse.urlencode(q)))


def test_authorize_browser_redirect(postfix, certs, run, auth, store):
    pr = Proc(run, flow_config(postfix, certs, auth, store),
              ["-v", "--authorize", "--browser"], stdin=subprocess.PIPE)
    url = pr.wait_line(r"^\s+(https://\S+)").group(1)
    q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert q["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", q["code_challenge"])
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", q["redirect_uri"])
    status, location, _ = _get(url, certs.ca)
    assert status == 302
    # A redirect with another state is refused, and the flow goes on.
    status, _, body = _get(_wrong_state(location))
    assert status == 400 and b"state" in body
    status, _, body = _get(location)
    assert status == 200 and b"authorized" in body
    rc, out, err = pr.finish()
    assert rc == 0, err
    assert "wrong state was refused" in err
    s = read_store(store)
    assert s["refresh_token"] in auth.refresh_tokens
    codes = [r for r in auth.token_requests()
             if r["grant_type"] == "authorization_code"]
    assert len(codes) == 1 and len(codes[0]["code_verifier"]) == 43
    # Neither the code, its verifier nor the tokens are shown, even -v.
    for t in (codes[0]["code"], codes[0]["code_verifier"],
              s["refresh_token"], s["access_token"]):
        assert t not in out and t not in err
    p, tag = send(run, config(postfix, certs, auth, store))
    assert p.returncode == 0, p.stderr.decode()
    assert delivered(postfix, tag)


@pytest.mark.parametrize("paste", ["url", "code"])
def test_authorize_browser_pasted(postfix, certs, run, auth, store, paste):
    pr = Proc(run, flow_config(postfix, certs, auth, store),
              ["--authorize", "--browser"], stdin=subprocess.PIPE)
    url = pr.wait_line(r"^\s+(https://\S+)").group(1)
    _, location, _ = _get(url, certs.ca)
    if paste == "url":
        pr.p.stdin.write((_wrong_state(location) + "\n").encode())
        pr.p.stdin.write((location + "\n").encode())
    else:
        code = dict(urllib.parse.parse_qsl(
            urllib.parse.urlsplit(location).query))["code"]
        pr.p.stdin.write(("  %s  \n" % code).encode())
    pr.p.stdin.flush()
    rc, out, err = pr.finish()
    assert rc == 0, err
    if paste == "url":
        assert "state does not match" in err
    assert read_store(store)["refresh_token"] in auth.refresh_tokens


def test_authorize_needs_provider(run):
    p = run(["--authorize"], config="account default\nhost h\nuser u\n")
    assert p.returncode == 78
    assert b"oauth2_provider" in p.stderr


def test_flow_option_needs_authorize(run):
    p = run(["--device", RCPT], input=b"Subject: x\n\nx\n",
            config="account default\nhost h\n")
    assert p.returncode == 64
    assert b"--authorize" in p.stderr


def test_authorize_browser_xdg_open(postfix, certs, run, auth, store,
                                    tmp_path):
    """With a display, the URL goes to xdg-open (a stand-in on PATH that
    records it); the test plays the browser with what it was given."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    got = tmp_path / "opened"
    (bindir / "xdg-open").write_text("#!/bin/sh\nprintf '%%s' \"$1\" > %s\n"
                                      % got)
    os.chmod(bindir / "xdg-open", 0o755)
    pr = Proc(run, flow_config(postfix, certs, auth, store),
              ["--authorize", "--browser"],
              env={"DISPLAY": ":99",
                   "PATH": "%s:%s" % (bindir, os.environ["PATH"])})
    printed = pr.wait_line(r"^\s+(https://\S+)").group(1)
    deadline = time.monotonic() + 10
    while not got.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got.read_text() == printed
    _, location, _ = _get(got.read_text(), certs.ca)
    status, _, _ = _get(location)
    assert status == 200
    rc, out, err = pr.finish()
    assert rc == 0, err
    assert read_store(store)["refresh_token"] in auth.refresh_tokens
