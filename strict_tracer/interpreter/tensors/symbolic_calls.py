"""Symbolic values meeting the interpreter: data reads (`.item()`, `.tolist()`), indexing
with symbolic integers, and torch's symbolic helpers (`torch._check`, `torch._check_is_size`,
`torch.sym_max`, `guard_size_oblivious`, ...).
"""
from __future__ import annotations

from typing import Any

import torch
import torch.fx.experimental.symbolic_shapes as torch_symbolic

from ...errors import Category
from ...proxy import TensorProxy
from ...symbolic import CheckFailed, SymBool, SymFloat, SymInt, sym_max, sym_min
from ...symbolic.values import sym_float, sym_int, sym_ite, sym_sqrt
from ..registry import special


# ---------------------------------------------------------------------------- data reads
def _scalar_kind(dtype: torch.dtype) -> type:
    if dtype == torch.bool:
        return SymBool
    if dtype.is_floating_point or dtype.is_complex:
        return SymFloat
    return SymInt


def tensor_item(interp, proxy: TensorProxy) -> Any:
    """`.item()`: an `aten.item` node whose value is a fresh unbacked symbol."""
    numel = 1
    for s in proxy.meta.shape:
        numel = numel * s
    if numel != 1:
        raise RuntimeError(f"a Tensor with {numel} elements cannot be converted to Scalar")
    env = interp.state.shape_env
    frame = interp.frames[-1] if interp.frames else None
    where = f" at {frame.code.co_filename.rsplit('/', 1)[-1]}:{frame.lineno}" if frame else ""
    value = env.create_unbacked(f".item(){where}", _scalar_kind(proxy.meta.dtype))
    node = interp.state.graph.call(torch.ops.aten.item.default, (proxy.node,), {}, value)
    symbol = next(iter(value.expr.free_symbols))
    interp.state.sym_nodes.bind_value(symbol, node, value.expr)
    return value


def tensor_tolist(interp, proxy: TensorProxy) -> Any:
    """`.tolist()`: select each row (recursively) and read each element, as torch.export."""
    if not proxy.meta.shape:
        return tensor_item(interp, proxy)
    length = int(proxy.meta.shape[0])
    return [tensor_tolist(interp, interp.tensors.op(torch.select, (proxy, 0, i), {}))
            for i in range(length)]


DATA_READS = {torch.Tensor.item: tensor_item, torch.Tensor.tolist: tensor_tolist}


# ---------------------------------------------------------------------------- torch._check
def _message(interp, message: Any, default: str) -> str:
    if message is None:
        return default
    if callable(message):
        return str(interp.call(message, (), {}))
    return str(message)


def _check_with(interp, error_type: type, cond: Any, message: Any) -> None:
    if isinstance(cond, TensorProxy):
        raise interp.refuse(Category.DATA_DEPENDENT_BRANCH, "torch._check on a tensor value",
                            hint="pass a Python bool or a condition on sizes (x.shape[0] > 2), "
                                 "or on values read with .item()", operands=(cond,))
    if isinstance(cond, SymBool):
        try:
            cond.env.check(cond.expr, cond.hint, stated=True)
        except CheckFailed:
            raise error_type(_message(interp, message, f"Expected cond to be True, but got False "
                                                       f"({cond})")) from None
        return
    if cond is True or cond is False:
        if not cond:
            raise error_type(_message(interp, message, "Expected cond to be True, but got False"))
        return
    raise TypeError(f"cond must be a bool, but got {type(cond).__name__}")


@special(torch._check)
def _check(interp, args, kwargs):
    bound = _bind(("cond", "message"), args, kwargs)
    _check_with(interp, RuntimeError, bound["cond"], bound.get("message"))


for _fn, _error in ((torch._check_index, IndexError), (torch._check_value, ValueError),
                    (torch._check_type, TypeError), (torch._check_not_implemented, NotImplementedError)):
    def _make(error):
        def handler(interp, args, kwargs):
            bound = _bind(("cond", "message"), args, kwargs)
            _check_with(interp, error, bound["cond"], bound.get("message"))
        return handler
    special(_fn)(_make(_error))


