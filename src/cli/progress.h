/* The live progress line: what a strategy has done so far, how fast, and
 * when it should end. Formatting only (the tool decides when to draw, at
 * most about ten times a second, and only on a terminal unless asked). */
#ifndef CLI_PROGRESS_H
#define CLI_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct cli_progress_s {
  const char *strategy;
  unsigned run, runs;     /* 1-based run of runs */
  uint64_t done, total;   /* outcomes so far, URLs in the list */
  uint64_t failed;
  uint64_t bytes;
  uint64_t elapsed_us;    /* since the run began */
} cli_progress_t;

/* Formats one line, without a newline, into buf (always terminated):
 * "parallel  run 1/3   840/1510  2 failed  10.1 MB  3350 req/s  0.25 s
 * ETA 0.2 s". With color, ANSI SGR sequences set off the strategy and any
 * failures. Returns the length written. */
size_t cli_progress_format(char *buf, size_t cap, const cli_progress_t *p,
                           int color);

#endif
