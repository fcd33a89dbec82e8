/* Response heads, conditional requests, the final URL after redirects and
 * per-request headers, against the tests' nginx plain HTTP/1.1 port
 * (with-nginx.sh), which sends ETag and Last-Modified for its static files
 * and honours If-None-Match and If-Modified-Since:
 *   - head: adl_request_status_line is "HTTP/1.1 200 OK"; ETag,
 *     Last-Modified, Content-Type and Content-Length are what nginx derives
 *     from the file (stat), found in any case; adl_request_header_at walks
 *     the same names and values in the same order as a raw request to
 *     nginx shows, then ADL_ENOENT; on_headers runs once, with the head
 *     already readable;
 *   - a 304 to If-None-Match (the ETag of a 200 before) or to
 *     If-Modified-Since (its Last-Modified) is status 0, http_status 304,
 *     not_modified 1, and the existing target file is untouched (same
 *     inode, mtime and bytes); with no file before, nothing is created;
 *     a mismatched ETag gets a 200 that replaces it;
 *   - final_url after nginx's /redirect-me (302) is the target, url stays
 *     as submitted, and the head is the final response's;
 *   - headers and user_agent per request reach nginx (its access log), a
 *     "User-Agent:" line removes the header, and both are copied: the
 *     caller's strings are scribbled over and freed right after
 *     adl_request_start;
 *   - over HTTP/2 (TLS port): "HTTP/2 200", the same validators found
 *     whatever the case of the name, and a 304 that leaves the file;
 *   - a line break in a header or a user agent (the request's or the
 *     client's) never smuggles a header onto the wire: refused, or at
 *     least not seen by nginx.
 * Watchdog on every run; the client's fds come back after close. Skips
 * (77) outside with-nginx.sh. */
#include "nginx-test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#define MAXH 32

typedef struct seen_s {
  unsigned calls, head_calls;
  adl_result_t res;
  char msg[256], url[512], final_url[512];
  char status_line[128], head_status_line[128];
  long head_status;
  char etag[128], etag_lc[128], last_modified[128], content_type[128],
      content_length[64], location[256], missing[8];
  unsigned nh;            /* headers seen by header_at */
  char names[MAXH][64], values[MAXH][256];
  int past_end, far_past_end; /* header_at at nh and at 1000 */
} seen_t;

static unsigned g_done;

static void copy_or_null(char *dst, size_t cap, const char *v) {
  snprintf(dst, cap, "%s", v ? v : "(null)");
}

static int on_headers(adl_request_t *r, long status) {
  seen_t *s = adl_request_get_data(r);
  s->head_calls++;
  s->head_status = status;
  copy_or_null(s->head_status_line, sizeof(s->head_status_line),
               adl_request_status_line(r));
  return 0;
}

static void on_done(adl_request_t *r, const adl_result_t *res) {
  seen_t *s = adl_request_get_data(r);
  s->calls++;
  s->res = *res;
  s->res.message = s->res.url = s->res.final_url = NULL;
  copy_or_null(s->msg, sizeof(s->msg), res->message);
  copy_or_null(s->url, sizeof(s->url), res->url);
  copy_or_null(s->final_url, sizeof(s->final_url), res->final_url);
  copy_or_null(s->status_line, sizeof(s->status_line),
               adl_request_status_line(r));
  copy_or_null(s->etag, sizeof(s->etag), adl_request_header(r, "ETag"));
  copy_or_null(s->etag_lc, sizeof(s->etag_lc), adl_request_header(r, "etag"));
  copy_or_null(s->last_modified, sizeof(s->last_modified),
               adl_request_header(r, "Last-Modified"));
  copy_or_null(s->content_type, sizeof(s->content_type),
               adl_request_header(r, "CONTENT-TYPE"));
  copy_or_null(s->content_length, sizeof(s->content_length),
               adl_request_header(r, "Content-Length"));
  copy_or_null(s->location, sizeof(s->location),
               adl_request_header(r, "Location"));
  copy_or_null(s->missing, sizeof(s->missing),
               adl_request_header(r, "X-No-Such-Header"));
  s->nh = 0;
  const char *name, *value;
  while (s->nh < MAXH &&
         adl_request_header_at(r, s->nh, &name, &value) == 0) {
    copy_or_null(s->names[s->nh], sizeof(s->names[0]), name);
    copy_or_null(s->values[s->nh], sizeof(s->values[0]), value);
    s->nh++;
  }
  s->past_end = adl_request_header_at(r, s->nh, &name, &value);
  s->far_past_end = adl_request_header_at(r, 1000, &name, &value);
  if (res->status != 0)
    fprintf(stderr, "  %s: %s (%s)\n", res->url, adl_err_name(res->status),
            res->message);
  g_done++;
}

