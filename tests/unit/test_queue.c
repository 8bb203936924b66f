/*
 * test_queue.c: the envelope file format (round trip; truncated, corrupt
 * and foreign files refused with a clear error), the backoff arithmetic,
 * queue_lifetime durations, and on a real directory: a queued entry's
 * files and modes, a damaged envelope left in place by a flush, and the
 * per-message lock that makes a second flush keep its hands off; the
 * list of every queue directory of a configuration, and where a send
 * spools its message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/file.h>
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "address.h"
#include "config.h"
#include "envelope.h"
#include "error.h"
#include "message.h"
#include "queue.h"

/* String literals into the envelope's char * fields (never written). */
#define S(s) ((char *)(uintptr_t)(s))

static char *rcpts[2];

static void
sample(struct envelope *e)
{
	memset(e, 0, sizeof(*e));
	rcpts[0] = S("bob@example.com");
	rcpts[1] = S("carol@example.net");
	e->id = S("06B0EEF5480E228");
	e->account = S("work");
	e->sender = S("alice@example.org");
	e->rcpts = rcpts;
	e->nrcpts = 2;
	e->dsn_notify = S("SUCCESS,FAILURE");
	e->body_type = 8;
	e->eightbit = 1;
	e->separator = 1;
	e->queued = 1764604800;
	e->attempts = 3;
	e->next = 1764605040;
	e->state = ENVELOPE_UNCERTAIN;
	e->last_error = S("451 4.3.0 try\r\nlater");
	e->body_size = 12345;
	e->headers = S("Subject: hi\r\nFrom: alice@example.org\r\n");
	e->headers_len = strlen(e->headers);
}

static void
test_round_trip(void **state)
{
	struct envelope in, out;
	struct error err;
	char *buf;
	size_t len;

	(void)state;
	sample(&in);
	error_clear(&err);
	assert_int_equal(envelope_format(&in, &buf, &len, &err), 0);
	/* A human reads it: one field per line. */
	assert_non_null(strstr(buf, "\nrecipient: <carol@example.net>\n"));
	assert_non_null(strstr(buf, "\nqueued: 2025-12-01T16:00:00Z\n"));
	assert_int_equal(envelope_parse(&out, buf, len, &err), 0);
	assert_string_equal(out.id, in.id);
	assert_string_equal(out.account, "work");
	assert_string_equal(out.sender, "alice@example.org");
	assert_int_equal(out.nrcpts, 2);
	assert_string_equal(out.rcpts[1], "carol@example.net");
	assert_string_equal(out.dsn_notify, "SUCCESS,FAILURE");
	assert_null(out.dsn_return);
	assert_int_equal(out.body_type, 8);
	assert_int_equal(out.eightbit, 1);
	assert_int_equal(out.separator, 1);
	assert_int_equal(out.queued, in.queued);
	assert_int_equal(out.next, in.next);
	assert_int_equal(out.attempts, 3);
	assert_int_equal(out.state, ENVELOPE_UNCERTAIN);
	/* Line ends in a server reply cannot break the file. */
	assert_string_equal(out.last_error, "451 4.3.0 try  later");
	assert_int_equal(out.body_size, 12345);
	assert_int_equal(out.headers_len, in.headers_len);
	assert_memory_equal(out.headers, in.headers, in.headers_len);
	envelope_free(&out);
	free(buf);
}

static void
test_null_sender(void **state)
{
	struct envelope in, out;
	struct error err;
	char *buf;
	size_t len;

	(void)state;
	sample(&in);
	in.sender = S("");
	error_clear(&err);
	assert_int_equal(envelope_format(&in, &buf, &len, &err), 0);
	assert_non_null(strstr(buf, "\nsender: <>\n"));
	assert_int_equal(envelope_parse(&out, buf, len, &err), 0);
	assert_string_equal(out.sender, "");
	envelope_free(&out);
	free(buf);
}

static void
test_control_refused(void **state)
{
	struct envelope in;
	struct error err;
	char *buf;
	size_t len;

	(void)state;
	sample(&in);
	in.rcpts = (char *[]){ S("bob@example.com\nrecipient: <evil@x>") };
	in.nrcpts = 1;
	error_clear(&err);
	assert_int_equal(envelope_format(&in, &buf, &len, &err), -1);
	assert_int_equal(err.kind, ERR_DATA);
}

