/* The HTTP/1.1 side: one uv_tcp_t per client, request heads parsed with
 * src/http1, one request at a time per connection (pipelined ones wait in
 * the read buffer), keep-alive.
 *
 * Writes never copy a body: each uv_write points into the entry's blocks
 * and holds the entry (through the client's reference) until it
 * completes. A client is given more only while uv's write queue for it is
 * at most write_bound bytes, so what one client has queued is bounded,
 * however slow it reads. A client over the bound for stall_ms while it
 * holds a streaming (uncached) body is dropped; any client with no
 * progress for idle_ms is closed. One sweep timer checks both. */
#include "pokeproxy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WRITE_MAX (64 * 1024) /* body bytes per uv_write */

enum { PX_C_READ = 0, PX_C_WAIT, PX_C_BODY, PX_C_FLUSH };

typedef struct {
  uv_write_t req;
  px_conn_t *c;
  uint64_t body;  /* body bytes in this write */
  char *owned;    /* freed when it completes */
  char frame[24]; /* chunk-size line */
} wreq_t;

static void conn_close(px_conn_t *c);
static void process(px_conn_t *c);
static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf);
static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

static uint64_t now_ms(const px_conn_t *c) { return uv_now(c->px->loop); }

int px_conn_over(const px_conn_t *c) {
  return uv_stream_get_write_queue_size((const uv_stream_t *)&c->tcp) >
         c->px->cfg.write_bound;
}

static const char *reason_phrase(int status) {
  switch (status) {
  case 200: return "OK";
  case 304: return "Not Modified";
  case 400: return "Bad Request";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 431: return "Request Header Fields Too Large";
  case 502: return "Bad Gateway";
  case 503: return "Service Unavailable";
  case 504: return "Gateway Timeout";
  case 505: return "HTTP Version Not Supported";
  default: return "Error";
  }
}

static const char *tag_name(int tag) {
  static const char *names[] = {"MISS", "HIT", "COALESCED", "REVALIDATED",
                                "HIT"};
  return names[tag];
}

/* ---- writing ----------------------------------------------------------- */

