/*
 * s3.h - a small client for S3-compatible object storage (AWS S3, Ceph RGW, MinIO): AWS Signature
 * Version 4 over libcurl, for exporting evidence off the machine.
 *
 * DESIGN: every request is signed here, with OpenSSL, not by libcurl's --aws-sigv4, so the
 * signing is a pure function (s3_sigv4_sign) that the unit tests hold to AWS's published vectors.
 * Uploads carry the real SHA-256 of what they send in x-amz-content-sha256 and its MD5 in
 * Content-MD5, both computed from the file before a byte goes out, so the server itself refuses a
 * body that changed on disk or in transit. Files at or over the multipart threshold go up in parts
 * (each part hashed and signed on its own; a failed upload is aborted), everything else in one
 * streamed PUT; the body is read from the file descriptor with pread, never held in memory. After
 * an upload, a HEAD checks the stored size and ETag: for a single PUT the ETag must be the MD5 of
 * what was sent, for a multipart upload MD5(MD5(part 1) || ... || MD5(part N)) "-N".
 * Addressing is path-style (http://host/bucket/key) except on *.amazonaws.com, where it is
 * virtual-hosted (bucket.s3.amazonaws.com/key) unless the config says otherwise.
 *
 * An s3_t holds one libcurl handle (connections are reused) and is used by one thread at a time;
 * s3_cancel() may be called from any thread.
 *
 * Errors: functions return 0 on success and a negative S3_E* code on failure, with a message in
 * the caller's err buffer that names the request and the problem: the HTTP status with the S3
 * error Code and Message from the XML body (SignatureDoesNotMatch, InvalidAccessKeyId,
 * NoSuchBucket, ...), or the transport failure (connection refused to ENDPOINT, timeout, ...).
 * s3_retryable() tells a queue which failures are worth trying again later.
 */
#ifndef RINGCAP_S3_H
#define RINGCAP_S3_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define S3_ERRBUF_SIZE 1024
#define S3_DEFAULT_REGION "us-east-1"
#define S3_DEFAULT_MULTIPART_THRESHOLD (64ull << 20)
#define S3_DEFAULT_PART_SIZE (16ull << 20)
#define S3_MIN_PART_SIZE (5ull << 20) /* S3's minimum for every part but the last */
#define S3_MAX_PARTS 10000u
#define S3_PRESIGN_MAX_EXPIRES 604800L /* 7 days, SigV4's limit */
#define S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define S3_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
#define S3_META_MAX 8 /* x-amz-meta-* headers on one object */

enum {
	S3_EINVAL = -1,	  /* bad config or argument (endpoint, bucket, key, sizes, expiry) */
	S3_EIO = -2,	  /* the local file: open, read, or it changed size while being sent */
	S3_ENET = -3,	  /* transport: connection refused or lost, DNS, TLS, timeout */
	S3_EAUTH = -4,	  /* 401/403, or a clock skew: credentials or permissions are wrong */
	S3_ENOTFOUND = -5, /* 404: no such bucket, key or upload */
	S3_EHTTP = -6,	  /* another 4xx the request will not get past by being repeated */
	S3_ESERVER = -7,  /* 5xx, throttling (SlowDown, 429), RequestTimeout */
	S3_EVERIFY = -8,  /* stored size or ETag differs from what was sent, or the server saw a
			     different payload hash (BadDigest, XAmzContentSHA256Mismatch) */
	S3_ECANCEL = -9,  /* s3_cancel() was called */
};

/* How the bucket is addressed. */
enum s3_addressing {
	S3_ADDR_AUTO = 0, /* virtual-hosted on *.amazonaws.com for DNS-safe names, else path */
	S3_ADDR_PATH,	  /* http://endpoint/bucket/key (always right for custom endpoints) */
	S3_ADDR_VIRTUAL,  /* http://bucket.endpoint/key */
};

struct s3_config {
	const char *endpoint;	/* "http[s]://host[:port]", no path; required */
	const char *region;	/* NULL or "" -> S3_DEFAULT_REGION */
	const char *bucket;	/* required: 3..63 of [a-z0-9.-], starting and ending alnum */
	const char *access_key; /* required */
	const char *secret_key; /* required; copied, wiped by s3_free() */
	enum s3_addressing addressing;
	uint64_t multipart_threshold; /* 0 -> 64 MiB; files this size or larger, and larger
					 than one part, go multipart */
	uint64_t part_size;	      /* 0 -> 16 MiB; at least S3_MIN_PART_SIZE; grown when a file
					 would need more than S3_MAX_PARTS parts */
	long connect_timeout_s;	      /* 0 -> 10 */
	long stall_timeout_s; /* 0 -> 60: a transfer slower than 1 KiB/s for this long fails */
	long request_timeout_s;	 /* 0 -> none: the limit for one whole request */
	uint64_t max_send_rate;	 /* bytes per second an upload may use; 0 -> unlimited */
	unsigned part_retries;	 /* extra tries of an UploadPart or a HEAD after a retryable
				    error, 1 s, 2 s, 4 s, 8 s apart (whole uploads are retried by
				    the caller's queue) */
	int skip_etag_check;	 /* 1 for buckets whose ETags are not MD5s (SSE-KMS, SSE-C) */
	const char *ca_file;	 /* NULL -> the system's CA store */
};

