/* http.c - the server's HTTP side on libmicrohttpd (see http.h).
 *
 * libmicrohttpd runs one thread that polls every connection; nothing here may block it.  A request
 * that waits for the engine suspends its connection (MHD_suspend_connection) and the engine's
 * wake-up resumes it (MHD_resume_connection, safe from any thread): a whole reply when the job
 * ends, or, when streaming, one server-sent event per batch of new text. */
#ifdef EDGEC_WITH_SERVER
#define _POSIX_C_SOURCE 200809L /* gmtime_r, clock_gettime */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>

#include <microhttpd.h>

#include "api_response.h"
#include "timing.h"

typedef struct {
    srv_context *ctx;
    struct MHD_Connection *conn;
    srv_watch_entry *watch;
    srv_endpoint ep;
    char method[8];
    char path[128];            /* for the log line: printable characters only */
    const char *model_id;      /* GET /v1/models/ID: the ID (in libmicrohttpd's copy of the URL) */
    int key;                   /* index of the request's API key, -1 if none */
    double t_start_ms;
    edgec_buf body;
    int body_too_large;
    int status;                /* the status answered, 0 until then */
    srv_job *job;
    /* streaming */
    edgec_buf events;            /* server-sent events not yet handed to libmicrohttpd */
    size_t events_sent;
    size_t text_sent;          /* bytes of the job's text already sent */
    int role_sent, end_sent;
} request;

/* ---- answering ---- */

static enum MHD_Result queue(request *rq, int status, const char *body, const char *content_type) {
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
                                rq->ep == SRV_EP_CHAT || rq->ep == SRV_EP_COMPLETIONS ? "POST" : "GET, HEAD");
    if (status == MHD_HTTP_UNAUTHORIZED) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ok = MHD_queue_response(rq->conn, (unsigned)status, r);
    MHD_destroy_response(r);
    if (ok == MHD_YES) rq->status = status;
    return ok;
}

/* Answers with a JSON string made by api_response.c (freed here); NULL means memory ran out. */
static enum MHD_Result queue_json(request *rq, int status, char *json) {
    if (!json) return queue(rq, 500, "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
                                     "\"param\":null,\"code\":null}}", "application/json");
    enum MHD_Result ok = queue(rq, status, json, "application/json");
    free(json);
    return ok;
}

static enum MHD_Result queue_error(request *rq, const srv_error *e) {
    return queue_json(rq, e->status, srv_json_error(e));
}

/* A short error: status, type, code, message. */
static enum MHD_Result refuse(request *rq, int status, const char *type, const char *code, const char *message) {
    srv_error e;
    srv_fail(&e, status, type, code, NULL, "%s", message);
    return queue_error(rq, &e);
}

/* ---- routing and checks done once the headers are in ---- */

/* The endpoint of path; /v1 may be left out, as llama-server allows. */
static srv_endpoint route(const char *url, const char **model_id) {
    const char *p = !strncmp(url, "/v1/", 4) ? url + 3 : url;
    *model_id = NULL;
    if (!strcmp(p, "/chat/completions")) return SRV_EP_CHAT;
    if (!strcmp(p, "/completions")) return SRV_EP_COMPLETIONS;
    if (!strcmp(p, "/models")) return SRV_EP_MODELS;
    if (!strncmp(p, "/models/", 8) && p[8]) {
        *model_id = p + 8;
        return SRV_EP_MODELS;
    }
    if (!strcmp(url, "/health")) return SRV_EP_HEALTH;
    if (!strcmp(url, "/metrics")) return SRV_EP_METRICS;
    return SRV_EP_OTHER;
}

static int method_allowed(srv_endpoint ep, const char *method) {
    if (ep == SRV_EP_CHAT || ep == SRV_EP_COMPLETIONS) return !strcmp(method, MHD_HTTP_METHOD_POST);
    return !strcmp(method, MHD_HTTP_METHOD_GET) || !strcmp(method, MHD_HTTP_METHOD_HEAD);
}

/* 0 when the request may go on: no keys configured, or a known key (its index in rq->key). */
static int check_key(request *rq, srv_error *err) {
    const srv_keys *keys = &rq->ctx->keys;
    if (keys->n == 0 || rq->ep == SRV_EP_HEALTH) return 0;
    const char *auth = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return srv_fail(err, 401, "invalid_request_error", "missing_api_key", NULL,
                        "this server needs an API key: send the header 'Authorization: Bearer KEY'");
    const char *key = auth + 7;
    while (*key == ' ') key++;
    rq->key = srv_keys_find(keys, key, strlen(key));
    if (rq->key < 0)
        return srv_fail(err, 401, "invalid_request_error", "invalid_api_key", NULL,
                        "the API key is not valid for this server");
    return 0;
}

