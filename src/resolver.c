/* c-ares on a borrowed libuv loop. The channel's socket-state callback maps
 * each DNS socket to a uvio watch; the uvio timer follows ares_timeout().
 * Layer: engine (L2); must not include curl. */
#include "resolver.h"

#include "asyncdl.h"
#include "uvio.h"

#include <ares.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#define ADDRS_MAX 1024

typedef struct cache_entry_s {
  adl__queue_t node; /* most recently used first */
  uint64_t expires_ns;
  uint64_t stale_until_ns;
  uint64_t gen;
  uint64_t no_refresh_before_ns; /* after a failed refresh */
  int refresh_status;
  char *host;
  char *addrs;
} cache_entry_t;

/* A failing DNS server is asked again at most this often for one name,
 * not once per request served from the stale answer. */
#define REFRESH_RETRY_NS 1000000000u

struct adl__dnsq_s {
  adl__queue_t node;    /* a lookup: r->pending; a waiter: its lookup's */
  adl__queue_t waiters; /* same-host requests riding on this lookup */
  adl__resolver_t *owner;
  adl__resolve_cb cb; /* NULL once cancelled */
  void *arg;
  uint64_t start_ns;
  int in_call;  /* inside ares_getaddrinfo: completion must not free */
  int finished; /* the c-ares callback has run */
  char host[];
};

struct adl__resolver_s {
  adl__io_t io; /* one watch per DNS socket, the c-ares timer */
  ares_channel channel;
  adl__queue_t cache;
  adl__queue_t pending; /* lookups in flight, for coalescing */
  unsigned cache_len;
  unsigned cache_max;
  uint64_t floor_ns, ceiling_ns, stale_ns;
  uint64_t gen;
  uint64_t queries;
  int closing;
  void (*close_cb)(void *arg);
  void *close_arg;
};

static void update_timer(adl__resolver_t *r);

static void on_io_closed(void *owner) {
  adl__resolver_t *r = owner;
  void (*cb)(void *) = r->close_cb;
  void *arg = r->close_arg;
  free(r);
  if (cb)
    cb(arg);
}

static void on_io(void *owner, adl__watch_t *w, int status, int events) {
  adl__resolver_t *r = owner;
  ares_socket_t rfd = ARES_SOCKET_BAD;
  ares_socket_t wfd = ARES_SOCKET_BAD;
  /* A poll error (libuv reports POLLERR as a negative status) is handed to
   * c-ares as both readable and writable so that it notices the failure. */
  if (status < 0 || (events & UV_READABLE))
    rfd = w->fd;
  if (status < 0 || (events & UV_WRITABLE))
    wfd = w->fd;
  ares_process_fd(r->channel, rfd, wfd);
  update_timer(r);
}

/* c-ares tells us which sockets it wants watched; (0, 0) comes right before
 * it closes the socket, so the watch must go now. A watch that cannot be
 * made leaves the query to time out: reported, never lost. */
static void on_sock_state(void *data, ares_socket_t fd, int readable,
                          int writable) {
  adl__resolver_t *r = data;
  adl__watch_t *w = adl__io_find(&r->io, fd);
  if (!readable && !writable) {
    if (w != NULL)
      adl__io_unwatch(w);
    return;
  }
  int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0);
  adl__io_watch(&r->io, w, fd, events);
}

static void on_io_timer(void *owner) {
  adl__resolver_t *r = owner;
  ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
  update_timer(r);
}

static void update_timer(adl__resolver_t *r) {
  if (r->closing)
    return;
  struct timeval tv;
  struct timeval *next = ares_timeout(r->channel, NULL, &tv);
  if (next == NULL) {
    adl__io_timer_stop(&r->io);
    return;
  }
  uint64_t ms = (uint64_t)next->tv_sec * 1000 + (uint64_t)next->tv_usec / 1000;
  /* Round up so the timer never fires just before c-ares' deadline. */
  if (next->tv_usec % 1000)
    ms++;
  adl__io_timer_start(&r->io, ms);
}

