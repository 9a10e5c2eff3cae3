"""Symbolic strides of the common views, from their input's strides.

The formulas of torch's view kernels (slice multiplies a stride by the step, select drops a
dim, unsqueeze inserts size*stride, ...), without the guards the kernels record on the way
(unsqueeze's kernel guards `size != 1` for the stride of the new size-1 dim, a stride that
addresses nothing). Views without a formula here get theirs from torch's kernel on stand-ins
(kernel_layouts), with its guards.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from strict_tracer.proxy import TensorMeta, TensorProxy, layout_strides

from .layout import guard_or
from .rules import Bound, bind

aten = torch.ops.aten
Strides = list


def _input(a: Bound) -> tuple[tuple, Strides]:
    t = a["self"]
    return t.meta.shape, layout_strides(t.meta, list(t.meta.shape))


def _wrap(dim: int, ndim: int) -> int:
    return dim + ndim if dim < 0 else dim


def _slice(a: Bound, out: tuple) -> Strides:
    _, strides = _input(a)
    dim = _wrap(a["dim"], len(strides))
    step = a["step"]
    if not isinstance(step, int):
        raise _NoFormula
    strides[dim] = strides[dim] * step
    return strides


def _select(a: Bound, out: tuple) -> Strides:
    _, strides = _input(a)
    del strides[_wrap(a["dim"], len(strides))]
    return strides


def _unsqueeze(a: Bound, out: tuple) -> Strides:
    shape, strides = _input(a)
    dim = _wrap(a["dim"], len(strides) + 1)
    new = 1 if dim >= len(strides) else shape[dim] * strides[dim]
    return strides[:dim] + [new] + strides[dim:]


def _squeeze(a: Bound, out: tuple) -> Strides:
    shape, strides = _input(a)
    dims = a.get("dim")
    if dims is None:
        dims = range(len(shape))
    elif not isinstance(dims, (list, tuple)):
        dims = [dims]
    dropped = {_wrap(d, len(shape)) for d in dims if guard_or(shape[_wrap(d, len(shape))] == 1, False)}
    kept = [s for d, s in enumerate(strides) if d not in dropped]
    if len(kept) != len(out):
        raise _NoFormula
    return kept


def _transpose(a: Bound, out: tuple) -> Strides:
    _, strides = _input(a)
    if len(strides) < 2 and a.op in (aten.t.default,):
        return strides
    d0, d1 = (0, 1) if a.op is aten.t.default else (_wrap(a["dim0"], len(strides)),
                                                     _wrap(a["dim1"], len(strides)))
    strides[d0], strides[d1] = strides[d1], strides[d0]
    return strides


def _permute(a: Bound, out: tuple) -> Strides:
    _, strides = _input(a)
    return [strides[_wrap(d, len(strides))] for d in a["dims"]]


def _expand(a: Bound, out: tuple) -> Strides:
    shape, strides = _input(a)
    lead = len(out) - len(shape)
    result = [0] * lead
    for size, stride, target in zip(shape, strides, out[lead:]):
        same = size is target or guard_or(size == target, False)
        result.append(stride if same else 0)
    return result


def _same(a: Bound, out: tuple) -> Strides:
    return _input(a)[1]


def _view(a: Bound, out: tuple) -> Strides:
    """A view of a tensor laid out contiguously at every size (a fresh output, no view's own
    strides) is contiguous: the strides of `out` laid out densely."""
    meta = a["self"].meta
    if meta.sym_strides is not None or tuple(meta.strides) != _contiguous(meta.hint_shape):
        raise _NoFormula
    dense = TensorMeta(out, meta.dtype, meta.device)
    return layout_strides(dense, list(out))


def _contiguous(shape: tuple) -> tuple:
    return TensorMeta(shape, torch.float32, torch.device("meta")).strides


_FORMULAS: dict[Any, Callable[[Bound, tuple], Strides]] = {
    aten.slice.Tensor: _slice, aten.select.int: _select,
    aten.unsqueeze.default: _unsqueeze,
    aten.squeeze.default: _squeeze, aten.squeeze.dim: _squeeze, aten.squeeze.dims: _squeeze,
    aten.transpose.int: _transpose, aten.t.default: _transpose, aten.permute.default: _permute,
    aten.expand.default: _expand, aten.alias.default: _same, aten.detach.default: _same,
    aten.view.default: _view, aten.reshape.default: _view,
}


class _NoFormula(Exception):
    pass


def view_strides(op: Any, args: tuple, kwargs: dict, out_shape: tuple) -> Strides | None:
    """The view's strides by formula, or None when there is none for this call."""
    formula = _FORMULAS.get(op)
    if formula is None or not args or type(args[0]) is not TensorProxy:
        return None
    try:
        return formula(bind(op, args, kwargs), out_shape)
    except _NoFormula:
        return None
