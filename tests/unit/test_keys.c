/*
 * test_keys.c - the vault key file: creation, reload, refusal of unsafe files (mode, symlink,
 * directory, owner), strict parsing with line numbers, rotation, and purpose subkeys.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vault/keys.h"
#include "testhelp.h"

#define HEXA "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
#define HEXB "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"

static char tdir[256];

static void tpath(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tdir, name);
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

static int count_primary_lines(const char *p)
{
	char line[256];
	int n = 0;
	FILE *f = fopen(p, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (strstr(line, " primary"))
			n++;
	fclose(f);
	return n;
}

static void test_keys_create_and_reload(void)
{
	char p[512], err[512];
	keys_t *k = NULL, *k2 = NULL;
	struct stat st;
	struct vault_keyring ring;

	tpath(p, sizeof p, "state/keys/master.key");
	CHECK_EQ_INT(keys_load_or_create(p, &k, err, sizeof err), 0);
	CHECK(k != NULL);
	if (!k) {
		printf("  %s\n", err);
		return;
	}
	CHECK_EQ_INT(stat(p, &st), 0);
	CHECK_EQ_INT(st.st_mode & 07777, 0600);
	CHECK(S_ISREG(st.st_mode));
	tpath(p, sizeof p, "state/keys");
	CHECK_EQ_INT(stat(p, &st), 0);
	CHECK_EQ_INT(st.st_mode & 0777, 0700);
	tpath(p, sizeof p, "state/keys/master.key");
	CHECK_EQ_INT(count_primary_lines(p), 1);
	CHECK_EQ_INT(keys_count(k), 1);
	CHECK(keys_primary(k)->id[0] == 'k');

	CHECK_EQ_INT(keys_load_or_create(p, &k2, err, sizeof err), 0);
	CHECK(k2 != NULL);
	if (k2) {
		CHECK_EQ_INT(keys_count(k2), 1);
		CHECK_EQ_STR(keys_primary(k2)->id, keys_primary(k)->id);
		CHECK(memcmp(keys_primary(k2)->master, keys_primary(k)->master, VAULT_KEY_LEN) ==
		      0);
		keys_ring(k2, &ring);
		CHECK_EQ_INT(ring.n, 1);
		CHECK(ring.keys == keys_primary(k2));
	}
	keys_free(k);
	keys_free(k2);
}

static void test_keys_path(void)
{
	char p[256];

	unsetenv(KEYS_ENV);
	CHECK_EQ_INT(keys_path("/var/lib/ringcap", p, sizeof p), 0);
	CHECK_EQ_STR(p, "/var/lib/ringcap/keys/master.key");
	setenv(KEYS_ENV, "/etc/ringcap/k", 1);
	CHECK_EQ_INT(keys_path("/var/lib/ringcap", p, sizeof p), 0);
	CHECK_EQ_STR(p, "/etc/ringcap/k");
	unsetenv(KEYS_ENV);
	CHECK_EQ_INT(keys_path("/var/lib/ringcap", p, 8), KEYS_EINVAL);
}

static void test_keys_loose_mode_refused(void)
{
	static const mode_t modes[] = {0640, 0604, 0644, 0660, 0601};
	char p[512], err[512], want[600];
	keys_t *k = NULL;
	size_t i;

	tpath(p, sizeof p, "loose.key");
	CHECK_EQ_INT(keys_load_or_create(p, &k, err, sizeof err), 0);
	keys_free(k);
	for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		k = NULL;
		chmod(p, modes[i]);
		CHECK_EQ_INT(keys_load_or_create(p, &k, err, sizeof err), KEYS_EUNSAFE);
		CHECK(k == NULL);
		snprintf(want, sizeof want,
			 "`%s' is readable by group or others (mode %04o); chmod 600 it", p,
			 (unsigned)modes[i]);
		CHECK_EQ_STR(err, want);
	}
	chmod(p, 0400);
	CHECK_EQ_INT(keys_load_or_create(p, &k, err, sizeof err), 0);
	keys_free(k);
}

static void test_keys_symlink_and_dir_refused(void)
{
	char p[512], link_p[512], dir_p[512], err[512];
	keys_t *k = NULL;
	struct stat st;

	tpath(p, sizeof p, "real.key");
	CHECK_EQ_INT(keys_load_or_create(p, &k, err, sizeof err), 0);
	keys_free(k);
	k = NULL;

	tpath(link_p, sizeof link_p, "link.key");
	CHECK_EQ_INT(symlink(p, link_p), 0);
	CHECK_EQ_INT(keys_load_or_create(link_p, &k, err, sizeof err), KEYS_EUNSAFE);
	CHECK(k == NULL);
	CHECK(strstr(err, link_p) != NULL);
	CHECK(strstr(err, "symbolic link") != NULL);

	/* A dangling symlink is refused too, not followed to create a file. */
	tpath(link_p, sizeof link_p, "dangling.key");
	tpath(p, sizeof p, "nowhere.key");
	CHECK_EQ_INT(symlink(p, link_p), 0);
	CHECK_EQ_INT(keys_load_or_create(link_p, &k, err, sizeof err), KEYS_EUNSAFE);
	CHECK(stat(p, &st) != 0);

	tpath(dir_p, sizeof dir_p, "dir.key");
	CHECK_EQ_INT(mkdir(dir_p, 0700), 0);
	CHECK_EQ_INT(keys_load_or_create(dir_p, &k, err, sizeof err), KEYS_EUNSAFE);
	CHECK(k == NULL);
	CHECK(strstr(err, dir_p) != NULL);
	CHECK(strstr(err, "not a regular file (a directory)") != NULL);
}

