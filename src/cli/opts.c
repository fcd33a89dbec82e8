/* Option parsing for the asyncdl tool. Every value is checked strictly here
 * so that the rest of the tool can trust cli_opts_t: a typo must fail with a
 * message naming the option, never silently become 0 or a default. */
#include "opts.h"

#include "url.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum {
  OPT_STRATEGY = 256, /* above any short option character */
  OPT_CONNECTIONS,
  OPT_BASE_URL,
  OPT_LIST,
  OPT_OUT,
  OPT_REPEAT,
  OPT_JSON,
  OPT_DNS_SERVER,
  OPT_TIMEOUT,
  OPT_CONNECT_TIMEOUT,
  OPT_LOCAL,
  OPT_HTTP2,
  OPT_HTTP2_PK,
  OPT_STREAMS,
  OPT_NO_COMPRESS,
  OPT_PROXY,
  OPT_SKIP_EXISTING,
  OPT_UPDATE,
  OPT_RTT,
  OPT_CACERT,
  OPT_RETRIES,
  OPT_MAX_SIZE,
  OPT_MAX_REDIRECTS,
  OPT_PER_HOST,
  OPT_WATERFALL,
  OPT_HAR,
  OPT_PROGRESS,
  OPT_NO_PROGRESS,
  OPT_SHARD,
  OPT_SHARDS,
  OPT_SHARD_BY,
};

static const struct option long_opts[] = {
    {"strategy", required_argument, NULL, OPT_STRATEGY},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"per-host", required_argument, NULL, OPT_PER_HOST},
    {"base-url", required_argument, NULL, OPT_BASE_URL},
    {"list", required_argument, NULL, OPT_LIST},
    {"out", required_argument, NULL, OPT_OUT},
    {"repeat", required_argument, NULL, OPT_REPEAT},
    {"json", required_argument, NULL, OPT_JSON},
    {"dns-server", required_argument, NULL, OPT_DNS_SERVER},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {"connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT},
    {"local", no_argument, NULL, OPT_LOCAL},
    {"http2", no_argument, NULL, OPT_HTTP2},
    {"http2-prior-knowledge", no_argument, NULL, OPT_HTTP2_PK},
    {"streams", required_argument, NULL, OPT_STREAMS},
    {"no-compress", no_argument, NULL, OPT_NO_COMPRESS},
    {"header", required_argument, NULL, 'H'},
    {"user-agent", required_argument, NULL, 'A'},
    {"proxy", required_argument, NULL, OPT_PROXY},
    {"skip-existing", no_argument, NULL, OPT_SKIP_EXISTING},
    {"update", no_argument, NULL, OPT_UPDATE},
    {"rtt", required_argument, NULL, OPT_RTT},
    {"cacert", required_argument, NULL, OPT_CACERT},
    {"insecure", no_argument, NULL, 'k'},
    {"retries", required_argument, NULL, OPT_RETRIES},
    {"max-size", required_argument, NULL, OPT_MAX_SIZE},
    {"max-redirects", required_argument, NULL, OPT_MAX_REDIRECTS},
    {"waterfall", required_argument, NULL, OPT_WATERFALL},
    {"har", required_argument, NULL, OPT_HAR},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"shard", required_argument, NULL, OPT_SHARD},
    {"shards", required_argument, NULL, OPT_SHARDS},
    {"shard-by", required_argument, NULL, OPT_SHARD_BY},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/* '+': stop at each operand instead of permuting argv (the parser collects
 * it and goes on); ':': report a missing argument as ':' and print
 * nothing. */
static const char short_opts[] = "+:hVqkH:A:";

#define MAX_SECONDS 86400u

