/*
 * test_tokens.c - API tokens: the token's shape, only its hash on disk (0600), check, list,
 * revoke, reload when the file changes under a running checker, refusal of unsafe files (mode,
 * symlink, owner), strict parsing with line numbers, the first-start admin token.
 */
#include <fcntl.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testhelp.h"
#include "vault/tokens.h"

static char tdir[256];
static int nsub;

/* A fresh folder under tdir for one test. */
static void subdir(char *out, size_t len)
{
	snprintf(out, len, "%s/d%d", tdir, ++nsub);
	mkdir(out, 0700);
}

static char *slurp(const char *p)
{
	static char buf[65536];
	FILE *f = fopen(p, "r");
	size_t n = 0;
	buf[0] = '\0';
	if (f) {
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

static void write_file(const char *p, const char *text, mode_t mode)
{
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		perror(p);
	if (fd >= 0)
		close(fd);
	chmod(p, mode);
}

static int b64url_only(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'))
			return 0;
	return 1;
}

static void test_add_check_list_revoke(void)
{
	char d[300], p[400], tok[TOKEN_LEN + 1], tok2[TOKEN_LEN + 1], name[TOKEN_NAME_MAX + 1],
	    err[512], hexh[65];
	uint8_t h[32];
	struct stat st;
	tokens_t *t = NULL;
	struct token_info *info = NULL;

	subdir(d, sizeof d);
	CHECK_EQ_INT(tokens_add(d, "alice", tok, err, sizeof err), 0);
	CHECK_EQ_INT(strlen(tok), TOKEN_LEN);
	CHECK(strncmp(tok, "rct_", 4) == 0);
	CHECK(b64url_only(tok + 4));
	snprintf(p, sizeof p, "%s/tokens", d);
	CHECK_EQ_INT(stat(p, &st), 0);
	CHECK_EQ_INT(st.st_mode & 07777, 0600);
	/* the file holds the hash, never the token */
	const char *text = slurp(p);
	CHECK(strstr(text, tok) == NULL);
	CHECK(strstr(text, tok + 4) == NULL);
	SHA256((const unsigned char *)tok, strlen(tok), h);
	for (int i = 0; i < 32; i++)
		snprintf(hexh + 2 * i, 3, "%02x", h[i]);
	CHECK(strstr(text, hexh) != NULL);
	CHECK(strstr(text, "alice ") != NULL);

	CHECK_EQ_INT(tokens_add(d, "alice", tok2, err, sizeof err), TOKENS_EEXIST);
	CHECK(strstr(err, "alice") != NULL);
	CHECK_EQ_INT(tokens_add(d, "bob.ops-2", tok2, err, sizeof err), 0);
	CHECK(strcmp(tok, tok2) != 0);
	CHECK_EQ_INT(tokens_add(d, "bad name", tok2, err, sizeof err), TOKENS_EINVAL);
	CHECK_EQ_INT(tokens_add(d, "", tok2, err, sizeof err), TOKENS_EINVAL);
	CHECK_EQ_INT(tokens_add(d, "a/b", tok2, err, sizeof err), TOKENS_EINVAL);
	CHECK_EQ_INT(tokens_add(d, "abcdefghijabcdefghijabcdefghijabc", tok2, err, sizeof err),
		     TOKENS_EINVAL);

	CHECK_EQ_INT(tokens_open(d, &t, err, sizeof err), 0);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), 0);
	CHECK_EQ_STR(name, "alice");
	CHECK_EQ_INT(tokens_check(t, tok2, name, err, sizeof err), 0);
	CHECK_EQ_STR(name, "bob.ops-2");
	/* near misses */
	char near[TOKEN_LEN + 2];
	snprintf(near, sizeof near, "%s", tok);
	near[10] = near[10] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(tokens_check(t, near, name, err, sizeof err), TOKENS_ENOTFOUND);
	snprintf(near, sizeof near, "%sA", tok);
	CHECK_EQ_INT(tokens_check(t, near, name, err, sizeof err), TOKENS_ENOTFOUND);
	snprintf(near, sizeof near, "%.*s", (int)TOKEN_LEN - 1, tok);
	CHECK_EQ_INT(tokens_check(t, near, name, err, sizeof err), TOKENS_ENOTFOUND);
	CHECK_EQ_INT(tokens_check(t, "", name, err, sizeof err), TOKENS_ENOTFOUND);
	CHECK_EQ_INT(tokens_check(t, NULL, name, err, sizeof err), TOKENS_ENOTFOUND);
	CHECK_EQ_INT(tokens_check(t, hexh, name, err, sizeof err), TOKENS_ENOTFOUND);

	int n = tokens_list(d, &info, err, sizeof err);
	CHECK_EQ_INT(n, 2);
	if (n == 2) {
		CHECK_EQ_STR(info[0].name, "alice");
		CHECK_EQ_STR(info[1].name, "bob.ops-2");
		CHECK(strlen(info[0].created) == 20 && info[0].created[19] == 'Z');
	}
	free(info);

	/* revoking takes effect on the running checker (reload on change) */
	CHECK_EQ_INT(tokens_revoke(d, "alice", err, sizeof err), 0);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), TOKENS_ENOTFOUND);
	CHECK_EQ_INT(tokens_check(t, tok2, name, err, sizeof err), 0);
	CHECK_EQ_INT(tokens_revoke(d, "alice", err, sizeof err), TOKENS_ENOTFOUND);
	CHECK(strstr(err, "alice") != NULL);
	/* ...and so does adding */
	CHECK_EQ_INT(tokens_add(d, "carol", tok, err, sizeof err), 0);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), 0);
	CHECK_EQ_STR(name, "carol");
	/* the file deleted: no token at all */
	CHECK_EQ_INT(unlink(p), 0);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), TOKENS_ENOTFOUND);
	CHECK_EQ_INT(tokens_list(d, &info, err, sizeof err), 0);
	tokens_close(t);
	tokens_close(NULL);
}

