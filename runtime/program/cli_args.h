/* cli_args.h - the inference program's command line, parsed without a model.
 *
 * Kept apart from cli_main.c so the parser links (and is fuzzed) on its own: nothing here
 * prints or exits.  A failure returns an error code and a one-line message; the program
 * prints it and exits.
 */
#ifndef EDGEC_CLI_ARGS_H
#define EDGEC_CLI_ARGS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *prompt;        /* -p */
    const char *prompt_file;   /* -f */
    const char *prompt_ids;    /* --prompt-ids "1,2,3" */
    const char *system;        /* -s */
    int n_gen;
    float temperature;
    int top_k;
    float top_p;
    float min_p;
    float repeat_penalty;
    int repeat_last_n;
    uint64_t seed;
    int seed_given;
    int n_threads;
    int threads_given;         /* --threads was on the command line */
    int chat, ignore_eos, special, tokenize, info, print_ids, print_prompt_ids;
    const char *dump_logits;   /* --dump-logits FILE */
    const char *timings_json;  /* --timings-json FILE */
    int serve;                 /* --serve: answer OpenAI-style HTTP requests (runtime/server) */
    const char *host;          /* --host ADDR, default 127.0.0.1 */
    int port;                  /* --port N, default 8080 */
    const char *api_key_file;  /* --api-key-file FILE: one name:key per line */
    int max_queue;             /* --max-queue N: requests waiting for the slot, default 16 */
    int timeout_s;             /* --timeout S: seconds a client has to send a whole request, default 30 */
    int server_flag_given;     /* one of --host/--port/--api-key-file/--max-queue/--timeout was given */
} edgec_cli_options;

/* What edgec_cli_parse_args found. */
enum {
    EDGEC_ARGS_OK = 0,
    EDGEC_ARGS_HELP = 1,          /* -h/--help: print the usage on stdout, exit 0 */
    EDGEC_ARGS_BAD = 2,           /* print the one-line message, exit 2 */
    EDGEC_ARGS_BAD_WITH_USAGE = 3 /* an unknown option: print the message and the usage on stderr, exit 2 */
};

/* Parses argv into *o for a model with n_vocab tokens.  Returns an EDGEC_ARGS_* code; on
 * EDGEC_ARGS_BAD* err holds the message without "error: " and without a newline. */
int edgec_cli_parse_args(int argc, char **argv, int n_vocab, edgec_cli_options *o, char *err, size_t err_len);

/* Parses "1,2,3" (token ids in [0, n_vocab)) into out (room for cap).  Returns the count,
 * -1 with a message in err on bad input, or -2 if there are more than cap ids (then *n_ids
 * holds how many the text names). */
int edgec_cli_parse_prompt_ids(const char *s, int n_vocab, int32_t *out, int cap, int *n_ids, char *err,
                               size_t err_len);

void edgec_cli_print_usage(FILE *f, const char *prog);

/* The CPUs online (at least 1). */
int edgec_cli_cpus_online(void);

#endif
