/* cli_main.c - the inference program: parse options, load the linked-in model,
 * encode the prompt, prefill, then sample and stream tokens (or chat turn by turn).
 * Everything is allocated once in load(); the per-token loop allocates nothing. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, getline, isatty */
#include <errno.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "chat_text.h"
#include "cli_args.h"
#include "edgec_model_api.h"
#include "sampler.h"
#include "server.h"
#include "threadpool.h"
#include "timing.h"
#include "tokenizer.h"

#define EXIT_USAGE 2 /* bad command line; 1 is for everything else */

typedef edgec_cli_options options;

typedef struct {
    int prompt_tokens, gen_tokens;
    double prefill_ms, ttft_ms, decode_ms;
    double *token_ms;          /* one latency per generated token, EDGEC_MAX_CTX of room */
} stats;

/* Everything the program holds; static so it is allocated once and reachable until exit. */
typedef struct {
    edgec_model model;
    edgec_tokenizer *tok;
    edgec_threadpool *pool;
    edgec_sampler sampler;
    void *arena;
    void *sampler_scratch;
    int32_t *tokens;           /* the tokens in the KV cache, in order (EDGEC_MAX_CTX) */
    float *logits;             /* the row the sampler may modify (EDGEC_N_VOCAB) */
    float *batch_logits;       /* EDGEC_MAX_BATCH rows for --dump-logits */
    char *text;                /* prompt file contents / one chat turn */
    size_t text_cap;
    FILE *dump;
    int prev_token;            /* last token fed, to drop the space a BOS-following piece starts with */
    int stdout_mid_line;       /* the last byte written to stdout was not a newline */
    stats st;
} runner;

static runner R;

/* ---- errors, warnings and stdout ---- */

/* 1 if stdout and stderr reach the same file, terminal or pipe (their lines interleave). */
static int stderr_shares_stdout(void) {
    struct stat out, err;
    if (fstat(STDOUT_FILENO, &out) != 0 || fstat(STDERR_FILENO, &err) != 0) return 1;
    return out.st_dev == err.st_dev && out.st_ino == err.st_ino;
}

/* Makes what goes to stderr next start on a line of its own: flushes stdout and, where the two
 * interleave and stdout stopped mid-line (a reply cut short), ends that line on stderr. */
static void begin_stderr_line(void) {
    fflush(stdout);
    if (R.stdout_mid_line && stderr_shares_stdout()) {
        fputc('\n', stderr);
        R.stdout_mid_line = 0;
    }
}

