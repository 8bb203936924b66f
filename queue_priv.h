/*
 * queue_priv.h: the queue directory's insides, shared by queue.c (files,
 * listing) and queue_flush.c (sending).  Not a contract.
 */
#ifndef SMTPSEND_QUEUE_PRIV_H
#define SMTPSEND_QUEUE_PRIV_H

#include <stddef.h>

#include <stdio.h>

struct account;
struct envelope;
struct error;
struct scram_kept;
struct submit_token;

struct queue_dirs {
	const char	*path;
	int		 fd;		/* the queue directory */
	int		 tmp;		/* tmp/: files being written */
	int		 failed;	/* failed/: not retried; -1 if none */
};

/* Open dir (create: with tmp/ and failed/, mode 0700).  1 if it does not
   exist and create is 0. */
int	queue_open(struct queue_dirs *q, const char *dir, int create,
	    struct error *err);
void	queue_close(struct queue_dirs *q);

/* 1 if id has the form make_id() gives. */
int	queue_valid_id(const char *id);

/* Write e as dirfd/ID.env: temp file in tmp/, fsync, rename, fsync dir. */
int	queue_write_env(const struct queue_dirs *q, int dirfd,
	    const struct envelope *e, struct error *err);

/* Read dirfd/ID.env: 0, 1 if it does not exist, -1 damaged (ERR_DATA). */
int	queue_read_env(int dirfd, const char *id, struct envelope *e,
	    struct error *err);

/* The ids of dirfd's envelopes, sorted (oldest first). */
int	queue_ids(int dirfd, char ***ids, size_t *n, struct error *err);
void	queue_ids_free(char **ids, size_t n);

/* Delete ID.env then ID.body of dirfd; -1 if there was no ID.env. */
int	queue_drop(int dirfd, const char *id);

/*
 * Send the failure notice for e (to its sender, from <>, through acc):
 * status is the DSN status ("5.1.1", "4.4.7"), reason one line.  Nothing
 * is sent for a message whose sender is the null sender.  scram: where
 * secret came from (send_job's), or NULL; tok: an OAuth2 token
 * refreshed once if the server refuses secret (submit_refresh), or NULL.
 */
int	queue_notice(const struct account *acc, const char *secret,
	    struct scram_kept *scram, struct submit_token *tok,
	    const struct envelope *e, const char *dir,
	    const char *status, const char *reason, FILE *verbose, struct error *err);

#endif
