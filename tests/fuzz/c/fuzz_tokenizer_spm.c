/* fuzz_tokenizer_spm.c - libFuzzer harness: SentencePiece BPE encode/decode (see fuzz_tokenizer.h) with
 * stories260K's tok512 tokenizer, byte fallback and dummy prefix (blob_tok512_spm.inc, made by seeds.py). */
#define FUZZ_HARNESS "fuzz_tokenizer_spm"
#define FUZZ_TOKENIZER_BLOB "blob_tok512_spm.inc"
#include "fuzz_tokenizer.h"
