/* Origins and fair admission (src/origin.c), without sockets: round robin
 * across origins, per-origin and total caps, the head of the queue for a
 * request coming back, the idle-connection count, and lifetimes. */
#include "adl-test.h"
#include "asyncdl.h"
#include "origin.h"

typedef struct item_s {
  adl__queue_t node;
  char tag;
} item_t;

static char admit_one(adl__sched_t *s) {
  adl__origin_t *o;
  adl__queue_t *n = adl__sched_next(s, &o);
  if (n == NULL)
    return '-';
  adl__sched_take_slot(o);
  return ADL_QUEUE_DATA(n, item_t, node)->tag;
}

static void test_round_robin(void) {
  adl__sched_t s;
  ASSERT_EQ(adl__sched_init(&s, 6, 2), 0);
  adl__origin_t *a = adl__sched_ref(&s, 0, "a.test", 80);
  adl__origin_t *b = adl__sched_ref(&s, 0, "b.test", 80);
  adl__origin_t *c = adl__sched_ref(&s, 1, "a.test", 443);
  ASSERT(a != b && a != c);
  ASSERT(adl__sched_ref(&s, 0, "a.test", 80) == a); /* same key, same one */
  adl__sched_unref(a);
  item_t items[9];
  const char *tags = "aaaaabbbc"; /* a slow host first in the list */
  for (int i = 0; i < 9; i++) {
    items[i].tag = tags[i];
    adl__sched_enqueue(tags[i] == 'a' ? a : tags[i] == 'b' ? b : c,
                       &items[i].node, 0);
  }
  /* Turns alternate, and an origin at its cap (2) is skipped, so the
   * slow host listed first does not take the whole window. */
  char got[8] = {0};
  for (int i = 0; i < 6; i++)
    got[i] = admit_one(&s);
  ASSERT_STR_EQ(got, "abcab-");
  ASSERT_EQ(s.inflight, 5);
  adl__sched_release_slot(a);
  adl__sched_release_slot(b);
  got[0] = admit_one(&s);
  got[1] = admit_one(&s);
  got[2] = admit_one(&s);
  got[3] = 0;
  ASSERT_STR_EQ(got, "ab-"); /* b's last, then a is at its cap again */
  /* A request back from backoff keeps its turn: it goes first. */
  item_t back = {.tag = 'B'};
  adl__sched_release_slot(a);
  adl__sched_release_slot(a);
  adl__sched_enqueue(a, &back.node, 1);
  ASSERT_EQ(admit_one(&s), 'B');
  /* Cleanup: drain the queue, drop slots and references. */
  adl__origin_t *o;
  while (adl__sched_next(&s, &o) != NULL || s.inflight > 0) {
    if (a->inflight) adl__sched_release_slot(a);
    if (b->inflight) adl__sched_release_slot(b);
    if (c->inflight) adl__sched_release_slot(c);
  }
  ASSERT_EQ(s.norigins, 3);
  adl__sched_unref(a);
  adl__sched_unref(b);
  adl__sched_unref(c);
  ASSERT_EQ(s.norigins, 0);
  adl__sched_free(&s);
}

static void test_idle_and_lifetime(void) {
  adl__sched_t s;
  ASSERT_EQ(adl__sched_init(&s, 6, 6), 0);
  adl__origin_t *a = adl__sched_ref(&s, 0, "a.test", 80);
  ASSERT(!adl__sched_has_idle(a));
  adl__sched_running(a, +1);
  adl__sched_socket_opened(a);
  ASSERT(!adl__sched_has_idle(a)); /* its one socket is busy */
  adl__sched_running(a, -1);
  ASSERT(adl__sched_has_idle(a)); /* kept alive, idle */
  /* The last reference goes, a socket is still open: the origin stays,
   * and a request for the same key finds it with its idle connection. */
  adl__sched_unref(a);
  ASSERT_EQ(s.norigins, 1);
  adl__origin_t *again = adl__sched_ref(&s, 0, "a.test", 80);
  ASSERT(again == a && adl__sched_has_idle(again));
  adl__sched_unref(again);
  adl__sched_socket_closed(a); /* curl closed it: now it goes */
  ASSERT_EQ(s.norigins, 0);
  /* Many origins: the table grows and every key stays distinct. */
  adl__origin_t *os[300];
  for (int i = 0; i < 300; i++) {
    char host[32];
    snprintf(host, sizeof(host), "h%d.test", i);
    os[i] = adl__sched_ref(&s, i & 1, host, 80 + i);
    ASSERT(os[i] != NULL);
  }
  ASSERT_EQ(s.norigins, 300);
  ASSERT_GT(s.nbuckets, 16);
  for (int i = 0; i < 300; i++) {
    char host[32];
    snprintf(host, sizeof(host), "h%d.test", i);
    ASSERT(adl__sched_ref(&s, i & 1, host, 80 + i) == os[i]);
    adl__sched_unref(os[i]);
    adl__sched_unref(os[i]);
  }
  ASSERT_EQ(s.norigins, 0);
  adl__sched_free(&s);
}

/* With every allowed connection open, an origin that would need a new one
 * (making curl close another origin's idle connection) lets an origin
 * with an idle connection go first, at most K times in a row. */
