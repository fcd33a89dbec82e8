/* Proxies: the tests' nginx (with-nginx.sh) behind a small forward proxy
 * this test starts on 127.0.0.1 (tests/system/proxy.py, argv[1]), which
 * logs every request it relays:
 *   - with options.proxy set, every request goes through it (the proxy
 *     logs each absolute URL; bodies are the documents), whatever the
 *     environment says (no_proxy included), and the option string is
 *     copied;
 *   - with http_proxy in the environment and neither proxy nor proxy_env,
 *     nothing goes through it (nginx sees the requests directly);
 *   - with proxy_env set, they do, except where no_proxy says otherwise;
 *   - https URLs go through a CONNECT tunnel with proxy set, or with
 *     https_proxy and proxy_env; http_proxy alone does not apply to them
 *     (curl's rule); multiplex takes one tunnel and speaks HTTP/2 in it;
 *   - credentials in the proxy URL reach the proxy (Proxy-Authorization)
 *     but never a result's message, url or final_url: not after a 404
 *     through the proxy, a 407 from it, a proxy that refuses connections,
 *     nor one taken from the environment.
 * Watchdog on every run; the client's fds come back after close; the
 * proxy exits when this process does (its stdin is our pipe). Skips (77)
 * outside with-nginx.sh or without python3. */
#include "nginx-test.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define DOCS 10

static const char *const g_names[DOCS] = {
    "bulbasaur", "ivysaur", "venusaur", "charmander", "charmeleon",
    "charizard", "squirtle", "wartortle", "blastoise", "pikachu"};
static const char *const g_secrets[] = {"s3cret", "hunter2", "pa55word",
                                        "0penSesame"};

typedef struct item_s {
  unsigned calls;
  adl_result_t res;
  char msg[512], url[512], final_url[512];
  char file[600];
} item_t;

static item_t g_items[DOCS];
static unsigned g_done;
static const char *g_http, *g_root, *g_log;
static char g_plog[256];
static char *g_scribble; /* overwritten once the next client exists */
static int g_pport;

/* No secret may show in anything a result carries. */
static void check_no_secret(const item_t *it) {
  for (size_t i = 0; i < sizeof(g_secrets) / sizeof(g_secrets[0]); i++) {
    const char *what[] = {it->msg, it->url, it->final_url};
    for (int k = 0; k < 3; k++)
      if (strstr(what[k], g_secrets[i]) != NULL)
        ADL_FAIL_("a result shows the proxy password \"%s\": \"%s\"",
                  g_secrets[i], what[k]);
  }
}

static void on_done(adl_request_t *r, const adl_result_t *res) {
  item_t *it = adl_request_get_data(r);
  it->calls++;
  it->res = *res;
  it->res.message = it->res.url = it->res.final_url = NULL;
  snprintf(it->msg, sizeof(it->msg), "%s", res->message);
  snprintf(it->url, sizeof(it->url), "%s", res->url);
  snprintf(it->final_url, sizeof(it->final_url), "%s",
           res->final_url ? res->final_url : "");
  check_no_secret(it);
  g_done++;
}

/* ---- the proxy process ---------------------------------------------------- */

static pid_t g_proxy_pid = -1;
static int g_proxy_stdin = -1, g_proxy_stdout = -1;

