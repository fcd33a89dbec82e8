/* Every request of every run, kept for the pictures and archives made
 * after the runs (--waterfall, --har): a compact record per request, so
 * memory grows with the list only when one of those is asked for. Times
 * are microseconds; `start_us` is from the start of the request's run, so
 * runs (strategies) share one time axis. Pure: no I/O. */
#ifndef CLI_TRACE_H
#define CLI_TRACE_H

#include "asyncdl.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cli_trace_req_s {
  char *url;             /* malloc'd, credentials masked (url.h) */
  uint64_t start_us;     /* admitted, from the start of its run */
  uint64_t queue_us;     /* submitted -> admitted */
  uint64_t dns_us, connect_us, tls_us, ttfb_us, total_us, backoff_us;
  uint64_t bytes;
  int status;            /* 0 or ADL_E* */
  long http_status;
  int local_port;        /* tells connections apart (0: none) */
  unsigned new_connections;
  int http_version;      /* 10, 11, 20; 0 = none */
  unsigned server_closed;
  unsigned attempts;
  uint64_t wire_bytes;   /* the body on the wire (compressed); 0 unknown */
} cli_trace_req_t;

typedef struct cli_trace_run_s {
  adl_strategy_t strategy;
  unsigned repeat;       /* 1-based */
  unsigned max_connections;
  uint64_t start_mono_us; /* uv_hrtime()/1000 when the run began */
  uint64_t start_wall_us; /* the same moment, wall clock (µs since 1970) */
  uint64_t wall_us;      /* filled at the end of the run */
  size_t first, count;   /* its requests in the trace */
} cli_trace_run_t;

typedef struct cli_trace_s {
  cli_trace_req_t *reqs;
  size_t n, cap;
  cli_trace_run_t *runs;
  size_t nruns, runs_cap;
  unsigned rtt_ms;       /* the emulated RTT with --local, else 0 */
  int local;
} cli_trace_t;

void cli_trace_init(cli_trace_t *t);
void cli_trace_free(cli_trace_t *t);
/* A run begins now; 0 or -ENOMEM. */
int cli_trace_begin_run(cli_trace_t *t, adl_strategy_t s, unsigned repeat,
                        unsigned max_connections, uint64_t mono_us,
                        uint64_t wall_us);
/* One outcome of the current run; 0 or -ENOMEM. */
int cli_trace_add(cli_trace_t *t, const adl_result_t *res);
void cli_trace_end_run(cli_trace_t *t, uint64_t wall_us);

#endif /* CLI_TRACE_H */
