"""NumPy on traced tensors, the way Dynamo maps NumPy onto torch: `x.numpy()` is an array
backed by the tensor's proxy, NumPy functions and array methods on it become ATen ops through
the table below, and `torch.from_numpy` / `torch.as_tensor` give the tensor back.

Only what the table maps with NumPy's semantics is accepted: the dtype rules that differ
(NumPy's true division and mean of integer arrays give float64) are applied; any other NumPy
call on a traced array is refused with the NumPy call named.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from ... import context
from ...errors import Category
from ...proxy import TensorProxy
from ...symbolic import SymFloat, SymInt
from ..objects.protocols import stands_for

try:
    import numpy as np
except ImportError:          # NumPy is optional
    np = None


class TracedArray:
    """An ndarray whose data is a traced tensor (`x.numpy()` inside forward); type() and
    isinstance() answer np.ndarray."""

    _strict_tracer_native = True
    __slots__ = ("tensor",)

    def __init__(self, tensor: TensorProxy) -> None:
        self.tensor = tensor

    def describe(self) -> str:
        return f"ndarray({self.tensor.meta.short_str()}, from %{self.tensor.node.name})"

    @property
    def shape(self) -> tuple:
        return tuple(self.tensor.meta.shape)

    @property
    def ndim(self) -> int:
        return len(self.tensor.meta.shape)

    @property
    def dtype(self):
        return np.dtype(str(self.tensor.meta.dtype).replace("torch.", ""))

    @property
    def T(self) -> "TracedArray":
        return _wrap(_op(torch.permute, self.tensor, tuple(reversed(range(self.ndim)))))

    def __len__(self) -> int:
        return _interp().tensors.length(self.tensor)

    def __getitem__(self, key: Any) -> "TracedArray":
        return _wrap(_interp().subscr(self.tensor, _unwrap(key)))

    def __getattr__(self, name: str) -> Any:
        method = _METHODS.get(name)
        if method is None:
            raise _refusal(f"ndarray.{name}")
        return _BoundMethod(method, self)

    def _binary(self, other: Any, np_fn: Callable, reflected: bool = False) -> "TracedArray":
        """An operator as its NumPy ufunc's rule (NumPy's result dtype included)."""
        a, b = (other, self) if reflected else (self, other)
        return _wrap(_FUNCTIONS[np_fn](a, b))

    def __add__(self, o): return self._binary(o, np.add)
    def __radd__(self, o): return self._binary(o, np.add, True)
    def __sub__(self, o): return self._binary(o, np.subtract)
    def __rsub__(self, o): return self._binary(o, np.subtract, True)
    def __mul__(self, o): return self._binary(o, np.multiply)
    def __rmul__(self, o): return self._binary(o, np.multiply, True)
    def __truediv__(self, o): return self._binary(o, np.true_divide)
    def __rtruediv__(self, o): return self._binary(o, np.true_divide, True)
    def __pow__(self, o): return self._binary(o, np.power)
    def __matmul__(self, o): return self._binary(o, np.matmul)
    def __and__(self, o): return self._binary(o, np.bitwise_and)
    def __rand__(self, o): return self._binary(o, np.bitwise_and, True)
    def __or__(self, o): return self._binary(o, np.bitwise_or)
    def __ror__(self, o): return self._binary(o, np.bitwise_or, True)
    def __xor__(self, o): return self._binary(o, np.bitwise_xor)
    def __rxor__(self, o): return self._binary(o, np.bitwise_xor, True)
    def __neg__(self): return _wrap(_FUNCTIONS[np.negative](self))
    def __invert__(self): return _wrap(_FUNCTIONS[np.invert](self))
    def __gt__(self, o): return self._binary(o, np.greater)
    def __ge__(self, o): return self._binary(o, np.greater_equal)
    def __lt__(self, o): return self._binary(o, np.less)
    def __le__(self, o): return self._binary(o, np.less_equal)
    def __eq__(self, o): return self._binary(o, np.equal)
    def __ne__(self, o): return self._binary(o, np.not_equal)
    __hash__ = None


class _BoundMethod:
    """An array method of a TracedArray (run natively: strict_tracer's own code)."""

    _strict_tracer_native = True
    __slots__ = ("rule", "array")

    def __init__(self, rule: Callable, array: TracedArray) -> None:
        self.rule, self.array = rule, array

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.rule(self.array, *args, **kwargs)


def _interp():
    return context.current()


def _refusal(call: str):
    return _interp().refuse(
        Category.UNSUPPORTED_NATIVE,
        f"NumPy call {call} on a traced array has no torch equivalent the "
        "exporter maps NumPy calls to", hint="write this computation with torch operations on the tensor")


def _wrap(value: Any) -> Any:
    return TracedArray(value) if type(value) is TensorProxy else value


def _unwrap(value: Any) -> Any:
    """Traced arrays as their tensors, plain arrays as constant tensors, NumPy scalars as
    Python numbers."""
    if type(value) is TracedArray:
        return value.tensor
    if isinstance(value, np.ndarray):
        return _op(torch.as_tensor, value)
    if isinstance(value, np.generic):
        return value.item()
    if type(value) in (list, tuple):
        return type(value)(_unwrap(v) for v in value)
    return value


def _op(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    return _interp().tensors.op(fn, args, kwargs)


def _call(fn: Callable, args: tuple, kwargs: dict) -> Any:
    if getattr(fn, "_strict_tracer_numpy", False):
        return fn(*args, **kwargs)
    return _interp().tensors.op(fn, args, kwargs)


def _numpy_rule(fn: Callable) -> Callable:
    fn._strict_tracer_numpy = True
    return fn


def _is_integral(t: Any) -> bool:
    return type(t) is TensorProxy and not t.meta.dtype.is_floating_point \
        and not t.meta.dtype.is_complex


@_numpy_rule
def _true_divide(a, b):
    """NumPy's true division: integer arrays divide in float64."""
    if _is_integral(a) or (_is_integral(b) and type(a) is not TensorProxy):
        a = _op(torch.Tensor.to, a, torch.float64) if type(a) is TensorProxy else float(a)
    return _op(torch.div, a, b)


def _axis_reduction(torch_fn: Callable, float_ints: bool = False) -> Callable:
    def rule(a, axis=None, dtype=None, out=None, keepdims=False):
        if out is not None or dtype is not None:
            raise _refusal(f"np.{torch_fn.__name__}(dtype=/out=)")
        t = _unwrap(a)
        if float_ints and _is_integral(t):
            t = _op(torch.Tensor.to, t, torch.float64)
        if axis is None:
            axis = tuple(range(len(t.meta.shape)))
        return _op(torch_fn, t, axis, keepdims)
    return rule


def _array_rule(torch_fn: Callable, rename: dict | None = None) -> Callable:
    def rule(*args, **kwargs):
        kwargs = {(rename or {}).get(k, k): _unwrap(v) for k, v in kwargs.items()}
        return _op(torch_fn, *_unwrap(args), **kwargs)
    return rule


def _elementwise(torch_fn: Callable) -> Callable:
    def rule(*args, out=None, **kwargs):
        if out is not None or kwargs:
            raise _refusal(f"np.{torch_fn.__name__}(out=/where=/dtype=)")
        return _call(torch_fn, _unwrap(args), {})
    return rule


def _build_tables() -> tuple[dict, dict]:
    functions: dict[Any, Callable] = {
        np.mean: _axis_reduction(torch.mean, float_ints=True),
        np.sum: _axis_reduction(torch.sum), np.max: _axis_reduction(torch.amax),
        np.min: _axis_reduction(torch.amin), np.amax: _axis_reduction(torch.amax),
        np.amin: _axis_reduction(torch.amin),
        np.concatenate: _array_rule(torch.cat, {"axis": "dim"}),
        np.stack: _array_rule(torch.stack, {"axis": "dim"}),
        np.transpose: _array_rule(torch.permute, {"axes": "dims"}),
        np.reshape: _array_rule(torch.reshape, {"newshape": "shape"}),
        np.expand_dims: _array_rule(torch.unsqueeze, {"axis": "dim"}),
        np.squeeze: _array_rule(torch.squeeze, {"axis": "dim"}),
        np.where: _array_rule(torch.where), np.clip: _array_rule(torch.clamp),
        np.ones_like: _array_rule(torch.ones_like), np.zeros_like: _array_rule(torch.zeros_like),
        np.argmax: _array_rule(torch.argmax, {"axis": "dim"}),
        np.argmin: _array_rule(torch.argmin, {"axis": "dim"}),
        np.cumsum: _array_rule(torch.cumsum, {"axis": "dim"}),
        np.dot: _array_rule(torch.matmul), np.matmul: _elementwise(torch.matmul),
        np.fft.fft: _array_rule(torch.fft.fft, {"axis": "dim"}),
        np.fft.ifft: _array_rule(torch.fft.ifft, {"axis": "dim"}),
    }
    # elementwise ufuncs (in NumPy's result dtype): numpy_functions.py
    functions[np.divide] = _elementwise(_true_divide)
    functions[np.true_divide] = _elementwise(_true_divide)
    methods = {"mean": functions[np.mean], "sum": functions[np.sum], "max": functions[np.max],
               "min": functions[np.min], "reshape": lambda a, *shape, **kw: _op(
                   torch.reshape, a.tensor, shape[0] if len(shape) == 1 and isinstance(
                       shape[0], (tuple, list)) else shape),
               "transpose": lambda a, *axes: _op(torch.permute, a.tensor, axes or tuple(
                   reversed(range(a.ndim)))),
               "argmax": functions[np.argmax], "argmin": functions[np.argmin],
               "astype": lambda a, dtype: _op(torch.Tensor.to, a.tensor, _torch_dtype(dtype)),
               "copy": lambda a: _op(torch.clone, a.tensor), "clip": functions[np.clip],
               "cumsum": functions[np.cumsum], "squeeze": functions[np.squeeze]}
    return functions, {k: (lambda f: lambda a, *args, **kw: _wrap(f(a, *args, **kw)))(v)
                       for k, v in methods.items()}


def _torch_dtype(dtype: Any) -> torch.dtype:
    name = np.dtype(dtype).name
    result = getattr(torch, name, None)
    if not isinstance(result, torch.dtype):
        raise _refusal(f"ndarray.astype({name})")
    return result


_FUNCTIONS, _METHODS = _build_tables() if np is not None else ({}, {})
# NumPy factories that accept symbolic sizes (np.arange(x.shape[0])): filled by numpy_functions.
SYMBOLIC_FACTORIES: dict[Any, Callable] = {}


def traced_numpy_call(interp, fn: Any, args: tuple, kwargs: dict) -> tuple[bool, Any]:
    """(True, result) when `fn` is a NumPy function the table maps and an argument is a
    TracedArray; (False, None) when no argument is traced (plain NumPy)."""
    if fn in SYMBOLIC_FACTORIES and _has_symbol((args, kwargs)):
        return True, _wrap(SYMBOLIC_FACTORIES[fn](*args, **kwargs))
    if not _reaches_traced((args, kwargs)):
        return False, None
    rule = _FUNCTIONS.get(fn)
    if rule is None:
        raise refuse_numpy_call(
            interp, f"np.{getattr(fn, '__name__', fn)} on a traced array has no torch "
            "equivalent the exporter maps NumPy calls to", args, kwargs)
    return True, _wrap(rule(*args, **kwargs))


def refuse_numpy_call(interp, what: str, args: tuple, kwargs: dict):
    """The refusal of a NumPy call that meets traced values: `NumPy call {what}`."""
    return interp.refuse(Category.UNSUPPORTED_NATIVE, f"NumPy call {what}",
                         hint="write this computation with torch operations on the tensor",
                         operands=(*args, *kwargs.values()))


def _has_symbol(value: Any, depth: int = 0) -> bool:
    if isinstance(value, (SymInt, SymFloat)):
        return True
    if type(value) in (list, tuple) and depth < 2:
        return any(_has_symbol(v, depth + 1) for v in value)
    return type(value) is dict and any(_has_symbol(v, depth + 1) for v in value.values())


def _reaches_traced(value: Any, depth: int = 0) -> bool:
    if type(value) is TracedArray:
        return True
    if type(value) in (list, tuple) and depth < 4:
        return any(_reaches_traced(v, depth + 1) for v in value)
    if type(value) is dict and depth < 4:
        return any(_reaches_traced(v, depth + 1) for v in value.values())
    return False


class _NumpyMethod:
    """`proxy.numpy` as a bound method (run natively: it is strict_tracer's own code)."""

    _strict_tracer_native = True

    def __init__(self, interp, proxy: TensorProxy) -> None:
        self.interp, self.proxy = interp, proxy

    def __call__(self, *, force: bool = False) -> TracedArray:
        if self.proxy.meta.requires_grad and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        tensor = self.proxy
        if force:
            tensor = self.interp.tensors.op(torch.Tensor.detach, (tensor,), {})
        return TracedArray(tensor)


def tensor_numpy(interp, proxy: TensorProxy) -> _NumpyMethod:
    """`proxy.numpy`: the array view of the tensor (eager shares memory)."""
    return _NumpyMethod(interp, proxy)


def _register() -> None:
    from . import tensor_from_values  # noqa: F401  (its torch.tensor/as_tensor handlers first)
    from ..registry import SPECIAL, special

    @special(torch.from_numpy)
    def _from_numpy(interp, args, kwargs):
        if len(args) == 1 and not kwargs and type(args[0]) is TracedArray:
            return args[0].tensor
        return interp.tensors.op(torch.from_numpy, args, kwargs)

    for fn, copies in ((torch.as_tensor, False), (torch.tensor, True)):
        SPECIAL[fn] = _from_array(SPECIAL[fn], copies)
    _FUNCTIONS[np.asarray] = lambda a, dtype=None: a if dtype is None else a.astype(dtype)
    _FUNCTIONS[np.array] = lambda a, dtype=None: a.copy() if dtype is None else a.astype(dtype)


def _from_array(previous: Callable, copies: bool) -> Callable:
    def handler(interp, args, kwargs):
        if not args or type(args[0]) is not TracedArray:
            return previous(interp, args, kwargs)
        tensor = args[0].tensor
        if copies:
            tensor = interp.tensors.op(torch.clone, (tensor,), {})
        if kwargs:
            tensor = interp.tensors.op(torch.Tensor.to, (tensor,), kwargs)
        return tensor
    return handler


if np is not None:
    _register()
    stands_for(np.ndarray)(TracedArray)
