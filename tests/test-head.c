/* The response head store (src/head.c): heads as libcurl delivers them,
 * line by line, over HTTP/1.1 and HTTP/2, with interim responses, odd
 * spacing and a head larger than the store keeps. */
#include "adl-test.h"
#include "asyncdl.h"
#include "head.h"

static int feed(adl__head_t *h, const char *line) {
  return adl__head_feed(h, line, strlen(line));
}

static void test_http11(void) {
  adl__head_t h = {0};
  ASSERT(adl__head_status(&h) == NULL);
  ASSERT_EQ(feed(&h, "HTTP/1.1 100 Continue\r\n"), 0);
  ASSERT_EQ(feed(&h, "\r\n"), 1); /* the end of an interim head */
  ASSERT_EQ(feed(&h, "HTTP/1.1 200 OK\r\n"), 0);
  ASSERT_EQ(feed(&h, "Content-Type: application/json\r\n"), 0);
  ASSERT_EQ(feed(&h, "ETag:    \"abc\"  \r\n"), 0);
  ASSERT_EQ(feed(&h, "X-Empty:\r\n"), 0);
  ASSERT_EQ(feed(&h, "Set-Cookie: a=1\r\n"), 0);
  ASSERT_EQ(feed(&h, "set-cookie: b=2\n"), 0);
  ASSERT_EQ(feed(&h, "\r\n"), 1);
  ASSERT_STR_EQ(adl__head_status(&h), "HTTP/1.1 200 OK");
  ASSERT_STR_EQ(adl__head_get(&h, "content-type"), "application/json");
  ASSERT_STR_EQ(adl__head_get(&h, "ETAG"), "\"abc\""); /* trimmed */
  ASSERT_STR_EQ(adl__head_get(&h, "X-Empty"), "");
  ASSERT_STR_EQ(adl__head_get(&h, "Set-Cookie"), "a=1"); /* the first */
  ASSERT(adl__head_get(&h, "Content-Length") == NULL);
  ASSERT(adl__head_get(&h, "Content") == NULL); /* whole names only */
  const char *n, *v;
  ASSERT_EQ(adl__head_at(&h, 4, &n, &v), 0);
  ASSERT_STR_EQ(n, "set-cookie");
  ASSERT_STR_EQ(v, "b=2");
  ASSERT_EQ(adl__head_at(&h, 5, &n, &v), -1);
  /* The interim 100's head is gone: the 200 started afresh. */
  ASSERT_EQ(adl__head_at(&h, 0, &n, &v), 0);
  ASSERT_STR_EQ(n, "Content-Type");
  adl__head_free(&h);
}

static void test_http2_and_reset(void) {
  adl__head_t h = {0};
  feed(&h, "HTTP/2 302 \r\n"); /* curl's HTTP/2 status line */
  feed(&h, "location: /x\r\n");
  ASSERT_EQ(feed(&h, "\r\n"), 1);
  ASSERT_STR_EQ(adl__head_status(&h), "HTTP/2 302");
  feed(&h, "HTTP/2 200 \r\n"); /* the redirect's target */
  feed(&h, "etag: \"v2\"\r\n");
  ASSERT(adl__head_get(&h, "location") == NULL);
  ASSERT_STR_EQ(adl__head_get(&h, "ETag"), "\"v2\"");
  /* Lines before any status line are no head of ours. */
  adl__head_clear(&h);
  ASSERT_EQ(feed(&h, "Trailer: x\r\n"), 0);
  ASSERT_EQ(feed(&h, "\r\n"), 0);
  ASSERT(adl__head_get(&h, "Trailer") == NULL);
  adl__head_free(&h);
}

static void test_bounded(void) {
  adl__head_t h = {0};
  feed(&h, "HTTP/1.1 200 OK\r\n");
  char line[1024];
  memset(line, 'v', sizeof(line));
  memcpy(line, "X-Big: ", 7);
  memcpy(line + sizeof(line) - 2, "\r\n", 2);
  for (int i = 0; i < 200; i++) /* 200 KiB of headers */
    ASSERT_EQ(adl__head_feed(&h, line, sizeof(line)), 0);
  ASSERT(h.truncated);
  ASSERT(h.len <= ADL__HEAD_MAX);
  ASSERT(h.nfields > 90 && h.nfields < 101);
  ASSERT(adl__head_get(&h, "X-Big") != NULL);
  adl__head_free(&h);
}

int main(void) {
  test_http11();
  test_http2_and_reset();
  test_bounded();
  printf("test-head: passed\n");
  return 0;
}
