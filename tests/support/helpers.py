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
            torch.testing.assert_close(g, w, atol=atol, rtol=rtol, equal_nan=True)
        else:
            assert g == w, f"{g!r} != {w!r}"


def run_both(mod: torch.nn.Module, ep: torch.export.ExportedProgram, args: tuple,
             kwargs: dict | None = None) -> tuple[Any, Any]:
    """Run eager and ep.module() on separate copies of the inputs (inputs may be mutated)."""
    kwargs = kwargs or {}
    a1, k1 = copy.deepcopy((args, kwargs))
    a2, k2 = copy.deepcopy((args, kwargs))
    return ep.module()(*a1, **k1), mod(*a2, **k2)


def run_and_compare_state(mod: torch.nn.Module, ep: torch.export.ExportedProgram, args: tuple,
                          kwargs: dict | None = None, calls: list[tuple[tuple, dict]] = ()) -> None:
    """Call a copy of `mod` eagerly and ep.module() on copies of the same inputs, first with
    (args, kwargs) then with each of `calls`; after every call the outputs, the inputs and the
    modules' buffers and parameters must agree. (ep.module() shares ep's state, so `ep` must
    not share tensors with `mod`: export a deepcopy.)"""
    eager_mod = copy.deepcopy(mod)
    exported = ep.module()
    before = dict(mod.named_buffers())
    for c_args, c_kwargs in [(args, kwargs or {}), *calls]:
        a1, k1 = copy.deepcopy((c_args, c_kwargs))
        a2, k2 = copy.deepcopy((c_args, c_kwargs))
        assert_same(exported(*a1, **k1), eager_mod(*a2, **k2))
        assert_same((a1, k1), (a2, k2))
        got = dict(exported.named_buffers())
        for name, value in eager_mod.named_buffers():
            # torch.export drops buffers forward never reads; eager must not have changed those.
            assert_same(got.get(name, before[name]), value)
        want = dict(eager_mod.named_parameters())
        for name, value in exported.named_parameters():
            assert_same(value, want[name])


def torch_functional(mod: torch.nn.Module, args: tuple, kwargs: dict | None = None):
    """torch.export's functional form of `mod`: export(strict=True).run_decompositions({})."""
    ref = torch.export.export(copy.deepcopy(mod), copy.deepcopy(args), copy.deepcopy(kwargs or {}),
                              strict=True)
    return ref.run_decompositions({})


def signature_summary(ep: torch.export.ExportedProgram) -> tuple[list, list]:
    """Input specs (persistence only for buffers: torch's functional form drops the flag that
    its training IR sets on module-attribute constants); outputs as (kind, target), since
    mutation outputs may be named after different (equivalent) nodes."""
    sig = ep.graph_signature
    inputs = [(s.kind.name, getattr(s.arg, "name", None), s.target,
               s.persistent if s.kind.name == "BUFFER" else None) for s in sig.input_specs]
    outputs = [(s.kind.name, s.target) for s in sig.output_specs]
    return inputs, outputs


def check_export(mod: torch.nn.Module, args: tuple, kwargs: dict | None = None, *,
                 fresh: list[tuple[tuple, dict]] = (), compare_torch: bool = True):
    """Export a copy of `mod`, check it against eager on the example and fresh inputs (outputs,
    mutated inputs, buffers), and (optionally) check its graph signature against torch.export's
    functional form."""
    kwargs = kwargs or {}
    ep = strict_tracer.export(copy.deepcopy(mod), args, kwargs)
    run_and_compare_state(mod, copy.deepcopy(ep), args, kwargs, list(fresh))
    if compare_torch:
        ref = torch_functional(mod, args, kwargs)
        assert signature_summary(ep) == signature_summary(ref), (
            f"signature differs from torch.export:\n{ep.graph_signature}\nvs\n{ref.graph_signature}")
    return ep


def _differs_from_functional_form(ep: torch.export.ExportedProgram) -> bool:
    from strict_tracer.functional.schema import Kind, op_facts
    for module in ep.graph_module.modules():
        if isinstance(module, torch.fx.GraphModule):
            for node in module.graph.nodes:
                if isinstance(node.target, torch._ops.OpOverload) and \
                        op_facts(node.target).kind not in (Kind.FUNCTIONAL, Kind.VIEW):
                    return True
    return False


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
    unused nodes; strict_tracer prunes them). When torch's graph writes tensors or calls ops
    that may alias (movedim, reshape), it differs from the functional IR strict_tracer exports,
    so torch's functional form (run_decompositions({})) is compared instead; otherwise the two
    forms agree and the training IR keeps torch.export's own node names."""
    ep = torch.export.export(mod, copy.deepcopy(args), copy.deepcopy(kwargs or {}),
                             dynamic_shapes=dynamic_shapes, strict=True)
    if _differs_from_functional_form(ep):
        ep = ep.run_decompositions({})
    ep.graph_module.graph.eliminate_dead_code()
    ep.graph_module.recompile()
    return readable(ep)


def marked_line(path: str, marker: str, tag: str = "# <- ") -> int:
    """The number of the line of `path` that ends with `{tag}{marker}` (tests name the lines
    a message must point at by such end-of-line comments)."""
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if line.rstrip().endswith(f"{tag}{marker}"):
                return number
    raise AssertionError(f"no line of {path} is marked {tag}{marker}")


class CallFn(torch.nn.Module):
    """A module whose forward(x) calls fn(x): wraps a test's function for export."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)