/* A body the Content-Length says is too large is refused before it is read. */
static int announced_too_large(request *rq) {
    const char *len = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    return len && strtoull(len, NULL, 10) > SRV_MAX_BODY;
}

static enum MHD_Result answer_get(request *rq);

/* The first call for a request: its headers are in, its body (if any) not yet. */
static enum MHD_Result begin(request *rq, const char *url, const char *method) {
    rq->ep = route(url, &rq->model_id);
    if (rq->ep == SRV_EP_OTHER)
        return refuse(rq, 404, "invalid_request_error", "not_found",
                      "no such endpoint; this server has POST /v1/chat/completions, POST /v1/completions, "
                      "GET /v1/models, GET /health and GET /metrics");
    if (!method_allowed(rq->ep, method))
        return refuse(rq, 405, "invalid_request_error", "method_not_allowed",
                      "this endpoint does not take that method");
    srv_error err;
    if (check_key(rq, &err) != 0) return queue_error(rq, &err);
    if (rq->ep != SRV_EP_CHAT && rq->ep != SRV_EP_COMPLETIONS) return answer_get(rq);
    if (announced_too_large(rq))
        return refuse(rq, 413, "invalid_request_error", "body_too_large", "the request body is larger than 1 MiB");
    return MHD_YES;
}

/* ---- GET endpoints ---- */

static enum MHD_Result answer_metrics(request *rq) {
    edgec_buf text = {0};
    enum MHD_Result ok = srv_metrics_render(&rq->ctx->metrics, &text) == 0
                             ? queue(rq, 200, text.p, "text/plain; version=0.0.4; charset=utf-8")
                             : refuse(rq, 500, "server_error", NULL, "out of memory");
    edgec_buf_free(&text);
    return ok;
}

static enum MHD_Result answer_get(request *rq) {
    srv_context *ctx = rq->ctx;
    const char *name = ctx->api.model_name;
    if (rq->ep == SRV_EP_HEALTH) {
        int ready = srv_engine_ready(ctx->engine);
        return queue_json(rq, ready ? 200 : 503, srv_json_health(ready));
    }
    if (rq->ep == SRV_EP_METRICS) return answer_metrics(rq);
    if (!rq->model_id) return queue_json(rq, 200, srv_json_models(name, ctx->started));
    if (strcmp(rq->model_id, name) != 0)
        return refuse(rq, 404, "invalid_request_error", "model_not_found",
                      "no model of that name here; see GET /v1/models");
    return queue_json(rq, 200, srv_json_model(name, ctx->started));
}

/* ---- generation requests ---- */

static void wake_connection(void *conn) { MHD_resume_connection(conn); }

static void reply_info(const request *rq, srv_reply_info *info) {
    const srv_job *j = rq->job;
    info->model = rq->ctx->api.model_name;
    info->n_prompt = j->n_prompt;
    info->n_cached = j->n_cached;
    info->n_gen = j->n_gen;
    info->finish = j->finish;
}

/* The answer to a job that did not stream, once it has ended. */
static enum MHD_Result answer_finished(request *rq) {
    srv_job *j = rq->job;
    srv_error e;
    if (j->finish == SRV_FINISH_ERROR) {
        srv_fail(&e, 500, "server_error", NULL, NULL, "%s", j->error_message);
        return queue_error(rq, &e);
    }
    if (j->finish == SRV_FINISH_CANCELLED) return MHD_NO; /* its client has left: close */
    if (j->finish == SRV_FINISH_SHUTDOWN)
        return refuse(rq, 503, "unavailable_error", "shutting_down", "the server is shutting down");
    srv_reply_info info;
    reply_info(rq, &info);
    return queue_json(rq, 200, srv_json_reply(j, &info, j->text.p ? j->text.p : "", j->text.len));
}

/* Called again and again for a job that did not stream: answers once it ends, else sleeps on it. */
static enum MHD_Result answer_when_done(request *rq) {
    srv_job *j = rq->job;
    pthread_mutex_lock(&j->mu);
    enum MHD_Result ok = MHD_YES;
    if (j->finish != SRV_FINISH_NONE) {
        ok = answer_finished(rq);
    } else {
        j->waiting = 1; /* the engine resumes the connection when the job ends */
        MHD_suspend_connection(rq->conn);
    }
    pthread_mutex_unlock(&j->mu);
    return ok;
}

/* ---- streaming ---- */