static void response_done(px_conn_t *c) {
  px_entry_detach(c);
  if (!c->keep_alive || c->px->stopping) {
    conn_close(c);
    return;
  }
  c->state = PX_C_READ;
  c->head_sent = c->chunked = 0;
  memset(&c->scan, 0, sizeof(c->scan));
  process(c); /* a pipelined request may be buffered already */
  if (c->state == PX_C_READ && !c->closing)
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_write(uv_write_t *req, int status) {
  wreq_t *w = (wreq_t *)req;
  px_conn_t *c = w->c;
  c->writes--;
  c->acked += w->body;
  free(w->owned);
  free(w);
  if (c->closing)
    return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  c->last_progress = now_ms(c);
  if (!px_conn_over(c))
    c->over_since = 0;
  if (c->state == PX_C_BODY) {
    px_conn_pump(c);
    if (c->entry != NULL)
      px_entry_readers_changed(c->entry);
  }
  if (c->state == PX_C_FLUSH && c->writes == 0)
    response_done(c);
}

/* Queues bufs; owned (may be NULL) is freed once written. On failure the
 * client is closed and -1 returned. */
static int conn_write(px_conn_t *c, uv_buf_t *bufs, unsigned n,
                      uint64_t body, char *owned, wreq_t *w) {
  if (w == NULL && (w = malloc(sizeof(*w))) == NULL) {
    free(owned);
    conn_close(c);
    return -1;
  }
  w->c = c;
  w->body = body;
  w->owned = owned;
  if (uv_write(&w->req, (uv_stream_t *)&c->tcp, bufs, n, on_write) != 0) {
    free(owned);
    free(w);
    conn_close(c);
    return -1;
  }
  c->writes++;
  return 0;
}

/* A whole response from memory. extra: more header lines, or "". */
static void respond(px_conn_t *c, int status, const char *ctype,
                    const char *extra, const char *body, size_t len) {
  if (c->closing)
    return;
  px_entry_detach(c);
  char *buf = malloc(512 + strlen(extra) + len);
  if (buf == NULL) {
    conn_close(c);
    return;
  }
  int n = sprintf(buf,
                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                  "Content-Length: %zu\r\n%sConnection: %s\r\n\r\n",
                  status, reason_phrase(status), ctype, len, extra,
                  c->keep_alive ? "keep-alive" : "close");
  memcpy(buf + n, body, len);
  uv_buf_t b = uv_buf_init(buf, (unsigned)(n + len));
  c->state = PX_C_FLUSH;
  conn_write(c, &b, 1, 0, buf, NULL);
}

void px_conn_error(px_conn_t *c, int status, const char *reason) {
  px_stats_t *st = &c->px->stats;
  if (status == 502)
    st->responses_502++;
  else if (status == 504)
    st->responses_504++;
  else if (status >= 400 && status < 500)
    st->responses_4xx++;
  char body[768];
  char esc[600];
  size_t j = 0;
  for (const char *p = reason; *p != '\0' && j + 2 < sizeof esc; p++) {
    if (*p == '"' || *p == '\\')
      esc[j++] = '\\';
    esc[j++] = (unsigned char)*p < 0x20 ? ' ' : *p;
  }
  esc[j] = '\0';
  int n = snprintf(body, sizeof body,
                   "{\"status\":%d,\"error\":\"%s\",\"reason\":\"%s\"}\n",
                   status, reason_phrase(status), esc);
  respond(c, status, "application/json",
          status == 405 ? "Allow: GET\r\n" : "", body, (size_t)n);
}

void px_conn_abort(px_conn_t *c) { conn_close(c); }

void px_conn_start_body(px_conn_t *c) {
  px_entry_t *e = c->entry;
  if (c->closing || c->head_sent)
    return;
  char head[1024];
  int not_modified = c->tag == PX_TAG_NOT_MODIFIED;
  char framing[64];
  if (not_modified)
    framing[0] = '\0';
  else if (e->length >= 0)
    snprintf(framing, sizeof framing, "Content-Length: %" PRId64 "\r\n",
             e->length);
  else if (!c->http10)
    snprintf(framing, sizeof framing, "Transfer-Encoding: chunked\r\n");
  else { /* HTTP/1.0 without a length: the end of the body is the close */
    framing[0] = '\0';
    c->keep_alive = 0;
  }
  c->chunked = !not_modified && e->length < 0 && !c->http10;
  int n = snprintf(head, sizeof head,
                   "HTTP/1.1 %s\r\nContent-Type: %s\r\n%s%s%s%sX-Cache: %s\r\n"
                   "Connection: %s\r\n\r\n",
                   not_modified ? "304 Not Modified" : "200 OK", e->ctype,
                   framing, e->etag ? "ETag: " : "", e->etag ? e->etag : "",
                   e->etag ? "\r\n" : "", tag_name(c->tag),
                   c->keep_alive ? "keep-alive" : "close");
  if (n < 0 || (size_t)n >= sizeof head) {
    px_conn_error(c, 502, "upstream head too large");
    return;
  }
  char *copy = malloc((size_t)n);
  if (copy == NULL) {
    conn_close(c);
    return;
  }
  memcpy(copy, head, (size_t)n);
  uv_buf_t b = uv_buf_init(copy, (unsigned)n);
  c->head_sent = 1;
  c->state = not_modified ? PX_C_FLUSH : PX_C_BODY;
  if (not_modified)
    c->px->stats.not_modified++;
  if (conn_write(c, &b, 1, 0, copy, NULL) == 0 && !not_modified)
    px_conn_pump(c);
}

void px_conn_pump(px_conn_t *c) {
  px_entry_t *e = c->entry;
  if (c->closing || c->state != PX_C_BODY || e == NULL)
    return;
  while (c->sent < e->received && !px_conn_over(c)) {
    const char *p;
    size_t n = px_entry_slice(e, c->sent, &p);
    if (n == 0)
      break;
    if (n > WRITE_MAX)
      n = WRITE_MAX;
    wreq_t *w = malloc(sizeof(*w));
    if (w == NULL) {
      conn_close(c);
      return;
    }
    uv_buf_t b[3];
    unsigned nb = 0;
    if (c->chunked) {
      int fl = snprintf(w->frame, sizeof w->frame, "%zx\r\n", n);
      b[nb++] = uv_buf_init(w->frame, (unsigned)fl);
    }
    b[nb++] = uv_buf_init((char *)p, (unsigned)n);
    if (c->chunked)
      b[nb++] = uv_buf_init((char *)"\r\n", 2);
    if (conn_write(c, b, nb, n, NULL, w) != 0)
      return;
    c->sent += n;
  }
  if (px_conn_over(c) && c->over_since == 0)
    c->over_since = now_ms(c);
  if (c->sent < e->received)
    return;
  if (e->state != PX_COMPLETE)
    return;
  c->state = PX_C_FLUSH; /* the whole body is queued */
  if (c->chunked) {
    uv_buf_t b = uv_buf_init((char *)"0\r\n\r\n", 5);
    if (conn_write(c, &b, 1, 0, NULL, NULL) != 0)
      return;
  }
  if (c->writes == 0)
    response_done(c);
}

/* ---- reading and routing ---------------------------------------------- */

static int valid_name(const char *s, size_t n) {
  if (n == 0 || n > 64 || s[0] == '.')
    return 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.'))
      return 0;
  }
  return 1;
}

