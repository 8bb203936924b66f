/*
 * config.h: ~/.smtprc, msmtp's ~/.msmtprc grammar and keywords.
 */
#ifndef SMTPSEND_CONFIG_H
#define SMTPSEND_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct error;

enum cfg_tristate { CFG_AUTO = -1, CFG_OFF = 0, CFG_ON = 1 };

/* One account, after inheritance from defaults and parents. */
struct account {
	char	*name;
	char	*host;
	int	 port;		/* 0 = default: 587, or 465 with implicit TLS */
	char	*from;		/* after %U %H %C %M %F substitution */
	char	*from_full_name;
	char	*domain;	/* EHLO argument; default "localhost" like msmtp */
	int	 timeout;	/* seconds per operation; default 60 */
	char	*auth;		/* NULL/"" = off unless user set; "on"; or a
				   mechanism name in upper case ("PLAIN") */
	char	*user;
	char	*password;	/* wiped and freed by config_free */
	char	*passwordeval;
	int	 tls;		/* CFG_ON by default */
	int	 tls_starttls;	/* CFG_AUTO: on, unless port 465 */
	char	*tls_trust_file;	/* NULL = system trust store */
	char	*tls_fingerprint;
	int	 tls_certcheck;	/* CFG_ON by default */
	char	*tls_cert_file;
	char	*tls_key_file;
	char	*tls_priorities;
	char	*tls_host_override;
	char	*tls_min_version;	/* "1.2" (default) or "1.3" */
	char	*dsn_notify;
	char	*dsn_return;
	char	*logfile;
	char	*logfile_time_format;
	char	*syslog;	/* NULL/off, or facility name ("LOG_MAIL") */
	char	*aliases;	/* path of an aliases file */
	int	 set_from_header;	/* CFG_AUTO/ON/OFF */
	int	 set_date_header;	/* CFG_AUTO/OFF */
	int	 set_msgid_header;	/* CFG_AUTO/OFF */
	int	 remove_bcc_headers;	/* CFG_ON by default */
	int	 allow_from_override;	/* CFG_ON by default */
	uint64_t set;		/* bit (1 << ACC_field) per keyword given */
	char	*file;		/* where the account was defined */
	int	 line;
	int	 kwline[64];	/* by enum acc_bit: the line of file that
				   gave the setting (defaults and parents
				   too, all in file); 0 if not given */
	char	*password_file;	/* file that held "password", or NULL */
	/* Added by the config module (additive): */
	char	*tls_crl_file;	/* msmtp's deprecated CRL file, or NULL */
	int	 auto_from;	/* obsolete msmtp auto_from: CFG_ON/OFF */
	char	*maildomain;	/* obsolete msmtp maildomain (auto_from) */
	/* Added by the connect module (additive): */
	char	*source_ip;	/* numeric local address to bind, or NULL */
	char	*proxy_host;	/* SOCKS5 proxy, or NULL */
	int	 proxy_port;	/* 0 = default (1080) */
	char	*socket;	/* Unix socket instead of host/port, or NULL */
	int	 lmtp;		/* protocol lmtp: CFG_ON; smtp: CFG_OFF */
	int	 undisclosed_recipients; /* CFG_OFF (0) by default */
	/* Added by the oauth2 module (additive): */
	char	*oauth2_provider;	/* "google", "microsoft", "custom" or
					   NULL (no built-in OAuth2) */
	char	*oauth2_client_id;
	char	*oauth2_client_secret;	/* wiped and freed by config_free */
	char	*oauth2_client_secret_eval;
	char	*oauth2_tenant;		/* Microsoft; NULL = "common" */
	char	*oauth2_scope;		/* NULL = the provider's default */
	char	*oauth2_token_endpoint;	/* https:// URLs, custom only */
	char	*oauth2_device_endpoint;
	char	*oauth2_auth_endpoint;
	char	*oauth2_token_file;	/* NULL = the keyring */
	/* Added by the queue module (additive): */
	int	 queue;		/* CFG_ON (default): queue temporary failures */
	char	*queue_dir;	/* NULL: the default (queue_default_dir()) */
	int	 queue_lifetime;	/* seconds; default 5 days */
	int	 rewrite_headers;	/* CFG_ON by default: qualify bare names */
};

