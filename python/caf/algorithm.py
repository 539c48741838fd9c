"""Algorithms written in Python (docs/python.md, "An algorithm in Python").

A campaign's algorithm entry `python: my_algorithms.gain:calibrate` names a function (or a class) in a
module. caf runs it in the same isolated execution process as a C algorithm (time and memory limits,
log, JSON state, commit of its payloads by caf), through libcaf's own execution code:

    import caf

    def calibrate(ctx: caf.AlgorithmContext):
        h = ctx.get_object("amplitude")           # merged over the requested runs, numpy inside
        if h.entries < ctx.params.get("min_entries", 100):
            return caf.Result.NOT_ENOUGH_DATA, "too few entries"
        ctx.save_payload("MyConstants", {"gain": 1.02})   # a dict: committed as a JSON payload
        return caf.Result.OK

A class instead of a function may add basf2's other hooks as methods: calibrate(ctx) (required),
pre_algorithm(ctx, iteration), setup_experiment(ctx, exp), and for SequentialBoundaries
boundary_setup(ctx, runs), is_boundary_required(ctx, run) -> bool, boundary_teardown(ctx). One instance
lives for one execution's process.
"""
from __future__ import annotations  # the annotations stay strings: typing is not imported

import enum
import json
import sys

# Only the small extension module: caf._caf and the rest of the package are imported when a context
# method needs them (the start of every execution's interpreter pays for what is imported here).
from caf import _algorithm  # noqa: F401  (loaded before the package's other modules; python/src/algorithm_module.c)


def _print_traceback():
    import traceback  # only on failure: it imports linecache and tokenize

    traceback.print_exc(file=sys.stderr)


def _iov():
    import caf.iov

    return caf.iov


class Result(enum.IntEnum):
    """What calibrate returns (Belle II's values)."""

    OK = 0
    ITERATE = 1
    NOT_ENOUGH_DATA = 2
    FAILURE = 3


HOOKS = ("calibrate", "pre_algorithm", "setup_experiment", "boundary_setup", "is_boundary_required",
         "boundary_teardown")
# How many arguments after the context each hook is called with.
_HOOK_ARGS = {"calibrate": 0, "pre_algorithm": 1, "setup_experiment": 1, "boundary_setup": 1,
              "is_boundary_required": 1, "boundary_teardown": 0}


class SetupError(Exception):
    """The algorithm cannot be used: its module does not import, the function is missing, not callable or
    takes the wrong arguments. str() names the algorithm and the problem."""


def _json_default(value):
    # numpy arrays and scalars become lists and numbers; anything else is not serialisable.
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and type(value).__module__ == "numpy":
        return tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _to_json(value, what: str) -> str:
    try:
        return json.dumps(value, allow_nan=False, default=_json_default)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} is not JSON-serialisable: {e}") from None


def _param_value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text  # a bare YAML word from `caf algo run --param name=word`


