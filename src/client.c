/* The public façade: options (sized structs), the client's life (new,
 * close like uv_close), and requests named by ids. Everything that changes
 * a request after it was submitted is the executor's (executor.c). A
 * referenced check handle is active exactly while work exists, so an idle
 * client never holds the host's uv_run open. */
#include "client.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define VALIDATE(cond)                                                         \
  do {                                                                         \
    if (!(cond))                                                               \
      return ADL_EINVAL;                                                       \
  } while (0)

/* A value that goes on a header line as it is (a user agent): one line. */
static int one_line(const char *v) {
  return v == NULL || strpbrk(v, "\r\n") == NULL;
}

/* ---- sized structs ----------------------------------------------------- */

static void options_defaults(adl_options_t *o) {
  memset(o, 0, sizeof(*o));
  o->size = sizeof(*o);
  o->strategy = ADL_STRATEGY_PARALLEL;
  o->max_connections = 6;
  o->timeout_ms = 30000;
  o->connect_timeout_ms = 10000;
  o->dns_timeout_ms = 1000;
  o->dns_tries = 2;
  o->retries = 2;
  o->retry_base_ms = 250;
  o->retry_max_ms = 30000;
  o->max_redirects = 5;
  o->dns_ttl_floor_ms = 30000;
  o->dns_ttl_ceiling_ms = 3600000;
  o->dns_max_stale_ms = 300000;
  o->completions_per_pass = 32;
  o->starts_per_pass = 16;
  o->connects_per_pass = 4;
  o->max_streams = 100;
}

/* The smallest size each struct had: 0.2.0's, the first release with sized
 * structs. A caller built against it gets the defaults of later fields. */
#define OPTIONS_0_2_0 offsetof(adl_options_t, max_streams)
#define REQUEST_OPTS_0_2_0 offsetof(adl_request_opts_t, headers)

/* Initialises a caller's struct of `size` bytes whose library version is
 * `ours`: the fields both know get the defaults, the rest is zeroed. */
static void init_sized(void *dst, size_t size, const void *ours,
                       size_t ours_size) {
  memset(dst, 0, size);
  memcpy(dst, ours, size < ours_size ? size : ours_size);
  memcpy(dst, &size, sizeof(size));
}

/* Reads a caller's struct into the library's own: refuses one that was not
 * initialised (smaller than the first sized release's), or that sets
 * fields this library does not know. An older caller's struct gets the
 * defaults of the fields it lacks. */
static int read_sized(void *ours, size_t ours_size, size_t min_size,
                      const void *src, const void *defaults) {
  size_t size;
  memcpy(&size, src, sizeof(size));
  if (size < min_size || size > 65536)
    return ADL_EINVAL;
  for (size_t i = ours_size; i < size; i++)
    if (((const unsigned char *)src)[i] != 0)
      return ADL_EINVAL;
  memcpy(ours, defaults, ours_size);
  memcpy(ours, src, size < ours_size ? size : ours_size);
  return 0;
}

void adl_options_init_size(adl_options_t *o, size_t size) {
  adl_options_t d;
  options_defaults(&d);
  init_sized(o, size, &d, sizeof(d));
}

void adl_request_opts_init_size(adl_request_opts_t *o, size_t size) {
  adl_request_opts_t d;
  memset(&d, 0, sizeof(d));
  init_sized(o, size, &d, sizeof(d));
}

void adl_batch_opts_init_size(adl_batch_opts_t *o, size_t size) {
  adl_batch_opts_t d;
  memset(&d, 0, sizeof(d));
  init_sized(o, size, &d, sizeof(d));
}

int adl__read_request_opts(adl_request_opts_t *out,
                           const adl_request_opts_t *o) {
  adl_request_opts_t d;
  memset(&d, 0, sizeof(d));
  return read_sized(out, sizeof(*out), REQUEST_OPTS_0_2_0, o, &d);
}

int adl__read_batch_opts(adl_batch_opts_t *out, const adl_batch_opts_t *o) {
  adl_batch_opts_t d;
  memset(&d, 0, sizeof(d));
  return read_sized(out, sizeof(*out), sizeof(*out), o, &d);
}

/* ---- the client's life ------------------------------------------------- */

static void on_part_closed(void *arg);
static void on_handle_closed(uv_handle_t *h) { on_part_closed(h->data); }

static void free_strings(adl_client_t *c) {
  free(c->dns_servers);
  free(c->user_agent);
  free(c->cacert);
  free(c->proxy);
}

static void on_part_closed(void *arg) {
  adl_client_t *c = arg;
  if (--c->closes_pending > 0)
    return;
  /* Every curl socket is closed by now: the origins can go. Connections
   * hold their own reference to the CA store. */
  adl__sched_free(&c->sched);
  adl__castore_free(c->castore);
  /* Like uv_close: the callback may still read the client's data. */
  if (c->close_cb)
    c->close_cb(c);
  free_strings(c);
  free(c);
}

