/* asyncdl merge (src/cli/merge.c, merge-out.c) and what it stands on:
 *   - the JSON reader (src/cli/jsonr.c): valid text in, every kind of
 *     malformed text refused with a position;
 *   - the CLI's histogram (src/cli/hist.c) is the library's
 *     (src/histogram.c, compiled in here), bucket for bucket;
 *   - shard reports written by the real report writer from made-up
 *     results merge into exactly the report one run over all the results
 *     gives: same counts, bytes, buckets, percentiles and items;
 *   - every inconsistency (a missing, doubled or foreign shard, an item in
 *     the wrong shard, a tampered histogram, a cut-short run, not JSON, a
 *     missing file) is refused with exit 2 and a message naming it. */
#include "adl-test.h"
#include "histogram.h"
#include "jsonr.h"
#include "merge.h"
#include "opts.h"
#include "report.h"
#include "shard.h"

#include <unistd.h>

static char dir[256], err[512];

/* ---- the reader ----------------------------------------------------------- */

static cli_jdoc_t *parse_ok(const char *text) {
  cli_jdoc_t *d = cli_jparse(text, strlen(text), err, sizeof(err));
  if (d == NULL)
    ADL_FAIL_("refused '%s': %s", text, err);
  return d;
}

static void parse_bad(const char *text, const char *needle) {
  err[0] = '\0';
  cli_jdoc_t *d = cli_jparse(text, strlen(text), err, sizeof(err));
  if (d != NULL)
    ADL_FAIL_("accepted '%s'", text);
  if (strstr(err, needle) == NULL || strstr(err, "line ") == NULL)
    ADL_FAIL_("'%s': error '%s' lacks '%s'", text, err, needle);
}

