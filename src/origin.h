/* Origins and fair admission. An origin is (scheme, host, port): it has a
 * FIFO of waiting requests, a count of the in-flight slots it holds, and a
 * count of the sockets curl has open to it. Origins with waiting work sit
 * on a ring, and admission takes them in turn, skipping any at its cap, so
 * a slow host cannot hold the whole window. Pure bookkeeping: no I/O, and
 * it does not know what a request is (it queues intrusive nodes). L0.
 *
 * Lifetime: an origin lives while it has references (requests that point
 * to it) or open sockets, and is freed by the call that drops the last. */
#ifndef ADL_ORIGIN_H
#define ADL_ORIGIN_H

#include <stdint.h>

#include "castore.h"
#include "queue.h"

typedef struct adl__origin_s {
  adl__queue_t ring_node;  /* on the ring while it has waiting requests */
  adl__queue_t hash_node;  /* its bucket */
  adl__queue_t waiting;    /* FIFO of request nodes */
  struct adl__sched_s *sched;
  unsigned nwaiting;
  unsigned inflight;       /* slots held by its requests */
  unsigned running;        /* its requests whose transfer curl has */
  unsigned open_sockets;   /* sockets curl opened and has not closed */
  unsigned skips;          /* turns given to origins with idle
                              connections while this one waited first */
  unsigned refs;
  uint64_t hash;
  uint64_t curl_dns_gen;   /* resolver generation last handed to curl */
  int proto;               /* ADL__PROTO_*: what its server spoke */
  adl__alpn_watch_t alpn;  /* multiplex: told what ALPN chose */
  int pk_opener;           /* a transfer is opening its prior-knowledge
                              HTTP/2 connection (request.c) */
  int https;
  long port;
  char host[];             /* lower case, IPv6 without brackets */
} adl__origin_t;

/* What an origin's server speaks, as far as we know. Multiplex admits one
 * request to an origin until its first connection says (ALPN, or the
 * first response), then a connection's worth of streams, or per_origin
 * requests for HTTP/1.x. */
enum { ADL__PROTO_UNKNOWN = 0, ADL__PROTO_H1 = 1, ADL__PROTO_H2 = 2 };

typedef struct adl__sched_s {
  adl__queue_t ring;       /* origins with waiting requests */
  adl__queue_t *buckets;
  unsigned nbuckets;
  unsigned norigins;
  unsigned inflight;       /* slots held in all */
  unsigned max_inflight;   /* K */
  unsigned per_origin;     /* cap per origin */
  unsigned open_sockets;   /* in all */
  unsigned max_sockets;    /* curl's total connection cap, 0 = none */
  unsigned mux_streams;    /* multiplex: cap of an HTTP/2 origin; 0 = off */
  unsigned h1_origins;     /* multiplex: origins found speaking HTTP/1.x */
  int plain_proto;         /* multiplex: what a new http:// origin speaks
                              (H2 with prior knowledge, else H1) */
} adl__sched_t;

/* 0, or ADL_ENOMEM. */
int adl__sched_init(adl__sched_t *s, unsigned max_inflight,
                    unsigned per_origin);
/* Frees every origin left (their sockets must be closed by then). */
void adl__sched_free(adl__sched_t *s);

/* The origin of (https, host, port), created if new, with one more
 * reference. NULL when out of memory. */
adl__origin_t *adl__sched_ref(adl__sched_t *s, int https, const char *host,
                              long port);
void adl__sched_unref(adl__origin_t *o);

/* Waiting requests. node must not be on any list; front puts it first
 * (a request back from backoff or redirected keeps its turn). */
void adl__sched_enqueue(adl__origin_t *o, adl__queue_t *node, int front);
void adl__sched_dequeue(adl__origin_t *o, adl__queue_t *node);

/* The next request to admit, when the client is under K: the head of the
 * first origin on the ring that is under its cap. But when every allowed
 * connection is open and that origin has no idle one (a new connection
 * would make curl close another origin's idle one), an origin further on
 * that has an idle connection goes first, so connections are reused
 * rather than churned. A waiting origin that has a connection (busy) is
 * served as soon as that one is idle; one with none is passed over at
 * most K times in a row, so no origin is starved. The node is removed from its queue
 * and the origin moves to the ring's tail. NULL if none. */
adl__queue_t *adl__sched_next(adl__sched_t *s, adl__origin_t **origin);

void adl__sched_take_slot(adl__origin_t *o);
void adl__sched_release_slot(adl__origin_t *o);

/* curl opened / closed a socket to o (its connection callbacks). */
void adl__sched_socket_opened(adl__origin_t *o);
void adl__sched_socket_closed(adl__origin_t *o);

/* A transfer of o was handed to curl (+1) or came back (-1). */
void adl__sched_running(adl__origin_t *o, int delta);

/* Whether o probably has an idle kept-alive connection: more sockets open
 * than transfers running on it (multiplex: an open HTTP/2 connection,
 * which takes another stream). */
int adl__sched_has_idle(const adl__origin_t *o);

/* Records what o's server speaks (ADL__PROTO_H1 or _H2); the first answer
 * sticks. */
void adl__sched_set_proto(adl__origin_t *o, int proto);

/* The most requests o may have in flight. */
unsigned adl__sched_cap(const adl__origin_t *o);

#endif
