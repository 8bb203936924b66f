"""Real servers on loopback for smtpsend's end-to-end tests.

Everything here runs private instances in temporary directories: a test CA
and certificates made with certtool, Postfix (`postfix -c DIR`), Dovecot as
Postfix's SASL server, a token-introspection HTTP server for Dovecot's oauth2
passdb, and gnome-keyring on a private D-Bus session bus.  Nothing touches
/etc/postfix, the system Dovecot or a real keyring; every server listens on
127.0.0.1 on a free port and is stopped by its PID.  Every wait has a deadline.

Also usable from the command line (Debian's /usr/bin/python3):
    python3 tests/e2e/servers.py serve          start, print ports as JSON,
                                                stop on SIGTERM/SIGINT (or EOF
                                                when stdin is a pipe)
    python3 tests/e2e/servers.py demo BINARY    the README's main-job demo
"""

import base64
import hashlib
import http.server
import json
import os
import re
import shlex
import shutil
import signal
import socket
import socketserver
import ssl
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HOST = "127.0.0.1"
ALICE = "alice"
ALICE_PASSWORD = "secret"
GOOD_TOKEN = "good-token"
NOBODY_UID = 65534
NOBODY_GID = 65534


class ServerError(Exception):
    """A test server could not be set up; the message says why."""


