/* A scripted algorithm for strategy tests: every run holds a number of entries and the algorithm needs a
 * minimum sum, like the worked example of the strategies spec ("needs 100 entries; each run has 40").
 * It is a real implementation of the strategy callback interface, with countable calls, not a stub: its
 * results follow from the data, so a strategy that asks for the wrong runs gets different answers.
 * Header-only (static functions) so that every strategy test program can include it. */
#ifndef CAF_TEST_SCRIPTED_ALGORITHM_H
#define CAF_TEST_SCRIPTED_ALGORITHM_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/strategy.h"

#define SCRIPTED_MAX 64

typedef struct scripted_algorithm {
    int needed;          /* entries an execution needs for a result other than NOT_ENOUGH_DATA */
    int default_entries; /* entries of a run not listed in entries[] */
    struct {
        caf_exprun run;
        int entries;
    } entries[SCRIPTED_MAX];
    size_t entry_count;
    caf_exprun failing[SCRIPTED_MAX]; /* an execution that includes one of these runs returns FAILURE */
    size_t failing_count;
    bool iterate; /* successes return ITERATE instead of OK */
    caf_exprun found[SCRIPTED_MAX]; /* what find_boundaries answers */
    size_t found_count;
    /* What happened. */
    int executions, commits, find_calls, settings_calls;
    int settings_exps[SCRIPTED_MAX];
    char log[4096]; /* "runs:iov=result " per execution */
    char committed[2048]; /* "iov " per commit */
} scripted_algorithm;

static inline void scripted_set_entries(scripted_algorithm *a, int exp, int run, int entries)
{
    a->entries[a->entry_count].run = (caf_exprun){exp, run};
    a->entries[a->entry_count++].entries = entries;
}

static inline int scripted_entries_of(const scripted_algorithm *a, caf_exprun r)
{
    for (size_t i = 0; i < a->entry_count; i++)
        if (caf_exprun_compare(a->entries[i].run, r) == 0)
            return a->entries[i].entries;
    return a->default_entries;
}

static inline caf_status scripted_execute(void *ctx, const caf_execution *e, caf_execution_result *result,
                                          caf_error *err)
{
    (void)err;
    scripted_algorithm *a = ctx;
    a->executions++;
    int sum = 0;
    bool failing = false;
    for (size_t i = 0; i < e->run_count; i++) {
        sum += scripted_entries_of(a, e->runs[i]);
        for (size_t j = 0; j < a->failing_count; j++)
            failing = failing || caf_exprun_compare(a->failing[j], e->runs[i]) == 0;
    }
    if (failing)
        *result = CAF_RESULT_FAILURE;
    else if (sum < a->needed)
        *result = CAF_RESULT_NOT_ENOUGH_DATA;
    else
        *result = a->iterate ? CAF_RESULT_ITERATE : CAF_RESULT_OK;
    char iov[CAF_IOV_TEXT_MAX];
    size_t used = strlen(a->log);
    for (size_t i = 0; i < e->run_count; i++) {
        snprintf(a->log + used, sizeof a->log - used, "%s%d.%d", i ? "," : "", e->runs[i].exp, e->runs[i].run);
        used = strlen(a->log);
    }
    snprintf(a->log + used, sizeof a->log - used, ":%s=%s ", caf_iov_format(e->iov, iov, sizeof iov),
             caf_algorithm_result_name(*result));
    return CAF_OK;
}

static inline caf_status scripted_commit(void *ctx, const caf_execution *e, caf_error *err)
{
    (void)err;
    scripted_algorithm *a = ctx;
    a->commits++;
    char iov[CAF_IOV_TEXT_MAX];
    size_t used = strlen(a->committed);
    snprintf(a->committed + used, sizeof a->committed - used, "%s ", caf_iov_format(e->iov, iov, sizeof iov));
    return CAF_OK;
}

static inline caf_status scripted_find_boundaries(void *ctx, const caf_exprun *runs, size_t count,
                                                  caf_exprun **out, size_t *out_count, caf_error *err)
{
    (void)runs, (void)count, (void)err;
    scripted_algorithm *a = ctx;
    a->find_calls++;
    *out = malloc((a->found_count ? a->found_count : 1) * sizeof **out);
    if (!*out)
        return CAF_ERR_NOMEM;
    memcpy(*out, a->found, a->found_count * sizeof **out);
    *out_count = a->found_count;
    return CAF_OK;
}

static inline caf_status scripted_apply_settings(void *ctx, int exp, caf_error *err)
{
    (void)err;
    scripted_algorithm *a = ctx;
    a->settings_exps[a->settings_calls++] = exp;
    return CAF_OK;
}

static inline caf_strategy_callbacks scripted_callbacks(scripted_algorithm *a)
{
    return (caf_strategy_callbacks){.execute = scripted_execute,
                                    .commit = scripted_commit,
                                    .find_boundaries = scripted_find_boundaries,
                                    .apply_experiment_settings = scripted_apply_settings,
                                    .ctx = a};
}

#endif
