/* Tables, per-URL lines and the streamed JSON report. Numbers go through
 * integer formatting (fmt_scaled, fmt_double) rather than "%f" because a
 * host that calls setlocale() would otherwise get "1,5" in the JSON. */
#include "report.h"

#include "histogram.h"
#include "url.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const uint64_t pow10_u64[] = {1ull,
                                     10ull,
                                     100ull,
                                     1000ull,
                                     10000ull,
                                     100000ull,
                                     1000000ull,
                                     10000000ull,
                                     100000000ull,
                                     1000000000ull,
                                     10000000000ull,
                                     100000000000ull,
                                     1000000000000ull};

/* v / 10^k printed with d <= k decimals, rounded half up. */
static const char *fmt_scaled(char *buf, size_t cap, uint64_t v, unsigned k,
                              unsigned d) {
  uint64_t div = pow10_u64[k - d], q = v / div;
  if (div > 1 && v % div >= (div + 1) / 2)
    q++;
  if (d == 0)
    snprintf(buf, cap, "%" PRIu64, q);
  else
    snprintf(buf, cap, "%" PRIu64 ".%0*" PRIu64, q / pow10_u64[d], (int)d,
             q % pow10_u64[d]);
  return buf;
}

/* v with d decimals; NULL for NaN, infinities and values past 2^63. */
static const char *fmt_double(char *buf, size_t cap, double v, unsigned d) {
  int neg = v < 0;
  if (!isfinite(v))
    return NULL;
  double scaled = (neg ? -v : v) * (double)pow10_u64[d] + 0.5;
  if (scaled >= 9.2e18)
    return NULL;
  uint64_t q = (uint64_t)scaled;
  if (d == 0)
    snprintf(buf, cap, "%s%" PRIu64, neg && q ? "-" : "", q);
  else
    snprintf(buf, cap, "%s%" PRIu64 ".%0*" PRIu64, neg && q ? "-" : "",
             q / pow10_u64[d], (int)d, q % pow10_u64[d]);
  return buf;
}

uint64_t cli_median_u64(uint64_t *v, size_t n) {
  if (n == 0)
    return 0;
  /* Insertion sort: n is a repeat count (at most 1000), and this keeps the
   * helper free of a qsort comparator. */
  for (size_t i = 1; i < n; i++) {
    uint64_t x = v[i];
    size_t k = i;
    for (; k > 0 && v[k - 1] > x; k--)
      v[k] = v[k - 1];
    v[k] = x;
  }
  return v[(n - 1) / 2];
}

/* ---- table ------------------------------------------------------------- */

/* Columns; min-max, wire MB, skipped and not mod appear only when a row
 * has something to show in them. */
enum {
  COL_STRATEGY,
  COL_WALL,
  COL_MINMAX,
  COL_REQS,
  COL_MB,
  COL_WIRE,
  COL_MBS,
  COL_CONNS,
  COL_P50,
  COL_P95,
  COL_FAIL,
  COL_SKIPPED,
  COL_NOTMOD,
  COL_SPEEDUP,
  NCOL,
  CELL = 48
};

static const char *const headers[NCOL] = {
    "strategy", "wall s", "min-max", "req/s",   "MB",      "wire MB",
    "MB/s",     "conns",  "p50 ms",  "p95 ms",  "fail",    "skipped",
    "not mod",  "speedup"};

/* Successful requests per second of wall time: what the table calls req/s
 * (adl_summary_t.requests_per_s counts failures too). */
static double ok_per_s(const adl_summary_t *m) {
  return m->wall_us > 0 ? (double)m->ok * 1e6 / (double)m->wall_us : NAN;
}

/* The body came compressed: wire bytes (known) differ from the decoded. */
static int row_compressed(const cli_row_t *r) {
  return r->wire_bytes != 0 && r->wire_bytes != r->median.bytes;
}

