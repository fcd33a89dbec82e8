/* The transfer pool: one CURLM driven by libcurl's multi-socket API on the
 * caller's libuv loop (one uv_poll_t per socket, one uv_timer_t). It owns
 * curl's connection cache, so one pool = one set of reusable connections.
 * Knows nothing of DNS or of requests beyond the easy handles it runs. */
#ifndef ADL_POOL_H
#define ADL_POOL_H

#include <curl/curl.h>
#include <uv.h>

#include "strategy.h"

typedef struct adl__pool_s adl__pool_t;

/* A finished transfer, reported after curl_multi_socket_action returned and
 * the handle was removed from the multi: the callee may add handles again. */
typedef void (*adl__pool_done_cb)(void *arg, CURL *easy, CURLcode result);

/* Creates a pool applying policy p's multi-level limits. *out is owned by
 * the caller and released with adl__pool_close. 0 or negative ADL_E*. */
int adl__pool_new(uv_loop_t *loop, const adl__policy_t *p,
                  adl__pool_done_cb done, void *arg, adl__pool_t **out);

/* The share handle easy handles attach to for TLS session reuse, or NULL
 * when the policy wants none. Owned by the pool. */
CURLSH *adl__pool_share(adl__pool_t *pool);

/* Sets curl's cap on connections per host (multiplex raises it when an
 * origin speaks HTTP/1.x). Never from inside a curl callback. */
void adl__pool_set_host_conns(adl__pool_t *pool, unsigned n);

/* Hands easy to curl; 0 or negative ADL_E*. It starts on the next
 * adl__pool_kick (or curl's 0 ms timer), so nothing completes inside this
 * call. Never call from inside a curl callback (libcurl 7.82+ refuses
 * recursive API calls). */
int adl__pool_add(adl__pool_t *pool, CURL *easy);

/* Lets curl run every transfer that is due now (one socket_action), e.g.
 * the ones just added; finished transfers are reported before it returns. */
void adl__pool_kick(adl__pool_t *pool);

/* Stops a running transfer without a done report. */
void adl__pool_remove(adl__pool_t *pool, CURL *easy);

/* Cleans up the multi handle (every easy handle must have been removed),
 * closes every uv handle, frees the pool, then calls cb(arg) once. */
void adl__pool_close(adl__pool_t *pool, void (*cb)(void *arg), void *arg);

#endif
