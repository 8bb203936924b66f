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

/*
 * What a verification relied on, kept with the session ticket so that a
 * resumed session, whose certificate was checked then, is not checked
 * again while all of it still holds.
 */
struct tls_cert_basis {
	int			 recorded;	/* 0: not known (CRLs, GnuTLS's
					   own store): check a resumed
					   session again */
	int			 certcheck;
	size_t			 pinlen;
	unsigned char		 pin[32];
	char			 trust[1024];	/* CA file read, or "" */
	unsigned long long	 dev, ino, size;
	long long		 mtime_s, mtime_ns, ctime_s, ctime_ns;
	unsigned char		 names[1024];	/* the chain's issuer names */
	size_t			 nameslen;
	unsigned char		 digest[32];	/* SHA-256 of the CAs in the
					   file that name one of them */
	long long		 not_after;	/* the certificate's */
};

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
	struct tls_cert_basis	*basis;		/* filled when it passes, or
						   NULL */
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

/*
 * 1 if b (what an earlier verification relied on) still holds for pol
 * today: same certcheck and pin, the same trust file (same inode, size,
 * times, or else the same content) and the certificate not expired.
 * Else 0 with *why saying what changed.
 */
int	tls_cert_basis_holds(const struct tls_cert_basis *b,
	    const struct tls_cert_policy *pol, const char **why);

/* Print the peer certificate's subject, names, issuer, validity dates and
   fingerprints, indented, under a "Certificate:" line. */
void	tls_cert_print(gnutls_session_t s, FILE *fp);

#endif
