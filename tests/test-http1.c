/* Table tests of the shared HTTP/1.x request parser (src/http1): good and
 * bad heads with what each must give, every head fed whole, one byte at a
 * time and in two pieces at every split (all must agree), header lookup
 * by name and iteration, and the query and number helpers. */
#include "adl-test.h"
#include "http1.h"

#include <limits.h>

typedef struct {
  const char *in;
  int rc;          /* > 0: expected head length is strlen(in) - tail */
  size_t tail;     /* bytes after the head (a body, a pipelined request) */
  int method;
  const char *path, *query, *authority;
  int minor, keep_alive, has_body;
} good_t;

#define GET ADL_H1_METHOD_GET
#define HEAD ADL_H1_METHOD_HEAD
#define OTHER ADL_H1_METHOD_OTHER
#define CONNECT ADL_H1_METHOD_CONNECT

static const good_t goods[] = {
    {"GET / HTTP/1.1\r\n\r\n", 1, 0, GET, "/", NULL, NULL, 1, 1, 0},
    {"GET /a/b?x=1&y HTTP/1.1\r\nHost: h\r\n\r\n", 1, 0, GET, "/a/b",
     "x=1&y", NULL, 1, 1, 0},
    {"HEAD /p HTTP/1.0\r\n\r\n", 1, 0, HEAD, "/p", NULL, NULL, 0, 0, 0},
    {"GET /p HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1, 0, GET, "/p",
     NULL, NULL, 0, 1, 0},
    {"GET /p HTTP/1.1\r\nConnection: foo, close\r\n\r\n", 1, 0, GET, "/p",
     NULL, NULL, 1, 0, 0},
    {"GET /lf HTTP/1.1\nHost: x\n\n", 1, 0, GET, "/lf", NULL, NULL, 1, 1, 0},
    {"GET /mix HTTP/1.1\r\nHost: x\n\r\n", 1, 0, GET, "/mix", NULL, NULL, 1,
     1, 0},
    {"POST /f HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 1, 3, OTHER, "/f",
     NULL, NULL, 1, 1, 1},
    {"POST /f HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 1, 0, OTHER, "/f",
     NULL, NULL, 1, 1, 0},
    {"PUT /t HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 1, 5,
     OTHER, "/t", NULL, NULL, 1, 1, 1},
    {"GET /x HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n", 1,
     0, GET, "/x", NULL, NULL, 1, 1, 1},
    {"GET http://example.com:8080/d/e?q HTTP/1.1\r\n\r\n", 1, 0, GET, "/d/e",
     "q", "example.com:8080", 1, 1, 0},
    {"GET HTTP://h HTTP/1.1\r\n\r\n", 1, 0, GET, "/", NULL, "h", 1, 1, 0},
    {"CONNECT h.example:443 HTTP/1.1\r\nHost: h.example:443\r\n\r\n", 1, 0,
     CONNECT, "/", NULL, "h.example:443", 1, 1, 0},
    {"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", 1, 19, GET, "/1",
     NULL, NULL, 1, 1, 0},
    {"get /lower HTTP/1.1\r\n\r\n", 1, 0, OTHER, "/lower", NULL, NULL, 1, 1,
     0},
    {"GET /v HTTP/1.9\r\nX:  spaced\t \r\n\r\n", 1, 0, GET, "/v", NULL, NULL,
     9, 1, 0},
};

typedef struct {
  const char *in;
  size_t len; /* 0: strlen(in) */
  int rc;     /* -400, -431, -505, or 0 (incomplete) */
} bad_t;