/* One request through a fresh client; hdrs and ua may be NULL. */
static void fetch(const adl_options_t *o, const char *url, const char *path,
                  const char *const *hdrs, seen_t *s) {
  sys_t sys;
  memset(s, 0, sizeof(*s));
  g_done = 0;
  sys_open(&sys, o);
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  ro.on_done = on_done;
  ro.on_headers = on_headers;
  ro.data = s;
  ro.headers = hdrs;
  if (path != NULL) {
    ro.sink = ADL_SINK_FILE;
    ro.path = path;
  }
  int rc = adl_request_start(sys.c, url, &ro, NULL);
  if (rc != 0)
    ADL_FAIL_("adl_request_start %s: %s", url, adl_err_name(rc));
  sys_run(&sys, &g_done, 1, 20000, url);
  sys_close(&sys);
  ASSERT_EQ(s->calls, 1);
}

/* ---- what nginx says without the library -------------------------------- */

typedef struct raw_head_s {
  char status_line[128];
  unsigned n;
  char names[MAXH][64], values[MAXH][256];
} raw_head_t;

/* GET path from 127.0.0.1:port over a plain socket; the head, split. */
static void raw_head(int port, const char *path, raw_head_t *h) {
  memset(h, 0, sizeof(*h));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT(fd >= 0);
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  char req[512];
  int n = snprintf(req, sizeof(req),
                   "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: "
                   "raw\r\nAccept: */*\r\n\r\n",
                   path, port);
  ASSERT_EQ(write(fd, req, (size_t)n), n);
  char buf[8192];
  size_t len = 0;
  char *end = NULL;
  while (end == NULL && len < sizeof(buf) - 1) {
    ssize_t got = read(fd, buf + len, sizeof(buf) - 1 - len);
    ASSERT(got > 0);
    len += (size_t)got;
    buf[len] = '\0';
    end = strstr(buf, "\r\n\r\n");
  }
  close(fd);
  ASSERT(end != NULL);
  end[2] = '\0';
  char *line = buf, *nl = strstr(line, "\r\n");
  *nl = '\0';
  ASSERT_LT(strlen(line), sizeof(h->status_line));
  memcpy(h->status_line, line, strlen(line) + 1);
  for (line = nl + 2; *line != '\0' && h->n < MAXH; line = nl + 2) {
    nl = strstr(line, "\r\n");
    *nl = '\0';
    char *colon = strchr(line, ':');
    ASSERT(colon != NULL);
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ')
      v++;
    ASSERT_LT(strlen(line), sizeof(h->names[0]));
    ASSERT_LT(strlen(v), sizeof(h->values[0]));
    memcpy(h->names[h->n], line, strlen(line) + 1);
    memcpy(h->values[h->n], v, strlen(v) + 1);
    h->n++;
  }
}

/* ---- the tests ---------------------------------------------------------- */

static const char *g_http, *g_root, *g_log;
static int g_port;

static void doc_url(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s%s", g_http, name);
}

/* nginx's strong ETag and Last-Modified for a file: "%lx-%lx" of mtime
 * and size, and the HTTP date of the mtime. */
