/* test_threadpool.c - every slice runs exactly once per run, results are visible
 * to the caller when run returns, and sleeping workers wake up again. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "threadpool.h"

static int n_passed, n_failed;

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

#define N_RUNS 10000

typedef struct {
    atomic_int runs[EDGEC_MAX_THREADS]; /* how often each slice ran, over all runs */
    int stamp[EDGEC_MAX_THREADS];       /* plain writes: the run each slice last saw */
    atomic_int wrong_nth;
    int want_nth;                       /* the nth every slice must be given */
    int run;
    pthread_t thread_of[EDGEC_MAX_THREADS];
} counting_job;

static void count_slice(void *arg, int ith, int nth) {
    counting_job *job = arg;
    atomic_fetch_add_explicit(&job->runs[ith], 1, memory_order_relaxed);
    if (nth != job->want_nth) atomic_fetch_add(&job->wrong_nth, 1);
    job->stamp[ith] = job->run;
    job->thread_of[ith] = pthread_self();
}

static void nap_ms(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_every_slice_once(int n) {
    static counting_job job;
    memset(&job, 0, sizeof(job));
    edgec_threadpool *pool = edgec_threadpool_create(n);
    CHECK(pool != NULL, "create(%d) failed", n);
    if (!pool) return;
    CHECK(edgec_threadpool_size(pool) == n, "size should be %d", n);
    job.want_nth = n;
    int stale = 0, miscounted = 0;
    for (int run = 1; run <= N_RUNS; run++) {
        job.run = run;
        edgec_threadpool_run(pool, count_slice, &job);
        for (int i = 0; i < n; i++) {
            stale += job.stamp[i] != run; /* the caller must see every slice's writes */
            miscounted += atomic_load(&job.runs[i]) != run;
        }
        if (run % 2500 == 0) nap_ms(20); /* long enough for the workers to go to sleep */
    }
    CHECK(stale == 0, "%d threads: %d slice results were not visible after run returned", n, stale);
    CHECK(miscounted == 0, "%d threads: %d times a slice had not run exactly once per run", n, miscounted);
    CHECK(atomic_load(&job.wrong_nth) == 0, "%d threads: slices were given the wrong nth", n);
    int extra = 0;
    for (int i = n; i < EDGEC_MAX_THREADS; i++) extra += atomic_load(&job.runs[i]);
    CHECK(extra == 0, "%d threads: slices beyond n ran %d times", n, extra);
    if (n > 1) {
        int distinct = 1;
        for (int i = 1; i < n; i++) distinct &= !pthread_equal(job.thread_of[i], job.thread_of[0]);
        CHECK(distinct && pthread_equal(job.thread_of[0], pthread_self()),
              "%d threads: slice 0 should run on the caller and the others on pool threads", n);
    }
    edgec_threadpool_free(pool);
}

typedef struct {
    const double *x;
    int n;
    double partial[EDGEC_MAX_THREADS];
} sum_job;

static void sum_slice(void *arg, int ith, int nth) {
    sum_job *job = arg;
    int a = job->n * ith / nth, b = job->n * (ith + 1) / nth;
    double s = 0;
    for (int i = a; i < b; i++) s += job->x[i];
    job->partial[ith] = s;
}

static void test_parallel_sum(void) {
    static double x[100000];
    double want = 0;
    for (int i = 0; i < 100000; i++) {
        x[i] = (double)(i % 1000);
        want += x[i];
    }
    edgec_threadpool *pool = edgec_threadpool_create(3);
    sum_job job = {x, 100000, {0}};
    edgec_threadpool_run(pool, sum_slice, &job);
    double got = job.partial[0] + job.partial[1] + job.partial[2];
    CHECK(got == want, "parallel sum %f != %f", got, want);
    edgec_threadpool_free(pool);
}

static void test_edges(void) {
    CHECK(edgec_threadpool_create(0) == NULL, "create(0) should fail");
    CHECK(edgec_threadpool_create(EDGEC_MAX_THREADS + 1) == NULL, "create(%d) should fail", EDGEC_MAX_THREADS + 1);
    static counting_job job;
    memset(&job, 0, sizeof(job));
    job.run = 7;
    job.want_nth = 1;
    edgec_threadpool_run(NULL, count_slice, &job);
    CHECK(atomic_load(&job.runs[0]) == 1 && job.stamp[0] == 7 && atomic_load(&job.wrong_nth) == 0, "run on a NULL pool should call fn(arg, 0, 1) once");
    CHECK(edgec_threadpool_size(NULL) == 1, "a NULL pool has one thread");
    edgec_threadpool_free(NULL); /* must be harmless */
    edgec_threadpool *pool = edgec_threadpool_create(2);
    edgec_threadpool_free(pool); /* created and freed without a run */
    CHECK(pool != NULL, "create(2) then free without running");
}

int main(void) {
    test_edges();
    test_every_slice_once(1);
    test_every_slice_once(2);
    test_every_slice_once(4);
    test_parallel_sum();
    printf("%d passed, %d failed\n", n_passed, n_failed);
    return n_failed != 0;
}
