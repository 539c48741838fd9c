/* libcurl is loaded by the conditions service client when the first client opens (gt_client.c), not
 * linked into libcaf: a caf process that makes no request (a collector job, an algorithm execution, the
 * run loop without global tags) does not map it, so its forks neither copy its ~27 libraries nor run their
 * fork handlers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/gt_client.h"

/* True when this process has a file whose path contains name mapped. */
static bool mapped(const char *name)
{
    FILE *f = fopen("/proc/self/maps", "r");
    assert_non_null(f);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, name) != NULL;
    fclose(f);
    return found;
}

static void libcurl_is_loaded_by_the_first_client(void **state)
{
    (void)state;
    /* Debian's HDF5 links libcurl itself (its read-only S3 driver); where this program maps HDF5 (a build
     * that links every listed library, as the sanitizer build does), libcurl comes with it, not from
     * libcaf: then only the client's own loading is checked. */
    bool strict = !mapped("libhdf5");
    if (!strict)
        printf("libhdf5 is mapped and brings libcurl with it: checking the client only\n");
    if (strict)
        assert_false(mapped("libcurl"));
    caf_gt_client *client = NULL;
    caf_error err = {0};
    /* a URL refused before any request needs no libcurl either */
    assert_int_equal(caf_gt_client_open("ftp://example.org/", NULL, &client, &err), CAF_ERR_INVALID);
    if (strict)
        assert_false(mapped("libcurl"));
    assert_int_equal(caf_gt_client_open("http://127.0.0.1:9/", NULL, &client, &err), CAF_OK);
    assert_true(mapped("libcurl"));
    caf_gt_client_close(client);
    /* a second client uses the library already loaded */
    assert_int_equal(caf_gt_client_open("http://127.0.0.1:9/", "token", &client, &err), CAF_OK);
    caf_gt_client_close(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(libcurl_is_loaded_by_the_first_client),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
