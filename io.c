/*
 * io.c: one connected socket with a read buffer, a write buffer and a
 * deadline on every wait.  The bytes go through a small transport table
 * (plain read/write here; tls.c swaps in its own after the handshake), so
 * the layers above never know whether TLS is on.  Every wait is a poll()
 * with a deadline: no alarm(), no longjmp.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "error.h"
#include "io.h"

#define IO_RBUF_SIZE 16384
#define IO_WBUF_SIZE 65536

struct io {
	int fd;
	int timeout; /* ms per operation */
	int dead; /* io_shutdown() was called */
	const struct io_ops *ops;
	void *ctx;
	char *rbuf;
	size_t rcap;
	size_t rpos; /* unread bytes: rbuf[rpos..rlen) */
	size_t rlen;
	char *wbuf;
	size_t wlen;
};

long long
io_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *
io_fmt_secs(char *buf, size_t size, int ms)
{
	if (ms % 1000 == 0)
		snprintf(buf, size, "%d s", ms / 1000);
	else
		snprintf(buf, size, "%.1f s", ms / 1000.0);
	return buf;
}

/* poll() fd for events until deadline: 1 ready, 0 timed out, -1 error. */
static int
wait_fd(int fd, short events, long long deadline, struct error *err)
{
	struct pollfd pfd;
	long long left;
	int n, one = 1;

	/*
	 * Acknowledge what arrives at once instead of after the 40 ms delayed
	 * ACK: a server that writes two small segments (a TLS ticket, then
	 * its greeting) otherwise waits on Nagle for our ACK.  Not a TCP
	 * socket (tests): the call fails, harmlessly.
	 */
	if (events & POLLIN)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one,
		    sizeof(one));
	for (;;) {
		left = deadline - io_now_ms();
		if (left <= 0)
			return 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > 60000000 ? 60000000 : (int)left);
		if (n > 0)
			return 1; /* POLLHUP/POLLERR: the next call says why */
		if (n < 0 && errno != EINTR) {
			if (err != NULL)
				error_set(
				    err, ERR_OS, "poll: %s", strerror(errno));
			return -1;
		}
	}
}

/* The plain transport: the socket itself.  ctx points at the fd. */
static ssize_t
plain_read(void *ctx, void *buf, size_t len, struct error *err)
{
	int fd = *(int *)ctx;
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, len, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_WANT_READ;
		error_set(
		    err, ERR_NETWORK, "connection lost: %s", strerror(errno));
		return -1;
	}
}

/* MSG_NOSIGNAL: a server that went away must not kill us with SIGPIPE. */
static ssize_t
plain_write(void *ctx, const void *buf, size_t len, struct error *err)
{
	int fd = *(int *)ctx;
	ssize_t n;

	for (;;) {
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return IO_WANT_WRITE;
		error_set(
		    err, ERR_NETWORK, "connection lost: %s", strerror(errno));
		return -1;
	}
}

static size_t
plain_pending(void *ctx)
{
	(void)ctx;
	return 0;
}

static void
plain_close(void *ctx)
{
	(void)ctx;
}

static const struct io_ops plain_ops = {
    plain_read, plain_write, plain_pending, plain_close};

