#!/bin/bash
# One shard of a download list per Slurm array task (docs/sharding.md).
#
#   sbatch --export=ALL,LIST=$PWD/list.txt,REPORTS=$PWD/reports docs/slurm-array.sh
#   # when the array is done:
#   asyncdl merge reports/shard-*.json --json=reports/merged.json
#
# asyncdl finds its shard itself: SLURM_ARRAY_TASK_ID and
# SLURM_ARRAY_TASK_COUNT (with _MIN and _STEP, so --array=1-4 and
# --array=0-6:2 work too) give shard (ID - MIN) / STEP of COUNT. Change
# the number of shards with --array on the sbatch line; nothing else.
# Each task writes REPORTS/shard-<task id>.json and exits as asyncdl does:
# 0 all fetched, 1 some URLs failed (the task shows FAILED, its report is
# still written), 2 bad input, 3 internal error.
#
# Settings, from the environment (sbatch --export):
#   LIST          the list, one name or URL per line (required; a path
#                 every node can read)
#   REPORTS       directory for the reports (default: the working directory)
#   BASE_URL      --base-url for the names (default: asyncdl's)
#   ASYNCDL       the asyncdl binary (default: asyncdl on PATH)
#   ASYNCDL_ARGS  more options, e.g. "--connections=32 --shard-by=host"
#SBATCH --job-name=asyncdl-shards
#SBATCH --array=0-3
#SBATCH --ntasks=1
#SBATCH --cpus-per-task=1
#SBATCH --time=00:30:00
#SBATCH --output=asyncdl-%A_%a.out
set -eu
: "${LIST:?set LIST to the list file (sbatch --export=ALL,LIST=...)}"
: "${SLURM_ARRAY_TASK_ID:?not a Slurm array task: submit with sbatch --array}"
REPORTS=${REPORTS:-.}
mkdir -p "$REPORTS"
# ASYNCDL_ARGS is split into words on purpose: it holds options.
# shellcheck disable=SC2086
exec "${ASYNCDL:-asyncdl}" --list="$LIST" ${BASE_URL:+--base-url="$BASE_URL"} \
  --strategy=parallel --no-progress \
  --json="$REPORTS/shard-$SLURM_ARRAY_TASK_ID.json" ${ASYNCDL_ARGS:-}
