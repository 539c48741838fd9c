/* The global tag store: SQLite metadata plus a content-addressed payload folder (caf/gt_store.h). */
#include "caf/gt_store.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "caf/file.h"
#include "caf/hash.h"

struct caf_gt_store {
    char *dir;
    sqlite3 *db;
    pthread_mutex_t lock; /* one connection, used by one thread at a time */
};

static const char *const gt_states[] = {"OPEN", "PUBLISHED", "INVALID"};
static const char *const gt_types[] = {"DEV", "RELEASE", "RUNNING"};

static bool in_list(const char *text, const char *const *list, size_t n)
{
    for (size_t i = 0; text && i < n; i++)
        if (strcmp(text, list[i]) == 0)
            return true;
    return false;
}

bool caf_gt_state_is_valid(const char *text) { return in_list(text, gt_states, 3); }
bool caf_gt_type_is_valid(const char *text) { return in_list(text, gt_types, 3); }

bool caf_gt_name_is_valid(const char *name)
{
    if (!name || !name[0] || name[0] == '.')
        return false;
    size_t n = 0;
    for (const char *p = name; *p; p++, n++) {
        unsigned char c = (unsigned char)*p;
        if (n >= CAF_GT_NAME_MAX || !(isalnum(c) || c == '_' || c == '.' || c == '+' || c == '-') || c > 127)
            return false;
    }
    return true;
}

bool caf_gt_checksum_is_valid(const char *text)
{
    if (!text)
        return false;
    size_t n = 0;
    for (; text[n]; n++)
        if (n >= 32 || !((text[n] >= '0' && text[n] <= '9') || (text[n] >= 'a' && text[n] <= 'f')))
            return false;
    return n == 32;
}

bool caf_gt_extension_is_valid(const char *text)
{
    if (!text || !text[0])
        return false;
    size_t n = 0;
    for (; text[n]; n++)
        if (n >= 16 || !((text[n] >= '0' && text[n] <= '9') || (text[n] >= 'a' && text[n] <= 'z')))
            return false;
    return true;
}

static caf_status sql_fail(caf_gt_store *store, caf_error *err, const char *what)
{
    return caf_error_set(err, CAF_ERR_IO, "%s/metadata.sqlite: %s: %s", store->dir, what, sqlite3_errmsg(store->db));
}

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "PRAGMA foreign_keys=ON;"
    "CREATE TABLE IF NOT EXISTS globaltag(id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, type TEXT NOT NULL,"
    " description TEXT NOT NULL, state TEXT NOT NULL);"
    "CREATE TABLE IF NOT EXISTS payload(id INTEGER PRIMARY KEY, name TEXT NOT NULL, revision INTEGER NOT NULL,"
    " checksum TEXT NOT NULL, ext TEXT NOT NULL, size INTEGER NOT NULL, UNIQUE(name, checksum),"
    " UNIQUE(name, revision));"
    "CREATE TABLE IF NOT EXISTS iov(id INTEGER PRIMARY KEY, tag INTEGER NOT NULL REFERENCES globaltag(id),"
    " payload INTEGER NOT NULL REFERENCES payload(id), exp_low INTEGER NOT NULL, run_low INTEGER NOT NULL,"
    " exp_high INTEGER NOT NULL, run_high INTEGER NOT NULL, key_low INTEGER NOT NULL, key_high INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS iov_by_tag ON iov(tag, key_low);"
    /* IoVs as boxes of (tag, experiments, runs) in an R*Tree: finding the IoVs that contain a run is then
     * logarithmic, where the index above still scans every IoV starting before the run */
    "CREATE VIRTUAL TABLE IF NOT EXISTS iov_box USING rtree_i32(id, tag_low, tag_high, exp_low, exp_high, run_low,"
    " run_high, +iov INTEGER);";

/* Adds the boxes of one IoV to iov_box: one per experiment stretch with the same run range (the first
 * experiment from run_low, the middle ones whole, the last one up to run_high; -1 high ends open). */
