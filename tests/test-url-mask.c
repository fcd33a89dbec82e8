/* Credentials are never printed (src/cli/url.c cli_mask_*): URLs alone and
 * inside free text, every shape of userinfo, the places that print URLs
 * (the failure line, the JSON report, the trace behind --har and
 * --waterfall), the --proxy check, and the banner's proxy line
 * (src/cli/netopts.c). */
#include "adl-test.h"
#include "netopts.h"
#include "report.h"
#include "trace.h"
#include "url.h"

#include <stdlib.h>
#include <unistd.h>

static void expect_mask(const char *in, const char *want) {
  char out[512];
  size_t n = cli_mask_credentials(in, out, sizeof(out));
  if (strcmp(out, want) != 0 || n != strlen(want))
    ADL_FAIL_("mask(\"%s\") = \"%s\" (%zu), want \"%s\"", in, out, n, want);
  char *dup = cli_mask_dup(in);
  ASSERT(dup != NULL);
  ASSERT_STR_EQ(dup, want);
  free(dup);
  ASSERT_EQ(cli_has_credentials(in), strcmp(in, want) != 0);
  char buf[512];
  ASSERT_STR_EQ(cli_mask_buf(in, buf, sizeof(buf)), want);
}

static void test_shapes(void) {
  expect_mask("http://u:p@h/x", "http://u:***@h/x");
  expect_mask("https://user:secret@127.0.0.1:8080/api?q=a@b#f@g",
              "https://user:***@127.0.0.1:8080/api?q=a@b#f@g");
  expect_mask("http://token@h", "http://***@h");          /* no colon: hidden */
  expect_mask("http://:pw@h/", "http://:***@h/");         /* empty user */
  expect_mask("http://u:@h/", "http://u:***@h/");         /* empty password */
  expect_mask("http://u:p@ss@h:1/", "http://u:***@h:1/"); /* '@' in it */
  expect_mask("http://u%40x:p%3A@h/", "http://u%40x:***@h/");
  expect_mask("socks5h://u:p@[::1]:1080", "socks5h://u:***@[::1]:1080");
  expect_mask("http://@h/", "http://@h/");             /* nothing to hide */
  expect_mask("http://h/a@b", "http://h/a@b");         /* '@' in the path */
  expect_mask("http://h?x=u:p@q", "http://h?x=u:p@q"); /* in the query */
  expect_mask("no url here: a:b@c", "no url here: a:b@c");
  expect_mask("", "");
  /* Free text: every URL in it, quoted or not. */
  expect_mask("malformed URL 'http://a:b@h x': contains a space",
              "malformed URL 'http://a:***@h x': contains a space");
  expect_mask("from http://a:1@x to \"https://b:2@y/\" and <ftp://c@z>",
              "from http://a:***@x to \"https://b:***@y/\" and <ftp://***@z>");
  expect_mask("://u:p@h", "://u:***@h");
  expect_mask("http://u:p@", "http://u:***@");
}

static void test_truncation(void) {
  const char *in = "http://user:longpassword@host/path";
  char out[16];
  size_t n = cli_mask_credentials(in, out, sizeof(out));
  ASSERT_EQ(n, strlen("http://user:***@host/path"));
  ASSERT_STR_EQ(out, "http://user:***");
  ASSERT(strstr(out, "long") == NULL);
  /* The password is decided on the whole input, not the part that fits. */
  char big[4096];
  snprintf(big, sizeof(big), "http://u:");
  memset(big + 9, 'S', 3000);
  snprintf(big + 3009, sizeof(big) - 3009, "@h/");
  char small[64];
  cli_mask_credentials(big, small, sizeof(small));
  ASSERT_STR_EQ(small, "http://u:***@h/");
  ASSERT_EQ(cli_mask_credentials(big, NULL, 0), strlen("http://u:***@h/"));
}

