"""Everyday module tricks in forward(): buffers registered or attributes assigned with computed
tensors, TorchScript helpers interpreted from their Python source. (In-place parameter updates
under no_grad: test_functionalize.py.)"""
from __future__ import annotations

import pytest
import torch

import strict_tracer
from support.helpers import assert_same


def _exports_like_eager_and_torch(model_type, x):
    ep = strict_tracer.export(model_type(), (x,))
    reference = torch.export.export(model_type(), (x,), strict=True)
    assert_same(ep.module()(x), model_type()(x))
    assert_same(ep.module()(x), reference.module()(x))
    assert ([s.kind for s in ep.graph_signature.output_specs]
            == [s.kind for s in reference.graph_signature.output_specs])
    return ep


class RegistersComputed(torch.nn.Module):
    def forward(self, x):
        self.register_buffer("cache", x * 2)
        return self.cache + 1


class AssignsComputed(torch.nn.Module):
    def forward(self, x):
        self.scaled = x * 3
        return self.scaled.sum(0) + self.scaled


def test_register_buffer_of_a_computed_tensor_is_a_temporary():
    model = RegistersComputed()
    _exports_like_eager_and_torch(RegistersComputed, torch.randn(2, 3))
    strict_tracer.export(model, (torch.randn(2, 3),))
    assert "cache" not in model._buffers          # the real module is untouched


def test_attribute_assignment_of_a_computed_tensor():
    _exports_like_eager_and_torch(AssignsComputed, torch.randn(2, 3))


def test_register_buffer_replacing_a_buffer_is_a_buffer_mutation():
    class Replaces(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("state", torch.zeros(3))

        def forward(self, x):
            self.register_buffer("state", self.state + x)
            return self.state * 2

    x = torch.randn(3)
    ep = strict_tracer.export(Replaces(), (x,))
    assert [s.kind.name for s in ep.graph_signature.output_specs] == ["BUFFER_MUTATION",
                                                                      "USER_OUTPUT"]
    program, eager = ep.module(), Replaces()
    for _ in range(2):
        assert_same(program(x), eager(x))
    assert_same(program.state, eager.state)


def test_register_buffer_keeps_its_name_checks():
    class Clashes(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(3))

        def forward(self, x):
            self.register_buffer("weight", x * 2)
            return x

    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        strict_tracer.export(Clashes(), (torch.randn(3),))


@torch.jit.script
def scripted_gelu(x: torch.Tensor, scale: float) -> torch.Tensor:
    return 0.5 * x * (1.0 + torch.tanh(0.79788456 * (x + 0.044715 * x * x * x))) * scale


def traced_helper(x):
    return x.sin() + x.cos()


TRACED = torch.jit.trace(traced_helper, (torch.randn(3),))


class CallsTorchScript(torch.nn.Module):
    def forward(self, x):
        return scripted_gelu(x, 2.0) + TRACED(x)


def test_torchscript_functions_are_interpreted_from_python():
    x = torch.randn(4)
    ep = _exports_like_eager_and_torch(CallsTorchScript, x)
    assert any(n.target is torch.ops.aten.tanh.default for n in ep.graph.nodes)
