/*
 * tls_params.h: what a TLS session is asked for, from the account's
 * settings: the input of tls_new() (tls.h), whose ticket file tls_cache.c
 * also names after it.  A plain struct, in a header of its own so that
 * tls_cache.c, below tls.c, needs nothing from tls.h.
 */
#ifndef SMTPSEND_TLS_PARAMS_H
#define SMTPSEND_TLS_PARAMS_H

#include <stdio.h>

struct tls_params {
	const char	*host;		/* name sent as SNI and checked */
	const char	*trust_file;	/* NULL: system trust store */
	const char	*crl_file;	/* PEM CRLs to check against, or NULL */
	const char	*fingerprint;	/* pinned SHA-256 (or SHA-1), or NULL */
	int		 certcheck;	/* 0: no verification (warned) */
	const char	*cert_file;	/* client certificate, or NULL */
	const char	*key_file;
	const char	*priorities;	/* GnuTLS priority string, or NULL */
	const char	*min_version;	/* "1.2" default, "1.3" */
	const char	*cache_dir;	/* session ticket store, or NULL for none */
	const char	*cache_key;	/* "host:port:user" names the ticket */
	FILE		*verbose;	/* -v stream, or NULL */
};

#endif
