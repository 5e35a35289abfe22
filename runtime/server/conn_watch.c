/* conn_watch.c - connection deadlines and hang-up detection (see conn_watch.h). */
#ifdef EDGEC_WITH_SERVER
#define _GNU_SOURCE /* POLLRDHUP */
#include "conn_watch.h"

#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "timing.h"

struct srv_watch_entry {
    int fd;
    double deadline_ms;      /* 0 = none (a request is being answered) */
    int shut;                /* shutdown() already called */
    srv_job *job;            /* the job to cancel if the client hangs up (a reference), or NULL */
    srv_watch_entry *prev, *next;
};

struct srv_watch {
    pthread_mutex_t mu;
    double timeout_ms;
    srv_watch_entry *head;
};

srv_watch *srv_watch_new(double timeout_ms) {
    srv_watch *w = calloc(1, sizeof(*w));
    if (!w) return NULL;
    pthread_mutex_init(&w->mu, NULL);
    w->timeout_ms = timeout_ms;
    return w;
}

void srv_watch_free(srv_watch *w) {
    if (!w) return;
    pthread_mutex_destroy(&w->mu);
    free(w);
}

srv_watch_entry *srv_watch_add(srv_watch *w, int fd) {
    srv_watch_entry *e = calloc(1, sizeof(*e));
    if (!e) return NULL;
    e->fd = fd;
    pthread_mutex_lock(&w->mu);
    e->deadline_ms = edgec_now_ms() + w->timeout_ms;
    e->next = w->head;
    if (w->head) w->head->prev = e;
    w->head = e;
    pthread_mutex_unlock(&w->mu);
    return e;
}

/* Lets go of the entry's job; mu is held. */
static void drop_job(srv_watch_entry *e) {
    if (e->job) srv_job_release(e->job);
    e->job = NULL;
}

void srv_watch_remove(srv_watch *w, srv_watch_entry *e) {
    if (!e) return;
    pthread_mutex_lock(&w->mu);
    if (e->prev) e->prev->next = e->next;
    else w->head = e->next;
    if (e->next) e->next->prev = e->prev;
    drop_job(e);
    pthread_mutex_unlock(&w->mu);
    free(e);
}

void srv_watch_busy(srv_watch *w, srv_watch_entry *e, srv_job *job) {
    if (!e) return;
    pthread_mutex_lock(&w->mu);
    e->deadline_ms = 0;
    drop_job(e);
    if (job) srv_job_retain(job);
    e->job = job;
    pthread_mutex_unlock(&w->mu);
}

void srv_watch_idle(srv_watch *w, srv_watch_entry *e) {
    if (!e) return;
    pthread_mutex_lock(&w->mu);
    e->deadline_ms = edgec_now_ms() + w->timeout_ms;
    drop_job(e);
    pthread_mutex_unlock(&w->mu);
}

/* 1 if the peer has closed or reset the connection (data still unread does not count). */
static int hung_up(int fd) {
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void srv_watch_tick(srv_watch *w) {
    double now = edgec_now_ms();
    pthread_mutex_lock(&w->mu);
    for (srv_watch_entry *e = w->head; e; e = e->next) {
        if (e->deadline_ms > 0 && now > e->deadline_ms && !e->shut) {
            shutdown(e->fd, SHUT_RDWR); /* the server's loop sees the end and closes it cleanly */
            e->shut = 1;
        } else if (e->job && hung_up(e->fd)) {
            atomic_store(&e->job->cancel, 1);
            drop_job(e);
        }
    }
    pthread_mutex_unlock(&w->mu);
}
#endif
