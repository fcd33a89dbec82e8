/* Reruns without waste: --skip-existing and --update.
 *
 * Which files were "there already" is decided once per list item, when the
 * first run pulls it, and remembered (one bit per item) for the later runs
 * of --strategy=all and --repeat: every strategy then does the same work,
 * although the first run has written the files meanwhile.
 *
 * --update keeps the validators of each file in a sidecar,
 * DIR/.asyncdl/NAME.json.validators, a small text file:
 *
 *   asyncdl-validators 1
 *   size 10243
 *   mtime 1764476000.123456789
 *   etag "5f1b-2a03"
 *   last-modified Sun, 30 Nov 2025 04:00:00 GMT
 *
 * (etag and last-modified each optional, one at least). It is written
 * under a temporary name and renamed into place after a successful
 * download whose response had an ETag or a Last-Modified, and removed after
 * one that had neither. Its size and mtime are the file's when it was
 * written: a file changed since (edited, rewritten, replaced) no longer
 * matches and is downloaded in full, as is one whose sidecar is missing or
 * garbled. Hidden in one directory so that the documents stay alone in
 * DIR, and named after the file so that they never collide (every
 * document's name ends in .json). */
#ifndef CLI_RERUN_H
#define CLI_RERUN_H

#include <stddef.h>
#include <stdint.h>

#define CLI_SIDECAR_DIR ".asyncdl"
#define CLI_SIDECAR_SUFFIX ".validators"
#define CLI_VALIDATOR_MAX 512 /* bytes of an ETag or a date, NUL included */

typedef struct cli_validators_s {
  char etag[CLI_VALIDATOR_MAX];          /* "" = none */
  char last_modified[CLI_VALIDATOR_MAX]; /* "" = none */
  uint64_t size;                         /* the file's, when written */
  int64_t mtime_s;
  long mtime_ns;
} cli_validators_t;

/** The sidecar path of file ("DIR/NAME.json" -> "DIR/.asyncdl/NAME.json
 * .validators"), malloc'd; NULL when out of memory. */
char *cli_sidecar_path(const char *file);

/** Formats v as the sidecar text into buf. Returns the length, or -1 when
 * it does not fit or a validator is unusable (empty both, or holding a
 * control character). */
int cli_validators_format(const cli_validators_t *v, char *buf, size_t cap);

/** Parses sidecar text (len bytes, not necessarily terminated) into *v.
 * Returns 0, or -1 for anything but the exact format above (a garbled
 * sidecar means a normal download). */
int cli_validators_parse(const char *text, size_t len, cli_validators_t *v);

/** A validator as a server sent it, usable in a request header: 1..511
 * bytes, no control characters. */
int cli_validator_ok(const char *s);

/** Reads file's sidecar into *v when it parses and still matches file (size
 * and mtime). Returns 1 when usable, 0 otherwise (missing, garbled, stale,
 * file gone). */
int cli_validators_load(const char *file, cli_validators_t *v);

/** Records etag and last_modified (either may be NULL or unusable; both:
 * the sidecar is removed) for file, as it is now on disk: written to a new
 * temporary name and renamed, so a reader sees the old sidecar or the new
 * one, never a part. Returns 0 or -errno. */
int cli_validators_save(const char *file, const char *etag,
                        const char *last_modified);

/** The request lines of a revalidation: user's (NULL-terminated, or
 * NULL) then "If-None-Match: ETAG" and "If-Modified-Since: DATE" for the
 * validators v holds. Returns a malloc'd NULL-terminated array, strings
 * inside the same block (one free()), or NULL when out of memory. */
const char **cli_conditional_headers(const char *const *user,
                                     const cli_validators_t *v);

/* Which items had their file at the start (see above). */
typedef struct cli_present_s {
  unsigned char *bits;
  uint64_t decided; /* items 0..decided-1 are known */
  size_t cap;       /* bytes */
} cli_present_t;

/** Whether item n (0-based, in list order) was there: decided by
 * exists(path) when n is asked for the first time (n == decided), from the
 * bits after. Returns 1 or 0, or -1 when out of memory. */
int cli_present_get(cli_present_t *p, uint64_t n, const char *path,
                    int (*exists)(const char *path));

void cli_present_free(cli_present_t *p);

/** 1 when path is a regular file (following links), else 0. */
int cli_file_exists(const char *path);

#endif /* CLI_RERUN_H */
