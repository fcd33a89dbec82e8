/* asyncdl.h stands alone: it compiles first in a translation unit, as
 * strict C11 with -Wpedantic -Werror (and, from test-header-cpp, as C++),
 * and its contract constants hold. */
#include "asyncdl.h"
#include "asyncdl.h" /* include guard */

#include <stdio.h>

int main(void) {
  adl_options_t o;
  adl_options_init(&o);
  if (o.strategy != ADL_STRATEGY_PARALLEL || o.max_connections != 6 ||
      o.retries != 2 || o.dns_timeout_ms == 0 || o.dns_tries == 0)
    return 1;
  adl_request_opts_t r;
  adl_request_opts_init(&r);
  if (r.sink != ADL_SINK_DISCARD || r.on_done != NULL)
    return 1;
  puts("test-header: passed");
  return 0;
}
