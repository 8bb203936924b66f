/*
 * sendmail.c: the sendmail command line, and main(): spool the message,
 * pick the account, find the recipients and the secret, submit, log, exit.
 */
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "message.h"
#include "oauth2.h"
#include "secret.h"
#include "send.h"

enum mode {
	MODE_SEND,
	MODE_VERSION,
	MODE_HELP,
	MODE_PRETEND,
	MODE_SERVERINFO,
	MODE_STORE_PASSWORD,
	MODE_AUTHORIZE,
	MODE_NEWALIASES,
	MODE_QUEUE,
};

/* Everything the command line says; argv strings are borrowed, not copied. */
struct opts {
	enum mode	  mode;
	int		  extract;	/* -t */
	int		  verbose;	/* -v */
	int		  body;		/* -B: 0, 7 or 8 */
	const char	 *from;		/* -f / -r, NULL if not given */
	const char	 *full_name;	/* -F */
	const char	 *config;	/* -C */
	const char	 *account;	/* -a / --account */
	const char	 *dsn_notify;	/* -N */
	const char	 *dsn_return;	/* -R */
	const char	 *dsn_envid;	/* -V */
	const char	 *logfile;	/* -X */
	const char	 *syslog_tag;	/* -L */
	int		  flow;		/* --device/--browser: oauth2_flow */
	char		**rcpts;	/* operands */
	int		  nrcpts;
};

enum {
	LONG_VERSION = 256,
	LONG_HELP,
	LONG_PRETEND,
	LONG_SERVERINFO,
	LONG_STORE_PASSWORD,
	LONG_ACCOUNT,
	LONG_AUTHORIZE,
	LONG_DEVICE,
	LONG_BROWSER,
};

static const char usage_line[] =
    "usage: smtpsend [-t] [-i] [-f sender] [-F name] [-a account] "
    "[-C file] [-v] [--] [recipient ...]";

static void
print_help(void)
{
	printf("%s\n\n", usage_line);
	printf(
	    "Reads a message on standard input and submits it to the SMTP server\n"
	    "of an account in ~/.smtprc (msmtp's ~/.msmtprc format).\n\n"
	    "  -t               also take recipients from To, Cc and Bcc\n"
	    "  -f ADDR, -r ADDR envelope sender (<> for the null sender)\n"
	    "  -F NAME          display name for a From header smtpsend adds\n"
	    "  -a NAME          use account NAME (also --account=NAME)\n"
	    "  -C FILE          read FILE instead of /etc/smtprc and ~/.smtprc\n"
	    "                   (or msmtp's files when those do not exist)\n"
	    "  -N DSN, -R RET, -V ENVID   delivery status notification options\n"
	    "  -B 8BITMIME|7BIT body type\n"
	    "  -X FILE, -L TAG  log file, syslog tag\n"
	    "  -v               print the SMTP dialogue (secrets hidden)\n"
	    "  -i, -oi, -o*, -O, -A, -G, -U, -h, -m, -n, -c, -e, -p, -x, -bm\n"
	    "                   accepted for compatibility and ignored\n"
	    "  -bi              (newaliases) does nothing\n"
	    "  --pretend        print the account that would be used, then exit\n"
	    "  --serverinfo     print what the account's server offers, then exit\n"
	    "  --store-password store the account's password in the keyring\n"
	    "  --authorize [--device|--browser]  get and store the OAuth2\n"
	    "                   tokens of an account with oauth2_provider\n"
	    "  --version, --help\n\n"
	    "Exit codes follow sysexits(3): 0 sent, 75 try again later, others\n"
	    "permanent; see smtpsend(1).\n");
}

static int
parse_body(const char *arg, int *body, struct error *err)
{
	if (strcasecmp(arg, "8BITMIME") == 0)
		*body = 8;
	else if (strcasecmp(arg, "7BIT") == 0)
		*body = 7;
	else
		return error_set(err, ERR_USAGE,
		    "-B %s: the body type is 8BITMIME or 7BIT", arg);
	return 0;
}

