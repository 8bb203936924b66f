/*
 * connect.c: the connection to the server, before any SMTP.
 *
 * TCP follows RFC 8305: the addresses of the host are ordered with the
 * families interleaved (the first family getaddrinfo gives, then the
 * other, and so on), an attempt starts every 250 ms while the earlier ones
 * keep running (at once when one fails), the first to connect wins and the
 * rest are closed.  One dead address therefore costs 250 ms, not the
 * whole timeout, and the whole phase is bounded by that timeout.
 *
 * A SOCKS5 proxy (RFC 1928, no authentication) gets the host name to
 * resolve itself (ATYP domain, as msmtp does), so no DNS query for the
 * server leaves this machine.  A Unix socket replaces host and port.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "connect.h"
#include "error.h"
#include "io.h"

#define MAX_ADDRS	32	/* addresses tried per name */
#define WHERE_MAX	300

/* One address of the host and what became of the attempt on it. */
struct attempt {
	const struct addrinfo *ai;
	char addr[NI_MAXHOST];
	int fd;		/* -1: not started or finished */
	int why;	/* errno of the failure, 0 while pending */
};

struct source {
	struct sockaddr_storage ss;
	socklen_t len;
	int family;	/* AF_UNSPEC: no source_ip */
};

/* "host:port", or "[v6]:port". */
static void
fmt_where(char *buf, size_t size, const char *host, int port)
{
	if (strchr(host, ':') != NULL)
		snprintf(buf, size, "[%s]:%d", host, port);
	else
		snprintf(buf, size, "%s:%d", host, port);
}

static int
resolve_error(int rc, const char *host, const char *what, struct error *err)
{
	switch (rc) {
	case EAI_NONAME:
#ifdef EAI_NODATA
	case EAI_NODATA:
#endif
		error_set(err, ERR_NOHOST, "%s %s not found", what, host);
		error_hint(err, "check the \"%s\" line of the account",
		    strcmp(what, "host") == 0 ? "host" : "proxy_host");
		return -1;
	case EAI_SYSTEM:
		error_set(err, ERR_NOHOST, "cannot resolve %s: %s", host,
		    strerror(errno));
		break;
	default:
		error_set(err, ERR_NOHOST, "cannot resolve %s: %s", host,
		    gai_strerror(rc));
		break;
	}
	err->temporary = 1; /* EAI_AGAIN and friends: DNS may come back */
	return -1;
}

static int
source_init(struct source *src, const char *ip, struct error *err)
{
	struct addrinfo hints, *res = NULL;

	memset(src, 0, sizeof(*src));
	src->family = AF_UNSPEC;
	if (ip == NULL || ip[0] == '\0')
		return 0;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	if (getaddrinfo(ip, NULL, &hints, &res) != 0 || res == NULL ||
	    res->ai_addrlen > sizeof(src->ss)) {
		if (res != NULL)
			freeaddrinfo(res);
		return error_set(err, ERR_CONFIG,
		    "source_ip %s is not an IP address", ip);
	}
	memcpy(&src->ss, res->ai_addr, res->ai_addrlen);
	src->len = res->ai_addrlen;
	src->family = res->ai_family;
	freeaddrinfo(res);
	return 0;
}

/*
 * The addresses in the order RFC 8305 section 4 asks for: families
 * interleaved, starting with the family of getaddrinfo's first answer.
 * Only the family of source_ip when one is set.  Returns the count.
 */
static size_t
order_addrs(const struct addrinfo *res, int only, struct attempt *out)
{
	const struct addrinfo *a, *b, *ai;
	size_t n = 0;
	int first;

	for (ai = res; ai != NULL; ai = ai->ai_next)
		if (only == AF_UNSPEC || ai->ai_family == only)
			break;
	if (ai == NULL)
		return 0;
	first = ai->ai_family;
	a = b = res;
	while (n < MAX_ADDRS && (a != NULL || b != NULL)) {
		while (a != NULL && a->ai_family != first)
			a = a->ai_next;
		if (a != NULL) {
			out[n++].ai = a;
			a = a->ai_next;
		}
		while (b != NULL && (b->ai_family == first ||
		    (only != AF_UNSPEC && b->ai_family != only)))
			b = b->ai_next;
		if (b != NULL && n < MAX_ADDRS) {
			out[n++].ai = b;
			b = b->ai_next;
		}
	}
	return n;
}