static int add_boxes(sqlite3 *db, int64_t iov_id, int64_t tag, caf_iov iov)
{
    const int32_t top = INT32_MAX;
    int32_t e1 = iov.exp_low, e2 = iov.exp_high < 0 ? top : iov.exp_high;
    int32_t r1 = iov.run_low, r2 = iov.run_high < 0 || iov.exp_high < 0 ? top : iov.run_high;
    int32_t boxes[3][4];
    int n = 0;
    if (e1 == e2) {
        memcpy(boxes[n++], (int32_t[4]){e1, e1, r1, r2}, sizeof boxes[0]);
    } else {
        memcpy(boxes[n++], (int32_t[4]){e1, e1, r1, top}, sizeof boxes[0]);
        if (r2 == top) {
            memcpy(boxes[n++], (int32_t[4]){e1 + 1, e2, 0, top}, sizeof boxes[0]);
        } else {
            if (e2 - 1 >= e1 + 1)
                memcpy(boxes[n++], (int32_t[4]){e1 + 1, e2 - 1, 0, top}, sizeof boxes[0]);
            memcpy(boxes[n++], (int32_t[4]){e2, e2, 0, r2}, sizeof boxes[0]);
        }
    }
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, "INSERT INTO iov_box(tag_low, tag_high, exp_low, exp_high, run_low, run_high, iov) "
                                    "VALUES(?, ?, ?, ?, ?, ?, ?)", -1, &s, NULL);
    for (int i = 0; rc == SQLITE_OK && i < n; i++) {
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, tag);
        sqlite3_bind_int64(s, 2, tag);
        for (int k = 0; k < 4; k++)
            sqlite3_bind_int(s, 3 + k, boxes[i][k]);
        sqlite3_bind_int64(s, 7, iov_id);
        rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
    }
    sqlite3_finalize(s);
    return rc;
}

/* A store written before iov_box existed gets its boxes once, at open. */
static int fill_missing_boxes(sqlite3 *db)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, "SELECT id, tag, exp_low, run_low, exp_high, run_high FROM iov WHERE NOT EXISTS "
                                    "(SELECT 1 FROM iov_box) ORDER BY id", -1, &s, NULL);
    if (rc != SQLITE_OK || sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK) {
        sqlite3_finalize(s);
        return SQLITE_ERROR;
    }
    while (rc == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW) {
        caf_iov iov = {sqlite3_column_int(s, 2), sqlite3_column_int(s, 3), sqlite3_column_int(s, 4),
                       sqlite3_column_int(s, 5)};
        rc = add_boxes(db, sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1), iov);
    }
    sqlite3_finalize(s);
    return sqlite3_exec(db, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK ? rc : SQLITE_ERROR;
}

caf_status caf_gt_store_open(const char *dir, caf_gt_store **out, caf_error *err)
{
    *out = NULL;
    char *payloads = caf_path_join(dir, "payloads");
    caf_status st = payloads ? caf_mkdir_p(payloads, err) : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    free(payloads);
    if (st != CAF_OK)
        return st;
    caf_gt_store *store = calloc(1, sizeof *store);
    if (!store || !(store->dir = strdup(dir))) {
        free(store);
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    pthread_mutex_init(&store->lock, NULL);
    char *path = caf_path_join(dir, "metadata.sqlite");
    int rc = path ? sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                                    NULL)
                  : SQLITE_NOMEM;
    free(path);
    if (rc != SQLITE_OK || sqlite3_busy_timeout(store->db, 10000) != SQLITE_OK ||
        sqlite3_exec(store->db, schema, NULL, NULL, NULL) != SQLITE_OK || fill_missing_boxes(store->db) != SQLITE_OK) {
        st = store->db ? sql_fail(store, err, "cannot open") : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        caf_gt_store_close(store);
        return st;
    }
    *out = store;
    return CAF_OK;
}

