/* Seeded random re-entrancy test (requirement 7a). Thousands of random
 * operation sequences against three in-process fixture servers (three
 * origins): each sequence makes a client with random options, then starts
 * requests (good documents, HTTP errors, faults, refused and unreachable
 * addresses, unsupported schemes, malformed URLs), cancels ids (live,
 * finished, 0 and never issued), closes the client, and does the same from
 * inside done and data callbacks. After every call and callback it checks
 * the library's promises:
 *   - every accepted request gets exactly one done callback, never inside
 *     an API call (not even the adl_request_start that made it), with
 *     res->id the id start returned and a known status that fits the URL
 *     (ECANCELED only after a successful cancel, an aborting on_data or a
 *     close; a cancel that returned 0 always ends in ECANCELED);
 *   - no body byte reaches on_data after the request was cancelled or the
 *     client closed; the bytes that do are the document's;
 *   - cancelling a finished id (or 0, or an id never issued) is ADL_ENOENT;
 *   - adl_client_pending() counts exactly the requests not yet reported;
 *   - after adl_client_close, adl_request_start returns ADL_ECLOSING, every
 *     outstanding request completes, the close callback runs once with
 *     nothing pending, and no callback of any kind comes after it;
 *   - the in-flight window, seen from the servers: requests in flight (sum
 *     over the three fixtures, sampled every loop iteration) never exceed
 *     the window (K for parallel, 1 for serial and session), nor one
 *     origin's share (max_per_host); open connections stay within the
 *     connection caps (see check_window for the slack and why);
 *   - at the end every fixture closes and uv_loop_close returns 0.
 *
 * Environment:
 *   ADL_REENTRANCY_SEEDS=N   run seeds 1..N (default 300; 150 under valgrind)
 *   ADL_REENTRANCY_FIRST=A   first seed (default 1)
 *   ADL_REENTRANCY_SEED=N    run only seed N (replay of a failure)
 *   ADL_REENTRANCY_VERBOSE=1 print every operation as it happens
 *   ADL_REENTRANCY_WATCHDOG_MS  per-sequence hang limit (10000; 60000 under
 *                               valgrind)
 * A seed fixes the client's options and the driver's operations; what a
 * callback does is drawn from a generator of its own request, so a replay
 * repeats every decision, though the network's timing (which request
 * finishes first) may still differ from run to run. On a failure the seed
 * and the last operations are printed. */
#include "adl-test.h"

#include "asyncdl.h"
#include "fixture.h"
#include "pokedex.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if UNDER_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define NFX 3
#define MAXREQ 128       /* requests a sequence may start (cap) */
#define TRACE_LINES 96   /* operations kept for the failure report */
#define DRAIN_CAP_MS 60  /* END_DRAIN: close after this anyway */

/* How a sequence ends once the driver is out of operations. */
enum {
  END_CLOSE,  /* close at once, whatever is in flight */
  END_DRAIN,  /* close when everything finished, or after DRAIN_CAP_MS */
  END_FINISH, /* cancel the stalled requests (only a timeout would end
                 them), then wait, however long, until every request has
                 its outcome: a request that never gets one (a leaked
                 slot, a lost wake-up) trips the watchdog */
};

/* ---- deterministic generator (splitmix64) ------------------------------ */

