/* caf jobs submit|status|cancel|backends: run a JOB.json through a backend, look at it, stop it. One
 * caf at a time drives a job (a lock in its working folder); others only read its saved state. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "caf/backend.h"
#include "caf/file.h"
#include "caf/job.h"
#include "caf/json.h"
#include "caf/scheduler.h"
#include "cli/cli.h"

static const char help_text[] =
    "usage: caf jobs submit JOB.json [--backend NAME] [--wait] [--max-active N] [--json]\n"
    "       caf jobs status JOB.json [--json]\n"
    "       caf jobs cancel JOB.json\n"
    "       caf jobs backends [--json]\n"
    "\n"
    "Runs the subjobs of the job described in JOB.json (format: docs/jobs.md) through a backend\n"
    "(default: the job's \"backend\", else local). The job's state lives in WORKING_DIR/caf-job.json:\n"
    "running submit or status again re-attaches to subjobs still running instead of starting them twice.\n"
    "\n"
    "  submit     submit what the limits allow; with --wait, keep going until every subjob completed or\n"
    "             failed (retrying failed ones); Ctrl-C or SIGTERM then cancels every subjob.\n"
    "             Exit code 1 when the job failed.\n"
    "  status     ask the backend about the subjobs, update the state and print it.\n"
    "  cancel     remove every submitted or running subjob (they end as failed: \"cancelled\").\n"
    "  backends   list the backends.\n"
    "\n"
    "Options:\n"
    "  --backend NAME    use this backend (local, slurm, ...)\n"
    "  --wait            submit: stay until the job is done\n"
    "  --max-active N    submit: at most N subjobs submitted or running at once\n"
    "  --json            print data as JSON\n"
    "\n"
    "Exit codes: 0 success, 1 failure (a failed job with submit --wait, a bad JOB.json), 2 usage error.\n";

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

/* Installs the Ctrl-C/SIGTERM/SIGHUP handlers without SA_RESTART, so that waits end at once. */
static void catch_stop_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* The lock a driving caf holds on WORKING_DIR/caf-job.lock; fd -1 when not held. */
static int lock_job(const caf_job *job, bool *busy, caf_error *err)
{
    *busy = false;
    caf_status rc = caf_mkdir_p(job->working_dir, err);
    if (rc != CAF_OK)
        return -1;
    char *path = caf_path_join(job->working_dir, "caf-job.lock");
    int fd = path ? open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : -1;
    if (fd < 0) {
        caf_error_errno(err, path ? errno : ENOMEM, "%s", path ? path : "lock");
        free(path);
        return -1;
    }
    free(path);
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            *busy = true;
        else
            caf_error_errno(err, errno, "job %s: lock", job->name);
        close(fd);
        return -1;
    }
    return fd;
}

static void print_status(const caf_job *job, bool as_json)
{
    caf_job_status status = caf_job_status_of(job);
    if (as_json) {
        json_t *j = caf_job_to_json(job);
        json_object_set_new(j, "status", json_string(caf_job_status_name(status)));
        char *text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
        if (text)
            puts(text);
        free(text);
        json_decref(j);
        return;
    }
    size_t count[5] = {0};
    for (size_t i = 0; i < job->n_subjobs; i++)
        count[job->subjobs[i].status]++;
    printf("job %s: %s (%zu subjobs: %zu completed, %zu failed, %zu running, %zu submitted, %zu waiting)\n",
           job->name, caf_job_status_name(status), job->n_subjobs, count[CAF_JOB_COMPLETED], count[CAF_JOB_FAILED],
           count[CAF_JOB_RUNNING], count[CAF_JOB_SUBMITTED], count[CAF_JOB_INIT]);
    for (size_t i = 0; i < job->n_subjobs; i++) {
        const caf_subjob *sub = &job->subjobs[i];
        if (sub->status == CAF_JOB_FAILED)
            printf("  subjob %zu: failed after %d attempt%s: %s\n", sub->index, sub->attempt,
                   sub->attempt == 1 ? "" : "s", sub->reason ? sub->reason : "?");
    }
}

/* Everything a jobs subcommand works with. */
struct jobs_session {
    caf_job job;
    caf_backend backend;
    caf_scheduler sched;
    int lock_fd;
};

static void session_close(struct jobs_session *s)
{
    caf_backend_close(&s->backend);
    caf_job_close(&s->job);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    s->lock_fd = -1;
}

/* Loads the job and its saved state; when lock is set, takes the job's lock (*busy if another caf holds
 * it) and opens the backend and scheduler. */