static void row_cells(const cli_row_t *r, uint64_t serial_wall,
                      char c[NCOL][CELL]) {
  const adl_summary_t *m = &r->median;
  char a[24], b[24]; /* short enough that no cell can be truncated */
  snprintf(c[COL_STRATEGY], CELL, "%s", r->strategy != NULL ? r->strategy : "?");
  fmt_scaled(c[COL_WALL], CELL, m->wall_us, 6, 3);
  if (r->repeats > 1)
    snprintf(c[COL_MINMAX], CELL, "%s-%s",
             fmt_scaled(a, sizeof(a), r->wall_min_us, 6, 3),
             fmt_scaled(b, sizeof(b), r->wall_max_us, 6, 3));
  else
    snprintf(c[COL_MINMAX], CELL, "-");
  if (fmt_double(c[COL_REQS], CELL, ok_per_s(m), 1) == NULL)
    snprintf(c[COL_REQS], CELL, "-");
  fmt_scaled(c[COL_MB], CELL, m->bytes, 6, 2);
  fmt_scaled(c[COL_WIRE], CELL, r->wire_bytes != 0 ? r->wire_bytes : m->bytes,
             6, 2);
  if (fmt_double(c[COL_MBS], CELL, m->bytes_per_s / 1e6, 2) == NULL)
    snprintf(c[COL_MBS], CELL, "-");
  snprintf(c[COL_CONNS], CELL, "%" PRIu64, m->connections);
  fmt_scaled(c[COL_P50], CELL, m->p50_us, 3, 1);
  fmt_scaled(c[COL_P95], CELL, m->p95_us, 3, 1);
  snprintf(c[COL_FAIL], CELL, "%" PRIu64, m->failed);
  snprintf(c[COL_SKIPPED], CELL, "%" PRIu64, r->skipped);
  snprintf(c[COL_NOTMOD], CELL, "%" PRIu64, r->not_modified);
  if (serial_wall == 0 || m->wall_us == 0 ||
      fmt_double(a, sizeof(a), (double)serial_wall / (double)m->wall_us, 2) ==
          NULL)
    snprintf(c[COL_SPEEDUP], CELL, "-");
  else
    snprintf(c[COL_SPEEDUP], CELL, "%sx", a);
}

static uint64_t serial_wall_us(const cli_row_t *rows, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (rows[i].strategy != NULL && strcmp(rows[i].strategy, "serial") == 0)
      return rows[i].median.wall_us;
  return 0;
}

/* w[k] < 0: the column is left out. */
static void print_line(FILE *f, char c[NCOL][CELL], const int w[NCOL]) {
  for (int k = 0; k < NCOL; k++) {
    /* The first column is text (left-aligned), the others numbers. */
    if (w[k] < 0)
      continue;
    if (k == 0)
      fprintf(f, "%-*s", w[k], c[k]);
    else
      fprintf(f, "  %*s", w[k], c[k]);
  }
  fputc('\n', f);
}

void cli_report_table(FILE *f, const cli_row_t *rows, size_t n) {
  char c[NCOL][CELL];
  int w[NCOL], minmax = 0, wire = 0, skipped = 0, notmod = 0;
  uint64_t sw = serial_wall_us(rows, n);
  for (int k = 0; k < NCOL; k++)
    w[k] = (int)strlen(headers[k]);
  for (size_t i = 0; i < n; i++) {
    row_cells(&rows[i], sw, c);
    minmax |= rows[i].repeats > 1;
    wire |= row_compressed(&rows[i]);
    skipped |= rows[i].skipped > 0;
    notmod |= rows[i].not_modified > 0;
    for (int k = 0; k < NCOL; k++)
      if ((int)strlen(c[k]) > w[k])
        w[k] = (int)strlen(c[k]);
  }
  if (!minmax) /* a single run has no spread to show */
    w[COL_MINMAX] = -1;
  if (!wire) /* nothing came compressed: MB is the wire's too */
    w[COL_WIRE] = -1;
  if (!skipped)
    w[COL_SKIPPED] = -1;
  if (!notmod)
    w[COL_NOTMOD] = -1;
  for (int k = 0; k < NCOL; k++) {
    snprintf(c[k], CELL, "%s", headers[k]);
  }
  print_line(f, c, w);
  for (int k = 0; k < NCOL; k++) {
    int len = w[k] > 0 ? w[k] : 0;
    memset(c[k], '-', (size_t)len);
    c[k][len] = '\0';
  }
  print_line(f, c, w);
  for (size_t i = 0; i < n; i++) {
    row_cells(&rows[i], sw, c);
    print_line(f, c, w);
  }
}

/* ---- per-URL lines ----------------------------------------------------- */

static const char *outcome_name(int status) {
  return status == 0 ? "ok" : adl_err_name(status);
}

const char *cli_outcome_name(const adl_result_t *res) {
  if (res->status == 0 && res->attempts == 0)
    return "skipped"; /* a success without a request: --skip-existing */
  if (res->status == 0 && res->not_modified)
    return "not_modified";
  return outcome_name(res->status);
}

