/* asyncdl: download a list of documents with one or all strategies and
 * compare their wall-clock totals. The tool owns the loop; every run is one
 * adl_client fed by one cli_feed (feed.h: adl_batch's rules, with request
 * headers of each item's own), run one after another on that loop, so
 * their connection caches never mix. Sees include/asyncdl.h only (plus the
 * fixture server for --local). */
#include "asyncdl.h"
#include "feed.h"
#include "fixture.h"
#include "har.h"
#include "histogram.h"
#include "insight.h"
#include "list.h"
#include "merge.h"
#include "netopts.h"
#include "opts.h"
#include "outpaths.h"
#include "progress.h"
#include "report.h"
#include "rerun.h"
#include "shard.h"
#include "trace.h"
#include "waterfall.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct item_s {
  cli_item_t it;
  char *path; /* DIR/<name>.json with --out, else NULL */
  const char **cond; /* --update: -H lines + If-None-Match..., malloc'd */
  int update;        /* --update: record the validators after a download */
} item_t;

typedef struct app_s {
  cli_opts_t o;
  uv_loop_t loop;
  fixture_t *fixture;
  char *base_url;
  cli_list_t *list;
  cli_json_t *json;
  uv_signal_t sigint, sigterm;
  adl_strategy_t order[4];
  unsigned nstrat;
  unsigned run;  /* index of the current run: rep * nstrat + position */
  unsigned runs; /* nstrat * repeat */
  adl_summary_t *results; /* [strategy][repeat] */
  cli_insight_t *insights; /* [strategy][repeat], where the time went */
  char row_insight[4][1024]; /* JSON of the comparison rows' insight */
  cli_insight_row_t row_ir[4]; /* the rows' median runs, for the print */
  adl_client_t *client;
  cli_feed_t *batch; /* the current run's items (feed.h) */
  cli_trace_t trace; /* every request, for --waterfall and --har */
  int tracing;
  uv_timer_t progress_timer;
  int progress;       /* 0 none, 1 live line (terminal), 2 plain lines */
  int progress_color;
  int progress_drawn; /* a live line is on the screen */
  uint64_t list_count;
  uint64_t run_done, run_failed, run_bytes, run_start_us;
  uint64_t failures;
  uint64_t not_started; /* items an interrupt kept from starting */
  /* Reruns and multiplex (issue 10). */
  cli_present_t present;     /* which files were there at the start */
  uint64_t ordinal;          /* items pulled in the current run */
  cli_feed_summary_t *fsums; /* [strategy][repeat], beside results */
  int validators_warned;
  int list_error;       /* exit 2: bad input found while running */
  int internal_error;   /* exit 3 */
  int signal_seen;
  cli_shard_t shard; /* --shard, or from the job engine's environment */
  adl__hist_t hist;   /* the current run's latencies, for the report */
} app_t;

static adl_strategy_t run_strategy(const app_t *a, unsigned run) {
  unsigned rep = run / a->nstrat;
  /* Rotate the order across repeats so no strategy always runs first
   * (a warm page cache or a cold one would otherwise favour it). */
  return a->order[(run % a->nstrat + rep) % a->nstrat];
}

/* The next item of the list in this process's shard. */
static int list_next(app_t *a, cli_item_t *it, char *err, size_t errlen) {
  for (;;) {
    int rc = cli_list_next(a->list, it, err, errlen);
    if (rc <= 0 || cli_shard_has(&a->shard, it->url))
      return rc;
    cli_item_free(it);
  }
}

static void free_item(item_t *x) {
  if (x == NULL)
    return;
  cli_item_free(&x->it);
  free(x->path);
  free(x->cond);
  free(x);
}

/* What the feed needs of an item: its URL, file and headers, and whether
 * --skip-existing skips it or --update revalidates it (rerun.h). Returns 1,
 * or ADL_ENOMEM (x freed). */
