/*
 * test_auth.c: the OAuth mechanisms byte for byte, the choice of mechanism,
 * the cleartext rule, and whole AUTH dialogues against GNU SASL's own
 * server side (channel binding included) or a scripted server.  smtp.c and
 * tls.c are replaced by the mocks below, so auth.c is tested alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gsasl.h>

#include "auth.h"
#include "config.h"
#include "error.h"
#include "smtp.h"
#include "tls.h"
#include "xoauth.h"

#define MAXLINES	16

struct script_reply {
	int		 code;
	const char	*text;
};

/* The fake server behind the mocked smtp_command(). */
static struct mock {
	struct smtp_caps	 caps;
	char			*sent[MAXLINES];
	char			*shown[MAXLINES];
	int			 nsent;
	/* GNU SASL server mode */
	Gsasl			*srv;
	Gsasl_session		*ss;
	const char		*srv_cb;	/* binding the server sees */
	const char		*srv_cbtype;
	int			 final_pending;	/* server-final sent, 235 next */
	int			 tamper_final;	/* corrupt SCRAM's v= */
	int			 skip_final;	/* 235 instead of server-final */
	/* scripted mode (when script != NULL) */
	const struct script_reply *script;
	int			 nscript;
	/* what tls_channel_binding() returns */
	const char		*cli_cb;
	const char		*cli_cbtype;
} M;

static void
reply_set(struct smtp_reply *r, int code, const char *text)
{
	memset(r, 0, sizeof(*r));
	r->code = code;
	r->text = strdup(text);
	r->lines = 1;
	smtp_parse_status(text, r->status);
}

/* The mocks: these replace smtp.c and tls.c in this binary. */
int
smtp_parse_status(const char *text, char status[16])
{
	status[0] = '\0';
	if (text[0] >= '2' && text[0] <= '5' && text[1] == '.') {
		snprintf(status, 16, "%.*s", (int)strcspn(text, " "), text);
		return 1;
	}
	return 0;
}

void
smtp_reply_free(struct smtp_reply *r)
{
	free(r->text);
	r->text = NULL;
}

const struct smtp_caps *
smtp_caps(const struct smtp *s)
{
	(void)s;
	return &M.caps;
}

int
tls_channel_binding(struct tls *t, char **b64, const char **type,
    struct error *err)
{
	(void)t;
	(void)err;
	if (M.cli_cb == NULL)
		return -1;
	*b64 = strdup(M.cli_cb);
	*type = M.cli_cbtype;
	return 0;
}

static void
server_answer(int rc, char *out, struct smtp_reply *r)
{
	if (rc == GSASL_NEEDS_MORE)
		reply_set(r, 334, out);
	else if (rc == GSASL_OK && out != NULL && out[0] != '\0' &&
	    !M.skip_final) {
		if (M.tamper_final) {
			/* A well-formed v= that is not the right one. */
			free(out);
			out = strdup("dj1BQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
			    "QUFBQUFBQUFBQUFBPQ==");
		}
		reply_set(r, 334, out);
		M.final_pending = 1;
	} else if (rc == GSASL_OK)
		reply_set(r, 235, "2.7.0 Authentication successful");
	else
		reply_set(r, 535, "5.7.8 Error: authentication failed");
	free(out);
}

static void
server_line(const char *line, struct smtp_reply *r)
{
	char mech[64], *out = NULL;
	const char *ir = NULL, *sp;
	int rc;

	if (strcmp(line, "*") == 0) {
		reply_set(r, 501, "5.7.0 Authentication aborted");
		return;
	}
	if (strncmp(line, "AUTH ", 5) == 0) {
		sp = strchr(line + 5, ' ');
		snprintf(mech, sizeof(mech), "%.*s", (int)(sp != NULL ?
		    (size_t)(sp - line - 5) : strlen(line + 5)), line + 5);
		if (sp != NULL)
			ir = strcmp(sp + 1, "=") == 0 ? "" : sp + 1;
		assert_int_equal(gsasl_server_start(M.srv, mech, &M.ss),
		    GSASL_OK);
		rc = gsasl_step64(M.ss, ir, &out);
		server_answer(rc, out, r);
		return;
	}
	if (M.final_pending && line[0] == '\0') {
		reply_set(r, 235, "2.7.0 Authentication successful");
		return;
	}
	rc = gsasl_step64(M.ss, line, &out);
	server_answer(rc, out, r);
}

