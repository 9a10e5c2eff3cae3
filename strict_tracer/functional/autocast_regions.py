"""Autocast regions: wrap the nodes of each `torch.autocast` block in wrap_with_autocast.

torch.export records a `with torch.autocast(...)` block inside forward as
`wrap_with_autocast(device_type, dtype, enabled, cache_enabled, submod, *inputs)` on a
submodule holding the block's nodes; a block nested in another is such a call inside the
outer block's submodule. The interpreter stamps each node with `meta["st_autocast"]`, the
innermost region open when it was made (strict_tracer/autocast.py). For a graph running
inside region `ambient` (None at the top), consecutive nodes that lie in the same region
just inside `ambient` become one submodule, which is then processed the same way with that
region as its ambient; grad-mode regions inside it are outlined relative to the grad mode
the call runs in. Subgraphs of control-flow operators are processed with the region of the
operator's node as their ambient.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.fx
from torch._higher_order_ops.wrap import wrap_with_autocast

from ..trace.autocast import AutocastRegion
from .emitter import refusal
from .grad_regions import outline_grad_regions
from .outline import outline, set_meta


def outline_autocast_regions(owner: Any, ambient: AutocastRegion | None = None) -> None:
    """Outline the autocast regions of `owner.graph` (and of its subgraphs), in place."""
    _outline_subgraphs(owner)
    for region, nodes in _runs(owner.graph, ambient):
        made = outline(owner, nodes, wrap_with_autocast, region.args, "wrap_with_autocast")
        if made is None:
            continue
        call, body = made
        # The call (and its getitems) runs where the block was entered: in `ambient`, in the
        # grad mode of the block's first node; nodes inside that differ get their own regions.
        set_meta(call, "st_autocast", ambient)
        grad = call.meta.get("st_grad")
        set_meta(call, "st_grad", grad)
        outline_autocast_regions(body, region)
        if grad is not None:
            outline_grad_regions(body, grad[0])


def _outline_subgraphs(owner: Any) -> None:
    for node in owner.graph.nodes:
        if node.op != "get_attr" or node.target not in owner.submodules:
            continue
        users = list(node.users)
        region = users[0].meta.get("st_autocast") if users else None
        outline_autocast_regions(owner.submodules[node.target], region)


def _runs(graph: torch.fx.Graph, ambient: AutocastRegion | None) -> list[tuple[AutocastRegion, list]]:
    runs: list[tuple[AutocastRegion, list[torch.fx.Node]]] = []
    current = None
    for node in graph.nodes:
        if node.op == "get_attr":
            continue
        child = _child_region(node, ambient) if node.op == "call_function" else None
        if child is None:
            current = None
            continue
        if child is not current:
            runs.append((child, []))
            current = child
        runs[-1][1].append(node)
    return runs


def _child_region(node: torch.fx.Node, ambient: AutocastRegion | None) -> AutocastRegion | None:
    """The region just inside `ambient` that `node` was made in (None: in `ambient` itself)."""
    region = node.meta.get("st_autocast")
    if region is ambient:
        return None
    path = region.path_from(ambient) if region is not None else None
    if not path:
        raise refusal(node, "this op was traced in an autocast state that does not nest inside "
                            "the autocast block of the graph it belongs to",
                      "enter and exit torch.autocast blocks inside the same function "
                      "(and inside the same torch.cond branch or loop body)")
    return path[0]


__all__ = ["outline_autocast_regions"]
