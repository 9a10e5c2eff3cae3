"""Size symbols for the example inputs' dimensions, allocated as the spec asks.

Static dims stay ints. Dim.AUTO / Dim.DYNAMIC get one symbol per dimension (range [2, inf)
narrowed by min/max); a named Dim gets one symbol shared by every dimension that names it; a
derived dim `A*d + B` is that expression of its root's symbol (a "phantom" symbol when the
root names no dimension itself). Example sizes 0 and 1 are specialized: with a warning for
Dim.AUTO, as a constraint violation for Dim.DYNAMIC and named Dims.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import sympy
import torch.fx.experimental._config

from strict_tracer.errors import ConstraintViolationError
from strict_tracer.warn import warn_user

from .dims import AUTO, DERIVED, DYNAMIC, NAMED, STATIC, DimSpec, InputDim
from .ranges import INF
from .shape_env import ShapeEnv
from .values import SymInt, wrap

SPECIALIZED = ("You marked {name} as dynamic but your code specialized it to be a constant "
               "({value}). If you're using mark_dynamic, either remove it or use "
               "maybe_mark_dynamic. If you're using Dim.DYNAMIC, replace it with either "
               "Dim.STATIC or Dim.AUTO.")

# How strongly a symbol should survive when an equality lets one of two symbols go.
KEEP = {AUTO: 0, DYNAMIC: 1, NAMED: 2}


@dataclass
class SpecSymbol:
    """A symbol the spec created, with what the user declared about it."""

    symbol: sympy.Symbol
    kind: str                            # AUTO / DYNAMIC / NAMED (phantom roots are NAMED)
    dims: list = field(default_factory=list)   # InputDims whose size is exactly this symbol
    dim: Any = None                      # torch Dim for NAMED
    min: Optional[int] = None            # declared range (None: unbounded)
    max: Optional[int] = None

    @property
    def name(self) -> str:
        if self.dim is not None:
            return self.dim.__name__
        return self.dims[0].source if self.dims else str(self.symbol)


@dataclass
class InputSymbols:
    """What allocation produced: per-dimension specs and the spec'd symbols."""

    specs: dict = field(default_factory=dict)        # InputDim -> DimSpec
    values: dict = field(default_factory=dict)       # InputDim -> int | SymInt
    by_symbol: dict = field(default_factory=dict)    # Symbol -> SpecSymbol
    phantoms: dict = field(default_factory=dict)     # root name -> SymInt
    conflicts: list = field(default_factory=list)    # Dim.DYNAMIC hints the examples contradict
    specialized_roots: dict = field(default_factory=dict)  # root name -> its 0/1 example
    specialized: list = field(default_factory=list)  # (derived dim's name, size) of those


def allocate(env: ShapeEnv, tensors: list, specs: list,
             ints: tuple = ()) -> tuple[list, list, InputSymbols]:
    """Symbolic shapes for the input tensors, and symbols for the dynamic int inputs.

    `tensors` holds (leaf index, key path, tensor) per tensor leaf; `specs` its list of DimSpecs
    (or None); `ints` holds (leaf index, key path, value, DimSpec) per int made dynamic.
    Returns the shapes (tuples of int | SymInt) in the order of `tensors`, the ints' values
    (SymInt) in the order of `ints`, and what was allocated.
    """
    result = InputSymbols()
    int_values = [_int_symbol(env, result, leaf, path, value, spec)
                  for leaf, path, value, spec in ints]
    named: dict[str, SymInt] = {}
    named_first: dict[str, tuple[InputDim, int]] = {}
    # Pass 1: named dims first, so derived dims anywhere can use their root.
    for (leaf, path, t), dims in zip(tensors, specs):
        for i, spec in enumerate(dims or ()):
            if spec.kind != NAMED:
                continue
            where, hint = InputDim(leaf, path, i), int(t.shape[i])
            name = spec.name
            if name in named:
                first, first_hint = named_first[name]
                if first_hint != hint:
                    raise ConstraintViolationError(
                        f"{where.source} = {hint} is not equal to {first.source} = {first_hint} "
                        f"(both are sized by Dim {name!r})")
                result.by_symbol[named[name].expr].dims.append(where)
                continue
            sym = _named_symbol(env, spec, where, hint)
            named[name], named_first[name] = sym, (where, hint)
            result.by_symbol[sym.expr] = SpecSymbol(sym.expr, NAMED, [where], spec.dim, spec.min, spec.max)
    shapes = []
    for (leaf, path, t), dims in zip(tensors, specs):
        shape = []
        for i, size in enumerate(t.shape):
            hint = int(size)
            where = InputDim(leaf, path, i)
            spec = dims[i] if dims else DimSpec(STATIC)
            result.specs[where] = spec
            value = _dim_value(env, result, named, spec, where, hint)
            result.values[where] = value
            shape.append(value)
        shapes.append(tuple(shape))
    _raise_collected(result)
    return shapes, int_values, result


