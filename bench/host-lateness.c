/* adl-host-lateness: the library embedded in someone else's loop. A host
 * uv loop runs a 1 ms repeating uv_timer and records how late each tick is
 * while asyncdl downloads on the same loop. Lateness of a tick is the time
 * since the previous tick minus the 1 ms period (negative values count as
 * 0): what Node's monitorEventLoopDelay measures. libuv re-arms a repeating
 * timer from the loop time of the callback, so an iteration that the library
 * keeps busy for 5 ms shows up as one tick 5 ms late.
 *
 *   adl-host-lateness --names=FILE [--dns-server=IP:PORT] [--baseline-ms=N]
 *                     [--docs=DIR] --phase=NAME,K,N,BASE[,CAFILE] ...
 *
 * First a baseline of --baseline-ms with the timer alone, then each phase
 * in turn on a fresh client (parallel strategy, K connections, HTTP/1.1),
 * created on the loop so that its set-up counts: N requests through one
 * adl_batch, distinct URLs BASE + names[i % count] + "?i=" + i; CAFILE is
 * o.cacert. One line per phase on stdout:
 *   phase NAME k=K n=N ok= failed= bytes= conns= wall_ms= ticks= p50_us=
 *   p99_us= max_us= worst_us=a,b,c
 * With --docs, the bytes received must equal the documents' sizes. Exit 0
 * when every request of every phase succeeded, 1 otherwise, 2 on usage. */
#include <asyncdl.h>

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#define MAX_PHASES 16
#define GAP_MS 50 /* between phases, not measured */

typedef struct {
  const char *name;
  char *base, *cacert;
  unsigned k;
  unsigned long n;
  /* results */
  unsigned long submitted, ok, failed;
  uint64_t bytes, conns, wall_us, want_bytes;
  uint32_t *lat; /* tick lateness, microseconds */
  size_t nlat, caplat;
} phase_t;

static uv_loop_t loop;
static uv_timer_t tick, step;
static uint64_t prev_tick_ns;
static phase_t phases[MAX_PHASES + 1]; /* [0] is the baseline */
static int nphases = 1, cur = -1;      /* -1: between phases */
static char **names;
static uint64_t *sizes;
static size_t nnames;
static const char *dns_server = "127.0.0.1:53";
static uint64_t baseline_ms = 2000;
static adl_client_t *client;
static int failed_any;

static void die(const char *what) {
  fprintf(stderr, "adl-host-lateness: %s\n", what);
  exit(1);
}

static void record(phase_t *p, uint32_t us) {
  if (p->nlat == p->caplat) {
    size_t cap = p->caplat ? p->caplat * 2 : 4096;
    uint32_t *n = realloc(p->lat, cap * sizeof(*n));
    if (n == NULL)
      die("out of memory");
    p->lat = n;
    p->caplat = cap;
  }
  p->lat[p->nlat++] = us;
}

