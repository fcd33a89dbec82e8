/* Output formatting (src/cli/report.c): the comparison table and its
 * figures, the per-URL lines, and the streamed JSON report, which is parsed
 * back by a strict validator here (and by python3 when it is installed). */
#include "adl-test.h"
#include "report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio_ext.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static char err[512];

/* ---- a strict JSON validator (RFC 8259), enough to catch any slip ----- */

typedef struct {
  const char *p, *end;
} jp_t;

static int jv_value(jp_t *j, int depth);

static void jv_ws(jp_t *j) {
  while (j->p < j->end && strchr(" \t\r\n", *j->p) != NULL)
    j->p++;
}

static int jv_lit(jp_t *j, const char *lit) {
  size_t n = strlen(lit);
  if ((size_t)(j->end - j->p) < n || memcmp(j->p, lit, n) != 0)
    return 0;
  j->p += n;
  return 1;
}

static int jv_string(jp_t *j) {
  if (j->p >= j->end || *j->p++ != '"')
    return 0;
  while (j->p < j->end && *j->p != '"') {
    unsigned char c = (unsigned char)*j->p;
    if (c < 0x20)
      return 0; /* raw control character */
    if (c == '\\') {
      j->p++;
      if (j->p >= j->end)
        return 0;
      if (*j->p == 'u') {
        for (int i = 1; i <= 4; i++)
          if (j->p + i >= j->end || !strchr("0123456789abcdefABCDEF", j->p[i]))
            return 0;
        j->p += 5;
      } else if (strchr("\"\\/bfnrt", *j->p) != NULL && *j->p != '\0') {
        j->p++;
      } else {
        return 0;
      }
      continue;
    }
    if (c >= 0x80) { /* must be well-formed UTF-8 */
      int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
      if (n == 0 || c > 0xF4 || j->end - j->p < n)
        return 0;
      for (int i = 1; i < n; i++)
        if (((unsigned char)j->p[i] & 0xC0) != 0x80)
          return 0;
      j->p += n;
      continue;
    }
    j->p++;
  }
  if (j->p >= j->end)
    return 0;
  j->p++;
  return 1;
}

static int jv_digits(jp_t *j) {
  const char *s = j->p;
  while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
    j->p++;
  return j->p > s;
}

static int jv_number(jp_t *j) {
  if (j->p < j->end && *j->p == '-')
    j->p++;
  if (j->p < j->end && *j->p == '0')
    j->p++;
  else if (!jv_digits(j))
    return 0;
  if (j->p < j->end && *j->p == '.') {
    j->p++;
    if (!jv_digits(j))
      return 0;
  }
  if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
    j->p++;
    if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
      j->p++;
    if (!jv_digits(j))
      return 0;
  }
  return 1;
}

static int jv_container(jp_t *j, int depth, char close, int keyed) {
  j->p++;
  jv_ws(j);
  if (j->p < j->end && *j->p == close) {
    j->p++;
    return 1;
  }
  for (;;) {
    jv_ws(j);
    if (keyed) {
      if (!jv_string(j))
        return 0;
      jv_ws(j);
      if (j->p >= j->end || *j->p++ != ':')
        return 0;
    }
    if (!jv_value(j, depth + 1))
      return 0;
    jv_ws(j);
    if (j->p >= j->end)
      return 0;
    if (*j->p == close) {
      j->p++;
      return 1;
    }
    if (*j->p++ != ',')
      return 0;
  }
}

static int jv_value(jp_t *j, int depth) {
  jv_ws(j);
  if (depth > 64 || j->p >= j->end)
    return 0;
  switch (*j->p) {
  case '{':
    return jv_container(j, depth, '}', 1);
  case '[':
    return jv_container(j, depth, ']', 0);
  case '"':
    return jv_string(j);
  case 't':
    return jv_lit(j, "true");
  case 'f':
    return jv_lit(j, "false");
  case 'n':
    return jv_lit(j, "null");
  default:
    return jv_number(j);
  }
}

static int json_valid(const char *text, size_t len) {
  jp_t j = {text, text + len};
  if (!jv_value(&j, 0))
    return 0;
  jv_ws(&j);
  return j.p == j.end;
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  ASSERT(f != NULL);
  char *buf = malloc(1 << 20);
  ASSERT(buf != NULL);
  *len = fread(buf, 1, (1 << 20) - 1, f);
  buf[*len] = '\0';
  fclose(f);
  return buf;
}

