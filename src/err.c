/* Error names and messages, version string and process-wide setup.
 * The X-macro in asyncdl.h is the single source of codes and texts. */
#include "asyncdl.h"

#include <ares.h>
#include <curl/curl.h>
#include <stdio.h>

const char *adl_strerror(int err) {
  switch (err) {
#define ADL_XX_(name, val, msg)                                                \
  case ADL_##name:                                                             \
    return msg;
    ADL_ERRNO_MAP(ADL_XX_)
#undef ADL_XX_
  default:
    break;
  }
  /* Codes outside the map are plain libuv errors from the host's world. */
  return err < 0 ? uv_strerror(err) : "unknown error";
}

const char *adl_err_name(int err) {
  switch (err) {
#define ADL_XX_(name, val, msg)                                                \
  case ADL_##name:                                                             \
    return #name;
    ADL_ERRNO_MAP(ADL_XX_)
#undef ADL_XX_
  default:
    break;
  }
  return err < 0 ? uv_err_name(err) : "UNKNOWN";
}

const char *adl_version_string(void) {
  /* Built once; the inputs are constant for the life of the process, so the
   * race of two first calls would write identical bytes. */
  static char buf[160];
  if (buf[0] == '\0') {
    const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
    snprintf(buf, sizeof(buf), "%s (libcurl/%s c-ares/%s libuv/%s)",
             ADL_VERSION_STRING, cv ? cv->version : "?", ares_version(NULL),
             uv_version_string());
  }
  return buf;
}

int adl_library_init(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
    return ADL_ENOMEM;
  if (ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS) {
    curl_global_cleanup();
    return ADL_ENOMEM;
  }
  return 0;
}

void adl_library_shutdown(void) {
  ares_library_cleanup();
  curl_global_cleanup();
}
