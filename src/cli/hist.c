/* Log-linear histogram, bucket for bucket the library's (src/histogram.c):
 * the report's buckets mean the same thing as the summary's percentiles. */
#include "hist.h"

#include <string.h>

static unsigned msb(uint64_t v) {
  unsigned n = 0;
  while (v >>= 1)
    n++;
  return n;
}

unsigned cli_hist_index(uint64_t v) {
  if (v < CLI_HIST_SUB)
    return (unsigned)v;
  unsigned octave = msb(v) - 5; /* 2^6 = CLI_HIST_SUB -> octave 1 */
  unsigned sub = (unsigned)((v >> (octave - 1)) - CLI_HIST_SUB);
  unsigned idx = octave * CLI_HIST_SUB + sub;
  return idx < CLI_HIST_BUCKETS ? idx : CLI_HIST_BUCKETS - 1;
}

uint64_t cli_hist_upper(unsigned idx) {
  unsigned octave = idx / CLI_HIST_SUB, sub = idx % CLI_HIST_SUB;
  if (octave == 0)
    return sub;
  if (octave >= 59) /* the top octaves' bounds pass 2^64: saturate */
    return UINT64_MAX;
  return (((uint64_t)(CLI_HIST_SUB + sub + 1)) << (octave - 1)) - 1;
}

void cli_hist_init(cli_hist_t *h) { memset(h, 0, sizeof(*h)); }

void cli_hist_add(cli_hist_t *h, uint64_t v) {
  h->bucket[cli_hist_index(v)]++;
  h->count++;
  if (v > h->max)
    h->max = v;
}

int cli_hist_add_bucket(cli_hist_t *h, unsigned idx, uint64_t n) {
  if (idx >= CLI_HIST_BUCKETS || h->bucket[idx] > UINT64_MAX - n ||
      h->count > UINT64_MAX - n)
    return -1;
  h->bucket[idx] += n;
  h->count += n;
  return 0;
}

int cli_hist_merge(cli_hist_t *dst, const cli_hist_t *src) {
  if (dst->count > UINT64_MAX - src->count)
    return -1;
  for (unsigned i = 0; i < CLI_HIST_BUCKETS; i++)
    if (dst->bucket[i] > UINT64_MAX - src->bucket[i])
      return -1;
  for (unsigned i = 0; i < CLI_HIST_BUCKETS; i++)
    dst->bucket[i] += src->bucket[i];
  dst->count += src->count;
  if (src->max > dst->max)
    dst->max = src->max;
  return 0;
}

uint64_t cli_hist_quantile(const cli_hist_t *h, double q) {
  if (h->count == 0)
    return 0;
  if (q < 0)
    q = 0;
  if (q > 1)
    q = 1;
  double want = q * (double)h->count;
  uint64_t rank = (uint64_t)want;
  if ((double)rank < want)
    rank++;
  if (rank == 0)
    rank = 1;
  uint64_t seen = 0;
  for (unsigned i = 0; i < CLI_HIST_BUCKETS; i++) {
    seen += h->bucket[i];
    if (seen >= rank) {
      uint64_t up = cli_hist_upper(i);
      return up < h->max ? up : h->max;
    }
  }
  return h->max;
}
