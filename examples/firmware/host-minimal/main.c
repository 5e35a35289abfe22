/* main.c - the smallest program around a firmware bundle, written as a firmware engineer would:
 * token ids in (the prompt, on the command line), greedy token ids out.  Bundle of
 * `edgec compile smollm2-135m` (prefix smollm2_135m); the Makefile says how to build it. */
#include <stdio.h>
#include <stdlib.h>

#include "model.h"

static smollm2_135m_model m;
static _Alignas(SMOLLM2_135M_ARENA_ALIGN) unsigned char arena[SMOLLM2_135M_ARENA_BYTES];

int main(int argc, char **argv) {
    int32_t prompt[64], n_prompt = 0, n = argc > 1 ? atoi(argv[1]) : 16;
    for (int i = 2; i < argc && n_prompt < 64; i++) prompt[n_prompt++] = atoi(argv[i]);
    if (smollm2_135m_model_init(&m, arena, sizeof arena, smollm2_135m_weights, smollm2_135m_weights_size) != 0)
        return 1;
    const float *logits = smollm2_135m_model_feed(&m, prompt, n_prompt, NULL);
    for (int i = 0; i < n && logits; i++) {
        int32_t best = 0;   /* greedy: the largest of SMOLLM2_135M_N_VOCAB logits */
        for (int32_t v = 1; v < SMOLLM2_135M_N_VOCAB; v++)
            if (logits[v] > logits[best]) best = v;
        printf("%d ", (int)best);
        logits = smollm2_135m_model_feed(&m, &best, 1, NULL);
    }
    printf("\n");
    return logits ? 0 : 1;
}
