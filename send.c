/*
 * send.c: one submission from start to end.  The order of the steps lives
 * here (connect, implicit TLS, greeting, EHLO, STARTTLS, EHLO, AUTH, the
 * transaction, QUIT); each step lives in its own module.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "address.h"
#include "auth.h"
#include "config.h"
#include "connect.h"
#include "error.h"
#include "io.h"
#include "message.h"
#include "send.h"
#include "smtp.h"
#include "tls.h"

/* One connection and what the steps need to know about it. */
struct conn {
	const struct account *acc;
	const char *host;
	int port;
	int starttls; /* TLS via STARTTLS */
	int implicit; /* TLS from the first byte */
	int timeout; /* ms */
	int proxied; /* through a SOCKS proxy: the peer is not the server */
	FILE *verbose;
	FILE *info; /* --serverinfo output, or NULL */
	struct io *io;
	struct smtp *smtp;
	struct tls *tls;
	char cache_dir[1024];
	char cache_key[512];
};

static void
conn_close(struct conn *c)
{
	smtp_free(c->smtp);
	io_free(c->io); /* ends the TLS transport, closes the fd */
	tls_free(c->tls);
	c->smtp = NULL;
	c->io = NULL;
	c->tls = NULL;
}

/* $XDG_CACHE_HOME/smtpsend, else ~/.cache/smtpsend; "" if neither. */
static void
cache_dir(char *buf, size_t size)
{
	const char *x = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	struct passwd *pw;

	buf[0] = '\0';
	if (x != NULL && x[0] == '/') {
		snprintf(buf, size, "%s/smtpsend", x);
		return;
	}
	if (home == NULL || home[0] != '/') {
		pw = getpwuid(getuid());
		home = pw != NULL ? pw->pw_dir : NULL;
	}
	if (home != NULL && home[0] == '/')
		snprintf(buf, size, "%s/.cache/smtpsend", home);
}

/* TLS parameters from the account; the handshake swaps the transport. */
static int
start_tls(struct conn *c, int implicit, struct error *err)
{
	const struct account *acc = c->acc;
	struct tls_params p;

	memset(&p, 0, sizeof(p));
	p.host =
	    acc->tls_host_override != NULL ? acc->tls_host_override : c->host;
	p.trust_file = acc->tls_trust_file;
	p.crl_file = acc->tls_crl_file;
	p.fingerprint = acc->tls_fingerprint;
	p.certcheck = acc->tls_certcheck != CFG_OFF;
	p.cert_file = acc->tls_cert_file;
	p.key_file = acc->tls_key_file;
	p.priorities = acc->tls_priorities;
	p.min_version = acc->tls_min_version;
	cache_dir(c->cache_dir, sizeof(c->cache_dir));
	/* With a socket, the socket names the server (host may be unset). */
	if (acc->socket != NULL)
		snprintf(c->cache_key, sizeof(c->cache_key), "unix:%s:%s",
		    acc->socket, acc->user != NULL ? acc->user : "");
	else
		snprintf(c->cache_key, sizeof(c->cache_key), "%s:%d:%s",
		    c->host, c->port, acc->user != NULL ? acc->user : "");
	p.cache_dir = c->cache_dir[0] != '\0' ? c->cache_dir : NULL;
	p.cache_key = c->cache_key;
	p.verbose = c->verbose;
	if (tls_new(&c->tls, &p, err) == -1)
		return -1;
	if (tls_handshake(c->tls, c->io, implicit, err) == -1)
		return -1;
	if (c->info != NULL)
		tls_print_info(c->tls, c->info);
	return 0;
}

/*
 * A server that asked for a client certificate and got none may refuse
 * only after the handshake: with a TLS alert (tls.c makes that ERR_CERT),
 * by closing the connection before sending anything, or with a reply that
 * says so itself (Postfix: "421 4.7.1 ... No client certificate
 * presented").  Any other reply is judged by its code and a timeout stays
 * a timeout: a server that merely asks for a certificate (Postfix's
 * smtpd_tls_ask_ccert) can be busy like any other.  Always returns -1.
 */