int
smtp_command(struct smtp *s, const char *line, const char *shown,
    struct smtp_reply *r, struct error *err)
{
	(void)s;
	(void)err;
	assert_true(M.nsent < MAXLINES);
	M.sent[M.nsent] = strdup(line);
	M.shown[M.nsent] = shown != NULL ? strdup(shown) : NULL;
	M.nsent++;
	if (M.script != NULL) {
		assert_true(M.nscript > 0);
		reply_set(r, M.script->code, M.script->text);
		M.script++;
		M.nscript--;
		return 0;
	}
	server_line(line, r);
	return 0;
}

/* The server's view of the user database and of the TLS channel. */
static int
server_cb(Gsasl *ctx, Gsasl_session *sctx, Gsasl_property prop)
{
	const char *id = gsasl_property_fast(sctx, GSASL_AUTHID);
	const char *pw = gsasl_property_fast(sctx, GSASL_PASSWORD);

	(void)ctx;
	switch (prop) {
	case GSASL_PASSWORD:
		if (id == NULL || strcmp(id, "alice") != 0)
			return GSASL_NO_CALLBACK;
		return gsasl_property_set(sctx, prop, "secret");
	case GSASL_VALIDATE_SIMPLE:
		return id != NULL && pw != NULL && strcmp(id, "alice") == 0 &&
		    strcmp(pw, "secret") == 0 ? GSASL_OK :
		    GSASL_AUTHENTICATION_ERROR;
	case GSASL_CB_TLS_UNIQUE:
		if (M.srv_cb == NULL || strcmp(M.srv_cbtype, "tls-unique") != 0)
			return GSASL_NO_CALLBACK;
		return gsasl_property_set(sctx, prop, M.srv_cb);
	case GSASL_CB_TLS_EXPORTER:
		if (M.srv_cb == NULL ||
		    strcmp(M.srv_cbtype, "tls-exporter") != 0)
			return GSASL_NO_CALLBACK;
		return gsasl_property_set(sctx, prop, M.srv_cb);
	default:
		return GSASL_NO_CALLBACK;
	}
}

static int
setup(void **state)
{
	(void)state;
	memset(&M, 0, sizeof(M));
	assert_int_equal(gsasl_init(&M.srv), GSASL_OK);
	gsasl_callback_set(M.srv, server_cb);
	return 0;
}

static int
teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < M.nsent; i++) {
		free(M.sent[i]);
		free(M.shown[i]);
	}
	if (M.ss != NULL)
		gsasl_finish(M.ss);
	gsasl_done(M.srv);
	return 0;
}

static void
offer(const char *mechs)
{
	M.caps.flags = SMTP_CAP_AUTH;
	snprintf(M.caps.auth, sizeof(M.caps.auth), "%s", mechs);
}

static int
login(const char *mech, const char *user, const char *secret, int encrypted,
    int loopback, char used[32], struct error *err)
{
	struct auth_params p;

	memset(&p, 0, sizeof(p));
	p.mech = mech;
	p.user = user;
	p.secret = secret;
	p.host = "mail.example.org";
	p.port = 587;
	p.encrypted = encrypted;
	p.loopback = loopback;
	p.tls = encrypted ? (struct tls *)&M : NULL;
	error_clear(err);
	return auth_login((struct smtp *)&M, &p, used, err);
}

/* Run a registered client mechanism by hand; returns the raw output. */
static char *
client_step(Gsasl_session *c, const char *in, size_t *len, int want_rc)
{
	char *out = NULL;

	assert_int_equal(gsasl_step(c, in, in != NULL ? strlen(in) : 0, &out,
	    len), want_rc);
	return out;
}

