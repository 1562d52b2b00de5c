/* tests/e2e/security recording origin: a blocking socket server on 127.0.0.1 (a thread per connection) that
 * keeps every byte it receives, parses requests with libhttp and answers by path, including hostile answers. */
#ifndef SEC_RECORDER_H
#define SEC_RECORDER_H

#include <pthread.h>
#include <stddef.h>

#define REC_MAX_CONNS 64
#define REC_MAX_REQS 64
#define REC_CONN_CAP (256 * 1024) /* recorded (and parseable) bytes per connection */

/* One request the recorder parsed, head complete (complete = its body arrived too). */
typedef struct rec_req {
    int conn;        /* index into recorder.conns */
    char path[256];  /* request-target as received */
    char host[128];  /* Host field value */
    char body[4096]; /* decoded body (truncated at the size; body_len counts all) */
    size_t body_len;
    int complete;
} rec_req;

typedef struct rec_conn {
    int fd;
    size_t bytes; /* received bytes (the first REC_CONN_CAP are in raw) */
    char *raw;
    int eof;   /* the peer closed, or the recorder did */
    int error; /* libhttp error that ended the connection (0: none) */
    int heads, complete;
} rec_conn;

typedef struct recorder {
    int port;
    int lfd;
    pthread_t acceptor;
    pthread_mutex_t mu;
    int nconns;
    rec_conn conns[REC_MAX_CONNS];
    int nreqs;
    rec_req reqs[REC_MAX_REQS];
    int stopping;
} recorder;

/* Paths with a special answer (anything else: 200, Content-Length, body "ok:<target>", keep-alive):
 *   /h/clte      200 with Content-Length and Transfer-Encoding, then a second response in the same write
 *   /h/twocl     200 with two different Content-Lengths
 *   /h/trailing  200 "ok" followed by a second unrequested response in the same write
 *   /garbage     bytes that are not HTTP, then close
 *   /reset       a head announcing 100000 bytes, 1000 of them, then a reset
 *   /noread      nothing: stops reading the connection until it closes */

/* Binds 127.0.0.1:0 and starts accepting (ck_asserts on failure). */
void rec_start(recorder *r);

/* Stops accepting, closes every connection, joins, frees. */
void rec_stop(recorder *r);

/* Waits up to ms until every accepted connection has seen EOF. Returns 1 when they all have. */
int rec_wait_all_closed(recorder *r, int ms);

/* Snapshot helpers (under the lock). */
int rec_nconns(recorder *r);
int rec_nreqs(recorder *r);

#endif
