/* asyncdl merge, loading: every report whole (jsonr.c), checked against
 * the others, each (strategy, repeat) run added up across the reports.
 * merge-out.c writes the table and the merged report. */
#include "merge-int.h"

#include "opts.h"
#include "report.h"
#include "url.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int cli_merge_fail(merge_t *m, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("asyncdl merge: ", m->msgs);
  vfprintf(m->msgs, fmt, ap);
  fputc('\n', m->msgs);
  va_end(ap);
  return code;
}

/* ---- loading ------------------------------------------------------------ */

static int read_all(merge_t *m, input_t *in, size_t *len) {
  char q[300];
  cli_quote(q, sizeof(q), in->path, strlen(in->path));
  FILE *f = fopen(in->path, "rb");
  if (f == NULL)
    return cli_merge_fail(m, CLI_EXIT_USAGE, "%s: %s", q, strerror(errno));
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (buf == NULL) {
      fclose(f);
      return cli_merge_fail(m, CLI_EXIT_INTERNAL, "%s: out of memory", q);
    }
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap)
      break;
    char *nb = cap < ((size_t)1 << 40) ? realloc(buf, cap * 2) : NULL;
    if (nb == NULL)
      free(buf);
    buf = nb;
    cap *= 2;
  }
  int rerr = ferror(f) ? errno : 0;
  fclose(f);
  in->text = buf;
  *len = n;
  if (rerr != 0)
    return cli_merge_fail(m, CLI_EXIT_USAGE, "%s: %s", q, strerror(rerr));
  return 0;
}

static int shard_meta(merge_t *m, input_t *in, const char *q) {
  cli_jdoc_t *d = in->doc;
  cli_jv_t s = in->shard;
  uint64_t index, count;
  const char *by = cli_jstr(d, cli_jget(d, s, "by"));
  const char *digest = cli_jstr(d, cli_jget(d, s, "list_digest"));
  in->origin = cli_jstr(d, cli_jget(d, s, "base_origin"));
  char *end = NULL;
  if (cli_ju64(d, cli_jget(d, s, "index"), &index) != 0 ||
      cli_ju64(d, cli_jget(d, s, "count"), &count) != 0 || count == 0 ||
      count > CLI_SHARD_MAX || index >= count || by == NULL ||
      cli_shard_by_parse(by, &in->by) != 0 ||
      cli_ju64(d, cli_jget(d, s, "urls"), &in->urls) != 0 ||
      cli_ju64(d, cli_jget(d, s, "list_urls"), &in->list_urls) != 0 ||
      in->origin == NULL || digest == NULL || strlen(digest) != 16 ||
      (in->digest = strtoull(digest, &end, 16), *end != '\0'))
    return cli_merge_fail(m, CLI_EXIT_USAGE,
                "%s: its \"shard\" member is not what --shard writes", q);
  in->index = (unsigned)index;
  in->count = (unsigned)count;
  return 0;
}

static int load(merge_t *m, input_t *in) {
  char q[300], err[300];
  size_t len = 0;
  cli_quote(q, sizeof(q), in->path, strlen(in->path));
  int rc = read_all(m, in, &len);
  if (rc != 0)
    return rc;
  in->doc = cli_jparse(in->text, len, err, sizeof(err));
  if (in->doc == NULL)
    return cli_merge_fail(m, strcmp(err, "out of memory") ? CLI_EXIT_USAGE
                                                : CLI_EXIT_INTERNAL,
                "%s: not JSON: %s", q, err);
  cli_jdoc_t *d = in->doc;
  cli_jv_t root = cli_jroot(d);
  const char *schema = cli_jstr(d, cli_jget(d, root, "schema"));
  if (schema == NULL || strcmp(schema, CLI_JSON_SCHEMA) != 0)
    return cli_merge_fail(m, CLI_EXIT_USAGE,
                "%s: not an asyncdl report of schema %s (--json writes one)",
                q, CLI_JSON_SCHEMA);
  in->runs = cli_jget(d, root, "runs");
  if (cli_jtype(d, in->runs) != CLI_JARR)
    return cli_merge_fail(m, CLI_EXIT_USAGE, "%s: no \"runs\" array", q);
  in->shard = cli_jget(d, root, "shard");
  if (cli_jtype(d, in->shard) == CLI_JOBJ)
    return shard_meta(m, in, q);
  in->shard = 0;
  return 0;
}

