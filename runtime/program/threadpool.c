/* threadpool.c - N-1 pthreads started once; spin-then-sleep wake-up on a generation counter;
 * runs fall back to the caller alone while the workers keep making them slower than one thread. */
#define _GNU_SOURCE /* pthread_setaffinity_np, sched_getaffinity, CPU_SET */
#include "threadpool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

/* Spin iterations (each with a pause hint, ~40 ns on Zen 4) before a waiting thread sleeps or
 * yields: ~150 us bridges the gaps between matmuls and between tokens (sampling), and is short
 * enough that a worker sharing its CPU with another program does not spend its fair share
 * spinning (the scheduler then favours it when it wakes for real work). */
#ifndef EDGEC_POOL_SPIN
#define EDGEC_POOL_SPIN 4000
#endif

/* The solo fallback (see edgec_threadpool_run): runs are judged in windows of this many runs
 * that took the caller at least EDGEC_POOL_MIN_OWN_NS of its own work (shorter ones measure
 * wake-up noise, not the workers); a late window hands the next EDGEC_POOL_SOLO_RUNS runs to the
 * caller alone, twice as many after each further late window, up to 64 times as many. */
#define EDGEC_POOL_WINDOW 128
#define EDGEC_POOL_MIN_OWN_NS 2000
#define EDGEC_POOL_MIN_LATE_NS 1000000
#define EDGEC_POOL_SOLO_RUNS 1024

typedef struct {
    struct edgec_threadpool *pool;
    int ith;
    pthread_t thread;
} worker;

struct edgec_threadpool {
    int n_threads;
    int spin;                  /* spin iterations before sleeping: 0 when threads outnumber CPUs */
    edgec_pool_task_fn fn;     /* the current job; published by the generation bump */
    void *arg;
    atomic_uint generation;    /* bumped once per run (and once to stop) */
    atomic_int n_done;         /* workers 1..n-1 that finished the current run */
    atomic_int n_sleeping;     /* workers blocked on wake, so run knows to signal */
    atomic_int stop;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int pinned;                /* the caller's affinity was changed and must be restored */
    /* the solo fallback, touched by the caller only */
    double ns_per_tick;
    int solo_left;             /* runs still to do on the caller alone */
    int solo_len;              /* how many the next late window hands to the caller */
    int judged;                /* runs in the current window */
    uint64_t own_ticks, wait_ticks;
#ifdef __linux__
    cpu_set_t caller_cpus;
#endif
    worker workers[EDGEC_MAX_THREADS];
};

static inline void cpu_pause(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

/* A cheap monotonic tick: the TSC on x86 (constant rate here), else the monotonic clock in ns. */
static inline uint64_t ticks(void) {
#if defined(__x86_64__) || defined(__i386__)
    return __rdtsc();
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

#if defined(__x86_64__) || defined(__i386__)
static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}
#endif

/* ns per tick, measured over ~100 us (1 where ticks are ns already). */
static double calibrate_ticks(void) {
#if defined(__x86_64__) || defined(__i386__)
    double t0 = now_ns(), t1;
    uint64_t k0 = ticks();
    while ((t1 = now_ns()) - t0 < 100000.0) cpu_pause();
    uint64_t k1 = ticks();
    return k1 > k0 ? (t1 - t0) / (double)(k1 - k0) : 1.0;
#else
    return 1.0;
#endif
}

/* Returns the first generation different from seen: spin first, then sleep. */
static unsigned wait_for_work(edgec_threadpool *pool, unsigned seen) {
    for (int i = 0; i < pool->spin; i++) {
        unsigned g = atomic_load_explicit(&pool->generation, memory_order_acquire);
        if (g != seen) return g;
        cpu_pause();
    }
    /* seq_cst pairs with run's bump-then-check of n_sleeping: one of us sees the other */
    atomic_fetch_add(&pool->n_sleeping, 1);
    pthread_mutex_lock(&pool->lock);
    unsigned g;
    while ((g = atomic_load(&pool->generation)) == seen) pthread_cond_wait(&pool->wake, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
    atomic_fetch_sub(&pool->n_sleeping, 1);
    return g;
}

static void *worker_main(void *p) {
    worker *w = p;
    edgec_threadpool *pool = w->pool;
    unsigned seen = 0; /* the generation before any run */
    for (;;) {
        seen = wait_for_work(pool, seen);
        if (atomic_load_explicit(&pool->stop, memory_order_relaxed)) return NULL;
        pool->fn(pool->arg, w->ith, pool->n_threads);
        atomic_fetch_add_explicit(&pool->n_done, 1, memory_order_release);
    }
}

/* Publishes a new generation and wakes the sleepers, if any. */
static void bump_generation(edgec_threadpool *pool) {
    atomic_fetch_add(&pool->generation, 1);
    if (atomic_load(&pool->n_sleeping) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
    }
}

/* CPUs this process may run on. */
static int allowed_cpus(void) {
#ifdef __linux__
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) return CPU_COUNT(&allowed);
#endif
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* Pins worker i (the caller is 0) to the i-th allowed CPU, when each thread can have its own. */
static void pin_threads(edgec_threadpool *pool) {
#ifdef __linux__
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return;
    if (CPU_COUNT(&allowed) < pool->n_threads) return; /* oversubscribed: let the scheduler move them */
    int cpus[EDGEC_MAX_THREADS], n = 0;
    for (int c = 0; c < CPU_SETSIZE && n < pool->n_threads; c++)
        if (CPU_ISSET(c, &allowed)) cpus[n++] = c;
    for (int i = 0; i < n; i++) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpus[i], &one);
        pthread_t t = i == 0 ? pthread_self() : pool->workers[i].thread;
        if (pthread_setaffinity_np(t, sizeof(one), &one) == 0 && i == 0) {
            pool->caller_cpus = allowed;
            pool->pinned = 1;
        }
    }
#else
    (void)pool;
#endif
}