static void test_reader(void) {
  cli_jdoc_t *d = parse_ok(
      " {\"a\": [1, 2.5, -3e2, true, false, null], \"s\": \"x\\\"\\\\\\/\\b"
      "\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\xc3\xa9\", \"o\": {}, \"e\": [],"
      " \"ms\": 12.3, \"big\": 18446744073709551615, \"a\": 0}\n");
  cli_jv_t r = cli_jroot(d), a = cli_jget(d, r, "a");
  ASSERT_EQ(cli_jtype(d, r), CLI_JOBJ);
  ASSERT_EQ(cli_jlen(d, r), 7);
  ASSERT_EQ(cli_jtype(d, a), CLI_JARR); /* the first "a" */
  ASSERT_EQ(cli_jlen(d, a), 6);
  cli_jtype_t want[] = {CLI_JNUM,  CLI_JNUM,   CLI_JNUM,
                        CLI_JTRUE, CLI_JFALSE, CLI_JNULL};
  size_t k = 0;
  for (cli_jv_t v = cli_jfirst(d, a); v != 0; v = cli_jnext(d, v), k++)
    ASSERT_EQ(cli_jtype(d, v), want[k]);
  ASSERT_EQ(k, 6);
  ASSERT_STR_EQ(cli_jstr(d, cli_jget(d, r, "s")),
                "x\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80\xc3\xa9");
  uint64_t v;
  ASSERT(cli_ju64(d, cli_jfirst(d, a), &v) == 0 && v == 1);
  ASSERT(cli_ju64(d, cli_jnext(d, cli_jfirst(d, a)), &v) == -1); /* 2.5 */
  ASSERT(cli_jms_us(d, cli_jnext(d, cli_jfirst(d, a)), &v) == 0 && v == 2500);
  ASSERT(cli_jms_us(d, cli_jget(d, r, "ms"), &v) == 0 && v == 12300);
  ASSERT(cli_ju64(d, cli_jget(d, r, "big"), &v) == 0 && v == UINT64_MAX);
  cli_jv_t neg = cli_jnext(d, cli_jnext(d, cli_jfirst(d, a)));
  ASSERT(cli_ju64(d, neg, &v) == -1 && cli_jms_us(d, neg, &v) == -1);
  ASSERT_EQ(cli_jtype(d, cli_jget(d, r, "missing")), CLI_JNONE);
  ASSERT_EQ(cli_jlen(d, cli_jget(d, r, "o")), 0);
  ASSERT_EQ(cli_jfirst(d, cli_jget(d, r, "e")), 0);
  size_t len;
  const char *raw = cli_jraw(d, cli_jget(d, r, "a"), &len);
  ASSERT(len == 33 && memcmp(raw, "[1, 2.5, -3e2, true, false, null]", 33) == 0);
  cli_jwhere(d, cli_jget(d, r, "o"), err, sizeof(err));
  ASSERT_STR_EQ(err, "line 1, column 94"); /* columns count bytes */
  cli_jfree(d);
  d = parse_ok("{\"x\": 1.2345}");
  ASSERT_EQ(cli_jms_us(d, cli_jget(d, cli_jroot(d), "x"), &v), -1);
  cli_jfree(d);

  parse_bad("", "unexpected end");
  parse_bad("{\"a\": 1,}", "member name");
  parse_bad("[1, 2,]", "unexpected character");
  parse_bad("[01]", "expected ',' or ']'");
  parse_bad("[1.]", "no digit after '.'");
  parse_bad("[1e]", "exponent");
  parse_bad("[\"abc]", "unterminated string");
  parse_bad("[\"a\\x\"]", "bad escape");
  parse_bad("[\"\\ud800\"]", "surrogate");
  parse_bad("[\"\\udc00\"]", "surrogate");
  parse_bad("[\"\\u0000\"]", "\\u0000");
  parse_bad("[\"\\u12\"]", "bad \\u escape");
  parse_bad("[\"a\tb\"]", "control character");
  parse_bad("[\"\xc3\x28\"]", "invalid UTF-8");
  parse_bad("[\"\xed\xa0\x80\"]", "invalid UTF-8"); /* an encoded surrogate */
  parse_bad("{} {}", "after the end");
  parse_bad("[tru]", "unexpected character");
  parse_bad("{\"a\" 1}", "expected ':'");
  parse_bad("[NaN]", "unexpected character");
  parse_bad("{\"a\":\n  [1 2]}", "line 2, column 6");
  char deep[200];
  memset(deep, '[', 65);
  memset(deep + 65, ']', 65);
  deep[130] = '\0';
  parse_bad(deep, "deeper than 64");
  memset(deep, '[', 64);
  memset(deep + 64, ']', 64);
  deep[128] = '\0';
  cli_jfree(parse_ok(deep));
}

/* ---- the histogram's report side (src/histogram.c) ------------------------- */

/* Buckets read back from a report and added up give what one histogram of
 * all the samples gives. */
static void test_hist_buckets(void) {
  static adl__hist_t all, a, b, back;
  adl__hist_init(&all);
  adl__hist_init(&a);
  adl__hist_init(&b);
  adl__hist_init(&back);
  uint64_t x = 0x9e3779b97f4a7c15ull;
  for (unsigned i = 0; i < 200000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    uint64_t v = i < 100 ? i : (x % 4000000000ull) >> (x % 32);
    adl__hist_add(&all, v);
    adl__hist_add(i % 3 ? &a : &b, v);
  }
  /* b as a report carries it: [upper, count] pairs, max apart */
  for (unsigned i = 0; i < ADL_HIST_BUCKETS; i++)
    if (b.bucket[i] != 0)
      ASSERT_EQ(adl__hist_add_bucket(
                    &back, adl__hist_index(adl__hist_upper(i)), b.bucket[i]),
                0);
  back.max = b.max;
  ASSERT_EQ(adl__hist_merge(&a, &back), 0);
  ASSERT(a.count == all.count && a.max == all.max);
  for (unsigned i = 0; i < ADL_HIST_BUCKETS; i++)
    if (a.bucket[i] != all.bucket[i])
      ADL_FAIL_("bucket %u: merged %" PRIu64 ", whole %" PRIu64, i,
                a.bucket[i], all.bucket[i]);
  for (double q = 0; q <= 1.0; q += 0.01)
    ASSERT(adl__hist_quantile(&a, q) == adl__hist_quantile(&all, q));
  /* A bucket's bound is in the bucket; the next value is not. */
  for (unsigned i = 0; i < 58 * ADL_HIST_SUB; i++) {
    ASSERT_EQ(adl__hist_index(adl__hist_upper(i)), i);
    ASSERT_EQ(adl__hist_index(adl__hist_upper(i) + 1), i + 1);
  }
  ASSERT_EQ(adl__hist_add_bucket(&back, ADL_HIST_BUCKETS, 1), -1);
  ASSERT_EQ(adl__hist_add_bucket(&back, 0, UINT64_MAX), -1);
}

