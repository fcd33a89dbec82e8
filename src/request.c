/* One attempt's I/O: the URL's origin, the easy handle (set up once per
 * handle, then only what changes per attempt), the header and body
 * callbacks with the file sink, and reading curl's outcome into an event
 * for the executor. A file sink writes to a temporary name that is renamed
 * into place only after a complete, successful transfer. Nothing here
 * changes a request's state: that is the executor's job. */
#include "client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

uint64_t adl__hash_str(const char *s) {
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

static int set_host(adl__url_parts_t *out, const char *h, size_t n) {
  if (n == 0 || n >= sizeof(out->host))
    return ADL_EURL;
  for (size_t i = 0; i < n; i++)
    out->host[i] = (char)tolower((unsigned char)h[i]);
  out->host[n] = '\0';
  unsigned char a[16];
  out->numeric_host = inet_pton(AF_INET, out->host, a) == 1 ||
                      inet_pton(AF_INET6, out->host, a) == 1;
  return 0;
}

/* The common case without libcurl's URL parser (which curl runs again
 * anyway): http(s)://name[:port] followed by a path. Anything unusual
 * (userinfo, IPv6, escapes, odd bytes) returns 1: ask libcurl. */
static int parse_fast(const char *url, adl__url_parts_t *out) {
  const char *p;
  if (strncasecmp(url, "http://", 7) == 0) {
    out->https = 0;
    p = url + 7;
  } else if (strncasecmp(url, "https://", 8) == 0) {
    out->https = 1;
    p = url + 8;
  } else {
    return 1;
  }
  for (const char *q = url; *q; q++)
    if ((unsigned char)*q <= 0x20 || (unsigned char)*q >= 0x7f)
      return 1;
  size_t n = 0;
  while (isalnum((unsigned char)p[n]) || p[n] == '.' || p[n] == '-')
    n++;
  long port = out->https ? 443 : 80;
  const char *rest = p + n;
  if (*rest == ':') {
    char *end;
    if (!isdigit((unsigned char)rest[1]))
      return 1;
    port = strtol(rest + 1, &end, 10);
    if (port <= 0 || port > 65535)
      return 1;
    rest = end;
  }
  if (*rest != '/' && *rest != '?' && *rest != '#' && *rest != '\0')
    return 1;
  out->port = port;
  return set_host(out, p, n) == 0 ? 0 : 1;
}

/* Splits url into scheme, host and port, accepting only http and https. */
int adl__url_parse(const char *url, adl__url_parts_t *out) {
  if (parse_fast(url, out) == 0)
    return 0;
  CURLU *u = curl_url();
  if (u == NULL)
    return ADL_ENOMEM;
  char *scheme = NULL, *host = NULL, *port = NULL;
  int rc = 0;
  if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
    rc = ADL_EURL;
    goto out;
  }
  /* The scheme first: file:///x has no host, yet its problem is the scheme. */
  if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
    rc = ADL_ESCHEME;
    goto out;
  }
  if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
          CURLUE_OK) {
    rc = ADL_EURL;
    goto out;
  }
  out->https = strcmp(scheme, "https") == 0;
  out->port = strtol(port, NULL, 10);
  size_t n = strlen(host);
  const char *h = host;
  if (n >= 2 && host[0] == '[') { /* IPv6 literal */
    h = host + 1;
    n -= 2;
  }
  rc = set_host(out, h, n);
out:
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_url_cleanup(u);
  return rc;
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len > 0) {
    ssize_t w = write(fd, buf, len);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      return errno == ENOSPC || errno == EDQUOT ? ADL_ENOSPC : ADL_EIO;
    }
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

/* A declared length must be digits that fit: anything else (an overflow,
 * trailing garbage) makes the body unverifiable, whatever libcurl did. */
static void parse_length(adl_request_t *r, const char *v, const char *end) {
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' ||
                     end[-1] == '\t'))
    end--;
  int64_t n = 0;
  if (v == end)
    r->length_bad = 1;
  for (; v < end && !r->length_bad; v++) {
    if (*v < '0' || *v > '9' || n > (INT64_MAX - (*v - '0')) / 10)
      r->length_bad = 1;
    else
      n = n * 10 + (*v - '0');
  }
  if (!r->length_bad)
    r->declared_length = n;
}