static caf_status session_open(struct jobs_session *s, const char *path, const char *backend_name, bool lock,
                               int max_active, bool *busy, caf_error *err)
{
    memset(s, 0, sizeof *s);
    s->lock_fd = -1;
    *busy = false;
    caf_status rc = caf_job_load_spec(&s->job, path, err);
    if (rc != CAF_OK)
        return rc;
    if (backend_name) {
        free(s->job.backend);
        s->job.backend = strdup(backend_name);
        if (!s->job.backend)
            return caf_error_set(err, CAF_ERR_NOMEM, "out of memory");
    }
    if (lock) {
        s->lock_fd = lock_job(&s->job, busy, err);
        if (s->lock_fd < 0 && !*busy)
            return err->code;
    }
    bool found = false;
    rc = caf_job_load_state(&s->job, &found, err);
    if (rc != CAF_OK)
        return rc;
    if (backend_name && strcmp(backend_name, s->job.backend) != 0)
        return caf_error_set(err, CAF_ERR_STATE,
                             "job %s: its subjobs are still active in backend %s; wait for them or cancel them first",
                             s->job.name, s->job.backend);
    if (*busy || !lock)
        return CAF_OK;
    caf_schedule_policy policy;
    caf_schedule_policy_init(&policy);
    rc = caf_schedule_policy_from_json(&policy, s->job.policy, err);
    if (rc == CAF_OK && max_active > 0)
        policy.max_active = max_active;
    if (rc == CAF_OK)
        rc = caf_backend_open(&s->backend, s->job.backend, s->job.backend_settings, err);
    if (rc == CAF_OK)
        rc = caf_scheduler_init(&s->sched, &s->job, &s->backend, &policy, err);
    if (rc != CAF_OK)
        caf_error_prefix(err, "job %s: ", s->job.name);
    return rc;
}

/* The shared option parser stops at the first operand; `caf jobs submit JOB.json --wait` is the
 * documented order, so options after the operand are moved in front of it first (in place). Options
 * that take a separate value are listed in with_value. */
static void options_first(int argc, char **argv, const char *const *with_value)
{
    char **ops = calloc((size_t)argc + 1, sizeof *ops);
    char **operands = calloc((size_t)argc + 1, sizeof *operands);
    if (!ops || !operands) {
        free(ops);
        free(operands);
        return;
    }
    int n_ops = 0, n_operands = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            while (i < argc)
                operands[n_operands++] = argv[i++];
            break;
        }
        if (argv[i][0] != '-' || argv[i][1] == '\0') {
            operands[n_operands++] = argv[i];
            continue;
        }
        ops[n_ops++] = argv[i];
        for (const char *const *w = with_value; *w; w++)
            if (strcmp(argv[i], *w) == 0 && i + 1 < argc)
                ops[n_ops++] = argv[++i];
    }
    int k = 1;
    for (int i = 0; i < n_ops; i++)
        argv[k++] = ops[i];
    for (int i = 0; i < n_operands; i++)
        argv[k++] = operands[i];
    free(ops);
    free(operands);
}

/* Parses the options of a jobs subcommand (they may follow the operand), handing each to on_option,
 * which returns false after printing a usage error. Returns -1 to go on, else the exit code. */
static int parse_options(const struct cli_options *opts, const char *const *with_value, int argc, char **argv,
                         bool (*on_option)(int c, void *ctx), void *ctx)
{
    options_first(argc, argv, with_value);
    cli_options_begin();
    for (int c; (c = cli_next_option(opts, argc, argv)) != CLI_OPT_END;) {
        if (c == CLI_OPT_HELP)
            return CLI_EXIT_OK;
        if (c == CLI_OPT_ERROR || !on_option(c, ctx))
            return CLI_EXIT_USAGE;
    }
    return -1;
}

/* Prints the outcome and closes the session; returns the exit code. */
static int finish(struct jobs_session *s, caf_status rc, const caf_error *err, bool as_json, bool fail_if_failed)
{
    int exit_code = CLI_EXIT_OK;
    if (rc != CAF_OK) {
        exit_code = cli_fail(err);
    } else {
        print_status(&s->job, as_json);
        if (fail_if_failed && caf_job_status_of(&s->job) == CAF_JOB_FAILED)
            exit_code = CLI_EXIT_FAILURE;
    }
    session_close(s);
    return exit_code;
}

struct submit_options {
    const char *backend;
    bool wait, as_json;
    int max_active;
};

static bool on_submit_option(int c, void *ctx)
{
    struct submit_options *o = ctx;
    if (c == 'b')
        o->backend = optarg;
    else if (c == 'w')
        o->wait = true;
    else if (c == 'j')
        o->as_json = true;
    else if (c == 'm' && !cli_parse_int("jobs submit", "--max-active", optarg, &o->max_active))
        return false;
    else if (c == 'm' && o->max_active < 1)
        return cli_usage_error("jobs submit", "--max-active must be at least 1"), false;
    return true;
}

static bool on_json_option(int c, void *ctx)
{
    *(bool *)ctx |= c == 'j';
    return true;
}

