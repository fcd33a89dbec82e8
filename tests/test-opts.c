/* Option parsing of the asyncdl tool (src/cli/opts.c): defaults, every
 * option, and every class of bad value with the message it must produce. */
#include "adl-test.h"
#include "opts.h"

#include <stdarg.h>

static char err[512];

/* Parses "asyncdl ARGS..." (NULL-terminated) into a fresh *o. getopt does
 * not write to the strings, so literals are fine behind the cast. */
static int parse(cli_opts_t *o, ...) {
  char *argv[32];
  int argc = 0;
  va_list ap;
  argv[argc++] = (char *)"asyncdl";
  va_start(ap, o);
  for (const char *a; (a = va_arg(ap, const char *)) != NULL;)
    argv[argc++] = (char *)a;
  va_end(ap);
  argv[argc] = NULL;
  memset(err, 'x', sizeof(err) - 1); /* a stale message must not pass */
  err[sizeof(err) - 1] = '\0';
  cli_opts_init(o);
  return cli_opts_parse(o, argc, argv, err, sizeof(err));
}

/* A usage error whose one-line message contains every given fragment. */
static void expect_error(const char *arg, const char *frag1,
                         const char *frag2) {
  cli_opts_t o;
  if (parse(&o, arg, NULL) != -1)
    ADL_FAIL_("'%s' was accepted", arg);
  if (strchr(err, '\n') != NULL || err[0] == '\0')
    ADL_FAIL_("'%s': message is not one line: \"%s\"", arg, err);
  if (strstr(err, frag1) == NULL || (frag2 && strstr(err, frag2) == NULL))
    ADL_FAIL_("'%s': message \"%s\" lacks \"%s\"/\"%s\"", arg, err, frag1,
              frag2 ? frag2 : "");
}

static void test_defaults(void) {
  cli_opts_t o;
  ASSERT_EQ(parse(&o, NULL), 0);
  ASSERT_EQ(o.strategy_all, 1);
  ASSERT_EQ(o.connections, 6);
  ASSERT_STR_EQ(o.base_url, "https://pokeapi.co/api/v2/pokemon/");
  ASSERT(o.list_path == NULL && o.out_dir == NULL && o.json_path == NULL);
  ASSERT(o.dns_server == NULL && o.cacert == NULL);
  ASSERT_EQ(o.repeat, 1);
  ASSERT_EQ(o.timeout_ms, 30000);
  ASSERT_EQ(o.connect_timeout_ms, 10000);
  ASSERT_EQ(o.local, 0);
  ASSERT_EQ(o.rtt_ms, 20);
  ASSERT_EQ(o.insecure, 0);
  ASSERT_EQ(o.http2, 0);
  ASSERT_EQ(o.retries, 2);
  ASSERT_EQ(o.max_size, 0);
  ASSERT_EQ(o.max_redirects, 5);
  ASSERT_EQ(o.quiet + o.help + o.version, 0);
}

