"""Facts about symbolic expressions in a canonical form, and what they imply.

A relation is kept as `(kind, e)` meaning `e >= 0` (GE), `e > 0` (GT), `e == 0` (EQ) or
`e != 0` (NE), with `e` expanded. For integer `e`, strict inequalities fold into GE
(`a < b` is `b - a - 1 >= 0`), and EQ/NE fix the sign of `e`, so equal facts look equal.
Implication is deliberately simple: a fact implies a query when the two differ by a
constant of the right sign (`u0 - 10 >= 0` implies `u0 - 4 >= 0`). That is the "basic
reasoning" torch._check users rely on, without calling sympy's solvers.
"""
from __future__ import annotations

from typing import Optional

import sympy

GE, GT, EQ, NE = "ge", "gt", "eq", "ne"

_REL = {sympy.Ge: GE, sympy.Gt: GT, sympy.Le: GE, sympy.Lt: GT, sympy.Eq: EQ, sympy.Ne: NE}


def canonical(rel: sympy.Basic) -> Optional[tuple[str, sympy.Expr]]:
    """`rel` as (kind, e), or None for anything that is not a single relation."""
    func = rel.func
    kind = _REL.get(func)
    if kind is None:
        return None
    if func in (sympy.Le, sympy.Lt):
        e = sympy.expand(rel.rhs - rel.lhs)
    else:
        e = sympy.expand(rel.lhs - rel.rhs)
    e = _cleared(e)
    if kind == GT and e.is_integer:
        return GE, e - 1
    if kind in (EQ, NE):
        e = _as_mod(e)
        if e.could_extract_minus_sign():
            e = -e
    return kind, e


def _cleared(e: sympy.Expr) -> sympy.Expr:
    """`e` times the positive lcm of its rational coefficients' denominators, so that
    `n/2 - 5` and `n - 10` are one fact (and `n == 10` a replacement)."""
    scale = 1
    for term in sympy.Add.make_args(e):
        coeff = term.as_coeff_Mul()[0]
        if not coeff.is_Rational:
            return e
        scale = sympy.ilcm(scale, coeff.q)
    return e if scale == 1 else sympy.expand(scale * e)


def _as_mod(e: sympy.Expr) -> sympy.Expr:
    """`p - q*floor(p/q)` (how divisibility checks are often written) as `Mod(p, q)`."""
    if not e.is_Add:
        return e
    for f in e.atoms(sympy.floor):
        p, q = sympy.fraction(f.args[0])
        if not q.is_Integer or q == 1:
            continue
        remainder = sympy.expand(p - q * f)
        if sympy.expand(e - remainder) == 0:
            return sympy.Mod(p, q)
        if sympy.expand(e + remainder) == 0:
            return -sympy.Mod(p, q)
    return e


def negate(kind: str, e: sympy.Expr) -> tuple[str, sympy.Expr]:
    """The canonical form of `not (e kind 0)`."""
    if kind == EQ:
        return NE, e
    if kind == NE:
        return EQ, e
    if kind == GE:
        return (GE, -e - 1) if e.is_integer else (GT, -e)
    return GE, -e          # not (e > 0)  is  -e >= 0


def to_relation(kind: str, e: sympy.Expr) -> sympy.Basic:
    if kind == GE:
        return sympy.Ge(e, 0)
    if kind == GT:
        return sympy.Gt(e, 0)
    if kind == EQ:
        return sympy.Eq(e, 0)
    return sympy.Ne(e, 0)


def _const(diff: sympy.Expr):
    return diff if diff.is_Number else None


class Facts:
    """A set of canonical facts with constant-offset implication."""

    def __init__(self) -> None:
        self.items: dict[str, list[sympy.Expr]] = {GE: [], GT: [], EQ: [], NE: []}

    def add(self, kind: str, e: sympy.Expr) -> None:
        if e not in self.items[kind]:
            self.items[kind].append(e)

    def __bool__(self) -> bool:
        return any(self.items.values())

    def _at_least(self, e: sympy.Expr, strict: bool) -> bool:
        """Do the facts imply e >= 0 (or e > 0 when strict)?"""
        for f in self.items[GE]:                       # f >= 0 and e - f = c
            c = _const(e - f)
            if c is not None and (c > 0 if strict else c >= 0):
                return True
        for f in self.items[GT]:                       # f > 0 and e - f = c >= 0
            c = _const(e - f)
            if c is not None and c >= 0:
                return True
        for f in self.items[EQ]:                       # f == 0: e = c or e = -f + c
            for g in (e - f, e + f):
                c = _const(g)
                if c is not None and (c > 0 if strict else c >= 0):
                    return True
        return False

    def implies(self, kind: str, e: sympy.Expr) -> Optional[bool]:
        """True/False when the facts decide `e kind 0`, else None."""
        if not self:
            return None
        if kind in (EQ, NE):
            equal = None
            if e in self.items[EQ]:
                equal = True
            elif e in self.items[NE] or self._at_least(e, True) or self._at_least(-e, True):
                equal = False
            if equal is None:
                return None
            return equal if kind == EQ else not equal
        strict = kind == GT
        if self._at_least(e, strict):
            return True
        negated = negate(kind, e)
        if self._at_least(negated[1], negated[0] == GT):
            return False
        return None
