/*
 * fuzz.h: helpers shared by the libFuzzer harnesses (tests/fuzz/).  Only
 * static inline functions, so each harness stays one translation unit.
 */
#ifndef SMTPSEND_FUZZ_H
#define SMTPSEND_FUZZ_H

#include <sys/mman.h>
#include <sys/stat.h>

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A broken invariant is a bug like a crash: say which one and abort, so
 * libFuzzer saves the input.
 */
#define FUZZ_ASSERT(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: invariant broken: %s\n",	\
		    __FILE__, __LINE__, #cond);				\
		abort();						\
	}								\
} while (0)

/*
 * FUZZ_LENIENT=1 in the environment makes the harnesses step around the
 * findings still open in tests/fuzz/README, so that fuzzing can go on past
 * them.  Off by default: an open finding fails the run.
 */
static inline int
fuzz_lenient(void)
{
	static int v = -1;

	if (v == -1)
		v = getenv("FUZZ_LENIENT") != NULL;
	return v;
}

/* A NUL-terminated copy of data (which may hold NULs itself). */
static inline char *
fuzz_strndup(const uint8_t *data, size_t size)
{
	char *s;

	if ((s = malloc(size + 1)) == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/*
 * An anonymous in-memory file holding data, mode 0600 (the config parser
 * refuses a password file others can read), rewound.  Its name for
 * fopen() is written to path.  Returns the fd; aborts on failure (that
 * is the harness's fault, not the input's).
 */
static inline int
fuzz_memfile(const uint8_t *data, size_t size, char *path, size_t pathsize)
{
	ssize_t n;
	size_t off = 0;
	int fd;

	if ((fd = memfd_create("fuzz", MFD_CLOEXEC)) == -1)
		abort();
	while (off < size) {
		n = write(fd, data + off, size - off);
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
	if (fchmod(fd, 0600) == -1 || lseek(fd, 0, SEEK_SET) == -1)
		abort();
	snprintf(path, pathsize, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
