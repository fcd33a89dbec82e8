/* --waterfall=FILE.svg (see waterfall.h).
 *
 * Layout: a title and legend, a shared time axis (one scale for every run:
 * the longest run spans PLOT_W pixels), then one section per run. A
 * section has one lane per connection (distinct local port, in order of
 * first use; requests that never connected share a last "no connection"
 * lane). Each request is a bar at its admission time, split into phases.
 *
 * Scale limits, so 10,000 requests still give a small, readable file:
 *  - more than MAX_ROWS lanes: consecutive lanes share a row;
 *  - a request whose bar would be under one pixel, every request of a
 *    shared row, and every request of a run of more than BAR_BUDGET / runs
 *    requests, is drawn in a per-pixel-column density strip (class
 *    "agg") instead.
 *
 * For tests and tools: each run is <g class="run" data-strategy
 * data-requests data-lanes>; each lane row <g class="lane" data-lanes>;
 * each bar carries class "req" once; each aggregate <g class="agg"
 * data-requests>. Bars plus aggregated requests equal data-requests. */
#include "waterfall.h"

#include "url.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LEFT 130       /* lane labels */
#define PLOT_W 1200    /* the time axis, pixels */
#define RIGHT 40
#define MAX_ROWS 160   /* lane rows per run */
#define ROWS_PX 480    /* height budget of a run's lanes */
#define BAR_BUDGET 6000 /* individual bars in the file, shared by runs */

/* Phases in the order drawn. */
enum { PH_BACK, PH_DNS, PH_CONN, PH_TLS, PH_WAIT, PH_RECV, NPH };
static const char *const ph_cls[NPH] = {"b", "d", "c", "t", "w", "r"};
static const char *const ph_name[NPH] = {"backoff", "DNS",     "connect",
                                         "TLS",     "waiting", "receive"};
static const char *const ph_col[NPH] = {"#e377c2", "#17becf", "#ff7f0e",
                                        "#9467bd", "#2ca02c", "#1f77b4"};

typedef struct {
  FILE *f;
  int err; /* first errno */
} out_t;

typedef struct {
  size_t first, count;   /* the run's requests */
  unsigned nlanes, per_row, rows, row_h;
  int noconn;            /* the last lane is "no connection" */
  adl_strategy_t strategy;
  unsigned k;            /* max_connections */
  double y;              /* top of the section */
} layout_t;

typedef struct {
  const cli_trace_t *t;
  out_t o;
  double scale;          /* px per µs, all runs */
  uint64_t span_us;      /* what PLOT_W stands for */
  size_t *order;         /* per run: its requests sorted by start */
  unsigned *lane;        /* per request (trace index - run first) */
  double *col;           /* NPH x PLOT_W busy pixels, aggregation */
  layout_t *lay;
  double height;
} wf_t;

/* ---- output ------------------------------------------------------------ */

static void put(out_t *o, const char *fmt, ...) {
  va_list ap;
  if (o->err != 0)
    return;
  va_start(ap, fmt);
  if (vfprintf(o->f, fmt, ap) < 0)
    o->err = errno != 0 ? errno : EIO;
  va_end(ap);
}

/* Text as XML character data: markup escaped, bytes XML cannot carry (C0
 * controls, broken UTF-8) as '?'. */
static void put_esc(out_t *o, const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    size_t k = cli_utf8_len(u + i, n - i);
    unsigned char c = u[i];
    const char *e = k == 0 || (k == 1 && c < 0x20) ? "?"
                    : c == '&'                     ? "&amp;"
                    : c == '<'                     ? "&lt;"
                    : c == '>'                     ? "&gt;"
                    : c == '"'                     ? "&quot;"
                                                   : NULL;
    put(o, "%.*s", e != NULL ? (int)strlen(e) : (int)k, e != NULL ? e : s + i);
    i += k > 0 ? k : 1;
  }
}

/* ---- figures ----------------------------------------------------------- */

/* The phases of one request, µs. The final attempt is laid out after the
 * backoffs; earlier attempts are not separated. With --local the fixture
 * emulates the handshake's round trip inside the first response on a new
 * connection, so one rtt of its "waiting" is moved to "connect". */