static void test_unsafe_refused(void)
{
	char d[300], p[400], tok[TOKEN_LEN + 1], name[TOKEN_NAME_MAX + 1], err[512];
	tokens_t *t = NULL;
	struct token_info *info = NULL;

	subdir(d, sizeof d);
	snprintf(p, sizeof p, "%s/tokens", d);
	CHECK_EQ_INT(tokens_add(d, "alice", tok, err, sizeof err), 0);
	CHECK_EQ_INT(tokens_open(d, &t, err, sizeof err), 0);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), 0);
	/* group-readable: refused, every token with it, by the checker and the commands */
	CHECK_EQ_INT(chmod(p, 0640), 0);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), TOKENS_EUNSAFE);
	CHECK(strstr(err, "chmod 600") != NULL);
	CHECK(strstr(err, p) != NULL);
	CHECK_EQ_INT(tokens_list(d, &info, err, sizeof err), TOKENS_EUNSAFE);
	CHECK_EQ_INT(tokens_add(d, "bob", tok, err, sizeof err), TOKENS_EUNSAFE);
	CHECK_EQ_INT(chmod(p, 0604), 0);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), TOKENS_EUNSAFE);
	CHECK_EQ_INT(chmod(p, 0600), 0);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), 0);
	/* a symbolic link */
	char real[400];
	snprintf(real, sizeof real, "%s/real", d);
	CHECK_EQ_INT(rename(p, real), 0);
	CHECK_EQ_INT(symlink(real, p), 0);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), TOKENS_EUNSAFE);
	CHECK(strstr(err, "symbolic link") != NULL);
	CHECK_EQ_INT(unlink(p), 0);
	/* a directory */
	CHECK_EQ_INT(mkdir(p, 0700), 0);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), TOKENS_EUNSAFE);
	CHECK_EQ_INT(rmdir(p), 0);
	CHECK_EQ_INT(rename(real, p), 0);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), 0);
	/* another owner */
	if (geteuid() == 0) {
		CHECK_EQ_INT(chown(p, 65534, 65534), 0);
		CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), TOKENS_EUNSAFE);
		CHECK(strstr(err, "owned by uid 65534") != NULL);
		CHECK_EQ_INT(chown(p, 0, 0), 0);
		CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), 0);
	} else {
		printf("  not root: owner check skipped\n");
	}
	/* a malformed file refuses everything until it is fixed */
	char good[4096];
	snprintf(good, sizeof good, "%s", slurp(p));
	write_file(p, "alice nothex 2026-01-01T00:00:00Z\n", 0600);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), TOKENS_EFORMAT);
	CHECK(strstr(err, "line 1") != NULL);
	write_file(p, good, 0600);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), 0);
	tokens_close(t);
}