/* Validates the file here, then (when python3 exists) runs a Python check
 * on the parsed document: `d` is the document, a failed assert exits 1.
 * Where python3-jsonschema is installed, the document must also match
 * docs/report.schema.json (tests/test-schema.sh does the same for the
 * tool's real reports). */
static void check_json_file(const char *path, const char *py_assertions) {
  size_t len;
  char *text = slurp(path, &len);
  if (!json_valid(text, len))
    ADL_FAIL_("invalid JSON in %s:\n%s", path, text);
  free(text);
  if (system("command -v python3 >/dev/null 2>&1") != 0)
    return;
  char script[512], cmd[1024];
  snprintf(script, sizeof(script), "%s/check.py", dir);
  FILE *f = fopen(script, "w");
  ASSERT(f != NULL);
  fprintf(f,
          "import json, os, sys\nd = json.load(open(sys.argv[1], "
          "encoding='utf-8'))\n"
          "root = os.environ.get('ADL_SOURCE_ROOT')\n"
          "try:\n    import jsonschema\nexcept ImportError:\n"
          "    jsonschema = None\n"
          "if root and jsonschema:\n"
          "    s = json.load(open(os.path.join(root, 'docs', "
          "'report.schema.json')))\n"
          "    errs = list(jsonschema.Draft7Validator(s).iter_errors(d))\n"
          "    for e in errs:\n"
          "        print('schema: %%s: %%s' %% (list(e.absolute_path), "
          "e.message))\n"
          "    assert not errs\n"
          "%s\n",
          py_assertions);
  ASSERT_EQ(fclose(f), 0);
  snprintf(cmd, sizeof(cmd), "python3 '%s' '%s'", script, path);
  if (system(cmd) != 0)
    ADL_FAIL_("python3 rejected %s", path);
  unlink(script);
}

static void test_validator_itself(void) {
  static const char *const good[] = {"{}", "[]", "[1,-0.5,2e3,\"\\u00e9\"]",
                                     "{\"a\":{\"b\":[null,true,false]}}"};
  static const char *const bad[] = {
      "{",       "[1,]",     "{\"a\"}", "\"\x01\"",   "\"\\x\"", "01",
      "[1] [2]", "\"\xff\"", "nul",     "{\"a\":1,}", "[.5]"};
  for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
    ASSERT(json_valid(good[i], strlen(good[i])));
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (json_valid(bad[i], strlen(bad[i])))
      ADL_FAIL_("validator accepted %s", bad[i]);
}

/* ---- table ------------------------------------------------------------- */

static cli_row_t make_row(const char *strategy, unsigned k, uint64_t wall_us) {
  cli_row_t r;
  memset(&r, 0, sizeof(r));
  r.strategy = strategy;
  r.max_connections = k;
  r.repeats = 1;
  r.median.wall_us = wall_us;
  r.median.requests = 151;
  r.median.ok = 151;
  r.median.bytes = 1850000;
  r.median.connections = k;
  r.median.requests_per_s = 151.0 / ((double)wall_us / 1e6);
  r.median.bytes_per_s = 1234567.0;
  r.median.p50_us = 12345;
  r.median.p95_us = 99950;
  r.wall_min_us = r.wall_max_us = wall_us;
  return r;
}

static char *table_text(const cli_row_t *rows, size_t n) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ASSERT(f != NULL);
  cli_report_table(f, rows, n);
  ASSERT_EQ(fclose(f), 0);
  return text;
}

/* The line of text whose first word is word (NUL-terminated copy). */
static const char *line_of(const char *text, const char *word, char *buf,
                           size_t cap) {
  for (const char *p = text; *p != '\0';) {
    size_t n = strcspn(p, "\n");
    if (strncmp(p, word, strlen(word)) == 0 && p[strlen(word)] == ' ') {
      snprintf(buf, cap, "%.*s", (int)n, p);
      return buf;
    }
    p += n + (p[n] == '\n');
  }
  ADL_FAIL_("no line for %s in:\n%s", word, text);
}

