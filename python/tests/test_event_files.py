"""caf.event_file_metadata and caf.FileIndex on real toy event files: the same runs, events and files
as `caf file info/index --json` and as the files' own datasets read with h5py; the cache is used on a
second index; an unreadable file is listed as bad with caf's message, not raised; a file that is not an
event file raises caf.FormatError naming it."""
import glob

import numpy as np
import pytest

import caf
from caf import ExpRun


@pytest.fixture(scope="module")
def toy(tmp_path_factory, run_caf):
    w = tmp_path_factory.mktemp("events")
    run_caf("gen", "toy", w / "toy", "--seed", 5, "--events", 80, "--runs", 2, "--experiments", 2,
            "--files-per-run", 2)
    return w


def test_metadata_matches_command_and_h5py(toy, run_caf):
    import h5py

    for path in sorted(glob.glob(str(toy / "toy" / "*.h5"))):
        meta = caf.event_file_metadata(path)
        info = run_caf("file", "info", path, "--json", json_output=True)
        info = info[0] if isinstance(info, list) else info
        assert meta.n_events == info["n_events"] and meta.creator == info["creator"]
        assert meta.runs == {ExpRun(r["exp"], r["run"]): r["events"] for r in info["runs"]}
        with h5py.File(path, "r") as f:
            pairs = list(zip(f["events/exp"][:].tolist(), f["events/run"][:].tolist()))
        assert meta.n_events == len(pairs)
        assert meta.runs == {ExpRun(*p): pairs.count(p) for p in set(pairs)}
        assert meta.low == min(meta.runs) and meta.high == max(meta.runs)
        assert all(r in meta.iov for r in meta.runs)


def test_file_index_matches_command_and_uses_cache(toy, run_caf, tmp_path):
    cache = tmp_path / "index.sqlite"
    index = caf.FileIndex([toy / "toy"], cache=cache)
    assert index.bad == [] and index.stats["files_opened"] == len(index.files) == 8
    cmd = run_caf("file", "index", toy / "toy", "--json", json_output=True)
    assert [f.path for f in index.files] == [f["path"] for f in cmd["files"]]
    assert {r: (v.events, v.files) for r, v in index.runs.items()} == {
        ExpRun(r["exp"], r["run"]): (r["events"], r["files"]) for r in cmd["runs"]}
    assert sum(f.n_events for f in index.files) == sum(v.events for v in index.runs.values())
    again = caf.FileIndex([toy / "toy"], cache=cache)
    assert all(f.from_cache for f in again.files) and again.stats["cache_hits"] == 8
    assert again.files_for(["1.2"]) == index.runs[ExpRun(1, 2)].files
    only_f00 = caf.FileIndex([toy / "toy"], exclude="_f01")
    assert len(only_f00.files) == 4 and only_f00.stats["excluded"] == 4
    with pytest.raises(caf.InvalidError):
        caf.FileIndex([toy / "toy"], exclude="(")


def test_bad_files(toy, tmp_path):
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(caf.FormatError, match="junk.h5"):
        caf.event_file_metadata(junk)
    good = sorted(glob.glob(str(toy / "toy" / "*.h5")))[0]
    index = caf.FileIndex([good, junk, tmp_path / "missing.h5"])
    assert [f.path for f in index.files] == [good]
    assert len(index.bad) == 2 and any("junk.h5" in b for b in index.bad) and any("missing.h5" in b for b in index.bad)
    np.testing.assert_equal(len(index.runs), len(caf.event_file_metadata(good).runs))
