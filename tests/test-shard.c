/* Shards (src/cli/shard.c) and their options (src/cli/opts.c): the hash is
 * FNV-1a 64 as published; every URL falls in exactly one shard for every
 * N; host mode keeps an origin whole; a URL's shard does not depend on the
 * port of the base it was joined to (--local); the digest adds up over
 * shards; the shard comes from --shard, Slurm's array variables (0-based,
 * 1-based, stepped, uneven arrays refused) or JOB_COMPLETION_INDEX with
 * --shards, and every bad value is an error naming its source. */
#include "adl-test.h"
#include "jsonr.h"
#include "opts.h"
#include "shard.h"

/* ---- the hash --------------------------------------------------------- */

static void test_fnv(void) {
  /* The reference vectors of the FNV authors (FNV-1a, 64 bits). */
  ASSERT(cli_fnv1a64("", 0) == 0xcbf29ce484222325ull);
  ASSERT(cli_fnv1a64("a", 1) == 0xaf63dc4c8601ec8cull);
  ASSERT(cli_fnv1a64("foobar", 6) == 0x85944171f73967e8ull);
}

/* ---- I/N ---------------------------------------------------------------- */

static void test_parse(void) {
  unsigned i = 99, n = 99;
  char why[200];
  ASSERT_EQ(cli_shard_parse("0/1", &i, &n, why, sizeof(why)), 0);
  ASSERT(i == 0 && n == 1);
  ASSERT_EQ(cli_shard_parse("3/4", &i, &n, why, sizeof(why)), 0);
  ASSERT(i == 3 && n == 4);
  ASSERT_EQ(cli_shard_parse("999999/1000000", &i, &n, why, sizeof(why)), 0);
  const char *bad[] = {"4/4",  "1/0",  "-1/4", "1/-4",     "1",   "/4",
                       "1/",   " 1/4", "1/4 ", "0x1/4",    "1/4/5", "",
                       "0/1000001", "99999999999999999999/4"};
  for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
    why[0] = '\0';
    if (cli_shard_parse(bad[k], &i, &n, why, sizeof(why)) != -1)
      ADL_FAIL_("'%s' was accepted", bad[k]);
    ASSERT(strstr(why, "N") != NULL);
  }
  cli_shard_parse("4/4", &i, &n, why, sizeof(why));
  ASSERT(strstr(why, "numbered from 0") != NULL);
  cli_shard_by_t by;
  ASSERT_EQ(cli_shard_by_parse("host", &by), 0);
  ASSERT_EQ(by, CLI_SHARD_BY_HOST);
  ASSERT_EQ(cli_shard_by_parse("url", &by), 0);
  ASSERT_EQ(by, CLI_SHARD_BY_URL);
  ASSERT_EQ(cli_shard_by_parse("origin", &by), -1);
  ASSERT_EQ(cli_shard_by_parse("URL", &by), -1);
}

/* ---- origins and keys --------------------------------------------------- */

static void expect_origin(const char *url, const char *want) {
  char out[CLI_ORIGIN_MAX];
  int rc = cli_shard_origin(url, out, sizeof(out));
  if (want == NULL) {
    if (rc != -1)
      ADL_FAIL_("origin of '%s' = '%s', want an error", url, out);
    return;
  }
  if (rc != 0)
    ADL_FAIL_("origin of '%s' failed", url);
  ASSERT_STR_EQ(out, want);
}

static void test_origin(void) {
  expect_origin("https://pokeapi.co/api/v2/pokemon/", "https://pokeapi.co:443");
  expect_origin("HTTP://Example.COM", "http://example.com:80");
  expect_origin("http://a:8080?q=1", "http://a:8080");
  expect_origin("http://a:08080/x", "http://a:8080");
  expect_origin("http://user:pw@h.test/x", "http://h.test:80");
  expect_origin("https://[::1]:9/x#f", "https://[::1]:9");
  expect_origin("https://[::1]/", "https://[::1]:443");
  expect_origin("no-scheme", NULL);
  expect_origin("http:///x", NULL);
  expect_origin("http://h:99999/", NULL);
  expect_origin("http://[::1/", NULL);
}

