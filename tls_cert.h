/*
 * tls_cert.h: the server's certificate, for tls.c: verdicts that say what
 * is wrong and what to do, fingerprint pins, and the details --serverinfo
 * prints.
 */
#ifndef SMTPSEND_TLS_CERT_H
#define SMTPSEND_TLS_CERT_H

#include <stddef.h>
#include <stdio.h>

#include <gnutls/gnutls.h>

struct error;

struct tls_cert_policy {
	const char		*host;		/* name to check, or NULL */
	const unsigned char	*pin;		/* pinned digest, or NULL */
	size_t			 pinlen;	/* 20 (SHA-1) or 32 (SHA-256) */
	int			 certcheck;	/* 0 (and no pin): accept any */
	int			 system_trust;	/* check the chain against the
					   CAs of trust_file (or the system
					   CAs: $SSL_CERT_FILE or Debian's
					   bundle), read now, not the
					   session's credentials */
	const char		*trust_file;	/* PEM CAs, or NULL: system */
	FILE			*verbose;	/* -v stream, or NULL */
};

/* "AB:CD:..." (colons optional, any case) into at most max bytes. */
int	tls_cert_parse_fingerprint(const char *s, unsigned char *out,
	    size_t max, size_t *len);

/*
 * Check the peer of session s: against the pin if there is one, else its
 * chain against the session's trust (or the system CAs, of which only the
 * few that could have issued it are parsed) and its name against pol->host.
 * Returns 0, or -1 with ERR_CERT saying what is wrong (dates, issuer,
 * names, fingerprint seen) and a hint.  A SHA-1 pin that matches is
 * accepted with a warning on stderr.
 */
int	tls_cert_verify(gnutls_session_t s, const struct tls_cert_policy *pol,
	    struct error *err);

/* Print the peer certificate's subject, names, issuer, validity dates and
   fingerprints, indented, under a "Certificate:" line. */
void	tls_cert_print(gnutls_session_t s, FILE *fp);

#endif
