"""Input order and names of subgraphs, as torch.export produces them.

Order: the extra inputs of cond (and while_loop) are the outer values the two bodies read,
in three groups -- read by both, only by the first, only by the second -- each sorted by the
name torch.export's tracer (Dynamo) gives the value (`l_x_` for input x,
`l_self_modules_lin_parameters_weight_` for parameter lin.weight, the node name otherwise).

Names: placeholders of cond, map_impl and wrap_with_set_grad_enabled subgraphs (reached from
the top graph through those only) take the names of the operands passed to them; every other subgraph's
placeholders are `arg0_1, arg1_1, ...`. The other nodes of a subgraph are named afresh, as if
created after its placeholders (`mul` becomes `mul_1` when an input is called `mul`).
"""
from __future__ import annotations

import copy
from typing import Any, Callable

import torch
import torch.fx

from ..trace.graph import BUFFER, PARAMETER, GraphBuilder, op_display_name
from ..trace.subgraph import ScopedGraph, SubgraphBuilder

_COND = torch.ops.higher_order.cond
_MAP = torch.ops.higher_order.map_impl
_GRAD_REGION = torch.ops.higher_order.wrap_with_set_grad_enabled


def _state_name(kind: str, target: str) -> str:
    *modules, leaf = target.split(".")
    prefix = "l_self_" + "".join(f"modules_{m}_" for m in modules)
    group = {PARAMETER: "parameters_", BUFFER: "buffers_"}.get(kind, "")
    return f"{prefix}{group}{leaf}_"


def dynamo_name(node: torch.fx.Node, root: GraphBuilder) -> str:
    """The name torch.export's tracer gives the value of `node` (see module docstring)."""
    graph = node.graph
    if isinstance(graph, ScopedGraph):
        outer = graph.builder.outer_of.get(node)
        return dynamo_name(outer, root) if outer is not None else node.name
    if node.op == "placeholder":
        for lifted in root.lifted:
            if lifted.node is node:
                if lifted.target.startswith("lifted_tensor"):
                    return node.name
                return _state_name(lifted.kind, lifted.target)
        return f"l_{node.name}_"
    return node.name


def merge_free_inputs(first: SubgraphBuilder, second: SubgraphBuilder) -> list[torch.fx.Node]:
    """The outer nodes both bodies receive as extra inputs, in torch's order."""
    root = first.root

    def by_name(nodes):
        return sorted(nodes, key=lambda n: dynamo_name(n, root))

    shared = [n for n in first.free if n in second.free]
    only_first = [n for n in first.free if n not in second.free]
    only_second = [n for n in second.free if n not in first.free]
    return by_name(shared) + by_name(only_first) + by_name(only_second)


# ---------------------------------------------------------------------- final names
def _operand_names(graph: torch.fx.Graph) -> dict[str, list[str]]:
    """For each cond / map_impl / grad-region subgraph of `graph`: the names passed to it."""
    names: dict[str, list[str]] = {}
    for node in graph.nodes:
        if node.op != "call_function":
            continue
        if node.target is _COND:
            _, true_attr, false_attr, operands = node.args
            passed = [n.name for n in operands]
            names[true_attr.target] = names[false_attr.target] = passed
        elif node.target is _MAP:
            body_attr, xs, args = node.args
            names[body_attr.target] = [n.name for n in (*xs, *args)]
        elif node.target is _GRAD_REGION:
            names[node.args[1].target] = [n.name for n in node.args[2:]]
    return names


def _base_name(node: torch.fx.Node) -> str:
    if node.op == "call_function":
        return op_display_name(node.target)
    return str(node.target)


def _renamed_graph(old: torch.fx.Graph, names: list[str] | None) -> torch.fx.Graph:
    new = torch.fx.Graph()
    env: dict[torch.fx.Node, torch.fx.Node] = {}
    placeholders = [n for n in old.nodes if n.op == "placeholder"]
    for index, placeholder in enumerate(placeholders):
        name = names[index] if names is not None else f"arg{index}_1"
        node = new.placeholder(name)
        if node.name != name and name not in new._graph_namespace._used_names:
            new._graph_namespace._used_names.add(name)   # keep names FX would avoid (`input`)
            node.name = node.target = name
        node.meta = copy.copy(placeholder.meta)
        env[placeholder] = node
    for node in old.nodes:
        if node.op == "placeholder":
            continue
        args = torch.fx.map_arg(node.args, env.__getitem__)
        kwargs = torch.fx.map_arg(node.kwargs, env.__getitem__)
        created = new.create_node(node.op, node.target, args, kwargs, name=_base_name(node))
        created.meta = copy.copy(node.meta)
        env[node] = created
    return new


def subgraph_modules(graph: torch.fx.Graph, submodules: dict[str, SubgraphBuilder],
                     finish_graph: Callable[[torch.fx.Graph], Any],
                     propagate_names: bool = True) -> dict[str, torch.fx.GraphModule]:
    """GraphModules for the subgraphs `graph` reads with get_attr, named and finished.

    `finish_graph` is applied to every subgraph's graph (packaging attaches `val` metadata).
    """
    operand_names = _operand_names(graph) if propagate_names else {}
    modules: dict[str, torch.fx.GraphModule] = {}
    for target, builder in submodules.items():
        names = operand_names.get(target)
        sub_graph = _renamed_graph(builder.graph, names)
        finish_graph(sub_graph)
        owner = torch.nn.Module()
        nested = subgraph_modules(sub_graph, builder.submodules, finish_graph,
                                  propagate_names=names is not None)
        for name, module in nested.items():
            owner.add_module(name, module)
        modules[target] = torch.fx.GraphModule(owner, sub_graph, class_name=target)
    return modules
