/*
 * oauth2_flow.c: smtpsend --authorize, the one interactive step of OAuth2:
 * the device authorization grant (RFC 8628) or the authorization code
 * grant with PKCE (RFC 7636) and a loopback redirect (RFC 8252).  Both end
 * with a refresh token saved in the account's store.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>

#include "config.h"
#include "error.h"
#include "hex.h"
#include "http.h"
#include "io.h"
#include "oauth2.h"
#include "oauth2_priv.h"

#define FLOW_FORM_MAX 32768
#define FLOW_URL_MAX 8192
#define FLOW_WAIT 600 /* s the browser flow waits for the user */
#define FLOW_REQUEST_MAX 8192 /* longest redirect request read */
#define FLOW_LINE_MAX 4096    /* longest line pasted at the prompt */
#define DEVICE_GRANT "urn:ietf:params:oauth:grant-type:device_code"

static int
too_long(const struct account *acc, struct error *err)
{
	return error_set(
	    err, ERR_CONFIG, "account %s: OAuth2 request too long", acc->name);
}

/* POST form to url with the account's trust and timeout. */
static int
post(const struct account *acc, const char *url, const char *form, long *status,
    struct http_json **j, struct error *err)
{
	struct http_request req;

	memset(&req, 0, sizeof(req));
	req.url = url;
	req.form = form;
	req.cafile = oauth2_trust_file(acc);
	req.timeout = acc->timeout > 0 ? acc->timeout : 60;
	return http_post(&req, status, j, err);
}

/* One poll of the token endpoint: 0 done, 1 pending, -1 failed. */
static int
device_poll(const struct account *acc, const struct oauth2_source *src,
    const char *url, const char *dc, int *interval, struct tokens *t,
    struct error *err)
{
	struct http_json *j = NULL;
	char *form;
	const char *e;
	long status;
	int rc = -1;

	if ((form = calloc(1, FLOW_FORM_MAX)) == NULL)
		return error_set(err, ERR_OS, "out of memory");
	if (http_form_add(form, FLOW_FORM_MAX, "grant_type", DEVICE_GRANT) ==
		-1 ||
	    http_form_add(form, FLOW_FORM_MAX, "device_code", dc) == -1) {
		too_long(acc, err);
		goto done;
	}
	if (oauth2_form_client(acc, src, form, FLOW_FORM_MAX, err) == -1 ||
	    post(acc, url, form, &status, &j, err) == -1)
		goto done;
	e = http_json_str(j, "error");
	if (status == 200)
		rc = oauth2_take_tokens(url, j, t, err);
	else if (e != NULL && strcmp(e, "authorization_pending") == 0)
		rc = 1;
	else if (e != NULL && strcmp(e, "slow_down") == 0) {
		*interval += 5; /* RFC 8628 3.5 */
		rc = 1;
	} else if (e != NULL && strcmp(e, "access_denied") == 0)
		error_set(err, ERR_AUTH,
		    "account %s: authorization was "
		    "denied",
		    acc->name);
	else if (e != NULL && strcmp(e, "expired_token") == 0) {
		error_set(err, ERR_AUTH,
		    "account %s: the code expired "
		    "before it was entered",
		    acc->name);
		error_hint(
		    err, "run smtpsend --authorize -a %s again", acc->name);
	} else
		oauth2_endpoint_error(acc, url, status, j, err);
done:
	http_json_free(j);
	explicit_bzero(form, FLOW_FORM_MAX);
	free(form);
	return rc;
}

static int
missing(const char *url, const char *field, struct error *err)
{
	return error_set(err, ERR_PROTOCOL,
	    "OAuth2 device endpoint %s: no %s "
	    "in the reply",
	    url, field);
}

