/* Where the tool writes: --out made ready, the open-file limit fitted to
 * the connections, and the report paths (--json, --waterfall, --har)
 * checked before any download, so nothing is found wanting afterwards. */
#ifndef CLI_OUTPATHS_H
#define CLI_OUTPATHS_H

#include "opts.h"

#include <stddef.h>

/* Makes dir (one level) or checks it is a writable directory; 0, or -1
 * after saying why on stderr. */
int cli_prepare_out_dir(const char *dir);

/* Each connection is a file descriptor (two with --local, whose server end
 * lives in this process too): raises the soft limit as far as needed and
 * allowed; past the hard limit, lowers o->connections and says so. */
void cli_fit_fd_limit(cli_opts_t *o);

/* A file written after the runs (--waterfall, --har): its directory must
 * be writable now. 0, or -1 with err set. */
int cli_check_output_dir(const char *opt, const char *path, char *err,
                         size_t errlen);

/* A report, picture or archive is written under a name no other output of
 * the run can take: not the list, not inside --out, not another
 * report's. 0, or -1 with err set. */
int cli_check_report_path(const char *opt, const char *path,
                          const cli_opts_t *o, char *err, size_t errlen);

#endif
