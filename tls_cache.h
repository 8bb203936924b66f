/*
 * tls_cache.h: TLS session tickets kept between runs for tls.c, one 0600
 * file per account and TLS settings in a 0700 directory.  Any problem only
 * costs a full handshake, so nothing here fails a send.
 */
#ifndef SMTPSEND_TLS_CACHE_H
#define SMTPSEND_TLS_CACHE_H

#include <stdio.h>

#include <gnutls/gnutls.h>

struct tls_params;

/*
 * The ticket file for p: cache_dir/<cache_key, sanitised>-<digest of the
 * settings that shape the session>.tls, malloc'ed; NULL when p names no
 * cache or memory is short.  What is trusted (trust file, pin, certcheck)
 * is not part of it: tls.c checks a resumed session against it again.
 */
char	*tls_cache_path(const struct tls_params *p);

/* Offer the ticket in path to session s, if the file is ours and usable. */
void	tls_cache_load(gnutls_session_t s, const char *path, FILE *verbose);

/* Remove the ticket in path (it failed today's checks). */
void	tls_cache_remove(const char *path, FILE *verbose);

/* Write s's resumption data to path atomically (mkstemp + rename). */
int	tls_cache_save(gnutls_session_t s, const char *path, FILE *verbose);

#endif
