/* Lineage records: for every execution whose payloads are committed, one JSON file in the lineage folder of
 * the database the payloads go to (DB/lineage/, caf/lineage.h) saying where they came from: calibration,
 * iteration, algorithm, execution and its runs, the parameters, the plugin file and its MD5, the database
 * chain, the caf version, and the collector jobs whose outputs hold those runs with their input files
 * (path, size, modification time).
 *
 * The record is written before the payloads are committed, so a payload in a database always has one (a
 * record whose commit never happened names content the database does not hold, and nothing finds it).
 * What every execution of an algorithm shares (the collector jobs, the input files' sizes, the plugin's
 * hash) is read once per algorithm phase. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "caf/collector_output.h"
#include "caf/file.h"
#include "caf/hash.h"
#include "caf/json.h"
#include "caf/lineage.h"
#include "caf/localdb.h"
#include "caf/plugin.h"
#include "caf/version.h"
#include "orchestration/run_internal.h"

/* One subjob of a collector job and the runs its output holds. */
typedef struct lineage_subjob {
    caf_run_range runs; /* empty with runs_known false when its output could not be read */
    bool runs_known;
    json_t *record; /* its part of a lineage record (collection, subjob, files...) */
} lineage_subjob;

struct run_lineage {
    const run_cal *c;
    const caf_algorithm_config *cfg;
    int algorithm;
    lineage_subjob *subjobs;
    size_t subjob_count;
    json_t *algorithm_record; /* index, plugin, file, md5, parameters, strategy */
    json_t *chain;
};

/* A file's identity as it is now: path, size and modification time (UTC, and nanoseconds since the epoch,
 * the file index's key). A file gone since is recorded with "missing": true. */
