"""Indexing with symbolic integers (`x[:, n - 1]`, `x[i] = v` with i a size), kept symbolic.

torch's own indexing pins a symbolic int index to its example value (torch.export
specializes the size it came from). Here such a key is applied the way torch's indexing
applies any key (python_variable_indexing), entry by entry: an int selects, a slice slices
(skipped when it provably keeps its whole dim: `start == 0`, `step == 1`, `size <= stop`
known without a guard), None unsqueezes, `...` skips dims, and tensor or list indices are
collected for one `aten.index` / `aten.index_put_` at the end. Each entry's op, and that
final step, is resolved by the oracle; the int goes to `aten.select` as a symbolic argument.
"""
from __future__ import annotations

import operator
import sys
from typing import Any

import torch

from ...proxy import TensorProxy
from ...symbolic import SymInt, SymValue

_INT_MAX = sys.maxsize
_GETITEMS = (operator.getitem, torch.Tensor.__getitem__)
_SETITEMS = (operator.setitem, torch.Tensor.__setitem__)


def _is_advanced(entry: Any) -> bool:
    """Entries torch collects for aten.index: tensors and sequences."""
    return type(entry) is TensorProxy or isinstance(entry, (torch.Tensor, list, tuple))


def _consumed(entry: Any) -> int:
    """Dims of the indexed tensor an entry uses up (a boolean mask uses its own ndim)."""
    if entry is None or entry is Ellipsis:
        return 0
    meta_dtype = entry.meta.dtype if type(entry) is TensorProxy else \
        entry.dtype if isinstance(entry, torch.Tensor) else None
    if meta_dtype in (torch.bool, torch.uint8):
        return len(entry.meta.shape) if type(entry) is TensorProxy else entry.dim()
    return 1


def _plan(key: Any) -> tuple | None:
    """The key's entries when it holds a symbolic int among entries applied here; None when
    the oracle indexes (it handles every key without symbolic ints, symbolic sizes too)."""
    entries = key if type(key) is tuple else (key,)
    has_symint = False
    for e in entries:
        t = type(e)
        if t is SymInt:
            has_symint = True
        elif isinstance(e, SymValue) or t is bool:
            return None     # symbolic floats/bools, Python bools: the oracle decides (and pins)
        elif not (t is int or t is slice or e is None or e is Ellipsis or _is_advanced(e)):
            return None
    return entries if has_symint else None


def _known_true(cond: Any) -> bool:
    """statically_known_true: decided by ranges and facts, without recording a guard."""
    if isinstance(cond, SymValue):
        return cond.env.static_value(cond.expr) is True
    return bool(cond)


def _apply_basic(interp, proxy: TensorProxy, entries: tuple) -> tuple[TensorProxy, list, bool]:
    """Apply ints, slices, None and `...`; returns (result, advanced entries with the dim
    they start at, whether any op was applied)."""
    shape_ndim = len(proxy.meta.shape)
    consuming = sum(_consumed(e) for e in entries)
    if consuming > shape_ndim:
        raise IndexError(f"too many indices for tensor of dimension {shape_ndim}")
    result, dim, applied, advanced = proxy, 0, False, []
    for e in entries:
        if e is Ellipsis:
            dim += shape_ndim - consuming
        elif e is None:
            result = interp.tensors.dispatch(torch.Tensor.unsqueeze, (result, dim), {})
            dim, applied = dim + 1, True
        elif type(e) is slice:
            start = 0 if e.start is None else e.start
            stop = _INT_MAX if e.stop is None else e.stop
            step = 1 if e.step is None else e.step
            if type(step) is int and step <= 0:
                raise ValueError("step must be greater than zero")
            size = result.meta.shape[dim]
            whole = type(start) is int and start == 0 and type(step) is int and step == 1 \
                and _known_true(size <= stop)
            if not whole:
                result = interp.tensors.dispatch(torch.ops.aten.slice.Tensor,
                                                 (result, dim, start, stop, step), {})
                applied = True
            dim += 1
        elif _is_advanced(e):
            advanced.append((dim, e, _consumed(e)))
            dim += _consumed(e)
        else:
            result = interp.tensors.dispatch(torch.select, (result, dim, e), {})
            applied = True
    return result, advanced, applied


def _advanced_key(advanced: list) -> tuple:
    """The key of the final advanced-indexing step: full slices (skipped) between entries."""
    key: list = []
    position = 0
    for dim, entry, consumed in advanced:
        key.extend([slice(None)] * (dim - position))
        key.append(entry)
        position = dim + consumed
    return tuple(key)


def indexing_call(interp, fn: Any, args: tuple) -> tuple[bool, Any]:
    """(handled, result) for `x[key]` / `x[key] = v` on a proxy needing entry-wise indexing."""
    if fn in _GETITEMS and len(args) == 2 and type(args[0]) is TensorProxy:
        entries = _plan(args[1])
        if entries is None:
            return False, None
        result, advanced, applied = _apply_basic(interp, args[0], entries)
        if advanced:
            return True, interp.tensors.dispatch(operator.getitem,
                                                 (result, _advanced_key(advanced)), {})
        if not applied:
            return True, interp.tensors.dispatch(torch.ops.aten.alias.default, (result,), {})
        return True, result
    if fn in _SETITEMS and len(args) == 3 and type(args[0]) is TensorProxy:
        entries = _plan(args[1])
        if entries is None:
            return False, None
        target, advanced, _ = _apply_basic(interp, args[0], entries)
        interp.tensors.dispatch(operator.setitem, (target, _advanced_key(advanced), args[2]), {})
        return True, None
    return False, None
