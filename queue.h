/*
 * queue.h: the local queue.  A message that could not be sent for a
 * temporary reason is kept in a directory (its body spool linked in, its
 * envelope in a file a human can read) until a flush delivers it, or it
 * expires.  Files, locks, envelopes and backoff live here; the SMTP of a
 * flush is send.c's.
 */
#ifndef SMTPSEND_QUEUE_H
#define SMTPSEND_QUEUE_H

#include <stddef.h>
#include <stdio.h>

struct account;
struct addr_list;
struct config;
struct error;
struct message;

#define QUEUE_ID_MAX	32

/*
 * The queue directory of acc (acc may be NULL): its queue_dir, else
 * $SMTPSEND_QUEUE_DIR, else /var/spool/smtpsend for root, else
 * $XDG_STATE_HOME/smtpsend/queue (home/.local/state/smtpsend/queue).
 * Errors: ERR_CONFIG when the name does not fit.
 */
int	queue_default_dir(const struct account *acc, const char *home,
	    char *buf, size_t size, struct error *err);

/*
 * Every queue directory of the user, each once (by name, or by device
 * and inode when it exists): that of first (NULL: the default account's
 * place is the default directory), then that of each account of cf (cf
 * may be NULL) in order, then the default directory.  *dirs is malloc'ed
 * (queue_dirs_free()).  Errors: ERR_CONFIG (a name too long), ERR_OS.
 */
int	queue_all_dirs(const struct config *cf, const struct account *first,
	    const char *home, char ***dirs, size_t *ndirs, struct error *err);
void	queue_dirs_free(char **dirs, size_t n);

/*
 * Where a send through acc spools its message so that queueing it is a
 * link, never a copy: the tmp/ directory of its queue directory (made,
 * mode 0700, when missing; files there have no name) in buf.  -1 when
 * acc is NULL, its queue is off, or the directory cannot be made: the
 * spool then goes to $TMPDIR (and is copied if it is queued after all).
 */
int	queue_spool_dir(const struct account *acc, const char *home,
	    char *buf, size_t size);

/* What queue_put() records besides the message. */
struct queue_item {
	const struct account	*acc;
	const char		*from;		/* "" = null sender */
	const struct addr_list	*rcpts;
	const char		*dsn_notify;	/* or NULL */
	const char		*dsn_return;
	const char		*dsn_envid;
	int			 body;		/* -B: 0, 7, 8 */
	const char		*reason;	/* last error, or NULL */
	int			 failed;	/* 1: straight into failed/ */
};

/*
 * Durably queue msg (fixes applied) in dir: the body spool is linked in
 * (copied only from another file system), the envelope written to a
 * temporary name, synced, renamed, and the directory synced.  The id goes
 * to idbuf (QUEUE_ID_MAX).  On any error nothing is left that a flush
 * would send.  Errors: ERR_IO (the queue cannot take it), ERR_OS.
 */
int	queue_put(const char *dir, const struct message *msg,
	    const struct queue_item *item, char *idbuf, struct error *err);

/*
 * Keep msg after a failed send: queued for a temporary failure why, or
 * with item->failed in failed/.  item->reason is set from why (its message
 * and the server's reply); the directory is queue_default_dir(item->acc,
 * home).  Says what became of it on stderr, in one line ("queued as ID:
 * REASON; it will be retried (smtpsend -q sends it now)").  0 with the id
 * in idbuf (QUEUE_ID_MAX); -1 when the queue cannot take it (said too).
 */
int	queue_keep(const struct message *msg, struct queue_item *item,
	    const char *home, const struct error *why, char *idbuf);

/* What a flush needs from the command line. */
struct queue_flush_opts {
	const struct config	*cf;
	int			 force;		/* -qf: ignore backoff */
	FILE			*verbose;	/* -v transcript, or NULL */
	const char		*logfile;	/* -X */
	const char		*syslog_tag;	/* -L */
	const char		*home;		/* for the default directory */
};

/*
 * -q: send the due messages of every directory of dirs (all with force);
 * each message through the account its envelope names, each account's
 * messages, whichever directory holds them, over one connection.
 * Delivered ones leave the queue; temporary failures stay with backoff;
 * permanent ones and expired ones move to failed/.  A directory that does
 * not exist holds nothing (it is not made).  Returns 0 when the run
 * happened, whatever became of the messages; -1 when a directory cannot
 * be read (the others are flushed all the same; the errors before the
 * last are printed).
 */
int	queue_flush(char *const *dirs, size_t ndirs,
	    const struct queue_flush_opts *o, struct error *err);

/*
 * After a successful send: when a directory of dirs holds any queued
 * message, flush them all in a detached grandchild (new session, standard
 * descriptors on /dev/null) and return at once; the caller's exit status
 * and time do not depend on it.  Costs one directory read per directory
 * when the queue is empty.
 */
void	queue_flush_detached(char *const *dirs, size_t ndirs,
	    const struct queue_flush_opts *o);

/*
 * mailq: for each directory of dirs with entries, one entry per message
 * (and per failed one), then "-- N messages in DIR"; when there is none,
 * "Mail queue is empty (DIR, ...)" naming the directories that exist
 * (dirs[0] if none does).  A directory that cannot be read is an error
 * (the others are listed; the errors before the last printed).
 */
int	queue_list(char *const *dirs, size_t ndirs, FILE *fp,
	    struct error *err);

/* --queue-show: the envelope and the header block of id, from the first
   directory of dirs that holds it.  ERR_USAGE if none does. */
int	queue_show(char *const *dirs, size_t ndirs, const char *id, FILE *fp,
	    struct error *err);

/* --queue-remove: delete id (queued or failed) from the directory of dirs
   that holds it.  ERR_USAGE if none does. */
int	queue_remove(char *const *dirs, size_t ndirs, const char *id,
	    struct error *err);

#endif
