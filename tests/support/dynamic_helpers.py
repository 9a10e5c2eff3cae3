"""Compare exported programs with dynamic shapes up to symbol names."""
from __future__ import annotations

import sympy
import torch


def canonical(ep: torch.export.ExportedProgram) -> tuple[list, dict]:
    """(placeholder shapes, range constraints) of the user inputs, with symbols renamed by
    order of first appearance (a0, a1, ...) so two programs compare structurally."""
    names: dict = {}
    user = [s.arg.name for s in ep.graph_signature.input_specs if s.kind.name == "USER_INPUT"]
    nodes = {n.name: n for n in ep.graph.nodes if n.op == "placeholder"}
    exprs = []
    for name in user:
        val = nodes[name].meta.get("val")
        if isinstance(val, torch.Tensor):
            dims = [d.node.expr if isinstance(d, torch.SymInt) else d for d in val.shape]
            exprs.append([int(e) if isinstance(e, sympy.Integer) else e for e in dims])
    for dims in exprs:
        for e in dims:
            if isinstance(e, sympy.Symbol) and e not in names:
                names[e] = sympy.Symbol(f"a{len(names)}", integer=True)
    for dims in exprs:
        for e in dims:
            if isinstance(e, sympy.Expr):
                for s in sorted(e.free_symbols, key=str):
                    names.setdefault(s, sympy.Symbol(f"a{len(names)}", integer=True))
    for e in sorted(ep.range_constraints, key=str):
        for s in sorted(e.free_symbols, key=str):
            names.setdefault(s, sympy.Symbol(f"u{len(names)}", integer=True))
    shapes = [[str(e.xreplace(names)) if isinstance(e, sympy.Expr) else e for e in dims]
              for dims in exprs]
    ranges = {str(e.xreplace(names)): (str(vr.lower), str(vr.upper))
              for e, vr in ep.range_constraints.items()}
    return shapes, ranges


def violation_lines(message: str) -> list[str]:
    """The '- ...' lines and suggested fixes of a constraint-violation message."""
    lines = [line.strip() for line in message.splitlines()]
    out = [line for line in lines if line.startswith("- ")]
    if "Suggested fixes:" in lines:
        start = lines.index("Suggested fixes:") + 1
        for line in lines[start:]:
            if not line or line.startswith("The error above"):
                break
            out.append("fix: " + line)
    return out
