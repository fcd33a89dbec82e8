/* libFuzzer harness for the streamed list reader (src/cli/list.c).
 *
 * Input: the bytes of a list file. They are written to a memfd that
 * cli_list_open opens by its /proc/self/fd path (a regular file, so the
 * reader takes its normal, seekable path; no disk involved). Then:
 *   - cli_list_check(need_files = 0) must agree with reading the list item
 *     by item: same count, or the same first error (code and message);
 *   - every item must be well formed: a checked http(s) URL, its name, a
 *     growing line number, and both found on that raw line of the input;
 *   - after a bad line the reader goes on with the next one, and stops;
 *   - a rewind reads the same items again;
 *   - cli_list_check(need_files = 1) must refuse exactly the lists with a
 *     name that cannot be a file name or two items with the same file name.
 * Any broken rule aborts (CHECK); memory errors are ASan/UBSan reports. */
#include "list.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define BASE "https://pokeapi.co/api/v2/pokemon/"
#define ERR_CAP 1024

#define CHECK(c)                                                               \
  do {                                                                         \
    if (!(c)) {                                                                \
      fprintf(stderr, "fuzz-list.c:%d: invariant failed: %s\n", __LINE__, #c); \
      abort();                                                                 \
    }                                                                          \
  } while (0)

__attribute__((visibility("default"))) int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int list_fd = -1;
static char list_path[64];

static void write_input(const uint8_t *data, size_t size) {
  if (list_fd < 0) {
    list_fd = memfd_create("fuzz-list", MFD_CLOEXEC);
    CHECK(list_fd >= 0);
    snprintf(list_path, sizeof(list_path), "/proc/self/fd/%d", list_fd);
  }
  CHECK(ftruncate(list_fd, 0) == 0);
  for (size_t off = 0; off < size;) {
    ssize_t w = pwrite(list_fd, data + off, size - off, (off_t)off);
    CHECK(w > 0 || (w < 0 && errno == EINTR));
    if (w > 0)
      off += (size_t)w;
  }
}

/* Raw line `line` (1-based) of the input, terminator excluded. */
static const uint8_t *raw_line(const uint8_t *data, size_t size,
                               unsigned long line, size_t *len) {
  size_t pos = 0;
  for (unsigned long l = 1; l < line; l++) {
    const uint8_t *nl = memchr(data + pos, '\n', size - pos);
    CHECK(nl != NULL);
    pos = (size_t)(nl - data) + 1;
  }
  const uint8_t *nl = memchr(data + pos, '\n', size - pos);
  *len = nl != NULL ? (size_t)(nl - (data + pos)) : size - pos;
  return data + pos;
}

static unsigned long count_lines(const uint8_t *data, size_t size) {
  unsigned long n = 0;
  for (size_t i = 0; i < size; i++)
    n += data[i] == '\n';
  return n + (size > 0 && data[size - 1] != '\n');
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *u = p;
  for (size_t i = 0; i < n; i++)
    h = (h ^ u[i]) * 1099511628211ull;
  return h;
}

/* "FILE:LINE: reason" on one line; returns LINE. */
static unsigned long check_error(const char *err, const char *display) {
  size_t dl = strlen(display);
  CHECK(strncmp(err, display, dl) == 0 && err[dl] == ':');
  char *end;
  unsigned long line = strtoul(err + dl + 1, &end, 10);
  CHECK(end != err + dl + 1 && end[0] == ':' && end[1] == ' ' && end[2] != 0);
  for (const char *p = err; *p != '\0'; p++)
    CHECK((unsigned char)*p >= 0x20 && *p != 0x7F);
  return line;
}

static void check_item(const cli_item_t *it, const uint8_t *data, size_t size,
                       unsigned long prev_line) {
  char why[300];
  CHECK(it->url != NULL && it->name != NULL);
  CHECK(it->line > prev_line && it->line <= count_lines(data, size));
  CHECK(cli_url_check(it->url, why, sizeof(why)) == 0);
  CHECK(it->name[0] != '\0');
  for (const char *p = it->name; *p != '\0'; p++)
    CHECK(*p > 0x20 && *p < 0x7F && *p != '/');
  /* the name is the URL's last segment, whether the line was a URL or a
   * name joined to BASE (which has no query or fragment) */
  char *back = cli_url_name(it->url);
  CHECK(back != NULL && strcmp(back, it->name) == 0);
  free(back);

  size_t rl;
  const uint8_t *raw = raw_line(data, size, it->line, &rl);
  CHECK(rl <= CLI_LIST_MAX_LINE + 1); /* + its CR */
  size_t bl = strlen(BASE), ul = strlen(it->url), nl = strlen(it->name);
  int joined = ul == bl + nl && memcmp(it->url, BASE, bl) == 0 &&
               strcmp(it->url + bl, it->name) == 0;
  CHECK(memmem(raw, rl, it->url, ul) != NULL ||
        (joined && memmem(raw, rl, it->name, nl) != NULL));
}

typedef struct {
  char *fname; /* "<name>.json" */
  unsigned long line;
} fitem_t;

static int by_name(const void *a, const void *b) {
  const fitem_t *x = a, *y = b;
  int c = strcmp(x->fname, y->fname);
  return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  cli_list_t *l;
  cli_item_t it;
  char *err = malloc(ERR_CAP), *err0 = malloc(ERR_CAP), *err1 = malloc(ERR_CAP);
  CHECK(err != NULL && err0 != NULL && err1 != NULL);
  if (size > (1u << 20))
    goto out;
  write_input(data, size);
  CHECK(cli_list_open(&l, list_path, BASE, err, ERR_CAP) == 0);
  const char *display = cli_list_name(l);
  unsigned long lines = count_lines(data, size);

  /* 1. the whole-list check, without file names */
  int n0 = cli_list_check(l, 0, err0, ERR_CAP);
  CHECK(n0 >= 0 || n0 == CLI_LIST_EINPUT);
  unsigned long e0line = n0 < 0 ? check_error(err0, display) : 0;

  /* 2. item by item, going on after bad lines */
  int count = 0, first_rc = 0, rc;
  unsigned long prev = 0, calls = 0;
  uint64_t h1 = 14695981039346656037ull;
  fitem_t *files = calloc(lines + 1, sizeof(*files));
  size_t nfiles = 0;
  int file_problem = 0;
  CHECK(files != NULL);
  while ((rc = cli_list_next(l, &it, err, ERR_CAP)) != 0) {
    CHECK(++calls <= lines + 1); /* every call consumes at least a line */
    if (rc < 0) {
      CHECK(rc == CLI_LIST_EINPUT);
      unsigned long eline = check_error(err, display);
      CHECK(eline > prev && eline <= lines);
      if (first_rc == 0) {
        first_rc = rc;
        CHECK(n0 == rc && strcmp(err, err0) == 0 && eline == e0line);
      }
      prev = eline;
      continue;
    }
    CHECK(rc == 1);
    check_item(&it, data, size, prev);
    prev = it.line;
    if (first_rc == 0) {
      count++;
      h1 = fnv(h1, it.url, strlen(it.url) + 1);
      h1 = fnv(h1, it.name, strlen(it.name) + 1);
      h1 = fnv(h1, &it.line, sizeof(it.line));
      if (cli_filename_problem(it.name) != NULL) {
        file_problem = 1;
      } else {
        size_t fl = strlen(it.name) + sizeof(".json");
        files[nfiles].fname = malloc(fl);
        CHECK(files[nfiles].fname != NULL);
        CHECK(cli_safe_filename(it.name, files[nfiles].fname, fl) == 0);
        files[nfiles++].line = it.line;
      }
    }
    cli_item_free(&it);
    CHECK(it.url == NULL && it.name == NULL);
  }
  if (n0 >= 0)
    CHECK(first_rc == 0 && count == n0);
  else
    CHECK(first_rc != 0);
  CHECK(cli_list_next(l, &it, err, ERR_CAP) == 0); /* stays at the end */

  /* 3. rewind: the same items again, up to the first error */
  CHECK(cli_list_rewind(l, err, ERR_CAP) == 0);
  uint64_t h2 = 14695981039346656037ull;
  for (int i = 0; i < count; i++) {
    CHECK(cli_list_next(l, &it, err, ERR_CAP) == 1);
    h2 = fnv(h2, it.url, strlen(it.url) + 1);
    h2 = fnv(h2, it.name, strlen(it.name) + 1);
    h2 = fnv(h2, &it.line, sizeof(it.line));
    cli_item_free(&it);
  }
  CHECK(h1 == h2);
  rc = cli_list_next(l, &it, err, ERR_CAP);
  CHECK(rc == (n0 >= 0 ? 0 : n0));
  if (rc == 1)
    cli_item_free(&it);

  /* 4. with file names: refused iff a name is unusable or a duplicate */
  int n1 = cli_list_check(l, 1, err1, ERR_CAP);
  if (n0 < 0) {
    CHECK(n1 < 0 && check_error(err1, display) <= e0line);
  } else {
    int dup = 0;
    qsort(files, nfiles, sizeof(*files), by_name);
    for (size_t i = 1; i < nfiles; i++)
      dup |= strcmp(files[i - 1].fname, files[i].fname) == 0;
    if (file_problem || dup) {
      CHECK(n1 == CLI_LIST_EINPUT);
      check_error(err1, display);
      CHECK(strstr(err1, "cannot be a file name") != NULL ||
            strstr(err1, "also produced by line") != NULL);
    } else {
      CHECK(n1 == n0);
    }
  }
  for (size_t i = 0; i < nfiles; i++)
    free(files[i].fname);
  free(files);
  cli_list_close(l);
out:
  free(err);
  free(err0);
  free(err1);
  return 0;
}
