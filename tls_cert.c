/*
 * tls_cert.c: what the server's certificate says, and why it is refused.
 * Every refusal names the cause (dates, issuer, names, fingerprint) and
 * the setting that fixes it.
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <fcntl.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include "error.h"
#include "hex.h"
#include "tls_cert.h"

#define FP_TEXT_MAX	(3 * 64 + 1)	/* colon hex of a SHA-512 at most */
#define SYSTEM_BUNDLE	"/etc/ssl/certs/ca-certificates.crt"
#define BUNDLE_MAX	(16 * 1024 * 1024)
#define CHAIN_MAX	16
#define PEM_BEGIN	"-----BEGIN CERTIFICATE-----"
#define PEM_END		"-----END CERTIFICATE-----"

static void
format_time(time_t when, char *buf, size_t size)
{
	struct tm tm;

	if (when == (time_t)-1 || gmtime_r(&when, &tm) == NULL)
		snprintf(buf, size, "(unknown)");
	else
		strftime(buf, size, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static void
hex_colon(const unsigned char *d, size_t n, char *out, size_t size)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < n && o + 3 < size; i++) {
		if (i > 0)
			out[o++] = ':';
		out[o++] = digits[d[i] >> 4];
		out[o++] = digits[d[i] & 0xf];
	}
	out[o] = '\0';
}

/* "AB:CD:..." (colons optional) into bytes; 0 or -1. */
int
tls_cert_parse_fingerprint(const char *s, unsigned char *out, size_t max, size_t *len)
{
	size_t n = 0;
	int hi, lo;

	while (*s != '\0') {
		if (*s == ':') {
			s++;
			continue;
		}
		hi = hex_value((unsigned char)s[0]);
		lo = hi < 0 ? -1 : hex_value((unsigned char)s[1]);
		if (lo < 0 || n == max)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | lo);
		s += 2;
	}
	*len = n;
	return 0;
}

static int
cert_fingerprint(const gnutls_datum_t *der, gnutls_digest_algorithm_t algo,
    char *out, size_t size)
{
	unsigned char md[64];
	size_t mdlen = sizeof(md);

	if (gnutls_fingerprint(algo, der, md, &mdlen) < 0) {
		snprintf(out, size, "(unknown)");
		return -1;
	}
	hex_colon(md, mdlen, out, size);
	return 0;
}

/* A DN as text into buf ("(unknown)" on failure). */
static void
cert_dn(gnutls_x509_crt_t crt, int issuer, char *buf, size_t size)
{
	gnutls_datum_t dn = { NULL, 0 };
	int ret;

	if (issuer)
		ret = gnutls_x509_crt_get_issuer_dn3(crt, &dn, 0);
	else
		ret = gnutls_x509_crt_get_dn3(crt, &dn, 0);
	if (ret < 0)
		snprintf(buf, size, "(unknown)");
	else
		snprintf(buf, size, "%.*s", (int)dn.size, (char *)dn.data);
	gnutls_free(dn.data);
}

/* The names a certificate is valid for: DNS and IP SANs, else the CN. */
static void
cert_names(gnutls_x509_crt_t crt, char *buf, size_t size)
{
	char name[256], ip[INET6_ADDRSTRLEN];
	size_t len, used = 0;
	unsigned int i;
	int type;

	buf[0] = '\0';
	for (i = 0; used + 1 < size; i++) {
		len = sizeof(name) - 1;
		type = gnutls_x509_crt_get_subject_alt_name(crt, i, name, &len,
		    NULL);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (type == GNUTLS_SAN_DNSNAME) {
			name[len] = '\0';
		} else if (type == GNUTLS_SAN_IPADDRESS &&
		    (len == 4 || len == 16)) {
			inet_ntop(len == 4 ? AF_INET : AF_INET6, name, ip,
			    sizeof(ip));
			snprintf(name, sizeof(name), "%s", ip);
		} else {
			continue;
		}
		len = (size_t)snprintf(buf + used, size - used, "%s%s",
		    used > 0 ? ", " : "", name);
		used = used + len < size ? used + len : size - 1;
	}
	if (buf[0] != '\0')
		return;
	len = sizeof(name);
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
	    0, name, &len) == 0)
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "(no names)");
}

