/*
 * test_export.c - the export module without an object store: the retry backoff (bounds, cap,
 * jitter), object keys, the credentials file (format, and its refusal when others could read
 * it, when it is a symbolic link), settings checks naming the variable and never quoting a
 * secret, queue owners ("PID:START"), and the queue's state machine driven by real exports to an
 * endpoint that refuses connections: an incident sealed by the store is queued once resolved; a
 * failed attempt goes back to queued with a backoff, the error in the row, ID.json's
 * storage.export and the audit trail; a row held by a live process is busy, one left by a dead
 * process is taken over; a capture deleted by retention fails for good; the agent's worker
 * requeues rows of dead owners, queues finished continuous files, and tries every due row once
 * when drained.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "export/export.h"
#include "recorder/incident.h"
#include "testhelp.h"

#define NS_PER_S 1000000000LL

static char tdir[256];

static void newdir(char *out, size_t len, const char *name)
{
	snprintf(out, len, "%s/%s", tdir, name);
	if (mkdir(out, 0700) != 0)
		perror(out);
}

static int write_file(const char *path, const char *text, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	chmod(path, mode);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static void test_backoff(void)
{
	static const uint32_t rnds[] = {0, 1, 0x80000000u, 0xffffffffu};
	int64_t prev_max = 0;

	/* the first retry within 2.5..5 s, then doubling, never more than an hour */
	CHECK_EQ_INT(export_backoff_ns(1, 0), 2500000000LL);
	CHECK(export_backoff_ns(1, 0xffffffffu) <= 5 * NS_PER_S);
	CHECK(export_backoff_ns(1, 0xffffffffu) > 4999 * 1000000LL);
	CHECK_EQ_INT(export_backoff_ns(2, 0), 5 * NS_PER_S);
	CHECK_EQ_INT(export_backoff_ns(3, 0), 10 * NS_PER_S);
	for (int a = 0; a <= 200; a++) {
		int64_t lo = INT64_MAX, hi = 0;
		for (size_t i = 0; i < sizeof rnds / sizeof rnds[0]; i++) {
			int64_t d = export_backoff_ns(a, rnds[i]);
			lo = d < lo ? d : lo;
			hi = d > hi ? d : hi;
		}
		CHECK(lo > 0);
		CHECK(hi <= EXPORT_BACKOFF_MAX_NS);
		CHECK(lo >= hi / 2 - 1);   /* jitter keeps at least half */
		CHECK(hi >= prev_max);     /* never shorter than the attempt before */
		prev_max = hi;
	}
	CHECK_EQ_INT(export_backoff_ns(12, 0), EXPORT_BACKOFF_MAX_NS / 2);
	CHECK(export_backoff_ns(1000000, 0xffffffffu) <= EXPORT_BACKOFF_MAX_NS);
	CHECK(export_backoff_ns(INT32_MAX, 0xffffffffu) > EXPORT_BACKOFF_MAX_NS - NS_PER_S);
}

static void test_object_keys(void)
{
	struct export_config c;
	char k[EXPORT_KEY_MAX];

	memset(&c, 0, sizeof c);
	snprintf(c.agent, sizeof c.agent, "edge-1");
	CHECK_EQ_INT(export_object_key(&c, "incidents", "7.pcap", k, sizeof k), 0);
	CHECK_EQ_STR(k, "edge-1/incidents/7.pcap");
	snprintf(c.prefix, sizeof c.prefix, "evidence/2026");
	CHECK_EQ_INT(export_object_key(&c, "incidents", "7.pcapng.enc", k, sizeof k), 0);
	CHECK_EQ_STR(k, "evidence/2026/edge-1/incidents/7.pcapng.enc");
	CHECK_EQ_INT(export_object_key(&c, "pcaps", "capture_20240101_000000_0001.pcap", k,
				       sizeof k), 0);
	CHECK_EQ_STR(k, "evidence/2026/edge-1/pcaps/capture_20240101_000000_0001.pcap");
	CHECK_EQ_INT(export_object_key(&c, "incidents", "7.json", k, 20), -1);
}

