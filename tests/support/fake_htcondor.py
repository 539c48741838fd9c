#!/usr/bin/env python3
"""A stand-in for HTCondor's commands (HTCondor cannot be installed here), for e2e tests of caf's
HTCondor backend. Installed as condor_submit, condor_q, condor_history and condor_rm (symlinks to this
file, see install()); it answers in the machine-readable formats the HTCondor manual documents:

  condor_submit -terse -       reads a submit description on stdin, prints "C.0 - C.N-1"
  condor_q -json -attributes A,B CLUSTER...        a JSON array of job ClassAds (nothing when none)
  condor_q -json -attributes A,B OWNER             the same for every job of that user (Owner)
  condor_history -json -attributes A,B CLUSTER...  the same for jobs that left the queue
  condor_rm C.P...             removes jobs (JobStatus 3)

JobStatus codes: 1 idle, 2 running, 3 removed, 4 completed, 5 held, 6 transferring output.
Every job runs at once on this machine. With should_transfer_files = YES it runs in a scratch folder of
its own with copies of the executable's transfer_input_files (flat, by base name), and afterwards the
transfer_output_files are copied back into its initialdir (transfer_output_remaps applied); a listed
output that does not exist puts the job on hold, as HTCondor does. Every submit description is kept in
$FAKE_CONDOR_DIR/submits/, every command line in $FAKE_CONDOR_DIR/calls.

FAKE_CONDOR_HOLD=N holds the first N jobs submitted (HoldReason says why) instead of running them;
FAKE_CONDOR_HOLD_ALWAYS=TEXT holds every job whose initialdir ends with TEXT.
"""
import fcntl
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time

STATE = os.environ.get("FAKE_CONDOR_DIR", "")


