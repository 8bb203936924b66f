/*
 * child.c: running a child process within limits (see child.h).
 *
 * Why a process group: "sh -c 'sleep 30'" or a pipeline leaves
 * grandchildren that hold the pipe open and outlive a kill of the shell
 * alone; SIGKILL to the group ends all of them.  Why the status matters:
 * when the caller left SIGCHLD ignored, the kernel reaps children itself and
 * waitpid() fails; a status we never read is a failure, never a success.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "error.h"

#define POLL_SLICE_MS 100 /* how often a running child is checked */

void
child_buf_free(struct child_buf *b)
{
	if (b->p != NULL)
		explicit_bzero(b->p, b->size);
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* Grow by copying, never realloc(), which could leave an unwiped copy. */
int
child_buf_add(struct child_buf *b, const char *data, size_t n)
{
	size_t size;
	char *p;

	if (n > CHILD_OUTPUT_MAX || b->len + n + 1 > CHILD_OUTPUT_MAX)
		return -1;
	if (b->len + n + 1 > b->size) {
		size = b->size == 0 ? 256 : b->size;
		while (size < b->len + n + 1)
			size *= 2;
		p = malloc(size);
		if (p == NULL)
			return -1;
		if (b->p != NULL) {
			memcpy(p, b->p, b->len);
			explicit_bzero(b->p, b->size);
			free(b->p);
		}
		b->p = p;
		b->size = size;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Kill the whole group, and the child itself should setpgid have failed;
 * never a child already reaped, whose pid may belong to another process.
 */
static void
kill_group(pid_t pid, int reaped)
{
	kill(-pid, SIGKILL);
	if (!reaped)
		kill(pid, SIGKILL);
}

/*
 * waitpid() without blocking: 1 reaped (*status set), 0 still running, -1
 * its status is lost (SIGCHLD ignored, or not our child).
 */
static int
reap(pid_t pid, int *status)
{
	pid_t w;

	do
		w = waitpid(pid, status, WNOHANG);
	while (w == -1 && errno == EINTR);
	if (w == pid)
		return 1;
	return w == 0 ? 0 : -1;
}

/* After a kill: the child is gone within moments; wait for it. */
static int
reap_killed(pid_t pid, int *status)
{
	pid_t w;

	do
		w = waitpid(pid, status, 0);
	while (w == -1 && errno == EINTR);
	return w == pid ? 0 : -1;
}

/*
 * Read fd into r->out until EOF, or until the child has exited and written
 * a whole line, or the deadline, or the cap.  Returns 0 with r->end and
 * r->status set, -1 when the status could not be read.
 */
/*
 * Read what the pipe holds now, without waiting: an exited child's last
 * output (a grandchild that keeps the pipe open adds no wait).  -1 at the
 * cap.
 */
static int
drain_ready(int fd, struct child_result *r)
{
	struct pollfd pfd;
	char chunk[4096];
	ssize_t n;
	int rc = 0;

	for (;;) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 0) != 1)
			break;
		n = read(fd, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		if (child_buf_add(&r->out, chunk, (size_t)n) == -1) {
			rc = -1;
			break;
		}
	}
	explicit_bzero(chunk, sizeof(chunk));
	return rc;
}

static int
collect(int fd, pid_t pid, int timeout_ms, struct child_result *r)
{
	long long deadline = now_ms() + timeout_ms;
	struct pollfd pfd;
	char chunk[4096];
	ssize_t n;
	int reaped = 0, rc, ms, st, saved;

	for (;;) {
		ms = (int)(deadline - now_ms());
		if (ms <= 0)
			goto timeout;
		pfd.fd = fd;
		pfd.events = POLLIN;
		rc = poll(&pfd, 1, ms < POLL_SLICE_MS ? ms : POLL_SLICE_MS);
		if (rc == -1 && errno != EINTR)
			goto lost;
		if (rc == 1) {
			n = read(fd, chunk, sizeof(chunk));
			if (n == 0)
				break;
			if (n > 0 &&
			    child_buf_add(&r->out, chunk, (size_t)n) == -1) {
				explicit_bzero(chunk, sizeof(chunk));
				r->end = CHILD_TOO_MUCH;
				goto kill;
			}
			explicit_bzero(chunk, sizeof(chunk));
		}
		if (!reaped) {
			st = reap(pid, &r->status);
			if (st == -1)
				goto lost;
			reaped = st;
		}
		if (reaped &&
		    (rc == 0 ||
			(r->out.len > 0 &&
			    memchr(r->out.p, '\n', r->out.len) != NULL))) {
			/* What it wrote before it exited is in the pipe. */
			if (drain_ready(fd, r) == -1) {
				r->end = CHILD_TOO_MUCH;
				goto kill;
			}
			return 0;
		}
	}
	/* EOF: the child closed its stdout; give it the rest of the time. */
	while (!reaped) {
		st = reap(pid, &r->status);
		if (st == -1)
			goto lost;
		reaped = st;
		if (!reaped && now_ms() >= deadline)
			goto timeout;
		if (!reaped)
			poll(NULL, 0, 10);
	}
	return 0;
timeout:
	r->end = CHILD_TIMEOUT;
kill:
	kill_group(pid, reaped);
	if (!reaped && reap_killed(pid, &r->status) == -1)
		return -1;
	return 0;
lost:
	saved = errno;
	/* ECHILD: the kernel reaped it (SIGCHLD ignored); its pid is free. */
	kill_group(pid, reaped || saved == ECHILD);
	if (!reaped && saved != ECHILD)
		reap_killed(pid, &r->status);
	errno = saved;
	return -1;
}

/*
 * Make pgrp the foreground of the terminal tty.  A child that reads
 * /dev/tty (a password prompt) from a background group would be stopped by
 * SIGTTIN, so it gets the foreground when we had it, and we take it back.
 * SIGTTOU is blocked, as a shell does: the caller is in the background then.
 */
static void
hand_terminal(int tty, pid_t pgrp)
{
	sigset_t ttou, old;

	sigemptyset(&ttou);
	sigaddset(&ttou, SIGTTOU);
	sigprocmask(SIG_BLOCK, &ttou, &old);
	tcsetpgrp(tty, pgrp);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* In the child: never returns. */
static void
child_main(int out, int tty, int fg, void (*fn)(void *), void *arg)
{
	sigset_t none;
	int null;

	/* Its own group, so that a kill reaches what it started too. */
	setpgid(0, 0);
	if (fg)
		hand_terminal(tty, getpid());
	if (tty != -1)
		close(tty);
	/* SIGPIPE and SIGCHLD as a shell expects them, whatever we had. */
	signal(SIGPIPE, SIG_DFL);
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	null = open("/dev/null", O_RDONLY);
	if (null == -1 || dup2(null, STDIN_FILENO) == -1 ||
	    dup2(out, STDOUT_FILENO) == -1)
		_exit(127);
	if (null > STDERR_FILENO)
		close(null);
	if (out > STDERR_FILENO)
		close(out);
	fn(arg);
	_exit(0);
}

int
child_run(void (*fn)(void *), void *arg, int timeout_ms, struct child_result *r,
    struct error *err)
{
	int fds[2], tty, fg, rc, saved;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->end = CHILD_EXITED;
	if (pipe2(fds, O_CLOEXEC) == -1)
		return error_set(err, ERR_OS, "pipe: %s", strerror(errno));
	tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	fg = tty != -1 && tcgetpgrp(tty) == getpgrp();
	/* Or stdio buffers would be written twice, once by the child. */
	fflush(NULL);
	pid = fork();
	if (pid == -1) {
		saved = errno;
		close(fds[0]);
		close(fds[1]);
		if (tty != -1)
			close(tty);
		return error_set(err, ERR_OS, "fork: %s", strerror(saved));
	}
	if (pid == 0) {
		close(fds[0]);
		child_main(fds[1], tty, fg, fn, arg);
	}
	/* Also here: a kill at once must not miss a group not yet made. */
	setpgid(pid, pid);
	close(fds[1]);
	rc = collect(fds[0], pid, timeout_ms, r);
	saved = errno;
	close(fds[0]);
	/* Take the terminal back if the child had it. */
	if (fg)
		hand_terminal(tty, getpgrp());
	if (tty != -1)
		close(tty);
	if (rc == -1) {
		child_buf_free(&r->out);
		return error_set(err, ERR_OS,
		    "cannot read its exit status: %s%s", strerror(saved),
		    saved == ECHILD ? " (SIGCHLD is ignored?)" : "");
	}
	return 0;
}

static void
sh_main(void *arg)
{
	execl("/bin/sh", "sh", "-c", (const char *)arg, (char *)NULL);
	_exit(127);
}

int
child_sh(
    const char *cmd, int timeout_ms, struct child_result *r, struct error *err)
{
	return child_run(sh_main, (void *)(uintptr_t)cmd, timeout_ms, r, err);
}

int
child_ok(const struct child_result *r)
{
	return r->end == CHILD_EXITED && WIFEXITED(r->status) &&
	    WEXITSTATUS(r->status) == 0;
}

const char *
child_why(const struct child_result *r, int timeout_ms, char *buf, size_t size)
{
	if (r->end == CHILD_TIMEOUT)
		snprintf(buf, size, "did not finish within %d s",
		    (timeout_ms + 999) / 1000);
	else if (r->end == CHILD_TOO_MUCH)
		snprintf(buf, size, "printed more than %d MiB",
		    CHILD_OUTPUT_MAX / (1024 * 1024));
	else if (WIFSIGNALED(r->status))
		snprintf(
		    buf, size, "was killed by signal %d", WTERMSIG(r->status));
	else if (WIFEXITED(r->status) && WEXITSTATUS(r->status) != 0)
		snprintf(buf, size, "failed with exit status %d",
		    WEXITSTATUS(r->status));
	else
		snprintf(buf, size, "%s", "");
	return buf;
}
