/* threadpool.h - a fixed pool of threads for the model core's parallel-for.
 *
 * edgec_threadpool_create(n) starts n - 1 threads once; the calling thread is
 * worker 0.  edgec_threadpool_run(pool, fn, arg) runs fn(arg, i, n) for every
 * i in [0, n) and returns when all are done; it has the model's parallel_fn
 * type, so it can be handed straight to <prefix>_model_set_parallel.  Idle workers spin on
 * an atomic generation counter for a while (~150 us), then sleep on a condition
 * variable; a run takes no lock and allocates nothing unless some worker went to
 * sleep.  Only one thread may call run at a time.
 *
 * Solo fallback: the caller times its own share of each run and its wait for the
 * workers (TSC on x86).  When, over a window of 128 runs that each gave the caller
 * at least 2 us of work, the waits add up to more than the runs would have taken
 * on the caller alone (and to at least 1 ms), the workers' CPUs are busy with
 * other programs, and the next 1024 runs (twice as many after each further late
 * window, up to 64x) are done as fn(arg, 0, 1) on the caller alone.  So a task must
 * give the same results whatever nth it is run with (the generated model's tasks
 * split rows and heads, so they do), and a busy neighbour cannot make n threads
 * much slower than one.  Runs too short to judge (< 2 us) never trigger it.
 */
#ifndef EDGEC_THREADPOOL_H
#define EDGEC_THREADPOOL_H

#define EDGEC_MAX_THREADS 64

/* One slice of a parallel job: worker ith of nth (the same type as a model's <prefix>_task_fn). */
typedef void (*edgec_pool_task_fn)(void *arg, int ith, int nth);

typedef struct edgec_threadpool edgec_threadpool;

/* n in [1, EDGEC_MAX_THREADS].  Returns NULL if n is out of range or a thread
 * cannot be started.  Threads are pinned to the allowed CPUs when there are
 * at least n of them (failures are ignored). */
edgec_threadpool *edgec_threadpool_create(int n_threads);

/* Runs fn(arg, ith, n_threads) for every ith, or fn(arg, 0, 1) alone during a
 * solo stretch (see above); pool NULL runs fn(arg, 0, 1). */
void edgec_threadpool_run(void *pool, edgec_pool_task_fn fn, void *arg);

int edgec_threadpool_size(const edgec_threadpool *pool);

/* Stops and joins the threads.  NULL is fine. */
void edgec_threadpool_free(edgec_threadpool *pool);

#endif
