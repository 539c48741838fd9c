/* caf db: list, query, add to, merge, check and find the gaps of local conditions databases; serve
 * global tags over HTTP and copy them to and from local databases. */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caf/dbchain.h"
#include "caf/file.h"
#include "caf/gt_client.h"
#include "caf/gt_server.h"
#include "caf/hash.h"
#include "caf/lineage.h"
#include "caf/localdb.h"
#include "caf/localdb_fill_gaps.h"
#include "caf/localdb_diff.h"
#include "cli/cli.h"

static const char db_help[] =
    "usage: caf db list DB [--name NAME] [--json]\n"
    "       caf db query DB... NAME EXP RUN [--json]\n"
    "       caf db add DB --iov e1,r1,e2,r2 NAME=FILE... [--json]\n"
    "       caf db gaps DB NAME --span e1,r1,e2,r2 [--json]\n"
    "       caf db merge OUT DB... [--json]\n"
    "       caf db check DB [--repair] [--json]\n"
    "       caf db why DB NAME EXP RUN [--json]\n"
    "       caf db fill-gaps DB [--dry-run] [--open-last] [--json]\n"
    "       caf db diff A B [NAME...] [--json]\n"
    "       caf db serve STORE [--address IP] [--port N] [--port-file FILE] [--token-file FILE]\n"
    "                [--public-url URL] [--threads N] [--max-body BYTES]\n"
    "       caf db pull URL TAG DIR [--iov e1,r1,e2,r2] [--json]\n"
    "       caf db push DB URL TAG [--token-file FILE] [--json]\n"
    "       caf db tag create URL NAME [--type DEV|RELEASE|RUNNING] [--description TEXT] [--token-file FILE]\n"
    "       caf db tag publish|invalidate URL NAME [--token-file FILE]\n"
    "       caf db tag list URL [--json]\n"
    "\n"
    "Local conditions databases in the basf2 format: a folder with database.txt, whose lines read\n"
    "'dbstore/NAME REVISION e1,r1,e2,r2', and payload files dbstore_NAME_rev_REVISION.EXT beside it.\n"
    "\n"
    "  list    every entry: name, revision and IoV, in file order\n"
    "  query   the payload that applies to NAME at run EXP,RUN; with several databases (a chain), the\n"
    "          first database with a match wins, and within one the last matching line; exit 1 if none.\n"
    "          A DB may be a global tag on a server, globaltag=TAG@URL (':' in URL written %3A), read\n"
    "          through the payload cache ($CAF_PAYLOAD_CACHE) as database_chain entries are\n"
    "  add     commit payload files with one IoV, all together or not at all; the revision is the first\n"
    "          6 hex digits of the file's MD5, as basf2 writes it; identical content reuses its file\n"
    "  gaps    the IoVs inside the span that no payload of NAME covers\n"
    "  merge   one database from several; later databases override earlier ones where they overlap\n"
    "  check   every line parses, every payload file exists, every hash revision matches its file;\n"
    "          also reports payload files no line references and temporary files of ended writers\n"
    "          (what a killed add leaves; the next add removes them, and the payload files a killed\n"
    "          add wrote), and a last line without its newline (a write cut short, which every other\n"
    "          command refuses); --repair first cuts such a line (or NUL bytes at the end) off\n"
    "  why     why run EXP,RUN gets its NAME payload: the payload and its IoV, then its lineage record\n"
    "          (calibration, iteration, algorithm, execution and runs, parameters, plugin file and MD5,\n"
    "          database chain, collector jobs and their input files with size and modification time,\n"
    "          those changed since marked); DB is a database or a caf output folder (its database/);\n"
    "          exit 1 when no payload covers the run or no lineage record explains it\n"
    "  fill-gaps  per payload name, extend the IoV reaching furthest before each gap up to the next\n"
    "          payload, so no run between a name's first and last payload lacks one (basf2's\n"
    "          b2cal-fill-gaps-local); with --open-last also open each name's furthest IoV to -1,-1.\n"
    "          Only uncovered runs change their answer; prints each changed line (before -> after)\n"
    "  diff    per payload name (every name either holds, or the NAMEs given), the runs where databases\n"
    "          A and B give different payloads (by the payload files' bytes, with the lookup rule of\n"
    "          query) or only one gives one, each stretch with both lines; for JSON payloads the values\n"
    "          that differ, with the relative change (B - A) / |A|; exit 0 whether or not they differ\n"
    "          (the JSON's \"differ\" says), 1 when a database cannot be read or holds no NAME\n"
    "  serve   an HTTP conditions service (basf2's REST calls, see docs/conditions-service.md) over the\n"
    "          global tag store in folder STORE (metadata.sqlite and content-addressed payloads/),\n"
    "          until SIGINT or SIGTERM. Reads are anonymous; writes need the token, read from\n"
    "          --token-file or $CAF_DB_TOKEN (never from the command line, which ps shows); without\n"
    "          one every write is refused. Listens on 127.0.0.1 by default; put TLS in a reverse proxy\n"
    "  pull    copy global tag TAG from the service at URL into the local database DIR, in one commit;\n"
    "          with --iov only the IoVs overlapping it, cut to it; every payload's MD5 is checked\n"
    "  push    upload the local database DB to the OPEN global tag TAG: all of it or, on any failure,\n"
    "          nothing (the tag stays as it was)\n"
    "  tag     create a global tag (OPEN, type DEV by default), publish it (immutable from then on),\n"
    "          invalidate it (kept, refused to clients), or list the tags and their states\n"
    "\n"
    "Options:\n"
    "  --json         print machine-readable JSON\n"
    "  --name NAME    (list) only entries of this payload\n"
    "  --iov IOV      (add) the interval of validity of the payloads\n"
    "  --span IOV     (gaps) the interval to look for gaps in\n"
    "  --dry-run      (fill-gaps) print the changes, write nothing\n"
    "  --open-last    (fill-gaps) also open the last IoV of every payload name\n"
    "  --repair       (check) cut an incomplete last line of database.txt off before checking\n"
    "  --iov IOV      (pull) only the part of the tag overlapping IOV\n"
    "  --address IP   (serve) the IPv4 address to listen on (default 127.0.0.1)\n"
    "  --port N       (serve) the port (default 8080; 0 picks a free one)\n"
    "  --port-file F  (serve) write the port to F once listening\n"
    "  --token-file F (serve, push, tag) the write token: the file's first line (default $CAF_DB_TOKEN)\n"
    "  --public-url U (serve) the baseUrl clients get for payload files (default http://IP:PORT/)\n"
    "  --threads N    (serve) worker threads (default 4)\n"
    "  --max-body N   (serve) the largest request body in bytes (default 67108864)\n"
    "  --type TYPE    (tag create) DEV, RELEASE or RUNNING (default DEV)\n"
    "  --description TEXT  (tag create) the tag's description\n"
    "\n"
    "Exit codes: 0 success, 1 failure (bad data, nothing applies, problems found), 2 usage error.\n";

