"""Joining and splitting: cat/stack/hstack/vstack, split/split_with_sizes/chunk/unbind.

Splits return one tensor per piece, so the number of pieces must be a Python int: when it
depends on a symbolic size, `int()` guards it to its value at the hints.
"""
from __future__ import annotations

import torch

from .common import ceil_div, expect, expect_eq, shape, wrap_dim
from .rule_table import Bound, register

aten = torch.ops.aten


def _skipped_in_cat(s: tuple) -> bool:
    """Legacy behaviour: 1-d empty tensors are ignored by cat."""
    return len(s) == 1 and type(s[0]) is int and s[0] == 0


def concat(shapes: list[tuple], dim: int) -> tuple:
    kept = [s for s in shapes if not _skipped_in_cat(s)]
    if not kept:
        return (0,)
    ref = kept[0]
    d = wrap_dim(dim, len(ref))
    total = 0
    for s in kept:
        expect(len(s) == len(ref), "cat(): tensors must have the same number of dims")
        for i, (x, y) in enumerate(zip(s, ref)):
            if i != d:
                expect_eq(x, y, f"cat(): size of dim {i}")
        total = total + s[d]
    return ref[:d] + (total,) + ref[d + 1:]


@register(aten.cat.default, aten.concat.default, aten.concatenate.default)
def cat(a: Bound):
    return concat([shape(t) for t in a["tensors"]], a["dim"])


@register(aten.stack.default)
def stack(a: Bound):
    shapes = [shape(t) for t in a["tensors"]]
    expect(len(shapes) > 0, "stack() needs at least one tensor")
    ref = shapes[0]
    for s in shapes[1:]:
        expect(len(s) == len(ref), "stack(): tensors must have the same shape")
        for x, y in zip(s, ref):
            expect_eq(x, y, "stack(): tensor sizes")
    d = wrap_dim(a["dim"], len(ref) + 1)
    return ref[:d] + (len(shapes),) + ref[d:]


def _at_least(s: tuple, n: int) -> tuple:
    if len(s) >= n:
        return s
    if n == 2:
        return (1,) + s if len(s) == 1 else (1, 1)
    return {0: (1, 1, 1), 1: (1,) + s + (1,), 2: s + (1,)}[len(s)]


@register(aten.hstack.default)
def hstack(a: Bound):
    shapes = [_at_least(shape(t), 1) for t in a["tensors"]]
    return concat(shapes, 0 if len(shapes[0]) == 1 else 1)


@register(aten.vstack.default, aten.row_stack.default)
def vstack(a: Bound):
    return concat([_at_least(shape(t), 2) for t in a["tensors"]], 0)


def pieces(s: tuple, dim: int, sizes: list) -> list[tuple]:
    return [s[:dim] + (n,) + s[dim + 1:] for n in sizes]


@register(aten.split.Tensor, aten.unsafe_split.Tensor)
def split(a: Bound):
    s = shape(a["self"])
    dim = wrap_dim(a["dim"], len(s))
    size, step = s[dim], a["split_size"]
    if type(step) is int and step == 0:
        expect(size == 0, "split_size 0 needs an empty dim")
        return [s]
    count = max(int(ceil_div(size, step)), 1)
    return pieces(s, dim, [step] * (count - 1) + [size - step * (count - 1)])


@register(aten.split_with_sizes.default, aten.unsafe_split_with_sizes.default,
          aten.split.sizes)
def split_with_sizes(a: Bound):
    s = shape(a["self"])
    dim = wrap_dim(a["dim"], len(s))
    sizes = list(a["split_sizes"] if "split_sizes" in a else a["split_size"])
    total = 0
    for n in sizes:
        total = total + n
    expect_eq(total, s[dim], "split_with_sizes(): sizes must add up to the dim")
    return pieces(s, dim, sizes)


@register(aten.chunk.default, aten.unsafe_chunk.default)
def chunk(a: Bound):
    s = shape(a["self"])
    dim = wrap_dim(a["dim"], len(s))
    size = s[dim]
    step = ceil_div(size, a["chunks"])
    if type(step) is int and step == 0:
        return [s]
    count = int(ceil_div(size, step))
    return pieces(s, dim, [step] * (count - 1) + [size - step * (count - 1)])


@register(aten.unbind.int)
def unbind(a: Bound):
    s = shape(a["self"])
    dim = wrap_dim(a["dim"], len(s))
    return [s[:dim] + s[dim + 1:]] * int(s[dim])


@register(aten.tensor_split.sections)
def tensor_split(a: Bound):
    s = shape(a["self"])
    dim = wrap_dim(a["dim"], len(s))
    n, size = a["sections"], s[dim]
    base, extra = size // n, size % n
    extra_count = int(extra)
    return pieces(s, dim, [base + 1] * extra_count + [base] * (n - extra_count))
