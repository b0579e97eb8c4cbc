// OpenSSL's libssl and libcrypto (Debian: libssl-dev, OpenSSL 3.0 or newer), for the TLS module.
//
// Several of OpenSSL's calls are function-like macros and several of its constants are built from
// macros (SSL_OP_BIT); Swift imports neither, so they are wrapped here as static inline functions
// and constants. Nothing here has logic of its own.
#ifndef CONSULTD_CLIBSSL_SHIM_H
#define CONSULTD_CLIBSSL_SHIM_H

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

static const uint64_t consult_SSL_OP_NO_TICKET = SSL_OP_NO_TICKET;
static const uint64_t consult_SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
static const uint64_t consult_SSL_OP_IGNORE_UNEXPECTED_EOF = SSL_OP_IGNORE_UNEXPECTED_EOF;
static const uint64_t consult_SSL_OP_CIPHER_SERVER_PREFERENCE = SSL_OP_CIPHER_SERVER_PREFERENCE;
static const uint64_t consult_SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;

static const long consult_SSL_MODE_ENABLE_PARTIAL_WRITE = SSL_MODE_ENABLE_PARTIAL_WRITE;
static const long consult_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER = SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
static const long consult_SSL_MODE_RELEASE_BUFFERS = SSL_MODE_RELEASE_BUFFERS;

static inline int consult_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

static inline int consult_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_max_proto_version(ctx, version);
}

static inline long consult_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) {
    return SSL_CTX_set_mode(ctx, mode);
}

static inline void consult_SSL_CTX_disable_session_cache(SSL_CTX *ctx) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
}

static inline int consult_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

static inline void consult_OPENSSL_free(void *pointer) {
    OPENSSL_free(pointer);
}

#endif