static json_t *file_record(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return json_pack("{s:s, s:b}", "path", path, "missing", 1);
    char when[40];
    struct tm tm;
    gmtime_r(&st.st_mtim.tv_sec, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_pack("{s:s, s:I, s:s, s:I}", "path", path, "size", (json_int_t)st.st_size, "mtime", when,
                     "mtime_ns", (json_int_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec);
}

/* ITERATION_DIR/collector or ITERATION_DIR/collections/NAME: where collection k's job works. */
static char *collector_dir(const run_cal *c, size_t k)
{
    char *it_dir = run_cal_iteration_dir(c, c->cm.iteration), *p = NULL;
    if (it_dir && (c->cfg->collection_count == 0 ? asprintf(&p, "%s/collector", it_dir)
                                                 : asprintf(&p, "%s/collections/%s", it_dir,
                                                            c->cfg->collections[k]->name)) < 0)
        p = NULL;
    free(it_dir);
    return p;
}

/* Reads collection k's saved job (caf-job.json, docs/jobs.md): each subjob, its input files and the runs
 * its output holds. */
static caf_status add_collection(run_lineage *l, size_t k, caf_error *err)
{
    const run_cal *c = l->c;
    caf_collection_config col;
    caf_calibration_collection(c->cfg, k, &col);
    char *dir = collector_dir(c, k), *job_file = dir ? caf_path_join(dir, "caf-job.json") : NULL;
    json_t *job = NULL;
    caf_status rc = job_file ? caf_json_load_file(job_file, &job, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    const char *outputs = rc == CAF_OK ? json_string_value(json_object_get(job, "output_dir")) : NULL;
    json_t *subjobs = rc == CAF_OK ? json_object_get(job, "subjobs") : NULL;
    if (rc == CAF_OK && (!outputs || !json_is_array(subjobs)))
        rc = caf_error_set(err, CAF_ERR_FORMAT, "%s: no output_dir or subjobs", job_file);
    size_t n = json_array_size(subjobs);
    if (rc == CAF_OK) {
        lineage_subjob *grown = realloc(l->subjobs, (l->subjob_count + n + 1) * sizeof *grown);
        if (!grown)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        else
            l->subjobs = grown;
    }
    for (size_t i = 0; rc == CAF_OK && i < n; i++) {
        json_t *s = json_array_get(subjobs, i);
        json_int_t index = json_integer_value(json_object_get(s, "index"));
        lineage_subjob *ls = &l->subjobs[l->subjob_count++];
        memset(ls, 0, sizeof *ls);
        char *output = NULL;
        if (asprintf(&output, "%s/%lld/collector_output.sqlite", outputs, (long long)index) < 0)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        ls->runs_known = caf_collected_run_range_of_files((const char *const *)&output, 1, &ls->runs, NULL) == CAF_OK;
        json_t *files = json_array();
        size_t j;
        json_t *f;
        json_array_foreach(json_object_get(s, "input_files"), j, f)
            json_array_append_new(files, file_record(json_string_value(f)));
        json_t *reason = json_object_get(s, "reason");
        ls->record = json_pack("{s:s, s:s, s:s?, s:I, s:I, s:s?, s:O?, s:s, s:o, s:o?}", "collection", col.name,
                               "collector", col.collector, "job", json_string_value(json_object_get(job, "name")),
                               "subjob", index, "attempt", json_integer_value(json_object_get(s, "attempt")),
                               "status", json_string_value(json_object_get(s, "status")), "reason",
                               json_is_string(reason) ? reason : NULL, "output", output, "input_files", files,
                               "runs", ls->runs_known ? caf_json_runs(ls->runs.runs, ls->runs.count) : NULL);
        free(output);
        if (!ls->record)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    json_decref(job);
    free(dir);
    free(job_file);
    return rc;
}

static json_t *algorithm_record(const run_lineage *l)
{
    char *plugin = strdup(l->cfg->plugin), *file = NULL;
    char *colon = plugin ? strchr(plugin, ':') : NULL;
    if (colon)
        *colon = '\0';
    char md5[CAF_MD5_HEX_SIZE] = "";
    if (plugin && caf_plugin_find(plugin, &file, NULL) == CAF_OK && caf_md5_file_hex(file, md5, NULL) != CAF_OK)
        md5[0] = '\0';
    json_t *r = json_pack("{s:i, s:s, s:s?, s:s?, s:O, s:s}", "index", l->algorithm, "plugin", l->cfg->plugin,
                          "plugin_file", file, "plugin_md5", md5[0] ? md5 : NULL, "parameters",
                          l->cfg->parameters, "strategy", caf_strategy_params_name(&l->cfg->strategy));
    free(plugin);
    free(file);
    return r;
}

caf_status run_lineage_open(const run_cal *c, int algorithm, run_lineage **out, caf_error *err)
{
    run_lineage *l = calloc(1, sizeof *l);
    *out = NULL;
    if (!l)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    l->c = c;
    l->algorithm = algorithm;
    l->cfg = &c->cfg->algorithms[algorithm];
    caf_status rc = CAF_OK;
    for (size_t k = 0; rc == CAF_OK && k < caf_calibration_collection_count(c->cfg); k++)
        rc = add_collection(l, k, err);
    l->algorithm_record = algorithm_record(l);
    l->chain = json_array();
    for (size_t i = 0; l->chain && i < c->chain_count; i++)
        json_array_append_new(l->chain, run_chain_item_json(c->chain[i], c->chain_sources ? c->chain_sources[i] : NULL));
    if (rc == CAF_OK && (!l->algorithm_record || !l->chain))
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc != CAF_OK) {
        run_lineage_free(l);
        return rc;
    }
    *out = l;
    return CAF_OK;
}

void run_lineage_free(run_lineage *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->subjob_count; i++) {
        caf_run_range_clear(&l->subjobs[i].runs);
        json_decref(l->subjobs[i].record);
    }
    free(l->subjobs);
    json_decref(l->algorithm_record);
    json_decref(l->chain);
    free(l);
}

static bool shares_a_run(const caf_run_range *rr, const caf_exprun *runs, size_t count)
{
    for (size_t i = 0, j = 0; i < rr->count && j < count;) {
        int d = caf_exprun_compare(rr->runs[i], runs[j]);
        if (d == 0)
            return true;
        d < 0 ? i++ : j++;
    }
    return false;
}

/* The payloads of the execution's own database: name, IoV, file name and the MD5 of the content (a
 * database's revision is a prefix of it, however many digits a collision made it). */
static caf_status payload_records(const char *exec_db, json_t *out, caf_error *err)
{
    caf_localdb *db = NULL;
    caf_status rc = caf_localdb_open(exec_db, 0, &db, err);
    for (size_t i = 0; rc == CAF_OK && i < caf_localdb_entry_count(db); i++) {
        const caf_db_entry *e = caf_localdb_entry(db, i);
        char *file = caf_localdb_payload_path(db, e, err);
        char md5[CAF_MD5_HEX_SIZE];
        rc = file ? caf_md5_file_hex(file, md5, err) : (err ? err->code : CAF_ERR_IO);
        if (rc == CAF_OK)
            json_array_append_new(out, json_pack("{s:s, s:s, s:o}", "name", e->name, "md5", md5, "iov",
                                                 caf_json_iov(e->iov)));
        free(file);
    }
    caf_localdb_close(db);
    return rc;
}

caf_status run_lineage_record(run_lineage *l, const caf_execution *e, const char *exec_dir, const char *message,
                              json_t **out, char **file_name, caf_error *err)
{
    *out = NULL;
    *file_name = NULL;
    char *exec_db = caf_path_join(exec_dir, "database"), *text = exec_db ? caf_path_join(exec_db, CAF_LOCALDB_TEXT_FILE) : NULL;
    if (!text) {
        free(exec_db);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    bool has_payloads = access(text, F_OK) == 0;
    free(text);
    if (!has_payloads) { /* the execution saved nothing: nothing to explain */
        free(exec_db);
        return CAF_OK;
    }
    json_t *payloads = json_array(), *jobs = json_array();
    caf_status rc = payloads && jobs ? payload_records(exec_db, payloads, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    for (size_t i = 0; rc == CAF_OK && i < l->subjob_count; i++)
        if (!l->subjobs[i].runs_known || shares_a_run(&l->subjobs[i].runs, e->runs, e->run_count))
            json_array_append(jobs, l->subjobs[i].record);
    char now[40];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *record = NULL;
    if (rc == CAF_OK) {
        record = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:O, s:{s:I, s:o, s:o, s:s, s:s?, s:s}, s:o, s:O, s:o}",
                           "format", CAF_LINEAGE_FORMAT, "caf_version", CAF_VERSION_STRING, "written", now,
                           "output_dir", l->c->loop->dir, "calibration", l->c->cfg->name, "iteration",
                           e->iteration, "algorithm", l->algorithm_record, "execution", "index",
                           (json_int_t)e->index, "runs", caf_json_runs(e->runs, e->run_count), "iov",
                           caf_json_iov(e->iov), "result", caf_algorithm_result_name(e->result), "message", message,
                           "folder", exec_dir, "payloads", payloads, "database_chain", l->chain,
                           "collector_jobs", jobs);
        payloads = jobs = NULL;
        if (!record)
            rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    if (rc == CAF_OK && asprintf(file_name, "%s.iteration_%d.algorithm_%d.execution_%zu.json", l->c->cfg->name,
                                 e->iteration, l->algorithm, e->index) < 0) {
        *file_name = NULL;
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    if (rc == CAF_OK) {
        *out = record;
        record = NULL;
    }
    json_decref(payloads);
    json_decref(jobs);
    json_decref(record);
    free(exec_db);
    return rc;
}