static void
test_xoauth2_bytes(void **state)
{
	Gsasl *ctx;
	Gsasl_session *c;
	char *out;
	size_t len;
	static const char want[] = "user=alice@example.org\x01"
	    "auth=Bearer ya29.tok\x01\x01";

	(void)state;
	assert_int_equal(gsasl_init(&ctx), GSASL_OK);
	assert_int_equal(xoauth_register(ctx), GSASL_OK);
	assert_int_equal(gsasl_client_start(ctx, "XOAUTH2", &c), GSASL_OK);
	gsasl_property_set(c, GSASL_AUTHID, "alice@example.org");
	gsasl_property_set(c, GSASL_PASSWORD, "ya29.tok");
	out = client_step(c, "", &len, GSASL_OK);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(out, want, len);
	gsasl_free(out);
	/* The error challenge is answered with an empty response. */
	out = client_step(c, "{\"status\":\"400\"}", &len, GSASL_NEEDS_MORE);
	assert_int_equal(len, 0);
	gsasl_free(out);
	gsasl_finish(c);
	gsasl_done(ctx);
}

static void
test_oauthbearer_bytes(void **state)
{
	Gsasl *ctx;
	Gsasl_session *c;
	struct xoauth_hook hook = { 587 };
	char *out;
	size_t len;
	static const char want[] = "n,a=a=2Cb=3Dc,\x01"
	    "host=smtp.example.org\x01port=587\x01"
	    "auth=Bearer tok\x01\x01";

	(void)state;
	assert_int_equal(gsasl_init(&ctx), GSASL_OK);
	assert_int_equal(xoauth_register(ctx), GSASL_OK);
	assert_int_equal(gsasl_client_start(ctx, "OAUTHBEARER", &c),
	    GSASL_OK);
	gsasl_session_hook_set(c, &hook);
	gsasl_property_set(c, GSASL_AUTHID, "a,b=c");
	gsasl_property_set(c, GSASL_PASSWORD, "tok");
	gsasl_property_set(c, GSASL_HOSTNAME, "smtp.example.org");
	out = client_step(c, NULL, &len, GSASL_OK);
	assert_int_equal(len, sizeof(want) - 1);
	assert_memory_equal(out, want, len);
	gsasl_free(out);
	/* RFC 7628 3.2.3: an error challenge is answered with ^A. */
	out = client_step(c, "{\"status\":\"invalid_token\"}", &len,
	    GSASL_NEEDS_MORE);
	assert_int_equal(len, 1);
	assert_int_equal(out[0], 1);
	gsasl_free(out);
	gsasl_finish(c);
	/* A ^A in the token would end the field: refused. */
	assert_int_equal(gsasl_client_start(ctx, "OAUTHBEARER", &c), GSASL_OK);
	gsasl_property_set(c, GSASL_AUTHID, "alice");
	gsasl_property_set(c, GSASL_PASSWORD, "to\x01ken");
	out = client_step(c, NULL, &len, GSASL_AUTHENTICATION_ERROR);
	gsasl_free(out);
	gsasl_finish(c);
	gsasl_done(ctx);
}

struct choice {
	const char	*offered;
	int		 encrypted, loopback, cb;
	const char	*want;		/* NULL: refused with 69 */
};

