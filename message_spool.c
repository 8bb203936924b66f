/*
 * message_spool.c: the body's spool file: created nameless (O_TMPFILE,
 * else mkostemp and unlink) in the queue's directory or $TMPDIR, and
 * saved into the queue by linking it, or by a copy across file systems.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "message.h"
#include "message_priv.h"

/* A nameless spool file in dir, mode 0600: its fd, or -1 with errno set. */
static int
spool_try(const char *dir)
{
	char path[4096];
	int n, fd;

	n = snprintf(path, sizeof(path), "%s/smtpsend-XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* An O_TMPFILE spool has no name, dies with us, and can still be
	   linked into the queue (message_spool_save) without a copy. */
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd != -1)
		return fd;
	/* mkstemp makes it 0600; unlinked at once, it dies with us. */
	fd = mkostemp(path, O_CLOEXEC);
	if (fd != -1)
		unlink(path);
	return fd;
}

static const char *
spool_default_dir(void)
{
	const char *dir = getenv("TMPDIR");

	return dir == NULL || *dir == '\0' ? "/tmp" : dir;
}

/* In tmpdir (the queue's, when the message may be queued), else in
   $TMPDIR or /tmp. */
int
message_spool_open(struct message *m, const char *tmpdir, struct error *err)
{
	const char *dflt = spool_default_dir();

	m->fd_queue = 0;
	if (tmpdir != NULL) {
		m->fd = spool_try(tmpdir);
		if (m->fd != -1) {
			m->fd_queue = 1;
			return 0;
		}
	}
	m->fd = spool_try(dflt);
	if (m->fd != -1)
		return 0;
	return error_set(err, ERR_IO, "cannot create a spool file in %s: %s",
	    dflt, strerror(errno));
}

/* Copy the spool to fd (when it cannot be linked: another file system). */
static int
spool_copy(const struct message *m, int fd, struct error *err)
{
	char buf[MESSAGE_BLOCK];
	uint64_t off = 0;
	ssize_t n, w;
	size_t done;

	while (off < m->bodylen) {
		n = pread(m->fd, buf, sizeof(buf), (off_t)off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return error_set(err, ERR_IO, "cannot read the spool "
			    "file: %s", n == 0 ? "unexpected end" :
			    strerror(errno));
		for (done = 0; done < (size_t)n; done += (size_t)w) {
			w = write(fd, buf + done, (size_t)n - done);
			if (w == -1 && errno == EINTR) {
				w = 0;
				continue;
			}
			if (w == -1)
				return error_set(err, ERR_IO, "%s",
				    strerror(errno));
		}
		off += (uint64_t)n;
	}
	return 0;
}

int
message_spool_move(struct message *m, struct error *err)
{
	const char *dir = spool_default_dir();
	int fd;

	fd = spool_try(dir);
	if (fd == -1)
		return error_set(err, ERR_IO, "the queue's file system is "
		    "full and no spool file can be made in %s: %s", dir,
		    strerror(errno));
	if (spool_copy(m, fd, err) == -1) {
		close(fd);
		return -1;
	}
	close(m->fd);
	m->fd = fd;
	m->fd_queue = 0;
	return 0;
}

int
message_spool_save(const struct message *m, int dirfd, const char *name,
    const char *tmpname, struct error *err)
{
	char proc[64];
	int fd = -1, ret = -1;

	if (fsync(m->fd) == -1)
		return error_set(err, ERR_IO, "cannot sync the spool file: %s",
		    strerror(errno));
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", m->fd);
	if (linkat(AT_FDCWD, proc, dirfd, name, AT_SYMLINK_FOLLOW) == 0)
		return 0;
	if (errno == EEXIST)
		return error_set(err, ERR_IO, "%s: %s", name, strerror(errno));
	/* Another file system, or a spool that has no O_TMPFILE: copy. */
	fd = openat(dirfd, tmpname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		error_set(err, ERR_IO, "%s: %s", tmpname, strerror(errno));
		goto out;
	}
	if (spool_copy(m, fd, err) == -1)
		goto out;
	if (fsync(fd) == -1) {
		error_set(err, ERR_IO, "%s: %s", tmpname, strerror(errno));
		goto out;
	}
	if (renameat(dirfd, tmpname, dirfd, name) == -1) {
		error_set(err, ERR_IO, "%s: %s", name, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	if (fd != -1)
		close(fd);
	if (ret == -1)
		(void)unlinkat(dirfd, tmpname, 0);
	return ret;
}