static void test_parse(void)
{
	static const struct {
		const char *text;
		int want;	 /* count, or TOKENS_EFORMAT */
		const char *msg; /* part of the message */
	} cases[] = {
	    {"", 0, NULL},
	    {"# only a comment\n\n", 0, NULL},
	    {"a 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb1 "
	     "2026-11-22T07:41:20Z\n",
	     1, NULL},
	    {"a\t1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb1\t"
	     "2026-11-22T07:41:20Z\r\n"
	     "b 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb2 "
	     "2026-11-22T07:41:20.5+01:00",
	     2, NULL},
	    {"# c\na 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb1\n",
	     TOKENS_EFORMAT, "line 2"},
	    {"a 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb1 t x y\n",
	     TOKENS_EFORMAT, "3 or 4 fields"},
	    {"a 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb1 "
	     "2026-11-22T07:41:20Z viewer\n",
	     1, NULL},
	    {"a 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb1 "
	     "2026-11-22T07:41:20Z root\n",
	     TOKENS_EFORMAT, "invalid role `root'"},
	    {"a 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb1 "
	     "2026-11-22T07:41:20Z Admin\n",
	     TOKENS_EFORMAT, "invalid role"},
	    {"a 1C0E37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb1 "
	     "2026-11-22T07:41:20Z\n",
	     TOKENS_EFORMAT, "hex"},
	    {"a 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb "
	     "2026-11-22T07:41:20Z\n",
	     TOKENS_EFORMAT, "hex"},
	    {"a/b 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb1 "
	     "2026-11-22T07:41:20Z\n",
	     TOKENS_EFORMAT, "invalid name `a/b'"},
	    {"a 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb1 yesterday\n",
	     TOKENS_EFORMAT, "creation time"},
	    {"a 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb1 "
	     "2026-11-22T07:41:20Z\n"
	     "a 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb2 "
	     "2026-11-22T07:41:20Z\n",
	     TOKENS_EFORMAT, "line 2: the name `a' is used twice"},
	};
	char err[512];
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		err[0] = '\0';
		int rc = tokens_parse(cases[i].text, strlen(cases[i].text), "/x/tokens", err,
				      sizeof err);
		if (rc != cases[i].want)
			printf("  case %zu: %d (%s)\n", i, rc, err);
		CHECK_EQ_INT(rc, cases[i].want);
		if (cases[i].msg) {
			CHECK(strstr(err, cases[i].msg) != NULL);
			CHECK(strstr(err, "/x/tokens") != NULL);
			/* hashes are never quoted */
			CHECK(strstr(err, "1c0e37") == NULL && strstr(err, "1C0E37") == NULL);
		}
	}
	const char nul[] = "a 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb1 "
			   "2026-11-22T07:41:20Z\0\n";
	CHECK_EQ_INT(tokens_parse(nul, sizeof nul - 1, "t", err, sizeof err), TOKENS_EFORMAT);

	CHECK_EQ_INT(tokens_name_valid("admin"), 1);
	CHECK_EQ_INT(tokens_name_valid("A-z_0.9"), 1);
	CHECK_EQ_INT(tokens_name_valid("abcdefghijabcdefghijabcdefghijab"), 1);
	CHECK_EQ_INT(tokens_name_valid("abcdefghijabcdefghijabcdefghijabc"), 0);
	CHECK_EQ_INT(tokens_name_valid(""), 0);
	CHECK_EQ_INT(tokens_name_valid(NULL), 0);
	CHECK_EQ_INT(tokens_name_valid("a b"), 0);
	CHECK_EQ_INT(tokens_name_valid("é"), 0);
}