/* ---- merging reports written by the report writer -------------------------- */

#define NURL 400
#define NSHARD 4
static const char *origin = "http://127.0.0.1:4000";
static char url[NURL][80];
static adl_result_t res[2][NURL]; /* two runs: parallel 1, parallel 2 */

static void make_results(void) {
  uint64_t x = 42;
  for (unsigned i = 0; i < NURL; i++) {
    snprintf(url[i], sizeof(url[i]), "%s/api/v2/pokemon/p%u", origin, i);
    for (unsigned r = 0; r < 2; r++) {
      adl_result_t *z = &res[r][i];
      x = x * 6364136223846793005ull + 1442695040888963407ull;
      memset(z, 0, sizeof(*z));
      z->url = url[i];
      z->status = i % 37 == 5 ? ADL_EHTTP : 0;
      z->http_status = z->status ? 404 : 200;
      z->bytes = (x >> 20) % 20000;
      z->attempts = 1;
      z->new_connections = i % 50 == 0;
      z->total_us = 20000 + (x >> 40) % 30000 + (i == 7 ? 900000 : 0);
    }
  }
}

/* A run of the URLs of shard s (all when s < 0) as the tool writes it:
 * the summary from the same samples, through the library's rule. */
static void write_run(cli_json_t *j, unsigned r, int s, uint64_t wall) {
  static adl__hist_t h;
  adl_summary_t m;
  memset(&m, 0, sizeof(m));
  adl__hist_init(&h);
  m.strategy = ADL_STRATEGY_PARALLEL;
  m.max_connections = 6;
  m.wall_us = wall;
  cli_json_run_begin(j, "parallel", r + 1, 6);
  for (unsigned i = 0; i < NURL; i++) {
    if (s >= 0 && cli_shard_of(url[i], CLI_SHARD_BY_URL, origin, NSHARD) !=
                      (unsigned)s)
      continue;
    const adl_result_t *z = &res[r][i];
    cli_json_item(j, z->url, NULL, z);
    adl__hist_add(&h, z->total_us);
    m.requests++;
    m.ok += z->status == 0;
    m.failed += z->status != 0;
    m.bytes += z->bytes;
    m.connections += z->new_connections;
  }
  m.p50_us = adl__hist_quantile(&h, 0.5);
  m.p95_us = adl__hist_quantile(&h, 0.95);
  m.max_us = h.max;
  m.requests_per_s = (double)m.requests * 1e6 / (double)wall;
  m.bytes_per_s = (double)m.bytes * 1e6 / (double)wall;
  cli_json_run_end_hist(j, &m, NULL, &h);
}

