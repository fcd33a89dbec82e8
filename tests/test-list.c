/* The URL list reader (src/cli/list.c): line rules, errors with their line
 * numbers, rewinding (stdin and pipes included), duplicate file names, safe
 * file names and bounded memory on a long list. */
#include "adl-test.h"
#include "list.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define BASE "https://pokeapi.co/api/v2/pokemon/"


static char dir[256];
static char err[1024];

static const char *write_file(const char *name, const char *data, size_t len) {
  static char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  ASSERT(f != NULL);
  ASSERT_EQ(fwrite(data, 1, len, f), len);
  ASSERT_EQ(fclose(f), 0);
  return path;
}

static cli_list_t *open_text(const char *text) {
  cli_list_t *l;
  const char *path = write_file("list.txt", text, strlen(text));
  if (cli_list_open(&l, path, BASE, err, sizeof(err)) != 0)
    ADL_FAIL_("open: %s", err);
  return l;
}

/* Reads the next item and checks its name, URL and line. */
static void expect_item(cli_list_t *l, const char *name, const char *url,
                        unsigned long line) {
  cli_item_t it;
  int rc = cli_list_next(l, &it, err, sizeof(err));
  if (rc != 1)
    ADL_FAIL_("expected %s, got %d (%s)", name, rc, rc < 0 ? err : "end");
  ASSERT_STR_EQ(it.name, name);
  ASSERT_STR_EQ(it.url, url);
  ASSERT_EQ(it.line, line);
  cli_item_free(&it);
}

static void expect_end(cli_list_t *l) {
  cli_item_t it;
  ASSERT_EQ(cli_list_next(l, &it, err, sizeof(err)), 0);
  ASSERT(it.url == NULL && it.name == NULL);
}

/* The next read fails with CLI_LIST_EINPUT and "<dir>/list.txt:LINE: ..."
 * containing frag. */
static void expect_error(cli_list_t *l, unsigned long line, const char *frag) {
  cli_item_t it;
  char prefix[600];
  int rc = cli_list_next(l, &it, err, sizeof(err));
  if (rc != CLI_LIST_EINPUT)
    ADL_FAIL_("expected an error at line %lu, got %d", line, rc);
  ASSERT(it.url == NULL && it.name == NULL);
  snprintf(prefix, sizeof(prefix), "%s/list.txt:%lu: ", dir, line);
  if (strncmp(err, prefix, strlen(prefix)) != 0 || !strstr(err, frag))
    ADL_FAIL_("error \"%s\" is not \"%s...%s...\"", err, prefix, frag);
  ASSERT(strchr(err, '\n') == NULL);
}

/* A one-line list that must be refused with frag in the message. */
static void expect_bad_line(const char *line, const char *frag) {
  char text[256];
  snprintf(text, sizeof(text), "mew\n%s\n", line);
  cli_list_t *l = open_text(text);
  expect_item(l, "mew", BASE "mew", 1);
  expect_error(l, 2, frag);
  cli_list_close(l);
}

static void test_builtin(void) {
  cli_list_t *l;
  cli_item_t it;
  int n = 0, seen = 0;
  ASSERT_EQ(cli_list_open(&l, NULL, BASE, err, sizeof(err)), 0);
  ASSERT_STR_EQ(cli_list_name(l), "<built-in>");
  while (cli_list_next(l, &it, err, sizeof(err)) == 1) {
    char want[128];
    n++;
    ASSERT_EQ(it.line, (unsigned long)n);
    snprintf(want, sizeof(want), BASE "%s", it.name);
    ASSERT_STR_EQ(it.url, want);
    if (n == 1)
      ASSERT_STR_EQ(it.name, "bulbasaur");
    if (n == 25)
      ASSERT_STR_EQ(it.name, "pikachu");
    if (n == 151)
      ASSERT_STR_EQ(it.name, "mew");
    static const char *const odd[] = {"nidoran-f", "nidoran-m", "mr-mime",
                                      "farfetchd"};
    for (int k = 0; k < 4; k++)
      if (strcmp(it.name, odd[k]) == 0)
        seen |= 1 << k;
    cli_item_free(&it);
  }
  ASSERT_EQ(n, 151);
  ASSERT_EQ(seen, 15);
  ASSERT_EQ(cli_list_check(l, 1, err, sizeof(err)), 151);
  cli_list_close(l);

  /* A base URL without the trailing slash gets one. */
  ASSERT_EQ(cli_list_open(&l, NULL, "http://127.0.0.1:8080/api/v2/pokemon", err,
                          sizeof(err)),
            0);
  expect_item(l, "bulbasaur", "http://127.0.0.1:8080/api/v2/pokemon/bulbasaur",
              1);
  cli_list_close(l);
}

