"""After tracing: check what tracing learned against what the spec declared, and summarize
the valid inputs as range constraints.

A named Dim or Dim.DYNAMIC that tracing specialized to a constant, a named Dim that tracing
tied to another named Dim, a named Dim whose range tracing narrowed, or that tracing required
to satisfy another guard (divisibility) is a violation: ConstraintViolationError with one line
per violation and a "Suggested fixes" block `torch.export.refine_dynamic_shapes_from_suggested_
fixes` can apply. Dim.AUTO never violates: tracing decides what it becomes.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import sympy

from strict_tracer.errors import ConstraintViolationError

from . import facts as F
from .dims import AUTO, DYNAMIC, NAMED, DimSpec
from .input_symbols import SPECIALIZED, InputSymbols, SpecSymbol, range_conflict
from .narrowing import Narrowing, find_narrowings, keeps_dynamic
from .printing import to_python
from .ranges import INF, decide
from .shape_env import ShapeEnv
from .solving import linear_form
from .suggested_fixes import SuggestedFixes, derivation


@dataclass
class _Report:
    """What check_constraints found, in torch.export's order: specializations and relations
    first, then the other guards, then the narrowed ranges."""

    first: list = field(default_factory=list)
    guards: list = field(default_factory=list)
    ranges: list = field(default_factory=list)
    names: list = field(default_factory=list)
    fixes: SuggestedFixes = field(default_factory=SuggestedFixes)
    solved_roots: list = field(default_factory=list)
    solved: list = field(default_factory=list)
    conflicts: list = field(default_factory=list)

    def raise_if_any(self) -> None:
        violations = self.first + self.guards + self.ranges
        if violations or self.solved:
            raise ConstraintViolationError.from_violations(
                violations, self.fixes.lines(), self.names,
                (self.solved_roots, self.solved) if self.solved else ())
        if self.conflicts:
            raise ConstraintViolationError.from_conflicts(self.conflicts)


def check_constraints(env: ShapeEnv, inputs: InputSymbols) -> list[str]:
    """Raise ConstraintViolationError if tracing contradicts the dynamic_shapes spec; return
    the warnings for Dim.DYNAMIC dims that guards narrow but leave dynamic."""
    report = _Report()
    sources = _sources(inputs)
    conflicting = [s for s, spec in inputs.by_symbol.items() if _hint_conflict(env, spec, report)]
    for symbol, spec in inputs.by_symbol.items():
        if spec.kind == AUTO or symbol in conflicting:
            continue
        resolved = env.resolve(symbol)
        if resolved.is_number and _narrowed_to_a_point(env, symbol, spec):
            report.conflicts += [
                f"Received user-specified dim hint {_hint(spec)}, but tracing inferred a static "
                f"shape of {int(resolved)} for dimension {where.shape_name}." for where in spec.dims]
            continue
        if resolved.is_number:
            _specialized(env, spec, int(resolved), inputs, sources, report)
            continue
        if spec.kind != NAMED:
            continue
        if resolved != symbol and len(resolved.free_symbols) > 1:
            _of_several_dims(env, spec, resolved, sources, report)
            continue
        if resolved != symbol:
            _relation(spec, resolved, inputs, sources, report)
            continue
        _range_and_guards(env, spec, sources, report)
    checked_at_run_time: dict[sympy.Symbol, list[Narrowing]] = {}
    for narrowing in find_narrowings(env, inputs.by_symbol, lambda spec: spec.kind == NAMED):
        spec = inputs.by_symbol[narrowing.symbol]
        if spec.kind == DYNAMIC and keeps_dynamic(env, narrowing):
            checked_at_run_time.setdefault(narrowing.symbol, []).append(narrowing)
        else:
            _narrowed(env, spec, narrowing, sources, report)
    report.raise_if_any()
    return [_runtime_checked(env, inputs.by_symbol[s], found, sources)
            for s, found in checked_at_run_time.items()]


def _specialized(env: ShapeEnv, spec: SpecSymbol, value: int, inputs: InputSymbols,
                 sources: dict, report: _Report) -> None:
    """A declared-dynamic symbol tracing pinned to `value`. Pinned by comparing a size with a
    constant: "You marked ... specialized", one line per dimension it sizes (derived ones by
    their own names and values). Pinned only by solving a relation between the dimensions of
    a derived-dim family (`x: d - 6, y: d` with `2*x == y`): the "Specializations unexpectedly
    required" block, told by the family's first dimension, as torch.export words both."""
    guard = _pinning_guard(env, spec.symbol)
    where = _where(guard, sources)
    family = [(w, v) for w, v in inputs.values.items()
              if spec.symbol in getattr(getattr(v, "expr", None), "free_symbols", ())]
    if spec.kind == NAMED:
        report.fixes.pin(spec.name, value, sources.get(spec.symbol))
    solved = guard is not None and not any(side.is_number for side in guard.expr.args)
    if solved and spec.kind == NAMED and len(family) > 1:
        first, size = family[0]
        at = size.expr.xreplace({spec.symbol: value})
        report.solved_roots.append(spec.name)
        report.solved.append(f"solving the guards generated for {inputs.specs[first].name} = "
                             f"{first.source} resulted in a specialized value of {int(at)}."
                             + where)
        return
    if spec.kind == NAMED and family:
        for i, (w, size) in enumerate(family):
            name = inputs.specs[w].name
            report.names.append(name)
            report.first.append(SPECIALIZED.format(
                name=name, value=int(size.expr.xreplace({spec.symbol: value})))
                + ("" if i else where))
        return
    for _ in spec.dims or [None]:
        report.first.append(SPECIALIZED.format(name=spec.name, value=value) + where)
    report.names.append(spec.name)