def _cmd(args, timeout=60, input=None, env=None, check=True, daemon=False):
    """Run a helper command with a deadline; raise ServerError on failure.
    daemon: the command forks a server that would keep a pipe open, so its
    output goes through a temporary file instead."""
    try:
        if daemon:
            with tempfile.TemporaryFile() as out:
                p = subprocess.run(args, input=input, env=env,
                                   timeout=timeout, stdout=out,
                                   stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
                out.seek(0)
                p.stdout, p.stderr = out.read(), b""
        else:
            p = subprocess.run(args, input=input, env=env, timeout=timeout,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except subprocess.TimeoutExpired:
        raise ServerError("%s: timed out after %ss" % (args[0], timeout))
    except OSError as e:
        raise ServerError("%s: %s" % (args[0], e))
    if check and p.returncode != 0:
        raise ServerError("%s failed (%d): %s%s" % (
            " ".join(args), p.returncode,
            p.stdout.decode(errors="replace"),
            p.stderr.decode(errors="replace")))
    return p


def free_port():
    """A free TCP port on 127.0.0.1: bind port 0, read it, release it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _pid_alive(pid):
    # A zombie that no one has reaped yet counts as gone.
    try:
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except (OSError, IndexError):
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def kill_pid(pid, timeout=10):
    """SIGTERM a process by PID, SIGKILL it if it outlives the deadline."""
    if not pid or not _pid_alive(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            # Reap it if it is our child; harmless otherwise.
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            pass
        if not _pid_alive(pid):
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _greeting(port, deadline, implicit_tls):
    """Connect to PORT and return the first line it sends."""
    sock = socket.create_connection((HOST, port), timeout=2)
    try:
        sock.settimeout(max(0.5, deadline - time.monotonic()))
        if implicit_tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock, server_hostname="localhost")
        line = b""
        while not line.endswith(b"\n"):
            chunk = sock.recv(512)
            if not chunk:
                break
            line += chunk
        if line.startswith(b"220"):
            sock.sendall(b"QUIT\r\n")
        return line
    finally:
        sock.close()


def wait_banner(port, timeout=15, implicit_tls=False, code=b"220"):
    """Wait until PORT answers with a 220 greeting (or the given code,
    through TLS if implicit_tls); raise ServerError at the deadline."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = _greeting(port, deadline, implicit_tls)
            if last.startswith(code):
                return
        except (OSError, ssl.SSLError) as e:
            last = e
        time.sleep(0.1)
    raise ServerError("port %d gave no %s greeting within %ss (%r)"
                      % (port, code.decode(), timeout, last))


# ---------------------------------------------------------------- certs

def fingerprint(pem_path, algo):
    """Fingerprint of the first certificate in a PEM file, as msmtp shows
    it: colon-separated upper-case hex."""
    with open(pem_path) as f:
        text = f.read()
    m = re.search(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----",
                  text, re.S)
    if not m:
        raise ServerError("no certificate in %s" % pem_path)
    der = base64.b64decode("".join(m.group(1).split()))
    digest = hashlib.new(algo, der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


class Certs:
    """A test CA and certificates, made with certtool in a temporary dir.

    Attributes: dir, ca, ca_key; chain files (key then certificate, as
    Postfix's smtpd_tls_chain_files wants) localhost, expired, notyet,
    selfsigned, wronghost; each also as NAME_cert and NAME_key; client_cert,
    client_key; fingerprints localhost_sha256, localhost_sha1."""

    SERVER = ('tls_www_server\nsigning_key\nencryption_key\n')

    def __init__(self, directory=None):
        self.dir = directory or tempfile.mkdtemp(prefix="smtpsend-certs-")
        os.chmod(self.dir, 0o755)
        self._owned = directory is None
        self.ca_key = self._key("ca")
        self.ca = os.path.join(self.dir, "ca.pem")
        self._template("ca", 'cn = "smtpsend test CA"\nca\ncert_signing_key\n'
                       'crl_signing_key\nexpiration_days = 3650\n')
        _cmd(["certtool", "--generate-self-signed", "--no-text",
              "--load-privkey", self.ca_key,
              "--template", self._tpl("ca"), "--outfile", self.ca])
        host = 'dns_name = "localhost"\nip_address = "127.0.0.1"\n'
        self._server("localhost", 'cn = "localhost"\n' + host +
                     'expiration_days = 3650\n' + self.SERVER)
        self._server("expired", 'cn = "localhost"\n' + host +
                     'activation_date = "2020-01-01 00:00:00 UTC"\n'
                     'expiration_date = "2021-01-01 00:00:00 UTC"\n' +
                     self.SERVER)
        self._server("notyet", 'cn = "localhost"\n' + host +
                     'activation_date = "2090-01-01 00:00:00 UTC"\n'
                     'expiration_date = "2091-01-01 00:00:00 UTC"\n' +
                     self.SERVER)
        self._server("selfsigned", 'cn = "localhost"\n' + host +
                     'expiration_days = 3650\n' + self.SERVER,
                     selfsigned=True)
        self._server("wronghost", 'cn = "wrong.example"\n'
                     'dns_name = "wrong.example"\nexpiration_days = 3650\n' +
                     self.SERVER)
        self._server("client", 'cn = "alice"\nemail = "alice@localhost"\n'
                     'tls_www_client\nsigning_key\nexpiration_days = 3650\n')
        self.localhost_sha256 = fingerprint(self.localhost_cert, "sha256")
        self.localhost_sha1 = fingerprint(self.localhost_cert, "sha1")

    def _tpl(self, name):
        return os.path.join(self.dir, name + ".tmpl")

    def _template(self, name, text):
        _write(self._tpl(name), text)

    def _key(self, name):
        path = os.path.join(self.dir, name + "-key.pem")
        _cmd(["certtool", "--generate-privkey", "--no-text", "--key-type=rsa",
              "--bits=2048", "--outfile", path])
        os.chmod(path, 0o644)
        return path

    def _server(self, name, template, selfsigned=False):
        key = self._key(name)
        cert = os.path.join(self.dir, name + "-cert.pem")
        self._template(name, template)
        if selfsigned:
            _cmd(["certtool", "--generate-self-signed", "--no-text",
                  "--load-privkey", key, "--template", self._tpl(name),
                  "--outfile", cert])
        else:
            _cmd(["certtool", "--generate-certificate", "--no-text",
                  "--load-privkey", key, "--load-ca-certificate", self.ca,
                  "--load-ca-privkey", self.ca_key,
                  "--template", self._tpl(name), "--outfile", cert])
        chain = os.path.join(self.dir, name + "-chain.pem")
        with open(key) as k, open(cert) as c:
            _write(chain, k.read() + c.read())
        setattr(self, name, chain)
        setattr(self, name + "_cert", cert)
        setattr(self, name + "_key", key)

    def cleanup(self):
        if self._owned:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------- oauth2 token

class _IntrospectHandler(http.server.BaseHTTPRequestHandler):
    """RFC 7662-style introspection: good-token is alice's, all else not."""

    def _answer(self, token):
        self.server.requests.append(token)
        live = self.server.live.get(token)
        if token == GOOD_TOKEN:
            body = {"active": True, "username": ALICE}
        elif live is not None and live[1] > time.time():
            # Issued by oauth_server.AuthServer and not expired or revoked.
            body = {"active": True, "username": live[0]}
        else:
            body = {"active": False}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):  # noqa: N802 (http.server's naming)
        n = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(n).decode())
        token = (form.get("token") or [""])[0]
        auth = self.headers.get("Authorization") or ""
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        self._answer(token)

    def do_GET(self):  # noqa: N802
        q = urllib.parse.urlparse(self.path).query
        token = (urllib.parse.parse_qs(q).get("token") or [""])[0]
        auth = self.headers.get("Authorization") or ""
        if not token and auth.lower().startswith("bearer "):
            token = auth[7:].strip()
        self._answer(token)

    def log_message(self, fmt, *args):
        pass


class IntrospectionServer:
    """The OAuth2 token-introspection endpoint, in a thread on loopback.
    .url, .requests (tokens seen, oldest first), .stop().  .live maps
    further active tokens to (username, expiry time): tests/e2e/
    oauth_server.py adds the access tokens it issues."""

    def __init__(self):
        self.httpd = http.server.ThreadingHTTPServer((HOST, 0),
                                                     _IntrospectHandler)
        self.httpd.daemon_threads = True
        self.httpd.requests = []
        self.requests = self.httpd.requests
        self.httpd.live = {}
        self.live = self.httpd.live
        self.port = self.httpd.server_address[1]
        self.url = "http://%s:%d/introspect" % (HOST, self.port)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


# --------------------------------------------------------------- dovecot

# Issue 11: a user whose password Dovecot stores as SCRAM-SHA-256 secrets
# (what a real server keeps): its salt and iteration count stay the same
# from one login to the next, unlike alice's {PLAIN}, for which Dovecot
# makes a new salt at every login.
SCRAM_USER = "carol"
SCRAM_PASSWORD = "carol-Pa55-w0rd"
SCRAM_SALT = b"smtpsend-test-salt-1"


def scram_user_line(password, salt=SCRAM_SALT, iterations=4096):
    import base64
    import hashlib
    import hmac
    sp = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client = hmac.new(sp, b"Client Key", "sha256").digest()
    server = hmac.new(sp, b"Server Key", "sha256").digest()
    b64 = lambda b: base64.b64encode(b).decode()  # noqa: E731
    return "%s:{SCRAM-SHA-256}%d,%s,%s,%s::::::\n" % (
        SCRAM_USER, iterations, b64(salt),
        b64(hashlib.sha256(client).digest()), b64(server))


class Dovecot:
    """Dovecot with protocols = none: only the auth service, as Postfix's
    SASL server.  .socket is the path Postfix's smtpd_sasl_path uses."""

    def __init__(self, introspection_url, directory=None):
        self.dir = directory or tempfile.mkdtemp(prefix="smtpsend-dovecot-")
        self._owned = directory is None
        os.chmod(self.dir, 0o755)
        self.base_dir = os.path.join(self.dir, "run")
        self.state_dir = os.path.join(self.dir, "state")
        for d in (self.base_dir, self.state_dir):
            os.makedirs(d, mode=0o755, exist_ok=True)
        self.log_path = os.path.join(self.dir, "dovecot.log")
        self.socket = os.path.join(self.base_dir, "auth-postfix")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        passwd = os.path.join(self.dir, "passwd")
        self.passwd = passwd
        _write(passwd, "%s:{PLAIN}%s::::::\n" % (ALICE, ALICE_PASSWORD)
               + scram_user_line(SCRAM_PASSWORD))
        oauth = os.path.join(self.dir, "oauth2.conf")
        _write(oauth, "introspection_mode = post\n"
               "introspection_url = %s\n"
               "force_introspection = yes\n"
               "username_attribute = username\n"
               "active_attribute = active\n"
               "active_value = true\n" % introspection_url)
        _write(self.conf, """\
instance_name = smtpsend-test-%(tag)s
base_dir = %(base)s
state_dir = %(state)s
log_path = %(log)s
info_log_path = %(log)s
protocols = none
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5 scram-sha-256 xoauth2 oauthbearer
auth_failure_delay = 0
auth_verbose = yes
passdb {
  driver = passwd-file
  mechanisms = plain login cram-md5 scram-sha-256
  args = scheme=PLAIN username_format=%%u %(passwd)s
}
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = %(oauth)s
}
userdb {
  driver = static
  args = uid=%(uid)d gid=%(gid)d home=/nonexistent
}
service auth {
  unix_listener auth-postfix {
    mode = 0660
    user = postfix
    group = postfix
  }
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
""" % {"tag": os.path.basename(self.dir), "base": self.base_dir,
            "state": self.state_dir, "log": self.log_path, "passwd": passwd,
            "oauth": oauth, "uid": NOBODY_UID, "gid": NOBODY_GID})
        self.pid = None

    def set_scram_password(self, password, salt=SCRAM_SALT,
                           iterations=4096):
        """Give SCRAM_USER another stored password (salt, count)."""
        before = os.stat(self.passwd).st_mtime
        _write(self.passwd, "%s:{PLAIN}%s::::::\n" % (ALICE, ALICE_PASSWORD)
               + scram_user_line(password, salt, iterations))
        # Dovecot re-reads the file when its size or mtime (in seconds)
        # changed; the size may not have.
        os.utime(self.passwd, (before + 2, before + 2))
        time.sleep(1.1)

    def start(self, timeout=15):
        _cmd(["dovecot", "-c", self.conf], timeout=timeout, daemon=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pid = _read_pid(os.path.join(self.base_dir, "master.pid"))
            if self.pid and os.path.exists(self.socket):
                return
            time.sleep(0.05)
        raise ServerError("dovecot did not create %s within %ss; log:\n%s"
                          % (self.socket, timeout, _tail(self.log_path)))

    def stop(self):
        kill_pid(self.pid or
                 _read_pid(os.path.join(self.base_dir, "master.pid")))
        self.pid = None

    def cleanup(self):
        if self._owned:
            shutil.rmtree(self.dir, ignore_errors=True)


class DovecotLMTP:
    """Issue 9 item 13 (protocol lmtp): a second, separate Dovecot that
    speaks LMTP on a loopback TCP port and delivers into one Maildir per
    user.  Users: those in USERS, all as nobody; "full" has a 1-byte quota,
    so Dovecot accepts its RCPT and refuses it after the data (552 5.2.2),
    which gives a real per-recipient failure.  .port, .maildir(user)
    -> list of messages (bytes), .log_path, .stop()."""

    USERS = ("alice", "bob", "full")

    def __init__(self, directory=None):
        self.dir = directory or tempfile.mkdtemp(prefix="smtpsend-lmtp-")
        self._owned = directory is None
        os.chmod(self.dir, 0o755)
        self.base_dir = os.path.join(self.dir, "run")
        self.state_dir = os.path.join(self.dir, "state")
        self.home = os.path.join(self.dir, "home")
        for d in (self.base_dir, self.state_dir, self.home):
            os.makedirs(d, mode=0o755, exist_ok=True)
        os.chown(self.home, NOBODY_UID, NOBODY_GID)
        self.log_path = os.path.join(self.dir, "dovecot.log")
        self.port = free_port()
        users = os.path.join(self.dir, "users")
        _write(users, "".join(
            "%s:{PLAIN}unused:%d:%d::%s::%s\n" % (
                u, NOBODY_UID, NOBODY_GID, os.path.join(self.home, u),
                "userdb_quota_rule=*:storage=1B" if u == "full" else "")
            for u in self.USERS))
        self.conf = os.path.join(self.dir, "dovecot.conf")
        _write(self.conf, """\
instance_name = smtpsend-lmtp-%(tag)s
base_dir = %(base)s
state_dir = %(state)s
log_path = %(log)s
info_log_path = %(log)s
protocols = lmtp
listen = 127.0.0.1
ssl = no
auth_username_format = %%Ln
mail_location = maildir:~/Maildir
mail_plugins = quota
lmtp_rcpt_check_quota = no
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%n %(users)s
}
userdb {
  driver = passwd-file
  args = username_format=%%n %(users)s
}
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=100M
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %(port)d
  }
}
service anvil {
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
""" % {"tag": os.path.basename(self.dir), "base": self.base_dir,
            "state": self.state_dir, "log": self.log_path, "users": users,
            "port": self.port})
        self.pid = None

    def set_scram_password(self, password, salt=SCRAM_SALT,
                           iterations=4096):
        """Give SCRAM_USER another stored password (salt, count)."""
        before = os.stat(self.passwd).st_mtime
        _write(self.passwd, "%s:{PLAIN}%s::::::\n" % (ALICE, ALICE_PASSWORD)
               + scram_user_line(password, salt, iterations))
        # Dovecot re-reads the file when its size or mtime (in seconds)
        # changed; the size may not have.
        os.utime(self.passwd, (before + 2, before + 2))
        time.sleep(1.1)

    def start(self, timeout=15):
        _cmd(["dovecot", "-c", self.conf], timeout=timeout, daemon=True)
        self.pid = _read_pid(os.path.join(self.base_dir, "master.pid"))
        try:
            wait_banner(self.port, timeout)
        except ServerError as e:
            raise ServerError("%s; log:\n%s" % (e, _tail(self.log_path)))
        self.pid = _read_pid(os.path.join(self.base_dir, "master.pid"))

    def maildir(self, user):
        """Every message delivered to user, as bytes."""
        out = []
        for sub in ("new", "cur"):
            d = os.path.join(self.home, user, "Maildir", sub)
            try:
                names = sorted(os.listdir(d))
            except FileNotFoundError:
                continue
            for n in names:
                with open(os.path.join(d, n), "rb") as f:
                    out.append(f.read())
        return out

    def stop(self):
        kill_pid(self.pid or
                 _read_pid(os.path.join(self.base_dir, "master.pid")))
        self.pid = None

    def cleanup(self):
        if self._owned:
            shutil.rmtree(self.dir, ignore_errors=True)


def _tail(path, n=40):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError as e:
        return "(%s)" % e


# --------------------------------------------------------------- postfix

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = %(dir)s/queue
data_directory = %(dir)s/data
maillog_file = %(dir)s/maillog
maillog_file_prefixes = %(dir)s
myhostname = localhost
mydomain = localdomain
myorigin = localhost
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
relayhost =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
notify_classes =
biff = no
append_dot_mydomain = no
smtputf8_enable = yes
virtual_mailbox_domains = static:all
virtual_mailbox_base = %(dir)s/mail
virtual_mailbox_maps = static:inbox/
virtual_uid_maps = static:%(uid)d
virtual_gid_maps = static:%(gid)d
virtual_mailbox_limit = 0
message_size_limit = 0
mailbox_size_limit = 0
message_drop_headers = content-length, return-path
local_header_rewrite_clients =
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject
smtpd_recipient_restrictions =
smtpd_sasl_type = dovecot
smtpd_sasl_path = %(sasl)s
smtpd_sasl_auth_enable = no
smtpd_sasl_authenticated_header = no
broken_sasl_auth_clients = no
smtpd_tls_chain_files = %(chain)s
smtpd_tls_security_level = none
smtpd_tls_loglevel = 1
smtpd_tls_received_header = no
smtpd_tls_session_cache_database =
smtpd_tls_CAfile = %(ca)s
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 1000
smtpd_hard_error_limit = 1000
smtpd_client_connection_rate_limit = 0
smtpd_client_auth_rate_limit = 0
smtpd_timeout = 60s
delay_warning_time = 0
maximal_queue_lifetime = 1h
queue_run_delay = 1s
minimal_backoff_time = 1s
"""

MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

# Listener name -> (implicit TLS?, smtpd -o overrides).
_RELAY_LOCAL = "permit_mynetworks,permit_sasl_authenticated,reject"
_RELAY_AUTH = "permit_sasl_authenticated,reject"


def _listeners(certs):
    starttls = {"smtpd_tls_security_level": "encrypt",
                "smtpd_tls_auth_only": "yes",
                "smtpd_sasl_auth_enable": "yes",
                "smtpd_relay_restrictions": _RELAY_LOCAL}
    implicit = {"smtpd_tls_wrappermode": "yes",
                "smtpd_tls_security_level": "encrypt",
                "smtpd_sasl_auth_enable": "yes",
                "smtpd_relay_restrictions": _RELAY_LOCAL}
    required = {"smtpd_relay_restrictions": _RELAY_AUTH,
                "smtpd_recipient_restrictions": _RELAY_AUTH}

    def with_cert(chain):
        return dict(starttls, smtpd_tls_chain_files=chain)

    return {
        "plain": (False, {"smtpd_tls_security_level": "none",
                          "smtpd_sasl_auth_enable": "no",
                          "smtpd_relay_restrictions": "permit_mynetworks,reject"}),
        "starttls": (False, starttls),
        "implicit": (True, implicit),
        "starttls_auth": (False, dict(starttls, **required)),
        "implicit_auth": (True, dict(implicit, **required)),
        "plain_auth": (False, dict({"smtpd_tls_security_level": "none",
                                    "smtpd_sasl_auth_enable": "yes",
                                    "smtpd_tls_auth_only": "no"}, **required)),
        "expired": (False, with_cert(certs.expired)),
        "notyet": (False, with_cert(certs.notyet)),
        "selfsigned": (False, with_cert(certs.selfsigned)),
        "wronghost": (False, with_cert(certs.wronghost)),
        "clientcert": (False, dict(starttls, smtpd_tls_req_ccert="yes",
                                   smtpd_tls_ask_ccert="yes")),
        "tls12": (False, dict(
            starttls,
            smtpd_tls_protocols=">=TLSv1.2,<=TLSv1.2",
            smtpd_tls_mandatory_protocols=">=TLSv1.2,<=TLSv1.2")),
        "tls13": (False, dict(
            starttls,
            smtpd_tls_protocols=">=TLSv1.3",
            smtpd_tls_mandatory_protocols=">=TLSv1.3")),
        "small": (False, {"smtpd_tls_security_level": "none",
                          "smtpd_sasl_auth_enable": "no",
                          "message_size_limit": "10000",
                          "smtpd_relay_restrictions": "permit_mynetworks,reject"}),
    }


# A plain smtpd on a Unix socket: master.cf "unix" services live under
# the queue directory (public/ when not private); smtpd serves them as
# local clients, which permit_mynetworks lets relay.  AUTH is offered
# without TLS: credentials may go over a Unix socket in clear.
_UNIX_SMTPD = """\
# unix
smtpsend-smtpd unix n - n - - smtpd
  -o syslog_name=postfix/unix
  -o smtpd_tls_security_level=none
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=no
"""


# Client certificate asked for (a TLS CertificateRequest) but not required,
# and a 421 that real Postfix gives on demand (issue 9, item 4):
# "askcc_greet421" (implicit TLS) answers the greeting with 421 from an
# undelayed client restriction ("defer" with defer_code 421);
# "askcc_ehlo421" (STARTTLS) asks a policy service at each EHLO, which
# answers 421 once the session is encrypted: the EHLO after STARTTLS gets
# "421 4.3.2 ...", the one before it is accepted.
class _EhloPolicyHandler(socketserver.StreamRequestHandler):
    """Postfix's policy delegation protocol: name=value lines, an empty
    line ends a request; the answer is "action=..." and an empty line."""

    def handle(self):
        attrs = {}
        for raw in self.rfile:
            line = raw.decode(errors="replace").rstrip("\n")
            if line:
                name, _, value = line.partition("=")
                attrs[name] = value
                continue
            if (attrs.get("protocol_state") == "EHLO"
                    and attrs.get("encryption_protocol")):
                action = "421 4.3.2 Service busy after STARTTLS (test)"
            else:
                action = "DUNNO"
            self.wfile.write(b"action=%s\n\n" % action.encode())
            self.wfile.flush()
            attrs = {}


_EHLO_POLICY = []


def _ehlo_policy_port():
    """The policy service (a thread on loopback), started on first use."""
    if not _EHLO_POLICY:
        srv = socketserver.ThreadingTCPServer((HOST, 0), _EhloPolicyHandler)
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever,
                         kwargs={"poll_interval": 0.1}, daemon=True).start()
        _EHLO_POLICY.append(srv)
    return _EHLO_POLICY[0].server_address[1]


def _listeners_ask_ccert():
    ask = {"smtpd_tls_security_level": "encrypt",
           "smtpd_tls_ask_ccert": "yes",
           "smtpd_relay_restrictions": _RELAY_LOCAL,
           "smtpd_delay_reject": "no"}
    return {
        "askcc_greet421": (True, dict(
            ask, smtpd_tls_wrappermode="yes",
            smtpd_client_restrictions="defer", defer_code="421")),
        "askcc_slow": (True, dict(
            ask, smtpd_tls_wrappermode="yes",
            smtpd_client_restrictions="sleep,3")),
        "reqcc_implicit": (True, dict(
            ask, smtpd_tls_wrappermode="yes", smtpd_tls_req_ccert="yes")),
        "askcc_ehlo421": (False, dict(
            ask, smtpd_helo_restrictions="check_policy_service,"
            "inet:%s:%d" % (HOST, _ehlo_policy_port()))),
    }


# Listeners whose greeting is meant to be other than 220 (readiness wait).
_GREETING_CODE = {"askcc_greet421": b"421", "reqcc_implicit": b"421"}
# Issue 9 item 6 (recipient limits): a listener that accepts at most 10
# recipients per transaction and answers "452 4.5.3 Error: too many
# recipients" past that, as Postfix, Exim and OpenSMTPD do at 1,000.
_listeners_before_rcptlimit = _listeners


def _listeners(certs):  # noqa: F811 (extends the table above)
    specs = _listeners_before_rcptlimit(certs)
    specs["rcptlimit"] = (False, {
        "smtpd_tls_security_level": "none",
        "smtpd_sasl_auth_enable": "no",
        "smtpd_recipient_limit": "10",
        "smtpd_relay_restrictions": "permit_mynetworks,reject"})
    # The same, and one recipient refused for good: past the limit it
    # gets a 452 first, its 5xx only in a later transaction.
    specs["rcptlimit_reject"] = (False, dict(
        specs["rcptlimit"][1],
        smtpd_recipient_restrictions="check_recipient_access,"
        "inline:{rejected@example.com=REJECT}"))
    return specs


class Postfix:
    """A private Postfix instance in a temporary directory.

    .port(name) for each listener (see _listeners), .messages() delivered
    mail as bytes (oldest first), .wait_messages(n, timeout),
    .clear(), .log_path, .dir, .host."""

    def __init__(self, certs, sasl_socket, directory=None, listeners=None):
        self.dir = directory or tempfile.mkdtemp(prefix="smtpsend-postfix-")
        self._owned = directory is None
        self.host = HOST
        os.chmod(self.dir, 0o755)
        self.log_path = os.path.join(self.dir, "maillog")
        self.maildir = os.path.join(self.dir, "mail", "inbox")
        # "postfix start" creates the queue's subdirectories (post-install
        # create-missing) but wants the queue directory itself to exist.
        os.makedirs(os.path.join(self.dir, "queue"), mode=0o755, exist_ok=True)
        mail = os.path.join(self.dir, "mail")
        os.makedirs(mail, exist_ok=True)
        os.chown(mail, NOBODY_UID, NOBODY_GID)
        os.chmod(mail, 0o700)
        specs = _listeners(certs)
        specs.update(_listeners_ask_ccert())
        if listeners is not None:
            specs = {k: v for k, v in specs.items() if k in listeners}
        self._ports = {}
        self._implicit = {}
        lines = [MASTER_CF]
        for name, (implicit, opts) in specs.items():
            port = free_port()
            self._ports[name] = port
            self._implicit[name] = implicit
            lines.append("# %s\n%s:%d inet n - n - - smtpd\n" % (name, HOST, port))
            lines.append("  -o syslog_name=postfix/%s\n" % name)
            for k, v in opts.items():
                lines.append("  -o %s=%s\n" % (k, v))
        # smtpd on a Unix socket (the "socket" keyword): .unix_socket
        lines.append(_UNIX_SMTPD)
        self.unix_socket = os.path.join(self.dir, "queue", "public",
                                        "smtpsend-smtpd")
        _write(os.path.join(self.dir, "master.cf"), "".join(lines))
        _write(os.path.join(self.dir, "main.cf"), MAIN_CF % {
            "dir": self.dir, "uid": NOBODY_UID, "gid": NOBODY_GID,
            "sasl": sasl_socket, "chain": certs.localhost, "ca": certs.ca})
        self.running = False

    def _postfix(self, *args, timeout=60, check=True):
        return _cmd(["postfix", "-c", self.dir] + list(args),
                    timeout=timeout, check=check, daemon=True)

    def start(self, timeout=30):
        # "start" runs post-install create-missing: queue and data dirs.
        try:
            self._postfix("start", timeout=timeout)
        except ServerError as e:
            raise ServerError("%s\nmaillog:\n%s" % (e, _tail(self.log_path)))
        self.running = True
        deadline = time.monotonic() + timeout
        for name, port in self._ports.items():
            try:
                wait_banner(port, max(1, deadline - time.monotonic()),
                            implicit_tls=self._implicit[name],
                            code=_GREETING_CODE.get(name, b"220"))
            except ServerError as e:
                raise ServerError("%s (listener %s); log:\n%s"
                                  % (e, name, _tail(self.log_path)))
        while not os.path.exists(self.unix_socket):
            if time.monotonic() > deadline:
                raise ServerError("no unix listener %s; log:\n%s"
                                  % (self.unix_socket, _tail(self.log_path)))
            time.sleep(0.05)

    @property
    def pid(self):
        return _read_pid(os.path.join(self.dir, "queue", "pid", "master.pid"))

    def stop(self):
        if not self.running:
            return
        pid = self.pid
        self._postfix("stop", timeout=30, check=False)
        kill_pid(pid, timeout=10)
        self.running = False

    def port(self, name):
        return self._ports[name]

    def listener_names(self):
        return sorted(self._ports)

    def _files(self):
        found = []
        for sub in ("new", "cur"):
            d = os.path.join(self.maildir, sub)
            try:
                names = os.listdir(d)
            except FileNotFoundError:
                continue
            for n in names:
                # virtual(8) names files SECONDS.V..I..M<usec>.HOST
                m = re.match(r"(\d+)\.[^.]*M(\d+)", n)
                key = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
                found.append((key, n, os.path.join(d, n)))
        found.sort()
        return [p for _, _, p in found]

    def messages(self):
        """Every delivered message as bytes, oldest first."""
        out = []
        for p in self._files():
            try:
                with open(p, "rb") as f:
                    out.append(f.read())
            except FileNotFoundError:
                pass
        return out

    def wait_messages(self, n, timeout=10):
        """Wait until at least n messages are delivered; return them all."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.messages()
            if len(msgs) >= n:
                # Give a stray extra delivery a moment to show up too.
                return msgs
            if time.monotonic() >= deadline:
                raise AssertionError(
                    "%d message(s) delivered, %d expected within %ss; "
                    "maillog tail:\n%s" % (len(msgs), n, timeout,
                                           _tail(self.log_path)))
            time.sleep(0.05)

    def queue_empty(self):
        q = os.path.join(self.dir, "queue")
        for sub in ("incoming", "active", "deferred", "maildrop", "hold"):
            for _root, _dirs, files in os.walk(os.path.join(q, sub)):
                if files:
                    return False
        return True

    def clear(self, settle=3):
        """Delete delivered mail and anything still queued.  Waits up to
        `settle` seconds for mail in flight to finish first."""
        deadline = time.monotonic() + settle
        while not self.queue_empty() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self.queue_empty():
            _cmd(["postsuper", "-c", self.dir, "-d", "ALL"], timeout=30,
                 check=False)
        for p in self._files():
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        if self._owned:
            shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------ socks5 proxy

class Socks5Proxy:
    """A SOCKS5 proxy (RFC 1928, no authentication) on a free loopback port,
    in a thread, for the proxy_host keyword.  It records every request in
    .requests as dicts (methods, cmd, atyp, host, port) and relays CONNECT
    to the named host, resolving the name itself.  mode: "relay", "auth"
    (demands a method we do not offer), "reply:N" (refuses with REP N),
    "garbage" (answers as SOCKS4).  Use as a context manager."""

    def __init__(self, mode="relay"):
        self.mode = mode
        self.requests = []
        self._srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._srv.bind((HOST, 0))
        self._srv.listen(8)
        self._srv.settimeout(0.2)
        self.port = self._srv.getsockname()[1]
        self._stop = threading.Event()
        self._threads = []
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self):
        while not self._stop.is_set():
            try:
                c, _ = self._srv.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(c,), daemon=True)
            self._threads.append(t)
            t.start()

    @staticmethod
    def _exact(c, n):
        buf = b""
        while len(buf) < n:
            got = c.recv(n - len(buf))
            if not got:
                raise ConnectionError("client went away")
            buf += got
        return buf

    def _serve(self, c):
        c.settimeout(15)
        up = None
        try:
            ver, n = self._exact(c, 2)
            req = {"version": ver, "methods": list(self._exact(c, n))}
            self.requests.append(req)
            if self.mode == "garbage":
                c.sendall(b"\x00\x5b")
                return
            if self.mode == "auth":
                c.sendall(b"\x05\xff")
                return
            c.sendall(b"\x05\x00")
            ver, cmd, _rsv, atyp = self._exact(c, 4)
            req.update(cmd=cmd, atyp=atyp)
            if atyp == 3:
                host = self._exact(c, self._exact(c, 1)[0]).decode()
            elif atyp == 1:
                host = socket.inet_ntop(socket.AF_INET, self._exact(c, 4))
            else:
                host = socket.inet_ntop(socket.AF_INET6, self._exact(c, 16))
            req.update(host=host, port=int.from_bytes(self._exact(c, 2),
                                                      "big"))
            if self.mode.startswith("reply:"):
                rep = int(self.mode.split(":")[1])
                c.sendall(bytes([5, rep, 0, 1, 0, 0, 0, 0, 0, 0]))
                return
            try:
                up = socket.create_connection((host, req["port"]), 10)
            except OSError:
                c.sendall(bytes([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]))
                return
            # BND.ADDR as a domain name: the client must read it exactly.
            c.sendall(b"\x05\x00\x00\x03\x09localhost\x04\x38")
            self._pipe(c, up)
        except (OSError, ValueError, ConnectionError):
            pass
        finally:
            c.close()
            if up is not None:
                up.close()

    def _pipe(self, a, b):
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self._stop.is_set():
            for key, _ in sel.select(0.5):
                data = key.fileobj.recv(65536)
                if not data:
                    return
                key.data.sendall(data)

    def stop(self):
        self._stop.set()
        self._srv.close()
        self._thread.join(timeout=5)
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------- keyring

