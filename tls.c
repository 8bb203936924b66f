/*
 * tls.c: GnuTLS client sessions.  The peer is verified inside the
 * handshake, so nothing is ever sent to a server that failed verification;
 * every failure becomes one line that says what is wrong and what to do.
 * After the handshake the io's transport is swapped for one that reads and
 * writes TLS records, and the session ticket is kept for the next run.
 * What the settings become is tls_setup.c; why a handshake failed,
 * tls_explain.c.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "error.h"
#include "io.h"
#include "tls.h"
#include "tls_cache.h"
#include "tls_cert.h"
#include "tls_priv.h"

static int
is_ip_literal(const char *host)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

/*
 * Raw transport under GnuTLS: our own, so the first bytes the server sends
 * can be kept (a cleartext "220" greeting explains a failed implicit-TLS
 * handshake) and so writes never raise SIGPIPE.
 */

static ssize_t
transport_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct tls *t = ptr;
	ssize_t n;
	size_t keep;

	n = recv(t->fd, buf, len, 0);
	if (n < 0) {
		gnutls_transport_set_errno(t->session, errno);
		return -1;
	}
	if (t->nfirst < sizeof(t->first)) {
		keep = sizeof(t->first) - t->nfirst;
		if (keep > (size_t)n)
			keep = (size_t)n;
		memcpy(t->first + t->nfirst, buf, keep);
		t->nfirst += keep;
	}
	return n;
}

static int
transport_pull_timeout(gnutls_transport_ptr_t ptr, unsigned int ms)
{
	struct tls *t = ptr;
	struct pollfd pfd;
	int wait, ret;

	/* Never wait longer than the configured timeout. */
	wait = t->timeout_ms > 0 ? t->timeout_ms : -1;
	if (ms != GNUTLS_INDEFINITE_TIMEOUT && (wait < 0 || ms < (unsigned)wait))
		wait = (int)ms;
	pfd.fd = t->fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	ret = poll(&pfd, 1, wait);
	if (ret < 0)
		gnutls_transport_set_errno(t->session, errno);
	return ret;
}

static ssize_t
transport_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
	struct tls *t = ptr;
	struct msghdr mh;
	ssize_t n;

	memset(&mh, 0, sizeof(mh));
	/* giovec_t has struct iovec's layout (GnuTLS documents it so). */
	mh.msg_iov = (struct iovec *)(void *)(uintptr_t)iov;
	mh.msg_iovlen = (size_t)iovcnt;
	n = sendmsg(t->fd, &mh, MSG_NOSIGNAL);
	if (n < 0)
		gnutls_transport_set_errno(t->session, errno);
	return n;
}

/*
 * Save the session for the next run once there is something to save: with
 * TLS 1.3 the server's ticket arrives after the handshake, with the first
 * records of data, so this runs after every read until it succeeds.
 */
static void
ticket_save(struct tls *t)
{
	if (t->cache_path == NULL || t->ticket_saved || !t->verified)
		return;
	if (gnutls_protocol_get_version(t->session) == GNUTLS_TLS1_3 &&
	    (gnutls_session_get_flags(t->session) &
	    GNUTLS_SFLAGS_SESSION_TICKET) == 0)
		return;
	t->ticket_saved = 1;
	tls_cache_save(t->session, t->cache_path, &t->basis, t->verbose);
}

/*
 * Verification, called by GnuTLS inside the handshake (and after a resumed
 * one, which skips it: the trust store may have changed since).  0 if the
 * peer passes, else -1 with t->verr filled.
 */
static void
policy(struct tls *t, struct tls_cert_policy *pol)
{
	pol->host = t->host;
	pol->pin = t->pin;
	pol->pinlen = t->pinlen;
	pol->certcheck = t->certcheck;
	pol->system_trust = t->system_trust;
	pol->trust_file = t->trust_file;
	pol->verbose = t->verbose;
	pol->basis = &t->basis;
}

static int
verify_peer(struct tls *t)
{
	struct tls_cert_policy pol;

	policy(t, &pol);
	return tls_cert_verify(t->session, &pol, &t->verr);
}

static int
verify_callback(gnutls_session_t session)
{
	struct tls *t = gnutls_session_get_ptr(session);

	if (verify_peer(t) == -1)
		return -1;
	t->verified = 1;
	return 0;
}

/*
 * Set-up.
 */

/*
 * Offer the stored ticket, unless what its full handshake verified no
 * longer holds (trust file, pin, certcheck, the certificate's dates): a
 * resumed session shows no certificate, so with a ticket whose record
 * holds, nothing needs loading or checking.  A ticket without a record
 * is offered and its session checked again after the handshake.
 */
