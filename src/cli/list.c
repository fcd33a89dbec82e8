/* The download list, read one line at a time with a fixed buffer: a list of
 * a million names costs no more memory than a list of three. Only
 * cli_list_check's duplicate detection keeps per-item state, and frees it
 * before returning. */
#include "list.h"

/* The built-in list is the fixture server's own table, so that the default
 * list and what --local serves can never disagree. */
#include "pokedex.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cli_list_s {
  FILE *fp;                        /* NULL for the built-in table */
  char *display;                   /* file name as shown in messages */
  char *base;                      /* base URL names are joined to */
  unsigned long line;              /* lines consumed so far */
  unsigned long lines_hint;        /* newlines in the snapshot */
  size_t builtin_next;             /* next index into pokedex_names */
  char buf[CLI_LIST_MAX_LINE + 2]; /* a line, its CR, and a NUL */
};


/* ---- the reader -------------------------------------------------------- */

static int errno_class(int e) {
  switch (e) {
  case ENOENT:
  case ENOTDIR:
  case EACCES:
  case EPERM:
  case ELOOP:
  case ENAMETOOLONG:
  case EISDIR:
  case ENXIO:
    return CLI_LIST_EINPUT;
  default:
    return CLI_LIST_ESYSTEM;
  }
}

/* The snapshot's file: unlinked, in $TMPDIR or /tmp (named in *dirp).
 * Returns the descriptor or CLI_LIST_ESYSTEM. */
static int snapshot_open(cli_list_t *l, const char **dirp, char *err,
                         size_t errlen) {
  const char *dir = getenv("TMPDIR");
  char tmpl[PATH_MAX];
  int fd = -1;
  if (dir == NULL || *dir == '\0')
    dir = "/tmp";
  *dirp = dir;
#ifdef O_TMPFILE
  fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
#endif
  if (fd < 0) { /* no O_TMPFILE here: create, then unlink at once */
    if (snprintf(tmpl, sizeof(tmpl), "%s/asyncdl-list-XXXXXX", dir) >=
        (int)sizeof(tmpl))
      return cli_fail(CLI_LIST_ESYSTEM, err, errlen, "TMPDIR is too long");
    fd = mkostemp(tmpl, O_CLOEXEC);
    if (fd >= 0)
      unlink(tmpl);
  }
  if (fd < 0)
    return cli_fail(CLI_LIST_ESYSTEM, err, errlen,
                "%s: cannot create a temporary file in %s: %s", l->display, dir,
                strerror(errno));
  return fd;
}

/* Writes len bytes at p to the snapshot fd; 0 or -errno. */
static int snapshot_write(int fd, const char *p, size_t len) {
  for (size_t off = 0; off < len;) {
    ssize_t w = write(fd, p + off, len - off);
    if (w < 0 && errno == EINTR)
      continue;
    if (w < 0)
      return -errno;
    off += (size_t)w;
  }
  return 0;
}

/* The snapshot written: back to its start, as the list's stream. */
static int snapshot_done(cli_list_t *l, int fd, char *err, size_t errlen) {
  if (lseek(fd, 0, SEEK_SET) != 0 || (l->fp = fdopen(fd, "r")) == NULL) {
    int e = errno;
    close(fd);
    return cli_fail(CLI_LIST_ESYSTEM, err, errlen, "%s: %s", l->display,
                strerror(e));
  }
  return 0;
}

/* Copies src to an unlinked temporary file: the list's one snapshot,
 * read by cli_list_check and then by every run, and the way input that
 * cannot seek (stdin, a pipe, a FIFO) can be read twice. Counts its lines,
 * so the duplicate check can size its table once. */
