/* http1: an HTTP/1.x request-head parser for the project's own servers
 * (the fixture in src/fixture, the example proxy in examples/). Internal:
 * a static library behind `http1_dep`, not installed, not part of
 * libasyncdl.
 *
 * Pure functions over caller-owned bytes: nothing is allocated, nothing is
 * copied, nothing is read past the length given. Every pointer a result
 * holds points into the caller's buffer (or at a static "/"), so it is
 * valid exactly as long as those bytes are.
 *
 * Strict where leniency would let one request be read two ways (RFC 9112
 * section 11.2, "request smuggling"): a NUL anywhere, a control byte in a
 * header value, obs-fold (a line starting with SP/HT), whitespace before
 * the colon, Content-Length together with Transfer-Encoding, two different
 * Content-Lengths or one that is not 1..19 digits are all refused with 400.
 * Bare LF line ends are accepted, as RFC 9112 section 2.2 allows.
 *
 * Typical use, with bytes arriving in pieces into one buffer:
 *
 *   adl_h1_scan_t scan = {0};          // zero once per request
 *   adl_h1_req_t req;
 *   int rc = adl_h1_parse(buf, len, max, &scan, &req);
 *   if (rc == 0)      read more into buf (same scan), then call again
 *   else if (rc < 0)  answer -rc (400, 431, 505) and close
 *   else              the head is buf[0..rc); the body (if any) follows
 *
 * The API is stable; additions go at the end of the structs. */
#ifndef ADL_HTTP1_H
#define ADL_HTTP1_H

#include <stddef.h>
#include <stdint.h>

enum {
  ADL_H1_METHOD_OTHER = 0, /* any other token: see method / method_len */
  ADL_H1_METHOD_GET,
  ADL_H1_METHOD_HEAD,
  ADL_H1_METHOD_CONNECT, /* then target is authority-form (host:port) */
};

typedef struct adl_h1_req_s {
  int method;             /* ADL_H1_METHOD_* */
  const char *path;       /* origin-form path, '?' excluded; "/" for an */
  size_t path_len;        /*   absolute-form target without a path and */
                          /*   for CONNECT (then a static string)       */
  const char *query;      /* after '?', NULL when absent */
  size_t query_len;
  int minor;              /* HTTP/1.<minor>, 0..9 */
  int keep_alive;         /* what the client asked for (1.1: unless
                             "Connection: close"; 1.0: only with
                             "Connection: keep-alive") */
  int has_body;           /* Content-Length > 0 or Transfer-Encoding */
  /* --- since the module was split out of the fixture --- */
  const char *method_str; /* the method token as sent (case kept) */
  size_t method_len;      /*   1..16 bytes */
  const char *target;     /* the request-target exactly as sent */
  size_t target_len;
  const char *authority;  /* host[:port] of an absolute-form target */
  size_t authority_len;   /*   ("GET http://h:1/x"), or the whole target */
                          /*   of CONNECT; NULL otherwise (then see the  */
                          /*   Host header)                              */
  int has_content_length; /* a valid Content-Length was sent ... */
  uint64_t content_length;/*   ... with this value */
  int has_transfer_encoding; /* any Transfer-Encoding header */
} adl_h1_req_t;

/* Incremental scan state: a head arriving in small pieces is scanned once
 * rather than from the start on every read. Zero it for every request. */
typedef struct adl_h1_scan_s {
  size_t pos;
  int line1_done;
} adl_h1_scan_t;

/** Parses the request head at the start of buf[0..len).
 * Returns the head's length (its blank line included) once buf holds a
 * complete head, and fills *r; 0 while more bytes are needed (scan
 * remembers how far it got; call again with the same buf, longer len);
 * or a negative status for a head that must be refused: -400 (malformed;
 * reported as soon as the request line is complete and bad, or binary
 * bytes such as a TLS ClientHello arrive), -431 (no complete head within
 * max bytes), -505 (HTTP major version other than 1).
 * max is the head size limit, at most INT_MAX. Leading blank lines before
 * the request line (RFC 9112 2.2) are the caller's to skip. *r is written
 * only when a head is returned. */
int adl_h1_parse(const char *buf, size_t len, size_t max, adl_h1_scan_t *scan,
                 adl_h1_req_t *r);

/** Iterates over the header fields of a complete head buf[0..head_len)
 * (as returned by adl_h1_parse). Start with *pos = 0. Returns 1 with the
 * field's name and value (optional whitespace around the value trimmed),
 * or 0 after the last field. Pure, bounds-checked: on a head that
 * adl_h1_parse did not accept it stops at the first line it cannot read. */
int adl_h1_header_next(const char *buf, size_t head_len, size_t *pos,
                       const char **name, size_t *name_len,
                       const char **val, size_t *val_len);

/** The value of the first header field called name (case-insensitive) in
 * the complete head buf[0..head_len). Returns 1 with *val / *val_len set,
 * 0 when there is none. Fields repeated on several lines are not joined:
 * use adl_h1_header_next for those. */
int adl_h1_header(const char *buf, size_t head_len, const char *name,
                  const char **val, size_t *val_len);

/** Finds key in an "a=1&b=2" query string q[0..qlen) (q may be NULL).
 * Returns 1 with the raw (still percent-encoded) value, else 0. A key
 * without '=' has the empty value. */
int adl_h1_query_get(const char *q, size_t qlen, const char *key,
                     const char **val, size_t *vlen);

/** Parses 1..19 decimal digits (nothing else) no larger than max.
 * Returns 0 with *out set, or -1. */
int adl_h1_parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out);

#endif /* ADL_HTTP1_H */