enum {
    OPT_JSON = 1000, OPT_NAME, OPT_IOV, OPT_SPAN, OPT_DRY_RUN, OPT_OPEN_LAST, OPT_REPAIR, OPT_ADDRESS, OPT_PORT,
    OPT_PORT_FILE, OPT_TOKEN_FILE, OPT_PUBLIC_URL, OPT_THREADS, OPT_MAX_BODY, OPT_TYPE, OPT_DESCRIPTION
};

static const struct option db_longopts[] = {
    {"json", no_argument, NULL, OPT_JSON},
    {"name", required_argument, NULL, OPT_NAME},
    {"iov", required_argument, NULL, OPT_IOV},
    {"span", required_argument, NULL, OPT_SPAN},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"open-last", no_argument, NULL, OPT_OPEN_LAST},
    {"repair", no_argument, NULL, OPT_REPAIR},
    {"address", required_argument, NULL, OPT_ADDRESS},
    {"port", required_argument, NULL, OPT_PORT},
    {"port-file", required_argument, NULL, OPT_PORT_FILE},
    {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
    {"public-url", required_argument, NULL, OPT_PUBLIC_URL},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"max-body", required_argument, NULL, OPT_MAX_BODY},
    {"type", required_argument, NULL, OPT_TYPE},
    {"description", required_argument, NULL, OPT_DESCRIPTION},
    {0},
};

struct db_args {
    const char *where;
    bool json;
    const char *name;
    const char *iov_text;
    const char *span_text;
    bool dry_run, open_last, repair;
    const char *address, *port_file, *token_file, *public_url, *type, *description;
    int port, threads, max_body;
    int operand_count;
    char **operands;
};

