#ifndef FLUKE_COPENSSL_SHIM_H
#define FLUKE_COPENSSL_SHIM_H
// Only libcrypto: hashing, HMAC, scrypt, AES-GCM, RSA signatures (PEM keys) and the CSPRNG. TLS is not used by the fleet's
// own code (libpq and libnats bring their own).
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/bio.h>
#endif
