"""Builtins over tensors as eager computes them: min/max of 0-d tensors and numbers,
dict.fromkeys with a tensor value, and torch's introspection queries."""
from __future__ import annotations

import pytest
import torch

import strict_tracer
from support.helpers import assert_same


class Wraps(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, a, b):
        return self.fn(a, b)


CASES = {
    "clamped_sum": lambda a, b: min(max(a.sum(), 0), 1) * a,
    "max_of_three": lambda a, b: max(a.sum(), b.sum(), 0.5) + a,
    "min_of_list": lambda a, b: min([a.mean(), b.mean()]) * b,
    "fromkeys": lambda a, b: dict.fromkeys(["x", "y"], a)["y"] + b,
    "sum_and_abs": lambda a, b: sum([a, b, a]) + abs(a - b),
    "functorch_active": lambda a, b: a * (not torch._C._are_functorch_transforms_active()),
    "checkpoint_valid": lambda a, b: a * torch.autograd._is_checkpoint_valid(),
}

TORCH_REFUSES = {"max_of_three", "min_of_list"}


@pytest.mark.parametrize("name", list(CASES))
def test_builtin_matches_eager_and_torch_export(name):
    model = Wraps(CASES[name])
    args = (torch.randn(3), torch.randn(3))
    ep = strict_tracer.export(model, args)
    try:
        reference = torch.export.export(model, args, strict=True)
    except Exception:        # torch.export refuses max(a, b, c) of 0-d tensors (a data guard)
        assert name in TORCH_REFUSES
        reference = None
    for fresh in (args, (torch.randn(3) - 2, torch.randn(3) + 2)):
        assert_same(ep.module()(*fresh), model(*fresh))
        if reference is not None:
            assert_same(ep.module()(*fresh), reference.module()(*fresh))


def test_max_of_a_multi_element_tensor_keeps_eager_error():
    model = Wraps(lambda a, b: max(a, 0))
    with pytest.raises(Exception, match="ambiguous|data-dependent|branches"):
        strict_tracer.export(model, (torch.randn(3), torch.randn(3)))


def test_list_indexed_by_a_tensor_is_a_located_refusal():
    model = Wraps(lambda a, b: [a, b][torch.as_tensor(1)])
    with pytest.raises(strict_tracer.GraphBreakError, match="index"):
        strict_tracer.export(model, (torch.randn(3), torch.randn(3)))
