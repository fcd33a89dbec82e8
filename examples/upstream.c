/* Upstream fetches through asyncdl, one per name at a time.
 *
 * Coalescing: the first request for a name creates its entry and starts a
 * fetch; every request that arrives while the fetch runs reads the same
 * entry, from its first byte, at its own pace. The response head goes to
 * the clients from on_headers, before the body, and each body chunk is
 * appended to the entry and pushed to every reader (server.c).
 *
 * Backpressure: a body up to max_object is kept whole (it is cached
 * anyway), so a slow reader never holds back the fetch; it reads from
 * memory that is bounded by the cache. A larger body streams through a
 * window: blocks every reader has written are freed, and while one reader
 * is over its write bound on_data answers ADL_DATA_PAUSE (nothing more is
 * read from upstream); the first write to bring it back under the bound
 * resumes the fetch. A reader that stays over the bound for stall_ms is
 * dropped (server.c's sweep), so it cannot hold the others for longer.
 *
 * Freshness: an entry is fresh for max_age_ms. A request for a stale
 * entry waits for a conditional fetch (If-None-Match: its ETag): a 304
 * refreshes the entry and the waiters get it; a 200 is a new entry that
 * the waiters read like a miss. */
#include "pokeproxy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct px_fetch_s {
  px_proxy_t *px;
  px_entry_t *e;        /* the entry filled or revalidated (a reference) */
  adl_request_id_t id;
  int conditional;      /* If-None-Match was sent */
};

/* ---- readers ----------------------------------------------------------- */

static void list_add(px_conn_t **head, px_conn_t *c) {
  c->rprev = NULL;
  c->rnext = *head;
  if (*head != NULL)
    (*head)->rprev = c;
  *head = c;
}

static void list_del(px_conn_t **head, px_conn_t *c) {
  if (c->rprev != NULL)
    c->rprev->rnext = c->rnext;
  else
    *head = c->rnext;
  if (c->rnext != NULL)
    c->rnext->rprev = c->rprev;
  c->rprev = c->rnext = NULL;
}

void px_entry_attach(px_entry_t *e, px_conn_t *c, int waiter) {
  px_entry_ref(e);
  c->entry = e;
  c->waiting = waiter;
  c->sent = c->acked = 0;
  list_add(waiter ? &e->waiters : &e->readers, c);
}

void px_entry_detach(px_conn_t *c) {
  px_entry_t *e = c->entry;
  if (e == NULL)
    return;
  list_del(c->waiting ? &e->waiters : &e->readers, c);
  c->entry = NULL;
  c->waiting = 0;
  px_entry_readers_changed(e);
  px_entry_unref(e);
}

/* One pacing reader over its write bound holds a streaming body. */
static int any_over(const px_entry_t *e) {
  for (const px_conn_t *c = e->readers; c != NULL; c = c->rnext)
    if (!c->closing && px_conn_over(c))
      return 1;
  return 0;
}

/* Frees what every reader has written, and leaves the map once the start
 * of the body is gone (no new reader could be served from it). */
static void trim(px_entry_t *e) {
  uint64_t upto = e->received;
  for (const px_conn_t *c = e->readers; c != NULL; c = c->rnext)
    if (c->acked < upto)
      upto = c->acked;
  uint64_t freed = px_entry_trim(e, upto);
  if (freed > 0 && e->in_map) {
    px_cache_account(e->cache, e, -(int64_t)freed);
    px_cache_remove(e->cache, e);
  }
}

void px_entry_readers_changed(px_entry_t *e) {
  if (e->keep)
    return;
  trim(e);
  px_fetch_t *f = e->fetch;
  if (f == NULL || e->state != PX_FILLING)
    return;
  if (e->readers == NULL) { /* nobody left to stream to, nothing to cache */
    adl_request_cancel(f->px->client, f->id);
  } else if (e->paused && !any_over(e)) {
    e->paused = 0;
    adl_request_resume(f->px->client, f->id);
  }
}

/* ---- fetch callbacks --------------------------------------------------- */

/* An upstream failure as the client's status and reason. */
static int map_error(const px_fetch_t *f, const adl_result_t *res,
                     char *reason, size_t n) {
  if (res->status == ADL_EHTTP && res->http_status == 404) {
    snprintf(reason, n, "upstream has no such document (HTTP 404)");
    return 404;
  }
  if (res->status == ADL_EHTTP) {
    snprintf(reason, n, "upstream answered HTTP %ld", res->http_status);
    return 502;
  }
  if (res->status == ADL_ETIMEDOUT || res->status == ADL_EDNSTIMEOUT) {
    snprintf(reason, n, "upstream timed out after %" PRIu64 " ms (%s: %s)",
             f->px->cfg.upstream_timeout_ms, adl_err_name(res->status),
             res->message);
    return 504;
  }
  if (res->status == 0) {
    snprintf(reason, n, "upstream answered HTTP %ld without a body",
             res->http_status);
    return 502;
  }
  snprintf(reason, n, "upstream failed: %s (%s: %s)",
           adl_strerror(res->status), adl_err_name(res->status),
           res->message);
  return 502;
}