/* A file written by hand with a known token: the documented format is what the checker reads. */
static void test_known_hash(void)
{
	char d[300], p[400], name[TOKEN_NAME_MAX + 1], err[512];
	tokens_t *t = NULL;
	subdir(d, sizeof d);
	snprintf(p, sizeof p, "%s/tokens", d);
	/* SHA-256("rct_" + 43 x 'A'), computed independently */
	write_file(p,
		   "ci 1c0e37eff2f8a4fd184a1d09c7706375d9b577db4c0522ba99ce4cb324d71eb1 "
		   "2026-11-22T07:41:20Z\n",
		   0600);
	CHECK_EQ_INT(tokens_open(d, &t, err, sizeof err), 0);
	CHECK_EQ_INT(tokens_check(t, "rct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", name, err,
				  sizeof err),
		     0);
	CHECK_EQ_STR(name, "ci");
	CHECK_EQ_INT(tokens_check(t, "rct_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB", name, err,
				  sizeof err),
		     TOKENS_ENOTFOUND);
	tokens_close(t);
}

static void test_bootstrap(void)
{
	char d[300], p[400], path[512], name[TOKEN_NAME_MAX + 1], err[512], tok[TOKEN_LEN + 1];
	struct stat st;
	tokens_t *t = NULL;
	subdir(d, sizeof d);
	CHECK_EQ_INT(tokens_bootstrap(d, path, sizeof path, err, sizeof err), 1);
	snprintf(p, sizeof p, "%s/admin.token", d);
	CHECK_EQ_STR(path, p);
	CHECK_EQ_INT(stat(p, &st), 0);
	CHECK_EQ_INT(st.st_mode & 07777, 0600);
	char *text = slurp(p);
	CHECK_EQ_INT(strlen(text), TOKEN_LEN + 1);
	text[TOKEN_LEN] = '\0';
	snprintf(tok, sizeof tok, "%s", text);
	CHECK_EQ_INT(tokens_open(d, &t, err, sizeof err), 0);
	CHECK_EQ_INT(tokens_check(t, tok, name, err, sizeof err), 0);
	CHECK_EQ_STR(name, "admin");
	tokens_close(t);
	/* a second start makes nothing */
	path[0] = '\0';
	CHECK_EQ_INT(tokens_bootstrap(d, path, sizeof path, err, sizeof err), 0);
	CHECK_EQ_STR(path, "");
	/* tokens exist (admin revoked, another added): nothing either */
	CHECK_EQ_INT(tokens_revoke(d, "admin", err, sizeof err), 0);
	CHECK_EQ_INT(tokens_add(d, "ops", tok, err, sizeof err), 0);
	CHECK_EQ_INT(tokens_bootstrap(d, path, sizeof path, err, sizeof err), 0);
	/* no folder */
	snprintf(p, sizeof p, "%s/missing/deeper", tdir);
	CHECK(tokens_bootstrap(p, path, sizeof path, err, sizeof err) < 0);
	CHECK(strstr(err, "missing") != NULL);
}

static int rm_dir(const char *d)
{
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
	return system(cmd);
}