static void expected_validators(const char *file, char *etag, size_t ecap,
                                char *lm, size_t lcap) {
  struct stat st;
  ASSERT_EQ(stat(file, &st), 0);
  snprintf(etag, ecap, "\"%lx-%lx\"", (unsigned long)st.st_mtime,
           (unsigned long)st.st_size);
  struct tm tm;
  gmtime_r(&st.st_mtime, &tm);
  strftime(lm, lcap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static seen_t g_first; /* the 200 whose validators the 304s reuse */

static void test_head(const char *dir) {
  adl_options_t o;
  adl_options_init(&o);
  char url[512], path[600], want[600];
  doc_url(url, sizeof(url), "mew");
  snprintf(path, sizeof(path), "%s/mew", dir);
  snprintf(want, sizeof(want), "%s/api/v2/pokemon/mew", g_root);
  seen_t *s = &g_first;
  fetch(&o, url, path, NULL, s);
  ASSERT_EQ(s->res.status, 0);
  ASSERT_EQ(s->res.http_status, 200);
  ASSERT_EQ(s->res.not_modified, 0);
  expect_same_file(path, want);
  ASSERT_STR_EQ(s->url, url);
  ASSERT_STR_EQ(s->final_url, url); /* no redirect */
  ASSERT_STR_EQ(s->status_line, "HTTP/1.1 200 OK");
  ASSERT_EQ(s->head_calls, 1);
  ASSERT_EQ(s->head_status, 200);
  ASSERT_STR_EQ(s->head_status_line, "HTTP/1.1 200 OK");
  char etag[128], lm[128], clen[32];
  expected_validators(want, etag, sizeof(etag), lm, sizeof(lm));
  snprintf(clen, sizeof(clen), "%llu", (unsigned long long)file_size(want));
  ASSERT_STR_EQ(s->etag, etag);
  ASSERT_STR_EQ(s->etag_lc, etag);
  ASSERT_STR_EQ(s->last_modified, lm);
  ASSERT_STR_EQ(s->content_type, "application/json");
  ASSERT_STR_EQ(s->content_length, clen);
  ASSERT_STR_EQ(s->location, "(null)");
  ASSERT_STR_EQ(s->missing, "(null)");
  ASSERT_EQ(s->past_end, ADL_ENOENT);
  ASSERT_EQ(s->far_past_end, ADL_ENOENT);
  /* The same head, in the same order, as nginx sends it to anyone. */
  raw_head_t raw;
  long mark = ngx_mark(g_log);
  raw_head(g_port, "/api/v2/pokemon/mew", &raw);
  /* Wait for its log line. The fetch before may log after the mark (nginx
   * logs once the response is sent, the client may be done first): its
   * line is skipped. */
  ngx_line_t lines[2];
  unsigned nl = 0;
  for (int tries = 0; tries < 2; tries++) {
    nl = ngx_lines(g_log, mark, g_port, (unsigned)tries + 1, lines, 2);
    if (nl >= 1 && strcmp(lines[nl - 1].ua, "raw") == 0)
      break;
  }
  ASSERT(nl >= 1);
  ASSERT_STR_EQ(lines[nl - 1].ua, "raw");
  ASSERT_STR_EQ(raw.status_line, s->status_line);
  if (raw.n != s->nh)
    ADL_FAIL_("header_at walked %u headers, nginx sent %u", s->nh, raw.n);
  for (unsigned i = 0; i < raw.n; i++) {
    if (strcasecmp(raw.names[i], s->names[i]) != 0)
      ADL_FAIL_("header %u: \"%s\", nginx sent \"%s\" there", i,
                s->names[i], raw.names[i]);
    if (strcasecmp(raw.names[i], "Date") != 0)
      ASSERT_STR_EQ(s->values[i], raw.values[i]);
  }
  fprintf(stderr, "head: %s, %u headers in nginx's order, ETag %s\n",
          s->status_line, s->nh, s->etag);
}

typedef struct fstate_s {
  struct stat st;
  char *bytes;
  size_t len;
} fstate_t;

static void snapshot(const char *path, fstate_t *f) {
  ASSERT_EQ(stat(path, &f->st), 0);
  f->bytes = read_file(path, &f->len);
  ASSERT(f->bytes != NULL);
}

/* A conditional GET of mew over the existing file: 304, untouched. */
static void test_not_modified(const char *dir, const char *header,
                              const char *value) {
  char path[600], url[512], line[512];
  snprintf(path, sizeof(path), "%s/mew", dir);
  doc_url(url, sizeof(url), "mew");
  /* An old mtime, so that any rewrite would show. */
  struct timespec old[2] = {{1000000000, 123}, {1000000000, 123}};
  ASSERT_EQ(utimensat(AT_FDCWD, path, old, 0), 0);
  fstate_t before, after;
  snapshot(path, &before);
  snprintf(line, sizeof(line), "%s: %s", header, value);
  const char *hdrs[] = {line, NULL};
  adl_options_t o;
  adl_options_init(&o);
  long mark = ngx_mark(g_log);
  seen_t s;
  fetch(&o, url, path, hdrs, &s);
  if (s.res.status != 0 || s.res.http_status != 304 ||
      s.res.not_modified != 1)
    ADL_FAIL_("%s: status %s (%s), http %ld, not_modified %u; want 0, 304, "
              "1", header, adl_err_name(s.res.status), s.msg,
              s.res.http_status, s.res.not_modified);
  ASSERT_EQ(s.res.bytes, 0);
  ASSERT_STR_EQ(s.status_line, "HTTP/1.1 304 Not Modified");
  ASSERT_STR_EQ(s.etag, g_first.etag); /* nginx repeats it in the 304 */
  snapshot(path, &after);
  ASSERT_EQ(after.st.st_ino, before.st.st_ino);
  ASSERT_EQ(after.st.st_mtim.tv_sec, before.st.st_mtim.tv_sec);
  ASSERT_EQ(after.st.st_mtim.tv_nsec, before.st.st_mtim.tv_nsec);
  ASSERT_EQ(after.len, before.len);
  ASSERT(memcmp(after.bytes, before.bytes, before.len) == 0);
  ASSERT_EQ(adl_test_dir_entries(dir), 1); /* no temporary left */
  free(before.bytes);
  free(after.bytes);
  ngx_line_t lines[8];
  unsigned n = ngx_lines(g_log, mark, g_port, 1, lines, 8);
  ASSERT_EQ(n, 1);
  ASSERT_EQ(lines[0].status, 304);
  if (strcasecmp(header, "If-None-Match") == 0)
    ASSERT_STR_EQ(lines[0].inm, value);
  fprintf(stderr, "%s: 304, not_modified, file untouched\n", header);
}

/* A 304 where no file exists yet: a success that writes nothing, not
 * even an empty file. */
static void test_not_modified_absent(void) {
  char dir[] = "/tmp/adl-cond0-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  char path[600], url[512], line[256];
  snprintf(path, sizeof(path), "%s/mew", dir);
  doc_url(url, sizeof(url), "mew");
  snprintf(line, sizeof(line), "If-None-Match: %s", g_first.etag);
  const char *hdrs[] = {line, NULL};
  adl_options_t o;
  adl_options_init(&o);
  seen_t s;
  fetch(&o, url, path, hdrs, &s);
  ASSERT_EQ(s.res.status, 0);
  ASSERT_EQ(s.res.http_status, 304);
  ASSERT_EQ(s.res.not_modified, 1);
  if (adl_test_dir_entries(dir) != 0)
    ADL_FAIL_("a 304 with no file before left %u entries in %s",
              adl_test_dir_entries(dir), dir);
  rm_dir(dir);
  fprintf(stderr, "304 with no file before: nothing written\n");
}

/* A mismatched ETag: 200, and the file is written again. */
static void test_modified(const char *dir) {
  char path[600], url[512], want[600];
  snprintf(path, sizeof(path), "%s/mew", dir);
  snprintf(want, sizeof(want), "%s/api/v2/pokemon/mew", g_root);
  doc_url(url, sizeof(url), "mew");
  struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path, old, 0), 0);
  const char *hdrs[] = {"If-None-Match: \"no-such-etag\"", NULL};
  adl_options_t o;
  adl_options_init(&o);
  seen_t s;
  fetch(&o, url, path, hdrs, &s);
  ASSERT_EQ(s.res.status, 0);
  ASSERT_EQ(s.res.http_status, 200);
  ASSERT_EQ(s.res.not_modified, 0);
  struct stat st;
  ASSERT_EQ(stat(path, &st), 0);
  ASSERT_NE(st.st_mtime, 1000000000);
  expect_same_file(path, want);
  fprintf(stderr, "mismatched If-None-Match: 200, file rewritten\n");
}

