/* --skip-existing and --update: the sidecar of validators and the record of
 * which files were there at the start (see rerun.h). */
#include "rerun.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "asyncdl-validators 1\n"

char *cli_sidecar_path(const char *file) {
  const char *slash = strrchr(file, '/');
  size_t dlen = slash != NULL ? (size_t)(slash - file) + 1 : 0;
  const char *base = file + dlen;
  size_t n = dlen + sizeof(CLI_SIDECAR_DIR) + strlen(base) +
             sizeof(CLI_SIDECAR_SUFFIX);
  char *p = malloc(n);
  if (p != NULL)
    snprintf(p, n, "%.*s" CLI_SIDECAR_DIR "/%s" CLI_SIDECAR_SUFFIX, (int)dlen,
             file, base);
  return p;
}

int cli_validator_ok(const char *s) {
  size_t len = s != NULL ? strlen(s) : 0;
  if (len == 0 || len >= CLI_VALIDATOR_MAX)
    return 0;
  for (; *s != '\0'; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7F)
      return 0;
  return 1;
}

int cli_validators_format(const cli_validators_t *v, char *buf, size_t cap) {
  int has_etag = v->etag[0] != '\0', has_lm = v->last_modified[0] != '\0';
  if ((!has_etag && !has_lm) || (has_etag && !cli_validator_ok(v->etag)) ||
      (has_lm && !cli_validator_ok(v->last_modified)) || v->mtime_ns < 0 ||
      v->mtime_ns > 999999999)
    return -1;
  int n = snprintf(
      buf, cap, MAGIC "size %" PRIu64 "\nmtime %" PRId64 ".%09ld\n%s%s%s%s%s%s",
      v->size, v->mtime_s, v->mtime_ns, has_etag ? "etag " : "", v->etag,
      has_etag ? "\n" : "", has_lm ? "last-modified " : "", v->last_modified,
      has_lm ? "\n" : "");
  return n > 0 && (size_t)n < cap ? n : -1;
}

