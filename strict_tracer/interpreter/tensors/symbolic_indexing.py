"""Indexing of tensors with symbolic sizes or by symbolic integers, applied entry by entry.

torch's own indexing pins a symbolic int index to its example value (torch.export
specializes the size it came from). Here such a key is applied the way torch's indexing
applies any key (python_variable_indexing), entry by entry: an int selects, a slice slices
(skipped when it provably keeps its whole dim: `start == 0`, `step == 1`, `size <= stop`
known without a guard), None unsqueezes, `...` skips dims, and tensor or list indices are
collected for one `aten.index` / `aten.index_put_` at the end. Each entry's op, and that
final step, is resolved by the oracle; the int goes to `aten.select` as a symbolic argument.

A plain key (ints, slices, None, `...`, integer index tensors) on a tensor with symbolic sizes
is applied the same way, as its own ATen ops: the oracle would otherwise run torch's indexing
symbolically, one symbolic kernel per entry (the costliest calls of a cold dynamic export),
where each op here is one cheap, cached call. The ops and their arguments are torch's:
a single slice key is never skipped, an int index on a symbolic size keeps torch's bounds
check as a guard, and index tensors go to `aten.index` at the dims torch gives them, with
None for the dims between them. tests/symbolic/test_entrywise_indexing.py compares both ways.
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


_INDEX_DTYPES = (torch.int64, torch.int32)
_SLICE_BOUNDS = (int, type(None), SymInt)      # a symbolic step: torch's indexing asserts it


def _plain_plan(proxy: TensorProxy, key: Any) -> tuple | None:
    """The entries of a plain key on a tensor with symbolic sizes, or with symbolic slice
    bounds, to apply here as torch would; None where torch's own indexing must run: all static
    (its static run is cheap), and keys with other entries (lists, bools, masks, 0-dim index
    tensors) or that torch refuses (too many indices: its error) or that are rare (two
    ellipses)."""
    entries = key if type(key) is tuple else (key,)
    if proxy.meta.is_static and not any(type(e) is slice and SymInt in (type(e.start), type(e.stop))
                                        for e in entries):
        return None
    consuming = 0
    for e in entries:
        t = type(e)
        if t is TensorProxy:
            if e.meta.dtype not in _INDEX_DTYPES or not e.meta.shape:
                return None
            consuming += 1
        elif t is int or t is slice:
            if t is slice and not (all(type(v) in _SLICE_BOUNDS for v in (e.start, e.stop))
                                   and type(e.step) in (int, type(None))):
                return None
            consuming += 1
        elif e is not None and e is not Ellipsis:
            return None
    ndim = len(proxy.meta.shape)
    if consuming > ndim or sum(e is Ellipsis for e in entries) > 1:
        return None
    return entries


def _known_true(cond: Any) -> bool:
    """statically_known_true: decided by ranges and facts, without recording a guard."""
    if isinstance(cond, SymValue):
        return cond.env.static_value(cond.expr) is True
    return bool(cond)


def _apply_basic(interp, proxy: TensorProxy, entries: tuple,
                 skip_whole: bool = True) -> tuple[TensorProxy, list, bool]:
    """Apply ints, slices, None and `...`; returns (result, advanced entries with the dim
    they start at, whether any op was applied). `skip_whole=False`: a slice is applied even
    when it keeps its whole dim (torch's indexing by a single slice)."""
    shape_ndim = len(proxy.meta.shape)
    consuming = sum(_consumed(e) for e in entries)
    if consuming > shape_ndim:
        raise IndexError(f"too many indices for tensor of dimension {shape_ndim}")
    result, dim, applied, advanced = proxy, 0, False, []
    for position, e in enumerate(entries):
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
            whole = skip_whole and type(start) is int and start == 0 and type(step) is int \
                and step == 1 and _known_true(size <= stop)
            if not whole:
                result = interp.tensors.dispatch(torch.ops.aten.slice.Tensor,
                                                 (result, dim, start, stop, step), {})
                applied = True
            dim += 1
        elif _is_advanced(e):
            advanced.append((dim, e, _consumed(e)))
            dim += _consumed(e)
        else:
            if type(e) is int:
                _check_in_bounds(result.meta.shape[dim], e, position)
            result = interp.tensors.dispatch(torch.select, (result, dim, e), {})
            applied = True
    return result, advanced, applied


def _check_in_bounds(size: Any, index: int, position: int) -> None:
    """torch's check before it selects (`-size <= index < size`): eager's error where it fails
    at the example; on a symbolic size, a guard our engine decides (x[:, 5] holds only while
    that dim is at least 6)."""
    hint = size if type(size) is int else size.env.hint_value(size.expr)
    if hint is None:
        return          # a size read from data: the select kernel checks it
    if not -hint <= index < hint:
        raise IndexError(f"index {index} is out of bounds for dimension {position} with size {hint}")
    if isinstance(size, SymValue):
        bool(size > index if index >= 0 else size >= -index)


def _index_list(advanced: list) -> list:
    """aten.index's indices: each index tensor at the dim torch places it, None before it."""
    indices: list = []
    for dim, entry, _ in advanced:
        indices.extend([None] * (dim - len(indices)))
        indices.append(entry)
    return indices


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
            return _plain_getitem(interp, args[0], args[1])
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


def _plain_getitem(interp, proxy: TensorProxy, key: Any) -> tuple[bool, Any]:
    """(handled, result) of `proxy[key]` for a plain key on symbolic sizes (_plain_plan)."""
    entries = _plain_plan(proxy, key)
    if entries is None:
        return False, None
    single_slice = type(key) is slice
    result, advanced, applied = _apply_basic(interp, proxy, entries, skip_whole=not single_slice)
    if advanced:
        return True, interp.tensors.dispatch(torch.ops.aten.index.Tensor,
                                             (result, _index_list(advanced)), {})
    if not applied:
        return True, interp.tensors.dispatch(torch.ops.aten.alias.default, (result,), {})
    return True, result