static int map_ares(int st) {
  switch (st) {
  case ARES_SUCCESS:
    return 0;
  case ARES_ENOTFOUND:
  case ARES_ENODATA:
  case ARES_ENONAME:
    return ADL_ENOTFOUND;
  case ARES_ETIMEOUT:
    return ADL_EDNSTIMEOUT;
  case ARES_ENOMEM:
    return ADL_ENOMEM;
  case ARES_ECANCELLED:
  case ARES_EDESTRUCTION:
    return ADL_ECANCELED;
  default:
    return ADL_EDNS;
  }
}

/* Formats every address as curl's CURLOPT_RESOLVE wants it, IPv6 in
 * brackets; returns the smallest TTL seen (seconds). */
static int format_addrs(const struct ares_addrinfo *ai, char *buf,
                        size_t cap) {
  size_t len = 0;
  int ttl = -1;
  buf[0] = '\0';
  for (const struct ares_addrinfo_node *n = ai->nodes; n; n = n->ai_next) {
    char ip[INET6_ADDRSTRLEN];
    const void *src;
    if (n->ai_family == AF_INET)
      src = &((const struct sockaddr_in *)(const void *)n->ai_addr)->sin_addr;
    else if (n->ai_family == AF_INET6)
      src = &((const struct sockaddr_in6 *)(const void *)n->ai_addr)->sin6_addr;
    else
      continue;
    if (inet_ntop(n->ai_family, src, ip, sizeof(ip)) == NULL)
      continue;
    int w = snprintf(buf + len, cap - len, n->ai_family == AF_INET6 ? "%s[%s]" : "%s%s",
                     len ? "," : "", ip);
    if (w < 0 || (size_t)w >= cap - len) {
      buf[len] = '\0'; /* keep the addresses that fit */
      break;
    }
    len += (size_t)w;
    if (ttl < 0 || n->ai_ttl < ttl)
      ttl = n->ai_ttl;
  }
  return ttl < 0 ? 0 : ttl;
}

static void entry_free(adl__resolver_t *r, cache_entry_t *e) {
  adl__queue_remove(&e->node);
  free(e->host);
  free(e->addrs);
  free(e);
  r->cache_len--;
}

static cache_entry_t *cache_find(adl__resolver_t *r, const char *host) {
  adl__queue_t *q;
  ADL_QUEUE_FOREACH(q, &r->cache) {
    cache_entry_t *e = ADL_QUEUE_DATA(q, cache_entry_t, node);
    if (strcmp(e->host, host) == 0)
      return e;
  }
  return NULL;
}

/* TTL 0 is common (/etc/hosts names, local servers): the floor keeps such
 * answers long enough not to put a lookup in front of every request. */
static void cache_store(adl__resolver_t *r, const char *host,
                        const char *addrs, int ttl) {
  if (r->cache_max == 0)
    return;
  uint64_t ttl_ns = (uint64_t)(ttl > 0 ? ttl : 0) * 1000000000u;
  if (ttl_ns < r->floor_ns)
    ttl_ns = r->floor_ns;
  if (ttl_ns > r->ceiling_ns)
    ttl_ns = r->ceiling_ns;
  cache_entry_t *e = cache_find(r, host);
  if (e != NULL && strcmp(e->addrs, addrs) != 0) {
    char *a = strdup(addrs);
    if (a == NULL)
      return;
    free(e->addrs);
    e->addrs = a;
    e->gen = ++r->gen;
  }
  if (e == NULL) {
    e = calloc(1, sizeof(*e));
    if (e == NULL)
      return;
    e->host = strdup(host);
    e->addrs = strdup(addrs);
    if (e->host == NULL || e->addrs == NULL) {
      free(e->host);
      free(e->addrs);
      free(e);
      return;
    }
    e->gen = ++r->gen;
    adl__queue_init(&e->node);
    r->cache_len++;
  }
  e->refresh_status = 0;
  e->expires_ns = uv_hrtime() + ttl_ns;
  e->stale_until_ns = e->expires_ns + r->stale_ns;
  /* Most recently stored first, so eviction takes the oldest. */
  adl__queue_remove(&e->node);
  adl__queue_insert_before(r->cache.next, &e->node);
  if (r->cache_len > r->cache_max)
    entry_free(r, ADL_QUEUE_DATA(r->cache.prev, cache_entry_t, node));
}