/*
 * Bits of account.set, one per setting (aliases share a bit), so callers
 * can tell "given" from "default": acc->set & ACC_BIT(ACC_PORT).
 * Value conventions after config_load():
 *   timeout 0 = "timeout off" (no deadline); port 0 = default (config_port);
 *   auth: NULL = off, "on" = choose, else a mechanism in upper case;
 *   tls_trust_file: NULL = system store, "" = trust no CA (fingerprint only);
 *   dsn_notify/dsn_return: wire form ("SUCCESS,FAILURE", "NEVER", "HDRS",
 *   "FULL") or NULL; syslog: NULL (off) or "LOG_USER", "LOG_MAIL"...;
 *   from may still hold "%F" (the message's From address): config_from().
 */
enum acc_bit {
	ACC_HOST, ACC_PORT, ACC_FROM, ACC_FROM_FULL_NAME, ACC_DOMAIN,
	ACC_TIMEOUT, ACC_AUTH, ACC_USER, ACC_PASSWORD, ACC_PASSWORDEVAL,
	ACC_TLS, ACC_TLS_STARTTLS, ACC_TLS_TRUST_FILE, ACC_TLS_FINGERPRINT,
	ACC_TLS_CERTCHECK, ACC_TLS_CERT_FILE, ACC_TLS_KEY_FILE,
	ACC_TLS_PRIORITIES, ACC_TLS_HOST_OVERRIDE, ACC_TLS_MIN_VERSION,
	ACC_DSN_NOTIFY, ACC_DSN_RETURN, ACC_LOGFILE, ACC_LOGFILE_TIME_FORMAT,
	ACC_SYSLOG, ACC_ALIASES, ACC_SET_FROM_HEADER, ACC_SET_DATE_HEADER,
	ACC_SET_MSGID_HEADER, ACC_REMOVE_BCC_HEADERS, ACC_ALLOW_FROM_OVERRIDE,
	ACC_TLS_CRL_FILE, ACC_AUTO_FROM, ACC_MAILDOMAIN,
	ACC_SOURCE_IP, ACC_PROXY_HOST, ACC_PROXY_PORT, ACC_SOCKET,
	ACC_PROTOCOL,
	ACC_UNDISCLOSED_RECIPIENTS,
	ACC_OAUTH2_PROVIDER, ACC_OAUTH2_CLIENT_ID, ACC_OAUTH2_CLIENT_SECRET,
	ACC_OAUTH2_CLIENT_SECRET_EVAL, ACC_OAUTH2_TENANT, ACC_OAUTH2_SCOPE,
	ACC_OAUTH2_TOKEN_ENDPOINT, ACC_OAUTH2_DEVICE_ENDPOINT,
	ACC_OAUTH2_AUTH_ENDPOINT, ACC_OAUTH2_TOKEN_FILE,
	ACC_QUEUE, ACC_QUEUE_DIR, ACC_QUEUE_LIFETIME,
	ACC_REWRITE_HEADERS,
	ACC_NBITS
};
#define ACC_BIT(b)	((uint64_t)1 << (b))

/* What the substitutions and file lookup need; tests pass their own. */
struct config_env {
	const char	*user;		/* %U: from getuid(), never $USER */
	const char	*home;		/* ~ and ~/.smtprc */
	const char	*hostname;	/* %H */
	const char	*fqdn;		/* %C: canonical host name; NULL: looked
					   up (getaddrinfo) on first use */
	const char	*mailname;	/* %M: contents of /etc/mailname, or NULL */
	unsigned int	 uid;		/* owner expected for a file with password */
	const char	*system_file;	/* NULL: /etc/smtprc (tests override) */
	const char	*msmtp_system_file;	/* NULL: /etc/msmtprc (tests) */
	const char	*env_home;	/* $HOME if set and non-empty, else
					   NULL: ~ in a -C file, like msmtp */
	const char	*xdg_config_home;	/* absolute $XDG_CONFIG_HOME of
					   this home, or NULL: home/.config */
};

struct config;

/*
 * Fill env from the process: user and home from getpwuid(getuid()) (home
 * from $HOME when set and non-empty), hostname, /etc/mailname; fqdn stays
 * NULL so that DNS is asked only if a %C is used.  Strings are owned by
 * env and freed with config_env_free().
 */
int	config_env_init(struct config_env *env, struct error *err);

