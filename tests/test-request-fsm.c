/* The request lifecycle (src/request_fsm.c) from a table, with no sockets:
 * each row is a state, an event and the expected next state and actions.
 * Then event sequences, including the odd ones: a transfer that completes
 * while it is being handed over, a cancel after COMPLETE, retries into
 * backoff and back, a redirect to another origin, the one free retry. */
#include "adl-test.h"
#include "asyncdl.h"
#include "request_fsm.h"

static const adl__rq_limits_t lim = {
    .retries = 2, .retry_base_ms = 100, .retry_max_ms = 1000};

typedef struct row_s {
  adl__rq_state_t from;
  adl__rq_event_t ev;
  adl__rq_state_t to;
  const char *acts; /* one letter per action, in order */
} row_t;

/* T take slot, R release slot, D resolve, X transfer, S schedule,
 * B backoff, Q requeue, A abort, C complete, ! refused */
static char letter(adl__rq_action_kind_t k) {
  static const char l[] = "TRDXSBQAC!";
  return l[k];
}

#define EV(...) EV_(__VA_ARGS__, .retry_after_ms = -1)
#define EV_(k, ...) {.kind = ADL__EV_##k, __VA_ARGS__}

static const row_t table[] = {
    {ADL__RQ_QUEUED, EV(ADMIT), ADL__RQ_READY, "TS"},
    {ADL__RQ_READY, EV(START, .need_dns = 1), ADL__RQ_RESOLVING, "D"},
    {ADL__RQ_READY, EV(START), ADL__RQ_RUNNING, "X"},
    {ADL__RQ_RESOLVING, EV(DNS_OK), ADL__RQ_RUNNING, "X"},
    {ADL__RQ_RESOLVING, EV(DNS_FAIL, .status = ADL_ENOTFOUND), ADL__RQ_DONE,
     "RC"},
    {ADL__RQ_RUNNING, EV(XFER_DONE, .http_status = 200), ADL__RQ_DONE, "RC"},
    {ADL__RQ_RUNNING, EV(XFER_DONE, .http_status = 404), ADL__RQ_DONE, "RC"},
    {ADL__RQ_RUNNING, EV(XFER_DONE, .http_status = 503), ADL__RQ_BACKOFF,
     "RB"},
    {ADL__RQ_RUNNING, EV(XFER_DONE, .status = ADL_ECONNRESET),
     ADL__RQ_BACKOFF, "RB"},
    {ADL__RQ_RUNNING, EV(XFER_DONE, .status = ADL_ETLS), ADL__RQ_DONE, "RC"},
    {ADL__RQ_RUNNING, EV(XFER_DONE, .http_status = 302, .redirect = 1),
     ADL__RQ_READY, "S"},
    {ADL__RQ_RUNNING, EV(XFER_DONE, .http_status = 302, .redirect = 2),
     ADL__RQ_QUEUED, "RQ"},
    {ADL__RQ_RUNNING,
     EV(XFER_DONE, .http_status = 302, .redirect = ADL_EREDIRECT),
     ADL__RQ_DONE, "RC"},
    {ADL__RQ_RUNNING, EV(XFER_DONE, .status = ADL_EPROTO, .dead_reuse = 1),
     ADL__RQ_READY, "S"},
    {ADL__RQ_BACKOFF, EV(TIMER), ADL__RQ_QUEUED, "Q"},
    {ADL__RQ_QUEUED, EV(CANCEL), ADL__RQ_DONE, "AC"},
    {ADL__RQ_READY, EV(CANCEL), ADL__RQ_DONE, "ARC"},
    {ADL__RQ_RESOLVING, EV(CLOSE), ADL__RQ_DONE, "ARC"},
    {ADL__RQ_RUNNING, EV(CANCEL), ADL__RQ_DONE, "ARC"},
    {ADL__RQ_BACKOFF, EV(CANCEL), ADL__RQ_DONE, "AC"},
    {ADL__RQ_QUEUED, EV(FAIL, .status = ADL_EURL), ADL__RQ_DONE, "AC"},
    {ADL__RQ_READY, EV(FAIL, .status = ADL_ENOMEM), ADL__RQ_DONE, "ARC"},
    {ADL__RQ_RUNNING, EV(FAIL, .status = ADL_ECURL), ADL__RQ_DONE, "ARC"},
    /* refused: DONE is terminal, and events out of place change nothing */
    {ADL__RQ_DONE, EV(CANCEL), ADL__RQ_DONE, "!"},
    {ADL__RQ_DONE, EV(XFER_DONE, .http_status = 200), ADL__RQ_DONE, "!"},
    {ADL__RQ_DONE, EV(ADMIT), ADL__RQ_DONE, "!"},
    {ADL__RQ_QUEUED, EV(XFER_DONE, .http_status = 200), ADL__RQ_QUEUED, "!"},
    {ADL__RQ_RUNNING, EV(ADMIT), ADL__RQ_RUNNING, "!"},
    {ADL__RQ_RUNNING, EV(DNS_OK), ADL__RQ_RUNNING, "!"},
    {ADL__RQ_BACKOFF, EV(XFER_DONE, .http_status = 200), ADL__RQ_BACKOFF,
     "!"},
    {ADL__RQ_QUEUED, EV(TIMER), ADL__RQ_QUEUED, "!"},
};

