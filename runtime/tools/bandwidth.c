/* bandwidth.c - how fast can this machine stream memory? Sums a large buffer of
 * 64-bit words with N threads (each sums its own contiguous slice) and prints the
 * best of several passes in GB/s (1e9 bytes per second), the ceiling a decode step
 * that reads every weight once can reach. Used by `edgec bench`.
 *
 *   bandwidth [THREADS [MIB [PASSES]]]    defaults: 1 thread, 512 MiB, 5 passes
 *
 * Output: one line "bandwidth_gbs: X" on stdout. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_THREADS 256
#define BLOCK 64 /* words summed per inner loop: one 512-byte run */

typedef struct {
    const uint64_t *words;
    size_t n_words;
    uint64_t sum; /* returned so the compiler cannot drop the reads */
} slice;

typedef struct {
    slice slices[MAX_THREADS];
    int n_threads;
    pthread_barrier_t start, done;
    int passes_left;
} probe;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t sum_words(const uint64_t *w, size_t n) {
    uint64_t s = 0;
    size_t i = 0;
    /* a fixed-length inner loop: gcc -O2 and clang vectorise it into several independent sums */
    for (; i + BLOCK <= n; i += BLOCK) {
        uint64_t b = 0;
        for (int k = 0; k < BLOCK; k++) b += w[i + k];
        s += b;
    }
    for (; i < n; i++) s += w[i];
    return s;
}

typedef struct {
    probe *p;
    int index;
} worker_arg;

/* Worker threads 1..n-1: wait for the start of a pass, sum their slice, report done. */
static void *worker(void *arg) {
    worker_arg *a = arg;
    probe *p = a->p;
    slice *s = &p->slices[a->index];
    for (;;) {
        pthread_barrier_wait(&p->start);
        if (p->passes_left == 0) return NULL;
        s->sum += sum_words(s->words, s->n_words);
        pthread_barrier_wait(&p->done);
    }
}

static long parse_arg(const char *s, const char *what, long min, long max) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < min || v > max) {
        fprintf(stderr, "error: %s must be an integer in [%ld, %ld], got '%s'\n", what, min, max, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv) {
    int n_threads = argc > 1 ? (int)parse_arg(argv[1], "THREADS", 1, MAX_THREADS) : 1;
    size_t mib = argc > 2 ? (size_t)parse_arg(argv[2], "MIB", 1, 1 << 20) : 512;
    int passes = argc > 3 ? (int)parse_arg(argv[3], "PASSES", 1, 1000) : 5;
    size_t bytes = mib << 20;
    size_t n_words = bytes / sizeof(uint64_t);
    uint64_t *words = aligned_alloc(64, bytes);
    if (!words) {
        fprintf(stderr, "error: cannot allocate %zu MiB; pass a smaller MIB\n", mib);
        return 1;
    }
    memset(words, 1, bytes); /* touch every page so the passes measure reads, not page faults */

    static probe p;
    p.n_threads = n_threads;
    p.passes_left = passes;
    size_t per = (n_words / (size_t)n_threads + 7) / 8 * 8; /* 64-byte aligned slices */
    for (int t = 0; t < n_threads; t++) {
        size_t from = per * (size_t)t < n_words ? per * (size_t)t : n_words;
        size_t to = from + per < n_words ? from + per : n_words;
        p.slices[t] = (slice){words + from, to - from, 0};
    }
    pthread_barrier_init(&p.start, NULL, (unsigned)n_threads);
    pthread_barrier_init(&p.done, NULL, (unsigned)n_threads);
    static pthread_t threads[MAX_THREADS];
    static worker_arg args[MAX_THREADS];
    for (int t = 1; t < n_threads; t++) {
        args[t] = (worker_arg){&p, t};
        if (pthread_create(&threads[t], NULL, worker, &args[t]) != 0) {
            fprintf(stderr, "error: cannot start %d threads; pass fewer THREADS\n", n_threads);
            return 1;
        }
    }

    double best = 0.0;
    for (int pass = 0; pass < passes; pass++) {
        double t0 = now_s();
        pthread_barrier_wait(&p.start);
        p.slices[0].sum += sum_words(p.slices[0].words, p.slices[0].n_words);
        pthread_barrier_wait(&p.done);
        double dt = now_s() - t0;
        double gbs = (double)(n_words * sizeof(uint64_t)) / dt * 1e-9;
        if (gbs > best) best = gbs;
    }
    p.passes_left = 0; /* written before the barrier, so the workers see it after */
    pthread_barrier_wait(&p.start);
    uint64_t total = 0;
    for (int t = 1; t < n_threads; t++) pthread_join(threads[t], NULL);
    for (int t = 0; t < n_threads; t++) total += p.slices[t].sum;
    pthread_barrier_destroy(&p.start);
    pthread_barrier_destroy(&p.done);
    free(words);

    printf("bandwidth_gbs: %.3f\n", best);
    /* every byte is 0x01, so every word is 0x0101010101010101: a wrong total means a skipped read */
    uint64_t expect = (uint64_t)passes * (uint64_t)n_words * 0x0101010101010101ull;
    if (total != expect) {
        fprintf(stderr, "error: checksum mismatch (%llu != %llu)\n", (unsigned long long)total,
                (unsigned long long)expect);
        return 1;
    }
    return 0;
}
