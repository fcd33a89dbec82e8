/* Where the time went (see insight.h). */
#include "insight.h"

#include <string.h>

/* The phases a request goes through once admitted. Queueing (before
 * admission) overlaps other requests' phases, so it is shown apart, as a
 * mean per request, not as a share. */
enum { P_DNS, P_CONNECT, P_WAIT, P_TRANSFER, P_BACKOFF, NPHASE };

static const char *const phase_col[NPHASE] = {"dns", "connect", "wait",
                                              "transfer", "backoff"};
static const char *const phase_words[NPHASE] = {
    "DNS lookups", "opening connections",
    "waiting for the first byte", "receiving bodies",
    "backing off before retries"};

static uint64_t sub0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }

static void note_origin(cli_insight_t *x, const char *url) {
  const char *p = url != NULL ? strstr(url, "://") : NULL;
  if (p == NULL)
    return;
  size_t n = (size_t)(p + 3 - url) + strcspn(p + 3, "/?#");
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++)
    h = (h ^ (unsigned char)url[i]) * 1099511628211ull;
  for (unsigned i = 0; i < x->origins && i < CLI_INSIGHT_ORIGINS; i++)
    if (x->origin_hash[i] == h)
      return;
  if (x->origins < CLI_INSIGHT_ORIGINS)
    x->origin_hash[x->origins] = h;
  x->origins++; /* past the table: counted, no longer told apart */
}

void cli_insight_add(cli_insight_t *x, const adl_result_t *res,
                     unsigned emulated_rtt_ms) {
  uint64_t setup = res->connect_us + res->tls_us;
  /* ttfb runs from the attempt's start: connection setup is inside it. */
  uint64_t wait = sub0(res->ttfb_us, setup);
  if (emulated_rtt_ms > 0 && res->new_connections > 0) {
    uint64_t hs = sub0(wait, sub0(wait, (uint64_t)emulated_rtt_ms * 1000));
    setup += hs;
    wait -= hs;
  }
  x->requests++;
  x->new_connections += res->new_connections;
  x->dns_us += res->dns_us;
  x->connect_us += setup;
  x->wait_us += wait;
  x->transfer_us +=
      sub0(res->total_us, res->dns_us + res->backoff_us + res->ttfb_us);
  x->queue_us += res->queue_us;
  x->backoff_us += res->backoff_us;
  x->server_closed += res->server_closed;
  x->http10 += res->http_version == 10;
  x->resets += res->status == ADL_ECONNRESET;
  note_origin(x, res->url);
}

double cli_insight_model_s(adl_strategy_t s, unsigned k, uint64_t n,
                           unsigned rtt_ms) {
  if (rtt_ms == 0 || n == 0)
    return -1;
  double r = rtt_ms / 1000.0;
  switch (s) {
  case ADL_STRATEGY_SERIAL:
    return (double)n * 2 * r;
  case ADL_STRATEGY_SESSION:
    return (double)(n + 1) * r;
  case ADL_STRATEGY_PARALLEL:
    return (double)((n + k - 1) / (k ? k : 1) + 1) * r;
  case ADL_STRATEGY_MULTIPLEX: {
    /* k streams at once on one connection: waves of one RTT each, which
     * overlap the first stream's two (handshake and answer). */
    uint64_t waves = (n + k - 1) / (k ? k : 1);
    return (double)(waves > 2 ? waves : 2) * r;
  }
  }
  return -1;
}

uint64_t cli_insight_needed(const cli_insight_t *x, adl_strategy_t s,
                            unsigned k) {
  uint64_t origins = x->origins ? x->origins : 1;
  if (s == ADL_STRATEGY_SERIAL)
    return x->requests;
  if (s == ADL_STRATEGY_SESSION || s == ADL_STRATEGY_MULTIPLEX)
    return origins; /* multiplex: one HTTP/2 connection each */
  return (uint64_t)k + origins - 1;
}

const char *cli_insight_reuse_note(const cli_insight_t *x, adl_strategy_t s,
                                   unsigned k, char *buf, size_t cap) {
  uint64_t need = cli_insight_needed(x, s, k);
  if (s == ADL_STRATEGY_SERIAL || x->new_connections <= need)
    return NULL;
  int n = snprintf(buf, cap, "opened %llu connections where %llu would do: ",
                   (unsigned long long)x->new_connections,
                   (unsigned long long)need);
  size_t len = n > 0 && (size_t)n < cap ? (size_t)n : 0;
  const char *sep = "";
  if (x->server_closed > 0) {
    n = snprintf(buf + len, cap - len,
                 "%llu answers closed their connection (Connection: close, or "
                 "HTTP/1.0 without keep-alive)",
                 (unsigned long long)x->server_closed);
    len += n > 0 && (size_t)n < cap - len ? (size_t)n : 0;
    sep = "; ";
  }
  if (x->http10 > 0) {
    n = snprintf(buf + len, cap - len, "%s%llu answers were HTTP/1.0", sep,
                 (unsigned long long)x->http10);
    len += n > 0 && (size_t)n < cap - len ? (size_t)n : 0;
    sep = "; ";
  }
  if (x->resets > 0) {
    n = snprintf(buf + len, cap - len, "%s%llu connections were reset", sep,
                 (unsigned long long)x->resets);
    len += n > 0 && (size_t)n < cap - len ? (size_t)n : 0;
    sep = "; ";
  }
  if (*sep == '\0')
    snprintf(buf + len, cap - len,
             "the server closed idle connections (no reason was given)");
  return buf;
}

