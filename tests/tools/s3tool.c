/*
 * s3tool - test and diagnostic tool for src/s3.c against a real S3-compatible store.
 *
 *   s3tool bucket                       create the bucket if missing
 *   s3tool put FILE KEY [TYPE]          upload a file (single PUT or multipart), verified;
 *                                       prints "etag=... size=... parts=... sha256=... md5=..."
 *   s3tool put-text KEY TEXT [TYPE]     upload TEXT from memory (the metadata JSON path)
 *   s3tool head KEY                     prints "size=... etag=..."
 *   s3tool presign KEY SECONDS          prints a presigned GET URL
 *   s3tool get KEY OUT                  downloads KEY to OUT through a 5-minute presigned URL
 *
 * Configured from the environment: S3_ENDPOINT, S3_BUCKET, S3_REGION (default us-east-1),
 * S3_ACCESS_KEY, S3_SECRET_KEY, and for tests S3_MULTIPART_SIZE (threshold, bytes, K/M/G
 * suffixes), S3_PART_SIZE (default: S3_MULTIPART_SIZE, at least 5M), S3_MAX_SEND_RATE
 * (bytes/s), S3_ADDRESSING (auto|path|virtual), S3_PART_RETRIES.
 * Exit status: 0 done, 1 failed (message on stderr, with the error class), 2 usage.
 */
#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "export/s3.h"

static int parse_size(const char *name, uint64_t *out)
{
	const char *v = getenv(name);
	char *e;
	unsigned long long x;

	*out = 0;
	if (!v || !*v)
		return 0;
	errno = 0;
	x = strtoull(v, &e, 10);
	if (errno || e == v)
		goto bad;
	if (*e == 'K' || *e == 'k')
		x <<= 10, e++;
	else if (*e == 'M' || *e == 'm')
		x <<= 20, e++;
	else if (*e == 'G' || *e == 'g')
		x <<= 30, e++;
	if (*e)
		goto bad;
	*out = x;
	return 0;
bad:
	fprintf(stderr, "s3tool: invalid %s `%s': expected a number of bytes, K/M/G allowed\n",
		name, v);
	return -1;
}

static s3_t *open_client(void)
{
	struct s3_config c = {0};
	char err[S3_ERRBUF_SIZE];
	const char *a = getenv("S3_ADDRESSING");
	uint64_t retries = 0;
	s3_t *s;

	c.endpoint = getenv("S3_ENDPOINT");
	c.bucket = getenv("S3_BUCKET");
	c.region = getenv("S3_REGION");
	c.access_key = getenv("S3_ACCESS_KEY");
	c.secret_key = getenv("S3_SECRET_KEY");
	if (parse_size("S3_MULTIPART_SIZE", &c.multipart_threshold) ||
	    parse_size("S3_PART_SIZE", &c.part_size) ||
	    parse_size("S3_MAX_SEND_RATE", &c.max_send_rate) ||
	    parse_size("S3_PART_RETRIES", &retries))
		return NULL;
	c.part_retries = (unsigned)retries;
	if (!c.part_size && c.multipart_threshold)
		c.part_size = c.multipart_threshold < S3_MIN_PART_SIZE ? S3_MIN_PART_SIZE
								       : c.multipart_threshold;
	if (a && !strcmp(a, "path"))
		c.addressing = S3_ADDR_PATH;
	else if (a && !strcmp(a, "virtual"))
		c.addressing = S3_ADDR_VIRTUAL;
	else if (a && *a && strcmp(a, "auto")) {
		fprintf(stderr, "s3tool: invalid S3_ADDRESSING `%s': expected auto, path or "
				"virtual\n", a);
		return NULL;
	}
	s = s3_new(&c, err, sizeof err);
	if (!s)
		fprintf(stderr, "s3tool: %s\n", err);
	return s;
}

static int fail(const char *what, int rc, const char *err)
{
	fprintf(stderr, "s3tool: %s failed (%s): %s\n", what, s3_strerror(rc), err);
	return 1;
}

static int cmd_bucket(s3_t *s, char **argv)
{
	char err[S3_ERRBUF_SIZE];
	int rc = s3_ensure_bucket(s, err, sizeof err);

	(void)argv;
	return rc ? fail("bucket", rc, err) : 0;
}

static void print_result(const struct s3_put_result *r)
{
	printf("etag=%s size=%llu parts=%u sha256=%s md5=%s\n", r->etag,
	       (unsigned long long)r->size, r->parts, r->sha256, r->md5);
}

static int cmd_put(s3_t *s, char **argv)
{
	char err[S3_ERRBUF_SIZE];
	struct s3_put_result r;
	int rc = s3_put_file(s, argv[0], argv[1], argv[2], &r, err, sizeof err);

	if (rc)
		return fail("put", rc, err);
	print_result(&r);
	return 0;
}

static int cmd_put_text(s3_t *s, char **argv)
{
	char err[S3_ERRBUF_SIZE];
	struct s3_put_result r;
	int rc = s3_put_buffer(s, argv[0], argv[1], strlen(argv[1]),
			       argv[2] ? argv[2] : "application/json", &r, err, sizeof err);

	if (rc)
		return fail("put-text", rc, err);
	print_result(&r);
	return 0;
}

