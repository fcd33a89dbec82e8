/* --waterfall=FILE.svg: the network waterfall of every run as one
 * self-contained SVG. For each run (strategy) one group of lanes, one lane
 * per connection (told apart by local port); each request a bar on its
 * lane split into its phases (queue, DNS, connect, TLS, waiting, transfer,
 * backoff) with a legend; one shared time axis so the strategies compare
 * at a glance; totals and the cost model's prediction in the titles.
 * Where bars would be thinner than a pixel, requests are aggregated. */
#ifndef CLI_WATERFALL_H
#define CLI_WATERFALL_H

#include "trace.h"

#include <stddef.h>

/* Writes the SVG to path (a temporary name, then renamed). Returns 0, or a
 * negative errno with a one-line reason in err. */
int cli_waterfall_write(const cli_trace_t *t, const char *path, char *err,
                        size_t errlen);

#endif