static void expect_cells(const char *line, const char *const *cells, size_t n) {
  char copy[512], *save = NULL;
  size_t i = 0;
  snprintf(copy, sizeof(copy), "%s", line);
  for (char *t = strtok_r(copy, " ", &save); t != NULL;
       t = strtok_r(NULL, " ", &save), i++) {
    ASSERT_LT(i, n);
    if (strcmp(t, cells[i]) != 0)
      ADL_FAIL_("cell %zu of \"%s\" is \"%s\", expected \"%s\"", i, line, t,
                cells[i]);
  }
  ASSERT_EQ(i, n);
}

/* Aligned: every line has the same width, no trailing blanks, no ANSI;
 * returns the width. */
static size_t check_aligned(const char *text, size_t nlines) {
  size_t width = strcspn(text, "\n"), lines = 0;
  for (const char *p = text; *p != '\0'; lines++) {
    size_t n = strcspn(p, "\n");
    ASSERT_EQ(n, width);
    ASSERT(p[n - 1] != ' ');
    p += n + 1;
  }
  ASSERT_EQ(lines, nlines);
  ASSERT(strchr(text, '\x1b') == NULL);
  ASSERT(strncmp(text + width + 1, "--------  ", 10) == 0);
  return width;
}

static void test_table(void) {
  cli_row_t rows[3] = {make_row("serial", 1, 3000000),
                       make_row("session", 1, 1500000),
                       make_row("parallel", 6, 500000)};
  rows[0].median.connections = 151;
  rows[1].median.failed = 2;
  rows[1].median.ok = 149; /* req/s counts successes only */
  char *text = table_text(rows, 3), buf[512];

  /* One run each: no min-max column. */
  static const char *const head1[] = {
      "strategy", "wall", "s",   "req/s", "MB",   "MB/s",   "conns",
      "p50",      "ms",   "p95", "ms",    "fail", "speedup"};
  expect_cells(line_of(text, "strategy", buf, sizeof(buf)), head1, 13);
  static const char *const serial1[] = {"serial", "3.000", "50.3", "1.85",
                                        "1.23",   "151",   "12.3", "100.0",
                                        "0",      "1.00x"};
  expect_cells(line_of(text, "serial", buf, sizeof(buf)), serial1, 10);
  static const char *const session1[] = {"session", "1.500", "99.3", "1.85",
                                         "1.23",    "1",     "12.3", "100.0",
                                         "2",       "2.00x"};
  expect_cells(line_of(text, "session", buf, sizeof(buf)), session1, 10);
  ASSERT_LE(check_aligned(text, 5), 80); /* header, rule, three rows */
  ASSERT(strstr(text, "min-max") == NULL);
  free(text);

  /* A row over several runs brings the min-max column, for every row. */
  rows[2].repeats = 3;
  rows[2].wall_min_us = 480000;
  rows[2].wall_max_us = 1234567;
  text = table_text(rows, 3);
  static const char *const head[] = {
      "strategy", "wall", "s",  "min-max", "req/s", "MB",   "MB/s",
      "conns",    "p50",  "ms", "p95",     "ms",    "fail", "speedup"};
  expect_cells(line_of(text, "strategy", buf, sizeof(buf)), head, 14);
  static const char *const serial[] = {"serial", "3.000", "-",    "50.3",
                                       "1.85",   "1.23",  "151",  "12.3",
                                       "100.0",  "0",     "1.00x"};
  expect_cells(line_of(text, "serial", buf, sizeof(buf)), serial, 11);
  static const char *const session[] = {"session", "1.500", "-",    "99.3",
                                        "1.85",    "1.23",  "1",    "12.3",
                                        "100.0",   "2",     "2.00x"};
  expect_cells(line_of(text, "session", buf, sizeof(buf)), session, 11);
  static const char *const par[] = {"parallel", "0.500", "0.480-1.235", "302.0",
                                    "1.85",     "1.23",  "6",           "12.3",
                                    "100.0",    "0",     "6.00x"};
  expect_cells(line_of(text, "parallel", buf, sizeof(buf)), par, 11);
  check_aligned(text, 5);
  free(text);

  /* Without a serial row there is no speedup; a zero wall time neither
   * (nor a rate). */
  rows[0] = make_row("session", 1, 0);
  text = table_text(rows, 2);
  static const char *const zero[] = {
      "session", "0.000", "-", "1.85", "1.23", "1", "12.3", "100.0", "0", "-"};
  expect_cells(line_of(text, "session", buf, sizeof(buf)), zero, 10);
  ASSERT(strstr(text, "x\n") == NULL);
  free(text);

  /* No rows: just the header and the rule. */
  text = table_text(rows, 0);
  ASSERT(strncmp(text, "strategy  wall s  req/s", 23) == 0);
  check_aligned(text, 2);
  free(text);
}

