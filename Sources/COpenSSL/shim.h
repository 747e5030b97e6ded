// OpenSSL's libcrypto, for JulesSecurity (Fernet, HMAC, the blind index). Only what it needs is included.
#ifndef JULES_COPENSSL_SHIM_H
#define JULES_COPENSSL_SHIM_H

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/err.h>

#endif
