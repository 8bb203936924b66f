/*
 * config.c: ~/.smtprc in msmtp's ~/.msmtprc grammar: reading the files,
 * sections, inheritance, eval, the permission check, and loading the
 * system and user files into one struct config.  The keyword table and
 * what each value means are in config_keyword.c; the environment, the
 * effective values and choosing an account are in config_account.c.
 *
 * A file is a list of lines "keyword [value]".  Blank lines and lines whose
 * first non-blank character is '#' are comments; '#' anywhere else is data
 * (msmtp does the same, and passwordeval commands need it).  A value that
 * starts and ends with '"' loses those two quotes and nothing else: msmtp
 * 1.8 has no escapes inside quotes, so neither do we ("a\"b" is a\"b).
 * "defaults" starts a section whose settings apply to the accounts defined
 * after it in the same file; "account NAME [: P1, P2...]" starts an account
 * from the current defaults, then copies what each parent set explicitly,
 * in order; the account's own lines come last.  Lines before any section
 * belong to an account named "default", as in msmtp.
 *
 * Where we differ from msmtp on purpose: tls is on by default, the port
 * defaults to 587 (465 with tls_starttls off), timeout to 60 s, and an
 * account with a user but no auth line authenticates ("auth on").  %F in
 * from (msmtp 1.8.29: the address of the message's From header) is left
 * for config_from() at send time.  A file holding a password must be owned
 * by the user with no group/other access (msmtp's rule); the system file
 * may instead be owned by root and readable by its group, never by others.
 *
 * Which files: /etc/smtprc, or msmtp's /etc/msmtprc when there is no
 * /etc/smtprc (a system file this user cannot read is skipped, as msmtp
 * does); then the first of ~/.smtprc, ~/.msmtprc, ~/.config/msmtp/config
 * (msmtp's order).  With -C, that file alone, and ~ in it is $HOME.
 *
 * Errors never quote the file beyond a short name (config_show()): -C
 * may name any file the user can read, or root can.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "child.h"
#include "config.h"
#include "config_priv.h"
#include "error.h"

void
config_free_secret(char *s)
{
	if (s != NULL) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

int
config_perr(struct parser *p, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_set(p->err, ERR_CONFIG, "%s:%d: %s", p->file, p->line,
	    msg);
}

int
config_nomem(struct error *err)
{
	return error_set(err, ERR_OS, "out of memory");
}

const char *
config_show(const char *s, char *buf, size_t size)
{
	size_t i, n = strlen(s);
	int ok = n > 0 && n <= CONFIG_SHOW_MAX;

	for (i = 0; ok && i < n; i++)
		ok = (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || strchr("_-.@+", s[i]) != NULL;
	if (ok)
		snprintf(buf, size, "'%s'", s);
	else
		snprintf(buf, size, "(not shown)");
	return buf;
}

char *
config_trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
		*--e = '\0';
	return s;
}

/*
 * Account names to positions in an array of accounts, by open addressing:
 * a lookup costs O(1) where a scan of the list made loading 20,000
 * accounts quadratic (seconds).  A slot holds position + 1, 0 is empty.
 */
struct name_index {
	size_t	*slot;
	size_t	 cap;		/* a power of two, or 0 */
	size_t	 n;
};

