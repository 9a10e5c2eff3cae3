"""Sizes 0 and 1 of dimensions traced from 2 up: checked against a trace there, or refused.

A dynamic dimension is traced for sizes of 2 and more (as torch.export does), so a question
whose answer differs only at 0 or 1 (`x.shape[0] == 1`, does this reshape copy, does this size
broadcast) is answered for 2 and up without a guard. When the declared range admits 0 or 1,
the engine keeps those decisions (symbolic.small_sizes). For each small size they concern, the
example inputs are cut to that size and traced again, statically; the general program, with its
sizes evaluated there, must be the same program (packaging.program_compare) or, when it has
another form, compute the same results there (packaging.program_runs). Otherwise the export
is refused with the decisions involved and the range that avoids them: the program does not
answer differently from eager at 0 or 1, and never asserts on a size the user declared dynamic.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import sympy
import torch
from torch.utils import _pytree as pytree
from torch.utils._sympy.numbers import int_oo

from ..errors import ConstraintViolationError, StrictTracerError
from .program import package
from .program_compare import first_difference
from .program_runs import admits, first_line, runnable, same_results
from ..symbolic.printing import to_python
from ..symbolic.small_sizes import SmallSize, sizes_at, small_size_cases
from ..trace.results import FunctionalProgram, TraceResult

Tracer = Callable[[tuple, dict], FunctionalProgram]


@dataclass
class SmallSizePlan:
    """What to check, taken from a trace so that the trace itself can be let go first."""

    points: list            # (SmallSize, {InputDim: size}) in order
    names: dict             # symbol -> the user's name for it
    relaxed: dict           # symbol -> declared minimum (0 or 1)
    specs: dict             # symbol -> SpecSymbol


def plan_small_sizes(result: TraceResult) -> Optional[SmallSizePlan]:
    """The small sizes to check for a trace; None when tracing decided nothing there."""
    env = result.shape_env
    if not env.small_sizes.decisions or result.inputs.symbols is None:
        return None
    specs = result.inputs.symbols.by_symbol
    points = [(case, sizes) for case in small_size_cases(env)
              if (sizes := sizes_at(env, result.inputs.symbols.values, case.at))]
    symbols = {s for case, _ in points for s in case.at}
    return SmallSizePlan(points, {s: specs[s].name if s in specs else env.symbols[s].source
                                  for s in symbols},
                         {s: env.small_sizes.relaxed[s] for s in symbols},
                         {s: specs.get(s) for s in symbols})


def check_small_sizes(program: torch.export.ExportedProgram, plan: SmallSizePlan, args: tuple,
                      kwargs: dict, trace_static: Tracer, deferred_asserts: bool = False) -> None:
    """Raise ConstraintViolationError unless `program` agrees, at every small size its range
    constraints admit and tracing decided without covering, with a trace at that size.

    `trace_static(args, kwargs)` traces the same module with static shapes and functionalizes
    the trace; it is packaged only when both programs must run. `deferred_asserts`: the export
    deferred its guards to runtime asserts, which may fail there (program_compare).
    """
    for case, sizes in plan.points:
        small_args, small_kwargs = _narrowed(args, kwargs, sizes)
        if not admits(program, small_args, small_kwargs):
            continue        # a guard's range leaves that size out: not the program's to run
        try:
            small = trace_static(small_args, small_kwargs)
        except StrictTracerError as error:      # refused there: nothing to compare with
            raise _refusal(plan, case, f"tracing there is refused "
                           f"({type(error).__name__}: {first_line(error)})") from error
        except Exception:       # forward() itself fails there: eager has no result to match
            continue
        difference = first_difference(program, small, deferred_asserts)
        if difference is not None and runnable(program, small_args, small_kwargs):
            # Another form may still compute the same: both programs run at that size.
            difference = same_results(program, package(small), small_args, small_kwargs)
        del small
        if difference is not None:
            raise _refusal(plan, case, difference)


def _narrowed(args: tuple, kwargs: dict, sizes: dict) -> tuple[tuple, dict]:
    """The example inputs with each held dimension cut to its small size."""
    leaves, spec = pytree.tree_flatten((args, kwargs))
    for where, size in sizes.items():
        tensor = leaves[where.leaf]
        cut = tensor.narrow(where.dim, 0, size)
        leaves[where.leaf] = cut.contiguous() if tensor.is_contiguous() else cut
    return pytree.tree_unflatten(leaves, spec)


def _refusal(plan: SmallSizePlan, case: SmallSize, why: str) -> ConstraintViolationError:
    names = {s: plan.names[s] for s in case.at}

    def admitted(s) -> str:
        owner = "its" if len(case.at) == 1 else f"{names[s]}'s"
        small = " and ".join(str(v) for v in range(plan.relaxed[s], 2))
        return f"{owner} declared range also admits {small}"
    point = ", ".join(f"{names[s]} = {v}" for s, v in case.at.items())
    lines = [f"{' and '.join(names.values())} {'was' if len(case.at) == 1 else 'were'} traced "
             f"for sizes >= 2; {'; '.join(admitted(s) for s in case.at)}. At {point} the "
             f"program differs from a trace at that size: {why}.",
             "Decisions tracing made for sizes >= 2 only:"]
    for decision in case.decisions[:5]:
        text = to_python(_constant_right(decision.fact), lambda s: names.get(s, str(s)))
        where = f"at {decision.provenance}" if decision.provenance else "in a shape rule"
        lines.append(f"  {text}  ({where})")
    if len(case.decisions) > 5:
        lines.append(f"  ... and {len(case.decisions) - 5} more")
    lines.append(f"Declare the range the program is meant for (min=2 if it need not take "
                 f"{point}), or export another program for that size.")
    fixes = [_fix(names[s], plan.specs[s]) for s in case.at]
    return ConstraintViolationError.from_violations(["\n    ".join(lines)], fixes,
                                                    list(names.values()))


def _constant_right(fact: Any) -> Any:
    """`b - 1 != 0` as `b != 1`."""
    if isinstance(fact, sympy.Rel) and fact.rhs == 0 and fact.lhs.is_Add:
        constant, rest = fact.lhs.as_coeff_Add()
        if constant != 0:
            return fact.func(rest, -constant)
    return fact


def _fix(name: str, spec: Any) -> str:
    """`b = Dim('b', min=2, max=64)`. Written out here: torch's Dim._readable (which
    SuggestedFixes uses) leaves out min=2 as its default, which a Dim's is not (0)."""
    high = None if spec is None else spec.max
    bounded = high is not None and high not in (sympy.oo, int_oo)
    return f"{name} = Dim({name!r}, min=2{f', max={high}' if bounded else ''})"