static void test_url_check_masks(void) {
  char why[300];
  ASSERT_EQ(cli_url_check("http://u:hunter2@h:0/x", why, sizeof(why)), -1);
  ASSERT(strstr(why, "hunter2") == NULL && strstr(why, "u:***@h:0") != NULL);
  ASSERT_EQ(cli_url_check("http://u:hunter2@h/a b", why, sizeof(why)), -1);
  ASSERT(strstr(why, "hunter2") == NULL && strstr(why, "space") != NULL);
  ASSERT_EQ(cli_url_check("gopher://u:hunter2@h/", why, sizeof(why)), -1);
  ASSERT(strstr(why, "hunter2") == NULL && strstr(why, "'gopher'") != NULL);
  ASSERT_EQ(cli_url_check("http://u:hunter2@h/", why, sizeof(why)), 0);

  ASSERT_EQ(cli_proxy_check("http://u:p@127.0.0.1:3128", why, sizeof(why)), 0);
  ASSERT_EQ(cli_proxy_check("socks5://[::1]:1080/", why, sizeof(why)), 0);
  ASSERT_EQ(cli_proxy_check("HTTPS://proxy.example", why, sizeof(why)), 0);
  ASSERT_EQ(cli_proxy_check("proxy:3128", why, sizeof(why)), -1);
  ASSERT(strstr(why, "not a proxy URL") != NULL);
  ASSERT_EQ(cli_proxy_check("ftp://u:hunter2@p:21", why, sizeof(why)), -1);
  ASSERT(strstr(why, "hunter2") == NULL && strstr(why, "u:***@p") != NULL);
  ASSERT_EQ(cli_proxy_check("http://u:hunter2@:3128", why, sizeof(why)), -1);
  ASSERT(strstr(why, "no host") != NULL && strstr(why, "hunter2") == NULL);
  ASSERT_EQ(cli_proxy_check("http://p:99999", why, sizeof(why)), -1);
  ASSERT(strstr(why, "bad port") != NULL);
}

/* Everything written to a memory stream by f(): the failure line. */
static void test_outputs(void) {
  adl_result_t res;
  memset(&res, 0, sizeof(res));
  res.status = ADL_ECONNREFUSED;
  res.url = "http://alice:s3cret@127.0.0.1:1/x";
  res.final_url = res.url;
  res.message = "Failed to connect to http://alice:s3cret@127.0.0.1:1/x";
  res.attempts = 1;
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ASSERT(f != NULL);
  cli_report_outcome(f, NULL, &res);
  ASSERT_EQ(fclose(f), 0);
  ASSERT(strstr(text, "s3cret") == NULL);
  ASSERT(strstr(text, "http://alice:***@127.0.0.1:1/x") != NULL);
  free(text);

  /* The JSON report: url, final_url and message masked. */
  char path[] = "/tmp/adl-test-mask-XXXXXX";
  int fd = mkstemp(path);
  ASSERT(fd >= 0);
  close(fd);
  char err[256];
  cli_json_t *j = cli_json_open(path, err, sizeof(err));
  ASSERT(j != NULL);
  cli_json_run_begin(j, "parallel", 1, 6);
  cli_json_item(j, res.url, NULL, &res);
  res.status = 0;
  res.url = "https://tok@h/y";
  res.final_url = "https://bob:pw2@h/z";
  res.message = "ok";
  cli_json_item(j, NULL, NULL, &res);
  cli_json_run_end(j, NULL, NULL);
  ASSERT_EQ(cli_json_close(j, NULL, 0), 0);
  f = fopen(path, "r");
  ASSERT(f != NULL);
  char doc[8192];
  size_t n = fread(doc, 1, sizeof(doc) - 1, f);
  doc[n] = '\0';
  fclose(f);
  unlink(path);
  ASSERT(strstr(doc, "s3cret") == NULL && strstr(doc, "pw2") == NULL);
  ASSERT(strstr(doc, "tok@") == NULL);
  ASSERT(strstr(doc, "\"url\": \"http://alice:***@127.0.0.1:1/x\"") != NULL);
  ASSERT(strstr(doc, "\"final_url\": \"https://bob:***@h/z\"") != NULL);
  ASSERT(strstr(doc, "\"url\": \"https://***@h/y\"") != NULL);

  /* The trace behind --har and --waterfall keeps the masked URL only. */
  cli_trace_t t;
  cli_trace_init(&t);
  ASSERT_EQ(cli_trace_begin_run(&t, ADL_STRATEGY_SERIAL, 1, 1, 0, 0), 0);
  res.url = "http://carol:pw3@h/q";
  ASSERT_EQ(cli_trace_add(&t, &res), 0);
  ASSERT_STR_EQ(t.reqs[0].url, "http://carol:***@h/q");
  cli_trace_free(&t);
}

static const char *fake_env(const char *name, void *ctx) {
  const char *const *kv = ctx;
  for (; kv[0] != NULL; kv += 2)
    if (strcmp(kv[0], name) == 0)
      return kv[1];
  return NULL;
}

