/* The resolver: one c-ares channel driven by the caller's libuv loop (one
 * uv_poll_t per DNS socket, one uv_timer_t), plus a small TTL cache.
 * Only this module includes <ares.h>; it knows nothing of curl. */
#ifndef ADL_RESOLVER_H
#define ADL_RESOLVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct adl__resolver_s adl__resolver_t;
typedef struct adl__dnsq_s adl__dnsq_t;

typedef struct adl__resolver_opts_s {
  const char *servers;   /* "IP[:PORT],..." or NULL for /etc/resolv.conf */
  unsigned timeout_ms;   /* per try */
  unsigned tries;
  unsigned cache_max;    /* entries kept; 0 disables the cache */
  uint64_t ttl_floor_ms; /* TTLs are clamped to [floor, ceiling] */
  uint64_t ttl_ceiling_ms;
  uint64_t max_stale_ms; /* an expired answer is served this much longer */
} adl__resolver_opts_t;

typedef enum {
  ADL__DNS_MISS = 0, /* nothing usable: look it up and wait */
  ADL__DNS_FRESH,    /* within its TTL */
  ADL__DNS_STALE,    /* expired, within max_stale: serve and refresh */
} adl__dns_hit_t;

/* A cache entry as seen by adl__resolver_peek; addrs is borrowed until the
 * next call into the resolver. gen changes whenever the addresses do. */
typedef struct adl__dns_view_s {
  const char *addrs;
  uint64_t gen;
  int refresh_status; /* ADL_E* of the last failed refresh, else 0 */
} adl__dns_view_t;

/* The answer handed to a lookup's callback. addrs is curl's CURLOPT_RESOLVE
 * address list ("1.2.3.4,[::1]"), borrowed for the call. */
typedef struct adl__dns_answer_s {
  int status;         /* 0 or negative ADL_E* */
  int ares_status;    /* raw c-ares status (0 on success) */
  const char *addrs;  /* NULL unless status == 0 */
  uint64_t dns_us;    /* time the lookup took */
} adl__dns_answer_t;

typedef void (*adl__resolve_cb)(void *arg, const adl__dns_answer_t *ans);

/* Creates a resolver on loop; *out owned by the caller, released with
 * adl__resolver_close. Returns 0 or a negative ADL_E*. */
int adl__resolver_new(uv_loop_t *loop, const adl__resolver_opts_t *o,
                      adl__resolver_t **out);

/* Looks host up in the cache (dropping it when past max_stale). */
adl__dns_hit_t adl__resolver_peek(adl__resolver_t *r, const char *host,
                                  adl__dns_view_t *out);

/* Starts a background lookup of host whose answer only updates the cache
 * (a failure is recorded on the stale entry). Coalesced with any lookup of
 * the same name in flight. Returns 0 or ADL_ENOMEM. */
int adl__resolver_refresh(adl__resolver_t *r, const char *host);

/* Lookups sent to the DNS server since the resolver was made. */
uint64_t adl__resolver_queries(const adl__resolver_t *r);

/* Starts a lookup of host (A and AAAA). cb runs exactly once unless the
 * query is cancelled first; it MAY run before this returns (c-ares answers
 * some names synchronously), in which case *out is set to NULL. Otherwise
 * *out identifies the query until cb runs. Returns 0 or ADL_ENOMEM (then cb
 * never runs). */
int adl__resolve(adl__resolver_t *r, const char *host, adl__resolve_cb cb,
                 void *arg, adl__dnsq_t **out);

/* Detaches the query from its callback: cb will never run. */
void adl__resolve_cancel(adl__dnsq_t *q);

/* Destroys the channel (outstanding queries must be cancelled first), closes
 * every handle, frees everything, then calls cb(arg) once. */
void adl__resolver_close(adl__resolver_t *r, void (*cb)(void *arg),
                         void *arg);

#endif