static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* A generator's start from a number: mixed, so that the streams of
 * neighbouring seeds are unrelated (plain seed * gamma would make seed n+1's
 * stream seed n's shifted by one draw). */
static uint64_t rng_seed(uint64_t a, uint64_t b) {
  uint64_t t = a ^ 0x5851f42d4c957f2dull;
  uint64_t x = rng_next(&t);
  t = x ^ b;
  return rng_next(&t);
}

static unsigned rng_below(uint64_t *s, unsigned n) {
  return (unsigned)(rng_next(s) % n);
}

static int rng_pct(uint64_t *s, unsigned pct) {
  return rng_below(s, 100) < pct;
}

/* ---- the URLs ---------------------------------------------------------- */

typedef enum {
  K_GOOD,       /* /api/v2/pokemon/<name>: 200 */
  K_404,        /* /api/v2/pokemon/<unknown>: 404 */
  K_503,        /* /fault/status/503?retry-after=0: retried, then EHTTP */
  K_FLAKY,      /* /fault/flaky/<id>?fail=1: 503 once, then 200 */
  K_REDIR2,     /* /fault/redirect/2 */
  K_REDIR_LOOP, /* /fault/redirect-loop */
  K_STALL,      /* /fault/stall-headers: only a timeout or cancel ends it */
  K_RESET_MID,  /* /fault/reset-mid */
  K_SHORT,      /* /fault/short */
  K_CLOSE,      /* /fault/close */
  K_UNREACH,    /* http://255.255.255.255/x */
  K_REFUSED,    /* http://127.0.0.1:1/x */
  K_SCHEME,     /* ftp://x/y: ESCHEME without touching the network */
  K_BADURL,     /* "not a url": EURL */
  K_NKINDS
} kind_t;

static const char *const kind_names[K_NKINDS] = {
    "good",  "404",       "503",   "flaky",   "redirect2", "redirect-loop",
    "stall", "reset-mid", "short", "close",   "unreach",   "refused",
    "scheme", "badurl"};

/* Relative weights: half the requests are good documents. */
static const unsigned kind_weight[K_NKINDS] = {40, 4, 4, 5, 5, 3, 5,
                                               4,  4, 4, 3, 4, 3, 3};

static kind_t pick_kind(uint64_t *rng) {
  unsigned total = 0;
  for (unsigned i = 0; i < K_NKINDS; i++)
    total += kind_weight[i];
  unsigned x = rng_below(rng, total);
  for (unsigned i = 0; i < K_NKINDS; i++) {
    if (x < kind_weight[i])
      return (kind_t)i;
    x -= kind_weight[i];
  }
  return K_GOOD;
}

/* ---- state ------------------------------------------------------------- */

typedef struct seq_s seq_t;

typedef struct req_s {
  seq_t *seq;
  unsigned idx;
  kind_t kind;
  int fx;              /* fixture index, -1 when none */
  adl_sink_t sink;
  char url[192];
  char name[80];       /* document a 200 answer carries ("" none) */
  char *want;          /* that document (pokedex_body) */
  size_t want_len;
  adl_request_id_t id;
  int in_start;        /* inside the adl_request_start that makes it */
  int accepted;        /* adl_request_start returned 0 */
  unsigned done_calls;
  int cancelled;       /* adl_request_cancel returned 0 for it */
  int aborted;         /* its on_data returned nonzero */
  unsigned data_calls;
  uint64_t data_bytes; /* body bytes since the last restart */
  unsigned restarts;   /* a retry started the body again */
  unsigned abort_at;   /* on_data call that returns nonzero, 0 = never */
  uint64_t rng;        /* decisions of this request's callbacks */
} req_t;

struct seq_s {
  uint64_t seed;
  uint64_t rng; /* the driver's decisions */
  adl_client_t *client;
  adl_options_t opts;
  unsigned k_eff, per_host_eff;
  req_t req[MAXREQ];
  unsigned nreq;
  unsigned outstanding; /* accepted, done callback not yet entered */
  unsigned ops_left;
  int end_mode;         /* what the driver does when out of operations:
                           END_CLOSE, END_DRAIN or END_FINISH */
  uint64_t end_start;
  unsigned post_close_ops;
  int close_called;
  unsigned close_cb_calls;
  unsigned flaky_n;
  unsigned max_sum_inflight, max_sum_open; /* sampled, servers' view */
  unsigned max_cli_total, max_cli[NFX];    /* sampled, client's sockets */
  uint64_t t0;
};

static struct {
  unsigned long seqs, seqs_drained, ops, starts, starts_refused, cancels, cancels_ok,
      closes, reentrant, dones, timeouts_allowed, aborts, done_ok;
  unsigned long by_kind[K_NKINDS];
  unsigned max_sum_inflight_seen, max_cli_seen;
  unsigned window_slack_used;
} g_stats;

static uv_loop_t g_loop;
static fixture_t *g_fx[NFX];
static char g_base[NFX][64];
static seq_t g_seq_storage;
static seq_t *g_seq;       /* the sequence running, NULL between them */
static int g_api_depth;    /* inside an adl_* call of ours */
static int g_verbose;
static int g_under_valgrind;
static uint64_t g_watchdog_ms = 10000;
static uv_timer_t g_driver, g_watchdog, g_tick;
static uv_check_t g_monitor;
static unsigned g_ticks;
static int g_done_all;
static char g_fail_note[160]; /* written before each sequence, async-safe */
static char g_trace[TRACE_LINES][200];
static unsigned g_ntrace;

static void trace(const char *fmt, ...) {
  char *line = g_trace[g_ntrace++ % TRACE_LINES];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(g_trace[0]), fmt, ap);
  va_end(ap);
  if (g_verbose)
    fprintf(stderr, "  %s\n", line);
}

static void dump_trace(void) {
  unsigned first = g_ntrace > TRACE_LINES ? g_ntrace - TRACE_LINES : 0;
  fprintf(stderr, "last operations (oldest first):\n");
  for (unsigned i = first; i < g_ntrace; i++)
    fprintf(stderr, "  %s\n", g_trace[i % TRACE_LINES]);
}

static void report_failure(void) {
  if (g_done_all || g_seq == NULL)
    return;
  dump_trace();
  fprintf(stderr, "%s", g_fail_note);
}

static void on_abort_signal(int sig) {
  /* A library assert(): only async-signal-safe calls here. */
  ssize_t n = write(2, g_fail_note, strlen(g_fail_note));
  (void)n;
  signal(sig, SIG_DFL);
  raise(sig);
}

#if UNDER_ASAN
static void on_asan_death(void) { report_failure(); }
#endif

static int known_status(int st) {
  switch (st) {
#define ADL_XX_(name, val, msg)                                                \
  case ADL_##name:                                                             \
    return 1;
    ADL_ERRNO_MAP(ADL_XX_)
#undef ADL_XX_
  default:
    return 0;
  }
}

/* The client's own connections to each fixture, exactly: the sockets of
 * this process whose peer is a fixture (the servers' accepted sockets have
 * the client's ephemeral port as their peer). A socket the client closed is
 * gone at once, unlike the servers' count, which waits for the server to
 * read the EOF. fds are allocated lowest first, so scanning up to g_fd_scan
 * (set per sequence from /proc/self/fd, with room to spare) sees them all. */
static int g_fd_scan = 64;

static void set_fd_scan(void) {
  /* Below the soft limit: valgrind keeps its own fds above the limit it
   * shows the program. */
  struct rlimit rl;
  long lim = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (long)rl.rlim_cur : 1024;
  int hi = 0;
  DIR *d = opendir("/proc/self/fd");
  if (d != NULL) {
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      int fd = atoi(e->d_name);
      if (fd > hi && fd < lim)
        hi = fd;
    }
    closedir(d);
  }
  g_fd_scan = hi + 32;
}

