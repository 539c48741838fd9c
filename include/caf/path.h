/* Paths: ordered lists of module instances, as basf2 paths are, and conditions that route an event
 * by a module's return value into another path (basf2's if_value / if_true / if_false).
 *
 * A path set holds named paths; one of them is the main path every event starts in. After a module
 * runs, its conditions are tried in order; the first that holds on the return value sends the event
 * through its target path (none = nothing), and then either ends the event's processing (END, the
 * default, as basf2's AfterConditionPath.END) or continues with the next module after the conditioned
 * one (CONTINUE). The model is plain data: plugins are loaded and parameters checked when the engine
 * starts (caf/engine.h). docs/modules.md documents the YAML syntax read by caf_path_set_load. */
#ifndef CAF_PATH_H
#define CAF_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "caf/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Conditions ---- */

typedef enum caf_condition_op {
    CAF_COND_LT, /* <  */
    CAF_COND_LE, /* <= */
    CAF_COND_GT, /* >  */
    CAF_COND_GE, /* >= */
    CAF_COND_EQ, /* == or = */
    CAF_COND_NE, /* != */
} caf_condition_op;

/* What happens after a condition's path ran. */
typedef enum caf_after_condition {
    CAF_AFTER_END = 0,  /* the event's processing ends */
    CAF_AFTER_CONTINUE, /* processing continues after the conditioned module */
} caf_after_condition;

/* Parses a condition: an operator and an integer ("== 1", "<0", " != 0 "), or "true" (>= 1) and
 * "false" (< 1) as basf2's if_true / if_false. Fails with CAF_ERR_INVALID quoting text. */
caf_status caf_condition_parse(const char *text, caf_condition_op *op, int64_t *value, caf_error *err);

/* True if return_value satisfies (op, value). */
bool caf_condition_holds(caf_condition_op op, int64_t value, int64_t return_value);

/* Writes the condition as text ("<= 3") into buf; returns buf. */
char *caf_condition_format(caf_condition_op op, int64_t value, char *buf, size_t size);

/* ---- Path sets ---- */

typedef struct caf_path_set caf_path_set;

/* Creates an empty path set (caller frees with caf_path_set_free). */
caf_status caf_path_set_new(caf_path_set **out, caf_error *err);

/* Loads and validates a path file (YAML). Errors are one line "FILE:LINE:COLUMN: what". */
caf_status caf_path_set_load(const char *file, caf_path_set **out, caf_error *err);

/* Like caf_path_set_load from size bytes of text; name stands for the file in messages. */
caf_status caf_path_set_parse(const char *text, size_t size, const char *name, caf_path_set **out,
                              caf_error *err);

/* Frees the set (NULL is fine). */
void caf_path_set_free(caf_path_set *set);

/* Appends an instance of module to path (created if new); instance may be NULL (= module). Sets
 * *index (may be NULL) to the module's position in the path. */
caf_status caf_path_set_add_module(caf_path_set *set, const char *path, const char *module, const char *instance,
                                   size_t *index, caf_error *err);

/* Gives the module at index of path a parameter value in YAML flow syntax ("[mumu, [bhabha, 10]]"),
 * replacing a value the module had for it. */
caf_status caf_path_set_set_param(caf_path_set *set, const char *path, size_t index, const char *name,
                                  const char *yaml_value, caf_error *err);

/* Adds a condition to the module at index of path: target (may be NULL: no path) runs when the module's
 * return value satisfies expression; after says what follows. */
caf_status caf_path_set_add_condition(caf_path_set *set, const char *path, size_t index, const char *expression,
                                      const char *target, caf_after_condition after, caf_error *err);

/* Chooses the main path (default: "main", or the only path). */
caf_status caf_path_set_set_main(caf_path_set *set, const char *path, caf_error *err);

/* Checks the set: a main path exists, condition targets exist, no path reaches itself through
 * conditions, instance names are unique. caf_path_set_load calls it. */
caf_status caf_path_set_validate(caf_path_set *set, caf_error *err);

/* The main path's name (owned by the set), or NULL before one is chosen or found. */
const char *caf_path_set_main(const caf_path_set *set);

/* Number of paths in the set. */
size_t caf_path_set_path_count(const caf_path_set *set);

/* The name of path i (owned by the set), or NULL when i is out of range. */
const char *caf_path_set_path_name(const caf_path_set *set, size_t i);

/* Number of modules in the path called name (0 if there is none). */
size_t caf_path_set_module_count(const caf_path_set *set, const char *path);

/* The module (plugin) name of module index of path (owned by the set), or NULL. */
const char *caf_path_set_module_name(const caf_path_set *set, const char *path, size_t index);

/* The instance name of module index of path (owned by the set), or NULL. */
const char *caf_path_set_instance_name(const caf_path_set *set, const char *path, size_t index);

#ifdef __cplusplus
}
#endif
#endif
