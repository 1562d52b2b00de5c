/* tests/tls runner: makes the test certificates once (children of Check's forks inherit the directory),
 * runs the config, connection, interoperability and ticket key file cases, then removes the certificates. */
#include <stdlib.h>

#include "tls_test.h"

int main(void)
{
    if (tls_make_certs() != 0)
        return EXIT_FAILURE;
    Suite *s = suite_create("tls");
    suite_add_tcase(s, tls_tcase_config());
    suite_add_tcase(s, tls_tcase_conn());
    TCase *interop = tls_tcase_interop();
    tcase_set_timeout(interop, 60);
    suite_add_tcase(s, interop);
    suite_add_tcase(s, tls_tcase_ticket());
    SRunner *r = srunner_create(s);
    srunner_run_all(r, CK_NORMAL);
    int failed = srunner_ntests_failed(r);
    srunner_free(r);
    tls_remove_certs();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
