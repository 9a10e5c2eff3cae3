"""Small algebra the shape environment decides and learns with: negating a condition,
dropping a floor/ceiling from a relation, a linear form `a*s + b`, and interval bounds
arithmetic with infinities."""
from __future__ import annotations

import math
from fractions import Fraction
from typing import Optional

import sympy

from . import facts as F
from .ranges import INF


def negation(cond: sympy.Basic) -> sympy.Basic:
    c = F.canonical(cond)
    if c is None:
        return sympy.Not(cond)
    return F.to_relation(*F.negate(*c))


def without_rounding(kind: str, e: sympy.Expr) -> Optional[sympy.Basic]:
    """`a*floor(u) + c >= 0` (or `> 0`, or with ceiling) as the equivalent relation on u:
    floor(u) >= k iff u >= k, ceil(u) >= k iff u > k - 1 (k an integer)."""
    atoms = e.atoms(sympy.floor, sympy.ceiling)
    if len(atoms) != 1:
        return None
    (atom,) = atoms
    a = e.coeff(atom)
    c = sympy.expand(e - a * atom)
    if not (a.is_Rational and a != 0 and c.is_Rational):
        return None
    edge, u, is_floor = -c / a, atom.args[0], atom.func is sympy.floor
    if a > 0:       # atom >= k
        k = math.ceil(edge) if kind == F.GE else math.floor(edge) + 1
        return sympy.Ge(u, k) if is_floor else sympy.Gt(u, k - 1)
    k = math.floor(edge) if kind == F.GE else math.ceil(edge) - 1     # atom <= k
    return sympy.Lt(u, k + 1) if is_floor else sympy.Le(u, k)


def linear_form(e: sympy.Expr):
    """(symbol, a, b) when e == a*symbol + b with integer a != 0 and b, else None."""
    free = e.free_symbols
    if len(free) != 1:
        return None
    (s,) = free
    a = e.diff(s)
    if not a.is_Integer or a == 0:
        return None
    b = sympy.expand(e - a * s)
    if not b.is_Integer:
        return None
    return s, int(a), int(b)


def divide(num, den: int):
    if num in (INF, -INF):
        return num if den > 0 else -num
    return Fraction(num, den)


def ceil_bound(v):
    return v if v in (INF, -INF) else math.ceil(v)


def floor_bound(v):
    return v if v in (INF, -INF) else math.floor(v)


def reduced(rel: sympy.Basic) -> sympy.Basic:
    """`Eq(4*u0, 24)` as `Eq(u0, 6)`: an (in)equality of one symbol's integer multiple, divided
    by the common factor, as torch states the same fact."""
    if not isinstance(rel, (sympy.Eq, sympy.Ne)):
        return rel
    form = linear_form(rel.lhs - rel.rhs)
    if form is None:
        return rel
    s, a, b = form
    common = math.gcd(a, b)
    if common <= 1:
        return rel
    return rel.func(s * (a // common), -b // common)
