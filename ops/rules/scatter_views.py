"""Scatters into views (functionalization's inverse of a view mutation) and the functional copy.

The result has self's shape. What the kernels check besides is a guard like any other:
- slice/select/diagonal_scatter: torch's meta kernels check nothing about src (the CPU kernel
  checks at run time), so torch.export records no guard; neither do we.
- copy: src must broadcast to self, as its meta kernel checks.
- as_strided_scatter has no rule: its checks (src has the strided view's sizes, the view fits
  in self's storage) come from torch's kernel through the fallback.
"""
from __future__ import annotations

import torch

from .common import broadcast, expect, expect_eq, shape
from .rule_table import Bound, register

aten = torch.ops.aten


@register(aten.slice_scatter.default, aten.select_scatter.default, aten.diagonal_scatter.default)
def scatter_into_view(a: Bound):
    return shape(a["self"])


@register(aten.copy.default)
def copy(a: Bound):
    s = shape(a["self"])
    src = shape(a["src"])
    expect(len(src) <= len(s), "copy(): src has more dims than self")
    for got, need in zip(broadcast(s, src), s):
        expect_eq(got, need, "copy(): src must broadcast to self's shape")
    return s
