"""`iterator_layout.eager_strides` is eager's layout of pointwise outputs (TensorIterator) and
of the ops that allocate theirs, on random layouts: permuted, sliced, expanded, with dims of
size 1 and 0, broadcasting, and Python numbers; and static calls of the oracle get eager's
strides where fakes differ."""
import random

import pytest
import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.ops.oracle import iterator_layout
from strict_tracer.ops.oracle.fakes import fake_mode
from strict_tracer.ops.oracle.iterator_layout import (ALLOCATED, OPERANDS, eager_layout,
                                                      eager_strides)
from support.helpers import assert_same, run_both

aten = torch.ops.aten


def _random_tensor(rng: random.Random, shape: list, dtype: torch.dtype) -> torch.Tensor:
    """A tensor of `shape` laid out at random: a permutation of a bigger tensor, maybe sliced
    in a dim, maybe expanded in a dim of size 1, maybe with a stride off a size-1 dim."""
    order = list(range(len(shape)))
    rng.shuffle(order)
    bigger = [shape[d] + (1 if rng.random() < 0.2 else 0) for d in order]
    base = torch.zeros(bigger, dtype=dtype)
    t = base.permute([order.index(d) for d in range(len(shape))])
    t = t[tuple(slice(0, s) for s in shape)]
    if shape and rng.random() < 0.2:
        d = rng.randrange(len(shape))
        if shape[d] == 1:
            t = t.expand(*[s if i != d else 1 for i, s in enumerate(shape)])
            t = t.as_strided(t.shape, [st if i != d else rng.choice([1, 5, 64])
                                       for i, st in enumerate(t.stride())])
    return t


def _trailing(rng, shape, keep):
    """Trailing dims of `shape`, some of them 1: a shape that broadcasts to it."""
    return [s if rng.random() < keep else 1 for s in shape][rng.randint(0, len(shape)):] \
        if shape else []


def _args(rng, op):
    rank = rng.randint(0, 4)
    shape = [rng.choice([1, 1, 2, 3, 0]) if rng.random() < 0.1 else rng.choice([1, 2, 3])
             for _ in range(rank)]
    bitwise = op._opname.startswith(("bitwise", "__"))
    dtype = torch.bool if bitwise and rng.random() < 0.5 else torch.int64 if bitwise else \
        rng.choice([torch.float32, torch.int64])
    if OPERANDS[op] is iterator_layout._first:
        extra = {aten.pow.Tensor_Scalar: (2,), aten.clamp.default: (-0.5, 0.5),
                 aten.clamp_min.default: (0.1,), aten.clamp_max.default: (0.1,)}
        return (_random_tensor(rng, shape, torch.float32), *extra.get(op, ()))
    if op is aten.clamp.Tensor:
        bounds = [_random_tensor(rng, _trailing(rng, shape, 0.7), torch.float32)
                  if rng.random() < 0.7 else None for _ in range(2)]
        return (_random_tensor(rng, shape, torch.float32), *bounds)
    if OPERANDS[op] is iterator_layout._tensor_arguments:
        count = 2 if op is aten.lerp.Scalar else 3
        shapes = [shape] + [_trailing(rng, shape, 0.7) for _ in range(count - 1)]
        tensors = [_random_tensor(rng, each, torch.float32) for each in shapes]
        rng.shuffle(tensors)
        return (*tensors, 0.5) if count == 2 else tuple(tensors)
    if OPERANDS[op] is iterator_layout._first_of_any_dtype:
        dtype = torch.bool if op is aten.bitwise_not.default and rng.random() < 0.5 else \
            rng.choice([torch.float32, torch.int64])
        return (_random_tensor(rng, shape, dtype),)
    if op in (aten.where.ScalarOther, aten.where.ScalarSelf):
        cond = _random_tensor(rng, _trailing(rng, shape, 0.7), torch.bool)
        x = _random_tensor(rng, shape, torch.float32)
        return (cond, x, 0.5) if op is aten.where.ScalarOther else (cond, 0.5, x)
    if op is aten.where.self:
        other = shape[rng.randint(0, rank):] if rank else []
        return (_random_tensor(rng, other, torch.bool), _random_tensor(rng, shape, torch.float32),
                _random_tensor(rng, [s if rng.random() < 0.7 else 1 for s in shape], torch.float32))
    other_shape = _trailing(rng, shape, 0.7)
    first = _random_tensor(rng, shape, dtype)
    if op._overloadname == "Scalar" or rng.random() < 0.3:
        second = rng.choice([2, True]) if dtype is not torch.float32 else rng.choice([2, 0.5])
    else:
        second = _random_tensor(rng, other_shape, dtype)
    if isinstance(second, torch.Tensor) and rng.random() < 0.3:
        return second, first
    return first, second


