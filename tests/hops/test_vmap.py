"""torch.vmap / torch.func.vmap in forward(): the program holds the batched ATen ops (no
functorch call is left, so it serializes), computes what eager computes, and what cannot be
captured soundly (dynamic sizes, bodies that only work batched, random ops under
randomness='error') is refused."""
import io

import pytest
import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.errors import GraphBreakError


def _assert_same(ep, mod, args):
    ours = torch.utils._pytree.tree_leaves(ep.module()(*args))
    eager = torch.utils._pytree.tree_leaves(mod(*args))
    assert len(ours) == len(eager)
    for a, b in zip(ours, eager):
        torch.testing.assert_close(a, b)


def _only_aten(ep):
    targets = [n.target for n in ep.graph.nodes if n.op == "call_function"]
    assert targets and all(isinstance(t, torch._ops.OpOverload) and t.namespace == "aten"
                           for t in targets), targets


class PerRow(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = torch.nn.Linear(3, 2)

    def forward(self, x):
        return torch.vmap(lambda row: self.lin(row).relu() * row.sum())(x)


def test_a_vmapped_closure_over_parameters_is_plain_aten_and_serializes():
    mod, args = PerRow(), (torch.randn(5, 3),)
    ep = strict_tracer.export(mod, args)
    _only_aten(ep)
    _assert_same(ep, mod, args)
    buffer = io.BytesIO()
    torch.export.save(ep, buffer)
    buffer.seek(0)
    _assert_same(torch.export.load(buffer), mod, args)


class Dims(torch.nn.Module):
    def forward(self, x, y):
        def attend(a, b, scale):
            return (a @ b).softmax(-1) * scale, a.t()
        return torch.func.vmap(attend, in_dims=(1, None, None), out_dims=(0, 2))(x, y, 3.0)


class Nested(torch.nn.Module):
    def forward(self, x, inputs):
        def pairwise(a, b):
            return (a - b).abs().sum()
        table = torch.vmap(torch.vmap(pairwise, in_dims=(None, 0)), in_dims=(0, None))(x, x)
        scaled = torch.vmap(lambda d: d["v"] * d["w"], in_dims=({"v": 0, "w": None},))(inputs)
        return table, scaled


@pytest.mark.parametrize("mod, args", [
    (Dims(), (torch.randn(4, 6, 3), torch.randn(3, 5))),
    (Nested(), (torch.randn(4, 2), {"v": torch.randn(3, 2), "w": torch.randn(2)})),
])
def test_in_dims_out_dims_nesting_and_views_match_eager(mod, args):
    ep = strict_tracer.export(mod, args)
    _only_aten(ep)
    _assert_same(ep, mod, args)


class Dynamic(torch.nn.Module):
    def forward(self, x):
        return torch.vmap(torch.sin)(x)


class OnlyBatched(torch.nn.Module):
    def forward(self, x):
        return torch.vmap(lambda t: t.to(memory_format=torch.channels_last) + 1)(x)


class Random(torch.nn.Module):
    def forward(self, x):
        return torch.vmap(lambda t: t + torch.rand_like(t))(x)


class UnderAutocast(PerRow):
    def forward(self, x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return super().forward(x)


@pytest.mark.parametrize("mod, x, kwargs, words, fix", [
    (Dynamic(), torch.randn(3, 2), {"dynamic_shapes": ({0: Dim("n")},)}, "dynamic sizes",
     "static shapes"),
    (UnderAutocast(), torch.randn(3, 3), {}, "inside an enabled torch.autocast block",
     "outside the autocast block"),
    (OnlyBatched(), torch.randn(2, 3, 4, 5), {}, "fails on a single example",
     "apply vmap outside the exported module"),
    (Random(), torch.randn(3, 2), {}, "randomness", "runs under torch.vmap in eager"),
])
def test_what_cannot_be_captured_soundly_is_refused(mod, x, kwargs, words, fix):
    with pytest.raises(GraphBreakError, match=words) as info:
        strict_tracer.export(mod, (x,), **kwargs)
    assert fix in info.value.hint


def test_mismatched_batch_sizes_raise_eagers_error():
    class Mismatch(torch.nn.Module):
        def forward(self, x, y):
            return torch.vmap(torch.add)(x, y)
    args = (torch.randn(3, 2), torch.randn(4, 2))
    with pytest.raises(ValueError):
        Mismatch()(*args)
    with pytest.raises(ValueError, match="same size in the mapped dimension"):
        strict_tracer.export(Mismatch(), args)
