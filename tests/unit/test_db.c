/*
 * test_db.c - the SQLite index: creation and reopening (schema version, WAL, mode 0600), refusal
 * of newer schemas and of files that are not databases, incident upserts (resolved_wall_ns set
 * once), strict metadata and time parsing, file rows, paging, the retention query and its
 * boundaries, marking captures deleted, read-only opening, and concurrent writers. Schema
 * version 2: the migration of a version-1 file, and the export queue's state machine (enqueue,
 * claims by state transition, owner-only updates, backoff due times, stale owners, backfill,
 * paging) including concurrent claimers that must never hold the same row.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "vault/db.h"
#include "testhelp.h"

static char tdir[256];

/* A fresh directory tdir/name for one test, its path in out. */
static void newdir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tdir, name);
	if (mkdir(out, 0700) != 0)
		perror(out);
}

/* Metadata shaped like the agent's ID.json (resolved_at NULL: still open). */
static const char *meta(char *buf, size_t len, long id, const char *state, const char *resolved_at,
			long packets)
{
	char r[64];

	if (resolved_at)
		snprintf(r, sizeof r, "\"%s\"", resolved_at);
	else
		snprintf(r, sizeof r, "null");
	snprintf(buf, len,
		 "{\n  \"id\": %ld,\n  \"state\": \"%s\",\n  \"mode\": \"capture\",\n"
		 "  \"trigger\": {\n    \"threshold\": \"syn_pps\",\n    \"limit\": 5000.0,\n"
		 "    \"time\": \"2024-01-01T00:00:06.050000Z\"\n  },\n"
		 "  \"started_at\": \"2024-01-01T00:00:06.050000Z\",\n  \"resolved_at\": %s,\n"
		 "  \"pcap_file\": \"%ld.pcap\",\n  \"pcap_packets\": %ld,\n"
		 "  \"cap_reached\": %s,\n  \"top_sources\": [{\"addr\": \"10.0.0.1\"}],\n"
		 "  \"classification\": \"syn_flood\"\n}\n",
		 id, state, r, id, packets, packets >= 10000 ? "true" : "false");
	return buf;
}

static void file_row(struct db_file *f, long id, uint64_t sealed_bytes)
{
	memset(f, 0, sizeof *f);
	snprintf(f->name, sizeof f->name, "%ld.pcap.enc", id);
	snprintf(f->format, sizeof f->format, "pcap");
	f->plain_bytes = 473528;
	f->sealed_bytes = sealed_bytes;
	snprintf(f->sha256, sizeof f->sha256, "%064x", (unsigned)id);
	snprintf(f->key_id, sizeof f->key_id, "k0123456789abcde");
	f->sealed_ns = 1700000000123456789LL;
}

/* Opens dir read-write; prints the error and returns NULL on failure. */
static db_t *open_rw(const char *dir)
{
	char err[512];
	db_t *d = NULL;

	if (db_open(dir, 0, &d, err, sizeof err) != 0)
		printf("  db_open: %s\n", err);
	return d;
}

/* Runs one SQL statement with sqlite3 directly; the text of the first column of its row. */
static void raw_sql(const char *dir, const char *sql, char *out, size_t len)
{
	char p[512];
	sqlite3 *s = NULL;
	sqlite3_stmt *st = NULL;

	snprintf(p, sizeof p, "%s/%s", dir, DB_FILE);
	if (out)
		out[0] = 0;
	if (sqlite3_open(p, &s) != SQLITE_OK ||
	    sqlite3_prepare_v2(s, sql, -1, &st, NULL) != SQLITE_OK)
		printf("  raw_sql %s: %s\n", sql, sqlite3_errmsg(s));
	else if (sqlite3_step(st) == SQLITE_ROW && out)
		snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(s);
}

static void test_db_create_reopen(void)
{
	char dir[300], p[400], got[64], err[512], m[1024];
	struct stat sb;
	db_t *d, *ro = NULL;

	newdir(dir, sizeof dir, "create");
	d = open_rw(dir);
	CHECK(d != NULL);
	if (!d)
		return;
	CHECK_EQ_INT(db_schema_version(d), DB_SCHEMA_VERSION);
	db_close(d);
	snprintf(p, sizeof p, "%s/%s", dir, DB_FILE);
	CHECK_EQ_INT(stat(p, &sb), 0);
	CHECK_EQ_INT(sb.st_mode & 07777, 0600);
	raw_sql(dir, "PRAGMA journal_mode", got, sizeof got);
	CHECK_EQ_STR(got, "wal");
	raw_sql(dir, "PRAGMA user_version", got, sizeof got);
	CHECK_EQ_STR(got, "2");

	d = open_rw(dir); /* reopen: nothing to migrate */
	CHECK(d != NULL);
	CHECK_EQ_INT(db_schema_version(d), DB_SCHEMA_VERSION);
	CHECK_EQ_INT(db_put_incident(d, meta(m, sizeof m, 1, "open", NULL, 5), 1000, err,
				     sizeof err), 0);
	snprintf(p, sizeof p, "%s/%s-wal", dir, DB_FILE); /* SQLite gives it the db's mode */
	CHECK_EQ_INT(stat(p, &sb), 0);
	CHECK_EQ_INT(sb.st_mode & 07777, 0600);
	snprintf(p, sizeof p, "%s/%s", dir, DB_FILE);
	CHECK_EQ_INT(db_open(dir, 1, &ro, err, sizeof err), 0);
	CHECK(ro != NULL);
	if (ro) { /* reads the writer's row; writes are refused */
		struct db_incident inc;

		CHECK_EQ_INT(db_schema_version(ro), DB_SCHEMA_VERSION);
		CHECK_EQ_INT(db_get_incident(ro, 1, &inc, err, sizeof err), 0);
		CHECK_EQ_INT(inc.pcap_packets, 5);
		CHECK_EQ_INT(db_put_incident(ro, m, 2000, err, sizeof err), DB_ERROR);
		CHECK(strstr(err, p) != NULL);
		CHECK(strstr(err, "readonly") != NULL);
	}
	db_close(ro);
	db_close(d);
	/* read-only again with no writer and no -wal or -shm left */
	CHECK_EQ_INT(db_open(dir, 1, &ro, err, sizeof err), 0);
	if (ro) {
		struct db_incident inc;

		CHECK_EQ_INT(db_get_incident(ro, 1, &inc, err, sizeof err), 0);
		CHECK_EQ_STR(inc.state, "open");
	}
	db_close(ro);
	db_close(NULL);
	CHECK_EQ_INT(db_schema_version(NULL), 0);
}