/* A conditional fetch got a 200: the document changed. A new entry takes
 * over the fetch and the waiters; readers of the old one finish it. */
static px_entry_t *replace_entry(px_fetch_t *f) {
  px_entry_t *old = f->e;
  px_entry_t *e = px_entry_new(old->name, strlen(old->name));
  if (e == NULL)
    return NULL;
  e->fetch = f; /* the fetch's reference is the one px_entry_new made */
  old->fetch = NULL;
  f->e = e;
  f->conditional = 0;
  px_conn_t *c;
  while ((c = old->waiters) != NULL) {
    px_entry_detach(c);
    px_entry_attach(e, c, 0);
    c->tag = PX_TAG_MISS;
  }
  px_cache_put(&f->px->cache, e);
  px_entry_unref(old);
  return e;
}

static int on_headers(adl_request_t *r, long status) {
  px_fetch_t *f = adl_request_get_data(r);
  if (status < 200 || status > 299)
    return 0; /* a 304 or an error: on_done says which */
  px_entry_t *e = f->conditional ? replace_entry(f) : f->e;
  if (e == NULL)
    return 1;
  if (e->has_head)
    return 1; /* a retried attempt would restart a body already sent */
  const char *v;
  if (px_entry_set_str(&e->etag, adl_request_header(r, "etag")) != 0 ||
      px_entry_set_str(&e->ctype,
                       (v = adl_request_header(r, "content-type")) != NULL
                           ? v
                           : "application/json") != 0)
    return 1;
  v = adl_request_header(r, "content-length");
  uint64_t len;
  if (v != NULL && adl_h1_parse_u64(v, strlen(v), INT64_MAX, &len) == 0)
    e->length = (int64_t)len;
  if (e->length > (int64_t)f->px->cfg.max_object)
    e->keep = 0;
  e->has_head = 1;
  px_conn_t *next;
  for (px_conn_t *c = e->readers; c != NULL; c = next) {
    next = c->rnext;
    px_conn_start_body(c);
  }
  return 0;
}

static int on_data(adl_request_t *r, const char *buf, size_t len) {
  px_fetch_t *f = adl_request_get_data(r);
  px_entry_t *e = f->e;
  if (e->keep && e->received + len > f->px->cfg.max_object)
    e->keep = 0; /* no Content-Length, and too large to cache */
  if (!e->keep) {
    if (e->readers == NULL)
      return 1; /* nobody reads it and it will not be cached */
    if (any_over(e)) {
      if (!e->paused)
        f->px->stats.upstream_pauses++;
      e->paused = 1;
      return ADL_DATA_PAUSE;
    }
  }
  e->paused = 0;
  int64_t added = px_entry_append(e, buf, len);
  if (added < 0)
    return 1;
  px_cache_account(&f->px->cache, e, added);
  px_conn_t *next;
  for (px_conn_t *c = e->readers; c != NULL; c = next) {
    next = c->rnext;
    px_conn_pump(c);
  }
  if (!e->keep)
    trim(e);
  return 0;
}

/* A client that got the head already can only learn of the failure by
 * the connection closing short of the body. */
static void fail_all(px_conn_t **list, int status, const char *reason) {
  px_conn_t *c;
  while ((c = *list) != NULL) {
    if (c->head_sent)
      px_conn_abort(c);
    else
      px_conn_error(c, status, reason);
    if (*list == c) /* still attached: px_conn_abort detaches later */
      px_entry_detach(c);
  }
}

static void on_done(adl_request_t *r, const adl_result_t *res) {
  px_fetch_t *f = adl_request_get_data(r);
  px_proxy_t *px = f->px;
  px_entry_t *e = f->e;
  e->fetch = NULL;
  e->paused = 0;
  px_conn_t *c, *next;
  if (res->not_modified && f->conditional) {
    px->stats.upstream_304++;
    e->fresh_until = uv_now(px->loop) + px->cfg.max_age_ms;
    while ((c = e->waiters) != NULL) {
      list_del(&e->waiters, c);
      c->waiting = 0;
      list_add(&e->readers, c);
      px_conn_start_body(c);
    }
  } else if (res->status == 0 && e->has_head && !f->conditional) {
    e->state = PX_COMPLETE;
    e->fresh_until = uv_now(px->loop) + px->cfg.max_age_ms;
    if (!e->keep)
      px_cache_remove(&px->cache, e);
    for (c = e->readers; c != NULL; c = next) {
      next = c->rnext;
      px_conn_pump(c);
    }
  } else {
    char reason[512];
    int status = map_error(f, res, reason, sizeof reason);
    if (!f->conditional) {
      e->state = PX_FAILED;
      px_cache_remove(&px->cache, e);
      fail_all(&e->readers, status, reason);
    }
    fail_all(&e->waiters, status, reason);
  }
  px_entry_unref(e);
  free(f);
}

