"""The stage contracts: what tracing hands on (TraceResult) and what functionalization makes
of it (FunctionalProgram). Frozen, and defined here, below the stages that make and read
them (api.trace, functional/, packaging/), so no stage reaches into a later one's module.

The graph inside is the one object a later stage rewrites in place (functionalization
rewrites its nodes); the records themselves are never changed, a stage returns a new one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import torch
import torch.utils._pytree as pytree

if TYPE_CHECKING:
    from torch.export.graph_signature import OutputKind

    from ..inputs import TracedInputs
    from .graph import GraphBuilder


@dataclass(frozen=True)
class TraceResult:
    """What tracing hands to the later stages."""

    root: torch.nn.Module
    graph: GraphBuilder
    inputs: TracedInputs
    output_values: list[Any]
    out_spec: pytree.TreeSpec
    example_args: tuple
    example_kwargs: dict
    shape_env: Any = None          # strict_tracer.symbolic.ShapeEnv of the trace
    sym_nodes: Any = None          # trace/sym_nodes.SymNodes (symbol bindings)
    export_grad: bool = True       # grad mode export() was called in
    module_call_specs: dict = field(default_factory=dict)   # preserved calls (module_calls.py)


@dataclass(frozen=True)
class FunctionalProgram:
    """A trace whose graph functionalization rewrote: no node has a mutable schema, and the
    outputs are the input mutations (`output_kinds`, in order) before the user outputs."""

    trace: TraceResult
    output_kinds: tuple[tuple[OutputKind, str | None], ...]
