"""NumPy calls inside forward() on plain values: computed, as torch.export computes them.

`np.log(float(10000))`, `np.sqrt(2)`, `np.finfo(np.float32).eps`, `np.arange(4).reshape(2, 2)`
only read the Python numbers and arrays they are given: NumPy's functions, ufuncs and array
methods run natively when every argument is a plain value (numbers, strings, dtypes, NumPy
scalars and arrays, containers of those) and nothing is written (`out=` is refused). A NumPy
call that receives a traced tensor or symbolic size is refused with the NumPy call named
(it would read values that do not exist while tracing); write it with torch operations.

Importing this module does nothing when NumPy is not installed.
"""
from __future__ import annotations

from typing import Any

from ...errors import Category
from . import numpy_functions, numpy_traced  # noqa: F401  (numpy_functions extends the table)
from ..registry import CALL_SPECIAL, special

try:
    import numpy as np
except ImportError:          # NumPy is optional
    np = None

_PLAIN_SCALARS = (int, float, bool, complex, str, bytes, type(None), slice, type(Ellipsis))
# Array methods that write into the array (or a file): never run on the program's behalf.
_WRITING_METHODS = frozenset({"fill", "itemset", "put", "resize", "sort", "partition",
                              "setfield", "setflags", "byteswap", "tofile", "dump", "__setitem__",
                              "__iadd__", "__isub__", "__imul__", "__itruediv__"})


def is_plain(value: Any, depth: int = 0) -> bool:
    """Only numbers, strings, dtypes, NumPy scalars/arrays and containers of those."""
    if isinstance(value, _PLAIN_SCALARS) or isinstance(value, (np.generic, np.ndarray, np.dtype)):
        return True
    if isinstance(value, type):
        return issubclass(value, (np.generic, int, float, bool, complex))
    if isinstance(value, (list, tuple)) and depth < 8:
        return all(is_plain(v, depth + 1) for v in value)
    if isinstance(value, dict) and depth < 8:
        return all(is_plain(k, depth + 1) and is_plain(v, depth + 1) for k, v in value.items())
    return False


def _name(fn: Any) -> str:
    owner = getattr(fn, "__self__", None)
    name = getattr(fn, "__name__", None) or type(fn).__name__
    if isinstance(owner, (np.ndarray, np.generic)):
        return f"ndarray.{name}"
    module = getattr(fn, "__module__", None) or "numpy"
    return f"{module.replace('numpy', 'np', 1)}.{name}"


def call_numpy(interp, fn: Any, args: tuple, kwargs: dict) -> Any:
    """Run a NumPy callable on plain values; refuse it (naming it) on anything else."""
    if kwargs.get("out") is not None:
        raise interp.refuse(Category.SIDE_EFFECT, f"NumPy call {_name(fn)}(..., out=...) writes "
                            "into an array", hint="use the returned array instead of out=",
                            operands=args)
    handled, result = numpy_traced.traced_numpy_call(interp, fn, args, kwargs)
    if handled:
        return result
    if not (is_plain(args) and is_plain(kwargs)):
        raise numpy_traced.refuse_numpy_call(
            interp, f"{_name(fn)} received a traced value (a tensor or a symbolic size); "
            "NumPy would need its values, which do not exist while tracing", args, kwargs)
    return fn(*args, **kwargs)


def owns(fn: Any) -> bool:
    """A native callable of NumPy's (a function, or a method or slot of its types)."""
    if np is None:
        return False
    owner = getattr(fn, "__objclass__", None) or type(getattr(fn, "__self__", None))
    if isinstance(owner, type) and issubclass(owner, (np.generic, np.ndarray, np.dtype)):
        return True
    return _numpy_module(getattr(fn, "__module__", None))


def _numpy_module(module: Any) -> bool:
    return isinstance(module, str) and (module == "numpy" or module.startswith("numpy."))


def owns_class(cls: type) -> bool:
    """A NumPy type (np.dtype, np.finfo, np.float32, ...): constructed natively on plain
    values (limit and type queries)."""
    return np is not None and _numpy_module(cls.__dict__.get("__module__", cls.__module__))


def _call_instance(interp, fn, args, kwargs):
    return call_numpy(interp, fn, args, kwargs)


def _register() -> None:
    CALL_SPECIAL[np.ufunc] = _call_instance
    CALL_SPECIAL[type(np.mean)] = _call_instance         # numpy._ArrayFunctionDispatcher
    builtin = type(np.array)
    for module in (np, np.linalg, np.fft):
        for value in vars(module).values():
            if type(value) is builtin:
                special(value)(lambda interp, args, kwargs, fn=value: call_numpy(interp, fn, args,
                                                                                kwargs))
    for cls in (np.ndarray, np.generic):
        for name, method in vars(cls).items():
            if type(method).__name__ == "method_descriptor" and name not in _WRITING_METHODS:
                special(method)(lambda interp, args, kwargs, fn=method: call_numpy(
                    interp, fn, args, kwargs))


if np is not None:
    _register()
