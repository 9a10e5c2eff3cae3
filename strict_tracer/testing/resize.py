"""Inputs of an exported program at other sizes, and which input dims it keeps symbolic.

`symbolic_dims(ep)` lists the (user input, dim) pairs whose size is symbolic in the program,
the comparable part of two exporters' specialization decisions. `resized_inputs(ep, args,
kwargs, step)` builds new inputs that the program's range constraints admit: each input symbol
moves `step` away from its example value (clipped to its range), derived sizes follow, and
each resized tensor repeats its own values along the changed dims, so index-like data (indices,
repeat counts, masks) keeps the value domain of the example.
"""
from __future__ import annotations

from typing import Any

import sympy
import torch
import torch.utils._pytree as pytree
from torch.export.graph_signature import InputKind
from torch.utils._sympy.numbers import int_oo


def _user_placeholders(ep: torch.export.ExportedProgram) -> list[torch.fx.Node]:
    names = [s.arg.name for s in ep.graph_signature.input_specs if s.kind == InputKind.USER_INPUT]
    nodes = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    return [nodes[name] for name in names if name in nodes]


def symbolic_dims(ep: torch.export.ExportedProgram) -> set[tuple[int, int]]:
    """(index of the user input among the flat inputs, dim) of every symbolic input size."""
    out = set()
    for i, node in enumerate(_user_placeholders(ep)):
        val = node.meta.get("val")
        for d, size in enumerate(getattr(val, "shape", ())):
            if isinstance(size, torch.SymInt) and not size.node.expr.is_number:
                out.add((i, d))
    return out


def _symbol_values(ep: torch.export.ExportedProgram, step: int) -> dict[sympy.Symbol, int] | None:
    """New values of the input symbols: `step` away from their hints, inside their ranges."""
    values: dict[sympy.Symbol, int] = {}
    for node in _user_placeholders(ep):
        for size in getattr(node.meta.get("val"), "shape", ()):
            if not isinstance(size, torch.SymInt):
                continue
            env = size.node.shape_env
            for s in size.node.expr.free_symbols:
                if s in values:
                    continue
                hint = env.backed_var_to_val.get(s)
                if hint is None:
                    return None
                vr = ep.range_constraints.get(s)
                lo = 0 if vr is None else int(vr.lower)
                hi = None if vr is None or vr.upper in (int_oo, sympy.oo) else int(vr.upper)
                value = int(hint) + step
                if hi is not None and value > hi:
                    value = int(hint) - step
                if value < lo:
                    return None
                values[s] = value
    return values


def _tile(t: torch.Tensor, shape: list[int]) -> torch.Tensor | None:
    out = t
    for d, n in enumerate(shape):
        old = out.shape[d]
        if n == old:
            continue
        if old == 0:
            return None
        out = out.index_select(d, torch.arange(n) % old)
    return out.clone().requires_grad_(t.requires_grad) if t.requires_grad else out


def resized_inputs(ep: torch.export.ExportedProgram, args: tuple, kwargs: dict | None,
                   step: int) -> tuple[tuple, dict] | None:
    """(args, kwargs) at sizes `step` away from the example's, or None when the program has
    no symbolic input size or the sizes cannot move that far."""
    kwargs = kwargs or {}
    values = _symbol_values(ep, step)
    if not values:
        return None
    leaves, spec = pytree.tree_flatten((args, kwargs))
    nodes = _user_placeholders(ep)
    tensors = [i for i, leaf in enumerate(leaves) if isinstance(leaf, torch.Tensor)]
    if len(tensors) != sum(isinstance(n.meta.get("val"), torch.Tensor) for n in nodes):
        return None
    vals = [n.meta.get("val") for n in nodes if isinstance(n.meta.get("val"), torch.Tensor)]
    new = list(leaves)
    for i, val in zip(tensors, vals):
        shape = []
        for size in val.shape:
            if isinstance(size, torch.SymInt):
                size = int(size.node.expr.xreplace(values))
            shape.append(int(size))
        if shape != list(leaves[i].shape):
            tiled = _tile(leaves[i], shape)
            if tiled is None:
                return None
            new[i] = tiled
    return pytree.tree_unflatten(new, spec)


def describe(args: Any) -> str:
    """Shapes of the tensors in a nested input structure, for reports."""
    return str([tuple(t.shape) for t in pytree.tree_leaves(args) if isinstance(t, torch.Tensor)])