/* Every cut of a good file is refused: never a half envelope. */
static void
test_truncated(void **state)
{
	struct envelope in, out;
	struct error err;
	char *buf;
	size_t len, cut;

	(void)state;
	sample(&in);
	error_clear(&err);
	assert_int_equal(envelope_format(&in, &buf, &len, &err), 0);
	for (cut = 0; cut < len; cut++) {
		error_clear(&err);
		assert_int_equal(envelope_parse(&out, buf, cut, &err), -1);
		assert_int_equal(err.kind, ERR_DATA);
		assert_true(err.msg[0] != '\0');
	}
	free(buf);
}

static void
test_corrupt(void **state)
{
	static const char *bad[] = {
		"version: 2\nid: A\naccount: a\nsender: <>\nrecipient: <b@c>\n"
		    "header-size: 0\nend\n\n",
		"version: 1\nid: A\naccount: a\nsender: x@y\nrecipient: <b@c>\n"
		    "header-size: 0\nend\n\n",
		"version: 1\nid: A\naccount: a\nsender: <>\n"
		    "header-size: 0\nend\n\n",
		"version: 1\nid: A\naccount: a\nsender: <>\nrecipient: <b@c>\n"
		    "attempts: -1\nheader-size: 0\nend\n\n",
		"version: 1\nid: A\naccount: a\nsender: <>\nrecipient: <b@c>\n"
		    "colour: blue\nheader-size: 0\nend\n\n",
		"version: 1\nid: A\naccount: a\nsender: <>\nrecipient: <b@c>\n"
		    "header-size: 3\nend\n\nSubject: x\r\n",
		"garbage\n",
	};
	struct envelope out;
	struct error err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		error_clear(&err);
		assert_int_equal(envelope_parse(&out, bad[i], strlen(bad[i]),
		    &err), -1);
		assert_int_equal(err.kind, ERR_DATA);
	}
	error_clear(&err);
	assert_int_equal(envelope_parse(&out, bad[0] + 0, 0, &err), -1);
}

static void
test_backoff(void **state)
{
	(void)state;
	assert_int_equal(envelope_backoff(1), 60);
	assert_int_equal(envelope_backoff(2), 120);
	assert_int_equal(envelope_backoff(3), 240);
	assert_int_equal(envelope_backoff(6), 1920);
	assert_int_equal(envelope_backoff(7), 3600);
	assert_int_equal(envelope_backoff(100), 3600);
	assert_int_equal(envelope_backoff(4000000000u), 3600);
}

static void
test_duration(void **state)
{
	long long s;

	(void)state;
	assert_int_equal(envelope_duration("5d", &s), 0);
	assert_int_equal(s, 432000);
	assert_int_equal(envelope_duration("90s", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(envelope_duration("2h", &s), 0);
	assert_int_equal(s, 7200);
	assert_int_equal(envelope_duration("30m", &s), 0);
	assert_int_equal(s, 1800);
	assert_int_equal(envelope_duration("5", &s), -1);
	assert_int_equal(envelope_duration("d", &s), -1);
	assert_int_equal(envelope_duration("-1d", &s), -1);
	assert_int_equal(envelope_duration("0s", &s), -1);
	assert_int_equal(envelope_duration("5w", &s), -1);
}

/* ---- on a real directory ---- */

struct fixture {
	char		 dir[64];
	char		 qdir[96];
	char		 rc[96];
	struct config	*cf;
	struct config_env env;
	char		 id[QUEUE_ID_MAX];
};

static int
setup(void **state)
{
	static const char text[] = "Subject: queued\nFrom: a@example.org\n\n"
	    "body line\n";
	struct fixture *f = calloc(1, sizeof(*f));
	struct addr_list l = { 0 };
	struct queue_item item;
	struct message *m = NULL;
	struct error err;
	int p[2], fd;
	FILE *fp;

	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_queue.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->qdir, sizeof(f->qdir), "%s/q/ueue", f->dir);
	snprintf(f->rc, sizeof(f->rc), "%s/rc", f->dir);
	fd = open(f->rc, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd != -1);
	fp = fdopen(fd, "w");
	fprintf(fp, "account other\nhost 127.0.0.1\nport 1\ntls off\n");
	fclose(fp);
	error_clear(&err);
	f->env.user = "tester";
	f->env.home = f->dir;
	f->env.hostname = "host";
	f->env.fqdn = "host.example";
	f->env.uid = getuid();
	f->env.system_file = "/nonexistent";
	f->env.msmtp_system_file = "/nonexistent";
	assert_int_equal(config_load(&f->cf, f->rc, &f->env, &err), 0);
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], text, sizeof(text) - 1),
	    (ssize_t)sizeof(text) - 1);
	close(p[1]);
	assert_int_equal(message_read(&m, p[0], f->dir, &err), 0);
	close(p[0]);
	assert_int_equal(addr_list_add(&l, "bob@example.com", NULL, &err), 0);
	memset(&item, 0, sizeof(item));
	/* An account the configuration does not have: a flush defers. */
	item.acc = &(struct account){ .name = S("gone") };
	item.from = "a@example.org";
	item.rcpts = &l;
	item.reason = "test";
	assert_int_equal(queue_put(f->qdir, m, &item, f->id, &err), 0);
	message_free(m);
	addr_list_free(&l);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	char cmd[128];

	config_free(f->cf);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static char *
