/* The IoV a run is limited to (`caf run --iov`, basf2's CAF.run(iov)): which runs the collector phase
 * keeps, which runs reach the strategies, how the strategies' explicit IoVs are clipped to it, and how it
 * is part of the run's recorded configuration. */
#include <stdio.h>
#include <string.h>

#include "orchestration/run_internal.h"

static const caf_iov *requested(const run_loop *loop)
{
    return loop->options ? loop->options->iov : NULL;
}

bool run_iov_wants(const run_loop *loop, caf_exprun run)
{
    const caf_iov *iov = requested(loop);
    return !iov || caf_iov_contains_exprun(*iov, run);
}

size_t run_iov_filter(const run_loop *loop, caf_exprun *runs, size_t count)
{
    size_t kept = 0;
    for (size_t i = 0; i < count; i++)
        if (run_iov_wants(loop, runs[i]))
            runs[kept++] = runs[i];
    return kept;
}

/* A payload must not claim runs outside the requested IoV, so the IoVs a strategy is told to cover are
 * intersected with it; one that does not overlap it at all is dropped (the strategy then works from the
 * runs, which all lie inside). */
void run_iov_clip_params(const run_loop *loop, caf_strategy_params *params)
{
    const caf_iov *iov = requested(loop);
    if (!iov)
        return;
    if (params->has_apply_iov) {
        params->apply_iov = caf_iov_intersection(params->apply_iov, *iov);
        params->has_apply_iov = !caf_iov_is_empty(params->apply_iov);
    }
    if (params->has_iov_coverage) {
        params->iov_coverage = caf_iov_intersection(params->iov_coverage, *iov);
        params->has_iov_coverage = !caf_iov_is_empty(params->iov_coverage);
    }
}

json_t *run_global_config_json(const run_loop *loop)
{
    json_t *config = run_campaign_config_json(loop->campaign);
    const caf_iov *iov = requested(loop);
    /* Without --iov the key is absent, so folders started before it existed compare equal. */
    if (config && iov) {
        char text[CAF_IOV_TEXT_MAX];
        json_object_set_new(config, "iov", json_string(caf_iov_format(*iov, text, sizeof text)));
    }
    return config;
}

void run_iov_describe(const json_t *config, char *buf, size_t size)
{
    const json_t *iov = json_object_get(config, "iov");
    if (json_is_string(iov))
        snprintf(buf, size, "--iov %s", json_string_value(iov));
    else
        snprintf(buf, size, "no --iov");
}
