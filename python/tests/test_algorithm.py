"""Algorithms written in Python run by `caf algo run python:MODULE:FUNCTION` on a real collector output
(toy data through ExampleHitCollector): the merged objects arrive as numpy arrays equal to what the
package reads from the same file; payloads are committed as canonical JSON to a real database that
`caf db check` finds sound; the JSON state goes in and out; the hooks of a class (pre_algorithm,
setup_experiment, boundaries) are called; an exception, a hang past the time limit and a memory hog are
FAILUREs with the traceback or the limit in the message and log; and bad input (a module that does not
import, a missing function, a wrong signature, a payload JSON cannot hold, a result that is none of the
four) fails naming the module, the function and the problem."""
import glob
import json
import os
import textwrap

import numpy as np
import pytest

import caf
from algorithm_sources import LIMIT_BREAKERS

MODULE = '''
import json
import caf

def ok(ctx):
    h = ctx.get_object("amplitude")
    ctx.save_payload("PyConstants", {"entries": h.entries, "per_channel": h.contents.sum(axis=1),
                                     "note": "x", "scale": ctx.params.get("scale", 1.0), "z": -0.0})
    ctx.output_state["seen"] = ctx.input_state.get("seen", 0) + 1
    ctx.output_state["runs"] = [list(r) for r in ctx.runs]
    return caf.Result.OK

def missing_object(ctx):
    try:
        ctx.get_object("no_such_object")
    except caf.NotFoundError as e:  # the package's exception, raised by the algorithm's extension module
        ctx.output_state["error"] = str(e)
        return caf.Result.OK
    return caf.Result.FAILURE

def not_enough(ctx):
    return caf.Result.NOT_ENOUGH_DATA, "only %d runs" % len(ctx.runs)

def iterate(ctx):
    ctx.save_bytes("PyBlob", "bin", b"\\x00\\x01raw")
    return "ITERATE"

def raises(ctx):
    def inner():
        raise KeyError("no such channel 99")
    inner()

def bad_result(ctx):
    return None

def bad_payload(ctx):
    ctx.save_payload("PyConstants", {"channels": {1, 2, 3}})
    return caf.Result.OK

def nan_payload(ctx):
    ctx.save_payload("PyConstants", {"gain": float("nan")})
    return caf.Result.OK

def list_payload(ctx):
    ctx.save_payload("PyConstants", [1, 2])
    return caf.Result.OK

def two_arguments(ctx, extra):
    return caf.Result.OK

not_a_function = 42

class WithHooks:
    def __init__(self):
        self.calls = []

    def pre_algorithm(self, ctx, iteration):
        self.calls.append(["pre_algorithm", iteration])

    def setup_experiment(self, ctx, exp):
        self.calls.append(["setup_experiment", exp])

    def boundary_setup(self, ctx, runs):
        self.calls.append(["boundary_setup", len(runs)])

    def is_boundary_required(self, ctx, run):
        h = ctx.get_object("hits")
        return run.run == 2

    def calibrate(self, ctx):
        ctx.output_state["calls"] = self.calls + [["calibrate", ctx.iteration]]
        return caf.Result.OK
''' + LIMIT_BREAKERS


@pytest.fixture(scope="session")
def setup(tmp_path_factory, run_caf):
    w = tmp_path_factory.mktemp("pyalgo")
    run_caf("gen", "toy", w / "toy", "--seed", 5, "--runs", 3, "--experiments", 1, "--events", 300)
    (w / "collect.yaml").write_text(f'- module: ExampleHitCollector\n  params: {{outputFileName: "{w}/c.sqlite"}}\n')
    run_caf("-q", "process", w / "collect.yaml", "-i", *sorted(glob.glob(str(w / "toy" / "*.h5"))), "--seed", 1)
    (w / "mods").mkdir()
    (w / "mods" / "pyalgos.py").write_text(MODULE)
    (w / "mods" / "broken.py").write_text("import numpy\nraise RuntimeError('broken at import')\n")
    return w


@pytest.fixture()
def algo(setup, caf_command):
    """algo(FUNCTION, *args) -> (exit code, --json output or None, stderr)."""
    import subprocess

    def run(function, *args, module="pyalgos"):
        env = dict(os.environ, PYTHONPATH=f"{setup / 'mods'}:{os.environ.get('PYTHONPATH', '')}")
        p = subprocess.run([caf_command, "algo", "run", f"python:{module}:{function}", "--input",
                            str(setup / "c.sqlite"), "--collector", "ExampleHitCollector", "--json",
                            *map(str, args)], capture_output=True, text=True, env=env, cwd=setup)
        out = json.loads(p.stdout) if p.stdout.strip() else None
        return p.returncode, out, p.stderr

    return run


def test_ok_objects_payloads_state(setup, algo, run_caf):
    db = setup / "db_ok"
    (setup / "state.json").write_text('{"seen": 4}')
    rc, out, err = algo("ok", "--db", db, "--param", "scale=2.5", "--state", setup / "state.json")
    assert rc == 0, err
    assert out["result"] == "OK" and out["committed"] and out["algorithm"] == "python:pyalgos:ok"
    assert out["state"] == {"seen": 5, "runs": [[1, 1], [1, 2], [1, 3]]}
    assert [p["name"] for p in out["payloads"]] == ["PyConstants"]
    # what the algorithm saw equals the package's own merge of the same file
    h = caf.CollectorOutput(str(setup / "c.sqlite")).merge("amplitude")
    payload = caf.Database(str(db)).read_json("PyConstants", (1, 2))
    assert payload["entries"] == h.entries
    assert np.array_equal(np.array(payload["per_channel"]), h.contents.sum(axis=1))
    assert payload["scale"] == 2.5 and payload["note"] == "x"
    # committed as C algorithms' constants are: canonical JSON (sorted keys, no spaces, -0 as 0)
    text = open(caf.Database(str(db)).payload_path("PyConstants", (1, 2))).read()
    assert text.startswith('{"entries":7') and ", " not in text and text.endswith('"z":0.0}'), text
    assert run_caf("db", "check", db).stdout.strip().endswith("ok")


