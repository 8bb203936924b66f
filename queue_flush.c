/*
 * queue_flush.c: -q.  Each due message is locked, read back and handed to
 * send.c; the answer decides its fate: delivered (removed), temporary
 * (backoff, and a throttling reply stops its account for this run),
 * permanent or expired (failed/).  Nothing here speaks SMTP.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "envelope.h"
#include "error.h"
#include "log.h"
#include "message.h"
#include "queue.h"
#include "queue_priv.h"
#include "scram_cache.h"
#include "secret.h"
#include "send.h"
#include "submit.h"

/* What a run knows about each account it met. */
struct acct_state {
	const struct account	*acc;
	char			*secret;
	struct submit_token	 tok;	/* OAuth2: refreshed in this run */
	struct scram_kept	 kept;		/* where secret came from */
	int			 fetched;	/* secret_get() was asked */
	struct error		 secret_err;	/* its failure, if any */
	int			 stopped;	/* throttled: no more this run */
};

struct flush {
	const struct queue_flush_opts	*o;
	struct queue_dirs		*qs;		/* one per directory */
	struct acct_state		*accts;
	size_t				 naccts;
	time_t				 now;
};

static struct acct_state *
acct_state(struct flush *f, const struct account *acc)
{
	struct acct_state *v;
	size_t i;

	for (i = 0; i < f->naccts; i++)
		if (f->accts[i].acc == acc)
			return &f->accts[i];
	v = reallocarray(f->accts, f->naccts + 1, sizeof(*v));
	if (v == NULL)
		return NULL;
	f->accts = v;
	memset(&v[f->naccts], 0, sizeof(*v));
	v[f->naccts].acc = acc;
	return &v[f->naccts++];
}

/* The secret to use: an OAuth2 token refreshed in this run (the server
   refused the one fetched first), else the one fetched. */
static const char *
live_secret(const struct acct_state *st)
{
	return st->tok.fresh != NULL ? st->tok.fresh : st->secret;
}

/* The account's secret, asked once per run; as in a send, no secret and
   no auth line means no AUTH. */
static int
acct_secret(struct acct_state *st, const char **secret, struct error *err)
{
	struct error nosecret;

	*secret = NULL;
	if (config_auth(st->acc) == NULL)
		return 0;
	if (!st->fetched) {
		st->fetched = 1;
		error_clear(&st->secret_err);
		if (submit_secret(st->acc, NULL, &st->secret, &st->kept,
		    &nosecret, &st->secret_err) == -1 && st->secret_err.kind == ERR_NONE)
			error_set(&st->secret_err, ERR_SECRET,
			    "no password for account %s", st->acc->name);
	}
	if (st->secret_err.kind != ERR_NONE) {
		*err = st->secret_err;
		return -1;
	}
	*secret = live_secret(st);
	return 0;
}

static void
log_event(const struct flush *f, const struct account *acc,
    const struct envelope *e, const struct send_result *res,
    const struct error *err, const char *what)
{
	struct addr_list l = { 0 };
	struct log_record rec;
	struct error e2;
	char q[64];
	size_t i;

	error_clear(&e2);
	for (i = 0; i < e->nrcpts; i++)
		(void)addr_list_add(&l, e->rcpts[i], NULL, &e2);
	snprintf(q, sizeof(q), "%s:%s", what, e->id);
	memset(&rec, 0, sizeof(rec));
	rec.acc = acc;
	rec.from = e->sender;
	rec.rcpts = &l;
	rec.size = e->headers_len + e->body_size;
	rec.res = res;
	rec.err = err;
	rec.exit_code = err != NULL ? error_exit_code(err) : 0;
	rec.logfile = f->o->logfile;
	rec.syslog_tag = f->o->syslog_tag;
	rec.queue = q;
	log_attempt(&rec);
	addr_list_free(&l);
}

/* "what failed: reply" in one line, for last-error. */
static void
describe(const struct error *err, char *buf, size_t size)
{
	if (err->reply[0] != '\0')
		snprintf(buf, size, "%s: %s", err->msg, err->reply);
	else
		snprintf(buf, size, "%s", err->msg);
}

/*
 * Move the entry to failed/ with reason: the body is linked there first,
 * then the envelope written there, then the queued one dropped; a crash
 * in between leaves it queued (sent or failed again), never lost.
 */