static int spool(cli_list_t *l, int src, char *err, size_t errlen) {
  const char *dir;
  char chunk[65536];
  int fd = snapshot_open(l, &dir, err, errlen);
  if (fd < 0)
    return fd;
  for (;;) {
    ssize_t n = read(src, chunk, sizeof(chunk));
    if (n == 0)
      break;
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      int e = errno;
      close(fd);
      return cli_fail(errno_class(e), err, errlen, "%s: read error: %s", l->display,
                  strerror(e));
    }
    for (const char *c = chunk; (c = memchr(c, '\n', (size_t)(n - (c - chunk)))) != NULL; c++)
      l->lines_hint++;
    int e = snapshot_write(fd, chunk, (size_t)n);
    if (e != 0) {
      close(fd);
      return cli_fail(CLI_LIST_ESYSTEM, err, errlen,
                  "%s: cannot copy to a temporary file in %s: %s", l->display,
                  dir, strerror(-e));
    }
  }
  return snapshot_done(l, fd, err, errlen);
}

/* Operands become the lines of the snapshot, so that they are checked and
 * read exactly like a list (line N = argument N). */
static int spool_args(cli_list_t *l, const char *const *args, size_t n,
                      char *err, size_t errlen) {
  const char *dir;
  int fd = snapshot_open(l, &dir, err, errlen);
  if (fd < 0)
    return fd;
  for (size_t i = 0; i < n; i++) {
    if (strpbrk(args[i], "\r\n") != NULL) {
      close(fd);
      return cli_fail(CLI_LIST_EINPUT, err, errlen,
                      "%s:%zu: a line break inside an argument", l->display,
                      i + 1);
    }
    int e = snapshot_write(fd, args[i], strlen(args[i]));
    if (e == 0)
      e = snapshot_write(fd, "\n", 1);
    if (e != 0) {
      close(fd);
      return cli_fail(CLI_LIST_ESYSTEM, err, errlen,
                      "%s: cannot write a temporary file in %s: %s",
                      l->display, dir, strerror(-e));
    }
    l->lines_hint++;
  }
  return snapshot_done(l, fd, err, errlen);
}

static int open_path(cli_list_t *l, const char *path, char *err,
                     size_t errlen) {
  struct stat st;
  int rc = 0;
  if (strcmp(path, "-") == 0)
    return spool(l, STDIN_FILENO, err, errlen);
  int fd = open(path, O_RDONLY | O_CLOEXEC), e = errno;
  if (fd < 0)
    return cli_fail(errno_class(e), err, errlen, "%s: %s", l->display, strerror(e));
  if (fstat(fd, &st) != 0) {
    e = errno;
    rc = cli_fail(errno_class(e), err, errlen, "%s: %s", l->display, strerror(e));
  } else if (S_ISDIR(st.st_mode)) {
    rc = cli_fail(CLI_LIST_EINPUT, err, errlen, "%s: is a directory", l->display);
  } else {
    /* Every list, a regular file too, is read from a private snapshot:
     * what is checked is exactly what is downloaded, whatever happens to
     * the file meanwhile (lines appended, rewritten). */
    rc = spool(l, fd, err, errlen);
  }
  close(fd);
  return rc;
}

int cli_list_open(cli_list_t **out, const char *path, const char *base_url,
                  char *err, size_t errlen) {
  return cli_list_open_args(out, path, NULL, 0, base_url, err, errlen);
}

int cli_list_open_args(cli_list_t **out, const char *path,
                       const char *const *args, size_t nargs,
                       const char *base_url, char *err, size_t errlen) {
  cli_list_t *l;
  char shown[256];
  *out = NULL;
  if (base_url == NULL)
    return cli_fail(CLI_LIST_ESYSTEM, err, errlen, "no base URL given");
  if (args != NULL)
    snprintf(shown, sizeof(shown), "<arguments>");
  else if (path == NULL)
    snprintf(shown, sizeof(shown), "<built-in>");
  else if (strcmp(path, "-") == 0)
    snprintf(shown, sizeof(shown), "<stdin>");
  else
    cli_quote(shown, sizeof(shown), path, strlen(path));
  if ((l = calloc(1, sizeof(*l))) == NULL ||
      (l->display = strdup(shown)) == NULL ||
      (l->base = strdup(base_url)) == NULL) {
    cli_list_close(l);
    return cli_fail(CLI_LIST_ESYSTEM, err, errlen, "out of memory");
  }
  if (args != NULL || path != NULL) {
    int rc = args != NULL ? spool_args(l, args, nargs, err, errlen)
                          : open_path(l, path, err, errlen);
    if (rc != 0) {
      cli_list_close(l);
      return rc;
    }
  }
  *out = l;
  return 0;
}