def _raise_collected(result: InputSymbols) -> None:
    """The problems allocation collects over every input, all reported at once."""
    if result.specialized:
        raise ConstraintViolationError.from_violations(
            [SPECIALIZED.format(name=name, value=size) for name, size in result.specialized],
            [], [name for name, _ in result.specialized])
    if result.conflicts:
        raise ConstraintViolationError.from_conflicts(result.conflicts)


def _named_symbol(env: ShapeEnv, spec: DimSpec, where: InputDim, hint: int) -> SymInt:
    """The symbol of a named Dim, at its first dimension."""
    name = spec.name
    lo, hi = _range(spec, where, hint)
    if hint in (0, 1) and backed_size_oblivious():
        lo = _oblivious_lower(spec)
    elif hint in (0, 1):
        raise ConstraintViolationError.from_violations(
            [f"You marked {name} as dynamic but your code specialized it to be a "
             f"constant ({hint}). Example inputs of size 0 or 1 are specialized; "
             f"use an example of size >= 2 for a dynamic dimension."],
            [f"{name} = {hint}"], [name])
    declared = _relaxed_to(spec.min, lo)
    sym = env.create_symbol(hint, where.source, lo, hi, origin=where, nonnegative=declared == 0)
    env.symbols[sym.expr].keep = KEEP[NAMED]
    env.symbols[sym.expr].size_like = hint in (0, 1)
    if declared is not None:
        env.small_sizes.relaxed[sym.expr] = declared
    return sym


def _relaxed_to(declared_min: Optional[int], lo: int) -> Optional[int]:
    """The declared minimum (0 or 1) of a named Dim traced from 2 up, else None. (Dim.AUTO and
    Dim.DYNAMIC ranges start at 2 in the program's range constraints, as torch.export's do.)"""
    declared = 0 if declared_min is None else declared_min
    return declared if declared < lo == 2 else None


def _int_symbol(env: ShapeEnv, result: InputSymbols, leaf: int, path: tuple, value: int,
                spec: DimSpec) -> SymInt:
    """A Python int input as a symbol: any int (negative ones too) unless min/max bound it;
    no 0/1 specialization (an int is not a tensor size). torch.export prints such a symbol's
    range as [0, inf) yet accepts negative ints at run time; ours is the range traced under."""
    where = InputDim(leaf, path, None)
    lo = -INF if spec.min is None else spec.min
    hi = INF if spec.max is None or spec.max == sympy.oo or _is_int_oo(spec.max) else spec.max
    if not lo <= value <= hi:
        # As for a tensor dim: traced at the example over every int; check_constraints then
        # compares the range tracing inferred with the declared one.
        lo, hi = -INF, INF
    sym = env.create_symbol(value, where.source, lo, hi, origin=where, positive=False)
    env.symbols[sym.expr].keep = KEEP[spec.kind]
    result.specs[where] = spec
    result.values[where] = sym
    result.by_symbol[sym.expr] = SpecSymbol(sym.expr, spec.kind, [where], None, spec.min, spec.max)
    return sym


def _range(spec: DimSpec, where: InputDim, hint: int) -> tuple:
    lo = 2 if spec.min is None else max(2, spec.min)
    hi = INF if spec.max is None or spec.max == sympy.oo or _is_int_oo(spec.max) else spec.max
    declared_lo = 0 if spec.min is None else spec.min
    if not declared_lo <= hint <= hi:
        raise ConstraintViolationError(     # "not in range": torch.export's words
            f"{where.source} = {hint} is not in range [{declared_lo}, {hi}] given by "
            f"{spec.describe()}")
    return lo, hi


def _within(hint: int, lo: Optional[int], hi: Any) -> bool:
    return (lo is None or hint >= lo) and (hi is None or _is_int_oo(hi) or hi == sympy.oo
                                           or hint <= hi)


def range_conflict(lo: Optional[int], hi: Any, inferred_lo, inferred_hi, where: InputDim) -> str:
    """torch.export's line for a Dim.AUTO/DYNAMIC/STATIC range tracing contradicts."""
    def bound(v):
        return "int_oo" if v == INF else ("-int_oo" if v == -INF else int(v))
    return (f"Received user-specified min/max range of [{lo}, {hi}], conflicting with the "
            f"inferred min/max range of [{bound(inferred_lo)}, {bound(inferred_hi)}], for "
            f"{where.shape_name}.")


def _is_int_oo(value: Any) -> bool:
    return type(value).__name__ == "IntInfinity"