static const char *event_name(adl__rq_event_kind_t k) {
  static const char *const n[] = {"ADMIT",  "START", "DNS_OK", "DNS_FAIL",
                                  "XFER_DONE", "TIMER", "CANCEL", "CLOSE",
                                  "FAIL"};
  return n[k];
}

static void test_table(int print) {
  for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
    const row_t *row = &table[i];
    adl__rq_fsm_t s = {.state = row->from, .attempts = 1};
    adl__rq_step_t st = adl__rq_step(&s, &lim, &row->ev);
    char acts[8] = {0};
    for (unsigned j = 0; j < st.n; j++)
      acts[j] = letter(st.act[j].kind);
    if (print)
      printf("  %-9s + %-9s -> %-9s %s\n", adl__rq_state_name(row->from),
             event_name(row->ev.kind), adl__rq_state_name(st.next.state),
             acts);
    if (st.next.state != row->to || strcmp(acts, row->acts) != 0)
      ADL_FAIL_("row %zu: %s + %s gave %s %s, want %s %s", i,
                adl__rq_state_name(row->from), event_name(row->ev.kind),
                adl__rq_state_name(st.next.state), acts,
                adl__rq_state_name(row->to), row->acts);
    /* A slot is held exactly in READY, RESOLVING and RUNNING: take and
     * release follow the states. */
    int took = strchr(acts, 'T') != NULL, rel = strchr(acts, 'R') != NULL;
    ASSERT_EQ(adl__rq_holds_slot(row->to) - adl__rq_holds_slot(row->from),
              took - rel);
  }
}

/* Feeds ev to s and returns the action letters. */
static const char *feed(adl__rq_fsm_t *s, adl__rq_event_t ev, char *buf) {
  adl__rq_step_t st = adl__rq_step(s, &lim, &ev);
  unsigned j;
  for (j = 0; j < st.n; j++)
    buf[j] = letter(st.act[j].kind);
  buf[j] = '\0';
  if (st.act[0].kind != ADL__ACT_REFUSED)
    *s = st.next;
  return buf;
}

/* The status a COMPLETE action carries. */
static int completion_status(adl__rq_event_t ev) {
  adl__rq_fsm_t s = {.state = ADL__RQ_RUNNING, .attempts = 1};
  adl__rq_step_t st = adl__rq_step(&s, &lim, &ev);
  for (unsigned j = 0; j < st.n; j++)
    if (st.act[j].kind == ADL__ACT_COMPLETE)
      return st.act[j].status;
  ADL_FAIL_("no COMPLETE action");
}

/* A 304 is a success only as the answer to a conditional request. */
static void test_not_modified(void) {
  ASSERT_EQ(completion_status((adl__rq_event_t)EV(
                XFER_DONE, .http_status = 304, .not_modified = 1)),
            0);
  ASSERT_EQ(completion_status((adl__rq_event_t)EV(XFER_DONE,
                                                  .http_status = 304)),
            ADL_EHTTP);
  ASSERT_EQ(completion_status((adl__rq_event_t)EV(XFER_DONE,
                                                  .http_status = 200)),
            0);
}