static void test_db_newer_version_refused(void)
{
	char dir[300], err[512], got[64], want[400];
	db_t *d;

	newdir(dir, sizeof dir, "newer");
	db_close(open_rw(dir));
	raw_sql(dir, "PRAGMA user_version = 3", NULL, 0);
	for (int ro = 0; ro <= 1; ro++) {
		static int sentinel;

		d = (db_t *)(void *)&sentinel; /* db_open must reset it to NULL */
		CHECK_EQ_INT(db_open(dir, ro, &d, err, sizeof err), DB_ERROR);
		CHECK(d == NULL);
		snprintf(want, sizeof want,
			 "index `%s/index.db' has schema version 3; this ringcap knows up to 2: "
			 "upgrade ringcap",
			 dir);
		CHECK_EQ_STR(err, want);
	}
	raw_sql(dir, "PRAGMA user_version", got, sizeof got);
	CHECK_EQ_STR(got, "3"); /* left as it was */
}

static void test_db_not_a_database(void)
{
	static const char *const junk[] = {"hello", "{\"id\": 1}\n"};
	char dir[300], p[400], err[512], big[4096];
	db_t *d;
	FILE *f;

	memset(big, 'x', sizeof big);
	for (size_t i = 0; i < 3; i++) {
		char name[32];

		snprintf(name, sizeof name, "junk%zu", i);
		newdir(dir, sizeof dir, name);
		snprintf(p, sizeof p, "%s/%s", dir, DB_FILE);
		f = fopen(p, "w");
		if (!f)
			return;
		if (i < 2)
			fputs(junk[i], f);
		else
			fwrite(big, 1, sizeof big, f);
		fclose(f);
		for (int ro = 0; ro <= 1; ro++) {
			d = NULL;
			err[0] = 0;
			CHECK_EQ_INT(db_open(dir, ro, &d, err, sizeof err), DB_ERROR);
			CHECK(d == NULL);
			CHECK(strstr(err, p) != NULL);
			CHECK(strstr(err, "not an SQLite database") != NULL);
			if (!strstr(err, "not an SQLite database"))
				printf("  got: %s\n", err);
		}
	}
}

static void test_db_missing(void)
{
	char dir[300], err[512];
	db_t *d = NULL;

	newdir(dir, sizeof dir, "missing");
	CHECK_EQ_INT(db_open(dir, 1, &d, err, sizeof err), DB_ENOTFOUND);
	CHECK(d == NULL);
	CHECK(strstr(err, dir) != NULL);
	CHECK(access(dir, F_OK) == 0);
	snprintf(dir + strlen(dir), sizeof dir - strlen(dir), "/no/such/dir");
	CHECK_EQ_INT(db_open(dir, 0, &d, err, sizeof err), DB_ERROR);
	CHECK(d == NULL);
	CHECK(strstr(err, "/no/such/dir/index.db") != NULL);
}

static void test_db_incident_round_trip(void)
{
	char dir[300], err[512], m[1024], m2[1024], *text = NULL;
	struct db_incident inc;
	db_t *d;

	newdir(dir, sizeof dir, "roundtrip");
	d = open_rw(dir);
	if (!d)
		return;
	CHECK_EQ_INT(db_get_incident(d, 7, &inc, err, sizeof err), DB_ENOTFOUND);
	CHECK(strstr(err, dir) != NULL);
	CHECK_EQ_INT(db_get_meta(d, 7, &text, err, sizeof err), DB_ENOTFOUND);
	CHECK(text == NULL);

	CHECK_EQ_INT(db_put_incident(d, meta(m, sizeof m, 7, "open", NULL, 500), 111, err,
				     sizeof err), 0);
	CHECK_EQ_INT(db_get_incident(d, 7, &inc, err, sizeof err), 0);
	CHECK_EQ_INT(inc.id, 7);
	CHECK_EQ_STR(inc.state, "open");
	CHECK_EQ_STR(inc.trigger, "syn_pps");
	CHECK_EQ_STR(inc.classification, "syn_flood");
	CHECK_EQ_INT(inc.started_ns, 1704067206050000000LL);
	CHECK_EQ_INT(inc.resolved_ns, 0);
	CHECK_EQ_INT(inc.resolved_wall_ns, 0);
	CHECK_EQ_INT(inc.pcap_packets, 500);
	CHECK_EQ_INT(inc.cap_reached, 0);
	CHECK_EQ_INT(inc.expired, 0);
	CHECK_EQ_INT(inc.has_file, 0);
	CHECK_EQ_INT(db_get_meta(d, 7, &text, err, sizeof err), 0);
	CHECK_EQ_STR(text, m);
	free(text);

	/* resolved: resolved_wall_ns is the wall clock of the first resolved write only */
	meta(m2, sizeof m2, 7, "resolved", "2024-01-01T00:00:10.290000Z", 10000);
	CHECK_EQ_INT(db_put_incident(d, m2, 5000, err, sizeof err), 0);
	CHECK_EQ_INT(db_get_incident(d, 7, &inc, err, sizeof err), 0);
	CHECK_EQ_STR(inc.state, "resolved");
	CHECK_EQ_INT(inc.resolved_ns, 1704067210290000000LL);
	CHECK_EQ_INT(inc.resolved_wall_ns, 5000);
	CHECK_EQ_INT(inc.cap_reached, 1);
	meta(m2, sizeof m2, 7, "resolved", "2024-01-01T00:00:10.290000Z", 10001);
	CHECK_EQ_INT(db_put_incident(d, m2, 9000, err, sizeof err), 0);
	CHECK_EQ_INT(db_get_incident(d, 7, &inc, err, sizeof err), 0);
	CHECK_EQ_INT(inc.resolved_wall_ns, 5000);
	CHECK_EQ_INT(inc.pcap_packets, 10001);
	CHECK_EQ_INT(db_get_meta(d, 7, &text, err, sizeof err), 0);
	CHECK_EQ_STR(text, m2);
	free(text);
	db_close(d);
}

