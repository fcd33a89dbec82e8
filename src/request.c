/* One request's life after admission: each attempt resolves the host with
 * c-ares (or the cache), hands the addresses to curl as CURLOPT_RESOLVE,
 * runs the transfer on the pool, then decides between done, retry and
 * redirect. A file sink writes to a temporary name that is renamed into
 * place only after a complete, successful transfer. */
#include "client.h"

#include <arpa/inet.h>
#include <ctype.h>
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

/* Splits url into host and port, accepting only http and https. */
int adl__request_parse_url(adl_request_t *r, const char *url) {
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
  size_t n = strlen(host);
  const char *h = host;
  if (n >= 2 && host[0] == '[') { /* IPv6 literal */
    h = host + 1;
    n -= 2;
  }
  char *copy = malloc(n + 1);
  if (copy == NULL) {
    rc = ADL_ENOMEM;
    goto out;
  }
  for (size_t i = 0; i < n; i++)
    copy[i] = (char)tolower((unsigned char)h[i]);
  copy[n] = '\0';
  unsigned char a[16];
  free(r->host);
  r->host = copy;
  r->port = strtol(port, NULL, 10);
  r->numeric_host = inet_pton(AF_INET, copy, a) == 1 ||
                    inet_pton(AF_INET6, copy, a) == 1;
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

static size_t on_header(char *buf, size_t size, size_t n, void *ud) {
  adl_request_t *r = ud;
  size_t len = size * n;
  if (!r->seen_first_byte) {
    r->seen_first_byte = 1;
    r->t_first_byte = uv_hrtime();
  }
  if (len >= 5 && memcmp(buf, "HTTP/", 5) == 0) {
    r->retry_after_ms = -1; /* a new response (1xx may precede the final) */
  } else if (len > 12 && strncasecmp(buf, "Retry-After:", 12) == 0) {
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
  return len;
}

static int start_file(adl_request_t *r);

static size_t on_write(char *buf, size_t size, size_t n, void *ud) {
  adl_request_t *r = ud;
  size_t len = size * n;
  if (r->cancel_requested) {
    r->abort_status = ADL_ECANCELED;
    return 0;
  }
  if (r->res.bytes == 0 && !r->keep_body) {
    /* Only a 2xx body reaches the sink; redirect and error pages do not. */
    long code = 0;
    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
    r->keep_body = code >= 200 && code < 300 ? 1 : -1;
  }
  r->res.bytes += len;
  if (r->keep_body < 0)
    return len;
  uint64_t max = r->client->opts.max_size;
  if (max != 0 && r->res.bytes > max) {
    r->abort_status = ADL_ETOOLARGE;
    return 0;
  }
  if (r->opts.sink == ADL_SINK_FILE) {
    /* The temporary file is made at the first body byte, not before the
     * request: its creation then overlaps the network. */
    int st = r->file_started ? 0 : start_file(r);
    if (st == 0)
      st = write_all(r->fd, buf, len);
    if (st != 0) {
      r->abort_status = st;
      return 0;
    }
  } else if (r->opts.sink == ADL_SINK_CALLBACK && r->opts.on_data) {
    adl_client_t *c = r->client;
    c->in_curl_callback = 1;
    int stop = r->opts.on_data(r, buf, len);
    c->in_curl_callback = 0;
    if (stop || r->cancel_requested) {
      r->abort_status = ADL_ECANCELED;
      return 0;
    }
  }
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
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
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
  return st;
}

static void setup_easy(adl_request_t *r) {
  adl_client_t *c = r->client;
  const adl_options_t *o = &c->opts;
  CURL *e = r->easy;
  curl_easy_setopt(e, CURLOPT_URL, r->cur_url);
  curl_easy_setopt(e, CURLOPT_PRIVATE, r);
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_USERAGENT, o->user_agent);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)o->connect_timeout_ms);
  if (o->low_speed_bytes > 0 && o->low_speed_time_ms > 0) {
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)o->low_speed_bytes);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                     (long)((o->low_speed_time_ms + 999) / 1000));
  }
  if (o->max_size > 0)
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_size);
  if (o->cacert != NULL)
    curl_easy_setopt(e, CURLOPT_CAINFO, o->cacert);
  if (o->insecure) {
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  /* HTTP/1.1 unless asked: the strategies compare connections, and the
   * clients they model (requests, aiohttp) speak HTTP/1.1. */
  curl_easy_setopt(e, CURLOPT_HTTP_VERSION,
                   o->http2 ? (long)CURL_HTTP_VERSION_2TLS
                            : (long)CURL_HTTP_VERSION_1_1);
  if (c->policy.fresh_connect || r->force_fresh) {
    curl_easy_setopt(e, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
  }
  if (c->policy.share_tls_sessions)
    curl_easy_setopt(e, CURLOPT_SHARE, adl__pool_share(c->pool));
  else
    curl_easy_setopt(e, CURLOPT_SSL_SESSIONID_CACHE, 0L);
  curl_easy_setopt(e, CURLOPT_RESOLVE, r->resolve);
}

static void run_transfer(adl_request_t *r, const char *addrs) {
  adl_client_t *c = r->client;
  curl_slist_free_all(r->resolve);
  r->resolve = NULL;
  if (addrs != NULL) {
    /* One entry with every address: a second entry for the same host:port
     * would replace the first. */
    size_t n = strlen(r->host) + strlen(addrs) + 32;
    char *entry = malloc(n);
    if (entry == NULL) {
      adl__request_complete(r, ADL_ENOMEM, NULL);
      return;
    }
    snprintf(entry, n, "%s:%ld:%s", r->host, r->port, addrs);
    r->resolve = curl_slist_append(NULL, entry);
    free(entry);
    if (r->resolve == NULL) {
      adl__request_complete(r, ADL_ENOMEM, NULL);
      return;
    }
  }
  if (r->easy == NULL)
    r->easy = adl__client_take_easy(c);
  if (r->easy == NULL) {
    adl__request_complete(r, ADL_ENOMEM, NULL);
    return;
  }
  setup_easy(r);
  r->errbuf[0] = '\0';
  r->abort_status = 0;
  r->keep_body = 0;
  r->file_started = 0;
  r->seen_first_byte = 0;
  r->retry_after_ms = -1;
  r->res.bytes = 0;
  r->t_attempt = uv_hrtime();
  int st = adl__pool_add(c->pool, r->easy);
  if (st != 0) {
    adl__request_complete(r, st, "cannot start the transfer");
    return;
  }
  r->state = RQ_RUNNING;
}

static void on_resolved(void *arg, const adl__dns_answer_t *ans) {
  adl_request_t *r = arg;
  r->dnsq = NULL;
  r->state = RQ_IDLE;
  r->res.dns_us += ans->dns_us;
  if (ans->status != 0) {
    r->res.lib_code = ans->ares_status;
    char msg[300];
    snprintf(msg, sizeof(msg), "cannot resolve '%s'", r->host);
    adl__request_complete(r, ans->status, msg);
    return;
  }
  run_transfer(r, ans->addrs);
}

void adl__request_start_attempt(adl_request_t *r) {
  adl_client_t *c = r->client;
  r->res.attempts++;
  if (r->numeric_host) {
    run_transfer(r, NULL);
    return;
  }
  char addrs[1024];
  if (!c->policy.fresh_dns &&
      adl__resolver_cached(c->resolver, r->host, addrs, sizeof(addrs))) {
    r->res.dns_cached = 1;
    run_transfer(r, addrs);
    return;
  }
  r->state = RQ_RESOLVING;
  adl__dnsq_t *q = NULL;
  int st = adl__resolve(c->resolver, r->host, on_resolved, r, &q);
  if (st != 0) {
    adl__request_complete(r, st, NULL);
    return;
  }
  /* A synchronous answer already moved r on; only a pending one is kept. */
  if (q != NULL)
    r->dnsq = q;
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
    return ADL_ESCHEME;
  case CURLE_URL_MALFORMAT:
    return ADL_EURL;
  case CURLE_COULDNT_RESOLVE_HOST:
    return ADL_EDNS;
  case CURLE_OUT_OF_MEMORY:
    return ADL_ENOMEM;
  case CURLE_WRITE_ERROR:
    return r->abort_status ? r->abort_status : ADL_EIO;
  case CURLE_ABORTED_BY_CALLBACK:
    return ADL_ECANCELED;
  default:
    return ADL_ECURL;
  }
}