/* Parses options anywhere on the line (operands may come first, as in 'caf db gaps DB NAME --span S'). */
static int parse_db_args(const char *where, int argc, char **argv, struct db_args *args)
{
    memset(args, 0, sizeof *args);
    args->where = where;
    args->port = 8080;
    args->operands = calloc((size_t)argc + 1, sizeof *args->operands);
    if (!args->operands)
        return cli_failf("out of memory");
    struct cli_options opts = {.where = where, .help = db_help, .shortopts = "", .longopts = db_longopts};
    cli_options_begin();
    int index = 1;
    for (;;) {
        int c = cli_next_option(&opts, argc, argv);
        if (c == CLI_OPT_HELP)
            return -1;
        if (c == CLI_OPT_ERROR)
            return CLI_EXIT_USAGE;
        if (c == CLI_OPT_END) {
            if (optind >= argc)
                break;
            if (strcmp(argv[optind - 1], "--") == 0 && optind > index) {
                while (optind < argc)
                    args->operands[args->operand_count++] = argv[optind++];
                break;
            }
            args->operands[args->operand_count++] = argv[optind++];
            index = optind;
            continue;
        }
        switch (c) {
        case OPT_JSON: args->json = true; break;
        case OPT_NAME: args->name = optarg; break;
        case OPT_IOV: args->iov_text = optarg; break;
        case OPT_SPAN: args->span_text = optarg; break;
        case OPT_DRY_RUN: args->dry_run = true; break;
        case OPT_OPEN_LAST: args->open_last = true; break;
        case OPT_REPAIR: args->repair = true; break;
        case OPT_ADDRESS: args->address = optarg; break;
        case OPT_PORT_FILE: args->port_file = optarg; break;
        case OPT_TOKEN_FILE: args->token_file = optarg; break;
        case OPT_PUBLIC_URL: args->public_url = optarg; break;
        case OPT_TYPE: args->type = optarg; break;
        case OPT_DESCRIPTION: args->description = optarg; break;
        case OPT_PORT:
            if (!cli_parse_int(where, "--port", optarg, &args->port))
                return CLI_EXIT_USAGE;
            break;
        case OPT_THREADS:
            if (!cli_parse_int(where, "--threads", optarg, &args->threads))
                return CLI_EXIT_USAGE;
            break;
        case OPT_MAX_BODY:
            if (!cli_parse_int(where, "--max-body", optarg, &args->max_body))
                return CLI_EXIT_USAGE;
            break;
        default: return cli_usage_error(where, "option '%s' does not apply here", argv[optind - 1]);
        }
    }
    return 0;
}

static json_t *iov_json(caf_iov iov)
{
    return json_pack("[iiii]", iov.exp_low, iov.run_low, iov.exp_high, iov.run_high);
}

static void print_json(json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text)
        puts(text);
    free(text);
    json_decref(value);
}

static int open_db(const char *path, unsigned flags, caf_localdb **db)
{
    caf_error err = {0};
    if (caf_localdb_open(path, flags, db, &err) != CAF_OK)
        return cli_fail(&err);
    return CLI_EXIT_OK;
}

static int db_list(struct db_args *a)
{
    if (a->operand_count != 1)
        return cli_usage_error(a->where, "expects one database");
    caf_localdb *db;
    int rc = open_db(a->operands[0], 0, &db);
    if (rc)
        return rc;
    json_t *list = json_array();
    for (size_t i = 0; i < caf_localdb_entry_count(db); i++) {
        const caf_db_entry *e = caf_localdb_entry(db, i);
        if (a->name && strcmp(a->name, e->name) != 0)
            continue;
        if (a->json) {
            json_array_append_new(list, json_pack("{s:s, s:s, s:o, s:i}", "name", e->name, "revision", e->revision,
                                                  "iov", iov_json(e->iov), "line", e->line));
        } else {
            char iov[CAF_IOV_TEXT_MAX];
            printf("%-32s %-10s %s\n", e->name, e->revision, caf_iov_format(e->iov, iov, sizeof iov));
        }
    }
    if (a->json)
        print_json(list);
    else
        json_decref(list);
    caf_localdb_close(db);
    return CLI_EXIT_OK;
}

