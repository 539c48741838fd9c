/* Server entries of database chains (caf/dbchain.h): written and parsed back with every character a URL
 * may hold; never containing ':', so a chain joined with ':' splits back into the same entries; malformed
 * entries (as $CAF_DATABASE_CHAIN may carry) refused with the entry named, never crashing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/dbchain.h"
#include "caf/file.h"
#include "test_support.h"

static void test_round_trip(void **state)
{
    (void)state;
    const char *urls[] = {"http://127.0.0.1:8080/", "https://user@mirror.example.org:443/a,b/%41?x=1&y=:",
                          "http://[::1]:9/"};
    char *entry = caf_dbchain_server_entry("calib_v1.2+x", urls, 3);
    assert_non_null(entry);
    assert_true(caf_dbchain_entry_is_server(entry));
    assert_null(strchr(entry, ':'));
    char *tag, **back;
    size_t count;
    caf_error err = {0};
    assert_int_equal(caf_dbchain_server_parse(entry, &tag, &back, &count, &err), CAF_OK);
    assert_string_equal(tag, "calib_v1.2+x");
    assert_int_equal(count, 3);
    for (size_t i = 0; i < 3; i++)
        assert_string_equal(back[i], urls[i]);
    caf_dbchain_server_free(tag, back, count);

    /* a chain of a local folder and the entry, joined with ':', opens as two entries, servers not asked */
    char *dir = test_make_temp_dir("dbchain_server");
    char *db = caf_path_join(dir, "db");
    assert_int_equal(caf_mkdir_p(db, &err), CAF_OK);
    test_write_file(db, "database.txt", "");
    char *cache = caf_path_join(dir, "cache");
    setenv("CAF_PAYLOAD_CACHE", cache, 1);
    char *text = NULL;
    assert_true(asprintf(&text, "%s:%s:", db, entry) > 0);
    caf_dbchain *chain;
    assert_int_equal(caf_dbchain_open_text(text, &chain, &err), CAF_OK);
    assert_int_equal(caf_dbchain_size(chain), 2);
    assert_non_null(caf_dbchain_database(chain, 0));
    assert_null(caf_dbchain_resolver(chain, 0));
    assert_null(caf_dbchain_database(chain, 1));
    assert_non_null(caf_dbchain_resolver(chain, 1));
    assert_string_equal(caf_gt_resolver_name(caf_dbchain_resolver(chain, 1)),
                        "calib_v1.2+x on http://127.0.0.1:8080/, https://user@mirror.example.org:443/a,b/%41?x=1&y=:, "
                        "http://[::1]:9/");
    caf_dbchain_close(chain);
    unsetenv("CAF_PAYLOAD_CACHE");
    free(text);
    free(cache);
    free(db);
    free(entry);
    test_remove_tree(dir);
    free(dir);
}

static void test_malformed_entries(void **state)
{
    (void)state;
    const char *bad[] = {
        "globaltag=",                     /* nothing */
        "globaltag=t",                    /* no '@' */
        "globaltag=@http%3A//x",          /* no tag */
        "globaltag=t@",                   /* no URL */
        "globaltag=../x@http%3A//x",      /* a tag name that is a path */
        "globaltag=t@ftp%3A//x",          /* not http(s) */
        "globaltag=t@file%3A///etc",      /* not http(s) */
        "globaltag=t@http%3A//x,",        /* an empty URL */
        "globaltag=t@http%3A//x%",        /* a cut escape */
        "globaltag=t@http%3A//x%4",       /* a cut escape */
        "globaltag=t@http%3A//x%zz",      /* not hex */
        "globaltag=t@http%3A//x%00y",     /* NUL */
        "globaltag=t@http%3A//x,https%3A", /* a URL without anything after the scheme's colon */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *tag, **urls;
        size_t count;
        caf_error err = {0};
        assert_int_equal(caf_dbchain_server_parse(bad[i], &tag, &urls, &count, &err), CAF_ERR_INVALID);
        assert_null(tag);
        assert_non_null(strstr(err.message, bad[i]));
        caf_dbchain *chain = NULL;
        assert_int_equal(caf_dbchain_open(&bad[i], 1, &chain, &err), CAF_ERR_INVALID);
        assert_null(chain);
    }
    assert_false(caf_dbchain_entry_is_server("db/globaltag=x"));
    assert_false(caf_dbchain_entry_is_server(NULL));
}

/* caf_dbchain_find cannot read a server entry: it answers from the local databases before it, and never
 * from one after it, whose payload has a lower priority than what the server may hold. */
static void test_find_stops_at_a_server_entry(void **state)
{
    (void)state;
    char *dir = test_make_temp_dir("dbchain_find");
    char *db = caf_path_join(dir, "db"), *cache = caf_path_join(dir, "cache");
    caf_error err = {0};
    assert_int_equal(caf_mkdir_p(db, &err), CAF_OK);
    test_write_file(db, "database.txt", "dbstore/Gain 1 0,0,-1,-1\n");
    setenv("CAF_PAYLOAD_CACHE", cache, 1);
    const char *urls[] = {"http://127.0.0.1:1/"};
    char *server = caf_dbchain_server_entry("calib", urls, 1);
    const char *server_first[] = {server, db}, *local_first[] = {db, server};
    caf_dbchain *chain;
    caf_localdb *where = NULL;
    assert_int_equal(caf_dbchain_open(local_first, 2, &chain, &err), CAF_OK);
    const caf_db_entry *e = caf_dbchain_find(chain, "Gain", (caf_exprun){3, 4}, &where);
    assert_non_null(e);
    assert_ptr_equal(where, caf_dbchain_database(chain, 0));
    assert_null(caf_dbchain_find(chain, "Other", (caf_exprun){3, 4}, &where));
    assert_null(where);
    caf_dbchain_close(chain);
    assert_int_equal(caf_dbchain_open(server_first, 2, &chain, &err), CAF_OK);
    for (int i = 0; i < 2; i++) { /* no answer from the database after the server, every time */
        where = caf_dbchain_database(chain, 1);
        assert_null(caf_dbchain_find(chain, "Gain", (caf_exprun){3, 4}, &where));
        assert_null(where);
    }
    caf_dbchain_close(chain);
    unsetenv("CAF_PAYLOAD_CACHE");
    free(server);
    free(cache);
    free(db);
    test_remove_tree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_malformed_entries),
        cmocka_unit_test(test_find_stops_at_a_server_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
