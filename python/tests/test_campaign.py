"""Campaigns built in Python (caf.framework) over real toy files made by `caf gen toy`: the toy-like
campaign built in Python has the same `caf config check` summary and the same `caf plan` as the same
campaign written in YAML; problems are caf.InvalidError carrying libcaf's FILE:LINE:COLUMN message that
names the calibration and key; a real run completes, and its status, plan and lineage come back as
Python objects equal to `caf status --json`, `caf plan --json` and `caf db why --json`; the example of
docs/python.md runs as printed there. Killed and interrupted runs: test_campaign_resume.py."""
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

import caf
from caf.framework import CAF, Algorithm, Calibration, Collection

SKIM = {"module": "TriggerSkim",
        "parameters": {"triggerLines": ["software_trigger_cut&hlt&accept_mu_mu",
                                        "software_trigger_cut&hlt&accept_2_tracks"],
                       "logicMode": "or", "resultOnMissing": 0},
        "conditions": [{"if": False}]}

# The same campaign as toy_campaign() builds, written by hand as a campaign file.
YAML = """output_dir: out
poll_interval: 0.2
calibrations:
  - name: status
    collector: ExampleHitCollector
    algorithms:
      - plugin: ExampleChannelStatusAlgorithm
        parameters: {hot_factor: 1.5, min_median_hits: 50}
        strategy: SimpleRunByRun
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 2
  - name: gain
    collector: ExampleHitCollector
    pre_collector:
      - module: TriggerSkim
        parameters:
          triggerLines: [software_trigger_cut&hlt&accept_mu_mu, software_trigger_cut&hlt&accept_2_tracks]
          logicMode: or
          resultOnMissing: 0
        conditions: [{if: false}]
    algorithms:
      - plugin: ExampleGainAlgorithm
        parameters: {min_entries: 60}
        strategy: SequentialRunByRun
    input_files: ["toy/*.h5"]
    max_files_per_collector_job: 2
    depends_on: [status]
    max_iterations: 2
  - name: hv
    collections:
      - {name: mumu, collector: ExampleHitCollector, input_files: ["toy/*_r0000[12]_*.h5"]}
      - {name: rest, collector: ExampleHitCollector, input_files: ["toy/*_r00003_*.h5"]}
    algorithms:
      - plugin: ExampleGainAlgorithm
        parameters: {min_entries: 60, payload: ExampleGainsHV}
        strategy: SequentialBoundaries
        strategy_parameters: {payload_boundaries: [[2, 2]]}
    depends_on: [status]
"""


def toy_campaign(base_dir, output_dir="out"):
    status = Calibration("status", collector="ExampleHitCollector",
                         algorithms=Algorithm("ExampleChannelStatusAlgorithm",
                                              params={"hot_factor": 1.5, "min_median_hits": 50}),
                         input_files="toy/*.h5", max_files_per_collector_job=2)
    status.strategies = "SimpleRunByRun"
    gain = Calibration("gain")          # basf2 style: attributes set one by one
    gain.collector = "ExampleHitCollector"
    gain.pre_collector_path = [SKIM]
    gain.algorithms = ["ExampleGainAlgorithm"]
    gain.algorithms[0].params["min_entries"] = 60
    gain.strategies = ["SequentialRunByRun"]
    gain.input_files = ["toy/*.h5"]
    gain.max_files_per_collector_job = 2
    gain.depends_on(status)
    gain.max_iterations = 2
    hv = Calibration("hv", algorithms=Algorithm("ExampleGainAlgorithm",
                                                params={"min_entries": 60, "payload": "ExampleGainsHV"},
                                                strategy="SequentialBoundaries",
                                                strategy_parameters={"payload_boundaries": [(2, 2)]}))
    hv.add_collection("mumu", Collection(collector="ExampleHitCollector", input_files="toy/*_r0000[12]_*.h5"))
    hv.add_collection("rest", Collection(collector="ExampleHitCollector", input_files=["toy/*_r00003_*.h5"]))
    hv.depends_on("status")
    fw = CAF(output_dir=output_dir, base_dir=base_dir)
    fw.poll_interval = 0.2              # any campaign key, as an attribute
    for cal in (status, gain, hv):
        fw.add_calibration(cal)
    return fw


def without(d, *keys):
    return {k: v for k, v in d.items() if k not in keys}


