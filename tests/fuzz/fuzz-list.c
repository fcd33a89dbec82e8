/* libFuzzer harness for the streamed list reader (src/cli/list.c).
 *
 * Input: the bytes of a list file. They are written to a memfd that
 * cli_list_open opens by its /proc/self/fd path (a regular file, so the
 * reader takes its normal, seekable path; no disk involved). Then:
 *   - line by line, the reader must do what a model of the rules in list.h
 *     (written from the header, not from list.c) says: skip the line, give
 *     this URL and name, or report an error on this line;
 *   - cli_list_check(need_files = 0) must agree with reading the list item
 *     by item: same count, or the same first error (code and message);
 *   - every item must be well formed: a checked http(s) URL, its name, a
 *     growing line number, and both found on that raw line of the input;
 *   - after a bad line the reader goes on with the next one, and stops;
 *   - after the end, a rewind starts again from the first line;
 *   - cli_list_check(need_files = 1) must refuse exactly the lists with a
 *     name that cannot be a file name or two items with the same file name.
 * Any broken rule aborts (CHECK); memory errors are ASan/UBSan reports. */
#include "fuzz.h"
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

/* Where each raw line of the input starts: starts[l - 1] for line l, and
 * starts[lines] = size, + 1 when the last line has no LF (so that line l
 * is always starts[l] - starts[l - 1] - 1 bytes long). */
