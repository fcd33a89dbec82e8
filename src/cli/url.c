/* URLs, list names, file names and message quoting: the string rules the
 * list reader and the option parser share. Pure functions, no I/O. */
#include "url.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int cli_fail(int rc, char *err, size_t errlen, const char *fmt, ...) {
  if (err != NULL && errlen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return rc;
}

size_t cli_utf8_len(const unsigned char *s, size_t n) {
  unsigned lo = 0x80, hi = 0xBF;
  size_t len;
  if (n == 0)
    return 0;
  if (s[0] < 0x80)
    return 1;
  if (s[0] >= 0xC2 && s[0] <= 0xDF)
    len = 2;
  else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
    len = 3;
    if (s[0] == 0xE0)
      lo = 0xA0; /* overlong */
    else if (s[0] == 0xED)
      hi = 0x9F; /* UTF-16 surrogates */
  } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
    len = 4;
    if (s[0] == 0xF0)
      lo = 0x90; /* overlong */
    else if (s[0] == 0xF4)
      hi = 0x8F; /* above U+10FFFF */
  } else
    return 0;
  if (n < len || s[1] < lo || s[1] > hi)
    return 0;
  for (size_t i = 2; i < len; i++)
    if ((s[i] & 0xC0) != 0x80)
      return 0;
  return len;
}

/* How the byte sequence at s is shown by cli_quote; returns bytes used. */
static size_t quote_piece(const unsigned char *s, size_t n, char *piece,
                          size_t *plen) {
  size_t k = cli_utf8_len(s, n);
  /* C1 controls (U+0080..U+009F) can drive terminals just like ESC. */
  if (k == 0 || (k == 1 && (s[0] < 0x20 || s[0] == 0x7F)) ||
      (k == 2 && s[0] == 0xC2 && s[1] < 0xA0)) {
    *plen = (size_t)snprintf(piece, 8, "\\x%02X", s[0]);
    return 1;
  }
  if (s[0] == '\\') {
    memcpy(piece, "\\\\", 2);
    *plen = 2;
    return 1;
  }
  memcpy(piece, s, k);
  *plen = k;
  return k;
}

void cli_quote(char *out, size_t cap, const char *s, size_t len) {
  const unsigned char *u = (const unsigned char *)s;
  char piece[8];
  size_t total = 0, o = 0, plen;
  if (cap == 0)
    return;
  for (size_t i = 0; i < len;) {
    i += quote_piece(u + i, len - i, piece, &plen);
    total += plen;
  }
  /* Leave room for "..." only when the whole text cannot fit. */
  size_t limit = total < cap ? cap - 1 : (cap > 4 ? cap - 4 : 0);
  for (size_t i = 0; i < len;) {
    size_t used = quote_piece(u + i, len - i, piece, &plen);
    if (o + plen > limit)
      break;
    memcpy(out + o, piece, plen);
    o += plen;
    i += used;
  }
  if (total >= cap && cap > 4) {
    memcpy(out + o, "...", 3);
    o += 3;
  }
  out[o] = '\0';
}

static int is_alnum(int c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9');
}

