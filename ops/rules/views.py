"""Views and shape ops: view/reshape (with -1), flatten/unflatten, squeeze/unsqueeze,
permute/transpose/t, expand, repeat, slice/select/narrow, movedim, unfold."""
from __future__ import annotations

import sys

import torch

from strict_tracer.symbolic import DataDependentError

from .common import (ceil_div, expect, expect_eq, is_one, numel, one_at_the_hint, same, shape,
                     wrap_dim, wrap_dims)
from .rule_table import Bound, ShapeRuleError, register

aten = torch.ops.aten


def infer_size(sizes: list, total) -> tuple:
    """view/reshape sizes with at most one -1, checked against the element count."""
    unknown = [i for i, s in enumerate(sizes) if type(s) is int and s == -1]
    if len(unknown) > 1:
        raise ShapeRuleError("only one dimension can be inferred")
    known = numel(s for i, s in enumerate(sizes) if i not in unknown)
    out = list(sizes)
    if unknown:
        expect(known != 0, "cannot infer a dim next to a size-0 dim")
        out[unknown[0]] = total // known
        known = known * out[unknown[0]]
    expect_eq(known, total, "view/reshape element count")
    return tuple(out)


def _contiguous_at_hints(t) -> bool:
    meta = t.meta
    expected = 1
    for size, stride in reversed(list(zip(meta.hint_shape, meta.strides))):
        if size != 1 and stride != expected:
            return False
        expected *= size
    return True