/* Quotes s for a one-line message with its credentials masked. */
static void quote_masked(char *out, size_t cap, const char *s) {
  char m[2048];
  size_t n = cli_mask_credentials(s, m, sizeof(m));
  cli_quote(out, cap, m, n < sizeof(m) ? n : sizeof(m) - 1);
}

void cli_report_outcome(FILE *f, const char *url, const adl_result_t *res) {
  char uq[1024], mq[512];
  if (res->status == 0)
    return;
  if (url == NULL)
    url = res->url != NULL ? res->url : "";
  const char *detail = res->message != NULL && res->message[0] != '\0'
                           ? res->message
                           : adl_strerror(res->status);
  quote_masked(uq, sizeof(uq), url);
  quote_masked(mq, sizeof(mq), detail);
  fprintf(f, "asyncdl: FAILED %s: %s (%s", uq, outcome_name(res->status), mq);
  if (res->http_status != 0 && strstr(mq, "HTTP") == NULL)
    fprintf(f, ", HTTP %ld", res->http_status);
  if (res->attempts > 1)
    fprintf(f, ", %u attempts", res->attempts);
  fputs(")\n", f);
}

/* ---- JSON -------------------------------------------------------------- */

struct cli_json_s {
  FILE *f;
  char *path, *tmp; /* both NULL for stdout and special files */
  int err;          /* first -errno; writing stops after it */
  int in_run;
  unsigned long runs;
  uint64_t items; /* in the current run */
  char *extra_key[4], *extra_json[4]; /* cli_json_set_extra */
  char *run_note; /* cli_json_run_note: members of the next summary */
  unsigned nextra;
};

/* Records the first write error; after it the calls below write nothing. */
static int json_ok(cli_json_t *j) {
  if (j->err == 0 && ferror(j->f))
    j->err = errno != 0 ? -errno : -EIO;
  return j->err == 0;
}

__attribute__((format(printf, 2, 3))) static void jf(cli_json_t *j,
                                                     const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfprintf(j->f, fmt, ap);
  va_end(ap);
}

static void json_str(cli_json_t *j, const char *s) {
  if (s == NULL) {
    fputs("null", j->f);
    return;
  }
  size_t len = strlen(s);
  fputc('"', j->f);
  for (size_t i = 0; i < len;) {
    unsigned char c = (unsigned char)s[i];
    size_t k = cli_utf8_len((const unsigned char *)s + i, len - i);
    if (c == '"' || c == '\\')
      fprintf(j->f, "\\%c", c);
    else if (c == '\n')
      fputs("\\n", j->f);
    else if (c == '\t')
      fputs("\\t", j->f);
    else if (c == '\r')
      fputs("\\r", j->f);
    else if (c < 0x20)
      fprintf(j->f, "\\u%04x", c);
    else if (k == 0)
      fputs("\\ufffd", j->f); /* one replacement per invalid byte */
    else
      fwrite(s + i, 1, k, j->f);
    i += k != 0 ? k : 1;
  }
  fputc('"', j->f);
}

/* A URL or a message: its credentials masked (url.h). */
static void json_str_masked(cli_json_t *j, const char *s) {
  if (s == NULL || !cli_has_credentials(s)) {
    json_str(j, s);
    return;
  }
  char *m = cli_mask_dup(s);
  json_str(j, m != NULL ? m : "(masked)");
  free(m);
}

/* "key": <microseconds as milliseconds, 3 decimals> */
static void json_ms(cli_json_t *j, const char *key, uint64_t us) {
  char b[32];
  jf(j, "\"%s\": %s", key, fmt_scaled(b, sizeof(b), us, 3, 3));
}

static void json_double(cli_json_t *j, const char *key, double v) {
  char b[48];
  const char *s = fmt_double(b, sizeof(b), v, 3);
  jf(j, "\"%s\": %s", key, s != NULL ? s : "null"); /* JSON has no NaN */
}