static void test_sequences(void) {
  char b[8];
  adl__rq_fsm_t s = {.state = ADL__RQ_QUEUED};
  adl__rq_event_t ev503 = EV(XFER_DONE, .http_status = 503);
  /* Two retries, then the third 503 is final: 3 attempts. */
  ASSERT_STR_EQ(feed(&s, (adl__rq_event_t)EV(ADMIT), b), "TS");
  for (int i = 0; i < 2; i++) {
    ASSERT_STR_EQ(feed(&s, (adl__rq_event_t)EV(START), b), "X");
    ASSERT_STR_EQ(feed(&s, ev503, b), "RB");
    ASSERT_EQ(s.state, ADL__RQ_BACKOFF); /* no slot while waiting */
    ASSERT_STR_EQ(feed(&s, (adl__rq_event_t)EV(TIMER), b), "Q");
    ASSERT_STR_EQ(feed(&s, (adl__rq_event_t)EV(ADMIT), b), "TS");
  }
  ASSERT_STR_EQ(feed(&s, (adl__rq_event_t)EV(START), b), "X");
  ASSERT_STR_EQ(feed(&s, ev503, b), "RC");
  ASSERT_EQ(s.attempts, 3);
  /* A cancel after COMPLETE is refused and changes nothing. */
  ASSERT_STR_EQ(feed(&s, (adl__rq_event_t)EV(CANCEL), b), "!");
  ASSERT_EQ(s.state, ADL__RQ_DONE);

  /* A transfer that completes while it is being handed over: the state is
   * RUNNING before the TRANSFER action runs, so the completion applies;
   * the rest of the first step's actions must then be dropped (the
   * executor checks the epoch), and the second completion is refused. */
  s = (adl__rq_fsm_t){.state = ADL__RQ_READY};
  ASSERT_STR_EQ(feed(&s, (adl__rq_event_t)EV(START), b), "X");
  ASSERT_STR_EQ(feed(&s, (adl__rq_event_t)EV(FAIL, .status = ADL_ECONNECT),
                     b),
                "ARC");
  ASSERT_STR_EQ(
      feed(&s, (adl__rq_event_t)EV(XFER_DONE, .status = ADL_ECONNECT), b),
      "!");

  /* Redirect hops are part of one attempt; the free retry after a dead
   * kept-alive connection is too, and forces a fresh connection once. */
  s = (adl__rq_fsm_t){.state = ADL__RQ_READY};
  feed(&s, (adl__rq_event_t)EV(START), b);
  feed(&s, (adl__rq_event_t)EV(XFER_DONE, .http_status = 301, .redirect = 1),
       b);
  feed(&s, (adl__rq_event_t)EV(START), b);
  ASSERT_EQ(s.attempts, 1);
  feed(&s, (adl__rq_event_t)EV(XFER_DONE, .http_status = 301, .redirect = 2),
       b);
  ASSERT_EQ(s.state, ADL__RQ_QUEUED);
  feed(&s, (adl__rq_event_t)EV(ADMIT), b);
  feed(&s, (adl__rq_event_t)EV(START), b);
  ASSERT_EQ(s.attempts, 1);
  ASSERT_STR_EQ(feed(&s, (adl__rq_event_t)EV(XFER_DONE, .status = ADL_EPROTO,
                                             .dead_reuse = 1),
                     b),
                "S");
  ASSERT_EQ(s.fresh, 1);
  adl__rq_step_t st =
      adl__rq_step(&s, &lim, &(adl__rq_event_t)EV(START, .need_dns = 1));
  ASSERT_EQ(st.act[0].kind, ADL__ACT_RESOLVE);
  s = st.next;
  st = adl__rq_step(&s, &lim, &(adl__rq_event_t)EV(DNS_OK));
  ASSERT_EQ(st.act[0].kind, ADL__ACT_TRANSFER);
  ASSERT_EQ(st.act[0].fresh, 1); /* the fresh flag survives the lookup */
  s = st.next;
  ASSERT_EQ(s.fresh, 0);
  ASSERT_EQ(s.attempts, 1);
  /* A second dead connection is an ordinary (retryable) failure. */
  ASSERT_STR_EQ(feed(&s, (adl__rq_event_t)EV(XFER_DONE, .status = ADL_EPROTO,
                                             .dead_reuse = 1),
                     b),
                "RB");
}

static void test_backoff(void) {
  /* Retry-After wins, capped; otherwise exponential with jitter in
   * [d/2, d], capped. */
  ASSERT_EQ(adl__rq_backoff_ms(&lim, 1, 300, 12345), 300);
  ASSERT_EQ(adl__rq_backoff_ms(&lim, 1, 5000, 0), 1000);
  for (uint64_t j = 0; j < 1000; j += 37) {
    uint64_t d1 = adl__rq_backoff_ms(&lim, 1, -1, j);
    uint64_t d2 = adl__rq_backoff_ms(&lim, 2, -1, j);
    uint64_t d9 = adl__rq_backoff_ms(&lim, 9, -1, j);
    ASSERT(d1 >= 50 && d1 <= 100);
    ASSERT(d2 >= 100 && d2 <= 200);
    ASSERT(d9 >= 500 && d9 <= 1000);
  }
  ASSERT(adl__rq_retryable(ADL_EHTTP, 429));
  ASSERT(!adl__rq_retryable(ADL_EHTTP, 404));
  ASSERT(adl__rq_retryable(ADL_ETIMEDOUT, 0));
  ASSERT(!adl__rq_retryable(ADL_ECONNREFUSED, 0));
}

int main(int argc, char **argv) {
  test_not_modified();
  int print = argc > 1 && strcmp(argv[1], "--print") == 0;
  test_table(print);
  test_sequences();
  test_backoff();
  printf("test-request-fsm: passed: %zu table rows\n",
         sizeof(table) / sizeof(table[0]));
  return 0;
}
