/*
 * bs_send.c: one -bs transaction submitted (declared in bs.h), the way
 * sendmail.c submits standard input: the account's envelope sender rules,
 * aliases and qualification of the recipients, and the steps both share
 * (submit.h: message fixes, the secret), send_message(), the log line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "bs.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "message.h"
#include "secret.h"
#include "send.h"
#include "submit.h"

int
bs_send(const struct bs_opts *o, const struct bs_txn *t, struct message *msg,
    struct send_result *res, FILE *verbose, struct error *err)
{
	const struct account *acc = t->acc;
	struct aliases *al = NULL;
	struct addr_list rcpts = { 0 };
	struct log_record rec;
	struct send_job job;
	char *from = NULL, *secret = NULL;
	size_t i;
	struct error nosecret;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	error_clear(&nosecret);
	if (submit_sender(acc, t->from, msg, &from, err) == -1)
		goto out;
	for (i = 0; i < t->rcpts->n; i++)
		if (addr_list_add(&rcpts, t->rcpts->v[i].addr, NULL, err) == -1)
			goto out;
	if (acc->aliases != NULL && aliases_load(&al, acc->aliases, err) == -1)
		goto out;
	if (addr_list_resolve(&rcpts, al, submit_domain(acc, from),
	    err) == -1 || submit_fix(acc, o->full_name, msg, from, err) == -1)
		goto out;
	if (verbose != NULL)
		message_note_long_lines(msg, verbose);
	if (config_auth(acc) != NULL &&
	    submit_secret(acc, verbose, &secret, &nosecret, err) == -1)
		goto out;
	memset(&job, 0, sizeof(job));
	job.acc = acc;
	job.from = from;
	job.rcpts = &rcpts;
	job.msg = msg;
	job.secret = secret;
	job.dsn_notify = t->notify != NULL ? t->notify :
	    o->dsn_notify != NULL ? o->dsn_notify : acc->dsn_notify;
	job.dsn_return = t->ret != NULL ? t->ret :
	    o->dsn_return != NULL ? o->dsn_return : acc->dsn_return;
	job.dsn_envid = t->envid != NULL ? t->envid : o->dsn_envid;
	job.body = t->body != 0 ? t->body : o->body;
	job.verbose = verbose;
	rc = send_message(&job, res, err);
	if (rc == -1)
		submit_auth_was_needed(&nosecret, err);
out:
	if (from != NULL) {
		memset(&rec, 0, sizeof(rec));
		rec.acc = acc;
		rec.from = from;
		rec.rcpts = &rcpts;
		rec.size = message_size(msg);
		rec.res = res;
		rec.err = err;
		rec.exit_code = error_exit_code(err);
		rec.logfile = o->logfile;
		rec.syslog_tag = o->syslog_tag;
		log_attempt(&rec);
	}
	aliases_free(al);
	secret_free(secret);
	addr_list_free(&rcpts);
	free(from);
	return rc;
}