def reshape_comparisons(t, old: tuple, new: tuple) -> None:
    """Make the size comparisons torch's view/reshape algorithm makes on symbolic sizes
    (torch._refs._reshape_view_helper): each becomes the guard torch.export records. Matching
    the new dims to the old ones one by one, it finds `view(b, -1)` of a (b2, n) tensor to
    mean b2 == b, where the element count alone would only say b2 * n == b * (b2 * n // b)."""
    if numel(old) == 0 or not old or not new:
        return
    if _contiguous_at_hints(t) and ((len(new) == 1 and len(old) > 1) or
                                    (len(new) == 2 and len(old) == 1)):
        return          # torch's contiguous nd->1d and 1d->2d shortcuts compare nothing
    current, idx = list(old), 0
    for length in new:
        if idx >= len(current):           # tail unsqueeze: split the last dim as (n, 1)
            current.append(1)
            idx += 1
            continue
        if length == current[idx]:
            idx += 1
            continue
        accum, end = current[idx], idx
        while accum % length != 0:
            end += 1
            accum = accum * current[end]
        if end != idx:
            current[idx:end + 1] = [accum]
        if accum != length:
            current[idx:idx + 1] = [length, accum // length]
        idx += 1
    for extra in current[idx:]:
        expect(extra == 1, "view/reshape: trailing dims must be 1")


@register(aten.view.default, aten._unsafe_view.default, aten.reshape.default)
def view(a: Bound):
    s = shape(a["self"])
    sizes = a["size"] if "size" in a else a["shape"]
    out = infer_size(list(sizes), numel(s))
    reshape_comparisons(a["self"], s, out)
    return out


@register(aten.view_as.default, aten.reshape_as.default)
def view_as(a: Bound):
    target = shape(a["other"])
    return infer_size(list(target), numel(shape(a["self"])))


@register(aten.flatten.using_ints)
def flatten(a: Bound):
    s = shape(a["self"])
    if not s:
        return (1,)
    start, end = wrap_dim(a["start_dim"], len(s)), wrap_dim(a["end_dim"], len(s))
    expect(start <= end, "flatten() has start_dim after end_dim")
    return s[:start] + (numel(s[start:end + 1]),) + s[end + 1:]


@register(aten.unflatten.int)
def unflatten(a: Bound):
    s = shape(a["self"])
    dim = wrap_dim(a["dim"], len(s))
    inner = infer_size(list(a["sizes"]), s[dim])
    return s[:dim] + inner + s[dim + 1:]


@register(aten.squeeze.default, aten.squeeze.dim, aten.squeeze.dims, aten.squeeze_.default,
          aten.squeeze_.dim, aten.squeeze_.dims)
def squeeze(a: Bound):
    s = shape(a["self"])
    if "dim" in a and a["dim"] is not None:
        dims = set(wrap_dims(a["dim"] if isinstance(a["dim"], (list, tuple)) else [a["dim"]], len(s)))
    else:
        dims = set(range(len(s)))
    # A symbolic size in a squeezed position is guarded to be (or not be) 1.
    return tuple(size for i, size in enumerate(s) if not (i in dims and one_at_the_hint(size)))


@register(aten.unsqueeze.default, aten.unsqueeze_.default)
def unsqueeze(a: Bound):
    s = shape(a["self"])
    dim = wrap_dim(a["dim"], len(s) + 1)
    return s[:dim] + (1,) + s[dim:]


@register(aten.permute.default)
def permute(a: Bound):
    s = shape(a["self"])
    dims = wrap_dims(a["dims"], len(s))
    expect(sorted(dims) == list(range(len(s))), "permute() needs a permutation of the dims")
    return tuple(s[d] for d in dims)


@register(aten.transpose.int, aten.transpose_.default, aten.swapaxes.default,
          aten.swapdims.default, aten.swapaxes_.default, aten.swapdims_.default)
def transpose(a: Bound):
    s = shape(a["self"])
    names = [k for k in a if k != "self"]
    d0, d1 = (wrap_dim(a[n], len(s)) for n in names[:2])
    out = list(s)
    out[d0], out[d1] = s[d1], s[d0]
    return tuple(out)


@register(aten.t.default, aten.t_.default)
def t(a: Bound):
    s = shape(a["self"])
    expect(len(s) <= 2, "t() expects a tensor with <= 2 dimensions")
    return s[::-1] if len(s) == 2 else s


@register(aten.numpy_T.default)
def numpy_t(a: Bound):
    return shape(a["self"])[::-1]


@register(aten.mT.default, aten.mH.default, aten.adjoint.default)
def matrix_t(a: Bound):
    s = shape(a["self"])
    expect(len(s) >= 2, "matrix transpose needs >= 2 dims")
    return s[:-2] + (s[-1], s[-2])


@register(aten.movedim.int, aten.movedim.intlist, aten.moveaxis.int, aten.moveaxis.intlist)
def movedim(a: Bound):
    s = shape(a["self"])
    src = wrap_dims(a["source"] if isinstance(a["source"], (list, tuple)) else [a["source"]], len(s))
    dst = wrap_dims(a["destination"] if isinstance(a["destination"], (list, tuple))
                    else [a["destination"]], len(s))
    order: list[int | None] = [None] * len(s)
    for i, j in zip(src, dst):
        order[j] = i
    rest = iter(d for d in range(len(s)) if d not in src)
    return tuple(s[o if o is not None else next(rest)] for o in order)


def expanded(s: tuple, sizes: list) -> tuple:
    """expand(): -1 keeps a size; a size-1 dim (guarded if symbolic) takes the new size."""
    expect(len(sizes) >= len(s), "expand() cannot drop dims")
    lead = len(sizes) - len(s)
    out = []
    for i, target in enumerate(sizes):
        if i < lead:
            expect(not (type(target) is int and target < 0), "expand(): -1 in a new leading dim")
            out.append(target)
            continue
        current = s[i - lead]
        if (type(target) is int and target == -1) or same(current, target):
            out.append(current)
        elif is_one(current):
            out.append(target)
        else:
            expect_eq(current, target, "expand(): size of a non-singleton dim")
            out.append(current)
    return tuple(out)


@register(aten.expand.default)
def expand(a: Bound):
    return expanded(shape(a["self"]), list(a["size"]))


@register(aten.expand_as.default)
def expand_as(a: Bound):
    return expanded(shape(a["self"]), list(shape(a["other"])))


@register(aten.repeat.default)
def repeat(a: Bound):
    s = shape(a["self"])
    repeats = list(a["repeats"])
    expect(len(repeats) >= len(s), "repeat() needs at least one repeat per dim")
    padded = (1,) * (len(repeats) - len(s)) + tuple(s)
    return tuple(size * r for size, r in zip(padded, repeats))


@register(aten.tile.default)
def tile(a: Bound):
    s = shape(a["self"])
    reps = list(a["dims"])
    reps = [1] * (len(s) - len(reps)) + reps
    padded = (1,) * (len(reps) - len(s)) + tuple(s)
    return tuple(size * r for size, r in zip(padded, reps))


def _clamp_index(index, size):
    if index < 0:
        index = index + size
        if index < 0:
            return 0
    elif index > size:
        return size
    return index


def slice_length(size, start, end, step):
    """Length of `[start:end:step]` along a dim of `size` (Python slice clamping)."""
    expect(step > 0, "slice step must be positive")
    start = 0 if start is None else _clamp_index(start, size)
    if end is None or (type(end) is int and end >= sys.maxsize):
        end = size
    else:
        end = _clamp_index(end, size)
    if end <= start:
        return 0
    return ceil_div(end - start, step)


@register(aten.slice.Tensor)
def slice_(a: Bound):
    s = shape(a["self"])
    dim = wrap_dim(a["dim"], len(s))
    out = list(s)
    try:
        out[dim] = slice_length(s[dim], a["start"], a["end"], a["step"])
    except DataDependentError:
        # A bound read from tensor data (x[:n.item()]) whose sign or order against the size
        # is unknown: the length depends on data too, as torch.export has it.
        size = s[dim]
        out[dim] = a.unbacked("slice length", lower=0, upper=size if type(size) is int else None)
    return tuple(out)


@register(aten.select.int)
def select(a: Bound):
    s = shape(a["self"])
    expect(len(s) > 0, "select() on a 0-dim tensor")
    dim = wrap_dim(a["dim"], len(s))
    index, size = a["index"], s[dim]
    expect(index < size if not index < 0 else index >= -size, "select(): index out of range")
    return s[:dim] + s[dim + 1:]


@register(aten.narrow.default)
def narrow(a: Bound):
    s = shape(a["self"])
    dim = wrap_dim(a["dim"], len(s))
    start, length, size = a["start"], a["length"], s[dim]
    if start < 0:
        start = start + size
    expect(start >= 0, "narrow(): start out of range")
    expect(start + length <= size, "narrow(): start + length exceeds the size")
    out = list(s)
    out[dim] = length
    return tuple(out)


@register(aten.unfold.default)
def unfold(a: Bound):
    s = shape(a["self"])
    dim = wrap_dim(a["dimension"], len(s))
    size, step = a["size"], a["step"]
    base = s[dim] if s else 1
    expect(size <= base, "unfold(): size exceeds the dim")
    out = list(s)
    if s:
        out[dim] = (base - size) // step + 1
    return tuple(out) + (size,)
