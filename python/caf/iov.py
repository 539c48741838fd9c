"""Runs and intervals of validity with the C library's semantics (include/caf/iov.h): every test and set
operation is libcaf's, only the value types are Python's."""
from collections import namedtuple
from typing import Iterable, List, NamedTuple, Union

from caf import _caf


class ExpRun(NamedTuple):
    """An (experiment, run) pair, ordered by experiment, then run. str() is Belle II's "e.r"."""

    exp: int
    run: int

    @classmethod
    def parse(cls, text: str) -> "ExpRun":
        """Parses "e:r" or "e.r"; raises caf.InvalidError naming the text."""
        return cls(*_caf.exprun_parse(text))

    def __str__(self) -> str:
        return _caf.exprun_format(self.exp, self.run)


RunLike = Union[ExpRun, tuple, str]


def as_exprun(value: RunLike) -> ExpRun:
    """An ExpRun from an ExpRun, an (exp, run) tuple or an "e.r" string."""
    if isinstance(value, ExpRun):
        return value
    if isinstance(value, str):
        return ExpRun.parse(value)
    exp, run = value
    return ExpRun(int(exp), int(run))


class IoV(namedtuple("IoV", "exp_low run_low exp_high run_high")):
    """An interval of validity (exp_low, run_low, exp_high, run_high) with inclusive ends; -1 run bounds
    mean the start or end of an experiment, -1 experiment bounds an open end. IoV(0, 0, -1, -1) is
    "always", IoV(-1, -1, -1, -1) the empty IoV. Construction validates as caf does."""

    __slots__ = ()

    def __new__(cls, exp_low: int, run_low: int, exp_high: int, run_high: int) -> "IoV":
        values = _caf.iov_validate((exp_low, run_low, exp_high, run_high))
        return super().__new__(cls, *values)

    @classmethod
    def parse(cls, text: str) -> "IoV":
        """Parses "e1,r1,e2,r2"; raises caf.InvalidError naming what is wrong."""
        return cls(*_caf.iov_parse(text))

    @classmethod
    def always(cls) -> "IoV":
        return cls(0, 0, -1, -1)

    @classmethod
    def empty(cls) -> "IoV":
        return cls(-1, -1, -1, -1)

    @classmethod
    def of_run(cls, run: RunLike) -> "IoV":
        """The IoV of a single run."""
        r = as_exprun(run)
        return cls(r.exp, r.run, r.exp, r.run)

    @classmethod
    def union(cls, iovs: Iterable["IoV"]) -> List["IoV"]:
        """The sorted, disjoint, non-adjacent union of iovs (empty ones dropped)."""
        return [cls(*t) for t in _caf.iov_union([as_iov(i) for i in iovs])]

    def __str__(self) -> str:
        return _caf.iov_format(self)

    def is_empty(self) -> bool:
        return _caf.iov_is_empty(self)

    def is_always(self) -> bool:
        return _caf.iov_is_always(self)

    def contains(self, other: Union[RunLike, "IoV"]) -> bool:
        """True if the run, or every run of the IoV, is inside this one (the empty IoV is inside all)."""
        if isinstance(other, IoV):
            return _caf.iov_contains_iov(self, other)
        return _caf.iov_contains_run(self, as_exprun(other))

    def __contains__(self, other) -> bool:  # run in iov
        return self.contains(other)

    def overlaps(self, other: "IoV") -> bool:
        """True if both share at least one run."""
        return _caf.iov_overlaps(self, as_iov(other))

    def adjacent(self, other: "IoV") -> bool:
        """True if they do not overlap and nothing lies between them."""
        return _caf.iov_adjacent(self, as_iov(other))

    def intersection(self, other: "IoV") -> "IoV":
        """The runs in both (the empty IoV when they do not overlap)."""
        return IoV(*_caf.iov_intersection(self, as_iov(other)))

    def __and__(self, other: "IoV") -> "IoV":
        return self.intersection(other)


def as_iov(value) -> IoV:
    """An IoV from an IoV, a 4-tuple or an "e1,r1,e2,r2" string."""
    if isinstance(value, IoV):
        return value
    if isinstance(value, str):
        return IoV.parse(value)
    return IoV(*value)


def gaps(covered: Iterable[IoV], span) -> List[IoV]:
    """The parts of span that none of the covered IoVs cover, sorted (as `caf db gaps`)."""
    return [IoV(*t) for t in _caf.iov_gaps([as_iov(i) for i in covered], as_iov(span))]


def span_of_runs(runs: Iterable[RunLike]) -> IoV:
    """The IoV from the lowest to the highest run (empty for no runs)."""
    return IoV(*_caf.iov_span_of_runs([as_exprun(r) for r in runs]))
