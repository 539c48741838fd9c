"""Campaigns built in Python, with basf2's names (caf.framework: Calibration, Collection, Algorithm, CAF).

A campaign built here is a campaign file's content: every object becomes the keys of
docs/configuration.md, and the text is loaded and validated by libcaf's own loader and validator (the
code behind `caf config check` and `caf run`), so a Python campaign and a YAML one are the same model
and fail with the same one-line messages, raised as caf.InvalidError. Checking, planning and running go
through the caf command on the campaign file this module writes (docs/python.md, "A campaign built in
Python"); status and lineage are read through libcaf.

    from caf.framework import Calibration, CAF
    cal = Calibration("gain", collector="ExampleHitCollector", algorithms="ExampleGainAlgorithm",
                      input_files=["toy/*.h5"], max_files_per_collector_job=2)
    cal.strategies = "SequentialRunByRun"
    fw = CAF(output_dir="results")
    fw.add_calibration(cal)
    fw.run()                 # `caf run`, resumable: running it again continues where it stopped
    fw.status()["calibrations"][0]["state"]
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading

__all__ = ["Algorithm", "Collection", "Calibration", "CAF", "CampaignRun", "find_caf_command", "why"]

# Constructor arguments named as in basf2 whose campaign key differs.
_BASF2_KEYS = {"pre_collector_path": "pre_collector", "calibration_defaults": "defaults"}


def _listed(value):
    """None, a string or a sequence as a list (None stays None)."""
    if value is None:
        return None
    return [value] if isinstance(value, (str, os.PathLike)) else list(value)


def _plain(value):
    """value with paths as strings and tuples as lists, for JSON."""
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _keys(pairs):
    """The campaign keys among pairs: those set (not None), basf2 names translated, values made plain."""
    return {_BASF2_KEYS.get(k, k): _plain(v) for k, v in pairs.items() if v is not None}


class Algorithm:
    """One algorithm of a calibration (basf2 caf.framework.Algorithm): a C plugin's algorithm
    ("PLUGIN" or "PLUGIN:ALGORITHM") or a Python one ("python:MODULE:FUNCTION"), its parameters (basf2
    `params`), its strategy and the strategy's parameters, and optional execution limits."""

    def __init__(self, algorithm, params=None, strategy=None, strategy_parameters=None, time_limit=None,
                 memory_limit=None):
        self.algorithm = algorithm
        self.params = dict(params) if params else {}
        self.strategy = strategy
        self.strategy_parameters = dict(strategy_parameters) if strategy_parameters else {}
        self.time_limit = time_limit
        self.memory_limit = memory_limit

    def to_dict(self):
        """The algorithm entry of docs/configuration.md."""
        name = os.fspath(self.algorithm) if isinstance(self.algorithm, os.PathLike) else self.algorithm
        entry = {"python": name[len("python:"):]} if isinstance(name, str) and name.startswith("python:") \
            else {"plugin": name}
        entry.update(_keys({"parameters": self.params or None, "strategy": self.strategy,
                            "strategy_parameters": self.strategy_parameters or None,
                            "time_limit": self.time_limit, "memory_limit": self.memory_limit}))
        return entry

    def __repr__(self):
        return f"Algorithm({self.algorithm!r}, strategy={self.strategy!r})"


class _Keys:
    """Attributes other than the class's own (_OWN, properties, _private) are campaign keys of the same
    name (docs/configuration.md): `cal.granularity = "all"` sets the key and `cal.granularity` reads it,
    as basf2's attributes. None unsets a key. A name that is no key is kept too, and libcaf's validator
    reports it ("unknown key"), so a misspelt attribute is never silently ignored."""

    _OWN = ("keys",)

    def __setattr__(self, name, value):
        if name.startswith("_") or name in self._OWN or isinstance(getattr(type(self), name, None), property):
            object.__setattr__(self, name, value)
        else:
            self.keys[name] = value

    def __getattr__(self, name):
        keys = self.__dict__.get("keys", {})
        if name.startswith("_") or name not in keys:
            raise AttributeError(f"{type(self).__name__} has no attribute or key {name!r}")
        return keys[name]


