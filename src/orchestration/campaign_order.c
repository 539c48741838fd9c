/* Dependency order of a campaign's calibrations: a topological order, cycle detection that names the cycle,
 * the set ready to start given which are completed, and waves of calibrations that can run together. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/campaign.h"

enum { WHITE, GREY, BLACK };

/* Depth-first search from i; on a back edge writes the cycle from the stack into buf and returns true. */
static bool visit(const caf_campaign *c, size_t i, unsigned char *color, size_t *stack, size_t depth, char *buf,
                  size_t size)
{
    color[i] = GREY;
    stack[depth] = i;
    const caf_string_list *deps = &c->calibrations[i]->depends_on;
    for (size_t d = 0; d < deps->count; d++) {
        size_t j = caf_campaign_index(c, deps->items[d]);
        if (j == SIZE_MAX || color[j] == BLACK)
            continue;
        if (color[j] == GREY) {
            size_t from = 0;
            while (stack[from] != j)
                from++;
            size_t used = 0;
            buf[0] = '\0';
            for (size_t k = from; k <= depth && used < size; k++) {
                used += (size_t)snprintf(buf + used, size - used, "%s -> ", c->calibrations[stack[k]]->name);
            }
            if (used < size)
                snprintf(buf + used, size - used, "%s", c->calibrations[j]->name);
            return true;
        }
        if (visit(c, j, color, stack, depth + 1, buf, size))
            return true;
    }
    color[i] = BLACK;
    return false;
}

bool caf_campaign_find_cycle(const caf_campaign *c, char *buf, size_t size)
{
    size_t n = c->calibration_count;
    unsigned char *color = calloc(n ? n : 1, 1);
    size_t *stack = calloc(n ? n : 1, sizeof *stack);
    bool found = false;
    if (color && stack)
        for (size_t i = 0; i < n && !found; i++)
            if (color[i] == WHITE)
                found = visit(c, i, color, stack, 0, buf, size);
    free(color);
    free(stack);
    return found;
}

/* True when every dependency of i is completed; unknown names never are. */
static bool dependencies_done(const caf_campaign *c, size_t i, const bool *completed)
{
    const caf_string_list *deps = &c->calibrations[i]->depends_on;
    for (size_t d = 0; d < deps->count; d++) {
        size_t j = caf_campaign_index(c, deps->items[d]);
        if (j == SIZE_MAX || !completed[j])
            return false;
    }
    return true;
}

size_t caf_campaign_ready(const caf_campaign *c, const bool *completed, const bool *started, size_t *ready)
{
    size_t n = 0;
    for (size_t i = 0; i < c->calibration_count; i++)
        if (!started[i] && !completed[i] && dependencies_done(c, i, completed))
            ready[n++] = i;
    return n;
}

static caf_status check_acyclic(const caf_campaign *c, caf_error *err)
{
    for (size_t i = 0; i < c->calibration_count; i++) {
        const caf_string_list *deps = &c->calibrations[i]->depends_on;
        for (size_t d = 0; d < deps->count; d++)
            if (caf_campaign_index(c, deps->items[d]) == SIZE_MAX)
                return caf_error_set(err, CAF_ERR_INVALID, "calibration '%s' depends on unknown calibration '%s'",
                                     c->calibrations[i]->name, deps->items[d]);
    }
    char cycle[512];
    if (caf_campaign_find_cycle(c, cycle, sizeof cycle))
        return caf_error_set(err, CAF_ERR_INVALID, "dependency cycle: %s", cycle);
    return CAF_OK;
}

caf_status caf_campaign_waves(const caf_campaign *c, int *wave, caf_error *err)
{
    size_t n = c->calibration_count;
    size_t *order = malloc((n ? n : 1) * sizeof *order);
    if (!order)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    caf_status rc = caf_campaign_order(c, order, err);
    for (size_t k = 0; rc == CAF_OK && k < n; k++) {
        size_t i = order[k];
        const caf_string_list *deps = &c->calibrations[i]->depends_on;
        wave[i] = 0;
        for (size_t d = 0; d < deps->count; d++) {
            int w = wave[caf_campaign_index(c, deps->items[d])] + 1;
            if (w > wave[i])
                wave[i] = w;
        }
    }
    free(order);
    return rc;
}

caf_status caf_campaign_order(const caf_campaign *c, size_t *order, caf_error *err)
{
    caf_status rc = check_acyclic(c, err);
    if (rc != CAF_OK)
        return rc;
    size_t n = c->calibration_count;
    bool *done = calloc(n ? n : 1, sizeof *done);
    bool *started = calloc(n ? n : 1, sizeof *started);
    size_t *ready = malloc((n ? n : 1) * sizeof *ready);
    if (!done || !started || !ready) {
        free(done);
        free(started);
        free(ready);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    /* Acyclic, so each round finds at least one ready calibration; taking the first keeps file order. */
    for (size_t k = 0; k < n && rc == CAF_OK; k++) {
        if (caf_campaign_ready(c, done, started, ready) == 0) {
            rc = caf_error_set(err, CAF_ERR_INVALID, "no calibration can start after %zu of %zu", k, n);
            break;
        }
        order[k] = ready[0];
        done[ready[0]] = started[ready[0]] = true;
    }
    free(done);
    free(started);
    free(ready);
    return rc;
}
