/* fuzz_tokenizer.h - the whole text harness; fuzz_tokenizer_bpe.c and fuzz_tokenizer_spm.c are
 * this with their blobs:
 *   #define FUZZ_HARNESS "fuzz_tokenizer_bpe"
 *   #define FUZZ_TOKENIZER_BLOB "blob_tiny_bpe.inc"   (comma-separated bytes, made by seeds.py)
 *   #include "fuzz_tokenizer.h"
 *
 * Input: one control byte, then the text.  The text is encoded with special-token parsing off,
 * on, and on only inside spans laid out by the control byte (c = 0: no spans; else spans of
 * (c & 15) + 1 bytes with (c >> 4) bytes between: what a chat turn's template markers look
 * like to the encoder).  Each encoding must give ids inside the vocabulary, drop no byte (both
 * blobs cover every byte), decode back to the text, answer the same size to a too-small buffer
 * without writing past it, and spans covering all / none must equal parsing on / off.
 * A violated property aborts, which libFuzzer reports as a crash.
 */
#ifndef FUZZ_TOKENIZER_H
#define FUZZ_TOKENIZER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"
#include "fuzz_require.h"

#ifndef FUZZ_TOKENIZER_BLOB
#error "define FUZZ_TOKENIZER_BLOB (the blob_*.inc file to fuzz) before including fuzz_tokenizer.h"
#endif

#define FUZZ_MAX_SPANS 4096

static edgec_tokenizer *fuzz_load_blob(const unsigned char *blob, size_t len) {
    char err[256];
    edgec_tokenizer *t = edgec_tokenizer_load(blob, len, err, sizeof(err));
    if (!t) {
        fprintf(stderr, FUZZ_HARNESS ": the linked-in blob does not load: %s\n", err);
        abort();
    }
    return t;
}

/* Encodes text with the given spans into a malloc'd array of exactly the size needed; *n gets the count. */
static int32_t *fuzz_encode(const edgec_tokenizer *t, const char *text, size_t len, const edgec_text_span *spans,
                            int n_spans, int *n) {
    size_t dropped = 1;
    int need = edgec_tokenizer_encode_spans(t, text, len, spans, n_spans, NULL, 0, &dropped);
    require(need >= 0, "encode succeeds");
    require(dropped == 0, "no byte is dropped by a tokenizer that covers every byte");
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)(need ? need : 1));
    require(ids != NULL, "memory for the ids");
    int half = need / 2; /* a buffer too small: the same answer, nothing written past it (ASan watches) */
    require(edgec_tokenizer_encode_spans(t, text, len, spans, n_spans, ids, half, NULL) == need,
                 "a too-small buffer gets the full size");
    require(edgec_tokenizer_encode_spans(t, text, len, spans, n_spans, ids, need, NULL) == need,
                 "the same size twice");
    for (int i = 0; i < need; i++)
        require(ids[i] >= 0 && ids[i] < edgec_tokenizer_n_vocab(t), "ids in the vocabulary");
    *n = need;
    return ids;
}

static void fuzz_check_round_trip(const edgec_tokenizer *t, const int32_t *ids, int n, const char *text, size_t len) {
    size_t need = edgec_tokenizer_decode(t, ids, n, NULL, 0);
    char *out = malloc(need + 1);
    require(out != NULL, "memory for the decoded text");
    require(edgec_tokenizer_decode(t, ids, n, out, need + 1) == need, "decode gives the same size twice");
    require(need == len && memcmp(out, text, len) == 0, "decode(encode(text)) == text");
    free(out);
}

static int same_ids(const int32_t *a, int na, const int32_t *b, int nb) {
    return na == nb && (na == 0 || memcmp(a, b, sizeof(int32_t) * (size_t)na) == 0);
}

/* The spans the control byte lays out over len bytes; returns how many. */
static int fuzz_spans(unsigned char c, size_t len, edgec_text_span *spans) {
    size_t span_len = (size_t)(c & 15) + 1, gap = (size_t)(c >> 4);
    int n = 0;
    for (size_t at = 0; c != 0 && at < len && n < FUZZ_MAX_SPANS; at += span_len + gap) {
        spans[n].start = at;
        spans[n].end = at + span_len < len ? at + span_len : len;
        n++;
    }
    return n;
}

static void fuzz_tokenizer_text(const edgec_tokenizer *t, const uint8_t *data, size_t size) {
    static edgec_text_span spans[FUZZ_MAX_SPANS];
    if (size == 0) return;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    edgec_text_span whole = {0, len};
    int n_plain, n_special, n_spans_ids, n_whole;
    int32_t *plain = fuzz_encode(t, text, len, NULL, 0, &n_plain);
    int32_t *special = fuzz_encode(t, text, len, &whole, 1, &n_special);
    int n_spans = fuzz_spans(data[0], len, spans);
    int32_t *spanned = fuzz_encode(t, text, len, spans, n_spans, &n_spans_ids);

    int32_t *via_flag = malloc(sizeof(int32_t) * (size_t)(n_special + n_plain + 1));
    require(via_flag != NULL, "memory");
    n_whole = edgec_tokenizer_encode(t, text, len, 1, via_flag, n_special);
    require(same_ids(via_flag, n_whole, special, n_special), "parse_special 1 == one span over the whole text");
    n_whole = edgec_tokenizer_encode(t, text, len, 0, via_flag, n_plain);
    require(same_ids(via_flag, n_whole, plain, n_plain), "parse_special 0 == no spans");

    fuzz_check_round_trip(t, plain, n_plain, text, len);
    fuzz_check_round_trip(t, special, n_special, text, len);
    fuzz_check_round_trip(t, spanned, n_spans_ids, text, len);
    free(plain);
    free(special);
    free(spanned);
    free(via_flag);
}

static const unsigned char fuzz_blob[] = {
#include FUZZ_TOKENIZER_BLOB
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static edgec_tokenizer *t;
    if (!t) t = fuzz_load_blob(fuzz_blob, sizeof(fuzz_blob));
    fuzz_tokenizer_text(t, data, size);
    return 0;
}

#endif
