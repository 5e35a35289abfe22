/* fuzz_tokenizer_bpe.c - libFuzzer harness: byte-level BPE encode/decode (see fuzz_tokenizer.h) with
 * the tiny SmolLM-style tokenizer of tests/tiny_models.py (blob_tiny_bpe.inc, made by seeds.py). */
#include "fuzz_tokenizer.h"

static const unsigned char blob[] = {
#include "blob_tiny_bpe.inc"
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static edgec_tokenizer *t;
    if (!t) t = fuzz_load_blob(blob, sizeof(blob));
    fuzz_tokenizer_text(t, data, size);
    return 0;
}
