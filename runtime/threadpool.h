/* threadpool.h - a fixed pool of threads for the model core's parallel-for.
 *
 * edgec_threadpool_create(n) starts n - 1 threads once; the calling thread is
 * worker 0.  edgec_threadpool_run(pool, fn, arg) runs fn(arg, i, n) for every
 * i in [0, n) and returns when all are done; it matches edgec_parallel_fn, so
 * it can be handed straight to edgec_model_set_parallel.  Idle workers spin on
 * an atomic generation counter for a while, then sleep on a condition variable;
 * a run takes no lock and allocates nothing unless some worker went to sleep.
 * Only one thread may call run at a time.
 */
#ifndef EDGEC_THREADPOOL_H
#define EDGEC_THREADPOOL_H

#include "edgec_model_api.h"

#define EDGEC_MAX_THREADS 64

typedef struct edgec_threadpool edgec_threadpool;

/* n in [1, EDGEC_MAX_THREADS].  Returns NULL if n is out of range or a thread
 * cannot be started.  Threads are pinned to the allowed CPUs when there are
 * at least n of them (failures are ignored). */
edgec_threadpool *edgec_threadpool_create(int n_threads);

/* Runs fn(arg, ith, n_threads) for every ith; pool NULL runs fn(arg, 0, 1). */
void edgec_threadpool_run(void *pool, edgec_task_fn fn, void *arg);

int edgec_threadpool_size(const edgec_threadpool *pool);

/* Stops and joins the threads.  NULL is fine. */
void edgec_threadpool_free(edgec_threadpool *pool);

#endif
