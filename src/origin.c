/* Origins, their queues and the round-robin ring (see origin.h). L0. */
#include "origin.h"

#include "asyncdl.h"

#include <stdlib.h>
#include <string.h>

static uint64_t hash_key(int https, const char *host, long port) {
  uint64_t h = 1469598103934665603ull ^ (uint64_t)(https ? 1 : 2);
  for (const char *p = host; *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211ull;
  return (h ^ (uint64_t)port) * 1099511628211ull;
}

int adl__sched_init(adl__sched_t *s, unsigned max_inflight,
                    unsigned per_origin) {
  memset(s, 0, sizeof(*s));
  adl__queue_init(&s->ring);
  s->nbuckets = 16;
  s->buckets = malloc(s->nbuckets * sizeof(*s->buckets));
  if (s->buckets == NULL)
    return ADL_ENOMEM;
  for (unsigned i = 0; i < s->nbuckets; i++)
    adl__queue_init(&s->buckets[i]);
  s->max_inflight = max_inflight;
  s->per_origin = per_origin;
  return 0;
}

void adl__sched_free(adl__sched_t *s) {
  for (unsigned i = 0; i < s->nbuckets; i++) {
    while (!adl__queue_empty(&s->buckets[i])) {
      adl__origin_t *o = ADL_QUEUE_DATA(adl__queue_head(&s->buckets[i]),
                                        adl__origin_t, hash_node);
      adl__queue_remove(&o->hash_node);
      free(o);
    }
  }
  free(s->buckets);
  s->buckets = NULL;
}

/* Doubles the table when it gets crowded; a failed grow just keeps the
 * longer chains. */
static void maybe_grow(adl__sched_t *s) {
  if (s->norigins < s->nbuckets * 2)
    return;
  unsigned n = s->nbuckets * 2;
  adl__queue_t *b = malloc(n * sizeof(*b));
  if (b == NULL)
    return;
  for (unsigned i = 0; i < n; i++)
    adl__queue_init(&b[i]);
  for (unsigned i = 0; i < s->nbuckets; i++) {
    while (!adl__queue_empty(&s->buckets[i])) {
      adl__origin_t *o = ADL_QUEUE_DATA(adl__queue_head(&s->buckets[i]),
                                        adl__origin_t, hash_node);
      adl__queue_remove(&o->hash_node);
      adl__queue_insert_tail(&b[o->hash & (n - 1)], &o->hash_node);
    }
  }
  free(s->buckets);
  s->buckets = b;
  s->nbuckets = n;
}

adl__origin_t *adl__sched_ref(adl__sched_t *s, int https, const char *host,
                              long port) {
  uint64_t h = hash_key(https, host, port);
  adl__queue_t *bucket = &s->buckets[h & (s->nbuckets - 1)];
  adl__queue_t *q;
  ADL_QUEUE_FOREACH(q, bucket) {
    adl__origin_t *o = ADL_QUEUE_DATA(q, adl__origin_t, hash_node);
    if (o->hash == h && o->https == https && o->port == port &&
        strcmp(o->host, host) == 0) {
      o->refs++;
      return o;
    }
  }
  size_t hlen = strlen(host) + 1;
  adl__origin_t *o = calloc(1, sizeof(*o) + hlen);
  if (o == NULL)
    return NULL;
  memcpy(o->host, host, hlen);
  o->sched = s;
  o->https = https;
  o->port = port;
  o->hash = h;
  o->refs = 1;
  adl__queue_init(&o->ring_node);
  adl__queue_init(&o->waiting);
  adl__queue_insert_tail(bucket, &o->hash_node);
  s->norigins++;
  if (s->mux_streams > 0 && !https) /* no ALPN to ask */
    adl__sched_set_proto(o, s->plain_proto);
  maybe_grow(s);
  return o;
}

static void maybe_free(adl__origin_t *o) {
  if (o->refs > 0 || o->open_sockets > 0)
    return;
  adl__queue_remove(&o->hash_node);
  adl__queue_remove(&o->ring_node);
  o->sched->norigins--;
  free(o);
}

void adl__sched_unref(adl__origin_t *o) {
  o->refs--;
  maybe_free(o);
}

void adl__sched_enqueue(adl__origin_t *o, adl__queue_t *node, int front) {
  if (front)
    adl__queue_insert_before(o->waiting.next, node);
  else
    adl__queue_insert_tail(&o->waiting, node);
  if (o->nwaiting++ == 0)
    adl__queue_insert_tail(&o->sched->ring, &o->ring_node);
}

void adl__sched_dequeue(adl__origin_t *o, adl__queue_t *node) {
  adl__queue_remove(node);
  if (--o->nwaiting == 0)
    adl__queue_remove(&o->ring_node);
}

static int muxed(const adl__origin_t *o) {
  return o->sched->mux_streams > 0 && o->proto == ADL__PROTO_H2;
}

/* An idle connection no admitted request has claimed yet (an HTTP/2 one
 * takes more streams up to the origin's cap). */
static int idle_for_admission(const adl__origin_t *o) {
  return o->open_sockets > o->inflight || (muxed(o) && o->open_sockets > 0);
}

unsigned adl__sched_cap(const adl__origin_t *o) {
  const adl__sched_t *s = o->sched;
  if (s->mux_streams == 0 || o->proto == ADL__PROTO_H1)
    return s->per_origin;
  return o->proto == ADL__PROTO_H2 ? s->mux_streams : 1;
}

void adl__sched_set_proto(adl__origin_t *o, int proto) {
  if (o->proto != ADL__PROTO_UNKNOWN)
    return;
  o->proto = proto;
  if (proto == ADL__PROTO_H1)
    o->sched->h1_origins++;
}

/* The first origin on the ring, from q on, that may take one more. */
static adl__origin_t *next_eligible(adl__sched_t *s, adl__queue_t *q,
                                    int want_idle) {
  for (; q != &s->ring; q = q->next) {
    adl__origin_t *o = ADL_QUEUE_DATA(q, adl__origin_t, ring_node);
    if (o->inflight < adl__sched_cap(o) &&
        (!want_idle || idle_for_admission(o)))
      return o;
  }
  return NULL;
}

adl__queue_t *adl__sched_next(adl__sched_t *s, adl__origin_t **origin) {
  if (s->inflight >= s->max_inflight)
    return NULL;
  adl__origin_t *o = next_eligible(s, s->ring.next, 0);
  if (o == NULL)
    return NULL;
  /* Passing o over is safe while it has a connection of its own (it goes
   * first again the moment that one is idle); without one, at most K
   * times in a row. */
  if (s->max_sockets > 0 && s->open_sockets >= s->max_sockets &&
      !idle_for_admission(o) &&
      (o->open_sockets > 0 || o->skips < s->max_inflight)) {
    adl__origin_t *reuse = next_eligible(s, o->ring_node.next, 1);
    if (reuse != NULL) {
      o->skips++;
      o = reuse;
    }
  }
  if (o == next_eligible(s, s->ring.next, 0))
    o->skips = 0;
  adl__queue_t *node = adl__queue_head(&o->waiting);
  adl__sched_dequeue(o, node);
  if (o->nwaiting > 0) { /* its turn is over: to the back */
    adl__queue_remove(&o->ring_node);
    adl__queue_insert_tail(&s->ring, &o->ring_node);
  }
  *origin = o;
  return node;
}

void adl__sched_take_slot(adl__origin_t *o) {
  o->inflight++;
  o->sched->inflight++;
}

void adl__sched_release_slot(adl__origin_t *o) {
  o->inflight--;
  o->sched->inflight--;
}

void adl__sched_socket_opened(adl__origin_t *o) {
  o->open_sockets++;
  o->sched->open_sockets++;
}

void adl__sched_socket_closed(adl__origin_t *o) {
  if (o->open_sockets > 0) {
    o->open_sockets--;
    o->sched->open_sockets--;
  }
  if (o->open_sockets == 0)
    o->pk_opener = 0; /* the next transfer opens the next connection */
  maybe_free(o);
}

void adl__sched_running(adl__origin_t *o, int delta) {
  o->running = (unsigned)((int)o->running + delta);
}

int adl__sched_has_idle(const adl__origin_t *o) {
  return o->open_sockets > o->running || (muxed(o) && o->open_sockets > 0);
}
