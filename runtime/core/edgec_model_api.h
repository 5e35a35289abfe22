/* edgec_model_api.h - the C API every generated model core implements.
 *
 * The generated model.h includes this file and adds the model's constants
 * (EDGEC_N_VOCAB, EDGEC_MAX_CTX, EDGEC_ARENA_BYTES, ...) and the definition of
 * struct edgec_model.  The core does no allocation, no I/O and starts no
 * threads: the caller owns the memory (one arena of EDGEC_ARENA_BYTES) and may
 * hand it a parallel-for to spread the matrix work over its own threads.
 */
#ifndef EDGEC_MODEL_API_H
#define EDGEC_MODEL_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One slice of a parallel job: worker ith of nth. */
typedef void (*edgec_task_fn)(void *arg, int ith, int nth);
/* Runs fn(arg, i, n_threads) for every i in [0, n_threads) and returns when all are done. */
typedef void (*edgec_parallel_fn)(void *pool, edgec_task_fn fn, void *arg);

typedef struct edgec_model edgec_model; /* defined in the generated model.h */

typedef struct {
    const char *name;       /* model name given at compile time */
    const char *target;     /* target profile name */
    int n_vocab;
    int max_ctx;            /* KV cache length fixed at compile time (edgec compile --ctx) */
    int max_batch;          /* tokens per forward pass (a prefill chunk, or a batch of slots) */
    int n_slots;            /* KV caches: conversations held at once (edgec compile --slots) */
    size_t arena_bytes;     /* memory edgec_model_init needs */
    size_t weights_bytes;   /* size of the weights blob */
} edgec_model_info;

const edgec_model_info *edgec_model_get_info(void);

/* Binds the model to its arena (arena_bytes >= EDGEC_ARENA_BYTES, 64-byte aligned)
 * and weights blob.  Returns 0, or -1 if the arena is too small or misaligned,
 * -2 if the weights blob has the wrong size or signature. */
int edgec_model_init(edgec_model *m, void *arena, size_t arena_bytes,
                     const void *weights, size_t weights_bytes);

/* Matrix work is split over n_threads slices run by fn; fn == NULL runs serially. */
void edgec_model_set_parallel(edgec_model *m, edgec_parallel_fn fn, void *pool, int n_threads);

/* The functions below without "slot" in their name work on slot 0, the one a single conversation uses. */

/* Forgets every slot's KV cache: the next token fed to each is at position 0. */
void edgec_model_reset(edgec_model *m);

/* Keeps the first pos tokens of the KV cache (0 <= pos <= edgec_model_pos) and forgets the rest:
 * the next token fed is at position pos.  Returns 0, or -1 (nothing changed) if pos is out of range.
 * A server uses it to reuse a cached prompt prefix. */
int edgec_model_rewind(edgec_model *m, int pos);

/* Number of tokens in the KV cache. */
int edgec_model_pos(const edgec_model *m);

/* Feeds n tokens at the current position, as batches of up to max_batch tokens
 * (matrix-matrix), and returns the logits of the last one (n_vocab floats, valid
 * until the next call).  If all_logits is not NULL it receives n * n_vocab floats,
 * the logits of every fed token.  Returns NULL, feeding nothing, if n <= 0, a token
 * id is out of range, or pos + n > max_ctx. */
const float *edgec_model_feed(edgec_model *m, const int32_t *tokens, int n, float *all_logits);

/* ---- several conversations at once: n_slots KV caches, fed together ---- */

/* Some tokens for one slot, fed at its current position. */
typedef struct {
    int slot;                /* 0 .. n_slots-1 */
    const int32_t *tokens;
    int n;
} edgec_slot_feed;

/* Tokens in slot's KV cache, or -1 if there is no such slot. */
int edgec_model_slot_pos(const edgec_model *m, int slot);

/* edgec_model_rewind for one slot: 0, or -1 (nothing changed) if slot or pos is out of range. */
int edgec_model_slot_rewind(edgec_model *m, int slot, int pos);

/* Feeds n_feeds slots in one forward pass (every matrix multiplies all their tokens at once: a
 * decode step of several conversations costs about what one costs) and writes the logits of each
 * feed's last token to logits[i * n_vocab ...].  Each token's numbers are exactly those it gets fed
 * alone with edgec_model_feed.  Returns 0, or -1 feeding nothing if n_feeds <= 0, a slot is out of
 * range or appears twice, a feed has n <= 0, an out-of-range token or would pass max_ctx, or the
 * tokens add up to more than max_batch. */
int edgec_model_feed_slots(edgec_model *m, const edgec_slot_feed *feeds, int n_feeds, float *logits);

#ifdef __cplusplus
}
#endif
#endif
