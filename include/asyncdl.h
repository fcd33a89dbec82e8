/* asyncdl: an asynchronous HTTP downloader library driven by a caller's
 * libuv loop. libcurl's multi-socket API performs the transfers, c-ares
 * resolves names on the same loop, and nothing ever blocks or spawns a
 * thread. This is the only public header; every type is opaque or an
 * append-only plain struct initialised by an *_init() function.
 *
 * Threading: every function must be called on the thread that runs the
 * client's loop. Callbacks never run inside the API call that caused them.
 * Signals: the library installs no signal handler. Like any program that
 * writes to sockets, the host should ignore SIGPIPE (libcurl avoids it on
 * Linux, but a TLS write to a reset connection can still raise it). */
#ifndef ASYNCDL_H
#define ASYNCDL_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define ADL_EXTERN __attribute__((visibility("default")))
#else
#define ADL_EXTERN
#endif

#define ADL_VERSION_MAJOR 0
#define ADL_VERSION_MINOR 1
#define ADL_VERSION_PATCH 0
#define ADL_VERSION_STRING "0.1.0"

/* Error codes. Codes shaped like errno equal their libuv twins so that a host
 * can mix them with uv errors; the library's own codes start at -30000. */
#define ADL_ERRNO_MAP(XX)                                                      \
  XX(OK, 0, "success")                                                         \
  XX(EINVAL, UV_EINVAL, "invalid argument")                                    \
  XX(ENOMEM, UV_ENOMEM, "out of memory")                                       \
  XX(ECANCELED, UV_ECANCELED, "request cancelled")                             \
  XX(ETIMEDOUT, UV_ETIMEDOUT, "timed out")                                     \
  XX(ECONNREFUSED, UV_ECONNREFUSED, "connection refused")                      \
  XX(ECONNRESET, UV_ECONNRESET, "connection reset by peer")                    \
  XX(EIO, UV_EIO, "write error")                                               \
  XX(ENOSPC, UV_ENOSPC, "no space left on device")                             \
  XX(EDNS, -30001, "DNS lookup failed")                                        \
  XX(ENOTFOUND, -30002, "host name not found")                                 \
  XX(EDNSTIMEOUT, -30003, "DNS lookup timed out")                              \
  XX(ECONNECT, -30004, "could not connect")                                    \
  XX(ETLS, -30005, "TLS handshake or certificate error")                       \
  XX(EHTTP, -30006, "HTTP error status")                                       \
  XX(EPROTO, -30007, "malformed or truncated response")                        \
  XX(ETOOLARGE, -30008, "response larger than the size limit")                 \
  XX(ESCHEME, -30009, "unsupported URL scheme")                                \
  XX(EURL, -30010, "malformed URL")                                            \
  XX(EREDIRECT, -30011, "too many redirects or redirect loop")                 \
  XX(ECURL, -30012, "transfer failed")                                         \
  XX(ECLOSING, -30013, "client is closing")                                    \
  XX(EBUSY, -30014, "busy")

typedef enum {
#define ADL_XX_(name, val, msg) ADL_##name = (val),
  ADL_ERRNO_MAP(ADL_XX_)
#undef ADL_XX_
} adl_errno_t;

/** Human-readable text for an ADL_E* (or libuv) code. Never NULL; static. */
ADL_EXTERN const char *adl_strerror(int err);
/** Symbolic name ("ETIMEDOUT") for an ADL_E* code. Never NULL; static. */
ADL_EXTERN const char *adl_err_name(int err);
/** "0.1.0 (libcurl/7.88.1 c-ares/1.18.1 libuv/1.44.2)". Static. */
ADL_EXTERN const char *adl_version_string(void);

/** Process-wide setup (curl_global_init, ares_library_init). Call once
 * before any client exists; returns 0 or a negative ADL_E*. */
ADL_EXTERN int adl_library_init(void);
/** Undo adl_library_init once every client has closed. */
ADL_EXTERN void adl_library_shutdown(void);

typedef enum {
  ADL_STRATEGY_SERIAL = 0,   /* one at a time, new connection + DNS each */
  ADL_STRATEGY_SESSION = 1,  /* one at a time over one kept-alive connection */
  ADL_STRATEGY_PARALLEL = 2, /* up to max_connections at once, pooled */
} adl_strategy_t;

/** "serial", "session", "parallel"; NULL for an unknown value. */
ADL_EXTERN const char *adl_strategy_name(adl_strategy_t s);
/** Parses a strategy name; returns 0 or ADL_EINVAL. */
ADL_EXTERN int adl_strategy_parse(const char *name, adl_strategy_t *out);