/* Every request has reported: release curl, c-ares and our handles. */
static void teardown(adl_client_t *c) {
  c->torn_down = 1;
  adl__exec_drop_easies(c);
  adl__idtab_free(&c->ids);
  c->closes_pending = 5;
  adl__pool_close(c->pool, on_part_closed, c);
  adl__resolver_close(c->resolver, on_part_closed, c);
  uv_close((uv_handle_t *)&c->pump_idle, on_handle_closed);
  uv_close((uv_handle_t *)&c->keepalive, on_handle_closed);
  uv_close((uv_handle_t *)&c->retry_timer, on_handle_closed);
}

static char *dup_or_null(const char *s, int *failed) {
  if (s == NULL)
    return NULL;
  char *d = strdup(s);
  if (d == NULL)
    *failed = 1;
  return d;
}

/* The trusted CAs are parsed once per client, whatever their source (the
 * system bundle or --cacert): by our own store, in steps on the pump, when
 * libcurl uses OpenSSL; otherwise by libcurl's CA cache, which works only
 * for a CA file alone (Debian's default CA path would turn it off, and
 * every new TLS connection would parse the whole bundle again). */
static void setup_ca(adl_client_t *c) {
  const adl_options_t *o = &c->opts;
  if (o->insecure)
    return;
  const char *path = o->cacert;
  CURL *e = NULL;
  char *def = NULL;
  if (path == NULL) {
    e = curl_easy_init();
    if (e != NULL && curl_easy_getinfo(e, CURLINFO_CAINFO, &def) == CURLE_OK)
      path = def;
  }
  if (path != NULL && access(path, R_OK) == 0) {
    c->clear_capath = 1;
    if (adl__castore_supported())
      adl__castore_new(path, &c->castore); /* on failure, curl's way */
  }
  curl_easy_cleanup(e);
}

static int make_engines(adl_client_t *c, uv_loop_t *loop) {
  const adl_options_t *o = &c->opts;
  adl__resolver_opts_t ro = {.servers = c->dns_servers,
                             .timeout_ms = o->dns_timeout_ms,
                             .tries = o->dns_tries,
                             .cache_max = 256,
                             .ttl_floor_ms = o->dns_ttl_floor_ms,
                             .ttl_ceiling_ms = o->dns_ttl_ceiling_ms,
                             .max_stale_ms = o->dns_max_stale_ms};
  int rc = adl__sched_init(&c->sched, c->policy.max_inflight,
                           c->policy.max_host_conns);
  c->sched.mux_streams = c->policy.mux_streams;
  c->sched.plain_proto =
      o->h2_prior_knowledge ? ADL__PROTO_H2 : ADL__PROTO_H1;
  if (rc != 0)
    return rc;
  c->sched.max_sockets = c->policy.max_total_conns;
  rc = adl__resolver_new(loop, &ro, &c->resolver);
  if (rc == 0) {
    rc = adl__pool_new(loop, &c->policy, adl__exec_on_curl_done, c, &c->pool);
    if (rc != 0)
      adl__resolver_close(c->resolver, NULL, NULL);
  }
  if (rc != 0)
    adl__sched_free(&c->sched);
  return rc;
}

static void init_lists(adl_client_t *c) {
  adl__queue_init(&c->all);
  adl__queue_init(&c->starts);
  adl__queue_init(&c->backoff);
  adl__queue_init(&c->cancels);
  adl__queue_init(&c->done);
  adl__queue_init(&c->deferred);
  adl__queue_init(&c->resumes);
}