static void test_keys_other_owner_refused(void)
{
	char p[512], err[512];
	keys_t *k = NULL;

	if (geteuid() != 0) {
		printf("  not root: owner check skipped\n");
		return;
	}
	tpath(p, sizeof p, "owned.key");
	write_file(p, "a " HEXA " primary\n", 0600);
	CHECK_EQ_INT(chown(p, 65534, 65534), 0);
	CHECK_EQ_INT(keys_load_or_create(p, &k, err, sizeof err), KEYS_EUNSAFE);
	CHECK(k == NULL);
	CHECK(strstr(err, p) != NULL);
	CHECK(strstr(err, "owned by uid 65534") != NULL);
}

static const struct {
	const char *text;
	const char *want; /* substring of the message after the path */
} bad_files[] = {
	{"a " HEXA " primary\nb 0011zz " "primary\n", "line 2: key `b' must be 64 hex digits"},
	{"# c\n\na 0" HEXA "\n", "line 3: key `a' must be 64 hex digits (found 65"},
	{"a 00112233445566778899aabbccddeeff00112233445566778899aabbccddeefg primary\n",
	 "line 1: key `a' has a non-hex character at position 64"},
	{"bad/id " HEXA " primary\n", "line 1: bad key id `bad/id'"},
	{"a " HEXA "\nabcdefghijklmnopq " HEXB " primary\n", "line 2: bad key id"},
	{"a " HEXA " primary\nb " HEXB " primary\n",
	 "line 2: a second primary key (line 1 is primary already)"},
	{"a " HEXA "\n# x\nb " HEXB "\n", "line 3: end of file and no key is marked primary"},
	{"a " HEXA " primary\na " HEXB "\n", "line 2: duplicate key id `a'"},
	{"a " HEXA " primary extra\n", "line 1: expected `ID HEX64 [primary]' (too many"},
	{"a\n", "line 1: expected `ID HEX64 [primary]' (too few"},
	{"a " HEXA " primray\n", "line 1: unexpected `primray'"},
	{"# only a comment\n", "holds no keys"},
	{"", "holds no keys"},
};

static void test_keys_malformed_refused(void)
{
	char p[512], err[512];
	keys_t *k = NULL;
	size_t i;

	tpath(p, sizeof p, "bad.key");
	for (i = 0; i < sizeof bad_files / sizeof bad_files[0]; i++) {
		write_file(p, bad_files[i].text, 0600);
		err[0] = '\0';
		CHECK_EQ_INT(keys_load_or_create(p, &k, err, sizeof err), KEYS_EFORMAT);
		CHECK(k == NULL);
		CHECK(strncmp(err, "`", 1) == 0 && strstr(err, p) != NULL);
		if (!strstr(err, bad_files[i].want))
			printf("  case %zu: \"%s\" lacks \"%s\"\n", i, err, bad_files[i].want);
		CHECK(strstr(err, bad_files[i].want) != NULL);
		/* Key material never appears in a message. */
		CHECK(strstr(err, "0011223344") == NULL && strstr(err, "ffeeddcc") == NULL);
	}
}

