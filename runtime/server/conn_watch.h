/* conn_watch.h - every open connection with its deadline, checked a few times a second.
 *
 * A connection must deliver a whole request within the timeout of opening (or of its previous reply
 * ending); one that trickles bytes or sits idle is shut down, so slow or idle clients cannot hold
 * the server's connections.  While a request is being answered there is no deadline, but a client
 * that hangs up is noticed (poll) and its job cancelled, even while the job waits in the queue. */
#ifndef EDGEC_SRV_CONN_WATCH_H
#define EDGEC_SRV_CONN_WATCH_H

#include "job.h"

typedef struct srv_watch srv_watch;
typedef struct srv_watch_entry srv_watch_entry;

srv_watch *srv_watch_new(double timeout_ms);
void srv_watch_free(srv_watch *w);   /* after every connection has been removed */

srv_watch_entry *srv_watch_add(srv_watch *w, int fd);         /* a new connection; NULL when out of memory */
void srv_watch_remove(srv_watch *w, srv_watch_entry *e);       /* it closed */

/* Its request has arrived: no deadline; job (may be NULL) is cancelled if the client hangs up. */
void srv_watch_busy(srv_watch *w, srv_watch_entry *e, srv_job *job);
/* Its reply ended: the next request must arrive within the timeout. */
void srv_watch_idle(srv_watch *w, srv_watch_entry *e);

/* Shuts down overdue connections and cancels the jobs of clients that hung up. */
void srv_watch_tick(srv_watch *w);

#endif