/* Start a non-blocking connect: 0 in flight or connected, else errno. */
static int
start_attempt(struct attempt *at, const struct source *src)
{
	const struct addrinfo *ai = at->ai;
	int fd;

	fd = socket(ai->ai_family,
	    ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		at->why = errno;
		return at->why;
	}
	if (src->family != AF_UNSPEC &&
	    bind(fd, (const struct sockaddr *)&src->ss, src->len) == -1) {
		at->why = errno;
		close(fd);
		return at->why;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 &&
	    errno != EINPROGRESS) {
		at->why = errno;
		close(fd);
		return at->why;
	}
	at->fd = fd;
	return 0;
}

/* An in-flight attempt that poll() says is done: 1 connected, 0 failed. */
static int
finish_attempt(struct attempt *at)
{
	socklen_t sl = sizeof(int);
	int soerr = 0;

	if (getsockopt(at->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
		soerr = errno;
	if (soerr == 0)
		return 1;
	at->why = soerr;
	close(at->fd);
	at->fd = -1;
	return 0;
}

/*
 * Wait for the attempts in flight until wait_until; returns the index of
 * one that connected, -1 if none did (failures recorded), -2 on a poll
 * error.
 */
static int
poll_attempts(struct attempt *at, size_t started, long long wait_until)
{
	struct pollfd pfd[MAX_ADDRS];
	size_t idx[MAX_ADDRS], i, k = 0;
	long long left = wait_until - io_now_ms();
	int n;

	for (i = 0; i < started; i++) {
		if (at[i].fd < 0)
			continue;
		pfd[k].fd = at[i].fd;
		pfd[k].events = POLLOUT;
		pfd[k].revents = 0;
		idx[k++] = i;
	}
	if (left < 0)
		left = 0;
	n = poll(pfd, k, (int)(left > 60000000 ? 60000000 : left));
	if (n < 0)
		return errno == EINTR ? -1 : -2;
	for (i = 0; i < k; i++) {
		if (pfd[i].revents == 0)
			continue;
		if (finish_attempt(&at[idx[i]]))
			return (int)idx[i];
	}
	return -1;
}

static size_t
in_flight(const struct attempt *at, size_t started)
{
	size_t i, n = 0;

	for (i = 0; i < started; i++)
		n += at[i].fd >= 0;
	return n;
}

/* "cannot connect to WHERE: ..." naming every address tried and why. */
static int
attempts_error(const char *what, const char *name, int port,
    struct attempt *at, size_t started, int timeout_ms, struct error *err)
{
	char where[WHERE_MAX], secs[32], list[ERROR_MSG_MAX], one[160];
	size_t i, len = 0;
	int refused = 1, notlocal = 1;

	fmt_where(where, sizeof(where), name, port);
	list[0] = '\0';
	for (i = 0; i < started; i++) {
		if (at[i].why == ETIMEDOUT)
			snprintf(one, sizeof(one), "timed out after %s",
			    io_fmt_secs(secs, sizeof(secs), timeout_ms));
		else
			snprintf(one, sizeof(one), "%s", strerror(at[i].why));
		refused = refused && at[i].why == ECONNREFUSED;
		notlocal = notlocal && at[i].why == EADDRNOTAVAIL;
		if (started == 1 && strcmp(at[i].addr, name) == 0)
			len += (size_t)snprintf(list + len, sizeof(list) - len,
			    "%s", one);
		else
			len += (size_t)snprintf(list + len, sizeof(list) - len,
			    "%s%s%s%s: %s", i > 0 ? "; " : "",
			    strchr(at[i].addr, ':') != NULL ? "[" : "",
			    at[i].addr,
			    strchr(at[i].addr, ':') != NULL ? "]" : "", one);
		if (len >= sizeof(list))
			break;
	}
	error_set(err, ERR_NETWORK, "cannot connect to %s%s: %s", what, where,
	    list);
	if (refused)
		error_hint(err, "nothing listens on %s: check \"%s\" and "
		    "\"%s\" in the account", where,
		    what[0] != '\0' ? "proxy_host" : "host",
		    what[0] != '\0' ? "proxy_port" : "port");
	else if (notlocal)
		error_hint(err, "source_ip must be an address of this "
		    "machine");
	return -1;
}

/*
 * Race the attempts as RFC 8305 section 5 says until one connects or
 * deadline passes.  Returns the fd of the winner or -1 with *err.
 */
static int
race(const char *what, const char *name, int port, struct attempt *at,
    size_t n, const struct source *src, long long deadline, int timeout_ms,
    FILE *verbose, struct error *err)
{
	size_t next = 0, i, before;
	long long next_at = 0, until;
	int won = -1, r;

	for (;;) {
		while (next < n && (io_now_ms() >= next_at ||
		    in_flight(at, next) == 0)) {
			if (verbose != NULL)
				fprintf(verbose, "--- trying %s\n",
				    at[next].addr);
			if (start_attempt(&at[next], src) != 0) {
				next++; /* failed at once: next one now */
				continue;
			}
			next++;
			next_at = io_now_ms() + CONNECT_STAGGER_MS;
			break;
		}
		if (in_flight(at, next) == 0 && next == n)
			break; /* every address failed */
		if (io_now_ms() >= deadline)
			break;
		until = next < n && next_at < deadline ? next_at : deadline;
		before = in_flight(at, next);
		r = poll_attempts(at, next, until);
		if (r >= 0) {
			won = r;
			break;
		}
		if (r == -2)
			return error_set(err, ERR_OS, "poll: %s",
			    strerror(errno));
		if (in_flight(at, next) < before)
			next_at = 0; /* a failure starts the next at once */
	}
	for (i = 0; i < next; i++) {
		if (at[i].fd < 0 || (int)i == won)
			continue;
		close(at[i].fd);
		at[i].fd = -1;
		at[i].why = ETIMEDOUT;
	}
	if (won >= 0) {
		if (verbose != NULL)
			fprintf(verbose, "--- connected to %s\n", at[won].addr);
		return at[won].fd;
	}
	return attempts_error(what, name, port, at, next, timeout_ms, err);
}

/* TCP to name:port within deadline; what is "" or "SOCKS proxy ". */
static int
tcp_connect(const char *what, const char *name, int port,
    const struct source *src, long long deadline, int timeout_ms,
    FILE *verbose, struct error *err)
{
	struct addrinfo hints, *res = NULL;
	struct attempt at[MAX_ADDRS];
	char service[16];
	size_t n, i;
	int rc, fd;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(name, service, &hints, &res);
	if (rc != 0)
		return resolve_error(rc, name,
		    what[0] != '\0' ? "proxy host" : "host", err);
	memset(at, 0, sizeof(at));
	n = order_addrs(res, src->family, at);
	for (i = 0; i < n; i++) {
		at[i].fd = -1;
		if (getnameinfo(at[i].ai->ai_addr, at[i].ai->ai_addrlen,
		    at[i].addr, sizeof(at[i].addr), NULL, 0,
		    NI_NUMERICHOST) != 0)
			snprintf(at[i].addr, sizeof(at[i].addr), "?");
	}
	if (n == 0) {
		freeaddrinfo(res);
		return error_set(err, ERR_CONFIG, "%s%s has no IPv%c address "
		    "to match source_ip", what, name,
		    src->family == AF_INET ? '4' : '6');
	}
	fd = race(what, name, port, at, n, src, deadline, timeout_ms,
	    verbose, err);
	freeaddrinfo(res);
	return fd;
}

static int
unix_connect(const char *path, long long deadline, int timeout_ms,
    FILE *verbose, struct error *err)
{
	struct sockaddr_un sa;
	char secs[32];
	int fd, why;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path))
		return error_set(err, ERR_CONFIG, "socket %s: the path is "
		    "longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (verbose != NULL)
		fprintf(verbose, "--- connecting to unix socket %s\n", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return error_set(err, ERR_OS, "socket: %s", strerror(errno));
	/* A full backlog says EAGAIN (never EINPROGRESS): retry a while. */
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1) {
		why = errno;
		if (why == EINTR)
			continue;
		if (why == EAGAIN && io_now_ms() < deadline) {
			(void)poll(NULL, 0, 20);
			continue;
		}
		close(fd);
		if (why == EAGAIN)
			return error_set(err, ERR_NETWORK, "cannot connect to "
			    "unix socket %s: timed out after %s", path,
			    io_fmt_secs(secs, sizeof(secs), timeout_ms));
		error_set(err, ERR_NETWORK, "cannot connect to unix socket "
		    "%s: %s", path, strerror(why));
		if (why == ENOENT || why == ECONNREFUSED)
			error_hint(err, "nothing listens there: check the "
			    "\"socket\" line of the account");
		return -1;
	}
	return fd;
}

/* Send or receive exactly len bytes before deadline. */
static int
socks_io(int fd, void *buf, size_t len, int out, long long deadline,
    const char *where, int timeout_ms, struct error *err)
{
	struct pollfd pfd;
	char secs[32];
	size_t off = 0;
	ssize_t n;
	long long left;

	while (off < len) {
		if (out)
			n = send(fd, (char *)buf + off, len - off, MSG_NOSIGNAL);
		else
			n = recv(fd, (char *)buf + off, len - off, 0);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n == 0)
			return error_set(err, ERR_NETWORK, "SOCKS proxy %s "
			    "closed the connection", where);
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return error_set(err, ERR_NETWORK, "SOCKS proxy %s: "
			    "%s", where, strerror(errno));
		left = deadline - io_now_ms();
		if (left <= 0)
			return error_set(err, ERR_NETWORK, "SOCKS proxy %s: no "
			    "answer within %s", where,
			    io_fmt_secs(secs, sizeof(secs), timeout_ms));
		pfd.fd = fd;
		pfd.events = out ? POLLOUT : POLLIN;
		pfd.revents = 0;
		if (poll(&pfd, 1, (int)left) == -1 && errno != EINTR)
			return error_set(err, ERR_OS, "poll: %s",
			    strerror(errno));
	}
	return 0;
}

