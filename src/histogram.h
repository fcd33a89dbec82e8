/* Fixed-size log-bucket latency histogram: constant memory for any number
 * of samples, about 1 % relative error on percentiles. L0: libc only.
 * The CLI compiles this file too: the buckets a report carries are the
 * library's own, so `asyncdl merge` adds them up exactly. */
#ifndef ADL_HISTOGRAM_H
#define ADL_HISTOGRAM_H

#include <stdint.h>

/* 64 octaves (powers of two) x 64 linear sub-buckets. */
#define ADL_HIST_SUB 64
#define ADL_HIST_BUCKETS (64 * ADL_HIST_SUB)

typedef struct adl__hist_s {
  uint64_t count;
  uint64_t max;
  uint64_t bucket[ADL_HIST_BUCKETS];
} adl__hist_t;

void adl__hist_init(adl__hist_t *h);
void adl__hist_add(adl__hist_t *h, uint64_t v);
/* The value at quantile q (0..1): the upper bound of the bucket holding the
 * rank ceil(q * count) sample, never above the true maximum. 0 if empty. */
uint64_t adl__hist_quantile(const adl__hist_t *h, double q);

/* The bucket v falls in (values past the last bucket: the last). */
unsigned adl__hist_index(uint64_t v);
/* The largest value of bucket idx (its inclusive upper bound). A value u
 * is a bucket's bound exactly when adl__hist_upper(adl__hist_index(u)) ==
 * u. */
uint64_t adl__hist_upper(unsigned idx);
/* Adds n samples to bucket idx (a report's bucket, read back); max is not
 * touched: a report carries it apart. 0, or -1 when idx is out of range or
 * a count would overflow. */
int adl__hist_add_bucket(adl__hist_t *h, unsigned idx, uint64_t n);
/* Adds src into dst: 0, or -1 on overflow (dst then unchanged). */
int adl__hist_merge(adl__hist_t *dst, const adl__hist_t *src);

#endif