static void test_each_option(void) {
  cli_opts_t o;
  ASSERT_EQ(parse(&o, "--strategy=serial", NULL), 0);
  ASSERT(!o.strategy_all && o.strategy == ADL_STRATEGY_SERIAL);
  ASSERT_EQ(parse(&o, "--strategy", "session", NULL), 0);
  ASSERT(!o.strategy_all && o.strategy == ADL_STRATEGY_SESSION);
  ASSERT_EQ(parse(&o, "--strategy=parallel", "--strategy=all", NULL), 0);
  ASSERT_EQ(o.strategy_all, 1);
  ASSERT_EQ(parse(&o, "--strategy=parallel", NULL), 0);
  ASSERT(!o.strategy_all && o.strategy == ADL_STRATEGY_PARALLEL);

  ASSERT_EQ(parse(&o, "--connections=1", NULL), 0);
  ASSERT_EQ(o.connections, 1);
  ASSERT_EQ(parse(&o, "--connections", "10000", NULL), 0);
  ASSERT_EQ(o.connections, 10000);
  ASSERT_EQ(parse(&o, "--connections=007", NULL), 0);
  ASSERT_EQ(o.connections, 7);
  ASSERT_EQ(o.per_host, 0); /* default: K */
  ASSERT_EQ(parse(&o, "--per-host=2", NULL), 0);
  ASSERT_EQ(o.per_host, 2);
  ASSERT_EQ(parse(&o, "--per-host=10001", NULL), -1);
  ASSERT_EQ(parse(&o, "--per-host=x", NULL), -1);
  ASSERT_EQ(parse(&o, "--repeat=1000", NULL), 0);
  ASSERT_EQ(o.repeat, 1000);
  ASSERT_EQ(parse(&o, "--retries=0", "--max-redirects=63", NULL), 0);
  ASSERT_EQ(o.retries, 0);
  ASSERT_EQ(o.max_redirects, 63);
  /* Above 63: refused, never silently capped. */
  ASSERT_EQ(parse(&o, "--max-redirects=64", NULL), -1);
  ASSERT_EQ(parse(&o, "--retries=100", "--max-redirects=0", NULL), 0);
  ASSERT_EQ(o.retries, 100);
  ASSERT_EQ(o.max_redirects, 0);

  ASSERT_EQ(parse(&o, "--base-url=http://127.0.0.1:8080/x", NULL), 0);
  ASSERT_STR_EQ(o.base_url, "http://127.0.0.1:8080/x");
  ASSERT_EQ(parse(&o, "--base-url", "HTTPS://[::1]/api/", NULL), 0);
  ASSERT_EQ(parse(&o, "--list=names.txt", "--out", "dir", NULL), 0);
  ASSERT_STR_EQ(o.list_path, "names.txt");
  ASSERT_STR_EQ(o.out_dir, "dir");
  ASSERT_EQ(parse(&o, "--list=-", "--json=-", NULL), 0);
  ASSERT_STR_EQ(o.list_path, "-");
  ASSERT_STR_EQ(o.json_path, "-");
  ASSERT_EQ(parse(&o, "--cacert=/etc/ca.pem", "-k", NULL), 0);
  ASSERT_STR_EQ(o.cacert, "/etc/ca.pem");
  ASSERT_EQ(o.insecure, 1);
  ASSERT_EQ(parse(&o, "--insecure", "--quiet", NULL), 0);
  ASSERT(o.insecure && o.quiet);
  ASSERT_EQ(parse(&o, "--http2", NULL), 0);
  ASSERT_EQ(o.http2, 1);
  ASSERT_EQ(parse(&o, "-qk", NULL), 0); /* clustered short options */
  ASSERT(o.insecure && o.quiet);
  ASSERT_EQ(parse(&o, "--local", "--rtt=0", NULL), 0);
  ASSERT(o.local && o.rtt_ms == 0);
  ASSERT_EQ(parse(&o, "--rtt=10000", "--local", NULL), 0);
  ASSERT_EQ(o.rtt_ms, 10000);
  ASSERT_EQ(parse(&o, "--connecti=3", NULL), 0); /* unique GNU abbreviation */
  ASSERT_EQ(o.connections, 3);

  static const struct {
    const char *arg;
    uint64_t ms;
  } secs[] = {{"--timeout=2.5", 2500},
              {"--timeout=.5", 500},
              {"--timeout=0.001", 1},
              {"--timeout=0.0001", 1},
              {"--timeout=1.0005", 1001},
              {"--timeout=86400", 86400000},
              {"--timeout=86400.000", 86400000},
              {"--timeout=3.", 3000}};
  for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
    ASSERT_EQ(parse(&o, secs[i].arg, NULL), 0);
    ASSERT_EQ(o.timeout_ms, secs[i].ms);
  }
  ASSERT_EQ(parse(&o, "--connect-timeout=0.25", NULL), 0);
  ASSERT_EQ(o.connect_timeout_ms, 250);

  static const struct {
    const char *arg;
    uint64_t bytes;
  } sizes[] = {{"--max-size=0", 0},
               {"--max-size=123", 123},
               {"--max-size=512K", 524288},
               {"--max-size=512k", 524288},
               {"--max-size=10M", 10485760},
               {"--max-size=1G", 1073741824},
               {"--max-size=16777215G", 16777215ull << 30}};
  for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    ASSERT_EQ(parse(&o, sizes[i].arg, NULL), 0);
    ASSERT_EQ(o.max_size, sizes[i].bytes);
  }

  static const char *const dns_ok[] = {
      "1.1.1.1", "1.1.1.1:53",    "[::1]:5353",
      "::1",     "[2001:db8::1]", "8.8.8.8,9.9.9.9:5353,[::1]:53"};
  for (size_t i = 0; i < sizeof(dns_ok) / sizeof(dns_ok[0]); i++) {
    if (parse(&o, "--dns-server", dns_ok[i], NULL) != 0)
      ADL_FAIL_("--dns-server %s refused: %s", dns_ok[i], err);
    ASSERT_STR_EQ(o.dns_server, dns_ok[i]);
  }
}