static void count_client_conns(unsigned out[NFX]) {
  for (int i = 0; i < NFX; i++)
    out[i] = 0;
  for (int fd = 0; fd < g_fd_scan; fd++) {
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    if (getpeername(fd, (struct sockaddr *)&a, &len) != 0 ||
        len < sizeof(a) || a.sin_family != AF_INET ||
        a.sin_addr.s_addr != htonl(INADDR_LOOPBACK))
      continue;
    for (int i = 0; i < NFX; i++)
      if (ntohs(a.sin_port) == fixture_port(g_fx[i]))
        out[i]++;
  }
}

/* Requests in flight and open connections, from both sides. */
static void sample_window(void) {
  seq_t *s = g_seq;
  if (s == NULL)
    return;
  unsigned inflight = 0, open = 0;
  for (int i = 0; i < NFX; i++) {
    fixture_stats_t st;
    fixture_get_stats(g_fx[i], &st);
    inflight += st.inflight;
    open += st.open_connections;
  }
  if (inflight > s->max_sum_inflight)
    s->max_sum_inflight = inflight;
  if (open > s->max_sum_open)
    s->max_sum_open = open;
  unsigned cli[NFX], total = 0;
  count_client_conns(cli);
  for (int i = 0; i < NFX; i++) {
    total += cli[i];
    if (cli[i] > s->max_cli[i])
      s->max_cli[i] = cli[i];
  }
  if (total > s->max_cli_total)
    s->max_cli_total = total;
}

static void on_monitor(uv_check_t *h) {
  (void)h;
  sample_window();
}

static void check_pending(seq_t *s, unsigned in_done) {
  g_api_depth++;
  size_t p = adl_client_pending(s->client);
  g_api_depth--;
  ASSERT_EQ(p, s->outstanding + in_done);
}

/* ---- operations -------------------------------------------------------- */

static void on_done(adl_request_t *r, const adl_result_t *res);
static int on_data(adl_request_t *r, const char *buf, size_t len);
static void on_close(adl_client_t *c);

static void make_url(seq_t *s, req_t *q, uint64_t *rng) {
  q->fx = (int)rng_below(rng, NFX);
  const char *b = g_base[q->fx];
  q->name[0] = '\0';
  switch (q->kind) {
  case K_GOOD: {
    const char *n = pokedex_names[rng_below(rng, POKEDEX_COUNT)];
    snprintf(q->name, sizeof(q->name), "%s", n);
    snprintf(q->url, sizeof(q->url), "%s/api/v2/pokemon/%s", b, n);
    break;
  }
  case K_404:
    snprintf(q->url, sizeof(q->url), "%s/api/v2/pokemon/missingno-%u", b,
             q->idx);
    break;
  case K_503:
    snprintf(q->url, sizeof(q->url), "%s/fault/status/503?retry-after=0", b);
    break;
  case K_FLAKY: {
    /* A fresh id per request: the fixtures' counters are reset per
     * sequence, so its first attempt gets 503 and the next one 200. */
    char id[40];
    snprintf(id, sizeof(id), "fl-%llu-%u", (unsigned long long)s->seed,
             s->flaky_n++);
    snprintf(q->name, sizeof(q->name), "%s", id);
    snprintf(q->url, sizeof(q->url), "%s/fault/flaky/%s?fail=1", b, id);
    break;
  }
  case K_REDIR2:
    snprintf(q->name, sizeof(q->name), "redirected");
    snprintf(q->url, sizeof(q->url), "%s/fault/redirect/2", b);
    break;
  case K_REDIR_LOOP:
    snprintf(q->url, sizeof(q->url), "%s/fault/redirect-loop", b);
    break;
  case K_STALL:
    snprintf(q->url, sizeof(q->url), "%s/fault/stall-headers", b);
    break;
  case K_RESET_MID:
    snprintf(q->url, sizeof(q->url), "%s/fault/reset-mid", b);
    break;
  case K_SHORT:
    snprintf(q->url, sizeof(q->url), "%s/fault/short", b);
    break;
  case K_CLOSE:
    snprintf(q->url, sizeof(q->url), "%s/fault/close", b);
    break;
  case K_UNREACH:
    q->fx = -1;
    snprintf(q->url, sizeof(q->url), "http://255.255.255.255/x");
    break;
  case K_REFUSED:
    q->fx = -1;
    snprintf(q->url, sizeof(q->url), "http://127.0.0.1:1/x");
    break;
  case K_SCHEME:
    q->fx = -1;
    snprintf(q->url, sizeof(q->url), "ftp://x/y");
    break;
  case K_BADURL:
    q->fx = -1;
    snprintf(q->url, sizeof(q->url), "not a url");
    break;
  case K_NKINDS:
    break;
  }
  if (q->name[0] != '\0')
    ASSERT_EQ(pokedex_body(q->name, &q->want, &q->want_len), 0);
}

