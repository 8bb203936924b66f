/*
 * auth.c: SMTP AUTH (RFC 4954) through GNU SASL.  Every mechanism, the
 * OAuth ones registered by xoauth.c included, runs through the same loop:
 * AUTH [initial response], then one GSASL step per 334 challenge, until
 * 235 or a failure reply.  The choice of mechanism and the rule that no
 * credential crosses an unencrypted link are made here, before any byte of
 * a secret exists on the wire.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <gsasl.h>

#include "auth.h"
#include "config.h"
#include "error.h"
#include "scram_cache.h"
#include "smtp.h"
#include "tls.h"
#include "xoauth.h"

#define AUTH_ROUNDS_MAX 16 /* no mechanism we speak needs more 334s */
#define SCRAM_MIN_ITERATIONS 4096 /* RFC 7677 section 4 */
#define AUTH_SHOWN "****"

/*
 * What "auth on" tries, strongest first.  CRAM-MD5 comes last: it is only
 * used when the server offers nothing better, because over TLS PLAIN is as
 * safe, and CRAM-MD5 forces the server to keep the password in clear.
 */
static const char *const auth_order[] = {
    "SCRAM-SHA-256-PLUS",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-256",
    "SCRAM-SHA-1",
    "PLAIN",
    "LOGIN",
    "CRAM-MD5",
    NULL,
};

/* Mechanisms whose first message goes on the AUTH line itself. */
static const char *const auth_initial[] = {
    "PLAIN",
    "EXTERNAL",
    "OAUTHBEARER",
    "SCRAM-SHA-1",
    "SCRAM-SHA-1-PLUS",
    "SCRAM-SHA-256",
    "SCRAM-SHA-256-PLUS",
    NULL,
};

/* Properties that may hold a secret or something derived from one. */
static const Gsasl_property auth_secret_props[] = {
    GSASL_PASSWORD,
    GSASL_SCRAM_SALTED_PASSWORD,
    GSASL_SCRAM_SERVERKEY,
    GSASL_SCRAM_STOREDKEY,
};

static int
in_list(const char *const *list, const char *mech)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, mech) == 0)
			return 1;
	return 0;
}

/* 1 if the space-separated list holds word (case-insensitive). */
static int
offers(const char *list, const char *word)
{
	size_t n = strlen(word), i;

	while (list != NULL && *list != '\0') {
		while (*list == ' ')
			list++;
		for (i = 0; list[i] != '\0' && list[i] != ' '; i++)
			;
		if (i == n && strncasecmp(list, word, n) == 0)
			return 1;
		list += i;
	}
	return 0;
}

static int
is_scram(const char *mech)
{
	return strncmp(mech, "SCRAM-", 6) == 0;
}

static int
is_plus(const char *mech)
{
	size_t n = strlen(mech);

	return n > 5 && strcmp(mech + n - 5, "-PLUS") == 0;
}

static int
is_oauth(const char *mech)
{
	return strcmp(mech, "XOAUTH2") == 0 || strcmp(mech, "OAUTHBEARER") == 0;
}

/*
 * SCRAM proves knowledge of the password without revealing it or anything
 * an eavesdropper could replay or cheaply crack, so it may run in clear;
 * everything else needs TLS, or a peer on this very machine.
 */
static int
cleartext_ok(const char *mech, int encrypted, int loopback)
{
	return encrypted || loopback || is_scram(mech);
}

int
auth_needs_secret(const struct account *acc)
{
	const char *mech = config_auth(acc);

	return mech != NULL && strcasecmp(mech, "EXTERNAL") != 0;
}

static int
refuse_cleartext(const char *mech, struct error *err)
{
	error_set(err, ERR_UNAVAILABLE,
	    "refusing to send credentials "
	    "(AUTH %s) over an unencrypted connection to a server that is "
	    "not on this machine",
	    mech);
	error_hint(err,
	    "use TLS (tls on, and tls_starttls on for port 587), "
	    "or SCRAM-SHA-256 if the server offers it");
	return -1;
}