static void test_names_and_urls(void) {
  cli_list_t *l = open_text("pikachu\n"
                            "https://example.com/api/v2/pokemon/25\n"
                            "  mew\t \n"
                            "HTTP://user@[::1]:8080/a/b/?x=1#f\n"
                            "http://h\n"
                            "nidoran%E2%99%80\n"
                            "a:b@c~(1)\n"
                            "last-without-newline");
  expect_item(l, "pikachu", BASE "pikachu", 1);
  expect_item(l, "25", "https://example.com/api/v2/pokemon/25", 2);
  expect_item(l, "mew", BASE "mew", 3);
  expect_item(l, "b", "HTTP://user@[::1]:8080/a/b/?x=1#f", 4);
  expect_item(l, "index", "http://h", 5);
  expect_item(l, "nidoran%E2%99%80", BASE "nidoran%E2%99%80", 6);
  expect_item(l, "a:b@c~(1)", BASE "a:b@c~(1)", 7);
  expect_item(l, "last-without-newline", BASE "last-without-newline", 8);
  expect_end(l);
  expect_end(l); /* the end is sticky */
  cli_list_close(l);
}

static void test_line_forms(void) {
  cli_list_t *l = open_text("a\r\nb\r\n\r\nc");
  expect_item(l, "a", BASE "a", 1);
  expect_item(l, "b", BASE "b", 2);
  expect_item(l, "c", BASE "c", 4);
  expect_end(l);
  cli_list_close(l);

  l = open_text("\xEF\xBB\xBFpikachu\r\nmew\n");
  expect_item(l, "pikachu", BASE "pikachu", 1);
  expect_item(l, "mew", BASE "mew", 2);
  cli_list_close(l);

  /* A BOM is only a BOM on line 1. */
  l = open_text("mew\n\xEF\xBB\xBFpikachu\n");
  expect_item(l, "mew", BASE "mew", 1);
  expect_error(l, 2, "not allowed in a URL path segment");
  cli_list_close(l);

  l = open_text("\n# a comment\n   \n\t\n  # indented comment\n#\nmew\n\n");
  expect_item(l, "mew", BASE "mew", 7);
  expect_end(l);
  cli_list_close(l);
}