static int
refused_after_tls(const struct conn *c, struct error *err)
{
	if (c->tls == NULL || !tls_client_cert_missing(c->tls))
		return -1;
	if (err->kind == ERR_NETWORK) {
		if (!tls_closed_without_data(c->tls))
			return -1;
	} else if (err->kind != ERR_REPLY ||
	    strcasestr(err->reply, "certificate") == NULL) {
		return -1;
	}
	err->kind = ERR_CERT;
	err->temporary = 0;
	error_hint(err, "the server requires a client certificate: set "
	    "tls_cert_file and tls_key_file in the account");
	return -1;
}

/*
 * TCP, implicit TLS if configured, and the greeting.  A cleartext
 * connection arms smtp.c's implicit-TLS probe; if a slow greeting came
 * after the probe, that connection is out of step: connect once more and
 * wait for the greeting without probing.
 */
static int
connect_greet(struct conn *c, struct error *err)
{
	const struct account *acc = c->acc;
	struct connect_params cp;
	int attempt, fd;

	memset(&cp, 0, sizeof(cp));
	cp.host = c->host;
	cp.port = c->port;
	cp.socket = acc->socket;
	cp.source_ip = acc->source_ip;
	cp.proxy_host = acc->proxy_host;
	cp.proxy_port = acc->proxy_port;
	cp.timeout_ms = c->timeout;
	cp.verbose = c->verbose;
	for (attempt = 0; attempt < 2; attempt++) {
		if (c->verbose != NULL && acc->socket == NULL)
			fprintf(c->verbose, "--- connecting to %s port %d%s%s\n",
			    c->host, c->port,
			    acc->source_ip != NULL ? " from " : "",
			    acc->source_ip != NULL ? acc->source_ip : "");
		if ((fd = connect_open(&cp, err)) == -1)
			return -1;
		if ((c->io = io_new(fd, c->timeout)) == NULL) {
			close(fd);
			return error_set(err, ERR_OS, "out of memory");
		}
		if ((c->smtp = smtp_new(c->io, c->verbose)) == NULL)
			return error_set(err, ERR_OS, "out of memory");
		smtp_set_lmtp(c->smtp, c->acc->lmtp == CFG_ON);
		if (c->implicit && start_tls(c, 1, err) == -1)
			return -1;
		smtp_set_probe(c->smtp, !c->implicit && attempt == 0);
		if (smtp_greet(c->smtp, err) == 0)
			return 0;
		if (c->implicit)
			return refused_after_tls(c, err);
		if (!smtp_greet_late(c->smtp) || attempt == 1)
			return -1;
		if (c->verbose != NULL)
			fprintf(
			    c->verbose, "--- %s; connecting again\n", err->msg);
		error_clear(err);
		conn_close(c);
	}
	return -1;
}

static void
print_caps(FILE *fp, const char *title, const char *ehlo)
{
	const char *p = strchr(ehlo, '\n'), *nl;

	fprintf(fp, "%s:\n", title);
	if (p == NULL)
		fprintf(fp, "    (none)\n");
	for (; p != NULL; p = nl) {
		p++;
		nl = strchr(p, '\n');
		fprintf(fp, "    %.*s\n",
		    (int)(nl != NULL ? nl - p : (long)strlen(p)), p);
	}
}

