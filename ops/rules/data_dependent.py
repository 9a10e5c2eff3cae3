"""Data-dependent ops: output sizes that depend on tensor values become fresh unbacked
symbols (no hint), allocated in the trace's shape environment. These rules run for static
inputs too (`always=True`)."""
from __future__ import annotations

import torch

from .common import broadcast, expect_eq, numel, shape, wrap_dim
from .indexing import mask_count
from .rule_table import Bound, register

aten = torch.ops.aten


@register(aten.nonzero.default, always=True)
def nonzero(a: Bound):
    s = shape(a["self"])
    return (mask_count(a, s, "nonzero count"), len(s))


@register(aten.argwhere.default, always=True)
def argwhere(a: Bound):
    return nonzero(a)


@register(aten.masked_select.default, always=True)
def masked_select(a: Bound):
    s = broadcast(shape(a["self"]), shape(a["mask"]))
    return (mask_count(a, s, "masked_select count"),)


def _unique_count(a: Bound, s: tuple):
    total = numel(s)
    return a.unbacked("unique count", lower=0, upper=total if type(total) is int else None)


@register(aten._unique2.default, aten.unique_consecutive.default, always=True)
def unique(a: Bound):
    s = shape(a["self"])
    if a.op is aten.unique_consecutive.default and a["dim"] is not None:
        return _unique_dim(a, s, a["dim"])
    u = _unique_count(a, s)
    inverse = s if a["return_inverse"] else (0,)
    counts = (u,) if a["return_counts"] else (0,)
    return [(u,), inverse, counts]


def _unique_dim(a: Bound, s: tuple, dim: int):
    d = wrap_dim(dim, len(s))
    u = _unique_count(a, (s[d],))
    out = s[:d] + (u,) + s[d + 1:]
    inverse = (s[d],) if a["return_inverse"] else (0,)
    counts = (u,) if a["return_counts"] else (0,)
    return [out, inverse, counts]


@register(aten.unique_dim.default, aten.unique_dim_consecutive.default, always=True)
def unique_dim(a: Bound):
    return _unique_dim(a, shape(a["self"]), a["dim"])


@register(aten.one_hot.default, always=True)
def one_hot(a: Bound):
    n = a["num_classes"]
    if type(n) is int and n == -1:
        n = a.unbacked("one_hot num_classes", lower=1)
    return shape(a["self"]) + (n,)


@register(aten.repeat_interleave.self_int)
def repeat_interleave_int(a: Bound):
    s, r = shape(a["self"]), a["repeats"]
    if a["dim"] is None:
        n = numel(s) * r
        if a["output_size"] is not None:
            expect_eq(a["output_size"], n, "repeat_interleave(): output_size")
        return (n,)
    d = wrap_dim(a["dim"], len(s))
    return s[:d] + (s[d] * r,) + s[d + 1:]


@register(aten.repeat_interleave.Tensor, aten.repeat_interleave.self_Tensor, always=True)
def repeat_interleave_tensor(a: Bound):
    s = shape(a["self"]) if "self" in a else None
    n = a["output_size"]
    if n is None:
        n = a.unbacked("repeat_interleave output size", lower=0)
    if s is None or a.get("dim") is None:
        return (n,)
    d = wrap_dim(a["dim"], len(s))
    return s[:d] + (n,) + s[d + 1:]
