"""Sizes 0 and 1 of a named Dim whose range admits them: the program traced from 2 up is
checked against a trace at each small size a decision concerns, or the export is refused."""
from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.errors import ConstraintViolationError
from strict_tracer.ops import clear_template_cache
from strict_tracer.packaging.small_size_check import plan_small_sizes
from support.helpers import CallFn, run_and_compare_state


def _branch_on_one(x):
    if x.shape[0] == 1:
        return x + 1
    return x - 1


def _contiguity_after_reshape(x):
    y = x.unsqueeze(1).expand(-1, 2, -1).reshape(-1, 3)
    if y.is_contiguous():
        return y + 1
    return y - 1


def _reshape_copy(x):
    return x.t().reshape(-1) * 2 + x.sum()


def _export(fn, x, dim):
    return strict_tracer.export(CallFn(fn), (x,), dynamic_shapes=({0: dim},))


def test_a_branch_on_size_one_is_refused_with_the_line_and_a_fix():
    with pytest.raises(ConstraintViolationError) as caught:
        _export(_branch_on_one, torch.randn(4, 3), Dim("b", max=64))
    text = str(caught.value)
    assert "At b = 1 the program differs from a trace at that size" in text
    line = _branch_on_one.__code__.co_firstlineno + 1
    assert f"b != 1  (at {__file__}:{line} in _branch_on_one: if x.shape[0] == 1:)" in text
    assert caught.value.fixes == ["b = Dim('b', min=2, max=64)"]
    assert isinstance(caught.value, torch._dynamo.exc.UserError)      # torch.export's class


def test_the_suggested_range_exports_a_program_right_everywhere_it_admits():
    ep = _export(_branch_on_one, torch.randn(4, 3), Dim("b", min=2, max=64))
    (value_range,) = ep.range_constraints.values()
    assert value_range.lower == 2
    for size in (2, 5, 64):
        x = torch.randn(size, 3)
        torch.testing.assert_close(ep.module()(x), _branch_on_one(x))


def test_min_one_checks_size_one_only():
    # The range admits 1 but not 0: size 1 is where the branch differs, so still refused.
    with pytest.raises(ConstraintViolationError, match="At b = 1"):
        _export(_branch_on_one, torch.randn(4, 3), Dim("b", min=1, max=64))


def test_contiguity_that_differs_at_size_one_is_refused():
    # At 1 the reshape is a view of the expanded tensor (not contiguous); at 2 and up a copy.
    small = torch.randn(1, 3)
    assert not small.unsqueeze(1).expand(-1, 2, -1).reshape(-1, 3).is_contiguous()
    with pytest.raises(ConstraintViolationError, match="At b = 1"):
        _export(_contiguity_after_reshape, torch.randn(4, 3), Dim("b", max=64))


def test_another_form_with_the_same_values_is_accepted_and_right_at_zero_and_one():
    ep = _export(_reshape_copy, torch.randn(4, 3), Dim("b", max=64))
    assert ep.range_constraints[next(iter(ep.range_constraints))].lower == 0
    for size in (0, 1, 2, 7):
        x = torch.randn(size, 3)
        torch.testing.assert_close(ep.module()(x), _reshape_copy(x))


def test_a_size_forward_itself_fails_at_does_not_refuse_the_export():
    def flatten_rows(x):
        # reshape(0, -1) of an empty tensor is ambiguous: eager raises at size 0.
        y = x.reshape(x.shape[0], -1)
        return y.t().reshape(-1) * 2
    x = torch.randn(4, 3, 2)
    with pytest.raises(RuntimeError):
        flatten_rows(torch.randn(0, 3, 2))
    ep = _export(flatten_rows, x, Dim("b", max=64))
    for size in (1, 3):
        x = torch.randn(size, 3, 2)
        torch.testing.assert_close(ep.module()(x), flatten_rows(x))


