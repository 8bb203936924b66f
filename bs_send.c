/*
 * bs_send.c: one -bs transaction submitted (declared in bs.h), the way
 * sendmail.c submits standard input: the account's envelope sender rules,
 * aliases and qualification of the recipients, and the steps both share
 * (submit.h: message fixes, the secret, the OAuth2 refresh),
 * send_message(), the log line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "address.h"
#include "bs.h"
#include "config.h"
#include "error.h"
#include "log.h"
#include "message.h"
#include "queue.h"
#include "scram_cache.h"
#include "secret.h"
#include "send.h"
#include "submit.h"

/*
 * A temporary failure of a message that is ready (fixed) goes to the
 * queue, as a send from standard input does: 0 with its id in queued, or
 * -1 (err unchanged: the caller gets 451 and must try again).
 */
static int
queue_txn(const struct bs_txn *t, const struct message *msg,
    const char *from, const struct addr_list *rcpts,
    const struct send_job *job, const struct error *why, char *queued)
{
	struct queue_item item;

	memset(&item, 0, sizeof(item));
	item.acc = t->acc;
	item.from = from;
	item.rcpts = rcpts;
	item.dsn_notify = job->dsn_notify;
	item.dsn_return = job->dsn_return;
	item.dsn_envid = job->dsn_envid;
	item.body = job->body;
	return queue_keep(msg, &item, t->home, why, queued);
}

int
bs_send(const struct bs_opts *o, const struct bs_txn *t, struct message *msg,
    struct send_result *res, FILE *verbose, char *queued, struct error *err)
{
	const struct account *acc = t->acc;
	struct aliases *al = NULL;
	struct addr_list rcpts = { 0 };
	struct log_record rec;
	struct send_job job;
	struct submit_token tok;
	char *from = NULL, *secret = NULL, qnote[QUEUE_ID_MAX + 16];
	size_t i;
	struct error nosecret;
	struct scram_kept kept = { 0 };
	int ready = 0, rc = -1;

	memset(res, 0, sizeof(*res));
	memset(&job, 0, sizeof(job));
	memset(&tok, 0, sizeof(tok));
	error_clear(&nosecret);
	queued[0] = '\0';
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
	ready = 1;
	if (verbose != NULL)
		message_note_long_lines(msg, verbose);
	job.dsn_notify = t->notify != NULL ? t->notify :
	    o->dsn_notify != NULL ? o->dsn_notify : acc->dsn_notify;
	job.dsn_return = t->ret != NULL ? t->ret :
	    o->dsn_return != NULL ? o->dsn_return : acc->dsn_return;
	job.dsn_envid = t->envid != NULL ? t->envid : o->dsn_envid;
	job.body = t->body != 0 ? t->body : o->body;
	if (config_auth(acc) != NULL &&
	    submit_secret(acc, verbose, &secret, &kept, &nosecret, err) == -1)
		goto out;
	job.acc = acc;
	job.from = from;
	job.rcpts = &rcpts;
	job.msg = msg;
	job.secret = secret;
	job.scram = &kept;
	job.verbose = verbose;
	submit_refresh(&job, &tok);
	rc = send_message(&job, res, err);
	if (rc == -1)
		submit_auth_was_needed(&nosecret, err);
out:
	if (rc == -1 && ready && acc->queue != CFG_OFF &&
	    error_exit_code(err) == EX_TEMPFAIL &&
	    queue_txn(t, msg, from, &rcpts, &job, err, queued) == 0)
		rc = 1;
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
		if (rc == 1) {
			snprintf(qnote, sizeof(qnote), "queued:%s", queued);
			rec.queue = qnote;
			rec.exit_code = 0;
		}
		log_attempt(&rec);
	}
	aliases_free(al);
	secret_free(secret);
	submit_token_free(&tok);
	scram_kept_free(&kept);
	addr_list_free(&rcpts);
	free(from);
	return rc;
}
