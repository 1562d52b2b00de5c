/* tests/e2e/ops: the strict Prometheus text-format checker (promtext.h): one pass over the lines, the families
 * declared, the series seen, and the histogram series being read. */
#include "promtext.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SERIES 4096
#define NAME_MAX_LEN 200

typedef struct hist_series {
    char key[512]; /* the labels other than le, as written */
    double last_le, last_count, inf_count, count;
    int has_inf, has_sum, has_count, nbuckets;
} hist_series;

typedef struct checker {
    char family[NAME_MAX_LEN], type[16], help_for[NAME_MAX_LEN];
    char *families[MAX_SERIES];
    int nfamilies;
    char *series[MAX_SERIES];
    int nseries;
    hist_series *hist;
    int nhist;
    int lineno;
    char *err;
} checker;

static int fail(checker *k, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(checker *k, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!k->err) {
        k->err = malloc(strlen(msg) + 32);
        sprintf(k->err, "line %d: %s", k->lineno, msg);
    }
    return -1;
}

static int name_char(char ch, int first, int colon)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' || (colon && ch == ':') ||
           (!first && ch >= '0' && ch <= '9');
}

/* Reads a metric (colon allowed) or label name into out; returns its length, 0 when none. */
static size_t read_name(const char *p, char *out, int colon)
{
    size_t n = 0;
    while (name_char(p[n], n == 0, colon) && n + 1 < NAME_MAX_LEN) {
        out[n] = p[n];
        n++;
    }
    out[n] = 0;
    return n;
}

static int parse_value(const char *p, double *v)
{
    if (strcmp(p, "+Inf") == 0 || strcmp(p, "-Inf") == 0 || strcmp(p, "NaN") == 0) {
        *v = p[0] == '+' ? INFINITY : p[0] == '-' ? -INFINITY : NAN;
        return 0;
    }
    char *end;
    *v = strtod(p, &end);
    return end != p && *end == 0 ? 0 : -1;
}

/* A label value between double quotes: only \\, \" and \n escapes. Returns the length through the closing quote. */
static long label_value(checker *k, const char *p, char *out, size_t cap)
{
    size_t i = 1, n = 0;
    if (p[0] != '"')
        return fail(k, "label value not quoted");
    for (; p[i] && p[i] != '"'; i++) {
        if (p[i] == '\\') {
            if (p[i + 1] != '\\' && p[i + 1] != '"' && p[i + 1] != 'n')
                return fail(k, "bad escape \\%c in a label value", p[i + 1]);
            i++;
        }
        if (n + 1 < cap)
            out[n++] = p[i];
    }
    out[n] = 0;
    return p[i] == '"' ? (long)i + 1 : fail(k, "label value not closed");
}

/* Parses {a="x",b="y"}: the labels other than le into key (as written), le's value into le. Returns the length. */
static long parse_labels(checker *k, const char *p, char *key, size_t cap, char *le, size_t lecap)
{
    char names[16][NAME_MAX_LEN];
    int nnames = 0;
    size_t i = 1, kn = 0;
    key[0] = le[0] = 0;
    while (p[i] != '}') {
        char name[NAME_MAX_LEN], val[512];
        size_t n = read_name(p + i, name, 0);
        if (!n || strncmp(name, "__", 2) == 0 || p[i + n] != '=')
            return fail(k, "bad label name at \"%.20s\"", p + i);
        for (int j = 0; j < nnames; j++)
            if (strcmp(names[j], name) == 0)
                return fail(k, "label %s twice", name);
        if (nnames < 16)
            snprintf(names[nnames++], NAME_MAX_LEN, "%s", name);
        long v = label_value(k, p + i + n + 1, val, sizeof(val));
        if (v < 0)
            return -1;
        if (strcmp(name, "le") == 0) {
            size_t vl = strlen(val) < lecap - 1 ? strlen(val) : lecap - 1;
            memcpy(le, val, vl);
            le[vl] = 0;
        } else
            kn += (size_t)snprintf(key + kn, cap - kn, "%.*s,", (int)(n + 1 + (size_t)v), p + i);
        i += n + 1 + (size_t)v;
        if (p[i] == ',')
            i++;
        else if (p[i] != '}')
            return fail(k, "expected , or } after a label");
    }
    return (long)i + 1;
}

static int seen(char **list, int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (strcmp(list[i], s) == 0)
            return 1;
    return 0;
}

static hist_series *hist_find(checker *k, const char *key)
{
    for (int i = 0; i < k->nhist; i++)
        if (strcmp(k->hist[i].key, key) == 0)
            return &k->hist[i];
    if (k->nhist == MAX_SERIES)
        return NULL;
    hist_series *h = &k->hist[k->nhist++];
    memset(h, 0, sizeof(*h));
    snprintf(h->key, sizeof(h->key), "%s", key);
    h->last_le = -INFINITY;
    return h;
}

/* The histogram family just ended: each series complete, +Inf equal to _count. */
static int hist_close(checker *k)
{
    for (int i = 0; i < k->nhist; i++) {
        hist_series *h = &k->hist[i];
        if (!h->has_inf || !h->has_sum || !h->has_count)
            return fail(k, "histogram %s{%s}: +Inf bucket, _sum or _count missing", k->family, h->key);
        if (h->inf_count != h->count)
            return fail(k, "histogram %s{%s}: +Inf bucket %g != _count %g", k->family, h->key, h->inf_count, h->count);
    }
    k->nhist = 0;
    return 0;
}

