/* Shard assignment and the shard this process runs. The hash is fixed
 * (FNV-1a 64, the same bytes on every machine), never seeded, never
 * dependent on the list's order: a URL's shard depends on that URL alone. */
#include "shard.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

uint64_t cli_fnv1a64(const void *p, size_t len) {
  const unsigned char *b = p;
  uint64_t h = FNV_OFFSET;
  for (size_t i = 0; i < len; i++) {
    h ^= b[i];
    h *= FNV_PRIME;
  }
  return h;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t len,
                                                      const char *fmt, ...) {
  if (err != NULL && len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* Digits only, at most max; NULL, "", signs, blanks and overflow fail. */
static int parse_uint(const char *s, size_t len, unsigned max, unsigned *out) {
  unsigned long long v = 0;
  if (s == NULL || len == 0)
    return -1;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (unsigned)(s[i] - '0');
    if (v > max)
      return -1;
  }
  *out = (unsigned)v;
  return 0;
}

int cli_shard_parse(const char *s, unsigned *index, unsigned *count,
                    char *why, size_t whylen) {
  const char *slash = strchr(s, '/');
  unsigned i, n;
  if (slash == NULL ||
      parse_uint(s, (size_t)(slash - s), CLI_SHARD_MAX, &i) != 0 ||
      parse_uint(slash + 1, strlen(slash + 1), CLI_SHARD_MAX, &n) != 0 ||
      n == 0)
    return fail(why, whylen,
                "is not I/N with 0 <= I < N <= %u, e.g. 0/4 (shards are "
                "numbered from 0)",
                CLI_SHARD_MAX);
  if (i >= n)
    return fail(why, whylen,
                "has I = %u, not below N = %u (shards are numbered from 0 "
                "to N-1)",
                i, n);
  *index = i;
  *count = n;
  return 0;
}

int cli_shard_by_parse(const char *s, cli_shard_by_t *by) {
  if (strcmp(s, "url") == 0)
    *by = CLI_SHARD_BY_URL;
  else if (strcmp(s, "host") == 0)
    *by = CLI_SHARD_BY_HOST;
  else
    return -1;
  return 0;
}

const char *cli_shard_by_name(cli_shard_by_t by) {
  return by == CLI_SHARD_BY_HOST ? "host" : "url";
}

const char *cli_shard_source_name(cli_shard_source_t s) {
  switch (s) {
  case CLI_SHARD_OPTION:
    return "--shard";
  case CLI_SHARD_SLURM:
    return "slurm";
  case CLI_SHARD_K8S:
    return "kubernetes";
  case CLI_SHARD_NONE:
  default:
    return "none";
  }
}

static char lower(char c) { return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c; }

/* Where url's origin ends: the first '/', '?' or '#' after "://", or the
 * end. NULL without "://". */
static const char *origin_end(const char *url) {
  const char *p = strstr(url, "://");
  return p == NULL ? NULL : p + 3 + strcspn(p + 3, "/?#");
}

int cli_shard_origin(const char *url, char *out, size_t cap) {
  const char *sep = strstr(url, "://"), *end = origin_end(url);
  if (sep == NULL || sep == url)
    return -1;
  const char *auth = sep + 3;
  const char *at = memchr(auth, '@', (size_t)(end - auth));
  const char *host = at != NULL ? at + 1 : auth; /* userinfo is not origin */
  const char *port = NULL, *hend = end;
  if (*host == '[') { /* [IPv6] */
    const char *close = memchr(host, ']', (size_t)(end - host));
    if (close == NULL)
      return -1;
    hend = close + 1;
    if (hend < end && *hend == ':')
      port = hend + 1;
  } else {
    const char *colon = memchr(host, ':', (size_t)(end - host));
    if (colon != NULL) {
      hend = colon;
      port = colon + 1;
    }
  }
  if (hend == host)
    return -1;
  size_t n = 0, slen = (size_t)(sep - url), hlen = (size_t)(hend - host);
  if (slen + 3 + hlen + 7 > cap)
    return -1;
  for (size_t i = 0; i < slen; i++)
    out[n++] = lower(url[i]);
  memcpy(out + n, "://", 3);
  n += 3;
  for (size_t i = 0; i < hlen; i++)
    out[n++] = lower(host[i]);
  unsigned pv = 0;
  if (port != NULL && port < end) {
    if (parse_uint(port, (size_t)(end - port), 65535, &pv) != 0)
      return -1;
  } else if (slen == 5 && strncmp(out, "https", 5) == 0) {
    pv = 443;
  } else if (slen == 4 && strncmp(out, "http", 4) == 0) {
    pv = 80;
  }
  snprintf(out + n, cap - n, ":%u", pv);
  return 0;
}

const char *cli_shard_key(const char *url, cli_shard_by_t by,
                          const char *base_origin, char *buf, size_t cap,
                          size_t *len) {
  int home = 0;
  if (cli_shard_origin(url, buf, cap) != 0) {
    buf[0] = '\0'; /* not a URL: the whole text is its own key */
    if (by == CLI_SHARD_BY_HOST) {
      *len = strlen(url);
      return url;
    }
  } else {
    home = base_origin != NULL && base_origin[0] != '\0' &&
           strcmp(buf, base_origin) == 0;
  }
  if (by == CLI_SHARD_BY_HOST) {
    *len = home ? 0 : strlen(buf);
    return home ? "" : buf;
  }
  const char *key = home ? origin_end(url) : url;
  *len = strlen(key);
  return key;
}

unsigned cli_shard_of(const char *url, cli_shard_by_t by,
                      const char *base_origin, unsigned count) {
  char buf[CLI_ORIGIN_MAX];
  size_t len;
  const char *k = cli_shard_key(url, by, base_origin, buf, sizeof(buf), &len);
  return count > 1 ? (unsigned)(cli_fnv1a64(k, len) % count) : 0;
}

/* splitmix64's finaliser: FNV's low bits alone are weak for a sum. */
static uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t cli_shard_digest_add(uint64_t digest, const char *url,
                              const char *base_origin) {
  char buf[CLI_ORIGIN_MAX];
  size_t len;
  const char *k =
      cli_shard_key(url, CLI_SHARD_BY_URL, base_origin, buf, sizeof(buf), &len);
  return digest + mix(cli_fnv1a64(k, len));
}

static const char *env(cli_getenv_fn fn, void *ctx, const char *name) {
  const char *v = fn != NULL ? fn(name, ctx) : NULL;
  return v != NULL && v[0] != '\0' ? v : NULL;
}

/* One SLURM_ARRAY_TASK_* variable as a number; absent gives dflt. */
static int slurm_var(cli_getenv_fn fn, void *ctx, const char *name,
                     unsigned dflt, int required, unsigned *out, char *err,
                     size_t errlen) {
  const char *v = env(fn, ctx, name);
  if (v == NULL && !required) {
    *out = dflt;
    return 0;
  }
  if (v == NULL)
    return fail(err, errlen,
                "SLURM_ARRAY_TASK_ID is set but %s is not: cannot tell the "
                "number of shards; give --shard=I/N",
                name);
  if (parse_uint(v, strlen(v), 4000000000u, out) != 0)
    return fail(err, errlen, "%s: '%.40s' is not a non-negative integer", name,
                v);
  return 0;
}

static int from_slurm(cli_shard_t *s, const char *id_s, unsigned shards,
                      cli_getenv_fn fn, void *ctx, char *err, size_t errlen) {
  unsigned id, n, min, step, max;
  if (slurm_var(fn, ctx, "SLURM_ARRAY_TASK_ID", 0, 1, &id, err, errlen) ||
      slurm_var(fn, ctx, "SLURM_ARRAY_TASK_COUNT", 0, 1, &n, err, errlen) ||
      slurm_var(fn, ctx, "SLURM_ARRAY_TASK_MIN", 0, 0, &min, err, errlen) ||
      slurm_var(fn, ctx, "SLURM_ARRAY_TASK_STEP", 1, 0, &step, err, errlen) ||
      slurm_var(fn, ctx, "SLURM_ARRAY_TASK_MAX", 0, 0, &max, err, errlen))
    return -1;
  int has_max = env(fn, ctx, "SLURM_ARRAY_TASK_MAX") != NULL;
  if (n == 0 || n > CLI_SHARD_MAX || step == 0)
    return fail(err, errlen,
                "SLURM_ARRAY_TASK_COUNT=%u, SLURM_ARRAY_TASK_STEP=%u: not a "
                "usable array",
                n, step);
  /* An array such as 1,3,9 is not evenly spaced: no index follows from
   * the task ID alone, so refuse rather than guess. */
  if (id < min || (id - min) % step != 0 || (id - min) / step >= n ||
      (has_max && (max < min || (max - min) / step + 1 != n ||
                   (max - min) % step != 0)))
    return fail(err, errlen,
                "the Slurm array (SLURM_ARRAY_TASK_ID=%u, _MIN=%u, _MAX=%s, "
                "_STEP=%u, _COUNT=%u) is not evenly spaced from its minimum: "
                "use --array=0-%u, or give --shard=I/N",
                id, min, has_max ? env(fn, ctx, "SLURM_ARRAY_TASK_MAX") : "?",
                step, n, n - 1);
  if (shards != 0 && shards != n)
    return fail(err, errlen,
                "--shards=%u, but the Slurm array has %u tasks "
                "(SLURM_ARRAY_TASK_COUNT)",
                shards, n);
  s->source = CLI_SHARD_SLURM;
  s->index = (id - min) / step;
  s->count = n;
  snprintf(s->why, sizeof(s->why),
           "SLURM_ARRAY_TASK_ID=%.20s of SLURM_ARRAY_TASK_COUNT=%u (min %u, "
           "step %u)",
           id_s, n, min, step);
  return 0;
}

int cli_shard_resolve(cli_shard_t *s, int given, unsigned index,
                      unsigned count, unsigned shards, cli_shard_by_t by,
                      cli_getenv_fn getenv_fn, void *ctx, char *err,
                      size_t errlen) {
  memset(s, 0, sizeof(*s));
  s->by = by;
  s->count = 1;
  if (given && shards != 0)
    return fail(err, errlen,
                "--shard and --shards: give one (--shards=N takes the index "
                "from the environment)");
  if (given) {
    s->source = CLI_SHARD_OPTION;
    s->index = index;
    s->count = count;
    snprintf(s->why, sizeof(s->why), "--shard=%u/%u", index, count);
    return 0;
  }
  const char *slurm = env(getenv_fn, ctx, "SLURM_ARRAY_TASK_ID");
  const char *k8s = env(getenv_fn, ctx, "JOB_COMPLETION_INDEX");
  if (k8s != NULL && shards != 0) {
    unsigned i;
    if (parse_uint(k8s, strlen(k8s), CLI_SHARD_MAX, &i) != 0 || i >= shards)
      return fail(err, errlen,
                  "JOB_COMPLETION_INDEX='%.40s' is not an integer in 0..%u "
                  "(--shards=%u)",
                  k8s, shards - 1, shards);
    s->source = CLI_SHARD_K8S;
    s->index = i;
    s->count = shards;
    snprintf(s->why, sizeof(s->why), "JOB_COMPLETION_INDEX=%u with --shards=%u",
             i, shards);
    return 0;
  }
  if (slurm != NULL)
    return from_slurm(s, slurm, shards, getenv_fn, ctx, err, errlen);
  if (shards != 0)
    return fail(err, errlen,
                "--shards=%u: neither JOB_COMPLETION_INDEX nor "
                "SLURM_ARRAY_TASK_ID is set, so nothing says which shard "
                "this is; give --shard=I/N",
                shards);
  if (k8s != NULL) /* an Indexed Job that forgot --shards: say so */
    snprintf(s->why, sizeof(s->why),
             "JOB_COMPLETION_INDEX is set but --shards is not: running the "
             "whole list");
  return 0;
}

int cli_shard_has(const cli_shard_t *s, const char *url) {
  if (s->source == CLI_SHARD_NONE || s->count <= 1)
    return 1;
  return cli_shard_of(url, s->by, s->origin, s->count) == s->index;
}

/* s as a JSON string: the characters JSON needs escaped, escaped. */
static size_t json_text(char *out, size_t cap, const char *s) {
  size_t n = 0;
  for (; *s != '\0' && n + 8 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      n += (size_t)snprintf(out + n, cap - n, "\\%c", c);
    else if (c < 0x20 || c >= 0x7f) /* an origin is ASCII: never here */
      n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
    else
      out[n++] = (char)c;
  }
  out[n] = '\0';
  return n;
}

int cli_shard_json(const cli_shard_t *s, uint64_t urls, uint64_t list_urls,
                   uint64_t digest, char *out, size_t cap) {
  char from[sizeof(s->why) * 6 + 8], origin[CLI_ORIGIN_MAX * 6 + 8];
  json_text(from, sizeof(from), s->why);
  json_text(origin, sizeof(origin), s->origin);
  int n = snprintf(out, cap,
                   "{\"index\": %u, \"count\": %u, \"by\": \"%s\", "
                   "\"source\": \"%s\", \"from\": \"%s\", \"urls\": %" PRIu64
                   ", \"list_urls\": %" PRIu64 ", \"list_digest\": \"%016" PRIx64
                   "\", \"base_origin\": \"%s\"}",
                   s->index, s->count, cli_shard_by_name(s->by),
                   cli_shard_source_name(s->source), from, urls, list_urls,
                   digest, origin);
  return n > 0 && (size_t)n < cap ? 0 : -1;
}