class Keyring:
    """gnome-keyring's Secret Service on a private D-Bus session bus.

    .env: variables to merge into a client's environment; .bus_address,
    .store(host, user, secret, service="smtp"), .lookup(...), .stop()."""

    PASSWORD = "keyring-unlock-pw"

    def __init__(self, directory=None, timeout=20, bus_path=None):
        """bus_path: where the bus socket goes (default: in the temporary
        directory); a cron test can put it at /run/user/UID/bus."""
        self.dir = directory or tempfile.mkdtemp(prefix="smtpsend-keyring-")
        self._owned = directory is None
        os.chmod(self.dir, 0o700)
        self.runtime = os.path.join(self.dir, "runtime")
        self.data = os.path.join(self.dir, "data")
        self.home = os.path.join(self.dir, "home")
        for d in (self.runtime, self.data, self.home):
            os.makedirs(d, mode=0o700, exist_ok=True)
        self.bus_path = bus_path or os.path.join(self.dir, "bus")
        self.bus_address = "unix:path=" + self.bus_path
        self.dbus_pid = None
        self.keyring_pid = None
        self.env = {
            "DBUS_SESSION_BUS_ADDRESS": self.bus_address,
            "XDG_RUNTIME_DIR": self.runtime,
            "XDG_DATA_HOME": self.data,
            "XDG_CONFIG_HOME": os.path.join(self.home, ".config"),
            "XDG_CACHE_HOME": os.path.join(self.home, ".cache"),
        }
        self._start(timeout)

    def _base_env(self):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DBUS_", "XDG_", "GNOME_KEYRING"))}
        env["HOME"] = self.home
        env.update(self.env)
        return env

    def _start(self, timeout):
        p = _cmd(["dbus-daemon", "--session", "--fork",
                  "--address=" + self.bus_address, "--print-pid",
                  "--print-address"], timeout=timeout, env=self._base_env())
        for line in p.stdout.decode().split():
            if line.isdigit():
                self.dbus_pid = int(line)
        if not self.dbus_pid:
            raise ServerError("dbus-daemon printed no PID: %r" % p.stdout)
        # --foreground keeps the daemon our child, so we have its PID.
        self._gkd = subprocess.Popen(
            ["gnome-keyring-daemon", "--foreground", "--unlock",
             "--components=secrets"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, env=self._base_env(),
            start_new_session=True)
        self.keyring_pid = self._gkd.pid
        self._gkd.stdin.write(self.PASSWORD.encode())
        self._gkd.stdin.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._gkd.poll() is not None:
                raise ServerError("gnome-keyring-daemon exited with %s"
                                  % self._gkd.returncode)
            p = _cmd(["dbus-send", "--session", "--print-reply",
                      "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
                      "org.freedesktop.DBus.NameHasOwner",
                      "string:org.freedesktop.secrets"],
                     timeout=10, env=self._base_env(), check=False)
            if b"boolean true" in p.stdout:
                return
            time.sleep(0.1)
        raise ServerError("gnome-keyring did not own org.freedesktop.secrets "
                          "within %ss" % timeout)

    def store(self, host, user, secret, service="smtp", label=None,
              timeout=20):
        """Store a password the way msmtp's users do (secret-tool)."""
        _cmd(["secret-tool", "store", "--label=" + (label or "smtp " + host),
              "host", host, "service", service, "user", user],
             input=secret.encode(), timeout=timeout, env=self._base_env())

    def count(self, host, user, service="smtp", timeout=20):
        """How many items the keyring holds for these attributes, under
        any schema (secret-tool search --all)."""
        p = _cmd(["secret-tool", "search", "--all", "host", host, "service",
                  service, "user", user], timeout=timeout,
                 env=self._base_env(), check=False)
        return (p.stdout + p.stderr).count(b"\nlabel = ") + \
            (p.stdout + p.stderr).startswith(b"label = ")

    def lookup(self, host, user, service="smtp", timeout=20):
        """The stored secret as str, or None."""
        p = _cmd(["secret-tool", "lookup", "host", host, "service", service,
                  "user", user], timeout=timeout, env=self._base_env(),
                 check=False)
        return p.stdout.decode() if p.returncode == 0 else None

    def stop(self):
        if self.keyring_pid:
            kill_pid(self.keyring_pid)
            try:
                self._gkd.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.keyring_pid = None
        if self.dbus_pid:
            kill_pid(self.dbus_pid)
            self.dbus_pid = None
            # A socket placed outside our directory is removed by hand.
            if not self.bus_path.startswith(self.dir + os.sep):
                try:
                    os.unlink(self.bus_path)
                except OSError:
                    pass

    def cleanup(self):
        if self._owned:
            shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------- the binary under test

def repo_root():
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))