/* Times through db_put_incident's started_at; a time of 0 would read back as "not set". */
static void test_db_times(void)
{
	static const struct {
		const char *s;
		int64_t ns;
	} good[] = {
		{"2024-01-01T00:00:06.050000Z", 1704067206050000000LL},
		{"1970-01-01T00:00:00.000000001Z", 1},
		{"1969-12-31T23:59:59.5Z", -500000000},
		{"2024-02-29T12:00:00Z", 1709208000000000000LL},
		{"2024-01-01T01:00:00+01:00", 1704067200000000000LL},
		{"2023-12-31T23:30:00-00:30", 1704067200000000000LL},
		{"2262-04-11T23:47:16.854775807Z", INT64_MAX},
	};
	static const char *const bad[] = {
		"", "2024-01-01", "2024-01-01T00:00:00", "2024-01-01 00:00:00Z",
		"2024-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2024-04-31T00:00:00Z",
		"2024-01-01T24:00:00Z", "2024-01-01T00:60:00Z", "2024-01-01T00:00:61Z",
		"2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.0000000001Z", "2024-01-01T00:00:00Zx",
		"2024-01-01T00:00:00+1:00", "2024-01-01T00:00:00+01:60", "24-01-01T00:00:00Z",
		"2024-1-01T00:00:00Z", "2262-04-11T23:47:16.854775808Z", "9999-12-31T23:59:59Z",
		"+024-01-01T00:00:00Z",
	};
	char dir[300], err[512], m[512];
	struct db_incident inc;
	db_t *d;

	newdir(dir, sizeof dir, "times");
	d = open_rw(dir);
	if (!d)
		return;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(m, sizeof m, "{\"id\": %zu, \"started_at\": \"%s\"}", i + 1, good[i].s);
		CHECK_EQ_INT(db_put_incident(d, m, 1, err, sizeof err), 0);
		CHECK_EQ_INT(db_get_incident(d, (long)i + 1, &inc, err, sizeof err), 0);
		CHECK_EQ_INT(inc.started_ns, good[i].ns);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(m, sizeof m, "{\"id\": 100, \"resolved_at\": \"%s\"}", bad[i]);
		err[0] = 0;
		CHECK_EQ_INT(db_put_incident(d, m, 1, err, sizeof err), DB_ERROR);
		CHECK(strstr(err, "`resolved_at' is not an RFC 3339 time") != NULL);
		if (!strstr(err, bad[i]))
			printf("  accepted or unquoted: `%s' (%s)\n", bad[i], err);
	}
	CHECK_EQ_INT(db_get_incident(d, 100, &inc, err, sizeof err), DB_ENOTFOUND);
	db_close(d);
}

static void test_db_bad_metadata(void)
{
	static const char *const bad[] = {
		"not json", "{\"id\": 1", "[1, 2]", "{}", "{\"id\": \"7\"}", "{\"id\": 0}",
		"{\"id\": -1}", "{\"id\": 1.5}", "{\"id\": 1, \"state\": 5}",
		"{\"id\": 1, \"trigger\": \"pps\"}", "{\"id\": 1, \"trigger\": {\"threshold\": 3}}",
		"{\"id\": 1, \"pcap_packets\": -3}", "{\"id\": 1, \"pcap_packets\": \"9\"}",
		"{\"id\": 1, \"started_at\": 1704067206}", "",
	};
	char dir[300], err[512];
	long total = -1;
	db_t *d;

	newdir(dir, sizeof dir, "badmeta");
	d = open_rw(dir);
	if (!d)
		return;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		CHECK_EQ_INT(db_put_incident(d, bad[i], 1, err, sizeof err), DB_ERROR);
		CHECK(strstr(err, dir) != NULL);
		CHECK(strstr(err, "metadata") != NULL);
	}
	CHECK_EQ_INT(db_put_incident(d, NULL, 1, err, sizeof err), DB_ERROR);
	CHECK_EQ_INT(db_list_incidents(d, 0, 0, NULL, &total, err, sizeof err), 0);
	CHECK_EQ_INT(total, 0);
	/* only "id" is required */
	CHECK_EQ_INT(db_put_incident(d, "{\"id\": 3}", 1, err, sizeof err), 0);
	db_close(d);
}

static void test_db_files(void)
{
	char dir[300], err[512], m[1024];
	struct db_incident inc;
	struct db_file f;
	db_t *d;

	newdir(dir, sizeof dir, "files");
	d = open_rw(dir);
	if (!d)
		return;
	file_row(&f, 42, 480000);
	CHECK_EQ_INT(db_put_file(d, 42, &f, err, sizeof err), DB_ERROR);
	CHECK(strstr(err, dir) != NULL);
	CHECK(strstr(err, "no incident 42") != NULL);

	CHECK_EQ_INT(db_put_incident(d, meta(m, sizeof m, 42, "open", NULL, 1), 10, err,
				     sizeof err), 0);
	CHECK_EQ_INT(db_put_file(d, 42, &f, err, sizeof err), 0);
	CHECK_EQ_INT(db_get_incident(d, 42, &inc, err, sizeof err), 0);
	CHECK_EQ_INT(inc.has_file, 1);
	CHECK_EQ_STR(inc.file.name, "42.pcap.enc");
	CHECK_EQ_STR(inc.file.format, "pcap");
	CHECK_EQ_INT(inc.file.plain_bytes, 473528);
	CHECK_EQ_INT(inc.file.sealed_bytes, 480000);
	CHECK_EQ_STR(inc.file.sha256, f.sha256);
	CHECK_EQ_INT(strlen(inc.file.sha256), 64);
	CHECK_EQ_STR(inc.file.key_id, "k0123456789abcde");
	CHECK_EQ_INT(inc.file.sealed_ns, 1700000000123456789LL);
	CHECK_EQ_INT(inc.file.deleted_ns, 0);
	CHECK_EQ_STR(inc.file.deleted_reason, "");

	file_row(&f, 42, 490000); /* replaced */
	snprintf(f.format, sizeof f.format, "pcapng");
	CHECK_EQ_INT(db_put_file(d, 42, &f, err, sizeof err), 0);
	/* an update of the incident leaves its file row alone */
	CHECK_EQ_INT(db_put_incident(d, meta(m, sizeof m, 42, "resolved", "2024-01-01T00:00:10Z",
					     2), 20, err, sizeof err), 0);
	CHECK_EQ_INT(db_get_incident(d, 42, &inc, err, sizeof err), 0);
	CHECK_EQ_INT(inc.has_file, 1);
	CHECK_EQ_INT(inc.file.sealed_bytes, 490000);
	CHECK_EQ_STR(inc.file.format, "pcapng");

	memset(f.name, 0, sizeof f.name);
	CHECK_EQ_INT(db_put_file(d, 42, &f, err, sizeof err), DB_ERROR);
	db_close(d);
}

