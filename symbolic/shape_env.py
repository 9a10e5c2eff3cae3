"""The shape environment: symbols, their hints and ranges, and the guards tracing adds."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import sympy

from .values import SymBool, SymFloat, SymInt, SymValue, wrap


class DataDependentError(Exception):
    """A branch or conversion needs the value of an unbacked symbol (no hint exists).

    The interpreter turns this into a GraphBreakError with the user's location.
    """

    def __init__(self, expr: sympy.Basic):
        super().__init__(f"could not decide {expr} (it depends on tensor data)")
        self.expr = expr


@dataclass
class Guard:
    """A fact tracing relied on, with where it was introduced."""

    expr: sympy.Basic
    provenance: Any = None


@dataclass
class SymbolInfo:
    symbol: sympy.Symbol
    hint: int | None
    source: str
    lower: int | float = 2
    upper: int | float = sympy.oo


@dataclass
class ShapeEnv:
    """Owns the symbols of one trace and the guards added while tracing."""

    symbols: dict[sympy.Symbol, SymbolInfo] = field(default_factory=dict)
    guards: list[Guard] = field(default_factory=list)
    provenance: Callable[[], Any] = lambda: None
    _counter: dict[str, int] = field(default_factory=dict)

    def _fresh(self, prefix: str) -> sympy.Symbol:
        n = self._counter.get(prefix, 0)
        self._counter[prefix] = n + 1
        return sympy.Symbol(f"{prefix}{n}", integer=True, positive=prefix == "s")

    def create_size(self, hint: int, source: str, lower: int = 2, upper=sympy.oo) -> SymInt:
        symbol = self._fresh("s")
        self.symbols[symbol] = SymbolInfo(symbol, hint, source, lower, upper)
        return SymInt(symbol, hint, self)

    def create_unbacked(self, source: str, lower=-sympy.oo, upper=sympy.oo) -> SymInt:
        symbol = self._fresh("u")
        self.symbols[symbol] = SymbolInfo(symbol, None, source, lower, upper)
        return SymInt(symbol, None, self)

    def hint_substitution(self) -> dict[sympy.Symbol, int]:
        return {s: info.hint for s, info in self.symbols.items() if info.hint is not None}

    def evaluate(self, expr: sympy.Basic, hint) -> bool:
        """Decide a condition at the hints and record it (or its negation) as a guard."""
        if expr in (sympy.true, sympy.false):
            return bool(expr)
        if hint is None:
            raise DataDependentError(expr)
        fact = expr if hint else sympy.Not(expr)
        self.guards.append(Guard(fact, self.provenance()))
        return bool(hint)

    def specialize(self, value: SymValue):
        """Use a symbolic value as a concrete Python number: guard that it equals its hint."""
        if value.hint is None:
            raise DataDependentError(value.expr)
        self.guards.append(Guard(sympy.Eq(value.expr, value.hint), self.provenance()))
        return value.hint

    def wrap(self, expr: sympy.Basic, hint, kind: type):
        return wrap(expr, hint, self, kind)


__all__ = ["ShapeEnv", "Guard", "SymbolInfo", "DataDependentError", "SymInt", "SymFloat", "SymBool"]