static void test_redirect(void) {
  char url[512], target[512], want[600];
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/redirect-me", g_port);
  doc_url(target, sizeof(target), "mew");
  snprintf(want, sizeof(want), "%s/api/v2/pokemon/mew", g_root);
  char dir[] = "/tmp/adl-redir-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  char path[600];
  snprintf(path, sizeof(path), "%s/out", dir);
  adl_options_t o;
  adl_options_init(&o);
  seen_t s;
  fetch(&o, url, path, NULL, &s);
  ASSERT_EQ(s.res.status, 0);
  ASSERT_EQ(s.res.http_status, 200);
  ASSERT_STR_EQ(s.url, url);
  ASSERT_STR_EQ(s.final_url, target);
  expect_same_file(path, want);
  /* The head shown is the final response's, and on_headers saw only it. */
  ASSERT_STR_EQ(s.status_line, "HTTP/1.1 200 OK");
  ASSERT_STR_EQ(s.location, "(null)");
  ASSERT_EQ(s.head_calls, 1);
  ASSERT_EQ(s.head_status, 200);
  rm_dir(dir);
  fprintf(stderr, "redirect: final_url %s\n", s.final_url);
}

/* Per-request headers and user agent, copied by adl_request_start. */
static char *dup_str(const char *s) {
  char *d = strdup(s);
  ASSERT(d != NULL);
  return d;
}

