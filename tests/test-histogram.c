/* Percentiles from the fixed-size histogram stay within 1.6 % of the exact
 * order statistic, whatever the spread of the samples. */
#include "adl-test.h"
#include "histogram.h"

static int cmp(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static void check(const uint64_t *sorted, size_t n, const adl__hist_t *h,
                  double q) {
  size_t rank = (size_t)(q * (double)n + 0.999999);
  if (rank == 0)
    rank = 1;
  uint64_t exact = sorted[rank - 1];
  uint64_t got = adl__hist_quantile(h, q);
  ASSERT_GE(got, exact);
  ASSERT_LE((double)got, (double)exact * 1.016 + 1);
}

int main(void) {
  static adl__hist_t h;
  adl__hist_init(&h);
  ASSERT_EQ(adl__hist_quantile(&h, 0.5), 0);
  static uint64_t v[100000];
  uint64_t x = 88172645463325252ull;
  for (size_t i = 0; i < 100000; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    v[i] = (x % 1000000000ull) >> (x % 20); /* spans 9 decades */
    adl__hist_add(&h, v[i]);
  }
  qsort(v, 100000, sizeof(v[0]), cmp);
  ASSERT_EQ(h.count, 100000);
  ASSERT_EQ(h.max, v[99999]);
  check(v, 100000, &h, 0.5);
  check(v, 100000, &h, 0.95);
  check(v, 100000, &h, 0.99);
  check(v, 100000, &h, 0.01);
  ASSERT_EQ(adl__hist_quantile(&h, 1.0), v[99999]);

  adl__hist_init(&h);
  for (uint64_t i = 1; i <= 10; i++)
    adl__hist_add(&h, i);
  ASSERT_EQ(adl__hist_quantile(&h, 0.5), 5);
  ASSERT_EQ(adl__hist_quantile(&h, 0.95), 10);
  printf("test-histogram: passed\n");
  return 0;
}
