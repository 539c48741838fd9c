/* Growing the instance's arrays (payloads, boundaries, cache entries) by doubling. */
#include <stdlib.h>

#include "algorithm/algorithm_internal.h"

caf_status caf_algo_reserve(void **items, size_t *capacity, size_t needed, size_t item_size, caf_error *err)
{
    if (needed <= *capacity)
        return CAF_OK;
    size_t cap = *capacity ? *capacity : 4;
    while (cap < needed)
        cap *= 2;
    void *grown = realloc(*items, cap * item_size);
    if (!grown)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    *items = grown;
    *capacity = cap;
    return CAF_OK;
}
