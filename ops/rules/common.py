"""Helpers shared by the shape rules: shapes of arguments, checked facts, broadcasting.

Sizes are `int | SymInt`. Comparisons between symbolic sizes evaluate at the hints and
record guards (`SymBool.__bool__`), so a rule written as ordinary Python is correct for
every size that satisfies the guards it recorded. Facts the op requires (sizes that must
match) go through `expect`, the rules' `torch._check`: at the hints they hold (the oracle
ran the op), and the guard makes them hold wherever the graph is used.
"""
from __future__ import annotations

from typing import Any, Iterable

import sympy

from strict_tracer.proxy import TensorProxy
from strict_tracer.symbolic import CheckFailed, SymBool
from strict_tracer.symbolic import values

from .rule_table import ShapeRuleError

Size = Any          # int | SymInt


def is_tensor(value: Any) -> bool:
    return type(value) is TensorProxy


def shape(value: Any) -> tuple:
    """The shape of a tensor argument; Python numbers act as 0-dim tensors."""
    if type(value) is TensorProxy:
        return value.meta.shape
    return ()


def expect(cond: Any, message: str) -> None:
    """torch._check for rules: require `cond` (a bool or SymBool). A symbolic condition on
    backed sizes becomes a guard, one on unbacked sizes a runtime assert."""
    if isinstance(cond, SymBool):
        try:
            cond.env.check(cond.expr, cond.hint)
        except CheckFailed:
            raise ShapeRuleError(message) from None
    elif not cond:
        raise ShapeRuleError(message)


def expect_eq(a: Size, b: Size, what: str) -> None:
    if same(a, b):
        return
    # Formatting a symbolic size would specialize it (a guard): print expressions.
    expect(a == b, f"{what}: {getattr(a, 'expr', a)} != {getattr(b, 'expr', b)}")


def expect_divisible(n: Size, k: Size, what: str) -> None:
    """Require `n % k == 0` (channels into groups, a weight's dim 0 into groups): the
    divisibility fact torch's kernels check, recorded as the same `Mod(n, k) == 0` guard."""
    expect(n % k == 0, f"{what}: {getattr(n, 'expr', n)} is not divisible by {getattr(k, 'expr', k)}")


def same(a: Size, b: Size) -> bool:
    """True when two sizes are the same without asking for a guard."""
    if a is b:
        return True
    if type(a) is int or type(b) is int:
        return type(a) is int and type(b) is int and a == b
    return a.expr == b.expr


def is_one(size: Size) -> bool:
    """Whether a size is 1. Decided without a guard when ranges/facts know, and for sizes
    read from data (unbacked, size-like) "not 1" as torch's size-oblivious rules assume (a
    later `expect_eq` then becomes a runtime assert); otherwise a guard."""
    if type(size) is int:
        return size == 1
    known = size.env.evaluate_size_oblivious(sympy.Eq(size.expr, 1))
    if known is not None:
        return known
    return bool(size == 1)


def one_at_the_hint(size: Size) -> bool:
    """Whether a size is 1 where the answer changes the result's rank (squeeze): a size with an
    example value (backed_size_oblivious lets an example be 1) is decided there, with a guard;
    only a size read from data gets the size-oblivious "not 1"."""
    if type(size) is int or size.env.hint_value(size.expr) is None:
        return is_one(size)
    return bool(size == 1)


def statically_one(size: Size) -> bool:
    return type(size) is int and size == 1


def broadcast(*shapes: tuple) -> tuple:
    """Broadcast shapes as torch does; sizes that must agree become guards."""
    ndim = max((len(s) for s in shapes), default=0)
    out: list[Size] = []
    for i in range(ndim):
        result: Size = 1
        for s in shapes:
            k = i - (ndim - len(s))
            if k < 0:
                continue
            size = s[k]
            if statically_one(size) or same(size, result):
                continue
            if statically_one(result):
                result = size
            elif type(size) is int and type(result) is int:
                expect(size == result, f"cannot broadcast sizes {result} and {size}")
            elif is_one(size):
                continue
            elif is_one(result):
                result = size
            else:
                expect_eq(result, size, "broadcast")
        out.append(result)
    return tuple(out)


def wrap_dim(dim: int, ndim: int) -> int:
    """A dim index in [0, ndim); 0-dim tensors accept dims -1 and 0."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise ShapeRuleError(f"dim {dim} out of range for {ndim} dims")
    return dim % n


def wrap_dims(dims: Iterable[int], ndim: int) -> list[int]:
    return [wrap_dim(d, ndim) for d in dims]


def numel(sizes: Iterable[Size]) -> Size:
    n: Size = 1
    for s in sizes:
        n = n * s
    return n


def ceil_div(a: Size, b: Size) -> Size:
    """ceil(a / b) for integer sizes and a positive integer b."""
    if type(a) is int and type(b) is int:
        return -(-a // b)
    return (a + b - 1) // b


def sym_max(a: Size, b: Size) -> Size:
    """max() as an expression (`Max(a, b)`), no guard: torch's kernels do the same."""
    return values.sym_max(a, b)


def sym_min(a: Size, b: Size) -> Size:
    return values.sym_min(a, b)


def as_list(value: Any) -> list:
    """An int-list argument (a single int counts as a one-element list)."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def expand_param(value: Any, n: int, name: str) -> list:
    """Conv/pool parameters: one value for every spatial dim, or one per dim."""
    values = as_list(value)
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise ShapeRuleError(f"{name} needs 1 or {n} values, got {values}")
    return values