static void scribble_free(char *s) {
  memset(s, 'Z', strlen(s));
  free(s);
}

static void test_request_headers(void) {
  adl_options_t o;
  adl_options_init(&o);
  o.user_agent = "h5-client/1";
  long mark = ngx_mark(g_log);
  sys_t sys;
  g_done = 0;
  sys_open(&sys, &o);
  static seen_t s[3];
  memset(s, 0, sizeof(s));
  for (int i = 0; i < 3; i++) {
    char url[512], q[64];
    snprintf(q, sizeof(q), "pikachu?case=%d", i);
    doc_url(url, sizeof(url), q);
    char **hdrs = calloc(4, sizeof(char *));
    ASSERT(hdrs != NULL);
    char *ua = NULL;
    if (i == 0) {
      hdrs[0] = dup_str("X-Asyncdl-Test: hello");
      hdrs[1] = dup_str("X-Other: 1");
      ua = dup_str("h5-request/2");
    } else if (i == 1) {
      hdrs[0] = dup_str("X-Asyncdl-Test: second");
    } else {
      hdrs[0] = dup_str("User-Agent:");
    }
    adl_request_opts_t ro;
    adl_request_opts_init(&ro);
    ro.on_done = on_done;
    ro.data = &s[i];
    ro.headers = (const char *const *)hdrs;
    ro.user_agent = ua;
    ASSERT_EQ(adl_request_start(sys.c, url, &ro, NULL), 0);
    /* The caller's copies die at once. */
    for (char **h = hdrs; *h != NULL; h++)
      scribble_free(*h);
    memset(hdrs, 0xff, 4 * sizeof(char *));
    free(hdrs);
    if (ua != NULL)
      scribble_free(ua);
  }
  sys_run(&sys, &g_done, 3, 20000, "request headers");
  sys_close(&sys);
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(s[i].res.status, 0);
  ngx_line_t lines[8];
  unsigned n = ngx_lines(g_log, mark, g_port, 3, lines, 8);
  ASSERT_EQ(n, 3);
  const ngx_line_t *l0 = ngx_find(lines, n, "/api/v2/pokemon/pikachu?case=0");
  const ngx_line_t *l1 = ngx_find(lines, n, "/api/v2/pokemon/pikachu?case=1");
  const ngx_line_t *l2 = ngx_find(lines, n, "/api/v2/pokemon/pikachu?case=2");
  ASSERT(l0 != NULL && l1 != NULL && l2 != NULL);
  ASSERT_STR_EQ(l0->xtest, "hello");
  ASSERT_STR_EQ(l0->ua, "h5-request/2");
  ASSERT_STR_EQ(l1->xtest, "second");
  ASSERT_STR_EQ(l1->ua, "h5-client/1");
  ASSERT_STR_EQ(l2->xtest, "-");
  ASSERT_STR_EQ(l2->ua, "-"); /* "User-Agent:" removed it */
  fprintf(stderr, "request headers: X-Asyncdl-Test and user agents as "
                  "asked, copied at start\n");
}

