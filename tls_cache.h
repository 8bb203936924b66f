/*
 * tls_cache.h: TLS session tickets kept between runs for tls.c, one 0600
 * file per account and TLS settings in a 0700 directory.  Any problem only
 * costs a full handshake, so nothing here fails a send.
 */
#ifndef SMTPSEND_TLS_CACHE_H
#define SMTPSEND_TLS_CACHE_H

#include <stdio.h>

#include <gnutls/gnutls.h>

struct tls_cert_basis;
struct tls_params;

/*
 * The ticket file for p: cache_dir/<cache_key, sanitised>-<digest of the
 * settings that shape the session>.tls, malloc'ed; NULL when p names no
 * cache or memory is short.  What is trusted (trust file, pin, certcheck)
 * is not part of it: tls.c checks a resumed session against it again.
 */
char	*tls_cache_path(const struct tls_params *p);

/*
 * Read the ticket in path, if the file is ours: what its verification
 * relied on into *b (b->recorded 0 if the file has no record) and the
 * session data into *d (free with tls_cache_data_free()).  0, or -1.
 */
int	tls_cache_read(const char *path, struct tls_cert_basis *b,
	    gnutls_datum_t *d);

/* Wipe and free what tls_cache_read() gave. */
void	tls_cache_data_free(gnutls_datum_t *d);

/* Remove the ticket in path (it failed today's checks). */
void	tls_cache_remove(const char *path, FILE *verbose);

/* Write b and s's resumption data to path atomically (mkstemp + rename). */
int	tls_cache_save(gnutls_session_t s, const char *path,
	    const struct tls_cert_basis *b, FILE *verbose);

#endif
