/* Reruns without waste (src/cli/rerun.c) and the run figures the tool's
 * feed reports (src/cli/feed.c): the sidecar of validators (format, strict
 * parse, the file it belongs to, atomic replacement, removal), the
 * conditional request lines, and the record of which files were there at
 * the start. */
#include "adl-test.h"
#include "feed.h"
#include "rerun.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/adl-test-rerun-XXXXXX";

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  ASSERT(f != NULL);
  fputs(text, f);
  ASSERT_EQ(fclose(f), 0);
}

static void test_paths(void) {
  char *p = cli_sidecar_path("out/pikachu.json");
  ASSERT_STR_EQ(p, "out/.asyncdl/pikachu.json.validators");
  free(p);
  p = cli_sidecar_path("/a/b/c.json");
  ASSERT_STR_EQ(p, "/a/b/.asyncdl/c.json.validators");
  free(p);
  p = cli_sidecar_path("x.json");
  ASSERT_STR_EQ(p, ".asyncdl/x.json.validators");
  free(p);
}

static void test_format_parse(void) {
  cli_validators_t v, w;
  char buf[2048];
  memset(&v, 0, sizeof(v));
  strcpy(v.etag, "\"5f1b-2a03\"");
  strcpy(v.last_modified, "Sun, 30 Nov 2025 04:00:00 GMT");
  v.size = 10243;
  v.mtime_s = 1764476000;
  v.mtime_ns = 123456789;
  int n = cli_validators_format(&v, buf, sizeof(buf));
  ASSERT_GT(n, 0);
  ASSERT_STR_EQ(buf, "asyncdl-validators 1\nsize 10243\n"
                     "mtime 1764476000.123456789\netag \"5f1b-2a03\"\n"
                     "last-modified Sun, 30 Nov 2025 04:00:00 GMT\n");
  ASSERT_EQ(cli_validators_parse(buf, (size_t)n, &w), 0);
  ASSERT_STR_EQ(w.etag, v.etag);
  ASSERT_STR_EQ(w.last_modified, v.last_modified);
  ASSERT(w.size == v.size && w.mtime_s == v.mtime_s &&
         w.mtime_ns == v.mtime_ns);
  /* One validator is enough; none is not a sidecar. */
  v.last_modified[0] = '\0';
  n = cli_validators_format(&v, buf, sizeof(buf));
  ASSERT(n > 0 && strstr(buf, "last-modified") == NULL);
  ASSERT_EQ(cli_validators_parse(buf, (size_t)n, &w), 0);
  ASSERT(w.last_modified[0] == '\0');
  v.etag[0] = '\0';
  ASSERT_EQ(cli_validators_format(&v, buf, sizeof(buf)), -1);
  strcpy(v.etag, "W/\"x\r\nEvil: 1\"");
  ASSERT_EQ(cli_validators_format(&v, buf, sizeof(buf)), -1);
  strcpy(v.etag, "\"ok\"");
  ASSERT_EQ(cli_validators_format(&v, buf, 20), -1); /* does not fit */

  /* Anything but the exact format is refused: a download, never a 304. */
  static const char *const bad[] = {
      "",
      "asyncdl-validators 2\nsize 1\nmtime 1.000000000\netag \"a\"\n",
      "asyncdl-validators 1\nsize 1\nmtime 1.000000000\n", /* no validator */
      "asyncdl-validators 1\nmtime 1.000000000\netag \"a\"\n", /* no size */
      "asyncdl-validators 1\nsize 1\netag \"a\"\n",            /* no mtime */
      "asyncdl-validators 1\nsize 1\nmtime 1.000000000\netag \"a\"", /* cut */
      "asyncdl-validators 1\nsize -1\nmtime 1.000000000\netag \"a\"\n",
      "asyncdl-validators 1\nsize 1\nmtime 1.5\netag \"a\"\n",
      "asyncdl-validators 1\nsize 1\nmtime 1.000000000\netag \n",
      /* the etag twice */
      "asyncdl-validators 1\nsize 1\nmtime 1.000000000\netag \"a\"\netag \"b\"\n",
      "asyncdl-validators 1\nsize 1\nmtime 1.000000000\nbogus x\n",
      "asyncdl-validators 1\nsize 1\nmtime 1.000000000\netag \"a\x01\"\n",
      "asyncdl-validators 1\nsize 1\nmtime 1.000000000\r\netag \"a\"\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    memset(&w, 'x', sizeof(w));
    if (cli_validators_parse(bad[i], strlen(bad[i]), &w) != -1)
      ADL_FAIL_("bad sidecar %zu accepted", i);
    ASSERT(w.etag[0] == '\0' && w.size == 0); /* left clean */
  }
  ASSERT_EQ(cli_validator_ok(""), 0);
  ASSERT_EQ(cli_validator_ok(NULL), 0);
  char huge[600];
  memset(huge, 'a', sizeof(huge) - 1);
  huge[sizeof(huge) - 1] = '\0';
  ASSERT_EQ(cli_validator_ok(huge), 0);
}

