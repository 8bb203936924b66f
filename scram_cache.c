/*
 * scram_cache.c: SCRAM's SaltedPassword, computed with Nettle's PBKDF2
 * (two SHA compressions per iteration, and the CPU's SHA instructions
 * where it has them) and kept between runs.
 *
 * One file per server, user and hash: "v1 <iter> <salt> <hex>" where hex
 * is SaltedPassword XOR HMAC(password, what the entry is for).  The wrap
 * makes the file useless to whoever reads it without the password; there
 * is no check value in it on purpose, so it offers no cheap test of a
 * password guess either.  A wrong unwrap (the password was changed here)
 * only makes the server refuse, and auth.c then computes it again.
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

#include "fsutil.h"
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

static int
hex_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* A file only we can read and write, in a directory only we can write. */
static int
is_private(const struct stat *st)
{
	return st->st_uid == geteuid() && (st->st_mode & 077) == 0;
}

int
scram_cache_get(const struct scram_entry *e, const char *password,
    unsigned char *sp)
{
	char path[4096], buf[ENTRY_MAX + 1], iter[32];
	unsigned char key[SHA256_DIGEST_SIZE];
	size_t len = scram_sp_len(e), i, want;
	const char *hex;
	struct stat st;
	ssize_t n;
	int fd, hi, lo, found = 0;

	if (entry_path(e, path, sizeof(path)) == -1)
		return 0;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return 0;
	n = -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && is_private(&st))
		n = read(fd, buf, ENTRY_MAX);
	close(fd);
	if (n <= 0)
		goto done;
	buf[n] = '\0';
	/* "v1 <iter> <salt> <hex>\n": the salt and count must be today's. */
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
		hi = hex_nibble(hex[2 * i]);
		lo = hex_nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto done;
		sp[i] = (unsigned char)((hi << 4 | lo) ^ key[i]);
	}
	found = 1;
done:
	explicit_bzero(key, sizeof(key));
	explicit_bzero(buf, sizeof(buf));
	if (!found)
		explicit_bzero(sp, len);
	return found;
}

int
scram_cache_put(const struct scram_entry *e, const char *password,
    const unsigned char *sp)
{
	char path[4096], tmp[4096 + 16], buf[ENTRY_MAX];
	unsigned char key[SHA256_DIGEST_SIZE];
	size_t len = scram_sp_len(e), i, used;
	struct stat st;
	int fd = -1, n, ret = -1;

	if (entry_path(e, path, sizeof(path)) == -1)
		return -1;
	/* The directory is the TLS tickets' one: 0700 and ours. */
	if (fs_mkdirs(e->dir) == -1)
		return -1;
	if (stat(e->dir, &st) == -1 || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 022) != 0)
		return -1;
	n = snprintf(buf, sizeof(buf), "v1 %lu %s ", e->iter, e->salt);
	if (n < 0 || (size_t)n + 2 * len + 2 > sizeof(buf))
		return -1;
	used = (size_t)n;
	wrap_key(e, password, key);
	for (i = 0; i < len; i++) {
		snprintf(buf + used, 3, "%02x", (unsigned)(sp[i] ^ key[i]));
		used += 2;
	}
	buf[used++] = '\n';
	snprintf(tmp, sizeof(tmp), "%s/.scram.XXXXXX", e->dir);
	fd = mkstemp(tmp);	/* mode 0600 */
	if (fd == -1)
		goto done;
	if (fchmod(fd, 0600) == -1 || write(fd, buf, used) != (ssize_t)used) {
		unlink(tmp);
		goto done;
	}
	if (close(fd) == -1 || rename(tmp, path) == -1) {
		fd = -1;
		unlink(tmp);
		goto done;
	}
	fd = -1;
	ret = 0;
done:
	if (fd != -1)
		close(fd);
	explicit_bzero(key, sizeof(key));
	explicit_bzero(buf, sizeof(buf));
	return ret;
}

void
scram_cache_drop(const struct scram_entry *e)
{
	char path[4096];

	if (entry_path(e, path, sizeof(path)) == 0)
		unlink(path);
}