static size_t
name_hash(const char *s)
{
	size_t h = 2166136261u;		/* FNV-1a */

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot that holds name, or the empty one where it would go. */
static size_t *
index_slot(const struct name_index *ix, struct account *const *accs,
    const char *name)
{
	size_t i = name_hash(name) & (ix->cap - 1);

	while (ix->slot[i] != 0 &&
	    strcmp(accs[ix->slot[i] - 1]->name, name) != 0)
		i = (i + 1) & (ix->cap - 1);
	return &ix->slot[i];
}

/* The position of name in accs, or -1. */
static long
index_find(const struct name_index *ix, struct account *const *accs,
    const char *name)
{
	size_t *sl;

	if (ix->cap == 0)
		return -1;
	sl = index_slot(ix, accs, name);
	return *sl == 0 ? -1 : (long)(*sl - 1);
}

/* Record accs[pos] under its name (replacing that name); -1 if out of
   memory. */
static int
index_put(struct name_index *ix, struct account *const *accs, size_t pos)
{
	struct name_index big;
	size_t i, *sl;

	if (2 * (ix->n + 1) > ix->cap) {
		big.cap = ix->cap == 0 ? 64 : 2 * ix->cap;
		big.n = 0;
		if ((big.slot = calloc(big.cap, sizeof(*big.slot))) == NULL)
			return -1;
		for (i = 0; i < ix->cap; i++)
			if (ix->slot[i] != 0) {
				*index_slot(&big, accs,
				    accs[ix->slot[i] - 1]->name) = ix->slot[i];
				big.n++;
			}
		free(ix->slot);
		*ix = big;
	}
	sl = index_slot(ix, accs, accs[pos]->name);
	if (*sl == 0)
		ix->n++;
	*sl = pos + 1;
	return 0;
}

static void
index_free(struct name_index *ix)
{
	free(ix->slot);
	memset(ix, 0, sizeof(*ix));
}

static struct account *
find_local(struct parser *p, const char *name)
{
	long i = index_find(p->index, p->accs, name);

	return i < 0 ? NULL : p->accs[i];
}

/* Copy from each parent in the comma-separated list, in order. */
static int
inherit(struct parser *p, struct account *acc, char *list)
{
	struct account *parent;
	char *name, *next, shown[CONFIG_SHOW_SIZE];

	for (name = list; name != NULL; name = next) {
		next = strchr(name, ',');
		if (next != NULL)
			*next++ = '\0';
		name = config_trim(name);
		if (name[0] == '\0')
			return config_perr(p, "missing account name in the "
			    "list after ':'");
		if ((parent = find_local(p, name)) == NULL)
			return config_perr(p, "account %s is not defined (a "
			    "parent must be defined above, in the same file)",
			    config_show(name, shown, sizeof(shown)));
		if (config_account_copy(acc, parent, parent->set) == -1)
			return config_nomem(p->err);
		acc->set |= parent->set;
	}
	return 0;
}

/* "account NAME [: PARENT[, PARENT...]]" */
static int
start_account(struct parser *p, char *arg)
{
	struct account *acc, **na, *old;
	char *parents, *name, shown[CONFIG_SHOW_SIZE];
	size_t cap;

	parents = strchr(arg, ':');
	if (parents != NULL)
		*parents++ = '\0';
	name = config_trim(arg);
	if (name[0] == '\0')
		return config_perr(p, "account needs a name");
	if (strchr(name, ',') != NULL)
		return config_perr(p, "account name %s contains a comma",
		    config_show(name, shown, sizeof(shown)));
	if ((old = find_local(p, name)) != NULL)
		return config_perr(p, "account %s is already defined on "
		    "line %d", config_show(name, shown, sizeof(shown)),
		    old->line);
	if ((acc = config_account_new()) == NULL)
		return config_nomem(p->err);
	if (p->nacc == p->cap) {
		cap = p->cap == 0 ? 16 : 2 * p->cap;
		na = reallocarray(p->accs, cap, sizeof(*na));
		if (na == NULL) {
			config_account_free(acc);
			return config_nomem(p->err);
		}
		p->accs = na;
		p->cap = cap;
	}
	p->accs[p->nacc++] = acc;
	if (config_account_copy(acc, p->defaults, ~(uint64_t)0) == -1 ||
	    (acc->name = strdup(name)) == NULL ||
	    (acc->file = strdup(p->file)) == NULL ||
	    index_put(p->index, p->accs, p->nacc - 1) == -1)
		return config_nomem(p->err);
	acc->line = p->line;
	p->cur = acc;
	if (parents != NULL)
		return inherit(p, acc, parents);
	return 0;
}

/*
 * Run an eval command (child.c: stdin /dev/null, at most 1 MiB of output,
 * killed with what it started at the deadline): *out is the first line of
 * its output.  The command must exit 0.  The deadline is the timeout in
 * force at this line (60 s when it is off), so a hung command cannot hold
 * the caller forever.
 */
static int
run_eval(struct parser *p, const char *cmd, char **out)
{
	const struct account *cur = p->cur != NULL ? p->cur : p->defaults;
	struct child_result r;
	struct error cerr;
	char why[64];
	size_t n;
	int timeout_ms, rc = -1;

	*out = NULL;
	timeout_ms = (cur->timeout > 0 ? cur->timeout : 60) * 1000;
	error_clear(&cerr);
	/* Not quoting the command: it may hold a secret, and it is text
	   from a file that an error must not show. */
	if (child_sh(cmd, timeout_ms, &r, &cerr) == -1)
		return config_perr(p, "eval: %s", cerr.msg);
	if (!child_ok(&r))
		config_perr(p, "eval: the command %s",
		    child_why(&r, timeout_ms, why, sizeof(why)));
	else if (r.out.len == 0)
		config_perr(p, "eval: the command printed nothing");
	else {
		n = strcspn(r.out.p, "\r\n");
		if ((*out = malloc(n + 1)) == NULL)
			config_nomem(p->err);
		else {
			memcpy(*out, r.out.p, n);
			(*out)[n] = '\0';
			rc = 0;
		}
	}
	/* eval output may hold a password: wipe what is not passed on. */
	child_buf_free(&r.out);
	return rc;
}

static int
parse_keyword(struct parser *p, const char *name, char *arg)
{
	const struct keyword *kw;
	char shown[CONFIG_SHOW_SIZE];

	if (strcmp(name, "defaults") == 0) {
		if (arg[0] != '\0')
			return config_perr(p, "defaults takes no value");
		p->cur = p->defaults;
		return 0;
	}
	if (strcmp(name, "account") == 0)
		return start_account(p, arg);
	if ((kw = config_keyword(name)) == NULL)
		return config_perr(p, "unknown keyword %s",
		    config_show(name, shown, sizeof(shown)));
	if (p->cur == NULL) {
		/* msmtp puts lines before any section in "default". */
		char def[] = "default";

		if (start_account(p, def) == -1)
			return -1;
	}
	return config_keyword_apply(p, kw, arg);
}

/* One line, without its line end; from_eval forbids nested eval. */
static int
parse_line(struct parser *p, char *line, int from_eval)
{
	char *name, *arg, *out;
	size_t n;
	int rc;

	name = line;
	while (*name == ' ' || *name == '\t')
		name++;
	if (*name == '\0' || *name == '#')
		return 0;
	arg = name + strcspn(name, " \t");
	if (*arg != '\0')
		*arg++ = '\0';
	arg = config_trim(arg);
	n = strlen(arg);
	if (n >= 2 && arg[0] == '"' && arg[n - 1] == '"') {
		arg[n - 1] = '\0';
		arg++;
	}
	if (strcmp(name, "eval") != 0)
		return parse_keyword(p, name, arg);
	if (from_eval)
		return config_perr(p, "eval: the output is an eval line");
	if (arg[0] == '\0')
		return config_perr(p, "eval needs a command");
	if (run_eval(p, arg, &out) == -1)
		return -1;
	rc = parse_line(p, out, 1);
	config_free_secret(out);
	return rc;
}

static int
parse_file(struct parser *p, FILE *fp)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	p->line = 0;
	while ((n = getline(&line, &cap, fp)) != -1) {
		p->line++;
		if (n > 0 && line[n - 1] == '\n')
			line[--n] = '\0';
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (strlen(line) != (size_t)n) {
			rc = config_perr(p, "NUL byte in the line");
			break;
		}
		if ((rc = parse_line(p, line, 0)) == -1)
			break;
	}
	if (rc == 0 && ferror(fp))
		rc = error_set(p->err, ERR_IO, "%s: %s", p->file,
		    strerror(errno));
	/* The whole buffer: parse_line() cut it with NULs, and the last
	   line read may have held a password. */
	if (line != NULL)
		explicit_bzero(line, cap);
	free(line);
	return rc;
}