/* RFC 1928 section 6 reply codes; kind and whether it may pass. */
static int
socks_refused(int rep, const char *where, const char *host, int port,
    struct error *err)
{
	static const char *const text[] = { "succeeded",
		"general SOCKS server failure",
		"connection not allowed by ruleset", "network unreachable",
		"host unreachable", "connection refused", "TTL expired",
		"command not supported", "address type not supported" };
	char target[WHERE_MAX];

	fmt_where(target, sizeof(target), host, port);
	if (rep < 1 || rep > 8)
		return error_set(err, ERR_PROTOCOL, "SOCKS proxy %s: unknown "
		    "reply %d to CONNECT %s", where, rep, target);
	/*
	 * Refusals by rule or for lack of a feature do not change by
	 * themselves; the rest describe the network and may.  A proxy
	 * cannot tell a name that does not exist from one it cannot reach
	 * now (Tor says "host unreachable" for both), so that stays
	 * temporary.
	 */
	error_set(err, rep == 2 || rep == 7 || rep == 8 ? ERR_UNAVAILABLE
	    : ERR_NETWORK, "SOCKS proxy %s cannot connect to %s: %s", where,
	    target, text[rep]);
	if (rep == 8)
		error_hint(err, "the proxy does not take host names; set "
		    "host to an IP address");
	return -1;
}

