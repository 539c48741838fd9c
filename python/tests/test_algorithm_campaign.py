"""A campaign with algorithms written in Python (`python: MODULE:FUNCTION`, modules beside the campaign
file): one calibration completes through a class with every hook (pre_algorithm, setup_experiment
under has_experiment_settings, boundaries found by is_boundary_required for SequentialBoundaries), its
payloads committed to the campaign's database, which `caf db check` finds sound and the package reads
back; three others are made to raise, to hang past their time_limit and to exhaust their memory_limit,
and fail with the reason in `caf status` and the traceback in the execution's log while the first one
completes. `caf config check` reports a module that cannot be found, a missing function and a wrong
signature at the algorithm's line."""
import glob
import json
import os
import subprocess

import pytest

import caf
from algorithm_sources import LIMIT_BREAKERS

MODULE = '''
import caf

class Gains:
    """Per-experiment constants; a new payload wherever run 2 of an experiment starts."""

    def __init__(self):
        self.exp = None
        self.iteration = None

    def pre_algorithm(self, ctx, iteration):
        self.iteration = iteration

    def setup_experiment(self, ctx, exp):
        self.exp = exp

    def is_boundary_required(self, ctx, run):
        return run.run == 2

    def calibrate(self, ctx):
        h = ctx.get_object("amplitude")
        if h.entries < ctx.params["min_entries"]:
            return caf.Result.NOT_ENOUGH_DATA, f"{h.entries} entries"
        mean = (h.contents.sum(axis=0) * h.yedges[:-1]).sum() / h.contents.sum()
        ctx.save_payload("PyGains", {"exp": self.exp, "iteration": self.iteration, "mean": mean,
                                     "runs": [list(r) for r in ctx.runs]})
        return caf.Result.OK

def raises(ctx):
    return {"a": 1}["b"]

def two_arguments(ctx, other):
    return caf.Result.OK
''' + LIMIT_BREAKERS


def calibration(name, algorithm):
    return f"""  - name: {name}
    collector: ExampleHitCollector
    algorithms:
      - {algorithm}
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 4
"""


@pytest.fixture(scope="module")
def campaign(tmp_path_factory, run_caf):
    w = tmp_path_factory.mktemp("pycampaign")
    run_caf("gen", "toy", w / "toy", "--seed", 5, "--runs", 3, "--experiments", 2, "--events", 300)
    (w / "campaign_algorithms.py").write_text(MODULE)
    (w / "campaign.yaml").write_text("output_dir: out\npoll_interval: 0.2\ncalibrations:\n" + "".join([
        calibration("fine", "{python: campaign_algorithms:Gains, parameters: {min_entries: 50}, "
                            "strategy: SequentialBoundaries, strategy_parameters: {has_experiment_settings: true}}"),
        calibration("raises", "{python: campaign_algorithms:raises}"),
        calibration("hangs", "{python: campaign_algorithms:hang, time_limit: 3}"),
        calibration("hungry", "{python: campaign_algorithms:hog, memory_limit: 300M}"),
    ]))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # the campaign's folder is enough
    env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # ... but this test's own caf package stays findable
    p = subprocess.run([os.environ["CAF"], "run", "campaign.yaml"], cwd=w, capture_output=True, text=True, env=env)
    return w, p


def test_outcomes(campaign, run_caf):
    w, p = campaign
    assert p.returncode != 0, p.stderr
    status = run_caf("status", w / "out", "--json", json_output=True)
    cals = {c["name"]: c for c in status["calibrations"]}
    assert cals["fine"]["state"] == "completed", cals["fine"]
    assert {n: cals[n]["state"] for n in ("raises", "hangs", "hungry")} == dict.fromkeys(
        ("raises", "hangs", "hungry"), "failed"), cals
    assert "python:campaign_algorithms:raises raised KeyError: 'b' (traceback in the log)" in cals["raises"]["reason"]
    assert "python:campaign_algorithms:hang timed out after 3 s and was killed" in cals["hangs"]["reason"]
    hungry = cals["hungry"]["reason"]
    assert "python:campaign_algorithms:hog raised MemoryError" in hungry or "memory limit of 300 MiB" in hungry, hungry


def test_traceback_in_the_log(campaign):
    w, _ = campaign
    logs = glob.glob(str(w / "out" / "raises" / "**" / "algorithm.log"), recursive=True)
    assert logs, os.listdir(w / "out" / "raises")
    text = open(logs[0]).read()
    assert "Traceback (most recent call last)" in text and 'return {"a": 1}["b"]' in text, text


def test_payloads_committed(campaign, run_caf):
    w, _ = campaign
    db = w / "out" / "database"
    assert run_caf("db", "check", db).stdout.strip().endswith("ok")
    d = caf.Database(str(db))
    lines = [(e.name, tuple(e.iov)) for e in d.entries()]
    # boundaries at (e, 0) and at run 2 of each experiment: 1.1, 1.2-1.3, 2.1, 2.2-2.3 (IoVs stretched over
    # the runs between, as SequentialBoundaries does for C algorithms)
    assert sorted(lines) == [("PyGains", (1, 1, 1, 1)), ("PyGains", (1, 2, 1, -1)),
                             ("PyGains", (2, 0, 2, 1)), ("PyGains", (2, 2, 2, 3))], lines
    for exp, run, runs in ((1, 1, [[1, 1]]), (1, 3, [[1, 2], [1, 3]]), (2, 2, [[2, 2], [2, 3]])):
        payload = d.read_json("PyGains", (exp, run))
        assert payload["exp"] == exp and payload["iteration"] == 0 and payload["runs"] == runs, payload
        assert 50 < payload["mean"] < 200, payload


def test_config_check(tmp_path, campaign, caf_command):
    w, _ = campaign
    (tmp_path / "campaign_algorithms.py").write_text(MODULE)
    (tmp_path / "toy").symlink_to(w / "toy")
    (tmp_path / "bad.yaml").write_text("output_dir: out\ncalibrations:\n" + "".join([
        calibration("a", "{python: no_such_module:f}"),
        calibration("b", "{python: campaign_algorithms:missing}"),
        calibration("c", "{python: campaign_algorithms:two_arguments}"),
        calibration("d", "{python: campaign_algorithms}"),
        calibration("e", "{python: campaign_algorithms:raises, plugin: ExampleGainAlgorithm}"),
        calibration("f", "{python: campaign_algorithms:raises}"),
    ]))
    p = subprocess.run([caf_command, "config", "check", "bad.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 1
    lines = [line for line in p.stdout.splitlines() + p.stderr.splitlines() if line.startswith("bad.yaml:")]
    assert lines == [
        "bad.yaml:6:9: calibration 'a': algorithm python:no_such_module:f: module 'no_such_module' cannot be "
        "imported: ModuleNotFoundError: No module named 'no_such_module'",
        f"bad.yaml:12:9: calibration 'b': algorithm python:campaign_algorithms:missing: module "
        f"'campaign_algorithms' ({tmp_path}/campaign_algorithms.py) has no function 'missing'",
        "bad.yaml:18:9: calibration 'c': algorithm python:campaign_algorithms:two_arguments: calibrate has the "
        "wrong signature two_arguments(ctx, other): it must take 1 argument (the context)",
        "bad.yaml:24:9: calibration 'd': python: 'campaign_algorithms' is not MODULE:FUNCTION (e.g. "
        "my_algorithms.gain:calibrate)",
        "bad.yaml:30:9: calibration 'e': algorithm 1: give either 'plugin' or 'python', not both",
    ], "\n".join(lines)
