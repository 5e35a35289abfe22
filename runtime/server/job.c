/* job.c - a request shared by its connection and the engine (see job.h). */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

srv_job *srv_job_new(void) {
    srv_job *j = calloc(1, sizeof(*j));
    if (!j) return NULL;
    if (pthread_mutex_init(&j->mu, NULL) != 0) {
        free(j);
        return NULL;
    }
    atomic_init(&j->cancel, 0);
    j->refs = 1;
    j->key = -1;
    return j;
}

void srv_job_retain(srv_job *j) {
    pthread_mutex_lock(&j->mu);
    j->refs++;
    pthread_mutex_unlock(&j->mu);
}

static void free_job(srv_job *j) {
    for (int i = 0; i < j->p.stops.n; i++) free(j->p.stops.s[i]);
    free(j->prompt);
    edgec_buf_free(&j->text);
    pthread_mutex_destroy(&j->mu);
    free(j);
}

void srv_job_release(srv_job *j) {
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    int last = --j->refs == 0;
    pthread_mutex_unlock(&j->mu);
    if (last) free_job(j);
}

/* Wakes the waiting connection; mu is held. */
static void wake_locked(srv_job *j) {
    if (j->waiting && j->wake) {
        j->waiting = 0;
        j->wake(j->wake_arg);
    }
}

void srv_job_started(srv_job *j, int n_cached) {
    pthread_mutex_lock(&j->mu);
    j->n_cached = n_cached;
    pthread_mutex_unlock(&j->mu);
}

int srv_job_push_text(srv_job *j, const char *s, size_t n, int n_gen) {
    pthread_mutex_lock(&j->mu);
    int rc = n ? edgec_buf_append(&j->text, s, n) : 0;
    j->n_gen = n_gen;
    wake_locked(j);
    pthread_mutex_unlock(&j->mu);
    return rc;
}

void srv_job_finish(srv_job *j, srv_finish finish, const char *error_message) {
    pthread_mutex_lock(&j->mu);
    j->finish = finish;
    if (error_message) snprintf(j->error_message, sizeof(j->error_message), "%s", error_message);
    wake_locked(j);
    pthread_mutex_unlock(&j->mu);
}

void srv_job_detach(srv_job *j, int cancel) {
    pthread_mutex_lock(&j->mu);
    j->wake = NULL;
    j->waiting = 0;
    pthread_mutex_unlock(&j->mu);
    if (cancel) atomic_store(&j->cancel, 1);
}
