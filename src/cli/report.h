/* Output of the asyncdl tool: the comparison table, the per-URL lines and
 * the JSON report. Numbers are formatted with integer arithmetic, so the
 * output does not depend on the locale and is the same on every run for the
 * same figures. */
#ifndef CLI_REPORT_H
#define CLI_REPORT_H

#include "asyncdl.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One line of the comparison: a strategy over its repeats. */
typedef struct cli_row_s {
  const char *strategy;     /* "serial", "session", "parallel" */
  unsigned max_connections; /* configured K (1 for serial and session) */
  unsigned repeats;         /* runs behind the row */
  adl_summary_t median;     /* summary of the median run by wall time */
  uint64_t wall_min_us, wall_max_us; /* over the repeats */
  const char *insight;      /* JSON object from cli_insight_json, or NULL */
  unsigned median_repeat;   /* the median run's repeat (1-based); 0: none */
  /* The median run's, from the tool's feed (feed.h). */
  uint64_t wire_bytes;      /* body bytes on the wire; 0 = unknown */
  uint64_t skipped;         /* items skipped (--skip-existing) */
  uint64_t not_modified;    /* 304s to --update's revalidations */
  const char *ran_as;       /* "parallel" when multiplex got no HTTP/2 */
} cli_row_t;

/** Prints the aligned comparison table: strategy, wall s (median), min-max
 * (over the repeats; the column is there only when a row has more than one
 * run), req/s (successful requests per second of wall time), MB (body
 * bytes received, 10^6 bytes, failures included), MB/s (the same per
 * second), conns (connections opened), p50 ms, p95 ms, fail, speedup (the
 * serial row's median wall time over this row's; "-" without a serial
 * row). */
void cli_report_table(FILE *f, const cli_row_t *rows, size_t n);

/** Sorts v and returns its median; for an even n the lower of the middle
 * two, so that the result is always one of the values (a run that really
 * happened). 0 when n is 0. */
uint64_t cli_median_u64(uint64_t *v, size_t n);

/** An item's outcome as the report names it: "ok", "not_modified" (a 304
 * to a conditional request), "skipped" (a success without a request:
 * --skip-existing), or the error's name ("ETIMEDOUT"). */
const char *cli_outcome_name(const adl_result_t *res);

/** "asyncdl: FAILED <url>: <ENAME> (<detail>)" for a failed result, nothing
 * for a successful one. The URL and detail are sanitised for a terminal,
 * their credentials masked. */
void cli_report_outcome(FILE *f, const char *url, const adl_result_t *res);

/* ---- JSON report, written as a stream ---------------------------------

   {"schema": "asyncdl-report/2", "schema_version": 2,
    "tool": "asyncdl", "version": "0.2.0",
    "runs": [{"strategy": ..., "repeat": 1, "max_connections": ...,
              "items": [{...}, ...], "summary": {...} | null}, ...],
    "comparison": [{...}, ...]}

   docs/report.schema.json (JSON Schema draft-07) describes every field;
   CLI_JSON_SCHEMA and CLI_JSON_SCHEMA_VERSION change with it. Counts that
   the text shows from 1 ("run 1/3") count from 1 here too. Times are
   milliseconds with 3 decimals. Write errors are sticky and returned by
   cli_json_close, so the calls in between return nothing. */

#define CLI_JSON_SCHEMA "asyncdl-report/2"
#define CLI_JSON_SCHEMA_VERSION 2

typedef struct cli_json_s cli_json_t;
struct adl__hist_s; /* hist.h */

/** Creates PATH.tmp-PID-N (O_EXCL, O_NOFOLLOW: new, and never through a
 * planted link), renamed to PATH by a successful close, so that PATH
 * is never a half-written report. "-" writes to stdout, and an existing
 * special file (/dev/stderr, a FIFO) is written in place. Returns NULL with
 * a one-line message naming the file in err. */
cli_json_t *cli_json_open(const char *path, char *err, size_t errlen);

/** Starts a run: repeat is 1-based (1 to --repeat), max_connections the
 * configured K. An unfinished previous run is closed with "summary": null. */
void cli_json_run_begin(cli_json_t *j, const char *strategy, unsigned repeat,
                        unsigned max_connections);

/** Appends one result to the current run (ignored outside a run). file may
 * be NULL. */
void cli_json_item(cli_json_t *j, const char *url, const char *file,
                   const adl_result_t *res);

/** Ends the current run with its summary (s may be NULL: interrupted) and,
 * inside it, the insight object (JSON text from cli_insight_json; NULL
 * leaves it out). */
void cli_json_run_end(cli_json_t *j, const adl_summary_t *s,
                      const char *insight);

/** As cli_json_run_end, with the run's latency histogram (hist may be
 * NULL): "latency_histogram" in the summary, its non-empty buckets as
 * [upper_us, count] pairs, so that `asyncdl merge` can add them up. */
void cli_json_run_end_hist(cli_json_t *j, const adl_summary_t *s,
                           const char *insight, const struct adl__hist_s *hist);

/** Members added to the current run's summary object when it ends:
 * fields is JSON text such as "\"skipped\": 3, \"ran_as\": null" (copied;
 * a later call replaces it). Returns 0 or -1 (out of memory). */
int cli_json_run_note(cli_json_t *j, const char *fields);

/** Appends one item written elsewhere (a JSON object, copied verbatim) to
 * the current run: `asyncdl merge` copies the shards' items. */
void cli_json_item_raw(cli_json_t *j, const char *json, size_t len);

/** Adds a top-level member "key": json (JSON text, copied) written by
 * cli_json_close after "comparison"; at most 4. Returns 0 or -1. */
int cli_json_set_extra(cli_json_t *j, const char *key, const char *json);

/** Appends the comparison, finishes the document, flushes, syncs and
 * renames the temporary file to PATH, and frees j. Returns 0 or -errno (the temporary
 * file is then removed). */
int cli_json_close(cli_json_t *j, const cli_row_t *rows, size_t n);

/** Drops the report: removes the temporary file and frees j (stdout is only
 * flushed). For a run that must not leave a report behind. */
void cli_json_discard(cli_json_t *j);

#endif /* CLI_REPORT_H */
