/*
 * test_strbuf.c: appends, growth past the first allocation, printf, and
 * the sticky oom flag that makes later appends do nothing.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

static void
test_append(void **state)
{
	struct strbuf b = {0};

	(void)state;
	strbuf_str(&b, "From: ");
	strbuf_add(&b, "alice@example.org trailing", 17);
	strbuf_printf(&b, " <%d%s>", 42, "x");
	assert_non_null(b.p);
	assert_string_equal(b.p, "From: alice@example.org <42x>");
	assert_int_equal(b.len, strlen(b.p));
	assert_int_equal(b.oom, 0);
	strbuf_free(&b);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
}

/* Many small appends and one large printf cross several reallocations. */
static void
test_growth(void **state)
{
	struct strbuf b = {0};
	char big[5000];
	size_t i;

	(void)state;
	for (i = 0; i < 1000; i++)
		strbuf_add(&b, "abc", 3);
	assert_int_equal(b.len, 3000);
	for (i = 0; i < 1000; i++)
		assert_memory_equal(b.p + 3 * i, "abc", 3);
	memset(big, 'z', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	strbuf_printf(&b, "%s!", big);
	assert_int_equal(b.len, 3000 + 5000);
	assert_int_equal(b.p[b.len - 1], '!');
	assert_int_equal(b.p[b.len], '\0');
	assert_int_equal(b.p[3000], 'z');
	assert_true(b.cap > b.len);
	strbuf_free(&b);
}

/* After a failure nothing more is added, so the owner checks only once. */
static void
test_oom_sticks(void **state)
{
	struct strbuf b = {0};

	(void)state;
	strbuf_str(&b, "kept");
	/* A size that cannot be allocated fails before the bytes are read. */
	strbuf_add(&b, "", SIZE_MAX / 2);
	assert_int_equal(b.oom, 1);
	strbuf_str(&b, " dropped");
	strbuf_printf(&b, "%s", " dropped too");
	strbuf_add(&b, "x", 1);
	assert_string_equal(b.p, "kept");
	assert_int_equal(b.len, 4);
	strbuf_free(&b);
	assert_int_equal(b.oom, 0);
}

/* An empty string still allocates: the result is "", never NULL. */
static void
test_empty(void **state)
{
	struct strbuf b = {0};

	(void)state;
	strbuf_str(&b, "");
	assert_non_null(b.p);
	assert_string_equal(b.p, "");
	strbuf_free(&b);
	strbuf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_oom_sticks),
		cmocka_unit_test(test_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
