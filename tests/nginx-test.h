/* Support for the library tests that run next to the tests' nginx
 * (with-nginx.sh): a client on its own loop under a watchdog, the fd count
 * that must come back after close, whole-file reads, and nginx's access log
 * (format in tests/system/nginx.sh) read from a mark on. Header-only. */
#ifndef ADL_NGINX_TEST_H
#define ADL_NGINX_TEST_H

#include "adl-test.h"

#include "asyncdl.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

/* ---- a client on its own loop, under a watchdog -------------------------- */

typedef struct sys_s {
  uv_loop_t loop;
  uv_timer_t watchdog;
  int fired, closed;
  unsigned fds_before;
  adl_client_t *c;
} sys_t;

static inline unsigned sys_count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  ASSERT(d != NULL);
  unsigned n = 0;
  while (readdir(d) != NULL)
    n++;
  closedir(d);
  return n;
}

/* Every open fd and what it is, to name a leak. */
static inline void sys_list_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  ASSERT(d != NULL);
  struct dirent *e;
  char p[300], target[512];
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(p, sizeof(p), "/proc/self/fd/%s", e->d_name);
    ssize_t n = readlink(p, target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = '\0';
    fprintf(stderr, "  fd %s -> %s\n", e->d_name, target);
  }
  closedir(d);
}

static inline void sys_on_watchdog(uv_timer_t *t) {
  ((sys_t *)t->data)->fired = 1;
}

/* The loop and its watchdog. */
static inline void sys_open_loop(sys_t *s) {
  memset(s, 0, sizeof(*s));
  ASSERT_EQ(uv_loop_init(&s->loop), 0);
  ASSERT_EQ(uv_timer_init(&s->loop, &s->watchdog), 0);
  s->watchdog.data = s;
}

/* The client with options o (its failure is the test's), once the fds
 * open without it are counted. */
static inline void sys_open_client(sys_t *s, const adl_options_t *o) {
  s->fds_before = sys_count_fds();
  int rc = adl_client_new(&s->loop, o, &s->c);
  if (rc != 0)
    ADL_FAIL_("adl_client_new: %s (%s)", adl_err_name(rc), adl_strerror(rc));
  adl_client_set_data(s->c, s);
}

static inline void sys_open(sys_t *s, const adl_options_t *o) {
  sys_open_loop(s);
  sys_open_client(s, o);
}

/* Runs the loop until *done reaches want; fails after ms (a lost or hung
 * request), naming what it waited for. */
static inline void sys_run_(sys_t *s, const unsigned *done, unsigned want,
                            uint64_t ms, const char *what, int line) {
  s->fired = 0;
  ASSERT_EQ(uv_timer_start(&s->watchdog, sys_on_watchdog, ms, 0), 0);
  while (*done < want && !s->fired)
    uv_run(&s->loop, UV_RUN_ONCE);
  uv_timer_stop(&s->watchdog);
  if (*done < want)
    ADL_FAIL_("line %d: %s: %u of %u outcomes after %llu ms (watchdog)", line,
              what, *done, want, (unsigned long long)ms);
}
#define sys_run(s, done, want, ms, what)                                       \
  sys_run_((s), (done), (want), (ms), (what), __LINE__)

static inline void sys_on_closed(adl_client_t *c) {
  ((sys_t *)adl_client_get_data(c))->closed = 1;
}

/* Closes the client (running the loop until its callback). */
static inline void sys_close_client(sys_t *s) {
  adl_client_close(s->c, sys_on_closed);
  s->fired = 0;
  ASSERT_EQ(uv_timer_start(&s->watchdog, sys_on_watchdog, 10000, 0), 0);
  while (!s->closed && !s->fired)
    uv_run(&s->loop, UV_RUN_ONCE);
  uv_timer_stop(&s->watchdog);
  ASSERT_EQ(s->closed, 1);
}

/* Every fd opened since fds_before is closed again. */
static inline void sys_check_fds(const sys_t *s) {
  unsigned fds = sys_count_fds();
  if (fds != s->fds_before) {
    sys_list_fds();
    ADL_FAIL_("%u fds before the client, %u after it closed", s->fds_before,
              fds);
  }
}

static inline void sys_close_loop(sys_t *s) {
  uv_close((uv_handle_t *)&s->watchdog, NULL);
  ADL_TEST_LOOP_CLOSE(&s->loop);
}

/* Closes the client and the loop; every fd the client opened is gone. */
static inline void sys_close(sys_t *s) {
  sys_close_client(s);
  sys_check_fds(s);
  sys_close_loop(s);
}

/* ---- files --------------------------------------------------------------- */

/* The whole file (NUL-terminated, caller frees), or NULL when absent. */
static inline char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (f == NULL)
    return NULL;
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap + 1);
  ASSERT(buf != NULL);
  size_t got;
  while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) {
      cap *= 2;
      buf = realloc(buf, cap + 1);
      ASSERT(buf != NULL);
    }
  }
  fclose(f);
  buf[n] = '\0';
  *len = n;
  return buf;
}

/* path and want hold the same bytes; fails naming path otherwise. */
static inline void expect_same_file(const char *path, const char *want) {
  size_t n1, n2;
  char *a = read_file(path, &n1), *b = read_file(want, &n2);
  if (a == NULL)
    ADL_FAIL_("%s: missing", path);
  ASSERT(b != NULL);
  if (n1 != n2 || memcmp(a, b, n1) != 0)
    ADL_FAIL_("%s (%zu bytes) differs from %s (%zu bytes)", path, n1, want,
              n2);
  free(a);
  free(b);
}

