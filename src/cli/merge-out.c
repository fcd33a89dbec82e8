/* asyncdl merge, output: the comparison table, one row per strategy as
 * the tool prints it, and the merged report with every item copied
 * verbatim from its shard. */
#include "merge.h"

#include "merge-int.h"
#include "opts.h"
#include "report.h"
#include "url.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- output --------------------------------------------------------------- */

/* A multiplex run that got no HTTP/2 answer ran as parallel (feed.c): so
 * did the merged run when a shard did and no shard got HTTP/2. */
static int ran_parallel(const mrun_t *mr) {
  return mr->ran_parallel && mr->note[3] == 0;
}

/* The feed's counters of a merged run, as the tool writes them. */
static int run_note(const mrun_t *mr, char *buf, size_t cap) {
  size_t n = 0;
  buf[0] = '\0';
  for (unsigned k = 0; k < CLI_MERGE_NOTES; k++)
    if (mr->note_has[k] != 0 && n < cap)
      n += (size_t)snprintf(buf + n, cap - n, "%s\"%s\": %" PRIu64,
                            n ? ", " : "", cli_merge_note_keys[k], mr->note[k]);
  if (mr->ran_as_has != 0 && n < cap)
    n += (size_t)snprintf(buf + n, cap - n, "%s\"ran_as\": %s", n ? ", " : "",
                          ran_parallel(mr) ? "\"parallel\"" : "null");
  return n < cap ? (int)n : -1;
}

/* One row per strategy, in the order the first report ran them: the merged
 * run with the median wall time over the repeats, as the tool does. */
static size_t build_rows(merge_t *m, cli_row_t *rows, size_t cap,
                         uint64_t *walls) {
  size_t n = 0;
  for (size_t i = 0; i < m->nruns && n < cap; i++) {
    const char *st = m->runs[i]->strategy;
    int seen = 0;
    for (size_t k = 0; k < n; k++)
      seen |= strcmp(rows[k].strategy, st) == 0;
    if (seen)
      continue;
    unsigned done = 0;
    for (size_t k = i; k < m->nruns; k++)
      if (strcmp(m->runs[k]->strategy, st) == 0 &&
          m->runs[k]->sum.requests > 0)
        walls[done++] = m->runs[k]->sum.wall_us;
    if (done == 0)
      continue;
    uint64_t med = cli_median_u64(walls, done);
    cli_row_t *row = &rows[n++];
    memset(row, 0, sizeof(*row));
    row->strategy = st;
    row->max_connections = m->runs[i]->max_connections;
    row->repeats = done;
    row->wall_min_us = walls[0];
    row->wall_max_us = walls[done - 1];
    for (size_t k = i; k < m->nruns; k++)
      if (strcmp(m->runs[k]->strategy, st) == 0 &&
          m->runs[k]->sum.requests > 0 && m->runs[k]->sum.wall_us == med) {
        const mrun_t *mr = m->runs[k];
        row->median = mr->sum;
        row->median_repeat = mr->repeat;
        row->wire_bytes = mr->note[0];
        row->skipped = mr->note[1];
        row->not_modified = mr->note[2];
        row->ran_as = ran_parallel(mr) ? "parallel" : NULL;
        break;
      }
  }
  return n;
}

/* A JSON string: quotes, backslashes and control characters escaped,
 * bytes that are not UTF-8 replaced. */
static void put_jstr(char **p, char *end, const char *s) {
  size_t len = strlen(s);
  *p += snprintf(*p, (size_t)(end - *p), "\"");
  for (size_t i = 0; i < len && *p < end - 8;) {
    unsigned char c = (unsigned char)s[i];
    size_t k = cli_utf8_len((const unsigned char *)s + i, len - i);
    if (c == '"' || c == '\\')
      *p += snprintf(*p, (size_t)(end - *p), "\\%c", c);
    else if (c < 0x20)
      *p += snprintf(*p, (size_t)(end - *p), "\\u%04x", c);
    else if (k == 0)
      *p += snprintf(*p, (size_t)(end - *p), "\\ufffd");
    else if (*p + k < end - 8) {
      memcpy(*p, s + i, k);
      *p += k;
    }
    i += k != 0 ? k : 1;
  }
  *p += snprintf(*p, (size_t)(end - *p), "\"");
}

