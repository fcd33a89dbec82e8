/* A response head as libcurl hands it over, one line per header callback:
 * kept so the caller can read the status line and any header by name
 * while the request lives (adl_request_header and friends). A new status
 * line (a 1xx, a redirect hop, a retried attempt) starts a new head.
 * Pure: no I/O, one owner (the request). L0. */
#ifndef ADL_HEAD_H
#define ADL_HEAD_H

#include <stddef.h>
#include <stdint.h>

/* Bytes kept per head: curl refuses heads over 100 KiB anyway (and the
 * request then fails); past this, later headers are dropped from view. */
#define ADL__HEAD_MAX (100 * 1024)

typedef struct adl__head_s {
  char *buf;          /* "status\0name\0value\0name\0value\0..." */
  size_t len, cap;
  uint32_t *fields;   /* offset of each name; its value follows it */
  size_t nfields, fields_cap;
  int has_status;
  int truncated;      /* some header did not fit in ADL__HEAD_MAX */
} adl__head_t;

/* Feeds one header line (with its CRLF) as curl delivers it. A status line
 * ("HTTP/...") clears the head and starts a new one. Returns 1 when the
 * line was the blank line ending a head, else 0; ADL_ENOMEM on failure. */
int adl__head_feed(adl__head_t *h, const char *line, size_t len);

/* "HTTP/1.1 200 OK" without CRLF, or NULL before any status line. */
const char *adl__head_status(const adl__head_t *h);
/* The first value of a header named name (any case), or NULL. */
const char *adl__head_get(const adl__head_t *h, const char *name);
/* Field i in arrival order: 0, or -1 past the last. */
int adl__head_at(const adl__head_t *h, size_t i, const char **name,
                 const char **value);

void adl__head_clear(adl__head_t *h);
void adl__head_free(adl__head_t *h);

#endif
