/* HTTP/1.x request head parser (see http1.h for the rules it enforces).
 * adl_h1_parse scans for the end of the head incrementally, checking the
 * request line as soon as it is complete, then parses the whole head once.
 * It never reads past len. */
#include "http1.h"

#include <string.h>
#include <strings.h>

static int is_tchar(unsigned char c) {
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
      (c >= 'A' && c <= 'Z'))
    return 1;
  return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static size_t trim_cr(const char *line, size_t n) {
  return n > 0 && line[n - 1] == '\r' ? n - 1 : n;
}

/* Case-insensitive compare of a counted string against a literal. */
static int ieq(const char *s, size_t n, const char *lit) {
  return strlen(lit) == n && strncasecmp(s, lit, n) == 0;
}

int adl_h1_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out) {
  uint64_t v = 0;
  if (n == 0 || n > 19)
    return -1;
  for (size_t i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (uint64_t)(s[i] - '0'); /* 19 digits cannot overflow */
  }
  if (v > max)
    return -1;
  *out = v;
  return 0;
}

int adl_h1_query_get(const char *q, size_t qlen, const char *key,
                     const char **val, size_t *vlen) {
  size_t klen = strlen(key);
  size_t i = 0;
  if (q == NULL)
    return 0;
  while (i < qlen) {
    const char *amp = memchr(q + i, '&', qlen - i);
    size_t end = amp ? (size_t)(amp - q) : qlen;
    const char *eq = memchr(q + i, '=', end - i);
    size_t kend = eq ? (size_t)(eq - q) : end;
    if (kend - i == klen && memcmp(q + i, key, klen) == 0) {
      *val = eq ? eq + 1 : q + end;
      *vlen = eq ? end - kend - 1 : 0;
      return 1;
    }
    i = end + 1;
  }
  return 0;
}

/* Reduces a target to origin-form path and query; an absolute-form
 * target (as sent to proxies) yields its authority too. */
static int split_target(const char *t, size_t tn, adl_h1_req_t *r) {
  if (r->method == ADL_H1_METHOD_CONNECT) {
    /* authority-form only: host:port, no path, no userinfo */
    if (t[0] == '/' || memchr(t, '/', tn) || memchr(t, '@', tn) ||
        !memchr(t, ':', tn))
      return -400;
    r->authority = t;
    r->authority_len = tn;
    r->path = "/";
    r->path_len = 1;
    return 0;
  }
  if (tn >= 7 && strncasecmp(t, "http://", 7) == 0) {
    const char *host = t + 7;
    const char *slash = memchr(host, '/', tn - 7);
    size_t hn = slash ? (size_t)(slash - host) : tn - 7;
    const char *qm = memchr(host, '?', hn);
    if (qm != NULL)
      hn = (size_t)(qm - host); /* "http://h?q": the query has no path */
    if (hn == 0)
      return -400;
    r->authority = host;
    r->authority_len = hn;
    if (slash == NULL || (qm != NULL && qm < slash)) {
      r->path = "/";
      r->path_len = 1;
      return 0; /* (any query of a path-less target is dropped) */
    }
    tn -= (size_t)(slash - t);
    t = slash;
  }
  if (t[0] != '/')
    return -400;
  const char *qm = memchr(t, '?', tn);
  r->path = t;
  r->path_len = qm ? (size_t)(qm - t) : tn;
  r->query = qm ? qm + 1 : NULL;
  r->query_len = qm ? tn - r->path_len - 1 : 0;
  return 0;
}

/* "GET /path?q HTTP/1.1" (without line end). */
static int parse_request_line(const char *s, size_t n, adl_h1_req_t *r) {
  size_t i = 0;
  while (i < n && i < 17 && is_tchar((unsigned char)s[i]))
    i++;
  if (i == 0 || i > 16 || i >= n || s[i] != ' ')
    return -400;
  r->method_str = s;
  r->method_len = i;
  if (i == 3 && memcmp(s, "GET", 3) == 0)
    r->method = ADL_H1_METHOD_GET;
  else if (i == 4 && memcmp(s, "HEAD", 4) == 0)
    r->method = ADL_H1_METHOD_HEAD;
  else if (i == 7 && memcmp(s, "CONNECT", 7) == 0)
    r->method = ADL_H1_METHOD_CONNECT;
  else
    r->method = ADL_H1_METHOD_OTHER;

  size_t t0 = ++i;
  while (i < n && s[i] > 0x20 && s[i] < 0x7f)
    i++;
  size_t t1 = i;
  if (t1 == t0 || i >= n || s[i] != ' ')
    return -400;
  i++;
  if (n - i != 8 || memcmp(s + i, "HTTP/", 5) != 0 || s[i + 6] != '.' ||
      s[i + 5] < '0' || s[i + 5] > '9' || s[i + 7] < '0' || s[i + 7] > '9')
    return -400;
  if (s[i + 5] != '1')
    return -505;
  r->minor = s[i + 7] - '0';
  r->target = s + t0;
  r->target_len = t1 - t0;
  return split_target(s + t0, t1 - t0, r);
}

typedef struct {
  int conn_close, conn_keep, has_cl, has_te;
  uint64_t cl;
} hdr_state_t;

static void parse_connection(const char *v, size_t n, hdr_state_t *h) {
  size_t i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
      i++;
    size_t s = i;
    while (i < n && v[i] != ',' && v[i] != ' ' && v[i] != '\t')
      i++;
    if (ieq(v + s, i - s, "close"))
      h->conn_close = 1;
    else if (ieq(v + s, i - s, "keep-alive"))
      h->conn_keep = 1;
  }
}

/* Splits one header line s[0..n) (no line end) into name and trimmed
 * value. Returns 0, or -400 for a line that is not "token: value". */