class _Chained(_Keys):
    """What has a database_chain (a calibration, a collection): basf2's use_local_database and
    use_central_database, which append to it. caf searches the chain in order and the first entry with a
    payload for the run wins (docs/configuration.md), so an entry appended here is searched after the
    ones before it; the calibration's ancestors come before all of them."""

    def use_local_database(self, directory):
        """Appends a local database folder (one holding database.txt) to database_chain."""
        self._chain_append(os.fspath(directory))

    def use_central_database(self, globaltag, server):
        """Appends global tag globaltag on server (a URL, or a list of URLs tried in order with back-off:
        mirrors) to database_chain; its payloads reach jobs through the local payload cache
        (docs/conditions-service.md, "Global tags in a database chain")."""
        servers = [server] if isinstance(server, str) else [str(s) for s in server]
        self._chain_append({"server": servers[0] if len(servers) == 1 else servers, "globaltag": globaltag})

    def _chain_append(self, entry):
        chain = self.keys.get("database_chain")
        if chain is None:
            chain = []
        elif isinstance(chain, (str, os.PathLike, dict)):
            chain = [chain]
        self.keys["database_chain"] = [*chain, entry]


class Collection(_Chained):
    """A collector with its own inputs (basf2 caf.framework.Collection), added to a calibration with
    Calibration.add_collection. collector is a plugin name or {"plugin": NAME, "parameters": {...}};
    pre_collector_path a list of module names or {"module", "parameters", "conditions"} mappings; any
    other collection key of docs/configuration.md may be given (and set as an attribute) by its name."""

    def __init__(self, collector=None, input_files=None, pre_collector_path=None, database_chain=None,
                 output_patterns=None, max_files_per_collector_job=None, max_collector_jobs=None,
                 backend_args=None, **keys):
        self.keys = dict(collector=collector, input_files=input_files, pre_collector_path=pre_collector_path,
                         database_chain=database_chain, output_patterns=output_patterns,
                         max_files_per_collector_job=max_files_per_collector_job,
                         max_collector_jobs=max_collector_jobs, backend_args=backend_args, **keys)

    def to_dict(self):
        """The collection's keys (without its name)."""
        return _keys(self.keys)


class Calibration(_Chained):
    """One calibration (basf2 caf.framework.Calibration). The basf2 names are constructor arguments and
    attributes (collector, algorithms, input_files, pre_collector_path, database_chain, output_patterns,
    max_files_per_collector_job, max_collector_jobs, backend_args, max_iterations, ignored_runs, backend,
    backend_settings, save_payloads); every other calibration key of docs/configuration.md may be given,
    or set as an attribute, by its name (granularity="all", job_policy={...}). Unknown keys and bad
    values are found by libcaf's validator when the campaign is validated, checked, planned or run."""

    _OWN = ("keys", "name", "collections", "dependencies")

    def __init__(self, name, collector=None, algorithms=None, input_files=None, pre_collector_path=None,
                 database_chain=None, output_patterns=None, max_files_per_collector_job=None,
                 max_collector_jobs=None, backend_args=None, **keys):
        self.keys = dict(collector=collector, pre_collector_path=pre_collector_path, input_files=input_files,
                         database_chain=database_chain, output_patterns=output_patterns,
                         max_files_per_collector_job=max_files_per_collector_job,
                         max_collector_jobs=max_collector_jobs, backend_args=backend_args, **keys)
        self.name = name
        self.algorithms = algorithms
        self.collections = {}
        self.dependencies = []

    @property
    def algorithms(self):
        """The Algorithm objects, in order; may be set to one or a list of Algorithms or names."""
        return self._algorithms

    @algorithms.setter
    def algorithms(self, value):
        if isinstance(value, Algorithm):
            value = [value]
        self._algorithms = [a if isinstance(a, Algorithm) else Algorithm(a) for a in (_listed(value) or [])]

    @property
    def strategies(self):
        """Every algorithm's strategy; setting one name sets it for all, a list one per algorithm."""
        return [a.strategy for a in self._algorithms]

    @strategies.setter
    def strategies(self, value):
        names = _listed(value)
        if len(names) == 1:
            names = names * len(self._algorithms)
        if len(names) != len(self._algorithms):
            raise ValueError(f"calibration '{self.name}': {len(names)} strategies for {len(self._algorithms)} "
                             "algorithms")
        for algorithm, strategy in zip(self._algorithms, names):
            algorithm.strategy = strategy

    def add_collection(self, name, collection):
        """Adds a Collection under name (basf2 add_collection); the calibration's own collector keys are
        then not used."""
        self.collections[name] = collection

    def depends_on(self, calibration):
        """This calibration starts after calibration (a Calibration or its name) completed and sees its
        payloads (basf2 depends_on)."""
        name = calibration.name if isinstance(calibration, Calibration) else calibration
        if name not in self.dependencies:
            self.dependencies.append(name)

    def to_dict(self):
        """The calibration's entry of docs/configuration.md."""
        entry = {"name": self.name}
        entry.update(_keys(self.keys))
        entry.update(_keys({"algorithms": [a.to_dict() for a in self._algorithms] or None,
                            "depends_on": self.dependencies or None}))
        if self.collections:
            entry["collections"] = [{"name": n, **c.to_dict()} for n, c in self.collections.items()]
        return entry

    def __repr__(self):
        return f"Calibration({self.name!r})"


