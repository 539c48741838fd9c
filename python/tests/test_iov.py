"""caf.IoV and caf.ExpRun follow the C library's semantics (include/caf/iov.h): Belle II's -1 bounds,
adjacency across experiments, validation, union and gaps; bad input raises caf.InvalidError with caf's
message."""
import pytest

import caf
from caf import ExpRun, IoV


def test_exprun_parse_format_order():
    assert ExpRun.parse("3:7") == ExpRun(3, 7) == ExpRun.parse("3.7")
    assert str(ExpRun(3, 7)) == "3.7"
    assert sorted([ExpRun(2, 1), ExpRun(1, 9), ExpRun(1, 2)]) == [(1, 2), (1, 9), (2, 1)]
    with pytest.raises(caf.InvalidError, match="x.y"):
        ExpRun.parse("x.y")


def test_iov_parse_format_and_special_values():
    iov = IoV.parse(" 0, 0, 0, -1")
    assert iov == IoV(0, 0, 0, -1) and str(iov) == "0,0,0,-1"
    assert IoV.always().is_always() and not IoV.always().is_empty()
    assert IoV.empty().is_empty() and IoV.empty() != IoV.always()
    assert IoV.of_run((4, 2)) == IoV(4, 2, 4, 2)


def test_iov_contains_runs_and_iovs():
    exp0 = IoV(0, 0, 0, -1)
    assert (0, 123456) in exp0 and ExpRun(0, 0) in exp0 and "1.0" not in exp0
    assert IoV.always().contains(IoV(7, 1, 9, -1))
    assert exp0.contains(IoV.empty())  # the empty IoV is inside everything
    assert not IoV.empty().contains((0, 0))
    open_above = IoV(2, 5, -1, -1)
    assert (1000, 0) in open_above and (2, 4) not in open_above


def test_overlap_adjacency_intersection_across_experiments():
    assert IoV(0, 0, 0, -1).adjacent(IoV(1, 0, 1, 5))
    assert not IoV(0, 0, 0, 10).adjacent(IoV(1, 0, 1, 5))  # runs 0.11 to 0.-1 lie between
    assert IoV(0, 0, 1, 3).overlaps(IoV(1, 3, 2, 0))
    assert not IoV(0, 0, 1, 3).overlaps(IoV(1, 4, 2, 0))
    assert IoV(0, 0, 1, 3) & IoV(1, 2, 2, 0) == IoV(1, 2, 1, 3)
    assert IoV(0, 0, 0, 1).intersection(IoV(0, 5, 0, 6)).is_empty()


def test_union_and_gaps():
    assert IoV.union([IoV(1, 0, 1, 5), IoV(0, 0, 0, -1), IoV(1, 6, 1, 9), IoV.empty()]) == [IoV(0, 0, 1, 9)]
    assert caf.gaps([IoV(0, 0, 0, 10), IoV(0, 20, 0, 30)], "0,0,0,-1") == [IoV(0, 11, 0, 19), IoV(0, 31, 0, -1)]
    assert caf.gaps([], IoV(1, 0, 1, 4)) == [IoV(1, 0, 1, 4)]
    assert caf.span_of_runs(["1.7", (0, 3), ExpRun(1, 2)]) == IoV(0, 3, 1, 7)
    assert caf.span_of_runs([]).is_empty()


def test_invalid_iovs_raise_with_caf_message():
    with pytest.raises(caf.InvalidError, match=r"0,5,0,3: the low end 0,5 is after the high end 0,3") as e:
        IoV(0, 5, 0, 3)
    assert isinstance(e.value, caf.Error) and isinstance(e.value, ValueError)
    assert e.value.status == "invalid argument"
    with pytest.raises(caf.InvalidError, match="1,2,3"):
        IoV.parse("1,2,3")
    with pytest.raises(caf.InvalidError):
        IoV(-1, 4, 2, 2)  # a run bound with a -1 experiment on the same side
    with pytest.raises(TypeError):
        IoV("a", 0, 0, 0)