/* -N: "never", or a comma list of success, failure, delay (RFC 3461). */
static int
check_dsn_notify(const char *arg, struct error *err)
{
	const char *p = arg, *end;
	size_t n;

	if (strcasecmp(arg, "never") == 0)
		return 0;
	for (;;) {
		end = strchr(p, ',');
		n = end != NULL ? (size_t)(end - p) : strlen(p);
		if (!((n == 7 && strncasecmp(p, "success", n) == 0) ||
		    (n == 7 && strncasecmp(p, "failure", n) == 0) ||
		    (n == 5 && strncasecmp(p, "delay", n) == 0)))
			return error_set(err, ERR_USAGE, "-N %s: give never, "
			    "or a list of success, failure and delay", arg);
		if (end == NULL)
			return 0;
		p = end + 1;
	}
}

/* -b<mode>: only -bm (send), -bi (newaliases) and -bp (mailq) exist here. */
static int
parse_mode(const char *arg, struct opts *o, struct error *err)
{
	if (strcmp(arg, "m") == 0)
		return 0;
	if (strcmp(arg, "i") == 0) {
		o->mode = MODE_NEWALIASES;
		return 0;
	}
	if (strcmp(arg, "p") == 0) {
		o->mode = MODE_QUEUE;
		return 0;
	}
	if (strcmp(arg, "s") == 0)
		return error_set(err, ERR_USAGE,
		    "-bs (SMTP on standard input) is not supported yet");
	return error_set(err, ERR_USAGE, "-b%s: unsupported mode", arg);
}

static int
parse_option(int c, const char *arg, struct opts *o, struct error *err)
{
	switch (c) {
	case 't':
		o->extract = 1;
		break;
	case 'v':
		o->verbose = 1;
		break;
	case 'f':
	case 'r':
		o->from = arg;
		break;
	case 'F':
		o->full_name = arg;
		break;
	case 'C':
		o->config = arg;
		break;
	case 'a':
	case LONG_ACCOUNT:
		o->account = arg;
		break;
	case 'N':
		o->dsn_notify = arg;
		return check_dsn_notify(arg, err);
	case 'R':
		o->dsn_return = arg;
		if (strcasecmp(arg, "hdrs") != 0 && strcasecmp(arg, "full") != 0)
			return error_set(err, ERR_USAGE,
			    "-R %s: give hdrs or full", arg);
		break;
	case 'V':
		o->dsn_envid = arg;
		break;
	case 'X':
		o->logfile = arg;
		break;
	case 'L':
		o->syslog_tag = arg;
		break;
	case 'B':
		return parse_body(arg, &o->body, err);
	case 'b':
		return parse_mode(arg, o, err);
	case 'q':
		o->mode = MODE_QUEUE;
		break;
	case 'A': case 'O': case 'e': case 'h': case 'o': case 'p':
	case 'G': case 'I': case 'U': case 'c': case 'i': case 'm':
	case 'n': case 'x':
		break;		/* sendmail options without meaning here */
	case LONG_VERSION:
		o->mode = MODE_VERSION;
		break;
	case LONG_HELP:
		o->mode = MODE_HELP;
		break;
	case LONG_PRETEND:
		o->mode = MODE_PRETEND;
		break;
	case LONG_SERVERINFO:
		o->mode = MODE_SERVERINFO;
		break;
	case LONG_AUTHORIZE:
		o->mode = MODE_AUTHORIZE;
		break;
	case LONG_DEVICE:
		o->flow = OAUTH2_FLOW_DEVICE;
		break;
	case LONG_BROWSER:
		o->flow = OAUTH2_FLOW_BROWSER;
		break;
	case LONG_STORE_PASSWORD:
		o->mode = MODE_STORE_PASSWORD;
		break;
	default:
		return error_set(err, ERR_USAGE, "unknown option");
	}
	return 0;
}

/*
 * Postfix-compatible parsing: attached or separate arguments, bundled
 * flags, options end at the first operand or "--" ('+' in the string).
 * A bare "-q" (flush the queue) has no argument, unlike "-q1h".
 */