def test_dim_auto_ranges_start_at_two_so_small_sizes_are_not_promised():
    # As torch.export's: Dim.AUTO and Dim.DYNAMIC ranges start at 2 in range_constraints.
    ep = _export(_branch_on_one, torch.randn(4, 3), Dim.AUTO)
    (value_range,) = ep.range_constraints.values()
    assert value_range.lower == 2


def test_a_derived_dim_is_held_with_its_root():
    class Pair(torch.nn.Module):
        def forward(self, x, y):
            if y.shape[0] == 2:        # y has 2*d rows: d == 1
                return x.sum() + y.sum()
            return x.sum() - y.sum()

    d = Dim("d", max=16)
    with pytest.raises(ConstraintViolationError, match="At d = 1"):
        strict_tracer.export(Pair(), (torch.randn(3, 2), torch.randn(6, 2)),
                             dynamic_shapes=({0: d}, {0: 2 * d}))


def test_meta_weights_are_compared_by_form():
    # No values to run: the forms must agree. A reshape that copies at 2 and up and views at
    # 1 is the same rearrangement of values, so this exports.
    with torch.device("meta"):
        mod = torch.nn.Linear(3, 3)

    class Rows(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = mod

        def forward(self, x):
            return self.lin(x.unsqueeze(1).expand(-1, 2, -1).reshape(-1, 3))

    ep = strict_tracer.export(Rows(), (torch.randn(4, 3, device="meta"),),
                              dynamic_shapes=({0: Dim("b", max=64)},))
    assert len(ep.range_constraints) == 1


def test_meta_weights_with_another_computation_at_size_one_are_refused():
    class Branch(torch.nn.Module):
        def forward(self, x):
            return x + 1 if x.shape[0] == 1 else x - 1

    with pytest.raises(ConstraintViolationError, match="At b = 1"):
        strict_tracer.export(Branch(), (torch.randn(4, 3, device="meta"),),
                             dynamic_shapes=({0: Dim("b", max=64)},))


class CountingNorm(torch.nn.Module):
    """Writes a buffer: the small-size traces must leave it as it was before export."""

    def __init__(self):
        super().__init__()
        self.register_buffer("seen", torch.zeros(3))

    def forward(self, x):
        self.seen.add_(x.sum(0))
        return x.t().reshape(-1).sum() + self.seen.sum()


def test_the_small_size_traces_leave_the_modules_state_as_it_was():
    mod = CountingNorm()
    ep = strict_tracer.export(mod, (torch.randn(4, 3),), dynamic_shapes=({0: Dim("b")},))
    assert torch.equal(mod.seen, torch.zeros(3))
    run_and_compare_state(CountingNorm(), ep, (torch.randn(4, 3),), {},
                          [((torch.randn(1, 3),), {}), ((torch.randn(0, 3),), {})])


class Product(torch.nn.Module):
    def forward(self, x, y):
        if x.shape[0] * y.shape[0] == 1:      # only when both are 1
            return x.sum() + y.sum()
        return x.sum() - y.sum()


def test_two_sizes_at_one_together_are_checked_too():
    with pytest.raises(ConstraintViolationError) as caught:
        strict_tracer.export(Product(), (torch.randn(4, 3), torch.randn(5, 3)),
                             dynamic_shapes=({0: Dim("b", max=8)}, {0: Dim("c", max=8)}))
    assert "At b = 1, c = 1 the program differs" in str(caught.value)
    assert caught.value.fixes == ["b = Dim('b', min=2, max=8)", "c = Dim('c', min=2, max=8)"]


def test_a_refusal_at_the_small_size_refuses_the_export():
    def branch_on_data_at_one(x):
        if x.shape[0] == 1:
            if x.sum() > 0:          # a branch on a tensor value: refused where it is traced
                return x + 1
        return x - 1

    with pytest.raises(ConstraintViolationError) as caught:
        _export(branch_on_data_at_one, torch.randn(4, 3), Dim("b", max=64))
    assert "At b = 1 the program differs from a trace at that size: tracing there is refused " \
           "(GraphBreakError: data-dependent branch" in str(caught.value)


def _planned_sizes(fn, x, dim) -> list:
    result = strict_tracer.api.trace(CallFn(fn), (x,), {}, dynamic_shapes=({0: dim},))
    plan = plan_small_sizes(result)
    return [] if plan is None else [dict(sizes).popitem()[1] for _, sizes in plan.points]


def test_only_the_sizes_a_decision_may_not_hold_at_are_traced_again():
    # `b != 1` holds at 0: only 1 is traced again. `b > 1` fails at both.
    assert _planned_sizes(_branch_on_one, torch.randn(4, 3), Dim("b", max=64)) == [1]

    def greater_than_one(x):
        return x + 1 if x.shape[0] > 1 else x - 1
    assert _planned_sizes(greater_than_one, torch.randn(4, 3), Dim("b", max=64)) == [0, 1]
    assert _planned_sizes(greater_than_one, torch.randn(4, 3), Dim("b", min=1, max=64)) == [1]


class TrainingNorm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = torch.nn.BatchNorm1d(6)

    def forward(self, x):
        return self.norm(x) + 1


@pytest.mark.parametrize("first", [None, Dim("a", min=2, max=64)],
                         ids=["alone", "after_a_2_up_export"])
def test_a_size_zero_question_torch_settles_is_checked(first):
    # batch_norm's decomposition asks `numel == 0` (torch's C++ code, on the oracle's stand-ins):
    # eager returns a copy at batch 0, the program traced from 2 up runs the kernel, which fails
    # on an empty batch. The question must reach our engine even after a template was made for
    # the same call over the range from 2 up.
    clear_template_cache()          # no template of an earlier test: this one makes them
    if first is not None:
        strict_tracer.export(TrainingNorm(), (torch.randn(4, 6),), dynamic_shapes=({0: first},))
    with pytest.raises(ConstraintViolationError) as caught:
        strict_tracer.export(TrainingNorm(), (torch.randn(4, 6),),
                             dynamic_shapes=({0: Dim("b", max=64)},))
    assert "At b = 0 the program differs from a trace at that size: it fails there" \
        in str(caught.value)


def test_a_point_is_traced_only_where_the_other_sizes_at_the_example_leave_a_decision_open():
    # `b * c != 1` holds at b = 1 for every c the trace covers (from 2 up): only b = c = 1,
    # both small together, is traced again.
    result = strict_tracer.api.trace(Product(), (torch.randn(4, 3), torch.randn(5, 3)), {},
                                     dynamic_shapes=({0: Dim("b", max=8)}, {0: Dim("c", max=8)}))
    plan = plan_small_sizes(result)
    assert [sorted((plan.names[s], v) for s, v in case.at.items()) for case, _ in plan.points] \
        == [[("b", 1), ("c", 1)]]


def test_a_deferred_assert_failing_at_zero_is_the_program_refusing_there_loudly():
    # The reshape's guards (rows % 4 != 0, rows != 4) are deferred to runtime asserts on
    # request; at 0 one fails, as at 4 or 8: the program raises there, never answers wrongly.
    class ViewByWidth(torch.nn.Module):
        def forward(self, x):
            return x.view(x.size(1), -1).softmax(0)

    ep = strict_tracer.export(ViewByWidth(), (torch.randn(10, 4, 3),),
                              dynamic_shapes=({0: Dim("rows")},),
                              prefer_deferred_runtime_asserts_over_guards=True)
    for rows in (0, 8):
        with pytest.raises(RuntimeError, match="Runtime assertion failed"):
            ep.module()(torch.randn(rows, 4, 3))
    for rows in (1, 7):
        x = torch.randn(rows, 4, 3)
        torch.testing.assert_close(ep.module()(x), ViewByWidth()(x))
