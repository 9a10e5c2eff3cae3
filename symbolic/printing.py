"""Print symbolic expressions as Python source, with symbols named by where they come from."""
from __future__ import annotations

from typing import Callable

import sympy

_REL_OPS = {sympy.Eq: "==", sympy.Ne: "!=", sympy.Lt: "<", sympy.Le: "<=", sympy.Gt: ">",
            sympy.Ge: ">="}


def to_python(expr: sympy.Basic, name: Callable[[sympy.Symbol], str] = str) -> str:
    """`expr` as a Python expression: floor(a/b) -> a // b, Mod(a, b) -> a % b."""
    return _p(expr, name)


def _p(e: sympy.Basic, name) -> str:
    if e is sympy.true:
        return "True"
    if e is sympy.false:
        return "False"
    if e.is_Symbol:
        return name(e)
    if e.is_Integer:
        return str(int(e))
    if e.is_Rational:
        return f"{e.p}/{e.q}"
    if e.is_Number:
        return repr(float(e))
    func = e.func
    if func in _REL_OPS:
        return f"{_p(e.lhs, name)} {_REL_OPS[func]} {_p(e.rhs, name)}"
    if func is sympy.Not:
        return f"not ({_p(e.args[0], name)})"
    if func in (sympy.And, sympy.Or):
        op = " and " if func is sympy.And else " or "
        return op.join(f"({_p(a, name)})" for a in e.args)
    if e.is_Add:
        terms = sorted(e.args, key=lambda t: (t.is_Number, sympy.default_sort_key(t)))
        text = _p(terms[0], name)
        for t in terms[1:]:
            if t.could_extract_minus_sign():
                text += f" - {_p(-t, name)}"
            else:
                text += f" + {_p(t, name)}"
        return text
    if e.is_Mul:
        coeff, rest = e.as_coeff_Mul()
        if coeff == -1:
            return f"-{_wrap(rest, name)}"
        num, den = sympy.fraction(e)
        if den != 1:
            return f"{_wrap(num, name)}/{_wrap(den, name)}"
        return "*".join(_wrap(a, name) for a in e.args)
    if e.is_Pow:
        return f"{_wrap(e.base, name)}**{_wrap(e.exp, name)}"
    if func is sympy.floor:
        num, den = sympy.fraction(e.args[0])
        if den != 1:
            return f"({_wrap(num, name)} // {_wrap(den, name)})"
        return f"math.floor({_p(e.args[0], name)})"
    if func is sympy.ceiling:
        return f"math.ceil({_p(e.args[0], name)})"
    if func is sympy.Mod:
        return f"({_wrap(e.args[0], name)} % {_wrap(e.args[1], name)})"
    if func in (sympy.Max, sympy.Min):
        return f"{func.__name__.lower()}({', '.join(_p(a, name) for a in e.args)})"
    if func is sympy.Abs:
        return f"abs({_p(e.args[0], name)})"
    return str(e)


def _wrap(e: sympy.Basic, name) -> str:
    text = _p(e, name)
    if e.is_Add or (e.is_Mul and len(e.args) > 1 and not e.args[0] == -1) or e.is_Relational:
        return f"({text})"
    return text
