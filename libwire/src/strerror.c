/* strerror.c: wire_strerror, a thread-safe name for negative errno codes.
 * glibc's strerrordesc_np returns static, untranslated strings, unlike strerror (locale, static buffer). */
#include "internal.h"

#include <limits.h>
#include <string.h>

const char *wire_strerror(int err)
{
    if (err == INT_MIN)
        return "Unknown error";
    int e = err < 0 ? -err : err;
    if (e == 0)
        return "Success";
    const char *s = strerrordesc_np(e);
    return s ? s : "Unknown error";
}