static void
test_choose_on(void **state)
{
	static const struct choice t[] = {
	{ "PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS", 1, 0, 1,
	    "SCRAM-SHA-256-PLUS" },
	{ "PLAIN LOGIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS", 1, 0, 0,
	    "SCRAM-SHA-256" },
	{ "SCRAM-SHA-1-PLUS SCRAM-SHA-256 PLAIN", 1, 0, 1, "SCRAM-SHA-1-PLUS" },
	{ "SCRAM-SHA-1 PLAIN SCRAM-SHA-256", 1, 0, 0, "SCRAM-SHA-256" },
	{ "LOGIN SCRAM-SHA-1 PLAIN", 1, 0, 0, "SCRAM-SHA-1" },
	{ "LOGIN PLAIN CRAM-MD5", 1, 0, 0, "PLAIN" },
	{ "CRAM-MD5 LOGIN", 1, 0, 0, "LOGIN" },
	{ "CRAM-MD5", 1, 0, 0, "CRAM-MD5" },
	{ "XOAUTH2 PLAIN OAUTHBEARER", 1, 0, 0, "PLAIN" },
	{ "xoauth2 plain", 1, 0, 0, "PLAIN" },
	{ "XOAUTH2 OAUTHBEARER", 1, 0, 0, NULL },
	{ "GSSAPI NTLM", 1, 0, 0, NULL },
	/* Cleartext: only SCRAM, unless the peer is loopback. */
	{ "PLAIN LOGIN SCRAM-SHA-256", 0, 0, 0, "SCRAM-SHA-256" },
	{ "PLAIN LOGIN CRAM-MD5", 0, 0, 0, NULL },
	{ "PLAIN LOGIN", 0, 1, 0, "PLAIN" },
	{ "", 1, 0, 0, NULL },
	};
	struct error err;
	char mech[32];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		error_clear(&err);
		rc = auth_choose("on", t[i].offered, t[i].encrypted,
		    t[i].loopback, t[i].cb, mech, &err);
		if (t[i].want == NULL) {
			assert_int_equal(rc, -1);
			assert_int_equal(error_exit_code(&err), 69);
		} else {
			assert_int_equal(rc, 0);
			assert_string_equal(mech, t[i].want);
		}
	}
}

static void
test_cleartext_matrix(void **state)
{
	static const char *const mechs[] = { "PLAIN", "LOGIN", "CRAM-MD5",
	    "XOAUTH2", "OAUTHBEARER", "EXTERNAL", "SCRAM-SHA-1",
	    "SCRAM-SHA-256" };
	static const char offered[] = "PLAIN LOGIN CRAM-MD5 XOAUTH2 "
	    "OAUTHBEARER EXTERNAL SCRAM-SHA-1 SCRAM-SHA-256";
	struct error err;
	char mech[32];
	size_t i;
	int enc, loop, rc, scram;

	(void)state;
	for (i = 0; i < sizeof(mechs) / sizeof(mechs[0]); i++) {
		scram = strncmp(mechs[i], "SCRAM", 5) == 0;
		for (enc = 0; enc < 2; enc++) {
			for (loop = 0; loop < 2; loop++) {
				error_clear(&err);
				rc = auth_choose(mechs[i], offered, enc, loop,
				    0, mech, &err);
				if (enc || loop || scram) {
					assert_int_equal(rc, 0);
					assert_string_equal(mech, mechs[i]);
					continue;
				}
				assert_int_equal(rc, -1);
				assert_int_equal(error_exit_code(&err), 69);
				assert_non_null(strstr(err.msg,
				    "unencrypted"));
				assert_true(err.hint[0] != '\0');
			}
		}
	}
}

static void
test_named_not_offered(void **state)
{
	struct error err;
	char mech[32];

	(void)state;
	error_clear(&err);
	assert_int_equal(auth_choose("cram-md5", "PLAIN LOGIN", 1, 0, 0, mech,
	    &err), -1);
	assert_int_equal(error_exit_code(&err), 69);
	assert_non_null(strstr(err.msg, "CRAM-MD5"));
	assert_non_null(strstr(err.msg, "PLAIN LOGIN"));
	/* -PLUS without binding data. */
	error_clear(&err);
	assert_int_equal(auth_choose("SCRAM-SHA-256-PLUS",
	    "SCRAM-SHA-256-PLUS", 1, 0, 0, mech, &err), -1);
	assert_int_equal(error_exit_code(&err), 69);
}

static void
test_no_auth_capability(void **state)
{
	struct error err;
	char used[32];

	(void)state;
	M.caps.flags = 0;
	assert_int_equal(login("on", "alice", "secret", 1, 0, used, &err), -1);
	assert_int_equal(error_exit_code(&err), 69);
	assert_int_equal(M.nsent, 0);
}

