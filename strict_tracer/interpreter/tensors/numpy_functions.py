"""More of NumPy on traced arrays: ufuncs, reductions and array functions beyond the core
table of numpy_traced.py, each computed in NumPy's result dtype.

NumPy's dtype rules differ from torch's: `np.exp` of an int32 array is float64 (of an int8
array float16), an int array times a Python float is float64, concatenating int32 and
float32 gives float64. The result dtype is asked of NumPy itself, on one-element stand-ins
of the inputs (`np.ones((1,) * ndim, dtype)` per traced array), and the torch op computes in
it. `np.arange`/`np.linspace` on symbolic sizes become `torch.arange`/`linspace`.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from ...proxy import TensorProxy
from ...symbolic import SymFloat, SymInt
from .numpy_traced import (_FUNCTIONS, _METHODS, SYMBOLIC_FACTORIES, TracedArray, _op, _refusal,
                           _torch_dtype, _unwrap, _wrap, np)


# ---------------------------------------------------------------- NumPy's result dtype
def _standin(value: Any) -> Any:
    if type(value) is TracedArray:
        return np.ones((1,) * value.ndim, dtype=value.dtype)
    if isinstance(value, SymInt):
        return 1
    if isinstance(value, SymFloat):
        return 1.0
    if type(value) in (list, tuple):
        return type(value)(_standin(v) for v in value)
    return value


def result_dtype(np_fn: Callable, args: tuple, kwargs: dict) -> torch.dtype | None:
    """The dtype NumPy gives `np_fn(*args, **kwargs)` (None when the stand-ins cannot say)."""
    try:
        result = np_fn(*_standin(args), **{k: _standin(v) for k, v in kwargs.items()})
    except (TypeError, ValueError, IndexError):
        return None
    return _torch_dtype(np.asarray(result).dtype)


def _cast(value: Any, dtype: torch.dtype | None) -> Any:
    if dtype is None or type(value) is not TensorProxy or value.meta.dtype == dtype:
        return value
    return _op(torch.Tensor.to, value, dtype)


def _inexact(dtype: torch.dtype | None) -> bool:
    return dtype is not None and (dtype.is_floating_point or dtype.is_complex)


def _inputs_in(values: Any, dtype: torch.dtype | None) -> Any:
    """Tensors cast to an inexact result dtype first (NumPy computes in it)."""
    if not _inexact(dtype):
        return values
    if type(values) in (list, tuple):
        return type(values)(_inputs_in(v, dtype) for v in values)
    return _cast(values, dtype)


def _check_kwargs(name: str, kwargs: dict, allowed: tuple = ()) -> None:
    if kwargs.get("out") is not None or set(kwargs) - set(allowed) - {"out"}:
        raise _refusal(f"np.{name}({', '.join(sorted(kwargs))}=...)")


# ---------------------------------------------------------------- rule factories
def ufunc(np_fn: Callable, torch_fn: Callable, allowed: tuple = ()) -> Callable:
    """An elementwise NumPy function as `torch_fn` in NumPy's result dtype."""
    def rule(*args: Any, **kwargs: Any) -> Any:
        _check_kwargs(np_fn.__name__, kwargs, allowed)
        kwargs.pop("out", None)
        dtype = result_dtype(np_fn, args, kwargs)
        tensors = _inputs_in(_unwrap(args), dtype)
        if torch_fn in _TENSORS_ONLY:
            tensors = _numbers_as_tensors(tensors)
        return _cast(_op(torch_fn, *tensors, **kwargs), dtype)
    return rule


# torch functions without a Scalar overload: a Python number operand becomes a 0-d tensor.
_TENSORS_ONLY = frozenset({torch.maximum, torch.minimum, torch.fmax, torch.fmin, torch.atan2,
                           torch.hypot, torch.logical_and, torch.logical_or, torch.logical_xor})


def _numbers_as_tensors(values: tuple) -> tuple:
    like = next((v for v in values if type(v) is TensorProxy), None)
    if like is None:
        return values
    return tuple(_op(torch.scalar_tensor, v, dtype=like.meta.dtype)
                 if type(v) in (int, float, bool) else v for v in values)


def array_function(np_fn: Callable, build: Callable, allowed: tuple = ()) -> Callable:
    """A NumPy function whose torch form `build(*tensors, **kwargs)` is written out; its
    tensor inputs are cast to NumPy's result dtype when that is inexact."""
    def rule(*args: Any, **kwargs: Any) -> Any:
        _check_kwargs(np_fn.__name__, kwargs, allowed)
        dtype = result_dtype(np_fn, args, kwargs)
        unwrapped = {k: _unwrap(v) for k, v in kwargs.items()}
        return _cast(build(*_inputs_in(_unwrap(args), dtype), **unwrapped), dtype)
    return rule


def _dims(t: Any, axis: Any) -> tuple:
    ndim = len(t.meta.shape)
    if axis is None:
        return tuple(range(ndim))
    return tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)


