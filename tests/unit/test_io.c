/*
 * test_io.c: the line reader, the write buffer, deadlines, a transport
 * that asks to be retried, and connect_open's errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connect.h"
#include "error.h"
#include "io.h"

static struct io *
pair(int *peer, int timeout_ms)
{
	int sv[2];
	struct io *io;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	*peer = sv[1];
	io = io_new(sv[0], timeout_ms);
	assert_non_null(io);
	return io;
}

static void
put(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void
test_readline(void **state)
{
	struct error err;
	struct io *io;
	char *line;
	size_t len;
	int peer;

	(void)state;
	error_clear(&err);
	io = pair(&peer, 2000);
	put(peer, "250-one\r\n250 two\nlast\r");
	assert_int_equal(io_readline(io, &line, &len, 100,
	    io_deadline(io), &err), 0);
	assert_string_equal(line, "250-one");
	assert_int_equal(len, 7);
	assert_int_equal(io_unread(io), 13);
	assert_int_equal(io_readline(io, &line, &len, 100,
	    io_deadline(io), &err), 0);
	assert_string_equal(line, "250 two");
	put(peer, "\n");
	assert_int_equal(io_readline(io, &line, &len, 100,
	    io_deadline(io), &err), 0);
	assert_string_equal(line, "last");
	close(peer);
	assert_int_equal(io_readline(io, &line, &len, 100,
	    io_deadline(io), &err), -1);
	assert_int_equal(err.kind, ERR_NETWORK);
	assert_non_null(strstr(err.msg, "connection lost"));
	assert_int_equal(error_exit_code(&err), 75);
	io_free(io);
}

static void
test_long_line(void **state)
{
	char big[300];
	struct error err;
	struct io *io;
	char *line;
	int peer;

	(void)state;
	error_clear(&err);
	io = pair(&peer, 2000);
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	put(peer, big);	/* no line end at all: must not wait for one */
	assert_int_equal(io_readline(io, &line, NULL, 100,
	    io_deadline(io), &err), -1);
	assert_int_equal(err.kind, ERR_PROTOCOL);
	io_free(io);
	close(peer);

	/* Exactly max bytes plus CRLF is fine; one more is not. */
	io = pair(&peer, 2000);
	memset(big, 'y', 100);
	memcpy(big + 100, "\r\nzz", 5);
	put(peer, big);
	assert_int_equal(io_readline(io, &line, NULL, 100,
	    io_deadline(io), &err), 0);
	assert_int_equal(strlen(line), 100);
	memset(big, 'y', 101);
	memcpy(big + 101, "\n", 2);
	put(peer, big);
	assert_int_equal(io_readline(io, &line, NULL, 100,
	    io_deadline(io), &err), -1);
	assert_int_equal(err.kind, ERR_PROTOCOL);
	io_free(io);
	close(peer);
}

static void
test_timeout(void **state)
{
	struct timespec a, b;
	struct error err;
	struct io *io;
	char *line;
	long ms;
	int peer;

	(void)state;
	error_clear(&err);
	io = pair(&peer, 300);
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(io_readline(io, &line, NULL, 100,
	    io_deadline(io), &err), -1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 280 && ms < 2000);
	assert_int_equal(err.kind, ERR_NETWORK);
	assert_non_null(strstr(err.msg, "timed out"));
	assert_int_equal(io_wait_readable(io, 50, &err), 0);
	put(peer, "x");
	assert_int_equal(io_wait_readable(io, 50, &err), 1);
	io_free(io);
	close(peer);
}

