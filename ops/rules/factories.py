"""Factories: sizes given as (possibly symbolic) arguments, *_like ops, arange/linspace."""
from __future__ import annotations

import math

import torch

from strict_tracer.symbolic import SymFloat

from .common import ceil_div, expect, shape
from .rule_table import Bound, register

aten = torch.ops.aten


@register(aten.zeros.default, aten.ones.default, aten.empty.memory_format,
          aten.full.default, aten.rand.default, aten.randn.default, aten.empty_strided.default,
          aten.randint.default, aten.randint.low, aten.rand.generator, aten.randn.generator)
def from_size(a: Bound):
    size = a["size"]
    for n in size:
        expect(n >= 0, "factory: negative size")
    return tuple(size)


@register(aten.new_zeros.default, aten.new_ones.default, aten.new_empty.default,
          aten.new_full.default, aten.new_empty_strided.default)
def new_from_size(a: Bound):
    return tuple(a["size"])


@register(aten.zeros_like.default, aten.ones_like.default, aten.empty_like.default,
          aten.full_like.default, aten.rand_like.default, aten.randn_like.default,
          aten.randint_like.default, aten.randint_like.low_dtype)
def like(a: Bound):
    return shape(a["self"])


def _is_integral(v) -> bool:
    return isinstance(v, int) or (hasattr(v, "expr") and not isinstance(v, SymFloat))


def arange_length(start, end, step):
    expect(step != 0, "arange(): step must be nonzero")
    if step > 0:
        expect(end >= start, "arange(): upper bound and step have inconsistent signs")
    else:
        expect(start >= end, "arange(): upper bound and step have inconsistent signs")
    if all(_is_integral(v) for v in (start, end, step)):
        return ceil_div(end - start, step) if step > 0 else ceil_div(start - end, -step)
    return math.ceil((end - start) / step)


@register(aten.arange.default, aten.arange.start, aten.arange.start_step)
def arange(a: Bound):
    start = a.get("start", 0)
    step = a.get("step", 1)
    return (arange_length(start, a["end"], step),)


@register(aten.linspace.default, aten.logspace.default)
def linspace(a: Bound):
    return (a["steps"],)


@register(aten.eye.default, aten.eye.m)
def eye(a: Bound):
    return (a["n"], a["m"] if "m" in a else a["n"])


@register(aten.scalar_tensor.default)
def scalar_tensor(a: Bound):
    return ()
