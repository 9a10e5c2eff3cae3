"""Property: random programs exported with Dim.AUTO on every dimension are never silently wrong.

For inputs of other shapes, the exported program either rejects them with a guard failure
(`ep.module()`'s input checks, or a runtime assert) or returns what eager returns. Shapes are
drawn inside the program's range constraints (the batch dimension) and outside what the
program was written for (the width), so both acceptance and rejection are exercised.
"""
import copy

import torch
import torch.utils._pytree as pytree
from hypothesis import given
from hypothesis import strategies as st
from torch.export import Dim
from torch.utils._sympy.numbers import int_oo

import strict_tracer
from strict_tracer.errors import GraphBreakError
from strict_tracer.testing import programs
from strict_tracer.testing.programs import WIDTH

_REJECTIONS = ("Guard failed", "Runtime assertion failed")


def _close(got, want) -> None:
    got_leaves, got_spec = pytree.tree_flatten(got)
    want_leaves, want_spec = pytree.tree_flatten(want)
    assert got_spec == want_spec
    for g, w in zip(got_leaves, want_leaves):
        if isinstance(w, torch.Tensor):
            assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape)
            torch.testing.assert_close(g, w, atol=1e-5, rtol=1e-4)
        else:
            assert g == w


def _batch_range(ep) -> tuple[int, int]:
    """The range of the first input's batch dimension, as the program's constraints say."""
    placeholder = next(n for n in ep.graph.nodes if n.op == "placeholder" and n.name == "x0")
    size = placeholder.meta["val"].shape[0]
    if isinstance(size, int):
        return size, size
    vr = ep.range_constraints[size.node.expr]
    upper = 12 if vr.upper == int_oo else min(int(vr.upper), 12)
    return int(vr.lower), upper


@given(programs(), st.data())
def test_auto_dynamic_programs_are_never_silently_wrong(program, data):
    mod = program.build()
    eager = copy.deepcopy(mod)
    example = program.inputs(4, seed=0)
    spec = tuple((Dim.AUTO, Dim.AUTO) for _ in example)
    try:
        ep = strict_tracer.export(mod, copy.deepcopy(example), dynamic_shapes=spec)
    except GraphBreakError:
        return              # a refusal is allowed; a wrong program is not
    runner = ep.module()
    lo, hi = _batch_range(ep)
    batch = data.draw(st.integers(lo, max(lo, hi)), label="batch")
    width = data.draw(st.sampled_from([WIDTH, WIDTH, 3, 8]), label="width")
    inputs = tuple(torch.randn(batch, width, generator=torch.Generator().manual_seed(i))
                   for i in range(len(example)))
    try:
        want = eager(*copy.deepcopy(inputs))
    except Exception:
        want = None
    try:
        got = runner(*copy.deepcopy(inputs))
    except Exception as exc:
        # Rejecting is always sound; failing inside the graph on inputs eager accepts is not.
        assert want is None or any(m in str(exc) for m in _REJECTIONS), \
            f"graph failed on inputs eager accepts: {exc}"
        return
    assert want is not None, "the exported program accepted inputs eager rejects"
    _close(got, want)


@given(programs())
def test_example_shapes_are_always_accepted(program):
    mod = program.build()
    eager = copy.deepcopy(mod)
    example = program.inputs(4, seed=0)
    spec = tuple((Dim.AUTO, Dim.AUTO) for _ in example)
    try:
        ep = strict_tracer.export(mod, copy.deepcopy(example), dynamic_shapes=spec)
    except GraphBreakError:
        return
    fresh = program.inputs(4, seed=7)
    _close(ep.module()(*copy.deepcopy(fresh)), eager(*copy.deepcopy(fresh)))