static void op_start(seq_t *s, uint64_t *rng, const char *where) {
  g_stats.ops++;
  if (s->nreq >= MAXREQ) {
    trace("%s: start skipped (cap)", where);
    return;
  }
  req_t *q = &s->req[s->nreq];
  memset(q, 0, sizeof(*q));
  q->seq = s;
  q->idx = s->nreq++;
  q->rng = rng_seed(s->seed, q->idx + 1);
  q->kind = pick_kind(rng);
  make_url(s, q, rng);
  q->sink = rng_pct(rng, 50) ? ADL_SINK_CALLBACK : ADL_SINK_DISCARD;
  if (q->sink == ADL_SINK_CALLBACK && rng_pct(rng, 15))
    q->abort_at = 1 + rng_below(rng, 2);
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  ro.sink = q->sink;
  ro.on_done = on_done;
  ro.data = q;
  if (q->sink == ADL_SINK_CALLBACK)
    ro.on_data = on_data;
  adl_request_id_t id = 0;
  q->in_start = 1;
  g_api_depth++;
  int rc = adl_request_start(s->client, q->url, &ro, &id);
  g_api_depth--;
  q->in_start = 0;
  g_stats.starts++;
  trace("%s: start #%u %s %s sink=%s abort_at=%u -> %s id=%llx", where,
        q->idx, kind_names[q->kind], q->url,
        q->sink == ADL_SINK_CALLBACK ? "cb" : "discard", q->abort_at,
        adl_err_name(rc), (unsigned long long)id);
  ASSERT_EQ(q->done_calls, 0); /* never inside the call */
  if (s->close_called) {
    ASSERT_EQ(rc, ADL_ECLOSING);
    ASSERT_EQ(id, 0);
    g_stats.starts_refused++;
    return;
  }
  ASSERT_EQ(rc, 0);
  ASSERT_NE(id, 0);
  for (unsigned i = 0; i < q->idx; i++) /* unique for the client's life */
    ASSERT(!s->req[i].accepted || s->req[i].id != id);
  q->id = id;
  q->accepted = 1;
  s->outstanding++;
  g_stats.by_kind[q->kind]++;
}

/* Cancels a random id: a request of this sequence (live or finished), 0,
 * or an id that was never issued. A request whose done callback has begun
 * (the one running included) must be unknown by now. */
static void op_cancel(seq_t *s, uint64_t *rng, const char *where) {
  g_stats.ops++;
  g_stats.cancels++;
  unsigned pick = rng_below(rng, 10);
  req_t *q = NULL;
  adl_request_id_t id;
  if (pick == 0 || s->nreq == 0) {
    id = 0;
  } else if (pick == 1) {
    id = 1 + rng_below(rng, 1000); /* generation 0: never issued */
  } else {
    q = &s->req[rng_below(rng, s->nreq)];
    id = q->id; /* 0 when its start was refused */
  }
  g_api_depth++;
  int rc = adl_request_cancel(s->client, id);
  g_api_depth--;
  trace("%s: cancel id=%llx (#%d %s) -> %s", where, (unsigned long long)id,
        q ? (int)q->idx : -1, q ? kind_names[q->kind] : "-",
        adl_err_name(rc));
  if (q == NULL || !q->accepted || q->done_calls > 0) {
    ASSERT_EQ(rc, ADL_ENOENT); /* finished (or running its callback) */
    return;
  }
  ASSERT(rc == 0 || rc == ADL_ENOENT);
  if (rc == 0) {
    /* These fail inside adl_request_start: nothing left to cancel. */
    ASSERT(q->kind != K_SCHEME && q->kind != K_BADURL);
    q->cancelled = 1;
    g_stats.cancels_ok++;
  }
}

static void op_close(seq_t *s, const char *where) {
  g_stats.ops++;
  g_stats.closes++;
  trace("%s: close (already closing: %d)", where, s->close_called);
  s->close_called = 1; /* before: nothing may be delivered inside */
  g_api_depth++;
  adl_client_close(s->client, on_close);
  g_api_depth--;
  ASSERT_EQ(s->close_cb_calls, 0); /* like uv_close: later */
}

/* ---- callbacks --------------------------------------------------------- */

static void check_outcome(seq_t *s, req_t *q, const adl_result_t *res) {
  int st = res->status;
  long http = res->http_status;
  const adl_options_t *o = &s->opts;
  if (st == 0)
    ASSERT_EQ(http, 200);
  /* Refused before any I/O: nothing can change these outcomes. */
  if (q->kind == K_SCHEME) {
    ASSERT_EQ(st, ADL_ESCHEME);
    return;
  }
  if (q->kind == K_BADURL) {
    ASSERT_EQ(st, ADL_EURL);
    return;
  }
  if (q->cancelled || q->aborted) {
    ASSERT_EQ(st, ADL_ECANCELED);
    return;
  }
  if (st == ADL_ECANCELED) {
    ASSERT(s->close_called); /* never without a cause */
    return;
  }
  if (st == ADL_ETIMEDOUT && q->kind != K_STALL) {
    /* Allowed everywhere (short timeouts, slow valgrind runs); counted. */
    g_stats.timeouts_allowed++;
    return;
  }
  switch (q->kind) {
  case K_GOOD:
  case K_FLAKY:
  case K_REDIR2:
    if (q->kind == K_FLAKY && o->retries == 0) {
      ASSERT_EQ(st, ADL_EHTTP);
      ASSERT_EQ(http, 503);
      ASSERT_EQ(res->attempts, 1);
      break;
    }
    if (q->kind == K_REDIR2 && o->max_redirects < 2) {
      ASSERT_EQ(st, o->max_redirects == 0 ? ADL_EHTTP : ADL_EREDIRECT);
      if (o->max_redirects == 0)
        ASSERT_EQ(http, 302);
      break;
    }
    ASSERT_EQ(st, 0);
    ASSERT_EQ(res->bytes, q->want_len);
    if (q->kind == K_FLAKY)
      ASSERT_EQ(res->attempts, 2);
    if (q->sink == ADL_SINK_CALLBACK)
      ASSERT_EQ(q->data_bytes, q->want_len);
    break;
  case K_404:
    ASSERT_EQ(st, ADL_EHTTP);
    ASSERT_EQ(http, 404);
    ASSERT_EQ(res->attempts, 1);
    break;
  case K_503:
    ASSERT_EQ(st, ADL_EHTTP);
    ASSERT_EQ(http, 503);
    ASSERT_EQ(res->attempts, o->retries + 1);
    break;
  case K_REDIR_LOOP:
    ASSERT_EQ(st, o->max_redirects == 0 ? ADL_EHTTP : ADL_EREDIRECT);
    break;
  case K_STALL:
    ASSERT_EQ(st, ADL_ETIMEDOUT);
    ASSERT_EQ(res->attempts, o->retries + 1);
    break;
  case K_RESET_MID:
  case K_SHORT:
  case K_CLOSE:
    if (st != ADL_ECONNRESET && st != ADL_EPROTO)
      ADL_FAIL_("%s: status %s", kind_names[q->kind], adl_err_name(st));
    break;
  case K_UNREACH:
  case K_REFUSED:
    if (st != ADL_ECONNECT && st != ADL_ECONNREFUSED)
      ADL_FAIL_("%s: status %s", kind_names[q->kind], adl_err_name(st));
    break;
  default:
    ADL_FAIL_("unexpected kind %d", (int)q->kind);
  }
  if (st == 0)
    g_stats.done_ok++;
}

