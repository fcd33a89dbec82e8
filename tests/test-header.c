/* asyncdl.h stands alone: it compiles first in a translation unit, as
 * strict C11 with -Wpedantic -Werror (and, from test-header-cpp, as C++),
 * and its contract constants hold: the generated version, and sized
 * option structs (an older or uninitialised struct is refused, a newer
 * program's struct is accepted only while its unknown fields are zero). */
#include "asyncdl.h"

#include <stddef.h>
#include "asyncdl.h" /* include guard */

#include <stdio.h>
#include <string.h>

/* A newer program's options: this library's struct plus a field. */
typedef struct newer_s {
  adl_options_t o;
  uint64_t future_field;
} newer_t;

static void on_closed(adl_client_t *c) { (void)c; }

static int client_ok(uv_loop_t *loop, const adl_options_t *o) {
  adl_client_t *c = NULL;
  int rc = adl_client_new(loop, o, &c);
  if (rc == 0) {
    adl_client_close(c, on_closed);
    uv_run(loop, UV_RUN_DEFAULT);
  }
  return rc;
}

int main(void) {
  char v[32];
  snprintf(v, sizeof(v), "%d.%d.%d", ADL_VERSION_MAJOR, ADL_VERSION_MINOR,
           ADL_VERSION_PATCH);
  if (strcmp(v, ADL_VERSION_STRING) != 0 ||
      strncmp(adl_version_string(), v, strlen(v)) != 0)
    return 1;
  adl_options_t o;
  adl_options_init(&o);
  if (o.size != sizeof(o) || o.strategy != ADL_STRATEGY_PARALLEL ||
      o.max_connections != 6 || o.retries != 2 || o.dns_timeout_ms == 0 ||
      o.dns_tries == 0 || o.max_per_host != 0 ||
      o.dns_ttl_floor_ms != 30000 || o.completions_per_pass == 0)
    return 1;
  adl_request_opts_t r;
  adl_request_opts_init(&r);
  if (r.size != sizeof(r) || r.sink != ADL_SINK_DISCARD || r.on_done != NULL)
    return 1;
  adl_batch_opts_t b;
  adl_batch_opts_init(&b);
  if (b.size != sizeof(b) || b.next != NULL)
    return 1;
  if ((int)ADL_ENOENT != (int)UV_ENOENT ||
      (int)ADL_ECANCELED != (int)UV_ECANCELED)
    return 1;

  /* adl_summary_add counts an outcome as a batch does. */
  adl_summary_t sum;
  memset(&sum, 0, sizeof(sum));
  adl_result_t res;
  memset(&res, 0, sizeof(res));
  res.bytes = 100;
  res.wire_bytes = 40;
  res.new_connections = 1;
  res.dns_us = 7;
  res.disk_max_us = 9;
  adl_summary_add(&sum, &res);
  res.status = ADL_ETIMEDOUT;
  res.disk_max_us = 3;
  adl_summary_add(&sum, &res);
  if (sum.requests != 2 || sum.ok != 1 || sum.failed != 1 ||
      sum.bytes != 200 || sum.wire_bytes != 80 || sum.connections != 2 ||
      sum.dns_us_total != 14 || sum.disk_max_us != 9)
    return 10;

  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0 || adl_library_init() != 0)
    return 1;
  if (client_ok(&loop, &o) != 0)
    return 2;
  adl_options_t many = o;
  many.max_redirects = 64; /* more than a chain can remember */
  if (client_ok(&loop, &many) != ADL_EINVAL)
    return 8;
  /* A program built against 0.2.0 passes 0.2.0's size: the fields it
   * does not have get their defaults (max_streams 0 would be refused). */
  adl_options_t v020 = o;
  v020.size = offsetof(adl_options_t, max_streams);
  v020.max_streams = 0;
  if (client_ok(&loop, &v020) != 0)
    return 9;
  adl_options_t old = o;
  old.size = offsetof(adl_options_t, max_streams) - 1; /* never a release's */
  if (client_ok(&loop, &old) != ADL_EINVAL)
    return 3;
  newer_t n;
  adl_options_init_size(&n.o, sizeof(n));
  if (n.o.size != sizeof(n) || n.future_field != 0 || n.o.retries != 2)
    return 4;
  if (client_ok(&loop, &n.o) != 0) /* unknown field left at zero */
    return 5;
  n.future_field = 7; /* set: this library cannot honour it */
  if (client_ok(&loop, &n.o) != ADL_EINVAL)
    return 6;
  if (uv_loop_close(&loop) != 0)
    return 7;
  adl_library_shutdown();
  puts("test-header: passed");
  return 0;
}