static void test_keys_parse_good(void)
{
	static const char text[] = "# two keys\n\nold-1 " HEXA "\n"
				   "new.2\t" HEXB "  primary\n"
				   "last_3 " HEXA;
	char err[256];
	keys_t *k = NULL;
	struct vault_keyring ring;

	CHECK_EQ_INT(keys_parse(text, strlen(text), "mem", &k, err, sizeof err), 0);
	if (!k) {
		printf("  %s\n", err);
		return;
	}
	CHECK_EQ_INT(keys_count(k), 3);
	CHECK_EQ_STR(keys_primary(k)->id, "new.2");
	CHECK_EQ_INT(keys_primary(k)->master[0], 0xff);
	keys_ring(k, &ring);
	CHECK_EQ_INT(ring.n, 3);
	CHECK_EQ_STR(ring.keys[0].id, "old-1");
	CHECK_EQ_INT(ring.keys[0].master[1], 0x11);
	CHECK_EQ_STR(ring.keys[2].id, "last_3");
	keys_free(k);
	keys_free(NULL);
}

static void test_keys_rotate(void)
{
	char p[512], err[512], id[VAULT_KEY_ID_MAX + 1], id2[VAULT_KEY_ID_MAX + 1];
	uint8_t old_master[VAULT_KEY_LEN];
	char old_id[VAULT_KEY_ID_MAX + 1];
	keys_t *k = NULL, *k2 = NULL;
	struct vault_keyring ring;
	struct stat st;
	size_t i;
	int found_old = 0;

	tpath(p, sizeof p, "rot/master.key");
	CHECK_EQ_INT(keys_load_or_create(p, &k, err, sizeof err), 0);
	if (!k)
		return;
	snprintf(old_id, sizeof old_id, "%s", keys_primary(k)->id);
	memcpy(old_master, keys_primary(k)->master, VAULT_KEY_LEN);

	CHECK_EQ_INT(keys_rotate(p, k, id, sizeof id, err, sizeof err), 0);
	CHECK_EQ_INT(keys_count(k), 2);
	CHECK_EQ_STR(keys_primary(k)->id, id);
	CHECK(strcmp(id, old_id) != 0);
	CHECK(memcmp(keys_primary(k)->master, old_master, VAULT_KEY_LEN) != 0);
	/* Same second: the timestamp id is taken, so a counter id is used. */
	CHECK_EQ_INT(keys_rotate(p, k, id2, sizeof id2, err, sizeof err), 0);
	CHECK(strcmp(id2, id) != 0 && strcmp(id2, old_id) != 0);
	CHECK_EQ_INT(keys_count(k), 3);

	CHECK_EQ_INT(stat(p, &st), 0);
	CHECK_EQ_INT(st.st_mode & 07777, 0600);
	CHECK_EQ_INT(count_primary_lines(p), 1);

	CHECK_EQ_INT(keys_load_or_create(p, &k2, err, sizeof err), 0);
	if (k2) {
		CHECK_EQ_INT(keys_count(k2), 3);
		CHECK_EQ_STR(keys_primary(k2)->id, id2);
		keys_ring(k2, &ring);
		for (i = 0; i < ring.n; i++)
			if (strcmp(ring.keys[i].id, old_id) == 0 &&
			    memcmp(ring.keys[i].master, old_master, VAULT_KEY_LEN) == 0)
				found_old = 1;
		CHECK(found_old);
	}
	/* No temporary files are left behind. */
	tpath(p, sizeof p, "rot");
	{
		char cmd[600];

		snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", p);
		CHECK_EQ_INT(system(cmd), 0);
	}
	keys_free(k);
	keys_free(k2);
}