static void parse_retry_after(adl_request_t *r, const char *buf, size_t len) {
  char tmp[64];
  size_t m = len - 12 < sizeof(tmp) - 1 ? len - 12 : sizeof(tmp) - 1;
  memcpy(tmp, buf + 12, m);
  tmp[m] = '\0';
  char *end;
  long secs = strtol(tmp, &end, 10);
  if (end != tmp && secs >= 0) {
    r->retry_after_ms = secs > 86400 ? 86400000 : secs * 1000;
  } else {
    time_t when = curl_getdate(tmp, NULL);
    time_t now = time(NULL);
    if (when != (time_t)-1)
      r->retry_after_ms = when > now ? (long)(when - now) * 1000 : 0;
  }
}

static void parse_connection(adl_request_t *r, const char *buf, size_t len) {
  const char *v = buf + 11, *end = buf + len;
  while (v < end && (*v == ' ' || *v == '\t'))
    v++;
  if ((size_t)(end - v) >= 5 && strncasecmp(v, "close", 5) == 0)
    r->res.server_closed = 1;
  else if ((size_t)(end - v) >= 10 && strncasecmp(v, "keep-alive", 10) == 0)
    r->res.server_closed = 0;
}

/* A status line: a new response (1xx, a redirect hop or a retry may come
 * before the final one). Multiplex learns here, at the latest, what the
 * origin speaks. */
static void new_response(adl_request_t *r, const char *buf, size_t len) {
  r->retry_after_ms = -1;
  r->declared_length = -1;
  r->length_bad = 0;
  r->head_shown = 0;
  /* HTTP/1.0 closes unless it says keep-alive. */
  r->res.server_closed = len >= 8 && memcmp(buf, "HTTP/1.0", 8) == 0;
  adl__sched_set_proto(r->origin, len >= 6 && buf[5] == '2'
                                      ? ADL__PROTO_H2
                                      : ADL__PROTO_H1);
}

/* Whether the head just ended is the one whose body the caller gets: not
 * an interim 1xx, and not a redirect the library follows. */
static int head_is_final(adl_request_t *r) {
  long code = 0;
  curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code < 200)
    return 0;
  if (code >= 300 && code < 400 && r->max_redirects > 0 &&
      adl__head_get(&r->head, "Location") != NULL)
    return 0;
  return 1;
}

static size_t on_header(char *buf, size_t size, size_t n, void *ud) {
  adl_request_t *r = ud;
  size_t len = size * n;
  if (!r->seen_first_byte) {
    r->seen_first_byte = 1;
    r->t_first_byte = uv_hrtime();
  }
  int end = adl__head_feed(&r->head, buf, len);
  if (end < 0) {
    r->abort_status = end;
    return 0;
  }
  if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0)
    new_response(r, buf, len);
  else if (len > 15 && strncasecmp(buf, "Content-Length:", 15) == 0)
    parse_length(r, buf + 15, buf + len);
  else if (len > 11 && strncasecmp(buf, "Connection:", 11) == 0)
    parse_connection(r, buf, len);
  else if (len > 12 && strncasecmp(buf, "Retry-After:", 12) == 0)
    parse_retry_after(r, buf, len);
  if (end == 1 && r->opts.on_headers != NULL && !r->head_shown &&
      head_is_final(r)) {
    r->head_shown = 1;
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    /* Like on_data: the callback may cancel, pause or close. */
    if (r->opts.on_headers(r, code) != 0 || r->cancel_pending) {
      r->abort_status = ADL_ECANCELED;
      return 0;
    }
  }
  return len;
}

static int start_file(adl_request_t *r);

/* Microseconds since t0, kept as the request's slowest disk call. */
static void disk_time(adl_request_t *r, uint64_t t0) {
  uint64_t us = (uv_hrtime() - t0) / 1000;
  if (us > r->res.disk_max_us)
    r->res.disk_max_us = us;
}

/* At most one event per progress_ms, from the body path itself. */
static void maybe_progress(adl_request_t *r) {
  if (r->opts.on_progress == NULL)
    return;
  uint64_t now = uv_hrtime();
  uint64_t every = r->opts.progress_ms ? r->opts.progress_ms : 100;
  if (r->t_progress != 0 && now - r->t_progress < every * 1000000u)
    return;
  r->t_progress = now;
  r->opts.on_progress(r, r->res.bytes, r->declared_length);
}