static int
parse_args(int argc, char **argv, struct opts *o, struct error *err)
{
	static const struct option longopts[] = {
		{ "version", no_argument, NULL, LONG_VERSION },
		{ "help", no_argument, NULL, LONG_HELP },
		{ "pretend", no_argument, NULL, LONG_PRETEND },
		{ "serverinfo", no_argument, NULL, LONG_SERVERINFO },
		{ "store-password", no_argument, NULL, LONG_STORE_PASSWORD },
		{ "authorize", no_argument, NULL, LONG_AUTHORIZE },
		{ "device", no_argument, NULL, LONG_DEVICE },
		{ "browser", no_argument, NULL, LONG_BROWSER },
		{ "account", required_argument, NULL, LONG_ACCOUNT },
		{ NULL, 0, NULL, 0 },
	};
	const char *prog = basename(argv[0]);
	int c;

	memset(o, 0, sizeof(*o));
	if (strcmp(prog, "mailq") == 0)
		o->mode = MODE_QUEUE;
	else if (strcmp(prog, "newaliases") == 0)
		o->mode = MODE_NEWALIASES;
	opterr = 0;
	for (;;) {
		if (optind < argc && strcmp(argv[optind], "-q") == 0) {
			o->mode = MODE_QUEUE;
			optind++;
			continue;
		}
		c = getopt_long(argc, argv,
		    "+A:B:C:F:GIL:N:O:R:UV:X:a:b:ce:f:h:imno:p:r:q:tvx",
		    longopts, NULL);
		if (c == -1)
			break;
		if (c == '?' || c == ':') {
			if (optopt > 0 && optopt < 256)
				return error_set(err, ERR_USAGE,
				    "option -%c: %s", optopt,
				    c == ':' ? "needs an argument" :
				    "unknown option");
			return error_set(err, ERR_USAGE, "unknown option %s",
			    argv[optind - 1]);
		}
		if (parse_option(c, optarg, o, err) == -1)
			return -1;
	}
	if (o->flow != 0 && o->mode != MODE_AUTHORIZE)
		return error_set(err, ERR_USAGE, "--device and --browser go "
		    "with --authorize");
	o->rcpts = argv + optind;
	o->nrcpts = argc - optind;
	return 0;
}

/* The configuration files read, and system files skipped, for -v and
   --pretend: which of smtpsend's and msmtp's files was used. */
static void
print_config_files(const struct config *cf, FILE *fp, const char *prefix)
{
	const char *const *f;

	for (f = config_files(cf); *f != NULL; f++)
		fprintf(fp, "%sconfiguration file: %s\n", prefix, *f);
	for (f = config_notes(cf); *f != NULL; f++)
		fprintf(fp, "%sconfiguration file: %s\n", prefix, *f);
}

/* Choose the account: -a, else the one whose from matches -f, else default. */
static const struct account *
pick_account(const struct config *cf, const struct opts *o,
    struct error *err)
{
	const struct account *acc;

	if (o->account != NULL)
		return config_account(cf, o->account, err);
	if (o->from != NULL && o->from[0] != '\0') {
		acc = config_account_for_from(cf, o->from);
		if (acc != NULL)
			return acc;
	}
	return config_account(cf, "default", err);
}

/*
 * The domain for unqualified names: that of the account's from, else that
 * of the envelope sender, else the account's domain (EHLO name).
 */
static const char *
qualify_domain(const struct account *acc, const char *from)
{
	const char *d = acc->from != NULL ? addr_domain(acc->from) : NULL;

	if (d == NULL && from != NULL)
		d = addr_domain(from);
	return d != NULL ? d : acc->domain;
}

/*
 * The envelope sender: -f when given and allowed ("" and "<>" are the null
 * sender), else the account's from.  Unqualified names get the domain of
 * the account's from.  *out is malloc'ed.
 */
