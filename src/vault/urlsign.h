/*
 * urlsign.h - signed download URLs for incident captures.
 *
 * DESIGN: a signed URL lets a tool without the API token (wget, a browser, a ticket system) fetch
 * one incident's capture until it expires:
 *
 *   /api/v1/incidents/ID/pcap?kid=KID&exp=EXP&uid=UID&sig=SIG
 *
 *   KID  the vault key id whose URL subkey signed it (store_url_key), so that URLs issued before
 *        a key rotation still verify; 1..16 characters of [A-Za-z0-9._-]
 *   EXP  expiry, epoch seconds
 *   UID  the URL's id: 16 random bytes in lowercase hex, named in the audit trail
 *   SIG  lowercase hex HMAC-SHA256 under that subkey of the message
 *          "GET\n/api/v1/incidents/ID/pcap\nID\nEXP\nUID\nKID"
 *
 * Verification recomputes the HMAC and compares the hex texts with CRYPTO_memcmp. A parameter
 * that is missing, repeated, empty, unknown, too long or outside its character set makes the
 * query malformed (HTTP 400); any other change of any character (a different digit in EXP or UID,
 * another KID, another ID in the path) makes the signature fail (HTTP 403).
 */
#ifndef RINGCAP_URLSIGN_H
#define RINGCAP_URLSIGN_H

#include <stddef.h>
#include <stdint.h>

#include "vault/vault.h"

#define URLSIGN_UID_HEX 32u /* 16 random bytes */
#define URLSIGN_SIG_HEX 64u /* HMAC-SHA256 */
#define URLSIGN_ID_MAX 1000000000L
#define URLSIGN_QUERY_MAX 256u /* room for a query string this module writes */

/* The parameters of a signed URL's query string, NUL-terminated. */
struct urlsign_params {
	char kid[VAULT_KEY_ID_MAX + 1];
	int64_t exp;
	char uid[URLSIGN_UID_HEX + 1];
	char sig[URLSIGN_SIG_HEX + 1];
};

/*
 * Signs a new URL for incident id (1..URLSIGN_ID_MAX) expiring at exp: fills p (kid copied, a
 * fresh random uid, sig). Returns 0, or -1 with a message in err (bad argument, crypto failure).
 */
int urlsign_sign(const uint8_t key[VAULT_KEY_LEN], const char *kid, long id, int64_t exp,
		 struct urlsign_params *p, char *err, size_t errlen);

/* Writes the query string "kid=K&exp=E&uid=U&sig=S" (without '?'). Returns 0, or -1 if short. */
int urlsign_query(const struct urlsign_params *p, char *out, size_t outlen);

/*
 * Parses a raw query string (the text after '?', not percent-decoded) into p. Returns 0, or -1
 * with a message in err when it is malformed as above. The message never quotes the values.
 */
int urlsign_parse(const char *query, size_t len, struct urlsign_params *p, char *err,
		  size_t errlen);

/*
 * Checks p's signature for incident id under key, in constant time. Expiry is not checked here.
 * Returns 0 when it verifies, -1 when it does not.
 */
int urlsign_verify(const uint8_t key[VAULT_KEY_LEN], long id, const struct urlsign_params *p);

#endif
