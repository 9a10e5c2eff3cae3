"""Stage 4 (DESIGN.md "Functionalization"): the traced graph -> a functional ATen graph.

`functionalize(result)` rewrites the traced graph of a TraceResult so that no node has a
mutable schema, and returns a FunctionalProgram: in-place and out= ops become functional
variants, writes through views scatter into their base, and every written parameter, buffer
or user input becomes an output tagged PARAMETER_MUTATION / BUFFER_MUTATION /
USER_INPUT_MUTATION, before the user outputs and in input order, as in torch.export's
functional IR. Autocast regions are then wrapped in `wrap_with_autocast` submodules and
grad-mode regions in `wrap_with_set_grad_enabled` ones. `functionalize_subgraph` does the
same for the subgraph of a higher-order op, refusing writes to the subgraph's inputs.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.fx
from torch.export.graph_signature import OutputKind

from ..trace.graph import BUFFER, PARAMETER, USER_INPUT
from ..trace.results import FunctionalProgram, TraceResult
from .autocast_regions import outline_autocast_regions
from .grad_regions import outline_grad_regions
from .rewrite import Functionalizer
from .storage import InputSource

_MUTATION_KIND = {PARAMETER: OutputKind.PARAMETER_MUTATION, BUFFER: OutputKind.BUFFER_MUTATION,
                  USER_INPUT: OutputKind.USER_INPUT_MUTATION}


def _input_sources(result: Any) -> dict[torch.fx.Node, InputSource]:
    sources = {lifted.node: InputSource(lifted.kind, lifted.target, lifted.node)
               for lifted in result.graph.lifted}
    for leaf in result.inputs.leaves:
        if leaf.proxy is not None:
            sources[leaf.node] = InputSource(USER_INPUT, leaf.name, leaf.node)
    return sources


def functionalize(result: TraceResult) -> FunctionalProgram:
    """The functional program of `result`: its graph rewritten (in place) so that no node
    mutates, the written inputs' new values output first (their kinds in `output_kinds`)."""
    graph = result.graph.graph
    pass_ = Functionalizer(graph, _input_sources(result), result.shape_env, result.export_grad,
                           sym_nodes=result.sym_nodes)
    written = pass_.run()
    output = next(n for n in reversed(graph.nodes) if n.op == "output")
    n_user = len(output.args[0]) - len(written)
    output_kinds = tuple([(_MUTATION_KIND[s.kind], s.target) for s in written]
                         + [(OutputKind.USER_OUTPUT, None)] * n_user)
    _functionalize_subgraphs(result.graph.submodules, result)
    result.graph.prune()
    outline_autocast_regions(result.graph)
    outline_grad_regions(result.graph, result.export_grad)
    return FunctionalProgram(result, output_kinds)


def _functionalize_subgraphs(submodules: dict[str, Any], result: Any) -> None:
    """Control-flow bodies (hops/): writes to their own intermediates become functional; the
    interpreter already refused writes to their inputs (allow_input_mutation=False checks)."""
    for body in submodules.values():
        _functionalize_subgraphs(body.submodules, result)
        functionalize_subgraph(body.graph, result.shape_env, result.export_grad, result.sym_nodes)


def functionalize_subgraph(graph: torch.fx.Graph, shape_env: Any = None, export_grad: bool = True,
                           sym_nodes: Any = None) -> None:
    """Functionalize a higher-order op's subgraph in place; writes to its inputs are refused."""
    inputs = {n: InputSource(USER_INPUT, n.name, n) for n in graph.nodes if n.op == "placeholder"}
    Functionalizer(graph, inputs, shape_env, export_grad, allow_input_mutation=False,
                   sym_nodes=sym_nodes).run()
    graph.eliminate_dead_code()


__all__ = ["functionalize", "functionalize_subgraph"]
