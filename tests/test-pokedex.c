/* Unit tests of the pokedex documents: names, ids, determinism, size
 * window and strict JSON validity (checked by a small validator below). */
#include "adl-test.h"
#include "pokedex.h"

#include <errno.h>
#include <stdint.h>

/* ---- a strict little JSON validator ------------------------------------ */

typedef struct {
  const char *p, *end;
  int depth;
} js_t;

static int js_value(js_t *j);

static void js_ws(js_t *j) {
  while (j->p < j->end &&
         (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
    j->p++;
}

static int js_lit(js_t *j, const char *lit) {
  size_t n = strlen(lit);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
    return -1;
  j->p += n;
  return 0;
}

static int js_string(js_t *j) {
  if (j->p >= j->end || *j->p != '"')
    return -1;
  for (j->p++; j->p < j->end; j->p++) {
    unsigned char c = (unsigned char)*j->p;
    if (c == '"') {
      j->p++;
      return 0;
    }
    if (c < 0x20 || c >= 0x80) /* our documents are pure ASCII */
      return -1;
    if (c == '\\') {
      if (++j->p >= j->end)
        return -1;
      if (*j->p == 'u') {
        for (int k = 0; k < 4; k++)
          if (++j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p))
            return -1;
      } else if (!strchr("\"\\/bfnrt", *j->p)) {
        return -1;
      }
    }
  }
  return -1;
}

static int js_number(js_t *j) {
  const char *s = j->p;
  if (j->p < j->end && *j->p == '-')
    j->p++;
  if (j->p >= j->end || *j->p < '0' || *j->p > '9')
    return -1;
  if (*j->p == '0')
    j->p++;
  else
    while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
      j->p++;
  return j->p > s ? 0 : -1;
}

static int js_container(js_t *j, char close, int object) {
  if (++j->depth > 64)
    return -1;
  j->p++;
  js_ws(j);
  if (j->p < j->end && *j->p == close) {
    j->p++;
    j->depth--;
    return 0;
  }
  for (;;) {
    js_ws(j);
    if (object) {
      if (js_string(j) != 0)
        return -1;
      js_ws(j);
      if (js_lit(j, ":") != 0)
        return -1;
    }
    if (js_value(j) != 0)
      return -1;
    js_ws(j);
    if (j->p >= j->end)
      return -1;
    if (*j->p == close) {
      j->p++;
      j->depth--;
      return 0;
    }
    if (*j->p != ',')
      return -1;
    j->p++;
  }
}

static int js_value(js_t *j) {
  js_ws(j);
  if (j->p >= j->end)
    return -1;
  switch (*j->p) {
  case '{': return js_container(j, '}', 1);
  case '[': return js_container(j, ']', 0);
  case '"': return js_string(j);
  case 't': return js_lit(j, "true");
  case 'f': return js_lit(j, "false");
  case 'n': return js_lit(j, "null");
  default: return js_number(j);
  }
}

static int json_valid(const char *s, size_t n) {
  js_t j = {s, s + n, 0};
  if (n == 0 || s[0] != '{' || js_value(&j) != 0)
    return 0;
  js_ws(&j);
  return j.p == j.end;
}

/* ---- tests -------------------------------------------------------------- */

static void test_names_and_ids(void) {
  ASSERT_EQ(POKEDEX_COUNT, 151);
  for (int i = 0; i < POKEDEX_COUNT; i++) {
    const char *n = pokedex_names[i];
    ASSERT(n != NULL && n[0] != '\0');
    for (const char *c = n; *c; c++)
      ASSERT((*c >= 'a' && *c <= 'z') || *c == '-');
    for (int k = 0; k < i; k++)
      ASSERT(strcmp(pokedex_names[k], n) != 0);
    ASSERT_EQ(pokedex_id(n), i + 1);
    ASSERT(pokedex_is_served(n));
  }
  ASSERT_STR_EQ(pokedex_names[0], "bulbasaur");
  ASSERT_EQ(pokedex_id("pikachu"), 25);
  ASSERT_EQ(pokedex_id("nidoran-f"), 29);
  ASSERT_EQ(pokedex_id("nidoran-m"), 32);
  ASSERT_EQ(pokedex_id("farfetchd"), 83);
  ASSERT_EQ(pokedex_id("mr-mime"), 122);
  ASSERT_EQ(pokedex_id("mewtwo"), 150);
  ASSERT_EQ(pokedex_id("mew"), 151);
  ASSERT_EQ(pokedex_id("missingno"), 0);
  ASSERT_EQ(pokedex_id("Pikachu"), 0);
  ASSERT_EQ(pokedex_id(""), 0);
  ASSERT_EQ(pokedex_id(NULL), 0);

  ASSERT(pokedex_is_served("extra-1"));
  ASSERT(pokedex_is_served("extra-999999"));
  ASSERT(!pokedex_is_served("extra-0"));
  ASSERT(!pokedex_is_served("extra-01"));
  ASSERT(!pokedex_is_served("extra-1000000"));
  ASSERT(!pokedex_is_served("extra-"));
  ASSERT(!pokedex_is_served("extra-1a"));
  ASSERT(!pokedex_is_served("missingno"));
  ASSERT(!pokedex_is_served(NULL));
}

static void check_body(const char *name, int known, size_t *out_len) {
  char *a = NULL, *b = NULL;
  size_t alen = 0, blen = 0;
  ASSERT_EQ(pokedex_body(name, &a, &alen), 0);
  ASSERT_EQ(pokedex_body(name, &b, &blen), 0);
  ASSERT_EQ(alen, blen);
  ASSERT(memcmp(a, b, alen) == 0);
  ASSERT_EQ(strlen(a), alen); /* NUL-terminated, no embedded NUL */
  if (!json_valid(a, alen))
    ADL_FAIL_("invalid JSON for \"%s\": %.200s", name, a);
  if (known) {
    char key[96];
    ASSERT_GE(alen, 2048);
    ASSERT_LE(alen, 20480);
    if (strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789-._") ==
        strlen(name)) {
      snprintf(key, sizeof key, "\"name\":\"%s\"", name);
      ASSERT(strstr(a, key) != NULL);
    }
    if (pokedex_id(name) != 0) {
      snprintf(key, sizeof key, "\"id\":%d,", pokedex_id(name));
      ASSERT(strstr(a, key) != NULL);
    }
    for (const char *k = a; *k; k++) /* a realistic shape */
      ASSERT(*k != '\n');
    ASSERT(strstr(a, "\"abilities\":[") && strstr(a, "\"types\":[") &&
           strstr(a, "\"stats\":[") && strstr(a, "\"moves\":[") &&
           strstr(a, "\"weight\":") && strstr(a, "\"height\":") &&
           strstr(a, "\"base_experience\":"));
  }
  if (out_len)
    *out_len = alen;
  free(a);
  free(b);
}

static void test_bodies(void) {
  size_t mn = SIZE_MAX, mx = 0, len;
  unsigned buckets[9] = {0}; /* 2 KiB wide size buckets over 2..20 KiB */
  for (int i = 0; i < POKEDEX_COUNT; i++) {
    check_body(pokedex_names[i], 1, &len);
    mn = len < mn ? len : mn;
    mx = len > mx ? len : mx;
    buckets[(len - 2048) / 2048 < 9 ? (len - 2048) / 2048 : 8]++;
  }
  /* Spread over the window, not clustered at one size. */
  ASSERT_LT(mn, 5000);
  ASSERT_GT(mx, 17000);
  for (int b = 0; b < 9; b++)
    ASSERT_GT(buckets[b], 3);

  /* Any name, including odd ones, gives valid, bounded JSON. */
  static const char *odd[] = {"a", "extra-1", "redirected", "x.y_z-1",
                              "quote\"back\\slash", "\x01\x1f\x7f\xff",
                              "ünïcödé",
                              ("0123456789012345678901234567890123456789"
                               "012345678901234567890123456789")};
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
    check_body(odd[i], 1, NULL);
  check_body("", 0, NULL);
  char big[5000];
  memset(big, 'q', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  check_body(big, 0, NULL);

  /* Many synthetic names: always inside the window. */
  for (int i = 1; i <= 2000; i++) {
    char n[32];
    snprintf(n, sizeof n, "extra-%d", i);
    char *a;
    ASSERT_EQ(pokedex_body(n, &a, &len), 0);
    ASSERT_GE(len, 2048);
    ASSERT_LE(len, 20480);
    free(a);
  }

  /* Different names, different documents. */
  char *p, *q;
  size_t pl, ql;
  ASSERT_EQ(pokedex_body("pikachu", &p, &pl), 0);
  ASSERT_EQ(pokedex_body("raichu", &q, &ql), 0);
  ASSERT(pl != ql || memcmp(p, q, pl) != 0);
  free(p);
  free(q);

  ASSERT_EQ(pokedex_body(NULL, &p, &pl), -EINVAL);
  ASSERT_EQ(pokedex_body("x", NULL, &pl), -EINVAL);
}

/* Pins the bytes: a change of generator must be deliberate, since nginx
 * fixtures generated earlier would no longer match. Update both numbers
 * (printed on stderr) when changing pokedex.c on purpose. The digest also
 * catches compiler-dependent output (e.g. argument evaluation order). */
#define POKEDEX_TEST_TOTAL 1800135u
#define POKEDEX_TEST_DIGEST 0x5fedc5ffe4e8e576ull

static void test_stable_digest(void) {
  uint64_t h = 1469598103934665603ull;
  size_t total = 0;
  for (int i = 0; i < POKEDEX_COUNT; i++) {
    char *a;
    size_t n;
    ASSERT_EQ(pokedex_body(pokedex_names[i], &a, &n), 0);
    for (size_t k = 0; k < n; k++) {
      h ^= (unsigned char)a[k];
      h *= 1099511628211ull;
    }
    total += n;
    free(a);
  }
  fprintf(stderr, "pokedex: 151 documents, %zu bytes, digest %016llx\n",
          total, (unsigned long long)h);
  ASSERT_EQ(total, POKEDEX_TEST_TOTAL);
  ASSERT(h == POKEDEX_TEST_DIGEST);
}

int main(void) {
  test_names_and_ids();
  test_bodies();
  test_stable_digest();
  printf("test-pokedex: ok\n");
  return 0;
}
