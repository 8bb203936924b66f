/*
 * io.h: buffered, deadline-bounded I/O on one connected socket.  The byte
 * transport is a small table of operations that tls.c swaps after the
 * handshake; nothing above this layer knows whether TLS is on.
 */
#ifndef SMTPSEND_IO_H
#define SMTPSEND_IO_H

#include <stddef.h>
#include <sys/types.h>

struct error;
struct io;

/* Returned by io_ops read/write when the call must be retried after poll(). */
#define IO_WANT_READ	(-2)
#define IO_WANT_WRITE	(-3)

/*
 * A transport.  read/write return a byte count (read: 0 = orderly EOF),
 * IO_WANT_READ/IO_WANT_WRITE to be retried once the fd is ready, or -1 with
 * *err filled.  pending tells how many bytes are already buffered inside the
 * transport (decrypted TLS records), so io does not poll() for them.
 */
struct io_ops {
	ssize_t	(*read)(void *ctx, void *buf, size_t len, struct error *err);
	ssize_t	(*write)(void *ctx, const void *buf, size_t len, struct error *err);
	size_t	(*pending)(void *ctx);
	void	(*close)(void *ctx);	/* ends the transport (e.g. close_notify,
				   best effort); does not free ctx */
};

/* Wrap a connected non-blocking fd (plain transport).  io owns the fd. */
struct io *io_new(int fd, int timeout_ms);

/* Replace the transport; io_free() will call ops->close(ctx). */
void	io_set_ops(struct io *io, const struct io_ops *ops, void *ctx);

int	io_fd(const struct io *io);
int	io_timeout(const struct io *io);

/*
 * Deadlines are absolute io_now_ms() values.  The timeout bounds a step as
 * a whole (a reply, a write, a handshake), so a caller takes one deadline
 * when the step starts and passes it to every wait of that step:
 * io_deadline() is "now + timeout".
 */
long long io_deadline(const struct io *io);

/*
 * Wait until the fd is ready in the direction a transport asked for
 * (IO_WANT_READ or IO_WANT_WRITE), at most until deadline.  Returns 1
 * ready (or hung up: the next call says why), 0 deadline passed, -1 error.
 */
int	io_wait(struct io *io, int want, long long deadline, struct error *err);

/*
 * Read one line, CRLF or LF terminated, into the io's buffer; *line points
 * at it (NUL-terminated, line end removed) until the next read.  Lines over
 * max bytes are an ERR_PROTOCOL error.  EOF: ERR_NETWORK "connection lost".
 * Not complete by deadline, however many bytes came: ERR_NETWORK "timed
 * out".  Returns 0 or -1.
 */
int	io_readline(struct io *io, char **line, size_t *len, size_t max,
	    long long deadline, struct error *err);

/* Bytes received but not yet consumed (io buffer + transport pending). */
size_t	io_unread(const struct io *io);

/*
 * Queue bytes for sending.  When the buffer (64 KiB) is full it is flushed
 * by itself, each such flush within its own timeout.
 */
int	io_write(struct io *io, const void *buf, size_t len, struct error *err);
int	io_puts(struct io *io, const char *s, struct error *err);

/*
 * Send everything queued, with one write where possible, all of it before
 * deadline (progress does not extend it).  Timeout: ERR_NETWORK.
 */
int	io_flush(struct io *io, long long deadline, struct error *err);

/*
 * Wait until the fd is readable (or the transport has pending bytes) for at
 * most ms milliseconds.  Returns 1 readable, 0 timeout, -1 error.
 */
int	io_wait_readable(struct io *io, int ms, struct error *err);

/*
 * Look at received bytes without consuming them: copies up to len bytes
 * into buf, reading once (within ms milliseconds) if none are buffered.
 * Returns the count, 0 on EOF, or -1 with *err (timeout: ERR_NETWORK).
 */
ssize_t	io_peek(struct io *io, void *buf, size_t len, int ms,
	    struct error *err);

/*
 * Drop the connection at once: unsent bytes are discarded and the socket
 * is shut down without ending the transport politely (used to abandon a
 * DATA phase).  Later reads and writes fail; io_free() is still needed.
 */
void	io_shutdown(struct io *io);

/* Close the transport and the fd, free io.  NULL is fine. */
void	io_free(struct io *io);

/* Milliseconds of CLOCK_MONOTONIC, for deadlines (never goes back). */
long long io_now_ms(void);

/* ms as "3 s" or "0.5 s" in buf, for messages about timeouts; returns buf. */
const char *io_fmt_secs(char *buf, size_t size, int ms);

#endif
