/* Error codes: uv twins are equal, every code has a distinct name and a
 * message, and unknown codes fall back to libuv's text. */
#include "adl-test.h"
#include "asyncdl.h"

int main(void) {
  ASSERT_EQ(ADL_ENOMEM, UV_ENOMEM);
  ASSERT_EQ(ADL_ECANCELED, UV_ECANCELED);
  ASSERT_EQ(ADL_ETIMEDOUT, UV_ETIMEDOUT);
  ASSERT_EQ(ADL_ECONNREFUSED, UV_ECONNREFUSED);
  ASSERT_STR_EQ(adl_err_name(ADL_EHTTP), "EHTTP");
  ASSERT_STR_EQ(adl_err_name(0), "OK");
  ASSERT_STR_EQ(adl_strerror(ADL_ENOTFOUND), "host name not found");
  ASSERT_STR_EQ(adl_strerror(UV_EPIPE), uv_strerror(UV_EPIPE));
  ASSERT_STR_EQ(adl_err_name(UV_EPIPE), "EPIPE");
  static const int codes[] = {
#define XX(name, val, msg) ADL_##name,
      ADL_ERRNO_MAP(XX)
#undef XX
  };
  size_t n = sizeof(codes) / sizeof(codes[0]);
  for (size_t i = 0; i < n; i++)
    for (size_t j = i + 1; j < n; j++) {
      ASSERT_NE(codes[i], codes[j]);
      ASSERT(strcmp(adl_err_name(codes[i]), adl_err_name(codes[j])) != 0);
    }
  ASSERT(strstr(adl_version_string(), ADL_VERSION_STRING) != NULL);
  ASSERT(strstr(adl_version_string(), "libcurl/") != NULL);
  printf("test-err: passed\n");
  return 0;
}