typedef struct adl_options_s {
  adl_strategy_t strategy;
  unsigned max_connections;    /* parallel: K connections and in flight */
  uint64_t timeout_ms;         /* whole request, 0 = none */
  uint64_t connect_timeout_ms; /* TCP + TLS connect */
  uint64_t low_speed_time_ms;  /* abort when below low_speed_bytes/s ... */
  uint64_t low_speed_bytes;    /* ... for this long; 0 disables */
  unsigned dns_timeout_ms;     /* per DNS try */
  unsigned dns_tries;          /* DNS tries per server */
  const char *dns_servers;     /* "IP[:PORT][,IP[:PORT]]", NULL = system */
  const char *user_agent;      /* NULL = "asyncdl/VERSION" */
  const char *cacert;          /* PEM bundle path, NULL = system store */
  int insecure;                /* skip TLS verification (explicit only) */
  uint64_t max_size;           /* abort bodies larger than this, 0 = none */
  unsigned retries;            /* extra attempts on retryable failures */
  uint64_t retry_base_ms;      /* first backoff step */
  uint64_t retry_max_ms;       /* cap on backoff and Retry-After */
  unsigned max_redirects;      /* 0 = redirects are not followed */
  int http2;                   /* offer HTTP/2 over TLS (ALPN); default 0:
                                  HTTP/1.1 everywhere. Either way one
                                  request per connection at a time. */
  /* Append-only: new fields go at the end, adl_options_init sets them. */
} adl_options_t;

/** Fills *o with defaults: parallel, 6 connections, 30 s timeout, 10 s
 * connect, 1000 ms x 2 DNS tries, 2 retries, 5 redirects. */
ADL_EXTERN void adl_options_init(adl_options_t *o);

typedef struct adl_client_s adl_client_t;
typedef struct adl_request_s adl_request_t;

/* The outcome of one request, borrowed by the done callback for its
 * duration only. Times are microseconds; a phase that did not happen is 0. */
typedef struct adl_result_s {
  int status;            /* 0, or a negative ADL_E* */
  long http_status;      /* last HTTP status, 0 when none was received */
  uint64_t bytes;        /* body bytes received in the final attempt */
  int lib_code;          /* raw CURLcode or ares status behind status */
  const char *message;   /* detail for humans, never NULL */
  const char *url;       /* the URL as submitted */
  uint64_t queue_us;     /* submit -> admitted into the in-flight window */
  uint64_t dns_us;       /* c-ares lookup (0 when cached or numeric) */
  uint64_t connect_us;   /* TCP connect (0 on a reused connection) */
  uint64_t tls_us;       /* TLS handshake after connect */
  uint64_t ttfb_us;      /* start of transfer -> first body byte */
  uint64_t total_us;     /* admitted -> done, retries included */
  unsigned new_connections; /* connections opened (CURLINFO_NUM_CONNECTS) */
  int local_port;        /* local TCP port of the last connection used */
  unsigned attempts;     /* 1 + retries performed */
  unsigned dns_cached;   /* 1 when the address came from the DNS cache */
  int http_version;      /* of the last response: 10, 11 or 20; 0 = none */
} adl_result_t;

/** Body chunk callback; return 0 to continue, nonzero to abort the request
 * (it then completes with ADL_ECANCELED). buf is borrowed. */
typedef int (*adl_data_cb)(adl_request_t *r, const char *buf, size_t len);
/** Called exactly once per successfully started request. The request is
 * freed right after it returns; res is borrowed. */
typedef void (*adl_done_cb)(adl_request_t *r, const adl_result_t *res);
/** Called once when an adl_client_close has finished. */
typedef void (*adl_close_cb)(adl_client_t *c);

typedef enum {
  ADL_SINK_DISCARD = 0,  /* count the bytes, keep nothing */
  ADL_SINK_CALLBACK = 1, /* hand each chunk to on_data */
  ADL_SINK_FILE = 2,     /* write to path atomically (temp + rename) */
} adl_sink_t;

typedef struct adl_request_opts_s {
  adl_sink_t sink;
  adl_data_cb on_data; /* ADL_SINK_CALLBACK */
  const char *path;    /* ADL_SINK_FILE: final file name, copied */
  adl_done_cb on_done; /* required */
  void *data;          /* caller's pointer, see adl_request_get_data */
  /* Append-only. */
} adl_request_opts_t;

/** Zeroes *o: discard sink, no callbacks. */
ADL_EXTERN void adl_request_opts_init(adl_request_opts_t *o);

/** Creates a client bound to loop. *out is owned by the library and freed
 * after adl_client_close's callback. The options and their strings are
 * copied. Returns 0 or a negative ADL_E*; *out untouched on error. */
