"""FakeWrapper makes the FakeTensor torch's constructor makes: same type, instance state,
device, dispatch keys, metadata and behaviour under the mode."""
import sys
import warnings

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode

from strict_tracer.packaging.fake_wrap import FakeWrapper
from strict_tracer.packaging.torch_symbols import TorchSymbols

META = torch.device("meta")
LAYOUTS = [((4, 8), (8, 1), torch.float32), ((2, 3, 5), (1, 2, 6), torch.int64),
           ((3, 1, 4), (4, 4, 1), torch.bfloat16), ((), (), torch.bool), ((0, 7), (7, 1), torch.float16)]


def _elem(shape, strides, dtype):
    return torch.empty_strided(shape, strides, dtype=dtype, device=META)


def _same(ours: torch.Tensor, theirs: torch.Tensor) -> None:
    assert type(ours) is type(theirs) is FakeTensor
    assert vars(ours) == vars(theirs)
    assert ours.device == theirs.device and ours.fake_device == theirs.fake_device
    assert torch._C._dispatch_keys(ours) == torch._C._dispatch_keys(theirs)
    assert (ours.shape, ours.stride(), ours.dtype, ours.storage_offset(), ours.requires_grad) == \
        (theirs.shape, theirs.stride(), theirs.dtype, theirs.storage_offset(), theirs.requires_grad)
    assert ours.untyped_storage().nbytes() == theirs.untyped_storage().nbytes()
    assert ours.is_contiguous() == theirs.is_contiguous()


@pytest.mark.parametrize("unsafe_data_ptr", [False, True])
@pytest.mark.parametrize("device", [torch.device("cpu"), META])
def test_wrapped_fakes_are_torch_constructed_ones(device, unsafe_data_ptr):
    mode = FakeTensorMode(allow_non_fake_inputs=True)
    mode.allow_meta = True
    mode._allow_unsafe_data_ptr_access = unsafe_data_ptr
    wrapper = FakeWrapper(mode)
    for shape, strides, dtype in LAYOUTS * 2:      # the first of a device makes the template
        ours = wrapper.wrap(_elem(shape, strides, dtype), device)
        theirs = FakeTensor(mode, _elem(shape, strides, dtype), device)
        _same(ours, theirs)
        assert ours.fake_mode is mode
        # Its instance dictionary shares its keys (one of its own would be twice the size).
        assert sys.getsizeof(ours.__dict__) < sys.getsizeof(dict(vars(theirs)))
        assert ours.untyped_storage()._cdata != theirs.untyped_storage()._cdata
        if unsafe_data_ptr:
            with warnings.catch_warnings():     # deprecated (warned once): no error
                warnings.simplefilter("ignore")
                ours.data_ptr()
                theirs.data_ptr()
        else:
            with pytest.raises(RuntimeError):
                ours.data_ptr()
            with pytest.raises(RuntimeError):
                theirs.data_ptr()
        with mode:                  # ops and in-place changes run as on torch's fake
            out, expected = ours.to(torch.float32) * 2, theirs.to(torch.float32) * 2
            _same(out, expected)
            ours.requires_grad_(dtype.is_floating_point)
            theirs.requires_grad_(dtype.is_floating_point)
            _same(ours, theirs)


def test_node_values_are_what_empty_strided_makes_under_the_mode():
    """Each node value is its own tensor with its own storage, as a constructor call under the
    program's mode makes it."""
    symbols = TorchSymbols()
    cpu = torch.device("cpu")
    made = [symbols._wrapper.wrap(_elem((2, 3), (3, 1), torch.float32), cpu) for _ in range(3)]
    with symbols.mode:
        expected = [torch.empty_strided((2, 3), (3, 1), device=cpu) for _ in range(3)]
    assert len({t.untyped_storage()._cdata for t in made}) == 3
    for ours, theirs in zip(made, expected):
        _same(ours, theirs)


def test_a_batch_of_node_values_is_what_empty_strided_makes_under_the_mode():
    """TorchSymbols.values makes every value of a graph in one batch: each tensor (requiring
    grad or not) as a constructor call under the program's mode makes it, anything else as
    it is, in the order given."""
    from strict_tracer.proxy import TensorMeta
    symbols = TorchSymbols()
    cpu = torch.device("cpu")
    metas = [TensorMeta(shape, dtype, cpu, grad, strides)
             for (shape, strides, dtype), grad in zip(LAYOUTS, (True, False, True, False, False))]
    items = [metas[0], 7, metas[1], None, *metas[2:]]
    made = symbols.values(items)
    assert made[1] == 7 and made[3] is None
    with symbols.mode:
        for item, ours in zip(items, made):
            if not isinstance(item, TensorMeta):
                continue
            theirs = torch.empty_strided(item.shape, item.strides, dtype=item.dtype, device=cpu)
            if item.requires_grad:
                theirs.requires_grad_(True)
            _same(ours, theirs)
    storages = [t.untyped_storage()._cdata for t in made if isinstance(t, torch.Tensor)]
    assert len(set(storages)) == len(storages)


class _DataDependent(torch.nn.Module):
    def forward(self, x, y):
        n = x.sum().item()              # a number node first, then tensors of other numbers
        torch._check(n >= 0)
        rows = y.nonzero()
        zeros = torch.zeros(n, 2)
        return rows, zeros, (y > 0).sum().item() + n


def test_unbacked_symbols_are_named_in_node_order_as_torch_export_names_them():
    import strict_tracer
    args = (torch.tensor([1, 2]), torch.tensor([0.0, 1.0, 2.0]))
    ours = strict_tracer.export(_DataDependent(), args)
    theirs = torch.export.export(_DataDependent(), args, strict=True)

    def values(ep):
        return [str(n.meta.get("val")) for n in ep.graph.nodes if n.op == "call_function"]
    assert values(ours) == values(theirs)
    assert "u0" in values(ours)[1] and "(u1, 1)" in values(ours)[4] and "(u0, 2)" in values(ours)[10]


@pytest.mark.parametrize("shape, strides", [
    ((2, 3, 4, 5), (60, 20, 5, 1)), ((2, 3, 4, 5), (60, 1, 15, 3)),           # channels_last
    ((2, 3, 4, 5, 6), (360, 1, 90, 18, 3)), ((2, 3, 4), (1, 2, 6)),          # 3d, permuted
    ((1, 3, 1, 5), (15, 1, 15, 3)), ((0, 7), (7, 1)), ((), ()), ((4, 6), (12, 1))])
def test_static_tensor_metadata_is_torchs(shape, strides):
    """A node's tensor_meta of a static tensor (memory format from its own sizes) is
    torch's _extract_tensor_metadata of its value."""
    from torch.fx.passes.shape_prop import _extract_tensor_metadata
    from strict_tracer.packaging.program import _tensor_metadata
    from strict_tracer.proxy import TensorMeta
    symbols = TorchSymbols()
    meta = TensorMeta(shape, torch.float32, torch.device("cpu"), False, strides)
    (val,) = symbols.values([meta])
    assert _tensor_metadata(val, meta) == _extract_tensor_metadata(val)
