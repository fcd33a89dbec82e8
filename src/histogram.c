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

unsigned adl__hist_index(uint64_t v) {
  if (v < ADL_HIST_SUB)
    return (unsigned)v;
  unsigned octave = msb(v) - 5; /* 2^6 = ADL_HIST_SUB -> octave 1 */
  unsigned shift = octave - 1;
  unsigned sub = (unsigned)((v >> shift) - ADL_HIST_SUB);
  unsigned idx = octave * ADL_HIST_SUB + sub;
  return idx < ADL_HIST_BUCKETS ? idx : ADL_HIST_BUCKETS - 1;
}

uint64_t adl__hist_upper(unsigned idx) {
  unsigned octave = idx / ADL_HIST_SUB;
  unsigned sub = idx % ADL_HIST_SUB;
  if (octave == 0)
    return sub;
  unsigned shift = octave - 1;
  return (((uint64_t)(ADL_HIST_SUB + sub + 1)) << shift) - 1;
}

void adl__hist_init(adl__hist_t *h) { memset(h, 0, sizeof(*h)); }

void adl__hist_add(adl__hist_t *h, uint64_t v) {
  h->bucket[adl__hist_index(v)]++;
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
      uint64_t up = adl__hist_upper(i);
      return up < h->max ? up : h->max;
    }
  }
  return h->max;
}

int adl__hist_add_bucket(adl__hist_t *h, unsigned idx, uint64_t n) {
  if (idx >= ADL_HIST_BUCKETS || h->bucket[idx] > UINT64_MAX - n ||
      h->count > UINT64_MAX - n)
    return -1;
  h->bucket[idx] += n;
  h->count += n;
  return 0;
}

int adl__hist_merge(adl__hist_t *dst, const adl__hist_t *src) {
  if (dst->count > UINT64_MAX - src->count)
    return -1;
  for (unsigned i = 0; i < ADL_HIST_BUCKETS; i++)
    if (dst->bucket[i] > UINT64_MAX - src->bucket[i])
      return -1;
  for (unsigned i = 0; i < ADL_HIST_BUCKETS; i++)
    dst->bucket[i] += src->bucket[i];
  dst->count += src->count;
  if (src->max > dst->max)
    dst->max = src->max;
  return 0;
}
