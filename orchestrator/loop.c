#include "loop.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "jobcell/cleanup.h"

struct jc_watch {
    jc_loop *loop;
    int fd;
    uint32_t events;
    jc_watch_cb cb;
    void *data;
    bool dead;
    bool owns_fd;
    jc_watch *next_dead;
};

struct jc_timer {
    jc_loop *loop;
    int fd;
    jc_watch *watch;
    jc_timer_cb cb;
    void *data;
    bool armed;
};

struct jc_loop {
    int epfd;
    bool stop;
    unsigned count;
    jc_watch *graveyard; /* removed during the current batch; freed after it */
};

jc_loop *jc_loop_new(jc_err *err) {
    jc_loop *loop = calloc(1, sizeof(*loop));
    if (!loop) {
        jc_err_sys(err, ENOMEM, "loop: allocate");
        return NULL;
    }
    loop->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (loop->epfd < 0) {
        jc_err_sys(err, errno, "loop: epoll_create1");
        free(loop);
        return NULL;
    }
    return loop;
}

static void bury(jc_loop *loop) {
    while (loop->graveyard) {
        jc_watch *w = loop->graveyard;
        loop->graveyard = w->next_dead;
        free(w);
    }
}

void jc_loop_free(jc_loop *loop) {
    if (!loop)
        return;
    bury(loop);
    close(loop->epfd);
    free(loop);
}

jc_watch *jc_loop_watch(jc_loop *loop, int fd, uint32_t events, jc_watch_cb cb, void *data,
                        jc_err *err) {
    jc_watch *w = calloc(1, sizeof(*w));
    if (!w) {
        jc_err_sys(err, ENOMEM, "loop: allocate a watch");
        return NULL;
    }
    *w = (jc_watch){.loop = loop, .fd = fd, .events = events, .cb = cb, .data = data};
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        jc_err_sys(err, errno, "loop: watch fd %d", fd);
        free(w);
        return NULL;
    }
    loop->count++;
    return w;
}

jc_watch *jc_loop_watch_dup(jc_loop *loop, int fd, uint32_t events, jc_watch_cb cb, void *data,
                            jc_err *err) {
    int d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (d < 0) {
        jc_err_sys(err, errno, "loop: dup fd %d", fd);
        return NULL;
    }
    jc_watch *w = jc_loop_watch(loop, d, events, cb, data, err);
    if (!w) {
        close(d);
        return NULL;
    }
    w->owns_fd = true;
    return w;
}

int jc_watch_set_events(jc_watch *w, uint32_t events, jc_err *err) {
    if (w->events == events)
        return 0;
    struct epoll_event ev = {.events = events, .data.ptr = w};
    if (epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
        return jc_err_sys(err, errno, "loop: change events of fd %d", w->fd);
    w->events = events;
    return 0;
}

uint32_t jc_watch_events(const jc_watch *w) {
    return w->events;
}

void jc_watch_remove(jc_watch *w) {
    if (!w || w->dead)
        return;
    /* The fd may already be closed by its owner (EBADF): the kernel dropped it then. */
    epoll_ctl(w->loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    if (w->owns_fd)
        close(w->fd);
    w->dead = true;
    w->loop->count--;
    w->next_dead = w->loop->graveyard;
    w->loop->graveyard = w;
}

static void timer_ready(jc_watch *w, int fd, uint32_t events, void *data) {
    (void)w;
    (void)events;
    jc_timer *t = data;
    uint64_t expirations;
    if (read(fd, &expirations, sizeof(expirations)) != (ssize_t)sizeof(expirations))
        return; /* EAGAIN: disarmed or re-armed since the event was queued */
    t->armed = false;
    t->cb(t, t->data);
}

jc_timer *jc_timer_new(jc_loop *loop, jc_timer_cb cb, void *data, jc_err *err) {
    jc_timer *t = calloc(1, sizeof(*t));
    if (!t) {
        jc_err_sys(err, ENOMEM, "loop: allocate a timer");
        return NULL;
    }
    t->loop = loop;
    t->cb = cb;
    t->data = data;
    t->fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (t->fd < 0) {
        jc_err_sys(err, errno, "loop: timerfd_create");
        free(t);
        return NULL;
    }
    t->watch = jc_loop_watch(loop, t->fd, EPOLLIN, timer_ready, t, err);
    if (!t->watch) {
        close(t->fd);
        free(t);
        return NULL;
    }
    return t;
}

int jc_timer_arm(jc_timer *t, int64_t ms) {
    if (ms < 0)
        ms = 0;
    struct itimerspec its = {0};
    /* An all-zero it_value disarms: the soonest we can ask for is 1 ns. */
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (ms % 1000) * 1000000L;
    if (ms == 0)
        its.it_value.tv_nsec = 1;
    if (timerfd_settime(t->fd, 0, &its, NULL) < 0)
        return -1;
    t->armed = true;
    return 0;
}

void jc_timer_disarm(jc_timer *t) {
    if (!t)
        return;
    struct itimerspec its = {0};
    timerfd_settime(t->fd, 0, &its, NULL);
    t->armed = false;
}

bool jc_timer_armed(const jc_timer *t) {
    return t && t->armed;
}

void jc_timer_free(jc_timer *t) {
    if (!t)
        return;
    jc_watch_remove(t->watch);
    close(t->fd);
    free(t);
}

int jc_loop_run(jc_loop *loop, jc_err *err) {
    struct epoll_event evs[64];
    loop->stop = false;
    while (!loop->stop) {
        int n = epoll_wait(loop->epfd, evs, (int)JC_ARRAY_LEN(evs), -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return jc_err_sys(err, errno, "loop: epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            jc_watch *w = evs[i].data.ptr;
            if (!w->dead)
                w->cb(w, w->fd, evs[i].events, w->data);
        }
        bury(loop);
    }
    return 0;
}

void jc_loop_stop(jc_loop *loop) {
    loop->stop = true;
}

unsigned jc_loop_watch_count(const jc_loop *loop) {
    return loop->count;
}
