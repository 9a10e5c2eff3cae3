"""A program exported two ways (one of our shortcuts on, then off) must be the same program;
and which calls the oracle ran symbolically."""
from __future__ import annotations

import sys
from typing import Any, Callable

import torch

import strict_tracer
from support.helpers import CallFn, assert_same, run_both


def export_or_violation(fn: Callable, x: torch.Tensor, spec: Any) -> Any:
    """The program of `fn(x)` exported cold, or the ConstraintViolationError export raised (a
    named Dim's range may not fit the program)."""
    strict_tracer.ops.clear_template_cache()
    try:
        return strict_tracer.export(CallFn(fn), (x,), dynamic_shapes=spec)
    except strict_tracer.errors.ConstraintViolationError as exc:
        return exc


def aten_calls(ep: torch.export.ExportedProgram) -> list[tuple]:
    return [(str(n.target), tuple(str(a) for a in n.args)) for n in ep.graph.nodes
            if n.op == "call_function"]


def assert_same_program(ours: Any, theirs: Any, fn: Callable, fresh_shapes: list) -> None:
    """The same error, or the same ATen calls and input ranges and eager's results on inputs
    of `fresh_shapes`."""
    if isinstance(theirs, Exception):
        assert type(ours) is type(theirs) and str(ours) == str(theirs)
        return
    assert aten_calls(ours) == aten_calls(theirs)
    assert str(ours.range_constraints) == str(theirs.range_constraints)
    for shape in fresh_shapes:
        got, want = run_both(CallFn(fn), ours, (torch.randn(shape),))
        assert_same(got, want)


def symbolic_probes(monkeypatch) -> list[str]:
    """The names of the callables the oracle runs on symbolic fakes from now on."""
    dispatch_module = sys.modules["strict_tracer.ops.dispatch"]
    names, real = [], dispatch_module.probe

    def probe(fn, *args, **kwargs):
        if kwargs.get("symbolic"):
            names.append(getattr(fn, "__name__", repr(fn)))
        return real(fn, *args, **kwargs)
    monkeypatch.setattr(dispatch_module, "probe", probe)
    return names
