"""strict_tracer.testing for users: input strategies and assert_matches_eager on dynamic programs."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.export import Dim

import strict_tracer
from strict_tracer.testing import assert_matches_eager, inputs_for, violating_inputs


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
