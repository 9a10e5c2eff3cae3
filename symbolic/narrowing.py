"""Guards that narrow a declared-dynamic dimension beyond what the program reports.

An exported program reports what tracing learned about its input sizes in two places: the
range of each dimension (`range_constraints`) and the placeholder shapes (two dims equal,
one twice the other). Every other guard only reaches `ep.module()`'s runtime check. Such a
guard may relate dimensions (`a >= b`, `(a*b) % c == 0`: every size of each dimension still
has valid inputs), and then it is left to that check, as torch.export does. But a guard that
leaves some size of a dimension the user declared dynamic with no valid input at all —
`2*batch*seq == 64`, `seq % 4 == 0`, `seq**2 == 64` — narrows that dimension while its
reported range says otherwise. On a named `Dim` (or derived) that is a
ConstraintViolationError naming the guard, the user's line and a size it rules out. On
`Dim.DYNAMIC`, whose contract (torch.export's) is "dynamic, relations inferred by export,
an error only when specialized": a guard that leaves only finitely many sizes
(`keeps_dynamic` is false) is a violation too; one that keeps sizes arbitrarily far out
(`seq % 4 == 0`) stays the program's runtime check and is reported in a warning.

A guard narrows dimension `d` when some size `v` in d's range makes it unsatisfiable for
every value of the other symbols. Sizes are tried from a fixed list (the low end, around the
example, a few larger ones); unsatisfiability is proven, never guessed: the ranges decide
it, or an equation has no integer solution (a content/gcd test, the integer roots of a
polynomial in one symbol, residues of a divisibility). A guard nothing proves narrowing
stays a runtime check, and so does a condition the program states itself (`torch._check`).
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import sympy

from . import facts as F
from .dims import DYNAMIC, NAMED
from .functions import strip_float
from .ranges import INF, decide

_RESIDUE_LIMIT = 4096      # residue combinations tried for a divisibility guard
_SPAN = 512                # sizes enumerated for one bounded symbol
_FAR = 2 ** 20             # where "sizes far out" start
_FAR_WINDOW = 64           # sizes tried there


@dataclass
class Narrowing:
    """One declared symbol a guard narrows: the guard, where it was added, a size it rules
    out, and the sizes of a window of the range that are not ruled out (for fixes)."""

    symbol: sympy.Symbol
    fact: sympy.Basic
    provenance: Any
    excluded: int
    allowed: list


def find_narrowings(env, by_symbol: dict, skip_univariate: Callable[[Any], bool]) -> list:
    """Narrowings of the DYNAMIC and named symbols in `by_symbol` by `env`'s guards.

    `skip_univariate(spec)`: whether a guard on that symbol alone is reported elsewhere.
    """
    declared = {s: spec for s, spec in by_symbol.items()
                if spec.kind in (DYNAMIC, NAMED) and env.resolve(s) == s}
    found: list[Narrowing] = []
    seen: set = set()
    for guard in env.guards:
        if guard.kind == "check":
            continue        # torch._check: the program states it; its runtime check is meant
        fact = strip_float(env.resolve(guard.expr))
        if fact in (sympy.true, sympy.false) or not isinstance(fact, sympy.Basic):
            continue
        free = fact.free_symbols
        mine = [s for s in free if s in declared]
        if not mine or any(_unbacked(env, s) for s in free) or _is_bound(fact):
            continue
        if decide(fact, env.range_of) is True:
            continue
        for s in sorted(mine, key=lambda sym: sym.name):
            if (s, fact) in seen or (len(free) == 1 and skip_univariate(declared[s])):
                continue
            seen.add((s, fact))
            narrowing = _narrowing(env, s, fact, guard.provenance)
            if narrowing is not None:
                found.append(narrowing)
    return found


def _unbacked(env, s: sympy.Symbol) -> bool:
    info = env.symbols.get(s)
    return info is not None and info.unbacked


def _is_bound(fact: sympy.Basic) -> bool:
    """A linear bound on one symbol: it narrowed that symbol's (reported) range."""
    if fact.func not in (sympy.Ge, sympy.Gt, sympy.Le, sympy.Lt) or len(fact.free_symbols) != 1:
        return False
    (s,) = fact.free_symbols
    e = sympy.expand(fact.lhs - fact.rhs)
    a = e.diff(s)
    return a.is_number and a != 0 and not sympy.expand(e - a * s).has(s)


