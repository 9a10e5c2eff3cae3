"""Strides of views by formula (ops/view_strides.py) against torch's kernel on stand-ins.

Each program views a tensor whose layout is not contiguous at every size (a split's output,
a transpose merged back), or converts/copies a dense one. The program is exported twice with
dynamic sizes: once as shipped (the formula answers) and once with the formulas off (torch's
view kernel on stand-ins answers, with its guards). Every node's symbolic strides are the
same, the formula run asks the kernel nothing for these views, and the program matches
eager at other sizes.
"""
from __future__ import annotations

import pytest
import torch
from torch.export import Dim

import strict_tracer
from strict_tracer.ops import clear_template_cache, shape_rules
from support.helpers import CallFn


def _heads(x):                       # split of a fused projection, viewed into heads
    b, t, _ = x.shape
    q, k, v = x.split(8, dim=2)
    q, k = q.view(b, t, 2, 4), k.view(b, t, -1, 4)
    return (q.transpose(1, 2) @ k.transpose(1, 2).transpose(-1, -2)).sum() + v.view(b, t, 2, 4)


def _merge(x):                       # heads merged back: (b, t, h, d) -> (b, t, h * d)
    b, t, _ = x.shape
    y = x[..., :8].view(b, t, 2, 4)
    return y.reshape(b, t, -1) * 2, y.reshape(b, -1, 2, 4) + 1


def _flatten_rows(x):                # (b, t, 8) of a split, rows 24 apart -> (b * t, 8)
    y = x.split(8, dim=2)[1]
    return y.reshape(-1, 8) + y.permute(2, 0, 1).reshape(8, -1).t()


def _merge_leading(x):               # leading dims merged where they are contiguous
    b, t, _ = x.shape
    return x[:, :, 1:5].reshape(-1, 4) * 3 + x[:, :, 4:8].reshape(b * t, 4).sum()


def _copying_reshape(x):             # (b, t) not contiguous among themselves: a copy, which
    y = x.transpose(0, 1).contiguous().transpose(0, 1)[:, :, 1:5]      # the kernel lays out
    return y.reshape(-1, 4) * 3


def _repeat_kv(x):                  # grouped-query attention's key/value heads repeated
    b, t, _ = x.shape
    k = x[..., :8].view(b, t, 2, 4).transpose(1, 2)
    return k[:, :, None].expand(b, 2, 3, t, 4).reshape(b, 6, t, 4) * 2


def _merge_transposed_heads(x):      # attention's (b, h, t, d) output back to (b, t, h * d)
    b, t, _ = x.shape
    heads = x.view(b, t, 6, 4).transpose(1, 2) * 2
    return heads.transpose(1, 2).reshape(b, t, -1) + 1, heads.reshape(b, 6, -1).sum()


def _to_and_contiguous(x):
    y = x.to(torch.float64) + x.permute(0, 2, 1).to(torch.float64).transpose(1, 2)
    return y.contiguous() + x[:, :, :4].contiguous().sum()


def _flatten_and_unbind(x):          # a conv-like output flattened; heads unbound
    b, t, _ = x.shape
    y = x[..., :8].view(b, t, 2, 4)
    rows = y.unbind(2)
    return y.flatten(1) * 2, x.flatten(0, 1) + 1, rows[0] - rows[1], \
        y.transpose(1, 2).flatten(2).sum(), x[:, :, 2:6].unflatten(2, (2, 2)) * 3


def _in_place(x):                    # in-place ops on a strided view return it as it was
    y = x[:, :, 2:10].clone().transpose(1, 2)
    y.add_(1).mul_(2)
    y[:, :4].zero_()
    z = x.transpose(0, 1).clone()
    z.masked_fill_(z > 0, 0.5).clamp_(-1, 1)
    return y, z.transpose(0, 1) + 1


def _chunks(x):                      # chunk and split_with_sizes of a strided view
    y = x.transpose(1, 2)
    a, b = y.chunk(2, dim=1)
    c, d, e = x[:, 1:].split([4, 4, 16], dim=2)
    return a * 2, b + 1, c.sum() + d.sum(), e * 3


PROGRAMS = {"heads": _heads, "flatten_and_unbind": _flatten_and_unbind, "in_place": _in_place,
            "chunks": _chunks, "merge": _merge, "flatten_rows": _flatten_rows,
            "merge_leading": _merge_leading, "to_and_contiguous": _to_and_contiguous,
            "copying_reshape": _copying_reshape, "repeat_kv": _repeat_kv,
            "merge_transposed_heads": _merge_transposed_heads}
KERNEL_ASKED = {"copying_reshape": ["aten.reshape.default"]}
SPEC = ({0: Dim("b", min=2, max=32), 1: Dim("t", min=3, max=32)},)


def _strides(ep) -> list[str]:
    return [f"{n.name}: {tuple(n.meta['val'].stride())}" for n in ep.graph.nodes
            if isinstance(n.meta.get("val"), torch.Tensor)]


def _export(mod, x, monkeypatch, formulas: bool):
    clear_template_cache()
    calls: list = []
    kernel = shape_rules.kernel_layouts

    def counted(op, *args, **kwargs):
        calls.append(op)
        return kernel(op, *args, **kwargs)
    with monkeypatch.context() as m:
        m.setattr(shape_rules, "kernel_layouts", counted)
        if not formulas:
            m.setattr(shape_rules, "view_strides", lambda *a: None)
        return strict_tracer.export(mod, (x,), dynamic_shapes=SPEC), calls


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_formula_strides_are_the_kernels(name, monkeypatch):
    mod, x = CallFn(PROGRAMS[name]), torch.randn(3, 5, 24)
    ours, calls = _export(mod, x, monkeypatch, formulas=True)
    reference, kernel_calls = _export(mod, x, monkeypatch, formulas=False)
    assert kernel_calls, "the reference run asks the kernel"
    assert [str(op) for op in calls] == KERNEL_ASKED.get(name, [])
    assert _strides(ours) == _strides(reference)
    assert [str(g) for g in ours.range_constraints.values()] == \
        [str(g) for g in reference.range_constraints.values()]
    for size in ((2, 3), (7, 4), (4, 31)):
        y = torch.randn(*size, 24)
        for got, want in zip(ours.module()(y), mod(y)):
            torch.testing.assert_close(got, want)


def test_only_in_place_ops_that_keep_their_input_layout_return_it_by_formula():
    from strict_tracer.ops.view_strides import _returns_self_written
    aten = torch.ops.aten
    kept = [aten.add_.Tensor, aten.mul_.Tensor, aten.clamp_.default, aten.copy_.default,
            aten.fill_.Scalar, aten.zero_.default, aten.masked_fill_.Scalar]
    changed = [aten.t_.default, aten.transpose_.default, aten.unsqueeze_.default,
               aten.squeeze_.dim, aten.resize_.default, aten.as_strided_.default,
               aten.add.Tensor, aten.view.default]
    assert all(_returns_self_written(op) for op in kept)
    assert not any(_returns_self_written(op) for op in changed)