/* A failed refresh keeps the stale answer until its bounded end. */
static void cache_note_failure(adl__resolver_t *r, const char *host,
                               int status) {
  cache_entry_t *e = cache_find(r, host);
  if (e != NULL) {
    e->refresh_status = status;
    e->no_refresh_before_ns = uv_hrtime() + REFRESH_RETRY_NS;
  }
}

adl__dns_hit_t adl__resolver_peek(adl__resolver_t *r, const char *host,
                                  adl__dns_view_t *out) {
  cache_entry_t *e = cache_find(r, host);
  if (e == NULL)
    return ADL__DNS_MISS;
  uint64_t now = uv_hrtime();
  if (now >= e->stale_until_ns) {
    entry_free(r, e);
    return ADL__DNS_MISS;
  }
  out->addrs = e->addrs;
  out->gen = e->gen;
  out->refresh_status = e->refresh_status;
  return now < e->expires_ns ? ADL__DNS_FRESH : ADL__DNS_STALE;
}

uint64_t adl__resolver_queries(const adl__resolver_t *r) { return r->queries; }

static void on_addrinfo(void *arg, int status, int timeouts,
                        struct ares_addrinfo *ai) {
  (void)timeouts;
  adl__dnsq_t *q = arg;
  adl__resolver_t *r = q->owner;
  /* No longer joinable: a callback below may start a fresh lookup. */
  adl__queue_remove(&q->node);
  char addrs[ADDRS_MAX];
  uint64_t now = uv_hrtime();
  adl__dns_answer_t ans = {.status = map_ares(status),
                           .ares_status = status,
                           .addrs = NULL,
                           .dns_us = (now - q->start_ns) / 1000};
  if (status == ARES_SUCCESS && ai != NULL) {
    int ttl = format_addrs(ai, addrs, sizeof(addrs));
    if (addrs[0] == '\0') {
      ans.status = ADL_ENOTFOUND;
    } else {
      ans.addrs = addrs;
      if (!r->closing)
        cache_store(r, q->host, addrs, ttl);
    }
  }
  if (ans.status != 0 && !r->closing)
    cache_note_failure(r, q->host, ans.status);
  if (ai != NULL)
    ares_freeaddrinfo(ai);
  adl__queue_t waiters;
  adl__queue_init(&waiters);
  if (!adl__queue_empty(&q->waiters)) { /* take the whole list over */
    waiters.next = q->waiters.next;
    waiters.prev = q->waiters.prev;
    waiters.next->prev = &waiters;
    waiters.prev->next = &waiters;
    adl__queue_init(&q->waiters);
  }
  q->finished = 1;
  adl__resolve_cb cb = q->cb;
  void *cb_arg = q->arg;
  if (!q->in_call)
    free(q);
  if (cb != NULL)
    cb(cb_arg, &ans);
  /* Each waiter is detached before its callback, which may cancel or
   * free any other request. */
  while (!adl__queue_empty(&waiters)) {
    adl__dnsq_t *w = ADL_QUEUE_DATA(adl__queue_head(&waiters), adl__dnsq_t,
                                    node);
    adl__queue_remove(&w->node);
    adl__resolve_cb wcb = w->cb;
    void *warg = w->arg;
    ans.dns_us = (now - w->start_ns) / 1000;
    free(w);
    if (wcb != NULL)
      wcb(warg, &ans);
  }
}

int adl__resolve(adl__resolver_t *r, const char *host, adl__resolve_cb cb,
                 void *arg, adl__dnsq_t **out) {
  /* A lookup of the same name already in flight (parallel requests start
   * together) answers this request too: one query on the wire, not K. */
  adl__queue_t *it;
  ADL_QUEUE_FOREACH(it, &r->pending) {
    adl__dnsq_t *p = ADL_QUEUE_DATA(it, adl__dnsq_t, node);
    if (strcmp(p->host, host) != 0)
      continue;
    adl__dnsq_t *w = calloc(1, sizeof(*w) + 1);
    if (w == NULL)
      return ADL_ENOMEM;
    w->owner = r;
    w->cb = cb;
    w->arg = arg;
    w->start_ns = uv_hrtime();
    adl__queue_init(&w->waiters);
    adl__queue_insert_tail(&p->waiters, &w->node);
    *out = w;
    return 0;
  }
  size_t hlen = strlen(host) + 1;
  adl__dnsq_t *q = calloc(1, sizeof(*q) + hlen);
  if (q == NULL)
    return ADL_ENOMEM;
  memcpy(q->host, host, hlen);
  q->owner = r;
  q->cb = cb;
  q->arg = arg;
  q->start_ns = uv_hrtime();
  q->in_call = 1;
  adl__queue_init(&q->waiters);
  adl__queue_insert_tail(&r->pending, &q->node);
  r->queries++;
  struct ares_addrinfo_hints hints;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  ares_getaddrinfo(r->channel, host, NULL, &hints, on_addrinfo, q);
  q->in_call = 0;
  if (q->finished) {
    free(q);
    *out = NULL;
    return 0;
  }
  *out = q;
  update_timer(r);
  return 0;
}