def test_same_model_check_and_plan_as_yaml(toy, run_caf):
    """The Python campaign is the YAML one: same normalised check summary, same plan."""
    (toy / "campaign.yaml").write_text(YAML)
    fw = toy_campaign(toy)
    assert fw.campaign_file == str(toy / "out.campaign.json")
    assert without(fw.check(), "file") == without(run_caf("config", "check", toy / "campaign.yaml", "--json",
                                                          json_output=True), "file")
    from_yaml = run_caf("plan", toy / "campaign.yaml", "--json", json_output=True)
    shutil.rmtree(toy / "out")  # the plan's file-index cache would make the second plan read from it
    from_python = fw.plan()
    shutil.rmtree(toy / "out")
    assert from_python["campaign"] == fw.campaign_file
    assert without(from_python, "campaign") == without(from_yaml, "campaign")
    assert [c["wave"] for c in from_python["calibrations"]] == [0, 1, 1]
    assert [c["name"] for c in from_python["calibrations"][2]["collections"]] == ["mumu", "rest"]
    # --iov reaches the plan as it reaches caf run
    limited = fw.plan(iov=caf.IoV(1, 0, 1, -1))
    shutil.rmtree(toy / "out")
    assert limited["iov"] == "1,0,1,-1"
    assert all(r[0] == 1 for r in limited["calibrations"][0]["runs"])


def test_problems_are_exceptions_naming_file_calibration_and_key(toy):
    fw = toy_campaign(toy, output_dir="bad_out")
    gain = fw.calibrations[1]
    gain.max_iterations = -1
    gain.colour = "red"                 # a misspelt attribute is a key, which the validator refuses
    with pytest.raises(caf.InvalidError) as e:
        fw.validate()
    text = fw.to_json().splitlines()
    # caf's one line: the first problem found, at its line and column of the campaign file, and the count
    line, column = next((i + 1, l.index('"colour"') + 1) for i, l in enumerate(text) if '"colour"' in l)
    assert str(e.value) == f"{fw.campaign_file}:{line}:{column}: calibration 'gain': unknown key 'colour' " \
                           "(and 1 more problem)"
    assert isinstance(e.value, ValueError) and e.value.status == "invalid argument"
    assert len(e.value.problems) == 2
    assert re.fullmatch(re.escape(fw.campaign_file) + r":\d+:\d+: calibration 'gain': max_iterations must be at "
                        r"least 0, not -1", e.value.problems[0])
    # nothing is written or run for an invalid campaign
    for method in (fw.check, fw.plan, fw.run):
        with pytest.raises(caf.InvalidError):
            method()
    assert not os.path.exists(fw.campaign_file) and not os.path.exists(fw.output_folder)

    # what only the checks on disk find comes back the same way, from `caf config check`
    gain.max_iterations = gain.colour = None     # None unsets a key
    gain.input_files = ["nothing/*.h5"]
    fw.calibrations[0].algorithms[0].algorithm = "NoSuchAlgorithm"
    with pytest.raises(caf.InvalidError) as e:
        fw.check()
    assert str(e.value).startswith(fw.campaign_file + ":")
    assert "(and 1 more problem)" in str(e.value)
    assert any("calibration 'gain'" in p and "nothing/*.h5" in p for p in e.value.problems)
    assert any("NoSuchAlgorithm" in p for p in e.value.problems)
    for method in (fw.plan, fw.run):  # caf plan's and caf run's own checks, raised the same way
        with pytest.raises(caf.InvalidError) as e:
            method(echo=False) if method == fw.run else method()
        assert str(e.value).startswith(fw.campaign_file + ":") and "(and 1 more problem)" in str(e.value)
        assert any("calibration 'gain'" in p and "nothing/*.h5" in p for p in e.value.problems)
    assert not os.path.exists(fw.output_folder)

    # values JSON cannot hold never reach the loader
    fw.calibrations[0].algorithms[0].params = {"x": float("nan")}
    with pytest.raises(caf.InvalidError, match="not a campaign value"):
        fw.validate()