/* All shard reports or none; one N, one key, one list; each shard once. */
static int check_shards(merge_t *m) {
  input_t *a = &m->in[0];
  size_t with = 0;
  for (size_t i = 0; i < m->n; i++)
    with += m->in[i].shard != 0;
  if (with == 0)
    return 0;
  if (with != m->n) {
    size_t s = 0, u = 0;
    while (!m->in[s].shard)
      s++;
    while (m->in[u].shard)
      u++;
    return cli_merge_fail(m, CLI_EXIT_USAGE,
                "%s is a shard report and %s is not: merge the shards of one "
                "run",
                m->in[s].path, m->in[u].path);
  }
  m->sharded = 1;
  unsigned char *seen = calloc(a->count, 1);
  if (seen == NULL)
    return cli_merge_fail(m, CLI_EXIT_INTERNAL, "out of memory");
  uint64_t urls = 0;
  int rc = 0;
  for (size_t i = 0; i < m->n && rc == 0; i++) {
    input_t *b = &m->in[i];
    if (b->count != a->count || b->by != a->by ||
        b->list_urls != a->list_urls || b->digest != a->digest)
      rc = cli_merge_fail(m, CLI_EXIT_USAGE,
                "%s (shard %u/%u by %s, list of %" PRIu64
                " URLs) and %s (shard %u/%u by %s, list of %" PRIu64
                " URLs) are not shards of one list",
                a->path, a->index, a->count, cli_shard_by_name(a->by),
                a->list_urls, b->path, b->index, b->count,
                cli_shard_by_name(b->by), b->list_urls);
    else if (seen[b->index]++)
      rc = cli_merge_fail(m, CLI_EXIT_USAGE, "%s: shard %u/%u is given twice", b->path,
                b->index, b->count);
    urls += b->urls;
  }
  for (unsigned k = 0; rc == 0 && k < a->count; k++)
    if (!seen[k])
      rc = cli_merge_fail(m, CLI_EXIT_USAGE,
                "shard %u of %u is missing: give all %u shard reports", k,
                a->count, a->count);
  free(seen);
  if (rc == 0 && urls != a->list_urls)
    rc = cli_merge_fail(m, CLI_EXIT_USAGE,
              "the shards hold %" PRIu64 " URLs, the list %" PRIu64, urls,
              a->list_urls);
  return rc;
}

/* ---- one input's run into the merged run --------------------------------- */

typedef struct ctx_s {
  merge_t *m;
  input_t *in;
  cli_jdoc_t *d;
  char where[320]; /* "FILE: run parallel 2" */
} ctx_t;

static int need_u64(ctx_t *c, cli_jv_t o, const char *key, int ms,
                    uint64_t *out) {
  cli_jv_t v = cli_jget(c->d, o, key);
  if ((ms ? cli_jms_us(c->d, v, out) : cli_ju64(c->d, v, out)) != 0)
    return cli_merge_fail(c->m, CLI_EXIT_USAGE, "%s: summary.%s is missing or not %s",
                c->where, key,
                ms ? "milliseconds with at most 3 decimals"
                   : "a non-negative integer");
  return 0;
}

static int add_u64(uint64_t *sum, uint64_t v) {
  if (*sum > UINT64_MAX - v)
    return -1;
  *sum += v;
  return 0;
}

/* The histogram: its buckets must be buckets, add up to the requests, and
 * give the summary's own p50, p95 and max. */