/* Hands a chunk to the sink: 0, CURL_WRITEFUNC_PAUSE, or an ADL_E* to
 * abort with. */
static int sink_chunk(adl_request_t *r, const char *buf, size_t len) {
  if (r->opts.sink == ADL_SINK_FILE) {
    /* The temporary file is made at the first body byte, not before the
     * request: its creation then overlaps the network. */
    uint64_t t0 = uv_hrtime();
    int st = r->file_started ? 0 : start_file(r);
    if (st == 0)
      st = write_all(r->fd, buf, len);
    disk_time(r, t0);
    return st;
  }
  if (r->opts.sink == ADL_SINK_CALLBACK && r->opts.on_data) {
    /* The callback may cancel this or any request, pause, or close the
     * client: the executor defers whatever curl would have to do now. */
    int rc = r->opts.on_data(r, buf, len);
    if (r->cancel_pending)
      return ADL_ECANCELED;
    if (rc == ADL_DATA_PAUSE) {
      r->paused = 1; /* curl delivers this chunk again on resume */
      return CURL_WRITEFUNC_PAUSE;
    }
    return rc != 0 ? ADL_ECANCELED : 0;
  }
  return 0;
}

static size_t on_write(char *buf, size_t size, size_t n, void *ud) {
  adl_request_t *r = ud;
  size_t len = size * n;
  if (r->cancel_pending) {
    r->abort_status = ADL_ECANCELED;
    return 0;
  }
  /* Paused by the caller (perhaps before the transfer began, which curl
   * would forget): hold this chunk until adl_request_resume. */
  if (r->paused)
    return CURL_WRITEFUNC_PAUSE;
  if (r->keep_body == 0) {
    /* Only a 2xx body reaches the sink; redirect and error pages do not. */
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    r->keep_body = code >= 200 && code < 300 ? 1 : -1;
  }
  if (r->keep_body < 0) {
    r->res.bytes += len;
    return len;
  }
  /* Decoded bytes: a compressed body is limited by what it expands to. */
  uint64_t max = r->client->opts.max_size;
  if (max != 0 && r->res.bytes + len > max) {
    r->abort_status = ADL_ETOOLARGE;
    return 0;
  }
  int st = sink_chunk(r, buf, len);
  if (st == CURL_WRITEFUNC_PAUSE)
    return CURL_WRITEFUNC_PAUSE;
  if (st != 0) {
    r->abort_status = st;
    return 0;
  }
  r->res.bytes += len;
  maybe_progress(r);
  return len;
}

