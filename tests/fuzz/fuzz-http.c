/* libFuzzer harness for the fixture server's request parser
 * (src/fixture/fixture-http.c, adl_h1_parse) and the routes it feeds
 * (fixture-route.c, fx_route).
 *
 * Input: the bytes a client sends on one connection. For three head limits
 * (the default 8192, the minimum 64, and the input's own length) the head
 * is parsed
 *   - whole, from an exactly-sized heap copy;
 *   - one byte at a time, and in pseudo-random pieces, with the same
 *     adl_h1_scan_t, the bytes not yet "received" poisoned for ASan so that any
 *     read past len is reported;
 * and all three must give the same result and the same request. Then the
 * input is replayed the way fixture.c does it (a buffer of max bytes,
 * leading blank lines dropped, pipelined requests consumed one by one),
 * and every request is routed; the response plan must be well formed.
 * Besides memory errors and UB, a broken rule aborts (CHECK). */
#include "fuzz.h"
#include "fixture-int.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define POISON(p, n) __asan_poison_memory_region((p), (n))
#define UNPOISON(p, n) __asan_unpoison_memory_region((p), (n))
#endif
#endif
#ifndef POISON
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

static fixture_t *srv; /* only what fx_route reads: flaky table, pattern */

/* A result and its request, pointers made relative to the buffer. */
typedef struct {
  int rc;
  adl_h1_req_t r;
  ptrdiff_t path_off, query_off; /* -1: not in the buffer / absent */
} result_t;

static int in_buf(const char *p, size_t n, const char *buf, size_t len) {
  return p >= buf && p <= buf + len && n <= (size_t)(buf + len - p);
}

/* The fields a parsed head exposes besides the request: method token and
 * target in the request line, header fields in order inside the head,
 * each one found again by name. */
static void check_fields(const adl_h1_req_t *r, const char *buf,
                         size_t head) {
  const char *eol = memchr(buf, '\n', head);
  size_t line1 = (size_t)(eol - buf);
  CHECK(r->method_str == buf && r->method_len >= 1 && r->method_len <= 16);
  CHECK(in_buf(r->target, r->target_len, buf, line1) && r->target_len >= 1);
  if (r->authority != NULL)
    CHECK(in_buf(r->authority, r->authority_len, r->target, r->target_len));
  CHECK(r->method != ADL_H1_METHOD_CONNECT || r->authority != NULL);
  CHECK(!r->has_content_length || !r->has_transfer_encoding);
  CHECK(r->has_body == (r->has_transfer_encoding ||
                        (r->has_content_length && r->content_length > 0)));
  size_t pos = 0, nl, vl, last = line1 + 1, fields = 0;
  const char *n, *v, *v2;
  while (adl_h1_header_next(buf, head, &pos, &n, &nl, &v, &vl)) {
    CHECK(n == buf + last && nl >= 1 && n[nl] == ':');
    CHECK(v >= n + nl + 1 && in_buf(v, vl, buf, head) && pos <= head);
    CHECK(memchr(v, '\n', vl) == NULL);
    last = pos;
    fields++;
    char name[64];
    if (nl < sizeof(name)) {
      memcpy(name, n, nl);
      name[nl] = '\0';
      size_t vl2;
      CHECK(adl_h1_header(buf, head, name, &v2, &vl2) == 1);
      CHECK(in_buf(v2, vl2, buf, head) && v2 <= v);
    }
  }
  /* every line but the request line and the blank one was a field */
  CHECK(head - last <= 2 && fields <= head / 2);
}

