/* server_context.h - what every part of the HTTP server shares: the model's description for the
 * request parser, the keys, the metrics, the engine and the connection watch. */
#ifndef EDGEC_SRV_CONTEXT_H
#define EDGEC_SRV_CONTEXT_H

#include <stddef.h>

#include "api_request.h"
#include "conn_watch.h"
#include "engine.h"
#include "keys.h"
#include "metrics.h"

#define SRV_MAX_BODY (1u << 20)   /* bytes of a request body; larger ones get 413 */

typedef struct {
    srv_api api;
    srv_keys keys;
    srv_metrics metrics;
    srv_engine *engine;
    srv_watch *watch;
    long long started;             /* unix seconds: the model's "created" */
    unsigned long long next_id;    /* request ids (the HTTP thread only) */
} srv_context;

#endif
