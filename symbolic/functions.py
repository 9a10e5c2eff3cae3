"""sympy functions for Python's float arithmetic on sizes (torch's SymFloat semantics).

`ToFloat(e)` is an integer expression used as a Python float (`torch.sym_float(n)`, `n / 2`,
`n * 2.0`): the same value, but the graph must compute a float (dtype promotion of a tensor
op's scalar argument depends on it). Deciding a condition never needs the type, so the
engine strips `ToFloat` first (`strip_float`). `TruncToInt` is `math.trunc`/`int()` of a
float whose sign is unknown, `RoundToInt` is `round()` (half to even, as Python).
Values at numbers are computed exactly (rationals through `fractions.Fraction`).
"""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import sympy
# sympy imports these lazily the first time it simplifies a floor/ceiling/round of a
# rational size; imported here, so that first time is never inside a native call the
# interpreter guards (which would stop the import's class definitions as foreign code).
import sympy.assumptions.wrapper  # noqa: F401
import sympy.combinatorics  # noqa: F401
import sympy.sets.setexpr  # noqa: F401
import sympy.tensor.tensor  # noqa: F401


def _exact(value: sympy.Basic):
    """A sympy number as an exact Python Fraction (floats exactly as stored)."""
    if value.is_Rational:
        return Fraction(int(value.p), int(value.q))
    return Fraction(float(value))


class ToFloat(sympy.Function):
    """An integer-valued expression as a Python float (same value, float type)."""

    is_real = True

    @classmethod
    def eval(cls, arg):
        if arg.is_Number:
            return sympy.Float(arg) if arg.is_Integer else arg
        if isinstance(arg, ToFloat):
            return arg
        return None


class _RoundedToInt(sympy.Function):
    """A rounding of a real to an integer (`rounding` on exact numbers; integers stay)."""

    is_integer = True
    rounding: Any = None

    @classmethod
    def eval(cls, arg):
        if arg.is_Number:
            return sympy.Integer(cls.rounding(_exact(arg)))
        if arg.is_integer:
            return arg
        return None


class TruncToInt(_RoundedToInt):
    """`math.trunc(x)`: rounds toward zero; an integer."""

    rounding = staticmethod(math.trunc)


class RoundToInt(_RoundedToInt):
    """`round(x)`: the nearest integer, ties to even (Python's rounding)."""

    rounding = staticmethod(round)


INTEGER_FUNCS = (TruncToInt, RoundToInt)


def strip_float(expr: sympy.Basic) -> sympy.Basic:
    """`expr` with every ToFloat(e) replaced by e: its value, for deciding conditions."""
    if isinstance(expr, sympy.Basic) and expr.has(ToFloat):
        return expr.replace(lambda e: isinstance(e, ToFloat), lambda e: e.args[0])
    return expr


def float_constant(value: float) -> sympy.Expr:
    """A Python float as sympy: exact when it is a short binary fraction (2.0, 0.5, 3.75),
    a sympy Float otherwise (0.1), so `ceil(n * 2.0)` simplifies to `2*n`."""
    if not math.isfinite(value):
        return sympy.Float(value)
    ratio = Fraction(value)
    if ratio.denominator <= 1 << 16 and abs(ratio.numerator) < 1 << 53:
        return sympy.Rational(ratio.numerator, ratio.denominator)
    return sympy.Float(value)
