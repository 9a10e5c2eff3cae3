"""Exporting with fake example inputs or fake weights, and inside a FakeTensorMode, as
torch.export allows (a model too large to instantiate for real is exported from fakes)."""
import torch
from torch._subclasses.fake_tensor import FakeTensorMode, is_fake
from torch.fx.experimental.symbolic_shapes import ShapeEnv

import strict_tracer


class Weighted(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(4, 4))
        self.register_buffer("shift", torch.randn(4), persistent=False)
        self.register_buffer("scale", torch.randn(4))

    def forward(self, x):
        return (x @ self.weight + self.shift) * self.scale


def _fake_mode():
    return FakeTensorMode(shape_env=ShapeEnv(tracked_fakes=[]))


def test_fake_example_inputs_with_real_weights():
    mod = Weighted()
    with _fake_mode():
        x = torch.randn(3, 4)
    ep = strict_tracer.export(mod, (x,))
    real = torch.randn(3, 4)
    torch.testing.assert_close(ep.module()(real), mod(real))


def test_fake_weights_give_the_same_program_as_torch_export():
    with _fake_mode():
        mod = Weighted()
    x = torch.randn(3, 4)
    ours = strict_tracer.export(mod, (x,))
    theirs = torch.export.export(mod, (x,), strict=True)
    assert str(ours.graph) == str(theirs.graph)
    assert ours.graph_signature == theirs.graph_signature
    assert all(is_fake(t) for t in ours.state_dict.values())
    assert list(ours.constants) == ["shift"]


def test_export_inside_a_fake_mode_on_the_meta_device():
    mode = FakeTensorMode()
    with mode, torch.device("meta"):
        x = torch.rand(5, 2, 4)
        mod = Weighted()
        ep = strict_tracer.export(mod, (x,))
        vals = [n.meta["val"] for n in ep.graph.nodes if "val" in n.meta]
        assert all(v.device == x.device for v in vals)
        assert all(v.fake_mode is vals[0].fake_mode for v in vals)
        assert ep.module()(x).shape == mod(x).shape
        ep.run_decompositions()