static result_t check_result(int rc, const adl_h1_req_t *r, const char *buf,
                             size_t len, size_t max, const adl_h1_scan_t *sc) {
  result_t out;
  memset(&out, 0, sizeof(out));
  out.rc = rc;
  out.path_off = out.query_off = -1;
  if (rc == 0) {
    CHECK(len < max);      /* a full buffer without a head is -431 */
    CHECK(sc->pos == len); /* resumes where it stopped */
    return out;
  }
  if (rc < 0) {
    CHECK(rc == -400 || rc == -431 || rc == -505);
    return out;
  }
  size_t head = (size_t)rc;
  CHECK(head <= len && head <= max && buf[head - 1] == '\n');
  CHECK(head >= 2 && (buf[head - 2] == '\n' ||
                      (buf[head - 2] == '\r' && head >= 3 && buf[head - 3] == '\n')));
  CHECK(memchr(buf, '\0', head) == NULL);
  CHECK(r->method == ADL_H1_METHOD_GET || r->method == ADL_H1_METHOD_HEAD ||
        r->method == ADL_H1_METHOD_CONNECT || r->method == ADL_H1_METHOD_OTHER);
  check_fields(r, buf, head);
  CHECK(r->minor >= 0 && r->minor <= 9);
  CHECK(r->keep_alive == 0 || r->keep_alive == 1);
  CHECK(r->has_body == 0 || r->has_body == 1);
  CHECK(r->path != NULL && r->path_len >= 1 && r->path[0] == '/');
  CHECK(memchr(r->path, '?', r->path_len) == NULL);
  for (size_t i = 0; i < r->path_len; i++)
    CHECK(r->path[i] > 0x20 && r->path[i] < 0x7F);
  /* The path lies in the request line, except for an absolute-form target
   * without a path ("GET http://host HTTP/1.1"), which reads as "/". */
  const char *eol = memchr(buf, '\n', head);
  size_t line1 = (size_t)(eol - buf);
  if (in_buf(r->path, r->path_len, buf, line1)) {
    out.path_off = r->path - buf;
  } else {
    CHECK(r->path_len == 1 && r->query == NULL);
  }
  if (r->query != NULL) {
    CHECK(r->query == r->path + r->path_len + 1 && r->query[-1] == '?');
    CHECK(in_buf(r->query, r->query_len, buf, line1));
    out.query_off = r->query - buf;
    for (size_t i = 0; i < r->query_len; i++)
      CHECK(r->query[i] > 0x20 && r->query[i] < 0x7F);
  } else {
    CHECK(r->query_len == 0);
  }
  out.r = *r;
  out.r.path = out.r.query = NULL;
  out.r.method_str = out.r.target = out.r.authority = NULL;
  return out;
}

static void same(const result_t *a, const result_t *b) {
  CHECK(a->rc == b->rc);
  CHECK(a->path_off == b->path_off && a->query_off == b->query_off);
  CHECK(a->r.method == b->r.method && a->r.path_len == b->r.path_len &&
        a->r.query_len == b->r.query_len && a->r.minor == b->r.minor &&
        a->r.keep_alive == b->r.keep_alive && a->r.has_body == b->r.has_body);
  CHECK(a->r.method_len == b->r.method_len &&
        a->r.target_len == b->r.target_len &&
        a->r.authority_len == b->r.authority_len &&
        a->r.has_content_length == b->r.has_content_length &&
        a->r.content_length == b->r.content_length &&
        a->r.has_transfer_encoding == b->r.has_transfer_encoding);
}

/* Feeds buf[0..len) in pieces (step 0: pseudo-random sizes from seed). */
static result_t feed(char *buf, size_t len, size_t max, size_t step,
                     uint32_t seed) {
  adl_h1_scan_t sc = {0, 0};
  adl_h1_req_t r;
  size_t k = 0;
  int rc = 0;
  do {
    size_t piece = step;
    if (piece == 0) {
      seed = seed * 1103515245u + 12345u;
      piece = 1 + (seed >> 16) % 97;
    }
    k = len - k < piece ? len : k + piece;
    POISON(buf + k, len - k);
    rc = adl_h1_parse(buf, k, max, &sc, &r);
    UNPOISON(buf, len);
  } while (rc == 0 && k < len);
  return check_result(rc, &r, buf, k, max, &sc);
}

static void check_plan(const fx_plan_t *p, const adl_h1_req_t *r) {
  if (p->head != NULL) {
    CHECK(p->head_len == strlen(p->head));
    CHECK(strncmp(p->head, "HTTP/1.1 ", 9) == 0);
    CHECK(p->head_len >= 4 &&
          memcmp(p->head + p->head_len - 4, "\r\n\r\n", 4) == 0);
    CHECK(p->status >= 200 && p->status <= 599);
  } else {
    CHECK(p->after == FX_AFTER_RESET || p->after == FX_AFTER_CLOSE ||
          p->after == FX_AFTER_STALL);
    /* No head, no body: but for the deliberate HTTP/0.9 answer, a body
     * with no status line, then FIN. */
    static const char http09[] = "/fault/http09";
    int is_http09 = r->path_len == sizeof(http09) - 1 &&
                    memcmp(r->path, http09, sizeof(http09) - 1) == 0;
    CHECK((p->body == NULL || (is_http09 && p->after == FX_AFTER_CLOSE)) &&
          p->stream_len == 0);
  }
  CHECK((p->body == NULL) == (p->body_len == 0));
  CHECK(p->after >= FX_AFTER_NEXT && p->after <= FX_AFTER_STALL);
  if (r->method == ADL_H1_METHOD_HEAD && p->after == FX_AFTER_NEXT)
    CHECK(p->body == NULL && p->stream_len == 0 && p->bps == 0);
}

