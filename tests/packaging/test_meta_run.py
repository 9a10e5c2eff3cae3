"""The artifact check's meta run (strict_tracer/packaging/meta_run.py): same output metadata as eager
at sizes other than the example's, repeated calls answered from what the first one returned,
views and devices handled as eager has them."""
import torch
import torch.nn as nn
from torch.export import Dim

import strict_tracer
from strict_tracer.packaging.meta_run import META, MetaRun


class Layers(nn.Module):
    def __init__(self):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(8, 8) for _ in range(3))

    def forward(self, x):
        for layer in self.layers:
            x = torch.relu(layer(x)).transpose(0, 1).contiguous().transpose(0, 1)
        return x + torch.arange(x.shape[1], device=x.device), x[:, :4].sum(0)


def _meta_inputs(ep, batch):
    inputs = []
    for spec in ep.graph_signature.input_specs:
        t = ep.state_dict[spec.target] if spec.target is not None else torch.empty(batch, 8)
        inputs.append(torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device=META))
    return inputs


def test_meta_run_matches_eager_at_other_sizes_and_remembers_repeated_calls():
    mod = Layers()
    ep = strict_tracer.export(mod, (torch.randn(5, 8),), dynamic_shapes=({0: Dim("b")},))
    mode = MetaRun()
    with mode:
        outs = ep.graph_module(*_meta_inputs(ep, 7))
    eager = mod(torch.randn(7, 8))
    for out, expected in zip(outs, eager):
        assert out.device == META
        assert (out.shape, out.stride(), out.dtype) == (expected.shape, expected.stride(), expected.dtype)
    calls = sum(1 for n in ep.graph.nodes if n.op == "call_function")
    assert 0 < len(mode._results) < calls       # the 2nd and 3rd layers' calls were answered


def test_meta_run_keeps_views_and_runs_each_mutation():
    x = torch.empty(4, 6, device=META)
    with MetaRun() as mode:
        a = x.t()
        b = x.t()
        y = torch.empty(4, 6, device=META).add_(1)
    assert a._base is x and b._base is x and y.shape == (4, 6)
    aten = torch.ops.aten
    assert {key[0] for key in mode._results} == {id(aten.empty.memory_format)}   # by id
