/* fuzz_require.h - how every C harness reports a violated property: the harness's name and the
 * property on stderr, then abort(), which libFuzzer reports as a crash.
 *   #define FUZZ_HARNESS "fuzz_args"
 *   #include "fuzz_require.h"
 */
#ifndef FUZZ_REQUIRE_H
#define FUZZ_REQUIRE_H

#include <stdio.h>
#include <stdlib.h>

#ifndef FUZZ_HARNESS
#error "define FUZZ_HARNESS (the harness's name, for its messages) before including fuzz_require.h"
#endif

static void require(int ok, const char *what) {
    if (!ok) {
        fprintf(stderr, FUZZ_HARNESS ": property violated: %s\n", what);
        abort();
    }
}

#endif
