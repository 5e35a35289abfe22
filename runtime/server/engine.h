/* engine.h - the thread that owns the model: it takes jobs from a bounded FIFO queue and runs them
 * one at a time on the model's single slot (one KV cache), reusing the cached prefix a new prompt
 * shares with what the cache holds. */
#ifndef EDGEC_SRV_ENGINE_H
#define EDGEC_SRV_ENGINE_H

#include <stddef.h>

#include "edgec_model_api.h"
#include "job.h"
#include "metrics.h"
#include "tokenizer.h"

typedef struct srv_engine srv_engine;

enum { SRV_QUEUED = 0, SRV_QUEUE_FULL = -1, SRV_STOPPING = -2 };

/* Starts the thread; NULL with a reason in err on failure.  The model must be loaded and idle; from
 * now on only the engine touches it. */
srv_engine *srv_engine_start(edgec_model *model, const edgec_tokenizer *tok, srv_metrics *metrics, int max_queue,
                             char *err, size_t err_len);

/* Queues j (the engine takes its own reference): SRV_QUEUED, SRV_QUEUE_FULL when max_queue jobs are
 * already waiting, or SRV_STOPPING. */
int srv_engine_submit(srv_engine *e, srv_job *j);

/* 1 once the thread runs and takes jobs. */
int srv_engine_ready(srv_engine *e);

/* Cancels the running and the queued jobs (each is finished, waking its connection) and joins the
 * thread; later submits get SRV_STOPPING. */
void srv_engine_stop(srv_engine *e);

/* Frees a stopped engine, once no connection can reach it any more. */
void srv_engine_free(srv_engine *e);

#endif