static void on_tick(uv_timer_t *t) {
  (void)t;
  uint64_t now = uv_hrtime();
  if (prev_tick_ns != 0 && cur >= 0) {
    int64_t late = (int64_t)(now - prev_tick_ns) - 1000000;
    record(&phases[cur], late > 0 ? (uint32_t)(late / 1000) : 0);
  }
  prev_tick_ns = now;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest rank. */
static uint32_t pct(const uint32_t *v, size_t n, unsigned p) {
  if (n == 0)
    return 0;
  size_t r = (n * p + 99) / 100;
  return v[r > 0 ? r - 1 : 0];
}

static void print_phase(phase_t *p) {
  qsort(p->lat, p->nlat, sizeof(*p->lat), cmp_u32);
  printf("phase %s k=%u n=%lu ok=%lu failed=%lu bytes=%" PRIu64
         " conns=%" PRIu64 " wall_ms=%.1f ticks=%zu p50_us=%" PRIu32
         " p99_us=%" PRIu32 " max_us=%" PRIu32 " worst_us=",
         p->name, p->k, p->n, p->ok, p->failed, p->bytes, p->conns,
         p->wall_us / 1000.0, p->nlat, pct(p->lat, p->nlat, 50),
         pct(p->lat, p->nlat, 99), p->nlat ? p->lat[p->nlat - 1] : 0);
  for (size_t i = 0; i < 5 && i < p->nlat; i++)
    printf("%s%" PRIu32, i ? "," : "", p->lat[p->nlat - 1 - i]);
  putchar('\n');
  fflush(stdout);
  if (p != &phases[0] &&
      (p->ok != p->n || p->failed != 0 ||
       (p->want_bytes != 0 && p->bytes != p->want_bytes))) {
    fprintf(stderr,
            "adl-host-lateness: phase %s: %lu of %lu ok, %" PRIu64
            " of %" PRIu64 " bytes\n",
            p->name, p->ok, p->n, p->bytes, p->want_bytes);
    failed_any = 1;
  }
}

static void start_next(uv_timer_t *t);

static void end_phase(void) {
  print_phase(&phases[cur]);
  cur = -1;
  uv_timer_start(&step, start_next, GAP_MS, 0);
}

static void on_baseline_done(uv_timer_t *t) {
  (void)t;
  phases[0].wall_us = baseline_ms * 1000;
  end_phase();
}

static int batch_next(adl_batch_t *b, const char **url, const char **path,
                      void **item) {
  phase_t *p = adl_batch_get_data(b);
  if (p->submitted >= p->n)
    return 0;
  unsigned long i = p->submitted++;
  const char *nm = names[i % nnames];
  size_t len = strlen(p->base) + strlen(nm) + 32;
  char *u = malloc(len);
  if (u == NULL)
    return ADL_ENOMEM;
  snprintf(u, len, "%s%s?i=%lu", p->base, nm, i);
  *url = u;
  *path = NULL;
  *item = u;
  return 1;
}

static void batch_result(adl_batch_t *b, void *item,
                         const adl_result_t *res) {
  phase_t *p = adl_batch_get_data(b);
  if (res->status == 0 && res->http_status == 200)
    p->ok++;
  else {
    if (p->failed++ < 3)
      fprintf(stderr, "adl-host-lateness: %s: %s (%s, HTTP %ld)\n",
              (char *)item, adl_err_name(res->status), res->message,
              res->http_status);
  }
  free(item);
}

static void on_closed(adl_client_t *c) {
  (void)c;
  client = NULL;
  end_phase();
}

static void batch_done(adl_batch_t *b, const adl_summary_t *s) {
  phase_t *p = adl_batch_get_data(b);
  p->bytes = s->bytes;
  p->conns = s->connections;
  p->wall_us = s->wall_us;
  adl_client_close(client, on_closed);
}

static void start_next(uv_timer_t *t) {
  (void)t;
  static int next = 0;
  if (next == 0) {
    next = 1;
    cur = 0;
    uv_timer_start(&step, on_baseline_done, baseline_ms, 0);
    return;
  }
  if (next >= nphases) {
    uv_timer_stop(&tick);
    uv_close((uv_handle_t *)&tick, NULL);
    uv_close((uv_handle_t *)&step, NULL);
    return;
  }
  phase_t *p = &phases[next++];
  adl_options_t o;
  adl_batch_opts_t bo;
  adl_batch_t *b;
  int rc;
  cur = (int)(p - phases);
  for (unsigned long i = 0; i < p->n && sizes != NULL; i++)
    p->want_bytes += sizes[i % nnames];
  adl_options_init(&o);
  o.strategy = ADL_STRATEGY_PARALLEL;
  o.max_connections = p->k;
  o.dns_servers = dns_server;
  o.cacert = p->cacert;
  o.retries = 0; /* a failure must show, not be papered over */
  if ((rc = adl_client_new(&loop, &o, &client)) != 0) {
    fprintf(stderr, "adl-host-lateness: adl_client_new: %s\n",
            adl_strerror(rc));
    exit(1);
  }
  adl_batch_opts_init(&bo);
  bo.next = batch_next;
  bo.result = batch_result;
  bo.done = batch_done;
  bo.data = p;
  if ((rc = adl_batch_start(client, &bo, &b)) != 0) {
    fprintf(stderr, "adl-host-lateness: adl_batch_start: %s\n",
            adl_strerror(rc));
    exit(1);
  }
}

static void load_names(const char *file, const char *docs) {
  FILE *f = fopen(file, "r");
  char line[1024];
  size_t cap = 0;
  if (f == NULL)
    die("cannot open --names");
  while (fgets(line, sizeof(line), f) != NULL) {
    line[strcspn(line, "\r\n")] = '\0';
    if (line[0] == '\0' || line[0] == '#')
      continue;
    if (nnames == cap) {
      cap = cap ? cap * 2 : 256;
      if ((names = realloc(names, cap * sizeof(*names))) == NULL)
        die("out of memory");
    }
    if ((names[nnames++] = strdup(line)) == NULL)
      die("out of memory");
  }
  fclose(f);
  if (nnames == 0)
    die("--names is empty");
  if (docs == NULL)
    return;
  if ((sizes = calloc(nnames, sizeof(*sizes))) == NULL)
    die("out of memory");
  for (size_t i = 0; i < nnames; i++) {
    char path[2048];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", docs, names[i]);
    if (stat(path, &st) != 0)
      die("a document named in --names is missing under --docs");
    sizes[i] = (uint64_t)st.st_size;
  }
}

static int usage(void) {
  fputs("usage: adl-host-lateness --names=FILE [--dns-server=IP:PORT] "
        "[--baseline-ms=N] [--docs=DIR] --phase=NAME,K,N,BASE[,CAFILE]...\n",
        stderr);
  return 2;
}

int main(int argc, char **argv) {
  const char *names_file = NULL, *docs = NULL;
  phases[0].name = "baseline";
  for (int i = 1; i < argc; i++) {
    char *a = argv[i];
    if (strncmp(a, "--names=", 8) == 0)
      names_file = a + 8;
    else if (strncmp(a, "--docs=", 7) == 0)
      docs = a + 7;
    else if (strncmp(a, "--dns-server=", 13) == 0)
      dns_server = a + 13;
    else if (strncmp(a, "--baseline-ms=", 14) == 0)
      baseline_ms = strtoull(a + 14, NULL, 10);
    else if (strncmp(a, "--phase=", 8) == 0 && nphases <= MAX_PHASES) {
      phase_t *p = &phases[nphases++];
      char *s = strdup(a + 8), *k, *n;
      if (s == NULL)
        die("out of memory");
      p->name = s;
      if ((k = strchr(s, ',')) == NULL || (n = strchr(k + 1, ',')) == NULL ||
          (p->base = strchr(n + 1, ',')) == NULL)
        return usage();
      *k++ = '\0';
      *n++ = '\0';
      *p->base++ = '\0';
      if ((p->cacert = strchr(p->base, ',')) != NULL)
        *p->cacert++ = '\0';
      p->k = (unsigned)strtoul(k, NULL, 10);
      p->n = strtoul(n, NULL, 10);
      if (p->k == 0 || p->n == 0)
        return usage();
    } else
      return usage();
  }
  if (names_file == NULL || nphases < 2)
    return usage();
  load_names(names_file, docs);
  if (uv_loop_init(&loop) != 0 || adl_library_init() != 0)
    die("loop or library init failed");
  uv_timer_init(&loop, &tick);
  uv_timer_init(&loop, &step);
  uv_timer_start(&tick, on_tick, 1, 1);
  uv_timer_start(&step, start_next, GAP_MS, 0);
  uv_run(&loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&loop) != 0)
    die("loop still has handles");
  adl_library_shutdown();
  return failed_any;
}
