/* server.h - the program's OpenAI-compatible HTTP server (--serve; docs/server.md).
 *
 * A layer on the same C API as the CLI: the model core knows nothing of it.  It needs libmicrohttpd
 * and cJSON; a program built without them (EDGEC_WITH_SERVER undefined) still links, and
 * edgec_server_run then says how to get a server and returns 2. */
#ifndef EDGEC_SERVER_H
#define EDGEC_SERVER_H

#include "edgec_model_api.h"
#include "tokenizer.h"

typedef struct {
    edgec_model *model;          /* loaded, with its parallel-for set; the server's engine thread drives it */
    const edgec_tokenizer *tok;
    const char *host;            /* address to listen on */
    int port;                    /* 0 = any free port (the one chosen is printed) */
    const char *api_key_file;    /* NULL: EDGEC_API_KEY alone, or no key */
    int max_queue;               /* requests that may wait for the slot */
    int timeout_s;               /* seconds a client has to send a whole request */
    /* each request's defaults: the program's sampling flags */
    float temperature, top_p, min_p, repeat_penalty;
    int top_k, repeat_last_n, max_tokens, ignore_eos;
} edgec_server_config;

/* 1 if this program was built with the server. */
int edgec_server_built_in(void);

/* Serves until SIGINT or SIGTERM.  Returns the program's exit code: 0 after a signal, 1 if the
 * server cannot start (the reason printed on stderr), 2 if this build has no server. */
int edgec_server_run(const edgec_server_config *cfg);

#endif
