/*
 * test_tls.c: tls.c against a GnuTLS server forked on a socketpair, with
 * certificates made here: verification verdicts and their messages,
 * pinning, resumption through the ticket file, the cleartext-greeting
 * diagnosis, deadlines, client certificates, and large writes through the
 * non-blocking transport.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <glob.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "error.h"
#include "io.h"
#include "tls.h"

#define DAY	(24 * 60 * 60)

/* The test PKI, made once. */
static struct {
	gnutls_x509_privkey_t	 ca_key, ca2_key, key, client_key;
	gnutls_x509_crt_t	 ca, ca2, good, expired, notyet, wrong, self,
				 client;
	gnutls_datum_t		 ticket_key;
	char			 dir[64];
	char			 ca_file[128], ca2_file[128];
	char			 client_cert_file[128], client_key_file[128];
	char			 good_sha256[200], good_sha1[200];
} P;

enum srv_mode { SRV_TLS, SRV_CLEARTEXT, SRV_SILENT };

struct srv {
	enum srv_mode		 mode;
	gnutls_x509_crt_t	 crt;
	gnutls_x509_privkey_t	 key;
	const char		*prio;		/* NULL: NORMAL */
	const char		*banner;	/* cleartext mode */
	long			 sink;		/* > 0: count bytes, then reply */
	int			 require_cert;
};

struct conn {
	struct io	*io;
	struct tls	*tls;
	pid_t		 pid;
};

static gnutls_x509_privkey_t
make_key(void)
{
	gnutls_x509_privkey_t k;

	assert_int_equal(gnutls_x509_privkey_init(&k), 0);
	assert_int_equal(gnutls_x509_privkey_generate(k, GNUTLS_PK_ECDSA,
	    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0), 0);
	return k;
}

/* A certificate for key, signed by issuer (NULL: self-signed). */
static gnutls_x509_crt_t
make_cert(const char *cn, const char *dns, time_t from, time_t until,
    gnutls_x509_privkey_t key, gnutls_x509_crt_t issuer,
    gnutls_x509_privkey_t ikey, int ca)
{
	static unsigned char serial = 0;
	gnutls_x509_crt_t c;

	serial++;
	assert_int_equal(gnutls_x509_crt_init(&c), 0);
	gnutls_x509_crt_set_version(c, 3);
	gnutls_x509_crt_set_serial(c, &serial, 1);
	gnutls_x509_crt_set_activation_time(c, from);
	gnutls_x509_crt_set_expiration_time(c, until);
	gnutls_x509_crt_set_dn_by_oid(c, GNUTLS_OID_X520_COMMON_NAME, 0, cn,
	    strlen(cn));
	if (dns != NULL)
		gnutls_x509_crt_set_subject_alt_name(c, GNUTLS_SAN_DNSNAME, dns,
		    strlen(dns), GNUTLS_FSAN_SET);
	assert_int_equal(gnutls_x509_crt_set_key(c, key), 0);
	gnutls_x509_crt_set_basic_constraints(c, ca, -1);
	gnutls_x509_crt_set_key_usage(c, ca ? GNUTLS_KEY_KEY_CERT_SIGN :
	    GNUTLS_KEY_DIGITAL_SIGNATURE);
	assert_int_equal(gnutls_x509_crt_sign2(c, issuer != NULL ? issuer : c,
	    issuer != NULL ? ikey : key, GNUTLS_DIG_SHA256, 0), 0);
	return c;
}

static void
write_pem(const char *path, gnutls_x509_crt_t crt, gnutls_x509_privkey_t key)
{
	gnutls_datum_t d;
	FILE *fp;

	if (crt != NULL)
		assert_int_equal(gnutls_x509_crt_export2(crt,
		    GNUTLS_X509_FMT_PEM, &d), 0);
	else
		assert_int_equal(gnutls_x509_privkey_export2(key,
		    GNUTLS_X509_FMT_PEM, &d), 0);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fwrite(d.data, 1, d.size, fp);
	fclose(fp);
	gnutls_free(d.data);
}