int adl_client_new(uv_loop_t *loop, const adl_options_t *o,
                   adl_client_t **out) {
  VALIDATE(loop != NULL && o != NULL && out != NULL);
  adl_options_t opts, d;
  options_defaults(&d);
  VALIDATE(read_sized(&opts, sizeof(opts), OPTIONS_0_2_0, o, &d) == 0);
  VALIDATE(opts.completions_per_pass > 0 && opts.starts_per_pass > 0 &&
           opts.connects_per_pass > 0);
  /* A redirect chain remembers 64 URLs to find loops: honoured, never
   * silently capped. */
  VALIDATE(opts.max_redirects <= 63);
  VALIDATE(one_line(opts.user_agent) && one_line(opts.proxy));
  adl__policy_t pol;
  unsigned k = opts.strategy == ADL_STRATEGY_PARALLEL ||
                       opts.strategy == ADL_STRATEGY_MULTIPLEX
                   ? opts.max_connections
                   : 1;
  VALIDATE(opts.max_streams > 0 && opts.max_streams <= 1000);
  VALIDATE(adl__policy_for(opts.strategy, k, opts.max_per_host,
                           opts.max_streams, &pol) == 0);
  adl_client_t *c = calloc(1, sizeof(*c));
  if (c == NULL)
    return ADL_ENOMEM;
  c->loop = loop;
  c->opts = opts;
  c->policy = pol;
  c->limits = (adl__rq_limits_t){.retries = opts.retries,
                                 .retry_base_ms = opts.retry_base_ms,
                                 .retry_max_ms = opts.retry_max_ms};
  int failed = 0;
  c->dns_servers = dup_or_null(opts.dns_servers, &failed);
  c->user_agent = dup_or_null(
      opts.user_agent ? opts.user_agent : "asyncdl/" ADL_VERSION_STRING,
      &failed);
  c->cacert = dup_or_null(opts.cacert, &failed);
  c->opts.dns_servers = c->dns_servers;
  c->opts.user_agent = c->user_agent;
  c->opts.cacert = c->cacert;
  c->proxy = dup_or_null(opts.proxy, &failed);
  c->opts.proxy = c->proxy;
  setup_ca(c);
  c->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)c ^ 0x9e3779b97f4a7c15ull;
  if (c->rng == 0)
    c->rng = 1;
  c->on_drained = teardown;
  init_lists(c);
  int rc = failed ? ADL_ENOMEM : make_engines(c, loop);
  if (rc != 0) {
    adl__castore_free(c->castore);
    free_strings(c);
    free(c);
    return rc;
  }
  /* These inits cannot fail on a live loop (libuv only fills structs). */
  uv_idle_init(loop, &c->pump_idle);
  uv_check_init(loop, &c->keepalive);
  uv_timer_init(loop, &c->retry_timer);
  adl__exec_start_handles(c);
  *out = c;
  return 0;
}

void adl_client_set_data(adl_client_t *c, void *data) { c->data = data; }
void *adl_client_get_data(const adl_client_t *c) { return c->data; }
uv_loop_t *adl_client_loop(const adl_client_t *c) { return c->loop; }
size_t adl_client_pending(const adl_client_t *c) { return c->nreq; }

void adl_client_close(adl_client_t *c, adl_close_cb cb) {
  if (c == NULL || c->closing)
    return;
  c->closing = 1;
  c->close_cb = cb;
  adl__queue_t *q;
  ADL_QUEUE_FOREACH(q, &c->all) { /* nothing is freed outside the pump */
    adl__exec_cancel(ADL_QUEUE_DATA(q, adl_request_t, all_node));
  }
  adl__exec_kick(c);
}

/* ---- requests ---------------------------------------------------------- */

/* A header line the caller may send: "Name: value" (or "Name:" to remove
 * one, "Name;" for an empty value, as libcurl has it), never a line break
 * that would smuggle a second header or request. */
static int header_ok(const char *h) {
  if (h[0] == ':' || h[0] == '\0' || strpbrk(h, "\r\n") != NULL)
    return 0;
  size_t n = strcspn(h, ":;");
  return h[n] != '\0' && memchr(h, ' ', n) == NULL;
}

static int headers_ok(const char *const *hs) {
  for (size_t i = 0; hs != NULL && hs[i] != NULL; i++)
    if (!header_ok(hs[i]))
      return 0;
  return 1;
}

static int is_conditional(const char *h) {
  return strncasecmp(h, "If-None-Match:", 14) == 0 ||
         strncasecmp(h, "If-Modified-Since:", 18) == 0;
}

/* Copies what the caller may free once adl_request_start returns. */
static int copy_request_opts(adl_request_t *r, const adl_request_opts_t *o) {
  r->opts = *o;
  r->opts.path = NULL;
  r->opts.headers = NULL;
  r->opts.user_agent = NULL;
  if (o->sink == ADL_SINK_FILE && (r->opts.path = strdup(o->path)) == NULL)
    return ADL_ENOMEM;
  if (o->user_agent != NULL && (r->user_agent = strdup(o->user_agent)) == NULL)
    return ADL_ENOMEM;
  for (size_t i = 0; o->headers != NULL && o->headers[i] != NULL; i++) {
    struct curl_slist *l = curl_slist_append(r->headers, o->headers[i]);
    if (l == NULL)
      return ADL_ENOMEM;
    r->headers = l;
    r->conditional |= is_conditional(o->headers[i]);
  }
  return 0;
}