static void phases(const cli_insight_t *x, uint64_t v[NPHASE]) {
  v[P_DNS] = x->dns_us;
  v[P_CONNECT] = x->connect_us;
  v[P_WAIT] = x->wait_us;
  v[P_TRANSFER] = x->transfer_us;
  v[P_BACKOFF] = x->backoff_us;
}

static unsigned percent(uint64_t part, uint64_t whole) {
  return whole ? (unsigned)((part * 100 + whole / 2) / whole) : 0;
}

/* "50 % of the time went to new connections (151 opened), 50 % to waiting
 * for the first byte": the phases of 10 % or more, largest first. */
static void plain_line(FILE *f, const cli_insight_row_t *r) {
  uint64_t v[NPHASE], sum = 0;
  phases(r->x, v);
  for (int i = 0; i < NPHASE; i++)
    sum += v[i];
  fprintf(f, "%s:", r->strategy);
  int used[NPHASE] = {0}, said = 0;
  for (int k = 0; k < 3; k++) {
    int best = -1;
    for (int i = 0; i < NPHASE; i++)
      if (!used[i] && (best < 0 || v[i] > v[best]))
        best = i;
    if (best < 0 || percent(v[best], sum) < 10)
      break;
    used[best] = 1;
    fprintf(f, "%s %u %% %s%s", said ? "," : "", percent(v[best], sum),
            said ? "to " : "of the time went to ", phase_words[best]);
    if (best == P_CONNECT)
      fprintf(f, " (%llu new, TCP%s)",
              (unsigned long long)r->x->new_connections,
              r->emulated ? " handshake emulated" : " + TLS");
    said = 1;
  }
  fprintf(f, "%s\n", said ? "" : " nothing measurable");
}

void cli_insight_print(FILE *f, const cli_insight_row_t *rows, size_t n) {
  fprintf(f, "\nwhere the time went (shares of the requests' time once "
             "admitted; for serial and session, of the wall time):\n");
  fprintf(f, "%-9s", "strategy");
  for (int i = 0; i < NPHASE; i++)
    fprintf(f, "  %8s", phase_col[i]);
  fprintf(f, "  %8s  %8s  %7s\n", "queue ms", "model s", "x model");
  for (size_t k = 0; k < n; k++) {
    const cli_insight_row_t *r = &rows[k];
    uint64_t v[NPHASE], sum = 0;
    phases(r->x, v);
    for (int i = 0; i < NPHASE; i++)
      sum += v[i];
    fprintf(f, "%-9s", r->strategy);
    for (int i = 0; i < NPHASE; i++)
      fprintf(f, "  %6u %%", percent(v[i], sum));
    fprintf(f, "  %8.1f",
            r->x->requests ? r->x->queue_us / 1e3 / (double)r->x->requests
                           : 0.0);
    double m = cli_insight_model_s(r->s, r->k, r->x->requests, r->rtt_ms);
    if (m > 0)
      fprintf(f, "  %8.3f  %6.2fx\n", m, (double)r->wall_us / 1e6 / m);
    else
      fprintf(f, "  %8s  %7s\n", "n/a", "n/a");
  }
  for (size_t k = 0; k < n; k++)
    plain_line(f, &rows[k]);
  char note[300];
  for (size_t k = 0; k < n; k++)
    if (cli_insight_reuse_note(rows[k].x, rows[k].s, rows[k].k, note,
                               sizeof(note)) != NULL)
      fprintf(f, "note: %s %s\n", rows[k].strategy, note);
}

size_t cli_insight_json(char *buf, size_t cap, const cli_insight_row_t *r) {
  const cli_insight_t *x = r->x;
  char model[32] = "null", note[300], quoted[320] = "null";
  double m = cli_insight_model_s(r->s, r->k, x->requests, r->rtt_ms);
  if (m > 0)
    snprintf(model, sizeof(model), "%.3f", m);
  /* The note is our own text: plain ASCII, no quotes to escape. */
  if (cli_insight_reuse_note(x, r->s, r->k, note, sizeof(note)) != NULL)
    snprintf(quoted, sizeof(quoted), "\"%s\"", note);
  int n = snprintf(
      buf, cap,
      "{\"dns_ms\": %.3f, \"connect_ms\": %.3f, \"wait_ms\": %.3f, "
      "\"transfer_ms\": %.3f, \"queue_ms\": %.3f, \"backoff_ms\": %.3f, "
      "\"model_s\": %s, \"connections_needed\": %llu, \"server_closed\": "
      "%llu, \"http10\": %llu, \"resets\": %llu, \"reuse_note\": %s}",
      x->dns_us / 1e3, x->connect_us / 1e3, x->wait_us / 1e3,
      x->transfer_us / 1e3, x->queue_us / 1e3, x->backoff_us / 1e3, model,
      (unsigned long long)cli_insight_needed(x, r->s, r->k),
      (unsigned long long)x->server_closed, (unsigned long long)x->http10,
      (unsigned long long)x->resets, quoted);
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
