"""Is an exported program functional? No node of its graph, or of a submodule's graph (control
flow bodies, autocast and grad regions), may call an ATen op whose schema mutates. The test
session runs this on every program export() returns (tests/conftest.py)."""
from __future__ import annotations

import torch
import torch.fx


def mutating_nodes(ep: torch.export.ExportedProgram) -> list[torch.fx.Node]:
    """The nodes of `ep` (and of its submodules) whose ATen schema mutates an argument."""
    found = []
    for module in ep.graph_module.modules():
        if not isinstance(module, torch.fx.GraphModule):
            continue
        for node in module.graph.nodes:
            if isinstance(node.target, torch._ops.OpOverload) and node.target._schema.is_mutable:
                found.append(node)
    return found


def assert_functional(ep: torch.export.ExportedProgram) -> None:
    """Fail with the first mutating node of `ep`, if it has one."""
    nodes = mutating_nodes(ep)
    assert not nodes, f"exported graph has a mutating node: {nodes[0].format_node()}"