static int
choose_named(const char *wanted, const char *offered, int encrypted,
    int loopback, int cb, char mech[32], struct error *err)
{
	size_t i;

	for (i = 0; i < 31 && wanted[i] != '\0'; i++)
		mech[i] = toupper((unsigned char)wanted[i]);
	mech[i] = '\0';
	if (!offers(offered, mech)) {
		error_set(err, ERR_UNAVAILABLE,
		    "the server does not offer "
		    "AUTH %s (it offers: %s)",
		    mech, offered);
		error_hint(err, "set auth to one of those, or to on");
		return -1;
	}
	if (is_plus(mech) && !cb) {
		error_set(err, ERR_UNAVAILABLE,
		    "AUTH %s needs TLS channel "
		    "binding, which this connection does not have",
		    mech);
		error_hint(err, "use TLS, or the mechanism without -PLUS");
		return -1;
	}
	if (!cleartext_ok(mech, encrypted, loopback))
		return refuse_cleartext(mech, err);
	return 0;
}

int
auth_choose(const char *wanted, const char *offered, int encrypted,
    int loopback, int cb, char mech[32], struct error *err)
{
	const char *refused = NULL;
	size_t i;

	mech[0] = '\0';
	if (offered == NULL || offered[0] == '\0') {
		error_set(err, ERR_UNAVAILABLE,
		    "authentication is configured "
		    "but the server offers no AUTH");
		if (!encrypted)
			error_hint(err,
			    "most servers offer AUTH only after "
			    "STARTTLS: use tls on");
		return -1;
	}
	/* "OAUTH2" (an account with oauth2_provider): OAUTHBEARER, the
	   standard one, when offered, else XOAUTH2 (Microsoft's only). */
	if (strcasecmp(wanted, "OAUTH2") == 0)
		wanted = offers(offered, "OAUTHBEARER") ? "OAUTHBEARER"
							: "XOAUTH2";
	if (strcasecmp(wanted, "on") != 0)
		return choose_named(
		    wanted, offered, encrypted, loopback, cb, mech, err);
	for (i = 0; auth_order[i] != NULL; i++) {
		if (!offers(offered, auth_order[i]))
			continue;
		if (is_plus(auth_order[i]) && !cb)
			continue;
		if (!cleartext_ok(auth_order[i], encrypted, loopback)) {
			if (refused == NULL)
				refused = auth_order[i];
			continue;
		}
		snprintf(mech, 32, "%s", auth_order[i]);
		return 0;
	}
	if (refused != NULL)
		return refuse_cleartext(refused, err);
	error_set(err, ERR_UNAVAILABLE,
	    "no usable authentication mechanism "
	    "(the server offers: %s)",
	    offered);
	error_hint(err,
	    "name one with auth (XOAUTH2 and OAUTHBEARER are "
	    "used only when named)");
	return -1;
}

static void
wipe_str(char *s)
{
	if (s != NULL)
		explicit_bzero(s, strlen(s));
}

/* Wipe and free a malloc'ed string. */
static void
wipe_free(char *s)
{
	wipe_str(s);
	free(s);
}

/*
 * One GSASL step on raw input.  Its output (a secret, for PLAIN or LOGIN)
 * is base64-encoded into *b64 and wiped.  Returns the GSASL code.
 */
static int
sasl_step(Gsasl_session *sess, const char *in, size_t inlen, char **b64)
{
	char *out = NULL;
	size_t outlen = 0, b64len;
	int rc, rc2;

	*b64 = NULL;
	rc = gsasl_step(sess, in, inlen, &out, &outlen);
	if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE) {
		free(out);
		return rc;
	}
	if (outlen == 0)
		*b64 = strdup("");
	else {
		rc2 = gsasl_base64_to(out, outlen, b64, &b64len);
		if (rc2 != GSASL_OK)
			*b64 = NULL;
	}
	if (out != NULL)
		explicit_bzero(out, outlen);
	gsasl_free(out);
	return *b64 == NULL ? GSASL_MALLOC_ERROR : rc;
}