static int db_query(struct db_args *a)
{
    if (a->operand_count < 4)
        return cli_usage_error(a->where, "expects DB... NAME EXP RUN");
    int n_db = a->operand_count - 3;
    const char *name = a->operands[n_db];
    caf_exprun r;
    if (!cli_parse_int(a->where, "EXP", a->operands[n_db + 1], &r.exp) ||
        !cli_parse_int(a->where, "RUN", a->operands[n_db + 2], &r.run))
        return CLI_EXIT_USAGE;
    if (r.exp < 0 || r.run < 0)
        return cli_usage_error(a->where, "EXP and RUN must not be negative");
    caf_error err = {0};
    if (caf_payload_name_check(name, &err) != CAF_OK)
        return cli_usage_error(a->where, "%s", err.message);
    caf_dbchain *chain;
    if (caf_dbchain_open((const char *const *)a->operands, (size_t)n_db, &chain, &err) != CAF_OK)
        return cli_fail(&err);
    caf_dbchain_match m;
    caf_status st = caf_dbchain_lookup(chain, name, r, &m, &err);
    int rc = CLI_EXIT_OK;
    if (st == CAF_ERR_NOT_FOUND && !m.entry && strstr(err.message, "in the database chain")) {
        rc = cli_failf("no payload '%s' applies to run %d,%d in %s%s", name, r.exp, r.run, a->operands[0],
                       n_db > 1 ? " or the databases after it" : "");
    } else if (st != CAF_OK) {
        rc = cli_fail(&err);
    } else {
        const caf_db_entry *e = m.entry;
        const char *database = m.database ? caf_localdb_dir(m.database)
                                          : caf_gt_resolver_name(caf_dbchain_resolver(chain, m.position));
        if (a->json) {
            print_json(json_pack("{s:s, s:s, s:o, s:s, s:s}", "name", e->name, "revision", e->revision, "iov",
                                 iov_json(e->iov), "database", database, "file", m.path));
        } else {
            char iov[CAF_IOV_TEXT_MAX];
            printf("%s %s %s %s\n", e->name, e->revision, caf_iov_format(e->iov, iov, sizeof iov), m.path);
        }
    }
    caf_dbchain_match_clear(&m);
    caf_dbchain_close(chain);
    return rc;
}

static int parse_iov_option(const char *where, const char *option, const char *text, caf_iov *iov)
{
    caf_error err = {0};
    if (!text)
        return cli_usage_error(where, "needs %s e1,r1,e2,r2", option);
    if (caf_iov_parse(text, iov, &err) != CAF_OK)
        return cli_usage_error(where, "%s: %s", option, err.message);
    return CLI_EXIT_OK;
}

static int db_add(struct db_args *a)
{
    if (a->operand_count < 2)
        return cli_usage_error(a->where, "expects DB NAME=FILE...");
    caf_iov iov;
    int rc = parse_iov_option(a->where, "--iov", a->iov_text, &iov);
    if (rc)
        return rc;
    for (int i = 1; i < a->operand_count; i++)
        if (!strchr(a->operands[i], '=') || a->operands[i][0] == '=')
            return cli_usage_error(a->where, "'%s' is not NAME=FILE", a->operands[i]);
    caf_localdb *db;
    if ((rc = open_db(a->operands[0], CAF_LOCALDB_CREATE, &db)))
        return rc;
    caf_error err = {0};
    caf_db_commit *commit;
    caf_status st = caf_db_commit_begin(db, &commit, &err);
    size_t before = caf_localdb_entry_count(db);
    for (int i = 1; st == CAF_OK && i < a->operand_count; i++) {
        char *name = strdup(a->operands[i]);
        char *eq = strchr(name, '=');
        *eq = '\0';
        st = caf_db_commit_add_file(commit, name, eq + 1, iov, &err);
        free(name);
    }
    if (st == CAF_OK) {
        st = caf_db_commit_finish(commit, &err);
    } else {
        caf_db_commit_abort(commit);
    }
    if (st != CAF_OK) {
        caf_localdb_close(db);
        return cli_fail(&err);
    }
    json_t *added = json_array();
    for (size_t i = before; i < caf_localdb_entry_count(db); i++) {
        const caf_db_entry *e = caf_localdb_entry(db, i);
        char text[CAF_IOV_TEXT_MAX];
        if (a->json)
            json_array_append_new(added, json_pack("{s:s, s:s, s:o}", "name", e->name, "revision", e->revision,
                                                   "iov", iov_json(e->iov)));
        else
            printf("added %s revision %s for %s\n", e->name, e->revision, caf_iov_format(e->iov, text, sizeof text));
    }
    if (a->json)
        print_json(added);
    else
        json_decref(added);
    caf_localdb_close(db);
    return CLI_EXIT_OK;
}