/*
 * SOCKS5 without authentication: method negotiation, then CONNECT with
 * the host name for the proxy to resolve.  Reads exactly the reply, so
 * the server's greeting stays in the socket for the SMTP layer.
 */
static int
socks_handshake(int fd, const char *where, const char *host, int port,
    long long deadline, int timeout_ms, FILE *verbose, struct error *err)
{
	unsigned char buf[262];
	size_t hl = strlen(host), skip;

	if (hl == 0 || hl > 255)
		return error_set(err, ERR_CONFIG, "host name too long for a "
		    "SOCKS proxy (255 bytes at most)");
	buf[0] = 5;	/* version */
	buf[1] = 1;	/* one method: */
	buf[2] = 0;	/* no authentication */
	if (socks_io(fd, buf, 3, 1, deadline, where, timeout_ms, err) == -1 ||
	    socks_io(fd, buf, 2, 0, deadline, where, timeout_ms, err) == -1)
		return -1;
	if (buf[0] != 5)
		return error_set(err, ERR_PROTOCOL, "%s does not speak SOCKS5 "
		    "(it answered version %d)", where, buf[0]);
	if (buf[1] != 0) {
		error_set(err, ERR_UNAVAILABLE, "SOCKS proxy %s requires "
		    "authentication", where);
		error_hint(err, "smtpsend speaks SOCKS5 without "
		    "authentication only, as msmtp does");
		return -1;
	}
	if (verbose != NULL)
		fprintf(verbose, "--- SOCKS5 CONNECT %s port %d\n", host, port);
	buf[0] = 5;	/* version */
	buf[1] = 1;	/* CONNECT */
	buf[2] = 0;	/* reserved */
	buf[3] = 3;	/* ATYP domain name: the proxy resolves it */
	buf[4] = (unsigned char)hl;
	memcpy(buf + 5, host, hl);
	buf[5 + hl] = (unsigned char)(port >> 8);
	buf[6 + hl] = (unsigned char)(port & 0xff);
	if (socks_io(fd, buf, 7 + hl, 1, deadline, where, timeout_ms, err) ==
	    -1 || socks_io(fd, buf, 5, 0, deadline, where, timeout_ms, err) ==
	    -1)
		return -1;
	if (buf[0] != 5)
		return error_set(err, ERR_PROTOCOL, "SOCKS proxy %s: garbage "
		    "reply (version %d)", where, buf[0]);
	if (buf[1] != 0)
		return socks_refused(buf[1], where, host, port, err);
	/* BND.ADDR (of which 1 byte is read) and BND.PORT, then nothing. */
	switch (buf[3]) {
	case 1: skip = 4 - 1 + 2; break;
	case 4: skip = 16 - 1 + 2; break;
	case 3: skip = (size_t)buf[4] + 2; break;
	default:
		return error_set(err, ERR_PROTOCOL, "SOCKS proxy %s: garbage "
		    "reply (address type %d)", where, buf[3]);
	}
	return socks_io(fd, buf, skip, 0, deadline, where, timeout_ms, err);
}

