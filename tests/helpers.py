"""Shared checks: export with strict_tracer, compare with eager and with torch.export."""
from __future__ import annotations

import copy
from typing import Any

import torch
import torch.utils._pytree as pytree

import strict_tracer


def assert_same(got: Any, want: Any, atol: float = 1e-5, rtol: float = 1e-5) -> None:
    got_leaves, got_spec = pytree.tree_flatten(got)
    want_leaves, want_spec = pytree.tree_flatten(want)
    assert got_spec == want_spec, f"output structure differs: {got_spec} vs {want_spec}"
    for g, w in zip(got_leaves, want_leaves):
        if isinstance(w, torch.Tensor):
            assert isinstance(g, torch.Tensor), f"expected a tensor, got {type(g).__name__}"
            assert g.shape == w.shape and g.dtype == w.dtype, f"{g.shape}/{g.dtype} vs {w.shape}/{w.dtype}"
            torch.testing.assert_close(g, w, atol=atol, rtol=rtol)
        else:
            assert g == w, f"{g!r} != {w!r}"


def run_both(mod: torch.nn.Module, ep: torch.export.ExportedProgram, args: tuple,
             kwargs: dict | None = None) -> tuple[Any, Any]:
    """Run eager and ep.module() on separate copies of the inputs (inputs may be mutated)."""
    kwargs = kwargs or {}
    a1, k1 = copy.deepcopy((args, kwargs))
    a2, k2 = copy.deepcopy((args, kwargs))
    return ep.module()(*a1, **k1), mod(*a2, **k2)


def check_export(mod: torch.nn.Module, args: tuple, kwargs: dict | None = None, *,
                 fresh: list[tuple[tuple, dict]] = (), compare_torch: bool = True):
    """Export `mod`, check it against eager on the example and fresh inputs, and (optionally)
    check its graph signature against torch.export.export(..., strict=True)."""
    kwargs = kwargs or {}
    ep = strict_tracer.export(mod, args, kwargs)
    got, want = run_both(mod, ep, args, kwargs)
    assert_same(got, want)
    for f_args, f_kwargs in fresh:
        got, want = run_both(mod, ep, f_args, f_kwargs)
        assert_same(got, want)
    if compare_torch:
        ref = torch.export.export(mod, copy.deepcopy(args), copy.deepcopy(kwargs), strict=True)
        assert str(ep.graph_signature) == str(ref.graph_signature), (
            f"signature differs from torch.export:\n{ep.graph_signature}\nvs\n{ref.graph_signature}")
    return ep


def aten_targets(ep: torch.export.ExportedProgram) -> list[str]:
    return [str(n.target) for n in ep.graph.nodes if n.op == "call_function"]


def readable(ep: torch.export.ExportedProgram) -> str:
    """The program's code as ExportedProgram prints it (submodules included), without source
    comments and blank lines, followed by its graph signature."""
    text = ep.graph_module.print_readable(print_output=False, include_stride=False,
                                          include_device=False, colored=False)
    lines = [line for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return "\n".join(lines) + "\n" + str(ep.graph_signature)


def torch_readable(mod: torch.nn.Module, args: tuple, kwargs: dict | None = None,
                   dynamic_shapes: Any = None) -> str:
    """`readable` of torch.export.export(..., strict=True), with dead code removed (torch keeps
    unused nodes; strict_tracer prunes them)."""
    ep = torch.export.export(mod, copy.deepcopy(args), copy.deepcopy(kwargs or {}),
                             dynamic_shapes=dynamic_shapes, strict=True)
    ep.graph_module.graph.eliminate_dead_code()
    ep.graph_module.recompile()
    return readable(ep)