/* Build "PREFIX TEXT" into a new string, or NULL. */
static char *
join(const char *prefix, const char *text)
{
	size_t n = strlen(prefix) + strlen(text) + 2;
	char *s = malloc(n);

	if (s != NULL)
		snprintf(s, n, "%s %s", prefix, text);
	return s;
}

/* Keep the printable part of an OAuth error challenge for the message. */
static void
keep_oauth_error(char *dst, size_t size, const char *src, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len && n + 1 < size; i++)
		if ((unsigned char)src[i] >= 0x20 && src[i] != 0x7f)
			dst[n++] = src[i];
	dst[n] = '\0';
}

/* State of one AUTH dialogue. */
struct auth_run {
	struct smtp *s;
	Gsasl_session *sess;
	const char *mech;
	char *line; /* next line to send; wiped */
	const char *shown; /* what -v prints for it */
	int done; /* GSASL said GSASL_OK */
	char oauth_error[256];
};

/* "*" cancels the exchange (RFC 4954); the 501 it gets is moot. */
static void
cancel(struct auth_run *ar)
{
	struct smtp_reply r;
	struct error ignored;

	memset(&r, 0, sizeof(r));
	if (smtp_command(ar->s, "*", NULL, &r, &ignored) == 0)
		smtp_reply_free(&r);
}

static int
sasl_failed(struct auth_run *ar, int rc, struct error *err)
{
	cancel(ar);
	/* For SCRAM after client-final, this is a wrong server signature. */
	if (is_scram(ar->mech) && rc == GSASL_AUTHENTICATION_ERROR)
		error_set(err, ERR_AUTH,
		    "AUTH %s: the server could not prove "
		    "that it knows the password (or the channel binding "
		    "differs): not the server it claims to be?",
		    ar->mech);
	else
		error_set(err, ERR_AUTH, "AUTH %s failed on our side: %s",
		    ar->mech, gsasl_strerror(rc));
	return -1;
}

/*
 * The iteration count of a SCRAM server-first message ("r=...,s=...,i=N"),
 * or -1 when the message holds no count in digits (then it is no
 * server-first message, or GNU SASL refuses it itself).
 */
static long
scram_iterations(const char *msg, size_t len)
{
	size_t i = 0, j;
	long n = 0;

	while (i + 1 < len && !(msg[i] == 'i' && msg[i + 1] == '=')) {
		while (i < len && msg[i] != ',')
			i++;
		i++;	/* past the comma */
	}
	if (i + 1 >= len)
		return -1;
	for (j = i + 2; j < len && msg[j] != ','; j++) {
		if (!isdigit((unsigned char)msg[j]))
			return -1;
		if (n < SCRAM_MIN_ITERATIONS)	/* enough to decide; no overflow */
			n = n * 10 + (msg[j] - '0');
	}
	return j == i + 2 ? -1 : n;
}

/*
 * Whoever sees a SCRAM exchange can test password guesses against the
 * client's proof at the cost of the iteration count each: a server (or a
 * man in the middle of a cleartext link) that asks for fewer than RFC
 * 7677's 4096 gets no proof at all, on any transport.
 */
static int
weak_scram(struct auth_run *ar, const char *in, size_t inlen,
    struct error *err)
{
	long n = scram_iterations(in, inlen);

	if (n < 0 || n >= SCRAM_MIN_ITERATIONS)
		return 0;
	cancel(ar);
	error_set(err, ERR_UNAVAILABLE, "AUTH %s: the server asks for only %ld "
	    "iteration%s of the password hash, fewer than the %d that RFC 7677 "
	    "asks for: the proof of the password would be cheap to crack, so "
	    "it was not sent", ar->mech, n, n == 1 ? "" : "s",
	    SCRAM_MIN_ITERATIONS);
	error_hint(err, "the server may not be the one it claims to be; if it "
	    "is, its SCRAM iteration count must be raised to 4096 or more");
	return -1;
}

