"""Symbolic strides of the common views, from their input's strides.

The formulas of torch's view kernels (slice multiplies a stride by the step, select drops a
dim, unsqueeze inserts size*stride, ...), without the guards the kernels record on the way
(unsqueeze's kernel guards `size != 1` for the stride of the new size-1 dim, a stride that
addresses nothing). Also split's and unbind's outputs, flatten/unflatten as reshapes, and an
in-place op's returned input. Views without a formula here get theirs from torch's kernel on
stand-ins (kernel_layouts, ~4-9 ms a call), with its guards.
"""
from __future__ import annotations

from typing import Any, Callable

import sympy
import torch

from strict_tracer.proxy import TensorMeta, TensorProxy, layout_strides
from strict_tracer.symbolic import SymValue

from .layout import guard_or, static_answer
from .oracle.fakes import dense_layout
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
    strides) is contiguous: the strides of `out` laid out densely. Otherwise see _one_chunk."""
    meta = a["self"].meta
    if meta.sym_strides is not None or tuple(meta.strides) != _contiguous(meta.hint_shape):
        return _one_chunk(meta, out)
    dense = TensorMeta(out, meta.dtype, meta.device)
    return layout_strides(dense, list(out))


def _one_chunk(meta: TensorMeta, out: tuple) -> Strides:
    """A view that keeps the leading and trailing sizes (the same expressions) and reshapes
    the dims between them, which are contiguous among themselves at every size (each stride
    is, as an expression, the next one times its size: a split's output viewed into heads).
    torch's view kernel sees one chunk there at every size, so the new dims are laid out
    densely over the chunk's innermost stride; kept dims keep their strides. Sizes must be
    nonzero (a view of no elements is laid out contiguously)."""
    shape, strides = list(meta.shape), layout_strides(meta, list(meta.shape))
    env = next((s.env for s in (*shape, *out) if isinstance(s, SymValue)), None)
    if env is None or not all(_nonzero(s, env) for s in shape):
        raise _NoFormula
    lead = 0
    while lead < min(len(shape), len(out)) and _same_size(shape[lead], out[lead], env):
        lead += 1
    tail = 0
    while tail < min(len(shape), len(out)) - lead and \
            _same_size(shape[-1 - tail], out[-1 - tail], env):
        tail += 1
    middle, new = slice(lead, len(shape) - tail), list(out[lead:len(out) - tail])
    sizes, chunk = shape[middle], strides[middle]
    if not sizes and not new:
        return strides
    if not sizes or not new:
        raise _NoFormula
    for i in range(len(sizes) - 1):
        if _expr(chunk[i], env) != _expr(sizes[i + 1], env) * _expr(chunk[i + 1], env):
            raise _NoFormula
    laid: list = [chunk[-1]]
    for size in reversed(new[1:]):
        laid.insert(0, laid[0] * size)
    return strides[:lead] + laid + strides[len(shape) - tail:]


def _reshape(a: Bound, out: tuple) -> Strides:
    """reshape(): a view where _view has a formula; else, when torch's view test
    (computeStride, which reshape runs) fails at every size, the copy reshape makes instead:
    the strides of `out` laid out contiguously (GQA's repeat_kv, heads of a transpose merged)."""
    try:
        return _view(a, out)
    except _NoFormula:
        pass
    meta = a["self"].meta
    shape, strides = _input(a)
    env = next((s.env for s in (*shape, *strides, *out) if isinstance(s, SymValue)), None)
    if env is None or not all(_nonzero(s, env) for s in shape) or \
            not _views_nowhere(shape, strides, out):
        raise _NoFormula
    return layout_strides(TensorMeta(out, meta.dtype, meta.device), list(out))


def _views_nowhere(shape: list, strides: Strides, new: tuple) -> bool:
    """torch's computeStride (its chunks of dims contiguous among themselves, matched
    against the new sizes) fails: every comparison it makes is decided alike at every size,
    else there is no formula. Sizes are nonzero (its no-element case aside)."""
    if not shape:
        return False
    view_d, chunk_base = len(new) - 1, strides[-1]
    tensor_numel: Any = 1
    view_numel: Any = 1
    for d in range(len(shape) - 1, -1, -1):
        tensor_numel = tensor_numel * shape[d]
        if d == 0 or (_everywhere(shape[d - 1] != 1) and
                      _everywhere(strides[d - 1] != tensor_numel * chunk_base)):
            while view_d >= 0 and (_everywhere(view_numel < tensor_numel) or
                                   _everywhere(new[view_d] == 1)):
                view_numel = view_numel * new[view_d]
                view_d -= 1
            if _everywhere(view_numel != tensor_numel):
                return True
            if d > 0:
                chunk_base, tensor_numel, view_numel = strides[d - 1], 1, 1
    return view_d != -1


def _everywhere(cond: Any) -> bool:
    """A comparison of sizes decided alike at every size (no guard), else _NoFormula."""
    known = static_answer(cond)
    if known is None:
        raise _NoFormula
    return known


def _expr(value: Any, env: Any) -> Any:
    return env.resolve(value.expr) if isinstance(value, SymValue) else sympy.Integer(value)


def _same_size(a: Any, b: Any, env: Any) -> bool:
    """The same size at every size: equal ints or equal expressions (no guard)."""
    if type(a) is int and type(b) is int:
        return a == b
    return _expr(a, env) == _expr(b, env)


def _nonzero(size: Any, env: Any) -> bool:
    if type(size) is int:
        return size != 0
    # Through static_value: a size >= 1 only from 2 up is a decision the engine notes.
    return env.static_value(sympy.Ge(size.expr, 1)) is True


def _to(a: Bound, out: tuple) -> Strides:
    """to() of a dense tensor keeping its layout (preserve format): itself, or a copy with
    its strides."""
    meta = a["self"].meta
    if a.get("memory_format") not in (None, torch.preserve_format) or \
            a.get("layout") not in (None, torch.strided) or not dense_layout(meta):
        raise _NoFormula
    shape, strides = _input(a)
    if meta.sym_strides is not None and not _dense_everywhere(meta, shape, strides):
        raise _NoFormula        # dense at the hints only (a slice that is all of its input)
    return strides


def _dense_everywhere(meta: TensorMeta, shape: tuple, strides: Strides) -> bool:
    """Each stride, innermost first, is the product of the sizes inside it (as expressions)."""
    env = next((s.env for s in (*shape, *strides) if isinstance(s, SymValue)), None)
    if env is None:
        return True
    expected = sympy.Integer(1)
    for d in sorted(range(len(shape)), key=lambda d: (meta.strides[d], meta.hint_shape[d])):
        if type(shape[d]) is int and shape[d] == 1:     # (== of a SymInt would decide)
            continue
        if _expr(strides[d], env) != expected:
            return False
        expected = expected * _expr(shape[d], env)
    return True


def _contiguous_call(a: Bound, out: tuple) -> Strides:
    """contiguous(): itself when contiguous, else a contiguous copy; contiguous either way
    (strides of size-1 dims aside, which address nothing)."""
    if a.get("memory_format") not in (0, torch.contiguous_format):
        raise _NoFormula
    meta = a["self"].meta
    return layout_strides(TensorMeta(out, meta.dtype, meta.device), list(out))


def _contiguous(shape: tuple) -> tuple:
    return TensorMeta(shape, torch.float32, torch.device("meta")).strides


_FORMULAS: dict[Any, Callable[[Bound, tuple], Strides]] = {
    aten.slice.Tensor: _slice, aten.select.int: _select,
    aten.unsqueeze.default: _unsqueeze,
    aten.squeeze.default: _squeeze, aten.squeeze.dim: _squeeze, aten.squeeze.dims: _squeeze,
    aten.transpose.int: _transpose, aten.t.default: _transpose, aten.permute.default: _permute,
    aten.expand.default: _expand, aten.alias.default: _same, aten.detach.default: _same,
    aten.view.default: _view, aten.reshape.default: _reshape,
    aten.flatten.using_ints: _reshape, aten.unflatten.int: _reshape,
    aten.to.dtype_layout: _to, aten.to.device: _to, aten.to.dtype: _to, aten.to.other: _to,
    aten.contiguous.default: _contiguous_call,
}


def _split(a: Bound, outs: list) -> list:
    """split / split_with_sizes / chunk: narrow slices of the input, each with its strides."""
    strides = _input(a)[1]
    return [strides] * len(outs)


def _unbind(a: Bound, outs: list) -> list:
    return [_select(a, out) for out in outs]


# Several outputs: a list of strides, one per output.
_MULTI: dict[Any, Callable[[Bound, list], list]] = {
    aten.split.Tensor: _split, aten.split_with_sizes.default: _split, aten.chunk.default: _split,
    aten.unbind.int: _unbind,
}

# In-place ops that write their input's elements and return it, its layout unchanged (unlike
# t_, unsqueeze_ or resize_): the pointwise ones (torch.Tag.pointwise) and these.
_WRITES_IN_PLACE = frozenset({aten.copy_.default, aten.fill_.Scalar, aten.fill_.Tensor,
                              aten.zero_.default, aten.masked_fill_.Scalar,
                              aten.masked_fill_.Tensor})


def _returns_self_written(op: Any) -> bool:
    schema = op._schema
    if len(schema.returns) != 1 or not schema.name.endswith("_") or not schema.arguments:
        return False
    alias, first = schema.returns[0].alias_info, schema.arguments[0].alias_info
    return alias is not None and alias.is_write and first is not None and \
        first.before_set == alias.before_set and \
        (op in _WRITES_IN_PLACE or torch.Tag.pointwise in op.tags)


class _NoFormula(Exception):
    pass


def view_strides(op: Any, args: tuple, kwargs: dict, out_shapes: list) -> list | None:
    """The strides of each output of a view (or of an in-place op's returned input) by
    formula, or None when there is none for this call."""
    if not args or type(args[0]) is not TensorProxy:
        return None
    multi = _MULTI.get(op)
    formula = _FORMULAS.get(op)
    if formula is None and multi is None and len(out_shapes) == 1 and _returns_self_written(op):
        formula = _same
    try:
        if multi is not None:
            return multi(bind(op, args, kwargs), out_shapes)
        if formula is None or len(out_shapes) != 1:
            return None
        return [formula(bind(op, args, kwargs), out_shapes[0])]
    except _NoFormula:
        return None
