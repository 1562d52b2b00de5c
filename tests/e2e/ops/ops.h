/* tests/e2e/ops: helpers shared by the operations tests: waiting for log contents, reading Prometheus counters
 * from the [status] listener, reaping proxyd with a deadline, and a clock. */
#ifndef OPS_H
#define OPS_H

#include "px_harness.h"

#include <stdint.h>

/* Monotonic milliseconds. */
int64_t ops_now_ms(void);

/* Sleeps ms milliseconds. */
void ops_sleep_ms(int ms);

/* Polls path until it contains needle or timeout_ms passes. Returns 1 when found. */
int ops_file_has(const char *path, const char *needle, int timeout_ms);

/* Occurrences of needle in path (0 when the file is missing). */
int ops_file_count(const char *path, const char *needle);

/* GET /metrics on the status port: the body (malloc'd: the caller frees), or NULL. */
char *ops_scrape(int status_port);

/* The value of the sample whose line starts with "name " in a scraped text (name may carry its labels, e.g.
 * proxyd_responses_total{class="2xx"}), or -1 when absent. */
long ops_sample(const char *text, const char *name);

/* One scrape, one sample; -1 when absent or when the scrape failed. */
long ops_metric(int status_port, const char *name);

/* Waits up to timeout_ms for pid to exit without signalling it. Returns the exit code, 128+signal, or -1 when it
 * is still running (it is then left running). */
int ops_reap(pid_t pid, int timeout_ms);

/* A GET on a fresh connection; returns the value of field name in a static buffer (NULL when absent or when no
 * 200 came back). */
const char *ops_get_field(int port, const char *target, const char *name);

#endif
