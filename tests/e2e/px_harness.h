/* tests/e2e proxyd harness: a temp directory per test, origins and one proxyd instance started from a config
 * template (with @NAME@ placeholders for ports and paths), `proxyd -t` runs, and a clean stop checked for exit 0. */
#ifndef PX_HARNESS_H
#define PX_HARNESS_H

#include "support.h"

#include <stddef.h>
#include <sys/types.h>

#define PX_MAX_ORIGINS 3

/* The [global] section most tests start with: one worker (deterministic pool counts), the error log and the pid
 * file in the test's directory (the default pid file is root's /run/proxyd). Tests append further [global] keys
 * right after it. */
#define PX_GLOBAL "[global]\nworkers = 1\nerror_log = @LOG@\nlog_level = info\npid_file = @DIR@/proxyd.pid\n"

/* One test's world. Placeholders expanded by px_expand:
 *   @PORT@ @PORT2@  free ports for proxyd listeners (proxyd is awaited on @PORT@)
 *   @O0@ @O1@ @O2@  the origins' ports        @DEAD@  a free port nothing listens on
 *   @DIR@           the temp directory         @LOG@   the error log path (@DIR@/error.log)
 * @PORT@, @PORT2@ and @DEAD@ come from ts_free_port: reserved for the test process, no parallel test gets them. */
typedef struct px_env {
    char dir[64];  /* mkdtemp'd, removed by px_env_done */
    char conf[96]; /* @DIR@/proxyd.ini */
    char log[96];  /* @DIR@/error.log */
    int port, port2, dead;
    int norigins;
    int oport[PX_MAX_ORIGINS];
    pid_t opid[PX_MAX_ORIGINS];
    pid_t pid; /* the running proxyd, or 0 */
} px_env;

/* Creates the directory, picks the ports and starts norigins origins (ck_asserts on failure). Children get
 * SIGKILL when the test process dies (setpriv --pdeathsig), so a failed or timed-out test leaves none behind. */
void px_env_init(px_env *e, int norigins);

/* Stops proxyd (if running) and the origins with SIGTERM, asserts each exited 0 (a sanitizer report or a leak
 * makes the exit status non-zero), and removes the directory. */
void px_env_done(px_env *e);

/* Stops origin i with SIGTERM (px_env_done then skips it). Returns its exit status (0 expected). */
int px_origin_stop(px_env *e, int i);

/* Freezes origin i (SIGSTOP) and returns once every thread of it is stopped: kill() only queues the signal, and a
 * thread busy on the other core could still answer one more request. ck_asserts it within 2 s. */
void px_origin_freeze(px_env *e, int i);

/* The template with every placeholder replaced (malloc'd; the caller frees). */
char *px_expand(const px_env *e, const char *tpl);

/* Writes text to path (ck_asserts on failure). */
void px_write_file(const char *path, const char *text);

/* The whole file (malloc'd, NUL-terminated; the caller frees), or NULL. */
char *px_read_file(const char *path);

/* Writes the expanded template to e->conf, starts `proxyd -c` and waits until @PORT@ accepts and proxyd has sent
 * READY=1 to the notify socket the harness passes it (unless the test set NOTIFY_SOCKET itself) (ck_asserts). The
 * template must set pid_file (PX_GLOBAL does). */
void px_proxy_start(px_env *e, const char *tpl);

/* SIGTERM to proxyd; returns its exit status (0 expected), after printing its error log to stderr. */
int px_proxy_stop(px_env *e);

/* Writes the expanded template to e->conf and runs `proxyd -t -c e->conf`. Returns the exit code and copies
 * stderr (NUL-terminated, truncated to cap) into out. */
int px_check_config(px_env *e, const char *tpl, char *out, size_t cap);

/* The origin's /stats "requests" counter, or -1. */
int px_origin_requests(int origin_port);

/* Connects to port, sends raw, reads one response (ck_asserts that one arrived), closes. */
void px_req(int port, const char *raw, ts_response *r);

/* Runs a shell command, captures its stdout (NUL-terminated, truncated to cap). Returns the exit status. */
int px_run(const char *cmd, char *out, size_t cap);

/* A TCP connection to 127.0.0.1:port from address src (another loopback address: another client to proxyd), with
 * TS_IO_TIMEOUT_MS I/O timeouts; *sport (when not NULL) gets its port. Fails the test when it cannot connect. */
int px_connect_from(const char *src, int port, int *sport);

#endif