static void die(int code, const char *fmt, ...) {
    va_list ap;
    begin_stderr_line();
    fputs("error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(code);
}

static void warn(const char *fmt, ...) {
    va_list ap;
    begin_stderr_line();
    fputs("warning: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Writes bytes to stdout and remembers whether they ended a line. */
static void write_stdout(const char *bytes, size_t len) {
    if (len == 0) return;
    fwrite(bytes, 1, len, stdout);
    R.stdout_mid_line = bytes[len - 1] != '\n';
}

static void end_stdout_line(void) { write_stdout("\n", 1); }

/* ---- options ---- */

/* The parsed command line; prints the usage or the one-line error and exits when it is not good. */
static options parse_args_or_exit(int argc, char **argv) {
    options o;
    char err[4096];
    int rc = edgec_cli_parse_args(argc, argv, EDGEC_N_VOCAB, &o, err, sizeof(err));
    if (rc == EDGEC_ARGS_HELP) {
        edgec_cli_print_usage(stdout, argv[0]);
        exit(0);
    }
    if (rc == EDGEC_ARGS_BAD_WITH_USAGE) {
        fprintf(stderr, "error: %s\n", err);
        edgec_cli_print_usage(stderr, argv[0]);
        exit(EXIT_USAGE);
    }
    if (rc != EDGEC_ARGS_OK) die(EXIT_USAGE, "%s", err);
    return o;
}

/* More threads than CPUs makes every parallel step wait for descheduled threads. */
static void warn_if_oversubscribed(const options *o) {
    int cpus = edgec_cli_cpus_online();
    if (o->threads_given && o->n_threads > cpus)
        warn("--threads %d is more than the %d CPUs online; the extra threads make generation much slower, "
             "use --threads %d or fewer", o->n_threads, cpus, cpus);
}

/* ---- loading ---- */

static void print_info(void) {
    const edgec_model_info *info = edgec_model_get_info();
    printf("name: %s\n", info->name);
    printf("target: %s\n", info->target);
    printf("vocab: %d\n", info->n_vocab);
    printf("ctx: %d\n", info->max_ctx);
    printf("batch: %d\n", info->max_batch);
    printf("arena_bytes: %zu\n", info->arena_bytes);
    printf("weights_bytes: %zu\n", info->weights_bytes);
    printf("kernels: %s\n", info->kernels);
    printf("server: %s\n", edgec_server_built_in() ? "yes" : "no (built without libmicrohttpd/cJSON)");
}

static void load_tokenizer(void) {
    char err[256] = "";
    R.tok = edgec_tokenizer_load(edgec_tokenizer_blob, edgec_tokenizer_blob_size, err, sizeof(err));
    if (!R.tok) die(1, "cannot load the tokenizer blob (%s); free some memory, or rebuild the program with edgec compile if the blob is damaged", err);
}

static void *alloc_or_die(size_t bytes, const char *what) {
    void *p = malloc(bytes ? bytes : 1);
    if (!p) die(1, "cannot allocate %zu bytes for %s; free some memory", bytes, what);
    return p;
}

static uint64_t clock_seed(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec) ^ ((uint64_t)getpid() << 32);
}

/* Allocates the arena and every buffer, binds the model, starts the pool and the sampler. */
static void load(options *o) {
    size_t arena_bytes = ((size_t)EDGEC_ARENA_BYTES + 63) / 64 * 64; /* aligned_alloc wants a multiple */
    R.arena = aligned_alloc(64, arena_bytes);
    if (!R.arena)
        die(1, "cannot allocate the %zu-byte model arena; free some memory or recompile with a smaller --ctx",
            arena_bytes);
    int rc = edgec_model_init(&R.model, R.arena, arena_bytes, edgec_weights, edgec_weights_size);
    if (rc == -1) die(1, "the model rejected its %zu-byte arena; rebuild the program with edgec compile", arena_bytes);
    if (rc != 0) die(1, "the weights blob (%zu bytes) does not match the model code; rebuild the program with edgec compile",
                     edgec_weights_size);

    if (o->n_threads > 1) {
        R.pool = edgec_threadpool_create(o->n_threads);
        if (!R.pool) die(1, "cannot start %d threads; use fewer with --threads", o->n_threads);
        edgec_model_set_parallel(&R.model, edgec_threadpool_run, R.pool, o->n_threads);
    } else {
        edgec_model_set_parallel(&R.model, NULL, NULL, 1);
    }

    size_t scratch_bytes = edgec_sampler_scratch_bytes(EDGEC_N_VOCAB);
    R.sampler_scratch = alloc_or_die(scratch_bytes, "the sampler");
    if (!o->seed_given) o->seed = clock_seed();
    if (edgec_sampler_init(&R.sampler, EDGEC_N_VOCAB, o->temperature, o->top_k, o->top_p, o->min_p,
                           o->repeat_penalty, o->repeat_last_n, o->seed, R.sampler_scratch, scratch_bytes) != 0)
        die(EXIT_USAGE, "the sampling options are out of range; see --help");

    R.tokens = alloc_or_die(sizeof(int32_t) * EDGEC_MAX_CTX, "the token buffer");
    R.logits = alloc_or_die(sizeof(float) * EDGEC_N_VOCAB, "the logits buffer");
    R.st.token_ms = alloc_or_die(sizeof(double) * EDGEC_MAX_CTX, "the timings");
    R.prev_token = -1;
    if (o->dump_logits) {
        R.batch_logits = alloc_or_die(sizeof(float) * EDGEC_MAX_BATCH * EDGEC_N_VOCAB, "the logits dump");
        R.dump = fopen(o->dump_logits, "wb");
        if (!R.dump) die(1, "cannot open %s for writing: %s", o->dump_logits, strerror(errno));
    }
}

/* ---- prompt ---- */

/* Makes R.text hold at least cap bytes (outside the token loop only). */
static void reserve_text(size_t cap) {
    if (cap <= R.text_cap) return;
    char *p = realloc(R.text, cap);
    if (!p) die(1, "cannot allocate %zu bytes for the prompt text; free some memory", cap);
    R.text = p;
    R.text_cap = cap;
}

/* Reads a whole file into R.text; returns its length. */
static size_t read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die(1, "cannot open %s: %s", path, strerror(errno));
    size_t len = 0;
    reserve_text(4096);
    for (;;) {
        len += fread(R.text + len, 1, R.text_cap - len - 1, f);
        if (len + 1 < R.text_cap) break;
        reserve_text(R.text_cap * 2);
    }
    int failed = ferror(f);
    fclose(f);
    if (failed) die(1, "cannot read %s", path);
    R.text[len] = '\0';
    return len;
}

static void die_too_long(const char *what, int n_tokens) {
    die(1, "%s has %d tokens but the model was compiled with --ctx %d; recompile with a larger --ctx",
        what, n_tokens, EDGEC_MAX_CTX);
}

/* Encodes text after the n_before tokens already in R.tokens, with special-token text matched only
 * inside the given spans; warns about bytes the vocabulary cannot encode.  Returns the new total. */
static int encode_after(int n_before, const char *text, size_t len, const edgec_text_span *special_spans,
                        int n_spans, const char *what) {
    int cap = EDGEC_MAX_CTX - n_before;
    size_t dropped = 0;
    int need = edgec_tokenizer_encode_spans(R.tok, text, len, special_spans, n_spans, R.tokens + n_before, cap,
                                            &dropped);
    if (need < 0) die(1, "the tokenizer cannot encode the %s; check that it is valid text", what);
    if (need > cap) die_too_long(what, n_before + need);
    if (dropped > 0)
        warn("%zu byte%s of the %s (invalid UTF-8, or characters this model's vocabulary cannot spell) %s no token "
             "and %s dropped; the model does not see %s", dropped, dropped == 1 ? "" : "s", what,
             dropped == 1 ? "has" : "have", dropped == 1 ? "was" : "were", dropped == 1 ? "it" : "them");
    return n_before + need;
}

/* Parses --prompt-ids into R.tokens; returns the count. */
static int parse_prompt_ids(const char *s) {
    char err[4096];
    int n_ids = 0;
    int n = edgec_cli_parse_prompt_ids(s, EDGEC_N_VOCAB, R.tokens, EDGEC_MAX_CTX, &n_ids, err, sizeof(err));
    if (n == -2) die_too_long("prompt", n_ids);
    if (n < 0) die(EXIT_USAGE, "%s", err);
    return n;
}

/* Puts the prompt's tokens in R.tokens; returns how many. */
static int encode_prompt(const options *o) {
    if (o->prompt_ids) return parse_prompt_ids(o->prompt_ids);
    const char *text = o->prompt ? o->prompt : "";
    size_t len = strlen(text);
    if (o->prompt_file) {
        len = read_file(o->prompt_file);
        if (len > 0 && R.text[len - 1] == '\n') R.text[--len] = '\0'; /* editors add one */
        text = R.text;
    }
    int bos = edgec_tokenizer_bos(R.tok);
    int n = 0;
    if (bos >= 0 && (len == 0 || edgec_tokenizer_add_bos(R.tok))) R.tokens[n++] = bos;
    if (len == 0 && n == 0) die(EXIT_USAGE, "the prompt is empty and the tokenizer has no BOS token; give a prompt with -p");
    edgec_text_span whole = {0, len}; /* --special: the whole prompt may hold special-token text */
    n = encode_after(n, text, len, &whole, o->special ? 1 : 0, "prompt");
    if (n == 0) die(EXIT_USAGE, "the prompt encodes to no tokens; give a longer prompt");
    return n;
}

/* --print-prompt-ids: the ids about to be fed, one line on stderr. */
static void show_fed_ids(int from, int to) {
    begin_stderr_line();
    fputs("prompt ids:", stderr);
    for (int i = from; i < to; i++) fprintf(stderr, " %d", R.tokens[i]);
    fputc('\n', stderr);
}

/* ---- prefill and generation ---- */

static void write_logits(const float *rows, int n_rows) {
    if (fwrite(rows, sizeof(float) * EDGEC_N_VOCAB, (size_t)n_rows, R.dump) != (size_t)n_rows)
        die(1, "cannot write the logits dump; check the disk space");
}

/* Feeds R.tokens[from, to) and returns the last logits; dumps every row when asked. */
static const float *prefill(int from, int to) {
    double t0 = edgec_now_ms();
    const float *last = NULL;
    if (!R.dump) {
        last = edgec_model_feed(&R.model, R.tokens + from, to - from, NULL);
    } else {
        for (int i = from; i < to; i += EDGEC_MAX_BATCH) {
            int n = to - i < EDGEC_MAX_BATCH ? to - i : EDGEC_MAX_BATCH;
            last = edgec_model_feed(&R.model, R.tokens + i, n, R.batch_logits);
            if (!last) break;
            write_logits(R.batch_logits, n);
        }
    }
    if (!last) die(1, "the model rejected the prompt tokens at position %d; check the token ids", from);
    R.st.prompt_tokens += to - from;
    R.st.prefill_ms += edgec_now_ms() - t0;
    R.prev_token = R.tokens[to - 1];
    return last;
}

/* Writes one token's text (or id) to stdout right away. */
static void emit_token(const options *o, int id, int first_in_reply) {
    if (o->print_ids) {
        char buf[16];
        int n = snprintf(buf, sizeof(buf), first_in_reply ? "%d" : " %d", id);
        write_stdout(buf, (size_t)n);
    } else {
        size_t len = 0;
        const char *piece = edgec_tokenizer_piece(R.tok, id, &len);
        if (piece && len > 0 && piece[0] == ' ' && R.prev_token >= 0 && R.prev_token == edgec_tokenizer_bos(R.tok)) {
            piece++; /* SentencePiece's leading space after BOS is not part of the text */
            len--;
        }
        if (piece && len > 0) write_stdout(piece, len);
    }
    fflush(stdout);
}

/* Samples and streams up to n_gen tokens after logits; t_start is when this reply's prefill began. */
static void generate(const options *o, const float *logits, double t_start) {
    int first_reply = R.st.gen_tokens == 0 && R.st.ttft_ms == 0.0;
    for (int i = 0; i < o->n_gen; i++) {
        int pos = edgec_model_pos(&R.model);
        if (pos >= EDGEC_MAX_CTX) {
            begin_stderr_line();
            fprintf(stderr, "note: stopped at the context limit of %d tokens; "
                            "recompile with a larger --ctx for longer outputs\n", EDGEC_MAX_CTX);
            break;
        }
        double t0 = edgec_now_ms();
        memcpy(R.logits, logits, sizeof(float) * EDGEC_N_VOCAB);
        int id = edgec_sample(&R.sampler, R.logits, R.tokens, pos);
        if (id == EDGEC_SAMPLE_NONFINITE)
            die(1, "the model produced non-finite logits (NaN or inf) at position %d; "
                   "the model file is likely corrupt: check its weights or download it again", pos - 1);
        if (!o->ignore_eos && edgec_tokenizer_is_stop(R.tok, id)) break;
        emit_token(o, id, i == 0);
        if (first_reply && i == 0) R.st.ttft_ms = edgec_now_ms() - t_start;
        R.tokens[pos] = id;
        logits = edgec_model_feed(&R.model, R.tokens + pos, 1, NULL);
        if (!logits) die(1, "the model rejected token %d at position %d", id, pos);
        R.prev_token = id;
        if (R.dump) write_logits(logits, 1);
        double dt = edgec_now_ms() - t0;
        if (R.st.gen_tokens < EDGEC_MAX_CTX) R.st.token_ms[R.st.gen_tokens] = dt;
        R.st.gen_tokens++;
        R.st.decode_ms += dt;
    }
    fflush(stdout);
}

/* ---- chat ---- */

static void strip_line_end(char *line, ssize_t *len) {
    while (*len > 0 && (line[*len - 1] == '\n' || line[*len - 1] == '\r')) line[--*len] = '\0';
}

static int is_blank(const char *s) {
    for (; *s; s++)
        if (*s != ' ' && *s != '\t') return 0;
    return 1;
}

/* The turn's text: conversation start (BOS, system) or the end of the previous reply, then the user's
 * message and the reply's opening; a BOS token id goes into R.tokens at *pos.  It is encoded as one
 * text (markers and content are not encoded apart), so ordinary text gives the ids it always gave,
 * also in the plain transcript whose markers hold no special tokens. */
static void render_turn(edgec_chat_text *turn, const edgec_chat_format *fmt, const options *o, int first_turn,
                        const char *line, size_t line_len, int *pos) {
    edgec_chat_text_clear(turn);
    int rc;
    if (first_turn) {
        if (edgec_chat_starts_with_bos_id(fmt, R.tok)) R.tokens[(*pos)++] = edgec_tokenizer_bos(R.tok);
        rc = edgec_chat_begin(turn, fmt, o->system, o->system ? strlen(o->system) : 0);
    } else {
        rc = edgec_chat_reply_close(turn, fmt);
    }
    if (rc == 0) rc = edgec_chat_user(turn, fmt, line, line_len);
    if (rc == 0) rc = edgec_chat_reply_open(turn, fmt);
    if (rc != 0) die(1, "cannot allocate memory for the chat turn; free some memory");
}

/* One user turn per stdin line; each reply is streamed and ended with a newline. */
static void chat_loop(const options *o) {
    const edgec_chat_format *fmt = edgec_chat_format_or_plain(R.tok);
    int interactive = isatty(STDIN_FILENO);
    char *line = NULL;
    size_t line_cap = 0;
    edgec_chat_text turn;
    edgec_chat_text_init(&turn);
    int first_turn = 1;
    for (;;) {
        if (interactive) {
            write_stdout("> ", 2);
            fflush(stdout);
        }
        ssize_t line_len = getline(&line, &line_cap, stdin);
        if (line_len < 0) {
            if (interactive) end_stdout_line(); /* leave the terminal on a fresh line */
            break;
        }
        if (interactive) R.stdout_mid_line = 0; /* the terminal echoed the user's newline */
        strip_line_end(line, &line_len);
        if (is_blank(line)) continue;

        int pos = edgec_model_pos(&R.model);
        render_turn(&turn, fmt, o, first_turn, line, (size_t)line_len, &pos);
        int start = edgec_model_pos(&R.model);
        int end = encode_after(pos, turn.text.p, turn.text.len, turn.markers, turn.n_markers, "conversation");
        if (end == start) continue; /* nothing to feed: an empty template and message */
        if (o->print_prompt_ids) show_fed_ids(start, end);
        double t0 = edgec_now_ms();
        const float *logits = prefill(start, end);
        generate(o, logits, t0);
        if (interactive) write_stdout("\n\n", 2);
        else end_stdout_line();
        fflush(stdout);
        first_turn = 0;
    }
    edgec_chat_text_free(&turn);
    free(line);
}

/* ---- --tokenize ---- */

/* Prints the ids of each line of path (no BOS, no special-token parsing), one line per line. */
static int tokenize_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) die(1, "cannot open %s: %s", path, strerror(errno));
    char *line = NULL;
    size_t line_cap = 0;
    int cap = 1024;
    int32_t *ids = alloc_or_die(sizeof(int32_t) * (size_t)cap, "token ids");
    ssize_t len;
    while ((len = getline(&line, &line_cap, f)) >= 0) {
        if (len > 0 && line[len - 1] == '\n') line[--len] = '\0';
        int n = edgec_tokenizer_encode(R.tok, line, (size_t)len, 0, ids, cap);
        if (n > cap) {
            cap = n;
            free(ids);
            ids = alloc_or_die(sizeof(int32_t) * (size_t)cap, "token ids");
            n = edgec_tokenizer_encode(R.tok, line, (size_t)len, 0, ids, cap);
        }
        if (n < 0) die(1, "the tokenizer cannot encode a line of %s; check that it is valid text", path);
        for (int i = 0; i < n; i++) printf(i ? " %d" : "%d", ids[i]);
        putchar('\n');
    }
    int failed = ferror(f);
    fclose(f);
    free(line);
    free(ids);
    if (failed) die(1, "cannot read %s", path);
    return 0;
}

