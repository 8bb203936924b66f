/*
 * auth.h: SMTP AUTH through GNU SASL, one code path for every mechanism,
 * XOAUTH2 and OAUTHBEARER included (registered with gsasl_register()).
 */
#ifndef SMTPSEND_AUTH_H
#define SMTPSEND_AUTH_H

struct error;
struct smtp;
struct tls;

struct auth_params {
	const char	*mech;		/* "on" = choose; or "PLAIN", "XOAUTH2", ... */
	const char	*user;
	const char	*secret;	/* password or token */
	const char	*host;		/* for OAUTHBEARER and the loopback rule */
	int		 port;
	struct tls	*tls;		/* active TLS session or NULL (channel binding) */
	int		 encrypted;	/* 1 if the connection is under TLS */
	int		 loopback;	/* 1 if the peer address is loopback */
};

/*
 * Authenticate on s using the AUTH capability of the last EHLO.  Refuses
 * to send credentials in clear (unless SCRAM or loopback).
 * used gets the mechanism name chosen (for the log).  Errors:
 * ERR_UNAVAILABLE (mechanism not offered: lists what is), ERR_AUTH (535:
 * 77, 4xx: temporary), ERR_PROTOCOL.
 */
int	auth_login(struct smtp *s, const struct auth_params *p,
	    char used[32], struct error *err);

#endif