void cli_opts_init(cli_opts_t *o) {
  memset(o, 0, sizeof(*o));
  o->strategy_all = 1;
  o->strategy = ADL_STRATEGY_PARALLEL;
  o->connections = CLI_DEFAULT_CONNECTIONS;
  o->base_url = CLI_DEFAULT_BASE_URL;
  o->repeat = CLI_DEFAULT_REPEAT;
  o->progress = -1;
  o->timeout_ms = CLI_DEFAULT_TIMEOUT_MS;
  o->connect_timeout_ms = CLI_DEFAULT_CONNECT_TIMEOUT_MS;
  o->rtt_ms = CLI_DEFAULT_RTT_MS;
  o->retries = CLI_DEFAULT_RETRIES;
  o->max_redirects = CLI_DEFAULT_MAX_REDIRECTS;
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen,
                                                      const char *fmt, ...) {
  if (err != NULL && errlen > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* "--name" for an option value as returned by getopt_long. */
static const char *opt_name(int val, char *buf, size_t cap) {
  for (const struct option *p = long_opts; p->name != NULL; p++) {
    if (p->val == val) {
      snprintf(buf, cap, "--%s", p->name);
      return buf;
    }
  }
  snprintf(buf, cap, "-%c", val > 32 && val < 127 ? val : '?');
  return buf;
}

/* Digits only: no sign, no blanks, no base prefix, no overflow. */
static int parse_u64(const char *s, uint64_t *out) {
  uint64_t v = 0;
  if (*s == '\0')
    return -1;
  for (; *s != '\0'; s++) {
    if (*s < '0' || *s > '9')
      return -1;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -1;
    v = v * 10 + d;
  }
  *out = v;
  return 0;
}

static int opt_uint(const char *name, const char *s, unsigned min, unsigned max,
                    unsigned *out, char *err, size_t errlen) {
  uint64_t v;
  char q[64];
  if (parse_u64(s, &v) != 0 || v < min || v > max) {
    cli_quote(q, sizeof(q), s, strlen(s));
    return fail(err, errlen, "%s: '%s' is not an integer in %u..%u", name, q,
                min, max);
  }
  *out = (unsigned)v;
  return 0;
}

/* Seconds with an optional fraction ("2", "0.25", ".5") into milliseconds,
 * without strtod so that neither the locale nor "1e3"/"inf"/"0x10" can slip
 * in. Sub-millisecond remainders round up so that "0.0001" is not 0. */
static int opt_seconds(const char *name, const char *s, uint64_t *out_ms,
                       char *err, size_t errlen) {
  const char *p = s;
  uint64_t whole = 0, frac_ms = 0;
  int digits = 0, round_up = 0;
  for (; *p >= '0' && *p <= '9'; p++, digits++) {
    if (whole <= MAX_SECONDS) /* saturates past the limit: no overflow */
      whole = whole * 10 + (uint64_t)(*p - '0');
  }
  if (*p == '.') {
    unsigned scale = 100;
    for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
      if (scale > 0)
        frac_ms += (uint64_t)(*p - '0') * scale;
      else if (*p != '0')
        round_up = 1;
      scale /= 10;
    }
  }
  uint64_t ms = whole * 1000 + frac_ms + (uint64_t)round_up;
  if (*p != '\0' || digits == 0 || ms == 0 || ms > MAX_SECONDS * 1000ull) {
    char q[64];
    cli_quote(q, sizeof(q), s, strlen(s));
    return fail(err, errlen,
                "%s: '%s' is not a number of seconds in (0, %u], e.g. 2.5",
                name, q, MAX_SECONDS);
  }
  *out_ms = ms;
  return 0;
}

/* A byte count with an optional 1024-based K, M or G suffix. */
static int opt_size(const char *name, const char *s, uint64_t *out, char *err,
                    size_t errlen) {
  char num[32], q[64];
  size_t len = strlen(s);
  unsigned shift = 0;
  if (len > 0) {
    switch (s[len - 1]) {
    case 'k':
    case 'K':
      shift = 10;
      break;
    case 'm':
    case 'M':
      shift = 20;
      break;
    case 'g':
    case 'G':
      shift = 30;
      break;
    default:
      break;
    }
  }
  if (shift != 0)
    len--;
  uint64_t v;
  cli_quote(q, sizeof(q), s, strlen(s));
  if (len == 0 || len >= sizeof(num))
    goto bad;
  memcpy(num, s, len);
  num[len] = '\0';
  if (parse_u64(num, &v) != 0)
    goto bad;
  if (v > (UINT64_MAX >> shift))
    return fail(err, errlen, "%s: '%s' is too large", name, q);
  *out = v << shift;
  return 0;
bad:
  return fail(err, errlen,
              "%s: '%s' is not a byte count such as 500000, 512K, 10M or 1G",
              name, q);
}

/* One "IP[:PORT]" entry of --dns-server (c-ares' server list syntax):
 * dotted IPv4, bare IPv6, or [IPv6] when a port follows. */
static int dns_entry_ok(const char *e, size_t len, const char **why) {
  const char *end = e + len, *host = e, *hend = end, *port = NULL;
  int family = AF_INET;
  unsigned char addr[16];
  char buf[64];
  *why = "is not IP[:PORT] (write an IPv6 address with a port as [IP]:PORT)";
  if (len > 0 && e[0] == '[') {
    const char *close = memchr(e, ']', len);
    if (close == NULL)
      return 0;
    host = e + 1;
    hend = close;
    family = AF_INET6;
    if (close + 1 < end) {
      if (close[1] != ':')
        return 0;
      port = close + 2;
    }
  } else {
    const char *c1 = memchr(e, ':', len);
    if (c1 != NULL && memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) != NULL)
      family = AF_INET6; /* two colons or more: a bare IPv6 address */
    else if (c1 != NULL) {
      hend = c1;
      port = c1 + 1;
    }
  }
  size_t hlen = (size_t)(hend - host);
  if (hlen == 0 || hlen >= sizeof(buf))
    return 0;
  memcpy(buf, host, hlen);
  buf[hlen] = '\0';
  if (inet_pton(family, buf, addr) != 1)
    return 0;
  if (port != NULL) {
    size_t plen = (size_t)(end - port);
    uint64_t pv;
    *why = "has a port outside 1..65535";
    if (plen == 0 || plen > 5)
      return 0;
    memcpy(buf, port, plen);
    buf[plen] = '\0';
    if (parse_u64(buf, &pv) != 0 || pv < 1 || pv > 65535)
      return 0;
  }
  return 1;
}

