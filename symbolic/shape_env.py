"""The shape environment: symbols, their hints and ranges, replacements, and guards.

Decisions follow one path (`_decide`): apply the replacements, then ask the value ranges,
then the recorded facts; only when those cannot decide is the hint consulted, and the
outcome recorded as a guard with its provenance. A recorded guard teaches the environment:
an equality becomes a replacement (`s1 -> s0`, `s0 -> s2 + 2`, `s1 -> 5`), a bound on one
symbol refines its range, anything else is kept as a fact (`Mod(s0, 2) == 0`).
Unbacked symbols (`.item()`, data-dependent sizes) have no hint: deciding on them raises
DataDependentError unless `torch._check` facts (`check`) or ranges decide it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Optional

import sympy

from . import facts as F
from .functions import float_constant, strip_float
from .printing import to_python
from .small_sizes import SmallSizeLog
from .ranges import INF, Range, bound, decide
from .solving import (ceil_bound, divide, floor_bound, linear_form, negation, reduced,
                      without_rounding)
from .values import SymBool, SymFloat, SymInt, SymValue, wrap

UNBACKED_EXAMPLE = 8      # value the oracle uses for an unbacked size it must run at


class DataDependentError(Exception):
    """A branch or conversion needs the value of an unbacked symbol (no hint exists).

    `kind` is "guard" for a branch on a condition and "specialize" for a conversion to a
    Python number. The interpreter turns this into a GraphBreakError with the user's location.
    """

    def __init__(self, expr: sympy.Basic, kind: str = "guard"):
        what = "guard on" if kind == "guard" else "extract a Python number from"
        super().__init__(f"Could not {what} data-dependent expression {to_python(expr)} (it "
                         "depends on tensor data, which does not exist while tracing)")
        self.expr = expr
        self.kind = kind


class CheckFailed(Exception):
    """torch._check(cond) with a condition the environment knows to be false."""


@dataclass
class Guard:
    """A fact tracing relied on, with where it was introduced."""

    expr: sympy.Basic
    provenance: Any = None
    kind: str = "guard"          # "guard": decided at the hints; "check": torch._check


@dataclass
class SymbolInfo:
    symbol: sympy.Symbol
    hint: Optional[int]
    source: str                  # what the symbol stands for, for messages: "x.size()[0]"
    lower: Any = 2
    upper: Any = INF
    index: int = 0               # creation order
    unbacked: bool = False
    size_like: bool = False
    origin: Any = None           # structured origin (symbolic.dims.InputDim for inputs)
    keep: int = 0                # survival priority when an equality eliminates a symbol


@dataclass
class ShapeEnv:
    """Owns the symbols of one trace and the guards added while tracing."""

    symbols: dict = field(default_factory=dict)          # Symbol -> SymbolInfo
    replacements: dict = field(default_factory=dict)     # Symbol -> Expr (fully resolved)
    guards: list = field(default_factory=list)           # Guard, in order
    runtime_asserts: list = field(default_factory=list)  # Guard on unbacked symbols
    # An expression the engine rewrote -> (operator, operands) as the program wrote it
    # (`n >> 1` is floor(n/2)): the graph computes it that way, as torch.export does.
    written_as: dict = field(default_factory=dict)
    # A sum or product of two symbolic ints -> (operator, operands) in the program's order:
    # values the program computes are computed in that order (asserts use canonical forms).
    written_order: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)
    provenance: Callable[[], Any] = lambda: None
    # prefer_deferred_runtime_asserts_over_guards: a guard that no replacement or range absorbs
    # becomes a runtime assert in the program instead of an input guard, and an equality is a
    # replacement only when it ties a symbol to a number or to `a*s + b` (a Dim's own forms).
    defer_guards: bool = False
    version: int = 0        # bumped whenever what the engine decides may change
    small_sizes: SmallSizeLog = field(default_factory=SmallSizeLog)   # sizes 0/1 left unseen
    _counter: dict = field(default_factory=dict)
    _facts: F.Facts = field(default_factory=F.Facts)
    _raw_facts: list = field(default_factory=list)
    _cache: dict = field(default_factory=dict)

    # ------------------------------------------------------------------ symbols
    def _fresh(self, prefix: str, **assumptions) -> sympy.Symbol:
        n = self._counter.get(prefix, 0)
        self._counter[prefix] = n + 1
        return sympy.Symbol(f"{prefix}{n}", **assumptions)

    def create_symbol(self, hint: int, source: str, lower: int = 2, upper=INF, origin: Any = None,
                      positive: bool = True, nonnegative: bool = False) -> SymInt:
        """A backed symbol for an input dimension (hint = the example's size) or an int input
        (`positive=False`). `nonnegative`: a named Dim from 0 traced from 2 up, which sympy
        must not take as nonzero (no decision would be noted, small_sizes.py)."""
        sign = {"nonnegative": True} if nonnegative else {"positive": True} if positive else {}
        symbol = self._fresh("s", integer=True, **sign)
        self.symbols[symbol] = SymbolInfo(symbol, hint, source, lower, upper, len(self.symbols),
                                          origin=origin)
        return SymInt(symbol, hint, self)

    def create_unbacked(self, source: str, kind: type = SymInt, lower=-INF, upper=INF,
                        size_like: bool = False) -> SymValue:
        """A symbol for a value read from tensor data: no hint."""
        if kind is SymFloat:
            symbol = self._fresh("zuf", real=True)
        else:
            symbol = self._fresh("u", integer=True)
        if kind is SymBool:
            lower, upper = 0, 1
        info = SymbolInfo(symbol, None, source, lower, upper, len(self.symbols), unbacked=True,
                          size_like=size_like)
        self.symbols[symbol] = info
        if kind is SymBool:
            return SymBool(sympy.Eq(symbol, 1), None, self)
        return kind(symbol, None, self)

    def create_size(self, hint: int, source: str, lower: int = 2, upper=INF) -> SymInt:
        return self.create_symbol(hint, source, lower, upper)

    def range_of(self, symbol: sympy.Symbol) -> Range:
        info = self.symbols.get(symbol)
        if info is None:
            return (-INF, INF)
        return (info.lower, info.upper)

    def bound(self, expr: sympy.Basic) -> Range:
        return bound(strip_float(self.resolve(expr)), self.range_of)

    # ------------------------------------------------------------------ hints
    def hint_substitution(self) -> dict:
        return {s: info.hint for s, info in self.symbols.items() if info.hint is not None}

    def hint_value(self, expr: sympy.Basic):
        """The value of `expr` at the hints, or None if it involves unbacked symbols."""
        expr = self.resolve(expr)
        if expr.is_number or expr in (sympy.true, sympy.false):
            return _py(expr)
        subs = {}
        for s in expr.free_symbols:
            info = self.symbols.get(s)
            if info is None or info.hint is None:
                return None
            subs[s] = info.hint
        return _py(expr.xreplace(subs))

    def example_value(self, expr: sympy.Basic):
        """A value to run the oracle at: the hint, with unbacked symbols at an example value."""
        expr = self.resolve(expr)
        subs = {}
        for s in expr.free_symbols:
            info = self.symbols.get(s)
            if info is None:
                continue
            if info.hint is not None:
                subs[s] = info.hint
            else:
                subs[s] = int(min(max(UNBACKED_EXAMPLE, info.lower), info.upper))
        return _py(expr.xreplace(subs))

    # ------------------------------------------------------------------ replacements
    def resolve(self, expr: sympy.Basic) -> sympy.Basic:
        """`expr` with every replaced symbol substituted."""
        if not self.replacements or expr.is_number:
            return expr
        if expr.is_Symbol:
            return self.replacements.get(expr, expr)
        if self.replacements.keys().isdisjoint(expr.free_symbols):
            return expr
        return expr.xreplace(self.replacements)

    def _set_replacement(self, symbol: sympy.Symbol, expr: sympy.Expr) -> None:
        lo, hi = self.range_of(symbol)
        self.replacements[symbol] = expr
        for s, e in list(self.replacements.items()):
            if symbol in e.free_symbols:
                self.replacements[s] = e.xreplace({symbol: expr})
        self._transfer_range(expr, lo, hi)
        self._changed()

    def _transfer_range(self, expr: sympy.Expr, lo, hi) -> None:
        """The replaced symbol's range now constrains its replacement."""
        if expr.is_number:
            return
        e_lo, e_hi = bound(expr, self.range_of)
        if e_lo >= lo and e_hi <= hi:
            return
        linear = linear_form(expr)
        if linear is not None:
            s, a, b = linear          # lo <= a*s + b <= hi
            ends = (divide(lo - b, a), divide(hi - b, a))
            low, high = (ends[0], ends[1]) if a > 0 else (ends[1], ends[0])
            self._refine(s, ceil_bound(low), floor_bound(high))
            return
        if e_lo < lo:
            self._add_fact(sympy.Ge(expr, lo))
        if e_hi > hi:
            self._add_fact(sympy.Le(expr, hi))

    def _refine(self, symbol: sympy.Symbol, lo, hi) -> None:
        info = self.symbols[symbol]
        new_lo, new_hi = max(info.lower, lo), min(info.upper, hi)
        if (new_lo, new_hi) == (info.lower, info.upper):
            return
        if new_lo > new_hi:
            raise CheckFailed(f"{symbol} cannot be in [{lo}, {hi}] and in its range "
                              f"[{info.lower}, {info.upper}] at once")
        info.lower, info.upper = new_lo, new_hi
        self._changed()
        if new_lo == new_hi and symbol not in self.replacements:
            self._set_replacement(symbol, sympy.Integer(int(new_lo)))

    def _changed(self) -> None:
        self.version += 1
        self._cache.clear()
        facts = F.Facts()
        for fact in self._raw_facts:
            resolved = self.resolve(fact)
            if resolved in (sympy.true, sympy.false):
                continue
            c = F.canonical(resolved)
            if c is not None:
                facts.add(*c)
        self._facts = facts

    def _add_fact(self, rel: sympy.Basic) -> None:
        self.version += 1
        self._raw_facts.append(rel)
        c = F.canonical(self.resolve(rel))
        if c is not None:
            self._facts.add(*c)
        self._cache.clear()

    # ------------------------------------------------------------------ deciding
    def static_value(self, cond: sympy.Basic) -> Optional[bool]:
        """True/False if replacements, ranges and facts decide `cond`; None otherwise."""
        cond = strip_float(self.resolve(cond))
        if cond is sympy.true or cond is sympy.false:
            return bool(cond)
        cached = self._cache.get(cond, _MISSING)
        if cached is not _MISSING:
            return cached
        value = self._decide(cond)
        self._cache[cond] = value
        if value is not None and self.small_sizes.relaxed:
            self.small_sizes.note(cond, value, self.range_of, self.provenance)
        return value

    def _decide(self, cond: sympy.Basic) -> Optional[bool]:
        value = decide(cond, self.range_of)
        if value is not None:
            return value
        func = cond.func
        if func is sympy.Not:
            inner = self.static_value(cond.args[0])
            return None if inner is None else not inner
        if func in (sympy.And, sympy.Or):
            results = [self.static_value(a) for a in cond.args]
            if func is sympy.And:
                return False if False in results else (True if all(results) else None)
            return True if True in results else (False if all(r is False for r in results) else None)
        c = F.canonical(cond)
        if c is None:
            return None
        kind, e = c
        if e.is_number:
            return bool(F.to_relation(kind, e))
        return self._facts.implies(kind, e)

    def evaluate(self, cond: sympy.Basic, hint) -> bool:
        """Decide a condition; if only the hint can, record it (or its negation) as a guard."""
        if cond is sympy.true or cond is sympy.false:
            return bool(cond)
        resolved = reduced(strip_float(self.resolve(cond)))
        known = self.static_value(resolved)
        if known is not None:
            return known
        if hint is None:
            hint = self.hint_value(resolved)
            if hint is None:
                raise DataDependentError(resolved)
        fact = resolved if hint else negation(resolved)
        self._rely_on(fact, "guard")
        return bool(hint)

    def _rely_on(self, fact: sympy.Basic, kind: str) -> None:
        """Record a backed fact tracing relies on: an input guard, or with `defer_guards` a
        runtime assert unless learning it made it a replacement or a range."""
        if not self.defer_guards:
            self.guards.append(Guard(fact, self.provenance(), kind))
            self._learn(fact)
            return
        provenance = self.provenance()
        self._learn(fact)
        absorbed = self.resolve(fact)
        if absorbed is not sympy.true and decide(absorbed, self.range_of) is not True:
            self.runtime_asserts.append(Guard(fact, provenance, kind))

    def evaluate_size_oblivious(self, cond: sympy.Basic) -> Optional[bool]:
        """Decide `cond` treating size-like unbacked symbols as >= 2 (no guard recorded).

        This is how a size that came from data is assumed not to be 0 or 1 when a shape rule
        asks, e.g., whether it broadcasts; None if even that does not decide.
        """
        resolved = strip_float(self.resolve(cond))
        known = self.static_value(resolved)
        if known is not None:
            return known

        def oblivious_range(s):
            lo, hi = self.range_of(s)
            info = self.symbols.get(s)
            if info is not None and info.size_like:
                lo = max(lo, 2)
            return (lo, hi)
        return decide(resolved, oblivious_range)

    def specialize(self, value: SymValue):
        """Use a symbolic value as a concrete Python number: guard that it equals its hint."""
        expr = self.resolve(value.expr)
        if expr.is_number:
            return _py(expr)
        hint = value.hint if value.hint is not None else self.hint_value(expr)
        if hint is None:
            raise DataDependentError(strip_float(expr), "specialize")
        value_expr = strip_float(expr)
        exact = hint
        if isinstance(hint, float):
            # The exact value at the hints (10/3, not 3.3333333333333335) when there is one.
            at_hints = self._exact_at_hints(value_expr)
            exact = at_hints if at_hints is not None else float_constant(hint)
        self.evaluate(sympy.Eq(value_expr, exact), True)
        return hint

    def _exact_at_hints(self, expr: sympy.Basic) -> Optional[sympy.Basic]:
        subs = {}
        for s in expr.free_symbols:
            info = self.symbols.get(s)
            if info is None or info.hint is None or not s.is_integer:
                return None
            subs[s] = sympy.Integer(info.hint)
        value = expr.xreplace(subs)
        return value if value.is_Rational else None

    def check(self, cond: sympy.Basic, hint=None, stated: bool = False) -> None:
        """torch._check(cond): backed conditions become guards, unbacked ones runtime asserts.

        `stated`: the program itself states the condition (a user-level torch._check), so its
        guard is a "check" the program means to make, not a narrowing found while tracing.
        Raises CheckFailed if the condition is known to be false.
        """
        resolved = reduced(strip_float(self.resolve(cond)))
        known = self.static_value(resolved)
        if known is True:
            return
        if known is False:
            raise CheckFailed(f"{resolved} is false")
        if hint is None:
            hint = self.hint_value(resolved)
        if hint is not None:
            if not hint:
                raise CheckFailed(f"{resolved} is false for the example inputs")
            self._rely_on(resolved, "check" if stated else "guard")
            return
        self.runtime_asserts.append(Guard(resolved, self.provenance(), "check"))
        self._learn(resolved)

    def mark_size(self, value: SymValue) -> None:
        """torch._check_is_size: the value is a size (>= 0) and size-oblivious rules apply."""
        expr = self.resolve(value.expr)
        self.check(sympy.Ge(expr, 0), None if value.hint is None else value.hint >= 0)
        if expr.is_Symbol and expr in self.symbols and not self.symbols[expr].size_like:
            self.symbols[expr].size_like = True
            self.version += 1

    # ------------------------------------------------------------------ learning
    def _learn(self, fact: sympy.Basic) -> None:
        if fact.func is sympy.And:
            for arg in fact.args:
                self._learn(arg)
            return
        c = F.canonical(fact)
        if c is None:
            self._add_fact(fact)
            return
        kind, e = c
        if kind in (F.GE, F.GT) and len(e.free_symbols) == 1 and linear_form(e) is None:
            unrounded = without_rounding(kind, e)
            if unrounded is not None and linear_form(F.canonical(unrounded)[1]) is not None:
                self._learn(unrounded)      # floor(s/3) >= 1 is s >= 3: a range
                return
        if kind in (F.EQ, F.NE) and len(e.free_symbols) > 1:
            e = self._cancel_nonzero_factors(e)
            fact = F.to_relation(kind, e)
        if kind == F.EQ and self._solve(e):
            return
        linear = linear_form(e)
        if linear is not None and kind in (F.GE, F.GT, F.NE):
            s, a, b = linear         # a*s + b  (kind)  0
            if kind == F.NE:
                value = sympy.Rational(-b, a)
                lo, hi = self.range_of(s)
                if value == lo:
                    self._refine(s, lo + 1, hi)
                    return
                if value == hi:
                    self._refine(s, lo, hi - 1)
                    return
            else:
                edge = Fraction(-b, a)
                if kind == F.GT:
                    lo_b, hi_b = (math.floor(edge) + 1, INF) if a > 0 else (-INF, math.ceil(edge) - 1)
                else:
                    lo_b, hi_b = (math.ceil(edge), INF) if a > 0 else (-INF, math.floor(edge))
                self._refine(s, lo_b, hi_b)
                return
        self._add_fact(F.to_relation(kind, e))

    def _cancel_nonzero_factors(self, e: sympy.Expr) -> sympy.Expr:
        """`e == 0` with factors that can never be 0 dropped: 10*s0 - s0*s1 -> 10 - s1."""
        factored = sympy.factor_terms(e)
        if not factored.is_Mul:
            return e
        kept = []
        for factor in factored.args:
            if factor.is_number:
                continue
            lo, hi = bound(factor, self.range_of)
            if lo > 0 or hi < 0:
                continue
            kept.append(factor)
        return sympy.expand(sympy.Mul(*kept)) if kept else e

    def _solve(self, e: sympy.Expr) -> bool:
        """Turn `e == 0` into a replacement of one of its symbols, if one is solvable."""
        free = [s for s in e.free_symbols if s in self.symbols and s not in self.replacements]

        def preference(s):
            # Replace unbacked symbols first, then those the spec cares least about, then the
            # one with the larger example value, then the newer one.
            info = self.symbols[s]
            return (info.hint is None, -info.keep, info.hint if info.hint is not None else 0,
                    info.index)

        for s in sorted(free, key=preference, reverse=True):
            coeff = e.diff(s)
            if not coeff.is_Integer or coeff == 0:
                continue
            rest = sympy.expand(e - coeff * s)
            if s in rest.free_symbols:
                continue
            solution = -rest / coeff
            if abs(coeff) != 1 and not solution.is_Integer:
                continue
            if self.defer_guards and not (solution.is_number or linear_form(solution)):
                continue
            if solution.is_number:
                lo, hi = self.range_of(s)
                if not lo <= solution <= hi:
                    raise CheckFailed(f"{s} == {solution} contradicts its range [{lo}, {hi}]")
            self._set_replacement(s, solution)
            return True
        return False


_MISSING = object()


def _py(value: Any):
    if isinstance(value, (int, float)):
        return value
    if value is sympy.true:
        return True
    if value is sympy.false:
        return False
    if value.is_Integer:
        return int(value)
    if value.is_Boolean:
        return bool(value)
    return float(value)


__all__ = ["ShapeEnv", "Guard", "SymbolInfo", "DataDependentError", "CheckFailed", "SymInt",
           "SymFloat", "SymBool", "wrap"]
