/*
 * config_account.c: what the config module knows beyond the file text:
 * the process environment (user, home, host names, /etc/mailname), the
 * effective values of an account once its file is read (%U %H %C %M,
 * auto_from, defaults that depend on other settings), choosing an account
 * by name or by From address, and the resolved values callers ask for
 * (port, STARTTLS, auth, envelope sender, the --pretend listing).
 */
#include <sys/types.h>

#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"
#include "config_priv.h"
#include "error.h"

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
	s = config_trim(line);
	if (s[0] == '\0') {
		free(line);
		return NULL;
	}
	memmove(line, s, strlen(s) + 1);
	return line;
}

/*
 * $HOME, unless it is unset or empty, or it holds none of the user files
 * while the passwd entry's home does: sudo sets HOME=/ and cron may pass
 * the daemon's HOME, and the mail should still go out with the real
 * user's file.
 */
const char *
config_choose_home(const char *env_home, const char *pw_home,
    const char *xdg)
{
	char path[PATH_MAX];

	if (env_home == NULL || env_home[0] == '\0')
		return pw_home;
	if (pw_home == NULL || strcmp(env_home, pw_home) == 0)
		return env_home;
	if (config_user_file(env_home, xdg, path, sizeof(path)))
		return env_home;
	return config_user_file(pw_home, NULL, path, sizeof(path)) ?
	    pw_home : env_home;
}

