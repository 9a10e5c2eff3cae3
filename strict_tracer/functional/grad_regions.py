"""Grad-mode regions: wrap nodes traced under another grad mode in wrap_with_set_grad_enabled.

torch.export records a `with torch.no_grad():` block inside forward as a call of the
`wrap_with_set_grad_enabled(False, submod, *inputs)` higher-order op on a submodule holding
the block's nodes, so running the program (and differentiating it) sees the block's grad
mode. The interpreter stamps each node with `meta["st_grad"] = (grad_enabled, region)`; runs
of consecutive nodes of one region whose mode differs from the surrounding one become one
submodule (outline.py). get_attr nodes (control-flow subgraphs) do not end a run.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.fx
from torch._higher_order_ops.wrap import wrap_with_set_grad_enabled

from .outline import outline, set_meta


def _region_runs(graph: torch.fx.Graph, ambient_grad: bool) -> list[tuple[bool, list[torch.fx.Node]]]:
    runs: list[tuple[bool, list[torch.fx.Node]]] = []
    current_key = None
    for node in graph.nodes:
        if node.op == "get_attr":
            continue
        key = node.meta.get("st_grad") if node.op == "call_function" else None
        if key is None or key[0] == ambient_grad:
            current_key = None
            continue
        if key != current_key:
            runs.append((key[0], []))
            current_key = key
        runs[-1][1].append(node)
    return runs


def outline_grad_regions(builder: Any, ambient_grad: bool) -> None:
    """Move each region of `builder.graph` (a GraphBuilder or region body) whose grad mode
    differs from `ambient_grad` (the mode the graph runs in) into a registered submodule."""
    for enabled, nodes in _region_runs(builder.graph, ambient_grad):
        made = outline(builder, nodes, wrap_with_set_grad_enabled, (enabled,),
                       "wrap_with_set_grad_enabled", drop_meta=("st_grad",))
        if made is not None:
            set_meta(made[0], "st_grad", None)