def test_run_status_plan_and_lineage(toy, run_caf):
    fw = toy_campaign(toy, output_dir="run_out")
    status = fw.run(echo=False)
    assert [(c["name"], c["state"]) for c in status["calibrations"]] == [
        ("status", "completed"), ("gain", "completed"), ("hv", "completed")]
    assert status == run_caf("status", fw.output_folder, "--json", json_output=True)
    gain = status["calibrations"][1]
    assert gain["algorithms"][0]["outcome"] == "completed"
    assert any(e["committed"] for e in gain["algorithms"][0]["executions"])

    plan = fw.plan()
    assert plan["earlier_run"] is True
    assert plan == run_caf("plan", fw.campaign_file, "--json", json_output=True)
    assert all(c["done"]["state"] == "completed" for c in plan["calibrations"])

    why = fw.lineage("ExampleGains", (1, 2))
    assert why == run_caf("db", "why", os.path.join(fw.output_folder, "database"), "ExampleGains", 1, 2, "--json",
                          json_output=True)
    assert why["lineage"]["calibration"] == "gain"
    assert why["payload"]["revision"] == caf.Database(os.path.join(fw.output_folder, "database")).find(
        "ExampleGains", (1, 2)).revision
    assert [1, 2] in [r for job in why["lineage"]["collector_jobs"] for r in job["runs"]]
    with pytest.raises(caf.NotFoundError, match="NoSuchPayload"):
        fw.lineage("NoSuchPayload", (1, 2))
    with pytest.raises(caf.Error):
        CAF(output_dir="never_run", base_dir=toy).status()

    # the campaign file is an ordinary campaign: caf run on it finds everything done
    again = subprocess.run([os.environ["CAF"], "run", fw.campaign_file], capture_output=True, text=True)
    assert again.returncode == 0, again.stderr


def test_documented_example_runs(tmp_path, toy):
    """examples/python_campaign.py is printed in docs/python.md and runs as printed."""
    source = os.path.join(os.environ["CAF_SOURCE_DIR"], "examples", "python_campaign.py")
    docs = open(os.path.join(os.environ["CAF_SOURCE_DIR"], "docs", "python.md")).read()
    code = open(source).read()
    body = code[code.index("import caf"):]
    assert "```python\n" + body + "```" in docs, "docs/python.md does not show examples/python_campaign.py as it is"
    shutil.copytree(toy / "toy", tmp_path / "toy")
    p = subprocess.run([sys.executable, source], cwd=tmp_path, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    lines = p.stdout.splitlines()
    assert lines[:4] == ["status wave 0 collector jobs: [3]", "gain wave 1 collector jobs: [3]",
                         "status completed iteration 0", "gain completed iteration 0"]
    assert re.fullmatch(r"[0-9a-f]{6,} \[1, 2, 1, -1\] from gain iteration 0", lines[4])


@pytest.fixture
def conditions_server(tmp_path, caf_command):
    """`caf db serve` on loopback with an OPEN tag 'calib' holding one payload; yields its URL."""
    (tmp_path / "token").write_text("token-of-the-python-chain-test\n")
    port_file = tmp_path / "port"
    server = subprocess.Popen([caf_command, "db", "serve", str(tmp_path / "store"), "--port", "0", "--port-file",
                               str(port_file), "--token-file", str(tmp_path / "token")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            if port_file.exists() and port_file.read_text().strip():
                break
            assert server.poll() is None, "caf db serve ended"
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text().strip()}"
        subprocess.run([caf_command, "db", "tag", "create", url, "calib", "--token-file", str(tmp_path / "token")],
                       check=True, capture_output=True)
        yield url
    finally:
        server.terminate()
        server.wait()


def test_use_central_and_local_database(toy, tmp_path, conditions_server, run_caf):
    """basf2's use_local_database and use_central_database append database_chain entries, in order, which
    the validator and `caf config check` take: an existing tag passes, a missing one is a problem naming
    the tag and the server."""
    os.makedirs(tmp_path / "local")
    (tmp_path / "note.json").write_text('{"note": 1}\n')
    run_caf("db", "add", str(tmp_path / "local"), "--iov", "0,0,-1,-1", f"Note={tmp_path / 'note.json'}")
    fw = toy_campaign(toy, output_dir=str(tmp_path / "chain_out"))
    status = fw.calibrations[0]
    status.use_local_database(tmp_path / "local")
    status.use_central_database("calib", conditions_server)
    col = fw.calibrations[2].collections["mumu"]
    col.use_central_database("calib", ["http://127.0.0.1:1", conditions_server])
    assert status.to_dict()["database_chain"] == [str(tmp_path / "local"),
                                                  {"server": conditions_server, "globaltag": "calib"}]
    assert col.to_dict()["database_chain"] == [{"server": ["http://127.0.0.1:1", conditions_server],
                                                "globaltag": "calib"}]
    fw.validate()
    fw.check()
    status.keys["database_chain"][1]["globaltag"] = "calib_v2"
    with pytest.raises(caf.InvalidError) as e:
        fw.check()
    assert "calibration 'status': database_chain: global tag calib_v2 on " + conditions_server + " does not exist" \
        in str(e.value), str(e.value)
