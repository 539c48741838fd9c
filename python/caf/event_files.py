"""Event file metadata and the file index (include/caf/event_file.h, include/caf/file_index.h): which
runs and how many events each file holds, read by libcaf without touching the events (as `caf file info`
and `caf file index` do). The events themselves are plain HDF5: read them with h5py
(docs/event-format.md)."""
import json
import os
from typing import Dict, Iterable, List, NamedTuple, Optional

from caf import _caf
from caf.iov import ExpRun, IoV, RunLike, as_exprun


def _run_events(runs) -> Dict[ExpRun, int]:
    return {ExpRun(r["exp"], r["run"]): r["events"] for r in runs}


class EventFileMetadata:
    """What an event file says about itself: format_version, creator, creator_version, random_seed,
    n_events, experiments, runs ({ExpRun: events}), low/high (ExpRun, None for an empty file), parents;
    iov is the IoV from low to high."""

    def __init__(self, path, raw: dict):
        self.path: str = path
        self.format_version: int = raw["format_version"]
        self.creator: str = raw["creator"]
        self.creator_version: str = raw["creator_version"]
        self.random_seed: int = raw["random_seed"]
        self.n_events: int = raw["n_events"]
        self.experiments: List[int] = list(raw["experiments"])
        self.runs: Dict[ExpRun, int] = _run_events(raw["runs"])
        low, high = ExpRun(raw["low"]["exp"], raw["low"]["run"]), ExpRun(raw["high"]["exp"], raw["high"]["run"])
        self.low: Optional[ExpRun] = None if low == (-1, -1) else low
        self.high: Optional[ExpRun] = None if high == (-1, -1) else high
        self.parents: List[str] = list(raw["parents"])

    @property
    def iov(self) -> IoV:
        if self.low is None:
            return IoV.empty()
        return IoV(self.low.exp, self.low.run, self.high.exp, self.high.run)

    def __repr__(self) -> str:
        return f"caf.EventFileMetadata({self.path!r}, {self.n_events} events, {len(self.runs)} runs)"


def event_file_metadata(path) -> EventFileMetadata:
    """Reads an event file's metadata without reading events; caf.FormatError naming the file and item
    for a file that is not a caf event file."""
    path = os.fspath(path)
    return EventFileMetadata(path, json.loads(_caf.event_file_metadata(path)))


class IndexedFile(NamedTuple):
    """One file of a FileIndex: absolute path, size, mtime (ns), events, {ExpRun: events}, and whether
    its entry came from the cache without opening the file."""

    path: str
    size: int
    mtime_ns: int
    n_events: int
    runs: Dict[ExpRun, int]
    from_cache: bool


class RunFiles(NamedTuple):
    """The files of one run and its events summed over them."""

    events: int
    files: List[str]


class FileIndex:
    """The runs of a set of event files and folders (folders: every *.h5/*.hdf5 below, sorted), as the
    orchestrator sees them. cache: an SQLite cache path (files whose path, size and mtime match are not
    opened); exclude: a POSIX extended regular expression of paths to skip. A file that cannot be read
    is listed in bad (one line each) instead of failing the index."""

    def __init__(self, paths: Iterable, cache=None, exclude: Optional[str] = None):
        text, self.bad = _caf.file_index([os.fspath(p) for p in paths], None if cache is None else os.fspath(cache),
                                         exclude)
        raw = json.loads(text)
        self.files: List[IndexedFile] = [
            IndexedFile(f["path"], f["size"], f["mtime_ns"], f["n_events"], _run_events(f["runs"]), f["from_cache"])
            for f in raw["files"]]
        self.runs: Dict[ExpRun, RunFiles] = {ExpRun(r["exp"], r["run"]): RunFiles(r["events"], list(r["files"]))
                                             for r in raw["runs"]}
        self.stats: Dict[str, int] = raw["stats"]

    def files_for(self, runs: Iterable[RunLike]) -> List[str]:
        """The files holding any of runs, in index order, each once."""
        wanted = {as_exprun(r) for r in runs}
        return [f.path for f in self.files if wanted.intersection(f.runs)]

    def __repr__(self) -> str:
        return f"caf.FileIndex({len(self.files)} files, {len(self.runs)} runs, {len(self.bad)} bad)"