static void test_db_list_paging(void)
{
	struct db_incident page[10];
	char dir[300], err[512], m[1024];
	long total = -1;
	struct db_file f;
	db_t *d;
	int n;

	newdir(dir, sizeof dir, "paging");
	d = open_rw(dir);
	if (!d)
		return;
	CHECK_EQ_INT(db_list_incidents(d, 0, 10, page, &total, err, sizeof err), 0);
	CHECK_EQ_INT(total, 0);
	for (long k = 0; k < 25; k++) {
		long id = k * 7 % 25 + 1; /* inserted out of order */

		CHECK_EQ_INT(db_put_incident(d, meta(m, sizeof m, id, "open", NULL, id), 1, err,
					     sizeof err), 0);
		file_row(&f, id, 100);
		if (id % 2 == 0)
			CHECK_EQ_INT(db_put_file(d, id, &f, err, sizeof err), 0);
	}
	n = db_list_incidents(d, 0, 10, page, &total, err, sizeof err);
	CHECK_EQ_INT(n, 10);
	CHECK_EQ_INT(total, 25);
	for (int i = 0; i < n && i < 10; i++) {
		CHECK_EQ_INT(page[i].id, 25 - i);
		CHECK_EQ_INT(page[i].pcap_packets, 25 - i);
		CHECK_EQ_INT(page[i].has_file, page[i].id % 2 == 0);
	}
	n = db_list_incidents(d, 16, 10, page, NULL, err, sizeof err);
	CHECK_EQ_INT(n, 10);
	CHECK_EQ_INT(page[0].id, 15);
	CHECK_EQ_INT(page[9].id, 6);
	total = -1;
	n = db_list_incidents(d, 6, 10, page, &total, err, sizeof err);
	CHECK_EQ_INT(n, 5);
	CHECK_EQ_INT(total, 25);
	CHECK_EQ_INT(page[0].id, 5);
	CHECK_EQ_INT(page[4].id, 1);
	CHECK_EQ_INT(db_list_incidents(d, 1, 10, page, NULL, err, sizeof err), 0);
	CHECK_EQ_INT(db_list_incidents(d, 0, 0, NULL, &total, err, sizeof err), 0);
	CHECK_EQ_INT(db_list_incidents(d, 0, -1, page, NULL, err, sizeof err), DB_ERROR);
	db_close(d);
}

/* Incident id: resolved at wall time wall (0: still open), with a file row unless nofile. */
static void add(db_t *d, long id, int64_t wall, int nofile)
{
	char err[512], m[1024];
	struct db_file f;

	if (wall)
		meta(m, sizeof m, id, "resolved", "2024-01-01T00:00:10Z", 1);
	else
		meta(m, sizeof m, id, "open", NULL, 1);
	CHECK_EQ_INT(db_put_incident(d, m, wall, err, sizeof err), 0);
	file_row(&f, id, 10);
	if (!nofile)
		CHECK_EQ_INT(db_put_file(d, id, &f, err, sizeof err), 0);
}

static void test_db_retention(void)
{
	char dir[300], err[512], *text = NULL;
	struct db_incident inc;
	long ids[8];
	db_t *d;

	newdir(dir, sizeof dir, "retention");
	d = open_rw(dir);
	if (!d)
		return;
	add(d, 1, 2000, 0); /* resolved later than 2 */
	add(d, 2, 1000, 0);
	add(d, 3, 0, 0);    /* open: never due */
	add(d, 4, 500, 0);  /* its capture deleted below: never due again */
	add(d, 5, 700, 1);  /* no capture file */
	CHECK_EQ_INT(db_mark_deleted(d, 4, 600, "retention", err, sizeof err), 0);

	CHECK_EQ_INT(db_due_for_retention(d, 1099, 100, ids, 8, err, sizeof err), 0);
	CHECK_EQ_INT(db_due_for_retention(d, 1100, 100, ids, 8, err, sizeof err), 1);
	CHECK_EQ_INT(ids[0], 2); /* exactly at the limit */
	CHECK_EQ_INT(db_due_for_retention(d, 2099, 100, ids, 8, err, sizeof err), 1);
	CHECK_EQ_INT(db_due_for_retention(d, 2100, 100, ids, 8, err, sizeof err), 2);
	CHECK_EQ_INT(ids[0], 2); /* oldest first */
	CHECK_EQ_INT(ids[1], 1);
	CHECK_EQ_INT(db_due_for_retention(d, INT64_MAX, 0, ids, 8, err, sizeof err), 2);
	CHECK_EQ_INT(db_due_for_retention(d, INT64_MAX, 0, ids, 1, err, sizeof err), 1);
	CHECK_EQ_INT(ids[0], 2);
	CHECK_EQ_INT(db_due_for_retention(d, INT64_MAX, 0, ids, 0, err, sizeof err), 0);
	CHECK_EQ_INT(db_due_for_retention(d, -5, INT64_MAX, ids, 8, err, sizeof err), 0);
	CHECK_EQ_INT(db_due_for_retention(d, 5000, -1, ids, 8, err, sizeof err), DB_ERROR);
	CHECK(strstr(err, dir) != NULL);

	/* resolving 3 makes it due from its own resolution time */
	add(d, 3, 3000, 0);
	CHECK_EQ_INT(db_due_for_retention(d, 3100, 100, ids, 8, err, sizeof err), 3);
	CHECK_EQ_INT(ids[2], 3);

	CHECK_EQ_INT(db_mark_deleted(d, 2, 7777, "retention", err, sizeof err), 0);
	CHECK_EQ_INT(db_get_incident(d, 2, &inc, err, sizeof err), 0);
	CHECK_EQ_INT(inc.expired, 1);
	CHECK_EQ_INT(inc.has_file, 1);
	CHECK_EQ_INT(inc.file.deleted_ns, 7777);
	CHECK_EQ_STR(inc.file.deleted_reason, "retention");
	CHECK_EQ_STR(inc.state, "resolved");
	CHECK_EQ_INT(db_due_for_retention(d, 3100, 100, ids, 8, err, sizeof err), 2);
	CHECK_EQ_INT(ids[0], 1);
	/* the metadata stays; an update keeps the expired flag; a second mark keeps the first */
	CHECK_EQ_INT(db_get_meta(d, 2, &text, err, sizeof err), 0);
	CHECK(text && strstr(text, "\"id\": 2,") != NULL);
	free(text);
	add(d, 2, 9000, 1);
	CHECK_EQ_INT(db_mark_deleted(d, 2, 8888, "manual", err, sizeof err), 0);
	CHECK_EQ_INT(db_get_incident(d, 2, &inc, err, sizeof err), 0);
	CHECK_EQ_INT(inc.expired, 1);
	CHECK_EQ_INT(inc.resolved_wall_ns, 1000);
	CHECK_EQ_INT(inc.file.deleted_ns, 7777);
	CHECK_EQ_STR(inc.file.deleted_reason, "retention");
	/* no file row, or no incident at all: nothing marked */
	CHECK_EQ_INT(db_mark_deleted(d, 5, 1, "retention", err, sizeof err), DB_ENOTFOUND);
	CHECK_EQ_INT(db_mark_deleted(d, 99, 1, "retention", err, sizeof err), DB_ENOTFOUND);
	CHECK(strstr(err, dir) != NULL);
	CHECK_EQ_INT(db_get_incident(d, 5, &inc, err, sizeof err), 0);
	CHECK_EQ_INT(inc.expired, 0);
	db_close(d);
}

