"""A local OAuth2 authorization server over HTTPS (the test CA's localhost
certificate), in a thread on loopback, for smtpsend's built-in OAuth2.

Endpoints: POST /token (grant types refresh_token with rotation,
device_code, authorization_code with PKCE S256), POST /device (RFC 8628),
GET /authorize (approves at once and redirects with code and state, as a
user clicking "Allow" would).  Every access token it issues is registered
with the IntrospectionServer (servers.py) that Dovecot's oauth2 passdb
asks, with its expiry, so Postfix + Dovecot accept exactly the live
tokens this server issued.

Faults, set by the test: .fault = "5xx", "garbage", "slow",
"no_access_token", "no_token_type" (for the token endpoint); admin calls
approve()/deny()/expire() for device codes; revoke_refresh(),
revoke_at_smtp().
"""

import base64
import hashlib
import http.server
import json
import secrets
import ssl
import threading
import time
import urllib.parse

HOST = "127.0.0.1"


def _b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _send(self, status, body, ctype="application/json", headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        try:
            self.wfile.write(data)
        except (OSError, ValueError):
            pass    # the client gave up (a slow reply past its timeout)

    def _form(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n).decode()
        return {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}

    def do_POST(self):  # noqa: N802
        srv = self.server.auth
        form = self._form()
        path = urllib.parse.urlparse(self.path).path
        with srv.lock:
            srv.requests.append((path, dict(form)))
        if path == "/token":
            status, body = srv.token(form)
        elif path == "/device":
            status, body = srv.device(form)
        else:
            status, body = 404, {"error": "not_found"}
        if isinstance(body, tuple):     # (delay, bytes): a fault
            time.sleep(body[0])
            body = body[1]
        self._send(status, body)

    def do_GET(self):  # noqa: N802
        srv = self.server.auth
        url = urllib.parse.urlparse(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
        with srv.lock:
            srv.requests.append((url.path, dict(q)))
        if url.path != "/authorize":
            self._send(404, {"error": "not_found"})
            return
        status, location = srv.authorize(q)
        if status == 302:
            self._send(302, b"", "text/plain", [("Location", location)])
        else:
            self._send(status, {"error": location})


class AuthServer:
    """.url(path), .requests [(path, form)], .issue(user) -> refresh token,
    .refresh_tokens {token: user}, .access {token: (user, expiry)}."""

    def __init__(self, certs, introspection, client_id="smtpsend-test",
                 client_secret=None, user="alice"):
        self.intro = introspection
        self.client_id = client_id
        self.client_secret = client_secret
        self.user = user
        self.lock = threading.Lock()
        self.requests = []
        self.refresh_tokens = {}
        self.access = {}
        self.devices = {}       # device_code -> dict
        self.done_devices = []
        self.codes = {}         # authorization code -> dict
        self.life = 3600
        self.rotate = True
        self.fault = None
        self.slow = 5
        self.interval = 1
        self.force_slow_down = False
        self.httpd = http.server.ThreadingHTTPServer((HOST, 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.auth = self
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(certs.localhost_cert, certs.localhost_key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket,
                                            server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def url(self, path="/token"):
        return "https://%s:%d%s" % (HOST, self.port, path)

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def reset(self):
        with self.lock:
            self.requests.clear()
            self.fault = None
            self.life = 3600
            self.rotate = True
            self.force_slow_down = False

    def token_requests(self):
        with self.lock:
            return [f for p, f in self.requests if p == "/token"]

    # --- issuing --------------------------------------------------------

    def issue(self, user=None):
        """A refresh token, as if the user had just authorized."""
        rt = "rt-" + secrets.token_urlsafe(24)
        with self.lock:
            self.refresh_tokens[rt] = user or self.user
        return rt

    def issue_access(self, user=None, life=None):
        at = "at-" + secrets.token_urlsafe(24)
        exp = time.time() + (self.life if life is None else life)
        self.access[at] = (user or self.user, exp)
        self.intro.live[at] = (user or self.user, exp)
        return at, exp

    def revoke_refresh(self, rt):
        with self.lock:
            self.refresh_tokens.pop(rt, None)

    def revoke_at_smtp(self, at):
        """The SMTP side stops accepting at (this server still knows it)."""
        self.intro.live.pop(at, None)

    def _tokens(self, user, old_rt=None):
        at, _ = self.issue_access(user)
        body = {"access_token": at, "token_type": "Bearer",
                "expires_in": self.life, "scope": "smtp"}
        if old_rt is None or self.rotate:
            rt = "rt-" + secrets.token_urlsafe(24)
            self.refresh_tokens[rt] = user
            if old_rt is not None:
                del self.refresh_tokens[old_rt]
            body["refresh_token"] = rt
        return body

    def _fault(self):
        f = self.fault
        if f == "5xx":
            return 503, {"error": "temporarily_unavailable"}
        if f == "garbage":
            return 200, (0, b"<html>not json")
        if f == "slow":
            return 200, (self.slow, b"{}")
        return None

    def _client_ok(self, form):
        if form.get("client_id") != self.client_id:
            return False
        return (self.client_secret is None or
                form.get("client_secret") == self.client_secret)

    # --- endpoints ------------------------------------------------------

    def token(self, form):
        f = self._fault()
        if f is not None:
            return f
        if not self._client_ok(form):
            return 401, {"error": "invalid_client"}
        grant = form.get("grant_type")
        with self.lock:
            if grant == "refresh_token":
                rt = form.get("refresh_token")
                if rt not in self.refresh_tokens:
                    return 400, {"error": "invalid_grant",
                                 "error_description": "token revoked"}
                body = self._tokens(self.refresh_tokens[rt], rt)
            elif grant == "urn:ietf:params:oauth:grant-type:device_code":
                status, body = self._device_poll(form.get("device_code"))
                if status != 200:
                    return status, body
            elif grant == "authorization_code":
                status, body = self._code(form)
                if status != 200:
                    return status, body
            else:
                return 400, {"error": "unsupported_grant_type"}
        if self.fault == "no_access_token":
            del body["access_token"]
        if self.fault == "no_token_type":
            del body["token_type"]
        return 200, body

    def device(self, form):
        if not self._client_ok(form):
            return 401, {"error": "invalid_client"}
        dc = secrets.token_urlsafe(16)
        uc = "%04d-%04d" % (secrets.randbelow(10000), secrets.randbelow(10000))
        with self.lock:
            self.devices[dc] = {"user_code": uc, "state": "pending",
                                "interval": self.interval, "last": 0.0,
                                "polls": 0, "slow_downs": 0}
        return 200, {"device_code": dc, "user_code": uc,
                     "verification_uri": self.url("/device-login"),
                     "expires_in": 600, "interval": self.interval}

    def _device_by_code(self, user_code):
        for d in self.devices.values():
            if d["user_code"] == user_code:
                return d
        raise KeyError(user_code)

    def approve(self, user_code):
        with self.lock:
            self._device_by_code(user_code)["state"] = "approved"

    def deny(self, user_code):
        with self.lock:
            self._device_by_code(user_code)["state"] = "denied"

    def expire(self, user_code):
        with self.lock:
            self._device_by_code(user_code)["state"] = "expired"

    def _device_poll(self, dc):
        d = self.devices.get(dc)
        if d is None:
            return 400, {"error": "invalid_grant"}
        now = time.time()
        d["polls"] += 1
        d.setdefault("times", []).append(now)
        if self.force_slow_down and d["polls"] == 1:
            d["last"] = now
            d["interval"] += 5
            d["forced"] = True
            return 400, {"error": "slow_down"}
        # A poll sooner than the interval (less a margin) is slow_down,
        # and the interval grows by 5 s as RFC 8628 says.
        if d["last"] and now - d["last"] < d["interval"] - 0.2:
            d["last"] = now
            d["interval"] += 5
            d["slow_downs"] += 1
            return 400, {"error": "slow_down"}
        d["last"] = now
        if d["state"] == "pending":
            return 400, {"error": "authorization_pending"}
        if d["state"] == "denied":
            return 400, {"error": "access_denied"}
        if d["state"] == "expired":
            return 400, {"error": "expired_token"}
        self.done_devices.append(self.devices.pop(dc))
        return 200, self._tokens(self.user)

    def authorize(self, q):
        if q.get("client_id") != self.client_id:
            return 400, "invalid_client"
        if q.get("response_type") != "code" or \
                q.get("code_challenge_method") != "S256" or \
                not q.get("code_challenge"):
            return 400, "invalid_request"
        redirect = q.get("redirect_uri", "")
        if not redirect.startswith("http://127.0.0.1:"):
            return 400, "invalid_redirect_uri"
        code = secrets.token_urlsafe(16)
        with self.lock:
            self.codes[code] = {"challenge": q["code_challenge"],
                                "redirect_uri": redirect}
        sep = "&" if "?" in redirect else "?"
        return 302, redirect + sep + urllib.parse.urlencode(
            {"code": code, "state": q.get("state", "")})

    def _code(self, form):
        c = self.codes.pop(form.get("code"), None)
        if c is None:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        if _b64url(hashlib.sha256(verifier.encode()).digest()) != \
                c["challenge"]:
            return 400, {"error": "invalid_grant",
                         "error_description": "PKCE verification failed"}
        if form.get("redirect_uri") != c["redirect_uri"]:
            return 400, {"error": "invalid_grant",
                         "error_description": "redirect_uri mismatch"}
        return 200, self._tokens(self.user)
