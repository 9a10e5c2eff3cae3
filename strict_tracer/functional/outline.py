"""Moving a run of consecutive nodes into a submodule called through a wrapper operator.

Grad-mode regions (`wrap_with_set_grad_enabled(enabled, submod, *inputs)`) and autocast
regions (`wrap_with_autocast(device_type, dtype, enabled, cache_enabled, submod, *inputs)`)
are built the same way, as torch.export does: the run's nodes move into a new graph whose
placeholders are the outside values they read and whose outputs are the values read after
the run; the call returns a tuple taken apart with getitem. Subgraphs of control-flow
operators inside the run (get_attr nodes only the run reads) move into the new submodule.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.fx

from .emitter import copy_source_meta


@dataclass
class RegionBody:
    """A region's graph, registered like a control-flow subgraph (GraphBuilder.submodules)."""

    graph: torch.fx.Graph
    submodules: dict[str, Any] = field(default_factory=dict)

    def unused_submodule_index(self, *prefixes: str) -> int:
        i = 0
        while any(f"{p}_{i}" in self.submodules for p in prefixes):
            i += 1
        return i


def outline(owner: Any, nodes: list[torch.fx.Node], wrapper: Any, constants: tuple,
            name: str, drop_meta: tuple[str, ...] = ()) -> tuple[torch.fx.Node, RegionBody] | None:
    """Replace `nodes` of `owner.graph` (a GraphBuilder, SubgraphBuilder or RegionBody) by
    `wrapper(*constants, submod, *inputs)`; return the call and the new body (None if the
    run computed nothing used later and had no side effect: it is erased).

    The get_attr, the call and its getitems copy the source metadata of the run's first node and of each
    output; `drop_meta` keys are removed from the body's nodes.
    """
    graph = owner.graph
    inside = set(nodes)
    moved_attrs = [arg for node in nodes for arg in node.all_input_nodes
                   if arg.op == "get_attr" and arg not in inside
                   and all(user in inside for user in arg.users)]
    inside.update(moved_attrs)
    inputs: list[torch.fx.Node] = []
    for node in nodes:
        for arg in node.all_input_nodes:
            if arg not in inside and arg not in inputs:
                inputs.append(arg)
    outputs = [n for n in nodes if any(user not in inside for user in n.users)]
    if not outputs and not any(n.is_impure() for n in nodes):
        _erase(graph, nodes, moved_attrs)
        return None

    body = RegionBody(torch.fx.Graph())
    env: dict[torch.fx.Node, torch.fx.Node] = {}
    for arg in inputs:
        placeholder = body.graph.placeholder(arg.name)
        placeholder.meta["st_meta"] = arg.meta.get("st_meta")
        env[arg] = placeholder
    for node in nodes:
        for attr in node.all_input_nodes:
            if attr.op == "get_attr" and attr in inside and attr not in env:
                env[attr] = body.graph.node_copy(attr)
                body.submodules[attr.target] = owner.submodules.pop(attr.target)
        env[node] = body.graph.node_copy(node, lambda n: env[n])
        for key in drop_meta:
            env[node].meta.pop(key, None)
    body.graph.output(tuple(env[n] for n in outputs))
    target = f"submod_{owner.unused_submodule_index('submod')}"
    owner.submodules[target] = body

    with graph.inserting_before(nodes[0]):
        attr = graph.get_attr(target)
        copy_source_meta(attr, nodes[0])     # unflatten places every node by its module stack
        call = graph.create_node("call_function", wrapper, (*constants, attr, *inputs), name=name)
        copy_source_meta(call, nodes[0])
        call.meta["st_meta"] = tuple(n.meta.get("st_meta") for n in outputs)   # torch: a tuple
        for index, out in enumerate(outputs):
            item = graph.call_function(operator.getitem, (call, index))
            copy_source_meta(item, out)
            item.meta["st_meta"] = out.meta.get("st_meta")
            out.replace_all_uses_with(item, delete_user_cb=lambda user: user not in inside)
    _erase(graph, nodes, moved_attrs)
    return call, body


def set_meta(call: torch.fx.Node, key: str, value: Any) -> None:
    """Set (None: remove) `key` on a call made by `outline` and on its getitems."""
    for node in (call, *(u for u in call.users if u.target is operator.getitem)):
        if value is None:
            node.meta.pop(key, None)
        else:
            node.meta[key] = value


def _erase(graph: torch.fx.Graph, nodes: list[torch.fx.Node], attrs: list[torch.fx.Node]) -> None:
    for node in reversed(nodes):
        graph.erase_node(node)
    for attr in dict.fromkeys(attrs):
        graph.erase_node(attr)
