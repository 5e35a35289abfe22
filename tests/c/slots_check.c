/* slots_check.c - edgec_model_feed_slots against edgec_model_feed, logit for logit, on a generated core.
 *
 * Built with an artifact's firmware/model.c and weights.c (tests/runtime/test_model_slots.py), under
 * the generic edgec_ names (-DEDGEC_GENERIC_NAMES).  Every slot s
 * gets its own prompt (prompt_len(s) tokens from the command line's ids, rotated by s); the reference
 * runs each conversation alone on slot 0 with edgec_model_feed: its prompt in one call, then greedy
 * decoding one token at a time.  The batched run then drives all slots at once the way a server
 * does: each step feeds the decoding slots one token each and the next slot still prefilling a chunk
 * of its prompt, in as few edgec_model_feed_slots calls as max_batch allows, with the slots in a
 * different order every step.  Each slot's logits must be bit-identical to its reference run's.
 * First, feeds that break the API's rules must be refused without feeding anything.
 * Prints "ok <tokens compared>" or the first mismatch, and exits non-zero on a mismatch.
 *
 * usage: slots_check N_SLOTS N_GEN THREADS id id id ...   (THREADS > 1 uses a plain pthread pool)
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

#define MAX_SLOTS 8
#define MAX_GEN 64
#define MAX_PROMPT 256

typedef struct {
    int32_t prompt[MAX_PROMPT];
    int n_prompt, fed;              /* prompt tokens, and how many are in the cache */
    int32_t gen[MAX_GEN + 1];
    int n_gen;
    float ref[MAX_GEN][EDGEC_N_VOCAB]; /* reference logits after the prompt and each generated token */
} conversation;

static conversation conv[MAX_SLOTS];
static float logits[EDGEC_MAX_BATCH][EDGEC_N_VOCAB];
static _Alignas(64) unsigned char arena[EDGEC_ARENA_BYTES];

/* ---- a parallel-for over short-lived threads: slow but obviously right ---- */

typedef struct {
    edgec_task_fn fn;
    void *arg;
    int ith, nth;
} slice;

static void *run_slice(void *p) {
    slice *s = p;
    s->fn(s->arg, s->ith, s->nth);
    return NULL;
}

static void spawn_parallel(void *pool, edgec_task_fn fn, void *arg) {
    int nth = *(int *)pool;
    pthread_t th[8];
    slice sl[8];
    for (int i = 0; i < nth; i++) {
        sl[i] = (slice){fn, arg, i, nth};
        pthread_create(&th[i], NULL, run_slice, &sl[i]);
    }
    for (int i = 0; i < nth; i++) pthread_join(th[i], NULL);
}