static void test_help_version(void) {
  cli_opts_t o;
  ASSERT_EQ(parse(&o, "-h", NULL), 0);
  ASSERT_EQ(o.help, 1);
  ASSERT_EQ(parse(&o, "--help", NULL), 0);
  ASSERT_EQ(o.help, 1);
  ASSERT_EQ(parse(&o, "-V", NULL), 0);
  ASSERT_EQ(o.version, 1);
  ASSERT_EQ(parse(&o, "--version", NULL), 0);
  ASSERT_EQ(o.version, 1);
  /* --help wins over whatever follows it, like in most tools. */
  ASSERT_EQ(parse(&o, "--help", "--connections=0", "stray", NULL), 0);
  ASSERT_EQ(o.help, 1);
  /* ... but not over an error before it. */
  ASSERT_EQ(parse(&o, "--connections=0", "--help", NULL), -1);
}

static void test_bad_numbers(void) {
  expect_error("--connections=0",
               "--connections: '0' is not an integer in 1..10000", NULL);
  static const char *const bad_int[] = {
      "",   "-1",   "abc", "1x",    " 1",
      "+1", "0x10", "1.5", "10001", "99999999999999999999999999"};
  char arg[128];
  for (size_t i = 0; i < sizeof(bad_int) / sizeof(bad_int[0]); i++) {
    char want[128];
    snprintf(arg, sizeof(arg), "--connections=%s", bad_int[i]);
    snprintf(want, sizeof(want), "'%s'", bad_int[i]);
    expect_error(arg, "--connections: ", want);
    snprintf(arg, sizeof(arg), "--repeat=%s", bad_int[i]);
    expect_error(arg, "--repeat: ", "1..1000");
    snprintf(arg, sizeof(arg), "--retries=%s", bad_int[i]);
    expect_error(arg, "--retries: ", "0..100");
    snprintf(arg, sizeof(arg), "--max-redirects=%s", bad_int[i]);
    expect_error(arg, "--max-redirects: ", "0..63");
  }
  expect_error("--repeat=0", "--repeat: '0'", NULL);
  expect_error("--retries=101", "--retries: '101'", NULL);
  expect_error("--rtt=10001", "--rtt: '10001'", "0..10000");
  expect_error("--rtt=-5", "--rtt: '-5'", NULL);

  static const char *const bad_secs[] = {
      "",    "0",     "0.0",
      "-1",  "abc",   "1e3",
      "inf", "nan",   ".",
      "1,5", "1.2.3", " 1",
      "1s",  "86401", "86400.001",
      "0x1", "+2",    "99999999999999999999999999"};
  for (size_t i = 0; i < sizeof(bad_secs) / sizeof(bad_secs[0]); i++) {
    char want[128];
    snprintf(want, sizeof(want), "'%s'", bad_secs[i]);
    snprintf(arg, sizeof(arg), "--timeout=%s", bad_secs[i]);
    expect_error(arg, "--timeout: ", want);
    snprintf(arg, sizeof(arg), "--connect-timeout=%s", bad_secs[i]);
    expect_error(arg, "--connect-timeout: ", want);
  }

  static const char *const bad_sizes[] = {
      "",   "K",    "1KB", "-1",   "abc",
      "1T", "1.5M", " 1",  "0x10", "18446744073709551616"};
  for (size_t i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
    char want[128];
    snprintf(want, sizeof(want), "'%s'", bad_sizes[i]);
    snprintf(arg, sizeof(arg), "--max-size=%s", bad_sizes[i]);
    expect_error(arg, "--max-size: ", want);
  }
  expect_error("--max-size=17179869184G", "--max-size: '17179869184G'",
               "too large");
}

