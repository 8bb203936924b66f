/*
 * config_keyword.c: the keyword table of ~/.smtprc and what each value
 * means; the account record the table describes (new, copy, free).
 *
 * The table { keyword, type, offsetof(field), bit } drives both the
 * parser and inheritance: a keyword's bit in account.set says it was
 * given, so copying from defaults or a parent copies exactly that.
 *
 * msmtp keywords we do not list in DESIGN.md, and what we do with them:
 *
 *   keyword                  decision
 *   add_missing_from_header  old name: on = set_from_header auto, off = off
 *   add_missing_date_header  old name: on = set_date_header auto, off = off
 *   keepbcc                  old name: on = remove_bcc_headers off
 *   tls_nostarttls           old name: tls_starttls off
 *   tls_nocertcheck          old name: tls_certcheck off
 *   connect_timeout          old name: timeout
 *   auto_from, maildomain    obsolete; honoured: from becomes %U@maildomain
 *   tls_crl_file             honoured: CRLs checked with the chain (tls.c)
 *   protocol                 honoured: lmtp speaks LMTP (RFC 2033), default
 *                            port 2003 as in msmtp
 *   eval                     honoured (config.c): the line is replaced by
 *                            the first line of the command's output, as
 *                            in msmtp
 *   ntlmdomain               accepted, ignored (only NTLM uses it)
 *   tls_min_dh_prime_bits    accepted, ignored (GnuTLS's own minimum)
 *   source_ip, proxy_host,   honoured (connect.c): bind, SOCKS5, Unix
 *   proxy_port, socket       socket, as msmtp documents them
 *   tls_force_sslv3          refused unless off
 *   set_to_header            refused unless off: we do not replace the
 *                            recipient headers (rewrite_headers only
 *                            qualifies bare names in them)
 *   rewrite_headers          ours (message_out.c): bare names in address
 *                            headers qualified, on by default
 *   undisclosed_recipients   honoured (message_out.c): To, Cc and Bcc
 *                            replaced by "To: undisclosed-recipients:;"
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_priv.h"
#include "error.h"

enum kw_type {
	KT_STR,		/* string; empty = unset */
	KT_NEEDARG,	/* string that must not be empty (host) */
	KT_FILE,	/* file name with ~ expansion; empty = unset */
	KT_PORT,	/* 1..65535 */
	KT_TIMEOUT,	/* seconds > 0, or off (0) */
	KT_BOOL,	/* on/off, empty = on */
	KT_BOOL_NOT,	/* on/off stored inverted (keepbcc) */
	KT_OFF,		/* takes no value, sets the field off */
	KT_AUTH,	/* on/off/mechanism */
	KT_SYSLOG,	/* on/off/facility */
	KT_DSN_NOTIFY,	/* off/never/success,failure,delay */
	KT_DSN_RETURN,	/* off/headers/full */
	KT_FROM_HDR,	/* auto/on/off, empty = auto (msmtp 1.8.23) */
	KT_AUTO_OFF,	/* auto/off, empty = auto */
	KT_ADD_MISSING,	/* on = auto, off = off (old add_missing_*) */
	KT_TRUST,	/* "system" = NULL, empty = "" (no CA) */
	KT_FINGERPRINT,	/* 01:23:... of 20 or 32 bytes (MD5's 16 refused) */
	KT_TLS_VERSION,	/* 1.2 or 1.3 */
	KT_IGNORE,	/* accepted, not used */
	KT_REFUSE_VALUE,/* only the empty value is accepted */
	KT_REFUSE_ON,	/* only off is accepted */
	KT_PROTOCOL,	/* smtp (CFG_OFF) or lmtp (CFG_ON) */
	KT_PORT_EMPTY,	/* 1..65535, empty = default (0) */
	KT_IP,		/* numeric IPv4 or IPv6 address, empty = unset */
	KT_PROVIDER,	/* google, microsoft or custom; empty = unset */
	KT_URL,		/* an https:// URL; empty = unset */
	KT_SECRET,	/* a string that is a secret (wiped, file checked) */
	KT_LIFETIME,	/* a number with a unit s, m, h or d */
};

struct keyword {
	const char	*name;
	enum kw_type	 type;
	size_t		 off;	/* offsetof(struct account, field) */
	int		 bit;	/* enum acc_bit, or -1 without a field */
	const char	*why;	/* why a refused value cannot be honoured */
};