static int db_gaps(struct db_args *a)
{
    if (a->operand_count != 2)
        return cli_usage_error(a->where, "expects DB NAME");
    caf_iov span;
    int rc = parse_iov_option(a->where, "--span", a->span_text, &span);
    if (rc)
        return rc;
    caf_localdb *db;
    if ((rc = open_db(a->operands[0], 0, &db)))
        return rc;
    const char *name = a->operands[1];
    size_t n = caf_localdb_entry_count(db);
    caf_iov *covered = malloc((n ? n : 1) * sizeof *covered);
    size_t m = 0;
    for (size_t i = 0; covered && i < n; i++)
        if (strcmp(caf_localdb_entry(db, i)->name, name) == 0)
            covered[m++] = caf_localdb_entry(db, i)->iov;
    caf_iov *gaps = NULL;
    size_t gap_count = 0;
    caf_error err = {0};
    caf_status st = covered ? caf_iov_gaps(covered, m, span, &gaps, &gap_count, &err)
                            : caf_error_set(&err, CAF_ERR_NOMEM, "out of memory");
    free(covered);
    caf_localdb_close(db);
    if (st != CAF_OK)
        return cli_fail(&err);
    json_t *list = json_array();
    for (size_t i = 0; i < gap_count; i++) {
        char text[CAF_IOV_TEXT_MAX];
        if (a->json)
            json_array_append_new(list, iov_json(gaps[i]));
        else
            puts(caf_iov_format(gaps[i], text, sizeof text));
    }
    if (a->json)
        print_json(list);
    else
        json_decref(list);
    free(gaps);
    return CLI_EXIT_OK;
}

static int db_merge(struct db_args *a)
{
    if (a->operand_count < 2)
        return cli_usage_error(a->where, "expects OUT DB...");
    caf_error err = {0};
    caf_dbchain *inputs;
    /* All inputs are read (and checked) before OUT is touched. */
    if (caf_dbchain_open((const char *const *)a->operands + 1, (size_t)a->operand_count - 1, &inputs, &err) != CAF_OK)
        return cli_fail(&err);
    for (size_t d = 0; d < caf_dbchain_size(inputs); d++)
        if (!caf_dbchain_database(inputs, d)) {
            caf_dbchain_close(inputs);
            return cli_failf("%s: merge reads local databases only (export a global tag with caf db pull)",
                             a->operands[d + 1]);
        }
    caf_localdb *out;
    int rc = open_db(a->operands[0], CAF_LOCALDB_CREATE, &out);
    if (rc) {
        caf_dbchain_close(inputs);
        return rc;
    }
    caf_db_commit *commit;
    caf_status st = caf_db_commit_begin(out, &commit, &err);
    size_t total = 0;
    /* Appending in input order makes later inputs win: lookups take the last matching line. */
    for (size_t d = 0; st == CAF_OK && d < caf_dbchain_size(inputs); d++) {
        caf_localdb *db = caf_dbchain_database(inputs, d);
        for (size_t i = 0; st == CAF_OK && i < caf_localdb_entry_count(db); i++) {
            const caf_db_entry *e = caf_localdb_entry(db, i);
            char *file = caf_localdb_payload_path(db, e, &err);
            st = file ? caf_db_commit_add_file(commit, e->name, file, e->iov, &err) : err.code;
            free(file);
            total++;
        }
    }
    if (st == CAF_OK)
        st = caf_db_commit_finish(commit, &err);
    else
        caf_db_commit_abort(commit);
    /* every payload keeps its lineage (caf/lineage.h) */
    for (size_t d = 0; st == CAF_OK && d < caf_dbchain_size(inputs); d++)
        st = caf_lineage_copy(caf_localdb_dir(caf_dbchain_database(inputs, d)), a->operands[0], &err);
    caf_localdb_close(out);
    caf_dbchain_close(inputs);
    if (st != CAF_OK)
        return cli_fail(&err);
    if (a->json)
        print_json(json_pack("{s:s, s:i}", "database", a->operands[0], "entries", (int)total));
    else
        printf("merged %zu entries into %s\n", total, a->operands[0]);
    return CLI_EXIT_OK;
}

struct check_report {
    bool json;
    json_t *problems;
};

static void report_problem(const char *problem, void *userdata)
{
    struct check_report *r = userdata;
    if (r->json)
        json_array_append_new(r->problems, json_string(problem));
    else
        printf("%s\n", problem);
}

