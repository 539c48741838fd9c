/* The registry of object types. Built-in types are a fixed table; user types live in a process-wide,
 * mutex-protected table (see caf_user_type_register in caf/collected.h for why it is process-wide). */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "collector/object_internal.h"
#include "collector/object_registry.h"

const char *caf_object_type_name(const caf_object *obj)
{
    return obj->vt->type_name ? obj->vt->type_name : user_object_type_name(obj);
}

bool registry_valid_user_type_name(const char *name)
{
    if (!name || !*name || strlen(name) > 200)
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != ':')
            return false;
    for (uint32_t k = CAF_OBJECT_HIST1D; k < CAF_OBJECT_USER; k++)
        if (!strcmp(obj_vtable_of_kind(k)->type_name, name))
            return false;
    return true;
}

typedef struct user_entry {
    char *name;
    caf_user_type type; /* type.name points at name */
} user_entry;

static pthread_mutex_t user_types_lock = PTHREAD_MUTEX_INITIALIZER;
static user_entry *user_types;
static size_t user_type_count;

static user_entry *find_locked(const char *name)
{
    for (size_t i = 0; i < user_type_count; i++)
        if (!strcmp(user_types[i].name, name))
            return &user_types[i];
    return NULL;
}

caf_status caf_user_type_register(const caf_user_type *type, caf_error *err)
{
    if (!type || !registry_valid_user_type_name(type->name))
        return caf_error_set(err, CAF_ERR_INVALID, "user type name '%s' is not letters, digits, '_', '.', ':' or is taken "
                             "by a built-in type", type && type->name ? type->name : "");
    if (!type->merge)
        return caf_error_set(err, CAF_ERR_INVALID, "user type '%s' has no merge function", type->name);
    caf_status st = CAF_OK;
    pthread_mutex_lock(&user_types_lock);
    user_entry *e = find_locked(type->name);
    if (e) {
        if (e->type.merge != type->merge || e->type.print != type->print || e->type.userdata != type->userdata)
            st = caf_error_set(err, CAF_ERR_EXISTS, "user type '%s' is already registered with other functions",
                               type->name);
    } else {
        user_entry *n = realloc(user_types, (user_type_count + 1) * sizeof *n);
        char *name = strdup(type->name);
        if (n)
            user_types = n;
        if (!n || !name) {
            free(name);
            st = caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
        } else {
            user_types[user_type_count] = (user_entry){name, *type};
            user_types[user_type_count].type.name = name;
            user_type_count++;
        }
    }
    pthread_mutex_unlock(&user_types_lock);
    return st;
}

void caf_user_type_unregister(const char *name)
{
    pthread_mutex_lock(&user_types_lock);
    user_entry *e = name ? find_locked(name) : NULL;
    if (e) {
        free(e->name);
        *e = user_types[--user_type_count];
        if (!user_type_count) {
            free(user_types);
            user_types = NULL;
        }
    }
    pthread_mutex_unlock(&user_types_lock);
}

bool caf_user_type_registered(const char *name)
{
    pthread_mutex_lock(&user_types_lock);
    bool found = name && find_locked(name);
    pthread_mutex_unlock(&user_types_lock);
    return found;
}

bool registry_user_type(const char *name, caf_user_type *out)
{
    pthread_mutex_lock(&user_types_lock);
    user_entry *e = find_locked(name);
    if (e)
        *out = e->type;
    pthread_mutex_unlock(&user_types_lock);
    return e != NULL;
}