def _per_axis(fn: Callable) -> Callable:
    """`fn(t, dim, keepdim)` taking one dim, applied over NumPy's axis (None, int or tuple)."""
    def build(t, axis=None, keepdims=False, **kwargs):
        if axis is None and not keepdims:
            return fn(_op(torch.reshape, t, (-1,)), 0, False, **kwargs)
        ndim = len(t.meta.shape)
        for dim in sorted((d % ndim for d in _dims(t, axis)), reverse=True):
            t = fn(t, dim, True, **kwargs)
        return t if keepdims else _op(torch.squeeze, t, tuple(d % ndim for d in _dims(t, axis)))
    return build


def _prod(t, dim, keepdim):
    return _op(torch.prod, t, dim, keepdim)


def _median(t, dim, keepdim):
    return _op(torch.quantile, t, 0.5, dim, keepdim)


def _variance(torch_fn: Callable) -> Callable:
    def build(t, axis=None, keepdims=False, ddof=0):
        return _op(torch_fn, t, _dims(t, axis), correction=ddof, keepdim=keepdims)
    return build


def _logical(torch_fn: Callable) -> Callable:
    def build(t, axis=None, keepdims=False):
        return _op(torch_fn, t, _dims(t, axis), keepdims)
    return build


def _flattened(fn: Callable, default_axis: Any) -> Callable:
    """NumPy's axis=None flattens first (sort, cumprod)."""
    def build(t, axis=default_axis, **kwargs):
        if axis is None:
            return fn(_op(torch.reshape, t, (-1,)), 0, **kwargs)
        return fn(t, axis, **kwargs)
    return build


def _average(t, axis=None, weights=None, keepdims=False):
    if weights is not None:
        raise _refusal("np.average(weights=...)")
    return _op(torch.mean, t, _dims(t, axis), keepdims)


# ---------------------------------------------------------------- symbolic factories
def _arange(*args, dtype=None):
    if dtype is not None:
        raise _refusal("np.arange(dtype=...)")
    result = result_dtype(np.arange, args, {})
    return _op(torch.arange, *args, dtype=result)


def _linspace(start, stop, num=50, endpoint=True):
    if not endpoint:
        raise _refusal("np.linspace(endpoint=False)")
    return _op(torch.linspace, start, stop, num, dtype=torch.float64)




# ---------------------------------------------------------------- the table
_UFUNCS = {
    # NumPy name: torch function (same arguments, elementwise)
    "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "sin": torch.sin, "cos": torch.cos,
    "tanh": torch.tanh, "abs": torch.abs, "absolute": torch.abs, "floor": torch.floor,
    "ceil": torch.ceil, "square": torch.square, "negative": torch.neg, "sign": torch.sign,
    "maximum": torch.maximum, "minimum": torch.minimum, "add": torch.add,
    "subtract": torch.sub, "multiply": torch.mul, "power": torch.pow,
    "log1p": torch.log1p, "expm1": torch.expm1, "exp2": torch.exp2, "log2": torch.log2,
    "log10": torch.log10, "tan": torch.tan, "arcsin": torch.asin, "arccos": torch.acos,
    "arctan": torch.atan, "sinh": torch.sinh, "cosh": torch.cosh, "arcsinh": torch.asinh,
    "arccosh": torch.acosh, "arctanh": torch.atanh, "arctan2": torch.atan2,
    "hypot": torch.hypot, "trunc": torch.trunc, "rint": torch.round, "fmax": torch.fmax,
    "fmin": torch.fmin, "floor_divide": torch.floor_divide, "mod": torch.remainder,
    "remainder": torch.remainder, "fmod": torch.fmod, "isnan": torch.isnan,
    "isinf": torch.isinf, "isfinite": torch.isfinite, "logical_and": torch.logical_and,
    "logical_or": torch.logical_or, "logical_xor": torch.logical_xor,
    "logical_not": torch.logical_not, "greater": torch.gt, "greater_equal": torch.ge,
    "less": torch.lt, "less_equal": torch.le, "equal": torch.eq, "not_equal": torch.ne,
    "deg2rad": torch.deg2rad, "rad2deg": torch.rad2deg, "sinc": torch.sinc,
    "bitwise_and": torch.bitwise_and, "bitwise_or": torch.bitwise_or,
    "bitwise_xor": torch.bitwise_xor, "invert": torch.bitwise_not,
}


