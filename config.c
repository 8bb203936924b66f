/*
 * config.c: ~/.smtprc in msmtp's ~/.msmtprc grammar.
 *
 * A file is a list of lines "keyword [value]".  Blank lines and lines whose
 * first non-blank character is '#' are comments; '#' anywhere else is data
 * (msmtp does the same, and passwordeval commands need it).  A value that
 * starts and ends with '"' loses those two quotes and nothing else: msmtp
 * 1.8 has no escapes inside quotes, so neither do we ("a\"b" is a\"b).
 * "defaults" starts a section whose settings apply to the accounts defined
 * after it in the same file; "account NAME [: P1, P2...]" starts an account
 * from the current defaults, then copies what each parent set explicitly,
 * in order; the account's own lines come last.  Lines before any section
 * belong to an account named "default", as in msmtp.
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
 *   tls_crl_file             kept in account.tls_crl_file for tls.c
 *   protocol                 smtp accepted; lmtp refused (we speak SMTP only)
 *   eval                     honoured: the line is replaced by the first
 *                            line of the command's output, as in msmtp
 *   ntlmdomain               accepted, ignored (only NTLM uses it)
 *   tls_min_dh_prime_bits    accepted, ignored (GnuTLS's own minimum)
 *   proxy_port               accepted, ignored (meaningless without proxy)
 *   proxy_host, socket,      refused unless empty: we cannot honour them
 *   source_ip                and sending another way would be wrong
 *   tls_force_sslv3          refused unless off
 *   undisclosed_recipients,  refused unless off: we do not rewrite the
 *   set_to_header            recipient headers
 *
 * Where we differ from msmtp on purpose: tls is on by default, the port
 * defaults to 587 (465 with tls_starttls off), timeout to 60 s, and an
 * account with a user but no auth line authenticates ("auth on").  %F in
 * from (msmtp 1.8.29: the address of the message's From header) is left
 * for config_from() at send time.  A file holding a password must be owned
 * by the user with no group/other access (msmtp's rule); the system file
 * may instead be owned by root and readable by its group, never by others.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "error.h"

#define SYSTEM_FILE	"/etc/smtprc"
#define USER_FILE	".smtprc"
#define MAX_FILES	2

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
	KT_FINGERPRINT,	/* 01:23:... of 16, 20 or 32 bytes */
	KT_TLS_VERSION,	/* 1.2 or 1.3 */
	KT_IGNORE,	/* accepted, not used */
	KT_REFUSE_VALUE,/* only the empty value is accepted */
	KT_REFUSE_ON,	/* only off is accepted */
	KT_PROTOCOL,	/* smtp only */
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
	{ "password", KT_STR, F(password, ACC_PASSWORD), NULL },
	{ "passwordeval", KT_STR, F(passwordeval, ACC_PASSWORDEVAL), NULL },
	{ "port", KT_PORT, F(port, ACC_PORT), NULL },
	{ "protocol", KT_PROTOCOL, NOFIELD,
	    "only SMTP is supported, not LMTP" },
	{ "proxy_host", KT_REFUSE_VALUE, NOFIELD,
	    "SOCKS proxies are not supported" },
	{ "proxy_port", KT_IGNORE, NOFIELD, NULL },
	{ "remove_bcc_headers", KT_BOOL,
	    F(remove_bcc_headers, ACC_REMOVE_BCC_HEADERS), NULL },
	{ "set_date_header", KT_AUTO_OFF,
	    F(set_date_header, ACC_SET_DATE_HEADER), NULL },
	{ "set_from_header", KT_FROM_HDR,
	    F(set_from_header, ACC_SET_FROM_HEADER), NULL },
	{ "set_msgid_header", KT_AUTO_OFF,
	    F(set_msgid_header, ACC_SET_MSGID_HEADER), NULL },
	{ "set_to_header", KT_REFUSE_ON, NOFIELD,
	    "rewriting the To header is not supported" },
	{ "socket", KT_REFUSE_VALUE, NOFIELD,
	    "Unix domain sockets are not supported; use host and port" },
	{ "source_ip", KT_REFUSE_VALUE, NOFIELD,
	    "choosing the source address is not supported" },
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
	{ "tls_nocertcheck", KT_OFF, F(tls_certcheck, ACC_TLS_CERTCHECK), NULL },
	{ "tls_nostarttls", KT_OFF, F(tls_starttls, ACC_TLS_STARTTLS), NULL },
	{ "tls_priorities", KT_STR,
	    F(tls_priorities, ACC_TLS_PRIORITIES), NULL },
	{ "tls_starttls", KT_BOOL, F(tls_starttls, ACC_TLS_STARTTLS), NULL },
	{ "tls_trust_file", KT_TRUST,
	    F(tls_trust_file, ACC_TLS_TRUST_FILE), NULL },
	{ "undisclosed_recipients", KT_REFUSE_ON, NOFIELD,
	    "replacing the recipient headers is not supported" },
	{ "user", KT_STR, F(user, ACC_USER), NULL },
};
#define NKEYWORDS	(sizeof(keywords) / sizeof(keywords[0]))

