"""Indexing tensors with symbolic sizes: the graph torch.export records, right on every size.

torch skips a slice that provably keeps its whole dim; on a symbolic size that must be
decided without guessing from the example (`x[:, :10]` on a dim of example size 8 keeps its
slice). Each case is checked against torch.export strict (live ops, input ranges) and
against eager on inputs of other sizes. Keys holding symbolic ints (`x[:, n - 1]`), which
torch.export specializes, stay symbolic (interpreter/tensors/symbolic_indexing.py) and are checked on eager.
"""
from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import strict_tracer
from support.export_compare import (assert_captures_like_torch_export, input_ranges, torch_reference,
                            traced_program)
from support.helpers import CallFn, assert_same, run_both


def _clone_set(key, value):
    def fn(x):
        y = x.clone()
        y[key] = value
        return y
    return fn


def _index_tensor(x):
    idx = torch.tensor([0, 2])
    return x[idx, :] * 2, x[:, None, 1:][..., 0, idx]


def _symbolic_bounds(x):
    n = x.shape[-1]
    return x[..., : n // 2] * 2, x[:, -1:], x[:, n - 3:n]


def _setitem_tensor_index(x):
    y = x.clone()
    y[:, torch.tensor([0, 1])] = 5.0
    return y


CASES = {
    # (function, example, dynamic_shapes, fresh inputs)
    "stop_beyond_example": (lambda x: x[:, :10] * 2, torch.randn(3, 8), ({1: Dim.DYNAMIC},),
                            [torch.randn(3, 9), torch.randn(3, 5)]),
    "whole_slices_on_symbolic_dims": (lambda x: x[:, :] + 1, torch.randn(3, 8),
                                      ({0: Dim.DYNAMIC, 1: Dim.DYNAMIC},), [torch.randn(5, 2)]),
    "whole_slice_of_bounded_dim": (lambda x: x[:, :] + 1, torch.randn(3, 8),
                                   ({1: Dim("d", max=64)},), [torch.randn(3, 64)]),
    "none_ellipsis_start": (lambda x: x[None, ..., 1:] - 1, torch.randn(3, 8),
                            ({0: Dim.DYNAMIC, 1: Dim.DYNAMIC},), [torch.randn(2, 3)]),
    "int_and_negative_index": (lambda x: x[1, :, -1], torch.randn(3, 8, 4),
                               ({1: Dim.DYNAMIC, 2: Dim.DYNAMIC},), [torch.randn(3, 2, 7)]),
    "tensor_index_after_slices": (_index_tensor, torch.randn(5, 8), ({1: Dim.DYNAMIC},),
                                  [torch.randn(5, 4)]),
    "symbolic_bounds": (_symbolic_bounds, torch.randn(2, 8), ({0: Dim.DYNAMIC, 1: Dim.DYNAMIC},),
                        [torch.randn(3, 5), torch.randn(1, 12)]),
    "setitem_slice": (_clone_set((slice(None), slice(None, 2)), 0.0), torch.randn(3, 8),
                      ({0: Dim.DYNAMIC, 1: Dim.DYNAMIC},), [torch.randn(4, 3)]),
    "setitem_whole": (_clone_set((slice(None),), 1.0), torch.randn(3, 8), ({0: Dim.DYNAMIC},),
                      [torch.randn(6, 8)]),
    "setitem_tensor_index": (_setitem_tensor_index, torch.randn(3, 8), ({0: Dim.DYNAMIC},),
                             [torch.randn(5, 8)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_indexing_on_symbolic_sizes(name):
    fn, example, dynamic_shapes, fresh = CASES[name]
    mod = CallFn(fn)
    ep = strict_tracer.export(mod, (example,), dynamic_shapes=dynamic_shapes)
    for x in [example, *fresh]:
        assert_same(*run_both(mod, ep, (x,)))
    if name == "stop_beyond_example":
        # torch.export re-traces once the guard `size <= 9` is known and may then drop the
        # slice as a no-op (it does for some callables, not others): compare ranges only.
        ours = traced_program(mod, (example,), dynamic_shapes=dynamic_shapes)
        ref = torch_reference(mod, (example,), dynamic_shapes=dynamic_shapes)
        assert input_ranges(ours) == input_ranges(ref)
    else:
        assert_captures_like_torch_export(mod, (example,), dynamic_shapes=dynamic_shapes)


def test_slice_stop_beyond_example_guards_like_torch_export():
    """`x[:, :10]` with example size 8: the graph slices, and sizes >= 10 are outside the
    program's range (torch.export decides the same)."""
    ep = strict_tracer.export(CallFn(lambda x: x[:, :10]), (torch.randn(3, 8),),
                              dynamic_shapes=({1: Dim.DYNAMIC},))
    assert [str(n.target) for n in ep.graph.nodes if n.op == "call_function"] == ["aten.slice.Tensor"]
    with pytest.raises(Exception, match="<= 9"):
        ep.module()(torch.randn(3, 12))


def _symbolic_int_keys(x):
    n = x.shape[1]
    y = x.clone()
    y[:, n - 1] = 0.0
    y[0, n - 2:] = y[1, : n // 2 - 1, None].sum()
    return x[:, n - 1] + x[:, 0, None].sum(), y, x[None, ..., n // 2][:, torch.arange(2)]


@pytest.mark.parametrize("example", [torch.randn(3, 8), torch.randn(2, 5)])
def test_symbolic_int_keys_stay_symbolic(example):
    """torch.export specializes n here; strict_tracer keeps it and matches eager on any n."""
    mod = CallFn(_symbolic_int_keys)
    ep = strict_tracer.export(mod, (example,), dynamic_shapes=({1: Dim.DYNAMIC},))
    assert ep.range_constraints, "the dim was specialized"
    rows = example.shape[0]
    for x in [example, torch.randn(rows, 4), torch.randn(rows, 17)]:
        assert_same(*run_both(mod, ep, (x,)))
