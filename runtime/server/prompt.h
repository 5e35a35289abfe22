/* prompt.h - the prompt of a request as token ids: chat messages rendered in the model's chat format
 * (their text is plain text: special-token text in it stays text), or a completion prompt. */
#ifndef EDGEC_SRV_PROMPT_H
#define EDGEC_SRV_PROMPT_H

#include <cjson/cJSON.h>

#include "api_request.h"

/* messages -> j->prompt / j->n_prompt; 0, or -1 with err naming the message at fault. */
int srv_chat_prompt(const srv_api *api, const cJSON *messages, srv_job *j, srv_error *err);

/* prompt (a string, or a list holding one string) -> j->prompt / j->n_prompt. */
int srv_text_prompt(const srv_api *api, const cJSON *prompt, srv_job *j, srv_error *err);

#endif
