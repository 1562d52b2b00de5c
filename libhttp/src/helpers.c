/* libhttp helpers over parsed fields: slices, case-insensitive names, comma lists, field lookup and the
 * hop-by-hop test a proxy applies before forwarding. */
#include "internal.h"

#include <string.h>

static bool eq_ci(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (http__lower((unsigned char)a[i]) != http__lower((unsigned char)b[i]))
            return false;
    return true;
}

int http_slice_eq_ci(http_slice s, const char *name)
{
    size_t n = strlen(name);
    return s.len == n && eq_ci(s.base, name, n);
}

http_slice http_slice_cstr(const char *s)
{
    return http_slice_of(s, strlen(s));
}

bool http__list_next(http_slice list, size_t *pos, http_slice *el)
{
    size_t i = *pos, j;
    if (i > list.len)
        return false;
    for (j = i; j < list.len && list.base[j] != ','; j++)
        ;
    *pos = j + 1;
    while (i < j && (list.base[i] == ' ' || list.base[i] == '\t'))
        i++;
    while (j > i && (list.base[j - 1] == ' ' || list.base[j - 1] == '\t'))
        j--;
    *el = http_slice_of(list.base ? list.base + i : "", j - i);
    return true;
}

bool http__list_has(http_slice list, const char *tok, size_t n)
{
    size_t pos = 0;
    http_slice el;
    while (http__list_next(list, &pos, &el))
        if (el.len == n && eq_ci(el.base, tok, n))
            return true;
    return false;
}

int http_token_list_has(http_slice list, const char *token)
{
    return http__list_has(list, token, strlen(token));
}

long http_find_field(const http_field *fields, size_t n, const char *name, size_t from)
{
    size_t len = strlen(name);
    for (size_t i = from; i < n; i++)
        if (fields[i].name.len == len && eq_ci(fields[i].name.base, name, len))
            return (long)i;
    return -1;
}

int http_is_hop_by_hop(const http_field *fields, size_t n, size_t i)
{
    static const char *const std[] = {
        "connection", "keep-alive",         "proxy-connection",    "te",     "transfer-encoding",
        "upgrade",    "proxy-authenticate", "proxy-authorization", "trailer"};
    if (i >= n)
        return 0;
    http_slice name = fields[i].name;
    for (size_t k = 0; k < sizeof std / sizeof std[0]; k++)
        if (http_slice_eq_ci(name, std[k]))
            return 1;
    for (size_t k = 0; k < n; k++)
        if (http_slice_eq_ci(fields[k].name, "connection") && http__list_has(fields[k].value, name.base, name.len))
            return 1;
    return 0;
}

int http_method_idempotent(http_method m)
{
    switch (m) {
    case HTTP_M_GET:
    case HTTP_M_HEAD:
    case HTTP_M_PUT:
    case HTTP_M_DELETE:
    case HTTP_M_OPTIONS:
    case HTTP_M_TRACE: return 1;
    default: return 0;
    }
}