def _allocated_args(rng, op):
    rank = rng.randint(1, 4)
    shape = [rng.choice([1, 2, 3]) for _ in range(rank)]
    x = _random_tensor(rng, shape, torch.float32)
    if op in (aten.masked_fill.Scalar, aten.masked_fill.Tensor):
        mask = _random_tensor(rng, _trailing(rng, shape, 0.6), torch.bool)
        return (x, mask, 0.5 if op is aten.masked_fill.Scalar else torch.tensor(0.5))
    if op is aten.layer_norm.default:
        return (x, list(shape[-1:]))
    if op is aten.log_softmax.int:
        return (x, rng.randrange(rank))
    if op is aten._log_softmax.default:
        return (x, rng.randrange(rank), False)
    if op is aten.flip.default:
        return (x, rng.sample(range(rank), rng.randint(1, rank)))
    return (x,)


@pytest.mark.parametrize("op", sorted([*OPERANDS, *ALLOCATED], key=str), ids=str)
def test_output_strides_are_eagers(op):
    rng = random.Random(str(op))
    checked = 0
    for _ in range(400):
        args = _allocated_args(rng, op) if op in ALLOCATED else _args(rng, op)
        try:
            eager = op(*args)
        except RuntimeError:        # sizes that do not broadcast
            continue
        strides = eager_strides(op, args, {}, tuple(eager.shape))
        if strides is None:
            continue
        checked += 1
        assert strides == eager.stride(), \
            [(tuple(a.shape), a.stride()) if isinstance(a, torch.Tensor) else a for a in args]
    assert checked > 100


def test_a_static_call_gets_eagers_strides():
    with fake_mode():
        y = torch.empty(4, 6).unsqueeze(1).transpose(1, 2)
        fake_out = aten.sub.Tensor(y, 1)
    out = eager_layout(aten.sub.Tensor, (y, 1), {}, fake_out)
    assert fake_out.stride() == (6, 1, 1)        # torch's meta function
    eager = torch.zeros(4, 6).unsqueeze(1).transpose(1, 2) - 1
    assert out.stride() == (6, 1, 6) == eager.stride()
    assert (out.shape, out.dtype, out.requires_grad) == (fake_out.shape, fake_out.dtype, False)
    same = aten.sub.Tensor(torch.empty(4, 6, device="meta"), 1)
    assert eager_layout(aten.sub.Tensor, (same, 1), {}, same) is same     # no dim of size 1


class SizeOneStrides(torch.nn.Module):
    """Strides of size-1 dims read back from outputs (torch's fakes give 1, 6 and 6 here,
    eager 6, 1 and 1)."""

    def forward(self, x):
        y = x.unsqueeze(1).transpose(1, 2)
        return x + (y - 1).stride()[2] * 100 + torch.relu(x.t()[:, :1]).stride()[1] + \
            torch.log_softmax(y, 1).stride()[2] * 1000


@pytest.mark.parametrize("dynamic", [False, True])
def test_programs_reading_strides_of_size_one_dims_run_as_eager(dynamic):
    x = torch.randn(4, 6)
    ep = strict_tracer.export(SizeOneStrides(), (x,),
                              dynamic_shapes={"x": (Dim.AUTO, Dim.AUTO)} if dynamic else None)
    for args in [(x,)] + ([(torch.randn(5, 7),), (torch.randn(3, 2),)] if dynamic else []):
        got, want = run_both(SizeOneStrides(), ep, args)
        assert_same(got, want)
