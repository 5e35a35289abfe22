/* job.h - one generation request, shared by the HTTP connection that made it and the engine thread
 * that runs it: the request (fixed once queued) and a small channel for its reply (mutex-guarded
 * text, counts and end state, plus a wake-up for the connection waiting on it).
 *
 * Two owners hold a reference each; whichever lets go last frees the job.  The connection sets
 * cancel when its client goes away; the engine checks it after every token. */
#ifndef EDGEC_SRV_JOB_H
#define EDGEC_SRV_JOB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "byte_buf.h"
#include "reply_text.h"

typedef enum { SRV_KIND_CHAT, SRV_KIND_COMPLETION } srv_kind;

typedef enum {
    SRV_FINISH_NONE,      /* still running */
    SRV_FINISH_STOP,      /* a stop token or stop string */
    SRV_FINISH_LENGTH,    /* max_tokens or the context's end */
    SRV_FINISH_CANCELLED, /* the client left */
    SRV_FINISH_SHUTDOWN,  /* the server is stopping */
    SRV_FINISH_ERROR      /* the model failed (error_message says how) */
} srv_finish;

/* The sampling and length fields of a request. */
typedef struct {
    float temperature, top_p, min_p;
    int top_k;
    float repeat_penalty;
    int repeat_last_n;
    float presence_penalty, frequency_penalty;
    int max_tokens;
    int ignore_eos;
    uint64_t seed;
    int stream, include_usage;
    srv_stops stops;
} srv_params;

/* Called with the job's mutex held to wake the connection waiting for more of the reply. */
typedef void (*srv_wake_fn)(void *arg);

typedef struct srv_job {
    /* the request: written before the job is queued, read-only after */
    srv_kind kind;
    srv_params p;
    int32_t *prompt;
    int n_prompt;
    int key;                 /* index of the API key, -1 if none */
    double t_arrival_ms;
    char id[48];
    long long created;       /* unix seconds */

    atomic_int cancel;

    /* the channel: everything below is guarded by mu */
    pthread_mutex_t mu;
    int refs;
    edgec_buf text;            /* the reply released so far: valid UTF-8, stop strings removed */
    int n_gen, n_cached;
    srv_finish finish;
    char error_message[200];
    srv_wake_fn wake;        /* NULL once the connection has gone */
    void *wake_arg;
    int waiting;             /* the connection sleeps until wake is called */
} srv_job;

/* A job with one reference (the caller's), or NULL when memory runs out. */
srv_job *srv_job_new(void);

void srv_job_retain(srv_job *j);
void srv_job_release(srv_job *j);

/* Engine side, each under the mutex and waking the connection: the prompt tokens reused from the
 * cache, more text, then the end. */
void srv_job_started(srv_job *j, int n_cached);
int srv_job_push_text(srv_job *j, const char *s, size_t n, int n_gen);
void srv_job_finish(srv_job *j, srv_finish finish, const char *error_message);

/* Connection side: stop being woken (the connection is closing) and ask the engine to stop. */
void srv_job_detach(srv_job *j, int cancel);

#endif
