/*
 * test_connect.c: the connect phase is bounded by the timeout (a listener
 * whose backlog is full drops SYNs, so connect hangs), and a Unix socket
 * replaces host and port.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "connect.h"
#include "error.h"
#include "io.h"

#define FILLERS 16

/*
 * A loopback listener that accepts nothing and whose queue is full: its
 * port is returned, the sockets that fill it go to fill[] (-1 ended).
 */
static int
full_listener(int *ls, int fill[FILLERS])
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	struct pollfd pfd;
	int i, fd;

	*ls = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(*ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(*ls, 0), 0);
	assert_int_equal(getsockname(*ls, (struct sockaddr *)&sa, &sl), 0);
	for (i = 0; i < FILLERS; i++)
		fill[i] = -1;
	/* Connect until one attempt is left hanging: the queue is full. */
	for (i = 0; i < FILLERS; i++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		assert_true(fd >= 0);
		fill[i] = fd;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			continue;
		assert_int_equal(errno, EINPROGRESS);
		pfd.fd = fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, 300) == 0)
			return ntohs(sa.sin_port);
	}
	fail_msg("the listen queue never filled");
	return -1;
}

static void
test_connect_timeout(void **state)
{
	struct connect_params p;
	struct error err;
	int ls, fill[FILLERS], port, i;
	long long t0, ms;
	char want[64];

	(void)state;
	port = full_listener(&ls, fill);
	memset(&p, 0, sizeof(p));
	p.host = "127.0.0.1";
	p.port = port;
	p.timeout_ms = 1500;
	error_clear(&err);
	t0 = io_now_ms();
	assert_int_equal(connect_open(&p, &err), -1);
	ms = io_now_ms() - t0;
	/* Bounded by the timeout, and not given up long before it. */
	assert_true(ms >= 1400);
	assert_true(ms < 6000);
	assert_int_equal(err.kind, ERR_NETWORK);
	assert_int_equal(error_exit_code(&err), 75);
	snprintf(want, sizeof(want), "127.0.0.1:%d", port);
	assert_non_null(strstr(err.msg, want));
	assert_non_null(strstr(err.msg, "timed out after 1.5 s"));
	for (i = 0; i < FILLERS && fill[i] >= 0; i++)
		close(fill[i]);
	close(ls);
}

static void
test_unix_socket(void **state)
{
	struct connect_params p;
	struct sockaddr_un sa;
	struct error err;
	char dir[] = "/tmp/smtpsend-unit-XXXXXX", path[128], c = 'x';
	int ls, fd, peer;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/smtpd.sock", dir);
	memset(&p, 0, sizeof(p));
	p.socket = path;
	p.host = "ignored.invalid";	/* never resolved with a socket */
	p.port = 0;			/* nor checked */
	p.timeout_ms = 2000;
	error_clear(&err);
	assert_int_equal(connect_open(&p, &err), -1);
	assert_int_equal(err.kind, ERR_NETWORK);
	assert_non_null(strstr(err.msg, path));
	assert_int_equal(error_exit_code(&err), 75);

	ls = socket(AF_UNIX, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	assert_true(strlen(path) < sizeof(sa.sun_path));
	memcpy(sa.sun_path, path, strlen(path) + 1);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 4), 0);
	fd = connect_open(&p, &err);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	peer = accept(ls, NULL, NULL);
	assert_true(peer >= 0);
	assert_int_equal(write(peer, &c, 1), 1);
	c = 0;
	assert_int_equal(poll(&(struct pollfd){ fd, POLLIN, 0 }, 1, 2000), 1);
	assert_int_equal(read(fd, &c, 1), 1);
	assert_int_equal(c, 'x');
	close(peer);
	close(fd);
	close(ls);
	unlink(path);

	/* sun_path holds 107 bytes and a NUL. */
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(connect_open(&p, &err), -1);
	assert_int_equal(err.kind, ERR_CONFIG);
	assert_int_equal(rmdir(dir), 0);
}

/* source_ip must match an address family of the host. */
static void
test_source_family(void **state)
{
	struct connect_params p;
	struct error err;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.host = "127.0.0.1";
	p.port = 25;
	p.source_ip = "::1";
	p.timeout_ms = 2000;
	error_clear(&err);
	assert_int_equal(connect_open(&p, &err), -1);
	assert_int_equal(err.kind, ERR_CONFIG);
	assert_non_null(strstr(err.msg, "no IPv6 address"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_unix_socket),
		cmocka_unit_test(test_source_family),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
