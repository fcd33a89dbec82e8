/* The progress line's text (see progress.h). Pure. */
#include "progress.h"

#include <stdio.h>

#define BOLD "\033[1m"
#define RED "\033[31m"
#define RESET "\033[0m"

/* Seconds with a precision that suits their size. */
static void fmt_secs(char *out, size_t cap, double s) {
  if (s < 10)
    snprintf(out, cap, "%.2f s", s);
  else if (s < 600)
    snprintf(out, cap, "%.0f s", s);
  else
    snprintf(out, cap, "%.0f min", s / 60);
}

size_t cli_progress_format(char *buf, size_t cap, const cli_progress_t *p,
                           int color) {
  double secs = (double)p->elapsed_us / 1e6;
  double rate = secs > 0 ? (double)p->done / secs : 0;
  char el[32], eta[48] = "";
  fmt_secs(el, sizeof(el), secs);
  if (p->done > 0 && p->done < p->total && rate > 0) {
    char t[32];
    fmt_secs(t, sizeof(t), (double)(p->total - p->done) / rate);
    snprintf(eta, sizeof(eta), "  ETA %s", t);
  }
  char failed[64] = "";
  if (p->failed > 0)
    snprintf(failed, sizeof(failed), "  %s%llu failed%s", color ? RED : "",
             (unsigned long long)p->failed, color ? RESET : "");
  int n = snprintf(buf, cap,
                   "%s%-8s%s  run %u/%u  %llu/%llu%s  %.1f MB  %.0f req/s  "
                   "%s%s",
                   color ? BOLD : "", p->strategy, color ? RESET : "", p->run,
                   p->runs, (unsigned long long)p->done,
                   (unsigned long long)p->total, failed,
                   (double)p->bytes / 1e6, rate, el, eta);
  if (n < 0) {
    buf[0] = '\0';
    return 0;
  }
  return (size_t)n < cap ? (size_t)n : cap - 1;
}