static void test_bad_strings(void) {
  expect_error("--strategy=bogus", "--strategy: 'bogus'",
               "serial, session, parallel, multiplex, all");
  expect_error("--strategy=", "--strategy: ''", NULL);
  expect_error("--strategy=Serial", "'Serial'", NULL);
  expect_error("--list=", "--list: ", "empty");
  expect_error("--out=", "--out: ", "empty");
  expect_error("--json=", "--json: ", "empty");
  expect_error("--cacert=", "--cacert: ", "empty");

  expect_error("--base-url=", "--base-url: ", NULL);
  expect_error("--base-url=ftp://h/x", "--base-url: ", "'ftp'");
  expect_error("--base-url=file:///etc", "--base-url: ", "'file'");
  expect_error("--base-url=pokeapi.co/api", "--base-url: ", "not a URL");
  expect_error("--base-url=http://", "--base-url: ", "no host");
  expect_error("--base-url=http:///x", "--base-url: ", "no host");
  expect_error("--base-url=http://h /x", "--base-url: ", "space");
  expect_error("--base-url=http://h:99999/", "--base-url: ", "port");
  expect_error("--base-url=https://h/a?x=1", "--base-url: ", "query");
  expect_error("--base-url=https://h/a#top", "--base-url: ", "query");

  static const struct {
    const char *v, *frag;
  } dns[] = {{"", "must not be empty"},
             {"1.1.1.1,", "empty entry"},
             {"1.1.1.1,,2.2.2.2", "empty entry"},
             {"1.2.3", "'1.2.3' is not IP[:PORT]"},
             {"dns.google", "'dns.google'"},
             {"1.2.3.4:0", "'1.2.3.4:0' has a port outside 1..65535"},
             {"1.2.3.4:65536", "port outside"},
             {"1.2.3.4:", "port outside"},
             {"1.2.3.4:5x", "port outside"},
             {"[::1", "'[::1'"},
             {"[::1]x", "'[::1]x'"},
             {"[1.2.3.4]:53", "'[1.2.3.4]:53'"},
             {"256.1.1.1", "'256.1.1.1'"},
             {"8.8.8.8,bad", "'bad'"}};
  for (size_t i = 0; i < sizeof(dns) / sizeof(dns[0]); i++) {
    char arg[128];
    snprintf(arg, sizeof(arg), "--dns-server=%s", dns[i].v);
    expect_error(arg, "--dns-server: ", dns[i].frag);
  }
}

