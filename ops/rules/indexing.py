"""Indexing: advanced indexing (index.Tensor, with broadcasting tensor indices and boolean
masks), index_put, gather/scatter, index_select and friends."""
from __future__ import annotations

import torch

from .common import broadcast, expect, expect_eq, is_tensor, numel, shape, wrap_dim
from .rule_table import Bound, register

aten = torch.ops.aten

_MASK_DTYPES = (torch.bool, torch.uint8)


def mask_count(a: Bound, mask_shape: tuple, what: str):
    """An unbacked size: how many elements of a mask are set (0 <= n <= numel)."""
    total = numel(mask_shape)
    return a.unbacked(what, lower=0, upper=total if type(total) is int else None)


def indexed_shape(self_shape: tuple, indices: list, a: Bound) -> tuple:
    """Result shape of `self[indices]` for a list of index tensors / None (advanced indexing)."""
    dim = 0
    advanced: list[tuple] = []      # broadcastable shapes of the tensor indices
    positions: list[int] = []       # entry number of each advanced index
    entries = 0
    kept: list[tuple[int, object]] = []   # (entry number, size) of dims taken whole
    for index in indices:
        if index is None:
            expect(dim < len(self_shape), "too many indices")
            kept.append((entries, self_shape[dim]))
            dim += 1
            entries += 1
            continue
        expect(is_tensor(index), "index entries must be tensors or None")
        s = shape(index)
        if index.meta.dtype in _MASK_DTYPES:
            expect(dim + len(s) <= len(self_shape), "mask has too many dims")
            for k, size in enumerate(s):
                expect_eq(size, self_shape[dim + k], "mask shape")
            advanced.append((mask_count(a, s, "nonzero count of a boolean index"),))
            positions.append(entries)
            dim += max(len(s), 0)
            entries += 1
            continue
        expect(dim < len(self_shape), "too many indices")
        advanced.append(s)
        positions.append(entries)
        dim += 1
        entries += 1
    for size in self_shape[dim:]:
        kept.append((entries, size))
        entries += 1
    if not advanced:
        return tuple(size for _, size in kept)
    result = broadcast(*advanced)
    adjacent = positions == list(range(positions[0], positions[0] + len(positions)))
    if adjacent:
        before = tuple(size for e, size in kept if e < positions[0])
        after = tuple(size for e, size in kept if e > positions[-1])
        return before + result + after
    return result + tuple(size for _, size in kept)


@register(aten.index.Tensor, aten._unsafe_index.Tensor, always=True)
def index(a: Bound):
    return indexed_shape(shape(a["self"]), list(a["indices"]), a)


@register(aten.index_put.default, aten.index_put_.default, aten._unsafe_index_put.default,
          aten.index_add.default, aten.index_add_.default, aten.index_copy.default,
          aten.index_copy_.default, aten.index_fill.int_Scalar, aten.index_fill_.int_Scalar,
          aten.index_fill.int_Tensor, aten.index_fill_.int_Tensor, aten.scatter.src,
          aten.scatter.value, aten.scatter.reduce, aten.scatter.value_reduce, aten.scatter_.src,
          aten.scatter_.value, aten.scatter_add.default, aten.scatter_add_.default,
          aten.scatter_reduce.two, aten.scatter_reduce_.two, aten.masked_scatter.default,
          aten.masked_scatter_.default, aten.index_reduce.default, aten.put.default,
          aten.put_.default)
def into_self(a: Bound):
    """Ops that write values into (a copy of) self: the result has self's shape."""
    return shape(a["self"])


@register(aten.gather.default)
def gather(a: Bound):
    s, idx = shape(a["self"]), shape(a["index"])
    expect(len(idx) == len(s) or (not s and len(idx) <= 1), "gather(): index rank")
    wrap_dim(a["dim"], len(s))
    return idx


@register(aten.take.default)
def take(a: Bound):
    return shape(a["index"])


@register(aten.index_select.default)
def index_select(a: Bound):
    s, idx = shape(a["self"]), shape(a["index"])
    expect(len(idx) <= 1, "index_select(): index must be 0-d or 1-d")
    if not s:
        return ()
    d = wrap_dim(a["dim"], len(s))
    return s[:d] + (numel(idx),) + s[d + 1:]