/* Answer one 334 challenge: the next line goes into ar->line. */
static int
challenge(struct auth_run *ar, const struct smtp_reply *r, struct error *err)
{
	char *in = NULL;
	size_t inlen = 0;
	const char *text = r->text != NULL ? r->text : "";
	int rc, weak;

	if (text[0] != '\0' &&
	    gsasl_base64_from(text, strlen(text), &in, &inlen) != GSASL_OK) {
		sasl_failed(ar, GSASL_BASE64_ERROR, err);
		return error_set(err, ERR_PROTOCOL,
		    "AUTH %s: the server sent "
		    "a challenge that is not base64",
		    ar->mech);
	}
	if (ar->done && is_oauth(ar->mech))
		keep_oauth_error(ar->oauth_error, sizeof(ar->oauth_error),
		    in != NULL ? in : "", inlen);
	weak = is_scram(ar->mech) && weak_scram(ar, in, inlen, err) == -1;
	rc = weak ? GSASL_OK : sasl_step(ar->sess, in, inlen, &ar->line);
	if (in != NULL)
		explicit_bzero(in, inlen);
	gsasl_free(in);
	if (weak)
		return -1;
	if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE)
		return sasl_failed(ar, rc, err);
	ar->done = (rc == GSASL_OK);
	ar->shown = AUTH_SHOWN;
	return 0;
}

/* A final reply: 235 is success; anything else says why not. */
static int
final_reply(struct auth_run *ar, const struct smtp_reply *r, struct error *err)
{
	if (r->code == 235) {
		/* SCRAM's last step checks the server's proof: insist on it. */
		if (is_scram(ar->mech) && !ar->done)
			return error_set(err, ERR_AUTH,
			    "AUTH %s: the server "
			    "accepted without proving it knows the password",
			    ar->mech);
		return 0;
	}
	if (r->code / 100 == 4 || r->code / 100 == 5) {
		if (ar->oauth_error[0] != '\0')
			return error_reply(err, ERR_AUTH, "AUTH", r->code,
			    r->status, r->text,
			    "AUTH %s refused (server "
			    "error: %s)",
			    ar->mech, ar->oauth_error);
		return error_reply(err, ERR_AUTH, "AUTH", r->code, r->status,
		    r->text, "AUTH %s refused", ar->mech);
	}
	return error_reply(err, ERR_PROTOCOL, "AUTH", r->code, r->status,
	    r->text, "unexpected reply to AUTH %s", ar->mech);
}

/* The AUTH line, with the initial response for mechanisms that have one. */
static int
first_line(struct auth_run *ar, struct error *err)
{
	char cmd[48];
	char *ir = NULL;
	int rc;

	snprintf(cmd, sizeof(cmd), "AUTH %s", ar->mech);
	if (!in_list(auth_initial, ar->mech)) {
		ar->line = strdup(cmd);
		return ar->line == NULL
		    ? error_set(err, ERR_OS, "out of memory")
		    : 0;
	}
	rc = sasl_step(ar->sess, NULL, 0, &ir);
	if (rc != GSASL_OK && rc != GSASL_NEEDS_MORE)
		return error_set(err, ERR_AUTH,
		    "AUTH %s failed on our side: "
		    "%s",
		    ar->mech, gsasl_strerror(rc));
	ar->done = (rc == GSASL_OK);
	/* An empty initial response is sent as "=" (RFC 4954 section 4). */
	ar->line = join(cmd, ir[0] == '\0' ? "=" : ir);
	wipe_free(ir);
	if (ar->line == NULL)
		return error_set(err, ERR_OS, "out of memory");
	return 0;
}

