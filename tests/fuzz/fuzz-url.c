/* libFuzzer harness for the CLI's string rules (src/cli/url.c): URL check,
 * name check, URL joining, the URL's name, safe file names, UTF-8 lengths
 * and message quoting.
 *
 * Input: "BASE\nNAME" (BASE joined to NAME), or a single line used both as
 * a URL and as a name (joined to the default base). Every string is also
 * passed through the other functions, so any input exercises all of them.
 * Each function gets its own exactly-sized heap copy, so that reading one
 * byte past a string's NUL is an ASan report. Besides memory errors, the
 * harness aborts when a documented rule is broken (see the CHECKs). */
#include "fuzz.h"
#include "url.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define DEFAULT_BASE "https://pokeapi.co/api/v2/pokemon/"
#define WHY_CAP 300 /* what the list reader gives cli_url_check */

static char *dup_n(const void *s, size_t n) {
  char *p = malloc(n + 1);
  CHECK(p != NULL);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

static int is_hex(int c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
         (c >= 'A' && c <= 'F');
}

static int hex(int c) {
  return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}

/* A message for one line of output: valid UTF-8 and no control character
 * (C0, DEL, C1) anywhere, so untrusted text cannot drive a terminal. */
static void check_one_line(const char *s) {
  const unsigned char *u = (const unsigned char *)s;
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    size_t k = ref_utf8_len(u + i, n - i);
    CHECK(k > 0);
    CHECK(!(k == 1 && (u[i] < 0x20 || u[i] == 0x7F)));
    CHECK(!(k == 2 && u[i] == 0xC2 && u[i + 1] < 0xA0));
    i += k;
  }
}

/* Undoes cli_quote: "\\\\" -> '\\', "\\xHH" -> byte. Returns the length. */
static size_t unquote(const char *q, size_t qn, unsigned char *out) {
  size_t o = 0;
  for (size_t i = 0; i < qn;) {
    if (q[i] == '\\') {
      CHECK(i + 1 < qn);
      if (q[i + 1] == '\\') {
        out[o++] = '\\';
        i += 2;
      } else {
        CHECK(q[i + 1] == 'x' && i + 3 < qn && is_hex(q[i + 2]) &&
              is_hex(q[i + 3]));
        out[o++] = (unsigned char)(hex(q[i + 2]) * 16 + hex(q[i + 3]));
        i += 4;
      }
    } else {
      out[o++] = (unsigned char)q[i++];
    }
  }
  return o;
}

/* cli_quote with every small cap and a few usual ones: never writes past
 * cap, output always one line; untruncated output unquotes to the input,
 * truncated output ends in "..." and unquotes to a prefix of it. */
static void fuzz_quote(const uint8_t *data, size_t size) {
  size_t fcap = 4 * size + 8; /* enough for every byte as \xHH */
  char *full = malloc(fcap);
  unsigned char *back = malloc(size + 1);
  CHECK(full != NULL && back != NULL);
  cli_quote(full, fcap, (const char *)data, size);
  size_t flen = strlen(full);
  CHECK(flen < fcap);
  check_one_line(full);
  CHECK(unquote(full, flen, back) == size);
  CHECK(size == 0 || memcmp(back, data, size) == 0);

  char none = 'x';
  cli_quote(&none, 0, (const char *)data, size); /* cap 0: writes nothing */
  CHECK(none == 'x');
  static const size_t caps[] = {1, 2, 4, 5, 7, 8, 9, 11, 16, 40, 100};
  for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
    size_t cap = caps[c];
    char *out = malloc(cap); /* exact size: an overflow is an ASan report */
    CHECK(out != NULL);
    cli_quote(out, cap, (const char *)data, size);
    size_t olen = strlen(out);
    CHECK(olen < cap);
    check_one_line(out);
    if (flen < cap) {
      CHECK(strcmp(out, full) == 0);
    } else if (cap > 4) {
      CHECK(olen >= 3 && memcmp(out + olen - 3, "...", 3) == 0);
      size_t b = unquote(out, olen - 3, back);
      CHECK(b <= size && memcmp(back, data, b) == 0);
      /* cut at a piece boundary: the kept text is a prefix of full */
      CHECK(strncmp(out, full, olen - 3) == 0);
    }
    free(out);
  }
  free(full);
  free(back);
}

/* cli_utf8_len against the reference at every offset (NULs included). */
static void fuzz_utf8(const uint8_t *data, size_t size) {
  for (size_t i = 0; i < size; i++) {
    size_t got = cli_utf8_len(data + i, size - i);
    CHECK(got == ref_utf8_len(data + i, size - i));
    CHECK(got <= 4 && got <= size - i);
  }
  CHECK(cli_utf8_len(data, 0) == 0);
}