def find_caf_command():
    """The caf command this package belongs to: $CAF_COMMAND, else the build tree's bin/caf beside a
    package of the build tree, else PREFIX/bin/caf of an installed package, else caf on PATH."""
    if os.environ.get("CAF_COMMAND"):
        return os.environ["CAF_COMMAND"]
    package = os.path.dirname(os.path.abspath(__file__))
    for candidate in (os.path.join(package, "..", "..", "bin", "caf"),                # build/python/caf
                      os.path.join(package, "..", "..", "..", "..", "bin", "caf")):   # lib/python3.X/*-packages/caf
        if os.access(candidate, os.X_OK) and os.path.isfile(candidate):
            return os.path.normpath(candidate)
    found = shutil.which("caf")
    if not found:
        raise FileNotFoundError("the caf command was not found (set CAF_COMMAND or put caf on PATH)")
    return found


def _error(kind, message, problems=None):
    """A caf.Error subclass instance carrying message (and .problems)."""
    import caf

    e = getattr(caf, kind)(message)
    e.problems = list(problems) if problems is not None else [message]
    return e


def _strip(line):
    """A log line of the caf command without its "caf: " and "error: " prefixes."""
    line = line.strip()
    for prefix in ("caf: ", "error: "):
        line = line[len(prefix):] if line.startswith(prefix) else line
    return line


def _command_error(lines, campaign_file, fallback):
    """The exception for a caf command that failed, from its stderr lines: the campaign's problems
    (FILE:LINE:COLUMN: ..., listed before anything starts) as caf.InvalidError naming the first and the
    count, else caf.StateError with the command's last line (its one-line message)."""
    lines = [_strip(line) for line in lines if line.strip()]
    problems = [line for line in lines if line.startswith(campaign_file + ":")
                and not re.search(r": \d+ problems? found", line)]
    if problems:
        more = len(problems) - 1
        return _error("InvalidError", problems[0] + (f" (and {more} more problem{'s' if more > 1 else ''})"
                                                     if more else ""), problems)
    return _error("StateError", lines[-1] if lines else fallback, lines)


def why(database, name, run):
    """Why run gets payload name from database (`caf db why --json`, docs/lineage.md), as a dict: the
    payload that applies ("payload": name, revision, iov, file), the record's file ("record") and the
    record of the execution that wrote it ("lineage": calibration, iteration, algorithm with its
    parameters and plugin, runs, collector jobs with their input files, database chain...). Raises
    caf.NotFoundError when no payload covers the run, caf.Error when no record explains it."""
    from caf import _caf

    return json.loads(_caf.lineage_why(os.fspath(database), name, run))