static void stop_workers(edgec_threadpool *pool, int n_started) {
    atomic_store(&pool->stop, 1);
    atomic_fetch_add(&pool->generation, 1);
    pthread_mutex_lock(&pool->lock);
    pthread_cond_broadcast(&pool->wake);
    pthread_mutex_unlock(&pool->lock);
    for (int i = 1; i <= n_started; i++) pthread_join(pool->workers[i].thread, NULL);
}

edgec_threadpool *edgec_threadpool_create(int n_threads) {
    if (n_threads < 1 || n_threads > EDGEC_MAX_THREADS) return NULL;
    edgec_threadpool *pool = calloc(1, sizeof(*pool));
    if (!pool) return NULL;
    pool->n_threads = n_threads;
    /* spinning only pays when every thread has a CPU; otherwise it steals time from the working ones */
    pool->spin = n_threads <= allowed_cpus() ? EDGEC_POOL_SPIN : 0;
    pool->solo_len = EDGEC_POOL_SOLO_RUNS;
    pool->ns_per_tick = n_threads > 1 ? calibrate_ticks() : 1.0;
    atomic_init(&pool->generation, 0);
    atomic_init(&pool->n_done, 0);
    atomic_init(&pool->n_sleeping, 0);
    atomic_init(&pool->stop, 0);
    if (pthread_mutex_init(&pool->lock, NULL) != 0) {
        free(pool);
        return NULL;
    }
    if (pthread_cond_init(&pool->wake, NULL) != 0) {
        pthread_mutex_destroy(&pool->lock);
        free(pool);
        return NULL;
    }
    for (int i = 1; i < n_threads; i++) {
        pool->workers[i].pool = pool;
        pool->workers[i].ith = i;
        if (pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i]) != 0) {
            stop_workers(pool, i - 1);
            pthread_cond_destroy(&pool->wake);
            pthread_mutex_destroy(&pool->lock);
            free(pool);
            return NULL;
        }
    }
    if (n_threads > 1) pin_threads(pool);
    return pool;
}

/* Counts one parallel run towards the solo verdict: own = the caller's share, wait = the time it
 * then waited for the workers.  A window is late when the waits add up to more than the runs would
 * have taken on the caller alone ((n-1) x own) and to at least EDGEC_POOL_MIN_LATE_NS: a worker
 * whose CPU is taken by another program stalls whole runs for a scheduler time slice. */
static void judge_run(edgec_threadpool *pool, uint64_t own, uint64_t wait) {
    if ((double)own * pool->ns_per_tick < EDGEC_POOL_MIN_OWN_NS) return;
    pool->own_ticks += own;
    pool->wait_ticks += wait;
    if (++pool->judged < EDGEC_POOL_WINDOW) return;
    int late = pool->wait_ticks > (uint64_t)(pool->n_threads - 1) * pool->own_ticks &&
               (double)pool->wait_ticks * pool->ns_per_tick >= EDGEC_POOL_MIN_LATE_NS;
    if (late) {
        pool->solo_left = pool->solo_len;
        if (pool->solo_len < 64 * EDGEC_POOL_SOLO_RUNS) pool->solo_len *= 2;
    } else {
        pool->solo_len = EDGEC_POOL_SOLO_RUNS;
    }
    pool->judged = 0;
    pool->own_ticks = pool->wait_ticks = 0;
}

void edgec_threadpool_run(void *p, edgec_pool_task_fn fn, void *arg) {
    edgec_threadpool *pool = p;
    if (!pool || pool->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    if (pool->solo_left > 0) { /* the workers were late: the caller alone is faster for now */
        pool->solo_left--;
        fn(arg, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    atomic_store_explicit(&pool->n_done, 0, memory_order_relaxed); /* published by the bump */
    bump_generation(pool);
    uint64_t t0 = ticks();
    fn(arg, 0, pool->n_threads);
    uint64_t t1 = ticks(), t2 = t1;
    int others = pool->n_threads - 1;
    if (atomic_load_explicit(&pool->n_done, memory_order_acquire) != others) {
        for (long spins = 0; atomic_load_explicit(&pool->n_done, memory_order_acquire) != others; spins++) {
            if (spins < pool->spin) cpu_pause();
            else sched_yield(); /* a worker may be waiting for our core */
        }
        t2 = ticks();
    }
    judge_run(pool, t1 - t0, t2 - t1);
}

int edgec_threadpool_size(const edgec_threadpool *pool) {
    return pool ? pool->n_threads : 1;
}

void edgec_threadpool_free(edgec_threadpool *pool) {
    if (!pool) return;
    stop_workers(pool, pool->n_threads - 1);
#ifdef __linux__
    if (pool->pinned) pthread_setaffinity_np(pthread_self(), sizeof(pool->caller_cpus), &pool->caller_cpus);
#endif
    pthread_cond_destroy(&pool->wake);
    pthread_mutex_destroy(&pool->lock);
    free(pool);
}
