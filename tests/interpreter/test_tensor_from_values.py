"""torch.tensor / torch.as_tensor of symbolic sizes keep them symbolic (scalar_tensor + stack
nodes, as torch.export records them) instead of specializing the dimension."""
import re

import pytest
import torch
from torch.export import Dim

import strict_tracer
from support.helpers import aten_targets


class FromSizes(torch.nn.Module):
    def forward(self, x):
        a = torch.tensor([x.shape[0]], dtype=torch.float32)
        b = torch.tensor([[x.shape[0], 2], [3, x.shape[1] * 2]])
        c = torch.as_tensor(x.shape[0] / 2)
        d = torch.tensor([1.5, 2.0])
        return x + a, b, c, d, torch.tensor(x.shape)


def test_symbolic_sizes_in_tensor_data_stay_symbolic():
    model = FromSizes()
    spec = {"x": {0: Dim("b"), 1: Dim("c")}}
    ep = strict_tracer.export(model, (torch.randn(4, 8),), dynamic_shapes=spec)
    assert {"aten.scalar_tensor.default", "aten.stack.default"} <= set(aten_targets(ep))
    for size in [(3, 5), (9, 2), (4, 8)]:
        x = torch.randn(*size)
        for got, want in zip(ep.module()(x), model(x)):
            assert got.dtype == want.dtype and torch.equal(got, want)


class Static(torch.nn.Module):
    def forward(self, x):
        return x + torch.tensor([x.shape[0], 1])


def test_static_sizes_are_one_constant():
    ep = strict_tracer.export(Static(), (torch.randn(4, 2),))
    assert "aten.scalar_tensor.default" not in aten_targets(ep)
    assert torch.equal(ep.module()(torch.ones(4, 2)), Static()(torch.ones(4, 2)))


class Specializes(torch.nn.Module):
    def forward(self, x):
        return torch.nn.functional.one_hot(x.argmax(-1), num_classes=x.shape[1])


def test_specialization_error_says_where():
    with pytest.raises(strict_tracer.ConstraintViolationError) as info:
        strict_tracer.export(Specializes(), (torch.randn(2, 6),),
                             dynamic_shapes={"x": {1: Dim("s")}})
    message = str(info.value)
    assert "You marked s as dynamic but your code specialized it to be a constant (6)" in message
    assert re.search(r"specialized at \S*test_tensor_from_values.py:\d+ in forward", message)
    assert "num_classes=x.shape[1]" in message