def smtpsend_path():
    return os.environ.get("SMTPSEND") or os.path.join(repo_root(), "build",
                                                      "smtpsend")


class Runner:
    """run(args, input=b"", config=None, env=None, timeout=60): run the
    binary under test ($SMTPSEND, prefixed by $SMTPSEND_WRAPPER words),
    with config text written to a fresh 0600 file passed as -C.  env is
    merged into os.environ (HOME defaults to an empty directory so no
    user ~/.smtprc is read); replace_env=True uses env alone."""

    def __init__(self, workdir=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="smtpsend-run-")
        self._owned = workdir is None
        self.home = os.path.join(self.dir, "home")
        os.makedirs(self.home, exist_ok=True)
        self._n = 0

    def command(self):
        wrapper = shlex.split(os.environ.get("SMTPSEND_WRAPPER", ""))
        return wrapper + [smtpsend_path()]

    def queue_env(self, env):
        """Point the queue (issue 7) at a directory of this run alone
        unless the test chose one: tests run as root, whose default queue
        is /var/spool/smtpsend, and no test may touch that; nor may one
        test's queued mail be flushed by the next test's successful send
        (a test that flushes names its own queue_dir)."""
        self._nq = getattr(self, "_nq", 0) + 1
        env.setdefault("SMTPSEND_QUEUE_DIR",
                       os.path.join(self.dir, "queue.%d" % self._nq))
        env.setdefault("XDG_STATE_HOME", os.path.join(self.dir, "state"))
        return env

    def config_file(self, text):
        """Write config text to a fresh 0600 file and return its path."""
        self._n += 1
        path = os.path.join(self.dir, "smtprc.%d" % self._n)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        return path

    def __call__(self, args, input=b"", config=None, env=None, timeout=60,
                 replace_env=False):
        cmd = self.command()
        if config is not None:
            cmd += ["-C", self.config_file(config)]
        cmd += list(args)
        if replace_env:
            full = dict(env or {})
        else:
            full = dict(os.environ)
            full["HOME"] = self.home
            full.update(env or {})
        self.queue_env(full)
        if isinstance(input, str):
            input = input.encode()
        if os.environ.get("SMTPSEND_WRAPPER"):
            timeout *= 4    # valgrind is slow; the deadline is a safety net
        return subprocess.run(cmd, input=input, env=full, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def cleanup(self):
        if self._owned:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------- whole set-up

class Servers:
    """Certs + introspection + Dovecot + Postfix, started in that order and
    stopped in reverse.  Use as a context manager."""

    def __init__(self, listeners=None):
        self.certs = self.oauth = self.dovecot = self.postfix = None
        self._listeners = listeners

    def start(self):
        try:
            self.certs = Certs()
            self.oauth = IntrospectionServer()
            self.dovecot = Dovecot(self.oauth.url)
            self.dovecot.start()
            self.postfix = Postfix(self.certs, self.dovecot.socket,
                                   listeners=self._listeners)
            self.postfix.start()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        for obj, method in ((self.postfix, "stop"), (self.postfix, "cleanup"),
                            (self.dovecot, "stop"), (self.dovecot, "cleanup"),
                            (self.oauth, "stop"), (self.certs, "cleanup")):
            if obj is not None:
                try:
                    getattr(obj, method)()
                except Exception as e:  # keep stopping the others
                    print("servers: %s.%s: %s" % (type(obj).__name__, method,
                                                  e), file=sys.stderr)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def describe(self):
        return {"host": HOST,
                "ports": {n: self.postfix.port(n)
                          for n in self.postfix.listener_names()},
                "ca": self.certs.ca, "maildir": self.postfix.maildir,
                "log": self.postfix.log_path,
                "user": ALICE, "password": ALICE_PASSWORD,
                "token": GOOD_TOKEN}


def _serve():
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    with Servers() as s:
        print(json.dumps(s.describe(), indent=1), flush=True)
        # Stop on a signal, or, when stdin is a pipe, when whoever started
        # us closes it (so a parent that dies takes the servers with it).
        try:
            piped = stat.S_ISFIFO(os.fstat(sys.stdin.fileno()).st_mode)
        except (OSError, ValueError):
            piped = False
        if piped:
            threading.Thread(target=lambda: (sys.stdin.read(), stop.set()),
                             daemon=True).start()
        stop.wait()
    return 0


DEMO_MESSAGE = """\
From: Demo Sender <sender@localhost>
To: Alice <alice@localhost>
Subject: hello from smtpsend

This message went from smtpsend to a private Postfix on 127.0.0.1:
%s.
"""

DEMO_MODES = {
    # mode: (listener, config lines, description)
    "keyring": ("starttls_auth", "tls on\ntls_starttls on\n"
                "tls_trust_file %(ca)s\nauth on\nuser alice\n",
                "STARTTLS, AUTH as alice, password from gnome-keyring"),
    "password": ("starttls_auth", "tls on\ntls_starttls on\n"
                 "tls_trust_file %(ca)s\nauth on\nuser alice\n"
                 "password secret\n",
                 "STARTTLS, AUTH as alice, password from the config file"),
    "starttls": ("starttls", "tls on\ntls_starttls on\n"
                 "tls_trust_file %(ca)s\n",
                 "STARTTLS verified against the test CA, no AUTH"),
    "plain": ("plain", "tls off\n", "no TLS, no AUTH"),
}


def _demo(binary, mode):
    """Start the servers, send one message through smtpsend as DEMO_MODES
    says, print it as Postfix delivered it, stop everything."""
    os.environ["SMTPSEND"] = os.path.abspath(binary)
    listener, lines, what = DEMO_MODES[mode]
    run = Runner()
    keyring = None
    try:
        with Servers() as s:
            port = s.postfix.port(listener)
            print("demo: Postfix (private instance) on %s port %d; Dovecot "
                  "SASL knows alice/secret" % (HOST, port))
            config = ("account demo\nhost %s\nport %d\n"
                      "from sender@localhost\n" % (HOST, port) +
                      lines % {"ca": s.certs.ca} +
                      "account default : demo\n")
            env = {}
            if mode == "keyring":
                keyring = Keyring()
                keyring.store(HOST, ALICE, ALICE_PASSWORD)
                env = keyring.env
                print("demo: private gnome-keyring on D-Bus %s; stored with:\n"
                      "    secret-tool store --label=smtp host %s service "
                      "smtp user %s" % (keyring.bus_address, HOST, ALICE))
            print("demo: configuration:\n" + "".join(
                "    " + line + "\n" for line in config.splitlines()))
            args = ["-t", "-i"]
            print("demo: $ %s -C CONFIG %s < message" % (
                " ".join(run.command()), " ".join(args)))
            log_start = os.path.getsize(s.postfix.log_path)
            p = run(args, input=DEMO_MESSAGE % what, config=config, env=env)
            sys.stdout.write(p.stdout.decode(errors="replace"))
            sys.stdout.write(p.stderr.decode(errors="replace"))
            print("demo: smtpsend exited with %d" % p.returncode)
            if p.returncode != 0:
                print("demo: FAILED; Postfix log tail:\n" +
                      _tail(s.postfix.log_path, 15))
                return 1
            msgs = s.postfix.wait_messages(1, timeout=20)
            with open(s.postfix.log_path, errors="replace") as f:
                f.seek(log_start)
                seen = [line.rstrip() for line in f if re.search(
                    r"smtpd.*(TLS connection established|client=)", line)]
            print("demo: what Postfix logged about the session:")
            for line in seen:
                print("    " + line)
            print("demo: the message as Postfix delivered it (its Maildir "
                  "file; virtual(8) adds Return-Path and X-Original-To):")
            print("-" * 72)
            sys.stdout.write(msgs[-1].decode(errors="replace"))
            print("-" * 72)
            print("demo: OK")
            return 0
    finally:
        if keyring is not None:
            keyring.stop()
            keyring.cleanup()
        run.cleanup()


def main(argv):
    if len(argv) >= 2 and argv[1] == "serve":
        return _serve()
    if len(argv) == 3 and argv[1] == "demo":
        mode = os.environ.get("DEMO_MODE") or "keyring"
        if mode not in DEMO_MODES:
            print("DEMO_MODE must be one of: " + " ".join(DEMO_MODES),
                  file=sys.stderr)
            return 64
        return _demo(argv[2], mode)
    print("usage: servers.py serve | demo BINARY", file=sys.stderr)
    return 64


if __name__ == "__main__":
    sys.exit(main(sys.argv))
