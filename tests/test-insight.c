/* Where the time went (src/cli/insight.c): phases from results (the
 * emulated handshake counted as connection setup), the cost model, the
 * connections a strategy needs, and the reuse note with its reasons. */
#include "adl-test.h"
#include "insight.h"

static adl_result_t result(uint64_t connect, uint64_t ttfb, uint64_t total,
                           unsigned new_conn) {
  adl_result_t r;
  memset(&r, 0, sizeof(r));
  r.url = "http://a.test:8080/api/x";
  r.connect_us = connect;
  r.ttfb_us = ttfb;
  r.total_us = total;
  r.new_connections = new_conn;
  r.http_version = 11;
  return r;
}

int main(void) {
  cli_insight_t x;
  memset(&x, 0, sizeof(x));
  /* --local, RTT 20 ms: a new connection's first answer waits 40 ms, of
   * which 20 ms stand for the handshake. */
  adl_result_t r = result(100, 40100, 40200, 1);
  cli_insight_add(&x, &r, 20);
  ASSERT_EQ(x.connect_us, 100 + 20000);
  ASSERT_EQ(x.wait_us, 20000);
  ASSERT_EQ(x.transfer_us, 100);
  r = result(0, 20000, 20050, 0); /* reused: all waiting */
  cli_insight_add(&x, &r, 20);
  ASSERT_EQ(x.wait_us, 40000);
  ASSERT_EQ(x.new_connections, 1);
  ASSERT_EQ(x.origins, 1);
  r.url = "https://b.test/y";
  cli_insight_add(&x, &r, 0);
  ASSERT_EQ(x.origins, 2);

  ASSERT(cli_insight_model_s(ADL_STRATEGY_SERIAL, 1, 151, 20) > 6.039);
  ASSERT(cli_insight_model_s(ADL_STRATEGY_SERIAL, 1, 151, 20) < 6.041);
  ASSERT(cli_insight_model_s(ADL_STRATEGY_SESSION, 1, 151, 20) > 3.039);
  ASSERT(cli_insight_model_s(ADL_STRATEGY_PARALLEL, 6, 151, 20) > 0.539);
  ASSERT(cli_insight_model_s(ADL_STRATEGY_PARALLEL, 6, 151, 20) < 0.541);
  ASSERT(cli_insight_model_s(ADL_STRATEGY_SESSION, 1, 151, 0) < 0);
  /* multiplex: waves of k streams overlap the first stream's 2 RTT */
  ASSERT(cli_insight_model_s(ADL_STRATEGY_MULTIPLEX, 100, 151, 20) > 0.039);
  ASSERT(cli_insight_model_s(ADL_STRATEGY_MULTIPLEX, 100, 151, 20) < 0.041);
  ASSERT(cli_insight_model_s(ADL_STRATEGY_MULTIPLEX, 10, 151, 20) > 0.319);
  ASSERT(cli_insight_model_s(ADL_STRATEGY_MULTIPLEX, 10, 151, 20) < 0.321);

  /* Session over one origin that closes every connection. */
  cli_insight_t c;
  memset(&c, 0, sizeof(c));
  for (int i = 0; i < 10; i++) {
    r = result(50, 1000, 1100, 1);
    r.server_closed = 1;
    r.http_version = 10;
    cli_insight_add(&c, &r, 0);
  }
  ASSERT_EQ(cli_insight_needed(&c, ADL_STRATEGY_SESSION, 1), 1);
  ASSERT_EQ(cli_insight_needed(&c, ADL_STRATEGY_SERIAL, 1), 10);
  ASSERT_EQ(cli_insight_needed(&c, ADL_STRATEGY_PARALLEL, 6), 6);
  char note[300];
  const char *why =
      cli_insight_reuse_note(&c, ADL_STRATEGY_SESSION, 1, note, sizeof(note));
  ASSERT(why != NULL);
  ASSERT(strstr(why, "opened 10 connections where 1 would do") != NULL);
  ASSERT(strstr(why, "10 answers closed their connection") != NULL);
  ASSERT(strstr(why, "10 answers were HTTP/1.0") != NULL);
  /* serial needs them all; parallel with K=10 too: no note. */
  ASSERT(cli_insight_reuse_note(&c, ADL_STRATEGY_SERIAL, 1, note,
                                sizeof(note)) == NULL);
  ASSERT(cli_insight_reuse_note(&c, ADL_STRATEGY_PARALLEL, 10, note,
                                sizeof(note)) == NULL);

  cli_insight_row_t row = {.strategy = "session", .s = ADL_STRATEGY_SESSION,
                           .k = 1, .wall_us = 12000, .x = &c, .rtt_ms = 0};
  char json[1024];
  ASSERT_GT(cli_insight_json(json, sizeof(json), &row), 0);
  ASSERT(strstr(json, "\"model_s\": null") != NULL);
  ASSERT(strstr(json, "\"server_closed\": 10") != NULL);
  ASSERT(strstr(json, "\"reuse_note\": \"opened 10 connections") != NULL);
  ASSERT_EQ(cli_insight_json(json, 40, &row), 0); /* does not fit */
  printf("test-insight: passed\n");
  return 0;
}
