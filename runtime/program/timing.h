/* timing.h - a monotonic clock in milliseconds, for prefill/decode statistics.
 * Needs clock_gettime: define _POSIX_C_SOURCE >= 199309L before the first #include. */
#ifndef EDGEC_TIMING_H
#define EDGEC_TIMING_H

#include <time.h>

static inline double edgec_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

#endif
