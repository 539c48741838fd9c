"""The execution child of an algorithm written in Python (include/caf/python_algorithm.h).

    python3 -m caf._algorithm_runner --spec-fd N --result-fd M   # started by caf's algorithm runner
    python3 -m caf._algorithm_runner --probe MODULE:FUNCTION     # caf config check: describe, as JSON
    python3 -m caf._algorithm_runner --zygote SOCKET PARENT MODULE:FUNCTION   # started by the runner

The runner forked this process, set its limits, process group and log, and exec'd the interpreter; the
spec (what to run) comes on descriptor N, the result goes back on M in the runner's protocol, written by
libcaf itself (caf._algorithm.run_algorithm).

As a zygote (include/caf/algorithm_zygote.h) the interpreter imports the runner, numpy and the user's
module once, then libcaf forks one child per execution from it (caf._algorithm.zygote_serve): each child
is set up as the runner's own child and runs the execution as --spec-fd does."""
import json
import os
import sys


def _probe(target: str) -> int:
    from caf import algorithm

    entry = {"name": target, "hooks": []}
    try:
        entry["hooks"] = sorted(algorithm.load(target), key=algorithm.HOOKS.index)
    except algorithm.SetupError as e:
        entry["error"] = str(e)
    sys.stdout.write(json.dumps([entry]) + "\n")
    return 0


def _run(spec_fd: int, result_fd: int) -> int:
    with os.fdopen(spec_fd, "rb") as f:
        text = f.read()
    return _run_text(text, result_fd)


def _run_text(text, result_fd: int) -> int:
    from caf import _algorithm, algorithm

    spec = json.loads(text)
    target = spec.get("algorithm") or ""
    try:
        hooks = algorithm.load(target)
    except algorithm.SetupError as e:
        return 0 if _algorithm.send_setup_error(result_fd, f"python:{target}", str(e)) else 1
    collector = spec.get("collector") or next((c for c in spec.get("input_collectors") or [] if c), None)
    if not collector and spec.get("inputs"):
        from caf.collected import CollectorOutput

        try:
            collector = CollectorOutput(spec["inputs"][0]).collector
        except Exception:
            collector = None  # the run below names the file
    adapters = algorithm.adapters(target, hooks, algorithm.params_of(spec))
    sent = _algorithm.run_algorithm(text, result_fd, target, collector or "?", adapters)
    return 0 if sent else 1


def _zygote_child(text: str, result_fd: int) -> int:
    try:
        code = _run_text(text, result_fd)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def _zygote(sock: int, parent: int, target: str) -> int:
    from caf import _algorithm, algorithm

    try:
        algorithm.load(target)  # the module (and what it imports, numpy) in every child's copy
        import numpy  # noqa: F401  (the package's object classes view collected objects with it)
    except Exception:
        pass  # each execution reports the problem itself
    # What is imported stays out of the collector's reach: a collection in a child would touch (and so copy)
    # every page of the zygote's objects.
    import gc

    gc.freeze()
    return _algorithm.zygote_serve(sock, parent, _zygote_child)


def main(argv) -> int:
    if len(argv) == 5 and argv[1] == "--zygote":
        return _zygote(int(argv[2]), int(argv[3]), argv[4])
    if len(argv) == 3 and argv[1] == "--probe":
        return _probe(argv[2])
    if len(argv) == 5 and argv[1] == "--spec-fd" and argv[3] == "--result-fd":
        return _run(int(argv[2]), int(argv[4]))
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    code = main(sys.argv)
    sys.stdout.flush()
    sys.stderr.flush()
    # The result is sent: skip the interpreter's teardown (modules, numpy), which only costs time.
    os._exit(code)