/* Roles: a line from before roles is admin; add_role writes the role; list and check show it. */
static void test_roles(void)
{
	char d[300], p[400], name[TOKEN_NAME_MAX + 1], err[512], tv[TOKEN_LEN + 1],
	    to[TOKEN_LEN + 1];
	struct token_info *info = NULL;
	tokens_t *t = NULL;
	int role = 0;
	subdir(d, sizeof d);
	CHECK_EQ_INT(tokens_role_parse("viewer"), TOKEN_VIEWER);
	CHECK_EQ_INT(tokens_role_parse("operator"), TOKEN_OPERATOR);
	CHECK_EQ_INT(tokens_role_parse("admin"), TOKEN_ADMIN);
	CHECK_EQ_INT(tokens_role_parse("root"), -1);
	CHECK_EQ_INT(tokens_role_parse(NULL), -1);
	CHECK_EQ_STR(tokens_role_name(TOKEN_OPERATOR), "operator");
	CHECK_EQ_INT(tokens_add_role(d, "v", TOKEN_VIEWER, tv, err, sizeof err), 0);
	CHECK_EQ_INT(tokens_add(d, "o", to, err, sizeof err), 0); /* the default: operator */
	CHECK_EQ_INT(tokens_add_role(d, "x", 7, to, err, sizeof err), TOKENS_EINVAL);
	CHECK_EQ_INT(tokens_open(d, &t, err, sizeof err), 0);
	CHECK_EQ_INT(tokens_check_role(t, tv, name, &role, err, sizeof err), 0);
	CHECK_EQ_INT(role, TOKEN_VIEWER);
	CHECK_EQ_INT(tokens_check_role(t, to, name, &role, err, sizeof err), 0);
	CHECK_EQ_INT(role, TOKEN_OPERATOR);
	CHECK_EQ_INT(tokens_list(d, &info, err, sizeof err), 2);
	CHECK_EQ_INT(info[0].role, TOKEN_VIEWER);
	CHECK_EQ_INT(info[1].role, TOKEN_OPERATOR);
	free(info);
	/* the file spells the role out */
	snprintf(p, sizeof p, "%s/tokens", d);
	char *text = slurp(p);
	CHECK(strstr(text, " viewer\n") != NULL && strstr(text, " operator\n") != NULL);
	tokens_close(t);
	/* a file from before roles: its tokens are admin, and stay admin when rewritten */
	subdir(d, sizeof d);
	snprintf(p, sizeof p, "%s/tokens", d);
	write_file(p,
		   "old 3c9f8d8f4f7f5d0f0f87f4b6ec2a1b6bb3ce8a2f7b8c2a9a1b2c3d4e5f607182 "
		   "2026-11-22T07:41:20Z\n",
		   0600);
	CHECK_EQ_INT(tokens_list(d, &info, err, sizeof err), 1);
	CHECK_EQ_INT(info[0].role, TOKEN_ADMIN);
	free(info);
	CHECK_EQ_INT(tokens_add_role(d, "new", TOKEN_VIEWER, tv, err, sizeof err), 0);
	CHECK_EQ_INT(tokens_list(d, &info, err, sizeof err), 2);
	CHECK_EQ_INT(info[0].role, TOKEN_ADMIN);
	CHECK_EQ_INT(info[1].role, TOKEN_VIEWER);
	free(info);
	text = slurp(p);
	CHECK(strstr(text, "2026-11-22T07:41:20Z admin\n") != NULL);
}

int main(void)
{
	const char *t = getenv("TMPDIR");
	umask(022);
	snprintf(tdir, sizeof tdir, "%s/test_tokens.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_add_check_list_revoke);
	RUN(test_unsafe_refused);
	RUN(test_parse);
	RUN(test_known_hash);
	RUN(test_bootstrap);
	RUN(test_roles);
	if (rm_dir(tdir) != 0)
		fprintf(stderr, "cannot remove %s\n", tdir);
	printf("%d passed, %d failed\n", th_passed, th_failed);
	return test_main_end();
}