static const struct option json_longopts[] = {{"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
static const char *const no_values[] = {NULL};

static int run_submit(int argc, char **argv)
{
    static const struct option longopts[] = {{"backend", required_argument, 0, 'b'},
                                             {"wait", no_argument, 0, 'w'},
                                             {"max-active", required_argument, 0, 'm'},
                                             {"json", no_argument, 0, 'j'},
                                             {0, 0, 0, 0}};
    static const char *const with_value[] = {"--backend", "--max-active", NULL};
    const struct cli_options opts = {"jobs submit", help_text, "", longopts};
    struct submit_options o = {0};
    int parsed = parse_options(&opts, with_value, argc, argv, on_submit_option, &o);
    if (parsed >= 0)
        return parsed;
    if (argc - optind != 1)
        return cli_usage_error("jobs submit", "expects one JOB.json");
    struct jobs_session s;
    caf_error err = {0};
    bool busy = false;
    catch_stop_signals(); /* before anything is submitted, so that no Ctrl-C can leave an orphan */
    caf_status rc = session_open(&s, argv[optind], o.backend, true, o.max_active, &busy, &err);
    if (rc == CAF_OK && busy)
        rc = caf_error_set(&err, CAF_ERR_STATE, "job %s is being run by another caf (%s/caf-job.lock)", s.job.name,
                           s.job.working_dir);
    if (rc == CAF_OK)
        rc = o.wait ? caf_scheduler_run(&s.sched, &stop_requested, &err) : caf_scheduler_poll(&s.sched, &err);
    if (rc == CAF_OK && !o.wait)
        rc = caf_scheduler_submit(&s.sched, &err);
    if (rc == CAF_OK && !o.wait)
        rc = caf_scheduler_save(&s.sched, &err);
    if (rc == CAF_OK && !o.wait && stop_requested) { /* interrupted while submitting: take it all back */
        rc = caf_scheduler_cancel(&s.sched, &err);
        if (rc == CAF_OK)
            rc = caf_error_set(&err, CAF_ERR_STATE, "job %s: cancelled", s.job.name);
    }
    return finish(&s, rc, &err, o.as_json, o.wait);
}

static int run_status_or_cancel(int argc, char **argv, bool cancel)
{
    const char *where = cancel ? "jobs cancel" : "jobs status";
    const struct cli_options opts = {where, help_text, "", cancel ? json_longopts + 1 : json_longopts};
    bool as_json = false;
    int parsed = parse_options(&opts, no_values, argc, argv, on_json_option, &as_json);
    if (parsed >= 0)
        return parsed;
    if (argc - optind != 1)
        return cli_usage_error(where, "expects one JOB.json");
    struct jobs_session s;
    caf_error err = {0};
    bool busy = false;
    caf_status rc = session_open(&s, argv[optind], NULL, true, 0, &busy, &err);
    if (rc == CAF_OK && busy && cancel)
        rc = caf_error_set(&err, CAF_ERR_STATE,
                           "job %s is being run by another caf (%s/caf-job.lock): stop that one with Ctrl-C or "
                           "SIGTERM, which cancels the job",
                           s.job.name, s.job.working_dir);
    if (rc == CAF_OK && !busy)
        rc = cancel ? caf_scheduler_cancel(&s.sched, &err) : caf_scheduler_poll(&s.sched, &err);
    if (rc == CAF_OK && !busy && !cancel)
        rc = caf_scheduler_save(&s.sched, &err);
    return finish(&s, rc, &err, as_json, false);
}

static int run_backends(int argc, char **argv)
{
    const struct cli_options opts = {"jobs backends", help_text, "", json_longopts};
    bool as_json = false;
    int parsed = parse_options(&opts, no_values, argc, argv, on_json_option, &as_json);
    if (parsed >= 0)
        return parsed;
    if (argc != optind)
        return cli_usage_error("jobs backends", "takes no operands");
    json_t *list = json_array();
    for (const caf_backend_ops *const *b = caf_backend_registry; *b; b++) {
        if (as_json)
            json_array_append_new(list, json_pack("{s:s, s:s}", "name", (*b)->name, "summary", (*b)->summary));
        else
            printf("%-10s %s\n", (*b)->name, (*b)->summary);
    }
    if (as_json) {
        char *text = json_dumps(list, JSON_INDENT(2));
        if (text)
            puts(text);
        free(text);
    }
    json_decref(list);
    return CLI_EXIT_OK;
}

static int run_jobs(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage_error("jobs", "expects submit, status, cancel or backends");
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        fputs(help_text, stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(sub, "submit") == 0)
        return run_submit(argc - 1, argv + 1);
    if (strcmp(sub, "status") == 0)
        return run_status_or_cancel(argc - 1, argv + 1, false);
    if (strcmp(sub, "cancel") == 0)
        return run_status_or_cancel(argc - 1, argv + 1, true);
    if (strcmp(sub, "backends") == 0)
        return run_backends(argc - 1, argv + 1);
    return cli_usage_error("jobs", "'%s' is not a jobs subcommand (submit, status, cancel, backends)", sub);
}

const struct cli_command cli_command_jobs = {
    .name = "jobs",
    .summary = "submit, watch and cancel batch jobs",
    .help = help_text,
    .run = run_jobs,
};
