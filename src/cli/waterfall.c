/* Placeholder until the writer lands: refuses, so nothing is half-written. */
#include "waterfall.h"

#include <errno.h>
#include <stdio.h>

int cli_waterfall_write(const cli_trace_t *t, const char *path, char *err,
                  size_t errlen) {
  (void)t;
  snprintf(err, errlen, "%s: not implemented yet", path);
  return -ENOSYS;
}
