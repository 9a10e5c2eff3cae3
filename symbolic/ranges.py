"""Value ranges: interval bounds of sympy expressions, decided without sympy's solvers.

`bound(expr, range_of)` walks the expression tree once and combines the intervals of its
symbols (given by `range_of`) with interval arithmetic. Bounds are Python ints or floats, with
`math.inf` for unbounded ends. It is conservative: a result always contains every value the
expression can take; unknown constructs give (-inf, inf).
"""
from __future__ import annotations

import math
from typing import Callable

import sympy

from .functions import RoundToInt, ToFloat, TruncToInt

INF = math.inf
Range = tuple  # (lower, upper): int | float, possibly -inf / inf
UNKNOWN: Range = (-INF, INF)


def _num(value: sympy.Basic) -> int | float:
    if value.is_Integer:
        return int(value)
    if value is sympy.oo or value is sympy.S.Infinity:
        return INF
    if value is sympy.S.NegativeInfinity:
        return -INF
    if value.is_Rational:
        return value.p / value.q
    try:
        return float(value)
    except TypeError:
        return math.nan


def _mul(a: Range, b: Range) -> Range:
    products = []
    for x in a:
        for y in b:
            if (x == 0 and math.isinf(y)) or (y == 0 and math.isinf(x)):
                products.append(0)
            else:
                products.append(x * y)
    return (min(products), max(products))


def _pow(base: Range, exp: int) -> Range:
    lo, hi = base
    if exp == 0:
        return (1, 1)
    if exp > 0:
        if exp % 2 == 1 or lo >= 0:
            return (_ipow(lo, exp), _ipow(hi, exp))
        if hi <= 0:
            return (_ipow(hi, exp), _ipow(lo, exp))
        return (0, max(_ipow(lo, exp), _ipow(hi, exp)))
    if lo > 0 or hi < 0:  # 1 / x**n with x away from zero
        inv = _pow(base, -exp)
        ends = [1 / v if not math.isinf(v) else 0 for v in inv]
        return (min(ends), max(ends))
    return UNKNOWN


def _ipow(v, e):
    if math.isinf(v):
        return v if e % 2 == 1 or v > 0 else INF
    return v ** e


def _floor(v):
    return v if math.isinf(v) else math.floor(v)


def _ceil(v):
    return v if math.isinf(v) else math.ceil(v)


def _mod(a: Range, b: Range) -> Range:
    blo, bhi = b
    if blo > 0:
        alo, ahi = a
        if alo >= 0 and ahi < blo:
            return a
        top = bhi - 1 if not math.isinf(bhi) else INF
        if alo >= 0:
            top = min(top, ahi)
        return (0, top)
    return UNKNOWN


def _negative_over_positive(expr: sympy.Basic, range_of: Callable[[sympy.Symbol], Range]) -> bool:
    """expr is c / s with a constant c < 0 and a symbol s >= 1 (so expr < 0 strictly)."""
    if not expr.is_Mul or len(expr.args) != 2:
        return False
    c, inverse = expr.args
    return c.is_Number and c < 0 and inverse.is_Pow and inverse.args[1] == -1 and \
        inverse.args[0].is_Symbol and range_of(inverse.args[0])[0] >= 1


def bound(expr: sympy.Basic, range_of: Callable[[sympy.Symbol], Range]) -> Range:
    """Lower and upper bound of `expr` given the ranges of its symbols."""
    if expr.is_Number:
        v = _num(expr)
        return (v, v)
    if expr.is_Symbol:
        return range_of(expr)
    if expr.is_Add:
        lo = hi = 0
        for arg in expr.args:
            a, b = bound(arg, range_of)
            lo, hi = lo + a, hi + b
            if math.isnan(lo) or math.isnan(hi):
                return UNKNOWN
        return (lo, hi)
    if expr.is_Mul:
        acc: Range = (1, 1)
        for arg in expr.args:
            acc = _mul(acc, bound(arg, range_of))
        return acc
    if expr.is_Pow:
        base, exp = expr.args
        if exp.is_Integer:
            return _pow(bound(base, range_of), int(exp))
        return _real_pow(bound(base, range_of), exp)
    func = expr.func
    if func is sympy.floor:
        lo, hi = bound(expr.args[0], range_of)
        if hi == 0 and _negative_over_positive(expr.args[0], range_of):
            hi = -1        # c/s < 0 never reaches 0: floor(c/s) <= -1 (the ceil-div pattern)
        return (_floor(lo), _floor(hi))
    if func is sympy.ceiling:
        lo, hi = bound(expr.args[0], range_of)
        return (_ceil(lo), _ceil(hi))
    if func is sympy.Mod:
        return _mod(bound(expr.args[0], range_of), bound(expr.args[1], range_of))
    if func is sympy.Max:
        bs = [bound(a, range_of) for a in expr.args]
        return (max(b[0] for b in bs), max(b[1] for b in bs))
    if func is sympy.Min:
        bs = [bound(a, range_of) for a in expr.args]
        return (min(b[0] for b in bs), min(b[1] for b in bs))
    if func is ToFloat:
        return bound(expr.args[0], range_of)
    if func in _MONOTONE:
        lo, hi = bound(expr.args[0], range_of)
        f = _MONOTONE[func]
        return (lo if math.isinf(lo) else f(lo), hi if math.isinf(hi) else f(hi))
    if func is sympy.Piecewise:
        bs = [bound(pair.args[0], range_of) for pair in expr.args]
        return (min(b[0] for b in bs), max(b[1] for b in bs))
    if func is sympy.Abs:
        lo, hi = bound(expr.args[0], range_of)
        if lo >= 0:
            return (lo, hi)
        if hi <= 0:
            return (-hi, -lo)
        return (0, max(-lo, hi))
    return UNKNOWN


