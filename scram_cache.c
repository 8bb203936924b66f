/*
 * scram_cache.c: SCRAM's SaltedPassword, computed with Nettle's PBKDF2
 * (two SHA compressions per iteration, and the CPU's SHA instructions
 * where it has them) and kept between runs.
 *
 * One entry per server, user and hash: "v1 <iter> <salt> <hex>" where hex
 * is SaltedPassword XOR HMAC(password, what the entry is for).  The wrap
 * makes a file useless to whoever reads it without the password; there
 * is no check value in it on purpose, so it offers no cheap test of a
 * password guess either.  A wrong unwrap (the password was changed here)
 * only makes the server refuse, and auth.c then computes it again.
 *
 * The entry lives where the password does.  A password from the keyring
 * gets a keyring item (keyring.h), fetched by the same child that fetched
 * the password, so that reading it costs no process and no bus round
 * trip; writing it (missing or stale) takes another keyring child.  Any
 * other password gets a 0600 file in the cache directory.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nettle/base64.h>
#include <nettle/hmac.h>
#include <nettle/pbkdf2.h>
#include <nettle/sha1.h>
#include <nettle/sha2.h>

#include "error.h"
#include "fsutil.h"
#include "hex.h"
#include "keyring.h"
#include "scram_cache.h"

#define SALT_MAX	256	/* decoded salt bytes we accept */
#define ENTRY_MAX	1024

size_t
scram_sp_len(const struct scram_entry *e)
{
	return e->sha256 ? SHA256_DIGEST_SIZE : SHA1_DIGEST_SIZE;
}

int
scram_compute(const struct scram_entry *e, const char *password,
    unsigned char *sp)
{
	struct base64_decode_ctx ctx;
	unsigned char salt[SALT_MAX];
	size_t saltlen = sizeof(salt), b64len = strlen(e->salt);

	/* Decoding never writes more than 3/4 of the input. */
	if (b64len > (SALT_MAX / 3) * 4)
		return -1;
	base64_decode_init(&ctx);
	if (!base64_decode_update(&ctx, &saltlen, salt, b64len,
	    e->salt) || !base64_decode_final(&ctx) || e->iter == 0)
		return -1;
	if (e->sha256)
		pbkdf2_hmac_sha256(strlen(password),
		    (const uint8_t *)password, e->iter, saltlen, salt,
		    SHA256_DIGEST_SIZE, sp);
	else
		pbkdf2_hmac_sha1(strlen(password), (const uint8_t *)password,
		    e->iter, saltlen, salt, SHA1_DIGEST_SIZE, sp);
	explicit_bzero(salt, sizeof(salt));
	return 0;
}

/* dir/scram-<sha256 of hash, server and user, 16 hex>: never a raw name. */
static int
entry_path(const struct scram_entry *e, char *path, size_t size)
{
	struct sha256_ctx h;
	unsigned char md[SHA256_DIGEST_SIZE];
	int n;

	if (e->dir == NULL || e->dir[0] == '\0')
		return -1;
	sha256_init(&h);
	sha256_update(&h, 4, (const uint8_t *)(e->sha256 ? "256" : "1\0\0"));
	sha256_update(&h, strlen(e->server) + 1, (const uint8_t *)e->server);
	sha256_update(&h, strlen(e->user) + 1, (const uint8_t *)e->user);
	sha256_digest(&h, sizeof(md), md);
	n = snprintf(path, size, "%s/scram-%02x%02x%02x%02x%02x%02x%02x%02x",
	    e->dir, md[0], md[1], md[2], md[3], md[4], md[5], md[6], md[7]);
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* The wrapping key: HMAC-SHA-256(password, everything the entry is for). */
static void
wrap_key(const struct scram_entry *e, const char *password,
    unsigned char *key)
{
	struct hmac_sha256_ctx h;
	char iter[32];

	snprintf(iter, sizeof(iter), "%lu", e->iter);
	hmac_sha256_set_key(&h, strlen(password), (const uint8_t *)password);
	hmac_sha256_update(&h, 24, (const uint8_t *)"smtpsend scram cache v1");
	hmac_sha256_update(&h, 4, (const uint8_t *)(e->sha256 ? "256" : "1\0\0"));
	hmac_sha256_update(&h, strlen(e->server) + 1,
	    (const uint8_t *)e->server);
	hmac_sha256_update(&h, strlen(e->user) + 1, (const uint8_t *)e->user);
	hmac_sha256_update(&h, strlen(e->salt) + 1, (const uint8_t *)e->salt);
	hmac_sha256_update(&h, strlen(iter) + 1, (const uint8_t *)iter);
	hmac_sha256_digest(&h, SHA256_DIGEST_SIZE, key);
	explicit_bzero(&h, sizeof(h));
}

/* A file only we can read and write, in a directory only we can write. */
static int
is_private(const struct stat *st)
{
	return st->st_uid == geteuid() && (st->st_mode & 077) == 0;
}

static int
in_keyring(const struct scram_entry *e)
{
	return e->kept != NULL && e->kept->keyring;
}

static void
free_blob(struct scram_kept *k)
{
	if (k->blob != NULL) {
		explicit_bzero(k->blob, strlen(k->blob));
		free(k->blob);
	}
	k->blob = NULL;
}

void
scram_kept_free(struct scram_kept *k)
{
	if (k == NULL)
		return;
	free_blob(k);
	memset(k, 0, sizeof(*k));
}

/*
 * An entry "v1 <iter> <salt> <hex>\n" (the file's content, or the keyring
 * item's value): 1 with sp unwrapped when it is for today's salt and count.
 */
static int
parse_entry(const struct scram_entry *e, const char *password,
    const char *buf, unsigned char *sp)
{
	unsigned char key[SHA256_DIGEST_SIZE];
	size_t len = scram_sp_len(e), i, want;
	const char *hex;
	char iter[32];
	int hi, lo, found = 0;

	snprintf(iter, sizeof(iter), "v1 %lu ", e->iter);
	want = strlen(iter);
	if (strncmp(buf, iter, want) != 0 ||
	    strncmp(buf + want, e->salt, strlen(e->salt)) != 0 ||
	    buf[want + strlen(e->salt)] != ' ')
		goto done;
	hex = buf + want + strlen(e->salt) + 1;
	if (strlen(hex) != 2 * len + 1 || hex[2 * len] != '\n')
		goto done;
	wrap_key(e, password, key);
	for (i = 0; i < len; i++) {
		hi = hex_value(hex[2 * i]);
		lo = hex_value(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto done;
		sp[i] = (unsigned char)((hi << 4 | lo) ^ key[i]);
	}
	found = 1;
done:
	explicit_bzero(key, sizeof(key));
	if (!found)
		explicit_bzero(sp, len);
	return found;
}

/* The entry for sp into buf; its length, or 0 when buf is too small. */
static size_t
format_entry(const struct scram_entry *e, const char *password,
    const unsigned char *sp, char *buf, size_t size)
{
	unsigned char key[SHA256_DIGEST_SIZE];
	size_t len = scram_sp_len(e), i, used;
	int n;

	n = snprintf(buf, size, "v1 %lu %s ", e->iter, e->salt);
	if (n < 0 || (size_t)n + 2 * len + 2 > size)
		return 0;
	used = (size_t)n;
	wrap_key(e, password, key);
	for (i = 0; i < len; i++) {
		snprintf(buf + used, 3, "%02x", (unsigned)(sp[i] ^ key[i]));
		used += 2;
	}
	explicit_bzero(key, sizeof(key));
	buf[used++] = '\n';
	buf[used] = '\0';
	return used;
}

int
scram_cache_get(const struct scram_entry *e, const char *password,
    unsigned char *sp)
{
	char path[4096], buf[ENTRY_MAX + 1];
	struct stat st;
	ssize_t n;
	int fd, found = 0;

	/* In the keyring: fetched with the password, no I/O here. */
	if (in_keyring(e))
		return e->host != NULL && e->kept->blob != NULL &&
		    parse_entry(e, password, e->kept->blob, sp);
	if (entry_path(e, path, sizeof(path)) == -1)
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && is_private(&st))
		n = read(fd, buf, ENTRY_MAX);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		found = parse_entry(e, password, buf, sp);
	}
	explicit_bzero(buf, sizeof(buf));
	return found;
}

