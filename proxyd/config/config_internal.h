/* Private to the configuration loader: the load context shared by the reader, the key table and the checks.
 * Nothing outside proxyd/config*.c includes this. */
#ifndef PROXYD_CONFIG_INTERNAL_H
#define PROXYD_CONFIG_INTERNAL_H

#include <stdio.h>

#include "config/config.h"

#define UNSET UINT64_MAX

typedef enum sect_kind { SECT_NONE, SECT_GLOBAL, SECT_UPSTREAM, SECT_SERVER, SECT_STATUS } sect_kind;

typedef struct load_ctx {
    px_config *cfg;
    const char *path;
    FILE *fp;
    FILE *errfp;
    int lineno;
    int errors;
    int in_section;
    int continuation; /* the current line is a multi-line continuation */
    sect_kind kind;
    char section[128];
    px_upstream *up;
    px_server *srv;
    int status_line;      /* where [status] opened, for what is checked once the file is read */
    const char *seen[64]; /* non-repeatable keys seen in this section */
    int nseen;
} load_ctx;

typedef const char *(*key_fn)(load_ctx *c, const char *value);
enum { K_REPEAT = 1, K_LIST = 2 };
typedef struct key_def {
    sect_kind kind; /* SECT_NONE in the table means "[global] and [server]" (overridable limits) */
    const char *name;
    key_fn fn;
    unsigned flags;
} key_def;

/* A key parser returns this when an allocation failed: reported as "out of memory", without the value. */
extern const char px__oom[];
/* A copy of s, or NULL when out of memory. */
char *px__strdup(const char *s);
/* Prints "FILE:LINE: [section] key: message" to the error stream and counts an error (the load fails). */
void px__cfg_error(load_ctx *c, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same as a warning: printed and counted in cfg->warnings; the load goes on. */
void px__cfg_warn(load_ctx *c, const char *key, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Compiles text with $variables into t (which then owns a copy). NULL, or the reason it is refused. */
const char *px__tpl_compile(px_tpl *t, const char *text);
/* Parses "Name: value [always]" into h. NULL, or the reason it is refused. */
const char *px__parse_header(px_header *h, const char *v, int allow_always);
/* "on"/"off" into *out. 0, or -1 for anything else. */
int px__parse_switch(const char *s, int *out);
/* A decimal integer within [lo, hi] into *out. 0, or -1. */
int px__parse_int(const char *s, long lo, long hi, long *out);
/* 1 when s[0..n) is a non-empty RFC 9110 token, else 0. */
int px__is_token(const char *s, size_t n);

/* config_keys.c: the key's definition in this kind of section, or NULL when the key is unknown there. */
const key_def *px__find_key(sect_kind kind, const char *name);
/* For a key unknown in this section: " (it belongs in [upstream NAME])", "; did you mean read_timeout?" (a key of
 * this section within two edits), or "". Written into out, which is returned. */
const char *px__unknown_key_hint(sect_kind kind, const char *name, char *out, size_t cap);
/* config_check.c: the defaults every key starts from, before the file is read. */
void px__config_defaults(px_config *cfg);
/* config_check.c: inheritance from [global] and the checks that need the whole file; errors through c. */
void px__config_finish(load_ctx *c);

#endif
