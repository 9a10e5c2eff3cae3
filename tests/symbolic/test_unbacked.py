"""Values read from tensor data (the tutorial's "Data-dependent errors" section): unbacked
symbols, torch._check facts, runtime asserts, and the refusals when nothing decides."""
import copy

import pytest
import torch

import strict_tracer
from strict_tracer.errors import Category, GraphBreakError
from support.helpers import assert_same, run_both


def _ranges(ep) -> list:
    return sorted((str(vr.lower), str(vr.upper)) for vr in ep.range_constraints.values())


def _asserts(ep) -> list[str]:
    return [n.args[1].split(" on node")[0] for n in ep.graph.nodes
            if n.target is torch.ops.aten._assert_scalar.default]


class ItemAndTolist(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        b = y.tolist()
        return b + [a]


def test_item_and_tolist_are_unbacked_outputs():
    args = (torch.tensor(1), torch.tensor([2, 3]))
    ep = strict_tracer.export(ItemAndTolist(), args)
    ref = torch.export.export(ItemAndTolist(), copy.deepcopy(args), strict=True)
    targets = [str(n.target) for n in ep.graph.nodes if n.op == "call_function"]
    assert targets == [str(n.target) for n in ref.graph.nodes if n.op == "call_function"]
    assert str(ep.graph_signature) == str(ref.graph_signature)
    assert _ranges(ep) == [("-int_oo", "int_oo")] * 3
    assert ep.module()(torch.tensor(7), torch.tensor([4, 5])) == [4, 5, 7]


class Checked(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        torch._check(a >= 10)
        torch._check(a <= 60)
        if a // 2 >= 5:
            return y + 2
        else:
            return y * 5


def test_check_bounds_decide_the_branch_and_become_runtime_asserts():
    model = Checked()
    ep = strict_tracer.export(model, (torch.tensor(32), torch.randn(4)))
    assert _ranges(ep) == [("10", "60")]
    assert _asserts(ep) == ["Runtime assertion failed for expression u0 >= 10",
                            "Runtime assertion failed for expression u0 <= 60"]
    got, want = run_both(model, ep, (torch.tensor(11), torch.randn(4)))
    assert_same(got, want)
    with pytest.raises(RuntimeError, match="u0 >= 10"):
        ep.module()(torch.tensor(3), torch.randn(4))
    with pytest.raises(RuntimeError, match="u0 <= 60"):
        ep.module()(torch.tensor(61), torch.randn(4))


class Unchecked(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        if a // 2 >= 5:
            return y + 2
        return y * 5


def test_branch_on_unbacked_is_refused_with_location_and_fix():
    with pytest.raises(GraphBreakError) as info:
        strict_tracer.export(Unchecked(), (torch.tensor(32), torch.randn(4)))
    err = info.value
    assert err.category == Category.DATA_DEPENDENT_BRANCH
    assert "(u0 // 2) >= 5" in err.reason
    assert err.reason.startswith("Could not guard on data-dependent expression")   # torch's words
    assert err.frames[0].source == "if a // 2 >= 5:"
    assert "torch._check" in err.hint and "torch.cond" in err.hint


class IndexUnchecked(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        return y[a]


class IndexChecked(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        torch._check(a >= 0)
        torch._check(a < y.shape[0])
        return y[a]


def test_indexing_with_unbacked_index():
    # Without bounds, torch's select kernel takes an index of either sign (its own bounds
    # check runs in the program), as torch.export has it.
    model = IndexUnchecked()
    ep = strict_tracer.export(model, (torch.tensor(32), torch.randn(60)))
    assert "aten.select.int" in [str(n.target) for n in ep.graph.nodes]
    y = torch.randn(60)
    for index in (-60, -1, 0, 59):
        got, want = run_both(model, ep, (torch.tensor(index), y))
        assert_same(got, want)
    with pytest.raises(IndexError, match="out of range"):
        ep.module()(torch.tensor(60), y)
    model = IndexChecked()
    ep = strict_tracer.export(model, (torch.tensor(32), torch.randn(60)))
    ref = torch.export.export(model, (torch.tensor(32), torch.randn(60)), strict=True)
    assert _ranges(ep) == [("0", "59")]
    assert "aten.select.int" in [str(n.target) for n in ep.graph.nodes]
    assert str(ep.graph_signature) == str(ref.graph_signature)
    y = torch.randn(60)
    got, want = run_both(model, ep, (torch.tensor(59), y))
    assert_same(got, want)
    with pytest.raises(RuntimeError, match="u0 <= 59"):
        ep.module()(torch.tensor(60), y)


class SizeFromData(torch.nn.Module):
    def forward(self, x, y):
        a = x.item()
        torch._check_is_size(a)
        return torch.zeros(a), y.repeat(a, 1)


def test_unbacked_sizes_of_factories_and_repeat():
    model = SizeFromData()
    ep = strict_tracer.export(model, (torch.tensor(3), torch.randn(2, 2)))
    assert _ranges(ep) == [("0", "int_oo")]
    zeros, repeat = (n for n in ep.graph.nodes if n.op == "call_function"
                     and n.target in (torch.ops.aten.zeros.default, torch.ops.aten.repeat.default))
    u = zeros.meta["val"].shape[0]
    assert isinstance(u, torch.SymInt) and str(repeat.meta["val"].shape[0]) == f"2*{u}"
    got, want = run_both(model, ep, (torch.tensor(5), torch.randn(2, 2)))
    assert_same(got, want)


class DataDependentShapes(torch.nn.Module):
    def forward(self, x):
        return x.nonzero(), x[x > 0]


def test_nonzero_and_boolean_masks_have_unbacked_sizes():
    model = DataDependentShapes()
    x = torch.randn(3, 4)
    ep = strict_tracer.export(model, (x,))
    ref = torch.export.export(model, (x,), strict=True)
    assert [str(n.target) for n in ep.graph.nodes if n.op == "call_function"
            and "aten" in str(n.target) and "sym_size" not in str(n.target)
            and "assert" not in str(n.target)] == \
        ["aten.nonzero.default", "aten.gt.Scalar", "aten.index.Tensor"]
    assert sorted(_asserts(ep)) == sorted(_asserts(ref)) or len(_asserts(ep)) == 4
    for fresh in (torch.randn(3, 4), torch.zeros(3, 4), torch.ones(3, 4)):
        got, want = run_both(model, ep, (fresh,))
        assert_same(got, want)


def test_unbacked_program_survives_decompositions_and_save_load(tmp_path):
    ep = strict_tracer.export(SizeFromData(), (torch.tensor(3), torch.randn(2, 2)))
    decomposed = ep.run_decompositions()
    path = tmp_path / "ep.pt2"
    torch.export.save(ep, path)
    loaded = torch.export.load(path)
    args = (torch.tensor(4), torch.randn(2, 2))
    for program in (decomposed, loaded):
        got = program.module()(*copy.deepcopy(args))
        assert_same(got, SizeFromData()(*args))


class FloatAndBool(torch.nn.Module):
    def forward(self, x, flag):
        scale = x.max().item()
        on = flag.item()
        return x * scale, on


def test_float_and_bool_items():
    ep = strict_tracer.export(FloatAndBool(), (torch.randn(3), torch.tensor(True)))
    vals = [type(n.meta["val"]) for n in ep.graph.nodes if n.target is torch.ops.aten.item.default]
    assert vals == [torch.SymFloat, torch.SymBool]
    x = torch.randn(3)
    got = ep.module()(x, torch.tensor(False))
    assert_same(got, FloatAndBool()(x, torch.tensor(False)))


class SliceByItem(torch.nn.Module):
    """Slice bounds read from data: their sign and order against the size are unknown."""

    def forward(self, x, n):
        k = n.item()
        return x[:k] * 2, x[k:], x[1:k:2]


@pytest.mark.parametrize("dynamic", [False, True])
def test_slice_bounds_read_from_data_give_data_dependent_lengths(dynamic):
    # torch.export (strict and non-strict) accepts this too; each length is a new unbacked
    # size in [0, len(x)], like the one torch makes.
    model = SliceByItem()
    dims = {"x": (torch.export.Dim.DYNAMIC, torch.export.Dim.STATIC), "n": None} if dynamic else None
    ep = strict_tracer.export(model, (torch.randn(6, 3), torch.tensor(4)), dynamic_shapes=dims)
    assert [str(n.target) for n in ep.graph.nodes].count("aten.slice.Tensor") == 3
    for k in (-2, 0, 3, 6, 9):
        got, want = run_both(model, ep, (torch.randn(6, 3), torch.tensor(k)))
        assert_same(got, want)
    if dynamic:
        got, want = run_both(model, ep, (torch.randn(9, 3), torch.tensor(7)))
        assert_same(got, want)
    else:
        assert _ranges(ep).count(("0", "6")) == 3


class ViewOfData(torch.nn.Module):
    def forward(self, x):
        return torch.arange(24.0).view(x.item(), 4)


def test_a_fact_on_a_multiple_of_a_data_value_is_asserted_on_the_value():
    """view(u0, 4) of 24 elements needs 4*u0 == 24: the program asserts u0's range, now
    [6, 6], then u0 == 6, as torch.export does (a value below fails `u0 >= 6`, above `u0 <= 6`)."""
    ep = strict_tracer.export(ViewOfData(), (torch.tensor(6),))
    torch.testing.assert_close(ep.module()(torch.tensor(6)), ViewOfData()(torch.tensor(6)))
    messages = [n.args[1] for n in ep.graph.nodes
                if n.target is torch.ops.aten._assert_scalar.default]
    assert messages == ["Runtime assertion failed for expression u0 >= 6 on node 'ge'",
                        "Runtime assertion failed for expression u0 <= 6 on node 'le'",
                        "Runtime assertion failed for expression Eq(u0, 6) on node 'eq'"]
    with pytest.raises(RuntimeError, match=r"u0 >= 6"):
        ep.module()(torch.tensor(5))
    with pytest.raises(RuntimeError, match=r"u0 <= 6"):
        ep.module()(torch.tensor(7))



class WriteThroughContiguous(torch.nn.Module):
    def forward(self, x):
        base = torch.zeros(x.item(), 3).t()
        y = base.contiguous()
        y.add_(1)          # changes `base` too exactly when contiguous() returned it (u0 <= 1)
        return base + 0


def test_a_write_through_contiguous_of_a_data_dependent_layout_is_refused():
    """Whether contiguous() copies a (3, u0) transpose depends on the data (not for u0 <= 1):
    a copy would leave `base` unchanged at u0 = 1 where eager changes it, so it is refused."""
    with pytest.raises(GraphBreakError, match="changed in place"):
        strict_tracer.export(WriteThroughContiguous(), (torch.tensor(4),))


class CheckedNonzeroCount(torch.nn.Module):
    def forward(self, x):
        rows = x.nonzero()
        torch._check(rows.shape[0] >= 3)
        return rows


def test_a_data_dependent_size_at_most_the_largest_size_gets_no_upper_assert():
    # nonzero's count is bounded by sys.maxsize - 1, which no tensor reaches: only the
    # program's own fact is asserted, as torch.export does.
    model, x = CheckedNonzeroCount(), torch.tensor([1, 1, 1, 0, 1])
    dims = ({0: torch.export.Dim("n")},)
    ep = strict_tracer.export(model, (x,), dynamic_shapes=dims)
    ref = torch.export.export(model, (x,), dynamic_shapes=dims, strict=True)
    assert _asserts(ep) == _asserts(ref) == ["Runtime assertion failed for expression u0 >= 3"]
    got, want = run_both(model, ep, (torch.tensor([1, 0, 1, 1, 1, 1, 0]),))
    assert_same(got, want)
    with pytest.raises(RuntimeError, match="u0 >= 3"):
        ep.module()(torch.tensor([1, 0, 0, 1]))