/* A line break in a header or a user agent would smuggle a header of
 * the caller's choosing (or a whole request) onto the wire: the request
 * is refused (ADL_EINVAL), or at least nginx never sees the smuggled
 * header. Returns how many got through. */
static unsigned smuggled_via(const char *what, const char *const *hdrs,
                             const char *request_ua, const char *client_ua) {
  adl_options_t o;
  adl_options_init(&o);
  o.user_agent = client_ua;
  sys_t sys;
  sys_open_loop(&sys);
  sys.fds_before = sys_count_fds();
  int rc = adl_client_new(&sys.loop, &o, &sys.c);
  if (rc == ADL_EINVAL) {
    sys_close_loop(&sys);
    fprintf(stderr, "%s: refused by adl_client_new\n", what);
    return 0;
  }
  ASSERT_EQ(rc, 0);
  adl_client_set_data(sys.c, &sys);
  char url[512];
  doc_url(url, sizeof(url), "mew?smuggle=1");
  seen_t s;
  memset(&s, 0, sizeof(s));
  g_done = 0;
  adl_request_opts_t ro;
  adl_request_opts_init(&ro);
  ro.on_done = on_done;
  ro.data = &s;
  ro.headers = hdrs;
  ro.user_agent = request_ua;
  long mark = ngx_mark(g_log);
  rc = adl_request_start(sys.c, url, &ro, NULL);
  if (rc == 0)
    sys_run(&sys, &g_done, 1, 20000, what);
  sys_close(&sys);
  if (rc == ADL_EINVAL) {
    fprintf(stderr, "%s: refused by adl_request_start\n", what);
    return 0;
  }
  ASSERT_EQ(rc, 0);
  ngx_line_t lines[8];
  unsigned n = ngx_lines(g_log, mark, g_port, 1, lines, 8);
  unsigned bad = 0;
  for (unsigned i = 0; i < n; i++)
    bad += strcmp(lines[i].xtest, "smuggled") == 0;
  fprintf(stderr, "%s: accepted; nginx saw %u request(s), %u with the "
                  "smuggled header\n", what, n, bad);
  return bad;
}

static unsigned test_no_smuggling(void) {
  const char *evil = "h5\r\nX-Asyncdl-Test: smuggled";
  const char *hdr[] = {"X-Other: a\r\nX-Asyncdl-Test: smuggled", NULL};
  unsigned bad = smuggled_via("line break in a header", hdr, NULL, NULL);
  bad += smuggled_via("line break in a request's user_agent", NULL, evil,
                      NULL);
  bad += smuggled_via("line break in the client's user_agent", NULL, NULL,
                      evil);
  return bad;
}

/* The same over HTTP/2 (header names arrive in lower case there): the
 * accessors still find them, the status lines are HTTP/2's, and a 304 to
 * If-None-Match leaves the file alone. */
