"""Pointwise and broadcasting ops: the output has the broadcast shape of the tensor inputs.

One family rule covers every overload tagged `torch.Tag.pointwise` (add, mul, where, gelu,
clamp, comparisons, ...); in-place and `out=` variants keep the written tensor's shape,
which the other inputs must broadcast to. Untagged ops with the same semantics (the
`where`/`masked_fill` Scalar variants, bitwise dunders, dtype conversions) are listed.
"""
from __future__ import annotations

import torch

from .common import broadcast, expect_eq, is_tensor, shape
from .rule_table import Bound, ShapeRuleError, register, register_family

aten = torch.ops.aten


def _is_pointwise(op) -> bool:
    if torch.Tag.pointwise not in op.tags:
        return False
    # Tensor-list arguments (foreach ops) do not broadcast with the others.
    return not any(str(a.type).startswith("List[") and "Tensor" in str(a.type)
                   for a in op._schema.arguments)


def _written_arg(op) -> str | None:
    """The argument an in-place or out= overload writes and returns."""
    for arg in op._schema.arguments:
        if arg.alias_info is not None and arg.alias_info.is_write:
            return arg.name
    return None


def _tensor_shapes(a: Bound) -> list[tuple]:
    return [shape(v) for v in a.values() if is_tensor(v)]


@register_family(_is_pointwise)
def pointwise(a: Bound):
    written = _written_arg(a.op)
    if written is not None:
        return _into(a, written)
    out = broadcast(*_tensor_shapes(a))
    n = len(a.op._schema.returns)
    return out if n == 1 else [out] * n


def _into(a: Bound, written: str):
    """In-place/out=: inputs broadcast to the written tensor's shape, which is kept."""
    target = shape(a[written])
    inputs = [shape(v) for k, v in a.items() if is_tensor(v) and k != written]
    if written != "out":
        inputs.append(target)
    result = broadcast(*inputs) if inputs else target
    if len(result) != len(target):
        raise ShapeRuleError(f"{a.op}: result of rank {len(result)} cannot be written in place "
                             f"into rank {len(target)}")
    for r, t in zip(result, target):
        expect_eq(r, t, f"{a.op}: in-place output size")
    return target


@register(aten.where.ScalarOther, aten.where.ScalarSelf, aten.where.Scalar,
          aten.masked_fill.Tensor, aten.__and__.Tensor, aten.__or__.Tensor, aten.__xor__.Tensor,
          aten.__lshift__.Tensor, aten.__rshift__.Tensor, aten.__and__.Scalar, aten.__or__.Scalar,
          aten.__xor__.Scalar, aten.__lshift__.Scalar, aten.__rshift__.Scalar,
          aten.bitwise_and.Scalar_Tensor, aten.bitwise_or.Scalar_Tensor,
          aten.bitwise_xor.Scalar_Tensor, aten.rsub.Tensor, aten.rsub.Scalar,
          aten.xlogy.Scalar_Self, aten.polar.default, aten.complex.default,
          aten.masked_fill_.Scalar, aten.masked_fill_.Tensor, aten.__iand__.Tensor,
          aten.__ior__.Tensor, aten.__ixor__.Tensor, aten.__ilshift__.Tensor,
          aten.__irshift__.Tensor)
def broadcasting(a: Bound):
    return pointwise(a)


@register(aten.to.dtype, aten.to.dtype_layout, aten.to.device, aten.to.other, aten.type_as,
          aten._to_copy, aten.lift_fresh, aten.lift_fresh_copy, aten.lift, aten.alias,
          aten.detach, aten.detach_, aten.contiguous, aten.clone, aten._conj, aten.conj,
          aten.resolve_conj, aten.resolve_neg, aten.fill_, aten.fill,
          aten.zero_, aten.zero, aten.requires_grad_, aten.dropout, aten.dropout_,
          aten.feature_dropout, aten.alpha_dropout, aten.feature_alpha_dropout,
          aten.bernoulli, aten.bernoulli_, aten.normal_, aten.uniform_, aten.random_,
          aten.exponential_, aten.cauchy_, aten.log_normal_, aten.geometric_, aten.rrelu,
          aten.nan_to_num, aten.nan_to_num_, aten.positive, aten.sgn)
def same_as_self(a: Bound):
    """The output has the first tensor argument's shape (conversions, copies, fills)."""
    first = next(iter(a.values()))
    return shape(first)


@register(aten.copy_)
def copy_(a: Bound):
    return _into(a, "self")


@register(aten.native_dropout)
def native_dropout(a: Bound):
    s = shape(a["input"])
    return [s, s]