static int cmd_head(s3_t *s, char **argv)
{
	char err[S3_ERRBUF_SIZE];
	struct s3_object_info info;
	int rc = s3_head(s, argv[0], &info, err, sizeof err);

	if (rc)
		return fail("head", rc, err);
	printf("size=%llu etag=%s\n", (unsigned long long)info.size, info.etag);
	return 0;
}

static int cmd_presign(s3_t *s, char **argv)
{
	char err[S3_ERRBUF_SIZE], url[8192], *e;
	long secs = strtol(argv[1], &e, 10);
	int rc;

	if (*e || e == argv[1]) {
		fprintf(stderr, "s3tool: invalid SECONDS `%s'\n", argv[1]);
		return 2;
	}
	rc = s3_presign_get(s, argv[0], secs, 0, url, sizeof url, err, sizeof err);
	if (rc)
		return fail("presign", rc, err);
	printf("%s\n", url);
	return 0;
}

struct body {
	char buf[4096];
	size_t len;
	FILE *f;
	long status;
	CURL *c;
};

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct body *b = ud;
	size_t len = size * n;

	if (!b->status)
		curl_easy_getinfo(b->c, CURLINFO_RESPONSE_CODE, &b->status);
	if (b->status >= 200 && b->status < 300)
		return fwrite(p, 1, len, b->f);
	if (b->len + len < sizeof b->buf) { /* an error body: kept to show its Code */
		memcpy(b->buf + b->len, p, len);
		b->len += len;
	}
	return len;
}

static int cmd_get(s3_t *s, char **argv)
{
	char err[S3_ERRBUF_SIZE], url[8192], cerr[CURL_ERROR_SIZE] = "", code[96] = "";
	struct body b = {.len = 0};
	CURLcode crc;
	int rc = s3_presign_get(s, argv[0], 300, 0, url, sizeof url, err, sizeof err);

	if (rc)
		return fail("get", rc, err);
	if (!(b.f = fopen(argv[1], "wb"))) {
		fprintf(stderr, "s3tool: cannot create `%s': %s\n", argv[1], strerror(errno));
		return 1;
	}
	b.c = curl_easy_init();
	if (!b.c) {
		fclose(b.f);
		return fail("get", S3_EINVAL, "cannot set up libcurl");
	}
	curl_easy_setopt(b.c, CURLOPT_URL, url);
	curl_easy_setopt(b.c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(b.c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(b.c, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(b.c, CURLOPT_NOSIGNAL, 1L);
	crc = curl_easy_perform(b.c);
	curl_easy_getinfo(b.c, CURLINFO_RESPONSE_CODE, &b.status);
	curl_easy_cleanup(b.c);
	if (fclose(b.f) || crc != CURLE_OK) {
		fprintf(stderr, "s3tool: get %s failed: %s\n", argv[0],
			crc != CURLE_OK ? (cerr[0] ? cerr : curl_easy_strerror(crc))
					: strerror(errno));
		return 1;
	}
	if (b.status < 200 || b.status > 299) {
		s3_xml_text(b.buf, b.len, "Code", code, sizeof code);
		fprintf(stderr, "s3tool: get %s failed: HTTP %ld %s\n", argv[0], b.status, code);
		return 1;
	}
	return 0;
}

static const struct {
	const char *name;
	int min_args, max_args;
	int (*fn)(s3_t *s, char **argv);
	const char *usage;
} commands[] = {
	{"bucket", 0, 0, cmd_bucket, "bucket                  create the bucket if missing"},
	{"put", 2, 3, cmd_put, "put FILE KEY [TYPE]     upload a file, verified"},
	{"put-text", 2, 3, cmd_put_text, "put-text KEY TEXT [TYPE] upload TEXT from memory"},
	{"head", 1, 1, cmd_head, "head KEY                print size and ETag"},
	{"presign", 2, 2, cmd_presign, "presign KEY SECONDS     print a presigned GET URL"},
	{"get", 2, 2, cmd_get, "get KEY OUT             download through a presigned URL"},
};

int main(int argc, char **argv)
{
	size_t n = sizeof commands / sizeof commands[0];
	s3_t *s;
	int rc;

	for (size_t i = 0; argc >= 2 && i < n; i++) {
		int nargs = argc - 2;
		char *args[4] = {NULL, NULL, NULL, NULL};

		if (strcmp(argv[1], commands[i].name))
			continue;
		if (nargs < commands[i].min_args || nargs > commands[i].max_args)
			break;
		for (int k = 0; k < nargs; k++)
			args[k] = argv[2 + k];
		if (!(s = open_client()))
			return 1;
		rc = commands[i].fn(s, args);
		s3_free(s);
		return rc;
	}
	fprintf(stderr, "usage: s3tool COMMAND ...  (S3_ENDPOINT, S3_BUCKET, S3_ACCESS_KEY, "
			"S3_SECRET_KEY from the environment)\n");
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "  s3tool %s\n", commands[i].usage);
	return 2;
}
