"""caf.CollectorOutput on the outputs of real collector jobs over toy data (`caf gen toy`, `caf process`
with the example collectors): per-run and merged objects equal what the toy's event files hold (read
with h5py) and what `caf collector inspect` prints; histograms, ntuples and counters come out as numpy
arrays and numbers; merging over runs and over files agrees with `caf collector merge`; bad files and
names raise caf.Error subclasses with caf's message."""
import glob
import os

import numpy as np
import pytest

import caf
from caf import CollectorOutput, ExpRun

RUNS = [ExpRun(1, 1), ExpRun(1, 2), ExpRun(1, 3), ExpRun(2, 1)]


@pytest.fixture(scope="session")
def toy(tmp_path_factory, run_caf):
    """Toy event files of 4 runs (2 files each) and the collector outputs made from them: hits.sqlite
    (ExampleHitCollector over every file), part0/part1 (the same over each half of the files, then
    merged.sqlite by `caf collector merge`), time.sqlite (ExampleTimeCollector: an ntuple) and
    all.sqlite (granularity all)."""
    w = tmp_path_factory.mktemp("toy")
    run_caf("gen", "toy", w / "toy", "--seed", 11, "--events", 150, "--runs", 3, "--experiments", 2,
            "--files-per-run", 2)
    files = sorted(f for f in glob.glob(str(w / "toy" / "*.h5")) if "_e0002_r00002" not in f
                   and "_e0002_r00003" not in f)

    def collect(out, module, inputs, extra=""):
        yaml = w / f"{os.path.basename(out)}.yaml"
        yaml.write_text(f'- module: {module}\n  params: {{outputFileName: "{out}"{extra}}}\n')
        run_caf("-q", "process", yaml, "-i", *inputs, "--seed", 3)
        return str(out)

    paths = {
        "hits": collect(w / "hits.sqlite", "ExampleHitCollector", files),
        "part0": collect(w / "part0.sqlite", "ExampleHitCollector", files[0::2]),
        "part1": collect(w / "part1.sqlite", "ExampleHitCollector", files[1::2]),
        "time": collect(w / "time.sqlite", "ExampleTimeCollector", files),
        "all": collect(w / "all.sqlite", "ExampleHitCollector", files, ", granularity: all"),
        "files": files,
        "dir": w,
    }
    run_caf("collector", "merge", w / "merged.sqlite", paths["part0"], paths["part1"])
    paths["merged"] = str(w / "merged.sqlite")
    return paths


def channels_per_run(files):
    """The hit channels of every run, straight from the event files."""
    import h5py

    per_run = {}
    for path in files:
        with h5py.File(path, "r") as f:
            exp, run = f["events/exp"][:], f["events/run"][:]
            offsets, channel = f["events/arrays/hits/offsets"][:], f["events/arrays/hits/channel"][:]
            for i in range(len(exp)):
                per_run.setdefault(ExpRun(int(exp[i]), int(run[i])), []).append(channel[offsets[i]:offsets[i + 1]])
    return {r: np.concatenate(parts) for r, parts in per_run.items()}


def test_file_description_matches_inspect(toy, run_caf):
    out = CollectorOutput(toy["hits"])
    summary = run_caf("collector", "inspect", toy["hits"], "--json", json_output=True)
    assert out.collector == summary["collector"] == "ExampleHitCollector"
    assert out.module == summary["module"] and out.granularity == "run"
    assert out.runs == RUNS == [ExpRun(*r) for r in summary["runs"]]
    assert out.parameters == summary["parameters"]
    assert out.objects == {o["name"]: o["type"] for o in summary["objects"]}
    assert out.keys("hits") == RUNS


def test_hist1d_per_run_equals_event_files_and_inspect(toy, run_caf):
    truth = channels_per_run(toy["files"])
    with CollectorOutput(toy["hits"]) as out:
        for run in RUNS:
            h = out.read("hits", run)
            assert isinstance(h, caf.Hist1D) and h.contents.dtype == np.float64
            want = np.bincount(truth[run], minlength=h.nbins)
            np.testing.assert_array_equal(h.contents, want)
            np.testing.assert_array_equal(h.errors, np.sqrt(want))  # unit weights
            assert h.edges.shape == (h.nbins + 1,) and h.edges[0] == h.low and h.edges[-1] == h.high
            assert h.entries == len(truth[run])
            c = run_caf("collector", "inspect", toy["hits"], "--object", "hits", "--run", f"{run.exp}:{run.run}",
                        "--json", json_output=True)
            np.testing.assert_array_equal(h.all_contents, c["sumw"])
            np.testing.assert_array_equal(h.all_sumw2, c["sumw2"])
            assert h.underflow == c["sumw"][0] and h.overflow == c["sumw"][-1]


