/* pokeproxy: an example service embedding asyncdl. A small HTTP/1.1 server
 * and an asyncdl client share one libuv loop; GET /pokemon/<name> is
 * answered from an in-memory cache filled through asyncdl.
 *
 * Modules (one job each):
 *   cache.c     entries (body blocks, refcounts), the name map, LRU and
 *               its bounds; no I/O
 *   upstream.c  fetches through asyncdl: coalescing, ETag revalidation,
 *               pausing and resuming a body for its slowest reader, the
 *               502/504 mapping
 *   server.c    the HTTP/1.1 side: accept, parse (src/http1), route,
 *               write heads and bodies under a per-client write bound,
 *               drop stalled clients
 *   pokeproxy.c options, the loop-lateness probe, /stats, signals,
 *               shutdown */
#ifndef PX_POKEPROXY_H
#define PX_POKEPROXY_H

#include <asyncdl.h>

#include "http1.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct px_entry_s px_entry_t;
typedef struct px_conn_s px_conn_t;
typedef struct px_fetch_s px_fetch_t;
typedef struct px_cache_s px_cache_t;
typedef struct px_proxy_s px_proxy_t;

typedef struct px_config_s {
  const char *upstream;        /* scheme://host:port, no trailing slash */
  const char *path_prefix;     /* "/api/v2/pokemon/" */
  const char *cacert;          /* for an https upstream, NULL = system */
  const char *listen_ip;
  int listen_port;             /* 0 = any free port (printed) */
  uint64_t max_age_ms;         /* freshness of a cached answer */
  size_t cache_entries;        /* bound on cached answers ... */
  uint64_t cache_bytes;        /* ... and on their memory */
  uint64_t max_object;         /* larger bodies stream through, uncached */
  size_t write_bound;          /* per-client uv write queue bound */
  uint64_t stall_ms;           /* over the bound this long: detached */
  uint64_t idle_ms;            /* no progress this long: closed */
  uint64_t upstream_timeout_ms;
  unsigned upstream_connections;
  unsigned max_clients;
} px_config_t;

typedef struct px_stats_s {
  uint64_t requests;         /* requests parsed */
  uint64_t upstream_fetches; /* requests started upstream */
  uint64_t upstream_304;     /* revalidations answered 304 */
  uint64_t revalidations;    /* conditional fetches started */
  uint64_t cache_hits;       /* answered from a fresh entry */
  uint64_t coalesced;        /* joined a fetch already in flight */
  uint64_t misses;           /* started a fetch */
  uint64_t not_modified;     /* 304 to a client's If-None-Match */
  uint64_t responses_502, responses_504, responses_4xx;
  uint64_t upstream_pauses;  /* bodies paused for a slow reader */
  uint64_t clients_dropped;  /* closed for stalling */
  uint64_t evictions;
  uint64_t clients;          /* open client connections */
} px_stats_t;

/* ---- cache.c -------------------------------------------------------- */

typedef struct px_block_s {
  struct px_block_s *next;
  size_t len, cap;
  char data[]; /* cap bytes */
} px_block_t;

enum { PX_FILLING = 0, PX_COMPLETE, PX_FAILED };

struct px_entry_s {
  char *name;
  int state;             /* PX_FILLING, PX_COMPLETE, PX_FAILED */
  unsigned refs;         /* map + each reader/waiter + the fetch */
  /* body: blocks from offset base; earlier ones were trimmed (only when
   * keep is 0: a body streaming through, never cached) */
  px_block_t *head, *tail;
  uint64_t base, received;
  uint64_t mem;          /* block bytes held */
  int64_t length;        /* Content-Length, -1 when unknown */
  int keep;              /* the whole body is kept (cacheable) */
  int has_head;          /* a 200 head arrived: etag, ctype, length set */
  char *etag, *ctype;
  uint64_t fresh_until;  /* uv_now() ms */
  /* the name map and LRU (in_map only) */
  px_cache_t *cache;
  int in_map;
  px_entry_t *hnext, *lru_prev, *lru_next;
  /* upstream */
  px_fetch_t *fetch;     /* filling or revalidating this entry */
  int paused;            /* its fetch returned ADL_DATA_PAUSE */
  /* clients */
  px_conn_t *readers;    /* streaming this body (conn->rnext list) */
  px_conn_t *waiters;    /* waiting for a revalidation's answer */
};

struct px_cache_s {
  px_entry_t **buckets;
  size_t nbuckets;
  size_t count, max_entries;
  uint64_t bytes, max_bytes;
  px_entry_t *lru_head, *lru_tail; /* head = most recently used */
  px_stats_t *stats;
};

int px_cache_init(px_cache_t *c, size_t max_entries, uint64_t max_bytes,
                  px_stats_t *stats);
/** Drops every entry from the map (entries still referenced live on). */
void px_cache_clear(px_cache_t *c);
void px_cache_free(px_cache_t *c);
/** The entry called name, made most recently used; NULL when absent. */
px_entry_t *px_cache_get(px_cache_t *c, const char *name, size_t len);
/** Puts e in the map (it takes a reference), replacing an entry of the
 * same name, and evicts least recently used ones past the bounds. */
