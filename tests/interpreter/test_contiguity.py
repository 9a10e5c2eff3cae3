"""`x.contiguous()` on symbolic sizes is decided by our engine (interpreter/tensors/
contiguity.py) instead of by torch's binding run on symbolic fakes. Both ways must give the
same program (the same ATen calls and input ranges, or the same error) and eager's results
(and aliasing: a contiguous input is returned itself) on other sizes."""
from __future__ import annotations

import sys

import pytest
import torch
from torch.export import Dim

import strict_tracer
from support.helpers import CallFn
from support.two_ways import assert_same_program, export_or_violation, symbolic_probes

A = Dim.AUTO

LAYOUTS = {
    "contiguous": lambda x: x * 2,
    "transposed": lambda x: x.transpose(1, 2),
    "permuted": lambda x: (x + 1).permute(2, 0, 1),
    "strided_slice": lambda x: x[:, ::2],
    "narrowed": lambda x: x[:, 1:],
    "expanded": lambda x: x[:, :1].expand(-1, 5, -1),
    "size_one_transposed": lambda x: x[:, :1].transpose(0, 1),
    "unsqueezed": lambda x: x.unsqueeze(1).transpose(0, 1),
}
SPECS = {   # dynamic shapes, fresh input shapes they admit
    "auto": ({"x": (A, A, A)}, [(3, 6, 7), (6, 3, 4)]),
    "from_zero": ({"x": (Dim("a", min=0, max=64), Dim.STATIC, Dim("c", min=0, max=64))},
                  [(0, 5, 3), (1, 5, 1), (7, 5, 9)]),
    "mixed": ({"x": (Dim.STATIC, A, Dim("c", min=4, max=32))}, [(4, 6, 5), (4, 9, 32)]),
}


def _program(layout):
    def fn(x):
        y = layout(x)
        z = y.contiguous()
        return z * 3, z is y, y.contiguous(memory_format=torch.contiguous_format) + 1
    return fn


@pytest.mark.parametrize("spec_name", list(SPECS))
@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_contiguous_decided_by_our_engine_is_torchs(layout, spec_name, monkeypatch):
    fn = _program(LAYOUTS[layout])
    x = torch.randn(4, 5, 6)
    spec, fresh = SPECS[spec_name]
    ours = export_or_violation(fn, x, spec)
    with monkeypatch.context() as patch:
        patch.setattr(sys.modules["strict_tracer.interpreter.tensors.tensor_methods"],
                      "contiguous_call", lambda *args: (False, None))
        oracle = export_or_violation(fn, x, spec)
    assert_same_program(ours, oracle, fn, fresh)


def test_no_symbolic_probe_of_contiguous(monkeypatch):
    symbolic = symbolic_probes(monkeypatch)
    strict_tracer.ops.clear_template_cache()
    strict_tracer.export(CallFn(_program(LAYOUTS["permuted"])), (torch.randn(4, 5, 6),),
                         dynamic_shapes=SPECS["auto"][0])
    assert "contiguous" not in symbolic


def test_arguments_torch_refuses_keep_eagers_error():
    # A positional memory format is left to torch's binding, whose TypeError is eager's.
    def fn(x):
        return x.t().contiguous(torch.contiguous_format)
    x = torch.randn(3, 4)
    with pytest.raises(TypeError) as eager:
        fn(x)
    with pytest.raises(TypeError) as ours:
        strict_tracer.export(CallFn(fn), (x,), dynamic_shapes={"x": (A, A)})
    assert str(eager.value) in str(ours.value)
