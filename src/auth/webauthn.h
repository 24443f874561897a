/*
 * webauthn.h - passkeys: what a WebAuthn Level 2 relying party must check, and nothing else.
 *
 * Pure verification of what a browser sends in a registration (clientDataJSON +
 * attestationObject) or an authentication (clientDataJSON + authenticatorData + signature):
 * strict base64url, the clientDataJSON fields (type, challenge, origin, crossOrigin), the CBOR
 * attestation object (libcbor), authenticator data (rpIdHash, flags UP and UV, sign count,
 * attested credential data), COSE keys (ES256 on P-256 and EdDSA on Ed25519) and signatures
 * (OpenSSL). Attestation "none" is accepted, and "packed" self attestation (no certificate
 * chain) is verified; any other format is refused. No I/O, no clock, no store: the API keeps
 * challenges (single use, expiring) and credentials, and passes them in.
 *
 * Everything here reads bytes from the network: every length is checked against a named
 * maximum before it is used, CBOR must be definite-length and fully consumed, and duplicate
 * map keys are refused. A failure returns TL_ERR_INVALID_REQUEST with *why set to a static
 * sentence safe to show a client (it never quotes input).
 *
 * Never: log or keep the bytes it is given, or accept a signature made with another key type
 * than the credential's.
 */
#ifndef TL_AUTH_WEBAUTHN_H
#define TL_AUTH_WEBAUTHN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define WEBAUTHN_CHALLENGE_BYTES 32
#define WEBAUTHN_HASH_BYTES 32
#define WEBAUTHN_AAGUID_BYTES 16
/* WebAuthn Level 2 caps credential ids at 1023 bytes. */
#define WEBAUTHN_CREDENTIAL_ID_BYTES_MAX 1023
/* ES256: 0x04 || x || y (uncompressed P-256 point); EdDSA: the 32-byte Ed25519 key. */
#define WEBAUTHN_PUBLIC_KEY_BYTES_MAX 65
#define WEBAUTHN_CLIENT_DATA_BYTES_MAX 4096
#define WEBAUTHN_ATTESTATION_BYTES_MAX 16384
#define WEBAUTHN_AUTH_DATA_BYTES_MAX 4096
#define WEBAUTHN_SIGNATURE_BYTES_MAX 128 /* DER ECDSA P-256 <= 72, Ed25519 64 */
#define WEBAUTHN_ORIGIN_BYTES_MAX 256
/* Members of a COSE key or attStmt map, and of an extensions map, we read at most. */
#define WEBAUTHN_CBOR_MAP_MEMBERS_MAX 16
/* Nesting of CBOR containers we accept (an attestation object needs 3). */
#define WEBAUTHN_CBOR_DEPTH_MAX 8

/* Authenticator data flags (WebAuthn Level 2, 6.1). */
#define WEBAUTHN_FLAG_UP 0x01u /* user present */
#define WEBAUTHN_FLAG_UV 0x04u /* user verified */
#define WEBAUTHN_FLAG_AT 0x40u /* attested credential data included */
#define WEBAUTHN_FLAG_ED 0x80u /* extension data included */

/* COSE algorithm identifiers (IANA). */
#define WEBAUTHN_ALG_ES256 (-7)
#define WEBAUTHN_ALG_EDDSA (-8)

/* A credential public key. */
struct webauthn_key {
    int32_t alg; /* WEBAUTHN_ALG_ES256 or WEBAUTHN_ALG_EDDSA */
    uint8_t bytes[WEBAUTHN_PUBLIC_KEY_BYTES_MAX];
    uint32_t bytes_len; /* 65 for ES256, 32 for EdDSA */
};

struct webauthn_client_data {
    char type[32]; /* "webauthn.create" or "webauthn.get" (other values are refused) */
    uint8_t challenge[WEBAUTHN_CHALLENGE_BYTES];
    char origin[WEBAUTHN_ORIGIN_BYTES_MAX];
    bool cross_origin;
};

struct webauthn_auth_data {
    uint8_t rp_id_hash[WEBAUTHN_HASH_BYTES];
    uint8_t flags;
    uint32_t sign_count;
    /* When flags has WEBAUTHN_FLAG_AT: */
    uint8_t aaguid[WEBAUTHN_AAGUID_BYTES];
    uint8_t credential_id[WEBAUTHN_CREDENTIAL_ID_BYTES_MAX];
    uint32_t credential_id_bytes; /* 0 without attested credential data */
    struct webauthn_key key;
};