/* "merged": which reports, and the shards they were. */
static char *merged_json(merge_t *m) {
  size_t cap = 256;
  for (size_t i = 0; i < m->n; i++) {
    size_t sl = 0;
    if (m->in[i].shard)
      cli_jraw(m->in[i].doc, m->in[i].shard, &sl);
    cap += strlen(m->in[i].path) * 6 + sl + 64;
  }
  char *buf = malloc(cap), *p = buf, *end = buf + cap;
  if (buf == NULL)
    return NULL;
  p += snprintf(p, (size_t)(end - p), "{\"wall\": \"longest report\", ");
  if (m->sharded)
    p += snprintf(p, (size_t)(end - p),
                  "\"shards\": %u, \"shard_by\": \"%s\", \"list_urls\": %" PRIu64
                  ", ",
                  m->in[0].count, cli_shard_by_name(m->in[0].by),
                  m->in[0].list_urls);
  p += snprintf(p, (size_t)(end - p), "\"reports\": [");
  for (size_t i = 0; i < m->n; i++) {
    size_t sl;
    const char *raw = m->in[i].shard ? cli_jraw(m->in[i].doc, m->in[i].shard, &sl)
                                     : "null";
    if (!m->in[i].shard)
      sl = 4;
    p += snprintf(p, (size_t)(end - p), "%s{\"file\": ", i ? ", " : "");
    put_jstr(&p, end, m->in[i].path);
    p += snprintf(p, (size_t)(end - p), ", \"shard\": %.*s}", (int)sl, raw);
  }
  snprintf(p, (size_t)(end - p), "]}");
  return buf;
}

static int write_report(merge_t *m, const char *path, const cli_row_t *rows,
                        size_t nrows) {
  char err[512];
  cli_json_t *j = cli_json_open(path, err, sizeof(err));
  if (j == NULL)
    return cli_merge_fail(m, CLI_EXIT_USAGE, "--json: %s", err);
  char *extra = merged_json(m);
  if (extra == NULL || cli_json_set_extra(j, "merged", extra) != 0) {
    free(extra);
    cli_json_discard(j);
    return cli_merge_fail(m, CLI_EXIT_INTERNAL, "out of memory");
  }
  free(extra);
  for (size_t r = 0; r < m->nruns; r++) {
    mrun_t *mr = m->runs[r];
    cli_json_run_begin(j, mr->strategy, mr->repeat, mr->max_connections);
    for (size_t i = 0; i < m->n; i++) {
      cli_jdoc_t *d = m->in[i].doc;
      for (cli_jv_t it = cli_jfirst(d, cli_jget(d, mr->src[i], "items"));
           it != 0; it = cli_jnext(d, it)) {
        size_t len;
        const char *raw = cli_jraw(d, it, &len);
        cli_json_item_raw(j, raw, len);
      }
    }
    char note[512];
    int nl = run_note(mr, note, sizeof(note));
    if (nl < 0 || (nl > 0 && cli_json_run_note(j, note) != 0)) {
      cli_json_discard(j);
      return cli_merge_fail(m, CLI_EXIT_INTERNAL, "out of memory");
    }
    cli_json_run_end_hist(j, &mr->sum, NULL, &mr->hist);
  }
  int rc = cli_json_close(j, rows, nrows);
  if (rc != 0)
    return cli_merge_fail(m, CLI_EXIT_INTERNAL, "--json: cannot write '%s': %s", path,
                strerror(-rc));
  return 0;
}

