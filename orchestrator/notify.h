/* notify.h: the sd_notify protocol (READY=1, WATCHDOG=1, STOPPING=1) without libsystemd:
 * one datagram to $NOTIFY_SOCKET (a path or an abstract "@name"). No-op when unset. */
#ifndef JOBCELL_ORC_NOTIFY_H
#define JOBCELL_ORC_NOTIFY_H

#include <stdint.h>

/* Send state ("READY=1\nSTATUS=…"). Returns 0 when sent or not asked for, -1 on error. */
int jc_notify(const char *state);
/* The watchdog period asked by systemd (WATCHDOG_USEC for this pid), in ms; 0: none. */
int64_t jc_notify_watchdog_ms(void);

#endif