#define F(field, bit)	offsetof(struct account, field), bit
#define NOFIELD		0, -1

/* Sorted by name for bsearch(). */
static const struct keyword keywords[] = {
	{ "add_missing_date_header", KT_ADD_MISSING,
	    F(set_date_header, ACC_SET_DATE_HEADER), NULL },
	{ "add_missing_from_header", KT_ADD_MISSING,
	    F(set_from_header, ACC_SET_FROM_HEADER), NULL },
	{ "aliases", KT_FILE, F(aliases, ACC_ALIASES), NULL },
	{ "allow_from_override", KT_BOOL,
	    F(allow_from_override, ACC_ALLOW_FROM_OVERRIDE), NULL },
	{ "auth", KT_AUTH, F(auth, ACC_AUTH), NULL },
	{ "auto_from", KT_BOOL, F(auto_from, ACC_AUTO_FROM), NULL },
	{ "connect_timeout", KT_TIMEOUT, F(timeout, ACC_TIMEOUT), NULL },
	{ "domain", KT_STR, F(domain, ACC_DOMAIN), NULL },
	{ "dsn_notify", KT_DSN_NOTIFY, F(dsn_notify, ACC_DSN_NOTIFY), NULL },
	{ "dsn_return", KT_DSN_RETURN, F(dsn_return, ACC_DSN_RETURN), NULL },
	{ "from", KT_STR, F(from, ACC_FROM), NULL },
	{ "from_full_name", KT_STR,
	    F(from_full_name, ACC_FROM_FULL_NAME), NULL },
	{ "host", KT_NEEDARG, F(host, ACC_HOST), NULL },
	{ "keepbcc", KT_BOOL_NOT,
	    F(remove_bcc_headers, ACC_REMOVE_BCC_HEADERS), NULL },
	{ "logfile", KT_FILE, F(logfile, ACC_LOGFILE), NULL },
	{ "logfile_time_format", KT_STR,
	    F(logfile_time_format, ACC_LOGFILE_TIME_FORMAT), NULL },
	{ "maildomain", KT_STR, F(maildomain, ACC_MAILDOMAIN), NULL },
	{ "ntlmdomain", KT_IGNORE, NOFIELD, NULL },
	{ "oauth2_auth_endpoint", KT_URL,
	    F(oauth2_auth_endpoint, ACC_OAUTH2_AUTH_ENDPOINT), NULL },
	{ "oauth2_client_id", KT_STR,
	    F(oauth2_client_id, ACC_OAUTH2_CLIENT_ID), NULL },
	{ "oauth2_client_secret", KT_SECRET,
	    F(oauth2_client_secret, ACC_OAUTH2_CLIENT_SECRET), NULL },
	{ "oauth2_client_secret_eval", KT_STR,
	    F(oauth2_client_secret_eval, ACC_OAUTH2_CLIENT_SECRET_EVAL), NULL },
	{ "oauth2_device_endpoint", KT_URL,
	    F(oauth2_device_endpoint, ACC_OAUTH2_DEVICE_ENDPOINT), NULL },
	{ "oauth2_provider", KT_PROVIDER,
	    F(oauth2_provider, ACC_OAUTH2_PROVIDER), NULL },
	{ "oauth2_scope", KT_STR, F(oauth2_scope, ACC_OAUTH2_SCOPE), NULL },
	{ "oauth2_tenant", KT_STR, F(oauth2_tenant, ACC_OAUTH2_TENANT), NULL },
	{ "oauth2_token_endpoint", KT_URL,
	    F(oauth2_token_endpoint, ACC_OAUTH2_TOKEN_ENDPOINT), NULL },
	{ "oauth2_token_file", KT_FILE,
	    F(oauth2_token_file, ACC_OAUTH2_TOKEN_FILE), NULL },
	{ "password", KT_STR, F(password, ACC_PASSWORD), NULL },
	{ "passwordeval", KT_STR, F(passwordeval, ACC_PASSWORDEVAL), NULL },
	{ "port", KT_PORT, F(port, ACC_PORT), NULL },
	{ "protocol", KT_PROTOCOL, F(lmtp, ACC_PROTOCOL), NULL },
	{ "proxy_host", KT_STR, F(proxy_host, ACC_PROXY_HOST), NULL },
	{ "proxy_port", KT_PORT_EMPTY, F(proxy_port, ACC_PROXY_PORT), NULL },
	{ "queue", KT_BOOL, F(queue, ACC_QUEUE), NULL },
	{ "queue_dir", KT_FILE, F(queue_dir, ACC_QUEUE_DIR), NULL },
	{ "queue_lifetime", KT_LIFETIME,
	    F(queue_lifetime, ACC_QUEUE_LIFETIME), NULL },
	{ "remove_bcc_headers", KT_BOOL,
	    F(remove_bcc_headers, ACC_REMOVE_BCC_HEADERS), NULL },
	{ "rewrite_headers", KT_BOOL,
	    F(rewrite_headers, ACC_REWRITE_HEADERS), NULL },
	{ "set_date_header", KT_AUTO_OFF,
	    F(set_date_header, ACC_SET_DATE_HEADER), NULL },
	{ "set_from_header", KT_FROM_HDR,
	    F(set_from_header, ACC_SET_FROM_HEADER), NULL },
	{ "set_msgid_header", KT_AUTO_OFF,
	    F(set_msgid_header, ACC_SET_MSGID_HEADER), NULL },
	{ "set_to_header", KT_REFUSE_ON, NOFIELD,
	    "rewriting the To header is not supported" },
	{ "socket", KT_FILE, F(socket, ACC_SOCKET), NULL },
	{ "source_ip", KT_IP, F(source_ip, ACC_SOURCE_IP), NULL },
	{ "syslog", KT_SYSLOG, F(syslog, ACC_SYSLOG), NULL },
	{ "timeout", KT_TIMEOUT, F(timeout, ACC_TIMEOUT), NULL },
	{ "tls", KT_BOOL, F(tls, ACC_TLS), NULL },
	{ "tls_cert_file", KT_FILE, F(tls_cert_file, ACC_TLS_CERT_FILE), NULL },
	{ "tls_certcheck", KT_BOOL, F(tls_certcheck, ACC_TLS_CERTCHECK), NULL },
	{ "tls_crl_file", KT_FILE, F(tls_crl_file, ACC_TLS_CRL_FILE), NULL },
	{ "tls_fingerprint", KT_FINGERPRINT,
	    F(tls_fingerprint, ACC_TLS_FINGERPRINT), NULL },
	{ "tls_force_sslv3", KT_REFUSE_ON, NOFIELD,
	    "SSLv3 is insecure and not supported" },
	{ "tls_host_override", KT_STR,
	    F(tls_host_override, ACC_TLS_HOST_OVERRIDE), NULL },
	{ "tls_key_file", KT_FILE, F(tls_key_file, ACC_TLS_KEY_FILE), NULL },
	{ "tls_min_dh_prime_bits", KT_IGNORE, NOFIELD, NULL },
	{ "tls_min_version", KT_TLS_VERSION,
	    F(tls_min_version, ACC_TLS_MIN_VERSION), NULL },
	{ "tls_nocertcheck", KT_OFF,
	    F(tls_certcheck, ACC_TLS_CERTCHECK), NULL },
	{ "tls_nostarttls", KT_OFF, F(tls_starttls, ACC_TLS_STARTTLS), NULL },
	{ "tls_priorities", KT_STR,
	    F(tls_priorities, ACC_TLS_PRIORITIES), NULL },
	{ "tls_starttls", KT_BOOL, F(tls_starttls, ACC_TLS_STARTTLS), NULL },
	{ "tls_trust_file", KT_TRUST,
	    F(tls_trust_file, ACC_TLS_TRUST_FILE), NULL },
	{ "undisclosed_recipients", KT_BOOL,
	    F(undisclosed_recipients, ACC_UNDISCLOSED_RECIPIENTS), NULL },
	{ "user", KT_STR, F(user, ACC_USER), NULL },
};
#define NKEYWORDS	(sizeof(keywords) / sizeof(keywords[0]))

