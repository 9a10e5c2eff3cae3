"""strict_tracer.testing for users: input strategies and assert_matches_eager on dynamic programs."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.export import Dim

import strict_tracer
from strict_tracer.testing import accepts, assert_matches_eager, inputs_for, violating_inputs


class Guarded(torch.nn.Module):
    """Dynamic dims with a raised lower bound, a derived dim and a divisibility guard."""

    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(5, 3)

    def forward(self, x, y, scale):
        assert x.shape[0] > 4
        torch._check(x.shape[0] % 2 == 0)
        return self.lin(x) * scale + y[2:]


SPEC = {"x": {0: Dim.DYNAMIC}, "y": {0: Dim.DYNAMIC}, "scale": None}
MOD = Guarded()
EP = strict_tracer.export(MOD, (torch.randn(6, 5), torch.randn(8, 3), 2.0), dynamic_shapes=SPEC)


@given(st.data())
def test_inputs_for_satisfies_the_program(data):
    args, kwargs = data.draw(inputs_for(EP))
    x, y, scale = args
    assert x.shape[0] >= 5 and x.shape[0] % 2 == 0 and y.shape[0] == x.shape[0] + 2
    assert x.shape[1] == 5 and scale == 2.0
    assert_matches_eager(MOD, EP, *args, **kwargs)


@given(st.data())
def test_violating_inputs_are_rejected(data):
    args, kwargs = data.draw(violating_inputs(EP))
    with pytest.raises(Exception):
        EP.module()(*args, **kwargs)


@given(st.data())
@settings(max_examples=10)
def test_inputs_for_covers_sizes(data):
    sizes = {data.draw(inputs_for(EP))[0][0].shape[0] for _ in range(6)}
    assert all(s >= 5 and s % 2 == 0 for s in sizes)


def test_assert_matches_eager_reports_the_difference():
    class Wrong(torch.nn.Module):
        def forward(self, x):
            return {"out": x + 1}

    ep = strict_tracer.export(Wrong(), (torch.randn(3),))

    class Other(torch.nn.Module):
        def forward(self, x):
            return {"out": x + 1.5}

    with pytest.raises(AssertionError) as info:
        assert_matches_eager(Other(), ep, torch.zeros(3))
    message = str(info.value)
    assert "output['out']" in message and "max abs diff 0.5" in message


def test_assert_matches_eager_checks_mutated_inputs_and_buffers():
    class Counter(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("calls", torch.zeros(()))

        def forward(self, x):
            self.calls.add_(1)
            x.mul_(2)
            return x.sum()

    mod = Counter()
    ep = strict_tracer.export(mod, (torch.ones(3),))
    assert_matches_eager(mod, ep, torch.ones(3))


class Ranged(torch.nn.Module):
    """A named Dim with min/max, a derived Dim (2 * n) and a static dimension."""

    def forward(self, a, b):
        return a.repeat(2, 1) + b


N = Dim("n", min=3, max=9)
RANGED_SPEC = {"a": {0: N}, "b": {0: 2 * N}}
RANGED = Ranged()
RANGED_EP = strict_tracer.export(RANGED, (torch.randn(4, 3), torch.randn(8, 3)), dynamic_shapes=RANGED_SPEC)


@given(st.data())
def test_inputs_for_respects_named_ranges_and_derived_dims(data):
    (a, b), kwargs = data.draw(inputs_for(RANGED_EP))
    assert 3 <= a.shape[0] <= 9 and b.shape[0] == 2 * a.shape[0] and a.shape[1] == b.shape[1] == 3
    assert accepts(RANGED_EP, (a, b), kwargs)
    assert_matches_eager(RANGED, RANGED_EP, a, b)


@given(st.data())
def test_violating_inputs_of_ranged_program(data):
    args, kwargs = data.draw(violating_inputs(RANGED_EP))
    assert not accepts(RANGED_EP, args, kwargs)
    with pytest.raises(Exception):
        RANGED_EP.module()(*args, **kwargs)


def test_accepts_checks_static_sizes_ranges_relations_and_guards():
    ok = (torch.randn(5, 3), torch.randn(10, 3))
    assert accepts(RANGED_EP, ok, {})
    assert not accepts(RANGED_EP, (torch.randn(5, 3), torch.randn(11, 3)), {})   # b != 2 * a
    assert not accepts(RANGED_EP, (torch.randn(10, 3), torch.randn(20, 3)), {})  # n > max
    assert not accepts(RANGED_EP, (torch.randn(5, 4), torch.randn(10, 4)), {})   # static dim
    # Guarded: x.shape[0] % 2 == 0 is a guard, not a range constraint.
    assert accepts(EP, (torch.randn(8, 5), torch.randn(10, 3), 2.0), {})
    assert not accepts(EP, (torch.randn(7, 5), torch.randn(9, 3), 2.0), {})
