/* loop.h: the daemon's one event loop (epoll).
 *
 * Everything the orchestrator waits on is a file descriptor in one epoll set: the
 * signalfd, timers (one timerfd each), every sandbox's pidfd and output pipes, every
 * runtime socket and relay connection, and libcurl's sockets. Callbacks run on the loop's
 * thread, one at a time. A watch removed during a batch of events is freed only after the
 * batch, so a callback may remove any watch (its own included). */
#ifndef JOBCELL_ORC_LOOP_H
#define JOBCELL_ORC_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "jobcell/error.h"

typedef struct jc_loop jc_loop;
typedef struct jc_watch jc_watch;
typedef struct jc_timer jc_timer;

typedef void (*jc_watch_cb)(jc_watch *w, int fd, uint32_t events, void *data);
typedef void (*jc_timer_cb)(jc_timer *t, void *data);

/* A new loop. Owned: jc_loop_free. */
jc_loop *jc_loop_new(jc_err *err);
/* Free the loop; every watch and timer must have been removed first. */
void jc_loop_free(jc_loop *loop);

/* Watch fd for events (EPOLLIN, EPOLLOUT, …; level-triggered). The loop does not own fd. */
jc_watch *jc_loop_watch(jc_loop *loop, int fd, uint32_t events, jc_watch_cb cb, void *data,
                        jc_err *err);
/* Like jc_loop_watch on a dup of fd, which the watch owns and closes when removed. For
 * fds another module may close behind our back (the sandbox engine's pipes and pidfd):
 * epoll keys registrations on the open file, so a registration on someone else's fd
 * could outlive its closing (a stale event for a freed watch) or, once the number is
 * reused, a removal could hit another fd's registration. */
jc_watch *jc_loop_watch_dup(jc_loop *loop, int fd, uint32_t events, jc_watch_cb cb, void *data,
                            jc_err *err);
/* Change the events watched. */
int jc_watch_set_events(jc_watch *w, uint32_t events, jc_err *err);
uint32_t jc_watch_events(const jc_watch *w);
/* Stop watching (the fd is not closed) and free the watch. NULL is fine. */
void jc_watch_remove(jc_watch *w);

/* A one-shot timer. Owned: jc_timer_free. */
jc_timer *jc_timer_new(jc_loop *loop, jc_timer_cb cb, void *data, jc_err *err);
/* Fire once after ms milliseconds (0: on the next turn of the loop); re-arming replaces. */
int jc_timer_arm(jc_timer *t, int64_t ms);
void jc_timer_disarm(jc_timer *t);
bool jc_timer_armed(const jc_timer *t);
void jc_timer_free(jc_timer *t);

/* Run until jc_loop_stop. Returns 0, or -1 when epoll itself fails. */
int jc_loop_run(jc_loop *loop, jc_err *err);
void jc_loop_stop(jc_loop *loop);
/* Number of live watches (timers included), for tests and metrics. */
unsigned jc_loop_watch_count(const jc_loop *loop);

#endif