_Static_assert(ACC_NBITS <= 64, "account.set and account.kwline hold 64");

static const char *const auth_mechs[] = {
	"plain", "login", "cram-md5", "digest-md5", "scram-sha-1",
	"scram-sha-1-plus", "scram-sha-256", "scram-sha-256-plus", "ntlm",
	"gssapi", "external", "oauthbearer", "xoauth2", NULL
};

static int
kw_is_string(enum kw_type t)
{
	switch (t) {
	case KT_STR: case KT_NEEDARG: case KT_FILE: case KT_AUTH:
	case KT_SYSLOG: case KT_DSN_NOTIFY: case KT_DSN_RETURN: case KT_TRUST:
	case KT_FINGERPRINT: case KT_TLS_VERSION: case KT_IP:
	case KT_PROVIDER: case KT_URL: case KT_SECRET:
		return 1;
	default:
		return 0;
	}
}

static char **
str_field(struct account *acc, const struct keyword *kw)
{
	return (char **)(void *)((char *)acc + kw->off);
}

static int *
int_field(struct account *acc, const struct keyword *kw)
{
	return (int *)(void *)((char *)acc + kw->off);
}

struct account *
config_account_new(void)
{
	struct account *acc;

	acc = calloc(1, sizeof(*acc));
	if (acc == NULL)
		return NULL;
	acc->tls = CFG_ON;
	acc->tls_starttls = CFG_AUTO;
	acc->tls_certcheck = CFG_ON;
	acc->timeout = 60;
	acc->set_from_header = CFG_AUTO;
	acc->set_date_header = CFG_AUTO;
	acc->set_msgid_header = CFG_AUTO;
	acc->remove_bcc_headers = CFG_ON;
	acc->rewrite_headers = CFG_ON;
	acc->allow_from_override = CFG_ON;
	acc->auto_from = CFG_OFF;
	acc->queue = CFG_ON;
	acc->queue_lifetime = 5 * 86400;
	return acc;
}