/* Starts proxy.py; returns 0, or 77 when python3 cannot run it. */
static int proxy_start(const char *script, const char *log) {
  int in[2], out[2];
  ASSERT_EQ(pipe2(in, O_CLOEXEC), 0);
  ASSERT_EQ(pipe2(out, O_CLOEXEC), 0);
  pid_t pid = fork();
  ASSERT(pid >= 0);
  if (pid == 0) {
    dup2(in[0], 0);
    dup2(out[1], 1);
    execlp("python3", "python3", script, log, (char *)NULL);
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  g_proxy_pid = pid;
  g_proxy_stdin = in[1];
  struct pollfd p = {out[0], POLLIN, 0};
  char buf[32] = "";
  ssize_t n = 0;
  /* Kept open until it exits: its last write must not hit a closed pipe. */
  g_proxy_stdout = out[0];
  while (n >= 0 && strchr(buf, '\n') == NULL && poll(&p, 1, 10000) == 1) {
    ssize_t got = read(out[0], buf + n, sizeof(buf) - 1 - (size_t)n);
    if (got <= 0)
      break;
    n += got;
    buf[n] = '\0';
  }
  if (n <= 0) {
    fprintf(stderr, "proxy.py did not start: skipping\n");
    return ADL_TEST_SKIP;
  }
  buf[n] = '\0';
  g_pport = atoi(buf);
  ASSERT_GT(g_pport, 0);
  return 0;
}

static void proxy_stop(void) {
  if (g_proxy_pid < 0)
    return;
  close(g_proxy_stdin); /* EOF: it exits */
  int st = 0;
  for (int i = 0; i < 500 && waitpid(g_proxy_pid, &st, WNOHANG) == 0; i++)
    uv_sleep(10);
  if (kill(g_proxy_pid, 0) == 0) {
    kill(g_proxy_pid, SIGKILL);
    waitpid(g_proxy_pid, &st, 0);
  }
  g_proxy_pid = -1;
  close(g_proxy_stdout);
}

static unsigned proxy_lines(void) {
  FILE *f = fopen(g_plog, "r");
  if (f == NULL)
    return 0;
  unsigned n = 0;
  int ch;
  while ((ch = getc(f)) != EOF)
    n += ch == '\n';
  fclose(f);
  return n;
}

/* Line i (from 0) of the proxy's log. */
static void proxy_line(unsigned i, char *out, size_t cap) {
  FILE *f = fopen(g_plog, "r");
  ASSERT(f != NULL);
  char line[1024];
  for (unsigned k = 0; k <= i; k++)
    ASSERT(fgets(line, sizeof(line), f) != NULL);
  fclose(f);
  line[strcspn(line, "\n")] = '\0';
  snprintf(out, cap, "%s", line);
}

/* A port nothing listens on. */
static int closed_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT(fd >= 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  socklen_t len = sizeof(a);
  ASSERT_EQ(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

/* ---- runs ------------------------------------------------------------------ */

/* The DOCS documents (or name for all when not NULL) from base through
 * options o; returns how many requests (or CONNECT tunnels) the proxy
 * handled meanwhile. want_ok: every outcome must be a success with the
 * right bytes. */
static unsigned run_from(const char *base, const adl_options_t *o,
                         const char *name, int want_ok, const char *what) {
  memset(g_items, 0, sizeof(g_items));
  g_done = 0;
  char dir[] = "/tmp/adl-proxy-out-XXXXXX";
  ASSERT(mkdtemp(dir) != NULL);
  unsigned before = proxy_lines();
  long mark = ngx_mark(g_log);
  sys_t s;
  sys_open(&s, o);
  if (g_scribble != NULL) {
    memset(g_scribble, 'Z', strlen(g_scribble));
    g_scribble = NULL;
  }
  for (unsigned i = 0; i < DOCS; i++) {
    const char *n = name ? name : g_names[i];
    char url[512];
    snprintf(url, sizeof(url), "%s%s?i=%u", base, n, i);
    snprintf(g_items[i].file, sizeof(g_items[i].file), "%s/%u", dir, i);
    adl_request_opts_t ro;
    adl_request_opts_init(&ro);
    ro.on_done = on_done;
    ro.data = &g_items[i];
    ro.sink = ADL_SINK_FILE;
    ro.path = g_items[i].file;
    ASSERT_EQ(adl_request_start(s.c, url, &ro, NULL), 0);
  }
  sys_run(&s, &g_done, DOCS, 30000, what);
  sys_close(&s);
  for (unsigned i = 0; i < DOCS; i++) {
    item_t *it = &g_items[i];
    ASSERT_EQ(it->calls, 1);
    if (!want_ok)
      continue;
    if (it->res.status != 0)
      ADL_FAIL_("%s: %s: %s (%s)", what, it->url,
                adl_err_name(it->res.status), it->msg);
    char want[600];
    snprintf(want, sizeof(want), "%s/api/v2/pokemon/%s", g_root,
             name ? name : g_names[i]);
    expect_same_file(it->file, want);
  }
  rm_dir(dir);
  unsigned relayed = proxy_lines() - before;
  if (want_ok) { /* nginx saw them all, from the proxy or directly */
    ngx_line_t lines[DOCS + 4];
    ASSERT_EQ(ngx_lines(g_log, mark, url_port(base), DOCS, lines,
                        DOCS + 4),
              DOCS);
  }
  fprintf(stderr, "%s: %u requests, %u proxy log lines (GETs or CONNECTs)\n",
          what, DOCS, relayed);
  return relayed;
}

static unsigned run(const adl_options_t *o, const char *name, int want_ok,
                    const char *what) {
  return run_from(g_http, o, name, want_ok, what);
}

/* The last k lines of the proxy's log are CONNECTs to port. */
static void expect_tunnels(unsigned k, int port) {
  char want[64], line[1024];
  snprintf(want, sizeof(want), "CONNECT 127.0.0.1:%d ", port);
  unsigned n = proxy_lines();
  for (unsigned i = n - k; i < n; i++) {
    proxy_line(i, line, sizeof(line));
    if (strncmp(line, want, strlen(want)) != 0)
      ADL_FAIL_("proxy log: \"%s\", want a CONNECT to port %d", line, port);
  }
}

static void set_proxy_env(const char *url) {
  ASSERT_EQ(setenv("http_proxy", url, 1), 0);
}

static void clear_proxy_env(void) {
  static const char *const vars[] = {"http_proxy",  "HTTP_PROXY",
                                     "https_proxy", "HTTPS_PROXY",
                                     "all_proxy",   "ALL_PROXY",
                                     "no_proxy",    "NO_PROXY"};
  for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
    unsetenv(vars[i]);
}

static void expect_failed(const char *what) {
  for (unsigned i = 0; i < DOCS; i++)
    if (g_items[i].res.status == 0)
      ADL_FAIL_("%s: %s succeeded", what, g_items[i].url);
  fprintf(stderr, "%s: %s (%s)\n", what, adl_err_name(g_items[0].res.status),
          g_items[0].msg);
}

int main(int argc, char **argv) {
  signal(SIGPIPE, SIG_IGN);
  g_http = need_env("ADL_NGINX_HTTP");
  g_root = need_env("ADL_NGINX_ROOT");
  g_log = need_env("ADL_NGINX_LOG");
  if (argc < 2) {
    fprintf(stderr, "usage: test-proxy PROXY.PY\n");
    return 2;
  }
  clear_proxy_env();
  char pdir[] = "/tmp/adl-proxy-XXXXXX";
  ASSERT(mkdtemp(pdir) != NULL);
  snprintf(g_plog, sizeof(g_plog), "%s/log", pdir);
  int rc = proxy_start(argv[1], g_plog);
  if (rc != 0) {
    proxy_stop();
    rm_dir(pdir);
    return rc;
  }
  ASSERT_EQ(adl_library_init(), 0);
  char purl[128];
  snprintf(purl, sizeof(purl), "http://127.0.0.1:%d", g_pport);
  adl_options_t o;

  /* 1. An explicit proxy: all through it; the string is copied. */
  adl_options_init(&o);
  char copied[128];
  snprintf(copied, sizeof(copied), "%s", purl);
  o.proxy = copied;
  g_scribble = copied; /* adl_client_new copies it: scribbled right after */
  ASSERT_EQ(run(&o, NULL, 1, "proxy set"), DOCS);
  o.proxy = purl;
  char line[1024], want[1024];
  proxy_line(proxy_lines() - 1, line, sizeof(line));
  ASSERT(strncmp(line, g_http, strlen(g_http)) == 0); /* absolute URL */

  /* 1b. The environment is ignored unless proxy_env: a no_proxy there
   * does not turn the explicit proxy off. */
  ASSERT_EQ(setenv("no_proxy", "127.0.0.1", 1), 0);
  unsigned bypassed = DOCS - run(&o, NULL, 1, "proxy set, no_proxy in the "
                                 "environment, proxy_env 0");
  unsetenv("no_proxy");

  /* 2. http_proxy in the environment, not asked for: direct. */
  set_proxy_env(purl);
  adl_options_init(&o);
  ASSERT_EQ(run(&o, NULL, 1, "http_proxy set, proxy_env 0"), 0);

  /* 3. proxy_env: like curl, through it... */
  o.proxy_env = 1;
  ASSERT_EQ(run(&o, NULL, 1, "http_proxy set, proxy_env 1"), DOCS);
  /* 4. ...except for no_proxy hosts. */
  ASSERT_EQ(setenv("no_proxy", "127.0.0.1", 1), 0);
  ASSERT_EQ(run(&o, NULL, 1, "proxy_env 1, no_proxy 127.0.0.1"), 0);
  unsetenv("no_proxy");

  /* https: an explicit proxy tunnels (CONNECT), and so does https_proxy
   * with proxy_env; http_proxy alone is for http URLs only, as in curl. */
  const char *https = need_env("ADL_NGINX_HTTPS");
  adl_options_init(&o);
  o.cacert = need_env("ADL_NGINX_CA");
  o.proxy = purl;
  unsigned k = run_from(https, &o, NULL, 1, "https, proxy set");
  ASSERT_GE(k, 1);
  expect_tunnels(k, url_port(https));
  o.proxy = NULL;
  o.proxy_env = 1;
  ASSERT_EQ(run_from(https, &o, NULL, 1, "https, http_proxy, proxy_env 1"),
            0);
  ASSERT_EQ(setenv("https_proxy", purl, 1), 0);
  k = run_from(https, &o, NULL, 1, "https, https_proxy, proxy_env 1");
  ASSERT_GE(k, 1);
  expect_tunnels(k, url_port(https));
  unsetenv("https_proxy");
  /* multiplex through the proxy: one tunnel, HTTP/2 inside it. */
  adl_options_init(&o);
  o.cacert = need_env("ADL_NGINX_CA");
  o.proxy = purl;
  o.strategy = ADL_STRATEGY_MULTIPLEX;
  ASSERT_EQ(run_from(https, &o, NULL, 1, "https, multiplex, proxy set"), 1);
  expect_tunnels(1, url_port(https));
  for (unsigned i = 0; i < DOCS; i++)
    ASSERT_EQ(g_items[i].res.http_version, 20);

  /* 5. Credentials reach the proxy, never a result; an explicit proxy
   * wins over the environment (which points nowhere now). */
  char dead[128];
  snprintf(dead, sizeof(dead), "http://127.0.0.1:%d", closed_port());
  set_proxy_env(dead);
  char cred[192];
  snprintf(cred, sizeof(cred), "http://alice:s3cret@127.0.0.1:%d", g_pport);
  adl_options_init(&o);
  o.proxy = cred;
  ASSERT_EQ(run(&o, NULL, 1, "proxy with credentials"), DOCS);
  proxy_line(proxy_lines() - 1, line, sizeof(line));
  snprintf(want, sizeof(want), " Basic YWxpY2U6czNjcmV0"); /* alice:s3cret */
  ASSERT(strstr(line, want) != NULL);
  o.retries = 0;
  ASSERT_EQ(run(&o, "no-such-pokemon", 0, "404 through it"), DOCS);
  expect_failed("404 through a proxy with credentials");
  ASSERT_EQ(g_items[0].res.http_status, 404);

  /* 6. A 407 from the proxy. */
  snprintf(cred, sizeof(cred), "http://bob:hunter2@127.0.0.1:%d", g_pport);
  o.proxy = cred;
  ASSERT_EQ(run(&o, NULL, 0, "proxy answering 407"), DOCS);
  expect_failed("a 407 from the proxy");

  /* 7. A proxy that refuses connections, given explicitly... */
  int port = closed_port();
  snprintf(cred, sizeof(cred), "http://carol:pa55word@127.0.0.1:%d", port);
  o.proxy = cred;
  run(&o, NULL, 0, "refusing proxy");
  expect_failed("a proxy refusing connections");
  /* 8. ...or from the environment. */
  snprintf(cred, sizeof(cred), "http://dave:0penSesame@127.0.0.1:%d", port);
  set_proxy_env(cred);
  adl_options_init(&o);
  o.proxy_env = 1;
  o.retries = 0;
  run(&o, NULL, 0, "refusing proxy from http_proxy");
  expect_failed("a proxy from http_proxy refusing connections");

  clear_proxy_env();
  adl_library_shutdown();
  proxy_stop();
  rm_dir(pdir);
  /* Reported last, so that the checks after it still ran. */
  if (bypassed > 0)
    ADL_FAIL_("no_proxy from the environment bypassed the explicit proxy "
              "for %u of %u requests although proxy_env is 0", bypassed,
              DOCS);
  printf("test-proxy: passed\n");
  return 0;
}