int adl__resolver_refresh(adl__resolver_t *r, const char *host) {
  adl__queue_t *it;
  ADL_QUEUE_FOREACH(it, &r->pending) {
    if (strcmp(ADL_QUEUE_DATA(it, adl__dnsq_t, node)->host, host) == 0)
      return 0; /* its answer will refresh the cache */
  }
  cache_entry_t *e = cache_find(r, host);
  if (e != NULL && uv_hrtime() < e->no_refresh_before_ns)
    return 0;
  adl__dnsq_t *q = NULL;
  int rc = adl__resolve(r, host, NULL, NULL, &q);
  return rc;
}

void adl__resolve_cancel(adl__dnsq_t *q) {
  /* c-ares 1.18 cannot cancel a single query; the answer is dropped and the
   * query freed when it arrives (or when the channel is destroyed). */
  if (q != NULL)
    q->cb = NULL;
}

int adl__resolver_new(uv_loop_t *loop, const adl__resolver_opts_t *o,
                      adl__resolver_t **out) {
  adl__resolver_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return ADL_ENOMEM;
  r->cache_max = o->cache_max;
  r->floor_ns = o->ttl_floor_ms * 1000000u;
  r->ceiling_ns = o->ttl_ceiling_ms * 1000000u;
  if (r->ceiling_ns < r->floor_ns)
    r->ceiling_ns = r->floor_ns;
  r->stale_ns = o->max_stale_ms * 1000000u;
  adl__queue_init(&r->cache);
  adl__queue_init(&r->pending);

  struct ares_options ao;
  memset(&ao, 0, sizeof(ao));
  /* Never the 5 s x 4 defaults: a dead DNS server must fail fast. */
  ao.timeout = o->timeout_ms ? (int)o->timeout_ms : 1000;
  ao.tries = o->tries ? (int)o->tries : 2;
  ao.sock_state_cb = on_sock_state;
  ao.sock_state_cb_data = r;
  int mask = ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_STATE_CB;
  int st = ares_init_options(&r->channel, &ao, mask);
  if (st != ARES_SUCCESS) {
    free(r);
    return st == ARES_ENOMEM ? ADL_ENOMEM : ADL_EDNS;
  }
  if (o->servers != NULL && o->servers[0] != '\0') {
    st = ares_set_servers_ports_csv(r->channel, o->servers);
    if (st != ARES_SUCCESS) {
      ares_destroy(r->channel);
      free(r);
      return ADL_EINVAL;
    }
  }
  /* No socket exists before the first query, so the glue can come last. */
  int rc = adl__io_init(&r->io, loop, r, on_io, on_io_timer);
  if (rc != 0) {
    ares_destroy(r->channel);
    free(r);
    return rc;
  }
  *out = r;
  return 0;
}

void adl__resolver_close(adl__resolver_t *r, void (*cb)(void *arg),
                         void *arg) {
  r->closing = 1;
  r->close_cb = cb;
  r->close_arg = arg;
  /* Pending queries get ARES_EDESTRUCTION and free themselves; every socket
   * gets its (0, 0) state call, which unwatches it. */
  ares_destroy(r->channel);
  r->channel = NULL;
  while (!adl__queue_empty(&r->cache))
    entry_free(r, ADL_QUEUE_DATA(adl__queue_head(&r->cache), cache_entry_t,
                                 node));
  adl__io_close(&r->io, on_io_closed);
}