struct io *
io_new(int fd, int timeout_ms)
{
	struct io *io;
	int fl;

	if ((io = calloc(1, sizeof(*io))) == NULL)
		return NULL;
	io->rcap = IO_RBUF_SIZE;
	io->rbuf = malloc(io->rcap);
	io->wbuf = malloc(IO_WBUF_SIZE);
	if (io->rbuf == NULL || io->wbuf == NULL) {
		free(io->rbuf);
		free(io->wbuf);
		free(io);
		return NULL;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl != -1 && (fl & O_NONBLOCK) == 0)
		(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	io->fd = fd;
	io->timeout = timeout_ms > 0 ? timeout_ms : 60000;
	io->ops = &plain_ops;
	io->ctx = &io->fd;
	return io;
}

void
io_set_ops(struct io *io, const struct io_ops *ops, void *ctx)
{
	io->ops = ops;
	io->ctx = ctx;
}

int
io_fd(const struct io *io)
{
	return io->fd;
}

int
io_timeout(const struct io *io)
{
	return io->timeout;
}

long long
io_deadline(const struct io *io)
{
	return io_now_ms() + io->timeout;
}

int
io_wait(struct io *io, int want, long long deadline, struct error *err)
{
	return wait_fd(io->fd, want == IO_WANT_WRITE ? POLLOUT : POLLIN,
	    deadline, err);
}

static int
dead_error(struct error *err)
{
	return error_set(err, ERR_NETWORK, "connection already closed");
}

/* transport_read() and fill(): the deadline passed, nothing was read. */
#define IO_TIMED_OUT (-4)

/*
 * One transport read into buf before deadline, polling in whichever
 * direction the transport asks for (TLS may need to write while reading).
 * Returns the count, 0 on EOF, IO_TIMED_OUT (err untouched), or -1 with
 * *err.
 */
static ssize_t
transport_read(
    struct io *io, void *buf, size_t len, long long deadline, struct error *err)
{
	ssize_t n;
	int r;

	for (;;) {
		n = io->ops->read(io->ctx, buf, len, err);
		if (n >= 0 || n == -1)
			return n;
		r = wait_fd(io->fd, n == IO_WANT_WRITE ? POLLOUT : POLLIN,
		    deadline, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return IO_TIMED_OUT;
	}
}

/* Make room at the end of rbuf and read once more, before deadline. */
static ssize_t
fill(struct io *io, long long deadline, struct error *err)
{
	if (io->rpos > 0) {
		memmove(io->rbuf, io->rbuf + io->rpos, io->rlen - io->rpos);
		io->rlen -= io->rpos;
		io->rpos = 0;
	}
	if (io->rlen == io->rcap)
		return error_set(err, ERR_INTERNAL, "io: read buffer full");
	return transport_read(
	    io, io->rbuf + io->rlen, io->rcap - io->rlen, deadline, err);
}

static int
ensure_rcap(struct io *io, size_t want, struct error *err)
{
	char *p;

	if (io->rcap >= want)
		return 0;
	if ((p = realloc(io->rbuf, want)) == NULL)
		return error_set(err, ERR_OS, "out of memory");
	io->rbuf = p;
	io->rcap = want;
	return 0;
}

static int
too_long(size_t max, struct error *err)
{
	return error_set(err, ERR_PROTOCOL,
	    "garbage from server: a line longer than %zu bytes", max);
}

int
io_readline(struct io *io, char **line, size_t *len, size_t max,
    long long deadline, struct error *err)
{
	char secs[32];
	char *start, *nl;
	size_t avail, n;
	ssize_t got;

	if (io->dead)
		return dead_error(err);
	if (ensure_rcap(io, max + 4096, err) == -1)
		return -1;
	for (;;) {
		start = io->rbuf + io->rpos;
		avail = io->rlen - io->rpos;
		nl = memchr(start, '\n', avail);
		if (nl != NULL) {
			n = (size_t)(nl - start);
			io->rpos += n + 1;
			if (n > 0 && start[n - 1] == '\r')
				n--;
			if (n > max)
				return too_long(max, err);
			start[n] = '\0';
			*line = start;
			if (len != NULL)
				*len = n;
			return 0;
		}
		if (avail > max + 1) /* room for the CR of CRLF */
			return too_long(max, err);
		got = fill(io, deadline, err);
		if (got == IO_TIMED_OUT)
			return error_set(err, ERR_NETWORK,
			    "timed out: no complete reply from the server "
			    "within %s",
			    io_fmt_secs(secs, sizeof(secs), io->timeout));
		if (got < 0)
			return -1;
		if (got == 0)
			return error_set(err, ERR_NETWORK,
			    "connection lost: the server closed the "
			    "connection");
		io->rlen += (size_t)got;
	}
}

size_t
io_unread(const struct io *io)
{
	return io->rlen - io->rpos + io->ops->pending(io->ctx);
}

ssize_t
io_peek(struct io *io, void *buf, size_t len, int ms, struct error *err)
{
	char secs[32];
	size_t avail;
	ssize_t got;

	if (io->dead)
		return dead_error(err);
	if (io->rlen == io->rpos) {
		got = fill(io, io_now_ms() + ms, err);
		if (got == IO_TIMED_OUT)
			return error_set(err, ERR_NETWORK,
			    "timed out: no answer from the server in %s",
			    io_fmt_secs(secs, sizeof(secs), ms));
		if (got <= 0)
			return got;
		io->rlen += (size_t)got;
	}
	avail = io->rlen - io->rpos;
	if (avail > len)
		avail = len;
	memcpy(buf, io->rbuf + io->rpos, avail);
	return (ssize_t)avail;
}

int
io_flush(struct io *io, long long deadline, struct error *err)
{
	char secs[32];
	size_t off = 0;
	ssize_t n;
	int r;

	if (io->dead)
		return dead_error(err);
	/*
	 * One deadline for the whole flight: a server that takes a byte now
	 * and then must not stretch a write past the timeout.
	 */
	while (off < io->wlen) {
		n = io->ops->write(
		    io->ctx, io->wbuf + off, io->wlen - off, err);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == -1)
			return -1;
		r = wait_fd(io->fd, n == IO_WANT_READ ? POLLIN : POLLOUT,
		    deadline, err);
		if (r < 0)
			return -1;
		if (r == 0)
			return error_set(err, ERR_NETWORK,
			    "timed out: the server took %zu of %zu bytes in %s",
			    off, io->wlen,
			    io_fmt_secs(secs, sizeof(secs), io->timeout));
	}
	/* The buffer may have held an AUTH line: leave nothing behind. */
	explicit_bzero(io->wbuf, io->wlen);
	io->wlen = 0;
	return 0;
}

int
io_write(struct io *io, const void *buf, size_t len, struct error *err)
{
	const char *p = buf;
	size_t n;

	if (io->dead)
		return dead_error(err);
	while (len > 0) {
		if (io->wlen == IO_WBUF_SIZE &&
		    io_flush(io, io_deadline(io), err) == -1)
			return -1;
		n = IO_WBUF_SIZE - io->wlen;
		if (n > len)
			n = len;
		memcpy(io->wbuf + io->wlen, p, n);
		io->wlen += n;
		p += n;
		len -= n;
	}
	return 0;
}

int
io_puts(struct io *io, const char *s, struct error *err)
{
	return io_write(io, s, strlen(s), err);
}

int
io_wait_readable(struct io *io, int ms, struct error *err)
{
	if (io->dead)
		return dead_error(err);
	if (io_unread(io) > 0)
		return 1;
	return wait_fd(io->fd, POLLIN, io_now_ms() + ms, err);
}

void
io_shutdown(struct io *io)
{
	io->dead = 1;
	io->wlen = 0;
	io->rpos = io->rlen = 0;
	(void)shutdown(io->fd, SHUT_RDWR);
}

void
io_free(struct io *io)
{
	if (io == NULL)
		return;
	/* After io_shutdown() the transport cannot end politely. */
	if (!io->dead && io->ops->close != NULL)
		io->ops->close(io->ctx);
	if (io->fd >= 0)
		close(io->fd);
	free(io->rbuf);
	free(io->wbuf);
	free(io);
}
