/* The strategy policy table and strategy names. */
#include "adl-test.h"
#include "strategy.h"

int main(void) {
  adl__policy_t p;
  ASSERT_EQ(adl__policy_for(ADL_STRATEGY_SERIAL, 8, 0, 100, &p), 0);
  ASSERT_EQ(p.max_inflight, 1);
  ASSERT_EQ(p.fresh_connect, 1);
  ASSERT_EQ(p.fresh_dns, 1);
  ASSERT_EQ(p.share_tls_sessions, 0);

  ASSERT_EQ(p.max_total_conns, 1);

  ASSERT_EQ(adl__policy_for(ADL_STRATEGY_SESSION, 8, 0, 100, &p), 0);
  ASSERT_EQ(p.max_inflight, 1);
  ASSERT_EQ(p.max_host_conns, 1);
  ASSERT_EQ(p.max_total_conns, 0); /* one per origin: no total cap */
  ASSERT_EQ(p.max_conns, ADL__SESSION_ORIGINS);
  ASSERT_EQ(p.fresh_connect, 0);
  ASSERT_EQ(p.fresh_dns, 0);

  ASSERT_EQ(adl__policy_for(ADL_STRATEGY_PARALLEL, 8, 0, 100, &p), 0);
  ASSERT_EQ(p.max_inflight, 8);
  ASSERT_EQ(p.max_host_conns, 8);
  ASSERT_EQ(p.max_total_conns, 8);
  ASSERT_EQ(p.max_conns, 8);
  ASSERT_EQ(p.fresh_connect, 0);
  ASSERT_EQ(adl__policy_for(ADL_STRATEGY_PARALLEL, 8, 3, 100, &p), 0);
  ASSERT_EQ(p.max_host_conns, 3);
  ASSERT_EQ(p.max_total_conns, 8);
  ASSERT_EQ(adl__policy_for(ADL_STRATEGY_PARALLEL, 4, 9, 100, &p), 0);
  ASSERT_EQ(p.max_host_conns, 4); /* never above K */
  ASSERT_EQ(adl__policy_for(ADL_STRATEGY_PARALLEL, 0, 0, 100, &p), ADL_EINVAL);
  ASSERT_EQ(adl__policy_for((adl_strategy_t)7, 1, 0, 100, &p), ADL_EINVAL);
  ASSERT_EQ(p.mux_streams, 0); /* one request per connection */

  /* multiplex: K origins, each one connection of `streams` streams; an
   * HTTP/1.x origin falls back to per_host connections. */
  ASSERT_EQ(adl__policy_for(ADL_STRATEGY_MULTIPLEX, 6, 0, 100, &p), 0);
  ASSERT_EQ(p.mux_streams, 100);
  ASSERT_EQ(p.max_inflight, 600);
  ASSERT_EQ(p.max_host_conns, 6);
  ASSERT_EQ(p.max_total_conns, 6);
  ASSERT_EQ(p.fresh_connect, 0);
  ASSERT_EQ(p.share_tls_sessions, 1);
  ASSERT_EQ(adl__policy_for(ADL_STRATEGY_MULTIPLEX, 6, 2, 10, &p), 0);
  ASSERT_EQ(p.max_host_conns, 2);
  ASSERT_EQ(p.max_inflight, 60);
  ASSERT_EQ(adl__policy_for(ADL_STRATEGY_MULTIPLEX, 6, 0, 0, &p), ADL_EINVAL);
  ASSERT_EQ(adl__policy_for(ADL_STRATEGY_MULTIPLEX, 0, 0, 8, &p), ADL_EINVAL);

  adl_strategy_t s;
  ASSERT_EQ(adl_strategy_parse("serial", &s), 0);
  ASSERT_EQ(s, ADL_STRATEGY_SERIAL);
  ASSERT_EQ(adl_strategy_parse("parallel", &s), 0);
  ASSERT_EQ(s, ADL_STRATEGY_PARALLEL);
  ASSERT_EQ(adl_strategy_parse("Parallel", &s), ADL_EINVAL);
  ASSERT_EQ(adl_strategy_parse("", &s), ADL_EINVAL);
  ASSERT_STR_EQ(adl_strategy_name(ADL_STRATEGY_SESSION), "session");
  ASSERT_STR_EQ(adl_strategy_name(ADL_STRATEGY_MULTIPLEX), "multiplex");
  ASSERT_EQ(adl_strategy_parse("multiplex", &s), 0);
  ASSERT_EQ(s, ADL_STRATEGY_MULTIPLEX);
  ASSERT(adl_strategy_name((adl_strategy_t)4) == NULL);
  printf("test-strategy: passed\n");
  return 0;
}