static void test_conditional_headers(void) {
  cli_validators_t v;
  memset(&v, 0, sizeof(v));
  strcpy(v.etag, "\"e1\"");
  strcpy(v.last_modified, "Mon, 01 Dec 2025 00:00:00 GMT");
  const char *user[] = {"X-A: 1", "Authorization: Bearer t", NULL};
  const char **h = cli_conditional_headers(user, &v);
  ASSERT(h != NULL);
  ASSERT_STR_EQ(h[0], "X-A: 1");
  ASSERT_STR_EQ(h[1], "Authorization: Bearer t");
  ASSERT_STR_EQ(h[2], "If-None-Match: \"e1\"");
  ASSERT_STR_EQ(h[3], "If-Modified-Since: Mon, 01 Dec 2025 00:00:00 GMT");
  ASSERT(h[4] == NULL);
  free(h);
  v.etag[0] = '\0';
  h = cli_conditional_headers(NULL, &v);
  ASSERT(h != NULL);
  ASSERT_STR_EQ(h[0], "If-Modified-Since: Mon, 01 Dec 2025 00:00:00 GMT");
  ASSERT(h[1] == NULL);
  free(h);
}

static int count_entries(const char *d) {
  DIR *dp = opendir(d);
  int n = 0;
  if (dp == NULL)
    return -1;
  for (struct dirent *e; (e = readdir(dp)) != NULL;)
    n += e->d_name[0] != '.' || strlen(e->d_name) > 2;
  closedir(dp);
  return n;
}

static void test_save_load(void) {
  char file[256], side[300], sdir[300];
  cli_validators_t v;
  snprintf(file, sizeof(file), "%s/mew.json", dir);
  snprintf(side, sizeof(side), "%s/.asyncdl/mew.json.validators", dir);
  snprintf(sdir, sizeof(sdir), "%s/.asyncdl", dir);
  /* No file: nothing recorded, nothing loaded. */
  ASSERT_NE(cli_validators_save(file, "\"a\"", NULL), 0);
  ASSERT_EQ(cli_validators_load(file, &v), 0);
  write_file(file, "{\"name\": \"mew\"}");
  ASSERT_EQ(cli_validators_save(file, "\"a\"", "Mon, 01 Dec 2025 00:00:00 GMT"),
            0);
  ASSERT_EQ(cli_validators_load(file, &v), 1);
  ASSERT_STR_EQ(v.etag, "\"a\"");
  ASSERT_STR_EQ(v.last_modified, "Mon, 01 Dec 2025 00:00:00 GMT");
  ASSERT_EQ(count_entries(sdir), 1); /* no temporary file left */
  /* Replaced whole by the next save. */
  ASSERT_EQ(cli_validators_save(file, "\"b\"", NULL), 0);
  ASSERT_EQ(cli_validators_load(file, &v), 1);
  ASSERT_STR_EQ(v.etag, "\"b\"");
  ASSERT(v.last_modified[0] == '\0');
  ASSERT_EQ(count_entries(sdir), 1);
  /* The file changed since: its sidecar no longer applies. */
  write_file(file, "{\"name\": \"mew\", \"changed\": true}");
  ASSERT_EQ(cli_validators_load(file, &v), 0);
  ASSERT_EQ(cli_validators_save(file, "\"c\"", NULL), 0);
  ASSERT_EQ(cli_validators_load(file, &v), 1);
  /* Same size, other mtime: stale too. */
  struct timespec ts[2] = {{1, 0}, {1, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, file, ts, 0), 0);
  ASSERT_EQ(cli_validators_load(file, &v), 0);
  ASSERT_EQ(cli_validators_save(file, "\"c\"", NULL), 0);
  /* Garbled or cut by a crash: a normal download. */
  write_file(side, "asyncdl-validators 1\nsize 3");
  ASSERT_EQ(cli_validators_load(file, &v), 0);
  write_file(side, "");
  ASSERT_EQ(cli_validators_load(file, &v), 0);
  /* A response without validators removes the stale sidecar. */
  ASSERT_EQ(cli_validators_save(file, "\"d\"", NULL), 0);
  ASSERT_EQ(access(side, F_OK), 0);
  ASSERT_EQ(cli_validators_save(file, NULL, "bad\ndate"), 0);
  ASSERT_NE(access(side, F_OK), 0);
  ASSERT_EQ(cli_validators_load(file, &v), 0);
  /* A file gone: its sidecar means nothing. */
  ASSERT_EQ(cli_validators_save(file, "\"e\"", NULL), 0);
  unlink(file);
  ASSERT_EQ(cli_validators_load(file, &v), 0);
  unlink(side);
  rmdir(sdir);
}