def _hint_conflict(env: ShapeEnv, spec: SpecSymbol, report: _Report) -> bool:
    """A Dim.AUTO/DYNAMIC range with an example outside it was traced over every size: the
    range tracing inferred must meet the declared one, else torch.export's conflict."""
    if spec.kind not in (AUTO, DYNAMIC) or not spec.dims or (spec.min is None and spec.max is None):
        return False
    int_input = spec.dims[0].dim is None
    lo = spec.min if spec.min is not None else (-INF if int_input else 0)
    hi = INF if spec.max is None or _infinite(spec.max) else spec.max
    resolved = env.resolve(spec.symbol)
    inferred = env.bound(resolved)
    if inferred[1] < lo or inferred[0] > hi:
        report.conflicts += [range_conflict(spec.min, spec.max, *inferred, where)
                             for where in spec.dims]
        return True
    hint = env.symbols[spec.symbol].hint
    if not lo <= hint <= hi:
        # Tracing meets the range, but the example is outside it: refused as for an int input
        # (torch.export returns a program that rejects its own example).
        raise ConstraintViolationError(
            f"{spec.dims[0].source} = {hint} is not in range [{lo}, {hi}] given by {_hint(spec)}")
    return False


def _narrowed_to_a_point(env: ShapeEnv, symbol: sympy.Symbol, spec: SpecSymbol) -> bool:
    """A Dim.DYNAMIC tensor dim whose range bounds alone (no equality) left one value:
    torch.export reports it as a range conflict ("tracing inferred a static shape")."""
    if spec.kind != DYNAMIC or not spec.dims or any(d.dim is None for d in spec.dims):
        return False
    return not any(g.expr.func is sympy.Eq and symbol in g.expr.free_symbols for g in env.guards)


def _hint(spec: SpecSymbol) -> str:
    return DimSpec(spec.kind, spec.min, spec.max).describe()


def _pinning_guard(env: ShapeEnv, symbol: sympy.Symbol):
    """The guard that pinned `symbol` to a value: the first `a*symbol + b == c` (else the
    first equality on it alone); None when unknown."""
    candidates = [g for g in env.guards if g.provenance is not None and g.expr.func is sympy.Eq
                  and g.expr.free_symbols == {symbol}]
    pinning = [g for g in candidates if linear_form(g.expr.lhs - g.expr.rhs) is not None]
    return (pinning or candidates or [None])[0]


def _where(guard, sources: dict) -> str:
    """Where a guard was added, as a line under a violation; "" when unknown."""
    if guard is None:
        return ""
    text = to_python(guard.expr, lambda s: sources.get(s, str(s)))
    return f"\n    specialized at {guard.provenance} (guard {text})"


def _sources(inputs: InputSymbols) -> dict:
    out = {}
    for where, value in inputs.values.items():
        expr = getattr(value, "expr", None)
        if expr is not None and expr.is_Symbol:
            out.setdefault(expr, where.source)
    for name, sym in inputs.phantoms.items():
        out.setdefault(sym.expr, name)
    return out