static void test_bad_lines(void) {
  expect_bad_line("ok\xff", "invalid UTF-8 (byte 0xFF at byte 3)");
  expect_bad_line("\xC0\xAF", "invalid UTF-8");         /* overlong '/' */
  expect_bad_line("\xED\xA0\x80", "invalid UTF-8");     /* surrogate */
  expect_bad_line("\xF4\x90\x80\x80", "invalid UTF-8"); /* > U+10FFFF */
  expect_bad_line("x\xE2\x82", "invalid UTF-8");        /* truncated */
  expect_bad_line("a\x01z", "control character 0x01 at byte 2");
  expect_bad_line("\x1b[31mred", "control character 0x1B at byte 1");
  expect_bad_line("a\x7f", "control character 0x7F");
  expect_bad_line("a\xC2\x9B", "control character 0x9B"); /* C1 CSI */
  expect_bad_line("a\rb", "control character 0x0D");

  expect_bad_line("ftp://h/x", "unsupported scheme 'ftp'");
  expect_bad_line("file:///etc/passwd", "unsupported scheme 'file'");
  expect_bad_line("gopher://h/", "only http:// and https://");
  expect_bad_line("://h/x", "bad scheme");
  expect_bad_line("1http://h/x", "bad scheme");
  expect_bad_line("http:///x", "no host");
  expect_bad_line("http://", "no host");
  expect_bad_line("http://h/a b", "contains a space");
  expect_bad_line("http://h/caf\xC3\xA9", "non-ASCII");
  expect_bad_line("http://h/<x>", "contains '<'");
  expect_bad_line("http://h/%zz", "bad %XX escape");
  expect_bad_line("http://h:0/", "bad port");
  expect_bad_line("http://h:65536/", "bad port");
  expect_bad_line("http://h:/", "bad port");
  expect_bad_line("http://[::1/", "bad IPv6 host");
  expect_bad_line("http://h!st/", "bad host name");

  expect_bad_line("mr mime", "' ' is not allowed in a URL path segment");
  expect_bad_line("a/b", "'/' is not allowed");
  expect_bad_line("a?b", "'?' is not allowed");
  expect_bad_line("a#b", "'#' is not allowed");
  expect_bad_line("flab\xC3\xA9\x62\xC3\xA9",
                  "name 'flab\xC3\xA9\x62\xC3\xA9': "
                  "'\xC3\xA9' is not allowed");
  expect_bad_line("..", "'..' is not a valid name");
  expect_bad_line(".", "'.' is not a valid name");
  expect_bad_line("a%2", "bad %XX escape");

  /* A NUL byte is a control character too, found at the right line. */
  cli_list_t *l;
  const char *path = write_file("list.txt", "a\nb\0c\nd\n", 8);
  ASSERT_EQ(cli_list_open(&l, path, BASE, err, sizeof(err)), 0);
  expect_item(l, "a", BASE "a", 1);
  expect_error(l, 2, "control character 0x00 at byte 2");
  expect_item(l, "d", BASE "d", 3); /* the reader resumes after a bad line */
  cli_list_close(l);

  /* The file name is shown escaped in messages. */
  path = write_file("bad\x1bname", "ftp://x/\n", 9);
  ASSERT_EQ(cli_list_open(&l, path, BASE, err, sizeof(err)), 0);
  ASSERT(strstr(cli_list_name(l), "bad\\x1Bname") != NULL);
  cli_list_close(l);
  unlink(path);
}

static void test_long_lines(void) {
  enum { MAX = CLI_LIST_MAX_LINE };
  char *text = malloc(3 * MAX + 1024);
  ASSERT(text != NULL);
  size_t n = 0;
  memset(text + n, 'a', MAX); /* exactly the limit: fine */
  n += MAX;
  memcpy(text + n, "\r\n", 2); /* a CR on top of it does not count */
  n += 2;
  memset(text + n, 'b', MAX + 1); /* one byte over */
  n += MAX + 1;
  text[n++] = '\n';
  memset(text + n, 'c', MAX + 500); /* far over, with a name after it */
  n += MAX + 500;
  memcpy(text + n, "\nmew\n", 6);
  n += 5;
  cli_list_t *l;
  const char *path = write_file("list.txt", text, n);
  ASSERT_EQ(cli_list_open(&l, path, BASE, err, sizeof(err)), 0);
  cli_item_t it;
  ASSERT_EQ(cli_list_next(l, &it, err, sizeof(err)), 1);
  ASSERT_EQ(strlen(it.name), MAX);
  ASSERT_EQ(it.line, 1);
  cli_item_free(&it);
  expect_error(l, 2, "line longer than 8192 bytes");
  expect_error(l, 3, "line longer than 8192 bytes");
  expect_item(l, "mew", BASE "mew", 4);
  expect_end(l);
  ASSERT_EQ(cli_list_check(l, 0, err, sizeof(err)), CLI_LIST_EINPUT);
  ASSERT(strstr(err, "list.txt:2: line longer") != NULL);
  cli_list_close(l);
  free(text);
}