static int hexval(int c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/* ---- URLs and names ---------------------------------------------------- */

/* Bytes a URL may not contain, beyond spaces, controls and non-ASCII. */
static int url_forbidden(unsigned char c) {
  switch (c) {
  case '"': case '<': case '>': case '\\': case '^': case '`': case '{':
  case '|': case '}':
    return 1;
  default:
    return 0;
  }
}

/* Why url is refused ("<reason>" for "malformed URL '...': <reason>"), or
 * NULL. The message is built only on failure: quoting every URL in advance
 * cost more than the check itself. */
static const char *url_problem(const char *url, int *kind, char *badc) {
  *kind = 0;
  const char *sep = strstr(url, "://");
  if (sep == NULL) {
    *kind = 1;
    return "";
  }
  size_t slen = (size_t)(sep - url);
  if (slen == 0 || !((url[0] | 0x20) >= 'a' && (url[0] | 0x20) <= 'z') ||
      strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789+-.") < slen)
    return "bad scheme";
  if (!((slen == 4 && strncasecmp(url, "http", 4) == 0) ||
        (slen == 5 && strncasecmp(url, "https", 5) == 0))) {
    *kind = 2;
    return "";
  }
  for (const unsigned char *p = (const unsigned char *)url; *p != '\0'; p++) {
    if (*p > ' ' && *p < 0x7F && *p != '%' && !url_forbidden(*p))
      continue; /* the common case, in one test */
    if (*p == ' ')
      return "contains a space";
    if (*p < 0x20 || *p == 0x7F)
      return "contains a control character";
    if (*p >= 0x80)
      return "contains non-ASCII characters (percent-encode them)";
    if (url_forbidden(*p)) {
      *kind = 3;
      *badc = (char)*p;
      return "";
    }
    if (*p == '%' && (hexval(p[1]) < 0 || hexval(p[2]) < 0))
      return "bad %XX escape";
  }
  const char *auth = sep + 3;
  size_t alen = strcspn(auth, "/?#");
  const char *host = auth, *end = auth + alen, *port = NULL;
  for (const char *p = auth; p < end; p++)
    if (*p == '@')
      host = p + 1; /* skip user:password@ */
  if (host < end && *host == '[') {
    const char *close = memchr(host, ']', (size_t)(end - host));
    if (close == NULL || close == host + 1 ||
        strspn(host + 1, "0123456789abcdefABCDEF:.") <
            (size_t)(close - host - 1))
      return "bad IPv6 host";
    if (close + 1 < end) {
      if (close[1] != ':')
        return "bad host";
      port = close + 2;
    }
  } else {
    const char *colon = memchr(host, ':', (size_t)(end - host));
    const char *hend = colon != NULL ? colon : end;
    if (hend == host)
      return "no host";
    for (const char *p = host; p < hend; p++)
      if (!is_alnum((unsigned char)*p) && strchr("-._~%", *p) == NULL)
        return "bad host name";
    if (colon != NULL)
      port = colon + 1;
  }
  if (port != NULL) {
    unsigned long v = 0;
    const char *p = port;
    for (; p < end && *p >= '0' && *p <= '9' && v <= 65535; p++)
      v = v * 10 + (unsigned long)(*p - '0');
    if (p == port || p != end || v == 0 || v > 65535)
      return "bad port";
  }
  return NULL;
}

int cli_url_check(const char *url, char *why, size_t whylen) {
  int kind;
  char badc = 0, q[100];
  const char *reason = url_problem(url, &kind, &badc);
  if (reason == NULL)
    return 0;
  /* Credentials are never shown, not even in the URL a message quotes. */
  char m[300];
  size_t mlen = cli_mask_credentials(url, m, sizeof(m));
  cli_quote(q, sizeof(q), m, mlen < sizeof(m) ? mlen : sizeof(m) - 1);
  if (kind == 1)
    return cli_fail(-1, why, whylen, "'%s' is not a URL (no scheme://)", q);
  if (kind == 2) {
    char sq[40];
    cli_quote(sq, sizeof(sq), url, (size_t)(strstr(url, "://") - url));
    return cli_fail(-1, why, whylen,
                    "unsupported scheme '%s' in '%s': only http:// and "
                    "https:// are accepted",
                    sq, q);
  }
  if (kind == 3)
    return cli_fail(-1, why, whylen, "malformed URL '%s': contains '%c'", q,
                    badc);
  return cli_fail(-1, why, whylen, "malformed URL '%s': %s", q, reason);
}

/* A name must be one URL path segment (RFC 3986 pchar) so that joining it
 * to the base URL cannot change the URL's structure. */
int cli_name_check(const char *s, char *why, size_t whylen) {
  char q[100];
  size_t len = strlen(s);
  if (strcmp(s, ".") == 0 || strcmp(s, "..") == 0) {
    cli_quote(q, sizeof(q), s, len);
    return cli_fail(-1, why, whylen, "'%s' is not a valid name", q);
  }
  for (size_t i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (is_alnum(c) || (c != 0 && strchr("-._~!$&'()*+,;=:@", c) != NULL))
      continue;
    /* Quoted only now: the message is the rare case. */
    cli_quote(q, sizeof(q), s, len);
    if (c == '%') {
      if (hexval((unsigned char)s[i + 1]) < 0 ||
          hexval((unsigned char)s[i + 2]) < 0)
        return cli_fail(-1, why, whylen, "name '%s': bad %%XX escape", q);
      i += 2;
      continue;
    }
    char cq[16];
    size_t k = cli_utf8_len((const unsigned char *)s + i, len - i);
    cli_quote(cq, sizeof(cq), s + i, k > 0 ? k : 1);
    return cli_fail(-1, why, whylen,
                "name '%s': '%s' is not allowed in a URL path segment "
                "(percent-encode it, or give a full URL)",
                q, cq);
  }
  return 0;
}

/* The last non-empty path segment of a checked URL, or "index". */
char *cli_url_name(const char *url) {
  const char *path = strstr(url, "://") + 3;
  path += strcspn(path, "/?#");
  const char *end = path + strcspn(path, "?#");
  while (end > path && end[-1] == '/')
    end--;
  const char *start = end;
  while (start > path && start[-1] != '/')
    start--;
  if (start == end)
    return strdup("index");
  return strndup(start, (size_t)(end - start));
}

int cli_url_join(const char *base, const char *name, char **out) {
  if (base == NULL || name == NULL || out == NULL || *base == '\0' ||
      *name == '\0')
    return -EINVAL;
  size_t bl = strlen(base), nl = strlen(name);
  size_t slash = base[bl - 1] != '/';
  char *u = malloc(bl + slash + nl + 1);
  if (u == NULL)
    return -ENOMEM;
  memcpy(u, base, bl);
  u[bl] = '/';
  memcpy(u + bl + slash, name, nl + 1);
  *out = u;
  return 0;
}

/* Why name cannot be a file name, or NULL. The %XX escapes are decoded for
 * the check because a later tool (or a server) may well decode them. */
const char *cli_filename_problem(const char *name) {
  size_t len = strlen(name), dlen = 0;
  int dots_only = 1;
  if (len == 0)
    return "is empty";
  if (len > CLI_NAME_MAX)
    return "is longer than 200 bytes";
  for (size_t i = 0; i < len; i++, dlen++) {
    int c = (unsigned char)name[i];
    if (c == '%' && hexval((unsigned char)name[i + 1]) >= 0 &&
        hexval((unsigned char)name[i + 2]) >= 0) {
      c = hexval((unsigned char)name[i + 1]) * 16 +
          hexval((unsigned char)name[i + 2]);
      i += 2;
    }
    if (c == '/' || c == '\\')
      return "contains a '/' or '\\', possibly %XX-escaped";
    if (c < 0x20 || c == 0x7F)
      return "contains a control character, possibly %XX-escaped";
    if (c != '.')
      dots_only = 0;
  }
  if (dots_only && dlen <= 2)
    return "is '.' or '..', possibly %XX-escaped";
  return NULL;
}

int cli_safe_filename(const char *name, char *out, size_t cap) {
  if (name == NULL || cli_filename_problem(name) != NULL)
    return -EINVAL;
  size_t len = strlen(name);
  if (out == NULL || cap < len + sizeof(".json"))
    return -ERANGE;
  memcpy(out, name, len);
  memcpy(out + len, ".json", sizeof(".json"));
  return 0;
}

/* ---- credentials ------------------------------------------------------- */

/* Where the authority after a "://" ends: a path, query or fragment, or
 * (in free text) white space and the quotes that surround a URL. */
static int authority_end(unsigned char c) {
  return c == '\0' || c == '/' || c == '?' || c == '#' || c <= ' ' ||
         c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\' ||
         c == 0x7F;
}

/* The userinfo of the authority at a (just after "://"): its length up to
 * the last '@' (a password may hold one), or 0 when there is none. */
static size_t userinfo_len(const char *a) {
  size_t at = 0;
  for (size_t i = 0; !authority_end((unsigned char)a[i]); i++)
    if (a[i] == '@')
      at = i + 1;
  return at > 1 ? at - 1 : 0;
}

size_t cli_mask_credentials(const char *s, char *out, size_t cap) {
  size_t o = 0;
#define PUT(c)                                                                 \
  do {                                                                         \
    char c_ = (c); /* evaluated once, whether it fits or not */               \
    if (o + 1 < cap)                                                           \
      out[o] = c_;                                                             \
    o++;                                                                       \
  } while (0)
  for (const char *p = s; *p != '\0';) {
    if (strncmp(p, "://", 3) != 0) {
      PUT(*p++);
      continue;
    }
    for (int i = 0; i < 3; i++)
      PUT(*p++);
    size_t ui = userinfo_len(p);
    if (ui == 0)
      continue;
    /* "user:password" shows the user; a lone "token" shows nothing. */
    const char *colon = memchr(p, ':', ui);
    if (colon != NULL) {
      for (const char *q = p; q <= colon; q++)
        PUT(*q);
    }
    PUT('*');
    PUT('*');
    PUT('*');
    p += ui; /* the '@' is copied as ordinary text */
  }
#undef PUT
  if (cap > 0)
    out[o < cap ? o : cap - 1] = '\0';
  return o;
}

int cli_has_credentials(const char *s) {
  for (const char *p = s; (p = strstr(p, "://")) != NULL; p += 3)
    if (userinfo_len(p + 3) > 0)
      return 1;
  return 0;
}

char *cli_mask_dup(const char *s) {
  if (s == NULL)
    return NULL;
  if (!cli_has_credentials(s))
    return strdup(s);
  size_t n = cli_mask_credentials(s, NULL, 0);
  char *m = malloc(n + 1);
  if (m != NULL)
    cli_mask_credentials(s, m, n + 1);
  return m;
}

const char *cli_mask_buf(const char *s, char *buf, size_t cap) {
  if (s == NULL || !cli_has_credentials(s))
    return s;
  cli_mask_credentials(s, buf, cap);
  return buf;
}

int cli_proxy_check(const char *url, char *why, size_t whylen) {
  static const char *const schemes[] = {"http",   "https",   "socks4",
                                        "socks4a", "socks5", "socks5h"};
  char m[300], q[100];
  size_t mlen = cli_mask_credentials(url, m, sizeof(m));
  cli_quote(q, sizeof(q), m, mlen < sizeof(m) ? mlen : sizeof(m) - 1);
  const char *sep = strstr(url, "://");
  size_t slen = sep != NULL ? (size_t)(sep - url) : 0;
  int known = 0;
  for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
    known |= slen == strlen(schemes[i]) && strncasecmp(url, schemes[i], slen) == 0;
  if (!known)
    return cli_fail(-1, why, whylen,
                    "'%s' is not a proxy URL: write SCHEME://[USER:PASSWORD@]"
                    "HOST[:PORT] with SCHEME http, https, socks4, socks4a, "
                    "socks5 or socks5h",
                    q);
  /* The rest follows the rules of a download URL; only the scheme differs. */
  char *as_http = malloc(strlen(sep) + 5);
  if (as_http == NULL)
    return cli_fail(-1, why, whylen, "out of memory");
  memcpy(as_http, "http", 4);
  strcpy(as_http + 4, sep);
  int kind;
  char badc = 0;
  const char *reason = url_problem(as_http, &kind, &badc);
  free(as_http);
  if (reason == NULL)
    return 0;
  if (kind == 3)
    return cli_fail(-1, why, whylen, "malformed proxy URL '%s': contains '%c'",
                    q, badc);
  return cli_fail(-1, why, whylen, "malformed proxy URL '%s': %s", q, reason);
}