static int open_temp(adl_request_t *r) {
  if (r->fd >= 0) { /* a retry starts the body again */
    if (ftruncate(r->fd, 0) != 0 || lseek(r->fd, 0, SEEK_SET) != 0)
      return ADL_EIO;
    return 0;
  }
  size_t n = strlen(r->opts.path) + 40;
  char *tmp = malloc(n);
  if (tmp == NULL)
    return ADL_ENOMEM;
  /* Same directory as the final name, so the rename is atomic; the suffix
   * keeps a partial file from ever carrying the final name. O_EXCL with a
   * per-client sequence (not mkstemp) so the mode honours the umask like
   * any file the user creates, without a chmod. */
  int fd = -1;
  for (int tries = 0; fd < 0 && tries < 100; tries++) {
    snprintf(tmp, n, "%s.part-%ld-%" PRIu64, r->opts.path, (long)getpid(),
             r->client->tmp_seq++);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  if (fd < 0) {
    int e = errno;
    free(tmp);
    return e == ENOSPC || e == EDQUOT ? ADL_ENOSPC : ADL_EIO;
  }
  r->fd = fd;
  r->tmp_path = tmp;
  return 0;
}

/* The first body byte of an attempt: a fresh temporary file, or the one
 * of an earlier attempt emptied. */
static int start_file(adl_request_t *r) {
  int st = open_temp(r);
  if (st == 0)
    r->file_started = 1;
  return st;
}

void adl__request_free(adl_request_t *r) {
  adl__queue_remove(&r->all_node);
  if (r->resume_pending)
    adl__queue_remove(&r->flow_node);
  curl_slist_free_all(r->resolve);
  curl_slist_free_all(r->headers);
  adl__head_free(&r->head);
  free(r->user_agent);
  free(r->url);
  free(r->cur_url);
  free((char *)r->opts.path);
  free(r);
}

void adl__request_drop_temp(adl_request_t *r) {
  if (r->fd >= 0) {
    close(r->fd);
    r->fd = -1;
  }
  if (r->tmp_path != NULL) {
    unlink(r->tmp_path);
    free(r->tmp_path);
    r->tmp_path = NULL;
  }
}

/* Publishes the temporary file under its final name. */
int adl__request_commit_temp(adl_request_t *r) {
  uint64_t t0 = uv_hrtime();
  /* A complete but empty body never reached the write callback. */
  int st = r->file_started ? 0 : start_file(r);
  if (st != 0) {
    adl__request_drop_temp(r);
    return st;
  }
  if (close(r->fd) != 0)
    st = errno == ENOSPC || errno == EDQUOT ? ADL_ENOSPC : ADL_EIO;
  r->fd = -1;
  if (st == 0 && rename(r->tmp_path, r->opts.path) != 0)
    st = ADL_EIO;
  if (st != 0)
    unlink(r->tmp_path);
  free(r->tmp_path);
  r->tmp_path = NULL;
  disk_time(r, t0);
  return st;
}

/* Counts the sockets curl opens and closes per origin: an origin with
 * more sockets than running transfers has an idle connection, and its
 * requests need not wait for DNS. curl keeps the closesocket pointer of
 * the easy handle that made the connection, so it is the origin (which
 * lives while it has open sockets), never the request. */
static int on_sockopt(void *clientp, curl_socket_t fd, curlsocktype purpose) {
  (void)fd;
  if (purpose == CURLSOCKTYPE_IPCXN)
    adl__sched_socket_opened(clientp);
  return CURL_SOCKOPT_OK;
}

static int on_closesocket(void *clientp, curl_socket_t fd) {
  adl__sched_socket_closed(clientp);
  return close(fd);
}

static void on_alpn(void *arg, int h2) {
  adl__origin_t *o = arg;
  adl__sched_set_proto(o, h2 ? ADL__PROTO_H2 : ADL__PROTO_H1);
  /* Its waiting requests may be admitted now, before the first answer. */
  adl__exec_kick((adl_client_t *)((char *)o->sched -
                                  offsetof(adl_client_t, sched)));
}

static CURLcode on_ssl_ctx(CURL *e, void *ssl_ctx, void *arg) {
  adl_client_t *c = arg;
  adl_request_t *r = NULL;
  if (c->castore != NULL)
    adl__castore_install(c->castore, ssl_ctx);
  curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r);
  if (c->policy.mux_streams && r != NULL &&
      r->origin->proto == ADL__PROTO_UNKNOWN) {
    r->origin->alpn = (adl__alpn_watch_t){.cb = on_alpn, .arg = r->origin};
    adl__castore_watch_alpn(ssl_ctx, &r->origin->alpn);
  }
  return CURLE_OK;
}

void adl__easy_template(adl_client_t *c, CURL *e) {
  const adl_options_t *o = &c->opts;
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_SOCKOPTFUNCTION, on_sockopt);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_closesocket);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
  if (o->low_speed_bytes > 0 && o->low_speed_time_ms > 0) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)o->low_speed_bytes);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     (long)((o->low_speed_time_ms + 999) / 1000));
  }
  if (o->no_compress) {
    /* No coding asked for: a declared length that is too large can stop
     * the transfer before its body. */
    if (o->max_size > 0)
      curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_size);
  } else {
    /* "": every coding this libcurl can decode (gzip, deflate, br, zstd on
     * Debian's); max_size then counts decoded bytes, in on_write. */
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
  }
  if (c->policy.mux_streams) {
    /* curl 7.88 pauses a whole HTTP/2 connection when one stream's DATA
     * outgrows its receive buffer, and under multi_socket some streams
     * then never finish (1 run in 5 with the default 16 KiB; none seen
     * with the largest buffer). Memory is only touched as it is used. */
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 512L * 1024);
  }
  if (c->castore != NULL || (c->policy.mux_streams &&
                              adl__castore_supported())) {
    /* Our store, parsed once in steps: curl loads no CA file itself. The
     * same hook tells multiplex what ALPN chose. */
    if (c->castore != NULL) {
      curl_easy_setopt(e, CURLOPT_CAINFO, NULL);
      curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    }
    curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, on_ssl_ctx);
    curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, c);
  }
  if (c->castore == NULL) {
    if (o->cacert != NULL)
      curl_easy_setopt(e, CURLOPT_CAINFO, o->cacert);
    /* libcurl caches the parsed CA store (per multi, 24 h) only when it
     * comes from a CA file alone; Debian's default CA path would make
     * every new TLS connection parse the whole bundle again. */
    if (c->clear_capath)
      curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
  }
  if (o->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  /* The proxy environment variables are honoured only when asked: the
   * strategies count connections to the server, and a silent proxy would
   * change what they measure. (It also spares five getenv calls.) */
  if (o->proxy != NULL)
    curl_easy_setopt(e, CURLOPT_PROXY, o->proxy);
  else if (!o->proxy_env)
    curl_easy_setopt(e, CURLOPT_PROXY, "");
  if (!o->proxy_env) /* else curl reads no_proxy from the environment */
    curl_easy_setopt(e, CURLOPT_NOPROXY, "");
  if (c->policy.share_tls_sessions)
    curl_easy_setopt(e, CURLOPT_SHARE, adl__pool_share(c->pool));
  else /* serial models a fresh client per request: full handshakes */
    curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
}

