"""Hypothesis strategies that draw inputs for an ExportedProgram.

`inputs_for(ep)` draws (args, kwargs) that satisfy the program's input specs: every symbolic
dimension takes a value inside `range_constraints`, derived dimensions (s0 + 2, 2*s0) follow
their symbols, and the program's guards (divisibility, relations) hold; static dimensions,
dtypes and constant inputs are those of the example inputs. `violating_inputs(ep)` draws
inputs the program must reject: one static dimension changed, or one symbol moved outside a
bound that tracing raised above torch's default.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import sympy
import torch
import torch.utils._pytree as pytree
from torch.export._tree_utils import reorder_kwargs
from hypothesis import strategies as st

# Above a symbol's lower bound, draw at most this many values larger (keeps inputs small).
SPAN = 12


@dataclass
class _Leaf:
    """One flattened user input: its example value and, for tensors, the placeholder shape."""

    example: Any
    shape: tuple | None          # ints and sympy expressions (torch's symbols)


def _leaves(ep: torch.export.ExportedProgram) -> list[_Leaf]:
    example_args, example_kwargs = ep.example_inputs
    flat = pytree.tree_leaves((example_args, example_kwargs))
    placeholders = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    user = [s for s in ep.graph_signature.input_specs if s.kind.name == "USER_INPUT"]
    if len(user) != len(flat):
        raise ValueError("the program's example inputs do not match its user inputs")
    leaves = []
    for spec, example in zip(user, flat):
        val = placeholders[spec.arg.name].meta.get("val")
        if isinstance(val, torch.Tensor):
            shape = tuple(d if isinstance(d, int) else d.node.expr for d in val.shape)
            leaves.append(_Leaf(example, shape))
        else:
            leaves.append(_Leaf(example, None))
    return leaves


def _symbols(leaves: list[_Leaf]) -> list[sympy.Symbol]:
    found: dict[str, sympy.Symbol] = {}
    for leaf in leaves:
        for dim in leaf.shape or ():
            if isinstance(dim, sympy.Expr):
                for s in dim.free_symbols:
                    found[s.name] = s
    return [found[name] for name in sorted(found)]


def _bounds(ep, symbol: sympy.Symbol) -> tuple[int, float]:
    vr = ep.range_constraints.get(symbol)
    if vr is None:
        return 2, math.inf
    upper = float(vr.upper) if vr.upper.is_finite else math.inf
    return int(vr.lower), upper


def _build(ep, leaves: list[_Leaf], values: dict, seed: int, override: tuple | None = None) -> tuple:
    gen = torch.Generator().manual_seed(seed)
    out = []
    for index, leaf in enumerate(leaves):
        if leaf.shape is None:
            out.append(leaf.example)
            continue
        shape = [int(d) if isinstance(d, int) else int(d.subs(values)) for d in leaf.shape]
        if override is not None and override[0] == index:
            shape[override[1]] = override[2]
        out.append(_tensor_like(leaf.example, shape, gen))
    args, kwargs = pytree.tree_unflatten(out, pytree.tree_structure(ep.example_inputs))
    return tuple(args), dict(kwargs)


def _tensor_like(example: torch.Tensor, shape: list[int], gen: torch.Generator) -> torch.Tensor:
    if example.dtype == torch.bool:
        return torch.randint(0, 2, shape, generator=gen).bool()
    if example.dtype.is_floating_point or example.dtype.is_complex:
        return torch.randn(shape, generator=gen, dtype=example.dtype)
    low = int(example.min()) if example.numel() else 0
    high = int(example.max()) + 1 if example.numel() else 10
    return torch.randint(low, max(high, low + 1), shape, generator=gen, dtype=example.dtype)


def _satisfies(ep, leaves: list[_Leaf], values: dict) -> bool:
    """Range constraints of derived expressions and the program's guards hold."""
    for expr, vr in ep.range_constraints.items():
        value = expr.subs(values) if isinstance(expr, sympy.Expr) else expr
        if not value.is_number or not (vr.lower <= value <= vr.upper):
            return False
    return guards_hold(ep, *_build(ep, leaves, values, seed=0))


