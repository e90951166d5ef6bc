/* fuzz_jwt.c — libFuzzer driver for bearer tokens: whatever arrives in an Authorization
 * header must be refused cleanly unless it is a valid HS256 token for the key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"

static const uint8_t key[32] = "fuzz-key-0123456789abcdefghijklm";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	char *s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, data, n);
	s[n] = '\0';
	struct jwt_claims c;
	(void)jwt_verify_hs256(s, key, sizeof(key), 1700000000, &c);
	free(s);
	return 0;
}