/* ---- statistics ---- */

/* Printed once the prompt is known to be good, so a bad prompt gives a one-line error. */
static void print_seed(const options *o) {
    fprintf(stderr, "seed: %" PRIu64 "\n", o->seed);
}

static double per_second(int n, double ms) { return ms > 0.0 ? n * 1000.0 / ms : 0.0; }

static void print_stats(void) {
    fprintf(stderr, "prefill: %d tokens, %.2f tok/s | decode: %d tokens, %.2f tok/s | ttft: %.2f ms\n",
            R.st.prompt_tokens, per_second(R.st.prompt_tokens, R.st.prefill_ms),
            R.st.gen_tokens, per_second(R.st.gen_tokens, R.st.decode_ms), R.st.ttft_ms);
}

static void write_timings_json(const char *path, int n_threads) {
    FILE *f = fopen(path, "w");
    if (!f) die(1, "cannot open %s for writing: %s", path, strerror(errno));
    int n = R.st.gen_tokens < EDGEC_MAX_CTX ? R.st.gen_tokens : EDGEC_MAX_CTX;
    fprintf(f, "{\"prompt_tokens\": %d, \"gen_tokens\": %d, \"prefill_ms\": %.4f, \"ttft_ms\": %.4f, "
               "\"decode_ms\": %.4f, \"threads\": %d, \"token_ms\": [",
            R.st.prompt_tokens, R.st.gen_tokens, R.st.prefill_ms, R.st.ttft_ms, R.st.decode_ms, n_threads);
    for (int i = 0; i < n; i++) fprintf(f, i ? ", %.4f" : "%.4f", R.st.token_ms[i]);
    fputs("]}\n", f);
    if (fclose(f) != 0) die(1, "cannot write %s; check the disk space", path);
}