static void test_h2(const char *https, const char *ca) {
  adl_options_t o;
  adl_options_init(&o);
  o.http2 = 1;
  o.cacert = ca;
  char url[512], want[600], path[600], etag[128], lm[128], clen[32];
  snprintf(url, sizeof(url), "%smew", https);
  snprintf(want, sizeof(want), "%s/api/v2/pokemon/mew", g_root);
  char dir[] = "/tmp/adl-cond2-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  snprintf(path, sizeof(path), "%s/mew", dir);
  seen_t s;
  fetch(&o, url, path, NULL, &s);
  ASSERT_EQ(s.res.status, 0);
  ASSERT_EQ(s.res.http_version, 20);
  ASSERT_STR_EQ(s.status_line, "HTTP/2 200");
  ASSERT_STR_EQ(s.head_status_line, "HTTP/2 200");
  expected_validators(want, etag, sizeof(etag), lm, sizeof(lm));
  snprintf(clen, sizeof(clen), "%llu", (unsigned long long)file_size(want));
  ASSERT_STR_EQ(s.etag, etag);
  ASSERT_STR_EQ(s.last_modified, lm);
  ASSERT_STR_EQ(s.content_type, "application/json");
  ASSERT_STR_EQ(s.content_length, clen);
  ASSERT_EQ(s.past_end, ADL_ENOENT);
  int found = 0;
  for (unsigned i = 0; i < s.nh; i++)
    found += strcasecmp(s.names[i], "etag") == 0 &&
             strcmp(s.values[i], etag) == 0;
  ASSERT_EQ(found, 1);
  struct timespec old[2] = {{1000000000, 7}, {1000000000, 7}};
  ASSERT_EQ(utimensat(AT_FDCWD, path, old, 0), 0);
  fstate_t before, after;
  snapshot(path, &before);
  char line[256];
  snprintf(line, sizeof(line), "If-None-Match: %s", etag);
  const char *hdrs[] = {line, NULL};
  fetch(&o, url, path, hdrs, &s);
  if (s.res.status != 0 || s.res.http_status != 304 ||
      s.res.not_modified != 1)
    ADL_FAIL_("h2 If-None-Match: status %s (%s), http %ld, not_modified %u",
              adl_err_name(s.res.status), s.msg, s.res.http_status,
              s.res.not_modified);
  ASSERT_STR_EQ(s.status_line, "HTTP/2 304");
  snapshot(path, &after);
  ASSERT_EQ(after.st.st_ino, before.st.st_ino);
  ASSERT_EQ(after.st.st_mtim.tv_nsec, before.st.st_mtim.tv_nsec);
  ASSERT_EQ(after.len, before.len);
  ASSERT(memcmp(after.bytes, before.bytes, before.len) == 0);
  free(before.bytes);
  free(after.bytes);
  ASSERT_EQ(adl_test_dir_entries(dir), 1);
  rm_dir(dir);
  fprintf(stderr, "HTTP/2: head found in lower case, 304 not_modified, file "
                  "untouched\n");
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  g_http = need_env("ADL_NGINX_HTTP");
  g_root = need_env("ADL_NGINX_ROOT");
  g_log = need_env("ADL_NGINX_LOG");
  g_port = url_port(g_http);
  ASSERT_EQ(adl_library_init(), 0);
  char dir[] = "/tmp/adl-cond-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  test_head(dir);
  test_not_modified(dir, "If-None-Match", g_first.etag);
  test_not_modified(dir, "If-Modified-Since", g_first.last_modified);
  test_modified(dir);
  test_not_modified_absent();
  rm_dir(dir);
  test_redirect();
  test_request_headers();
  test_h2(need_env("ADL_NGINX_HTTPS"), need_env("ADL_NGINX_CA"));
  unsigned smuggled = test_no_smuggling();
  adl_library_shutdown();
  if (smuggled > 0)
    ADL_FAIL_("%u requests smuggled a header through a line break",
              smuggled);
  printf("test-conditional: passed\n");
  return 0;
}