static uint64_t sub0(uint64_t a, uint64_t b) { return a > b ? a - b : 0; }
static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

static void phases(const cli_trace_t *t, const cli_trace_req_t *q,
                   uint64_t us[NPH]) {
  uint64_t pre = q->dns_us + q->connect_us + q->tls_us;
  uint64_t rest = sub0(q->total_us, q->backoff_us + pre);
  us[PH_BACK] = q->backoff_us;
  us[PH_DNS] = q->dns_us;
  us[PH_CONN] = q->connect_us;
  us[PH_TLS] = q->tls_us;
  /* No first byte (a failure): all the rest was waiting. */
  us[PH_WAIT] = q->ttfb_us == 0 ? rest : min64(sub0(q->ttfb_us, pre), rest);
  us[PH_RECV] = rest - us[PH_WAIT];
  if (t->local && t->rtt_ms > 0 && q->new_connections > 0) {
    uint64_t r = min64((uint64_t)t->rtt_ms * 1000, us[PH_WAIT]);
    us[PH_WAIT] -= r;
    us[PH_CONN] += r;
  }
}

static uint64_t req_span(const cli_trace_req_t *q) {
  uint64_t pre = q->backoff_us + q->dns_us + q->connect_us + q->tls_us;
  return q->total_us > pre ? q->total_us : pre;
}

/* The cost model's wall time for a run, seconds; < 0 when there is none. */
static double model_s(const cli_trace_t *t, const cli_trace_run_t *r,
                      const char **formula) {
  double n = (double)r->count, rt = t->rtt_ms / 1000.0;
  unsigned k = r->max_connections > 0 ? r->max_connections : 1;
  *formula = "";
  if (!t->local || t->rtt_ms == 0)
    return -1;
  switch (r->strategy) {
  case ADL_STRATEGY_SERIAL:
    *formula = "N\xC3\x97" "2r";
    return n * 2 * rt;
  case ADL_STRATEGY_SESSION:
    *formula = "r + N\xC3\x97r";
    return rt + n * rt;
  default:
    *formula = "r + \xE2\x8C\x88N/K\xE2\x8C\x89\xC3\x97r";
    return rt + (double)((r->count + k - 1) / k) * rt;
  }
}

/* Tick spacing of 1, 2 or 5 times a power of ten, about 10 ticks. */
static double tick_step(double span_us) {
  double raw = span_us / 10, p = 1;
  while (p * 10 <= raw)
    p *= 10;
  return raw <= p ? p : raw <= 2 * p ? 2 * p : raw <= 5 * p ? 5 * p : 10 * p;
}

/* ---- lanes ------------------------------------------------------------- */

typedef struct {
  uint64_t start;
  size_t i;
} skey_t;