/* Old files still open after rotation; new files are sealed under the new primary. */
static void test_keys_rotate_with_vault(void)
{
	char p[512], plain[512], sealed_old[512], sealed_new[512], err[512];
	keys_t *k = NULL;
	struct vault_keyring ring;
	vault_reader_t *r = NULL;
	int in, out;

	tpath(p, sizeof p, "vault/master.key");
	tpath(plain, sizeof plain, "vault/plain");
	tpath(sealed_old, sizeof sealed_old, "vault/old.rcv");
	tpath(sealed_new, sizeof sealed_new, "vault/new.rcv");
	CHECK_EQ_INT(keys_load_or_create(p, &k, err, sizeof err), 0);
	if (!k)
		return;
	write_file(plain, "evidence bytes", 0600);

	in = open(plain, O_RDONLY);
	out = open(sealed_old, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK_EQ_INT(vault_seal_fd(in, out, keys_primary(k), err, sizeof err), 0);
	close(in);
	close(out);

	CHECK_EQ_INT(keys_rotate(p, k, NULL, 0, err, sizeof err), 0);
	in = open(plain, O_RDONLY);
	out = open(sealed_new, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK_EQ_INT(vault_seal_fd(in, out, keys_primary(k), err, sizeof err), 0);
	close(in);
	close(out);

	keys_ring(k, &ring);
	CHECK_EQ_INT(vault_open(sealed_old, &ring, &r, err, sizeof err), 0);
	if (r) {
		CHECK_EQ_INT(vault_plain_size(r), 14);
		CHECK(strcmp(vault_key_id(r), keys_primary(k)->id) != 0);
	}
	vault_reader_close(r);
	r = NULL;
	CHECK_EQ_INT(vault_open(sealed_new, &ring, &r, err, sizeof err), 0);
	if (r)
		CHECK_EQ_STR(vault_key_id(r), keys_primary(k)->id);
	vault_reader_close(r);
	keys_free(k);
}

static void test_keys_subkeys(void)
{
	static const char text[] = "a " HEXA " primary\n";
	uint8_t url[VAULT_KEY_LEN], audit[VAULT_KEY_LEN], url2[VAULT_KEY_LEN], x[VAULT_KEY_LEN];
	uint8_t zero[VAULT_KEY_LEN] = {0};
	char err[256];
	keys_t *k = NULL;

	CHECK_EQ_INT(keys_parse(text, strlen(text), "mem", &k, err, sizeof err), 0);
	if (!k)
		return;
	CHECK_EQ_INT(keys_subkey(k, KEYS_PURPOSE_URL, url), 0);
	CHECK_EQ_INT(keys_subkey(k, KEYS_PURPOSE_AUDIT, audit), 0);
	CHECK_EQ_INT(keys_subkey(k, KEYS_PURPOSE_URL, url2), 0);
	CHECK(memcmp(url, audit, VAULT_KEY_LEN) != 0);
	CHECK(memcmp(url, url2, VAULT_KEY_LEN) == 0);
	CHECK(memcmp(url, keys_primary(k)->master, VAULT_KEY_LEN) != 0);
	CHECK(memcmp(audit, keys_primary(k)->master, VAULT_KEY_LEN) != 0);
	CHECK_EQ_INT(vault_derive(keys_primary(k)->master, KEYS_PURPOSE_AUDIT, x), 0);
	CHECK(memcmp(x, audit, VAULT_KEY_LEN) == 0);
	memset(x, 0xaa, sizeof x);
	CHECK_EQ_INT(keys_subkey(k, VAULT_PURPOSE_FILE, x), KEYS_EINVAL);
	CHECK(memcmp(x, zero, VAULT_KEY_LEN) == 0);
	CHECK_EQ_INT(keys_subkey(k, "", x), KEYS_EINVAL);
	keys_free(k);
}

static int rm_dir(const char *d)
{
	char cmd[400];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
	return system(cmd);
}

int main(void)
{
	const char *t = getenv("TMPDIR");

	umask(022);
	snprintf(tdir, sizeof tdir, "%s/test_keys.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_keys_create_and_reload);
	RUN(test_keys_path);
	RUN(test_keys_loose_mode_refused);
	RUN(test_keys_symlink_and_dir_refused);
	RUN(test_keys_other_owner_refused);
	RUN(test_keys_malformed_refused);
	RUN(test_keys_parse_good);
	RUN(test_keys_rotate);
	RUN(test_keys_rotate_with_vault);
	RUN(test_keys_subkeys);
	if (rm_dir(tdir) != 0)
		fprintf(stderr, "cannot remove %s\n", tdir);
	printf("%d passed, %d failed\n", th_passed, th_failed);
	return test_main_end();
}