/* Everything queued leaves in one write (one flight). */
static void
test_write_buffer(void **state)
{
	struct error err;
	struct io *io;
	char buf[256];
	int peer;

	(void)state;
	error_clear(&err);
	io = pair(&peer, 2000);
	assert_int_equal(io_puts(io, "MAIL FROM:<a@b>\r\n", &err), 0);
	assert_int_equal(io_puts(io, "RCPT TO:<c@d>\r\n", &err), 0);
	assert_int_equal(io_write(io, "DATA\r\nxyz", 6, &err), 0);
	assert_int_equal(recv(peer, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(io_flush(io, io_deadline(io), &err), 0);
	assert_int_equal(recv(peer, buf, sizeof(buf), MSG_DONTWAIT), 38);
	assert_memory_equal(buf, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n",
	    38);
	/* After the peer is gone: an error, not SIGPIPE. */
	close(peer);
	assert_int_equal(io_puts(io, "QUIT\r\n", &err), 0);
	assert_int_equal(io_flush(io, io_deadline(io), &err), -1);
	assert_int_equal(err.kind, ERR_NETWORK);
	io_free(io);
}

/* A big write drains through the buffer while the peer reads. */
static void
test_large_write(void **state)
{
	static char chunk[100000];
	struct error err;
	struct io *io;
	size_t got = 0;
	ssize_t n;
	char buf[65536];
	int peer, i;

	(void)state;
	error_clear(&err);
	io = pair(&peer, 2000);
	memset(chunk, 'a', sizeof(chunk));
	if (fork() == 0) {
		io_free(io);	/* closes our end; nothing left for valgrind */
		while ((n = read(peer, buf, sizeof(buf))) > 0)
			got += (size_t)n;
		_exit(got == 5 * sizeof(chunk) ? 0 : 1);
	}
	close(peer);
	for (i = 0; i < 5; i++)
		assert_int_equal(io_write(io, chunk, sizeof(chunk), &err), 0);
	assert_int_equal(io_flush(io, io_deadline(io), &err), 0);
	io_free(io);
	assert_int_equal(wait(&i) > 0 && WIFEXITED(i) ? WEXITSTATUS(i) : -1,
	    0);
}

/* A transport that says "again" before each call succeeds. */
struct flaky {
	int	fd;
	int	calls;
	int	closed;
};

static ssize_t
flaky_read(void *ctx, void *buf, size_t len, struct error *err)
{
	struct flaky *f = ctx;

	(void)err;
	if (f->calls++ % 2 == 0)
		return IO_WANT_WRITE;	/* TLS may need to write to read */
	return read(f->fd, buf, len > 3 ? 3 : len);
}

static ssize_t
flaky_write(void *ctx, const void *buf, size_t len, struct error *err)
{
	struct flaky *f = ctx;

	(void)err;
	if (f->calls++ % 2 == 0)
		return IO_WANT_WRITE;
	return write(f->fd, buf, len > 2 ? 2 : len);
}

static size_t
flaky_pending(void *ctx)
{
	(void)ctx;
	return 0;
}

static void
flaky_close(void *ctx)
{
	((struct flaky *)ctx)->closed = 1;
}

static const struct io_ops flaky_ops = {
	flaky_read, flaky_write, flaky_pending, flaky_close
};

static void
test_transport_swap(void **state)
{
	struct flaky f = { -1, 0, 0 };
	struct error err;
	struct io *io;
	char *line, buf[64];
	int peer;

	(void)state;
	error_clear(&err);
	io = pair(&peer, 2000);
	f.fd = io_fd(io);
	io_set_ops(io, &flaky_ops, &f);
	put(peer, "220 hello there\r\n");
	assert_int_equal(io_readline(io, &line, NULL, 100,
	    io_deadline(io), &err), 0);
	assert_string_equal(line, "220 hello there");
	assert_int_equal(io_puts(io, "EHLO x\r\n", &err), 0);
	assert_int_equal(io_flush(io, io_deadline(io), &err), 0);
	assert_int_equal(read(peer, buf, sizeof(buf)), 8);
	assert_true(f.calls > 8);
	io_free(io);
	assert_int_equal(f.closed, 1);
	close(peer);
}

static void
test_peek_and_shutdown(void **state)
{
	struct error err;
	struct io *io;
	char buf[8], *line;
	int peer;

	(void)state;
	error_clear(&err);
	io = pair(&peer, 2000);
	put(peer, "\x15\x03\x03");
	assert_int_equal(io_peek(io, buf, sizeof(buf), 500, &err), 3);
	assert_int_equal(buf[0], 0x15);
	assert_int_equal(io_unread(io), 3);	/* not consumed */
	io_shutdown(io);
	assert_int_equal(read(peer, buf, sizeof(buf)), 0);	/* EOF */
	assert_int_equal(io_readline(io, &line, NULL, 100,
	    io_deadline(io), &err), -1);
	assert_int_equal(io_puts(io, "x", &err), -1);
	io_free(io);
	close(peer);
}

/* The connect module opens what io then wraps (tests/unit/test_connect.c
   has the rest of it). */
static int
tcp(const char *host, int port, int timeout_ms, struct error *err)
{
	struct connect_params p;

	memset(&p, 0, sizeof(p));
	p.host = host;
	p.port = port;
	p.timeout_ms = timeout_ms;
	return connect_open(&p, err);
}

static void
test_connect(void **state)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct error err;
	char want[64];
	int ls, fd, port;

	(void)state;
	error_clear(&err);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	fd = tcp("127.0.0.1", port, 2000, &err);
	assert_true(fd >= 0);
	close(fd);
	close(ls);	/* now nothing listens there */

	fd = tcp("127.0.0.1", port, 2000, &err);
	assert_int_equal(fd, -1);
	assert_int_equal(err.kind, ERR_NETWORK);
	snprintf(want, sizeof(want), "127.0.0.1:%d", port);
	assert_non_null(strstr(err.msg, want));
	assert_non_null(strstr(err.msg, "refused"));
	assert_int_equal(error_exit_code(&err), 75);

	/* .invalid never resolves (RFC 6761); offline DNS may say "again". */
	fd = tcp("no-such-host.invalid", 25, 2000, &err);
	assert_int_equal(fd, -1);
	assert_int_equal(err.kind, ERR_NOHOST);
	assert_int_equal(error_exit_code(&err), err.temporary ? 75 : 68);

	assert_int_equal(tcp("127.0.0.1", 0, 2000, &err), -1);
}

/* Milliseconds since a. */
static long
since_ms(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (b.tv_sec - a->tv_sec) * 1000 + (b.tv_nsec - a->tv_nsec) / 1000000;
}

/*
 * A peer that trickles a line one byte every 100 ms cannot stretch the
 * read past its deadline: the deadline bounds the whole line, it is not
 * renewed at every byte.  Then a line that is complete in time is read.
 */
static void
test_trickle_deadline(void **state)
{
	static const char slow[] = "250 a reply that trickles in\r\n";
	struct timespec a;
	struct error err;
	struct io *io;
	char *line;
	size_t i;
	int peer, status;
	pid_t pid;

	(void)state;
	error_clear(&err);
	io = pair(&peer, 500);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		io_free(io);
		for (i = 0; i < sizeof(slow) - 1; i++) {
			if (write(peer, slow + i, 1) != 1)
				_exit(0);
			usleep(100000);
		}
		_exit(0);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	assert_int_equal(io_readline(io, &line, NULL, 100, io_deadline(io),
	    &err), -1);
	assert_true(since_ms(&a) >= 450);
	assert_true(since_ms(&a) < 1500);	/* the trickle lasts 3 s */
	assert_int_equal(err.kind, ERR_NETWORK);
	assert_non_null(strstr(err.msg, "timed out"));
	io_free(io);
	close(peer);
	assert_int_equal(waitpid(pid, &status, 0), pid);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_readline),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_trickle_deadline),
		cmocka_unit_test(test_write_buffer),
		cmocka_unit_test(test_large_write),
		cmocka_unit_test(test_transport_swap),
		cmocka_unit_test(test_peek_and_shutdown),
		cmocka_unit_test(test_connect),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
