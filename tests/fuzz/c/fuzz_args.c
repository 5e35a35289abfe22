/* fuzz_args.c - libFuzzer harness: the program's option parser (runtime/program/cli_args.c).
 *
 * Input: argv[1:] separated by NUL bytes (argv[0] is "prog").  The parser must return one of its
 * codes with a one-line message on failure, never crash or exit; --prompt-ids values it accepts are
 * then parsed as the program would (ids must land inside the vocabulary).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_args.h"

#define FUZZ_HARNESS "fuzz_args"
#include "fuzz_require.h"

#define N_VOCAB 512
#define MAX_CTX 64
#define MAX_ARGS 256

/* Splits a NUL-terminated copy of the input on NUL into argv; returns argc. */
static int split_args(char *buf, size_t size, char **argv) {
    int argc = 0;
    argv[argc++] = "prog";
    for (size_t at = 0; at <= size && argc < MAX_ARGS; at += strlen(buf + at) + 1) argv[argc++] = buf + at;
    return argc;
}

static void check_prompt_ids(const char *s) {
    int32_t ids[MAX_CTX];
    char err[512];
    int n_ids = -1;
    int n = edgec_cli_parse_prompt_ids(s, N_VOCAB, ids, MAX_CTX, &n_ids, err, sizeof(err));
    require(n >= -2 && n <= MAX_CTX, "parse_prompt_ids returns a count, -1 or -2");
    if (n == -1) require(err[0] != '\0', "a message says what is wrong");
    if (n == -2) require(n_ids > MAX_CTX, "too many ids is more than the room");
    for (int i = 0; i < n; i++) require(ids[i] >= 0 && ids[i] < N_VOCAB, "ids in the vocabulary");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *buf = malloc(size + 1);
    if (!buf) return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[MAX_ARGS + 1];
    int argc = split_args(buf, size, argv);
    argv[argc] = NULL;

    edgec_cli_options o;
    char err[256];
    memset(err, 'x', sizeof(err)); /* the parser must write a terminated message, not leave garbage */
    int rc = edgec_cli_parse_args(argc, argv, N_VOCAB, &o, err, sizeof(err));
    require(rc >= EDGEC_ARGS_OK && rc <= EDGEC_ARGS_BAD_WITH_USAGE, "a known return code");
    if (rc == EDGEC_ARGS_BAD || rc == EDGEC_ARGS_BAD_WITH_USAGE)
        require(memchr(err, '\0', sizeof(err)) != NULL && err[0], "a terminated, non-empty message");
    if (rc == EDGEC_ARGS_OK) {
        require(o.n_gen >= 0 && o.top_k >= 0 && o.top_k <= N_VOCAB && o.repeat_last_n >= 0, "counts in range");
        require(o.n_threads >= 1 && o.temperature >= 0.0f && o.top_p > 0.0f && o.top_p <= 1.0f, "settings in range");
        require(o.min_p >= 0.0f && o.min_p <= 1.0f && o.repeat_penalty > 0.0f, "settings in range");
        require(!(o.chat && (o.prompt || o.prompt_file || o.prompt_ids)), "--chat takes no prompt");
        if (o.prompt_ids) check_prompt_ids(o.prompt_ids);
        require(o.port >= 0 && o.port <= 65535 && o.max_queue >= 0 && o.timeout_s >= 1, "server settings in range");
        require(!o.server_flag_given || o.serve, "server flags only with --serve");
        require(!(o.serve && (o.prompt || o.prompt_file || o.prompt_ids || o.chat || o.tokenize)), "--serve takes no prompt");
    }
    free(buf);
    return 0;
}
