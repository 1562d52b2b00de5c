/* addr.c: socket addresses as text: "1.2.3.4:80", "[::1]:443", "*:80", "unix:/path" and host names.
 * Parsing resolves names with getaddrinfo (blocking): configuration time only, never on a loop. */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

static int parse_port(const char *s, in_port_t *port)
{
    unsigned long v = 0;
    if (!*s)
        return -EINVAL;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(*s - '0');
        if (v > 65535)
            return -EINVAL;
    }
    *port = htons((in_port_t)v);
    return 0;
}

static int parse_unix(const char *path, wire_addr *addr)
{
    struct sockaddr_un *sun = (struct sockaddr_un *)&addr->ss;
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof sun->sun_path)
        return -EINVAL;
    sun->sun_family = AF_UNIX;
    memcpy(sun->sun_path, path, len + 1);
    addr->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    return 0;
}

/* Resolves host (numeric when numeric != 0) into addr, preferring IPv4 among the results. */
static int resolve(const char *host, int family, int numeric, in_port_t port, wire_addr *addr)
{
    struct addrinfo hints = {.ai_family = family, .ai_socktype = SOCK_STREAM, .ai_flags = numeric ? AI_NUMERICHOST : 0};
    struct addrinfo *res, *pick;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return numeric ? -EINVAL : -ENOENT;
    pick = res;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
    }
    memcpy(&addr->ss, pick->ai_addr, pick->ai_addrlen);
    addr->len = pick->ai_addrlen;
    if (pick->ai_family == AF_INET)
        ((struct sockaddr_in *)&addr->ss)->sin_port = port;
    else
        ((struct sockaddr_in6 *)&addr->ss)->sin6_port = port;
    freeaddrinfo(res);
    return 0;
}

static int parse_inet(const char *host, in_port_t port, wire_addr *addr)
{
    struct sockaddr_in *sin = (struct sockaddr_in *)&addr->ss;
    if (strcmp(host, "*") == 0 || host[0] == '\0') {
        sin->sin_family = AF_INET;
        sin->sin_addr.s_addr = htonl(INADDR_ANY);
    } else if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
    } else if (strchr(host, ':')) {
        return -EINVAL; /* an IPv6 literal needs brackets */
    } else {
        return resolve(host, AF_UNSPEC, 0, port, addr);
    }
    sin->sin_port = port;
    addr->len = sizeof *sin;
    return 0;
}

int wire_addr_parse(const char *text, wire_addr *addr)
{
    char host[256];
    in_port_t port;
    memset(addr, 0, sizeof *addr);
    if (!text)
        return -EINVAL;
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(text + 5, addr);
    const char *colon = text[0] == '[' ? strstr(text, "]:") : strrchr(text, ':');
    if (!colon)
        return -EINVAL;
    if (text[0] == '[')
        colon++; /* from "]:" to ':' */
    size_t hlen = (size_t)(colon - text);
    if (hlen >= sizeof host || parse_port(colon + 1, &port) < 0)
        return -EINVAL;
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    if (text[0] != '[')
        return parse_inet(host, port, addr);
    host[hlen - 1] = '\0'; /* drop ']' */
    return resolve(host + 1, AF_INET6, 1, port, addr);
}

/* sun_path is not NUL-terminated when it is full; abstract names (leading NUL) print as empty. */
static void unix_path(const wire_addr *addr, char *buf, size_t size)
{
    const struct sockaddr_un *sun = (const struct sockaddr_un *)&addr->ss;
    size_t max =
        addr->len > offsetof(struct sockaddr_un, sun_path) ? addr->len - offsetof(struct sockaddr_un, sun_path) : 0;
    if (max > sizeof sun->sun_path)
        max = sizeof sun->sun_path;
    snprintf(buf, size, "%.*s", (int)strnlen(sun->sun_path, max), sun->sun_path);
}

char *wire_addr_host(const wire_addr *addr, char *buf, size_t size)
{
    const struct sockaddr *sa = (const struct sockaddr *)&addr->ss;
    if (size == 0)
        return buf;
    buf[0] = '\0';
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)size);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)size);
    else if (sa->sa_family == AF_UNIX)
        unix_path(addr, buf, size);
    return buf;
}

char *wire_addr_format(const wire_addr *addr, char *buf, size_t size)
{
    char host[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
    const struct sockaddr *sa = (const struct sockaddr *)&addr->ss;
    if (size == 0)
        return buf;
    wire_addr_host(addr, host, sizeof host);
    if (sa->sa_family == AF_INET)
        snprintf(buf, size, "%s:%u", host, ntohs(((const struct sockaddr_in *)sa)->sin_port));
    else if (sa->sa_family == AF_INET6)
        snprintf(buf, size, "[%s]:%u", host, ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
    else if (sa->sa_family == AF_UNIX)
        snprintf(buf, size, "unix:%s", host);
    else
        snprintf(buf, size, "unknown");
    return buf;
}
