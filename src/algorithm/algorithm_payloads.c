/* Payloads of an execution: saved in memory by calibrate, checked at once (so the algorithm hears about
 * a bad name or an empty IoV where it made the mistake), committed by the caller all together, and read
 * back from the database chain. */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algorithm/algorithm_internal.h"
#include "caf/file.h"
#include "caf/localdb.h"
#include "caf/log.h"

void caf_algo_payloads_free(caf_algo_payload *payloads, size_t count)
{
    if (!payloads)
        return;
    for (size_t i = 0; i < count; i++) {
        free(payloads[i].name);
        free(payloads[i].ext);
        free(payloads[i].data);
        free(payloads[i].revision);
    }
    free(payloads);
}

static caf_status check_ext(const char *ext, caf_error *err)
{
    size_t n = ext ? strlen(ext) : 0;
    if (n == 0 || n > 16)
        return caf_error_set(err, CAF_ERR_INVALID, "format extension '%s' must have 1 to 16 characters",
                             ext ? ext : "");
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)ext[i]))
            return caf_error_set(err, CAF_ERR_INVALID, "format extension '%s' may hold only letters and digits", ext);
    return CAF_OK;
}

caf_status caf_algo_save_bytes(caf_algo_context *ctx, const char *name, const char *ext, const void *data,
                               size_t size, const caf_iov *iov, caf_error *err)
{
    caf_algorithm *alg = ctx->alg;
    if (caf_algo_require_execution(alg, "saving payloads", err) != CAF_OK)
        return CAF_ERR_STATE;
    caf_iov valid = iov ? *iov : alg->iov;
    caf_status st = caf_payload_name_check(name, err);
    json_t *utf8 = st == CAF_OK ? json_string(name) : NULL; /* names travel in JSON and database.txt */
    if (st == CAF_OK && !utf8)
        st = caf_error_set(err, CAF_ERR_INVALID, "the name is not UTF-8");
    json_decref(utf8);
    if (st == CAF_OK)
        st = check_ext(ext, err);
    if (st == CAF_OK)
        st = caf_iov_validate(valid, err);
    if (st == CAF_OK && caf_iov_is_empty(valid))
        st = caf_error_set(err, CAF_ERR_INVALID, "the IoV is empty (-1,-1,-1,-1); use 0,0,-1,-1 for always");
    if (st != CAF_OK)
        return caf_error_prefix(err, "algorithm %s: payload '%s': ", alg->full_name, name ? name : "");
    void *items = alg->payloads;
    st = caf_algo_reserve(&items, &alg->payload_capacity, alg->payload_count + 1, sizeof(caf_algo_payload), err);
    alg->payloads = items;
    if (st != CAF_OK)
        return st;
    caf_algo_payload p = {strdup(name), strdup(ext), malloc(size ? size : 1), size, valid, NULL};
    if (!p.name || !p.ext || !p.data) {
        free(p.name);
        free(p.ext);
        free(p.data);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory saving payload '%s'", name);
    }
    if (size)
        memcpy(p.data, data, size);
    alg->payloads[alg->payload_count++] = p;
    char text[CAF_IOV_TEXT_MAX];
    caf_debug("algorithm %s: saved payload %s.%s (%zu bytes) for %s", alg->full_name, name, ext, size,
              caf_iov_format(valid, text, sizeof text));
    return CAF_OK;
}

caf_status caf_algo_save_constants(caf_algo_context *ctx, const char *name, const caf_constants *constants,
                                   const caf_iov *iov, caf_error *err)
{
    char *text;
    size_t size;
    caf_status st = caf_constants_serialize(constants, &text, &size, err);
    if (st != CAF_OK)
        return caf_error_prefix(err, "algorithm %s: payload '%s': ", ctx->alg->full_name, name ? name : "");
    st = caf_algo_save_bytes(ctx, name, "json", text, size, iov, err);
    free(text);
    return st;
}