slurp(const char *path)
{
	static char buf[8192];
	FILE *fp = fopen(path, "r");
	size_t n;

	if (fp == NULL)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static void
test_put_files(void **state)
{
	struct fixture *f = *state;
	char path[256];
	struct stat st;
	char *s;

	assert_int_equal(stat(f->qdir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	snprintf(path, sizeof(path), "%s/%s.body", f->qdir, f->id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(st.st_size, strlen("body line\r\n"));
	snprintf(path, sizeof(path), "%s/%s.env", f->qdir, f->id);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	s = slurp(path);
	assert_non_null(strstr(s, "\naccount: gone\n"));
	assert_non_null(strstr(s, "\nattempts: 0\n"));
	assert_non_null(strstr(s, "\nSubject: queued\r\n"));
}

static int
flush(struct fixture *f)
{
	struct queue_flush_opts o;
	struct error err;
	int ret;

	memset(&o, 0, sizeof(o));
	o.cf = f->cf;
	o.force = 1;
	error_clear(&err);
	{
		char *dirs[] = { f->qdir };

		ret = queue_flush(dirs, 1, &o, &err);
	}
	return ret;
}

static void
test_lock(void **state)
{
	struct fixture *f = *state;
	char path[256];
	int fd;

	snprintf(path, sizeof(path), "%s/%s.body", f->qdir, f->id);
	fd = open(path, O_RDONLY);
	assert_true(fd != -1);
	assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0);
	/* Locked by "another flush": this one leaves it alone. */
	assert_int_equal(flush(f), 0);
	snprintf(path, sizeof(path), "%s/%s.env", f->qdir, f->id);
	assert_non_null(strstr(slurp(path), "\nattempts: 0\n"));
	close(fd);
	/* Unlocked: tried (the account is gone), counted, backed off. */
	assert_int_equal(flush(f), 0);
	assert_non_null(strstr(slurp(path), "\nattempts: 1\n"));
	assert_non_null(strstr(slurp(path), "last-error: no account 'gone'"));
}

static void
test_damaged_left(void **state)
{
	struct fixture *f = *state;
	char path[256], before[8192];
	struct stat st;
	FILE *fp;
	char *s;

	snprintf(path, sizeof(path), "%s/%s.env", f->qdir, f->id);
	s = slurp(path);
	snprintf(before, sizeof(before), "%s", s);
	/* Cut inside the header block. */
	assert_int_equal(truncate(path, (off_t)strlen(before) - 5), 0);
	assert_int_equal(flush(f), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, (off_t)strlen(before) - 5);
	assert_int_equal(strncmp(slurp(path), before, strlen(before) - 5), 0);
	/* Listed as damaged, not hidden. */
	fp = tmpfile();
	{
		struct error err;
		char out[4096];
		size_t n;

		error_clear(&err);
		char *dirs[] = { f->qdir };

		assert_int_equal(queue_list(dirs, 1, fp, &err), 0);
		rewind(fp);
		n = fread(out, 1, sizeof(out) - 1, fp);
		out[n] = '\0';
		assert_non_null(strstr(out, f->id));
		assert_non_null(strstr(out, "damaged"));
	}
	fclose(fp);
}

/* Litter a crash leaves is swept once an hour old, and only then. */
static void
test_sweep(void **state)
{
	struct fixture *f = *state;
	char orphan[256], fresh[256], tmpf[256], body[256];
	struct timespec ts[2];
	int fd;

	snprintf(orphan, sizeof(orphan), "%s/0000000000ABCDE.body", f->qdir);
	snprintf(fresh, sizeof(fresh), "%s/0000000000ABCDF.body", f->qdir);
	snprintf(tmpf, sizeof(tmpf), "%s/tmp/0000000000ABCDE.env.1", f->qdir);
	snprintf(body, sizeof(body), "%s/%s.body", f->qdir, f->id);
	fd = open(orphan, O_WRONLY | O_CREAT, 0600);
	close(fd);
	fd = open(fresh, O_WRONLY | O_CREAT, 0600);
	close(fd);
	fd = open(tmpf, O_WRONLY | O_CREAT, 0600);
	close(fd);
	ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 7200;
	ts[0].tv_nsec = ts[1].tv_nsec = 0;
	assert_int_equal(utimensat(AT_FDCWD, orphan, ts, 0), 0);
	assert_int_equal(utimensat(AT_FDCWD, tmpf, ts, 0), 0);
	/* The queued message's body is as old, but it has its envelope. */
	assert_int_equal(utimensat(AT_FDCWD, body, ts, 0), 0);
	assert_int_equal(flush(f), 0);
	assert_int_equal(access(orphan, F_OK), -1);
	assert_int_equal(access(tmpf, F_OK), -1);
	assert_int_equal(access(fresh, F_OK), 0);
	assert_int_equal(access(body, F_OK), 0);
}

/*
 * Every queue directory, each once: the first account's, every account's
 * in order (a name given twice, or another name of the same directory,
 * counts once), then the default one.
 */
static void
test_all_dirs(void **state)
{
	struct fixture *f = *state;
	struct config *cf = NULL;
	struct error err;
	char rc[160], a[100], b[100], alias[100], want[160];
	char **dirs;
	size_t n;
	FILE *fp;

	snprintf(a, sizeof(a), "%s/qa", f->dir);
	snprintf(b, sizeof(b), "%s/qb", f->dir);
	snprintf(alias, sizeof(alias), "%s/alias", f->dir);
	assert_int_equal(mkdir(a, 0700), 0);
	assert_int_equal(symlink(a, alias), 0);
	snprintf(rc, sizeof(rc), "%s/rc2", f->dir);
	fp = fopen(rc, "w");
	assert_non_null(fp);
	fprintf(fp, "defaults\nhost h\naccount one\nqueue_dir %s\n"
	    "account two\nqueue_dir %s\naccount three\nqueue_dir %s\n"
	    "account four\nqueue_dir %s\naccount five\n"
	    "account default : two\n", a, b, a, alias);
	fclose(fp);
	assert_int_equal(chmod(rc, 0600), 0);
	error_clear(&err);
	assert_int_equal(config_load(&cf, rc, &f->env, &err), 0);
	assert_int_equal(setenv("SMTPSEND_QUEUE_DIR", f->qdir, 1), 0);
	assert_int_equal(queue_all_dirs(cf, config_account(cf, "default",
	    &err), f->dir, &dirs, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_string_equal(dirs[0], b);
	assert_string_equal(dirs[1], a);
	assert_string_equal(dirs[2], f->qdir);
	queue_dirs_free(dirs, n);
	/* No configuration: the default directory alone. */
	assert_int_equal(queue_all_dirs(NULL, NULL, f->dir, &dirs, &n, &err),
	    0);
	assert_int_equal(n, 1);
	assert_string_equal(dirs[0], f->qdir);
	queue_dirs_free(dirs, n);
	/* The spool goes to the account's queue's tmp/, made if missing;
	   not with the queue off. */
	assert_int_equal(queue_spool_dir(config_account(cf, "two", &err),
	    f->dir, want, sizeof(want)), 0);
	snprintf(rc, sizeof(rc), "%s/tmp", b);
	assert_string_equal(want, rc);
	assert_int_equal(access(rc, W_OK), 0);
	assert_int_equal(queue_spool_dir(&(struct account){ .queue = CFG_OFF },
	    f->dir, want, sizeof(want)), -1);
	assert_int_equal(queue_spool_dir(NULL, f->dir, want, sizeof(want)),
	    -1);
	assert_int_equal(unsetenv("SMTPSEND_QUEUE_DIR"), 0);
	config_free(cf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_null_sender),
		cmocka_unit_test(test_control_refused),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_corrupt),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_duration),
		cmocka_unit_test_setup_teardown(test_put_files, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_left, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_sweep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_all_dirs, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
