"""Guards that are neither bounds nor divisibility still get a suggested fix: the sizes that
satisfy them, solved by trying each size of the range (torch.export suggests `t = 6` for
this model, we suggest every even size), and the suggestion exports."""
import re

import pytest
import torch
from torch.export import Dim

import strict_tracer


class Halves(torch.nn.Module):
    def forward(self, x):
        first, second = x.split(x.shape[1] // 2, dim=1)
        return first - second


def test_suggested_fix_for_a_nonlinear_guard_exports():
    x = torch.randn(2, 6, 3)
    with pytest.raises(strict_tracer.ConstraintViolationError) as info:
        strict_tracer.export(Halves(), (x,), dynamic_shapes={"x": {1: Dim("t")}})
    fixes = info.value.args[0].split("Suggested fixes:\n")[1]
    assert re.search(r"_t = Dim\('_t', min=1\)\n  t = 2\*_t", fixes), fixes
    half = Dim("_t", min=1)
    ep = strict_tracer.export(Halves(), (x,), dynamic_shapes={"x": {1: 2 * half}})
    for t in (2, 4, 10):
        y = torch.randn(2, t, 3)
        assert torch.equal(ep.module()(y), Halves()(y))


class SixOnly(torch.nn.Module):
    def forward(self, x):
        if x.shape[0] * x.shape[0] == 36:
            return x + 1
        return x - 1


def test_a_guard_only_one_size_satisfies_suggests_that_size():
    with pytest.raises(strict_tracer.ConstraintViolationError) as info:
        strict_tracer.export(SixOnly(), (torch.randn(6),), dynamic_shapes={"x": {0: Dim("n")}})
    assert "Suggested fixes:\n  n = 6" in str(info.value)