/* The peer's leaf certificate, parsed; NULL if there is none. */
static gnutls_x509_crt_t
peer_cert(gnutls_session_t s, const gnutls_datum_t **der)
{
	const gnutls_datum_t *certs;
	gnutls_x509_crt_t crt;
	unsigned int n = 0;

	certs = gnutls_certificate_get_peers(s, &n);
	if (certs == NULL || n == 0)
		return NULL;
	if (gnutls_x509_crt_init(&crt) < 0)
		return NULL;
	if (gnutls_x509_crt_import(crt, &certs[0], GNUTLS_X509_FMT_DER) < 0) {
		gnutls_x509_crt_deinit(crt);
		return NULL;
	}
	*der = &certs[0];
	return crt;
}

static int
verify_pin(const struct tls_cert_policy *pol, const gnutls_datum_t *der,
    struct error *err)
{
	char seen[FP_TEXT_MAX], seen256[FP_TEXT_MAX];
	unsigned char md[32];
	size_t mdlen = sizeof(md);
	gnutls_digest_algorithm_t algo;

	algo = pol->pinlen == 20 ? GNUTLS_DIG_SHA1 : GNUTLS_DIG_SHA256;
	cert_fingerprint(der, GNUTLS_DIG_SHA256, seen256, sizeof(seen256));
	if (gnutls_fingerprint(algo, der, md, &mdlen) < 0 ||
	    mdlen != pol->pinlen || memcmp(md, pol->pin, mdlen) != 0) {
		cert_fingerprint(der, algo, seen, sizeof(seen));
		error_set(err, ERR_CERT, "the server's certificate does "
		    "not match tls_fingerprint: its %s fingerprint is %s",
		    pol->pinlen == 20 ? "SHA-1" : "SHA-256", seen);
		error_hint(err, "if the server's certificate was replaced "
		    "on purpose, check the new one and set tls_fingerprint %s",
		    seen256);
		return -1;
	}
	if (pol->pinlen == 20)
		fprintf(stderr, "smtpsend: warning: tls_fingerprint is a SHA-1 "
		    "fingerprint, which is weak; use the SHA-256 one: "
		    "tls_fingerprint %s\n", seen256);
	return 0;
}

static void
explain_untrusted(gnutls_x509_crt_t crt, const gnutls_datum_t *der,
    struct error *err)
{
	char dn[512], fp[FP_TEXT_MAX];

	cert_fingerprint(der, GNUTLS_DIG_SHA256, fp, sizeof(fp));
	if (gnutls_x509_crt_check_issuer(crt, crt)) {
		cert_dn(crt, 0, dn, sizeof(dn));
		error_set(err, ERR_CERT, "the server's certificate is "
		    "self-signed (%s), not issued by a trusted authority", dn);
		error_hint(err, "if you trust this server, set "
		    "tls_trust_file to its certificate, or after checking it "
		    "set tls_fingerprint %s", fp);
		return;
	}
	cert_dn(crt, 1, dn, sizeof(dn));
	error_set(err, ERR_CERT, "the server's certificate was issued by "
	    "an authority that is not trusted: %s", dn);
	error_hint(err, "set tls_trust_file to the certificate of that "
	    "authority (PEM), or after checking it set tls_fingerprint %s", fp);
}

