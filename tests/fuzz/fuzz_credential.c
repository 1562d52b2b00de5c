/* libFuzzer target: px_cred_parse (the account of an Authorization value: NTLM type 1/3 under NTLM or Negotiate,
 * SPNEGO, Basic) over an exact-size copy of the input, and px_cred_account_key over the raw bytes. The account is
 * always NUL-terminated within PX_CRED_ACCOUNT_MAX bytes; the kind is one of the enum's. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/credential.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1); /* exact size: AddressSanitizer catches a read past the end */
    char acc[PX_CRED_ACCOUNT_MAX + 1];
    memcpy(copy, data, size);
    memset(acc, 'x', sizeof(acc));
    px_cred_kind k = px_cred_parse(copy, size, acc, sizeof(acc));
    assert(k >= PX_CRED_NONE && k <= PX_CRED_TOKEN);
    assert(memchr(acc, 0, sizeof(acc)) != NULL);
    if (k == PX_CRED_NONE || k == PX_CRED_NTLM_START || k == PX_CRED_TOKEN)
        assert(acc[0] == 0);
    size_t n = px_cred_account_key(copy, size, acc, sizeof(acc));
    assert(n == strlen(acc) && n <= PX_CRED_ACCOUNT_MAX);
    free(copy);
    return 0;
}