static size_t *line_starts(const uint8_t *data, size_t size,
                           unsigned long *lines) {
  unsigned long n = 0;
  for (size_t i = 0; i < size; i++)
    n += data[i] == '\n';
  n += size > 0 && data[size - 1] != '\n';
  size_t *st = malloc((n + 1) * sizeof(*st)), k = 0;
  CHECK(st != NULL);
  st[k++] = 0;
  for (size_t i = 0; i < size && k < n; i++)
    if (data[i] == '\n')
      st[k++] = i + 1;
  st[n] = size + (size > 0 && data[size - 1] != '\n'); /* end + its LF */
  *lines = n;
  return st;
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

static void check_item(const cli_item_t *it, const uint8_t *data,
                       const size_t *starts, unsigned long lines,
                       unsigned long prev_line) {
  CHECK(it->url != NULL && it->name != NULL);
  CHECK(it->line > prev_line && it->line <= lines);
  CHECK(it->name[0] != '\0');
  for (const char *p = it->name; *p != '\0'; p++)
    CHECK(*p > 0x20 && *p < 0x7F && *p != '/');
  /* the name is the URL's last segment, whether the line was a URL or a
   * name joined to BASE (which has no query or fragment) */
  char *back = cli_url_name(it->url);
  CHECK(back != NULL && strcmp(back, it->name) == 0);
  free(back);

  const uint8_t *raw = data + starts[it->line - 1];
  size_t rl = starts[it->line] - starts[it->line - 1] - 1; /* without LF */
  CHECK(rl <= CLI_LIST_MAX_LINE + 1); /* + its CR */
  size_t bl = strlen(BASE), ul = strlen(it->url), nl = strlen(it->name);
  int joined = ul == bl + nl && memcmp(it->url, BASE, bl) == 0 &&
               strcmp(it->url + bl, it->name) == 0;
  CHECK(memmem(raw, rl, it->url, ul) != NULL ||
        (joined && memmem(raw, rl, it->name, nl) != NULL));
}

/* ---- a model of the documented line rules (list.h) --------------------
 * Written from the header's description, not from list.c: what one raw line
 * (terminator excluded) must give. */

enum { LINE_SKIP, LINE_ITEM, LINE_ERROR };

/* Returns LINE_*; for an item, *url and *name (malloc'd). */
static int model_line(const uint8_t *raw, size_t n, unsigned long line,
                      char **url, char **name) {
  *url = *name = NULL;
  if (n > 0 && raw[n - 1] == '\r') /* CR before LF dropped */
    n--;
  if (n > CLI_LIST_MAX_LINE)
    return LINE_ERROR;
  if (line == 1 && n >= 3 && memcmp(raw, "\xEF\xBB\xBF", 3) == 0)
    raw += 3, n -= 3; /* a BOM on line 1 */
  for (size_t i = 0; i < n;) { /* UTF-8, no control character but tab */
    size_t k = ref_utf8_len(raw + i, n - i);
    if (k == 0 || (k == 1 && raw[i] != '\t' && (raw[i] < 0x20 || raw[i] == 0x7F)) ||
        (k == 2 && raw[i] == 0xC2 && raw[i + 1] < 0xA0))
      return LINE_ERROR;
    i += k;
  }
  while (n > 0 && (raw[n - 1] == ' ' || raw[n - 1] == '\t'))
    n--;
  while (n > 0 && (raw[0] == ' ' || raw[0] == '\t'))
    raw++, n--;
  if (n == 0 || raw[0] == '#')
    return LINE_SKIP;
  char *s = malloc(n + 1);
  CHECK(s != NULL);
  memcpy(s, raw, n);
  s[n] = '\0';
  if (strstr(s, "://") != NULL) {
    if (cli_url_check(s, NULL, 0) != 0) {
      free(s);
      return LINE_ERROR;
    }
    *url = s;
    *name = cli_url_name(s);
  } else {
    if (cli_name_check(s, NULL, 0) != 0) {
      free(s);
      return LINE_ERROR;
    }
    *name = s;
    *url = malloc(strlen(BASE) + n + 1);
    CHECK(*url != NULL);
    memcpy(*url, BASE, strlen(BASE));
    memcpy(*url + strlen(BASE), s, n + 1);
  }
  CHECK(*name != NULL);
  return LINE_ITEM;
}

/* The next line at or after *next that the model does not skip. */
static int model_next(const uint8_t *data, const size_t *starts,
                      unsigned long lines, unsigned long *next, char **url,
                      char **name) {
  *url = *name = NULL;
  while (*next <= lines) {
    unsigned long l = (*next)++;
    const uint8_t *raw = data + starts[l - 1];
    size_t rl = starts[l] - starts[l - 1] - 1;
    int kind = model_line(raw, rl, l, url, name);
    if (kind != LINE_SKIP)
      return kind;
  }
  return LINE_SKIP; /* the end */
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
  unsigned long lines;
  size_t *starts = line_starts(data, size, &lines);

  /* 1. the whole-list check, without file names */
  int n0 = cli_list_check(l, 0, err0, ERR_CAP);
  CHECK(n0 >= 0 || n0 == CLI_LIST_EINPUT);
  unsigned long e0line = n0 < 0 ? check_error(err0, display) : 0;

  /* 2. item by item, going on after bad lines */
  int count = 0, first_rc = 0, rc;
  unsigned long prev = 0, calls = 0;
  fitem_t *files = calloc(lines + 1, sizeof(*files));
  size_t nfiles = 0;
  int file_problem = 0;
  CHECK(files != NULL);
  unsigned long mnext = 1, first_line = 0;
  int first_result = 0;
  char *first_url = NULL, *first_err = NULL;
  for (;;) {
    char *murl, *mname;
    int kind = model_next(data, starts, lines, &mnext, &murl, &mname);
    rc = cli_list_next(l, &it, err, ERR_CAP);
    /* the reader does what the model says, line by line */
    if (kind == LINE_SKIP) {
      CHECK(rc == 0);
    } else if (kind == LINE_ERROR) {
      CHECK(rc < 0 && check_error(err, display) == mnext - 1);
    } else {
      CHECK(rc == 1 && it.line == mnext - 1);
      CHECK(strcmp(it.url, murl) == 0 && strcmp(it.name, mname) == 0);
    }
    free(murl);
    free(mname);
    if (calls == 0) { /* for step 3 */
      first_result = rc;
      first_url = rc == 1 ? strdup(it.url) : NULL;
      first_err = rc < 0 ? strdup(err) : NULL;
      first_line = rc == 1 ? it.line : 0;
      CHECK(rc != 1 || first_url != NULL);
      CHECK(rc >= 0 || first_err != NULL);
    }
    if (rc == 0)
      break;
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
    check_item(&it, data, starts, lines, prev);
    prev = it.line;
    if (first_rc == 0) {
      count++;
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

  /* 3. rewind after the end: the first result again */
  CHECK(cli_list_rewind(l, err, ERR_CAP) == 0);
  rc = cli_list_next(l, &it, err, ERR_CAP);
  CHECK(rc == first_result);
  if (rc == 1) {
    CHECK(strcmp(it.url, first_url) == 0 && it.line == first_line);
    cli_item_free(&it);
  } else if (rc < 0) {
    CHECK(strcmp(err, first_err) == 0);
  }
  free(first_url);
  free(first_err);

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
  free(starts);
  cli_list_close(l);
out:
  free(err);
  free(err0);
  free(err1);
  return 0;
}