/* fixture.c's conn_process, with the input arriving in 1..256-byte reads
 * into a buffer of capacity max. Returns the number of requests routed. */
static unsigned replay(const uint8_t *data, size_t size, size_t max) {
  char *in = malloc(max);
  size_t inlen = 0, off = 0;
  adl_h1_scan_t sc = {0, 0};
  unsigned served = 0;
  uint32_t seed = (uint32_t)size * 2654435761u;
  CHECK(in != NULL);
  for (;;) {
    if (inlen < max && off < size) { /* a read */
      seed = seed * 1103515245u + 12345u;
      size_t n = 1 + (seed >> 16) % 256;
      if (n > max - inlen)
        n = max - inlen;
      if (n > size - off)
        n = size - off;
      memcpy(in + inlen, data + off, n);
      inlen += n;
      off += n;
    }
    size_t lead = 0;
    while (lead < inlen && (in[lead] == '\r' || in[lead] == '\n'))
      lead++;
    if (lead > 0) {
      memmove(in, in + lead, inlen - lead);
      inlen -= lead;
      memset(&sc, 0, sizeof(sc));
    }
    if (inlen == 0) {
      if (off >= size)
        break;
      continue;
    }
    adl_h1_req_t req;
    POISON(in + inlen, max - inlen);
    int rc = adl_h1_parse(in, inlen, max, &sc, &req);
    UNPOISON(in, max);
    check_result(rc, &req, in, inlen, max, &sc);
    if (rc < 0)
      break; /* answered with an error, then closed */
    if (rc == 0) {
      if (off >= size)
        break; /* EOF with an incomplete head */
      continue;
    }
    fx_plan_t plan;
    memset(&plan, 0, sizeof(plan));
    plan.keep = req.keep_alive && !req.has_body;
    plan.http10 = req.minor == 0;
    int err = fx_route(srv, &req, &plan);
    CHECK(err == 0);
    check_plan(&plan, &req);
    fx_plan_free(&plan);
    served++;
    memmove(in, in + rc, inlen - (size_t)rc);
    inlen -= (size_t)rc;
    memset(&sc, 0, sizeof(sc));
    if (!plan.keep)
      break; /* the server closes after this response */
  }
  free(in);
  return served;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > (1u << 20))
    return 0;
  if (srv == NULL) {
    srv = calloc(1, sizeof(*srv));
    CHECK(srv != NULL);
    for (size_t i = 0; i < sizeof(srv->pattern); i++)
      srv->pattern[i] = (unsigned char)"0123456789abcdef"[i % 16];
  }
  memset(srv->flaky, 0, sizeof(srv->flaky)); /* same input, same result */
  srv->flaky_next = 0;

  const size_t maxes[] = {8192, 64, size > 0 ? size : 1};
  for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
    size_t max = maxes[m];
    size_t len = size < max ? size : max; /* the server's buffer holds max */
    char *buf = malloc(len ? len : 1);
    CHECK(buf != NULL);
    if (len > 0)
      memcpy(buf, data, len);
    adl_h1_scan_t sc = {0, 0};
    adl_h1_req_t r;
    int rc = len == 0 ? 0 : adl_h1_parse(buf, len, max, &sc, &r);
    if (len > 0) {
      result_t whole = check_result(rc, &r, buf, len, max, &sc);
      result_t bytes = feed(buf, len, max, 1, 0);
      result_t parts = feed(buf, len, max, 0, (uint32_t)len ^ (uint32_t)max);
      same(&whole, &bytes);
      same(&whole, &parts);
      if (rc > 0) { /* a request head is one whatever follows it */
        result_t head = feed(buf, (size_t)rc, max, (size_t)rc, 0);
        same(&whole, &head);
      }
    }
    free(buf);
  }
  if (size > 64) { /* more than max at once: never from fixture.c, but safe */
    char *buf = malloc(size);
    CHECK(buf != NULL);
    memcpy(buf, data, size);
    adl_h1_scan_t sc = {0, 0};
    adl_h1_req_t r;
    int rc = adl_h1_parse(buf, size, 64, &sc, &r);
    check_result(rc, &r, buf, size, 64, &sc);
    CHECK(rc != 0);
    free(buf);
  }
  replay(data, size, 8192);
  replay(data, size, 64);
  return 0;
}
