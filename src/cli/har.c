/* --har=FILE: the trace as an HTTP Archive 1.2 (see har.h).
 *
 * Mapping (times in ms, written with µs precision):
 *   page     one per run: id "<strategy>-<repeat>", onLoad = the run's wall
 *            time, onContentLoad -1 (there is no document).
 *   entry    startedDateTime = run start + start_us - queue_us: HAR counts
 *            `blocked` (the queue) inside the entry, so it starts when the
 *            request was submitted, not when it was admitted.
 *   blocked  queue + retry backoff.
 *   dns      the lookup; -1 when none was made (cached or numeric).
 *   connect  TCP + TLS (HAR's connect includes ssl); -1 on a reused
 *            connection (no new connection was opened).
 *   ssl      the TLS handshake; -1 for plain HTTP or a reused connection.
 *   send     0 (not measured separately).
 *   wait     ttfb - dns - connect - tls, at least 0; with no first byte
 *            (a failure), all of the attempt after connecting.
 *   receive  total - ttfb - backoff, at least 0.
 *   time     exactly blocked + dns + connect + send + wait + receive, over
 *            the values written (ssl is inside connect; -1 adds nothing).
 * Headers are not kept by the engine: headersSize -1, headers []. A failed
 * request carries its ADL error name in response._error. */
#include "har.h"

#include "asyncdl_version.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- buffered output, every write checked ------------------------------ */

typedef struct {
  int fd;
  int err; /* first errno, sticky: later output is dropped */
  size_t len;
  char buf[32768];
} out_t;

static void out_flush(out_t *o) {
  size_t off = 0;
  while (o->err == 0 && off < o->len) {
    ssize_t n = write(o->fd, o->buf + off, o->len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      o->err = n < 0 ? errno : EIO;
    else
      off += (size_t)n;
  }
  o->len = 0;
}

static void out_put(out_t *o, const char *s, size_t n) {
  while (n > 0 && o->err == 0) {
    if (o->len == sizeof(o->buf))
      out_flush(o);
    size_t k = sizeof(o->buf) - o->len;
    if (k > n)
      k = n;
    memcpy(o->buf + o->len, s, k);
    o->len += k;
    s += k;
    n -= k;
  }
}

static void out_s(out_t *o, const char *s) { out_put(o, s, strlen(s)); }

__attribute__((format(printf, 2, 3))) static void out_f(out_t *o,
                                                       const char *fmt, ...) {
  char tmp[256];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof(tmp)) {
    if (o->err == 0)
      o->err = EOVERFLOW;
    return;
  }
  out_put(o, tmp, (size_t)n);
}

/* ---- JSON values ------------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
  size_t len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
  if (s[0] < 0xc2 || s[0] > 0xf4 || len > n)
    return 0;
  for (size_t i = 1; i < len; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
      (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
    return 0; /* overlong, surrogate, or above U+10FFFF */
  return len;
}

static void out_escape(out_t *o, unsigned char c) {
  static const char hex[] = "0123456789abcdef";
  static const char from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
  char e[7] = {'\\', 0, 0, 0, 0, 0, 0};
  const char *esc = c != 0 ? strchr(from, c) : NULL;
  if (esc != NULL) {
    e[1] = to[esc - from];
    out_put(o, e, 2);
    return;
  }
  memcpy(e + 1, "u00", 3);
  e[4] = hex[c >> 4];
  e[5] = hex[c & 15];
  out_put(o, e, 6);
}

/* A JSON string of n bytes: UTF-8 passes through, control characters are
 * escaped, and a byte that is not UTF-8 becomes U+FFFD. */
static void out_strn(out_t *o, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  out_put(o, "\"", 1);
  for (size_t i = 0; i < n;) {
    if (u[i] < 0x20 || u[i] == '"' || u[i] == '\\') {
      out_escape(o, u[i++]);
    } else if (u[i] < 0x80) {
      size_t j = i;
      while (j < n && u[j] >= 0x20 && u[j] < 0x80 && u[j] != '"' &&
             u[j] != '\\')
        j++;
      out_put(o, s + i, j - i);
      i = j;
    } else {
      size_t k = utf8_len(u + i, n - i);
      out_put(o, k ? s + i : "\xef\xbf\xbd", k ? k : 3);
      i += k ? k : 1;
    }
  }
  out_put(o, "\"", 1);
}