static void write_report(const char *name, int s, unsigned count) {
  char path[600], js[1024];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  cli_json_t *j = cli_json_open(path, err, sizeof(err));
  ASSERT(j != NULL);
  if (s >= 0) {
    cli_shard_t sh = {.source = CLI_SHARD_OPTION,
                      .index = (unsigned)s,
                      .count = count};
    snprintf(sh.origin, sizeof(sh.origin), "%s", origin);
    snprintf(sh.why, sizeof(sh.why), "--shard=%d/%u", s, count);
    uint64_t mine = 0, digest = 0;
    for (unsigned i = 0; i < NURL; i++) {
      mine += cli_shard_has(&sh, url[i]);
      digest = cli_shard_digest_add(digest, url[i], origin);
    }
    ASSERT_EQ(cli_shard_json(&sh, mine, NURL, digest, js, sizeof(js)), 0);
    ASSERT_EQ(cli_json_set_extra(j, "shard", js), 0);
  }
  for (unsigned r = 0; r < 2; r++)
    write_run(j, r, s, 1000000 + (uint64_t)(s + 1) * 1000 + r * 77);
  ASSERT_EQ(cli_json_close(j, NULL, 0), 0);
}

static char *path_of(const char *name) {
  static char p[8][600];
  static unsigned k;
  char *o = p[k++ % 8];
  snprintf(o, 600, "%s/%s", dir, name);
  return o;
}

/* Runs the merge; its messages are kept for expect_msg. */
static char msgs[4096];
static int merge(const char *out, const char *const *names, size_t n) {
  const char *paths[8];
  for (size_t i = 0; i < n; i++)
    paths[i] = path_of(names[i]);
  FILE *m = fmemopen(msgs, sizeof(msgs), "w");
  FILE *t = fopen("/dev/null", "w");
  ASSERT(m != NULL && t != NULL);
  int rc = cli_merge_run(paths, n, out ? path_of(out) : NULL, t, m);
  fclose(m);
  fclose(t);
  return rc;
}

static void expect_refused(const char *const *names, size_t n,
                           const char *needle) {
  int rc = merge("never.json", names, n);
  if (rc != CLI_EXIT_USAGE || strstr(msgs, needle) == NULL)
    ADL_FAIL_("exit %d, messages '%s': want 2 and '%s'", rc, msgs, needle);
  ASSERT(access(path_of("never.json"), F_OK) != 0); /* nothing written */
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ASSERT(f != NULL);
  static char buf[1 << 20];
  *len = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  char *c = malloc(*len + 1);
  memcpy(c, buf, *len);
  c[*len] = '\0';
  return c;
}

static void summary_of(cli_jdoc_t *d, cli_jv_t run, uint64_t *v) {
  static const char *const keys[] = {"requests", "ok", "failed", "bytes",
                                     "connections_opened"};
  cli_jv_t s = cli_jget(d, run, "summary");
  for (unsigned k = 0; k < 5; k++)
    ASSERT_EQ(cli_ju64(d, cli_jget(d, s, keys[k]), &v[k]), 0);
  static const char *const ms[] = {"p50_ms", "p95_ms", "max_ms"};
  for (unsigned k = 0; k < 3; k++)
    ASSERT_EQ(cli_jms_us(d, cli_jget(d, s, ms[k]), &v[5 + k]), 0);
}

