#ifndef CCRYPTO_SHIM_H
#define CCRYPTO_SHIM_H
// OpenSSL's libcrypto (Debian: libssl-dev), already a dependency of librdkafka.
// The low-level SHA-256 calls below are deprecated in OpenSSL 3 but kept there; they are used
// on purpose (see cdp_sha256).
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <stddef.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <openssl/rand.h>
#include <openssl/crypto.h>

/// SHA-256 of `count` bytes at `data` into `out` (32 bytes). OpenSSL 3's one-shot SHA256() and
/// EVP_Digest(EVP_sha256()) look the algorithm up on every call, under shared locks and reference
/// counts: measured 520 ns a digest on one thread and 1.2 µs on two, against 60 ns here, with
/// nothing shared between threads.
static inline void cdp_sha256(const unsigned char *data, size_t count, unsigned char *out) {
    SHA256_CTX context;
    SHA256_Init(&context);
    SHA256_Update(&context, data, count);
    SHA256_Final(out, &context);
}
#endif