/* RFC 8628: show the code, then poll until approved, denied or expired. */
static int
device_flow(const struct account *acc, const struct oauth2_source *src,
    FILE *out, struct tokens *t, struct error *err)
{
	char dbuf[512], tbuf[512], form[4096];
	const char *durl, *turl, *dc, *uc, *vu;
	const char *scope = config_oauth2_scope(acc);
	struct http_json *j = NULL;
	long long life = 900, iv = 5, deadline;
	long status;
	int rc = -1, interval, tty = isatty(2);

	durl = config_oauth2_endpoint(acc, CONFIG_OAUTH2_DEVICE, dbuf,
	    sizeof(dbuf));
	turl = config_oauth2_endpoint(acc, CONFIG_OAUTH2_TOKEN, tbuf,
	    sizeof(tbuf));
	form[0] = '\0';
	if (scope != NULL &&
	    http_form_add(form, sizeof(form), "scope", scope) == -1)
		return too_long(acc, err);
	if (oauth2_form_client(acc, src, form, sizeof(form), err) == -1)
		return -1;
	rc = post(acc, durl, form, &status, &j, err);
	explicit_bzero(form, sizeof(form));
	if (rc == -1)
		return -1;
	rc = -1;
	if (status != 200) {
		oauth2_endpoint_error(acc, durl, status, j, err);
		goto done;
	}
	dc = http_json_str(j, "device_code");
	uc = http_json_str(j, "user_code");
	vu = http_json_str(j, "verification_uri");
	if (vu == NULL) /* Google's name for it */
		vu = http_json_str(j, "verification_url");
	if (dc == NULL || uc == NULL || vu == NULL) {
		missing(durl,
		    dc == NULL       ? "device_code"
			: uc == NULL ? "user_code"
				     : "verification_uri",
		    err);
		goto done;
	}
	if (http_json_int(j, "expires_in", &life) == -1 ||
	    http_json_int(j, "interval", &iv) == -1) {
		missing(durl, "number in expires_in or interval", err);
		goto done;
	}
	interval = iv > 0 && iv < 300 ? (int)iv : 5;
	fprintf(out,
	    "To authorize smtpsend for account %s, open\n\n    %s\n\n"
	    "and enter the code %s\n",
	    acc->name, vu, uc);
	fflush(out);
	deadline = io_now_ms() + life * 1000;
	for (;;) {
		if (tty)
			fprintf(stderr,
			    "\rsmtpsend: waiting for approval "
			    "(%lld s left) ",
			    (deadline - io_now_ms()) / 1000);
		poll(NULL, 0, interval * 1000);
		if (io_now_ms() > deadline) {
			error_set(err, ERR_AUTH,
			    "account %s: the code expired "
			    "before it was entered",
			    acc->name);
			break;
		}
		rc = device_poll(acc, src, turl, dc, &interval, t, err);
		if (rc != 1)
			break;
	}
	if (tty)
		fprintf(stderr, "\n");
done:
	http_json_free(j);
	return rc;
}

/* base64url without padding (RFC 7636 appendix A). */
static void
b64url(const unsigned char *in, size_t n, char *out)
{
	static const char a[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_";
	size_t i, o = 0;
	unsigned v;

	for (i = 0; i + 2 < n; i += 3) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 1) {
		v = (unsigned)in[i] << 16;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
	} else if (n - i == 2) {
		v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
	}
	out[o] = '\0';
}

static int
random_b64(char *out, size_t nbytes)
{
	unsigned char buf[64];

	if (nbytes > sizeof(buf) ||
	    getrandom(buf, nbytes, 0) != (ssize_t)nbytes)
		return -1;
	b64url(buf, nbytes, out);
	explicit_bzero(buf, sizeof(buf));
	return 0;
}

/*
 * The percent-decoded value of parameter name in the query string q (up
 * to a space, '#' or the end): 1 with out, 0 when absent or too long.
 */
static int
query_get(const char *q, const char *name, char *out, size_t size)
{
	size_t n = strlen(name), o;
	const char *p = q;
	int h, l;

	while (*p != '\0' && *p != ' ' && *p != '#') {
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			p += n + 1;
			for (o = 0;
			     *p != '\0' && *p != '&' && *p != ' ' && *p != '#';
			     p++) {
				if (o + 1 >= size)
					return 0;
				if (*p == '%' && (h = hex_value(p[1])) >= 0 &&
				    (l = hex_value(p[2])) >= 0) {
					out[o++] = (char)(h << 4 | l);
					p += 2;
				} else
					out[o++] = *p == '+' ? ' ' : *p;
			}
			out[o] = '\0';
			return 1;
		}
		while (*p != '\0' && *p != '&' && *p != ' ' && *p != '#')
			p++;
		if (*p == '&')
			p++;
	}
	return 0;
}

