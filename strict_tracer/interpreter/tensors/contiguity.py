"""`x.contiguous()` on a tensor with symbolic sizes, decided by our engine.

torch's binding asks whether its input is contiguous before its ATen call and makes none when
it is (it returns the tensor itself). Run by the oracle, that question costs a symbolic fake
and torch's symbolic contiguity arithmetic. Here the questions torch asks (no elements, a dim
of size 1, a stride other than the dense stride so far) are asked of the proxy's sizes and
strides, each decided by our engine (a guard where the example decides it). When the tensor is
not contiguous, the one `aten.contiguous` call is dispatched as torch's binding makes it.
tests/interpreter/test_contiguity.py compares both ways.
"""
from __future__ import annotations

from typing import Any

import torch

from ...proxy import TensorMeta, TensorProxy, is_contiguous_layout, layout_strides

CONTIGUOUS = torch.Tensor.contiguous


def contiguous_call(interp, args: tuple, kwargs: dict) -> tuple[bool, Any]:
    """(handled, result) for a call of CONTIGUOUS: `x.contiguous()` / `x.contiguous(
    memory_format=torch.contiguous_format)` on a proxy with symbolic sizes; other formats and
    arguments (torch's errors), static sizes and sizes read from data are left to the oracle."""
    if len(args) != 1 or type(args[0]) is not TensorProxy or set(kwargs) - {"memory_format"}:
        return False, None
    proxy = args[0]
    meta = proxy.meta
    if meta.is_static or meta.sized_by_data or meta.layout is not torch.strided or \
            kwargs.get("memory_format", torch.contiguous_format) is not torch.contiguous_format:
        return False, None
    if is_contiguous(meta):
        return True, proxy
    return True, interp.tensors.dispatch(torch.ops.aten.contiguous.default, (proxy,), {})


def is_contiguous(meta: TensorMeta) -> bool:
    """torch's contiguity of a (symbolic) layout."""
    shape = list(meta.shape)
    return is_contiguous_layout(shape, layout_strides(meta, shape))
