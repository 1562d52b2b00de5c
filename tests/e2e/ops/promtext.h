/* tests/e2e/ops: a strict checker of the Prometheus text format (0.0.4) as proxyd writes it, since promtool is not
 * at hand: every line a # HELP, a # TYPE or a sample of the family just declared; labels and escapes as the format
 * defines them; no series twice; histogram buckets in increasing le with non-decreasing counts, +Inf = _count. */
#ifndef OPS_PROMTEXT_H
#define OPS_PROMTEXT_H

/* NULL when text is valid, else what is wrong and on which line (malloc'd: the caller frees). */
char *prom_check(const char *text);

/* The value of the sample written exactly as `series` (name and labels, as proxyd orders them), or -1 when absent. */
double prom_value(const char *text, const char *series);

#endif
