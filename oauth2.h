/*
 * oauth2.h: the OAuth2 token lifecycle of an account with oauth2_provider:
 * the refresh token and the cached access token in the keyring (or in
 * oauth2_token_file), refreshed at the provider's token endpoint (http.c)
 * only when the cached one is about to expire or was refused.
 */
#ifndef SMTPSEND_OAUTH2_H
#define SMTPSEND_OAUTH2_H

#include <stdio.h>

struct account;
struct error;

/* What the caller (secret.c) provides: the client secret, on demand. */
struct oauth2_source {
	/* 0 with *out malloc'ed, or NULL when the account has none; -1. */
	int (*client_secret)(
	    const struct account *acc, char **out, struct error *err);
};

/* The service attribute of the keyring items (passwords have "smtp"). */
#define OAUTH2_KEYRING_SERVICE "smtpsend-oauth2"

/*
 * An access token for acc: the cached one when it is valid for at least
 * 60 more seconds (no HTTP at all), else a refreshed one, saved with a
 * rotated refresh token before it is returned.  With refused non-NULL (the
 * server refused that token), a token other than it is fetched.  Returns
 * 0 with *token malloc'ed (wipe and free it).  Errors: ERR_SECRET (78: no
 * refresh token stored; hint --authorize), ERR_AUTH (77: invalid_grant;
 * hint --authorize), ERR_NETWORK (75: endpoint unreachable, 5xx,
 * timeout), ERR_PROTOCOL (76: malformed response, naming the field),
 * ERR_CONFIG (78: token file permissions, client refused), ERR_KEYRING.
 */
int oauth2_token(const struct account *acc, const char *refused,
    const struct oauth2_source *src, char **token, struct error *err);

enum oauth2_flow {
	OAUTH2_FLOW_DEFAULT, /* the provider's: browser for Google, else device */
	OAUTH2_FLOW_DEVICE,  /* RFC 8628 device authorization grant */
	OAUTH2_FLOW_BROWSER, /* authorization code + PKCE, loopback redirect */
};

/*
 * --authorize: run flow for acc, printing to out what the user must do
 * (URL and code), and store the refresh token and access token it gets.
 * Errors: ERR_CONFIG (no provider, endpoint missing), ERR_AUTH (77:
 * denied, code expired), ERR_NETWORK (75), ERR_PROTOCOL (76).
 */
int oauth2_authorize(const struct account *acc, enum oauth2_flow flow,
    const struct oauth2_source *src, FILE *out, struct error *err);

#endif
