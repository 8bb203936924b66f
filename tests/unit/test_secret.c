/*
 * test_secret.c: where the secret comes from: config password first,
 * passwordeval (first line, exit status, signal, timeout, stdin /dev/null,
 * a grandchild holding stdout), EXTERNAL, and a keyring with no bus.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "error.h"
#include "keyring.h"
#include "secret.h"

static struct account A;

static int
setup(void **state)
{
	(void)state;
	memset(&A, 0, sizeof(A));
	A.name = (char *)"test";
	A.host = (char *)"mail.example.org";
	A.user = (char *)"alice";
	A.timeout = 10;
	return 0;
}

/* Run passwordeval cmd; returns secret_get's result. */
static int
eval(const char *cmd, char **secret, struct error *err)
{
	A.passwordeval = (char *)cmd;
	error_clear(err);
	*secret = NULL;
	return secret_get(&A, secret, NULL, err);
}

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
test_eval_first_line(void **state)
{
	struct error err;
	char *s;

	(void)state;
	assert_int_equal(eval("echo 'S3cr et'; echo second", &s, &err), 0);
	assert_string_equal(s, "S3cr et");
	secret_free(s);
	assert_int_equal(eval("printf 'tok\\r\\n'", &s, &err), 0);
	assert_string_equal(s, "tok");
	secret_free(s);
	/* No final newline. */
	assert_int_equal(eval("printf abc", &s, &err), 0);
	assert_string_equal(s, "abc");
	secret_free(s);
}

static void
test_eval_long_token(void **state)
{
	struct error err;
	char *s;

	(void)state;
	/* OAuth tokens are long: 20000 bytes in one line. */
	assert_int_equal(eval("head -c 20000 /dev/zero | tr '\\0' x", &s,
	    &err), 0);
	assert_int_equal(strlen(s), 20000);
	secret_free(s);
}

static void
test_eval_failures(void **state)
{
	struct error err;
	char *s;

	(void)state;
	assert_int_equal(eval("echo pw; exit 3", &s, &err), -1);
	assert_int_equal(error_exit_code(&err), 78);
	assert_non_null(strstr(err.msg, "exit status 3"));
	assert_null(s);
	assert_int_equal(eval("true", &s, &err), -1);
	assert_int_equal(error_exit_code(&err), 78);
	assert_non_null(strstr(err.msg, "no password"));
	assert_int_equal(eval("echo; echo pw", &s, &err), -1);
	assert_int_equal(error_exit_code(&err), 78);
	assert_int_equal(eval("kill -9 $$", &s, &err), -1);
	assert_non_null(strstr(err.msg, "signal 9"));
	assert_int_equal(eval("/nonexistent/cmd", &s, &err), -1);
	assert_non_null(strstr(err.msg, "exit status 127"));
	/* The output never appears in the message. */
	assert_int_equal(eval("echo Hunter2; exit 1", &s, &err), -1);
	assert_null(strstr(err.msg, "Hunter2"));
	assert_null(strstr(err.hint, "Hunter2"));
}

static void
test_eval_endless_output(void **state)
{
	struct error err;
	double t0;
	char *s;

	(void)state;
	/* More than 1 MiB: refused at once, the command killed. */
	t0 = seconds();
	assert_int_equal(eval("yes", &s, &err), -1);
	assert_true(seconds() - t0 < 5);
	assert_int_equal(error_exit_code(&err), 78);
	assert_non_null(strstr(err.msg, "printed more than 1 MiB"));
}

static void
test_eval_timeout(void **state)
{
	struct error err;
	double t0;
	char *s;

	(void)state;
	A.timeout = 1;
	t0 = seconds();
	assert_int_equal(eval("sleep 20; echo late", &s, &err), -1);
	assert_true(seconds() - t0 < 5);
	assert_int_equal(error_exit_code(&err), 78);
	assert_non_null(strstr(err.msg, "within 1 s"));
}

static void
test_eval_stdin_devnull(void **state)
{
	struct error err;
	char *s;

	(void)state;
	/* cat must see EOF at once: stdin is /dev/null, not ours. */
	A.timeout = 5;
	assert_int_equal(eval("cat; echo done", &s, &err), 0);
	assert_string_equal(s, "done");
	secret_free(s);
}

