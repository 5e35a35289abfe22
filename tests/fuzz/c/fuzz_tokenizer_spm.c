/* fuzz_tokenizer_spm.c - libFuzzer harness: SentencePiece BPE encode/decode (see fuzz_tokenizer.h) with
 * stories260K's tok512 tokenizer, byte fallback and dummy prefix (blob_tok512_spm.inc, made by seeds.py). */
#include "fuzz_tokenizer.h"

static const unsigned char blob[] = {
#include "blob_tok512_spm.inc"
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static edgec_tokenizer *t;
    if (!t) t = fuzz_load_blob(blob, sizeof(blob));
    fuzz_tokenizer_text(t, data, size);
    return 0;
}