class AlgorithmContext:
    """What one hook of an algorithm written in Python sees; valid only during that call.

    runs: the requested runs (ExpRun, sorted); iteration; iov: the default payload IoV; granularity;
    params: the entry's parameters (a dict); input_files; input_state: the previous execution's state
    (a dict); output_state: the state for the next execution (a dict to fill)."""

    def __init__(self, raw, params: Dict[str, Any], output_state: Dict[str, Any]):
        self._raw = raw
        info = raw.info()
        self.name: str = info["name"]
        self.iteration: int = info["iteration"]
        self._iov_tuple = info["iov"]
        self.granularity: str = info["granularity"]
        self.input_files: List[str] = info["inputs"]
        self.input_collections: List[Optional[str]] = info["collections"]
        self.params = params
        self.output_state = output_state
        self._input_state = None

    @property
    def iov(self):
        return _iov().IoV(*self._iov_tuple)

    @property
    def runs(self) -> List[ExpRun]:
        return [_iov().ExpRun(*r) for r in self._raw.runs()]

    @property
    def input_state(self) -> Dict[str, Any]:
        if self._input_state is None:
            self._input_state = json.loads(self._raw.input_state())
        return self._input_state

    def get_object(self, name: str, runs: Optional[List[RunLike]] = None, collection: Optional[str] = None):
        """The collected object name merged over the requested runs (or the given ones) and every input
        (or one collection's): Hist1D, Hist2D, Profile with numpy arrays, an ntuple as a numpy structured
        array, a Counter. caf.NotFoundError lists the objects there are."""
        from caf.collected import _object

        runs_arg = None if runs is None else [tuple(_iov().as_exprun(r)) for r in runs]
        return _object(self._raw.get_object(name, runs_arg, collection))

    def save_payload(self, name: str, payload: Dict[str, Any], iov=None) -> None:
        """Saves a dict as the JSON payload name (canonical JSON, as C algorithms' constants), valid for
        iov (default: the execution's IoV). numpy arrays and numbers are converted; anything else JSON
        cannot hold (a set, an object, NaN) raises TypeError naming the payload."""
        if not isinstance(payload, dict):
            raise TypeError(f"payload '{name}' is a {type(payload).__name__}, not a dict")
        self._raw.save_json(name, _to_json(payload, f"payload '{name}'"), None if iov is None else tuple(iov))

    def save_bytes(self, name: str, ext: str, data: bytes, iov=None) -> None:
        """Saves data as the payload name in format ext (its file extension)."""
        self._raw.save_bytes(name, ext, bytes(data), None if iov is None else tuple(iov))

    def read_payload(self, name: str, run: RunLike) -> bytes:
        """The bytes of the payload name valid at run in the database chain (caf.NotFoundError if none)."""
        return self._raw.read_payload(name, tuple(_iov().as_exprun(run)))[0]

    def read_json(self, name: str, run: RunLike) -> Dict[str, Any]:
        """A JSON payload of the chain valid at run, as a dict."""
        return json.loads(self.read_payload(name, run))

    def add_boundary(self, run: RunLike) -> None:
        """Marks run as a payload boundary (boundary_setup or is_boundary_required)."""
        self._raw.add_boundary(tuple(_iov().as_exprun(run)))

    def side_files(self, collection: Optional[str] = None) -> List[Dict[str, Any]]:
        """The collector jobs holding a requested run with the files they kept (output_patterns)."""
        return self._raw.side_files(collection)


def _signature(fn) -> str:
    code = getattr(fn, "__code__", None)
    if code is None:
        return getattr(fn, "__name__", repr(fn)) + "(...)"
    names = list(code.co_varnames[:code.co_argcount + code.co_kwonlyargcount])
    if code.co_flags & 0x04:
        names.append("*" + code.co_varnames[code.co_argcount + code.co_kwonlyargcount])
    return f"{fn.__name__}({', '.join(names)})"


def _accepts(fn, count: int) -> bool:
    """Whether fn can be called with count positional arguments (without importing inspect, which
    costs a Python algorithm's start more than the rest of this module)."""
    code = getattr(fn, "__code__", None)
    if code is None:  # a builtin or a callable object: let the call tell
        call = getattr(type(fn), "__call__", None)
        if call is None or not hasattr(call, "__code__") or isinstance(fn, type):
            return True
        code, count = call.__code__, count + 1
        defaults = call.__defaults__ or ()
        kwdefaults = call.__kwdefaults__ or {}
    else:
        defaults = fn.__defaults__ or ()
        kwdefaults = fn.__kwdefaults__ or {}
        if getattr(fn, "__self__", None) is not None:  # a bound method: self is given
            count += 1
    required = code.co_argcount - len(defaults)
    varargs = bool(code.co_flags & 0x04)
    kwonly = code.co_varnames[code.co_argcount:code.co_argcount + code.co_kwonlyargcount]
    return required <= count and (count <= code.co_argcount or varargs) and all(k in kwdefaults for k in kwonly)


