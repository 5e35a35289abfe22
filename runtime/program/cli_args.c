/* cli_args.c - option parsing for the inference program: no printing, no exit (see cli_args.h). */
#define _POSIX_C_SOURCE 200809L /* sysconf */
#include "cli_args.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "threadpool.h"

void edgec_cli_print_usage(FILE *f, const char *prog) {
    fprintf(f,
        "usage: %s [options]\n"
        "  -p PROMPT             prompt text (default: start from BOS)\n"
        "  -f FILE               read the prompt from FILE (one trailing newline dropped)\n"
        "  -n N                  tokens to generate (default 256; 0 = only process the prompt)\n"
        "  -t TEMP               temperature (default 0.8; 0 = greedy)\n"
        "  --top-k K             keep the K most likely tokens (default 40; 0 = off)\n"
        "  --top-p P             nucleus sampling (default 0.95; 1 = off)\n"
        "  --min-p P             drop tokens below P times the top probability (default 0.05; 0 = off)\n"
        "  --repeat-penalty R    penalise recent tokens (default 1.0 = off)\n"
        "  --repeat-last-n N     how many recent tokens the penalty sees (default 64)\n"
        "  --seed S              random seed (default: from the clock; printed on stderr)\n"
        "  --threads N           worker threads (default: online CPUs, at most %d)\n"
        "  --chat                interactive chat: one user turn per stdin line\n"
        "  -s SYSTEM             system prompt for --chat\n"
        "  --ignore-eos          keep generating past stop tokens\n"
        "  --special             parse special-token text such as <|im_start|> in -p\n"
        "                        (never in --chat: what the user types is always plain text)\n"
        "  --print-ids           print generated token ids instead of text\n"
        "  --print-prompt-ids    print the token ids fed to the model (prompt, each chat turn) on stderr\n"
        "  --tokenize            print the token ids of each line of -f FILE and exit\n"
        "  --prompt-ids IDS      use comma-separated token ids as the whole prompt\n"
        "  --dump-logits FILE    write float32 logits of every prompt position and generated step\n"
        "  --timings-json FILE   write prefill/decode timings as JSON\n"
        "  --info                print the model's build information and exit\n"
        "  --serve               answer OpenAI-style HTTP requests (docs/server.md); the sampling\n"
        "                        flags above are the defaults of each request, -n its max_tokens\n"
        "  --host ADDR           address to listen on with --serve (default 127.0.0.1)\n"
        "  --port N              port to listen on with --serve (default 8080; 0 = any free port)\n"
        "  --api-key-file FILE   require a key: one name:key per line (or set EDGEC_API_KEY)\n"
        "  --max-queue N         requests that may wait for the model (default 16; more get 429)\n"
        "  --timeout S           seconds a client has to send a whole request (default 30)\n"
        "  -h, --help            show this help\n",
        prog, EDGEC_MAX_THREADS);
}

int edgec_cli_cpus_online(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > INT_MAX ? INT_MAX : (int)n;
}