static int prepare_item(app_t *a, item_t *x, cli_feed_item_t *fi) {
  const cli_opts_t *o = &a->o;
  fi->url = x->it.url;
  fi->path = x->path;
  fi->data = x;
  fi->headers = o->nheaders > 0 ? o->headers : NULL;
  if (!o->skip_existing && !o->update)
    return 1;
  int there = cli_present_get(&a->present, a->ordinal++, x->path,
                              cli_file_exists);
  cli_validators_t v;
  if (there < 0)
    goto nomem;
  fi->skip = there && o->skip_existing;
  x->update = o->update;
  if (there && o->update && cli_validators_load(x->path, &v)) {
    x->cond = cli_conditional_headers(fi->headers, &v);
    if (x->cond == NULL)
      goto nomem;
    fi->headers = x->cond;
  }
  return 1;
nomem:
  free_item(x);
  return ADL_ENOMEM;
}

static int next_item(cli_feed_t *b, cli_feed_item_t *fi) {
  app_t *a = cli_feed_get_data(b);
  item_t *x = calloc(1, sizeof(*x));
  if (x == NULL)
    return ADL_ENOMEM;
  char err[512];
  int rc = list_next(a, &x->it, err, sizeof(err));
  if (rc <= 0) {
    free(x);
    if (rc < 0) {
      fprintf(stderr, "asyncdl: %s\n", err);
      if (rc == CLI_LIST_ESYSTEM)
        a->internal_error = 1;
      else
        a->list_error = 1;
      return ADL_EINVAL;
    }
    return 0;
  }
  if (a->o.out_dir != NULL) {
    char fname[CLI_NAME_MAX + 16];
    if (cli_safe_filename(x->it.name, fname, sizeof(fname)) == 0) {
      size_t n = strlen(a->o.out_dir) + strlen(fname) + 2;
      x->path = malloc(n);
      if (x->path != NULL)
        snprintf(x->path, n, "%s/%s", a->o.out_dir, fname);
    }
  }
  return prepare_item(a, x, fi);
}

static cli_insight_t *current_insight(app_t *a) {
  unsigned st = (unsigned)run_strategy(a, a->run);
  return &a->insights[st * a->o.repeat + a->run / a->nstrat];
}

static cli_insight_row_t insight_row(const app_t *a, adl_strategy_t st,
                                     const cli_insight_t *x,
                                     uint64_t wall_us) {
  cli_insight_row_t r = {.strategy = adl_strategy_name(st),
                         .s = st,
                         /* multiplex: the streams in flight (insight.c) */
                         .k = st == ADL_STRATEGY_MULTIPLEX
                                  ? cli_netopts_inflight(&a->o, st)
                                  : cli_netopts_k(&a->o, st),
                         .wall_us = wall_us,
                         .x = x,
                         .rtt_ms = a->o.local ? a->o.rtt_ms : 0,
                         .emulated = a->o.local};
  return r;
}

/* Live: redrawn in place (\r, erase to the end of the line) at most ten
 * times a second. Plain (stderr not a terminal, --progress): one line a
 * second. */
static void draw_progress(app_t *a) {
  unsigned rep = a->run / a->nstrat;
  cli_progress_t p = {.strategy = adl_strategy_name(run_strategy(a, a->run)),
                      .run = rep + 1,
                      .runs = a->o.repeat,
                      .done = a->run_done,
                      .total = a->list_count,
                      .failed = a->run_failed,
                      .bytes = a->run_bytes,
                      .elapsed_us = uv_hrtime() / 1000 - a->run_start_us};
  char line[256];
  cli_progress_format(line, sizeof(line), &p, a->progress_color);
  if (a->progress == 1) {
    fprintf(stderr, "\r%s\033[K", line);
    a->progress_drawn = 1;
  } else {
    fprintf(stderr, "asyncdl: %s\n", line);
  }
  fflush(stderr);
}

static void on_progress_tick(uv_timer_t *t) { draw_progress(t->data); }

/* Before any other line goes to stderr: the live line goes away. */
static void clear_progress(app_t *a) {
  if (a->progress_drawn) {
    fputs("\r\033[K", stderr);
    a->progress_drawn = 0;
  }
}

static void start_progress(app_t *a) {
  a->run_done = a->run_failed = a->run_bytes = 0;
  a->run_start_us = uv_hrtime() / 1000;
  if (a->progress != 0) {
    uint64_t ms = a->progress == 1 ? 100 : 1000;
    uv_timer_start(&a->progress_timer, on_progress_tick, ms, ms);
  }
}

static void stop_progress(app_t *a) {
  uv_timer_stop(&a->progress_timer);
  clear_progress(a);
}

