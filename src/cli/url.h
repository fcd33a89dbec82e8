/* String rules shared by the list reader and the option parser: which URLs
 * and names are accepted, how a name becomes a file name, and how untrusted
 * text is quoted in a one-line message. Pure functions, no I/O. */
#ifndef CLI_URL_H
#define CLI_URL_H

#include <stddef.h>

#define CLI_NAME_MAX 200 /* bytes of a name usable as a file name */

/** Checks that url is an absolute http:// or https:// URL with a host and
 * no spaces, control or non-ASCII characters. Returns 0, or -1 with the
 * reason (which quotes the URL) in why. Shared with --base-url. */
int cli_url_check(const char *url, char *why, size_t whylen);

/** Checks a list name: one URL path segment (RFC 3986 pchar, %XX escapes
 * well-formed), not "." or "..". Returns 0, or -1 with the reason in why. */
int cli_name_check(const char *name, char *why, size_t whylen);

/** The last non-empty path segment of a URL accepted by cli_url_check, or
 * "index" when it has none; malloc'd, NULL when out of memory. */
char *cli_url_name(const char *url);

/** Joins base ("https://h/api/v2/pokemon/" with or without the trailing
 * slash) and name into a malloc'd *out. Returns 0, -EINVAL or -ENOMEM. */
int cli_url_join(const char *base, const char *name, char **out);

/** Writes "<name>.json" into out. Returns 0, -EINVAL when name cannot be a
 * plain file name in a directory (see cli_filename_problem), or -ERANGE when
 * cap is too small. */
int cli_safe_filename(const char *name, char *out, size_t cap);

/** Why name cannot be a file name ("is empty", "is longer than 200 bytes",
 * "contains a '/' or '\\', possibly %XX-escaped", control characters, "." or
 * ".."), or NULL when it can. Static text. */
const char *cli_filename_problem(const char *name);

/** Length (1..4) of the well-formed UTF-8 sequence at s (n bytes
 * available), or 0 when it is invalid or truncated. Rejects overlong forms,
 * surrogates and code points above U+10FFFF. */
size_t cli_utf8_len(const unsigned char *s, size_t n);

/** Copies the len bytes at s into out (cap >= 8) for a one-line message:
 * control characters and bytes that are not UTF-8 become \xHH, a backslash
 * is doubled, and what does not fit in cap is cut at a character boundary
 * and marked "...". */
void cli_quote(char *out, size_t cap, const char *s, size_t len);

/* ---- credentials (user:password@ in a URL) ----------------------------
 * Never printed: every message, banner, report, archive and picture shows a
 * URL through these. The userinfo "user:password@" becomes "user:***@",
 * and "token@" (no colon: the whole userinfo may be a secret) "***@". */

/** Writes s with every "://" authority's userinfo masked as above into out
 * (terminated when cap > 0; out may be NULL when cap is 0) and returns the
 * length of the whole masked text, like snprintf. Works on free text too:
 * an authority ends at '/', '?', '#', white space, a quote, '<' or '>'. */
size_t cli_mask_credentials(const char *s, char *out, size_t cap);

/** 1 when s holds a userinfo that cli_mask_credentials would hide. */
int cli_has_credentials(const char *s);

/** A malloc'd masked copy of s (a plain copy when there is nothing to
 * hide); NULL for NULL or out of memory. */
char *cli_mask_dup(const char *s);

/** s itself when it holds no credentials, else buf with the masked text
 * (cut to cap). For messages. */
const char *cli_mask_buf(const char *s, char *buf, size_t cap);

/** Checks a --proxy URL: SCHEME://[USER[:PASSWORD]@]HOST[:PORT][/] with
 * SCHEME http, https, socks4, socks4a, socks5 or socks5h. Returns 0, or -1
 * with the reason (the URL masked) in why. */
int cli_proxy_check(const char *url, char *why, size_t whylen);

/** Formats the message into err (when err and errlen allow) and returns
 * rc: the one error-reporting helper of the CLI's input modules. */
__attribute__((format(printf, 4, 5))) int
cli_fail(int rc, char *err, size_t errlen, const char *fmt, ...);

#endif /* CLI_URL_H */