static const bad_t bads[] = {
    {"GET / HTTP/2.0\r\n", 0, -505},
    {"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0, -505},
    {"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: x\r\n\r\n", 0,
     -400},
    {"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 0,
     -400},
    {"GET / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n", 0, -400},
    {"GET / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", 0,
     -400},
    {"GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", 0, -400},
    {"GET / HTTP/1.1\r\nA : b\r\n\r\n", 0, -400},
    {"GET / HTTP/1.1\r\n: b\r\n\r\n", 0, -400},
    {"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 0, -400},
    {"GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", 0, -400},
    {"GET / HTTP/1.1\r\nA: b\0c\r\n\r\n", 26, -400},
    {"GET /\0 HTTP/1.1\r\n\r\n", 19, -400},
    {"GET  / HTTP/1.1\r\n", 0, -400},
    {"GET / HTTP/1.1 \r\n", 0, -400},
    {"GET / HTTP/1\r\n", 0, -400},
    {"GET x HTTP/1.1\r\n", 0, -400},
    {"GET http:///x HTTP/1.1\r\n", 0, -400},
    {"CONNECT /x HTTP/1.1\r\n", 0, -400},
    {"CONNECT host HTTP/1.1\r\n", 0, -400},
    {"ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n", 0, -400},
    {"\x16\x03\x01\x02\x00", 0, -400}, /* a TLS ClientHello */
    {"GET / HTTP/1.1\r\nHost: x\r\n", 0, 0},
    {"GET / HTT", 0, 0},
};

/* Feeds in[0..len) in pieces of step bytes (0: whole) to one scan. */
static int feed(const char *in, size_t len, size_t max, size_t step,
                adl_h1_req_t *r) {
  adl_h1_scan_t sc = {0, 0};
  char *buf = malloc(len ? len : 1); /* exact size: ASan sees over-reads */
  size_t k = 0;
  int rc = 0;
  ASSERT(buf != NULL);
  memcpy(buf, in, len);
  if (step == 0)
    step = len;
  do {
    k = len - k < step ? len : k + step;
    rc = adl_h1_parse(buf, k, max, &sc, r);
  } while (rc == 0 && k < len);
  free(buf);
  return rc;
}

static void expect_span(const char *base, const char *p, size_t n,
                        const char *want, const char *in) {
  if (want == NULL) {
    if (p != NULL)
      ADL_FAIL_("%s: expected no value, got %.*s", in, (int)n, p);
    return;
  }
  if (p == NULL || n != strlen(want) || memcmp(p, want, n) != 0)
    ADL_FAIL_("%s: expected \"%s\", got \"%.*s\"", in, want, p ? (int)n : 6,
              p ? p : "(null)");
  (void)base;
}

static void test_goods(void) {
  for (size_t i = 0; i < sizeof goods / sizeof goods[0]; i++) {
    const good_t *g = &goods[i];
    size_t len = strlen(g->in);
    adl_h1_req_t r;
    memset(&r, 0xa5, sizeof r);
    int rc = feed(g->in, len, 8192, 0, &r);
    ASSERT_EQ(rc, (int)(len - g->tail));
    /* The whole-buffer run points into a freed copy: redo on g->in. */
    adl_h1_scan_t sc = {0, 0};
    ASSERT_EQ(adl_h1_parse(g->in, len, 8192, &sc, &r), rc);
    ASSERT_EQ(r.method, g->method);
    expect_span(g->in, r.path, r.path_len, g->path, g->in);
    expect_span(g->in, r.query, r.query_len, g->query, g->in);
    expect_span(g->in, r.authority, r.authority_len, g->authority, g->in);
    ASSERT_EQ(r.minor, g->minor);
    ASSERT_EQ(r.keep_alive, g->keep_alive);
    ASSERT_EQ(r.has_body, g->has_body);
    ASSERT(r.method_str == g->in && r.method_len == strcspn(g->in, " "));
    ASSERT(r.target == g->in + r.method_len + 1);
    ASSERT_EQ(r.target_len, strcspn(r.target, " "));
    /* byte at a time and every two-piece split equal the whole */
    for (size_t step = 1; step <= len; step++) {
      adl_h1_req_t r2;
      ASSERT_EQ(feed(g->in, len, 8192, step, &r2), rc);
      ASSERT(r2.method == r.method && r2.path_len == r.path_len &&
             r2.query_len == r.query_len && r2.minor == r.minor &&
             r2.keep_alive == r.keep_alive && r2.has_body == r.has_body &&
             r2.authority_len == r.authority_len &&
             r2.content_length == r.content_length);
    }
    /* the head alone, limited to exactly its size, still parses; one byte
     * less is 431 */
    ASSERT_EQ(feed(g->in, (size_t)rc, (size_t)rc, 1, &r), rc);
    ASSERT_EQ(feed(g->in, (size_t)rc, (size_t)rc - 1, 0, &r), -431);
  }
}

static void test_bads(void) {
  for (size_t i = 0; i < sizeof bads / sizeof bads[0]; i++) {
    const bad_t *b = &bads[i];
    size_t len = b->len ? b->len : strlen(b->in);
    adl_h1_req_t r;
    memset(&r, 0, sizeof r);
    for (size_t step = 0; step <= len; step++) {
      int rc = feed(b->in, len, 8192, step, &r);
      if (rc != b->rc)
        ADL_FAIL_("bad[%zu] step %zu: rc %d, want %d", i, step, rc, b->rc);
    }
    ASSERT(r.path == NULL); /* *r is left alone when no head is returned */
  }
}

static void test_limits(void) {
  /* A head that never ends: 0 below max, -431 at max. */
  char big[300];
  memset(big, 'a', sizeof big);
  memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
  adl_h1_req_t r;
  ASSERT_EQ(feed(big, 255, 256, 7, &r), 0);
  ASSERT_EQ(feed(big, 256, 256, 7, &r), -431);
  ASSERT_EQ(feed(big, sizeof big, 256, 0, &r), -431);
  /* A bad request line is refused at its end, before the head is whole. */
  ASSERT_EQ(feed("GET / HTTP/3.0\r\n", 16, 8192, 0, &r), -505);
  /* Content-Length values */
  adl_h1_scan_t sc = {0, 0};
  const char *h = "POST / HTTP/1.1\r\nContent-Length: 1234567890123\r\n\r\n";
  ASSERT_GT(adl_h1_parse(h, strlen(h), 8192, &sc, &r), 0);
  ASSERT(r.has_content_length && r.content_length == 1234567890123ull);
  ASSERT(!r.has_transfer_encoding && r.has_body);
}

static void test_headers(void) {
  const char *h = "GET / HTTP/1.1\r\n"
                  "Host: example\r\n"
                  "If-None-Match:  \"abc\"  \r\n"
                  "X-Empty:\r\n"
                  "x-dup: one\r\n"
                  "X-Dup: two\n"
                  "\r\n"
                  "Not-A-Header: body bytes\r\n";
  adl_h1_scan_t sc = {0, 0};
  adl_h1_req_t r;
  int n = adl_h1_parse(h, strlen(h), 8192, &sc, &r);
  ASSERT_GT(n, 0);
  const char *v;
  size_t vl;
  ASSERT(adl_h1_header(h, (size_t)n, "if-none-match", &v, &vl));
  ASSERT(vl == 5 && memcmp(v, "\"abc\"", 5) == 0);
  ASSERT(adl_h1_header(h, (size_t)n, "HOST", &v, &vl));
  ASSERT(vl == 7 && memcmp(v, "example", 7) == 0);
  ASSERT(adl_h1_header(h, (size_t)n, "X-Empty", &v, &vl) && vl == 0);
  ASSERT(adl_h1_header(h, (size_t)n, "X-Dup", &v, &vl));
  ASSERT(vl == 3 && memcmp(v, "one", 3) == 0); /* the first one */
  ASSERT(!adl_h1_header(h, (size_t)n, "X-Du", &v, &vl));
  ASSERT(!adl_h1_header(h, (size_t)n, "Not-A-Header", &v, &vl));
  ASSERT(!adl_h1_header(h, (size_t)n, "GET / HTTP/1.1", &v, &vl));

  static const char *const names[] = {"Host", "If-None-Match", "X-Empty",
                                      "x-dup", "X-Dup"};
  size_t pos = 0, nl, k = 0;
  const char *name;
  while (adl_h1_header_next(h, (size_t)n, &pos, &name, &nl, &v, &vl)) {
    ASSERT(k < 5 && nl == strlen(names[k]) &&
           memcmp(name, names[k], nl) == 0);
    k++;
  }
  ASSERT_EQ(k, 5);
  ASSERT(!adl_h1_header_next(h, (size_t)n, &pos, &name, &nl, &v, &vl));
  /* Bounds: a head cut anywhere never yields bytes past the cut. */
  for (size_t cut = 0; cut <= (size_t)n; cut++) {
    char *copy = malloc(cut ? cut : 1);
    ASSERT(copy != NULL);
    memcpy(copy, h, cut);
    pos = 0;
    while (adl_h1_header_next(copy, cut, &pos, &name, &nl, &v, &vl))
      ASSERT(v + vl <= copy + cut && pos <= cut);
    (void)adl_h1_header(copy, cut, "x-dup", &v, &vl);
    free(copy);
  }
}

static void test_helpers(void) {
  const char *q = "a=1&bb=&c&retry-after=30";
  const char *v;
  size_t vl;
  uint64_t u;
  ASSERT(adl_h1_query_get(q, strlen(q), "a", &v, &vl) && vl == 1 && *v == '1');
  ASSERT(adl_h1_query_get(q, strlen(q), "bb", &v, &vl) && vl == 0);
  ASSERT(adl_h1_query_get(q, strlen(q), "c", &v, &vl) && vl == 0);
  ASSERT(adl_h1_query_get(q, strlen(q), "retry-after", &v, &vl) && vl == 2);
  ASSERT(!adl_h1_query_get(q, strlen(q), "b", &v, &vl));
  ASSERT(!adl_h1_query_get(NULL, 0, "a", &v, &vl));
  ASSERT(adl_h1_parse_u64("0", 1, 10, &u) == 0 && u == 0);
  ASSERT(adl_h1_parse_u64("18446744073709551615", 20, UINT64_MAX, &u) == -1);
  ASSERT(adl_h1_parse_u64("9999999999999999999", 19, UINT64_MAX, &u) == 0 &&
         u == 9999999999999999999ull);
  ASSERT(adl_h1_parse_u64("11", 2, 10, &u) == -1);
  ASSERT(adl_h1_parse_u64("", 0, 10, &u) == -1);
  ASSERT(adl_h1_parse_u64("1a", 2, 100, &u) == -1);
  ASSERT(adl_h1_parse_u64("-1", 2, 100, &u) == -1);
}

int main(void) {
  test_goods();
  test_bads();
  test_limits();
  test_headers();
  test_helpers();
  printf("test-http1: ok\n");
  return 0;
}
