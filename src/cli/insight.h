/* Where the time went: each run's outcomes summed by phase (DNS, new
 * connections, waiting for the first byte, receiving, queueing, backing
 * off), the cost model's prediction where the round trip is known (the
 * --local fixture's emulated RTT), and whether connection reuse failed and
 * why (the server closed, spoke HTTP/1.0, or reset). Pure: no I/O but the
 * FILE it is asked to print to. */
#ifndef CLI_INSIGHT_H
#define CLI_INSIGHT_H

#include "asyncdl.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_INSIGHT_ORIGINS 64 /* distinct origins told apart */

typedef struct cli_insight_s {
  uint64_t requests, new_connections;
  /* Phase sums over requests (µs): for one-at-a-time strategies they add
   * up to the wall time; for concurrent ones to connection-time. */
  uint64_t dns_us, connect_us, wait_us, transfer_us, queue_us, backoff_us;
  uint64_t server_closed; /* responses saying Connection: close / HTTP/1.0 */
  uint64_t http10;        /* responses in HTTP/1.0 */
  uint64_t resets;        /* outcomes ECONNRESET */
  unsigned origins;       /* distinct scheme://host:port seen */
  uint64_t origin_hash[CLI_INSIGHT_ORIGINS];
} cli_insight_t;

/* Adds one outcome. emulated_rtt_ms: the --local fixture delays the first
 * response on a new connection one RTT more, standing in for the TCP
 * handshake; that RTT is counted as connection setup, not waiting. */
void cli_insight_add(cli_insight_t *x, const adl_result_t *res,
                     unsigned emulated_rtt_ms);

/* The cost model for n requests at round trip rtt_ms with the fixture's
 * rules (one RTT per response, one more for a new connection's first):
 * serial n·2r, session (n+1)·r, parallel (⌈n/K⌉+1)·r, multiplex with k
 * streams max(2, ⌈n/k⌉)·r. Seconds; -1 when rtt_ms is 0 (unknown). */
double cli_insight_model_s(adl_strategy_t s, unsigned k, uint64_t n,
                           unsigned rtt_ms);

/* Connections the strategy needs: serial one per request, session one per
 * origin, parallel at most K (and one per origin beyond it). */
uint64_t cli_insight_needed(const cli_insight_t *x, adl_strategy_t s,
                            unsigned k);

/* Why reuse failed, in words ("the server closed every connection
 * (Connection: close); 151 answers were HTTP/1.0"), or NULL when the run
 * opened no more connections than it needed. Written into buf. */
const char *cli_insight_reuse_note(const cli_insight_t *x, adl_strategy_t s,
                                   unsigned k, char *buf, size_t cap);

/* One row of "where the time went". */
typedef struct cli_insight_row_s {
  const char *strategy;
  adl_strategy_t s;
  unsigned k;
  uint64_t wall_us;
  const cli_insight_t *x;
  unsigned rtt_ms; /* 0: no model */
  int emulated;    /* --local: the handshake is the fixture's emulation */
} cli_insight_row_t;

/* Prints the shares of the phases after admission (DNS, connect, wait,
 * transfer, backoff), the mean time queued before admission, the model next
 * to the measurement, one plain-language line per strategy, and the reuse
 * notes. */
void cli_insight_print(FILE *f, const cli_insight_row_t *rows, size_t n);

/* The same as a JSON object (no surrounding key) into buf; its length, or
 * 0 when it did not fit. */
size_t cli_insight_json(char *buf, size_t cap, const cli_insight_row_t *r);

#endif
