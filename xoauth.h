/*
 * xoauth.h: the XOAUTH2 and OAUTHBEARER client mechanisms, which Debian's
 * GNU SASL 2.2 lacks, registered with gsasl_register() so that auth.c
 * drives them like any other mechanism.
 */
#ifndef SMTPSEND_XOAUTH_H
#define SMTPSEND_XOAUTH_H

#include <gsasl.h>

/*
 * Optional per-session data, set with gsasl_session_hook_set(): OAUTHBEARER
 * sends "port=" only when port > 0 (RFC 7628 makes host and port optional).
 */
struct xoauth_hook {
	int port;
};

/*
 * Register XOAUTH2 and OAUTHBEARER (client side only) on ctx.  Both take
 * the user from GSASL_AUTHID, the token from GSASL_PASSWORD, OAUTHBEARER
 * the host from GSASL_HOSTNAME.  Returns a GSASL_* code.
 */
int xoauth_register(Gsasl *ctx);

#endif