static int add_event(request *rq, char *json) {
    if (!json) return -1;
    int rc = edgec_buf_printf(&rq->events, "data: %s\n\n", json);
    free(json);
    return rc;
}

/* The events after the text the job ended with: an error, or the finish reason and the usage. */
static int add_end_events(request *rq, const srv_reply_info *info) {
    srv_job *j = rq->job;
    if (j->finish == SRV_FINISH_ERROR || j->finish == SRV_FINISH_SHUTDOWN) {
        srv_error e;
        if (j->finish == SRV_FINISH_ERROR) srv_fail(&e, 500, "server_error", NULL, NULL, "%s", j->error_message);
        else srv_fail(&e, 503, "unavailable_error", "shutting_down", NULL, "the server is shutting down");
        if (add_event(rq, srv_json_error(&e)) != 0) return -1;
    } else if (j->finish != SRV_FINISH_CANCELLED) { /* a cancelled job's client has left */
        if (add_event(rq, srv_json_chunk(j, info, 0, "", 0, 1)) != 0) return -1;
        if (j->p.include_usage && add_event(rq, srv_json_usage_chunk(j, info)) != 0) return -1;
    }
    return edgec_buf_puts(&rq->events, "data: [DONE]\n\n");
}

/* Turns what the job has produced since the last call into events: 1 if there are some, 0 if the
 * connection was suspended until there are, -1 once everything has been sent (or on no memory). */
static int next_events(request *rq) {
    srv_job *j = rq->job;
    edgec_buf_clear(&rq->events);
    rq->events_sent = 0;
    pthread_mutex_lock(&j->mu);
    srv_reply_info info;
    reply_info(rq, &info);
    int rc = 0;
    if (!rq->role_sent && j->kind == SRV_KIND_CHAT) {
        rc |= add_event(rq, srv_json_chunk(j, &info, 1, "", 0, 0));
        rq->role_sent = 1;
    }
    if (j->text.len > rq->text_sent) {
        rc |= add_event(rq, srv_json_chunk(j, &info, 0, j->text.p + rq->text_sent, j->text.len - rq->text_sent, 0));
        rq->text_sent = j->text.len;
    }
    if (j->finish != SRV_FINISH_NONE && !rq->end_sent) {
        rc |= add_end_events(rq, &info);
        rq->end_sent = 1;
    }
    int result = rc != 0 ? -1 : rq->events.len > 0 ? 1 : rq->end_sent ? -1 : 0;
    if (result == 0) {
        j->waiting = 1;
        MHD_suspend_connection(rq->conn);
    }
    pthread_mutex_unlock(&j->mu);
    return result;
}

static ssize_t read_stream(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    request *rq = cls;
    if (rq->events_sent == rq->events.len) {
        int more = next_events(rq);
        if (more == 0) return 0; /* suspended: called again once the engine wakes the connection */
        if (more < 0) return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = rq->events.len - rq->events_sent;
    if (n > max) n = max;
    memcpy(buf, rq->events.p + rq->events_sent, n);
    rq->events_sent += n;
    return (ssize_t)n;
}

static enum MHD_Result start_stream(request *rq) {
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, read_stream, rq, NULL);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    enum MHD_Result ok = MHD_queue_response(rq->conn, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    if (ok == MHD_YES) rq->status = 200;
    return ok;
}

/* ---- starting a job ---- */

static void name_job(request *rq, srv_job *j) {
    srv_context *ctx = rq->ctx;
    snprintf(j->id, sizeof(j->id), "%s-%llx%08llx", j->kind == SRV_KIND_CHAT ? "chatcmpl" : "cmpl",
             (unsigned long long)ctx->started, ++ctx->next_id);
    j->created = (long long)time(NULL);
    j->key = rq->key;
    j->t_arrival_ms = rq->t_start_ms;
}

/* The body is in: parse it, queue the job, and stream or wait. */
static enum MHD_Result start_job(request *rq) {
    if (rq->body_too_large)
        return refuse(rq, 413, "invalid_request_error", "body_too_large", "the request body is larger than 1 MiB");
    srv_job *j = srv_job_new();
    if (!j) return refuse(rq, 500, "server_error", NULL, "out of memory");
    rq->job = j;
    srv_error err;
    srv_kind kind = rq->ep == SRV_EP_CHAT ? SRV_KIND_CHAT : SRV_KIND_COMPLETION;
    if (srv_parse_job(&rq->ctx->api, kind, rq->body.p, rq->body.len, j, &err) != 0) return queue_error(rq, &err);
    edgec_buf_free(&rq->body);
    name_job(rq, j);
    j->wake = wake_connection;
    j->wake_arg = rq->conn;
    int rc = srv_engine_submit(rq->ctx->engine, j);
    if (rc == SRV_QUEUE_FULL)
        return refuse(rq, 429, "rate_limit_error", "queue_full",
                      "the server is busy: its queue of waiting requests is full; retry later");
    if (rc == SRV_STOPPING) return refuse(rq, 503, "unavailable_error", "shutting_down", "the server is shutting down");
    srv_watch_busy(rq->ctx->watch, rq->watch, j);
    return j->p.stream ? start_stream(rq) : answer_when_done(rq);
}

/* ---- libmicrohttpd's callbacks ---- */

static void keep_path(request *rq, const char *url, const char *method) {
    snprintf(rq->method, sizeof(rq->method), "%s", method);
    snprintf(rq->path, sizeof(rq->path), "%s", url);
    for (char *c = rq->path; *c; c++)
        if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f) *c = '?';
}

