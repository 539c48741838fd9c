/* Column value types and look-ups in an event-file schema. */
#include <string.h>

#include "caf/event_file.h"

static const struct {
    const char *name;
    size_t size;
} column_types[] = {
    [CAF_COLUMN_INT8] = {"int8", 1},       [CAF_COLUMN_UINT8] = {"uint8", 1},
    [CAF_COLUMN_INT16] = {"int16", 2},     [CAF_COLUMN_UINT16] = {"uint16", 2},
    [CAF_COLUMN_INT32] = {"int32", 4},     [CAF_COLUMN_UINT32] = {"uint32", 4},
    [CAF_COLUMN_INT64] = {"int64", 8},     [CAF_COLUMN_UINT64] = {"uint64", 8},
    [CAF_COLUMN_FLOAT32] = {"float32", 4}, [CAF_COLUMN_FLOAT64] = {"float64", 8},
};

size_t caf_column_type_size(caf_column_type type)
{
    return (unsigned)type <= CAF_COLUMN_FLOAT64 ? column_types[type].size : 0;
}

const char *caf_column_type_name(caf_column_type type)
{
    return (unsigned)type <= CAF_COLUMN_FLOAT64 ? column_types[type].name : "unknown";
}

bool caf_column_type_parse(const char *name, caf_column_type *out)
{
    for (int t = CAF_COLUMN_INT8; t <= CAF_COLUMN_FLOAT64; t++)
        if (strcmp(name, column_types[t].name) == 0) {
            *out = (caf_column_type)t;
            return true;
        }
    return false;
}

ptrdiff_t caf_event_schema_find_column(const caf_event_schema *schema, const char *name)
{
    for (size_t i = 0; i < schema->n_columns; i++)
        if (strcmp(schema->columns[i].name, name) == 0)
            return (ptrdiff_t)i;
    return -1;
}

ptrdiff_t caf_event_schema_find_array(const caf_event_schema *schema, const char *name)
{
    for (size_t i = 0; i < schema->n_arrays; i++)
        if (strcmp(schema->arrays[i].name, name) == 0)
            return (ptrdiff_t)i;
    return -1;
}

ptrdiff_t caf_event_schema_find_field(const caf_event_schema *schema, size_t array_index, const char *field)
{
    if (array_index >= schema->n_arrays)
        return -1;
    const caf_array_desc *a = &schema->arrays[array_index];
    for (size_t i = 0; i < a->n_fields; i++)
        if (strcmp(a->fields[i].name, field) == 0)
            return (ptrdiff_t)i;
    return -1;
}

ptrdiff_t caf_event_schema_find_trigger_line(const caf_event_schema *schema, const char *name)
{
    if (!schema->has_trigger)
        return -1;
    for (size_t i = 0; i < schema->n_trigger_lines; i++)
        if (strcmp(schema->trigger_lines[i], name) == 0)
            return (ptrdiff_t)i;
    return -1;
}
