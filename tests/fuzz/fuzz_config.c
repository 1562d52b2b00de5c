/* tests/fuzz: the configuration loader fed arbitrary files. It must report errors and never crash, leak or
 * read out of bounds. Host names are never resolved here (see getaddrinfo below). */
#include <dlfcn.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Name lookups would make every mutated host name a DNS query: numeric hosts only, names "do not exist". */
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res)
{
    static int (*real)(const char *, const char *, const struct addrinfo *, struct addrinfo **);
    if (!hints || !(hints->ai_flags & AI_NUMERICHOST))
        return EAI_NONAME;
    if (!real)
        *(void **)&real = dlsym(RTLD_NEXT, "getaddrinfo");
    return real ? real(node, service, hints, res) : EAI_NONAME;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz_config", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    FILE *sink = fopen("/dev/null", "w");
    px_config *cfg = px_config_load(path, sink);
    px_config_free(cfg);
    fclose(sink);
    close(fd);
    return 0;
}