const char *cli_list_name(const cli_list_t *l) { return l->display; }

void cli_list_close(cli_list_t *l) {
  if (l == NULL)
    return;
  if (l->fp != NULL)
    fclose(l->fp);
  free(l->display);
  free(l->base);
  free(l);
}

void cli_item_free(cli_item_t *item) {
  free(item->url);
  free(item->name);
  memset(item, 0, sizeof(*item));
}

int cli_list_rewind(cli_list_t *l, char *err, size_t errlen) {
  l->line = 0;
  l->builtin_next = 0;
  if (l->fp != NULL) {
    clearerr(l->fp);
    if (fseek(l->fp, 0, SEEK_SET) != 0)
      return cli_fail(CLI_LIST_ESYSTEM, err, errlen, "%s: cannot rewind: %s",
                  l->display, strerror(errno));
  }
  return 0;
}

/* Reads one raw line (terminator dropped, CR kept) into l->buf. Bytes past
 * the buffer are consumed and dropped so the next call starts on the next
 * line. Returns 1, 0 at the end, or -1 on a read error. */
static int read_line(cli_list_t *l, size_t *len, int *too_long) {
  size_t n = 0;
  int c;
  *too_long = 0;
  while ((c = getc_unlocked(l->fp)) != EOF && c != '\n') {
    if (n < sizeof(l->buf) - 1)
      l->buf[n++] = (char)c;
    else
      *too_long = 1;
  }
  if (c == EOF && ferror(l->fp))
    return -1;
  if (c == EOF && n == 0 && !*too_long)
    return 0;
  l->buf[n] = '\0';
  *len = n;
  return 1;
}

/* Turns the line in l->buf into *item. Returns 1 for an item, 0 for a blank
 * or comment line, or CLI_LIST_E*. */
static int parse_line(cli_list_t *l, size_t n, int too_long, cli_item_t *item,
                      char *err, size_t errlen) {
  char *s = l->buf, why[300];
  size_t skipped = 0;
  if (n > 0 && s[n - 1] == '\r')
    s[--n] = '\0';
  if (too_long || n > CLI_LIST_MAX_LINE)
    return cli_fail(CLI_LIST_EINPUT, err, errlen,
                "%s:%lu: line longer than %d bytes", l->display, l->line,
                CLI_LIST_MAX_LINE);
  if (l->line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) {
    s += 3;
    n -= 3;
    skipped = 3;
  }
  for (size_t i = 0; i < n;) {
    const unsigned char *u = (const unsigned char *)s + i;
    if (u[0] >= 0x20 && u[0] < 0x7F) { /* plain ASCII: nothing to check */
      i++;
      continue;
    }
    size_t k = cli_utf8_len(u, n - i);
    if (k == 0)
      return cli_fail(CLI_LIST_EINPUT, err, errlen,
                  "%s:%lu: invalid UTF-8 (byte 0x%02X at byte %zu)", l->display,
                  l->line, u[0], skipped + i + 1);
    if ((k == 1 && ((u[0] < 0x20 && u[0] != '\t') || u[0] == 0x7F)) ||
        (k == 2 && u[0] == 0xC2 && u[1] < 0xA0))
      return cli_fail(CLI_LIST_EINPUT, err, errlen,
                  "%s:%lu: control character 0x%02X at byte %zu", l->display,
                  l->line, k == 1 ? u[0] : u[1], skipped + i + 1);
    i += k;
  }
  while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
  while (*s == ' ' || *s == '\t')
    s++;
  if (*s == '\0' || *s == '#')
    return 0;
  if (strstr(s, "://") != NULL) {
    if (cli_url_check(s, why, sizeof(why)) != 0)
      return cli_fail(CLI_LIST_EINPUT, err, errlen, "%s:%lu: %s", l->display,
                  l->line, why);
    item->url = strdup(s);
    item->name = item->url != NULL ? cli_url_name(s) : NULL;
  } else {
    if (cli_name_check(s, why, sizeof(why)) != 0)
      return cli_fail(CLI_LIST_EINPUT, err, errlen, "%s:%lu: %s", l->display,
                  l->line, why);
    item->name = strdup(s);
    if (item->name != NULL && cli_url_join(l->base, s, &item->url) != 0)
      item->url = NULL;
  }
  if (item->url == NULL || item->name == NULL) {
    cli_item_free(item);
    return cli_fail(CLI_LIST_ESYSTEM, err, errlen, "out of memory");
  }
  item->line = l->line;
  return 1;
}

