/*
 * fuzz_s3xml.c - the parser of S3 replies on untrusted bytes (what an endpoint, or anyone between
 * us and it over plain HTTP, sends back): s3_xml_text() on error bodies,
 * InitiateMultipartUploadResult and CompleteMultipartUploadResult, for the tags the client
 * reads, with roomy and tiny output buffers. It must return -1 or the length it wrote, write a
 * terminated string within the buffer, and never read past the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "export/s3.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const tags[] = {"Code", "Message", "UploadId", "ETag", "Key",
					   "RequestId", "Error"};
	static const size_t lens[] = {1, 2, 5, 96, 384, 1024};
	char out[1024];

	for (size_t t = 0; t < sizeof tags / sizeof tags[0]; t++)
		for (size_t l = 0; l < sizeof lens / sizeof lens[0]; l++) {
			memset(out, 'X', sizeof out);
			int n = s3_xml_text((const char *)data, size, tags[t], out, lens[l]);
			if (n < -1 || (n >= 0 && (size_t)n >= lens[l]))
				abort();
			if (n >= 0 && (out[n] != '\0' || strlen(out) != (size_t)n))
				abort();
			if (lens[l] < sizeof out && out[lens[l]] != 'X')
				abort(); /* wrote past the buffer it was given */
		}
	return 0;
}
