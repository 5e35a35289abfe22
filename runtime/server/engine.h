/* engine.h - the thread that owns the model.  Jobs wait in a bounded FIFO queue for one of the
 * model's slots (KV caches, edgec compile --slots); a free slot takes the next job, the one whose
 * cache already holds the longest prefix of its prompt.  Each step then runs one batched forward pass
 * (edgec_model_feed_slots) over every busy slot: the next token of each generating slot, and chunks
 * of new prompts in the rest of the batch (continuous batching), then samples each finished row. */
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

/* Slots the engine schedules onto. */
int srv_engine_slots(const srv_engine *e);

/* 1 once the thread runs and takes jobs. */
int srv_engine_ready(srv_engine *e);

/* Cancels the running and the queued jobs (each is finished, waking its connection) and joins the
 * thread; later submits get SRV_STOPPING. */
void srv_engine_stop(srv_engine *e);

/* Frees a stopped engine, once no connection can reach it any more. */
void srv_engine_free(srv_engine *e);

#endif
