/*
 * queue.c: the queue directory.  Each message is two files: ID.body, the
 * spool linked in as it was read (never rewritten), and ID.env, the
 * envelope (envelope.c).  ID.env appears by rename only, after its data
 * and the body are on disk: it is the commit point, so a crash leaves
 * either no entry or a whole one.  A flush locks ID.body (its inode never
 * changes) before it connects, so two flushes never send one message.
 * Subdirectories: tmp/ for files being written, failed/ for messages
 * that will not be retried.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "envelope.h"
#include "error.h"
#include "fsutil.h"
#include "message.h"
#include "queue.h"
#include "queue_priv.h"

#define ENV_MAX	(4 * 1024 * 1024)	/* header block cap + envelope */

int
queue_default_dir(const struct account *acc, const char *home, char *buf,
    size_t size, struct error *err)
{
	const char *env = getenv("SMTPSEND_QUEUE_DIR");
	const char *xdg = getenv("XDG_STATE_HOME");
	int n;

	if (acc != NULL && acc->queue_dir != NULL)
		n = snprintf(buf, size, "%s", acc->queue_dir);
	else if (env != NULL && env[0] == '/')
		n = snprintf(buf, size, "%s", env);
	else if (getuid() == 0)
		n = snprintf(buf, size, "/var/spool/smtpsend");
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(buf, size, "%s/smtpsend/queue", xdg);
	else
		n = snprintf(buf, size, "%s/.local/state/smtpsend/queue",
		    home != NULL ? home : "");
	if (n < 0 || (size_t)n >= size)
		return error_set(err, ERR_CONFIG, "the queue directory name "
		    "is too long");
	return 0;
}

/* Add dir to *v unless it is there: the same name, or the same directory
   (device and inode) under another name. */
static int
add_dir(char ***v, size_t *n, const char *dir)
{
	struct stat st, st2;
	char **nv;
	size_t i;

	for (i = 0; i < *n; i++)
		if (strcmp((*v)[i], dir) == 0)
			return 0;
	/* Only a name not seen yet costs a stat (of each, once more). */
	if (stat(dir, &st) == 0)
		for (i = 0; i < *n; i++)
			if (stat((*v)[i], &st2) == 0 &&
			    st.st_dev == st2.st_dev && st.st_ino == st2.st_ino)
				return 0;
	nv = reallocarray(*v, *n + 1, sizeof(**v));
	if (nv == NULL)
		return -1;
	*v = nv;
	nv[*n] = strdup(dir);
	if (nv[*n] == NULL)
		return -1;
	(*n)++;
	return 0;
}

/* add_dir() with acc's directory (acc NULL: the default one). */
static int
add_acc_dir(char ***v, size_t *n, const struct account *acc,
    const char *home, struct error *err)
{
	char buf[4096];

	if (queue_default_dir(acc, home, buf, sizeof(buf), err) == -1)
		return -1;
	if (add_dir(v, n, buf) == -1)
		return error_set(err, ERR_OS, "out of memory");
	return 0;
}

int
queue_all_dirs(const struct config *cf, const struct account *first,
    const char *home, char ***dirs, size_t *ndirs, struct error *err)
{
	char **v = NULL;
	size_t n = 0, i;

	*dirs = NULL;
	*ndirs = 0;
	if (add_acc_dir(&v, &n, first, home, err) == -1)
		goto fail;
	for (i = 0; config_account_at(cf, i) != NULL; i++)
		if (add_acc_dir(&v, &n, config_account_at(cf, i), home,
		    err) == -1)
			goto fail;
	if (add_acc_dir(&v, &n, NULL, home, err) == -1)
		goto fail;
	*dirs = v;
	*ndirs = n;
	return 0;
fail:
	queue_dirs_free(v, n);
	return -1;
}

void
queue_dirs_free(char **dirs, size_t n)
{
	queue_ids_free(dirs, n);	/* the same kind of list */
}

int
queue_spool_dir(const struct account *acc, const char *home, char *buf,
    size_t size)
{
	struct error ignored;
	size_t len;

	error_clear(&ignored);
	if (acc == NULL || acc->queue == CFG_OFF ||
	    queue_default_dir(acc, home, buf, size, &ignored) == -1)
		return -1;
	len = strlen(buf);
	if (len + sizeof("/tmp") > size)
		return -1;
	memcpy(buf + len, "/tmp", sizeof("/tmp"));
	/* Made once: then this is the one system call it costs. */
	if (mkdir(buf, 0700) == 0 || errno == EEXIST)
		return 0;
	return fs_mkdirs(buf);
}

