"""Symbolic values as arguments of torch calls, and routing that depends on sizes."""
import copy

import pytest
import torch
from torch.export import Dim

import strict_tracer
from support.helpers import aten_targets, assert_same, run_both

A = Dim.AUTO


class SizeArgs(torch.nn.Module):
    def forward(self, x, y):
        n = x.shape[0]
        a = x.view(n, -1)                       # view(s0, -1)
        b = torch.zeros(n * 2) + torch.arange(n * 2)
        c = y[:, : x.shape[1]]                  # slice with a symbolic stop
        d = x.new_ones(n, 3).sum(1)
        e = x.reshape(-1)[: n - 1]
        return a, b, c, d, e


def test_symbolic_arguments_stay_symbolic():
    model = SizeArgs()
    args = (torch.randn(4, 5), torch.randn(3, 9))
    ep = strict_tracer.export(model, args, dynamic_shapes={"x": (A, A), "y": (A, A)})
    ref = torch.export.export(model, copy.deepcopy(args), dynamic_shapes={"x": (A, A), "y": (A, A)},
                              strict=True)
    assert len(ep.range_constraints) == len(ref.range_constraints)
    assert "aten.sym_size.int" in aten_targets(ep)
    for fresh in [(torch.randn(6, 2), torch.randn(5, 7)), (torch.randn(2, 7), torch.randn(2, 7))]:
        got, want = run_both(model, ep, fresh)
        assert_same(got, want)


class FixedSlice(torch.nn.Module):
    def forward(self, x):
        return x[:, :6] * 2


def test_routing_that_depends_on_a_size_is_a_guard():
    # At the example size 6, x[:, :6] is the whole tensor (torch returns an alias); for other
    # sizes it is a real slice: the exported program must be right for every size it accepts.
    model = FixedSlice()
    ep = strict_tracer.export(model, (torch.randn(4, 6),), dynamic_shapes={"x": (A, A)})
    assert "aten.slice.Tensor" in aten_targets(ep)
    for fresh in (torch.randn(3, 9), torch.randn(5, 6)):
        try:
            got = ep.module()(fresh)
        except AssertionError as exc:
            assert "Guard failed" in str(exc)
            continue
        assert_same(got, model(fresh))


class IndexBySize(torch.nn.Module):
    def forward(self, x):
        return x[x.shape[0] - 1], x[:, -1]


def test_integer_index_with_a_size():
    model = IndexBySize()
    ep = strict_tracer.export(model, (torch.randn(4, 3),), dynamic_shapes={"x": (A, A)})
    assert "aten.select.int" in aten_targets(ep)
    got, want = run_both(model, ep, (torch.randn(7, 5),))
    assert_same(got, want)


class ShapeText(torch.nn.Module):
    def forward(self, x):
        tag = f"{tuple(x.shape)}"
        return x + len(tag)


def test_formatting_a_size_specializes_it():
    ep = strict_tracer.export(ShapeText(), (torch.randn(4, 6),), dynamic_shapes={"x": (A, A)})
    assert ep.range_constraints == {}
    with pytest.raises(AssertionError, match="Guard failed"):
        ep.module()(torch.randn(10, 6))


class RangeOfItem(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        return torch.cat([y for _ in range(a)], dim=0)


def test_python_int_of_a_data_value_is_refused():
    from strict_tracer.errors import Category, GraphBreakError
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(RangeOfItem(), (torch.tensor(3), torch.randn(2)))
    assert info.value.category == Category.DATA_DEPENDENT_VALUE
    assert "range(a)" in info.value.frames[0].source


class LenOfTensor(torch.nn.Module):
    def forward(self, x):
        rows = [x[i] * len(x) for i in range(2)]
        return x * len(x), torch.stack(rows)


def test_len_of_a_tensor_is_its_symbolic_first_dim():
    model = LenOfTensor()
    args = (torch.randn(4, 3),)
    spec = {"x": {0: Dim.DYNAMIC}}
    ep = strict_tracer.export(model, args, dynamic_shapes=spec)
    ref = torch.export.export(model, copy.deepcopy(args), dynamic_shapes=spec, strict=True)
    assert [str(r) for r in ep.range_constraints.values()] == \
        [str(r) for r in ref.range_constraints.values()]
    for n in (2, 7):
        got, want = run_both(model, ep, (torch.randn(n, 3),))
        assert_same(got, want)


class MaxOfShape(torch.nn.Module):
    def forward(self, x):
        return x.new_zeros(max(x.shape) + min(x.shape) + max(x.shape[0], 3))


def test_max_and_min_of_sizes_are_expressions_not_guards():
    model = MaxOfShape()
    spec = {"x": {0: Dim("b")}}
    ep = strict_tracer.export(model, (torch.randn(3, 4),), dynamic_shapes=spec)
    ref = torch.export.export(model, (torch.randn(3, 4),), dynamic_shapes=spec, strict=True)
    assert [str(r) for r in ep.range_constraints.values()] == \
        [str(r) for r in ref.range_constraints.values()]
    assert "torch.sym_max" in ep.graph_module.code
    for n in (2, 5, 9):
        got, want = run_both(model, ep, (torch.randn(n, 4),))
        assert_same(got, want)