static void
set_cache(struct tls *t, const struct tls_params *p)
{
	struct tls_cert_policy pol;
	struct tls_cert_basis b;
	gnutls_datum_t d;
	const char *why;

	t->cache_path = tls_cache_path(p);
	if (t->cache_path == NULL ||
	    tls_cache_read(t->cache_path, &b, &d) == -1)
		return;
	policy(t, &pol);
	if (b.recorded && !tls_cert_basis_holds(&b, &pol, &why)) {
		if (t->verbose != NULL)
			fprintf(t->verbose, "--- not offering the TLS session "
			    "ticket: %s\n", why);
		tls_cache_remove(t->cache_path, t->verbose);
	} else if (gnutls_session_set_data(t->session, d.data, d.size) < 0) {
		if (t->verbose != NULL)
			fprintf(t->verbose, "--- ignoring unusable TLS session "
			    "ticket %s\n", t->cache_path);
	} else if (b.recorded) {
		t->basis = b;
		t->basis_held = 1;
	}
	tls_cache_data_free(&d);
	explicit_bzero(&b, sizeof(b));
}

static int
set_session(struct tls *t, const struct tls_params *p, struct error *err)
{
	int ret;

	ret = gnutls_init(&t->session, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
	if (ret < 0)
		return error_set(err, ERR_TLS, "cannot start a TLS session: "
		    "%s", gnutls_strerror(ret));
	gnutls_session_set_ptr(t->session, t);
	gnutls_transport_set_ptr(t->session, t);
	gnutls_transport_set_pull_function(t->session, transport_pull);
	gnutls_transport_set_pull_timeout_function(t->session,
	    transport_pull_timeout);
	gnutls_transport_set_vec_push_function(t->session, transport_push);
	gnutls_handshake_set_timeout(t->session, 0);	/* our own deadline */
	if (tls_setup_priorities(t, p, err) == -1)
		return -1;
	ret = gnutls_credentials_set(t->session, GNUTLS_CRD_CERTIFICATE,
	    t->cred);
	if (ret < 0)
		return error_set(err, ERR_TLS, "cannot set TLS credentials: %s",
		    gnutls_strerror(ret));
	if (t->host != NULL && !is_ip_literal(t->host)) {
		ret = gnutls_server_name_set(t->session, GNUTLS_NAME_DNS,
		    t->host, strlen(t->host));
		if (ret < 0)
			return error_set(err, ERR_CONFIG, "cannot send the "
			    "server name %s: %s", t->host, gnutls_strerror(ret));
	}
	set_cache(t, p);
	return 0;
}

int
tls_new(struct tls **tp, const struct tls_params *p, struct error *err)
{
	struct tls *t;
	int ret;

	*tp = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return error_set(err, ERR_OS, "out of memory");
	t->fd = -1;
	t->certcheck = p->certcheck;
	t->verbose = p->verbose;
	if (p->host != NULL && (t->host = strdup(p->host)) == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto fail;
	}
	if (tls_setup_pin(t, p, err) == -1)
		goto fail;
	ret = gnutls_certificate_allocate_credentials(&t->cred);
	if (ret < 0) {
		error_set(err, ERR_TLS, "cannot allocate TLS credentials: %s",
		    gnutls_strerror(ret));
		goto fail;
	}
	gnutls_certificate_set_verify_function(t->cred, verify_callback);
	if (tls_setup_trust(t, p, err) == -1 ||
	    tls_setup_client_cert(t, p, err) == -1 ||
	    set_session(t, p, err) == -1)
		goto fail;
	if (!p->certcheck && t->pinlen == 0)
		fprintf(stderr, "smtpsend: warning: tls_certcheck is off: the "
		    "server's certificate is not verified, so anyone on the "
		    "path can read and change the mail and the password\n");
	*tp = t;
	return 0;
fail:
	tls_free(t);
	return -1;
}

/*
 * The handshake.
 */

static void
handshake_report(struct tls *t)
{
	const char *version, *suite;

	version = gnutls_protocol_get_name(
	    gnutls_protocol_get_version(t->session));
	suite = gnutls_ciphersuite_get(t->session);
	snprintf(t->summary, sizeof(t->summary), "%s/%s",
	    version != NULL ? version : "TLS", suite != NULL ? suite : "?");
	if (t->verbose == NULL)
		return;
	fprintf(t->verbose, "--- TLS handshake done: %s, %s\n",
	    t->summary, t->resumed ? "TLS session resumed" : "full handshake");
	if (tls_client_cert_missing(t))
		fprintf(t->verbose, "--- the server asked for a client "
		    "certificate; none is configured (tls_cert_file)\n");
}

/*
 * After the handshake: a resumed session skipped the callback, so check
 * the certificate it carries against today's settings (trust file, pin),
 * which may have changed since the ticket was made.  If it fails, the
 * ticket goes.
 */
static int
verify_after_handshake(struct tls *t, struct error *err)
{
	if (!t->verified && t->resumed && t->basis_held) {
		if (t->verbose != NULL)
			fprintf(t->verbose, "--- TLS session resumed: its "
			    "certificate was verified when the ticket was made, "
			    "against what is still trusted\n");
		t->verified = 1;
	}
	if (!t->verified) {
		if (t->resumed && t->verbose != NULL)
			fprintf(t->verbose, "--- TLS session resumed: checking "
			    "the server's certificate again\n");
		if (verify_peer(t) == -1) {
			*err = t->verr;
			if (t->resumed && t->cache_path != NULL)
				tls_cache_remove(t->cache_path, t->verbose);
			t->resumed_refused = t->resumed;
			return -1;
		}
		t->verified = 1;
	}
	return 0;
}

static const struct io_ops tls_io_ops;

int
tls_handshake(struct tls *t, struct io *io, int implicit, struct error *err)
{
	long long deadline = io_deadline(io);
	int ret, ready;

	if (io_unread(io) > 0)
		return error_set(err, ERR_PROTOCOL, "the server sent data "
		    "before the TLS handshake (possible command injection)");
	t->fd = io_fd(io);
	t->timeout_ms = io_timeout(io);
	/*
	 * One deadline for the whole handshake, in io's poll loop: a server
	 * that trickles its flight a byte at a time cannot stretch it.
	 */
	for (;;) {
		ret = gnutls_handshake(t->session);
		if (ret == 0)
			break;
		if (ret != GNUTLS_E_AGAIN && ret != GNUTLS_E_INTERRUPTED &&
		    gnutls_error_is_fatal(ret))
			return tls_explain_handshake(t, ret, implicit, err);
		if (ret != GNUTLS_E_AGAIN && ret != GNUTLS_E_INTERRUPTED)
			continue;	/* a warning alert: go on */
		ready = io_wait(io, gnutls_record_get_direction(t->session) ?
		    IO_WANT_WRITE : IO_WANT_READ, deadline, err);
		if (ready == -1)
			return -1;
		if (ready == 0)
			return error_set(err, ERR_NETWORK, "the TLS handshake "
			    "timed out after %.1f s", t->timeout_ms / 1000.0);
	}
	t->resumed = gnutls_session_is_resumed(t->session) != 0;
	if (verify_after_handshake(t, err) == -1)
		return -1;
	handshake_report(t);
	ticket_save(t);
	io_set_ops(io, &tls_io_ops, t);
	t->active = 1;
	return 0;
}

/*
 * The transport after the handshake.
 */

static ssize_t
wants(const struct tls *t)
{
	return gnutls_record_get_direction(t->session) ? IO_WANT_WRITE :
	    IO_WANT_READ;
}

static int
record_error(struct tls *t, ssize_t ret, struct error *err)
{
	if (ret == GNUTLS_E_FATAL_ALERT_RECEIVED) {
		tls_explain_alert(t, err);
		if (err->kind != ERR_CERT)
			error_set(err, ERR_NETWORK, "the server ended the TLS "
			    "session with the alert \"%s\"",
			    gnutls_alert_get_name(gnutls_alert_get(t->session)));
		return -1;
	}
	if (ret == GNUTLS_E_PUSH_ERROR || ret == GNUTLS_E_PULL_ERROR) {
		t->peer_closed = 1;
		return error_set(err, ERR_NETWORK, "connection lost: %s",
		    strerror(errno));
	}
	return error_set(err, ERR_NETWORK, "TLS connection failed: %s",
	    gnutls_strerror((int)ret));
}

static ssize_t
tls_io_read(void *ctx, void *buf, size_t len, struct error *err)
{
	struct tls *t = ctx;
	ssize_t n;
	int tries;

	for (tries = 0; tries < 16; tries++) {
		n = gnutls_record_recv(t->session, buf, len);
		if (n > 0) {
			t->got_data = 1;
			ticket_save(t);
		}
		if (n == 0)
			t->peer_closed = 1;
		if (n >= 0)
			return n;
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			return wants(t);
		if (n == GNUTLS_E_PREMATURE_TERMINATION) {
			t->peer_closed = 1;
			return 0;	/* closed without close_notify */
		}
		if (gnutls_error_is_fatal((int)n))
			return record_error(t, n, err);
		/* A warning alert or renegotiation request: ignore it. */
	}
	return error_set(err, ERR_PROTOCOL, "too many TLS warnings from the "
	    "server");
}

static ssize_t
tls_io_write(void *ctx, const void *buf, size_t len, struct error *err)
{
	struct tls *t = ctx;
	ssize_t n;

	/* After AGAIN GnuTLS holds the record: finish it before new data. */
	if (t->send_again)
		n = gnutls_record_send(t->session, NULL, 0);
	else
		n = gnutls_record_send(t->session, buf, len);
	t->send_again = (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED);
	if (t->send_again)
		return wants(t);
	if (n < 0)
		return record_error(t, n, err);
	return n;
}

static size_t
tls_io_pending(void *ctx)
{
	struct tls *t = ctx;

	return gnutls_record_check_pending(t->session);
}

static void
tls_io_close(void *ctx)
{
	struct tls *t = ctx;

	ticket_save(t);
	if (t->active)
		gnutls_bye(t->session, GNUTLS_SHUT_WR);	/* best effort */
	t->active = 0;
}

static const struct io_ops tls_io_ops = {
	tls_io_read, tls_io_write, tls_io_pending, tls_io_close
};

/*
 * Queries.
 */

int
tls_channel_binding(struct tls *t, char **b64, const char **type,
    struct error *err)
{
	gnutls_datum_t cb = { NULL, 0 }, enc = { NULL, 0 };
	gnutls_channel_binding_t kind = GNUTLS_CB_TLS_UNIQUE;
	int ret;

	*b64 = NULL;
	*type = "tls-unique";
	if (t == NULL || !t->active)
		return error_set(err, ERR_TLS, "no TLS session for channel "
		    "binding");
	if (gnutls_protocol_get_version(t->session) == GNUTLS_TLS1_3) {
		kind = GNUTLS_CB_TLS_EXPORTER;
		*type = "tls-exporter";
	} else if (!gnutls_session_ext_master_secret_status(t->session)) {
		/* RFC 7627: without extended master secret, tls-unique can
		   be the same on two connections (triple handshake). */
		return error_set(err, ERR_TLS, "no safe tls-unique channel "
		    "binding: the server did not negotiate extended master "
		    "secret");
	}
	ret = gnutls_session_channel_binding(t->session, kind, &cb);
	if (ret < 0)
		return error_set(err, ERR_TLS, "no %s channel binding: %s",
		    *type, gnutls_strerror(ret));
	ret = gnutls_base64_encode2(&cb, &enc);
	gnutls_free(cb.data);
	if (ret < 0)
		return error_set(err, ERR_TLS, "channel binding: %s",
		    gnutls_strerror(ret));
	*b64 = strndup((char *)enc.data, enc.size);
	gnutls_free(enc.data);
	if (*b64 == NULL)
		return error_set(err, ERR_OS, "out of memory");
	return 0;
}

int
tls_client_cert_missing(const struct tls *t)
{
	return t != NULL && t->session != NULL && !t->have_client_cert &&
	    gnutls_certificate_client_get_request_status(t->session) != 0;
}

int
tls_resumed_refused(const struct tls *t)
{
	return t != NULL && t->resumed_refused;
}

int
tls_closed_without_data(const struct tls *t)
{
	return t != NULL && t->active && t->peer_closed && !t->got_data;
}

int
tls_active(const struct tls *t)
{
	return t != NULL && t->active;
}

const char *
tls_summary(const struct tls *t)
{
	if (t == NULL || t->summary[0] == '\0')
		return "off";
	return t->summary;
}

void
tls_print_info(const struct tls *t, FILE *fp)
{
	if (t == NULL || t->summary[0] == '\0') {
		fprintf(fp, "TLS: off\n");
		return;
	}
	fprintf(fp, "TLS:\n");
	fprintf(fp, "    version:      %s\n", gnutls_protocol_get_name(
	    gnutls_protocol_get_version(t->session)));
	fprintf(fp, "    cipher suite: %s\n", gnutls_ciphersuite_get(t->session));
	fprintf(fp, "    session:      %s\n", t->resumed ? "resumed" :
	    "full handshake");
	fprintf(fp, "    verified:     %s\n", t->pinlen > 0 ?
	    "by tls_fingerprint" : t->certcheck ? "yes" :
	    "NO (tls_certcheck off)");
	tls_cert_print(t->session, fp);
}

void
tls_free(struct tls *t)
{
	if (t == NULL)
		return;
	if (t->session != NULL)
		gnutls_deinit(t->session);
	if (t->cred != NULL)
		gnutls_certificate_free_credentials(t->cred);
	free(t->host);
	free(t->trust_file);
	free(t->cache_path);
	explicit_bzero(t, sizeof(*t));
	free(t);
}