static int db_check(struct db_args *a)
{
    if (a->operand_count != 1)
        return cli_usage_error(a->where, "expects one database");
    struct check_report report = {.json = a->json, .problems = json_array()};
    size_t problems = 0;
    caf_error err = {0};
    int removed_line = 0;
    size_t removed_bytes = 0;
    if (a->repair && caf_localdb_repair(a->operands[0], &removed_line, &removed_bytes, &err) != CAF_OK) {
        json_decref(report.problems);
        return cli_fail(&err);
    }
    if (removed_line)
        fprintf(stderr, "caf: %s: removed the incomplete last line %d of database.txt (%zu bytes)\n", a->operands[0],
                removed_line, removed_bytes);
    if (caf_localdb_check(a->operands[0], report_problem, &report, &problems, &err) != CAF_OK) {
        json_decref(report.problems);
        return cli_fail(&err);
    }
    if (a->json)
        print_json(json_pack("{s:s, s:b, s:o}", "database", a->operands[0], "ok", problems == 0, "problems",
                             report.problems));
    else
        json_decref(report.problems);
    if (problems) {
        fprintf(stderr, "caf: error: %s: %zu problem%s\n", a->operands[0], problems, problems == 1 ? "" : "s");
        return CLI_EXIT_FAILURE;
    }
    if (!a->json)
        printf("%s: ok\n", a->operands[0]);
    return CLI_EXIT_OK;
}

/* caf db why: the payload a run gets and the lineage record behind it (caf/lineage.h). */
static int db_why(struct db_args *a)
{
    if (a->operand_count != 4)
        return cli_usage_error(a->where, "expects DB NAME EXP RUN");
    caf_exprun r;
    if (!cli_parse_int(a->where, "EXP", a->operands[2], &r.exp) || !cli_parse_int(a->where, "RUN", a->operands[3], &r.run))
        return CLI_EXIT_USAGE;
    if (r.exp < 0 || r.run < 0)
        return cli_usage_error(a->where, "EXP and RUN must not be negative");
    caf_error err = {0};
    if (caf_payload_name_check(a->operands[1], &err) != CAF_OK)
        return cli_usage_error(a->where, "%s", err.message);
    json_t *answer = NULL;
    if (caf_lineage_why(a->operands[0], a->operands[1], r, &answer, &err) != CAF_OK)
        return cli_fail(&err);
    if (a->json)
        print_json(answer);
    else {
        caf_lineage_print(stdout, answer);
        json_decref(answer);
    }
    return CLI_EXIT_OK;
}

static int db_fill_gaps(struct db_args *a)
{
    if (a->operand_count != 1)
        return cli_usage_error(a->where, "expects one database");
    caf_db_fill_gaps_options options = {.open_last = a->open_last, .dry_run = a->dry_run};
    caf_db_iov_change *changes;
    size_t n;
    caf_error err = {0};
    if (caf_localdb_fill_gaps(a->operands[0], &options, &changes, &n, &err) != CAF_OK)
        return cli_fail(&err);
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        const caf_db_iov_change *c = &changes[i];
        const char *why = c->reason == CAF_DB_OPEN_LAST ? "open-last" : "gap";
        if (a->json) {
            json_array_append_new(list, json_pack("{s:s, s:s, s:i, s:o, s:o, s:s}", "name", c->name, "revision",
                                                  c->revision, "line", c->line, "before", iov_json(c->before),
                                                  "after", iov_json(c->after), "reason", why));
        } else {
            char before[CAF_IOV_TEXT_MAX], after[CAF_IOV_TEXT_MAX];
            printf("%s%s rev %s (line %d): %s -> %s (%s)\n", a->dry_run ? "would change " : "", c->name,
                   c->revision, c->line, caf_iov_format(c->before, before, sizeof before),
                   caf_iov_format(c->after, after, sizeof after), why);
        }
    }
    if (a->json)
        print_json(json_pack("{s:o, s:b}", "changes", list, "written", !a->dry_run && n > 0));
    else {
        json_decref(list);
        printf("%zu line%s %s\n", n, n == 1 ? "" : "s", a->dry_run ? "would change (dry run)" : "changed");
    }
    caf_db_iov_changes_free(changes, n);
    return CLI_EXIT_OK;
}

