/* Result codes of an execution: names for messages and JSON, and parsing for the test algorithm and the
 * command line. */
#include <stdlib.h>
#include <strings.h>

#include "caf/algorithm.h"

static const char *const result_names[] = {"OK", "ITERATE", "NOT_ENOUGH_DATA", "FAILURE", "UNDEFINED"};

const char *caf_algo_result_name(caf_algo_result result)
{
    if ((unsigned)result <= CAF_ALGO_UNDEFINED)
        return result_names[result];
    return "INVALID";
}

bool caf_algo_result_parse(const char *text, caf_algo_result *out)
{
    if (!text)
        return false;
    for (int i = 0; i <= CAF_ALGO_UNDEFINED; i++) {
        if (strcasecmp(text, result_names[i]) == 0) {
            *out = (caf_algo_result)i;
            return true;
        }
    }
    char *end;
    long v = strtol(text, &end, 10);
    if (end != text && *end == '\0' && v >= 0 && v <= CAF_ALGO_UNDEFINED) {
        *out = (caf_algo_result)v;
        return true;
    }
    return false;
}

bool caf_algo_result_is_success(caf_algo_result result)
{
    return result == CAF_ALGO_OK || result == CAF_ALGO_ITERATE;
}
