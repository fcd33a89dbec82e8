/* Internal definitions of the client. Three files share them, each with one
 * job and one-way dependencies:
 *   client.c    the public façade: options, ids, start, cancel, close;
 *   executor.c  the only writer of request state, queues and counters: it
 *               feeds events to the pure transition function
 *               (request_fsm.c), performs the actions it returns, and runs
 *               the bounded per-iteration pump;
 *   request.c   one attempt's I/O: the easy handle, the body sink, and
 *               reading curl's outcome into an event. It never changes a
 *               request's state or calls back into the executor.
 * Not installed. */
#ifndef ADL_CLIENT_H
#define ADL_CLIENT_H

#include "asyncdl.h"
#include "castore.h"
#include "head.h"
#include "origin.h"
#include "pool.h"
#include "queue.h"
#include "request_fsm.h"
#include "resolver.h"
#include "strategy.h"

/* Scheme, host and port of a URL: an origin's key. */
typedef struct adl__url_parts_s {
  int https;
  long port;
  int numeric_host;
  char host[256]; /* lower case, IPv6 without brackets */
} adl__url_parts_t;

struct adl_request_s {
  adl__queue_t node;     /* origin queue, start, backoff, cancel or done
                            list: at most one, as the state says */
  adl__queue_t all_node; /* client->all */
  adl__rq_fsm_t fsm;     /* written by executor.c only */
  unsigned epoch;        /* events applied: a change means re-entry */
  adl_client_t *client;
  adl__origin_t *origin;      /* a reference; its slot when holding one */
  adl__origin_t *next_origin; /* redirect target's, until requeued there */
  adl_request_id_t id;
  adl_request_opts_t opts; /* path points to our own copy; headers and
                              user_agent are NULL (copied below) */
  struct curl_slist *headers; /* the caller's request headers, copied */
  char *user_agent;        /* the caller's, copied; NULL = the client's */
  adl__rq_limits_t limits; /* the client's, with the request's overrides */
  unsigned max_redirects;
  uint64_t timeout_ms;
  int conditional;         /* If-None-Match / If-Modified-Since sent */
  adl__head_t head;        /* the current response's head */
  int head_shown;          /* on_headers ran for this response */
  int paused;              /* curl holds this transfer paused */
  int resume_pending;      /* on the client's resume list */
  adl__queue_t flow_node;  /* client->resumes */
  uint64_t t_progress;     /* last progress event, ns */
  char *url;               /* as submitted */
  char *cur_url;           /* after redirects; NULL = url */
  int numeric_host;
  adl__dnsq_t *dnsq;
  CURL *easy;                 /* only while RUNNING */
  struct curl_slist *resolve; /* curl keeps the pointer, not a copy */
  int fd;                     /* temp file of a file sink, -1 if none */
  char *tmp_path;
  int cancel_pending;    /* on the cancel list: the write callback aborts */
  int abort_status;      /* why our write callback stopped the transfer */
  int keep_body;         /* this response's body goes to the sink */
  int file_started;      /* this attempt's body has a (fresh) temp file */
  int seen_first_byte;
  long retry_after_ms;   /* from the last response, -1 if none */
  int64_t declared_length; /* its Content-Length, -1 if none */
  int length_bad;        /* its Content-Length cannot be parsed or held */
  unsigned redirects;
  int commit_pending;    /* complete body in the temp file, rename due */
  uint64_t visited[64];  /* hashes of URLs seen in this redirect chain */
  uint64_t t_submit, t_admit, t_attempt, t_first_byte, t_backoff;
  uint64_t retry_at_ns;
  char errbuf[256];      /* CURLOPT_ERRORBUFFER (CURL_ERROR_SIZE) */
  char message[320];
  adl_result_t res;
};

/* Work a module hands to the pump: run(self) is called once, on a later
 * loop iteration, outside any API call or library callback. */
typedef struct adl__deferred_s {
  adl__queue_t node;
  void (*run)(struct adl__deferred_s *self);
} adl__deferred_t;

/* Request ids: slot index + generation, so a stale id never matches. */
typedef struct adl__idslot_s {
  adl_request_t *req; /* NULL when free */
  uint32_t gen;
  uint32_t next_free;
} adl__idslot_t;

typedef struct adl__idtab_s {
  adl__idslot_t *slots;
  uint32_t n, cap, free_head;
} adl__idtab_t;