/* The merged report against the report of one run over every URL. */
static void test_merge_exact(void) {
  const char *shards[] = {"s2.json", "s0.json", "s3.json", "s1.json"};
  for (int s = 0; s < NSHARD; s++) {
    char name[32];
    snprintf(name, sizeof(name), "s%d.json", s);
    write_report(name, s, NSHARD);
  }
  write_report("whole.json", -1, 0);
  /* Some URLs failed: merged, exit 1. */
  ASSERT_EQ(merge("merged.json", shards, 4), CLI_EXIT_FAILED);
  ASSERT(strstr(msgs, "4 shard reports (shards 0-3 of 4, by url): 400 URLs") !=
         NULL);
  size_t lm, lw;
  char *tm = slurp(path_of("merged.json"), &lm),
       *tw = slurp(path_of("whole.json"), &lw);
  cli_jdoc_t *m = cli_jparse(tm, lm, err, sizeof(err));
  cli_jdoc_t *w = cli_jparse(tw, lw, err, sizeof(err));
  ASSERT(m != NULL && w != NULL);
  cli_jv_t mr = cli_jfirst(m, cli_jget(m, cli_jroot(m), "runs"));
  cli_jv_t wr = cli_jfirst(w, cli_jget(w, cli_jroot(w), "runs"));
  for (unsigned r = 0; r < 2; r++, mr = cli_jnext(m, mr), wr = cli_jnext(w, wr)) {
    uint64_t a[8], b[8];
    summary_of(m, mr, a);
    summary_of(w, wr, b);
    for (unsigned k = 0; k < 8; k++)
      if (a[k] != b[k])
        ADL_FAIL_("run %u figure %u: merged %" PRIu64 ", whole %" PRIu64, r, k,
                  a[k], b[k]);
    /* The histograms are the same text: the same buckets, exactly. */
    size_t la, lb;
    const char *ha = cli_jraw(m, cli_jget(m, cli_jget(m, mr, "summary"),
                                          "latency_histogram"), &la);
    const char *hb = cli_jraw(w, cli_jget(w, cli_jget(w, wr, "summary"),
                                          "latency_histogram"), &lb);
    ASSERT(la == lb && la > 100 && memcmp(ha, hb, la) == 0);
    /* Every item once, copied as written. */
    cli_jv_t mi = cli_jget(m, mr, "items");
    ASSERT_EQ(cli_jlen(m, mi), NURL);
    for (cli_jv_t it = cli_jfirst(m, mi); it != 0; it = cli_jnext(m, it)) {
      size_t li;
      const char *raw = cli_jraw(m, it, &li);
      char *copy = strndup(raw, li);
      ASSERT(strstr(tw, copy) != NULL);
      free(copy);
    }
    /* The longest shard's wall: 1.004 s (+ the run's 77 us). */
    uint64_t wall;
    ASSERT_EQ(cli_jms_us(m, cli_jget(m, cli_jget(m, mr, "summary"), "wall_ms"),
                         &wall), 0);
    ASSERT_EQ(wall, 1004000 + r * 77);
  }
  cli_jv_t c = cli_jfirst(m, cli_jget(m, cli_jroot(m), "comparison"));
  uint64_t rep;
  ASSERT_EQ(cli_ju64(m, cli_jget(m, c, "median_repeat"), &rep), 0);
  ASSERT_EQ(rep, 1); /* walls 1.004000 and 1.004077 s: the lower median */
  cli_jv_t mg = cli_jget(m, cli_jroot(m), "merged");
  ASSERT_EQ(cli_jlen(m, cli_jget(m, mg, "reports")), 4);
  ASSERT_EQ(cli_jtype(m, cli_jget(m, cli_jroot(m), "shard")), CLI_JNONE);
  cli_jfree(m);
  cli_jfree(w);
  free(tm);
  free(tw);
}

/* Copies report name to out with the first occurrence of from replaced. */
static void tamper(const char *name, const char *out, const char *from,
                   const char *to) {
  size_t len;
  char *t = slurp(path_of(name), &len), *p = strstr(t, from);
  if (p == NULL)
    ADL_FAIL_("'%s' not in %s", from, name);
  FILE *f = fopen(path_of(out), "w");
  fwrite(t, 1, (size_t)(p - t), f);
  fputs(to, f);
  fputs(p + strlen(from), f);
  fclose(f);
  free(t);
}

