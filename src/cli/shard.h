/* Sharding a list across machines: which of N shards a URL belongs to,
 * and which shard this process is, from --shard=I/N or from the job
 * engine's environment (Slurm job arrays, Kubernetes Indexed Jobs).
 * Pure: no I/O, no global state; the environment is read through a
 * callback so the tests can hand in their own.
 *
 * The assignment is FNV-1a 64 of a key, modulo N (docs/sharding.md):
 *   --shard-by=url   the URL, but a URL on the base URL's origin is hashed
 *                    without that origin ("/api/v2/pokemon/pikachu"), so
 *                    that the default base, a mirror and --local's random
 *                    port shard a list alike;
 *   --shard-by=host  the origin, "scheme://host:port" (scheme and host in
 *                    lower case, the default port written out), and "" for
 *                    the base URL's origin: one origin, one shard.
 * Shards are numbered from 0, like Slurm's array indexes and Kubernetes'
 * completion indexes. */
#ifndef CLI_SHARD_H
#define CLI_SHARD_H

#include <stddef.h>
#include <stdint.h>

typedef enum { CLI_SHARD_BY_URL = 0, CLI_SHARD_BY_HOST = 1 } cli_shard_by_t;

#define CLI_SHARD_MAX 1000000u /* N, the number of shards, at most */
#define CLI_ORIGIN_MAX 300     /* bytes of an origin, NUL included */

/* Where this process's shard came from. */
typedef enum {
  CLI_SHARD_NONE = 0, /* not sharded: the whole list */
  CLI_SHARD_OPTION,   /* --shard=I/N */
  CLI_SHARD_SLURM,    /* SLURM_ARRAY_TASK_ID and _COUNT (_MIN, _STEP) */
  CLI_SHARD_K8S       /* JOB_COMPLETION_INDEX with --shards=N */
} cli_shard_source_t;

typedef struct cli_shard_s {
  cli_shard_source_t source;
  unsigned index, count; /* 0 <= index < count; 0/1 when NONE */
  cli_shard_by_t by;
  char origin[CLI_ORIGIN_MAX]; /* the base URL's origin, "" if unknown */
  char why[160]; /* for the banner: "SLURM_ARRAY_TASK_ID=5 ..." */
} cli_shard_t;

/** FNV-1a 64 of the len bytes at p. */
uint64_t cli_fnv1a64(const void *p, size_t len);

/** Parses "I/N" (digits only, 0 <= I < N <= CLI_SHARD_MAX). Returns 0 or
 * -1 with the reason in why. */
int cli_shard_parse(const char *s, unsigned *index, unsigned *count,
                    char *why, size_t whylen);

/** Parses "url" or "host". Returns 0 or -1. */
int cli_shard_by_parse(const char *s, cli_shard_by_t *by);
const char *cli_shard_by_name(cli_shard_by_t by);
const char *cli_shard_source_name(cli_shard_source_t s);

/** Writes url's origin, "scheme://host:port" normalised as above, into out.
 * Returns 0, or -1 when url has no "scheme://host" or out is too small. */
int cli_shard_origin(const char *url, char *out, size_t cap);

/** The key of url hashed for by, given the base origin (may be ""): a
 * pointer into url or a static "" plus its length in *len. Into buf
 * (cap >= CLI_ORIGIN_MAX) when the normalised origin is the key. */
const char *cli_shard_key(const char *url, cli_shard_by_t by,
                          const char *base_origin, char *buf, size_t cap,
                          size_t *len);

/** The shard (0..count-1) that url falls in. */
unsigned cli_shard_of(const char *url, cli_shard_by_t by,
                      const char *base_origin, unsigned count);

/** Mixes the hash of one URL's key into a list digest: the sum of
 * finalised FNV-1a 64 hashes of the url keys, so that it does not depend on
 * order and the union of the shards' digests adds up to the whole list's. */
uint64_t cli_shard_digest_add(uint64_t digest, const char *url,
                              const char *base_origin);

typedef const char *(*cli_getenv_fn)(const char *name, void *ctx);

/** Decides this process's shard: index and count from --shard (given: 1),
 * else from the environment, read through getenv_fn:
 *   SLURM_ARRAY_TASK_ID + SLURM_ARRAY_TASK_COUNT: index =
 *     (ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP (MIN 0 and STEP
 *     1 when absent), checked against SLURM_ARRAY_TASK_MAX; with --shards=N,
 *     N must equal the count;
 *   JOB_COMPLETION_INDEX with shards (--shards=N > 0): index = the value.
 * shards alone, without either variable, is an error: nothing says which
 * shard this is. Returns 0 (s->source NONE when nothing shards the run) or
 * -1 with a one-line message naming the variable or option in err. */
int cli_shard_resolve(cli_shard_t *s, int given, unsigned index,
                      unsigned count, unsigned shards, cli_shard_by_t by,
                      cli_getenv_fn getenv_fn, void *ctx, char *err,
                      size_t errlen);

/** The report's "shard" object: index, count, by, source, from (s->why),
 * urls (this shard's), list_urls, list_digest (16 hex digits) and
 * base_origin. Returns 0, or -1 when cap is too small. */
int cli_shard_json(const cli_shard_t *s, uint64_t urls, uint64_t list_urls,
                   uint64_t digest, char *out, size_t cap);

/** Whether url falls in s's shard (always, when s->source is NONE). */
int cli_shard_has(const cli_shard_t *s, const char *url);

#endif /* CLI_SHARD_H */