static void test_empty_and_open_errors(void) {
  cli_list_t *l = open_text("");
  expect_end(l);
  ASSERT_EQ(cli_list_check(l, 1, err, sizeof(err)), 0);
  cli_list_close(l);
  l = open_text("# only\n\n  # comments\n");
  ASSERT_EQ(cli_list_check(l, 1, err, sizeof(err)), 0);
  cli_list_close(l);

  char path[512];
  snprintf(path, sizeof(path), "%s/missing.txt", dir);
  l = (cli_list_t *)&path; /* must be reset to NULL */
  ASSERT_EQ(cli_list_open(&l, path, BASE, err, sizeof(err)), CLI_LIST_EINPUT);
  ASSERT(l == NULL);
  ASSERT(strstr(err, path) != NULL && strstr(err, "No such file") != NULL);
  ASSERT_EQ(cli_list_open(&l, dir, BASE, err, sizeof(err)), CLI_LIST_EINPUT);
  ASSERT(strstr(err, dir) != NULL && strstr(err, "is a directory") != NULL);
}

static void test_rewind_and_check(void) {
  cli_list_t *l = open_text("a\n#x\nb\nc\n");
  expect_item(l, "a", BASE "a", 1);
  expect_item(l, "b", BASE "b", 3);
  ASSERT_EQ(cli_list_rewind(l, err, sizeof(err)), 0);
  expect_item(l, "a", BASE "a", 1);
  /* check counts from the top wherever the reader was, then rewinds. */
  ASSERT_EQ(cli_list_check(l, 1, err, sizeof(err)), 3);
  expect_item(l, "a", BASE "a", 1);
  expect_item(l, "b", BASE "b", 3);
  expect_item(l, "c", BASE "c", 4);
  expect_end(l);
  /* ... and after an error too. */
  cli_list_close(l);
  l = open_text("a\nftp://x/\n");
  ASSERT_EQ(cli_list_check(l, 0, err, sizeof(err)), CLI_LIST_EINPUT);
  ASSERT(strstr(err, "list.txt:2: unsupported scheme 'ftp'") != NULL);
  expect_item(l, "a", BASE "a", 1);
  cli_list_close(l);
}

static void test_duplicates(void) {
  cli_list_t *l = open_text("pikachu\nmew\n"
                            "https://example.com/api/v2/pokemon/pikachu\n");
  ASSERT_EQ(cli_list_check(l, 0, err, sizeof(err)), 3); /* no files: fine */
  ASSERT_EQ(cli_list_check(l, 1, err, sizeof(err)), CLI_LIST_EINPUT);
  char want[600];
  snprintf(want, sizeof(want),
           "%s/list.txt:3: 'pikachu.json' also produced by line 1", dir);
  ASSERT_STR_EQ(err, want);
  cli_list_close(l);

  l = open_text("http://h/a/%2e%2e\n");
  ASSERT_EQ(cli_list_check(l, 0, err, sizeof(err)), 1);
  ASSERT_EQ(cli_list_check(l, 1, err, sizeof(err)), CLI_LIST_EINPUT);
  ASSERT(strstr(err, "list.txt:1: '%2e%2e' cannot be a file name") != NULL);
  cli_list_close(l);

  /* Many distinct names: the set grows without false duplicates. */
  FILE *f = fopen(write_file("list.txt", "", 0), "w");
  ASSERT(f != NULL);
  for (int i = 0; i < 5000; i++)
    fprintf(f, "n%d\n", i);
  fputs("n4321\n", f);
  ASSERT_EQ(fclose(f), 0);
  char path[512];
  snprintf(path, sizeof(path), "%s/list.txt", dir);
  ASSERT_EQ(cli_list_open(&l, path, BASE, err, sizeof(err)), 0);
  ASSERT_EQ(cli_list_check(l, 1, err, sizeof(err)), CLI_LIST_EINPUT);
  ASSERT(strstr(err, ":5001: 'n4321.json' also produced by line 4322"));
  cli_list_close(l);
}

