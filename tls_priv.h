/*
 * tls_priv.h: the TLS module's insides, shared by tls.c (sessions, the
 * handshake, the record transport), tls_setup.c (the account's settings
 * turned into GnuTLS priorities and credentials) and tls_explain.c (why a
 * handshake failed, in words).  Not a contract.
 */
#ifndef SMTPSEND_TLS_PRIV_H
#define SMTPSEND_TLS_PRIV_H

#include <stddef.h>
#include <stdio.h>

#include <gnutls/gnutls.h>

#include "error.h"
#include "tls_cert.h"

struct tls_params;

#define FIRST_MAX	48	/* first bytes received, kept for errors */

struct tls {
	gnutls_certificate_credentials_t cred;
	gnutls_session_t	 session;
	char			*host;		/* name checked and sent, or NULL */
	char			*cache_path;	/* ticket file, or NULL */
	FILE			*verbose;
	unsigned char		 pin[32];	/* pinned fingerprint */
	size_t			 pinlen;	/* 0, 20 (SHA-1) or 32 (SHA-256) */
	int			 certcheck;
	int			 system_trust;	/* CAs read at verification */
	char			*trust_file;	/* ...from this file, or NULL */
	int			 have_client_cert;
	int			 fd;
	int			 timeout_ms;
	int			 verified;	/* the verify step ran and passed */
	int			 active;
	int			 resumed;
	int			 resumed_refused; /* resumed, then failed checks */
	int			 got_data;	/* application data came after it */
	int			 peer_closed;	/* the server ended the connection */
	int			 ticket_saved;
	int			 send_again;	/* last record_send said AGAIN */
	int			 min13;		/* tls_min_version 1.3 */
	int			 user_priorities;
	const char		*versions;	/* what the priorities allow */
	unsigned char		 first[FIRST_MAX];
	size_t			 nfirst;
	struct error		 verr;		/* why verification failed */
	struct tls_cert_basis	 basis;		/* what it relied on */
	int			 basis_held;	/* the ticket's still holds */
	char			 summary[128];
};

/*
 * tls_setup.c, called by tls_new() in this order on a struct tls with
 * certcheck and verbose set.  Each returns 0, or -1 with ERR_CONFIG (the
 * setting named, with a hint) or ERR_TLS/ERR_OS.
 */

/* Parse tls_fingerprint into t->pin and t->pinlen. */
int	tls_setup_pin(struct tls *t, const struct tls_params *p,
	    struct error *err);

/*
 * What the chain is checked against: tls_trust_file (only opened now,
 * read at verification) or the system CAs, with tls_crl_file loaded into
 * t->cred (and the CAs with it).  Nothing when certcheck is off or a pin
 * is set.
 */
int	tls_setup_trust(struct tls *t, const struct tls_params *p,
	    struct error *err);

/* Load tls_cert_file and tls_key_file into t->cred, if set. */
int	tls_setup_client_cert(struct tls *t, const struct tls_params *p,
	    struct error *err);

/*
 * Set t->session's priorities from tls_priorities or tls_min_version, and
 * record what they allow (t->versions, t->min13, t->user_priorities) for
 * the messages of tls_explain.c.
 */
int	tls_setup_priorities(struct tls *t, const struct tls_params *p,
	    struct error *err);

/*
 * tls_explain.c: fill *err from the state of t and always return -1.
 */

/*
 * A failed gnutls_handshake() (ret): the verification's own error, a
 * cleartext reply where TLS was expected (implicit: on the implicit-TLS
 * port), the alert the server sent, or the GnuTLS error in words.
 */
int	tls_explain_handshake(struct tls *t, int ret, int implicit,
	    struct error *err);

/*
 * The fatal alert the server sent: a missing client certificate is
 * ERR_CERT, TLS versions and ciphers that do not match are ERR_TLS with a
 * hint about tls_min_version or tls_priorities.
 */
int	tls_explain_alert(struct tls *t, struct error *err);

#endif