static void
to_failed(const struct queue_dirs *q, struct envelope *e, const char *reason)
{
	char body[QUEUE_ID_MAX + 8];
	struct error err;
	char *old = e->last_error;
	enum envelope_state ost = e->state;

	error_clear(&err);
	snprintf(body, sizeof(body), "%s.body", e->id);
	e->state = ENVELOPE_FAILED;
	e->last_error = (char *)(uintptr_t)reason;
	if ((linkat(q->fd, body, q->failed, body, 0) == -1 &&
	    errno != EEXIST) ||
	    queue_write_env(q, q->failed, e, &err) == -1) {
		if (err.kind == ERR_NONE)
			error_set(&err, ERR_IO, "%s/failed/%s: %s",
			    q->path, body, strerror(errno));
		fprintf(stderr, "smtpsend: %s: cannot move it to failed/: "
		    "%s\n", e->id, err.msg);
	} else {
		(void)queue_drop(q->fd, e->id);
		fprintf(stderr, "smtpsend: %s: moved to %s/failed/: %s\n",
		    e->id, q->path, reason);
	}
	e->last_error = old;
	e->state = ost;
}

/* A due message, locked, with its envelope read back. */
struct item {
	struct envelope		 e;
	int			 fd;	/* ID.body, flock'ed */
	int			 done;
	const struct queue_dirs	*q;	/* its directory */
};

/* A temporary failure: count it, back off, maybe mark it uncertain. */
static void
defer(struct flush *f, struct item *it, const struct error *serr)
{
	char why[ERROR_MSG_MAX + ERROR_REPLY_MAX + 4];
	struct envelope *e = &it->e;
	struct error err;
	char *old = e->last_error;

	error_clear(&err);
	describe(serr, why, sizeof(why));
	/* No reply to the final dot: the server may have the message.  A
	   duplicate beats a loss, so it is retried, and mailq says so. */
	if (serr->code == 0 && serr->step != NULL &&
	    (strcmp(serr->step, "end of data") == 0 ||
	    strcmp(serr->step, "BDAT") == 0))
		e->state = ENVELOPE_UNCERTAIN;
	e->attempts++;
	e->next = f->now + envelope_backoff(e->attempts);
	e->last_error = why;
	if (queue_write_env(it->q, it->q->fd, e, &err) == -1)
		fprintf(stderr, "smtpsend: %s: %s\n", e->id, err.msg);
	fprintf(stderr, "smtpsend: %s: still queued: %s\n", e->id, why);
	e->last_error = old;
}

static int
throttled(const struct error *err)
{
	return err->code == 421 || strncmp(err->status, "4.7.", 4) == 0;
}

/*
 * Lock the item's body and read its envelope again under the lock (a
 * flush that held it may have sent or changed it).  0 when it is still
 * there and due; else -1, unlocked.  Taken just before the message is
 * sent (for the first of an account, before connecting), one at a time,
 * so a queue of any length needs one descriptor.
 */
static int
lock_item(struct flush *f, struct item *it)
{
	char id[QUEUE_ID_MAX], body[QUEUE_ID_MAX + 8];
	struct error err;
	struct stat st;
	int rc;

	error_clear(&err);
	snprintf(id, sizeof(id), "%s", it->e.id);
	snprintf(body, sizeof(body), "%s.body", id);
	it->fd = openat(it->q->fd, body, O_RDONLY | O_CLOEXEC);
	if (it->fd == -1) {
		if (errno != ENOENT)
			fprintf(stderr, "smtpsend: %s: %s\n", id,
			    strerror(errno));
		else if (faccessat(it->q->fd, body, F_OK, 0) == -1 &&
		    queue_read_env(it->q->fd, id, &it->e, &err) == 0)
			fprintf(stderr, "smtpsend: %s: its body file is "
			    "missing (left in place)\n", id);
		return -1;
	}
	/* Another flush has it: that one sends it. */
	if (flock(it->fd, LOCK_EX | LOCK_NB) == -1)
		goto skip;
	envelope_free(&it->e);
	rc = queue_read_env(it->q->fd, id, &it->e, &err);
	if (rc == 1)
		goto skip;	/* delivered by the flush that held the lock */
	if (rc == -1) {
		fprintf(stderr, "smtpsend: %s\n", err.msg);
		goto skip;
	}
	if (fstat(it->fd, &st) == -1 || (uint64_t)st.st_size !=
	    it->e.body_size) {
		fprintf(stderr, "smtpsend: queue file %s: it is not %llu "
		    "octets (left in place)\n", body,
		    (unsigned long long)it->e.body_size);
		goto skip;
	}
	if (!f->o->force && it->e.next > f->now)
		goto skip;
	return 0;
skip:
	close(it->fd);	/* releases the lock */
	it->fd = -1;
	return -1;
}

