/* `asyncdl merge A.json B.json ... [--json=OUT]`: the --json reports of a
 * sharded run's shards become one comparison table and one report.
 *
 * Exact by construction: counts, bytes and connections are sums; the
 * latency percentiles come from the sum of the reports' histogram buckets
 * (the same buckets and rule as one run over all the samples), never from
 * averaging percentiles. A merged run's wall time is the longest shard's:
 * the time the whole list takes when the shards run at once.
 *
 * Checked before anything is written: every input is an asyncdl report
 * with complete runs; each run's items, summary and histogram agree; all
 * inputs have the same runs (strategy, repeat, K); and for shard reports
 * (the "shard" member --shard writes), that every shard 0..N-1 is there
 * once, every URL is in the shard its report claims, no URL appears twice,
 * and the URLs add up to the list (count and order-free digest). Any
 * failure is an error naming the file (exit 2), and nothing is written. */
#ifndef CLI_MERGE_H
#define CLI_MERGE_H

#include <stddef.h>
#include <stdio.h>

/** Merges the reports at paths[0..n-1]: the table goes to table (NULL:
 * none), one summary line and errors to msgs, and the merged report to
 * json_out when it is not NULL ("-" = stdout). Returns the exit status:
 * 0 merged, 1 merged but some URLs had failed, 2 bad input, 3 internal
 * (out of memory, cannot write). */
int cli_merge_run(const char *const *paths, size_t n, const char *json_out,
                  FILE *table, FILE *msgs);

/** The subcommand: argv[0] is "merge", then report paths and --json=FILE
 * (or --json FILE) in any order, "--" ending the options; -h/--help. */
int cli_merge_main(int argc, char **argv);

#endif /* CLI_MERGE_H */