void px_cache_put(px_cache_t *c, px_entry_t *e);
/** Takes e out of the map (dropping the map's reference). */
void px_cache_remove(px_cache_t *c, px_entry_t *e);
/** Re-checks the bounds after e's memory changed; may evict e itself. */
void px_cache_account(px_cache_t *c, px_entry_t *e, int64_t delta);

/** A new FILLING entry with one reference (the caller's); NULL on ENOMEM. */
px_entry_t *px_entry_new(const char *name, size_t len);
void px_entry_ref(px_entry_t *e);
void px_entry_unref(px_entry_t *e);
/** Appends body bytes (copied). Returns the bytes of memory added, or -1
 * on ENOMEM. */
int64_t px_entry_append(px_entry_t *e, const char *buf, size_t len);
/** Frees the blocks wholly before body offset upto; returns the bytes
 * freed. Only for an entry that does not keep its body. */
uint64_t px_entry_trim(px_entry_t *e, uint64_t upto);
/** Contiguous body bytes at offset off (base <= off <= received):
 * returns their length (0 when none yet) and sets *p. */
size_t px_entry_slice(const px_entry_t *e, uint64_t off, const char **p);
int px_entry_set_str(char **dst, const char *s);

/* ---- server.c ------------------------------------------------------- */

/* How a response was served, for its X-Cache header. */
enum {
  PX_TAG_MISS = 0,
  PX_TAG_HIT,
  PX_TAG_COALESCED,
  PX_TAG_REVALIDATED,
  PX_TAG_NOT_MODIFIED, /* the client's If-None-Match matched: 304 */
};

struct px_conn_s {
  uv_tcp_t tcp;
  px_proxy_t *px;
  px_conn_t *prev, *next;   /* the proxy's connections */
  px_conn_t *rprev, *rnext; /* the entry's readers or waiters */
  int state;                /* server.c's PX_C_* */
  int keep_alive, http10, chunked, closing;
  int waiting;              /* on the entry's waiters, not its readers */
  int head_sent;            /* the 200 head is queued */
  int tag;                  /* PX_TAG_* */
  px_entry_t *entry;        /* the body being sent (a reference) */
  uint64_t sent, acked;     /* body bytes queued / written */
  unsigned writes;          /* uv_write requests in flight */
  uint64_t over_since;      /* write queue over the bound since (ms) */
  uint64_t last_progress;   /* last read or completed write (ms) */
  uint64_t head_since;      /* first byte of the pending head (ms) */
  size_t rlen, head_len;
  adl_h1_scan_t scan;
  char rbuf[8192];          /* request head (and pipelined bytes) */
};

/** Starts listening (cfg->listen_ip, listen_port); *port gets the port. */
int px_server_start(px_proxy_t *px, int *port);
/** Closes the listener and every connection. */
void px_server_stop(px_proxy_t *px);
/** Sends the response head for c's entry (200) and starts its body. */
void px_conn_start_body(px_conn_t *c);
/** Queues more of the entry's body while the write queue allows. */
void px_conn_pump(px_conn_t *c);
/** Answers status with a small JSON body {"status","error","reason"}. */
void px_conn_error(px_conn_t *c, int status, const char *reason);
/** Closes a client that already got part of a body (truncation). */
void px_conn_abort(px_conn_t *c);
/** 1 when c's uv write queue is over the bound. */
int px_conn_over(const px_conn_t *c);

/* ---- upstream.c ----------------------------------------------------- */

/** Answers GET /pokemon/<name> for c: from the cache, by joining a fetch
 * in flight, or by starting one. */
void px_proxy_get(px_proxy_t *px, px_conn_t *c, const char *name,
                  size_t len, const char *if_none_match, size_t inm_len);
/** A reader's write completed or it left: trims a streaming body and
 * resumes a paused fetch once no pacing reader is over the bound. */
void px_entry_readers_changed(px_entry_t *e);
/** Adds c to e's readers (taking a reference). */
void px_entry_attach(px_entry_t *e, px_conn_t *c, int waiter);
/** Takes c off its entry's lists and drops its reference. */
void px_entry_detach(px_conn_t *c);

/* ---- pokeproxy.c ---------------------------------------------------- */

struct px_proxy_s {
  uv_loop_t *loop;
  px_config_t cfg;
  px_stats_t stats;
  px_cache_t cache;
  adl_client_t *client;
  uv_tcp_t listener;
  uv_timer_t sweep;         /* stall and idle checks */
  px_conn_t *conns;
  int stopping;
};

/** The /stats document (JSON, NUL-terminated, malloc'd); NULL on ENOMEM.
 * reset: restart the lateness window after reading it. */
char *px_stats_json(px_proxy_t *px, int reset);

#endif /* PX_POKEPROXY_H */