/* caf db diff: where two databases give different payloads (caf/localdb_diff.h). */
static int db_diff(struct db_args *a)
{
    if (a->operand_count < 2)
        return cli_usage_error(a->where, "expects A B [NAME...]");
    caf_error err = {0};
    for (int i = 2; i < a->operand_count; i++)
        if (caf_payload_name_check(a->operands[i], &err) != CAF_OK)
            return cli_usage_error(a->where, "%s", err.message);
    json_t *diff = NULL;
    if (caf_localdb_diff(a->operands[0], a->operands[1], (const char *const *)a->operands + 2,
                         (size_t)a->operand_count - 2, &diff, &err) != CAF_OK)
        return cli_fail(&err);
    if (a->json)
        print_json(diff);
    else {
        caf_localdb_diff_print(stdout, diff, 20);
        json_decref(diff);
    }
    return CLI_EXIT_OK;
}

/* The write token: the first line of --token-file, else $CAF_DB_TOKEN; NULL when neither is given
 * (*rc 0) or the file cannot be read (*rc set). Never an operand: ps would show it. Caller frees. */
static char *read_token(const struct db_args *a, int *rc)
{
    *rc = CLI_EXIT_OK;
    if (!a->token_file) {
        const char *env = getenv("CAF_DB_TOKEN");
        return env && env[0] ? strdup(env) : NULL;
    }
    char *data;
    size_t size;
    caf_error err = {0};
    if (caf_file_read(a->token_file, &data, &size, &err) != CAF_OK) {
        *rc = cli_fail(&err);
        return NULL;
    }
    data[strcspn(data, "\r\n")] = '\0';
    if (!data[0]) {
        free(data);
        *rc = cli_failf("%s: the first line (the token) is empty", a->token_file);
        return NULL;
    }
    return data;
}

