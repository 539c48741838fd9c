/* A shared object on the plugin path that is not an algorithm plugin: it lacks the entry point, so
 * loading it as one must fail with a message naming the plugin and the missing symbol. */
int caf_test_not_an_algorithm(void);

int caf_test_not_an_algorithm(void)
{
    return 42;
}