static void
test_eval_grandchild(void **state)
{
	struct error err;
	double t0;
	char *s;

	(void)state;
	/* A background process keeps stdout open: do not wait for it. */
	t0 = seconds();
	assert_int_equal(eval("sleep 8 & echo pw", &s, &err), 0);
	assert_string_equal(s, "pw");
	assert_true(seconds() - t0 < 4);
	secret_free(s);
}

static void
test_order(void **state)
{
	struct error err;
	char *s;

	(void)state;
	A.password = (char *)"from-config";
	assert_int_equal(eval("exit 1", &s, &err), 0);
	assert_string_equal(s, "from-config");
	secret_free(s);
	A.password = NULL;
	A.auth = (char *)"EXTERNAL";
	assert_int_equal(eval("exit 1", &s, &err), 0);
	assert_string_equal(s, "");
	secret_free(s);
}

static void
test_keyring_no_bus(void **state)
{
	struct error err;
	struct stat st;
	char path[64], note[128], *s = NULL;
	const char *old = getenv("DBUS_SESSION_BUS_ADDRESS");
	char *saved = old != NULL ? strdup(old) : NULL;

	(void)state;
	/* tests/run-unit runs us where /run/user is private and empty. */
	snprintf(path, sizeof(path), "/run/user/%u/bus", (unsigned)getuid());
	if (stat(path, &st) == 0)
		fail_msg("%s exists: run the unit tests with tests/run-unit "
		    "(a private /run/user, tests/hermetic.py)", path);
	unsetenv("DBUS_SESSION_BUS_ADDRESS");
	error_clear(&err);
	note[0] = '\0';
	assert_int_equal(keyring_lookup("mail.example.org", "alice", 5, &s,
	    note, sizeof(note), &err), -1);
	assert_int_equal(error_exit_code(&err), 75);
	assert_non_null(strstr(err.msg, "keyring unreachable"));
	assert_non_null(strstr(err.msg, "DBUS_SESSION_BUS_ADDRESS"));
	assert_non_null(strstr(err.hint, "passwordeval"));
	if (saved != NULL) {
		setenv("DBUS_SESSION_BUS_ADDRESS", saved, 1);
		free(saved);
	}
}

static void
test_keyring_dead_bus(void **state)
{
	struct error err;
	char note[128], *s = NULL;
	const char *old = getenv("DBUS_SESSION_BUS_ADDRESS");
	char *saved = old != NULL ? strdup(old) : NULL;

	(void)state;
	/* A bus address nobody listens on: unreachable, quickly, no crash. */
	setenv("DBUS_SESSION_BUS_ADDRESS",
	    "unix:path=/nonexistent/smtpsend-test-bus", 1);
	error_clear(&err);
	note[0] = '\0';
	assert_true(keyring_lookup("mail.example.org", "alice", 5, &s, note,
	    sizeof(note), &err) <= 0);
	assert_null(s);
	if (note[0] == '\0') {
		assert_int_equal(error_exit_code(&err), 75);
		assert_non_null(strstr(err.msg, "keyring unreachable"));
	}
	if (saved != NULL)
		setenv("DBUS_SESSION_BUS_ADDRESS", saved, 1);
	else
		unsetenv("DBUS_SESSION_BUS_ADDRESS");
	free(saved);
}

static void
test_eval_sigchld_ignored(void **state)
{
	struct error err;
	char *s = NULL;

	(void)state;
	/* The status cannot be read: a failure (78), never a success. */
	signal(SIGCHLD, SIG_IGN);
	assert_int_equal(eval("echo Hunter2; exit 1", &s, &err), -1);
	signal(SIGCHLD, SIG_DFL);
	assert_null(s);
	assert_int_equal(error_exit_code(&err), 78);
	assert_non_null(strstr(err.msg, "passwordeval of account test"));
	assert_non_null(strstr(err.msg, "exit status"));
	assert_null(strstr(err.msg, "Hunter2"));
}

#define T(f)	cmocka_unit_test_setup(f, setup)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_eval_first_line),
		T(test_eval_long_token),
		T(test_eval_failures),
		T(test_eval_endless_output),
		T(test_eval_timeout),
		T(test_eval_stdin_devnull),
		T(test_eval_grandchild),
		T(test_order),
		T(test_keyring_no_bus),
		T(test_keyring_dead_bus),
		T(test_eval_sigchld_ignored),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
