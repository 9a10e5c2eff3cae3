"""Node metadata of exported programs as plain data, for tests/packaging/test_package_metadata.py.

`describe(ep)` lists every node's `meta["val"]` (shape and strides as expressions, storage
offset, dtype, device, layout, requires_grad, leafness), `meta["tensor_meta"]` and
`meta["unbacked_bindings"]`, plus the range constraints. Run this file to rewrite the stored
snapshot after a deliberate change of the programs:

    .venv/bin/python tests/support/package_snapshot.py
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "tests" / "packaging" / "data" / "package_metadata.jsonl"
CASES = (("gpt2", 2, False), ("gpt2", 2, True), ("transformer", 2, True), ("resnet", 2, True))


def _value(v: Any) -> Any:
    if isinstance(v, torch.Tensor):
        return {"shape": [str(s) for s in v.shape], "stride": [str(s) for s in v.stride()],
                "offset": str(v.storage_offset()), "dtype": str(v.dtype), "device": str(v.device),
                "layout": str(v.layout), "requires_grad": v.requires_grad, "leaf": v.is_leaf,
                "type": type(v).__name__}
    if isinstance(v, (torch.SymInt, torch.SymFloat, torch.SymBool)):
        return {"sym": type(v).__name__, "expr": str(v.node.expr), "hint": str(v.node.hint)}
    if isinstance(v, (list, tuple)):
        return [_value(x) for x in v]
    return repr(v)


def _tensor_meta(tm: Any) -> Any:
    if tm is None:
        return None
    return {"shape": [str(s) for s in tm.shape], "dtype": str(tm.dtype),
            "requires_grad": tm.requires_grad, "stride": [str(s) for s in tm.stride],
            "memory_format": str(tm.memory_format), "quantized": tm.is_quantized}


def describe(ep: torch.export.ExportedProgram) -> dict:
    nodes = []
    for node in ep.graph.nodes:
        bindings = node.meta.get("unbacked_bindings")
        nodes.append({"name": node.name, "op": node.op, "target": str(node.target),
                      "val": _value(node.meta.get("val")),
                      "tensor_meta": _tensor_meta(node.meta.get("tensor_meta")),
                      "unbacked": None if bindings is None else
                      sorted(f"{k}: {v}" for k, v in bindings.items())})
    ranges = sorted(f"{k}: {v}" for k, v in ep.range_constraints.items())
    return {"nodes": nodes, "range_constraints": ranges}


def zoo_exports() -> dict[str, dict]:
    """describe() of each CASES export of benchmarks/zoo.py."""
    import strict_tracer
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from zoo import ZOO
    out = {}
    for name, depth, dynamic in CASES:
        case = ZOO[name]
        args, kwargs = case.inputs()
        ep = strict_tracer.export(case.build(depth), args, kwargs,
                                  dynamic_shapes=case.dynamic() if dynamic else None)
        out[f"{name}-{depth}-{'dynamic' if dynamic else 'static'}"] = describe(ep)
    return out


def dumps(exports: dict[str, dict]) -> str:
    """One line per node, so that a difference names the node."""
    lines = []
    for case, described in exports.items():
        lines.append(json.dumps({"case": case, "range_constraints": described["range_constraints"]}))
        lines += [json.dumps(node, sort_keys=True) for node in described["nodes"]]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    SNAPSHOT.write_text(dumps(zoo_exports()))
    print(f"wrote {SNAPSHOT}")
