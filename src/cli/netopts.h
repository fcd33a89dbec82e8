/* What a run asks of the network beyond the basics, from the command line:
 * the adl_options_t fields of issue 10 (multiplex streams, HTTP/2 prior
 * knowledge, compression, proxy, user agent), the in-flight caps of each
 * strategy, and the banner's proxy line. Pure: the environment is read
 * through a callback (shard.h's cli_getenv_fn). */
#ifndef CLI_NETOPTS_H
#define CLI_NETOPTS_H

#include "opts.h"
#include "shard.h"

#include <stddef.h>

/** Sets in *ao (from adl_options_init) the fields o decides for a run of
 * st: max_streams (when given), h2_prior_knowledge (--http2-prior-knowledge,
 * or --local for multiplex: the fixture speaks HTTP/2 on its port),
 * no_compress, proxy and proxy_env, user_agent. */
void cli_netopts_apply(const cli_opts_t *o, adl_strategy_t st,
                       adl_options_t *ao);

/** K as the report shows it: --connections for parallel and multiplex
 * (which caps the origins connected at once), 1 for serial and session. */
unsigned cli_netopts_k(const cli_opts_t *o, adl_strategy_t st);

/** Requests the client keeps in flight: 1, K, or K x streams (multiplex,
 * streams defaulting to 100 like the library). */
unsigned cli_netopts_inflight(const cli_opts_t *o, adl_strategy_t st);

/** The banner line about proxies (no "asyncdl: " prefix, no newline) into
 * buf, credentials masked: the --proxy in use, the variables --proxy=env
 * honours, or a note that proxy variables are set but ignored. Returns its
 * length, 0 when there is nothing to say. */
size_t cli_proxy_describe(const cli_opts_t *o, cli_getenv_fn getenv_fn,
                          void *ctx, char *buf, size_t cap);

#endif /* CLI_NETOPTS_H */