/* What came back from the browser or the prompt. */
struct redirect {
	char code[2048];
	char error[128];
};

/*
 * A query string (the redirect's, or a pasted URL's): 1 with r->code or
 * r->error, 0 when it carries neither or the state does not match (a
 * forged redirect, refused).
 */
static int
take_query(const char *q, const char *state, struct redirect *r, int *forged)
{
	char st[256];

	*forged = 0;
	if (!query_get(q, "state", st, sizeof(st)) || strcmp(st, state) != 0) {
		*forged = query_get(q, "code", r->code, sizeof(r->code)) ||
		    query_get(q, "error", r->error, sizeof(r->error));
		explicit_bzero(r->code, sizeof(r->code));
		r->error[0] = '\0';
		return 0;
	}
	if (query_get(q, "error", r->error, sizeof(r->error)))
		return 1;
	return query_get(q, "code", r->code, sizeof(r->code));
}

static void
answer(int fd, const char *status, const char *text)
{
	char buf[512];
	int n;

	n = snprintf(buf, sizeof(buf),
	    "HTTP/1.1 %s\r\nContent-Type: text/plain; "
	    "charset=utf-8\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n"
	    "%s",
	    status, strlen(text), text);
	if (n > 0 && write(fd, buf, (size_t)n) < 0)
		return; /* the browser went away: nothing to tell it */
}

/* One connection to the loopback redirect: 1 with r, 0 to keep waiting. */
static int
take_connection(int lfd, const char *state, struct redirect *r)
{
	char req[FLOW_REQUEST_MAX] = "";
	long long deadline = io_now_ms() + 10000;
	struct pollfd pfd;
	size_t len = 0;
	ssize_t n;
	int fd, rc = 0, forged;
	char *q;

	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd == -1)
		return 0;
	while (len + 1 < sizeof(req) && memchr(req, '\n', len) == NULL) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - io_now_ms())) <= 0)
			break;
		n = read(fd, req + len, sizeof(req) - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	req[len] = '\0';
	q = strncmp(req, "GET /", 5) == 0 ? strchr(req, '?') : NULL;
	if (q == NULL)
		answer(fd, "404 Not Found", "not found\n");
	else if (take_query(q + 1, state, r, &forged) == 1) {
		answer(fd, "200 OK",
		    r->error[0] != '\0'
			? "smtpsend: authorization failed; see the terminal.\n"
			: "smtpsend is authorized: you can close this page.\n");
		rc = 1;
	} else {
		answer(fd, "400 Bad Request",
		    "smtpsend: the state does not "
		    "match this authorization: refused.\n");
		if (forged)
			fprintf(stderr,
			    "smtpsend: a redirect with a wrong "
			    "state was refused\n");
	}
	explicit_bzero(req, sizeof(req));
	close(fd);
	return rc;
}

/* A line pasted at the prompt: the redirected URL, or the bare code. */
static int
take_pasted(char *line, const char *state, struct redirect *r)
{
	char *q, *end;
	int forged;

	line[strcspn(line, "\r\n")] = '\0';
	for (q = line; *q == ' ' || *q == '\t'; q++)
		;
	for (end = q + strlen(q);
	     end > q && (end[-1] == ' ' || end[-1] == '\t');)
		*--end = '\0';
	if (*q == '\0')
		return 0;
	if (strchr(q, '=') == NULL) {
		snprintf(r->code, sizeof(r->code), "%s", q);
		return 1;
	}
	if (strchr(q, '?') != NULL)
		q = strchr(q, '?') + 1;
	if (take_query(q, state, r, &forged) == 1)
		return 1;
	fprintf(stderr,
	    "smtpsend: %s: paste the whole address the browser "
	    "was sent to, or the code alone\n",
	    forged ? "the state does not "
		     "match this authorization"
		   : "no code in that");
	return 0;
}

/*
 * Each whole line in buf (len bytes; the rest kept for later, all of it
 * when the buffer is full): 1 when one gave the code.
 */