static int load_hist(ctx_t *c, cli_jv_t s, const adl_summary_t *r,
                     adl__hist_t *h) {
  cli_jv_t lh = cli_jget(c->d, s, "latency_histogram");
  cli_jv_t bs = cli_jget(c->d, lh, "buckets");
  uint64_t count, max, sub;
  adl__hist_init(h);
  if (cli_jtype(c->d, bs) != CLI_JARR ||
      cli_ju64(c->d, cli_jget(c->d, lh, "count"), &count) != 0 ||
      cli_ju64(c->d, cli_jget(c->d, lh, "max_us"), &max) != 0 ||
      cli_ju64(c->d, cli_jget(c->d, lh, "sub_buckets"), &sub) != 0)
    return cli_merge_fail(c->m, CLI_EXIT_USAGE,
                "%s: summary.latency_histogram is missing or malformed "
                "(a report of asyncdl 0.2.0 or earlier has none)",
                c->where);
  if (sub != ADL_HIST_SUB)
    return cli_merge_fail(c->m, CLI_EXIT_USAGE,
                "%s: a histogram of %" PRIu64 " sub-buckets, not %d",
                c->where, sub, ADL_HIST_SUB);
  for (cli_jv_t b = cli_jfirst(c->d, bs); b != 0; b = cli_jnext(c->d, b)) {
    uint64_t up, n;
    cli_jv_t e = cli_jfirst(c->d, b);
    if (cli_jlen(c->d, b) != 2 || cli_ju64(c->d, e, &up) != 0 ||
        cli_ju64(c->d, cli_jnext(c->d, e), &n) != 0 ||
        adl__hist_upper(adl__hist_index(up)) != up ||
        adl__hist_add_bucket(h, adl__hist_index(up), n) != 0) {
      char w[64];
      cli_jwhere(c->d, b, w, sizeof(w));
      return cli_merge_fail(c->m, CLI_EXIT_USAGE,
                  "%s: histogram bucket at %s is not [upper_us, count] with "
                  "a bucket bound",
                  c->where, w);
    }
  }
  h->max = max;
  if (h->count != count || count != r->requests || max != r->max_us ||
      adl__hist_quantile(h, 0.50) != r->p50_us ||
      adl__hist_quantile(h, 0.95) != r->p95_us)
    return cli_merge_fail(c->m, CLI_EXIT_USAGE,
                "%s: the histogram (%" PRIu64 " samples, p50 %" PRIu64
                " us, p95 %" PRIu64 " us, max %" PRIu64
                " us) disagrees with the summary (%" PRIu64
                " requests, p50 %" PRIu64 " us, p95 %" PRIu64
                " us, max %" PRIu64 " us)",
                c->where, h->count, adl__hist_quantile(h, 0.50),
                adl__hist_quantile(h, 0.95), max, r->requests, r->p50_us,
                r->p95_us, r->max_us);
  return 0;
}

static int load_summary(ctx_t *c, cli_jv_t s, adl_summary_t *r) {
  memset(r, 0, sizeof(*r));
  if (cli_jtype(c->d, s) != CLI_JOBJ)
    return cli_merge_fail(c->m, CLI_EXIT_USAGE,
                "%s: the run was cut short (summary null): run the shard "
                "again",
                c->where);
  if (need_u64(c, s, "requests", 0, &r->requests) ||
      need_u64(c, s, "ok", 0, &r->ok) || need_u64(c, s, "failed", 0, &r->failed) ||
      need_u64(c, s, "bytes", 0, &r->bytes) ||
      need_u64(c, s, "connections_opened", 0, &r->connections) ||
      need_u64(c, s, "wall_ms", 1, &r->wall_us) ||
      need_u64(c, s, "dns_ms_total", 1, &r->dns_us_total) ||
      need_u64(c, s, "p50_ms", 1, &r->p50_us) ||
      need_u64(c, s, "p95_ms", 1, &r->p95_us) ||
      need_u64(c, s, "max_ms", 1, &r->max_us) ||
      need_u64(c, s, "disk_max_ms", 1, &r->disk_max_us))
    return CLI_EXIT_USAGE;
  if (r->ok > r->requests || r->requests - r->ok != r->failed)
    return cli_merge_fail(c->m, CLI_EXIT_USAGE, "%s: ok + failed is not requests",
                c->where);
  return 0;
}

static int push_key(merge_t *m, const char *key, size_t len, unsigned input) {
  if (m->nkeys == m->capkeys) {
    size_t cap = m->capkeys ? m->capkeys * 2 : 1024;
    ukey_t *nk = realloc(m->keys, cap * sizeof(*nk));
    if (nk == NULL)
      return -1;
    m->keys = nk;
    m->capkeys = cap;
  }
  m->keys[m->nkeys++] = (ukey_t){key, len, input};
  return 0;
}

/* Every item: a URL in this shard, counted; ok and bytes add up to the
 * summary's. */
