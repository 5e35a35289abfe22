/* blobs.c - the fake model's linked-in data.  The tokenizer bytes come from
 * tokenizer_blob.inc (comma-separated bytes) that the test writes into its build
 * folder from compiler/edgec/tokenizer_blob.py. */
#include <stddef.h>

#include "model.h"

_Alignas(64) const unsigned char edgec_weights[EDGEC_WEIGHTS_BYTES] = EDGEC_FAKE_SIGNATURE;
const size_t edgec_weights_size = sizeof(edgec_weights);

const unsigned char edgec_tokenizer_blob[] = {
#include "tokenizer_blob.inc"
};
const size_t edgec_tokenizer_blob_size = sizeof(edgec_tokenizer_blob);