def _low_end(lo, hint: Optional[int]) -> int:
    """Where to start trying values: the lower bound, or below 0 and the hint for a symbol
    without one (an int input)."""
    if lo != -INF:
        return int(lo)
    return min(0, hint if hint is not None else 0) - 8


def _candidates(lo, hi, hint: Optional[int]) -> list[int]:
    start = _low_end(lo, hint)
    values = list(range(start, start + 8))
    if hint is not None:
        values += [hint - 1, hint + 1, hint + 2, 2 * hint + 1, 3 * hint + 2]
    values += [97, 1009, 65537]
    if hi != INF:
        values += [int(hi), int(hi) - 1]
    return sorted({v for v in values if lo <= v <= hi})


def _narrowing(env, s: sympy.Symbol, fact: sympy.Basic, provenance: Any) -> Optional[Narrowing]:
    lo, hi = env.range_of(s)
    info = env.symbols[s]
    for v in _candidates(lo, hi, info.hint):
        if v != info.hint and refuted(_at(fact, s, v), env.range_of):
            start = _low_end(lo, info.hint)
            allowed = [w for w in range(start, int(min(hi, start + _SPAN)) + 1)
                       if not refuted(_at(fact, s, w), env.range_of)]
            return Narrowing(s, fact, provenance, v, allowed)
    return None


def keeps_dynamic(env, narrowing: Narrowing) -> bool:
    """Whether some size in a window far out (from 2**20, or the top of a bounded range) is
    not ruled out: the guard leaves the dimension dynamic (`seq % 4 == 0`) rather than a
    finite set of sizes (`seq * batch == 64`, `seq ** 2 == 64`). A period longer than the
    window counts as finite, the side that reports the guard."""
    s, fact = narrowing.symbol, narrowing.fact
    lo, hi = env.range_of(s)
    start = max(int(lo), _FAR) if hi == INF else max(int(lo), int(hi) - _FAR_WINDOW)
    stop = start + _FAR_WINDOW if hi == INF else int(hi)
    return any(not refuted(_at(fact, s, w), env.range_of) for w in range(start, stop + 1))


_RELATIONS = {sympy.Eq: lambda d: d == 0, sympy.Ne: lambda d: d != 0, sympy.Ge: lambda d: d >= 0,
              sympy.Gt: lambda d: d > 0, sympy.Le: lambda d: d <= 0, sympy.Lt: lambda d: d < 0}


def _at(fact: sympy.Basic, s: sympy.Symbol, v: int) -> sympy.Basic:
    """`fact` with s = v, as `difference (rel) 0`, unevaluated: sympy's own evaluation of a
    relation asks its assumption system (tens of ms a call). A guard that divides by zero at
    s = v (`s % (s // 4) == 0` at s = 2) cannot hold there: false."""
    try:
        return _substituted(fact, s, v)
    except ZeroDivisionError:
        return sympy.false


def _substituted(fact: sympy.Basic, s: sympy.Symbol, v: int) -> sympy.Basic:
    holds = _RELATIONS.get(fact.func)
    if holds is None:
        if fact.func in (sympy.And, sympy.Or):
            return fact.func(*(_substituted(a, s, v) for a in fact.args))
        return fact.xreplace({s: sympy.Integer(v)})
    d = (fact.lhs - fact.rhs).xreplace({s: sympy.Integer(v)})
    if d.is_number:
        return sympy.true if holds(d) else sympy.false
    return fact.func(d, 0, evaluate=False)