/* --update: after a download, the validators its response carried are kept
 * beside the file (rerun.h); a 304 leaves file and sidecar as they were. */
static void record_validators(app_t *a, const item_t *x, adl_request_t *r,
                              const adl_result_t *res) {
  if (!x->update || r == NULL || x->path == NULL || res->status != 0 ||
      res->not_modified)
    return;
  int rc = cli_validators_save(x->path, adl_request_header(r, "ETag"),
                               adl_request_header(r, "Last-Modified"));
  if (rc != 0 && !a->validators_warned++) {
    char q[300];
    cli_quote(q, sizeof(q), x->path, strlen(x->path));
    clear_progress(a);
    fprintf(stderr,
            "asyncdl: warning: cannot keep the validators of '%s': %s (the "
            "next --update downloads it again)\n",
            q, strerror(-rc));
  }
}

static void on_result(cli_feed_t *b, void *item, adl_request_t *r,
                      const adl_result_t *res, int skipped) {
  app_t *a = cli_feed_get_data(b);
  item_t *x = item;
  if (skipped) { /* no request: counted, reported, nothing to time */
    a->run_done++;
    if (a->json != NULL)
      cli_json_item(a->json, res->url, x ? x->path : NULL, res);
    free_item(x);
    return;
  }
  if (x != NULL)
    record_validators(a, x, r, res);
  cli_insight_add(current_insight(a), res, a->o.local ? a->o.rtt_ms : 0);
  adl__hist_add(&a->hist, res->total_us); /* as the library's summary does */
  a->run_done++;
  a->run_bytes += res->bytes;
  if (res->status == ADL_ECANCELED && a->signal_seen && res->attempts == 0) {
    a->not_started++; /* pulled from the list, never started: counted */
  } else if (res->status != 0) {
    a->failures++;
    a->run_failed++;
    clear_progress(a);
    cli_report_outcome(stderr, res->url, res);
  }
  if (a->json != NULL)
    cli_json_item(a->json, res->url, x ? x->path : NULL, res);
  if (a->tracing && cli_trace_add(&a->trace, res) != 0)
    a->internal_error = 1;
  free_item(x);
}

static void start_run(app_t *a);
static void finish(app_t *a);

static void on_client_closed(adl_client_t *c) {
  app_t *a = adl_client_get_data(c);
  a->client = NULL;
  a->run++;
  if (a->signal_seen || a->list_error || a->internal_error ||
      a->run >= a->runs)
    finish(a);
  else
    start_run(a);
}

/* After an interrupt, the items the batch never pulled still get their one
 * outcome each: cancelled, before they started (in the JSON report, and
 * counted in one line on stderr rather than one line each). */
static void report_not_started(app_t *a) {
  cli_item_t it;
  char err[512];
  memset(&it, 0, sizeof(it));
  while (list_next(a, &it, err, sizeof(err)) > 0) {
    adl_result_t res;
    memset(&res, 0, sizeof(res));
    res.status = ADL_ECANCELED;
    res.url = it.url;
    res.message = "not started: interrupted";
    /* Counted, and listed in the JSON report; one line says how many. */
    if (a->json != NULL)
      cli_json_item(a->json, it.url, NULL, &res);
    a->not_started++;
    cli_item_free(&it);
  }
}

/* The run's line on stderr, and the word when multiplex found no HTTP/2. */
static void print_run_line(app_t *a, adl_strategy_t st, unsigned rep,
                           const cli_feed_summary_t *fs) {
  const adl_summary_t *s = &fs->s;
  char extra[128];
  cli_feed_summary_text(fs, extra, sizeof(extra));
  if (cli_feed_ran_as_parallel(fs))
    fprintf(stderr,
            "asyncdl: multiplex: %s does not speak HTTP/2: multiplex ran as "
            "parallel%s%s\n",
            fs->h1_origin,
            strncmp(fs->h1_origin, "http:", 5) == 0 && !a->o.h2_prior_knowledge
                ? " (plain http: HTTP/2 only with --http2-prior-knowledge)"
                : "",
            a->o.strategy_all ? "; its row is left out of the table" : "");
  if (!a->o.quiet)
    fprintf(stderr,
            "asyncdl: %-9s run %u/%u: %.3f s, %llu/%llu ok%s, %llu "
            "connection%s\n",
            adl_strategy_name(st), rep + 1, a->o.repeat,
            (double)s->wall_us / 1e6, (unsigned long long)s->ok,
            (unsigned long long)s->requests, extra,
            (unsigned long long)s->connections,
            s->connections == 1 ? "" : "s");
}

