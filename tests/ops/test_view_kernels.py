"""Views of static fakes made below the Python dispatcher (ops/oracle/view_kernels.py) are the
ones FakeTensorMode makes under it: the same sizes, strides, offset, dtype, autograd state and
storage, across layouts, sizes 0 and 1 and grad modes, and the same errors."""
import itertools

import pytest
import torch
from torch._dispatch.python import enable_python_dispatcher

from strict_tracer.ops.oracle import view_kernels
from strict_tracer.ops.oracle.fakes import fake_mode, metadata_fake_mode

aten = torch.ops.aten


def _input(mode, recipe, requires_grad, leaf):
    """A fake of `recipe` ((shape, layout)) made under `mode`: contiguous, transposed (last two
    dims) or an offset slice (of a tensor one row longer in dim 0)."""
    shape, layout = recipe
    with mode:
        if layout == "transposed":
            t = torch.empty(*shape[:-2], shape[-1], shape[-2]).transpose(-1, -2)
        elif layout == "offset":
            t = torch.empty(shape[0] + 1, *shape[1:])[1:]
        else:
            t = torch.empty(shape)
        if requires_grad:
            t.requires_grad_(True)
            if not leaf:
                t = t * 1
    return t


def _layout(t):
    return (tuple(t.shape), t.stride(), t.storage_offset(), t.dtype, t.device, t.requires_grad,
            t.is_leaf, type(t.grad_fn).__name__, t._is_view())


def _outcome(mode, func, recipe, args, requires_grad, leaf, grad_mode, ours):
    x = _input(mode, recipe, requires_grad, leaf)
    with torch.set_grad_enabled(grad_mode), mode, enable_python_dispatcher():
        try:
            out = view_kernels.call(func, (x, *args), {}) if ours else func(x, *args)
        except Exception as exc:   # noqa: BLE001 - the error is part of the outcome
            return type(exc), str(exc)
    outs = [out] if isinstance(out, torch.Tensor) else list(out)
    storage = x.untyped_storage()._cdata
    return type(out), [(_layout(o), o.untyped_storage()._cdata == storage) for o in outs]


SHAPES = [((4, 6), "contiguous"), ((4, 6), "transposed"), ((4, 6), "offset"),
          ((1, 6), "contiguous"), ((0, 6), "contiguous"), ((2, 3, 4), "transposed"),
          ((2, 1, 4), "offset")]
CALLS = [
    (aten.view.default, ([-1],)), (aten.view.default, ([2, -1],)), (aten.view.default, ([6, 4],)),
    (aten.unsqueeze.default, (0,)), (aten.unsqueeze.default, (-1,)), (aten.unsqueeze.default, (5,)),
    (aten.squeeze.default, ()), (aten.squeeze.dim, (0,)), (aten.squeeze.dims, ([0, 1],)),
    (aten.transpose.int, (0, -1)), (aten.transpose.int, (0, 3)), (aten.permute.default, ([1, 0],)),
    (aten.expand.default, ([3, -1, -1],)), (aten.expand.default, ([5, 6],)),
    (aten.slice.Tensor, (0, 1, 3)), (aten.slice.Tensor, (1, None, None, 2)),
    (aten.slice.Tensor, (0, -2, 9223372036854775807)), (aten.select.int, (0, 0)),
    (aten.select.int, (1, -1)), (aten.select.int, (0, 7)), (aten.t.default, ()),
    (aten.split.Tensor, (2,)), (aten.split.Tensor, (4, 1)),
    (aten.split_with_sizes.default, ([1, 5], 1)),
    (aten.unbind.int, (0,)), (aten.alias.default, ()), (aten.unfold.default, (1, 2, 2)),
    (aten.diagonal.default, (0, 0, 1)),
]


@pytest.mark.parametrize("recipe", SHAPES, ids=lambda r: f"{r[0]}-{r[1]}")
@pytest.mark.parametrize("func,args", CALLS, ids=lambda c: str(c))
def test_views_below_the_dispatcher_are_fake_modes(recipe, func, args):
    theirs_mode = metadata_fake_mode(allow_non_fake_inputs=True)
    for requires_grad, leaf, grad_mode in itertools.product([False, True], [True, False],
                                                            [True, False]):
        ours = _outcome(fake_mode(), func, recipe, args, requires_grad, leaf, grad_mode, True)
        theirs = _outcome(theirs_mode, func, recipe, args, requires_grad, leaf, grad_mode, False)
        assert ours == theirs, (requires_grad, leaf, grad_mode)


def test_only_static_fakes_of_the_oracle_with_int_arguments_take_the_short_way():
    with fake_mode():
        x = torch.empty(4, 6)
    static = view_kernels._static_device
    assert static((x, 0), {}) == torch.device("cpu")
    assert static((x, [2, -1]), {}) is not None
    assert static((x, 0, None, 2), {}) is not None
    assert static((x, 1.5), {}) is None                          # not an int
    assert static((torch.empty(4, 6), 0), {}) is None            # a real tensor
    with metadata_fake_mode(allow_non_fake_inputs=True):
        other = torch.empty(4, 6)
    assert static((other, 0), {}) is None                        # another mode's fake
    assert view_kernels.VIEW_OPS.isdisjoint({aten.reshape.default, aten.flatten.using_ints,
                                             aten.transpose_.default, aten.contiguous.default})