void caf_gt_store_close(caf_gt_store *store)
{
    if (!store)
        return;
    sqlite3_close(store->db);
    pthread_mutex_destroy(&store->lock);
    free(store->dir);
    free(store);
}

static json_t *tag_object(sqlite3_stmt *s)
{
    return json_pack("{s:I, s:s, s:s, s:{s:s}, s:{s:s}}", "globalTagId", (json_int_t)sqlite3_column_int64(s, 0),
                     "name", (const char *)sqlite3_column_text(s, 1), "description",
                     (const char *)sqlite3_column_text(s, 3), "globalTagType", "name",
                     (const char *)sqlite3_column_text(s, 2), "globalTagStatus", "name",
                     (const char *)sqlite3_column_text(s, 4));
}

#define TAG_COLUMNS "SELECT id, name, type, description, state FROM globaltag "

static bool all_digits(const char *text)
{
    if (!text || !*text)
        return false;
    for (; *text; text++)
        if (*text < '0' || *text > '9')
            return false;
    return true;
}

/* Finds a tag by name or id; store->lock held. */
static caf_status find_tag(caf_gt_store *store, const char *name, json_t **tag, caf_error *err)
{
    *tag = NULL;
    bool by_id = all_digits(name) && strlen(name) < 18;
    if (!by_id && !caf_gt_name_is_valid(name))
        return caf_error_set(err, CAF_ERR_INVALID, "'%.140s' is not a valid global tag name", name);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(store->db, by_id ? TAG_COLUMNS "WHERE id = ?" : TAG_COLUMNS "WHERE name = ?", -1, &s,
                           NULL) != SQLITE_OK)
        return sql_fail(store, err, "query");
    if (by_id)
        sqlite3_bind_int64(s, 1, strtoll(name, NULL, 10));
    else
        sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *tag = tag_object(s);
    sqlite3_finalize(s);
    if (rc == SQLITE_ROW)
        return *tag ? CAF_OK : caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (rc == SQLITE_DONE)
        return caf_error_set(err, CAF_ERR_NOT_FOUND, "no global tag '%s'", name);
    return sql_fail(store, err, "query");
}

static const char *tag_state(json_t *tag)
{
    return json_string_value(json_object_get(json_object_get(tag, "globalTagStatus"), "name"));
}

static int64_t tag_id(json_t *tag) { return json_integer_value(json_object_get(tag, "globalTagId")); }

caf_status caf_gt_store_tags(caf_gt_store *store, json_t **tags, caf_error *err)
{
    *tags = json_array();
    pthread_mutex_lock(&store->lock);
    sqlite3_stmt *s;
    caf_status st = CAF_OK;
    if (sqlite3_prepare_v2(store->db, TAG_COLUMNS "ORDER BY id", -1, &s, NULL) != SQLITE_OK) {
        st = sql_fail(store, err, "query");
    } else {
        int rc;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            json_array_append_new(*tags, tag_object(s));
        if (rc != SQLITE_DONE)
            st = sql_fail(store, err, "query");
        sqlite3_finalize(s);
    }
    pthread_mutex_unlock(&store->lock);
    if (st != CAF_OK) {
        json_decref(*tags);
        *tags = NULL;
    }
    return st;
}

caf_status caf_gt_store_tag(caf_gt_store *store, const char *name, json_t **tag, caf_error *err)
{
    pthread_mutex_lock(&store->lock);
    caf_status st = find_tag(store, name, tag, err);
    pthread_mutex_unlock(&store->lock);
    return st;
}