static void route(px_conn_t *c, const adl_h1_req_t *req) {
  static const char prefix[] = "/pokemon/";
  const size_t plen = sizeof prefix - 1;
  c->px->stats.requests++;
  if (req->has_body) {
    c->keep_alive = 0;
    px_conn_error(c, 400, "request bodies are not accepted");
    return;
  }
  if (req->method != ADL_H1_METHOD_GET) {
    px_conn_error(c, 405, "only GET is served");
    return;
  }
  if (req->path_len == 6 && memcmp(req->path, "/stats", 6) == 0) {
    const char *v;
    size_t vl;
    int reset = adl_h1_query_get(req->query, req->query_len, "reset", &v,
                                 &vl) && vl == 1 && v[0] == '1';
    char *json = px_stats_json(c->px, reset);
    if (json == NULL) {
      conn_close(c);
      return;
    }
    respond(c, 200, "application/json", "Cache-Control: no-store\r\n", json,
            strlen(json));
    free(json);
    return;
  }
  if (req->path_len > plen && memcmp(req->path, prefix, plen) == 0 &&
      valid_name(req->path + plen, req->path_len - plen)) {
    const char *inm = NULL;
    size_t inm_len = 0;
    adl_h1_header(c->rbuf, c->head_len, "if-none-match", &inm, &inm_len);
    c->state = PX_C_WAIT;
    px_proxy_get(c->px, c, req->path + plen, req->path_len - plen, inm,
                 inm_len);
    return;
  }
  px_conn_error(c, 404, "not found: try GET /pokemon/<name> or /stats");
}

/* Handles the request at the start of rbuf, if it is complete. */
static void process(px_conn_t *c) {
  size_t skip = 0; /* blank lines before a request line (RFC 9112 2.2) */
  while (skip < c->rlen && (c->rbuf[skip] == '\r' || c->rbuf[skip] == '\n'))
    skip++;
  if (skip > 0) {
    memmove(c->rbuf, c->rbuf + skip, c->rlen - skip);
    c->rlen -= skip;
    memset(&c->scan, 0, sizeof(c->scan));
  }
  if (c->rlen == 0)
    return;
  adl_h1_req_t req;
  int rc = adl_h1_parse(c->rbuf, c->rlen, sizeof c->rbuf, &c->scan, &req);
  if (rc == 0)
    return;
  uv_read_stop((uv_stream_t *)&c->tcp); /* one request at a time */
  if (rc < 0) {
    c->keep_alive = 0;
    px_conn_error(c, -rc, "malformed request");
    return;
  }
  c->head_len = (size_t)rc;
  c->keep_alive = req.keep_alive;
  c->http10 = req.minor == 0;
  route(c, &req); /* reads req's pointers into rbuf: consume it after */
  memmove(c->rbuf, c->rbuf + c->head_len, c->rlen - c->head_len);
  c->rlen -= c->head_len;
  c->head_since = now_ms(c); /* a pipelined head waits from now */
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  px_conn_t *c = h->data;
  (void)hint;
  *buf = uv_buf_init(c->rbuf + c->rlen, (unsigned)(sizeof c->rbuf - c->rlen));
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  px_conn_t *c = s->data;
  (void)buf;
  if (nread < 0) {
    conn_close(c);
    return;
  }
  if (c->rlen == 0)
    c->head_since = now_ms(c);
  c->rlen += (size_t)nread;
  c->last_progress = now_ms(c);
  if (c->state == PX_C_READ)
    process(c);
}