# ---------------------------------------------------------------------------- refutation
def refuted(fact: sympy.Basic, range_of: Callable) -> bool:
    """True when no integer values of `fact`'s symbols in their ranges satisfy it (proven)."""
    if fact is sympy.false:
        return True
    if fact is sympy.true or not isinstance(fact, sympy.Basic):
        return False
    if fact.func is sympy.Ne:
        return False        # e != 0 fails for every value of the others only if e is 0 itself
    if fact.func is sympy.And:
        return any(refuted(a, range_of) for a in fact.args)
    if fact.func is sympy.Or:
        return all(refuted(a, range_of) for a in fact.args)
    if decide(fact, range_of) is False:
        return True
    c = F.canonical(fact)
    if c is None or c[0] != F.EQ:
        return _enumerated(fact, range_of) is False
    coeff, rest = c[1].as_coeff_Mul()
    e = rest if coeff != 0 and rest.func is sympy.Mod else c[1]     # 2*Mod(2m + 3, 4) == 0
    if e.func is sympy.Mod:
        return _no_residue(e, range_of)
    if _no_integer_solution(e, range_of):
        return True
    return _enumerated(fact, range_of) is False


def _no_integer_solution(e: sympy.Expr, range_of: Callable) -> bool:
    """`e == 0` has no integer solution in range: the constant is not a multiple of the gcd
    of the other coefficients, or (one symbol) no integer root lies in the range."""
    symbols = sorted(e.free_symbols, key=lambda s: s.name)
    if not all(s.is_integer for s in symbols):
        return False
    try:
        poly = sympy.Poly(e, *symbols)
    except sympy.PolynomialError:
        return False
    if not all(c.is_Integer for c in poly.coeffs()):
        return False
    terms = poly.terms()
    constant = sum(int(c) for m, c in terms if not any(m))
    g = 0
    for m, c in terms:
        if any(m):
            g = math.gcd(g, int(c))
    if g and constant % g:
        return True
    if len(symbols) != 1:
        return False
    (s,) = symbols
    lo, hi = range_of(s)
    found = sympy.roots(poly)
    if sum(found.values()) != poly.degree():
        return False           # some roots not found: nothing proven
    return not any(r.is_Integer and lo <= r <= hi for r in found)


def _no_residue(mod: sympy.Expr, range_of: Callable) -> bool:
    """`Mod(p, k) == 0` for integer-polynomial p: p's residue depends only on each symbol's
    residue mod k; none of the combinations in range gives 0."""
    p, k = mod.args
    if not k.is_Integer or k <= 0:
        return False
    k = int(k)
    symbols = sorted(p.free_symbols, key=lambda s: s.name)
    if not symbols or not all(s.is_integer for s in symbols):
        return False
    try:
        poly = sympy.Poly(p, *symbols)
    except sympy.PolynomialError:
        return False
    if not all(c.is_Integer for c in poly.coeffs()):
        return False
    choices = []
    for s in symbols:
        lo, hi = range_of(s)
        if lo == -INF:
            return False
        top = int(lo) + k - 1 if hi == INF else min(int(hi), int(lo) + k - 1)
        choices.append(range(int(lo), top + 1))
    if math.prod(len(c) for c in choices) > _RESIDUE_LIMIT:
        return False
    return not any(poly.eval(dict(zip(symbols, values))) % k == 0
                   for values in itertools.product(*choices))


def _enumerated(fact: sympy.Basic, range_of: Callable) -> Optional[bool]:
    """Whether some size satisfies a guard on one bounded symbol (None: not one, or too wide)."""
    free = fact.free_symbols
    if len(free) != 1:
        return None
    (s,) = free
    lo, hi = range_of(s)
    if lo == -INF or hi == INF or hi - lo > _SPAN or not s.is_integer:
        return None
    return any(fact.xreplace({s: sympy.Integer(v)}) is sympy.true
               for v in range(int(lo), int(hi) + 1))
