/* The algorithms of one calibration, run one after another: each commits to the calibration's output
 * database and reads it first, so a later algorithm sees the constants of the earlier ones, as the
 * algorithms of one basf2 calibration share their output database. */
#include <stdlib.h>
#include <string.h>

#include "caf/algorithm_runner.h"
#include "caf/localdb.h"
#include "caf/log.h"

caf_algo_result caf_algo_sequence_result(const caf_algo_run_result *results, size_t count)
{
    if (count == 0)
        return CAF_ALGO_UNDEFINED;
    caf_algo_result overall = CAF_ALGO_OK;
    for (size_t i = 0; i < count; i++) {
        caf_algo_result r = results[i].result;
        if (r == CAF_ALGO_FAILURE || r == CAF_ALGO_NOT_ENOUGH_DATA || r == CAF_ALGO_UNDEFINED)
            return r;
        if (r == CAF_ALGO_ITERATE)
            overall = CAF_ALGO_ITERATE;
    }
    return overall;
}

caf_status caf_algo_run_sequence(const caf_algo_run_spec *specs, size_t count, const char *output_db,
                                 caf_algo_run_result *results, size_t *ran, caf_error *err)
{
    *ran = 0;
    if (!output_db)
        return caf_error_set(err, CAF_ERR_INVALID, "a sequence of algorithms needs an output database");
    /* created up front: it heads every chain, and a chain opens only existing databases */
    caf_localdb *db;
    caf_status st = caf_localdb_open(output_db, CAF_LOCALDB_CREATE, &db, err);
    if (st != CAF_OK)
        return st;
    caf_localdb_close(db);
    for (size_t i = 0; i < count && st == CAF_OK; i++) {
        size_t chain_count = specs[i].chain_count + 1;
        const char **chain = malloc(chain_count * sizeof *chain);
        if (!chain)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        chain[0] = output_db;
        if (specs[i].chain_count)
            memcpy(chain + 1, specs[i].chain, specs[i].chain_count * sizeof *chain);
        caf_algo_run_spec spec = specs[i];
        spec.chain = chain;
        spec.chain_count = chain_count;
        spec.output_db = output_db;
        st = caf_algo_run(&spec, &results[i], err);
        free(chain);
        *ran = i + 1;
        if (st == CAF_OK && !caf_algo_result_is_success(results[i].result)) {
            caf_info("algorithm %s ended %s: the %zu algorithm(s) after it do not run", results[i].algorithm,
                     caf_algo_result_name(results[i].result), count - i - 1);
            break;
        }
    }
    return st;
}