static void test_credentials_format(void)
{
	static const struct {
		const char *text, *want_err; /* want_err NULL: parses */
	} cases[] = {
		{"access_key = AKID\nsecret_key = s3cr3t/+x\n", NULL},
		{"# ringcap S3 keys\n\n  access_key=AKID  \r\nsecret_key\t=\ts3cr3t/+x\r\n", NULL},
		{"secret_key = s3cr3t/+x\naccess_key = AKID", NULL},
		{"access_key = AKID\n", "lacks secret_key"},
		{"secret_key = s3cr3t/+x\n", "lacks access_key"},
		{"access_key = AKID\nsecret_key = s3cr3t/+x\nregion = eu\n", "f:3: unknown key"},
		{"access_key = AKID\naccess_key = AKID2\nsecret_key = s3cr3t/+x\n", "f:2: access_key given twice"},
		{"access_key = AKID\nsecret_key = s3cr3t x\n", "f:2: secret_key holds a blank"},
		{"access_key = AKID\nsecret_key =\n", "f:2: secret_key is empty"},
		{"access_key AKID\n", "f:1: expected"},
		{"[default]\naws_access_key_id = AKID\n", "f:1: expected"},
	};
	char a[129], sk[513], err[512];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int r = export_parse_credentials(cases[i].text, strlen(cases[i].text), "f", a,
						 sizeof a, sk, sizeof sk, err, sizeof err);
		if (!cases[i].want_err) {
			CHECK_EQ_INT(r, 0);
			CHECK_EQ_STR(a, "AKID");
			CHECK_EQ_STR(sk, "s3cr3t/+x");
			continue;
		}
		CHECK_EQ_INT(r, -1);
		CHECK(strstr(err, cases[i].want_err) != NULL);
		CHECK(strstr(err, "s3cr3t") == NULL); /* never the secret */
		if (!strstr(err, cases[i].want_err))
			printf("  case %zu: %s\n", i, err);
	}
	CHECK_EQ_INT(export_parse_credentials("access_key = A\0B\nsecret_key = s\n", 30, "f", a,
					      sizeof a, sk, sizeof sk, err, sizeof err), -1);
}

/* Settings with the connection filled in. */
static void settings(struct export_settings *st)
{
	memset(st, 0, sizeof *st);
	st->endpoint = "http://127.0.0.1:1";
	st->bucket = "ringcap-unit";
	st->access_key = "AKIDUNIT";
	st->secret_key = "SECRETUNITVALUE";
	st->agent = "unit";
	st->mode = 1;
}

static void test_config_checks(void)
{
	static const struct {
		const char *field, *value, *want;
	} bad[] = {
		{"endpoint", "", "S3_ENDPOINT is not set"},
		{"endpoint", "ftp://h", "invalid S3_ENDPOINT `ftp://h'"},
		{"endpoint", "http://h/path", "S3_ENDPOINT: invalid S3 endpoint"},
		{"bucket", "", "S3_BUCKET is not set"},
		{"bucket", "Bad_Bucket", "S3_BUCKET: invalid S3 bucket `Bad_Bucket'"},
		{"access_key", "", "S3_ACCESS_KEY is not set"},
		{"secret_key", "", "S3_SECRET_KEY is not set"},
		{"region", "eu west", "S3_REGION: invalid S3 region"},
		{"prefix", "a/../b", "invalid S3_PREFIX `a/../b'"},
		{"prefix", "a//b", "invalid S3_PREFIX"},
		{"prefix", "a\tb", "invalid S3_PREFIX"},
		{"agent", "", "invalid RINGCAP_AGENT `'"},
		{"agent", "a b", "invalid RINGCAP_AGENT `a b'"},
		{"agent", "..", "invalid RINGCAP_AGENT `..'"},
	};
	struct export_settings st;
	struct export_config c;
	char err[1024];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		settings(&st);
		const char **f = !strcmp(bad[i].field, "endpoint")     ? &st.endpoint
				 : !strcmp(bad[i].field, "bucket")     ? &st.bucket
				 : !strcmp(bad[i].field, "access_key") ? &st.access_key
				 : !strcmp(bad[i].field, "secret_key") ? &st.secret_key
				 : !strcmp(bad[i].field, "region")     ? &st.region
				 : !strcmp(bad[i].field, "prefix")     ? &st.prefix
								       : &st.agent;
		*f = bad[i].value;
		err[0] = 0;
		CHECK_EQ_INT(export_config_load(&st, 0, &c, err, sizeof err), -1);
		CHECK(strstr(err, bad[i].want) != NULL);
		CHECK(strstr(err, "SECRETUNITVALUE") == NULL);
		if (!strstr(err, bad[i].want))
			printf("  case %zu: %s\n", i, err);
	}
	/* export off: the connection may be missing, but what is given is still checked */
	settings(&st);
	st.mode = 0;
	st.endpoint = NULL;
	CHECK_EQ_INT(export_config_load(&st, 0, &c, err, sizeof err), 0);
	CHECK_EQ_INT(c.mode, EXPORT_OFF);
	CHECK_EQ_INT(export_config_load(&st, 1, &c, err, sizeof err), -1); /* `ringcap export' */
	/* normal forms and defaults */
	settings(&st);
	st.mode = 2;
	st.prefix = "//evidence/x/";
	st.region = NULL;
	st.multipart_mib = 5;
	st.encrypted = 1;
	CHECK_EQ_INT(export_config_load(&st, 0, &c, err, sizeof err), 0);
	CHECK_EQ_INT(c.mode, EXPORT_INCIDENTS_PCAPS);
	CHECK_EQ_STR(c.prefix, "evidence/x");
	CHECK_EQ_STR(c.region, "us-east-1");
	CHECK_EQ_INT(c.multipart_bytes, 5ull << 20);
	CHECK_EQ_INT(c.encrypted, 1);
	export_config_clear(&c);
	CHECK_EQ_INT(c.secret_key[0], 0); /* wiped */
	st.multipart_mib = 0;
	st.agent = NULL; /* the host name, made safe for a key */
	CHECK_EQ_INT(export_config_load(&st, 0, &c, err, sizeof err), 0);
	CHECK_EQ_INT(c.multipart_bytes, 64ull << 20);
	CHECK(c.agent[0] != 0);
	CHECK_EQ_INT(strspn(c.agent, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"),
		     strlen(c.agent));
	export_config_clear(&c);
}

