/* The CLI's copy of the library's latency histogram (src/histogram.c): the
 * same buckets (values below 64 exact, then each power-of-two octave split
 * into 64 linear steps, about 1.6 % wide) and the same quantile rule, so
 * that a report can carry its buckets and `asyncdl merge` can add them up
 * and give the percentiles one run over all the samples would have given.
 * The library keeps its histogram internal; if the two ever disagree, the
 * report's p50 and the one its buckets give differ, which merge refuses.
 * Pure. */
#ifndef CLI_HIST_H
#define CLI_HIST_H

#include <stdint.h>

#define CLI_HIST_SUB 64
#define CLI_HIST_BUCKETS (64 * CLI_HIST_SUB)

typedef struct cli_hist_s {
  uint64_t count;
  uint64_t max;
  uint64_t bucket[CLI_HIST_BUCKETS];
} cli_hist_t;

void cli_hist_init(cli_hist_t *h);
void cli_hist_add(cli_hist_t *h, uint64_t v);

/** The bucket v falls in. */
unsigned cli_hist_index(uint64_t v);

/** The largest value of bucket idx (its inclusive upper bound). A value u
 * is a bucket's bound exactly when cli_hist_upper(cli_hist_index(u)) == u. */
uint64_t cli_hist_upper(unsigned idx);

/** Adds n samples to bucket idx (a report's bucket, read back); max is
 * not touched: the report carries it apart, since a bucket's bound may
 * exceed the largest sample. Returns 0, or -1 when idx is out of range or
 * a count would overflow. */
int cli_hist_add_bucket(cli_hist_t *h, unsigned idx, uint64_t n);

/** Adds src into dst. Returns 0, or -1 on overflow (dst then unchanged). */
int cli_hist_merge(cli_hist_t *dst, const cli_hist_t *src);

/** The library's rule: the upper bound of the bucket holding the sample of
 * rank ceil(q * count), never above max; 0 when empty. */
uint64_t cli_hist_quantile(const cli_hist_t *h, double q);

#endif /* CLI_HIST_H */
