#include "auth/stepup_proof.h"

#include <string.h>

#include "auth/auth_crypto.h"
#include "util/assert.h"

enum tl_err stepup_proof_passkey(const char *rp_id, const char *origin,
                                 const uint8_t stored_hash[WEBAUTHN_HASH_BYTES],
                                 const struct webauthn_key *key, const uint8_t *client_data,
                                 size_t client_data_bytes, const uint8_t *auth_data,
                                 size_t auth_data_bytes, const uint8_t *sig, size_t sig_bytes,
                                 uint32_t *out_sign_count, const char **why)
{
    static const uint8_t none[WEBAUTHN_HASH_BYTES] = {0};
    struct webauthn_client_data client;
    uint8_t hash[WEBAUTHN_HASH_BYTES];
    TL_ASSERT(rp_id != NULL);
    TL_ASSERT(origin != NULL);
    if (memcmp(stored_hash, none, sizeof(none)) == 0) {
        *why = "this challenge offered no passkey";
        return TL_ERR_INVALID_REQUEST;
    }
    enum tl_err err = webauthn_client_data_parse(client_data, client_data_bytes, &client, why);
    if (err != TL_OK) {
        return err;
    }
    webauthn_sha256(client.challenge, sizeof(client.challenge), hash);
    if (!auth_crypto_equal(hash, stored_hash, sizeof(hash))) {
        *why = "the assertion is for another challenge";
        return TL_ERR_INVALID_REQUEST;
    }
    struct webauthn_expect expect = {rp_id, origin, client.challenge};
    return webauthn_assert_verify(&expect, key, client_data, client_data_bytes, auth_data,
                                  auth_data_bytes, sig, sig_bytes, out_sign_count, why);
}
