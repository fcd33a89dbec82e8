/* The header check of test-header.c, compiled as C++: asyncdl.h must
 * work for C++ hosts too (extern "C", no C-only constructs). */
#include "test-header.c"