/* Writes a message to err (when there is room) and returns code. */
static int fail(int code, char *err, size_t err_len, const char *fmt, ...) {
    if (err && err_len > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* ---- values ---- */

/* 0 and *out set, or -1. */
static int parse_int(const char *s, long min, long max, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return -1;
    *out = v;
    return 0;
}

static int parse_float(const char *s, float min, float max, float *out) {
    char *end;
    errno = 0;
    float v = strtof(s, &end);
    if (errno || end == s || *end || !(v >= min && v <= max)) return -1;
    *out = v;
    return 0;
}

static int parse_seed(const char *s, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || *s == '-') return -1;
    *out = (uint64_t)v;
    return 0;
}

static int default_threads(void) {
    int n = edgec_cli_cpus_online();
    return n > EDGEC_MAX_THREADS ? EDGEC_MAX_THREADS : n;
}

static void set_defaults(edgec_cli_options *o) {
    memset(o, 0, sizeof(*o));
    o->n_gen = 256;
    o->temperature = 0.8f;
    o->top_k = 40;
    o->top_p = 0.95f;
    o->min_p = 0.05f;
    o->repeat_penalty = 1.0f;
    o->repeat_last_n = 64;
    o->n_threads = default_threads();
    o->host = "127.0.0.1";
    o->port = 8080;
    o->max_queue = 16;
    o->timeout_s = 30;
}

/* ---- flags ---- */

/* Sets a flag that takes no value; returns 1 if a is one. */
static int set_switch(edgec_cli_options *o, const char *a) {
    int *flag = !strcmp(a, "--chat")             ? &o->chat
              : !strcmp(a, "--ignore-eos")       ? &o->ignore_eos
              : !strcmp(a, "--special")          ? &o->special
              : !strcmp(a, "--tokenize")         ? &o->tokenize
              : !strcmp(a, "--info")             ? &o->info
              : !strcmp(a, "--print-ids")        ? &o->print_ids
              : !strcmp(a, "--print-prompt-ids") ? &o->print_prompt_ids
              : !strcmp(a, "--serve")            ? &o->serve
              : NULL;
    if (flag) *flag = 1;
    return flag != NULL;
}

static int takes_value(const char *a) {
    static const char *const with_value[] = {
        "-p", "-f", "-n", "-t", "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty",
        "--repeat-last-n", "--seed", "--threads", "-s", "--system", "--prompt-ids",
        "--dump-logits", "--timings-json", "--host", "--port", "--api-key-file", "--max-queue", "--timeout"};
    for (size_t k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++)
        if (!strcmp(a, with_value[k])) return 1;
    return 0;
}

/* Integer flag a = v into *out; EDGEC_ARGS_OK or BAD with the message. */
static int set_int(int *out, const char *a, const char *v, long min, long max, char *err, size_t err_len) {
    long x;
    if (parse_int(v, min, max, &x) != 0)
        return fail(EDGEC_ARGS_BAD, err, err_len, "%s expects an integer in [%ld, %ld], got '%s'", a, min, max, v);
    *out = (int)x;
    return EDGEC_ARGS_OK;
}

static int set_float(float *out, const char *a, const char *v, float min, float max, char *err, size_t err_len) {
    if (parse_float(v, min, max, out) != 0)
        return fail(EDGEC_ARGS_BAD, err, err_len, "%s expects a number in [%g, %g], got '%s'", a, (double)min,
                    (double)max, v);
    return EDGEC_ARGS_OK;
}

/* Sets a server flag; returns -1 if a is not one. */
static int set_server_value(edgec_cli_options *o, const char *a, const char *v, char *err, size_t err_len) {
    if (!strcmp(a, "--host")) {
        if (!v[0]) return fail(EDGEC_ARGS_BAD, err, err_len, "--host needs an address, such as 127.0.0.1 or 0.0.0.0");
        o->host = v;
    }
    else if (!strcmp(a, "--api-key-file")) o->api_key_file = v;
    else if (!strcmp(a, "--port")) return set_int(&o->port, a, v, 0, 65535, err, err_len);
    else if (!strcmp(a, "--max-queue")) return set_int(&o->max_queue, a, v, 0, 4096, err, err_len);
    else if (!strcmp(a, "--timeout")) return set_int(&o->timeout_s, a, v, 1, 86400, err, err_len);
    else return -1;
    return EDGEC_ARGS_OK;
}

/* Sets the flag a (one that takes a value) to v. */
static int set_value(edgec_cli_options *o, const char *a, const char *v, char *err, size_t err_len) {
    int server_rc = set_server_value(o, a, v, err, err_len);
    if (server_rc != -1) {
        o->server_flag_given = 1;
        return server_rc;
    }
    if (!strcmp(a, "-p")) o->prompt = v;
    else if (!strcmp(a, "-f")) o->prompt_file = v;
    else if (!strcmp(a, "-s") || !strcmp(a, "--system")) o->system = v;
    else if (!strcmp(a, "--prompt-ids")) o->prompt_ids = v;
    else if (!strcmp(a, "--dump-logits")) o->dump_logits = v;
    else if (!strcmp(a, "--timings-json")) o->timings_json = v;
    else if (!strcmp(a, "-n")) return set_int(&o->n_gen, a, v, 0, INT_MAX, err, err_len);
    else if (!strcmp(a, "--top-k")) return set_int(&o->top_k, a, v, 0, INT_MAX, err, err_len);
    else if (!strcmp(a, "--repeat-last-n")) return set_int(&o->repeat_last_n, a, v, 0, INT_MAX, err, err_len);
    else if (!strcmp(a, "--threads")) {
        o->threads_given = 1;
        return set_int(&o->n_threads, a, v, 1, EDGEC_MAX_THREADS, err, err_len);
    }
    else if (!strcmp(a, "-t") || !strcmp(a, "--temp"))
        return set_float(&o->temperature, a, v, 0.0f, 100.0f, err, err_len);
    else if (!strcmp(a, "--top-p")) return set_float(&o->top_p, a, v, 1e-6f, 1.0f, err, err_len);
    else if (!strcmp(a, "--min-p")) return set_float(&o->min_p, a, v, 0.0f, 1.0f, err, err_len);
    else if (!strcmp(a, "--repeat-penalty")) return set_float(&o->repeat_penalty, a, v, 1e-3f, 1000.0f, err, err_len);
    else if (!strcmp(a, "--seed")) {
        if (parse_seed(v, &o->seed) != 0)
            return fail(EDGEC_ARGS_BAD, err, err_len, "--seed expects a non-negative integer, got '%s'", v);
        o->seed_given = 1;
    }
    return EDGEC_ARGS_OK;
}

/* The combinations of flags that make no sense. */
static int check_combinations(const edgec_cli_options *o, char *err, size_t err_len) {
    if (o->prompt && o->prompt_file)
        return fail(EDGEC_ARGS_BAD, err, err_len, "give the prompt with -p or -f, not both");
    if (o->prompt_ids && (o->prompt || o->prompt_file))
        return fail(EDGEC_ARGS_BAD, err, err_len, "--prompt-ids replaces -p/-f; give only one of them");
    if (o->tokenize && !o->prompt_file)
        return fail(EDGEC_ARGS_BAD, err, err_len, "--tokenize needs the file to tokenize: --tokenize -f FILE");
    if (o->serve && (o->prompt || o->prompt_file || o->prompt_ids || o->chat || o->tokenize))
        return fail(EDGEC_ARGS_BAD, err, err_len,
                    "--serve takes its prompts over HTTP; drop -p/-f/--prompt-ids/--chat/--tokenize");
    if (o->serve && (o->dump_logits || o->timings_json || o->print_ids || o->print_prompt_ids))
        return fail(EDGEC_ARGS_BAD, err, err_len,
                    "--serve does not write --dump-logits/--timings-json/--print-ids/--print-prompt-ids; "
                    "its numbers are in GET /metrics");
    if (o->server_flag_given && !o->serve)
        return fail(EDGEC_ARGS_BAD, err, err_len,
                    "--host/--port/--api-key-file/--max-queue/--timeout are for the server: add --serve");
    if (o->chat && (o->prompt || o->prompt_file || o->prompt_ids))
        return fail(EDGEC_ARGS_BAD, err, err_len,
                    "--chat reads its turns from stdin; drop -p/-f/--prompt-ids (use -s for a system prompt)");
    return EDGEC_ARGS_OK;
}

int edgec_cli_parse_args(int argc, char **argv, int n_vocab, edgec_cli_options *o, char *err, size_t err_len) {
    set_defaults(o);
    if (err && err_len > 0) err[0] = '\0';
    const char *prog = argc > 0 && argv[0] ? argv[0] : "edgec-program";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) return EDGEC_ARGS_HELP;
        if (set_switch(o, a)) continue;
        if (!takes_value(a))
            return fail(EDGEC_ARGS_BAD_WITH_USAGE, err, err_len, "unknown option '%s'; see the usage below", a);
        if (i + 1 >= argc) return fail(EDGEC_ARGS_BAD, err, err_len, "%s needs a value; see %s --help", a, prog);
        int rc = set_value(o, a, argv[++i], err, err_len);
        if (rc != EDGEC_ARGS_OK) return rc;
    }
    int rc = check_combinations(o, err, err_len);
    if (rc != EDGEC_ARGS_OK) return rc;
    if (o->top_k > n_vocab) o->top_k = 0; /* keeping more than the vocabulary is keeping all */
    return EDGEC_ARGS_OK;
}

int edgec_cli_parse_prompt_ids(const char *s, int n_vocab, int32_t *out, int cap, int *n_ids, char *err,
                               size_t err_len) {
    int n = 0;
    while (*s) {
        char *end;
        errno = 0;
        long id = strtol(s, &end, 10);
        if (errno || end == s || id < 0 || id >= n_vocab)
            return fail(-1, err, err_len, "--prompt-ids expects comma-separated token ids in [0, %d), got '%s'",
                        n_vocab, s);
        if (n == cap) {
            int total = n;
            for (const char *c = s; *c; c++) total += *c == ',';
            *n_ids = total + 1;
            return -2;
        }
        out[n++] = (int32_t)id;
        s = end;
        if (*s == ',') s++;
        else if (*s) return fail(-1, err, err_len, "--prompt-ids expects comma-separated token ids, got '%s'", s);
    }
    if (n == 0) return fail(-1, err, err_len, "--prompt-ids needs at least one token id");
    *n_ids = n;
    return n;
}