class CampaignRun:
    """A `caf run` started by CAF.run(wait=False): wait() for its end, stop() it as Ctrl-C does (it
    saves and exits; run the campaign again to resume), kill() it (SIGKILL; the next run resumes too),
    returncode, and stderr_tail (its last log lines)."""

    def __init__(self, argv, campaign_file, echo):
        self.argv = argv
        self.campaign_file = campaign_file
        self.stderr_tail = []
        self._echo = echo
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                        errors="replace")
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()

    def _read_stderr(self):
        for line in self.process.stderr:
            self.stderr_tail = (self.stderr_tail + [line.rstrip("\n")])[-50:]
            if self._echo:
                sys.stderr.write(line)
        self.process.stderr.close()

    @property
    def pid(self):
        return self.process.pid

    @property
    def returncode(self):
        return self.process.poll()

    def wait(self, timeout=None):
        """Waits for caf run to end; returns its exit code (0: every calibration completed)."""
        code = self.process.wait(timeout)
        self._reader.join()
        return code

    def stop(self):
        """Asks caf run to stop as Ctrl-C does: it records where it is and exits (subjobs keep running)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)

    def kill(self):
        """Kills caf run at once (SIGKILL); the state it recorded lets the next run resume."""
        if self.process.poll() is None:
            self.process.kill()

    def error(self):
        """The exception for an unsuccessful end, or None: caf.InvalidError for problems of the campaign
        found before anything started, else caf.StateError with caf's one-line message."""
        code = self.process.poll()
        if code in (0, None):
            return None
        return _command_error(self.stderr_tail, self.campaign_file, f"caf run exited with {code}")


