"""Sizes and numbers read from tensor data, carried symbolically through ops: views, expand,
broadcasting, scalar constructors, and 0-dim tensors passed where torch takes a number.

Each program is exported once and its `ep.module()` compared with eager at several data
values (including 0 and 1, the values torch's size-oblivious reasoning does not assume), and
the runtime asserts of the graph checked to fire where eager would fail.
"""
import pytest
import torch
from torch.export import Dim

import strict_tracer
from support.helpers import assert_same, run_both


def _asserts(ep) -> list[str]:
    return [n.args[1].split(" on node")[0].removeprefix("Runtime assertion failed for expression ")
            for n in ep.graph.nodes if n.target is torch.ops.aten._assert_scalar.default]


def _shapes(value) -> list:
    return [tuple(t.shape) for t in (value if isinstance(value, (tuple, list)) else (value,))]


class ViewOfDataSize(torch.nn.Module):
    def forward(self, x):
        n = x.item()
        return torch.empty(5, n).view(n, 5)


class ReshapeToOtherDataSize(torch.nn.Module):
    def forward(self, xs):
        a, b = xs.tolist()
        return torch.ones(a).reshape(b) * 2


def test_view_of_a_data_dependent_shape_is_decided_as_torch_does():
    ep = strict_tracer.export(ViewOfDataSize(), (torch.tensor([9]),))
    for n in (0, 1, 5, 8):
        assert ep.module()(torch.tensor([n])).shape == (n, 5)
    with pytest.raises(RuntimeError, match="u0 >= 0"):
        ep.module()(torch.tensor([-1]))


def test_reshape_between_two_data_sizes_asserts_their_element_counts():
    model = ReshapeToOtherDataSize()
    ep = strict_tracer.export(model, (torch.tensor([4, 4]),))
    for n in (0, 1, 3, 7):
        got, want = run_both(model, ep, (torch.tensor([n, n]),))
        assert_same(got, want)
    with pytest.raises(RuntimeError, match="Runtime assertion failed"):
        ep.module()(torch.tensor([3, 4]))


class ExpandDataSizes(torch.nn.Module):
    def forward(self, xs):
        u0, u1, u2 = xs.tolist()
        return torch.zeros(u0, u1, 1).expand(-1, u1, u2) + 1


class ExpandToOtherDataSize(torch.nn.Module):
    def forward(self, xs):
        u0, u1 = xs.tolist()
        return torch.ones(u0).expand(u1) * 3


def test_expand_of_data_dependent_sizes():
    model = ExpandDataSizes()
    ep = strict_tracer.export(model, (torch.tensor([1, 2, 3]),))
    for sizes in ([3, 4, 5], [0, 1, 0], [1, 1, 1], [2, 0, 4]):
        got, want = run_both(model, ep, (torch.tensor(sizes),))
        assert_same(got, want)
    # The expanded size is a size wherever the program runs (torch asserts it too).
    assert {"u0 >= 0", "u1 >= 0", "u2 >= 0"} <= set(_asserts(ep))
    with pytest.raises(RuntimeError, match="u2 >= 0"):
        ep.module()(torch.tensor([1, 2, -1]))


def test_expand_to_another_data_size_asserts_they_are_equal():
    # Size-oblivious: u0 is not assumed to be 1, so expand(u1) of a (u0,) tensor needs
    # u0 == u1, checked when the program runs.
    model = ExpandToOtherDataSize()
    ep = strict_tracer.export(model, (torch.tensor([2, 2]),))
    assert "Eq(u0, u1)" in _asserts(ep)
    for n in (0, 1, 5):
        got, want = run_both(model, ep, (torch.tensor([n, n]),))
        assert_same(got, want)
    with pytest.raises(RuntimeError, match=r"Eq\(u0, u1\)"):
        ep.module()(torch.tensor([1, 5]))


class ScalarConstructors(torch.nn.Module):
    def forward(self, u, f, b):
        return torch.tensor([u.item()]), torch.tensor([f.item()]), torch.tensor([b.item()])


@pytest.mark.parametrize("values", [(3, 3.14, True), (5, -1.25, False), (0, 0.0, True),
                                    (-7, 1e6, False)])
def test_tensor_of_numbers_read_from_data(values):
    model = ScalarConstructors()
    ep = strict_tracer.export(model, (torch.tensor([3]), torch.tensor([3.14]), torch.tensor([True])))
    u, f, b = values
    args = (torch.tensor([u]), torch.tensor([f]), torch.tensor([b]))
    got, want = run_both(model, ep, args)
    assert_same(got, want)
    assert [t.dtype for t in got] == [torch.int64, torch.float32, torch.bool]


class FullOfTensor(torch.nn.Module):
    def forward(self, val):
        return torch.full((4, 2), val, dtype=torch.float32) + 1


