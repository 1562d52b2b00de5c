/* proxyd -t beyond syntax: what only loading can tell (private key permissions, certificates,
 * keys, CA files). Prints one line per problem, naming the file. */
#include <stdio.h>
#include <sys/stat.h>

#include "proxyd.h"

int px_config_test(const px_config *cfg, void *errfp_v)
{
    FILE *errfp = errfp_v;
    int errors = 0;
    for (int i = 0; i < cfg->nservers; i++) {
        const px_server *s = &cfg->servers[i];
        for (int k = 0; k < s->nkey; k++) {
            struct stat st;
            if (stat(s->tls_key[k], &st) == 0 && (st.st_mode & S_IROTH)) {
                fprintf(errfp, "%s:%d: [server %s] tls_key: %s is readable by other users; chmod o-r it\n",
                        cfg->path, s->line, s->name, s->tls_key[k]);
                errors++;
            }
        }
    }
    errors += px_tls_check(cfg, errfp);
    return errors ? 1 : 0;
}
