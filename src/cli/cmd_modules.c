/* caf modules [NAME]: lists the module plugins on the plugin path, or documents one module. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "caf/log.h"
#include "caf/module.h"
#include "caf/plugin.h"
#include "cli/cli.h"

static const char help_text[] =
    "usage: caf modules [NAME] [--json]\n"
    "\n"
    "Without NAME, lists the modules found on the plugin path ($CAF_PLUGIN_PATH, then caf's own plugin\n"
    "folder) with a one-line summary. With NAME, prints the module's description and its parameters:\n"
    "name, type, default (or 'required' / 'optional') and meaning.\n"
    "\n"
    "Options:\n"
    "  --json   prints the same as JSON\n"
    "\n"
    "Exit codes: 0 success, 1 no such module or a plugin that cannot be loaded, 2 usage error.\n";

static const char *presence_text(const caf_param_spec *p)
{
    return p->presence == CAF_PARAM_REQUIRED ? "required" : p->presence == CAF_PARAM_OPTIONAL ? "optional" : NULL;
}

static json_t *module_json(const caf_module_plugin *m)
{
    const caf_module_descriptor *d = m->descriptor;
    json_t *params = json_array();
    for (const caf_param_spec *p = d->params; p && p->name; p++) {
        json_t *o = json_pack("{s:s, s:s, s:s}", "name", p->name, "type", caf_param_type_name(p->type),
                              "description", p->description ? p->description : "");
        if (presence_text(p))
            json_object_set_new(o, presence_text(p), json_true());
        else
            json_object_set_new(o, "default", json_string(p->default_yaml));
        json_array_append_new(params, o);
    }
    return json_pack("{s:s, s:s, s:s, s:o}", "name", d->name, "description", d->description ? d->description : "",
                     "file", m->path, "parameters", params);
}

static void print_module(const caf_module_plugin *m)
{
    const caf_module_descriptor *d = m->descriptor;
    printf("%s (%s)\n\n%s\n\nparameters:\n", d->name, m->path, d->description ? d->description : "");
    if (!d->params || !d->params->name)
        puts("  (none)");
    for (const caf_param_spec *p = d->params; p && p->name; p++) {
        const char *presence = presence_text(p);
        printf("  %s (%s, %s%s)\n      %s\n", p->name, caf_param_type_name(p->type), presence ? presence : "default ",
               presence ? "" : p->default_yaml, p->description ? p->description : "");
    }
}

/* The first sentence of a description, cut to fit a line. */
static void print_summary(const char *name, int width, const char *description)
{
    const char *d = description ? description : "";
    const char *stop = strstr(d, ". ");
    int len = stop ? (int)(stop - d) : (int)strlen(d);
    printf("   %-*s %.*s\n", width, name, len > 100 ? 100 : len, d);
}

static int run_modules(int argc, char **argv)
{
    static const struct option longopts[] = {{"json", no_argument, 0, 'J'}, {0, 0, 0, 0}};
    const struct cli_options opts = {"modules", help_text, "", longopts};
    bool json = false;
    const char *name = NULL;
    cli_options_begin();
    for (;;) {
        int c = cli_next_option(&opts, argc, argv);
        if (c == CLI_OPT_END && optind < argc) { /* an operand; options may follow it */
            if (name)
                return cli_usage_error("modules", "expects at most one module name");
            name = argv[optind++];
            continue;
        }
        if (c == CLI_OPT_END)
            break;
        if (c == CLI_OPT_HELP)
            return CLI_EXIT_OK;
        if (c != 'J')
            return CLI_EXIT_USAGE;
        json = true;
    }
    caf_error err = {0};
    if (name) {
        caf_module_plugin m;
        if (caf_module_plugin_load(&m, name, &err) != CAF_OK)
            return cli_fail(&err);
        if (json) {
            json_t *o = module_json(&m);
            char *text = json_dumps(o, JSON_SORT_KEYS | JSON_INDENT(2));
            puts(text ? text : "null");
            free(text);
            json_decref(o);
        } else {
            print_module(&m);
        }
        caf_module_plugin_unload(&m);
        return CLI_EXIT_OK;
    }
    char **names;
    if (caf_plugin_list(&names, &err) != CAF_OK)
        return cli_fail(&err);
    json_t *list = json ? json_array() : NULL;
    int width = 16; /* names line up even when one is long (plugins of every kind share the folder) */
    for (char **n = names; *n; n++)
        width = (int)strlen(*n) > width ? (int)strlen(*n) : width;
    if (!json)
        puts("modules:");
    for (char **n = names; *n; n++) {
        caf_module_plugin m;
        caf_error why = {0};
        if (caf_module_plugin_load(&m, *n, &why) != CAF_OK) {
            /* other plugin kinds (algorithms) share the folder; a broken module is worth a note */
            caf_debug("%s", why.message);
            continue;
        }
        if (json)
            json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name", m.descriptor->name, "description",
                                                  m.descriptor->description ? m.descriptor->description : "",
                                                  "file", m.path));
        else
            print_summary(m.descriptor->name, width, m.descriptor->description);
        caf_module_plugin_unload(&m);
    }
    caf_plugin_dirs_free(names);
    if (json) {
        char *text = json_dumps(list, JSON_SORT_KEYS | JSON_INDENT(2));
        puts(text ? text : "[]");
        free(text);
        json_decref(list);
    }
    return CLI_EXIT_OK;
}

const struct cli_command cli_command_modules = {
    .name = "modules",
    .summary = "list the modules and document their parameters",
    .help = help_text,
    .run = run_modules,
};