static int
take_lines(char *buf, size_t *len, const char *state, struct redirect *r)
{
	char *nl;
	size_t n;
	int rc = 0;

	while (rc == 0 && *len > 0) {
		nl = memchr(buf, '\n', *len);
		if (nl == NULL && *len + 1 < FLOW_LINE_MAX)
			break;
		n = nl != NULL ? (size_t)(nl - buf) + 1 : *len;
		buf[n - 1] = '\0';
		rc = take_pasted(buf, state, r);
		memmove(buf, buf + n, *len - n);
		explicit_bzero(buf + *len - n, n);
		*len -= n;
		buf[*len] = '\0';
	}
	return rc;
}

/* Wait for the redirect on lfd, or a line on stdin, until the deadline. */
static int
wait_redirect(const struct account *acc, int lfd, const char *state,
    struct redirect *r, struct error *err)
{
	long long deadline = io_now_ms() + FLOW_WAIT * 1000LL;
	char line[FLOW_LINE_MAX];
	size_t len = 0;
	struct pollfd pfd[2];
	int nfd = 2, ms;
	ssize_t n;

	for (;;) {
		ms = (int)(deadline - io_now_ms());
		if (ms <= 0)
			return error_set(err, ERR_NETWORK,
			    "account %s: no "
			    "authorization within %d s",
			    acc->name, FLOW_WAIT);
		pfd[0].fd = lfd;
		pfd[0].events = POLLIN;
		pfd[1].fd = 0;
		pfd[1].events = POLLIN;
		if (poll(pfd, (nfds_t)nfd, ms) <= 0)
			continue;
		if ((pfd[0].revents & POLLIN) && take_connection(lfd, state, r))
			return 0;
		if (nfd == 2 && (pfd[1].revents & (POLLIN | POLLHUP))) {
			n = read(0, line + len, sizeof(line) - 1 - len);
			if (n <= 0) {
				nfd = 1; /* stdin closed: the browser only */
				continue;
			}
			len += (size_t)n;
			line[len] = '\0';
			if (take_lines(line, &len, state, r) == 1)
				return 0;
		}
	}
}

/* The authorization URL; -1 when it does not fit. */
static int
auth_url(const struct account *acc, const char *redirect, const char *challenge,
    const char *state, char *url, size_t size)
{
	char abuf[512], q[FLOW_URL_MAX];
	const char *base, *scope = config_oauth2_scope(acc);

	base = config_oauth2_endpoint(acc, CONFIG_OAUTH2_AUTH, abuf,
	    sizeof(abuf));
	q[0] = '\0';
	if (http_form_add(q, sizeof(q), "response_type", "code") == -1 ||
	    http_form_add(q, sizeof(q), "client_id", acc->oauth2_client_id) ==
		-1 ||
	    http_form_add(q, sizeof(q), "redirect_uri", redirect) == -1 ||
	    (scope != NULL &&
		http_form_add(q, sizeof(q), "scope", scope) == -1) ||
	    http_form_add(q, sizeof(q), "code_challenge", challenge) == -1 ||
	    http_form_add(q, sizeof(q), "code_challenge_method", "S256") ==
		-1 ||
	    http_form_add(q, sizeof(q), "state", state) == -1)
		return -1;
	/* Google gives a refresh token only with these. */
	if (strcmp(acc->oauth2_provider, "google") == 0 &&
	    (http_form_add(q, sizeof(q), "access_type", "offline") == -1 ||
		http_form_add(q, sizeof(q), "prompt", "consent") == -1))
		return -1;
	if (snprintf(url, size, "%s%c%s", base,
		strchr(base, '?') != NULL ? '&' : '?', q) >= (int)size)
		return -1;
	return 0;
}

/* xdg-open url, detached; its output is not ours to show. */
static void
open_browser(const char *url)
{
	pid_t pid;
	int null;

	fflush(NULL);
	pid = fork();
	if (pid != 0)
		return;
	null = open("/dev/null", O_RDWR);
	if (null != -1) {
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
	}
	execlp("xdg-open", "xdg-open", url, (char *)NULL);
	_exit(127);
}

