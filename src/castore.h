/* The client's trusted CA store, parsed once and a few certificates per
 * loop iteration. libcurl would parse the whole bundle at the first TLS
 * connection: about 16 ms for a 145-certificate system bundle on the loop
 * in one go (more on a busy machine). Here the file is read into memory
 * when the client is made, parsed in steps of a bounded size on the pump,
 * and handed to every new TLS connection through CURLOPT_SSL_CTX_FUNCTION
 * (the same store, shared by reference: no per-connection cost).
 * Only with libcurl on OpenSSL; elsewhere the client falls back to
 * libcurl's own CA file handling. Knows nothing of requests. */
#ifndef ADL_CASTORE_H
#define ADL_CASTORE_H

#include <stddef.h>

typedef struct adl__castore_s adl__castore_t;

/* Certificates parsed per step: about 1.5 ms of work on this class of
 * machine, so loading never holds the loop for long. */
#define ADL__CASTORE_CERTS_PER_STEP 16

/* Whether libcurl uses OpenSSL, the only backend this store can serve. */
int adl__castore_supported(void);

/* Reads the PEM bundle at path into memory (nothing is parsed yet).
 * 0, ADL_ENOMEM, or ADL_EINVAL when the file cannot be read. */
int adl__castore_new(const char *path, adl__castore_t **out);

/* Parses up to `certs` more certificates. Returns 1 once the whole bundle
 * is in the store, 0 while some is left. */
int adl__castore_step(adl__castore_t *cs, unsigned certs);

int adl__castore_ready(const adl__castore_t *cs);

/* Certificates in the store so far. */
unsigned adl__castore_count(const adl__castore_t *cs);

/* CURLOPT_SSL_CTX_FUNCTION: gives a new connection's SSL_CTX the store.
 * The store must be ready. */
int adl__castore_install(adl__castore_t *cs, void *ssl_ctx);

void adl__castore_free(adl__castore_t *cs);

/* What ALPN chose on a connection, reported once its handshake is done:
 * cb(arg, 1) for "h2", cb(arg, 0) for anything else. The watch is the
 * caller's and must outlive the connection's handshake (multiplex keeps
 * it in the origin, which lives while its sockets are open). It runs
 * inside libcurl's socket handling: it may only record and kick. */
typedef struct adl__alpn_watch_s {
  void (*cb)(void *arg, int h2);
  void *arg;
} adl__alpn_watch_t;

/* Attaches w to a new connection's SSL_CTX (CURLOPT_SSL_CTX_FUNCTION). */
void adl__castore_watch_alpn(void *ssl_ctx, adl__alpn_watch_t *w);

#endif