/* What a callback does besides its own checks: the same operations as the
 * driver, re-entrantly. */
static void reentrant_ops(seq_t *s, req_t *q, const char *where,
                          unsigned p_start, unsigned p_cancel,
                          unsigned p_close) {
  uint64_t *rng = &q->rng;
  unsigned n = rng_below(rng, 3); /* 0..2 operations */
  for (unsigned i = 0; i < n; i++) {
    unsigned x = rng_below(rng, 100);
    if (x < p_start) {
      g_stats.reentrant++;
      op_start(s, rng, where);
    } else if (x < p_start + p_cancel) {
      g_stats.reentrant++;
      op_cancel(s, rng, where);
    } else if (x < p_start + p_cancel + p_close) {
      g_stats.reentrant++;
      op_close(s, where);
    }
  }
}

static void on_done(adl_request_t *r, const adl_result_t *res) {
  req_t *q = adl_request_get_data(r);
  ASSERT(q != NULL);
  seq_t *s = q->seq;
  ASSERT_EQ(g_api_depth, 0);  /* never inside one of our calls */
  ASSERT(!q->in_start);       /* nor inside the start that made it */
  ASSERT(s == g_seq);         /* nor in a later sequence */
  ASSERT_EQ(s->close_cb_calls, 0); /* nor after the close callback */
  ASSERT(q->accepted);
  ASSERT_EQ(q->done_calls, 0); /* exactly once */
  q->done_calls++;
  s->outstanding--;
  g_stats.dones++;
  sample_window();
  ASSERT(res != NULL && res->message != NULL);
  ASSERT_EQ(res->id, q->id);
  ASSERT_EQ(adl_request_id(r), q->id);
  ASSERT_STR_EQ(res->url, q->url);
  ASSERT_STR_EQ(adl_request_url(r), q->url);
  if (!known_status(res->status))
    ADL_FAIL_("unknown status %d", res->status);
  trace("done #%u %s -> %s http=%ld attempts=%u bytes=%llu%s%s%s", q->idx,
        kind_names[q->kind], adl_err_name(res->status), res->http_status,
        res->attempts, (unsigned long long)res->bytes,
        q->cancelled ? " (cancelled)" : "", q->aborted ? " (aborted)" : "",
        s->close_called ? " (closing)" : "");
  check_outcome(s, q, res);
  check_pending(s, 1);
  char where[48];
  snprintf(where, sizeof(where), "in done #%u", q->idx);
  if (rng_pct(&q->rng, 10)) { /* its own id, during its callback */
    g_stats.ops++;
    g_stats.cancels++;
    g_stats.reentrant++;
    g_api_depth++;
    int rc = adl_request_cancel(s->client, q->id);
    g_api_depth--;
    trace("%s: cancel own id -> %s", where, adl_err_name(rc));
    ASSERT_EQ(rc, ADL_ENOENT);
  }
  reentrant_ops(s, q, where, 30, 20, 2);
  check_pending(s, 1);
}

static int on_data(adl_request_t *r, const char *buf, size_t len) {
  req_t *q = adl_request_get_data(r);
  ASSERT(q != NULL);
  seq_t *s = q->seq;
  ASSERT_EQ(g_api_depth, 0);
  ASSERT(!q->in_start);
  ASSERT(s == g_seq);
  ASSERT_EQ(s->close_cb_calls, 0);
  ASSERT(q->accepted);
  ASSERT_EQ(q->done_calls, 0);
  ASSERT(!q->cancelled);     /* no byte after a successful cancel */
  ASSERT(!q->aborted);       /* nor after on_data said stop */
  ASSERT(!s->close_called);  /* nor after close */
  ASSERT_EQ(adl_request_id(r), q->id);
  ASSERT(buf != NULL && len > 0);
  sample_window();
  q->data_calls++;
  if (q->want != NULL) {
    /* A retry (timeout) starts the body again from its first byte. */
    if (q->data_bytes > 0 && len <= q->want_len &&
        (q->data_bytes + len > q->want_len ||
         memcmp(buf, q->want + q->data_bytes, len) != 0) &&
        memcmp(buf, q->want, len) == 0) {
      q->data_bytes = 0;
      q->restarts++;
    }
    ASSERT_LE(q->data_bytes + len, q->want_len);
    ASSERT(memcmp(buf, q->want + q->data_bytes, len) == 0);
  }
  q->data_bytes += len;
  check_pending(s, 0);
  char where[48];
  snprintf(where, sizeof(where), "in data #%u", q->idx);
  if (rng_pct(&q->rng, 6)) { /* cancels itself: the transfer stops */
    g_stats.ops++;
    g_stats.cancels++;
    g_stats.reentrant++;
    g_api_depth++;
    int rc = adl_request_cancel(s->client, q->id);
    g_api_depth--;
    trace("%s: cancel own id -> %s", where, adl_err_name(rc));
    ASSERT_EQ(rc, 0);
    q->cancelled = 1;
    g_stats.cancels_ok++;
  }
  reentrant_ops(s, q, where, 15, 15, 2);
  check_pending(s, 0);
  if (q->abort_at != 0 && q->data_calls == q->abort_at && !q->cancelled &&
      !s->close_called) {
    trace("%s: returns 1 (abort)", where);
    q->aborted = 1;
    g_stats.aborts++;
    return 1;
  }
  return 0;
}

