"""`torch.tensor(data)` / `torch.as_tensor(data)` where `data` holds symbolic sizes.

Native torch.tensor would read every SymInt as an int (specializing the dimension). As under
torch.export, each number becomes an `aten.scalar_tensor` node (symbolic ones take the SymInt
as an argument) and nested lists become `aten.stack` nodes, so the values stay symbolic.
Data without symbolic values takes the ordinary path (one constant tensor).
"""
from __future__ import annotations

from typing import Any

import torch

from ...proxy import SymSize
from ...symbolic import SymBool, SymFloat, SymValue
from ..registry import special

_SEQUENCES = (list, tuple, SymSize)    # (a dynamic tensor.shape is a SymSize)


def _has_symbolic(data: Any) -> bool:
    if isinstance(data, SymValue):
        return True
    return type(data) in _SEQUENCES and any(_has_symbolic(d) for d in data)


def _leaves(data: Any) -> list:
    if type(data) in _SEQUENCES:
        return [leaf for d in data for leaf in _leaves(d)]
    return [data]


def _inferred_dtype(leaves: list) -> torch.dtype | None:
    """torch.tensor's dtype for Python numbers: bool, else the default float dtype if any
    float, else int64; None for anything else (left to the native path)."""
    kinds = set()
    for leaf in leaves:
        if type(leaf) is bool or isinstance(leaf, SymBool):
            kinds.add(bool)
        elif type(leaf) is float or isinstance(leaf, SymFloat):
            kinds.add(float)
        elif type(leaf) is int or isinstance(leaf, SymValue):
            kinds.add(int)
        else:
            return None
    if kinds == {bool}:
        return torch.bool
    if float in kinds:
        return torch.get_default_dtype()
    return torch.int64


def _build(interp, data: Any, dtype: torch.dtype) -> Any:
    if type(data) in _SEQUENCES:
        if not data:
            raise _Fallback
        parts = [_build(interp, d, dtype) for d in data]
        return interp.tensors.op(torch.stack, (parts,), {})
    return interp.tensors.op(torch.scalar_tensor, (data,), {"dtype": dtype})


class _Fallback(Exception):
    """The data is not a rectangular nest of numbers this handler builds node by node."""


def _from_values(fn: Any):
    def handler(interp, args, kwargs):
        data = args[0] if args else kwargs.get("data")
        options = {k: v for k, v in kwargs.items() if k != "data"}
        simple = len(args) <= 1 and set(options) <= {"dtype", "device"}
        dtype = (options.get("dtype") or _inferred_dtype(_leaves(data))) if simple else None
        if dtype is None or not _has_symbolic(data):
            return interp.tensors.op(fn, args, kwargs)
        try:
            result = _build(interp, data, dtype)
        except _Fallback:
            return interp.tensors.op(fn, args, kwargs)
        if options.get("device") is not None:
            result = interp.tensors.op(torch.Tensor.to, (result, options["device"]), {})
        return result
    return handler


for _fn in (torch.tensor, torch.as_tensor):
    special(_fn)(_from_values(_fn))