ADL_EXTERN int adl_client_new(uv_loop_t *loop, const adl_options_t *o,
                              adl_client_t **out);

/** Closes asynchronously, like uv_close: stops admission, completes every
 * outstanding request with ADL_ECANCELED, closes every handle, then calls
 * cb once (cb may be NULL). The client must not be used afterwards. */
ADL_EXTERN void adl_client_close(adl_client_t *c, adl_close_cb cb);

ADL_EXTERN void adl_client_set_data(adl_client_t *c, void *data);
ADL_EXTERN void *adl_client_get_data(const adl_client_t *c);
ADL_EXTERN uv_loop_t *adl_client_loop(const adl_client_t *c);

/** Submits a GET. Requests beyond the strategy's in-flight window wait in a
 * FIFO queue. On success the done callback runs exactly once (never inside
 * this call); on error (ADL_EINVAL, ADL_ENOMEM, ADL_ECLOSING) it never runs.
 * A malformed URL or a scheme other than http/https is not an error here:
 * it is that request's outcome (ADL_EURL, ADL_ESCHEME), reported through
 * the done callback like any other. Transient failures (408, 429, 500, 502,
 * 503, 504, timeouts, resets, truncated bodies) are retried up to
 * o->retries times with jittered exponential backoff or Retry-After.
 * *out (may be NULL) stays valid until the done callback returns. URL and
 * path are copied. */
ADL_EXTERN int adl_request_start(adl_client_t *c, const char *url,
                                 const adl_request_opts_t *o,
                                 adl_request_t **out);

/** Cancels: the done callback runs later with ADL_ECANCELED, unless the
 * request had already finished, in which case this is a no-op. */
ADL_EXTERN int adl_request_cancel(adl_request_t *r);
ADL_EXTERN void *adl_request_get_data(const adl_request_t *r);
ADL_EXTERN const char *adl_request_url(const adl_request_t *r);

/** Number of requests submitted and not yet completed. */
ADL_EXTERN size_t adl_client_pending(const adl_client_t *c);

/* ---- batches: a whole list through one client ------------------------- */

typedef struct adl_batch_s adl_batch_t;

/* Aggregate figures of one batch. Latency percentiles come from a fixed
 * log-bucket histogram (about 1 % resolution), so memory does not grow with
 * the list. */
typedef struct adl_summary_s {
  adl_strategy_t strategy;
  unsigned max_connections;
  uint64_t requests;     /* outcomes counted */
  uint64_t ok;
  uint64_t failed;
  uint64_t bytes;
  uint64_t connections;  /* connections opened */
  uint64_t wall_us;      /* first submit -> last completion */
  uint64_t dns_us_total; /* sum of DNS lookup time */
  uint64_t p50_us;       /* request latency (admitted -> done) */
  uint64_t p95_us;
  uint64_t max_us;
  double requests_per_s;
  double bytes_per_s;
} adl_summary_t;

/** Supplies the next item of a batch: set *url (and *path for a file sink,
 * else NULL) to strings that stay valid until the item's result callback;
 * return 1 for an item, 0 at the end, or a negative ADL_E* to stop early
 * (items already submitted still complete). */
typedef int (*adl_batch_next_cb)(adl_batch_t *b, const char **url,
                                 const char **path, void **item);
/** Per-item outcome, in completion order. */
typedef void (*adl_batch_result_cb)(adl_batch_t *b, void *item,
                                    const adl_result_t *res);
/** Called once when every item has an outcome (or after cancel). */
typedef void (*adl_batch_done_cb)(adl_batch_t *b, const adl_summary_t *sum);

typedef struct adl_batch_opts_s {
  adl_batch_next_cb next;     /* required */
  adl_batch_result_cb result; /* optional */
  adl_batch_done_cb done;     /* required */
  adl_sink_t sink;            /* ADL_SINK_DISCARD or ADL_SINK_FILE */
  void *data;
} adl_batch_opts_t;

/** Runs items pulled from o->next through c, keeping at most the client's
 * in-flight window (plus one) outstanding so memory stays flat for any list
 * length. *out is owned by the library and freed after the done callback. */
ADL_EXTERN int adl_batch_start(adl_client_t *c, const adl_batch_opts_t *o,
                               adl_batch_t **out);
/** Stops pulling items and cancels the outstanding ones; done still runs. */
ADL_EXTERN void adl_batch_cancel(adl_batch_t *b);
ADL_EXTERN void *adl_batch_get_data(const adl_batch_t *b);

#ifdef __cplusplus
}
#endif
#endif /* ASYNCDL_H */
