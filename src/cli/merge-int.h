/* Internal to asyncdl merge (merge.c loads and checks, merge-out.c writes):
 * the inputs and the merged runs. */
#ifndef CLI_MERGE_INT_H
#define CLI_MERGE_INT_H

#include "asyncdl.h"
#include "histogram.h"
#include "jsonr.h"
#include "shard.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct input_s {
  const char *path;
  char *text;
  cli_jdoc_t *doc;
  cli_jv_t runs;
  cli_jv_t shard; /* 0: not a shard report */
  unsigned index, count;
  cli_shard_by_t by;
  uint64_t urls, list_urls, digest;
  const char *origin;
} input_t;

typedef struct ukey_s {
  const char *key; /* into a document's strings */
  size_t len;
  unsigned input;
} ukey_t;

/* The counters the tool's feed adds to a run's summary (feed.c): summed
 * when every report has them. */
#define CLI_MERGE_NOTES 4
extern const char *const cli_merge_note_keys[CLI_MERGE_NOTES];

typedef struct mrun_s {
  const char *strategy;
  unsigned repeat, max_connections;
  adl_summary_t sum;
  uint64_t note[CLI_MERGE_NOTES]; /* wire_bytes, skipped, ... summed */
  size_t note_has[CLI_MERGE_NOTES]; /* reports that have each */
  size_t ran_as_has;                /* reports with a "ran_as" member */
  int ran_parallel;                 /* one of them says "parallel" */
  adl__hist_t hist;
  cli_jv_t src[]; /* the run in each input */
} mrun_t;

typedef struct merge_s {
  input_t *in;
  size_t n;
  mrun_t **runs;
  size_t nruns;
  ukey_t *keys; /* one run's URLs over all inputs, for the duplicate check */
  size_t nkeys, capkeys;
  int sharded;
  FILE *msgs;
} merge_t;

/** Prints "asyncdl merge: <message>" to m->msgs; returns code. */
__attribute__((format(printf, 3, 4))) int cli_merge_fail(merge_t *m, int code,
                                                         const char *fmt, ...);

/** Loads m->in[0..n-1] (paths set), checks them and fills m->runs.
 * Returns 0 or the exit status, the reason printed. */
int cli_merge_load(merge_t *m, const char *json_out);

/** Frees everything cli_merge_load allocated, m->in included. */
void cli_merge_free(merge_t *m);

#endif /* CLI_MERGE_INT_H */
