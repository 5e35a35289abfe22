/* fuzz_tokenizer_bpe.c - libFuzzer harness: byte-level BPE encode/decode (see fuzz_tokenizer.h) with
 * the tiny SmolLM-style tokenizer of tests/tiny_models.py (blob_tiny_bpe.inc, made by seeds.py). */
#define FUZZ_HARNESS "fuzz_tokenizer_bpe"
#define FUZZ_TOKENIZER_BLOB "blob_tiny_bpe.inc"
#include "fuzz_tokenizer.h"