static void
explain_status(const struct tls_cert_policy *pol, gnutls_x509_crt_t crt,
    const gnutls_datum_t *der, unsigned int status, struct error *err)
{
	char from[40], until[40], names[512];
	gnutls_datum_t out = { NULL, 0 };

	format_time(gnutls_x509_crt_get_activation_time(crt), from,
	    sizeof(from));
	format_time(gnutls_x509_crt_get_expiration_time(crt), until,
	    sizeof(until));
	if (status & GNUTLS_CERT_SIGNER_NOT_FOUND) {
		explain_untrusted(crt, der, err);
	} else if (status & GNUTLS_CERT_EXPIRED) {
		error_set(err, ERR_CERT, "the server's certificate "
		    "expired on %s (valid from %s until %s)", until, from, until);
		error_hint(err, "the server's administrator must renew "
		    "it; if the dates look wrong, check this machine's clock");
	} else if (status & GNUTLS_CERT_NOT_ACTIVATED) {
		error_set(err, ERR_CERT, "the server's certificate is not "
		    "valid yet (valid from %s until %s)", from, until);
		error_hint(err, "check this machine's clock, or wait "
		    "until the certificate becomes valid");
	} else if (status & GNUTLS_CERT_UNEXPECTED_OWNER) {
		cert_names(crt, names, sizeof(names));
		error_set(err, ERR_CERT, "the server's certificate is for "
		    "%s, not for %s", names, pol->host != NULL ? pol->host : "?");
		error_hint(err, "set host to a name in the certificate, "
		    "or set tls_host_override to the name to check");
	} else {
		gnutls_certificate_verification_status_print(status,
		    GNUTLS_CRT_X509, &out, 0);
		error_set(err, ERR_CERT, "the server's certificate is "
		    "not valid: %s", out.data != NULL ? (char *)out.data : "?");
		gnutls_free(out.data);
	}
}

/*
 * The whole file, NUL-terminated and malloc'ed, or NULL with errno set (0
 * for an empty or oversized file).
 */
static char *
read_file(const char *path, struct stat *stp)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd, saved;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return NULL;
	errno = 0;
	if (fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size < BUNDLE_MAX &&
	    (buf = malloc((size_t)st.st_size + 1)) != NULL) {
		n = read(fd, buf, (size_t)st.st_size);
		if (n != st.st_size) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			if (stp != NULL)
				*stp = st;
		}
	}
	saved = errno;
	close(fd);
	errno = saved;
	return buf;
}

static int
names_any(const gnutls_datum_t *der, const gnutls_datum_t *dn, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		if (dn[i].size > 0 && memmem(der->data, der->size, dn[i].data,
		    dn[i].size) != NULL)
			return 1;
	return 0;
}

/*
 * Add to tl the CAs of the PEM bundle at path that may have issued a chain
 * member: those whose DER holds one of the issuer names.  The others are
 * decoded but never parsed: parsing all of Debian's bundle would cost ~18 ms
 * per run, and a CA that names none of the issuers cannot take part in the
 * chain, so the verdict is the one the whole bundle gives.  *found counts
 * the certificates in the file, *added those put in tl.  -1 with errno if
 * the file cannot be read.
 */
/*
 * The base64 body of a PEM block (line ends and blanks skipped) into out,
 * which has room for len bytes.  GnuTLS's PEM decoder costs six times as
 * much, and a bundle is ~200 KB of base64 read at every full handshake.
 * -1 on a character that is not base64.
 */
