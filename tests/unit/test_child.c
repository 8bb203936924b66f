/*
 * test_child.c: child processes within limits: the first output, exit
 * status and signal, the deadline and the output cap (with what the child
 * started killed too), stdin on /dev/null, a process group of its own, a
 * grandchild holding the pipe, SIGCHLD ignored by us, the wiped buffer.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "child.h"
#include "error.h"

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Run cmd with timeout_ms; the test fails if it cannot be run at all. */
static void
sh(const char *cmd, int timeout_ms, struct child_result *r)
{
	struct error err;

	error_clear(&err);
	if (child_sh(cmd, timeout_ms, r, &err) == -1)
		fail_msg("child_sh(%s): %s", cmd, err.msg);
}

/* 1 while pid exists and is not a zombie. */
static int
alive(long pid)
{
	char path[64], buf[512], *p;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	fp = fopen(path, "r");
	if (fp == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static void
test_output_and_status(void **state)
{
	struct child_result r;
	char why[64];

	(void)state;
	sh("echo first; echo second", 5000, &r);
	assert_true(child_ok(&r));
	assert_string_equal(r.out.p, "first\nsecond\n");
	assert_string_equal(child_why(&r, 5000, why, sizeof(why)), "");
	child_buf_free(&r.out);
	assert_null(r.out.p);

	sh("echo out; exit 3", 5000, &r);
	assert_false(child_ok(&r));
	assert_int_equal(r.end, CHILD_EXITED);
	assert_string_equal(child_why(&r, 5000, why, sizeof(why)),
	    "failed with exit status 3");
	child_buf_free(&r.out);

	sh("kill -9 $$", 5000, &r);
	assert_false(child_ok(&r));
	assert_string_equal(child_why(&r, 5000, why, sizeof(why)),
	    "was killed by signal 9");
	child_buf_free(&r.out);

	sh("/nonexistent/command", 5000, &r);
	assert_string_equal(child_why(&r, 5000, why, sizeof(why)),
	    "failed with exit status 127");
	child_buf_free(&r.out);
}

static void
test_deadline_kills_the_group(void **state)
{
	struct child_result r;
	char why[64];
	double t0, t;
	long pid;
	int i;

	(void)state;
	/* A grandchild in the background, its pid printed, then a hang. */
	t0 = seconds();
	sh("sleep 300 & echo $!; sleep 300", 1000, &r);
	t = seconds() - t0;
	assert_int_equal(r.end, CHILD_TIMEOUT);
	assert_false(child_ok(&r));
	assert_true(t >= 0.9);
	assert_true(t < 10);
	assert_string_equal(child_why(&r, 1000, why, sizeof(why)),
	    "did not finish within 1 s");
	assert_non_null(r.out.p);
	pid = strtol(r.out.p, NULL, 10);
	assert_true(pid > 1);
	child_buf_free(&r.out);
	/* The grandchild got SIGKILL too (reaped by init shortly after). */
	for (i = 0; i < 100 && alive(pid); i++)
		usleep(50 * 1000);
	assert_false(alive(pid));
}

static void
test_output_cap(void **state)
{
	struct child_result r;
	char why[64];
	double t0;

	(void)state;
	t0 = seconds();
	sh("yes", 30000, &r);
	assert_true(seconds() - t0 < 10);
	assert_int_equal(r.end, CHILD_TOO_MUCH);
	assert_false(child_ok(&r));
	assert_true(r.out.len < CHILD_OUTPUT_MAX);
	assert_true(r.out.len > CHILD_OUTPUT_MAX / 2);
	assert_string_equal(child_why(&r, 30000, why, sizeof(why)),
	    "printed more than 1 MiB");
	child_buf_free(&r.out);

	/* An endless first line, the case that grew to 1.5 GB. */
	sh("tr '\\0' x < /dev/zero", 30000, &r);
	assert_int_equal(r.end, CHILD_TOO_MUCH);
	child_buf_free(&r.out);

	/* Just under the cap is fine. */
	sh("head -c 1000000 /dev/zero | tr '\\0' x", 30000, &r);
	assert_true(child_ok(&r));
	assert_int_equal(r.out.len, 1000000);
	child_buf_free(&r.out);
}

static void
test_stdin_and_group(void **state)
{
	struct child_result r;
	long a, b;
	char *end;

	(void)state;
	/* cat sees EOF at once: stdin is /dev/null, not ours. */
	sh("cat; echo done", 5000, &r);
	assert_true(child_ok(&r));
	assert_string_equal(r.out.p, "done\n");
	child_buf_free(&r.out);
	/* Its own process group: pgrp (field 5 of stat) is its pid. */
	sh("echo $$ $(cut -d' ' -f5 /proc/$$/stat)", 5000, &r);
	assert_true(child_ok(&r));
	a = strtol(r.out.p, &end, 10);
	b = strtol(end, NULL, 10);
	assert_int_equal(a, b);
	assert_int_not_equal(b, (long)getpgrp());
	child_buf_free(&r.out);
}

static void
test_grandchild_holds_pipe(void **state)
{
	struct child_result r;
	double t0;

	(void)state;
	/* The shell exits after a whole line: do not wait for sleep. */
	t0 = seconds();
	sh("sleep 8 & echo pw", 20000, &r);
	assert_true(seconds() - t0 < 4);
	assert_true(child_ok(&r));
	assert_string_equal(r.out.p, "pw\n");
	child_buf_free(&r.out);
}

static void
test_sigchld_ignored(void **state)
{
	struct child_result r;
	struct error err;

	(void)state;
	/* Children reaped by the kernel: no status, so never a success. */
	signal(SIGCHLD, SIG_IGN);
	error_clear(&err);
	assert_int_equal(child_sh("echo pw", 5000, &r, &err), -1);
	assert_int_equal(err.kind, ERR_OS);
	assert_non_null(strstr(err.msg, "cannot read its exit status"));
	assert_non_null(strstr(err.msg, "SIGCHLD"));
	assert_null(r.out.p);
	error_clear(&err);
	assert_int_equal(child_sh("exit 3", 5000, &r, &err), -1);
	signal(SIGCHLD, SIG_DFL);
	/* Back to the default: a shell waiting for its own child works. */
	sh("sh -c 'exit 4'; echo $?", 5000, &r);
	assert_string_equal(r.out.p, "4\n");
	child_buf_free(&r.out);
}

static void
write_hello(void *arg)
{
	const char *s = arg;

	if (write(STDOUT_FILENO, s, strlen(s)) < 0)
		_exit(1);
}

static void
test_function_child(void **state)
{
	struct child_result r;
	struct error err;

	(void)state;
	error_clear(&err);
	assert_int_equal(child_run(write_hello, (void *)"F hello", 5000, &r,
	    &err), 0);
	assert_true(child_ok(&r));
	assert_int_equal(r.out.len, 7);
	assert_string_equal(r.out.p, "F hello");
	child_buf_free(&r.out);
}

static void
test_buf(void **state)
{
	struct child_buf b = { 0 };
	static char big[CHILD_OUTPUT_MAX];
	int i;

	(void)state;
	for (i = 0; i < 1000; i++)
		assert_int_equal(child_buf_add(&b, "0123456789", 10), 0);
	assert_int_equal(b.len, 10000);
	assert_int_equal(b.p[b.len], '\0');
	child_buf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	/* The cap counts the NUL: CHILD_OUTPUT_MAX - 1 bytes fit, no more. */
	assert_int_equal(child_buf_add(&b, big, CHILD_OUTPUT_MAX - 1), 0);
	assert_int_equal(child_buf_add(&b, "x", 1), -1);
	child_buf_free(&b);
	assert_int_equal(child_buf_add(&b, big, CHILD_OUTPUT_MAX), -1);
	child_buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_output_and_status),
		cmocka_unit_test(test_deadline_kills_the_group),
		cmocka_unit_test(test_output_cap),
		cmocka_unit_test(test_stdin_and_group),
		cmocka_unit_test(test_grandchild_holds_pipe),
		cmocka_unit_test(test_sigchld_ignored),
		cmocka_unit_test(test_function_child),
		cmocka_unit_test(test_buf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