static int
dialogue(struct auth_run *ar, struct error *err)
{
	struct smtp_reply r;
	char shown[48];
	int round, rc = -1;

	if (first_line(ar, err) == -1)
		return -1;
	/* The -v transcript shows "AUTH PLAIN ****", never the response. */
	if (in_list(auth_initial, ar->mech)) {
		snprintf(
		    shown, sizeof(shown), "AUTH %s %s", ar->mech, AUTH_SHOWN);
		ar->shown = shown;
	}
	memset(&r, 0, sizeof(r));
	for (round = 0; round < AUTH_ROUNDS_MAX; round++) {
		rc = smtp_command(ar->s, ar->line, ar->shown, &r, err);
		wipe_free(ar->line);
		ar->line = NULL;
		if (rc == -1)
			break;
		if (r.code != 334) {
			rc = final_reply(ar, &r, err);
			break;
		}
		rc = challenge(ar, &r, err);
		if (rc == -1)
			break;
		smtp_reply_free(&r);
		memset(&r, 0, sizeof(r));
		rc = -1;
	}
	if (round == AUTH_ROUNDS_MAX)
		error_set(err, ERR_PROTOCOL, "AUTH %s: too many challenges",
		    ar->mech);
	smtp_reply_free(&r);
	wipe_free(ar->line);
	ar->line = NULL;
	return rc;
}

/* Wipe every property that held or was derived from the secret. */
static void
wipe_session(Gsasl_session *sess)
{
	size_t i;
	const char *v;

	for (i = 0;
	     i < sizeof(auth_secret_props) / sizeof(auth_secret_props[0]);
	     i++) {
		v = gsasl_property_fast(sess, auth_secret_props[i]);
		if (v != NULL)
			explicit_bzero((char *)v, strlen(v));
	}
}

/* Start the client session and give it everything it may ask for. */
static int
start_session(Gsasl *ctx, Gsasl_session **sess, const char *mech,
    const struct auth_params *p, const char *cb, const char *cbtype,
    struct error *err)
{
	int rc;

	rc = gsasl_client_start(ctx, mech, sess);
	if (rc != GSASL_OK)
		return error_set(err, ERR_UNAVAILABLE,
		    "AUTH %s: not "
		    "supported by GNU SASL here: %s",
		    mech, gsasl_strerror(rc));
	if (p->user != NULL)
		gsasl_property_set(*sess, GSASL_AUTHID, p->user);
	if (p->secret != NULL)
		gsasl_property_set(*sess, GSASL_PASSWORD, p->secret);
	gsasl_property_set(*sess, GSASL_SERVICE, "smtp");
	if (p->host != NULL)
		gsasl_property_set(*sess, GSASL_HOSTNAME, p->host);
	/*
	 * Binding data only for -PLUS: GNU SASL 2.2's plain SCRAM client
	 * fails at its first step when it is given any.
	 */
	if (cb == NULL || !is_plus(mech))
		return 0;
	if (strcmp(cbtype, "tls-exporter") == 0)
		gsasl_property_set(*sess, GSASL_CB_TLS_EXPORTER, cb);
	else
		gsasl_property_set(*sess, GSASL_CB_TLS_UNIQUE, cb);
	return 0;
}

/* Channel binding data, when TLS is on and tls.c can give it. */
static char *
get_binding(const struct auth_params *p, const char **type)
{
	struct error ignored;
	char *cb = NULL;

	*type = "";
	if (!p->encrypted || p->tls == NULL)
		return NULL;
	if (tls_channel_binding(p->tls, &cb, type, &ignored) == -1)
		return NULL;
	return cb;
}

/*
 * SCRAM's SaltedPassword: GNU SASL asks for it once it knows the server's
 * salt and iteration count.  It comes from the cache, else from Nettle's
 * PBKDF2 (GNU SASL's own portable SHA-256 costs three times as much); it
 * is kept only once the server has accepted it.
 */
struct scram_run {
	const struct auth_params *p;
	FILE		*verbose;
	int		 no_cache;	/* retrying: compute, trust no entry */
	int		 from_cache;	/* this attempt used a kept value */
	int		 computed;	/* this attempt computed it */
	char		 server[300];
	char		 salt[400];
	char		*prepped;	/* SASLprep'ed password; wiped */
	struct scram_entry e;
	unsigned char	 sp[SCRAM_SP_MAX];
};

