/* api_request.h - an OpenAI-style request body (JSON, parsed with cJSON) checked field by field and
 * turned into a job: sampling settings, stop strings and prompt token ids.  Every refusal names the
 * field; nothing here touches the model. */
#ifndef EDGEC_SRV_API_REQUEST_H
#define EDGEC_SRV_API_REQUEST_H

#include <stddef.h>

#include "api_error.h"
#include "job.h"
#include "tokenizer.h"

/* What the parser needs to know about the model. */
typedef struct {
    const edgec_tokenizer *tok;
    const edgec_chat_format *chat;   /* the model's chat format, or the plain transcript */
    const char *model_name;
    int max_ctx;
    srv_params defaults;             /* the program's command-line sampling flags */
} srv_api;

/* Fills j (kind, params, prompt) from the len bytes of body.  Returns 0, or -1 with err set:
 * 400 for a body or field that is not acceptable, 404 for another model's name. */
int srv_parse_job(const srv_api *api, srv_kind kind, const char *body, size_t len, srv_job *j, srv_error *err);

#endif