typedef struct s3 s3_t;

/* A name and a value: a header, a query parameter, a metadata entry. */
struct s3_kv {
	const char *name;
	const char *value;
};

/* What the server reports for an object. etag is without quotes. */
struct s3_object_info {
	uint64_t size;
	char etag[80];
};

/* The result of an upload: what was sent and what the server stored. */
struct s3_put_result {
	uint64_t size;
	unsigned parts;	   /* 0 for a single PUT, else the number of parts */
	char etag[80];	   /* as stored and verified, without quotes */
	char sha256[65];   /* hex SHA-256 of the whole object */
	char md5[33];	   /* hex MD5 of the whole object */
};

/*
 * Checks cfg and builds a client; the strings are copied. Returns NULL with a message in err on
 * a bad config (quoting it) or when libcurl cannot be set up. Free with s3_free().
 */
s3_t *s3_new(const struct s3_config *cfg, char *err, size_t errlen);

/* Frees s and wipes the secret key. NULL is a no-op. */
void s3_free(s3_t *s);

/* Makes the next (or current) transfer of s fail with S3_ECANCEL, from any thread; s3_new()
 * and a completed s3_reset_cancel() clear it. */
void s3_cancel(s3_t *s);
void s3_reset_cancel(s3_t *s);

/* Creates the bucket if it does not exist (PUT /bucket). Success also when it exists and is
 * ours (BucketAlreadyOwnedByYou); S3_EHTTP when someone else owns the name. */
int s3_ensure_bucket(s3_t *s, char *err, size_t errlen);

/*
 * Uploads the whole of the regular file open on fd (read with pread from offset 0; the file
 * offset is not used) to key, single PUT or multipart as the config says, then verifies it with
 * a HEAD. content_type NULL -> "application/octet-stream". res (may be NULL) gets what was sent and
 * stored. A failed multipart upload is aborted (best effort). The file must not change while it
 * is sent: the server then refuses it (S3_EVERIFY) or the size check does (S3_EIO).
 */
int s3_put_fd(s3_t *s, int fd, const char *key, const char *content_type,
	      struct s3_put_result *res, char *err, size_t errlen);

/*
 * The body of an upload that is not a plain file (a capture decrypted on the fly): reads up to
 * len bytes at offset off into buf and returns how many (> 0; fewer than len is fine), 0 if the
 * body ends before off + len, or -1 with errno set. A range must give the same bytes every time:
 * the body is read once to hash it and again to send it (and again when a part is retried).
 */
typedef ssize_t (*s3_read_fn)(void *ud, void *buf, size_t len, uint64_t off);

/* What an upload carries besides its body. */
struct s3_put_opts {
	const char *content_type; /* NULL -> "application/octet-stream" */
	const struct s3_kv *meta; /* user metadata, sent (and signed) as x-amz-meta-NAME: VALUE;
				     NAME 1..40 of [a-z0-9-], VALUE 1..256 printable ASCII */
	size_t nmeta;		  /* at most S3_META_MAX */
};

/*
 * Uploads size bytes read through rd(ud, ...) to key, as s3_put_fd() does with a file (single
 * PUT or multipart, hashes first, HEAD check after). opts may be NULL. A read error is S3_EIO
 * naming the byte; a body shorter than size is S3_EIO too.
 */
int s3_put_reader(s3_t *s, s3_read_fn rd, void *ud, uint64_t size, const char *key,
		  const struct s3_put_opts *opts, struct s3_put_result *res, char *err,
		  size_t errlen);

/*
 * Multipart bookkeeping for a persistent queue: fn(ud, key, upload_id) is called on the calling
 * thread right after CreateMultipartUpload succeeds, and fn(ud, key, NULL) once that upload is
 * completed or aborted. An upload still open after a failure (the abort did not get through:
 * the server was down) can then be aborted later with s3_abort_upload(). fn NULL removes it.
 */
typedef void (*s3_upload_fn)(void *ud, const char *key, const char *upload_id);
void s3_set_upload_hook(s3_t *s, s3_upload_fn fn, void *ud);

/* AbortMultipartUpload of upload_id on key. 0 also when the server no longer knows the upload
 * (NoSuchUpload: completed, aborted or expired). */
int s3_abort_upload(s3_t *s, const char *key, const char *upload_id, char *err, size_t errlen);

