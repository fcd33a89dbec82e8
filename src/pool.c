/* libcurl's multi-socket API on libuv. curl announces sockets through
 * CURLMOPT_SOCKETFUNCTION (each gets a uvio watch) and its next deadline
 * through CURLMOPT_TIMERFUNCTION (the uvio timer). Every
 * curl_multi_socket_action is followed by draining curl_multi_info_read.
 * Layer: engine (L2); must not include c-ares. */
#include "pool.h"

#include "asyncdl.h"
#include "uvio.h"

#include <stdlib.h>

struct adl__pool_s {
  adl__io_t io; /* one watch per curl socket, the multi's timer */
  CURLM *multi;
  CURLSH *share;
  adl__pool_done_cb done;
  void *done_arg;
  void (*close_cb)(void *arg);
  void *close_arg;
};

static void on_io_closed(void *owner) {
  adl__pool_t *p = owner;
  void (*cb)(void *) = p->close_cb;
  void *arg = p->close_arg;
  free(p);
  if (cb)
    cb(arg);
}

/* Reports finished transfers. Runs only after socket_action returned, so the
 * done callback may add or remove handles. The result is copied before the
 * handle is removed: the message dies with the removal. */
static void drain(adl__pool_t *p) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(p->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    CURL *easy = msg->easy_handle;
    CURLcode result = msg->data.result;
    curl_multi_remove_handle(p->multi, easy);
    p->done(p->done_arg, easy, result);
  }
}

static void act(adl__pool_t *p, curl_socket_t fd, int flags) {
  int running = 0;
  curl_multi_socket_action(p->multi, fd, flags, &running);
  drain(p);
}

static void on_io(void *owner, adl__watch_t *w, int status, int events) {
  int flags = 0;
  if (status < 0) {
    /* POLLERR (a reset, a refused connect). With ERR alone curl reports a
     * bare "select/poll returned error"; adding IN|OUT makes it touch the
     * socket and report the real cause (ECONNRESET, ECONNREFUSED). */
    flags = CURL_CSELECT_ERR | CURL_CSELECT_IN | CURL_CSELECT_OUT;
  } else {
    if (events & UV_READABLE)
      flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
      flags |= CURL_CSELECT_OUT;
  }
  act(owner, w->fd, flags);
}

static void on_io_timer(void *owner) { act(owner, CURL_SOCKET_TIMEOUT, 0); }

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
                     void *socketp) {
  (void)easy;
  adl__pool_t *p = userp;
  adl__watch_t *w = socketp;
  if (what == CURL_POLL_REMOVE) {
    /* curl may announce the same fd number again before the old watch's
     * close callback ran: that gets a fresh watch. */
    if (w != NULL) {
      adl__io_unwatch(w);
      curl_multi_assign(p->multi, fd, NULL);
    }
    return 0;
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
    events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    events |= UV_WRITABLE;
  adl__watch_t *nw = adl__io_watch(&p->io, w, fd, events);
  if (nw == NULL)
    return -1;
  if (nw != w)
    curl_multi_assign(p->multi, fd, nw);
  return 0;
}

/* curl's deadline: -1 stops the timer, anything else (0 included) re-arms
 * it. libcurl is never called from here (recursive calls are refused). */
static int on_timeout(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  adl__pool_t *p = userp;
  if (timeout_ms < 0)
    adl__io_timer_stop(&p->io);
  else
    adl__io_timer_start(&p->io, (uint64_t)timeout_ms);
  return 0;
}

int adl__pool_new(uv_loop_t *loop, const adl__policy_t *pol,
                  adl__pool_done_cb done, void *arg, adl__pool_t **out) {
  adl__pool_t *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return ADL_ENOMEM;
  p->done = done;
  p->done_arg = arg;
  p->multi = curl_multi_init();
  if (p->multi == NULL) {
    free(p);
    return ADL_ENOMEM;
  }
  if (pol->share_tls_sessions) {
    p->share = curl_share_init();
    if (p->share == NULL ||
        curl_share_setopt(p->share, CURLSHOPT_SHARE,
                          CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
      curl_share_cleanup(p->share);
      curl_multi_cleanup(p->multi);
      free(p);
      return ADL_ENOMEM;
    }
  }
  curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
  curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, p);
  curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, on_timeout);
  curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, p);
  /* multiplex: one connection per origin until an origin is found to
   * speak HTTP/1.x (adl__pool_set_host_conns); streams beyond the server's
   * SETTINGS then wait for a free stream, not for a second connection. */
  curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    pol->mux_streams ? 1L : (long)pol->max_host_conns);
  curl_multi_setopt(p->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS,
                    (long)pol->max_total_conns);
  curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)pol->max_conns);
  /* Outside multiplex one transfer per connection, HTTP/2 included:
   * "parallel" must mean K TCP connections, not K streams over one. */
  curl_multi_setopt(p->multi, CURLMOPT_PIPELINING,
                    pol->mux_streams ? (long)CURLPIPE_MULTIPLEX
                                     : (long)CURLPIPE_NOTHING);
  if (pol->mux_streams)
    curl_multi_setopt(p->multi, CURLMOPT_MAX_CONCURRENT_STREAMS,
                      (long)pol->mux_streams);
  int rc = adl__io_init(&p->io, loop, p, on_io, on_io_timer);
  if (rc != 0) {
    curl_share_cleanup(p->share);
    curl_multi_cleanup(p->multi);
    free(p);
    return rc;
  }
  *out = p;
  return 0;
}

CURLSH *adl__pool_share(adl__pool_t *pool) { return pool->share; }

void adl__pool_set_host_conns(adl__pool_t *pool, unsigned n) {
  curl_multi_setopt(pool->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)n);
}

int adl__pool_add(adl__pool_t *pool, CURL *easy) {
  CURLMcode mc = curl_multi_add_handle(pool->multi, easy);
  if (mc != CURLM_OK)
    return mc == CURLM_OUT_OF_MEMORY ? ADL_ENOMEM : ADL_ECURL;
  return 0;
}

void adl__pool_kick(adl__pool_t *pool) { act(pool, CURL_SOCKET_TIMEOUT, 0); }

void adl__pool_remove(adl__pool_t *pool, CURL *easy) {
  curl_multi_remove_handle(pool->multi, easy);
}

void adl__pool_close(adl__pool_t *p, void (*cb)(void *arg), void *arg) {
  p->close_cb = cb;
  p->close_arg = arg;
  /* Cleanup may still announce sockets (POLL_IN, then REMOVE) while it shuts
   * cached connections: the glue stays valid until it returns. */
  curl_multi_cleanup(p->multi);
  p->multi = NULL;
  curl_share_cleanup(p->share);
  p->share = NULL;
  adl__io_close(&p->io, on_io_closed);
}