static int fake_calls;
static int fake_exists(const char *path) {
  fake_calls++;
  return path[0] == 'y';
}

static void test_present(void) {
  cli_present_t p;
  memset(&p, 0, sizeof(p));
  /* First run: decided by exists(), in list order. */
  for (uint64_t i = 0; i < 1000; i++)
    ASSERT_EQ(cli_present_get(&p, i, i % 3 == 0 ? "yes" : "no", fake_exists),
              i % 3 == 0);
  ASSERT_EQ(fake_calls, 1000);
  /* Later runs: remembered, whatever the disk says now. */
  for (uint64_t i = 0; i < 1000; i++)
    ASSERT_EQ(cli_present_get(&p, i, "yes", fake_exists), i % 3 == 0);
  ASSERT_EQ(fake_calls, 1000);
  ASSERT_EQ(cli_present_get(&p, 1000, NULL, fake_exists), 0);
  cli_present_free(&p);
  ASSERT(p.bits == NULL && p.decided == 0);
  char file[256];
  snprintf(file, sizeof(file), "%s/x.json", dir);
  ASSERT_EQ(cli_file_exists(file), 0);
  write_file(file, "x");
  ASSERT_EQ(cli_file_exists(file), 1);
  ASSERT_EQ(cli_file_exists(dir), 0); /* a directory is no file */
  unlink(file);
}

static void test_feed_figures(void) {
  cli_feed_summary_t s;
  char buf[512];
  memset(&s, 0, sizeof(s));
  s.s.strategy = ADL_STRATEGY_MULTIPLEX;
  ASSERT_EQ(cli_feed_ran_as_parallel(&s), 0); /* no answer at all */
  s.http1 = 3;
  ASSERT_EQ(cli_feed_ran_as_parallel(&s), 1);
  s.http2 = 1;
  ASSERT_EQ(cli_feed_ran_as_parallel(&s), 0); /* some origin did HTTP/2 */
  s.http2 = 0;
  s.s.strategy = ADL_STRATEGY_PARALLEL;
  ASSERT_EQ(cli_feed_ran_as_parallel(&s), 0);
  ASSERT_EQ(cli_feed_summary_text(&s, buf, sizeof(buf)), 0);
  ASSERT_STR_EQ(buf, "");
  s.skipped = 3;
  s.not_modified = 148;
  cli_feed_summary_text(&s, buf, sizeof(buf));
  ASSERT_STR_EQ(buf, ", 3 skipped, 148 not modified");
  s.skipped = 0;
  cli_feed_summary_text(&s, buf, sizeof(buf));
  ASSERT_STR_EQ(buf, ", 148 not modified");
  s.s.wire_bytes = 196331;
  s.s.strategy = ADL_STRATEGY_MULTIPLEX;
  ASSERT_GT(cli_feed_summary_json(&s, buf, sizeof(buf)), 0);
  ASSERT_STR_EQ(buf, "\"wire_bytes\": 196331, \"skipped\": 0, "
                     "\"not_modified\": 148, \"http2_responses\": 0, "
                     "\"ran_as\": \"parallel\"");
  ASSERT_EQ(cli_feed_summary_json(&s, buf, 10), 0);
  ASSERT_EQ(cli_feed_window(6), 28);
}

int main(void) {
  ASSERT(mkdtemp(dir) != NULL);
  test_paths();
  test_format_parse();
  test_conditional_headers();
  test_save_load();
  test_present();
  test_feed_figures();
  ASSERT_EQ(rmdir(dir), 0);
  return 0;
}