static int opt_dns(const char *name, const char *s, char *err, size_t errlen) {
  const char *p = s;
  if (*s == '\0')
    return fail(err, errlen, "%s: the value must not be empty", name);
  for (;;) {
    const char *comma = strchr(p, ',');
    size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
    const char *why;
    if (!dns_entry_ok(p, len, &why)) {
      char q[64], all[64];
      cli_quote(q, sizeof(q), p, len);
      if (len == 0) {
        cli_quote(all, sizeof(all), s, strlen(s));
        return fail(err, errlen, "%s: empty entry in '%s'", name, all);
      }
      return fail(err, errlen, "%s: '%s' %s", name, q, why);
    }
    if (comma == NULL)
      return 0;
    p = comma + 1;
  }
}

/* A value that must not be empty: a path or a URL. */
static int opt_nonempty(const char *name, const char *s, const char **out,
                        char *err, size_t errlen) {
  if (*s == '\0')
    return fail(err, errlen, "%s: the value must not be empty", name);
  *out = s;
  return 0;
}

static int opt_base_url(const char *name, const char *s, const char **out,
                        char *err, size_t errlen) {
  char why[200];
  if (cli_url_check(s, why, sizeof(why)) != 0)
    return fail(err, errlen, "%s: %s", name, why);
  if (strpbrk(s, "?#") != NULL) {
    char q[64];
    cli_quote(q, sizeof(q), s, strlen(s));
    return fail(err, errlen,
                "%s: '%s' must not have a query or fragment: names are "
                "appended to it",
                name, q);
  }
  *out = s;
  return 0;
}

/* ---- request options and operands (issue 10) ---------------------------- */

