/* proxyd's step result: what every state function and handler returns to the client connection's run loop,
 * so that exactly one function (in http/conn.c) decides to free a connection. */
#ifndef PROXYD_COMMON_STEP_H
#define PROXYD_COMMON_STEP_H

typedef enum px_step {
    PX_CLOSE = -1, /* the connection must end: the run loop frees it; the caller has not freed anything */
    PX_WAIT = 0,   /* nothing more can move until an event (readiness or a timer) */
    PX_AGAIN = 1,  /* progress was made: run the state machine again */
} px_step;

#endif
