/* Strategy policy table and names. L0: libc only. */
#include "strategy.h"

#include <string.h>

static const char *const names[] = {"serial", "session", "parallel",
                                    "multiplex"};

const char *adl_strategy_name(adl_strategy_t s) {
  if ((unsigned)s >= sizeof(names) / sizeof(names[0]))
    return NULL;
  return names[s];
}

int adl_strategy_parse(const char *name, adl_strategy_t *out) {
  if (name == NULL || out == NULL)
    return ADL_EINVAL;
  for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    if (strcmp(name, names[i]) == 0) {
      *out = (adl_strategy_t)i;
      return 0;
    }
  }
  return ADL_EINVAL;
}

int adl__policy_for(adl_strategy_t s, unsigned k, unsigned per_host,
                    unsigned streams, adl__policy_t *p) {
  if (p == NULL)
    return ADL_EINVAL;
  switch (s) {
  case ADL_STRATEGY_SERIAL:
    /* What requests.get() in a loop does: a new resolver lookup, a new TCP
     * (and TLS) connection and no session resumption for every request. */
    *p = (adl__policy_t){.max_inflight = 1,
                         .max_host_conns = 1,
                         .max_total_conns = 1,
                         .max_conns = 1,
                         .fresh_connect = 1,
                         .fresh_dns = 1,
                         .share_tls_sessions = 0};
    return 0;
  case ADL_STRATEGY_SESSION:
    /* requests.Session: one request at a time, and one kept-alive
     * connection per origin for the whole run (its pool per host), so a
     * list that alternates hosts does not reconnect. */
    *p = (adl__policy_t){.max_inflight = 1,
                         .max_host_conns = 1,
                         .max_total_conns = 0,
                         .max_conns = ADL__SESSION_ORIGINS,
                         .fresh_connect = 0,
                         .fresh_dns = 0,
                         .share_tls_sessions = 1};
    return 0;
  case ADL_STRATEGY_PARALLEL:
    if (k == 0)
      return ADL_EINVAL;
    /* K caps transfers in flight and open connections together, and no
     * origin gets more than per_host of either, so no transfer sits in
     * curl's PENDING state (its timeout would tick). */
    if (per_host == 0 || per_host > k)
      per_host = k;
    *p = (adl__policy_t){.max_inflight = k,
                         .max_host_conns = per_host,
                         .max_total_conns = k,
                         .max_conns = k,
                         .fresh_connect = 0,
                         .fresh_dns = 0,
                         .share_tls_sessions = 1};
    return 0;
  case ADL_STRATEGY_MULTIPLEX:
    /* One HTTP/2 connection per origin, k origins connected at once: the
     * parallel caps, with `streams` requests per origin in flight. An
     * origin that answers HTTP/1.x is run as parallel: per_host requests
     * and connections (the executor raises curl's host cap then). */
    if (streams == 0 ||
        adl__policy_for(ADL_STRATEGY_PARALLEL, k, per_host, streams, p) != 0)
      return ADL_EINVAL;
    p->max_inflight = k * streams;
    p->mux_streams = streams;
    return 0;
  }
  return ADL_EINVAL;
}
