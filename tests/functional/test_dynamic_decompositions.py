"""Ops whose decomposition aliases or writes their inputs (broadcast_tensors, meshgrid,
cartesian_prod, the batch norms that update running statistics, instance_norm) export with
every dim Dim.AUTO, keep dynamic the dims torch.export keeps dynamic, and match eager at other
sizes. Their decompositions are recorded on symbolic stand-ins, so their sizes stay symbolic."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch.export import Dim

import strict_tracer


class Fn(torch.nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, a, b):
        return self.fn(a, b)


class Fn5(Fn):
    def forward(self, x, w, b, rm, rv):
        return self.fn(x, w, b, rm, rv)


def _bn(x, w, b, rm, rv):
    return torch.ops.aten.native_batch_norm(x, w, b, rm, rv, True, 0.1, 1e-5)


def _bn_legit(x, w, b, rm, rv):
    return torch.ops.aten._native_batch_norm_legit(x, w, b, rm, rv, True, 0.1, 1e-5)


def _instance_norm(x, w, b, rm, rv):
    return F.instance_norm(x, rm, rv, w, b, use_input_stats=True, momentum=0.2)


def _norm_args(n, c, h, w):
    return (torch.randn(n, c, h, w), torch.rand(c) + 0.5, torch.randn(c), torch.randn(c),
            torch.rand(c) + 0.5)


CASES = {
    "broadcast_tensors": (lambda a, b: torch.broadcast_tensors(a, b),
                          lambda n, m: (torch.randn(n, 1), torch.randn(1, m))),
    "meshgrid_ij": (lambda a, b: torch.meshgrid(a, b, indexing="ij"),
                    lambda n, m: (torch.randn(n), torch.randn(m))),
    "meshgrid_xy": (lambda a, b: torch.meshgrid([a, b], indexing="xy"),
                    lambda n, m: (torch.randn(n), torch.randn(m))),
    "cartesian_prod": (lambda a, b: torch.cartesian_prod(a, b),
                       lambda n, m: (torch.randn(n), torch.randn(m))),
    "native_batch_norm": (_bn, lambda n, m: _norm_args(n, m, 3, 4)),
    "native_batch_norm_legit": (_bn_legit, lambda n, m: _norm_args(n, m, 3, 4)),
    "instance_norm": (_instance_norm, lambda n, m: _norm_args(n, m, 5, 2)),
}


def _spec(args):
    return tuple({d: Dim.AUTO for d in range(a.dim())} for a in args)


def _static_dims(ep):
    return [[isinstance(s, int) for s in n.meta["val"].shape]
            for n in ep.graph.nodes if n.op == "placeholder"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_exports_dynamic_like_torch_and_matches_eager(name):
    fn, make = CASES[name]
    example = make(3, 4)
    mod = (Fn if len(example) == 2 else Fn5)(fn)
    ours = strict_tracer.export(mod, copy.deepcopy(example), dynamic_shapes=_spec(example))
    theirs = torch.export.export(mod, copy.deepcopy(example), dynamic_shapes=_spec(example))
    assert _static_dims(ours) == _static_dims(theirs)
    assert not all(all(d) for d in _static_dims(ours)), "nothing stayed dynamic"
    for n, m in ((5, 2), (2, 7), (4, 4)):
        args = make(n, m)
        eager_args, our_args = copy.deepcopy(args), copy.deepcopy(args)
        want = mod(*eager_args)
        got = ours.module()(*our_args)
        torch.testing.assert_close(got, want)
        torch.testing.assert_close(our_args, eager_args)    # running stats updated alike


def test_tensor_split_by_an_indices_tensor_passes_the_artifact_check():
    """The artifact check runs the program on fake inputs; tensor_split reads its indices
    tensor's values, which a fake has not: that run is skipped, never a refusal."""
    mod = Fn(lambda x, idx: torch.tensor_split(x, idx, 1))
    example = (torch.randn(4, 6), torch.tensor([1, 3]))
    ep = strict_tracer.export(mod, example, dynamic_shapes=({0: Dim.AUTO, 1: Dim.AUTO}, None))
    for shape in ((5, 7), (3, 9)):
        x = torch.randn(*shape)
        torch.testing.assert_close(ep.module()(x, example[1]), mod(x, example[1]))