/* A listening socket on 127.0.0.1, a port the kernel picks (RFC 8252). */
static int
listen_loopback(int *port, struct error *err)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return error_set(err, ERR_OS, "socket: %s", strerror(errno));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1 ||
	    listen(fd, 8) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) == -1) {
		close(fd);
		return error_set(
		    err, ERR_OS, "loopback listener: %s", strerror(errno));
	}
	*port = ntohs(sin.sin_port);
	return fd;
}

/* Exchange the code (with the PKCE verifier) for tokens. */
static int
exchange(const struct account *acc, const struct oauth2_source *src,
    const struct redirect *r, const char *redirect, const char *verifier,
    struct tokens *t, struct error *err)
{
	char tbuf[512], *form;
	const char *url =
	    config_oauth2_endpoint(acc, CONFIG_OAUTH2_TOKEN, tbuf,
		sizeof(tbuf));
	struct http_json *j = NULL;
	long status;
	int rc = -1;

	if ((form = calloc(1, FLOW_FORM_MAX)) == NULL)
		return error_set(err, ERR_OS, "out of memory");
	if (http_form_add(form, FLOW_FORM_MAX, "grant_type",
		"authorization_code") == -1 ||
	    http_form_add(form, FLOW_FORM_MAX, "code", r->code) == -1 ||
	    http_form_add(form, FLOW_FORM_MAX, "redirect_uri", redirect) ==
		-1 ||
	    http_form_add(form, FLOW_FORM_MAX, "code_verifier", verifier) ==
		-1) {
		too_long(acc, err);
		goto done;
	}
	if (oauth2_form_client(acc, src, form, FLOW_FORM_MAX, err) == -1 ||
	    post(acc, url, form, &status, &j, err) == -1)
		goto done;
	if (status != 200)
		oauth2_endpoint_error(acc, url, status, j, err);
	else
		rc = oauth2_take_tokens(url, j, t, err);
done:
	http_json_free(j);
	explicit_bzero(form, FLOW_FORM_MAX);
	free(form);
	return rc;
}

/* RFC 7636 + RFC 8252: PKCE S256, a loopback redirect, state checked. */
static int
browser_flow(const struct account *acc, const struct oauth2_source *src,
    FILE *out, struct tokens *t, struct error *err)
{
	char verifier[64], challenge[64], state[32], redirect[64];
	char url[FLOW_URL_MAX];
	unsigned char digest[32];
	struct redirect r;
	int lfd, port = 0, rc = -1;
	const char *d = getenv("DISPLAY"), *w = getenv("WAYLAND_DISPLAY");

	memset(&r, 0, sizeof(r));
	if (random_b64(verifier, 32) == -1 || random_b64(state, 16) == -1)
		return error_set(err, ERR_OS, "getrandom: %s", strerror(errno));
	if (gnutls_hash_fast(
		GNUTLS_DIG_SHA256, verifier, strlen(verifier), digest) != 0)
		return error_set(err, ERR_INTERNAL, "SHA-256 failed");
	b64url(digest, sizeof(digest), challenge);
	if ((lfd = listen_loopback(&port, err)) == -1)
		return -1;
	snprintf(redirect, sizeof(redirect), "http://127.0.0.1:%d/", port);
	if (auth_url(acc, redirect, challenge, state, url, sizeof(url)) == -1) {
		too_long(acc, err);
		goto done;
	}
	fprintf(out,
	    "To authorize smtpsend for account %s, open this address "
	    "in a browser:\n\n    %s\n\nIf the browser runs on another "
	    "machine, "
	    "paste here the address it is sent to after you approve (it "
	    "begins with %s), or the code alone.\n",
	    acc->name, url, redirect);
	fflush(out);
	if ((d != NULL && d[0] != '\0') || (w != NULL && w[0] != '\0'))
		open_browser(url);
	if (wait_redirect(acc, lfd, state, &r, err) == -1)
		goto done;
	if (r.error[0] != '\0') {
		error_set(err, ERR_AUTH,
		    "account %s: authorization was refused "
		    "(%s)",
		    acc->name, r.error);
		goto done;
	}
	rc = exchange(acc, src, &r, redirect, verifier, t, err);
done:
	explicit_bzero(&r, sizeof(r));
	explicit_bzero(verifier, sizeof(verifier));
	close(lfd);
	while (waitpid(-1, NULL, WNOHANG) > 0)
		; /* xdg-open, if it was started */
	return rc;
}