static void
test_plain(void **state)
{
	struct error err;
	char used[32];

	(void)state;
	offer("LOGIN PLAIN");
	assert_int_equal(login("PLAIN", "alice", "secret", 1, 0, used, &err),
	    0);
	assert_string_equal(used, "PLAIN");
	assert_int_equal(M.nsent, 1);
	assert_string_equal(M.sent[0], "AUTH PLAIN AGFsaWNlAHNlY3JldA==");
	assert_string_equal(M.shown[0], "AUTH PLAIN ****");
}

static void
test_login(void **state)
{
	struct error err;
	char used[32];

	(void)state;
	offer("LOGIN");
	assert_int_equal(login("on", "alice", "secret", 1, 0, used, &err), 0);
	assert_string_equal(used, "LOGIN");
	assert_int_equal(M.nsent, 3);
	assert_string_equal(M.sent[0], "AUTH LOGIN");
	assert_null(M.shown[0]);
	assert_string_equal(M.sent[1], "YWxpY2U=");
	assert_string_equal(M.shown[1], "****");
	assert_string_equal(M.sent[2], "c2VjcmV0");
	assert_string_equal(M.shown[2], "****");
}

static void
test_cram_md5(void **state)
{
	struct error err;
	char used[32];

	(void)state;
	offer("CRAM-MD5");
	assert_int_equal(login("CRAM-MD5", "alice", "secret", 1, 0, used,
	    &err), 0);
	assert_int_equal(M.nsent, 2);
	assert_string_equal(M.shown[1], "****");
}

static void
test_scram_cleartext(void **state)
{
	struct error err;
	char used[32];

	(void)state;
	/* SCRAM may run in clear to a remote server; PLAIN may not. */
	offer("PLAIN SCRAM-SHA-256");
	assert_int_equal(login("on", "alice", "secret", 0, 0, used, &err), 0);
	assert_string_equal(used, "SCRAM-SHA-256");
	assert_string_equal(M.shown[0], "AUTH SCRAM-SHA-256 ****");
	assert_int_equal(strncmp(M.sent[0], "AUTH SCRAM-SHA-256 ", 19), 0);
	/* client-first, client-final, empty answer to server-final */
	assert_int_equal(M.nsent, 3);
	assert_string_equal(M.sent[2], "");
}

static void
test_scram_bad_server_proof(void **state)
{
	struct error err;
	char used[32];

	(void)state;
	/* An impostor that accepts anything cannot compute v=: refuse. */
	offer("SCRAM-SHA-256");
	M.tamper_final = 1;
	assert_int_equal(login("on", "alice", "secret", 1, 0, used, &err), -1);
	assert_int_equal(error_exit_code(&err), 77);
	assert_non_null(strstr(err.msg, "prove"));
	assert_string_equal(M.sent[M.nsent - 1], "*");
}

static void
test_scram_235_without_proof(void **state)
{
	struct error err;
	char used[32];

	(void)state;
	offer("SCRAM-SHA-256");
	M.skip_final = 1;
	assert_int_equal(login("on", "alice", "secret", 1, 0, used, &err), -1);
	assert_int_equal(error_exit_code(&err), 77);
	assert_non_null(strstr(err.msg, "without proving"));
}

static void
test_scram_sha1(void **state)
{
	struct error err;
	char used[32];

	(void)state;
	offer("SCRAM-SHA-1");
	assert_int_equal(login("on", "alice", "secret", 1, 0, used, &err), 0);
	assert_string_equal(used, "SCRAM-SHA-1");
}