def test_merge_over_runs_and_files(toy, run_caf):
    out = CollectorOutput(toy["hits"])
    total = out.merge("hits")
    np.testing.assert_array_equal(total.all_contents, sum(out.read("hits", r).all_contents for r in RUNS))
    assert total.entries == sum(out.read("hits", r).entries for r in RUNS)
    assert out["hits"].entries == total.entries
    some = out.merge("hits", ["1.2", (2, 1), (9, 9)])  # runs without data are skipped
    np.testing.assert_array_equal(some.contents, out.read("hits", (1, 2)).contents + out.read("hits", (2, 1)).contents)
    # two jobs' files merged in Python == merged by `caf collector merge` == one job over every file
    two = caf.merge_files([toy["part0"], toy["part1"]], "amplitude")
    one = out.merge("amplitude")
    by_command = CollectorOutput(toy["merged"]).merge("amplitude")
    assert isinstance(two, caf.Hist2D) and two.contents.shape == (two.nx, two.ny)
    np.testing.assert_array_equal(two.all_contents, one.all_contents)
    np.testing.assert_array_equal(by_command.all_sumw2, one.all_sumw2)
    assert two.xedges.shape == (two.nx + 1,) and two.yedges.shape == (two.ny + 1,)
    # x is the channel: summed over every amplitude bin, each channel's hits
    np.testing.assert_array_equal(one.all_contents.sum(axis=1)[1:-1], total.contents)
    c = run_caf("collector", "inspect", toy["hits"], "--object", "amplitude", "--json", json_output=True)
    # inspect lists bins as ROOT numbers them (x fastest); the arrays here are indexed [x, y] as numpy.histogram2d
    np.testing.assert_array_equal(one.all_contents.T.ravel(), c["sumw"])
    run11 = caf.merge_files([toy["part0"], toy["part1"]], "amplitude", [(1, 1)])
    np.testing.assert_array_equal(run11.all_contents, out.read("amplitude", (1, 1)).all_contents)


def test_counter_is_a_number(toy, run_caf):
    out = CollectorOutput(toy["hits"])
    for run in RUNS:
        events = out.read("events", run)
        c = run_caf("collector", "inspect", toy["hits"], "--object", "events", "--run", f"{run.exp}:{run.run}",
                    "--json", json_output=True)
        assert isinstance(events, caf.Counter) and events == c["count"] and events.sum == c["sum"]
    assert out.merge("events") + 0 == sum(int(out.read("events", r)) for r in RUNS)


def test_ntuple_is_a_structured_array(toy, run_caf):
    out = CollectorOutput(toy["time"])
    table = out.read("hits", (1, 1))
    assert table.dtype.names == ("channel", "amplitude", "time")
    assert table.dtype["channel"] == np.int32 and table.dtype["time"] == np.float32
    c = run_caf("collector", "inspect", toy["time"], "--object", "hits", "--run", "1:1", "--rows", 0, "--json",
                json_output=True)
    assert len(table) == len(c["data"])
    np.testing.assert_array_equal(table["channel"], [row[0] for row in c["data"]])
    np.testing.assert_array_equal(table["amplitude"], np.array([row[1] for row in c["data"]], dtype=np.float32))
    merged = out.merge("hits")
    assert len(merged) == sum(len(out.read("hits", r)) for r in RUNS)


def test_granularity_all(toy):
    out = CollectorOutput(toy["all"])
    assert out.granularity == "all" and out.runs == RUNS
    assert out.keys("hits") == [ExpRun(-1, -1)]
    np.testing.assert_array_equal(out.read("hits", (-1, -1)).contents, CollectorOutput(toy["hits"]).merge("hits").contents)
    assert out.merge("hits", [(1, 3)]).entries == out.merge("hits").entries


def test_bad_files_and_names(toy, tmp_path):
    with pytest.raises(caf.NotFoundError, match="nowhere.sqlite"):
        CollectorOutput(tmp_path / "nowhere.sqlite")
    not_output = tmp_path / "plain.sqlite"
    import sqlite3

    sqlite3.connect(not_output).execute("CREATE TABLE t(x)").connection.commit()
    with pytest.raises(caf.FormatError, match="plain.sqlite"):
        CollectorOutput(not_output)
    out = CollectorOutput(toy["hits"])
    with pytest.raises(caf.NotFoundError, match="nosuch"):
        out.read("nosuch", (1, 1))
    with pytest.raises(caf.NotFoundError, match="hits"):
        out.read("hits", (7, 7))
    with pytest.raises(caf.NotFoundError, match="no data for object 'hits'.* 0 runs"):
        out.merge("hits", [])
    with pytest.raises(caf.Error, match="ExampleTimeCollector|collector"):
        caf.merge_files([toy["hits"], toy["time"]], "events")
    out.close()
    with pytest.raises(ValueError, match="closed"):
        out.keys("hits")