/* Issue 10: wire MB, skipped and not mod appear only when a row has
 * something in them, and the report's rows carry them. */
static void test_table_rerun_columns(void) {
  cli_row_t rows[2] = {make_row("parallel", 6, 500000),
                       make_row("multiplex", 6, 250000)};
  rows[0].wire_bytes = rows[0].median.bytes; /* not compressed */
  char *text = table_text(rows, 2), buf[512];
  ASSERT(strstr(text, "wire MB") == NULL && strstr(text, "skipped") == NULL &&
         strstr(text, "not mod") == NULL);
  free(text);
  rows[1].wire_bytes = 196331; /* gzip */
  rows[1].skipped = 3;
  rows[1].not_modified = 148;
  text = table_text(rows, 2);
  static const char *const head[] = {
      "strategy", "wall", "s",   "req/s", "MB",   "wire",    "MB",  "MB/s",
      "conns",    "p50",  "ms",  "p95",   "ms",   "fail",    "skipped",
      "not",      "mod",  "speedup"};
  expect_cells(line_of(text, "strategy", buf, sizeof(buf)), head, 18);
  static const char *const mux[] = {"multiplex", "0.250", "604.0", "1.85",
                                    "0.20",      "1.23",  "6",     "12.3",
                                    "100.0",     "0",     "3",     "148",
                                    "-"};
  expect_cells(line_of(text, "multiplex", buf, sizeof(buf)), mux, 13);
  static const char *const par[] = {"parallel", "0.500", "302.0", "1.85",
                                    "1.85",     "1.23",  "6",     "12.3",
                                    "100.0",    "0",     "0",     "0",
                                    "-"};
  expect_cells(line_of(text, "parallel", buf, sizeof(buf)), par, 13);
  /* Aligned (a 9-letter strategy widens the first column). */
  size_t width = strcspn(text, "\n"), lines = 0;
  for (const char *p = text; *p != '\0'; lines++, p += width + 1)
    ASSERT_EQ(strcspn(p, "\n"), width);
  ASSERT_EQ(lines, 4);
  ASSERT(strncmp(text + width + 1, "---------  ", 11) == 0);
  free(text);
}

static void test_median(void) {
  uint64_t a[] = {5, 1, 3};
  ASSERT_EQ(cli_median_u64(a, 3), 3);
  ASSERT(a[0] == 1 && a[1] == 3 && a[2] == 5); /* sorted in place */
  uint64_t b[] = {40, 10, 30, 20};
  ASSERT_EQ(cli_median_u64(b, 4), 20); /* the lower middle: a real run */
  uint64_t c[] = {7};
  ASSERT_EQ(cli_median_u64(c, 1), 7);
  ASSERT_EQ(cli_median_u64(NULL, 0), 0);
  uint64_t d[] = {UINT64_MAX, 0, UINT64_MAX, 2, 2};
  ASSERT_EQ(cli_median_u64(d, 5), 2);
}

/* ---- per-URL lines ----------------------------------------------------- */

static adl_result_t make_result(int status, const char *msg) {
  adl_result_t r;
  memset(&r, 0, sizeof(r));
  r.status = status;
  r.message = msg;
  r.url = "http://h/x";
  r.attempts = 1;
  return r;
}

static char *outcome_text(const char *url, const adl_result_t *r) {
  char *text = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&text, &len);
  ASSERT(f != NULL);
  cli_report_outcome(f, url, r);
  ASSERT_EQ(fclose(f), 0);
  return text;
}

