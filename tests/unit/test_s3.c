/*
 * test_s3.c - the S3 client.
 *
 * 1. SigV4 signing against AWS's published vectors, every expected value copied from AWS:
 *    - the Signature Version 4 test suite (credential scope AKIDEXAMPLE/20150830/us-east-1/
 *      service/aws4_request, secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY): get-vanilla and
 *      get-vanilla-query-order-key-case (the suite's worked example: .creq, .sts, .authz);
 *    - the signing-key derivation example of the AWS General Reference (date 20120215, iam);
 *    - the Amazon S3 API Reference, "Signature Calculations for the Authorization Header:
 *      Transferring Payload in a Single Chunk": GET Object (Range), PUT Object, GET Bucket
 *      Lifecycle, Get Bucket (List Objects); and "Authenticating Requests: Using Query Parameters":
 *      the presigned GET of examplebucket/test.txt (secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY,
 *      20130524T000000Z, 86400 s).
 * 2. URI encoding, query and header canonicalization, XML error bodies, config checks,
 *    addressing and presigned URL shapes.
 * 3. Uploads against a fake S3 server (libmicrohttpd on 127.0.0.1) that checks the payload hash
 *    and Content-MD5 of every body and can misbehave: wrong ETag, wrong size, 403 with an XML
 *    error, 503, a failing part, a 200 CompleteMultipartUpload with an error inside.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "export/s3.h"
#include "testhelp.h"

/* The AWS Signature Version 4 test suite */
#define SUITE_AK "AKIDEXAMPLE"
#define SUITE_SK "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
/* The Amazon S3 API Reference examples */
#define S3DOC_AK "AKIAIOSFODNN7EXAMPLE"
#define S3DOC_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3DOC_HOST "examplebucket.s3.amazonaws.com"
#define S3DOC_DATE "20130524T000000Z"
#define EMPTY S3_EMPTY_SHA256

/* ---- 1. AWS vectors ---------------------------------------------------------------------- */

static void test_signing_key_aws_example(void)
{
	uint8_t k[32];
	char hex[65];
	static const char digits[] = "0123456789abcdef";

	/* AWS General Reference, "Examples of how to derive a signing key for Signature
	 * Version 4": kSigning for secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215,
	 * us-east-1, iam */
	CHECK_EQ_INT(s3_sigv4_signing_key(SUITE_SK, "20120215", "us-east-1", "iam", k), 0);
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[k[i] >> 4];
		hex[2 * i + 1] = digits[k[i] & 15];
	}
	hex[64] = '\0';
	CHECK_EQ_STR(hex, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
}