static void expect_key(const char *url, cli_shard_by_t by, const char *base,
                       const char *want) {
  char buf[CLI_ORIGIN_MAX];
  size_t len;
  const char *k = cli_shard_key(url, by, base, buf, sizeof(buf), &len);
  if (len != strlen(want) || memcmp(k, want, len) != 0)
    ADL_FAIL_("key of '%s' by %s on '%s': '%.*s', want '%s'", url,
              cli_shard_by_name(by), base, (int)len, k, want);
}

static void test_keys(void) {
  const char *home = "http://127.0.0.1:39197";
  /* On the base's origin: the path only (whatever the port was). */
  expect_key("http://127.0.0.1:39197/api/v2/pokemon/mew", CLI_SHARD_BY_URL,
             home, "/api/v2/pokemon/mew");
  expect_key("http://127.0.0.1:39197/api/v2/pokemon/mew", CLI_SHARD_BY_HOST,
             home, "");
  /* Elsewhere: the URL as written; its origin, normalised. */
  expect_key("https://Other.test/x?y", CLI_SHARD_BY_URL, home,
             "https://Other.test/x?y");
  expect_key("https://Other.test/x?y", CLI_SHARD_BY_HOST, home,
             "https://other.test:443");
  expect_key("https://other.test:443/z", CLI_SHARD_BY_HOST, home,
             "https://other.test:443");
  /* No base origin known: every URL whole. */
  expect_key("http://127.0.0.1:39197/a", CLI_SHARD_BY_URL, "",
             "http://127.0.0.1:39197/a");
}

/* ---- the partition ------------------------------------------------------ */

static char urls[3000][96];

static void make_urls(void) {
  for (unsigned i = 0; i < 3000; i++) {
    if (i % 3 == 0) /* on the base origin, like a list of names */
      snprintf(urls[i], sizeof(urls[i]),
               "http://127.0.0.1:4000/api/v2/pokemon/n%u", i);
    else /* 37 other origins */
      snprintf(urls[i], sizeof(urls[i]), "https://h%u.test:%u/doc/%u",
               i % 37, 8000 + i % 2, i);
  }
}

static void test_partition(void) {
  static unsigned per[64];
  for (unsigned by = 0; by <= 1; by++) {
    for (unsigned n = 1; n <= 33; n++) {
      memset(per, 0, sizeof(per));
      for (unsigned i = 0; i < 3000; i++) {
        unsigned s = cli_shard_of(urls[i], (cli_shard_by_t)by,
                                  "http://127.0.0.1:4000", n);
        ASSERT_LT(s, n);
        per[s]++;
        /* cli_shard_has agrees, for exactly one index. */
        unsigned in = 0;
        for (unsigned k = 0; k < n; k++) {
          cli_shard_t sh = {.source = CLI_SHARD_OPTION,
                            .index = k,
                            .count = n,
                            .by = (cli_shard_by_t)by};
          snprintf(sh.origin, sizeof(sh.origin), "http://127.0.0.1:4000");
          in += cli_shard_has(&sh, urls[i]) ? (k == s ? 1 : 100) : 0;
        }
        ASSERT_EQ(in, 1);
      }
      unsigned total = 0;
      for (unsigned k = 0; k < n; k++)
        total += per[k];
      ASSERT_EQ(total, 3000);
      /* By URL, a fair hash: with 375 or more URLs a shard, none is off
       * 3000 / n by 20 % (measured: 10 % at most). */
      for (unsigned k = 0; by == 0 && n <= 8 && k < n; k++) {
        ASSERT_GT(per[k] * n, 3000u * 8 / 10);
        ASSERT_LT(per[k] * n, 3000u * 12 / 10);
      }
    }
  }
  /* By host, one origin is one shard. */
  for (unsigned i = 0; i < 3000; i++)
    for (unsigned j = i % 37; j < 3000; j += 37 * 7) {
      char a[CLI_ORIGIN_MAX], b[CLI_ORIGIN_MAX];
      cli_shard_origin(urls[i], a, sizeof(a));
      cli_shard_origin(urls[j], b, sizeof(b));
      if (strcmp(a, b) == 0)
        ASSERT_EQ(cli_shard_of(urls[i], CLI_SHARD_BY_HOST,
                               "http://127.0.0.1:4000", 16),
                  cli_shard_of(urls[j], CLI_SHARD_BY_HOST,
                               "http://127.0.0.1:4000", 16));
    }
}