static const char *const auth_mechs[] = {
	"plain", "login", "cram-md5", "digest-md5", "scram-sha-1",
	"scram-sha-1-plus", "scram-sha-256", "scram-sha-256-plus", "ntlm",
	"gssapi", "external", "oauthbearer", "xoauth2", NULL
};

struct config {
	struct account	**accs;
	int		 *fileidx;	/* which files[] each account came from */
	size_t		  nacc;
	char		 *files[MAX_FILES + 1];
	size_t		  nfiles;
	char		 *fqdn;		/* %C, looked up on first use */
};

/* State while one file is read. */
struct parser {
	struct config		*cf;
	const struct config_env	*env;
	const char		*file;
	int			 line;
	int			 system;	/* the system-wide file */
	struct account		*defaults;
	struct account		*cur;		/* defaults, an account or NULL */
	struct account		**accs;		/* accounts of this file */
	size_t			 nacc;
	int			 password;	/* a password was seen */
	struct error		*err;
};

static int	 parse_line(struct parser *, char *, int);
static int	 perr(struct parser *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

static int
kw_is_string(enum kw_type t)
{
	switch (t) {
	case KT_STR: case KT_NEEDARG: case KT_FILE: case KT_AUTH:
	case KT_SYSLOG: case KT_DSN_NOTIFY: case KT_DSN_RETURN: case KT_TRUST:
	case KT_FINGERPRINT: case KT_TLS_VERSION:
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

static void
free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void
account_free(struct account *acc)
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
		if (kw->bit == ACC_PASSWORD)
			free_secret(*str_field(acc, kw));
		else
			free(*str_field(acc, kw));
	}
	free(acc->name);
	free(acc->file);
	free(acc->password_file);
	free(acc);
}

static struct account *
account_new(void)
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
	acc->allow_from_override = CFG_ON;
	acc->auto_from = CFG_OFF;
	return acc;
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

/* Copy into dst every setting whose bit is in mask (inheritance). */
static int
account_copy(struct account *dst, struct account *src, uint64_t mask)
{
	uint64_t done = 0;
	size_t i;

	for (i = 0; i < NKEYWORDS; i++) {
		const struct keyword *kw = &keywords[i];

		if (kw->bit < 0 || !(mask & ACC_BIT(kw->bit)) ||
		    (done & ACC_BIT(kw->bit)))
			continue;
		done |= ACC_BIT(kw->bit);
		if (!kw_is_string(kw->type)) {
			*int_field(dst, kw) = *int_field(src, kw);
			continue;
		}
		if (kw->bit == ACC_PASSWORD) {
			free_secret(dst->password);
			dst->password = NULL;
			if (dup_field(&dst->password_file,
			    src->password_file) == -1)
				return -1;
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

static int
perr(struct parser *p, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_set(p->err, ERR_CONFIG, "%s:%d: %s", p->file, p->line,
	    msg);
}

static int
nomem(struct error *err)
{
	return error_set(err, ERR_OS, "out of memory");
}

/* ~ and ~/x become $HOME and $HOME/x, as msmtp does for file names. */
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

static int
valid_fingerprint(const char *v)
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
	return n == 16 || n == 20 || n == 32;
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
 * value, -2 out of memory.
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
		return (*out = expand_tilde(v, p->env->home)) == NULL ? -2 : 0;
	case KT_FILE:
		if (v[0] == '\0')
			return 0;
		return (*out = expand_tilde(v, p->env->home)) == NULL ? -2 : 0;
	case KT_FINGERPRINT:
		if (v[0] != '\0' && !valid_fingerprint(v))
			return -1;
		/* FALLTHROUGH */
	case KT_STR:
		if (v[0] == '\0')
			return 0;
		break;
	case KT_TLS_VERSION:
		if (strcmp(v, "1.2") != 0 && strcmp(v, "1.3") != 0)
			return -1;
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
	case KT_PROTOCOL:
		if (strcmp(v, "lmtp") == 0)
			refuse = 1;
		else if (strcmp(v, "smtp") != 0)
			return perr(p, "invalid value '%s' for protocol "
			    "(smtp)", v);
		break;
	default:	/* KT_IGNORE */
		break;
	}
	if (refuse)
		return perr(p, "%s %s: not supported: %s", kw->name, v,
		    kw->why);
	return 0;
}

static int
apply(struct parser *p, const struct keyword *kw, const char *v)
{
	struct account *acc = p->cur;
	char *s;
	int n, r;

	if (kw->bit < 0)
		return apply_nofield(p, kw, v);
	if (!kw_is_string(kw->type)) {
		if (int_value(kw, v, &n) == -1) {
			if (kw->type == KT_OFF)
				return perr(p, "%s takes no value", kw->name);
			return perr(p, "invalid value '%s' for %s", v,
			    kw->name);
		}
		*int_field(acc, kw) = n;
	} else {
		if (kw->type == KT_NEEDARG && v[0] == '\0')
			return perr(p, "%s needs a value", kw->name);
		r = string_value(p, kw, v, &s);
		if (r == -2)
			return nomem(p->err);
		if (r == -1)
			return perr(p, "invalid value '%s' for %s", v,
			    kw->name);
		if (kw->bit == ACC_PASSWORD) {
			free_secret(acc->password);
			acc->password = s;
			if (s != NULL) {
				p->password = 1;
				if (dup_field(&acc->password_file,
				    p->file) == -1)
					return nomem(p->err);
			}
		} else {
			free(*str_field(acc, kw));
			*str_field(acc, kw) = s;
		}
	}
	acc->set |= ACC_BIT(kw->bit);
	return 0;
}

static struct account *
find_local(struct parser *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nacc; i++)
		if (strcmp(p->accs[i]->name, name) == 0)
			return p->accs[i];
	return NULL;
}

static char *
trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/* Copy from each parent in the comma-separated list, in order. */
static int
inherit(struct parser *p, struct account *acc, char *list)
{
	struct account *parent;
	char *name, *next;

	for (name = list; name != NULL; name = next) {
		next = strchr(name, ',');
		if (next != NULL)
			*next++ = '\0';
		name = trim(name);
		if (name[0] == '\0')
			return perr(p, "missing account name in the list "
			    "after ':'");
		if ((parent = find_local(p, name)) == NULL)
			return perr(p, "account '%s' is not defined (a parent "
			    "must be defined above, in the same file)", name);
		if (account_copy(acc, parent, parent->set) == -1)
			return nomem(p->err);
		acc->set |= parent->set;
	}
	return 0;
}

/* "account NAME [: PARENT[, PARENT...]]" */
static int
start_account(struct parser *p, char *arg)
{
	struct account *acc, **na, *old;
	char *parents, *name;

	parents = strchr(arg, ':');
	if (parents != NULL)
		*parents++ = '\0';
	name = trim(arg);
	if (name[0] == '\0')
		return perr(p, "account needs a name");
	if (strchr(name, ',') != NULL)
		return perr(p, "account name '%s' contains a comma", name);
	if ((old = find_local(p, name)) != NULL)
		return perr(p, "account '%s' is already defined on line %d",
		    name, old->line);
	if ((acc = account_new()) == NULL)
		return nomem(p->err);
	na = reallocarray(p->accs, p->nacc + 1, sizeof(*na));
	if (na == NULL) {
		account_free(acc);
		return nomem(p->err);
	}
	p->accs = na;
	p->accs[p->nacc++] = acc;
	if (account_copy(acc, p->defaults, ~(uint64_t)0) == -1 ||
	    (acc->name = strdup(name)) == NULL ||
	    (acc->file = strdup(p->file)) == NULL)
		return nomem(p->err);
	acc->line = p->line;
	p->cur = acc;
	if (parents != NULL)
		return inherit(p, acc, parents);
	return 0;
}

/*
 * Run an eval command: sh -c cmd with stdin from /dev/null; *out is the
 * first line of its output.  The command must exit 0.
 */
static int
run_eval(struct parser *p, const char *cmd, char **out)
{
	FILE *fp = NULL;
	char *line = NULL, *rest = NULL;
	size_t cap = 0, rcap = 0;
	ssize_t n;
	int fd[2], status = -1, rc = -1;
	pid_t pid;

	*out = NULL;
	if (pipe(fd) == -1)
		return error_set(p->err, ERR_OS, "pipe: %s", strerror(errno));
	if ((pid = fork()) == -1) {
		close(fd[0]);
		close(fd[1]);
		return error_set(p->err, ERR_OS, "fork: %s", strerror(errno));
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);

		if (null == -1 || dup2(null, 0) == -1 || dup2(fd[1], 1) == -1)
			_exit(127);
		close(fd[0]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	if ((fp = fdopen(fd[0], "r")) == NULL)
		close(fd[0]);
	n = fp != NULL ? getline(&line, &cap, fp) : -1;
	while (fp != NULL && getline(&rest, &rcap, fp) != -1)
		continue;	/* drain, so the command never gets SIGPIPE */
	if (fp != NULL)
		fclose(fp);
	free(rest);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		continue;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		perr(p, "eval: the command failed: %s", cmd);
	else if (n <= 0)
		perr(p, "eval: the command printed nothing: %s", cmd);
	else {
		line[strcspn(line, "\r\n")] = '\0';
		*out = line;
		line = NULL;
		rc = 0;
	}
	free(line);
	return rc;
}

static int
parse_keyword(struct parser *p, const char *name, char *arg)
{
	const struct keyword *kw;

	if (strcmp(name, "defaults") == 0) {
		if (arg[0] != '\0')
			return perr(p, "defaults takes no value");
		p->cur = p->defaults;
		return 0;
	}
	if (strcmp(name, "account") == 0)
		return start_account(p, arg);
	kw = bsearch(name, keywords, NKEYWORDS, sizeof(keywords[0]), kw_cmp);
	if (kw == NULL)
		return perr(p, "unknown keyword '%s'", name);
	if (p->cur == NULL) {
		/* msmtp puts lines before any section in "default". */
		char def[] = "default";

		if (start_account(p, def) == -1)
			return -1;
	}
	return apply(p, kw, arg);
}

/* One line, without its line end; from_eval forbids nested eval. */
static int
parse_line(struct parser *p, char *line, int from_eval)
{
	char *name, *arg, *out;
	size_t n;
	int rc;

	name = line;
	while (*name == ' ' || *name == '\t')
		name++;
	if (*name == '\0' || *name == '#')
		return 0;
	arg = name + strcspn(name, " \t");
	if (*arg != '\0')
		*arg++ = '\0';
	arg = trim(arg);
	n = strlen(arg);
	if (n >= 2 && arg[0] == '"' && arg[n - 1] == '"') {
		arg[n - 1] = '\0';
		arg++;
	}
	if (strcmp(name, "eval") != 0)
		return parse_keyword(p, name, arg);
	if (from_eval)
		return perr(p, "eval: the output is an eval line");
	if (arg[0] == '\0')
		return perr(p, "eval needs a command");
	if (run_eval(p, arg, &out) == -1)
		return -1;
	rc = parse_line(p, out, 1);
	free_secret(out);
	return rc;
}

static int
parse_file(struct parser *p, FILE *fp)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	p->line = 0;
	while ((n = getline(&line, &cap, fp)) != -1) {
		p->line++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (strlen(line) != (size_t)n) {
			rc = perr(p, "NUL byte in the line");
			break;
		}
		if ((rc = parse_line(p, line, 0)) == -1)
			break;
	}
	if (rc == 0 && ferror(fp))
		rc = error_set(p->err, ERR_IO, "%s: %s", p->file,
		    strerror(errno));
	free_secret(line);
	return rc;
}

/*
 * msmtp's rule for a file holding a password: owned by the user, no access
 * for group or others.  The system file may instead be owned by root and
 * readable by its group (root:mail 0640), never by others.
 */
static int
check_secure(struct parser *p, FILE *fp)
{
	struct stat st;
	mode_t bad = p->system ? 007 : 077;

	if (fstat(fileno(fp), &st) == -1)
		return error_set(p->err, ERR_IO, "%s: %s", p->file,
		    strerror(errno));
	if (st.st_uid != p->env->uid && !(p->system && st.st_uid == 0)) {
		error_set(p->err, ERR_CONFIG, "%s: contains a password but is "
		    "owned by uid %u, not by you (uid %u)", p->file,
		    (unsigned)st.st_uid, p->env->uid);
		error_hint(p->err, "chown %u %s; chmod 600 %s", p->env->uid,
		    p->file, p->file);
		return -1;
	}
	if ((st.st_mode & bad) != 0) {
		error_set(p->err, ERR_CONFIG, "%s: contains a password but is "
		    "readable by others", p->file);
		error_hint(p->err, "chmod 600 %s", p->file);
		return -1;
	}
	return 0;
}

static const char *
fqdn(struct config *cf, const struct config_env *env)
{
	struct addrinfo hints, *res = NULL;

	if (env->fqdn != NULL)
		return env->fqdn;
	if (cf->fqdn != NULL || env->hostname == NULL)
		return cf->fqdn != NULL ? cf->fqdn : env->hostname;
	memset(&hints, 0, sizeof(hints));
	hints.ai_flags = AI_CANONNAME;
	if (getaddrinfo(env->hostname, NULL, &hints, &res) == 0 &&
	    res->ai_canonname != NULL)
		cf->fqdn = strdup(res->ai_canonname);
	if (res != NULL)
		freeaddrinfo(res);
	return cf->fqdn != NULL ? cf->fqdn : env->hostname;
}

/*
 * Replace %U %H %C %M (those listed in pats) in *sp; other % sequences,
 * %F included, stay as they are.  -1 and *err on failure.
 */
static int
substitute(struct parser *p, struct account *acc, char **sp,
    const char *pats)
{
	const struct config_env *env = p->env;
	const char *s = *sp, *v;
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	if (s == NULL || strchr(s, '%') == NULL)
		return 0;
	if ((m = open_memstream(&buf, &len)) == NULL)
		return nomem(p->err);
	for (; *s != '\0'; s++) {
		v = NULL;
		if (s[0] == '%' && s[1] != '\0' && strchr(pats, s[1]) != NULL) {
			if (s[1] == 'U')
				v = env->user;
			else if (s[1] == 'H')
				v = env->hostname;
			else if (s[1] == 'C')
				v = fqdn(p->cf, env);
			else
				v = env->mailname;
			if (v == NULL) {
				fclose(m);
				free(buf);
				return error_set(p->err, ERR_CONFIG, "%s:%d: "
				    "account '%s': %%%c has no value%s",
				    acc->file, acc->line, acc->name, s[1],
				    s[1] == 'M' ? " (/etc/mailname is missing"
				    " or empty)" : "");
			}
			fputs(v, m);
			s++;
		} else
			fputc(*s, m);
	}
	if (fclose(m) != 0) {
		free(buf);
		return nomem(p->err);
	}
	free(*sp);
	*sp = buf;
	return 0;
}

/* Effective values once the whole file is read. */
static int
finalize(struct parser *p, struct account *acc)
{
	char *s;
	size_t n;

	if (acc->auto_from == CFG_ON) {
		n = 4 + (acc->maildomain != NULL ? strlen(acc->maildomain) : 0);
		if ((s = malloc(n)) == NULL)
			return nomem(p->err);
		snprintf(s, n, "%%U%s%s", acc->maildomain != NULL &&
		    acc->maildomain[0] != '\0' ? "@" : "",
		    acc->maildomain != NULL ? acc->maildomain : "");
		free(acc->from);
		acc->from = s;
	}
	if (substitute(p, acc, &acc->from, "UHCM") == -1 ||
	    substitute(p, acc, &acc->domain, "HCM") == -1)
		return -1;
	if (acc->domain == NULL && (acc->domain = strdup("localhost")) == NULL)
		return nomem(p->err);
	/* auth unset: on when a user is given (msmtp needs "auth on"). */
	if (acc->auth == NULL && acc->user != NULL &&
	    (acc->auth = strdup("on")) == NULL)
		return nomem(p->err);
	if (acc->auth != NULL && acc->auth[0] == '\0') {
		free(acc->auth);
		acc->auth = NULL;
	}
	return 0;
}

/* Move the file's accounts into cf; same names replace earlier ones. */
static int
merge(struct parser *p, int fileidx)
{
	struct config *cf = p->cf;
	struct account **na;
	int *ni;
	size_t i, j;

	na = reallocarray(cf->accs, cf->nacc + p->nacc + 1, sizeof(*na));
	if (na == NULL)
		return nomem(p->err);
	cf->accs = na;
	ni = reallocarray(cf->fileidx, cf->nacc + p->nacc + 1, sizeof(*ni));
	if (ni == NULL)
		return nomem(p->err);
	cf->fileidx = ni;
	for (i = 0; i < p->nacc; i++) {
		for (j = 0; j < cf->nacc; j++)
			if (strcmp(cf->accs[j]->name, p->accs[i]->name) == 0)
				break;
		if (j == cf->nacc)
			cf->nacc++;
		else
			account_free(cf->accs[j]);
		cf->accs[j] = p->accs[i];
		cf->fileidx[j] = fileidx;
		p->accs[i] = NULL;
	}
	p->nacc = 0;
	return 0;
}

static int
load_file(struct config *cf, const char *file, int must_exist, int system,
    const struct config_env *env, struct error *err)
{
	struct parser p;
	FILE *fp;
	size_t i;
	int rc = -1;

	if ((fp = fopen(file, "r")) == NULL) {
		if (!must_exist && errno == ENOENT)
			return 0;
		return error_set(err, ERR_CONFIG, "%s: %s", file,
		    strerror(errno));
	}
	memset(&p, 0, sizeof(p));
	p.cf = cf;
	p.env = env;
	p.file = file;
	p.system = system;
	p.err = err;
	if ((p.defaults = account_new()) == NULL) {
		nomem(err);
		goto out;
	}
	if (parse_file(&p, fp) == -1 || (p.password && check_secure(&p, fp)
	    == -1))
		goto out;
	for (i = 0; i < p.nacc; i++)
		if (finalize(&p, p.accs[i]) == -1)
			goto out;
	if ((cf->files[cf->nfiles] = strdup(file)) == NULL) {
		nomem(err);
		goto out;
	}
	cf->nfiles++;
	rc = merge(&p, (int)cf->nfiles - 1);
out:
	for (i = 0; i < p.nacc; i++)
		account_free(p.accs[i]);
	free(p.accs);
	account_free(p.defaults);
	fclose(fp);
	return rc;
}

int
config_load(struct config **cfp, const char *path,
    const struct config_env *env, struct error *err)
{
	struct config *cf;
	char *user = NULL;
	size_t n;
	int rc = -1;

	*cfp = NULL;
	if ((cf = calloc(1, sizeof(*cf))) == NULL)
		return nomem(err);
	if (path != NULL) {
		rc = load_file(cf, path, 1, 0, env, err);
		goto out;
	}
	if (load_file(cf, env->system_file != NULL ? env->system_file :
	    SYSTEM_FILE, 0, 1, env, err) == -1)
		goto out;
	rc = 0;
	if (env->home != NULL && env->home[0] != '\0') {
		n = strlen(env->home) + sizeof(USER_FILE) + 1;
		if ((user = malloc(n)) == NULL) {
			rc = nomem(err);
			goto out;
		}
		snprintf(user, n, "%s/%s", env->home, USER_FILE);
		rc = load_file(cf, user, 0, 0, env, err);
	}
out:
	free(user);
	if (rc == -1)
		config_free(cf);
	else
		*cfp = cf;
	return rc;
}

const struct account *
config_account(const struct config *cf, const char *name, struct error *err)
{
	const struct account *acc = NULL;
	size_t i;

	for (i = 0; cf != NULL && i < cf->nacc; i++)
		if (strcmp(cf->accs[i]->name, name) == 0)
			acc = cf->accs[i];
	if (acc == NULL) {
		if (cf == NULL || cf->nfiles == 0) {
			error_set(err, ERR_CONFIG, "no account '%s': no "
			    "configuration file (looked for %s and ~/%s)",
			    name, SYSTEM_FILE, USER_FILE);
			error_hint(err, "create ~/%s (chmod 600) with an "
			    "account: see smtpsend(1); a ~/.msmtprc works "
			    "unchanged", USER_FILE);
		} else if (strcmp(name, "default") == 0) {
			error_set(err, ERR_CONFIG, "no default account in %s%s%s",
			    cf->files[0], cf->nfiles > 1 ? " or " : "",
			    cf->nfiles > 1 ? cf->files[1] : "");
			error_hint(err, "add 'account default : NAME', or "
			    "choose one with -a NAME");
		} else
			error_set(err, ERR_CONFIG, "no account '%s' in %s%s%s",
			    name, cf->files[0], cf->nfiles > 1 ? " or " : "",
			    cf->nfiles > 1 ? cf->files[1] : "");
		return NULL;
	}
	if (acc->host == NULL) {
		error_set(err, ERR_CONFIG, "%s:%d: account '%s' has no host",
		    acc->file, acc->line, acc->name);
		error_hint(err, "add a 'host' line to the account");
		return NULL;
	}
	if ((acc->tls_cert_file == NULL) != (acc->tls_key_file == NULL)) {
		error_set(err, ERR_CONFIG, "%s:%d: account '%s': tls_cert_file "
		    "and tls_key_file go together", acc->file, acc->line,
		    acc->name);
		return NULL;
	}
	return acc;
}

/* Does from (an account's) match addr, exactly or as a glob? */
static int
from_matches(const char *from, const char *addr, int glob)
{
	if (from == NULL || from[0] == '\0' || strstr(from, "%F") != NULL)
		return 0;
	if (!glob)
		return strcasecmp(from, addr) == 0;
	return strpbrk(from, "*?[") != NULL &&
	    fnmatch(from, addr, FNM_CASEFOLD) == 0;
}

/* Accounts of the user file before those of the system file. */
static const struct account *
find_from(const struct config *cf, const char *addr, int glob)
{
	size_t i, f;

	for (f = cf->nfiles; f-- > 0;)
		for (i = 0; i < cf->nacc; i++)
			if (cf->fileidx[i] == (int)f &&
			    from_matches(cf->accs[i]->from, addr, glob))
				return cf->accs[i];
	return NULL;
}

const struct account *
config_account_for_from(const struct config *cf, const char *addr)
{
	const struct account *acc;
	const char *plus, *at;
	char *bare;
	size_t n;

	if (cf == NULL || addr == NULL || addr[0] == '\0')
		return NULL;
	if ((acc = find_from(cf, addr, 0)) != NULL ||
	    (acc = find_from(cf, addr, 1)) != NULL)
		return acc;
	/* user+detail@example.org matches the account of user@example.org. */
	at = strrchr(addr, '@');
	plus = strchr(addr, '+');
	if (plus == NULL || plus == addr || (at != NULL && plus > at))
		return NULL;
	n = strlen(addr);
	if ((bare = malloc(n + 1)) == NULL)
		return NULL;
	memcpy(bare, addr, (size_t)(plus - addr));
	bare[plus - addr] = '\0';
	if (at != NULL)
		memcpy(bare + (plus - addr), at, n - (size_t)(at - addr) + 1);
	if ((acc = find_from(cf, bare, 0)) == NULL)
		acc = find_from(cf, bare, 1);
	free(bare);
	return acc;
}

const char *const *
config_files(const struct config *cf)
{
	static const char *const none[] = { NULL };

	return cf != NULL ? (const char *const *)cf->files : none;
}

int
config_port(const struct account *acc)
{
	if (acc->port != 0)
		return acc->port;
	if (acc->tls != CFG_OFF && acc->tls_starttls == CFG_OFF)
		return 465;
	return 587;
}

int
config_starttls(const struct account *acc)
{
	if (acc->tls == CFG_OFF)
		return 0;
	if (acc->tls_starttls != CFG_AUTO)
		return acc->tls_starttls == CFG_ON;
	return config_port(acc) != 465;
}

const char *
config_auth(const struct account *acc)
{
	return acc->auth != NULL && acc->auth[0] != '\0' ? acc->auth : NULL;
}

int
config_from(const struct account *acc, const char *header_from, char **out,
    struct error *err)
{
	const char *s, *f;
	char *buf = NULL;
	size_t len = 0;
	FILE *m;

	*out = NULL;
	if (acc->from == NULL)
		return 0;
	if ((f = strstr(acc->from, "%F")) == NULL) {
		if ((*out = strdup(acc->from)) == NULL)
			return nomem(err);
		return 0;
	}
	if (header_from == NULL)
		return error_set(err, ERR_DATA, "%s:%d: account '%s': from "
		    "uses %%F but the message has no From header", acc->file,
		    acc->line, acc->name);
	if ((m = open_memstream(&buf, &len)) == NULL)
		return nomem(err);
	for (s = acc->from; f != NULL; s = f + 2, f = strstr(s, "%F")) {
		fwrite(s, 1, (size_t)(f - s), m);
		fputs(header_from, m);
	}
	fputs(s, m);
	if (fclose(m) != 0) {
		free(buf);
		return nomem(err);
	}
	*out = buf;
	return 0;
}

static void
pr(FILE *fp, const char *name, const char *value, const char *note)
{
	fprintf(fp, "%-20s = %s%s%s%s\n", name,
	    value != NULL ? value : "(not set)", note != NULL ? " (" : "",
	    note != NULL ? note : "", note != NULL ? ")" : "");
}

static const char *
tri(int v, const char *autoname)
{
	return v == CFG_ON ? "on" : v == CFG_OFF ? "off" : autoname;
}

static const char *
dflt(int is_default)
{
	return is_default ? "default" : NULL;
}

void
config_print_account(const struct account *acc, FILE *fp)
{
	char where[PATH_MAX + 32], num[32], tmo[32];

	snprintf(where, sizeof(where), "%s:%d", acc->file, acc->line);
	snprintf(num, sizeof(num), "%d", config_port(acc));
	snprintf(tmo, sizeof(tmo), "%d s", acc->timeout);
	pr(fp, "account", acc->name, where);
	pr(fp, "host", acc->host, NULL);
	pr(fp, "port", num, dflt(acc->port == 0));
	pr(fp, "timeout", acc->timeout == 0 ? "off" : tmo,
	    dflt(!(acc->set & ACC_BIT(ACC_TIMEOUT)) && acc->timeout == 60));
	pr(fp, "domain", acc->domain, NULL);
	pr(fp, "from", acc->from, NULL);
	pr(fp, "from_full_name", acc->from_full_name, NULL);
	pr(fp, "allow_from_override", tri(acc->allow_from_override, ""), NULL);
	pr(fp, "auth", config_auth(acc) != NULL ? config_auth(acc) : "off",
	    dflt(!(acc->set & ACC_BIT(ACC_AUTH))));
	pr(fp, "user", acc->user, NULL);
	pr(fp, "password", acc->password != NULL ? "*" : NULL,
	    acc->password_file);
	pr(fp, "passwordeval", acc->passwordeval, NULL);
	pr(fp, "tls", tri(acc->tls, ""),
	    dflt(!(acc->set & ACC_BIT(ACC_TLS)) && acc->tls == CFG_ON));
	pr(fp, "tls_starttls", config_starttls(acc) ? "on" : "off",
	    dflt(acc->tls_starttls == CFG_AUTO));
	pr(fp, "tls_trust_file", acc->tls_trust_file == NULL ? "system" :
	    acc->tls_trust_file[0] == '\0' ? "(none)" : acc->tls_trust_file,
	    NULL);
	pr(fp, "tls_fingerprint", acc->tls_fingerprint, NULL);
	pr(fp, "tls_certcheck", tri(acc->tls_certcheck, ""), NULL);
	pr(fp, "tls_cert_file", acc->tls_cert_file, NULL);
	pr(fp, "tls_key_file", acc->tls_key_file, NULL);
	pr(fp, "tls_crl_file", acc->tls_crl_file, NULL);
	pr(fp, "tls_priorities", acc->tls_priorities, NULL);
	pr(fp, "tls_host_override", acc->tls_host_override, NULL);
	pr(fp, "tls_min_version", acc->tls_min_version != NULL ?
	    acc->tls_min_version : "1.2", dflt(acc->tls_min_version == NULL));
	pr(fp, "dsn_notify", acc->dsn_notify, NULL);
	pr(fp, "dsn_return", acc->dsn_return, NULL);
	pr(fp, "set_from_header", tri(acc->set_from_header, "auto"), NULL);
	pr(fp, "set_date_header", tri(acc->set_date_header, "auto"), NULL);
	pr(fp, "set_msgid_header", tri(acc->set_msgid_header, "auto"), NULL);
	pr(fp, "remove_bcc_headers", tri(acc->remove_bcc_headers, ""), NULL);
	pr(fp, "logfile", acc->logfile, NULL);
	pr(fp, "logfile_time_format", acc->logfile_time_format, NULL);
	pr(fp, "syslog", acc->syslog != NULL ? acc->syslog : "off", NULL);
	pr(fp, "aliases", acc->aliases, NULL);
}

void
config_free(struct config *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	for (i = 0; i < cf->nacc; i++)
		account_free(cf->accs[i]);
	for (i = 0; i < cf->nfiles; i++)
		free(cf->files[i]);
	free(cf->accs);
	free(cf->fileidx);
	free(cf->fqdn);
	free(cf);
}

/* First line of /etc/mailname, trimmed; NULL if missing or empty. */
static char *
read_mailname(void)
{
	FILE *fp;
	char *line = NULL, *s;
	size_t cap = 0;

	if ((fp = fopen("/etc/mailname", "r")) == NULL)
		return NULL;
	if (getline(&line, &cap, fp) == -1) {
		free(line);
		line = NULL;
	}
	fclose(fp);
	if (line == NULL)
		return NULL;
	line[strcspn(line, "\r\n")] = '\0';
	s = trim(line);
	if (s[0] == '\0') {
		free(line);
		return NULL;
	}
	memmove(line, s, strlen(s) + 1);
	return line;
}

int
config_env_init(struct config_env *env, struct error *err)
{
	struct passwd *pw;
	const char *home;
	char host[HOST_NAME_MAX + 1];

	memset(env, 0, sizeof(*env));
	env->uid = (unsigned int)getuid();
	errno = 0;
	if ((pw = getpwuid(getuid())) == NULL)
		return error_set(err, ERR_OS, "no passwd entry for uid %u%s%s",
		    env->uid, errno != 0 ? ": " : "",
		    errno != 0 ? strerror(errno) : "");
	home = getenv("HOME");
	if (home == NULL || home[0] == '\0')
		home = pw->pw_dir;
	memset(host, 0, sizeof(host));
	if (gethostname(host, sizeof(host) - 1) == -1)
		snprintf(host, sizeof(host), "localhost");
	env->mailname = read_mailname();
	if ((env->user = strdup(pw->pw_name)) == NULL ||
	    (env->home = strdup(home)) == NULL ||
	    (env->hostname = strdup(host)) == NULL) {
		config_env_free(env);
		return nomem(err);
	}
	return 0;
}

void
config_env_free(struct config_env *env)
{
	free((void *)(uintptr_t)env->user);
	free((void *)(uintptr_t)env->home);
	free((void *)(uintptr_t)env->hostname);
	free((void *)(uintptr_t)env->fqdn);
	free((void *)(uintptr_t)env->mailname);
	memset(env, 0, sizeof(*env));
}