void
config_account_free(struct account *acc)
{
	uint64_t done = 0;
	size_t i;

	if (acc == NULL)
		return;
	for (i = 0; i < NKEYWORDS; i++) {
		const struct keyword *kw = &keywords[i];

		if (kw->bit < 0 || !kw_is_string(kw->type) ||
		    (done & ACC_BIT(kw->bit)))
			continue;
		done |= ACC_BIT(kw->bit);
		if (kw->bit == ACC_PASSWORD || kw->type == KT_SECRET)
			config_free_secret(*str_field(acc, kw));
		else
			free(*str_field(acc, kw));
	}
	free(acc->name);
	free(acc->file);
	free(acc->password_file);
	free(acc);
}

static int
dup_field(char **dst, const char *src)
{
	char *s = NULL;

	if (src != NULL && (s = strdup(src)) == NULL)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

int
config_account_copy(struct account *dst, struct account *src, uint64_t mask)
{
	uint64_t done = 0;
	size_t i;

	for (i = 0; i < NKEYWORDS; i++) {
		const struct keyword *kw = &keywords[i];

		if (kw->bit < 0 || !(mask & ACC_BIT(kw->bit)) ||
		    (done & ACC_BIT(kw->bit)))
			continue;
		done |= ACC_BIT(kw->bit);
		dst->kwline[kw->bit] = src->kwline[kw->bit];
		if (!kw_is_string(kw->type)) {
			*int_field(dst, kw) = *int_field(src, kw);
			continue;
		}
		if (kw->bit == ACC_PASSWORD) {
			config_free_secret(dst->password);
			dst->password = NULL;
			if (dup_field(&dst->password_file,
			    src->password_file) == -1)
				return -1;
		}
		if (kw->type == KT_SECRET) {
			config_free_secret(*str_field(dst, kw));
			*str_field(dst, kw) = NULL;
		}
		if (dup_field(str_field(dst, kw), *str_field(src, kw)) == -1)
			return -1;
	}
	return 0;
}

static int
kw_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct keyword *)elem)->name);
}

const struct keyword *
config_keyword(const char *name)
{
	return bsearch(name, keywords, NKEYWORDS, sizeof(keywords[0]), kw_cmp);
}

/* ~ and ~/x become home and home/x, as msmtp does for file names (home
   is $HOME in a -C file, the home the file was found in otherwise). */
static char *
expand_tilde(const char *path, const char *home)
{
	char *s;
	size_t n;

	if (path[0] != '~' || (path[1] != '\0' && path[1] != '/') ||
	    home == NULL)
		return strdup(path);
	n = strlen(home) + strlen(path);
	if ((s = malloc(n)) == NULL)
		return NULL;
	snprintf(s, n, "%s%s", home, path + 1);
	return s;
}

