/* A shared object on the plugin path that is not a module: it lacks caf_module_plugin_v1. */
int caf_test_not_a_module(void);

int caf_test_not_a_module(void)
{
    return 42;
}