/* GET is idempotent, so transient failures are retried: overload and
 * gateway statuses, timeouts, resets and truncated responses. Refused
 * connections, DNS, TLS and 4xx answers would fail the same way again. */
static int retryable(int st, long code) {
  if (st == ADL_EHTTP)
    return code == 408 || code == 429 || code == 500 || code == 502 ||
           code == 503 || code == 504;
  return st == ADL_ETIMEDOUT || st == ADL_ECONNRESET || st == ADL_EPROTO;
}

/* Jittered exponential backoff, or Retry-After when the server sent one;
 * both capped so a hostile server cannot park a request for hours. */
static uint64_t backoff_ms(adl_request_t *r) {
  const adl_options_t *o = &r->client->opts;
  uint64_t cap = o->retry_max_ms;
  if (r->retry_after_ms >= 0)
    return (uint64_t)r->retry_after_ms < cap ? (uint64_t)r->retry_after_ms
                                             : cap;
  unsigned n = r->res.attempts > 0 ? r->res.attempts - 1 : 0;
  uint64_t d = o->retry_base_ms << (n < 20 ? n : 20);
  if (d > cap)
    d = cap;
  return d / 2 + (d > 1 ? adl__client_random(r->client) % (d / 2 + 1) : 0);
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

static int follow_redirect(adl_request_t *r) {
  const adl_options_t *o = &r->client->opts;
  char *loc = NULL;
  curl_easy_getinfo(r->easy, CURLINFO_REDIRECT_URL, &loc);
  if (loc == NULL)
    return 0; /* a 3xx without Location is the final answer */
  unsigned limit = o->max_redirects < 63 ? o->max_redirects : 63;
  uint64_t h = adl__hash_str(loc);
  for (unsigned i = 0; i <= r->redirects && i < 64; i++) {
    if (r->visited[i] == h) {
      snprintf(r->message, sizeof(r->message), "redirect loop at %s", loc);
      return ADL_EREDIRECT;
    }
  }
  if (r->redirects >= limit) {
    snprintf(r->message, sizeof(r->message), "more than %u redirects",
             limit);
    return ADL_EREDIRECT;
  }
  char *copy = strdup(loc);
  if (copy == NULL)
    return ADL_ENOMEM;
  int st = adl__request_parse_url(r, copy);
  if (st != 0) {
    snprintf(r->message, sizeof(r->message), "refused redirect to %.200s",
             copy);
    free(copy);
    return st == ADL_ESCHEME ? ADL_EREDIRECT : st;
  }
  free(r->cur_url);
  r->cur_url = copy;
  r->visited[++r->redirects] = h;
  return 1;
}

void adl__request_on_curl_done(adl_request_t *r, CURLcode rc) {
  adl_client_t *c = r->client;
  record_timings(r);
  if (r->cancel_requested) {
    adl__request_complete(r, ADL_ECANCELED, NULL);
    return;
  }
  int st = map_curl(r, rc);
  long code = r->res.http_status;
  r->res.lib_code = (int)rc;
  if (st == 0 && code >= 300 && code < 400 &&
      c->opts.max_redirects > 0) {
    int f = follow_redirect(r);
    if (f == 1) {
      r->res.attempts--; /* a hop is part of the same attempt */
      r->state = RQ_RESTART;
      adl__queue_insert_tail(&c->restart, &r->state_node);
      adl__client_kick(c);
      return;
    }
    if (f < 0) {
      adl__request_complete(r, f, r->message);
      return;
    }
  }
  if (st == 0 && (code < 200 || code >= 300))
    st = ADL_EHTTP;
  if (st == 0 && r->opts.sink == ADL_SINK_FILE) {
    /* Published when the outcome is delivered, after the next request has
     * been sent: the rename then overlaps the network instead of
     * delaying it. */
    r->commit_pending = 1;
    adl__request_complete(r, 0, NULL);
    return;
  }
  long nconn = 0;
  curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &nconn);
  if (!r->free_retry_used && nconn == 0 &&
      (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
       rc == CURLE_GOT_NOTHING)) {
    /* A kept-alive connection that the server had already closed
     * (curl#10646 in 7.88 reuses such dead connections): not an attempt,
     * just one immediate retry on a fresh connection. */
    r->free_retry_used = 1;
    r->force_fresh = 1;
    r->res.attempts--;
    r->state = RQ_RESTART;
    adl__queue_insert_tail(&c->restart, &r->state_node);
    adl__client_kick(c);
    return;
  }
  if (r->res.attempts <= c->opts.retries && retryable(st, code)) {
    adl__client_schedule_retry(c, r, backoff_ms(r));
    return;
  }
  adl__request_complete(r, st, NULL);
}