_MONOTONE = {TruncToInt: math.trunc, RoundToInt: round}


def _real_pow(base: Range, exp: sympy.Basic) -> Range:
    """base ** exp for a positive constant non-integer exponent over a non-negative base."""
    if not exp.is_number or not exp.is_positive or base[0] < 0:
        return UNKNOWN
    e = float(exp)
    return (base[0] ** e, INF if math.isinf(base[1]) else base[1] ** e)


def bound_relaxing_floors(expr: sympy.Basic, range_of: Callable[[sympy.Symbol], Range]) -> Range:
    """bound(), tightened for expressions linear in floor/ceiling terms: each such term is
    replaced by the side of `u - (q-1)/q <= floor(u) <= u` (u = p/q) that gives a lower
    (upper) bound, so sympy cancels the symbols the floor shares with the rest of the
    expression: `s - s//2` is bounded by `s/2`, where plain interval arithmetic on `s` and
    `s//2` separately gives `[lo - hi/2, hi - lo/2]`."""
    lo, hi = bound(expr, range_of)
    atoms = [a for a in expr.atoms(sympy.floor, sympy.ceiling)
             if not a.args[0].has(sympy.floor, sympy.ceiling)]
    if not atoms or not expr.is_Add:
        return lo, hi
    low_sub, high_sub = {}, {}
    for atom in atoms:
        coeff = expr.coeff(atom)
        if not coeff.is_Number or coeff == 0:
            return lo, hi
        u = atom.args[0]
        q = sympy.fraction(sympy.together(u))[1]
        slack = (q - 1) / q if q.is_Integer and q > 0 else sympy.Integer(1)
        below, above = (u - slack, u) if atom.func is sympy.floor else (u, u + slack)
        low_sub[atom], high_sub[atom] = (below, above) if coeff > 0 else (above, below)
    relaxed_lo = bound(expr.xreplace(low_sub), range_of)[0]
    relaxed_hi = bound(expr.xreplace(high_sub), range_of)[1]
    if expr.is_integer:     # round inward, forgiving float error in the rational bounds
        relaxed_lo, relaxed_hi = _ceil(relaxed_lo - 1e-9), _floor(relaxed_hi + 1e-9)
    return max(lo, relaxed_lo), min(hi, relaxed_hi)


def decide(rel: sympy.Basic, range_of: Callable[[sympy.Symbol], Range]) -> bool | None:
    """True/False when the ranges alone decide the relation, else None."""
    if rel is sympy.true or rel is sympy.false:     # folded by a substitution
        return rel is sympy.true
    func = rel.func
    if func in (sympy.Lt, sympy.Le, sympy.Gt, sympy.Ge, sympy.Eq, sympy.Ne):
        lo, hi = bound_relaxing_floors(rel.lhs - rel.rhs, range_of)
        if math.isnan(lo) or math.isnan(hi):
            return None
        if func is sympy.Lt:
            return True if hi < 0 else (False if lo >= 0 else None)
        if func is sympy.Le:
            return True if hi <= 0 else (False if lo > 0 else None)
        if func is sympy.Gt:
            return True if lo > 0 else (False if hi <= 0 else None)
        if func is sympy.Ge:
            return True if lo >= 0 else (False if hi < 0 else None)
        if func is sympy.Eq:
            if lo == hi == 0:
                return True
            return False if lo > 0 or hi < 0 else None
        if lo == hi == 0:
            return False
        return True if lo > 0 or hi < 0 else None
    if func is sympy.Not:
        inner = decide(rel.args[0], range_of)
        return None if inner is None else not inner
    if func is sympy.And:
        results = [decide(a, range_of) for a in rel.args]
        if any(r is False for r in results):
            return False
        return True if all(r is True for r in results) else None
    if func is sympy.Or:
        results = [decide(a, range_of) for a in rel.args]
        if any(r is True for r in results):
            return True
        return False if all(r is False for r in results) else None
    return None


def intersect(a: Range, b: Range) -> Range:
    return (max(a[0], b[0]), min(a[1], b[1]))