static void test_credentials_file(void)
{
	char dir[300], path[400], link[400], err[1024];
	struct export_settings st;
	struct export_config c;

	newdir(dir, sizeof dir, "creds");
	snprintf(path, sizeof path, "%s/s3.keys", dir);
	snprintf(link, sizeof link, "%s/link.keys", dir);
	settings(&st);
	st.access_key = st.secret_key = NULL;
	st.credentials_file = path;
	CHECK_EQ_INT(export_config_load(&st, 0, &c, err, sizeof err), -1);
	CHECK(strstr(err, "cannot open S3_CREDENTIALS_FILE") != NULL);
	CHECK_EQ_INT(write_file(path, "access_key = AKIDFILE\nsecret_key = FILESECRET\n", 0644), 0);
	CHECK_EQ_INT(export_config_load(&st, 0, &c, err, sizeof err), -1);
	CHECK(strstr(err, "has mode 0644") != NULL);
	CHECK(strstr(err, "FILESECRET") == NULL);
	chmod(path, 0640);
	CHECK_EQ_INT(export_config_load(&st, 0, &c, err, sizeof err), -1);
	CHECK(strstr(err, "has mode 0640") != NULL);
	chmod(path, 0600);
	CHECK_EQ_INT(export_config_load(&st, 0, &c, err, sizeof err), 0);
	CHECK_EQ_STR(c.access_key, "AKIDFILE");
	CHECK_EQ_STR(c.secret_key, "FILESECRET");
	export_config_clear(&c);
	CHECK_EQ_INT(symlink(path, link), 0);
	st.credentials_file = link;
	CHECK_EQ_INT(export_config_load(&st, 0, &c, err, sizeof err), -1);
	CHECK(strstr(err, "symbolic link") != NULL);
	st.credentials_file = dir;
	CHECK_EQ_INT(export_config_load(&st, 0, &c, err, sizeof err), -1);
	CHECK(strstr(err, "not a regular file") != NULL);
	/* both ways at once is a mistake, not a precedence rule */
	st.credentials_file = path;
	st.secret_key = "OTHER";
	CHECK_EQ_INT(export_config_load(&st, 0, &c, err, sizeof err), -1);
	CHECK(strstr(err, "not both") != NULL);
}

