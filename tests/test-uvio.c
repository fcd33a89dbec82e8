/* The loop glue on socketpairs: readiness reaches the owner, interest can
 * change, the same fd number can be watched again right after an unwatch
 * (before the old handle's close callback), the timer fires and stops,
 * handles never keep the loop alive, and close calls back once, after
 * which the loop closes cleanly. Work per loop iteration is bounded: with
 * more sockets ready than the budget, the rest wait for the next
 * iteration, and none is lost. */
#include "adl-test.h"
#include "uvio.h"

#include <sys/socket.h>
#include <unistd.h>

typedef struct owner_s {
  adl__io_t io;
  int reads, writes, errors, timers, closed;
  int last_fd;
} owner_t;

static void on_io(void *arg, adl__watch_t *w, int status, int events) {
  owner_t *o = arg;
  o->last_fd = w->fd;
  if (status < 0)
    o->errors++;
  if (events & UV_READABLE) {
    char buf[64];
    if (read(w->fd, buf, sizeof(buf)) > 0)
      o->reads++;
  }
  if (events & UV_WRITABLE) {
    o->writes++;
    adl__io_watch(&o->io, w, w->fd, UV_READABLE); /* once is enough */
  }
}

static void on_timer(void *arg) { ((owner_t *)arg)->timers++; }
static void noop(uv_check_t *h) { (void)h; }
static void on_closed(void *arg) { ((owner_t *)arg)->closed++; }

int main(void) {
  uv_loop_t loop;
  ASSERT_EQ(uv_loop_init(&loop), 0);
  owner_t o;
  memset(&o, 0, sizeof(o));
  ASSERT_EQ(adl__io_init(&o.io, &loop, &o, on_io, on_timer), 0);
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);

  /* Writable first, then readable once the peer writes. */
  adl__watch_t *w = adl__io_watch(&o.io, NULL, sv[0], UV_WRITABLE);
  ASSERT(w != NULL);
  ASSERT(adl__io_find(&o.io, sv[0]) == w);
  ASSERT(adl__io_find(&o.io, sv[1]) == NULL);
  /* Unreferenced: with nothing else alive, uv_run returns at once. */
  ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
  ASSERT_EQ(o.writes, 0);
  /* From here the test keeps the loop alive itself, as a client would
   * while it has work. */
  uv_check_t keep;
  ASSERT_EQ(uv_check_init(&loop, &keep), 0);
  ASSERT_EQ(uv_check_start(&keep, noop), 0);
  while (o.writes == 0)
    uv_run(&loop, UV_RUN_NOWAIT);
  ASSERT_EQ(o.writes, 1);
  ASSERT_EQ(write(sv[1], "x", 1), 1);
  while (o.reads == 0)
    uv_run(&loop, UV_RUN_NOWAIT);
  ASSERT_EQ(o.last_fd, sv[0]);
  ASSERT_EQ(o.writes, 1); /* the interest really changed */

  /* Unwatch and watch the same fd number again before the close callback
   * of the first watch has run. */
  adl__io_unwatch(w);
  ASSERT(adl__io_find(&o.io, sv[0]) == NULL);
  adl__watch_t *w2 = adl__io_watch(&o.io, NULL, sv[0], UV_READABLE);
  ASSERT(w2 != NULL);
  ASSERT_EQ(write(sv[1], "y", 1), 1);
  while (o.reads < 2)
    uv_run(&loop, UV_RUN_NOWAIT);

  /* The timer fires once; stopped, it does not. */
  adl__io_timer_start(&o.io, 1);
  while (o.timers == 0)
    uv_run(&loop, UV_RUN_NOWAIT);
  adl__io_timer_start(&o.io, 1);
  adl__io_timer_stop(&o.io);
  uint64_t t0 = uv_hrtime();
  while (uv_hrtime() - t0 < 5000000)
    uv_run(&loop, UV_RUN_NOWAIT);
  ASSERT_EQ(o.timers, 1);

  /* The budget: 80 sockets ready at once are handled over several
   * iterations, at most ADL__IO_EVENTS_PER_PASS in each, all of them in
   * the end. */
  enum { NPAIRS = 80 };
  int many[NPAIRS][2];
  for (int i = 0; i < NPAIRS; i++) {
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, many[i]), 0);
    ASSERT(adl__io_watch(&o.io, NULL, many[i][0], UV_READABLE) != NULL);
    ASSERT_EQ(write(many[i][1], "z", 1), 1);
  }
  int before = o.reads, iterations = 0, max_per_iteration = 0;
  while (o.reads - before < NPAIRS) {
    int r0 = o.reads;
    uv_run(&loop, UV_RUN_NOWAIT);
    iterations++;
    if (o.reads - r0 > max_per_iteration)
      max_per_iteration = o.reads - r0;
    ASSERT_LT(iterations, 1000);
  }
  ASSERT_LE(max_per_iteration, ADL__IO_EVENTS_PER_PASS);
  ASSERT_GE(iterations, (NPAIRS + ADL__IO_EVENTS_PER_PASS - 1) /
                            ADL__IO_EVENTS_PER_PASS);
  ASSERT_GT(o.io.deferred, 0);
  for (int i = 0; i < NPAIRS; i++) {
    adl__io_unwatch(adl__io_find(&o.io, many[i][0]));
    close(many[i][1]);
  }

  /* Close with a watch still open: one callback, then nothing is left. */
  uv_close((uv_handle_t *)&keep, NULL);
  adl__io_close(&o.io, on_closed);
  ASSERT_EQ(o.closed, 0); /* never inside the call */
  adl__io_timer_start(&o.io, 0); /* ignored while closing */
  ADL_TEST_LOOP_CLOSE(&loop);
  ASSERT_EQ(o.closed, 1);
  ASSERT_EQ(o.timers, 1);
  close(sv[0]);
  close(sv[1]);
  for (int i = 0; i < NPAIRS; i++)
    close(many[i][0]);
  printf("test-uvio: passed: %d ready sockets took %d iterations, at most "
         "%d each\n", NPAIRS, iterations, max_per_iteration);
  return 0;
}
