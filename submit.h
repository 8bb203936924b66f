#ifndef SMTPSEND_SUBMIT_H
#define SMTPSEND_SUBMIT_H

/*
 * submit.h: the steps every way in shares to submit one message through an
 * account: standard input (sendmail.c) and each -bs transaction (bs_send.c).
 * It calls down (config, message, secret) and knows no SMTP.
 */
#include <stdio.h>

#include "config.h"
#include "error.h"
#include "message.h"

struct send_job;
struct scram_kept;

/*
 * The domain for unqualified names: that of the account's from, else that
 * of the envelope sender from (may be NULL), else the account's domain.
 * Points into acc or from.
 */
const char *submit_domain(const struct account *acc, const char *from);

/*
 * The envelope sender into *out (malloc'ed): requested (-f, MAIL FROM) when
 * given and the account allows it ("" and "<>" are the null sender), else
 * the account's from (msmtp's %F: from the message's From header).  An
 * unqualified name gets submit_domain()'s domain.
 */
int	submit_sender(const struct account *acc, const char *requested,
	    const struct message *msg, char **out, struct error *err);

/*
 * The header changes the account asks for (From, Date, Message-ID, Bcc,
 * undisclosed recipients, qualification), for envelope sender from ("" is
 * the null sender) and display name full_name (-F; NULL: the account's).
 */
int	submit_fix(const struct account *acc, const char *full_name,
	    struct message *msg, const char *from, struct error *err);

/*
 * The secret for AUTH into *secret (secret_free()).  When auth is on only
 * because a user is set (no auth line) and no source has a secret, the
 * mail goes without AUTH: *nosecret then holds the "no password" error
 * for submit_auth_was_needed(), and verbose (may be NULL) says so.  kept
 * as secret_get()'s (may be NULL; scram_kept_free() it).  An
 * unreachable keyring, or no secret with an auth line, is -1 with *err.
 */
int	submit_secret(const struct account *acc, FILE *verbose, char **secret,
	    struct scram_kept *kept, struct error *nosecret, struct error *err);

/*
 * After a send that went without AUTH (nosecret set): a refusal asking for
 * authentication (530, 5.7.x, 4.7.x) becomes the missing password (78)
 * with the server's reply.  Otherwise err is left as it is.
 */
void	submit_auth_was_needed(const struct error *nosecret,
	    struct error *err);

/*
 * What a send keeps to refresh an OAuth2 token that the server refused:
 * the account, and the new token (owned here, wiped by
 * submit_token_free() once the send is over).
 */
struct submit_token {
	const struct account	*acc;
	char			*fresh;
};

/*
 * For an account with oauth2_provider: job (its acc set) refreshes a
 * token the server refuses, once (secret_refresh()), and authenticates
 * again in the same session; tok keeps the new token.  Other accounts:
 * job is left as it is.
 */
void	submit_refresh(struct send_job *job, struct submit_token *tok);
/* Wipe and free the token tok kept; tok may be reused. */
void	submit_token_free(struct submit_token *tok);

#endif
