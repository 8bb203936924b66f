/*
 * tls.h: GnuTLS.  A handshake over an io swaps in the TLS transport; the
 * certificate is verified inside the handshake.
 */
#ifndef SMTPSEND_TLS_H
#define SMTPSEND_TLS_H

#include <stdio.h>

#include "tls_params.h"

struct error;
struct io;

struct tls;

/* Prepare credentials and a session (no I/O). */
int	tls_new(struct tls **tp, const struct tls_params *p, struct error *err);

/*
 * Handshake on io's fd within io's timeout, verify the peer, then
 * io_set_ops() the TLS transport.  implicit: 1 for TLS from the start
 * (explains a cleartext "220" greeting as "this port expects STARTTLS").
 * Errors: ERR_CERT (69) with what is wrong and what to do, ERR_TLS,
 * ERR_NETWORK.
 */
int	tls_handshake(struct tls *t, struct io *io, int implicit,
	    struct error *err);

/*
 * Channel binding data for SCRAM-*-PLUS, base64: tls-exporter for TLS 1.3,
 * tls-unique for 1.2.  *type is "tls-exporter" or "tls-unique".  *b64 is
 * malloc'ed.  Returns -1 when not available.
 */
int	tls_channel_binding(struct tls *t, char **b64, const char **type,
	    struct error *err);

/*
 * 1 if the server asked for a client certificate and none is configured:
 * explains a refusal right after the handshake (Postfix answers the next
 * command with "421 ... No client certificate presented").
 */
int	tls_client_cert_missing(const struct tls *t);

/*
 * 1 if the server ended the connection after the handshake without
 * sending a single byte of data (no greeting, no reply): how some servers
 * refuse a client without a certificate, where a timeout is not.
 */
int	tls_closed_without_data(const struct tls *t);

/*
 * 1 if tls_handshake() failed because a resumed session's certificate
 * fails today's checks: its ticket is removed, so a new connection does a
 * full handshake and checks the certificate the server shows now.
 */
int	tls_resumed_refused(const struct tls *t);

/* 1 after a successful handshake. */
int	tls_active(const struct tls *t);

/* "TLS1.3 / TLS_AES_256_GCM_SHA384" style summary for the log. */
const char *tls_summary(const struct tls *t);

/* Print version, cipher, resumption, certificate subject, issuer, dates and
   SHA-256 fingerprint (for --serverinfo). */
void	tls_print_info(const struct tls *t, FILE *fp);

/* Free (after io_free() of the io it was attached to).  NULL is fine. */
void	tls_free(struct tls *t);

#endif
