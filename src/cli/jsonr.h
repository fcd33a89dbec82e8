/* A small, strict JSON reader for the tool's own reports (asyncdl merge):
 * RFC 8259 text in, a tree of values out, each value keeping where it was in
 * the text so that it can be copied verbatim. Strict: no comments, no
 * trailing commas, no NaN, valid UTF-8 only, at most 64 levels deep, no
 * "\u0000" (strings come back as C strings). The whole document lives in
 * memory: about 24 bytes per value on top of the text. Pure: no I/O. */
#ifndef CLI_JSONR_H
#define CLI_JSONR_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  CLI_JNONE = 0, /* no such value (cli_jget on a missing key) */
  CLI_JNULL,
  CLI_JFALSE,
  CLI_JTRUE,
  CLI_JNUM,
  CLI_JSTR,
  CLI_JARR,
  CLI_JOBJ
} cli_jtype_t;

typedef struct cli_jdoc_s cli_jdoc_t;
typedef uint32_t cli_jv_t; /* a value of a document; 0 = none */

/** Parses len bytes at text, which must stay valid and unchanged while the
 * document is used. Returns the document, or NULL with "line L, column C:
 * reason" (or "out of memory") in err. */
cli_jdoc_t *cli_jparse(const char *text, size_t len, char *err, size_t errlen);
void cli_jfree(cli_jdoc_t *d);

cli_jv_t cli_jroot(const cli_jdoc_t *d);
cli_jtype_t cli_jtype(const cli_jdoc_t *d, cli_jv_t v);
/** The member key of object o, the first one when repeated; 0 if o is not
 * an object or has none. */
cli_jv_t cli_jget(const cli_jdoc_t *d, cli_jv_t o, const char *key);
/** First element or member of an array or object; then the next one. */
cli_jv_t cli_jfirst(const cli_jdoc_t *d, cli_jv_t v);
cli_jv_t cli_jnext(const cli_jdoc_t *d, cli_jv_t v);
/** Elements of an array or members of an object; 0 for anything else. */
size_t cli_jlen(const cli_jdoc_t *d, cli_jv_t v);
/** The decoded string, NULL if v is not a string. */
const char *cli_jstr(const cli_jdoc_t *d, cli_jv_t v);
/** A non-negative integer written without fraction or exponent ("12",
 * not "12.0" or "1e1"), at most UINT64_MAX. Returns 0 or -1. */
int cli_ju64(const cli_jdoc_t *d, cli_jv_t v, uint64_t *out);
/** Milliseconds with at most 3 decimals (as the reports write them) as
 * exact microseconds: "12.345" -> 12345. Returns 0 or -1. */
int cli_jms_us(const cli_jdoc_t *d, cli_jv_t v, uint64_t *us);
/** Where v is in the text, as written. */
const char *cli_jraw(const cli_jdoc_t *d, cli_jv_t v, size_t *len);
/** "line L, column C" of v in the text, for messages. */
void cli_jwhere(const cli_jdoc_t *d, cli_jv_t v, char *out, size_t cap);

#endif /* CLI_JSONR_H */
