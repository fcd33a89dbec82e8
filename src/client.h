/* Internal definitions shared by client.c (public façade, admission window,
 * deferred completions, close) and request.c (one request's attempts:
 * resolve, transfer, retry, redirect, file sink). Not installed. */
#ifndef ADL_CLIENT_H
#define ADL_CLIENT_H

#include "asyncdl.h"
#include "pool.h"
#include "queue.h"
#include "resolver.h"
#include "strategy.h"

typedef enum {
  RQ_QUEUED,    /* waiting for a slot in the in-flight window */
  RQ_IDLE,      /* admitted; between two steps, on no list */
  RQ_RESTART,   /* admitted; next attempt starts on the next pump */
  RQ_RESOLVING, /* admitted; c-ares lookup outstanding */
  RQ_RUNNING,   /* admitted; easy handle added to the pool */
  RQ_BACKOFF,   /* admitted; waiting for the retry timer */
  RQ_DONE,      /* outcome ready; done callback pending */
} adl__rq_state_t;

struct adl_request_s {
  adl__queue_t all_node;   /* client->all */
  adl__queue_t state_node; /* the list matching state, if any */
  adl_client_t *client;
  adl__rq_state_t state;
  adl_request_opts_t opts; /* path points to our own copy */
  char *url;               /* as submitted */
  char *cur_url;           /* after redirects */
  char *host;              /* lower case, no brackets */
  long port;
  int numeric_host;
  adl__dnsq_t *dnsq;
  CURL *easy;
  struct curl_slist *resolve; /* curl keeps the pointer, not a copy */
  int fd;                     /* temp file of a file sink, -1 if none */
  char *tmp_path;
  int cancel_requested;
  int abort_status;      /* why our write callback stopped the transfer */
  int keep_body;         /* this response's body goes to the sink */
  int file_started;      /* this attempt's body has a (fresh) temp file */
  int seen_first_byte;
  long retry_after_ms;   /* from the last response, -1 if none */
  unsigned redirects;
  unsigned free_retry_used; /* curl#10646 reuse failure retried once */
  int force_fresh;
  int commit_pending;    /* complete body in the temp file, rename due */
  uint64_t visited[64];  /* hashes of URLs seen in this redirect chain */
  uint64_t t_submit, t_admit, t_attempt, t_first_byte;
  uint64_t retry_at_ns;
  char errbuf[256];      /* CURLOPT_ERRORBUFFER (CURL_ERROR_SIZE) */
  char message[320];
  adl_result_t res;
};

struct adl_client_s {
  uv_loop_t *loop;
  adl_options_t opts;     /* strings point to the copies below */
  char *dns_servers, *user_agent, *cacert;
  adl__policy_t policy;
  adl__resolver_t *resolver;
  adl__pool_t *pool;
  uv_idle_t pump_idle;    /* runs deferred work before the next poll */
  uv_check_t keepalive;   /* active (and referenced) while work exists */
  uv_timer_t retry_timer;
  adl__queue_t all;
  adl__queue_t waiting;   /* RQ_QUEUED, FIFO */
  adl__queue_t restart;   /* RQ_RESTART */
  adl__queue_t backoff;   /* RQ_BACKOFF, by retry_at_ns */
  adl__queue_t cancels;   /* RUNNING requests cancelled inside curl */
  adl__queue_t done;      /* RQ_DONE, callbacks pending */
  adl__queue_t batches_done; /* finished batches, callbacks pending */
  size_t nreq;            /* submitted, done callback not yet returned */
  unsigned inflight;      /* admitted and not done */
  int in_curl_callback;   /* inside a user callback called by curl */
  int pumping;
  int closing;
  int torn_down;
  unsigned closes_pending;
  adl_close_cb close_cb;
  CURL *spare_easy[16];   /* recycled easy handles */
  unsigned nspare;
  uint64_t rng;           /* backoff jitter, per client */
  uint64_t tmp_seq;       /* names temporary files */
  void *data;
};

/* request.c */
uint64_t adl__hash_str(const char *s);
int adl__request_parse_url(adl_request_t *r, const char *url);
void adl__request_start_attempt(adl_request_t *r);
void adl__request_on_curl_done(adl_request_t *r, CURLcode rc);
/* Stops whatever r is doing (lookup, transfer, backoff) without reporting. */
void adl__request_abort(adl_request_t *r);
/* Sets the outcome, removes any temporary file, queues the done callback. */
void adl__request_complete(adl_request_t *r, int status, const char *msg);
void adl__request_free(adl_request_t *r);
/* Closes and unlinks the temporary file of a file sink, if any. */
void adl__request_drop_temp(adl_request_t *r);
/* Renames the complete temporary file to its final name; 0 or ADL_E*. */
int adl__request_commit_temp(adl_request_t *r);

/* client.c */
void adl__client_kick(adl_client_t *c);
void adl__client_schedule_retry(adl_client_t *c, adl_request_t *r,
                                uint64_t delay_ms);
CURL *adl__client_take_easy(adl_client_t *c);
void adl__client_give_easy(adl_client_t *c, CURL *easy);
uint64_t adl__client_random(adl_client_t *c);
void adl__client_defer_batch(adl_client_t *c, adl__queue_t *node);

/* batch.c: runs a finished batch's done callback and frees it. */
void adl__batch_deliver(adl__queue_t *node);

#endif