/* HTTP/1.1 unless asked: the strategies compare connections, and the
 * clients they model (requests, aiohttp) speak HTTP/1.1. HTTP/2 over TLS
 * is offered by ALPN; over plain http only with prior knowledge. */
static long http_version(const adl_client_t *c, adl__origin_t *o) {
  const adl_options_t *opt = &c->opts;
  if (!opt->http2 && c->policy.mux_streams == 0)
    return CURL_HTTP_VERSION_1_1;
  if (o->https)
    return CURL_HTTP_VERSION_2TLS;
  if (!opt->h2_prior_knowledge)
    return CURL_HTTP_VERSION_1_1;
  /* curl 7.88 fails every transfer that reuses a prior-knowledge
   * connection (curl#10634, fixed in 8.0): only the one that opens it says
   * prior knowledge; the rest ask for HTTP/2 and, with PIPEWAIT, wait for
   * that connection and ride it. */
  if (o->open_sockets > 0 || o->pk_opener)
    return CURL_HTTP_VERSION_2_0;
  o->pk_opener = 1;
  return CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE;
}

int adl__attempt_prepare(adl_request_t *r, CURL *e, const char *addrs,
                         int fresh) {
  adl_client_t *c = r->client;
  curl_slist_free_all(r->resolve);
  r->resolve = NULL;
  if (addrs != NULL) {
    /* One entry with every address: a second entry for the same host:port
     * would replace the first. curl keeps it in the multi's DNS cache, so
     * it is handed over only when the answer changed. */
    char entry[1400];
    int n = snprintf(entry, sizeof(entry), "%s:%ld:%s", r->origin->host,
                     r->origin->port, addrs);
    if (n < 0 || (size_t)n >= sizeof(entry))
      return ADL_EDNS;
    r->resolve = curl_slist_append(NULL, entry);
    if (r->resolve == NULL)
      return ADL_ENOMEM;
  }
  r->easy = e;
  curl_easy_setopt(e, CURLOPT_URL, r->cur_url ? r->cur_url : r->url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_SOCKOPTDATA, r->origin);
  curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, r->origin);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_RESOLVE, r->resolve);
  /* Recycled handles: every per-request setting is set every time. */
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
  curl_easy_setopt(e, CURLOPT_USERAGENT,
                   r->user_agent ? r->user_agent : c->opts.user_agent);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)r->timeout_ms);
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION, http_version(c, r->origin));
  /* multiplex: wait for the origin's connection to say whether it
   * multiplexes, unless it said HTTP/1.x already: then there is nothing
   * to wait for, and the request takes a connection of its own (run as
   * parallel). */
  curl_easy_setopt(e, CURLOPT_PIPEWAIT,
                   c->policy.mux_streams && r->origin->proto != ADL__PROTO_H1
                       ? 1L
                       : 0L);
  long f = c->policy.fresh_connect || fresh;
  curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, f);
  curl_easy_setopt(e, CURLOPT_FORBID_REUSE, f);
  r->errbuf[0] = '\0';
  r->abort_status = 0;
  r->keep_body = 0;
  r->file_started = 0;
  r->seen_first_byte = 0;
  r->retry_after_ms = -1;
  r->res.bytes = 0;
  r->declared_length = -1;
  r->length_bad = 0;
  r->head_shown = 0;
  r->t_attempt = uv_hrtime();
  adl__head_clear(&r->head);
  return 0;
}