static int key_cmp(const void *a, const void *b) {
  const skey_t *x = a, *y = b;
  if (x->start != y->start)
    return x->start < y->start ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* Sorts the run's requests by start and gives each a lane: one per local
 * port, a new one when a port comes back on a new connection after its
 * last request ended; port 0 goes on a last "no connection" lane. */
static int assign_lanes(wf_t *w, layout_t *l) {
  const cli_trace_req_t *reqs = w->t->reqs;
  skey_t *k = malloc((l->count + 1) * sizeof(*k));
  unsigned *map = calloc(65536, sizeof(*map)); /* port -> lane + 1 */
  uint64_t *end = malloc((l->count + 1) * sizeof(*end));
  if (k == NULL || map == NULL || end == NULL) {
    free(k), free(map), free(end);
    return -ENOMEM;
  }
  for (size_t i = 0; i < l->count; i++)
    k[i] = (skey_t){reqs[l->first + i].start_us, l->first + i};
  qsort(k, l->count, sizeof(*k), key_cmp);
  unsigned n = 0;
  for (size_t i = 0; i < l->count; i++) {
    const cli_trace_req_t *q = &reqs[k[i].i];
    unsigned p = (unsigned)q->local_port & 0xFFFF, *lane = &w->lane[k[i].i];
    w->order[l->first + i] = k[i].i;
    if (q->local_port <= 0) {
      l->noconn = 1;
      *lane = UINT_MAX;
      continue;
    }
    if (map[p] == 0 ||
        (q->new_connections > 0 && q->start_us >= end[map[p] - 1]))
      map[p] = ++n, end[n - 1] = 0;
    *lane = map[p] - 1;
    if (q->start_us + req_span(q) > end[*lane])
      end[*lane] = q->start_us + req_span(q);
  }
  for (size_t i = 0; i < l->count; i++)
    if (w->lane[l->first + i] == UINT_MAX)
      w->lane[l->first + i] = n;
  l->nlanes = n + (unsigned)l->noconn;
  free(k), free(map), free(end);
  return 0;
}

static void size_rows(layout_t *l) {
  unsigned n = l->nlanes > 0 ? l->nlanes : 1;
  l->per_row = (n + MAX_ROWS - 1) / MAX_ROWS;
  l->rows = (n + l->per_row - 1) / l->per_row;
  l->row_h = ROWS_PX / l->rows;
  l->row_h = l->row_h < 3 ? 3 : l->row_h > 14 ? 14 : l->row_h;
}

#define HEAD_H 96.0    /* title, legend, notes, axis */
#define RUN_HEAD 40.0  /* a section's two label lines */
#define RUN_GAP 18.0

static int plan(wf_t *w) {
  const cli_trace_t *t = w->t;
  uint64_t span = 1;
  double y = HEAD_H;
  for (size_t r = 0; r < t->nruns; r++) {
    const cli_trace_run_t *run = &t->runs[r];
    layout_t *l = &w->lay[r];
    l->first = run->first;
    l->count = run->count;
    l->strategy = run->strategy;
    l->k = run->max_connections;
    if (l->first > t->n || l->count > t->n - l->first)
      return -EINVAL;
    int rc = assign_lanes(w, l);
    if (rc != 0)
      return rc;
    size_rows(l);
    l->y = y;
    y += RUN_HEAD + (double)l->rows * l->row_h + RUN_GAP;
    if (run->wall_us > span)
      span = run->wall_us;
    for (size_t i = l->first; i < l->first + l->count; i++)
      if (t->reqs[i].start_us + req_span(&t->reqs[i]) > span)
        span = t->reqs[i].start_us + req_span(&t->reqs[i]);
  }
  w->span_us = span;
  w->scale = PLOT_W / (double)span;
  w->height = y + 30;
  return 0;
}

/* ---- drawing ----------------------------------------------------------- */

static void put_style(out_t *o) {
  put(o, "<style>\ntext{font-family:sans-serif;font-size:12px;fill:#222}\n"
         ".h1{font-size:16px;font-weight:bold}.h2{font-weight:bold}"
         ".s{font-size:10px;fill:#555}.grid{stroke:#ddd;stroke-width:1}"
         ".lanebg{fill:#f6f6f6}.f{fill:#d62728}"
         ".fail rect{stroke:#d62728;stroke-width:0.8}\n"
         ".o1{fill-opacity:.25}.o2{fill-opacity:.5}.o3{fill-opacity:.75}\n");
  for (int p = 0; p < NPH; p++)
    put(o, ".%s{fill:%s}", ph_cls[p], ph_col[p]);
  put(o, "\n</style>\n");
}

static void put_header(wf_t *w) {
  const cli_trace_t *t = w->t;
  size_t ok = 0;
  for (size_t i = 0; i < t->n; i++)
    ok += t->reqs[i].status == 0;
  out_t *o = &w->o;
  put(o, "<text class=\"h1\" x=\"10\" y=\"22\">asyncdl network waterfall: "
         "%zu run%s, %zu requests (%zu ok, %zu failed); model: ",
      t->nruns, t->nruns == 1 ? "" : "s", t->n, ok, t->n - ok);
  if (t->local && t->rtt_ms > 0)
    put(o, "r = %u ms (--local): serial \xE2\x89\x88 N\xC3\x97" "2r, session "
           "\xE2\x89\x88 r + N\xC3\x97r, parallel \xE2\x89\x88 r + "
           "\xE2\x8C\x88N/K\xE2\x8C\x89\xC3\x97r</text>\n", t->rtt_ms);
  else
    put(o, "n/a</text>\n");
  double x = 10;
  for (int p = 0; p < NPH; p++) {
    put(o, "<rect class=\"%s\" x=\"%.0f\" y=\"34\" width=\"14\" height=\"12\"/>"
           "<text x=\"%.0f\" y=\"45\">%s</text>\n",
        ph_cls[p], x, x + 18, ph_name[p]);
    x += 30 + 8.0 * strlen(ph_name[p]);
  }
  put(o, "<rect class=\"w\" x=\"%.0f\" y=\"34\" width=\"14\" height=\"12\" "
         "style=\"stroke:#d62728;stroke-width:1.5\"/><text x=\"%.0f\" "
         "y=\"45\">failed (red outline)</text>\n", x, x + 18);
  put(o, "<text class=\"s\" x=\"10\" y=\"62\">Bars start when the request "
         "was admitted (queue time is in the tooltips). Faint strips: "
         "requests aggregated where bars would be under 1 px, darker = "
         "busier.%s</text>\n",
      t->local && t->rtt_ms > 0
          ? " --local: the emulated handshake round trip (one r, inside the "
            "first response on a new connection) is drawn as connect."
          : "");
}

static void put_axis(wf_t *w) {
  out_t *o = &w->o;
  double step = tick_step((double)w->span_us);
  int in_s = w->span_us >= 2000000;
  put(o, "<g class=\"axis\">\n");
  for (double us = 0; us <= (double)w->span_us * 1.0001; us += step) {
    double x = LEFT + us * w->scale;
    put(o, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" "
           "y2=\"%.0f\"/>",
        x, HEAD_H - 12, x, w->height - 24);
    for (int end = 0; end < 2; end++) {
      put(o, "<text class=\"s\" x=\"%.1f\" y=\"%.0f\" "
             "text-anchor=\"middle\">", x, end ? w->height - 10 : HEAD_H - 16);
      put(o, in_s ? "%g s</text>" : "%g ms</text>", us / (in_s ? 1e6 : 1e3));
    }
    put(o, "\n");
  }
  put(o, "</g>\n");
}

static void put_run_head(wf_t *w, const cli_trace_run_t *run,
                         const layout_t *l) {
  const cli_trace_t *t = w->t;
  out_t *o = &w->o;
  size_t ok = 0;
  for (size_t i = l->first; i < l->first + l->count; i++)
    ok += t->reqs[i].status == 0;
  const char *name = adl_strategy_name(run->strategy);
  put(o, "<text class=\"h2\" x=\"10\" y=\"%.0f\">%s", l->y + 14, name);
  if (run->repeat > 1)
    put(o, " (repeat %u)", run->repeat);
  if (run->strategy == ADL_STRATEGY_PARALLEL)
    put(o, ", K = %u", run->max_connections);
  put(o, ": wall %.3f s, %u connection%s, %zu ok, %zu failed</text>\n",
      run->wall_us / 1e6, l->nlanes - (unsigned)l->noconn,
      l->nlanes - l->noconn == 1 ? "" : "s", ok, l->count - ok);
  const char *formula;
  double m = model_s(t, run, &formula);
  put(o, "<text class=\"s\" x=\"10\" y=\"%.0f\">", l->y + 30);
  if (m > 0)
    put(o, "model: %s \xE2\x89\x88 %.3f s (N = %zu, r = %u ms), "
           "measured/model %.2f", formula, m, l->count, t->rtt_ms,
        run->wall_us / 1e6 / m);
  else
    put(o, "model: n/a");
  if (l->per_row > 1)
    put(o, "; %u lanes per row", l->per_row);
  put(o, "</text>\n");
}

static void put_title_line(out_t *o, const cli_trace_t *t,
                           const cli_trace_req_t *q, const uint64_t us[NPH]) {
  put(o, "<title>");
  put_esc(o, q->url);
  put(o, "&#10;");
  put(o, "%s", q->status != 0 ? adl_strerror(q->status) : "ok");
  if (q->http_status > 0)
    put(o, ", HTTP %ld", q->http_status);
  if (q->http_version > 0)
    put(o, " (HTTP/%d.%d)", q->http_version / 10, q->http_version % 10);
  put(o, ", %llu B, port %d, %u new connection%s, %u attempt%s%s&#10;"
         "start %.3f ms, queue %.3f ms",
      (unsigned long long)q->bytes, q->local_port, q->new_connections,
      q->new_connections == 1 ? "" : "s", q->attempts,
      q->attempts == 1 ? "" : "s", q->server_closed ? ", server closed" : "",
      q->start_us / 1e3, q->queue_us / 1e3);
  for (int p = 0; p < NPH; p++)
    if (us[p] > 0 || p == PH_WAIT)
      put(o, ", %s %.3f ms", ph_name[p], us[p] / 1e3);
  put(o, ", total %.3f ms%s</title>", q->total_us / 1e3,
      t->local && t->rtt_ms > 0 && q->new_connections > 0
          ? " (connect includes the emulated handshake r)"
          : "");
}

static void put_bar(wf_t *w, const cli_trace_req_t *q, double y, double h) {
  uint64_t us[NPH];
  out_t *o = &w->o;
  phases(w->t, q, us);
  put(o, "<g class=\"req%s\">", q->status != 0 ? " fail" : "");
  put_title_line(o, w->t, q, us);
  double x = LEFT + q->start_us * w->scale;
  int drawn = 0;
  for (int p = 0; p < NPH; p++) {
    double wd = us[p] * w->scale;
    if (wd <= 0)
      continue;
    put(o, "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" "
           "height=\"%g\"/>", ph_cls[p], x, y, wd, h);
    x += wd, drawn = 1;
  }
  if (!drawn || req_span(q) * w->scale < 1) /* a failure with no time */
    put(o, "<rect class=\"f\" x=\"%.2f\" y=\"%.1f\" width=\"1\" "
           "height=\"%.1f\"/>", LEFT + q->start_us * w->scale, y, h);
  put(o, "</g>\n");
}

/* Adds [x0, x1) pixels of time to per-column busy counters. */
static void spread(double *col, double x0, double x1) {
  if (x0 < 0)
    x0 = 0;
  if (x1 > PLOT_W)
    x1 = PLOT_W;
  for (int c = (int)x0; c < PLOT_W && c < x1; c++) {
    double a = x0 > c ? x0 : c, b = x1 < c + 1 ? x1 : c + 1;
    if (b > a)
      col[c] += b - a;
  }
}

static void accumulate(wf_t *w, const cli_trace_req_t *q) {
  uint64_t us[NPH];
  phases(w->t, q, us);
  double x = q->start_us * w->scale;
  for (int p = 0; p < NPH; p++) {
    double wd = us[p] * w->scale;
    spread(w->col + (size_t)p * PLOT_W, x, x + wd);
    x += wd;
  }
}

/* One column: its dominant phase and a darkness level 1..4 (0: idle). */
static int column(const wf_t *w, int c, unsigned lanes, int *phase) {
  double sum = 0, best = 0;
  *phase = PH_WAIT;
  for (int p = 0; p < NPH; p++) {
    double v = w->col[(size_t)p * PLOT_W + c];
    sum += v;
    if (v > best)
      best = v, *phase = p;
  }
  if (sum <= 0)
    return 0;
  int level = (int)(sum / lanes * 4 + 0.999);
  return level < 1 ? 1 : level > 4 ? 4 : level;
}

static void put_strips(wf_t *w, unsigned lanes, double y, double h) {
  int run_p = 0, run_l = 0, start = 0;
  for (int c = 0; c <= PLOT_W; c++) {
    int p = 0, lv = c < PLOT_W ? column(w, c, lanes, &p) : 0;
    if (c < PLOT_W && lv == run_l && p == run_p)
      continue;
    if (run_l > 0)
      put(&w->o, "<rect class=\"%s%s%.0d\" x=\"%d\" y=\"%.1f\" "
                 "width=\"%d\" height=\"%.1f\"/>",
          ph_cls[run_p], run_l < 4 ? " o" : "", run_l < 4 ? run_l : 0,
          LEFT + start, y, c - start, h);
    run_p = p, run_l = lv, start = c;
  }
  memset(w->col, 0, NPH * PLOT_W * sizeof(*w->col));
}

static int drawn_alone(const wf_t *w, const layout_t *l,
                       const cli_trace_req_t *q) {
  return l->per_row == 1 && l->count <= BAR_BUDGET / w->t->nruns &&
         (req_span(q) * w->scale >= 1 || q->status != 0);
}

static void put_row_label(wf_t *w, const layout_t *l, unsigned row, double y) {
  unsigned a = row * l->per_row, b = a + l->per_row;
  if (b > l->nlanes)
    b = l->nlanes;
  if (l->row_h < 9 && row != 0 && row + 1 != l->rows &&
      (row % 10 != 9 || row + 4 > l->rows))
    return;
  put(&w->o, "<text class=\"s\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\" "
             "style=\"font-size:%upx\">", LEFT - 6,
      y + l->row_h - 1.5, l->row_h < 9 ? 8 : l->row_h < 11 ? l->row_h : 10);
  if (l->noconn && b == l->nlanes && a + 1 == b)
    put(&w->o, "no connection");
  else if (b - a == 1)
    put(&w->o, "conn %u", a + 1);
  else
    put(&w->o, "conns %u\xE2\x80\x93%u", a + 1, b);
  put(&w->o, "</text>");
}

/* One row: the idx[0..n) requests (by start) of lanes on it. */
static void put_row(wf_t *w, const layout_t *l, unsigned row,
                    const size_t *idx, size_t n) {
  const cli_trace_req_t *reqs = w->t->reqs;
  double y = l->y + RUN_HEAD + (double)row * l->row_h;
  double h = l->row_h > 4 ? l->row_h - 2 : l->row_h - 1;
  unsigned lanes = l->per_row;
  if ((row + 1) * l->per_row > l->nlanes)
    lanes = l->nlanes - row * l->per_row;
  put(&w->o, "<g class=\"lane\" data-lanes=\"%u\">", lanes);
  if (row % 2 == 0)
    put(&w->o, "<rect class=\"lanebg\" x=\"%d\" y=\"%.1f\" width=\"%d\" "
               "height=\"%u\"/>", LEFT, y, PLOT_W, l->row_h);
  put_row_label(w, l, row, y);
  put(&w->o, "\n");
  size_t agg = 0;
  for (size_t i = 0; i < n; i++)
    if (!drawn_alone(w, l, &reqs[idx[i]]))
      agg++, accumulate(w, &reqs[idx[i]]);
  if (agg > 0) { /* darkness against the most that can be busy at once */
    unsigned busy = l->strategy == ADL_STRATEGY_PARALLEL ? l->k : 1;
    put(&w->o, "<g class=\"agg\" data-requests=\"%zu\"><title>%zu "
               "request%s drawn as density (bars under 1 px), %u lane%s"
               "</title>", agg, agg, agg == 1 ? "" : "s", lanes,
        lanes == 1 ? "" : "s");
    put_strips(w, busy < lanes && busy > 0 ? busy : lanes, y + 0.5, h);
    put(&w->o, "</g>\n");
  }
  for (size_t i = 0; i < n; i++)
    if (drawn_alone(w, l, &reqs[idx[i]]))
      put_bar(w, &reqs[idx[i]], y + 0.5, h);
  put(&w->o, "</g>\n");
}

static int put_run(wf_t *w, size_t r) {
  const layout_t *l = &w->lay[r];
  size_t *start = calloc(l->rows + 1, sizeof(*start));
  size_t *idx = malloc((l->count + 1) * sizeof(*idx));
  if (start == NULL || idx == NULL) {
    free(start), free(idx);
    return -ENOMEM;
  }
  /* Stable bucket sort of the start-ordered requests by row. */
  for (size_t i = 0; i < l->count; i++)
    start[w->lane[w->order[l->first + i]] / l->per_row + 1]++;
  for (unsigned k = 0; k < l->rows; k++)
    start[k + 1] += start[k];
  for (size_t i = 0; i < l->count; i++) {
    size_t q = w->order[l->first + i];
    idx[start[w->lane[q] / l->per_row]++] = q;
  }
  const cli_trace_run_t *run = &w->t->runs[r];
  put(&w->o, "<g class=\"run\" data-strategy=\"%s\" data-repeat=\"%u\" "
             "data-requests=\"%zu\" data-lanes=\"%u\">\n",
      adl_strategy_name(run->strategy), run->repeat, l->count, l->nlanes);
  put_run_head(w, run, l);
  size_t from = 0;
  for (unsigned k = 0; k < l->rows; k++) {
    put_row(w, l, k, idx + from, start[k] - from);
    from = start[k];
  }
  put(&w->o, "</g>\n");
  free(start), free(idx);
  return 0;
}

static int put_svg(wf_t *w) {
  int width = LEFT + PLOT_W + RIGHT;
  out_t *o = &w->o;
  put(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
         "height=\"%.0f\" viewBox=\"0 0 %d %.0f\">\n"
         "<title>asyncdl network waterfall</title>\n",
      width, w->height, width, w->height);
  put_style(o);
  put(o, "<rect width=\"100%%\" height=\"100%%\" fill=\"#fff\"/>\n");
  put_header(w);
  put_axis(w);
  for (size_t r = 0; r < w->t->nruns; r++) {
    int rc = put_run(w, r);
    if (rc != 0)
      return rc;
  }
  put(o, "</svg>\n");
  return 0;
}

/* ---- the file ---------------------------------------------------------- */

/* A new file next to path: its descriptor, the name in tmp; -errno. */
static int open_temp(const char *path, char *tmp, size_t len) {
  for (unsigned i = 0; i < 100; i++) {
    if ((size_t)snprintf(tmp, len, "%s.%ld.%u.tmp", path, (long)getpid(),
                         i) >= len)
      return -ENAMETOOLONG;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0666);
    if (fd >= 0 || errno != EEXIST)
      return fd >= 0 ? fd : -errno;
  }
  return -EEXIST;
}