int
config_env_init(struct config_env *env, struct error *err)
{
	struct passwd *pw;
	const char *home, *envhome = getenv("HOME");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	char host[HOST_NAME_MAX + 1];

	memset(env, 0, sizeof(*env));
	env->uid = (unsigned int)getuid();
	errno = 0;
	if ((pw = getpwuid(getuid())) == NULL)
		return error_set(err, ERR_OS, "no passwd entry for uid %u%s%s",
		    env->uid, errno != 0 ? ": " : "",
		    errno != 0 ? strerror(errno) : "");
	if (xdg != NULL && xdg[0] != '/')
		xdg = NULL;	/* the XDG spec: relative paths are ignored */
	home = config_choose_home(envhome, pw->pw_dir, xdg);
	if (envhome == NULL || home != envhome)
		xdg = NULL;	/* the passwd home's own ~/.config */
	if (envhome != NULL && envhome[0] == '\0')
		envhome = NULL;
	memset(host, 0, sizeof(host));
	if (gethostname(host, sizeof(host) - 1) == -1)
		snprintf(host, sizeof(host), "localhost");
	env->mailname = read_mailname();
	if ((env->user = strdup(pw->pw_name)) == NULL ||
	    (env->home = strdup(home)) == NULL ||
	    (envhome != NULL && (env->env_home = strdup(envhome)) == NULL) ||
	    (xdg != NULL && (env->xdg_config_home = strdup(xdg)) == NULL) ||
	    (env->hostname = strdup(host)) == NULL) {
		config_env_free(env);
		return config_nomem(err);
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
	free((void *)(uintptr_t)env->env_home);
	free((void *)(uintptr_t)env->xdg_config_home);
	memset(env, 0, sizeof(*env));
}

/* %C: the canonical name of the host, asked of DNS once per config. */
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

/* The value of %c (U, H, C or M); NULL if it has none. */
static const char *
pct_value(struct config *cf, const struct config_env *env, char c)
{
	if (c == 'U')
		return env->user;
	if (c == 'H')
		return env->hostname;
	if (c == 'C')
		return fqdn(cf, env);
	return env->mailname;
}

/*
 * Replace %U %H %C %M (those listed in pats) in *sp; other % sequences,
 * %F included, stay as they are.  -1 and *err on failure.
 */
static int
substitute(struct config *cf, const struct config_env *env,
    struct account *acc, char **sp, const char *pats, struct error *err)
{
	const char *s = *sp, *v;
	char *buf = NULL, shown[CONFIG_SHOW_SIZE];
	size_t len = 0;
	FILE *m;

	if (s == NULL || strchr(s, '%') == NULL)
		return 0;
	if ((m = open_memstream(&buf, &len)) == NULL)
		return config_nomem(err);
	for (; *s != '\0'; s++) {
		if (s[0] != '%' || s[1] == '\0' || strchr(pats, s[1]) == NULL) {
			fputc(*s, m);
			continue;
		}
		if ((v = pct_value(cf, env, s[1])) == NULL) {
			fclose(m);
			free(buf);
			return error_set(err, ERR_CONFIG, "%s:%d: account "
			    "%s: %%%c has no value%s", acc->file, acc->line,
			    config_show(acc->name, shown, sizeof(shown)), s[1],
			    s[1] == 'M' ? " (/etc/mailname is missing or "
			    "empty)" : "");
		}
		fputs(v, m);
		s++;
	}
	if (fclose(m) != 0) {
		free(buf);
		return config_nomem(err);
	}
	free(*sp);
	*sp = buf;
	return 0;
}

/* The oauth2_* keywords that only some providers take. */
static const struct {
	const char *name;
	int bit;
	const char *provider; /* the only one that takes it, or NULL: any */
} oauth2_kws[] = {
    {"oauth2_client_id", ACC_OAUTH2_CLIENT_ID, NULL},
    {"oauth2_client_secret", ACC_OAUTH2_CLIENT_SECRET, NULL},
    {"oauth2_client_secret_eval", ACC_OAUTH2_CLIENT_SECRET_EVAL, NULL},
    {"oauth2_scope", ACC_OAUTH2_SCOPE, NULL},
    {"oauth2_token_file", ACC_OAUTH2_TOKEN_FILE, NULL},
    {"oauth2_tenant", ACC_OAUTH2_TENANT, "microsoft"},
    {"oauth2_token_endpoint", ACC_OAUTH2_TOKEN_ENDPOINT, "custom"},
    {"oauth2_device_endpoint", ACC_OAUTH2_DEVICE_ENDPOINT, "custom"},
    {"oauth2_auth_endpoint", ACC_OAUTH2_AUTH_ENDPOINT, "custom"},
};

/* Of two settings given, the one given on the later line. */
static int
later(const struct account *acc, int a, int b)
{
	return acc->kwline[b] >= acc->kwline[a] ? b : a;
}

static int oauth2_perr(const struct account *acc, int bit,
    struct error *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "file:line: account NAME: ..." at the line that gave setting bit (that
   of the account when it was not given). */
static int
oauth2_perr(const struct account *acc, int bit, struct error *err,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	int line = acc->kwline[bit] > 0 ? acc->kwline[bit] : acc->line;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_set(err, ERR_CONFIG, "%s:%d: account %s: %s", acc->file,
	    line, acc->name, msg);
}

/*
 * The combinations of oauth2_* keywords that make sense; anything else
 * is a configuration error naming the keyword and its line (for a
 * missing keyword, that of oauth2_provider), so that a typo in the
 * provider or a keyword meant for another provider is not ignored.
 */
static int
check_oauth2(struct account *acc, struct error *err)
{
	const char *prov = acc->oauth2_provider;
	const int pbit = ACC_OAUTH2_PROVIDER;
	size_t i;

	for (i = 0; i < sizeof(oauth2_kws) / sizeof(oauth2_kws[0]); i++) {
		if (!(acc->set & ACC_BIT(oauth2_kws[i].bit)))
			continue;
		if (prov == NULL)
			return oauth2_perr(acc, oauth2_kws[i].bit, err,
			    "%s needs oauth2_provider", oauth2_kws[i].name);
		if (oauth2_kws[i].provider != NULL &&
		    strcmp(prov, oauth2_kws[i].provider) != 0)
			return oauth2_perr(acc, oauth2_kws[i].bit, err,
			    "%s is for oauth2_provider %s only",
			    oauth2_kws[i].name, oauth2_kws[i].provider);
	}
	if (prov == NULL)
		return 0;
	if (acc->oauth2_client_id == NULL)
		return oauth2_perr(acc, pbit, err,
		    "oauth2_provider %s needs oauth2_client_id", prov);
	if (acc->oauth2_client_secret != NULL &&
	    acc->oauth2_client_secret_eval != NULL)
		return oauth2_perr(acc, later(acc, ACC_OAUTH2_CLIENT_SECRET,
		    ACC_OAUTH2_CLIENT_SECRET_EVAL), err,
		    "%s and %s: give one, not both",
		    "oauth2_client_secret", "oauth2_client_secret_eval");
	if (strcmp(prov, "custom") == 0 && acc->oauth2_token_endpoint == NULL)
		return oauth2_perr(acc, pbit, err,
		    "oauth2_provider custom needs oauth2_token_endpoint");
	if (acc->user == NULL)
		return oauth2_perr(acc, pbit, err,
		    "oauth2_provider %s needs user (the mailbox address)",
		    prov);
	if (acc->auth == NULL && (acc->set & ACC_BIT(ACC_AUTH)))
		return oauth2_perr(acc, ACC_AUTH, err,
		    "oauth2_provider %s needs auth on, xoauth2 or "
		    "oauthbearer (auth is off)", prov);
	/* auth unset or on: XOAUTH2 or OAUTHBEARER, whichever is offered. */
	if (acc->auth == NULL || strcmp(acc->auth, "on") == 0) {
		free(acc->auth);
		if ((acc->auth = strdup("OAUTH2")) == NULL)
			return config_nomem(err);
	} else if (strcmp(acc->auth, "XOAUTH2") != 0 &&
	    strcmp(acc->auth, "OAUTHBEARER") != 0)
		return oauth2_perr(acc, ACC_AUTH, err,
		    "oauth2_provider %s needs auth on, xoauth2 or "
		    "oauthbearer (auth is %s)",
		    prov, acc->auth);
	return 0;
}

const char *
config_oauth2_endpoint(const struct account *acc,
    enum config_oauth2_ep which, char *buf, size_t size)
{
	static const char *const google[] = {
		"https://oauth2.googleapis.com/token",
		"https://oauth2.googleapis.com/device/code",
		"https://accounts.google.com/o/oauth2/v2/auth"
	};
	static const char *const ms[] = { "token", "devicecode", "authorize" };
	const char *p = acc->oauth2_provider;

	if (strcmp(p, "google") == 0)
		return google[which];
	if (strcmp(p, "microsoft") == 0) {
		snprintf(buf, size,
		    "https://login.microsoftonline.com/%s/oauth2/v2.0/%s",
		    acc->oauth2_tenant != NULL ? acc->oauth2_tenant : "common",
		    ms[which]);
		return buf;
	}
	if (which == CONFIG_OAUTH2_DEVICE)
		return acc->oauth2_device_endpoint;
	if (which == CONFIG_OAUTH2_AUTH)
		return acc->oauth2_auth_endpoint;
	return acc->oauth2_token_endpoint;
}

const char *
config_oauth2_scope(const struct account *acc)
{
	if (acc->oauth2_scope != NULL)
		return acc->oauth2_scope;
	if (strcmp(acc->oauth2_provider, "google") == 0)
		return "https://mail.google.com/";
	if (strcmp(acc->oauth2_provider, "microsoft") == 0)
		return "https://outlook.office.com/SMTP.Send offline_access";
	return NULL;
}

int
config_account_finalize(struct config *cf, const struct config_env *env,
    struct account *acc, struct error *err)
{
	char *s;
	size_t n;

	if (acc->auto_from == CFG_ON) {
		n = 4 + (acc->maildomain != NULL ? strlen(acc->maildomain) : 0);
		if ((s = malloc(n)) == NULL)
			return config_nomem(err);
		snprintf(s, n, "%%U%s%s", acc->maildomain != NULL &&
		    acc->maildomain[0] != '\0' ? "@" : "",
		    acc->maildomain != NULL ? acc->maildomain : "");
		free(acc->from);
		acc->from = s;
	}
	if (substitute(cf, env, acc, &acc->from, "UHCM", err) == -1 ||
	    substitute(cf, env, acc, &acc->domain, "HCM", err) == -1)
		return -1;
	if (acc->domain == NULL && (acc->domain = strdup("localhost")) == NULL)
		return config_nomem(err);
	/* auth unset: on when a user is given (msmtp needs "auth on"). */
	if (acc->auth == NULL && acc->user != NULL &&
	    (acc->auth = strdup("on")) == NULL)
		return config_nomem(err);
	if (acc->auth != NULL && acc->auth[0] == '\0') {
		free(acc->auth);
		acc->auth = NULL;
	}
	/* A Unix socket never crosses a network: tls is off unless asked
	   for, as msmtp has it. */
	if (acc->socket != NULL && !(acc->set & ACC_BIT(ACC_TLS)))
		acc->tls = CFG_OFF;
	return check_oauth2(acc, err);
}

/* The error for an account name that no file defines. */
static void
no_account(const struct config *cf, const char *name, struct error *err)
{
	const char *const *notes = config_notes(cf);

	if (cf == NULL || cf->nfiles == 0) {
		error_set(err, ERR_CONFIG, "no account '%s': no configuration "
		    "file (looked for %s or %s, and ~/%s, ~/.msmtprc or "
		    "~/.config/msmtp/config)%s%s", name, CONFIG_SYSTEM_FILE,
		    CONFIG_MSMTP_SYSTEM_FILE, CONFIG_USER_FILE,
		    notes[0] != NULL ? "; " : "",
		    notes[0] != NULL ? notes[0] : "");
		error_hint(err, "create ~/%s (chmod 600) with an account: see "
		    "smtpsend(1)", CONFIG_USER_FILE);
	} else if (strcmp(name, "default") == 0) {
		error_set(err, ERR_CONFIG, "no default account in %s%s%s",
		    cf->files[0], cf->nfiles > 1 ? " or " : "",
		    cf->nfiles > 1 ? cf->files[1] : "");
		error_hint(err, "add 'account default : NAME', or choose one "
		    "with -a NAME");
	} else
		error_set(err, ERR_CONFIG, "no account '%s' in %s%s%s", name,
		    cf->files[0], cf->nfiles > 1 ? " or " : "",
		    cf->nfiles > 1 ? cf->files[1] : "");
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
		no_account(cf, name, err);
		return NULL;
	}
	if (acc->host == NULL && acc->socket == NULL) {
		error_set(err, ERR_CONFIG, "%s:%d: account '%s' has no host",
		    acc->file, acc->line, acc->name);
		error_hint(err, "add a 'host' line to the account");
		return NULL;
	}
	if (acc->host == NULL && acc->tls_host_override == NULL &&
	    acc->tls != CFG_OFF && acc->tls_certcheck != CFG_OFF &&
	    acc->tls_fingerprint == NULL) {
		error_set(err, ERR_CONFIG, "%s:%d: account '%s': TLS over "
		    "socket %s needs a server name to check the certificate "
		    "against", acc->file, acc->line, acc->name, acc->socket);
		error_hint(err, "add a 'host' (or 'tls_host_override') line "
		    "to the account");
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

const struct account *
config_account_at(const struct config *cf, size_t i)
{
	return cf != NULL && i < cf->nacc ? cf->accs[i] : NULL;
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

int
config_port(const struct account *acc)
{
	if (acc->port != 0)
		return acc->port;
	if (acc->lmtp == CFG_ON)
		return 2003;
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
			return config_nomem(err);
		return 0;
	}
	if (header_from == NULL)
		return error_set(err, ERR_DATA, "%s:%d: account '%s': from "
		    "uses %%F but the message has no From header", acc->file,
		    acc->line, acc->name);
	if ((m = open_memstream(&buf, &len)) == NULL)
		return config_nomem(err);
	for (s = acc->from; f != NULL; s = f + 2, f = strstr(s, "%F")) {
		fwrite(s, 1, (size_t)(f - s), m);
		fputs(header_from, m);
	}
	fputs(s, m);
	if (fclose(m) != 0) {
		free(buf);
		return config_nomem(err);
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

/* The oauth2_* lines: the provider's defaults for what was not given. */
static void
print_oauth2(const struct account *acc, FILE *fp)
{
	static const struct {
		const char		*name;
		enum config_oauth2_ep	 which;
		int			 bit;
	} eps[] = {
		{ "oauth2_token_endpoint", CONFIG_OAUTH2_TOKEN,
		    ACC_OAUTH2_TOKEN_ENDPOINT },
		{ "oauth2_device_endpoint", CONFIG_OAUTH2_DEVICE,
		    ACC_OAUTH2_DEVICE_ENDPOINT },
		{ "oauth2_auth_endpoint", CONFIG_OAUTH2_AUTH,
		    ACC_OAUTH2_AUTH_ENDPOINT },
	};
	int ms = strcmp(acc->oauth2_provider, "microsoft") == 0;
	char buf[512];
	size_t i;

	pr(fp, "oauth2_provider", acc->oauth2_provider, NULL);
	pr(fp, "oauth2_client_id", acc->oauth2_client_id, NULL);
	pr(fp, "oauth2_client_secret",
	    acc->oauth2_client_secret != NULL ? "*" : NULL, NULL);
	pr(fp, "oauth2_client_secret_eval", acc->oauth2_client_secret_eval,
	    NULL);
	if (ms)
		pr(fp, "oauth2_tenant", acc->oauth2_tenant != NULL ?
		    acc->oauth2_tenant : "common",
		    dflt(acc->oauth2_tenant == NULL));
	pr(fp, "oauth2_scope", config_oauth2_scope(acc),
	    dflt(acc->oauth2_scope == NULL &&
	    config_oauth2_scope(acc) != NULL));
	for (i = 0; i < sizeof(eps) / sizeof(eps[0]); i++)
		pr(fp, eps[i].name, config_oauth2_endpoint(acc, eps[i].which,
		    buf, sizeof(buf)), dflt(!(acc->set & ACC_BIT(eps[i].bit)) &&
		    strcmp(acc->oauth2_provider, "custom") != 0));
	pr(fp, "oauth2_token_file", acc->oauth2_token_file,
	    acc->oauth2_token_file == NULL ? "default: the keyring" : NULL);
}

void
config_print_account(const struct account *acc, FILE *fp)
{
	char where[PATH_MAX + 32], num[32], tmo[32], pnum[32];

	snprintf(where, sizeof(where), "%s:%d", acc->file, acc->line);
	snprintf(num, sizeof(num), "%d", config_port(acc));
	snprintf(tmo, sizeof(tmo), "%d s", acc->timeout);
	pr(fp, "account", acc->name, where);
	pr(fp, "host", acc->host, NULL);
	pr(fp, "port", num, dflt(acc->port == 0));
	pr(fp, "protocol", acc->lmtp == CFG_ON ? "lmtp" : "smtp",
	    dflt(!(acc->set & ACC_BIT(ACC_PROTOCOL))));
	pr(fp, "source_ip", acc->source_ip, NULL);
	pr(fp, "proxy_host", acc->proxy_host, NULL);
	snprintf(pnum, sizeof(pnum), "%d",
	    acc->proxy_port > 0 ? acc->proxy_port : 1080);
	pr(fp, "proxy_port", acc->proxy_host != NULL ? pnum : NULL,
	    dflt(acc->proxy_host != NULL && acc->proxy_port == 0));
	pr(fp, "socket", acc->socket, NULL);
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
	/* Only for OAuth2 accounts: the others need no such lines. */
	if (acc->oauth2_provider != NULL)
		print_oauth2(acc, fp);
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
	pr(fp, "undisclosed_recipients", tri(acc->undisclosed_recipients, ""),
	    NULL);
	pr(fp, "rewrite_headers", tri(acc->rewrite_headers, ""), NULL);
	pr(fp, "logfile", acc->logfile, NULL);
	pr(fp, "logfile_time_format", acc->logfile_time_format, NULL);
	if (acc->set & ACC_BIT(ACC_SYSLOG))
		pr(fp, "syslog", acc->syslog != NULL ? acc->syslog : "off",
		    NULL);
	else
		pr(fp, "syslog", "LOG_MAIL",
		    "default, when standard error is not a terminal");
	pr(fp, "aliases", acc->aliases, NULL);
}

/* queue_lifetime as written: the largest unit that divides it. */
static void
lifetime_str(int secs, char *buf, size_t size)
{
	if (secs > 0 && secs % 86400 == 0)
		snprintf(buf, size, "%dd", secs / 86400);
	else if (secs > 0 && secs % 3600 == 0)
		snprintf(buf, size, "%dh", secs / 3600);
	else if (secs > 0 && secs % 60 == 0)
		snprintf(buf, size, "%dm", secs / 60);
	else
		snprintf(buf, size, "%ds", secs);
}

void
config_print_queue(const struct account *acc, const char *dir, FILE *fp)
{
	char life[32];

	lifetime_str(acc->queue_lifetime, life, sizeof(life));
	pr(fp, "queue", tri(acc->queue, ""),
	    dflt(!(acc->set & ACC_BIT(ACC_QUEUE))));
	pr(fp, "queue_dir", dir, dflt(!(acc->set & ACC_BIT(ACC_QUEUE_DIR))));
	pr(fp, "queue_lifetime", life,
	    dflt(!(acc->set & ACC_BIT(ACC_QUEUE_LIFETIME))));
}