/* ---- concurrency ---- */

#define PER_THREAD 40

struct worker {
	const char *dir;
	db_t *shared;      /* NULL: open a connection of its own */
	pthread_barrier_t *start;
	long base;
	int errors;
	char err[512];
};

static void *work(void *arg)
{
	struct worker *w = arg;
	char m[1024], err[512];
	struct db_incident page[4];
	db_t *d = w->shared;
	struct db_file f;

	pthread_barrier_wait(w->start);
	if (!d && db_open(w->dir, 0, &d, w->err, sizeof w->err) != 0) {
		w->errors++;
		return NULL;
	}
	for (long id = w->base; id < w->base + PER_THREAD; id++) {
		int rc = db_put_incident(d, meta(m, sizeof m, id, "open", NULL, 1), 1, err,
					 sizeof err);

		file_row(&f, id, 10);
		if (!rc)
			rc = db_put_file(d, id, &f, err, sizeof err);
		if (!rc)
			rc = db_put_incident(d, meta(m, sizeof m, id, "resolved",
						     "2024-01-01T00:00:10Z", 2),
					     2, err, sizeof err);
		if (!rc && db_list_incidents(d, 0, 4, page, NULL, err, sizeof err) < 0)
			rc = DB_ERROR;
		if (rc) {
			if (!w->errors++)
				snprintf(w->err, sizeof w->err, "%s", err);
		}
	}
	if (!w->shared)
		db_close(d);
	return NULL;
}

/* Runs n workers; those with own[i] open their own db_t, the others share `shared'. */
static void run_workers(const char *dir, int n, const int *own, db_t *shared, long base)
{
	pthread_barrier_t start;
	struct worker w[4];
	pthread_t t[4];

	pthread_barrier_init(&start, NULL, (unsigned)n);
	for (int i = 0; i < n; i++) {
		w[i] = (struct worker){.dir = dir, .shared = own[i] ? NULL : shared,
				       .start = &start, .base = base + i * PER_THREAD};
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < n; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ_INT(w[i].errors, 0);
		if (w[i].errors)
			printf("  worker %d: %s\n", i, w[i].err);
	}
	pthread_barrier_destroy(&start);
}

static void test_db_concurrent_writers(void)
{
	static const int all_own[] = {1, 1, 1}, mixed[] = {0, 0, 1, 1};
	char dir[300], err[512];
	long ids[4 * 3 * PER_THREAD], total = -1;
	db_t *d;

	newdir(dir, sizeof dir, "concurrent");
	/* three connections create and migrate the same new file at the same moment */
	run_workers(dir, 3, all_own, NULL, 1);
	/* two threads share one db_t while two others have their own */
	d = open_rw(dir);
	if (!d)
		return;
	run_workers(dir, 4, mixed, d, 1 + 3 * PER_THREAD);
	CHECK_EQ_INT(db_list_incidents(d, 0, 0, NULL, &total, err, sizeof err), 0);
	CHECK_EQ_INT(total, 7 * PER_THREAD);
	CHECK_EQ_INT(db_due_for_retention(d, 2, 0, ids, 4 * 3 * PER_THREAD, err, sizeof err),
		     7 * PER_THREAD);
	db_close(d);
}

/* ---- schema version 2: the export queue ---- */

/* Runs several SQL statements with sqlite3 directly (creating the file). */
static int raw_exec(const char *dir, const char *sql)
{
	char p[512];
	sqlite3 *s = NULL;
	int rc;

	snprintf(p, sizeof p, "%s/%s", dir, DB_FILE);
	rc = sqlite3_open(p, &s) == SQLITE_OK && sqlite3_exec(s, sql, NULL, NULL, NULL) == SQLITE_OK;
	if (!rc)
		printf("  raw_exec: %s\n", sqlite3_errmsg(s));
	sqlite3_close(s);
	return rc ? 0 : -1;
}