caf_status caf_gt_store_tag_create(caf_gt_store *store, const char *name, const char *type,
                                   const char *description, json_t **tag, caf_error *err)
{
    if (tag)
        *tag = NULL;
    if (!caf_gt_name_is_valid(name) || all_digits(name))
        return caf_error_set(err, CAF_ERR_INVALID, "'%.140s' is not a valid global tag name ([A-Za-z0-9_.+-], not "
                             "all digits, at most %d characters)", name ? name : "", CAF_GT_NAME_MAX);
    if (!caf_gt_type_is_valid(type))
        return caf_error_set(err, CAF_ERR_INVALID, "'%.40s' is not a global tag type (DEV, RELEASE, RUNNING)",
                             type ? type : "");
    pthread_mutex_lock(&store->lock);
    sqlite3_stmt *s;
    caf_status st = CAF_OK;
    if (sqlite3_prepare_v2(store->db, "INSERT INTO globaltag(name, type, description, state) VALUES(?, ?, ?, 'OPEN')",
                           -1, &s, NULL) != SQLITE_OK) {
        st = sql_fail(store, err, "insert");
    } else {
        sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 2, type, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(s, 3, description ? description : "", -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(s);
        sqlite3_finalize(s);
        if (rc == SQLITE_CONSTRAINT)
            st = caf_error_set(err, CAF_ERR_EXISTS, "global tag '%s' exists already", name);
        else if (rc != SQLITE_DONE)
            st = sql_fail(store, err, "insert");
    }
    json_t *created = NULL;
    if (st == CAF_OK)
        st = find_tag(store, name, &created, err);
    pthread_mutex_unlock(&store->lock);
    if (tag)
        *tag = created;
    else
        json_decref(created);
    return st;
}

static int state_rank(const char *state)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(state, gt_states[i]) == 0)
            return i;
    return -1;
}

caf_status caf_gt_store_tag_set_state(caf_gt_store *store, const char *name, const char *state, caf_error *err)
{
    if (!caf_gt_state_is_valid(state))
        return caf_error_set(err, CAF_ERR_INVALID, "'%.40s' is not a global tag state (OPEN, PUBLISHED, INVALID)",
                             state ? state : "");
    pthread_mutex_lock(&store->lock);
    json_t *tag;
    caf_status st = find_tag(store, name, &tag, err);
    if (st == CAF_OK) {
        const char *now = tag_state(tag);
        if (state_rank(state) < state_rank(now)) {
            st = caf_error_set(err, CAF_ERR_STATE, "global tag '%s' is %s and cannot become %s", name, now, state);
        } else {
            sqlite3_stmt *s;
            if (sqlite3_prepare_v2(store->db, "UPDATE globaltag SET state = ? WHERE id = ?", -1, &s, NULL) != SQLITE_OK) {
                st = sql_fail(store, err, "update");
            } else {
                sqlite3_bind_text(s, 1, state, -1, SQLITE_TRANSIENT);
                sqlite3_bind_int64(s, 2, tag_id(tag));
                if (sqlite3_step(s) != SQLITE_DONE)
                    st = sql_fail(store, err, "update");
                sqlite3_finalize(s);
            }
        }
        json_decref(tag);
    }
    pthread_mutex_unlock(&store->lock);
    return st;
}

static char *payload_file(const caf_gt_store *store, const char *checksum)
{
    char rel[64];
    snprintf(rel, sizeof rel, "payloads/%.2s/%s", checksum, checksum);
    return caf_path_join(store->dir, rel);
}

#define PAYLOAD_COLUMNS "SELECT id, name, revision, checksum, ext, size FROM payload "

static json_t *payload_object(sqlite3_stmt *s, int first)
{
    return json_pack("{s:I, s:s, s:I, s:s, s:s, s:I}", "payloadId", (json_int_t)sqlite3_column_int64(s, first),
                     "name", (const char *)sqlite3_column_text(s, first + 1), "revision",
                     (json_int_t)sqlite3_column_int64(s, first + 2), "checksum",
                     (const char *)sqlite3_column_text(s, first + 3), "fileExtension",
                     (const char *)sqlite3_column_text(s, first + 4), "size",
                     (json_int_t)sqlite3_column_int64(s, first + 5));
}