static int load_items(ctx_t *c, cli_jv_t items, const adl_summary_t *r,
                      uint64_t *digest) {
  uint64_t n = 0, ok = 0, bytes = 0, skipped = 0;
  input_t *in = c->in;
  const char *origin = in->shard ? in->origin : "";
  for (cli_jv_t it = cli_jfirst(c->d, items); it != 0;
       it = cli_jnext(c->d, it), n++) {
    const char *url = cli_jstr(c->d, cli_jget(c->d, it, "url"));
    const char *outcome = cli_jstr(c->d, cli_jget(c->d, it, "outcome"));
    uint64_t b;
    if (url == NULL || outcome == NULL ||
        cli_ju64(c->d, cli_jget(c->d, it, "bytes"), &b) != 0 ||
        add_u64(&bytes, b) != 0)
      return cli_merge_fail(c->m, CLI_EXIT_USAGE,
                  "%s: item %" PRIu64 " has no url, outcome or bytes",
                  c->where, n + 1);
    /* The successes (report.c): fetched, or a 304 to a revalidation. A
     * target skipped as already there made no request: it is an item of
     * the shard, not one of the summary's requests. */
    ok += strcmp(outcome, "ok") == 0 || strcmp(outcome, "not_modified") == 0;
    skipped += strcmp(outcome, "skipped") == 0;
    char buf[CLI_ORIGIN_MAX], q[300];
    size_t len;
    const char *key = cli_shard_key(url, CLI_SHARD_BY_URL, origin, buf,
                                    sizeof(buf), &len);
    if (in->shard != 0) {
      unsigned s = cli_shard_of(url, in->by, origin, in->count);
      if (s != in->index) {
        cli_quote(q, sizeof(q), url, strlen(url));
        return cli_merge_fail(c->m, CLI_EXIT_USAGE,
                    "%s: %s belongs to shard %u/%u by %s, not this report's "
                    "%u",
                    c->where, q, s, in->count, cli_shard_by_name(in->by),
                    in->index);
      }
      *digest = cli_shard_digest_add(*digest, url, origin);
    }
    if (push_key(c->m, key, len, (unsigned)(in - c->m->in)) != 0)
      return cli_merge_fail(c->m, CLI_EXIT_INTERNAL, "out of memory");
  }
  if (n - skipped != r->requests || ok != r->ok || bytes != r->bytes)
    return cli_merge_fail(c->m, CLI_EXIT_USAGE,
                "%s: the items (%" PRIu64 ", %" PRIu64 " ok, %" PRIu64
                " bytes) disagree with the summary (%" PRIu64 ", %" PRIu64
                " ok, %" PRIu64 " bytes)",
                c->where, n - skipped, ok, bytes, r->requests, r->ok,
                r->bytes);
  if (in->shard != 0 && n != in->urls)
    return cli_merge_fail(c->m, CLI_EXIT_USAGE,
                "%s: %" PRIu64 " items for the shard's %" PRIu64 " URLs",
                c->where, n, in->urls);
  return 0;
}

const char *const cli_merge_note_keys[CLI_MERGE_NOTES] = {
    "wire_bytes", "skipped", "not_modified", "http2_responses"};

/* The feed's counters of one report's run, summed; a report of an older
 * asyncdl has none, and merging it with a newer one is refused below. */
static int add_notes(ctx_t *c, cli_jv_t s, mrun_t *mr) {
  for (unsigned k = 0; k < CLI_MERGE_NOTES; k++) {
    cli_jv_t v = cli_jget(c->d, s, cli_merge_note_keys[k]);
    uint64_t x;
    if (v == 0)
      continue;
    if (cli_ju64(c->d, v, &x) != 0 || add_u64(&mr->note[k], x) != 0)
      return cli_merge_fail(c->m, CLI_EXIT_USAGE,
                            "%s: summary.%s is not a non-negative integer",
                            c->where, cli_merge_note_keys[k]);
    mr->note_has[k]++;
  }
  cli_jv_t ran = cli_jget(c->d, s, "ran_as");
  if (ran != 0) {
    const char *r = cli_jstr(c->d, ran);
    mr->ran_as_has++;
    mr->ran_parallel |= r != NULL && strcmp(r, "parallel") == 0;
  }
  return 0;
}