/* RFC 9110 tchar: what a header name is made of. */
static int is_tchar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') ||
         (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int has_control(const char *s) {
  for (; *s != '\0'; s++)
    if (((unsigned char)*s < 0x20 && *s != '\t') || *s == 0x7F)
      return 1;
  return 0;
}

/* -H "Name: value". A value may be a secret (a token): messages quote the
 * name only, never the value. */
static int opt_header(cli_opts_t *o, const char *name, const char *s,
                      char *err, size_t errlen) {
  char q[64];
  const char *colon = strchr(s, ':');
  size_t nlen = colon != NULL ? (size_t)(colon - s) : strcspn(s, " \t");
  cli_quote(q, sizeof(q), s, nlen < 40 ? nlen : 40);
  if (colon == NULL)
    return fail(err, errlen,
                "%s: the header starting '%s' has no ':' (write 'Name: "
                "value', or 'Name:' to remove a header)",
                name, q);
  if (nlen == 0)
    return fail(err, errlen, "%s: a header needs a name before ':'", name);
  for (size_t i = 0; i < nlen; i++)
    if (!is_tchar((unsigned char)s[i]))
      return fail(err, errlen,
                  "%s: '%s' is not a header name (letters, digits and "
                  "!#$%%&'*+-.^_`|~ only)",
                  name, q);
  if (has_control(colon + 1))
    return fail(err, errlen,
                "%s: the value of '%s' holds a control character (one "
                "header per -H)",
                name, q);
  if (o->nheaders >= CLI_MAX_HEADERS)
    return fail(err, errlen, "%s: more than %u headers", name,
                CLI_MAX_HEADERS);
  o->headers[o->nheaders++] = s;
  o->headers[o->nheaders] = NULL;
  return 0;
}

static int opt_user_agent(cli_opts_t *o, const char *name, const char *s,
                          char *err, size_t errlen) {
  char q[64];
  if (*s == '\0')
    return fail(err, errlen,
                "%s: the value must not be empty (-H 'User-Agent:' sends "
                "none)",
                name);
  if (has_control(s)) {
    cli_quote(q, sizeof(q), s, strlen(s));
    return fail(err, errlen, "%s: '%s' holds a control character", name, q);
  }
  o->user_agent = s;
  return 0;
}

static int opt_proxy(cli_opts_t *o, const char *name, const char *s,
                     char *err, size_t errlen) {
  char why[300];
  if (*s == '\0')
    return fail(err, errlen, "%s: the value must not be empty", name);
  if (strcmp(s, "env") == 0) {
    o->proxy = NULL;
    o->proxy_env = 1;
    return 0;
  }
  if (cli_proxy_check(s, why, sizeof(why)) != 0)
    return fail(err, errlen, "%s: %s (or 'env' for the environment's)", name,
                why);
  o->proxy = s;
  o->proxy_env = 0;
  return 0;
}

/* An operand: a URL or a name, checked like a list line. */
static int add_operand(cli_opts_t *o, int argc, const char *s, char *err,
                       size_t errlen) {
  char why[300];
  unsigned n = o->noperands + 1;
  if (strcmp(s, "-") == 0)
    return fail(err, errlen,
                "argument '-': to read names or URLs from stdin, use "
                "--list=-");
  if (*s == '\0')
    return fail(err, errlen, "argument %u is empty", n);
  if ((strstr(s, "://") != NULL ? cli_url_check(s, why, sizeof(why))
                                : cli_name_check(s, why, sizeof(why))) != 0)
    return fail(err, errlen, "argument %u: %s", n, why);
  if (o->operands == NULL &&
      (o->operands = calloc((size_t)argc, sizeof(*o->operands))) == NULL)
    return fail(err, errlen, "out of memory");
  o->operands[o->noperands++] = s;
  return 0;
}

/* Options that only make sense together, checked once all are known. */
static int check_issue10(const cli_opts_t *o, int saw_streams, char *err,
                         size_t errlen) {
  if (o->noperands > 0 && o->list_path != NULL)
    return fail(err, errlen,
                "give the URLs or names as arguments or with --list, not "
                "both");
  if (o->skip_existing && o->update)
    return fail(err, errlen,
                "--skip-existing and --update cannot be combined: one skips "
                "the files already there, the other revalidates them");
  if ((o->skip_existing || o->update) && o->out_dir == NULL)
    return fail(err, errlen, "%s: needs --out, where the files are",
                o->update ? "--update" : "--skip-existing");
  if (saw_streams && !o->strategy_all &&
      o->strategy != ADL_STRATEGY_MULTIPLEX)
    return fail(err, errlen,
                "--streams: only meaningful with --strategy=multiplex or "
                "all");
  return 0;
}

void cli_opts_free(cli_opts_t *o) {
  free(o->operands);
  o->operands = NULL;
  o->noperands = 0;
}

static int opt_strategy(cli_opts_t *o, const char *name, const char *s,
                        char *err, size_t errlen) {
  if (strcmp(s, "all") == 0) {
    o->strategy_all = 1;
    return 0;
  }
  if (adl_strategy_parse(s, &o->strategy) != 0) {
    char q[64];
    cli_quote(q, sizeof(q), s, strlen(s));
    return fail(err, errlen,
                "%s: '%s' is not one of serial, session, parallel, multiplex, all",
                name,
                q);
  }
  o->strategy_all = 0;
  return 0;
}

/* --shard=I/N, --shards=N, --shard-by=url|host (src/cli/shard.h). */
static int opt_shard(cli_opts_t *o, int c, const char *name, const char *s,
                     char *err, size_t errlen) {
  char q[64], why[160];
  cli_quote(q, sizeof(q), s, strlen(s));
  if (c == OPT_SHARDS)
    return opt_uint(name, s, 1, CLI_SHARD_MAX, &o->shards, err, errlen);
  if (c == OPT_SHARD_BY) {
    if (cli_shard_by_parse(s, &o->shard_by) != 0)
      return fail(err, errlen, "%s: '%s' is not one of url, host", name, q);
    return 0;
  }
  if (cli_shard_parse(s, &o->shard_index, &o->shard_count, why,
                      sizeof(why)) != 0)
    return fail(err, errlen, "%s: '%s' %s", name, q, why);
  o->shard_given = 1;
  return 0;
}

static int is_long_val(int val) {
  for (const struct option *p = long_opts; p->name != NULL; p++)
    if (p->val == val)
      return 1;
  return 0;
}

/* getopt reported '?' or ':'; turn it into our own one-line message. */
static int getopt_error(int c, int argc, char **argv, char *err,
                        size_t errlen) {
  char nb[40], q[64], cand[160] = "";
  if (c == ':')
    return fail(err, errlen, "%s: a value is required",
                opt_name(optopt, nb, sizeof(nb)));
  /* Only "--flag=value" makes getopt reject one of our own options. */
  if (optopt != 0 && is_long_val(optopt))
    return fail(err, errlen, "%s: the option takes no value",
                opt_name(optopt, nb, sizeof(nb)));
  if (optopt != 0)
    return fail(err, errlen, "unknown option '-%c'",
                optopt > 32 && optopt < 127 ? optopt : '?');
  /* An unknown or ambiguous long option, left at argv[optind - 1]. */
  const char *arg = optind > 0 && optind <= argc ? argv[optind - 1] : "";
  size_t len = strcspn(arg, "=");
  cli_quote(q, sizeof(q), arg, len);
  if (len > 2 && strncmp(arg, "--", 2) == 0) {
    for (const struct option *p = long_opts; p->name != NULL; p++) {
      if (strncmp(p->name, arg + 2, len - 2) == 0 &&
          strlen(cand) + strlen(p->name) + 5 < sizeof(cand)) {
        strcat(cand, cand[0] != '\0' ? ", --" : "--");
        strcat(cand, p->name);
      }
    }
  }
  if (cand[0] != '\0')
    return fail(err, errlen, "ambiguous option '%s': could be %s", q, cand);
  return fail(err, errlen, "unknown option '%s'", q);
}

int cli_opts_parse(cli_opts_t *o, int argc, char **argv, char *err,
                   size_t errlen) {
  int saved_opterr = opterr, rc = 0, saw_rtt = 0, saw_base = 0;
  int saw_streams = 0;
  char nb[40];
  if (err != NULL && errlen > 0)
    err[0] = '\0';
  opterr = 0;
  optind = 0; /* 0, not 1: glibc then also forgets a half-scanned "-qk" */
  for (;;) {
    int idx = -1, at = optind > 0 ? optind : 1;
    int c = getopt_long(argc, argv, short_opts, long_opts, &idx);
    if (c == -1) {
      if (optind >= argc)
        break;
      /* An operand; after "--" (just skipped), every argument is one. */
      int rest = optind == at + 1 && strcmp(argv[at], "--") == 0;
      do
        rc = add_operand(o, argc, argv[optind++], err, errlen);
      while (rc == 0 && rest && optind < argc);
      if (rc != 0)
        goto out;
      if (rest)
        break;
      continue;
    }
    const char *name = opt_name(c, nb, sizeof(nb));
    const char *a = optarg;
    switch (c) {
    case 'h':
      o->help = 1;
      goto out;
    case 'V':
      o->version = 1;
      goto out;
    case 'q':
      o->quiet = 1;
      break;
    case 'k':
      o->insecure = 1;
      break;
    case OPT_LOCAL:
      o->local = 1;
      break;
    case OPT_HTTP2:
      o->http2 = 1;
      break;
    case OPT_HTTP2_PK:
      o->h2_prior_knowledge = 1;
      break;
    case OPT_STREAMS:
      rc = opt_uint(name, a, 1, 1000, &o->max_streams, err, errlen);
      saw_streams = 1;
      break;
    case OPT_NO_COMPRESS:
      o->no_compress = 1;
      break;
    case 'H':
      rc = opt_header(o, name, a, err, errlen);
      break;
    case 'A':
      rc = opt_user_agent(o, name, a, err, errlen);
      break;
    case OPT_PROXY:
      rc = opt_proxy(o, name, a, err, errlen);
      break;
    case OPT_SKIP_EXISTING:
      o->skip_existing = 1;
      break;
    case OPT_UPDATE:
      o->update = 1;
      break;
    case OPT_STRATEGY:
      rc = opt_strategy(o, name, a, err, errlen);
      break;
    case OPT_CONNECTIONS:
      rc = opt_uint(name, a, 1, 10000, &o->connections, err, errlen);
      break;
    case OPT_PER_HOST:
      rc = opt_uint(name, a, 0, 10000, &o->per_host, err, errlen);
      break;
    case OPT_REPEAT:
      rc = opt_uint(name, a, 1, 1000, &o->repeat, err, errlen);
      break;
    case OPT_RTT:
      rc = opt_uint(name, a, 0, 10000, &o->rtt_ms, err, errlen);
      saw_rtt = 1;
      break;
    case OPT_RETRIES:
      rc = opt_uint(name, a, 0, 100, &o->retries, err, errlen);
      break;
    case OPT_MAX_REDIRECTS:
      rc = opt_uint(name, a, 0, 63, &o->max_redirects, err, errlen);
      break;
    case OPT_TIMEOUT:
      rc = opt_seconds(name, a, &o->timeout_ms, err, errlen);
      break;
    case OPT_CONNECT_TIMEOUT:
      rc = opt_seconds(name, a, &o->connect_timeout_ms, err, errlen);
      break;
    case OPT_MAX_SIZE:
      rc = opt_size(name, a, &o->max_size, err, errlen);
      break;
    case OPT_DNS_SERVER:
      if ((rc = opt_dns(name, a, err, errlen)) == 0)
        o->dns_server = a;
      break;
    case OPT_BASE_URL:
      rc = opt_base_url(name, a, &o->base_url, err, errlen);
      saw_base = 1;
      break;
    case OPT_LIST:
      rc = opt_nonempty(name, a, &o->list_path, err, errlen);
      break;
    case OPT_OUT:
      rc = opt_nonempty(name, a, &o->out_dir, err, errlen);
      break;
    case OPT_JSON:
      rc = opt_nonempty(name, a, &o->json_path, err, errlen);
      break;
    case OPT_WATERFALL:
      rc = opt_nonempty(name, a, &o->waterfall_path, err, errlen);
      break;
    case OPT_HAR:
      rc = opt_nonempty(name, a, &o->har_path, err, errlen);
      break;
    case OPT_PROGRESS:
      o->progress = 1;
      break;
    case OPT_NO_PROGRESS:
      o->progress = 0;
      break;
    case OPT_CACERT:
      rc = opt_nonempty(name, a, &o->cacert, err, errlen);
      break;
    case OPT_SHARD:
    case OPT_SHARDS:
    case OPT_SHARD_BY:
      rc = opt_shard(o, c, name, a, err, errlen);
      break;
    default:
      rc = getopt_error(c, argc, argv, err, errlen);
      break;
    }
    if (rc != 0)
      goto out;
  }
  if (saw_rtt && !o->local) {
    rc = fail(err, errlen, "--rtt: only meaningful with --local");
  } else if (saw_base && o->local) {
    rc = fail(err, errlen,
              "--base-url: cannot be combined with --local, "
              "which serves its own base URL");
  } else {
    rc = check_issue10(o, saw_streams, err, errlen);
  }
out:
  opterr = saved_opterr;
  return rc;
}

void cli_usage(FILE *f) {
  fputs(
      "Usage: asyncdl [OPTION]... [URL|NAME]...\n"
      "  or:  asyncdl merge REPORT.json... [--json=FILE]\n"
      "Download a list of PokeAPI-style pokemon JSON documents with one or\n"
      "more strategies and compare their wall-clock times. merge combines\n"
      "the --json reports of a sharded run's shards into one table and one\n"
      "report: counts, bytes and latency histograms add up.\n"
      "\n"
      "Strategies:\n"
      "  --strategy=NAME      serial: one at a time, a new connection and DNS\n"
      "                         lookup for each; session: one at a time over\n"
      "                         one kept-alive connection; parallel: K at "
      "once\n"
      "                         over a pool; multiplex: every request an\n"
      "                         HTTP/2 stream of one connection per origin\n"
      "                         (parallel when the server has no HTTP/2);\n"
      "                         all: each in turn, multiplex only when the\n"
      "                         server speaks HTTP/2 (default: all)\n"
      "  --connections=K      parallel: requests in flight and open\n"
      "                         connections, 1..10000 (default: 6)\n"
      "  --per-host=N         parallel: at most N of them per origin\n"
      "                         (scheme, host, port); 0 = K (default: 0)\n"
      "  --streams=N          multiplex: streams at once per connection,\n"
      "                         1..1000, fewer if the server says so\n"
      "                         (default: 100)\n"
      "  --repeat=R           runs per strategy, 1..1000; the run with the\n"
      "                         median wall time is reported (default: 1)\n"
      "\n"
      "Input and output:\n"
      "  URL|NAME...          what to fetch, given as arguments instead of\n"
      "                         --list (same rules as a list line)\n"
      "  --list=FILE          names or URLs, one per line; '-' reads stdin\n"
      "                         (default: the 151 first-generation pokemon)\n"
      "  --base-url=URL       http(s) prefix each name is appended to\n"
      "                         (default: " CLI_DEFAULT_BASE_URL ")\n"
      "  --out=DIR            save each document as DIR/NAME.json\n"
      "                         (default: bodies are counted, not kept)\n"
      "  --skip-existing      with --out: skip documents whose file is there\n"
      "                         already (no request; reported as skipped)\n"
      "  --update             with --out: revalidate the files already there\n"
      "                         (If-None-Match/If-Modified-Since from\n"
      "                         DIR/.asyncdl/NAME.json.validators); 304 = not\n"
      "                         modified, the file is left untouched\n"
      "  --json=FILE          also write a JSON report to FILE; '-' = stdout\n"
      "  --waterfall=FILE     also draw every run as a network waterfall (SVG)\n"
      "  --har=FILE           also write every request as an HTTP Archive 1.2\n"
      "  --progress           a live progress line on stderr even when it is\n"
      "                         not a terminal (default: only on a terminal)\n"
      "  --no-progress        no live progress line\n"
      "  -q, --quiet          no progress at all (failures are still shown)\n"
      "\n"
      "Sharding (docs/sharding.md):\n"
      "  --shard=I/N          fetch only shard I of N (0 <= I < N) of the\n"
      "                         list, by a fixed hash (FNV-1a 64) of each URL\n"
      "                         (default: SLURM_ARRAY_TASK_ID and\n"
      "                         SLURM_ARRAY_TASK_COUNT when set)\n"
      "  --shards=N           N shards, this one's index from\n"
      "                         JOB_COMPLETION_INDEX (a Kubernetes Indexed\n"
      "                         Job) or the Slurm array task\n"
      "  --shard-by=KEY       url: each URL hashed alone; host: each origin\n"
      "                         (scheme, host, port) whole in one shard\n"
      "                         (default: url)\n"
      "\n",
      f);
  /* In pieces: C99 only promises string literals of 4095 bytes. */
  fputs(
      "Network:\n"
      "  --timeout=S          limit per request in seconds, decimals allowed,\n"
      "                         up to 86400 (default: 30)\n"
      "  --connect-timeout=S  limit on TCP + TLS connect (default: 10)\n"
      "  --retries=N          extra attempts on retryable failures, 0..100\n"
      "                         (default: 2)\n"
      "  --max-redirects=N    redirects followed, 0..63 (default: 5)\n"
      "  --max-size=BYTES     abort larger bodies; K, M, G are 1024-based\n"
      "                         (default: 0 = unlimited)\n"
      "  --dns-server=LIST    comma-separated IP[:PORT] entries, IPv6 as\n"
      "                         [IP]:PORT (default: the system's resolvers)\n"
      "  --cacert=FILE        PEM CA bundle (default: the system store)\n"
      "  -k, --insecure       do not verify TLS certificates\n"
      "  --http2              offer HTTP/2 on https (ALPN), still one request\n"
      "                         per connection (default: HTTP/1.1, like\n"
      "                         requests and aiohttp)\n"
      "  --http2-prior-knowledge\n"
      "                       plain http: speak HTTP/2 at once, no upgrade\n"
      "                         (multiplex; with --http2, every strategy);\n"
      "                         --local does so for multiplex by itself\n"
      "  --no-compress        send no Accept-Encoding (default: ask for\n"
      "                         every coding libcurl decodes; files are\n"
      "                         saved decoded)\n"
      "  -H, --header=LINE    send 'Name: value' with every request\n"
      "                         (repeatable, up to 64; 'Name:' removes one)\n"
      "  -A, --user-agent=UA  User-Agent (default: asyncdl/VERSION)\n"
      "  --proxy=URL|env      use this proxy (http, https, socks4(a),\n"
      "                         socks5(h)); env: http_proxy, https_proxy,\n"
      "                         all_proxy and no_proxy like curl (default:\n"
      "                         none, the environment is ignored)\n"
      "\n"
      "Local benchmark:\n"
      "  --local              serve the documents from a built-in server on\n"
      "                         127.0.0.1 instead of the network\n"
      "  --rtt=MS             simulated round-trip time of that server,\n"
      "                         0..10000 (default: 20)\n"
      "\n"
      "  -h, --help           show this help and exit\n"
      "  -V, --version        show version information and exit\n"
      "\n"
      "List format: UTF-8 text; blank lines and lines starting with '#' are\n"
      "ignored; a line with \"://\" is a full http(s) URL, any other line a\n"
      "name such as 'pikachu' appended to the base URL. With --out, each\n"
      "document is saved as NAME.json, NAME being the name or the URL's last\n"
      "path segment; two lines that would share a file are an error.\n"
      "Credentials in a URL (user:password@) are sent, never printed:\n"
      "messages and reports show user:***@.\n"
      "\n"
      "Exit status:\n"
      "  0    every download succeeded\n"
      "  1    some URLs failed\n"
      "  2    usage error or bad input\n"
      "  3    internal error\n"
      "  130  interrupted by SIGINT (143: by SIGTERM)\n",
      f);
}