static int
onoff(const char *v, int *out)
{
	if (v[0] == '\0' || strcmp(v, "on") == 0)
		*out = CFG_ON;
	else if (strcmp(v, "off") == 0)
		*out = CFG_OFF;
	else
		return -1;
	return 0;
}

static int
number(const char *v, long min, long max, int *out)
{
	char *end;
	long n;

	if (!isdigit((unsigned char)v[0]))
		return -1;
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = (int)n;
	return 0;
}

/* queue_lifetime: "90s", "30m", "12h", "5d". */
static int
lifetime(const char *v, int *out)
{
	static const char units[] = "smhd";
	static const long mult[] = { 1, 60, 3600, 86400 };
	char num[16];
	size_t len = strlen(v);
	const char *u;
	int n;

	if (len < 2 || len >= sizeof(num))
		return -1;
	u = strchr(units, v[len - 1]);
	if (u == NULL)
		return -1;
	memcpy(num, v, len - 1);
	num[len - 1] = '\0';
	if (number(num, 1, INT_MAX / mult[u - units], &n) == -1)
		return -1;
	*out = (int)(n * mult[u - units]);
	return 0;
}

/* The number of bytes of a fingerprint "01:23:...", or 0 if malformed. */
static size_t
fingerprint_bytes(const char *v)
{
	size_t n = 0;

	for (;;) {
		if (!isxdigit((unsigned char)v[0]) ||
		    !isxdigit((unsigned char)v[1]))
			return 0;
		n++;
		v += 2;
		if (*v == '\0')
			break;
		if (*v++ != ':')
			return 0;
	}
	return n;
}

/* source_ip: a numeric address, as bind() needs (no name lookup). */
static int
valid_ip(const char *v)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, v, buf) == 1 ||
	    inet_pton(AF_INET6, v, buf) == 1;
}

/* "success,failure" -> "SUCCESS,FAILURE" (the NOTIFY= wire form). */
static char *
dsn_notify_value(const char *v)
{
	char *s, *w, *save = NULL;

	if (strcmp(v, "never") == 0)
		return strdup("NEVER");
	if (v[0] == '\0' || v[strlen(v) - 1] == ',' || (s = strdup(v)) == NULL)
		return NULL;
	for (w = strtok_r(s, ",", &save); w != NULL;
	    w = strtok_r(NULL, ",", &save)) {
		if (strcmp(w, "success") != 0 && strcmp(w, "failure") != 0 &&
		    strcmp(w, "delay") != 0) {
			free(s);
			return NULL;
		}
	}
	free(s);
	if ((s = strdup(v)) == NULL)
		return NULL;
	for (w = s; *w != '\0'; w++)
		*w = (char)toupper((unsigned char)*w);
	return s;
}

static int
auth_value(const char *v, char **out)
{
	size_t i;

	*out = NULL;
	if (v[0] == '\0' || strcmp(v, "on") == 0)
		return (*out = strdup("on")) == NULL ? -2 : 0;
	if (strcmp(v, "off") == 0)
		return (*out = strdup("")) == NULL ? -2 : 0;
	for (i = 0; auth_mechs[i] != NULL; i++) {
		if (strcasecmp(v, auth_mechs[i]) == 0) {
			char *s;

			if ((*out = strdup(v)) == NULL)
				return -2;
			for (s = *out; *s != '\0'; s++)
				*s = (char)toupper((unsigned char)*s);
			return 0;
		}
	}
	return -1;
}

static int
syslog_value(const char *v, char **out)
{
	static const char *const fac[] = { "LOG_USER", "LOG_MAIL",
	    "LOG_LOCAL0", "LOG_LOCAL1", "LOG_LOCAL2", "LOG_LOCAL3",
	    "LOG_LOCAL4", "LOG_LOCAL5", "LOG_LOCAL6", "LOG_LOCAL7", NULL };
	size_t i;

	*out = NULL;
	if (strcmp(v, "off") == 0)
		return 0;
	if (v[0] == '\0' || strcmp(v, "on") == 0)
		v = "LOG_USER";
	for (i = 0; fac[i] != NULL; i++)
		if (strcmp(v, fac[i]) == 0)
			return (*out = strdup(v)) == NULL ? -2 : 0;
	return -1;
}

/*
 * The string value of v for kw: 0 with *out (NULL = unset), -1 invalid
 * value, -2 out of memory, -3 an MD5 fingerprint.
 */