static void
scram_run_clear(struct scram_run *sr)
{
	if (sr->prepped != NULL) {
		wipe_str(sr->prepped);
		gsasl_free(sr->prepped);
	}
	sr->prepped = NULL;
	sr->from_cache = sr->computed = 0;
	explicit_bzero(sr->sp, sizeof(sr->sp));
}

/* The password came from the keyring: the SaltedPassword is kept there. */
static int
in_keyring(const struct scram_run *sr)
{
	return sr->e.kept != NULL && sr->e.kept->keyring;
}

static int
scram_salted(struct scram_run *sr, Gsasl_session *sess)
{
	const char *salt, *iter;
	char hex[2 * SCRAM_SP_MAX + 1], *end;
	unsigned long n;
	size_t i, len;

	salt = gsasl_property_fast(sess, GSASL_SCRAM_SALT);
	iter = gsasl_property_fast(sess, GSASL_SCRAM_ITER);
	if (salt == NULL || iter == NULL || sr->p->secret == NULL ||
	    strlen(salt) >= sizeof(sr->salt))
		return GSASL_NO_CALLBACK;	/* GNU SASL does it itself */
	errno = 0;
	n = strtoul(iter, &end, 10);
	if (errno != 0 || end == iter || *end != '\0' || n == 0)
		return GSASL_NO_CALLBACK;
	scram_run_clear(sr);
	if (gsasl_saslprep(sr->p->secret, GSASL_ALLOW_UNASSIGNED,
	    &sr->prepped, NULL) != GSASL_OK)
		return GSASL_NO_CALLBACK;
	snprintf(sr->salt, sizeof(sr->salt), "%s", salt);
	sr->e.salt = sr->salt;
	sr->e.iter = n;
	sr->e.sha256 = strncmp(gsasl_mechanism_name(sess), "SCRAM-SHA-256",
	    13) == 0;
	if (!sr->no_cache && scram_cache_get(&sr->e, sr->prepped, sr->sp)) {
		sr->from_cache = 1;
	} else if (scram_compute(&sr->e, sr->prepped, sr->sp) == 0) {
		sr->computed = 1;
	} else {
		return GSASL_NO_CALLBACK;
	}
	if (sr->verbose != NULL)
		fprintf(sr->verbose, "--- SCRAM: salted password %s (%lu "
		    "iterations)%s\n", sr->from_cache ? "kept from an earlier "
		    "run" : "computed", n, sr->from_cache && in_keyring(sr) ?
		    ", from the keyring" : "");
	len = scram_sp_len(&sr->e);
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", sr->sp[i]);
	gsasl_property_set(sess, GSASL_SCRAM_SALTED_PASSWORD, hex);
	explicit_bzero(hex, sizeof(hex));
	return GSASL_OK;
}

static int
sasl_callback(Gsasl *ctx, Gsasl_session *sess, Gsasl_property prop)
{
	struct scram_run *sr = gsasl_callback_hook_get(ctx);

	if (prop != GSASL_SCRAM_SALTED_PASSWORD || sr == NULL)
		return GSASL_NO_CALLBACK;
	return scram_salted(sr, sess);
}

static void
scram_run_init(struct scram_run *sr, const struct auth_params *p,
    FILE *verbose)
{
	memset(sr, 0, sizeof(*sr));
	sr->p = p;
	sr->verbose = verbose;
	snprintf(sr->server, sizeof(sr->server), "%s:%d",
	    p->host != NULL ? p->host : "", p->port);
	/* A server reached by a socket has no name to key the entry by. */
	sr->e.dir = p->host != NULL ? p->cache_dir : NULL;
	sr->e.server = sr->server;
	sr->e.user = p->user != NULL ? p->user : "";
	sr->e.kept = p->scram_kept;
	sr->e.host = p->host;
	sr->e.port = p->port;
}