/* What the relying party expects of a ceremony. Borrowed strings. */
struct webauthn_expect {
    const char *rp_id;        /* "example.com" */
    const char *origin;       /* "https://example.com" (exact match) */
    const uint8_t *challenge; /* WEBAUTHN_CHALLENGE_BYTES the server issued */
};

/* SHA-256 of in. Cannot fail. */
void webauthn_sha256(const void *in, size_t in_bytes, uint8_t out[WEBAUTHN_HASH_BYTES]);

/*
 * Decodes unpadded base64url (RFC 4648 section 5) with exactly one spelling per value: no
 * padding, no whitespace, unused trailing bits zero. False when text is malformed or decodes
 * to more than out_bytes_max bytes (*out_bytes is then unspecified).
 */
bool webauthn_base64url_decode(const char *text, size_t text_len, uint8_t *out,
                               size_t out_bytes_max, size_t *out_bytes);

/* Parses clientDataJSON (at most WEBAUTHN_CLIENT_DATA_BYTES_MAX bytes); the challenge must
 * decode to WEBAUTHN_CHALLENGE_BYTES bytes. Checks shape only, not expectations. */
enum tl_err webauthn_client_data_parse(const uint8_t *json, size_t json_bytes,
                                       struct webauthn_client_data *out, const char **why);

/* Parses authenticator data: fixed header, attested credential data (with a COSE key of a
 * supported algorithm, checked to be a valid public key) when AT is set, an extensions map when
 * ED is set, and nothing after. */
enum tl_err webauthn_auth_data_parse(const uint8_t *data, size_t data_bytes,
                                     struct webauthn_auth_data *out, const char **why);

/* Parses a COSE_Key (RFC 9052/9053) that must fill data exactly. */
enum tl_err webauthn_cose_key_parse(const uint8_t *data, size_t data_bytes,
                                    struct webauthn_key *out, const char **why);

/* Verifies sig over msg with key (ES256: DER ECDSA over SHA-256; EdDSA: Ed25519). False for a
 * bad signature or malformed input. Cannot fail otherwise. */
bool webauthn_signature_verify(const struct webauthn_key *key, const uint8_t *msg, size_t msg_bytes,
                               const uint8_t *sig, size_t sig_bytes);

/* The sign count rule: a presented count must be greater than the stored one unless both are
 * zero (an authenticator without a counter). False means a possibly cloned authenticator. */
bool webauthn_sign_count_ok(uint32_t stored, uint32_t presented);

/*
 * A registration ceremony (WebAuthn Level 2, 7.1, steps 5-21 without trust anchors): client
 * data of type webauthn.create with the expected challenge and origin, not cross-origin; an
 * attestation object of format "none" (empty statement) or "packed" self attestation whose
 * signature verifies with the new credential's key; authenticator data with the RP id's hash,
 * UP, UV and attested credential data. On TL_OK *out holds the new credential.
 */
enum tl_err webauthn_register_verify(const struct webauthn_expect *expect,
                                     const uint8_t *client_data, size_t client_data_bytes,
                                     const uint8_t *attestation, size_t attestation_bytes,
                                     struct webauthn_auth_data *out, const char **why);

/*
 * An authentication ceremony (7.2, steps 11-21): client data of type webauthn.get with the
 * expected challenge and origin; authenticator data with the RP id's hash, UP and UV and no
 * attested credential data; sig verifies over authenticatorData || SHA-256(clientDataJSON)
 * with key. *out_sign_count is the presented counter (the caller applies
 * webauthn_sign_count_ok against its stored value, atomically).
 */
enum tl_err webauthn_assert_verify(const struct webauthn_expect *expect,
                                   const struct webauthn_key *key, const uint8_t *client_data,
                                   size_t client_data_bytes, const uint8_t *auth_data,
                                   size_t auth_data_bytes, const uint8_t *sig, size_t sig_bytes,
                                   uint32_t *out_sign_count, const char **why);

/* "ES256" or "EdDSA"; "unknown" otherwise. Cannot fail. */
const char *webauthn_alg_name(int32_t alg);

#endif
