/*
 * sendmail.c: main(): spool the message, pick the account, find the
 * recipients and the secret, submit, log, exit; the other modes of the
 * command line (options.c parses it): queue, -bs, --pretend and the like.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include "address.h"
#include "bs.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "message.h"
#include "options.h"
#include "queue.h"
#include "scram_cache.h"
#include "secret.h"
#include "send.h"
#include "submit.h"

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
	if (addr_list_resolve(rcpts, al, submit_domain(acc, from), err) == -1)
		goto out;
	ret = 0;
out:
	aliases_free(al);
	return ret;
}

/* Everything needed for one send; owned here, released by send_free(). */
struct sendctx {
	struct config_env	 env;
	struct config		*cf;
	struct message		*msg;
	struct addr_list	 rcpts;
	char			*from;
	char			*secret;
	struct submit_token	 tok;	/* a refreshed OAuth2 token */
	struct scram_kept	 kept;	/* where secret came from */
	const struct account	*acc;	/* points into cf */
	struct send_result	 res;
	int			 ready;	/* the message could be queued */
	char			 queued[QUEUE_ID_MAX];	/* its id, once queued */
};

static int
do_send(const struct opts *o, struct sendctx *c, struct error *err)
{
	const struct account *acc;
	struct send_job job;
	struct error nosecret, cferr;
	char spool[4096];

	error_clear(&nosecret);
	error_clear(&cferr);
	/* The account first, so that the spool is made in its queue
	   directory (queueing it is then a link, whatever the size); its
	   errors wait: the whole message is read before anything can fail. */
	acc = NULL;
	if (config_env_init(&c->env, &cferr) == 0 &&
	    config_load(&c->cf, o->config, &c->env, &cferr) == 0)
		acc = pick_account(c->cf, o, &cferr);
	if (message_read(&c->msg, STDIN_FILENO,
	    queue_spool_dir(acc, c->env.home, spool, sizeof(spool)) == 0 ?
	    spool : NULL, err) == -1)
		return -1;
	/* A closed stdin reads as this too: never send a made-up message. */
	if (message_is_empty(c->msg))
		return error_set(err, ERR_DATA, "the message is empty "
		    "(nothing on standard input): nothing sent");
	if (acc == NULL) {
		*err = cferr;
		return -1;
	}
	if (o->verbose)
		print_config_files(c->cf, stderr, "--- ");
	c->acc = acc;
	if (submit_sender(acc, o->from, c->msg, &c->from, err) == -1 ||
	    collect_recipients(acc, o, c->msg, c->from, &c->rcpts, err) == -1 ||
	    submit_fix(acc, o->full_name, c->msg, c->from, err) == -1)
		return -1;
	c->ready = 1;
	if (o->defer && acc->queue != CFG_OFF)
		return error_set(err, ERR_NETWORK, "delivery deferred (-odq)");
	if (o->verbose)
		message_note_long_lines(c->msg, stderr);
	/* EXTERNAL gets "" from secret_get(): AUTH still happens. */
	if (config_auth(acc) != NULL &&
	    submit_secret(acc, o->verbose ? stderr : NULL, &c->secret,
	    &c->kept, &nosecret, err) == -1)
		return -1;
	memset(&job, 0, sizeof(job));
	job.acc = acc;
	job.from = c->from;
	job.rcpts = &c->rcpts;
	job.msg = c->msg;
	job.secret = c->secret;
	job.scram = &c->kept;
	job.dsn_notify = o->dsn_notify != NULL ? o->dsn_notify : acc->dsn_notify;
	job.dsn_return = o->dsn_return != NULL ? o->dsn_return : acc->dsn_return;
	job.dsn_envid = o->dsn_envid;
	job.body = o->body;
	job.verbose = o->verbose ? stderr : NULL;
	submit_refresh(&job, &c->tok);
	if (send_message(&job, &c->res, err) == -1) {
		submit_auth_was_needed(&nosecret, err);
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
	submit_token_free(&c->tok);
	scram_kept_free(&c->kept);
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
		char dir[4096];

		if (queue_default_dir(acc, env.home, dir, sizeof(dir),
		    err) == -1)
			goto out;
		config_print_account(acc, stdout);
		config_print_queue(acc, dir, stdout);
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

/* -bs: the session lives in bs.c. */
static int
run_bs(const struct opts *o)
{
	struct bs_opts b;

	memset(&b, 0, sizeof(b));
	b.config = o->config;
	b.account = o->account;
	b.full_name = o->full_name;
	b.dsn_notify = o->dsn_notify;
	b.dsn_return = o->dsn_return;
	b.dsn_envid = o->dsn_envid;
	b.logfile = o->logfile;
	b.syslog_tag = o->syslog_tag;
	b.body = o->body;
	b.verbose = o->verbose;
	return bs_run(&b);
}

/*
 * Closed standard descriptors (a caller's "<&-" or ">&-") are opened on
 * /dev/null before anything else opens a file: otherwise the spool could
 * become fd 0 and be read as the message, or the server's socket fd 2 and
 * get the -v transcript and our error messages written into the SMTP
 * stream.  Returns -1 when that is impossible.
 */
static int
open_std_fds(void)
{
	int fd;

	for (fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		/* The lowest free descriptor, which is fd itself. */
		if (open("/dev/null", fd == STDIN_FILENO ? O_RDONLY :
		    O_WRONLY) != fd)
			return -1;
	}
	return 0;
}

/*
 * A caller that ignores SIGCHLD (some daemons, PHP-FPM setups) passes that
 * on across exec: the kernel would then reap our children itself, and no
 * exit status of eval, passwordeval or the keyring child could be read.
 */
static void
reset_signals(void)
{
	signal(SIGCHLD, SIG_DFL);
}

/*
 * -q, mailq, --queue-show, --queue-remove, --queue-dir.  They look at
 * every queue directory of the user (each account's, and the default
 * one), or with -a at that account's only; --queue-dir prints that of -a,
 * else of the default account, else the default directory.  A missing
 * configuration does not stop mailq.
 */
static int
do_queue_mode(const struct opts *o, struct error *err)
{
	struct config_env env = { 0 };
	struct config *cf = NULL;
	const struct account *acc = NULL;
	struct queue_flush_opts fo;
	struct error ignored;
	char **dirs = NULL;
	size_t ndirs = 0, n;
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
	/* With -a (and for --queue-dir), the first directory alone. */
	if (queue_all_dirs(o->account != NULL || o->mode == MODE_QUEUE_DIR ?
	    NULL : cf, acc, env.home, &dirs, &ndirs, err) == -1)
		goto out;
	n = o->account != NULL || o->mode == MODE_QUEUE_DIR ? 1 : ndirs;
	switch (o->mode) {
	case MODE_QUEUE_DIR:
		printf("%s\n", dirs[0]);
		ret = 0;
		break;
	case MODE_QUEUE_SHOW:
		ret = queue_show(dirs, n, o->queue_id, stdout, err);
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
			if (queue_remove(dirs, n, o->rcpts[i], &ignored) == 0)
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
		ret = queue_flush(dirs, n, &fo, err);
		break;
	default:
		ret = queue_list(dirs, n, stdout, err);
		break;
	}
out:
	queue_dirs_free(dirs, ndirs);
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
	return queue_keep(c->msg, &item, c->env.home, why, c->queued);
}

/* The server took a message: it may take the queued ones too (of
   every account: that user's queue). */
static void
flush_after_send(const struct opts *o, struct sendctx *c)
{
	struct queue_flush_opts fo;
	struct error err;
	char **dirs;
	size_t ndirs;

	error_clear(&err);
	if (queue_all_dirs(c->cf, c->acc, c->env.home, &dirs, &ndirs,
	    &err) == -1)
		return;
	memset(&fo, 0, sizeof(fo));
	fo.cf = c->cf;
	fo.logfile = o->logfile;
	fo.syslog_tag = o->syslog_tag;
	fo.home = c->env.home;
	queue_flush_detached(dirs, ndirs, &fo);
	queue_dirs_free(dirs, ndirs);
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
	char id[QUEUE_ID_MAX];

	memset(&item, 0, sizeof(item));
	item.acc = c->acc;
	item.from = c->from;
	item.rcpts = &c->rcpts;
	item.dsn_envid = o->dsn_envid;
	item.body = o->body;
	item.failed = 1;
	(void)queue_keep(c->msg, &item, c->env.home, why, id);
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

	/* Nothing can be said on a closed stderr: just the code. */
	if (open_std_fds() == -1)
		return EX_OSERR;
	reset_signals();
	protect_secrets();
	error_clear(&err);
	if (options_parse(argc, argv, &o, &err) == -1) {
		fprintf(stderr, "smtpsend: %s\n%s\n", err.msg, options_usage());
		if (o.mode == MODE_SEND && !o.bmode && !isatty(STDIN_FILENO))
			message_drain(STDIN_FILENO);
		return EX_USAGE;
	}
	switch (o.mode) {
	case MODE_VERSION:
		printf("smtpsend %s\n", SMTPSEND_VERSION);
		return EX_OK;
	case MODE_HELP:
		options_help();
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
	case MODE_AUTHORIZE:
		code = do_account_mode(&o, &err) == -1 ?
		    error_exit_code(&err) : EX_OK;
		error_print(&err);
		return code;
	case MODE_BS:
		return run_bs(&o);
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