static int start_fetch(px_proxy_t *px, px_entry_t *e, int conditional) {
  char url[1024], inm[512];
  const char *headers[2] = {NULL, NULL};
  int n = snprintf(url, sizeof url, "%s%s%s", px->cfg.upstream,
                   px->cfg.path_prefix, e->name);
  if (n < 0 || (size_t)n >= sizeof url)
    return ADL_EURL;
  if (conditional && e->etag != NULL) {
    n = snprintf(inm, sizeof inm, "If-None-Match: %s", e->etag);
    if (n < 0 || (size_t)n >= sizeof inm)
      return ADL_EINVAL;
    headers[0] = inm;
  }
  px_fetch_t *f = calloc(1, sizeof(*f));
  if (f == NULL)
    return ADL_ENOMEM;
  f->px = px;
  f->e = e;
  f->conditional = headers[0] != NULL;
  adl_request_opts_t o;
  adl_request_opts_init(&o);
  o.sink = ADL_SINK_CALLBACK;
  o.on_headers = on_headers;
  o.on_data = on_data;
  o.on_done = on_done;
  o.data = f;
  o.headers = headers;
  /* No retries: a retried attempt starts its body over, and part of it
   * may already be on its way to the clients. */
  o.override_mask = ADL_OVERRIDE_TIMEOUT | ADL_OVERRIDE_RETRIES;
  o.timeout_ms = px->cfg.upstream_timeout_ms;
  o.retries = 0;
  int rc = adl_request_start(px->client, url, &o, &f->id);
  if (rc != 0) {
    free(f);
    return rc;
  }
  px_entry_ref(e);
  e->fetch = f;
  px->stats.upstream_fetches++;
  if (f->conditional)
    px->stats.revalidations++;
  return 0;
}

/* ---- requests ---------------------------------------------------------- */

static void refuse(px_conn_t *c, int rc) {
  char reason[160];
  snprintf(reason, sizeof reason, "cannot start the upstream request: %s",
           adl_strerror(rc));
  px_conn_error(c, rc == ADL_ENOMEM ? 503 : 502, reason);
}

static void miss(px_proxy_t *px, px_conn_t *c, const char *name,
                 size_t len) {
  px_entry_t *e = px_entry_new(name, len);
  int rc;
  if (e == NULL) {
    refuse(c, ADL_ENOMEM);
    return;
  }
  if ((rc = start_fetch(px, e, 0)) != 0) {
    px_entry_unref(e);
    refuse(c, rc);
    return;
  }
  px_cache_put(&px->cache, e);
  px->stats.misses++;
  c->tag = PX_TAG_MISS;
  px_entry_attach(e, c, 0);
  px_entry_unref(e);
}

void px_proxy_get(px_proxy_t *px, px_conn_t *c, const char *name, size_t len,
                  const char *inm, size_t inm_len) {
  px_entry_t *e = px_cache_get(&px->cache, name, len);
  if (e == NULL) {
    miss(px, c, name, len);
    return;
  }
  if (e->state == PX_FILLING) { /* joins the fetch in flight */
    px->stats.coalesced++;
    c->tag = PX_TAG_COALESCED;
    px_entry_attach(e, c, 0);
    if (e->has_head)
      px_conn_start_body(c);
    return;
  }
  if (uv_now(px->loop) < e->fresh_until) {
    px->stats.cache_hits++;
    c->tag = PX_TAG_HIT;
    if (inm != NULL && e->etag != NULL && strlen(e->etag) == inm_len &&
        memcmp(inm, e->etag, inm_len) == 0)
      c->tag = PX_TAG_NOT_MODIFIED;
    px_entry_attach(e, c, 0);
    px_conn_start_body(c);
    return;
  }
  if (e->etag == NULL) { /* stale and nothing to revalidate with */
    px_cache_remove(&px->cache, e);
    miss(px, c, name, len);
    return;
  }
  /* stale: wait for a revalidation, or join the one in flight */
  int rc;
  if (e->fetch != NULL)
    px->stats.coalesced++;
  else if ((rc = start_fetch(px, e, 1)) != 0) {
    refuse(c, rc);
    return;
  }
  c->tag = PX_TAG_REVALIDATED;
  px_entry_attach(e, c, 1);
}