/* s3_put_fd() on the file at path. */
int s3_put_file(s3_t *s, const char *path, const char *key, const char *content_type,
		struct s3_put_result *res, char *err, size_t errlen);

/* Uploads len bytes from memory (the metadata JSON next to a capture) in one PUT and verifies
 * it. len must be under the multipart threshold. */
int s3_put_buffer(s3_t *s, const char *key, const void *data, size_t len,
		  const char *content_type, struct s3_put_result *res, char *err, size_t errlen);

/* HEAD of key: size and ETag. S3_ENOTFOUND when it does not exist. */
int s3_head(s3_t *s, const char *key, struct s3_object_info *info, char *err, size_t errlen);

/*
 * Writes into url a presigned GET URL for key (SigV4 query signing, UNSIGNED-PAYLOAD, signed
 * header host) valid for expires_s seconds (1..S3_PRESIGN_MAX_EXPIRES) from now (0 -> the
 * current time). No request is made. Returns 0, or S3_EINVAL (bad key or expiry, url too small).
 */
int s3_presign_get(const s3_t *s, const char *key, long expires_s, time_t now, char *url,
		   size_t urllen, char *err, size_t errlen);

/* 1 if a failure with this code may succeed when tried again later unchanged (S3_ENET,
 * S3_ESERVER, S3_EVERIFY), else 0. */
int s3_retryable(int code);

/* A short name for an S3_E* code ("network", "auth", ...). */
const char *s3_strerror(int code);

/* ---- Signature Version 4, exposed for the unit tests and for signing other requests ---- */

/* A request to sign. Strings are as sent, unencoded: the signer encodes the path and the query
 * the way S3 does. Every header listed is signed (host and x-amz-date must be among them, or
 * X-Amz-Date in the query for a presigned URL). */
struct s3_sigv4_request {
	const char *method;	  /* "GET", "PUT", ... */
	const char *path;	  /* starts with '/', e.g. "/bucket/dir/a b.pcap" */
	const struct s3_kv *query; /* NULL-able; a parameter without a value has value "" */
	size_t nquery;
	const struct s3_kv *headers;
	size_t nheaders;
	const char *payload_hash; /* lowercase hex SHA-256 of the body, or S3_UNSIGNED_PAYLOAD */
	const char *amz_date;	  /* "YYYYMMDDTHHMMSSZ" */
	const char *region;
	const char *service; /* "s3" */
	const char *access_key;
	const char *secret_key;
};

/* The result; free with s3_sigv4_free(). */
struct s3_sigv4 {
	char *canonical_query;	 /* "a=1&b=2", as it must appear in the URL */
	char *canonical_request; /* the six lines of Task 1 */
	char *string_to_sign;	 /* the four lines of Task 2 */
	char *signed_headers;	 /* "host;x-amz-date" */
	char *credential;	 /* "AKID/20150830/us-east-1/service/aws4_request" */
	char *authorization;	 /* the Authorization header value */
	char signature[65];	 /* lowercase hex */
};

/* Signs req. Returns 0, or S3_EINVAL with a message (missing field, bad date, duplicate header,
 * or out of memory); out is then empty but safe to free. */
int s3_sigv4_sign(const struct s3_sigv4_request *req, struct s3_sigv4 *out, char *err,
		  size_t errlen);
void s3_sigv4_free(struct s3_sigv4 *sig);

/* The SigV4 signing key: HMAC chain over "AWS4" secret, date (YYYYMMDD), region, service,
 * "aws4_request". Returns 0, or -1 if the crypto library fails. */
int s3_sigv4_signing_key(const char *secret, const char *date8, const char *region,
			 const char *service, uint8_t key[32]);

/*
 * URI-encodes len bytes of in the way SigV4 wants for S3: every byte but A-Z a-z 0-9 - . _ ~ as
 * %XX (uppercase hex), '/' too unless keep_slash (path segments keep it, query values do not), a
 * space as %20, never '+'. Writes a NUL-terminated string when it fits in outlen; returns the
 * length the full encoding needs (without the NUL), like snprintf.
 */
size_t s3_uri_encode(const char *in, size_t len, int keep_slash, char *out, size_t outlen);

/* Hex SHA-256 of len bytes into hex[65]. Returns 0, or -1 if the crypto library fails. */
int s3_sha256_hex(const void *data, size_t len, char hex[65]);

/*
 * Finds the text of the first <tag>...</tag> element in len bytes of XML (an S3 reply: error
 * body, InitiateMultipartUploadResult, CompleteMultipartUploadResult), decodes the five XML
 * entities and numeric character references, and writes it NUL-terminated into out, cut to
 * outlen - 1 bytes. Nested markup in the text is kept as it is; raw NUL bytes are dropped. Returns the decoded length, or -1
 * if there is no such complete element. The input need not be NUL-terminated.
 */
int s3_xml_text(const char *xml, size_t len, const char *tag, char *out, size_t outlen);

#endif
