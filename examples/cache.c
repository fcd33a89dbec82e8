/* The answers in memory: an entry holds one upstream body in a chain of
 * blocks, and the cache maps names to entries with an LRU bounded both in
 * entries and in bytes. An entry lives as long as anyone references it
 * (the map, each client reading it, the fetch filling it), so evicting an
 * entry never pulls a body from under a client that is still sending it;
 * the bounds cover what the cache holds, and each client's share beyond
 * that is bounded by its write bound and stall timeout (server.c). */
#include "pokeproxy.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_MIN (16 * 1024)
#define BLOCK_MAX (256 * 1024)

static uint64_t hash(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

int px_cache_init(px_cache_t *c, size_t max_entries, uint64_t max_bytes,
                  px_stats_t *stats) {
  memset(c, 0, sizeof(*c));
  c->nbuckets = 64;
  while (c->nbuckets < max_entries * 2 && c->nbuckets < (1u << 20))
    c->nbuckets *= 2;
  c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
  if (c->buckets == NULL)
    return UV_ENOMEM;
  c->max_entries = max_entries;
  c->max_bytes = max_bytes;
  c->stats = stats;
  return 0;
}

void px_cache_clear(px_cache_t *c) {
  while (c->lru_tail != NULL)
    px_cache_remove(c, c->lru_tail);
}

void px_cache_free(px_cache_t *c) {
  px_cache_clear(c);
  free(c->buckets);
  c->buckets = NULL;
}

static px_entry_t **slot(px_cache_t *c, const char *name, size_t len) {
  return &c->buckets[hash(name, len) & (c->nbuckets - 1)];
}

static void lru_unlink(px_cache_t *c, px_entry_t *e) {
  if (e->lru_prev != NULL)
    e->lru_prev->lru_next = e->lru_next;
  else
    c->lru_head = e->lru_next;
  if (e->lru_next != NULL)
    e->lru_next->lru_prev = e->lru_prev;
  else
    c->lru_tail = e->lru_prev;
  e->lru_prev = e->lru_next = NULL;
}

static void lru_push(px_cache_t *c, px_entry_t *e) {
  e->lru_prev = NULL;
  e->lru_next = c->lru_head;
  if (c->lru_head != NULL)
    c->lru_head->lru_prev = e;
  c->lru_head = e;
  if (c->lru_tail == NULL)
    c->lru_tail = e;
}

px_entry_t *px_cache_get(px_cache_t *c, const char *name, size_t len) {
  for (px_entry_t *e = *slot(c, name, len); e != NULL; e = e->hnext) {
    if (strlen(e->name) == len && memcmp(e->name, name, len) == 0) {
      lru_unlink(c, e);
      lru_push(c, e);
      return e;
    }
  }
  return NULL;
}

/* Evicts from the LRU end until both bounds hold. */
static void enforce(px_cache_t *c) {
  while (c->lru_tail != NULL &&
         (c->count > c->max_entries || c->bytes > c->max_bytes)) {
    c->stats->evictions++;
    px_cache_remove(c, c->lru_tail);
  }
}

void px_cache_put(px_cache_t *c, px_entry_t *e) {
  size_t len = strlen(e->name);
  px_entry_t *old = px_cache_get(c, e->name, len);
  if (old != NULL)
    px_cache_remove(c, old);
  px_entry_t **s = slot(c, e->name, len);
  e->hnext = *s;
  *s = e;
  e->in_map = 1;
  e->cache = c;
  px_entry_ref(e);
  lru_push(c, e);
  c->count++;
  c->bytes += e->mem;
  enforce(c);
}

void px_cache_remove(px_cache_t *c, px_entry_t *e) {
  if (!e->in_map)
    return;
  px_entry_t **s = slot(c, e->name, strlen(e->name));
  while (*s != e)
    s = &(*s)->hnext;
  *s = e->hnext;
  e->hnext = NULL;
  lru_unlink(c, e);
  e->in_map = 0;
  c->count--;
  c->bytes -= e->mem;
  px_entry_unref(e);
}

void px_cache_account(px_cache_t *c, px_entry_t *e, int64_t delta) {
  if (!e->in_map)
    return;
  c->bytes = (uint64_t)((int64_t)c->bytes + delta);
  enforce(c);
}

/* ---- entries ----------------------------------------------------------- */

px_entry_t *px_entry_new(const char *name, size_t len) {
  px_entry_t *e = calloc(1, sizeof(*e));
  char *n = malloc(len + 1);
  if (e == NULL || n == NULL) {
    free(e);
    free(n);
    return NULL;
  }
  memcpy(n, name, len);
  n[len] = '\0';
  e->name = n;
  e->refs = 1;
  e->length = -1;
  e->keep = 1;
  return e;
}

void px_entry_ref(px_entry_t *e) { e->refs++; }

void px_entry_unref(px_entry_t *e) {
  if (--e->refs > 0)
    return;
  px_block_t *b = e->head;
  while (b != NULL) {
    px_block_t *next = b->next;
    free(b);
    b = next;
  }
  free(e->etag);
  free(e->ctype);
  free(e->name);
  free(e);
}

int px_entry_set_str(char **dst, const char *s) {
  char *copy = NULL;
  if (s != NULL && (copy = strdup(s)) == NULL)
    return UV_ENOMEM;
  free(*dst);
  *dst = copy;
  return 0;
}

/* A known length gets one block of exactly its size (most documents are
 * 2-20 KB); otherwise blocks grow from 16 KiB. */
static size_t block_cap(const px_entry_t *e) {
  uint64_t want = BLOCK_MIN;
  if (e->length > 0 && (uint64_t)e->length > e->received)
    want = (uint64_t)e->length - e->received;
  else if (e->tail != NULL)
    want = e->tail->cap * 2;
  if (want > BLOCK_MAX)
    want = BLOCK_MAX;
  return (size_t)want;
}

int64_t px_entry_append(px_entry_t *e, const char *buf, size_t len) {
  int64_t added = 0;
  while (len > 0) {
    px_block_t *b = e->tail;
    if (b == NULL || b->len == b->cap) {
      size_t cap = block_cap(e);
      b = malloc(sizeof(*b) + cap);
      if (b == NULL)
        return -1;
      b->next = NULL;
      b->len = 0;
      b->cap = cap;
      if (e->tail != NULL)
        e->tail->next = b;
      else
        e->head = b;
      e->tail = b;
      e->mem += cap;
      added += (int64_t)cap;
    }
    size_t n = b->cap - b->len < len ? b->cap - b->len : len;
    memcpy(b->data + b->len, buf, n);
    b->len += n;
    buf += n;
    len -= n;
    e->received += n;
  }
  return added;
}

uint64_t px_entry_trim(px_entry_t *e, uint64_t upto) {
  uint64_t freed = 0;
  /* The tail block stays: appends continue into it. */
  while (e->head != NULL && e->head != e->tail &&
         e->base + e->head->len <= upto) {
    px_block_t *b = e->head;
    e->head = b->next;
    e->base += b->len;
    e->mem -= b->cap;
    freed += b->cap;
    free(b);
  }
  return freed;
}

size_t px_entry_slice(const px_entry_t *e, uint64_t off, const char **p) {
  uint64_t at = e->base;
  for (const px_block_t *b = e->head; b != NULL; b = b->next) {
    if (off < at + b->len) {
      *p = b->data + (off - at);
      return (size_t)(at + b->len - off);
    }
    at += b->len;
  }
  *p = NULL;
  return 0;
}
