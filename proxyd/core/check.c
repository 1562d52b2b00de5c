/* proxyd -t beyond syntax: what only loading can tell (private key permissions, certificates,
 * keys, CA files). Prints one line per problem, naming the file. */
#include <stdio.h>
#include <sys/stat.h>

#include "core/runtime.h"

static int key_exposed(const px_config *cfg, const char *section, int line, const char *key, const char *path,
                       FILE *errfp)
{
    struct stat st;
    if (!path || stat(path, &st) != 0 || !(st.st_mode & S_IROTH))
        return 0;
    fprintf(errfp, "%s:%d: [%s] %s: %s is readable by other users; refusing it (chmod o-r %s)\n", cfg->path, line,
            section, key, path, path);
    return 1;
}

/* A private key others can read is a key already leaked: proxyd refuses to use it, at -t and at start. */
int px_check_keys(const px_config *cfg, void *errfp_v)
{
    FILE *errfp = errfp_v;
    char section[160];
    int errors =
        key_exposed(cfg, "global", cfg->tls_ticket_key_line, "tls_ticket_key_file", cfg->tls_ticket_key_file, errfp);
    for (int i = 0; i < cfg->nservers; i++) {
        const px_server *s = &cfg->servers[i];
        snprintf(section, sizeof(section), "server %s", s->name);
        for (int k = 0; k < s->nkey; k++)
            errors += key_exposed(cfg, section, s->key_line[k], "tls_key", s->tls_key[k], errfp);
    }
    for (int u = 0; u < cfg->nupstreams; u++) {
        snprintf(section, sizeof(section), "upstream %s", cfg->upstreams[u].name);
        errors += key_exposed(cfg, section, cfg->upstreams[u].line, "tls_key", cfg->upstreams[u].tls_key, errfp);
    }
    return errors;
}

int px_config_test(const px_config *cfg, void *errfp)
{
    int errors = px_check_keys(cfg, errfp);
    errors += px_tls_check(cfg, errfp);
    return errors ? 1 : 0;
}
