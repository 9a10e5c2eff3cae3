"""Functionalization decomposes `aten.to` (into the input itself or one `_to_copy`) on static
twins of symbolic tensors: torch decides it on dtype, device and layout kind alone
(ops/oracle/hint_kernels.decomposes_on_twins). It must give the program the symbolic run
gives."""
from __future__ import annotations

import pytest
import torch
from torch.export import Dim

from strict_tracer.ops.oracle import hint_kernels
from support.two_ways import assert_same_program, export_or_violation, symbolic_probes

A = Dim.AUTO

CONVERSIONS = {
    "other_dtype": lambda x: x.to(torch.float64) * 2,
    "own_dtype": lambda x: x.to(torch.float32) + 1,
    "device": lambda x: x.to("cpu") - 1,
    "like_other": lambda x: x.to(x.long()) + 3,
    "int_to_bool": lambda x: (x > 0).long().to(torch.bool).float() + x,
    "device_and_dtype": lambda x: x.to("cpu", torch.float16).float() + x,
    "view_then_convert": lambda x: x.transpose(0, 2).to(torch.float64).sum(0),
    "channels_last": lambda x: x.view(1, *x.shape).to(memory_format=torch.channels_last) + 1,
}
SPECS = {
    "auto": ({"x": (A, A, A)}, [(3, 6, 7), (6, 3, 4)]),
    "from_zero": ({"x": (Dim("a", min=0, max=64), Dim.STATIC, A)}, [(0, 5, 3), (7, 5, 9)]),
}


@pytest.mark.parametrize("spec_name", list(SPECS))
@pytest.mark.parametrize("conversion", list(CONVERSIONS))
def test_conversions_decomposed_on_twins_are_the_symbolic_runs(conversion, spec_name, monkeypatch):
    fn = CONVERSIONS[conversion]
    spec, fresh = SPECS[spec_name]
    x = torch.randn(4, 5, 6)
    ours = export_or_violation(fn, x, spec)
    with monkeypatch.context() as patch:
        patch.setattr(hint_kernels, "decomposes_on_twins", lambda *args: False)
        symbolic = export_or_violation(fn, x, spec)
    assert_same_program(ours, symbolic, fn, fresh)


def test_conversions_make_no_symbolic_probe(monkeypatch):
    symbolic = symbolic_probes(monkeypatch)
    for conversion in ("other_dtype", "own_dtype", "device", "like_other"):
        export_or_violation(CONVERSIONS[conversion], torch.randn(4, 5, 6), SPECS["auto"][0])
    assert not symbolic


def test_only_a_preserved_memory_format_is_decided_without_sizes():
    to = torch.ops.aten.to.dtype
    assert hint_kernels.decomposes_on_twins(to, (None, torch.float64), {})
    assert hint_kernels.decomposes_on_twins(to, (None, torch.float64), {"memory_format": torch.preserve_format})
    assert not hint_kernels.decomposes_on_twins(to, (None, torch.float64),
                                                {"memory_format": torch.channels_last})
    assert not hint_kernels.decomposes_on_twins(torch.ops.aten.batch_norm.default, (), {})