/*
 * msmtp's rule for a file holding a password: owned by the user, no access
 * for group or others.  The system file may instead be owned by root and
 * readable by its group (root:mail 0640), never by others: the hint for it
 * names chmod 640 and chgrp, since chmod 600 would lock out every user but
 * root.
 */
static int
check_secure(struct parser *p, FILE *fp)
{
	struct stat st;
	mode_t bad = p->system ? 007 : 077;

	if (fstat(fileno(fp), &st) == -1)
		return error_set(p->err, ERR_IO, "%s: %s", p->file,
		    strerror(errno));
	if (st.st_uid != p->env->uid && !(p->system && st.st_uid == 0)) {
		error_set(p->err, ERR_CONFIG, "%s: contains a password but is "
		    "owned by uid %u, not by you (uid %u)", p->file,
		    (unsigned)st.st_uid, p->env->uid);
		if (p->system)
			error_hint(p->err, "chown root %s; chmod 640 %s; chgrp "
			    "GROUP %s (GROUP: the group of the users that "
			    "send mail)", p->file, p->file, p->file);
		else
			error_hint(p->err, "chown %u %s; chmod 600 %s",
			    p->env->uid, p->file, p->file);
		return -1;
	}
	if ((st.st_mode & bad) != 0) {
		error_set(p->err, ERR_CONFIG, "%s: contains a password but is "
		    "readable by others", p->file);
		if (p->system)
			error_hint(p->err, "chmod 640 %s; chgrp GROUP %s "
			    "(GROUP: the group of the users that send mail)",
			    p->file, p->file);
		else
			error_hint(p->err, "chmod 600 %s", p->file);
		return -1;
	}
	return 0;
}