/* A file as ringcap with schema version 1 left it: migrated to 2 at open, rows kept. */
static void test_db_migrate_v1(void)
{
	char dir[300], err[512], got[64], m[1024];
	struct db_incident inc;
	struct db_export e;
	db_t *d = NULL;

	newdir(dir, sizeof dir, "v1");
	if (raw_exec(dir,
		     "CREATE TABLE incidents("
		     " id INTEGER PRIMARY KEY, state TEXT NOT NULL, \"trigger\" TEXT NOT NULL,"
		     " classification TEXT NOT NULL, started_ns INTEGER, resolved_ns INTEGER,"
		     " resolved_wall_ns INTEGER, pcap_packets INTEGER NOT NULL DEFAULT 0,"
		     " cap_reached INTEGER NOT NULL DEFAULT 0, meta TEXT NOT NULL,"
		     " expired INTEGER NOT NULL DEFAULT 0, updated_ns INTEGER);"
		     "CREATE TABLE files("
		     " incident_id INTEGER PRIMARY KEY REFERENCES incidents(id), name TEXT NOT NULL,"
		     " format TEXT NOT NULL, plain_bytes INTEGER, sealed_bytes INTEGER, sha256 TEXT,"
		     " key_id TEXT, sealed_ns INTEGER, deleted_ns INTEGER, deleted_reason TEXT);"
		     "CREATE INDEX incidents_resolved_wall ON incidents(resolved_wall_ns);"
		     "INSERT INTO incidents(id, state, \"trigger\", classification, resolved_wall_ns,"
		     " pcap_packets, meta) VALUES(3, 'resolved', 'syn_pps', 'syn_flood', 100, 9, '{}');"
		     "INSERT INTO files(incident_id, name, format) VALUES(3, '3.pcap.enc', 'pcap');"
		     "PRAGMA user_version = 1;"))
		return;
	/* read-only cannot migrate: refused, file untouched */
	CHECK_EQ_INT(db_open(dir, 1, &d, err, sizeof err), DB_ERROR);
	CHECK(strstr(err, "older than 2") != NULL);
	raw_sql(dir, "PRAGMA user_version", got, sizeof got);
	CHECK_EQ_STR(got, "1");
	d = open_rw(dir);
	if (!d)
		return;
	CHECK_EQ_INT(db_schema_version(d), 2);
	raw_sql(dir, "PRAGMA user_version", got, sizeof got);
	CHECK_EQ_STR(got, "2");
	CHECK_EQ_INT(db_get_incident(d, 3, &inc, err, sizeof err), 0);
	CHECK_EQ_INT(inc.has_file, 1);
	CHECK_EQ_STR(inc.file.name, "3.pcap.enc");
	/* the new table works, and the backfill finds the sealed capture */
	CHECK_EQ_INT(db_export_get(d, "incident", "3", &e, err, sizeof err), DB_ENOTFOUND);
	CHECK_EQ_INT(db_export_backfill(d, 1000, err, sizeof err), 1);
	CHECK_EQ_INT(db_export_get(d, "incident", "3", &e, err, sizeof err), 0);
	CHECK_EQ_STR(e.state, "queued");
	CHECK_EQ_INT(db_put_incident(d, meta(m, sizeof m, 4, "open", NULL, 1), 10, err, sizeof err),
		     0);
	db_close(d);
}

static void test_db_export_queue(void)
{
	char dir[300], err[512];
	struct db_export e, e2;
	int64_t when = 0;
	db_t *d;

	newdir(dir, sizeof dir, "queue");
	d = open_rw(dir);
	if (!d)
		return;
	CHECK_EQ_INT(db_export_next_due(d, &when, err, sizeof err), DB_ENOTFOUND);
	CHECK_EQ_INT(db_export_claim(d, 0, 1000, "me:1", 0, &e, err, sizeof err), DB_ENOTFOUND);
	/* enqueue: once per kind/ref */
	CHECK_EQ_INT(db_export_enqueue(d, "incident", "1", 1000, err, sizeof err), 1);
	CHECK_EQ_INT(db_export_enqueue(d, "incident", "1", 2000, err, sizeof err), 0);
	CHECK_EQ_INT(db_export_enqueue(d, "pcap", "capture_20240101_000000_0001.pcap", 1500, err,
				       sizeof err), 1);
	CHECK_EQ_INT(db_export_enqueue(d, "pcap", "1", 1500, err, sizeof err), 1);
	CHECK_EQ_INT(db_export_enqueue(d, "video", "1", 1500, err, sizeof err), DB_ERROR);
	CHECK_EQ_INT(db_export_enqueue(d, "incident", "", 1500, err, sizeof err), DB_ERROR);
	CHECK_EQ_INT(db_export_get(d, "incident", "1", &e, err, sizeof err), 0);
	CHECK_EQ_STR(e.state, "queued");
	CHECK_EQ_INT(e.attempts, 0);
	CHECK_EQ_INT(e.queued_ns, 1000);
	CHECK_EQ_INT(e.next_attempt_ns, 1000);
	CHECK_EQ_STR(e.owner, "");
	CHECK_EQ_INT(db_export_next_due(d, &when, err, sizeof err), 0);
	CHECK_EQ_INT(when, 1000);

	/* the next due row is taken first (oldest due time, then row order) */
	CHECK_EQ_INT(db_export_claim(d, 0, 999, "me:1", 0, &e, err, sizeof err), DB_ENOTFOUND);
	CHECK_EQ_INT(db_export_claim(d, 0, 1200, "me:1", 0, &e, err, sizeof err), 0);
	CHECK_EQ_STR(e.kind, "incident");
	CHECK_EQ_STR(e.ref, "1");
	CHECK_EQ_STR(e.state, "uploading");
	CHECK_EQ_STR(e.owner, "me:1");
	CHECK_EQ_INT(e.attempts, 1);
	CHECK_EQ_INT(e.started_ns, 1200);
	/* someone else: busy, and told who holds it; a "next due" claim takes another row */
	CHECK_EQ_INT(db_export_claim(d, e.row, 1300, "other:2", 1, &e2, err, sizeof err), DB_EBUSY);
	CHECK_EQ_STR(e2.owner, "me:1");
	CHECK(strstr(err, "me:1") != NULL);
	CHECK_EQ_INT(db_export_claim(d, 0, 1500, "other:2", 0, &e2, err, sizeof err), 0);
	CHECK_EQ_STR(e2.kind, "pcap");
	CHECK_EQ_STR(e2.ref, "capture_20240101_000000_0001.pcap");
	/* only the owner records the outcome, once */
	snprintf(e.state, sizeof e.state, "queued");
	e.next_attempt_ns = 1200 + 5000;
	snprintf(e.last_error, sizeof e.last_error, "PUT: HTTP 403 SignatureDoesNotMatch");
	snprintf(e.object_key, sizeof e.object_key, "p/a/incidents/1.pcap");
	snprintf(e.upload_id, sizeof e.upload_id, "2~abc");
	CHECK_EQ_INT(db_export_update(d, &e, "other:2", 1400, err, sizeof err), DB_ENOTFOUND);
	CHECK_EQ_INT(db_export_update(d, &e, "me:1", 1400, err, sizeof err), 0);
	CHECK_EQ_INT(db_export_update(d, &e, "me:1", 1400, err, sizeof err), DB_ENOTFOUND);
	CHECK_EQ_INT(db_export_get(d, "incident", "1", &e, err, sizeof err), 0);
	CHECK_EQ_STR(e.state, "queued");
	CHECK_EQ_STR(e.owner, "");
	CHECK_EQ_STR(e.last_error, "PUT: HTTP 403 SignatureDoesNotMatch");
	CHECK_EQ_STR(e.upload_id, "2~abc");
	CHECK_EQ_STR(e.object_key, "p/a/incidents/1.pcap");
	CHECK_EQ_INT(e.updated_ns, 1400);
	/* backoff: not due before its time; the other queued row ("pcap" "1") is */
	CHECK_EQ_INT(db_export_claim(d, 0, 6000, "me:1", 0, &e2, err, sizeof err), 0);
	CHECK_EQ_STR(e2.ref, "1");
	CHECK_EQ_STR(e2.kind, "pcap");
	CHECK_EQ_INT(db_export_claim(d, 0, 6199, "me:1", 0, &e2, err, sizeof err), DB_ENOTFOUND);
	CHECK_EQ_INT(db_export_next_due(d, &when, err, sizeof err), 0);
	CHECK_EQ_INT(when, 6200);
	CHECK_EQ_INT(db_export_claim(d, 0, 6200, "me:1", 0, &e, err, sizeof err), 0);
	CHECK_EQ_STR(e.ref, "1");
	CHECK_EQ_INT(e.attempts, 2);
	/* progress while uploading keeps the owner; done clears it and the error */
	snprintf(e.etag, sizeof e.etag, "d38e8be34191a19a6ed68dd349b337df");
	e.size = 473528;
	e.upload_id[0] = '\0';
	CHECK_EQ_INT(db_export_update(d, &e, "me:1", 6300, err, sizeof err), 0);
	CHECK_EQ_INT(db_export_get(d, "incident", "1", &e2, err, sizeof err), 0);
	CHECK_EQ_STR(e2.state, "uploading");
	CHECK_EQ_STR(e2.owner, "me:1");
	CHECK_EQ_INT(e2.size, 473528);
	CHECK_EQ_STR(e2.upload_id, "");
	snprintf(e.state, sizeof e.state, "done");
	e.last_error[0] = '\0';
	e.done_ns = 6400;
	e.next_attempt_ns = 0;
	CHECK_EQ_INT(db_export_update(d, &e, "me:1", 6400, err, sizeof err), 0);
	CHECK_EQ_INT(db_export_get(d, "incident", "1", &e2, err, sizeof err), 0);
	CHECK_EQ_STR(e2.state, "done");
	CHECK_EQ_STR(e2.owner, "");
	CHECK_EQ_STR(e2.last_error, "");
	CHECK_EQ_STR(e2.etag, "d38e8be34191a19a6ed68dd349b337df");
	CHECK_EQ_INT(e2.done_ns, 6400);
	/* a done row: never "next due", by hand only with force */
	CHECK_EQ_INT(db_export_claim(d, e.row, 7000, "me:1", 0, &e2, err, sizeof err), DB_ENOTFOUND);
	CHECK_EQ_STR(e2.state, "done");
	CHECK_EQ_INT(db_export_claim(d, e.row, 7000, "me:1", 1, &e2, err, sizeof err), 0);
	CHECK_EQ_INT(e2.attempts, 3);
	/* failed: not retried by the worker, taken by hand */
	snprintf(e2.state, sizeof e2.state, "failed");
	snprintf(e2.last_error, sizeof e2.last_error, "deleted by local retention");
	CHECK_EQ_INT(db_export_update(d, &e2, "me:1", 7100, err, sizeof err), 0);
	CHECK_EQ_INT(db_export_claim(d, 0, INT64_MAX, "me:1", 0, &e, err, sizeof err),
		     DB_ENOTFOUND); /* the pcap rows are uploading, incident 1 failed */
	CHECK_EQ_INT(db_export_claim(d, e2.row, 7200, "me:1", 0, &e, err, sizeof err), 0);
	CHECK_EQ_STR(e.state, "uploading");
	snprintf(e.state, sizeof e.state, "shipped");
	CHECK_EQ_INT(db_export_update(d, &e, "me:1", 7300, err, sizeof err), DB_ERROR);
	db_close(d);
}

