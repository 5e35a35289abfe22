/* two_models.c - two firmware bundles in one program, as a firmware engineer links them: each header
 * included as it is, no generic names, one static arena per model (tests/codegen/test_firmware_bundle.py).
 *
 * For each model: greedy decoding from token `first` for n tokens through the plain API, printed as
 * "<prefix>: id id ...", then the same first token again through the step API (begin, then step until
 * it returns 0), whose logits must equal the plain call's bit for bit.
 *
 * usage: two_models FIRST_A FIRST_B N
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "a/model.h"
#include "b/model.h"

static tiny_a_model ma;
static story_b_model mb;
static _Alignas(TINY_A_ARENA_ALIGN) unsigned char arena_a[TINY_A_ARENA_BYTES];
static _Alignas(STORY_B_ARENA_ALIGN) unsigned char arena_b[STORY_B_ARENA_BYTES];
static float first_logits_a[TINY_A_N_VOCAB], first_logits_b[STORY_B_N_VOCAB];

static int32_t argmax(const float *x, int n) {
    int32_t best = 0;
    for (int32_t v = 1; v < n; v++)
        if (x[v] > x[best]) best = v;
    return best;
}

/* The same body for both models: their types and functions differ only by prefix. */
#define GREEDY(p, P, m, arena, first_logits)                                                        \
    static int greedy_##p(int32_t token, int n) {                                                   \
        if (p##_model_init(&m, arena, sizeof arena, p##_weights, p##_weights_size) != 0) return -1; \
        printf(#p ":");                                                                             \
        for (int i = 0; i < n; i++) {                                                               \
            const float *logits = p##_model_feed(&m, &token, 1, NULL);                              \
            if (!logits) return -1;                                                                 \
            if (i == 0) memcpy(first_logits, logits, sizeof first_logits);                          \
            token = argmax(logits, P##_N_VOCAB);                                                    \
            printf(" %d", (int)token);                                                              \
        }                                                                                           \
        printf("\n");                                                                               \
        return 0;                                                                                   \
    }                                                                                               \
    static int stepped_##p(int32_t token) {                                                         \
        int steps = 0, rc;                                                                          \
        p##_model_reset(&m);                                                                        \
        if (p##_model_begin(&m, &token, 1) != 0) return -1;                                         \
        while ((rc = p##_model_step(&m)) == 1) steps++;                                             \
        if (rc != 0 || steps + 1 != P##_STEP_SLICES || p##_model_pos(&m) != 1) return -1;           \
        return memcmp(p##_model_logits(&m), first_logits, sizeof first_logits) == 0 ? 0 : -1;       \
    }

GREEDY(tiny_a, TINY_A, ma, arena_a, first_logits_a)
GREEDY(story_b, STORY_B, mb, arena_b, first_logits_b)

int main(int argc, char **argv) {
    if (argc != 4) return 2;
    int32_t a = atoi(argv[1]), b = atoi(argv[2]);
    int n = atoi(argv[3]);
    if (greedy_tiny_a(a, n) != 0 || greedy_story_b(b, n) != 0) return 1;
    if (stepped_tiny_a(a) != 0 || stepped_story_b(b) != 0) {
        printf("the step API differs from a plain feed\n");
        return 1;
    }
    printf("steps ok\n");
    return 0;
}