/* Reads a list through stdin (fd 0 replaced by a pipe) and through a pipe
 * given as a path; both are spooled so that rewinding works. */
static void test_stdin_and_pipes(void) {
  int p[2], saved = dup(STDIN_FILENO);
  const char *text = "pikachu\n# c\nmew\n";
  ASSERT(saved >= 0);
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(write(p[1], text, strlen(text)), (ssize_t)strlen(text));
  ASSERT_EQ(close(p[1]), 0);
  ASSERT(dup2(p[0], STDIN_FILENO) == STDIN_FILENO);
  ASSERT_EQ(close(p[0]), 0);
  cli_list_t *l;
  ASSERT_EQ(cli_list_open(&l, "-", BASE, err, sizeof(err)), 0);
  ASSERT(dup2(saved, STDIN_FILENO) == STDIN_FILENO); /* spooled already */
  ASSERT_EQ(close(saved), 0);
  ASSERT_STR_EQ(cli_list_name(l), "<stdin>");
  ASSERT_EQ(cli_list_check(l, 1, err, sizeof(err)), 2);
  for (int round = 0; round < 2; round++) {
    expect_item(l, "pikachu", BASE "pikachu", 1);
    expect_item(l, "mew", BASE "mew", 3);
    expect_end(l);
    ASSERT_EQ(cli_list_rewind(l, err, sizeof(err)), 0);
  }
  cli_list_close(l);

  /* --list=<(command) hands over /dev/fd/N, a pipe. */
  char path[64];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_EQ(write(p[1], "ftp://x/\n", 9), 9);
  ASSERT_EQ(close(p[1]), 0);
  snprintf(path, sizeof(path), "/dev/fd/%d", p[0]);
  ASSERT_EQ(cli_list_open(&l, path, BASE, err, sizeof(err)), 0);
  ASSERT_EQ(close(p[0]), 0);
  for (int round = 0; round < 2; round++) {
    ASSERT_EQ(cli_list_check(l, 0, err, sizeof(err)), CLI_LIST_EINPUT);
    ASSERT(strstr(err, "/dev/fd/") && strstr(err, ":1: unsupported scheme"));
  }
  cli_list_close(l);
}