static void test_suite_get_vanilla(void)
{
	struct s3_kv h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
	char empty[65];
	struct s3_sigv4_request r = {.method = "GET",
				     .path = "/",
				     .headers = h,
				     .nheaders = 2,
				     .payload_hash = empty,
				     .amz_date = "20150830T123600Z",
				     .region = "us-east-1",
				     .service = "service",
				     .access_key = SUITE_AK,
				     .secret_key = SUITE_SK};
	struct s3_sigv4 s;
	char err[256];

	CHECK_EQ_INT(s3_sha256_hex("", 0, empty), 0);
	CHECK_EQ_STR(empty, EMPTY); /* the suite's payload hash of an empty body */
	CHECK_EQ_INT(s3_sigv4_sign(&r, &s, err, sizeof err), 0);
	/* get-vanilla.sts */
	CHECK_EQ_STR(s.string_to_sign,
		     "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
		     "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
	/* get-vanilla.authz */
	CHECK_EQ_STR(s.credential, "AKIDEXAMPLE/20150830/us-east-1/service/aws4_request");
	CHECK_EQ_STR(s.signed_headers, "host;x-amz-date");
	CHECK_EQ_STR(s.signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
	s3_sigv4_free(&s);
}

static void test_suite_get_vanilla_query_order_key_case(void)
{
	/* GET /?Param2=value2&Param1=value1: the suite's worked example */
	struct s3_kv q[] = {{"Param2", "value2"}, {"Param1", "value1"}};
	struct s3_kv h[] = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}};
	struct s3_sigv4_request r = {.method = "GET",
				     .path = "/",
				     .query = q,
				     .nquery = 2,
				     .headers = h,
				     .nheaders = 2,
				     .payload_hash = EMPTY,
				     .amz_date = "20150830T123600Z",
				     .region = "us-east-1",
				     .service = "service",
				     .access_key = SUITE_AK,
				     .secret_key = SUITE_SK};
	struct s3_sigv4 s;
	char err[256];

	CHECK_EQ_INT(s3_sigv4_sign(&r, &s, err, sizeof err), 0);
	CHECK_EQ_STR(s.canonical_request, "GET\n/\nParam1=value1&Param2=value2\n"
					  "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
					  "host;x-amz-date\n" EMPTY);
	CHECK_EQ_STR(s.string_to_sign,
		     "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
		     "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0");
	CHECK_EQ_STR(s.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
	s3_sigv4_free(&s);
}

static void s3doc_request(struct s3_sigv4_request *r, const char *method, const char *path,
			  const struct s3_kv *h, size_t nh, const char *payload)
{
	*r = (struct s3_sigv4_request){.method = method,
				       .path = path,
				       .headers = h,
				       .nheaders = nh,
				       .payload_hash = payload,
				       .amz_date = S3DOC_DATE,
				       .region = "us-east-1",
				       .service = "s3",
				       .access_key = S3DOC_AK,
				       .secret_key = S3DOC_SK};
}

static void test_s3doc_get_object_range(void)
{
	struct s3_kv h[] = {{"Host", S3DOC_HOST},
			    {"Range", "bytes=0-9"},
			    {"x-amz-content-sha256", EMPTY},
			    {"x-amz-date", S3DOC_DATE}};
	struct s3_sigv4_request r;
	struct s3_sigv4 s;
	char err[256];

	s3doc_request(&r, "GET", "/test.txt", h, 4, EMPTY);
	CHECK_EQ_INT(s3_sigv4_sign(&r, &s, err, sizeof err), 0);
	CHECK_EQ_STR(s.canonical_request,
		     "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
		     "x-amz-content-sha256:" EMPTY "\nx-amz-date:20130524T000000Z\n\n"
		     "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY);
	CHECK_EQ_STR(s.string_to_sign,
		     "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
		     "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
	CHECK_EQ_STR(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	CHECK_EQ_STR(s.authorization,
		     "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
		     "aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
		     "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
	s3_sigv4_free(&s);
}

static void test_s3doc_put_object(void)
{
	static const char body[] = "Welcome to Amazon S3.";
	char hash[65], err[256];
	struct s3_kv h[] = {{"Host", S3DOC_HOST},
			    {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
			    {"x-amz-date", S3DOC_DATE},
			    {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
			    {"x-amz-content-sha256", hash}};
	struct s3_sigv4_request r;
	struct s3_sigv4 s;

	/* the object key is test$file.text: '$' must become %24 in the canonical URI */
	CHECK_EQ_INT(s3_sha256_hex(body, strlen(body), hash), 0);
	CHECK_EQ_STR(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	s3doc_request(&r, "PUT", "/test$file.text", h, 5, hash);
	CHECK_EQ_INT(s3_sigv4_sign(&r, &s, err, sizeof err), 0);
	CHECK_EQ_STR(s.canonical_request,
		     "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
		     "host:examplebucket.s3.amazonaws.com\nx-amz-content-sha256:"
		     "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
		     "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
		     "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
		     "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	CHECK_EQ_STR(s.string_to_sign,
		     "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
		     "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
	CHECK_EQ_STR(s.authorization,
		     "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
		     "aws4_request,SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;"
		     "x-amz-storage-class,Signature="
		     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	s3_sigv4_free(&s);
}

/* The same PUT with the headers in another order, mixed case and padded with blanks: the
 * canonical form, hence the signature, must not change. */
static void test_s3doc_put_object_headers_normalized(void)
{
	char err[256];
	struct s3_kv h[] = {{"X-Amz-Storage-Class", "  REDUCED_REDUNDANCY\t"},
			    {"X-AMZ-CONTENT-SHA256",
			     "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"},
			    {"DATE", " Fri,  24 May   2013 00:00:00 GMT "},
			    {"x-amz-date", S3DOC_DATE},
			    {"HOST", S3DOC_HOST}};
	struct s3_sigv4_request r;
	struct s3_sigv4 s;

	s3doc_request(&r, "PUT", "/test$file.text", h, 5,
		      "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	CHECK_EQ_INT(s3_sigv4_sign(&r, &s, err, sizeof err), 0);
	CHECK_EQ_STR(s.signature, "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
	s3_sigv4_free(&s);
}

static void test_s3doc_get_bucket_lifecycle(void)
{
	struct s3_kv q[] = {{"lifecycle", ""}};
	struct s3_kv h[] = {{"host", S3DOC_HOST},
			    {"x-amz-date", S3DOC_DATE},
			    {"x-amz-content-sha256", EMPTY}};
	struct s3_sigv4_request r;
	struct s3_sigv4 s;
	char err[256];

	s3doc_request(&r, "GET", "/", h, 3, EMPTY);
	r.query = q;
	r.nquery = 1;
	CHECK_EQ_INT(s3_sigv4_sign(&r, &s, err, sizeof err), 0);
	CHECK_EQ_STR(s.canonical_request, "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
					  "x-amz-content-sha256:" EMPTY "\nx-amz-date:20130524T000000Z"
					  "\n\nhost;x-amz-content-sha256;x-amz-date\n" EMPTY);
	CHECK_EQ_STR(s.string_to_sign,
		     "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
		     "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");
	CHECK_EQ_STR(s.authorization,
		     "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/"
		     "aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature="
		     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
	s3_sigv4_free(&s);
}

static void test_s3doc_list_objects(void)
{
	/* given in the opposite order to the canonical one */
	struct s3_kv q[] = {{"prefix", "J"}, {"max-keys", "2"}};
	struct s3_kv h[] = {{"host", S3DOC_HOST},
			    {"x-amz-date", S3DOC_DATE},
			    {"x-amz-content-sha256", EMPTY}};
	struct s3_sigv4_request r;
	struct s3_sigv4 s;
	char err[256];

	s3doc_request(&r, "GET", "/", h, 3, EMPTY);
	r.query = q;
	r.nquery = 2;
	CHECK_EQ_INT(s3_sigv4_sign(&r, &s, err, sizeof err), 0);
	CHECK_EQ_STR(s.canonical_query, "max-keys=2&prefix=J");
	CHECK_EQ_STR(s.canonical_request,
		     "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
		     "x-amz-content-sha256:" EMPTY "\nx-amz-date:20130524T000000Z\n\n"
		     "host;x-amz-content-sha256;x-amz-date\n" EMPTY);
	CHECK_EQ_STR(s.string_to_sign,
		     "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
		     "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
	CHECK_EQ_STR(s.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
	s3_sigv4_free(&s);
}

#define PRESIGN_DOC_URL                                                                        \
	"https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"     \
	"&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"    \
	"&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"            \
	"&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"

static void test_s3doc_presign_canonical(void)
{
	struct s3_kv q[] = {{"X-Amz-SignedHeaders", "host"},
			    {"X-Amz-Expires", "86400"},
			    {"X-Amz-Date", S3DOC_DATE},
			    {"X-Amz-Credential", S3DOC_AK "/20130524/us-east-1/s3/aws4_request"},
			    {"X-Amz-Algorithm", "AWS4-HMAC-SHA256"}};
	struct s3_kv h[] = {{"host", S3DOC_HOST}};
	struct s3_sigv4_request r;
	struct s3_sigv4 s;
	char err[256];

	s3doc_request(&r, "GET", "/test.txt", h, 1, S3_UNSIGNED_PAYLOAD);
	r.query = q;
	r.nquery = 5;
	CHECK_EQ_INT(s3_sigv4_sign(&r, &s, err, sizeof err), 0);
	CHECK_EQ_STR(s.canonical_request,
		     "GET\n/test.txt\nX-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
		     "AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date="
		     "20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n"
		     "host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD");
	CHECK_EQ_STR(s.string_to_sign,
		     "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
		     "3bfa292879f6447bbcda7001decf97f4a54dc650c8942174ae0a9121cf58ad04");
	CHECK_EQ_STR(s.signature, "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
	s3_sigv4_free(&s);
}

static s3_t *client(const char *endpoint, const char *bucket, enum s3_addressing a)
{
	struct s3_config c = {.endpoint = endpoint,
			      .bucket = bucket,
			      .access_key = S3DOC_AK,
			      .secret_key = S3DOC_SK,
			      .addressing = a};
	char err[S3_ERRBUF_SIZE];
	s3_t *s = s3_new(&c, err, sizeof err);

	if (!s)
		printf("  s3_new(%s, %s): %s\n", endpoint, bucket, err);
	return s;
}

static void test_s3doc_presign_url(void)
{
	char url[2048], err[S3_ERRBUF_SIZE];
	s3_t *s = client("https://s3.amazonaws.com", "examplebucket", S3_ADDR_AUTO);

	CHECK(s != NULL);
	if (!s)
		return;
	/* Fri, 24 May 2013 00:00:00 GMT */
	CHECK_EQ_INT(s3_presign_get(s, "test.txt", 86400, (time_t)1369353600, url, sizeof url, err,
				    sizeof err),
		     0);
	CHECK_EQ_STR(url, PRESIGN_DOC_URL);
	/* a buffer one byte short is refused, not cut */
	CHECK_EQ_INT(s3_presign_get(s, "test.txt", 86400, (time_t)1369353600, url,
				    strlen(PRESIGN_DOC_URL), err, sizeof err),
		     S3_EINVAL);
	CHECK_EQ_STR(url, "");
	s3_free(s);
}

/* ---- 2. Canonical forms, XML, config ------------------------------------------------------ */

static void test_uri_encode(void)
{
	static const struct {
		const char *in;
		int keep_slash;
		const char *want;
	} cases[] = {
		{"AZaz09-._~", 0, "AZaz09-._~"}, /* unreserved: as is */
		{"a b", 0, "a%20b"},		  /* a space is %20, never '+' */
		{"a+b", 0, "a%2Bb"},
		{"a/b", 0, "a%2Fb"}, /* a query value encodes '/' */
		{"/a/b/", 1, "/a/b/"}, /* a path keeps it */
		{"a=b&c", 0, "a%3Db%26c"},
		{"*'()!", 0, "%2A%27%28%29%21"},
		{"100%", 1, "100%25"}, /* '%' is data: no double decoding */
		{"%2F", 1, "%252F"},
		{"test$file.text", 1, "test%24file.text"},
		{"\xc3\xa9", 1, "%C3%A9"}, /* UTF-8 bytes, uppercase hex */
		{"\xe1\x88\xb4", 1, "%E1%88%B4"},
		{"a//b/./c/../d", 1, "a//b/./c/../d"}, /* S3 does not normalize paths */
		{"#?:@", 1, "%23%3F%3A%40"},
		{"", 0, ""},
	};
	char out[64];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t n = s3_uri_encode(cases[i].in, strlen(cases[i].in), cases[i].keep_slash, out,
					 sizeof out);

		CHECK_EQ_STR(out, cases[i].want);
		CHECK_EQ_INT(n, strlen(cases[i].want));
	}
	/* too small: the length still comes back, the output is a whole prefix, never half a %XX */
	CHECK_EQ_INT(s3_uri_encode("ab c", 4, 0, out, 4), 6);
	CHECK_EQ_STR(out, "ab");
	CHECK_EQ_INT(s3_uri_encode("abc", 3, 0, NULL, 0), 3);
}

static void test_canonical_query_and_headers(void)
{
	struct s3_kv q[] = {{"b", "2"},	      {"a", "x y/z"}, {"A", ""},   {"a", "x"},
			    {"c d", "+&="}, {"uploads", ""}, {"é", "ü"}};
	struct s3_kv h[] = {{"Host", "h"}, {"X-Amz-Date", "20150830T123600Z"},
			    {"X-Custom", "  a   b \t c  "}};
	struct s3_sigv4_request r = {.method = "POST",
				     .path = "/bucket/dir/a b",
				     .query = q,
				     .nquery = 7,
				     .headers = h,
				     .nheaders = 3,
				     .payload_hash = EMPTY,
				     .amz_date = "20150830T123600Z",
				     .region = "r",
				     .service = "s3",
				     .access_key = "ak",
				     .secret_key = "sk"};
	struct s3_sigv4 s;
	char err[256];

	CHECK_EQ_INT(s3_sigv4_sign(&r, &s, err, sizeof err), 0);
	/* sorted by encoded name in byte order ('%' < 'A' < 'a'), then by value */
	CHECK_EQ_STR(s.canonical_query,
		     "%C3%A9=%C3%BC&A=&a=x&a=x%20y%2Fz&b=2&c%20d=%2B%26%3D&uploads=");
	CHECK(strstr(s.canonical_request, "POST\n/bucket/dir/a%20b\n") == s.canonical_request);
	CHECK(strstr(s.canonical_request, "\nx-custom:a b c\n") != NULL);
	CHECK_EQ_STR(s.signed_headers, "host;x-amz-date;x-custom");
	s3_sigv4_free(&s);

	/* refused: the same header twice, a bad name, a bad date, a path without '/' */
	struct s3_kv dup[] = {{"Host", "h"}, {"host", "h2"}};
	r.query = NULL;
	r.nquery = 0;
	r.headers = dup;
	r.nheaders = 2;
	CHECK_EQ_INT(s3_sigv4_sign(&r, &s, err, sizeof err), S3_EINVAL);
	CHECK(strstr(err, "`host' given twice") != NULL);
	CHECK(s.signature[0] == '\0' && s.authorization == NULL);
	struct s3_kv bad[] = {{"Bad Name", "v"}};
	r.headers = bad;
	r.nheaders = 1;
	CHECK_EQ_INT(s3_sigv4_sign(&r, &s, err, sizeof err), S3_EINVAL);
	CHECK(strstr(err, "`Bad Name'") != NULL);
	r.headers = h;
	r.nheaders = 3;
	r.amz_date = "2015-08-30T12:36:00Z";
	CHECK_EQ_INT(s3_sigv4_sign(&r, &s, err, sizeof err), S3_EINVAL);
	CHECK(strstr(err, "`2015-08-30T12:36:00Z'") != NULL);
	r.amz_date = "20150830T123600Z";
	r.path = "bucket/key";
	CHECK_EQ_INT(s3_sigv4_sign(&r, &s, err, sizeof err), S3_EINVAL);
	s3_sigv4_free(&s);
}

static void test_xml_text(void)
{
	static const char body[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>SignatureDoesNotMatch"
		"</Code><Message>The request signature we calculated does not match &amp; "
		"&lt;so&gt; &quot;x&quot; &apos;y&apos; &#65;&#x42;&#x20AC; &bogus; &#0;</Message>"
		"<ETag>&quot;abc-2&quot;</ETag><Empty></Empty><CodeX>no</CodeX></Error>";
	char out[256];

	CHECK_EQ_INT(s3_xml_text(body, sizeof body - 1, "Code", out, sizeof out), 21);
	CHECK_EQ_STR(out, "SignatureDoesNotMatch");
	CHECK(s3_xml_text(body, sizeof body - 1, "Message", out, sizeof out) > 0);
	CHECK_EQ_STR(out, "The request signature we calculated does not match & <so> \"x\" 'y' "
			  "AB\xe2\x82\xac &bogus; &#0;");
	CHECK(s3_xml_text(body, sizeof body - 1, "ETag", out, sizeof out) > 0);
	CHECK_EQ_STR(out, "\"abc-2\"");
	CHECK_EQ_INT(s3_xml_text(body, sizeof body - 1, "Empty", out, sizeof out), 0);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(s3_xml_text(body, sizeof body - 1, "UploadId", out, sizeof out), -1);
	/* cut short: the closing tag is past len, so no element */
	CHECK_EQ_INT(s3_xml_text(body, 60, "Code", out, sizeof out), -1);
	/* output cut to the buffer */
	CHECK_EQ_INT(s3_xml_text(body, sizeof body - 1, "Code", out, 5), 4);
	CHECK_EQ_STR(out, "Sign");
	CHECK_EQ_INT(s3_xml_text("", 0, "Code", out, sizeof out), -1);
	CHECK_EQ_INT(s3_xml_text("<Code>&#x", 9, "Code", out, sizeof out), -1);
	CHECK_EQ_INT(s3_xml_text("<Code>&#x41</Code>", 18, "Code", out, sizeof out), 5);
	CHECK_EQ_STR(out, "&#x41");
}

static void test_config_checks(void)
{
	static const struct {
		const char *endpoint, *bucket, *ak, *sk;
		uint64_t part;
		const char *want; /* in the message */
	} bad[] = {
		{NULL, "b12", "ak", "sk", 0, "no S3 endpoint"},
		{"ftp://h", "b12", "ak", "sk", 0, "`ftp://h'"},
		{"http://", "b12", "ak", "sk", 0, "`http://'"},
		{"http://h/path", "b12", "ak", "sk", 0, "`http://h/path'"},
		{"http://u:p@h", "b12", "ak", "sk", 0, "`http://u:p@h'"},
		{"http://h:99999", "b12", "ak", "sk", 0, "bad port"},
		{"http://h:", "b12", "ak", "sk", 0, "bad port"},
		{"http://h", "B12", "ak", "sk", 0, "`B12'"},
		{"http://h", "ab", "ak", "sk", 0, "`ab'"},
		{"http://h", "-ab", "ak", "sk", 0, "`-ab'"},
		{"http://h", "a_b", "ak", "sk", 0, "`a_b'"},
		{"http://h", "b12", "", "sk", 0, "access key"},
		{"http://h", "b12", "ak", "", 0, "secret key"},
		{"http://h", "b12", "ak", "sk", 1 << 20, "part size 1048576"},
	};
	char err[S3_ERRBUF_SIZE];

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct s3_config c = {.endpoint = bad[i].endpoint,
				      .bucket = bad[i].bucket,
				      .access_key = bad[i].ak,
				      .secret_key = bad[i].sk,
				      .part_size = bad[i].part};
		s3_t *s;

		err[0] = '\0';
		s = s3_new(&c, err, sizeof err);
		CHECK(s == NULL);
		if (!strstr(err, bad[i].want)) {
			printf("  case %zu: `%s' not in `%s'\n", i, bad[i].want, err);
			CHECK(0);
		}
		s3_free(s);
	}
}

/* Path style for custom endpoints, virtual-hosted on AWS, Host without a default port. */
static void test_addressing_and_presign_shape(void)
{
	static const struct {
		const char *endpoint, *bucket;
		enum s3_addressing a;
		const char *prefix;
	} cases[] = {
		{"http://127.0.0.1:7480", "evidence", S3_ADDR_AUTO,
		 "http://127.0.0.1:7480/evidence/dir/a%20b%2Bc.pcap?X-Amz-Algorithm="},
		{"http://Minio.Local:80/", "evidence", S3_ADDR_AUTO,
		 "http://minio.local/evidence/dir/a%20b%2Bc.pcap?"},
		{"https://s3.eu-west-1.amazonaws.com", "evidence", S3_ADDR_AUTO,
		 "https://evidence.s3.eu-west-1.amazonaws.com/dir/a%20b%2Bc.pcap?"},
		{"https://s3.eu-west-1.amazonaws.com", "my.evidence", S3_ADDR_AUTO,
		 "https://s3.eu-west-1.amazonaws.com/my.evidence/dir/a%20b%2Bc.pcap?"},
		{"https://s3.amazonaws.com:443", "evidence", S3_ADDR_PATH,
		 "https://s3.amazonaws.com/evidence/dir/a%20b%2Bc.pcap?"},
		{"http://store:9000", "evidence", S3_ADDR_VIRTUAL,
		 "http://evidence.store:9000/dir/a%20b%2Bc.pcap?"},
		{"http://[::1]:7480", "evidence", S3_ADDR_AUTO,
		 "http://[::1]:7480/evidence/dir/a%20b%2Bc.pcap?"},
	};
	char url[2048], err[S3_ERRBUF_SIZE];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		s3_t *s = client(cases[i].endpoint, cases[i].bucket, cases[i].a);

		CHECK(s != NULL);
		if (!s)
			continue;
		CHECK_EQ_INT(s3_presign_get(s, "dir/a b+c.pcap", 900, (time_t)1369353600, url,
					    sizeof url, err, sizeof err),
			     0);
		if (strncmp(url, cases[i].prefix, strlen(cases[i].prefix))) {
			printf("  case %zu: `%s' does not start with `%s'\n", i, url,
			       cases[i].prefix);
			CHECK(0);
		}
		CHECK(strstr(url, "&X-Amz-Expires=900&") != NULL);
		CHECK(strstr(url, "&X-Amz-Signature=") != NULL);
		s3_free(s);
	}
}

static void test_presign_limits_and_keys(void)
{
	char url[4096], err[S3_ERRBUF_SIZE], longkey[1100];
	s3_t *s = client("http://127.0.0.1:7480", "evidence", S3_ADDR_AUTO);

	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ_INT(s3_presign_get(s, "k", 0, 0, url, sizeof url, err, sizeof err), S3_EINVAL);
	CHECK(strstr(err, "lifetime 0 s") != NULL);
	CHECK_EQ_INT(s3_presign_get(s, "k", 604801, 0, url, sizeof url, err, sizeof err),
		     S3_EINVAL);
	CHECK_EQ_INT(s3_presign_get(s, "k", 604800, 0, url, sizeof url, err, sizeof err), 0);
	CHECK(strstr(url, "X-Amz-Expires=604800") != NULL);
	CHECK_EQ_INT(s3_presign_get(s, "", 60, 0, url, sizeof url, err, sizeof err), S3_EINVAL);
	CHECK_EQ_INT(s3_presign_get(s, "/abs", 60, 0, url, sizeof url, err, sizeof err),
		     S3_EINVAL);
	CHECK(strstr(err, "`/abs'") != NULL);
	CHECK_EQ_INT(s3_presign_get(s, "a\nb", 60, 0, url, sizeof url, err, sizeof err),
		     S3_EINVAL);
	memset(longkey, 'k', 1025);
	longkey[1025] = '\0';
	CHECK_EQ_INT(s3_presign_get(s, longkey, 60, 0, url, sizeof url, err, sizeof err),
		     S3_EINVAL);
	longkey[1024] = '\0';
	CHECK_EQ_INT(s3_presign_get(s, longkey, 60, 0, url, sizeof url, err, sizeof err), 0);
	s3_free(s);

	CHECK(s3_retryable(S3_ENET) && s3_retryable(S3_ESERVER) && s3_retryable(S3_EVERIFY));
	CHECK(!s3_retryable(S3_EAUTH) && !s3_retryable(S3_EINVAL) && !s3_retryable(0));
	CHECK_EQ_STR(s3_strerror(S3_EAUTH), "auth");
}

/* ---- 3. A fake S3 server ----------------------------------------------------------------- */

enum fake_mode {
	FAKE_OK,
	FAKE_BAD_PUT_ETAG,  /* PUT answers with an ETag that is not the body's MD5 */
	FAKE_BAD_HEAD_SIZE, /* HEAD reports one byte more than stored */
	FAKE_403,	    /* every request: 403 SignatureDoesNotMatch */
	FAKE_503,	    /* every request: 503 SlowDown */
	FAKE_PART2_500,	    /* UploadPart 2 fails with 500 InternalError */
	FAKE_COMPLETE_200_ERROR, /* CompleteMultipartUpload: 200 with an <Error> body */
	FAKE_COMPLETE_BAD_ETAG,	 /* CompleteMultipartUpload: an ETag not from the parts sent */
	FAKE_BUCKET_MISSING,	 /* HEAD bucket 404, then PUT bucket creates it */
	FAKE_BUCKET_OWNED,	 /* HEAD bucket 404, PUT 409 BucketAlreadyOwnedByYou */
	FAKE_BUCKET_TAKEN,	 /* HEAD bucket 404, PUT 409 BucketAlreadyExists */
};

#define FAKE_MAX (24u << 20)

static struct fake {
	enum fake_mode mode;
	uint8_t *obj; /* the stored object */
	size_t objlen;
	uint8_t *parts[8];
	size_t partlen[8];
	int nparts_seen, puts, heads, creates, completes, aborts, bucket_puts, bad_hash, part2_tries;
	char complete_body[4096];
} fake;

struct conn {
	uint8_t *buf;
	size_t len, cap;
	int too_big;
};

static void fake_reset(enum fake_mode m)
{
	free(fake.obj);
	for (int i = 0; i < 8; i++)
		free(fake.parts[i]);
	memset(&fake, 0, sizeof fake);
	fake.mode = m;
}

static void hexs(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static void md5_hex(const void *p, size_t n, char out[33])
{
	uint8_t md[16];

	EVP_Digest(p, n, md, NULL, EVP_md5(), NULL);
	hexs(md, 16, out);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *body,
			     size_t len, const char *etag)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (etag) {
		char q[96];

		snprintf(q, sizeof q, "\"%s\"", etag);
		MHD_add_response_header(r, "ETag", q);
	}
	MHD_add_response_header(r, "x-amz-request-id", "fake-req-1");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result xml_error(struct MHD_Connection *c, unsigned code, const char *scode,
				 const char *msg)
{
	char b[512];

	snprintf(b, sizeof b, "<?xml version=\"1.0\"?><Error><Code>%s</Code><Message>%s</Message>"
			      "</Error>", scode, msg);
	return reply(c, code, b, strlen(b), NULL);
}

static enum MHD_Result has_arg(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
	(void)kind;
	(void)v;
	if (!strcmp(k, (const char *)((void **)cls)[0]))
		((void **)cls)[1] = (void *)1;
	return MHD_YES;
}

static int arg_present(struct MHD_Connection *c, const char *name)
{
	void *st[2] = {(void *)(uintptr_t)name, NULL};

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, has_arg, st);
	return st[1] != NULL;
}

/* The body must match x-amz-content-sha256 and Content-MD5, as on a real server. */
static int body_hashes_ok(struct MHD_Connection *c, const struct conn *cn)
{
	const char *sha = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "x-amz-content-sha256");
	const char *md5 = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-MD5");
	const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
	char hex[65];
	uint8_t md[16];
	unsigned char b64[32];

	s3_sha256_hex(cn->buf ? (const void *)cn->buf : "", cn->len, hex);
	if (!sha || strcmp(sha, hex) || !auth || strncmp(auth, "AWS4-HMAC-SHA256 Credential=", 28))
		return 0;
	if (md5) {
		EVP_Digest(cn->buf ? (const void *)cn->buf : "", cn->len, md, NULL, EVP_md5(), NULL);
		EVP_EncodeBlock(b64, md, 16);
		if (strcmp(md5, (const char *)b64))
			return 0;
	}
	return 1;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct conn *cn = *con_cls;
	char etag[48];
	int is_bucket = !strcmp(url, "/bkt");

	(void)cls;
	(void)version;
	if (!cn) {
		*con_cls = cn = calloc(1, sizeof *cn);
		return cn ? MHD_YES : MHD_NO;
	}
	if (*upload_data_size) {
		if (cn->len + *upload_data_size > FAKE_MAX) {
			cn->too_big = 1;
		} else {
			size_t need = cn->len + *upload_data_size;

			if (need > cn->cap) {
				/* doubling: a sanitizer's realloc always copies */
				size_t cap = cn->cap ? cn->cap : 64u << 10;
				while (cap < need)
					cap *= 2;
				uint8_t *nb = realloc(cn->buf, cap);

				if (!nb)
					return MHD_NO;
				cn->buf = nb;
				cn->cap = cap;
			}
			memcpy(cn->buf + cn->len, upload_data, *upload_data_size);
			cn->len += *upload_data_size;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (fake.mode == FAKE_403)
		return xml_error(c, 403, "SignatureDoesNotMatch",
				 "The request signature we calculated does not match");
	if (fake.mode == FAKE_503)
		return xml_error(c, 503, "SlowDown", "Please reduce your request rate.");
	if (cn->too_big)
		return xml_error(c, 400, "EntityTooLarge", "fake limit");
	if (!body_hashes_ok(c, cn)) {
		fake.bad_hash++;
		return xml_error(c, 400, "XAmzContentSHA256Mismatch", "hash mismatch");
	}

	if (is_bucket) {
		if (!strcmp(method, "HEAD"))
			return fake.mode >= FAKE_BUCKET_MISSING && !fake.bucket_puts
				       ? reply(c, 404, "", 0, NULL)
				       : reply(c, 200, "", 0, NULL);
		if (!strcmp(method, "PUT")) {
			fake.bucket_puts++;
			if (fake.mode == FAKE_BUCKET_OWNED)
				return xml_error(c, 409, "BucketAlreadyOwnedByYou", "yours");
			if (fake.mode == FAKE_BUCKET_TAKEN)
				return xml_error(c, 409, "BucketAlreadyExists", "not yours");
			return reply(c, 200, "", 0, NULL);
		}
		return xml_error(c, 405, "MethodNotAllowed", method);
	}
	if (strncmp(url, "/bkt/", 5))
		return xml_error(c, 404, "NoSuchBucket", url);

	if (!strcmp(method, "HEAD")) {
		size_t n = fake.objlen + (fake.mode == FAKE_BAD_HEAD_SIZE);
		struct MHD_Response *r;
		enum MHD_Result ret;
		char q[96];

		fake.heads++;
		if (!fake.obj)
			return reply(c, 404, "", 0, NULL);
		r = MHD_create_response_from_buffer(n, fake.obj, MHD_RESPMEM_PERSISTENT);
		if (fake.nparts_seen) { /* multipart: MD5 of the part MD5s, "-N" */
			uint8_t all[8 * 16];

			for (int i = 0; i < fake.nparts_seen; i++)
				EVP_Digest(fake.parts[i], fake.partlen[i], all + 16 * i, NULL,
					   EVP_md5(), NULL);
			md5_hex(all, (size_t)fake.nparts_seen * 16, etag);
			snprintf(q, sizeof q, "\"%s-%d\"", etag, fake.nparts_seen);
		} else {
			md5_hex(fake.obj, fake.objlen, etag);
			snprintf(q, sizeof q, "\"%s\"", etag);
		}
		MHD_add_response_header(r, "ETag", q);
		ret = MHD_queue_response(c, 200, r);
		MHD_destroy_response(r);
		return ret;
	}
	if (!strcmp(method, "POST") && arg_present(c, "uploads")) {
		static const char b[] = "<InitiateMultipartUploadResult><Bucket>bkt</Bucket><Key>k"
					"</Key><UploadId>up&amp;1</UploadId>"
					"</InitiateMultipartUploadResult>";
		fake.creates++;
		return reply(c, 200, b, sizeof b - 1, NULL);
	}
	if (!strcmp(method, "PUT") && arg_present(c, "partNumber")) {
		const char *pn = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "partNumber");
		const char *up = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "uploadId");
		int n = pn ? atoi(pn) : 0;

		if (!up || strcmp(up, "up&1") || n < 1 || n > 8)
			return xml_error(c, 400, "InvalidArgument", "part");
		if (n == 2 && fake.mode == FAKE_PART2_500) {
			fake.part2_tries++;
			return xml_error(c, 500, "InternalError", "part 2 lost");
		}
		free(fake.parts[n - 1]);
		fake.parts[n - 1] = cn->buf;
		fake.partlen[n - 1] = cn->len;
		cn->buf = NULL;
		if (n > fake.nparts_seen)
			fake.nparts_seen = n;
		md5_hex(fake.parts[n - 1], fake.partlen[n - 1], etag);
		return reply(c, 200, "", 0, etag);
	}
	if (!strcmp(method, "POST") && arg_present(c, "uploadId")) {
		char b[256];
		size_t total = 0;

		fake.completes++;
		snprintf(fake.complete_body, sizeof fake.complete_body, "%.*s", (int)cn->len,
			 cn->buf ? (const char *)cn->buf : "");
		if (fake.mode == FAKE_COMPLETE_200_ERROR) {
			static const char e[] = "<Error><Code>InternalError</Code><Message>We "
						"encountered an internal error.</Message></Error>";
			return reply(c, 200, e, sizeof e - 1, NULL);
		}
		for (int i = 0; i < fake.nparts_seen; i++)
			total += fake.partlen[i];
		free(fake.obj);
		fake.obj = malloc(total ? total : 1);
		fake.objlen = 0;
		for (int i = 0; fake.obj && i < fake.nparts_seen; i++) {
			memcpy(fake.obj + fake.objlen, fake.parts[i], fake.partlen[i]);
			fake.objlen += fake.partlen[i];
		}
		if (fake.mode == FAKE_COMPLETE_BAD_ETAG)
			snprintf(b, sizeof b, "<CompleteMultipartUploadResult><Key>k</Key><ETag>"
					      "&quot;0123456789abcdef0123456789abcdef-3&quot;</ETag>"
					      "</CompleteMultipartUploadResult>");
		else /* no ETag: the client checks the one of the HEAD */
			snprintf(b, sizeof b, "<CompleteMultipartUploadResult><Key>k</Key>"
					      "</CompleteMultipartUploadResult>");
		return reply(c, 200, b, strlen(b), NULL);
	}
	if (!strcmp(method, "DELETE") && arg_present(c, "uploadId")) {
		fake.aborts++;
		return reply(c, 204, "", 0, NULL);
	}
	if (!strcmp(method, "PUT")) {
		fake.puts++;
		free(fake.obj);
		fake.obj = cn->buf ? cn->buf : calloc(1, 1);
		fake.objlen = cn->len;
		fake.nparts_seen = 0;
		cn->buf = NULL;
		md5_hex(fake.obj ? (const void *)fake.obj : "", fake.objlen, etag);
		if (fake.mode == FAKE_BAD_PUT_ETAG)
			etag[0] = etag[0] == '0' ? '1' : '0';
		return reply(c, 200, "", 0, etag);
	}
	return xml_error(c, 405, "MethodNotAllowed", method);
}

static void done_cb(void *cls, struct MHD_Connection *c, void **con_cls,
		    enum MHD_RequestTerminationCode toe)
{
	struct conn *cn = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (cn) {
		free(cn->buf);
		free(cn);
		*con_cls = NULL;
	}
}

static struct MHD_Daemon *fake_d;
static char fake_url[64];

static int fake_start(void)
{
	const union MHD_DaemonInfo *di;

	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fake_d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
				  NULL, handle, NULL, MHD_OPTION_NOTIFY_COMPLETED, done_cb, NULL,
				  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
	if (!fake_d)
		return -1;
	di = MHD_get_daemon_info(fake_d, MHD_DAEMON_INFO_BIND_PORT);
	if (!di || !di->port)
		return -1;
	snprintf(fake_url, sizeof fake_url, "http://127.0.0.1:%u", (unsigned)di->port);
	return 0;
}

static s3_t *fake_client(unsigned retries)
{
	struct s3_config c = {.endpoint = fake_url,
			      .bucket = "bkt",
			      .access_key = "AK",
			      .secret_key = "SK",
			      .multipart_threshold = 6u << 20,
			      .part_size = S3_MIN_PART_SIZE,
			      .part_retries = retries,
			      .connect_timeout_s = 5,
			      .request_timeout_s = 30};
	char err[S3_ERRBUF_SIZE];
	s3_t *s = s3_new(&c, err, sizeof err);

	if (!s)
		printf("  fake client: %s\n", err);
	return s;
}

static int tmpfile_of(size_t len, char *path, size_t plen)
{
	int fd;
	uint8_t *b = malloc(len ? len : 1);

	const char *t = getenv("TMPDIR");

	snprintf(path, plen, "%s/test_s3.XXXXXX", t && *t ? t : "/tmp");
	fd = mkstemp(path);
	for (size_t i = 0; b && i < len; i++)
		b[i] = (uint8_t)(i * 2654435761u >> 13);
	if (fd < 0 || !b || write(fd, b, len) != (ssize_t)len) {
		free(b);
		return -1;
	}
	free(b);
	return fd;
}

static void test_fake_single_put(void)
{
	char path[512], err[S3_ERRBUF_SIZE], md5[33];
	struct s3_put_result res;
	int fd = tmpfile_of(100000, path, sizeof path);
	s3_t *s = fake_client(0);

	CHECK(fd >= 0 && s != NULL);
	if (fd < 0 || !s)
		goto out;
	fake_reset(FAKE_OK);
	CHECK_EQ_INT(s3_put_fd(s, fd, "dir/a b.pcap", "application/vnd.tcpdump.pcap", &res, err,
			       sizeof err),
		     0);
	CHECK_EQ_INT(fake.puts, 1);
	CHECK_EQ_INT(fake.heads, 1);
	CHECK_EQ_INT(fake.bad_hash, 0);
	CHECK_EQ_INT(fake.objlen, 100000);
	CHECK_EQ_INT(res.size, 100000);
	CHECK_EQ_INT(res.parts, 0);
	md5_hex(fake.obj, fake.objlen, md5);
	CHECK_EQ_STR(res.etag, md5);
	CHECK_EQ_STR(res.md5, md5);
	CHECK_EQ_INT(strlen(res.sha256), 64);

	/* the metadata JSON from memory */
	CHECK_EQ_INT(s3_put_buffer(s, "dir/a b.json", "{\"id\":1}", 8, "application/json", &res,
				   err, sizeof err),
		     0);
	CHECK_EQ_INT(fake.objlen, 8);
	CHECK(fake.obj && !memcmp(fake.obj, "{\"id\":1}", 8));
	CHECK_EQ_INT(s3_put_buffer(s, "k", "", 0, NULL, &res, err, sizeof err), 0);
	CHECK_EQ_STR(res.etag, "d41d8cd98f00b204e9800998ecf8427e");
out:
	s3_free(s);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
}

static void test_fake_verify_failures(void)
{
	char path[512], err[S3_ERRBUF_SIZE];
	int fd = tmpfile_of(5000, path, sizeof path);
	s3_t *s = fake_client(0);

	CHECK(fd >= 0 && s != NULL);
	if (fd < 0 || !s)
		goto out;
	fake_reset(FAKE_BAD_PUT_ETAG);
	CHECK_EQ_INT(s3_put_fd(s, fd, "k", NULL, NULL, err, sizeof err), S3_EVERIFY);
	CHECK(strstr(err, "is not the MD5") != NULL);
	fake_reset(FAKE_BAD_HEAD_SIZE);
	CHECK_EQ_INT(s3_put_fd(s, fd, "k", NULL, NULL, err, sizeof err), S3_EVERIFY);
	CHECK(strstr(err, "has 5001 bytes, 5000 were sent") != NULL);
out:
	s3_free(s);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
}

static void test_fake_http_errors(void)
{
	char err[S3_ERRBUF_SIZE];
	struct s3_object_info info;
	s3_t *s = fake_client(2);
	struct timespec t0, t1;

	CHECK(s != NULL);
	if (!s)
		return;
	fake_reset(FAKE_403);
	CHECK_EQ_INT(s3_put_buffer(s, "k", "x", 1, NULL, NULL, err, sizeof err), S3_EAUTH);
	CHECK(strstr(err, "HTTP 403 SignatureDoesNotMatch: The request signature we calculated") !=
	      NULL);
	CHECK(strstr(err, "check the secret key") != NULL);
	CHECK(strstr(err, "[request id fake-req-1]") != NULL);
	CHECK(strstr(err, "/bkt/k") != NULL);

	/* 503 SlowDown is retryable; a HEAD is retried part_retries times, backing off 1 s, 2 s */
	fake_reset(FAKE_503);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ_INT(s3_head(s, "k", &info, err, sizeof err), S3_ESERVER);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(strstr(err, "HTTP 503") != NULL); /* a HEAD reply has no body to name the code */
	CHECK(t1.tv_sec - t0.tv_sec >= 2);
	CHECK_EQ_INT(s3_put_buffer(s, "k", "x", 1, NULL, NULL, err, sizeof err), S3_ESERVER);
	CHECK(strstr(err, "HTTP 503 SlowDown: Please reduce your request rate.") != NULL);

	fake_reset(FAKE_OK);
	CHECK_EQ_INT(s3_head(s, "missing", &info, err, sizeof err), S3_ENOTFOUND);
	CHECK(strstr(err, "HTTP 404 (no such object") != NULL);

	/* cancelled before it starts */
	s3_cancel(s);
	CHECK_EQ_INT(s3_put_buffer(s, "k", "x", 1, NULL, NULL, err, sizeof err), S3_ECANCEL);
	s3_reset_cancel(s);
	CHECK_EQ_INT(s3_put_buffer(s, "k", "x", 1, NULL, NULL, err, sizeof err), 0);
	s3_free(s);
}

static void test_fake_multipart(void)
{
	/* 12 MiB + 3 bytes with 5 MiB parts: 5, 5, 2 MiB + 3 */
	size_t len = (12u << 20) + 3;
	char path[512], err[S3_ERRBUF_SIZE], want[40];
	struct s3_put_result res;
	int fd = tmpfile_of(len, path, sizeof path);
	s3_t *s = fake_client(1);

	CHECK(fd >= 0 && s != NULL);
	if (fd < 0 || !s)
		goto out;
	fake_reset(FAKE_OK);
	CHECK_EQ_INT(s3_put_fd(s, fd, "big.pcap", NULL, &res, err, sizeof err), 0);
	CHECK_EQ_INT(fake.creates, 1);
	CHECK_EQ_INT(fake.nparts_seen, 3);
	CHECK_EQ_INT(fake.partlen[0], 5u << 20);
	CHECK_EQ_INT(fake.partlen[1], 5u << 20);
	CHECK_EQ_INT(fake.partlen[2], (2u << 20) + 3);
	CHECK_EQ_INT(fake.completes, 1);
	CHECK_EQ_INT(fake.aborts, 0);
	CHECK_EQ_INT(fake.bad_hash, 0);
	CHECK_EQ_INT(fake.objlen, len);
	CHECK_EQ_INT(res.parts, 3);
	CHECK_EQ_INT(res.size, len);
	CHECK(strlen(res.etag) == 34 && !strcmp(res.etag + 32, "-3"));
	/* the Complete body lists the parts in order with the ETags the parts got */
	md5_hex(fake.parts[1], fake.partlen[1], want);
	CHECK(strstr(fake.complete_body, "<PartNumber>2</PartNumber><ETag>\"") != NULL);
	CHECK(strstr(fake.complete_body, want) != NULL);
	/* the whole object's MD5, not the ETag, in res.md5 */
	md5_hex(fake.obj, fake.objlen, want);
	CHECK_EQ_STR(res.md5, want);

	/* part 2 fails twice (one retry): the upload is aborted, the error names the part */
	fake_reset(FAKE_PART2_500);
	CHECK_EQ_INT(s3_put_fd(s, fd, "big.pcap", NULL, &res, err, sizeof err), S3_ESERVER);
	CHECK_EQ_INT(fake.part2_tries, 2);
	CHECK_EQ_INT(fake.aborts, 1);
	CHECK_EQ_INT(fake.completes, 0);
	CHECK(strstr(err, "UploadPart 2/3") != NULL);
	CHECK(strstr(err, "InternalError") != NULL);
	CHECK(strstr(err, "the multipart upload was aborted") != NULL);

	/* a 200 CompleteMultipartUpload that carries an error */
	fake_reset(FAKE_COMPLETE_200_ERROR);
	CHECK_EQ_INT(s3_put_fd(s, fd, "big.pcap", NULL, &res, err, sizeof err), S3_ESERVER);
	CHECK(strstr(err, "HTTP 200 InternalError") != NULL);
	CHECK_EQ_INT(fake.aborts, 1);

	/* a CompleteMultipartUpload ETag that is not MD5(part MD5s)-3 */
	fake_reset(FAKE_COMPLETE_BAD_ETAG);
	CHECK_EQ_INT(s3_put_fd(s, fd, "big.pcap", NULL, &res, err, sizeof err), S3_EVERIFY);
	CHECK(strstr(err, "0123456789abcdef0123456789abcdef-3") != NULL);
out:
	s3_free(s);
	if (fd >= 0) {
		close(fd);
		unlink(path);
	}
}

static void test_fake_ensure_bucket(void)
{
	char err[S3_ERRBUF_SIZE];
	s3_t *s = fake_client(0);

	CHECK(s != NULL);
	if (!s)
		return;
	fake_reset(FAKE_OK); /* exists: no PUT */
	CHECK_EQ_INT(s3_ensure_bucket(s, err, sizeof err), 0);
	CHECK_EQ_INT(fake.bucket_puts, 0);
	fake_reset(FAKE_BUCKET_MISSING);
	CHECK_EQ_INT(s3_ensure_bucket(s, err, sizeof err), 0);
	CHECK_EQ_INT(fake.bucket_puts, 1);
	fake_reset(FAKE_BUCKET_OWNED);
	CHECK_EQ_INT(s3_ensure_bucket(s, err, sizeof err), 0);
	fake_reset(FAKE_BUCKET_TAKEN);
	CHECK_EQ_INT(s3_ensure_bucket(s, err, sizeof err), S3_EHTTP);
	CHECK(strstr(err, "BucketAlreadyExists") != NULL);
	CHECK(strstr(err, "another account") != NULL);
	s3_free(s);
}

static void test_connection_refused(void)
{
	char err[S3_ERRBUF_SIZE], ep[64];
	struct s3_config c = {.bucket = "bkt", .access_key = "AK", .secret_key = "SK"};
	s3_t *s;

	/* a port nobody listens on: the fake's, after it stopped */
	snprintf(ep, sizeof ep, "%s", fake_url);
	MHD_stop_daemon(fake_d);
	fake_d = NULL;
	c.endpoint = ep;
	s = s3_new(&c, err, sizeof err);
	CHECK(s != NULL);
	if (!s)
		return;
	CHECK_EQ_INT(s3_put_buffer(s, "k", "x", 1, NULL, NULL, err, sizeof err), S3_ENET);
	CHECK(strstr(err, "connection refused to http://127.0.0.1:") != NULL);
	s3_free(s);
}

int main(void)
{
	th_suite = "unit/test_s3";
	RUN(test_signing_key_aws_example);
	RUN(test_suite_get_vanilla);
	RUN(test_suite_get_vanilla_query_order_key_case);
	RUN(test_s3doc_get_object_range);
	RUN(test_s3doc_put_object);
	RUN(test_s3doc_put_object_headers_normalized);
	RUN(test_s3doc_get_bucket_lifecycle);
	RUN(test_s3doc_list_objects);
	RUN(test_s3doc_presign_canonical);
	RUN(test_s3doc_presign_url);
	RUN(test_uri_encode);
	RUN(test_canonical_query_and_headers);
	RUN(test_xml_text);
	RUN(test_config_checks);
	RUN(test_addressing_and_presign_shape);
	RUN(test_presign_limits_and_keys);
	if (fake_start()) {
		printf("FAIL unit/test_s3/fake_server: cannot start libmicrohttpd on 127.0.0.1\n");
		return 1;
	}
	RUN(test_fake_single_put);
	RUN(test_fake_verify_failures);
	RUN(test_fake_http_errors);
	RUN(test_fake_multipart);
	RUN(test_fake_ensure_bucket);
	RUN(test_connection_refused);
	fake_reset(FAKE_OK);
	printf("%d passed, %d failed\n", th_passed, th_failed);
	return test_main_end();
}