static inline uint64_t file_size(const char *path) {
  struct stat st;
  if (stat(path, &st) != 0)
    ADL_FAIL_("stat %s failed", path);
  return (uint64_t)st.st_size;
}

/* Removes dir and the plain files in it. */
static inline void rm_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d == NULL)
    return;
  struct dirent *e;
  char p[1024];
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
      continue;
    snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
    unlink(p);
  }
  closedir(d);
  rmdir(dir);
}

/* The port of "scheme://host:PORT/...". */
static inline int url_port(const char *url) {
  const char *p = strstr(url, "://");
  ASSERT(p != NULL);
  p = strchr(p + 3, ':');
  ASSERT(p != NULL);
  return atoi(p + 1);
}

/* An environment variable a test needs, or skip (77) when run bare. */
static inline const char *need_env(const char *name) {
  const char *v = getenv(name);
  if (v == NULL || v[0] == '\0') {
    fprintf(stderr, "%s not set (run via with-nginx.sh): skipping\n", name);
    exit(ADL_TEST_SKIP);
  }
  return v;
}

/* ---- nginx's access log -------------------------------------------------- */

typedef struct ngx_line_s {
  int port;
  unsigned long conn;   /* nginx's connection serial */
  unsigned long reqs;   /* requests on that connection so far */
  int status;
  unsigned long sent;   /* body bytes sent */
  char proto[16];
  char uri[512];
  char ua[256];
  char ae[256];         /* Accept-Encoding */
  char inm[256];        /* If-None-Match */
  char xtest[256];      /* X-Asyncdl-Test */
} ngx_line_t;

/* The log's size now: lines after it belong to what runs next. */
static inline long ngx_mark(const char *log) {
  struct stat st;
  return stat(log, &st) == 0 ? (long)st.st_size : 0;
}

/* Copies the next "..." field at *p into out; "-" stays "-". */
static inline int ngx_quoted_(const char **p, char *out, size_t cap) {
  const char *s = strchr(*p, '"');
  if (s == NULL)
    return -1;
  const char *e = strchr(s + 1, '"');
  if (e == NULL)
    return -1;
  size_t k = 0;
  for (const char *c = s + 1; c < e && k + 1 < cap; k++) {
    unsigned hex;
    /* nginx writes '"', '\\' and control bytes as \xHH */
    if (c[0] == '\\' && c[1] == 'x' && sscanf(c + 2, "%2x", &hex) == 1) {
      out[k] = (char)hex;
      c += 4;
    } else {
      out[k] = *c++;
    }
  }
  out[k] = '\0';
  *p = e + 1;
  return 0;
}

static inline int ngx_parse_(const char *l, ngx_line_t *x) {
  int off = 0;
  memset(x, 0, sizeof(*x));
  if (sscanf(l, "%d %lu %lu %d %lu %15s %511s %n", &x->port, &x->conn,
             &x->reqs, &x->status, &x->sent, x->proto, x->uri, &off) != 7)
    return -1;
  const char *p = l + off;
  if (ngx_quoted_(&p, x->ua, sizeof(x->ua)) != 0 ||
      ngx_quoted_(&p, x->ae, sizeof(x->ae)) != 0 ||
      ngx_quoted_(&p, x->inm, sizeof(x->inm)) != 0 ||
      ngx_quoted_(&p, x->xtest, sizeof(x->xtest)) != 0)
    return -1;
  return 0;
}

/* Reads the lines for port written since mark into out[0..max); returns
 * how many. nginx writes a line once the response went out, which may be
 * after the client saw it: waits (3 s at most) for want lines. */
static inline unsigned ngx_lines(const char *log, long mark, int port,
                                 unsigned want, ngx_line_t *out,
                                 unsigned max) {
  unsigned n = 0;
  for (int tries = 0; tries < 300; tries++) {
    n = 0;
    FILE *f = fopen(log, "r");
    ASSERT(f != NULL);
    ASSERT_EQ(fseek(f, mark, SEEK_SET), 0);
    char line[2048];
    while (fgets(line, sizeof(line), f) != NULL) {
      ngx_line_t x;
      if (ngx_parse_(line, &x) != 0 || x.port != port)
        continue;
      if (n < max)
        out[n] = x;
      n++;
    }
    fclose(f);
    if (n >= want)
      break;
    uv_sleep(10);
  }
  return n < max ? n : max;
}

/* Distinct connection serials among lines[0..n). */
static inline unsigned ngx_connections(const ngx_line_t *lines, unsigned n) {
  unsigned k = 0;
  for (unsigned i = 0; i < n; i++) {
    unsigned j = 0;
    while (j < i && lines[j].conn != lines[i].conn)
      j++;
    k += j == i;
  }
  return k;
}

/* The last line whose URI is uri, or NULL. */
static inline const ngx_line_t *ngx_find(const ngx_line_t *lines, unsigned n,
                                         const char *uri) {
  for (unsigned i = n; i-- > 0;)
    if (strcmp(lines[i].uri, uri) == 0)
      return &lines[i];
  return NULL;
}

#endif /* ADL_NGINX_TEST_H */