static void
fingerprint(gnutls_x509_crt_t crt, gnutls_digest_algorithm_t algo, char *out)
{
	unsigned char der[4096], md[64];
	size_t derlen = sizeof(der), mdlen = sizeof(md), i;
	gnutls_datum_t d;

	assert_int_equal(gnutls_x509_crt_export(crt, GNUTLS_X509_FMT_DER, der,
	    &derlen), 0);
	d.data = der;
	d.size = (unsigned int)derlen;
	assert_int_equal(gnutls_fingerprint(algo, &d, md, &mdlen), 0);
	for (i = 0; i < mdlen; i++) {
		static const char hx[] = "0123456789ABCDEF";

		out[3 * i] = hx[md[i] >> 4];
		out[3 * i + 1] = hx[md[i] & 15];
		out[3 * i + 2] = i + 1 < mdlen ? ':' : '\0';
	}
}

static int
group_setup(void **state)
{
	time_t now = time(NULL);

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	snprintf(P.dir, sizeof(P.dir), "/tmp/test_tls.XXXXXX");
	assert_non_null(mkdtemp(P.dir));
	P.ca_key = make_key();
	P.ca2_key = make_key();
	P.key = make_key();
	P.client_key = make_key();
	P.ca = make_cert("Test CA", NULL, now - DAY, now + 365 * DAY,
	    P.ca_key, NULL, NULL, 1);
	P.ca2 = make_cert("Other CA", NULL, now - DAY, now + 365 * DAY,
	    P.ca2_key, NULL, NULL, 1);
	P.good = make_cert("localhost", "localhost", now - DAY,
	    now + 365 * DAY, P.key, P.ca, P.ca_key, 0);
	P.expired = make_cert("localhost", "localhost", now - 30 * DAY,
	    now - 10 * DAY, P.key, P.ca, P.ca_key, 0);
	P.notyet = make_cert("localhost", "localhost", now + 10 * DAY,
	    now + 30 * DAY, P.key, P.ca, P.ca_key, 0);
	P.wrong = make_cert("wrong.example", "wrong.example", now - DAY,
	    now + 365 * DAY, P.key, P.ca, P.ca_key, 0);
	P.self = make_cert("localhost", "localhost", now - DAY,
	    now + 365 * DAY, P.key, NULL, NULL, 0);
	P.client = make_cert("alice", NULL, now - DAY, now + 365 * DAY,
	    P.client_key, P.ca, P.ca_key, 0);
	snprintf(P.ca_file, sizeof(P.ca_file), "%s/ca.pem", P.dir);
	snprintf(P.ca2_file, sizeof(P.ca2_file), "%s/ca2.pem", P.dir);
	snprintf(P.client_cert_file, sizeof(P.client_cert_file),
	    "%s/client.pem", P.dir);
	snprintf(P.client_key_file, sizeof(P.client_key_file),
	    "%s/client-key.pem", P.dir);
	write_pem(P.ca_file, P.ca, NULL);
	write_pem(P.ca2_file, P.ca2, NULL);
	write_pem(P.client_cert_file, P.client, NULL);
	write_pem(P.client_key_file, NULL, P.client_key);
	fingerprint(P.good, GNUTLS_DIG_SHA256, P.good_sha256);
	fingerprint(P.good, GNUTLS_DIG_SHA1, P.good_sha1);
	assert_int_equal(gnutls_session_ticket_key_generate(&P.ticket_key), 0);
	return 0;
}

static int
group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", P.dir);
	return system(cmd) == 0 ? 0 : -1;
}

/*
 * The server, in a child process: TLS, then "220 hi", then either echo
 * every record back or count sink bytes and answer "250 <count>".
 */