static void
run_plus(const char *type, const char *cli, const char *srv, int want)
{
	struct error err;
	char used[32], gs2[32], *first = NULL;
	const char *ir;
	size_t len;

	offer("PLAIN SCRAM-SHA-256 SCRAM-SHA-256-PLUS");
	M.cli_cb = cli;
	M.cli_cbtype = type;
	M.srv_cb = srv;
	M.srv_cbtype = type;
	assert_int_equal(login("on", "alice", "secret", 1, 0, used, &err),
	    want);
	assert_string_equal(used, "SCRAM-SHA-256-PLUS");
	/* The GS2 header announces the binding type: "p=tls-unique,,". */
	ir = M.sent[0] + strlen("AUTH SCRAM-SHA-256-PLUS ");
	assert_int_equal(gsasl_base64_from(ir, strlen(ir), &first, &len),
	    GSASL_OK);
	snprintf(gs2, sizeof(gs2), "p=%s,,", type);
	assert_int_equal(strncmp(first, gs2, strlen(gs2)), 0);
	gsasl_free(first);
	if (want == -1) {
		/* Refused by the server, which checked the binding. */
		assert_int_equal(err.code, 535);
		assert_int_equal(error_exit_code(&err), 77);
	}
}

static void
test_scram_over_tls_without_plus(void **state)
{
	struct error err;
	char used[32];

	(void)state;
	/* Binding data exists, the server offers no -PLUS: plain SCRAM. */
	offer("PLAIN SCRAM-SHA-256");
	M.cli_cb = "ZXhwb3J0ZXItZGF0YS0zMi1ieXRlcy1sb25nLi4uLi4=";
	M.cli_cbtype = "tls-exporter";
	assert_int_equal(login("on", "alice", "secret", 1, 0, used, &err), 0);
	assert_string_equal(used, "SCRAM-SHA-256");
}

static void
test_plus_unique_ok(void **state)
{
	(void)state;
	run_plus("tls-unique", "Y2hhbm5lbC1iaW5kaW5nLTE=",
	    "Y2hhbm5lbC1iaW5kaW5nLTE=", 0);
}

static void
test_plus_exporter_ok(void **state)
{
	(void)state;
	run_plus("tls-exporter", "ZXhwb3J0ZXItZGF0YS0zMi1ieXRlcy1sb25nLi4uLi4=",
	    "ZXhwb3J0ZXItZGF0YS0zMi1ieXRlcy1sb25nLi4uLi4=", 0);
}

static void
test_plus_wrong_binding(void **state)
{
	(void)state;
	/* A man in the middle has a different channel: the server sees it. */
	run_plus("tls-unique", "Y2hhbm5lbC1iaW5kaW5nLTE=",
	    "b3RoZXItY2hhbm5lbC0yMjI=", -1);
}

static void
test_plus_wrong_exporter(void **state)
{
	(void)state;
	run_plus("tls-exporter", "ZXhwb3J0ZXItZGF0YS0zMi1ieXRlcy1sb25nLi4uLi4=",
	    "YW5vdGhlci1leHBvcnRlci1kYXRhLWZvci1hLW1pdG0=", -1);
}

static void
test_wrong_password(void **state)
{
	struct error err;
	char used[32];

	(void)state;
	offer("PLAIN");
	assert_int_equal(login("on", "alice", "wrong", 1, 0, used, &err), -1);
	assert_int_equal(error_exit_code(&err), 77);
	assert_int_equal(err.code, 535);
	assert_non_null(strstr(err.reply, "authentication failed"));
	assert_null(strstr(err.msg, "wrong"));
}

static void
test_temporary_failure(void **state)
{
	static const struct script_reply s[] = {
		{ 454, "4.7.0 Temporary authentication failure" },
	};
	struct error err;
	char used[32];

	(void)state;
	offer("PLAIN");
	M.script = s;
	M.nscript = 1;
	assert_int_equal(login("on", "alice", "secret", 1, 0, used, &err), -1);
	assert_int_equal(error_exit_code(&err), 75);
	assert_non_null(strstr(err.reply, "Temporary"));
}