static void
unlock_item(struct item *it)
{
	if (it->fd != -1)
		close(it->fd);
	it->fd = -1;
}

/* Read id's envelope without a lock: 0 when it looks due, else -1. */
static int
peek(struct flush *f, const struct queue_dirs *q, const char *id,
    struct item *it)
{
	struct error err;
	int rc;

	memset(it, 0, sizeof(*it));
	it->fd = -1;
	it->q = q;
	error_clear(&err);
	rc = queue_read_env(q->fd, id, &it->e, &err);
	if (rc == -1)
		fprintf(stderr, "smtpsend: %s\n", err.msg);
	if (rc != 0)
		return -1;
	if (!f->o->force && it->e.next > f->now) {
		envelope_free(&it->e);
		return -1;
	}
	return 0;
}

/* Move it to failed/ and tell its sender. */
static void
give_up(struct flush *f, struct acct_state *st, struct item *it,
    const char *status, const char *why, const char *event,
    const struct send_result *res, const struct error *err)
{
	struct error nerr;

	to_failed(it->q, &it->e, why);
	log_event(f, st->acc, &it->e, res, err, event);
	error_clear(&nerr);
	if (queue_notice(st->acc, live_secret(st), &st->kept, &st->tok, &it->e,
	    it->q->path, status, why, f->o->verbose, &nerr) == -1) {
		fprintf(stderr, "smtpsend: %s: the failure notice to <%s> "
		    "was not sent: %s\n", it->e.id, it->e.sender, nerr.msg);
		log_event(f, st->acc, &it->e, NULL, &nerr, "notice-failed");
	} else if (it->e.sender[0] != '\0') {
		log_event(f, st->acc, &it->e, NULL, NULL, "notice-sent");
	}
}

/* One transaction over the session for the locked item. */
static void
deliver(struct flush *f, struct acct_state *st, struct send_session *ss,
    struct item *it)
{
	struct envelope *e = &it->e;
	struct addr_list rcpts = { 0 };
	struct message *m = NULL;
	struct send_result res;
	struct send_job job;
	struct error err;
	char why[ERROR_MSG_MAX + ERROR_REPLY_MAX + 64];
	size_t i;
	int fd;

	error_clear(&err);
	memset(&res, 0, sizeof(res));
	for (i = 0; i < e->nrcpts; i++)
		if (addr_list_add(&rcpts, e->rcpts[i], NULL, &err) == -1)
			goto out;
	fd = dup(it->fd);
	if (fd == -1 || message_from_queue(&m, e->headers, e->headers_len,
	    fd, e->body_size, e->separator, e->eightbit, e->qp, &err) == -1) {
		if (fd != -1)
			close(fd);
		if (err.kind == ERR_NONE)
			error_set(&err, ERR_OS, "dup: %s", strerror(errno));
		goto out;
	}
	memset(&job, 0, sizeof(job));
	job.acc = st->acc;
	job.from = e->sender;
	job.rcpts = &rcpts;
	job.msg = m;
	job.secret = live_secret(st);
	job.scram = &st->kept;
	job.dsn_notify = e->dsn_notify;
	job.dsn_return = e->dsn_return;
	job.dsn_envid = e->dsn_envid;
	job.body = e->body_type;
	job.verbose = f->o->verbose;
	if (send_next(ss, &job, &res, &err) == 0) {
		(void)queue_drop(it->q->fd, e->id);
		log_event(f, st->acc, e, &res, NULL, "delivered");
		goto out;
	}
	if (error_exit_code(&err) == 75) {
		defer(f, it, &err);
		if (throttled(&err))
			st->stopped = 1;
		log_event(f, st->acc, e, &res, &err, "retry");
		goto out;
	}
	describe(&err, why, sizeof(why));
	give_up(f, st, it, err.status[0] == '5' ? err.status : "5.0.0", why,
	    "failed", &res, &err);
out:
	if (err.kind == ERR_OS || err.kind == ERR_DATA)
		fprintf(stderr, "smtpsend: %s: %s\n", e->id, err.msg);
	message_free(m);
	addr_list_free(&rcpts);
}

