/*
 * connect.h: opening the connection to the server, before any SMTP: TCP to
 * every address of the host at once in the manner of RFC 8305 ("Happy
 * Eyeballs"), optionally from a chosen source address, through a SOCKS5
 * proxy (RFC 1928), or to a local Unix socket.
 */
#ifndef SMTPSEND_CONNECT_H
#define SMTPSEND_CONNECT_H

#include <stdio.h>

struct error;

#define CONNECT_PROXY_PORT	1080	/* SOCKS, when proxy_port is not set */
#define CONNECT_STAGGER_MS	250	/* RFC 8305 connection attempt delay */

struct connect_params {
	const char	*host;		/* server name or address */
	int		 port;
	const char	*socket;	/* Unix socket path: host/port unused */
	const char	*source_ip;	/* numeric local address to bind, or NULL */
	const char	*proxy_host;	/* SOCKS5 proxy, or NULL */
	int		 proxy_port;	/* 0: CONNECT_PROXY_PORT */
	int		 timeout_ms;	/* the whole connect phase; <= 0: 60 s */
	FILE		*verbose;	/* -v notes, or NULL */
};

/*
 * Connect as p says and return a connected, non-blocking fd (TCP_NODELAY
 * on TCP).  The whole phase (resolving aside, the proxy handshake
 * included) ends within p->timeout_ms.  Errors: ERR_NOHOST (the name does
 * not exist; temporary when DNS may come back), ERR_NETWORK (refused,
 * unreachable, timed out: the message names each address tried and why),
 * ERR_CONFIG (bad port, socket path too long, source_ip of no usable
 * family), ERR_UNAVAILABLE (the proxy refuses for good), ERR_PROTOCOL (the
 * proxy does not speak SOCKS5).
 */
int	connect_open(const struct connect_params *p, struct error *err);

#endif
