"""Collector outputs (include/caf/collector_output.h, docs/collector-format.md): the collected objects per
run or merged over runs and files. libcaf reads and merges; this module turns the results into numpy
arrays (histogram and profile bins, ntuples as structured arrays) and numbers (counters)."""
import json
import os
from typing import Dict, Iterable, List, Optional

from caf import _caf
from caf.iov import ExpRun, RunLike, as_exprun


def _np():
    import numpy  # imported on first use, so that IoVs and databases work without numpy

    return numpy


def _doubles(raw: bytes, shape=None):
    a = _np().frombuffer(raw, dtype=_np().float64)
    return a.reshape(shape) if shape else a


class Hist1D:
    """A 1-D histogram. contents, sumw2, errors: the regular bins (numpy float64, length nbins);
    edges: nbins+1 bin edges; underflow, overflow: the flow bins; all_contents/all_sumw2: with flow
    bins (index 0 underflow, nbins+1 overflow, as ROOT numbers them)."""

    kind = "hist1d"

    def __init__(self, raw: dict):
        self.title: str = raw["title"]
        self.nbins: int = raw["nbins"]
        self.low: float = raw["low"]
        self.high: float = raw["high"]
        self.entries: int = raw["entries"]
        self.mean: float = raw["mean"]
        self.stddev: float = raw["stddev"]
        self.all_contents = _doubles(raw["contents"])
        self.all_sumw2 = _doubles(raw["sumw2"])

    @property
    def contents(self):
        return self.all_contents[1:-1]

    @property
    def sumw2(self):
        return self.all_sumw2[1:-1]

    @property
    def errors(self):
        return _np().sqrt(self.sumw2)

    @property
    def edges(self):
        return _np().linspace(self.low, self.high, self.nbins + 1)

    @property
    def centers(self):
        e = self.edges
        return 0.5 * (e[:-1] + e[1:])

    @property
    def underflow(self) -> float:
        return float(self.all_contents[0])

    @property
    def overflow(self) -> float:
        return float(self.all_contents[-1])

    def integral(self) -> float:
        """Sum of weights in the regular bins."""
        return float(self.contents.sum())

    def __repr__(self) -> str:
        return f"caf.Hist1D({self.title!r}, {self.nbins} bins [{self.low}, {self.high}), {self.entries} entries)"


class Hist2D:
    """A 2-D histogram: contents, sumw2, errors of shape (nx, ny) (x first); xedges, yedges;
    all_contents/all_sumw2 of shape (nx+2, ny+2) with each axis' flow bins."""

    kind = "hist2d"

    def __init__(self, raw: dict):
        self.title: str = raw["title"]
        self.nx, self.ny = raw["nx"], raw["ny"]
        self.xlow, self.xhigh = raw["xlow"], raw["xhigh"]
        self.ylow, self.yhigh = raw["ylow"], raw["yhigh"]
        self.entries: int = raw["entries"]
        shape = (self.nx + 2, self.ny + 2)
        self.all_contents = _doubles(raw["contents"], shape)
        self.all_sumw2 = _doubles(raw["sumw2"], shape)

    @property
    def contents(self):
        return self.all_contents[1:-1, 1:-1]

    @property
    def sumw2(self):
        return self.all_sumw2[1:-1, 1:-1]

    @property
    def errors(self):
        return _np().sqrt(self.sumw2)

    @property
    def xedges(self):
        return _np().linspace(self.xlow, self.xhigh, self.nx + 1)

    @property
    def yedges(self):
        return _np().linspace(self.ylow, self.yhigh, self.ny + 1)

    def __repr__(self) -> str:
        return f"caf.Hist2D({self.title!r}, {self.nx}x{self.ny} bins, {self.entries} entries)"


class Profile:
    """A profile (mean of y per x bin): mean, errors (error of the mean), sumw of the regular bins;
    edges; all_mean/all_errors/all_sumw with the flow bins."""

    kind = "profile"

    def __init__(self, raw: dict):
        self.title: str = raw["title"]
        self.nbins: int = raw["nbins"]
        self.low: float = raw["low"]
        self.high: float = raw["high"]
        self.entries: int = raw["entries"]
        self.all_mean = _doubles(raw["mean"])
        self.all_errors = _doubles(raw["errors"])
        self.all_sumw = _doubles(raw["sumw"])

    @property
    def mean(self):
        return self.all_mean[1:-1]

    @property
    def errors(self):
        return self.all_errors[1:-1]

    @property
    def sumw(self):
        return self.all_sumw[1:-1]

    @property
    def edges(self):
        return _np().linspace(self.low, self.high, self.nbins + 1)

    def __repr__(self) -> str:
        return f"caf.Profile({self.title!r}, {self.nbins} bins [{self.low}, {self.high}), {self.entries} entries)"