def _table() -> dict:
    rules: dict[Any, Callable] = {getattr(np, name): ufunc(getattr(np, name), fn)
                                  for name, fn in _UFUNCS.items()}
    rules[np.round] = rules[np.around] = array_function(np.round, lambda t, decimals=0: _op(
        torch.round, t, decimals=decimals), ("decimals",))
    rules[np.prod] = array_function(np.prod, _per_axis(_prod), ("axis", "keepdims"))
    rules[np.median] = array_function(np.median, _per_axis(_median), ("axis", "keepdims"))
    rules[np.std] = array_function(np.std, _variance(torch.std), ("axis", "keepdims", "ddof"))
    rules[np.var] = array_function(np.var, _variance(torch.var), ("axis", "keepdims", "ddof"))
    rules[np.any] = array_function(np.any, _logical(torch.any), ("axis", "keepdims"))
    rules[np.all] = array_function(np.all, _logical(torch.all), ("axis", "keepdims"))
    rules[np.average] = array_function(np.average, _average, ("axis", "weights", "keepdims"))
    rules[np.cumprod] = array_function(np.cumprod, _flattened(
        lambda t, dim: _op(torch.cumprod, t, dim), None), ("axis",))
    rules[np.sort] = array_function(np.sort, _flattened(
        lambda t, dim: _op(torch.sort, t, dim)[0], -1), ("axis",))
    rules[np.flip] = array_function(np.flip, lambda t, axis=None: _op(
        torch.flip, t, _dims(t, axis)), ("axis",))
    rules[np.roll] = array_function(np.roll, lambda t, shift, axis=None: _op(
        torch.roll, t, shift, axis), ("axis",))
    rules[np.tile] = array_function(np.tile, lambda t, reps: _op(
        torch.tile, t, tuple(reps) if isinstance(reps, (tuple, list)) else (reps,)))
    rules[np.repeat] = array_function(np.repeat, lambda t, repeats, axis=None: _op(
        torch.repeat_interleave, t, repeats, axis), ("axis",))
    rules[np.outer] = array_function(np.outer, lambda a, b: _op(
        torch.outer, _op(torch.reshape, a, (-1,)), _op(torch.reshape, b, (-1,))))
    rules[np.einsum] = array_function(np.einsum, lambda eq, *ts: _op(torch.einsum, eq, *ts))
    rules[np.tril] = array_function(np.tril, lambda t, k=0: _op(torch.tril, t, k), ("k",))
    rules[np.triu] = array_function(np.triu, lambda t, k=0: _op(torch.triu, t, k), ("k",))
    rules[np.diff] = array_function(np.diff, lambda t, n=1, axis=-1: _op(
        torch.diff, t, n, axis), ("n", "axis"))
    rules[np.vstack] = array_function(np.vstack, lambda ts: _op(torch.vstack, list(ts)))
    rules[np.hstack] = array_function(np.hstack, lambda ts: _op(torch.hstack, list(ts)))
    rules[np.swapaxes] = array_function(np.swapaxes, lambda t, a, b: _op(
        torch.swapaxes, t, a, b))
    rules[np.moveaxis] = array_function(np.moveaxis, lambda t, src, dst: _op(
        torch.movedim, t, src, dst))
    rules[np.broadcast_to] = array_function(np.broadcast_to, lambda t, shape: _op(
        torch.broadcast_to, t, tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)))
    rules[np.full_like] = array_function(np.full_like, lambda t, fill: _op(
        torch.full_like, t, fill))
    for np_fn in (np.concatenate, np.stack, np.clip):
        rules[np_fn] = _promoting(np_fn, _FUNCTIONS[np_fn])
    rules[np.where] = _promoting(np.where, _FUNCTIONS[np.where], keep_first=True)
    return rules


def _promoting(np_fn: Callable, rule: Callable, keep_first: bool = False) -> Callable:
    """A core-table rule with its inputs first cast to NumPy's result dtype (all but the
    first with `keep_first`: np.where's condition stays bool)."""
    def promoted(*args: Any, **kwargs: Any) -> Any:
        dtype = result_dtype(np_fn, args, kwargs)
        tensors = _unwrap(args)
        start = 1 if keep_first else 0
        tensors = (*tensors[:start], *_inputs_in(tensors[start:], dtype))
        return _cast(_unwrap(rule(*_rewrap(tensors), **kwargs)), dtype)
    return promoted


def _rewrap(value: Any) -> Any:
    if type(value) in (list, tuple):
        return type(value)(_rewrap(v) for v in value)
    return _wrap(value)


_METHOD_NAMES = {"prod": np.prod, "std": np.std, "var": np.var, "any": np.any, "all": np.all,
                 "round": np.round, "cumprod": np.cumprod, "repeat": np.repeat,
                 "swapaxes": np.swapaxes} if np is not None else {}


def _method(rule: Callable) -> Callable:
    return lambda a, *args, **kwargs: _wrap(rule(a, *args, **kwargs))


def _flatten_method(a: TracedArray) -> TracedArray:
    return _wrap(_op(torch.reshape, a.tensor, (-1,)))


if np is not None:
    SYMBOLIC_FACTORIES.update({np.arange: _arange, np.linspace: _linspace})
    _FUNCTIONS.update(_table())
    _METHODS.update({name: _method(_FUNCTIONS[fn]) for name, fn in _METHOD_NAMES.items()})
    _METHODS["flatten"] = _METHODS["ravel"] = _flatten_method