static void test_outcome_lines(void) {
  adl_result_t r = make_result(ADL_ETIMEDOUT, "timed out after 30000 ms");
  r.attempts = 3;
  char *t = outcome_text("https://pokeapi.co/api/v2/pokemon/mew", &r);
  ASSERT_STR_EQ(t, "asyncdl: FAILED https://pokeapi.co/api/v2/pokemon/mew: "
                   "ETIMEDOUT (timed out after 30000 ms, 3 attempts)\n");
  free(t);

  r = make_result(ADL_EHTTP, "server answered 404");
  r.http_status = 404;
  t = outcome_text(NULL, &r); /* the URL then comes from the result */
  ASSERT_STR_EQ(t, "asyncdl: FAILED http://h/x: EHTTP (server answered 404, "
                   "HTTP 404)\n");
  free(t);

  /* An empty detail falls back to the code's text; escapes are defused. */
  r = make_result(ADL_ECONNREFUSED, "");
  t = outcome_text("http://h/\x1b[2J", &r);
  ASSERT_STR_EQ(t, "asyncdl: FAILED http://h/\\x1B[2J: ECONNREFUSED "
                   "(connection refused)\n");
  free(t);

  r = make_result(0, "ok");
  t = outcome_text("http://h/x", &r);
  ASSERT_STR_EQ(t, ""); /* successes are not failures */
  free(t);
}

/* ---- JSON -------------------------------------------------------------- */

static adl_summary_t make_summary(adl_strategy_t s, uint64_t wall_us) {
  adl_summary_t m;
  memset(&m, 0, sizeof(m));
  m.strategy = s;
  m.max_connections = 6;
  m.requests = 2;
  m.ok = 1;
  m.failed = 1;
  m.bytes = 4096;
  m.connections = 2;
  m.wall_us = wall_us;
  m.p50_us = 1500;
  m.p95_us = 2500;
  m.max_us = 2600;
  m.requests_per_s = 2.0 / ((double)wall_us / 1e6);
  m.bytes_per_s = NAN; /* no JSON number for it: must become null */
  return m;
}

