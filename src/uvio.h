/* Loop glue shared by the engines that borrow the caller's libuv loop
 * (the curl pool and the c-ares resolver): a set of watched sockets, one
 * uv_poll_t each in heap memory that never moves, plus one timer. Every
 * handle is unreferenced (the client decides whether there is work) and is
 * freed only in its close callback. Layer: L1; knows nothing of curl or
 * c-ares. */
#ifndef ADL_UVIO_H
#define ADL_UVIO_H

#include <stdint.h>
#include <uv.h>

#include "queue.h"

typedef struct adl__io_s adl__io_t;

typedef struct adl__watch_s {
  uv_poll_t poll;
  int fd;
  int events; /* UV_READABLE | UV_WRITABLE, as last asked for */
  adl__io_t *io;
  adl__queue_t node;
} adl__watch_t;

/* Readiness (events) or a poll error (status < 0) on w. */
typedef void (*adl__io_cb)(void *owner, adl__watch_t *w, int status,
                           int events);
typedef void (*adl__io_timer_cb)(void *owner);

/* Socket events handled per loop iteration: at most this many, and no new
 * one once this much time went by. The rest stay ready (libuv polls level-
 * triggered) and are handled on the next iteration, after the host's own
 * timers and sockets had their turn. */
#define ADL__IO_EVENTS_PER_PASS 32
#define ADL__IO_NS_PER_PASS 1000000u

struct adl__io_s {
  uv_loop_t *loop;
  void *owner;
  adl__io_cb on_io;
  adl__io_timer_cb on_timer;
  uv_timer_t timer;
  uv_prepare_t pass;     /* active while this iteration's budget is in use */
  unsigned pass_events;
  uint64_t pass_start_ns;
  uint64_t deferred;     /* events left for a later iteration (a count) */
  adl__queue_t watches;
  unsigned open_handles; /* timer + polls not yet through close_cb */
  int closing;
  void (*close_cb)(void *owner);
};

/* Sets io up inside its owner (which must not move or be freed before the
 * close callback). Returns 0 or a negative uv error. */
int adl__io_init(adl__io_t *io, uv_loop_t *loop, void *owner,
                 adl__io_cb on_io, adl__io_timer_cb on_timer);

/* The watch of fd, or NULL. */
adl__watch_t *adl__io_find(adl__io_t *io, int fd);

/* Watches fd for events (a new watch, or w's new interest when w is given).
 * Returns the watch, or NULL when it could not be made. */
adl__watch_t *adl__io_watch(adl__io_t *io, adl__watch_t *w, int fd,
                            int events);

/* Stops watching; the memory goes in the close callback, so the fd number
 * may be watched again (with a new watch) right away. */
void adl__io_unwatch(adl__watch_t *w);

void adl__io_timer_start(adl__io_t *io, uint64_t ms);
void adl__io_timer_stop(adl__io_t *io);

/* Unwatches everything, closes the timer, then calls cb(owner) once. */
void adl__io_close(adl__io_t *io, void (*cb)(void *owner));

#endif