static int alive_unless_dead(void *ud, const char *owner)
{
	(void)ud;
	return strncmp(owner, "dead", 4) != 0;
}

static void test_db_export_stale_and_list(void)
{
	char dir[300], err[512], ref[16];
	struct db_export e, page[4];
	long total = -1;
	db_t *d;

	newdir(dir, sizeof dir, "stale");
	d = open_rw(dir);
	if (!d)
		return;
	for (int i = 1; i <= 10; i++) {
		snprintf(ref, sizeof ref, "%d", i);
		CHECK_EQ_INT(db_export_enqueue(d, "incident", ref, i, err, sizeof err), 1);
	}
	CHECK_EQ_INT(db_export_claim(d, 0, 100, "dead:1", 0, &e, err, sizeof err), 0);
	CHECK_EQ_INT(db_export_claim(d, 0, 100, "live:2", 0, &e, err, sizeof err), 0);
	CHECK_EQ_INT(db_export_claim(d, 0, 100, "dead:3", 0, &e, err, sizeof err), 0);
	CHECK_EQ_INT(db_export_requeue_stale(d, alive_unless_dead, NULL, 500, err, sizeof err), 2);
	CHECK_EQ_INT(db_export_requeue_stale(d, alive_unless_dead, NULL, 600, err, sizeof err), 0);
	CHECK_EQ_INT(db_export_get(d, "incident", "1", &e, err, sizeof err), 0);
	CHECK_EQ_STR(e.state, "queued");
	CHECK_EQ_STR(e.owner, "");
	CHECK_EQ_INT(e.next_attempt_ns, 500);
	CHECK_EQ_INT(e.attempts, 1); /* the interrupted attempt still counts */
	CHECK_EQ_INT(db_export_get(d, "incident", "2", &e, err, sizeof err), 0);
	CHECK_EQ_STR(e.state, "uploading");
	CHECK_EQ_STR(e.owner, "live:2");
	/* paging in row order */
	int n = db_export_list(d, 0, page, 4, &total, err, sizeof err);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(total, 10);
	CHECK_EQ_STR(page[0].ref, "1");
	CHECK_EQ_STR(page[3].ref, "4");
	n = db_export_list(d, page[3].row, page, 4, NULL, err, sizeof err);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_STR(page[0].ref, "5");
	n = db_export_list(d, page[3].row, page, 4, NULL, err, sizeof err);
	CHECK_EQ_INT(n, 2);
	CHECK_EQ_STR(page[1].ref, "10");
	CHECK_EQ_INT(db_export_list(d, 0, page, -1, NULL, err, sizeof err), DB_ERROR);
	db_close(d);
}

