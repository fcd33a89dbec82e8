/* Watched sockets and a timer on a borrowed libuv loop, with the counted
 * close protocol both engines need. Layer: L1 (libuv only). */
#include "uvio.h"

#include <stdlib.h>

static void maybe_closed(adl__io_t *io) {
  if (io->closing && io->open_handles == 0 && io->close_cb != NULL) {
    void (*cb)(void *) = io->close_cb;
    io->close_cb = NULL;
    cb(io->owner); /* may free the owner, and io with it */
  }
}

static void on_watch_closed(uv_handle_t *h) {
  adl__watch_t *w = h->data;
  adl__io_t *io = w->io;
  free(w);
  io->open_handles--;
  maybe_closed(io);
}

static void on_timer_closed(uv_handle_t *h) {
  adl__io_t *io = h->data;
  io->open_handles--;
  maybe_closed(io);
}

/* Runs before the next poll: a fresh budget for the next iteration. */
static void on_pass_over(uv_prepare_t *p) {
  adl__io_t *io = p->data;
  io->pass_events = 0;
  uv_prepare_stop(p);
}

/* Whether this iteration may handle one more event. */
static int take_budget(adl__io_t *io) {
  if (!uv_is_active((uv_handle_t *)&io->pass)) {
    io->pass_events = 0;
    io->pass_start_ns = uv_hrtime();
    uv_prepare_start(&io->pass, on_pass_over);
  } else if (io->pass_events >= ADL__IO_EVENTS_PER_PASS ||
             uv_hrtime() - io->pass_start_ns >= ADL__IO_NS_PER_PASS) {
    io->deferred++;
    return 0;
  }
  io->pass_events++;
  return 1;
}

static void on_poll(uv_poll_t *h, int status, int events) {
  adl__watch_t *w = h->data;
  adl__io_t *io = w->io;
  if (!take_budget(io)) {
    /* Still ready next time: libuv stopped the watcher on an error only. */
    if (status < 0 && !uv_is_closing((uv_handle_t *)&w->poll))
      uv_poll_start(&w->poll, w->events, on_poll);
    return;
  }
  io->on_io(io->owner, w, status, events);
  /* libuv stops a watcher that reports an error; the engine, which did not
   * ask for that, still expects it, unless it let go of the socket. */
  if (status < 0 && !uv_is_closing((uv_handle_t *)&w->poll))
    uv_poll_start(&w->poll, w->events, on_poll);
}

static void on_uv_timer(uv_timer_t *t) {
  adl__io_t *io = t->data;
  io->on_timer(io->owner);
}

int adl__io_init(adl__io_t *io, uv_loop_t *loop, void *owner,
                 adl__io_cb on_io, adl__io_timer_cb on_timer) {
  io->loop = loop;
  io->owner = owner;
  io->on_io = on_io;
  io->on_timer = on_timer;
  io->closing = 0;
  io->close_cb = NULL;
  adl__queue_init(&io->watches);
  int rc = uv_timer_init(loop, &io->timer);
  if (rc != 0)
    return rc;
  io->timer.data = io;
  uv_unref((uv_handle_t *)&io->timer);
  uv_prepare_init(loop, &io->pass); /* cannot fail: fills a struct */
  io->pass.data = io;
  uv_unref((uv_handle_t *)&io->pass);
  io->pass_events = 0;
  io->deferred = 0;
  io->open_handles = 2;
  return 0;
}

adl__watch_t *adl__io_find(adl__io_t *io, int fd) {
  adl__queue_t *q;
  ADL_QUEUE_FOREACH(q, &io->watches) {
    adl__watch_t *w = ADL_QUEUE_DATA(q, adl__watch_t, node);
    if (w->fd == fd)
      return w;
  }
  return NULL;
}

adl__watch_t *adl__io_watch(adl__io_t *io, adl__watch_t *w, int fd,
                            int events) {
  if (w == NULL) {
    w = calloc(1, sizeof(*w));
    if (w == NULL)
      return NULL;
    if (uv_poll_init_socket(io->loop, &w->poll, fd) != 0) {
      free(w);
      return NULL;
    }
    w->fd = fd;
    w->io = io;
    w->poll.data = w;
    uv_unref((uv_handle_t *)&w->poll);
    adl__queue_insert_tail(&io->watches, &w->node);
    io->open_handles++;
  }
  w->events = events;
  uv_poll_start(&w->poll, events, on_poll);
  return w;
}

void adl__io_unwatch(adl__watch_t *w) {
  adl__queue_remove(&w->node);
  uv_poll_stop(&w->poll);
  uv_close((uv_handle_t *)&w->poll, on_watch_closed);
}

void adl__io_timer_start(adl__io_t *io, uint64_t ms) {
  if (!io->closing)
    uv_timer_start(&io->timer, on_uv_timer, ms, 0);
}

void adl__io_timer_stop(adl__io_t *io) { uv_timer_stop(&io->timer); }

void adl__io_close(adl__io_t *io, void (*cb)(void *owner)) {
  io->closing = 1;
  io->close_cb = cb;
  while (!adl__queue_empty(&io->watches))
    adl__io_unwatch(
        ADL_QUEUE_DATA(adl__queue_head(&io->watches), adl__watch_t, node));
  uv_timer_stop(&io->timer);
  uv_close((uv_handle_t *)&io->timer, on_timer_closed);
  uv_close((uv_handle_t *)&io->pass, on_timer_closed);
}
