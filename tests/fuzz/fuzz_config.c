/*
 * fuzz_config.c: the configuration file parser (config_load) on an
 * in-memory file, with a fixed config_env (no DNS: fqdn is given; no
 * system or user file: a path is passed), then the lookups callers make.
 *
 * config.c runs "sh -c" for a line whose keyword is "eval" (see
 * run_eval/parse_line there).  The harness must never run commands, so an
 * input with such a line is skipped before config_load sees it.
 * passwordeval is only stored by config_load (secret.c runs it), so it
 * stays in play.
 */
#include <string.h>

#include "config.h"
#include "error.h"
#include "fuzz.h"

/*
 * 1 if some line's keyword could be "eval" as parse_line reads it (blanks
 * skipped, keyword ended by a blank or the end of the line).  Lines split
 * at '\n' as getline does; a keyword merely starting with "eval" is
 * refused too, to stay on the safe side.
 */
static int
has_eval(const uint8_t *data, size_t size)
{
	size_t i = 0;

	while (i < size) {
		while (i < size && (data[i] == ' ' || data[i] == '\t'))
			i++;
		if (size - i >= 4 && memcmp(data + i, "eval", 4) == 0)
			return 1;
		while (i < size && data[i] != '\n')
			i++;
		i++;
	}
	return 0;
}

static void
use(const struct config *cf)
{
	static FILE *devnull;
	const struct account *acc;
	const char *const *files;
	struct error err;
	char *from;

	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		abort();
	files = config_files(cf);
	FUZZ_ASSERT(files != NULL && files[0] != NULL);
	error_clear(&err);
	acc = config_account(cf, "default", &err);
	if (acc == NULL)
		acc = config_account_for_from(cf, "user@example.org");
	if (acc == NULL)
		return;
	FUZZ_ASSERT(acc->name != NULL && acc->domain != NULL);
	FUZZ_ASSERT(config_port(acc) > 0 && config_port(acc) < 65536);
	(void)config_starttls(acc);
	(void)config_auth(acc);
	config_print_account(acc, devnull);
	error_clear(&err);
	from = NULL;
	if (config_from(acc, "header@example.org", &from, &err) == 0 &&
	    from != NULL)
		FUZZ_ASSERT(strstr(from, "%F") == NULL);
	free(from);
	from = NULL;
	(void)config_from(acc, NULL, &from, &err);
	free(from);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_env env;
	struct config *cf = NULL;
	struct error err;
	char path[64];
	int fd, rc;

	if (size > 16384 || has_eval(data, size))
		return 0;
	memset(&env, 0, sizeof(env));
	env.user = "fuzz";
	env.home = "/nonexistent-fuzz-home";
	env.hostname = "host";
	env.fqdn = "host.example.org";
	env.mailname = "example.org";
	env.uid = (unsigned int)getuid();
	env.system_file = "/nonexistent-fuzz-smtprc";
	env.msmtp_system_file = "/nonexistent-fuzz-msmtprc";
	fd = fuzz_memfile(data, size, path, sizeof(path));
	error_clear(&err);
	rc = config_load(&cf, path, &env, &err);
	if (rc == 0) {
		FUZZ_ASSERT(cf != NULL);
		use(cf);
	} else {
		FUZZ_ASSERT(cf == NULL);
		FUZZ_ASSERT(err.kind != ERR_NONE && err.msg[0] != '\0');
	}
	config_free(cf);
	close(fd);
	return 0;
}