static int write_file(wf_t *w, const char *path, char *err, size_t errlen) {
  char tmp[4096];
  int fd = open_temp(path, tmp, sizeof(tmp));
  if (fd < 0)
    return cli_fail(fd, err, errlen, "%s: cannot create: %s", path,
                    strerror(-fd));
  w->o.f = fdopen(fd, "w");
  if (w->o.f == NULL) {
    int e = errno;
    close(fd), unlink(tmp);
    return cli_fail(-e, err, errlen, "%s: %s", path, strerror(e));
  }
  int rc = put_svg(w);
  if (fflush(w->o.f) != 0 && w->o.err == 0)
    w->o.err = errno;
  if (fsync(fd) != 0 && w->o.err == 0 && errno != EINVAL)
    w->o.err = errno;
  if (fclose(w->o.f) != 0 && w->o.err == 0)
    w->o.err = errno;
  if (rc == 0 && w->o.err != 0)
    rc = -w->o.err;
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -errno;
  if (rc != 0) {
    unlink(tmp);
    return cli_fail(rc, err, errlen, "%s: %s", path, strerror(-rc));
  }
  return 0;
}

int cli_waterfall_write(const cli_trace_t *t, const char *path, char *err,
                        size_t errlen) {
  wf_t w = {.t = t};
  size_t n = t->n > 0 ? t->n : 1;
  w.order = malloc(n * sizeof(*w.order));
  w.lane = malloc(n * sizeof(*w.lane));
  w.col = calloc(NPH * PLOT_W, sizeof(*w.col));
  w.lay = calloc(t->nruns > 0 ? t->nruns : 1, sizeof(*w.lay));
  int rc = -ENOMEM;
  if (w.order != NULL && w.lane != NULL && w.col != NULL && w.lay != NULL)
    rc = plan(&w);
  if (rc != 0)
    cli_fail(rc, err, errlen, "%s: %s", path,
             rc == -ENOMEM ? "out of memory" : "inconsistent trace");
  else
    rc = write_file(&w, path, err, errlen);
  free(w.order), free(w.lane), free(w.col), free(w.lay);
  return rc;
}