static void test_usage_errors(void) {
  cli_opts_t o;
  expect_error("--bogus", "unknown option '--bogus'", NULL);
  expect_error("--bogus=1", "unknown option '--bogus'", NULL);
  expect_error("-x", "unknown option '-x'", NULL);
  expect_error("--strategy", "--strategy: a value is required", NULL);
  expect_error("--quiet=1", "--quiet: the option takes no value", NULL);
  expect_error("--con=5", "ambiguous option '--con'", "--connections");
  expect_error("-", "argument '-'", "--list=-");
  expect_error("--rtt=5", "--rtt: only meaningful with --local", NULL);

  ASSERT_EQ(parse(&o, "--local", "--base-url=http://h/", NULL), -1);
  ASSERT(strstr(err, "--base-url") != NULL && strstr(err, "--local"));
  /* A control character in a bad value is shown escaped, not raw. */
  ASSERT_EQ(parse(&o, "--connections=1\x1b[2J", NULL), -1);
  ASSERT(strchr(err, 0x1b) == NULL && strstr(err, "\\x1B[2J") != NULL);
  /* A huge value is shortened in the message. */
  char big[4096];
  memset(big, '9', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  ASSERT_EQ(parse(&o, "--repeat", big, NULL), -1);
  ASSERT(strlen(err) < 200 && strstr(err, "...") != NULL);
}

/* getopt keeps state between calls; a parse must not inherit it. */
static void test_repeated_calls(void) {
  cli_opts_t o;
  /* Parses that stop inside a cluster leave getopt pointing at the rest
   * ("q"); the next parse must not resume there. */
  ASSERT_EQ(parse(&o, "-zq", NULL), -1);
  ASSERT_EQ(parse(&o, "-k", NULL), 0);
  ASSERT(o.insecure && !o.quiet);
  ASSERT_EQ(parse(&o, "-hq", NULL), 0);
  ASSERT(o.help && !o.quiet);
  ASSERT_EQ(parse(&o, "-k", NULL), 0);
  ASSERT(o.insecure && !o.quiet && !o.help);
  ASSERT_EQ(parse(&o, "--connections", NULL), -1);
  ASSERT_EQ(parse(&o, "--connections=9", NULL), 0);
  ASSERT_EQ(o.connections, 9);
  for (int i = 0; i < 100; i++) {
    ASSERT_EQ(parse(&o, "-q", "--repeat=3", NULL), 0);
    ASSERT(o.quiet && o.repeat == 3);
  }
}

static void test_usage_text(void) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ASSERT(f != NULL);
  cli_usage(f);
  ASSERT_EQ(fclose(f), 0);
  static const char *const must[] = {"Usage: asyncdl",
                                     "--strategy=",
                                     "--connections=K",
                                     "(default: 6)",
                                     "--base-url=",
                                     "--list=FILE",
                                     "--out=DIR",
                                     "--repeat=R",
                                     "--json=FILE",
                                     "--dns-server",
                                     "--timeout=S",
                                     "(default: 30)",
                                     "--connect-timeout=S",
                                     "(default: 10)",
                                     "--local",
                                     "--rtt=MS",
                                     "(default: 20)",
                                     "--cacert=FILE",
                                     "-k, --insecure",
                                     "--retries=N",
                                     "--max-size=BYTES",
                                     "--max-redirects=N",
                                     "-q, --quiet",
                                     "-h, --help",
                                     "-V, --version",
                                     "--strategy=NAME",
                                     "multiplex",
                                     "--streams=N",
                                     "--http2-prior-knowledge",
                                     "--no-compress",
                                     "-H, --header=LINE",
                                     "-A, --user-agent=UA",
                                     "--proxy=URL|env",
                                     "--skip-existing",
                                     "--update",
                                     "URL|NAME",
                                     "Exit status:",
                                     "  0 ",
                                     "  1 ",
                                     "  2 ",
                                     "  3 ",
                                     "  130 ",
                                     CLI_DEFAULT_BASE_URL};
  for (size_t i = 0; i < sizeof(must) / sizeof(must[0]); i++)
    if (strstr(text, must[i]) == NULL)
      ADL_FAIL_("usage lacks \"%s\"", must[i]);
  /* Fits an 80-column terminal. */
  for (const char *p = text; *p != '\0';) {
    size_t n = strcspn(p, "\n");
    ASSERT_LE(n, 79);
    p += n + (p[n] == '\n');
  }
  free(text);
}

