/*
 * auth.h: SMTP AUTH through GNU SASL, one code path for every mechanism,
 * XOAUTH2 and OAUTHBEARER included (registered with gsasl_register()).
 */
#ifndef SMTPSEND_AUTH_H
#define SMTPSEND_AUTH_H

#include <stdio.h>

struct account;
struct scram_kept;
struct error;
struct smtp;
struct tls;

struct auth_params {
	const char *mech; /* "on" = choose; or "PLAIN", "XOAUTH2", ... */
	const char *user;
	const char *secret; /* password or token */
	const char *host; /* for OAUTHBEARER and the loopback rule */
	int port;
	struct tls *tls; /* active TLS session or NULL (channel binding) */
	int encrypted; /* 1 if the connection is under TLS */
	int loopback; /* 1 if the peer address is loopback */
	const char *cache_dir; /* SCRAM's SaltedPassword kept here, or NULL */
	struct scram_kept *scram_kept; /* the password is in the keyring: the
					  SaltedPassword too (scram_cache.h) */
	FILE *verbose; /* -v stream (SCRAM notes), or NULL */
};

/*
 * Authenticate on s using the AUTH capability of the last EHLO.  Refuses
 * to send credentials in clear (unless SCRAM or loopback).
 * used gets the mechanism name chosen (for the log).  Errors:
 * ERR_UNAVAILABLE (mechanism not offered: lists what is), ERR_AUTH (535:
 * 77, 4xx: temporary), ERR_PROTOCOL.
 */
int auth_login(struct smtp *s, const struct auth_params *p, char used[32],
    struct error *err);

/*
 * 1 if acc authenticates with a password or token, so secret_get() must
 * run: 0 for no AUTH and for EXTERNAL (the client certificate is the
 * credential; secret_get() then returns "" so that AUTH still happens).
 */
int auth_needs_secret(const struct account *acc);

/*
 * The choice auth_login() makes, without I/O (exported for tests): wanted
 * is "on" or a name, offered the server's AUTH list, cb 1 when channel
 * binding data exists.  "on" tries SCRAM-SHA-256-PLUS, SCRAM-SHA-1-PLUS,
 * SCRAM-SHA-256, SCRAM-SHA-1, PLAIN, LOGIN, CRAM-MD5 in that order, never
 * XOAUTH2/OAUTHBEARER.  Only SCRAM may run in clear, unless loopback.
 * Errors: ERR_UNAVAILABLE (not offered, or refused in clear) with a hint.
 */
int auth_choose(const char *wanted, const char *offered, int encrypted,
    int loopback, int cb, char mech[32], struct error *err);

#endif