struct adl_client_s {
  uv_loop_t *loop;
  adl_options_t opts;     /* strings point to the copies below */
  char *dns_servers, *user_agent, *cacert, *proxy;
  int clear_capath;       /* the CA file alone, so curl caches the store */
  adl__castore_t *castore; /* parsed by us, in steps; NULL: curl's own */
  adl__policy_t policy;
  adl__rq_limits_t limits;
  adl__sched_t sched;     /* origins, their queues, slots */
  adl__resolver_t *resolver;
  adl__pool_t *pool;
  uv_idle_t pump_idle;    /* runs deferred work before the next poll */
  uv_check_t keepalive;   /* active (and referenced) while work exists */
  uv_timer_t retry_timer;
  adl__queue_t all;
  adl__queue_t starts;    /* READY, FIFO */
  adl__queue_t backoff;   /* BACKOFF, by retry_at_ns */
  adl__queue_t cancels;   /* RUNNING requests to cancel on the pump */
  adl__queue_t done;      /* DONE, callbacks pending */
  adl__queue_t deferred;  /* adl__deferred_t: batch refills and ends */
  adl__queue_t resumes;   /* paused requests to resume on the pump */
  unsigned host_conns_raised; /* multiplex: curl's host cap follows
                                 sched.h1_origins */
  adl__idtab_t ids;
  size_t nreq;            /* submitted, done callback not yet returned,
                             plus deferred work pending */
  void (*on_drained)(adl_client_t *c); /* closing and nothing left */
  int kick_curl;          /* transfers added since curl last ran */
  int pumping;
  int closing;
  int torn_down;
  unsigned closes_pending;
  adl_close_cb close_cb;
  CURL *spare_easy[16];   /* recycled easy handles, still configured */
  unsigned nspare;
  uint64_t rng;           /* backoff jitter, per client */
  uint64_t tmp_seq;       /* names temporary files */
  void *data;
};

/* client.c: a caller's sized struct into the library's own; 0 or
 * ADL_EINVAL (not initialised, or sets fields this library lacks). */
int adl__read_request_opts(adl_request_opts_t *out,
                           const adl_request_opts_t *o);
int adl__read_batch_opts(adl_batch_opts_t *out, const adl_batch_opts_t *o);

/* executor.c: ids */
/* Gives r an id; 0 or ADL_ENOMEM. */
int adl__idtab_add(adl__idtab_t *t, adl_request_t *r);
adl_request_t *adl__idtab_find(const adl__idtab_t *t, adl_request_id_t id);
void adl__idtab_remove(adl__idtab_t *t, adl_request_id_t id);
void adl__idtab_free(adl__idtab_t *t);

/* request.c: one attempt's I/O */
uint64_t adl__hash_str(const char *s);
/* Scheme, host and port of url; 0, ADL_EURL, ADL_ESCHEME or ADL_ENOMEM. */
int adl__url_parse(const char *url, adl__url_parts_t *out);
/* Sets easy up once: the options every attempt of this client shares. */
void adl__easy_template(adl_client_t *c, CURL *easy);
/* Points easy at r's current URL (addrs, when not NULL, as its
 * CURLOPT_RESOLVE entry). 0 or ADL_ENOMEM. */
int adl__attempt_prepare(adl_request_t *r, CURL *easy, const char *addrs,
                         int fresh);
/* Reads the finished transfer into an XFER_DONE event (checking any
 * redirect target, whose parts go to *target). */
void adl__attempt_collect(adl_request_t *r, CURLcode rc,
                          adl__url_parts_t *target, adl__rq_event_t *ev);
/* Closes and unlinks the temporary file of a file sink, if any. */
void adl__request_drop_temp(adl_request_t *r);
/* Frees r's memory (its id and origin are the executor's to release). */
void adl__request_free(adl_request_t *r);
/* Renames the complete temporary file to its final name; 0 or ADL_E*. */
int adl__request_commit_temp(adl_request_t *r);

/* executor.c: the only writer of request state, queues and counters */
/* A new request (state QUEUED, origin referenced) enters its origin's
 * queue; a URL that cannot be fetched (status != 0) completes at once. */
void adl__exec_submit(adl_request_t *r, int status, const char *msg);
/* Cancels r: 0, or ADL_ENOENT when it already has its outcome. At once, or
 * on the next pump pass when curl has its transfer (curl refuses to remove
 * a handle from inside its own callbacks, where this may be called). */
int adl__exec_cancel(adl_request_t *r);
/* Pauses r's transfer (now, or when its next attempt starts): 0, or
 * ADL_ENOENT when r has its outcome. */
int adl__exec_pause(adl_request_t *r);
/* Resumes r on the next pump pass: 0, or ADL_ENOENT. */
int adl__exec_resume(adl_request_t *r);
/* pool.c's done callback (arg is the client). */
void adl__exec_on_curl_done(void *arg, CURL *easy, CURLcode rc);
/* Queues work for the pump; it counts as pending work until it ran. */
void adl__exec_defer(adl_client_t *c, adl__deferred_t *d);
/* Asks the pump to run on the next loop iteration. */
void adl__exec_kick(adl_client_t *c);
/* Keeps the loop alive (a referenced check handle) while work exists. */
void adl__exec_update_keepalive(adl_client_t *c);
void adl__exec_start_handles(adl_client_t *c);
/* Frees the spare easy handles (teardown). */
void adl__exec_drop_easies(adl_client_t *c);

#endif
