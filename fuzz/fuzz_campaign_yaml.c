/* Fuzzing harness: campaign files (docs/configuration.md).
 *
 * The input becomes campaign.yaml in a scratch folder and goes through caf_campaign_load_yaml, which
 * parses it within caf_yaml_load_bounded's limits, walks it into the model and validates it. Checked
 * besides "no crash, no leak": a failed load leaves a one-line message and at least one problem, every
 * problem formats as one line, a load without problems validates again without problems, and a valid
 * campaign can be ordered into waves. Input files are not expanded: a pattern such as "/ * / * / *" would
 * make the fuzzer measure the machine's file system instead of caf. */
#include <stdint.h>

#include "caf/campaign.h"
#include "fuzz_support.h"

static void check_problems(const caf_config_problems *problems, const char *path)
{
    for (size_t i = 0; i < problems->count; i++) {
        char text[1200];
        caf_config_problem_format(problems, i, path, text, sizeof text);
        if (strchr(text, '\n')) {
            fprintf(stderr, "a problem that is not one line: '%s'\n", text);
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("campaign.yaml", data, size);
    caf_campaign campaign;
    caf_config_problems problems = {0};
    caf_error err = {0};
    caf_status st = caf_campaign_load_yaml(path, &campaign, &problems, &err);
    fuzz_check_error(st, &err, "caf_campaign_load_yaml");
    check_problems(&problems, path);
    if (st == CAF_ERR_INVALID && problems.count == 0) {
        fprintf(stderr, "caf_campaign_load_yaml refused the campaign (%s) without a problem\n", err.message);
        abort();
    }
    if (st == CAF_OK) {
        if (problems.count) {
            fprintf(stderr, "caf_campaign_load_yaml accepted a campaign with %zu problems\n", problems.count);
            abort();
        }
        if (caf_campaign_validate(&campaign, &problems) != 0) {
            fprintf(stderr, "a loaded campaign does not validate again\n");
            abort();
        }
        int *wave = calloc(campaign.calibration_count + 1, sizeof *wave);
        if (wave) {
            st = caf_campaign_waves(&campaign, wave, &err);
            fuzz_check_error(st, &err, "caf_campaign_waves");
            if (st != CAF_OK && st != CAF_ERR_NOMEM) {
                fprintf(stderr, "a valid campaign cannot be ordered: %s\n", err.message);
                abort();
            }
        }
        free(wave);
    }
    caf_config_problems_clear(&problems);
    caf_campaign_close(&campaign);
    return 0;
}