/* URLs and names as arguments (issue 10). */
static void test_operands(void) {
  cli_opts_t o;
  ASSERT_EQ(parse(&o, "pikachu", NULL), 0);
  ASSERT_EQ(o.noperands, 1);
  ASSERT_STR_EQ(o.operands[0], "pikachu");
  cli_opts_free(&o);
  ASSERT(o.operands == NULL && o.noperands == 0);
  /* Options may follow operands; argv is not reordered. */
  char *argv[] = {(char *)"asyncdl", (char *)"mew", (char *)"--quiet",
                  (char *)"http://127.0.0.1:8080/a/b?x=1", (char *)"-k",
                  NULL};
  cli_opts_init(&o);
  ASSERT_EQ(cli_opts_parse(&o, 5, argv, err, sizeof(err)), 0);
  ASSERT(o.quiet && o.insecure && o.noperands == 2);
  ASSERT_STR_EQ(o.operands[0], "mew");
  ASSERT_STR_EQ(o.operands[1], "http://127.0.0.1:8080/a/b?x=1");
  ASSERT_STR_EQ(argv[1], "mew");
  ASSERT_STR_EQ(argv[2], "--quiet");
  cli_opts_free(&o);
  /* After "--" everything is an operand, even what looks like an option. */
  ASSERT_EQ(parse(&o, "--quiet", "--", "x", "-k", NULL), 0);
  ASSERT(o.quiet && !o.insecure && o.noperands == 2);
  ASSERT_STR_EQ(o.operands[1], "-k");
  cli_opts_free(&o);
  /* An option's own value "--" is a value, not the end of the options. */
  ASSERT_EQ(parse(&o, "--out", "--", "-q", NULL), 0);
  ASSERT(o.quiet && o.noperands == 0);
  ASSERT_STR_EQ(o.out_dir, "--");
  cli_opts_free(&o);
  /* Bad operands name the argument and say why. */
  expect_error("pika chu", "argument 1: ", "' ' is not allowed");
  expect_error("ftp://h/x", "argument 1: ", "'ftp'");
  expect_error("#x", "argument 1: ", "'#'");
  ASSERT_EQ(parse(&o, "mew", "", NULL), -1);
  ASSERT(strstr(err, "argument 2 is empty") != NULL);
  cli_opts_free(&o);
  ASSERT_EQ(parse(&o, "mew", "--list=x.txt", NULL), -1);
  ASSERT(strstr(err, "not both") != NULL);
  cli_opts_free(&o);
  /* A password in a bad URL is never echoed. */
  ASSERT_EQ(parse(&o, "http://u:s3cret@h:99999/", NULL), -1);
  ASSERT(strstr(err, "bad port") != NULL && strstr(err, "s3cret") == NULL &&
         strstr(err, "u:***@h") != NULL);
  cli_opts_free(&o);
  /* 200 operands: all kept, in order. */
  char *many[203];
  char names[200][8];
  many[0] = (char *)"asyncdl";
  for (int i = 0; i < 200; i++) {
    snprintf(names[i], sizeof(names[i]), "n%d", i);
    many[i + 1] = names[i];
  }
  many[201] = (char *)"-q";
  many[202] = NULL;
  cli_opts_init(&o);
  ASSERT_EQ(cli_opts_parse(&o, 202, many, err, sizeof(err)), 0);
  ASSERT(o.noperands == 200 && o.quiet);
  ASSERT_STR_EQ(o.operands[199], "n199");
  cli_opts_free(&o);
}