/*
 * The messages of one account (items[0..n) with that account name):
 * expired ones to failed/, the others over one connection, reopened only
 * when the server closed it.  A session that cannot be opened, or a
 * throttling reply, leaves the rest in place for the next run.
 */
static void
flush_account(struct flush *f, struct item *items, size_t n)
{
	const struct account *acc;
	struct acct_state *st;
	struct send_session *ss = NULL;
	struct send_result res;
	struct send_job auth;
	struct error err;
	char why[ERROR_MSG_MAX + 128];
	const char *secret;
	size_t i;

	error_clear(&err);
	acc = config_account(f->o->cf, items[0].e.account, &err);
	if (acc == NULL) {
		for (i = 0; i < n; i++) {
			if (lock_item(f, &items[i]) == -1)
				continue;
			defer(f, &items[i], &err);
			unlock_item(&items[i]);
		}
		return;
	}
	st = acct_state(f, acc);
	if (st == NULL)
		return;
	for (i = 0; i < n; i++) {
		if (f->now - items[i].e.queued < acc->queue_lifetime)
			continue;
		if (lock_item(f, &items[i]) == -1) {
			items[i].done = 1;
			continue;
		}
		snprintf(why, sizeof(why), "not delivered within "
		    "queue_lifetime (%d s); last error: %s",
		    acc->queue_lifetime, items[i].e.last_error != NULL ?
		    items[i].e.last_error : "none");
		(void)acct_secret(st, &secret, &err);
		error_clear(&err);
		give_up(f, st, &items[i], "4.4.7", why, "expired", NULL, NULL);
		unlock_item(&items[i]);
		items[i].done = 1;
	}
	for (i = 0; i < n && !st->stopped; i++) {
		if (items[i].done || lock_item(f, &items[i]) == -1)
			continue;
		if (acct_secret(st, &secret, &err) == -1) {
			defer(f, &items[i], &err);
			log_event(f, acc, &items[i].e, NULL, &err, "retry");
			unlock_item(&items[i]);
			st->stopped = 1;
			break;
		}
		memset(&auth, 0, sizeof(auth));
		auth.acc = acc;
		auth.secret = secret;
		auth.scram = &st->kept;
		auth.verbose = f->o->verbose;
		/* A refused OAuth2 token: one refresh, one more AUTH. */
		submit_refresh(&auth, &st->tok);
		if (ss == NULL && send_open(&ss, &auth, &res, &err) == -1) {
			/* The rest keep their place: the server is not
			   there, or not for us, right now. */
			defer(f, &items[i], &err);
			log_event(f, acc, &items[i].e, &res, &err, "retry");
			unlock_item(&items[i]);
			st->stopped = 1;
			break;
		}
		deliver(f, st, ss, &items[i]);
		unlock_item(&items[i]);
		if (!send_usable(ss)) {
			send_close(ss);
			ss = NULL;
		}
	}
	send_close(ss);
}

/*
 * What a crash can leave: a body whose envelope was never renamed into
 * place (killed inside queue_put), files in tmp/.  Never sent; removed
 * once an hour old, so that a queue_put still running is not disturbed.
 */
static void
sweep(int dirfd, int bodies)
{
	char env[NAME_MAX + 8];
	struct dirent *de;
	struct stat st;
	size_t len;
	time_t old = time(NULL) - 3600;
	DIR *d;
	int fd;

	fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' ||
		    fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || st.st_mtime > old)
			continue;
		len = strlen(de->d_name);
		if (bodies) {
			if (len <= 5 || len > NAME_MAX ||
			    strcmp(de->d_name + len - 5, ".body") != 0)
				continue;
			snprintf(env, sizeof(env), "%.*s.env", (int)(len - 5),
			    de->d_name);
			if (faccessat(dirfd, env, F_OK, 0) == 0 || errno != ENOENT)
				continue;
		}
		(void)unlinkat(dirfd, de->d_name, 0);
	}
	closedir(d);
}

/*
 * Open dir into q and add its due messages to *items (*nitems of them).
 * 1 when it does not exist (nothing queued there: it is not made).
 */
static int
gather(struct flush *f, const char *dir, struct queue_dirs *q,
    struct item **items, size_t *nitems, struct error *err)
{
	struct item *v;
	struct stat st;
	char **ids = NULL;
	size_t n = 0, i;
	int ret = -1;