static void
tls_server(int fd, const struct srv *o)
{
	gnutls_certificate_credentials_t cred;
	gnutls_session_t s;
	char buf[65536], reply[64];
	long total = 0;
	ssize_t n;
	int ret, len;

	gnutls_certificate_allocate_credentials(&cred);
	gnutls_certificate_set_x509_key(cred, (gnutls_x509_crt_t *)&o->crt,
	    1, o->key != NULL ? o->key : P.key);
	gnutls_certificate_set_x509_trust(cred, &P.ca, 1);
	gnutls_init(&s, GNUTLS_SERVER);
	gnutls_priority_set_direct(s, o->prio != NULL ? o->prio : "NORMAL",
	    NULL);
	gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
	gnutls_session_ticket_enable_server(s, &P.ticket_key);
	if (o->require_cert)
		gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUIRE);
	gnutls_transport_set_int(s, fd);
	do {
		ret = gnutls_handshake(s);
	} while (ret < 0 && !gnutls_error_is_fatal(ret));
	if (ret < 0) {
		/* As real servers do: say why, then wait for the client. */
		gnutls_alert_send_appropriate(s, ret);
		shutdown(fd, SHUT_WR);
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		_exit(1);
	}
	gnutls_record_send(s, "220 hi\r\n", 8);
	while ((n = gnutls_record_recv(s, buf, sizeof(buf))) != 0) {
		if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED)
			continue;
		if (n < 0)
			break;
		if (o->sink == 0) {
			gnutls_record_send(s, buf, (size_t)n);
			continue;
		}
		total += n;
		if (total >= o->sink) {
			len = snprintf(reply, sizeof(reply), "250 %ld\r\n",
			    total);
			gnutls_record_send(s, reply, (size_t)len);
		}
	}
	gnutls_bye(s, GNUTLS_SHUT_WR);
	_exit(0);
}

static pid_t
serve(int fd, int other, const struct srv *o)
{
	char buf[4096];
	pid_t pid;

	pid = fork();
	assert_true(pid >= 0);
	if (pid > 0)
		return pid;
	close(other);
	alarm(20);	/* never outlive a stuck test */
	if (o->mode == SRV_TLS)
		tls_server(fd, o);
	if (o->mode == SRV_CLEARTEXT &&
	    write(fd, o->banner, strlen(o->banner)) < 0)
		_exit(1);
	while (read(fd, buf, sizeof(buf)) > 0)
		;	/* never answer */
	_exit(0);
}

static void
default_params(struct tls_params *p)
{
	memset(p, 0, sizeof(*p));
	p->host = "localhost";
	p->trust_file = P.ca_file;
	p->certcheck = 1;
}

static void
conn_open(struct conn *c, const struct srv *o, int timeout_ms)
{
	int sv[2];

	memset(c, 0, sizeof(*c));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	c->pid = serve(sv[1], sv[0], o);
	close(sv[1]);
	c->io = io_new(sv[0], timeout_ms);
	assert_non_null(c->io);
}

/* tls_new + implicit handshake; returns what the handshake returned. */
static int
conn_tls(struct conn *c, const struct srv *o, const struct tls_params *p,
    struct error *err)
{
	conn_open(c, o, 5000);
	error_clear(err);
	if (tls_new(&c->tls, p, err) == -1)
		return -1;
	return tls_handshake(c->tls, c->io, 1, err);
}

static void
conn_close(struct conn *c)
{
	int status;

	io_free(c->io);
	tls_free(c->tls);
	kill(c->pid, SIGTERM);
	waitpid(c->pid, &status, 0);
}

static void
expect_line(struct conn *c, const char *want)
{
	struct error err;
	char *line;
	size_t len;

	error_clear(&err);
	if (io_readline(c->io, &line, &len, 1024,
	    io_deadline(c->io), &err) != 0)
		fail_msg("reading \"%s\": %s", want, err.msg);
	assert_string_equal(line, want);
}

static void
expect_cert_error(const struct srv *o, const struct tls_params *p,
    const char *want1, const char *want2)
{
	struct conn c;
	struct error err;

	assert_int_equal(conn_tls(&c, o, p, &err), -1);
	assert_int_equal(err.kind, ERR_CERT);
	assert_int_equal(error_exit_code(&err), 69);
	if (strstr(err.msg, want1) == NULL ||
	    (want2 != NULL && strstr(err.msg, want2) == NULL))
		fail_msg("message \"%s\" lacks \"%s\"/\"%s\"", err.msg, want1,
		    want2 != NULL ? want2 : "");
	assert_false(tls_active(c.tls));
	conn_close(&c);
}

