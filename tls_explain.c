/*
 * tls_explain.c: why a TLS handshake failed, in one line that says what
 * to do: a server that greets in clear text on the implicit-TLS port (or
 * after STARTTLS), a server that wants a client certificate, TLS versions
 * or ciphers that do not match, or the connection lost on the way.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <gnutls/gnutls.h>

#include "error.h"
#include "tls_priv.h"

/* The first bytes look like an SMTP reply: the server speaks clear text. */
static int
saw_cleartext_reply(const struct tls *t)
{
	return t->nfirst >= 4 && t->first[0] >= '2' && t->first[0] <= '5' &&
	    t->first[1] >= '0' && t->first[1] <= '9' &&
	    t->first[2] >= '0' && t->first[2] <= '9' &&
	    (t->first[3] == ' ' || t->first[3] == '-');
}

/* The first line received, printable, for messages. */
static void
first_line(struct tls *t, char *buf, size_t size)
{
	size_t i, o = 0;
	ssize_t n;

	/* GnuTLS read a record header only; the rest is likely there. */
	n = recv(t->fd, t->first + t->nfirst, sizeof(t->first) - t->nfirst,
	    MSG_DONTWAIT);
	if (n > 0)
		t->nfirst += (size_t)n;

	for (i = 0; i < t->nfirst && o + 1 < size; i++) {
		if (t->first[i] == '\r' || t->first[i] == '\n')
			break;
		buf[o++] = t->first[i] >= 0x20 && t->first[i] < 0x7f ?
		    (char)t->first[i] : '?';
	}
	buf[o] = '\0';
}

static void
version_hint(const struct tls *t, struct error *err)
{
	if (t->min13)
		error_hint(err, "the server may not support TLS 1.3: set "
		    "tls_min_version 1.2");
	else if (t->user_priorities)
		error_hint(err, "check tls_priorities: the server accepts "
		    "none of the TLS versions or ciphers it allows");
	else
		error_hint(err, "the server may only speak TLS 1.1 or older, "
		    "which is insecure; ask its administrator to upgrade");
}

int
tls_explain_alert(struct tls *t, struct error *err)
{
	gnutls_alert_description_t alert;
	const char *name;

	alert = gnutls_alert_get(t->session);
	name = gnutls_alert_get_name(alert);
	if (name == NULL)
		name = "unknown alert";
	if (alert == GNUTLS_A_CERTIFICATE_REQUIRED ||
	    (alert == GNUTLS_A_HANDSHAKE_FAILURE && !t->have_client_cert &&
	    gnutls_certificate_client_get_request_status(t->session))) {
		error_set(err, ERR_CERT, "the server requires a client "
		    "certificate (TLS alert: %s)", name);
		error_hint(err, "set tls_cert_file and tls_key_file to a "
		    "certificate the server accepts");
		return -1;
	}
	if (alert == GNUTLS_A_PROTOCOL_VERSION) {
		error_set(err, ERR_TLS, "TLS handshake failed: the server "
		    "speaks no TLS version that is allowed (%s)",
		    t->versions);
		version_hint(t, err);
		return -1;
	}
	error_set(err, ERR_TLS, "TLS handshake failed: the server sent the "
	    "alert \"%s\"", name);
	if (alert != GNUTLS_A_HANDSHAKE_FAILURE &&
	    alert != GNUTLS_A_INSUFFICIENT_SECURITY)
		return -1;
	if (t->min13 || t->user_priorities)
		version_hint(t, err);
	else
		error_hint(err, "the server accepts none of the TLS versions "
		    "and ciphers offered (TLS 1.2 and 1.3)");
	return -1;
}

int
tls_explain_handshake(struct tls *t, int ret, int implicit,
    struct error *err)
{
	char line[FIRST_MAX + 1];

	if (t->verr.kind != ERR_NONE) {
		*err = t->verr;
		return -1;
	}
	if (saw_cleartext_reply(t)) {
		first_line(t, line, sizeof(line));
		if (implicit) {
			error_set(err, ERR_TLS, "the server greeted in clear "
			    "text (\"%s\") instead of starting TLS: this port "
			    "expects STARTTLS", line);
			error_hint(err, "remove \"tls_starttls off\", or use "
			    "the implicit TLS port (usually 465); STARTTLS is "
			    "usually port 587");
		} else {
			error_set(err, ERR_PROTOCOL, "the server answered "
			    "STARTTLS with 220 but then sent clear text "
			    "(\"%s\")", line);
			error_hint(err, "someone between you and the server "
			    "may be tampering with the connection");
		}
		return -1;
	}
	switch (ret) {
	case GNUTLS_E_FATAL_ALERT_RECEIVED:
		return tls_explain_alert(t, err);
	case GNUTLS_E_PUSH_ERROR:
	case GNUTLS_E_PULL_ERROR:
		return error_set(err, ERR_NETWORK, "connection failed during "
		    "the TLS handshake: %s", strerror(errno));
	case GNUTLS_E_PREMATURE_TERMINATION:
		return error_set(err, ERR_NETWORK, "the server closed the "
		    "connection during the TLS handshake");
	case GNUTLS_E_UNSUPPORTED_VERSION_PACKET:
		error_set(err, ERR_TLS, "TLS handshake failed: the server "
		    "chose a TLS version that is not allowed (%s)",
		    t->versions);
		version_hint(t, err);
		return -1;
	case GNUTLS_E_NO_CIPHER_SUITES:
	case GNUTLS_E_INSUFFICIENT_CREDENTIALS:
		error_set(err, ERR_TLS, "TLS handshake failed: %s",
		    gnutls_strerror(ret));
		error_hint(err, "the server accepts no cipher that "
		    "tls_priorities allows");
		return -1;
	default:
		return error_set(err, ERR_TLS, "TLS handshake failed: %s",
		    gnutls_strerror(ret));
	}
}