static void out_str(out_t *o, const char *s) {
  out_strn(o, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

/* µs as milliseconds with three decimals: exact, so sums add up. */
static void out_ms(out_t *o, uint64_t us) {
  out_f(o, "%" PRIu64 ".%03" PRIu64, us / 1000, us % 1000);
}

/* ISO 8601 in UTC with milliseconds: 2024-05-01T12:34:56.789Z */
static void out_date(out_t *o, uint64_t wall_us) {
  time_t sec = (time_t)(wall_us / 1000000);
  struct tm tm;
  if (gmtime_r(&sec, &tm) == NULL)
    memset(&tm, 0, sizeof(tm)); /* unreachable for any real clock */
  out_f(o, "\"%04d-%02d-%02dT%02d:%02d:%02d.%03uZ\"", tm.tm_year + 1900,
        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
        (unsigned)(wall_us / 1000 % 1000));
}

/* ---- the archive ------------------------------------------------------- */

static const char *http_version(int v) {
  switch (v) {
  case 10:
    return "HTTP/1.0";
  case 20:
    return "HTTP/2";
  default:
    return "HTTP/1.1"; /* 11, or unknown */
  }
}

static void page_id(out_t *o, const cli_trace_run_t *r) {
  char id[96];
  snprintf(id, sizeof(id), "%s-%u", adl_strategy_name(r->strategy),
           r->repeat);
  out_str(o, id);
}

static void write_page(out_t *o, const cli_trace_run_t *r) {
  char title[160];
  snprintf(title, sizeof(title), "%s, K=%u, repeat %u: %" PRIu64 ".%03" PRIu64
           " ms", adl_strategy_name(r->strategy), r->max_connections,
           r->repeat, r->wall_us / 1000, r->wall_us % 1000);
  out_s(o, "{\"startedDateTime\":");
  out_date(o, r->start_wall_us);
  out_s(o, ",\"id\":");
  page_id(o, r);
  out_s(o, ",\"title\":");
  out_str(o, title);
  out_s(o, ",\"pageTimings\":{\"onContentLoad\":-1,\"onLoad\":");
  out_ms(o, r->wall_us);
  out_s(o, "}}");
}

/* The query string of url as name/value pairs, left percent-encoded. */
static void write_query(out_t *o, const char *url) {
  const char *q = strchr(url, '?');
  const char *end = q != NULL ? q + strcspn(q, "#") : NULL;
  int first = 1;
  out_s(o, "[");
  for (const char *p = q != NULL ? q + 1 : NULL; p != NULL && p < end;) {
    const char *amp = memchr(p, '&', (size_t)(end - p));
    const char *stop = amp != NULL ? amp : end;
    const char *eq = memchr(p, '=', (size_t)(stop - p));
    if (stop > p) {
      out_s(o, first ? "{\"name\":" : ",{\"name\":");
      out_strn(o, p, (size_t)((eq != NULL ? eq : stop) - p));
      out_s(o, ",\"value\":");
      out_strn(o, eq != NULL ? eq + 1 : stop,
               eq != NULL ? (size_t)(stop - eq - 1) : 0);
      out_s(o, "}");
      first = 0;
    }
    p = amp != NULL ? amp + 1 : NULL;
  }
  out_s(o, "]");
}

static void write_request(out_t *o, const cli_trace_req_t *q) {
  out_s(o, "\"request\":{\"method\":\"GET\",\"url\":");
  out_str(o, q->url);
  out_f(o, ",\"httpVersion\":\"%s\"", http_version(q->http_version));
  out_s(o, ",\"cookies\":[],\"headers\":[],\"queryString\":");
  write_query(o, q->url);
  out_s(o, ",\"headersSize\":-1,\"bodySize\":0}");
}

static void write_response(out_t *o, const cli_trace_req_t *q) {
  int answered = q->http_status > 0;
  /* The engine keeps no headers; what it downloads is the fixture's and
   * the API's JSON, so a body that arrived whole is application/json. */
  int json = q->status == 0 && q->bytes > 0;
  out_f(o, "\"response\":{\"status\":%ld,\"statusText\":\"\"",
        answered ? q->http_status : 0L);
  out_f(o, ",\"httpVersion\":\"%s\"", http_version(q->http_version));
  /* A compressed body: bodySize is what came over the wire, content.size
   * the decoded document, compression the difference (HAR 1.2). */
  uint64_t wire = q->wire_bytes != 0 ? q->wire_bytes : q->bytes;
  out_f(o, ",\"cookies\":[],\"headers\":[],\"content\":{\"size\":%" PRIu64,
        q->bytes);
  if (wire < q->bytes)
    out_f(o, ",\"compression\":%" PRIu64, q->bytes - wire);
  out_f(o, ",\"mimeType\":\"%s\"}", json ? "application/json" : "");
  out_s(o, ",\"redirectURL\":\"\",\"headersSize\":-1,\"bodySize\":");
  if (answered)
    out_f(o, "%" PRIu64, wire);
  else
    out_s(o, "-1");
  if (q->status != 0) {
    out_s(o, ",\"_error\":");
    out_str(o, adl_err_name(q->status));
  }
  out_s(o, "}");
}

/* The HAR phases of one request in µs; -1 (as INT64_MIN here) for none. */
typedef struct {
  int64_t blocked, dns, connect, ssl, send, wait, receive;
} phases_t;

#define NONE INT64_MIN

static int64_t sub0(uint64_t a, uint64_t b) {
  return a > b ? (int64_t)(a - b) : 0;
}

static phases_t phases_of(const cli_trace_req_t *q) {
  phases_t p;
  int fresh = q->new_connections > 0;
  uint64_t setup = q->dns_us + (fresh ? q->connect_us + q->tls_us : 0);
  /* No first byte: the whole attempt was spent waiting for an answer. */
  uint64_t ttfb = q->ttfb_us > 0 ? q->ttfb_us
                                  : (uint64_t)sub0(q->total_us, q->backoff_us);
  p.blocked = (int64_t)(q->queue_us + q->backoff_us);
  p.dns = q->dns_us > 0 ? (int64_t)q->dns_us : NONE;
  p.connect = fresh ? (int64_t)(q->connect_us + q->tls_us) : NONE;
  p.ssl = fresh && q->tls_us > 0 ? (int64_t)q->tls_us : NONE;
  p.send = 0;
  p.wait = sub0(ttfb, setup);
  p.receive = sub0(q->total_us, ttfb + q->backoff_us);
  return p;
}

static int64_t plus(int64_t v) { return v == NONE ? 0 : v; }

static void out_phase(out_t *o, const char *name, int64_t v) {
  out_f(o, "%s\"%s\":", strcmp(name, "blocked") == 0 ? "" : ",", name);
  if (v == NONE)
    out_s(o, "-1");
  else
    out_ms(o, (uint64_t)v);
}

/* When the request was submitted: admitted at start_us, after its queue. */
static uint64_t started_us(const cli_trace_req_t *q) {
  return q->start_us > q->queue_us ? q->start_us - q->queue_us : 0;
}

static void write_entry(out_t *o, const cli_trace_run_t *r,
                        const cli_trace_req_t *q) {
  phases_t p = phases_of(q);
  uint64_t time = (uint64_t)(plus(p.blocked) + plus(p.dns) + plus(p.connect) +
                             p.send + p.wait + p.receive);
  out_s(o, "{\"pageref\":");
  page_id(o, r);
  out_s(o, ",\"startedDateTime\":");
  out_date(o, r->start_wall_us + started_us(q));
  out_s(o, ",\"time\":");
  out_ms(o, time);
  out_s(o, ",");
  write_request(o, q);
  out_s(o, ",");
  write_response(o, q);
  out_s(o, ",\"cache\":{},\"timings\":{");
  out_phase(o, "blocked", p.blocked);
  out_phase(o, "dns", p.dns);
  out_phase(o, "connect", p.connect);
  out_phase(o, "ssl", p.ssl);
  out_phase(o, "send", p.send);
  out_phase(o, "wait", p.wait);
  out_phase(o, "receive", p.receive);
  out_s(o, "}");
  if (q->local_port > 0)
    out_f(o, ",\"connection\":\"%d\"", q->local_port);
  out_f(o, ",\"_attempts\":%u}", q->attempts);
}

/* Entries by start time (HAR's preferred order), ties in trace order. */
static int by_start(const void *a, const void *b) {
  const cli_trace_req_t *x = *(const cli_trace_req_t *const *)a;
  const cli_trace_req_t *y = *(const cli_trace_req_t *const *)b;
  uint64_t sx = started_us(x), sy = started_us(y);
  if (sx != sy)
    return sx < sy ? -1 : 1;
  return x < y ? -1 : x > y;
}

static void write_entries(out_t *o, const cli_trace_t *t,
                          const cli_trace_req_t **sorted) {
  int first = 1;
  for (size_t i = 0; i < t->nruns; i++) {
    const cli_trace_run_t *r = &t->runs[i];
    size_t n = 0;
    for (size_t j = r->first; j < r->first + r->count && j < t->n; j++)
      sorted[n++] = &t->reqs[j];
    qsort(sorted, n, sizeof(*sorted), by_start);
    for (size_t j = 0; j < n; j++) {
      out_s(o, first ? "\n" : ",\n");
      write_entry(o, r, sorted[j]);
      first = 0;
    }
  }
}

static void write_log(out_t *o, const cli_trace_t *t,
                      const cli_trace_req_t **sorted) {
  out_s(o, "{\"log\":{\"version\":\"1.2\",\"creator\":{\"name\":\"asyncdl\","
           "\"version\":");
  out_str(o, ADL_VERSION_STRING);
  out_s(o, "},\"pages\":[");
  for (size_t i = 0; i < t->nruns; i++) {
    out_s(o, i ? ",\n" : "\n");
    write_page(o, &t->runs[i]);
  }
  out_s(o, "],\"entries\":[");
  write_entries(o, t, sorted);
  out_s(o, "]}}\n");
  out_flush(o);
}

/* ---- the file: a temporary name beside it, then rename ----------------- */

static int fail(int e, char *err, size_t errlen, const char *path,
                const char *what) {
  snprintf(err, errlen, "%s: %s: %s", path, what, strerror(e));
  return -e;
}

/* Creates path.tmp-PID-N exclusively (never through a symlink). */
static int open_temp(const char *path, char **tmp) {
  size_t cap = strlen(path) + 48;
  if ((*tmp = malloc(cap)) == NULL)
    return -ENOMEM;
  for (unsigned n = 0; n < 100; n++) {
    snprintf(*tmp, cap, "%s.tmp-%ld-%u", path, (long)getpid(), n);
    int fd = open(*tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0666);
    if (fd >= 0 || errno != EEXIST)
      return fd >= 0 ? fd : -errno;
  }
  return -EEXIST;
}

/* Writes, syncs and closes fd; 0 or a positive errno. */
static int write_all(int fd, const cli_trace_t *t) {
  out_t *o = malloc(sizeof(*o));
  const cli_trace_req_t **sorted = malloc((t->n ? t->n : 1) * sizeof(*sorted));
  int e = ENOMEM;
  if (o != NULL && sorted != NULL) {
    o->fd = fd;
    o->err = 0;
    o->len = 0;
    write_log(o, t, sorted);
    e = o->err;
  }
  free(o);
  free(sorted);
  /* fsync before rename: a crash leaves the old file or the new one. */
  if (e == 0 && fsync(fd) != 0 && errno != EINVAL)
    e = errno;
  if (close(fd) != 0 && e == 0 && errno != EINTR)
    e = errno;
  return e;
}

int cli_har_write(const cli_trace_t *t, const char *path, char *err,
                  size_t errlen) {
  char *tmp = NULL;
  int fd = open_temp(path, &tmp);
  if (fd < 0) {
    int rc = fail(-fd, err, errlen, path, "cannot create a temporary file");
    free(tmp);
    return rc;
  }
  int e = write_all(fd, t);
  int rc = 0;
  if (e != 0)
    rc = fail(e, err, errlen, path, "cannot write");
  else if (rename(tmp, path) != 0)
    rc = fail(errno, err, errlen, path, "cannot rename the temporary file");
  if (rc != 0)
    unlink(tmp);
  free(tmp);
  return rc;
}
