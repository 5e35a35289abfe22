/* mcu_main.c - the firmware image's program: generates text with the model on a microcontroller and
 * writes it over semihosting (docs/firmware.md, "Cortex-M").  The model lives in the bundle (model.h,
 * read through edgec's generic names); its arena is a static array of exactly EDGEC_ARENA_BYTES.
 *
 * Flags, from the semihosting command line (`edgec run ARTIFACT FLAGS` puts them there):
 *   -n N               tokens to generate (default 256; 0 = only process the prompt)
 *   -p TEXT            prompt text, encoded with the tokenizer unit (default: start from BOS)
 *   --prompt-ids LIST  prompt token ids, comma-separated
 *   --print-ids        write token ids instead of text
 *   --ignore-eos       keep going past end-of-text tokens
 *   -t 0               greedy decoding, the only kind here (accepted for the CLI's command lines)
 * The last line reports the tokens generated and the stack used. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cmdline.h"
#include "model.h"
#include "semihosting.h"
#include "stack_watch.h"
#include "tokenizer.h"

enum { EXIT_USAGE = 2, MAX_WORDS = 64 };

typedef struct {
    long n_gen;
    const char *prompt;
    const char *prompt_ids;
    int print_ids;
    int ignore_eos;
} run_options;

typedef struct {
    int tokens;            /* generated */
    size_t model_stack;    /* bytes of stack below the generation loop: the model calls and the output */
    size_t total_stack;    /* bytes of stack used since reset */
} run_stats;

static edgec_model model;
static _Alignas(EDGEC_ARENA_ALIGN) unsigned char arena[EDGEC_ARENA_BYTES];
static int32_t tokens[EDGEC_MAX_CTX];
static char cmdline[1024];

static int fail(int status, const char *what, const char *detail) {
    semihost_write("firmware: ");
    semihost_write(what);
    semihost_write(detail);
    semihost_write("\n");
    return status;
}

static int parse_count(const char *text, long *out) {
    char *end;
    long v = strtol(text, &end, 10);
    if (end == text || *end || v < 0 || v > 1000000) return -1;
    *out = v;
    return 0;
}

/* Reads the flags; returns 0, or the exit status after a one-line complaint. */
static int parse_options(int argc, char **argv, run_options *o) {
    *o = (run_options){.n_gen = 256};
    for (int i = 1; i < argc; i++) {   /* argv[0] is the image's path */
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "--print-ids")) {
            o->print_ids = 1;
        } else if (!strcmp(a, "--ignore-eos")) {
            o->ignore_eos = 1;
        } else if (!strcmp(a, "-n") && has_value) {
            if (parse_count(argv[++i], &o->n_gen) != 0)
                return fail(EXIT_USAGE, "-n takes a token count from 0 to 1000000, not ", argv[i]);
        } else if ((!strcmp(a, "-t") || !strcmp(a, "--temp")) && has_value) {
            if (strcmp(argv[++i], "0") != 0 && strcmp(argv[i], "0.0") != 0)
                return fail(EXIT_USAGE, "the firmware image decodes greedily: -t takes only 0, not ", argv[i]);
        } else if (!strcmp(a, "-p") && has_value) {
            o->prompt = argv[++i];
        } else if (!strcmp(a, "--prompt-ids") && has_value) {
            o->prompt_ids = argv[++i];
        } else {
            return fail(EXIT_USAGE, "unknown flag or missing value: ", a);
        }
    }
    if (o->prompt && o->prompt_ids) return fail(EXIT_USAGE, "give -p or --prompt-ids, not both", "");
    return 0;
}

/* "1,2,3" into tokens; returns how many, or -1. */
static int parse_prompt_ids(const char *list) {
    int n = 0;
    for (const char *s = list; *s;) {
        char *end;
        long id = strtol(s, &end, 10);
        if (end == s || id < 0 || id >= EDGEC_N_VOCAB || n == EDGEC_MAX_CTX || (*end && *end != ',')) return -1;
        tokens[n++] = (int32_t)id;
        s = *end ? end + 1 : end;
    }
    return n;
}