/* ---- connections ------------------------------------------------------- */

static void on_conn_closed(uv_handle_t *h) {
  px_conn_t *c = h->data;
  px_proxy_t *px = c->px;
  px_entry_detach(c);
  if (c->prev != NULL)
    c->prev->next = c->next;
  else
    px->conns = c->next;
  if (c->next != NULL)
    c->next->prev = c->prev;
  px->stats.clients--;
  free(c);
}

static void conn_close(px_conn_t *c) {
  if (c->closing)
    return;
  c->closing = 1;
  uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_connection(uv_stream_t *server, int status) {
  px_proxy_t *px = server->data;
  if (status < 0)
    return;
  px_conn_t *c = calloc(1, sizeof(*c));
  if (c == NULL || uv_tcp_init(px->loop, &c->tcp) != 0) {
    free(c);
    return;
  }
  c->tcp.data = c;
  c->px = px;
  c->last_progress = uv_now(px->loop);
  c->next = px->conns;
  if (px->conns != NULL)
    px->conns->prev = c;
  px->conns = c;
  px->stats.clients++;
  if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
      px->stats.clients > px->cfg.max_clients) {
    conn_close(c);
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_sweep(uv_timer_t *t) {
  px_proxy_t *px = t->data;
  uint64_t now = uv_now(px->loop);
  px_conn_t *next;
  for (px_conn_t *c = px->conns; c != NULL; c = next) {
    next = c->next;
    if (c->closing || c->state == PX_C_WAIT)
      continue;
    if (c->over_since != 0 && now - c->over_since >= px->cfg.stall_ms &&
        c->entry != NULL && !c->entry->keep) {
      /* It holds a streaming body (and so every other reader of it). */
      px->stats.clients_dropped++;
      conn_close(c);
    } else if (now - c->last_progress >= px->cfg.idle_ms ||
               (c->state == PX_C_READ && c->rlen > 0 &&
                now - c->head_since >= px->cfg.idle_ms)) {
      /* idle, or a head trickling in for too long */
      if (c->state != PX_C_READ)
        px->stats.clients_dropped++;
      conn_close(c);
    }
  }
}

int px_server_start(px_proxy_t *px, int *port) {
  struct sockaddr_storage ss;
  int rc = uv_ip4_addr(px->cfg.listen_ip, px->cfg.listen_port,
                       (struct sockaddr_in *)&ss);
  if (rc != 0)
    rc = uv_ip6_addr(px->cfg.listen_ip, px->cfg.listen_port,
                     (struct sockaddr_in6 *)&ss);
  if (rc != 0)
    return rc;
  if ((rc = uv_tcp_init(px->loop, &px->listener)) != 0)
    return rc;
  px->listener.data = px;
  if ((rc = uv_tcp_bind(&px->listener, (struct sockaddr *)&ss, 0)) != 0 ||
      (rc = uv_listen((uv_stream_t *)&px->listener, 1024, on_connection)) !=
          0) {
    uv_close((uv_handle_t *)&px->listener, NULL);
    return rc;
  }
  int len = sizeof ss;
  uv_tcp_getsockname(&px->listener, (struct sockaddr *)&ss, &len);
  *port = ss.ss_family == AF_INET
              ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
              : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  uint64_t every = px->cfg.stall_ms / 4;
  every = every < 10 ? 10 : every > 250 ? 250 : every;
  uv_timer_init(px->loop, &px->sweep);
  px->sweep.data = px;
  uv_timer_start(&px->sweep, on_sweep, every, every);
  return 0;
}

void px_server_stop(px_proxy_t *px) {
  px->stopping = 1;
  uv_close((uv_handle_t *)&px->listener, NULL);
  uv_close((uv_handle_t *)&px->sweep, NULL);
  for (px_conn_t *c = px->conns; c != NULL; c = c->next)
    conn_close(c);
}