static int split_header(const char *s, size_t n, size_t *name_len,
                        const char **v, size_t *vn) {
  size_t i = 0;
  while (i < n && is_tchar((unsigned char)s[i]))
    i++;
  if (i == 0 || i >= n || s[i] != ':')
    return -400; /* also catches obs-fold: a line starting with SP/HT */
  *name_len = i++;
  while (i < n && (s[i] == ' ' || s[i] == '\t'))
    i++;
  size_t v0 = i, v1 = n;
  while (v1 > v0 && (s[v1 - 1] == ' ' || s[v1 - 1] == '\t'))
    v1--;
  *v = s + v0;
  *vn = v1 - v0;
  return 0;
}

static int parse_header(const char *s, size_t n, hdr_state_t *h) {
  size_t name_len, vn;
  const char *v;
  if (split_header(s, n, &name_len, &v, &vn) != 0)
    return -400;
  for (size_t k = 0; k < vn; k++) {
    unsigned char c = (unsigned char)v[k];
    if ((c < 0x20 && c != '\t') || c == 0x7f)
      return -400;
  }
  if (ieq(s, name_len, "connection")) {
    parse_connection(v, vn, h);
  } else if (ieq(s, name_len, "content-length")) {
    uint64_t cl;
    if (adl_h1_parse_u64(v, vn, UINT64_MAX, &cl) != 0 ||
        (h->has_cl && cl != h->cl))
      return -400;
    h->has_cl = 1;
    h->cl = cl;
  } else if (ieq(s, name_len, "transfer-encoding")) {
    h->has_te = 1;
  }
  return 0;
}

/* Parses a complete head buf[0..head_len), which ends with its blank
 * line. */
static int parse_head(const char *buf, size_t head_len, adl_h1_req_t *r) {
  const char *nl = memchr(buf, '\n', head_len);
  if (nl == NULL)
    return -400;
  size_t pos = (size_t)(nl - buf) + 1;
  int rc = parse_request_line(buf, trim_cr(buf, pos - 1), r);
  if (rc != 0)
    return rc;
  hdr_state_t h = {0};
  for (;;) {
    nl = memchr(buf + pos, '\n', head_len - pos);
    if (nl == NULL)
      return -400; /* unreachable: the head ends with a blank line */
    size_t n = trim_cr(buf + pos, (size_t)(nl - (buf + pos)));
    if (n == 0)
      break;
    rc = parse_header(buf + pos, n, &h);
    if (rc != 0)
      return rc;
    pos = (size_t)(nl - buf) + 1;
  }
  if (h.has_cl && h.has_te)
    return -400; /* request smuggling shape: refuse outright */
  r->has_body = h.has_te || (h.has_cl && h.cl > 0);
  r->has_content_length = h.has_cl;
  r->content_length = h.has_cl ? h.cl : 0;
  r->has_transfer_encoding = h.has_te;
  if (r->minor == 0)
    r->keep_alive = h.conn_keep && !h.conn_close;
  else
    r->keep_alive = !h.conn_close;
  return 0;
}

int adl_h1_parse(const char *buf, size_t len, size_t max, adl_h1_scan_t *sc,
                 adl_h1_req_t *r) {
  size_t i = sc->pos;
  for (; i < len; i++) {
    unsigned char c = (unsigned char)buf[i];
    if (c == '\n') {
      if (!sc->line1_done) {
        /* Refuse a bad request line at once, before the whole head. */
        adl_h1_req_t tmp;
        memset(&tmp, 0, sizeof tmp);
        int rc = parse_request_line(buf, trim_cr(buf, i), &tmp);
        if (rc != 0)
          return rc;
        sc->line1_done = 1;
      } else if (buf[i - 1] == '\n' ||
                 (buf[i - 1] == '\r' && i >= 2 && buf[i - 2] == '\n')) {
        if (i + 1 > max)
          return -431;
        adl_h1_req_t tmp;
        memset(&tmp, 0, sizeof tmp);
        int rc = parse_head(buf, i + 1, &tmp);
        if (rc != 0)
          return rc;
        *r = tmp;
        return (int)(i + 1);
      }
    } else if (c == 0) {
      return -400;
    } else if (!sc->line1_done && ((c < 0x20 && c != '\r') || c >= 0x7f)) {
      return -400; /* binary (e.g. a TLS hello): not HTTP, say so early */
    }
  }
  sc->pos = len;
  return len >= max ? -431 : 0;
}

/* ---- reading fields of a parsed head ---------------------------------- */

int adl_h1_header_next(const char *buf, size_t head_len, size_t *pos,
                       const char **name, size_t *name_len,
                       const char **val, size_t *val_len) {
  size_t p = *pos;
  if (p == 0) { /* skip the request line */
    const char *nl = memchr(buf, '\n', head_len);
    if (nl == NULL)
      return 0;
    p = (size_t)(nl - buf) + 1;
  }
  if (p >= head_len)
    return 0;
  const char *nl = memchr(buf + p, '\n', head_len - p);
  if (nl == NULL)
    return 0;
  size_t n = trim_cr(buf + p, (size_t)(nl - (buf + p)));
  if (n == 0 || split_header(buf + p, n, name_len, val, val_len) != 0) {
    *pos = head_len; /* the blank line (or a line that is no field): done */
    return 0;
  }
  *name = buf + p;
  *pos = (size_t)(nl - buf) + 1;
  return 1;
}

int adl_h1_header(const char *buf, size_t head_len, const char *name,
                  const char **val, size_t *val_len) {
  size_t pos = 0, nl, vl;
  const char *n, *v;
  while (adl_h1_header_next(buf, head_len, &pos, &n, &nl, &v, &vl)) {
    if (ieq(n, nl, name)) {
      *val = v;
      *val_len = vl;
      return 1;
    }
  }
  return 0;
}
