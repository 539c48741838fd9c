"""Campaigns built in Python and run with CAF.run resume as `caf run` does, since they are the same
folder and state: a run killed (SIGKILL) while a Python algorithm executes, and a Python program
interrupted by Ctrl-C (SIGINT to its process group, which stops caf run as in a shell and raises
KeyboardInterrupt), both continue from a new CAF object without redoing what was recorded; so does a
killed `caf run` of the same campaign written as YAML."""
import os
import runpy
import shutil
import signal
import subprocess
import sys
import time

import pytest

import caf

BLOCKING = r'''
import os, time
import caf

def calibrate(ctx):
    """Runs 1.2 and 2.2 wait while the file 'block' exists beside the campaign."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "executed"), "a") as f:
        f.write(f"{ctx.runs[0]}\n")
    if any(r.run == 2 for r in ctx.runs):
        with open(os.path.join(here, "started"), "a") as f:
            f.write(f"{ctx.runs[0]}\n")
        while os.path.exists(os.path.join(here, "block")):
            time.sleep(0.05)
    ctx.save_payload("Blocked", {"runs": [list(r) for r in ctx.runs]})
    return caf.Result.OK
'''

# The campaign of that algorithm, as a module beside it so that a separate Python process can build it too.
BLOCKING_CAMPAIGN = r'''
import os
from caf.framework import CAF, Calibration

def campaign():
    cal = Calibration("slow", collector="ExampleHitCollector", input_files="toy/*.h5",
                      algorithms="python:blocking_algorithm:calibrate")
    cal.strategies = "SimpleRunByRun"
    fw = CAF(output_dir="out", base_dir=os.path.dirname(os.path.abspath(__file__)), poll_interval=0.2)
    fw.add_calibration(cal)
    return fw
'''


@pytest.fixture
def blocked(tmp_path, toy):
    """A folder with the toy files, the blocking algorithm (blocked) and its campaign; returns the
    campaign's builder."""
    shutil.copytree(toy / "toy", tmp_path / "toy")
    (tmp_path / "blocking_algorithm.py").write_text(BLOCKING)
    (tmp_path / "blocking_campaign.py").write_text(BLOCKING_CAMPAIGN)
    (tmp_path / "block").write_text("")
    return runpy.run_path(str(tmp_path / "blocking_campaign.py"))["campaign"]


def wait_for_block(tmp_path, still_running):
    deadline = time.monotonic() + 50
    while not (tmp_path / "started").exists():
        assert still_running(), "the run ended before its algorithm started"
        assert time.monotonic() < deadline, "the algorithm never started"
        time.sleep(0.05)


def test_killed_run_resumes_from_python(tmp_path, blocked):
    campaign = blocked
    run = campaign().run(wait=False, echo=False)
    wait_for_block(tmp_path, lambda: run.returncode is None)
    run.kill()
    assert run.wait() == -9
    status = campaign().status()
    assert status["calibrations"][0]["state"] == "running_algorithms"
    recorded = status["calibrations"][0]["algorithms"][0]["executions"]
    assert all(e["committed"] for e in recorded) and len(recorded) < 6
    done_before = {e["iov"] for e in recorded}

    (tmp_path / "block").unlink()
    status = campaign().run(echo=False)            # a new Python object, the same campaign: resumes
    cal = status["calibrations"][0]
    assert cal["state"] == "completed"
    executions = cal["algorithms"][0]["executions"]
    assert len(executions) == 6 and all(e["committed"] for e in executions)
    assert cal["subjobs"]["total"] == 6 and cal["subjobs"]["attempts"] == 6   # no subjob ran twice
    # the execution killed half-way ran again; the ones recorded before the kill did not
    started = (tmp_path / "started").read_text().splitlines()
    assert started[0] == "1.2" and started.count("1.2") == 2 and started.count("2.2") == 1
    executed = (tmp_path / "executed").read_text().splitlines()
    for e in executions:
        exp, run = e["iov"].split(",")[:2]
        assert executed.count(f"{exp}.{run}") == (2 if f"{exp}.{run}" == "1.2" else 1), (e, executed)
        assert e["iov"] not in done_before or f"{exp}.{run}" != "1.2"
    db = caf.Database(tmp_path / "out" / "database")
    assert sorted(str(e.iov) for e in db.entries() if e.name == "Blocked") == sorted(e["iov"] for e in executions)


def test_ctrl_c_stops_the_run_and_python_resumes_it(tmp_path, blocked):
    """Ctrl-C in a terminal (SIGINT to the foreground process group: the Python program and its caf run)
    stops caf run as in a shell; CAF.run raises KeyboardInterrupt after caf has saved and exited, and
    running the campaign again completes it."""
    program = "import blocking_campaign\nblocking_campaign.campaign().run(echo=False)\n"
    p = subprocess.Popen([sys.executable, "-c", program], cwd=tmp_path, start_new_session=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_block(tmp_path, lambda: p.poll() is None)
    os.killpg(p.pid, signal.SIGINT)
    out, err = p.communicate(timeout=50)
    assert p.returncode == -signal.SIGINT and err.rstrip().endswith("KeyboardInterrupt"), err
    status = blocked().status()
    assert status["running"] is False          # caf run has exited: its lock is free
    assert status["calibrations"][0]["state"] == "running_algorithms"

    (tmp_path / "block").unlink()
    status = blocked().run(echo=False)
    cal = status["calibrations"][0]
    assert cal["state"] == "completed" and cal["subjobs"]["attempts"] == 6
    assert len(cal["algorithms"][0]["executions"]) == 6
    assert (tmp_path / "started").read_text().splitlines().count("1.2") == 2   # the stopped one, again


def test_run_started_from_yaml_resumes_from_python(tmp_path, blocked, caf_command):
    """The same campaign written as YAML and built in Python is one campaign: a `caf run` of the YAML
    file, killed, is resumed by CAF.run on the same folder (the recorded configuration compares equal)."""
    (tmp_path / "campaign.yaml").write_text(
        "output_dir: out\npoll_interval: 0.2\ncalibrations:\n"
        "  - {name: slow, collector: ExampleHitCollector, input_files: toy/*.h5,\n"
        "     algorithms: [{python: 'blocking_algorithm:calibrate', strategy: SimpleRunByRun}]}\n")
    p = subprocess.Popen([caf_command, "run", "campaign.yaml"], cwd=tmp_path, stdin=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    wait_for_block(tmp_path, lambda: p.poll() is None)
    p.kill()
    p.wait()
    (tmp_path / "block").unlink()
    cal = blocked().run(echo=False)["calibrations"][0]
    assert cal["state"] == "completed" and cal["subjobs"]["attempts"] == 6
    assert len(cal["algorithms"][0]["executions"]) == 6