/* One AUTH exchange in a session of its own. */
static int
auth_once(Gsasl *ctx, struct auth_run *ar, const struct auth_params *p,
    const char *cb, const char *cbtype, struct error *err)
{
	struct xoauth_hook hook;
	int rc;

	ar->sess = NULL;
	ar->line = NULL;
	ar->shown = NULL;
	ar->done = 0;
	if (start_session(ctx, &ar->sess, ar->mech, p, cb, cbtype, err) == -1)
		return -1;
	hook.port = p->port;
	gsasl_session_hook_set(ar->sess, &hook);
	rc = dialogue(ar, err);
	wipe_session(ar->sess);
	gsasl_finish(ar->sess);
	ar->sess = NULL;
	return rc;
}

/*
 * Keep a SaltedPassword the server accepted.  In the keyring this is one
 * more keyring child, paid only when the item was missing or stale.
 */
static void
scram_keep(struct scram_run *sr)
{
	struct error kerr;

	error_clear(&kerr);
	if (!in_keyring(sr) && sr->e.dir == NULL)
		return;
	if (scram_cache_put(&sr->e, sr->prepped, sr->sp, &kerr) == -1) {
		if (sr->verbose != NULL && in_keyring(sr))
			fprintf(sr->verbose, "--- SCRAM: the salted password "
			    "could not be kept in the keyring: %s\n", kerr.msg);
	} else if (sr->verbose != NULL && in_keyring(sr))
		fprintf(sr->verbose, "--- SCRAM: salted password kept in the "
		    "keyring for the next run\n");
}

/*
 * After the exchange: keep a SaltedPassword the server accepted; if it
 * refused a kept one, forget it and say to try once more (the password or
 * the server's secrets changed since).  1: try again.
 */
static int
scram_after(struct scram_run *sr, int rc, const struct error *err)
{
	int again = 0;

	if (rc == 0 && sr->computed)
		scram_keep(sr);
	if (rc == -1 && sr->from_cache && err->kind == ERR_AUTH &&
	    !err->temporary && err->code != 0) {
		scram_cache_drop(&sr->e);
		if (sr->verbose != NULL)
			fprintf(sr->verbose, "--- SCRAM: the server refused the "
			    "salted password kept from an earlier run; "
			    "computing it again\n");
		sr->no_cache = 1;
		again = 1;
	}
	scram_run_clear(sr);
	return again;
}

int
auth_login(struct smtp *s, const struct auth_params *p, char used[32],
    struct error *err)
{
	const struct smtp_caps *caps = smtp_caps(s);
	struct scram_run sr;
	struct auth_run ar;
	Gsasl *ctx = NULL;
	const char *cbtype, *offered;
	char *cb;
	char mech[32];
	int rc = -1;

	used[0] = '\0';
	offered = (caps->flags & SMTP_CAP_AUTH) ? caps->auth : "";
	cb = get_binding(p, &cbtype);
	if (auth_choose(p->mech != NULL ? p->mech : "on", offered, p->encrypted,
		p->loopback, cb != NULL, mech, err) == -1)
		goto done;
	if ((p->user == NULL || p->user[0] == '\0') &&
	    strcmp(mech, "EXTERNAL") != 0) {
		error_set(err, ERR_CONFIG, "AUTH %s needs a user name", mech);
		error_hint(err, "set user in the account");
		goto done;
	}
	if (gsasl_init(&ctx) != GSASL_OK || xoauth_register(ctx) != GSASL_OK) {
		error_set(err, ERR_INTERNAL, "cannot initialise GNU SASL");
		goto done;
	}
	scram_run_init(&sr, p, p->verbose);
	gsasl_callback_set(ctx, sasl_callback);
	gsasl_callback_hook_set(ctx, &sr);
	memset(&ar, 0, sizeof(ar));
	ar.s = s;
	ar.mech = mech;
	snprintf(used, 32, "%s", mech);
	do {
		rc = auth_once(ctx, &ar, p, cb, cbtype, err);
	} while (scram_after(&sr, rc, err));
done:
	if (ctx != NULL)
		gsasl_done(ctx);
	free(cb);
	return rc;
}
