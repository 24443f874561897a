/*
 * stepup_proof.h - a passkey assertion as the answer to a step-up challenge (api/stepup.h).
 *
 * A step-up challenge offers a fresh 32-byte WebAuthn challenge and stores only its SHA-256.
 * The answer is an ordinary WebAuthn authentication (auth/webauthn.h) whose clientDataJSON
 * carries that challenge: it is accepted when SHA-256 of the challenge in clientDataJSON equals
 * the stored hash (constant time) and the assertion verifies with the user's passkey for the
 * configured RP id and origin, UP and UV set. Pure: no I/O, no store; the caller checks the
 * passkey is the challenge's user's and live, and applies the sign-count rule atomically.
 */
#ifndef TL_AUTH_STEPUP_PROOF_H
#define TL_AUTH_STEPUP_PROOF_H

#include <stddef.h>
#include <stdint.h>

#include "auth/webauthn.h"
#include "util/err.h"

/*
 * TL_OK with *out_sign_count the presented counter; TL_ERR_INVALID_REQUEST with *why (a static
 * sentence safe for clients) when the challenge offered no passkey (stored_hash all zero), the
 * assertion is for another challenge, or any WebAuthn check fails.
 */
enum tl_err stepup_proof_passkey(const char *rp_id, const char *origin,
                                 const uint8_t stored_hash[WEBAUTHN_HASH_BYTES],
                                 const struct webauthn_key *key, const uint8_t *client_data,
                                 size_t client_data_bytes, const uint8_t *auth_data,
                                 size_t auth_data_bytes, const uint8_t *sig, size_t sig_bytes,
                                 uint32_t *out_sign_count, const char **why);

#endif
