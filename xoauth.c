/*
 * xoauth.c: XOAUTH2 (Google, Microsoft) and OAUTHBEARER (RFC 7628) as GNU
 * SASL client mechanisms.  Both send the user and a bearer token in one
 * message; a server that refuses the token answers with a 334 carrying a
 * JSON error, to which the client must reply before the final 535:
 * XOAUTH2 with an empty line, OAUTHBEARER with a lone ^A (RFC 7628 3.2.3).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gsasl.h>
#include <gsasl-mech.h>

#include "xoauth.h"

/* How many times step has been called: 0 = the token is still to send. */
struct xoauth_state {
	int step;
};

/* A growing output buffer of known maximum size. */
struct outbuf {
	char *p;
	size_t len;
	size_t size;
};

static int
xoauth_start(Gsasl_session *sctx, void **mech_data)
{
	struct xoauth_state *st;

	(void)sctx;
	st = calloc(1, sizeof(*st));
	if (st == NULL)
		return GSASL_MALLOC_ERROR;
	*mech_data = st;
	return GSASL_OK;
}

static void
xoauth_finish(Gsasl_session *sctx, void *mech_data)
{
	(void)sctx;
	free(mech_data);
}

static void
out_add(struct outbuf *b, const char *s, size_t n)
{
	if (b->len + n <= b->size) {
		memcpy(b->p + b->len, s, n);
		b->len += n;
	}
}

static void
out_str(struct outbuf *b, const char *s)
{
	out_add(b, s, strlen(s));
}

/* A ^A inside a user name or token would end the field early. */
static int
has_ctl_a(const char *s)
{
	return s != NULL && strchr(s, '\x01') != NULL;
}

/* Fetch user and token, refusing values that would break the framing. */
static int
get_creds(Gsasl_session *sctx, const char **user, const char **token)
{
	*user = gsasl_property_get(sctx, GSASL_AUTHID);
	if (*user == NULL)
		return GSASL_NO_AUTHID;
	*token = gsasl_property_get(sctx, GSASL_PASSWORD);
	if (*token == NULL)
		return GSASL_NO_PASSWORD;
	if (has_ctl_a(*user) || has_ctl_a(*token))
		return GSASL_AUTHENTICATION_ERROR;
	return GSASL_OK;
}

/*
 * After the token has been sent, any further challenge is the server's
 * error report.  XOAUTH2 answers it with an empty response, OAUTHBEARER
 * with ^A; the server then sends its final failure reply.
 */
static int
answer_error(struct xoauth_state *st, const char *answer, char **output,
    size_t *output_len)
{
	size_t n = strlen(answer);

	if (st->step++ > 1)
		return GSASL_MECHANISM_CALLED_TOO_MANY_TIMES;
	*output = malloc(n + 1);
	if (*output == NULL)
		return GSASL_MALLOC_ERROR;
	memcpy(*output, answer, n + 1);
	*output_len = n;
	return GSASL_NEEDS_MORE;
}

/* "user=U^Aauth=Bearer T^A^A", sent after the server's empty 334. */
static int
xoauth2_step(Gsasl_session *sctx, void *mech_data, const char *input,
    size_t input_len, char **output, size_t *output_len)
{
	struct xoauth_state *st = mech_data;
	struct outbuf b;
	const char *user, *token;
	int rc;

	(void)input;
	(void)input_len;
	*output = NULL;
	*output_len = 0;
	if (st->step > 0)
		return answer_error(st, "", output, output_len);
	rc = get_creds(sctx, &user, &token);
	if (rc != GSASL_OK)
		return rc;
	b.size = strlen(user) + strlen(token) + 32;
	b.len = 0;
	b.p = malloc(b.size);
	if (b.p == NULL)
		return GSASL_MALLOC_ERROR;
	out_str(&b, "user=");
	out_str(&b, user);
	out_str(&b,
	    "\x01"
	    "auth=Bearer ");
	out_str(&b, token);
	out_str(&b, "\x01\x01");
	*output = b.p;
	*output_len = b.len;
	st->step = 1;
	return GSASL_OK;
}

/* RFC 5801 saslname: ',' and '=' are written =2C and =3D. */
static void
out_saslname(struct outbuf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == ',')
			out_str(b, "=2C");
		else if (*s == '=')
			out_str(b, "=3D");
		else
			out_add(b, s, 1);
	}
}

/* "n,a=U,^Ahost=H^Aport=P^Aauth=Bearer T^A^A", sent with AUTH. */
static int
oauthbearer_step(Gsasl_session *sctx, void *mech_data, const char *input,
    size_t input_len, char **output, size_t *output_len)
{
	struct xoauth_state *st = mech_data;
	struct xoauth_hook *hook;
	struct outbuf b;
	const char *user, *token, *host;
	char port[16];
	int rc;

	(void)input;
	(void)input_len;
	*output = NULL;
	*output_len = 0;
	if (st->step > 0)
		return answer_error(st, "\x01", output, output_len);
	rc = get_creds(sctx, &user, &token);
	if (rc != GSASL_OK)
		return rc;
	host = gsasl_property_get(sctx, GSASL_HOSTNAME);
	if (has_ctl_a(host))
		return GSASL_AUTHENTICATION_ERROR;
	hook = gsasl_session_hook_get(sctx);
	port[0] = '\0';
	if (hook != NULL && hook->port > 0)
		snprintf(port, sizeof(port), "%d", hook->port);
	b.size = 3 * strlen(user) + strlen(token) +
	    (host != NULL ? strlen(host) : 0) + 64;
	b.len = 0;
	b.p = malloc(b.size);
	if (b.p == NULL)
		return GSASL_MALLOC_ERROR;
	out_str(&b, "n,a=");
	out_saslname(&b, user);
	out_str(&b, ",\x01");
	if (host != NULL && *host != '\0') {
		out_str(&b, "host=");
		out_str(&b, host);
		out_str(&b, "\x01");
	}
	if (port[0] != '\0') {
		out_str(&b, "port=");
		out_str(&b, port);
		out_str(&b, "\x01");
	}
	out_str(&b, "auth=Bearer ");
	out_str(&b, token);
	out_str(&b, "\x01\x01");
	*output = b.p;
	*output_len = b.len;
	st->step = 1;
	return GSASL_OK;
}

static const Gsasl_mechanism xoauth2_mech = {
    .name = "XOAUTH2",
    .client =
	{
	    .start = xoauth_start,
	    .step = xoauth2_step,
	    .finish = xoauth_finish,
	},
};

static const Gsasl_mechanism oauthbearer_mech = {
    .name = "OAUTHBEARER",
    .client =
	{
	    .start = xoauth_start,
	    .step = oauthbearer_step,
	    .finish = xoauth_finish,
	},
};

int
xoauth_register(Gsasl *ctx)
{
	int rc;

	rc = gsasl_register(ctx, &xoauth2_mech);
	if (rc != GSASL_OK)
		return rc;
	return gsasl_register(ctx, &oauthbearer_mech);
}