static int add_run(merge_t *m, size_t i, mrun_t *mr, uint64_t *digest) {
  ctx_t c = {.m = m, .in = &m->in[i], .d = m->in[i].doc};
  cli_jv_t run = mr->src[i], s = cli_jget(c.d, run, "summary");
  char q[240];
  cli_quote(q, sizeof(q), c.in->path, strlen(c.in->path));
  snprintf(c.where, sizeof(c.where), "%s: run %s %u", q, mr->strategy,
           mr->repeat);
  adl_summary_t r;
  adl__hist_t *h = malloc(sizeof(*h));
  if (h == NULL)
    return cli_merge_fail(m, CLI_EXIT_INTERNAL, "out of memory");
  int rc = load_summary(&c, s, &r);
  if (rc == 0)
    rc = load_hist(&c, s, &r, h);
  if (rc == 0)
    rc = load_items(&c, cli_jget(c.d, run, "items"), &r, digest);
  if (rc == 0)
    rc = add_notes(&c, s, mr);
  if (rc == 0 && (add_u64(&mr->sum.requests, r.requests) ||
                  add_u64(&mr->sum.ok, r.ok) ||
                  add_u64(&mr->sum.failed, r.failed) ||
                  add_u64(&mr->sum.bytes, r.bytes) ||
                  add_u64(&mr->sum.connections, r.connections) ||
                  add_u64(&mr->sum.dns_us_total, r.dns_us_total) ||
                  adl__hist_merge(&mr->hist, h) != 0))
    rc = cli_merge_fail(m, CLI_EXIT_USAGE, "%s: the sums overflow", c.where);
  free(h);
  if (rc != 0)
    return rc;
  /* The shards ran side by side: the list took as long as the longest. */
  if (r.wall_us > mr->sum.wall_us)
    mr->sum.wall_us = r.wall_us;
  if (r.disk_max_us > mr->sum.disk_max_us)
    mr->sum.disk_max_us = r.disk_max_us;
  return 0;
}

static int cmp_key(const void *x, const void *y) {
  const ukey_t *a = x, *b = y;
  size_t n = a->len < b->len ? a->len : b->len;
  int c = memcmp(a->key, b->key, n);
  return c != 0 ? c : (a->len > b->len) - (a->len < b->len);
}

/* The merged run's URLs: none twice, and for shards the whole list. */
static int check_union(merge_t *m, const mrun_t *mr, uint64_t digest) {
  qsort(m->keys, m->nkeys, sizeof(*m->keys), cmp_key);
  for (size_t k = 1; k < m->nkeys; k++)
    if (cmp_key(&m->keys[k - 1], &m->keys[k]) == 0) {
      char q[300];
      cli_quote(q, sizeof(q), m->keys[k].key, m->keys[k].len);
      return cli_merge_fail(m, CLI_EXIT_USAGE, "run %s %u: '%s' is in %s and in %s",
                  mr->strategy, mr->repeat, q, m->in[m->keys[k - 1].input].path,
                  m->in[m->keys[k].input].path);
    }
  if (m->sharded && (m->nkeys != m->in[0].list_urls || digest != m->in[0].digest))
    return cli_merge_fail(m, CLI_EXIT_USAGE,
                "run %s %u: the shards' %zu URLs are not the list's %" PRIu64
                " (digest %016" PRIx64 ", the list's %016" PRIx64 ")",
                mr->strategy, mr->repeat, m->nkeys, m->in[0].list_urls, digest,
                m->in[0].digest);
  return 0;
}

/* The feed's counters are in every report's run or in none. */
static int check_notes(merge_t *m, const mrun_t *mr) {
  for (unsigned k = 0; k <= CLI_MERGE_NOTES; k++) {
    size_t has = k < CLI_MERGE_NOTES ? mr->note_has[k] : mr->ran_as_has;
    if (has != 0 && has != m->n)
      return cli_merge_fail(
          m, CLI_EXIT_USAGE,
          "run %s %u: %zu of the %zu reports have summary.%s: reports of "
          "different asyncdl versions",
          mr->strategy, mr->repeat, has, m->n,
          k < CLI_MERGE_NOTES ? cli_merge_note_keys[k] : "ran_as");
  }
  return 0;
}

/* The run of input i matching the first input's run at position pos. */
static cli_jv_t find_run(merge_t *m, size_t i, size_t pos, const char *st,
                         uint64_t rep) {
  cli_jdoc_t *d = m->in[i].doc;
  size_t k = 0;
  cli_jv_t hit = 0, same_pos = 0;
  for (cli_jv_t r = cli_jfirst(d, m->in[i].runs); r != 0;
       r = cli_jnext(d, r), k++) {
    const char *s = cli_jstr(d, cli_jget(d, r, "strategy"));
    uint64_t x;
    if (s != NULL && strcmp(s, st) == 0 &&
        cli_ju64(d, cli_jget(d, r, "repeat"), &x) == 0 && x == rep) {
      if (k == pos)
        same_pos = r;
      if (hit == 0)
        hit = r;
    }
  }
  return same_pos ? same_pos : hit;
}