def load(target: str) -> Dict[str, Callable]:
    """Imports MODULE:FUNCTION and returns its hooks {name: callable}; raises SetupError naming the
    algorithm and the problem."""
    name = f"python:{target}"
    module_name, sep, attr = target.rpartition(":")
    if not sep or not module_name or not attr:
        raise SetupError(f"algorithm {name}: not MODULE:FUNCTION")
    import importlib

    try:
        module = importlib.import_module(module_name)
    except BaseException as e:  # the module's own code may raise anything
        _print_traceback()
        raise SetupError(f"algorithm {name}: module '{module_name}' cannot be imported: "
                         f"{type(e).__name__}: {e}") from None
    obj = getattr(module, attr, None)
    if obj is None:
        raise SetupError(f"algorithm {name}: module '{module_name}' ({getattr(module, '__file__', '?')}) has no "
                         f"function '{attr}'")
    if isinstance(obj, type):
        try:
            instance = obj()
        except BaseException as e:
            _print_traceback()
            raise SetupError(f"algorithm {name}: class {attr}() raised {type(e).__name__}: {e}") from None
        hooks = {h: getattr(instance, h) for h in HOOKS if callable(getattr(instance, h, None))}
        if "calibrate" not in hooks:
            raise SetupError(f"algorithm {name}: class {attr} has no method calibrate(self, ctx)")
    elif callable(obj):
        hooks = {"calibrate": obj}
    else:
        raise SetupError(f"algorithm {name}: '{attr}' in module '{module_name}' is a {type(obj).__name__}, "
                         f"not a function")
    for hook, fn in hooks.items():
        count = 1 + _HOOK_ARGS[hook]
        if not _accepts(fn, count):
            wanted = "the context" if count == 1 else f"the context and {count - 1} more"
            raise SetupError(f"algorithm {name}: {hook} has the wrong signature {_signature(fn)}: it must take "
                             f"{count} argument{'s' if count > 1 else ''} ({wanted})")
    return hooks


def _result(value, name: str):
    """(code, message) of what calibrate returned, or raises ValueError saying why it is not a result."""
    message = ""
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str):
        value, message = value
    if isinstance(value, Result):
        return int(value), message
    if isinstance(value, str) and value.upper() in Result.__members__:
        return int(Result[value.upper()]), message
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 3:
        return value, message
    raise ValueError(f"{name} returned {value!r}, which is not one of the results OK, ITERATE, "
                     f"NOT_ENOUGH_DATA, FAILURE (caf.Result)")


def _failure(name: str, hook: str, e: BaseException) -> str:
    _print_traceback()
    sys.stderr.flush()
    what = name if hook == "calibrate" else f"{name}: {hook}"
    why = str(e) or ("out of memory (its memory_limit?)" if isinstance(e, MemoryError) else "")
    return f"{what} raised {type(e).__name__}{': ' if why else ''}{why} (traceback in the log)"


def adapters(target: str, hooks: Dict[str, Callable], params: Dict[str, Any]) -> Dict[str, Callable]:
    """The functions libcaf calls (python/src/algorithm.c): each takes the raw context, calls the user's
    hook with an AlgorithmContext, and answers without raising: calibrate -> (code, message), the
    others -> None or an error message (is_boundary_required: a bool)."""
    name = f"python:{target}"
    state: Dict[str, Any] = {}

    def context(raw):
        return AlgorithmContext(raw, params, state)

    def calibrate(raw):
        state.clear()
        try:
            code, message = _result(hooks["calibrate"](context(raw)), name)
        except ValueError as e:
            if str(e).startswith(f"{name} returned"):
                return int(Result.FAILURE), str(e)
            return int(Result.FAILURE), _failure(name, "calibrate", e)
        except BaseException as e:
            return int(Result.FAILURE), _failure(name, "calibrate", e)
        try:
            raw.set_output_state(_to_json(state, "the output state"))
        except BaseException as e:
            return int(Result.FAILURE), f"{name}: {e}"
        return code, message

    def simple(hook):
        def call(raw, *args):
            try:
                answer = hooks[hook](context(raw), *args)
            except BaseException as e:
                return _failure(name, hook, e)
            if hook == "is_boundary_required":
                return bool(answer)
            return None

        return call

    out = {"calibrate": calibrate}
    for hook in hooks:
        if hook != "calibrate":
            out[hook] = simple(hook)
    if "boundary_setup" in hooks:
        user_setup = out["boundary_setup"]
        out["boundary_setup"] = lambda raw, runs: user_setup(raw, [_iov().ExpRun(*r) for r in runs])
    if "is_boundary_required" in hooks:
        user_required = out["is_boundary_required"]
        out["is_boundary_required"] = lambda raw, run: user_required(raw, _iov().ExpRun(*run))
    return out


def params_of(spec: Dict[str, Any]) -> Dict[str, Any]:
    """The parameters of a runner spec as a dict (their YAML/JSON values decoded)."""
    return {name: _param_value(value) for name, value in spec.get("params", [])}


__all__ = ["Result", "AlgorithmContext", "SetupError"]