static void
test_xoauth2_dialogue(void **state)
{
	static const struct script_reply s[] = {
		{ 334, "" },
		{ 235, "2.7.0 Authentication successful" },
	};
	struct error err;
	char used[32];

	(void)state;
	offer("PLAIN XOAUTH2");
	M.script = s;
	M.nscript = 2;
	assert_int_equal(login("XOAUTH2", "alice", "tok", 1, 0, used, &err),
	    0);
	assert_int_equal(M.nsent, 2);
	assert_string_equal(M.sent[0], "AUTH XOAUTH2");
	/* base64("user=alice^Aauth=Bearer tok^A^A") */
	assert_string_equal(M.sent[1], "dXNlcj1hbGljZQFhdXRoPUJlYXJlciB0b2sBAQ==");
	assert_string_equal(M.shown[1], "****");
}

static void
test_external(void **state)
{
	static const struct script_reply s[] = {
		{ 235, "2.7.0 Authentication successful" },
	};
	struct error err;
	char used[32];

	(void)state;
	/* The client certificate is the credential: an empty response. */
	offer("PLAIN EXTERNAL");
	M.script = s;
	M.nscript = 1;
	assert_int_equal(login("EXTERNAL", "", "", 1, 0, used, &err), 0);
	assert_int_equal(M.nsent, 1);
	assert_string_equal(M.sent[0], "AUTH EXTERNAL =");
}

static void
test_oauthbearer_error(void **state)
{
	/* base64 of {"status":"invalid_token"} */
	static const struct script_reply s[] = {
		{ 334, "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0=" },
		{ 535, "5.7.8 Error: authentication failed" },
	};
	struct error err;
	char used[32];

	(void)state;
	offer("OAUTHBEARER");
	M.script = s;
	M.nscript = 2;
	assert_int_equal(login("OAUTHBEARER", "alice", "bad", 1, 0, used,
	    &err), -1);
	assert_int_equal(error_exit_code(&err), 77);
	assert_int_equal(M.nsent, 2);
	assert_string_equal(M.shown[0], "AUTH OAUTHBEARER ****");
	assert_string_equal(M.sent[1], "AQ==");
	assert_non_null(strstr(err.msg, "invalid_token"));
}

static void
test_cleartext_refused_sends_nothing(void **state)
{
	struct error err;
	char used[32];

	(void)state;
	offer("PLAIN LOGIN");
	assert_int_equal(login("PLAIN", "alice", "secret", 0, 0, used, &err),
	    -1);
	assert_int_equal(error_exit_code(&err), 69);
	assert_int_equal(M.nsent, 0);
	/* The same on loopback is allowed. */
	assert_int_equal(login("PLAIN", "alice", "secret", 0, 1, used, &err),
	    0);
}

static void
test_account_helpers(void **state)
{
	struct account acc;

	(void)state;
	/* config_load() leaves auth NULL for "off" (config_auth()). */
	memset(&acc, 0, sizeof(acc));
	assert_int_equal(auth_needs_secret(&acc), 0);
	acc.user = (char *)"alice";
	acc.auth = (char *)"on";
	assert_int_equal(auth_needs_secret(&acc), 1);
	acc.auth = (char *)"EXTERNAL";
	assert_int_equal(auth_needs_secret(&acc), 0);
	acc.auth = (char *)"XOAUTH2";
	assert_int_equal(auth_needs_secret(&acc), 1);
}

#define T(f)	cmocka_unit_test_setup_teardown(f, setup, teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_xoauth2_bytes),
		T(test_oauthbearer_bytes),
		T(test_choose_on),
		T(test_cleartext_matrix),
		T(test_named_not_offered),
		T(test_no_auth_capability),
		T(test_plain),
		T(test_login),
		T(test_cram_md5),
		T(test_scram_cleartext),
		T(test_scram_bad_server_proof),
		T(test_scram_235_without_proof),
		T(test_scram_sha1),
		T(test_scram_over_tls_without_plus),
		T(test_plus_unique_ok),
		T(test_plus_exporter_ok),
		T(test_plus_wrong_binding),
		T(test_plus_wrong_exporter),
		T(test_wrong_password),
		T(test_temporary_failure),
		T(test_xoauth2_dialogue),
		T(test_external),
		T(test_oauthbearer_error),
		T(test_cleartext_refused_sends_nothing),
		T(test_account_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
