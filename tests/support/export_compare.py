"""Comparing strict_tracer's capture with torch.export's: live op counts and input ranges.

Ops coverage is compared at the level both exporters trace at, torch.export's default
(training) IR: `traced_program` packages our trace before functionalization, and
`torch_reference` is torch.export.export(strict=True). The functional program export()
returns is checked against eager by the tests; its rewriting is functionalization's to match.
"""
from __future__ import annotations

import copy
import sys
from collections import Counter
from typing import Any

import torch
from torch.export.graph_signature import InputKind

from strict_tracer.api import trace, validate_arguments
from strict_tracer.packaging.program import package

# Nodes that structure a graph rather than compute: getitem of multi-output ops and wrappers
# of subgraphs (their bodies are counted instead).
_STRUCTURAL = {"<built-in function getitem>"}


def traced_program(mod: torch.nn.Module, args: tuple, kwargs: dict | None = None,
                   dynamic_shapes: Any = None) -> torch.export.ExportedProgram:
    """strict_tracer's capture in torch.export's training IR (not functionalized)."""
    args, kwargs = validate_arguments(mod, args, kwargs)
    return package(trace(mod, args, kwargs, dynamic_shapes=dynamic_shapes))


def torch_reference(mod: torch.nn.Module, args: tuple, kwargs: dict | None = None,
                    dynamic_shapes: Any = None) -> torch.export.ExportedProgram:
    """torch.export.export(strict=True) of a copy of `mod` (its default, training IR)."""
    return torch.export.export(copy.deepcopy(mod), copy.deepcopy(args), copy.deepcopy(kwargs or {}),
                               dynamic_shapes=dynamic_shapes, strict=True)


def _whole_dim_slice(node: torch.fx.Node) -> bool:
    return node.target is torch.ops.aten.slice.Tensor and len(node.args) == 4 and \
        node.args[2] == 0 and node.args[3] == sys.maxsize


def live_nodes(ep: torch.export.ExportedProgram) -> list[torch.fx.Node]:
    """The compute nodes of the program and its subgraphs, dead nodes removed (torch.export
    keeps unused nodes, strict_tracer prunes them), on a copy of its graph module. Slices of
    a whole dim (`x[:, :]`) are left out: torch keeps them when the dim's size is not known
    to fit, and torch.export decides that with facts learned later in the trace (it traces
    twice), strict_tracer with the facts known at that point; either way they are no-ops."""
    gm = copy.deepcopy(ep.graph_module)
    nodes = []
    for module in gm.modules():
        if not isinstance(module, torch.fx.GraphModule):
            continue
        module.graph.eliminate_dead_code()
        for node in module.graph.nodes:
            if node.op != "call_function":
                continue
            if str(node.target) in _STRUCTURAL or isinstance(node.target, torch._ops.HigherOrderOperator) \
                    or _whole_dim_slice(node):
                continue
            nodes.append(node)
    return nodes


def live_op_counts(ep: torch.export.ExportedProgram) -> Counter:
    """ATen ops of the program's `live_nodes`."""
    return Counter(str(node.target) for node in live_nodes(ep))


def input_ranges(ep: torch.export.ExportedProgram) -> dict[tuple[str, int], tuple]:
    """(user input, dim) -> (lower, upper) of every symbolic input size (symbol names differ
    between exporters; where they occur does not)."""
    user = {s.arg.name for s in ep.graph_signature.input_specs if s.kind == InputKind.USER_INPUT}
    ranges = {}
    for node in ep.graph.nodes:
        if node.op != "placeholder" or node.name not in user:
            continue
        val = node.meta.get("val")
        for dim, size in enumerate(getattr(val, "shape", ())):
            if isinstance(size, torch.SymInt) and size.node.expr.is_Symbol:
                vr = ep.range_constraints[size.node.expr]
                ranges[(node.name, dim)] = (int(vr.lower), str(vr.upper))
    return ranges


def assert_matches_torch_export(ep: torch.export.ExportedProgram, ref: torch.export.ExportedProgram) -> None:
    ours, theirs = live_op_counts(ep), live_op_counts(ref)
    assert ours == theirs, (f"ops differ from torch.export: ours-theirs {ours - theirs}, "
                            f"theirs-ours {theirs - ours}")
    assert input_ranges(ep) == input_ranges(ref)


def signature(ep: torch.export.ExportedProgram) -> list:
    return [(s.kind.name, s.arg.name, s.target) for s in ep.graph_signature.input_specs]


def assert_captures_like_torch_export(mod: torch.nn.Module, args: tuple, kwargs: dict | None = None,
                                      dynamic_shapes: Any = None) -> None:
    """Our trace and torch.export's: the same live ops, input ranges and inputs."""
    ours = traced_program(mod, args, kwargs, dynamic_shapes)
    theirs = torch_reference(mod, args, kwargs, dynamic_shapes)
    assert_matches_torch_export(ours, theirs)
    assert signature(ours) == signature(theirs)