/* The client's limits, with the request's own where it says so. */
static void request_limits(adl_request_t *r, const adl_request_opts_t *o) {
  const adl_options_t *co = &r->client->opts;
  r->limits = r->client->limits;
  r->max_redirects = co->max_redirects;
  r->timeout_ms = co->timeout_ms;
  if (o->override_mask & ADL_OVERRIDE_RETRIES)
    r->limits.retries = o->retries;
  if (o->override_mask & ADL_OVERRIDE_REDIRECTS)
    r->max_redirects = o->max_redirects;
  if (o->override_mask & ADL_OVERRIDE_TIMEOUT)
    r->timeout_ms = o->timeout_ms;
}

static adl_request_t *request_new(adl_client_t *c, const char *url,
                                  const adl_request_opts_t *o) {
  adl_request_t *r = calloc(1, sizeof(*r));
  if (r == NULL)
    return NULL;
  r->client = c;
  r->fd = -1;
  adl__queue_init(&r->node);
  adl__queue_init(&r->all_node);
  adl__queue_init(&r->flow_node);
  request_limits(r, o);
  r->url = strdup(url);
  if (r->url == NULL || copy_request_opts(r, o) != 0 ||
      adl__idtab_add(&c->ids, r) != 0) {
    adl__request_free(r);
    return NULL;
  }
  r->visited[0] = adl__hash_str(url);
  r->t_submit = uv_hrtime();
  return r;
}

int adl_request_start(adl_client_t *c, const char *url,
                      const adl_request_opts_t *opts, adl_request_id_t *id) {
  VALIDATE(c != NULL && url != NULL && opts != NULL);
  adl_request_opts_t o;
  VALIDATE(adl__read_request_opts(&o, opts) == 0);
  VALIDATE(o.on_done != NULL);
  VALIDATE(o.sink != ADL_SINK_FILE || (o.path != NULL && o.path[0]));
  VALIDATE(o.sink != ADL_SINK_CALLBACK || o.on_data != NULL);
  VALIDATE(headers_ok(o.headers) && one_line(o.user_agent));
  VALIDATE(!(o.override_mask & ADL_OVERRIDE_REDIRECTS) ||
           o.max_redirects <= 63);
  VALIDATE((o.override_mask & ~(ADL_OVERRIDE_TIMEOUT | ADL_OVERRIDE_RETRIES |
                                ADL_OVERRIDE_REDIRECTS)) == 0);
  if (c->closing)
    return ADL_ECLOSING;
  /* A URL we will not fetch is still an outcome, reported like any other;
   * it waits in an origin of its own (the empty host). */
  adl__url_parts_t parts;
  int st = adl__url_parse(url, &parts);
  if (st == ADL_ENOMEM)
    return st;
  if (st != 0)
    memset(&parts, 0, sizeof(parts));
  adl_request_t *r = request_new(c, url, &o);
  if (r == NULL)
    return ADL_ENOMEM;
  r->origin = adl__sched_ref(&c->sched, parts.https, parts.host, parts.port);
  if (r->origin == NULL) {
    adl__idtab_remove(&c->ids, r->id);
    adl__request_free(r);
    return ADL_ENOMEM;
  }
  r->numeric_host = parts.numeric_host;
  adl__queue_insert_tail(&c->all, &r->all_node);
  if (id != NULL)
    *id = r->id;
  adl__exec_submit(r, st,
                   st == ADL_ESCHEME
                       ? "unsupported URL scheme (only http and https)"
                       : "malformed URL");
  return 0;
}

int adl_request_cancel(adl_client_t *c, adl_request_id_t id) {
  VALIDATE(c != NULL);
  adl_request_t *r = adl__idtab_find(&c->ids, id);
  if (r == NULL)
    return ADL_ENOENT;
  return adl__exec_cancel(r);
}

adl_request_id_t adl_request_id(const adl_request_t *r) { return r->id; }
void *adl_request_get_data(const adl_request_t *r) { return r->opts.data; }
const char *adl_request_url(const adl_request_t *r) { return r->url; }

int adl_request_pause(adl_client_t *c, adl_request_id_t id) {
  VALIDATE(c != NULL);
  adl_request_t *r = adl__idtab_find(&c->ids, id);
  return r != NULL ? adl__exec_pause(r) : ADL_ENOENT;
}

int adl_request_resume(adl_client_t *c, adl_request_id_t id) {
  VALIDATE(c != NULL);
  adl_request_t *r = adl__idtab_find(&c->ids, id);
  return r != NULL ? adl__exec_resume(r) : ADL_ENOENT;
}

const char *adl_request_status_line(const adl_request_t *r) {
  return adl__head_status(&r->head);
}

const char *adl_request_header(const adl_request_t *r, const char *name) {
  return name != NULL ? adl__head_get(&r->head, name) : NULL;
}

int adl_request_header_at(const adl_request_t *r, size_t i, const char **name,
                          const char **value) {
  return adl__head_at(&r->head, i, name, value) == 0 ? 0 : ADL_ENOENT;
}