/* The payload (name, checksum) if stored; store->lock held. */
static caf_status find_payload(caf_gt_store *store, const char *name, const char *checksum, json_t **payload,
                               caf_error *err)
{
    *payload = NULL;
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(store->db, PAYLOAD_COLUMNS "WHERE name = ? AND checksum = ?", -1, &s, NULL) != SQLITE_OK)
        return sql_fail(store, err, "query");
    sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, checksum, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *payload = payload_object(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? CAF_OK : sql_fail(store, err, "query");
}

/* Writes the content-addressed file unless a complete one is there; content never changes, so an
 * existing file of the right size is the same file. */
static caf_status write_payload_file(caf_gt_store *store, const char *checksum, const void *data, size_t size,
                                     caf_error *err)
{
    char *path = payload_file(store, checksum);
    if (!path)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    struct stat sb;
    caf_status st = CAF_OK;
    if (stat(path, &sb) != 0 || (size_t)sb.st_size != size) {
        char *slash = strrchr(path, '/');
        *slash = '\0';
        st = caf_mkdir_p(path, err);
        *slash = '/';
        if (st == CAF_OK)
            st = caf_file_write_atomic(path, data, size, err);
    }
    free(path);
    return st;
}

caf_status caf_gt_store_payload_add(caf_gt_store *store, const char *name, const char *ext, const char *checksum,
                                    const void *data, size_t size, json_t **payload, caf_error *err)
{
    if (payload)
        *payload = NULL;
    if (!caf_gt_name_is_valid(name))
        return caf_error_set(err, CAF_ERR_INVALID, "'%.140s' is not a valid payload name", name ? name : "");
    if (!caf_gt_extension_is_valid(ext))
        return caf_error_set(err, CAF_ERR_INVALID, "'%.40s' is not a valid payload file extension ([a-z0-9]{1,16})",
                             ext ? ext : "");
    if (!caf_gt_checksum_is_valid(checksum))
        return caf_error_set(err, CAF_ERR_INVALID, "'%.40s' is not an MD5 checksum (32 lowercase hex digits)",
                             checksum ? checksum : "");
    char actual[CAF_MD5_HEX_SIZE];
    caf_status st = caf_md5_hex(data, size, actual, err);
    if (st != CAF_OK)
        return st;
    if (strcmp(actual, checksum) != 0)
        return caf_error_set(err, CAF_ERR_INVALID, "payload '%s': the data's MD5 is %s, not the checksum given (%s)",
                             name, actual, checksum);
    /* the file goes first: a row never names a file that is not there */
    if ((st = write_payload_file(store, checksum, data, size, err)) != CAF_OK)
        return st;
    pthread_mutex_lock(&store->lock);
    json_t *found;
    st = find_payload(store, name, checksum, &found, err);
    if (st == CAF_OK && !found) {
        sqlite3_stmt *s;
        if (sqlite3_prepare_v2(store->db,
                               "INSERT INTO payload(name, revision, checksum, ext, size) VALUES(?, "
                               "(SELECT COALESCE(MAX(revision), 0) + 1 FROM payload WHERE name = ?1), ?, ?, ?)",
                               -1, &s, NULL) != SQLITE_OK) {
            st = sql_fail(store, err, "insert");
        } else {
            sqlite3_bind_text(s, 1, name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 2, checksum, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(s, 3, ext, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(s, 4, (sqlite3_int64)size);
            if (sqlite3_step(s) != SQLITE_DONE)
                st = sql_fail(store, err, "insert");
            sqlite3_finalize(s);
        }
        if (st == CAF_OK)
            st = find_payload(store, name, checksum, &found, err);
    }
    pthread_mutex_unlock(&store->lock);
    if (st == CAF_OK && !found)
        st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    if (payload)
        *payload = found;
    else
        json_decref(found);
    return st;
}

caf_status caf_gt_store_iovs_add(caf_gt_store *store, const char *tag, const caf_gt_new_iov *iovs, size_t count,
                                 json_t **ids, caf_error *err)
{
    if (ids)
        *ids = NULL;
    for (size_t i = 0; i < count; i++)
        if (caf_iov_validate(iovs[i].iov, err) != CAF_OK || caf_iov_is_empty(iovs[i].iov))
            return caf_error_set(err, CAF_ERR_INVALID, "IoV %zu: %d,%d,%d,%d is not a valid interval", i + 1,
                                 iovs[i].iov.exp_low, iovs[i].iov.run_low, iovs[i].iov.exp_high, iovs[i].iov.run_high);
    json_t *made = json_array();
    pthread_mutex_lock(&store->lock);
    json_t *t;
    caf_status st = find_tag(store, tag, &t, err);
    if (st == CAF_OK && strcmp(tag_state(t), "OPEN") != 0)
        st = caf_error_set(err, CAF_ERR_STATE, "global tag '%s' is %s: only OPEN tags take new IoVs", tag, tag_state(t));
    sqlite3_stmt *s = NULL;
    if (st == CAF_OK && sqlite3_exec(store->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        st = sql_fail(store, err, "begin");
    bool in_transaction = st == CAF_OK;
    if (st == CAF_OK && sqlite3_prepare_v2(store->db,
                                           "INSERT INTO iov(tag, payload, exp_low, run_low, exp_high, run_high, "
                                           "key_low, key_high) SELECT ?, id, ?, ?, ?, ?, ?, ? FROM payload WHERE id = ?",
                                           -1, &s, NULL) != SQLITE_OK)
        st = sql_fail(store, err, "insert");
    for (size_t i = 0; st == CAF_OK && i < count; i++) {
        int64_t lo, hi;
        caf_iov_key_range(iovs[i].iov, &lo, &hi);
        sqlite3_reset(s);
        sqlite3_bind_int64(s, 1, tag_id(t));
        sqlite3_bind_int(s, 2, iovs[i].iov.exp_low);
        sqlite3_bind_int(s, 3, iovs[i].iov.run_low);
        sqlite3_bind_int(s, 4, iovs[i].iov.exp_high);
        sqlite3_bind_int(s, 5, iovs[i].iov.run_high);
        sqlite3_bind_int64(s, 6, lo);
        sqlite3_bind_int64(s, 7, hi);
        sqlite3_bind_int64(s, 8, iovs[i].payload_id);
        if (sqlite3_step(s) != SQLITE_DONE)
            st = sql_fail(store, err, "insert");
        else if (sqlite3_changes(store->db) != 1)
            st = caf_error_set(err, CAF_ERR_NOT_FOUND, "IoV %zu: no payload with id %lld", i + 1,
                               (long long)iovs[i].payload_id);
        else {
            int64_t id = sqlite3_last_insert_rowid(store->db);
            if (add_boxes(store->db, id, tag_id(t), iovs[i].iov) != SQLITE_OK)
                st = sql_fail(store, err, "insert");
            json_array_append_new(made, json_integer(id));
        }
    }
    sqlite3_finalize(s);
    if (in_transaction) {
        if (st == CAF_OK && sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
            st = sql_fail(store, err, "commit");
        if (st != CAF_OK)
            sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
    }
    json_decref(t);
    pthread_mutex_unlock(&store->lock);
    if (st == CAF_OK && ids)
        *ids = made;
    else
        json_decref(made);
    return st;
}

static json_t *iov_payload_object(sqlite3_stmt *s, const char *base_url)
{
    json_t *payload = payload_object(s, 4);
    char url[64];
    snprintf(url, sizeof url, "payloads/%s", (const char *)sqlite3_column_text(s, 7));
    json_object_set_new(payload, "payloadUrl", json_string(url));
    json_object_set_new(payload, "baseUrl", json_string(base_url));
    /* basf2's client reads the name from basf2Module.name */
    json_object_set_new(payload, "basf2Module", json_pack("{s:s}", "name", (const char *)sqlite3_column_text(s, 5)));
    return json_pack("{s:o, s:{s:I, s:i, s:i, s:i, s:i}}", "payload", payload, "payloadIov", "payloadIovId",
                     (json_int_t)sqlite3_column_int64(s, 10), "expStart", sqlite3_column_int(s, 0), "runStart",
                     sqlite3_column_int(s, 1), "expEnd", sqlite3_column_int(s, 2), "runEnd", sqlite3_column_int(s, 3));
}

caf_status caf_gt_store_iov_payloads(caf_gt_store *store, const char *tag, const caf_exprun *run,
                                     const char *base_url, json_t **list, caf_error *err)
{
    *list = NULL;
    json_t *all = json_array();
    pthread_mutex_lock(&store->lock);
    json_t *t;
    caf_status st = find_tag(store, tag, &t, err);
    if (st == CAF_OK && strcmp(tag_state(t), "INVALID") == 0)
        st = caf_error_set(err, CAF_ERR_STATE, "global tag '%s' is INVALID", tag);
    sqlite3_stmt *s = NULL;
    /* the boxes find the candidates; the exact key range decides */
    const char *sql =
        run ? "SELECT i.exp_low, i.run_low, i.exp_high, i.run_high, p.id, p.name, p.revision, p.checksum, p.ext, "
              "p.size, i.id FROM iov_box b JOIN iov i ON i.id = b.iov JOIN payload p ON p.id = i.payload WHERE "
              "b.tag_low <= ?1 AND b.tag_high >= ?1 AND b.exp_low <= ?4 AND b.exp_high >= ?4 AND b.run_low <= ?5 AND "
              "b.run_high >= ?5 AND i.tag = ?1 AND i.key_low <= ?2 AND i.key_high >= ?3 ORDER BY p.name, i.id DESC"
            : "SELECT i.exp_low, i.run_low, i.exp_high, i.run_high, p.id, p.name, p.revision, p.checksum, p.ext, "
              "p.size, i.id FROM iov i JOIN payload p ON p.id = i.payload WHERE i.tag = ? ORDER BY i.id";
    if (st == CAF_OK && sqlite3_prepare_v2(store->db, sql, -1, &s, NULL) != SQLITE_OK)
        st = sql_fail(store, err, "query");
    if (st == CAF_OK) {
        sqlite3_bind_int64(s, 1, tag_id(t));
        if (run) {
            int64_t key = caf_exprun_key(*run);
            sqlite3_bind_int64(s, 2, key);
            sqlite3_bind_int64(s, 3, key);
            sqlite3_bind_int(s, 4, run->exp);
            sqlite3_bind_int(s, 5, run->run);
        }
        int rc;
        char last_name[CAF_GT_NAME_MAX + 1] = "";
        while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(s, 5);
            /* per name the newest IoV comes first: the rest are overridden */
            if (run && strcmp(name, last_name) == 0)
                continue;
            snprintf(last_name, sizeof last_name, "%s", name);
            json_array_append_new(all, iov_payload_object(s, base_url));
        }
        if (rc != SQLITE_DONE)
            st = sql_fail(store, err, "query");
    }
    sqlite3_finalize(s);
    json_decref(t);
    pthread_mutex_unlock(&store->lock);
    if (st == CAF_OK)
        *list = all;
    else
        json_decref(all);
    return st;
}

char *caf_gt_store_payload_path(caf_gt_store *store, const char *checksum, caf_error *err)
{
    if (!caf_gt_checksum_is_valid(checksum)) {
        caf_error_set(err, CAF_ERR_NOT_FOUND, "'%.40s' is not a payload checksum", checksum ? checksum : "");
        return NULL;
    }
    char *path = payload_file(store, checksum);
    if (path && !caf_path_exists(path)) {
        caf_error_set(err, CAF_ERR_NOT_FOUND, "no payload with checksum %s", checksum);
        free(path);
        return NULL;
    }
    if (!path)
        caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    return path;
}