@special(torch._check_with)
def _check_with_handler(interp, args, kwargs):
    bound = _bind(("error_type", "cond", "message"), args, kwargs)
    _check_with(interp, bound["error_type"], bound["cond"], bound.get("message"))


@special(torch._check_is_size)
def _check_is_size(interp, args, kwargs):
    bound = _bind(("i", "message"), args, kwargs)
    i = bound["i"]
    limit = kwargs.get("max")
    if isinstance(i, SymInt):
        _check_with(interp, RuntimeError, i >= 0, bound.get("message"))
        i.env.mark_size(i)
        if limit is not None:
            _check_with(interp, RuntimeError, i <= limit, bound.get("message"))
        return
    if type(i) is int:
        _check_with(interp, RuntimeError, i >= 0 and (limit is None or i <= limit), bound.get("message"))
        return
    raise TypeError(f"torch._check_is_size expects an int, got {type(i).__name__}")


def _bind(names: tuple, args: tuple, kwargs: dict) -> dict:
    bound = dict(zip(names, args))
    for k, v in kwargs.items():
        if k in names:
            bound[k] = v
    return bound


# ---------------------------------------------------------------------------- sym helpers
@special(torch.sym_max)
def _sym_max(interp, args, kwargs):
    return sym_max(*args)


@special(torch.sym_min)
def _sym_min(interp, args, kwargs):
    return sym_min(*args)


@special(torch.sym_not)
def _sym_not(interp, args, kwargs):
    (a,) = args
    return ~a if isinstance(a, SymBool) else not a


@special(torch.sym_int)
def _sym_int(interp, args, kwargs):
    (a,) = args
    return sym_int(a)


@special(torch.sym_float)
def _sym_float(interp, args, kwargs):
    (a,) = args
    return sym_float(a)


@special(torch.sym_sqrt)
def _sym_sqrt(interp, args, kwargs):
    (a,) = args
    return sym_sqrt(a)


@special(torch.sym_ite)
def _sym_ite(interp, args, kwargs):
    bound = _bind(("b", "t", "f"), args, kwargs)
    return sym_ite(bound["b"], bound["t"], bound["f"])


def _decide_or(default: Any):
    """guard_or_false / guard_or_true: decide without a data-dependent error."""
    def handler(interp, args, kwargs):
        (a,) = args
        if not isinstance(a, SymBool):
            return bool(a)
        known = a.env.static_value(a.expr)
        if known is not None:
            return known
        if a.env.hint_value(a.expr) is None:
            return default
        return bool(a)
    return handler


def _statically(value: bool):
    def handler(interp, args, kwargs):
        (a,) = args
        if not isinstance(a, SymBool):
            return bool(a) is value
        return a.env.static_value(a.expr) is value
    return handler


@special(torch_symbolic.guard_size_oblivious)
def _guard_size_oblivious(interp, args, kwargs):
    (a,) = args
    if not isinstance(a, SymBool):
        return bool(a)
    known = a.env.evaluate_size_oblivious(a.expr)
    return known if known is not None else bool(a)


special(torch_symbolic.guard_or_false)(_decide_or(False))
special(torch_symbolic.guard_or_true)(_decide_or(True))
special(torch_symbolic.statically_known_true)(_statically(True))
special(torch_symbolic.statically_known_false)(_statically(False))


@special(torch_symbolic.expect_true)
def _expect_true(interp, args, kwargs):
    (a,) = args
    _check_with(interp, RuntimeError, a, None)
    return True


@special(torch_symbolic.is_concrete_int)
def _is_concrete_int(interp, args, kwargs):
    (a,) = args
    if isinstance(a, SymInt):
        return a.env.resolve(a.expr).is_number
    return type(a) is int


@special(torch_symbolic.guard_int)
def _guard_int(interp, args, kwargs):
    (a,) = args
    return int(a)