static void
test_good_exchange(void **state)
{
	struct srv o = { SRV_TLS, P.good, NULL, NULL, NULL, 0, 0 };
	struct tls_params p;
	struct conn c;
	struct error err;
	char *info = NULL;
	size_t infolen = 0;
	FILE *fp;

	(void)state;
	default_params(&p);
	if (conn_tls(&c, &o, &p, &err) != 0)
		fail_msg("handshake: %s", err.msg);
	assert_true(tls_active(c.tls));
	assert_false(tls_client_cert_missing(c.tls));
	assert_non_null(strstr(tls_summary(c.tls), "TLS1.3/TLS_"));
	expect_line(&c, "220 hi");
	assert_int_equal(io_puts(c.io, "EHLO x\r\n", &err), 0);
	assert_int_equal(io_flush(c.io, io_deadline(c.io), &err), 0);
	expect_line(&c, "EHLO x");
	fp = open_memstream(&info, &infolen);
	tls_print_info(c.tls, fp);
	fclose(fp);
	assert_non_null(strstr(info, "CN=localhost"));
	assert_non_null(strstr(info, "CN=Test CA"));
	assert_non_null(strstr(info, P.good_sha256));
	assert_non_null(strstr(info, "full handshake"));
	free(info);
	conn_close(&c);
}

static void
test_channel_binding(void **state)
{
	struct srv o = { SRV_TLS, P.good, NULL, NULL, NULL, 0, 0 };
	struct tls_params p;
	struct conn c;
	struct error err;
	const char *type;
	char *b64;

	(void)state;
	default_params(&p);
	assert_int_equal(conn_tls(&c, &o, &p, &err), 0);
	assert_int_equal(tls_channel_binding(c.tls, &b64, &type, &err), 0);
	assert_string_equal(type, "tls-exporter");
	assert_int_equal(strlen(b64), 44);	/* 32 bytes */
	free(b64);
	conn_close(&c);

	o.prio = "NORMAL:-VERS-TLS1.3";
	assert_int_equal(conn_tls(&c, &o, &p, &err), 0);
	assert_non_null(strstr(tls_summary(c.tls), "TLS1.2/"));
	assert_int_equal(tls_channel_binding(c.tls, &b64, &type, &err), 0);
	assert_string_equal(type, "tls-unique");
	assert_true(strlen(b64) >= 16);
	free(b64);
	conn_close(&c);
}

static void
test_bad_certificates(void **state)
{
	struct srv o = { SRV_TLS, P.expired, NULL, NULL, NULL, 0, 0 };
	struct tls_params p;

	(void)state;
	default_params(&p);
	expect_cert_error(&o, &p, "expired on", "valid from");
	o.crt = P.notyet;
	expect_cert_error(&o, &p, "not valid yet", "valid from");
	o.crt = P.wrong;
	expect_cert_error(&o, &p, "for wrong.example, not for localhost",
	    NULL);
	o.crt = P.self;
	expect_cert_error(&o, &p, "self-signed", "CN=localhost");
	o.crt = P.good;
	p.trust_file = P.ca2_file;
	expect_cert_error(&o, &p, "not trusted", "CN=Test CA");
}

/* No tls_trust_file: the system bundle, here $SSL_CERT_FILE. */
static void
test_system_trust(void **state)
{
	struct srv o = { SRV_TLS, P.good, NULL, NULL, NULL, 0, 0 };
	char bundle[128], cmd[512];
	struct tls_params p;
	struct conn c;
	struct error err;

	(void)state;
	snprintf(bundle, sizeof(bundle), "%s/bundle.pem", P.dir);
	snprintf(cmd, sizeof(cmd), "cat '%s' '%s' > '%s'", P.ca2_file,
	    P.ca_file, bundle);
	assert_int_equal(system(cmd), 0);
	setenv("SSL_CERT_FILE", bundle, 1);
	default_params(&p);
	p.trust_file = NULL;
	if (conn_tls(&c, &o, &p, &err) != 0)
		fail_msg("handshake: %s", err.msg);
	expect_line(&c, "220 hi");
	conn_close(&c);
	o.crt = P.wrong;
	expect_cert_error(&o, &p, "for wrong.example, not for localhost",
	    NULL);
	o.crt = P.expired;
	expect_cert_error(&o, &p, "expired on", NULL);

	setenv("SSL_CERT_FILE", P.ca2_file, 1);	/* our CA is not in it */
	o.crt = P.good;
	expect_cert_error(&o, &p, "not trusted", "CN=Test CA");
	unsetenv("SSL_CERT_FILE");
}

