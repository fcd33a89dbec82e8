/* The progress line's text (src/cli/progress.c): counts, rate, elapsed
 * time and ETA; colour only when asked, failures only when there are. */
#include "adl-test.h"
#include "progress.h"

int main(void) {
  char buf[256];
  cli_progress_t p = {.strategy = "parallel", .run = 1, .runs = 3,
                      .done = 840, .total = 1510, .failed = 0,
                      .bytes = 10100000, .elapsed_us = 250000};
  cli_progress_format(buf, sizeof(buf), &p, 0);
  ASSERT_STR_EQ(buf, "parallel  run 1/3  840/1510  10.1 MB  3360 req/s  "
                     "0.25 s  ETA 0.20 s");
  ASSERT(strchr(buf, '\033') == NULL);
  p.failed = 2;
  cli_progress_format(buf, sizeof(buf), &p, 1);
  ASSERT(strstr(buf, "\033[1mparallel\033[0m") != NULL);
  ASSERT(strstr(buf, "\033[31m2 failed\033[0m") != NULL);
  p.done = p.total; /* finished: no ETA */
  p.elapsed_us = 725000000; /* past ten minutes: minutes */
  cli_progress_format(buf, sizeof(buf), &p, 0);
  ASSERT(strstr(buf, "ETA") == NULL);
  ASSERT(strstr(buf, "12 min") != NULL);
  p.done = 0; /* nothing yet: no rate to divide by */
  p.elapsed_us = 0;
  cli_progress_format(buf, sizeof(buf), &p, 0);
  ASSERT(strstr(buf, " 0 req/s") != NULL);
  char tiny[8];
  ASSERT_EQ(cli_progress_format(tiny, sizeof(tiny), &p, 0), 7);
  ASSERT_EQ(tiny[7], '\0');
  printf("test-progress: passed\n");
  return 0;
}
