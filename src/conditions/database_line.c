/* One line of database.txt, payload names and revisions: the grammar of the basf2 local database. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "caf/localdb.h"

caf_status caf_payload_name_check(const char *name, caf_error *err)
{
    if (!name || !*name)
        return caf_error_set(err, CAF_ERR_INVALID, "payload name is empty");
    if (strchr(name, '/'))
        return caf_error_set(err, CAF_ERR_INVALID, "payload name '%s' contains '/'", name);
    if (strstr(name, ".."))
        return caf_error_set(err, CAF_ERR_INVALID, "payload name '%s' contains '..'", name);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        if (isspace(*p) || iscntrl(*p))
            return caf_error_set(err, CAF_ERR_INVALID, "payload name '%s' contains whitespace or a control character",
                                 name);
    return CAF_OK;
}

bool caf_db_revision_is_hash(const char *revision)
{
    size_t n = strlen(revision);
    if (n < 6 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isxdigit((unsigned char)revision[i]))
            return false;
    return true;
}

static bool revision_is_valid(const char *revision)
{
    if (!*revision || strlen(revision) > 32)
        return false;
    for (const char *p = revision; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return false;
    return true;
}

void caf_db_entry_clear(caf_db_entry *entry)
{
    free(entry->name);
    free(entry->revision);
    entry->name = NULL;
    entry->revision = NULL;
}

/* Splits text at whitespace into at most max fields; returns the number found (max + 1 if more). */
static int split_fields(char *text, char **fields, int max)
{
    int n = 0;
    char *save = NULL;
    for (char *tok = strtok_r(text, " \t\r\n", &save); tok; tok = strtok_r(NULL, " \t\r\n", &save)) {
        if (n == max)
            return max + 1;
        fields[n++] = tok;
    }
    return n;
}

caf_status caf_db_line_parse(const char *line, caf_db_entry *entry, bool *is_entry, caf_error *err)
{
    memset(entry, 0, sizeof *entry);
    *is_entry = false;
    char *copy = strdup(line);
    if (!copy)
        return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    char *hash = strchr(copy, '#');
    if (hash)
        *hash = '\0';
    char *fields[3];
    int n = split_fields(copy, fields, 3);
    caf_status rc = CAF_OK;
    if (n == 0)
        goto done;
    if (n != 3) {
        rc = caf_error_set(err, CAF_ERR_FORMAT, "expected 'dbstore/NAME REVISION e1,r1,e2,r2', found %s",
                           n > 3 ? "more than 3 fields" : n == 1 ? "1 field" : "2 fields");
        goto done;
    }
    /* basf2 writes and reads only this prefix; any other would name a payload basf2 never finds. */
    static const char prefix[] = "dbstore/";
    if (strncmp(fields[0], prefix, sizeof prefix - 1) != 0) {
        rc = caf_error_set(err, CAF_ERR_FORMAT, "payload '%s' must be written as dbstore/NAME", fields[0]);
        goto done;
    }
    const char *slash = fields[0] + sizeof prefix - 2;
    rc = caf_payload_name_check(slash + 1, err);
    if (rc != CAF_OK) {
        rc = CAF_ERR_FORMAT;
        if (err)
            err->code = rc;
        goto done;
    }
    if (!revision_is_valid(fields[1])) {
        rc = caf_error_set(err, CAF_ERR_FORMAT, "revision '%s' is neither an integer nor a hex digest", fields[1]);
        goto done;
    }
    caf_iov iov;
    rc = caf_iov_parse(fields[2], &iov, err);
    if (rc != CAF_OK) {
        rc = CAF_ERR_FORMAT;
        if (err)
            err->code = rc;
        goto done;
    }
    if (caf_iov_is_empty(iov)) {
        rc = caf_error_set(err, CAF_ERR_FORMAT, "the IoV of payload '%s' is empty", slash + 1);
        goto done;
    }
    entry->name = strdup(slash + 1);
    entry->revision = strdup(fields[1]);
    entry->iov = iov;
    if (!entry->name || !entry->revision) {
        caf_db_entry_clear(entry);
        rc = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        goto done;
    }
    *is_entry = true;
done:
    free(copy);
    return rc;
}
