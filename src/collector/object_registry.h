/* The registry of object types: the built-in kinds by name, and the process-wide table of user types. */
#ifndef CAF_COLLECTOR_OBJECT_REGISTRY_H
#define CAF_COLLECTOR_OBJECT_REGISTRY_H

#include <stdbool.h>

#include "caf/collected.h"

/* Copies the registered user type called name into *out (its name pointer is not valid after return);
 * false when not registered. */
bool registry_user_type(const char *name, caf_user_type *out);

/* True if name may name a user type (allowed characters, not a built-in type name). */
bool registry_valid_user_type_name(const char *name);

/* The per-object type name of a user object (user_object.c). */
const char *user_object_type_name(const caf_object *obj);

#endif