static void
test_host_override(void **state)
{
	struct srv o = { SRV_TLS, P.wrong, NULL, NULL, NULL, 0, 0 };
	struct tls_params p;
	struct conn c;
	struct error err;

	(void)state;
	default_params(&p);
	p.host = "wrong.example";
	if (conn_tls(&c, &o, &p, &err) != 0)
		fail_msg("handshake: %s", err.msg);
	conn_close(&c);
}

static void
test_pinning(void **state)
{
	struct srv o = { SRV_TLS, P.self, NULL, NULL, NULL, 0, 0 };
	char self256[200];
	struct tls_params p;
	struct conn c;
	struct error err;

	(void)state;
	fingerprint(P.self, GNUTLS_DIG_SHA256, self256);
	default_params(&p);
	p.trust_file = NULL;	/* a pin needs no CA */
	p.fingerprint = self256;
	if (conn_tls(&c, &o, &p, &err) != 0)
		fail_msg("pinned handshake: %s", err.msg);
	conn_close(&c);

	/* The right pin for another certificate: refused, the seen one shown. */
	o.crt = P.good;
	expect_cert_error(&o, &p, "does not match tls_fingerprint",
	    P.good_sha256);

	p.fingerprint = P.good_sha1;	/* accepted, with a warning */
	if (conn_tls(&c, &o, &p, &err) != 0)
		fail_msg("SHA-1 pinned handshake: %s", err.msg);
	conn_close(&c);

	p.fingerprint = "12:34:zz";
	assert_int_equal(tls_new(&c.tls, &p, &err), -1);
	assert_int_equal(err.kind, ERR_CONFIG);
}

static void
test_certcheck_off(void **state)
{
	struct srv o = { SRV_TLS, P.self, NULL, NULL, NULL, 0, 0 };
	struct tls_params p;
	struct conn c;
	struct error err;

	(void)state;
	default_params(&p);
	p.certcheck = 0;
	if (conn_tls(&c, &o, &p, &err) != 0)
		fail_msg("handshake: %s", err.msg);
	expect_line(&c, "220 hi");
	conn_close(&c);
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
test_cleartext_greeting(void **state)
{
	struct srv o = { SRV_CLEARTEXT, NULL, NULL, NULL,
	    "220 mail.example ESMTP ready\r\n", 0, 0 };
	struct tls_params p;
	struct conn c;
	struct error err;
	long long t0 = now_ms();

	(void)state;
	default_params(&p);
	assert_int_equal(conn_tls(&c, &o, &p, &err), -1);
	assert_true(now_ms() - t0 < 3000);
	assert_int_equal(err.kind, ERR_TLS);
	assert_non_null(strstr(err.msg, "expects STARTTLS"));
	assert_non_null(strstr(err.msg, "220 mail.example ESMTP ready"));
	assert_non_null(strstr(err.hint, "587"));
	conn_close(&c);
}

static void
test_handshake_deadline(void **state)
{
	struct srv o = { SRV_SILENT, NULL, NULL, NULL, NULL, 0, 0 };
	struct tls_params p;
	struct conn c;
	struct error err;
	long long t0;

	(void)state;
	default_params(&p);
	conn_open(&c, &o, 300);
	assert_int_equal(tls_new(&c.tls, &p, &err), 0);
	t0 = now_ms();
	assert_int_equal(tls_handshake(c.tls, c.io, 1, &err), -1);
	assert_true(now_ms() - t0 >= 250);
	assert_true(now_ms() - t0 < 3000);
	assert_int_equal(err.kind, ERR_NETWORK);
	assert_int_equal(error_exit_code(&err), 75);
	conn_close(&c);
}

static void
test_bytes_before_handshake(void **state)
{
	struct srv o = { SRV_CLEARTEXT, NULL, NULL, NULL,
	    "220 go ahead\r\nINJECTED\r\n", 0, 0 };
	struct tls_params p;
	struct conn c;
	struct error err;

	(void)state;
	default_params(&p);
	conn_open(&c, &o, 2000);
	assert_int_equal(tls_new(&c.tls, &p, &err), 0);
	expect_line(&c, "220 go ahead");
	assert_int_equal(tls_handshake(c.tls, c.io, 0, &err), -1);
	assert_int_equal(err.kind, ERR_PROTOCOL);
	conn_close(&c);
}

static int
file_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st) == -1)
		return -1;
	return (int)(st.st_mode & 07777);
}

