/* Network options of a run (see netopts.h). */
#include "netopts.h"

#include "url.h"

#include <stdio.h>
#include <string.h>

#define DEFAULT_STREAMS 100u /* the library's, adl_options_init */

void cli_netopts_apply(const cli_opts_t *o, adl_strategy_t st,
                       adl_options_t *ao) {
  if (o->max_streams != 0)
    ao->max_streams = o->max_streams;
  ao->h2_prior_knowledge =
      o->h2_prior_knowledge || (o->local && st == ADL_STRATEGY_MULTIPLEX);
  ao->no_compress = o->no_compress;
  ao->proxy = o->proxy;
  ao->proxy_env = o->proxy_env;
  if (o->user_agent != NULL)
    ao->user_agent = o->user_agent;
}

unsigned cli_netopts_k(const cli_opts_t *o, adl_strategy_t st) {
  return st == ADL_STRATEGY_PARALLEL || st == ADL_STRATEGY_MULTIPLEX
             ? o->connections
             : 1;
}

unsigned cli_netopts_inflight(const cli_opts_t *o, adl_strategy_t st) {
  unsigned streams = o->max_streams != 0 ? o->max_streams : DEFAULT_STREAMS;
  if (st == ADL_STRATEGY_MULTIPLEX)
    return o->connections * streams;
  return cli_netopts_k(o, st);
}

/* The variables curl honours (never HTTP_PROXY: CGI sets it from a request
 * header, "httpoxy"). */
static const char *const proxy_vars[] = {
    "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
    "ALL_PROXY",  "no_proxy",    "NO_PROXY"};

/* Appends text to buf at *len, cut at cap. */
static void add(char *buf, size_t cap, size_t *len, const char *text) {
  int n = snprintf(buf + *len, cap - *len, "%s", text);
  if (n > 0)
    *len += (size_t)n < cap - *len ? (size_t)n : cap - *len - 1;
}

size_t cli_proxy_describe(const cli_opts_t *o, cli_getenv_fn getenv_fn,
                          void *ctx, char *buf, size_t cap) {
  char m[512], list[1024];
  size_t len = 0, set = 0;
  int n;
  if (cap == 0)
    return 0;
  buf[0] = list[0] = '\0';
  if (o->proxy != NULL) {
    cli_mask_credentials(o->proxy, m, sizeof(m));
    n = snprintf(buf, cap,
                 "proxy: %s (--proxy): the connections counted are to the "
                 "proxy",
                 m);
    return n > 0 ? ((size_t)n < cap ? (size_t)n : cap - 1) : 0;
  }
  for (size_t i = 0; i < sizeof(proxy_vars) / sizeof(proxy_vars[0]); i++) {
    const char *v = getenv_fn(proxy_vars[i], ctx);
    if (v == NULL || v[0] == '\0')
      continue;
    add(list, sizeof(list), &len, set++ == 0 ? "" : ", ");
    add(list, sizeof(list), &len, proxy_vars[i]);
    if (o->proxy_env) {
      cli_mask_credentials(v, m, sizeof(m));
      add(list, sizeof(list), &len, "=");
      add(list, sizeof(list), &len, m);
    }
  }
  if (o->proxy_env && set == 0)
    n = snprintf(buf, cap,
                 "--proxy=env: no proxy variable is set: connecting directly");
  else if (o->proxy_env)
    n = snprintf(buf, cap, "proxies from the environment (--proxy=env): %s",
                 list);
  else if (set > 0)
    n = snprintf(buf, cap,
                 "note: %s %s set but ignored: the connections go to the "
                 "server (--proxy=env honours %s)",
                 list, set == 1 ? "is" : "are", set == 1 ? "it" : "them");
  else
    n = 0;
  return n > 0 ? ((size_t)n < cap ? (size_t)n : cap - 1) : 0;
}
