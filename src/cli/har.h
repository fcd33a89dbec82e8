/* --har=FILE: every request as an HTTP Archive 1.2 entry (log.creator
 * asyncdl, one page per run, entries with request, response and timings:
 * blocked, dns, connect, ssl, send, wait, receive from the engine), so a
 * run opens in browser developer tools and HAR viewers. */
#ifndef CLI_HAR_H
#define CLI_HAR_H

#include "trace.h"

#include <stddef.h>

/* Writes the archive to path (a temporary name, then renamed). Returns 0,
 * or a negative errno with a one-line reason in err. */
int cli_har_write(const cli_trace_t *t, const char *path, char *err,
                  size_t errlen);

#endif