static void fuzz_url(const char *u) {
  char *why = malloc(WHY_CAP), small[16];
  CHECK(why != NULL);
  why[0] = '\0';
  int rc = cli_url_check(u, why, WHY_CAP);
  CHECK(rc == 0 || rc == -1);
  CHECK(cli_url_check(u, NULL, 0) == rc);
  CHECK(cli_url_check(u, small, sizeof(small)) == rc);
  if (rc != 0) {
    CHECK(why[0] != '\0');
    check_one_line(why);
    free(why);
    return;
  }
  free(why);
  /* accepted: http(s)://, nothing but printable ASCII, a host */
  CHECK(strncasecmp(u, "http://", 7) == 0 || strncasecmp(u, "https://", 8) == 0);
  for (const unsigned char *p = (const unsigned char *)u; *p != '\0'; p++)
    CHECK(*p > 0x20 && *p < 0x7F);
  const char *auth = strstr(u, "://") + 3;
  CHECK(strcspn(auth, "/?#") > 0);
  char *name = cli_url_name(u);
  CHECK(name != NULL && name[0] != '\0');
  CHECK(strpbrk(name, "/?#") == NULL);
  CHECK(strstr(u, name) != NULL || strcmp(name, "index") == 0);
  free(name);
}

/* Independent reading of cli_filename_problem's rules. */
static int ref_filename_bad(const char *name) {
  size_t len = strlen(name), dlen = 0;
  int dots_only = 1;
  if (len == 0 || len > CLI_NAME_MAX)
    return 1;
  for (size_t i = 0; i < len; i++, dlen++) {
    int c = (unsigned char)name[i];
    if (c == '%' && is_hex((unsigned char)name[i + 1]) &&
        is_hex((unsigned char)name[i + 2])) {
      c = hex(name[i + 1]) * 16 + hex(name[i + 2]);
      i += 2;
    }
    if (c == '/' || c == '\\' || c < 0x20 || c == 0x7F)
      return 1;
    if (c != '.')
      dots_only = 0;
  }
  return dots_only && dlen <= 2;
}

static void fuzz_name(const char *s) {
  char why[WHY_CAP];
  size_t len = strlen(s);
  int rc = cli_name_check(s, why, sizeof(why));
  CHECK(rc == 0 || rc == -1);
  if (rc != 0) {
    check_one_line(why);
  } else {
    /* one path segment: pchar or a well-formed %XX, never "." or "..";
     * "" passes (the list reader never asks: it skips blank lines) */
    CHECK(strcmp(s, ".") != 0 && strcmp(s, "..") != 0);
    for (size_t i = 0; i < len; i++) {
      unsigned char c = (unsigned char)s[i];
      if (c == '%') {
        CHECK(is_hex((unsigned char)s[i + 1]) && is_hex((unsigned char)s[i + 2]));
        i += 2;
        continue;
      }
      CHECK((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
            strchr("-._~!$&'()*+,;=:@", c) != NULL);
    }
  }

  const char *problem = cli_filename_problem(s);
  CHECK((problem != NULL) == ref_filename_bad(s));
  char *out = malloc(len + sizeof(".json"));
  CHECK(out != NULL);
  int frc = cli_safe_filename(s, out, len + sizeof(".json"));
  if (problem != NULL) {
    CHECK(frc == -EINVAL);
  } else {
    CHECK(frc == 0);
    CHECK(strlen(out) == len + 5 && memcmp(out, s, len) == 0 &&
          strcmp(out + len, ".json") == 0);
    CHECK(strchr(out, '/') == NULL);
    CHECK(cli_safe_filename(s, out, len + sizeof(".json") - 1) == -ERANGE);
  }
  free(out);
}

static void fuzz_join(const char *base, const char *name) {
  char *out = NULL;
  int rc = cli_url_join(base, name, &out);
  size_t bl = strlen(base), nl = strlen(name);
  if (bl == 0 || nl == 0) {
    CHECK(rc == -EINVAL && out == NULL);
    return;
  }
  CHECK(rc == 0 && out != NULL);
  size_t slash = base[bl - 1] != '/';
  CHECK(strlen(out) == bl + slash + nl);
  CHECK(memcmp(out, base, bl) == 0 && out[bl + slash - 1] == '/' &&
        strcmp(out + bl + slash, name) == 0);
  if (cli_url_check(base, NULL, 0) == 0 && cli_name_check(name, NULL, 0) == 0) {
    /* a checked name cannot change the URL's structure */
    char why[WHY_CAP];
    if (cli_url_check(out, why, sizeof(why)) != 0) {
      fprintf(stderr, "joined URL refused: %s\n", why);
      CHECK(!"join of a valid base and a valid name is a valid URL");
    }
    if (strpbrk(strstr(base, "://") + 3, "?#") == NULL) {
      char *back = cli_url_name(out);
      CHECK(back != NULL && strcmp(back, name) == 0);
      free(back);
    }
  }
  free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536)
    return 0;
  fuzz_utf8(data, size);
  fuzz_quote(data, size);

  char *all = dup_n(data, size); /* C string: up to the first NUL */
  size_t alen = strlen(all);
  const char *nl = memchr(all, '\n', alen);
  char *base, *name;
  if (nl != NULL) {
    base = dup_n(all, (size_t)(nl - all));
    name = dup_n(nl + 1, alen - (size_t)(nl - all) - 1);
  } else {
    base = dup_n(DEFAULT_BASE, strlen(DEFAULT_BASE));
    name = dup_n(all, alen);
  }
  fuzz_url(all);
  fuzz_url(base);
  fuzz_url(name);
  fuzz_name(name);
  fuzz_name(base);
  fuzz_join(base, name);
  fuzz_join(name, base);
  free(all);
  free(base);
  free(name);
  return 0;
}
