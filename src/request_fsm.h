/* A request's lifecycle as a pure transition function: an event in, the
 * next state and a few actions out. No I/O, no allocation, no curl, c-ares
 * or libuv: the client (the executor) performs the actions and is the only
 * code that stores the result. Table-tested in tests/test-request-fsm.c.
 *
 *   QUEUED --ADMIT--> READY --START(dns?)--> RESOLVING --DNS_OK--> RUNNING
 *                       ^          \______________________________/  |
 *                       |  redirect / dead reused connection         |
 *                       +------------------------------ XFER_DONE ---+
 *   RUNNING --XFER_DONE(retryable)--> BACKOFF --TIMER--> QUEUED (front)
 *   RUNNING --XFER_DONE(redirect to another origin)--> QUEUED (front)
 *   any --CANCEL/CLOSE--> DONE;  XFER_DONE/DNS_FAIL (final) --> DONE
 *
 * READY, RESOLVING and RUNNING hold one of the client's in-flight slots
 * (and one of the origin's); QUEUED and BACKOFF hold none. DONE is
 * terminal: every event there is refused (kind ADL__ACT_REFUSED). L0. */
#ifndef ADL_REQUEST_FSM_H
#define ADL_REQUEST_FSM_H

#include <stdint.h>

typedef enum {
  ADL__RQ_QUEUED,    /* in its origin's queue, waiting for a slot */
  ADL__RQ_READY,     /* holds a slot; the next attempt starts on the pump */
  ADL__RQ_RESOLVING, /* holds a slot; c-ares lookup outstanding */
  ADL__RQ_RUNNING,   /* holds a slot; transfer handed to curl */
  ADL__RQ_BACKOFF,   /* no slot; waiting for the retry timer */
  ADL__RQ_DONE,      /* outcome set; terminal */
} adl__rq_state_t;

typedef enum {
  ADL__EV_ADMIT,     /* the scheduler gave the request a slot */
  ADL__EV_START,     /* the pump starts the attempt; need_dns says how */
  ADL__EV_DNS_OK,
  ADL__EV_DNS_FAIL,  /* status */
  ADL__EV_XFER_DONE, /* status, http_status, redirect, dead_reuse, ... */
  ADL__EV_TIMER,     /* the backoff is over */
  ADL__EV_CANCEL,
  ADL__EV_CLOSE,
  ADL__EV_FAIL,      /* the executor could not perform an action: status */
} adl__rq_event_kind_t;

typedef struct adl__rq_event_s {
  adl__rq_event_kind_t kind;
  int status;          /* DNS_FAIL, FAIL; XFER_DONE: transport (0 = a
                          complete response was received) */
  long http_status;    /* XFER_DONE */
  int need_dns;        /* START: a lookup must come first */
  int redirect;        /* XFER_DONE: 1 follow on the same origin, 2 follow
                          to another origin (queue there), negative
                          ADL_E* refused, 0 none; the target is already
                          checked by the executor */
  int dead_reuse;      /* XFER_DONE: failed on a reused connection that
                          was already dead (curl#10646) */
  long retry_after_ms; /* XFER_DONE: -1 when the server sent none */
  int not_modified;    /* XFER_DONE: a 304 to a conditional request, which
                          is a success */
  uint64_t jitter;     /* XFER_DONE: a random number for the backoff */
} adl__rq_event_t;

/* What the transition function reads and writes of a request. */
typedef struct adl__rq_fsm_s {
  adl__rq_state_t state;
  unsigned attempts;       /* attempts started (redirect hops excluded) */
  unsigned hop;            /* the next START continues the same attempt */
  unsigned fresh;          /* the next transfer must use a new connection */
  unsigned free_retry_used;
} adl__rq_fsm_t;

typedef struct adl__rq_limits_s {
  unsigned retries;        /* extra attempts on retryable failures */
  uint64_t retry_base_ms;
  uint64_t retry_max_ms;
} adl__rq_limits_t;

typedef enum {
  ADL__ACT_TAKE_SLOT,
  ADL__ACT_RELEASE_SLOT,
  ADL__ACT_RESOLVE,
  ADL__ACT_TRANSFER,    /* fresh: force a new connection */
  ADL__ACT_SCHEDULE,    /* put on the pump's start list */
  ADL__ACT_BACKOFF,     /* ms */
  ADL__ACT_REQUEUE,     /* back to the head of its origin's queue */
  ADL__ACT_ABORT,       /* stop the lookup/transfer/wait of the old state */
  ADL__ACT_COMPLETE,    /* status */
  ADL__ACT_REFUSED,     /* the event does not apply; nothing changed */
} adl__rq_action_kind_t;

typedef struct adl__rq_action_s {
  adl__rq_action_kind_t kind;
  int status;
  uint64_t ms;
  int fresh;
} adl__rq_action_t;

#define ADL__RQ_MAX_ACTIONS 3

typedef struct adl__rq_step_s {
  adl__rq_fsm_t next;
  unsigned n;
  adl__rq_action_t act[ADL__RQ_MAX_ACTIONS];
} adl__rq_step_t;

/* The transition. Pure: same inputs, same output. */
adl__rq_step_t adl__rq_step(const adl__rq_fsm_t *s, const adl__rq_limits_t *l,
                            const adl__rq_event_t *ev);

/* Whether a request in state s holds an in-flight slot. */
int adl__rq_holds_slot(adl__rq_state_t s);

/* Transient failures worth another attempt (GET is idempotent). */
int adl__rq_retryable(int status, long http_status);

/* The backoff before attempt n+1 (n >= 1 attempts made): Retry-After when
 * the server sent one, else jittered exponential; both capped. */
uint64_t adl__rq_backoff_ms(const adl__rq_limits_t *l, unsigned attempts,
                            long retry_after_ms, uint64_t jitter);

const char *adl__rq_state_name(adl__rq_state_t s);

#endif
