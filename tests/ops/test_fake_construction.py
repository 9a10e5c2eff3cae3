"""The oracle's fakes made without fake dispatch (ops/oracle/fakes.empty_fake) are the fakes
`torch.empty_strided` makes under the oracle's fake mode: same class, mode, sizes, strides,
dtype, device, storage size, contiguity flags and autograd state, with static and symbolic
sizes, and they behave the same in later ops."""
import itertools

import pytest
import torch
from torch._dynamo.source import ConstantSource
from torch.fx.experimental.symbolic_shapes import DimDynamic

from strict_tracer.ops.oracle.fakes import empty_fake, fake_mode, make_fake
from strict_tracer.proxy import TensorMeta

LAYOUTS = [
    ((), ()),
    ((0,), (1,)),
    ((3, 4), (4, 1)),
    ((3, 4), (1, 3)),             # transposed
    ((1, 5), (7, 1)),             # a size-1 dim with any stride
    ((2, 3, 0, 4), (0, 4, 4, 1)),
    ((2, 3, 4, 5), (60, 1, 15, 3)),   # channels last
    ((4, 6), (12, 2)),            # every other column
]
DTYPES = [torch.float32, torch.int64, torch.bool, torch.bfloat16]
DEVICES = [torch.device("cpu"), torch.device("meta")]


def _reference(shape, strides, dtype, device, layout=torch.strided):
    with fake_mode():
        return torch.empty_strided(shape, strides, dtype=dtype, device=device, layout=layout)


def _facts(t):
    return (type(t), t.fake_mode, tuple(t.shape), t.stride(), t.storage_offset(), t.dtype,
            t.device, t.layout, t.requires_grad, t.is_leaf, t.untyped_storage().nbytes(),
            t.is_contiguous(), torch._prims_common.is_non_overlapping_and_dense_or_false(t),
            t.is_contiguous(memory_format=torch.channels_last) if t.dim() == 4 else None,
            t._has_symbolic_sizes_strides)


@pytest.mark.parametrize("layout,dtype,device", itertools.product(LAYOUTS, DTYPES, DEVICES))
def test_static_fake_is_the_constructor_kernels(layout, dtype, device):
    shape, strides = layout
    ours = empty_fake(list(shape), list(strides), dtype, device, torch.strided)
    theirs = _reference(shape, strides, dtype, device)
    assert _facts(ours) == _facts(theirs)
    with fake_mode():
        assert _facts(ours.clone()) == _facts(theirs.clone())
        assert _facts(ours.to(torch.float64)) == _facts(theirs.to(torch.float64))


def _symbol(hint):
    env = fake_mode().shape_env
    symbol = env.create_symbol(hint, ConstantSource(f"test_fake_construction_{hint}"),
                               dynamic_dim=DimDynamic.DYNAMIC)
    return env.create_symintnode(symbol, hint=hint)


def test_symbolic_fake_is_the_constructor_kernels():
    s, t = _symbol(5), _symbol(7)
    for shape, strides in [([s, t, 4], [4 * t, 4, 1]), ([s, 3], [1, s]), ([2, s], [s, 1])]:
        ours = empty_fake(shape, strides, torch.float32, torch.device("cpu"), torch.strided)
        theirs = _reference(shape, strides, torch.float32, torch.device("cpu"))
        assert _facts(ours) == _facts(theirs)
        with fake_mode():
            assert _facts(ours.sum(0)) == _facts(theirs.sum(0))


def test_other_layouts_take_the_dispatch():
    """torch refuses a sparse empty_strided; so does the fake made for one."""
    with pytest.raises(Exception) as theirs:
        _reference((3, 4), (4, 1), torch.float32, torch.device("cpu"), torch.sparse_coo)
    with pytest.raises(type(theirs.value)):
        empty_fake([3, 4], [4, 1], torch.float32, torch.device("cpu"), torch.sparse_coo)


@pytest.mark.parametrize("requires_grad,is_leaf,offset", [
    (False, True, 0), (True, True, 0), (True, False, 0), (True, False, 2), (False, True, 3)])
def test_make_fake_keeps_autograd_state_and_offset(requires_grad, is_leaf, offset):
    meta = TensorMeta((3, 4), torch.float32, torch.device("cpu"), requires_grad, (1, 3), offset,
                      is_leaf=is_leaf)
    t = make_fake(meta)
    assert (tuple(t.shape), t.stride(), t.storage_offset()) == ((3, 4), (1, 3), offset)
    assert (t.requires_grad, t.is_leaf) == (requires_grad, is_leaf)
    assert t.fake_mode is fake_mode()