def _named(spec: SpecSymbol, sources: dict) -> str:
    src = sources.get(spec.symbol)
    return spec.name if src is None or src == spec.name else f"{spec.name} = {src}"


def _relation(spec: SpecSymbol, resolved: sympy.Expr, inputs: InputSymbols, sources: dict,
              report: _Report) -> None:
    other = inputs.by_symbol.get(resolved) if resolved.is_Symbol else None
    if not spec.dims and other is not None and other.kind == NAMED and other.dims and \
            _root_equal(spec, other, inputs, sources, report):
        return
    others = [inputs.by_symbol.get(s) for s in resolved.free_symbols]
    report.names.append(spec.name)
    if others[0] is not None and others[0].kind == NAMED and \
            sympy.Poly(resolved, others[0].symbol).degree() == 1:
        other = others[0]
        a, b = sympy.Poly(resolved, other.symbol).all_coeffs()
        text = derivation(other.name, int(a), int(b))
        if resolved == other.symbol:
            report.first.append(f"The values of {_named(spec, sources)} and "
                                f"{_named(other, sources)} must always be equal.")
        else:
            report.first.append(f"The values of {_named(spec, sources)} must always be related "
                                f"to the values of {_named(other, sources)} by "
                                f"{spec.name} = {text}.")
        report.fixes.derive(spec.name, other.name, int(a), int(b), sources.get(spec.symbol))
        return
    text = to_python(resolved, lambda s: sources.get(s, str(s)))
    report.first.append(f"The values of {_named(spec, sources)} must always be equal to {text}.")


def _of_several_dims(env: ShapeEnv, spec: SpecSymbol, resolved: sympy.Expr, sources: dict,
                     report: _Report) -> None:
    """A named Dim found equal to an expression of several dims (`z: x0*x1`): as torch.export,
    an input guard, and a violation only where the expression's values leave the declared
    range (x0*x1 is at least 4)."""
    lo, hi = _declared(spec)
    e_lo, e_hi = env.bound(resolved)
    if e_lo <= lo and e_hi >= hi:
        return
    new_lo, new_hi = max(lo, e_lo), min(hi, e_hi)
    src = sources.get(spec.symbol, spec.name)
    upper = "" if new_hi == INF else f" and {src} <= {new_hi}"
    report.ranges.append(f"Not all values of {_named(spec, sources)} in the specified range"
                         f"{_range_text(spec)} satisfy the generated guard {new_lo} <= {src}"
                         f"{upper}")
    report.fixes.narrow(spec.name, new_lo, new_hi, src)
    report.names.append(spec.name)


def _root_equal(root: SpecSymbol, other: SpecSymbol, inputs: InputSymbols, sources: dict,
                report: _Report) -> bool:
    """A root that sizes no dimension itself (`_d` of `x: _d - 2`) found equal to a plain Dim:
    as torch.export, the plain Dim is the one to fix, told by the first dim derived from the
    root (`... related to the values of _d - 2 = L['x'].size()[0] by d = _d`)."""
    derived = next(((where, value.expr) for where, value in inputs.values.items()
                    if root.symbol in getattr(getattr(value, "expr", None), "free_symbols", ())),
                   None)
    if derived is None:
        return False
    where, expr = derived
    text = to_python(expr, lambda s: root.name)
    report.names.append(other.name)
    report.first.append(f"The values of {_named(other, sources)} must always be related to the "
                        f"values of {text} = {where.source} by {other.name} = {root.name}.")
    report.fixes.derive(other.name, root.name, 1, 0, sources.get(other.symbol))
    return True


def _declared(spec: SpecSymbol) -> tuple:
    lo = 2 if spec.min is None else max(2, spec.min)
    hi = INF if spec.max is None or _infinite(spec.max) else spec.max
    return lo, hi


def _infinite(v: Any) -> bool:
    return v == sympy.oo or type(v).__name__ == "IntInfinity"


def _range_text(spec: SpecSymbol) -> str:
    lo, hi = spec.min, None if spec.max is None or _infinite(spec.max) else spec.max
    if lo is not None and lo > 2 and hi is not None:
        return f" {lo} <= {spec.name} <= {hi}"
    if lo is not None and lo > 2:
        return f" {spec.name} >= {lo}"
    if hi is not None:
        return f" {spec.name} <= {hi}"
    return ""