/* Everything up to an EHLO'ed session, encrypted as the account says. */
static int
open_session_once(struct conn *c, int auth_wanted, struct error *err)
{
	const struct account *acc = c->acc;
	const char *domain = acc->domain != NULL ? acc->domain : "localhost";
	int allow_helo;

	if ((c->host == NULL || c->host[0] == '\0') && acc->socket == NULL)
		return error_set(err, ERR_CONFIG, "account %s has no host",
		    acc->name != NULL ? acc->name : "default");
	if (connect_greet(c, err) == -1)
		return -1;
	if (c->info != NULL)
		fprintf(c->info, "Greeting:\n    %s\n", smtp_greeting(c->smtp));
	/* HELO knows neither STARTTLS nor AUTH. */
	allow_helo = !c->starttls && !c->implicit && !auth_wanted;
	if (smtp_ehlo(c->smtp, domain, allow_helo, err) == -1)
		return -1;
	if (c->info != NULL)
		print_caps(c->info,
		    c->starttls ? "Capabilities (before STARTTLS)"
				: "Capabilities",
		    smtp_ehlo_text(c->smtp));
	if (!c->starttls)
		return 0;
	if (smtp_starttls(c->smtp, err) == -1) {
		/* tls on is our default, not msmtp's: say what to change. */
		if (acc->lmtp == CFG_ON && err->kind == ERR_UNAVAILABLE)
			error_hint(err,
			    "LMTP servers usually run without TLS on loopback "
			    "or a local socket: if this one does, set \"tls "
			    "off\" in the account");
		return -1;
	}
	if (start_tls(c, 0, err) == -1)
		return -1;
	if (smtp_ehlo(c->smtp, domain, 0, err) == -1)
		return refused_after_tls(c, err);
	if (c->info != NULL)
		print_caps(c->info, "Capabilities (after STARTTLS)",
		    smtp_ehlo_text(c->smtp));
	return 0;
}

/*
 * A resumed TLS session carries the certificate of the session it
 * resumes; tls.c checks it against today's trust file and pin.  If that
 * fails, the server's certificate may simply have changed since: the
 * ticket is gone, and one more connection checks the certificate the
 * server shows now, in a full handshake.
 */
static int
open_session(struct conn *c, int auth_wanted, struct error *err)
{
	if (open_session_once(c, auth_wanted, err) == 0)
		return 0;
	if (!tls_resumed_refused(c->tls))
		return -1;
	if (c->verbose != NULL)
		fprintf(c->verbose, "--- %s; connecting again for a full TLS "
		    "handshake\n", err->msg);
	conn_close(c);
	error_clear(err);
	return open_session_once(c, auth_wanted, err);
}

static void
conn_init(struct conn *c, const struct account *acc, FILE *verbose, FILE *info)
{
	memset(c, 0, sizeof(*c));
	c->acc = acc;
	c->host = acc->host;
	c->port = config_port(acc);
	c->starttls = config_starttls(acc);
	c->implicit = acc->tls != CFG_OFF && !c->starttls;
	/* timeout 0 ("off") still gets a deadline: callers wait on us. */
	c->timeout = acc->timeout > 0 ? acc->timeout * 1000 : 60000;
	c->proxied = acc->socket == NULL && acc->proxy_host != NULL;
	c->verbose = verbose;
	c->info = info;
}