static void test_json_report(void) {
  char path[512], tmp[600];
  struct stat st;
  snprintf(path, sizeof(path), "%s/report.json", dir);
  snprintf(tmp, sizeof(tmp), "%s.tmp-%ld-0", path, (long)getpid());
  cli_json_t *j = cli_json_open(path, err, sizeof(err));
  ASSERT(j != NULL);
  ASSERT_EQ(stat(tmp, &st), 0);  /* written aside ... */
  ASSERT_NE(stat(path, &st), 0); /* ... until closed */

  adl_result_t ok = make_result(0, "ok");
  ok.http_status = 200;
  ok.bytes = 4096;
  ok.dns_us = 1234;
  ok.connect_us = 1;
  ok.tls_us = 999999;
  ok.ttfb_us = 5000;
  ok.total_us = 123456789;
  ok.new_connections = 1;
  ok.local_port = 50000;
  adl_result_t bad = make_result(ADL_EHTTP, "bad \"thing\"\\\n\t\x01\xff end");
  bad.http_status = 404;
  bad.attempts = 3;

  cli_json_run_begin(j, "serial", 1, 1);
  cli_json_item(j, "http://h/a\"b\\c", "out/a.json", &ok);
  cli_json_item(j, "http://h/caf\xC3\xA9", NULL, &bad);
  cli_json_run_end(j,
                   &(adl_summary_t){.strategy = ADL_STRATEGY_SERIAL,
                                    .max_connections = 1},
                   "{\"dns_ms\": 0.000, \"connect_ms\": 41.000, "
                   "\"wait_ms\": 20.000, \"transfer_ms\": 0.100, "
                   "\"queue_ms\": 0.000, \"backoff_ms\": 0.000, "
                   "\"model_s\": 0.080, \"connections_needed\": 2, "
                   "\"server_closed\": 0, \"http10\": 0, \"resets\": 0, "
                   "\"reuse_note\": null}");
  adl_summary_t s = make_summary(ADL_STRATEGY_PARALLEL, 500000);
  cli_json_run_begin(j, "parallel", 2, 6);
  cli_json_run_end(j, &s, NULL);                   /* a run with no items */
  cli_json_item(j, "http://h/ignored", NULL, &ok); /* outside a run */

  cli_row_t rows[2] = {make_row("serial", 1, 2000000),
                       make_row("parallel", 6, 500000)};
  ASSERT_EQ(cli_json_close(j, rows, 2), 0);
  ASSERT_NE(stat(tmp, &st), 0);
  check_json_file(
      path,
      "assert d['tool'] == 'asyncdl' and len(d['runs']) == 2\n"
      "assert d['schema'] == 'asyncdl-report/2' and d['schema_version'] == 2\n"
      "assert list(d)[:4] == ['schema', 'schema_version', 'tool', 'version']\n"
      "r = d['runs'][0]; i = r['items']\n"
      "assert r['strategy'] == 'serial' and r['repeat'] == 1 and len(i) == 2\n"
      "assert r['max_connections'] == 1 and 'connections' not in r\n"
      "assert i[0]['url'] == 'http://h/a\"b\\\\c'\n"
      "assert i[0]['file'] == 'out/a.json' and i[1]['file'] is None\n"
      "assert i[0]['outcome'] == 'ok' and i[1]['outcome'] == 'EHTTP'\n"
      "assert i[0]['total_ms'] == 123456.789 and i[0]['tls_ms'] == 999.999\n"
      "assert i[0]['connect_ms'] == 0.001 and i[0]['dns_ms'] == 1.234\n"
      "assert i[0]['local_port'] == 50000 and i[1]['attempts'] == 3\n"
      "assert i[1]['http_status'] == 404\n"
      "assert i[1]['message'] == 'bad \"thing\"\\\\\\n\\t\\x01\\ufffd end'\n"
      "assert i[1]['url'] == 'http://h/caf\\u00e9'\n"
      "p = d['runs'][1]; s = p['summary']\n"
      "assert p['repeat'] == 2 and p['max_connections'] == 6\n"
      "assert p['items'] == [] and s['wall_ms'] == 500.0\n"
      "assert s['bytes_per_s'] is None\n"
      "assert s['strategy'] == 'parallel'\n"
      "assert s['requests_per_s'] == 4.0 and s['ok_per_s'] == 2.0\n"
      "assert s['max_connections'] == 6 and s['connections_opened'] == 2\n"
      "assert 'connections' not in s\n"
      "assert d['runs'][0]['summary']['ok_per_s'] is None\n" /* wall 0 */
      "c = d['comparison']\n"
      "assert [x['strategy'] for x in c] == ['serial', 'parallel']\n"
      "assert c[1]['speedup_vs_serial'] == 4.0\n"
      "assert c[1]['max_connections'] == 6 and c[0]['wall_ms'] == 2000.0\n"
      "assert c[1]['connections_opened'] == 6 and 'connections' not in c[1]\n"
      "assert c[1]['ok'] == 151 and c[1]['bytes'] == 1850000\n"
      "assert c[1]['ok_per_s'] == 302.0\n");
  /* The raw escapes, independently of any parser. */
  size_t len;
  char *text = slurp(path, &len);
  ASSERT(strstr(text, "\"bad \\\"thing\\\"\\\\\\n\\t\\u0001\\ufffd end\""));
  ASSERT(strstr(text, "\"total_ms\": 123456.789"));
  free(text);
  unlink(path);
}

