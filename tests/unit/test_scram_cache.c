/*
 * test_scram_cache.c: Nettle's PBKDF2 gives RFC 5802 / RFC 7677's
 * SaltedPassword; an entry comes back only for the same salt and count,
 * is a 0600 file without the SaltedPassword in it, and read with another
 * password gives another value.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "scram_cache.h"

static void
hex(const unsigned char *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

static void
test_compute_rfc_vectors(void **state)
{
	struct scram_entry e = { NULL, "h:1", "user", 1,
	    "W22ZaJ0SNY7soEsUEjb6gQ==", 4096, NULL, NULL, 0 };
	unsigned char sp[SCRAM_SP_MAX];
	char out[2 * SCRAM_SP_MAX + 1];

	(void)state;
	/* RFC 7677's example (SCRAM-SHA-256, password "pencil"). */
	assert_int_equal(scram_compute(&e, "pencil", sp), 0);
	hex(sp, scram_sp_len(&e), out);
	assert_string_equal(out, "c4a49510323ab4f952cac1fa99441939"
	    "e78ea74d6be81ddf7096e87513dc615d");
	/* RFC 5802's (SCRAM-SHA-1). */
	e.sha256 = 0;
	e.salt = "QSXCR+Q6sek8bf92";
	assert_int_equal(scram_compute(&e, "pencil", sp), 0);
	hex(sp, scram_sp_len(&e), out);
	assert_string_equal(out, "1d96ee3a529b5a5f9e47c01f229a2cb8a6e15f7d");
	e.salt = "not base64!";
	assert_int_equal(scram_compute(&e, "pencil", sp), -1);
}

static void
entry_file(const char *dir, char *path, size_t size)
{
	struct dirent *d;
	DIR *dp;

	path[0] = '\0';
	dp = opendir(dir);
	assert_non_null(dp);
	while ((d = readdir(dp)) != NULL)
		if (strncmp(d->d_name, "scram-", 6) == 0)
			snprintf(path, size, "%s/%s", dir, d->d_name);
	closedir(dp);
}

static void
test_cache_round_trip(void **state)
{
	char tmpl[] = "/tmp/test-scram-XXXXXX", dir[64], path[512], buf[512];
	char spx[2 * SCRAM_SP_MAX + 1];
	unsigned char sp[SCRAM_SP_MAX], got[SCRAM_SP_MAX];
	struct scram_kept kept = { 0 };
	struct scram_entry e;
	struct error err;
	struct stat st;
	FILE *fp;
	size_t n;

	(void)state;
	assert_non_null(mkdtemp(tmpl));
	snprintf(dir, sizeof(dir), "%s/sub/smtpsend", tmpl);
	memset(&e, 0, sizeof(e));
	e.dir = dir;
	e.server = "mail.example.org:587";
	e.user = "alice";
	e.sha256 = 1;
	e.salt = "W22ZaJ0SNY7soEsUEjb6gQ==";
	e.iter = 4096;
	assert_int_equal(scram_cache_get(&e, "pencil", got), 0);
	assert_int_equal(scram_compute(&e, "pencil", sp), 0);
	assert_int_equal(scram_cache_put(&e, "pencil", sp, &err), 0);
	assert_int_equal(scram_cache_get(&e, "pencil", got), 1);
	assert_memory_equal(got, sp, 32);

	/* A 0600 file in a 0700 directory, without the value in it. */
	entry_file(dir, path, sizeof(path));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	fp = fopen(path, "r");
	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	hex(sp, 32, spx);
	assert_null(strstr(buf, spx));

	/* Another password unwraps to another value. */
	assert_int_equal(scram_cache_get(&e, "pencil2", got), 1);
	assert_memory_not_equal(got, sp, 32);
	/* Another salt, count or user: not found. */
	e.iter = 8192;
	assert_int_equal(scram_cache_get(&e, "pencil", got), 0);
	e.iter = 4096;
	e.salt = "QSXCR+Q6sek8bf92";
	assert_int_equal(scram_cache_get(&e, "pencil", got), 0);
	e.salt = "W22ZaJ0SNY7soEsUEjb6gQ==";
	e.user = "bob";
	assert_int_equal(scram_cache_get(&e, "pencil", got), 0);
	e.user = "alice";

	/* A file others can read is not ours to trust. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(scram_cache_get(&e, "pencil", got), 0);
	assert_int_equal(chmod(path, 0600), 0);
	assert_int_equal(scram_cache_get(&e, "pencil", got), 1);

	/* A password from the keyring reads the item fetched with it, never
	   the file: the file's own line is the same format. */
	kept.keyring = 1;
	e.kept = &kept;
	e.host = "mail.example.org";
	e.port = 587;
	assert_int_equal(scram_cache_get(&e, "pencil", got), 0);
	kept.blob = strdup(buf);
	assert_non_null(kept.blob);
	assert_int_equal(scram_cache_get(&e, "pencil", got), 1);
	assert_memory_equal(got, sp, 32);
	e.iter = 8192;
	assert_int_equal(scram_cache_get(&e, "pencil", got), 0);
	e.iter = 4096;
	e.host = NULL;	/* a socket: nothing to name the item by */
	assert_int_equal(scram_cache_get(&e, "pencil", got), 0);
	scram_kept_free(&kept);
	assert_null(kept.blob);
	assert_int_equal(kept.keyring, 0);
	e.kept = NULL;
	e.host = NULL;

	scram_cache_drop(&e);
	assert_int_equal(scram_cache_get(&e, "pencil", got), 0);
	assert_int_equal(rmdir(dir), 0);
	snprintf(path, sizeof(path), "%s/sub", tmpl);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(tmpl), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compute_rfc_vectors),
		cmocka_unit_test(test_cache_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
