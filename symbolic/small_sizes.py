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

from .functions import strip_float
from .ranges import Range, bound, decide
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


def declared_bound(env: Any, expr: sympy.Basic) -> Range:
    """The bound of `expr` over the declared ranges of `env` (a ShapeEnv): a relaxed size's 0
    or 1 included. Torch's code run on stand-ins of these ranges cannot settle a question
    about 0 or 1 by range alone: it leaves a guard, which our engine decides and notes."""
    log = env.small_sizes
    ranges = log.declared_range(env.range_of) if log.relaxed else env.range_of
    return bound(strip_float(env.resolve(expr)), ranges)


@dataclass
class SmallSize:
    """Relaxed size symbols held at small values, and the decisions that call for it."""

    at: dict                # symbol -> 0 or 1
    decisions: list = field(default_factory=list)


def small_size_cases(env: Any) -> list[SmallSize]:
    """Every (symbol, small value) some decision of `env` (a ShapeEnv) may not hold at, in
    symbol creation order; then, for a decision over several relaxed sizes (`b * s != 1`),
    those sizes at that value together."""
    log = env.small_sizes
    cases: dict[tuple, SmallSize] = {}
    joint: dict[int, SmallSize] = {}
    for decision in log.decisions:
        fact = env.resolve(decision.fact)
        symbols = sorted((s for s in fact.free_symbols & log.relaxed.keys()
                          if env.range_of(s)[0] == 2),   # narrowed: the constraint check's
                         key=lambda s: env.symbols[s].index)
        # The sizes not held stay at the example's (traced, from 2 up): a decision that holds
        # over those ranges at the held values is made alike by the trace at that point.
        for symbol in symbols:
            for value in range(log.relaxed[symbol], 2):
                if not _holds_at(fact, {symbol: value}, env.range_of):
                    _add(cases.setdefault((env.symbols[symbol].index, value),
                                          SmallSize({symbol: value})), decision)
        for value in (0, 1):
            held = [s for s in symbols if log.relaxed[s] <= value]
            if len(held) > 1 and not _holds_at(fact, dict.fromkeys(held, value), env.range_of):
                together = joint.setdefault(value, SmallSize({}))
                together.at.update((s, value) for s in held)
                _add(together, decision)
    return [cases[key] for key in sorted(cases)] + [joint[v] for v in sorted(joint)
                                                    if len(joint[v].at) > 1]


def _add(case: SmallSize, decision: SmallSizeDecision) -> None:
    if decision not in case.decisions:
        case.decisions.append(decision)


def sizes_at(env: Any, values: dict, at: dict) -> dict:
    """The input dimensions whose size the held symbols fix, with those sizes.

    `values` maps each InputDim to its int or SymInt size. A size that would still depend on
    another symbol is left out. Empty when a size would be negative (a derived `d - 1` at
    d = 0): no input has that size.
    """
    held = {symbol: sympy.Integer(value) for symbol, value in at.items()}
    sizes = {}
    for where, size in values.items():
        if where.dim is None or isinstance(size, int):
            continue
        expr = env.resolve(size.expr)
        if held.keys().isdisjoint(expr.free_symbols):
            continue
        fixed = expr.xreplace(held)
        if fixed.is_Integer:
            sizes[where] = int(fixed)
    return sizes if all(size >= 0 for size in sizes.values()) else {}


def _holds_at(fact: sympy.Basic, at: dict, ranges: Callable) -> bool:
    try:
        held = {symbol: sympy.Integer(value) for symbol, value in at.items()}
        return decide(fact.xreplace(held), ranges) is True
    except ZeroDivisionError:       # Mod(n, s) at s = 0: the question has no answer there
        return False