static int map_curl(adl_request_t *r, CURLcode rc) {
  long oserr = 0;
  switch (rc) {
  case CURLE_OK:
    return 0;
  case CURLE_COULDNT_CONNECT:
    curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
    return oserr == ECONNREFUSED ? ADL_ECONNREFUSED : ADL_ECONNECT;
  case CURLE_OPERATION_TIMEDOUT:
    return ADL_ETIMEDOUT;
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_SSL_SHUTDOWN_FAILED:
  case CURLE_USE_SSL_FAILED:
    return ADL_ETLS;
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
    curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
    return oserr == ECONNRESET ? ADL_ECONNRESET : ADL_EPROTO;
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_BAD_CONTENT_ENCODING:
    return ADL_EPROTO;
  case CURLE_FILESIZE_EXCEEDED:
    return ADL_ETOOLARGE;
  case CURLE_UNSUPPORTED_PROTOCOL:
    /* Schemes are checked before curl sees a URL (and redirects are ours):
     * curl refusing a protocol here is about the answer (HTTP/0.9). */
    return ADL_EPROTO;
  case CURLE_URL_MALFORMAT:
    return ADL_EURL;
  case CURLE_COULDNT_RESOLVE_HOST:
    return ADL_EDNS;
  case CURLE_OUT_OF_MEMORY:
    /* After a status line, this is curl refusing a giant header line. */
    return r->seen_first_byte ? ADL_EPROTO : ADL_ENOMEM;
  case CURLE_WRITE_ERROR:
    return r->abort_status ? r->abort_status : ADL_EIO;
  case CURLE_ABORTED_BY_CALLBACK:
    return ADL_ECANCELED;
  default:
    return ADL_ECURL;
  }
}

static void record_timings(adl_request_t *r) {
  CURL *e = r->easy;
  long nconn = 0, lport = 0, code = 0;
  curl_off_t t_dns = 0, t_conn = 0, t_app = 0;
  curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &nconn);
  curl_easy_getinfo(e, CURLINFO_LOCAL_PORT, &lport);
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_getinfo(e, CURLINFO_NAMELOOKUP_TIME_T, &t_dns);
  curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &t_conn);
  curl_easy_getinfo(e, CURLINFO_APPCONNECT_TIME_T, &t_app);
  long ver = 0;
  curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &ver);
  r->res.http_version = ver == CURL_HTTP_VERSION_2_0   ? 20
                        : ver == CURL_HTTP_VERSION_1_1 ? 11
                        : ver == CURL_HTTP_VERSION_1_0 ? 10
                                                       : 0;
  r->res.new_connections += (unsigned)nconn;
  if (lport > 0)
    r->res.local_port = (int)lport;
  r->res.http_status = code;
  if (nconn > 0 && t_conn > t_dns) {
    r->res.connect_us = (uint64_t)(t_conn - t_dns);
    r->res.tls_us = t_app > t_conn ? (uint64_t)(t_app - t_conn) : 0;
  }
  if (r->seen_first_byte)
    r->res.ttfb_us = (r->t_first_byte - r->t_attempt) / 1000;
}

/* Checks a redirect's target: 1 to follow it (target parsed into *t),
 * 0 when there is none to follow, or a negative ADL_E* (message set). */
static int check_redirect(adl_request_t *r, adl__url_parts_t *t) {
  char *loc = NULL;
  curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_URL, &loc);
  if (loc == NULL)
    return 0; /* a 3xx without Location is the final answer */
  unsigned limit = r->max_redirects; /* at most 63: checked at start */
  uint64_t h = adl__hash_str(loc);
  for (unsigned i = 0; i <= r->redirects && i < 64; i++) {
    if (r->visited[i] == h) {
      snprintf(r->message, sizeof(r->message), "redirect loop at %.250s",
               loc);
      return ADL_EREDIRECT;
    }
  }
  if (r->redirects >= limit) {
    snprintf(r->message, sizeof(r->message), "more than %u redirects",
             limit);
    return ADL_EREDIRECT;
  }
  int st = adl__url_parse(loc, t);
  if (st != 0) {
    snprintf(r->message, sizeof(r->message), "refused redirect to %.200s%s",
             loc, st == ADL_ESCHEME ? " (only http and https)" : "");
    return st == ADL_ESCHEME ? ADL_EREDIRECT : st;
  }
  char *copy = strdup(loc);
  if (copy == NULL)
    return ADL_ENOMEM;
  free(r->cur_url);
  r->cur_url = copy;
  r->visited[++r->redirects] = h;
  return 1;
}