int
queue_open(struct queue_dirs *q, const char *dir, int create,
    struct error *err)
{
	struct stat st;

	q->fd = q->tmp = q->failed = -1;
	q->path = dir;
	if (create && fs_mkdirs(dir) == -1) {
		error_set(err, ERR_IO, "cannot create the queue directory "
		    "%s: %s", dir, strerror(errno));
		goto fail;
	}
	q->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->fd == -1) {
		if (!create && errno == ENOENT)
			return 1;
		error_set(err, ERR_IO, "cannot open the queue directory %s: %s",
		    dir, strerror(errno));
		goto fail;
	}
	if (fstat(q->fd, &st) == -1 || st.st_uid != geteuid()) {
		error_set(err, ERR_IO, "the queue directory %s is not owned "
		    "by this user", dir);
		goto fail;
	}
	/* Other users must not read queued mail or plant entries. */
	if ((st.st_mode & 077) != 0 && fchmod(q->fd, 0700) == -1) {
		error_set(err, ERR_IO, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	if (create) {
		if ((mkdirat(q->fd, "tmp", 0700) == -1 && errno != EEXIST) ||
		    (mkdirat(q->fd, "failed", 0700) == -1 &&
		    errno != EEXIST)) {
			error_set(err, ERR_IO, "cannot create the queue "
			    "directory %s: %s", dir, strerror(errno));
			goto fail;
		}
	}
	q->tmp = openat(q->fd, "tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	q->failed = openat(q->fd, "failed", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC);
	if (create && (q->tmp == -1 || q->failed == -1)) {
		error_set(err, ERR_IO, "cannot open the queue directory %s: "
		    "%s", dir, strerror(errno));
		goto fail;
	}
	return 0;
fail:
	queue_close(q);
	return -1;
}

void
queue_close(struct queue_dirs *q)
{
	if (q->fd != -1)
		close(q->fd);
	if (q->tmp != -1)
		close(q->tmp);
	if (q->failed != -1)
		close(q->failed);
	q->fd = q->tmp = q->failed = -1;
}

/* Time first, so that a listing in name order is oldest first. */
static void
make_id(char *buf)
{
	unsigned int r = 0;

	if (getrandom(&r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r = (unsigned int)getpid() ^ (unsigned int)clock();
	snprintf(buf, QUEUE_ID_MAX, "%09llX%06X",
	    (unsigned long long)time(NULL), r & 0xffffff);
}

int
queue_valid_id(const char *id)
{
	size_t i;

	for (i = 0; id[i] != '\0'; i++)
		if (!((id[i] >= '0' && id[i] <= '9') ||
		    (id[i] >= 'A' && id[i] <= 'F')))
			return 0;
	return i > 0 && i < QUEUE_ID_MAX;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w == -1)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int
queue_write_env(const struct queue_dirs *q, int dirfd,
    const struct envelope *e, struct error *err)
{
	char tmpname[QUEUE_ID_MAX + 16], name[QUEUE_ID_MAX + 8];
	char *buf = NULL;
	size_t len;
	int fd = -1, ret = -1;

	snprintf(tmpname, sizeof(tmpname), "%s.env.%d", e->id, (int)getpid());
	snprintf(name, sizeof(name), "%s.env", e->id);
	if (envelope_format(e, &buf, &len, err) == -1)
		return -1;
	fd = openat(q->tmp, tmpname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd == -1 || write_all(fd, buf, len) == -1 || fsync(fd) == -1) {
		error_set(err, ERR_IO, "cannot write the queue file %s/tmp/%s: "
		    "%s", q->path, tmpname, strerror(errno));
		goto out;
	}
	if (renameat(q->tmp, tmpname, dirfd, name) == -1 || fsync(dirfd) == -1) {
		error_set(err, ERR_IO, "cannot write the queue file %s: %s",
		    name, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (fd != -1)
		close(fd);
	if (ret == -1)
		(void)unlinkat(q->tmp, tmpname, 0);
	free(buf);
	return ret;
}

/* The envelope for item and msg, borrowing their strings. */
static int
fill_envelope(struct envelope *e, const struct message *msg,
    const struct queue_item *item, char *id, struct error *err)
{
	size_t i;

	memset(e, 0, sizeof(*e));
	e->id = id;
	e->account = item->acc->name;
	e->sender = (char *)(uintptr_t)item->from;
	e->rcpts = calloc(item->rcpts->n, sizeof(*e->rcpts));
	if (e->rcpts == NULL)
		return error_set(err, ERR_OS, "out of memory");
	for (i = 0; i < item->rcpts->n; i++)
		e->rcpts[i] = item->rcpts->v[i].addr;
	e->nrcpts = item->rcpts->n;
	e->dsn_notify = (char *)(uintptr_t)item->dsn_notify;
	e->dsn_return = (char *)(uintptr_t)item->dsn_return;
	e->dsn_envid = (char *)(uintptr_t)item->dsn_envid;
	e->body_type = item->body;
	e->eightbit = message_is_8bit(msg);
	e->qp = message_is_qp(msg);
	e->queued = time(NULL);
	e->next = e->queued;	/* due at once: the backoff starts later */
	e->state = item->failed ? ENVELOPE_FAILED : ENVELOPE_QUEUED;
	e->last_error = (char *)(uintptr_t)item->reason;
	return message_headers(msg, &e->headers, &e->headers_len,
	    &e->separator, err);
}

int
queue_put(const char *dir, const struct message *msg,
    const struct queue_item *item, char *idbuf, struct error *err)
{
	struct queue_dirs q;
	struct envelope e;
	char body[QUEUE_ID_MAX + 8], tmpbody[QUEUE_ID_MAX + 16];
	struct stat st;
	int dirfd, tries, fd, ret = -1;

	memset(&e, 0, sizeof(e));
	if (queue_open(&q, dir, 1, err) == -1)
		return -1;
	dirfd = item->failed ? q.failed : q.fd;
	for (tries = 0; ; tries++) {
		make_id(idbuf);
		snprintf(body, sizeof(body), "%s.body", idbuf);
		snprintf(tmpbody, sizeof(tmpbody), "%s.body.%d", idbuf,
		    (int)getpid());
		if (message_spool_save(msg, dirfd, body, tmpbody, err) == 0)
			break;
		if (tries == 10 || fstatat(dirfd, body, &st, 0) == -1)
			goto out;
	}
	fd = openat(dirfd, body, O_RDONLY | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1) {
		error_set(err, ERR_IO, "%s/%s: %s", dir, body, strerror(errno));
		if (fd != -1)
			close(fd);
		goto out_body;
	}
	close(fd);
	if (fill_envelope(&e, msg, item, idbuf, err) == -1)
		goto out_body;
	e.body_size = (uint64_t)st.st_size;
	if (queue_write_env(&q, dirfd, &e, err) == -1)
		goto out_body;
	ret = 0;
	goto out;
out_body:
	/* No envelope: the body alone must not stay as litter. */
	(void)unlinkat(dirfd, body, 0);
out:
	if (ret == -1 && err->kind != ERR_IO && err->kind != ERR_OS)
		err->kind = ERR_IO;
	free(e.rcpts);
	free(e.headers);
	queue_close(&q);
	return ret;
}

int
queue_read_env(int dirfd, const char *id, struct envelope *e,
    struct error *err)
{
	char name[QUEUE_ID_MAX + 8];
	char *buf = NULL;
	struct stat st;
	ssize_t n;
	size_t got = 0;
	int fd, ret = -1;

	snprintf(name, sizeof(name), "%s.env", id);
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT)
			return 1;
		return error_set(err, ERR_IO, "%s: %s", name, strerror(errno));
	}
	if (fstat(fd, &st) == -1 || st.st_size > ENV_MAX) {
		error_set(err, ERR_DATA, "%s: too large", name);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		error_set(err, ERR_OS, "out of memory");
		goto out;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (envelope_parse(e, buf, got, err) == -1) {
		char msg[ERROR_MSG_MAX];

		snprintf(msg, sizeof(msg), "%s", err->msg);
		error_set(err, ERR_DATA, "queue file %s: %s (left in place)",
		    name, msg);
		goto out;
	}
	if (strcmp(e->id, id) != 0) {
		envelope_free(e);
		error_set(err, ERR_DATA, "queue file %s: it names another id "
		    "(left in place)", name);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	close(fd);
	return ret;
}

/* Sort the ids of dirfd's *.env files into *ids (malloc'ed). */
static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
queue_ids(int dirfd, char ***ids, size_t *n, struct error *err)
{
	DIR *d;
	struct dirent *de;
	char **v = NULL, **nv;
	size_t len, cnt = 0;
	int fd;

	*ids = NULL;
	*n = 0;
	fd = dup(dirfd);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return error_set(err, ERR_IO, "cannot read the queue: %s",
		    strerror(errno));
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		len = strlen(de->d_name);
		if (len <= 4 || strcmp(de->d_name + len - 4, ".env") != 0)
			continue;
		nv = reallocarray(v, cnt + 1, sizeof(*v));
		if (nv == NULL)
			break;
		v = nv;
		v[cnt] = strndup(de->d_name, len - 4);
		if (v[cnt] == NULL)
			break;
		if (!queue_valid_id(v[cnt])) {
			free(v[cnt]);
			continue;
		}
		cnt++;
	}
	closedir(d);
	if (cnt > 0)
		qsort(v, cnt, sizeof(*v), name_cmp);
	*ids = v;
	*n = cnt;
	return 0;
}

void
queue_ids_free(char **ids, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(ids[i]);
	free(ids);
}

static void
print_age(FILE *fp, time_t secs)
{
	if (secs < 0)
		secs = 0;
	if (secs < 120)
		fprintf(fp, "%llds", (long long)secs);
	else if (secs < 7200)
		fprintf(fp, "%lldm", (long long)secs / 60);
	else if (secs < 2 * 86400)
		fprintf(fp, "%lldh", (long long)secs / 3600);
	else
		fprintf(fp, "%lldd", (long long)secs / 86400);
}

static void
list_one(FILE *fp, const struct envelope *e, time_t now)
{
	struct tm tm;
	char when[32] = "";
	size_t i;

	fprintf(fp, "%s  age ", e->id);
	print_age(fp, now - e->queued);
	fprintf(fp, "  size %llu  from <%s>  %s\n",
	    (unsigned long long)(e->headers_len + e->body_size), e->sender,
	    e->state == ENVELOPE_FAILED ? "failed" :
	    e->state == ENVELOPE_UNCERTAIN ? "uncertain (may have been "
	    "delivered; it will be sent again)" : "queued");
	for (i = 0; i < e->nrcpts; i++)
		fprintf(fp, "    to <%s>\n", e->rcpts[i]);
	if (e->state != ENVELOPE_FAILED) {
		if (gmtime_r(&e->next, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC",
			    &tm);
		fprintf(fp, "    attempts %u, next attempt %s\n", e->attempts,
		    e->next <= now ? "now (due)" : when);
	} else {
		fprintf(fp, "    attempts %u, not retried\n", e->attempts);
	}
	if (e->last_error != NULL)
		fprintf(fp, "    last error: %s\n", e->last_error);
}

static int
list_dir(int dirfd, const char *label, FILE *fp, size_t *total,
    struct error *err)
{
	struct envelope e;
	struct error perr;
	char **ids;
	size_t n, i;
	time_t now = time(NULL);

	if (dirfd == -1)
		return 0;
	if (queue_ids(dirfd, &ids, &n, err) == -1)
		return -1;
	for (i = 0; i < n; i++) {
		error_clear(&perr);
		switch (queue_read_env(dirfd, ids[i], &e, &perr)) {
		case 0:
			list_one(fp, &e, now);
			envelope_free(&e);
			break;
		case 1:
			continue;	/* sent meanwhile */
		default:
			fprintf(fp, "%s  %sdamaged: %s\n", ids[i], label,
			    perr.msg);
			break;
		}
		(*total)++;
	}
	queue_ids_free(ids, n);
	return 0;
}

/* One directory's block: its entries, then a line naming it. */
static int
list_one_dir(const char *dir, FILE *fp, size_t *total, int *exists,
    struct error *err)
{
	struct queue_dirs q;
	size_t n = 0;
	int rc;

	rc = queue_open(&q, dir, 0, err);
	if (rc != 0)
		return rc == 1 ? 0 : -1;
	*exists = 1;
	rc = 0;
	if (list_dir(q.fd, "", fp, &n, err) == -1 ||
	    list_dir(q.failed, "failed, ", fp, &n, err) == -1)
		rc = -1;
	queue_close(&q);
	if (n > 0)
		fprintf(fp, "-- %zu message%s in %s\n", n, n == 1 ? "" : "s",
		    dir);
	*total += n;
	return rc;
}

int
queue_list(char *const *dirs, size_t ndirs, FILE *fp, struct error *err)
{
	struct error derr;
	size_t total = 0, i, shown = 0;
	int *exists, ret = 0;

	exists = calloc(ndirs > 0 ? ndirs : 1, sizeof(*exists));
	if (exists == NULL)
		return error_set(err, ERR_OS, "out of memory");
	for (i = 0; i < ndirs; i++) {
		error_clear(&derr);
		if (list_one_dir(dirs[i], fp, &total, &exists[i], &derr) == 0)
			continue;
		/* The others are listed all the same; each error said. */
		if (ret == -1)
			error_print(err);
		*err = derr;
		ret = -1;
	}
	if (total == 0 && ret == 0) {
		fprintf(fp, "Mail queue is empty (");
		for (i = 0; i < ndirs; i++)
			if (exists[i])
				fprintf(fp, "%s%s", shown++ > 0 ? ", " : "",
				    dirs[i]);
		fprintf(fp, "%s)\n", shown == 0 && ndirs > 0 ? dirs[0] : "");
	}
	free(exists);
	return ret;
}

/* The envelope of id in dir, queued or failed: 0, 1 if not there. */
static int
show_in(const char *dir, const char *id, FILE *fp, struct error *err)
{
	struct queue_dirs q;
	struct envelope e;
	char *buf = NULL;
	size_t len;
	int rc;

	if (queue_open(&q, dir, 0, err) != 0)
		return 1;
	rc = queue_read_env(q.fd, id, &e, err);
	if (rc == 1 && q.failed != -1)
		rc = queue_read_env(q.failed, id, &e, err);
	if (rc != 0)
		goto out;
	/* The file holds no secret: the envelope and the headers only. */
	rc = envelope_format(&e, &buf, &len, err);
	if (rc == 0)
		fwrite(buf, 1, len, fp);
	envelope_free(&e);
out:
	free(buf);
	queue_close(&q);
	return rc;
}

int
queue_show(char *const *dirs, size_t ndirs, const char *id, FILE *fp,
    struct error *err)
{
	size_t i;
	int rc;

	if (!queue_valid_id(id))
		return error_set(err, ERR_USAGE, "%s: not a queue id", id);
	for (i = 0; i < ndirs; i++) {
		rc = show_in(dirs[i], id, fp, err);
		if (rc != 1)
			return rc;
		error_clear(err);
	}
	return error_set(err, ERR_USAGE, "%s: no such message in %s", id,
	    ndirs == 1 ? dirs[0] : "the queue");
}

int
queue_drop(int dirfd, const char *id)
{
	char name[QUEUE_ID_MAX + 8];
	int ret;

	/* The envelope first: without it the body is never sent. */
	snprintf(name, sizeof(name), "%s.env", id);
	ret = unlinkat(dirfd, name, 0);
	snprintf(name, sizeof(name), "%s.body", id);
	(void)unlinkat(dirfd, name, 0);
	(void)fsync(dirfd);
	return ret;
}

int
queue_remove(char *const *dirs, size_t ndirs, const char *id,
    struct error *err)
{
	struct queue_dirs q;
	size_t i;
	int found;

	if (!queue_valid_id(id))
		return error_set(err, ERR_USAGE, "%s: not a queue id", id);
	for (i = 0; i < ndirs; i++) {
		if (queue_open(&q, dirs[i], 0, err) != 0) {
			error_clear(err);
			continue;
		}
		found = queue_drop(q.fd, id) == 0 ||
		    (q.failed != -1 && queue_drop(q.failed, id) == 0);
		queue_close(&q);
		if (found)
			return 0;
	}
	return error_set(err, ERR_USAGE, "%s: no such message in %s", id,
	    ndirs == 1 ? dirs[0] : "the queue");
}

int
queue_keep(const struct message *msg, struct queue_item *item,
    const char *home, const struct error *why, char *idbuf)
{
	struct error err;
	char dir[4096], reason[ERROR_MSG_MAX + ERROR_REPLY_MAX + 4];

	error_clear(&err);
	if (why->reply[0] != '\0')
		snprintf(reason, sizeof(reason), "%s: %s", why->msg,
		    why->reply);
	else
		snprintf(reason, sizeof(reason), "%s", why->msg);
	item->reason = reason;
	if (queue_default_dir(item->acc, home, dir, sizeof(dir), &err) == -1 ||
	    queue_put(dir, msg, item, idbuf, &err) == -1) {
		idbuf[0] = '\0';
		if (item->failed)
			fprintf(stderr, "smtpsend: no copy kept: %s\n", err.msg);
		else
			fprintf(stderr, "smtpsend: the message could not be "
			    "queued: %s\n", err.msg);
		return -1;
	}
	if (item->failed)
		fprintf(stderr, "smtpsend: a copy is kept as %s in %s/failed/ "
		    "(smtpsend --queue-show %s)\n", idbuf, dir, idbuf);
	else
		fprintf(stderr, "smtpsend: queued as %s: %s; it will be "
		    "retried (smtpsend -q sends it now)\n", idbuf, reason);
	return 0;
}