static void on_close(adl_client_t *c) {
  seq_t *s = adl_client_get_data(c);
  ASSERT(s != NULL && s == g_seq);
  ASSERT_EQ(g_api_depth, 0);
  ASSERT(s->close_called);
  ASSERT_EQ(s->close_cb_calls, 0);
  s->close_cb_calls++;
  trace("close callback");
  ASSERT_EQ(adl_client_pending(c), 0);
  ASSERT_EQ(s->outstanding, 0);
  for (unsigned i = 0; i < s->nreq; i++)
    ASSERT_EQ(s->req[i].done_calls, s->req[i].accepted ? 1u : 0u);
  uv_timer_stop(&g_driver); /* the client is gone */
}

/* ---- the driver -------------------------------------------------------- */

static void on_driver(uv_timer_t *t);

static void driver_arm(seq_t *s, uint64_t ms) {
  (void)s;
  uv_timer_start(&g_driver, on_driver, ms, 0);
}

static void on_driver(uv_timer_t *t) {
  seq_t *s = t->data;
  ASSERT(s == g_seq);
  ASSERT_EQ(s->close_cb_calls, 0); /* stopped by the close callback */
  if (s->close_called) {
    /* Closing: starts must be refused, cancels harmless, until the close
     * callback. */
    if (s->post_close_ops < 4) {
      s->post_close_ops++;
      unsigned x = rng_below(&s->rng, 3);
      if (x == 0)
        op_start(s, &s->rng, "driver (closing)");
      else if (x == 1)
        op_cancel(s, &s->rng, "driver (closing)");
      else
        op_close(s, "driver (closing)"); /* a second close is ignored */
      check_pending(s, 0);
    }
    driver_arm(s, 1);
    return;
  }
  check_pending(s, 0);
  if (s->ops_left > 0) {
    s->ops_left--;
    unsigned x = rng_below(&s->rng, 100);
    if (x < 55)
      op_start(s, &s->rng, "driver");
    else if (x < 82)
      op_cancel(s, &s->rng, "driver");
    else if (x < 84)
      op_close(s, "driver");
    else
      g_stats.ops++; /* just let the loop run */
    if (!s->close_called)
      check_pending(s, 0);
    driver_arm(s, rng_below(&s->rng, 3));
    return;
  }
  /* Out of operations. */
  if (s->end_start == 0)
    s->end_start = uv_now(&g_loop) + 1;
  if (s->end_mode == END_FINISH) {
    for (unsigned i = 0; i < s->nreq; i++) {
      req_t *q = &s->req[i];
      if (q->kind != K_STALL || !q->accepted || q->done_calls > 0 ||
          q->cancelled)
        continue;
      g_stats.ops++;
      g_stats.cancels++;
      g_api_depth++;
      int rc = adl_request_cancel(s->client, q->id);
      g_api_depth--;
      trace("driver (finish): cancel stalled #%u -> %s", q->idx,
            adl_err_name(rc));
      ASSERT(rc == 0 || rc == ADL_ENOENT);
      if (rc == 0) {
        q->cancelled = 1;
        g_stats.cancels_ok++;
      }
    }
  }
  if (s->end_mode == END_CLOSE || s->outstanding == 0 ||
      (s->end_mode == END_DRAIN &&
       uv_now(&g_loop) + 1 - s->end_start >= DRAIN_CAP_MS)) {
    if (s->outstanding == 0)
      g_stats.seqs_drained++;
    op_close(s, "driver (end)");
    driver_arm(s, 0);
    return;
  }
  driver_arm(s, 2);
}

static void on_watchdog(uv_timer_t *t) {
  seq_t *s = t->data;
  fprintf(stderr, "watchdog: sequence %llu did not finish in %llu ms "
                  "(close called: %d, close callbacks: %u, outstanding: %u)\n",
          (unsigned long long)s->seed, (unsigned long long)g_watchdog_ms,
          s->close_called, s->close_cb_calls, s->outstanding);
  for (unsigned i = 0; i < s->nreq; i++) {
    req_t *q = &s->req[i];
    if (q->accepted && q->done_calls == 0)
      fprintf(stderr, "  no outcome: #%u %s %s cancelled=%d aborted=%d\n",
              q->idx, kind_names[q->kind], q->url, q->cancelled, q->aborted);
  }
  ADL_FAIL_("sequence %llu hangs", (unsigned long long)s->seed);
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  g_ticks++;
}

/* Runs the loop for at least n ticks of 1 ms. */
static void run_ticks(unsigned n) {
  g_ticks = 0;
  uv_timer_start(&g_tick, on_tick, 1, 1);
  while (g_ticks < n)
    uv_run(&g_loop, UV_RUN_ONCE);
  uv_timer_stop(&g_tick);
}

/* Waits until the fixtures have no connection left (the last client's are
 * closed by its close; the servers notice on their next read). */