/* The same names joined to bases on other ports (--local's random one)
 * land in the same shards; the digest is order-free and adds up. */
static void test_port_free_and_digest(void) {
  char a[128], b[128];
  uint64_t whole = 0, fwd = 0, back = 0, part[5] = {0};
  for (unsigned i = 0; i < 500; i++) {
    snprintf(a, sizeof(a), "http://127.0.0.1:39101/api/v2/pokemon/p%u", i);
    snprintf(b, sizeof(b), "http://127.0.0.1:43453/api/v2/pokemon/p%u", i);
    unsigned sa = cli_shard_of(a, CLI_SHARD_BY_URL, "http://127.0.0.1:39101", 5);
    ASSERT_EQ(sa,
              cli_shard_of(b, CLI_SHARD_BY_URL, "http://127.0.0.1:43453", 5));
    fwd = cli_shard_digest_add(fwd, a, "http://127.0.0.1:39101");
    part[sa] = cli_shard_digest_add(part[sa], b, "http://127.0.0.1:43453");
  }
  for (unsigned i = 500; i-- > 0;) {
    snprintf(a, sizeof(a), "http://127.0.0.1:39101/api/v2/pokemon/p%u", i);
    back = cli_shard_digest_add(back, a, "http://127.0.0.1:39101");
  }
  for (unsigned k = 0; k < 5; k++)
    whole += part[k];
  ASSERT(fwd == back && fwd == whole && fwd != 0);
  /* One URL fewer or one more changes it. */
  ASSERT(cli_shard_digest_add(fwd, "http://x.test/", "") != fwd);
}

/* ---- where the shard comes from ----------------------------------------- */

static const char *table_env(const char *name, void *ctx) {
  for (const char *const *e = ctx; *e != NULL; e += 2)
    if (strcmp(e[0], name) == 0)
      return e[1];
  return NULL;
}

static cli_shard_t sh;
static char err[512];

static int resolve(unsigned shards, const char *const *env) {
  err[0] = '\0';
  return cli_shard_resolve(&sh, 0, 0, 0, shards, CLI_SHARD_BY_URL, table_env,
                           (void *)env, err, sizeof(err));
}

static void expect_shard(unsigned shards, const char *const *env,
                         cli_shard_source_t src, unsigned index,
                         unsigned count) {
  if (resolve(shards, env) != 0)
    ADL_FAIL_("resolve failed: %s", err);
  ASSERT_EQ(sh.source, src);
  ASSERT_EQ(sh.index, index);
  ASSERT_EQ(sh.count, count);
}

static void expect_error(unsigned shards, const char *const *env,
                         const char *needle) {
  if (resolve(shards, env) != -1)
    ADL_FAIL_("accepted, want an error with '%s'", needle);
  if (strstr(err, needle) == NULL)
    ADL_FAIL_("error '%s' lacks '%s'", err, needle);
}