static void test_issue10_options(void) {
  cli_opts_t o;
  ASSERT_EQ(parse(&o, NULL), 0);
  ASSERT(o.max_streams == 0 && !o.h2_prior_knowledge && !o.no_compress);
  ASSERT(o.user_agent == NULL && o.proxy == NULL && !o.proxy_env);
  ASSERT(!o.skip_existing && !o.update && o.nheaders == 0);
  ASSERT(o.headers[0] == NULL);

  ASSERT_EQ(parse(&o, "--strategy=multiplex", "--streams=7", NULL), 0);
  ASSERT(!o.strategy_all && o.strategy == ADL_STRATEGY_MULTIPLEX);
  ASSERT_EQ(o.max_streams, 7);
  ASSERT_EQ(parse(&o, "--streams=1000", NULL), 0); /* with all */
  expect_error("--streams=0", "--streams: '0'", "1..1000");
  expect_error("--streams=1001", "--streams: '1001'", NULL);
  cli_opts_t p;
  ASSERT_EQ(parse(&p, "--strategy=parallel", "--streams=4", NULL), -1);
  ASSERT(strstr(err, "--streams: only meaningful") != NULL);
  ASSERT_EQ(parse(&o, "--http2-prior-knowledge", "--no-compress", NULL), 0);
  ASSERT(o.h2_prior_knowledge && o.no_compress);

  ASSERT_EQ(parse(&o, "-H", "X-Asyncdl-Test: one", "--header=Accept:",
                  "-HAuthorization: Bearer t0k3n", NULL),
            0);
  ASSERT_EQ(o.nheaders, 3);
  ASSERT_STR_EQ(o.headers[0], "X-Asyncdl-Test: one");
  ASSERT_STR_EQ(o.headers[1], "Accept:");
  ASSERT_STR_EQ(o.headers[2], "Authorization: Bearer t0k3n");
  ASSERT(o.headers[3] == NULL);
  /* Header values may be secrets: messages name the header only. */
  expect_error("-HAuthorization Bearer t0k3n", "--header: ",
               "'Authorization'");
  ASSERT(strstr(err, "t0k3n") == NULL && strstr(err, "no ':'") != NULL);
  expect_error("-H: v", "a header needs a name", NULL);
  expect_error("-HBad Name: v", "'Bad Name' is not a header name", NULL);
  expect_error("-HX-Token: a\r\nHost: evil", "control character", NULL);
  ASSERT(strstr(err, "evil") == NULL);
  char *hv[2 + 2 * 65];
  int hc = 0;
  hv[hc++] = (char *)"asyncdl";
  for (int i = 0; i < 65; i++) {
    hv[hc++] = (char *)"-H";
    hv[hc++] = (char *)"X-A: b";
  }
  hv[hc] = NULL;
  cli_opts_init(&o);
  ASSERT_EQ(cli_opts_parse(&o, hc, hv, err, sizeof(err)), -1);
  ASSERT(strstr(err, "more than 64 headers") != NULL);
  cli_opts_init(&o);
  ASSERT_EQ(cli_opts_parse(&o, hc - 2, hv, err, sizeof(err)), 0);
  ASSERT_EQ(o.nheaders, 64);

  ASSERT_EQ(parse(&o, "-A", "my-agent/1.0", NULL), 0);
  ASSERT_STR_EQ(o.user_agent, "my-agent/1.0");
  ASSERT_EQ(parse(&o, "--user-agent=x y", NULL), 0);
  ASSERT_STR_EQ(o.user_agent, "x y");
  expect_error("--user-agent=", "--user-agent: ", "empty");
  expect_error("-Aa\nb", "control character", NULL);

  ASSERT_EQ(parse(&o, "--proxy=http://u:p@127.0.0.1:3128", NULL), 0);
  ASSERT_STR_EQ(o.proxy, "http://u:p@127.0.0.1:3128");
  ASSERT_EQ(o.proxy_env, 0);
  ASSERT_EQ(parse(&o, "--proxy=socks5h://[::1]:1080/", NULL), 0);
  ASSERT_EQ(parse(&o, "--proxy=http://p:1", "--proxy=env", NULL), 0);
  ASSERT(o.proxy == NULL && o.proxy_env == 1);
  ASSERT_EQ(parse(&o, "--proxy=env", "--proxy=https://p:1", NULL), 0);
  ASSERT(o.proxy != NULL && o.proxy_env == 0);
  expect_error("--proxy=", "--proxy: ", "empty");
  expect_error("--proxy=127.0.0.1:3128", "--proxy: ", "not a proxy URL");
  expect_error("--proxy=ftp://h:1", "--proxy: ", "not a proxy URL");
  expect_error("--proxy=http://u:hunter2@h:0", "--proxy: ", "bad port");
  ASSERT(strstr(err, "hunter2") == NULL && strstr(err, "u:***@h:0"));

  ASSERT_EQ(parse(&o, "--out=d", "--skip-existing", NULL), 0);
  ASSERT(o.skip_existing && !o.update);
  ASSERT_EQ(parse(&o, "--update", "--out=d", NULL), 0);
  ASSERT(o.update && !o.skip_existing);
  ASSERT_EQ(parse(&o, "--update", NULL), -1);
  ASSERT(strstr(err, "--update: needs --out") != NULL);
  ASSERT_EQ(parse(&o, "--skip-existing", NULL), -1);
  ASSERT(strstr(err, "--skip-existing: needs --out") != NULL);
  ASSERT_EQ(parse(&o, "--out=d", "--update", "--skip-existing", NULL), -1);
  ASSERT(strstr(err, "cannot be combined") != NULL);
}

int main(void) {
  test_defaults();
  test_each_option();
  test_help_version();
  test_bad_numbers();
  test_bad_strings();
  test_usage_errors();
  test_repeated_calls();
  test_usage_text();
  test_operands();
  test_issue10_options();
  return 0;
}