static void on_batch_done(cli_feed_t *b, const cli_feed_summary_t *fs,
                          const adl__hist_t *latency) {
  app_t *a = cli_feed_get_data(b);
  const adl_summary_t *s = &fs->s;
  (void)latency; /* the same samples as a->hist */
  a->batch = NULL;
  stop_progress(a);
  if (a->signal_seen)
    report_not_started(a);
  adl_strategy_t st = run_strategy(a, a->run);
  unsigned rep = a->run / a->nstrat;
  a->results[(unsigned)st * a->o.repeat + rep] = *s;
  a->fsums[(unsigned)st * a->o.repeat + rep] = *fs;
  char note[512];
  if (a->json != NULL && cli_feed_summary_json(fs, note, sizeof(note)) > 0 &&
      cli_json_run_note(a->json, note) != 0)
    a->internal_error = 1;
  if (a->json != NULL) {
    char insight[1024];
    cli_insight_row_t ir = insight_row(a, st, current_insight(a), s->wall_us);
    cli_json_run_end_hist(a->json, s,
                          cli_insight_json(insight, sizeof(insight), &ir)
                              ? insight
                              : NULL,
                          &a->hist);
  }
  if (a->tracing)
    cli_trace_end_run(&a->trace, s->wall_us);
  print_run_line(a, st, rep, fs);
  adl_client_close(a->client, on_client_closed);
}

