/* http.h - the HTTP side of the server on libmicrohttpd: routing, keys, body limits, errors, and
 * replies whole or streamed as server-sent events; generation itself is the engine's. */
#ifndef EDGEC_SRV_HTTP_H
#define EDGEC_SRV_HTTP_H

#include <stddef.h>

#include "server_context.h"

struct MHD_Daemon;

/* Serves ctx on the listening socket listen_fd (bound by the caller) from libmicrohttpd's own
 * thread; NULL with a reason in err on failure. */
struct MHD_Daemon *srv_http_start(srv_context *ctx, int listen_fd, unsigned max_connections, unsigned timeout_s,
                                  char *err, size_t err_len);

#endif
