/* Algorithms built against older descriptor versions, for the loader's compatibility: "v1" has the
 * version 1 layout (no setup_experiment), "v2" the version 2 layout (no pre_algorithm). Each descriptor is
 * its own object of exactly its version's size, so a loader reading a later field reads past it (which
 * the sanitizer build reports). */
#include <stddef.h>

#include "caf/algorithm.h"

typedef struct v1_descriptor {
    uint32_t abi_version;
    const char *name, *description, *collector;
    const caf_param_spec *params;
    caf_algo_result (*calibrate)(caf_algo_context *ctx, caf_error *err);
    caf_status (*boundary_setup)(caf_algo_context *ctx, const caf_exprun *runs, size_t count, void **state,
                                 caf_error *err);
    caf_status (*is_boundary_required)(caf_algo_context *ctx, void *state, caf_exprun run, bool *required,
                                       caf_error *err);
    void (*boundary_teardown)(caf_algo_context *ctx, void *state);
} v1_descriptor;

typedef struct v2_descriptor {
    v1_descriptor v1;
    caf_status (*setup_experiment)(caf_algo_context *ctx, int exp, caf_error *err);
} v2_descriptor;

/* The layouts must be the prefixes of today's descriptor, or this test proves nothing. */
_Static_assert(sizeof(v1_descriptor) == offsetof(caf_algorithm_descriptor, setup_experiment), "v1 layout");
_Static_assert(sizeof(v2_descriptor) == offsetof(caf_algorithm_descriptor, pre_algorithm), "v2 layout");

static caf_algo_result calibrate(caf_algo_context *ctx, caf_error *err)
{
    (void)ctx, (void)err;
    return CAF_ALGO_OK;
}

static caf_status setup_experiment(caf_algo_context *ctx, int exp, caf_error *err)
{
    (void)ctx, (void)exp, (void)err;
    return CAF_OK;
}

static const v1_descriptor v1 = {1, "v1", "Built against descriptor version 1.", "TestCollector", NULL, calibrate,
                                 NULL, NULL, NULL};
static const v2_descriptor v2 = {{2, "v2", "Built against descriptor version 2.", "TestCollector", NULL, calibrate,
                                  NULL, NULL, NULL},
                                 setup_experiment};

const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void);
const caf_algorithm_descriptor *const *caf_algorithm_plugin_v1(void)
{
    static const caf_algorithm_descriptor *list[3];
    list[0] = (const caf_algorithm_descriptor *)(const void *)&v1;
    list[1] = (const caf_algorithm_descriptor *)(const void *)&v2;
    return list;
}
