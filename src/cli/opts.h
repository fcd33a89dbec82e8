/* Command-line options of the asyncdl tool: defaults, strict parsing and the
 * --help text. Pure: no exit(), no I/O besides cli_usage, no static state,
 * so the parser can be run any number of times (the tests do). */
#ifndef CLI_OPTS_H
#define CLI_OPTS_H

#include "asyncdl.h"
#include "shard.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_DEFAULT_BASE_URL "https://pokeapi.co/api/v2/pokemon/"
#define CLI_DEFAULT_CONNECTIONS 6u
#define CLI_DEFAULT_REPEAT 1u
#define CLI_DEFAULT_TIMEOUT_MS 30000u
#define CLI_DEFAULT_CONNECT_TIMEOUT_MS 10000u
#define CLI_DEFAULT_RTT_MS 20u
#define CLI_DEFAULT_RETRIES 2u
#define CLI_DEFAULT_MAX_REDIRECTS 5u

/* Exit statuses, shared by the tool and its --help text. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_FAILED 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_INTERNAL 3
#define CLI_EXIT_INTERRUPTED 130

#define CLI_MAX_HEADERS 64u /* -H options, at most */

typedef struct cli_opts_s {
  int strategy_all;            /* --strategy=all (the default) */
  adl_strategy_t strategy;     /* the one strategy when !strategy_all */
  unsigned connections;        /* --connections=K, 1..10000 */
  unsigned per_host;           /* --per-host=N, 0..10000, 0 = K */
  const char *base_url;        /* --base-url, http(s), no query/fragment */
  const char *list_path;       /* --list=FILE or "-"; NULL = built-in 151 */
  const char *out_dir;         /* --out=DIR; NULL = discard bodies */
  unsigned repeat;             /* --repeat=R, 1..1000 */
  const char *json_path;       /* --json=FILE or "-" */
  const char *waterfall_path;  /* --waterfall=FILE.svg */
  const char *har_path;        /* --har=FILE */
  int progress;                /* --progress 1, --no-progress 0, auto -1:
                                  a live line when stderr is a terminal */
  const char *dns_server;      /* --dns-server, validated; NULL = system */
  uint64_t timeout_ms;         /* --timeout=S, 0 < S <= 86400 */
  uint64_t connect_timeout_ms; /* --connect-timeout=S, same range */
  int local;                   /* --local: serve from the fixture server */
  unsigned rtt_ms;             /* --rtt=MS, 0..10000, requires --local */
  const char *cacert;          /* --cacert=FILE */
  int insecure;                /* -k, --insecure */
  int http2;                   /* --http2: offer HTTP/2 over TLS */
  /* Multiplexing, compression, request options and reruns (issue 10). */
  unsigned max_streams;        /* --streams=N, 1..1000; 0 = the library's
                                  default (100) */
  int h2_prior_knowledge;      /* --http2-prior-knowledge (plain http) */
  int no_compress;             /* --no-compress */
  const char *user_agent;      /* -A, --user-agent; NULL = asyncdl/VERSION */
  const char *proxy;           /* --proxy=URL, checked; NULL = none */
  int proxy_env;               /* --proxy=env: the environment's proxies */
  int skip_existing;           /* --skip-existing (needs --out) */
  int update;                  /* --update (needs --out) */
  unsigned nheaders;           /* -H, --header: "Name: value" lines */
  const char *headers[CLI_MAX_HEADERS + 1]; /* NULL-terminated */
  const char **operands;       /* URLs or names given as arguments:
                                  malloc'd (cli_opts_free), into argv */
  unsigned noperands;
  unsigned retries;            /* --retries=N, 0..100 */
  uint64_t max_size;           /* --max-size=BYTES[K|M|G], 0 = unlimited */
  unsigned max_redirects;      /* --max-redirects=N, 0..100 */
  int quiet;                   /* -q, --quiet: no progress lines */
  int shard_given;             /* --shard=I/N: run shard I (0-based) of N */
  unsigned shard_index, shard_count;
  unsigned shards;             /* --shards=N: index from the environment */
  cli_shard_by_t shard_by;     /* --shard-by=url|host (default: url) */
  int help, version;           /* -h/--help, -V/--version */
} cli_opts_t;

/** Fills *o with the defaults listed in cli_usage. */
void cli_opts_init(cli_opts_t *o);

/** Parses argv[1..argc-1] into *o (which should come from cli_opts_init).
 * String fields point into argv. Returns 0, or -1 for a usage error with a
 * one-line message (no trailing newline, no program name) in err, e.g.
 * "--connections: '0' is not an integer in 1..10000". -h and -V stop the
 * parse at once and return 0 with help/version set, whatever follows.
 * Long options may be abbreviated while unambiguous ("--conn" is not).
 * Operands (after "--" too) are URLs or names to fetch, collected in
 * o->operands in order; options may follow them, and argv is never
 * reordered. getopt_long's
 * globals are reset on entry (optind = 0) and opterr is restored on return,
 * so the parser can be called any number of times. */
int cli_opts_parse(cli_opts_t *o, int argc, char **argv, char *err,
                   size_t errlen);

/** Frees what cli_opts_parse allocated (the operand list); the options
 * stay readable except operands. Safe on any parsed or initialised o. */
void cli_opts_free(cli_opts_t *o);

/** Prints the full --help text. */
void cli_usage(FILE *f);

#endif /* CLI_OPTS_H */