static int merge_runs(merge_t *m) {
  input_t *a = &m->in[0];
  size_t n = cli_jlen(a->doc, a->runs), pos = 0;
  for (size_t i = 1; i < m->n; i++)
    if (cli_jlen(m->in[i].doc, m->in[i].runs) != n)
      return cli_merge_fail(m, CLI_EXIT_USAGE,
                  "%s has %zu runs and %s %zu: merge reports of one command",
                  a->path, n, m->in[i].path, cli_jlen(m->in[i].doc, m->in[i].runs));
  m->runs = calloc(n ? n : 1, sizeof(*m->runs));
  if (m->runs == NULL)
    return cli_merge_fail(m, CLI_EXIT_INTERNAL, "out of memory");
  for (cli_jv_t r = cli_jfirst(a->doc, a->runs); r != 0;
       r = cli_jnext(a->doc, r), pos++) {
    const char *st = cli_jstr(a->doc, cli_jget(a->doc, r, "strategy"));
    uint64_t rep, k;
    adl_strategy_t sv;
    if (st == NULL || adl_strategy_parse(st, &sv) != 0 ||
        cli_ju64(a->doc, cli_jget(a->doc, r, "repeat"), &rep) != 0 ||
        rep == 0 || rep > 1000000 ||
        cli_ju64(a->doc, cli_jget(a->doc, r, "max_connections"), &k) != 0 ||
        k == 0 || k > 1000000)
      return cli_merge_fail(m, CLI_EXIT_USAGE,
                  "%s: run %zu has no known strategy, repeat or "
                  "max_connections",
                  a->path, pos + 1);
    mrun_t *mr = calloc(1, sizeof(*mr) + m->n * sizeof(cli_jv_t));
    if (mr == NULL)
      return cli_merge_fail(m, CLI_EXIT_INTERNAL, "out of memory");
    m->runs[m->nruns++] = mr;
    mr->strategy = st;
    mr->repeat = (unsigned)rep;
    mr->max_connections = (unsigned)k;
    mr->sum.strategy = sv;
    mr->sum.max_connections = (unsigned)k;
    uint64_t digest = 0;
    m->nkeys = 0;
    for (size_t i = 0; i < m->n; i++) {
      uint64_t ki;
      mr->src[i] = find_run(m, i, pos, st, rep);
      if (mr->src[i] == 0)
        return cli_merge_fail(m, CLI_EXIT_USAGE, "%s has no run %s %u, %s has",
                    m->in[i].path, st, mr->repeat, a->path);
      if (cli_ju64(m->in[i].doc,
                   cli_jget(m->in[i].doc, mr->src[i], "max_connections"),
                   &ki) != 0 ||
          ki != k)
        return cli_merge_fail(m, CLI_EXIT_USAGE,
                    "run %s %u: %s used another --connections than %s", st,
                    mr->repeat, m->in[i].path, a->path);
      int rc = add_run(m, i, mr, &digest);
      if (rc != 0)
        return rc;
    }
    int rc = check_union(m, mr, digest);
    if (rc == 0)
      rc = check_notes(m, mr);
    if (rc != 0)
      return rc;
    adl__hist_t *h = &mr->hist;
    mr->sum.p50_us = adl__hist_quantile(h, 0.50);
    mr->sum.p95_us = adl__hist_quantile(h, 0.95);
    mr->sum.max_us = h->max;
    if (mr->sum.wall_us > 0) {
      mr->sum.requests_per_s =
          (double)mr->sum.requests * 1e6 / (double)mr->sum.wall_us;
      mr->sum.bytes_per_s =
          (double)mr->sum.bytes * 1e6 / (double)mr->sum.wall_us;
    }
  }
  return 0;
}

int cli_merge_load(merge_t *m, const char *json_out) {
  int rc = 0;
  for (size_t i = 0; i < m->n && rc == 0; i++) {
    if (json_out != NULL && strcmp(json_out, m->in[i].path) == 0)
      rc = cli_merge_fail(m, CLI_EXIT_USAGE,
                          "--json: '%s' is one of the reports", json_out);
    if (rc == 0)
      rc = load(m, &m->in[i]);
  }
  if (rc == 0)
    rc = check_shards(m);
  if (rc == 0)
    rc = merge_runs(m);
  return rc;
}

void cli_merge_free(merge_t *m) {
  for (size_t r = 0; r < m->nruns; r++)
    free(m->runs[r]);
  free(m->runs);
  free(m->keys);
  for (size_t i = 0; m->in != NULL && i < m->n; i++) {
    cli_jfree(m->in[i].doc);
    free(m->in[i].text);
  }
  free(m->in);
}