static void test_owners(void)
{
	char me[DB_EXPORT_OWNER_MAX], other[64];
	long pid;
	unsigned long long start;

	export_owner_self(me, sizeof me);
	CHECK_EQ_INT(sscanf(me, "%ld:%llu", &pid, &start), 2);
	CHECK_EQ_INT(pid, (long)getpid());
	CHECK(start > 0);
	CHECK_EQ_INT(export_owner_alive(NULL, me), 1);
	snprintf(other, sizeof other, "%ld:%llu", pid, start + 1); /* a reused pid */
	CHECK_EQ_INT(export_owner_alive(NULL, other), 0);
	CHECK_EQ_INT(export_owner_alive(NULL, "garbage"), 0);
	CHECK_EQ_INT(export_owner_alive(NULL, ""), 0);
	CHECK_EQ_INT(export_owner_alive(NULL, NULL), 0);
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	snprintf(other, sizeof other, "%ld:%llu", (long)child, start);
	CHECK_EQ_INT(export_owner_alive(NULL, other), 0);
}

/* ---- the queue with a store, against an endpoint that refuses connections ---- */

/* A tiny classic pcap: header and one 4-byte packet. */
static const char tiny_pcap[] =
	"\xd4\xc3\xb2\xa1\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff\xff\x00\x00"
	"\x01\x00\x00\x00\x06\x9a\x92\x65\x00\x00\x00\x00\x04\x00\x00\x00\x04\x00\x00\x00"
	"abcd";

/* Writes DIR/incidents/ID.pcap.part and has the store index it as a resolved incident. */
static int sealed_incident(store_t *st, const char *dir, long id, int resolved)
{
	char path[400], started[32];
	snprintf(path, sizeof path, "%s/%s/%ld.pcap.part", dir, incidents_subdir(), id);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, tiny_pcap, sizeof tiny_pcap - 1) != (ssize_t)sizeof tiny_pcap - 1)
		return -1;
	fsync(fd);
	close(fd);
	snprintf(started, sizeof started, "2024-01-01T00:00:%02ldZ", id % 60);
	json_t *m = json_pack("{s:I,s:s,s:s,s:{s:s},s:s,s:s,s:s?,s:i,s:b}", "id", (json_int_t)id,
			      "state", resolved ? "resolved" : "open", "mode", "capture", "trigger",
			      "threshold", "syn_pps", "classification", "syn_flood", "started_at",
			      started, "resolved_at", resolved ? "2024-01-01T00:01:00Z" : NULL,
			      "pcap_packets", 1, "cap_reached", 0);
	store_meta(st, id, m, resolved);
	char part[32];
	snprintf(part, sizeof part, "%ld.pcap.part", id);
	store_seal(st, id, part, "pcap");
	return 0;
}

static json_t *id_json(const char *dir, long id)
{
	char path[400];
	snprintf(path, sizeof path, "%s/%s/%ld.json", dir, incidents_subdir(), id);
	return json_load_file(path, 0, NULL);
}

static int audit_count(const char *dir, const char *event)
{
	char path[400], line[8192], pat[64];
	int n = 0;
	snprintf(path, sizeof path, "%s/audit/audit.jsonl", dir);
	snprintf(pat, sizeof pat, "\"event\":\"%s\"", event);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f))
		n += strstr(line, pat) != NULL;
	fclose(f);
	return n;
}