/* For the rule "no credentials in clear except to loopback". */
static int
peer_is_loopback(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	const struct sockaddr_in6 *s6;
	const struct sockaddr_in *s4;

	if (getpeername(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	switch (ss.ss_family) {
	case AF_UNIX: return 1;
	case AF_INET:
		s4 = (const struct sockaddr_in *)&ss;
		return (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	case AF_INET6:
		s6 = (const struct sockaddr_in6 *)&ss;
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
		    s6->sin6_addr.s6_addr[12] == 127;
	}
	return 0;
}

static int
authenticate(struct conn *c, const struct send_job *job,
    struct send_result *res, struct error *err)
{
	const struct account *acc = c->acc;
	struct auth_params p;

	memset(&p, 0, sizeof(p));
	p.mech = config_auth(acc) != NULL ? config_auth(acc) : "on";
	p.user = acc->user != NULL ? acc->user : "";
	p.secret = job->secret;
	p.host = c->host;
	p.port = c->port;
	p.encrypted = c->tls != NULL && tls_active(c->tls);
	p.tls = p.encrypted ? c->tls : NULL;
	/* Behind a proxy on loopback the server itself may be anywhere. */
	p.loopback = !c->proxied && peer_is_loopback(io_fd(c->io));
	if (c->cache_dir[0] == '\0')
		cache_dir(c->cache_dir, sizeof(c->cache_dir));
	p.cache_dir = c->cache_dir[0] != '\0' ? c->cache_dir : NULL;
	p.scram_kept = job->scram;
	p.verbose = c->verbose;
	if (auth_login(c->smtp, &p, res->auth, err) == 0)
		return 0;
	/* A refused OAuth2 token may have been revoked before it expired:
	   one new token, one more try, in the same session. */
	if (job->refresh == NULL || err->kind != ERR_AUTH || err->temporary)
		return -1;
	if (c->verbose != NULL)
		fprintf(c->verbose, "--- the server refused the OAuth2 token: "
		    "refreshing it and trying again\n");
	if (job->refresh(job->refresh_arg, job->secret, &p.secret, err) == -1)
		return -1;
	return auth_login(c->smtp, &p, res->auth, err);
}

/*
 * QUIT only where the dialogue is still in step: after a refusal, not
 * after a timeout, garbage or a broken TLS session (a QUIT would only wait
 * for another timeout).
 */
static int
polite(const struct error *err)
{
	switch (err->kind) {
	case ERR_NETWORK:
	case ERR_PROTOCOL:
	case ERR_TLS:
	case ERR_CERT:
	case ERR_INTERNAL:
	case ERR_OS:
	case ERR_IO: return 0;
	default: return 1;
	}
}

int
send_message(
    const struct send_job *job, struct send_result *res, struct error *err)
{
	struct smtp_envelope env;
	struct conn c;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	snprintf(res->tls, sizeof(res->tls), "off");
	conn_init(&c, job->acc, job->verbose, NULL);
	if (open_session(&c, job->secret != NULL, err) == -1)
		goto out;
	if (job->secret != NULL && authenticate(&c, job, res, err) == -1)
		goto out;
	memset(&env, 0, sizeof(env));
	env.from = job->from != NULL ? job->from : "";
	env.rcpts = job->rcpts;
	env.dsn_notify = job->dsn_notify;
	env.dsn_return = job->dsn_return;
	env.dsn_envid = job->dsn_envid;
	env.body = job->body;
	if (smtp_send(c.smtp, &env, job->msg, err) == -1)
		goto out;
	rc = 0;
	error_clear(err);
out:
	if (c.tls != NULL && tls_active(c.tls))
		snprintf(res->tls, sizeof(res->tls), "%s", tls_summary(c.tls));
	if (c.smtp != NULL) {
		snprintf(res->reply, sizeof(res->reply), "%s",
		    smtp_last_reply(c.smtp));
		if (rc == 0 || polite(err))
			smtp_quit(c.smtp);
	}
	conn_close(&c);
	return rc;
}

struct send_session {
	struct conn	 c;
	int		 ntxn;		/* transactions started */
	int		 broken;	/* out of step: no command may follow */
	struct send_result res;		/* TLS and AUTH, for each log line */
};

int
send_open(struct send_session **sp, const struct send_job *auth,
    struct send_result *res, struct error *err)
{
	struct send_session *ss;

	*sp = NULL;
	memset(res, 0, sizeof(*res));
	snprintf(res->tls, sizeof(res->tls), "off");
	ss = calloc(1, sizeof(*ss));
	if (ss == NULL)
		return error_set(err, ERR_OS, "out of memory");
	conn_init(&ss->c, auth->acc, auth->verbose, NULL);
	snprintf(ss->res.tls, sizeof(ss->res.tls), "off");
	if (open_session(&ss->c, auth->secret != NULL, err) == -1 ||
	    (auth->secret != NULL && authenticate(&ss->c, auth, &ss->res,
	    err) == -1)) {
		ss->broken = !polite(err);
		if (ss->c.tls != NULL && tls_active(ss->c.tls))
			snprintf(res->tls, sizeof(res->tls), "%s",
			    tls_summary(ss->c.tls));
		send_close(ss);
		return -1;
	}
	if (ss->c.tls != NULL && tls_active(ss->c.tls))
		snprintf(ss->res.tls, sizeof(ss->res.tls), "%s",
		    tls_summary(ss->c.tls));
	*res = ss->res;
	*sp = ss;
	return 0;
}

int
send_next(struct send_session *ss, const struct send_job *job,
    struct send_result *res, struct error *err)
{
	struct smtp_envelope env;
	struct smtp_reply r;
	int rc = -1;

	*res = ss->res;
	if (!send_usable(ss))
		return error_set(err, ERR_NETWORK,
		    "the connection was closed before this message");
	/* A clean slate whatever the last transaction left behind. */
	if (ss->ntxn > 0) {
		memset(&r, 0, sizeof(r));
		if (smtp_command(ss->c.smtp, "RSET", NULL, &r, err) == -1) {
			ss->broken = 1;
			goto out;
		}
		if (r.code / 100 != 2) {
			smtp_reply_error(err, "RSET", &r, "refused");
			smtp_reply_free(&r);
			goto out;
		}
		smtp_reply_free(&r);
	}
	ss->ntxn++;
	memset(&env, 0, sizeof(env));
	env.from = job->from != NULL ? job->from : "";
	env.rcpts = job->rcpts;
	env.dsn_notify = job->dsn_notify;
	env.dsn_return = job->dsn_return;
	env.dsn_envid = job->dsn_envid;
	env.body = job->body;
	env.more = 1;
	if (smtp_send(ss->c.smtp, &env, job->msg, err) == -1) {
		if (!polite(err))
			ss->broken = 1;
		goto out;
	}
	rc = 0;
	error_clear(err);
out:
	snprintf(res->reply, sizeof(res->reply), "%s",
	    smtp_last_reply(ss->c.smtp));
	return rc;
}

int
send_usable(const struct send_session *ss)
{
	return !ss->broken && ss->c.smtp != NULL && !smtp_closed(ss->c.smtp);
}

void
send_close(struct send_session *ss)
{
	if (ss == NULL)
		return;
	if (ss->c.smtp != NULL && !ss->broken)
		smtp_quit(ss->c.smtp);
	conn_close(&ss->c);
	free(ss);
}

int
send_serverinfo(const struct account *acc, FILE *fp, struct error *err)
{
	const char *proto = acc->lmtp == CFG_ON ? "LMTP" : "SMTP";
	struct conn c;
	int rc = -1;

	conn_init(&c, acc, NULL, fp);
	if (acc->socket != NULL)
		fprintf(fp, "%s server at unix socket %s", proto, acc->socket);
	else
		fprintf(fp, "%s server at %s, port %d", proto,
		    acc->host != NULL ? acc->host : "?", c.port);
	if (c.proxied)
		fprintf(fp, ", through SOCKS5 proxy %s port %d", acc->proxy_host,
		    acc->proxy_port > 0 ? acc->proxy_port : CONNECT_PROXY_PORT);
	if (acc->socket == NULL && acc->source_ip != NULL)
		fprintf(fp, ", from %s", acc->source_ip);
	fprintf(fp, " (%s):\n",
	    c.implicit       ? "implicit TLS"
		: c.starttls ? "STARTTLS"
			     : "no TLS");
	if (open_session(&c, 0, err) == -1)
		goto out;
	rc = 0;
out:
	if (c.smtp != NULL && (rc == 0 || polite(err)))
		smtp_quit(c.smtp);
	conn_close(&c);
	return rc;
}
