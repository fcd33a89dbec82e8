/* Shared by the libFuzzer harnesses: the entry point's prototype (exported
 * despite -fvisibility=hidden) and CHECK, which aborts, so that libFuzzer
 * records the input, when an invariant of the code under test fails. */
#ifndef ADL_FUZZ_H
#define ADL_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                               \
  do {                                                                         \
    if (!(c)) {                                                                \
      fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__,     \
              #c);                                                             \
      abort();                                                                 \
    }                                                                          \
  } while (0)

__attribute__((visibility("default"))) int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reference UTF-8 decoder written differently from cli_utf8_len: decode
 * the code point, then refuse overlong forms, surrogates and > U+10FFFF. */
static inline size_t ref_utf8_len(const unsigned char *s, size_t n) {
  uint32_t cp, min;
  size_t len;
  if (n == 0)
    return 0;
  if (s[0] < 0x80)
    return 1;
  if ((s[0] & 0xE0) == 0xC0) {
    len = 2, cp = s[0] & 0x1Fu, min = 0x80;
  } else if ((s[0] & 0xF0) == 0xE0) {
    len = 3, cp = s[0] & 0x0Fu, min = 0x800;
  } else if ((s[0] & 0xF8) == 0xF0) {
    len = 4, cp = s[0] & 0x07u, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len)
    return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80)
      return 0;
    cp = (cp << 6) | (s[i] & 0x3Fu);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return len;
}

#endif