	q->fd = q->tmp = q->failed = -1;
	if (stat(dir, &st) == -1 && errno == ENOENT)
		return 1;
	if (queue_open(q, dir, 1, err) == -1)
		return -1;
	if (queue_ids(q->fd, &ids, &n, err) == -1)
		goto out;
	v = reallocarray(*items, *nitems + n + 1, sizeof(*v));
	if (v == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	*items = v;
	for (i = 0; i < n; i++)
		if (peek(f, q, ids[i], &v[*nitems]) == 0)
			(*nitems)++;
	ret = 0;
out:
	queue_ids_free(ids, n);
	return ret;
}

int
queue_flush(char *const *dirs, size_t ndirs,
    const struct queue_flush_opts *o, struct error *err)
{
	struct flush f;
	struct item *items = NULL, tmp;
	struct error derr;
	size_t nitems = 0, i, j, k;
	int ret = 0;

	memset(&f, 0, sizeof(f));
	f.o = o;
	f.qs = calloc(ndirs > 0 ? ndirs : 1, sizeof(*f.qs));
	if (f.qs == NULL)
		return error_set(err, ERR_OS, "out of memory");
	/* What is due, by account; each is locked just before it is sent. */
	f.now = time(NULL);
	for (i = 0; i < ndirs; i++) {
		error_clear(&derr);
		if (gather(&f, dirs[i], &f.qs[i], &items, &nitems,
		    &derr) != -1)
			continue;
		/* The other directories are flushed all the same. */
		if (ret == -1)
			error_print(err);
		*err = derr;
		ret = -1;
	}
	/* Group by account, oldest first within each (a stable pass): one
	   connection per account, whichever directories hold its messages. */
	for (i = 0; i < nitems; i = j) {
		for (j = i + 1, k = i + 1; k < nitems; k++) {
			if (strcmp(items[k].e.account,
			    items[i].e.account) != 0)
				continue;
			tmp = items[k];
			memmove(&items[j + 1], &items[j],
			    (k - j) * sizeof(*items));
			items[j++] = tmp;
		}
		f.now = time(NULL);
		flush_account(&f, &items[i], j - i);
	}
	for (i = 0; i < ndirs; i++) {
		if (f.qs[i].fd == -1)
			continue;
		sweep(f.qs[i].fd, 1);
		sweep(f.qs[i].tmp, 0);
	}
	for (i = 0; i < nitems; i++) {
		envelope_free(&items[i].e);
		unlock_item(&items[i]);
	}
	free(items);
	for (i = 0; i < f.naccts; i++) {
		secret_free(f.accts[i].secret);
		submit_token_free(&f.accts[i].tok);
		scram_kept_free(&f.accts[i].kept);
	}
	free(f.accts);
	for (i = 0; i < ndirs; i++)
		queue_close(&f.qs[i]);
	free(f.qs);
	return ret;
}

/* 1 if dir holds an envelope (due or not: the flush decides). */
static int
queue_nonempty(const char *dir)
{
	struct dirent *de;
	size_t len;
	DIR *d;
	int found = 0;

	d = opendir(dir);
	if (d == NULL)
		return 0;
	while (!found && (de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		found = len > 4 && strcmp(de->d_name + len - 4, ".env") == 0;
	}
	closedir(d);
	return found;
}

void
queue_flush_detached(char *const *dirs, size_t ndirs,
    const struct queue_flush_opts *o)
{
	struct queue_flush_opts quiet = *o;
	struct error err;
	size_t i;
	pid_t pid;
	int fd, status;

	for (i = 0; i < ndirs; i++)
		if (queue_nonempty(dirs[i]))
			break;
	if (i == ndirs)
		return;
	fflush(NULL);
	pid = fork();
	if (pid == -1)
		return;
	if (pid > 0) {
		/* The child only forks again: reap it, leave no zombie. */
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
		return;
	}
	if (setsid() == -1 || fork() != 0)
		_exit(0);
	/* The caller may wait for EOF on our output: let go of it. */
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd == -1)
		_exit(0);
	(void)dup2(fd, STDIN_FILENO);
	(void)dup2(fd, STDOUT_FILENO);
	(void)dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	quiet.verbose = NULL;
	error_clear(&err);
	(void)queue_flush(dirs, ndirs, &quiet, &err);
	_exit(0);
}