static int
envelope_from(const struct account *acc, const struct opts *o,
    const struct message *msg, char **out, struct error *err)
{
	struct addr_list l = { 0 };
	const char *domain = qualify_domain(acc, NULL);
	int ret = -1;

	*out = NULL;
	if (o->from == NULL || acc->allow_from_override == CFG_OFF) {
		/* msmtp's %F: the address in the message's From header. */
		if (message_header_addrs(msg, "From", &l, err) == -1 ||
		    config_from(acc, l.n > 0 ? l.v[0].addr : NULL, out,
		    err) == -1)
			goto out;
		if (*out == NULL || (*out)[0] == '\0') {
			error_set(err, ERR_CONFIG, "account %s has no from "
			    "address and no -f was given", acc->name);
			error_hint(err, "add a line \"from you@example.org\" "
			    "to the account");
			goto out;
		}
		ret = 0;
		goto out;
	}
	if (o->from[0] == '\0' || strcmp(o->from, "<>") == 0) {
		*out = strdup("");
		return *out == NULL ? error_set(err, ERR_OS, "out of memory") : 0;
	}
	if (addr_list_parse(&l, o->from, err) == -1)
		return -1;
	if (l.n != 1) {
		error_set(err, ERR_USAGE, "-f %s: one sender address expected",
		    o->from);
		goto out;
	}
	if (addr_domain(l.v[0].addr) == NULL) {
		if (asprintf(out, "%s@%s", l.v[0].addr, domain) == -1) {
			*out = NULL;
			error_set(err, ERR_OS, "out of memory");
			goto out;
		}
	} else {
		*out = strdup(l.v[0].addr);
		if (*out == NULL) {
			error_set(err, ERR_OS, "out of memory");
			goto out;
		}
	}
	ret = 0;
out:
	addr_list_free(&l);
	return ret;
}

/* argv operands (each an address list) plus, with -t, the headers. */
static int
collect_recipients(const struct account *acc, const struct opts *o,
    const struct message *msg, const char *from, struct addr_list *rcpts,
    struct error *err)
{
	struct aliases *al = NULL;
	int i, ret = -1;

	for (i = 0; i < o->nrcpts; i++)
		if (addr_list_parse(rcpts, o->rcpts[i], err) == -1)
			return -1;
	if (o->extract && message_recipients(msg, rcpts, err) == -1)
		return -1;
	if (rcpts->n == 0)
		return error_set(err, ERR_USAGE, "no recipients: give "
		    "addresses as arguments, or -t to read To, Cc and Bcc");
	if (acc->aliases != NULL && aliases_load(&al, acc->aliases, err) == -1)
		return -1;
	if (addr_list_resolve(rcpts, al, qualify_domain(acc, from), err) == -1)
		goto out;
	ret = 0;
out:
	aliases_free(al);
	return ret;
}

/* The header changes the account and the options ask for. */
static int
fix_message(const struct account *acc, const struct opts *o,
    struct message *msg, const char *from, struct error *err)
{
	struct message_fixes fx;
	const char *msgid_domain = addr_domain(from);

	if (msgid_domain == NULL && acc->from != NULL)
		msgid_domain = addr_domain(acc->from);
	if (msgid_domain == NULL)
		msgid_domain = acc->domain;
	memset(&fx, 0, sizeof(fx));
	fx.from_addr = from[0] != '\0' ? from : acc->from;
	fx.from_name = o->full_name != NULL ? o->full_name : acc->from_full_name;
	fx.from_mode = acc->set_from_header;
	fx.add_date = acc->set_date_header != CFG_OFF;
	fx.msgid_domain = acc->set_msgid_header != CFG_OFF ? msgid_domain : NULL;
	fx.remove_bcc = acc->remove_bcc_headers != CFG_OFF;
	fx.domain = qualify_domain(acc, from);
	return message_fix(msg, &fx, err);
}

/* Everything needed for one send; owned here, released by send_free(). */
struct sendctx {
	struct config_env	 env;
	struct config		*cf;
	struct message		*msg;
	struct addr_list	 rcpts;
	char			*from;
	char			*secret;
	char			*fresh;	/* a refreshed OAuth2 token, or NULL */
	const struct account	*acc;	/* points into cf */
	struct send_result	 res;
};