static void test_prefer_reuse(void) {
  adl__sched_t s;
  ASSERT_EQ(adl__sched_init(&s, 2, 2), 0);
  s.max_sockets = 2;
  adl__origin_t *a = adl__sched_ref(&s, 0, "a.test", 80);
  adl__origin_t *b = adl__sched_ref(&s, 0, "b.test", 80);
  adl__sched_socket_opened(b); /* b has two idle connections */
  adl__sched_socket_opened(b);
  ASSERT_EQ(s.open_sockets, 2);
  item_t items[8];
  for (int i = 0; i < 8; i++) {
    items[i].tag = i % 2 ? 'b' : 'a';
    adl__sched_enqueue(i % 2 ? b : a, &items[i].node, 0);
  }
  /* a is first on the ring, but b reuses: b, then a is passed over once
   * more (b's second idle connection), then K = 2 skips are used up. */
  char got[8] = {0};
  for (int round = 0; round < 3; round++) {
    got[round] = admit_one(&s);
    adl__origin_t *o = got[round] == 'a' ? a : b;
    adl__sched_release_slot(o); /* done at once, connection idle again */
  }
  ASSERT_STR_EQ(got, "bba");
  ASSERT_EQ(a->skips, 0);
  /* With a free connection slot nobody is passed over. */
  adl__sched_socket_closed(b);
  ASSERT_EQ(admit_one(&s), 'b'); /* the ring's turn: b after a */
  ASSERT_EQ(admit_one(&s), 'a');
  adl__origin_t *o;
  while (adl__sched_next(&s, &o) != NULL || s.inflight > 0) {
    if (a->inflight) adl__sched_release_slot(a);
    if (b->inflight) adl__sched_release_slot(b);
  }
  adl__sched_socket_closed(b);
  adl__sched_unref(a);
  adl__sched_unref(b);
  ASSERT_EQ(s.norigins, 0);
  adl__sched_free(&s);
}

/* multiplex: one request for an origin whose protocol is unknown, a
 * connection's worth of streams once it speaks HTTP/2, per_origin
 * requests once it speaks HTTP/1.x. */
static void test_multiplex_caps(void) {
  adl__sched_t s;
  ASSERT_EQ(adl__sched_init(&s, 600, 3), 0);
  s.mux_streams = 100;
  s.plain_proto = ADL__PROTO_H2; /* prior knowledge */
  adl__origin_t *tls = adl__sched_ref(&s, 1, "a.test", 443);
  adl__origin_t *old = adl__sched_ref(&s, 1, "b.test", 443);
  adl__origin_t *plain = adl__sched_ref(&s, 0, "c.test", 80);
  ASSERT_EQ(adl__sched_cap(tls), 1);
  ASSERT_EQ(adl__sched_cap(plain), 100); /* prior knowledge: at once */
  plain->pk_opener = 1;
  adl__sched_socket_opened(plain);
  adl__sched_socket_closed(plain); /* gone: the next transfer opens one */
  ASSERT_EQ(plain->pk_opener, 0);
  ASSERT_EQ(adl__sched_cap(plain), 100);
  item_t items[300];
  for (int i = 0; i < 300; i++) {
    items[i].tag = i < 150 ? 'a' : 'b';
    adl__sched_enqueue(i < 150 ? tls : old, &items[i].node, 0);
  }
  int na = 0, nb = 0;
  char t;
  while ((t = admit_one(&s)) != '-')
    t == 'a' ? na++ : nb++;
  ASSERT_EQ(na, 1); /* until ALPN says */
  ASSERT_EQ(nb, 1);
  adl__sched_set_proto(tls, ADL__PROTO_H2);
  adl__sched_set_proto(old, ADL__PROTO_H1);
  adl__sched_set_proto(old, ADL__PROTO_H2); /* the first answer sticks */
  ASSERT_EQ(s.h1_origins, 1);
  while ((t = admit_one(&s)) != '-')
    t == 'a' ? na++ : nb++;
  ASSERT_EQ(na, 100);
  ASSERT_EQ(nb, 3);
  /* An open HTTP/2 connection is always usable: DNS need not gate it. */
  ASSERT(!adl__sched_has_idle(tls));
  adl__sched_socket_opened(tls);
  adl__sched_running(tls, 100);
  ASSERT(adl__sched_has_idle(tls));
  adl__sched_socket_opened(old);
  adl__sched_running(old, 3);
  ASSERT(!adl__sched_has_idle(old));
  /* Without multiplex the cap is per_origin whatever the protocol. */
  s.mux_streams = 0;
  ASSERT_EQ(adl__sched_cap(tls), 3);
  adl__sched_running(tls, -100);
  adl__sched_running(old, -3);
  adl__sched_socket_closed(tls);
  adl__sched_socket_closed(old);
  for (int i = 0; i < 103; i++)
    adl__sched_release_slot(i < 100 ? tls : old);
  adl__sched_unref(tls);
  adl__sched_unref(old);
  adl__sched_unref(plain);
  adl__sched_free(&s);
}

int main(void) {
  test_multiplex_caps();
  test_round_robin();
  test_idle_and_lifetime();
  test_prefer_reuse();
  printf("test-origin: passed\n");
  return 0;
}
