/* The CA store parsed in steps (src/castore.c): a bundle of 40 generated
 * certificates (with a non-certificate block and a duplicate among them)
 * loads in ceil(40 / 16) steps of at most 16, every certificate lands in
 * the store, and a connection's SSL_CTX gets that very store. An
 * unreadable or empty file is refused. */
#include "adl-test.h"
#include "asyncdl.h"
#include "castore.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

static X509 *make_cert(int serial) {
  EVP_PKEY *key = EVP_EC_gen("P-256");
  ASSERT(key != NULL);
  X509 *x = X509_new();
  ASSERT(x != NULL);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, key);
  char cn[32];
  snprintf(cn, sizeof(cn), "asyncdl test CA %d", serial);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             (const unsigned char *)cn, -1, -1, 0);
  X509_set_issuer_name(x, name);
  ASSERT(X509_sign(x, key, EVP_sha256()) > 0);
  EVP_PKEY_free(key);
  return x;
}

int main(void) {
  if (!adl__castore_supported()) {
    fprintf(stderr, "libcurl does not use OpenSSL: nothing to test\n");
    return ADL_TEST_SKIP;
  }
  char path[] = "/tmp/adl-castore-XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  FILE *f = fdopen(fd, "w");
  ASSERT(f != NULL);
  X509 *first = NULL;
  for (int i = 1; i <= 40; i++) {
    X509 *x = make_cert(i);
    ASSERT_EQ(PEM_write_X509(f, x), 1);
    if (i == 20) /* not a certificate: skipped */
      fputs("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", f);
    if (i == 1)
      first = x;
    else
      X509_free(x);
  }
  ASSERT_EQ(PEM_write_X509(f, first), 1); /* a duplicate: harmless */
  fclose(f);

  adl__castore_t *cs;
  ASSERT_EQ(adl__castore_new(path, &cs), 0);
  ASSERT(!adl__castore_ready(cs));
  int steps = 0, done = 0;
  while (!done) {
    unsigned before = adl__castore_count(cs);
    done = adl__castore_step(cs, ADL__CASTORE_CERTS_PER_STEP);
    ASSERT_LE(adl__castore_count(cs) - before, ADL__CASTORE_CERTS_PER_STEP);
    ASSERT_LT(++steps, 10);
  }
  ASSERT(adl__castore_ready(cs));
  ASSERT_EQ(adl__castore_count(cs), 40);
  ASSERT_EQ(steps, 3); /* 16 + 16 + 8, the end found in the third */

  /* A connection's SSL_CTX gets the store itself, and trusts the CAs. */
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  ASSERT(ctx != NULL);
  ASSERT_EQ(adl__castore_install(cs, ctx), 0);
  X509_STORE *st = SSL_CTX_get_cert_store(ctx);
  X509_STORE_CTX *vctx = X509_STORE_CTX_new();
  ASSERT(X509_STORE_CTX_init(vctx, st, first, NULL) == 1);
  ASSERT_EQ(X509_verify_cert(vctx), 1);
  X509_STORE_CTX_free(vctx);
  adl__castore_free(cs); /* the SSL_CTX keeps its own reference */
  ASSERT(SSL_CTX_get_cert_store(ctx) == st);
  SSL_CTX_free(ctx);
  X509_free(first);

  /* Refused: a missing file, an empty one. */
  ASSERT_EQ(adl__castore_new("/nonexistent/ca.pem", &cs), ADL_EINVAL);
  f = fopen(path, "w");
  ASSERT(f != NULL);
  fclose(f);
  ASSERT_EQ(adl__castore_new(path, &cs), ADL_EINVAL);
  unlink(path);
  printf("test-castore: passed: 40 certificates in %d steps of at most %d\n",
         steps, ADL__CASTORE_CERTS_PER_STEP);
  return 0;
}