static int
string_value(struct parser *p, const struct keyword *kw, const char *v,
    char **out)
{
	*out = NULL;
	switch (kw->type) {
	case KT_AUTH:
		return auth_value(v, out);
	case KT_SYSLOG:
		return syslog_value(v, out);
	case KT_DSN_NOTIFY:
		if (strcmp(v, "off") == 0)
			return 0;
		return (*out = dsn_notify_value(v)) == NULL ? -1 : 0;
	case KT_DSN_RETURN:
		if (strcmp(v, "off") == 0)
			return 0;
		if (strcmp(v, "headers") == 0)
			v = "HDRS";
		else if (strcmp(v, "full") == 0)
			v = "FULL";
		else
			return -1;
		break;
	case KT_TRUST:
		if (strcmp(v, "system") == 0)
			return 0;
		if (v[0] == '\0')
			break;
		return (*out = expand_tilde(v, p->home)) == NULL ? -2 : 0;
	case KT_FILE:
		if (v[0] == '\0')
			return 0;
		return (*out = expand_tilde(v, p->home)) == NULL ? -2 : 0;
	case KT_FINGERPRINT:
		if (v[0] == '\0')
			return 0;
		if (fingerprint_bytes(v) == 16)
			return -3;
		if (fingerprint_bytes(v) != 20 && fingerprint_bytes(v) != 32)
			return -1;
		break;
	case KT_STR:
		if (v[0] == '\0')
			return 0;
		break;
	case KT_TLS_VERSION:
		if (strcmp(v, "1.2") != 0 && strcmp(v, "1.3") != 0)
			return -1;
		break;
	case KT_IP:
		if (v[0] == '\0')
			return 0;
		if (!valid_ip(v))
			return -1;
		break;
	case KT_PROVIDER:
		if (v[0] == '\0')
			return 0;
		if (strcmp(v, "google") != 0 && strcmp(v, "microsoft") != 0 &&
		    strcmp(v, "custom") != 0)
			return -1;
		break;
	case KT_URL:
		if (v[0] == '\0')
			return 0;
		/* Tokens and codes travel in these requests: TLS only. */
		if (strncmp(v, "https://", 8) != 0 || v[8] == '\0')
			return -1;
		break;
	case KT_SECRET:
		if (v[0] == '\0')
			return 0;
		break;
	default:	/* KT_NEEDARG */
		break;
	}
	return (*out = strdup(v)) == NULL ? -2 : 0;
}

/* The int value of v for kw: 0, or -1 if v is not valid. */
static int
int_value(const struct keyword *kw, const char *v, int *out)
{
	switch (kw->type) {
	case KT_PORT:
		return number(v, 1, 65535, out);
	case KT_PORT_EMPTY:
		if (v[0] == '\0') {
			*out = 0;
			return 0;
		}
		return number(v, 1, 65535, out);
	case KT_TIMEOUT:
		if (strcmp(v, "off") == 0) {
			*out = 0;
			return 0;
		}
		return number(v, 1, INT_MAX / 1000, out);
	case KT_BOOL:
		return onoff(v, out);
	case KT_BOOL_NOT:
		if (onoff(v, out) == -1)
			return -1;
		*out = *out == CFG_ON ? CFG_OFF : CFG_ON;
		return 0;
	case KT_OFF:
		*out = CFG_OFF;
		return v[0] == '\0' ? 0 : -1;
	case KT_ADD_MISSING:
		if (onoff(v, out) == -1)
			return -1;
		*out = *out == CFG_ON ? CFG_AUTO : CFG_OFF;
		return 0;
	case KT_LIFETIME:
		return lifetime(v, out);
	case KT_PROTOCOL:
		if (strcmp(v, "smtp") == 0)
			*out = CFG_OFF;
		else if (strcmp(v, "lmtp") == 0)
			*out = CFG_ON;
		else
			return -1;
		return 0;
	case KT_FROM_HDR:
		if (strcmp(v, "on") == 0)
			*out = CFG_ON;
		else if (strcmp(v, "off") == 0)
			*out = CFG_OFF;
		else if (v[0] == '\0' || strcmp(v, "auto") == 0)
			*out = CFG_AUTO;
		else
			return -1;
		return 0;
	default:	/* KT_AUTO_OFF */
		if (strcmp(v, "off") == 0)
			*out = CFG_OFF;
		else if (v[0] == '\0' || strcmp(v, "auto") == 0)
			*out = CFG_AUTO;
		else
			return -1;
		return 0;
	}
}

