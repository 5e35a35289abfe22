/* api_response.h - the JSON the server answers with, in OpenAI's shapes: errors, the model list, a
 * whole chat.completion / text_completion, and the chunks of a streamed one.  Each returns a string
 * to free(), or NULL when memory runs out. */
#ifndef EDGEC_SRV_API_RESPONSE_H
#define EDGEC_SRV_API_RESPONSE_H

#include <stddef.h>

#include "api_error.h"
#include "job.h"

/* What a reply says besides its text. */
typedef struct {
    const char *model;
    int n_prompt, n_cached, n_gen;
    srv_finish finish;
} srv_reply_info;

char *srv_json_error(const srv_error *e);
char *srv_json_model(const char *name, long long created);        /* one model object */
char *srv_json_models(const char *name, long long created);       /* {"object": "list", "data": [...]} */
char *srv_json_health(int ready);

/* The whole reply of a request that did not stream. */
char *srv_json_reply(const srv_job *j, const srv_reply_info *info, const char *text, size_t len);

/* One streamed chunk: the role (chat's first chunk), some text, or the finish reason. */
char *srv_json_chunk(const srv_job *j, const srv_reply_info *info, int with_role, const char *text, size_t len,
                     int with_finish);

/* The last streamed chunk when stream_options.include_usage is set: no choices, the usage. */
char *srv_json_usage_chunk(const srv_job *j, const srv_reply_info *info);

#endif
