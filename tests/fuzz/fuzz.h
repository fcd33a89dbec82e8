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

#endif
