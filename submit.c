/*
 * submit.c: the steps every way in shares to submit one message through an
 * account (see submit.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "address.h"
#include "config.h"
#include "error.h"
#include "message.h"
#include "secret.h"
#include "send.h"
#include "submit.h"

const char *
submit_domain(const struct account *acc, const char *from)
{
	const char *d = acc->from != NULL ? addr_domain(acc->from) : NULL;

	if (d == NULL && from != NULL)
		d = addr_domain(from);
	return d != NULL ? d : acc->domain;
}

int
submit_sender(const struct account *acc, const char *requested,
    const struct message *msg, char **out, struct error *err)
{
	struct addr_list l = { 0 };
	const char *domain = submit_domain(acc, NULL);
	int ret = -1;

	*out = NULL;
	if (requested == NULL || acc->allow_from_override == CFG_OFF) {
		/* msmtp's %F: the address in the message's From header. */
		if (message_header_addrs(msg, "From", &l, err) == -1 ||
		    config_from(acc, l.n > 0 ? l.v[0].addr : NULL, out,
		    err) == -1)
			goto out;
		if (*out == NULL || (*out)[0] == '\0') {
			error_set(err, ERR_CONFIG, "account %s has no from "
			    "address and %s", acc->name, requested == NULL ?
			    "no sender was given (-f)" :
			    "allow_from_override is off");
			error_hint(err, "add a line \"from you@example.org\" "
			    "to the account");
			goto out;
		}
		ret = 0;
		goto out;
	}
	if (requested[0] == '\0' || strcmp(requested, "<>") == 0) {
		*out = strdup("");
		return *out == NULL ? error_set(err, ERR_OS, "out of memory") : 0;
	}
	if (addr_list_parse(&l, requested, err) == -1)
		return -1;
	if (l.n != 1) {
		error_set(err, ERR_USAGE, "sender %s: one address expected",
		    requested);
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

int
submit_fix(const struct account *acc, const char *full_name,
    struct message *msg, const char *from, struct error *err)
{
	struct message_fixes fx;
	struct aliases *al = NULL;
	const char *msgid_domain = addr_domain(from);
	int rc;

	if (msgid_domain == NULL && acc->from != NULL)
		msgid_domain = addr_domain(acc->from);
	if (msgid_domain == NULL)
		msgid_domain = acc->domain;
	memset(&fx, 0, sizeof(fx));
	fx.from_addr = from[0] != '\0' ? from : acc->from;
	fx.from_name = full_name != NULL ? full_name : acc->from_full_name;
	fx.from_mode = acc->set_from_header;
	fx.add_date = acc->set_date_header != CFG_OFF;
	fx.msgid_domain = acc->set_msgid_header != CFG_OFF ? msgid_domain : NULL;
	fx.remove_bcc = acc->remove_bcc_headers != CFG_OFF;
	fx.undisclosed = acc->undisclosed_recipients == CFG_ON;
	fx.domain = submit_domain(acc, from);
	fx.keep_addrs = acc->rewrite_headers == CFG_OFF;
	if (!fx.keep_addrs && acc->aliases != NULL &&
	    aliases_load(&al, acc->aliases, err) == -1)
		return -1;
	fx.aliases = al;
	rc = message_fix(msg, &fx, err);
	aliases_free(al);
	return rc;
}

/*
 * Many servers relay for their own network without AUTH, and retrying
 * could never find a password: so an implicit auth with no secret anywhere
 * (the keyring answered that it has none) sends without it.
 */
int
submit_secret(const struct account *acc, FILE *verbose, char **secret,
    struct scram_kept *kept, struct error *nosecret, struct error *err)
{
	int rc;

	error_clear(nosecret);
	rc = secret_get(acc, secret, kept, err);
	if (rc != 1)
		return rc;
	if (acc->set & ACC_BIT(ACC_AUTH))
		return -1;
	*nosecret = *err;
	error_clear(err);
	if (verbose != NULL)
		fprintf(verbose, "--- no password for %s at %s (none in the "
		    "configuration, none in the keyring) and no auth line: "
		    "sending without AUTH\n", acc->user, acc->host);
	return 0;
}

void
submit_auth_was_needed(const struct error *nosecret, struct error *err)
{
	struct error e = *nosecret;
	size_t n = strlen(e.msg);

	if (nosecret->kind == ERR_NONE || err->kind != ERR_REPLY ||
	    (err->code != 530 && strncmp(err->status, "5.7.", 4) != 0 &&
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

/*
 * send_job.refresh: tok->fresh is replaced.  refused may be the token it
 * held (the queue's flush opens a session with it): it is read before
 * that is freed, and the caller moves on to *fresh.
 */
static int
refresh_token(void *arg, const char *refused, const char **fresh,
    struct error *err)
{
	struct submit_token *tok = arg;
	char *token = NULL;

	if (secret_refresh(tok->acc, refused, &token, err) == -1)
		return -1;
	secret_free(tok->fresh);
	tok->fresh = token;
	*fresh = token;
	return 0;
}

void
submit_refresh(struct send_job *job, struct submit_token *tok)
{
	if (job->acc->oauth2_provider == NULL)
		return;
	tok->acc = job->acc;
	job->refresh = refresh_token;
	job->refresh_arg = tok;
}

void
submit_token_free(struct submit_token *tok)
{
	secret_free(tok->fresh);
	tok->fresh = NULL;
}
