/* Log-linear histogram: values below ADL_HIST_SUB are exact; above, each
 * power-of-two octave is split into ADL_HIST_SUB linear steps. L0. */
#include "histogram.h"

#include <string.h>

static unsigned msb(uint64_t v) {
  unsigned n = 0;
  while (v >>= 1)
    n++;
  return n;
}

static unsigned index_of(uint64_t v) {
  if (v < ADL_HIST_SUB)
    return (unsigned)v;
  unsigned octave = msb(v) - 5; /* 2^6 = ADL_HIST_SUB -> octave 1 */
  unsigned shift = octave - 1;
  unsigned sub = (unsigned)((v >> shift) - ADL_HIST_SUB);
  return octave * ADL_HIST_SUB + sub;
}

static uint64_t upper_of(unsigned idx) {
  unsigned octave = idx / ADL_HIST_SUB;
  unsigned sub = idx % ADL_HIST_SUB;
  if (octave == 0)
    return sub;
  unsigned shift = octave - 1;
  return (((uint64_t)(ADL_HIST_SUB + sub + 1)) << shift) - 1;
}

void adl__hist_init(adl__hist_t *h) { memset(h, 0, sizeof(*h)); }

void adl__hist_add(adl__hist_t *h, uint64_t v) {
  unsigned idx = index_of(v);
  if (idx >= ADL_HIST_BUCKETS)
    idx = ADL_HIST_BUCKETS - 1;
  h->bucket[idx]++;
  h->count++;
  if (v > h->max)
    h->max = v;
}

uint64_t adl__hist_quantile(const adl__hist_t *h, double q) {
  if (h->count == 0)
    return 0;
  if (q < 0)
    q = 0;
  if (q > 1)
    q = 1;
  double want = q * (double)h->count;
  uint64_t rank = (uint64_t)want;
  if ((double)rank < want)
    rank++; /* ceil without libm */
  if (rank == 0)
    rank = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < ADL_HIST_BUCKETS; i++) {
    seen += h->bucket[i];
    if (seen >= rank) {
      uint64_t up = upper_of(i);
      return up < h->max ? up : h->max;
    }
  }
  return h->max;
}