static void test_db_export_backfill(void)
{
	char dir[300], err[512], m[1024];
	struct db_export e;
	struct db_file f;
	db_t *d;

	newdir(dir, sizeof dir, "backfill");
	d = open_rw(dir);
	if (!d)
		return;
	/* 1 resolved + sealed: queued; 2 open + sealed (cap reached): not yet; 3 resolved, no
	   capture: never; 4 resolved, sealed, deleted by retention: never; 5 queued before */
	for (long id = 1; id <= 5; id++)
		CHECK_EQ_INT(db_put_incident(d, meta(m, sizeof m, id, id == 2 ? "open" : "resolved",
						     id == 2 ? NULL : "2024-01-01T00:00:10Z", 5),
					     10, err, sizeof err), 0);
	for (long id = 1; id <= 5; id++) {
		file_row(&f, id, 100);
		if (id != 3)
			CHECK_EQ_INT(db_put_file(d, id, &f, err, sizeof err), 0);
	}
	CHECK_EQ_INT(db_mark_deleted(d, 4, 20, "retention", err, sizeof err), 0);
	CHECK_EQ_INT(db_export_enqueue(d, "incident", "5", 5, err, sizeof err), 1);
	CHECK_EQ_INT(db_export_backfill(d, 30, err, sizeof err), 1);
	CHECK_EQ_INT(db_export_get(d, "incident", "1", &e, err, sizeof err), 0);
	CHECK_EQ_INT(e.queued_ns, 30);
	CHECK_EQ_INT(db_export_get(d, "incident", "2", &e, err, sizeof err), DB_ENOTFOUND);
	CHECK_EQ_INT(db_export_get(d, "incident", "3", &e, err, sizeof err), DB_ENOTFOUND);
	CHECK_EQ_INT(db_export_get(d, "incident", "4", &e, err, sizeof err), DB_ENOTFOUND);
	CHECK_EQ_INT(db_export_get(d, "incident", "5", &e, err, sizeof err), 0);
	CHECK_EQ_INT(e.queued_ns, 5);
	CHECK_EQ_INT(db_export_backfill(d, 40, err, sizeof err), 0);
	db_close(d);
}

#define CLAIM_ROWS 60

struct claimer {
	const char *dir;
	char owner[16];
	pthread_barrier_t *start;
	long got[CLAIM_ROWS];
	int n, errors;
	char err[512];
};

/* Claims every due row it can get and marks it done, on a connection of its own. */
static void *claim_all(void *arg)
{
	struct claimer *c = arg;
	struct db_export e;
	db_t *d = NULL;
	char err[512];

	if (db_open(c->dir, 0, &d, c->err, sizeof c->err) != 0) {
		c->errors++;
		pthread_barrier_wait(c->start);
		return NULL;
	}
	pthread_barrier_wait(c->start);
	for (;;) {
		int r = db_export_claim(d, 0, 1000, c->owner, 0, &e, err, sizeof err);

		if (r == DB_ENOTFOUND)
			break;
		if (r == 0) {
			c->got[c->n++ % CLAIM_ROWS] = e.row;
			snprintf(e.state, sizeof e.state, "done");
			e.done_ns = 1000;
			r = db_export_update(d, &e, c->owner, 1000, err, sizeof err);
		}
		if (r && !c->errors++)
			snprintf(c->err, sizeof c->err, "%s", err);
		if (c->errors > 5)
			break;
	}
	db_close(d);
	return NULL;
}

/* Four connections (as the agent and `ringcap export' have) claim one queue: each row once. */
static void test_db_export_concurrent_claims(void)
{
	char dir[300], err[512], ref[16];
	struct claimer c[4];
	pthread_t t[4];
	pthread_barrier_t start;
	int seen[CLAIM_ROWS + 1] = {0}, total = 0;
	db_t *d;

	newdir(dir, sizeof dir, "claims");
	d = open_rw(dir);
	if (!d)
		return;
	for (int i = 1; i <= CLAIM_ROWS; i++) {
		snprintf(ref, sizeof ref, "%d", i);
		db_export_enqueue(d, "incident", ref, i, err, sizeof err);
	}
	pthread_barrier_init(&start, NULL, 4);
	for (int i = 0; i < 4; i++) {
		memset(&c[i], 0, sizeof c[i]);
		c[i].dir = dir;
		c[i].start = &start;
		snprintf(c[i].owner, sizeof c[i].owner, "p%d:1", i);
		pthread_create(&t[i], NULL, claim_all, &c[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ_INT(c[i].errors, 0);
		if (c[i].errors)
			printf("  claimer %d: %s\n", i, c[i].err);
		for (int k = 0; k < c[i].n && k < CLAIM_ROWS; k++)
			if (c[i].got[k] >= 1 && c[i].got[k] <= CLAIM_ROWS)
				seen[c[i].got[k]]++;
		total += c[i].n;
	}
	pthread_barrier_destroy(&start);
	CHECK_EQ_INT(total, CLAIM_ROWS);
	for (int r = 1; r <= CLAIM_ROWS; r++)
		CHECK_EQ_INT(seen[r], 1);
	db_close(d);
}

static int rm_dir(const char *dir)
{
	char cmd[400];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

int main(void)
{
	const char *t = getenv("TMPDIR");

	umask(022);
	snprintf(tdir, sizeof tdir, "%s/test_db.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_db_create_reopen);
	RUN(test_db_newer_version_refused);
	RUN(test_db_not_a_database);
	RUN(test_db_missing);
	RUN(test_db_incident_round_trip);
	RUN(test_db_times);
	RUN(test_db_bad_metadata);
	RUN(test_db_files);
	RUN(test_db_list_paging);
	RUN(test_db_retention);
	RUN(test_db_concurrent_writers);
	RUN(test_db_migrate_v1);
	RUN(test_db_export_queue);
	RUN(test_db_export_stale_and_list);
	RUN(test_db_export_backfill);
	RUN(test_db_export_concurrent_claims);
	if (rm_dir(tdir) != 0)
		fprintf(stderr, "cannot remove %s\n", tdir);
	printf("%d passed, %d failed\n", th_passed, th_failed);
	return test_main_end();
}
