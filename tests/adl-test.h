/* Tiny always-on assertions for the test programs: each failure prints both
 * sides and the location, then exits 1. Exit 77 tells meson "skipped". */
#ifndef ADL_TEST_H
#define ADL_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ADL_TEST_SKIP 77

/* UNDER_ASAN: 1 in an AddressSanitizer build (gcc or clang), where freed
 * memory sits in quarantine and RSS figures mean nothing. */
#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define ADL_FAIL_(...)                                                         \
  do {                                                                         \
    fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                            \
    fprintf(stderr, __VA_ARGS__);                                              \
    fputc('\n', stderr);                                                       \
    exit(1);                                                                   \
  } while (0)

#define ASSERT(cond)                                                           \
  do {                                                                         \
    if (!(cond))                                                               \
      ADL_FAIL_("assertion failed: %s", #cond);                                \
  } while (0)

#define ASSERT_INT_OP_(a, op, b)                                               \
  do {                                                                         \
    intmax_t a_ = (intmax_t)(a), b_ = (intmax_t)(b);                           \
    if (!(a_ op b_))                                                           \
      ADL_FAIL_("%s %s %s (%jd vs %jd)", #a, #op, #b, a_, b_);                 \
  } while (0)

#define ASSERT_EQ(a, b) ASSERT_INT_OP_(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_INT_OP_(a, !=, b)
#define ASSERT_LT(a, b) ASSERT_INT_OP_(a, <, b)
#define ASSERT_LE(a, b) ASSERT_INT_OP_(a, <=, b)
#define ASSERT_GT(a, b) ASSERT_INT_OP_(a, >, b)
#define ASSERT_GE(a, b) ASSERT_INT_OP_(a, >=, b)

#define ASSERT_STR_EQ(a, b)                                                    \
  do {                                                                         \
    const char *a_ = (a), *b_ = (b);                                           \
    if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0)                       \
      ADL_FAIL_("%s == %s (\"%s\" vs \"%s\")", #a, #b, a_ ? a_ : "(null)",     \
                b_ ? b_ : "(null)");                                           \
  } while (0)

/* Entries of dir other than "." files: a test's way to see that nothing
 * (no temporary file, no partial download) was left behind. */
#include <dirent.h>
static inline unsigned adl_test_dir_entries(const char *dir) {
  DIR *d = opendir(dir);
  ASSERT(d != NULL);
  unsigned n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

/* A loop test ends with every handle closed: uv_loop_close must succeed. */
#define ADL_TEST_LOOP_CLOSE(loop)                                              \
  do {                                                                         \
    uv_run((loop), UV_RUN_DEFAULT);                                            \
    ASSERT_EQ(uv_loop_close(loop), 0);                                         \
  } while (0)

#endif /* ADL_TEST_H */