static int db_serve(struct db_args *a)
{
    if (a->operand_count != 1)
        return cli_usage_error(a->where, "expects one store folder");
    if (a->port < 0 || a->port > 65535 || a->threads < 0 || a->threads > 256 || a->max_body < 0)
        return cli_usage_error(a->where, "--port must be 0-65535, --threads 0-256, --max-body not negative");
    int rc;
    char *token = read_token(a, &rc);
    if (rc)
        return rc;
    /* the signals are waited for below; worker threads inherit the mask and never take them */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    caf_gt_server_options options = {
        .store_dir = a->operands[0], .address = a->address, .port = a->port, .token = token,
        .public_url = a->public_url, .threads = (unsigned)a->threads, .max_body = (size_t)a->max_body,
    };
    caf_gt_server *server;
    caf_error err = {0};
    caf_status st = caf_gt_server_start(&options, &server, &err);
    if (st != CAF_OK) {
        free(token);
        return cli_fail(&err);
    }
    char port[16];
    snprintf(port, sizeof port, "%d\n", caf_gt_server_port(server));
    if (a->port_file && caf_file_write_atomic(a->port_file, port, strlen(port), &err) != CAF_OK) {
        caf_gt_server_stop(server);
        free(token);
        return cli_fail(&err);
    }
    printf("caf db serve: %s at %s (writes %s)\n", a->operands[0], caf_gt_server_url(server),
           token ? "need the token" : "refused: no token given");
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    caf_gt_server_stop(server);
    free(token);
    printf("caf db serve: stopped (%s)\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    return CLI_EXIT_OK;
}

/* A client of URL with the token, if one is given; *client NULL and the exit code on failure. */
static int open_client(struct db_args *a, const char *url, caf_gt_client **client)
{
    int rc;
    char *token = read_token(a, &rc);
    if (rc)
        return rc;
    caf_error err = {0};
    caf_status st = caf_gt_client_open(url, token, client, &err);
    free(token);
    return st == CAF_OK ? CLI_EXIT_OK : cli_fail(&err);
}

static int db_pull(struct db_args *a)
{
    if (a->operand_count != 3)
        return cli_usage_error(a->where, "expects URL TAG DIR");
    caf_iov limit;
    if (a->iov_text) {
        int rc = parse_iov_option(a->where, "--iov", a->iov_text, &limit);
        if (rc)
            return rc;
    }
    caf_gt_client *client;
    int rc = open_client(a, a->operands[0], &client);
    if (rc)
        return rc;
    size_t count;
    caf_error err = {0};
    caf_status st = caf_gt_client_pull(client, a->operands[1], a->operands[2], a->iov_text ? &limit : NULL, &count, &err);
    caf_gt_client_close(client);
    if (st != CAF_OK)
        return cli_fail(&err);
    if (a->json)
        print_json(json_pack("{s:s, s:s, s:i}", "globaltag", a->operands[1], "database", a->operands[2], "entries",
                             (int)count));
    else
        printf("pulled %zu entries of %s into %s\n", count, a->operands[1], a->operands[2]);
    return CLI_EXIT_OK;
}

static int db_push(struct db_args *a)
{
    if (a->operand_count != 3)
        return cli_usage_error(a->where, "expects DB URL TAG");
    caf_gt_client *client;
    int rc = open_client(a, a->operands[1], &client);
    if (rc)
        return rc;
    size_t count;
    caf_error err = {0};
    caf_status st = caf_gt_client_push(client, a->operands[0], a->operands[2], &count, &err);
    caf_gt_client_close(client);
    if (st != CAF_OK)
        return cli_fail(&err);
    if (a->json)
        print_json(json_pack("{s:s, s:s, s:i}", "database", a->operands[0], "globaltag", a->operands[2], "entries",
                             (int)count));
    else
        printf("pushed %zu entries of %s to %s\n", count, a->operands[0], a->operands[2]);
    return CLI_EXIT_OK;
}

static int db_tag(struct db_args *a)
{
    if (a->operand_count < 2)
        return cli_usage_error(a->where, "expects create|publish|invalidate|list URL [NAME]");
    const char *action = a->operands[0];
    bool list = strcmp(action, "list") == 0;
    bool known = list || strcmp(action, "create") == 0 || strcmp(action, "publish") == 0 ||
                 strcmp(action, "invalidate") == 0;
    if (!known)
        return cli_usage_error(a->where, "unknown action '%s' (create, publish, invalidate, list)", action);
    if (a->operand_count != (list ? 2 : 3))
        return cli_usage_error(a->where, list ? "list expects URL" : "%s expects URL NAME", action);
    caf_gt_client *client;
    int rc = open_client(a, a->operands[1], &client);
    if (rc)
        return rc;
    caf_error err = {0};
    caf_status st;
    json_t *tags = NULL;
    if (list)
        st = caf_gt_client_tags(client, &tags, &err);
    else if (strcmp(action, "create") == 0)
        st = caf_gt_client_tag_create(client, a->operands[2], a->type ? a->type : "DEV", a->description, &err);
    else
        st = caf_gt_client_tag_set_state(client, a->operands[2], action[0] == 'p' ? "PUBLISHED" : "INVALID", &err);
    caf_gt_client_close(client);
    if (st != CAF_OK)
        return cli_fail(&err);
    if (list && a->json) {
        print_json(tags);
    } else if (list) {
        size_t i;
        json_t *t;
        json_array_foreach(tags, i, t) {
            printf("%-40s %-10s %-8s %s\n", json_string_value(json_object_get(t, "name")),
                   json_string_value(json_object_get(json_object_get(t, "globalTagStatus"), "name")),
                   json_string_value(json_object_get(json_object_get(t, "globalTagType"), "name")),
                   json_string_value(json_object_get(t, "description")));
        }
        json_decref(tags);
    } else {
        printf("global tag %s %s\n", a->operands[2],
               action[0] == 'c' ? "created (OPEN)" : action[0] == 'p' ? "published" : "invalidated");
    }
    return CLI_EXIT_OK;
}

static int run_db(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(db_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    static const struct {
        const char *name;
        int (*run)(struct db_args *);
    } subcommands[] = {
        {"list", db_list}, {"query", db_query}, {"add", db_add},
        {"gaps", db_gaps}, {"merge", db_merge}, {"check", db_check},
        {"why", db_why}, {"fill-gaps", db_fill_gaps}, {"diff", db_diff},
        {"serve", db_serve}, {"pull", db_pull}, {"push", db_push}, {"tag", db_tag},
    };
    for (size_t i = 0; i < sizeof subcommands / sizeof *subcommands; i++) {
        if (strcmp(argv[1], subcommands[i].name) != 0)
            continue;
        char where[32];
        snprintf(where, sizeof where, "db %s", subcommands[i].name);
        struct db_args args;
        int rc = parse_db_args(where, argc - 1, argv + 1, &args);
        if (rc == 0)
            rc = subcommands[i].run(&args);
        else if (rc < 0)
            rc = CLI_EXIT_OK;
        free(args.operands);
        return rc;
    }
    return cli_usage_error("db", "unknown subcommand '%s'", argv[1]);
}

const struct cli_command cli_command_db = {
    .name = "db",
    .summary = "list, query, add to, merge, check and explain local conditions databases; serve global tags",
    .help = db_help,
    .run = run_db,
};