/*
 * What kw accepts, for the error about a value it refuses.  The value
 * itself is not quoted: a -C file may be anything, and an error must not
 * show its content (file:line says where it is).
 */
static const char *
expected(const struct keyword *kw)
{
	switch (kw->type) {
	case KT_PORT:
		return "a number from 1 to 65535";
	case KT_TIMEOUT:
		return "a number of seconds, or off";
	case KT_BOOL: case KT_BOOL_NOT: case KT_ADD_MISSING:
		return "on or off";
	case KT_AUTH:
		return "on, off, or a mechanism such as plain or scram-sha-256";
	case KT_SYSLOG:
		return "on, off, or a facility: LOG_USER, LOG_MAIL, LOG_LOCAL0 "
		    "to LOG_LOCAL7";
	case KT_DSN_NOTIFY:
		return "off, never, or success, failure and delay separated "
		    "by commas";
	case KT_DSN_RETURN:
		return "off, headers or full";
	case KT_FROM_HDR:
		return "auto, on or off";
	case KT_AUTO_OFF:
		return "auto or off";
	case KT_FINGERPRINT:
		return "a SHA-256 (32 bytes) or SHA-1 (20 bytes) fingerprint, "
		    "bytes in hex separated by colons";
	case KT_TLS_VERSION:
		return "1.2 or 1.3";
	case KT_PROTOCOL:
		return "smtp or lmtp";
	case KT_PROVIDER:
		return "google, microsoft or custom";
	case KT_URL:
		return "an https:// URL";
	case KT_LIFETIME:
		return "a number with a unit s, m, h or d, such as 5d";
	default:
		return "a value";
	}
}

/* Keywords that have no field: accept, or refuse saying why. */
static int
apply_nofield(struct parser *p, const struct keyword *kw, const char *v)
{
	int refuse = 0;

	switch (kw->type) {
	case KT_REFUSE_VALUE:
		refuse = v[0] != '\0';
		break;
	case KT_REFUSE_ON:
		refuse = strcmp(v, "off") != 0;
		break;
	default:	/* KT_IGNORE */
		break;
	}
	if (refuse)
		return config_perr(p, "%s: not supported: %s", kw->name,
		    kw->why);
	return 0;
}

int
config_keyword_apply(struct parser *p, const struct keyword *kw,
    const char *v)
{
	struct account *acc = p->cur;
	char *s;
	int n, r;

	if (kw->bit < 0)
		return apply_nofield(p, kw, v);
	if (!kw_is_string(kw->type)) {
		if (int_value(kw, v, &n) == -1) {
			if (kw->type == KT_OFF)
				return config_perr(p, "%s takes no value",
				    kw->name);
			return config_perr(p, "invalid value for %s "
			    "(expected: %s)", kw->name, expected(kw));
		}
		*int_field(acc, kw) = n;
	} else {
		if (kw->type == KT_NEEDARG && v[0] == '\0')
			return config_perr(p, "%s needs a value", kw->name);
		r = string_value(p, kw, v, &s);
		if (r == -2)
			return config_nomem(p->err);
		if (r == -3)
			return config_perr(p, "%s: an MD5 fingerprint is not "
			    "accepted (MD5 is broken); use the SHA-256 one "
			    "(or SHA-1), which smtpsend --serverinfo shows",
			    kw->name);
		if (r == -1)
			return config_perr(p, "invalid value for %s "
			    "(expected: %s)", kw->name, expected(kw));
		if (kw->type == KT_SECRET) {
			config_free_secret(*str_field(acc, kw));
			*str_field(acc, kw) = s;
			/* The file's permissions are checked as for password. */
			if (s != NULL)
				p->password = 1;
		} else if (kw->bit == ACC_PASSWORD) {
			config_free_secret(acc->password);
			acc->password = s;
			if (s != NULL) {
				p->password = 1;
				if (dup_field(&acc->password_file,
				    p->file) == -1)
					return config_nomem(p->err);
			}
		} else {
			free(*str_field(acc, kw));
			*str_field(acc, kw) = s;
		}
	}
	acc->set |= ACC_BIT(kw->bit);
	acc->kwline[kw->bit] = p->line;
	return 0;
}
