/* proxyd and systemd: Type=notify readiness and reload states sent to $NOTIFY_SOCKET, without libsystemd.
 * Both calls do nothing when proxyd was not started by systemd. */
#ifndef PROXYD_COMMON_NOTIFY_H
#define PROXYD_COMMON_NOTIFY_H

/* Sends one state line ("READY=1", "RELOADING=1", "STOPPING=1"). Best effort, never blocks. Main thread. */
void px_notify(const char *state);
/* Sends READY=1. Main thread. */
void px_notify_ready(void);

#endif