static int
base64_body(const char *in, size_t len, unsigned char *out, size_t *outlen)
{
	static const char set[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	static signed char val[256];
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0, v;

	if (val[0] == 0) {
		memset(val, -1, sizeof(val));
		for (i = 0; i < 64; i++)
			val[(unsigned char)set[i]] = (signed char)i;
		val[' '] = val['\t'] = val['\r'] = val['\n'] = -2;
	}
	for (i = 0; i < len && in[i] != '='; i++) {
		v = val[(unsigned char)in[i]];
		if (v == -2)
			continue;
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*outlen = o;
	return o > 0 ? 0 : -1;
}

/* The issuer names, packed as 2-byte length + bytes, for the record. */
static int
pack_names(unsigned char *out, size_t size, size_t *used,
    const gnutls_datum_t *dn, unsigned n)
{
	size_t o = 0;
	unsigned i;

	for (i = 0; i < n; i++) {
		if (dn[i].size > 0xffff || o + 2 + dn[i].size > size)
			return -1;
		out[o++] = (unsigned char)(dn[i].size >> 8);
		out[o++] = (unsigned char)dn[i].size;
		memcpy(out + o, dn[i].data, dn[i].size);
		o += dn[i].size;
	}
	*used = o;
	return 0;
}

static unsigned
unpack_names(const unsigned char *in, size_t len, gnutls_datum_t *dn,
    unsigned max)
{
	size_t o = 0, l;
	unsigned n = 0;

	while (o + 2 <= len && n < max) {
		l = (size_t)in[o] << 8 | in[o + 1];
		if (o + 2 + l > len)
			break;
		dn[n].data = (unsigned char *)(uintptr_t)(in + o + 2);
		dn[n++].size = (unsigned int)l;
		o += 2 + l;
	}
	return n;
}

/*
 * Walk the PEM certificates of buf: count them, and for those whose DER
 * names one of the issuers, hash the DER into md (when not NULL) and add
 * them to tl (when not NULL).  -1 if memory is short.
 */
static int
candidates(const char *buf, size_t size, const gnutls_datum_t *dn,
    unsigned n, gnutls_x509_trust_list_t tl, unsigned char *md,
    unsigned *found, unsigned *added)
{
	gnutls_hash_hd_t h = NULL;
	gnutls_datum_t der;
	gnutls_x509_crt_t ca;
	unsigned char *out;
	const char *b, *e;
	size_t len;

	*found = *added = 0;
	/* Each DER fits in the buffer its base64 came from. */
	if ((out = malloc(size + 1)) == NULL)
		return -1;
	if (md != NULL && gnutls_hash_init(&h, GNUTLS_DIG_SHA256) < 0) {
		free(out);
		return -1;
	}
	der.data = out;
	for (b = strstr(buf, PEM_BEGIN); b != NULL; b = strstr(e, PEM_BEGIN)) {
		if ((e = strstr(b, PEM_END)) == NULL)
			break;
		b += strlen(PEM_BEGIN);
		if (base64_body(b, (size_t)(e - b), out, &len) == -1)
			continue;
		e += strlen(PEM_END);
		der.size = (unsigned int)len;
		(*found)++;
		if (!names_any(&der, dn, n))
			continue;
		if (h != NULL)
			gnutls_hash(h, out, len);
		if (tl == NULL || gnutls_x509_crt_init(&ca) < 0)
			continue;
		if (gnutls_x509_crt_import(ca, &der, GNUTLS_X509_FMT_DER) < 0 ||
		    gnutls_x509_trust_list_add_cas(tl, &ca, 1, 0) != 1)
			gnutls_x509_crt_deinit(ca);
		else
			(*added)++;
	}
	if (h != NULL)
		gnutls_hash_deinit(h, md);
	free(out);
	return 0;
}

/*
 * The trust file for the record: its identity, the issuer names of the
 * chain, and a digest of the CAs that name them (the only ones that can
 * take part in the verification: the rest may change freely).
 */
static void
note_trust(struct tls_cert_basis *b, const char *path, const struct stat *st,
    const gnutls_datum_t *dn, unsigned n)
{
	if (b == NULL)
		return;
	snprintf(b->trust, sizeof(b->trust), "%s", path);
	b->dev = (unsigned long long)st->st_dev;
	b->ino = (unsigned long long)st->st_ino;
	b->size = (unsigned long long)st->st_size;
	b->mtime_s = (long long)st->st_mtim.tv_sec;
	b->mtime_ns = (long long)st->st_mtim.tv_nsec;
	b->ctime_s = (long long)st->st_ctim.tv_sec;
	b->ctime_ns = (long long)st->st_ctim.tv_nsec;
	b->recorded = pack_names(b->names, sizeof(b->names), &b->nameslen,
	    dn, n) == 0;
}

static int
add_issuers(gnutls_x509_trust_list_t tl, const char *path,
    const gnutls_datum_t *dn, unsigned n, unsigned *found, unsigned *added,
    struct tls_cert_basis *basis)
{
	struct stat st;
	char *buf;
	int ret;

	*found = *added = 0;
	if ((buf = read_file(path, &st)) == NULL)
		return -1;
	note_trust(basis, path, &st, dn, n);
	ret = candidates(buf, (size_t)st.st_size, dn, n, tl,
	    basis != NULL ? basis->digest : NULL, found, added);
	free(buf);
	if (ret == -1 && basis != NULL)
		basis->recorded = 0;
	return ret;
}

/*
 * The CAs that may have issued the chain, from tls_trust_file (the file as
 * it is now), else from the system bundle ($SSL_CERT_FILE or Debian's),
 * else from GnuTLS's own idea of the system store.
 */
static int
add_trust(gnutls_x509_trust_list_t tl, const struct tls_cert_policy *pol,
    const gnutls_datum_t *dn, unsigned n, struct error *err)
{
	const char *path = pol->trust_file;
	unsigned found, added;
	int ret;

	if (path != NULL) {
		ret = add_issuers(tl, path, dn, n, &found, &added,
		    pol->basis);
		if (ret == -1 && errno != 0) {
			error_set(err, ERR_CONFIG, "tls_trust_file %s: %s",
			    path, strerror(errno));
			error_hint(err, "tls_trust_file must name a readable "
			    "file of PEM CA certificates");
			return -1;
		}
		if (found == 0) {
			error_set(err, ERR_CONFIG, "tls_trust_file %s: no "
			    "certificate found in it", path);
			error_hint(err, "tls_trust_file must name a readable "
			    "file of PEM CA certificates");
			return -1;
		}
	} else {
		path = getenv("SSL_CERT_FILE");
		if (path == NULL || path[0] == '\0')
			path = SYSTEM_BUNDLE;
		if (add_issuers(tl, path, dn, n, &found, &added,
		    pol->basis) == -1 &&
		    gnutls_x509_trust_list_add_system_trust(tl, 0, 0) <= 0) {
			error_set(err, ERR_CONFIG, "no system trust store to "
			    "check the server's certificate against");
			error_hint(err, "install ca-certificates, or set "
			    "tls_trust_file to the CA certificate of the "
			    "server");
			return -1;
		}
		path = "the system trust store";
	}
	if (pol->verbose != NULL)
		fprintf(pol->verbose, "--- trust: %u of the %u certificates in "
		    "%s may have issued the chain\n", added, found, path);
	return 0;
}

/* The chain against the trusted CAs and the name; *status as GnuTLS's. */
static int
verify_lazy(gnutls_session_t s, const struct tls_cert_policy *pol,
    unsigned int *status, struct error *err)
{
	gnutls_x509_crt_t chain[CHAIN_MAX];
	gnutls_datum_t dn[CHAIN_MAX];
	gnutls_typed_vdata_st vd[2];
	gnutls_x509_trust_list_t tl = NULL;
	const gnutls_datum_t *certs;
	unsigned int i, n = 0, nvd = 0;
	int ret = -1;

	certs = gnutls_certificate_get_peers(s, &n);
	if (n > CHAIN_MAX)
		n = CHAIN_MAX;
	memset(dn, 0, sizeof(dn));
	for (i = 0; i < n; i++) {
		if (gnutls_x509_crt_init(&chain[i]) < 0)
			break;
		if (gnutls_x509_crt_import(chain[i], &certs[i],
		    GNUTLS_X509_FMT_DER) < 0 ||
		    gnutls_x509_crt_get_raw_issuer_dn(chain[i], &dn[i]) < 0) {
			gnutls_x509_crt_deinit(chain[i]);
			break;
		}
	}
	n = i;
	if (n == 0 || gnutls_x509_trust_list_init(&tl, 0) < 0) {
		error_set(err, ERR_CERT, "cannot read the server's certificate");
		goto done;
	}
	if (add_trust(tl, pol, dn, n, err) == -1)
		goto done;
	if (pol->host != NULL) {
		vd[nvd].type = GNUTLS_DT_DNS_HOSTNAME;
		vd[nvd].data = (unsigned char *)(uintptr_t)pol->host;
		vd[nvd++].size = 0;
	}
	vd[nvd].type = GNUTLS_DT_KEY_PURPOSE_OID;
	vd[nvd].data = (unsigned char *)(uintptr_t)GNUTLS_KP_TLS_WWW_SERVER;
	vd[nvd++].size = 0;
	if (gnutls_x509_trust_list_verify_crt2(tl, chain, n, vd, nvd, 0,
	    status, NULL) < 0)
		error_set(err, ERR_CERT, "cannot verify the server's "
		    "certificate");
	else
		ret = 0;
done:
	if (tl != NULL)
		gnutls_x509_trust_list_deinit(tl, 1);
	for (i = 0; i < n; i++) {
		gnutls_x509_crt_deinit(chain[i]);
		gnutls_free(dn[i].data);
	}
	return ret;
}

/* After a verification that passed: what it relied on, for the ticket. */
static void
record_basis(const struct tls_cert_policy *pol, gnutls_x509_crt_t crt,
    int ret)
{
	struct tls_cert_basis *b = pol->basis;

	if (ret != 0) {
		memset(b, 0, sizeof(*b));
		return;
	}
	b->certcheck = pol->certcheck;
	b->pinlen = pol->pinlen;
	if (pol->pinlen > 0 && pol->pinlen <= sizeof(b->pin))
		memcpy(b->pin, pol->pin, pol->pinlen);
	b->not_after = (long long)gnutls_x509_crt_get_expiration_time(crt);
	/* A pin needs no trust file; a chain checked by the lazy path was
	   recorded with the file it read. */
	if (pol->pinlen > 0)
		b->recorded = 1;
	else if (!pol->system_trust)
		b->recorded = 0;
}

int
tls_cert_verify(gnutls_session_t s, const struct tls_cert_policy *pol,
    struct error *err)
{
	const gnutls_datum_t *der = NULL;
	gnutls_x509_crt_t crt;
	unsigned int status = 0;
	int ret = 0;

	if (pol->basis != NULL)
		memset(pol->basis, 0, sizeof(*pol->basis));
	if (pol->pinlen == 0 && !pol->certcheck) {
		if (pol->basis != NULL)
			pol->basis->recorded = 1;
		return 0;
	}
	crt = peer_cert(s, &der);
	if (crt == NULL)
		return error_set(err, ERR_CERT, "the server sent no usable "
		    "certificate");
	if (pol->pinlen > 0) {
		ret = verify_pin(pol, der, err);
	} else if (pol->system_trust) {
		ret = verify_lazy(s, pol, &status, err);
		if (ret == 0 && status != 0) {
			explain_status(pol, crt, der, status, err);
			ret = -1;
		}
	} else if (gnutls_certificate_verify_peers3(s, pol->host,
	    &status) < 0) {
		/* The credentials' CAs and CRLs: nothing is recorded. */
		ret = error_set(err, ERR_CERT, "cannot verify the server's "
		    "certificate");
	} else if (status != 0) {
		explain_status(pol, crt, der, status, err);
		ret = -1;
	}
	if (pol->basis != NULL)
		record_basis(pol, crt, ret);
	gnutls_x509_crt_deinit(crt);
	return ret;
}

/*
 * The trust file as it is now is the one b was verified against: the same
 * inode, size and times; or else (rewritten, as update-ca-certificates
 * does) the CAs that may have issued the chain are byte for byte the same.
 */
static int
same_trust(const struct tls_cert_basis *b, const char *path)
{
	gnutls_datum_t dn[CHAIN_MAX];
	unsigned char md[32];
	unsigned n, found, added;
	struct stat st;
	char *buf;
	int ret;

	if (strcmp(b->trust, path) != 0 || stat(path, &st) == -1)
		return 0;
	if ((unsigned long long)st.st_dev == b->dev &&
	    (unsigned long long)st.st_ino == b->ino &&
	    (unsigned long long)st.st_size == b->size &&
	    (long long)st.st_mtim.tv_sec == b->mtime_s &&
	    (long long)st.st_mtim.tv_nsec == b->mtime_ns &&
	    (long long)st.st_ctim.tv_sec == b->ctime_s &&
	    (long long)st.st_ctim.tv_nsec == b->ctime_ns)
		return 1;
	n = unpack_names(b->names, b->nameslen, dn, CHAIN_MAX);
	if ((buf = read_file(path, &st)) == NULL)
		return 0;
	ret = candidates(buf, (size_t)st.st_size, dn, n, NULL, md, &found,
	    &added);
	free(buf);
	return ret == 0 && memcmp(md, b->digest, sizeof(md)) == 0;
}

int
tls_cert_basis_holds(const struct tls_cert_basis *b,
    const struct tls_cert_policy *pol, const char **why)
{
	const char *path;

	*why = "it records no verification";
	if (!b->recorded)
		return 0;
	*why = "tls_certcheck or tls_fingerprint changed";
	if (b->certcheck != pol->certcheck || b->pinlen != pol->pinlen ||
	    (pol->pinlen > 0 && memcmp(b->pin, pol->pin, pol->pinlen) != 0))
		return 0;
	if (pol->pinlen == 0 && !pol->certcheck)
		return 1;
	*why = "the server's certificate has expired since";
	if ((long long)time(NULL) >= b->not_after)
		return 0;
	if (pol->pinlen > 0)
		return 1;
	*why = "what is trusted changed since";
	if (!pol->system_trust)
		return 0;	/* CRLs: only a new check knows */
	path = pol->trust_file;
	if (path == NULL) {
		path = getenv("SSL_CERT_FILE");
		if (path == NULL || path[0] == '\0')
			path = SYSTEM_BUNDLE;
	}
	return b->trust[0] != '\0' && same_trust(b, path);
}

void
tls_cert_print(gnutls_session_t s, FILE *fp)
{
	const gnutls_datum_t *der = NULL;
	gnutls_x509_crt_t crt;
	char buf[1024];

	crt = peer_cert(s, &der);
	if (crt == NULL) {
		fprintf(fp, "Certificate: none\n");
		return;
	}
	fprintf(fp, "Certificate:\n");
	cert_dn(crt, 0, buf, sizeof(buf));
	fprintf(fp, "    subject:      %s\n", buf);
	cert_names(crt, buf, sizeof(buf));
	fprintf(fp, "    names:        %s\n", buf);
	cert_dn(crt, 1, buf, sizeof(buf));
	fprintf(fp, "    issuer:       %s\n", buf);
	format_time(gnutls_x509_crt_get_activation_time(crt), buf, sizeof(buf));
	fprintf(fp, "    valid from:   %s\n", buf);
	format_time(gnutls_x509_crt_get_expiration_time(crt), buf, sizeof(buf));
	fprintf(fp, "    valid until:  %s\n", buf);
	cert_fingerprint(der, GNUTLS_DIG_SHA256, buf, sizeof(buf));
	fprintf(fp, "    SHA-256:      %s\n", buf);
	cert_fingerprint(der, GNUTLS_DIG_SHA1, buf, sizeof(buf));
	fprintf(fp, "    SHA-1:        %s (deprecated)\n", buf);
	gnutls_x509_crt_deinit(crt);
}