class Counter(int):
    """A counter: the int is its count; sum is its sum of weights."""

    kind = "counter"

    def __new__(cls, raw: dict):
        c = super().__new__(cls, raw["count"])
        c.sum = raw["sum"]
        c.title = raw["title"]
        return c

    @property
    def count(self) -> int:
        return int(self)

    def __repr__(self) -> str:
        return f"caf.Counter({self.title!r}, count={int(self)}, sum={self.sum})"


class UserObject:
    """A user object: its registered type name and its bytes (merged by libcaf when the type is
    registered in this process, which a Python session does not do: read such objects per run)."""

    kind = "user"

    def __init__(self, raw: dict):
        self.type_name: str = raw["type"]
        self.title: str = raw["title"]
        self.data: bytes = raw["data"]

    def __repr__(self) -> str:
        return f"caf.UserObject({self.type_name!r}, {self.title!r}, {len(self.data)} bytes)"


def _ntuple(raw: dict):
    """An ntuple as a numpy structured array, one field per column in the column's own type."""
    np = _np()
    dtype = np.dtype([(name, np.dtype(type_name)) for name, type_name, _ in raw["columns"]])
    table = np.empty(raw["rows"], dtype=dtype)
    for name, type_name, data in raw["columns"]:
        table[name] = np.frombuffer(data, dtype=np.dtype(type_name))
    return table


_KINDS = {"hist1d": Hist1D, "hist2d": Hist2D, "profile": Profile, "counter": Counter, "user": UserObject,
          "ntuple": _ntuple}


def _object(raw: dict):
    return _KINDS[raw["kind"]](raw)


def _runs(runs: Optional[Iterable[RunLike]]):
    return None if runs is None else [as_exprun(r) for r in runs]


class CollectorOutput:
    """One collector output file (SQLite, written by a collector job or `caf collector merge`).

    read(name, run) gives an object at one run; merge(name, runs=None) the object merged over the given
    runs (every run of the file by default). Histograms and profiles come out as Hist1D/Hist2D/Profile
    with numpy arrays, ntuples as numpy structured arrays, counters as Counter (an int)."""

    def __init__(self, path):
        self._file = _caf.CollectorOutput(os.fspath(path))
        info = self._file.info()
        self.path: str = info["path"]
        self.collector: str = info["collector"]
        self.module: str = info["module"]
        self.granularity: str = info["granularity"]
        self.parameters: dict = json.loads(info["parameters"])
        self.runs: List[ExpRun] = [ExpRun(*r) for r in info["runs"]]

    def __enter__(self) -> "CollectorOutput":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"caf.CollectorOutput({self.path!r}, collector={self.collector!r}, {len(self.runs)} runs)"

    def close(self) -> None:
        self._file.close()

    @property
    def objects(self) -> Dict[str, str]:
        """Every registered object's name and type name ("hist1d", ..., or a user type)."""
        return {name: type_name for name, type_name, _ in self._file.objects()}

    def keys(self, name: str) -> List[ExpRun]:
        """The runs holding data of object name ((-1, -1) only, for granularity "all")."""
        return [ExpRun(*k) for k in self._file.keys(name)]

    def read(self, name: str, run: RunLike):
        """Object name at one key (all its pieces merged)."""
        return _object(self._file.read(name, as_exprun(run)))

    def merge(self, name: str, runs: Optional[Iterable[RunLike]] = None):
        """Object name merged over runs (None: every key of the file); runs without data are skipped,
        caf.NotFoundError when none has any."""
        return _object(self._file.merge(name, _runs(runs)))

    def __getitem__(self, name: str):
        return self.merge(name)


def merge_files(paths: Iterable, name: str, runs: Optional[Iterable[RunLike]] = None):
    """Object name merged over several collector outputs of one collector (e.g. every job's output of a
    collection) and over runs (None: all)."""
    return _object(_caf.merge_files([os.fspath(p) for p in paths], name, _runs(runs)))