static void wait_fixtures_idle(void) {
  uint64_t deadline = uv_now(&g_loop) + 3000;
  for (;;) {
    unsigned open = 0, inflight = 0;
    for (int i = 0; i < NFX; i++) {
      fixture_stats_t st;
      fixture_get_stats(g_fx[i], &st);
      open += st.open_connections;
      inflight += st.inflight;
    }
    if (open == 0 && inflight == 0)
      return;
    if (uv_now(&g_loop) > deadline)
      ADL_FAIL_("fixtures still see %u connections (%u requests) 3 s "
                "after the client closed",
                open, inflight);
    run_ticks(1);
  }
}

/* The window. Requests in flight, from the servers' side: each fixture's
 * exact maximum against the per-origin cap, and their sum, sampled after
 * every poll phase and in every callback, against the window. A cancelled
 * request's connection is closed by curl before its slot is reused, and the
 * server reads that EOF no later than the next request's head, so these
 * hold exactly (10000+ seeds without a miss). Open connections: the
 * client's sockets, counted at the same sampling points
 * (count_client_conns), are held to the caps exactly. The servers' own count is not exact: a server
 * notices a connection the client dropped (a cancel, a serial transfer's
 * end, a dead kept-alive connection) only when it next reads it, which can
 * come after it accepted the client's next connection (still writing the
 * last response, say), so it gets a slack of one per origin. */
static void check_window(seq_t *s) {
  unsigned k = s->k_eff, per_host = s->per_host_eff;
  unsigned conns_total = k, conns_host = per_host;
  if (s->opts.strategy == ADL_STRATEGY_SESSION)
    conns_total = NFX; /* one kept-alive connection per origin */
  for (int i = 0; i < NFX; i++) {
    fixture_stats_t st;
    fixture_get_stats(g_fx[i], &st);
    if (st.max_inflight > per_host)
      ADL_FAIL_("fixture %d saw %u requests in flight, per-host cap %u", i,
                st.max_inflight, per_host);
    if (st.max_open_connections > conns_host + 1)
      ADL_FAIL_("fixture %d saw %u connections open, per-host cap %u (+1)",
                i, st.max_open_connections, conns_host);
    if (s->max_cli[i] > conns_host)
      ADL_FAIL_("the client had %u connections open to fixture %d, per-host "
                "cap %u", s->max_cli[i], i, conns_host);
    if (st.max_open_connections > conns_host) {
      g_stats.window_slack_used++;
      trace("slack: fixture %d had %u connections open, cap %u", i,
            st.max_open_connections, conns_host);
    }
  }
  if (s->max_sum_inflight > k)
    ADL_FAIL_("%u requests in flight at once, window %u", s->max_sum_inflight,
              k);
  if (s->max_sum_open > conns_total + NFX)
    ADL_FAIL_("%u connections open at once, cap %u (+%d)", s->max_sum_open,
              conns_total, NFX);
  if (s->max_cli_total > conns_total)
    ADL_FAIL_("the client had %u connections open at once, cap %u",
              s->max_cli_total, conns_total);
  if (s->max_cli_total > g_stats.max_cli_seen)
    g_stats.max_cli_seen = s->max_cli_total;
  if (s->max_sum_inflight > g_stats.max_sum_inflight_seen)
    g_stats.max_sum_inflight_seen = s->max_sum_inflight;
}

static void run_sequence(uint64_t seed) {
  seq_t *s = &g_seq_storage;
  memset(s, 0, sizeof(*s));
  s->seed = seed;
  s->rng = rng_seed(seed, 0);
  snprintf(g_fail_note, sizeof(g_fail_note),
           "test-reentrancy: FAILED in seed %llu; replay with "
           "ADL_REENTRANCY_SEED=%llu ADL_REENTRANCY_VERBOSE=1\n",
           (unsigned long long)seed, (unsigned long long)seed);
  g_ntrace = 0;

  wait_fixtures_idle();
  for (int i = 0; i < NFX; i++)
    fixture_reset_stats(g_fx[i]);
  set_fd_scan();

  adl_options_t *o = &s->opts;
  adl_options_init(o);
  o->strategy = (adl_strategy_t)rng_below(&s->rng, 3);
  o->max_connections = 1 + rng_below(&s->rng, 4);
  o->max_per_host = rng_below(&s->rng, 4);
  o->retries = rng_below(&s->rng, 3);
  o->retry_base_ms = 1 + rng_below(&s->rng, 5);
  o->retry_max_ms = 20;
  o->max_redirects = rng_below(&s->rng, 4);
  o->timeout_ms = rng_pct(&s->rng, 80) ? 2000 : 200;
  o->connect_timeout_ms = 500;
  o->completions_per_pass = 1 + rng_below(&s->rng, 4);
  o->starts_per_pass = 1 + rng_below(&s->rng, 4);
  o->connects_per_pass = 1 + rng_below(&s->rng, 4);
  if (o->strategy == ADL_STRATEGY_PARALLEL) {
    s->k_eff = o->max_connections;
    s->per_host_eff = o->max_per_host == 0 || o->max_per_host > s->k_eff
                          ? s->k_eff
                          : o->max_per_host;
  } else {
    s->k_eff = s->per_host_eff = 1;
  }
  s->ops_left = 10 + rng_below(&s->rng, 21); /* 10..30, about 20 */
  s->end_mode = (int)rng_below(&s->rng, 3);
  trace("seed %llu: %s K=%u per_host=%u retries=%u base=%llu redirects=%u "
        "timeout=%llu passes=%u/%u/%u ops=%u end=%s",
        (unsigned long long)seed, adl_strategy_name(o->strategy),
        o->max_connections, o->max_per_host, o->retries,
        (unsigned long long)o->retry_base_ms, o->max_redirects,
        (unsigned long long)o->timeout_ms, o->completions_per_pass,
        o->starts_per_pass, o->connects_per_pass, s->ops_left,
        s->end_mode == END_CLOSE   ? "close"
        : s->end_mode == END_DRAIN ? "drain"
                                   : "finish");

  ASSERT_EQ(adl_client_new(&g_loop, o, &s->client), 0);
  adl_client_set_data(s->client, s);
  ASSERT(adl_client_loop(s->client) == &g_loop);
  ASSERT_EQ(adl_client_pending(s->client), 0);
  g_seq = s;
  g_driver.data = s;
  g_watchdog.data = s;
  uv_timer_start(&g_watchdog, on_watchdog, g_watchdog_ms, 0);
  driver_arm(s, 0);
  while (s->close_cb_calls == 0)
    uv_run(&g_loop, UV_RUN_ONCE);
  /* A few more iterations: nothing may arrive after the close callback. */
  run_ticks(3);
  uv_timer_stop(&g_watchdog);
  uv_timer_stop(&g_driver);
  ASSERT_EQ(s->close_cb_calls, 1);
  for (unsigned i = 0; i < s->nreq; i++)
    ASSERT_EQ(s->req[i].done_calls, s->req[i].accepted ? 1u : 0u);
  sample_window();
  check_window(s);
  for (unsigned i = 0; i < s->nreq; i++)
    free(s->req[i].want);
  g_seq = NULL;
  g_stats.seqs++;
}

