"""program_compare: a general program against the functional program of a static trace."""
from __future__ import annotations

import sympy
import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.api import _functional_once
from strict_tracer.packaging.program_compare import _args, _Fold, _same, first_difference
from strict_tracer.stage_log import Stages
from support.helpers import CallFn


def _general_and_small(fn, x, small_x):
    general = strict_tracer.export(CallFn(fn), (x,), dynamic_shapes=({0: Dim("b", min=2)},))
    small = _functional_once(CallFn(fn), (small_x,), {}, None, Stages("test"), (), False,
                             stack_traces=False)
    return general, small


def test_the_same_computation_compares_equal_at_the_small_size():
    def fn(x):
        return torch.cat([x, x * 2], dim=-1).sum(0)
    general, small = _general_and_small(fn, torch.randn(4, 3), torch.randn(1, 3))
    assert first_difference(general, small) is None


def test_data_dependent_sizes_are_matched_by_order_of_appearance():
    def fn(x):
        n = (x > 0).sum().item()
        torch._check(n >= 0)
        return torch.zeros(n) + x.t().reshape(-1).sum()
    general, small = _general_and_small(fn, torch.randn(4, 3), torch.randn(1, 3))
    assert first_difference(general, small) is None


def test_another_operation_is_named():
    general, _ = _general_and_small(lambda x: x.sum(0), torch.randn(4, 3), torch.randn(1, 3))
    _, small = _general_and_small(lambda x: x.mean(0), torch.randn(4, 3), torch.randn(1, 3))
    assert first_difference(general, small) == \
        "it has `sum.dim_IntList` where the trace has `mean.dim`"


def test_keys_keep_bools_apart_from_ints_and_sizes_equal_in_value():
    fold = _Fold({})
    assert not _same(_args((True, 2), {}, fold), _args((1, 2), {}, fold))
    assert _same(_args((True, [2, 3.0]), {}, fold), _args((True, (2, 3)), {}, fold))
    s = sympy.Symbol("s", integer=True)
    assert _same(("sym", (s + 1) * (s + 2)), ("sym", s**2 + 3 * s + 2))
    assert not _same(("sym", 2 * s), ("sym", 2 * s + 1))


def test_a_trace_only_compared_carries_no_stack_traces():
    def fn(x):
        return x.sin() + 1
    traced = {flag: _functional_once(CallFn(fn), (torch.randn(2, 3),), {}, None, Stages("test"),
                                     (), False, stack_traces=flag) for flag in (True, False)}
    ops = {flag: [n for n in program.trace.graph.graph.nodes if n.op == "call_function"]
           for flag, program in traced.items()}
    assert all("return x.sin() + 1" in n.meta["stack_trace"] for n in ops[True])
    assert [n.meta["stack_trace"] for n in ops[False]] == [None, None]


def test_other_outputs_are_a_difference_of_signature():
    general, _ = _general_and_small(lambda x: x.sum(0), torch.randn(4, 3), torch.randn(1, 3))
    _, small = _general_and_small(lambda x: (x.sum(0), x.sum(1)), torch.randn(4, 3),
                                  torch.randn(1, 3))
    assert first_difference(general, small) == \
        "its inputs or outputs differ (parameters, buffers or mutations)"


def test_a_runtime_assert_failing_there_differs_unless_guards_were_deferred():
    def view_by_width(x):
        return x.view(x.size(1), -1).softmax(0)
    general = strict_tracer.export(CallFn(view_by_width), (torch.randn(10, 4, 3),),
                                   dynamic_shapes=({0: Dim("rows", min=2)},),
                                   prefer_deferred_runtime_asserts_over_guards=True)
    small = _functional_once(CallFn(view_by_width), (torch.randn(8, 4, 3),), {}, None,
                             Stages("test"), (), False, stack_traces=False)
    assert first_difference(general, small).startswith("its runtime assert fails there")
    assert first_difference(general, small, deferred_asserts=True) is None
