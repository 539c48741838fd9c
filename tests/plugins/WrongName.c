/* A module plugin whose descriptor names another module than its file: the loader must refuse it. */
#include "caf/module.h"

static const caf_module_descriptor descriptor = {
    .abi_version = CAF_MODULE_ABI_VERSION,
    .name = "SomethingElse",
    .description = "Test module with a mismatched name.",
};

const caf_module_descriptor *caf_module_plugin_v1(void)
{
    return &descriptor;
}
