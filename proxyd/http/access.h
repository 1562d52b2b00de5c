/* proxyd access log: one line per answered request (nginx's combined format plus request time, upstream address
 * and upstream time, or one JSON object), into the worker's buffer (common/log.h). */
#ifndef PROXYD_HTTP_ACCESS_H
#define PROXYD_HTTP_ACCESS_H

#include "http/conn.h"

/* Counts the exchange's status and logs it, once: the status is cleared, so a second call does nothing. Worker's
 * thread. */
void px_access_log(px_conn *c);

#endif
