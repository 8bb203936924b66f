/*
 * child.h: every child process smtpsend starts (config eval, passwordeval,
 * the keyring lookup) runs through here, with the same limits: a deadline,
 * at most CHILD_OUTPUT_MAX bytes of output, stdin on /dev/null, a process
 * group of its own that is killed (SIGKILL) at the deadline or the cap, and
 * an exit status that must be read before anyone calls it a success.
 */
#ifndef SMTPSEND_CHILD_H
#define SMTPSEND_CHILD_H

#include <stddef.h>

struct error;

/* Bytes of output kept, the final NUL included. */
#define CHILD_OUTPUT_MAX (1024 * 1024)

/*
 * A buffer that may hold a secret: it grows without realloc() (no unwiped
 * copies left behind) up to CHILD_OUTPUT_MAX and is always NUL-terminated;
 * child_buf_free() wipes it.  Start from {0}.
 */
struct child_buf {
	char *p;
	size_t len;
	size_t size;
};

/* Append n bytes; -1 when out of memory or over CHILD_OUTPUT_MAX. */
int child_buf_add(struct child_buf *b, const char *data, size_t n);

/* Wipe and free; b is {0} again. */
void child_buf_free(struct child_buf *b);

/* How a child ended. */
enum child_end {
	CHILD_EXITED, /* it ended by itself: see status */
	CHILD_TIMEOUT, /* its group was killed at the deadline */
	CHILD_TOO_MUCH, /* its group was killed: output over the cap */
};

struct child_result {
	enum child_end end;
	int status; /* wait status, when end is CHILD_EXITED */
	struct child_buf out; /* what it wrote to its stdout */
};

/*
 * Fork a child that runs fn(arg) with stdin on /dev/null, stdout a pipe to
 * us, in a process group of its own (given the foreground of our terminal
 * while it runs, when we have it, so that it can prompt); it exits 0 when
 * fn returns.  Collect
 * its stdout until EOF (or until it has exited and written a whole line: a
 * background grandchild may keep the pipe open) within timeout_ms.  Returns
 * 0 with *r filled (release r->out with child_buf_free), or -1 with *err
 * (ERR_OS) when it could not be started or its exit status could not be
 * read (SIGCHLD ignored): such a child never counts as a success.
 */
int child_run(void (*fn)(void *arg), void *arg, int timeout_ms,
    struct child_result *r, struct error *err);

/* child_run() of "/bin/sh -c cmd". */
int child_sh(
    const char *cmd, int timeout_ms, struct child_result *r, struct error *err);

/* 1 if the child exited by itself with status 0. */
int child_ok(const struct child_result *r);

/*
 * A short phrase saying why r is not a success, for "... %s": "did not
 * finish within N s" (timeout_ms given), "failed with exit status N",
 * "was killed by signal N", "printed more than 1 MiB".  "" when it
 * succeeded.
 */
const char *child_why(
    const struct child_result *r, int timeout_ms, char *buf, size_t size);

#endif
