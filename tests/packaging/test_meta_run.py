"""The artifact check's meta run (strict_tracer/packaging/meta_run.py): same output metadata as eager
at sizes other than the example's, repeated calls answered from what the first one returned,
views and devices handled as eager has them."""
import torch
import torch.nn as nn
from torch.export import Dim

import strict_tracer
from torch.utils._python_dispatch import TorchDispatchMode

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
    # The graph's code calls operators (torch.ops.aten.*), which is what the mode answers.
    aten = torch.ops.aten
    x = torch.empty(4, 6, device=META)
    with MetaRun() as mode:
        a = aten.t.default(x)
        b = aten.t.default(x)
        y = aten.add_.Tensor(aten.empty.memory_format([4, 6], device=torch.device("cpu")), 1)
    assert a._base is x and b._base is x and y.shape == (4, 6) and y.device == META
    assert {key[0] for key in mode._results} == {id(aten.empty.memory_format)}   # by id


def test_meta_run_answers_a_repeated_composite_call_with_a_fresh_tensor():
    aten = torch.ops.aten
    x, w = torch.empty(3, 8, device=META), torch.empty(5, 8, device=META)
    with MetaRun() as mode:
        first = aten.linear.default(x, w)
        second = aten.linear.default(x, w)
        other = aten.linear.default(torch.empty(2, 8, device=META), w)
    # linear is answered before it decomposes (t, mm): the mode holds linear itself.
    assert {key[0] for key in mode._results} == {id(aten.linear.default)}
    assert len(mode._results) == 2
    eager = torch.nn.functional.linear(torch.randn(3, 8), torch.randn(5, 8))
    for out in (first, second):
        assert (out.shape, out.stride(), out.dtype, out.device) == \
            (eager.shape, eager.stride(), eager.dtype, META)
    assert second is not first and \
        second.untyped_storage()._cdata != first.untyped_storage()._cdata
    assert other.shape == (2, 5)


class _DispatchRun(TorchDispatchMode):
    """What MetaRun replaced: every operator the dispatcher reaches, devices made meta, no
    answers from earlier calls."""

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = {k: META if isinstance(v, torch.device) else v for k, v in (kwargs or {}).items()}
        args = tuple(META if isinstance(a, torch.device) else a for a in args)
        return func(*args, **kwargs)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.qkv = nn.ModuleList(nn.Linear(16, 48) for _ in range(3))

    def forward(self, x):
        for qkv in self.qkv:
            q, k, v = qkv(x).view(x.shape[0], x.shape[1], 3, 2, 8).permute(2, 0, 3, 1, 4)
            pos = torch.arange(x.shape[1], device="cpu").float()[:, None]
            x = x + nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True) \
                .transpose(1, 2).reshape(x.shape) + pos
        return x, x.float().softmax(-1).to(torch.float64)


class Branches(nn.Module):
    def forward(self, x):
        return torch.cond(x.shape[0] > 4, lambda t: t.sin(), lambda t: t.cos(), (x,))


def _run(ep, mode):
    from strict_tracer.packaging.artifact_check import _meta_inputs, _size_assignments
    assignment = _size_assignments(ep)[0]
    try:
        with mode:
            outs = ep.graph_module(*_meta_inputs(ep, assignment))
    except Exception as exc:   # noqa: BLE001 - compared below
        return type(exc).__name__
    return [(tuple(o.shape), o.stride(), o.dtype, o.device) for o in outs]


def test_meta_run_gives_what_a_dispatch_mode_run_gives():
    cases = [(Layers(), (torch.randn(5, 8),), ({0: Dim("b")},)),
             (Attention(), (torch.randn(2, 6, 16),), ({0: Dim("b"), 1: Dim("n")},)),
             (Branches(), (torch.randn(5, 3),), ({0: Dim("b")},))]
    for mod, args, dynamic in cases:
        ep = strict_tracer.export(mod, args, dynamic_shapes=dynamic)
        ours, reference = _run(ep, MetaRun()), _run(ep, _DispatchRun())
        if isinstance(mod, Branches):     # a higher-order operator: left to the fake run
            assert ours == reference == "NotImplementedError"
        else:
            assert isinstance(ours, list) and ours == reference