/*
 * The home config_env_init() uses: env_home ($HOME), unless it is unset or
 * empty, or holds none of the user files (config_user_file(), with xdg as
 * $XDG_CONFIG_HOME) while pw_home (the passwd entry's) holds one (sudo
 * sets HOME=/).  Returns one of its arguments.
 */
const char *config_choose_home(const char *env_home, const char *pw_home,
	    const char *xdg);

/*
 * The user file under home: the first that exists of home/.smtprc, then
 * msmtp's home/.msmtprc and XDG/msmtp/config (xdg NULL or relative:
 * home/.config).  Writes the path to buf and returns 1; 0 if none exists
 * (buf then holds home/.smtprc).
 */
int	config_user_file(const char *home, const char *xdg, char *buf,
	    size_t size);
void	config_env_free(struct config_env *env);

/*
 * Load path (-C; it must exist and be readable), or (path NULL) the system
 * file, /etc/smtprc or, when that does not exist, /etc/msmtprc (a system
 * file the user may not read is skipped, see config_notes()), then the
 * user file (config_user_file()); any may be missing.  Accounts of the
 * user file replace same-named ones.  Errors are ERR_CONFIG with
 * "file:line: message", quoting no file content but short names.  A file
 * that holds a password and is not owned by env->uid or is readable by
 * group or others is refused (hint: chmod 600); a system file may be
 * root's and readable by its group (hint: chmod 640, chgrp).
 */
int	config_load(struct config **cfp, const char *path,
	    const struct config_env *env, struct error *err);

/* The account named name ("default" follows "account default : X"). */
const struct account *config_account(const struct config *cf,
	    const char *name, struct error *err);

/*
 * The i-th account of cf (from 0), as loaded and not checked the way
 * config_account() checks it; NULL past the last (or cf NULL).
 */
const struct account *config_account_at(const struct config *cf,
	    size_t i);

/*
 * The account whose from matches addr: exact (case-insensitive), then glob
 * (fnmatch), then with a "+detail" removed from the local part.  NULL if
 * none.
 */
const struct account *config_account_for_from(const struct config *cf,
	    const char *addr);

/* Names of the files actually read, for messages. NULL-terminated. */
const char *const *config_files(const struct config *cf);

/* What was skipped and why ("/etc/smtprc: Permission denied"), for -v and
   --pretend.  NULL-terminated. */
const char *const *config_notes(const struct config *cf);

/*
 * The port to connect to: port, else 2003 for LMTP (msmtp's default),
 * else 465 for implicit TLS, else 587.
 */
int	config_port(const struct account *acc);

/* 1 if TLS starts with STARTTLS: tls on and (tls_starttls on, or auto and
 * the port is not 465). */
int	config_starttls(const struct account *acc);

/* The auth setting: NULL = no authentication, "on" = choose, or "PLAIN"... */
const char *config_auth(const struct account *acc);

/*
 * The envelope sender for acc: its from with "%F" replaced by header_from
 * (the address of the message's From header, NULL if it has none).
 * *out is malloc'ed, or NULL if the account has no from.  -1 with
 * ERR_DATA if from uses %F and header_from is NULL.
 */
int	config_from(const struct account *acc, const char *header_from,
	    char **out, struct error *err);

/* The endpoints of an account with oauth2_provider. */
enum config_oauth2_ep {
	CONFIG_OAUTH2_TOKEN, CONFIG_OAUTH2_DEVICE, CONFIG_OAUTH2_AUTH
};

/*
 * The URL of endpoint which: custom's from the account (NULL if not
 * given), Google's, or Microsoft's for oauth2_tenant ("common" when not
 * given) written to buf.  acc must have oauth2_provider.
 */
const char *config_oauth2_endpoint(const struct account *acc,
	    enum config_oauth2_ep which, char *buf, size_t size);

/* oauth2_scope, or the provider's default; NULL for custom without one. */
const char *config_oauth2_scope(const struct account *acc);

/* Print the account as --pretend shows it, password as "*". */
void	config_print_account(const struct account *acc, FILE *fp);

/*
 * The queue lines of --pretend, in config_print_account()'s style: queue,
 * queue_dir (dir: the effective directory, which the queue module knows)
 * and queue_lifetime, each noted "default" when not set.
 */
void	config_print_queue(const struct account *acc, const char *dir,
	    FILE *fp);

/* Wipe secrets and free everything. NULL is fine. */
void	config_free(struct config *cf);

#endif