static void release(void) {
    if (R.dump && fclose(R.dump) != 0) die(1, "cannot write the logits dump; check the disk space");
    R.dump = NULL;
    edgec_threadpool_free(R.pool);
    edgec_tokenizer_free(R.tok);
    free(R.arena);
    free(R.sampler_scratch);
    free(R.tokens);
    free(R.logits);
    free(R.batch_logits);
    free(R.text);
    free(R.st.token_ms);
}

/* ---- --serve ---- */

/* Loads the model and answers HTTP requests until a signal; returns the exit code. */
static int serve(options *o) {
    if (!edgec_server_built_in()) return edgec_server_run(NULL); /* says how to get a server */
    load_tokenizer();
    warn_if_oversubscribed(o);
    load(o);
    edgec_server_config cfg = {
        .model = &R.model, .tok = R.tok, .host = o->host, .port = o->port, .api_key_file = o->api_key_file,
        .max_queue = o->max_queue, .timeout_s = o->timeout_s,
        .temperature = o->temperature, .top_p = o->top_p, .min_p = o->min_p, .repeat_penalty = o->repeat_penalty,
        .top_k = o->top_k, .repeat_last_n = o->repeat_last_n, .max_tokens = o->n_gen, .ignore_eos = o->ignore_eos,
    };
    int rc = edgec_server_run(&cfg);
    release();
    return rc;
}

int main(int argc, char **argv) {
    options o = parse_args_or_exit(argc, argv);
    if (o.info) {
        print_info();
        return 0;
    }
    if (o.serve) return serve(&o);
    load_tokenizer();
    if (o.tokenize) {
        int rc = tokenize_file(o.prompt_file);
        edgec_tokenizer_free(R.tok);
        return rc;
    }
    warn_if_oversubscribed(&o);
    load(&o);
    if (o.chat) {
        print_seed(&o);
        chat_loop(&o);
    } else {
        int n = encode_prompt(&o);
        print_seed(&o);
        if (o.print_prompt_ids) show_fed_ids(0, n);
        double t0 = edgec_now_ms();
        const float *logits = prefill(0, n);
        generate(&o, logits, t0);
        if (o.print_ids || o.n_gen > 0) end_stdout_line();
    }
    begin_stderr_line(); /* stdout is flushed first: its last newline is out before the statistics */
    print_stats();
    if (o.timings_json) write_timings_json(o.timings_json, o.n_threads);
    release();
    return 0;
}
