/* fuzz_tokenizer_blob.c - libFuzzer harness: the tokenizer blob loader on corrupt blobs.
 *
 * Input: a whole tokenizer.bin.  Loading must give a tokenizer or a one-line error; a blob that
 * loads must then encode and decode a fixed text (special parsing on and off) without a sanitizer
 * report, and every id it gives must be inside its vocabulary.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

#define FUZZ_HARNESS "fuzz_tokenizer_blob"
#include "fuzz_require.h"

static const char TEXT[] = "<s>Once upon a time <|im_start|>user\nhi<|im_end|> caf\xc3\xa9 \xff 123 it's  ";

static void encode_decode(const edgec_tokenizer *t, int parse_special) {
    int32_t ids[512];
    char out[2048];
    int n = edgec_tokenizer_encode(t, TEXT, sizeof(TEXT) - 1, parse_special, ids, 512);
    require(n >= -1, "encode returns a count or -1");
    if (n < 0) return;
    int kept = n < 512 ? n : 512;
    for (int i = 0; i < kept; i++) require(ids[i] >= 0 && ids[i] < edgec_tokenizer_n_vocab(t), "ids in the vocabulary");
    edgec_tokenizer_decode(t, ids, kept, out, sizeof(out));
    for (int i = 0; i < kept; i++) edgec_tokenizer_is_stop(t, ids[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char err[256] = "";
    edgec_tokenizer *t = edgec_tokenizer_load(data, size, err, sizeof(err));
    if (!t) {
        require(err[0] != '\0' && strchr(err, '\n') == NULL, "a failed load gives a one-line reason");
        return 0;
    }
    require(edgec_tokenizer_n_vocab(t) > 0, "a loaded tokenizer has tokens");
    encode_decode(t, 0);
    encode_decode(t, 1);
    const edgec_chat_format *chat = edgec_tokenizer_chat(t);
    require(chat && chat->bos_text && chat->user_prefix && chat->default_system, "chat strings are set");
    edgec_tokenizer_free(t);
    return 0;
}
