/* edgec_blobs.h - the data an artifact links in next to its code.
 * Defined by the generated blobs.S (.incbin) or blobs.c (C array, small models). */
#ifndef EDGEC_BLOBS_H
#define EDGEC_BLOBS_H

extern const unsigned char edgec_weights[];        /* 64-byte aligned weights blob */
extern const unsigned char edgec_weights_end[];
extern const unsigned char edgec_tokenizer_blob[]; /* tokenizer (see tokenizer.h) */
extern const unsigned char edgec_tokenizer_blob_end[];

#endif