class EmptyOfTensor(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(8, 3)

    def forward(self, x):
        return self.lin(torch.zeros(x).view(1, -1, 8) + 1)


@pytest.mark.parametrize("example,others", [(torch.tensor(1), [-3, 0, 12]),
                                            (torch.tensor(2.5), [-0.5, 7.25]),
                                            (torch.tensor(True), [False])])
def test_zero_dim_tensor_passed_as_a_number(example, others):
    # torch reads the number with aten.item inside the call; the graph does the same.
    model = FullOfTensor()
    ep = strict_tracer.export(model, (example,))
    assert "aten.item.default" in [str(n.target) for n in ep.graph.nodes]
    for value in others:
        got, want = run_both(model, ep, (torch.tensor(value, dtype=example.dtype),))
        assert_same(got, want)


def test_tensor_passed_as_a_size():
    model = EmptyOfTensor()
    ep = strict_tracer.export(model, (torch.tensor([32]),))
    for n in (0, 8, 64):
        got, want = run_both(model, ep, (torch.tensor([n]),))
        assert_same(got, want)
    with pytest.raises(RuntimeError, match="Runtime assertion failed"):
        ep.module()(torch.tensor([12]))        # 12 elements do not view as (1, -1, 8)


class NonzeroRowsPlusInput(torch.nn.Module):
    def forward(self, a, b, c):
        ones = a.new_ones([torch.nonzero(a).size(0), b.size(0)])
        return ones + c


def test_broadcast_of_data_size_against_dynamic_input_size():
    # The kernel never runs at an invented size for the nonzero count; the count must equal
    # c's rows, a runtime assert that compares the two (not a value with itself).
    model = NonzeroRowsPlusInput()
    args = (torch.ones(16), torch.randn(4), torch.randn(16, 4))
    ep = strict_tracer.export(model, args, dynamic_shapes={"a": None, "b": None,
                                                           "c": (Dim.DYNAMIC, Dim.STATIC)})
    a = torch.zeros(16)
    a[:6] = 1
    got, want = run_both(model, ep, (a, torch.randn(4), torch.randn(6, 4)))
    assert_same(got, want)
    with pytest.raises(RuntimeError, match=r"Eq\(u0, s\d+\)"):
        ep.module()(a, torch.randn(4), torch.randn(5, 4))


class OnesOfItemPlusFlat(torch.nn.Module):
    def forward(self, x, t):
        return x.reshape(-1) + torch.ones(t.item())


def test_broadcast_of_item_size_against_input():
    model = OnesOfItemPlusFlat()
    ep = strict_tracer.export(model, (torch.randn(6, 2), torch.tensor([12])),
                              dynamic_shapes={"x": (Dim.AUTO, Dim.STATIC), "t": (Dim.STATIC,)})
    for rows in (3, 10):
        got, want = run_both(model, ep, (torch.randn(rows, 2), torch.tensor([2 * rows])))
        assert_same(got, want)
    with pytest.raises(RuntimeError, match="Runtime assertion failed"):
        ep.module()(torch.randn(3, 2), torch.tensor([5]))


class MaskedRowsThroughLayers(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(7, 3)
        self.norm = torch.nn.LayerNorm(7)

    def forward(self, x, mask):
        rows = x.masked_select(mask).view(-1, 7)
        return self.linear(rows), self.norm(rows)


def test_view_minus_one_of_masked_select_feeds_layers():
    model = MaskedRowsThroughLayers()
    ep = strict_tracer.export(model, (torch.randn(10, 7), torch.ones(10, 1, dtype=torch.bool)))
    for kept in (0, 1, 4, 10):
        mask = torch.zeros(10, 1, dtype=torch.bool)
        mask[:kept] = True
        x = torch.randn(10, 7)
        got, want = run_both(model, ep, (x, mask))
        assert_same(got, want)
        assert _shapes(got) == [(kept, 3), (kept, 7)]


class ContiguousOfDataShape(torch.nn.Module):
    def forward(self, x):
        return torch.arange(x.item() * 3).view(-1, 3).t().contiguous().view(-1) * 2


def test_contiguous_of_a_data_dependent_layout():
    # Whether contiguous() copies depends on the data (a (3, u0) transpose is contiguous
    # for u0 <= 1): reading the result is exported (a write through it is refused:
    # tests/symbolic/test_unbacked.py).
    model = ContiguousOfDataShape()
    ep = strict_tracer.export(model, (torch.tensor(4),))
    for n in (1, 5):
        got, want = run_both(model, ep, (torch.tensor(n),))
        assert_same(got, want)


def test_contiguous_of_a_data_dependent_layout_at_size_zero():
    """The copy's strides (Max(1, u0), 1) reach torch's view kernel as expressions of the
    sizes' stand-ins, so nothing asserts Eq(Max(1, u0), u0), false at u0 = 0 where eager and
    torch.export's program run."""
    model = ContiguousOfDataShape()
    ep = strict_tracer.export(model, (torch.tensor(4),))
    got, want = run_both(model, ep, (torch.tensor(0),))
    assert_same(got, want)


class CondPicksAnInt(torch.nn.Module):
    def forward(self, x):
        n = torch.cond(x.sum() > 3, lambda: 2, lambda: 5, ())
        return x[:n] * n, torch.zeros(n), x[n - 2]


def test_cond_branches_returning_different_ints_give_a_value_read_from_data():
    model = CondPicksAnInt()
    ep = strict_tracer.export(model, (torch.randn(6, 3),))
    assert _asserts(ep) == ["u0 >= 2", "u0 <= 5"]
    for x in (torch.full((6, 3), -1.0), torch.ones(6, 3)):      # the false, then the true branch
        got, want = run_both(model, ep, (x,))
        assert_same(got, want)


def test_generator_writes_data_dependent_sizes():
    """The campaign generator's `data_size` statements export (dynamic batch) and match eager
    on inputs whose data, hence whose data-dependent sizes, differ from the example's."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from strict_tracer.testing.differential import check_program
    from strict_tracer.testing.program_statements import STATEMENTS
    from strict_tracer.testing.programs import Program, _Writer

    @st.composite
    def one_statement(draw):
        w = _Writer(draw, 1)
        STATEMENTS["data_size"](w)
        source = ("class Generated(torch.nn.Module):\n    def forward(self, x0):\n"
                  + "\n".join(w.lines) + f"\n        return ({w.tensors[-1]},)\n")
        return Program(source, 1, False)

    @settings(max_examples=10, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(one_statement())
    def check(program):
        outcome = check_program(program, batches=(4, 7, 2), seeds=(1, 2, 3), dynamic=True)
        assert outcome.exported, program.source
    check()