class CAF(_Keys):
    """A campaign (basf2 caf.framework.CAF): global settings and the calibrations, added with
    add_calibration. output_dir and every relative path of the calibrations are relative to base_dir
    (default: the current folder when the CAF is made), as a campaign file's are to its folder. The
    campaign is written as JSON to campaign_file (default BASE_DIR/OUTPUT_DIR_NAME.campaign.json) before
    it is checked, planned or run, so `caf status`, `caf report` and a `caf run` typed by hand see the
    very same campaign. Other campaign keys of docs/configuration.md (heartbeat, poll_interval,
    backend_settings, job_policy, calibration_defaults (the key defaults), ...) may be given, or set
    as attributes, by name."""

    _OWN = ("keys", "base_dir", "caf_command", "calibrations")

    def __init__(self, output_dir="calibration_results", backend="local", base_dir=None, campaign_file=None,
                 caf_command=None, **keys):
        self.keys = dict(output_dir=output_dir, backend=backend, **keys)
        self.base_dir = os.path.abspath(os.fspath(base_dir) if base_dir is not None else os.getcwd())
        self._campaign_file = campaign_file
        self.caf_command = caf_command
        self.calibrations = []

    def add_calibration(self, calibration):
        """Adds a Calibration; names must be unique (the validator says so otherwise)."""
        self.calibrations.append(calibration)

    @property
    def campaign_file(self):
        """The file the campaign is written to (absolute)."""
        if self._campaign_file is not None:
            return os.path.join(self.base_dir, os.fspath(self._campaign_file))
        name = os.path.basename(os.path.normpath(os.fspath(self.output_dir))) or "campaign"
        return os.path.join(self.base_dir, name + ".campaign.json")

    @property
    def output_folder(self):
        """The output folder caf run uses (absolute)."""
        return os.path.join(self.base_dir, os.fspath(self.output_dir))

    def to_dict(self):
        """The campaign as the content of a campaign file (docs/configuration.md)."""
        campaign = _keys(self.keys)
        campaign["calibrations"] = [c.to_dict() for c in self.calibrations]
        return campaign

    def to_json(self):
        """The campaign file's text (JSON, which caf's YAML loader reads): one key per line, so that a
        problem's LINE:COLUMN points at its key."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    def validate(self):
        """Loads the campaign with libcaf's loader and validator, in this process. Raises
        caf.InvalidError with caf's one-line message (CAMPAIGN_FILE:LINE:COLUMN: what, naming the
        calibration and key) and .problems listing every problem; returns self."""
        from caf import _caf

        try:
            text = self.to_json()
        except (TypeError, ValueError) as e:
            raise _error("InvalidError", f"{self.campaign_file}: not a campaign value: {e}") from None
        _caf.campaign_validate(text, self.campaign_file)
        return self

    def write(self):
        """Validates the campaign and writes it to campaign_file (atomically); returns the file's path."""
        self.validate()
        path = self.campaign_file
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temporary = f"{path}.tmp-{os.getpid()}"
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(self.to_json())
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
        return path

    def _command(self, *args):
        return [self.caf_command or find_caf_command(), *map(str, args)]

    @staticmethod
    def _iov_args(iov):
        if iov is None:
            return []
        if not isinstance(iov, str):
            iov = ",".join(str(v) for v in tuple(iov))
        return ["--iov", iov]

    def check(self, plugin_path=None):
        """`caf config check --json` on the campaign: validation, input files, plugins (each algorithm
        plugin loaded in a child process), Python algorithms imported. Returns the summary as a dict
        (output_folder, backend, calibrations with their waves, algorithms and hooks); raises
        caf.InvalidError naming the first problem, with .problems listing all."""
        path = self.write()
        extra = ["--plugin-path", plugin_path] if plugin_path else []
        p = subprocess.run(self._command("config", "check", path, "--json", *extra), capture_output=True,
                           text=True, stdin=subprocess.DEVNULL)
        try:
            answer = json.loads(p.stdout)
        except ValueError:
            raise _command_error(p.stderr.splitlines(), path, f"caf config check exited with {p.returncode}") from None
        if not answer.get("valid"):
            texts = [problem["text"] for problem in answer.get("problems", [])]
            more = len(texts) - 1
            message = texts[0] + (f" (and {more} more problem{'s' if more > 1 else ''})" if more > 0 else "")
            raise _error("InvalidError", message, texts)
        return answer

    def plan(self, iov=None, plugin_path=None):
        """`caf plan --json`: what run would do (per calibration its wave, collections with their collector
        jobs, files and runs, the runs its strategies get, its database chain and each algorithm's IoVs
        known in advance; on a folder holding an earlier run, what is done and what remains), as a dict
        (docs/running.md). Nothing is submitted. Raises caf.InvalidError with caf's message."""
        path = self.write()
        extra = ["--plugin-path", plugin_path] if plugin_path else []
        p = subprocess.run(self._command("plan", path, "--json", *self._iov_args(iov), *extra),
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if p.returncode != 0:
            raise _command_error(p.stderr.splitlines(), path, f"caf plan exited with {p.returncode}")
        return json.loads(p.stdout)

    def run(self, iov=None, wait=True, plugin_path=None, echo=True):
        """Runs (or resumes) the campaign with `caf run` (basf2 CAF.run(iov=...)): a separate process, so
        the run keeps caf's own signal handling and isolation, and a run stopped or killed in any way
        resumes where it was when run() is called again, exactly as `caf run` on the campaign file.
        iov: calibrate only this IoV (an IoV, a 4-tuple or "e1,r1,e2,r2"). Its log goes to stderr
        (echo=False: kept only in the exception). With wait (default) it returns status() when every
        calibration completed and raises caf.StateError with caf's one-line message otherwise; Ctrl-C
        stops caf run as in a shell (it saves its state) and raises KeyboardInterrupt. wait=False returns
        a CampaignRun at once."""
        path = self.write()
        extra = ["--plugin-path", plugin_path] if plugin_path else []
        handle = CampaignRun(self._command("run", path, *self._iov_args(iov), *extra), path, echo)
        if not wait:
            return handle
        try:
            handle.wait()
        except KeyboardInterrupt:
            handle.stop()   # caf run shares the terminal's process group; a second SIGINT changes nothing
            handle.wait()
            raise
        error = handle.error()
        if error is not None:
            raise error
        return self.status()

    def status(self):
        """`caf status --json` of the output folder, read through libcaf: whether a run holds it, and per
        calibration its state, iteration, reason, subjob counts, database chain and each algorithm's
        outcome with its executions (runs, IoV, result, committed). Raises caf.Error when the folder holds
        no run."""
        from caf import _caf

        return json.loads(_caf.run_status(self.output_folder))

    def lineage(self, name, run, database=None):
        """Why run gets payload name from the campaign's final database (or database: e.g. an
        iteration's), as caf.framework.why (`caf db why --json`)."""
        return why(database if database is not None else os.path.join(self.output_folder, "database"), name, run)