/* The prompt's tokens into tokens[]; returns how many, or -1 after a complaint. */
static int encode_prompt(const run_options *o, const edgec_tokenizer *tok) {
    if (o->prompt_ids) {
        int n = parse_prompt_ids(o->prompt_ids);
        if (n <= 0) fail(EXIT_USAGE, "--prompt-ids takes comma-separated ids below the vocabulary size: ", o->prompt_ids);
        return n > 0 ? n : -1;
    }
    const char *text = o->prompt ? o->prompt : "";
    int bos = edgec_tokenizer_bos(tok), n = 0;
    if (bos >= 0 && (!*text || edgec_tokenizer_add_bos(tok))) tokens[n++] = bos;
    int needed = edgec_tokenizer_encode(tok, text, strlen(text), 0, tokens + n, EDGEC_MAX_CTX - n);
    if (needed < 0 || needed > EDGEC_MAX_CTX - n) {
        fail(EXIT_USAGE, "the prompt does not fit the context; give a shorter -p", "");
        return -1;
    }
    if (n + needed == 0) fail(EXIT_USAGE, "the prompt is empty and the tokenizer has no BOS token; give -p", "");
    return n + needed > 0 ? n + needed : -1;
}

static int32_t argmax(const float *logits) {
    int32_t best = 0;
    for (int32_t v = 1; v < EDGEC_N_VOCAB; v++)
        if (logits[v] > logits[best]) best = v;
    return best;
}

/* One token's text (or id) to the host right away. */
static void emit_token(const run_options *o, const edgec_tokenizer *tok, int32_t id, int32_t prev, int first) {
    if (o->print_ids) {
        if (!first) semihost_write(" ");
        semihost_write_int(id);
        return;
    }
    size_t len = 0;
    const char *piece = edgec_tokenizer_piece(tok, id, &len);
    if (len > 0 && piece[0] == ' ' && prev == edgec_tokenizer_bos(tok)) {
        piece++;   /* SentencePiece's leading space after BOS is not part of the text */
        len--;
    }
    semihost_write_bytes(piece, len);
}

/* Feeds the prompt, then decodes greedily; the stack below this frame is painted first, so what the
 * model calls use of it can be read afterwards.  Returns 0, or the exit status after a complaint. */
static int generate(const run_options *o, const edgec_tokenizer *tok, int n_prompt, run_stats *st) {
    size_t before = stack_used_below((uintptr_t)__stack_top);   /* since reset: parsing, init, the tokenizer */
    uintptr_t here = stack_paint_below_here();
    const float *logits = edgec_model_feed(&model, tokens, n_prompt, NULL);
    if (!logits) return fail(1, "the model refused the prompt tokens; check the token ids", "");
    int32_t prev = tokens[n_prompt - 1];
    for (st->tokens = 0; st->tokens < o->n_gen && edgec_model_pos(&model) < EDGEC_MAX_CTX; st->tokens++) {
        int32_t id = argmax(logits);
        if (!o->ignore_eos && edgec_tokenizer_is_stop(tok, id)) break;
        emit_token(o, tok, id, prev, st->tokens == 0);
        logits = edgec_model_feed(&model, &id, 1, NULL);
        if (!logits) return fail(1, "the model refused a generated token", "");
        prev = id;
    }
    st->model_stack = stack_used_below(here);
    size_t after = (size_t)((uintptr_t)__stack_top - here) + st->model_stack;
    st->total_stack = before > after ? before : after;
    return 0;
}

static void report(const run_stats *st) {
    semihost_write("\n[firmware] ");
    semihost_write_int(st->tokens);
    semihost_write(" tokens; stack used: ");
    semihost_write_int((long)st->model_stack);
    semihost_write(" bytes by generation (model.h bound: ");
    semihost_write_int((long)EDGEC_STACK_BYTES);
    semihost_write(" per model call), ");
    semihost_write_int((long)st->total_stack);
    semihost_write(" of ");
    semihost_write_int((long)stack_reserved());
    semihost_write(" bytes in all\n");
}

int main(void) {
    char *argv[MAX_WORDS];
    int argc = semihost_cmdline(cmdline, sizeof cmdline) == 0 ? cmdline_split(cmdline, argv, MAX_WORDS) : 0;
    if (argc < 0) return fail(EXIT_USAGE, "the command line has more than 63 words or an unclosed quote", "");
    run_options o;
    int status = parse_options(argc, argv, &o);
    if (status != 0) return status;
    if (edgec_model_init(&model, arena, sizeof arena, edgec_weights, edgec_weights_size) != 0)
        return fail(1, "the model refused its arena or weights; rebuild the image from one artifact", "");
    char err[160];
    edgec_tokenizer *tok = edgec_tokenizer_load(edgec_tokenizer_blob, edgec_tokenizer_blob_size, err, sizeof err);
    if (!tok) return fail(1, "cannot load the tokenizer: ", err);
    int n_prompt = encode_prompt(&o, tok);
    if (n_prompt < 0) return EXIT_USAGE;
    run_stats st = {0};
    status = generate(&o, tok, n_prompt, &st);
    if (status == 0) report(&st);
    return status;
}
