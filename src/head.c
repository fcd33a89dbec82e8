/* Response head storage: see head.h. */
#include "head.h"

#include "asyncdl.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void adl__head_clear(adl__head_t *h) {
  h->len = 0;
  h->nfields = 0;
  h->has_status = 0;
  h->truncated = 0;
}

void adl__head_free(adl__head_t *h) {
  free(h->buf);
  free(h->fields);
  memset(h, 0, sizeof(*h));
}

static int reserve(adl__head_t *h, size_t more) {
  if (h->len + more <= h->cap)
    return 0;
  size_t cap = h->cap ? h->cap : 512;
  while (cap < h->len + more)
    cap *= 2;
  char *b = realloc(h->buf, cap);
  if (b == NULL)
    return ADL_ENOMEM;
  h->buf = b;
  h->cap = cap;
  return 0;
}

/* Appends s[0..n) and a NUL. */
static void put(adl__head_t *h, const char *s, size_t n) {
  memcpy(h->buf + h->len, s, n);
  h->buf[h->len + n] = '\0';
  h->len += n + 1;
}

static int is_space(char c) { return c == ' ' || c == '\t'; }

static int add_field(adl__head_t *h, const char *line, size_t len) {
  const char *colon = memchr(line, ':', len);
  if (colon == NULL || colon == line)
    return 0; /* not a field: nothing to show (curl has judged it) */
  size_t nlen = (size_t)(colon - line);
  const char *v = colon + 1, *end = line + len;
  while (v < end && is_space(*v))
    v++;
  while (end > v && is_space(end[-1]))
    end--;
  size_t vlen = (size_t)(end - v);
  if (h->len + nlen + vlen + 2 > ADL__HEAD_MAX) {
    h->truncated = 1;
    return 0;
  }
  if (h->nfields == h->fields_cap) {
    size_t cap = h->fields_cap ? h->fields_cap * 2 : 16;
    uint32_t *f = realloc(h->fields, cap * sizeof(*f));
    if (f == NULL)
      return ADL_ENOMEM;
    h->fields = f;
    h->fields_cap = cap;
  }
  if (reserve(h, nlen + vlen + 2) != 0)
    return ADL_ENOMEM;
  h->fields[h->nfields++] = (uint32_t)h->len;
  put(h, line, nlen);
  put(h, v, vlen);
  return 0;
}

int adl__head_feed(adl__head_t *h, const char *line, size_t len) {
  while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n'))
    len--;
  if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
    adl__head_clear(h);
    while (len > 0 && is_space(line[len - 1]))
      len--; /* curl's HTTP/2 status line ends "200 " */
    if (len > ADL__HEAD_MAX / 2)
      len = ADL__HEAD_MAX / 2;
    if (reserve(h, len + 1) != 0)
      return ADL_ENOMEM;
    put(h, line, len);
    h->has_status = 1;
    return 0;
  }
  if (len == 0)
    return h->has_status ? 1 : 0;
  if (!h->has_status)
    return 0; /* a trailer or garbage before any status: not a head */
  return add_field(h, line, len);
}

const char *adl__head_status(const adl__head_t *h) {
  return h->has_status ? h->buf : NULL;
}

const char *adl__head_get(const adl__head_t *h, const char *name) {
  for (size_t i = 0; i < h->nfields; i++) {
    const char *n = h->buf + h->fields[i];
    if (strcasecmp(n, name) == 0)
      return n + strlen(n) + 1;
  }
  return NULL;
}

int adl__head_at(const adl__head_t *h, size_t i, const char **name,
                 const char **value) {
  if (i >= h->nfields)
    return -1;
  const char *n = h->buf + h->fields[i];
  *name = n;
  *value = n + strlen(n) + 1;
  return 0;
}
