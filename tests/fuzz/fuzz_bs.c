/*
 * fuzz_bs.c: the -bs server (bs.c): what a local program (or the web
 * form behind it) writes to `sendmail -bs`.
 *
 * Input: the whole session on standard input (a memfd as fd 0).  The
 * configuration is one account with no host, so a transaction that reaches
 * the end of DATA is spooled and fixed like a real one and then fails
 * before any network (451).  Standard output goes to a memfd and is
 * checked: the first reply is the 220 greeting; every line is a reply,
 * "DDD" then " " or "-", no control byte, ended by CRLF; the exit code is
 * 0, 65 or 74.
 */
#include <sys/mman.h>

#include <fcntl.h>
#include <sysexits.h>

#include "bs.h"
#include "fuzz.h"

static char cfg_path[] = "/tmp/fuzz_bs_rc.XXXXXX";

static void
setup(void)
{
	static const char rc[] = "account default\nfrom a@example.org\n"
	    "tls off\n";
	int fd;

	if (cfg_path[sizeof(cfg_path) - 2] != 'X')
		return;
	fd = mkstemp(cfg_path);
	if (fd == -1 || write(fd, rc, sizeof(rc) - 1) != sizeof(rc) - 1)
		abort();
	close(fd);
	setenv("HOME", "/nonexistent", 1);
}

static void
check_replies(const char *p, size_t n)
{
	size_t i = 0, k;

	FUZZ_ASSERT(n >= 6 && memcmp(p, "220 ", 4) == 0);
	while (i < n) {
		FUZZ_ASSERT(n - i >= 6);
		for (k = 0; k < 3; k++)
			FUZZ_ASSERT(p[i + k] >= '0' && p[i + k] <= '9');
		FUZZ_ASSERT(p[i + 3] == ' ' || p[i + 3] == '-');
		for (k = i + 4; k < n && p[k] != '\r'; k++)
			FUZZ_ASSERT((unsigned char)p[k] >= 0x20 && p[k] != 0x7f);
		FUZZ_ASSERT(k + 1 < n && p[k + 1] == '\n');
		i = k + 2;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bs_opts o;
	int in, out, save0, save1, code;
	char *buf;
	off_t n;

	setup();
	in = memfd_create("bs-in", 0);
	out = memfd_create("bs-out", 0);
	if (in == -1 || out == -1)
		abort();
	if (size > 0 && write(in, data, size) != (ssize_t)size)
		abort();
	lseek(in, 0, SEEK_SET);
	save0 = dup(0);
	save1 = dup(1);
	dup2(in, 0);
	dup2(out, 1);
	memset(&o, 0, sizeof(o));
	o.config = cfg_path;
	code = bs_run(&o);
	dup2(save0, 0);
	dup2(save1, 1);
	close(save0);
	close(save1);
	FUZZ_ASSERT(code == EX_OK || code == EX_DATAERR || code == EX_IOERR);
	n = lseek(out, 0, SEEK_END);
	buf = malloc((size_t)n + 1);
	if (buf == NULL || pread(out, buf, (size_t)n, 0) != n)
		abort();
	check_replies(buf, (size_t)n);
	free(buf);
	close(in);
	close(out);
	return 0;
}
