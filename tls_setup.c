/*
 * tls_setup.c: an account's TLS settings turned into what GnuTLS is given
 * before the handshake: the pinned fingerprint, the trust store (a CA file
 * or the system's, and CRLs), the client certificate, and the priority
 * string with the TLS versions it allows.  Each setting that cannot be
 * used is a configuration error naming it, found before anything is sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

#include "error.h"
#include "tls_cert.h"
#include "tls_params.h"
#include "tls_priv.h"

int
tls_setup_priorities(struct tls *t, const struct tls_params *p,
    struct error *err)
{
	gnutls_priority_t prio;
	const char *str, *errpos = NULL;
	int ret;

	if (p->priorities != NULL && p->priorities[0] != '\0') {
		str = p->priorities;
		t->versions = "tls_priorities";
		t->user_priorities = 1;
	} else if (p->min_version == NULL ||
	    strcmp(p->min_version, "1.2") == 0) {
		str = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";
		t->versions = "TLS 1.2 and 1.3";
	} else if (strcmp(p->min_version, "1.3") == 0) {
		str = "NORMAL:-VERS-ALL:+VERS-TLS1.3";
		t->versions = "tls_min_version 1.3";
		t->min13 = 1;
	} else
		return error_set(err, ERR_CONFIG, "tls_min_version %s: "
		    "expected 1.2 or 1.3", p->min_version);
	ret = gnutls_priority_init(&prio, str, &errpos);
	if (ret < 0) {
		if (ret == GNUTLS_E_INVALID_REQUEST && errpos != NULL)
			error_set(err, ERR_CONFIG, "tls_priorities: invalid "
			    "GnuTLS priority string at position %d: \"%s\"",
			    (int)(errpos - str) + 1, errpos);
		else
			error_set(err, ERR_CONFIG, "tls_priorities: %s",
			    gnutls_strerror(ret));
		error_hint(err, "see \"gnutls-cli --list --priority STRING\"");
		return -1;
	}
	ret = gnutls_priority_set(t->session, prio);
	gnutls_priority_deinit(prio);
	if (ret < 0)
		return error_set(err, ERR_TLS, "cannot set TLS priorities: %s",
		    gnutls_strerror(ret));
	return 0;
}

/* Revoked certificates (tls_crl_file): checked with the chain. */
static int
set_crl(struct tls *t, const struct tls_params *p, struct error *err)
{
	int ret;

	ret = gnutls_certificate_set_x509_crl_file(t->cred, p->crl_file,
	    GNUTLS_X509_FMT_PEM);
	if (ret < 0) {
		error_set(err, ERR_CONFIG, "tls_crl_file %s: %s", p->crl_file,
		    gnutls_strerror(ret));
		error_hint(err, "tls_crl_file must name a readable file of "
		    "PEM certificate revocation lists");
		return -1;
	}
	return 0;
}

/*
 * A trust file is read when the certificate is checked, and then only the
 * CAs that may have issued the chain are parsed: a copied msmtprc names
 * the distribution's bundle, whose ~150 certificates cost more to load
 * than the rest of a send.  Here it is only opened, so that an unreadable
 * file is a configuration error before anything is sent.
 */
static int
set_trust_file(struct tls *t, const char *path, struct error *err)
{
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		error_set(err, ERR_CONFIG, "tls_trust_file %s: %s", path,
		    strerror(errno));
		error_hint(err, "tls_trust_file must name a readable file of "
		    "PEM CA certificates");
		return -1;
	}
	close(fd);
	if ((t->trust_file = strdup(path)) == NULL)
		return error_set(err, ERR_OS, "out of memory");
	t->system_trust = 1;
	return 0;
}

int
tls_setup_trust(struct tls *t, const struct tls_params *p,
    struct error *err)
{
	int ret;
	int named = p->trust_file != NULL &&
	    strcmp(p->trust_file, "system") != 0;

	if (!p->certcheck || t->pinlen > 0)
		return 0;	/* nothing to check a chain against */
	if (named && p->crl_file == NULL)
		return set_trust_file(t, p->trust_file, err);
	if (named) {
		/* CRLs live in the credentials: the CAs go there too. */
		ret = gnutls_certificate_set_x509_trust_file(t->cred,
		    p->trust_file, GNUTLS_X509_FMT_PEM);
		if (ret <= 0) {
			error_set(err, ERR_CONFIG, "tls_trust_file %s: %s",
			    p->trust_file, ret < 0 ? gnutls_strerror(ret) :
			    "no certificate found in it");
			error_hint(err, "tls_trust_file must name a readable "
			    "file of PEM CA certificates");
			return -1;
		}
	} else if (p->crl_file != NULL) {
		/* CRLs live in the credentials: load the system CAs there
		   too, instead of the lazy per-issuer lookup. */
		if (gnutls_certificate_set_x509_system_trust(t->cred) <= 0)
			return error_set(err, ERR_CONFIG, "no system trust "
			    "store to check the server's certificate against");
	} else {
		/* The system CAs are read at verification, only those needed. */
		t->system_trust = 1;
		return 0;
	}
	return p->crl_file != NULL ? set_crl(t, p, err) : 0;
}

int
tls_setup_client_cert(struct tls *t, const struct tls_params *p,
    struct error *err)
{
	const char *key;
	int ret;

	if (p->cert_file == NULL) {
		if (p->key_file == NULL)
			return 0;
		error_set(err, ERR_CONFIG, "tls_key_file is set but "
		    "tls_cert_file is not");
		error_hint(err, "set both, or neither");
		return -1;
	}
	key = p->key_file != NULL ? p->key_file : p->cert_file;
	ret = gnutls_certificate_set_x509_key_file(t->cred, p->cert_file, key,
	    GNUTLS_X509_FMT_PEM);
	if (ret < 0) {
		error_set(err, ERR_CONFIG, "cannot load the client certificate "
		    "%s with key %s: %s", p->cert_file, key,
		    gnutls_strerror(ret));
		error_hint(err, "tls_cert_file and tls_key_file must be "
		    "readable PEM files of the same key pair");
		return -1;
	}
	t->have_client_cert = 1;
	return 0;
}

int
tls_setup_pin(struct tls *t, const struct tls_params *p,
    struct error *err)
{
	if (p->fingerprint == NULL || p->fingerprint[0] == '\0')
		return 0;
	if (tls_cert_parse_fingerprint(p->fingerprint, t->pin, sizeof(t->pin),
	    &t->pinlen) == -1 || (t->pinlen != 32 && t->pinlen != 20)) {
		t->pinlen = 0;
		error_set(err, ERR_CONFIG, "tls_fingerprint %s: expected a "
		    "SHA-256 (32 bytes) or SHA-1 (20 bytes) fingerprint in hex",
		    p->fingerprint);
		error_hint(err, "\"smtpsend --serverinfo\" shows the server's "
		    "fingerprint");
		return -1;
	}
	return 0;
}
