/* Recursive descent over the text, depth-bounded; values go into one
 * growing array (indices, not pointers, since it moves) and decoded
 * strings into one growing arena. */
#include "jsonr.h"

#include "url.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64

typedef struct node_s {
  uint32_t type;
  uint32_t start, end; /* [start, end) in the text */
  uint32_t next;       /* next element or member, 0 = last */
  uint32_t child;      /* first element or member, 0 = none */
  uint32_t count;      /* elements or members */
  uint32_t key;        /* arena offset of a member's key, + 1; 0 = none */
  uint32_t str;        /* arena offset of a string's value */
} node_t;

struct cli_jdoc_s {
  const char *text;
  size_t len, pos;
  node_t *nodes; /* nodes[0] is unused: 0 means "none" */
  size_t n, cap;
  char *arena;
  size_t alen, acap;
  char *err;
  size_t errlen;
  int failed;
};

static void where_of(const cli_jdoc_t *d, size_t off, char *out, size_t cap) {
  unsigned long line = 1, col = 1;
  for (size_t i = 0; i < off && i < d->len; i++) {
    if (d->text[i] == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  snprintf(out, cap, "line %lu, column %lu", line, col);
}

__attribute__((format(printf, 2, 3))) static uint32_t bad(cli_jdoc_t *d,
                                                          const char *fmt,
                                                          ...) {
  if (d->failed)
    return 0;
  d->failed = 1;
  if (d->err != NULL && d->errlen > 0) {
    char w[64], msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    where_of(d, d->pos, w, sizeof(w));
    snprintf(d->err, d->errlen, "%s: %s", w, msg);
  }
  return 0;
}

static uint32_t oom(cli_jdoc_t *d) {
  if (!d->failed && d->err != NULL && d->errlen > 0)
    snprintf(d->err, d->errlen, "out of memory");
  d->failed = 1;
  return 0;
}

static uint32_t new_node(cli_jdoc_t *d, uint32_t type) {
  if (d->n == d->cap) {
    size_t cap = d->cap ? d->cap * 2 : 256;
    node_t *nn = cap < UINT32_MAX ? realloc(d->nodes, cap * sizeof(*nn)) : NULL;
    if (nn == NULL)
      return oom(d);
    d->nodes = nn;
    d->cap = cap;
  }
  node_t *x = &d->nodes[d->n];
  memset(x, 0, sizeof(*x));
  x->type = type;
  x->start = (uint32_t)d->pos;
  return (uint32_t)d->n++;
}

static int put(cli_jdoc_t *d, const char *s, size_t n) {
  if (d->alen + n + 1 > d->acap) {
    size_t cap = d->acap ? d->acap : 1024;
    while (cap < d->alen + n + 1)
      cap *= 2;
    char *na = realloc(d->arena, cap);
    if (na == NULL)
      return oom(d), -1;
    d->arena = na;
    d->acap = cap;
  }
  memcpy(d->arena + d->alen, s, n);
  d->alen += n;
  return 0;
}

static void ws(cli_jdoc_t *d) {
  while (d->pos < d->len &&
         (d->text[d->pos] == ' ' || d->text[d->pos] == '\t' ||
          d->text[d->pos] == '\n' || d->text[d->pos] == '\r'))
    d->pos++;
}

static int hex4(cli_jdoc_t *d, unsigned *out) {
  unsigned v = 0;
  if (d->len - d->pos < 4)
    return -1;
  for (int i = 0; i < 4; i++) {
    char c = d->text[d->pos++];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= (unsigned)(c - '0');
    else if (c >= 'a' && c <= 'f')
      v |= (unsigned)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      v |= (unsigned)(c - 'A' + 10);
    else
      return -1;
  }
  *out = v;
  return 0;
}

static int put_utf8(cli_jdoc_t *d, unsigned cp) {
  char b[4];
  size_t n;
  if (cp < 0x80) {
    b[0] = (char)cp;
    n = 1;
  } else if (cp < 0x800) {
    b[0] = (char)(0xC0 | (cp >> 6));
    b[1] = (char)(0x80 | (cp & 0x3F));
    n = 2;
  } else if (cp < 0x10000) {
    b[0] = (char)(0xE0 | (cp >> 12));
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[2] = (char)(0x80 | (cp & 0x3F));
    n = 3;
  } else {
    b[0] = (char)(0xF0 | (cp >> 18));
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    b[3] = (char)(0x80 | (cp & 0x3F));
    n = 4;
  }
  return put(d, b, n);
}

/* "\uXXXX", a surrogate pair taking two of them. */
static int unicode_escape(cli_jdoc_t *d) {
  unsigned cp, lo;
  if (hex4(d, &cp) != 0)
    return bad(d, "bad \\u escape"), -1;
  if (cp >= 0xDC00 && cp <= 0xDFFF)
    return bad(d, "lone low surrogate in \\u escape"), -1;
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    if (d->len - d->pos < 2 || d->text[d->pos] != '\\' ||
        d->text[d->pos + 1] != 'u')
      return bad(d, "high surrogate without its low half"), -1;
    d->pos += 2;
    if (hex4(d, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF)
      return bad(d, "high surrogate without its low half"), -1;
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
  }
  if (cp == 0)
    return bad(d, "\\u0000 is not supported"), -1;
  return put_utf8(d, cp);
}

/* At '"': decodes into the arena; returns the arena offset or -1. */
static long parse_string(cli_jdoc_t *d) {
  size_t off = d->alen;
  d->pos++;
  for (;;) {
    if (d->pos >= d->len)
      return bad(d, "unterminated string"), -1;
    unsigned char c = (unsigned char)d->text[d->pos];
    if (c == '"') {
      d->pos++;
      break;
    }
    if (c < 0x20)
      return bad(d, "control character in a string"), -1;
    if (c == '\\') {
      if (++d->pos >= d->len)
        return bad(d, "unterminated string"), -1;
      char e = d->text[d->pos++], o;
      switch (e) {
      case '"': o = '"'; break;
      case '\\': o = '\\'; break;
      case '/': o = '/'; break;
      case 'b': o = '\b'; break;
      case 'f': o = '\f'; break;
      case 'n': o = '\n'; break;
      case 'r': o = '\r'; break;
      case 't': o = '\t'; break;
      case 'u':
        if (unicode_escape(d) != 0)
          return -1;
        continue;
      default:
        d->pos--;
        return bad(d, "bad escape '\\%c'", e >= 32 && e < 127 ? e : '?'), -1;
      }
      if (put(d, &o, 1) != 0)
        return -1;
      continue;
    }
    size_t k = cli_utf8_len((const unsigned char *)d->text + d->pos,
                            d->len - d->pos);
    if (k == 0)
      return bad(d, "invalid UTF-8 in a string"), -1;
    if (put(d, d->text + d->pos, k) != 0)
      return -1;
    d->pos += k;
  }
  if (put(d, "", 1) != 0) /* the NUL */
    return -1;
  return (long)off;
}

static int digits(cli_jdoc_t *d) {
  size_t s = d->pos;
  while (d->pos < d->len && d->text[d->pos] >= '0' && d->text[d->pos] <= '9')
    d->pos++;
  return d->pos > s;
}

static uint32_t parse_number(cli_jdoc_t *d) {
  uint32_t v = new_node(d, CLI_JNUM);
  if (v == 0)
    return 0;
  if (d->text[d->pos] == '-')
    d->pos++;
  if (d->pos < d->len && d->text[d->pos] == '0')
    d->pos++;
  else if (!digits(d))
    return bad(d, "bad number");
  if (d->pos < d->len && d->text[d->pos] == '.') {
    d->pos++;
    if (!digits(d))
      return bad(d, "bad number: no digit after '.'");
  }
  if (d->pos < d->len && (d->text[d->pos] == 'e' || d->text[d->pos] == 'E')) {
    d->pos++;
    if (d->pos < d->len && (d->text[d->pos] == '+' || d->text[d->pos] == '-'))
      d->pos++;
    if (!digits(d))
      return bad(d, "bad number: no digit in the exponent");
  }
  return v;
}

static uint32_t parse_value(cli_jdoc_t *d, unsigned depth);

/* Links child after *last (or as the first child of parent). */
static void link_child(cli_jdoc_t *d, uint32_t parent, uint32_t *last,
                       uint32_t child) {
  if (*last == 0)
    d->nodes[parent].child = child;
  else
    d->nodes[*last].next = child;
  *last = child;
  d->nodes[parent].count++;
}

static uint32_t parse_container(cli_jdoc_t *d, unsigned depth, int obj) {
  char close = obj ? '}' : ']';
  uint32_t v = new_node(d, obj ? CLI_JOBJ : CLI_JARR), last = 0;
  if (v == 0)
    return 0;
  if (depth >= MAX_DEPTH)
    return bad(d, "nested deeper than %d levels", MAX_DEPTH);
  d->pos++;
  ws(d);
  if (d->pos < d->len && d->text[d->pos] == close) {
    d->pos++;
    d->nodes[v].end = (uint32_t)d->pos;
    return v;
  }
  for (;;) {
    long key = -1;
    if (obj) {
      if (d->pos >= d->len || d->text[d->pos] != '"')
        return bad(d, "expected a member name in quotes");
      if ((key = parse_string(d)) < 0)
        return 0;
      ws(d);
      if (d->pos >= d->len || d->text[d->pos] != ':')
        return bad(d, "expected ':'");
      d->pos++;
      ws(d);
    }
    uint32_t c = parse_value(d, depth + 1);
    if (c == 0)
      return 0;
    d->nodes[c].key = key >= 0 ? (uint32_t)key + 1 : 0;
    link_child(d, v, &last, c);
    ws(d);
    if (d->pos < d->len && d->text[d->pos] == ',') {
      d->pos++;
      ws(d);
      continue;
    }
    if (d->pos < d->len && d->text[d->pos] == close) {
      d->pos++;
      d->nodes[v].end = (uint32_t)d->pos;
      return v;
    }
    return bad(d, "expected ',' or '%c'", close);
  }
}

static uint32_t literal(cli_jdoc_t *d, const char *word, uint32_t type) {
  size_t n = strlen(word);
  if (d->len - d->pos < n || memcmp(d->text + d->pos, word, n) != 0)
    return bad(d, "unexpected character");
  uint32_t v = new_node(d, type);
  d->pos += n;
  return v;
}

static uint32_t parse_value(cli_jdoc_t *d, unsigned depth) {
  uint32_t v;
  long s;
  if (d->pos >= d->len)
    return bad(d, "unexpected end of the text");
  char c = d->text[d->pos];
  switch (c) {
  case '{':
  case '[':
    return parse_container(d, depth, c == '{');
  case '"':
    if ((v = new_node(d, CLI_JSTR)) == 0 || (s = parse_string(d)) < 0)
      return 0;
    d->nodes[v].str = (uint32_t)s;
    break;
  case 't':
    v = literal(d, "true", CLI_JTRUE);
    break;
  case 'f':
    v = literal(d, "false", CLI_JFALSE);
    break;
  case 'n':
    v = literal(d, "null", CLI_JNULL);
    break;
  default:
    if (c != '-' && (c < '0' || c > '9'))
      return bad(d, "unexpected character");
    v = parse_number(d);
    break;
  }
  if (v != 0)
    d->nodes[v].end = (uint32_t)d->pos;
  return v;
}

cli_jdoc_t *cli_jparse(const char *text, size_t len, char *err,
                       size_t errlen) {
  cli_jdoc_t *d = calloc(1, sizeof(*d));
  if (d == NULL) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  d->text = text;
  d->len = len;
  d->err = err;
  d->errlen = errlen;
  if (len >= UINT32_MAX) {
    bad(d, "larger than 4 GB");
  } else if (new_node(d, CLI_JNONE), !d->failed) { /* unused node 0 */
    ws(d);
    if (parse_value(d, 0) != 0) {
      ws(d);
      if (d->pos != d->len)
        bad(d, "text after the end of the document");
    }
  }
  if (d->failed) {
    cli_jfree(d);
    return NULL;
  }
  return d;
}

void cli_jfree(cli_jdoc_t *d) {
  if (d == NULL)
    return;
  free(d->nodes);
  free(d->arena);
  free(d);
}

cli_jv_t cli_jroot(const cli_jdoc_t *d) { return d->n > 1 ? 1 : 0; }

cli_jtype_t cli_jtype(const cli_jdoc_t *d, cli_jv_t v) {
  return v != 0 && v < d->n ? (cli_jtype_t)d->nodes[v].type : CLI_JNONE;
}

cli_jv_t cli_jget(const cli_jdoc_t *d, cli_jv_t o, const char *key) {
  if (cli_jtype(d, o) != CLI_JOBJ)
    return 0;
  for (uint32_t c = d->nodes[o].child; c != 0; c = d->nodes[c].next)
    if (strcmp(d->arena + d->nodes[c].key - 1, key) == 0)
      return c;
  return 0;
}

cli_jv_t cli_jfirst(const cli_jdoc_t *d, cli_jv_t v) {
  cli_jtype_t t = cli_jtype(d, v);
  return t == CLI_JARR || t == CLI_JOBJ ? d->nodes[v].child : 0;
}

cli_jv_t cli_jnext(const cli_jdoc_t *d, cli_jv_t v) {
  return v != 0 && v < d->n ? d->nodes[v].next : 0;
}

size_t cli_jlen(const cli_jdoc_t *d, cli_jv_t v) {
  cli_jtype_t t = cli_jtype(d, v);
  return t == CLI_JARR || t == CLI_JOBJ ? d->nodes[v].count : 0;
}

const char *cli_jstr(const cli_jdoc_t *d, cli_jv_t v) {
  return cli_jtype(d, v) == CLI_JSTR ? d->arena + d->nodes[v].str : NULL;
}

const char *cli_jraw(const cli_jdoc_t *d, cli_jv_t v, size_t *len) {
  if (cli_jtype(d, v) == CLI_JNONE) {
    *len = 0;
    return "";
  }
  *len = d->nodes[v].end - d->nodes[v].start;
  return d->text + d->nodes[v].start;
}

/* A non-negative number with at most max_dec decimals, as an integer
 * scaled by 10^max_dec ("1.5" with 3 -> 1500); no exponent. */
static int decimal(const cli_jdoc_t *d, cli_jv_t v, unsigned max_dec,
                   uint64_t *out) {
  size_t len, i = 0;
  const char *s = cli_jraw(d, v, &len);
  uint64_t x = 0;
  unsigned dec = 0;
  int frac = 0;
  if (cli_jtype(d, v) != CLI_JNUM || len == 0 || s[0] == '-')
    return -1;
  for (; i < len; i++) {
    if (s[i] == '.' && !frac) {
      frac = 1;
      continue;
    }
    if (s[i] < '0' || s[i] > '9' || (frac && ++dec > max_dec))
      return -1;
    unsigned dg = (unsigned)(s[i] - '0');
    if (x > (UINT64_MAX - dg) / 10)
      return -1;
    x = x * 10 + dg;
  }
  for (; dec < max_dec; dec++) {
    if (x > UINT64_MAX / 10)
      return -1;
    x *= 10;
  }
  *out = x;
  return 0;
}

int cli_ju64(const cli_jdoc_t *d, cli_jv_t v, uint64_t *out) {
  return decimal(d, v, 0, out);
}

int cli_jms_us(const cli_jdoc_t *d, cli_jv_t v, uint64_t *us) {
  return decimal(d, v, 3, us);
}

void cli_jwhere(const cli_jdoc_t *d, cli_jv_t v, char *out, size_t cap) {
  where_of(d, v != 0 && v < d->n ? d->nodes[v].start : 0, out, cap);
}