static int argmax(const float *x) {
    int best = 0;
    for (int i = 1; i < EDGEC_N_VOCAB; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Conversation c alone on slot 0: its reference logits and greedy tokens. */
static int run_alone(edgec_model *m, conversation *c, int n_gen) {
    edgec_model_reset(m);
    const float *l = edgec_model_feed(m, c->prompt, c->n_prompt, NULL);
    for (int g = 0; g < n_gen; g++) {
        if (!l) return -1;
        memcpy(c->ref[g], l, sizeof(c->ref[g]));
        c->gen[g] = argmax(l);
        if (g + 1 < n_gen) l = edgec_model_feed(m, &c->gen[g], 1, NULL);
    }
    return 0;
}

static int mismatch(int s, int g, const float *got, const float *want) {
    for (int v = 0; v < EDGEC_N_VOCAB; v++)
        if (memcmp(&got[v], &want[v], sizeof(float)) != 0) {
            printf("slot %d token %d: logit %d is %.9g batched, %.9g alone\n", s, g, v, got[v], want[v]);
            return 1;
        }
    return 0;
}

/* All slots together: returns the number of logit rows compared, or -1 on a mismatch or a refused call. */
static int run_together(edgec_model *m, int n_slots, int n_gen) {
    edgec_model_reset(m);
    int compared = 0, done = 0;
    for (int s = 0; s < n_slots; s++) conv[s].fed = conv[s].n_gen = 0;
    for (int step = 0; done < n_slots; step++) {
        edgec_slot_feed feeds[MAX_SLOTS];
        int n_feeds = 0, budget = EDGEC_MAX_BATCH;
        for (int k = 0; k < n_slots && budget > 0; k++) {
            int s = (k + step) % n_slots;   /* a different order every step */
            conversation *c = &conv[s];
            if (c->n_gen >= n_gen) continue;
            edgec_slot_feed f = {s, NULL, 0};
            if (c->fed < c->n_prompt) {
                f.tokens = c->prompt + c->fed;
                f.n = c->n_prompt - c->fed < budget ? c->n_prompt - c->fed : budget;
            } else {
                f.tokens = &c->gen[c->n_gen - 1];
                f.n = 1;
            }
            feeds[n_feeds++] = f;
            budget -= f.n;
        }
        if (edgec_model_feed_slots(m, feeds, n_feeds, &logits[0][0]) != 0) {
            printf("step %d: edgec_model_feed_slots refused %d feeds\n", step, n_feeds);
            return -1;
        }
        for (int i = 0; i < n_feeds; i++) {
            conversation *c = &conv[feeds[i].slot];
            if (c->fed < c->n_prompt) {
                c->fed += feeds[i].n;
                if (c->fed < c->n_prompt) continue;   /* a prompt chunk before the last: no logits yet */
            }
            if (mismatch(feeds[i].slot, c->n_gen, logits[i], c->ref[c->n_gen])) return -1;
            compared++;
            if (argmax(logits[i]) != c->gen[c->n_gen]) return -1;
            if (++c->n_gen == n_gen) done++;
        }
    }
    return compared;
}

/* Every kind of bad call returns -1 and leaves every slot's position where it was. */
static int check_refusals(edgec_model *m) {
    static const int32_t ok[1] = {1}, bad_id[2] = {1, EDGEC_N_VOCAB}, many[EDGEC_MAX_BATCH + 1] = {0};
    edgec_model_reset(m);
    edgec_slot_feed cases[][2] = {
        {{EDGEC_N_SLOTS, ok, 1}, {0, ok, 1}},          /* no such slot */
        {{-1, ok, 1}, {0, ok, 1}},
        {{0, ok, 1}, {0, ok, 1}},                      /* a slot twice */
        {{0, ok, 0}, {0, ok, 1}},                      /* an empty feed */
        {{0, bad_id, 2}, {0, ok, 1}},                  /* a token out of the vocabulary */
        {{0, many, EDGEC_MAX_BATCH + 1}, {0, ok, 1}},  /* more than a batch */
    };
    int n_cases = (int)(sizeof(cases) / sizeof(cases[0]));
    for (int c = 0; c < n_cases; c++) {
        int n_feeds = c == 2 ? 2 : 1;
        if (edgec_model_feed_slots(m, cases[c], n_feeds, &logits[0][0]) != -1) {
            printf("bad call %d was accepted\n", c);
            return -1;
        }
    }
    if (edgec_model_feed_slots(m, cases[0], 0, &logits[0][0]) != -1 || edgec_model_slot_rewind(m, 0, 1) != -1 ||
        edgec_model_slot_pos(m, EDGEC_N_SLOTS) != -1 || edgec_model_slot_pos(m, -1) != -1) {
        printf("an empty call, a rewind past the end or the position of no slot was accepted\n");
        return -1;
    }
    for (int s = 0; s < EDGEC_N_SLOTS; s++)
        if (edgec_model_slot_pos(m, s) != 0) {
            printf("a refused call moved slot %d\n", s);
            return -1;
        }
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: slots_check N_SLOTS N_GEN THREADS id id ...\n");
        return 2;
    }
    int n_slots = atoi(argv[1]), n_gen = atoi(argv[2]), threads = atoi(argv[3]), n_ids = argc - 4;
    if (n_slots < 1 || n_slots > MAX_SLOTS || n_slots > EDGEC_N_SLOTS || n_gen < 1 || n_gen > MAX_GEN ||
        threads < 1 || threads > 8 || n_ids > MAX_PROMPT - MAX_SLOTS) {
        fprintf(stderr, "slots_check: arguments out of range\n");
        return 2;
    }
    static edgec_model m;
    if (edgec_model_init(&m, arena, sizeof(arena), edgec_weights, edgec_weights_size) != 0) {
        fprintf(stderr, "slots_check: edgec_model_init failed\n");
        return 2;
    }
    if (threads > 1) edgec_model_set_parallel(&m, spawn_parallel, &threads, threads);
    if (check_refusals(&m) != 0) return 1;
    for (int s = 0; s < n_slots; s++) {
        conversation *c = &conv[s];
        c->n_prompt = n_ids - s * (n_ids / (n_slots + 1));   /* different lengths: prefill overlaps decoding */
        for (int i = 0; i < c->n_prompt; i++) c->prompt[i] = atoi(argv[4 + (i + s) % n_ids]);
        if (run_alone(&m, c, n_gen) != 0) {
            printf("slot %d: edgec_model_feed refused its prompt\n", s);
            return 1;
        }
    }
    int compared = run_together(&m, n_slots, n_gen);
    if (compared < 0) return 1;
    printf("ok %d\n", compared);
    return 0;
}
