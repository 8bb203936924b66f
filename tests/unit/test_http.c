/*
 * test_http.c: the form encoder that carries tokens, codes and secrets to
 * the OAuth2 endpoints (RFC 6749 appendix B: application/x-www-form-
 * urlencoded), including the buffer limit.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "http.h"

static void
test_form_encoding(void **state)
{
	char buf[256] = "";

	(void)state;
	assert_int_equal(http_form_add(buf, sizeof(buf), "grant_type",
	    "refresh_token"), 0);
	assert_string_equal(buf, "grant_type=refresh_token");
	/* Reserved characters of tokens and URLs are percent-encoded; the
	   unreserved ones (ALPHA DIGIT - . _ ~) are not. */
	assert_int_equal(http_form_add(buf, sizeof(buf), "redirect_uri",
	    "http://127.0.0.1:8080/?a=b&c"), 0);
	assert_int_equal(http_form_add(buf, sizeof(buf), "scope",
	    "https://outlook.office.com/SMTP.Send offline_access"), 0);
	assert_int_equal(http_form_add(buf, sizeof(buf), "t", "a+b/c=~-._"),
	    0);
	assert_string_equal(buf, "grant_type=refresh_token"
	    "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2F%3Fa%3Db%26c"
	    "&scope=https%3A%2F%2Foutlook.office.com%2FSMTP.Send%20"
	    "offline_access&t=a%2Bb%2Fc%3D~-._");
}

static void
test_form_limit(void **state)
{
	char buf[16] = "";

	(void)state;
	assert_int_equal(http_form_add(buf, sizeof(buf), "a", "0123456789"),
	    0);
	assert_string_equal(buf, "a=0123456789");
	/* No room: refused, never a silently cut token. */
	assert_int_equal(http_form_add(buf, sizeof(buf), "b", "xy"), -1);
	buf[0] = '\0';
	assert_int_equal(http_form_add(buf, sizeof(buf), "a", "/////"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_form_encoding),
		cmocka_unit_test(test_form_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
