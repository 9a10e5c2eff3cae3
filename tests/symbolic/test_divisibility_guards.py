"""Divisibility facts kernels check (a weight's dim 0 and the channels into groups, a
channel count into an upscale factor), with every dim `Dim.AUTO`: the same symbols, ranges
and accepted sizes as torch.export, and a constraint violation for a declared dim that must
be a multiple."""
import itertools

import pytest
import torch
import torch.nn.functional as F
from torch.export import Dim

import strict_tracer
from strict_tracer.errors import ConstraintViolationError
from support.dynamic_helpers import canonical, violation_lines
from support.helpers import CallFn

A = Dim.AUTO


class Conv(torch.nn.Module):
    def __init__(self, fn, **kw):
        super().__init__()
        self.fn, self.kw = fn, kw

    def forward(self, x, w, b):
        return self.fn(x, w, b, **self.kw)


CASES = {
    "conv1d": (Conv(F.conv1d, groups=2), ((2, 4, 8), (6, 2, 3), (6,))),
    "conv2d": (Conv(F.conv2d, groups=3, padding=1), ((2, 6, 5, 5), (9, 2, 3, 3), (9,))),
    "conv_transpose1d": (Conv(F.conv_transpose1d, groups=2), ((2, 4, 5), (4, 3, 3), (6,))),
    "group_norm": (CallFn(lambda x: F.group_norm(x, 3)), ((2, 6, 4),)),
    "channel_shuffle": (CallFn(lambda x: F.channel_shuffle(x, 3)), ((2, 6, 4, 4),)),
    "pixel_unshuffle": (CallFn(lambda x: F.pixel_unshuffle(x, 2)), ((2, 3, 4, 6),)),
}
# torch's decomposition of pixel_unshuffle guards `h // 2 != 1` (a 0/1 specialization of an
# intermediate view): its programs refuse h = 2, 3, where ours run (and match eager).
WIDER = {"pixel_unshuffle"}


def _inputs(shapes):
    torch.manual_seed(0)
    return tuple(torch.randn(s) for s in shapes)


def _outcome(ep, model, shapes):
    """What ep.module() does at these sizes: None when it refuses them, else whether it
    matches eager."""
    args = _inputs(shapes)
    try:
        got = ep.module()(*args)
    except (AssertionError, RuntimeError):
        return None
    return torch.allclose(got, model(*args), atol=1e-5)


@pytest.mark.parametrize("name", list(CASES))
def test_every_dim_auto_like_torch(name):
    model, shapes = CASES[name]
    args = _inputs(shapes)
    spec = tuple({i: A for i in range(len(s))} for s in shapes)
    ep = strict_tracer.export(model, args, dynamic_shapes=spec)
    ref = torch.export.export(model, args, dynamic_shapes=spec, strict=True)
    (shapes_ours, ranges_ours), (shapes_torch, ranges_torch) = canonical(ep), canonical(ref)
    assert shapes_ours == shapes_torch
    if name in WIDER:
        assert ranges_ours.keys() == ranges_torch.keys()
        assert all(int(ranges_ours[k][0]) <= int(ranges_torch[k][0]) for k in ranges_ours)
    else:
        assert ranges_ours == ranges_torch
    # Every input grown by 0, 1 or 2 per dim (a sample of them): accepted by both programs
    # or by neither, and where accepted, equal to eager.
    grown = list(itertools.product((0, 1, 2), repeat=sum(len(s) for s in shapes)))[::37]
    accepted = 0
    for deltas in grown:
        it = iter(deltas)
        sizes = [tuple(d + next(it) for d in s) for s in shapes]
        ours = _outcome(ep, model, sizes)
        assert ours == _outcome(ref, model, sizes), sizes
        assert ours is not False, sizes
        accepted += ours is True
    assert accepted > 0


def test_declared_weight_dim_must_be_a_multiple_of_groups():
    model, shapes = CASES["conv1d"]
    spec = ({}, {0: Dim("w0")}, {0: Dim("w0")})
    args = _inputs(shapes)
    with pytest.raises(ConstraintViolationError) as ours:
        strict_tracer.export(model, args, dynamic_shapes=spec)
    with pytest.raises(Exception) as theirs:
        torch.export.export(model, args, dynamic_shapes=spec, strict=True)
    want = [line for line in violation_lines(str(theirs.value)) if not line.startswith("fix:")]
    got = [line for line in violation_lines(str(ours.value)) if not line.startswith("fix:")]
    assert got == want