static void test_json_edge_cases(void) {
  char path[512], tmp[600];
  struct stat st;
  snprintf(path, sizeof(path), "%s/empty.json", dir);
  snprintf(tmp, sizeof(tmp), "%s.tmp-%ld-0", path, (long)getpid());

  /* Zero runs, zero rows: still a document. */
  cli_json_t *j = cli_json_open(path, err, sizeof(err));
  ASSERT(j != NULL);
  ASSERT_EQ(cli_json_close(j, NULL, 0), 0);
  check_json_file(path, "assert d['runs'] == [] and d['comparison'] == []");

  /* Interrupted: a run left open is closed with a null summary. */
  j = cli_json_open(path, err, sizeof(err));
  ASSERT(j != NULL);
  adl_result_t r = make_result(ADL_ECANCELED, "cancelled");
  cli_json_run_begin(j, "session", 1, 1);
  cli_json_item(j, NULL, NULL, &r);
  cli_json_run_begin(j, "parallel", 1, 6); /* closes "session" too */
  cli_json_item(j, "http://h/y", NULL, &r);
  ASSERT_EQ(cli_json_close(j, NULL, 0), 0);
  check_json_file(path,
                  "assert [r['summary'] for r in d['runs']] == [None, None]\n"
                  "assert d['runs'][0]['items'][0]['url'] == 'http://h/x'\n"
                  "assert d['runs'][1]['items'][0]['outcome'] == 'ECANCELED'");

  /* Discarded: neither file is left; the previous report stays intact. */
  j = cli_json_open(path, err, sizeof(err));
  ASSERT(j != NULL);
  cli_json_run_begin(j, "serial", 1, 1);
  cli_json_discard(j);
  ASSERT_NE(stat(tmp, &st), 0);
  check_json_file(path, "assert len(d['runs']) == 2");
  unlink(path);

  /* A special file is written in place: no PATH.tmp, no rename. */
  j = cli_json_open("/dev/null", err, sizeof(err));
  ASSERT(j != NULL);
  ASSERT_EQ(cli_json_close(j, NULL, 0), 0);
  ASSERT_NE(stat("/dev/null.tmp", &st), 0);
  int p[2];
  char fdpath[64], buf[4096];
  ASSERT_EQ(pipe(p), 0);
  snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", p[1]);
  j = cli_json_open(fdpath, err, sizeof(err));
  ASSERT(j != NULL);
  cli_json_run_begin(j, "session", 2, 1);
  cli_json_run_end(j, NULL, NULL);
  ASSERT_EQ(cli_json_close(j, NULL, 0), 0);
  ASSERT_EQ(close(p[1]), 0);
  ssize_t got = read(p[0], buf, sizeof(buf));
  ASSERT_EQ(close(p[0]), 0);
  ASSERT(got > 0 && json_valid(buf, (size_t)got));
  ASSERT(memmem(buf, (size_t)got, "\"repeat\": 2", 11) != NULL);

  /* Bad paths fail at open, naming the file. */
  ASSERT(cli_json_open(dir, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, dir) && strstr(err, "is a directory"));
  snprintf(path, sizeof(path), "%s/no/such/dir/r.json", dir);
  ASSERT(cli_json_open(path, err, sizeof(err)) == NULL);
  ASSERT(strstr(err, path) && strstr(err, "No such file or directory"));
}

/* "-" writes to stdout; a write error there is reported by close. */
static void test_json_stdout(void) {
  char path[512];
  int saved = dup(STDOUT_FILENO), fd;
  ASSERT(saved >= 0);
  fflush(stdout);
  snprintf(path, sizeof(path), "%s/stdout.json", dir);
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT(fd >= 0 && dup2(fd, STDOUT_FILENO) == STDOUT_FILENO);
  close(fd);
  cli_json_t *j = cli_json_open("-", err, sizeof(err));
  ASSERT(j != NULL);
  adl_summary_t s = make_summary(ADL_STRATEGY_SERIAL, 1000);
  cli_json_run_begin(j, "serial", 1, 1);
  cli_json_run_end(j, &s, NULL);
  ASSERT_EQ(cli_json_close(j, NULL, 0), 0);
  fflush(stdout);
  check_json_file(path, "assert d['runs'][0]['summary']['wall_ms'] == 1.0");
  unlink(path);

  fd = open("/dev/full", O_WRONLY);
  if (fd >= 0) {
    ASSERT(dup2(fd, STDOUT_FILENO) == STDOUT_FILENO);
    close(fd);
    j = cli_json_open("-", err, sizeof(err));
    ASSERT(j != NULL);
    adl_result_t r = make_result(0, "ok");
    cli_json_run_begin(j, "serial", 1, 1);
    for (int i = 0; i < 1000; i++) /* more than a stdio buffer */
      cli_json_item(j, "http://h/x", NULL, &r);
    ASSERT_EQ(cli_json_close(j, NULL, 0), -ENOSPC);
    __fpurge(stdout); /* or the failed bytes reach the real stdout at exit */
    clearerr(stdout);
  }
  ASSERT(dup2(saved, STDOUT_FILENO) == STDOUT_FILENO);
  close(saved);
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof(dir), "%s/adl-test-report-XXXXXX",
           tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
  ASSERT(mkdtemp(dir) != NULL);
  test_validator_itself();
  test_median();
  test_table();
  test_table_rerun_columns();
  test_outcome_lines();
  test_json_report();
  test_json_edge_cases();
  test_json_stdout();
  ASSERT_EQ(rmdir(dir), 0);
  return 0;
}