static void test_safe_filename(void) {
  char out[CLI_NAME_MAX + 8], name[CLI_NAME_MAX + 2];
  ASSERT_EQ(cli_safe_filename("pikachu", out, sizeof(out)), 0);
  ASSERT_STR_EQ(out, "pikachu.json");
  ASSERT_EQ(cli_safe_filename("nidoran-f", out, sizeof(out)), 0);
  ASSERT_EQ(cli_safe_filename("...", out, sizeof(out)), 0);
  ASSERT_STR_EQ(out, "....json");
  ASSERT_EQ(cli_safe_filename("a%2Xb", out, sizeof(out)), 0); /* no escape */
  static const char *const bad[] = {
      "",       ".",     "..",    "a/b",    "/etc", "a\\b",
      "a\x01z", "a\nb",  "a\x7f", "%2e%2e", "%2E.", "a%2Fb",
      "a%2fb",  "a%5Cb", "a%00",  "%0a",    "..%2f"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    if (cli_safe_filename(bad[i], out, sizeof(out)) != -EINVAL)
      ADL_FAIL_("'%s' accepted as a file name", bad[i]);
  memset(name, 'x', CLI_NAME_MAX);
  name[CLI_NAME_MAX] = '\0';
  ASSERT_EQ(cli_safe_filename(name, out, sizeof(out)), 0);
  ASSERT_EQ(strlen(out), CLI_NAME_MAX + 5);
  name[CLI_NAME_MAX] = 'x';
  name[CLI_NAME_MAX + 1] = '\0';
  ASSERT_EQ(cli_safe_filename(name, out, sizeof(out)), -EINVAL);
  ASSERT_EQ(cli_safe_filename("pikachu", out, 12), -ERANGE);
  ASSERT_EQ(cli_safe_filename("pikachu", out, 13), 0);
}

static void test_helpers(void) {
  char *u;
  ASSERT_EQ(cli_url_join("https://h/api/", "x", &u), 0);
  ASSERT_STR_EQ(u, "https://h/api/x");
  free(u);
  ASSERT_EQ(cli_url_join("https://h/api", "x", &u), 0);
  ASSERT_STR_EQ(u, "https://h/api/x");
  free(u);
  ASSERT_EQ(cli_url_join("https://h/api/", "", &u), -EINVAL);
  ASSERT_EQ(cli_url_join("", "x", &u), -EINVAL);

  const unsigned char *s = (const unsigned char *)"a\xC3\xA9\xE2\x82\xAC"
                                                  "\xF0\x9F\x98\x80";
  ASSERT_EQ(cli_utf8_len(s, 1), 1);
  ASSERT_EQ(cli_utf8_len(s + 1, 2), 2);
  ASSERT_EQ(cli_utf8_len(s + 1, 1), 0); /* truncated */
  ASSERT_EQ(cli_utf8_len(s + 3, 3), 3);
  ASSERT_EQ(cli_utf8_len(s + 6, 4), 4);
  ASSERT_EQ(cli_utf8_len((const unsigned char *)"\x80", 1), 0);
  ASSERT_EQ(cli_utf8_len((const unsigned char *)"\xE0\x80\x80", 3), 0);

  char q[16];
  cli_quote(q, sizeof(q), "abc", 3);
  ASSERT_STR_EQ(q, "abc");
  cli_quote(q, sizeof(q), "a\x1b\\\xff", 4);
  ASSERT_STR_EQ(q, "a\\x1B\\\\\\xFF");
  cli_quote(q, sizeof(q), "0123456789abcdefghij", 20);
  ASSERT_STR_EQ(q, "0123456789ab...");
  cli_quote(q, sizeof(q), "0123456789abcde", 15); /* exactly fits */
  ASSERT_STR_EQ(q, "0123456789abcde");
  cli_quote(q, 8, "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 8);
  ASSERT_STR_EQ(q, "\xC3\xA9\xC3\xA9...");
  cli_quote(q, 7, "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 8); /* no split é */
  ASSERT_STR_EQ(q, "\xC3\xA9...");
}

static long max_rss_kb(void) {
  struct rusage ru;
  ASSERT_EQ(getrusage(RUSAGE_SELF, &ru), 0);
  return ru.ru_maxrss;
}

/* 200,000 lines read in a stream: the peak RSS must not move by more than
 * 3 MiB (the file is 4.9 MB, the items over 15 MB if they were kept). Runs
 * first, while the peak is still the current size, so growth shows. */
static void test_streaming_memory(void) {
  enum { LINES = 200000 };
  char path[512];
  snprintf(path, sizeof(path), "%s/big.txt", dir);
  FILE *f = fopen(path, "w");
  ASSERT(f != NULL);
  for (int i = 0; i < LINES; i++)
    fprintf(f, i % 2 ? "pokemon-%07d\n" : "http://h/api/v2/pokemon/p%07d\n", i);
  ASSERT_EQ(fclose(f), 0);

  cli_list_t *l;
  cli_item_t it;
  ASSERT_EQ(cli_list_open(&l, path, BASE, err, sizeof(err)), 0);
  ASSERT_EQ(cli_list_next(l, &it, err, sizeof(err)), 1); /* warm up */
  cli_item_free(&it);
  long before = max_rss_kb();
  ASSERT_EQ(cli_list_check(l, 0, err, sizeof(err)), LINES);
  unsigned long n = 0;
  while (cli_list_next(l, &it, err, sizeof(err)) == 1) {
    ASSERT_EQ(it.line, ++n);
    cli_item_free(&it);
  }
  ASSERT_EQ(n, LINES);
  long grown = max_rss_kb() - before;
  /* Under valgrind the tool's own bookkeeping moves RSS; its leak check
   * covers the same ground there. */
  const char *pre = getenv("LD_PRELOAD");
  if (!UNDER_ASAN && (pre == NULL || strstr(pre, "vgpreload") == NULL)) {
    if (grown > 3 * 1024)
      ADL_FAIL_("peak RSS grew by %ld KiB reading %d lines", grown, LINES);
  }
  /* With need_files the set of names is the only growth, and is freed. */
  ASSERT_EQ(cli_list_check(l, 1, err, sizeof(err)), LINES);
  cli_list_close(l);
  unlink(path);
}

/* URLs and names given as arguments: read like a list's lines (issue 10). */
static void test_arguments(void) {
  cli_list_t *l;
  const char *args[] = {"pikachu", "http://u:pw@127.0.0.1:9/a/mew?x=1"};
  ASSERT_EQ(cli_list_open_args(&l, "ignored.txt", args, 2, BASE, err,
                               sizeof(err)),
            0);
  ASSERT_STR_EQ(cli_list_name(l), "<arguments>");
  ASSERT_EQ(cli_list_check(l, 1, err, sizeof(err)), 2);
  for (int pass = 0; pass < 2; pass++) { /* rewinds like any list */
    expect_item(l, "pikachu", BASE "pikachu", 1);
    expect_item(l, "mew", "http://u:pw@127.0.0.1:9/a/mew?x=1", 2);
    expect_end(l);
    ASSERT_EQ(cli_list_rewind(l, err, sizeof(err)), 0);
  }
  cli_list_close(l);
  /* Bad ones name the argument; a password is not shown. */
  const char *bad[] = {"mew", "http://u:hunter2@h/a b"};
  ASSERT_EQ(cli_list_open_args(&l, NULL, bad, 2, BASE, err, sizeof(err)), 0);
  ASSERT_EQ(cli_list_check(l, 0, err, sizeof(err)), CLI_LIST_EINPUT);
  ASSERT(strncmp(err, "<arguments>:2: ", 15) == 0);
  ASSERT(strstr(err, "hunter2") == NULL && strstr(err, "u:***@h") != NULL);
  cli_list_close(l);
  const char *split[] = {"mew\nmewtwo"};
  ASSERT_EQ(cli_list_open_args(&l, NULL, split, 1, BASE, err, sizeof(err)),
            CLI_LIST_EINPUT);
  ASSERT(strstr(err, "<arguments>:1: a line break") != NULL);
  /* Two arguments writing one file are refused like two lines. */
  const char *dup[] = {"mew", "https://h/x/mew"};
  ASSERT_EQ(cli_list_open_args(&l, NULL, dup, 2, BASE, err, sizeof(err)), 0);
  ASSERT_EQ(cli_list_check(l, 1, err, sizeof(err)), CLI_LIST_EINPUT);
  ASSERT(strstr(err, "also produced by line 1") != NULL);
  cli_list_close(l);
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof(dir), "%s/adl-test-list-XXXXXX",
           tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
  ASSERT(mkdtemp(dir) != NULL);
  test_streaming_memory();
  test_builtin();
  test_names_and_urls();
  test_line_forms();
  test_bad_lines();
  test_long_lines();
  test_empty_and_open_errors();
  test_rewind_and_check();
  test_duplicates();
  test_stdin_and_pipes();
  test_safe_filename();
  test_helpers();
  test_arguments();
  char path[512];
  snprintf(path, sizeof(path), "%s/list.txt", dir);
  unlink(path);
  ASSERT_EQ(rmdir(dir), 0);
  return 0;
}
