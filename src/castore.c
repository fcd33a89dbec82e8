/* The CA store, parsed in bounded steps (see castore.h). Only this module
 * includes OpenSSL. L1: libc, OpenSSL, curl_version_info. */
#include "castore.h"

#include "asyncdl.h"

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct adl__castore_s {
  X509_STORE *store;
  BIO *pem;      /* the rest of the file, NULL once parsed */
  char *data;    /* the file, which pem reads from */
};

int adl__castore_supported(void) {
  const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
  return v != NULL && v->ssl_version != NULL &&
         strncmp(v->ssl_version, "OpenSSL/", 8) == 0;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf != NULL) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap)
      break;
    char *nb = cap < (64u << 20) ? realloc(buf, cap * 2) : NULL;
    if (nb == NULL) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = nb;
    cap *= 2;
  }
  if (buf != NULL && ferror(f)) {
    free(buf);
    buf = NULL;
  }
  fclose(f);
  *len = n;
  return buf;
}

int adl__castore_new(const char *path, adl__castore_t **out) {
  adl__castore_t *cs = calloc(1, sizeof(*cs));
  if (cs == NULL)
    return ADL_ENOMEM;
  size_t len = 0;
  cs->data = read_file(path, &len);
  if (cs->data == NULL || len == 0 || len > INT32_MAX) {
    adl__castore_free(cs);
    return ADL_EINVAL;
  }
  cs->store = X509_STORE_new();
  cs->pem = BIO_new_mem_buf(cs->data, (int)len);
  if (cs->store == NULL || cs->pem == NULL) {
    adl__castore_free(cs);
    return ADL_ENOMEM;
  }
  /* What libcurl sets on the stores it makes: trust the first match, and
   * accept a chain that ends at any trusted certificate. */
  X509_STORE_set_flags(cs->store,
                       X509_V_FLAG_TRUSTED_FIRST | X509_V_FLAG_PARTIAL_CHAIN);
  *out = cs;
  return 0;
}

int adl__castore_step(adl__castore_t *cs, unsigned certs) {
  while (cs->pem != NULL && certs-- > 0) {
    X509 *x = PEM_read_bio_X509_AUX(cs->pem, NULL, NULL, NULL);
    if (x == NULL) { /* the end (or an unreadable tail): what we have */
      ERR_clear_error();
      BIO_free(cs->pem);
      cs->pem = NULL;
      free(cs->data);
      cs->data = NULL;
      break;
    }
    if (X509_STORE_add_cert(cs->store, x) != 1)
      ERR_clear_error(); /* refused (old OpenSSL: a duplicate): harmless */
    X509_free(x);
  }
  return cs->pem == NULL;
}

int adl__castore_ready(const adl__castore_t *cs) { return cs->pem == NULL; }

unsigned adl__castore_count(const adl__castore_t *cs) {
  /* Distinct certificates: a duplicate is stored once. */
  return (unsigned)sk_X509_OBJECT_num(X509_STORE_get0_objects(cs->store));
}

int adl__castore_install(adl__castore_t *cs, void *ssl_ctx) {
  return SSL_CTX_set1_cert_store((SSL_CTX *)ssl_ctx, cs->store), 0;
}

static void on_ssl_info(const SSL *ssl, int where, int ret) {
  (void)ret;
  if (!(where & SSL_CB_HANDSHAKE_DONE))
    return;
  adl__alpn_watch_t *w = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
  if (w == NULL)
    return;
  const unsigned char *proto = NULL;
  unsigned len = 0;
  SSL_get0_alpn_selected(ssl, &proto, &len);
  w->cb(w->arg, len == 2 && memcmp(proto, "h2", 2) == 0);
}

void adl__castore_watch_alpn(void *ssl_ctx, adl__alpn_watch_t *w) {
  SSL_CTX_set_app_data((SSL_CTX *)ssl_ctx, w);
  SSL_CTX_set_info_callback((SSL_CTX *)ssl_ctx, on_ssl_info);
}

void adl__castore_free(adl__castore_t *cs) {
  if (cs == NULL)
    return;
  BIO_free(cs->pem);
  free(cs->data);
  X509_STORE_free(cs->store);
  free(cs);
}