def locked():
    fd = os.open(os.path.join(STATE, "lock"), os.O_CREAT | os.O_RDWR, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def load_jobs():
    try:
        with open(os.path.join(STATE, "jobs.json")) as f:
            return json.load(f)
    except FileNotFoundError:
        return {"next_cluster": 1, "submitted": 0, "jobs": {}}


def save_jobs(state):
    tmp = os.path.join(STATE, "jobs.json.tmp")
    with open(tmp, "w") as f:
        json.dump(state, f)
    os.replace(tmp, os.path.join(STATE, "jobs.json"))


def update(job_id, **fields):
    fd = locked()
    try:
        state = load_jobs()
        job = state["jobs"][job_id]
        if job["JobStatus"] == 3 and fields.get("JobStatus") != 3:
            return job  # removed: stays removed
        job.update(fields)
        save_jobs(state)
        return job
    finally:
        os.close(fd)


def parse_description(text):
    """Yields (settings, count) per queue statement, settings being the commands seen so far."""
    settings = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line == "queue" or line.startswith("queue "):
            rest = line[5:].strip()
            yield dict(settings), int(rest) if rest else 1
            continue
        key, sep, value = line.partition("=")
        if not sep:
            sys.exit("fake condor_submit: cannot read line %r" % raw)
        settings[key.strip().lower()] = value.strip()


def split_list(value):
    return [v.strip() for v in value.split(",") if v.strip()]


def arguments(value, proc):
    value = value.replace("$(Process)", str(proc))
    if value.startswith('"') and value.endswith('"'):
        value = value[1:-1]
    return value.split()


def condor_submit(argv):
    if "-terse" not in argv or argv[-1] != "-":
        sys.exit("fake condor_submit: expected -terse and the description on stdin, got %r" % argv)
    text = sys.stdin.read()
    os.makedirs(os.path.join(STATE, "submits"), exist_ok=True)
    fd = locked()
    try:
        state = load_jobs()
        cluster = state["next_cluster"]
        state["next_cluster"] += 1
        with open(os.path.join(STATE, "submits", "%04d.sub" % cluster), "w") as f:
            f.write(text)
        procs = []
        for settings, count in parse_description(text):
            for _ in range(count):
                proc = len(procs)
                state["submitted"] += 1
                job_id = "%d.%d" % (cluster, proc)
                state["jobs"][job_id] = {"ClusterId": cluster, "ProcId": proc, "JobStatus": 1,
                                         "Owner": pwd.getpwuid(os.geteuid()).pw_name,
                                         "settings": settings, "submit_dir": os.getcwd(),
                                         "number": state["submitted"]}
                procs.append(job_id)
        if not procs:
            sys.exit("fake condor_submit: no queue statement")
        save_jobs(state)
    finally:
        os.close(fd)
    for job_id in procs:
        subprocess.Popen([sys.executable, os.path.abspath(__file__), "--run", job_id], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=dict(os.environ))
    print("%s - %s" % (procs[0], procs[-1]))


def copy_in(path, scratch):
    target = os.path.join(scratch, os.path.basename(path.rstrip("/")))
    if os.path.isdir(path):
        shutil.copytree(path, target)
    else:
        shutil.copy(path, target)


def run_job(job_id):
    fd = locked()
    try:
        job = load_jobs()["jobs"][job_id]
    finally:
        os.close(fd)
    s = job["settings"]
    submit_dir = job["submit_dir"]
    initialdir = os.path.join(submit_dir, s.get("initialdir", "."))
    hold_first = int(os.environ.get("FAKE_CONDOR_HOLD", "0"))
    always = os.environ.get("FAKE_CONDOR_HOLD_ALWAYS")
    if job["number"] <= hold_first or (always and initialdir.rstrip("/").endswith(always)):
        update(job_id, JobStatus=5, HoldReason="Error from slot1@fake-node: Job has gone over memory limit of "
               "2048 megabytes. Peak usage: 4100 megabytes.")
        return
    time.sleep(0.2)
    if update(job_id, JobStatus=2)["JobStatus"] != 2:
        return
    transfer = s.get("should_transfer_files", "NO").upper() == "YES"
    scratch = tempfile.mkdtemp(prefix="dir_", dir=os.path.join(STATE, "execute")) if transfer else initialdir
    try:
        if transfer:
            for item in split_list(s.get("transfer_input_files", "")):
                copy_in(item if os.path.isabs(item) else os.path.join(initialdir, item), scratch)
        out = s.get("output", "/dev/null")
        err = s.get("error", "/dev/null")
        with open(os.path.join(initialdir, out), "ab") as o, open(os.path.join(initialdir, err), "ab") as e:
            argv = [s["executable"]] + arguments(s.get("arguments", ""), job["ProcId"])
            rc = subprocess.call(argv, cwd=scratch, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
        if transfer:
            update(job_id, JobStatus=6)
            remaps = {}
            for pair in s.get("transfer_output_remaps", "").strip('"').split(";"):
                name, sep, new = pair.partition("=")
                if sep:
                    remaps[name.strip()] = new.strip()
            for item in split_list(s.get("transfer_output_files", "")):
                src = os.path.join(scratch, item)
                if not os.path.exists(src):
                    update(job_id, JobStatus=5, HoldReason="Error from slot1@fake-node: STARTER failed to send "
                           "file(s): error reading from %s: (errno 2) No such file or directory" % src)
                    return
                dst = os.path.join(initialdir, remaps.get(item, os.path.basename(item)))
                if os.path.isdir(src):
                    shutil.copytree(src, dst, dirs_exist_ok=True)
                else:
                    shutil.copy(src, dst)
        update(job_id, JobStatus=4, ExitCode=rc if rc >= 0 else None, ExitBySignal=rc < 0,
               **({"ExitSignal": -rc} if rc < 0 else {}))
    finally:
        if transfer:
            shutil.rmtree(scratch, ignore_errors=True)


def query(argv, queue):
    attributes = None
    clusters = []
    owners = []
    i = 0
    while i < len(argv):
        if argv[i] == "-json":
            pass
        elif argv[i] == "-attributes":
            i += 1
            attributes = argv[i].split(",")
        elif argv[i].startswith("-"):
            sys.exit("fake %s: option %s not understood" % ("condor_q" if queue else "condor_history", argv[i]))
        elif argv[i][0].isdigit():
            clusters.append(argv[i])
        else:
            owners.append(argv[i])
        i += 1
    if "-json" not in argv:
        sys.exit("fake condor_q/condor_history: caf must ask for -json")
    fd = locked()
    try:
        jobs = load_jobs()["jobs"]
    finally:
        os.close(fd)
    ads = []
    for job_id, job in sorted(jobs.items()):
        in_queue = job["JobStatus"] not in (3, 4)
        if in_queue != queue:
            continue
        if clusters and str(job["ClusterId"]) not in clusters and job_id not in clusters:
            continue
        if owners and job.get("Owner") not in owners:
            continue
        ad = {k: v for k, v in job.items() if k[0].isupper() and v is not None}
        if attributes:
            ad = {k: v for k, v in ad.items() if k in attributes}
        ads.append(ad)
    if ads:  # HTCondor prints nothing at all when no job matches
        print("[\n" + "\n,\n".join(json.dumps(ad, indent=2, sort_keys=True) for ad in ads) + "\n]")


def condor_rm(argv):
    fd = locked()
    try:
        state = load_jobs()
        for arg in argv:
            for job_id, job in state["jobs"].items():
                if arg in (job_id, str(job["ClusterId"])) and job["JobStatus"] not in (3, 4):
                    job["JobStatus"] = 3
        save_jobs(state)
    finally:
        os.close(fd)
    print("Job(s) marked for removal")


def install(folder):
    os.makedirs(folder, exist_ok=True)
    for name in ("condor_submit", "condor_q", "condor_history", "condor_rm"):
        link = os.path.join(folder, name)
        if not os.path.exists(link):
            os.symlink(os.path.abspath(__file__), link)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--install":
        install(sys.argv[2])
        return
    if not STATE:
        sys.exit("fake HTCondor: FAKE_CONDOR_DIR is not set")
    os.makedirs(os.path.join(STATE, "execute"), exist_ok=True)
    if len(sys.argv) == 3 and sys.argv[1] == "--run":
        run_job(sys.argv[2])
        return
    program = os.path.basename(sys.argv[0])
    with open(os.path.join(STATE, "calls"), "a") as f:
        f.write(" ".join([program] + sys.argv[1:]) + "\n")
    if program == "condor_submit":
        condor_submit(sys.argv[1:])
    elif program == "condor_q":
        query(sys.argv[1:], True)
    elif program == "condor_history":
        query(sys.argv[1:], False)
    elif program == "condor_rm":
        condor_rm(sys.argv[1:])
    else:
        sys.exit("fake HTCondor: unknown command " + program)


if __name__ == "__main__":
    main()