static void test_resolve(void) {
  const char *none[] = {NULL};
  expect_shard(0, none, CLI_SHARD_NONE, 0, 1);
  ASSERT_STR_EQ(sh.why, "");
  /* --shard wins over the environment. */
  const char *slurm4[] = {"SLURM_ARRAY_TASK_ID", "2", "SLURM_ARRAY_TASK_COUNT",
                          "4", "SLURM_ARRAY_TASK_MIN", "0",
                          "SLURM_ARRAY_TASK_MAX", "3", NULL};
  ASSERT_EQ(cli_shard_resolve(&sh, 1, 1, 3, 0, CLI_SHARD_BY_HOST, table_env,
                              (void *)slurm4, err, sizeof(err)),
            0);
  ASSERT(sh.source == CLI_SHARD_OPTION && sh.index == 1 && sh.count == 3);
  ASSERT(sh.by == CLI_SHARD_BY_HOST);
  ASSERT_STR_EQ(sh.why, "--shard=1/3");
  ASSERT_EQ(cli_shard_resolve(&sh, 1, 1, 3, 3, CLI_SHARD_BY_URL, table_env,
                              (void *)none, err, sizeof(err)),
            -1);
  ASSERT(strstr(err, "--shard and --shards") != NULL);
  /* Slurm: 0-based, 1-based (--array=1-4), stepped (--array=0-6:2). */
  expect_shard(0, slurm4, CLI_SHARD_SLURM, 2, 4);
  ASSERT(strstr(sh.why, "SLURM_ARRAY_TASK_ID=2") != NULL);
  expect_shard(4, slurm4, CLI_SHARD_SLURM, 2, 4);
  const char *one_based[] = {"SLURM_ARRAY_TASK_ID", "4",
                             "SLURM_ARRAY_TASK_COUNT", "4",
                             "SLURM_ARRAY_TASK_MIN", "1",
                             "SLURM_ARRAY_TASK_MAX", "4", NULL};
  expect_shard(0, one_based, CLI_SHARD_SLURM, 3, 4);
  const char *stepped[] = {"SLURM_ARRAY_TASK_ID", "4",
                           "SLURM_ARRAY_TASK_COUNT", "4",
                           "SLURM_ARRAY_TASK_MIN", "0",
                           "SLURM_ARRAY_TASK_MAX", "6",
                           "SLURM_ARRAY_TASK_STEP", "2", NULL};
  expect_shard(0, stepped, CLI_SHARD_SLURM, 2, 4);
  const char *minimal[] = {"SLURM_ARRAY_TASK_ID", "0",
                           "SLURM_ARRAY_TASK_COUNT", "1", NULL};
  expect_shard(0, minimal, CLI_SHARD_SLURM, 0, 1);
  /* --array=1,3,9: three tasks, not evenly spaced. */
  const char *uneven[] = {"SLURM_ARRAY_TASK_ID", "9",
                          "SLURM_ARRAY_TASK_COUNT", "3",
                          "SLURM_ARRAY_TASK_MIN", "1",
                          "SLURM_ARRAY_TASK_MAX", "9", NULL};
  expect_error(0, uneven, "not evenly spaced");
  const char *uneven2[] = {"SLURM_ARRAY_TASK_ID", "3",
                           "SLURM_ARRAY_TASK_COUNT", "3",
                           "SLURM_ARRAY_TASK_MIN", "1",
                           "SLURM_ARRAY_TASK_MAX", "9", NULL};
  expect_error(0, uneven2, "not evenly spaced");
  const char *no_count[] = {"SLURM_ARRAY_TASK_ID", "1", NULL};
  expect_error(0, no_count, "SLURM_ARRAY_TASK_COUNT");
  const char *bad_id[] = {"SLURM_ARRAY_TASK_ID", "1x",
                          "SLURM_ARRAY_TASK_COUNT", "4", NULL};
  expect_error(0, bad_id, "SLURM_ARRAY_TASK_ID: '1x'");
  expect_error(3, slurm4, "--shards=3, but the Slurm array has 4 tasks");
  /* Kubernetes: JOB_COMPLETION_INDEX with --shards. */
  const char *k8s[] = {"JOB_COMPLETION_INDEX", "4", NULL};
  expect_shard(5, k8s, CLI_SHARD_K8S, 4, 5);
  ASSERT_STR_EQ(sh.why, "JOB_COMPLETION_INDEX=4 with --shards=5");
  expect_error(4, k8s, "JOB_COMPLETION_INDEX='4' is not an integer in 0..3");
  const char *k8s_bad[] = {"JOB_COMPLETION_INDEX", "-1", NULL};
  expect_error(4, k8s_bad, "JOB_COMPLETION_INDEX='-1'");
  /* Without --shards the index alone says nothing: whole list, warned. */
  expect_shard(0, k8s, CLI_SHARD_NONE, 0, 1);
  ASSERT(strstr(sh.why, "--shards is not") != NULL);
  expect_error(4, none, "nothing says which shard");
  /* Empty variables are absent ones. */
  const char *empty[] = {"SLURM_ARRAY_TASK_ID", "", "JOB_COMPLETION_INDEX",
                         "", NULL};
  expect_shard(0, empty, CLI_SHARD_NONE, 0, 1);
}