def accepts(ep: torch.export.ExportedProgram, args: tuple, kwargs: dict) -> bool:
    """Whether inputs lie inside the program's input specs: static sizes equal, every symbol
    takes one value across inputs, derived sizes follow it, range constraints and guards hold."""
    leaves = _leaves(ep)
    flat = pytree.tree_leaves((tuple(args), dict(kwargs)))
    if len(flat) != len(leaves):
        return False
    values: dict = {}
    derived = []
    for leaf, value in zip(leaves, flat):
        if leaf.shape is None:
            continue
        if not isinstance(value, torch.Tensor) or value.dim() != len(leaf.shape):
            return False
        for dim, size in zip(leaf.shape, value.shape):
            if isinstance(dim, int):
                if dim != size:
                    return False
            elif isinstance(dim, sympy.Symbol):
                if values.setdefault(dim, int(size)) != size:
                    return False
            else:
                derived.append((dim, int(size)))
    if any(expr.subs(values) != size for expr, size in derived):
        return False
    for expr, vr in ep.range_constraints.items():
        value = expr.subs(values) if isinstance(expr, sympy.Expr) else expr
        if value.is_number and not (vr.lower <= value <= vr.upper):
            return False
    return guards_hold(ep, tuple(args), dict(kwargs))


def guards_hold(ep: torch.export.ExportedProgram, args: tuple, kwargs: dict) -> bool:
    """Whether the program's guards (`ep._guards_code`, the checks ep.module() runs before the
    graph) hold for these inputs. A guard that cannot be evaluated counts as failing."""
    if not ep._guards_code:
        return True
    scope = _guard_scope(ep, args, kwargs)
    try:
        return all(bool(eval(code, {"math": math, "torch": torch}, scope)) for code in ep._guards_code)
    except Exception:  # a guard we cannot evaluate: be conservative
        return False


def _guard_scope(ep, args: tuple, kwargs: dict) -> dict:
    """Guard code names inputs as torch.export's tracer does: `L['flat_args'][i]`, the
    flattened inputs (ep.module() rewrites these to the user's names before evaluating)."""
    ordered = reorder_kwargs(kwargs, ep.call_spec.in_spec)
    return {"L": {"flat_args": pytree.tree_leaves((tuple(args), ordered))}}


@st.composite
def inputs_for(draw, ep: torch.export.ExportedProgram) -> tuple[tuple, dict]:
    """(args, kwargs) inside the program's input specs and range constraints."""
    leaves = _leaves(ep)
    symbols = _symbols(leaves)
    for _ in range(50):
        values = {}
        for symbol in symbols:
            lower, upper = _bounds(ep, symbol)
            values[symbol] = draw(st.integers(lower, int(min(upper, lower + SPAN))))
        if _satisfies(ep, leaves, values):
            return _build(ep, leaves, values, seed=draw(st.integers(0, 2**31 - 1)))
    # Fall back to the example's own sizes, which satisfy every guard by construction.
    return _build(ep, leaves, _example_values(ep, leaves, symbols), seed=draw(st.integers(0, 2**31 - 1)))


def _example_values(ep, leaves: list[_Leaf], symbols: list[sympy.Symbol]) -> dict:
    values: dict = {}
    for leaf in leaves:
        for dim, size in zip(leaf.shape or (), getattr(leaf.example, "shape", ())):
            if isinstance(dim, sympy.Symbol):
                values[dim] = int(size)
    return values


@st.composite
def violating_inputs(draw, ep: torch.export.ExportedProgram) -> tuple[tuple, dict]:
    """(args, kwargs) that break one input constraint; ep.module() must reject them."""
    leaves = _leaves(ep)
    symbols = _symbols(leaves)
    values = _example_values(ep, leaves, symbols)
    choices: list[tuple] = []
    for index, leaf in enumerate(leaves):
        for axis, dim in enumerate(leaf.shape or ()):
            if isinstance(dim, int):
                choices.append(("static", index, axis, dim))
    for symbol in symbols:
        lower, upper = _bounds(ep, symbol)
        if lower > 2:
            choices.append(("below", symbol, lower))
        if upper < math.inf:
            choices.append(("above", symbol, upper))
    if not choices:
        raise ValueError("this program accepts every input shape; nothing can violate it")
    choice = draw(st.sampled_from(choices))
    seed = draw(st.integers(0, 2**31 - 1))
    if choice[0] == "static":
        _, index, axis, size = choice
        new = draw(st.sampled_from([s for s in (size + 1, size + 2, max(size - 1, 0)) if s != size]))
        return _build(ep, leaves, values, seed, override=(index, axis, new))
    kind, symbol, bound = choice
    values = dict(values)
    values[symbol] = draw(st.integers(max(bound - 3, 0), bound - 1)) if kind == "below" \
        else int(bound) + draw(st.integers(1, 3))
    return _build(ep, leaves, values, seed)
