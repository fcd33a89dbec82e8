/* The tool's batch: like adl_batch, it pulls the list one item at a time and
 * keeps only a window of items outstanding (memory stays flat for any list
 * length) and sums the outcomes into an adl_summary_t, with the same
 * latency histogram. Unlike adl_batch it starts each request itself
 * (adl_request_start), so that an item can carry request headers of its own
 * (-H, and If-None-Match for --update), be skipped without a request
 * (--skip-existing), and have its outcome read with the request in hand
 * (adl_request_header: ETag, Last-Modified). Callbacks never run inside
 * cli_feed_start or cli_feed_cancel. */
#ifndef CLI_FEED_H
#define CLI_FEED_H

#include "asyncdl.h"
#include "histogram.h"

#include <stdint.h>

typedef struct cli_feed_s cli_feed_t;

/* One item, filled by the next callback. */
typedef struct cli_feed_item_s {
  const char *url;            /* valid until the item's result callback */
  const char *path;           /* file sink; NULL = body discarded */
  const char *const *headers; /* NULL-terminated "Name: value" lines, or
                                 NULL; read only while the request starts */
  int skip;                   /* 1: no request, the outcome is "skipped" */
  void *data;                 /* the caller's item, handed back */
} cli_feed_item_t;

/* A run's figures: adl_batch's summary (requests, ok, failed count the
 * requests made, not the skipped items) plus what the tool adds. */
typedef struct cli_feed_summary_s {
  adl_summary_t s;       /* s.wire_bytes: the bodies on the wire */
  uint64_t skipped;      /* items skipped without a request */
  uint64_t not_modified; /* 304 answers to a conditional request (in ok) */
  uint64_t http2;        /* responses over HTTP/2 */
  uint64_t http1;        /* responses over HTTP/1.x */
  char h1_origin[256];   /* the origin of the first HTTP/1.x response,
                            "scheme://host:port", credentials masked */
} cli_feed_summary_t;

/** 1 when s is a multiplex run that got HTTP/1.x answers and no HTTP/2
 * one: the library ran it as parallel. */
int cli_feed_ran_as_parallel(const cli_feed_summary_t *s);

/** What the run line adds to "N/M ok": ", 3 skipped", ", 148 not modified"
 * (empty when none), into buf; returns the length. */
size_t cli_feed_summary_text(const cli_feed_summary_t *s, char *buf,
                             size_t cap);

/** The members the JSON report adds to the run's summary: "wire_bytes",
 * "skipped", "not_modified", "http2_responses", "ran_as" ("parallel" or
 * null). Returns the length, 0 when it does not fit. */
size_t cli_feed_summary_json(const cli_feed_summary_t *s, char *buf,
                             size_t cap);

/* 1 for an item, 0 at the end, or a negative ADL_E* to stop early (items
 * already started still complete). */
typedef int (*cli_feed_next_cb)(cli_feed_t *f, cli_feed_item_t *item);
/* One outcome per item, in completion order. r is the request (its
 * response headers readable), NULL for an item that made none (skipped,
 * or refused at submission). */
typedef void (*cli_feed_result_cb)(cli_feed_t *f, void *data, adl_request_t *r,
                                   const adl_result_t *res, int skipped);
/* Once, when every item has its outcome (or after cancel). The feed is
 * freed after it returns. */
typedef void (*cli_feed_done_cb)(cli_feed_t *f, const cli_feed_summary_t *s,
                                 const adl__hist_t *latency);

typedef struct cli_feed_opts_s {
  adl_client_t *client;
  adl_strategy_t strategy;   /* for the summary */
  unsigned max_connections;  /* for the summary: the configured K */
  size_t window;             /* items outstanding at most (>= 1) */
  cli_feed_next_cb next;     /* required */
  cli_feed_result_cb result; /* optional */
  cli_feed_done_cb done;     /* required */
  void *data;
} cli_feed_opts_t;

/** The window adl_batch would use for a client whose in-flight cap is
 * inflight: as many again waiting (at least 16), so the scheduler can pick
 * among origins. */
size_t cli_feed_window(unsigned inflight);

/** Starts pulling on the next loop iteration. Returns 0, ADL_EINVAL or
 * ADL_ENOMEM; *out belongs to the feed until the done callback. */
int cli_feed_start(uv_loop_t *loop, const cli_feed_opts_t *o, cli_feed_t **out);
/** Stops pulling and cancels the outstanding requests; done still runs. */
void cli_feed_cancel(cli_feed_t *f);
void *cli_feed_get_data(const cli_feed_t *f);

#endif /* CLI_FEED_H */