/*
 * The secret for AUTH.  When auth is on only because a user is set (no
 * auth line, see config.c) and no source has a secret (the keyring
 * answered that it has none), the mail goes without AUTH: many servers
 * relay for their own network without it, and retrying could never find
 * a password.  *nosecret then holds the "no password" error, for
 * auth_was_needed(); -v says so.  An unreachable keyring stays an error.
 */
static int
get_secret(const struct opts *o, const struct account *acc, char **secret,
    struct error *nosecret, struct error *err)
{
	int rc;

	error_clear(nosecret);
	rc = secret_get(acc, secret, err);
	if (rc != 1)
		return rc;
	if (acc->set & ACC_BIT(ACC_AUTH))
		return -1;
	*nosecret = *err;
	error_clear(err);
	if (o->verbose)
		fprintf(stderr, "--- no password for %s at %s (none in the "
		    "configuration, none in the keyring) and no auth line: "
		    "sending without AUTH\n", acc->user, acc->host);
	return 0;
}

/*
 * A refusal after sending without AUTH that asks for authentication (530,
 * or an enhanced status 5.7.x or 4.7.x such as Postfix's "Relay access
 * denied") is the missing password: report that (78), with the reply.
 */
static void
auth_was_needed(const struct error *nosecret, struct error *err)
{
	struct error e = *nosecret;
	size_t n = strlen(e.msg);

	if (err->kind != ERR_REPLY || (err->code != 530 &&
	    strncmp(err->status, "5.7.", 4) != 0 &&
	    strncmp(err->status, "4.7.", 4) != 0))
		return;
	e.code = err->code;
	e.step = err->step;
	snprintf(e.status, sizeof(e.status), "%s", err->status);
	snprintf(e.reply, sizeof(e.reply), "%s", err->reply);
	snprintf(e.msg + n, sizeof(e.msg) - n, "; sent without AUTH, the "
	    "server refused");
	*err = e;
}

/* send_job.refresh for an OAuth2 account: c->secret is replaced. */
static int
refresh_token(void *arg, const char *refused, const char **fresh,
    struct error *err)
{
	struct sendctx *c = arg;
	char *token = NULL;

	if (secret_refresh(c->acc, refused, &token, err) == -1)
		return -1;
	/* job->secret still points to the old one: keep it until the end. */
	secret_free(c->fresh);
	c->fresh = token;
	*fresh = token;
	return 0;
}

static int
do_send(const struct opts *o, struct sendctx *c, struct error *err)
{
	const struct account *acc;
	struct send_job job;
	struct error nosecret;

	error_clear(&nosecret);
	/* The whole message is read before anything else can fail. */
	if (message_read(&c->msg, STDIN_FILENO, NULL, err) == -1)
		return -1;
	if (config_env_init(&c->env, err) == -1 ||
	    config_load(&c->cf, o->config, &c->env, err) == -1)
		return -1;
	if (o->verbose)
		print_config_files(c->cf, stderr, "--- ");
	acc = pick_account(c->cf, o, err);
	if (acc == NULL)
		return -1;
	c->acc = acc;
	if (envelope_from(acc, o, c->msg, &c->from, err) == -1 ||
	    collect_recipients(acc, o, c->msg, c->from, &c->rcpts, err) == -1 ||
	    fix_message(acc, o, c->msg, c->from, err) == -1)
		return -1;
	/* EXTERNAL gets "" from secret_get(): AUTH still happens. */
	if (config_auth(acc) != NULL &&
	    get_secret(o, acc, &c->secret, &nosecret, err) == -1)
		return -1;
	memset(&job, 0, sizeof(job));
	job.acc = acc;
	job.from = c->from;
	job.rcpts = &c->rcpts;
	job.msg = c->msg;
	job.secret = c->secret;
	job.dsn_notify = o->dsn_notify != NULL ? o->dsn_notify : acc->dsn_notify;
	job.dsn_return = o->dsn_return != NULL ? o->dsn_return : acc->dsn_return;
	job.dsn_envid = o->dsn_envid;
	job.body = o->body;
	job.verbose = o->verbose ? stderr : NULL;
	if (acc->oauth2_provider != NULL) {
		job.refresh = refresh_token;
		job.refresh_arg = c;
	}
	if (send_message(&job, &c->res, err) == -1) {
		if (nosecret.kind != ERR_NONE)
			auth_was_needed(&nosecret, err);
		return -1;
	}
	return 0;
}

