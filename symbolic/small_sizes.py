"""The sizes 0 and 1 that tracing from 2 up leaves unchecked.

A named Dim whose declared range starts at 0 or 1 is traced for sizes of 2 and more, as
torch.export traces it: size 1 broadcasts and size 0 is empty, so a trace at those sizes would
decide questions for them alone. The engine notes every decision that the declared range would
not have made (`x.shape[0] == 1` answered False, a reshape found to copy) in its SmallSizeLog.
Each such decision names the small sizes at which it could go the other way; the exporter then
checks the program against a trace at each of them (packaging.small_size_check).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import sympy

from .ranges import Range, decide
from .solving import negation


@dataclass
class SmallSizeDecision:
    fact: sympy.Basic       # what tracing took as true
    provenance: Any         # the user's location, None inside a shape rule without one


@dataclass
class SmallSizeLog:
    """Relaxed sizes (symbol -> declared minimum, 0 or 1) and the decisions that concern them."""

    relaxed: dict = field(default_factory=dict)
    decisions: list = field(default_factory=list)

    def note(self, cond: sympy.Basic, value: bool, range_of: Callable, provenance: Callable) -> None:
        """Keep a decision the 2-and-up ranges made that the declared ranges do not make."""
        if self.relaxed.keys().isdisjoint(cond.free_symbols):
            return
        fact = cond if value else negation(cond)
        if decide(fact, self.declared_range(range_of)) is not True:
            self.decisions.append(SmallSizeDecision(fact, provenance()))

    def declared_range(self, range_of: Callable) -> Callable[[sympy.Symbol], Range]:
        """Ranges with each relaxed size's declared 0 or 1 back at its lower end."""
        def ranged(symbol: sympy.Symbol) -> Range:
            lo, hi = range_of(symbol)
            declared = self.relaxed.get(symbol)
            return (declared, hi) if declared is not None and lo == 2 else (lo, hi)
        return ranged


@dataclass
class SmallSize:
    """One relaxed size symbol at one small value, and the decisions that call for it."""

    symbol: sympy.Symbol
    value: int
    decisions: list = field(default_factory=list)


def small_size_cases(env: Any) -> list[SmallSize]:
    """Every (symbol, small value) some decision of `env` (a ShapeEnv) may not hold at, in
    symbol creation order."""
    log = env.small_sizes
    ranges = log.declared_range(env.range_of)
    cases: dict[tuple, SmallSize] = {}
    for decision in log.decisions:
        fact = env.resolve(decision.fact)
        for symbol in fact.free_symbols & log.relaxed.keys():
            if env.range_of(symbol)[0] != 2:
                continue        # a guard narrowed it: the constraint check speaks for it
            for value in range(log.relaxed[symbol], 2):
                if _holds_at(fact, symbol, value, ranges):
                    continue
                case = cases.setdefault((env.symbols[symbol].index, value),
                                        SmallSize(symbol, value))
                if decision not in case.decisions:
                    case.decisions.append(decision)
    return [cases[key] for key in sorted(cases)]


def sizes_at(env: Any, values: dict, symbol: sympy.Symbol, value: int) -> dict:
    """The input dimensions whose size `symbol = value` fixes, with those sizes.

    `values` maps each InputDim to its int or SymInt size. A size that would still depend on
    another symbol is left out. Empty when a size would be negative (a derived `d - 1` at
    d = 0): no input has that size.
    """
    sizes = {}
    for where, size in values.items():
        if where.dim is None or isinstance(size, int):
            continue
        expr = env.resolve(size.expr)
        if symbol not in expr.free_symbols:
            continue
        fixed = expr.xreplace({symbol: sympy.Integer(value)})
        if fixed.is_Integer:
            sizes[where] = int(fixed)
    return sizes if all(size >= 0 for size in sizes.values()) else {}


def _holds_at(fact: sympy.Basic, symbol: sympy.Symbol, value: int, ranges: Callable) -> bool:
    try:
        return decide(fact.xreplace({symbol: sympy.Integer(value)}), ranges) is True
    except ZeroDivisionError:       # Mod(n, s) at s = 0: the question has no answer there
        return False
