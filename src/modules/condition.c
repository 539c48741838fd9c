/* Module conditions: an operator and an integer compared with a module's return value, with basf2's
 * spelling ("> , < , = , == , >= , <= , !=", spaces allowed) plus true (>= 1) and false (< 1). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "caf/path.h"

caf_status caf_condition_parse(const char *text, caf_condition_op *op, int64_t *value, caf_error *err)
{
    const char *p = text ? text : "";
    while (isspace((unsigned char)*p))
        p++;
    size_t len = strlen(p);
    while (len && isspace((unsigned char)p[len - 1]))
        len--;
    if ((len == 4 && !strncasecmp(p, "true", 4))) {
        *op = CAF_COND_GE;
        *value = 1;
        return CAF_OK;
    }
    if (len == 5 && !strncasecmp(p, "false", 5)) {
        *op = CAF_COND_LT;
        *value = 1;
        return CAF_OK;
    }
    static const struct {
        const char *text;
        caf_condition_op op;
    } ops[] = {{"==", CAF_COND_EQ}, {"!=", CAF_COND_NE}, {"<=", CAF_COND_LE}, {">=", CAF_COND_GE},
               {"<", CAF_COND_LT},  {">", CAF_COND_GT},  {"=", CAF_COND_EQ}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].text);
        if (strncmp(p, ops[i].text, n))
            continue;
        const char *q = p + n;
        while (isspace((unsigned char)*q))
            q++;
        char *end;
        errno = 0;
        long long v = strtoll(q, &end, 10);
        if (end == q || errno || (size_t)(end - p) != len)
            break;
        *op = ops[i].op;
        *value = v;
        return CAF_OK;
    }
    return caf_error_set(err, CAF_ERR_INVALID,
                         "'%s' is not a condition (an operator <, <=, >, >=, ==, != and an integer, or true/false)",
                         text ? text : "");
}

bool caf_condition_holds(caf_condition_op op, int64_t value, int64_t return_value)
{
    switch (op) {
    case CAF_COND_LT: return return_value < value;
    case CAF_COND_LE: return return_value <= value;
    case CAF_COND_GT: return return_value > value;
    case CAF_COND_GE: return return_value >= value;
    case CAF_COND_EQ: return return_value == value;
    case CAF_COND_NE: return return_value != value;
    }
    return false;
}

char *caf_condition_format(caf_condition_op op, int64_t value, char *buf, size_t size)
{
    static const char *const names[] = {"<", "<=", ">", ">=", "==", "!="};
    snprintf(buf, size, "%s %lld", (unsigned)op <= CAF_COND_NE ? names[op] : "?", (long long)value);
    return buf;
}