static void banner(merge_t *m) {
  uint64_t urls = m->nruns ? m->runs[0]->sum.requests : 0;
  if (m->sharded)
    fprintf(m->msgs,
            "asyncdl merge: %zu shard reports (shards 0-%u of %u, by %s): %" PRIu64
            " URLs, the whole list, each once; %zu run%s\n",
            m->n, m->in[0].count - 1, m->in[0].count,
            cli_shard_by_name(m->in[0].by), urls, m->nruns,
            m->nruns == 1 ? "" : "s");
  else
    fprintf(m->msgs,
            "asyncdl merge: %zu reports (not shard reports: the list is not "
            "checked): %" PRIu64 " URLs, none twice; %zu run%s\n",
            m->n, urls, m->nruns, m->nruns == 1 ? "" : "s");
}

int cli_merge_run(const char *const *paths, size_t n, const char *json_out,
                  FILE *table, FILE *msgs) {
  merge_t m = {.n = n, .msgs = msgs};
  if (n == 0)
    return cli_merge_fail(&m, CLI_EXIT_USAGE, "no report given");
  m.in = calloc(n, sizeof(*m.in));
  if (m.in == NULL)
    return cli_merge_fail(&m, CLI_EXIT_INTERNAL, "out of memory");
  for (size_t i = 0; i < n; i++)
    m.in[i].path = paths[i];
  int rc = cli_merge_load(&m, json_out);
  cli_row_t rows[8];
  uint64_t *walls = rc == 0 ? calloc(m.nruns + 1, sizeof(*walls)) : NULL;
  if (rc == 0 && walls == NULL)
    rc = cli_merge_fail(&m, CLI_EXIT_INTERNAL, "out of memory");
  if (rc == 0) {
    size_t nrows = build_rows(&m, rows, 8, walls);
    banner(&m);
    if (table != NULL && nrows > 0)
      cli_report_table(table, rows, nrows);
    if (json_out != NULL)
      rc = write_report(&m, json_out, rows, nrows);
  }
  for (size_t r = 0; rc == 0 && r < m.nruns; r++)
    if (m.runs[r]->sum.failed > 0)
      rc = CLI_EXIT_FAILED;
  free(walls);
  cli_merge_free(&m);
  return rc;
}

int cli_merge_main(int argc, char **argv) {
  const char *json = NULL;
  const char **paths = calloc((size_t)argc + 1, sizeof(*paths));
  size_t n = 0;
  int opts = 1;
  if (paths == NULL)
    return CLI_EXIT_INTERNAL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (opts && strcmp(a, "--") == 0) {
      opts = 0;
    } else if (opts && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
      free(paths);
      fputs("Usage: asyncdl merge REPORT.json... [--json=FILE]\n"
            "Combines the --json reports of a sharded run into one table "
            "and, with\n--json, one report ('-' = stdout). See asyncdl(1).\n",
            stdout);
      return CLI_EXIT_OK;
    } else if (opts && strncmp(a, "--json=", 7) == 0 && a[7] != '\0') {
      json = a + 7;
    } else if (opts && strcmp(a, "--json") == 0 && i + 1 < argc) {
      json = argv[++i];
    } else if (opts && a[0] == '-' && a[1] != '\0') {
      char q[64];
      cli_quote(q, sizeof(q), a, strlen(a));
      fprintf(stderr,
              "asyncdl merge: unknown option '%s'\nTry 'asyncdl --help'.\n", q);
      free(paths);
      return CLI_EXIT_USAGE;
    } else {
      paths[n++] = a;
    }
  }
  int tostderr = json != NULL && strcmp(json, "-") == 0;
  int rc = n == 0 ? (fputs("asyncdl merge: no report given\nUsage: asyncdl "
                           "merge REPORT.json... [--json=FILE]\n",
                           stderr),
                     CLI_EXIT_USAGE)
                  : cli_merge_run(paths, n, json, tostderr ? stderr : stdout,
                                  stderr);
  free(paths);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "asyncdl merge: cannot write to stdout: %s\n",
            strerror(errno ? errno : EIO));
    rc = CLI_EXIT_INTERNAL;
  }
  return rc;
}
