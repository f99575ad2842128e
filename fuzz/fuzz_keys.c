/*
 * fuzz_keys.c - the key file parser on untrusted bytes (a key file an attacker could have edited):
 * keys_parse() must return a key set or an error, never crash, never read past the text.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vault/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	keys_t *k = NULL;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	if (keys_parse(text, size, "fuzz.key", &k, err, sizeof err) == 0) {
		if (!keys_primary(k))
			abort(); /* a parsed key set always has a primary */
		keys_free(k);
	}
	free(text);
	return 0;
}