/* Digits only into *out; 0 or -1. */
static int parse_u64(const char *s, size_t len, uint64_t *out) {
  uint64_t v = 0;
  if (len == 0 || len > 19)
    return -1;
  for (size_t i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9')
      return -1;
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  *out = v;
  return 0;
}

/* One "key value" line into v; 0 or -1. Each key at most once. */
static int parse_line(const char *l, size_t len, cli_validators_t *v,
                      unsigned *seen) {
  const char *sp = memchr(l, ' ', len);
  if (sp == NULL)
    return -1;
  size_t klen = (size_t)(sp - l), vlen = len - klen - 1;
  const char *val = sp + 1;
  uint64_t a, b;
  if (klen == 4 && memcmp(l, "size", 4) == 0 && !(*seen & 1)) {
    *seen |= 1;
    return parse_u64(val, vlen, &v->size);
  }
  if (klen == 5 && memcmp(l, "mtime", 5) == 0 && !(*seen & 2)) {
    const char *dot = memchr(val, '.', vlen);
    *seen |= 2;
    if (dot == NULL || vlen - (size_t)(dot - val) - 1 != 9 ||
        parse_u64(val, (size_t)(dot - val), &a) != 0 ||
        parse_u64(dot + 1, 9, &b) != 0 || a > INT64_MAX)
      return -1;
    v->mtime_s = (int64_t)a;
    v->mtime_ns = (long)b;
    return 0;
  }
  char *dst = NULL;
  if (klen == 4 && memcmp(l, "etag", 4) == 0 && !(*seen & 4)) {
    *seen |= 4;
    dst = v->etag;
  } else if (klen == 13 && memcmp(l, "last-modified", 13) == 0 &&
             !(*seen & 8)) {
    *seen |= 8;
    dst = v->last_modified;
  }
  if (dst == NULL || vlen == 0 || vlen >= CLI_VALIDATOR_MAX)
    return -1;
  memcpy(dst, val, vlen);
  dst[vlen] = '\0';
  return cli_validator_ok(dst) ? 0 : -1;
}

int cli_validators_parse(const char *text, size_t len, cli_validators_t *v) {
  size_t mlen = sizeof(MAGIC) - 1;
  unsigned seen = 0;
  memset(v, 0, sizeof(*v));
  if (len < mlen || memcmp(text, MAGIC, mlen) != 0)
    return -1;
  for (size_t i = mlen; i < len;) {
    const char *nl = memchr(text + i, '\n', len - i);
    if (nl == NULL) /* the last line is cut: a part, not a sidecar */
      goto bad;
    size_t llen = (size_t)(nl - (text + i));
    if (parse_line(text + i, llen, v, &seen) != 0)
      goto bad;
    i += llen + 1;
  }
  if ((seen & 3) == 3 && (seen & 12) != 0)
    return 0;
bad:
  memset(v, 0, sizeof(*v));
  return -1;
}

int cli_validators_load(const char *file, cli_validators_t *v) {
  char buf[2 * CLI_VALIDATOR_MAX + 128];
  struct stat st;
  char *side = cli_sidecar_path(file);
  int fd = side != NULL ? open(side, O_RDONLY | O_CLOEXEC) : -1;
  free(side);
  if (fd < 0)
    return 0;
  ssize_t n = read(fd, buf, sizeof(buf));
  close(fd);
  if (n <= 0 || (size_t)n >= sizeof(buf) ||
      cli_validators_parse(buf, (size_t)n, v) != 0)
    return 0;
  if (stat(file, &st) != 0 || !S_ISREG(st.st_mode) ||
      (uint64_t)st.st_size != v->size || st.st_mtim.tv_sec != v->mtime_s ||
      st.st_mtim.tv_nsec != v->mtime_ns)
    return 0; /* the file changed since: its validators are not its own */
  return 1;
}

/* Writes text to a new file beside path and renames it over path. No
 * fsync: a sidecar lost or cut by a crash is garbled or stale, and means a
 * full download, never a wrong 304. */
static int write_replace(const char *path, const char *text, size_t len) {
  size_t cap = strlen(path) + 32;
  char *tmp = malloc(cap);
  int fd = -1, rc = 0;
  if (tmp == NULL)
    return -ENOMEM;
  for (unsigned i = 0; fd < 0 && i < 100; i++) {
    snprintf(tmp, cap, "%s.tmp-%ld-%u", path, (long)getpid(), i);
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
    if (fd < 0 && errno != EEXIST)
      break;
  }
  if (fd < 0) {
    rc = -errno;
    free(tmp);
    return rc;
  }
  for (size_t off = 0; off < len && rc == 0;) {
    ssize_t w = write(fd, text + off, len - off);
    if (w < 0 && errno != EINTR)
      rc = -errno;
    else if (w > 0)
      off += (size_t)w;
  }
  if (close(fd) != 0 && rc == 0)
    rc = -errno;
  if (rc == 0 && rename(tmp, path) != 0)
    rc = -errno;
  if (rc != 0)
    unlink(tmp);
  free(tmp);
  return rc;
}

int cli_validators_save(const char *file, const char *etag,
                        const char *last_modified) {
  cli_validators_t v;
  struct stat st;
  char text[2 * CLI_VALIDATOR_MAX + 128];
  char *side = cli_sidecar_path(file);
  if (side == NULL)
    return -ENOMEM;
  memset(&v, 0, sizeof(v));
  if (cli_validator_ok(etag))
    snprintf(v.etag, sizeof(v.etag), "%s", etag);
  if (cli_validator_ok(last_modified))
    snprintf(v.last_modified, sizeof(v.last_modified), "%s", last_modified);
  int rc = 0;
  if (stat(file, &st) != 0) {
    rc = -errno;
  } else {
    v.size = (uint64_t)st.st_size;
    v.mtime_s = (int64_t)st.st_mtim.tv_sec;
    v.mtime_ns = st.st_mtim.tv_nsec;
  }
  int n = rc == 0 ? cli_validators_format(&v, text, sizeof(text)) : -1;
  if (n < 0) {
    /* Nothing to keep (or no file): an old sidecar would be stale. */
    if (unlink(side) != 0 && errno != ENOENT && rc == 0)
      rc = -errno;
    free(side);
    return rc;
  }
  char *slash = strrchr(side, '/');
  *slash = '\0';
  if (mkdir(side, 0777) != 0 && errno != EEXIST)
    rc = -errno;
  *slash = '/';
  if (rc == 0)
    rc = write_replace(side, text, (size_t)n);
  free(side);
  return rc;
}

const char **cli_conditional_headers(const char *const *user,
                                     const cli_validators_t *v) {
  static const char inm[] = "If-None-Match: ", ims[] = "If-Modified-Since: ";
  size_t nuser = 0, text = 0;
  while (user != NULL && user[nuser] != NULL)
    nuser++;
  if (v->etag[0] != '\0')
    text += sizeof(inm) + strlen(v->etag);
  if (v->last_modified[0] != '\0')
    text += sizeof(ims) + strlen(v->last_modified);
  size_t slots = nuser + 3;
  const char **h = malloc(slots * sizeof(*h) + text);
  if (h == NULL)
    return NULL;
  char *p = (char *)(h + slots);
  size_t k = 0;
  for (; k < nuser; k++)
    h[k] = user[k];
  if (v->etag[0] != '\0') {
    h[k++] = p;
    p += sprintf(p, "%s%s", inm, v->etag) + 1;
  }
  if (v->last_modified[0] != '\0') {
    h[k++] = p;
    p += sprintf(p, "%s%s", ims, v->last_modified) + 1;
  }
  h[k] = NULL;
  return h;
}

int cli_present_get(cli_present_t *p, uint64_t n, const char *path,
                    int (*exists)(const char *path)) {
  if (n < p->decided)
    return (p->bits[n / 8] >> (n % 8)) & 1;
  if (n / 8 >= p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 64;
    while (n / 8 >= cap)
      cap *= 2;
    unsigned char *b = realloc(p->bits, cap);
    if (b == NULL)
      return -1;
    memset(b + p->cap, 0, cap - p->cap);
    p->bits = b;
    p->cap = cap;
  }
  int there = path != NULL && exists(path);
  if (there)
    p->bits[n / 8] |= (unsigned char)(1u << (n % 8));
  p->decided = n + 1;
  return there;
}

void cli_present_free(cli_present_t *p) {
  free(p->bits);
  memset(p, 0, sizeof(*p));
}

int cli_file_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}
