/* The list of documents to download, read as a stream so that memory stays
 * flat however long the list is. A list line is either a full http(s) URL or
 * a pokemon name joined to the base URL; see cli_list_next for the rules.
 *
 * Errors come back as negative codes with a one-line message in err:
 *   CLI_LIST_EINPUT  bad input: a bad line, a missing or unreadable file
 *                    (the tool exits 2);
 *   CLI_LIST_ESYSTEM out of memory, I/O failure, no temp space (exit 3). */
#ifndef CLI_LIST_H
#define CLI_LIST_H

#include "url.h"

#include <stddef.h>

#define CLI_LIST_EINPUT (-1)
#define CLI_LIST_ESYSTEM (-2)

#define CLI_LIST_MAX_LINE 8192 /* bytes per line, terminator excluded */

typedef struct cli_list_s cli_list_t;

typedef struct cli_item_s {
  char *url;          /* absolute http(s) URL, malloc'd */
  char *name;         /* the name, or the URL's last non-empty path
                         segment ("index" when it has none), malloc'd */
  unsigned long line; /* 1-based line (built-in: position in the table) */
} cli_item_t;

/** Opens a list: path NULL = the 151 built-in names (the fixture's
 * table), "-" = stdin. Input that cannot be rewound (stdin, pipes, FIFOs)
 * is first copied to an unlinked temporary file in $TMPDIR (or /tmp).
 * base_url is copied. Returns 0 or CLI_LIST_E*; err names the file, e.g.
 * "names.txt: No such file or directory". */
int cli_list_open(cli_list_t **out, const char *path, const char *base_url,
                  char *err, size_t errlen);

/** As cli_list_open, but when args is not NULL the list is its nargs
 * strings, one per line ("<arguments>" in messages, line N = argument N)
 * and path is ignored. The strings are copied. */
int cli_list_open_args(cli_list_t **out, const char *path,
                       const char *const *args, size_t nargs,
                       const char *base_url, char *err, size_t errlen);

/** Reads the next item into *item (owned by the caller afterwards). Returns
 * 1 for an item, 0 at the end, or CLI_LIST_E* with err = "FILE:LINE: reason".
 * After a bad line the reader is positioned on the following line.
 *
 * Lines: a UTF-8 BOM on line 1, CR before LF and surrounding blanks are
 * dropped; blank lines and lines starting with '#' are skipped; a line
 * containing "://" is a URL, anything else a name. Rejected: invalid UTF-8,
 * control characters, lines over CLI_LIST_MAX_LINE bytes, schemes other than
 * http and https, URLs without a host or with spaces, names with characters
 * not allowed in a URL path segment, and the names "." and "..". */
int cli_list_next(cli_list_t *l, cli_item_t *item, char *err, size_t errlen);

/** Starts again from the first line. Returns 0 or CLI_LIST_E*. */
int cli_list_rewind(cli_list_t *l, char *err, size_t errlen);

/** Validates the whole list before any download, then rewinds. Returns the
 * number of items (0 for an empty list) or CLI_LIST_E* for the first error.
 * With need_files, every name must also give a safe file name (see
 * cli_safe_filename) and no two items may give the same one: "FILE:LINE:
 * 'x.json' also produced by line N". Only that check keeps memory
 * proportional to the list, and only until it returns. */
int cli_list_check(cli_list_t *l, int need_files, char *err, size_t errlen);

/** The display name used in messages: the path, "<stdin>" or "<built-in>". */
const char *cli_list_name(const cli_list_t *l);

void cli_list_close(cli_list_t *l);
/** Frees item's strings and zeroes it; safe on a zeroed item. */
void cli_item_free(cli_item_t *item);

#endif /* CLI_LIST_H */