/* ok only for a verified body: a declared length that could be read and
 * was met (chunked or close-delimited bodies are libcurl's to check). The
 * length declares the body on the wire, before any Content-Encoding is
 * undone: it is checked against the wire bytes. */
static int verify_body(adl_request_t *r, CURLcode rc, int st, long code) {
  if (st == ADL_EPROTO && r->message[0] == '\0') {
    if (rc == CURLE_OUT_OF_MEMORY)
      snprintf(r->message, sizeof(r->message),
               "response header too large or malformed");
    else if (r->errbuf[0] != '\0')
      snprintf(r->message, sizeof(r->message), "%s", r->errbuf);
  }
  if (st != 0 || code < 200 || code >= 300 || code == 204)
    return st;
  if (r->length_bad) {
    snprintf(r->message, sizeof(r->message),
             "invalid Content-Length: the body cannot be verified");
    return ADL_EPROTO;
  }
  if (r->declared_length >= 0 &&
      (uint64_t)r->declared_length != r->res.wire_bytes) {
    snprintf(r->message, sizeof(r->message),
             "body of %llu bytes, Content-Length said %lld",
             (unsigned long long)r->res.wire_bytes,
             (long long)r->declared_length);
    return ADL_EPROTO;
  }
  return 0;
}

void adl__attempt_collect(adl_request_t *r, CURLcode rc,
                          adl__url_parts_t *target, adl__rq_event_t *ev) {
  record_timings(r);
  int st = map_curl(r, rc);
  long code = r->res.http_status;
  r->res.lib_code = (int)rc;
  curl_off_t wire = 0;
  curl_easy_getinfo(r->easy, CURLINFO_SIZE_DOWNLOAD_T, &wire);
  r->res.wire_bytes = wire > 0 ? (uint64_t)wire : 0;
  st = verify_body(r, rc, st, code);
  if (rc == CURLE_WRITE_ERROR && r->abort_status != 0 && r->message[0] == 0) {
    /* Our own write callback stopped it: say why, not curl's "failure
     * writing output", which reads like a disk error. */
    if (r->abort_status == ADL_ETOOLARGE)
      snprintf(r->message, sizeof(r->message),
               "body larger than the size limit (%llu bytes decoded)",
               (unsigned long long)r->client->opts.max_size);
    else
      snprintf(r->message, sizeof(r->message), "%s",
               adl_strerror(r->abort_status));
  }
  memset(ev, 0, sizeof(*ev));
  ev->kind = ADL__EV_XFER_DONE;
  ev->status = st;
  ev->http_status = code;
  ev->retry_after_ms = r->retry_after_ms;
  /* The answer a conditional request hopes for: what the caller has is
   * current. */
  r->res.not_modified = st == 0 && code == 304 && r->conditional;
  ev->not_modified = (int)r->res.not_modified;
  if (st == 0 && code >= 300 && code < 400 && r->max_redirects > 0 &&
      !r->res.not_modified) {
    int f = check_redirect(r, target);
    if (f == 1)
      ev->redirect = target->https == r->origin->https &&
                             target->port == r->origin->port &&
                             strcmp(target->host, r->origin->host) == 0
                         ? 1
                         : 2;
    else
      ev->redirect = f;
  }
  long nconn = 0;
  curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &nconn);
  /* A kept-alive connection the server had already closed (curl#10646:
   * 7.88 reuses such dead connections) earns one immediate retry on a
   * fresh connection, not counted as an attempt. */
  ev->dead_reuse = nconn == 0 && (rc == CURLE_RECV_ERROR ||
                                  rc == CURLE_SEND_ERROR ||
                                  rc == CURLE_GOT_NOTHING);
}
