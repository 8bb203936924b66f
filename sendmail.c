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
#include "queue.h"
#include "secret.h"
#include "send.h"

enum mode {
	MODE_SEND,
	MODE_VERSION,
	MODE_HELP,
	MODE_PRETEND,
	MODE_SERVERINFO,
	MODE_STORE_PASSWORD,
	MODE_NEWALIASES,
	MODE_QUEUE,		/* mailq, -bp */
	MODE_FLUSH,		/* -q, -qf */
	MODE_QUEUE_SHOW,	/* --queue-show ID */
	MODE_QUEUE_REMOVE,	/* --queue-remove ID... */
	MODE_QUEUE_DIR,		/* --queue-dir */
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
	int		  defer;	/* -odq: queue without trying */
	int		  force;	/* -qf, -q --force: ignore backoff */
	const char	 *queue_id;	/* --queue-show */
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
	LONG_FORCE,
	LONG_QUEUE_SHOW,
	LONG_QUEUE_REMOVE,
	LONG_QUEUE_DIR,
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
	    "  -odq             queue the message without trying to send it\n"
	    "  -q, -qf          send the queued messages that are due (-qf: all)\n"
	    "  -bp, mailq       list the queue\n"
	    "  --queue-show ID, --queue-remove ID..., --queue-dir\n"
	    "  --version, --help\n\n"
	    "Exit codes follow sysexits(3): 0 sent or queued, 75 try again later,\n"
	    "others permanent; see smtpsend(1).\n");
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
		/* -qf: every message; -q1h and the like: one flush. */
		o->mode = MODE_FLUSH;
		if (strcmp(arg, "f") == 0)
			o->force = 1;
		break;
	case 'o':
		/* -odq defers; -odi and -odb (and -odbackground) send now. */
		if (strcmp(arg, "dq") == 0)
			o->defer = 1;
		else if (strcmp(arg, "di") == 0 || strcmp(arg, "db") == 0)
			o->defer = 0;
		break;
	case LONG_FORCE:
		o->force = 1;
		break;
	case LONG_QUEUE_SHOW:
		o->mode = MODE_QUEUE_SHOW;
		o->queue_id = arg;
		break;
	case LONG_QUEUE_REMOVE:
		o->mode = MODE_QUEUE_REMOVE;
		break;
	case LONG_QUEUE_DIR:
		o->mode = MODE_QUEUE_DIR;
		break;
	case 'A': case 'O': case 'e': case 'h': case 'p':
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
		{ "account", required_argument, NULL, LONG_ACCOUNT },
		{ "force", no_argument, NULL, LONG_FORCE },
		{ "queue-show", required_argument, NULL, LONG_QUEUE_SHOW },
		{ "queue-remove", no_argument, NULL, LONG_QUEUE_REMOVE },
		{ "queue-dir", no_argument, NULL, LONG_QUEUE_DIR },
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
			o->mode = MODE_FLUSH;
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
	const struct account	*acc;	/* points into cf */
	struct send_result	 res;
	int			 ready;	/* the message could be queued */
	char			 queued[QUEUE_ID_MAX];	/* its id, once queued */
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
	c->ready = 1;
	if (o->defer && acc->queue != CFG_OFF)
		return error_set(err, ERR_NETWORK, "delivery deferred (-odq)");
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
	char qnote[QUEUE_ID_MAX + 16];

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
	if (c->queued[0] != '\0') {
		snprintf(qnote, sizeof(qnote), "queued:%s", c->queued);
		rec.queue = qnote;
	}
	log_attempt(&rec);
}

static void
send_free(struct sendctx *c)
{
	secret_free(c->secret);
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
	} else {
		ret = secret_store(acc, err);
	}
out:
	config_free(cf);
	config_env_free(&env);
	return ret;
}

/*
 * -q, mailq, --queue-show, --queue-remove, --queue-dir.  The queue is that
 * of the account -a names, else of the default account, else the default
 * directory: a missing configuration does not stop mailq.
 */
static int
do_queue_mode(const struct opts *o, struct error *err)
{
	struct config_env env = { 0 };
	struct config *cf = NULL;
	const struct account *acc = NULL;
	struct queue_flush_opts fo;
	struct error ignored;
	char dir[4096];
	int i, ret = -1;

	if (config_env_init(&env, err) == -1)
		return -1;
	if (config_load(&cf, o->config, &env, err) == -1) {
		if (o->mode == MODE_FLUSH || o->config != NULL)
			goto out;
		error_clear(err);
	}
	error_clear(&ignored);
	if (cf != NULL)
		acc = o->account != NULL ? config_account(cf, o->account, err) :
		    config_account(cf, "default", &ignored);
	if (o->account != NULL && acc == NULL)
		goto out;
	if (queue_default_dir(acc, env.home, dir, sizeof(dir), err) == -1)
		goto out;
	switch (o->mode) {
	case MODE_QUEUE_DIR:
		printf("%s\n", dir);
		ret = 0;
		break;
	case MODE_QUEUE_SHOW:
		ret = queue_show(dir, o->queue_id, stdout, err);
		break;
	case MODE_QUEUE_REMOVE:
		if (o->nrcpts == 0) {
			error_set(err, ERR_USAGE, "--queue-remove: give the "
			    "ids of the messages (mailq lists them)");
			break;
		}
		/* Every id is tried; main() prints the last error. */
		ret = 0;
		for (i = 0; i < o->nrcpts; i++) {
			error_clear(&ignored);
			if (queue_remove(dir, o->rcpts[i], &ignored) == 0)
				continue;
			if (ret == -1)
				error_print(err);
			*err = ignored;
			ret = -1;
		}
		break;
	case MODE_FLUSH:
		memset(&fo, 0, sizeof(fo));
		fo.cf = cf;
		fo.force = o->force;
		fo.verbose = o->verbose ? stderr : NULL;
		fo.logfile = o->logfile;
		fo.syslog_tag = o->syslog_tag;
		fo.home = env.home;
		ret = queue_flush(dir, &fo, err);
		break;
	default:
		ret = queue_list(dir, stdout, err);
		break;
	}
out:
	config_free(cf);
	config_env_free(&env);
	return ret;
}