def _range_and_guards(env: ShapeEnv, spec: SpecSymbol, sources: dict, report: _Report) -> None:
    symbol = spec.symbol
    src = sources.get(symbol, spec.name)
    info = env.symbols[symbol]
    lo, hi = _declared(spec)
    if info.lower > lo or info.upper < hi:
        upper = "" if info.upper == INF else f" and {src} <= {info.upper}"
        report.ranges.append(f"Not all values of {_named(spec, sources)} in the specified range"
                             f"{_range_text(spec)} satisfy the generated guard {info.lower} <= "
                             f"{src}{upper}")
        report.fixes.narrow(spec.name, info.lower, info.upper, src)
        report.names.append(spec.name)
    seen = set()
    for guard in env.guards:
        fact = env.resolve(guard.expr)
        canonical = F.canonical(fact)
        if canonical is not None:
            fact = F.to_relation(*canonical)
            if canonical[0] == F.EQ and canonical[1].func is sympy.Mod:
                fact = sympy.Eq(canonical[1], 0)
        if fact.free_symbols != {symbol} or fact in seen:
            continue
        seen.add(fact)
        if fact.func in (sympy.Ge, sympy.Gt, sympy.Le, sympy.Lt) and \
                linear_form(fact.lhs - fact.rhs) is not None:
            continue   # a bound: reported above as a narrowed range
        if decide(fact, env.range_of) is not None:
            continue   # implied by the range
        text = to_python(fact, lambda s: src)
        report.guards.append(f"Not all values of {_named(spec, sources)} in the specified range"
                             f"{_range_text(spec)} satisfy the generated guard {text}.")
        report.names.append(spec.name)
        congruence = _congruence(fact, symbol)
        if congruence is not None:
            modulus, shift = congruence
            report.fixes.divisible(spec.name, modulus, shift, info.lower, info.upper, src)
        else:
            _solved_fixes(fact, symbol, spec, info, report.fixes, src)


_SOLVE_SPAN = 512      # sizes tried when solving a guard by enumeration


def _solved_fixes(fact: sympy.Basic, symbol: sympy.Symbol, spec: SpecSymbol, info,
                  fixes: SuggestedFixes, source: str) -> None:
    """Fixes for a guard on one dim that is neither a bound nor a divisibility: the sizes
    that satisfy it, found by trying each size of the traced range (up to _SOLVE_SPAN)."""
    lo = int(info.lower)
    hi = lo + _SOLVE_SPAN if info.upper == INF else min(int(info.upper), lo + _SOLVE_SPAN)
    good = [v for v in range(lo, hi + 1) if _holds(fact, symbol, v)]
    _fixes_from(good, spec.name, info.upper == INF, hi, fixes, source)


def _fixes_from(good: list[int], name: str, unbounded: bool, window_hi: int,
                fixes: SuggestedFixes, source: Optional[str] = None) -> None:
    """Fixes from the valid sizes of a window of a dim's range: one size gives `d = 6`, a
    bounded run a narrower Dim, an arithmetic progression a derived Dim `d = 2*_d + 1`;
    anything else no fix."""
    if len(good) == 1:
        fixes.pin(name, good[0], source)
        return
    if len(good) < 2 or len({b - a for a, b in zip(good, good[1:])}) != 1:
        return
    step = good[1] - good[0]
    open_ended = unbounded and good[-1] > window_hi - step
    if step == 1:
        if not open_ended:
            fixes.narrow(name, good[0], good[-1], source)
        return
    fixes.divisible(name, step, -(good[0] % step), good[0], INF if open_ended else good[-1],
                    source)


def _narrowed(env: ShapeEnv, spec: SpecSymbol, narrowing: Narrowing, sources: dict,
              report: _Report) -> None:
    """A guard that rules out sizes of a declared-dynamic dim (symbolic.narrowing)."""
    src = sources.get(spec.symbol, spec.name)
    text = to_python(narrowing.fact, lambda s: sources.get(s, str(s)))
    line = (f"Not all values of {_named(spec, sources)} in the specified range"
            f"{_range_text(spec)} satisfy the generated guard {text} (no input with "
            f"{src} = {narrowing.excluded} satisfies it).")
    if narrowing.provenance is not None:
        line += f"\n    guard added at {narrowing.provenance}"
    if spec.kind == NAMED:
        _spec_fixes(env, spec, narrowing, spec.name, report.fixes, src)
    else:
        line += (f"\n    fix: declare {src} with a Dim whose sizes all satisfy the guard"
                 f"{_examples(env, spec, narrowing)}, or Dim.AUTO to let the program check it "
                 "at run time, or change the code so that it holds for every size")
    report.guards.append(line)
    report.names.append(spec.name)