def _dim_value(env: ShapeEnv, result: InputSymbols, named: dict, spec: DimSpec, where: InputDim,
               hint: int):
    kind = spec.kind
    if kind == STATIC:
        if spec.value is not None and spec.value != hint:
            raise ConstraintViolationError(
                f"Static shape constraint of {spec.value} does not match input size of {hint}, "
                f"for {where.source}")
        if not _within(hint, spec.min, spec.max):       # Dim.STATIC(min=6, max=8)
            result.conflicts.append(range_conflict(spec.min, spec.max, hint, hint, where))
        return hint
    if kind == NAMED:
        return named[spec.name]
    if kind == DERIVED:
        return _derived(env, result, named, spec, where, hint)
    if _within(hint, spec.min, spec.max):
        lo, hi = _range(spec, where, hint)
    else:
        # An example outside a Dim.AUTO/DYNAMIC range: as torch.export, trace at it over every
        # size; check_constraints then compares the range tracing inferred with the declared one.
        lo, hi = 2, INF
    oblivious = hint in (0, 1) and backed_size_oblivious()
    if oblivious:
        lo = _oblivious_lower(spec)
    elif hint in (0, 1):
        if kind == AUTO:
            warn_user(f"dimension {where.shape_name} 0/1 specialized; Dim.AUTO was specified "
                      f"along with a sample input with hint = {hint}.")
            return hint
        result.conflicts.append(f"Received user-specified dim hint {spec.describe()}, but export "
                                f"0/1 specialized due to hint of {hint} for dimension "
                                f"{where.shape_name}.")
        return hint
    sym = env.create_symbol(hint, where.source, lo, hi, origin=where)
    env.symbols[sym.expr].keep = KEEP[kind]
    env.symbols[sym.expr].size_like = oblivious
    result.by_symbol[sym.expr] = SpecSymbol(sym.expr, kind, [where], None, spec.min, spec.max)
    return sym


def backed_size_oblivious() -> bool:
    """torch.fx.experimental._config.backed_size_oblivious: an example size of 0 or 1 on a
    dynamic dim is not specialized. Its symbol keeps the example as its hint (guards are decided
    at it) and is size-like: questions torch asks size-obliviously (is this size 1, so that it
    broadcasts?) are answered for sizes >= 2 without a guard, as torch does."""
    return bool(torch.fx.experimental._config.backed_size_oblivious)


def _oblivious_lower(spec: DimSpec) -> int:
    return 0 if spec.min is None else spec.min


def _derived(env: ShapeEnv, result: InputSymbols, named: dict, spec: DimSpec, where: InputDim,
             hint: int):
    dim = spec.dim
    root = dim.root
    a = int(dim.fn(sympy.Integer(1)) - dim.fn(sympy.Integer(0)))
    b = int(dim.fn(sympy.Integer(0)))
    if root.__name__ in result.specialized_roots:
        return _specialized_root(result, root, result.specialized_roots[root.__name__], spec, hint)
    root_sym = named.get(root.__name__) or result.phantoms.get(root.__name__)
    if root_sym is None:
        if (hint - b) % a:
            raise ConstraintViolationError(
                f"Expected shape[{where.dim}] = {hint} of input Tensor to be of the form "
                f"{dim.__name__}, where {root.__name__} is an integer ({where.source})")
        root_hint = (hint - b) // a
        hi = INF if _is_int_oo(root.max) or root.max == sympy.oo else root.max
        if not root.min <= root_hint <= hi:
            raise ConstraintViolationError(
                f"{where.source} = {hint} gives {root.__name__} = {root_hint}, which is not in the "
                f"range [{root.min}, {hi}] of {root!r}")
        if root_hint < 2:
            return _specialized_root(result, root, root_hint, spec, hint)
        lo = max(2, root.min)       # a root is a size too, as torch.export has it
        declared = _relaxed_to(root.min, lo)
        root_sym = env.create_symbol(root_hint, root.__name__, lo, hi,
                                     nonnegative=declared == 0)
        env.symbols[root_sym.expr].keep = KEEP[NAMED]
        if declared is not None:
            env.small_sizes.relaxed[root_sym.expr] = declared
        result.phantoms[root.__name__] = root_sym
        result.by_symbol[root_sym.expr] = SpecSymbol(root_sym.expr, NAMED, [], root, root.min,
                                                     root.max)
    expected = a * root_sym.hint + b
    if expected != hint:
        raise ConstraintViolationError(
            f"Expected input {where.source} to be equal to {dim.__name__}, where "
            f"{root.__name__} = {root_sym.hint}, but got {hint}")
    value = root_sym * a + b
    # The derived size is a size too: at least 2 while tracing, within its declared range.
    lo, hi = _range(spec, where, hint)
    info = env.symbols[root_sym.expr]
    root_lo = -(-(lo - b) // a)
    root_hi = INF if hi == INF else (hi - b) // a
    info.lower, info.upper = max(info.lower, root_lo), min(info.upper, root_hi)
    return value if isinstance(value, SymInt) else wrap(sympy.Integer(value), value, env, SymInt)


def _specialized_root(result: InputSymbols, root: Any, root_hint: int, spec: DimSpec,
                      hint: int) -> int:
    """A root (sizing no dimension itself) whose example value is 0 or 1 is specialized, as
    a size is: every dimension derived from it is then that constant, which torch.export
    reports once per dimension ("You marked dx + 1 as dynamic but ... constant (2)")."""
    result.specialized_roots[root.__name__] = root_hint
    expected = int(spec.dim.fn(sympy.Integer(root_hint)))
    if expected != hint:
        raise ConstraintViolationError(
            f"Expected input to be equal to {spec.dim.__name__}, where {root.__name__} = "
            f"{root_hint}, but got {hint}")
    result.specialized.append((spec.name, hint))
    return hint
