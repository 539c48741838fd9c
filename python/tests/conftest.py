"""Shared fixtures of the caf Python package tests: the caf command of the build under test (CAF, set
by CTest), a runner that fails with the command's own message, and toy data made by `caf gen toy`."""
import json
import os
import subprocess

import pytest


@pytest.fixture(scope="session")
def caf_command():
    path = os.environ.get("CAF")
    if not path:
        pytest.fail("CAF (the caf command of the build under test) is not set; run through ctest")
    return path


@pytest.fixture(scope="session")
def run_caf(caf_command):
    """run_caf(*args, json_output=False, check=True) -> stdout (parsed JSON with json_output)."""

    def run(*args, json_output=False, check=True):
        p = subprocess.run([caf_command, *map(str, args)], capture_output=True, text=True)
        if check and p.returncode != 0:
            pytest.fail(f"caf {' '.join(map(str, args))} exited {p.returncode}: {p.stderr.strip()}")
        return json.loads(p.stdout) if json_output else p

    return run


@pytest.fixture(scope="module")
def toy(tmp_path_factory, run_caf):
    """A folder holding toy/ (2 experiments of 3 runs, run 3 short)."""
    w = tmp_path_factory.mktemp("toy")
    run_caf("gen", "toy", w / "toy", "--seed", 5, "--runs", 3, "--experiments", 2, "--events", 3000)
    return w
