/* The strategy policy: one table row per adl_strategy_t says how many
 * requests may be in flight and how libcurl must treat connections. L0. */
#ifndef ADL_STRATEGY_H
#define ADL_STRATEGY_H

#include "asyncdl.h"

typedef struct adl__policy_s {
  unsigned max_inflight;   /* the client's admission window */
  unsigned max_host_conns; /* per origin: in flight, and
                              CURLMOPT_MAX_HOST_CONNECTIONS */
  unsigned max_total_conns; /* CURLMOPT_MAX_TOTAL_CONNECTIONS, 0 = none */
  unsigned max_conns;      /* CURLMOPT_MAXCONNECTS (cache size) */
  int fresh_connect;       /* CURLOPT_FRESH_CONNECT + FORBID_REUSE */
  int fresh_dns;           /* bypass the DNS cache for every request */
  int share_tls_sessions;  /* resume TLS across connections of the client */
  unsigned mux_streams;    /* multiplex: streams per HTTP/2 connection (our
                              cap per origin once it speaks HTTP/2); 0 =
                              one request per connection */
} adl__policy_t;

/* Idle connections session keeps, one per origin. */
#define ADL__SESSION_ORIGINS 64

/* Fills *p for strategy s with k connections and at most per_host of them
 * per origin (0 = k), and `streams` streams per connection (multiplex);
 * serial and session ignore all three. Returns 0, or ADL_EINVAL for an
 * unknown strategy, k == 0 or streams == 0 where they count. */
int adl__policy_for(adl_strategy_t s, unsigned k, unsigned per_host,
                    unsigned streams, adl__policy_t *p);

#endif