cli_json_t *cli_json_open(const char *path, char *err, size_t errlen) {
  cli_json_t *j = calloc(1, sizeof(*j));
  struct stat st;
  char q[300];
  if (j == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  if (strcmp(path, "-") == 0) {
    j->f = stdout;
  } else {
    cli_quote(q, sizeof(q), path, strlen(path));
    size_t len = strlen(path);
    /* Fail now rather than after the downloads, when rename would. */
    int exists = stat(path, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
      snprintf(err, errlen, "%s: is a directory", q);
      free(j);
      return NULL;
    }
    if (exists && !S_ISREG(st.st_mode)) {
      /* /dev/stderr, a FIFO...: write in place, there is nothing to rename */
      int fd = open(path, O_WRONLY | O_CLOEXEC);
      if (fd < 0 || (j->f = fdopen(fd, "w")) == NULL) {
        snprintf(err, errlen, "%s: %s", q, strerror(errno));
        if (fd >= 0)
          close(fd);
        free(j);
        return NULL;
      }
      goto header;
    }
    size_t cap = len + 48;
    if ((j->path = strdup(path)) == NULL || (j->tmp = malloc(cap)) == NULL) {
      snprintf(err, errlen, "out of memory");
      free(j->path);
      free(j);
      return NULL;
    }
    /* A name of our own, created new (O_EXCL) and never through a planted
     * link (O_NOFOLLOW); renamed over PATH at the end. */
    int fd = -1;
    for (unsigned i = 0; fd < 0 && i < 100; i++) {
      snprintf(j->tmp, cap, "%s.tmp-%ld-%u", path, (long)getpid(), i);
      fd = open(j->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                0666);
      if (fd < 0 && errno != EEXIST)
        break;
    }
    if (fd < 0 || (j->f = fdopen(fd, "w")) == NULL) {
      snprintf(err, errlen, "%s: cannot create a temporary file beside it: %s",
               q, strerror(errno));
      if (fd >= 0) {
        close(fd);
        unlink(j->tmp);
      }
      free(j->path);
      free(j->tmp);
      free(j);
      return NULL;
    }
  }
header:
  jf(j,
     "{\n  \"schema\": \"%s\",\n  \"schema_version\": %d,\n"
     "  \"tool\": \"asyncdl\",\n  \"version\": \"%s\",\n  \"runs\": [",
     CLI_JSON_SCHEMA, CLI_JSON_SCHEMA_VERSION, ADL_VERSION_STRING);
  json_ok(j);
  return j;
}

void cli_json_run_begin(cli_json_t *j, const char *strategy, unsigned repeat,
                        unsigned max_connections) {
  errno = 0; /* so that json_ok blames the right errno */
  if (j->in_run)
    cli_json_run_end(j, NULL, NULL);
  if (!json_ok(j))
    return;
  jf(j, "%s\n    {\n      \"strategy\": ", j->runs > 0 ? "," : "");
  json_str(j, strategy);
  jf(j,
     ",\n      \"repeat\": %u,\n      \"max_connections\": %u,\n"
     "      \"items\": [",
     repeat, max_connections);
  j->in_run = 1;
  j->runs++;
  j->items = 0;
  json_ok(j);
}

void cli_json_item(cli_json_t *j, const char *url, const char *file,
                   const adl_result_t *res) {
  errno = 0;
  if (!j->in_run || !json_ok(j))
    return;
  jf(j, "%s\n        {\"url\": ", j->items > 0 ? "," : "");
  json_str_masked(j, url != NULL ? url : res->url);
  fputs(", \"file\": ", j->f);
  json_str(j, file);
  fputs(", \"outcome\": ", j->f);
  json_str(j, cli_outcome_name(res));
  fputs(", \"final_url\": ", j->f);
  json_str_masked(j, res->final_url);
  jf(j, ", \"wire_bytes\": %" PRIu64, res->wire_bytes);
  jf(j,
     ", \"http_status\": %ld, \"bytes\": %" PRIu64 ", \"attempts\": %u"
     ", \"new_connections\": %u, \"local_port\": %d, \"dns_cached\": %u"
     ", \"http_version\": \"%s\", ",
     res->http_status, res->bytes, res->attempts, res->new_connections,
     res->local_port, res->dns_cached,
     res->http_version == 20   ? "2"
     : res->http_version == 11 ? "1.1"
     : res->http_version == 10 ? "1.0"
                               : "");
  json_ms(j, "queue_ms", res->queue_us);
  fputs(", ", j->f);
  json_ms(j, "dns_ms", res->dns_us);
  fputs(", ", j->f);
  json_ms(j, "connect_ms", res->connect_us);
  fputs(", ", j->f);
  json_ms(j, "tls_ms", res->tls_us);
  fputs(", ", j->f);
  json_ms(j, "ttfb_ms", res->ttfb_us);
  fputs(", ", j->f);
  json_ms(j, "total_ms", res->total_us);
  fputs(", ", j->f);
  json_ms(j, "backoff_ms", res->backoff_us);
  fputs(", ", j->f);
  json_ms(j, "disk_max_ms", res->disk_max_us);
  jf(j, ", \"dns_stale\": %s", res->dns_stale ? "true" : "false");
  fputs(", \"message\": ", j->f);
  json_str_masked(j, res->message);
  fputc('}', j->f);
  j->items++;
  json_ok(j);
}

void cli_json_item_raw(cli_json_t *j, const char *json, size_t len) {
  errno = 0;
  if (!j->in_run || !json_ok(j))
    return;
  jf(j, "%s\n        ", j->items > 0 ? "," : "");
  fwrite(json, 1, len, j->f);
  j->items++;
  json_ok(j);
}

/* "latency_histogram": the non-empty buckets, each as [upper_us, count]. */
static void json_hist(cli_json_t *j, const adl__hist_t *h) {
  unsigned n = 0;
  jf(j,
     ", \"latency_histogram\": {\"unit\": \"us\", \"sub_buckets\": %d"
     ", \"count\": %" PRIu64 ", \"max_us\": %" PRIu64 ", \"buckets\": [",
     ADL_HIST_SUB, h->count, h->max);
  for (unsigned i = 0; i < ADL_HIST_BUCKETS; i++)
    if (h->bucket[i] != 0)
      jf(j, "%s[%" PRIu64 ", %" PRIu64 "]", n++ > 0 ? ", " : "",
         adl__hist_upper(i), h->bucket[i]);
  fputs("]}", j->f);
}

void cli_json_run_end(cli_json_t *j, const adl_summary_t *s,
                      const char *insight) {
  cli_json_run_end_hist(j, s, insight, NULL);
}

void cli_json_run_end_hist(cli_json_t *j, const adl_summary_t *s,
                           const char *insight, const adl__hist_t *hist) {
  errno = 0;
  if (!j->in_run)
    return;
  j->in_run = 0;
  if (!json_ok(j))
    return;
  jf(j, "%s],\n      \"summary\": ", j->items > 0 ? "\n      " : "");
  if (s == NULL) {
    fputs("null\n    }", j->f);
    json_ok(j);
    return;
  }
  fputs("{\"strategy\": ", j->f);
  json_str(j, adl_strategy_name(s->strategy));
  jf(j,
     ", \"max_connections\": %u, \"requests\": %" PRIu64 ", \"ok\": %" PRIu64
     ", \"failed\": %" PRIu64 ", \"bytes\": %" PRIu64
     ", \"connections_opened\": %" PRIu64 ", ",
     s->max_connections, s->requests, s->ok, s->failed, s->bytes,
     s->connections);
  json_ms(j, "wall_ms", s->wall_us);
  fputs(", ", j->f);
  json_ms(j, "dns_ms_total", s->dns_us_total);
  fputs(", ", j->f);
  json_ms(j, "p50_ms", s->p50_us);
  fputs(", ", j->f);
  json_ms(j, "p95_ms", s->p95_us);
  fputs(", ", j->f);
  json_ms(j, "max_ms", s->max_us);
  fputs(", ", j->f);
  json_ms(j, "disk_max_ms", s->disk_max_us);
  fputs(", ", j->f);
  json_double(j, "requests_per_s", s->requests_per_s);
  fputs(", ", j->f);
  json_double(j, "ok_per_s", ok_per_s(s));
  fputs(", ", j->f);
  json_double(j, "bytes_per_s", s->bytes_per_s);
  if (j->run_note != NULL)
    jf(j, ", %s", j->run_note);
  free(j->run_note); /* one run's */
  j->run_note = NULL;
  if (hist != NULL)
    json_hist(j, hist);
  if (insight != NULL)
    jf(j, ", \"insight\": %s", insight);
  fputs("}\n    }", j->f);
  json_ok(j);
}

static void json_row(cli_json_t *j, const cli_row_t *r, uint64_t sw) {
  const adl_summary_t *m = &r->median;
  fputs("\n    {\"strategy\": ", j->f);
  json_str(j, r->strategy);
  jf(j, ", \"max_connections\": %u, \"repeats\": %u, ", r->max_connections,
     r->repeats);
  json_ms(j, "wall_ms", m->wall_us);
  fputs(", ", j->f);
  json_ms(j, "wall_min_ms", r->wall_min_us);
  fputs(", ", j->f);
  json_ms(j, "wall_max_ms", r->wall_max_us);
  fputs(", ", j->f);
  jf(j,
     "\"requests\": %" PRIu64 ", \"ok\": %" PRIu64 ", \"failed\": %" PRIu64
     ", \"bytes\": %" PRIu64 ", \"connections_opened\": %" PRIu64 ", ",
     m->requests, m->ok, m->failed, m->bytes, m->connections);
  json_double(j, "requests_per_s", m->requests_per_s);
  fputs(", ", j->f);
  json_double(j, "ok_per_s", ok_per_s(m));
  fputs(", ", j->f);
  json_double(j, "bytes_per_s", m->bytes_per_s);
  fputs(", ", j->f);
  json_ms(j, "p50_ms", m->p50_us);
  fputs(", ", j->f);
  json_ms(j, "p95_ms", m->p95_us);
  fputs(", ", j->f);
  if (sw != 0 && m->wall_us != 0)
    json_double(j, "speedup_vs_serial", (double)sw / (double)m->wall_us);
  else
    fputs("\"speedup_vs_serial\": null", j->f);
  if (r->median_repeat != 0)
    jf(j, ", \"median_repeat\": %u", r->median_repeat);
  jf(j,
     ", \"wire_bytes\": %" PRIu64 ", \"skipped\": %" PRIu64
     ", \"not_modified\": %" PRIu64 ", \"ran_as\": ",
     r->wire_bytes != 0 ? r->wire_bytes : m->bytes, r->skipped,
     r->not_modified);
  json_str(j, r->ran_as);
  if (r->insight != NULL)
    jf(j, ", \"insight\": %s", r->insight);
  fputc('}', j->f);
}

int cli_json_set_extra(cli_json_t *j, const char *key, const char *json) {
  if (j->nextra == 4)
    return -1;
  char *k = strdup(key), *v = strdup(json);
  if (k == NULL || v == NULL) {
    free(k);
    free(v);
    return -1;
  }
  j->extra_key[j->nextra] = k;
  j->extra_json[j->nextra++] = v;
  return 0;
}

int cli_json_run_note(cli_json_t *j, const char *fields) {
  char *n = strdup(fields);
  if (n == NULL)
    return -1;
  free(j->run_note);
  j->run_note = n;
  return 0;
}

static void json_free(cli_json_t *j) {
  free(j->run_note);
  for (unsigned i = 0; i < j->nextra; i++) {
    free(j->extra_key[i]);
    free(j->extra_json[i]);
  }
  free(j->path);
  free(j->tmp);
  free(j);
}

int cli_json_close(cli_json_t *j, const cli_row_t *rows, size_t n) {
  int rc;
  errno = 0;
  if (j->in_run)
    cli_json_run_end(j, NULL, NULL);
  if (json_ok(j)) {
    uint64_t sw = serial_wall_us(rows, n);
    jf(j, "%s],\n  \"comparison\": [", j->runs > 0 ? "\n  " : "");
    for (size_t i = 0; i < n; i++) {
      if (i > 0)
        fputc(',', j->f);
      json_row(j, &rows[i], sw);
    }
    jf(j, "%s]", n > 0 ? "\n  " : "");
    for (unsigned i = 0; i < j->nextra; i++) {
      jf(j, ",\n  ");
      json_str(j, j->extra_key[i]);
      jf(j, ": %s", j->extra_json[i]);
    }
    jf(j, "\n}\n");
    json_ok(j);
  }
  rc = j->err;
  if (rc == 0 && fflush(j->f) != 0)
    rc = -errno;
  if (rc == 0 && ferror(j->f))
    rc = -EIO;
  if (j->tmp == NULL) { /* stdout stays open for the caller */
    if (j->f != stdout && fclose(j->f) != 0 && rc == 0)
      rc = -errno;
    json_free(j);
    return rc;
  }
  /* fsync before rename: a crash must leave the old report or the new one,
   * never an empty file under the final name. EINVAL: not syncable. */
  if (rc == 0 && fsync(fileno(j->f)) != 0 && errno != EINVAL)
    rc = -errno;
  if (fclose(j->f) != 0 && rc == 0)
    rc = -errno;
  if (rc == 0 && rename(j->tmp, j->path) != 0)
    rc = -errno;
  if (rc != 0)
    unlink(j->tmp);
  json_free(j);
  return rc;
}

void cli_json_discard(cli_json_t *j) {
  if (j->f == stdout) {
    fflush(j->f);
  } else if (j->tmp == NULL) {
    fclose(j->f);
  } else {
    fclose(j->f);
    unlink(j->tmp);
  }
  json_free(j);
}
