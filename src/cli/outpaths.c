/* Output paths and limits: see outpaths.h. */
#include "outpaths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_prepare_out_dir(const char *dir) {
  struct stat sb;
  if (stat(dir, &sb) != 0) {
    if (errno != ENOENT || mkdir(dir, 0777) != 0) {
      fprintf(stderr, "asyncdl: --out: cannot create '%s': %s\n", dir,
              strerror(errno));
      return -1;
    }
  } else if (!S_ISDIR(sb.st_mode)) {
    fprintf(stderr, "asyncdl: --out: '%s' is not a directory\n", dir);
    return -1;
  }
  if (access(dir, W_OK | X_OK) != 0) {
    fprintf(stderr, "asyncdl: --out: '%s' is not writable: %s\n", dir,
            strerror(errno));
    return -1;
  }
  return 0;
}

void cli_fit_fd_limit(cli_opts_t *o) {
  unsigned per = o->local ? 2 : 1;
  rlim_t need = (rlim_t)o->connections * per + 64;
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= need)
    return;
  rlim_t old = rl.rlim_cur;
  rl.rlim_cur = need < rl.rlim_max ? need : rl.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
    rl.rlim_cur = old;
  if (rl.rlim_cur >= need)
    return;
  unsigned fit = rl.rlim_cur > 64 + per ? (unsigned)((rl.rlim_cur - 64) / per) : 1;
  fprintf(stderr,
          "asyncdl: warning: the open-file limit (%llu) allows %u "
          "connections, not %u: using %u\n",
          (unsigned long long)rl.rlim_cur, fit, o->connections, fit);
  o->connections = fit;
}

/* The directory a file of path goes in, malloc'd; NULL out of memory. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash == NULL ? strdup(".")
         : slash == path ? strdup("/")
                         : strndup(path, (size_t)(slash - path));
}

int cli_check_output_dir(const char *opt, const char *path, char *err,
                            size_t errlen) {
  if (path == NULL)
    return 0;
  char *dir = dir_of(path);
  if (dir == NULL) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = access(dir, W_OK | X_OK);
  if (rc != 0)
    snprintf(err, errlen, "%s: cannot write in '%.200s': %s", opt, dir,
             strerror(errno));
  free(dir);
  return rc != 0 ? -1 : 0;
}

static int same_file(const char *x, const char *y) {
  struct stat a, b;
  return stat(x, &a) == 0 && stat(y, &b) == 0 && a.st_dev == b.st_dev &&
         a.st_ino == b.st_ino;
}

int cli_check_report_path(const char *opt, const char *path,
                             const cli_opts_t *o, char *err, size_t errlen) {
  if (path == NULL || strcmp(path, "-") == 0)
    return 0;
  if (o->list_path != NULL && strcmp(o->list_path, "-") != 0 &&
      (strcmp(path, o->list_path) == 0 || same_file(path, o->list_path))) {
    snprintf(err, errlen, "%s: '%.300s' is the list itself", opt, path);
    return -1;
  }
  const char *outs[] = {o->json_path, o->waterfall_path, o->har_path};
  unsigned same = 0;
  for (unsigned i = 0; i < 3; i++)
    same += outs[i] != NULL && strcmp(outs[i], path) == 0;
  if (same > 1) {
    snprintf(err, errlen, "%s: '%.300s' is also another report", opt, path);
    return -1;
  }
  if (o->out_dir == NULL)
    return 0;
  char *dir = dir_of(path);
  int inside = dir != NULL && same_file(dir, o->out_dir);
  free(dir);
  if (inside) {
    snprintf(err, errlen,
             "%s: '%.300s' is inside --out '%.300s', where the documents "
             "are written",
             opt, path, o->out_dir);
    return -1;
  }
  return 0;
}