static void test_proxy_banner(void) {
  cli_opts_t o;
  char buf[512];
  const char *none[] = {NULL};
  const char *env[] = {
      "http_proxy", "http://u:pw@127.0.0.1:3128", "NO_PROXY", "localhost",
      "HTTP_PROXY", "http://ignored:1",           NULL};
  cli_opts_init(&o);
  ASSERT_EQ(cli_proxy_describe(&o, fake_env, (void *)none, buf, sizeof(buf)),
            0);
  /* Not asked for: named, never its value, and said to be ignored. */
  ASSERT_GT(cli_proxy_describe(&o, fake_env, (void *)env, buf, sizeof(buf)), 0);
  ASSERT_STR_EQ(buf, "note: http_proxy, NO_PROXY are set but ignored: the "
                     "connections go to the server (--proxy=env honours "
                     "them)");
  o.proxy_env = 1;
  cli_proxy_describe(&o, fake_env, (void *)env, buf, sizeof(buf));
  ASSERT_STR_EQ(buf, "proxies from the environment (--proxy=env): "
                     "http_proxy=http://u:***@127.0.0.1:3128, "
                     "NO_PROXY=localhost");
  cli_proxy_describe(&o, fake_env, (void *)none, buf, sizeof(buf));
  ASSERT(strstr(buf, "no proxy variable is set") != NULL);
  o.proxy_env = 0;
  o.proxy = "socks5://me:pw@10.0.0.1:1080";
  cli_proxy_describe(&o, fake_env, (void *)env, buf, sizeof(buf));
  ASSERT(strstr(buf, "proxy: socks5://me:***@10.0.0.1:1080 (--proxy)") == buf);
  ASSERT(strstr(buf, "pw") == NULL);
  /* Cut to the buffer, terminated. */
  char tiny[10];
  ASSERT_EQ(cli_proxy_describe(&o, fake_env, (void *)env, tiny, sizeof(tiny)),
            9);
  ASSERT_STR_EQ(tiny, "proxy: so");
}

static void test_netopts(void) {
  cli_opts_t o;
  adl_options_t ao;
  cli_opts_init(&o);
  adl_options_init(&ao);
  unsigned def_streams = ao.max_streams;
  cli_netopts_apply(&o, ADL_STRATEGY_MULTIPLEX, &ao);
  ASSERT(ao.max_streams == def_streams && !ao.h2_prior_knowledge);
  ASSERT(!ao.no_compress && ao.proxy == NULL && !ao.proxy_env);
  ASSERT(ao.user_agent == NULL);
  o.local = 1;
  cli_netopts_apply(&o, ADL_STRATEGY_MULTIPLEX, &ao);
  ASSERT_EQ(ao.h2_prior_knowledge, 1); /* the fixture speaks HTTP/2 */
  cli_netopts_apply(&o, ADL_STRATEGY_PARALLEL, &ao);
  ASSERT_EQ(ao.h2_prior_knowledge, 0);
  o.local = 0;
  o.h2_prior_knowledge = o.no_compress = 1;
  o.max_streams = 9;
  o.proxy = "http://p:1";
  o.user_agent = "ua/1";
  cli_netopts_apply(&o, ADL_STRATEGY_SERIAL, &ao);
  ASSERT(ao.h2_prior_knowledge && ao.no_compress && ao.max_streams == 9);
  ASSERT_STR_EQ(ao.proxy, "http://p:1");
  ASSERT_STR_EQ(ao.user_agent, "ua/1");

  o.connections = 4;
  ASSERT_EQ(cli_netopts_k(&o, ADL_STRATEGY_SERIAL), 1);
  ASSERT_EQ(cli_netopts_k(&o, ADL_STRATEGY_SESSION), 1);
  ASSERT_EQ(cli_netopts_k(&o, ADL_STRATEGY_PARALLEL), 4);
  ASSERT_EQ(cli_netopts_k(&o, ADL_STRATEGY_MULTIPLEX), 4);
  ASSERT_EQ(cli_netopts_inflight(&o, ADL_STRATEGY_MULTIPLEX), 36);
  o.max_streams = 0;
  ASSERT_EQ(cli_netopts_inflight(&o, ADL_STRATEGY_MULTIPLEX), 400);
  ASSERT_EQ(cli_netopts_inflight(&o, ADL_STRATEGY_PARALLEL), 4);
}

int main(void) {
  test_shapes();
  test_truncation();
  test_url_check_masks();
  test_outputs();
  test_proxy_banner();
  test_netopts();
  return 0;
}
