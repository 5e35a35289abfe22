/* test_threadpool.c - every slice runs exactly once per run, results are visible
 * to the caller when run returns, sleeping workers wake up again, and the solo
 * fallback hands runs to the caller alone exactly as threadpool.h documents. */
#define _POSIX_C_SOURCE 200809L /* nanosleep, clock_gettime */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "threadpool.h"
#include "test_check.h"

/* ThreadSanitizer slows the caller's ~100 ns slice past the pool's 2 us threshold whenever the machine is
 * busy, so test_short_runs_stay_parallel's premise does not hold there; the plain builds run it. */
#if defined(__SANITIZE_THREAD__)
#define EDGEC_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EDGEC_TEST_TSAN 1
#endif
#endif
#ifndef EDGEC_TEST_TSAN
#define EDGEC_TEST_TSAN 0
#endif

#define N_RUNS 10000

typedef struct {
    atomic_int runs[EDGEC_MAX_THREADS]; /* how often each slice ran, over all runs */
    int stamp[EDGEC_MAX_THREADS];       /* plain writes: the run each slice last saw */
    atomic_int wrong_nth;
    int want_nth;                       /* the nth every slice must be given */
    int run;
    pthread_t thread_of[EDGEC_MAX_THREADS];
    int solo_runs;                      /* runs the pool handed to the caller alone */
} counting_job;

