/* libcurl multi-socket glue on libuv. curl announces sockets through
 * CURLMOPT_SOCKETFUNCTION (each gets a heap uv_poll_t that never moves) and
 * its next deadline through CURLMOPT_TIMERFUNCTION (one uv timer). Every
 * curl_multi_socket_action is followed by draining curl_multi_info_read.
 * Handles are unreferenced; the client keeps the loop alive while it has
 * work. Layer: engine (L2); must not include c-ares. */
#include "pool.h"

#include "asyncdl.h"
#include "queue.h"

#include <stdlib.h>

typedef struct sock_s {
  uv_poll_t poll;
  curl_socket_t fd;
  int events; /* what curl asked us to watch */
  adl__pool_t *owner;
  adl__queue_t node;
} sock_t;

struct adl__pool_s {
  uv_loop_t *loop;
  CURLM *multi;
  CURLSH *share;
  uv_timer_t timer;
  adl__queue_t socks;
  adl__pool_done_cb done;
  void *done_arg;
  unsigned running;      /* easy handles added */
  unsigned open_handles; /* timer + polls not yet through close_cb */
  int closing;
  void (*close_cb)(void *arg);
  void *close_arg;
};

static void maybe_finish_close(adl__pool_t *p) {
  if (!p->closing || p->open_handles > 0)
    return;
  void (*cb)(void *) = p->close_cb;
  void *arg = p->close_arg;
  free(p);
  if (cb)
    cb(arg);
}

static void on_sock_closed(uv_handle_t *h) {
  sock_t *s = h->data;
  adl__pool_t *p = s->owner;
  free(s);
  p->open_handles--;
  maybe_finish_close(p);
}

static void on_timer_closed(uv_handle_t *h) {
  adl__pool_t *p = h->data;
  p->open_handles--;
  maybe_finish_close(p);
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
    p->running--;
    p->done(p->done_arg, easy, result);
  }
}

static void act(adl__pool_t *p, curl_socket_t fd, int flags) {
  int running = 0;
  curl_multi_socket_action(p->multi, fd, flags, &running);
  drain(p);
}

static void on_poll(uv_poll_t *h, int status, int events) {
  sock_t *s = h->data;
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
  act(s->owner, s->fd, flags);
  /* libuv stopped the watcher on error; curl, which did not ask for that,
   * still expects it, unless it let go of the socket meanwhile. */
  if (status < 0 && !uv_is_closing((uv_handle_t *)&s->poll))
    uv_poll_start(&s->poll, s->events, on_poll);
}

static void on_timer(uv_timer_t *t) {
  act(t->data, CURL_SOCKET_TIMEOUT, 0);
}

static void forget_sock(adl__pool_t *p, sock_t *s) {
  adl__queue_remove(&s->node);
  uv_poll_stop(&s->poll);
  /* The memory goes in the close callback; curl may reuse the fd number
   * before then, which gets a fresh sock_t. */
  uv_close((uv_handle_t *)&s->poll, on_sock_closed);
  if (p->multi != NULL)
    curl_multi_assign(p->multi, s->fd, NULL);
}

static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp,
                     void *socketp) {
  (void)easy;
  adl__pool_t *p = userp;
  sock_t *s = socketp;
  if (what == CURL_POLL_REMOVE) {
    if (s != NULL)
      forget_sock(p, s);
    return 0;
  }
  if (s == NULL) {
    s = calloc(1, sizeof(*s));
    if (s == NULL)
      return -1;
    int rc = uv_poll_init_socket(p->loop, &s->poll, fd);
    if (rc != 0) {
      free(s);
      return -1;
    }
    s->fd = fd;
    s->owner = p;
    s->poll.data = s;
    uv_unref((uv_handle_t *)&s->poll);
    adl__queue_insert_tail(&p->socks, &s->node);
    p->open_handles++;
    curl_multi_assign(p->multi, fd, s);
  }
  int events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
    events |= UV_READABLE;
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
    events |= UV_WRITABLE;
  s->events = events;
  uv_poll_start(&s->poll, events, on_poll);
  return 0;
}

/* curl's deadline: -1 stops the timer, anything else (0 included) re-arms
 * it. libcurl is never called from here (recursive calls are refused). */
static int on_timeout(CURLM *multi, long timeout_ms, void *userp) {
  (void)multi;
  adl__pool_t *p = userp;
  if (p->closing)
    return 0;
  if (timeout_ms < 0)
    uv_timer_stop(&p->timer);
  else
    uv_timer_start(&p->timer, on_timer, (uint64_t)timeout_ms, 0);
  return 0;
}

int adl__pool_new(uv_loop_t *loop, const adl__policy_t *pol,
                  adl__pool_done_cb done, void *arg, adl__pool_t **out) {
  adl__pool_t *p = calloc(1, sizeof(*p));
  if (p == NULL)
    return ADL_ENOMEM;
  p->loop = loop;
  p->done = done;
  p->done_arg = arg;
  adl__queue_init(&p->socks);
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
  curl_multi_setopt(p->multi, CURLMOPT_MAX_HOST_CONNECTIONS,
                    (long)pol->max_host_conns);
  curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)pol->max_conns);
  /* One transfer per connection, HTTP/2 included: "parallel" must mean K
   * TCP connections, not K streams multiplexed over one. */
  curl_multi_setopt(p->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
  int rc = uv_timer_init(loop, &p->timer);
  if (rc != 0) {
    curl_share_cleanup(p->share);
    curl_multi_cleanup(p->multi);
    free(p);
    return rc;
  }
  p->timer.data = p;
  uv_unref((uv_handle_t *)&p->timer);
  p->open_handles = 1;
  *out = p;
  return 0;
}

CURLSH *adl__pool_share(adl__pool_t *pool) { return pool->share; }

int adl__pool_add(adl__pool_t *pool, CURL *easy) {
  CURLMcode mc = curl_multi_add_handle(pool->multi, easy);
  if (mc != CURLM_OK)
    return mc == CURLM_OUT_OF_MEMORY ? ADL_ENOMEM : ADL_ECURL;
  pool->running++;
  /* Let curl start the transfer now (on a kept-alive connection: send the
   * request) rather than on the 0 ms timer one loop iteration later. */
  act(pool, CURL_SOCKET_TIMEOUT, 0);
  return 0;
}

void adl__pool_remove(adl__pool_t *pool, CURL *easy) {
  if (curl_multi_remove_handle(pool->multi, easy) == CURLM_OK)
    pool->running--;
}

unsigned adl__pool_running(const adl__pool_t *pool) { return pool->running; }

void adl__pool_close(adl__pool_t *p, void (*cb)(void *arg), void *arg) {
  p->closing = 1;
  p->close_cb = cb;
  p->close_arg = arg;
  /* Cleanup may still announce sockets (POLL_IN, then REMOVE) while it shuts
   * cached connections: the glue stays valid until it returns. */
  curl_multi_cleanup(p->multi);
  p->multi = NULL;
  curl_share_cleanup(p->share);
  p->share = NULL;
  while (!adl__queue_empty(&p->socks))
    forget_sock(p, ADL_QUEUE_DATA(adl__queue_head(&p->socks), sock_t, node));
  uv_timer_stop(&p->timer);
  uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}