/* The keyring's item replaced; no file is left for this server and user. */
static int
put_keyring(const struct scram_entry *e, const char *buf, struct error *err)
{
	char path[4096], *copy;

	if (e->host == NULL)
		return error_set(err, ERR_CONFIG, "no host name to keep the "
		    "SCRAM salted password under");
	if (keyring_scram_store(e->host, e->port, e->user, e->sha256 ?
	    "SCRAM-SHA-256" : "SCRAM-SHA-1", buf, e->kept->timeout,
	    err) == -1)
		return -1;
	copy = strdup(buf);
	free_blob(e->kept);
	e->kept->blob = copy;	/* NULL: the next AUTH computes it again */
	if (entry_path(e, path, sizeof(path)) == 0)
		(void)unlink(path);
	return 0;
}

static int
put_file(const struct scram_entry *e, const char *buf, size_t used,
    struct error *err)
{
	char path[4096], tmp[4096 + 16];
	struct stat st;
	int fd;

	if (entry_path(e, path, sizeof(path)) == -1)
		return error_set(err, ERR_IO, "no cache directory");
	/* The directory is the TLS tickets' one: 0700 and ours. */
	if (fs_mkdirs(e->dir) == -1 || stat(e->dir, &st) == -1 ||
	    !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 022) != 0)
		return error_set(err, ERR_IO, "%s is not a private directory",
		    e->dir);
	snprintf(tmp, sizeof(tmp), "%s/.scram.XXXXXX", e->dir);
	fd = mkstemp(tmp);	/* mode 0600 */
	if (fd == -1)
		return error_set(err, ERR_IO, "%s: %s", e->dir,
		    strerror(errno));
	if (fchmod(fd, 0600) == -1 || write(fd, buf, used) != (ssize_t)used) {
		close(fd);
		unlink(tmp);
		return error_set(err, ERR_IO, "%s: %s", tmp, strerror(errno));
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		unlink(tmp);
		return error_set(err, ERR_IO, "%s: %s", path, strerror(errno));
	}
	return 0;
}

int
scram_cache_put(const struct scram_entry *e, const char *password,
    const unsigned char *sp, struct error *err)
{
	char buf[ENTRY_MAX];
	size_t used;
	int rc;

	used = format_entry(e, password, sp, buf, sizeof(buf));
	if (used == 0)
		return error_set(err, ERR_INTERNAL, "SCRAM salt too long");
	if (in_keyring(e))
		rc = put_keyring(e, buf, err);
	else
		rc = put_file(e, buf, used, err);
	explicit_bzero(buf, sizeof(buf));
	return rc;
}

void
scram_cache_drop(const struct scram_entry *e)
{
	struct error ignored;
	char path[4096];

	if (in_keyring(e)) {
		if (e->host != NULL)
			(void)keyring_scram_clear(e->host, e->port, e->user,
			    e->kept->timeout, &ignored);
		free_blob(e->kept);
		return;
	}
	if (entry_path(e, path, sizeof(path)) == 0)
		unlink(path);
}
