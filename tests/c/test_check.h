/* test_check.h - pass/fail counting shared by every C unit test: test_sampler.c and test_threadpool.c
 * include it, the kernel tests through test_blocks.h.
 *   CHECK(x == 3, "x should be 3, got %d", x);
 *   ...
 *   return check_summary();
 */
#ifndef TEST_CHECK_H
#define TEST_CHECK_H

#include <stdio.h>

static int n_passed, n_failed;

/* Counts one check; on failure prints where it is and the printf-style message. */
#define CHECK(cond, ...)                                   \
    do {                                                   \
        if (cond) {                                        \
            n_passed++;                                    \
        } else {                                           \
            n_failed++;                                    \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);    \
            printf(__VA_ARGS__);                           \
            printf("\n");                                  \
        }                                                  \
    } while (0)

/* Prints "N passed, M failed" and gives main's exit status: 1 on any failure. */
static inline int check_summary(void)
{
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed != 0;
}

#endif