caf_status caf_algo_read_payload(const caf_algo_context *ctx, const char *name, caf_exprun r, char **data,
                                 size_t *size, char **ext, caf_error *err)
{
    const caf_algorithm *alg = ctx->alg;
    *data = NULL;
    *size = 0;
    if (ext)
        *ext = NULL;
    if (alg->chain_count == 0)
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "algorithm %s: no payload '%s' for run %d,%d in an empty database "
                             "chain", alg->full_name, name, r.exp, r.run);
    caf_status opened = caf_algo_open_chain((caf_algorithm *)(uintptr_t)alg, err); /* the instance's cache */
    if (opened != CAF_OK)
        return opened;
    caf_dbchain_match m;
    caf_status found = caf_dbchain_lookup(alg->chain, name, r, &m, err);
    if (found != CAF_OK)
        return caf_error_prefix(err, "algorithm %s: ", alg->full_name);
    char *path = m.path;
    m.path = NULL;
    caf_status st = caf_file_read(path, data, size, err);
    if (st == CAF_OK && ext) {
        const char *base = strrchr(path, '/');
        const char *dot = strrchr(base ? base : path, '.');
        if (!(*ext = strdup(dot ? dot + 1 : ""))) {
            free(*data);
            *data = NULL;
            st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        }
    }
    free(path);
    if (st != CAF_OK)
        caf_error_prefix(err, "algorithm %s: ", alg->full_name);
    return st;
}

caf_status caf_algo_read_constants(const caf_algo_context *ctx, const char *name, caf_exprun r,
                                   caf_constants **out, caf_error *err)
{
    *out = NULL;
    char *data;
    size_t size;
    caf_status st = caf_algo_read_payload(ctx, name, r, &data, &size, NULL, err);
    if (st != CAF_OK)
        return st;
    st = caf_constants_parse(data, size, out, err);
    free(data);
    if (st != CAF_OK)
        caf_error_prefix(err, "algorithm %s: payload '%s' for run %d,%d: ", ctx->alg->full_name, name, r.exp, r.run);
    return st;
}

const caf_algo_payload *caf_algorithm_payloads(const caf_algorithm *alg, size_t *count)
{
    *count = alg->payload_count;
    return alg->payloads;
}

void caf_algorithm_take_payloads(caf_algorithm *alg, caf_algo_payload **payloads, size_t *count)
{
    *payloads = alg->payloads;
    *count = alg->payload_count;
    alg->payloads = NULL;
    alg->payload_count = alg->payload_capacity = 0;
}

caf_status caf_algo_payloads_commit(caf_algo_payload *payloads, size_t count, const char *db_path,
                                    unsigned open_flags, caf_error *err)
{
    if (count == 0)
        return CAF_OK;
    caf_localdb *db;
    caf_status st = caf_localdb_open(db_path, open_flags | CAF_LOCALDB_CREATE, &db, err);
    if (st != CAF_OK)
        return st;
    caf_db_commit *commit;
    st = caf_db_commit_begin(db, &commit, err);
    for (size_t i = 0; i < count && st == CAF_OK; i++) {
        st = caf_db_commit_add_bytes(commit, payloads[i].name, payloads[i].ext, payloads[i].data, payloads[i].size,
                                     payloads[i].iov, err);
        if (st != CAF_OK)
            caf_db_commit_abort(commit);
    }
    if (st == CAF_OK)
        st = caf_db_commit_finish(commit, err);
    /* the commit appended exactly our lines, in order, under the database lock; they are the last ones
     * of the handle's entries */
    size_t entries = st == CAF_OK ? caf_localdb_entry_count(db) : 0;
    for (size_t i = 0; st == CAF_OK && i < count; i++) {
        const caf_db_entry *e = caf_localdb_entry(db, entries - count + i);
        free(payloads[i].revision);
        if (!(payloads[i].revision = strdup(e->revision)))
            st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    caf_localdb_close(db);
    return st;
}

caf_status caf_algorithm_commit(caf_algorithm *alg, const char *db_path, caf_error *err)
{
    if (!caf_algo_result_is_success(alg->result))
        return caf_error_set(err, CAF_ERR_STATE, "algorithm %s: the last execution ended %s: nothing to commit",
                             alg->full_name, caf_algo_result_name(alg->result));
    caf_status st = caf_algo_payloads_commit(alg->payloads, alg->payload_count, db_path, 0, err);
    if (st != CAF_OK)
        return caf_error_prefix(err, "algorithm %s: commit to %s: ", alg->full_name, db_path);
    if (alg->payload_count)
        caf_info("algorithm %s: committed %zu payload(s) to %s", alg->full_name, alg->payload_count, db_path);
    return CAF_OK;
}
