/* edgec_blobs.h - the data an artifact links in next to its code.
 * Defined by the generated blobs.S (.incbin, large models) or blobs.c (C arrays,
 * small models): see docs/artifacts.md.  Use the _size constants, not the array
 * bounds, to know how long each blob is. */
#ifndef EDGEC_BLOBS_H
#define EDGEC_BLOBS_H

#include <stddef.h>

extern const unsigned char edgec_weights[];        /* 64-byte aligned weights blob */
extern const size_t edgec_weights_size;
extern const unsigned char edgec_tokenizer_blob[]; /* tokenizer (see tokenizer.h) */
extern const size_t edgec_tokenizer_blob_size;

#endif