int cli_list_next(cli_list_t *l, cli_item_t *item, char *err, size_t errlen) {
  memset(item, 0, sizeof(*item));
  if (l->fp == NULL) {
    if (l->builtin_next >= POKEDEX_COUNT)
      return 0;
    const char *name = pokedex_names[l->builtin_next++];
    item->name = strdup(name);
    if (item->name == NULL || cli_url_join(l->base, name, &item->url) != 0) {
      cli_item_free(item);
      return cli_fail(CLI_LIST_ESYSTEM, err, errlen, "out of memory");
    }
    item->line = ++l->line;
    return 1;
  }
  for (;;) {
    size_t n = 0;
    int too_long, rc = read_line(l, &n, &too_long);
    if (rc < 0)
      return cli_fail(CLI_LIST_ESYSTEM, err, errlen, "%s:%lu: read error: %s",
                  l->display, l->line + 1, strerror(errno));
    if (rc == 0)
      return 0;
    l->line++;
    rc = parse_line(l, n, too_long, item, err, errlen);
    if (rc != 0)
      return rc;
  }
}

/* ---- duplicate file names ---------------------------------------------- */

/* 64-bit fingerprints of the file names seen, not the names: a million-line
 * list costs 16 MB, sized once from the snapshot's line count. A hit is
 * confirmed by reading the list again for the earlier line, so a rare
 * fingerprint collision never refuses a good list. */
typedef struct {
  uint64_t *slots; /* 0 = free */
  size_t cap, n;   /* cap is a power of two */
} nameset_t;