/* Move the file's accounts into cf; same names replace earlier ones. */
static int
merge(struct parser *p, int fileidx)
{
	struct config *cf = p->cf;
	struct account **na;
	struct name_index ix = { 0 };
	int *ni;
	size_t i;
	long j;
	int rc = -1;

	na = reallocarray(cf->accs, cf->nacc + p->nacc + 1, sizeof(*na));
	if (na == NULL)
		return config_nomem(p->err);
	cf->accs = na;
	ni = reallocarray(cf->fileidx, cf->nacc + p->nacc + 1, sizeof(*ni));
	if (ni == NULL)
		return config_nomem(p->err);
	cf->fileidx = ni;
	for (i = 0; i < cf->nacc; i++)
		if (index_put(&ix, cf->accs, i) == -1)
			goto nomem;
	for (i = 0; i < p->nacc; i++) {
		j = index_find(&ix, cf->accs, p->accs[i]->name);
		if (j < 0) {
			j = (long)cf->nacc++;
			cf->accs[j] = p->accs[i];
			if (index_put(&ix, cf->accs, (size_t)j) == -1) {
				cf->nacc--;
				goto nomem;
			}
		} else {
			config_account_free(cf->accs[j]);
			cf->accs[j] = p->accs[i];
		}
		cf->fileidx[j] = fileidx;
		p->accs[i] = NULL;
	}
	rc = 0;
	goto out;
nomem:
	config_nomem(p->err);
out:
	index_free(&ix);
	return rc;
}

/* Remember a system file that was skipped, and why, for -v and --pretend. */
static int
note_skipped(struct config *cf, const char *file, int errnum,
    struct error *err)
{
	if (cf->nnotes == CONFIG_MAX_FILES)
		return 0;
	if (asprintf(&cf->notes[cf->nnotes], "%s: %s (skipped)", file,
	    strerror(errnum)) == -1) {
		cf->notes[cf->nnotes] = NULL;
		return config_nomem(err);
	}
	cf->nnotes++;
	return 0;
}

/*
 * Read one file into cf.  A missing file is fine unless must_exist (-C);
 * a system file this user may not read is skipped (msmtp does the same:
 * /etc/smtprc may be root:mail 0640); a user file or -C file that cannot
 * be read is an error.  home is what ~ in values stands for.
 */