/*
 * The flow to run: asked for, else the provider's mail-capable one.  A
 * flow the account cannot run is a configuration error at the
 * oauth2_provider line (the keyword that is missing would go there).
 */
static int
choose_flow(const struct account *acc, enum oauth2_flow flow, struct error *err)
{
	const char *p = acc->oauth2_provider, *why = NULL;
	int custom = strcmp(p, "custom") == 0;

	if (flow == OAUTH2_FLOW_DEFAULT) {
		if (strcmp(p, "google") == 0)
			flow = OAUTH2_FLOW_BROWSER;
		else if (custom && acc->oauth2_device_endpoint == NULL)
			flow = OAUTH2_FLOW_BROWSER;
		else
			flow = OAUTH2_FLOW_DEVICE;
		if (custom && acc->oauth2_device_endpoint == NULL &&
		    acc->oauth2_auth_endpoint == NULL)
			why = "--authorize needs oauth2_device_endpoint or "
			    "oauth2_auth_endpoint";
	} else if (custom && flow == OAUTH2_FLOW_DEVICE &&
	    acc->oauth2_device_endpoint == NULL)
		why = "--device needs oauth2_device_endpoint";
	else if (custom && flow == OAUTH2_FLOW_BROWSER &&
	    acc->oauth2_auth_endpoint == NULL)
		why = "--browser needs oauth2_auth_endpoint";
	else if (strcmp(p, "google") == 0 && flow == OAUTH2_FLOW_DEVICE &&
	    acc->oauth2_scope == NULL)
		why = "--device: Google's device flow does not grant the "
		    "https://mail.google.com/ scope (leave --device out: "
		    "the browser flow is Google's)";
	if (why != NULL)
		return error_set(err, ERR_CONFIG, "%s:%d: account %s: %s",
		    acc->file, acc->kwline[ACC_OAUTH2_PROVIDER], acc->name,
		    why);
	return (int)flow;
}

int
oauth2_authorize(const struct account *acc, enum oauth2_flow flow,
    const struct oauth2_source *src, FILE *out, struct error *err)
{
	struct tokens t;
	int rc, lock = -1;

	memset(&t, 0, sizeof(t));
	if (acc->oauth2_provider == NULL)
		return error_set(err, ERR_CONFIG,
		    "account %s: --authorize "
		    "needs oauth2_provider (see smtpsend(1), OAUTH2)",
		    acc->name);
	rc = choose_flow(acc, flow, err);
	if (rc == -1)
		return -1;
	if (rc == OAUTH2_FLOW_DEVICE)
		rc = device_flow(acc, src, out, &t, err);
	else
		rc = browser_flow(acc, src, out, &t, err);
	if (rc == 0 && (t.refresh == NULL || t.refresh[0] == '\0')) {
		rc = error_set(err, ERR_PROTOCOL,
		    "account %s: no refresh_token "
		    "in the token reply",
		    acc->name);
		error_hint(err, "a Microsoft scope needs offline_access");
	}
	if (rc == 0 && (rc = oauth2_lock(acc, &lock, err)) == 0) {
		rc = oauth2_store_save(acc, &t, err);
		close(lock);
	}
	oauth2_tokens_free(&t);
	if (rc == -1)
		return -1;
	if (acc->oauth2_token_file != NULL)
		fprintf(out, "Authorized: the refresh token is stored in %s.\n",
		    acc->oauth2_token_file);
	else
		fprintf(out,
		    "Authorized: the refresh token is stored in the "
		    "keyring (host %s, service %s, user %s).\n",
		    acc->host, OAUTH2_KEYRING_SERVICE, acc->user);
	fprintf(out,
	    "Send a test with:\n    printf 'Subject: test\\n\\ntest\\n' "
	    "| smtpsend -a %s %s\n",
	    acc->name, acc->user);
	return 0;
}
