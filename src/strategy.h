/* The strategy policy: one table row per adl_strategy_t says how many
 * requests may be in flight and how libcurl must treat connections. L0. */
#ifndef ADL_STRATEGY_H
#define ADL_STRATEGY_H

#include "asyncdl.h"

typedef struct adl__policy_s {
  unsigned max_inflight;   /* the client's admission window */
  unsigned max_host_conns; /* CURLMOPT_MAX_HOST_CONNECTIONS */
  unsigned max_conns;      /* CURLMOPT_MAXCONNECTS (cache size) */
  int fresh_connect;       /* CURLOPT_FRESH_CONNECT + FORBID_REUSE */
  int fresh_dns;           /* bypass the DNS cache for every request */
  int share_tls_sessions;  /* resume TLS across connections of the client */
} adl__policy_t;

/* Fills *p for strategy s with k connections (parallel only; others ignore
 * it). Returns 0, or ADL_EINVAL for an unknown strategy or k == 0. */
int adl__policy_for(adl_strategy_t s, unsigned k, adl__policy_t *p);

#endif