static void test_queue_with_store(void)
{
	char dir[300], err[1024], me[DB_EXPORT_OWNER_MAX];
	struct export_settings st;
	struct export_config c;
	struct db_export row, r2;
	exporter_t *e = NULL;
	store_t *s;

	newdir(dir, sizeof dir, "store");
	struct store_config sc = {.dir = dir, .retention_ns = 7 * 86400 * NS_PER_S,
				  .export_incidents = 1};
	s = store_open(&sc, err, sizeof err);
	CHECK(s != NULL);
	if (!s) {
		printf("  %s\n", err);
		return;
	}
	/* queued when both sealed and resolved, whichever is last */
	CHECK_EQ_INT(sealed_incident(s, dir, 1, 1), 0);
	CHECK_EQ_INT(db_export_get(store_db(s), "incident", "1", &row, err, sizeof err), 0);
	CHECK_EQ_STR(row.state, "queued");
	CHECK_EQ_INT(sealed_incident(s, dir, 2, 0), 0); /* cap reached, still open */
	CHECK_EQ_INT(db_export_get(store_db(s), "incident", "2", &row, err, sizeof err),
		     DB_ENOTFOUND);
	json_t *m = id_json(dir, 2);
	json_object_set_new(m, "state", json_string("resolved"));
	json_object_set_new(m, "resolved_at", json_string("2024-01-01T00:02:00Z"));
	store_meta(s, 2, m, 1);
	CHECK_EQ_INT(db_export_get(store_db(s), "incident", "2", &row, err, sizeof err), 0);
	json_t *j = id_json(dir, 2);
	CHECK_EQ_STR(json_string_value(json_object_get(json_object_get(json_object_get(j, "storage"),
								       "export"), "state")),
		     "queued");
	json_decref(j);

	settings(&st);
	CHECK_EQ_INT(export_config_load(&st, 1, &c, err, sizeof err), 0);
	e = export_new(s, &c, err, sizeof err);
	CHECK(e != NULL);
	if (!e)
		goto out;
	/* an attempt that fails on the network: queued again, backed off, recorded everywhere */
	int64_t t0 = store_now_ns();
	CHECK_EQ_INT(export_incident_now(e, 1, 0, &row, err, sizeof err), EXPORT_ERROR);
	CHECK(strstr(err, "connection refused to http://127.0.0.1:1") != NULL);
	CHECK_EQ_STR(row.state, "queued");
	CHECK_EQ_INT(row.attempts, 1);
	CHECK_EQ_STR(row.object_key, "unit/incidents/1.pcap");
	CHECK(row.next_attempt_ns >= t0 + 2500 * 1000000LL);
	CHECK(row.next_attempt_ns <= store_now_ns() + 5 * NS_PER_S);
	CHECK_EQ_INT(db_export_get(store_db(s), "incident", "1", &r2, err, sizeof err), 0);
	CHECK(strstr(r2.last_error, "connection refused") != NULL);
	CHECK_EQ_STR(r2.owner, "");
	j = id_json(dir, 1);
	json_t *x = json_object_get(json_object_get(j, "storage"), "export");
	CHECK_EQ_STR(json_string_value(json_object_get(x, "state")), "queued");
	CHECK(strstr(json_string_value(json_object_get(x, "last_error")) ?: "", "refused") != NULL);
	CHECK(json_is_string(json_object_get(x, "next_attempt_at")));
	CHECK(json_is_null(json_object_get(x, "exported_at")));
	json_decref(j);
	CHECK_EQ_INT(audit_count(dir, "export_retry"), 1);

	/* held by a live process (this one, as another exporter would): busy */
	export_owner_self(me, sizeof me);
	CHECK_EQ_INT(db_export_claim(store_db(s), row.row, store_now_ns(), me, 0, &r2, err,
				     sizeof err), 0);
	CHECK_EQ_INT(export_incident_now(e, 1, 0, &row, err, sizeof err), EXPORT_EBUSY);
	CHECK_EQ_STR(row.owner, me);
	/* left by a process that is gone: taken over */
	snprintf(r2.state, sizeof r2.state, "uploading");
	CHECK_EQ_INT(db_export_update(store_db(s), &r2, me, store_now_ns(), err, sizeof err), 0);
	CHECK_EQ_INT(db_export_requeue_stale(store_db(s), export_owner_alive, NULL, 0, err,
					     sizeof err), 0);
	/* (an owner string for a dead process: a child that exited) */
	pid_t child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	snprintf(r2.state, sizeof r2.state, "queued");
	CHECK_EQ_INT(db_export_update(store_db(s), &r2, me, store_now_ns(), err, sizeof err), 0);
	char dead[64];
	snprintf(dead, sizeof dead, "%ld:12345", (long)child);
	CHECK_EQ_INT(db_export_claim(store_db(s), row.row, store_now_ns(), dead, 0, &r2, err,
				     sizeof err), 0);
	CHECK_EQ_INT(export_incident_now(e, 1, 0, &row, err, sizeof err), EXPORT_ERROR);
	CHECK_EQ_STR(row.state, "queued");
	CHECK_EQ_INT(row.attempts, 4);

	/* deleted by retention before it went: failed for good, with the reason */
	struct db_incident inc;
	CHECK_EQ_INT(db_get_incident(store_db(s), 2, &inc, err, sizeof err), 0);
	char path[500];
	snprintf(path, sizeof path, "%s/%s/%s", dir, incidents_subdir(), inc.file.name);
	CHECK_EQ_INT(unlink(path), 0);
	CHECK_EQ_INT(db_mark_deleted(store_db(s), 2, store_now_ns(), "retention", err, sizeof err),
		     0);
	CHECK_EQ_INT(export_incident_now(e, 2, 0, &row, err, sizeof err), EXPORT_ERROR);
	CHECK_EQ_STR(row.state, "failed");
	CHECK(strstr(row.last_error, "deleted by local retention") != NULL);
	CHECK_EQ_INT(audit_count(dir, "export_failed"), 1);
	/* nothing to export */
	CHECK_EQ_INT(export_incident_now(e, 99, 0, &row, err, sizeof err), EXPORT_ENOTFOUND);
	export_free(e);
	e = NULL;

	/* the agent's worker: a row left uploading by a dead process is queued again, the
	   finished continuous files are queued (a missing one fails), and a drain tries every
	   due row once; failures stay queued */
	CHECK_EQ_INT(db_export_get(store_db(s), "incident", "2", &r2, err, sizeof err), 0);
	CHECK_EQ_INT(db_export_claim(store_db(s), r2.row, store_now_ns(), dead, 0, &r2, err,
				     sizeof err), 0); /* incident 2 (failed), by a process now gone */
	char pdir[400];
	snprintf(pdir, sizeof pdir, "%s/pcaps", dir);
	mkdir(pdir, 0755);
	snprintf(path, sizeof path, "%s/capture_20240101_000000_0001.pcap", pdir);
	CHECK_EQ_INT(write_file(path, "not really a pcap", 0644), 0);
	snprintf(path, sizeof path, "%s/capture_20240101_000000_0002.pcap.part", pdir);
	CHECK_EQ_INT(write_file(path, "unfinished", 0644), 0);
	st.mode = 2;
	CHECK_EQ_INT(export_config_load(&st, 0, &c, err, sizeof err), 0);
	e = export_new(s, &c, err, sizeof err);
	CHECK(e != NULL);
	if (!e)
		goto out;
	CHECK_EQ_INT(db_export_enqueue(store_db(s), "pcap", "capture_20240101_000000_0000.pcap",
				       0, err, sizeof err), 1); /* gone before it could go */
	CHECK_EQ_INT(export_start(e, pdir, err, sizeof err), 0);
	export_pcap_finished(e, "capture_20240101_000000_0003.pcap"); /* queued, file missing */
	export_drain(e, NULL);
	struct export_stats es;
	export_stats(e, &es);
	CHECK_EQ_INT(es.done, 0);
	CHECK_EQ_INT(es.failed, 3); /* incident 2 (requeued, still gone), the two missing files */
	CHECK_EQ_INT(es.retried, 1); /* the file that exists */
	CHECK_EQ_INT(db_export_get(store_db(s), "pcap", "capture_20240101_000000_0001.pcap", &r2,
				   err, sizeof err), 0);
	CHECK_EQ_STR(r2.state, "queued");
	CHECK_EQ_INT(r2.attempts, 1);
	CHECK_EQ_STR(r2.object_key, "unit/pcaps/capture_20240101_000000_0001.pcap");
	CHECK_EQ_INT(db_export_get(store_db(s), "pcap", "capture_20240101_000000_0002.pcap", &r2,
				   err, sizeof err), DB_ENOTFOUND);
	CHECK_EQ_INT(db_export_get(store_db(s), "pcap", "capture_20240101_000000_0003.pcap", &r2,
				   err, sizeof err), 0);
	CHECK_EQ_STR(r2.state, "failed");
	CHECK(strstr(r2.last_error, "deleted by local retention (PCAP_RETENTION_COUNT)") != NULL);
	CHECK_EQ_INT(db_export_get(store_db(s), "incident", "2", &r2, err, sizeof err), 0);
	CHECK_EQ_STR(r2.state, "failed"); /* still gone */
	CHECK_EQ_INT(r2.attempts, 3);
	CHECK_EQ_INT(db_export_get(store_db(s), "incident", "1", &r2, err, sizeof err), 0);
	CHECK_EQ_STR(r2.state, "queued"); /* not due yet: untouched by the drain */
	CHECK_EQ_INT(r2.attempts, 4);
out:
	export_free(e);
	export_config_clear(&c);
	store_close(s);
}

int main(void)
{
	const char *t = getenv("TMPDIR");

	umask(022);
	snprintf(tdir, sizeof tdir, "%s/test_export.XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(tdir)) {
		perror("mkdtemp");
		return 1;
	}
	RUN(test_backoff);
	RUN(test_object_keys);
	RUN(test_credentials_format);
	RUN(test_config_checks);
	RUN(test_credentials_file);
	RUN(test_owners);
	RUN(test_queue_with_store);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tdir);
	printf("%d passed, %d failed\n", th_passed, th_failed);
	return test_main_end();
}