/* ---- the report's shard object ------------------------------------------ */

static void test_json(void) {
  cli_shard_t s = {.source = CLI_SHARD_SLURM, .index = 2, .count = 4};
  snprintf(s.why, sizeof(s.why), "SLURM \"x\"\\");
  snprintf(s.origin, sizeof(s.origin), "http://127.0.0.1:80");
  char out[1024], small[40];
  ASSERT_EQ(cli_shard_json(&s, 38, 151, 0xabcull, out, sizeof(out)), 0);
  ASSERT_EQ(cli_shard_json(&s, 38, 151, 0xabcull, small, sizeof(small)), -1);
  cli_jdoc_t *d = cli_jparse(out, strlen(out), err, sizeof(err));
  if (d == NULL)
    ADL_FAIL_("%s: %s", out, err);
  cli_jv_t r = cli_jroot(d);
  uint64_t v;
  ASSERT(cli_ju64(d, cli_jget(d, r, "index"), &v) == 0 && v == 2);
  ASSERT(cli_ju64(d, cli_jget(d, r, "count"), &v) == 0 && v == 4);
  ASSERT(cli_ju64(d, cli_jget(d, r, "urls"), &v) == 0 && v == 38);
  ASSERT(cli_ju64(d, cli_jget(d, r, "list_urls"), &v) == 0 && v == 151);
  ASSERT_STR_EQ(cli_jstr(d, cli_jget(d, r, "by")), "url");
  ASSERT_STR_EQ(cli_jstr(d, cli_jget(d, r, "source")), "slurm");
  ASSERT_STR_EQ(cli_jstr(d, cli_jget(d, r, "from")), "SLURM \"x\"\\");
  ASSERT_STR_EQ(cli_jstr(d, cli_jget(d, r, "list_digest")), "0000000000000abc");
  ASSERT_STR_EQ(cli_jstr(d, cli_jget(d, r, "base_origin")),
                "http://127.0.0.1:80");
  cli_jfree(d);
}

/* ---- the options -------------------------------------------------------- */

static int parse(cli_opts_t *o, const char *a1, const char *a2) {
  char *argv[] = {"asyncdl", (char *)a1, (char *)a2, NULL};
  cli_opts_init(o);
  return cli_opts_parse(o, a2 ? 3 : 2, argv, err, sizeof(err));
}

static void test_opts(void) {
  cli_opts_t o;
  ASSERT_EQ(parse(&o, "--shard=2/5", "--shard-by=host"), 0);
  ASSERT(o.shard_given && o.shard_index == 2 && o.shard_count == 5);
  ASSERT(o.shard_by == CLI_SHARD_BY_HOST && o.shards == 0);
  ASSERT_EQ(parse(&o, "--shards=8", NULL), 0);
  ASSERT(!o.shard_given && o.shards == 8 && o.shard_by == CLI_SHARD_BY_URL);
  ASSERT_EQ(parse(&o, "--shard=5/5", NULL), -1);
  ASSERT(strstr(err, "--shard: '5/5'") != NULL);
  ASSERT_EQ(parse(&o, "--shard=a", NULL), -1);
  ASSERT(strstr(err, "--shard: 'a' is not I/N") != NULL);
  ASSERT_EQ(parse(&o, "--shard-by=path", NULL), -1);
  ASSERT(strstr(err, "--shard-by: 'path' is not one of url, host") != NULL);
  ASSERT_EQ(parse(&o, "--shards=0", NULL), -1);
  ASSERT(strstr(err, "--shards: '0'") != NULL);
}

int main(void) {
  test_fnv();
  test_parse();
  test_origin();
  test_keys();
  make_urls();
  test_partition();
  test_port_free_and_digest();
  test_resolve();
  test_json();
  test_opts();
  printf("test-shard: passed\n");
  return 0;
}