/*
 * A temporary failure of a send with the queue on: keep the message and
 * say so in one line.  0 when it is durably queued; -1 (and the reason
 * printed) when the queue cannot take it, so the caller still gets 75.
 */
static int
queue_message(const struct opts *o, struct sendctx *c, const struct error *why)
{
	struct queue_item item;
	struct error err;
	char dir[4096], reason[ERROR_MSG_MAX + ERROR_REPLY_MAX + 4];

	error_clear(&err);
	if (why->reply[0] != '\0')
		snprintf(reason, sizeof(reason), "%s: %s", why->msg,
		    why->reply);
	else
		snprintf(reason, sizeof(reason), "%s", why->msg);
	memset(&item, 0, sizeof(item));
	item.acc = c->acc;
	item.from = c->from;
	item.rcpts = &c->rcpts;
	item.dsn_notify = o->dsn_notify != NULL ? o->dsn_notify :
	    c->acc->dsn_notify;
	item.dsn_return = o->dsn_return != NULL ? o->dsn_return :
	    c->acc->dsn_return;
	item.dsn_envid = o->dsn_envid;
	item.body = o->body;
	item.reason = reason;
	if (queue_default_dir(c->acc, c->env.home, dir, sizeof(dir),
	    &err) == -1 || queue_put(dir, c->msg, &item, c->queued,
	    &err) == -1) {
		c->queued[0] = '\0';
		fprintf(stderr, "smtpsend: the message could not be queued: "
		    "%s\n", err.msg);
		return -1;
	}
	fprintf(stderr, "smtpsend: queued as %s: %s; it will be retried "
	    "(smtpsend -q sends it now)\n", c->queued, reason);
	return 0;
}

/* The server took a message: it may take the queued ones too. */
static void
flush_after_send(const struct opts *o, struct sendctx *c)
{
	struct queue_flush_opts fo;
	struct error err;
	char dir[4096];

	error_clear(&err);
	if (queue_default_dir(c->acc, c->env.home, dir, sizeof(dir),
	    &err) == -1)
		return;
	memset(&fo, 0, sizeof(fo));
	fo.cf = c->cf;
	fo.logfile = o->logfile;
	fo.syslog_tag = o->syslog_tag;
	fo.home = c->env.home;
	queue_flush_detached(dir, &fo);
}

/*
 * A server refused the message for good and nobody reads standard error
 * (cron, daemons): keep a copy in failed/ so that it is not silently gone
 * (mailq shows it).  No notice: the caller got the exit status.
 */
static void
keep_failed(const struct opts *o, struct sendctx *c, const struct error *why)
{
	struct queue_item item;
	struct error err;
	char dir[4096], id[QUEUE_ID_MAX], reason[ERROR_MSG_MAX +
	    ERROR_REPLY_MAX + 4];

	error_clear(&err);
	if (why->reply[0] != '\0')
		snprintf(reason, sizeof(reason), "%s: %s", why->msg,
		    why->reply);
	else
		snprintf(reason, sizeof(reason), "%s", why->msg);
	memset(&item, 0, sizeof(item));
	item.acc = c->acc;
	item.from = c->from;
	item.rcpts = &c->rcpts;
	item.dsn_envid = o->dsn_envid;
	item.body = o->body;
	item.reason = reason;
	item.failed = 1;
	if (queue_default_dir(c->acc, c->env.home, dir, sizeof(dir),
	    &err) == -1 || queue_put(dir, c->msg, &item, id, &err) == -1) {
		fprintf(stderr, "smtpsend: no copy kept: %s\n", err.msg);
		return;
	}
	fprintf(stderr, "smtpsend: a copy is kept as %s in %s/failed/ "
	    "(smtpsend --queue-show %s)\n", id, dir, id);
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
	case MODE_FLUSH:
	case MODE_QUEUE_SHOW:
	case MODE_QUEUE_REMOVE:
	case MODE_QUEUE_DIR:
		if (do_queue_mode(&o, &err) == -1) {
			code = error_exit_code(&err);
			error_print(&err);
			return code != 0 ? code : EX_SOFTWARE;
		}
		return EX_OK;
	case MODE_PRETEND:
	case MODE_SERVERINFO:
	case MODE_STORE_PASSWORD:
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
	if (code == EX_TEMPFAIL && c.ready && c.acc->queue != CFG_OFF &&
	    queue_message(&o, &c, &err) == 0) {
		log_send(&o, &c, &err, EX_OK);
		send_free(&c);
		return EX_OK;
	}
	log_send(&o, &c, &err, code);
	error_print(&err);
	if (code == EX_OK && c.acc != NULL && c.acc->queue != CFG_OFF)
		flush_after_send(&o, &c);
	if (code != EX_OK && c.ready && c.acc->queue != CFG_OFF &&
	    (err.kind == ERR_REPLY || err.kind == ERR_PARTIAL) &&
	    !isatty(STDERR_FILENO))
		keep_failed(&o, &c, &err);
	send_free(&c);
	return code;
}