int
connect_open(const struct connect_params *p, struct error *err)
{
	struct source src;
	char where[WHERE_MAX];
	int timeout_ms, pport, fd, one = 1;
	long long deadline;

	timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : 60000;
	deadline = io_now_ms() + timeout_ms;
	if (p->socket != NULL && p->socket[0] != '\0')
		return unix_connect(p->socket, deadline, timeout_ms,
		    p->verbose, err);
	if (p->port <= 0 || p->port > 65535)
		return error_set(err, ERR_CONFIG, "invalid port %d", p->port);
	if (source_init(&src, p->source_ip, err) == -1)
		return -1;
	if (p->proxy_host == NULL || p->proxy_host[0] == '\0') {
		fd = tcp_connect("", p->host, p->port, &src, deadline,
		    timeout_ms, p->verbose, err);
	} else {
		pport = p->proxy_port > 0 ? p->proxy_port : CONNECT_PROXY_PORT;
		fmt_where(where, sizeof(where), p->proxy_host, pport);
		if (p->verbose != NULL)
			fprintf(p->verbose, "--- through SOCKS5 proxy %s\n",
			    where);
		fd = tcp_connect("SOCKS proxy ", p->proxy_host, pport, &src,
		    deadline, timeout_ms, p->verbose, err);
		if (fd != -1 && socks_handshake(fd, where, p->host, p->port,
		    deadline, timeout_ms, p->verbose, err) == -1) {
			close(fd);
			fd = -1;
		}
	}
	if (fd != -1)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	return fd;
}
