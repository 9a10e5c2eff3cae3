"""Grad-mode regions: wrap nodes traced under another grad mode in wrap_with_set_grad_enabled.

torch.export records a `with torch.no_grad():` block inside forward as a call of the
`wrap_with_set_grad_enabled(False, submod, *inputs)` higher-order op on a submodule holding
the block's nodes, so running the program (and differentiating it) sees the block's grad
mode. The interpreter stamps each node with `meta["st_grad"] = (grad_enabled, region)`; runs
of consecutive nodes of one region whose mode differs from export's become one submodule.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx
from torch._higher_order_ops.wrap import wrap_with_set_grad_enabled

from .emit import copy_source_meta


def _region_runs(graph: torch.fx.Graph, export_grad: bool) -> list[tuple[bool, list[torch.fx.Node]]]:
    runs: list[tuple[bool, list[torch.fx.Node]]] = []
    current_key = None
    for node in graph.nodes:
        key = node.meta.get("st_grad") if node.op == "call_function" else None
        if key is None or key[0] == export_grad:
            current_key = None
            continue
        if key != current_key:
            runs.append((key[0], []))
            current_key = key
        runs[-1][1].append(node)
    return runs


@dataclass
class RegionBody:
    """A region's graph, registered like a control-flow subgraph (GraphBuilder.submodules)."""

    graph: torch.fx.Graph
    submodules: dict[str, Any] = field(default_factory=dict)


def outline_grad_regions(builder: Any, export_grad: bool) -> None:
    """Move each region of `builder.graph` (a GraphBuilder) into a registered submodule."""
    graph = builder.graph
    for enabled, nodes in _region_runs(graph, export_grad):
        _outline(builder, enabled, nodes)


def _outline(builder: Any, enabled: bool, nodes: list[torch.fx.Node]) -> None:
    graph = builder.graph
    inside = set(nodes)
    inputs: list[torch.fx.Node] = []
    for node in nodes:
        for arg in node.all_input_nodes:
            if arg not in inside and arg not in inputs:
                inputs.append(arg)
    outputs = [n for n in nodes if any(user not in inside for user in n.users)]
    if not outputs:
        for node in reversed(nodes):
            graph.erase_node(node)
        return

    body = torch.fx.Graph()
    env: dict[torch.fx.Node, torch.fx.Node] = {}
    for arg in inputs:
        placeholder = body.placeholder(arg.name)
        placeholder.meta["st_meta"] = arg.meta.get("st_meta")
        env[arg] = placeholder
    for node in nodes:
        env[node] = body.node_copy(node, lambda n: env[n])
        env[node].meta.pop("st_grad", None)
    body.output(tuple(env[n] for n in outputs))
    name = f"submod_{builder.unused_submodule_index('submod')}"
    builder.submodules[name] = RegionBody(body)

    with graph.inserting_before(nodes[0]):
        attr = graph.get_attr(name)
        call = graph.create_node("call_function", wrap_with_set_grad_enabled,
                                 (enabled, attr, *inputs), name="wrap_with_set_grad_enabled")
        copy_source_meta(call, nodes[0])
        call.meta.pop("st_grad", None)
        call.meta["st_meta"] = tuple(n.meta.get("st_meta") for n in outputs)   # torch: a tuple
        for index, out in enumerate(outputs):
            item = graph.call_function(operator.getitem, (call, index))
            copy_source_meta(item, out)
            item.meta.pop("st_grad", None)
            item.meta["st_meta"] = out.meta.get("st_meta")
            out.replace_all_uses_with(item, delete_user_cb=lambda user: user not in inside)
    for node in reversed(nodes):
        graph.erase_node(node)