static int hist_sample(checker *k, const char *suffix, const char *key, const char *le, double v)
{
    hist_series *h = hist_find(k, key);
    if (!h)
        return fail(k, "too many series");
    if (strcmp(suffix, "_bucket") == 0) {
        double bound;
        if (!le[0] || parse_value(le, &bound) < 0)
            return fail(k, "bucket without a valid le");
        if (h->has_inf || bound <= h->last_le)
            return fail(k, "bucket le=%s not above the previous one", le);
        if (v < h->last_count)
            return fail(k, "bucket le=%s count %g below the previous bucket's %g", le, v, h->last_count);
        h->last_le = bound;
        h->last_count = v;
        h->nbuckets++;
        if (isinf(bound)) {
            h->has_inf = 1;
            h->inf_count = v;
        }
        return 0;
    }
    if (le[0])
        return fail(k, "le on %s", suffix);
    if (!h->has_inf)
        return fail(k, "%s before the +Inf bucket", suffix);
    if (strcmp(suffix, "_sum") == 0)
        h->has_sum = 1;
    else {
        h->has_count = 1;
        h->count = v;
    }
    return 0;
}

/* # HELP name text, then # TYPE name type, once per family, before its samples. */
static int comment(checker *k, const char *line)
{
    char name[NAME_MAX_LEN];
    int help = strncmp(line, "# HELP ", 7) == 0;
    if (!help && strncmp(line, "# TYPE ", 7) != 0)
        return fail(k, "a comment other than # HELP or # TYPE");
    size_t n = read_name(line + 7, name, 1);
    if (!n || line[7 + n] != ' ')
        return fail(k, "bad metric name in \"%s\"", line);
    const char *rest = line + 8 + n;
    if (help) {
        for (const char *p = rest; *p; p++)
            if (*p == '\\' && p[1] != '\\' && p[1] != 'n')
                return fail(k, "bad escape in HELP");
        if (seen(k->families, k->nfamilies, name))
            return fail(k, "HELP for %s, a family already declared", name);
        snprintf(k->help_for, sizeof(k->help_for), "%s", name);
        return 0;
    }
    if (strcmp(k->help_for, name) != 0)
        return fail(k, "TYPE %s without its HELP just before", name);
    if (strcmp(rest, "counter") && strcmp(rest, "gauge") && strcmp(rest, "histogram"))
        return fail(k, "type \"%s\" (proxyd writes counter, gauge or histogram)", rest);
    if (strcmp(k->type, "histogram") == 0 && hist_close(k) < 0)
        return -1;
    if (seen(k->families, k->nfamilies, name) || k->nfamilies == MAX_SERIES)
        return fail(k, "family %s declared twice", name);
    k->families[k->nfamilies++] = strdup(name);
    snprintf(k->family, sizeof(k->family), "%s", name);
    snprintf(k->type, sizeof(k->type), "%s", rest);
    k->help_for[0] = 0;
    return 0;
}

/* name{labels} value: of the family declared last; no series twice; counters never negative. */
static int sample(checker *k, const char *line)
{
    char name[NAME_MAX_LEN], key[512], le[64];
    size_t n = read_name(line, name, 1);
    if (!n)
        return fail(k, "a line that is no sample: \"%s\"", line);
    const char *p = line + n;
    long l = *p == '{' ? parse_labels(k, p, key, sizeof(key), le, sizeof(le)) : 0;
    if (l < 0)
        return -1;
    if (l == 0)
        key[0] = le[0] = 0;
    p += l;
    double v;
    if (*p != ' ' || parse_value(p + 1, &v) < 0)
        return fail(k, "bad value in \"%s\"", line);
    size_t fl = strlen(k->family);
    const char *suffix = strncmp(name, k->family, fl) == 0 ? name + fl : NULL;
    int hist = strcmp(k->type, "histogram") == 0;
    if (!k->family[0] || !suffix ||
        (hist ? strcmp(suffix, "_bucket") && strcmp(suffix, "_sum") && strcmp(suffix, "_count") : *suffix != 0))
        return fail(k, "sample %s outside its family (%s declared last)", name, k->family);
    if ((strcmp(k->type, "counter") == 0 || hist) && !(v >= 0))
        return fail(k, "negative or NaN count %g", v);
    char whole[1024];
    snprintf(whole, sizeof(whole), "%s{%s}le=%s", name, key, le);
    if (seen(k->series, k->nseries, whole) || k->nseries == MAX_SERIES)
        return fail(k, "series %s twice", whole);
    k->series[k->nseries++] = strdup(whole);
    return hist ? hist_sample(k, suffix, key, le, v) : 0;
}

char *prom_check(const char *text)
{
    checker *k = calloc(1, sizeof(*k));
    k->hist = calloc(MAX_SERIES, sizeof(hist_series));
    size_t len = strlen(text);
    if (len == 0 || text[len - 1] != '\n')
        fail(k, "the text does not end in a newline");
    for (const char *line = text; !k->err && *line;) {
        const char *eol = strchr(line, '\n');
        size_t n = eol ? (size_t)(eol - line) : strlen(line);
        char *one = strndup(line, n);
        k->lineno++;
        if (n == 0)
            fail(k, "an empty line");
        else if (one[0] == '#')
            comment(k, one);
        else
            sample(k, one);
        free(one);
        line += n + (eol ? 1 : 0);
    }
    if (!k->err && strcmp(k->type, "histogram") == 0)
        hist_close(k);
    if (!k->err && k->help_for[0])
        fail(k, "HELP %s without TYPE", k->help_for);
    char *err = k->err;
    for (int i = 0; i < k->nfamilies; i++)
        free(k->families[i]);
    for (int i = 0; i < k->nseries; i++)
        free(k->series[i]);
    free(k->hist);
    free(k);
    return err;
}

double prom_value(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; line && *line;) {
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return -1;
}