static void test_refusals(void) {
  const char *three[] = {"s0.json", "s1.json", "s2.json"};
  expect_refused(three, 3, "shard 3 of 4 is missing");
  const char *twice[] = {"s0.json", "s1.json", "s1.json", "s2.json"};
  expect_refused(twice, 4, "shard 1/4 is given twice");
  const char *mixed[] = {"s0.json", "whole.json"};
  expect_refused(mixed, 2, "whole.json is not");
  const char *missing[] = {"s0.json", "nope.json"};
  expect_refused(missing, 2, "nope.json: No such file or directory");
  tamper("s0.json", "notjson.json", "\"runs\"", "\"runs\" \"runs\"");
  const char *notjson[] = {"notjson.json"};
  expect_refused(notjson, 1, "not JSON: line 6");
  tamper("s0.json", "schema.json", "asyncdl-report/2", "asyncdl-report/1");
  const char *schema[] = {"schema.json"};
  expect_refused(schema, 1, "not an asyncdl report");
  /* A shard of another N. */
  tamper("s3.json", "n5.json", "\"count\": 4", "\"count\": 5");
  const char *n5[] = {"s0.json", "s1.json", "s2.json", "n5.json"};
  expect_refused(n5, 4, "are not shards of one list");
  /* An item moved into another shard's report. */
  unsigned moved = 0;
  while (cli_shard_of(url[moved], CLI_SHARD_BY_URL, origin, NSHARD) == 0)
    moved++;
  char from[120], to[120];
  unsigned stay = 0;
  while (cli_shard_of(url[stay], CLI_SHARD_BY_URL, origin, NSHARD) != 0)
    stay++;
  snprintf(from, sizeof(from), "\"%s\"", url[stay]);
  snprintf(to, sizeof(to), "\"%s\"", url[moved]);
  tamper("s0.json", "foreign.json", from, to);
  const char *foreign[] = {"foreign.json", "s1.json", "s2.json", "s3.json"};
  expect_refused(foreign, 4, "belongs to shard");
  /* A histogram bucket that no longer adds up. */
  tamper("s1.json", "hist.json", "\"buckets\": [[", "\"buckets\": [[1, 1], [");
  const char *hist[] = {"s0.json", "hist.json", "s2.json", "s3.json"};
  expect_refused(hist, 4, "disagrees with the summary");
  tamper("s1.json", "bound.json", "\"buckets\": [[", "\"buckets\": [[1000, 0], [");
  const char *bound[] = {"s0.json", "bound.json", "s2.json", "s3.json"};
  expect_refused(bound, 4, "a bucket bound");
  /* A run cut short. */
  tamper("s2.json", "short.json", "\"summary\": {", "\"summary\": null, \"x\": {");
  const char *cut[] = {"s0.json", "s1.json", "short.json", "s3.json"};
  expect_refused(cut, 4, "cut short");
  /* Bytes that do not add up to the summary's. */
  tamper("s2.json", "bytes.json", "\"bytes\": ", "\"bytes\": 1");
  const char *bytes[] = {"s0.json", "s1.json", "bytes.json", "s3.json"};
  expect_refused(bytes, 4, "disagree with the summary");
  /* The output over an input. */
  const char *all[] = {"s0.json", "s1.json", "s2.json", "s3.json"};
  ASSERT_EQ(merge("s0.json", all, 4), CLI_EXIT_USAGE);
  ASSERT(strstr(msgs, "is one of the reports") != NULL);
  /* Reports that are not shards: merged, but never a URL twice. */
  const char *whole2[] = {"whole.json", "whole.json"};
  expect_refused(whole2, 2, "is in");
  const char *whole1[] = {"whole.json"};
  ASSERT_EQ(merge(NULL, whole1, 1), CLI_EXIT_FAILED);
  ASSERT(strstr(msgs, "not shard reports") != NULL);
}

int main(void) {
  snprintf(dir, sizeof(dir), "%s/test-merge-XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  ASSERT(mkdtemp(dir) != NULL);
  test_reader();
  test_hist_buckets();
  make_results();
  test_merge_exact();
  test_refusals();
  char cmd[600];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  ASSERT_EQ(system(cmd), 0);
  printf("test-merge: passed\n");
  return 0;
}