def _runtime_checked(env: ShapeEnv, spec: SpecSymbol, found: list, sources: dict) -> str:
    """The warning for a Dim.DYNAMIC dim that guards narrow but leave dynamic."""
    src = sources.get(spec.symbol, spec.name)
    lines = []
    for narrowing in found:
        text = to_python(narrowing.fact, lambda s: sources.get(s, str(s)))
        where = f"\n      added at {narrowing.provenance}" if narrowing.provenance is not None else ""
        lines.append(f"  - {text}{where}")
    examples = _examples(env, spec, found[0]) if len(found) == 1 else ""
    return (f"Dim.DYNAMIC {src} stays dynamic, but the exported program only accepts sizes that "
            f"satisfy {'this guard' if len(found) == 1 else 'these guards'} (ep.module() rejects "
            f"other inputs, e.g. {src} = {found[0].excluded}):\n" + "\n".join(lines) +
            f"\nTo state this in dynamic_shapes, declare {src} with a Dim whose sizes all satisfy "
            f"{'it' if len(found) == 1 else 'them'}{examples}; with Dim.AUTO there is no warning.")


def _spec_fixes(env: ShapeEnv, spec: SpecSymbol, narrowing: Narrowing, name: str,
                fixes: SuggestedFixes, source: Optional[str] = None) -> None:
    """Dims whose sizes all satisfy a guard on this dim alone (exact); none for a relation
    with other dims, which no range or progression of this dim alone makes hold."""
    if len(narrowing.fact.free_symbols) != 1:
        return
    info = env.symbols[spec.symbol]
    low = int(info.lower) if info.lower != -INF else (narrowing.allowed or [0])[0]   # an int input
    window_hi = low + _SOLVE_SPAN if info.upper == INF else min(int(info.upper), low + _SOLVE_SPAN)
    _fixes_from(narrowing.allowed, name, info.upper == INF, window_hi, fixes, source)


def _examples(env: ShapeEnv, spec: SpecSymbol, narrowing: Narrowing) -> str:
    suggested = SuggestedFixes()
    _spec_fixes(env, spec, narrowing, "d", suggested)
    return f" (e.g. {'; '.join(suggested.lines())})" if suggested else ""


def _holds(fact: sympy.Basic, symbol: sympy.Symbol, value: int) -> bool:
    """The guard at one size, in exact arithmetic (sympy); undefined (x/0) counts as false."""
    return fact.xreplace({symbol: sympy.Integer(value)}) is sympy.true


def _congruence(fact: sympy.Basic, symbol: sympy.Symbol) -> Optional[tuple]:
    """(k, a) when fact is `(symbol + a) % k == 0` (a may be 0): symbol = k*_symbol - a."""
    if fact.func is sympy.Eq and fact.rhs == 0 and fact.lhs.func is sympy.Mod:
        arg, k = fact.lhs.args
        shift = sympy.expand(arg - symbol)
        if k.is_Integer and shift.is_Integer:
            return int(k), int(shift)
    return None


# ---------------------------------------------------------------------------- ranges
def range_constraints(env: ShapeEnv, inputs: InputSymbols, placeholder_dims: list,
                      unbacked: list) -> dict:
    """Valid values of each input-dimension expression and each surviving symbol.

    As torch.export: an expression sized by a named or derived Dim gets the declared range;
    any other its value range; every symbol in those expressions its own range; unbacked
    symbols bound in the graph their (refined) ranges.
    """
    out: dict = {}
    symbols: list = []
    for where, expr in placeholder_dims:
        if expr.is_number:
            continue
        spec = inputs.specs.get(where)
        if spec is not None and spec.kind in (NAMED, "derived"):
            declared = (spec.min if spec.min is not None else 0,
                        INF if spec.max is None or _infinite(spec.max) else spec.max)
        else:
            declared = env.bound(expr)
        floor = 0 if where.dim is not None else -INF      # an int input may be negative
        previous = out.get(expr, (floor, INF))
        out[expr] = (max(previous[0], declared[0], floor), min(previous[1], declared[1]))
        symbols.extend(s for s in expr.free_symbols if s not in symbols)
    for s in symbols:
        if s not in out:
            out[s] = env.range_of(s)
    for s in unbacked:
        if s not in out:
            out[s] = env.range_of(s)
    return out