static request *new_request(srv_context *ctx, struct MHD_Connection *conn, const char *url, const char *method) {
    request *rq = calloc(1, sizeof(*rq));
    if (!rq) return NULL;
    rq->ctx = ctx;
    rq->conn = conn;
    rq->key = -1;
    rq->t_start_ms = edgec_now_ms();
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    rq->watch = info ? info->socket_context : NULL;
    keep_path(rq, url, method);
    return rq;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **req_cls) {
    (void)version;
    request *rq = *req_cls;
    if (!rq) {
        rq = new_request(cls, conn, url, method);
        if (!rq) return MHD_NO;
        *req_cls = rq;
        return begin(rq, url, method);
    }
    if (rq->status) { /* answered already: whatever else arrives is dropped */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) { /* more of the body */
        if (rq->body.len + *upload_data_size > SRV_MAX_BODY) rq->body_too_large = 1;
        else if (edgec_buf_append(&rq->body, upload_data, *upload_data_size) != 0) rq->body_too_large = 1;
        *upload_data_size = 0;
        return MHD_YES;
    }
    return rq->job ? answer_when_done(rq) : start_job(rq);
}

/* One line per request on stderr: time, key name, method, path, status, tokens, milliseconds. */
static void log_request(const request *rq, int status, int disconnected) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
    int n_prompt = 0, n_cached = 0, n_gen = 0;
    if (rq->job) {
        pthread_mutex_lock(&rq->job->mu);
        n_prompt = rq->job->n_prompt;
        n_cached = rq->job->n_cached;
        n_gen = rq->job->n_gen;
        pthread_mutex_unlock(&rq->job->mu);
    }
    const char *key = rq->key >= 0 ? rq->ctx->keys.keys[rq->key].name : "-";
    fprintf(stderr, "%s.%03ldZ key=%s %s %s %d prompt=%d cached=%d gen=%d ms=%.1f%s\n", when, ts.tv_nsec / 1000000,
            key, rq->method, rq->path, status, n_prompt, n_cached, n_gen, edgec_now_ms() - rq->t_start_ms,
            disconnected ? " client-closed" : "");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls;
    (void)conn;
    request *rq = *req_cls;
    if (!rq) return;
    *req_cls = NULL;
    int disconnected = toe != MHD_REQUEST_TERMINATED_COMPLETED_OK;
    int status = rq->status ? rq->status : 499;
    if (rq->job) srv_job_detach(rq->job, disconnected); /* the engine stops within a token */
    log_request(rq, status, disconnected);
    srv_metrics_request(&rq->ctx->metrics, rq->ep, status, rq->key, disconnected);
    srv_watch_idle(rq->ctx->watch, rq->watch);
    srv_job_release(rq->job);
    edgec_buf_free(&rq->body);
    edgec_buf_free(&rq->events);
    free(rq);
}

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe) {
    srv_context *ctx = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        *socket_context = info ? srv_watch_add(ctx->watch, info->connect_fd) : NULL;
    } else {
        srv_watch_remove(ctx->watch, *socket_context);
        *socket_context = NULL;
    }
}

struct MHD_Daemon *srv_http_start(srv_context *ctx, int listen_fd, unsigned max_connections, unsigned timeout_s,
                                  char *err, size_t err_len) {
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, ctx,
        MHD_OPTION_LISTEN_SOCKET, (MHD_socket)listen_fd,
        MHD_OPTION_CONNECTION_LIMIT, max_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, ctx,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, ctx,
        MHD_OPTION_END);
    if (!d) snprintf(err, err_len, "libmicrohttpd could not start serving (out of memory or threads?)");
    return d;
}
#endif