static void
copy_file(const char *from, const char *to)
{
	char buf[8192];
	FILE *in, *out;
	size_t n;

	in = fopen(from, "r");
	out = fopen(to, "w");
	assert_non_null(in);
	assert_non_null(out);
	while ((n = fread(buf, 1, sizeof(buf), in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
}

/* One connection with the ticket cache; returns the -v output. */
static char *
resume_run(const struct srv *o, struct tls_params *p, int expect_ok)
{
	struct conn c;
	struct error err;
	char *out = NULL;
	size_t outlen = 0;
	FILE *fp;
	int ret;

	fp = open_memstream(&out, &outlen);
	p->verbose = fp;
	ret = conn_tls(&c, o, p, &err);
	if (expect_ok && ret != 0)
		fail_msg("handshake: %s", err.msg);
	if (!expect_ok && ret == 0)
		fail_msg("handshake should have failed");
	if (ret == 0)
		expect_line(&c, "220 hi");	/* TLS 1.3 tickets come here */
	else
		assert_int_equal(err.kind, ERR_CERT);
	conn_close(&c);
	fclose(fp);
	p->verbose = NULL;
	return out;
}

static void
resume_check(const char *prio)
{
	struct srv o = { SRV_TLS, P.good, NULL, NULL, NULL, 0, 0 };
	char cache[128], pattern[192], file[256], trust[192], *out;
	struct tls_params p;
	glob_t g;
	FILE *fp;

	snprintf(cache, sizeof(cache), "%s/cache-%s/smtpsend", P.dir,
	    prio != NULL ? "12" : "13");
	snprintf(pattern, sizeof(pattern), "%s/h_465_u-*.tls", cache);
	o.prio = prio;
	snprintf(trust, sizeof(trust), "%s/trust-%s.pem", P.dir,
	    prio != NULL ? "12" : "13");
	copy_file(P.ca_file, trust);
	default_params(&p);
	p.trust_file = trust;
	p.cache_dir = cache;
	p.cache_key = "h:465:u";

	out = resume_run(&o, &p, 1);
	assert_non_null(strstr(out, "full handshake"));
	free(out);
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	assert_int_equal(g.gl_pathc, 1);
	snprintf(file, sizeof(file), "%s", g.gl_pathv[0]);
	globfree(&g);
	assert_int_equal(file_mode(file), 0600);
	assert_int_equal(file_mode(cache), 0700);

	out = resume_run(&o, &p, 1);
	assert_non_null(strstr(out, "TLS session resumed"));
	free(out);

	/* A resumed session is verified again: trust withdrawn, refused. */
	copy_file(P.ca2_file, trust);
	free(resume_run(&o, &p, 0));
	copy_file(P.ca_file, trust);

	/* Other settings never see this ticket. */
	p.cert_file = P.client_cert_file;
	p.key_file = P.client_key_file;
	out = resume_run(&o, &p, 1);
	assert_non_null(strstr(out, "full handshake"));
	free(out);
	p.cert_file = p.key_file = NULL;

	/* A damaged ticket only costs a full handshake. */
	fp = fopen(file, "w");
	assert_non_null(fp);
	fputs("garbage", fp);
	fclose(fp);
	out = resume_run(&o, &p, 1);
	assert_non_null(strstr(out, "full handshake"));
	free(out);
}

static void
test_resumption_tls13(void **state)
{
	(void)state;
	resume_check(NULL);
}

static void
test_resumption_tls12(void **state)
{
	(void)state;
	resume_check("NORMAL:-VERS-TLS1.3");
}

static void
test_client_certificate(void **state)
{
	struct srv o = { SRV_TLS, P.good, NULL, NULL, NULL, 0, 1 };
	struct tls_params p;
	struct conn c;
	struct error err;
	char *line;
	size_t len;

	(void)state;
	default_params(&p);
	/* TLS 1.3: the server's refusal arrives after our handshake ended. */
	if (conn_tls(&c, &o, &p, &err) == 0) {
		assert_true(tls_client_cert_missing(c.tls));
		assert_int_equal(io_readline(c.io, &line, &len, 1024,
		    io_deadline(c.io), &err),
		    -1);
	}
	if (err.kind != ERR_CERT)
		fail_msg("wanted ERR_CERT, got: %s", err.msg);
	assert_non_null(strstr(err.msg, "requires a client certificate"));
	assert_non_null(strstr(err.hint, "tls_cert_file"));
	conn_close(&c);

	p.cert_file = P.client_cert_file;
	p.key_file = P.client_key_file;
	if (conn_tls(&c, &o, &p, &err) != 0)
		fail_msg("handshake with client certificate: %s", err.msg);
	expect_line(&c, "220 hi");
	conn_close(&c);
}

static void
test_min_version(void **state)
{
	struct srv o = { SRV_TLS, P.good, NULL, "NORMAL:-VERS-TLS1.3", NULL,
	    0, 0 };
	struct tls_params p;
	struct conn c;
	struct error err;

	(void)state;
	default_params(&p);
	p.min_version = "1.3";
	assert_int_equal(conn_tls(&c, &o, &p, &err), -1);
	if (err.kind != ERR_TLS)
		fail_msg("wanted ERR_TLS, got: %s", err.msg);
	if (strstr(err.hint, "tls_min_version 1.2") == NULL)
		fail_msg("%s / %s", err.msg, err.hint);
	conn_close(&c);

	p.min_version = "1.1";
	assert_int_equal(tls_new(&c.tls, &p, &err), -1);
	assert_int_equal(err.kind, ERR_CONFIG);

	p.min_version = NULL;
	p.priorities = "NORMAL:+NOSUCHTHING";
	assert_int_equal(tls_new(&c.tls, &p, &err), -1);
	assert_int_equal(err.kind, ERR_CONFIG);
	assert_non_null(strstr(err.msg, "NOSUCHTHING"));
}

/* Far more than the socket buffers hold: IO_WANT_WRITE must work. */
static void
test_large_write(void **state)
{
	struct srv o = { SRV_TLS, P.good, NULL, NULL, NULL, 4 << 20, 0 };
	struct tls_params p;
	struct conn c;
	struct error err;
	char chunk[1000], want[32];
	int i;

	(void)state;
	default_params(&p);
	assert_int_equal(conn_tls(&c, &o, &p, &err), 0);
	expect_line(&c, "220 hi");
	memset(chunk, 'x', sizeof(chunk));
	for (i = 0; i < (4 << 20) / (int)sizeof(chunk); i++)
		if (io_write(c.io, chunk, sizeof(chunk), &err) != 0)
			fail_msg("write: %s", err.msg);
	if (io_write(c.io, chunk, (4 << 20) % sizeof(chunk), &err) != 0 ||
	    io_flush(c.io, io_deadline(c.io), &err) != 0)
		fail_msg("flush: %s", err.msg);
	snprintf(want, sizeof(want), "250 %d", 4 << 20);
	expect_line(&c, want);
	conn_close(&c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_exchange),
		cmocka_unit_test(test_channel_binding),
		cmocka_unit_test(test_bad_certificates),
		cmocka_unit_test(test_system_trust),
		cmocka_unit_test(test_host_override),
		cmocka_unit_test(test_pinning),
		cmocka_unit_test(test_certcheck_off),
		cmocka_unit_test(test_cleartext_greeting),
		cmocka_unit_test(test_handshake_deadline),
		cmocka_unit_test(test_bytes_before_handshake),
		cmocka_unit_test(test_resumption_tls13),
		cmocka_unit_test(test_resumption_tls12),
		cmocka_unit_test(test_client_certificate),
		cmocka_unit_test(test_min_version),
		cmocka_unit_test(test_large_write),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
