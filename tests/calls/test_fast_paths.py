"""Fast paths give what the slow torch calls they replace give: node `tensor_meta` (torch's
`_extract_tensor_metadata`), non-leaf oracle fakes (the op output's own layout)."""
import torch
from hypothesis import given, strategies as st
from torch.export import Dim
from torch.fx.passes.shape_prop import _extract_tensor_metadata

import strict_tracer
from strict_tracer.ops.oracle.fakes import make_fake
from strict_tracer.packaging.program import _memory_format
from strict_tracer.proxy import TensorMeta


@st.composite
def strided_tensors(draw):
    ndim = draw(st.integers(0, 5))
    shape = draw(st.lists(st.sampled_from([0, 1, 1, 2, 3]), min_size=ndim, max_size=ndim))
    perm = draw(st.permutations(range(ndim)))
    t = torch.empty([shape[p] for p in perm]).permute(*[perm.index(i) for i in range(ndim)]) \
        if ndim else torch.empty(())
    if ndim and draw(st.booleans()):
        step = draw(st.integers(0, ndim - 1))
        t = t[(slice(None),) * step + (slice(None, None, 2),)]
    return t


@given(strided_tensors())
def test_memory_format_matches_torch(t):
    assert _memory_format(tuple(t.shape), t.stride()) == _extract_tensor_metadata(t).memory_format


@given(strided_tensors())
def test_non_leaf_fake_keeps_the_layout(t):
    """An op output's oracle fake has the output's own layout (a slice stays a strided view:
    a dense copy would make contiguous() of it an alias); an empty one is a clone."""
    meta = TensorMeta(tuple(t.shape), t.dtype, t.device, True, t.stride(), t.storage_offset(),
                      t.layout, is_leaf=False)
    fake = make_fake(meta)
    ref = t.detach().requires_grad_(True)
    ref = ref.clone() if ref.numel() == 0 else ref
    assert (fake.shape, fake.stride(), fake.storage_offset()) == \
        (ref.shape, ref.stride(), ref.storage_offset())
    assert fake.requires_grad and not fake.is_leaf
    assert fake.is_contiguous() == ref.is_contiguous()


class ConvAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.lin = torch.nn.Linear(8, 8)

    def forward(self, x):
        y = self.conv(x).to(memory_format=torch.channels_last)
        z = y.flatten(2).transpose(1, 2)
        return self.lin(z).softmax(-1), y[:, :, ::2].contiguous(), z.sum(0)


def _check_every_node(ep):
    checked = 0
    for node in ep.graph.nodes:
        val = node.meta.get("val")
        if isinstance(val, torch.Tensor):
            assert node.meta["tensor_meta"] == _extract_tensor_metadata(val), node.name
            checked += 1
    assert checked > 5


def test_tensor_meta_static_and_dynamic():
    mod, x = ConvAttention(), torch.randn(2, 3, 6, 6)
    _check_every_node(strict_tracer.export(mod, (x,)))
    _check_every_node(strict_tracer.export(
        mod, (x,), dynamic_shapes=({0: Dim("b", max=16), 2: Dim("h", max=32)},)))


def test_call_returning_its_input_unchanged_is_cached(monkeypatch):
    import sys
    from strict_tracer.ops import clear_template_cache
    dispatch_module = sys.modules["strict_tracer.ops.dispatch"]
    probed = []
    real_probe = dispatch_module.probe

    def counting_probe(fn, *args, **kwargs):
        probed.append(fn)
        return real_probe(fn, *args, **kwargs)

    class Casts(torch.nn.Module):
        def forward(self, x):
            for _ in range(3):
                x = x.to(x.dtype).contiguous() * 2
            return x

    monkeypatch.setattr(dispatch_module, "probe", counting_probe)
    clear_template_cache()
    x = torch.randn(2, 3)
    ep = strict_tracer.export(Casts(), (x,))
    torch.testing.assert_close(ep.module()(x), Casts()(x))
    assert len(probed) == len(set(probed))      # each callable probed once, then replayed