static void count_slice(void *arg, int ith, int nth) {
    counting_job *job = arg;
    if (nth == 1 && ith == 0 && job->want_nth > 1) {
        /* a solo run (workers were late, e.g. on a loaded machine): the caller does every slice */
        for (int i = 0; i < job->want_nth; i++) {
            atomic_fetch_add_explicit(&job->runs[i], 1, memory_order_relaxed);
            job->stamp[i] = job->run;
        }
        job->solo_runs++;
        return;
    }
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
        CHECK(job.solo_runs < N_RUNS, "%d threads: every run went to the caller alone", n);
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

/* The solo fallback's constants, as documented in threadpool.h (threadpool.c keeps its own copy). */
#define SOLO_WINDOW 128 /* runs judged together */
#define SOLO_RUNS 1024  /* the first solo stretch; doubles after each further late window */
#define SOLO_MAX (64 * SOLO_RUNS)
#define N_CELLS 256

/* A task with simulated costs: in a parallel run the caller's slice busy-waits caller_busy_ns
 * and the others sleep worker_sleep_ns (solo runs skip both, so long stretches stay fast);
 * every run covers the cells [0, N_CELLS) split by ith / nth. */
typedef struct {
    int cover[N_CELLS];   /* how often each cell was covered in the current run */
    long caller_busy_ns;
    long worker_sleep_ns;
    int caller_outlasts;  /* the caller's slice ends only after the others': on time under any load */
    int parallel_runs;    /* parallel runs so far, counted by the caller's slice */
    atomic_int others_done; /* slices other than 0 finished, over all runs */
    int caller_nth;       /* the nth slice 0 was given in the last run */
    int runs, miscovered; /* runs done, and runs where some cell was not covered exactly once */
    int lost_slices;      /* parallel runs whose other slices never ran */
    atomic_int bad_nth;   /* slices given an nth other than 1 or the pool's size */
    int pool_size;
} timed_job;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Busy by the clock, not by a loop count, so the caller's share is long enough on any machine. */
static void busy_ns(long ns) {
    double t0 = now_ns();
    while (now_ns() - t0 < (double)ns) {}
}

static void timed_slice(void *arg, int ith, int nth) {
    timed_job *job = arg;
    if (nth != 1 && nth != job->pool_size) atomic_fetch_add(&job->bad_nth, 1);
    if (ith == 0) job->caller_nth = nth;
    if (nth > 1 && ith == 0 && job->caller_busy_ns > 0) busy_ns(job->caller_busy_ns);
    if (nth > 1 && ith > 0 && job->worker_sleep_ns > 0) {
        struct timespec ts = {0, job->worker_sleep_ns};
        nanosleep(&ts, NULL);
    }
    int a = N_CELLS * ith / nth, b = N_CELLS * (ith + 1) / nth;
    for (int i = a; i < b; i++) job->cover[i]++;
    if (nth > 1 && ith > 0) atomic_fetch_add(&job->others_done, 1);
    if (nth > 1 && ith == 0) {
        job->parallel_runs++;
        /* the pool then finds the workers done when the caller's share ends: it never waits */
        double give_up = now_ns() + 2e9; /* a slice the pool never ran must fail the test, not hang it */
        while (job->caller_outlasts && atomic_load(&job->others_done) < job->parallel_runs * (nth - 1)) {
            if (now_ns() > give_up) {
                job->lost_slices++;
                job->caller_outlasts = 0; /* once is enough to fail */
            }
            sched_yield();
        }
    }
}

/* One run; checks that it covered every cell once and returns whether the caller ran it alone. */
static int run_timed(edgec_threadpool *pool, timed_job *job) {
    edgec_threadpool_run(pool, timed_slice, job);
    int once = 1;
    for (int i = 0; i < N_CELLS; i++) {
        once &= job->cover[i] == 1;
        job->cover[i] = 0;
    }
    job->miscovered += !once;
    job->runs++;
    return job->caller_nth == 1;
}

/* Runs until a run is not in mode solo (1: caller alone, 0: full pool), at most limit runs.
 * Returns how many runs were in that mode; the first run in the other mode was done too. */
static int runs_in_mode(edgec_threadpool *pool, timed_job *job, int solo, int limit) {
    for (int i = 0; i < limit; i++)
        if (run_timed(pool, job) != solo) return i;
    return limit;
}

static void make_slow(timed_job *job) { /* the worker's share takes 50x the caller's */
    job->caller_busy_ns = 20000;
    job->worker_sleep_ns = 1000000;
    job->caller_outlasts = 0;
}

static void make_on_time(timed_job *job) { /* a worker woken late (a loaded CPU) delays the caller's share, not the run's end */
    job->caller_busy_ns = 20000;
    job->worker_sleep_ns = 0;
    job->caller_outlasts = 1;
}

/* Zeroes job and starts the two-thread pool it runs on; NULL (a failed check) if the pool cannot start. */
static edgec_threadpool *start_timed_pool(timed_job *job) {
    memset(job, 0, sizeof(*job));
    job->pool_size = 2;
    edgec_threadpool *pool = edgec_threadpool_create(job->pool_size);
    CHECK(pool != NULL, "create(2) failed");
    return pool;
}

/* Late workers start a stretch of SOLO_RUNS solo runs after one window, twice as long after the
 * next late window; an on-time task gets the full pool back when the stretch ends, and its
 * on-time window resets the next stretch to SOLO_RUNS. */
static void test_solo_fallback(void) {
    static timed_job job;
    edgec_threadpool *pool = start_timed_pool(&job);
    if (!pool) return;
    make_slow(&job);
    /* every slow run gives the caller >= 2 us, so each is judged and windows end on multiples of 128 */
    int full1 = runs_in_mode(pool, &job, 0, 3 * SOLO_WINDOW);
    CHECK(full1 == SOLO_WINDOW, "slow workers: the first solo run should follow the first window of %d runs, came after %d full runs", SOLO_WINDOW, full1);
    int solo1 = 1 + runs_in_mode(pool, &job, 1, SOLO_MAX);
    CHECK(solo1 == SOLO_RUNS, "the first solo stretch should be %d runs, was %d", SOLO_RUNS, solo1);
    int full2 = 1 + runs_in_mode(pool, &job, 0, 3 * SOLO_WINDOW);
    CHECK(full2 == SOLO_WINDOW, "still slow: the next stretch should follow one window, came after %d full runs", full2);
    make_on_time(&job); /* a stretch's length is fixed when it starts: this one must still double */
    int solo2 = 1 + runs_in_mode(pool, &job, 1, SOLO_MAX);
    CHECK(solo2 == 2 * SOLO_RUNS, "after a second late window the stretch should be %d runs, was %d", 2 * SOLO_RUNS, solo2);
    int full3 = 1 + runs_in_mode(pool, &job, 0, SOLO_WINDOW - 1);
    CHECK(full3 == SOLO_WINDOW, "after the stretch the pool should run a whole window in full, ran %d", full3);
    make_slow(&job); /* the on-time window reset the stretch length, so this one is SOLO_RUNS again */
    int full4 = runs_in_mode(pool, &job, 0, 3 * SOLO_WINDOW);
    CHECK(full4 == SOLO_WINDOW, "an on-time window should not start a stretch, and the next slow one should: came after %d full runs", full4);
    int solo3 = 1 + runs_in_mode(pool, &job, 1, SOLO_MAX);
    CHECK(solo3 == SOLO_RUNS, "an on-time window should reset the stretch to %d runs, was %d", SOLO_RUNS, solo3);
    CHECK(job.miscovered == 0 && job.lost_slices == 0, "%d of %d runs did not cover every cell exactly once (%d lost slices)", job.miscovered, job.runs, job.lost_slices);
    CHECK(atomic_load(&job.bad_nth) == 0, "slices were given an nth other than 1 or 2");
    edgec_threadpool_free(pool);
}

/* Runs that give the caller < 2 us are not judged, however late the workers: never solo. */
static void test_short_runs_stay_parallel(void) {
    static timed_job job;
    edgec_threadpool *pool = start_timed_pool(&job);
    if (!pool) return;
    job.worker_sleep_ns = 1000000; /* the caller's slice is ~100 ns of counting */
    /* were they judged, the first window would be late and run SOLO_WINDOW + 1 solo */
    int full = runs_in_mode(pool, &job, 0, SOLO_WINDOW + 1);
    CHECK(full == SOLO_WINDOW + 1, "runs under 2 us must never go solo, run %d did", full + 1);
    CHECK(job.miscovered == 0, "%d of %d short runs did not cover every cell exactly once", job.miscovered, job.runs);
    edgec_threadpool_free(pool);
}

int main(void) {
    test_edges();
    test_every_slice_once(1);
    test_every_slice_once(2);
    test_every_slice_once(4);
    test_parallel_sum();
    test_solo_fallback();
    if (!EDGEC_TEST_TSAN) test_short_runs_stay_parallel();
    return check_summary();
}