static void fixture_closed(void *arg) { (*(int *)arg)++; }

static uint64_t env_u64(const char *name, uint64_t dflt) {
  const char *v = getenv(name);
  if (v == NULL || *v == '\0')
    return dflt;
  char *end;
  unsigned long long x = strtoull(v, &end, 10);
  if (*end != '\0')
    ADL_FAIL_("%s: not a number: %s", name, v);
  return x;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  signal(SIGABRT, on_abort_signal);
  atexit(report_failure);
#if UNDER_ASAN
  __asan_set_death_callback(on_asan_death);
#endif
  const char *pre = getenv("LD_PRELOAD");
  g_under_valgrind = pre != NULL && strstr(pre, "vgpreload") != NULL;
  g_verbose = env_u64("ADL_REENTRANCY_VERBOSE", 0) != 0;
  g_watchdog_ms =
      env_u64("ADL_REENTRANCY_WATCHDOG_MS", g_under_valgrind ? 60000 : 10000);
  uint64_t first = env_u64("ADL_REENTRANCY_FIRST", 1);
  uint64_t nseeds =
      env_u64("ADL_REENTRANCY_SEEDS", g_under_valgrind ? 150 : 300);
  if (getenv("ADL_REENTRANCY_SEED") != NULL) {
    first = env_u64("ADL_REENTRANCY_SEED", 1);
    nseeds = 1;
  }

  ASSERT_EQ(adl_library_init(), 0);
  ASSERT_EQ(uv_loop_init(&g_loop), 0);
  for (int i = 0; i < NFX; i++) {
    ASSERT_EQ(fixture_start(&g_loop, NULL, &g_fx[i]), 0);
    snprintf(g_base[i], sizeof(g_base[i]), "http://127.0.0.1:%d",
             fixture_port(g_fx[i]));
  }
  uv_timer_init(&g_loop, &g_driver);
  uv_timer_init(&g_loop, &g_watchdog);
  uv_timer_init(&g_loop, &g_tick);
  uv_check_init(&g_loop, &g_monitor);
  uv_check_start(&g_monitor, on_monitor);
  uv_unref((uv_handle_t *)&g_monitor);

  uint64_t t0 = uv_hrtime();
  for (uint64_t seed = first; seed < first + nseeds; seed++)
    run_sequence(seed);
  double secs = (double)(uv_hrtime() - t0) / 1e9;

  wait_fixtures_idle();
  uv_close((uv_handle_t *)&g_driver, NULL);
  uv_close((uv_handle_t *)&g_watchdog, NULL);
  uv_close((uv_handle_t *)&g_tick, NULL);
  uv_close((uv_handle_t *)&g_monitor, NULL);
  int closed = 0;
  for (int i = 0; i < NFX; i++)
    fixture_close(g_fx[i], fixture_closed, &closed);
  ADL_TEST_LOOP_CLOSE(&g_loop);
  ASSERT_EQ(closed, NFX);
  adl_library_shutdown();
  g_done_all = 1;

  printf("test-reentrancy: passed: %lu sequences, %lu operations (%lu "
         "starts, %lu cancels, %lu closes, %lu re-entrant calls from "
         "callbacks), seeds %llu..%llu, %.1f s\n",
         g_stats.seqs, g_stats.ops, g_stats.starts, g_stats.cancels,
         g_stats.closes, g_stats.reentrant, (unsigned long long)first,
         (unsigned long long)(first + nseeds - 1), secs);
  printf("  %lu sequences closed with nothing pending, %lu outcomes (%lu ok), %lu starts refused while closing, %lu "
         "cancels took effect, %lu on_data aborts, %lu timeouts tolerated, "
         "max %u requests in flight, max %u connections, server-side "
         "connection slack used %u times\n",
         g_stats.seqs_drained, g_stats.dones, g_stats.done_ok, g_stats.starts_refused,
         g_stats.cancels_ok, g_stats.aborts, g_stats.timeouts_allowed,
         g_stats.max_sum_inflight_seen, g_stats.max_cli_seen,
         g_stats.window_slack_used);
  printf("  accepted by kind:");
  for (unsigned i = 0; i < K_NKINDS; i++)
    printf(" %s=%lu", kind_names[i], g_stats.by_kind[i]);
  printf("\n");
  return 0;
}
