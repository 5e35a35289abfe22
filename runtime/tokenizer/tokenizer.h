/* tokenizer.h - text <-> token ids for a generated model, driven by a tokenizer blob.
 *
 * The blob is made at compile time by compiler/edgec/tokenizer_blob.py (format in
 * docs/tokenizer.md).  Two kinds are supported: GPT-2 style byte-level BPE (SmolLM2,
 * Llama-3, Qwen2) and SentencePiece-style BPE with byte fallback (Llama-2, llama2.c).
 * All functions are safe to call from several threads on one loaded tokenizer.
 */
#ifndef EDGEC_TOKENIZER_H
#define EDGEC_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct edgec_tokenizer edgec_tokenizer;

/* Parses a tokenizer blob (made by compiler/edgec/tokenizer_blob.py). Returns NULL and
 * writes a one-line reason to err on failure. May malloc; the blob may be freed afterwards. */
edgec_tokenizer *edgec_tokenizer_load(const unsigned char *blob, size_t len, char *err, size_t err_len);
void edgec_tokenizer_free(edgec_tokenizer *t);

int edgec_tokenizer_n_vocab(const edgec_tokenizer *t);
int edgec_tokenizer_bos(const edgec_tokenizer *t);     /* -1 if none */
int edgec_tokenizer_eos(const edgec_tokenizer *t);
int edgec_tokenizer_add_bos(const edgec_tokenizer *t); /* 1 if prompts start with BOS */

/* 1 if generating this token should stop generation: eos, eot, or any control token. */
int edgec_tokenizer_is_stop(const edgec_tokenizer *t, int id);

/* Encodes len bytes of text (any bytes, invalid UTF-8 included). If parse_special, the text
 * of control/user-defined special tokens (e.g. "<|im_start|>") is matched and emitted as that
 * token, as the HF tokenizers library does for special added tokens. Writes at most cap ids;
 * returns the number of ids the full encoding needs (so a return > cap means "too small, call
 * again"), or -1 on error. Does not add BOS: callers do that. */
int edgec_tokenizer_encode(const edgec_tokenizer *t, const char *text, size_t len, int parse_special,
                           int32_t *out, int cap);

/* A byte range [start, end) of a text. */
typedef struct {
    size_t start, end;
} edgec_text_span;

/* As edgec_tokenizer_encode, but special-token text is matched only where it lies wholly inside
 * one of the n_spans spans (sorted, not overlapping, within len): a chat turn marks its template
 * markers so, and what the user typed stays plain text however it reads.  The text between special
 * tokens is encoded as one run across span edges, so ordinary text gives the same ids as one
 * parse_special encode of the whole.  If dropped is not NULL it gets the number of input bytes the
 * vocabulary has no token for (not even a byte or <unk> token), which the encoding leaves out. */
int edgec_tokenizer_encode_spans(const edgec_tokenizer *t, const char *text, size_t len,
                                 const edgec_text_span *special_spans, int n_spans, int32_t *out, int cap,
                                 size_t *dropped);

/* The bytes a token stands for (byte-level/byte-fallback already decoded; "▁" already a
 * space). Control tokens give their text. An out-of-range id gives "" (len 0). */
const char *edgec_tokenizer_piece(const edgec_tokenizer *t, int id, size_t *len);

/* Decodes ids into out (NUL-terminated if room); returns bytes needed excluding NUL.
 * Applies the SentencePiece rule that the dummy-prefix space of the first token is dropped
 * when add_space_prefix is set, so decode(encode(s)) == s. */
size_t edgec_tokenizer_decode(const edgec_tokenizer *t, const int32_t *ids, int n, char *out, size_t cap);

/* Chat format derived at compile time from the model's chat template. Strings are
 * NUL-terminated, may be empty. has_chat is 0 if the model has no template (then --chat
 * uses a plain "User: ...\nAssistant:" fallback, decided by the CLI).
 * A conversation is rendered as: bos_text + (system_prefix + sys + system_suffix, if sys or
 * default_system non-empty) + for each turn: user_prefix + msg + user_suffix +
 * assistant_prefix + [model reply] + assistant_suffix. */
typedef struct {
    int has_chat;
    const char *bos_text;       /* text emitted once at the very start of a conversation (e.g. "<s>"), often "" */
    const char *system_prefix, *system_suffix;
    const char *user_prefix, *user_suffix;
    const char *assistant_prefix, *assistant_suffix;
    const char *default_system; /* system message the template inserts when none is given, "" if none */
} edgec_chat_format;

const edgec_chat_format *edgec_tokenizer_chat(const edgec_tokenizer *t);

#ifdef __cplusplus
}
#endif
#endif