static void
log_send(const struct opts *o, struct sendctx *c, const struct error *err,
    int code)
{
	struct log_record rec;

	if (c->acc == NULL || c->from == NULL)
		return;		/* failed before an attempt was possible */
	memset(&rec, 0, sizeof(rec));
	rec.acc = c->acc;
	rec.from = c->from;
	rec.rcpts = &c->rcpts;
	rec.size = c->msg != NULL ? message_size(c->msg) : 0;
	rec.res = &c->res;
	rec.err = err;
	rec.exit_code = code;
	rec.logfile = o->logfile;
	rec.syslog_tag = o->syslog_tag;
	log_attempt(&rec);
}

static void
send_free(struct sendctx *c)
{
	secret_free(c->secret);
	secret_free(c->fresh);
	free(c->from);
	addr_list_free(&c->rcpts);
	message_free(c->msg);
	config_free(c->cf);
	config_env_free(&c->env);
}

/* --pretend, --serverinfo, --store-password: an account, no message. */
static int
do_account_mode(const struct opts *o, struct error *err)
{
	struct config_env env = { 0 };
	struct config *cf = NULL;
	const struct account *acc;
	int ret = -1;

	if (config_env_init(&env, err) == -1)
		return -1;
	if (config_load(&cf, o->config, &env, err) == -1)
		goto out;
	if (o->mode == MODE_PRETEND)
		print_config_files(cf, stdout, "");
	acc = pick_account(cf, o, err);
	if (acc == NULL)
		goto out;
	if (o->mode == MODE_PRETEND) {
		config_print_account(acc, stdout);
		ret = 0;
	} else if (o->mode == MODE_SERVERINFO) {
		ret = send_serverinfo(acc, stdout, err);
	} else if (o->mode == MODE_AUTHORIZE) {
		ret = secret_authorize(acc, o->flow, stdout, err);
	} else {
		ret = secret_store(acc, err);
	}
out:
	config_free(cf);
	config_env_free(&env);
	return ret;
}

/*
 * The process may hold a password or token: no core file, and no
 * ptrace or /proc/PID/mem access by other processes of the user.
 */
static void
protect_secrets(void)
{
	struct rlimit none = { 0, 0 };

	(void)setrlimit(RLIMIT_CORE, &none);
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct error err;
	struct sendctx c;
	int code;

	protect_secrets();
	error_clear(&err);
	if (parse_args(argc, argv, &o, &err) == -1) {
		fprintf(stderr, "smtpsend: %s\n%s\n", err.msg, usage_line);
		if (!isatty(STDIN_FILENO))
			message_drain(STDIN_FILENO);
		return EX_USAGE;
	}
	switch (o.mode) {
	case MODE_VERSION:
		printf("smtpsend %s\n", SMTPSEND_VERSION);
		return EX_OK;
	case MODE_HELP:
		print_help();
		return EX_OK;
	case MODE_NEWALIASES:
		return EX_OK;
	case MODE_QUEUE:
		printf("Mail queue is empty (smtpsend sends at once and "
		    "keeps no queue)\n");
		return EX_OK;
	case MODE_PRETEND:
	case MODE_SERVERINFO:
	case MODE_STORE_PASSWORD:
	case MODE_AUTHORIZE:
		code = do_account_mode(&o, &err) == -1 ?
		    error_exit_code(&err) : EX_OK;
		error_print(&err);
		return code;
	case MODE_SEND:
		break;
	}
	memset(&c, 0, sizeof(c));
	if (do_send(&o, &c, &err) == -1 && err.kind == ERR_NONE)
		error_set(&err, ERR_INTERNAL, "failed without a reason");
	if (c.msg == NULL && !isatty(STDIN_FILENO))
		message_drain(STDIN_FILENO);
	code = error_exit_code(&err);
	log_send(&o, &c, &err, code);
	error_print(&err);
	send_free(&c);
	return code;
}