static void start_run(app_t *a) {
  adl_strategy_t st = run_strategy(a, a->run);
  char err[512];
  if (cli_list_rewind(a->list, err, sizeof(err)) != 0) {
    fprintf(stderr, "asyncdl: %s\n", err);
    a->internal_error = 1;
    finish(a);
    return;
  }
  adl_options_t ao;
  adl_options_init(&ao);
  ao.strategy = st;
  ao.max_connections = a->o.connections;
  ao.max_per_host = a->o.per_host;
  ao.timeout_ms = a->o.timeout_ms;
  ao.connect_timeout_ms = a->o.connect_timeout_ms;
  ao.dns_servers = a->o.dns_server;
  ao.cacert = a->o.cacert;
  ao.insecure = a->o.insecure;
  ao.http2 = a->o.http2;
  ao.max_size = a->o.max_size;
  ao.retries = a->o.retries;
  ao.max_redirects = a->o.max_redirects;
  cli_netopts_apply(&a->o, st, &ao);
  int rc = adl_client_new(&a->loop, &ao, &a->client);
  if (rc != 0) {
    fprintf(stderr, "asyncdl: cannot create a client: %s\n",
            adl_strerror(rc));
    a->internal_error = 1;
    finish(a);
    return;
  }
  adl_client_set_data(a->client, a);
  if (a->json != NULL)
    cli_json_run_begin(a->json, adl_strategy_name(st), a->run / a->nstrat + 1,
                       cli_netopts_k(&a->o, st));
  cli_feed_opts_t bo = {
      .client = a->client,
      .strategy = st,
      .max_connections = cli_netopts_k(&a->o, st),
      .window = cli_feed_window(cli_netopts_inflight(&a->o, st)),
      .next = next_item,
      .result = on_result,
      .done = on_batch_done,
      .data = a};
  a->ordinal = 0;
  if (a->tracing) {
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    if (cli_trace_begin_run(
            &a->trace, st, a->run / a->nstrat + 1,
            cli_netopts_k(&a->o, st), uv_hrtime() / 1000,
            (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000) != 0)
      a->internal_error = 1;
  }
  start_progress(a);
  adl__hist_init(&a->hist);
  rc = cli_feed_start(&a->loop, &bo, &a->batch);
  if (rc != 0) {
    fprintf(stderr, "asyncdl: cannot start: %s\n", adl_strerror(rc));
    a->internal_error = 1;
    adl_client_close(a->client, on_client_closed);
  }
}

static void on_fixture_closed(void *arg) { (void)arg; }

static void finish(app_t *a) {
  stop_progress(a);
  uv_close((uv_handle_t *)&a->progress_timer, NULL);
  uv_close((uv_handle_t *)&a->sigint, NULL);
  uv_close((uv_handle_t *)&a->sigterm, NULL);
  if (a->fixture != NULL) {
    fixture_close(a->fixture, on_fixture_closed, NULL);
    a->fixture = NULL;
  }
}

static void on_signal(uv_signal_t *h, int signum) {
  app_t *a = h->data;
  if (a->signal_seen) {
    /* A second interrupt means "now": no more cleanup. */
    _exit(128 + signum);
  }
  a->signal_seen = signum;
  clear_progress(a);
  fprintf(stderr, "asyncdl: %s: stopping (again to quit at once)\n",
          signum == SIGINT ? "interrupted" : "terminated");
  if (a->batch != NULL)
    cli_feed_cancel(a->batch);
}

/* A run that happened: it made requests, or skipped every item. */
static int run_happened(const app_t *a, adl_strategy_t st, unsigned r) {
  const cli_feed_summary_t *f = &a->fsums[(unsigned)st * a->o.repeat + r];
  return f->s.requests > 0 || f->skipped > 0;
}

/* With --strategy=all, a multiplex that ran as parallel is no row of its
 * own: it would only repeat parallel's (its run stays in the report). */
static int row_left_out(const app_t *a, adl_strategy_t st) {
  if (!a->o.strategy_all || st != ADL_STRATEGY_MULTIPLEX)
    return 0;
  for (unsigned r = 0; r < a->o.repeat; r++)
    if (cli_feed_ran_as_parallel(&a->fsums[(unsigned)st * a->o.repeat + r]))
      return 1;
  return 0;
}

static void row_extras(const app_t *a, adl_strategy_t st, unsigned r,
                       cli_row_t *row) {
  const cli_feed_summary_t *f = &a->fsums[(unsigned)st * a->o.repeat + r];
  row->wire_bytes = f->s.wire_bytes;
  row->skipped = f->skipped;
  row->not_modified = f->not_modified;
  row->ran_as = cli_feed_ran_as_parallel(f) ? "parallel" : NULL;
}

/* Fills rows with one line per strategy: the median run by wall time. */
static size_t build_rows(app_t *a, cli_row_t *rows) {
  size_t n = 0;
  for (unsigned i = 0; i < a->nstrat; i++) {
    adl_strategy_t st = a->order[i];
    adl_summary_t *runs = &a->results[(unsigned)st * a->o.repeat];
    unsigned done = 0;
    uint64_t walls[1000];
    for (unsigned r = 0; r < a->o.repeat; r++)
      if (run_happened(a, st, r))
        walls[done++] = runs[r].wall_us;
    if (done == 0 || row_left_out(a, st))
      continue;
    uint64_t med = cli_median_u64(walls, done);
    cli_row_t *row = &rows[n++];
    memset(row, 0, sizeof(*row));
    row->strategy = adl_strategy_name(st);
    row->max_connections = cli_netopts_k(&a->o, st);
    row->repeats = done;
    row->wall_min_us = walls[0];
    row->wall_max_us = walls[done - 1];
    for (unsigned r = 0; r < a->o.repeat; r++)
      if (run_happened(a, st, r) && runs[r].wall_us == med) {
        row->median = runs[r];
        row_extras(a, st, r, row);
        row->median_repeat = r + 1;
        a->row_ir[n - 1] = insight_row(
            a, st, &a->insights[(unsigned)st * a->o.repeat + r], med);
        if (cli_insight_json(a->row_insight[n - 1],
                             sizeof(a->row_insight[n - 1]),
                             &a->row_ir[n - 1]) > 0)
          row->insight = a->row_insight[n - 1];
        break;
      }
  }
  return n;
}

static const char *env_get(const char *name, void *ctx) {
  (void)ctx;
  return getenv(name);
}

/* Sharded: counts this shard's URLs (one pass over the checked list) and
 * says which shard this is; the report gets the "shard" object that
 * `asyncdl merge` checks the shards against. */
static int shard_list(app_t *a, const char *base, int *count, char *err,
                      size_t errlen) {
  cli_shard_t *s = &a->shard;
  if (s->source == CLI_SHARD_NONE)
    return 0;
  if (cli_shard_origin(base, s->origin, sizeof(s->origin)) != 0)
    s->origin[0] = '\0';
  cli_item_t it;
  uint64_t total = 0, mine = 0, digest = 0;
  memset(&it, 0, sizeof(it));
  int rc;
  while ((rc = cli_list_next(a->list, &it, err, errlen)) > 0) {
    total++;
    mine += cli_shard_has(s, it.url) != 0;
    digest = cli_shard_digest_add(digest, it.url, s->origin);
    cli_item_free(&it);
  }
  if (rc < 0 || cli_list_rewind(a->list, err, errlen) != 0)
    return CLI_EXIT_INTERNAL; /* it was read once already: not bad input */
  *count = (int)mine;
  if (!a->o.quiet)
    fprintf(stderr,
            "asyncdl: shard %u/%u (numbered from 0) by %s, from %s: %llu of "
            "the list's %llu URLs\n",
            s->index, s->count, cli_shard_by_name(s->by), s->why,
            (unsigned long long)mine, (unsigned long long)total);
  char json[1024];
  if (a->json != NULL &&
      (cli_shard_json(s, mine, total, digest, json, sizeof(json)) != 0 ||
       cli_json_set_extra(a->json, "shard", json) != 0)) {
    snprintf(err, errlen, "--json: cannot describe the shard");
    return CLI_EXIT_INTERNAL;
  }
  return 0;
}

static int setup(app_t *a, char *err, size_t errlen) {
  cli_fit_fd_limit(&a->o);
  const cli_opts_t *o = &a->o;
  if (cli_shard_resolve(&a->shard, o->shard_given, o->shard_index,
                        o->shard_count, o->shards, o->shard_by, env_get, NULL,
                        err, errlen) != 0)
    return CLI_EXIT_USAGE;
  if (a->shard.source == CLI_SHARD_NONE && a->shard.why[0] != '\0')
    fprintf(stderr, "asyncdl: warning: %s\n", a->shard.why);
  if (o->out_dir != NULL && cli_prepare_out_dir(o->out_dir) != 0)
    return CLI_EXIT_USAGE;
  if (cli_check_output_dir("--waterfall", o->waterfall_path, err,
                           errlen) != 0 ||
      cli_check_output_dir("--har", o->har_path, err, errlen) != 0 ||
      cli_check_report_path("--json", o->json_path, o, err, errlen) != 0 ||
      cli_check_report_path("--waterfall", o->waterfall_path, o, err,
                            errlen) != 0 ||
      cli_check_report_path("--har", o->har_path, o, err, errlen) != 0)
    return CLI_EXIT_USAGE;
  const char *base = o->base_url;
  if (o->local) {
    fixture_opts_t fo;
    fixture_opts_init(&fo);
    fo.rtt_ms = o->rtt_ms;
    int rc = fixture_start(&a->loop, &fo, &a->fixture);
    if (rc != 0) {
      fprintf(stderr, "asyncdl: --local: cannot start the server: %s\n",
              uv_strerror(rc));
      return CLI_EXIT_INTERNAL;
    }
    char buf[128];
    snprintf(buf, sizeof(buf), "http://127.0.0.1:%d/api/v2/pokemon/",
             fixture_port(a->fixture));
    a->base_url = strdup(buf);
    if (a->base_url == NULL)
      return CLI_EXIT_INTERNAL;
    base = a->base_url;
    fprintf(stderr,
            "asyncdl: local fixture server on 127.0.0.1:%d; network latency "
            "is EMULATED: %u ms round trip per response, one more for the "
            "first response on a new connection\n",
            fixture_port(a->fixture), o->rtt_ms);
  }
  int rc = cli_list_open_args(&a->list, o->list_path,
                              o->noperands > 0 ? o->operands : NULL,
                              o->noperands, base, err, errlen);
  if (rc != 0)
    return rc == CLI_LIST_ESYSTEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE;
  int count = cli_list_check(a->list, o->out_dir != NULL, err, errlen);
  if (count < 0)
    return count == CLI_LIST_ESYSTEM ? CLI_EXIT_INTERNAL : CLI_EXIT_USAGE;
  if (count == 0) {
    snprintf(err, errlen, "%s: the list has no URL", cli_list_name(a->list));
    return CLI_EXIT_USAGE;
  }
  if (o->insecure)
    fprintf(stderr, "asyncdl: WARNING: --insecure: TLS certificates are "
                    "NOT verified\n");
  char proxy[1024];
  if (cli_proxy_describe(o, env_get, NULL, proxy, sizeof(proxy)) > 0 &&
      (!o->quiet || o->proxy != NULL || o->proxy_env))
    fprintf(stderr, "asyncdl: %s\n", proxy);
  if (o->json_path != NULL) {
    char jerr[512];
    a->json = cli_json_open(o->json_path, jerr, sizeof(jerr));
    if (a->json == NULL) {
      snprintf(err, errlen, "--json: %s", jerr);
      return CLI_EXIT_USAGE;
    }
  }
  if ((rc = shard_list(a, base, &count, err, errlen)) != 0)
    return rc;
  if (o->strategy_all) {
    /* multiplex too: its row stays when the server speaks HTTP/2. */
    a->nstrat = 4;
    a->order[0] = ADL_STRATEGY_SERIAL;
    a->order[1] = ADL_STRATEGY_SESSION;
    a->order[2] = ADL_STRATEGY_PARALLEL;
    a->order[3] = ADL_STRATEGY_MULTIPLEX;
  } else {
    a->nstrat = 1;
    a->order[0] = o->strategy;
  }
  a->runs = a->nstrat * o->repeat;
  a->tracing = o->waterfall_path != NULL || o->har_path != NULL;
  a->list_count = (uint64_t)count;
  /* Colour and the live line only on a terminal; NO_COLOR (any value)
   * turns colour off (https://no-color.org). */
  int tty = isatty(STDERR_FILENO);
  const char *nc = getenv("NO_COLOR");
  if (o->quiet || o->progress == 0)
    a->progress = 0;
  else if (tty)
    a->progress = 1;
  else
    a->progress = o->progress == 1 ? 2 : 0;
  a->progress_color = tty && (nc == NULL || nc[0] == '\0');
  a->trace.local = o->local;
  a->trace.rtt_ms = o->local ? o->rtt_ms : 0;
  a->results = calloc(4 * (size_t)o->repeat, sizeof(adl_summary_t));
  a->insights = calloc(4 * (size_t)o->repeat, sizeof(cli_insight_t));
  a->fsums = calloc(4 * (size_t)o->repeat, sizeof(cli_feed_summary_t));
  if (a->results == NULL || a->insights == NULL || a->fsums == NULL)
    return CLI_EXIT_INTERNAL;
  if (!o->quiet)
    fprintf(stderr, "asyncdl %s: %d URL%s from %s, %u run%s\n",
            ADL_VERSION_STRING, count, count == 1 ? "" : "s",
            cli_list_name(a->list), a->runs, a->runs == 1 ? "" : "s");
  return 0;
}

/* --waterfall and --har, from the trace of every run. */
static int write_pictures(app_t *a) {
  char err[512];
  int failed = 0;
  if (a->o.waterfall_path != NULL &&
      cli_waterfall_write(&a->trace, a->o.waterfall_path, err,
                          sizeof(err)) != 0) {
    fprintf(stderr, "asyncdl: --waterfall: %s\n", err);
    failed = 1;
  }
  if (a->o.har_path != NULL &&
      cli_har_write(&a->trace, a->o.har_path, err, sizeof(err)) != 0) {
    fprintf(stderr, "asyncdl: --har: %s\n", err);
    failed = 1;
  }
  return failed ? -1 : 0;
}

/* A standard stream closed at start would hand its number to the first
 * file the program opens (the loop's epoll descriptor, a socket) and the
 * table would be written into it: reopen each closed one on /dev/null
 * before anything else is opened. */
static void guard_std_streams(void) {
  for (int fd = 0; fd <= 2; fd++) {
    if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
      continue;
    int nfd = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
    if (nfd >= 0 && nfd != fd) { /* cannot happen: the lowest is free */
      dup2(nfd, fd);
      close(nfd);
    }
  }
}

/* Flushes stream and reports a failed write (ENOSPC, EPIPE, EIO) once;
 * returns 0 or -1. */
static int check_stream(FILE *f, const char *name) {
  errno = 0;
  if (fflush(f) == 0 && !ferror(f))
    return 0;
  int e = errno ? errno : EIO;
  fprintf(stderr, "asyncdl: cannot write to %s: %s\n", name, strerror(e));
  return -1;
}

int main(int argc, char **argv) {
  guard_std_streams();
  if (argc > 1 && strcmp(argv[1], "merge") == 0)
    return cli_merge_main(argc - 1, argv + 1);
  static app_t app;
  app_t *a = &app;
  char err[1024] = "";
  cli_opts_init(&a->o);
  if (cli_opts_parse(&a->o, argc, argv, err, sizeof(err)) != 0) {
    fprintf(stderr, "asyncdl: %s\nTry 'asyncdl --help'.\n", err);
    cli_opts_free(&a->o);
    return CLI_EXIT_USAGE;
  }
  if (a->o.help || a->o.version) {
    if (a->o.help)
      cli_usage(stdout);
    else
      printf("asyncdl %s\n", adl_version_string());
    cli_opts_free(&a->o);
    return CLI_EXIT_OK;
  }
  /* Writing to a socket the peer has closed must be an error, not death
   * (the --local server writes with libuv). */
  signal(SIGPIPE, SIG_IGN);
  if (adl_library_init() != 0 || uv_loop_init(&a->loop) != 0) {
    fprintf(stderr, "asyncdl: cannot initialise libraries\n");
    return CLI_EXIT_INTERNAL;
  }
  int code = setup(a, err, sizeof(err));
  if (code != 0) {
    if (err[0])
      fprintf(stderr, "asyncdl: %s\n", err);
  } else {
    uv_timer_init(&a->loop, &a->progress_timer);
    a->progress_timer.data = a;
    uv_unref((uv_handle_t *)&a->progress_timer);
    uv_signal_init(&a->loop, &a->sigint);
    uv_signal_init(&a->loop, &a->sigterm);
    a->sigint.data = a->sigterm.data = a;
    uv_signal_start(&a->sigint, on_signal, SIGINT);
    uv_signal_start(&a->sigterm, on_signal, SIGTERM);
    start_run(a);
    uv_run(&a->loop, UV_RUN_DEFAULT);
    cli_row_t rows[4];
    size_t n = build_rows(a, rows);
    /* With --json=- stdout carries the report alone: the table goes to
     * stderr with the progress lines. */
    int json_stdout =
        a->o.json_path != NULL && strcmp(a->o.json_path, "-") == 0;
    if (n > 0) {
      FILE *tf = json_stdout ? stderr : stdout;
      cli_report_table(tf, rows, n);
      cli_insight_print(tf, a->row_ir, n);
    }
    if (check_stream(stdout, "stdout") != 0)
      a->internal_error = 1;
    int jrc = a->json != NULL ? cli_json_close(a->json, rows, n) : 0;
    a->json = NULL;
    if (write_pictures(a) != 0)
      a->internal_error = 1;
    if (a->not_started > 0)
      fprintf(stderr, "asyncdl: %llu URL%s not started (interrupted)\n",
              (unsigned long long)a->not_started,
              a->not_started == 1 ? "" : "s");
    if (a->signal_seen)
      code = 128 + a->signal_seen;
    else if (jrc != 0 || a->internal_error)
      code = CLI_EXIT_INTERNAL;
    else if (a->list_error)
      code = CLI_EXIT_USAGE;
    else if (a->failures > 0)
      code = CLI_EXIT_FAILED;
    if (jrc != 0)
      fprintf(stderr, "asyncdl: --json: cannot write '%s': %s\n",
              a->o.json_path, strerror(-jrc));
    if (fflush(stderr) != 0 || ferror(stderr))
      code = CLI_EXIT_INTERNAL; /* nowhere left to say so */
  }
  if (a->json != NULL)
    cli_json_discard(a->json);
  if (a->fixture != NULL)
    fixture_close(a->fixture, on_fixture_closed, NULL);
  uv_run(&a->loop, UV_RUN_DEFAULT);
  if (uv_loop_close(&a->loop) != 0)
    fprintf(stderr, "asyncdl: internal: handles left open at exit\n");
  cli_list_close(a->list);
  cli_trace_free(&a->trace);
  free(a->results);
  free(a->insights);
  free(a->fsums);
  cli_present_free(&a->present);
  cli_opts_free(&a->o);
  free(a->base_url);
  adl_library_shutdown();
  return code;
}