static int
load_file(struct config *cf, const char *file, int must_exist, int system,
    const char *home, const struct config_env *env, struct error *err)
{
	struct parser p;
	struct name_index ix = { 0 };
	FILE *fp;
	size_t i;
	int rc = -1;

	if ((fp = fopen(file, "r")) == NULL) {
		if (!must_exist && errno == ENOENT)
			return 0;
		if (system && errno == EACCES)
			return note_skipped(cf, file, errno, err);
		return error_set(err, ERR_CONFIG, "%s: %s", file,
		    strerror(errno));
	}
	memset(&p, 0, sizeof(p));
	p.cf = cf;
	p.env = env;
	p.file = file;
	p.home = home;
	p.system = system;
	p.index = &ix;
	p.err = err;
	if ((p.defaults = config_account_new()) == NULL) {
		config_nomem(err);
		goto out;
	}
	if (parse_file(&p, fp) == -1 ||
	    (p.password && check_secure(&p, fp) == -1))
		goto out;
	for (i = 0; i < p.nacc; i++)
		if (config_account_finalize(cf, env, p.accs[i], err) == -1)
			goto out;
	if ((cf->files[cf->nfiles] = strdup(file)) == NULL) {
		config_nomem(err);
		goto out;
	}
	cf->nfiles++;
	rc = merge(&p, (int)cf->nfiles - 1);
out:
	for (i = 0; i < p.nacc; i++)
		config_account_free(p.accs[i]);
	free(p.accs);
	index_free(&ix);
	config_account_free(p.defaults);
	fclose(fp);
	return rc;
}

/*
 * 1 if path is there: a file we may not read still counts (reading it is
 * then an error, or for a system file a note), but not one in a directory
 * we may not search (HOME=/root kept for www-data: that is not its file).
 */
static int
exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

int
config_user_file(const char *home, const char *xdg, char *buf, size_t size)
{
	snprintf(buf, size, "%s/%s", home, CONFIG_USER_FILE);
	if (exists(buf))
		return 1;
	snprintf(buf, size, "%s/.msmtprc", home);
	if (exists(buf))
		return 1;
	if (xdg != NULL && xdg[0] == '/')
		snprintf(buf, size, "%s/msmtp/config", xdg);
	else
		snprintf(buf, size, "%s/.config/msmtp/config", home);
	if (exists(buf))
		return 1;
	snprintf(buf, size, "%s/%s", home, CONFIG_USER_FILE);
	return 0;
}

int
config_load(struct config **cfp, const char *path,
    const struct config_env *env, struct error *err)
{
	struct config *cf;
	const char *sys;
	char user[PATH_MAX];
	int rc = -1;

	*cfp = NULL;
	if ((cf = calloc(1, sizeof(*cf))) == NULL)
		return config_nomem(err);
	if (path != NULL) {
		/* msmtp: ~ is $HOME, whichever home the files came from. */
		rc = load_file(cf, path, 1, 0, env->env_home != NULL ?
		    env->env_home : env->home, env, err);
		goto out;
	}
	sys = env->system_file != NULL ? env->system_file : CONFIG_SYSTEM_FILE;
	if (!exists(sys))
		sys = env->msmtp_system_file != NULL ?
		    env->msmtp_system_file : CONFIG_MSMTP_SYSTEM_FILE;
	if (load_file(cf, sys, 0, 1, env->home, env, err) == -1)
		goto out;
	rc = 0;
	if (env->home != NULL && env->home[0] != '\0') {
		config_user_file(env->home, env->xdg_config_home, user,
		    sizeof(user));
		rc = load_file(cf, user, 0, 0, env->home, env, err);
	}
out:
	if (rc == -1)
		config_free(cf);
	else
		*cfp = cf;
	return rc;
}

const char *const *
config_files(const struct config *cf)
{
	static const char *const none[] = { NULL };

	return cf != NULL ? (const char *const *)cf->files : none;
}

const char *const *
config_notes(const struct config *cf)
{
	static const char *const none[] = { NULL };

	return cf != NULL ? (const char *const *)cf->notes : none;
}

void
config_free(struct config *cf)
{
	size_t i;

	if (cf == NULL)
		return;
	for (i = 0; i < cf->nacc; i++)
		config_account_free(cf->accs[i]);
	for (i = 0; i < cf->nfiles; i++)
		free(cf->files[i]);
	for (i = 0; i < cf->nnotes; i++)
		free(cf->notes[i]);
	free(cf->accs);
	free(cf->fileidx);
	free(cf->fqdn);
	free(cf);
}