def test_package_exceptions(algo):
    rc, out, err = algo("missing_object")
    assert rc == 0, err
    assert "no_such_object" in out["state"]["error"] and "amplitude" in out["state"]["error"], out["state"]


def test_other_results(setup, algo):
    rc, out, _ = algo("not_enough")
    assert rc == 1 and out["result"] == "NOT_ENOUGH_DATA" and out["message"] == "only 3 runs"
    db = setup / "db_iterate"
    rc, out, _ = algo("iterate", "--db", db)
    assert rc == 0 and out["result"] == "ITERATE" and out["committed"]
    path = caf.Database(str(db)).payload_path("PyBlob", (1, 1))
    assert path.endswith(".bin") and open(path, "rb").read() == b"\x00\x01raw"


def test_exception_is_failure_with_traceback(algo):
    rc, out, _ = algo("raises")
    assert rc == 1 and out["result"] == "FAILURE" and not out["committed"]
    assert out["message"] == ("python:pyalgos:raises raised KeyError: 'no such channel 99' "
                              "(traceback in the log)"), out["message"]
    assert "Traceback (most recent call last)" in out["log"]
    assert 'in inner\n    raise KeyError("no such channel 99")' in out["log"], out["log"]


def test_time_and_memory_limits(algo):
    rc, out, _ = algo("hang", "--timeout", 2)
    assert rc == 1 and out["result"] == "FAILURE" and out["crashed"]
    assert out["message"] == "algorithm python:pyalgos:hang timed out after 2 s and was killed"
    rc, out, _ = algo("hog", "--memory-limit", 300)
    assert rc == 1 and out["result"] == "FAILURE", out
    # RLIMIT_AS makes Python raise MemoryError; where it does not apply (sanitizer builds) the resident
    # memory watch kills the process
    assert ("python:pyalgos:hog raised MemoryError" in out["message"]
            or "exceeded the memory limit of 300 MiB" in out["message"]), out["message"]


def test_hooks_of_a_class(setup, algo):
    rc, out, err = algo("WithHooks", "--iteration", 2, "--experiment-settings", 1)
    assert rc == 0, err
    assert out["state"]["calls"] == [["pre_algorithm", 2], ["setup_experiment", 1], ["calibrate", 2]]
    rc, out, err = algo("WithHooks", "--boundaries")
    assert rc == 0, err
    assert out["boundaries"] == [[1, 2]], out


@pytest.mark.parametrize("function, module, problem", [
    ("f", "no_such_module", "algorithm python:no_such_module:f: module 'no_such_module' cannot be imported: "
                            "ModuleNotFoundError: No module named 'no_such_module'"),
    ("f", "broken", "algorithm python:broken:f: module 'broken' cannot be imported: RuntimeError: broken at import"),
    ("missing", "pyalgos", "algorithm python:pyalgos:missing: module 'pyalgos' ({mods}/pyalgos.py) has no "
                           "function 'missing'"),
    ("not_a_function", "pyalgos", "algorithm python:pyalgos:not_a_function: 'not_a_function' in module "
                                  "'pyalgos' is a int, not a function"),
    ("two_arguments", "pyalgos", "algorithm python:pyalgos:two_arguments: calibrate has the wrong signature "
                                 "two_arguments(ctx, extra): it must take 1 argument (the context)"),
])
def test_set_up_errors(setup, algo, function, module, problem):
    rc, out, err = algo(function, module=module)
    assert rc == 1
    assert err.strip().splitlines()[-1] == "caf: error: " + problem.format(mods=setup / "mods"), err


@pytest.mark.parametrize("function, problem", [
    ("bad_result", "python:pyalgos:bad_result returned None, which is not one of the results OK, ITERATE, "
                   "NOT_ENOUGH_DATA, FAILURE (caf.Result)"),
    ("bad_payload", "python:pyalgos:bad_payload raised TypeError: payload 'PyConstants' is not "
                    "JSON-serialisable: Object of type set is not JSON serializable (traceback in the log)"),
    ("nan_payload", "python:pyalgos:nan_payload raised TypeError: payload 'PyConstants' is not "
                    "JSON-serialisable: Out of range float values are not JSON compliant (traceback in the log)"),
    ("list_payload", "python:pyalgos:list_payload raised TypeError: payload 'PyConstants' is a list, not a "
                     "dict (traceback in the log)"),
])
def test_bad_results_and_payloads(setup, algo, function, problem):
    db = setup / f"db_{function}"
    rc, out, _ = algo(function, "--db", db)
    assert rc == 1 and out["result"] == "FAILURE" and not out["committed"]
    assert out["message"] == problem
    assert not os.path.exists(db / "database.txt") or os.path.getsize(db / "database.txt") == 0


def test_context_outside_its_call():
    from caf import _caf

    with pytest.raises(TypeError):
        _caf.AlgoContext()
