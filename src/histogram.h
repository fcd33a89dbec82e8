/* Fixed-size log-bucket latency histogram: constant memory for any number
 * of samples, about 1 % relative error on percentiles. L0: libc only. */
#ifndef ADL_HISTOGRAM_H
#define ADL_HISTOGRAM_H

#include <stdint.h>

/* 64 octaves (powers of two) x 64 linear sub-buckets. */
#define ADL_HIST_SUB 64
#define ADL_HIST_BUCKETS (64 * ADL_HIST_SUB)

typedef struct adl__hist_s {
  uint64_t count;
  uint64_t max;
  uint32_t bucket[ADL_HIST_BUCKETS];
} adl__hist_t;

void adl__hist_init(adl__hist_t *h);
void adl__hist_add(adl__hist_t *h, uint64_t v);
/* The value at quantile q (0..1): the upper bound of the bucket holding the
 * rank ceil(q * count) sample, never above the true maximum. 0 if empty. */
uint64_t adl__hist_quantile(const adl__hist_t *h, double q);

#endif