static uint64_t fingerprint(const char *s) {
  uint64_t h = 14695981039346656037ull;
  for (; *s != '\0'; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  h ^= h >> 29; /* spread the low bits used as the index */
  return h != 0 ? h : 1;
}

static int set_init(nameset_t *s, unsigned long expected) {
  size_t cap = 256;
  while (cap * 7 < (size_t)expected * 10 + 10) /* load <= 70 % */
    cap *= 2;
  s->slots = calloc(cap, sizeof(*s->slots));
  s->cap = cap;
  s->n = 0;
  return s->slots != NULL ? 0 : -1;
}

/* 1 when fp was there already, 0 when added, -1 when out of memory. */
static int set_add(nameset_t *s, uint64_t fp) {
  if ((s->n + 1) * 10 > s->cap * 7) { /* more lines than counted */
    nameset_t bigger;
    if (set_init(&bigger, (unsigned long)s->cap) != 0)
      return -1;
    for (size_t i = 0; i < s->cap; i++)
      if (s->slots[i] != 0)
        set_add(&bigger, s->slots[i]);
    free(s->slots);
    *s = bigger;
  }
  size_t i = (size_t)fp & (s->cap - 1);
  while (s->slots[i] != 0 && s->slots[i] != fp)
    i = (i + 1) & (s->cap - 1);
  if (s->slots[i] == fp)
    return 1;
  s->slots[i] = fp;
  s->n++;
  return 0;
}

/* The first line before `before` whose file name is fname, or 0. Reads
 * the snapshot again and puts the reader back where it was. */
static unsigned long earlier_line(cli_list_t *l, const char *fname,
                                  unsigned long before) {
  off_t pos = l->fp != NULL ? ftello(l->fp) : 0;
  unsigned long line = l->line;
  size_t builtin = l->builtin_next;
  char ignored[8], other[CLI_NAME_MAX + sizeof(".json")];
  cli_item_t it;
  unsigned long found = 0;
  cli_list_rewind(l, ignored, sizeof(ignored));
  while (!found && cli_list_next(l, &it, ignored, sizeof(ignored)) > 0) {
    if (it.line >= before) {
      cli_item_free(&it);
      break;
    }
    if (cli_safe_filename(it.name, other, sizeof(other)) == 0 &&
        strcmp(other, fname) == 0)
      found = it.line;
    cli_item_free(&it);
  }
  if (l->fp != NULL) {
    clearerr(l->fp);
    fseeko(l->fp, pos, SEEK_SET);
  }
  l->line = line;
  l->builtin_next = builtin;
  return found;
}

/* Checks one item's file name; returns 0 or CLI_LIST_E*. */
static int check_file(cli_list_t *l, nameset_t *set, const cli_item_t *it,
                      char *err, size_t errlen) {
  char fname[CLI_NAME_MAX + sizeof(".json")], q[100];
  const char *why = cli_filename_problem(it->name);
  if (why != NULL) {
    cli_quote(q, sizeof(q), it->name, strlen(it->name));
    return cli_fail(CLI_LIST_EINPUT, err, errlen,
                "%s:%lu: '%s' cannot be a file name: it %s", l->display,
                it->line, q, why);
  }
  cli_safe_filename(it->name, fname, sizeof(fname));
  int seen = set_add(set, fingerprint(fname));
  if (seen < 0)
    return cli_fail(CLI_LIST_ESYSTEM, err, errlen, "out of memory");
  unsigned long prev = seen ? earlier_line(l, fname, it->line) : 0;
  if (prev > 0) {
    cli_quote(q, sizeof(q), fname, strlen(fname));
    return cli_fail(CLI_LIST_EINPUT, err, errlen,
                "%s:%lu: '%s' also produced by line %lu", l->display, it->line,
                q, prev);
  }
  return 0;
}

int cli_list_check(cli_list_t *l, int need_files, char *err, size_t errlen) {
  nameset_t set = {NULL, 0, 0};
  cli_item_t it;
  int count = 0, rc = cli_list_rewind(l, err, errlen);
  if (rc == 0 && need_files &&
      set_init(&set, l->fp != NULL ? l->lines_hint + 1 : POKEDEX_COUNT) != 0)
    rc = cli_fail(CLI_LIST_ESYSTEM, err, errlen, "out of memory");
  while (rc == 0) {
    int got = cli_list_next(l, &it, err, errlen);
    if (got <= 0) {
      rc = got;
      break;
    }
    if (need_files)
      rc = check_file(l, &set, &it, err, errlen);
    cli_item_free(&it);
    if (rc == 0 && count == INT_MAX)
      rc = cli_fail(CLI_LIST_EINPUT, err, errlen, "%s: more than %d entries",
                l->display, INT_MAX);
    if (rc == 0)
      count++;
  }
  free(set.slots);
  if (rc < 0) {
    char ignored[8];
    cli_list_rewind(l, ignored, sizeof(ignored));
    return rc;
  }
  rc = cli_list_rewind(l, err, errlen);
  return rc < 0 ? rc : count;
}
